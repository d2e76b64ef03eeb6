"""`curate run` is the list STEPS, run in order over the lake's problems and traces, ending in the views.

Each step has the one shape of curate/step.py: a name, a unit (problem | trace), a cache key and a run
returning its drops. `curate run` verifies new traces (curate/verify.py, which writes the `verdicts`
input), runs every step and builds the views; the single-step commands run their steps of the same list
alone; the funnel has one line per step (plus the views' lines) and the cache of `curate run` is the
keys of its steps. Adding a step is one class and one entry here.

Incremental: a step's cached results are reused under the same key (decontamination and the filters
look only at rows they have not seen); the funnel and the views are recomputed from them (SQL), and
nothing is rewritten when no input or setting changed since the last run.

Lake tables written: dedup, decontam, decontam_report, trace_hashes, trace_checks (the steps),
drops, funnel, views/<stage>.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone

import pyarrow as pa
from rich.console import Console

from curate import views
from curate.config import CurateConfig, check
from curate.funnel import Funnel, render
from curate.problem_steps import Decontam, ExactDedup, NearDedup
from curate.stage_views import StageViews
from curate.state import State, cache_key, snapshot
from curate.step import Context, Step, run_steps
from curate.trace_steps import Filters, ProblemGone, TraceDedup, Verified
from curate.verify import NEEDS_TRACES
from lakehouse.store import Lake, atomic_write_bytes, existing_lake

STEPS: list[Step] = [
    ExactDedup(),  # problem rows whose normalised text repeats an earlier row's
    NearDedup(),  # MinHash near-duplicates (datatrove)
    Decontam(),  # n-gram overlap with the benchmarks
    ProblemGone(),  # traces of the problems dropped above
    TraceDedup(),  # the same assistant text twice for one problem
    Verified(),  # traces `curate verify` has not seen
    Filters(),  # finish reason, boxed answer, reasoning, length, repetition
]
VIEWS = StageViews()  # the sink: mid, sft, dpo, rl from the rows left
VIEW_FILE = ".view.json"  # hidden, like the manifest, so `datasets` reads only the shards


def steps_named(*names: str, steps: list[Step] = STEPS) -> list[Step]:
    return [s for s in steps if s.name in names]


# -- commands ------------------------------------------------------------------------------------------
def main(cfg: CurateConfig, steps: list[Step] = STEPS) -> None:
    """`curate run` (`curate views` without verification), holding the lake's writer lock throughout:
    verification and every step read the lake and write what they derived from it."""
    check(cfg)
    lake = existing_lake(cfg.lake, hint=NEEDS_TRACES)
    with lake.writer("curate run" if cfg.verify else "curate views"):
        _main(cfg, lake, steps)


def _main(cfg: CurateConfig, lake: Lake, steps: list[Step]) -> None:
    console = Console(stderr=False)
    if cfg.verify:
        _verify(cfg)  # prints its own summary line
    ctx = Context(lake, cfg, State(lake))
    ctx.require("problems", "traces", "verdicts")  # before any step writes
    key = run_key(ctx, steps)
    if ctx.state.get("run") == key and lake.has("funnel"):
        console.print(render(lake.read("funnel")))
        print("curate run: nothing new since the last run; views unchanged")
        return
    funnel, drops = run_steps(steps, ctx)
    built = VIEWS.build(ctx, funnel)
    write_outputs(lake, cfg, built, funnel, drops, key)
    ctx.state.set("run", key)
    console.print(render(funnel.to_table()))
    print(summary(built))


def run_key(ctx: Context, steps: list[Step]) -> str:
    """What the views depend on: the inputs and every step's key (and the views' settings)."""
    keys = [(s.name, s.key(ctx)) for s in steps] + [(VIEWS.name, VIEWS.key(ctx))]
    return cache_key("run-v4", snapshot(ctx.lake), keys)


def dedup_main(cfg: CurateConfig) -> None:
    """`curate dedup`: problem dedup only (exact + near-duplicates); near-duplicates cached as "dedup"."""
    _, funnel, _ = _run_alone(cfg, "exact_dedup", "near_dedup")
    exact, near = funnel.steps
    print(
        f"curate dedup: {exact.rows_in:,} problems, {exact.reasons['exact_dup']:,} exact duplicates, "
        f"{near.reasons['near_dup']:,} near-duplicates dropped"
    )


def decontam_main(cfg: CurateConfig) -> None:
    """`curate decontam`: n-gram overlap with the benchmarks; per-benchmark report in "decontam_report"."""
    ctx, _, drops = _run_alone(cfg, "decontam")
    report = ctx.lake.read("decontam_report")
    for r in report.to_pylist():
        print(f"  {r['benchmark']}: {r['items']:,} items, {r['matched']:,} training problems matched")
    print(
        f"curate decontam: {ctx.problems().num_rows:,} problems checked against {report.num_rows} benchmarks "
        f"({cfg.decontam.n_gram}-grams), {len(set(drops.column('id').to_pylist())):,} contaminated"
    )


def filter_main(cfg: CurateConfig) -> None:
    """`curate filter`: run the trace filters on traces not checked yet; stored as "trace_checks"."""
    _, funnel, _ = _run_alone(cfg, "filters")
    (step,) = funnel.steps
    detail = ", ".join(f"{k}={v:,}" for k, v in step.reasons.most_common()) or "none"
    print(f"curate filter: {step.rows_in:,} traces checked, failing: {detail}")


def views_main(cfg: CurateConfig) -> None:
    """`curate views`: every step as needed (cached), then the four views and the funnel."""
    main(dataclasses.replace(cfg, verify=False))


def _run_alone(cfg: CurateConfig, *names: str) -> tuple[Context, Funnel, pa.Table]:
    """Steps of the list by themselves, over every row of the lake (nothing else is written)."""
    check(cfg)
    lake = existing_lake(cfg.lake, hint=NEEDS_TRACES)
    ctx = Context(lake, cfg, State(lake))
    with lake.writer(f"curate {'/'.join(names)}"):
        funnel, drops = run_steps(steps_named(*names), ctx)
    return ctx, funnel, drops


# -- outputs ---------------------------------------------------------------------------------------------
def write_outputs(
    lake: Lake, cfg: CurateConfig, built: dict[str, pa.Table], funnel: Funnel, drops: pa.Table, key: str
) -> None:
    inputs = snapshot(lake)
    problems = lake.read("problems", columns=["problem_id", "problem"])
    text = dict(zip(problems["problem_id"].to_pylist(), problems["problem"].to_pylist(), strict=True))
    for stage, table in built.items():
        lake.replace(f"views/{stage}", [table])
        record = {
            "view": stage,
            "rows": table.num_rows,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "run_key": key,
            "params": {**_params(cfg, stage), "prompts": views.prompt_templates(stage, table, text)},
            "inputs": inputs,
        }
        atomic_write_bytes(
            lake.path(f"views/{stage}") / VIEW_FILE, json.dumps(record, indent=1, default=str).encode()
        )
    lake.replace("drops", [drops])
    lake.replace("funnel", [funnel.to_table()])


def _params(cfg: CurateConfig, stage: str) -> dict:
    prefix = {"mid": (), "sft": ("sft_",), "dpo": ("dpo_",), "rl": ("rl_",)}[stage]
    view_params = {k: v for k, v in dataclasses.asdict(cfg.views).items() if k.startswith(prefix)}
    return {
        "views": view_params,
        "filters": dataclasses.asdict(cfg.filters),
        "dedup": {
            k: v
            for k, v in dataclasses.asdict(cfg.dedup).items()
            if k not in ("executor", "tasks", "workers")
        },
        "decontam": {
            **{
                k: v
                for k, v in dataclasses.asdict(cfg.decontam).items()
                if k not in ("benchmarks", "examples")
            },
            "benchmarks": [b.name for b in cfg.decontam.benchmark_sets()],  # names, not this machine's paths
        },
    }


def summary(built: dict[str, pa.Table]) -> str:
    sizes = ", ".join(f"{stage} {t.num_rows:,}" for stage, t in built.items())
    return f"curate run: views written ({sizes} rows); funnel stored in table 'funnel'"


def _verify(cfg: CurateConfig):
    from curate.verify import VerifyConfig
    from curate.verify import main as verify_main

    return verify_main(VerifyConfig(lake=cfg.lake, progress=cfg.progress))
