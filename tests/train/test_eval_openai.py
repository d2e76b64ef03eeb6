"""`train eval --backend openai` against a real chat server on 127.0.0.1 whose answers are scripted: the
evals row holds exactly the numbers those answers give, under each extraction mode; bad inputs are one-line
errors that write nothing."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from lakehouse.store import Lake
from sampling.prompts import DEFAULT_INSTRUCTION
from tests.conftest import cli
from tests.helpers.chat_server import ChatServer

PROBLEMS = [("What is 3 + 4?", "7"), ("What is 5 + 5?", "10"), ("What is 1 + 2?", "3")]
ANSWERS = {  # four samples each; the comments give the lenient / strict verdicts
    "What is 3 + 4?": [
        "\\boxed{7}",  # right / right
        "The answer is 7.",  # right / no box
        "\\boxed{8}",  # wrong / wrong
        "I think the answer is definitely \\(7\\).",  # right (the phrase's math only) / no box
    ],
    "What is 5 + 5?": ["\\boxed{10}"] * 4,
    "What is 1 + 2?": ["\\boxed{4}", "\\boxed{4}", "\\boxed{5}", "no idea"],
}


@pytest.fixture()
def bench(tmp_path):
    path = tmp_path / "sums.jsonl"
    path.write_text("".join(json.dumps({"problem": p, "answer": a}) + "\n" for p, a in PROBLEMS))
    return path


def run_eval(server, bench, lake, *extra):
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    args = [
        "--model",
        "tiny",
        "--backend",
        "openai",
        "--base-url",
        server.base_url,
        "--benchmark",
        str(bench),
    ]
    return subprocess.run(
        [cli("train"), "eval", *args, "--samples", "4", "--lake", str(lake), "--stage", "api", *extra],
        capture_output=True,
        text=True,
        env=env,
    )


def test_rows_match_the_scripted_answers_in_both_extraction_modes(bench, tmp_path):
    answers = {f"{p}\n{DEFAULT_INSTRUCTION}": a for p, a in ANSWERS.items()}
    lake = tmp_path / "lake"
    with ChatServer(answers=answers, reasoning=False) as server:
        lenient = run_eval(server, bench, lake)
        strict = run_eval(server, bench, lake, "--extraction", "strict")
    assert lenient.returncode == 0, lenient.stderr
    assert strict.returncode == 0, strict.stderr
    rows = Lake(lake).read("evals").to_pylist()
    got = [
        (r["extraction"], r["k"], r["n"], r["pass_at_1"], r["maj_at_k"], json.loads(r["pass_at_k"]))
        for r in rows
    ]
    # lenient: rates 3/4, 1, 0; pass@2 = pass@4 = 2/3 (one wrong sample cannot fill a pair); maj: 7, 10, 4
    # strict: rates 1/4, 1, 0; pass@2 = (1 - C(3,2)/C(4,2) + 1) / 3 = 1/2, pass@4 = 2/3; maj: 7 (once), 10, 4
    assert got == [
        ("lenient", 4, 3, pytest.approx(7 / 12), pytest.approx(2 / 3),
         pytest.approx({"1": 7 / 12, "2": 2 / 3, "4": 2 / 3})),
        ("strict", 4, 3, pytest.approx(5 / 12), pytest.approx(2 / 3),
         pytest.approx({"1": 5 / 12, "2": 1 / 2, "4": 2 / 3})),
    ]  # fmt: skip
    # s.e. over problems: sqrt(var(rates, ddof=1) / 3)
    assert rows[0]["pass_at_1_se"] == pytest.approx(((1 / 36 + 25 / 144 + 49 / 144) / 2 / 3) ** 0.5)
    assert [line.split()[:6] for line in lenient.stdout.splitlines()[:2]] == [
        ["benchmark", "n", "k", "pass@1", "maj@k", "pass@k"],
        ["sums.jsonl", "3", "4", "0.583", "±", "0.300"],
    ]
    inputs = json.loads(rows[0]["fingerprint_inputs"])
    assert (inputs["backend"], inputs["model"], inputs["weights_hash"], inputs["chat_template_hash"]) == (
        f"openai:127.0.0.1:{server.port}",
        "tiny",
        None,
        None,
    )
    assert rows[0]["fingerprint"] != rows[1]["fingerprint"]
    assert "not comparable with 1 earlier row(s) of sums.jsonl (e.g. stage api): differs in extraction" in (
        strict.stdout
    )
    samples = Lake(lake).read("eval_samples").to_pylist()
    assert len(samples) == 24
    assert [s["pred"] for s in samples[:4]] == ["7", "7", "8", "7"]


def test_bad_inputs_are_one_line_errors_and_write_nothing(bench, tmp_path):
    lake = tmp_path / "lake"
    registry = tmp_path / "sets"
    registry.mkdir()
    (registry / "bad.yaml").write_text("mine:\n  file: x.jsonl\n  temprature: 0.6\n")
    cases = [
        (["--benchmark", "math5000"], "error: unknown benchmark 'math5000'; known: math500, aime24,"),
        (["--benchmark", str(bench), "--samples", "0"], "error: --samples must be >= 1, got 0"),
        (["--benchmark", str(bench), "--problem-field", "text"], f"error: {bench}:1: missing field 'text'"),
        (["--benchmark", str(bench), "--max-tokens", "0"], "error: --max-tokens must be >= 1, got 0"),
        (["--benchmark", str(bench), "--extraction", "loose"], "error: --extraction must be one of strict"),
        (["--benchmark", "mine"], f"error: {registry / 'bad.yaml'}: mine: unknown key 'temprature'"),
    ]
    for i, (args, expected) in enumerate(cases):
        env = {**os.environ, "MINIREASON_BENCHMARKS": str(registry)} if i == len(cases) - 1 else None
        done = subprocess.run(
            [cli("train"), "eval", "--model", "tiny", "--backend", "openai", "--base-url", "http://127.0.0.1:9/v1",
             *args, "--lake", str(lake)],
            capture_output=True, text=True, env=env,
        )  # fmt: skip
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.count("\n") == 1 and done.stderr.startswith(expected), (args, done.stderr)
        assert "Traceback" not in done.stderr
        assert not (lake / "evals").exists()
