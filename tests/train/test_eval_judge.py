"""`train eval --judge`: the same cascade as `curate verify --judge` (math-verify, then the judge where it
could not decide), against a scripted model and a scripted judge on 127.0.0.1; the judge is recorded in the
eval fingerprint."""

from __future__ import annotations

import json

import pytest

from lakehouse.store import Lake
from sampling.prompts import DEFAULT_INSTRUCTION
from tests.helpers.chat_server import ChatServer
from tests.helpers.judge_server import JudgeServer
from tests.train.test_eval_openai import run_eval

PROBLEM = "What is 3 + 4?"
ANSWERS = {
    f"{PROBLEM}\n{DEFAULT_INSTRUCTION}": ["\\boxed{7}", "\\boxed{8} q1", "\\boxed{9} q2", "no idea q3"]
}


@pytest.fixture()
def bench(tmp_path):
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps({"problem": PROBLEM, "answer": "7"}) + "\n")
    return path


def test_eval_judge_cascade_and_fingerprint(bench, tmp_path):
    lake = tmp_path / "lake"
    with ChatServer(answers=ANSWERS, reasoning=False) as model:
        with JudgeServer({"q1": "CORRECT", "q2": "INCORRECT", "q3": "CORRECT"}) as judge:
            plain = run_eval(model, bench, lake)
            judged = run_eval(model, bench, lake, "--judge", "openai:jt", "--judge-base-url", judge.base_url)
            asked = dict(judge.asked)
    assert plain.returncode == 0, plain.stderr
    assert judged.returncode == 0, judged.stderr
    assert asked == {"q1": 1, "q2": 1, "q3": 1}  # never for \boxed{7}, which math-verify decided
    rows = Lake(lake).read("evals").to_pylist()
    assert [r["pass_at_1"] for r in rows] == [pytest.approx(1 / 4), pytest.approx(3 / 4)]
    inputs = [json.loads(r["fingerprint_inputs"]) for r in rows]
    assert "judge" not in inputs[0]
    assert inputs[1]["judge"] == f"judge:jt/judge-v1@127.0.0.1:{judge.port}"
    assert rows[0]["fingerprint"] != rows[1]["fingerprint"] and rows[0]["protocol"] != rows[1]["protocol"]
