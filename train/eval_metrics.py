"""The numbers `train eval` reports for one benchmark: pure functions of the per-sample verdicts.

- pass@1: the share of correct samples of a problem, averaged over problems (= pass@1 averaged over k
  samples), with its standard error over problems (sample standard deviation of the per-problem rates,
  ddof 1, over the square root of the number of problems). It measures how much the mean would move with
  another draw of problems of the same kind; it is None for a single problem.
- pass@k for k in {1, 2, 4, ..., n} (and n itself): the unbiased estimator of Chen et al. (2021),
  1 - C(n - c, k) / C(n, k) per problem with c correct of n samples, averaged over problems.
- maj@k: a problem counts when its most frequent extracted answer (exact string after stripping; ties go to
  the first seen; no answer never votes) is a correct one.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence


def pass_at_1(correct: Sequence[Sequence[bool]]) -> float:
    return sum(sum(c) / len(c) for c in correct) / len(correct)


def standard_error(correct: Sequence[Sequence[bool]]) -> float | None:
    """Standard error of pass@1 over problems (None with fewer than two problems)."""
    rates = [sum(c) / len(c) for c in correct]
    if len(rates) < 2:
        return None
    mean = sum(rates) / len(rates)
    var = sum((r - mean) ** 2 for r in rates) / (len(rates) - 1)
    return math.sqrt(var / len(rates))


def pass_at_k_problem(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one problem with c correct among n samples (k <= n)."""
    if not 1 <= k <= n:
        raise ValueError(f"k must be in 1..{n}, got {k}")
    if n - c < k:
        return 1.0  # every k-subset holds a correct sample
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def ks_for(n: int) -> list[int]:
    """1, 2, 4, ... up to n, and n itself."""
    ks, k = [], 1
    while k <= n:
        ks.append(k)
        k *= 2
    return ks if ks[-1] == n else [*ks, n]


def pass_at_k(correct: Sequence[Sequence[bool]]) -> dict[int, float]:
    """{k: mean unbiased pass@k} for k in ks_for(n); every problem must have the same n samples."""
    sizes = {len(c) for c in correct}
    if len(sizes) != 1:
        raise ValueError(f"every problem needs the same number of samples, got {sorted(sizes)}")
    n = sizes.pop()
    return {k: sum(pass_at_k_problem(n, sum(c), k) for c in correct) / len(correct) for k in ks_for(n)}


def majority_correct(preds: Sequence[str | None], correct: Sequence[bool]) -> bool:
    """Is the most frequent answer (None = no answer, never voted) a correct one?"""
    votes = Counter(p.strip() for p in preds if p is not None and p.strip())
    if not votes:
        return False
    top = max(votes.values())
    winner = next(p.strip() for p in preds if p is not None and p.strip() and votes[p.strip()] == top)
    return any(ok for p, ok in zip(preds, correct, strict=True) if p is not None and p.strip() == winner)


def maj_at_k(preds: Sequence[Sequence[str | None]], correct: Sequence[Sequence[bool]]) -> float:
    return sum(majority_correct(p, c) for p, c in zip(preds, correct, strict=True)) / len(correct)
