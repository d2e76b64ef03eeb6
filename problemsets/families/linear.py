"""Linear equations in one unknown: `3(x + 4) - 2(x - 5) + 1 = 5x - 7`, solved for x."""

from __future__ import annotations

import random
from fractions import Fraction

from problemsets.families.base import Family
from problemsets.families.work import Work, num, operand

# level -> (coefficient bound, constant bound, parenthesised groups)
_SHAPE = {1: (9, 20, 0), 2: (12, 30, 0), 3: (9, 15, 1), 4: (12, 25, 2), 5: (15, 30, 2)}


def _nonzero(rng: random.Random, bound: int) -> int:
    return rng.choice([v for v in range(-bound, bound + 1) if v])


def generate(rng: random.Random, level: int) -> dict:
    coef, const, groups = _SHAPE[level]
    k1 = rng.randint(2, coef) if level < 4 else _nonzero(rng, coef)
    k2 = _nonzero(rng, coef) if groups == 2 else 0
    m1 = _nonzero(rng, 9) if groups else 0
    m2 = _nonzero(rng, 9) if groups == 2 else 0
    b = _nonzero(rng, const)
    slope = k1 + k2
    if level == 1:
        c = 0
    else:
        c = rng.choice([v for v in range(-coef, coef + 1) if v not in (0, slope)])
    if level == 5:
        # a fractional root p/q: make (slope - c) a multiple of q so the right side stays an integer
        q = rng.randint(2, 7)
        t = rng.choice([-2, -1, 1, 2])
        c = slope - q * t
        x = Fraction(rng.choice([v for v in range(-20, 21) if v % q]), q)
    else:
        x = Fraction(rng.randint(-12, 15) if level > 1 else rng.randint(1, 12))
    d = (slope - c) * x + k1 * m1 + k2 * m2 + b
    return {"k1": k1, "m1": m1, "k2": k2, "m2": m2, "b": b, "c": c, "d": int(d)}


def _signed(term: str, first: bool) -> str:
    if first:
        return term
    return f"- {term[1:]}" if term.startswith("-") else f"+ {term}"


def _x_term(k: int) -> str:
    return {1: "x", -1: "-x"}.get(k, f"{k}x")


def _group(k: int, m: int) -> str:
    inner = f"x + {m}" if m > 0 else f"x - {-m}"
    return f"{k}({inner})" if k not in (1, -1) else ("-" if k < 0 else "") + f"({inner})"


def _side(terms: list[str]) -> str:
    return " ".join(_signed(t, i == 0) for i, t in enumerate(terms)) or "0"


def render(p: dict) -> str:
    if p["m1"]:
        left = [_group(p["k1"], p["m1"])] + ([_group(p["k2"], p["m2"])] if p["k2"] else [])
    else:
        left = [_x_term(p["k1"])]
    left.append(str(p["b"]))
    right = ([_x_term(p["c"])] if p["c"] else []) + ([str(p["d"])] if p["d"] or not p["c"] else [])
    return f"Solve for x: {_side(left)} = {_side(right)}."


def solve(p: dict, w: Work) -> Fraction:
    k1, m1, k2, m2, b, c, d = (p[k] for k in ("k1", "m1", "k2", "m2", "b", "c", "d"))
    constant = Fraction(b)
    if m1:
        w.say("First expand the brackets on the left.")
        parts = [w.step(f"{k1} × {operand(m1)}", k1 * m1, alt=-k1 * m1)]
        if k2:
            parts.append(w.step(f"{k2} × {operand(m2)}", k2 * m2, alt=-k2 * m2))
        constant = w.step(
            "Constant on the left: " + " + ".join(operand(v) for v in [*parts, Fraction(b)]), sum(parts) + b
        )
        slope = w.step(f"Coefficient of x on the left: {k1} + {operand(k2)}", k1 + k2) if k2 else Fraction(k1)
    else:
        slope = Fraction(k1)
    right = ([_x_term(c)] if c else []) + [str(d)]
    w.say(f"So the equation is {_side([_x_term(slope), num(constant)])} = {_side(right)}.")
    if c:
        slope = w.step(
            f"Move {_x_term(c)} to the left: {num(slope)} - {operand(c)}", slope - c, alt=slope + c
        )
    rhs = w.step(
        f"Move {num(constant)} to the right: {d} - {operand(constant)}", d - constant, alt=d + constant
    )
    w.say(f"Now {num(slope)}x = {num(rhs)}.")
    return w.step(f"x = {num(rhs)} / {operand(slope)}", rhs / slope)


FAMILY = Family("linear", generate, render, solve)
