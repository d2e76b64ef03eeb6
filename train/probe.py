"""Prompt optimisation's probe: sample k responses per RL prompt from the starting policy, measure
their lengths and correctness, keep prompts whose response lengths are uniform, and record the
policy's own pass rate (which reward rebalancing then uses instead of the teacher's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from synth.teachers.base import SampleRequest
from synth.teachers.hf import HFTeacher
from train.stabilisers import uniform_length_mask

if TYPE_CHECKING:
    from datasets import Dataset


@dataclass(frozen=True)
class ProbeResult:
    kept: int
    dropped: int
    mean_pass_rate: float


def probe_requests(
    dataset: Dataset, k: int, temperature: float, max_tokens: int, seed: int
) -> list[SampleRequest]:
    return [
        SampleRequest(
            problem_id=str(row.get("problem_id", i)),
            sample_idx=j,
            messages=row["prompt"],
            problem=row["prompt"][-1]["content"],
            answer=str(row["answer"]),
            level=int(row.get("level") or 0),
            temperature=temperature,
            top_p=1.0,
            max_tokens=max_tokens,
            seed=seed + i * k + j,
        )
        for i, row in enumerate(dataset)
        for j in range(k)
    ]


def probe(
    dataset: Dataset,
    model,
    tokenizer,
    k: int,
    max_cv: float,
    temperature: float,
    max_tokens: int,
    seed: int,
    verify_timeout_s: float = 5.0,
) -> tuple[Dataset, ProbeResult]:
    """(the prompts with uniform response lengths, with `pass_rate` set to the policy's, summary)."""
    from reward.verify import Verifier

    teacher = HFTeacher(model, tokenizer, name="policy")
    requests = probe_requests(dataset, k, temperature, max_tokens, seed)
    order = {(r.problem_id, r.sample_idx): n for n, r in enumerate(requests)}
    results = sorted(teacher.generate(requests), key=lambda rc: order[(rc[0].problem_id, rc[0].sample_idx)])
    with Verifier(timeout_s=verify_timeout_s) as verifier:
        verdicts = list(verifier.check_many((r.answer, c.completion, c.finish_reason) for r, c in results))
    lengths = [[results[i * k + j][1].completion_tokens for j in range(k)] for i in range(len(dataset))]
    pass_rates = [sum(verdicts[i * k + j].correct for j in range(k)) / k for i in range(len(dataset))]
    model.train()
    keep = uniform_length_mask(lengths, max_cv)
    if "pass_rate" in dataset.column_names:
        dataset = dataset.remove_columns("pass_rate")
    dataset = dataset.add_column("pass_rate", pass_rates).select([i for i, ok in enumerate(keep) if ok])
    mean = sum(pass_rates) / len(pass_rates) if pass_rates else 0.0
    return dataset, ProbeResult(kept=sum(keep), dropped=len(keep) - sum(keep), mean_pass_rate=mean)
