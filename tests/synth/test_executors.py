"""synth/executors.py: datatrove executors for shard workers. The local executor runs end to end in
test_openai_generate.py; here, the Slurm/Ray side up to submission, and the worker step itself."""

from __future__ import annotations

import importlib.util
import pickle

import pytest

from lakehouse.errors import UserError
from lakehouse.sql import connect
from sampling.config import OpenAIConfig
from synth.config import GenerateConfig
from synth.executors import ShardWorker, build_executor, logging_dir
from synth.problems import ProblemsConfig
from synth.problems import main as make_problems
from tests.helpers.chat_server import ChatServer


def test_slurm_executor_is_built_with_the_shard_worker(tmp_path):
    from datatrove.executor import SlurmPipelineExecutor

    cfg = GenerateConfig(lake=tmp_path / "lake", run="big", executor="slurm", tasks=16, slurm_partition="gpu")
    cfg.gpus_per_task = 8
    executor = build_executor(cfg)
    assert isinstance(executor, SlurmPipelineExecutor)
    assert (executor.tasks, executor.partition, executor.gpus_per_task) == (16, "gpu", 8)
    assert executor.skip_completed is False
    assert str(logging_dir(cfg)) == str(tmp_path.resolve() / "lake" / "_executor" / "run=big")
    [step] = executor.pipeline
    assert pickle.loads(pickle.dumps(step)).cfg == cfg  # what Slurm ships to the array tasks


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"executor": "spark"}, "--executor 'spark': choose one of none, local, slurm, ray"),
        ({"executor": "local", "tasks": 0}, "--tasks must be >= 1, got 0"),
        ({"executor": "local", "tasks": 2, "shard": (1, 2)}, "--shard and --executor exclude each other"),
        ({"executor": "slurm", "tasks": 2}, "--executor slurm needs --slurm-partition"),
        pytest.param(
            {"executor": "ray", "tasks": 2},
            "--executor ray needs ray installed (pip install ray): ray",
            # `make test-cluster` installs ray into the venv; the message is for a venv without it
            marks=pytest.mark.skipif(importlib.util.find_spec("ray") is not None, reason="ray is installed"),
        ),
    ],
)
def test_bad_executor_options_are_user_errors(tmp_path, changes, message):
    cfg = GenerateConfig(lake=tmp_path / "lake", **changes)
    with pytest.raises(UserError) as err:
        build_executor(cfg)
    assert str(err.value).startswith(message)


def test_shard_worker_runs_its_slice_only(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    lake = tmp_path / "lake"
    make_problems(ProblemsConfig(lake=lake, source="builtin:arith", n=30, seed=5))
    with ChatServer() as server:
        openai = OpenAIConfig(base_url=server.base_url)
        cfg = GenerateConfig(lake=lake, teacher="openai:tiny", openai=openai, samples=2, run="s")
        cfg.max_tokens = 32
        assert list(ShardWorker(cfg)(None, rank=1, world_size=3)) == []
    pids = [
        r[0]
        for r in connect(lake).execute("SELECT DISTINCT problem_id FROM traces WHERE run = 's'").fetchall()
    ]
    assert pids and all(int(p[:8], 16) % 3 == 1 for p in pids)  # the loop's shard rule, slice 1 of 3
    assert sorted(p.name for p in (lake / "runs").glob("s.*.json")) == ["s.shard-1-of-3.json"]
