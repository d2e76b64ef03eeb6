"""The working of a builtin problem, written one step at a time, with an optional injected fault.

A family's solver threads every intermediate result through `Work.step`, which returns the value the
solver must use next. With no fault the solver computes the exact gold answer (all values are
`Fraction`s). With a fault, one step returns a corrupted value; since later steps consume what `step`
returned, the error propagates to the final answer exactly as a real slip would.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from fractions import Fraction

SLIP = "slip"  # one step's result has a wrong digit
SIGN = "sign"  # one step uses the opposite sign (a - b computed as a + b, a term moved without flipping)


def num(value: Fraction) -> str:
    """A value as plain text: `5`, `-3`, `23/12`."""
    value = Fraction(value)
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def operand(value: Fraction) -> str:
    """A value as an operand in a written expression: negatives and fractions in parentheses."""
    text = num(value)
    return f"({text})" if value < 0 else text


def latex(value: Fraction) -> str:
    """A value as a final answer: `5`, `-3`, `\\frac{23}{12}`, `-\\frac{1}{2}`."""
    value = Fraction(value)
    if value.denominator == 1:
        return str(value.numerator)
    sign = "-" if value < 0 else ""
    return f"{sign}\\frac{{{abs(value.numerator)}}}{{{value.denominator}}}"


def change_digit(n: int, rng: random.Random) -> int:
    """`n` with one decimal digit replaced by a different one (never a new leading zero)."""
    digits = str(abs(n))
    i = rng.randrange(len(digits))
    lead = i == 0 and len(digits) > 1
    choices = [d for d in "0123456789" if d != digits[i] and not (lead and d == "0")]
    changed = int(digits[:i] + rng.choice(choices) + digits[i + 1 :])
    return -changed if n < 0 else changed


def slip(value: Fraction, rng: random.Random, modulus: int | None = None) -> Fraction:
    """A value that differs from `value`: a wrong residue, or one wrong digit (of the numerator)."""
    if modulus:
        return Fraction((int(value) + rng.randrange(1, modulus)) % modulus)
    if value.denominator == 1:
        return Fraction(change_digit(value.numerator, rng))
    return Fraction(change_digit(value.numerator, rng), value.denominator)


@dataclass(frozen=True)
class Fault:
    kind: str  # SLIP | SIGN
    step: int  # index of the corrupted step
    salt: int  # makes the slip's digit choice deterministic


class Work:
    """Collects the lines of a solution. `slippable` / `signable` list the steps a fault may hit."""

    def __init__(self, fault: Fault | None = None):
        self.lines: list[str] = []
        self.slippable: list[int] = []
        self.signable: list[int] = []
        self.fault = fault
        self._steps = 0

    def say(self, line: str) -> None:
        self.lines.append(line)

    def step(
        self,
        lhs: str,
        value: Fraction | int,
        *,
        alt: Fraction | int | None = None,
        modulus: int | None = None,
        can_slip: bool = True,
        eq: str = " = ",
        suffix: str = "",
    ) -> Fraction:
        """Write `lhs{eq}value{suffix}` and return the value to carry on with.

        `alt` is what a sign error gives at this step; `can_slip=False` marks steps whose result is
        divided later, where a slipped digit would leave an absurd non-integer count.
        """
        value = Fraction(value)
        i = self._steps
        self._steps += 1
        if can_slip:
            self.slippable.append(i)
        if alt is not None and Fraction(alt) != value:
            self.signable.append(i)
        if self.fault is not None and self.fault.step == i:
            value = self._corrupt(value, alt, modulus)
        self.lines.append(f"{lhs}{eq}{num(value)}{suffix}")
        return value

    def _corrupt(self, value: Fraction, alt: Fraction | int | None, modulus: int | None) -> Fraction:
        if self.fault.kind == SIGN and alt is not None:
            return Fraction(alt)
        return slip(value, random.Random(self.fault.salt), modulus)
