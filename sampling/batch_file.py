"""The batch file format shared by the OpenAI Batch API and `vllm run-batch`: one JSON line per request
({custom_id, method, url, body}) and one per result ({custom_id, response: {status_code, body}, error}).

A unit's custom_id is "<problem_id>:<sample_idx>": unique within a run, and all a result needs to find
its unit again. Each line asks for one sample (n = 1) with the unit's own seed, so a result is exactly
one unit and its usage is exact, with no token split to estimate."""

from __future__ import annotations

import json

from sampling.openai_api import reasoning_token_shares
from sampling.pricing import Prices
from sampling.types import Completion, SampleRequest

ENDPOINT = "/v1/chat/completions"


def custom_id(r: SampleRequest) -> str:
    return f"{r.problem_id}:{r.sample_idx}"


def request_line(r: SampleRequest, model: str) -> str:
    body = {
        "model": model,
        "messages": r.messages,
        "temperature": r.temperature,
        "top_p": r.top_p,
        "max_tokens": r.max_tokens,
        "seed": r.seed,
    }
    return json.dumps({"custom_id": custom_id(r), "method": "POST", "url": ENDPOINT, "body": body})


def parse_result(row: dict | None, prices: Prices) -> Completion:
    """The completion of one result line; `error` set (and finish_reason "error") when it failed or
    is missing (an expired batch lists some units in neither file)."""
    if row is None:
        return _failed("BatchMissing")
    response = row.get("response") or {}
    if row.get("error") or response.get("status_code") != 200:
        code = (row.get("error") or {}).get("code") or f"status {response.get('status_code')}"
        return _failed(f"BatchError {code}")
    body = response.get("body") or {}
    choices = body.get("choices") or []
    if not choices:
        return _failed("EmptyChoices")
    choice, usage = choices[0], body.get("usage") or {}
    message = choice.get("message") or {}
    reasoning = message.get("reasoning_content") or message.get("reasoning") or None
    prompt_tokens = int(usage.get("prompt_tokens") or 0)
    completion_tokens = int(usage.get("completion_tokens") or 0)
    return Completion(
        completion=message.get("content") or "",
        finish_reason=choice.get("finish_reason") or "stop",
        reasoning=reasoning,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        reasoning_tokens=reasoning_token_shares(usage, [reasoning or ""])[0],
        cost_usd=prices.cost(prompt_tokens, completion_tokens),
    )


def _failed(label: str) -> Completion:
    return Completion(completion="", finish_reason="error", error=label)
