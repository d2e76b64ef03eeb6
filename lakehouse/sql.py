"""DuckDB over the lake: one SQL view per table, derived views, and a sandbox for user SQL.

The sandbox has three layers, each enough on its own for what it guards:
- what a statement *is* comes from DuckDB's parser (`extract_statements`), never from keywords: exactly one
  statement, of type SELECT, or an EXPLAIN [ANALYZE] whose inner statement DuckDB parses as a SELECT
  (EXPLAIN ANALYZE executes its statement, so `EXPLAIN ANALYZE COPY ...` is a COPY);
- DuckDB's access control: external access off except the lake directory (reads; every statement that
  writes a file is refused above) and a private, empty temp directory made for this session (DuckDB allows
  its temp directory implicitly, and the default `./.tmp` would open the working directory);
  extension auto-install/-load off, the configuration locked so no `SET` can lift it;
- a wall-clock limit: the query is interrupted (`--timeout`).
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
from pathlib import Path

import duckdb
import pyarrow as pa

from lakehouse.errors import UserError
from lakehouse.schema import TABLES
from lakehouse.store import Lake, existing_lake

# name -> SQL body of a view over the lake's tables that a downstream package defines (curate's
# problem_stats): the package registers them when imported for use, so the lake knows no package above it.
# Created in order after the base tables; a view whose inputs are missing is skipped.
DERIVED_VIEWS: dict[str, str] = {}

DEFAULT_TIMEOUT_S = 300.0  # longer than any query the docs show on a 10M-trace lake; `--timeout` overrides
# The EXPLAIN prefix DuckDB accepts: EXPLAIN [ANALYZE] [(option, ...)]. Only used to find the inner
# statement, which DuckDB then parses; a prefix this does not match leaves text that fails to parse (refused).
_EXPLAIN = re.compile(r"^\s*explain\s+(?:analy[sz]e\s+)?(?:\([^()]*\)\s*)?", re.IGNORECASE)


def register_view(name: str, body: str) -> None:
    """Add a derived view to every session opened from now on (re-registering a name replaces it)."""
    DERIVED_VIEWS[name] = body


def view_name(table: str) -> str:
    """ "views/sft" -> "sft"; "problems" -> "problems"; "a/b" -> "a_b"."""
    if table.startswith("views/"):
        return table.split("/", 1)[1].replace("/", "_")
    return table.replace("/", "_")


def _quote(s) -> str:
    return "'" + str(s).replace("'", "''") + "'"


def _quote_list(paths) -> str:
    return "[" + ", ".join(_quote(p) for p in paths) + "]"


def connect(root, sandbox: bool = False, temp_dir: Path | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with a view per lake table (and the derived views).
    A sandboxed session needs `temp_dir`, a private folder the caller removes afterwards."""
    lake = existing_lake(root)
    con = duckdb.connect(":memory:")
    names = set()
    for table in sorted(set(lake.tables()) | set(TABLES)):
        name = view_name(table)
        files = [p.resolve() for p in lake.files(table)]
        if files:
            con.execute(
                f'CREATE VIEW "{name}" AS SELECT *{_added_columns(con, files, TABLES.get(table))} '
                f"FROM read_parquet({_quote_list(files)}, union_by_name=true)"
            )
        elif table in TABLES:
            con.register(f"_empty_{name}", TABLES[table].empty_table())
            con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM "_empty_{name}"')
        else:
            continue
        names.add(name)
    for name, body in DERIVED_VIEWS.items():
        try:
            con.execute(f'CREATE VIEW "{name}" AS {body}')
        except duckdb.Error:
            continue  # its inputs are not in this lake yet
    if sandbox:
        if temp_dir is None:
            raise ValueError("a sandboxed session needs a private temp_dir")
        _lock_down(con, lake, temp_dir)
    return con


def _lock_down(con: duckdb.DuckDBPyConnection, lake: Lake, temp_dir: Path) -> None:
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute(f"SET temp_directory = {_quote(temp_dir.resolve())}")
    con.execute(f"SET allowed_directories = [{_quote(lake.root.resolve())}]")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def _parse_one(sql: str) -> duckdb.Statement:
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as e:
        raise UserError(f"SQL does not parse: {_first_line(e)}") from None
    if len(statements) != 1:
        raise UserError(f"exactly one SQL statement is allowed, got {len(statements)}")
    return statements[0]


def check_user_sql(sql: str) -> str:
    """Accept exactly one read-only statement; return it. Anything else is a UserError."""
    statement = _parse_one(sql)
    kind = statement.type.name
    if kind == "EXPLAIN":
        prefix = _EXPLAIN.match(statement.query)
        try:
            inner = _parse_one(statement.query[prefix.end() :]).type.name if prefix else None
        except UserError:
            inner = None
        if inner != "SELECT":
            what = f"a {inner} statement" if inner else "anything but one SELECT statement"
            raise UserError(f"EXPLAIN of {what} is not allowed: `curate sql` is read-only over the lake")
    elif kind != "SELECT":
        raise UserError(f"{kind} statements are not allowed: `curate sql` is read-only over the lake")
    return statement.query


def run_user_sql(root, sql: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> pa.Table:
    """Run user SQL in the sandbox and fetch the result. Every DuckDB error, including one raised while
    fetching, refused file access and the timeout, becomes a one-line UserError."""
    query = check_user_sql(sql)
    if not timeout_s > 0:
        raise UserError(f"--timeout {timeout_s:g}: must be > 0 seconds")
    temp_dir = Path(tempfile.mkdtemp(prefix="minireason-sql-"))  # 0700: only this user
    try:
        return _run_sandboxed(root, query, timeout_s, temp_dir)
    finally:  # also after Ctrl-C
        shutil.rmtree(temp_dir, ignore_errors=True)


def _run_sandboxed(root, query: str, timeout_s: float, temp_dir: Path) -> pa.Table:
    con = connect(root, sandbox=True, temp_dir=temp_dir)
    fired = threading.Event()

    def interrupt() -> None:
        fired.set()
        con.interrupt()

    timer = threading.Timer(timeout_s, interrupt)
    timer.start()
    try:
        rel = con.sql(query)
        return rel.to_arrow_table() if rel is not None else pa.table({})
    except duckdb.InterruptException:
        if not fired.is_set():
            raise KeyboardInterrupt from None  # Ctrl-C reached DuckDB first: the CLI exits 130
        raise UserError(f"query interrupted after --timeout {timeout_s:g}s") from None
    except duckdb.Error as e:
        raise UserError(_first_line(e)) from None
    finally:
        timer.cancel()
        con.close()


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def _added_columns(con, files: list, schema) -> str:
    """`, NULL::T AS c` for each column the table's schema has and no shard does (added since the shards
    were written), so queries over an older lake see every column, as Lake.read does. The newest shard is
    written in the current schema when nothing was added since: one footer read settles the common case."""
    if schema is None:
        return ""
    import pyarrow.parquet as pq

    if set(schema.names) <= set(pq.read_schema(files[-1]).names):
        return ""
    query = f"DESCRIBE SELECT * FROM read_parquet({_quote_list(files)}, union_by_name=true)"
    present = {r[0] for r in con.execute(query).fetchall()}
    missing = [f for f in schema if f.name not in present]
    return "".join(f', NULL::{_duck_type(f.type)} AS "{f.name}"' for f in missing)


def _duck_type(t) -> str:
    if pa.types.is_integer(t):
        return "BIGINT"
    if pa.types.is_floating(t):
        return "DOUBLE"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ"
    return "VARCHAR"
