"""Vectorised MinHash signatures: word n-gram shingles -> one uint32 per hash function.

Why not datatrove's own signature step: it hashes every shingle with a Python call and reduces the
(shingles x hashes) matrix with a 64-bit modulo, which makes it the slow step of the pipeline. Here the
shingles come from `NgramHasher` (all at once from the text's bytes) and the permutations are affine maps
modulo 2^32 with odd multipliers (bijections of the 32-bit shingle hashes, which splitmix already made
uniform), computed in uint32 over (hashes x shingles) blocks, so the minimum needs no modulo at all.
The signatures are written in datatrove's file format (see dedup.py), so its buckets, clusters and
filter steps and its executors do the rest.

Numbers are kept by default (datatrove's normalisation maps them all to 0): in maths "3 + 5" and
"4 + 5" are different problems.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from curate.ngrams import NgramHasher


@dataclass(frozen=True)
class MinhashParams:
    n_grams: int = 5
    bands: int = 16
    rows: int = 7  # hashes per band
    seed: int = 1
    norm_numbers: bool = False

    @property
    def num_hashes(self) -> int:
        return self.bands * self.rows

    def threshold(self) -> float:
        """Jaccard at which a pair has a 50% chance to share a band: (1/b)^(1/r)."""
        return (1.0 / self.bands) ** (1.0 / self.rows)


class MinhashSigner:
    """Text -> MinHash signature (uint32[bands * rows]); deterministic across processes and machines."""

    def __init__(self, params: MinhashParams = MinhashParams(), block: int = 8192):
        self.params = params
        # (hashes x shingles) blocks: each hash's minimum is a reduction over contiguous memory (SIMD),
        # about 3x faster than reducing down the columns of (shingles x hashes).
        self.block = block
        self.hasher = NgramHasher(params.n_grams, seed=params.seed, norm_numbers=params.norm_numbers)
        rng = np.random.default_rng([params.seed, 0x5EED])
        a = rng.integers(0, 1 << 32, size=params.num_hashes, dtype=np.uint64).astype(np.uint32)
        self._a = (a | np.uint32(1))[:, None]
        self._b = rng.integers(0, 1 << 32, size=params.num_hashes, dtype=np.uint64).astype(np.uint32)[:, None]

    def shingles(self, text: str) -> np.ndarray:
        """32-bit shingle hashes (the top half of the 64-bit n-gram hashes)."""
        return (self.hasher.hashes(text) >> np.uint64(32)).astype(np.uint32)

    def signature(self, text: str) -> np.ndarray | None:
        """uint32[num_hashes], or None for a text without words."""
        x = self.shingles(text)
        if x.size == 0:
            return None
        best = np.full(self.params.num_hashes, np.iinfo(np.uint32).max, dtype=np.uint32)
        work = np.empty((self.params.num_hashes, min(self.block, x.size)), dtype=np.uint32)
        for start in range(0, x.size, self.block):
            chunk = x[None, start : start + self.block]
            w = work[:, : chunk.shape[1]]
            np.multiply(self._a, chunk, out=w)
            w += self._b
            np.minimum(best, w.min(axis=1), out=best)
        return best


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0
