"""Decontamination against the real benchmark files: real MATH-500 and AIME items hidden among builtin
problems, verbatim and lightly reformatted, are all found and attributed to the right benchmark."""

from __future__ import annotations

import json
import re
from collections import Counter

import pyarrow as pa
import pytest
from curate_lake import benchmark_file, config
from typer.testing import CliRunner

from curate.cli import app
from curate.config import DecontamConfig
from curate.decontam import BenchmarkIndex, build_report, find_contaminated, load_benchmark, shared_ngrams
from curate.problem_steps import Decontam
from curate.state import State
from curate.step import Context, run_steps
from lakehouse.errors import UserError
from lakehouse.ids import problem_id
from lakehouse.schema import PROBLEMS
from lakehouse.store import Lake
from problemsets import builtin
from tests.conftest import FIXTURES

# (benchmark, item index): verbatim copies; the *_REFORMATTED ones are retyped (see reformat()).
VERBATIM = [("math500", 0), ("math500", 1), ("math500", 17), ("aime24", 0), ("aime25", 3)]
REFORMATTED = [("math500", 2), ("math500", 100), ("math500", 321), ("aime24", 7), ("aime25", 12)]


def items(benchmarks_dir, name: str) -> list[str]:
    return [json.loads(line)["problem"] for line in (benchmarks_dir / f"{name}.jsonl").open()]


def reformat(text: str) -> str:
    """Light retyping: other LaTeX delimiters, line breaks as spaces, doubled spaces, upper-cased words."""
    text = re.sub(r"\$([^$]+)\$", r"\\(\1\\)", text)
    words = " ".join(text.split()).split(" ")
    return "  ".join(w.upper() if i % 3 == 0 else w for i, w in enumerate(words))


@pytest.fixture(scope="module")
def hidden(benchmarks_dir):
    rows = builtin.generate("builtin:arith", 300, 0).rows
    planted = {}
    for (name, i), fmt in [(k, str) for k in VERBATIM] + [(k, reformat) for k in REFORMATTED]:
        text = fmt(items(benchmarks_dir, name)[i])
        planted[problem_id(text)] = (name, i)
        rows.append({**rows[0], "problem_id": problem_id(text), "problem": text, "source": "planted"})
    return pa.Table.from_pylist(rows, schema=PROBLEMS), planted


def test_planted_items_are_found_and_attributed(hidden, benchmarks_dir):
    problems, planted = hidden
    cfg = DecontamConfig()
    benchmarks = [load_benchmark(b) for b in cfg.benchmark_sets()]  # the default: all registered sets
    assert [b.name for b in benchmarks] == [
        "math500", "aime24", "aime25", "amc23", "gsm8k", "minerva", "olympiadbench"
    ]  # fmt: skip
    found = find_contaminated(problems.select(["problem_id", "problem"]), BenchmarkIndex(benchmarks, 13))
    assert {r["problem_id"]: (r["benchmark"], r["item"]) for r in found.to_pylist()} == planted


NAMES = ["math500", "aime24", "aime25", "amc23", "gsm8k", "minerva", "olympiadbench"]


@pytest.fixture(scope="module")
def real_index():
    cfg = DecontamConfig()
    return BenchmarkIndex([load_benchmark(b) for b in cfg.benchmark_sets()], cfg.n_gram, cfg)


def test_short_items_match_only_whole(tmp_path):
    short = "Compute $\\dbinom{31}{28}$."  # 4 words: shorter than the 13-gram
    path = benchmark_file(
        tmp_path, "b", [short, "What is the value of the expression asked for in this question?"]
    )
    index = BenchmarkIndex([load_benchmark(path)], 13)
    assert index.match("COMPUTE \\( \\dbinom{31}{28} \\).") == (0, 0)
    assert index.match("Compute $\\dbinom{31}{28}$ and then add 1.") is None
    assert index.match(short.replace("28", "27")) is None


def test_report_counts_and_examples(hidden, benchmarks_dir):
    problems, planted = hidden
    cfg = DecontamConfig(examples=2)
    benchmarks = [load_benchmark(b) for b in cfg.benchmark_sets()]
    found = find_contaminated(problems.select(["problem_id", "problem"]), BenchmarkIndex(benchmarks, 13))
    report = {r["benchmark"]: r for r in build_report(found, problems, benchmarks, cfg).to_pylist()}
    assert {b: (r["items"], r["matched"]) for b, r in report.items() if r["matched"]} == {
        "math500": (500, 6),
        "aime24": (30, 2),
        "aime25": (30, 2),
    }
    assert report["gsm8k"]["matched"] == 0 and report["gsm8k"]["items"] == 1319
    examples = json.loads(report["aime24"]["examples"])
    aime = items(benchmarks_dir, "aime24")
    expected = sorted((pid, aime[i]) for pid, (b, i) in planted.items() if b == "aime24")
    text = dict(
        zip(problems.column("problem_id").to_pylist(), problems.column("problem").to_pylist(), strict=True)
    )
    assert [{k: v for k, v in e.items() if k != "shared"} for e in examples] == [
        {"problem_id": pid, "problem": text[pid], "benchmark_item": item} for pid, item in expected
    ]
    assert all(len(e["shared"]) == 3 for e in examples)  # the evidence: n-grams both texts hold
    assert examples[0]["shared"][0] == "there exist real numbers x and y both greater than 1 such that"


def test_shared_ngrams_are_the_evidence_in_item_order():
    a = "Let 15a be seven. Then what is b plus c?"
    b = "Let $15 a$ be seven; then what is $b$ plus $d$?"
    assert shared_ngrams(a, b, 4) == ["let 15 a be", "15 a be seven", "a be seven then"]
    assert shared_ngrams(a, b, 4, limit=10)[-1] == "what is b plus"
    assert shared_ngrams("x y", "x y", 13) == ["x y"]  # shorter than n: the whole sequence


REAL = [json.loads(line) for line in (FIXTURES / "decontam_realdata.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("row", REAL, ids=[r["why"][:30] + " " + r["source"][-12:] for r in REAL])
def test_real_problems_against_the_shipped_benchmarks(row, real_index):
    """MATH train / AIME 1983-2023 rows (tests/fixtures/README.md): boilerplate and letter lists are no
    evidence; copies (also one that writes `15a` where the benchmark writes `15 a^{2}`) and a same-stem
    sibling are caught and attributed to their item."""
    found = real_index.match(row["problem"])
    expected = None if row["expect"] is None else (NAMES.index(row["expect"][0]), row["expect"][1])
    assert found == expected


def test_contaminated_problems_are_dropped_in_the_funnel(hidden, benchmarks_dir, tmp_path):
    problems, planted = hidden
    lake = Lake(tmp_path / "lake")
    lake.write("problems", problems)
    cfg = config(lake.root, [])  # the default: every registered benchmark
    funnel, drops = run_steps([Decontam()], Context(lake, cfg, State(lake)))
    assert sorted(drops.column("id").to_pylist()) == sorted(planted)
    assert funnel.steps[0].reasons == Counter(f"contaminated:{b}" for b, _ in planted.values())
    assert lake.read("decontam").num_rows == problems.num_rows  # every problem checked once
    # nothing new: nothing is checked or written again
    manifest = lake.manifest("decontam")
    run_steps([Decontam()], Context(lake, cfg, State(lake)))
    assert lake.manifest("decontam") == manifest


def test_unknown_benchmark_fields_are_a_one_line_error(tmp_path):
    path = tmp_path / "bench.jsonl"
    path.write_text('{"problem": "ok"}\n')
    bad = tmp_path / "odd.jsonl"
    bad.write_text('{"text": "What is 1+1?", "label": "2"}\n')
    with pytest.raises(UserError, match=rf"{re.escape(str(bad))}:1: no problem field \(has label, text"):
        load_benchmark(bad)
    lake = Lake(tmp_path / "lake")
    lake.write(
        "problems", pa.Table.from_pylist([builtin.generate("builtin:arith", 1, 0).rows[0]], schema=PROBLEMS)
    )
    result = CliRunner().invoke(app, ["decontam", "--benchmarks", str(bad), "--lake", str(lake.root)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"error: {bad}:1: no problem field (has label, text; looked for problem, question, prompt, query)"
    ]
    assert not lake.has("decontam")  # nothing written
