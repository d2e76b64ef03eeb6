"""The README's command sequence through the real console scripts (slow: one process per stage)."""

from __future__ import annotations

import subprocess

import pytest

from lakehouse.store import Lake
from tests.conftest import cli
from tests.train.conftest import CONFIGS, FAST, TINY


def train(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([cli("train"), *args], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.mark.slow
def test_four_stages_then_eval_through_the_cli(views_lake, tmp_path):
    ck = tmp_path / "checkpoints"
    short = [*TINY, *FAST, "--max_steps", "3", "--lake", str(views_lake)]
    train(
        "mid",
        "--config",
        str(CONFIGS / "mid-tiny.yaml"),
        "--output_dir",
        str(ck / "mid"),
        *short,
        "--per_device_train_batch_size",
        "2",
    )
    train(
        "sft",
        "--config",
        str(CONFIGS / "sft-tiny.yaml"),
        "--output_dir",
        str(ck / "sft"),
        *short,
        "--model",
        str(ck / "mid"),
        "--per_device_train_batch_size",
        "8",
    )
    train(
        "dpo",
        "--config",
        str(CONFIGS / "dpo-tiny.yaml"),
        "--output_dir",
        str(ck / "dpo"),
        *short,
        "--model",
        str(ck / "sft"),
        "--per_device_train_batch_size",
        "4",
    )
    out = train(
        "grpo",
        "--config",
        str(CONFIGS / "grpo-tiny.yaml"),
        "--output_dir",
        str(ck / "grpo"),
        *short,
        "--model",
        str(ck / "dpo"),
        "--per_device_train_batch_size",
        "8",
        "--num_generations",
        "4",
        "--max_completion_length",
        "16",
    ).stdout
    assert "grpo: 3 steps" in out and f"model saved to {ck / 'grpo'}" in out
    for stage in ("sft", "grpo"):
        train(
            "eval",
            "--model",
            str(ck / stage),
            "--benchmark",
            "builtin:chain",
            "--n",
            "10",
            "--samples",
            "2",
            "--max-tokens",
            "32",
            "--stage",
            stage,
            "--lake",
            str(tmp_path / "lake"),
        )
    rows = Lake(tmp_path / "lake").read("evals").to_pylist()
    assert [(r["stage"], r["benchmark"], r["k"], r["n"]) for r in rows] == [
        ("sft", "builtin:chain", 2, 10),
        ("grpo", "builtin:chain", 2, 10),
    ]
