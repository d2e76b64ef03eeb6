"""The DuckDB session: views over the lake and the sandbox around user SQL."""

from __future__ import annotations

import pyarrow as pa
import pytest

from lakehouse import Lake, UserError
from lakehouse.sql import DERIVED_VIEWS, connect, register_view, run_user_sql


@pytest.fixture()
def lake_dir(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.write(
        "problems",
        pa.table({
            "problem_id": ["a", "b"], "source": ["s", "s"], "problem": ["1+1", "2+2"], "answer": ["2", "4"],
            "domain": ["arith", "arith"], "level": [1, 2], "meta": ["{}", "{}"],
        }),
    )  # fmt: skip
    lake.write("views/sft", pa.table({"problem_id": ["a"], "trace_id": ["t"]}))
    (tmp_path / "secret.csv").write_text("k\nsecret\n")
    return tmp_path / "lake"


def test_views_for_tables_and_empty_tables(lake_dir):
    con = connect(lake_dir)
    assert con.execute("select problem_id, level from problems order by 1").fetchall() == [("a", 1), ("b", 2)]
    assert con.execute("select count(*) from traces").fetchone() == (0,)
    assert con.execute("select trace_id from sft").fetchall() == [("t",)]


def test_user_sql_reads_lake_files_directly(lake_dir):
    table = run_user_sql(lake_dir, f"select count(*) as n from read_parquet('{lake_dir}/problems/*.parquet')")
    assert table.to_pylist() == [{"n": 2}]


@pytest.mark.parametrize(
    "query, message",
    [
        ("select * from read_csv('/etc/passwd')", "Permission Error"),
        ("select * from read_text('/etc/passwd')", "Permission Error"),
        ("select * from read_csv('{lake}/../secret.csv')", "Permission Error"),
        ("select * from glob('/etc/*')", "Permission Error"),
        ("copy problems to '/tmp/minireason-escape.csv'", "COPY statements are not allowed"),
        ("copy problems to '{lake}/inside.csv'", "COPY statements are not allowed"),
        ("attach '/tmp/minireason-escape.db' as x", "ATTACH statements are not allowed"),
        ("install httpfs", "LOAD statements are not allowed"),
        ("load httpfs", "LOAD statements are not allowed"),
        ("set enable_external_access = true", "SET statements are not allowed"),
        ("reset lock_configuration", "SET statements are not allowed"),
        (
            "select 1; copy problems to '/tmp/minireason-escape.csv'",
            "exactly one SQL statement is allowed, got 2",
        ),
        ("create table t as select 1", "CREATE statements are not allowed"),
        ("select * from nonexistent_table", "Catalog Error"),
        ("selec 1", "SQL does not parse"),
    ],
)
def test_escapes_are_refused(lake_dir, query, message):
    with pytest.raises(UserError) as e:
        run_user_sql(lake_dir, query.format(lake=lake_dir))
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_sandbox_configuration_is_locked(lake_dir):
    con = connect(lake_dir, sandbox=True, temp_dir=lake_dir.parent)
    assert con.execute("select current_setting('enable_external_access')").fetchone() == (False,)
    with pytest.raises(Exception, match="lock"):
        con.execute("set enable_external_access = true")


def test_missing_lake_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no lake at"):
        connect(tmp_path / "nope")


def test_registered_views_are_in_every_session_and_skipped_without_their_inputs(lake_dir, monkeypatch):
    monkeypatch.setattr("lakehouse.sql.DERIVED_VIEWS", dict(DERIVED_VIEWS))  # the registry is per process
    register_view("levels", "SELECT level, count(*) AS n FROM problems GROUP BY level")
    register_view("needs_more", "SELECT * FROM no_such_table")
    con = connect(lake_dir)
    assert con.execute("SELECT level, n FROM levels ORDER BY 1").fetchall() == [(1, 1), (2, 1)]
    assert con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'needs_more'").fetchone() == (
        0,
    )


def test_a_column_added_since_the_shards_were_written_reads_as_null(tmp_path):
    """An older lake's traces have no reasoning_tokens column: SQL and Lake.read both show it as NULL."""
    import pyarrow.parquet as pq

    from lakehouse.schema import TRACES
    from lakehouse.store import Lake

    lake = Lake(tmp_path / "lake")
    row = {f.name: None for f in TRACES} | {"trace_id": "t1", "problem_id": "p", "run": "r", "sample_idx": 0}
    lake.write("traces", pa.Table.from_pylist([row], schema=TRACES), partition="run=r")
    (shard,) = lake.files("traces")
    pq.write_table(
        pq.read_table(shard).drop_columns(["reasoning_tokens"]), shard
    )  # as an older version wrote it
    assert connect(lake.root).execute("SELECT trace_id, reasoning_tokens FROM traces").fetchall() == [
        ("t1", None)
    ]
    assert lake.read("traces").column("reasoning_tokens").to_pylist() == [None]
