"""`curate sql` and `curate stats` through the real console script."""

from __future__ import annotations

import json
import subprocess

import pyarrow.parquet as pq
import pytest

from synth.config import GenerateConfig
from synth.generate import main as generate
from synth.problems import ProblemsConfig
from synth.problems import main as make_problems
from tests.conftest import cli


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("sql") / "lake"
    make_problems(ProblemsConfig(lake=root, source="builtin:arith", n=10, seed=1))
    generate(GenerateConfig(lake=root, run="r", samples=2, progress=False))
    return root


def curate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([cli("curate"), *args], capture_output=True, text=True, timeout=120)


def test_csv_json_table_and_parquet(lake, tmp_path):
    q = "select level, count(*) as n from traces join problems using (problem_id) group by level order by level"
    csv = curate("sql", q, "--format", "csv", "--lake", str(lake))
    assert csv.returncode == 0, csv.stderr
    assert csv.stdout.splitlines() == ['"level","n"', "1,4", "2,4", "3,4", "4,4", "5,4"]
    js = curate("sql", q, "--format", "json", "--lake", str(lake))
    assert [json.loads(x) for x in js.stdout.splitlines()][0] == {"level": 1, "n": 4}
    table = curate("sql", q, "--lake", str(lake))
    assert "(5 rows)" in table.stdout and "level" in table.stdout
    out = tmp_path / "r.parquet"
    pq_run = curate("sql", q, "--format", "parquet", "--out", str(out), "--lake", str(lake))
    assert pq_run.returncode == 0
    assert pq.read_table(out).to_pylist()[4] == {"level": 5, "n": 4}


def test_refused_sql_is_one_line_exit_2_and_no_out_file(lake, tmp_path):
    out = tmp_path / "never.csv"
    proc = curate(
        "sql",
        "select * from read_csv('/etc/passwd')",
        "--out",
        str(out),
        "--format",
        "csv",
        "--lake",
        str(lake),
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: Permission Error") and len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_bad_format_and_missing_lake(tmp_path, lake):
    assert curate("sql", "select 1", "--format", "xml", "--lake", str(lake)).stderr.startswith(
        "error: --format 'xml'"
    )
    missing = curate("sql", "select 1", "--lake", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "no lake at" in missing.stderr


def test_stats_lists_rows_per_table(lake):
    proc = curate("stats", "--lake", str(lake))
    assert proc.returncode == 0, proc.stderr
    lines = {ln.split("│")[1].strip(): ln for ln in proc.stdout.splitlines() if ln.count("│") >= 3}
    assert lines["problems"].split("│")[3].strip() == "10"
    assert lines["traces"].split("│")[3].strip() == "20"
