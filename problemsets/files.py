"""Read records from a JSONL or parquet file, each with a `file:line` for error messages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from lakehouse.errors import UserError


def _check_file(path: Path) -> None:
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if not path.is_file():
        raise UserError(f"{path}: not a file")


def read_jsonl(path: Path, skipped: list[str] | None = None) -> Iterator[tuple[str, dict]]:
    """(`file:line`, record) for every non-blank line; malformed lines and empty files are errors (with a
    `skipped` list, a malformed line is recorded there and passed)."""
    _check_file(path)
    seen = False
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                where = f"{path}:{lineno}"
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as e:
                    _bad(f"{where}: malformed JSON ({e.msg})", skipped)
                    continue
                if not isinstance(record, dict):
                    _bad(f"{where}: expected a JSON object, got {type(record).__name__}", skipped)
                    continue
                seen = True
                yield where, record
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text") from None
    if not seen:
        raise UserError(f"{path}: empty file (no records)")


def read_parquet(path: Path) -> Iterator[tuple[str, dict]]:
    """(`file: row N`, record) for every row (1-based)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    _check_file(path)
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise UserError(f"{path}: not a readable parquet file ({str(e).splitlines()[0]})") from None
    if table.num_rows == 0:
        raise UserError(f"{path}: empty file (no rows)")
    for i, record in enumerate(table.to_pylist(), 1):
        yield f"{path}: row {i}", record


def _bad(message: str, skipped: list[str] | None) -> None:
    if skipped is None:
        raise UserError(message)
    skipped.append(message)
