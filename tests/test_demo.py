"""`make demo` end to end at DEMO_SCALE=small (scripts/demo.sh): the pipeline's contracts, not its scores.

One run of the real script (real CLIs as subprocesses, a tiny student trained for a few steps per stage)
into a temporary lake; the tests then read what it left behind.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from lakehouse.ids import problem_id
from lakehouse.store import Lake
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

STAGES = ["base", "answer-only", "mid", "sft", "dpo", "grpo"]  # in the order they are evaluated
N_TEST = 20  # DEMO_SCALE=small in scripts/demo.sh
STEPS = [
    "problems",
    "heldout",
    "generate",
    "curate",
    "mid",
    "eval",
    "answer",
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
    vocab = {(out / s / "tokenizer.json").read_text() for s in STAGES}  # answer-only starts from the base
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


def _style(completion: str) -> str:
    return "guess" if "Guess" in completion else "mental" if "in my head" in completion else "steps"


def test_gains_are_paired_over_problems_and_styles_counted_from_the_lake(demo):
    lake, _, stdout = demo
    samples = Lake(lake).read("eval_samples").to_pylist()
    assert len(samples) == N_TEST * len(STAGES)  # k = 1
    rate = {(r["stage"], r["problem_id"]): float(r["correct"]) for r in samples}
    gains = _table_after(stdout, "with rate as")
    assert _first_column(gains) == [
        "mid vs base",
        "sft vs mid",
        "dpo vs sft",
        "grpo vs dpo",
        "sft vs answer-only",
    ]
    for step, problems, gain, se, beyond in gains:
        after, before = step.split(" vs ")
        diffs = [rate[(after, p)] - rate[(before, p)] for s, p in rate if s == after]
        mean = sum(diffs) / len(diffs)
        sd = (sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1)) ** 0.5
        assert (int(problems), float(gain)) == (N_TEST, pytest.approx(round(mean, 3))), step
        assert float(se) == pytest.approx(round(sd / len(diffs) ** 0.5, 3)), step
        assert beyond == str(mean > 2 * sd / len(diffs) ** 0.5), step
    styles = _table_after(stdout, "with s as")
    assert _first_column(styles) == STAGES[1:]
    for stage, steps, _, mental, _, guess, _ in styles:
        mine = [_style(r["completion"]) for r in samples if r["stage"] == stage]
        shares = [round(mine.count(s) / len(mine), 3) for s in ("steps", "mental", "guess")]
        assert [float(steps), float(mental), float(guess)] == pytest.approx(shares), stage
