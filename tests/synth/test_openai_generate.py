"""`synth generate --teacher openai:...` end to end: the real CLI in a subprocess, the real chat server
on 127.0.0.1, the real lake. Fault mix with resume, SIGKILL with resume, the canary key, the budget,
and the local datatrove executor."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from lakehouse import Lake
from lakehouse.sql import connect
from synth.generate import journal_dir, worker_name
from synth.problems import ProblemsConfig
from synth.problems import main as make_problems
from tests.conftest import cli
from tests.helpers.chat_server import ChatServer, FaultMix, _answer

CANARY = "sk-canary-5b1e8c2f9d7a4e3b"
MIX = FaultMix(
    rate_limit=0.06, server_error=0.05, reset=0.04, slow=0.02, truncated_json=0.03, empty_choices=0.03,
    length=0.05, slow_s=2.0,
)  # fmt: skip


def make_lake(path: Path, n: int) -> Path:
    make_problems(ProblemsConfig(lake=path, source="builtin:arith", n=n, seed=11))
    return path


def synth(lake: Path, server: ChatServer, *args: str, key: str = CANARY) -> subprocess.Popen:
    cmd = [cli("synth"), "generate", "--lake", str(lake), "--teacher", "openai:tiny"]
    cmd += ["--base-url", server.base_url, "--max-tokens", "64", "--no-progress", *args]
    env = {**os.environ, "OPENAI_API_KEY": key}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=240)
    return proc.returncode, out, err


def units(lake: Path, run: str) -> tuple[list[tuple], set[str]]:
    """(trace_id, problem_id, sample_idx, completion, reasoning, seed, prompt) rows, and the ids of
    units recorded only as errors."""
    con = connect(lake)
    rows = con.execute(
        "SELECT trace_id, problem_id, sample_idx, completion, reasoning, seed, prompt FROM traces WHERE run = ?",
        [run],
    ).fetchall()
    failed = con.execute(
        "SELECT DISTINCT trace_id FROM trace_errors WHERE run = ? AND trace_id NOT IN "
        "(SELECT trace_id FROM traces WHERE run = ?)",
        [run, run],
    ).fetchall()
    return rows, {r[0] for r in failed}


def all_unit_ids(lake: Path, run: str, samples: int) -> set[str]:
    from lakehouse.ids import trace_id

    pids = Lake(lake).read("problems", columns=["problem_id"]).column("problem_id").to_pylist()
    return {trace_id(run, p, i) for p in pids for i in range(samples)}


def assert_answers_are_the_servers(rows: list[tuple]) -> None:
    for _, _, _, completion, reasoning, seed, prompt in rows:
        messages = json.loads(prompt)
        key = (messages[-1]["content"], seed)
        choice = _answer({"messages": messages, "max_tokens": 64}, 1, key, MIX.length, True)["choices"][0]
        # stored as split at ingest: both parts stripped of surrounding blanks
        assert (completion, reasoning) == (
            choice["message"]["content"].strip(),
            choice["message"]["reasoning_content"].strip(),
        )


def lake_bytes_contain(lake: Path, needle: bytes) -> list[Path]:
    return [p for p in lake.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_fault_mix_run_then_resume_fills_the_errors_and_never_leaks_the_key(tmp_path):
    lake = make_lake(tmp_path / "lake", 200)
    with ChatServer(faults=MIX, n_mode="ignore", echo_auth=True) as server:
        args = (
            "--samples",
            "4",
            "--run",
            "mix",
            "--concurrency",
            "64",
            "--max-retries",
            "2",
            "--timeout",
            "1",
        )
        code, out, err = finish(synth(lake, server, *args))
        assert code == 0, err
        rows, failed = units(lake, "mix")
        expected = all_unit_ids(lake, "mix", 4)
        ids = [r[0] for r in rows]
        assert len(ids) == len(set(ids))  # 0 duplicates
        assert set(ids) | failed == expected and not set(ids) & failed  # every unit: a trace or an error
        assert failed, "the fault mix should leave some units failed after 3 attempts"
        assert f"({len(ids)} new, {len(failed)} failed)" in out
        assert_answers_are_the_servers(rows)
        first_errors = Lake(lake).read("trace_errors").column("error").to_pylist()
        assert {e.split(" after ")[0] for e in first_errors} <= {
            "RateLimitError 429", "InternalServerError 500", "APIConnectionError", "APITimeoutError",
            "InvalidResponse", "EmptyChoices",
        }  # fmt: skip

        server.heal()
        code, out2, err2 = finish(synth(lake, server, *args))
        assert code == 0, err2
        rows, failed = units(lake, "mix")
        ids = [r[0] for r in rows]
        assert len(ids) == len(set(ids)) == 800 and set(ids) == expected and not failed
        assert f"800/800 samples done ({len(first_errors)} new, 0 failed)" in out2
        assert_answers_are_the_servers(rows)
        assert server.state.auth_headers == {f"Bearer {CANARY}"}  # the key did travel, in the header only

    status = subprocess.run([cli("synth"), "status", "--lake", str(lake)], capture_output=True, text=True)
    assert "800/800" in status.stdout
    for text in (out, err, out2, err2, status.stdout, status.stderr):
        assert CANARY not in text
    assert lake_bytes_contain(lake, CANARY.encode()) == []


def test_sigkill_mid_run_then_resume_never_requests_a_returned_completion_again(tmp_path):
    lake = make_lake(tmp_path / "lake", 30)
    answered_before_kill = 25
    with ChatServer(n_mode="ignore", hold_after=answered_before_kill + 1) as server:
        # the first request (n=2 probe) is answered with one choice; then 25 single requests
        proc = synth(lake, server, "--samples", "2", "--run", "kill", "--concurrency", "8")
        journal = journal_dir(Lake(lake), "kill") / f"{worker_name_default()}.jsonl"
        deadline = time.monotonic() + 120
        while _lines(journal) < answered_before_kill + 1 or server.held() < 8:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        assert sum(server.state.returned.values()) == answered_before_kill + 1
        server.release()
        code, out, err = finish(synth(lake, server, "--samples", "2", "--run", "kill", "--concurrency", "8"))
        assert code == 0, err
    rows, failed = units(lake, "kill")
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)) == 60 and not failed
    assert set(ids) == all_unit_ids(lake, "kill", 2)
    # the server answered every (problem, sample) exactly once over both runs
    assert sorted(set(server.state.returned.values())) == [1] and len(server.state.returned) == 60


def worker_name_default() -> str:
    from synth.config import GenerateConfig

    return worker_name(GenerateConfig())


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_budget_stops_within_one_request_of_the_cap(tmp_path):
    lake = make_lake(tmp_path / "lake", 100)
    prices = ("--price-in", "100", "--price-out", "400", "--budget-usd", "0.25")
    with ChatServer(n_mode="ignore") as server:
        code, out, err = finish(
            synth(lake, server, "--samples", "2", "--run", "b", "--concurrency", "4", *prices)
        )
    assert code == 0, err
    assert out.strip().endswith("stopped: budget")
    con = connect(lake)
    spent, n, longest = con.execute(
        "SELECT sum(cost_usd), count(*), max(length(prompt)) FROM traces WHERE run = 'b'"
    ).fetchone()
    worst = ((longest + 8 + 16) * 100 + 64 * 400) / 1e6  # the teacher's reservation for one request
    assert 0 < n < 200
    assert 0.25 - worst < spent <= 0.25
    assert sum(server.state.returned.values()) == n


def test_refused_key_is_one_line_exit_2_without_the_key(tmp_path):
    lake = make_lake(tmp_path / "lake", 3)
    wrong = "sk-wrong-" + CANARY
    with ChatServer(api_key="sk-right", echo_auth=True) as server:
        code, out, err = finish(synth(lake, server, "--samples", "1", "--run", "k", key=wrong))
    assert code == 2
    assert err == f"error: {server.base_url} refused the key (401): check $OPENAI_API_KEY\n"
    assert CANARY not in out and lake_bytes_contain(lake, CANARY.encode()) == []


def test_local_executor_runs_the_shards_into_one_lake(tmp_path):
    lake = make_lake(tmp_path / "lake", 40)
    with ChatServer() as server:
        args = ("--samples", "3", "--run", "ex", "--executor", "local", "--tasks", "2")
        code, out, err = finish(synth(lake, server, *args))
    assert code == 0, err
    assert (
        out.strip()
        == f"ran 2 shard tasks of run ex on the local executor; logs in {lake.resolve()}/_executor/run=ex"
    )
    rows, failed = units(lake, "ex")
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)) == 120 and set(ids) == all_unit_ids(lake, "ex", 3) and not failed
    infos = sorted(p.name for p in (lake / "runs").glob("ex.*.json"))
    assert infos == ["ex.shard-0-of-2.json", "ex.shard-1-of-2.json"]


@pytest.mark.slow
def test_fault_mix_large(tmp_path):
    """The long variant: 1,000 problems x 8 samples under the same fault mix."""
    lake = make_lake(tmp_path / "lake", 1000)
    with ChatServer(faults=MIX, n_mode="ignore") as server:
        args = (
            "--samples",
            "8",
            "--run",
            "big",
            "--concurrency",
            "128",
            "--max-retries",
            "3",
            "--timeout",
            "1",
        )
        code, _, err = finish(synth(lake, server, *args))
        assert code == 0, err
        server.heal()
        code, _, err = finish(synth(lake, server, *args))
        assert code == 0, err
    rows, failed = units(lake, "big")
    assert len(rows) == len({r[0] for r in rows}) == 8000 and not failed


def test_status_counts_prompt_tokens_once_per_request(tmp_path):
    """Two samples of a problem go out as one request (n=2); `synth status` counts its prompt once."""
    lake = tmp_path / "lake"
    make_lake(lake, 4)
    with ChatServer() as server:
        code, _, err = finish(synth(lake, server, "--samples", "2"))
        assert code == 0, err
    rows = Lake(lake).read("traces").to_pylist()
    per_request = {(r["problem_id"], r["seed"]): r["prompt_tokens"] for r in rows}
    assert len(per_request) == 4 and len(rows) == 8
    status = subprocess.run(
        [cli("synth"), "status", "--lake", str(lake)], capture_output=True, text=True
    ).stdout
    assert status.splitlines()[1].split()[3] == f"{sum(per_request.values()):,}"


def test_reasoning_tokens_come_from_the_usage_the_server_reports(tmp_path):
    """usage.completion_tokens_details.reasoning_tokens lands in traces.reasoning_tokens (the chat server
    counts the reasoning's words); a server that reports none gives NULL."""
    for reasoning, lake in ((True, tmp_path / "a"), (False, tmp_path / "b")):
        make_lake(lake, 3)
        with ChatServer(reasoning=reasoning) as server:
            code, _, err = finish(synth(lake, server, "--samples", "1"))
            assert code == 0, err
        rows = Lake(lake).read("traces").to_pylist()
        expected = [len(r["reasoning"].split()) if reasoning else None for r in rows]
        assert [r["reasoning_tokens"] for r in rows] == expected
