"""`train mid`: distillation mid-training on the `mid` view: SFTTrainer with packing.

Packing is TRL's "bfd" strategy, which is padding-free: the samples of a row are concatenated with
position ids restarting at 0 for each, and the model's attention mask is built from those position
ids, so no sample attends to another (tests/train/test_mid.py checks it on a collated batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from train.config import StageRun
from train.sft import run_sft

VIEW = "mid"


def main(cfg: StageRun, callbacks: Sequence = ()) -> Path:
    return run_sft(cfg, VIEW, callbacks)
