"""`curate audit`: a sample of the LLM judge's decisions for a person to check.

Each entry shows the problem, the gold answer, the response's answer (math-verify's extraction, or the end
of the response where it found none) and both verdicts. The sample is a fixed function of --seed (ordered
by a hash of trace_id and seed), so two people auditing with the same seed see the same cases."""

from __future__ import annotations

from pathlib import Path

from lakehouse import existing_lake
from lakehouse.errors import UserError
from lakehouse.sql import connect
from reward.judge import visible_text

_SQL = """
WITH j AS (
  SELECT trace_id, any_value(judge) AS judge, any_value(mv_status) AS mv_status, any_value(mv_pred) AS mv_pred,
         any_value(mv_correct) AS mv_correct, any_value(judge_correct) AS judge_correct
  FROM judgements GROUP BY trace_id
)
SELECT j.trace_id, p.problem, p.answer, j.mv_pred, t.completion, j.mv_status, j.mv_correct, j.judge_correct, j.judge
FROM j JOIN traces t USING (trace_id)
JOIN (SELECT problem_id, any_value(problem) AS problem, any_value(answer) AS answer FROM problems GROUP BY 1) p
  USING (problem_id)
ORDER BY hash(j.trace_id || ?::VARCHAR), j.trace_id
LIMIT ?
"""
CLIP = 400  # characters of the problem and of a response shown


def main(lake_root: Path, n: int, seed: int) -> str:
    if n < 1:
        raise UserError(f"--n must be >= 1, got {n}")
    lake = existing_lake(lake_root)
    total = connect(lake.root).execute("SELECT count(DISTINCT trace_id) FROM judgements").fetchone()[0]
    if not total:
        raise UserError(f"no judge decisions in {lake.root} (run `curate verify --judge openai:MODEL` first)")
    rows = connect(lake.root).execute(_SQL, [seed, n]).fetchall()
    blocks = [_block(i, row) for i, row in enumerate(rows, 1)]
    overturned = sum(r[6] != r[7] for r in rows)
    tail = f"{len(rows)} of {total} judge decisions shown (seed {seed}); {overturned} overturned math-verify"
    return "\n\n".join([*blocks, tail])


def _block(i: int, row: tuple) -> str:
    trace, problem, gold, pred, completion, mv_status, mv_correct, judge_correct, judge = row
    answer = pred if pred is not None else "(none found) …" + _clip(visible_text(completion or ""))[-200:]
    mark = "OVERTURNED" if mv_correct != judge_correct else "upheld"
    return "\n".join(
        [
            f"[{i}] {trace}  {mark}",
            f"  problem: {_clip(problem)}",
            f"  gold:    {gold}",
            f"  answer:  {answer}",
            f"  math-verify: {_word(mv_correct)} ({mv_status})   {judge}: {_word(judge_correct)}",
        ]
    )


def _word(correct: bool) -> str:
    return "correct" if correct else "incorrect"


def _clip(text: str) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= CLIP else text[: CLIP - 1] + "…"
