"""Exact problem dedup in DuckDB: rows/s of curate's query, a hash aggregate over problem_id (the lake's
normalised-text hash, computed once at import), vs a baseline that re-normalises and hashes every
text inside DuckDB (regex), on the same rows in one run; both must find the same duplicates.

    python bench/exact_dedup.py [--rows 1000000]

Goal: >= 1M rows/s. Two data sets: short one-line problems (like the builtin families) and the real
benchmark problems (problemsets/data: multi-line LaTeX, ~280 characters), each with ~1% of rows
re-typed (case, spacing, line breaks) so that there are duplicates to find.
"""

from __future__ import annotations

import argparse
import json
import random
import time

import duckdb
import pyarrow as pa

from curate.config import DEFAULT_BENCHMARK_DIR
from curate.dedup import exact_duplicates
from lakehouse.ids import problem_id


def retype(text: str, rng: random.Random) -> str:
    """The same problem typed differently: upper case, doubled spaces, a line break."""
    words = text.split(" ")
    i = rng.randrange(len(words))
    words[i] = words[i].upper() + ("\n" if rng.random() < 0.5 else "  ")
    return " ".join(words)


def short_problems(n: int, rng: random.Random) -> list[str]:
    return [f"Compute {rng.randrange(10**6)} + {rng.randrange(10**4)}. What is the result?" for _ in range(n)]


def benchmark_problems(n: int, rng: random.Random) -> list[str]:
    texts = []
    for path in sorted(DEFAULT_BENCHMARK_DIR.glob("*.jsonl")):
        texts += [json.loads(line).get("problem") or json.loads(line).get("question") for line in path.open()]
    return [f"{texts[i % len(texts)]} (variant {i // len(texts)})" for i in range(n)]


def with_duplicates(texts: list[str], rng: random.Random) -> pa.Table:
    texts = list(texts)
    for i in rng.sample(range(1, len(texts)), len(texts) // 100):
        texts[i] = retype(texts[i - 1], rng)
    n = len(texts)
    return pa.table(
        {
            "row": pa.array(range(n), pa.int64()),
            "problem_id": [problem_id(t) for t in texts],  # what the importer stores
            "problem": texts,
        }
    )


def baseline(con: duckdb.DuckDBPyConnection) -> int:
    norm = "lower(trim(regexp_replace(problem, '\\s+', ' ', 'g')))"
    sql = f"""WITH k AS (SELECT row, problem_id AS id, md5({norm}) AS h FROM p),
              f AS (SELECT h, min((id, row)) AS first FROM k GROUP BY h)
              SELECT count(*) FROM k JOIN f USING (h) WHERE k.row <> f.first[2]"""
    return con.execute(sql).fetchone()[0]


def timed(fn, con: duckdb.DuckDBPyConnection) -> tuple[int, float]:
    start = time.perf_counter()
    found = fn(con)
    return found, time.perf_counter() - start


def curate_query(con: duckdb.DuckDBPyConnection) -> int:
    return exact_duplicates(con, "p", "problem_id").num_rows


def run() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    rng = random.Random(0)
    for name, make in (("short one-line", short_problems), ("benchmark texts", benchmark_problems)):
        table = with_duplicates(make(args.rows, rng), rng)
        con = duckdb.connect()
        con.register("p", table)
        ours, t_ours = timed(curate_query, con)
        base, t_base = timed(baseline, con)
        assert ours == base, f"the two queries disagree: {ours} vs {base}"
        rate = args.rows / t_ours
        print(
            f"{name:<16} {args.rows:,} rows, {ours:,} duplicates: curate {rate / 1e6:.2f}M rows/s, "
            f"re-normalising in DuckDB {args.rows / t_base / 1e6:.2f}M rows/s, ratio {t_base / t_ours:.1f}x "
            f"(goal >= 1M rows/s: {'met' if rate >= 1e6 else 'NOT met'})"
        )


if __name__ == "__main__":
    run()
