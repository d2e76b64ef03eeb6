"""Prompt optimisation's probe: sample k responses per RL prompt from the starting policy, measure
their lengths and correctness, keep prompts whose response lengths are uniform, and record the
policy's own pass rate (which reward rebalancing then uses instead of the teacher's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sampling.hf import HFTeacher
from sampling.prompts import sample_seed
from sampling.types import SampleRequest
from train.stabilisers import uniform_length_mask

if TYPE_CHECKING:
    from datasets import Dataset

    from reward.verify import Verifier


@dataclass(frozen=True)
class ProbeResult:
    kept: int
    dropped: int
    mean_pass_rate: float


def probe_requests(
    dataset: Dataset, k: int, temperature: float, max_tokens: int, seed: int
) -> list[SampleRequest]:
    """k requests per prompt; the rl view's prompt messages are sent as they are (curate built them
    with sampling.prompts), each sample seeded by the one per-sample rule."""
    out = []
    for i, row in enumerate(dataset):
        pid = str(row.get("problem_id", i))
        for j in range(k):
            out.append(
                SampleRequest(
                    problem_id=pid,
                    sample_idx=j,
                    messages=row["prompt"],
                    problem=row["prompt"][-1]["content"],
                    answer=str(row["answer"]),
                    level=int(row.get("level") or 0),
                    temperature=temperature,
                    top_p=1.0,
                    max_tokens=max_tokens,
                    seed=sample_seed(seed, pid, j),
                )
            )
    return out


def probe(
    dataset: Dataset,
    model,
    tokenizer,
    k: int,
    max_cv: float,
    temperature: float,
    max_tokens: int,
    seed: int,
    verifier: Verifier,
) -> tuple[Dataset, ProbeResult]:
    """(the prompts with uniform response lengths, with `pass_rate` set to the policy's, summary).

    Under a multi-process launch the main process probes and broadcasts its decisions, so every rank
    trains on the same prompts (GRPO's groups must line up across ranks)."""
    from accelerate import PartialState
    from accelerate.utils import broadcast_object_list

    state = PartialState()
    box = [None]
    if state.is_main_process:
        box = [_measure(dataset, model, tokenizer, k, temperature, max_tokens, seed, verifier)]
    lengths, pass_rates = broadcast_object_list(box)[0] if state.num_processes > 1 else box[0]
    keep = uniform_length_mask(lengths, max_cv)
    if "pass_rate" in dataset.column_names:
        dataset = dataset.remove_columns("pass_rate")
    dataset = dataset.add_column("pass_rate", pass_rates).select([i for i, ok in enumerate(keep) if ok])
    mean = sum(pass_rates) / len(pass_rates) if pass_rates else 0.0
    return dataset, ProbeResult(kept=sum(keep), dropped=len(keep) - sum(keep), mean_pass_rate=mean)


def _measure(dataset, model, tokenizer, k, temperature, max_tokens, seed, verifier):
    """Per prompt: the token lengths of k sampled responses, and the share of them that is correct."""
    teacher = HFTeacher(model, tokenizer, name="policy")
    requests = probe_requests(dataset, k, temperature, max_tokens, seed)
    order = {id(r): n for n, r in enumerate(requests)}  # the backend yields in its own order
    results = sorted(teacher.generate(requests), key=lambda rc: order[id(rc[0])])
    verdicts = list(verifier.check_many((r.answer, c.completion, c.finish_reason) for r, c in results))
    model.train()
    n = len(dataset)
    lengths = [[results[i * k + j][1].completion_tokens for j in range(k)] for i in range(n)]
    pass_rates = [sum(verdicts[i * k + j].correct for j in range(k)) / k for i in range(n)]
    return lengths, pass_rates
