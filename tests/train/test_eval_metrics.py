"""pass@1 with its standard error, the unbiased pass@k and maj@k against values computed by hand."""

from __future__ import annotations

import math

import pytest

from train.eval_metrics import ks_for, maj_at_k, pass_at_1, pass_at_k, pass_at_k_problem, standard_error

T, F = True, False
# four problems, four samples each: all correct, all wrong, one correct, two correct
TABLE = [[T, T, T, T], [F, F, F, F], [T, F, F, F], [T, T, F, F]]


def test_pass_at_1_and_its_standard_error_by_hand():
    # per-problem rates 1, 0, .25, .5: mean .4375; squared deviations sum to .546875 (ddof 1: / 3)
    assert pass_at_1(TABLE) == 0.4375
    assert standard_error(TABLE) == pytest.approx(math.sqrt(0.546875 / 3 / 4))
    assert standard_error([[T, F]]) is None  # one problem: no spread to measure
    assert standard_error([[T], [T]]) == 0.0


def test_unbiased_pass_at_k_by_hand():
    # C: 1 - C(3,2)/C(4,2) = 1/2 at k=2; D: 1 - C(2,2)/C(4,2) = 5/6; at k = n = 4 any correct sample counts
    assert pass_at_k(TABLE) == pytest.approx({1: 0.4375, 2: (1 + 0 + 1 / 2 + 5 / 6) / 4, 4: 0.75})
    assert pass_at_k_problem(4, 4, 4) == 1.0 and pass_at_k_problem(4, 0, 4) == 0.0
    assert pass_at_k_problem(5, 2, 3) == pytest.approx(1 - math.comb(3, 3) / math.comb(5, 3))
    with pytest.raises(ValueError):
        pass_at_k_problem(4, 1, 5)
    with pytest.raises(ValueError):
        pass_at_k([[T, F], [T]])


def test_ks_are_powers_of_two_then_n():
    assert [ks_for(n) for n in (1, 2, 3, 4, 6, 8, 64)] == [
        [1], [1, 2], [1, 2, 3], [1, 2, 4], [1, 2, 4, 6], [1, 2, 4, 8], [1, 2, 4, 8, 16, 32, 64]
    ]  # fmt: skip


def test_maj_at_k_votes_the_most_frequent_answer():
    preds = [["7", "7", "8", None], ["1", "2", "2", "1"], [None, None, None, None]]
    correct = [[T, T, F, F], [T, F, F, T], [F, F, F, F]]
    # 7 wins; 1 and 2 tie and the first seen (1) wins; no answer never votes
    assert maj_at_k(preds, correct) == pytest.approx(2 / 3)
