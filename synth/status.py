"""`synth status`: one line per run from the lake (traces, failures) and the runs' metadata."""

from __future__ import annotations

import json
from pathlib import Path

from lakehouse import Lake, existing_lake
from lakehouse.sql import connect


def expected_totals(lake: Lake) -> dict[str, int]:
    """Units each run asked for: problems x samples, summed over its shards."""
    totals: dict[str, int] = {}
    for p in sorted((lake.root / "runs").glob("*.json")) if (lake.root / "runs").is_dir() else []:
        info = json.loads(p.read_text())
        totals[info["run"]] = totals.get(info["run"], 0) + info["problems"] * info["samples"]
    return totals


def main(root: Path) -> str:
    lake = existing_lake(root)
    con = connect(root)
    rows = con.execute(
        """
        WITH requests AS (  -- prompt tokens once per request: the samples of an n > 1 request share its seed
               SELECT run, problem_id, seed, max(prompt_tokens) AS pt FROM traces GROUP BY ALL),
             p AS (SELECT run, sum(pt) AS pt FROM requests GROUP BY run),
             t AS (SELECT run, count(*) AS done, sum(completion_tokens) AS ct,
                          sum(cost_usd) AS cost, any_value(teacher) AS teacher FROM traces GROUP BY run),
             e AS (SELECT run, count(DISTINCT trace_id) AS failed FROM trace_errors
                   WHERE trace_id NOT IN (SELECT trace_id FROM traces) GROUP BY run)
        SELECT coalesce(t.run, e.run), coalesce(t.teacher, ''), coalesce(done, 0), coalesce(pt, 0),
               coalesce(ct, 0), coalesce(cost, 0), coalesce(failed, 0)
        FROM t LEFT JOIN p ON p.run = t.run FULL OUTER JOIN e ON t.run = e.run ORDER BY 1
        """
    ).fetchall()
    totals = expected_totals(lake)
    if not rows and not totals:
        return "no runs yet"
    lines = [
        f"{'run':<16} {'teacher':<24} {'done/total':>15} {'prompt tok':>12} {'compl tok':>12} {'cost $':>10} {'failed':>7}"
    ]
    seen = set()
    for run, teacher, done, pt, ct, cost, failed in rows:
        seen.add(run)
        total = totals.get(run, done)
        lines.append(
            f"{run:<16} {teacher:<24} {f'{done}/{total}':>15} {pt:>12,} {ct:>12,} {cost:>10.4f} {failed:>7}"
        )
    for run in sorted(set(totals) - seen):
        lines.append(f"{run:<16} {'':<24} {f'0/{totals[run]}':>15} {0:>12} {0:>12} {0:>10.4f} {0:>7}")
    return "\n".join(lines)
