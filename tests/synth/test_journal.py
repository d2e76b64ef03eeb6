"""Journal compaction: torn tails, retried units, units already in the lake."""

from __future__ import annotations

import orjson

from lakehouse import Lake
from synth.journal import Journal, compact, read_journal


def row(tid: str, error: str | None = None, completion: str = "c") -> dict:
    return {
        "trace_id": tid, "problem_id": "p", "run": "r", "teacher": "t", "sample_idx": 0, "prompt": "[]",
        "reasoning": None, "completion": completion, "finish_reason": "error" if error else "stop",
        "prompt_tokens": 1, "completion_tokens": 2, "latency_s": 0.1, "cost_usd": 0.0, "temperature": 0.8,
        "top_p": 0.95, "max_tokens": 8, "seed": 1, "created_at": 1_700_000_000_000_000, "error": error, "reasoning_tokens": None,
    }  # fmt: skip


def test_torn_last_line_is_dropped(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_bytes(orjson.dumps(row("a")) + b"\n" + orjson.dumps(row("b"))[:40])
    assert read_journal(path).column("trace_id").to_pylist() == ["a"]


def test_a_damaged_middle_line_keeps_the_others(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_bytes(orjson.dumps(row("a")) + b"\n{not json\n" + orjson.dumps(row("c")) + b"\n")
    assert read_journal(path).column("trace_id").to_pylist() == ["a", "c"]


def test_compaction_rules(tmp_path):
    lake = Lake(tmp_path / "lake")
    journal = Journal(tmp_path / "j", "w")
    journal.open()
    for r in [
        row("done-already"),
        row("x", error="500 after 3 attempts"),
        row("x", completion="retried ok"),  # a failure then a success: the success wins
        row("y", error="first"),
        row("y", error="latest"),  # only failures: the latest is kept
        row("z", completion="first"),
        row("z", completion="second"),  # never happens in a run; the first success wins
    ]:
        journal.append(r)
    journal.close()
    done = {"done-already"}
    assert compact(lake, journal.path, "r", done, "trace_errors") == (2, 1)
    traces = lake.read("traces").to_pylist()
    assert [(t["trace_id"], t["completion"]) for t in traces] == [("x", "retried ok"), ("z", "first")]
    assert [(t["trace_id"], t["error"]) for t in lake.read("trace_errors").to_pylist()] == [("y", "latest")]
    assert str(traces[0]["created_at"]) == "2023-11-14 22:13:20+00:00"
    assert done == {"done-already", "x", "z"}
    assert not journal.path.exists()
