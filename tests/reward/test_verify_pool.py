"""The verification pool: agreement with math-verify, hard limits, crashes, cache, threads and asyncio."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from math_verify import parse, verify

from reward.extract import extract_answer, normalize_gold
from reward.verify import Verifier
from tests.conftest import BENCHMARKS

BENCH = BENCHMARKS


def _golds() -> list[str]:
    rows = {
        name: [json.loads(line) for line in (BENCH / name).read_text().splitlines()]
        for name in (
            "math500.jsonl",
            "aime24.jsonl",
            "amc23.jsonl",
            "gsm8k_test.jsonl",
            "olympiadbench.jsonl",
        )
    }
    golds = [normalize_gold(r["answer"]) for r in rows["math500.jsonl"][:80]]
    golds += [normalize_gold(r["answer"]) for r in rows["aime24.jsonl"][:15]]
    golds += [normalize_gold(r["answer"]) for r in rows["amc23.jsonl"][:15]]
    golds += [normalize_gold(r["answer"]) for r in rows["gsm8k_test.jsonl"][:15]]
    golds += [normalize_gold(r["final_answer"]) for r in rows["olympiadbench.jsonl"][:25]]
    return golds


def _perturb(gold: str) -> list[str]:
    """Variants that are sometimes equal (spacing, decimals, swapped fractions of equal parts) and
    mostly not (a digit changed, a sign flipped)."""
    variants = [gold, f" {gold.replace(' ', '')} "]
    bumped = re.sub(r"\d+", lambda m: str(int(m.group()) + 1), gold, count=1)
    if bumped != gold:
        variants.append(bumped)
    variants.append(f"-({gold})" if not gold.startswith("-") else gold[1:])
    if gold.isdigit():
        variants.append(f"{gold}.0")
    frac = re.fullmatch(r"\\frac\{(\d+)\}\{(\d+)\}", gold)
    if frac:
        variants.append(str(int(frac.group(1)) / int(frac.group(2))))
        variants.append(f"\\frac{{{frac.group(2)}}}{{{frac.group(1)}}}")
    return variants


def _direct(gold: str, pred: str) -> bool:
    """math-verify called in this process, as a user would (its signal timeouts off: we are in pytest)."""
    return bool(
        verify(
            parse(f"\\boxed{{{gold}}}", parsing_timeout=None),
            parse(f"\\boxed{{{pred}}}", parsing_timeout=None),
            timeout_seconds=None,
        )
    )


def _gone_within(pid: int, seconds: float) -> bool:
    """The killed worker disappears (the zygote reaps it) within a few seconds."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def pool():
    with Verifier(workers=2, timeout_s=5.0) as v:
        yield v


def test_agreement_with_direct_math_verify(pool):
    pairs = [(g, p) for g in _golds() for p in _perturb(g)]
    responses = [f"<think>working</think>\nThe answer is $\\boxed{{{p}}}$." for _, p in pairs]
    verdicts = list(pool.check_many([(g, r, None) for (g, _), r in zip(pairs, responses, strict=True)]))
    direct = [
        _direct(normalize_gold(g), extract_answer(r)) for (g, _), r in zip(pairs, responses, strict=True)
    ]
    assert len(pairs) >= 300
    assert [v.status for v in verdicts] == ["ok"] * len(pairs)
    assert [v.correct for v in verdicts] == direct
    assert sum(direct) >= 150 and len(direct) - sum(direct) >= 150  # both outcomes well represented


def test_statuses_without_a_worker(pool):
    calls = pool.stats.worker_calls
    v = pool.check("5", "<think>long", "length")
    assert (v.pred, v.correct, v.status) == (None, False, "truncated")
    v = pool.check("5", "\\boxed{5}", "length")
    assert (v.pred, v.correct, v.status) == ("5", False, "truncated")
    v = pool.check("5", "I give up")
    assert (v.pred, v.correct, v.status) == (None, False, "no_answer")
    v = pool.check("5", "\\boxed{" + "(" * 100 + "5" + ")" * 100 + "}")
    assert (v.correct, v.status) == (False, "error")
    v = pool.check("5", "\\boxed{" + "1+" * 600 + "1}")
    assert (v.correct, v.status) == (False, "error")
    assert pool.stats.worker_calls == calls


def test_timeout_kills_and_replaces_the_worker():
    with Verifier(workers=1, timeout_s=1.0) as v:
        before = set(v.worker_pids())
        start = time.monotonic()
        verdict = v.check("7", "\\boxed{10^{10^{8}}}")
        took = time.monotonic() - start
        assert (verdict.pred, verdict.correct, verdict.status) == ("10^{10^{8}}", False, "timeout")
        assert took < 2.0
        after = set(v.worker_pids())
        assert len(after) == 1 and not (before & after)
        (old,) = before
        assert _gone_within(old, 5.0)
        ok = v.check("7", "so \\boxed{7}")
        assert (ok.correct, ok.status) == (True, "ok")
        assert v.stats.timeouts == 1 and v.stats.restarts == 1


def test_worker_killed_from_outside_is_retried_not_blamed():
    with Verifier(workers=2, timeout_s=5.0) as v:
        for pid in v.worker_pids():
            os.kill(pid, signal.SIGKILL)
        # 40 golds: each worker slot is some gold's preferred one (a miss has probability 2**-40)
        verdicts = [v.check(str(n), f"\\boxed{{{n}}}") for n in range(40)]
        assert [(x.correct, x.status) for x in verdicts] == [(True, "ok")] * 40
        assert v.stats.restarts == 2


def test_pool_survives_its_zygote_being_killed():
    with Verifier(workers=1, timeout_s=5.0) as v:
        os.kill(v._zygote[0].proc.pid, signal.SIGKILL)
        v._zygote[0].proc.wait()
        os.kill(v.worker_pids()[0], signal.SIGKILL)  # the replacement now needs a new zygote
        verdicts = [v.check(str(n), f"\\boxed{{{n}}}") for n in range(3)]
        assert [(x.correct, x.status) for x in verdicts] == [(True, "ok")] * 3


def test_memory_cap_is_set_on_every_worker():
    with Verifier(workers=2, timeout_s=5.0, memory_mb=700) as v:
        for pid in v.worker_pids():
            limits = Path(f"/proc/{pid}/limits").read_text()
            line = next(x for x in limits.splitlines() if x.startswith("Max address space"))
            assert line.split()[3:5] == [str(700 * 2**20)] * 2


def test_cache_persists_and_rerun_is_free(tmp_path):
    items = [(str(n), f"<think>x</think>\\boxed{{{n + n % 2}}}", None) for n in range(40)]
    with Verifier(workers=2, cache_path=tmp_path / "cache") as v:
        first = list(v.check_many(items))
        assert v.stats.worker_calls == 40
    assert len(list((tmp_path / "cache").glob("part-*.parquet"))) == 1
    with Verifier(workers=2, cache_path=tmp_path / "cache") as v:
        again = list(v.check_many(items))
        assert v.stats.worker_calls == 0 and v.stats.cache_hits == 40
    assert [(x.pred, x.correct, x.status) for x in again] == [(x.pred, x.correct, x.status) for x in first]
    assert [x.correct for x in first] == [n % 2 == 0 for n in range(40)]


def test_cache_key_ignores_whitespace_only(pool):
    a = pool.check("\\frac{1}{2}", "\\boxed{\\frac{1}{2}}")
    hits = pool.stats.cache_hits
    b = pool.check("\\frac{1}{2}", "\\boxed{ \\frac{1}{2} }")
    c = pool.check("\\frac{1}{2}", "\\boxed{\\frac{1}{3}}")
    assert (a.correct, b.correct, c.correct) == (True, True, False)
    assert pool.stats.cache_hits == hits + 1


def test_threads_and_asyncio(pool):
    def one(n: int) -> tuple[bool, str]:
        v = pool.check(str(n), f"\\boxed{{{n if n % 3 else n + 1}}}")
        return v.correct, v.status

    with ThreadPoolExecutor(8) as ex:
        got = list(ex.map(one, range(1000, 1048)))
    assert got == [(n % 3 != 0, "ok") for n in range(1000, 1048)]

    async def many():
        return await asyncio.gather(*(pool.acheck(str(n), f"\\boxed{{{n}}}") for n in range(2000, 2016)))

    assert [v.correct for v in asyncio.run(many())] == [True] * 16
    assert threading.active_count() < 30


def test_check_many_streams_in_order_with_progress(pool, capsys):
    items = ((str(n), f"\\boxed{{{n}}}" if n % 2 else "no answer", None) for n in range(3000, 3030))
    verdicts = list(pool.check_many(items, progress=True))
    assert [v.status for v in verdicts] == ["no_answer", "ok"] * 15
    assert [v.pred for v in verdicts] == [None if n % 2 == 0 else str(n) for n in range(3000, 3030)]
