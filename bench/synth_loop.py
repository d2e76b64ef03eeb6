"""Overhead of the generation loop: the procedural teacher alone vs the same work through
`synth generate` into a lake (journal, fsync, compaction, manifest), measured in one run.

    python bench/synth_loop.py [--problems 2000 --samples 4]

Prints samples/s of both and the ratio loop/teacher (goal >= 0.8).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from synth.config import GenerateConfig
from synth.generate import build_requests, main, select_problems
from synth.problems import ProblemsConfig
from synth.problems import main as make_problems
from synth.teachers import make_teacher


def teacher_alone(cfg: GenerateConfig) -> tuple[int, float]:
    from lakehouse import Lake

    requests = build_requests(cfg, select_problems(Lake(cfg.lake), cfg), set())
    teacher = make_teacher(cfg.teacher, cfg)
    start = time.perf_counter()
    n = sum(1 for _ in teacher.generate(requests))
    return n, time.perf_counter() - start


def through_loop(cfg: GenerateConfig) -> tuple[int, float]:
    start = time.perf_counter()
    summary = main(cfg)
    return summary.new, time.perf_counter() - start


def run() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--problems", type=int, default=2000)
    ap.add_argument("--samples", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        lake = Path(d) / "lake"
        make_problems(ProblemsConfig(lake=lake, source="builtin:arith", n=args.problems, seed=0))
        cfg = GenerateConfig(
            lake=lake, teacher="procedural", samples=args.samples, max_tokens=4096, progress=False
        )
        teacher_alone(cfg)  # warm-up: imports, caches
        n_t, s_t = teacher_alone(cfg)
        n_l, s_l = through_loop(cfg)
    rate_t, rate_l = n_t / s_t, n_l / s_l
    print(f"teacher alone     : {n_t} samples in {s_t:.2f}s = {rate_t:,.0f} samples/s")
    print(f"synth generate    : {n_l} samples in {s_l:.2f}s = {rate_l:,.0f} samples/s")
    print(f"ratio loop/teacher: {rate_l / rate_t:.2f} (goal >= 0.8)")


if __name__ == "__main__":
    run()
