"""Bad input to the synth CLI: one line on stderr, exit code 2, nothing written (real subprocesses)."""

from __future__ import annotations

import subprocess

import pytest

from lakehouse import Lake
from tests.conftest import cli


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([cli("synth"), *args], capture_output=True, text=True, timeout=120)


def assert_one_line_error(proc: subprocess.CompletedProcess, message: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert message in lines[0]
    assert "Traceback" not in proc.stderr


def write(path, text: str):
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"problem": "1+1", "answer": "2"}\n{"problem": "2+2", "answer": \n', "bad.jsonl:2"),
        ("", "bad.jsonl"),
        ('{"problem": "1+1"}\n', "bad.jsonl:1"),
        ('{"problem": 5, "answer": "2"}\n', "bad.jsonl:1"),
        ('["not", "an", "object"]\n', "bad.jsonl:1"),
    ],
    ids=["malformed-line", "empty-file", "missing-field", "wrong-type", "not-an-object"],
)
def test_bad_jsonl_is_reported_with_file_and_line(tmp_path, content, message):
    src = write(tmp_path / "bad.jsonl", content)
    lake = tmp_path / "lake"
    proc = run("problems", "--source", str(src), "--lake", str(lake))
    assert_one_line_error(proc, message)
    assert not lake.exists() or Lake(lake).read("problems").num_rows == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["problems", "--source", "nosuch:thing"], "nosuch:thing"),
        (["problems", "--source", "{tmp}/missing.jsonl"], "missing.jsonl"),
        (["generate", "--teacher", "oracle:x"], "unknown teacher 'oracle:x'"),
        (["generate", "--shard", "3/2"], "--shard 3/2"),
        (["generate", "--shard", "x"], "--shard 'x'"),
        (["generate"], "no problems in"),
    ],
)
def test_bad_options(tmp_path, args, message):
    lake = tmp_path / "lake"
    args = [a.format(tmp=tmp_path) for a in args]
    proc = run(*args, "--lake", str(lake))
    assert_one_line_error(proc, message)
    assert not list(lake.rglob("*.parquet")) if lake.exists() else True


def test_lake_path_that_is_a_file(tmp_path):
    f = write(tmp_path / "afile", "x")
    for args in (["problems", "--source", "builtin:arith", "--n", "5"], ["generate"], ["status"]):
        assert_one_line_error(run(*args, "--lake", str(f)), "is a file")
    assert f.read_text() == "x"


def test_help_shows_a_working_example():
    for cmd in ("problems", "generate", "status"):
        proc = run(cmd, "--help")
        assert proc.returncode == 0 and "Example:" in proc.stdout


def test_end_to_end_problems_generate_status(tmp_path):
    lake = str(tmp_path / "lake")
    out = run("problems", "--source", "builtin:arith", "--n", "50", "--seed", "3", "--lake", lake)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("problems: 50 new from builtin:arith")
    gen = run("generate", "--samples", "3", "--run", "a", "--lake", lake, "--no-progress")
    assert gen.returncode == 0, gen.stderr
    assert gen.stdout.startswith("run a: 150/150 samples done (150 new, 0 failed)")
    status = run("status", "--lake", lake)
    row = status.stdout.splitlines()[1].split()
    assert row[:3] == ["a", "procedural", "150/150"] and row[-1] == "0"
