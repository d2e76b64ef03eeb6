"""Load (or build) the model a stage trains, and save it so the next stage can load it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lakehouse.errors import UserError
from synth.teachers.base import DEFAULT_INSTRUCTION
from train.config import ScriptArgs
from train.tiny import TinySpec, build, load_tokenizer

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


def tiny_spec(script: ScriptArgs) -> TinySpec:
    return TinySpec(
        tokenizer=script.tiny_tokenizer,
        vocab_size=script.tiny_vocab_size,
        hidden_size=script.tiny_hidden_size,
        num_hidden_layers=script.tiny_num_hidden_layers,
        num_attention_heads=script.tiny_num_attention_heads,
        num_key_value_heads=script.tiny_num_attention_heads,
        head_dim=script.tiny_head_dim,
        intermediate_size=script.tiny_intermediate_size,
    )


def load_student(
    script: ScriptArgs, corpus: list[str], path: str | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """`path` (default script.model) as model + tokenizer; 'tiny' builds one whose tokenizer knows `corpus`."""
    path = path or script.model
    if path == "tiny":
        return build(tiny_spec(script), corpus + [DEFAULT_INSTRUCTION])
    return load_model(path, script.attn_implementation), load_tokenizer(path)


def load_model(path: str, attn_implementation: str | None = None) -> PreTrainedModel:
    from transformers import AutoModelForCausalLM

    if not Path(path).exists() and "/" not in path:
        raise UserError(f"model {path!r} is neither a directory nor a hub id (ORG/NAME), nor 'tiny'")
    attn_implementation = attn_implementation or fastest_attention()
    kwargs = {"attn_implementation": attn_implementation} if attn_implementation else {}
    try:
        return AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except OSError as e:
        raise UserError(f"cannot load model {path!r}: {str(e).splitlines()[0]}") from None


def fastest_attention() -> str | None:
    """flash_attention_2 where a GPU and the flash-attn package are present; else transformers' default
    (SDPA), which also keeps packed samples apart (it builds the mask from the position ids)."""
    import importlib.util

    import torch

    if torch.cuda.is_available() and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return None


def save_student(trainer, tokenizer: PreTrainedTokenizerBase, out: str | Path) -> Path:
    """Final weights + tokenizer in `out`; the tokenizer is saved left-padded, ready for batched generation
    (SFTTrainer would otherwise leave it right-padded, ENV_NOTES)."""
    out = Path(out)
    trainer.save_model(str(out))
    tokenizer.padding_side = "left"
    tokenizer.init_kwargs["padding_side"] = "left"  # what save_pretrained writes to tokenizer_config.json
    tokenizer.save_pretrained(str(out))
    return out
