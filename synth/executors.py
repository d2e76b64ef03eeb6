"""Where `synth generate` runs: `--executor local|slurm|ray --tasks N` runs N shard workers
(`--shard i/N`, i = the task's rank) through datatrove's executors. What runs is the same
`synth.generate.main`; each shard has its own journal and writes its own lake shards, so the
workers never collide, and a rerun of the same command finishes whatever a worker left undone.

Every task is re-run on a rerun (datatrove's skip-completed marker is off): a finished shard
has nothing missing and returns at once, while a shard that recorded errors retries them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from lakehouse.errors import UserError
from scale import EXECUTORS, resources_from, run_to_completion
from scale import build_executor as build
from synth.config import GenerateConfig


@dataclass
class ShardWorker:
    """A datatrove pipeline step: run this run's shard `rank` of `world_size`. Picklable, so the
    Slurm and Ray executors can ship it to other machines."""

    cfg: GenerateConfig

    def __call__(self, data: Iterable | None, rank: int = 0, world_size: int = 1) -> Iterable:
        from datatrove.utils.logging import logger

        from synth.generate import main

        cfg = replace(self.cfg, shard=(rank, world_size), executor="none", tasks=1, progress=False)
        summary = main(cfg)
        logger.info(f"shard {rank}/{world_size}: {summary.line()}")
        if summary.stopped == "interrupted":
            raise RuntimeError(f"shard {rank}/{world_size} was interrupted")
        return data or []


def logging_dir(cfg: GenerateConfig) -> Path:
    """datatrove's logs and stats for a run live in the lake, beside the run's journals."""
    return Path(cfg.lake).resolve() / "_executor" / f"run={cfg.run}"


def build_executor(cfg: GenerateConfig):
    """The datatrove executor for cfg.executor, with one ShardWorker step."""
    if cfg.executor not in EXECUTORS:
        raise UserError(f"--executor {cfg.executor!r}: choose one of none, {', '.join(EXECUTORS)}")
    if cfg.shard != (0, 1):
        raise UserError("--shard and --executor exclude each other: the executor assigns the shards")
    if cfg.executor == "slurm" and not cfg.slurm_partition:
        raise UserError("--executor slurm needs --slurm-partition")
    resources = resources_from(cfg, job_name=f"synth-{cfg.run}")
    # every task reruns: a finished shard returns at once, one that recorded errors retries them
    return build(
        cfg.executor, [ShardWorker(cfg)], cfg.tasks, logging_dir(cfg), resources, skip_completed=False
    )


def run_sharded(cfg: GenerateConfig) -> str:
    """Run the N shard workers and return the one-line summary (scale.run_to_completion: a task that did
    not complete is a UserError that says to re-run; the same command finishes exactly the missing units)."""
    return run_to_completion(build_executor(cfg), cfg.executor, cfg.tasks, f"run {cfg.run}")
