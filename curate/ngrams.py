"""Word n-gram hashing, vectorised with numpy: the shingles of MinHash dedup and the n-grams of
decontamination come from here.

Text is normalised to lower-case words (runs of letters and digits; punctuation, LaTeX backslashes,
`$` and whitespace only separate words), so light reformatting does not change the n-grams. All words
of a text are hashed at once from prefix sums over its UTF-8 bytes, and an n-gram is a weighted sum of
its word hashes: no Python call per word or per n-gram.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np

_WORD = re.compile(r"[^\W_]+")
_NON_ASCII_SEPARATOR = re.compile(r"[^\x00-\x7f\w]+")  # dashes, quotes, symbols outside ASCII
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_P = np.uint64(0x100000001B3)  # odd, so it has an inverse modulo 2^64
_P_INV = np.uint64(pow(0x100000001B3, -1, 1 << 64))
_WORD_BYTE = np.zeros(256, dtype=bool)
_WORD_BYTE[[*range(ord("a"), ord("z") + 1), *range(ord("0"), ord("9") + 1), *range(0x80, 0x100)]] = True
# With split_digits, digits and letters are different word classes: `15a` is the two words `15 a`, as
# `15 a^{2}` is (decontamination must see the same words however a benchmark typesets a term).
_BYTE_CLASS = np.zeros(256, dtype=np.int8)
_BYTE_CLASS[[*range(ord("a"), ord("z") + 1), *range(0x80, 0x100)]] = 1
_BYTE_CLASS[ord("0") : ord("9") + 1] = 2
_WORD_SPLIT_DIGITS = re.compile(r"[^\W\d_]+|\d+")


def word_text(text: str, norm_numbers: bool = False) -> str:
    """Lower-cased text whose bytes split into words exactly where the word regex splits it.

    The byte scan treats every ASCII byte other than [a-z0-9] as a separator and every byte >= 0x80 as
    part of a word, so ASCII text (the common case) is used as is; in other text the non-ASCII
    characters that are not letters or digits (dashes, quotes, symbols) become spaces first."""
    text = text.lower()
    if norm_numbers:
        text = _NUMBER.sub("0", text)
    if text.isascii():
        return text
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return _NON_ASCII_SEPARATOR.sub(" ", text)


def words(text: str, norm_numbers: bool = False, split_digits: bool = False) -> list[str]:
    """The normalised word sequence (for inspection, reports and tests)."""
    return (_WORD_SPLIT_DIGITS if split_digits else _WORD).findall(word_text(text, norm_numbers))


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, in place on uint64: spreads every input bit over the whole word."""
    x ^= x >> np.uint64(30)
    x *= _M1
    x ^= x >> np.uint64(27)
    x *= _M2
    x ^= x >> np.uint64(31)
    return x


class NgramHasher:
    """64-bit hashes of the word n-grams of a text. A text with fewer than n words (but at least one)
    yields one hash of its whole word sequence, so short texts still take part (matching only a text
    with exactly the same words). Deterministic across processes and machines."""

    def __init__(self, n: int, seed: int = 1, norm_numbers: bool = False, split_digits: bool = False):
        if n < 1:
            raise ValueError(f"n-gram size must be >= 1, got {n}")
        self.n = n
        self.norm_numbers = norm_numbers
        self.split_digits = split_digits
        rng = np.random.default_rng(seed)
        self._gram_w = rng.integers(1, 1 << 63, size=n, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        self._pow = np.ones(1, dtype=np.uint64)
        self._inv_pow = np.ones(1, dtype=np.uint64)

    def hashes(self, text: str) -> np.ndarray:
        word_h = self.word_hashes(text)
        if word_h.size == 0:
            return word_h
        n = min(self.n, word_h.size)
        count = word_h.size - n + 1
        gram = np.zeros(count, dtype=np.uint64)
        for j in range(n):
            gram += word_h[j : j + count] * self._gram_w[j]
        # The length enters the hash so a short text's whole-sequence hash is not a prefix weighting
        # of some longer n-gram.
        gram += np.uint64(n)
        return mix64(gram)

    def word_hashes(self, text: str) -> np.ndarray:
        """Polynomial hash of every word at once. With prefix sums S of c_k * P^-k (mod 2^64), the word
        [s, e) hashes to (S[e] - S[s]) * P^e = sum c_k * P^(e-k), which does not depend on where the
        word sits in the text."""
        data = np.frombuffer(word_text(text, self.norm_numbers).encode(), dtype=np.uint8)
        if self.split_digits:
            starts, ends = _class_runs(_BYTE_CLASS[data])
        else:
            edges = np.diff(_WORD_BYTE[data].view(np.int8), prepend=np.int8(0), append=np.int8(0))
            starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        if starts.size == 0:
            return np.zeros(0, dtype=np.uint64)
        inv_pow, pow_ = self._powers(data.size + 1)
        prefix = np.zeros(data.size + 1, dtype=np.uint64)
        np.cumsum(data.astype(np.uint64) * inv_pow[: data.size], out=prefix[1:])
        return mix64((prefix[ends] - prefix[starts]) * pow_[ends])

    def _powers(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """P^-k and P^k for k < size (mod 2^64), grown by doubling and kept."""
        if self._pow.size < size:
            size = max(size, 2 * self._pow.size)
            inv = np.full(size, _P_INV, dtype=np.uint64)
            fwd = np.full(size, _P, dtype=np.uint64)
            inv[0] = fwd[0] = 1
            self._inv_pow = np.cumprod(inv, dtype=np.uint64)
            self._pow = np.cumprod(fwd, dtype=np.uint64)
        return self._inv_pow, self._pow


def _class_runs(cls: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[start, end) of every run of equal non-zero classes (0 separates)."""
    padded = np.concatenate([np.zeros(1, np.int8), cls, np.zeros(1, np.int8)])
    change = np.flatnonzero(padded[1:] != padded[:-1])  # index i: class changes between byte i-1 and i
    starts = change[padded[1:][change] != 0]
    ends = change[padded[:-1][change] != 0]
    return starts, ends
