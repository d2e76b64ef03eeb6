"""The builtin generator: gold answers checked against an independent reading of the problem TEXT
(sympy / pow / math.comb), balance over families and levels, determinism, caps and held-out sets."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from fractions import Fraction

import pytest
import sympy
from sympy.parsing.sympy_parser import (
    implicit_multiplication_application,
    parse_expr,
    standard_transformations,
)

from lakehouse.errors import UserError
from lakehouse.ids import problem_id
from problemsets.builtin import generate
from problemsets.families import FAMILIES, LEVELS
from problemsets.families.chain import MULTIPLIERS, TERMS

TRANSFORMS = (*standard_transformations, implicit_multiplication_application)


def as_fraction(answer: str) -> Fraction:
    m = re.fullmatch(r"(-?)\\frac\{(\d+)\}\{(\d+)\}", answer)
    if m:
        return Fraction(int(m.group(2)), int(m.group(3))) * (-1 if m.group(1) else 1)
    assert re.fullmatch(r"-?\d+", answer), answer
    return Fraction(int(answer))


def rational(expr: str) -> Fraction:
    value = parse_expr(expr.replace("×", "*").replace("÷", "/"), evaluate=True)
    assert value.is_Rational, expr
    return Fraction(int(value.p), int(value.q))


def independent_answer(family: str, text: str, meta: dict) -> Fraction:
    """The answer computed from the problem text alone (the counting family reads its meta)."""
    if family == "arithmetic":
        return rational(re.fullmatch(r"(?:Compute|Evaluate|What is the value of) (.*)[.?]", text).group(1))
    if family == "fraction":
        return rational(re.fullmatch(r"Compute (.*)\. Give the answer .*", text).group(1))
    if family == "linear":
        left, right = re.fullmatch(r"Solve for x: (.*) = (.*)\.", text).groups()
        x = sympy.Symbol("x")
        (root,) = sympy.solve(
            parse_expr(left, transformations=TRANSFORMS) - parse_expr(right, transformations=TRANSFORMS), x
        )
        return Fraction(int(root.p), int(root.q))
    if family == "system":
        first, second = re.fullmatch(r"Solve the system (.*) and (.*)\. What is x \+ y\?", text).groups()
        x, y = sympy.symbols("x y")
        eqs = [
            sympy.Eq(*(parse_expr(s, transformations=TRANSFORMS) for s in e.split(" = ")))
            for e in (first, second)
        ]
        sol = sympy.solve(eqs, [x, y])
        total = sol[x] + sol[y]
        return Fraction(int(total.p), int(total.q))
    if family == "modular":
        a, e, m = map(
            int, re.fullmatch(r"What is the remainder when (\d+)\^(\d+) is divided by (\d+)\?", text).groups()
        )
        return Fraction(pow(a, e, m))
    if family == "chain":
        digits = re.fullmatch(r"Left to right, mod 10: (\d(?:[+*]\d)+)", text).group(1)
        value = int(digits[0])
        for op, d in zip(digits[1::2], digits[2::2], strict=True):
            value = (value + int(d)) % 10 if op == "+" else (value * int(d)) % 10
        return Fraction(value)
    assert family == "counting"
    kind = meta["kind"]
    if kind == "pairs":
        return Fraction(math.comb(meta["n"], 2))
    if kind == "choose":
        return Fraction(math.comb(meta["n"], meta["k"]))
    if kind == "podium":
        return Fraction(math.perm(meta["n"], meta["k"]))
    if kind == "letters":
        return Fraction(
            math.factorial(sum(meta["counts"])) // math.prod(math.factorial(c) for c in meta["counts"])
        )
    w, m, k = meta["women"], meta["men"], meta["k"]
    cases = [meta["i"]] if kind == "exact" else range(meta["i"], k + 1)
    return Fraction(sum(math.comb(w, j) * math.comb(m, k - j) for j in cases))


@pytest.fixture(scope="module")
def problems() -> list[dict]:
    return generate("builtin:arith", 350, seed=0).rows  # 10 per (family, level)


def test_every_gold_answer_matches_an_independent_solution(problems):
    for row in problems:
        meta = json.loads(row["meta"])
        expected = independent_answer(row["domain"], row["problem"], meta)
        assert as_fraction(row["answer"]) == expected, row


def test_rows_are_balanced_and_well_formed(problems):
    assert len(FAMILIES) >= 7
    cells = Counter((r["domain"], r["level"]) for r in problems)
    assert cells == {(f, lv): 10 for f in FAMILIES for lv in LEVELS}
    assert len({r["problem_id"] for r in problems}) == 350
    for r in problems:
        meta = json.loads(r["meta"])
        assert (meta["family"], meta["level"]) == (r["domain"], r["level"])
        assert r["problem_id"] == problem_id(r["problem"])
        assert r["source"] == "builtin:arith"


def test_uneven_n_gives_the_remainder_to_the_first_cells():
    rows = generate("builtin:arith", 37, seed=0).rows
    cells = Counter((r["domain"], r["level"]) for r in rows)
    assert cells[("arithmetic", 1)] == 2 and cells[("arithmetic", 2)] == 2 and cells[("arithmetic", 3)] == 1
    assert sum(cells.values()) == 37


def test_deterministic_by_seed_and_a_larger_n_extends_a_smaller_one():
    small = generate("builtin:arith", 35, seed=5).rows
    assert small == generate("builtin:arith", 35, seed=5).rows
    assert {r["problem_id"] for r in small} < {
        r["problem_id"] for r in generate("builtin:arith", 70, seed=5).rows
    }
    assert {r["problem_id"] for r in small}.isdisjoint(
        {r["problem_id"] for r in generate("builtin:arith", 35, seed=6).rows}
    )


def test_chain_levels_have_increasing_length_and_only_3_7_9_multipliers():
    rows = generate("builtin:chain", 500, seed=0).rows
    for r in rows:
        chain = r["problem"].rsplit(": ", 1)[1]
        low, high = TERMS[r["level"]]
        assert low <= len(chain[::2]) <= high
        assert {int(d) for op, d in zip(chain[1::2], chain[2::2], strict=True) if op == "*"} <= set(
            MULTIPLIERS
        )


@pytest.mark.parametrize(
    ("source", "level", "n", "distinct"),
    [("builtin:chain", 1, 2000, 10 * 12 + 10 * 12 * 12), ("builtin:counting", 1, 400, 37 * 5)],
)
def test_asking_for_more_than_a_level_has_caps_and_says_so(source, level, n, distinct):
    result = generate(source, n, seed=0, levels=(level,))
    assert len(result.rows) == distinct
    assert result.capped == [f"{source.split(':')[1]}/{level}: {distinct} of {n}"]


def test_held_out_set_is_disjoint_and_full():
    train = generate("builtin:chain", 1000, seed=0).rows
    train_ids = frozenset(r["problem_id"] for r in train)
    result = generate("builtin:chain", 300, seed=1, exclude=train_ids)
    held_out = result.rows
    assert len(held_out) == 300 and not result.capped
    assert result.excluded and result.excluded <= train_ids  # it met held-out problems and skipped them
    assert {r["problem_id"] for r in held_out}.isdisjoint(r["problem_id"] for r in train)


@pytest.mark.parametrize(
    ("source", "levels", "message"),
    [
        (
            "builtin:geometry",
            (1,),
            "unknown builtin source 'builtin:geometry'; choose builtin:NAME with NAME one of: "
            "arith, arithmetic, fraction, linear, system, modular, counting, chain",
        ),
        ("builtin:chain", (0, 6), "levels must be among (1, 2, 3, 4, 5), got [0, 6]"),
    ],
)
def test_bad_builtin_requests(source, levels, message):
    with pytest.raises(UserError) as e:
        generate(source, 10, seed=0, levels=levels)
    assert str(e.value) == message
