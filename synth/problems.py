"""`synth problems`: load a problem source into LAKE/problems.

Rows whose problem_id the lake already holds are skipped, so importing a source twice adds nothing;
every dropped row is counted in the summary line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
from rich.console import Console

from lakehouse.schema import PROBLEMS
from lakehouse.store import Lake
from problemsets import load
from problemsets.families import LEVELS

CHUNK_ROWS = 100_000  # rows per shard; all shards of one import become visible together


@dataclass
class ProblemsConfig:
    source: str  # builtin:arith | builtin:FAMILY | FILE.jsonl | FILE.parquet | hf:NAME[:SPLIT]
    lake: Path = Path("lake")
    n: int | None = None  # builtin: how many (required); imports: at most this many, sampled by seed
    seed: int = 0
    problem_field: str | None = None  # default: problem, question, prompt or query
    answer_field: str | None = None  # default: answer, final_answer or solution
    exclude: list[Path] = field(default_factory=list)  # held-out lakes/files whose problems are skipped
    levels: tuple[int, ...] = LEVELS  # builtin levels to generate
    level_field: str | None = None  # default: level or difficulty ("Level 3", 3, 3.0; 4.25 rounds to 4)
    on_bad_row: str = "error"  # error | skip: a bad row (no answer, malformed line) is counted and reported


def main(cfg: ProblemsConfig) -> str:
    lake = Lake(cfg.lake, create=False)  # a lake path that is a file fails here, before any work
    with Console(stderr=True).status(f"loading problems from {cfg.source}"):  # silent when not a terminal
        loaded = load(cfg.source, cfg)
    existing = set(lake.read("problems", columns=["problem_id"]).column("problem_id").to_pylist())
    new = [row for row in loaded.rows if row["problem_id"] not in existing]
    if new:
        table = pa.Table.from_pylist(new, schema=PROBLEMS)
        lake.write_many("problems", [table.slice(i, CHUNK_ROWS) for i in range(0, len(new), CHUNK_ROWS)])
    return summary(cfg, len(new), len(loaded.rows) - len(new), loaded, lake.rows("problems"))


def summary(cfg: ProblemsConfig, written: int, in_lake: int, loaded, total: int) -> str:
    line = (
        f"problems: {written} new from {cfg.source} into {cfg.lake}/problems ({total} in total); "
        f"dropped {loaded.duplicates} duplicate(s), {in_lake} already in the lake, {loaded.excluded} excluded"
    )
    if loaded.capped:
        line += f"; capped (no more distinct problems): {', '.join(loaded.capped)}"
    if loaded.skipped:
        line += f"; skipped {len(loaded.skipped)} bad row(s): {'; '.join(loaded.skipped[:3])}"
        line += "; ..." if len(loaded.skipped) > 3 else ""
    return line
