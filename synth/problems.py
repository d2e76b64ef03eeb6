"""`synth problems`: load a problem source into LAKE/problems.

Rows whose problem_id the lake already holds are skipped, so importing a source twice adds nothing;
every dropped row is counted in the summary line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
from rich.console import Console

from lakehouse.errors import UserError
from lakehouse.options import opt
from lakehouse.schema import PROBLEMS
from lakehouse.store import Lake
from problemsets import load
from problemsets.families import LEVELS

CHUNK_ROWS = 100_000  # rows per shard; all shards of one import become visible together


def parse_levels(text: str) -> tuple[int, ...]:
    try:
        levels = tuple(sorted({int(x) for x in text.split(",") if x.strip()}))
    except ValueError:
        raise UserError(f"--levels {text!r}: expected comma-separated integers 1-5, e.g. 1,2,3") from None
    if not levels or not all(1 <= x <= 5 for x in levels):
        raise UserError(f"--levels {text!r}: levels are 1-5")
    return levels


@dataclass
class ProblemsConfig:
    source: str = field(  # required
        metadata={
            "help": "builtin:arith | builtin:FAMILY | bench:NAME | FILE.jsonl | FILE.parquet | hf:NAME[:SPLIT]"
        }
    )
    lake: Path = opt(Path("lake"), "--lake", "Lake directory.")
    # builtin: how many (required); imports: at most this many, sampled by seed
    n: int | None = opt(None, "--n", "Number of problems (builtin: required; files: at most N).")
    seed: int = opt(0, "--seed", "Seed of the builtin generator (and of sampling N rows from a file).")
    # defaults: problem, question, prompt or query / answer, final_answer or solution
    problem_field: str | None = opt(None, "--problem-field", "Field holding the problem text.")
    answer_field: str | None = opt(None, "--answer-field", "Field holding the gold answer.")
    exclude: list[Path] = field(
        default_factory=list,
        metadata={
            "help": "Lake dirs or .jsonl/.parquet files whose problems are skipped (disjoint held-out sets)."
        },
    )
    levels: tuple[int, ...] = opt(
        LEVELS, "--levels", "Builtin levels to generate, e.g. 1,2,3 (default: 1-5).", parse=parse_levels
    )
    level_field: str | None = opt(
        None, "--level-field", "Field holding the level (default: level or difficulty; 4.25 rounds to 4)."
    )
    on_bad_row: str = opt(
        "error", "--on-bad-row", "error: a bad row stops the import; skip: bad rows are counted and reported."
    )


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
