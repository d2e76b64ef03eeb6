"""Trace filters. Each is configurable and has its own drop reason; a trace gets the reason of the
first filter it fails (in FILTERS order), so every dropped trace is counted exactly once."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.progress import track

from curate.config import FilterConfig
from curate.ngrams import NgramHasher, words
from lakehouse.errors import UserError
from reward.extract import last_boxed, split_reasoning
from sampling.prompts import assistant_text  # the one rule (the text verified = the text trained on)

_STDERR = Console(stderr=True)  # progress goes to stderr, and only on a terminal
_NUMPY_FROM = 2000  # words

CHECKS = pa.schema([("trace_id", pa.string()), ("reason", pa.string())])  # reason NULL: passes


@dataclass(frozen=True)
class Trace:
    """What the filters look at, derived once per trace."""

    error: str | None
    finish_reason: str | None
    reasoning: str | None  # the reasoning block's content (field or <think> block)
    answer: str  # the visible part after the reasoning
    text: str  # the full assistant turn
    tokens: int  # completion_tokens, or whitespace words when the teacher gave no count

    @classmethod
    def from_row(cls, row: dict) -> Trace:
        text = assistant_text(row.get("reasoning"), row.get("completion"))
        reasoning, answer = split_reasoning(text)
        tokens = row.get("completion_tokens")
        return cls(
            error=row.get("error"),
            finish_reason=row.get("finish_reason"),
            reasoning=reasoning,
            answer=answer,
            text=text,
            tokens=int(tokens) if tokens is not None else len(text.split()),
        )


def repetition_share(text: str, hasher: NgramHasher) -> float:
    """Share of the word n-grams that repeat an earlier one (0 for texts shorter than n words)."""
    tokens = words(text)
    n = hasher.n
    if len(tokens) <= n:
        return 0.0
    if len(tokens) < _NUMPY_FROM:  # a set of tuples beats numpy's per-call overhead on short texts
        grams = list(zip(*(tokens[i:] for i in range(n)), strict=False))
        return 1.0 - len(set(grams)) / len(grams)
    hashes = hasher.hashes(text)
    return 1.0 - np.unique(hashes).size / hashes.size


Check = Callable[[Trace, FilterConfig, NgramHasher], bool]  # True = passes

FILTERS: dict[str, Check] = {
    "gen_error": lambda t, c, h: not t.error,
    "not_stop": lambda t, c, h: not c.require_stop or t.finish_reason == "stop",
    "no_reasoning": lambda t, c, h: not c.require_reasoning or bool((t.reasoning or "").strip()),
    "empty_answer": lambda t, c, h: not c.require_answer or bool(t.answer.strip()),
    "no_boxed": lambda t, c, h: not c.require_boxed or last_boxed(t.answer) is not None,
    "too_short": lambda t, c, h: t.tokens >= c.min_tokens,
    "too_long": lambda t, c, h: c.max_tokens is None or t.tokens <= c.max_tokens,
    "repetition": lambda t, c, h: repetition_share(t.text, h) <= c.max_repetition,
}


def text_hash(text: str) -> str:
    """Hash of the text with case and whitespace runs normalised (what exact trace dedup compares)."""
    return hashlib.blake2b(" ".join(text.split()).lower().encode(), digest_size=8).hexdigest()


def check_traces(traces: pa.Table, cfg: FilterConfig, progress: bool = False) -> pa.Table:
    """CHECKS rows for every trace: its first failing filter."""
    hasher = NgramHasher(cfg.repetition_ngram)
    ids, reasons = [], []
    rows = traces.to_pylist()
    for row in track(
        rows,
        description="filter traces",
        disable=not (progress and _STDERR.is_terminal),
        transient=True,
        console=_STDERR,
    ):
        trace = Trace.from_row(row)
        ids.append(row["trace_id"])
        reasons.append(next((r for r, check in FILTERS.items() if not check(trace, cfg, hasher)), None))
    if cfg.max_length is not None:
        reasons = _bound_length(rows, reasons, cfg)
    return pa.table({"trace_id": ids, "reason": reasons}, schema=CHECKS)


def _bound_length(rows: list[dict], reasons: list[str | None], cfg: FilterConfig) -> list[str | None]:
    """`over_max_length` for traces whose prompt + assistant turn has more than cfg.max_length tokens of
    the student's tokenizer (counted in one batch by the `tokenizers` library: no torch)."""
    tokenizer = load_tokenizer(cfg.student_tokenizer)
    texts = [
        _prompt_text(r.get("prompt")) + assistant_text(r.get("reasoning"), r.get("completion")) for r in rows
    ]
    lengths = [len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
    return [
        r if r is not None or n <= cfg.max_length else "over_max_length"
        for r, n in zip(reasons, lengths, strict=True)
    ]


def _prompt_text(prompt: str | None) -> str:
    try:
        return "".join(str(m.get("content", "")) for m in json.loads(prompt or "[]"))
    except (ValueError, AttributeError):
        return ""


def tokenizer_file(path: str | None) -> Path:
    """The tokenizer.json of a checkpoint directory, or the file given."""
    if not path:
        raise UserError(
            "filters.max_length needs filters.student_tokenizer (a checkpoint dir or tokenizer.json)"
        )
    file = Path(path) / "tokenizer.json" if Path(path).is_dir() else Path(path)
    if not file.is_file():
        raise UserError(f"filters.student_tokenizer {path}: no tokenizer.json there")
    return file


def load_tokenizer(path: str | None):
    """A fast tokenizer from a checkpoint directory (its tokenizer.json) or a tokenizer.json file."""
    from tokenizers import Tokenizer

    file = tokenizer_file(path)
    try:
        return Tokenizer.from_file(str(file))
    except Exception as e:  # a malformed file: say which
        raise UserError(f"{file}: not a tokenizers JSON file ({str(e).splitlines()[0][:120]})") from None
