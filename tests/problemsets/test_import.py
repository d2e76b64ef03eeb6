"""Importers: every real benchmark file, JSONL/parquet/HF-dataset sources with field mapping, duplicate
and held-out handling, and each bad input as a one-line error (in-process and through the real CLI)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse.errors import UserError
from lakehouse.store import Lake
from problemsets import load, load_problems
from synth.problems import ProblemsConfig, main
from tests.conftest import FIXTURES, cli

# file, rows, gold answer of the first row (each file stores its gold differently)
BENCHMARKS = [
    ("aime24.jsonl", 30, "204"),
    ("aime25.jsonl", 30, "70"),
    ("amc23.jsonl", 40, "27"),
    ("gsm8k_test.jsonl", 1319, "18"),
    ("math500.jsonl", 500, "\\left( 3, \\frac{\\pi}{2} \\right)"),
    ("minerva_math.jsonl", 272, "1.6"),
    ("olympiadbench.jsonl", 675, "2"),
]


@pytest.mark.parametrize(("name", "rows", "first_gold"), BENCHMARKS)
def test_every_benchmark_imports_with_its_row_count_and_gold(benchmarks_dir, name, rows, first_gold):
    table = load_problems(str(benchmarks_dir / name), ProblemsConfig(source=""))
    assert table.num_rows == rows
    answers = table.column("answer").to_pylist()
    assert answers[0] == first_gold
    assert all(a and a.strip() for a in answers)
    assert set(table.column("source").to_pylist()) == {name}
    assert len(set(table.column("problem_id").to_pylist())) == rows


def test_olympiad_lists_are_joined_and_math500_keeps_subject_and_level(benchmarks_dir):
    olympiad = load_problems(
        str(benchmarks_dir / "olympiadbench.jsonl"), ProblemsConfig(source="")
    ).to_pylist()
    multiple = [r for r in olympiad if json.loads(r["meta"])["is_multiple_answer"]]
    assert len(multiple) == 94  # the README's count of rows with several answers
    several = {r["answer"]: json.loads(r["meta"]) for r in multiple}
    assert several["69, 84"]["raw_answer"] == ["$69$,$84$"]
    assert several["(1,8,19), (2,7,13), (4,5,7)"]["raw_answer"] == ["$(1,8,19), (2,7,13), (4,5,7)$"]
    math500 = load_problems(str(benchmarks_dir / "math500.jsonl"), ProblemsConfig(source="")).to_pylist()
    assert (math500[0]["domain"], math500[0]["level"]) == ("Precalculus", 2)


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_field_mapping_duplicates_and_sampling(tmp_path):
    src = write_jsonl(
        tmp_path / "mine.jsonl",
        [
            json.dumps({"q": "What is 2+2?", "gold": 4.0}),
            json.dumps({"q": "what is  2+2?", "gold": "4"}),  # the same problem once normalised
            "",
            json.dumps({"q": "What is 3+3?", "gold": "#### 6"}),
        ],
    )
    cfg = ProblemsConfig(source=str(src), problem_field="q", answer_field="gold")
    loaded = load(str(src), cfg)
    assert [(r["problem"], r["answer"]) for r in loaded.rows] == [
        ("What is 2+2?", "4"),
        ("What is 3+3?", "6"),
    ]
    assert (loaded.duplicates, loaded.excluded) == (1, 0)
    assert json.loads(loaded.rows[1]["meta"]) == {"raw_answer": "#### 6"}
    one = load(str(src), ProblemsConfig(source=str(src), problem_field="q", answer_field="gold", n=1, seed=3))
    assert (
        len(one.rows) == 1
        and one.rows == load(str(src), ProblemsConfig(**{**vars(cfg), "n": 1, "seed": 3})).rows
    )


def test_parquet_and_hf_local_sources(tmp_path):
    records = [{"question": f"Compute {i} + {i}.", "final_answer": [str(2 * i)]} for i in range(5)]
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "p.parquet")
    parquet = load_problems(str(tmp_path / "p.parquet"), ProblemsConfig(source=""))
    assert parquet.column("answer").to_pylist() == ["0", "2", "4", "6", "8"]

    folder = tmp_path / "folder"
    folder.mkdir()
    write_jsonl(
        folder / "test.jsonl", [json.dumps(r | {"final_answer": r["final_answer"][0]}) for r in records]
    )
    from_folder = load_problems(f"hf:{folder}", ProblemsConfig(source=""))
    assert from_folder.column("problem_id").to_pylist() == parquet.column("problem_id").to_pylist()

    saved = tmp_path / "saved"
    dd = datasets.DatasetDict(
        {"train": datasets.Dataset.from_list(records[:2]), "test": datasets.Dataset.from_list(records[2:])}
    )
    dd.save_to_disk(str(saved))
    assert load_problems(f"hf:{saved}", ProblemsConfig(source="")).num_rows == 2
    test_split = load_problems(f"hf:{saved}:test", ProblemsConfig(source=""))
    assert test_split.column("answer").to_pylist() == ["4", "6", "8"]
    assert set(test_split.column("source").to_pylist()) == {f"hf:{saved}:test"}
    with pytest.raises(UserError) as e:
        load(f"hf:{saved}:validation", ProblemsConfig(source=""))
    assert str(e.value) == f"hf:{saved}: no split 'validation' (has train, test)"


def _error(tmp_path: Path, lines: list[str] | None, **fields) -> str:
    path = tmp_path / "bad.jsonl"
    if lines is not None:
        write_jsonl(path, lines) if lines else path.write_text("")
    with pytest.raises(UserError) as e:
        load(str(path), ProblemsConfig(source=str(path), **fields))
    return str(e.value).replace(str(path), "FILE")


GOOD = json.dumps({"problem": "What is 1+1?", "answer": "2"})
BAD_INPUTS = [
    (
        [GOOD, GOOD, "{not json"],
        {},
        "FILE:3: malformed JSON (Expecting property name enclosed in double quotes)",
    ),
    ([GOOD, json.dumps({"problem": "What is 2+2?"})], {}, "FILE:2: missing field 'answer'"),
    (
        [GOOD, json.dumps({"problem": 7, "answer": "7"})],
        {},
        "FILE:2: field 'problem' must be a string, got int",
    ),
    (
        [json.dumps({"problem": "x?", "answer": {"v": 1}})],
        {},
        "FILE:1: field 'answer' must be a string, a number or a list of them, got dict",
    ),
    ([json.dumps({"problem": "x?", "answer": " "})], {}, "FILE:1: field 'answer' holds no answer"),
    ([json.dumps([1, 2])], {}, "FILE:1: expected a JSON object, got list"),
    (
        [json.dumps({"text": "x?", "answer": "1"})],
        {},
        "FILE:1: no problem field (looked for problem, question, prompt, query); name it with --problem-field",
    ),
    ([GOOD], {"answer_field": "gold"}, "FILE:1: missing field 'gold'"),
    ([], {}, "FILE: empty file (no records)"),
    (None, {}, "FILE: no such file"),
]


@pytest.mark.parametrize(("lines", "fields", "message"), BAD_INPUTS)
def test_bad_jsonl_is_one_line_with_file_and_line(tmp_path, lines, fields, message):
    assert _error(tmp_path, lines, **fields) == message


def test_other_bad_sources(tmp_path):
    (tmp_path / "x.parquet").write_text("not parquet")
    cases = {
        str(tmp_path / "x.csv"): "unknown source",
        str(tmp_path / "x.parquet"): f"{tmp_path / 'x.parquet'}: not a readable parquet file",
        f"hf:{tmp_path / 'nothing'}": f"hf:{tmp_path / 'nothing'}: cannot load",
    }
    for source, start in cases.items():
        with pytest.raises(UserError) as e:
            load(source, ProblemsConfig(source=source))
        assert str(e.value).startswith(start) and "\n" not in str(e.value)


def test_main_writes_once_and_counts_what_it_drops(tmp_path, benchmarks_dir):
    lake = tmp_path / "lake"
    cfg = ProblemsConfig(source=str(benchmarks_dir / "aime24.jsonl"), lake=lake)
    assert main(cfg) == (
        f"problems: 30 new from {cfg.source} into {lake}/problems (30 in total); "
        "dropped 0 duplicate(s), 0 already in the lake, 0 excluded"
    )
    assert main(cfg).endswith("(30 in total); dropped 0 duplicate(s), 30 already in the lake, 0 excluded")
    assert len(Lake(lake).files("problems")) == 1
    held = ProblemsConfig(
        source=str(benchmarks_dir / "aime24.jsonl"), lake=tmp_path / "other", exclude=[lake]
    )
    assert "0 new" in main(held) and "30 excluded" in main(held)


def test_cli_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path):
    bad = write_jsonl(tmp_path / "bad.jsonl", [GOOD, "{oops"])
    lake = tmp_path / "lake"
    runs = [
        ["--source", str(bad)],
        ["--source", "builtin:arith"],
        ["--source", "builtin:nope", "--n", "5"],
    ]
    for args in runs:
        done = subprocess.run(
            [cli("synth"), "problems", *args, "--lake", str(lake)], capture_output=True, text=True
        )
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ")
        assert not lake.exists()
    file_lake = tmp_path / "file"
    file_lake.write_text("")
    done = subprocess.run(
        [cli("synth"), "problems", "--source", "builtin:chain", "--n", "5", "--lake", str(file_lake)],
        capture_output=True,
        text=True,
    )
    assert (done.returncode, done.stderr) == (2, f"error: lake path {file_lake} is a file, not a directory\n")


def test_cli_generates_builtin_problems(tmp_path):
    lake = tmp_path / "lake"
    done = subprocess.run(
        [
            cli("synth"),
            "problems",
            "--source",
            "builtin:arith",
            "--n",
            "70",
            "--seed",
            "1",
            "--lake",
            str(lake),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.startswith(f"problems: 70 new from builtin:arith into {lake}/problems (70 in total)")
    assert Lake(lake).rows("problems") == 70


def test_bad_rows_stop_the_import_or_are_skipped_and_reported(tmp_path):
    """Real MATH train rows (tests/fixtures/README.md): line 3 has `"answer": null`, line 5 `"answer": ""`."""
    source = str(FIXTURES / "rllm_math_bad_rows.jsonl")
    with pytest.raises(UserError, match=r"rllm_math_bad_rows.jsonl:3: missing field 'answer'$"):
        load(source, ProblemsConfig(source=source))
    loaded = load(source, ProblemsConfig(source=source, on_bad_row="skip"))
    assert len(loaded.rows) == 4
    assert [s.split(": ", 1)[0].rsplit("/", 1)[-1] for s in loaded.skipped] == [
        "rllm_math_bad_rows.jsonl:3", "rllm_math_bad_rows.jsonl:5"
    ]  # fmt: skip
    assert [r["level"] for r in loaded.rows] == [5, 5, 3, 3]  # `difficulty` 5.0 / 3.0 is the level
    bad = tmp_path / "broken.jsonl"
    bad.write_text(GOOD + "\n{oops\nnull\n" + GOOD.replace("1+1", "2+2") + "\n")
    loaded = load(str(bad), ProblemsConfig(source=str(bad), on_bad_row="skip"))
    assert len(loaded.rows) == 2
    assert loaded.skipped == [
        f"{bad}:2: malformed JSON (Expecting property name enclosed in double quotes)",
        f"{bad}:3: expected a JSON object, got NoneType",
    ]
    done = subprocess.run(
        [cli("synth"), "problems", "--source", source, "--on-bad-row", "skip", "--lake", str(tmp_path / "lake")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "problems: 4 new from " in done.stdout and "; skipped 2 bad row(s): " in done.stdout
    assert "rllm_math_bad_rows.jsonl:3: missing field 'answer'" in done.stdout


def test_level_and_difficulty_fields_map_to_level():
    source = str(FIXTURES / "rllm_aime_levels.jsonl")
    rows = load(source, ProblemsConfig(source=source)).rows
    assert [r["level"] for r in rows] == [4, 5, 3]  # difficulty 4.0, 5.25, 2.75: the nearest level
    rows = load(source, ProblemsConfig(source=source, level_field="year")).rows
    assert [r["level"] for r in rows] == [int(json.loads(r["meta"])["year"]) for r in rows]
    with pytest.raises(UserError, match=r"rllm_aime_levels.jsonl:1: no field 'grade' \(--level-field\)"):
        load(source, ProblemsConfig(source=source, level_field="grade"))
