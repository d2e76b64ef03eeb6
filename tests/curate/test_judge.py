"""`curate verify --judge`: the LLM judge decides only where math-verify could not, against a scripted
judge endpoint on 127.0.0.1; errors and timeouts leave math-verify's verdict; decisions are cached."""

from __future__ import annotations

import os
import subprocess

from lakehouse.sql import connect
from lakehouse.store import Lake
from reward.judge import looks_mathematical, needs_judge, parse_reply
from tests.conftest import cli
from tests.curate.curate_lake import problem_row, trace_row, write
from tests.helpers.judge_server import JudgeServer

# (marker in the completion, gold, completion, judge's scripted reply)
CASES = [
    ("m-ok", "12", "so \\boxed{12} m-ok", "CORRECT"),  # math-verify decides: never asked
    ("m-wrong", "12", "so \\boxed{13} m-wrong", "CORRECT"),  # incorrect, mathematical: asked, overturned
    ("m-units", "5", "so \\boxed{5\\text{ cm}^2+1} m-units", "INCORRECT"),  # asked, upheld
    ("m-none", "7", "the answer is seven m-none", "CORRECT"),  # no parseable answer: asked, overturned
    ("m-words", "7", "so \\boxed{seven} m-words", "CORRECT"),  # incorrect but not mathematical: not asked
    ("m-error", "3", "so \\boxed{4} m-error", "error"),  # 500s: stays math-verify's
    ("m-slow", "3", "so \\boxed{2} m-slow", "timeout"),  # timeout: stays math-verify's
    ("m-garbage", "3", "so \\boxed{1} m-garbage", "maybe?"),  # no verdict in the reply: stays
]


def _lake(root):
    lake = Lake(root)
    problems, traces = [], []
    for i, (marker, gold, completion, _) in enumerate(CASES):
        p = problem_row(f"problem {i} {marker}", gold)
        problems.append(p)
        traces.append(trace_row(p["problem_id"], 0, None, completion, 10))
    write(lake, problems, traces, [])
    return root


def _verify(root, server, *extra):
    cmd = [cli("curate"), "verify", "--lake", str(root), "--no-progress", "--workers", "1"]
    cmd += ["--judge", "openai:judge-tiny", "--base-url", server.base_url, "--judge-timeout", "1"]
    cmd += ["--judge-retries", "1", *extra]
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)


def test_judge_decides_only_where_math_verify_could_not(tmp_path):
    root = _lake(tmp_path / "lake")
    script = {marker: reply for marker, _, _, reply in CASES}
    with JudgeServer(script, slow_s=3.0) as server:
        done = _verify(root, server)
        assert done.returncode == 0, done.stderr
        asked = dict(server.asked)
    # retries: error and timeout are asked twice (1 retry); never asked: m-ok, m-words; no stray request
    assert asked == {"m-wrong": 1, "m-units": 1, "m-none": 1, "m-error": 2, "m-slow": 2, "m-garbage": 1}
    assert "judge: 3 decided (2 overturned math-verify), 3 left to math-verify" in done.stdout
    rows = (
        connect(root)
        .execute(
            "SELECT p.problem, v.correct, v.status, v.verifier FROM verdicts v JOIN problems p USING (problem_id) "
            "ORDER BY p.problem"
        )
        .fetchall()
    )
    got = {
        problem.split()[-1]: (correct, status, verifier.split("-")[0])
        for problem, correct, status, verifier in rows
    }
    judge = "judge:judge"
    assert got == {
        "m-ok": (True, "ok", "math"),
        "m-wrong": (True, "ok", judge),
        "m-units": (False, "ok", judge),
        "m-none": (True, "ok", judge),
        "m-words": (False, "ok", "math"),
        "m-error": (False, "ok", "math"),
        "m-slow": (False, "ok", "math"),
        "m-garbage": (False, "ok", "math"),
    }
    judged = (
        connect(root)
        .execute(
            "SELECT mv_status, mv_correct, judge_correct, judge FROM judgements ORDER BY mv_status, judge_correct"
        )
        .fetchall()
    )
    assert judged == [
        ("no_answer", False, True, "judge:judge-tiny/judge-v1"),
        ("ok", False, False, "judge:judge-tiny/judge-v1"),
        ("ok", False, True, "judge:judge-tiny/judge-v1"),
    ]


def test_decisions_are_cached_and_the_budget_caps_the_judge(tmp_path):
    script = {
        marker: reply for marker, _, _, reply in CASES if reply in ("CORRECT", "INCORRECT")
    }  # others: CORRECT
    first, second = _lake(tmp_path / "a"), _lake(tmp_path / "b")
    with JudgeServer(script) as server:
        assert _verify(first, server).returncode == 0
        asked = sum(server.asked.values())
        # the same traces in another lake: nothing cached there, so the judge is asked again...
        done = _verify(second, server, "--judge-price-in", "1000", "--judge-price-out", "1000",
                       "--judge-budget-usd", "0.0")  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert sum(server.asked.values()) == asked  # ...but a zero budget asks nothing
        assert "judge: 0 decided (0 overturned math-verify), 6 left to math-verify" in done.stdout
        # re-verifying the first lake's traces (verdicts removed) answers from its judge cache
        Lake(first).replace("verdicts", [])
        Lake(first).replace("judgements", [])
        again = _verify(first, server)
        assert again.returncode == 0, again.stderr
        assert sum(server.asked.values()) == asked
        assert "judge: 6 decided (5 overturned math-verify), 0 left to math-verify" in again.stdout


def test_when_the_judge_is_asked():
    assert [needs_judge(s, c, p) for s, c, p in [
        ("ok", True, "12"), ("ok", False, "13"), ("ok", False, "seven"), ("no_answer", False, None),
        ("truncated", False, "1"), ("timeout", False, "1"), ("error", False, "x" * 2000),
    ]] == [False, True, False, True, False, False, False]  # fmt: skip
    assert [looks_mathematical(p) for p in ("x", "\\frac{1}{2}", "a+b", "3", "blue")] == [
        False, True, True, True, False,
    ]  # fmt: skip
    replies = ["CORRECT", "incorrect.", "The answer is CORRECT", "CORRECT or INCORRECT", "", None, "yes"]
    assert [parse_reply(r) for r in replies] == [True, False, True, None, None, None, None]


def test_stats_card_and_audit_show_the_judges_decisions(tmp_path):
    from data_cards.render import _judges
    from data_cards.stats import judge_rows

    root = _lake(tmp_path / "lake")
    script = {marker: reply for marker, _, _, reply in CASES if reply in ("CORRECT", "INCORRECT")}
    script.update({"m-error": "error", "m-slow": "error", "m-garbage": "error"})
    with JudgeServer(script) as server:
        assert _verify(root, server, "--judge-retries", "0").returncode == 0
    rows = judge_rows(connect(root))
    assert rows == [("judge:judge-tiny/judge-v1", 3, 2)]
    assert _judges(rows) == [
        "The LLM judge `judge:judge-tiny/judge-v1` decided 3 verdicts where math-verify could not; it "
        "overturned math-verify in 2 (66.7%).",
        "",
    ]
    stats = subprocess.run([cli("curate"), "stats", "--lake", str(root)], capture_output=True, text=True)
    assert stats.returncode == 0, stats.stderr
    assert "LLM judge behind math-verify" in stats.stdout
    line = next(x for x in stats.stdout.splitlines() if "judge:judge-tiny" in x)
    assert line.split() == ["judge:judge-tiny/judge-v1", "3", "2", "0.667"]

    audit = subprocess.run(
        [cli("curate"), "audit", "--n", "50", "--lake", str(root)], capture_output=True, text=True
    )
    assert audit.returncode == 0, audit.stderr
    out = audit.stdout
    assert out.rstrip().endswith("3 of 3 judge decisions shown (seed 0); 2 overturned math-verify")
    assert out.count("OVERTURNED") == 2 and out.count("upheld") == 1
    units = next(b for b in out.split("\n\n") if "m-units" in b).splitlines()
    assert units[1:] == [
        "  problem: problem 2 m-units",
        "  gold:    5",
        "  answer:  5\\text{ cm}^2+1",
        "  math-verify: incorrect (ok)   judge:judge-tiny/judge-v1: incorrect",
    ]
    none = next(b for b in out.split("\n\n") if "m-none" in b).splitlines()
    assert none[3:] == [
        "  answer:  (none found) …the answer is seven m-none",
        "  math-verify: incorrect (no_answer)   judge:judge-tiny/judge-v1: correct",
    ]
    # the same seed shows the same sample
    again = subprocess.run([cli("curate"), "audit", "--lake", str(root)], capture_output=True, text=True)
    assert again.stdout == out
