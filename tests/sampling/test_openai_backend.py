"""The openai: teacher against a real chat-completions server on 127.0.0.1 (tests/helpers/chat_server.py):
faults, retries, Retry-After, n and its fallback, budget, client-side rate limits, cancellation."""

from __future__ import annotations

import asyncio
import random

import pytest

from lakehouse.errors import UserError
from sampling.config import OpenAIConfig
from sampling.grouping import chunk_groups, group_requests
from sampling.openai_api import OpenAITeacher, prompt_token_bound, split_tokens
from sampling.pricing import KNOWN_PRICES, Budget, resolve_prices
from sampling.ratelimit import backoff_delay, parse_retry_after
from sampling.types import Budgeted, SampleRequest
from tests.helpers.chat_server import ChatServer, FaultMix, _answer

CANARY = "sk-canary-7f3a9e1d0b2c4d5e"
MIX = FaultMix(
    rate_limit=0.08, server_error=0.05, reset=0.04, slow=0.03, truncated_json=0.03, empty_choices=0.03,
    length=0.05, slow_s=1.5,
)  # fmt: skip


def requests(n_problems: int, samples: int, max_tokens: int = 64) -> list[SampleRequest]:
    out = []
    for p in range(n_problems):
        text = f"What is {p} + {p}?"
        messages = [{"role": "user", "content": text}]
        for s in range(samples):
            out.append(
                SampleRequest(
                    problem_id=f"p{p:04d}", sample_idx=s, messages=messages, problem=text, answer=str(2 * p),
                    level=1, temperature=0.8, top_p=0.95, max_tokens=max_tokens, seed=1000 * p + s,
                )
            )  # fmt: skip
    return out


def config(server: ChatServer, **overrides) -> OpenAIConfig:
    fast = dict(
        base_url=server.base_url, concurrency=32, max_retries=4, request_timeout_s=0.5,
        retry_base_s=0.01, retry_max_s=0.05, use_n=False,
    )  # fmt: skip
    return OpenAIConfig(**{**fast, **overrides})


def expected(request: SampleRequest, choice: int = 0, seed: int | None = None, mix: FaultMix = MIX) -> dict:
    """The server's answer for a unit (it is a pure function of prompt, seed and choice index)."""
    body = {"messages": request.messages, "max_tokens": request.max_tokens, "n": choice + 1}
    key = (request.messages[-1]["content"], request.seed if seed is None else seed)
    return _answer(body, choice + 1, key, mix.length, True)["choices"][choice]


def run(teacher: OpenAITeacher, reqs: list[SampleRequest]) -> dict:
    results = {}
    for req, completion in teacher.generate(reqs):
        assert (req.problem_id, req.sample_idx) not in results
        results[(req.problem_id, req.sample_idx)] = completion
    return results


@pytest.fixture
def key_env(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)


def test_fault_mix_every_unit_ends_as_answer_or_error(key_env):
    reqs = requests(60, 4)
    with ChatServer(faults=MIX) as server:
        teacher = OpenAITeacher("tiny", config(server, max_retries=2))
        results = run(teacher, reqs)
        teacher.close()
    assert set(results) == {(r.problem_id, r.sample_idx) for r in reqs}
    errors = {k: c for k, c in results.items() if c.finish_reason == "error"}
    assert teacher.stats["errors"] == len(errors)
    for c in errors.values():
        assert c.error.endswith("after 3 attempts") and c.completion == ""
    for r in reqs:
        c = results[(r.problem_id, r.sample_idx)]
        if c.error is None:
            want = expected(r)
            assert c.completion == want["message"]["content"]
            assert c.reasoning == want["message"]["reasoning_content"]
            assert c.finish_reason == want["finish_reason"]
            assert c.prompt_tokens == 5 + 3  # words + 3 per message, as the server counts
    assert {"stop", "length"} <= {c.finish_reason for c in results.values()}
    injected = server.state.faults
    assert all(injected[f] > 0 for f in ("rate_limit", "server_error", "reset", "slow", "truncated_json"))
    assert teacher.stats["requests"] == sum(server.state.requests.values())
    assert server.state.auth_headers == {f"Bearer {CANARY}"}


def test_retries_run_out_into_a_recorded_error_without_the_key(key_env):
    reqs = requests(3, 1)
    dead = {(r.messages[-1]["content"], r.seed) for r in reqs[:2]}
    with ChatServer(always_fail=dead, echo_auth=True) as server:
        teacher = OpenAITeacher("tiny", config(server, max_retries=3))
        results = run(teacher, reqs)
        teacher.close()
    assert [results[("p0000", 0)].error, results[("p0001", 0)].error] == [
        "InternalServerError 500 after 4 attempts"
    ] * 2
    assert results[("p0002", 0)].error is None
    assert [server.state.requests[k] for k in sorted(dead)] == [4, 4]
    assert teacher.stats["retries"] == 6
    assert not any(CANARY in repr(c) for c in results.values())


def test_failures_are_labelled_by_what_happened(key_env):
    reqs = requests(4, 1)
    faults = ["reset", "slow", "truncated_json", "empty_choices"]
    script = {(r.messages[-1]["content"], r.seed): [f] for r, f in zip(reqs, faults, strict=True)}
    with ChatServer(script=script, faults=FaultMix(slow_s=2.0)) as server:
        teacher = OpenAITeacher("tiny", config(server, max_retries=0, request_timeout_s=0.5))
        results = run(teacher, reqs)
        teacher.close()
    assert [results[(r.problem_id, 0)].error for r in reqs] == [
        "APIConnectionError after 1 attempts", "APITimeoutError after 1 attempts",
        "InvalidResponse after 1 attempts", "EmptyChoices after 1 attempts",
    ]  # fmt: skip


def test_retry_after_is_honoured(key_env):
    reqs = requests(1, 1)
    key = (reqs[0].messages[-1]["content"], reqs[0].seed)
    faults = FaultMix(retry_after="1")
    with ChatServer(faults=faults, script={key: ["rate_limit", None]}) as server:
        teacher = OpenAITeacher("tiny", config(server, retry_base_s=0.001, retry_max_s=0.001))
        results = run(teacher, reqs)
        teacher.close()
    first, second = server.state.arrivals[key]
    assert second - first >= 1.0  # the server asked for 1 s; our own backoff would be <= 1 ms
    assert results[("p0000", 0)].error is None
    assert teacher.stats["RateLimitError 429"] == 1


@pytest.mark.parametrize("n_mode", ["support", "ignore", "reject"])
def test_n_per_request_and_fallback(key_env, n_mode):
    reqs = requests(5, 4)
    with ChatServer(n_mode=n_mode) as server:
        teacher = OpenAITeacher("tiny", config(server, use_n=None, concurrency=1))
        results = run(teacher, reqs)
        teacher.close()
    assert len(results) == 20 and all(c.error is None for c in results.values())
    if n_mode == "support":
        assert teacher.supports_n is True
        assert sum(server.state.requests.values()) == 5  # one request per problem
        for r in reqs:
            first = reqs[reqs.index(r) - r.sample_idx]
            want = expected(r, choice=r.sample_idx, seed=first.seed, mix=FaultMix())
            assert results[(r.problem_id, r.sample_idx)].completion == want["message"]["content"]
            assert results[(r.problem_id, r.sample_idx)].seed == first.seed  # the seed really sent
    else:
        assert teacher.supports_n is False
        for r in reqs:
            want = expected(r, mix=FaultMix())
            assert results[(r.problem_id, r.sample_idx)].completion == want["message"]["content"]
            assert results[(r.problem_id, r.sample_idx)].seed == r.seed
        # the probe is the first problem's request; an ignoring server answered its sample 0 with it
        assert sum(server.state.requests.values()) == (21 if n_mode == "reject" else 20)


def test_budget_stops_within_one_request_of_the_cap(key_env):
    reqs = requests(100, 2, max_tokens=64)
    prices = dict(price_in=100.0, price_out=400.0)  # USD per 1M tokens
    with ChatServer() as server:
        teacher = OpenAITeacher("tiny", config(server, budget_usd=0.5, concurrency=8, **prices))
        results = run(teacher, reqs)
        teacher.close()
    worst = (prompt_token_bound(reqs[0].messages) * 100.0 + 64 * 400.0) / 1e6
    spent = sum(c.cost_usd for c in results.values())
    assert isinstance(teacher, Budgeted)
    assert teacher.budget_exhausted and teacher.unlaunched == 200 - len(results)
    assert spent == pytest.approx(teacher.spent_usd)
    assert 0.5 - worst < spent <= 0.5
    assert sum(server.state.returned.values()) == len(results)


def test_close_cancels_requests_in_flight(key_env):
    reqs = requests(20, 1)
    with ChatServer(hold_after=3) as server:
        teacher = OpenAITeacher("tiny", config(server, concurrency=8, request_timeout_s=60))
        stream = teacher.generate(reqs)
        got = [next(stream) for _ in range(3)]
        stream.close()
        pending = asyncio.run_coroutine_threadsafe(_other_tasks(), teacher._loop).result(5)
        teacher.close()
        server.release()
    assert len({r.problem_id for r, _ in got}) == 3
    assert pending == 0
    assert sum(server.state.returned.values()) == 3


async def _other_tasks() -> int:
    return len(asyncio.all_tasks() - {asyncio.current_task()})


def test_requests_per_min_paces_the_client(key_env):
    reqs = requests(25, 1)
    with ChatServer() as server:
        teacher = OpenAITeacher("tiny", config(server, requests_per_min=600))  # 10/s, bursts of 10
        run(teacher, reqs)
        teacher.close()
    times = sorted(t for ts in server.state.arrivals.values() for t in ts)
    # any window [t_i, t_j] holds at most the burst (10) plus 10/s, plus one request of network jitter
    assert len(times) == 25
    assert all(j - i + 1 <= 10 + 10 * (times[j] - times[i]) + 1 for i in range(25) for j in range(i, 25))


def test_user_errors_are_one_line_and_keyless(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(UserError, match=r"\$OPENAI_API_KEY, which is not set"):
        OpenAITeacher("gpt-4o", OpenAIConfig())
    with pytest.raises(UserError, match="not in the price table"):
        OpenAITeacher("my-model", OpenAIConfig(base_url="http://127.0.0.1:1/v1", budget_usd=1.0))
    with pytest.raises(UserError, match="--concurrency must be >= 1"):
        OpenAITeacher("tiny", OpenAIConfig(base_url="http://127.0.0.1:1/v1", concurrency=0))


def test_a_refused_key_stops_the_run_with_a_user_error(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    with ChatServer(script={("What is 0 + 0?", 0): ["auth"]}) as server:
        teacher = OpenAITeacher("tiny", config(server))
        with pytest.raises(UserError) as err:
            run(teacher, requests(1, 1))
        teacher.close()
    assert str(err.value) == f"{server.base_url} refused the key (401): check $OPENAI_API_KEY"


def test_pricing_budget_and_helpers():
    assert (
        resolve_prices("deepseek-reasoner", None, None, 5.0).output_per_m
        == KNOWN_PRICES["deepseek-reasoner"][1]
    )
    assert resolve_prices("x", 1.0, 2.0, None).cost(1_000_000, 500_000) == 2.0
    assert resolve_prices("self-hosted", None, None, None).cost(10**9, 10**9) == 0.0
    budget = Budget(1.0)
    assert budget.try_reserve(0.6) and not budget.try_reserve(0.5)
    budget.settle(0.6, 0.2)
    assert budget.try_reserve(0.8) and (budget.spent_usd, budget.reserved_usd) == (0.2, 0.8)
    assert split_tokens(10, ["aaa", "a", ""], ["stop"] * 3, 64) == [6, 2, 2]
    assert split_tokens(7, ["ab", "ab"], ["stop", "stop"], 64) == [4, 3]
    assert split_tokens(70, ["a", "bbbbbb", "cc"], ["stop", "length", "length"], 32) == [6, 32, 32]
    assert split_tokens(64, ["a", "bbbb"], ["length", "length"], 32) == [32, 32]
    assert split_tokens(9, ["ab", "ab"], ["length", "stop"], 32) == [5, 4]  # inconsistent: by length
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=1445412470.0) == 10.0
    assert parse_retry_after({}) is None
    rng = random.Random(0)
    assert all(0 <= backoff_delay(k, 0.5, 4.0, rng) <= min(4.0, 0.5 * 2**k) for k in range(10))
    reqs = requests(2, 3)
    assert [[r.sample_idx for r in g] for g in group_requests(reqs, True)] == [[0, 1, 2], [0, 1, 2]]
    assert len(group_requests(reqs, False)) == 6
    sizes = [[len(g) for g in c] for c in chunk_groups(group_requests(requests(5, 3), True), 7)]
    assert sizes == [[3, 3], [3, 3], [3]]


def test_the_placeholder_key_rule(monkeypatch):
    from sampling.openai_api import read_api_key

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    keyless = [
        OpenAIConfig(base_url="http://127.0.0.1:8000/v1"),
        OpenAIConfig(base_url="http://localhost:8000/v1"),
        OpenAIConfig(base_url="http://[::1]:8000/v1"),
        OpenAIConfig(base_url="https://gpu-box.internal/v1", api_key_env=""),
        OpenAIConfig(api_key_env=""),
    ]
    assert [read_api_key(c) for c in keyless] == ["EMPTY"] * 5
    for remote in (OpenAIConfig(base_url="https://api.example.com/v1"), OpenAIConfig()):
        with pytest.raises(UserError, match=r"\$OPENAI_API_KEY, which is not set .*--api-key-env ''"):
            read_api_key(remote)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    assert read_api_key(OpenAIConfig(base_url="http://127.0.0.1:8000/v1")) == "sk-x"
