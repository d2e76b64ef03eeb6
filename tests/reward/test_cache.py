"""The verdict cache on disk: atomic shards, version filter, compaction."""

from __future__ import annotations

import pyarrow.parquet as pq

from reward.cache import COMPACT_AFTER, VerdictCache, cache_key


def test_round_trip_and_version_filter(tmp_path):
    a = VerdictCache("math-verify-0.9", tmp_path)
    a.put(cache_key(" 1 ", "1"), (True, "ok"))
    a.put(cache_key("1", "2^{2^{2^{100}}}"), (False, "timeout"))
    a.put(cache_key("1", "1"), (False, "ok"))  # a key is written once: the first verdict stays
    assert a.flush() == 2 and a.flush() == 0
    assert [p.name.startswith("part-") for p in tmp_path.iterdir()] == [True]
    b = VerdictCache("math-verify-0.9", tmp_path)
    assert b.get(("1", "1")) == (True, "ok") and b.get(("1", "2^{2^{2^{100}}}")) == (False, "timeout")
    assert len(VerdictCache("math-verify-1.0", tmp_path)) == 0  # another version: its own verdicts


def test_many_shards_are_compacted_on_load(tmp_path):
    for n in range(COMPACT_AFTER + 1):
        c = VerdictCache("v1" if n % 2 else "v2", tmp_path)
        c.put((str(n), str(n)), (True, "ok"))
        c.flush()
    assert len(list(tmp_path.glob("part-*.parquet"))) == COMPACT_AFTER + 1
    loaded = VerdictCache("v1", tmp_path)
    assert len(loaded) == (COMPACT_AFTER + 1) // 2
    (shard,) = tmp_path.glob("part-*.parquet")
    assert pq.read_table(shard).num_rows == COMPACT_AFTER + 1  # the other version's rows are kept
    assert len(VerdictCache("v2", tmp_path)) == COMPACT_AFTER + 1 - (COMPACT_AFTER + 1) // 2
