"""Shared fixtures of the train tests: a lake with the four stage views, and tiny students.

Everything is session-scoped: importing TRL costs ~11 s and building views/models a few more, so
each is made once and reused (tests copy what they modify).
"""

from __future__ import annotations

import importlib
import subprocess
from pathlib import Path

import pytest
from transformers import TrainerCallback

from tests.conftest import cli

CONFIGS = Path(__file__).resolve().parents[2] / "train" / "configs"


def build_views(lake: Path, n: int = 60) -> Path:
    """The four stage views from the real pipeline: builtin `chain` problems, the procedural teacher
    (8 samples each, some planned wrong), `curate run` (verify, dedup, filters, views)."""
    steps = [
        ["synth", "problems", "--source", "builtin:chain", "--n", str(n), "--lake", str(lake)],
        ["synth", "generate", "--teacher", "procedural", "--samples", "8", "--lake", str(lake)],
        ["curate", "run", "--lake", str(lake)],
    ]
    for name, *args in steps:
        proc = subprocess.run([cli(name), *args], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{name} {args[0]} failed:\n{proc.stderr[-2000:]}"
    return lake


@pytest.fixture(scope="session")
def views_lake(tmp_path_factory) -> Path:
    return build_views(tmp_path_factory.mktemp("train-lake") / "lake")


TINY = [
    "--tiny_hidden_size",
    "32",
    "--tiny_num_hidden_layers",
    "2",
    "--tiny_num_attention_heads",
    "2",
    "--tiny_head_dim",
    "16",
    "--tiny_intermediate_size",
    "64",
]
FAST = ["--logging_steps", "1", "--save_strategy", "no", "--seed", "0", "--disable_tqdm", "true"]


def parse(command: str, lake: Path, out: Path, *extra: str):
    """The StageRun `train <command>` would build from the shipped tiny YAML plus these options."""
    from train.cli import parse_stage

    argv = ["--config", str(CONFIGS / f"{command}-tiny.yaml"), "--lake", str(lake), "--output_dir", str(out)]
    return parse_stage(command, argv + TINY + FAST + list(extra))


def run(command: str, lake: Path, out: Path, *extra: str, callbacks=()):
    module = {"mid": "train.mid", "sft": "train.sft", "dpo": "train.dpo", "grpo": "train.grpo"}[command]
    return importlib.import_module(module).main(parse(command, lake, out, *extra), callbacks=callbacks)


class Steps(TrainerCallback):
    """A real TrainerCallback recording the step numbers and losses a run goes through."""

    def __init__(self):
        self.begun: list[int] = []
        self.losses: list[float] = []

    def on_step_begin(self, args, state, control, **kwargs):
        self.begun.append(state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.losses.append(float(logs["loss"]))


@pytest.fixture(scope="session")
def mid_ckpt(views_lake, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ckpt") / "mid"
    run(
        "mid",
        views_lake,
        out,
        "--model",
        "tiny",
        "--max_steps",
        "3",
        "--max_length",
        "512",
        "--per_device_train_batch_size",
        "2",
        "--gradient_accumulation_steps",
        "1",
    )
    return out


@pytest.fixture(scope="session")
def sft_run(views_lake, mid_ckpt, tmp_path_factory):
    """SFT for 30 steps from the mid checkpoint: (checkpoint dir, per-step losses)."""
    out = tmp_path_factory.mktemp("ckpt") / "sft"
    steps = Steps()
    run(
        "sft",
        views_lake,
        out,
        "--model",
        str(mid_ckpt),
        "--max_steps",
        "30",
        "--per_device_train_batch_size",
        "8",
        "--learning_rate",
        "1e-2",
        callbacks=[steps],
    )
    return out, steps.losses


@pytest.fixture(scope="session")
def dpo_run(views_lake, sft_run, tmp_path_factory):
    """DPO for 3 steps from the SFT checkpoint: (checkpoint dir, steps begun)."""
    out = tmp_path_factory.mktemp("ckpt") / "dpo"
    steps = Steps()
    run(
        "dpo",
        views_lake,
        out,
        "--model",
        str(sft_run[0]),
        "--max_steps",
        "3",
        "--per_device_train_batch_size",
        "4",
        callbacks=[steps],
    )
    return out, steps.begun
