"""synth and curate on a real single-node Slurm cluster (slurmctld + slurmd + munge on 127.0.0.1),
through datatrove's SlurmPipelineExecutor: real sbatch array jobs, a real `scancel` of one array task
mid-run, a re-submit, and exact (problem_id, sample_idx) set assertions on the lake."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from lakehouse.store import Lake
from synth.problems import ProblemsConfig
from synth.problems import main as make_problems
from tests.cluster.conftest import (
    dedup_lakes,
    manifest_matches_disk,
    shard_of,
    squeue,
    start_synth,
    track,
    units,
)
from tests.conftest import ROOT, cli
from tests.helpers.chat_server import ChatServer
from tests.helpers.sharded_eval import chain_api, measured, start_train_eval, train_eval
from train.eval import main as evaluate

pytestmark = pytest.mark.cluster

TASKS, SAMPLES = 4, 2


def synth(lake: Path, server: ChatServer, partition: str, run: str) -> subprocess.Popen:
    executor = ["--executor", "slurm", "--tasks", str(TASKS), "--slurm-partition", partition]
    return start_synth(lake, server.base_url, run, SAMPLES, *executor, "--slurm-time", "10:00")


def wait_for(predicate, timeout_s: float = 180, what: str = ""):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def journaled(path: Path) -> int:
    return path.read_text().count("\n") if path.exists() else 0


def test_synth_on_slurm_scancel_one_task_then_resubmit_is_exactly_once(slurm, tmp_path):
    lake = tmp_path / "lake"
    make_problems(ProblemsConfig(lake=lake, source="builtin:arith", n=16, seed=5))
    pids = Lake(lake).read("problems").column("problem_id").to_pylist()
    expected = {(p, s) for p in pids for s in range(SAMPLES)}
    # the victim: the shard with the most problems, so it is surely mid-run after its first unit
    victim = Counter(shard_of(p, TASKS) for p in pids).most_common(1)[0][0]
    journal = lake / "_journal" / "run=r" / f"shard-{victim}-of-{TASKS}.jsonl"
    with ChatServer(latency_s=0.5) as server:
        first = synth(lake, server, slurm, "r")
        wait_for(lambda: journaled(journal) >= 1, what=f"shard {victim}'s first journaled unit")
        job = wait_for(lambda: squeue("synth-r"), what="the array job in squeue")[0][0].split("_")[0]
        subprocess.run(["scancel", f"{job}_{victim}"], check=True)
        out, err = first.communicate(timeout=300)
        assert first.returncode != 0, out + err
        assert f"1 of {TASKS} shard tasks of run r did not complete on Slurm" in err, out + err
        after_kill = units(lake, "r")
        assert len(after_kill) == len(set(after_kill))  # no duplicate even before the re-run
        missing = expected - set(after_kill)
        assert missing and all(shard_of(p, TASKS) == victim for p, _ in missing)

        second = synth(lake, server, slurm, "r")
        out, err = second.communicate(timeout=300)
        assert second.returncode == 0, out + err
    final = units(lake, "r")
    print(f"slurm synth: expected {len(expected)}, missing after scancel {len(missing)}, "
          f"final {len(final)}, duplicates {len(final) - len(set(final))}, missing {len(expected - set(final))}")  # fmt: skip
    assert sorted(final) == sorted(expected)  # every unit exactly once: 0 duplicates, 0 missing
    on_disk, listed = manifest_matches_disk(lake, "traces")
    assert on_disk == listed  # no worker's manifest update was overwritten by another's


LAKE_WRITER = textwrap.dedent(
    """
    import os, sys
    import pyarrow as pa
    from lakehouse.store import Lake
    lake, rank = Lake(sys.argv[1]), os.environ["SLURM_ARRAY_TASK_ID"]
    for i in range(int(sys.argv[2])):
        lake.write("stress", pa.table({"rank": [rank], "i": [i]}))
    """
)


def test_manifest_lock_holds_across_slurm_array_tasks(slurm, tmp_path):
    """Two array tasks (two processes of one job on the 2 CPUs) append shards to one table at once."""
    lake, per_task = tmp_path / "lake", 40
    script = tmp_path / "writer.py"
    script.write_text(LAKE_WRITER)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    sub = subprocess.run(
        ["sbatch", "--parsable", "--wait", "-p", slurm, "-a", "0-1", "-c", "1", "-J", "lake-stress",
         "-o", str(tmp_path / "%a.out"), "--wrap", f"{sys.executable} {script} {lake} {per_task}"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    logs = "".join(p.read_text() for p in tmp_path.glob("*.out"))
    assert sub.returncode == 0, sub.stderr + logs
    rows = Lake(lake).read("stress").to_pylist()
    assert sorted((r["rank"], r["i"]) for r in rows) == sorted((r, i) for r in "01" for i in range(per_task))
    on_disk, listed = manifest_matches_disk(lake, "stress")
    assert len(listed) == 2 * per_task and on_disk == listed


def curate_config(tmp_path: Path, executor: str, partition: str | None) -> Path:
    """The shipped curate.yaml with dedup on `executor` over 2 tasks (the only lines changed)."""
    text = (ROOT / "curate" / "curate.yaml").read_text()
    lines = []
    for line in text.splitlines():
        key = line.strip().split(":")[0]
        if line.startswith("  ") and key in ("executor", "tasks", "slurm_partition"):
            value = {"executor": executor, "tasks": "2", "slurm_partition": partition or "null"}[key]
            line = f"  {key}: {value}"
        lines.append(line)
    path = tmp_path / f"curate-{executor}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def near_dup_drops(lake: Path) -> set[tuple[str, str]]:
    drops = Lake(lake).read("drops").to_pylist()
    return {(d["id"], d["detail"]) for d in drops if d["reason"] == "near_dup"}


def curate(lake: Path, config: Path) -> subprocess.Popen:
    cmd = [cli("curate"), "run", "--lake", str(lake), "--config", str(config)]
    return track(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))


def test_curate_dedup_on_slurm_scancel_then_rerun_matches_the_local_executor(slurm, tmp_path):
    """Real near-duplicate pairs (tests/fixtures) among builtin problems: dedup's four datatrove stages
    as dependent Slurm array jobs. One signature task is cancelled, so its dependants are cancelled too
    (kill_invalid_depend) and the run fails; the re-run finds exactly what the local executor finds."""
    lake, local_lake = dedup_lakes(tmp_path)
    proc = curate(local_lake, curate_config(tmp_path, "local", None))
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + err
    expected = near_dup_drops(local_lake)
    assert len(expected) >= 2  # the fixture's two same-answer rewordings at least

    config = curate_config(tmp_path, "slurm", slurm)
    first = curate(lake, config)
    job = wait_for(lambda: squeue("minhash-signature"), what="the signature job")[0][0].split("_")[0]
    subprocess.run(["scancel", f"{job}_1"], check=True)
    out, err = first.communicate(timeout=300)
    assert first.returncode != 0, out + err
    assert "did not complete" in out + err and "re-run the same command" in out + err
    second = curate(lake, config)
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, out + err
    found = near_dup_drops(lake)
    print(f"slurm dedup: expected {len(expected)} near-dup drops, found {len(found)}")
    assert found == expected
    drops = Lake(lake).read("drops").to_pylist()
    assert len(drops) == len({(d["unit"], d["id"], d["step"]) for d in drops})  # each dropped once


def test_train_eval_on_slurm_scancel_one_shard_then_rerun_merges_into_the_unsharded_row(slurm, tmp_path):
    """`train eval --executor slurm --tasks 2`: shard 1's array task is cancelled while it waits on the
    (slow) chat server, so the command fails and writes no evals row; the re-run samples only shard 1
    and the merged row is the unsharded one's, every response once."""
    lake = tmp_path / "lake"
    executor = ["--executor", "slurm", "--tasks", "2", "--slurm-partition", slurm, "--slurm-time", "10:00"]
    with ChatServer(reasoning=False, latency_s=0.5) as server:
        whole = evaluate(chain_api(server, tmp_path / "one"))
        first = track(start_train_eval(server, lake, *executor))
        job = wait_for(lambda: _running_task(1), what="shard 1's array task running")
        subprocess.run(["scancel", job], check=True)
        out, err = first.communicate(timeout=300)
        assert first.returncode == 2, out + err
        assert "1 of 2 shard tasks of eval run" in err and "re-run the same command" in err, out + err
        assert not Lake(lake).has("evals")
        assert {r["shard"] for r in Lake(lake).read("eval_samples").to_pylist()} == {0}
        second = train_eval(server, lake, *executor)
        assert second.returncode == 0, second.stdout + second.stderr
    rows = Lake(lake).read("evals").to_pylist()
    samples = Lake(lake).read("eval_samples").to_pylist()
    keys = [(r["problem_id"], r["sample_idx"]) for r in samples]
    print(
        f"slurm eval: {len(samples)} responses after scancel + re-run, {len(keys) - len(set(keys))} duplicates"
    )
    assert len(rows) == 1 and measured(rows[0]) == measured(whole.row)
    assert sorted(keys) == sorted((p, s) for p, s in whole.results[0].completions)  # 0 duplicates, 0 missing


def _running_task(index: int) -> str | None:
    """JOB_INDEX of a running `eval-*` array task with this index, from squeue."""
    out = subprocess.run(["squeue", "-h", "-o", "%i %j %t"], capture_output=True, text=True, check=True)
    for line in out.stdout.splitlines():
        job, name, state = line.split()
        if name.startswith("eval-") and job.endswith(f"_{index}") and state == "R":
            return job
    return None
