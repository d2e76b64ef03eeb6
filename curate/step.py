"""The one shape of a curate step, and the loop that runs a list of them (curate/pipeline.py holds the list).

A step has a name, a unit (it looks at and drops problem rows or trace rows), a cache key (the settings
and inputs its cached results depend on; None: nothing cached) and a `run` that returns its drops
`(id, reason, detail)` among the rows still live. The loop counts each step's rows in and out for the
funnel, records every drop with its reason, and removes the dropped rows before the next step.

A step's cached per-row results live in a lake table of its own; `Context.cached` and
`Context.cached_rows` keep them valid under the step's key (recorded in LAKE/_curate_state.json), so
a rerun computes only what changed. Whatever a step computes, it computes over every row of the lake,
not only the live ones: its cache then does not depend on the steps before it, and a single-step
command can run the step alone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

import duckdb
import pyarrow as pa

from curate.config import CurateConfig
from curate.funnel import Funnel
from curate.state import State
from lakehouse.errors import UserError
from lakehouse.store import Lake

Unit = Literal["problem", "trace"]
# the unit's live rows (a DuckDB table: row, <id>, ...) and its id column
LIVE: dict[str, tuple[str, str]] = {
    "problem": ("live_problems", "problem_id"),
    "trace": ("live_traces", "trace_id"),
}
DROPS = pa.schema(
    [
        ("unit", pa.string()),
        ("id", pa.string()),
        ("step", pa.string()),
        ("reason", pa.string()),
        ("detail", pa.string()),
    ]
)
_TRACE_COLUMNS = [
    "trace_id",
    "problem_id",
    "sample_idx",
    "prompt",
    "reasoning",
    "completion",
    "finish_reason",
    "completion_tokens",
    "created_at",
    "error",
]

_MISSING = {
    "problems": "lake {root} has no problems (run `synth problems` first)",
    "traces": "lake {root} has no traces (run `synth generate` first)",
    "verdicts": "{root} has no verdicts: run `curate verify` (or `curate run`) before building views",
}


@dataclass(frozen=True)
class Drop:
    id: str  # problem_id or trace_id
    reason: str
    detail: str | None = None  # what it duplicates, which benchmark item it matches, ...


class Step(Protocol):
    """Any class with these four members is a step (composition: no base class to inherit)."""

    name: str  # in the funnel and the drops table; also the name its cache key is kept under
    unit: Unit

    def key(self, ctx: Context) -> str | None: ...

    def run(self, ctx: Context) -> list[Drop]: ...


@dataclass
class Context:
    """What a step sees: the lake, the config, a DuckDB session holding the live rows of each unit
    (`live_problems`, `live_traces`) and the drops so far (`dropped`), and its cache."""

    lake: Lake
    cfg: CurateConfig
    state: State
    con: duckdb.DuckDBPyConnection = field(default_factory=duckdb.connect)
    step: Step | None = None  # the step running now
    key: str | None = None  # ... and its cache key
    _memo: dict = field(default_factory=dict, init=False, repr=False)

    # -- inputs, read once ------------------------------------------------------------------------------
    def once(self, name: str, make: Callable):
        """`make()`, computed once per context (e.g. the benchmark files, wanted by a key and a run)."""
        if name not in self._memo:
            self._memo[name] = make()
        return self._memo[name]

    def problems(self) -> pa.Table:
        """problem_id, problem, answer, level, row (the row's position: ids repeat in exact duplicates)."""
        return self.once("problems", self._read_problems)

    def traces(self) -> pa.Table:
        return self.once("traces", self._read_traces)

    def verdicts(self) -> pa.Table:
        return self.once("verdicts", self._read_verdicts)

    def require(self, *tables: str) -> None:
        """A one-line UserError for the first of these inputs that has no rows (manifests only)."""
        for table in tables:
            if self.lake.rows(table) == 0:
                raise UserError(_MISSING[table].format(root=self.lake.root))

    def _read_problems(self) -> pa.Table:
        self.require("problems")
        problems = self.lake.read("problems", columns=["problem_id", "problem", "answer", "level"])
        return problems.append_column("row", pa.array(range(problems.num_rows), pa.int64()))

    def _read_traces(self) -> pa.Table:
        self.require("traces")
        traces = self.lake.read("traces", columns=_TRACE_COLUMNS)
        return traces.append_column("row", pa.array(range(traces.num_rows), pa.int64()))

    def _read_verdicts(self) -> pa.Table:
        self.require("verdicts")
        return self.lake.read("verdicts", columns=["trace_id", "problem_id", "correct", "status"])

    # -- SQL --------------------------------------------------------------------------------------------
    def sql(self, query: str, **tables: pa.Table) -> list[tuple]:
        """Run `query` with each keyword table registered under its name first, so that a query's
        inputs are named where it is written."""
        for name, table in tables.items():
            self.con.register(name, table)
        return self.con.execute(query).fetchall()

    def drops(self, query: str, **tables: pa.Table) -> list[Drop]:
        """The drops a query selects as (id, reason, detail) rows."""
        return [Drop(i, r, d) for i, r, d in self.sql(query, **tables)]

    # -- the running step's cache -----------------------------------------------------------------------
    def _valid(self, table: str) -> bool:
        return self.state.get(self.step.name) == self.key and self.lake.has(table)

    def cached(self, table: str, compute: Callable[[], pa.Table]) -> pa.Table:
        """The step's result as a whole, in lake table `table`: recomputed only when its key changed."""
        if self._valid(table):
            return self.lake.read(table)
        result = compute()
        self.lake.replace(table, [result])
        self.state.set(self.step.name, self.key)
        return result

    def cached_rows(
        self, table: str, rows: pa.Table, id_col: str, compute: Callable[[pa.Table], pa.Table]
    ) -> tuple[pa.Table, bool]:
        """Per-row results for every distinct `id_col` of `rows`, in lake table `table`: the ones computed
        under the step's key are read back, only the others are computed (all, when the key changed).
        Returns the results and whether any were computed now."""
        valid = self._valid(table)
        done = self.lake.read(table) if valid else None
        seen = set(done.column(id_col).to_pylist()) if valid else set()
        keep = []
        for i in rows.column(id_col).to_pylist():
            keep.append(i not in seen)
            seen.add(i)
        todo = rows.filter(pa.array(keep, pa.bool_()))
        if valid and todo.num_rows == 0:
            return done, False
        new = compute(todo)
        if valid:
            self.lake.write(table, new)
        else:
            self.lake.replace(table, [new])
        self.state.set(self.step.name, self.key)
        return (pa.concat_tables([done, new], promote_options="permissive") if valid else new), True


def run_steps(steps: list[Step], ctx: Context) -> tuple[Funnel, pa.Table]:
    """Run `steps` in order over the live rows; returns the funnel and the drops (DROPS)."""
    funnel = Funnel()
    ctx.sql(_DROPPED)
    for step in steps:
        live, _ = LIVE[step.unit]
        _ensure_live(ctx, step.unit)
        rows_in = ctx.sql(f"SELECT count(*) FROM {live}")[0][0]
        ctx.step, ctx.key = step, step.key(ctx)
        drops = step.run(ctx)
        ctx.step = ctx.key = None
        _record(ctx, step, drops)
        rows_out = ctx.sql(f"SELECT count(*) FROM {live}")[0][0]  # the funnel checks it against the drops
        funnel.add(step.name, f"{step.unit}s", rows_in, Counter(d.reason for d in drops), rows_out=rows_out)
    drops = ctx.con.sql("SELECT unit, id, step, reason, detail FROM dropped ORDER BY seq").to_arrow_table()
    return funnel, drops.cast(DROPS)


_DROPPED = """CREATE TABLE IF NOT EXISTS dropped
              (seq BIGINT, unit VARCHAR, id VARCHAR, step VARCHAR, reason VARCHAR, detail VARCHAR)"""


def _ensure_live(ctx: Context, unit: str) -> None:
    """Every row of the unit is live until a step drops it."""
    if unit == "problem":
        ctx.sql(
            "CREATE TABLE IF NOT EXISTS live_problems AS SELECT row, problem_id FROM problems",
            problems=ctx.problems(),
        )
    else:
        ctx.sql(
            "CREATE TABLE IF NOT EXISTS live_traces AS SELECT row, trace_id, problem_id FROM traces",
            traces=ctx.traces(),
        )


def _record(ctx: Context, step: Step, drops: list[Drop]) -> None:
    """Store the drops and remove their rows. A drop removes one live row with its id, the last one, so
    that of rows sharing an id (exact duplicate problems) the first stays."""
    live, id_col = LIVE[step.unit]
    start = ctx.sql("SELECT count(*) FROM dropped")[0][0]
    gone = pa.table(
        {
            "seq": pa.array(range(start, start + len(drops)), pa.int64()),
            "unit": pa.array([step.unit] * len(drops), pa.string()),
            "id": pa.array([d.id for d in drops], pa.string()),
            "step": pa.array([step.name] * len(drops), pa.string()),
            "reason": pa.array([d.reason for d in drops], pa.string()),
            "detail": pa.array([d.detail for d in drops], pa.string()),
        }
    )
    ctx.sql("INSERT INTO dropped SELECT * FROM gone", gone=gone)
    ctx.sql(
        f"""DELETE FROM {live} WHERE row IN (
              SELECT row FROM (
                SELECT l.row, g.n, row_number() OVER (PARTITION BY l.{id_col} ORDER BY l.row DESC) AS nth
                FROM {live} l JOIN (SELECT id, count(*) AS n FROM gone GROUP BY id) g ON g.id = l.{id_col})
              WHERE nth <= n)"""
    )
