"""Decontamination: word n-gram overlap (13-gram default) between training problems and benchmark items.

Texts are compared as normalised word sequences (ngrams.py: lower case, words = runs of letters and
digits, so `$x^2$` and `\\(x^2\\)` agree). A benchmark item shorter than n words is one n-gram of its
whole sequence, which matches a training problem with exactly the same words. A contaminated problem is
attributed to the benchmark it shares most n-grams with (ties: the earlier file).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.progress import track

from curate.config import DecontamConfig
from curate.ngrams import NgramHasher
from lakehouse.errors import UserError
from problemsets import read_records, registry
from problemsets.records import PROBLEM_FIELDS  # the importer's field mapping

_STDERR = Console(stderr=True)  # progress goes to stderr, and only on a terminal
MATCHES = pa.schema([("problem_id", pa.string()), ("benchmark", pa.string()), ("item", pa.int64())])
REPORT = pa.schema(
    [
        ("benchmark", pa.string()),
        ("file", pa.string()),
        ("items", pa.int64()),
        ("matched", pa.int64()),
        ("n_gram", pa.int64()),
        ("examples", pa.string()),  # JSON list of {problem_id, problem, benchmark_item}
    ]
)


@dataclass(frozen=True)
class Benchmark:
    name: str
    path: Path | str  # the file (or hf: dataset) the items came from
    items: list[str]


def load_benchmark(entry: registry.Benchmark | Path | str) -> Benchmark:
    """A benchmark's problem texts: a registry entry (its named fields) or a file (fields detected)."""
    if not isinstance(entry, registry.Benchmark):
        entry = registry.ad_hoc(str(entry))
    fields = (entry.problem_field, entry.answer_field)
    items: list[str] = []
    field = None
    for where, record in read_records(entry.file):
        if field is None:
            field = fields[0] or next((f for f in PROBLEM_FIELDS if f in record), None)
            if field is None:
                raise UserError(
                    f"{where}: no problem field (has {', '.join(sorted(record)) or 'nothing'}; "
                    f"looked for {', '.join(PROBLEM_FIELDS)})"
                )
        text = record.get(field)
        if not isinstance(text, str) or not text.strip():
            raise UserError(f"{where}: field {field!r} is missing or not a non-empty string")
        items.append(text)
    name = entry.name if entry.registered else Path(entry.file).stem
    return Benchmark(name, entry.problems_source, items)


def config_key(benchmarks: list[Benchmark], cfg: DecontamConfig) -> str:
    """Identifies the index: n and every benchmark's items. A changed set means a fresh check."""
    h = hashlib.sha256(f"ngrams-v1 n={cfg.n_gram}".encode())
    for b in benchmarks:
        h.update(b.name.encode() + b"\0")
        for item in b.items:
            h.update(item.encode() + b"\0")
    return h.hexdigest()[:16]


class BenchmarkIndex:
    """Sorted n-gram hashes of every benchmark item, with (benchmark, item) owners."""

    def __init__(self, benchmarks: list[Benchmark], n: int):
        self.benchmarks = benchmarks
        self.hasher = NgramHasher(n)
        grams, bench, item = [], [], []
        for b_idx, b in enumerate(benchmarks):
            for i_idx, text in enumerate(b.items):
                h = np.unique(self.hasher.hashes(text))
                grams.append(h)
                bench.append(np.full(h.size, b_idx, dtype=np.int64))
                item.append(np.full(h.size, i_idx, dtype=np.int64))
        g = np.concatenate(grams) if grams else np.zeros(0, dtype=np.uint64)
        b_arr = np.concatenate(bench) if bench else np.zeros(0, dtype=np.int64)
        i_arr = np.concatenate(item) if item else np.zeros(0, dtype=np.int64)
        order = np.lexsort((i_arr, b_arr, g))
        self.grams, self.bench, self.item = g[order], b_arr[order], i_arr[order]

    def match(self, text: str) -> tuple[int, int] | None:
        """(benchmark index, item index) this text overlaps most, or None."""
        h = np.unique(self.hasher.hashes(text))
        if h.size == 0 or self.grams.size == 0:
            return None
        lo = np.searchsorted(self.grams, h, side="left")
        hi = np.searchsorted(self.grams, h, side="right")
        hit = hi > lo
        if not hit.any():
            return None
        # every (benchmark, item) owning each matched n-gram
        owners = np.concatenate([np.arange(a, b) for a, b in zip(lo[hit], hi[hit], strict=True)])
        pairs = np.stack([self.bench[owners], self.item[owners]], axis=1)
        bench_ids, bench_counts = np.unique(pairs[:, 0], return_counts=True)
        best_bench = bench_ids[np.argmax(bench_counts)]  # argmax takes the first (earliest file) on ties
        items = pairs[pairs[:, 0] == best_bench, 1]
        item_ids, item_counts = np.unique(items, return_counts=True)
        return int(best_bench), int(item_ids[np.argmax(item_counts)])


def find_contaminated(problems: pa.Table, index: BenchmarkIndex, progress: bool = False) -> pa.Table:
    """MATCHES rows for the problems (problem_id, problem) that overlap a benchmark."""
    out = {"problem_id": [], "benchmark": [], "item": []}
    pairs = zip(
        problems.column("problem_id").to_pylist(), problems.column("problem").to_pylist(), strict=True
    )
    for pid, text in track(
        pairs,
        total=problems.num_rows,
        description="decontaminate",
        disable=not (progress and _STDERR.is_terminal),
        transient=True,
        console=_STDERR,
    ):
        found = index.match(text or "")
        if found is not None:
            out["problem_id"].append(pid)
            out["benchmark"].append(index.benchmarks[found[0]].name)
            out["item"].append(found[1])
    return pa.table(out, schema=MATCHES)


def build_report(
    matches: pa.Table, problems: pa.Table, benchmarks: list[Benchmark], cfg: DecontamConfig
) -> pa.Table:
    """One row per benchmark: items checked, training problems matched, example pairs."""
    text_of = dict(
        zip(problems.column("problem_id").to_pylist(), problems.column("problem").to_pylist(), strict=True)
    )
    rows = sorted(matches.to_pylist(), key=lambda r: r["problem_id"])
    out = []
    for b in benchmarks:
        mine = [r for r in rows if r["benchmark"] == b.name]
        examples = [
            {
                "problem_id": r["problem_id"],
                "problem": text_of.get(r["problem_id"]),
                "benchmark_item": b.items[r["item"]],
            }
            for r in mine[: cfg.examples]
        ]
        out.append(
            {
                "benchmark": b.name,
                "file": str(b.path),
                "items": len(b.items),
                "matched": len(mine),
                "n_gram": cfg.n_gram,
                "examples": json.dumps(examples, ensure_ascii=False),
            }
        )
    return pa.Table.from_pylist(out, schema=REPORT)
