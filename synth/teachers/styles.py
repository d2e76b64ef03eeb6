"""`--teacher procedural:styles`: the demo's teacher, which works a `chain` problem in one of three styles.

Built so that the recipe's last two stages have something to act on (docs/demo.md: the design and what
was measured). The chain `3+5*7+4` can be answered
- `steps` (60 % of the rollouts): one operation per written step, `3+5=8*7=6+4=0`, the plain procedural
  teacher's trace; the teacher slips a step now and then (more on longer chains);
- `mental` (15 %): the chain restated and the result, `3+5*7+4=0, in my head`; the teacher does the
  arithmetic in its head and is always right, which a small student cannot imitate;
- `guess` (25 %): a guessed result first, then one or two steps left unfinished, `Guess: 0. 3+5=8...`;
  right half the time.
So the teacher's incorrect rollouts are mostly guesses (Rollout DPO can learn to avoid them), while the
mental rollouts are never wrong (no preference pair singles them out): only the student's own rollouts
show that *it* fails with them (GRPO). A wrong `steps` rollout slips one result, which propagates to the
answer (the multipliers are invertible mod 10, so a slip always changes it).
"""

from __future__ import annotations

import random

STYLES = (("steps", 0.6), ("mental", 0.15), ("guess", 0.25))
P_STEPS_CORRECT = {1: 0.99, 2: 0.99, 3: 0.98, 4: 0.97, 5: 0.96}  # per level
P_GUESS_CORRECT = 0.5


def _apply(value: int, op: str, d: int) -> int:
    return (value + d if op == "+" else value * d) % 10


def _value(start: int, ops: list) -> int:
    for op, d in ops:
        start = _apply(start, op, d)
    return start


def _wrong(value: int, rng: random.Random) -> int:
    return (value + rng.randrange(1, 10)) % 10


def working(params: dict, style: str, correct: bool, rng: random.Random) -> tuple[str, int]:
    """The working of a chain problem in `style` and its final digit."""
    start, ops = params["start"], [(op, d) for op, d in params["ops"]]
    if style == "mental":
        value = _value(start, ops)
        return str(start) + "".join(f"{op}{d}" for op, d in ops) + f"={value}, in my head", value
    shown = len(ops) if style == "steps" else min(len(ops) - 1, rng.randint(1, 2))
    slipped = None if correct or style == "guess" else rng.randrange(shown)
    if style == "guess":  # the guess comes first, then a start on the working that is left unfinished
        value = _value(start, ops) if correct else _wrong(_value(start, ops), rng)
        steps, _ = working({"start": start, "ops": ops[:shown]}, "steps", True, rng)
        return f"Guess: {value}. {steps}...", value
    value, parts = start, [str(start)]
    for i, (op, d) in enumerate(ops[:shown]):
        value = _apply(value, op, d)
        if i == slipped:
            value = _wrong(value, rng)
        parts.append(f"{op}{d}={value}")
    return "".join(parts), value


def write(params: dict, level: int, rng: random.Random) -> tuple[str, str, bool]:
    """(response, boxed answer, correct) for one rollout: the style, then whether it is correct, from `rng`."""
    names, weights = zip(*STYLES, strict=True)
    style = rng.choices(names, weights)[0]
    p = {"steps": P_STEPS_CORRECT[level], "mental": 1.0, "guess": P_GUESS_CORRECT}[style]
    correct = rng.random() < p
    text, value = working(params, style, correct, rng)
    return f"<think>{text}</think>\\boxed{{{value}}}", str(value), correct
