"""`train eval --shard I/N`: which problems a shard evaluates, the evaluation's id, and which of the
shards' writes in LAKE/eval_samples a merge (train/eval_merge.py) takes. Pure functions, no model.

A shard takes a round-robin slice of each benchmark's problem list sorted by id (problem i of the
sorted list goes to shard i mod N): the list itself is fixed by the arguments (benchmark, --n, --seed),
so every worker computes the same slices without talking to the others, and unlike synth's hash buckets
the shards of a 30-problem set stay within one problem of each other. Seeds are per (seed, problem,
sample) (sampling.prompts.sample_seed), so a shard asks exactly what an unsharded run asks of them.

A shard appends all its responses in one lake write, tagged with `eval_run` (this id), `shard` and
`shards`: one write is one `created_at`. Writes are either whole or absent (a kill mid-run leaves none),
so a shard is "done" when one write of it holds exactly its expected (benchmark, problem, sample) set.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

Key = tuple[str, str, int]  # (benchmark, problem_id, sample_idx)


def shard_slice(problems: list[dict], shard: tuple[int, int]) -> list[dict]:
    """Shard i of n: every n-th problem of the list sorted by id, starting at the i-th."""
    i, n = shard
    return sorted(problems, key=lambda p: p["problem_id"])[i::n]


def eval_run_id(digests: Iterable[str], stage: str, shards: int) -> str:
    """The evaluation's id: the benchmarks' fingerprints (as requested, before any backend cap), the stage
    and the shard count. A different model, weights, protocol, problem set or N is another evaluation,
    so shards of different evaluations never mix; the same arguments give the same id on every worker."""
    payload = json.dumps({"fingerprints": list(digests), "stage": stage, "shards": shards})
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def expected_keys(benchmarks: Iterable[tuple[str, int, list[dict]]], shard: tuple[int, int]) -> set[Key]:
    """The (benchmark, problem_id, sample_idx) set shard `shard` answers: (name, k, problems) per benchmark."""
    return {
        (name, p["problem_id"], j)
        for name, k, problems in benchmarks
        for p in shard_slice(problems, shard)
        for j in range(k)
    }


def complete_write(rows: list[dict], shard: int, expected: set[Key]) -> list[dict] | None:
    """The rows of the earliest write of `shard` (among rows of one eval_run) that holds exactly `expected`,
    each key once; None when no write does. Two runs of one shard that both wrote (a re-submit racing the
    original) leave two writes: taking one whole write, never a mix, keeps the merge free of duplicates."""
    writes: dict[object, list[dict]] = {}
    for r in rows:
        if r["shard"] == shard:
            writes.setdefault(r["created_at"], []).append(r)
    for _, write in sorted(writes.items(), key=lambda kv: kv[0]):
        keys = [(r["benchmark"], r["problem_id"], r["sample_idx"]) for r in write]
        if len(keys) == len(expected) and set(keys) == expected:
            return write
    return None
