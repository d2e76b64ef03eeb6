"""`curate run` and the single-step commands: verify -> problem stats -> dedup -> decontam -> filters -> views.

Incremental: verification (curate.verify), decontamination and the filters keep per-row results in the
lake and only look at rows they have not seen under the same settings; near-duplicate detection reruns
only when the problems change; the funnel and the views are recomputed from those results (SQL), and
nothing is rewritten when no input or setting changed since the last run.

Lake tables written: dedup, decontam, decontam_report, trace_checks (steps.py), drops, funnel, views/<stage>.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from datetime import datetime, timezone

from rich.console import Console

from curate.assemble import Result, curate
from curate.config import CurateConfig
from curate.funnel import render
from curate.state import State, run_key
from curate.steps import (
    contaminated,
    open_lake,
    read_problems,
    read_traces,
    update_decontam,
    update_dedup,
    update_filters,
)
from lakehouse.store import Lake, atomic_write_bytes

VIEW_FILE = ".view.json"  # hidden, like the manifest, so `datasets` reads only the shards


# -- commands ------------------------------------------------------------------------------------------
def main(cfg: CurateConfig) -> None:
    """`curate run`."""
    console = Console(stderr=False)
    lake = open_lake(cfg.lake)
    if cfg.verify:
        _verify(cfg)  # prints its own summary line
    state = State(lake)
    key = run_key(lake, cfg)
    if state.get("run") == key and lake.has("funnel"):
        console.print(render(lake.read("funnel")))
        print("curate run: nothing new since the last run; views unchanged")
        return
    result = curate(lake, cfg, state)
    write_outputs(lake, cfg, result, key)
    state.set("run", key)
    console.print(render(result.funnel.to_table()))
    print(summary(result))


def dedup_main(cfg: CurateConfig) -> None:
    """`curate dedup`: problem dedup only (exact + near-duplicates), stored as lake table "dedup"."""
    lake = open_lake(cfg.lake)
    problems = read_problems(lake)
    drops = update_dedup(lake, problems, cfg, State(lake))
    reasons = Counter(drops.column("reason").to_pylist())
    print(
        f"curate dedup: {problems.num_rows:,} problems, {reasons['exact_dup']:,} exact duplicates, "
        f"{reasons['near_dup']:,} near-duplicates dropped"
    )


def decontam_main(cfg: CurateConfig) -> None:
    """`curate decontam`: n-gram overlap with the benchmarks; per-benchmark report in "decontam_report"."""
    lake = open_lake(cfg.lake)
    problems = read_problems(lake)
    matches = update_decontam(lake, problems, cfg, State(lake))
    report = lake.read("decontam_report")
    for r in report.to_pylist():
        print(f"  {r['benchmark']}: {r['items']:,} items, {r['matched']:,} training problems matched")
    print(
        f"curate decontam: {problems.num_rows:,} problems checked against {report.num_rows} benchmarks "
        f"({cfg.decontam.n_gram}-grams), {contaminated(matches).num_rows:,} contaminated"
    )


def filter_main(cfg: CurateConfig) -> None:
    """`curate filter`: run the trace filters on traces not checked yet; stored as "trace_checks"."""
    lake = open_lake(cfg.lake)
    traces = read_traces(lake)
    checks = update_filters(lake, traces, cfg, State(lake))
    reasons = Counter(r for r in checks.column("reason").to_pylist() if r)
    detail = ", ".join(f"{k}={v:,}" for k, v in reasons.most_common()) or "none"
    print(f"curate filter: {checks.num_rows:,} traces checked, failing: {detail}")


def views_main(cfg: CurateConfig) -> None:
    """`curate views`: dedup/decontam/filters as needed (cached), then the four views and the funnel."""
    cfg = dataclasses.replace(cfg, verify=False)
    main(cfg)


# -- outputs ---------------------------------------------------------------------------------------------
def write_outputs(lake: Lake, cfg: CurateConfig, result: Result, key: str) -> None:
    for stage, table in result.views.items():
        lake.replace(f"views/{stage}", [table])
        record = {
            "view": stage,
            "rows": table.num_rows,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "run_key": key,
            "params": _params(cfg, stage),
            "inputs": result.inputs,
        }
        atomic_write_bytes(
            lake.path(f"views/{stage}") / VIEW_FILE, json.dumps(record, indent=1, default=str).encode()
        )
    lake.replace("drops", [result.drops])
    lake.replace("funnel", [result.funnel.to_table()])


def _params(cfg: CurateConfig, stage: str) -> dict:
    prefix = {"mid": (), "sft": ("sft_",), "dpo": ("dpo_",), "rl": ("rl_",)}[stage]
    view_params = {
        k: v for k, v in dataclasses.asdict(cfg.views).items() if k == "instruction" or k.startswith(prefix)
    }
    return {
        "views": view_params,
        "filters": dataclasses.asdict(cfg.filters),
        "dedup": {
            k: v
            for k, v in dataclasses.asdict(cfg.dedup).items()
            if k not in ("executor", "tasks", "workers")
        },
        "decontam": {
            "n_gram": cfg.decontam.n_gram,
            "benchmarks": [str(p) for p in cfg.decontam.benchmark_files()],
        },
    }


def summary(result: Result) -> str:
    sizes = ", ".join(f"{stage} {t.num_rows:,}" for stage, t in result.views.items())
    return f"curate run: views written ({sizes} rows); funnel stored in table 'funnel'"


def _verify(cfg: CurateConfig):
    from curate.verify import VerifyConfig
    from curate.verify import main as verify_main

    return verify_main(VerifyConfig(lake=cfg.lake, progress=cfg.progress))
