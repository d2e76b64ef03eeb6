"""The completion cache: a completion already in the lake answers the same question for a new run.

Content-addressed by everything that decides the answer: (teacher, which names the model; the messages;
temperature, top_p, max_tokens; the seed sent; sample_idx). A hit is copied into this run's journal
before the teacher sees the rest, so it is exactly-once like every other unit, at no cost: its
`cost_usd` in the new run is 0 and the money it would have cost is reported as saved.

Seeds: a request that carried several samples of a problem (n > 1) records its first sample's seed
for all of them, so a unit also matches a trace whose seed is the seed of sample 0 of its problem.
Both seeds derive from the run seed (sampling.prompts.sample_seed), so a different --seed never matches.
Failed units (trace_errors) are never reused: only the `traces` table, whose rows all have answers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from lakehouse import Lake
from lakehouse.sql import connect
from sampling.prompts import sample_seed
from sampling.types import SampleRequest

_SQL = """
SELECT problem_id, prompt, sample_idx, temperature, top_p, max_tokens, seed,
       any_value(reasoning), any_value(completion), any_value(finish_reason), any_value(prompt_tokens),
       any_value(completion_tokens), any_value(latency_s), any_value(reasoning_tokens), max(cost_usd)
FROM traces
WHERE teacher = ? AND run <> ? AND error IS NULL AND finish_reason <> 'error'
GROUP BY ALL
"""


@dataclass
class Reused:
    units: int = 0
    saved_usd: float = 0.0


def _key(problem_id: str, prompt: str, idx: int, temperature, top_p, max_tokens, seed) -> tuple:
    return (problem_id, prompt, idx, float(temperature), float(top_p), int(max_tokens), int(seed))


def lookup(lake: Lake, teacher: str, run: str) -> dict[tuple, dict]:
    """Cache key -> the row fields a hit copies, over every other run of this teacher."""
    if not lake.has("traces"):
        return {}
    rows = connect(lake.root).execute(_SQL, [teacher, run]).fetchall()
    names = (
        "reasoning", "completion", "finish_reason", "prompt_tokens", "completion_tokens", "latency_s",
        "reasoning_tokens",
    )  # fmt: skip
    out = {}
    for pid, prompt, idx, temp, top_p, max_tokens, seed, *rest in rows:
        if None in (temp, top_p, max_tokens, seed):
            continue
        fields = dict(zip(names, rest[:7], strict=True))
        fields["saved_usd"] = rest[7] or 0.0
        fields["seed"] = int(seed)
        out[_key(pid, prompt, idx, temp, top_p, max_tokens, seed)] = fields
    return out


def split(
    lake: Lake, teacher: str, run: str, run_seed: int, requests: list[SampleRequest]
) -> tuple[list[tuple[SampleRequest, dict]], list[SampleRequest]]:
    """(hits with their cached fields, the requests still to ask)."""
    cache = lookup(lake, teacher, run) if requests else {}
    if not cache:
        return [], requests
    hits, rest = [], []
    prompts: dict[str, str] = {}
    for r in requests:
        prompt = prompts.setdefault(r.problem_id, json.dumps(r.messages, ensure_ascii=False))
        base = (r.problem_id, prompt, r.sample_idx, r.temperature, r.top_p, r.max_tokens)
        group_seed = sample_seed(run_seed, r.problem_id, 0)
        found = cache.get(_key(*base, r.seed)) or cache.get(_key(*base, group_seed))
        if found is None:
            rest.append(r)
        else:
            hits.append((r, found))
    return hits, rest
