"""`curate stats`: rows per lake table, then any registered summary sections (verification, funnel)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from lakehouse import Lake, existing_lake
from lakehouse.errors import UserError

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


def check_main(root: Path) -> None:
    """Every committed shard against the sha256 its manifest recorded: a shard replaced or edited in
    place is named (the first one, and how many in all) and the command exits 2."""
    lake = existing_lake(root)
    problems = [p for table in lake.tables() for p in lake.verify(table)]
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise UserError(f"lake check failed: {problems[0]}{more}")
    shards = sum(len(lake.manifest(t)["shards"]) for t in lake.tables())
    print(f"lake check: {shards} shards in {len(lake.tables())} tables match their manifests")
