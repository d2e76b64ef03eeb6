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
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from lakehouse import Lake
from lakehouse.errors import UserError
from lakehouse.schema import TRACES


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
        self._unsynced = 0
        self._last_sync = time.monotonic()
        self.fsync_every = fsync_every
        self.fsync_interval_s = fsync_interval_s

    def open(self) -> None:
        """Start appending. Separate from the lock so a leftover journal can be recovered first."""
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def rotate(self) -> Path:
        """Close the current file under a new name (for compaction) and continue in a fresh one."""
        self.sync()
        os.close(self._fd)
        rotated = self.path.with_name(f"{self.path.stem}.{time.time_ns()}.jsonl")
        self.path.rename(rotated)
        self.open()
        return rotated

    def append(self, row: dict) -> None:
        # one unbuffered write per row: once it returns, a killed process can no longer lose the row
        os.write(self._fd, orjson.dumps(row, default=str) + b"\n")
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


# the journal's line format: TRACES with created_at as integer microseconds (cheap to write per row)
JOURNAL_SCHEMA = pa.schema(
    [pa.field("created_at", pa.int64()) if f.name == "created_at" else f for f in TRACES]
)


def read_journal(path: Path) -> pa.Table:
    """A journal as a TRACES table, parsed by Arrow's C++ JSON reader; a torn (partial) last line,
    left by a kill in the middle of a write, is dropped."""
    data = path.read_bytes()
    data = data[: data.rfind(b"\n") + 1]
    if not data:
        return TRACES.empty_table()
    try:
        table = pajson.read_json(
            pa.BufferReader(data),
            read_options=pajson.ReadOptions(block_size=min(len(data) + 1, 1 << 30)),
            parse_options=pajson.ParseOptions(
                explicit_schema=JOURNAL_SCHEMA, unexpected_field_behavior="ignore"
            ),
        )
    except pa.ArrowInvalid:  # a damaged line inside the file: keep every line that still parses
        rows = []
        for line in data.splitlines():
            with contextlib.suppress(orjson.JSONDecodeError):
                rows.append(orjson.loads(line))
        table = pa.Table.from_pylist(rows, schema=JOURNAL_SCHEMA)
    return table.select(JOURNAL_SCHEMA.names).cast(TRACES)


def _first_per_id(table: pa.Table) -> pa.Table:
    """The first row of each trace_id, in order."""
    ids = table.column("trace_id")
    return table.take(pc.index_in(pc.unique(ids), value_set=ids))


def compact(lake: Lake, journal_path: Path, run: str, done: set[str], failed_table: str) -> tuple[int, int]:
    """Move a journal's rows into the lake: successes to `traces`, failures to `failed_table`.

    `done` holds the trace_ids already in `traces` for this run; it is updated in place. A unit's
    first success wins; a unit that only failed keeps its latest failure. Returns (traces written,
    failures written). The journal file is removed only after the shards are committed.
    """
    if not journal_path.exists():
        return 0, 0
    table = read_journal(journal_path)
    if done and table.num_rows:
        table = table.filter(pc.invert(pc.is_in(table.column("trace_id"), value_set=pa.array(list(done)))))
    failed_rows = pc.is_valid(table.column("error"))
    ok = _first_per_id(table.filter(pc.invert(failed_rows)))
    failed = table.filter(failed_rows)
    if ok.num_rows and failed.num_rows:
        failed = failed.filter(
            pc.invert(pc.is_in(failed.column("trace_id"), value_set=ok.column("trace_id")))
        )
    failed = _first_per_id(failed.take(pa.array(range(failed.num_rows - 1, -1, -1), pa.int64())))
    if ok.num_rows:
        lake.write("traces", ok, partition=f"run={run}")
        done.update(ok.column("trace_id").to_pylist())
    if failed.num_rows:
        lake.write(failed_table, failed, partition=f"run={run}")
    journal_path.unlink()
    return ok.num_rows, failed.num_rows
