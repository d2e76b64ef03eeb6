"""The drop-reason funnel: per step, rows in, rows out and the count of each drop reason.

Invariant (checked when a step is added): rows_in - rows_out == sum of the step's reason counts, and
within one unit each step's rows_in is the previous step's rows_out. Stored as the lake table "funnel"
(one row per step and reason; a step without drops has one row with reason NULL and count 0).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
from rich.table import Table

FUNNEL = pa.schema(
    [
        ("step", pa.string()),
        ("unit", pa.string()),
        ("rows_in", pa.int64()),
        ("rows_out", pa.int64()),
        ("reason", pa.string()),
        ("count", pa.int64()),
    ]
)


@dataclass
class Step:
    name: str
    unit: str
    rows_in: int
    rows_out: int
    reasons: Counter = field(default_factory=Counter)


class Funnel:
    def __init__(self) -> None:
        self.steps: list[Step] = []

    def add(self, name: str, unit: str, rows_in: int, reasons: Counter, rows_out: int | None = None) -> Step:
        dropped = sum(reasons.values())
        out = rows_in - dropped if rows_out is None else rows_out
        if rows_in - out != dropped:
            raise AssertionError(f"funnel step {name}: {rows_in} in, {out} out, but {dropped} drops counted")
        step = Step(name, unit, rows_in, out, Counter({k: v for k, v in reasons.items() if v}))
        self.steps.append(step)
        return step

    def to_table(self) -> pa.Table:
        rows = []
        for s in self.steps:
            reasons = sorted(s.reasons.items(), key=lambda kv: (-kv[1], kv[0])) or [(None, 0)]
            rows += [
                {
                    "step": s.name,
                    "unit": s.unit,
                    "rows_in": s.rows_in,
                    "rows_out": s.rows_out,
                    "reason": r,
                    "count": c,
                }
                for r, c in reasons
            ]
        return pa.Table.from_pylist(rows, schema=FUNNEL)


def render(table: pa.Table, title: str = "curation funnel") -> Table:
    """A rich table: one line per step, its drop reasons with counts."""
    out = Table(title=title)
    for name, justify in (
        ("step", "left"),
        ("unit", "left"),
        ("in", "right"),
        ("out", "right"),
        ("dropped", "left"),
    ):
        out.add_column(name, justify=justify)
    steps: dict[str, dict] = {}
    for r in table.to_pylist():
        s = steps.setdefault(r["step"], {**r, "drops": []})
        if r["reason"]:
            s["drops"].append(f"{r['reason']}={r['count']:,}")
    for s in steps.values():
        out.add_row(
            s["step"], s["unit"], f"{s['rows_in']:,}", f"{s['rows_out']:,}", ", ".join(s["drops"]) or "-"
        )
    return out


def stats_section(root: Path):
    """`curate stats` section: the stored funnel, or None before the first `curate run`."""
    from lakehouse.store import Lake

    lake = Lake(root, create=False)
    if not lake.has("funnel"):
        return None
    return render(lake.read("funnel"))
