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
from lakehouse.store import Lake

# name -> SQL body. Created in order after the base tables; a view whose inputs are missing is skipped.
# Other packages' views live here because they are views *of the lake* (imports follow the data).
DERIVED_VIEWS: dict[str, str] = {}

# Teacher pass rate per problem (owner: reward/curate verify). One verdict per trace counts (a trace
# verified twice counts once); n counts every verified sample, truncated and unanswered ones included
# (they are the teacher's failures), n_failed the verifier's own timeouts/errors among them. The band
# thresholds come from the `difficulty_bands` table that `curate verify` writes (defaults 0.25 / 0.5):
# unsolved p = 0, hard p < hard_below, medium p < medium_below, easy p < 1, trivial p = 1.
DERIVED_VIEWS["problem_stats"] = """
SELECT s.problem_id, s.n, s.n_correct, s.n_failed, s.pass_rate, s.mean_completion_tokens,
       CASE WHEN s.n_correct = 0 THEN 'unsolved'
            WHEN s.n_correct = s.n THEN 'trivial'
            WHEN s.pass_rate < b.hard_below THEN 'hard'
            WHEN s.pass_rate < b.medium_below THEN 'medium'
            ELSE 'easy' END AS band
FROM (
  SELECT v.problem_id, count(*) AS n, count(*) FILTER (WHERE v.correct) AS n_correct,
         count(*) FILTER (WHERE v.status IN ('timeout', 'error')) AS n_failed,
         avg(CAST(v.correct AS DOUBLE)) AS pass_rate,
         avg(t.completion_tokens) AS mean_completion_tokens
  FROM (SELECT trace_id, any_value(problem_id) AS problem_id, bool_or(correct) AS correct,
               any_value(status) AS status
        FROM verdicts GROUP BY trace_id) v
  LEFT JOIN traces t USING (trace_id)
  GROUP BY v.problem_id
) s
CROSS JOIN (SELECT any_value(hard_below) AS hard_below, any_value(medium_below) AS medium_below
            FROM difficulty_bands) b
"""

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
    lake = Lake(root, create=False)
    if not lake.root.is_dir():
        raise UserError(f"no lake at {lake.root} (run `synth problems` first or pass --lake)")
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
