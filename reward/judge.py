"""An LLM judge behind math-verify: asked only where math-verify could not decide.

The cascade (curate verify --judge, train eval --judge): math-verify first; the judge is asked only when
  - math-verify found no parseable answer in a response that was not cut off (status no_answer), or
  - math-verify said incorrect for an answer that looks mathematical (digits, LaTeX, an expression):
    the cases where a formatting difference (units, `x = 3` vs `3`, an unusual form) fools a parser.
Its decision replaces math-verify's; any failure (HTTP error after retries, timeout, a reply without a
verdict, no budget left) leaves math-verify's verdict in place, so the judge can only add information.

The prompt is fixed and versioned (PROMPT_VERSION, recorded with every decision): a changed prompt is a
changed verifier, with its own cache entries. The judge runs at temperature 0 with seed 0, within its own
concurrency and budget (worst case reserved before each request, as for teachers: sampling.pricing).
Decisions are cached on disk (reward.cache.VerdictCache, keyed by the judge id and a hash of what it saw).
The API key is read from the environment (sampling.openai_api.read_api_key's rule), never logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from lakehouse.errors import UserError
from lakehouse.options import opt
from reward.cache import VerdictCache

PROMPT_VERSION = "judge-v1"
MAX_TOKENS = 16  # the reply is one word
EXCERPT_CHARS = 2000  # the end of the response: where the final answer is
_SYSTEM = (
    "You grade answers to math problems. Compare the student's final answer with the reference answer. "
    "They match when they are mathematically equivalent, whatever the notation (fractions, decimals, "
    "units written or not, an equation that states the value). Do not solve the problem yourself and do "
    "not grade the reasoning. Reply with exactly one word: CORRECT or INCORRECT."
)
_USER = "Problem:\n{problem}\n\nReference answer:\n{gold}\n\nEnd of the student's response:\n{response}"
_VERDICT = re.compile(r"\b(INCORRECT|CORRECT)\b")
_MATHY = re.compile(r"[0-9]|\\[a-zA-Z]+|[=+\-*/^√π∞]")


@dataclass
class JudgeConfig:
    judge: str | None = opt(None, "--judge", "openai:MODEL: an LLM judge where math-verify cannot decide.")
    base_url: str | None = opt(None, "--base-url", "The judge's OpenAI-compatible endpoint.")
    api_key_env: str = opt("OPENAI_API_KEY", "--api-key-env", "Env var holding the judge's API key.")
    concurrency: int = opt(8, "--judge-concurrency", "Judge requests in flight.")
    budget_usd: float | None = opt(None, "--judge-budget-usd", "Stop asking the judge past this spend.")
    price_in: float | None = opt(None, "--judge-price-in", "Judge USD per 1M prompt tokens.")
    price_out: float | None = opt(None, "--judge-price-out", "Judge USD per 1M completion tokens.")
    timeout_s: float = opt(60.0, "--judge-timeout", "Seconds per judge request.")
    max_retries: int = opt(2, "--judge-retries", "Retries per judge request (429, 5xx, resets).")


@dataclass(frozen=True)
class Case:
    """What the judge sees for one trace, with math-verify's verdict."""

    problem: str
    gold: str
    response: str
    mv_status: str
    mv_correct: bool
    mv_pred: str | None


def needs_judge(mv_status: str, mv_correct: bool, mv_pred: str | None) -> bool:
    """Whether math-verify left this undecided (see the module docstring)."""
    if mv_status == "no_answer":
        return True
    return mv_status == "ok" and not mv_correct and mv_pred is not None and looks_mathematical(mv_pred)


def looks_mathematical(pred: str) -> bool:
    return len(pred) <= 200 and bool(_MATHY.search(pred))


def visible_text(response: str) -> str:
    """The part after the reasoning (an R1 think block), ending where the final answer is."""
    tail = response.rsplit("</think>", 1)[-1].strip() or response
    return tail[-EXCERPT_CHARS:]


def judge_messages(problem: str, gold: str, response: str) -> list[dict]:
    user = _USER.format(problem=problem.strip(), gold=gold.strip(), response=visible_text(response))
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]


def parse_reply(text: str | None) -> bool | None:
    """CORRECT -> True, INCORRECT -> False; anything else is no decision."""
    found = _VERDICT.findall((text or "").upper())
    return None if len(set(found)) != 1 else found[0] == "CORRECT"


class Judge:
    """An OpenAI-compatible chat model as a judge. `decide(cases)` -> one bool (the decision) or None
    (no decision: keep math-verify's) per case, in order. Use as a context manager."""

    def __init__(self, cfg: JudgeConfig, api_key: str, prices, budget, cache_path: Path | None = None):
        """`prices` (.cost(prompt, completion) in USD) and `budget` (.try_reserve, .settle) are the
        sampling layer's (sampling.pricing), handed in by the command: reward sits below sampling."""
        prefix, _, model = (cfg.judge or "").partition(":")
        if prefix != "openai" or not model:
            raise UserError(f"--judge {cfg.judge!r}: expected openai:MODEL (any OpenAI-compatible endpoint)")
        if cfg.concurrency < 1 or cfg.timeout_s <= 0 or cfg.max_retries < 0:
            raise UserError("--judge-concurrency must be >= 1, --judge-timeout > 0, --judge-retries >= 0")
        self.cfg = cfg
        self.model = model
        self.name = judge_name(cfg)  # written to verdicts.verifier
        self.prices = prices
        self.budget = budget
        self._key = api_key
        self.cache = VerdictCache(self.name, cache_path)
        self.stats: Counter = Counter()  # asked, cached, decided, errors, unparsed, over_budget

    def __enter__(self) -> Judge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cache.flush()

    def decide(self, cases: list[Case]) -> list[bool | None]:
        out: list[bool | None] = [None] * len(cases)
        todo = []
        for i, case in enumerate(cases):
            hit = self.cache.get(_cache_key(case))
            if hit is not None:
                self.stats["cached"] += 1
                out[i] = hit[0]
            else:
                todo.append(i)
        if todo:
            answers = asyncio.run(self._ask_all([cases[i] for i in todo]))
            for i, answer in zip(todo, answers, strict=True):
                out[i] = answer
        return out

    async def _ask_all(self, cases: list[Case]) -> list[bool | None]:
        import openai

        client = openai.AsyncOpenAI(
            api_key=self._key,
            base_url=self.cfg.base_url,
            max_retries=self.cfg.max_retries,  # the client's backoff honours Retry-After
            timeout=self.cfg.timeout_s,
        )
        gate = asyncio.Semaphore(self.cfg.concurrency)
        try:
            return await asyncio.gather(*(self._ask(client, gate, c) for c in cases))
        finally:
            await client.close()

    async def _ask(self, client, gate: asyncio.Semaphore, case: Case) -> bool | None:
        messages = judge_messages(case.problem, case.gold, case.response)
        reserve = self.prices.cost(_prompt_token_bound(messages), MAX_TOKENS)
        async with gate:
            if not self.budget.try_reserve(reserve):
                self.stats["over_budget"] += 1
                return None
            actual = 0.0
            try:
                self.stats["asked"] += 1
                response = await client.chat.completions.create(
                    model=self.model, messages=messages, temperature=0.0, max_tokens=MAX_TOKENS, seed=0
                )
                if response.usage is not None:
                    actual = self.prices.cost(response.usage.prompt_tokens, response.usage.completion_tokens)
                else:
                    actual = reserve
                text = response.choices[0].message.content if response.choices else None
            except openai_errors() + (asyncio.TimeoutError,) as e:
                self.stats["errors"] += 1
                self.stats[type(e).__name__] += 1
                return None
            finally:
                self.budget.settle(reserve, actual)
        decision = parse_reply(text)
        if decision is None:
            self.stats["unparsed"] += 1
            return None
        self.stats["decided"] += 1
        self.cache.put(_cache_key(case), (decision, "ok"))
        return decision


def rejudge(judge: Judge | None, cases: list[Case]) -> list[bool]:
    """The cascade's final verdicts: math-verify's, replaced by the judge's decision where it was asked
    (needs_judge) and decided. Without a judge: math-verify's."""
    correct = [c.mv_correct for c in cases]
    if judge is None:
        return correct
    ask = [i for i, c in enumerate(cases) if needs_judge(c.mv_status, c.mv_correct, c.mv_pred)]
    for i, decision in zip(ask, judge.decide([cases[i] for i in ask]), strict=True):
        if decision is not None:
            correct[i] = decision
    return correct


def openai_errors() -> tuple[type[BaseException], ...]:
    import openai

    return (openai.APIError, ValueError)


def _cache_key(case: Case) -> tuple[str, str]:
    """What the judge saw, hashed (the cache's pred column holds the hash, not the response)."""
    seen = f"{case.problem.strip()}\x1f{visible_text(case.response)}"
    return " ".join(case.gold.split()), hashlib.sha256(seen.encode()).hexdigest()


def judge_name(cfg: JudgeConfig) -> str:
    """The verifier id of the judge's decisions, e.g. "judge:gpt-4.1-mini/judge-v1"."""
    return f"judge:{(cfg.judge or '').partition(':')[2]}/{PROMPT_VERSION}"


def _prompt_token_bound(messages: list[dict]) -> int:
    """At least one byte per byte-level BPE token, plus template tokens: a bound for reservations."""
    return sum(len(str(m["content"]).encode()) + 8 for m in messages) + 16
