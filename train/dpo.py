"""`train dpo`: Rollout DPO on the `dpo` view (prompt / chosen / rejected, conversational).

The reference model is the SFT checkpoint: `--ref_model`, defaulting to `--model` (the paper starts
DPO from the SFT model and keeps it as the reference), loaded as a separate frozen copy.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

from train.common import resume_arg, summary
from train.config import StageRun
from train.data import corpus, load_view, view_dir
from train.student import load_model, load_student, save_student

VIEW = "dpo"


def main(cfg: StageRun, callbacks: Sequence = ()) -> Path:
    from trl import DPOTrainer

    script, args = cfg.script, cfg.trainer
    dataset = load_view(view_dir(script.lake, VIEW, script.data), VIEW, script.max_samples)
    model, tokenizer = load_student(script, corpus(dataset))
    trainer = DPOTrainer(
        model=model,
        ref_model=reference(model, script.ref_model or script.model, script.attn_implementation),
        args=args,
        train_dataset=dataset.select_columns(["prompt", "chosen", "rejected"]),
        processing_class=tokenizer,
        callbacks=list(callbacks),
    )
    trainer.train(resume_from_checkpoint=resume_arg(args.resume_from_checkpoint))
    out = save_student(trainer, tokenizer, args.output_dir)
    print(summary(VIEW, trainer, out))
    return out


def reference(model, path: str, attn_implementation: str | None):
    """The frozen reference: loaded from `path`; a copy of the fresh model when there is no checkpoint."""
    ref = copy.deepcopy(model) if path == "tiny" else load_model(path, attn_implementation)
    ref.requires_grad_(False)
    return ref.eval()
