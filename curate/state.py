"""What a curate run was computed from: input snapshots (manifest shas) and the keys under which cached
step results are valid, kept in LAKE/_curate_state.json."""

from __future__ import annotations

import hashlib
import json

from lakehouse.store import Lake, atomic_write_bytes

STATE_FILE = "_curate_state.json"  # settings/input keys of the cached step results


def snapshot(lake: Lake) -> dict:
    """The inputs a view was built from: per table, rows and the sha256 of every shard."""
    out = {}
    for table in ("problems", "traces", "verdicts"):
        shards = lake.manifest(table)["shards"]
        out[table] = {"rows": sum(s["rows"] for s in shards), "shards": sorted(s["sha256"] for s in shards)}
    return out


def cache_key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


class State:
    """Keys (settings + inputs) under which each cached step result was computed."""

    def __init__(self, lake: Lake):
        self.path = lake.root / STATE_FILE
        self.data = json.loads(self.path.read_text()) if self.path.exists() else {}

    def get(self, name: str) -> str | None:
        return self.data.get(name)

    def set(self, name: str, value: str) -> None:
        self.data[name] = value
        atomic_write_bytes(self.path, json.dumps(self.data, indent=1, sort_keys=True).encode())
