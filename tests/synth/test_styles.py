"""`procedural:styles`, the demo's teacher: each style is written as documented, a wrong rollout is wrong
for the reason its style gives, the style and correctness rates are the documented ones, and the
incorrect rollouts are mostly guesses while mental rollouts are never wrong (what the demo relies on)."""

from __future__ import annotations

import json
import random
import re
from collections import Counter

import pytest

from problemsets.builtin import generate
from synth.teachers.procedural import plan
from synth.teachers.styles import P_GUESS_CORRECT, P_STEPS_CORRECT, STYLES, working

STEPS = re.compile(r"<think>(\d)((?:[+*]\d=\d)+)</think>\\boxed\{(\d)\}")
MENTAL = re.compile(r"<think>(\d)((?:[+*]\d)+)=(\d), in my head</think>\\boxed\{(\d)\}")
GUESS = re.compile(r"<think>Guess: (\d)\. (\d)((?:[+*]\d=\d){0,2})\.\.\.</think>\\boxed\{(\d)\}")
PARAMS = {"family": "chain", "level": 1, "start": 3, "ops": [["+", 5], ["*", 7], ["+", 4]]}


def _apply(value: int, op: str, d: str) -> int:
    return (value + int(d)) % 10 if op == "+" else (value * int(d)) % 10


def test_each_style_writes_the_documented_working():
    rng = random.Random(0)
    assert working(PARAMS, "steps", True, rng) == ("3+5=8*7=6+4=0", 0)
    assert working(PARAMS, "mental", True, rng) == ("3+5*7+4=0, in my head", 0)
    guesses = {working(PARAMS, "guess", True, random.Random(s))[0] for s in range(20)}
    assert guesses == {"Guess: 0. 3+5=8...", "Guess: 0. 3+5=8*7=6..."}  # the guess, then one or two steps


@pytest.fixture(scope="module")
def rollouts() -> list[tuple[dict, object]]:
    rows = generate("builtin:chain", 500, seed=3).rows  # 100 per level
    return [(row, plan(row, idx, 0, 256, styles=True)) for row in rows for idx in range(8)]


def _style(text: str) -> str:
    for name, pattern in (("steps", STEPS), ("mental", MENTAL), ("guess", GUESS)):
        if pattern.fullmatch(text):
            return name
    raise AssertionError(f"no style matches {text!r}")


def test_every_rollout_is_one_style_and_wrong_for_its_reason(rollouts):
    for row, p in rollouts:
        ops = json.loads(row["meta"])["ops"]
        gold = int(row["answer"])
        style = _style(p.text)
        boxed = int(p.text[-2])
        assert p.intended_correct == (boxed == gold) and p.answer == str(boxed)
        if style == "steps":  # a wrong one slips exactly one written result; later steps build on it
            m = STEPS.fullmatch(p.text)
            value, bad = int(m.group(1)), 0
            for op, d, result in re.findall(r"([+*])(\d)=(\d)", m.group(2)):
                bad += _apply(value, op, d) != int(result)
                value = int(result)
            assert (len(re.findall(r"[+*]", m.group(2))), value, bad) == (
                len(ops),
                boxed,
                0 if p.intended_correct else 1,
            )
        elif style == "mental":  # the whole chain restated, and always right
            m = MENTAL.fullmatch(p.text)
            assert m.group(2) == "".join(f"{op}{d}" for op, d in ops) and p.intended_correct
        else:  # the guess is what is boxed; the unfinished steps after it are right
            m = GUESS.fullmatch(p.text)
            assert int(m.group(1)) == boxed and int(m.group(2)) == json.loads(row["meta"])["start"]
            value = int(m.group(2))
            for op, d, result in re.findall(r"([+*])(\d)=(\d)", m.group(3)):
                assert _apply(value, op, d) == int(result)
                value = int(result)


def test_style_and_correct_rates_are_the_documented_ones(rollouts):
    by_style = Counter(_style(p.text) for _, p in rollouts)
    n = len(rollouts)
    for name, share in STYLES:  # within 4 binomial standard deviations of the documented share
        assert abs(by_style[name] / n - share) < 4 * (share * (1 - share) / n) ** 0.5, (name, by_style)
    for level, p_steps in P_STEPS_CORRECT.items():
        steps = [
            p.intended_correct for row, p in rollouts if row["level"] == level and _style(p.text) == "steps"
        ]
        assert abs(sum(steps) / len(steps) - p_steps) < 4 * (p_steps * (1 - p_steps) / len(steps)) ** 0.5
    guesses = [p.intended_correct for _, p in rollouts if _style(p.text) == "guess"]
    sd = (P_GUESS_CORRECT * (1 - P_GUESS_CORRECT) / len(guesses)) ** 0.5
    assert abs(sum(guesses) / len(guesses) - P_GUESS_CORRECT) < 4 * sd


def test_wrong_rollouts_are_mostly_guesses_and_never_mental(rollouts):
    wrong = Counter(_style(p.text) for _, p in rollouts if not p.intended_correct)
    assert wrong["mental"] == 0
    assert wrong["guess"] > 2 * wrong["steps"]  # what Rollout DPO can learn to avoid


def test_other_families_get_the_plain_teacher(rollouts):
    row = generate("builtin:linear", 1, seed=0).rows[0]
    assert plan(row, 0, 0, 2048, styles=True) == plan(row, 0, 0, 2048)
