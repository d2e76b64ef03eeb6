"""DuckDB over the lake: one SQL view per table, derived views, and a sandbox for user SQL.

The sandbox relies on DuckDB's own access control rather than on parsing: external access is
switched off except for the lake directory (`allowed_directories`), extension auto-install/-load is
off, and the configuration is locked so no `SET` can lift it. On top of that exactly one statement
is accepted, and only read-only statement types.
"""

from __future__ import annotations

import duckdb

from lakehouse.errors import UserError
from lakehouse.schema import TABLES
from lakehouse.store import Lake, existing_lake

# name -> SQL body of a view over the lake's tables that a downstream package defines (curate's
# problem_stats): the package registers them when imported for use, so the lake knows no package above it.
# Created in order after the base tables; a view whose inputs are missing is skipped.
DERIVED_VIEWS: dict[str, str] = {}


def register_view(name: str, body: str) -> None:
    """Add a derived view to every session opened from now on (re-registering a name replaces it)."""
    DERIVED_VIEWS[name] = body


READ_ONLY_STATEMENTS = {"SELECT", "EXPLAIN"}


def view_name(table: str) -> str:
    """ "views/sft" -> "sft"; "problems" -> "problems"; "a/b" -> "a_b"."""
    if table.startswith("views/"):
        return table.split("/", 1)[1].replace("/", "_")
    return table.replace("/", "_")


def _quote_list(paths) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def connect(root, sandbox: bool = False) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with a view per lake table (and the derived views)."""
    lake = existing_lake(root)
    con = duckdb.connect(":memory:")
    names = set()
    for table in sorted(set(lake.tables()) | set(TABLES)):
        name = view_name(table)
        files = lake.files(table)
        if files:
            con.execute(
                f'CREATE VIEW "{name}" AS SELECT * FROM read_parquet({_quote_list(files)}, union_by_name=true)'
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
        _lock_down(con, lake)
    return con


def _lock_down(con: duckdb.DuckDBPyConnection, lake: Lake) -> None:
    root = str(lake.root.resolve())
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute(f"SET allowed_directories = ['{root.replace(chr(39), chr(39) * 2)}']")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def check_user_sql(sql: str) -> str:
    """Accept exactly one read-only statement; return it. Anything else is a UserError."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as e:
        raise UserError(f"SQL does not parse: {_first_line(e)}") from None
    if len(statements) != 1:
        raise UserError(f"exactly one SQL statement is allowed, got {len(statements)}")
    kind = statements[0].type.name
    if kind not in READ_ONLY_STATEMENTS:
        raise UserError(f"{kind} statements are not allowed: `curate sql` is read-only over the lake")
    return statements[0].query


def run_user_sql(root, sql: str) -> duckdb.DuckDBPyRelation:
    """Run user SQL in the sandbox. Errors (including refused file access) become one-line UserErrors."""
    query = check_user_sql(sql)
    con = connect(root, sandbox=True)
    try:
        return con.sql(query)
    except duckdb.Error as e:
        raise UserError(_first_line(e)) from None


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
