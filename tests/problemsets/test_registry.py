"""The benchmark registry: the shipped sets by name, specifications (names, lists, all, paths), user sets
registered from YAML, `curate benchmarks`, and each bad input as a one-line error."""

from __future__ import annotations

import json
import subprocess

import pytest

from lakehouse.errors import UserError
from problemsets import load_problems
from problemsets.registry import USER_DIR_ENV, registry, resolve
from synth.problems import ProblemsConfig
from tests.conftest import cli

# name, rows, index of a known row, its gold answer (each set stores its gold in its own way)
SETS = [
    ("math500", 500, 0, "\\left( 3, \\frac{\\pi}{2} \\right)"),
    ("aime24", 30, 29, "902"),
    ("aime25", 30, 0, "70"),
    ("amc23", 40, 0, "27"),
    ("gsm8k", 1319, 0, "18"),
    ("minerva", 272, 0, "1.6"),
    ("olympiadbench", 675, 0, "2"),
]


@pytest.mark.parametrize(("name", "rows", "index", "gold"), SETS)
def test_each_registered_set_loads_with_its_row_count_and_a_known_gold(name, rows, index, gold):
    table = load_problems(f"bench:{name}", ProblemsConfig(source=""))
    assert table.num_rows == rows
    assert table.column("answer").to_pylist()[index] == gold
    assert set(table.column("source").to_pylist()) == {f"bench:{name}"}


def test_the_registry_holds_the_papers_protocol():
    reg = registry()
    assert list(reg) == [s[0] for s in SETS]
    assert {n: b.k for n, b in reg.items()} == {n: 64 if n.startswith("aime") else 8 for n in reg}
    assert {(b.temperature, b.top_p, b.max_tokens, b.instruction) for b in reg.values()} == {
        (0.6, 0.95, 32768, None)  # None: the project's boxed instruction
    }
    assert all(b.license and b.source for b in reg.values())


def test_specifications_names_lists_all_and_paths(tmp_path):
    assert [b.name for b in resolve("math500,aime24")] == ["math500", "aime24"]
    assert [b.name for b in resolve(["bench:gsm8k", "gsm8k", "amc23"])] == ["gsm8k", "amc23"]
    assert len(resolve("all")) == 7
    own = tmp_path / "mine.jsonl"
    own.write_text(json.dumps({"question": "1+1?", "answer": "2"}) + "\n")
    ad_hoc = resolve(str(own))[0]
    assert (ad_hoc.name, ad_hoc.registered, ad_hoc.k, ad_hoc.problems_source) == (
        "mine.jsonl",
        False,
        8,
        str(own),
    )
    with pytest.raises(
        UserError, match=r"^unknown benchmark 'math5000'; known: math500, aime24, aime25, amc23"
    ):
        resolve("math5000")
    with pytest.raises(UserError, match=r"no such benchmark file"):
        resolve(str(tmp_path / "missing.jsonl"))


def test_a_user_set_registers_from_yaml(tmp_path, monkeypatch):
    folder = tmp_path / "sets"
    folder.mkdir()
    (folder / "quiz.jsonl").write_text(
        "".join(json.dumps({"q": f"What is {i}+{i}?", "gold": 2 * i}) + "\n" for i in range(5))
    )
    (folder / "quiz.yaml").write_text(
        "quiz:\n  file: quiz.jsonl\n  problem_field: q\n  answer_field: gold\n  size: 5\n  k: 4\n  license: CC0\n"
    )
    monkeypatch.setenv(USER_DIR_ENV, str(folder))
    quiz = resolve("quiz")[0]
    assert (quiz.k, quiz.size, quiz.license, quiz.temperature) == (4, 5, "CC0", 0.6)
    rows = load_problems("bench:quiz", ProblemsConfig(source="")).to_pylist()
    assert [r["answer"] for r in rows] == ["0", "2", "4", "6", "8"]
    assert len(resolve("all")) == 8
    (folder / "quiz.yaml").write_text("quiz:\n  file: quiz.jsonl\n  sise: 5\n")
    with pytest.raises(UserError, match=r"quiz.yaml: quiz: unknown key 'sise' \(known: file, hf, "):
        resolve("quiz")
    (folder / "quiz.yaml").write_text(
        "quiz:\n  file: quiz.jsonl\n  problem_field: q\n  answer_field: gold\n  size: 6\n"
    )
    with pytest.raises(UserError, match=r"benchmark quiz should hold 6 rows, has 5"):
        load_problems("bench:quiz", ProblemsConfig(source=""))
    (folder / "quiz.yaml").write_text("math500:\n  file: quiz.jsonl\n")
    with pytest.raises(UserError, match=r"benchmark 'math500' is already registered"):
        resolve("all")


def test_curate_benchmarks_lists_every_set():
    done = subprocess.run([cli("curate"), "benchmarks"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert (
        lines[-1] == "benchmarks: 7 registered (T 0.6, top-p 0.95, 32,768 tokens unless a set says otherwise)"
    )
    for name, rows, _, _ in SETS:
        row = next(line for line in lines if f" {name} " in line)
        assert f" {rows:,} " in row
    assert "MAA AIME 2025" in done.stdout and "MIT" in done.stdout


def test_synth_problems_imports_a_benchmark_by_name(tmp_path):
    lake = tmp_path / "lake"
    done = subprocess.run(
        [cli("synth"), "problems", "--source", "bench:gsm8k", "--n", "5", "--lake", str(lake)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith("problems: 5 new from bench:gsm8k into")
