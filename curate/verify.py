"""`curate verify`: a verdict for every trace that has none yet (incremental), and the difficulty bands.

Traces are streamed from DuckDB in batches, checked on the verification pool (reward.verify) against
their problem's gold answer, and each batch becomes one `verdicts` shard (Lake.write: atomic). A trace
with a verdict is never checked again; an interrupted run loses at most the batch in flight, and the
verdict cache (LAKE/verify_cache) makes even that nearly free to redo.

Difficulty bands of a problem by the teacher's pass rate p (the `problem_stats` view), defaults:
  unsolved  p = 0
  hard      0 < p < 0.25
  medium    0.25 <= p < 0.5   (the paper keeps RL prompts solved at most half the time)
  easy      0.5 <= p < 1
  trivial   p = 1
The two inner thresholds are settings (`--hard-below`, `--medium-below`), stored in the lake table
`difficulty_bands` so that every reader of `problem_stats` sees the same bands.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from curate.verify_config import VerifyConfig
from lakehouse import Lake, existing_lake
from lakehouse.errors import UserError
from lakehouse.sql import connect
from reward.extract import EXTRACTION_MODES
from reward.judge import Case, Judge, JudgeConfig, needs_judge
from reward.verify import Verifier
from sampling.prompts import assistant_text

BANDS_TABLE = "difficulty_bands"
CACHE_DIR = "verify_cache"
JUDGE_CACHE_DIR = "judge_cache"
JUDGEMENTS_TABLE = "judgements"
BAND_NAMES = ("unsolved", "hard", "medium", "easy", "trivial")
NEEDS_TRACES = "run `synth problems` and `synth generate` first, or pass --lake"  # hint when no lake

_PENDING_SQL = """
SELECT t.trace_id, t.problem_id, t.reasoning, t.completion, t.finish_reason, p.answer, p.problem
FROM traces t
JOIN (SELECT problem_id, any_value(answer) AS answer, any_value(problem) AS problem FROM problems GROUP BY problem_id) p
  USING (problem_id)
ANTI JOIN verdicts v USING (trace_id)
WHERE p.answer IS NOT NULL
ORDER BY t.trace_id
"""
_NO_GOLD_SQL = """
SELECT count(*) FROM traces t
LEFT JOIN (SELECT problem_id, any_value(answer) AS answer FROM problems GROUP BY problem_id) p USING (problem_id)
ANTI JOIN verdicts v USING (trace_id)
WHERE p.answer IS NULL
"""


@dataclass
class VerifySummary:
    verified: int = 0
    correct: int = 0
    already: int = 0
    no_gold: int = 0
    seconds: float = 0.0
    statuses: Counter | None = None
    judged: int = 0  # verdicts the judge decided
    overturned: int = 0  # ... of which differ from math-verify's
    judge_failed: int = 0  # asked, but no decision (error, timeout, no verdict in the reply, budget)

    def line(self) -> str:
        statuses = ", ".join(f"{k} {v}" for k, v in sorted((self.statuses or {}).items()))
        rate = f", pass rate {self.correct / self.verified:.3f}" if self.verified else ""
        skipped = f", {self.no_gold} without a gold answer (skipped)" if self.no_gold else ""
        judge = (
            f"; judge: {self.judged} decided ({self.overturned} overturned math-verify), "
            f"{self.judge_failed} left to math-verify"
            if self.judged or self.judge_failed
            else ""
        )
        return (
            f"curate verify: {self.verified} traces verified ({statuses or 'none new'}){rate}, "
            f"{self.already} already had a verdict{skipped}{judge}; {self.seconds:.1f}s"
        )


def main(cfg: VerifyConfig) -> VerifySummary:
    """Verify the traces without a verdict, write `verdicts` shards and the band thresholds."""
    start = time.monotonic()
    _check(cfg)
    lake = _open(cfg.lake)
    write_bands(lake, cfg.hard_below, cfg.medium_below)
    summary = VerifySummary(statuses=Counter())
    con = connect(lake.root)
    summary.already = _scalar(con, "SELECT count(DISTINCT trace_id) FROM verdicts")
    summary.no_gold = _scalar(con, _NO_GOLD_SQL)
    pending = _scalar(con, f"SELECT count(*) FROM ({_PENDING_SQL})")
    if pending:
        reader = con.sql(_PENDING_SQL).to_arrow_reader(cfg.batch)
        judge = make_judge(cfg.judge, lake.root / JUDGE_CACHE_DIR) if cfg.judge.judge else None
        with Verifier(
            cfg.workers, cfg.timeout_s, cfg.memory_mb, lake.root / CACHE_DIR, extraction=cfg.extraction
        ) as verifier:
            with _Progress(cfg.progress, pending) as advance:
                for batch in reader:
                    _verify_batch(lake, verifier, judge, batch.to_pylist(), summary, advance)
    summary.seconds = time.monotonic() - start
    print(summary.line())
    return summary


def write_bands(lake: Lake, hard_below: float, medium_below: float) -> None:
    """Store the thresholds `problem_stats` reads (replaced only when they change)."""
    if lake.has(BANDS_TABLE):
        current = lake.read(BANDS_TABLE).to_pylist()
        if current == [{"hard_below": hard_below, "medium_below": medium_below}]:
            return
    lake.replace(BANDS_TABLE, [pa.table({"hard_below": [hard_below], "medium_below": [medium_below]})])


def _verify_batch(
    lake: Lake, verifier: Verifier, judge: Judge | None, rows: list[dict], summary: VerifySummary, advance
) -> None:
    items = ((r["answer"], _response(r), r["finish_reason"]) for r in rows)
    mv_name = f"{verifier.name}/{verifier.extraction}"
    out = {"trace_id": [], "problem_id": [], "pred": [], "correct": [], "status": [], "elapsed_ms": []}
    for row, verdict in zip(rows, verifier.check_many(items), strict=True):
        out["trace_id"].append(row["trace_id"])
        out["problem_id"].append(row["problem_id"])
        out["pred"].append(verdict.pred)
        out["correct"].append(verdict.correct)
        out["status"].append(verdict.status)
        out["elapsed_ms"].append(verdict.elapsed_ms)
        advance()
    out["verifier"] = [mv_name] * len(rows)
    if judge is not None:
        _apply_judge(lake, judge, rows, out, mv_name, summary)
    for status, correct in zip(out["status"], out["correct"], strict=True):
        summary.statuses[status] += 1
        summary.correct += correct
    lake.write("verdicts", pa.table(out))  # conformed to the VERDICTS schema by the lake
    verifier.cache.flush()  # after the shard: a killed run redoes at most one batch, from the cache
    summary.verified += len(rows)


def _apply_judge(lake: Lake, judge: Judge, rows: list[dict], out: dict, mv_name: str, summary) -> None:
    """Ask the judge where math-verify could not decide; its decisions replace those verdicts in `out`
    and are recorded beside math-verify's in `judgements` (written first: a crash before the verdicts
    shard re-asks nothing, the judge's cache has the answers, and readers take one row per trace)."""
    ask = [i for i in range(len(rows)) if needs_judge(out["status"][i], out["correct"][i], out["pred"][i])]
    if not ask:
        return
    cases = [
        Case(rows[i]["problem"] or "", rows[i]["answer"], _response(rows[i]), out["status"][i],
             out["correct"][i], out["pred"][i])
        for i in ask
    ]  # fmt: skip
    decisions = judge.decide(cases)
    judged = {"trace_id": [], "problem_id": [], "mv_status": [], "mv_pred": [], "mv_correct": []}
    judged["judge_correct"] = []
    for i, decision in zip(ask, decisions, strict=True):
        if decision is None:
            summary.judge_failed += 1
            continue
        for column in ("trace_id", "problem_id"):
            judged[column].append(out[column][i])
        judged["mv_status"].append(out["status"][i])
        judged["mv_pred"].append(out["pred"][i])
        judged["mv_correct"].append(out["correct"][i])
        judged["judge_correct"].append(decision)
        summary.judged += 1
        summary.overturned += decision != out["correct"][i]
        out["correct"][i], out["status"][i], out["verifier"][i] = decision, "ok", judge.name
    n = len(judged["trace_id"])
    if n:
        now = pa.array([time.time_ns() // 1000] * n, pa.timestamp("us", tz="UTC"))
        table = pa.table(
            {**judged, "judge": [judge.name] * n, "mv_verifier": [mv_name] * n, "created_at": now}
        )
        lake.write(JUDGEMENTS_TABLE, table)
    judge.cache.flush()


def make_judge(cfg: JudgeConfig, cache_path: Path | None) -> Judge:
    """The judge with the sampling layer's key rule, prices and budget (reward sits below sampling)."""
    from sampling.config import OpenAIConfig
    from sampling.openai_api import read_api_key
    from sampling.pricing import Budget, resolve_prices

    model = (cfg.judge or "").partition(":")[2]
    key = read_api_key(OpenAIConfig(base_url=cfg.base_url, api_key_env=cfg.api_key_env))
    prices = resolve_prices(model, cfg.price_in, cfg.price_out, cfg.budget_usd)
    return Judge(cfg, key, prices, Budget(cfg.budget_usd), cache_path)


def _scalar(con, sql: str):
    return con.execute(sql).fetchall()[0][0]  # fetchall: DuckDB 2 keeps a partly fetched result open


def _response(row: dict) -> str:
    """The text the answer is read from: the canonical assistant turn the views train on (one rule,
    sampling.prompts), so the text verified is the text trained on."""
    return assistant_text(row["reasoning"], row["completion"])


def _check(cfg: VerifyConfig) -> None:
    if not 0 < cfg.hard_below <= cfg.medium_below < 1:
        raise UserError(
            f"band thresholds must satisfy 0 < hard_below <= medium_below < 1, got {cfg.hard_below} and {cfg.medium_below}"
        )
    for bad, message in (
        (cfg.timeout_s <= 0, f"--timeout must be > 0, got {cfg.timeout_s:g}"),
        (cfg.memory_mb < 128, f"--memory-mb must be >= 128, got {cfg.memory_mb}"),
        (cfg.batch < 1, f"--batch must be >= 1, got {cfg.batch}"),
        (cfg.workers is not None and cfg.workers < 1, f"--workers must be >= 1, got {cfg.workers}"),
    ):
        if bad:  # name the one that failed, not every condition
            raise UserError(message)
    if cfg.extraction not in EXTRACTION_MODES:
        raise UserError(f"--extraction must be one of {', '.join(EXTRACTION_MODES)}, got {cfg.extraction!r}")


def _open(root: Path) -> Lake:
    lake = existing_lake(root, hint=NEEDS_TRACES)
    if not lake.has("traces"):
        raise UserError(f"lake {root} has no traces (run `synth generate` first)")
    return lake


class _Progress:
    """A rich progress bar over traces (or nothing); `advance()` moves it by one."""

    def __init__(self, enabled: bool, total: int) -> None:
        self._enabled, self._total, self._bar = enabled, total, None

    def __enter__(self):
        if not self._enabled:
            return lambda: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(
            TextColumn("verify"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True
        )
        self._bar.start()
        task = self._bar.add_task("verify", total=self._total)
        return lambda: self._bar.advance(task)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
