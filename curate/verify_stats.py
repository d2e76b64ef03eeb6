"""The verification part of `curate stats`: teacher pass rate and difficulty-band counts per level and
per teacher (bands as in `problem_stats`, computed per problem within each group)."""

from __future__ import annotations

from pathlib import Path

from rich import box
from rich.console import Group
from rich.table import Table

from curate.verify import BAND_NAMES, BANDS_TABLE
from data_cards.stats import judge_rows
from lakehouse import Lake
from lakehouse.sql import connect

_GROUPED_SQL = """
WITH v AS (
  SELECT trace_id, any_value(problem_id) AS problem_id, bool_or(correct) AS correct FROM verdicts GROUP BY 1
),
per AS (
  SELECT {group} AS grp, v.problem_id, count(*) AS n, count(*) FILTER (WHERE v.correct) AS k
  FROM v JOIN traces t USING (trace_id)
  LEFT JOIN (SELECT problem_id, any_value(level) AS level FROM problems GROUP BY 1) p ON p.problem_id = v.problem_id
  GROUP BY 1, 2
),
banded AS (
  SELECT grp, n, k, CASE WHEN k = 0 THEN 'unsolved' WHEN k = n THEN 'trivial'
                         WHEN k / n < b.hard_below THEN 'hard' WHEN k / n < b.medium_below THEN 'medium'
                         ELSE 'easy' END AS band
  FROM per CROSS JOIN (SELECT any_value(hard_below) AS hard_below, any_value(medium_below) AS medium_below
                       FROM difficulty_bands) b
)
SELECT grp, count(*), sum(n), sum(k), {band_counts} FROM banded GROUP BY grp ORDER BY grp NULLS LAST
"""


def pass_rate_rows(root: Path, group: str) -> list[tuple]:
    """(group value, problems, samples, correct samples, one count per band) for group "level" or "teacher"."""
    column = {"level": "p.level", "teacher": "t.teacher"}[group]
    band_counts = ", ".join(f"count(*) FILTER (WHERE band = '{b}')" for b in BAND_NAMES)
    con = connect(root)
    return con.execute(_GROUPED_SQL.format(group=column, band_counts=band_counts)).fetchall()


def section(root: Path) -> Group | None:
    """The renderable for `curate stats`; None when nothing was verified yet."""
    lake = Lake(root, create=False)
    if not lake.has("verdicts") or not lake.has(BANDS_TABLE):
        return None
    tables = [_table(group, pass_rate_rows(root, group)) for group in ("level", "teacher")]
    judges = judge_rows(connect(root))
    if judges:
        tables.append(_judge_table(judges))
    return Group(*tables)


def _judge_table(rows: list[tuple[str, int, int]]) -> Table:
    t = Table(title="LLM judge behind math-verify", box=box.SIMPLE_HEAD, pad_edge=False)
    for name in ("judge", "decided", "overturned", "share"):
        t.add_column(name, justify="left" if name == "judge" else "right", no_wrap=True)
    for judge, decided, overturned in rows:
        t.add_row(judge, f"{decided:,}", f"{overturned:,}", f"{overturned / decided:.3f}")
    return t


def _table(group: str, rows: list[tuple]) -> Table:
    t = Table(
        title=f"teacher pass rate per {group} (problems per difficulty band)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for name in (group, "samples", "pass", *BAND_NAMES):  # the band counts add up to the problems
        t.add_column(
            name,
            justify="left" if name == group else "right",
            no_wrap=True,
            min_width=max(len(name), 10 * (name == group)),
        )
    for grp, _problems, samples, correct, *bands in rows:
        label = "-" if grp is None else str(grp)
        t.add_row(label, f"{samples:,}", f"{correct / samples:.3f}", *(f"{b:,}" for b in bands))
    return t
