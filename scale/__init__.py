"""Where a datatrove pipeline runs: one executor factory for every package that scales out (synth, curate, train eval)."""

from scale.executors import (
    EXECUTORS,
    Resources,
    build_executor,
    completed,
    resources_from,
    run_to_completion,
    wait_slurm,
)

__all__ = [
    "EXECUTORS",
    "Resources",
    "build_executor",
    "completed",
    "resources_from",
    "run_to_completion",
    "wait_slurm",
]
