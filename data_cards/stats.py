"""Everything a dataset card says about the data, gathered from the lake with SQL.

Optional inputs (problem stats, the funnel, the decontamination report, a view's `.view.json`) may be
missing: the matching field is then None and the card prints a "not run" line instead of failing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import duckdb

from lakehouse.errors import UserError
from lakehouse.sql import connect
from lakehouse.store import Lake

VIEWS = ("mid", "sft", "dpo", "rl")
VIEW_FILE = ".view.json"  # hidden, like the manifest, so `datasets` reads only the shards


@dataclass
class LengthSeries:
    """Completion lengths of one view (dpo has two series: chosen and rejected)."""

    label: str
    unit: str  # "tokens" (teacher-reported) or "characters" when the teacher reported none
    values: list[int]


@dataclass
class ViewStats:
    name: str
    rows: int
    problems: int
    files: list[Path]
    columns: list[tuple[str, str]]  # (name, DuckDB type)
    lengths: list[LengthSeries]
    provenance: dict | None  # the view's .view.json, None when absent
    prompt_pass_rates: list[float] | None = None  # views with a pass_rate column (rl): one per row
    example: dict | None = None  # the view's first row, for the card's "example row"


@dataclass
class FunnelRow:
    step: str
    unit: str  # what the step counts: traces or problems ("rows" when the funnel does not say)
    rows_in: int
    rows_out: int
    reason: str | None  # None: the step dropped nothing
    count: int


@dataclass
class DecontamRow:
    benchmark: str
    items: int  # benchmark items checked
    matched: int  # training problems that overlap with this benchmark
    examples: list  # example pairs as the report stores them
    n_gram: int | None  # overlap unit in words, when the report says


@dataclass
class RunStats:
    run: str
    teacher: str
    traces: int
    problems: int
    samples: int  # samples per problem (max sample_idx + 1)
    temperature: str
    top_p: str
    max_tokens: str
    seed: str
    first: str
    last: str
    cost_usd: float


@dataclass
class CardStats:
    views: list[ViewStats]
    runs: list[RunStats]
    problems: int
    sources: list[tuple[str, int]]
    verifiers: list[tuple[str, str, int, int]]  # (verifier, status, traces, verified correct)
    pass_rates: list[float] | None  # one per problem, None when nothing was verified
    bands: list[tuple[str, int, float]] | None  # (band, problems, mean pass rate)
    band_thresholds: tuple[float, float] | None  # (hard_below, medium_below) from `curate verify`
    levels: list[tuple[int | None, int, float]] | None  # (level or None: no level, problems, pass rate)
    funnel: list[FunnelRow] | None
    decontam: list[DecontamRow] | None
    package_version: str
    # near-duplicates merged by curate's dedup: (count, up to 3 (problem, kept problem) pairs); None: not run
    near_dups: tuple[int, list[tuple[str, str]]] | None = None
    generated_at: str = field(
        default_factory=lambda: datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    )
    judges: list[tuple[str, int, int]] | None = None  # (judge, verdicts it decided, overturned math-verify)


def collect(root: Path, views: list[str]) -> CardStats:
    """Read the statistics of `views` (names like "sft") from the lake at `root`."""
    lake = Lake(root, create=False)
    con = connect(root)
    missing = [v for v in views if not lake.has(f"views/{v}")]
    if missing:
        raise UserError(f"view {missing[0]!r} does not exist in {root} (run `curate views` first)")
    return CardStats(
        views=[_view_stats(con, lake, v) for v in views],
        runs=_runs(con),
        problems=_scalar(con, "SELECT count(*) FROM problems"),
        sources=con.execute("SELECT source, count(*) FROM problems GROUP BY 1 ORDER BY 2 DESC").fetchall(),
        verifiers=con.execute(
            "SELECT verifier, status, count(*), count(*) FILTER (WHERE correct) FROM verdicts "
            "GROUP BY 1, 2 ORDER BY 1, 3 DESC"
        ).fetchall(),
        pass_rates=_pass_rates(con),
        bands=_bands(con),
        band_thresholds=_band_thresholds(con),
        levels=_levels(con),
        funnel=_funnel(con),
        decontam=_decontam(con),
        package_version=_package_version(),
        near_dups=_near_dups(con),
        judges=judge_rows(con),
    )


# one row per trace (a crash between the judgements and verdicts shards can repeat a trace's judgement)
_JUDGES_SQL = """
SELECT judge, count(*), count(*) FILTER (WHERE judge_correct <> mv_correct)
FROM (SELECT trace_id, any_value(judge) AS judge, any_value(mv_correct) AS mv_correct,
             any_value(judge_correct) AS judge_correct FROM judgements GROUP BY trace_id)
GROUP BY 1 ORDER BY 1
"""


def judge_rows(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int, int]] | None:
    """(judge, verdicts it decided, of which it overturned math-verify) per LLM judge; None: no judge ran."""
    rows = _optional(con, "judgements", _JUDGES_SQL)
    return rows or None


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(con.execute(sql).fetchone()[0] or 0)


def _has(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    sql = "SELECT count(*) FROM information_schema.tables WHERE table_name = ?"
    return con.execute(sql, [name]).fetchone()[0] > 0


def _optional(con: duckdb.DuckDBPyConnection, name: str, sql: str) -> list[tuple] | None:
    """Rows of an optional table, or None when that step has not run (table absent)."""
    if not _has(con, name):
        return None
    return con.execute(sql).fetchall()


def _package_version() -> str:
    try:
        return version("minireason")
    except PackageNotFoundError:
        return "unknown"


def _view_stats(con: duckdb.DuckDBPyConnection, lake: Lake, name: str) -> ViewStats:
    columns = [(r[0], r[1]) for r in con.execute(f'DESCRIBE "{name}"').fetchall()]
    provenance_path = lake.path(f"views/{name}") / VIEW_FILE
    return ViewStats(
        name=name,
        rows=_scalar(con, f'SELECT count(*) FROM "{name}"'),
        problems=_scalar(con, f'SELECT count(DISTINCT problem_id) FROM "{name}"'),
        files=lake.files(f"views/{name}"),
        columns=columns,
        lengths=_lengths(con, name, {c for c, _ in columns}),
        provenance=json.loads(provenance_path.read_text()) if provenance_path.exists() else None,
        prompt_pass_rates=_column(con, name, "pass_rate") if "pass_rate" in {c for c, _ in columns} else None,
        example=_first_row(con, name),
    )


def _first_row(con: duckdb.DuckDBPyConnection, view: str) -> dict | None:
    cursor = con.execute(f'SELECT * FROM "{view}" LIMIT 1')
    row = cursor.fetchone()
    return dict(zip([d[0] for d in cursor.description], row, strict=True)) if row else None


def _column(con: duckdb.DuckDBPyConnection, view: str, column: str) -> list[float]:
    return [
        float(r[0]) for r in con.execute(f'SELECT "{column}" FROM "{view}"').fetchall() if r[0] is not None
    ]


def _lengths(con: duckdb.DuckDBPyConnection, view: str, columns: set[str]) -> list[LengthSeries]:
    """Completion lengths through the rows' lineage (trace ids) into the traces table."""
    links = {"trace_id": view}
    if "chosen_trace_id" in columns:
        links = {"chosen_trace_id": f"{view} chosen", "rejected_trace_id": f"{view} rejected"}
    series = []
    for column, label in links.items():
        if column not in columns:
            continue
        rows = con.execute(
            f'SELECT t.completion_tokens, length(t.completion) FROM "{view}" v '
            f"JOIN traces t ON t.trace_id = v.{column}"
        ).fetchall()
        if not rows:
            continue
        if all(tokens is not None for tokens, _ in rows):
            series.append(LengthSeries(label, "tokens", [int(t) for t, _ in rows]))
        else:  # a teacher that reported no token counts: fall back to characters, and say so
            series.append(LengthSeries(label, "characters", [int(c or 0) for _, c in rows]))
    return series


def _values(column: str) -> str:
    """SQL: the distinct values of a sampling parameter in a run, or how many there are when many
    (seeds are usually derived per sample)."""
    return (
        f"CASE WHEN count(DISTINCT {column}) <= 3 "
        f"THEN string_agg(DISTINCT CAST({column} AS VARCHAR), ', ' ORDER BY CAST({column} AS VARCHAR)) "
        f"ELSE format('{{:,}} distinct values', count(DISTINCT {column})) END"
    )


def _runs(con: duckdb.DuckDBPyConnection) -> list[RunStats]:
    params = ", ".join(_values(c) for c in ("temperature", "top_p", "max_tokens", "seed"))
    rows = con.execute(
        f"""
        SELECT run, teacher, count(*), count(DISTINCT problem_id), max(sample_idx) + 1, {params},
               strftime(min(created_at), '%Y-%m-%d %H:%M'), strftime(max(created_at), '%Y-%m-%d %H:%M'),
               coalesce(sum(cost_usd), 0)
        FROM traces GROUP BY run, teacher ORDER BY min(created_at), run
        """
    ).fetchall()
    return [RunStats(*(r[:4]), int(r[4]), *(v or "-" for v in r[5:11]), float(r[11])) for r in rows]


def _pass_rates(con: duckdb.DuckDBPyConnection) -> list[float] | None:
    if _has(con, "problem_stats"):
        rates = [r[0] for r in con.execute("SELECT pass_rate FROM problem_stats").fetchall()]
    else:  # verification ran but the stats view is not defined: the same number straight from verdicts
        rates = [
            r[0]
            for r in con.execute(
                "SELECT avg(CAST(correct AS DOUBLE)) FROM verdicts GROUP BY problem_id"
            ).fetchall()
        ]
    rates = [float(r) for r in rates if r is not None]
    return rates or None


def _bands(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int, float]] | None:
    rows = _optional(
        con,
        "problem_stats",
        "SELECT band, count(*), avg(pass_rate) FROM problem_stats GROUP BY band ORDER BY avg(pass_rate)",
    )
    return [(str(b), int(n), float(p)) for b, n, p in rows] if rows else None


def _band_thresholds(con: duckdb.DuckDBPyConnection) -> tuple[float, float] | None:
    rows = _optional(con, "difficulty_bands", "SELECT hard_below, medium_below FROM difficulty_bands")
    return (float(rows[0][0]), float(rows[0][1])) if rows else None


def _levels(con: duckdb.DuckDBPyConnection) -> list[tuple[int | None, int, float]] | None:
    """Pass rate per level; problems without a level are a row of their own (None), never left out.
    None when no problem has a level (the table would say nothing)."""
    rows = con.execute(
        """
        SELECT p.level, count(DISTINCT v.problem_id), avg(CAST(v.correct AS DOUBLE))
        FROM verdicts v JOIN problems p USING (problem_id)
        GROUP BY p.level ORDER BY p.level NULLS LAST
        """
    ).fetchall()
    if all(lv is None for lv, _, _ in rows):
        return None
    return [(None if lv is None else int(lv), int(n), float(p)) for lv, n, p in rows]


def _funnel(con: duckdb.DuckDBPyConnection) -> list[FunnelRow] | None:
    if not _has(con, "funnel"):
        return None
    columns = {r[0] for r in con.execute("DESCRIBE funnel").fetchall()}
    unit = "unit" if "unit" in columns else "'rows'"
    rows = con.execute(f"SELECT step, {unit}, rows_in, rows_out, reason, count FROM funnel").fetchall()
    return [FunnelRow(s, u or "rows", int(i), int(o), r, int(c or 0)) for s, u, i, o, r, c in rows]


def _near_dups(con: duckdb.DuckDBPyConnection) -> tuple[int, list[tuple[str, str]]] | None:
    """How many problems dedup merged into a near-duplicate, with example pairs (both texts)."""
    if not _has(con, "dedup"):
        return None
    pairs = con.execute(
        """SELECT p.problem, k.problem FROM dedup d JOIN problems p USING (problem_id)
           JOIN problems k ON k.problem_id = d.kept_id ORDER BY d.problem_id LIMIT 3"""
    ).fetchall()
    return _scalar(con, "SELECT count(*) FROM dedup"), [(str(a), str(b)) for a, b in pairs]


def _decontam(con: duckdb.DuckDBPyConnection) -> list[DecontamRow] | None:
    if not _has(con, "decontam_report"):
        return None
    columns = {r[0] for r in con.execute("DESCRIBE decontam_report").fetchall()}
    n_gram = "n_gram" if "n_gram" in columns else "NULL"
    rows = con.execute(
        f"SELECT benchmark, items, matched, examples, {n_gram} FROM decontam_report ORDER BY benchmark"
    ).fetchall()
    return [DecontamRow(str(b), int(i), int(m), _examples(e), n) for b, i, m, e, n in rows]


def _examples(raw) -> list:
    """Example pairs are stored as JSON text or as a list; either way, a list comes back."""
    if raw is None:
        return []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            return [raw]
    return list(raw) if isinstance(raw, list | tuple) else [raw]
