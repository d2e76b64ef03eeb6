"""`curate verify` end to end on the procedural corpus: real CLIs, real lake, real DuckDB, real pool."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import pytest

import curate.sql_views  # noqa: F401  (problem_stats in the SQL session)
from lakehouse.sql import connect
from lakehouse.store import Lake
from reward.verify import verifier_name
from sampling.prompts import assistant_text
from synth.teachers.procedural import plan
from tests.conftest import cli


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    if check:
        assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("verify") / "lake"
    run(
        cli("synth"),
        "problems",
        "--source",
        "builtin:arith",
        "--n",
        "150",
        "--seed",
        "3",
        "--lake",
        str(root),
    )
    run(
        cli("synth"),
        "generate",
        "--teacher",
        "procedural",
        "--samples",
        "4",
        "--run",
        "a",
        "--lake",
        str(root),
    )
    first = run(cli("curate"), "verify", "--no-progress", "--lake", str(root))
    assert first.stdout.startswith("curate verify: 600 traces verified")
    return root


def _expected_per_level(root: Path) -> dict[int, tuple[int, int]]:
    """(samples, intended-correct samples) per level, from the teacher's own plan of every trace."""
    problems = {r["problem_id"]: r for r in Lake(root).read("problems").to_pylist()}
    counts: Counter = Counter()
    for t in Lake(root).read("traces").to_pylist():
        row = problems[t["problem_id"]]
        p = plan(row, t["sample_idx"], t["seed"], t["max_tokens"])
        # the plan is the trace the teacher wrote (split into reasoning and answer at ingest)
        assert assistant_text(None, p.text) == assistant_text(t["reasoning"], t["completion"])
        counts[(row["level"], "n")] += 1
        counts[(row["level"], "k")] += p.intended_correct
    return {lv: (counts[(lv, "n")], counts[(lv, "k")]) for lv in sorted({lv for lv, _ in counts})}


def test_pass_rate_per_level_equals_the_teachers_known_correctness(lake):
    measured = (
        connect(lake)
        .execute(
            """SELECT p.level, sum(s.n), sum(s.n_correct) FROM problem_stats s JOIN problems p USING (problem_id)
           GROUP BY 1 ORDER BY 1"""
        )
        .fetchall()
    )
    expected = _expected_per_level(lake)
    assert {lv: (int(n), int(k)) for lv, n, k in measured} == expected
    assert sorted(expected) == [1, 2, 3, 4, 5]
    assert 0 < sum(k for _, k in expected.values()) < 600  # both right and wrong samples exist


def test_each_verdict_matches_its_plan(lake):
    problems = {r["problem_id"]: r for r in Lake(lake).read("problems").to_pylist()}
    traces = {t["trace_id"]: t for t in Lake(lake).read("traces").to_pylist()}
    verdicts = Lake(lake).read("verdicts").to_pylist()
    assert len(verdicts) == len(traces) == 600
    statuses = Counter()
    for v in verdicts:
        t = traces[v["trace_id"]]
        p = plan(problems[t["problem_id"]], t["sample_idx"], t["seed"], t["max_tokens"])
        assert v["correct"] == p.intended_correct, (p.mode, t["completion"][-200:], v)
        assert (v["status"] == "truncated") == (p.finish_reason == "length")
        statuses[v["status"]] += 1
    assert statuses["ok"] > 0 and set(statuses) <= {"ok", "no_answer", "truncated"}
    assert {v["verifier"] for v in verdicts} == {f"{verifier_name()}/strict"}


def test_incremental_only_new_traces(lake):
    again = run(cli("curate"), "verify", "--no-progress", "--lake", str(lake))
    assert again.stdout.startswith("curate verify: 0 traces verified (none new), 600 already had a verdict")
    run(
        cli("synth"),
        "generate",
        "--teacher",
        "procedural",
        "--samples",
        "2",
        "--run",
        "b",
        "--lake",
        str(lake),
    )
    more = run(cli("curate"), "verify", "--no-progress", "--lake", str(lake))
    assert more.stdout.startswith("curate verify: 300 traces verified")
    assert ", 600 already had a verdict" in more.stdout
    con = connect(lake)
    assert con.execute("SELECT count(*), count(DISTINCT trace_id) FROM verdicts").fetchall() == [(900, 900)]


def test_problem_stats_columns_and_configurable_bands(lake):
    run(
        cli("curate"),
        "verify",
        "--no-progress",
        "--hard-below",
        "0.3",
        "--medium-below",
        "0.6",
        "--lake",
        str(lake),
    )
    con = connect(lake)
    rows = con.execute(
        "SELECT problem_id, n, n_correct, n_failed, pass_rate, mean_completion_tokens, band FROM problem_stats"
    ).fetchall()
    tokens = dict(
        con.execute(
            "SELECT problem_id, avg(completion_tokens) FROM traces WHERE trace_id IN (SELECT trace_id FROM verdicts) GROUP BY 1"
        ).fetchall()
    )
    assert len(rows) == 150
    for pid, n, k, failed, rate, mean_tokens, band in rows:
        assert rate == k / n and failed == 0 and mean_tokens == pytest.approx(tokens[pid])
        want = (
            "unsolved"
            if k == 0
            else "trivial"
            if k == n
            else "hard"
            if rate < 0.3
            else "medium"
            if rate < 0.6
            else "easy"
        )
        assert band == want
    assert len({band for *_, band in rows}) == 5
    run(cli("curate"), "verify", "--no-progress", "--lake", str(lake))  # back to the defaults
    assert Lake(lake).read("difficulty_bands").to_pylist() == [{"hard_below": 0.25, "medium_below": 0.5}]


def test_stats_shows_pass_rate_per_level_and_teacher(lake):
    out = run(cli("curate"), "stats", "--lake", str(lake)).stdout
    assert "teacher pass rate per level" in out and "teacher pass rate per teacher" in out
    con = connect(lake)
    for level, n, k in con.execute(
        """SELECT p.level, count(*), count(*) FILTER (WHERE v.correct) FROM verdicts v
           JOIN problems p USING (problem_id) GROUP BY 1 ORDER BY 1"""
    ).fetchall():
        assert any(line.split()[:3] == [str(level), f"{n:,}", f"{k / n:.3f}"] for line in out.splitlines())
    assert any(line.split()[:2] == ["procedural", "900"] for line in out.splitlines())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lake", "/nonexistent/lake"], "error: no lake at /nonexistent/lake"),
        (["--hard-below", "0.7", "--medium-below", "0.5"], "error: band thresholds must satisfy"),
        (["--timeout", "0"], "error: --timeout must be > 0"),
    ],
)
def test_bad_input_is_one_line_exit_2(lake, args, message):
    if "--lake" not in args:
        args = [*args, "--lake", str(lake)]
    before = (Lake(lake).manifest("verdicts"), Lake(lake).manifest("difficulty_bands"))
    done = run(cli("curate"), "verify", "--no-progress", *args, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith(message) and done.stderr.count("\n") == 1
    assert (Lake(lake).manifest("verdicts"), Lake(lake).manifest("difficulty_bands")) == before
