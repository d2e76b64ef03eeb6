"""Session-wide test settings: offline hubs, the repo root, the real benchmark files (shipped in problemsets)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "problemsets" / "data"  # the seven shipped sets (problemsets/data/SOURCES.md)
FIXTURES = ROOT / "tests" / "fixtures"  # small slices of real data, sources in its README.md
BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def benchmarks_dir() -> Path:
    return BENCHMARKS


def cli(name: str) -> str:
    """Path of an installed console script (synth, curate, train) in this environment."""
    return str(BIN / name)
