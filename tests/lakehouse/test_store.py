"""The shard store: schema round trip, manifests, and crashes at each step of a write."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import datetime, timezone

import pyarrow as pa
import pytest

from lakehouse import Lake, UserError, existing_lake
from lakehouse.schema import PROBLEMS, TABLES, TRACES, VERDICTS


def problems_table(ids: list[str]) -> pa.Table:
    return pa.table(
        {
            "problem_id": ids,
            "source": ["t"] * len(ids),
            "problem": [f"What is {i}?" for i in ids],
            "answer": ["1"] * len(ids),
            "domain": ["arith"] * len(ids),
            "level": [1] * len(ids),
            "meta": ["{}"] * len(ids),
        }
    )


def trace_row(i: int) -> dict:
    return {
        "trace_id": f"t{i}", "problem_id": f"p{i}", "run": "r", "teacher": "procedural", "sample_idx": i,
        "prompt": json.dumps([{"role": "user", "content": "q"}]), "reasoning": None, "completion": "<think>x</think> \\boxed{1}",
        "finish_reason": "stop", "prompt_tokens": 3, "completion_tokens": 7, "latency_s": 0.5, "cost_usd": 0.001,
        "temperature": 0.8, "top_p": 0.95, "max_tokens": 100, "seed": 42,
        "created_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), "error": None,
    }  # fmt: skip


def test_schemas_have_the_design_columns():
    assert PROBLEMS.names == ["problem_id", "source", "problem", "answer", "domain", "level", "meta"]
    assert TRACES.names == [
        "trace_id", "problem_id", "run", "teacher", "sample_idx", "prompt", "reasoning", "completion",
        "finish_reason", "prompt_tokens", "completion_tokens", "latency_s", "cost_usd", "temperature",
        "top_p", "max_tokens", "seed", "created_at", "error", "reasoning_tokens",
    ]  # fmt: skip
    assert VERDICTS.names == ["trace_id", "problem_id", "pred", "correct", "status", "verifier", "elapsed_ms"]


@pytest.mark.parametrize("table", sorted(TABLES))
def test_round_trip_every_schema(tmp_path, table):
    lake = Lake(tmp_path)
    schema = TABLES[table]
    row = trace_row(1) if schema is TRACES else None
    data = pa.Table.from_pylist([row], schema=schema) if row else schema.empty_table()
    lake.write(table, data)
    back = lake.read(table)
    assert back.schema == schema
    assert back.to_pylist() == data.to_pylist()


def test_traces_partition_and_manifest(tmp_path):
    lake = Lake(tmp_path)
    t = pa.Table.from_pylist([trace_row(1), trace_row(2)], schema=TRACES)
    path = lake.write("traces", t, partition="run=r")
    assert path.parent.name == "run=r"
    m = json.loads((tmp_path / "traces" / ".manifest.json").read_text())
    assert [(e["file"].split("/")[0], e["rows"], len(e["sha256"])) for e in m["shards"]] == [("run=r", 2, 64)]
    assert lake.read("traces").column("trace_id").to_pylist() == ["t1", "t2"]


def test_write_conforms_column_order_and_types(tmp_path):
    lake = Lake(tmp_path)
    t = problems_table(["b", "a"]).select(
        ["meta", "level", "domain", "answer", "problem", "source", "problem_id"]
    )
    lake.write("problems", t)
    back = lake.read("problems")
    assert back.schema == PROBLEMS
    assert back.column("problem_id").to_pylist() == ["b", "a"]


def test_missing_column_is_refused_and_nothing_written(tmp_path):
    lake = Lake(tmp_path)
    with pytest.raises(ValueError, match="missing columns meta"):
        lake.write("problems", problems_table(["a"]).drop_columns(["meta"]))
    assert lake.read("problems").num_rows == 0
    assert list((tmp_path).rglob("*.parquet")) == []


def test_replace_swaps_all_shards(tmp_path):
    lake = Lake(tmp_path)
    lake.write("views/sft", pa.table({"x": [1, 2]}))
    lake.write("views/sft", pa.table({"x": [3]}))
    old = lake.files("views/sft")
    lake.replace("views/sft", [pa.table({"x": [9]})])
    assert lake.read("views/sft").column("x").to_pylist() == [9]
    # the replaced shards stay for the grace period (a reader may hold the old manifest), gc keeps them
    assert all(p.exists() for p in old) and lake.gc("views/sft") == 0
    lake.replace("views/sft", [pa.table({"x": [10]})], grace_s=0)  # past the grace period: deleted
    assert len(list((tmp_path / "views" / "sft").glob("*.parquet"))) == 1
    assert lake.manifest("views/sft")["retired"] == []


def test_lake_path_that_is_a_file(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    with pytest.raises(UserError, match="is a file"):
        Lake(f)


CRASH = textwrap.dedent(
    """
    import os, signal, sys
    import pyarrow as pa
    import lakehouse.store as store
    from lakehouse import Lake
    where = sys.argv[2]
    if where == "before_rename":
        store.os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)
    else:
        Lake._save_manifest = lambda *a: os.kill(os.getpid(), signal.SIGKILL)
    Lake(sys.argv[1]).write("views/x", pa.table({"x": [2, 3]}))
    """
)


def test_existing_lake_is_never_created_and_names_the_hint(tmp_path):
    with pytest.raises(UserError) as err:
        existing_lake(tmp_path / "none", hint="run `synth generate` first")
    assert str(err.value) == f"no lake at {tmp_path / 'none'} (run `synth generate` first)"
    assert not (tmp_path / "none").exists()
    Lake(tmp_path / "lake")
    assert existing_lake(tmp_path / "lake").root == tmp_path / "lake"


@pytest.mark.parametrize("where", ["before_rename", "before_manifest"])
def test_crash_mid_write_leaves_no_visible_partial_shard(tmp_path, where):
    lake = Lake(tmp_path)
    lake.write("views/x", pa.table({"x": [1]}))
    proc = subprocess.run([sys.executable, "-c", CRASH, str(tmp_path), where], capture_output=True)
    assert proc.returncode == -9
    on_disk = list((tmp_path / "views" / "x").iterdir())
    assert len([p for p in on_disk if p.name != ".manifest.lock"]) == 3  # manifest, old shard, the orphan
    assert lake.read("views/x").column("x").to_pylist() == [1]
    assert lake.gc("views/x") == 1
    assert lake.read("views/x").column("x").to_pylist() == [1]
