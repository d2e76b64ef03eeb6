"""From the step results to the funnel and the four views: DuckDB over problems, traces, verdicts and the
cached step tables decides, step by step, which rows go and why; views.py builds the views' rows."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from curate import filters, views
from curate.config import CurateConfig
from curate.funnel import Funnel
from curate.state import State, snapshot
from curate.steps import (
    contaminated,
    read_problems,
    read_traces,
    update_decontam,
    update_dedup,
    update_filters,
)
from lakehouse.errors import UserError
from lakehouse.store import Lake

STAGES = ("mid", "sft", "dpo", "rl")
DROPS = pa.schema(
    [
        ("unit", pa.string()),
        ("id", pa.string()),
        ("step", pa.string()),
        ("reason", pa.string()),
        ("detail", pa.string()),
    ]
)


@dataclass
class Result:
    funnel: Funnel
    drops: pa.Table
    views: dict[str, pa.Table]
    inputs: dict


def curate(lake: Lake, cfg: CurateConfig, state: State) -> Result:
    problems = read_problems(lake)
    traces = read_traces(lake)
    verdicts = lake.read("verdicts", columns=["trace_id", "problem_id", "correct", "status"])
    if verdicts.num_rows == 0:
        raise UserError(
            f"{lake.root} has no verdicts: run `curate verify` (or `curate run`) before building views"
        )
    pdrops = update_dedup(lake, problems, cfg, state)
    matches = update_decontam(lake, problems, cfg, state)
    checks = update_filters(lake, traces, cfg, state)
    con = _session(problems, traces, verdicts, pdrops, contaminated(matches), checks)
    funnel, drops = Funnel(), []
    kept = _problem_steps(con, funnel, drops)
    pool = _trace_steps(con, funnel, drops)
    built = _build_views(con, kept, pool, cfg, funnel)
    return Result(funnel, pa.Table.from_pylist(drops, schema=DROPS), built, snapshot(lake))


def _session(problems, traces, verdicts, pdrops, contaminated, checks) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for name, table in {
        "p": problems,
        "t": traces,
        "v": verdicts,
        "pdrops": pdrops,
        "contam": contaminated,
        "checks": checks,
    }.items():
        con.register(name, table)
    return con


def _problem_steps(con: duckdb.DuckDBPyConnection, funnel: Funnel, drops: list[dict]) -> pa.Table:
    """exact_dedup -> near_dedup -> decontam over problem rows; creates table `kept` (problem rows left)."""
    total = con.execute("SELECT count(*) FROM p").fetchone()[0]
    for step, reason in (("exact_dedup", "exact_dup"), ("near_dedup", "near_dup")):
        rows = con.execute(
            "SELECT problem_id, kept_id FROM pdrops WHERE reason = ? ORDER BY row", [reason]
        ).fetchall()
        drops += [
            {"unit": "problem", "id": pid, "step": step, "reason": reason, "detail": kept}
            for pid, kept in rows
        ]
        total = funnel.add(step, "problems", total, Counter({reason: len(rows)})).rows_out
    con.execute(
        """CREATE TABLE kept AS SELECT p.* FROM p
           WHERE p.row NOT IN (SELECT row FROM pdrops)
           AND p.problem_id NOT IN (SELECT problem_id FROM contam)"""
    )
    rows = con.execute(
        """SELECT p.problem_id, 'contaminated:' || c.benchmark, c.item FROM p JOIN contam c USING (problem_id)
           WHERE p.row NOT IN (SELECT row FROM pdrops) ORDER BY p.row"""
    ).fetchall()
    drops += [
        {"unit": "problem", "id": pid, "step": "decontam", "reason": r, "detail": f"item {i}"}
        for pid, r, i in rows
    ]
    funnel.add("decontam", "problems", total, Counter(r for _, r, _ in rows))
    return con.sql("SELECT * FROM kept ORDER BY problem_id").to_arrow_table()


_TRACE_STEPS = [
    # (step, SQL: reason per trace still in `alive` (NULL = passes), detail)
    (
        "problem",
        """SELECT a.trace_id, CASE WHEN a.problem_id NOT IN (SELECT problem_id FROM p) THEN 'unknown_problem'
                ELSE coalesce((SELECT min(d.reason) FROM pdrops d WHERE d.problem_id = a.problem_id
                                AND d.problem_id NOT IN (SELECT problem_id FROM kept)),
                              (SELECT 'contaminated:' || min(c.benchmark) FROM contam c WHERE c.problem_id = a.problem_id))
                END AS reason, a.problem_id AS detail FROM alive a""",
    ),
    (
        "trace_dedup",
        """SELECT trace_id, CASE WHEN trace_id <> first_id THEN 'dup_trace' END, first_id FROM (
             SELECT a.trace_id, first_value(a.trace_id) OVER (
               PARTITION BY a.problem_id, coalesce(c.text_hash, a.trace_id)
               ORDER BY t.created_at NULLS LAST, a.trace_id) AS first_id
             FROM alive a JOIN t USING (trace_id)
             LEFT JOIN (SELECT trace_id, any_value(text_hash) AS text_hash FROM checks GROUP BY 1) c USING (trace_id))""",
    ),
    (
        "verify",
        """SELECT a.trace_id, CASE WHEN v.trace_id IS NULL THEN 'unverified' END, NULL
           FROM alive a LEFT JOIN (SELECT DISTINCT trace_id FROM v) v USING (trace_id)""",
    ),
    (
        "filters",
        """SELECT a.trace_id, CASE WHEN c.trace_id IS NULL THEN 'unchecked' ELSE c.reason END, NULL
           FROM alive a LEFT JOIN (SELECT trace_id, any_value(reason) AS reason FROM checks GROUP BY 1) c USING (trace_id)""",
    ),
]


def _trace_steps(con: duckdb.DuckDBPyConnection, funnel: Funnel, drops: list[dict]) -> list[views.PoolTrace]:
    """problem -> trace_dedup -> verify -> filters over traces; returns the pool."""
    con.execute("CREATE TABLE alive AS SELECT trace_id, problem_id FROM t")
    for step, sql in _TRACE_STEPS:
        rows = con.execute(f"SELECT * FROM ({sql}) ORDER BY 1").fetchall()
        dropped = [(tid, reason, detail) for tid, reason, detail in rows if reason is not None]
        drops += [
            {"unit": "trace", "id": tid, "step": step, "reason": r, "detail": d} for tid, r, d in dropped
        ]
        funnel.add(step, "traces", len(rows), Counter(r for _, r, _ in dropped))
        con.register("gone", pa.table({"trace_id": pa.array([tid for tid, _, _ in dropped], pa.string())}))
        con.execute("DELETE FROM alive WHERE trace_id IN (SELECT trace_id FROM gone)")
    return _pool(con)


def _pool(con: duckdb.DuckDBPyConnection) -> list[views.PoolTrace]:
    rows = con.execute(
        """SELECT t.trace_id, t.problem_id, t.sample_idx, t.reasoning, t.completion, t.completion_tokens,
                  bool_and(v.correct), any_value(v.status)
           FROM alive a JOIN t USING (trace_id) JOIN v USING (trace_id)
           GROUP BY ALL ORDER BY t.problem_id, t.sample_idx, t.trace_id"""
    ).fetchall()
    pool = []
    for tid, pid, idx, reasoning, completion, tokens, correct, status in rows:
        text = filters.assistant_text(reasoning, completion)
        length = int(tokens) if tokens is not None else len(text.split())
        pool.append(views.PoolTrace(tid, pid, int(idx or 0), text, length, bool(correct), status or "ok"))
    return pool


def _build_views(con, kept: pa.Table, pool: list[views.PoolTrace], cfg: CurateConfig, funnel: Funnel) -> dict:
    problems = _problem_records(con, kept)
    by_id = {p.problem_id: p for p in problems}
    mid, mid_drops = views.build_mid(pool, by_id, cfg.views)
    funnel.add("view:mid", "traces", len(pool), mid_drops, rows_out=len(mid))
    sft, sft_drops = views.build_sft(pool, by_id, cfg.views)
    funnel.add("view:sft", "traces", len(mid), sft_drops, rows_out=len(sft))
    dpo, dpo_drops = views.build_dpo(pool, by_id, cfg.views)
    funnel.add("view:dpo", "traces", len(pool), dpo_drops, rows_out=2 * len(dpo))
    rl, rl_drops = views.build_rl(problems, cfg.views)
    funnel.add("view:rl", "problems", len(problems), rl_drops, rows_out=len({r["problem_id"] for r in rl}))
    rows = {"mid": mid, "sft": sft, "dpo": dpo, "rl": rl}
    return {stage: views.to_table(stage, rows[stage]) for stage in STAGES}


def _problem_records(con, kept: pa.Table) -> list[views.Problem]:
    con.register("kept_rows", kept)
    rows = con.execute(
        """SELECT k.problem_id, any_value(k.problem), any_value(k.answer), any_value(k.level),
                  (SELECT avg(CAST(v.correct AS DOUBLE)) FROM v WHERE v.problem_id = k.problem_id)
           FROM kept_rows k GROUP BY k.problem_id ORDER BY k.problem_id"""
    ).fetchall()
    return [views.Problem(pid, text, answer, level, rate) for pid, text, answer, level, rate in rows]
