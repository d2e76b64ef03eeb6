"""The cached steps of `curate run`: problem dedup, decontamination and trace filters.

Each keeps its per-row results in the lake (tables dedup, decontam, trace_checks) with the key of the
settings and inputs they were computed under (state.py); decontamination and the filters only look at
rows they have not seen under the same key, dedup reruns only when the problems change.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import duckdb
import pyarrow as pa

from curate import decontam, filters
from curate.config import CurateConfig
from curate.dedup import exact_duplicates, near_duplicates
from curate.state import State, cache_key
from lakehouse.errors import UserError
from lakehouse.store import Lake

PDROPS = pa.schema(
    [("row", pa.int64()), ("problem_id", pa.string()), ("reason", pa.string()), ("kept_id", pa.string())]
)


_TRACE_COLUMNS = [
    "trace_id",
    "problem_id",
    "sample_idx",
    "reasoning",
    "completion",
    "finish_reason",
    "completion_tokens",
    "created_at",
    "error",
]


def update_dedup(lake: Lake, problems: pa.Table, cfg: CurateConfig, state: State) -> pa.Table:
    """PDROPS: exact duplicates (by row) then near-duplicates among the rest; recomputed only when the
    problems or the dedup settings change."""
    key = cache_key("dedup-v3", lake.manifest("problems")["shards"], dataclasses.asdict(cfg.dedup))
    if state.get("dedup") == key and lake.has("dedup"):
        return lake.read("dedup")
    con = duckdb.connect()
    con.register("p", problems.select(["row", "problem_id", "problem"]))
    exact = exact_duplicates(con, "p", "problem_id")
    rows = [
        {"row": r["row"], "problem_id": r["problem_id"], "reason": "exact_dup", "kept_id": r["kept_id"]}
        for r in exact.to_pylist()
    ]
    if cfg.dedup.near_dup:
        dropped = set(exact.column("row").to_pylist())
        rest = problems.filter(pa.array([r not in dropped for r in problems.column("row").to_pylist()]))
        near = near_duplicates(
            rest.select(["problem_id", "problem", "answer"]), cfg.dedup, lake.root / "_minhash_work"
        )
        row_of = dict(zip(rest.column("problem_id").to_pylist(), rest.column("row").to_pylist(), strict=True))
        rows += [
            {
                "row": row_of[r["problem_id"]],
                "problem_id": r["problem_id"],
                "reason": "near_dup",
                "kept_id": r["kept_id"],
            }
            for r in near.to_pylist()
        ]
    table = pa.Table.from_pylist(rows, schema=PDROPS)
    lake.replace("dedup", [table])
    state.set("dedup", key)
    return table


def update_decontam(lake: Lake, problems: pa.Table, cfg: CurateConfig, state: State) -> pa.Table:
    """decontam.MATCHES for every problem id checked (benchmark NULL when clean); only ids not checked
    under the same benchmarks and n are looked at."""
    benchmarks = [decontam.load_benchmark(b) for b in cfg.decontam.benchmark_sets()]
    key = decontam.config_key(benchmarks, cfg.decontam)
    fresh = state.get("decontam") != key
    checked = decontam.MATCHES.empty_table() if fresh else lake.read("decontam")
    seen = set(checked.column("problem_id").to_pylist())
    todo = _distinct_problems(problems, exclude=seen)
    if todo.num_rows or fresh:
        index = decontam.BenchmarkIndex(benchmarks, cfg.decontam.n_gram, cfg.decontam)
        new = _with_clean_rows(todo, decontam.find_contaminated(todo, index, cfg.progress))
        checked = pa.concat_tables([checked, new])
        lake.replace("decontam", [checked]) if fresh else lake.write("decontam", new)
        report = decontam.build_report(contaminated(checked), problems, benchmarks, cfg.decontam)
        lake.replace("decontam_report", [report])
        state.set("decontam", key)
    return checked


def update_filters(lake: Lake, traces: pa.Table, cfg: CurateConfig, state: State) -> pa.Table:
    """filters.CHECKS for every trace; only traces not checked under the same settings are looked at."""
    key = cache_key("filters-v2", dataclasses.asdict(cfg.filters))
    fresh = state.get("filters") != key
    checked = filters.CHECKS.empty_table() if fresh else lake.read("trace_checks")
    seen = set(checked.column("trace_id").to_pylist())
    ids = traces.column("trace_id").to_pylist()
    todo = traces.filter(pa.array([t not in seen for t in ids], pa.bool_()))
    if todo.num_rows or fresh:
        new = filters.check_traces(todo, cfg.filters, cfg.progress)
        checked = pa.concat_tables([checked, new])
        lake.replace("trace_checks", [checked]) if fresh else lake.write("trace_checks", new)
        state.set("filters", key)
    return checked


def open_lake(root: Path) -> Lake:
    lake = Lake(root, create=False)
    if not lake.root.is_dir():
        raise UserError(
            f"no lake at {root} (run `synth problems` and `synth generate` first, or pass --lake)"
        )
    return lake


def read_problems(lake: Lake) -> pa.Table:
    problems = lake.read("problems", columns=["problem_id", "problem", "answer", "level"])
    if problems.num_rows == 0:
        raise UserError(f"lake {lake.root} has no problems (run `synth problems` first)")
    return problems.append_column("row", pa.array(range(problems.num_rows), pa.int64()))


def read_traces(lake: Lake) -> pa.Table:
    traces = lake.read("traces", columns=_TRACE_COLUMNS)
    if traces.num_rows == 0:
        raise UserError(f"lake {lake.root} has no traces (run `synth generate` first)")
    return traces


def _distinct_problems(problems: pa.Table, exclude: set[str]) -> pa.Table:
    seen = set(exclude)
    keep = []
    for pid in problems.column("problem_id").to_pylist():
        keep.append(pid not in seen)
        seen.add(pid)
    return problems.filter(pa.array(keep, pa.bool_())).select(["problem_id", "problem"])


def _with_clean_rows(todo: pa.Table, found: pa.Table) -> pa.Table:
    """Every checked id gets a row (benchmark NULL when clean), so it is not checked again."""
    hit = set(found.column("problem_id").to_pylist())
    clean = [pid for pid in todo.column("problem_id").to_pylist() if pid not in hit]
    clean_rows = pa.table(
        {
            "problem_id": clean,
            "benchmark": pa.nulls(len(clean), pa.string()),
            "item": pa.nulls(len(clean), pa.int64()),
        },
        schema=decontam.MATCHES,
    )
    return pa.concat_tables([found, clean_rows])


def contaminated(matches: pa.Table) -> pa.Table:
    return matches.filter(matches.column("benchmark").is_valid())
