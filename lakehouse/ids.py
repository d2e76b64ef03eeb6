"""Stable identifiers. A problem's id is a hash of its normalised text, so the same
problem imported twice (or from two sources) gets the same id."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_WS = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """NFKC, lower case, whitespace collapsed, ends stripped."""
    return _WS.sub(" ", unicodedata.normalize("NFKC", text)).strip().lower()


def stable_hash(text: str, n: int = 16) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


def problem_id(problem: str) -> str:
    return stable_hash(normalize_text(problem))


def trace_id(run: str, problem_id_: str, sample_idx: int) -> str:
    """One trace per work unit (run, problem_id, sample_idx): the id is derived from the unit,
    so a re-generated unit can never become a second row."""
    return stable_hash(f"{run}\x1f{problem_id_}\x1f{sample_idx}")
