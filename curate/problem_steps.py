"""The steps over problem rows: exact dedup, near-duplicate dedup, decontamination (curate/step.py's shape).

The cached results: near-duplicates in lake table `dedup` (recomputed when the problems or the dedup
settings change), decontamination matches in `decontam` (only problems not checked under the same
benchmarks and n are looked at) with its per-benchmark report in `decontam_report`.
"""

from __future__ import annotations

import dataclasses

import pyarrow as pa

from curate import decontam
from curate.dedup import NEAR, exact_duplicates, near_duplicates
from curate.state import cache_key
from curate.step import Context, Drop


class ExactDedup:
    """A problem row whose id (the hash of its normalised text) repeats an earlier row's."""

    name, unit = "exact_dedup", "problem"

    def key(self, ctx: Context) -> None:
        return None  # one DuckDB aggregate: cheaper to redo than to cache

    def run(self, ctx: Context) -> list[Drop]:
        dups = exact_duplicates(ctx.con, "live_problems", "problem_id")
        return [
            Drop(pid, "exact_dup", kept)
            for pid, kept in zip(dups["problem_id"].to_pylist(), dups["kept_id"].to_pylist(), strict=True)
        ]


class NearDedup:
    """MinHash near-duplicates among the distinct problems (datatrove's pipeline, curate/dedup.py)."""

    name, unit = "near_dedup", "problem"

    def key(self, ctx: Context) -> str:
        return cache_key(
            "near-dedup-v1", ctx.lake.manifest("problems")["shards"], dataclasses.asdict(ctx.cfg.dedup)
        )

    def run(self, ctx: Context) -> list[Drop]:
        found = ctx.cached("dedup", lambda: self._compute(ctx))
        return ctx.drops(
            """SELECT l.problem_id, 'near_dup', n.kept_id FROM live_problems l
               JOIN near_duplicates n USING (problem_id) ORDER BY l.row""",
            near_duplicates=found,
        )

    @staticmethod
    def _compute(ctx: Context) -> pa.Table:
        if not ctx.cfg.dedup.near_dup:
            return NEAR.empty_table()
        distinct = _distinct(ctx.problems(), with_answer=True)  # the rows exact dedup keeps
        return near_duplicates(distinct, ctx.cfg.dedup, ctx.lake.root / "_minhash_work")


class Decontam:
    """A problem sharing an n-gram with a benchmark item (curate/decontam.py); the reason names the
    benchmark, the detail the item."""

    name, unit = "decontam", "problem"

    def key(self, ctx: Context) -> str:
        return decontam.config_key(self.benchmarks(ctx), ctx.cfg.decontam)

    def run(self, ctx: Context) -> list[Drop]:
        benchmarks = self.benchmarks(ctx)
        problems = _distinct(ctx.problems())

        def check(todo: pa.Table) -> pa.Table:
            index = decontam.BenchmarkIndex(benchmarks, ctx.cfg.decontam.n_gram, ctx.cfg.decontam)
            return _with_clean_rows(todo, decontam.find_contaminated(todo, index, ctx.cfg.progress))

        checked, changed = ctx.cached_rows("decontam", problems, "problem_id", check)
        if changed:
            report = decontam.build_report(contaminated(checked), problems, benchmarks, ctx.cfg.decontam)
            ctx.lake.replace("decontam_report", [report])
        return ctx.drops(
            """SELECT l.problem_id, 'contaminated:' || m.benchmark, 'item ' || m.item FROM live_problems l
               JOIN matches m USING (problem_id) ORDER BY l.row""",
            matches=contaminated(checked),
        )

    @staticmethod
    def benchmarks(ctx: Context) -> list[decontam.Benchmark]:
        def load() -> list[decontam.Benchmark]:  # registered names, all, or files (problemsets.registry)
            return [decontam.load_benchmark(b) for b in ctx.cfg.decontam.benchmark_sets()]

        return ctx.once("benchmarks", load)


def contaminated(matches: pa.Table) -> pa.Table:
    """The matches that found a benchmark (a clean problem's row has benchmark NULL)."""
    return matches.filter(matches.column("benchmark").is_valid())


def _distinct(problems: pa.Table, with_answer: bool = False) -> pa.Table:
    """problem_id, problem (and answer: near-duplicates must share it) of the first row of each id."""
    seen: set[str] = set()
    keep = []
    for pid in problems.column("problem_id").to_pylist():
        keep.append(pid not in seen)
        seen.add(pid)
    columns = ["problem_id", "problem"] + (["answer"] if with_answer else [])
    return problems.filter(pa.array(keep, pa.bool_())).select(columns)


def _with_clean_rows(todo: pa.Table, found: pa.Table) -> pa.Table:
    """Every checked id gets a row (benchmark NULL when clean), so it is not checked again."""
    hit = set(found.column("problem_id").to_pylist())
    clean = [pid for pid in todo.column("problem_id").to_pylist() if pid not in hit]
    clean_rows = pa.table(
        {
            "problem_id": clean,
            "benchmark": pa.nulls(len(clean), pa.string()),
            "item": pa.nulls(len(clean), pa.int64()),
        },
        schema=decontam.MATCHES,
    )
    return pa.concat_tables([found, clean_rows])
