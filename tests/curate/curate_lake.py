"""Writers for hand-made curate fixtures: problems, traces and verdicts in the lake's schemas."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa

from curate.config import CurateConfig
from lakehouse.ids import problem_id, trace_id
from lakehouse.schema import PROBLEMS, TRACES, VERDICTS
from lakehouse.store import Lake

INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def problem_row(text: str, answer: str, level: int = 1, source: str = "test") -> dict:
    return {
        "problem_id": problem_id(text),
        "source": source,
        "problem": text,
        "answer": answer,
        "domain": "math",
        "level": level,
        "meta": "{}",
    }


def trace_row(
    pid: str,
    idx: int,
    reasoning: str | None,
    completion: str,
    tokens: int,
    finish: str = "stop",
    run: str = "r1",
    error: str | None = None,
    prompt: list[dict] | None = None,  # the messages the teacher answered
) -> dict:
    return {
        "trace_id": trace_id(run, pid, idx),
        "problem_id": pid,
        "run": run,
        "teacher": "hand",
        "sample_idx": idx,
        "prompt": json.dumps(prompt or [{"role": "user", "content": "?"}]),
        "reasoning": reasoning,
        "completion": completion,
        "finish_reason": finish,
        "prompt_tokens": 5,
        "completion_tokens": tokens,
        "latency_s": 0.0,
        "cost_usd": 0.0,
        "temperature": 0.8,
        "top_p": 0.95,
        "max_tokens": 256,
        "seed": 0,
        "created_at": T0 + timedelta(seconds=idx),
        "error": error,
        "reasoning_tokens": None,
    }


def verdict_row(trace: dict, correct: bool, status: str = "ok") -> dict:
    return {
        "trace_id": trace["trace_id"],
        "problem_id": trace["problem_id"],
        "pred": None,
        "correct": correct,
        "status": status,
        "verifier": "hand",
        "elapsed_ms": 0.0,
    }


def write(lake: Lake, problems: list[dict], traces: list[dict], verdicts: list[dict]) -> None:
    if problems:
        lake.write("problems", pa.Table.from_pylist(problems, schema=PROBLEMS))
    if traces:
        lake.write("traces", pa.Table.from_pylist(traces, schema=TRACES), partition="run=r1")
    if verdicts:
        lake.write("verdicts", pa.Table.from_pylist(verdicts, schema=VERDICTS))


def benchmark_file(folder: Path, name: str, items: list[str], field: str = "problem") -> Path:
    path = folder / f"{name}.jsonl"
    path.write_text("".join(json.dumps({field: text, "answer": "0"}) + "\n" for text in items))
    return path


def config(root: Path, benchmarks: list[Path], near_dup: bool = False) -> CurateConfig:
    cfg = CurateConfig(lake=root, verify=False, progress=False)
    cfg.decontam.benchmarks = [str(b) for b in benchmarks] or ["all"]  # [] = the registered sets
    cfg.dedup.near_dup = near_dup
    return cfg
