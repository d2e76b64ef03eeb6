"""`curate benchmarks`: the registry as a table (name, rows, fields, k, license, source)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from problemsets.registry import registry


def main() -> None:
    reg = registry()
    table = Table(show_lines=False)
    for col in ("name", "rows", "problem", "answer", "k", "license", "source"):
        table.add_column(col, justify="right" if col in ("rows", "k") else "left", overflow="fold")
    for b in reg.values():
        size = f"{b.size:,}" if b.size is not None else "?"
        table.add_row(
            b.name, size, b.problem_field or "auto", b.answer_field or "auto", str(b.k), b.license, b.source
        )
    console = Console(width=max(Console().width, 160))
    console.print(table)
    print(f"benchmarks: {len(reg)} registered (T 0.6, top-p 0.95, 32,768 tokens unless a set says otherwise)")
