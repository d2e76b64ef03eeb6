"""curate's SQL views of the lake, registered with the lake's SQL session on import: whoever opens a
session for curate's data (`curate sql`, the dataset cards) imports this module first."""

from __future__ import annotations

from lakehouse.sql import register_view

# Teacher pass rate per problem (bands: `curate verify`). One verdict per trace counts (a trace
# verified twice counts once); n counts every verified sample, truncated and unanswered ones included
# (they are the teacher's failures), n_failed the verifier's own timeouts/errors among them. The band
# thresholds come from the `difficulty_bands` table that `curate verify` writes (defaults 0.25 / 0.5):
# unsolved p = 0, hard p < hard_below, medium p < medium_below, easy p < 1, trivial p = 1.
PROBLEM_STATS = """
SELECT s.problem_id, s.n, s.n_correct, s.n_failed, s.pass_rate, s.mean_completion_tokens,
       CASE WHEN s.n_correct = 0 THEN 'unsolved'
            WHEN s.n_correct = s.n THEN 'trivial'
            WHEN s.pass_rate < b.hard_below THEN 'hard'
            WHEN s.pass_rate < b.medium_below THEN 'medium'
            ELSE 'easy' END AS band
FROM (
  SELECT v.problem_id, count(*) AS n, count(*) FILTER (WHERE v.correct) AS n_correct,
         count(*) FILTER (WHERE v.status IN ('timeout', 'error')) AS n_failed,
         avg(CAST(v.correct AS DOUBLE)) AS pass_rate,
         avg(t.completion_tokens) AS mean_completion_tokens
  FROM (SELECT trace_id, any_value(problem_id) AS problem_id, bool_or(correct) AS correct,
               any_value(status) AS status
        FROM verdicts GROUP BY trace_id) v
  LEFT JOIN traces t USING (trace_id)
  GROUP BY v.problem_id
) s
CROSS JOIN (SELECT any_value(hard_below) AS hard_below, any_value(medium_below) AS medium_below
            FROM difficulty_bands) b
"""

register_view("problem_stats", PROBLEM_STATS)
