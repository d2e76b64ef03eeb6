"""`curate sql`: one read-only statement over the lake, rendered as a table, CSV, JSON or parquet."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import curate.sql_views  # noqa: F401  (registers problem_stats with the session)
from lakehouse.errors import UserError
from lakehouse.sql import DEFAULT_TIMEOUT_S, run_user_sql
from lakehouse.store import write_user_file

FORMATS = ("table", "csv", "json", "parquet")
MAX_TABLE_ROWS = 200


def main(lake: Path, query: str, fmt: str, out: Path | None, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if fmt == "parquet" and out is None:
        raise UserError("--format parquet needs --out FILE")
    if out is not None and out.is_dir():
        raise UserError(f"--out {out} is a directory")
    if out is not None and not out.parent.is_dir():
        raise UserError(f"--out {out}: folder {out.parent} does not exist")
    result = run_user_sql(lake, query, timeout_s)
    data = render(result, fmt)
    if out is None:
        sys.stdout.write(data.decode() if isinstance(data, bytes) else data)
        return
    write_user_file(out, data if isinstance(data, bytes) else data.encode())  # never half-written
    print(f"wrote {result.num_rows} rows to {out}", file=sys.stderr)


def _flat(table: pa.Table) -> pa.Table:
    """CSV has no nested types: lists, structs and maps become their JSON text."""
    cols = []
    for col in table.columns:
        if pa.types.is_nested(col.type):
            col = pa.array(
                [None if v is None else json.dumps(v, default=str) for v in col.to_pylist()], pa.string()
            )
        cols.append(col)
    return pa.table(cols, names=table.column_names)


def render(table: pa.Table, fmt: str) -> str | bytes:
    if fmt == "csv":
        buf = io.BytesIO()
        pacsv.write_csv(_flat(table), buf)
        return buf.getvalue()
    if fmt == "json":
        return "".join(json.dumps(r, default=str, ensure_ascii=False) + "\n" for r in table.to_pylist())
    if fmt == "parquet":
        buf = io.BytesIO()
        pq.write_table(table, buf)
        return buf.getvalue()
    return rich_table(table)


def rich_table(table: pa.Table) -> str:
    t = Table(show_lines=False)
    for name in table.column_names:
        t.add_column(escape(name), overflow="fold")
    for row in table.slice(0, MAX_TABLE_ROWS).to_pylist():
        t.add_row(*(escape(_cell(v)) for v in row.values()))  # data is text, never rich markup
    console = Console(
        file=io.StringIO(), width=max(80, min(200, 24 * len(table.column_names))), force_terminal=False
    )
    console.print(t)
    more = (
        f"({table.num_rows} rows, first {MAX_TABLE_ROWS} shown)\n"
        if table.num_rows > MAX_TABLE_ROWS
        else f"({table.num_rows} rows)\n"
    )
    return console.file.getvalue() + more


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    s = "" if v is None else str(v)
    return s if len(s) <= 120 else s[:117] + "..."
