"""Where the pipeline ends: the four stage views (views.py builds their rows) from the problems and
traces still live after the steps, with the views' own lines of the funnel."""

from __future__ import annotations

import dataclasses

import pyarrow as pa

from curate import views
from curate.funnel import Funnel
from curate.state import cache_key
from curate.step import Context
from sampling.prompts import assistant_text

STAGES = ("mid", "sft", "dpo", "rl")


class StageViews:
    name = "views"

    def key(self, ctx: Context) -> str:
        return cache_key("views-v1", dataclasses.asdict(ctx.cfg.views))

    def build(self, ctx: Context, funnel: Funnel) -> dict[str, pa.Table]:
        pool, problems = _pool(ctx), _problems(ctx)
        by_id = {p.problem_id: p for p in problems}
        cfg = ctx.cfg.views
        mid, mid_drops = views.build_mid(pool, by_id, cfg)
        funnel.add("view:mid", "traces", len(pool), mid_drops, rows_out=len(mid))
        sft, sft_drops = views.build_sft(pool, by_id, cfg)
        funnel.add("view:sft", "traces", len(mid), sft_drops, rows_out=len(sft))
        dpo, dpo_drops = views.build_dpo(pool, by_id, cfg)
        funnel.add("view:dpo", "traces", len(pool), dpo_drops, rows_out=2 * len(dpo))
        rl, rl_drops = views.build_rl(problems, cfg)
        funnel.add(
            "view:rl", "problems", len(problems), rl_drops, rows_out=len({r["problem_id"] for r in rl})
        )
        rows = {"mid": mid, "sft": sft, "dpo": dpo, "rl": rl}
        return {stage: views.to_table(stage, rows[stage]) for stage in STAGES}


def _pool(ctx: Context) -> list[views.PoolTrace]:
    """The live traces with their verdicts."""
    rows = ctx.sql(
        """SELECT t.trace_id, t.problem_id, t.sample_idx, t.reasoning, t.completion, t.completion_tokens,
                  bool_and(v.correct), any_value(v.status), t.prompt
           FROM live_traces l JOIN traces t USING (row) JOIN verdicts v ON v.trace_id = t.trace_id
           GROUP BY ALL ORDER BY t.problem_id, t.sample_idx, t.trace_id""",
        traces=ctx.traces(),
        verdicts=ctx.verdicts(),
    )
    pool = []
    for tid, pid, idx, reasoning, completion, tokens, correct, status, prompt in rows:
        text = assistant_text(reasoning, completion)
        length = int(tokens) if tokens is not None else len(text.split())
        pool.append(
            views.PoolTrace(tid, pid, int(idx or 0), text, length, bool(correct), status or "ok", prompt)
        )
    return pool


def _problems(ctx: Context) -> list[views.Problem]:
    """The live problems, each with the teacher's pass rate over all its verdicts."""
    rows = ctx.sql(
        """SELECT p.problem_id, any_value(p.problem), any_value(p.answer), any_value(p.level),
                  (SELECT avg(CAST(v.correct AS DOUBLE)) FROM verdicts v WHERE v.problem_id = p.problem_id),
                  (SELECT list(DISTINCT t.prompt ORDER BY t.prompt) FROM traces t JOIN verdicts v USING (trace_id)
                   WHERE t.problem_id = p.problem_id)
           FROM live_problems l JOIN problems p USING (row) GROUP BY p.problem_id ORDER BY p.problem_id""",
        problems=ctx.problems(),
        verdicts=ctx.verdicts(),
        traces=ctx.traces(),
    )
    return [
        views.Problem(pid, text, answer, level, rate, tuple(prompts or ()))
        for pid, text, answer, level, rate, prompts in rows
    ]
