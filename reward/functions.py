"""TRL-compatible reward functions: `fn(completions, **kwargs) -> list[float]`.

GRPOTrainer calls them with `prompts`, `completions` (strings, or conversational message lists),
`completion_ids`, every extra dataset column as a list (the gold is the `answer` column) and helpers
such as `log_metric`. They never raise: a completion or gold that cannot be read, or a verifier failure,
gives 0.0 and is counted (`reward_failures()`, and `log_metric("reward/verifier_failures", n)` in TRL).
One 0.0 is cheaper than a crashed GRPO step.

`accuracy_reward` checks with a process-wide Verifier (`configure_verifier` sets its options), so it
works when called plain; a trainer that owns its verifier (timeout, workers, cache) builds the same
reward over it with `make_accuracy_reward(verifier)`.
"""

from __future__ import annotations

import atexit
import collections
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

from reward.extract import has_think_block, last_boxed, split_reasoning
from reward.verify import Verifier

_verifier: Verifier | None = None
_verifier_pid: int | None = None
_verifier_lock = threading.Lock()
_verifier_options: dict[str, Any] = {}
_failures: collections.Counter[str] = collections.Counter()
_FAILED_STATUSES = ("timeout", "error")


def configure_verifier(**options: Any) -> None:
    """Set the options (workers, timeout_s, memory_mb, cache_path) of the process-wide Verifier.
    Takes effect for the next `get_verifier()`; an existing verifier is closed."""
    global _verifier
    with _verifier_lock:
        _verifier_options.clear()
        _verifier_options.update(options)
        if _verifier is not None:
            _verifier.close()
            _verifier = None


def get_verifier() -> Verifier:
    """The process-wide Verifier, started on first use (and again in a forked child: pipes don't fork)."""
    global _verifier, _verifier_pid
    with _verifier_lock:
        if _verifier is None or _verifier_pid != os.getpid():
            _verifier = Verifier(**_verifier_options)
            _verifier_pid = os.getpid()
        return _verifier


@atexit.register
def _close_verifier() -> None:
    if _verifier is not None and _verifier_pid == os.getpid():
        _verifier.close()


def reward_failures() -> dict[str, int]:
    """How many rewards were forced to 0.0, by cause (timeout, error, exception)."""
    return dict(_failures)


def completion_text(completion: Any) -> str:
    """The text of a plain or conversational completion; "" for anything unreadable (None, junk)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return _content_text(completion.get("content"))
    if isinstance(completion, (list, tuple)):
        # Conversational: the assistant's messages, in order (tool turns are not the answer).
        parts = [m for m in completion if isinstance(m, dict) and m.get("role", "assistant") == "assistant"]
        return "".join(_content_text(m.get("content")) for m in parts)
    return ""


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return "".join(
            p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def make_accuracy_reward(verifier: Verifier | None = None) -> Callable[..., list[float]]:
    """`accuracy_reward` checked by `verifier` (None: the process-wide one), under the same name, which
    TRL logs rewards by."""

    def accuracy_reward(
        completions: Sequence[Any], answer: Sequence[Any] | None = None, **kwargs: Any
    ) -> list[float]:
        """1.0 when the completion's final answer equals the gold (`answer` column) under math-verify, else 0.0."""
        try:
            correct = _correctness(completions, answer, verifier)
        except Exception:  # noqa: BLE001 - the contract: never raise inside a training step
            _failures["exception"] += len(completions)
            correct = [False] * len(completions)
        _log_failures(kwargs)
        return [1.0 if c else 0.0 for c in correct]

    return accuracy_reward


accuracy_reward = make_accuracy_reward()


def format_reward(completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """1.0 for a closed, non-empty reasoning block followed by a boxed answer, else 0.0."""
    return [_format_ok(completion_text(c)) for c in completions]


def make_length_aware_accuracy_reward(
    weight: float = 0.5, verifier: Verifier | None = None
) -> Callable[..., list[float]]:
    """Accuracy plus the Kimi-1.5 length term over the batch (named for TRL's logs).

    With lengths L (tokens from `completion_ids` when given, else characters) and
    lam = 0.5 - (L - L_min) / (L_max - L_min): a correct completion gets 1 + weight * lam (shorter is
    better), an incorrect one gets weight * min(0, lam) (long wrong answers cost most). All lengths
    equal gives lam = 0. `verifier` as in `make_accuracy_reward`.
    """
    accuracy_of = make_accuracy_reward(verifier)

    def length_aware_accuracy_reward(
        completions: Sequence[Any], answer: Sequence[Any] | None = None, **kwargs: Any
    ) -> list[float]:
        accuracy = accuracy_of(completions, answer, **kwargs)
        lengths = _lengths(completions, kwargs.get("completion_ids"))
        lo, hi = min(lengths, default=0), max(lengths, default=0)
        rewards = []
        for acc, length in zip(accuracy, lengths, strict=True):
            lam = 0.5 - (length - lo) / (hi - lo) if hi > lo else 0.0
            rewards.append(acc + weight * lam if acc > 0 else weight * min(0.0, lam))
        return rewards

    return length_aware_accuracy_reward


length_aware_accuracy_reward = make_length_aware_accuracy_reward()


def _correctness(
    completions: Sequence[Any], answers: Sequence[Any] | None, verifier: Verifier | None
) -> list[bool]:
    golds = list(answers) if answers is not None else [None] * len(completions)
    if len(golds) != len(completions):
        raise ValueError("answer and completions differ in length")
    items = [(g, completion_text(c), None) for g, c in zip(golds, completions, strict=True)]
    readable = [
        i for i, (g, _, _) in enumerate(items) if isinstance(g, (str, int, float)) and not isinstance(g, bool)
    ]
    correct = [False] * len(items)
    verifier = (
        verifier if verifier is not None else get_verifier()
    )  # looked up per call: a forked child gets its own
    verdicts = verifier.check_many([(str(items[i][0]), items[i][1], None) for i in readable])
    for i, verdict in zip(readable, verdicts, strict=True):
        correct[i] = verdict.correct
        if verdict.status in _FAILED_STATUSES:
            _failures[verdict.status] += 1
    return correct


def _format_ok(text: str) -> float:
    if not has_think_block(text):
        return 0.0
    _, visible = split_reasoning(text)
    return 1.0 if last_boxed(visible) else 0.0


def _lengths(completions: Sequence[Any], completion_ids: Sequence[Any] | None) -> list[int]:
    if completion_ids is not None and len(completion_ids) == len(completions):
        return [len(ids) if ids is not None else 0 for ids in completion_ids]
    return [len(completion_text(c)) for c in completions]


def _log_failures(kwargs: dict[str, Any]) -> None:
    log_metric = kwargs.get("log_metric")
    if callable(log_metric):
        try:
            log_metric("reward/verifier_failures", float(sum(_failures.values())))
        except Exception:  # noqa: BLE001 - logging must not fail a step either
            pass
