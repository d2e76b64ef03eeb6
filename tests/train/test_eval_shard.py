"""`train eval --shard I/N` then `--merge N` (and `--executor local --tasks N`): the merged evals row is the
unsharded run's, field for field; re-run shards add nothing; bad input and a missing shard are one-line
errors that write nothing. Two real backends: the tiny hf student (seeded per request with --batch-size 1)
and a chat server on 127.0.0.1 whose answer is a hash of (prompt, seed), so verdicts are mixed."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pyarrow as pa
import pytest

from lakehouse.schema import EVAL_SAMPLES
from lakehouse.store import Lake
from tests.helpers.chat_server import ChatServer
from tests.helpers.sharded_eval import chain_api, measured, train_eval
from tests.helpers.tiny_spec import SMALL
from train.eval import EvalConfig, load_benchmark, main
from train.tiny import build, save


def responses(lake, run: str) -> dict:
    """(problem_id, sample_idx) -> (completion, pred, correct) of one evaluation's eval_samples rows."""
    rows = [r for r in Lake(lake).read("eval_samples").to_pylist() if r["eval_run"] == run]
    out = {(r["problem_id"], r["sample_idx"]): (r["completion"], r["pred"], r["correct"]) for r in rows}
    assert len(out) == len(rows)  # each response once
    return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A randomly initialised tiny Qwen2 with a char tokenizer trained on the problems it will see."""
    probe = EvalConfig(model="unused", benchmark="builtin:chain", n=6)
    corpus = [p["problem"] for p in load_benchmark(probe)] + ["<think>5+7=2*3=6</think>\\boxed{6}"]
    model, tok = build(SMALL, corpus)
    return save(model, tok, tmp_path_factory.mktemp("tiny") / "student")


def test_two_hf_shards_merge_into_the_unsharded_row(tiny, tmp_path):
    # batch size 1: the hf backend seeds each generate() batch from its first request, so only one request
    # per batch makes a response a function of its own seed, whichever shard asks
    cfg = EvalConfig(
        model=str(tiny), benchmark="builtin:chain", n=6, samples=2, max_tokens=16, lake=tmp_path / "one",
        progress=False, batch_size=1, stage="tiny",
    )  # fmt: skip
    whole = main(cfg)
    sharded = replace(cfg, lake=tmp_path / "sharded")
    for i in range(2):
        part = main(replace(sharded, shard=(i, 2)))
        assert part.rows == [] and len(part.results[0].problems) == 3  # 6 problems round-robin over 2
    assert not Lake(sharded.lake).has("evals")  # shards write responses only
    merged = main(replace(sharded, merge=2))
    assert len(merged.rows) == 1 and measured(merged.row) == measured(whole.row)
    assert responses(sharded.lake, merged.row["eval_run"]) == responses(cfg.lake, whole.row["eval_run"])
    shards = sorted((r["shard"], r["shards"]) for r in Lake(sharded.lake).read("eval_samples").to_pylist())
    assert shards == [(0, 2)] * 6 + [(1, 2)] * 6


def test_api_shards_rerun_and_a_racing_second_write_still_merge_into_the_unsharded_row(tmp_path):
    with ChatServer(reasoning=False) as server:
        whole = main(chain_api(server, tmp_path / "one"))
        cfg = chain_api(server, tmp_path / "sharded")
        for i in range(3):
            main(replace(cfg, shard=(i, 3)))
        asked = sum(server.state.requests.values())
        rerun = main(replace(cfg, shard=(1, 3)))  # a re-submit of a finished shard: nothing asked or written
        assert sum(server.state.requests.values()) == asked and rerun.results == []
    lake = Lake(cfg.lake)
    assert lake.rows("eval_samples") == 40
    # a re-submit that raced the original and also wrote: a second whole write of shard 1, one second later
    shard1 = [r for r in lake.read("eval_samples").to_pylist() if r["shard"] == 1]
    later = [{**r, "created_at": r["created_at"] + timedelta(seconds=1), "pred": "x"} for r in shard1]
    lake.write("eval_samples", pa.Table.from_pylist(later, schema=EVAL_SAMPLES))
    merged = main(replace(cfg, merge=3))
    row = merged.row
    assert measured(row) == measured(whole.row)
    assert 0 < row["pass_at_1"] < 1 and row["maj_at_k"] > 0  # mixed verdicts: the numbers are not trivial
    assert sum(map(len, merged.results[0].correct)) == 40  # one write per shard, the earlier one
    again = main(replace(cfg, merge=3))  # a merge already written writes nothing
    assert again.rows == [row] and Lake(cfg.lake).rows("evals") == 1


def test_executor_local_runs_the_shards_then_merges(tmp_path):
    with ChatServer(reasoning=False) as server:
        whole = main(chain_api(server, tmp_path / "one"))
        cfg = chain_api(server, tmp_path / "local", executor="local", tasks=2)
        merged = main(cfg)
    assert measured(merged.row) == measured(whole.row)
    samples = Lake(cfg.lake).read("eval_samples").to_pylist()
    assert sorted({(r["shard"], r["shards"]) for r in samples}) == [(0, 2), (1, 2)] and len(samples) == 40


def snapshot(lake) -> dict:
    return (
        {p.relative_to(lake): p.read_bytes() for p in lake.rglob("*") if p.is_file()} if lake.exists() else {}
    )


def test_bad_shards_and_a_missing_shard_are_one_line_errors_that_write_nothing(tmp_path):
    lake = tmp_path / "lake"
    with ChatServer(reasoning=False) as server:
        first = train_eval(server, lake, "--shard", "0/2")
        assert first.returncode == 0, first.stderr
        assert "eval shard 0/2 of run " in first.stdout and "--merge 2" in first.stdout
        before = snapshot(lake)
        cases = [
            (["--shard", "2/2"], "error: --shard 2/2: need 0 <= I < N"),
            (["--shard", "x"], "error: --shard 'x': expected I/N, e.g. 0/4"),
            (["--merge", "0"], "error: --merge must be >= 1 (the number of shards), got 0"),
            (["--shard", "0/2", "--merge", "2"], "error: --shard and --merge exclude each other"),
            (["--shard", "0/2", "--no-save-samples"], "error: --shard needs --save-samples"),
            (
                ["--executor", "pbs", "--tasks", "2"],
                "error: --executor 'pbs': choose one of none, local, slurm",
            ),
            (["--merge", "2"], "error: eval run "),
            (["--merge", "3"], "error: eval run "),
        ]
        results = [(train_eval(server, lake, *args), expected) for args, expected in cases]
    for proc, expected in results:
        err = proc.stderr.strip()
        assert proc.returncode == 2 and err.startswith(expected) and len(err.splitlines()) == 1, err
    assert "1 of 2 shards missing from" in results[-2][0].stderr and "(1/2)" in results[-2][0].stderr
    # another N is another evaluation: none of its 3 shards are there
    assert (
        "3 of 3 shards missing from" in results[-1][0].stderr and "(0/3, 1/3, 2/3)" in results[-1][0].stderr
    )
    assert snapshot(lake) == before  # nothing written, not even a log


def test_more_shards_than_problems_leave_empty_shards_that_the_merge_skips(tmp_path):
    with ChatServer(reasoning=False) as server:
        whole = main(chain_api(server, tmp_path / "one", n=2, samples=2))
        cfg = chain_api(server, tmp_path / "sharded", n=2, samples=2)
        for i in range(3):
            main(replace(cfg, shard=(i, 3)))  # shard 2/3 has no problem: it prints so and writes nothing
    assert measured(main(replace(cfg, merge=3)).row) == measured(whole.row)
