"""`builtin:arith` / `builtin:<family>`: procedurally generated problems with exact gold answers.

Problems are balanced over (family, level) cells. Each cell has its own random stream derived from
(seed, family, level), so a larger `n` extends a smaller one. A cell that runs out of distinct
problems (small levels have few) stops after a run of misses and is reported as capped: asking for
more problems than exist never loops forever.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field

from lakehouse.errors import UserError
from lakehouse.ids import problem_id, stable_hash
from problemsets.families import FAMILIES, LEVELS
from problemsets.families.work import Work, latex

MIN_MISSES = 2000  # consecutive duplicates/exclusions before a cell is declared exhausted


@dataclass
class BuiltinResult:
    rows: list[dict]
    capped: list[str] = field(default_factory=list)  # "chain/1: 1560 of 2000"
    excluded: set[str] = field(default_factory=set)  # held-out problem_ids the generator ran into


def families_of(source: str) -> list[str]:
    name = source.removeprefix("builtin:")
    if name == "arith":
        return list(FAMILIES)
    if name not in FAMILIES:
        choices = ", ".join(["arith", *FAMILIES])
        raise UserError(f"unknown builtin source {source!r}; choose builtin:NAME with NAME one of: {choices}")
    return [name]


def quotas(n: int, cells: int) -> list[int]:
    """`n` split over `cells` as evenly as possible (the first cells take the remainder)."""
    return [n // cells + (1 if i < n % cells else 0) for i in range(cells)]


def generate(
    source: str, n: int, seed: int, levels: tuple[int, ...] = LEVELS, exclude: frozenset[str] = frozenset()
) -> BuiltinResult:
    bad = [lv for lv in levels if lv not in LEVELS]
    if bad or not levels:
        raise UserError(f"levels must be among {LEVELS}, got {list(levels)}")
    cells = [(fam, lv) for fam in families_of(source) for lv in levels]
    result = BuiltinResult(rows=[])
    ids = _Ids(exclude=exclude, excluded=result.excluded)
    for (fam, lv), quota in zip(cells, quotas(n, len(cells)), strict=True):
        rows = _fill_cell(source, fam, lv, quota, seed, ids)
        if len(rows) < quota:
            result.capped.append(f"{fam}/{lv}: {len(rows)} of {quota}")
        result.rows.extend(rows)
    return result


@dataclass
class _Ids:
    """Problem ids already taken (this run) or held out (--exclude), across all cells."""

    exclude: frozenset[str]
    excluded: set[str]  # held-out ids the generator ran into, for the summary
    seen: set[str] = field(default_factory=set)

    def take(self, pid: str) -> bool:
        if pid in self.exclude:
            self.excluded.add(pid)
            return False
        if pid in self.seen:
            return False
        self.seen.add(pid)
        return True


def _fill_cell(source: str, fam: str, level: int, quota: int, seed: int, ids: _Ids) -> list[dict]:
    family = FAMILIES[fam]
    rng = random.Random(int(stable_hash(f"{seed}\x1f{fam}\x1f{level}"), 16))
    rows: list[dict] = []
    misses = 0
    # a cell is exhausted after many misses in a row; 10x its size leaves ~e^-10 chance of missing one
    while len(rows) < quota and misses < max(MIN_MISSES, 10 * len(rows)):
        params = family.generate(rng, level)
        text = family.render(params)
        pid = problem_id(text)
        if not ids.take(pid):
            misses += 1
            continue
        misses = 0
        meta = {"family": fam, "level": level, **params}
        answer = latex(family.solve(params, Work()))
        rows.append(
            {
                "problem_id": pid,
                "source": source,
                "problem": text,
                "answer": answer,
                "domain": fam,
                "level": level,
                "meta": json.dumps(meta, separators=(",", ":")),
            }
        )
    return rows
