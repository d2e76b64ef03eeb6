"""The lake: parquet shards per table, made visible only through an atomically replaced manifest.

Write protocol (why each step): the shard is written under a temporary name and fsynced, so a crash
never leaves a half-written file under a real name; it is then renamed (atomic on POSIX) and only
afterwards listed in `.manifest.json`, itself replaced by rename under a file lock, so concurrent
writers (shards of one run on several workers) never lose each other's entries. Readers trust the
manifest alone: a shard renamed but not yet listed is invisible, and `gc()` may remove it.

A shard that `replace()` takes out of the manifest is not deleted at once: a reader (a `curate sql`
session) may have read the old manifest and still be about to open it. It is listed under "retired"
with the time, and deleted by a later replace or `gc()` once RETIRE_GRACE_S has passed, longer than the
SQL session's default timeout, so no sandboxed reader can still hold the old manifest.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse.errors import UserError
from lakehouse.schema import TABLES

MANIFEST = ".manifest.json"  # hidden: `load_dataset("parquet", data_dir=view)` must see only the shards
_LOCK = ".manifest.lock"
RETIRE_GRACE_S = 900.0  # > lakehouse.sql.DEFAULT_TIMEOUT_S (300 s): see the module docstring


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _temporary(tmp: Path) -> Iterator[Path]:
    """`tmp` is removed if anything fails before it is renamed (a full disk leaves no 0-byte file)."""
    try:
        yield tmp
    except OSError as e:
        tmp.unlink(missing_ok=True)
        if e.filename is None:  # pyarrow's errors name no file: say where the write went
            raise OSError(e.errno, e.strerror or str(e), str(tmp.parent)) from None
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see either the old or the new content, never a mix."""
    with _temporary(path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    fsync_dir(path.parent)


def write_user_file(path: Path, data: bytes) -> None:
    """A command's `--out FILE`: atomic, and a full disk or a missing permission is a one-line error."""
    try:
        atomic_write_bytes(path, data)
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror}") from None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def existing_lake(root: str | Path, hint: str = "run `synth problems` first, or pass --lake") -> Lake:
    """The lake at `root` for a command that reads one: never created here, and a missing one is a
    one-line UserError `no lake at ROOT (HINT)`, the hint saying what the user should run first."""
    lake = Lake(root, create=False)
    if not lake.root.is_dir():
        raise UserError(f"no lake at {root} ({hint})")
    return lake


class Lake:
    """A lake rooted at `root`. Table names are relative paths: "problems", "traces", "views/sft"."""

    def __init__(self, root: str | Path, create: bool = True):
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise UserError(f"lake path {self.root} is a file, not a directory")
        above = next((p for p in self.root.parents if p.exists()), None)
        if above is not None and not above.is_dir():
            raise UserError(f"lake path {self.root}: {above} is a file, not a directory")
        if create:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
            except OSError as e:  # a parent is a file, or not writable
                raise UserError(f"cannot create lake {self.root}: {e.strerror}") from None

    # -- paths -------------------------------------------------------------------------------
    def path(self, table: str) -> Path:
        if table.startswith("/") or ".." in Path(table).parts:
            raise ValueError(f"bad table name {table!r}")
        return self.root / table

    def _manifest_path(self, table: str) -> Path:
        return self.path(table) / MANIFEST

    @contextlib.contextmanager
    def _locked(self, table: str) -> Iterator[None]:
        d = self.path(table)
        d.mkdir(parents=True, exist_ok=True)
        with open(d / _LOCK, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def writer(self, what: str) -> Iterator[None]:
        """One writing command at a time per lake (`curate run` and its steps read every table, then
        write results derived from what they read; two at once would both verify the same traces).
        A second one waits, saying for whom, rather than failing: it then sees the first one's work."""
        with open(self.root / ".writer.lock", "a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.seek(0)
                holder = lock.read().strip() or "another process"
                print(f"waiting: {holder} is writing {self.root}", file=sys.stderr, flush=True)
                fcntl.flock(lock, fcntl.LOCK_EX)
            lock.seek(0)
            lock.truncate()
            lock.write(f"`{what}` (pid {os.getpid()})")
            lock.flush()
            try:
                yield
            finally:
                lock.truncate(0)
                fcntl.flock(lock, fcntl.LOCK_UN)

    # -- manifest ----------------------------------------------------------------------------
    def manifest(self, table: str) -> dict:
        p = self._manifest_path(table)
        if not p.exists():
            return {"table": table, "shards": []}
        try:
            m = json.loads(p.read_text())
            ok = isinstance(m, dict) and all(
                isinstance(e, dict) and isinstance(e.get("file"), str) and isinstance(e.get("rows"), int)
                for e in m["shards"]
            )
        except (ValueError, KeyError, TypeError):
            ok = False
        if not ok:  # written by something other than this module: refuse rather than guess
            raise UserError(f"{p} is not a valid manifest (modified outside minireason)")
        return m

    def verify(self, table: str) -> list[str]:
        """Problems with `table`'s committed shards: missing files and bytes that differ from the sha256
        the manifest recorded (a shard replaced or edited in place). Empty: every shard is as committed."""
        problems = []
        for e in self.manifest(table)["shards"]:
            f = self.path(table) / e["file"]
            if not f.is_file():
                problems.append(f"{table}/{e['file']}: missing")
            elif sha256_file(f) != e.get("sha256"):
                problems.append(f"{table}/{e['file']}: content does not match its manifest sha256")
        return problems

    def _save_manifest(self, table: str, manifest: dict) -> None:
        atomic_write_bytes(self._manifest_path(table), json.dumps(manifest, indent=1).encode())

    # -- writing -----------------------------------------------------------------------------
    def _write_file(self, table: str, data: pa.Table, partition: str | None) -> dict:
        d = self.path(table) / partition if partition else self.path(table)
        d.mkdir(parents=True, exist_ok=True)
        name = f"part-{uuid.uuid4().hex[:16]}.parquet"
        with _temporary(d / f".{name}.tmp") as tmp:
            pq.write_table(data, tmp, compression="zstd")
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, d / name)
        fsync_dir(d)
        rel = f"{partition}/{name}" if partition else name
        return {"file": rel, "rows": data.num_rows, "sha256": sha256_file(d / name)}

    def write(self, table: str, data: pa.Table, partition: str | None = None) -> Path:
        """Append one shard to `table` (conformed to the table's schema when it has one)."""
        return self.write_many(table, [data], partition)[0]

    def write_many(self, table: str, datas: list[pa.Table], partition: str | None = None) -> list[Path]:
        """Append several shards in one manifest update: all become visible together, or none."""
        datas = [self._conform(table, t) for t in datas]
        entries = [self._write_file(table, t, partition) for t in datas]
        with self._locked(table):
            m = self.manifest(table)
            m["shards"].extend(entries)
            self._save_manifest(table, m)
        return [self.path(table) / e["file"] for e in entries]

    def replace(
        self, table: str, datas: list[pa.Table], partition: str | None = None, grace_s: float = RETIRE_GRACE_S
    ) -> list[Path]:
        """Swap all shards of `table` for these in one manifest update. The old files are retired, and
        deleted only once `grace_s` has passed (by this or a later replace), so readers of the old
        manifest can still open them."""
        datas = [self._conform(table, t) for t in datas]
        entries = [self._write_file(table, t, partition) for t in datas]
        now = time.time()
        with self._locked(table):
            m = self.manifest(table)
            retired = m.get("retired", []) + [{"file": e["file"], "at": now} for e in m["shards"]]
            expired = [r for r in retired if now - r["at"] >= grace_s]
            keep = [r for r in retired if now - r["at"] < grace_s]
            self._save_manifest(table, {"table": table, "shards": entries, "retired": keep})
        for r in expired:
            (self.path(table) / r["file"]).unlink(missing_ok=True)
        return [self.path(table) / e["file"] for e in entries]

    @staticmethod
    def _conform(table: str, data: pa.Table) -> pa.Table:
        schema = TABLES.get(table)
        if schema is None:
            return data
        missing = [f.name for f in schema if f.name not in data.column_names]
        if missing:
            raise ValueError(f"{table}: missing columns {', '.join(missing)}")
        return data.select(schema.names).cast(schema)

    # -- reading -----------------------------------------------------------------------------
    def files(self, table: str) -> list[Path]:
        return [self.path(table) / e["file"] for e in self.manifest(table)["shards"]]

    def has(self, table: str) -> bool:
        return bool(self.manifest(table)["shards"])

    def rows(self, table: str) -> int:
        return sum(e["rows"] for e in self.manifest(table)["shards"])

    def read(self, table: str, columns: list[str] | None = None) -> pa.Table:
        files = self.files(table)
        schema = TABLES.get(table)
        if not files:
            if schema is None:
                return pa.table({})
            empty = schema.empty_table()
            return empty.select(columns) if columns else empty
        if schema is not None:
            target = pa.schema([schema.field(c) for c in columns]) if columns else schema
            return pa.concat_tables([_read_conformed(f, target) for f in files])
        parts = [pq.read_table(f, columns=columns) for f in files]
        return pa.concat_tables(parts, promote_options="permissive")

    def tables(self) -> list[str]:
        """Every table (directory holding a manifest) under the root, as relative names."""
        found = [p.parent.relative_to(self.root).as_posix() for p in self.root.rglob(MANIFEST)]
        return sorted(found)

    def gc(self, table: str) -> int:
        """Remove shard files that no manifest lists (left by a crash between rename and manifest);
        retired shards still in their grace period are kept."""
        m = self.manifest(table)
        listed = {self.path(table) / e["file"] for e in m["shards"] + m.get("retired", [])}
        removed = 0
        for p in self.path(table).rglob("*.parquet"):
            if p not in listed:
                p.unlink()
                removed += 1
        for p in self.path(table).rglob(".part-*.tmp"):
            p.unlink()
            removed += 1
        return removed


def _read_conformed(path: Path, target: pa.Schema) -> pa.Table:
    """A shard in the table's current schema: columns added since it was written read as NULL."""
    present = set(pq.read_schema(path).names)
    part = pq.read_table(path, columns=[n for n in target.names if n in present])
    for f in target:
        if f.name not in part.column_names:
            part = part.append_column(f, pa.nulls(part.num_rows, f.type))
    return part.select(target.names).cast(target)
