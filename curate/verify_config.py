"""The typed config of `curate verify` (its options are generated from it: lakehouse/options.py), in a
module of its own so that building the command line does not import pyarrow and DuckDB."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.options import opt
from reward.judge import JudgeConfig


@dataclass
class VerifyConfig:
    lake: Path = opt(Path("lake"), "--lake", "Lake directory.")
    workers: int | None = opt(None, "--workers", "Verifier processes (default: one per core).")
    timeout_s: float = opt(5.0, "--timeout", "Hard wall-clock limit per check, seconds.")
    memory_mb: int = opt(1024, "--memory-mb", "Address-space cap per verifier process.")
    batch: int = opt(4096, "--batch", "Traces per verdicts shard.")
    hard_below: float = opt(0.25, "--hard-below", "Pass rate below which a problem is hard.")
    medium_below: float = opt(0.5, "--medium-below", "... below which it is medium.")
    progress: bool = opt(True, "--progress/--no-progress", "Show a progress bar.")
    # strict: the answer must be boxed (an SFT target must carry the format); lenient: phrases and the last
    # expression count too (what evaluators accept). Recorded in verdicts.verifier.
    extraction: str = opt(
        "strict", "--extraction", "strict: a \\boxed{} answer is required; lenient: phrases, last expression."
    )
    # the LLM judge behind math-verify (reward/judge.py); off unless --judge is given
    judge: JudgeConfig = field(default_factory=JudgeConfig)
