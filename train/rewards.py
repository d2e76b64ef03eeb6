"""Reward functions as the GRPO stage hands them to TRL: guarded so that none can stop a step.

`guarded` runs a reward function with a wall-clock limit; a call that overruns or raises gives None
for each of its completions, which TRL turns into NaN and leaves out of the reward sum (the other
reward functions still count). `Tracked` feeds the accuracy rewards to the solve tracker (reward
rebalancing).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from train.stabilisers import SolveTracker

log = logging.getLogger(__name__)

RewardFn = Callable[..., list[float | None]]


def guarded(fn: RewardFn, timeout_s: float) -> RewardFn:
    """`fn` with a time limit; on timeout or error: [None] * len(completions) (the step goes on).

    The call runs in a daemon thread: a thread cannot be killed, so an overrunning call is abandoned,
    not stopped; the verifier's own worker pool enforces the hard limits on math-verify."""

    def call(completions: Sequence, **kwargs) -> list[float | None]:
        box: dict[str, object] = {}

        def target() -> None:
            try:
                box["out"] = fn(completions=completions, **kwargs)
            except Exception as e:  # noqa: BLE001 - a reward must never stop training
                box["error"] = e

        worker = threading.Thread(target=target, name=f"reward-{_name(fn)}", daemon=True)
        worker.start()
        worker.join(timeout_s)
        if "out" in box:
            return list(box["out"])  # type: ignore[arg-type]
        reason = f"error {box['error']!r}" if "error" in box else f"no answer within {timeout_s:g}s"
        log.warning("reward %s: %s; its rewards for this batch are None", _name(fn), reason)
        return [None] * len(completions)

    call.__name__ = _name(fn)  # TRL logs rewards under the function's name
    return call


class Tracked:
    """Wraps the accuracy reward: records its rewards per problem in the solve tracker."""

    def __init__(self, fn: RewardFn, tracker: SolveTracker | None):
        self.fn = fn
        self.tracker = tracker
        self.__name__ = _name(fn)

    def __call__(self, completions: Sequence, **kwargs) -> list[float | None]:
        rewards = list(self.fn(completions=completions, **kwargs))
        if self.tracker is not None and "problem_id" in kwargs:
            self.tracker.record(kwargs["problem_id"], rewards)
        return rewards


def _name(fn: Callable) -> str:
    return getattr(fn, "__name__", type(fn).__name__)
