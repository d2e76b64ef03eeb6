"""synth and curate on a real local Ray cluster (`ray start --head` on 127.0.0.1 with the machine's CPUs)
through datatrove's RayPipelineExecutor: a shard worker's process is SIGKILLed mid-run, datatrove
resubmits the rank, and the lake holds exactly the expected (problem_id, sample_idx) set."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from lakehouse.store import Lake
from synth.problems import ProblemsConfig
from synth.problems import main as make_problems
from tests.cluster.conftest import holder_of, manifest_matches_disk, shard_of, start_synth, units
from tests.cluster.test_slurm import curate, curate_config, journaled, near_dup_drops, wait_for
from tests.conftest import FIXTURES, cli
from tests.helpers.chat_server import ChatServer

pytestmark = pytest.mark.cluster

TASKS, SAMPLES = 4, 2


def synth(lake: Path, server: ChatServer, run: str) -> subprocess.Popen:
    return start_synth(lake, server.base_url, run, SAMPLES, "--executor", "ray", "--tasks", str(TASKS))


def test_synth_on_ray_sigkill_one_worker_is_exactly_once(ray_cluster, tmp_path):
    lake = tmp_path / "lake"
    make_problems(ProblemsConfig(lake=lake, source="builtin:arith", n=16, seed=5))
    pids = Lake(lake).read("problems").column("problem_id").to_pylist()
    expected = {(p, s) for p in pids for s in range(SAMPLES)}
    victim = Counter(shard_of(p, TASKS) for p in pids).most_common(1)[0][0]
    journal_dir = lake / "_journal" / "run=r"
    journal, lock = (
        journal_dir / f"shard-{victim}-of-{TASKS}.jsonl",
        journal_dir / f".shard-{victim}-of-{TASKS}.lock",
    )
    with ChatServer(latency_s=0.5) as server:
        first = synth(lake, server, "r")
        wait_for(lambda: journaled(journal) >= 1, what=f"shard {victim}'s first journaled unit")
        rank = wait_for(lambda: holder_of(lock), what="the process holding the shard's journal")
        # datatrove runs a rank in a process pool inside a Ray actor: kill the worker (the actor, then the
        # pool process running the rank) — killing only the pool process leaves the actor waiting forever
        actor = int(Path(f"/proc/{rank}/stat").read_text().rsplit(")", 1)[1].split()[1])
        os.kill(actor, signal.SIGKILL)
        os.kill(rank, signal.SIGKILL)
        killed_at = journaled(journal)
        out, err = first.communicate(timeout=300)
        assert first.returncode == 0, out + err  # datatrove resubmitted the crashed rank
        assert "RayActorError" in err or "WorkerCrashedError" in err, err[-3000:]
        once = units(lake, "r")
        second = synth(lake, server, "r")  # a re-submit of the finished run changes nothing
        out, err = second.communicate(timeout=300)
        assert second.returncode == 0, out + err
    final = units(lake, "r")
    victim_units = sum(shard_of(p, TASKS) == victim for p, _ in expected)
    print(f"ray synth: expected {len(expected)}, victim shard had {killed_at}/{victim_units} journaled at SIGKILL, "
          f"final {len(final)}, duplicates {len(final) - len(set(final))}, missing {len(expected - set(final))}")  # fmt: skip
    assert killed_at < victim_units  # the kill landed mid-shard
    assert sorted(once) == sorted(final) == sorted(expected)
    on_disk, listed = manifest_matches_disk(lake, "traces")
    assert on_disk == listed


def test_curate_dedup_on_ray_matches_the_local_executor(ray_cluster, tmp_path):
    lake = tmp_path / "lake"
    for source in (str(FIXTURES / "near_duplicates_realdata.jsonl"), "builtin:arith"):
        make_problems(ProblemsConfig(lake=lake, source=source, n=20, seed=3))
    subprocess.run(
        [cli("synth"), "generate", "--lake", str(lake), "--teacher", "procedural", "--samples", "2", "--no-progress"],
        check=True, capture_output=True,
    )  # fmt: skip
    local_lake = tmp_path / "local"
    shutil.copytree(lake, local_lake)
    for where, executor in ((local_lake, "local"), (lake, "ray")):
        proc = curate(where, curate_config(tmp_path, executor, None))
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, out + err
    expected, found = near_dup_drops(local_lake), near_dup_drops(lake)
    print(f"ray dedup: expected {len(expected)} near-dup drops, found {len(found)}")
    assert len(expected) >= 2 and found == expected
