"""Failures that looked like success, Ctrl-C, and a full disk (real processes, real signals, a real tmpfs)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid

import pytest

from tests.conftest import cli
from tests.hardening.lakes import assert_one_line_error, make_lake, run, tree_hash


def closed_port() -> int:
    with socket.socket() as s:  # bound then closed: nothing listens there
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_teacher_says_why_and_exits_1(tmp_path):
    lake = make_lake(tmp_path / "lake", n=2, samples=1)
    url = f"http://127.0.0.1:{closed_port()}/v1"
    proc = run("synth", "generate", "--teacher", "openai:m", "--base-url", url, "--max-retries", "0", "--samples",
               "2", "--run", "o", "--lake", str(lake))  # fmt: skip
    assert proc.returncode == 1
    assert proc.stdout.startswith("run o: 0/4 samples done (0 new, 4 failed)")
    lines = proc.stderr.splitlines()
    assert lines[0] == "run o: 4 samples to generate with openai:m (0 done before)"  # before any request
    assert lines[-1] == "  4 failed: APIConnectionError after 1 attempts"


def test_ctrl_c_during_a_query_exits_130(tmp_path):
    lake = make_lake(tmp_path / "lake", n=2, samples=1)
    temp = tmp_path / "temp"
    temp.mkdir()
    proc = subprocess.Popen(
        [cli("curate"), "sql", "select count(*) from range(1000000000000)", "--lake", str(lake)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(temp)},
    )  # fmt: skip
    while not list(temp.glob("minireason-sql-*")):  # the session's temp folder: the query is starting
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert (proc.returncode, out, err) == (130, "", "interrupted\n")
    assert list(temp.iterdir()) == []  # the session's temp folder went with it


@pytest.fixture()
def small_disk(tmp_path):
    """A 1 MiB tmpfs (root may mount one); skipped where the machine does not allow it."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip() or done.returncode}")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=True)


def fill(disk) -> None:
    with open(disk / f"filler-{uuid.uuid4().hex[:6]}", "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass


def test_full_disk_is_one_line_and_leaves_no_temporary_file(small_disk, tmp_path):
    lake = make_lake(tmp_path / "lake", n=4, samples=2)
    out = small_disk / "out.csv"
    fill(small_disk)
    before = sorted(p.name for p in small_disk.iterdir())
    for _ in range(2):  # a re-run must give the same line, not a traceback
        proc = run("curate", "sql", "select * from traces", "--format", "csv", "--out", str(out), "--lake",
                   str(lake))  # fmt: skip
        assert assert_one_line_error(proc) == f"error: cannot write {out}: No space left on device"
        assert sorted(p.name for p in small_disk.iterdir()) == before  # no 0-byte temporary file


def test_full_disk_under_the_lake(small_disk):
    lake = small_disk / "lake"
    proc = run("synth", "problems", "--source", "builtin:arith", "--n", "20", "--lake", str(lake))
    assert proc.returncode == 0, proc.stderr
    state = tree_hash(lake)
    fill(small_disk)
    for _ in range(2):
        proc = run("synth", "problems", "--source", "builtin:arith", "--n", "2000", "--seed", "5", "--lake",
                   str(lake))  # fmt: skip
        line = assert_one_line_error(proc)
        assert line.startswith(f"error: no space left on device writing {lake}/problems (disk mounted at "
                               f"{small_disk}): free space and re-run"), line  # fmt: skip
        assert tree_hash(lake) == state  # nothing half-visible, no temporary files
