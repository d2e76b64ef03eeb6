"""`synth generate --teacher openai-batch:MODEL` against a real Batch API server on 127.0.0.1
(tests/helpers/batch_server.py): expiry and partial failure resubmit only what failed; SIGKILL during
upload, after create, during polling and during download, then resume: no duplicate rows, no batch created
twice, no completion lost; a budget below the cost of all batches submits only what fits."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from lakehouse import Lake
from lakehouse.ids import trace_id
from lakehouse.sql import connect
from sampling.openai_api import prompt_token_bound
from tests.conftest import cli
from tests.helpers.batch_server import BatchServer
from tests.helpers.chat_server import _answer
from tests.synth.test_openai_generate import CANARY, lake_bytes_contain, make_lake

PROBLEMS, SAMPLES, UNITS = 20, 2, 10  # 40 units in 4 batches


def synth(lake: Path, server: BatchServer, *args: str) -> subprocess.Popen:
    cmd = [cli("synth"), "generate", "--lake", str(lake), "--teacher", "openai-batch:tiny", "--run", "b"]
    cmd += ["--base-url", server.base_url, "--max-tokens", "64", "--no-progress", "--samples", str(SAMPLES)]
    cmd += ["--batch-units", str(UNITS), "--batch-poll", "0.02", *args]
    env = {**os.environ, "OPENAI_API_KEY": CANARY}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def traces(lake: Path) -> list[tuple]:
    return (
        connect(lake)
        .execute(
            "SELECT trace_id, problem_id, sample_idx, prompt, seed, completion, reasoning FROM traces WHERE run = 'b'"
        )
        .fetchall()
    )


def assert_complete_and_the_servers(lake: Path, rows: list[tuple], n_problems: int = PROBLEMS) -> None:
    ids = [r[0] for r in rows]
    pids = Lake(lake).read("problems", columns=["problem_id"]).column("problem_id").to_pylist()
    assert len(ids) == len(set(ids)) == n_problems * SAMPLES  # 0 duplicates, 0 lost
    assert set(ids) == {trace_id("b", p, i) for p in pids for i in range(SAMPLES)}
    for _, _, _, prompt, seed, completion, reasoning in rows:
        messages = json.loads(prompt)
        body = {"messages": messages, "max_tokens": 64}
        message = _answer(body, 1, (messages[-1]["content"], seed), 0.0, True)["choices"][0]["message"]
        assert (completion, reasoning) == (message["content"], message["reasoning_content"])


def test_batches_with_expiry_and_partial_failure_keep_successes_and_resubmit_the_rest(tmp_path):
    lake = make_lake(tmp_path / "lake", PROBLEMS)
    first_unit = sorted(Lake(lake).read("problems").column("problem_id").to_pylist())[0] + ":0"
    with BatchServer(polls_to_finish=2, expire={2}, fail_ids={first_unit}) as server:
        code, out, err = finish(synth(lake, server))
        assert code == 0, err
        # 4 batches; batch 2 expired with 5 of its 10 units answered, batch 1 failed one unit: 2 resubmissions
        assert server.created == 6
        assert sorted(set(server.answered.values())) == [1] and len(server.answered) == 40
        assert server.auth_headers == {f"Bearer {CANARY}"}
    assert "40/40 samples done (40 new, 0 failed)" in out
    tokens = connect(lake).execute("SELECT sum(completion_tokens) FROM traces WHERE run = 'b'").fetchone()[0]
    assert (
        f"openai-batch: batches 6 submitted, 0 running, 6 done; 40/40 samples, {tokens:,} tokens, $0.0000"
        in err
    )
    assert_complete_and_the_servers(lake, traces(lake))
    assert CANARY not in out + err and lake_bytes_contain(lake, CANARY.encode()) == []


@pytest.mark.parametrize("event", [("upload", 1), ("create", 1), ("poll", 2), ("download", 1)])
def test_sigkill_then_resume_creates_no_batch_twice_and_loses_nothing(tmp_path, event):
    lake = make_lake(tmp_path / "lake", PROBLEMS)
    with BatchServer(polls_to_finish=2, kill=event) as server:
        proc = synth(lake, server)
        server.victim = proc.pid
        code, _, _ = finish(proc)
        assert code == -9 and server.events[event[0]] == event[1]  # killed where the test said
        created_before = server.created
        server.kill = None
        code, out, err = finish(synth(lake, server))
        assert code == 0, err
        # every batch created once: upload killed before its first batch existed; the others after
        assert (created_before, server.created) == ({"upload": 0, "create": 1}.get(event[0], 4), 4)
        assert sorted(set(server.answered.values())) == [1] and len(server.answered) == 40
    assert "40/40 samples done" in out
    assert_complete_and_the_servers(lake, traces(lake))


def test_budget_below_all_batches_submits_only_what_fits(tmp_path):
    lake = make_lake(tmp_path / "lake", 40)
    prices = ("--price-in", "1000", "--price-out", "1000", "--budget-usd", "2.0")
    with BatchServer() as server:
        code, out, err = finish(synth(lake, server, *prices))
        assert code == 0, err
        created = server.created
    assert out.strip().endswith("stopped: budget")
    rows = traces(lake)
    assert len(rows) == created * UNITS < 80
    assert f"openai-batch: {80 - len(rows)} units not submitted" in err
    spent = connect(lake).execute("SELECT sum(cost_usd) FROM traces WHERE run = 'b'").fetchone()[0]
    # the next batch's worst case (prompt bound + max tokens at half of 1000/M) would have passed the cap
    problems = sorted(Lake(lake).read("problems").to_pylist(), key=lambda p: p["problem_id"])
    from sampling.prompts import prompt_messages

    nxt = [p for p in problems][len(rows) // SAMPLES : len(rows) // SAMPLES + UNITS // SAMPLES]
    worst = sum((prompt_token_bound(prompt_messages(p["problem"])) + 64) * 500 / 1e6 * SAMPLES for p in nxt)
    assert spent <= 2.0 < spent + worst
