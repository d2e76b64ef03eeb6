"""Throughput and latency of the verification pool against raw math-verify, measured in one run.

On the same (gold, response) pairs (real benchmark answers and perturbed variants):
  raw     math-verify called in this process, one pair after another (the baseline, pairs/s)
  pool    Verifier with its limits on (workers = cores, hard timeout, memory cap, empty cache)
  cached  the same pairs again: every one is a cache hit
then a set of adversarial predictions (power towers, huge factorials, deep nesting, megabyte strings)
for the worst latency.

    python bench/verify_throughput.py                 # 2,000 pairs, limit 5 s
    python bench/verify_throughput.py --pairs 400 --limit 2
Goals: pool >= 0.9 x cores x raw; cached >= 100,000 pairs/s; adversarial worst <= limit + 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reward.extract import extract_answer, normalize_gold  # noqa: E402
from reward.verify import Verifier  # noqa: E402

BENCH = ROOT / "problemsets" / "data"  # the shipped benchmark sets
ADVERSARIAL = [
    "2^{2^{2^{100}}}",
    "10^{10^{10}}!",
    "9^{9^{9}}",
    "(10^{8}+1)!",
    "10^{10^{8}}",
    "(" * 10_000 + "1" + ")" * 10_000,
    "x" * 1_000_000,
    "+".join(["1"] * 20_000),
    "\\frac{1}{" * 300 + "2" + "}" * 300,
    "\x00\xff\x13" * 100,
]


def pairs(limit: int) -> list[tuple[str, str]]:
    """Distinct (gold, response) pairs: each benchmark answer, as given and perturbed."""
    golds = []
    for name, field in [("math500.jsonl", "answer"), ("aime24.jsonl", "answer"), ("amc23.jsonl", "answer"),
                        ("olympiadbench.jsonl", "final_answer"), ("gsm8k_test.jsonl", "answer")]:  # fmt: skip
        golds += [normalize_gold(json.loads(line)[field]) for line in (BENCH / name).read_text().splitlines()]
    out = []
    for gold in golds:
        bumped = re.sub(r"\d+", lambda m: str(int(m.group()) + 1), gold, count=1)
        for pred in dict.fromkeys([gold, bumped, f"-({gold})"]):
            out.append((gold, f"<think>working</think>\nSo the answer is $\\boxed{{{pred}}}$."))
    return list(dict.fromkeys(out))[:limit]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (a worker of the pool), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raw_seconds(items: list[tuple[str, str]]) -> float:
    from reward.mv import judge  # math-verify, in this process

    start = time.perf_counter()
    for gold, response in items:
        pred = extract_answer(response)
        if pred is not None:
            judge(gold, pred)
    return time.perf_counter() - start


def pool_seconds(v: Verifier, items: list[tuple[str, str]]) -> tuple[float, list]:
    start = time.perf_counter()
    verdicts = list(v.check_many((g, r, None) for g, r in items))
    return time.perf_counter() - start, verdicts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=2000, help="at most this many pairs")
    ap.add_argument("--limit", type=float, default=5.0, help="the pool's hard limit per check, seconds")
    ap.add_argument("--workers", type=int, default=None, help="pool size (default: one per core)")
    ap.add_argument("--rounds", type=int, default=4, help="raw and pool alternate over this many chunks")
    args = ap.parse_args()

    items = pairs(args.pairs)
    from reward.mv import judge

    judge("1", "1")  # warm the parsers, as the pool's workers are
    raw_s = pool_s = raw_cpu = pool_cpu = 0.0
    verdicts = []
    with Verifier(workers=args.workers, timeout_s=args.limit) as v:
        cores = v.workers
        # Raw and pool take turns on the same chunks, so both see the same load on a shared machine.
        for k in range(args.rounds):
            chunk = items[k :: args.rounds]
            cpu = time.process_time()
            raw_s += raw_seconds(chunk)
            raw_cpu += time.process_time() - cpu
            pids = v.worker_pids()
            cpu = time.process_time() + sum(cpu_seconds(p) for p in pids)
            took, got = pool_seconds(v, chunk)
            pool_cpu += time.process_time() + sum(cpu_seconds(p) for p in pids) - cpu
            pool_s += took
            verdicts += got
        raw, pool = len(items) / raw_s, len(items) / pool_s
        cached = max(len(items) / pool_seconds(v, items)[0] for _ in range(3))  # best of 3, as timeit
        latencies = sorted(x.elapsed_ms for x in verdicts if x.status == "ok")
        adversarial = []
        for pred in ADVERSARIAL:
            t = time.perf_counter()
            v.check("7", f"\\boxed{{{pred}}}")
            adversarial.append(time.perf_counter() - t)
        timeouts = v.stats.timeouts

    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    worst = max(adversarial)
    print(
        f"pairs {len(items):,} (distinct), cores {cores} (os.cpu_count {os.cpu_count()}), limit {args.limit:g} s, "
        f"load average {os.getloadavg()[0]:.1f} (other processes share these cores when it exceeds {cores})"
    )
    print(f"raw math-verify, 1 process : {raw:10,.0f} pairs/s")
    print(f"pool, {cores} workers, limits on: {pool:10,.0f} pairs/s   p50 {p50:.1f} ms  p99 {p99:.1f} ms")
    print(f"cached                     : {cached:10,.0f} pairs/s")
    print(f"adversarial ({len(ADVERSARIAL)}, {timeouts} timeouts): worst {worst:.2f} s")
    print(f"ratio pool / (cores x raw) = {pool / (cores * raw):.2f}   (goal >= 0.9)")
    # CPU seconds per pair do not depend on how many cores other processes leave us: when the cores are
    # free, pool throughput = cores x raw x this ratio.
    print(f"ratio raw CPU / pool CPU per pair (workers + parent) = {raw_cpu / pool_cpu:.2f}")
    print(f"ratio pool / raw per core  = {pool / cores / raw:.2f}")
    print(f"cached / 100,000           = {cached / 100_000:.2f}   (goal >= 1)")
    print(f"adversarial worst / (limit + 1 s) = {worst / (args.limit + 1):.2f}   (goal <= 1)")


if __name__ == "__main__":
    main()
