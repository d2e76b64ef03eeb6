"""`train eval --executor local|slurm|ray --tasks N`: the N shards (`--shard i/N`, i = the task's rank) on
datatrove's executors, then the merge (`--merge N`) in this process, as synth/executors.py does for
generation. Each shard appends its responses to the lake in one write; the merge checks all N are there.

Every task is re-run on a rerun (datatrove's skip-completed marker is off): a shard whose responses are
already in the lake returns at once, so re-running the same command after a lost task samples only the
missing shards, and the merge then writes the row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from scale import build_executor as build
from scale import resources_from, run_to_completion
from train.eval import EvalConfig, EvalResult, eval_run, load_benchmark, model_identity, protocol_for


@dataclass
class ShardWorker:
    """A datatrove pipeline step: shard `rank` of `world_size` of this evaluation. Picklable, so the Slurm
    and Ray executors can ship it to other machines."""

    cfg: EvalConfig

    def __call__(self, data: Iterable | None, rank: int = 0, world_size: int = 1) -> Iterable:
        from train.eval import main

        main(replace(self.cfg, shard=(rank, world_size), executor="none", tasks=1, progress=False))
        return data or []


def logging_dir(cfg: EvalConfig, run: str) -> Path:
    """datatrove's logs for an evaluation live in the lake, under its id."""
    return Path(cfg.lake).resolve() / "_executor" / f"eval={run}"


def run_sharded(cfg: EvalConfig) -> EvalResult:
    """Run the shard tasks (scale.run_to_completion: one that did not complete is a UserError that says to
    re-run the same command), then merge."""
    from problemsets.registry import resolve
    from train.eval_merge import merge

    loaded = [(b, protocol_for(cfg, b), load_benchmark(cfg, b)) for b in resolve(cfg.benchmark)]
    run = eval_run(cfg, loaded, model_identity(cfg), cfg.tasks)
    resources = resources_from(cfg, job_name=f"eval-{run}")
    executor = build(
        cfg.executor, [ShardWorker(cfg)], cfg.tasks, logging_dir(cfg, run), resources, skip_completed=False
    )
    print(run_to_completion(executor, cfg.executor, cfg.tasks, f"eval run {run}"))
    return merge(replace(cfg, merge=cfg.tasks, executor="none"))
