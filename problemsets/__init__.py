"""Problem sets: the builtin generator, the shipped benchmark sets (registry.py) and importers for JSONL,
parquet and HF datasets.

`load(source, cfg)` returns the rows a source gives for its options (`SourceOptions`: duplicates dropped and
counted, excluded problems removed, at most `n` kept) as a `Loaded`; `load_problems` returns them as a
`problems` table. Sources: `builtin:FAMILY`, `bench:NAME` (a registered benchmark), FILE.jsonl,
FILE.parquet, `hf:NAME[:SPLIT]`.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pyarrow as pa

from lakehouse.errors import UserError
from lakehouse.schema import PROBLEMS
from problemsets import builtin
from problemsets.records import detect_fields, to_row
from problemsets.registry import Benchmark, resolve

BAD_ROW_POLICIES = ("error", "skip")


class SourceOptions(Protocol):
    """What a source is loaded with (synth's ProblemsConfig, train's EvalConfig carry these)."""

    n: int | None  # builtin: how many (required); imports: at most this many, sampled by seed
    seed: int
    problem_field: str | None
    answer_field: str | None
    exclude: list[Path]
    levels: tuple[int, ...]
    level_field: str | None  # None: detected (level, difficulty)
    on_bad_row: str  # error: the first bad row stops the import; skip: counted and reported (file:line)


@dataclass
class Loaded:
    rows: list[dict]
    duplicates: int = 0  # same problem_id as an earlier row of this source
    excluded: int = 0  # in an --exclude set
    capped: list[str] = field(default_factory=list)  # builtin cells that ran out of distinct problems
    skipped: list[str] = field(default_factory=list)  # "file:line: reason" of bad rows (on_bad_row skip)


def load_problems(source: str, cfg: SourceOptions) -> pa.Table:
    return pa.Table.from_pylist(load(source, cfg).rows, schema=PROBLEMS)


def load(source: str, cfg: SourceOptions) -> Loaded:
    if cfg.n is not None and cfg.n < 1:
        raise UserError(f"--n must be >= 1, got {cfg.n}")
    exclude = excluded_ids(cfg.exclude)
    if source.startswith("builtin:"):
        if cfg.n is None:
            raise UserError("--n is required for builtin sources (how many problems to generate)")
        result = builtin.generate(source, cfg.n, cfg.seed, tuple(cfg.levels), frozenset(exclude))
        return Loaded(rows=result.rows, excluded=len(result.excluded), capped=result.capped)
    if cfg.on_bad_row not in BAD_ROW_POLICIES:
        raise UserError(f"--on-bad-row must be one of {', '.join(BAD_ROW_POLICIES)}, got {cfg.on_bad_row!r}")
    bench = benchmark_of(source)
    fields = (cfg.problem_field or bench.problem_field, cfg.answer_field or bench.answer_field)
    skipped: list[str] | None = [] if cfg.on_bad_row == "skip" else None
    records = read_records(bench.file, skipped)
    rows = _rows(
        records, source, *fields, normalise=bench.normalise, level_field=cfg.level_field, skipped=skipped
    )
    loaded = _dedup(rows, exclude)
    loaded.skipped = skipped or []
    if bench.size is not None and len(loaded.rows) + loaded.duplicates + loaded.excluded != bench.size:
        got = len(loaded.rows) + loaded.duplicates + loaded.excluded
        raise UserError(f"{bench.file}: benchmark {bench.name} should hold {bench.size} rows, has {got}")
    if cfg.n is not None and cfg.n < len(loaded.rows):
        keep = sorted(random.Random(cfg.seed).sample(range(len(loaded.rows)), cfg.n))
        loaded.rows = [loaded.rows[i] for i in keep]
    return loaded


def benchmark_of(source: str) -> Benchmark:
    """`bench:NAME` -> its registry entry; a file or hf: source -> an entry with detected fields."""
    if not source.startswith("bench:"):
        return Benchmark(name=source_name(source), file=source, registered=False)
    if "," in source or source == "bench:all":
        raise UserError(f"{source}: one benchmark per source (import several with several commands)")
    return resolve(source)[0]


def read_records(source: str, skipped: list[str] | None = None) -> Iterator[tuple[str, dict]]:
    """(where, record) of a file or dataset; with a `skipped` list, malformed lines go there instead of
    stopping the read."""
    from problemsets.files import read_jsonl, read_parquet
    from problemsets.hf import read_hf

    if source.startswith("hf:"):
        return read_hf(source)
    path = Path(source)
    if path.suffix == ".jsonl":
        return read_jsonl(path, skipped)
    if path.suffix == ".parquet":
        return read_parquet(path)
    raise UserError(
        f"unknown source {source!r}: expected builtin:arith, builtin:FAMILY, bench:NAME, FILE.jsonl, "
        "FILE.parquet or hf:NAME[:SPLIT]"
    )


def source_name(source: str) -> str:
    """What `problems.source` records: the file name for files (no local directories), else the spec."""
    return source if source.startswith(("hf:", "builtin:", "bench:")) else Path(source).name


def _rows(
    records: Iterable[tuple[str, dict]],
    source: str,
    problem_field: str | None,
    answer_field: str | None,
    normalise: str = "gold",
    level_field: str | None = None,
    skipped: list[str] | None = None,
) -> Iterator[dict]:
    """Problems rows; a bad row stops the import, or (with a `skipped` list) is recorded there and passed."""
    fields = None
    name = source_name(source)
    for where, record in records:
        if fields is None:  # detected once, from the first record: every later one must match
            fields = detect_fields(record, problem_field, answer_field, where, level_field)
        try:
            yield to_row(record, fields, name, where, normalise=normalise)
        except UserError as e:
            if skipped is None:
                raise
            skipped.append(str(e))


def _dedup(rows: Iterable[dict], exclude: set[str]) -> Loaded:
    loaded, seen = Loaded(rows=[]), set()
    for row in rows:
        pid = row["problem_id"]
        if pid in exclude:
            loaded.excluded += 1
        elif pid in seen:
            loaded.duplicates += 1
        else:
            seen.add(pid)
            loaded.rows.append(row)
    return loaded


def excluded_ids(paths: Iterable[Path]) -> set[str]:
    """problem_ids of held-out sets: lakes (their problems table) or problem files (.jsonl/.parquet)."""
    from lakehouse.store import Lake

    ids: set[str] = set()
    for path in paths:
        path = Path(path)
        if path.is_dir():
            lake = Lake(path, create=False)
            if not lake.has("problems"):
                raise UserError(f"--exclude {path}: no problems table in this lake")
            ids.update(lake.read("problems", columns=["problem_id"]).column("problem_id").to_pylist())
        elif path.suffix in (".jsonl", ".parquet") and path.is_file():
            ids.update(row["problem_id"] for row in _rows(read_records(str(path)), str(path), None, None))
        else:
            raise UserError(f"--exclude {path}: not a lake directory or a .jsonl/.parquet file")
    return ids
