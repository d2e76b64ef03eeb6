"""Samples of one problem that share a prompt and sampling parameters can be asked for at once
(`n` in the OpenAI API, `SamplingParams(n=...)` in vLLM): the prompt is processed once."""

from __future__ import annotations

import json

from sampling.types import SampleRequest

Group = list[SampleRequest]  # answered by one engine/API request with n = len(group)


def group_requests(requests: list[SampleRequest], use_n: bool = True) -> list[Group]:
    """Groups in order of first appearance; with use_n False, one group per request."""
    if not use_n:
        return [[r] for r in requests]
    groups: dict[tuple, Group] = {}
    for r in requests:
        key = (r.problem_id, json.dumps(r.messages, sort_keys=True), r.temperature, r.top_p, r.max_tokens)
        groups.setdefault(key, []).append(r)
    return list(groups.values())


def chunk_groups(groups: list[Group], units: int) -> list[list[Group]]:
    """Consecutive groups in chunks of at most `units` work units (a larger group goes alone: a
    group is never split, its samples share one prompt)."""
    chunks: list[list[Group]] = [[]]
    size = 0
    for group in groups:
        if chunks[-1] and size + len(group) > units:
            chunks.append([])
            size = 0
        chunks[-1].append(group)
        size += len(group)
    return [c for c in chunks if c]
