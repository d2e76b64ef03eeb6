"""Left-to-right chains of single digits with + and × (by 3, 7 or 9), keeping only the last digit.

This is the task a tiny student can learn with chain of thought and not without it (measured: train/README.md, "The tiny student"):
the multipliers are invertible mod 10, so a wrong digit anywhere always changes the final answer.
"""

from __future__ import annotations

import random
from fractions import Fraction

from problemsets.families.base import Family
from problemsets.families.work import Work

TERMS = {1: (2, 3), 2: (4, 4), 3: (5, 6), 4: (7, 8), 5: (9, 10)}  # level -> number of digits
MULTIPLIERS = (3, 7, 9)


def generate(rng: random.Random, level: int) -> dict:
    low, high = TERMS[level]
    ops = []
    for _ in range(rng.randint(low, high) - 1):
        if rng.random() < 0.4:
            ops.append(["*", rng.choice(MULTIPLIERS)])
        else:
            ops.append(["+", rng.randint(1, 9)])
    return {"start": rng.randint(0, 9), "ops": ops}


def render(p: dict) -> str:
    chain = str(p["start"]) + "".join(f"{op}{d}" for op, d in p["ops"])
    return f"Left to right, mod 10: {chain}"


def solve(p: dict, w: Work) -> Fraction:
    value = Fraction(p["start"])
    w.say(str(p["start"]))
    for op, d in p["ops"]:
        exact = value + d if op == "+" else value * d
        value = w.step(f"{op}{d}", int(exact) % 10, modulus=10, eq="=")
    return value


FAMILY = Family("chain", generate, render, solve, compact=True)
