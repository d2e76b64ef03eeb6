"""The procedural teacher: an offline stand-in for an R1-style reasoning model.

For a builtin problem it writes the real step-by-step working (from the problem's meta JSON) inside
`<think>..</think>`, then a short answer ending in `\\boxed{..}`. Depending on the level it makes
realistic mistakes, each guaranteed to change the final answer: an arithmetic slip mid-chain that
propagates, a sign error, a wrong final copy, a sloppy sample that also forgets the box, or a runaway
that keeps re-checking until it is cut at `max_tokens` (finish_reason "length"). `chain` problems get
the compact trace a tiny student learns (`<think>3+5=8*7=6+4=0</think>\\boxed{0}`, docs/teachers.md) and only
slipped digits.
Problems without builtin meta (imported benchmarks) get a short generic response with the same modes.

Everything is decided by a random stream seeded from (problem_id, sample_idx, seed), so a sample is
reproducible on its own, whatever else is generated around it. Temperature and top_p are recorded by
the loop but do not change what this teacher writes.

Tokens are counted as ceil(characters / 4) (a common rule of thumb for English and LaTeX with BPE
tokenizers), both for the prompt and the completion; a response is cut at 4 * max_tokens characters.
"""

from __future__ import annotations

import functools
import json
import math
import random
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction

from lakehouse.errors import UserError
from lakehouse.ids import stable_hash
from problemsets.families import FAMILIES
from problemsets.families.base import Family
from problemsets.families.work import SIGN, SLIP, Fault, Work, latex, num, slip
from sampling.config import Backends
from sampling.types import Completion, SampleRequest
from synth.teachers.styles import write as write_styled

CHARS_PER_TOKEN = 4
CORRECT, COPY, NOBOX, RUNAWAY = "correct", "copy", "nobox", "runaway"
MODES = (CORRECT, SLIP, SIGN, COPY, NOBOX, RUNAWAY)
# Probability of a correct sample per level, and how the failures split between the mistakes.
P_CORRECT = {1: 0.95, 2: 0.78, 3: 0.58, 4: 0.38, 5: 0.20}
FAILURES = ((SLIP, 0.40), (SIGN, 0.20), (COPY, 0.12), (NOBOX, 0.12), (RUNAWAY, 0.16))
DEFAULT_LEVEL = 3  # for imported problems without a usable level
RAMBLE_CAP_CHARS = 4 * 65_536  # a runaway stops by itself here when max_tokens is larger still
_FAULT_TRIES = 6

_OPENERS = (
    "Okay, let's work through this step by step.",
    "Alright, I need to solve this carefully.",
    "Let me think about this problem.",
    "First, let me make sure I understand what is asked.",
)
_RECHECKS = (
    "Wait, let me double-check that.",
    "Hmm, let me verify each step again.",
    "Actually, let me recompute this to be sure.",
)


@dataclass(frozen=True)
class Plan:
    text: str
    intended_correct: bool
    finish_reason: str  # stop | length
    mode: str  # one of MODES
    answer: str | None  # what the response boxes (None: no box, or cut before it)
    completion_tokens: int


@dataclass(frozen=True)
class _Solution:
    family: Family
    params: dict
    lines: tuple[str, ...]
    value: Fraction
    slippable: tuple[int, ...]
    signable: tuple[int, ...]


def count_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


@functools.lru_cache(maxsize=65_536)
def _clean_solution(meta: str) -> _Solution | None:
    """The fault-free working of a builtin problem (cached: all samples of a problem share it)."""
    try:
        params = json.loads(meta or "{}")
    except ValueError:
        return None
    family = FAMILIES.get(params.get("family")) if isinstance(params, dict) else None
    if family is None:
        return None
    w = Work()
    try:
        value = family.solve(params, w)
    except (
        KeyError,
        TypeError,
        ValueError,
        ZeroDivisionError,
    ):  # an imported row that merely has a "family" field
        return None
    return _Solution(family, params, tuple(w.lines), value, tuple(w.slippable), tuple(w.signable))


def _level(row: Mapping) -> int:
    level = row.get("level")
    return level if level in P_CORRECT else DEFAULT_LEVEL


def _pick_mode(rng: random.Random, level: int, compact: bool) -> str:
    if rng.random() < P_CORRECT[level]:
        return CORRECT
    if compact:
        return SLIP
    modes, weights = zip(*FAILURES, strict=True)
    return rng.choices(modes, weights)[0]


def _with_fault(sol: _Solution, kind: str, rng: random.Random) -> tuple[list[str], Fraction] | None:
    """Working with one corrupted step whose error reaches the final answer, or None if none does."""
    kind = SIGN if kind == SIGN and sol.signable else SLIP
    steps = sol.signable if kind == SIGN else sol.slippable
    for step in rng.sample(steps, min(len(steps), _FAULT_TRIES)):
        w = Work(Fault(kind, step, rng.getrandbits(32)))
        try:
            value = sol.family.solve(sol.params, w)
        except ZeroDivisionError:  # the fault made a divisor zero: try another step
            continue
        if value != sol.value:
            return w.lines, value
    return None


def _wrong_copy(value: Fraction, rng: random.Random) -> Fraction:
    return slip(value, rng)


def plan(row: Mapping, sample_idx: int, seed: int, max_tokens: int, styles: bool = False) -> Plan:
    """What the teacher writes for sample `sample_idx` of `row` (a problems-table row as a mapping);
    `styles`: `chain` problems in one of three styles (synth/teachers/styles.py)."""
    rng = random.Random(int(stable_hash(f"{row['problem_id']}\x1f{sample_idx}\x1f{seed}"), 16))
    sol = _clean_solution(row.get("meta") or "{}")
    if styles and sol is not None and sol.family.name == "chain":
        text, answer, correct = write_styled(sol.params, _level(row), rng)
        mode = CORRECT if correct else SLIP
    else:
        mode = _pick_mode(rng, _level(row), compact=sol is not None and sol.family.compact)
        if sol is None:
            text, answer = _generic(row, mode, rng, max_tokens)
        elif sol.family.compact:
            text, answer = _compact(sol, mode, rng)
        else:
            text, answer = _verbose(sol, mode, rng, max_tokens)
    limit = CHARS_PER_TOKEN * max_tokens
    finish = "stop"
    if len(text) > limit:
        text, finish, answer = text[:limit], "length", None
    intended = mode == CORRECT and finish == "stop"
    return Plan(text, intended, finish, mode, answer, count_tokens(text))


def _compact(sol: _Solution, mode: str, rng: random.Random) -> tuple[str, str]:
    lines, value = list(sol.lines), sol.value
    if mode != CORRECT:
        faulted = _with_fault(sol, SLIP, rng)  # invertible steps: a slip always reaches the answer
        lines, value = faulted if faulted else (lines, _wrong_copy(value, rng))
    answer = latex(value)
    return f"<think>{''.join(lines)}</think>\\boxed{{{answer}}}", answer


def _verbose(sol: _Solution, mode: str, rng: random.Random, max_tokens: int) -> tuple[str, str | None]:
    lines, value, shown = list(sol.lines), sol.value, sol.value
    if mode in (SLIP, SIGN, NOBOX):
        faulted = _with_fault(sol, SIGN if mode == SIGN else SLIP, rng)
        if faulted:
            lines, value = faulted
            shown = value
        else:
            shown = _wrong_copy(value, rng)
    elif mode == COPY:
        shown = _wrong_copy(value, rng)
    think = [rng.choice(_OPENERS), *lines, f"So the result is {num(value)}."]
    if mode == RUNAWAY:
        return _runaway(think, lines, rng, max_tokens), None
    return _respond(think, shown, boxed=mode != NOBOX)


def _respond(think: list[str], shown: Fraction | str, boxed: bool) -> tuple[str, str | None]:
    answer = shown if isinstance(shown, str) else latex(shown)
    if boxed:
        visible = f"Therefore, the final answer is $\\boxed{{{answer}}}$."
    else:  # no box and no answer phrase: the response states a (wrong) result in passing
        visible = f"Putting the steps together gives ${answer}$ for this problem."
    return "<think>\n" + "\n".join(think) + "\n</think>\n\n" + visible, answer if boxed else None


def _runaway(think: list[str], lines: list[str], rng: random.Random, max_tokens: int) -> str:
    """Re-checks the working over and over; cut at max_tokens by `plan` (or stops at a hard cap)."""
    limit = min(CHARS_PER_TOKEN * max_tokens, RAMBLE_CAP_CHARS)
    parts, size = list(think), sum(len(t) + 1 for t in think)
    while size <= limit:
        for chunk in (rng.choice(_RECHECKS), *lines):
            parts.append(chunk)
            size += len(chunk) + 1
    parts.append("I keep going around in circles here.")
    return "<think>\n" + "\n".join(parts)


_FRAC = re.compile(r"(-?)\\[dt]?frac\{(\d+)\}\{(\d+)\}")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:/\d+)?")


def _as_fraction(gold: str) -> Fraction | None:
    gold = gold.strip().strip("$").strip()
    m = _FRAC.fullmatch(gold)
    if m:
        return Fraction(int(m.group(2)), int(m.group(3))) * (-1 if m.group(1) else 1)
    if _NUMBER.fullmatch(gold):
        return Fraction(gold)
    return None


def _generic_wrong(gold: str, rng: random.Random) -> str:
    """An answer that is certainly not the gold one."""
    value = _as_fraction(gold)
    if value is not None:
        return latex(slip(value, rng))
    return str(rng.choice([n for n in range(2, 100) if str(n) != gold.strip()]))


def _generic(row: Mapping, mode: str, rng: random.Random, max_tokens: int) -> tuple[str, str | None]:
    """A response for an imported problem: no working is known, only the gold answer."""
    gold = str(row.get("answer") or "")
    shown = gold if mode == CORRECT else _generic_wrong(gold, rng)
    think = [
        rng.choice(_OPENERS),
        "I'll set up the relevant quantities and simplify carefully.",
        f"That gives {shown}.",
    ]
    if mode == RUNAWAY:
        return _runaway(think, think[1:], rng, max_tokens), None
    return _respond(think, shown, boxed=mode != NOBOX)


def _row(req: SampleRequest) -> dict:
    return {
        "problem_id": req.problem_id,
        "problem": req.problem,
        "answer": req.answer,
        "level": req.level,
        "meta": req.meta,
    }


class ProceduralTeacher:
    """Implements the Teacher protocol (sampling/types.py); costs nothing, needs no network."""

    def __init__(self, styles: bool = False):
        self.styles = styles
        self.name = "procedural:styles" if styles else "procedural"

    def generate(self, requests: list[SampleRequest]) -> Iterator[tuple[SampleRequest, Completion]]:
        for req in requests:
            start = time.perf_counter()
            p = plan(_row(req), req.sample_idx, req.seed, req.max_tokens, self.styles)
            prompt_chars = sum(len(m.get("content") or "") for m in req.messages)
            yield (
                req,
                Completion(
                    completion=p.text,
                    finish_reason=p.finish_reason,
                    prompt_tokens=math.ceil(prompt_chars / CHARS_PER_TOKEN),
                    completion_tokens=p.completion_tokens,
                    latency_s=time.perf_counter() - start,
                    cost_usd=0.0,
                ),
            )

    def close(self) -> None:
        """Nothing to release."""


def make(rest: str, backends: Backends, seed: int = 0) -> ProceduralTeacher:
    """Registry factory (the same signature as sampling's backends); every sample is seeded by its unit."""
    if rest not in ("", "styles"):
        raise UserError(f"teacher 'procedural' takes no argument or 'styles', got 'procedural:{rest}'")
    return ProceduralTeacher(styles=rest == "styles")
