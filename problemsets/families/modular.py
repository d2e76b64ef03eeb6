"""Modular powers: the remainder of a^e divided by m, by repeated squaring."""

from __future__ import annotations

import random
from fractions import Fraction

from problemsets.families.base import Family
from problemsets.families.work import Work

# level -> (modulus range, exponent range)
_SHAPE = {1: ((5, 13), (2, 4)), 2: ((7, 19), (5, 9)), 3: ((11, 31), (10, 20)), 4: ((13, 50), (21, 50))}
_SHAPE[5] = ((23, 97), (51, 200))


def generate(rng: random.Random, level: int) -> dict:
    (m_low, m_high), (e_low, e_high) = _SHAPE[level]
    m = rng.randint(m_low, m_high)
    base = rng.choice([a for a in range(2, 3 * m) if a % m > 1])
    return {"a": base, "e": rng.randint(e_low, e_high), "m": m}


def render(p: dict) -> str:
    return f"What is the remainder when {p['a']}^{p['e']} is divided by {p['m']}?"


def solve(p: dict, w: Work) -> Fraction:
    a, e, m = p["a"], p["e"], p["m"]
    mod = f" (mod {m})"
    if a >= m:
        power = w.step(f"First reduce the base: {a} mod {m}", a % m, modulus=m)
    else:
        power = Fraction(a)
    bits = [1 << i for i in range(e.bit_length()) if e >> i & 1]
    w.say(f"Write {e} = {' + '.join(str(b) for b in reversed(bits))} and square repeatedly modulo {m}.")
    powers = {1: power}
    for i in range(1, e.bit_length()):
        prev = powers[1 << (i - 1)]
        lhs = f"{a}^{1 << i} ≡ {prev}^2 = {prev * prev}"
        powers[1 << i] = w.step(lhs, int(prev * prev) % m, modulus=m, eq=" ≡ ", suffix=mod)
    result = powers[bits[0]]
    for b in bits[1:]:
        lhs = f"Multiply by {a}^{b}: {result} × {powers[b]} = {result * powers[b]}"
        result = w.step(lhs, int(result * powers[b]) % m, modulus=m, eq=" ≡ ", suffix=mod)
    return result


FAMILY = Family("modular", generate, render, solve)
