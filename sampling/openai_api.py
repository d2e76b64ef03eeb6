"""`--teacher openai:MODEL`: any OpenAI-compatible chat-completions endpoint (a hosted API, or a
`vllm serve` / SGLang fleet) through a lean aiohttp client (ChatClient, below: the openai package's
client costs more CPU per request than the rest of the loop together).

The client runs on an event loop in a background thread; `generate()` hands it the requests and
yields each (request, completion) as soon as it is back, so the generation loop can journal it at once.
This module owns the network policy: at most `concurrency` requests in flight, client-side
requests/min and tokens/min buckets, retries (exponential backoff with jitter, or the server's
Retry-After) on 429, 5xx, connection resets, timeouts and unreadable answers, and the budget.
After `max_retries` retries a unit comes back with finish_reason "error" and a short `error`
(exception class and status, never a message body, which may echo the key); a resume retries it.
Samples of one problem go out as one request with `n` when the server honours it; a server that
answers fewer choices (or rejects `n`) switches the teacher to one request per sample.
"""

from __future__ import annotations

import asyncio
import os
import queue
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass

import orjson

from lakehouse.errors import UserError
from sampling.config import Backends, OpenAIConfig
from sampling.grouping import Group, group_requests
from sampling.pricing import Budget, Prices, resolve_prices
from sampling.ratelimit import RateLimiter, retry_delay
from sampling.types import Completion, SampleRequest


@dataclass
class _Stop:
    """End of a `generate` stream; `error` is what ended it early, if anything."""

    error: BaseException | None = None


class _Retryable(Exception):
    """A failed attempt worth retrying; `label` is what the trace records if retries run out."""

    def __init__(self, label: str, headers=None):
        super().__init__(label)
        self.label = label
        self.headers = headers


def read_api_key(cfg: OpenAIConfig) -> str:
    """The key from the environment variable named by --api-key-env.

    A missing key sends the placeholder "EMPTY" (what keyless servers such as `vllm serve` accept) only
    where that cannot be a mistake: when the user said there is no key (`--api-key-env ''`), or when the
    endpoint is on this machine (a loopback --base-url). Anywhere else a missing variable is an error:
    a remote endpoint that wants a key would otherwise answer 401 for every request."""
    if cfg.api_key_env == "":
        return "EMPTY"
    key = os.environ.get(cfg.api_key_env, "")
    if key:
        return key
    if cfg.base_url and is_loopback(cfg.base_url):
        return "EMPTY"
    raise UserError(
        f"the API key is read from ${cfg.api_key_env}, which is not set (see --api-key-env; "
        "--api-key-env '' for a server that needs no key)"
    )


def is_loopback(url: str) -> bool:
    """Whether the URL's host is this machine (localhost, 127.0.0.0/8, ::1)."""
    import ipaddress
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _validate(cfg: OpenAIConfig) -> None:
    if cfg.concurrency < 1:
        raise UserError(f"--concurrency must be >= 1, got {cfg.concurrency}")
    if cfg.max_retries < 0:
        raise UserError(f"--max-retries must be >= 0, got {cfg.max_retries}")
    if cfg.request_timeout_s <= 0:
        raise UserError(f"--timeout must be > 0, got {cfg.request_timeout_s}")
    for flag, value in (("--rpm", cfg.requests_per_min), ("--tpm", cfg.tokens_per_min)):
        if value is not None and value <= 0:
            raise UserError(f"{flag} must be > 0, got {value}")


def prompt_token_bound(messages: list[dict]) -> int:
    """An upper bound on prompt tokens without the model's tokenizer: byte-level BPE tokens cover at
    least one byte each, plus a few template tokens per message. Used for reservations only."""
    return sum(len(str(m.get("content") or "").encode()) + 8 for m in messages) + 16


def split_tokens(
    total: int, texts: list[str], finish_reasons: list[str | None], max_tokens: int
) -> list[int]:
    """Share the usage total of n choices between them (the API reports one total): a choice cut
    at the limit ("length") used exactly max_tokens; the rest is shared by the others in proportion
    to their text length. The parts sum to the total; with one choice, or all but one cut, exact."""
    fixed = {i: max_tokens for i, f in enumerate(finish_reasons) if f == "length"}
    free = [i for i in range(len(texts)) if i not in fixed]
    rest = total - sum(fixed.values())
    if rest < 0 or (not free and rest != 0):  # counts that do not add up: share everything by length
        fixed, free, rest = {}, list(range(len(texts))), total
    weights = [len(texts[i]) or 1 for i in free]
    shares = dict(fixed)
    for i, w in zip(free, weights, strict=True):
        shares[i] = rest * w // sum(weights)
    for k in range(rest - sum(shares[i] for i in free)):
        shares[free[k % len(free)]] += 1
    return [shares[i] for i in range(len(texts))]


def reasoning_token_shares(usage, reasonings: list[str]) -> list[int | None]:
    """usage.completion_tokens_details.reasoning_tokens (one total for the n choices) shared in proportion
    to each choice's reasoning text; None for every choice when the server did not report it."""
    details = usage.get("completion_tokens_details") if isinstance(usage, dict) else None
    total = details.get("reasoning_tokens") if isinstance(details, dict) else None
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        return [None] * len(reasonings)
    return split_tokens(total, reasonings, [None] * len(reasonings), 0)


class OpenAITeacher:
    def __init__(self, model: str, cfg: OpenAIConfig):
        if not model:
            raise UserError("--teacher openai:MODEL needs a model name, e.g. openai:deepseek-reasoner")
        _validate(cfg)
        self.model = model
        self.name = f"openai:{model}"
        self.cfg = cfg
        self.prices: Prices = resolve_prices(model, cfg.price_in, cfg.price_out, cfg.budget_usd)
        self.budget = Budget(cfg.budget_usd)
        self._api_key = read_api_key(cfg)
        self.supports_n: bool | None = cfg.use_n  # None: try n, fall back on the first sign it is ignored
        self.stats: Counter = Counter()  # requests, retries, errors, and each retried failure label
        self.budget_exhausted = False
        self.unlaunched = 0  # units not sent because the budget would not cover them
        self._rng = random.Random()  # unseeded: jitter must de-synchronise workers that share a seed
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client = None

    # ---- what the generation loop reads ------------------------------------------------------
    @property
    def spent_usd(self) -> float:
        return self.budget.spent_usd

    @property
    def budget_usd(self) -> float | None:
        return self.budget.limit_usd

    # ---- sync facade ---------------------------------------------------------------------------
    def generate(self, requests: list[SampleRequest]) -> Iterator[tuple[SampleRequest, Completion]]:
        self._ensure_loop()
        out: queue.Queue = queue.Queue()
        future = asyncio.run_coroutine_threadsafe(self._drive(list(requests), out), self._loop)
        finished = False
        try:
            while True:
                item = out.get()
                if isinstance(item, _Stop):
                    finished = True
                    if item.error is not None:
                        raise item.error
                    return
                yield item
        finally:
            if not finished:  # the consumer stopped early: cancel what is in flight, wait for it
                future.cancel()
                _drain_until_stop(out, timeout_s=30.0)

    def close(self) -> None:
        if self._loop is None:
            return
        if self._client is not None:
            asyncio.run_coroutine_threadsafe(self._client.close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._loop = self._thread = self._client = None

    def _ensure_loop(self) -> None:
        if self._loop is not None:
            return
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="openai-teacher", daemon=True)
        self._thread.start()

        async def make_client():
            return ChatClient(
                self.cfg.base_url, self._api_key, self.cfg.concurrency, self.cfg.request_timeout_s
            )

        self._client = asyncio.run_coroutine_threadsafe(make_client(), self._loop).result(30)
        self._rpm = RateLimiter(self.cfg.requests_per_min)
        self._tpm = RateLimiter(self.cfg.tokens_per_min)

    # ---- async core ----------------------------------------------------------------------------
    async def _drive(self, requests: list[SampleRequest], out: queue.Queue) -> None:
        try:
            await self._run(requests, out)
        except BaseException as e:
            out.put(_Stop(e))
            raise
        out.put(_Stop())

    async def _run(self, requests: list[SampleRequest], out: queue.Queue) -> None:
        pending: deque[Group] = deque(group_requests(requests, self.supports_n is not False))
        running: set[asyncio.Task] = set()
        finished: asyncio.Queue[asyncio.Task] = asyncio.Queue()  # O(1) per completion, unlike asyncio.wait
        try:
            while pending or running:
                self._launch(pending, running, finished)
                if not running:  # nothing in flight and the next request does not fit the budget
                    self.budget_exhausted = True
                    self.unlaunched = sum(len(g) for g in pending)
                    return
                task = await finished.get()
                running.discard(task)
                results, leftover = task.result()
                for item in results:
                    out.put(item)
                pending.extendleft([r] for r in reversed(leftover))
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    def _launch(self, pending: deque[Group], running: set[asyncio.Task], finished: asyncio.Queue) -> None:
        while pending and len(running) < self.cfg.concurrency:
            group = pending[0]
            if len(group) > 1 and self.supports_n is False:
                pending.popleft()
                pending.extendleft([r] for r in reversed(group))
                continue
            reserve = self._worst_cost(group)
            if not self.budget.try_reserve(reserve):
                return
            pending.popleft()
            task = asyncio.create_task(self._serve(group, reserve))
            task.add_done_callback(finished.put_nowait)
            running.add(task)

    def _worst_tokens(self, group: Group) -> tuple[int, int]:
        return prompt_token_bound(group[0].messages), len(group) * group[0].max_tokens

    def _worst_cost(self, group: Group) -> float:
        return self.prices.cost(*self._worst_tokens(group))

    async def _serve(self, group: Group, reserve: float) -> tuple[list, Group]:
        """One API call for a group, with retries. Returns (results, leftover units to resend)."""
        settled, last = False, ""
        try:
            for attempt in range(self.cfg.max_retries + 1):
                try:
                    response, latency = await self._attempt(group)
                except _Retryable as e:
                    last = e.label
                    self.stats[e.label] += 1
                    if attempt == self.cfg.max_retries:
                        break
                    self.stats["retries"] += 1
                    await asyncio.sleep(
                        retry_delay(
                            attempt, e.headers, self.cfg.retry_base_s, self.cfg.retry_max_s, self._rng
                        )
                    )
                    continue
                except _NSupport:
                    self.supports_n = False
                    return [], group
                except _UnitError as e:
                    return self._errors(group, e.label), []
                actual, results, leftover = self._completions(group, response, latency, reserve)
                self.budget.settle(reserve, actual)
                settled = True
                return results, leftover
            return self._errors(group, f"{last} after {self.cfg.max_retries + 1} attempts"), []
        finally:
            if not settled:
                self.budget.settle(reserve, 0.0)

    def _errors(self, group: Group, label: str) -> list[tuple[SampleRequest, Completion]]:
        self.stats["errors"] += len(group)
        return [(r, Completion(completion="", finish_reason="error", error=label)) for r in group]

    async def _attempt(self, group: Group):
        """Send one request; classify every failure as retryable, per-unit, n-related or fatal."""
        first = group[0]
        prompt_bound, completion_bound = self._worst_tokens(group)
        taken = await self._tpm.acquire(prompt_bound + completion_bound)
        await self._rpm.acquire(1)
        self.stats["requests"] += 1
        params = dict(
            model=self.model,
            messages=first.messages,
            temperature=first.temperature,
            top_p=first.top_p,
            max_tokens=first.max_tokens,
            seed=first.seed,
        )
        if len(group) > 1:
            params["n"] = len(group)
        start = time.monotonic()
        try:
            response = await self._client.create(params)
        except BaseException as e:
            self._tpm.refund(taken)
            _classify(e, self, n=len(group))
            raise
        latency = time.monotonic() - start
        usage = response.get("usage")
        used = usage.get("total_tokens", taken) if isinstance(usage, dict) else taken
        self._tpm.refund(taken - used)
        if not response.get("choices"):
            raise _Retryable("EmptyChoices")
        return response, latency

    def _completions(self, group: Group, response: dict, latency: float, reserve: float):
        """Completions for the first len(choices) units; the rest are resent (server ignored n)."""
        try:
            choices = sorted(response["choices"], key=lambda c: c.get("index", 0))[: len(group)]
            messages = [c.get("message") or {} for c in choices]
        except (TypeError, AttributeError):  # not the shape of a chat completion
            raise _Retryable("InvalidResponse") from None
        if len(group) > 1 and len(choices) < len(group):
            self.supports_n = False
        elif len(group) > 1:
            self.supports_n = True
        reasonings = [_reasoning(m) for m in messages]
        texts = [(r or "") + (m.get("content") or "") for r, m in zip(reasonings, messages, strict=True)]
        usage = response.get("usage")
        if isinstance(usage, dict) and "completion_tokens" in usage:
            prompt_tokens = int(usage.get("prompt_tokens") or 0)
            reasons = [c.get("finish_reason") for c in choices]
            shares = split_tokens(int(usage["completion_tokens"]), texts, reasons, group[0].max_tokens)
            costs = [self.prices.cost(prompt_tokens / len(choices), s) for s in shares]
        else:  # no usage reported: charge the reservation, so the budget stays safe
            prompt_tokens, shares = 0, [0] * len(choices)
            costs = [reserve / len(group)] * len(choices)
        thinking = reasoning_token_shares(usage, [r or "" for r in reasonings])
        results = []
        for request, choice, message, reasoning, tokens, cost, thought in zip(
            group, choices, messages, reasonings, shares, costs, thinking, strict=False
        ):
            completion = Completion(
                completion=message.get("content") or "",
                finish_reason=choice.get("finish_reason") or "stop",
                reasoning=reasoning,
                prompt_tokens=prompt_tokens,
                completion_tokens=tokens,
                reasoning_tokens=thought,
                latency_s=latency,
                cost_usd=cost,
                seed=group[0].seed,  # what this request sent (n > 1: one seed for the group)
                extra={"n": len(choices)},
            )
            results.append((request, completion))
        return sum(costs), results, group[len(choices) :]


class _NSupport(Exception):
    """The server rejected `n` > 1."""


class _UnitError(Exception):
    """A failure specific to this request (e.g. 400 prompt too long): recorded, not retried now."""

    def __init__(self, label: str):
        super().__init__(label)
        self.label = label


def _reasoning(message: dict) -> str | None:
    """DeepSeek's API and vLLM's reasoning parser send `reasoning_content` (newer vLLM: `reasoning`)."""
    for name in ("reasoning_content", "reasoning"):
        value = message.get(name)
        if isinstance(value, str) and value:
            return value
    return None


# the openai package's names for HTTP statuses, so trace errors read as they always have
_STATUS_NAMES = {
    400: "BadRequestError", 401: "AuthenticationError", 403: "PermissionDeniedError", 404: "NotFoundError",
    409: "ConflictError", 422: "UnprocessableEntityError", 429: "RateLimitError",
}  # fmt: skip


class HTTPStatusError(Exception):
    """A chat-completions request answered with status >= 400 (the body is not kept: it may echo the key)."""

    def __init__(self, status: int, headers):
        super().__init__(f"HTTP {status}")
        self.status = status
        self.headers = headers

    @property
    def label(self) -> str:
        name = _STATUS_NAMES.get(
            self.status, "InternalServerError" if self.status >= 500 else "APIStatusError"
        )
        return f"{name} {self.status}"


class ChatClient:
    """POST /chat/completions over one aiohttp session: the whole client, on purpose.

    The openai package's client costs about 2 ms of CPU per request (request models, response validation,
    its transport adapter); at C = 256 that alone keeps a core busy and the client below 0.8 of C/L
    (bench/api_client.py). Retries, Retry-After, pacing and the token split are this module's anyway, so
    what remains is one JSON POST with a bearer header and one orjson parse of the answer."""

    def __init__(self, base_url: str | None, api_key: str, concurrency: int, timeout_s: float):
        import aiohttp

        self.url = (base_url or "https://api.openai.com/v1").rstrip("/") + "/chat/completions"
        self._headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        # a pool as large as the concurrency: every request in flight keeps its connection alive
        connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=timeout_s), auto_decompress=True
        )

    async def create(self, params: dict) -> dict:
        async with self._session.post(self.url, data=orjson.dumps(params), headers=self._headers) as resp:
            body = await resp.read()
            if resp.status >= 400:
                raise HTTPStatusError(resp.status, resp.headers)
        response = orjson.loads(body)  # a ValueError (truncated JSON) is retried as InvalidResponse
        if not isinstance(response, dict):
            raise ValueError("not a JSON object")
        return response

    async def close(self) -> None:
        await self._session.close()


def _classify(e: BaseException, teacher: OpenAITeacher, n: int) -> None:
    """Turn a client exception into _Retryable / _NSupport / _UnitError / UserError (raised), or
    return to let the original propagate (cancellation, bugs)."""
    import aiohttp

    if isinstance(e, HTTPStatusError):
        status = e.status
        if status in (408, 409, 429) or status >= 500:
            raise _Retryable(e.label, e.headers) from None
        if status in (401, 403):
            raise UserError(
                f"{teacher.cfg.base_url or 'the API'} refused the key ({status}): check ${teacher.cfg.api_key_env}"
            ) from None
        if status == 404:
            raise UserError(
                f"{teacher.cfg.base_url or 'the API'} answered 404 for model {teacher.model!r}: "
                "check --base-url and the model name"
            ) from None
        if n > 1 and status in (400, 422):
            raise _NSupport() from None
        raise _UnitError(e.label) from None
    if isinstance(e, TimeoutError):  # aiohttp's total timeout (asyncio.TimeoutError is TimeoutError)
        raise _Retryable("APITimeoutError") from None
    if isinstance(e, (aiohttp.ClientError, ConnectionError)):  # resets, refused, closed keep-alives
        raise _Retryable("APIConnectionError") from None
    if isinstance(e, ValueError):  # an answer that is not JSON (orjson.JSONDecodeError is one)
        raise _Retryable("InvalidResponse") from None


def _drain_until_stop(out: queue.Queue, timeout_s: float) -> None:
    """Wait for the cancelled coroutine to finish (its _Stop), discarding unconsumed results."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            item = out.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            return
        if isinstance(item, _Stop):
            return


def make(spec_rest: str, backends: Backends, seed: int = 0) -> OpenAITeacher:
    """Registry factory: `openai:MODEL`; each request carries its unit's seed, so `seed` is unused."""
    return OpenAITeacher(spec_rest, backends.openai)
