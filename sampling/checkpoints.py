"""Loading a local checkpoint for generation, with the quirks that silently break it otherwise.

- The tokenizer is reloaded from its own tokenizer.json pipeline, not through `AutoTokenizer`: for a
  Qwen2 checkpoint `AutoTokenizer` may rebuild it as another class from vocab + merges, and one such
  reload dropped every "\\n" (which broke every evaluation of a reloaded model until it was found).
- Left padding, always: a right-padded batch makes every shorter prompt continue after its pad tokens,
  and SFTTrainer leaves (and saves) the tokenizer right-padded.
torch/transformers are imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from lakehouse.errors import UserError

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerFast


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
    import torch

    if torch.cuda.is_available() and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return None


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerFast:
    """Reload a saved tokenizer exactly as saved (its tokenizer.json pipeline), left-padded for generation."""
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    path = Path(path)
    if (path / "tokenizer.json").exists():
        tok = PreTrainedTokenizerFast.from_pretrained(path)
    else:
        tok = AutoTokenizer.from_pretrained(path)
    left_pad(tok)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def left_pad(tokenizer) -> None:
    """Left padding now and in what save_pretrained writes to tokenizer_config.json."""
    tokenizer.padding_side = "left"
    tokenizer.init_kwargs["padding_side"] = "left"
