"""Small pieces every stage's `main` uses: resume argument, end-of-run summary."""

from __future__ import annotations

from pathlib import Path


def resume_arg(value: str | bool | None) -> str | bool | None:
    """`--resume_from_checkpoint true` resumes from the last checkpoint in output_dir; a path from that one."""
    if isinstance(value, str) and value.lower() in ("true", "last"):
        return True
    if isinstance(value, str) and value.lower() in ("false", "none", ""):
        return None
    return value


def summary(stage: str, trainer, out: Path) -> str:
    """One line: steps, first and last logged loss, where the model went."""
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    loss = f", loss {losses[0]:.4g} -> {losses[-1]:.4g}" if losses else ""
    return f"{stage}: {trainer.state.global_step} steps{loss}; model saved to {out}"
