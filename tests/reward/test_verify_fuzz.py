"""Fuzz the pool with adversarial predictions: nothing hangs, nothing leaks, the pool keeps serving.

2,000 predictions by default, 10,000 in the `slow` variant. Few of them truly hang (power towers,
huge factorials): those cost the per-check limit each, the rest are answered or screened fast.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest

from reward.verify import STATUSES, Verifier

LIMIT_S = 1.0
MEMORY_MB = 1024
_SOUP = [
    "x",
    "1",
    "2",
    "9",
    "0",
    "+",
    "-",
    "*",
    "/",
    "^",
    "\\frac{",
    "}",
    "{",
    "\\sqrt{",
    "(",
    ")",
    "!",
    "\\pi",
    "e",
    "i",
    "\\infty",
    ",",
    "=",
    "\\cdot",
    "\\le",
    "\\text{",
    "a",
    "_",
    ".",
    "\\%",
    "\\\\",
    "&",
    "|",
    " ",
]


def _hanging(rng: random.Random, i: int) -> str:
    n = rng.randint(7, 9)
    return rng.choice(
        [
            f"2^{{2^{{2^{{{100 + i}}}}}}}",
            f"10^{{10^{{{n}}}}}!",
            f"{n + i}^{{{n + i}^{{{n + i}}}}}",
            f"(10^{{{n}}}+{i})!",
        ]
    )


def _adversarial(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.04:  # 10k-level nesting
        opener = rng.choice(["(", "{", "[", "\\frac{1}{", "\\sqrt{", "x^{"])
        closer = {"(": ")", "[": "]"}.get(opener, "}")
        return opener * 10_000 + "1" + closer * 10_000
    if kind < 0.05:  # a megabyte
        return rng.choice("x1+{") * 1_000_000
    if kind < 0.15:  # unbalanced braces
        return "".join(
            rng.choice(["{", "}", "\\frac{", "1", "x", "\\boxed{"]) for _ in range(rng.randint(1, 60))
        )
    if kind < 0.25:  # binary junk
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 300))).decode("latin-1")
    if kind < 0.35:  # long sums, some past the length guard
        return "+".join(str(rng.randint(0, 99)) for _ in range(rng.choice([50, 2_000, 20_000])))
    return "".join(rng.choice(_SOUP) for _ in range(rng.randint(1, 40)))  # LaTeX soup


def _response(rng: random.Random, pred: str) -> str:
    return rng.choice(
        [f"\\boxed{{{pred}}}", f"The final answer is {pred}", f"<think>{pred}</think>\\boxed{{{pred}}}", pred]
    )


def _predictions(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    preds = [_adversarial(rng) for _ in range(n)]
    for i in range(n // 100):  # the few that truly hang (1 %), spread through the stream
        preds[rng.randrange(n)] = _hanging(rng, i)
    return [_response(rng, p) for p in preds]


class _MemoryWatch:
    """Samples the resident and virtual memory of every live worker while the fuzz runs."""

    def __init__(self, verifier: Verifier) -> None:
        self.verifier, self.peak_mb, self._stop = verifier, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            for pid in self.verifier.worker_pids():
                try:
                    mem = psutil.Process(pid).memory_info()
                except psutil.Error:
                    continue
                self.peak_mb = max(self.peak_mb, mem.rss / 2**20, mem.vms / 2**20)

    def __enter__(self) -> _MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _fuzz(n: int, seed: int) -> None:
    responses = _predictions(n, seed)
    with Verifier(workers=2, timeout_s=LIMIT_S, memory_mb=MEMORY_MB) as v, _MemoryWatch(v) as watch:

        def timed(response: str) -> tuple[float, str]:
            start = time.monotonic()
            verdict = v.check("7", response)
            return time.monotonic() - start, verdict.status

        with ThreadPoolExecutor(2) as ex:
            results = list(ex.map(timed, responses))
        worst = max(t for t, _ in results)
        statuses = {s for _, s in results}
        after = [v.check(str(k), f"<think>ok</think>\\boxed{{{k}}}") for k in range(20)]

    assert worst <= LIMIT_S + 1.0, f"a call took {worst:.2f} s"
    assert statuses <= set(STATUSES)
    assert v.stats.timeouts >= 1  # the hanging ones were really cut off
    assert [(x.correct, x.status) for x in after] == [(True, "ok")] * 20
    assert 0 < watch.peak_mb <= MEMORY_MB
    assert v.stats.peak_worker_rss_mb <= MEMORY_MB


def test_fuzz_2000():
    _fuzz(2_000, seed=1)


@pytest.mark.slow
def test_fuzz_10000():
    _fuzz(10_000, seed=2)
