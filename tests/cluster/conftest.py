"""Real clusters on this machine for the `cluster` tests: Slurm (scripts/slurm-local.sh) and Ray
(scripts/ray-local.sh). `make test-cluster` starts them before pytest and stops them after; run alone,
a fixture starts what is not running and stops only what it started."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pyarrow.compute as pc
import pytest

from lakehouse.store import Lake
from tests.conftest import BIN, FIXTURES, ROOT, cli

STARTED: list[subprocess.Popen] = []  # CLIs a test started in the background (see `track`)


def track(proc: subprocess.Popen) -> subprocess.Popen:
    STARTED.append(proc)
    return proc


@pytest.fixture(autouse=True)
def _no_leftover_commands():
    """A failing test must not leave its `synth`/`curate` command running against the clusters."""
    yield
    while STARTED:
        proc = STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _script(name: str, *args: str) -> subprocess.CompletedProcess:
    # this environment's ray CLI whatever PATH says; PATH's when ray lives outside the venv (pip --target)
    ray = BIN / "ray"
    env = {**os.environ, "RAY": str(ray) if ray.exists() else "ray"}
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / name), *args], capture_output=True, text=True, env=env
    )


@pytest.fixture(scope="session")
def slurm():
    """SLURM_CONF set for this process (and so for the CLIs it starts); the partition is `local`."""
    if not shutil.which("slurmctld"):
        pytest.skip("Slurm is not installed: scripts/slurm-local.sh install (or make test-cluster)")
    was_up = _script("slurm-local.sh", "status").returncode == 0
    started = _script("slurm-local.sh", "start")
    assert started.returncode == 0, started.stdout + started.stderr
    os.environ["SLURM_CONF"] = started.stdout.strip().split("=", 1)[1]
    yield "local"
    if not was_up:
        _script("slurm-local.sh", "stop")


def squeue(name: str) -> list[tuple[str, str]]:
    """(job id, state) of the queued tasks of jobs called `name`: array tasks appear as JOB_TASK."""
    out = subprocess.run(
        ["squeue", "-h", "-n", name, "-o", "%i %t"], capture_output=True, text=True, check=True
    )
    return [tuple(line.split()) for line in out.stdout.splitlines() if line.strip()]


def shard_of(problem_id: str, n: int) -> int:
    """synth.generate.select_problems' bucket rule, restated so the test does not trust the code under test."""
    return int(problem_id[:8], 16) % n


def units(lake: Path, run: str) -> list[tuple[str, int]]:
    """Every committed (problem_id, sample_idx) of `run`, duplicates included."""
    t = Lake(lake).read("traces")
    t = t.filter(pc.equal(t.column("run"), run))
    return list(zip(t.column("problem_id").to_pylist(), t.column("sample_idx").to_pylist(), strict=True))


def manifest_matches_disk(lake: Path, table: str) -> tuple[set[str], set[str]]:
    """(shards on disk, shards in the manifest): equal when no writer's manifest update was lost (a lost
    update leaves a committed parquet file that no manifest lists)."""
    root = Lake(lake).path(table)
    on_disk = {str(p.relative_to(root)) for p in root.rglob("part-*.parquet")}
    listed = {s["file"] for s in Lake(lake).manifest(table)["shards"]}
    return on_disk, listed


@pytest.fixture(scope="session")
def ray_cluster():
    """A local Ray head (scripts/ray-local.sh) whose address is in RAY_ADDRESS for this process and the
    CLIs it starts; workers inherit this environment (PYTHONPATH included)."""
    pytest.importorskip("ray", reason="ray is not installed: pip install ray (or make test-cluster)")
    was_up = _script("ray-local.sh", "status").returncode == 0
    started = _script("ray-local.sh", "start")
    assert started.returncode == 0, started.stdout + started.stderr
    os.environ["RAY_ADDRESS"] = started.stdout.strip().split("=", 1)[1]
    yield os.environ["RAY_ADDRESS"]
    if not was_up:
        _script("ray-local.sh", "stop")


def holder_of(path: Path) -> int | None:
    """The pid of the process that has `path` open (the journal lock a shard worker holds), from /proc."""
    target = str(path.resolve())
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) == target for fd in (proc / "fd").iterdir()):
                return int(proc.name)
        except OSError:  # the process ended or is not ours to read
            continue
    return None


def start_synth(lake: Path, base_url: str, run: str, samples: int, *executor: str) -> subprocess.Popen:
    """`synth generate` against the test chat server, one request at a time, on the given executor."""
    cmd = [cli("synth"), "generate", "--lake", str(lake), "--teacher", "openai:tiny", "--base-url", base_url]
    cmd += ["--max-tokens", "32", "--no-progress", "--samples", str(samples), "--concurrency", "1"]
    cmd += ["--run", run, *executor]
    env = {**os.environ, "OPENAI_API_KEY": "sk-test"}
    return track(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))


def dedup_lakes(tmp_path: Path, rollouts: bool = True) -> tuple[Path, Path]:
    """A lake with real near-duplicate pairs (tests/fixtures) among builtin problems, and a copy of it for
    the local executor's reference run: (lake, local copy). `rollouts`: 2 procedural samples per problem
    (what `curate run` needs; `curate dedup` alone does not)."""
    from synth.problems import ProblemsConfig
    from synth.problems import main as make_problems

    lake = tmp_path / "lake"
    for source in (str(FIXTURES / "near_duplicates_realdata.jsonl"), "builtin:arith"):
        make_problems(ProblemsConfig(lake=lake, source=source, n=20, seed=3))
    if rollouts:
        subprocess.run(
            [cli("synth"), "generate", "--lake", str(lake), "--teacher", "procedural", "--samples", "2", "--no-progress"],
            check=True, capture_output=True,
        )  # fmt: skip
    local = tmp_path / "local"
    shutil.copytree(lake, local)
    return lake, local
