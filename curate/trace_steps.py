"""The steps over trace rows: problem gone, exact trace dedup, verified, filters (curate/step.py's shape).

The cached results: per-trace text hashes in lake table `trace_hashes` and per-trace filter results in
`trace_checks`; only traces not seen under the same settings are looked at.
"""

from __future__ import annotations

import dataclasses

import pyarrow as pa

from curate import filters
from curate.state import cache_key
from curate.step import Context, Drop
from lakehouse.store import sha256_file
from sampling.prompts import assistant_text

HASHES = pa.schema([("trace_id", pa.string()), ("text_hash", pa.string())])


class ProblemGone:
    """A trace whose problem was dropped gets the reason its problem's last row went for; a trace of a
    problem the lake does not have is `unknown_problem`."""

    name, unit = "problem", "trace"

    def key(self, ctx: Context) -> None:
        return None

    def run(self, ctx: Context) -> list[Drop]:
        return ctx.drops(
            """SELECT l.trace_id,
                      CASE WHEN l.problem_id NOT IN (SELECT problem_id FROM problems) THEN 'unknown_problem'
                           ELSE (SELECT arg_max(d.reason, d.seq) FROM dropped d
                                 WHERE d.unit = 'problem' AND d.id = l.problem_id) END,
                      l.problem_id
               FROM live_traces l WHERE l.problem_id NOT IN (SELECT problem_id FROM live_problems)
               ORDER BY l.trace_id""",
            problems=ctx.problems(),
        )


class TraceDedup:
    """Of the traces of one problem with the same normalised assistant text, the first (by creation
    time, then id) stays; the others are `dup_trace` with the kept trace as detail."""

    name, unit = "trace_dedup", "trace"

    def key(self, ctx: Context) -> str:
        return cache_key("trace-hash-v1")  # the hash depends on no setting

    def run(self, ctx: Context) -> list[Drop]:
        hashes, _ = ctx.cached_rows("trace_hashes", ctx.traces(), "trace_id", _hash_traces)
        return ctx.drops(
            """SELECT trace_id, 'dup_trace', first_id FROM (
                 SELECT l.trace_id, first_value(l.trace_id) OVER (
                   PARTITION BY l.problem_id, h.text_hash ORDER BY t.created_at NULLS LAST, l.trace_id) AS first_id
                 FROM live_traces l JOIN traces t USING (row) JOIN trace_hashes h ON h.trace_id = l.trace_id)
               WHERE trace_id <> first_id ORDER BY trace_id""",
            traces=ctx.traces(),
            trace_hashes=hashes,
        )


def _hash_traces(traces: pa.Table) -> pa.Table:
    ids = traces.column("trace_id").to_pylist()
    texts = (
        assistant_text(r, c)
        for r, c in zip(
            traces.column("reasoning").to_pylist(), traces.column("completion").to_pylist(), strict=True
        )
    )
    return pa.table({"trace_id": ids, "text_hash": [filters.text_hash(t) for t in texts]}, schema=HASHES)


class Verified:
    """A trace without a verdict (`curate verify` has not seen it) is `unverified`."""

    name, unit = "verify", "trace"

    def key(self, ctx: Context) -> None:
        return None

    def run(self, ctx: Context) -> list[Drop]:
        return ctx.drops(
            """SELECT trace_id, 'unverified', NULL FROM live_traces
               WHERE trace_id NOT IN (SELECT trace_id FROM verdicts) ORDER BY trace_id""",
            verdicts=ctx.verdicts(),
        )


class Filters:
    """The first trace filter a trace fails (curate/filters.py) is its reason."""

    name, unit = "filters", "trace"

    def key(self, ctx: Context) -> str:
        cfg = ctx.cfg.filters
        tokenizer = filters.tokenizer_file(cfg.student_tokenizer) if cfg.max_length is not None else None
        # the student's tokenizer by content: a retrained tokenizer at the same path is a new check
        return cache_key("filters-v3", dataclasses.asdict(cfg), tokenizer and sha256_file(tokenizer))

    def run(self, ctx: Context) -> list[Drop]:
        checks, _ = ctx.cached_rows(
            "trace_checks",
            ctx.traces(),
            "trace_id",
            lambda todo: filters.check_traces(todo, ctx.cfg.filters, ctx.cfg.progress),
        )
        return ctx.drops(
            """SELECT l.trace_id, c.reason, NULL FROM live_traces l JOIN trace_checks c USING (trace_id)
               WHERE c.reason IS NOT NULL ORDER BY l.trace_id""",
            trace_checks=checks,
        )
