"""The sampling contract: a request for one sample, the completion that answers it, and the `Teacher`
protocol every backend implements (openai, vllm, hf here; synth adds its procedural teacher).

A backend yields results in whatever order they complete. The caller may stop consuming at any time
(Ctrl-C, budget): backends must tolerate `close()` on their generator and cancel outstanding work there.
Journaling, resume and progress are the caller's (synth/generate.py, train/eval.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class SampleRequest:
    """One work unit: sample `sample_idx` of problem `problem_id`."""

    problem_id: str
    sample_idx: int
    messages: list[dict]  # chat messages sent to the teacher
    problem: str
    answer: str  # gold answer; only the procedural teacher may look at it
    level: int
    temperature: float
    top_p: float
    max_tokens: int
    seed: int  # per-unit seed: sampling.prompts.sample_seed(run seed, problem_id, sample_idx)
    domain: str = ""
    meta: str = "{}"  # the problem's meta JSON (builtin problems carry their structure here)


@dataclass
class Completion:
    completion: str  # visible text (for R1-style models: the text after reasoning, or all of it)
    finish_reason: str  # stop | length | error
    reasoning: str | None = None  # separate reasoning channel (reasoning_content), if the server has one
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # of completion_tokens, those the server counted as reasoning (usage.completion_tokens_details); None:
    # the server did not say
    reasoning_tokens: int | None = None
    latency_s: float = 0.0
    cost_usd: float = 0.0
    error: str | None = None  # set when the unit failed after retries; resume retries it
    # The seed the backend really sent. A request that carries several samples of one problem (n > 1)
    # sends the first sample's seed for all of them; None: the unit's own seed (SampleRequest.seed).
    seed: int | None = None
    extra: dict = field(default_factory=dict)  # backend-specific facts, never written to the lake


class Teacher(Protocol):
    name: str  # recorded in traces.teacher, e.g. "procedural", "openai:gpt-x"

    def generate(self, requests: list[SampleRequest]) -> Iterator[tuple[SampleRequest, Completion]]:
        """Yield one (request, completion) per request, in completion order."""
        ...

    def close(self) -> None:
        """Release clients, engines, pools."""
        ...


@runtime_checkable
class Budgeted(Protocol):
    """A teacher that spends money (openai:): the caller shows the spend against the cap and reports
    a run that stopped because the next request would not fit the budget."""

    budget_usd: float | None  # the cap; None: no cap
    spent_usd: float
    budget_exhausted: bool  # True once a request was held back because it did not fit the budget
