"""Multi-step integer arithmetic, evaluated left to right: `(17 + 5) * 3 - 8`."""

from __future__ import annotations

import random
from fractions import Fraction

from problemsets.families.base import Family, join_ops
from problemsets.families.work import Work, operand

_HIGH = {1: 20, 2: 50, 3: 100, 4: 200, 5: 500}
_OPS = {1: "+-", 2: "+-*", 3: "+-*/", 4: "+-*/", 5: "+-*/"}
_PHRASES = ("Compute {}.", "Evaluate {}.", "What is the value of {}?")


def _divisor(value: int, rng: random.Random) -> int | None:
    options = [d for d in range(2, 13) if value and value % d == 0]
    return rng.choice(options) if options else None


def generate(rng: random.Random, level: int) -> dict:
    high = _HIGH[level]
    value = rng.randint(1, high)
    start, ops = value, []
    for _ in range(level + 1):
        op = rng.choice(_OPS[level])
        if op == "/":
            rhs = _divisor(value, rng)
            op, rhs = ("/", rhs) if rhs else ("+", rng.randint(1, high))
        elif op == "*":
            rhs = rng.randint(2, 9 if level < 4 else 19)
        elif op == "-" and level <= 2:
            rhs = rng.randint(1, max(1, value))  # no negatives at the easy levels
        else:
            rhs = rng.randint(1, high)
        ops.append([op, rhs])
        value = int(_apply(Fraction(value), op, rhs))
    return {"start": start, "ops": ops, "phrase": rng.randrange(len(_PHRASES))}


def _apply(value: Fraction, op: str, rhs: int) -> Fraction:
    return {"+": value + rhs, "-": value - rhs, "*": value * rhs, "/": value / rhs}[op]


def render(p: dict) -> str:
    return _PHRASES[p["phrase"]].format(join_ops(str(p["start"]), [(op, str(b)) for op, b in p["ops"]]))


def solve(p: dict, w: Work) -> Fraction:
    w.say("I'll evaluate the expression from left to right, respecting the parentheses.")
    value = Fraction(p["start"])
    for op, rhs in p["ops"]:
        result = _apply(value, op, rhs)
        sign_slip = {"+": value - rhs, "-": value + rhs}.get(op, -result)
        value = w.step(f"{operand(value)} {op} {rhs}", result, alt=sign_slip)
    return value


FAMILY = Family("arithmetic", generate, render, solve)
