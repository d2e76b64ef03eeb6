"""Decontamination: which training problems copy (or closely rephrase) a benchmark item.

Texts are compared as normalised word sequences (ngrams.py: lower case; runs of letters and runs of digits
are separate words, so `$x^2$`, `\\(x^2\\)` and `15a` / `15 a` agree). A single shared 13-gram is no evidence
on real problem sets: boilerplate such as AIME's "... where m and n are relatively prime positive integers.
Find m+n." is longer than 13 words. So:

1. an n-gram that more than `max_item_df` benchmark items hold is boilerplate and is ignored;
2. a training problem is a candidate for every item it shares one of the remaining n-grams with;
3. it is contaminated by the candidate it covers best when it holds at least `min_coverage` of that item's
   n-grams, or when their word sequences are at least `min_similarity` alike (difflib's ratio: a copy with
   a retyped term keeps few whole 13-grams of a short item but nearly all of its words in order).

A benchmark item shorter than n words is one n-gram of its whole sequence, which matches a training
problem with exactly the same words. The report keeps example pairs with the n-grams they share.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.progress import track

from curate.config import DecontamConfig
from curate.ngrams import NgramHasher, words
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
    """Identifies the index: the rule's settings and every benchmark's items. A change means a fresh check."""
    rule = f"ngrams-v2 n={cfg.n_gram} df={cfg.max_item_df} cov={cfg.min_coverage} sim={cfg.min_similarity}"
    h = hashlib.sha256(rule.encode())
    for b in benchmarks:
        h.update(b.name.encode() + b"\0")
        for item in b.items:
            h.update(item.encode() + b"\0")
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Match:
    bench: int  # index into the index's benchmarks
    item: int
    coverage: float  # share of the item's informative n-grams the problem holds
    similarity: float | None  # word-sequence ratio, when coverage alone did not decide


class BenchmarkIndex:
    """Sorted informative n-gram hashes of every benchmark item, with their (benchmark, item) owners."""

    def __init__(self, benchmarks: list[Benchmark], n: int, cfg: DecontamConfig | None = None):
        self.benchmarks = benchmarks
        self.cfg = cfg or DecontamConfig(n_gram=n)
        self.hasher = NgramHasher(n, split_digits=True)
        self._offsets = np.cumsum([0] + [len(b.items) for b in benchmarks])
        per_item = [np.unique(self.hasher.hashes(text)) for b in benchmarks for text in b.items]
        g = np.concatenate(per_item) if per_item else np.zeros(0, dtype=np.uint64)
        owner = np.repeat(np.arange(len(per_item), dtype=np.int64), [h.size for h in per_item])
        # boilerplate: an n-gram several items hold (each item's hashes are unique, so counts are items)
        uniq, inverse, df = np.unique(g, return_inverse=True, return_counts=True)
        keep = df[inverse] <= self.cfg.max_item_df
        g, owner = g[keep], owner[keep]
        self.informative = np.bincount(owner, minlength=len(per_item))  # per item
        order = np.lexsort((owner, g))
        self.grams, self.owner = g[order], owner[order]

    def match(self, text: str) -> tuple[int, int] | None:
        """(benchmark index, item index) this text copies, or None."""
        found = self.match_detail(text)
        return None if found is None else (found.bench, found.item)

    def match_detail(self, text: str) -> Match | None:
        h = np.unique(self.hasher.hashes(text))
        if h.size == 0 or self.grams.size == 0:
            return None
        lo = np.searchsorted(self.grams, h, side="left")
        hi = np.searchsorted(self.grams, h, side="right")
        hit = hi > lo
        if not hit.any():
            return None
        owners = np.concatenate([self.owner[a:b] for a, b in zip(lo[hit], hi[hit], strict=True)])
        items, shared = np.unique(owners, return_counts=True)
        coverage = shared / np.maximum(self.informative[items], 1)
        # best covered first; ties: more shared n-grams, then the earlier benchmark and item
        for k in np.lexsort((items, -shared, -coverage))[:_CANDIDATES]:
            flat = int(items[k])
            if coverage[k] >= self.cfg.min_coverage:
                return self._match(flat, float(coverage[k]), None)
            similarity = word_similarity(text, self._text(flat))
            if similarity >= self.cfg.min_similarity:
                return self._match(flat, float(coverage[k]), similarity)
        return None

    def _match(self, flat: int, coverage: float, similarity: float | None) -> Match:
        bench = int(np.searchsorted(self._offsets, flat, side="right") - 1)
        return Match(bench, flat - int(self._offsets[bench]), coverage, similarity)

    def _text(self, flat: int) -> str:
        bench = int(np.searchsorted(self._offsets, flat, side="right") - 1)
        return self.benchmarks[bench].items[flat - int(self._offsets[bench])]


_CANDIDATES = 5  # items a problem is compared with word by word, best covered first
_MAX_WORDS = 4000  # longer texts are compared on their first words: bounded work per pair


def word_similarity(a: str, b: str) -> float:
    """difflib's ratio of the two normalised word sequences (1.0: the same words in the same order)."""
    wa, wb = words(a, split_digits=True)[:_MAX_WORDS], words(b, split_digits=True)[:_MAX_WORDS]
    return difflib.SequenceMatcher(None, wa, wb, autojunk=False).ratio()


def shared_ngrams(a: str, b: str, n: int, limit: int = 3) -> list[str]:
    """Up to `limit` n-grams (as text) the two share, in b's order: what the report shows as evidence."""
    wa, wb = words(a, split_digits=True), words(b, split_digits=True)
    n = min(n, len(wa), len(wb)) or 1
    mine = {tuple(wa[i : i + n]) for i in range(len(wa) - n + 1)}
    out: list[str] = []
    for i in range(len(wb) - n + 1):
        gram = tuple(wb[i : i + n])
        if gram in mine and " ".join(gram) not in out:
            out.append(" ".join(gram))
            if len(out) == limit:
                break
    return out


def find_contaminated(problems: pa.Table, index: BenchmarkIndex, progress: bool = False) -> pa.Table:
    """MATCHES rows for the problems (problem_id, problem) that copy a benchmark item."""
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
                "shared": shared_ngrams(text_of.get(r["problem_id"]) or "", b.items[r["item"]], cfg.n_gram),
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
