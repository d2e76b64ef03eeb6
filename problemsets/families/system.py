"""Two linear equations in x and y; the question asks for x + y."""

from __future__ import annotations

import random
from fractions import Fraction

from problemsets.families.base import Family
from problemsets.families.work import Work, num, operand

# level -> (coefficient bound, whether the solution may be fractional)
_SHAPE = {1: (5, False), 2: (6, False), 3: (12, False), 4: (15, True), 5: (25, True)}


def generate(rng: random.Random, level: int) -> dict:
    bound, fractional = _SHAPE[level]
    low = 1 if level == 1 else -bound
    while True:
        a1, b1, a2, b2 = (rng.choice([v for v in range(low, bound + 1) if v]) for _ in range(4))
        if a1 * b2 - a2 * b1:
            break
    if fractional:
        c1, c2 = rng.randint(-3 * bound, 3 * bound), rng.randint(-3 * bound, 3 * bound)
    else:
        x, y = (rng.randint(0, 9) if level == 1 else rng.randint(-9, 9) for _ in range(2))
        c1, c2 = a1 * x + b1 * y, a2 * x + b2 * y
    return {"a1": a1, "b1": b1, "c1": c1, "a2": a2, "b2": b2, "c2": c2}


def _equation(a: int, b: int, c: int) -> str:
    x = {1: "x", -1: "-x"}.get(a, f"{a}x")
    y = "y" if abs(b) == 1 else f"{abs(b)}y"
    return f"{x} {'+' if b > 0 else '-'} {y} = {c}"


def render(p: dict) -> str:
    first = _equation(p["a1"], p["b1"], p["c1"])
    second = _equation(p["a2"], p["b2"], p["c2"])
    return f"Solve the system {first} and {second}. What is x + y?"


def _product(w: Work, a: int, b: int) -> Fraction:
    return w.step(f"{a} × {operand(b)}", a * b, alt=-a * b)


def _difference(w: Work, name: str, u: Fraction, v: Fraction) -> Fraction:
    return w.step(f"{name} = {num(u)} - {operand(v)}", u - v, alt=u + v)


def solve(p: dict, w: Work) -> Fraction:
    a1, b1, c1, a2, b2, c2 = (p[k] for k in ("a1", "b1", "c1", "a2", "b2", "c2"))
    w.say("Use Cramer's rule: D = a1·b2 - a2·b1, Dx = c1·b2 - c2·b1, Dy = a1·c2 - a2·c1.")
    det = _difference(w, "D", _product(w, a1, b2), _product(w, a2, b1))
    det_x = _difference(w, "Dx", _product(w, c1, b2), _product(w, c2, b1))
    det_y = _difference(w, "Dy", _product(w, a1, c2), _product(w, a2, c1))
    x = w.step(f"x = Dx / D = {num(det_x)} / {operand(det)}", det_x / det)
    y = w.step(f"y = Dy / D = {num(det_y)} / {operand(det)}", det_y / det)
    return w.step(f"x + y = {num(x)} + {operand(y)}", x + y, alt=x - y)


FAMILY = Family("system", generate, render, solve)
