"""The procedural teacher: exact determinism, the per-level correct fractions, and agreement between
what a sample is meant to be and what a real verifier (math-verify, on the project's extraction) says."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import subprocess
import sys
from collections import Counter
from fractions import Fraction

import pytest
from math_verify import parse, verify

from lakehouse.errors import UserError
from problemsets.builtin import generate
from problemsets.families import FAMILIES
from problemsets.families.work import Work, latex
from reward.extract import extract_answer, split_reasoning
from sampling.types import SampleRequest
from synth.config import GenerateConfig
from synth.teachers import make_teacher
from synth.teachers.procedural import MODES, P_CORRECT, ProceduralTeacher, plan


def verified(gold: str, text: str, finish_reason: str) -> bool:
    """A real verification: the project's answer extraction, then math-verify's equivalence check."""
    pred = extract_answer(text)
    if finish_reason == "length" or pred is None:
        return False
    return bool(verify(parse(f"${gold}$"), parse(f"${pred}$")))


@pytest.fixture(scope="module")
def problems() -> list[dict]:
    return generate("builtin:arith", 420, seed=0).rows  # 12 per (family, level): 84 per level


@pytest.fixture(scope="module")
def plans(problems) -> list[tuple[dict, object]]:
    return [(row, plan(row, idx, 7, 2048)) for row in problems for idx in range(4)]  # 336 per level


def test_same_inputs_give_the_same_text_exactly(problems):
    for row in problems[::10]:
        for idx in range(3):
            assert plan(row, idx, 11, 512) == plan(dict(row), idx, 11, 512)
    texts = {plan(problems[-1], idx, 11, 512).text for idx in range(40)}  # a level-5 chain
    assert len(texts) > 5  # samples differ from each other


def test_correct_fraction_falls_from_95_to_20_percent(plans):
    by_level = Counter()
    correct = Counter()
    for row, p in plans:
        by_level[row["level"]] += 1
        correct[row["level"]] += p.intended_correct
    for level, target in P_CORRECT.items():
        assert by_level[level] == 336
        assert abs(correct[level] / by_level[level] - target) <= 0.08, (level, correct[level] / 336)
    assert P_CORRECT == {1: 0.95, 2: 0.78, 3: 0.58, 4: 0.38, 5: 0.20}


def test_intended_correctness_is_what_a_verifier_finds(plans):
    for row, p in plans[::2]:  # 840 verifications
        assert verified(row["answer"], p.text, p.finish_reason) == p.intended_correct, (row, p)


def test_every_mistake_kind_occurs_and_looks_like_itself(plans):
    modes = Counter(p.mode for _, p in plans)
    assert set(modes) == set(MODES)
    for row, p in plans:
        if row["domain"] == "chain":
            continue
        if p.mode == "nobox":
            assert "\\boxed" not in p.text and p.answer is None
        elif p.mode == "runaway":
            assert p.finish_reason == "length" and len(p.text) == 4 * 2048 and p.completion_tokens == 2048
        elif p.mode == "copy":  # the working reaches the gold answer, the box says something else
            reasoning, _ = split_reasoning(p.text)
            assert reasoning.rstrip().endswith(f"So the result is {_plain(row['answer'])}.")
            assert p.answer != row["answer"]
        else:
            assert p.finish_reason == "stop" and p.text.endswith(f"\\boxed{{{p.answer}}}$.")


def _plain(answer: str) -> str:
    m = re.fullmatch(r"(-?)\\frac\{(\d+)\}\{(\d+)\}", answer)
    return f"{m.group(1)}{m.group(2)}/{m.group(3)}" if m else answer


def test_a_slip_propagates_through_the_rest_of_the_working(plans):
    """Re-running the family's solver with the slipped value reproduces every later line."""
    checked = 0
    for row, p in plans:
        if p.mode not in ("slip", "sign") or row["domain"] == "chain":
            continue
        clean = Work()
        FAMILIES[row["domain"]].solve(json.loads(row["meta"]), clean)
        lines = split_reasoning(p.text)[0].strip().splitlines()[1:-1]  # drop opener and conclusion
        assert len(lines) == len(clean.lines)
        diff = [i for i, (a, b) in enumerate(zip(lines, clean.lines, strict=True)) if a != b]
        assert diff and p.answer != row["answer"]
        checked += 1
    assert checked > 100


CHAIN = re.compile(r"<think>(\d)((?:[+*]\d=\d)+)</think>\\boxed\{(\d)\}")


def test_chain_traces_are_compact_and_a_wrong_one_has_exactly_one_bad_digit(plans):
    seen_wrong = 0
    for row, p in plans:
        if row["domain"] != "chain":
            continue
        m = CHAIN.fullmatch(p.text)
        assert m, p.text
        value, bad = int(m.group(1)), 0
        for op, d, result in re.findall(r"([+*])(\d)=(\d)", m.group(2)):
            expected = (value + int(d)) % 10 if op == "+" else (value * int(d)) % 10
            bad += expected != int(result)
            value = int(result)  # the next step builds on what was written: the error propagates
        assert int(m.group(3)) == value
        assert bad == (0 if p.intended_correct else 1)
        seen_wrong += bad
    assert seen_wrong > 50


def test_chain_trace_is_the_compact_format():
    row = {
        "problem_id": "x",
        "answer": "0",
        "level": 1,
        "meta": json.dumps(
            {"family": "chain", "level": 1, "start": 3, "ops": [["+", 5], ["*", 7], ["+", 4]]}
        ),
    }
    texts = {plan(row, idx, 0, 100).text for idx in range(20)}
    assert "<think>3+5=8*7=6+4=0</think>\\boxed{0}" in texts


def test_max_tokens_cuts_the_text_and_reports_length(problems):
    row = next(r for r in problems if r["domain"] == "counting" and r["level"] == 5)
    p = plan(row, 0, 0, 20)
    assert (p.finish_reason, len(p.text), p.completion_tokens, p.intended_correct, p.answer) == (
        "length",
        80,
        20,
        False,
        None,
    )
    full = plan(row, 0, 0, 100_000)
    assert full.text.startswith(p.text) and full.completion_tokens == math.ceil(len(full.text) / 4)


def test_imported_problems_get_a_response_and_wrong_ones_differ_from_gold(benchmarks_dir):
    rows = [json.loads(line) for line in (benchmarks_dir / "math500.jsonl").read_text().splitlines()[:60]]
    wrong = 0
    for i, r in enumerate(rows):
        row = {
            "problem_id": str(i),
            "problem": r["problem"],
            "answer": r["answer"],
            "level": r["level"],
            "meta": "{}",
        }
        for idx in range(3):
            p = plan(row, idx, 0, 4096)
            assert verified(r["answer"], p.text, p.finish_reason) == p.intended_correct, (r["answer"], p.text)
            wrong += not p.intended_correct
    assert wrong > 20


def _request(row: dict, idx: int, max_tokens: int = 4096) -> SampleRequest:
    messages = [{"role": "user", "content": row["problem"] + "\nPlease reason step by step."}]
    return SampleRequest(
        problem_id=row["problem_id"],
        sample_idx=idx,
        messages=messages,
        problem=row["problem"],
        answer=row["answer"],
        level=row["level"],
        temperature=0.8,
        top_p=0.95,
        max_tokens=max_tokens,
        seed=1234 + idx,
        domain=row["domain"],
        meta=row["meta"],
    )


def test_teacher_protocol_yields_every_request_with_counts(problems):
    teacher = make_teacher("procedural", GenerateConfig())
    assert isinstance(teacher, ProceduralTeacher) and teacher.name == "procedural"
    requests = [_request(r, i) for r in problems[:50] for i in range(2)]
    out = list(teacher.generate(requests))
    teacher.close()
    assert [req for req, _ in out] == requests
    for req, c in out:
        p = plan(
            {"problem_id": req.problem_id, "answer": req.answer, "level": req.level, "meta": req.meta},
            req.sample_idx,
            req.seed,
            req.max_tokens,
        )
        assert (c.completion, c.finish_reason, c.completion_tokens) == (
            p.text,
            p.finish_reason,
            p.completion_tokens,
        )
        assert c.prompt_tokens == math.ceil(len(req.messages[0]["content"]) / 4)
        assert c.cost_usd == 0.0 and c.error is None and c.latency_s >= 0


def test_procedural_takes_no_argument_or_styles():
    with pytest.raises(UserError) as e:
        make_teacher("procedural:fast", GenerateConfig())
    assert str(e.value) == "teacher 'procedural' takes no argument or 'styles', got 'procedural:fast'"
    assert make_teacher("procedural:styles", GenerateConfig()).name == "procedural:styles"


def test_gold_answers_are_latex_of_exact_values():
    assert [latex(Fraction(v)) for v in ("5", "-3", "23/12", "-1/2")] == [
        "5",
        "-3",
        "\\frac{23}{12}",
        "-\\frac{1}{2}",
    ]


DIGEST = """
import hashlib, sys
from problemsets.builtin import generate
from synth.teachers.procedural import plan
h = hashlib.sha256()
for row in generate("builtin:arith", 70, seed=2).rows:
    for idx in range(4):
        h.update(plan(row, idx, 5, 300).text.encode())
print(h.hexdigest())
"""


def test_samples_are_identical_in_a_fresh_process_with_another_hash_seed():
    runs = [
        subprocess.run(
            [sys.executable, "-c", DIGEST],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    ]
    here = hashlib.sha256()
    for row in generate("builtin:arith", 70, seed=2).rows:
        for idx in range(4):
            here.update(plan(row, idx, 5, 300).text.encode())
    assert runs == [here.hexdigest() + "\n"] * 2


def test_an_imported_row_whose_meta_merely_names_a_family_gets_the_generic_response():
    row = {
        "problem_id": "p",
        "answer": "12",
        "level": 1,
        "meta": json.dumps({"family": "chain", "note": "x"}),
    }
    texts = [plan(row, idx, 0, 4096) for idx in range(20)]
    assert all("I'll set up the relevant quantities" in p.text for p in texts)
    assert any(p.intended_correct and p.answer == "12" for p in texts)
