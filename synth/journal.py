"""The append-only journal that makes a paid completion durable before anything else can lose it.

Each completed unit is one JSON line, written and flushed at once (a killed process keeps it: the
bytes are in the OS), fsynced in small batches (a machine crash loses at most a batch). Journals
are compacted into lake shards; a torn last line (SIGKILL mid-write) is ignored on recovery, and
rows already in the lake are skipped, so a crash at any point between journal and shard neither
loses nor duplicates a unit.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pyarrow as pa

from lake import Lake
from lake.errors import UserError
from lake.schema import TRACES


class Journal:
    """One writer's journal file. `worker` names it (e.g. "shard-0-of-1"); one process per worker."""

    def __init__(self, directory: Path, worker: str, fsync_every: int = 1024, fsync_interval_s: float = 0.5):
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{worker}.jsonl"
        self._lock = open(directory / f".{worker}.lock", "a+")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"another process is writing {self.path} (same run and shard)") from None
        self._fd: int | None = None
        self.rows: list[
            dict
        ] = []  # what this process appended since the last rotation: compaction skips re-reading
        self._unsynced = 0
        self._last_sync = time.monotonic()
        self.fsync_every = fsync_every
        self.fsync_interval_s = fsync_interval_s

    def open(self) -> None:
        """Start appending. Separate from the lock so a leftover journal can be recovered first."""
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def rotate(self) -> tuple[Path, list[dict]]:
        """Close the current file under a new name (for compaction) and continue in a fresh one."""
        self.sync()
        os.close(self._fd)
        rotated = self.path.with_name(f"{self.path.stem}.{time.time_ns()}.jsonl")
        self.path.rename(rotated)
        rows, self.rows = self.rows, []
        self.open()
        return rotated, rows

    def append(self, row: dict) -> None:
        # one unbuffered write per row: once it returns, a killed process can no longer lose the row
        os.write(self._fd, orjson.dumps(row, default=str) + b"\n")
        self.rows.append(row)
        self._unsynced += 1
        now = time.monotonic()
        if self._unsynced >= self.fsync_every or now - self._last_sync >= self.fsync_interval_s:
            self.sync()

    def sync(self) -> None:
        if self._unsynced:
            os.fsync(self._fd)
            self._unsynced = 0
        self._last_sync = time.monotonic()

    def close(self) -> None:
        if self._fd is not None:
            self.sync()
            os.close(self._fd)
            self._fd = None
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        self._lock.close()


def read_journal(path: Path) -> Iterator[dict]:
    """Rows of a journal; a torn (partial) last line is skipped."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.endswith("\n"):
                return  # torn write at the moment of a kill
            with contextlib.suppress(orjson.JSONDecodeError):
                yield orjson.loads(line)


def _to_table(rows: list[dict]) -> pa.Table:
    """Rows (created_at as integer microseconds since the epoch, UTC) to a TRACES table."""
    return pa.table({name: [r[name] for r in rows] for name in TRACES.names}, schema=TRACES)


def compact(
    lake: Lake,
    journal_path: Path,
    run: str,
    done: set[str],
    failed_table: str,
    rows: list[dict] | None = None,
) -> tuple[int, int]:
    """Move a journal's rows into the lake: successes to `traces`, failures to `failed_table`.

    `rows` are the journal's rows when the caller still holds them in memory (same content as the
    file); otherwise the file is read. `done` holds the trace_ids already in `traces` for this run;
    it is updated in place. Returns (traces written, failures written). The journal file is removed
    only after the shards are committed.
    """
    if not journal_path.exists():
        return 0, 0
    ok: dict[str, dict] = {}
    failed: dict[str, dict] = {}
    for row in rows if rows is not None else read_journal(journal_path):
        tid = row["trace_id"]
        if tid in done or tid in ok:
            continue
        if row.get("error"):
            failed[tid] = row  # the latest failure of a unit is the one kept
        else:
            ok[tid] = row
            failed.pop(tid, None)
    if ok:
        lake.write("traces", _to_table(list(ok.values())), partition=f"run={run}")
        done.update(ok)
    if failed:
        lake.write(failed_table, _to_table(list(failed.values())), partition=f"run={run}")
    journal_path.unlink()
    return len(ok), len(failed)
