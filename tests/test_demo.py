"""`make demo` end to end at DEMO_SCALE=small (scripts/demo.sh): the pipeline's contracts, not its scores.

One run of the real script (real CLIs as subprocesses, a tiny student trained for a few steps per stage)
into a temporary lake; the tests then read what it left behind.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from lakehouse.ids import problem_id
from lakehouse.store import Lake
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

STAGES = ["base", "mid", "sft", "dpo", "grpo"]
N_TEST = 20  # DEMO_SCALE=small in scripts/demo.sh
STEPS = [
    "problems",
    "heldout",
    "generate",
    "curate",
    "mid",
    "eval",
    "sft",
    "dpo",
    "grpo",
    "table",
    "analysis",
    "export",
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, Path, str]:
    base = tmp_path_factory.mktemp("demo")
    lake, out = base / "lake", base / "out"
    env = os.environ | {"DEMO_SCALE": "small", "LAKE": str(lake), "OUT": str(out)}
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "demo.sh")], env=env, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return lake, out, proc.stdout


def test_every_stage_saved_a_loadable_checkpoint(demo):
    _, out, _ = demo
    for stage in STAGES:
        config = json.loads((out / stage / "config.json").read_text())
        assert config["model_type"] == "qwen2", stage
        assert (out / stage / "model.safetensors").stat().st_size > 0, stage
        tokenizer = json.loads((out / stage / "tokenizer_config.json").read_text())
        assert tokenizer["padding_side"] == "left", stage  # ready for batched generation
    # the base is the model before its first step, not a copy of the mid-trained one
    assert (out / "base" / "model.safetensors").read_bytes() != (
        out / "mid" / "model.safetensors"
    ).read_bytes()
    # every stage starts from the previous one: one tokenizer throughout
    vocab = {(out / s / "tokenizer.json").read_text() for s in STAGES}
    assert len(vocab) == 1


def test_evals_table_has_one_row_per_stage_on_the_heldout_set(demo):
    lake, _, _ = demo
    rows = sorted(Lake(lake).read("evals").to_pylist(), key=lambda r: r["created_at"])
    assert [r["stage"] for r in rows] == STAGES
    assert {r["benchmark"] for r in rows} == {"heldout.jsonl"}  # the file name, as train eval records it
    assert [(r["n"], r["k"]) for r in rows] == [(N_TEST, 1)] * len(STAGES)
    assert all(0.0 <= r["pass_at_1"] <= 1.0 and 0.0 <= r["maj_at_k"] <= 1.0 for r in rows)


def test_heldout_set_shares_no_problem_with_training(demo):
    lake, out, _ = demo
    heldout = [json.loads(line) for line in (out / "heldout.jsonl").read_text().splitlines()]
    assert len(heldout) == N_TEST
    held = {problem_id(r["problem"]) for r in heldout}
    assert len(held) == N_TEST
    store = Lake(lake)
    train_ids = set(store.read("problems").column("problem_id").to_pylist())
    assert len(train_ids) == 500
    for view in ("views/mid", "views/sft", "views/dpo", "views/rl"):
        ids = set(store.read(view).column("problem_id").to_pylist())
        assert ids and ids <= train_ids, view
    assert held.isdisjoint(train_ids)


def test_prints_the_stage_table_and_wall_time_of_every_step(demo):
    lake, out, stdout = demo
    assert _first_column(_table_after(stdout, "select stage, benchmark")) == STAGES
    times = [line.split("\t")[0] for line in (out / "step_times.tsv").read_text().splitlines()]
    assert list(dict.fromkeys(times)) == STEPS
    summary = stdout[stdout.index("wall time per step (s):") :].splitlines()[1:]
    assert [line.split()[0] for line in summary] == STEPS + ["total"]
    assert (out / "export" / "README.md").is_file()


def _table_after(stdout: str, command: str) -> list[list[str]]:
    """The data rows (the header uses ┃) of the first table printed after `command`."""
    rows = []
    for line in stdout[stdout.index(command) :].splitlines()[1:]:
        if line.startswith("│"):
            rows.append([cell.strip() for cell in line.split("│")[1:-1]])
        elif rows:
            break
    return rows


def _first_column(rows: list[list[str]]) -> list[str]:
    return [r[0] for r in rows]


def _terms(text: str) -> list[str]:
    return re.findall(r"[+*][0-9]", text)


def test_analysis_prints_pass_per_level_and_kinds_of_mistake_from_the_lake(demo):
    lake, _, stdout = demo
    samples = Lake(lake).read("eval_samples").to_pylist()
    assert len(samples) == N_TEST * len(STAGES)  # k = 1
    per_level = _table_after(stdout, "select stage, round(")
    assert _first_column(per_level) == STAGES
    for stage, *cells in per_level:
        for level, cell in enumerate(cells, start=1):
            oks = [r["correct"] for r in samples if r["stage"] == stage and r["level"] == level]
            assert float(cell) == pytest.approx(round(sum(oks) / len(oks), 3)), (stage, level)
    kinds = _table_after(stdout, "select who, wrong")
    assert _first_column(kinds) == ["teacher rollouts"] + [f"student after {s}" for s in STAGES[1:]]
    for who, wrong, misread, other in kinds[1:]:
        stage = who.removeprefix("student after ")
        bad = [r for r in samples if r["stage"] == stage and not r["correct"]]
        n_misread = sum(_terms(r["completion"]) != _terms(r["problem"]) for r in bad)
        assert (int(wrong), int(misread), int(other)) == (len(bad), n_misread, len(bad) - n_misread), who
