"""`train sft`: distillation SFT on the `sft` view with TRL's SFTTrainer.

Not packed (the paper), loss on the assistant tokens only: the tiny chat template marks the assistant
content and its `<|im_end|>` with `{% generation %}`, so the end-of-turn token is trained too.
`train mid` runs the same code on the `mid` view with packing (see train/mid.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from train.common import resume_arg, summary
from train.config import StageRun
from train.data import bound_length, corpus, load_view, view_dir
from train.student import load_student, save_student

VIEW = "sft"


def main(cfg: StageRun, callbacks: Sequence = ()) -> Path:
    return run_sft(cfg, VIEW, callbacks)


def run_sft(cfg: StageRun, view: str, callbacks: Sequence = ()) -> Path:
    trainer, tokenizer = build_trainer(cfg, view, callbacks)
    if cfg.script.save_base:
        save_base(trainer, tokenizer, cfg.script.save_base, view)
    trainer.train(resume_from_checkpoint=resume_arg(cfg.trainer.resume_from_checkpoint))
    out = save_student(trainer, tokenizer, cfg.trainer.output_dir)
    line = summary(view, trainer, out)
    print(
        line
        + (f"; {trainer.dropped_long:,} rows longer than max_length dropped" if trainer.dropped_long else "")
    )
    return out


def save_base(trainer, tokenizer, out: str, view: str) -> None:
    """The model before its first step, saved like a trained stage (left-padded tokenizer); training
    then goes on with the tokenizer's padding side unchanged."""
    side = tokenizer.padding_side
    save_student(trainer, tokenizer, out)
    tokenizer.padding_side = tokenizer.init_kwargs["padding_side"] = side
    print(f"{view}: starting model (before any step) saved to {out}")


def build_trainer(cfg: StageRun, view: str, callbacks: Sequence = ()):
    from trl import SFTTrainer

    script = cfg.script
    dataset = load_view(view_dir(script.lake, view, script.data), view, script.max_samples)
    model, tokenizer = load_student(script, corpus(dataset))
    dataset, dropped = bound_length(dataset, tokenizer, cfg.trainer.max_length, script.long_rows, view)
    if dropped:  # said before training starts, and again in the summary line
        print(
            f"{view}: dropped {dropped:,} of {dropped + len(dataset):,} rows longer than max_length "
            f"{cfg.trainer.max_length} tokens (--long_rows keep trains them truncated)"
        )
    trainer = SFTTrainer(
        model=model,
        args=cfg.trainer,
        train_dataset=dataset.select_columns(["messages"]),
        processing_class=tokenizer,
        callbacks=list(callbacks),
    )
    trainer.dropped_long = dropped  # reported in the summary line
    _record_dropped(cfg.trainer.output_dir, view, dropped, len(dataset))
    return trainer, tokenizer


def _record_dropped(output_dir: str, view: str, dropped: int, kept: int) -> None:
    """The stage's data summary next to its checkpoints (train_data.json): rows trained, rows dropped."""
    import json

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_data.json").write_text(json.dumps({"view": view, "rows": kept, "dropped_long": dropped}))
