"""scale/executors.py: one factory for datatrove's local, Slurm and Ray executors. The local executor
runs a pipeline end to end here; Slurm and Ray are built here and run for real in tests/cluster."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import pytest

from lakehouse.errors import UserError
from scale import Resources, build_executor


def write_rank(folder: str, data, rank: int = 0, world_size: int = 1):
    """A pipeline step: each rank leaves one file saying who it was."""
    Path(folder, f"{rank}-of-{world_size}").touch()
    return data or []


def test_local_executor_runs_every_rank(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    executor = build_executor("local", [functools.partial(write_rank, str(out))], 3, tmp_path / "logs")
    executor.run()
    assert sorted(p.name for p in out.iterdir()) == ["0-of-3", "1-of-3", "2-of-3"]
    assert sorted(p.name for p in (tmp_path / "logs" / "completions").iterdir()) == [
        "00000",
        "00001",
        "00002",
    ]


def test_local_workers_are_capped_at_the_tasks(tmp_path):
    assert build_executor("local", [], 2, tmp_path, Resources(workers=8)).workers == 2
    assert build_executor("local", [], 5, tmp_path, Resources(workers=-1)).workers == 5
    assert build_executor("local", [], 5, tmp_path, Resources(workers=2)).workers == 2


def test_slurm_executor_carries_the_resources_and_the_dependency(tmp_path):
    from datatrove.executor import SlurmPipelineExecutor

    res = Resources(
        cpus_per_task=4, gpus_per_task=8, slurm_partition="gpu", slurm_time="1:00:00", job_name="j"
    )
    first = build_executor("slurm", [], 2, tmp_path / "a", res)
    second = build_executor("slurm", [], 16, tmp_path / "b", res, depends=first, skip_completed=False)
    assert isinstance(second, SlurmPipelineExecutor)
    got = (second.tasks, second.partition, second.time, second.cpus_per_task, second.gpus_per_task)
    assert got == (16, "gpu", "1:00:00", 4, 8)
    assert (second.job_name, second.depends, second.skip_completed) == ("j", first, False)


@pytest.mark.parametrize(
    ("kind", "tasks", "resources", "message"),
    [
        ("spark", 1, Resources(), "unknown executor 'spark' (use local, slurm or ray)"),
        ("local", 0, Resources(), "--tasks must be >= 1, got 0"),
        ("slurm", 2, Resources(), "--executor slurm needs a partition"),
        pytest.param(
            "ray", 2, Resources(), "--executor ray needs ray installed (pip install ray): ray",
            marks=pytest.mark.skipif(importlib.util.find_spec("ray") is not None, reason="ray is installed"),
        ),
    ],
)  # fmt: skip
def test_bad_options_are_user_errors(tmp_path, kind, tasks, resources, message):
    with pytest.raises(UserError) as err:
        build_executor(kind, [], tasks, tmp_path, resources)
    assert str(err.value) == message
