"""synth and curate on a real local Ray cluster (`ray start --head` on 127.0.0.1 with the machine's CPUs)
through datatrove's RayPipelineExecutor: a shard worker's process is SIGKILLed mid-run, datatrove
resubmits the rank, and the lake holds exactly the expected (problem_id, sample_idx) set."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from lakehouse.store import Lake
from synth.problems import ProblemsConfig
from synth.problems import main as make_problems
from tests.cluster.conftest import (
    dedup_lakes,
    holder_of,
    manifest_matches_disk,
    shard_of,
    start_synth,
    track,
    units,
)
from tests.cluster.test_slurm import curate, curate_config, journaled, near_dup_drops, wait_for
from tests.conftest import cli
from tests.helpers.chat_server import ChatServer
from tests.helpers.sharded_eval import chain_api, measured, train_eval
from train.eval import main as evaluate

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
    lake, local_lake = dedup_lakes(tmp_path)
    for where, executor in ((local_lake, "local"), (lake, "ray")):
        proc = curate(where, curate_config(tmp_path, executor, None))
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, out + err
    expected, found = near_dup_drops(local_lake), near_dup_drops(lake)
    print(f"ray dedup: expected {len(expected)} near-dup drops, found {len(found)}")
    assert len(expected) >= 2 and found == expected


def _rank_worker() -> tuple[int, list[int]] | None:
    """A Ray actor inside datatrove's `run_for_rank` (a rank mid-run) and its children (the pool process
    running the rank's pipeline, when it has one yet), from /proc."""
    titles, parents = {}, {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            titles[int(proc.name)] = (proc / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            parents[int(proc.name)] = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):  # the process ended meanwhile
            continue
    running = [p for p, t in titles.items() if t.startswith("ray::RankWorker.run_for_rank")]
    actors = [p for p in running if parents.get(p) not in running]
    if not actors:
        return None
    return actors[0], [c for c in running if parents.get(c) == actors[0]]


def near_dups(lake: Path) -> list[tuple[str, str]]:
    """`curate dedup`'s near-duplicates (its cached "dedup" table): (dropped problem, the one it repeats)."""
    t = Lake(lake).read("dedup")
    return sorted(zip(t.column("problem_id").to_pylist(), t.column("kept_id").to_pylist(), strict=True))


def kept_problems(lake: Path) -> list[str]:
    """The problems dedup keeps: every problem (ids are unique in the table) but the near-duplicates."""
    dropped = {p for p, _ in near_dups(lake)}
    return sorted(p for p in Lake(lake).read("problems").column("problem_id").to_pylist() if p not in dropped)


def test_curate_dedup_on_ray_sigkill_one_worker_then_resubmit_is_the_local_set(ray_cluster, tmp_path):
    """`curate dedup --executor ray --tasks 2`: a Ray worker running a rank of one of datatrove's four dedup
    stages is SIGKILLed (the actor and its pool process); datatrove resubmits the rank, the command
    succeeds, a re-submit changes nothing, and the kept problems and near-dup drops are exactly the local
    executor's."""
    lake, local = dedup_lakes(tmp_path, rollouts=False)

    def dedup(where: Path, executor: str) -> subprocess.Popen:
        cmd = [cli("curate"), "dedup", "--lake", str(where), "--executor", executor, "--tasks", "2"]
        return track(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))

    out, err = dedup(local, "local").communicate(timeout=300)
    expected_kept, expected_near = kept_problems(local), near_dups(local)
    assert len(expected_near) >= 2, out + err  # the fixture's same-answer rewordings at least

    first = dedup(lake, "ray")
    actor, pool = wait_for(_rank_worker, timeout_s=240, what="a dedup rank running in a Ray worker")
    for pid in (actor, *pool):
        os.kill(pid, signal.SIGKILL)
    log, seen = lake / "_minhash_work" / "datatrove.log", ""
    while first.poll() is None:  # the work dir (and its log) is removed when the dedup finishes
        seen = log.read_text(errors="replace") if log.exists() else seen
        time.sleep(0.1)
    out, err = first.communicate()
    assert first.returncode == 0, out + err  # datatrove resubmitted the killed rank
    assert "RayActorError" in seen or "WorkerCrashedError" in seen, seen[-3000:]
    once = kept_problems(lake), near_dups(lake)
    second = dedup(lake, "ray")  # a re-submit of the finished dedup changes nothing
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, out + err
    kept = kept_problems(lake)
    print(f"ray dedup: killed actor {actor} (+{len(pool)} pool process), expected {len(expected_kept)} kept, "
          f"found {len(kept)}, duplicates {len(kept) - len(set(kept))}, missing {len(set(expected_kept) - set(kept))}")  # fmt: skip
    assert once == (kept, near_dups(lake))
    assert kept == expected_kept and near_dups(lake) == expected_near  # 0 duplicates, 0 missing
    assert len(set(kept)) == len(kept) and len(kept) + len(expected_near) == Lake(lake).rows("problems")


def test_train_eval_on_ray_merges_into_the_unsharded_row(ray_cluster, tmp_path):
    lake = tmp_path / "lake"
    with ChatServer(reasoning=False) as server:
        whole = evaluate(chain_api(server, tmp_path / "one"))
        proc = train_eval(server, lake, "--executor", "ray", "--tasks", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = Lake(lake).read("evals").to_pylist()
    samples = Lake(lake).read("eval_samples").to_pylist()
    assert len(rows) == 1 and measured(rows[0]) == measured(whole.row)
    assert sorted((r["shard"], r["problem_id"], r["sample_idx"]) for r in samples) == sorted(
        (shard, p, s)
        for shard in (0, 1)
        for p, s in whole.results[0].completions
        if _shard(whole, p) == shard
    )


def _shard(result, problem_id: str) -> int:
    """The shard of 2 that evaluates this problem: its place in the id-sorted list, mod 2 (restated)."""
    return sorted(p["problem_id"] for p in result.results[0].problems).index(problem_id) % 2
