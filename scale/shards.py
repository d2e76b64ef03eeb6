"""`--shard I/N`, the one syntax for a worker's slice of the work (synth generate, train eval)."""

from __future__ import annotations

from lakehouse.errors import UserError


def parse_shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise UserError(f"--shard {text!r}: expected I/N, e.g. 0/4") from None
    return i, n
