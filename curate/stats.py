"""`curate stats`: rows per lake table, then any registered summary sections (verification, funnel)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from lakehouse import Lake, existing_lake

# name -> function(lake_root) returning a rich renderable or None; other steps register their summaries here
SECTIONS: dict[str, Callable] = {}


def _verification(root: Path):
    from curate.verify_stats import section  # pass rate per level and per teacher (curate verify)

    return section(root)


SECTIONS["verification"] = _verification


def _funnel(root: Path):
    from curate.funnel import stats_section  # the drop-reason funnel of the last `curate run`

    return stats_section(root)


SECTIONS["funnel"] = _funnel


def table_counts(lake: Lake) -> Table:
    t = Table(title=f"lake {lake.root}")
    t.add_column("table")
    t.add_column("shards", justify="right")
    t.add_column("rows", justify="right")
    for name in lake.tables():
        m = lake.manifest(name)["shards"]
        t.add_row(name, str(len(m)), f"{sum(e['rows'] for e in m):,}")
    return t


def main(root: Path) -> None:
    lake = existing_lake(root)
    console = Console()
    console.print(table_counts(lake))
    for section in SECTIONS.values():
        renderable = section(root)
        if renderable is not None:
            console.print(renderable)
