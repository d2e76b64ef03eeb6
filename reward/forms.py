"""Answer forms math-verify judges wrong, rewritten before it sees them (pure, standard library only).

Measured on real answers (docs/reward.md): an inequality where the gold is an interval (`3 < x \\le 4` vs
`(3,4]`, `x > 5` vs `(5,\\infty)`), an ordinal or a unit word after a number (`12^{\\text{th}}\\text{ grade}`
vs `12`), and a multiple-choice letter with its value (`\\text{(C) } 12` vs `(C)`). Each rewrite applies
only to the exact shape it names, on short strings, with bounded regular expressions.
"""

from __future__ import annotations

import re

_MAX = 200  # longer answers are left alone: these are forms of short final answers
_NUM = r"-?(?:\d+(?:\.\d+)?|\\frac\{[^{}]{1,20}\}\{[^{}]{1,20}\}|\\infty)"
_VAR = r"[a-zA-Z]"
_LESS = {"<": False, "\\lt": False, "\\le": True, "\\leq": True, "≤": True}
_GREATER = {">": False, "\\gt": False, "\\ge": True, "\\geq": True, "≥": True}
_OP = r"(<|\\lt|\\leq?|≤|>|\\gt|\\geq?|≥)"
_CHAIN = re.compile(rf"^\s*({_NUM})\s*{_OP}\s*({_VAR})\s*{_OP}\s*({_NUM})\s*$")
_ONE_SIDE = re.compile(rf"^\s*({_VAR})\s*{_OP}\s*({_NUM})\s*$")
_IN_INTERVAL = re.compile(rf"^\s*{_VAR}\s*\\in\s*(.+)$")
_ORDINAL = re.compile(
    r"\^\{?\\text\{\s*(?:st|nd|rd|th)\s*\}\}?|\^\{(?:st|nd|rd|th)\}|\\text\{\s*(?:st|nd|rd|th)\s*\}"
)
_TRAILING_WORDS = re.compile(r"^(\s*-?\d+(?:\.\d+)?)\s*(?:\\text\{\s*[A-Za-z][A-Za-z ]{0,30}\}\s*)+$")
_CHOICE = re.compile(r"^\s*\(?([A-E])\)?\s*$")
_CHOICE_LEAD = re.compile(r"^\s*(?:\\text\{\s*)?\(([A-E])\)")


def rewrite(gold: str, pred: str) -> tuple[str, str]:
    """(gold, pred) with the known forms normalised; anything else unchanged."""
    if len(gold) > _MAX or len(pred) > _MAX:
        return gold, pred
    gold, pred = as_interval(gold), as_interval(pred)
    pred = _strip_words_after_number(_ORDINAL.sub("", pred))
    choice = _CHOICE.match(gold)
    if choice:
        lead = _CHOICE_LEAD.match(pred)
        if lead:
            return choice.group(1), lead.group(1)
    return gold, pred


def as_interval(text: str) -> str:
    """`a < x \\le b` -> `(a,b]`, `x > a` -> `(a,\\infty)`, `x \\in [a,b]` -> `[a,b]`; else unchanged."""
    inside = _IN_INTERVAL.match(text)
    if inside:
        return inside.group(1).strip()
    chain = _CHAIN.match(text)
    if chain:
        lo, op1, _, op2, hi = chain.groups()
        if op1 in _LESS and op2 in _LESS:
            return f"{'[' if _LESS[op1] else '('}{lo},{hi}{']' if _LESS[op2] else ')'}"
        if op1 in _GREATER and op2 in _GREATER:  # b > x > a
            return f"{'[' if _GREATER[op2] else '('}{hi},{lo}{']' if _GREATER[op1] else ')'}"
        return text
    side = _ONE_SIDE.match(text)
    if side:
        _, op, bound = side.groups()
        if op in _GREATER:
            return f"{'[' if _GREATER[op] else '('}{bound},\\infty)"
        return f"(-\\infty,{bound}{']' if _LESS[op] else ')'}"
    return text


def _strip_words_after_number(text: str) -> str:
    """`12\\text{ grade}` -> `12` (a number followed only by words in \\text{})."""
    m = _TRAILING_WORDS.match(text)
    return m.group(1).strip() if m else text
