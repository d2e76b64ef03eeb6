"""`--executor local|slurm|ray`: the datatrove executor that runs a pipeline's `tasks` ranks.

What runs (the pipeline: datatrove steps or plain callables) is the caller's; this module only picks
where. It knows datatrove and nothing above it, so synth and curate scale out the same way.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, fields
from pathlib import Path

from lakehouse.errors import UserError

EXECUTORS = ("local", "slurm", "ray")


@dataclass
class Resources:
    """What each task gets and how many run at once; the Slurm fields matter to Slurm only."""

    workers: int = -1  # tasks running at once; -1: all of them (local) / no limit (slurm, ray)
    cpus_per_task: int = 1
    gpus_per_task: int = 0
    slurm_partition: str | None = None
    slurm_time: str = "2:00:00"
    slurm_qos: str = ""  # "": the partition's default QOS (datatrove would otherwise ask for "normal")
    mem_per_cpu_gb: int = 2
    job_name: str = "minireason"


def build_executor(
    kind: str,
    pipeline: list,
    tasks: int,
    logging_dir: Path,
    resources: Resources | None = None,
    depends=None,
    skip_completed: bool = True,
):
    """A datatrove executor of `kind` for `pipeline` over `tasks` ranks, logging under `logging_dir`;
    `depends` (an executor of the same kind) runs first. Nothing starts until `.run()`."""
    res = resources or Resources()
    if kind not in EXECUTORS:
        raise UserError(f"unknown executor {kind!r} (use local, slurm or ray)")
    if tasks < 1:
        raise UserError(f"--tasks must be >= 1, got {tasks}")
    common = dict(
        pipeline=pipeline,
        tasks=tasks,
        logging_dir=str(logging_dir),
        depends=depends,
        skip_completed=skip_completed,
    )
    if kind == "local":
        from datatrove.executor import LocalPipelineExecutor

        return LocalPipelineExecutor(**common, workers=min(res.workers, tasks) if res.workers > 0 else tasks)
    if kind == "slurm":
        from datatrove.executor import SlurmPipelineExecutor

        if not res.slurm_partition:
            raise UserError("--executor slurm needs a partition")
        return SlurmPipelineExecutor(
            **common,
            partition=res.slurm_partition,
            time=res.slurm_time,
            cpus_per_task=res.cpus_per_task,
            gpus_per_task=res.gpus_per_task,
            mem_per_cpu_gb=res.mem_per_cpu_gb,
            qos=res.slurm_qos,
            workers=res.workers,
            job_name=res.job_name,
            env_command=_same_python(),
        )
    try:
        import ray  # noqa: F401  (optional; datatrove would only import it once the run starts)
    except ImportError as e:
        raise UserError(f"--executor ray needs ray installed (pip install ray): {e.name or e}") from None
    from datatrove.executor import RayPipelineExecutor

    return RayPipelineExecutor(
        **common, workers=res.workers, cpus_per_task=res.cpus_per_task, gpus_per_task=res.gpus_per_task
    )


def resources_from(cfg, job_name: str) -> Resources:
    """A command's executor settings, from its config fields of the same names (synth, train eval)."""
    given = {f.name: getattr(cfg, f.name) for f in fields(Resources) if hasattr(cfg, f.name)}
    return Resources(**{**given, "job_name": job_name})


def run_to_completion(executor, kind: str, tasks: int, what: str) -> str:
    """Run the executor's tasks (on Slurm: submit, then wait for the array job to leave the queue) and
    return the one-line summary. A task that did not complete (cancelled, failed, node lost, and on Ray also
    after datatrove's own resubmissions of a crashed worker) is a UserError that says to re-run: the same
    command finishes exactly what is missing."""
    executor.run()
    where = executor.logging_dir.path
    engine = {"slurm": "Slurm", "ray": "Ray"}.get(kind, "the local executor")
    done = wait_slurm(executor) if kind == "slurm" else completed(where, tasks)
    job = f" (job {executor.job_id})" if kind == "slurm" else ""
    if done < tasks:
        raise UserError(
            f"{tasks - done} of {tasks} shard tasks of {what} did not complete on {engine}{job}; "
            f"logs in {where}; re-run the same command to finish them"
        )
    return f"ran {tasks} shard tasks of {what} on {engine}{job}; logs in {where}"


def _same_python() -> str:
    """The job runs datatrove's `launch_pickled_pipeline` with the interpreter that submitted it: its
    environment's bin/ goes first on PATH (on a real cluster that venv must be on the shared filesystem)."""
    return f"export PATH={shlex.quote(str(Path(sys.executable).parent))}:$PATH"


def wait_slurm(executor, poll_s: float = 2.0) -> int:
    """Block until the submitted array job (the last of a dependency chain) has left the queue; returns how
    many of its tasks completed (datatrove's completion markers). A cancelled or failed task is simply
    missing from that count: the caller reports it and a re-run of the same command finishes it."""
    job_ids = [j for j in str(executor.job_id or "").split(":") if j and j != "-1"]  # -1: nothing to run
    while job_ids and _queued(job_ids):
        time.sleep(poll_s)
    return completed(executor.logging_dir.path, executor.world_size)


def completed(logging_dir: str | Path, tasks: int) -> int:
    done = Path(logging_dir) / "completions"
    return sum((done / f"{rank:05d}").exists() for rank in range(tasks))


def _queued(job_ids: list[str]) -> bool:
    out = subprocess.run(
        ["squeue", "-h", "-o", "%i", "-j", ",".join(job_ids)], capture_output=True, text=True
    )
    # an unknown id (purged after MinJobAge) is an error with no output: nothing is queued any more
    return out.returncode == 0 and bool(out.stdout.strip())
