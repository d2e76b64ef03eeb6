"""Read a lake view as a `datasets.Dataset`, checked against the columns its stage needs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from lakehouse.errors import UserError
from lakehouse.store import MANIFEST

if TYPE_CHECKING:
    from datasets import Dataset

# TRL's dataset formats per stage (DESIGN.md "Stage views")
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "mid": ("messages",),
    "sft": ("messages",),
    "dpo": ("prompt", "chosen", "rejected"),
    "rl": ("prompt", "answer"),
}


def view_dir(lake: str | Path, view: str, data: str | Path | None) -> Path:
    return Path(data) if data else Path(lake) / "views" / view


def view_files(directory: Path) -> list[str]:
    """The committed shards: those listed in the lake manifest when there is one, else every parquet file."""
    manifest = directory / MANIFEST
    if manifest.exists():
        files = [directory / s["file"] for s in json.loads(manifest.read_text())["shards"]]
    else:
        files = sorted(directory.glob("**/*.parquet"))
    return [str(f) for f in files]


def load_view(directory: Path, view: str, max_samples: int | None = None) -> Dataset:
    from datasets import load_dataset

    if not directory.is_dir():
        raise UserError(f"no {view} view at {directory} (run `curate views` first, or pass --data DIR)")
    files = view_files(directory)
    if not files:
        raise UserError(f"{directory}: the {view} view has no parquet shards")
    # data_files from the manifest (rather than data_dir) so a shard not yet committed is never read
    ds = load_dataset("parquet", data_files=files, split="train")
    missing = [c for c in REQUIRED_COLUMNS[view] if c not in ds.column_names]
    if missing:
        raise UserError(f"{directory}: the {view} view lacks column(s) {', '.join(missing)}")
    if len(ds) == 0:
        raise UserError(f"{directory}: the {view} view is empty")
    if max_samples is not None:
        ds = ds.select(range(min(max_samples, len(ds))))
    return ds


def corpus(ds: Dataset) -> list[str]:
    """All chat text of a view (roles too, so BPE merges them), for training a tiny tokenizer."""
    texts: list[str] = []
    for col in ("messages", "prompt", "chosen", "rejected"):
        if col in ds.column_names:
            texts += [m[key] for msgs in ds[col] for m in msgs for key in ("role", "content")]
    return texts


LONG_ROWS = ("drop", "keep", "error")


def bound_length(
    ds: Dataset, tokenizer, max_length: int | None, policy: str, view: str
) -> tuple[Dataset, int]:
    """Rows whose chat-templated text is longer than `max_length` tokens of the student's tokenizer: a
    trainer would cut them (the answer and `</think>` go first), so by default they are dropped, and
    counted. Returns the dataset and how many rows were dropped."""
    if policy not in LONG_ROWS:
        raise UserError(f"--long_rows must be one of {', '.join(LONG_ROWS)}, got {policy!r}")
    if max_length is None or policy == "keep":
        return ds, 0
    lengths = [len(_ids(tokenizer, messages)) for messages in ds["messages"]]
    long = [i for i, n in enumerate(lengths) if n > max_length]
    if long and policy == "error":
        raise UserError(
            f"{view}: {len(long)} of {len(ds)} rows are longer than --max_length {max_length} tokens "
            f"(longest {max(lengths)}); raise --max_length, or --long_rows drop"
        )
    if len(long) == len(ds):
        raise UserError(
            f"{view}: every row is longer than --max_length {max_length} tokens (shortest {min(lengths)}); "
            "raise --max_length"
        )
    keep = sorted(set(range(len(ds))) - set(long))
    return (ds.select(keep) if long else ds), len(long)


def _ids(tokenizer, messages) -> list[int]:
    out = tokenizer.apply_chat_template(messages, tokenize=True)
    return out["input_ids"] if hasattr(out, "keys") else out  # transformers 5: a BatchEncoding
