"""Escape attempts against the `curate sql` sandbox (keep adding to the table).

Each one must be refused with a one-line error and leave the lake and the working directory byte-identical.
The table runs in-process against real DuckDB (a subprocess per row would cost ~2 s each); the first rows,
the escapes issue 19 found, also run through the console script. EXPLAIN ANALYZE executes the statement it
explains, so the statement inside an EXPLAIN decides."""

from __future__ import annotations

import json
import os

import pytest

from lakehouse import UserError
from lakehouse.sql import run_user_sql
from tests.hardening.lakes import assert_one_line_error, make_lake, run, tree_hash


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    return make_lake(tmp_path_factory.mktemp("sandbox") / "lake")


def shard(lake) -> str:
    return str(next((lake / "problems").glob("part-*.parquet")).resolve())


ESCAPES = [
    # issue 19: a manifest overwritten, a shard replaced, a table created, all through EXPLAIN ANALYZE
    (
        "EXPLAIN ANALYZE COPY (select 1 as shards) TO '{lake}/views/sft/.manifest.json' (FORMAT json)",
        "error: EXPLAIN of a COPY statement is not allowed: `curate sql` is read-only over the lake",
    ),
    (
        "EXPLAIN ANALYZE COPY (select * from problems limit 3) TO '{shard}' (FORMAT parquet)",
        "error: EXPLAIN of a COPY statement is not allowed: `curate sql` is read-only over the lake",
    ),
    (
        "EXPLAIN ANALYZE CREATE TABLE t AS SELECT 1",
        "error: EXPLAIN of a CREATE statement is not allowed: `curate sql` is read-only over the lake",
    ),
    (
        "explain (analyze, format json) copy (select 1) to '{lake}/x.json'",
        "error: EXPLAIN of a COPY statement is not allowed: `curate sql` is read-only over the lake",
    ),
    (
        "explain /* hidden */ analyze copy (select 1) to '{lake}/x.csv'",
        "error: EXPLAIN of anything but one SELECT statement is not allowed: `curate sql` is read-only over "
        "the lake",
    ),
    (
        "EXPLAIN ANALYZE EXPLAIN ANALYZE COPY (select 1) TO '{lake}/x.csv'",
        "error: SQL does not parse",
    ),
    ("EXPLAIN ANALYZE INSERT INTO problems SELECT * FROM problems", "error: EXPLAIN of a INSERT statement"),
    ("EXPLAIN ANALYZE UPDATE problems SET level = 0", "error: EXPLAIN of a UPDATE statement"),
    ("EXPLAIN ANALYZE DELETE FROM problems", "error: EXPLAIN of a DELETE statement"),
    ("EXPLAIN ANALYZE CREATE VIEW v AS SELECT 1", "error: EXPLAIN of a CREATE statement"),
    ("EXPLAIN ANALYZE EXPORT DATABASE '{lake}/dump'", "error: SQL does not parse"),
    ("EXPLAIN ANALYZE ATTACH '{lake}/x.db' AS x", "error: SQL does not parse"),
    ("explain analyze select 1; copy problems to '{lake}/x.csv'", "error: exactly one SQL statement"),
    # DuckDB's default temp directory is ./.tmp, allowed implicitly: the session gets a private one
    ("select * from read_text('.tmp/secret.txt')", "error: Permission Error"),
    ("select * from read_text('{cwd}/.tmp/secret.txt')", "error: Permission Error"),
    ("select * from glob('.tmp/*')", "error: Permission Error"),
    # statements that are not SELECT
    ("copy problems to '{lake}/x.csv'", "error: COPY statements are not allowed"),
    ("export database '{lake}/dump'", "error: EXPORT statements are not allowed"),
    ("pragma enable_profiling", "error: PRAGMA statements are not allowed"),
    ("call pragma_version()", "error: CALL statements are not allowed"),
    ("checkpoint", "error: "),
    ("set temp_directory = '{cwd}'", "error: SET statements are not allowed"),
    ("select * from query('copy (select 1) to ''{lake}/x.csv''')", "error: Parser Error"),
    ("select * from read_text('{lake}/../outside.txt')", "error: Permission Error"),
    ("select * from read_text('/etc/hostname')", "error: Permission Error"),
    ("select * from read_text('/proc/self/environ')", "error: Permission Error"),
    ("select * from read_blob('/etc/hostname')", "error: Permission Error"),
    ("select * from sniff_csv('/etc/passwd')", "error: Permission Error"),
    ("select * from parquet_metadata('/etc/x.parquet')", "error: Permission Error"),
    ("select * from duckdb_secrets()", "error: Permission Error"),
    ("select getenv('HOME')", "error: Catalog Error"),
    ("install httpfs", "error: LOAD statements are not allowed"),
    ("attach '{lake}/x.db' as x", "error: ATTACH statements are not allowed"),
    ("reset lock_configuration", "error: SET statements are not allowed"),
    ("use memory", "error: SET statements are not allowed"),
    ("detach memory", "error: DETACH statements are not allowed"),
    ("vacuum", "error: VACUUM statements are not allowed"),
    ("create secret s (type s3)", "error: CREATE statements are not allowed"),
]


@pytest.fixture()
def cwd(lake, tmp_path, monkeypatch):
    """A working directory holding DuckDB's default temp folder, with a file in it."""
    (tmp_path / ".tmp").mkdir()
    (tmp_path / ".tmp" / "secret.txt").write_text("secret")
    (lake.parent / "outside.txt").write_text("outside")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("query, message", ESCAPES)
def test_escape_is_refused_and_nothing_changes(lake, cwd, query, message):
    before, cwd_before = tree_hash(lake), tree_hash(cwd)
    with pytest.raises(UserError) as e:
        run_user_sql(lake.resolve(), query.format(lake=lake.resolve(), shard=shard(lake), cwd=cwd))
    assert f"error: {e.value}".startswith(message) and "\n" not in str(e.value)
    assert tree_hash(lake) == before and tree_hash(cwd) == cwd_before


@pytest.mark.parametrize("query, message", ESCAPES[:3] + [e for e in ESCAPES if ".tmp/secret" in e[0]][:1])
def test_escape_through_the_console_script(lake, cwd, query, message):
    before = tree_hash(lake)
    proc = run("curate", "sql", query.format(lake=lake.resolve(), shard=shard(lake), cwd=cwd), "--lake",
               str(lake.resolve()), cwd=cwd)  # fmt: skip
    assert assert_one_line_error(proc).startswith(message)
    assert tree_hash(lake) == before


def test_the_session_temp_directory_is_private_and_removed(lake, cwd):
    table = run_user_sql(lake, "select current_setting('temp_directory') as d")
    temp = table.column("d")[0].as_py()
    assert os.path.basename(temp).startswith("minireason-sql-") and not os.path.exists(temp)


def test_explain_of_a_select_still_works(lake):
    proc = run("curate", "sql", "explain analyze select count(*) from problems", "--lake", str(lake))
    assert proc.returncode == 0, proc.stderr
    assert "QUERY PROFILING" in proc.stdout or "explain_value" in proc.stdout


def test_runaway_query_is_interrupted_by_the_timeout(lake):
    proc = run(
        "curate", "sql", "select count(*) from range(1000000000000)", "--timeout", "1", "--lake", str(lake)
    )
    assert assert_one_line_error(proc) == "error: query interrupted after --timeout 1s"


def test_a_replaced_shard_is_detected_by_stats_check(tmp_path):
    lake = make_lake(tmp_path / "lake")
    assert run("curate", "stats", "--check", "--lake", str(lake)).stdout.startswith("lake check: 2 shards")
    victim = next((lake / "problems").glob("part-*.parquet"))
    other = next((lake / "traces").rglob("part-*.parquet"))
    victim.write_bytes(other.read_bytes())  # what the EXPLAIN ANALYZE COPY of issue 19 did
    proc = run("curate", "stats", "--check", "--lake", str(lake))
    assert assert_one_line_error(proc) == (
        f"error: lake check failed: problems/{victim.name}: content does not match its manifest sha256"
    )


def test_an_overwritten_manifest_is_one_line_not_a_crash(tmp_path):
    lake = make_lake(tmp_path / "lake")
    manifest = lake / "problems" / ".manifest.json"
    manifest.write_text(json.dumps({"shards": 1}) + "\n")
    for args in (["sql", "select 1"], ["stats"]):
        proc = run("curate", *args, "--lake", str(lake))
        assert assert_one_line_error(proc) == (
            f"error: {manifest} is not a valid manifest (modified outside minireason)"
        )
