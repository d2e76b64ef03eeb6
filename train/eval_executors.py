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

from lakehouse.errors import UserError
from scale import Resources, completed, wait_slurm
from scale import build_executor as build
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
    """Run the shard tasks (on Slurm: submit, then wait for the array job to leave the queue), then merge.
    A task that did not complete is a UserError that says to re-run the same command."""
    from problemsets.registry import resolve

    loaded = [(b, protocol_for(cfg, b), load_benchmark(cfg, b)) for b in resolve(cfg.benchmark)]
    run = eval_run(cfg, loaded, model_identity(cfg), cfg.tasks)
    where = logging_dir(cfg, run)
    resources = Resources(
        workers=cfg.workers,
        cpus_per_task=cfg.cpus_per_task,
        gpus_per_task=cfg.gpus_per_task,
        slurm_partition=cfg.slurm_partition,
        slurm_time=cfg.slurm_time,
        slurm_qos=cfg.slurm_qos,
        job_name=f"eval-{run}",
    )
    executor = build(cfg.executor, [ShardWorker(cfg)], cfg.tasks, where, resources, skip_completed=False)
    executor.run()
    engine = {"slurm": "Slurm", "ray": "Ray"}.get(cfg.executor, "the local executor")
    done = wait_slurm(executor) if cfg.executor == "slurm" else completed(where, cfg.tasks)
    job = f" (job {executor.job_id})" if cfg.executor == "slurm" else ""
    if done < cfg.tasks:
        raise UserError(
            f"{cfg.tasks - done} of {cfg.tasks} shard tasks of eval run {run} did not complete on {engine}{job}; "
            f"logs in {where}; re-run the same command to finish them"
        )
    print(f"ran {cfg.tasks} shard tasks of eval run {run} on {engine}{job}; logs in {where}")
    from train.eval_merge import merge

    return merge(replace(cfg, merge=cfg.tasks, executor="none"))
