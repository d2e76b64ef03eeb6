"""Throughput of the openai: teacher against a loopback chat server with a fixed latency L.

With C requests in flight and every answer taking L seconds, the ideal is C/L samples/s; the ratio
measured/ideal shows what the client itself costs (event loop, HTTP, parsing, pacing). The server
runs in its own process (tests/helpers/chat_server.py) so the two do not share one GIL. A bare
aiohttp client sending the same requests in the same run is the machine's ceiling: on a loaded
machine it shows how much of the gap is the teacher's own CPU per request (sampling/openai_api.py
ChatClient: one aiohttp session, orjson, no SDK models).

    python bench/api_client.py                      # L = 2 s, C = 16, 64, 256
    python bench/api_client.py --latency 0.5 --rounds 8
Goal: ratio >= 0.9 at C = 256.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sampling.config import OpenAIConfig  # noqa: E402
from sampling.openai_api import OpenAITeacher  # noqa: E402
from sampling.types import SampleRequest  # noqa: E402


def start_server(latency_s: float) -> tuple[subprocess.Popen, str]:
    server = ROOT / "tests" / "helpers" / "chat_server.py"
    proc = subprocess.Popen(
        [sys.executable, str(server), "--latency", str(latency_s)], stdout=subprocess.PIPE, text=True
    )
    return proc, proc.stdout.readline().strip()


def requests(n: int, offset: int) -> list[SampleRequest]:
    out = []
    for i in range(offset, offset + n):
        text = f"Compute {i} * 7 modulo 10."
        out.append(
            SampleRequest(
                problem_id=f"{i:016x}", sample_idx=0, messages=[{"role": "user", "content": text}],
                problem=text, answer="0", level=1, temperature=0.8, top_p=0.95, max_tokens=64, seed=i,
            )
        )  # fmt: skip
    return out


def measure(base_url: str, concurrency: int, latency_s: float, rounds: int, offset: int) -> float:
    """Samples/s for `rounds` full waves of `concurrency` requests (after one warm-up wave)."""
    cfg = OpenAIConfig(base_url=base_url, concurrency=concurrency, use_n=False, max_retries=0)
    teacher = OpenAITeacher("tiny", cfg)
    try:
        for _ in teacher.generate(requests(concurrency, offset)):  # warm-up: connections, imports
            pass
        work = requests(concurrency * rounds, offset + concurrency)
        start = time.perf_counter()
        n = sum(1 for _, c in teacher.generate(work) if c.error is None)
        elapsed = time.perf_counter() - start
    finally:
        teacher.close()
    if n != len(work):
        raise SystemExit(f"{len(work) - n} requests failed at C={concurrency}")
    return n / elapsed


def measure_bare(base_url: str, concurrency: int, rounds: int, offset: int) -> float:
    """The same waves through a bare aiohttp session: no client library, no teacher."""
    import aiohttp

    async def run() -> float:
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            gate = asyncio.Semaphore(concurrency)

            async def one(r: SampleRequest) -> None:
                body = {"model": "tiny", "messages": r.messages, "seed": r.seed, "max_tokens": r.max_tokens}
                async with gate, session.post(f"{base_url}/chat/completions", json=body) as resp:
                    await resp.json()

            await asyncio.gather(*(one(r) for r in requests(concurrency, offset)))
            work = requests(concurrency * rounds, offset + concurrency)
            start = time.perf_counter()
            await asyncio.gather(*(one(r) for r in work))
            return len(work) / (time.perf_counter() - start)

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency", type=float, default=2.0, help="Server latency L in seconds.")
    parser.add_argument("--rounds", type=int, default=4, help="Waves of C requests per measurement.")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64, 256])
    args = parser.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench")
    proc, base_url = start_server(args.latency)
    try:
        print(f"loopback server {base_url}, latency L = {args.latency} s, {args.rounds} waves per C")
        print(f"{'C':>5} {'samples/s':>10} {'ideal C/L':>10} {'ratio':>6} {'bare aiohttp':>13} {'ratio':>6}")
        offset = 0
        for c in args.concurrency:
            rate = measure(base_url, c, args.latency, args.rounds, offset)
            offset += c * (args.rounds + 1)
            bare = measure_bare(base_url, c, args.rounds, offset)
            offset += c * (args.rounds + 1)
            ideal = c / args.latency
            print(
                f"{c:>5} {rate:>10.1f} {ideal:>10.1f} {rate / ideal:>6.3f} {bare:>13.1f} {bare / ideal:>6.3f}"
            )
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
