"""The paper's RL stabilisers as small parts the GRPO stage composes (train/README.md says exactly
what each does and what it does not).

- temperature annealing: `TemperatureSchedule` + the `AnnealTemperature` callback;
- prompt optimisation: `uniform_length_mask` over probe samples (train/probe.py draws them);
- reward rebalancing: `oversample_hard` (dataset resampling), `SolveTracker` + `SkipSolvedSampler`
  (stop sampling solved prompts), `balance_negatives` (mask surplus negatives out of the loss).
"""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from transformers import TrainerCallback


@dataclass(frozen=True)
class TemperatureSchedule:
    """Linear from `start` to `end` over the first `fraction` of the steps, then constant at `end`."""

    start: float = 1.0
    end: float = 0.6
    fraction: float = 0.5

    def at(self, step: int, max_steps: int) -> float:
        horizon = self.fraction * max_steps
        progress = 1.0 if horizon <= 0 else min(1.0, step / horizon)
        return self.start + (self.end - self.start) * progress


class AnnealTemperature(TrainerCallback):
    """Before each optimizer step, set the temperature the trainer samples (and scores) with to the
    schedule's value, through train/trl_adapter.py, which knows where TRL keeps it; the value goes into
    the step's metrics as `sampling_temperature` (TRL averages it over each logging window)."""

    def __init__(self, trainer, schedule: TemperatureSchedule):
        self.trainer = trainer
        self.schedule = schedule

    def on_step_begin(self, args, state, control, **kwargs):
        from train.trl_adapter import log_metric, set_sampling_temperature

        t = self.schedule.at(state.global_step, state.max_steps)
        set_sampling_temperature(self.trainer, t)
        log_metric(self.trainer, "sampling_temperature", t)


def uniform_length_mask(lengths: Sequence[Sequence[int]], max_cv: float) -> list[bool]:
    """Per prompt: are its sampled response lengths uniform (coefficient of variation <= max_cv)?"""
    keep = []
    for ls in lengths:
        mean = statistics.fmean(ls) if ls else 0.0
        cv = statistics.pstdev(ls) / mean if mean > 0 else 0.0
        keep.append(cv <= max_cv)
    return keep


def oversample_hard(pass_rates: Sequence[float | None], floor: float, seed: int) -> list[int]:
    """Row indices, as many as rows, drawn with replacement with weight (1 - pass_rate) + floor.

    A prompt nobody has solved is drawn (1 + floor) / floor times as often as one always solved.
    A missing pass rate counts as 0.5.
    """
    weights = [(1.0 - (0.5 if p is None else float(p))) + floor for p in pass_rates]
    rng = random.Random(seed)
    return rng.choices(range(len(weights)), weights=weights, k=len(weights))


@dataclass
class SolveTracker:
    """Counts, per problem, how many of the policy's sampled responses were correct."""

    threshold: float = 0.5
    min_samples: int = 8
    seen: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    correct: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def record(self, problem_ids: Sequence[str], rewards: Sequence[float | None]) -> None:
        for pid, r in zip(problem_ids, rewards, strict=True):
            if r is None:
                continue  # a reward that failed says nothing about the policy
            self.seen[pid] += 1
            self.correct[pid] += int(r >= 1.0)

    def solved(self, problem_id: str) -> bool:
        n = self.seen.get(problem_id, 0)
        return n >= self.min_samples and self.correct[problem_id] / n > self.threshold

    def n_solved(self) -> int:
        return sum(self.solved(p) for p in self.seen)


class SkipSolvedSampler:
    """TRL's RepeatSampler order (each prompt `mini_repeat_count` times in a row, chunks of `batch_size`
    prompts repeated `repeat_count` times), but prompts the tracker calls solved are skipped when a
    chunk is formed. Chunks are formed lazily, so decisions use the rewards seen so far. If fewer
    unsolved prompts than a chunk remain, solved ones fill it (training never stalls on an empty epoch).
    """

    def __init__(
        self,
        problem_ids: Sequence[str],
        tracker: SolveTracker,
        mini_repeat_count: int,
        batch_size: int,
        repeat_count: int,
        shuffle: bool = True,
        seed: int = 0,
    ):
        self.problem_ids = list(problem_ids)
        self.tracker = tracker
        self.mini_repeat_count = mini_repeat_count
        self.batch_size = batch_size
        self.repeat_count = repeat_count
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        chunks = len(self.problem_ids) // self.batch_size
        return chunks * self.batch_size * self.mini_repeat_count * self.repeat_count

    def __iter__(self) -> Iterator[int]:
        order = list(range(len(self.problem_ids)))
        if self.shuffle:
            random.Random(self.seed + self.epoch).shuffle(order)
        self.epoch += 1
        for chunk in self._chunks(order):
            for _ in range(self.repeat_count):
                for index in chunk:
                    yield from [index] * self.mini_repeat_count

    def _chunks(self, order: list[int]) -> Iterator[list[int]]:
        pending = list(order)
        for _ in range(len(order) // self.batch_size):
            chunk: list[int] = []
            while pending and len(chunk) < self.batch_size:
                i = pending.pop(0)
                if not self._solved(i):
                    chunk.append(i)
            if len(chunk) < self.batch_size:
                # out of fresh prompts: reuse this epoch's unsolved ones first, solved ones only if need be
                spare = sorted((i for i in order if i not in chunk), key=self._solved)
                chunk += spare[: self.batch_size - len(chunk)]
            if len(chunk) < self.batch_size:
                return
            yield chunk

    def _solved(self, index: int) -> bool:
        return self.tracker.solved(self.problem_ids[index])


def balance_negatives(correct: Sequence[bool], group_size: int, seed: int) -> list[bool]:
    """Keep-mask over responses: per group of `group_size` consecutive responses, keep every positive
    and as many negatives as there are positives (random ones). Groups without a positive carry no
    GRPO advantage anyway and are kept unchanged."""
    rng = random.Random(seed)
    keep = [True] * len(correct)
    for start in range(0, len(correct), group_size):
        idx = range(start, min(start + group_size, len(correct)))
        pos = [i for i in idx if correct[i]]
        neg = [i for i in idx if not correct[i]]
        if pos and len(neg) > len(pos):
            for i in rng.sample(neg, len(neg) - len(pos)):
                keep[i] = False
    return keep
