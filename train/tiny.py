"""A tiny student built locally: a Qwen2 from a config and a tokenizer trained on the training text.
Loading a saved one back (for training or sampling) is sampling/checkpoints.py's job.

No hub access here, so tests and the CPU demo build both from scratch. The chat template is ChatML
with `{% generation %}` markers around the assistant content *and* its `<|im_end|>`, so TRL's
`assistant_only_loss` trains exactly the assistant tokens plus the end-of-turn token.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch/transformers stay lazy: importing train.tiny must be cheap
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

BOS, EOS, PAD, UNK = "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|unk|>"
SPECIAL_TOKENS = [PAD, BOS, EOS, UNK]

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% if message['role'] == 'assistant' %}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\n' }}"
    "{% else %}{{ message['content'] + '<|im_end|>' + '\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _shape(default, help: str = ""):
    """A Qwen2Config argument of the tiny model: passed to Qwen2Config under its own name."""
    return field(default=default, metadata={"help": help, "qwen2": True})


@dataclass
class TinySpec:
    """The tiny student, declared once: train/config.py derives the `--tiny_<field>` options from these
    fields and `build_model` passes the shape fields to Qwen2Config by name. The defaults are the
    measured recipe that learned the `chain` family (train/README.md, "The tiny student")."""

    tokenizer: str = field(default="char", metadata={"help": "char | bpe"})
    vocab_size: int = field(
        default=512, metadata={"help": "bpe only; a char vocabulary is the corpus alphabet plus the specials"}
    )
    hidden_size: int = _shape(128)
    num_hidden_layers: int = _shape(4)
    num_attention_heads: int = _shape(4)
    num_key_value_heads: int | None = _shape(None, "default: --tiny_num_attention_heads (no grouping)")
    head_dim: int = _shape(32)
    intermediate_size: int = _shape(256)
    max_position_embeddings: int = _shape(2048)
    seed: int = field(default=0, metadata={"help": "seed of the random initialisation"})

    def qwen2_shape(self) -> dict:
        shape = {f.name: getattr(self, f.name) for f in fields(self) if f.metadata.get("qwen2")}
        if shape["num_key_value_heads"] is None:
            shape["num_key_value_heads"] = self.num_attention_heads
        return shape


def train_tokenizer(
    corpus: Iterable[str], kind: str = "char", vocab_size: int = 512
) -> PreTrainedTokenizerFast:
    """Train a char-level or byte-level BPE tokenizer on `corpus`, wrapped for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    texts = list(corpus)
    # Both kinds are byte-level BPE: transformers' AutoTokenizer rebuilds a Qwen2 checkpoint's tokenizer
    # as Qwen2Tokenizer (byte-level pre-tokenizer) from vocab + merges, ignoring our pipeline, so only a
    # byte-level tokenizer survives that round trip unchanged (a plain char one loses "\n").
    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    if kind == "char":
        # No merges: one token per byte of printable ASCII, "\n", "\t" and whatever else the corpus holds.
        byte_char = _bytes_to_unicode()
        seen = {b for text in texts for b in text.encode("utf-8")} | set(range(32, 127)) | {9, 10}
        vocab = {t: i for i, t in enumerate(SPECIAL_TOKENS + [byte_char[b] for b in sorted(seen)])}
        tok.model = models.BPE(vocab=vocab, merges=[], unk_token=UNK)
    elif kind == "bpe":
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=SPECIAL_TOKENS,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        tok.train_from_iterator(texts, trainer=trainer)
    else:
        raise ValueError(f"unknown tokenizer kind {kind!r} (char | bpe)")
    tok.add_special_tokens(SPECIAL_TOKENS)
    return wrap_tokenizer(tok)


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table (what the ByteLevel pre-tokenizer emits)."""
    keep = (
        list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), 256))
    )
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def wrap_tokenizer(tok) -> PreTrainedTokenizerFast:
    from transformers import PreTrainedTokenizerFast

    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=None, eos_token=EOS, pad_token=PAD, unk_token=UNK
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.padding_side = "left"  # batched generation needs left padding; TRL's collators pad on their own
    return fast


def build_model(spec: TinySpec, tokenizer: PreTrainedTokenizerFast) -> PreTrainedModel:
    """A randomly initialised Qwen2 sized by `spec`, agreeing with `tokenizer` on special ids."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(spec.seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        **spec.qwen2_shape(),
        tie_word_embeddings=True,
        bos_token_id=tokenizer.convert_tokens_to_ids(BOS),
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def build(spec: TinySpec, corpus: Iterable[str]) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    tokenizer = train_tokenizer(corpus, spec.tokenizer, spec.vocab_size)
    return build_model(spec, tokenizer), tokenizer


def save(model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, out: str | Path) -> Path:
    out = Path(out)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def corpus_from_messages(rows: Iterable[list[dict]], extra: Iterable[str] = ()) -> list[str]:
    """Texts to train a tokenizer on: every message content, the role names, and any `extra` text."""
    texts = [m["content"] for msgs in rows for m in msgs] + ["system", "user", "assistant", "\n"]
    return texts + list(extra)
