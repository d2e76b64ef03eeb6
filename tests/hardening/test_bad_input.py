"""Every command with each bad input of issue 19, through the real console scripts.

Each case asserts the exit code, exactly one line on stderr starting with `error: ` (its start given
here), no traceback, and its lake byte-identical before and after (the tree hash of tests/hardening/lakes.py).
The cases run concurrently, each on its own copy of one tiny lake, so the table stays within ~a minute."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.hardening.lakes import make_lake, run, tree_hash

YAML = {
    "sft_k.yaml": "views:\n  sft_k: -3\n",
    "rl_band.yaml": "views:\n  rl_band: [0.9, 0.1]\n",
    "syntax.yaml": "max_steps: [1,\n",
    "lots.yaml": 'max_steps: "lots"\n',
}

# (id, command, arguments ({lake}, {dir} are filled in), the stderr line's start, exit code)
CASES = [
    ("sql-fetch-error", "curate", ["sql", "select cast('x' as int)"],
     "error: Conversion Error: Could not convert string 'x' to INT32", 2),
    ("sql-out-missing-folder", "curate", ["sql", "select 1", "--out", "{dir}/missing/x.csv", "--format", "csv"],
     "error: --out {dir}/missing/x.csv: folder {dir}/missing does not exist", 2),
    ("sql-bad-format", "curate", ["sql", "select 1", "--format", "xml"],
     "error: --format 'xml': choose one of table, csv, json, parquet", 2),
    ("sql-timeout-0", "curate", ["sql", "select 1", "--timeout", "0"], "error: --timeout 0: must be > 0 seconds", 2),
    ("sql-explain-copy", "curate", ["sql", "EXPLAIN ANALYZE COPY (select 1) TO '{lake}/problems/x.parquet'"],
     "error: EXPLAIN of a COPY statement is not allowed", 2),
    ("dedup-bands-0", "curate", ["dedup", "--bands", "0"], "error: dedup.bands (--bands) must be >= 1, got 0", 2),
    ("dedup-rows--1", "curate", ["dedup", "--rows", "-1"], "error: dedup.rows (--rows) must be >= 1, got -1", 2),
    ("dedup-n-grams-0", "curate", ["dedup", "--n-grams", "0"],
     "error: dedup.n_grams (--n-grams) must be >= 1, got 0", 2),
    ("dedup-tasks-0", "curate", ["dedup", "--tasks", "0"], "error: dedup.tasks (--tasks) must be >= 1, got 0", 2),
    ("decontam-ngram-0", "curate", ["decontam", "--ngram", "0"],
     "error: decontam.n_gram (--ngram) must be >= 1, got 0", 2),
    ("yaml-sft_k", "curate", ["run", "--config", "{dir}/sft_k.yaml"], "error: views.sft_k must be >= 1, got -3", 2),
    ("yaml-rl_band", "curate", ["views", "--config", "{dir}/rl_band.yaml"],
     "error: views.rl_band must be [low, high] with 0 <= low <= high <= 1, got [0.9, 0.1]", 2),
    ("verify-workers-0", "curate", ["verify", "--workers", "0"], "error: --workers must be >= 1, got 0", 2),
    ("export-over-the-lake", "curate", ["export", "--view", "sft", "--out", "{lake}", "--force"],
     "error: --out {lake}: the export cannot be the lake", 2),
    ("stats-no-lake", "curate", ["stats", "--lake", "{dir}/nonexistent"], "error: no lake at {dir}/nonexistent", 2),
    ("sql-no-lake", "curate", ["sql", "select 1", "--lake", "{dir}/nonexistent"], "error: no lake at", 2),
    ("generate-no-lake", "synth", ["generate", "--lake", "{dir}/nonexistent"], "error: no lake at", 2),
    ("problems-lake-under-a-file", "synth", ["problems", "--source", "builtin:arith", "--n", "3", "--lake",
     "{dir}/afile/sub"], "error: lake path {dir}/afile/sub: {dir}/afile is a file, not a directory", 2),
    ("generate-temperature--1", "synth", ["generate", "--temperature", "-1"],
     "error: --temperature -1.0: must be between 0 and 10", 2),
    ("generate-top-p-2", "synth", ["generate", "--top-p", "2"], "error: --top-p 2.0: must be in (0, 1]", 2),
    ("generate-limit--1", "synth", ["generate", "--limit", "-1"], "error: --limit -1: must be >= 0", 2),
    ("generate-run-dotdot", "synth", ["generate", "--run", ".."], "error: --run '..': use a plain name", 2),
    ("generate-more-samples", "synth", ["generate", "--run", "r", "--samples", "3"],
     "error: run 'r' was created with --samples 2, this command has --samples 3 (pass --run NEW", 2),
    ("generate-other-teacher", "synth", ["generate", "--run", "r", "--samples", "2", "--teacher", "vllm:/m"],
     "error: run 'r' was created with --teacher 'procedural', this command has --teacher 'vllm:/m'", 2),
    ("generate-vllm-missing", "synth", ["generate", "--run", "v", "--teacher", "vllm:/m", "--no-progress"],
     "error: --teacher vllm: needs vLLM", 2),
    ("train-no-command", "train", [], "error: a command is required", 2),
    ("train-yaml-bad-value", "train", ["sft", "--config", "{dir}/lots.yaml"],
     "error: {dir}/lots.yaml: argument --max_steps/--max-steps: invalid int value: 'lots'", 2),
    ("train-yaml-syntax", "train", ["sft", "--config", "{dir}/syntax.yaml"], "error: {dir}/syntax.yaml:2: not valid YAML", 2),
    ("train-eval-max-tokens-0", "train", ["eval", "--model", "m", "--benchmark", "math500", "--max-tokens", "0"],
     "error: --max-tokens must be >= 1, got 0", 2),
]  # fmt: skip
# the commands that take --lake get the case's copy unless the case names its own
NO_LAKE_OPTION = {"train"}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    base = tmp_path_factory.mktemp("bad")
    template = make_lake(base / "template", n=4, samples=2)
    from tests.helpers.card_lake import build

    views = build(base / "views").root  # a lake with views, for export
    work = []
    for case_id, name, args, _, _ in CASES:
        d = base / case_id
        d.mkdir()
        for fname, text in YAML.items():
            (d / fname).write_text(text)
        (d / "afile").write_text("x")
        lake = d / "lake"
        shutil.copytree(views if name == "curate" and args[0] == "export" else template, lake)
        filled = [a.format(lake=lake, dir=d) for a in args]
        if name not in NO_LAKE_OPTION and "--lake" not in filled:
            filled += ["--lake", str(lake)]
        work.append((case_id, name, filled, d, lake))

    def one(item):
        case_id, name, filled, d, lake = item
        before = tree_hash(lake)
        proc = run(name, *filled, cwd=d)
        return case_id, (proc, before, tree_hash(lake), d)

    with ThreadPoolExecutor(4) as pool:
        return dict(pool.map(one, work))


@pytest.mark.parametrize("case_id, name, args, message, code", CASES, ids=[c[0] for c in CASES])
def test_bad_input(results, case_id, name, args, message, code):
    proc, before, after, d = results[case_id]
    lines = proc.stderr.strip().splitlines()
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == code, proc.stderr
    assert len(lines) == 1 and lines[0].startswith(message.format(lake=d / "lake", dir=d)), proc.stderr
    assert after == before  # nothing written to the lake, not even a phantom run
    assert not (d / "nonexistent").exists() and not (d / "missing").exists()
    assert sorted(p.name for p in Path(d).iterdir()) == sorted([*YAML, "afile", "lake"])  # no work folder


def test_nested_columns_in_csv_are_json_and_text_is_never_markup(tmp_path):
    lake = make_lake(tmp_path / "lake", n=2, samples=1)
    q = "select [1, 2] as l, {'a': 1} as s, '[a, b]' as x, '[/b]' as y"
    csv = run("curate", "sql", q, "--format", "csv", "--lake", str(lake))
    assert (csv.returncode, csv.stdout) == (0, '"l","s","x","y"\n"[1, 2]","{""a"": 1}","[a, b]","[/b]"\n')
    table = run("curate", "sql", q, "--lake", str(lake))
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[3] == "│ [1, 2] │ {'a': 1} │ [a, b] │ [/b] │"
