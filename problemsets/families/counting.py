"""Counting: pairs, choices, ordered selections, committees, and arrangements of repeated letters."""

from __future__ import annotations

import math
import random
from fractions import Fraction

from problemsets.families.base import Family
from problemsets.families.work import Work, num

_PEOPLE = ("students", "players", "friends", "volunteers", "engineers")


def generate(rng: random.Random, level: int) -> dict:
    who = rng.randrange(len(_PEOPLE))
    if level == 1:
        return {"kind": "pairs", "n": rng.randint(4, 40), "who": who}
    if level == 2:
        kind = rng.choice(["choose", "podium"])
        return {"kind": kind, "n": rng.randint(6, 25), "k": rng.randint(3, 4), "who": who}
    if level == 4:
        letters = rng.sample("ABCDEFGH", rng.randint(2, 4))
        counts = [rng.randint(1, 3) for _ in letters]
        return {"kind": "letters", "letters": "".join(letters), "counts": counts}
    while True:
        women, men = rng.randint(3, 9 + level), rng.randint(3, 9 + level)
        k = rng.randint(3, 6)
        low, high = max(1, k - men), min(k, women) - (level == 5)  # "at least" needs two cases or more
        if low <= high:
            break
    i = rng.randint(low, high)
    return {"kind": "exact" if level == 3 else "at_least", "women": women, "men": men, "k": k, "i": i}


def render(p: dict) -> str:
    kind = p["kind"]
    if kind == "pairs":
        return f"In how many ways can 2 of {p['n']} {_PEOPLE[p['who']]} be chosen?"
    if kind == "choose":
        return f"In how many ways can a team of {p['k']} be chosen from {p['n']} {_PEOPLE[p['who']]}?"
    if kind == "podium":
        places = "first, second and third" if p["k"] == 3 else "first, second, third and fourth"
        return f"{p['n']} {_PEOPLE[p['who']]} enter a race. In how many ways can {places} place be awarded?"
    if kind == "letters":
        word = ", ".join(c for c, r in zip(p["letters"], p["counts"], strict=True) for _ in range(r))
        return f"How many distinct arrangements are there of the letters {word}?"
    many = "exactly" if kind == "exact" else "at least"
    return (
        f"A committee of {p['k']} is chosen from {p['women']} women and {p['men']} men. "
        f"How many committees have {many} {p['i']} {'woman' if p['i'] == 1 else 'women'}?"
    )


def _binomial(w: Work, n: int, k: int) -> Fraction:
    """C(n, k) as a falling product over k!; only the quotient may slip (the rest gets divided)."""
    if k == 0 or k == n:
        w.say(f"C({n}, {k}) = 1.")
        return Fraction(1)
    top = Fraction(n)
    for f in range(n - 1, n - k, -1):
        top = w.step(f"{num(top)} × {f}", top * f, can_slip=False)
    bottom = w.step(f"{k}!", math.factorial(k), can_slip=False)
    return w.step(f"C({n}, {k}) = {num(top)} / {num(bottom)}", top / bottom)


def _committees(w: Work, p: dict, women: int) -> Fraction:
    w.say(f"Choose {women} of {p['women']} women and {p['k'] - women} of {p['men']} men.")
    left = _binomial(w, p["women"], women)
    right = _binomial(w, p["men"], p["k"] - women)
    return w.step(f"{num(left)} × {num(right)}", left * right)


def _letters(w: Work, p: dict) -> Fraction:
    free, total = sum(p["counts"]), Fraction(1)
    w.say(f"Place the letters kind by kind into the {free} free positions.")
    for letter, r in zip(p["letters"], p["counts"], strict=True):
        w.say(f"Positions for the {letter}'s: C({free}, {r}).")
        ways = _binomial(w, free, r)
        total = w.step(f"{num(total)} × {num(ways)}", total * ways)
        free -= r
    return total


def solve(p: dict, w: Work) -> Fraction:
    kind = p["kind"]
    if kind == "pairs":
        w.say("Order does not matter, so count unordered pairs.")
        return _binomial(w, p["n"], 2)
    if kind == "choose":
        w.say("Order does not matter: this is a binomial coefficient.")
        return _binomial(w, p["n"], p["k"])
    if kind == "podium":
        w.say("Order matters: multiply the choices for each place.")
        total = Fraction(p["n"])
        for f in range(p["n"] - 1, p["n"] - p["k"], -1):
            total = w.step(f"{num(total)} × {f}", total * f)
        return total
    if kind == "letters":
        return _letters(w, p)
    if kind == "exact":
        return _committees(w, p, p["i"])
    top = min(p["k"], p["women"])
    w.say(f"Add the cases with {p['i']} to {top} women.")
    total = Fraction(0)
    for women in range(p["i"], top + 1):
        case = _committees(w, p, women)
        total = w.step(f"Running total: {num(total)} + {num(case)}", total + case) if total else case
    return total


FAMILY = Family("counting", generate, render, solve)
