"""A small, hand-checkable lake for the data-card and export tests, written with Lake.write in the
documented formats (DESIGN.md, curate's views, funnel and decontam_report tables).

Shape (every number below is asserted somewhere):
- 6 problems `p0..p5`, levels 1,1,2,2,3,3; 4 samples each from run "r1" (teacher "procedural",
  T 0.8, top_p 0.95, max_tokens 256, seed 7), so 24 traces.
- Problem i has CORRECT[i] correct samples (samples 0..CORRECT[i]-1): 4,3,2,2,1,0 -> 12 correct traces.
- completion_tokens of sample s of problem i: 10 + 5*i + s.
- views: mid = all 12 correct traces; sft = first correct trace of each problem with one (5 rows);
  dpo = one pair per problem with both kinds (p1..p4: 4 rows); rl = problems with pass rate < 1 (5 rows).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa

import curate.sql_views  # noqa: F401  (the lake curate makes has its problem_stats view)
from lakehouse.ids import trace_id
from lakehouse.store import Lake

CORRECT = [4, 3, 2, 2, 1, 0]
LEVELS = [1, 1, 2, 2, 3, 3]
SAMPLES = 4
INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."


def pid(i: int) -> str:
    return f"p{i}"


def tokens(i: int, s: int) -> int:
    return 10 + 5 * i + s


def completion(i: int, s: int) -> str:
    answer = i if s < CORRECT[i] else i + 1
    return f"<think>{i}+0={answer}</think>\\boxed{{{answer}}}"


def user(i: int) -> dict:
    return {"role": "user", "content": f"Compute {i}+0.\n{INSTRUCTION}"}


def assistant(i: int, s: int) -> dict:
    return {"role": "assistant", "content": completion(i, s)}


def build(root: Path, funnel: bool = True, decontam: bool = True, provenance: bool = True) -> Lake:
    lake = Lake(root)
    lake.write("problems", _problems())
    lake.write("traces", _traces(), partition="run=r1")
    lake.write("verdicts", _verdicts())
    # the thresholds `curate verify` stores for the problem_stats view (curate/sql_views.py)
    lake.replace("difficulty_bands", [pa.table({"hard_below": [0.25], "medium_below": [0.5]})])
    views = _views()
    for name, table in views.items():
        lake.replace(f"views/{name}", [table])
        if provenance:
            stage = {"sft": {"sft_k": 1}, "dpo": {"dpo_max_pairs": 1}}.get(name, {})
            prompts = [json.dumps([{"role": "user", "content": "{problem}\n" + INSTRUCTION}])]
            params = {"view": name, "params": {"views": stage, "prompts": prompts}, "inputs": {"traces": 24}}
            (lake.path(f"views/{name}") / ".view.json").write_text(json.dumps(params))
    if funnel:
        lake.write("funnel", _funnel())
    if decontam:
        lake.write("decontam_report", _decontam())
    return lake


def _problems() -> pa.Table:
    n = len(CORRECT)
    return pa.table(
        {
            "problem_id": [pid(i) for i in range(n)],
            "source": ["builtin:chain"] * n,
            "problem": [f"Compute {i}+0." for i in range(n)],
            "answer": [str(i) for i in range(n)],
            "domain": ["arithmetic"] * n,
            "level": LEVELS,
            "meta": ["{}"] * n,
        }
    )


def _units() -> list[tuple[int, int]]:
    return [(i, s) for i in range(len(CORRECT)) for s in range(SAMPLES)]


def _traces() -> pa.Table:
    units = _units()
    created = datetime(2026, 11, 28, 8, 0, tzinfo=timezone.utc)
    return pa.table(
        {
            "trace_id": [trace_id("r1", pid(i), s) for i, s in units],
            "problem_id": [pid(i) for i, _ in units],
            "run": ["r1"] * len(units),
            "teacher": ["procedural"] * len(units),
            "sample_idx": [s for _, s in units],
            "prompt": [json.dumps([user(i)]) for i, _ in units],
            "reasoning": [None] * len(units),
            "completion": [completion(i, s) for i, s in units],
            "finish_reason": ["stop"] * len(units),
            "prompt_tokens": [20] * len(units),
            "completion_tokens": [tokens(i, s) for i, s in units],
            "latency_s": [0.0] * len(units),
            "cost_usd": [0.0] * len(units),
            "temperature": [0.8] * len(units),
            "top_p": [0.95] * len(units),
            "max_tokens": [256] * len(units),
            "seed": [7] * len(units),
            "created_at": [created] * len(units),
            "error": [None] * len(units),
            "reasoning_tokens": [None] * len(units),
        }
    )


def _verdicts() -> pa.Table:
    units = _units()
    return pa.table(
        {
            "trace_id": [trace_id("r1", pid(i), s) for i, s in units],
            "problem_id": [pid(i) for i, _ in units],
            "pred": [str(i if s < CORRECT[i] else i + 1) for i, s in units],
            "correct": [s < CORRECT[i] for i, s in units],
            "status": ["ok"] * len(units),
            "verifier": ["math-verify-test"] * len(units),
            "elapsed_ms": [1.0] * len(units),
        }
    )


def _messages(pairs: list[tuple[int, int]]) -> pa.Table:
    return pa.table(
        {
            "messages": [[user(i), assistant(i, s)] for i, s in pairs],
            "problem_id": [pid(i) for i, _ in pairs],
            "trace_id": [trace_id("r1", pid(i), s) for i, s in pairs],
        }
    )


def _views() -> dict[str, pa.Table]:
    correct = [(i, s) for i, s in _units() if s < CORRECT[i]]
    both = [i for i in range(len(CORRECT)) if 0 < CORRECT[i] < SAMPLES]
    rl = [i for i in range(len(CORRECT)) if CORRECT[i] < SAMPLES]
    dpo = pa.table(
        {
            "prompt": [[user(i)] for i in both],
            "chosen": [[assistant(i, 0)] for i in both],
            "rejected": [[assistant(i, CORRECT[i])] for i in both],
            "problem_id": [pid(i) for i in both],
            "chosen_trace_id": [trace_id("r1", pid(i), 0) for i in both],
            "rejected_trace_id": [trace_id("r1", pid(i), CORRECT[i]) for i in both],
        }
    )
    rl_table = pa.table(
        {
            "prompt": [[user(i)] for i in rl],
            "answer": [str(i) for i in rl],
            "pass_rate": [CORRECT[i] / SAMPLES for i in rl],
            "problem_id": [pid(i) for i in rl],
            "level": pa.array([LEVELS[i] for i in rl], pa.int32()),
        }
    )
    sft = [(i, 0) for i in range(len(CORRECT)) if CORRECT[i] > 0]
    return {"mid": _messages(correct), "sft": _messages(sft), "dpo": dpo, "rl": rl_table}


def _funnel() -> pa.Table:
    rows = [
        ("verify", 24, 24, None, 0),
        ("filters", 24, 20, "no_boxed_answer", 3),
        ("filters", 24, 20, "repetition", 1),
        ("decontam", 20, 20, None, 0),
    ]
    return pa.table(
        {
            "step": [r[0] for r in rows],
            "unit": ["traces"] * len(rows),
            "rows_in": [r[1] for r in rows],
            "rows_out": [r[2] for r in rows],
            "reason": [r[3] for r in rows],
            "count": [r[4] for r in rows],
        }
    )


def _decontam() -> pa.Table:
    return pa.table(
        {
            "benchmark": ["aime24", "math500"],
            "items": [30, 500],
            "matched": [0, 1],
            "examples": [
                json.dumps([]),
                json.dumps(
                    [
                        {
                            "problem_id": "p9",
                            "problem": "Compute 9+0.",
                            "benchmark_item": "Compute 9+0 now.",
                            "shared": ["compute 9 0"],
                        }
                    ]
                ),
            ],
            "n_gram": [13, 13],
        }
    )
