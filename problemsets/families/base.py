"""What a builtin problem family provides. Families are plain modules registered in `__init__`."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from problemsets.families.work import Work


@dataclass(frozen=True)
class Family:
    name: str
    # (rng, level) -> the problem's parameters (JSON-able); they are stored in problems.meta
    generate: Callable[[random.Random, int], dict]
    # params -> problem text
    render: Callable[[dict], str]
    # (params, work) -> final answer; writes the working into `work`
    solve: Callable[[dict, Work], Fraction]
    # compact traces (`3+5=8*7=6`) instead of one sentence per line, and only slips as mistakes
    compact: bool = False


def join_ops(start: str, ops: list[tuple[str, str]], spaced: bool = True) -> str:
    """Write a left-to-right chain of binary operations with the parentheses precedence needs."""
    expr, additive = start, False
    for op, rhs in ops:
        if op not in "+-" and additive:
            expr = f"({expr})"
        expr = f"{expr} {op} {rhs}" if spaced else f"{expr}{op}{rhs}"
        additive = op in "+-"
    return expr
