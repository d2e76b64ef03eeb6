"""Verdict cache keyed by (normalised gold, normalised prediction), in memory and on disk.

On disk it is a directory of parquet shards (columns verifier, gold, pred, correct, status), each written
with the lake's atomic writer (temporary name, fsync, rename), so a crash never leaves a partial shard.
Only the rows of the current verifier version are loaded: a new math-verify starts a fresh cache.
When more than COMPACT_AFTER shards have piled up (one per `curate verify` batch), loading rewrites them
as one: the new shard is renamed into place before the old ones are removed, so a reader never misses rows.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

COMPACT_AFTER = 32
COLUMNS = ("verifier", "gold", "pred", "correct", "status")
Key = tuple[str, str]
Entry = tuple[bool, str]  # (correct, status)


def cache_key(gold: str, pred: str) -> Key:
    """Whitespace runs collapsed: the only normalisation that can never change math-verify's answer."""
    return " ".join(gold.split()), " ".join(pred.split())


class VerdictCache:
    def __init__(self, verifier: str, path: Path | None = None) -> None:
        self._verifier = verifier
        self._path = Path(path) if path is not None else None
        self._entries: dict[Key, Entry] = {}
        self._new: list[tuple[Key, Entry]] = []
        self._lock = threading.Lock()
        if self._path is not None:
            self._load()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Key) -> Entry | None:
        return self._entries.get(key)

    def put(self, key: Key, entry: Entry) -> None:
        with self._lock:
            if key not in self._entries:
                self._entries[key] = entry
                self._new.append((key, entry))

    def flush(self) -> int:
        """Persist the entries added since the last flush as one new shard; returns how many."""
        with self._lock:
            new, self._new = self._new, []
        if not new or self._path is None:
            return 0
        self._write_shard(new)
        return len(new)

    def _load(self) -> None:
        import pyarrow.parquet as pq

        shards = sorted(self._path.glob("part-*.parquet"))
        rows: list[tuple[str, str, str, bool, str]] = []
        for shard in shards:
            cols = pq.read_table(shard).to_pydict()
            rows += zip(
                cols["verifier"], cols["gold"], cols["pred"], cols["correct"], cols["status"], strict=True
            )
        for v, g, p, c, s in rows:
            if v == self._verifier:
                self._entries[(g, p)] = (c, s)
        if len(shards) > COMPACT_AFTER:
            self._compact(shards, rows)

    def _compact(self, shards: list[Path], rows: list[tuple[str, str, str, bool, str]]) -> None:
        """One shard for many (every verifier version's rows kept), then the old shards go."""
        unique = {(v, g, p): (c, s) for v, g, p, c, s in rows}
        if unique:
            columns = zip(*((*k, *e) for k, e in unique.items()), strict=True)
            self._write_table(dict(zip(COLUMNS, map(list, columns), strict=True)))
        for shard in shards:
            shard.unlink(missing_ok=True)

    def _write_shard(self, rows: list[tuple[Key, Entry]]) -> None:
        self._write_table(
            {
                "verifier": [self._verifier] * len(rows),
                "gold": [k[0] for k, _ in rows],
                "pred": [k[1] for k, _ in rows],
                "correct": [e[0] for _, e in rows],
                "status": [e[1] for _, e in rows],
            }
        )

    def _write_table(self, columns: dict[str, list]) -> None:
        import io

        import pyarrow as pa
        import pyarrow.parquet as pq

        from lakehouse.store import atomic_write_bytes  # here: pyarrow only loads when a shard is written

        self._path.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        pq.write_table(pa.table(columns), buf)
        atomic_write_bytes(self._path / f"part-{uuid.uuid4().hex}.parquet", buf.getvalue())
