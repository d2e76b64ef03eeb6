"""`hf:NAME[:SPLIT]`: a dataset through `datasets`, a hub name or a local directory (works offline).

A directory written by `Dataset.save_to_disk` is read with `load_from_disk`; any other name goes to
`load_dataset` (a local folder of jsonl/parquet/csv files, or a hub dataset when online).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from lakehouse.errors import UserError


def parse(source: str) -> tuple[str, str | None]:
    """`hf:NAME[:SPLIT]` -> (NAME, SPLIT). Dataset names hold no ':', split slices (`train[:100]`) may."""
    name, _, split = source.removeprefix("hf:").partition(":")
    if not name:
        raise UserError(f"{source!r}: expected hf:NAME[:SPLIT]")
    return name, split or None


def _saved_to_disk(name: str) -> bool:
    path = Path(name)
    return path.is_dir() and ((path / "state.json").exists() or (path / "dataset_dict.json").exists())


def _choose_split(dataset, name: str, split: str | None):
    import datasets

    if not isinstance(dataset, datasets.DatasetDict):
        return dataset, split or "data"
    splits = list(dataset)
    if split is None:
        if "train" in dataset or len(splits) == 1:
            split = "train" if "train" in dataset else splits[0]
        else:
            raise UserError(f"hf:{name}: several splits ({', '.join(splits)}); pick one with hf:{name}:SPLIT")
    if split not in dataset:
        raise UserError(f"hf:{name}: no split {split!r} (has {', '.join(splits)})")
    return dataset[split], split


def read_hf(source: str) -> Iterator[tuple[str, dict]]:
    import datasets

    name, split = parse(source)
    try:
        if _saved_to_disk(name):
            dataset, split = _choose_split(datasets.load_from_disk(name), name, split)
        else:
            dataset = datasets.load_dataset(name, split=split)
            dataset, split = _choose_split(dataset, name, split)
    except (OSError, ValueError) as e:  # not found, offline, unknown split, unreadable files
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"hf:{name}: cannot load ({first})") from None
    if len(dataset) == 0:
        raise UserError(f"hf:{name}:{split}: empty split")
    for i, record in enumerate(dataset, 1):
        yield f"hf:{name}:{split} row {i}", record
