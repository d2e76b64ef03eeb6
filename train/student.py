"""Load (or build) the model a stage trains, and save it so the next stage can load it.
Loading a checkpoint is sampling's (sampling/checkpoints.py: the tokenizer and padding quirks live
there, shared with the samplers); building the tiny student and saving after training are train's."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sampling.checkpoints import left_pad, load_model, load_tokenizer
from sampling.prompts import DEFAULT_INSTRUCTION
from train.config import ScriptArgs, tiny_spec
from train.tiny import build

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = ["load_model", "load_student", "save_student"]  # load_model: train/dpo.py loads its reference


def load_student(
    script: ScriptArgs, corpus: list[str], path: str | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """`path` (default script.model) as model + tokenizer; 'tiny' builds one whose tokenizer knows `corpus`
    and the instruction every prompt ends with."""
    path = path or script.model
    if path == "tiny":
        return build(tiny_spec(script), corpus + [DEFAULT_INSTRUCTION])
    return load_model(path, script.attn_implementation), load_tokenizer(path)


def save_student(trainer, tokenizer: PreTrainedTokenizerBase, out: str | Path) -> Path:
    """Final weights + tokenizer in `out`; the tokenizer is saved left-padded, ready for batched generation
    (SFTTrainer would otherwise leave it right-padded, also in the saved copy)."""
    out = Path(out)
    trainer.save_model(str(out))
    left_pad(tokenizer)
    tokenizer.save_pretrained(str(out))
    return out
