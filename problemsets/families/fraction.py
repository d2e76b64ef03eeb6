"""Fraction arithmetic, left to right: `2/3 + 5/4 × 1/6`, answer in lowest terms."""

from __future__ import annotations

import math
import random
from fractions import Fraction

from problemsets.families.base import Family, join_ops
from problemsets.families.work import Work, num, operand

_OPS = {1: "+-", 2: "+-", 3: "+-×", 4: "+-×÷", 5: "+-×÷"}


def _fraction(rng: random.Random, level: int) -> list[int]:
    while True:
        den = rng.randint(2, 4 + 2 * level)
        value = Fraction(rng.randint(1, 2 * den), den)
        if value.denominator > 1:
            return [value.numerator, value.denominator]


def generate(rng: random.Random, level: int) -> dict:
    start = _fraction(rng, level)
    ops = [[rng.choice(_OPS[level]), _fraction(rng, level)] for _ in range(level)]
    return {"start": start, "ops": ops}


def _text(pair: list[int]) -> str:
    return f"{pair[0]}/{pair[1]}"


def render(p: dict) -> str:
    # a divisor is parenthesised: "÷ 11/12" would read as "÷ 11, then / 12"
    ops = [(op, f"({_text(b)})" if op == "÷" else _text(b)) for op, b in p["ops"]]
    expr = join_ops(_text(p["start"]), ops)
    return f"Compute {expr}. Give the answer as a fraction in lowest terms."


def _combine(w: Work, value: Fraction, op: str, rhs: Fraction) -> Fraction:
    if op in "+-":
        common = value.denominator * rhs.denominator // math.gcd(value.denominator, rhs.denominator)
        a, b = value * common, rhs * common
        lhs = f"{operand(value)} {op} {num(rhs)} = {num(a)}/{common} {op} {num(b)}/{common}"
        result, sign_slip = (value + rhs, value - rhs) if op == "+" else (value - rhs, value + rhs)
        return w.step(lhs, result, alt=sign_slip)
    if op == "÷":
        w.say(f"Dividing by {num(rhs)} is multiplying by {num(1 / rhs)}.")
        return w.step(f"{operand(value)} × {num(1 / rhs)}", value / rhs, alt=-(value / rhs))
    return w.step(f"{operand(value)} × {num(rhs)}", value * rhs, alt=-(value * rhs))


def solve(p: dict, w: Work) -> Fraction:
    w.say("Work left to right, bringing each pair to a common denominator when adding or subtracting.")
    value = Fraction(*p["start"])
    for op, rhs in p["ops"]:
        value = _combine(w, value, op, Fraction(*rhs))
    w.say(f"In lowest terms that is {num(value)}.")
    return value


FAMILY = Family("fraction", generate, render, solve)
