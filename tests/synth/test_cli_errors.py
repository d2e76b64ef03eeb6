"""Bad input to the synth CLI: one line on stderr, exit code 2, nothing written (real subprocesses)."""

from __future__ import annotations

import ast
import os
import re
import subprocess

import pytest

from lakehouse import Lake
from tests.conftest import ROOT, cli


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
        (["generate"], "no lake at"),
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


# the modules whose user errors a command can print (the backends' too: `synth generate` offers them all)
ERROR_SOURCES = {
    "generate": [
        "synth/generate.py",
        "synth/config.py",
        "synth/executors.py",
        "synth/teachers/*.py",
        "sampling/*.py",
    ],
    "problems": ["synth/problems.py", "problemsets/**/*.py"],
}
FLAG = re.compile(r"--[a-z][a-z0-9-]*")
QUOTED_COMMAND = re.compile(r"`synth (\w+)([^`]*)`")  # e.g. "run `synth problems --source ...` first"


def help_flags(command: str) -> set[str]:
    """The option names `synth COMMAND --help` lists (the first column, rich or plain layout)."""
    proc = subprocess.run(
        [cli("synth"), command, "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "250"},
    )
    flags = set()
    for line in proc.stdout.splitlines():
        for token in re.split(r"[\s/,]+", line.strip("│ *\t")):
            if not token.startswith("--"):
                break
            flags.add(token)
    return flags


def error_messages(pattern: str) -> list[tuple[str, str]]:
    """(file:line, the constant text of the message) of every UserError(...) raised in the files."""
    out = []
    for path in sorted(ROOT.glob(pattern)):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "UserError":
                out.append((f"{path.relative_to(ROOT)}:{node.lineno}", " ".join(map(literal, node.args))))
    return out


def literal(node: ast.expr) -> str:
    """A message's constant text; an interpolated value reads "{}" (so "--{role}-field" names no flag)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(literal(v) if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return "{}"


def test_every_flag_an_error_message_names_exists():
    offered = {command: help_flags(command) for command in ERROR_SOURCES}
    assert {"--rpm", "--tpm", "--timeout", "--source", "--levels"} <= offered["generate"] | offered[
        "problems"
    ]
    missing = []
    for command, patterns in ERROR_SOURCES.items():
        for pattern in patterns:
            for where, text in error_messages(pattern):
                for other, quoted in QUOTED_COMMAND.findall(text):  # a flag of the command it quotes
                    missing += [(where, other, f) for f in FLAG.findall(quoted) if f not in offered[other]]
                own = QUOTED_COMMAND.sub("", text)
                missing += [(where, command, f) for f in FLAG.findall(own) if f not in offered[command]]
    assert missing == []
