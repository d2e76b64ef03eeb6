"""`train` command line: dispatch, help with examples, one-line errors, YAML < command line."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import cli
from tests.train.conftest import CONFIGS, parse
from train.cli import parse_stage


def run_train(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([cli("train"), *args], capture_output=True, text=True, timeout=timeout)


def test_help_lists_stages_and_a_working_example():
    proc = run_train("--help")
    assert proc.returncode == 0
    assert "train sft  --config train/configs/sft-tiny.yaml" in proc.stdout
    for stage in ("mid", "sft", "dpo", "grpo", "eval"):
        assert f"  {stage} " in proc.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bogus"], "error: unknown command 'bogus'; choose one of: mid, sft, dpo, grpo, eval"),
        (["sft", "--config", "nope.yaml"], "error: config file nope.yaml not found"),
    ],
)
def test_user_mistakes_are_one_line_errors_with_exit_2(args, message):
    proc = run_train(*args)
    assert proc.returncode == 2
    assert proc.stderr.strip() == message


def test_unknown_yaml_key_is_a_user_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((CONFIGS / "sft-tiny.yaml").read_text() + "learning_rat: 0.1\n")
    from lakehouse.errors import UserError

    with pytest.raises(UserError, match=r"bad.yaml: .*learning_rat"):
        parse_stage("sft", ["--config", str(bad)])


def test_missing_view_is_a_user_error(tmp_path):
    from lakehouse.errors import UserError
    from train import sft

    with pytest.raises(UserError, match=r"no sft view at .*views/sft \(run `curate views` first"):
        sft.main(parse("sft", tmp_path / "empty-lake", tmp_path / "out"))


def test_yaml_overrides_defaults_and_command_line_overrides_yaml(tmp_path):
    cfg = parse_stage("sft", ["--config", str(CONFIGS / "sft-tiny.yaml")])
    assert cfg.trainer.learning_rate == 2e-3  # YAML over TRL's default 2e-5
    assert cfg.trainer.per_device_train_batch_size == 64 and cfg.trainer.packing is False
    assert cfg.trainer.assistant_only_loss is True and cfg.trainer.bf16 is False
    cfg = parse_stage("sft", ["--config", str(CONFIGS / "sft-tiny.yaml"), "--learning_rate", "0.01"])
    assert cfg.trainer.learning_rate == 0.01
    bare = parse_stage("dpo", [])
    assert bare.trainer.learning_rate == 1e-6 and bare.trainer.bf16 is False  # TRL default, CPU-safe
    grpo = parse_stage("grpo", ["--config", str(CONFIGS / "grpo-tiny.yaml")])
    assert grpo.stabilisers.anneal_temperature and grpo.stabilisers.temperature_end == 0.6


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_parses(path):
    command = path.name.split("-")[0]
    cfg = parse_stage(command, ["--config", str(path)])
    assert cfg.trainer.output_dir.startswith("checkpoints/")
