"""Adding a step to `curate run` is one class and one list entry: a step defined here, appended to a
copy of pipeline.STEPS, runs after the others, keeps its per-row results in the lake under its key
(a rerun computes only new rows), and shows in the funnel and the drops with its reasons.

The lake: one problem, four correct traces whose completions have 3, 3, 5 and 8 words; then two more
with 3 words each."""

from __future__ import annotations

import pyarrow as pa
from curate_lake import benchmark_file, config, problem_row, trace_row, verdict_row, write

from curate import pipeline
from curate.state import State, cache_key
from curate.step import Context, Drop
from lakehouse.store import Lake

COMPUTED: list[str] = []  # trace ids the step computed a word count for, in order
WORDS = pa.schema([("trace_id", pa.string()), ("words", pa.int64())])


class FewWords:
    """A trace whose completion has fewer than `least` words."""

    name, unit = "few_words", "trace"

    def __init__(self, least: int):
        self.least = least

    def key(self, ctx: Context) -> str:
        return cache_key("few-words-v1")  # the word counts depend on no setting; `least` is applied below

    def run(self, ctx: Context) -> list[Drop]:
        counts, _ = ctx.cached_rows("trace_words", ctx.traces(), "trace_id", self._count)
        rows = ctx.sql(
            f"""SELECT l.trace_id, w.words FROM live_traces l JOIN trace_words w USING (trace_id)
                WHERE w.words < {self.least} ORDER BY l.trace_id""",
            trace_words=counts,
        )
        return [Drop(tid, "few_words", f"{n} words") for tid, n in rows]

    @staticmethod
    def _count(todo: pa.Table) -> pa.Table:
        ids = todo.column("trace_id").to_pylist()
        COMPUTED.extend(ids)
        words = [len(c.split()) for c in todo.column("completion").to_pylist()]
        return pa.table({"trace_id": ids, "words": words}, schema=WORDS)


COMPLETIONS = [
    "\\boxed{4} is it",
    "so \\boxed{4} then",
    *(f"the answer is \\boxed{{4}}{' ok' * k}" for k in (1, 4)),
]


def traces(pid: str, samples: range) -> tuple[list[dict], list[dict]]:
    rows = [trace_row(pid, s, f"2+2, sample {s}", COMPLETIONS[s % 4], 10) for s in samples]
    return rows, [verdict_row(t, True) for t in rows]


def test_a_step_appended_to_the_list_runs_is_cached_and_counted(tmp_path):
    root = tmp_path / "lake"
    lake = Lake(root)
    problem = problem_row("What is 2 + 2?", "4")
    first, verdicts = traces(problem["problem_id"], range(4))
    write(lake, [problem], first, verdicts)
    cfg = config(root, [benchmark_file(tmp_path, "b", ["An unrelated benchmark question about primes."])])
    steps = [*pipeline.STEPS, FewWords(least=5)]
    COMPUTED.clear()

    pipeline.main(cfg, steps)

    funnel = [r for r in lake.read("funnel").to_pylist() if r["step"] in ("filters", "few_words", "view:mid")]
    assert funnel == [
        {"step": "filters", "unit": "traces", "rows_in": 4, "rows_out": 4, "reason": None, "count": 0},
        {
            "step": "few_words",
            "unit": "traces",
            "rows_in": 4,
            "rows_out": 2,
            "reason": "few_words",
            "count": 2,
        },
        {"step": "view:mid", "unit": "traces", "rows_in": 2, "rows_out": 2, "reason": None, "count": 0},
    ]
    drops = [r for r in lake.read("drops").to_pylist() if r["step"] == "few_words"]
    assert drops == [
        {
            "unit": "trace",
            "id": t["trace_id"],
            "step": "few_words",
            "reason": "few_words",
            "detail": "3 words",
        }
        for t in sorted(first[:2], key=lambda t: t["trace_id"])
    ]
    assert sorted(r["trace_id"] for r in lake.read("views/mid").to_pylist()) == sorted(
        t["trace_id"] for t in first[2:]
    )
    assert sorted(COMPUTED) == sorted(t["trace_id"] for t in first)
    assert State(lake).get("few_words") == cache_key("few-words-v1")

    more, more_verdicts = traces(problem["problem_id"], range(4, 6))
    write(lake, [], more, more_verdicts)
    COMPUTED.clear()
    pipeline.main(cfg, steps)

    assert COMPUTED == [t["trace_id"] for t in more]  # only the new traces are counted
    assert lake.rows("trace_words") == 6
    (row,) = [r for r in lake.read("funnel").to_pylist() if r["step"] == "few_words"]
    assert (row["rows_in"], row["rows_out"], row["reason"], row["count"]) == (6, 2, "few_words", 4)
