"""Answer forms math-verify missed on real answers (the curation issue's list), with the verdicts they
must get through the real Verifier, and near misses that must stay wrong."""

from __future__ import annotations

import pytest

from reward.forms import as_interval, rewrite
from reward.verify import Verifier

VERDICTS = [
    # gold, response, correct
    ("(3,4]", "\\boxed{3 < x \\le 4}", True),
    ("[-2,7]", "\\boxed{x \\in [-2,7]}", True),
    ("[-2,7]", "\\boxed{-2 \\le x \\le 7}", True),
    ("(5,\\infty)", "\\boxed{x > 5}", True),
    ("3, 5, 7", "\\boxed{3}, \\boxed{5}, \\boxed{7}", True),  # several boxes: all of them
    ("12", "\\boxed{12^{\\text{th}}\\text{ grade}}", True),
    ("(C)", "\\boxed{\\text{(C) } 12}", True),
    ("C", "The answer is \\boxed{\\text{(C) } 12}", True),
    # near misses stay wrong
    ("(3,4)", "\\boxed{3 < x \\le 4}", False),
    ("[5,\\infty)", "\\boxed{x > 5}", False),
    ("3, 5, 7", "\\boxed{3}, \\boxed{5}", False),
    ("12", "\\boxed{13^{\\text{th}}\\text{ grade}}", False),
    ("(C)", "\\boxed{\\text{(D) } 12}", False),
    ("3, 5, 7", "\\boxed{3}. Then, later, \\boxed{7}", False),  # prose between boxes: the last one only
]


@pytest.fixture(scope="module")
def verifier():
    with Verifier(workers=1) as v:
        yield v


@pytest.mark.parametrize(("gold", "response", "correct"), VERDICTS)
def test_verdicts_on_the_forms(verifier, gold, response, correct):
    verdict = verifier.check(gold, response)
    assert (verdict.correct, verdict.status) == (correct, "ok")


@pytest.mark.parametrize(
    ("text", "interval"),
    [
        ("3 < x \\le 4", "(3,4]"), ("-2 \\leq y < 7", "[-2,7)"), ("x > 5", "(5,\\infty)"),
        ("x \\ge 0", "[0,\\infty)"), ("x < 1", "(-\\infty,1)"), ("t \\le \\frac{1}{2}", "(-\\infty,\\frac{1}{2}]"),
        ("x \\in (0, 1]", "(0, 1]"), ("4 > x > 1", "(1,4)"),
        ("x = 5", "x = 5"), ("3 < 4", "3 < 4"), ("1 < x > 2", "1 < x > 2"),  # not intervals: unchanged
    ],
)  # fmt: skip
def test_inequalities_become_intervals(text, interval):
    assert as_interval(text) == interval


def test_long_answers_are_left_alone():
    long = "x > 5 " + "y" * 300
    assert rewrite("(5,\\infty)", long) == ("(5,\\infty)", long)
