"""curate's configuration: the shipped curate.yaml documents the defaults; YAML < CLI; bad keys fail."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from curate.config import CurateConfig, load_config
from lakehouse.errors import UserError


def test_shipped_yaml_equals_the_dataclass_defaults():
    assert dataclasses.asdict(load_config()) == dataclasses.asdict(CurateConfig())


def test_yaml_overrides_and_lake_option(tmp_path):
    path = tmp_path / "curate.yaml"
    path.write_text("dedup:\n  bands: 20\n  rows: 5\nviews:\n  rl_band: [0, 0.6]\n  sft_max_rows: 10\n")
    cfg = load_config(path, lake=tmp_path / "lk")
    assert (cfg.dedup.bands, cfg.dedup.rows, cfg.dedup.n_grams) == (20, 5, 5)
    assert cfg.views.rl_band == (0.0, 0.6) and cfg.views.sft_max_rows == 10
    assert cfg.lake == tmp_path / "lk"


@pytest.mark.parametrize(
    "text, message",
    [
        ("dedup:\n  bandz: 3\n", "dedup: unknown setting 'bandz'"),
        ("views:\n  sft_k: two\n", "views: sft_k must be int, got 'two'"),
        ("views:\n  rl_band: [0.1]\n", "views: rl_band must be a list of 2 values"),
        ("dedup: [1, 2]\n", "dedup must be a mapping"),
        ("dedup:\n  bands: 3\n rows: 2\n", "c.yaml:3: not valid YAML"),
    ],
)
def test_bad_settings_are_one_line_errors(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(UserError, match=message.replace("[", r"\[")):
        load_config(path)


def test_missing_config_file(tmp_path):
    with pytest.raises(UserError, match="config file .* not found"):
        load_config(Path(tmp_path / "nope.yaml"))
