"""`curate run` and the single-step commands: verify -> problem stats -> dedup -> decontam -> filters -> views.

Incremental: verification (curate.verify), decontamination and the filters keep per-row results in the
lake and only look at rows they have not seen under the same settings; near-duplicate detection reruns
only when the problems change; the funnel and the views are recomputed from those results (SQL), and
nothing is rewritten when no input or setting changed since the last run.

Lake tables written here: dedup, decontam, decontam_report, trace_checks, drops, funnel, views/<stage>.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pyarrow as pa
from rich.console import Console

from curate import decontam, filters, views
from curate.config import CurateConfig
from curate.dedup import exact_duplicates, near_duplicates
from curate.funnel import Funnel, render
from lake.errors import UserError
from lake.store import Lake, atomic_write_bytes

STATE_FILE = "_curate_state.json"  # settings/input keys of the cached step results
VIEW_FILE = "_view.json"
STAGES = ("mid", "sft", "dpo", "rl")
PDROPS = pa.schema(
    [("row", pa.int64()), ("problem_id", pa.string()), ("reason", pa.string()), ("kept_id", pa.string())]
)
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
    "reasoning",
    "completion",
    "finish_reason",
    "completion_tokens",
    "created_at",
    "error",
]


# -- commands ------------------------------------------------------------------------------------------
def main(cfg: CurateConfig) -> None:
    """`curate run`."""
    console = Console(stderr=False)
    lake = _open(cfg.lake)
    if cfg.verify:
        _verify(cfg)  # prints its own summary line
    state = _State(lake)
    key = run_key(lake, cfg)
    if state.get("run") == key and lake.has("funnel"):
        console.print(render(lake.read("funnel")))
        print("curate run: nothing new since the last run; views unchanged")
        return
    result = curate(lake, cfg, state)
    write_outputs(lake, cfg, result, key)
    state.set("run", key)
    console.print(render(result.funnel.to_table()))
    print(summary(result))


def dedup_main(cfg: CurateConfig) -> None:
    """`curate dedup`: problem dedup only (exact + near-duplicates), stored as lake table "dedup"."""
    lake = _open(cfg.lake)
    problems = _problems(lake)
    drops = update_dedup(lake, problems, cfg, _State(lake))
    reasons = Counter(drops.column("reason").to_pylist())
    print(
        f"curate dedup: {problems.num_rows:,} problems, {reasons['exact_dup']:,} exact duplicates, "
        f"{reasons['near_dup']:,} near-duplicates dropped"
    )


def decontam_main(cfg: CurateConfig) -> None:
    """`curate decontam`: n-gram overlap with the benchmarks; per-benchmark report in "decontam_report"."""
    lake = _open(cfg.lake)
    problems = _problems(lake)
    matches = update_decontam(lake, problems, cfg, _State(lake))
    report = lake.read("decontam_report")
    for r in report.to_pylist():
        print(f"  {r['benchmark']}: {r['items']:,} items, {r['matched']:,} training problems matched")
    print(
        f"curate decontam: {problems.num_rows:,} problems checked against {report.num_rows} benchmarks "
        f"({cfg.decontam.n_gram}-grams), {_contaminated(matches).num_rows:,} contaminated"
    )


def filter_main(cfg: CurateConfig) -> None:
    """`curate filter`: run the trace filters on traces not checked yet; stored as "trace_checks"."""
    lake = _open(cfg.lake)
    traces = _traces(lake)
    checks = update_filters(lake, traces, cfg, _State(lake))
    reasons = Counter(r for r in checks.column("reason").to_pylist() if r)
    detail = ", ".join(f"{k}={v:,}" for k, v in reasons.most_common()) or "none"
    print(f"curate filter: {checks.num_rows:,} traces checked, failing: {detail}")


def views_main(cfg: CurateConfig) -> None:
    """`curate views`: dedup/decontam/filters as needed (cached), then the four views and the funnel."""
    cfg = dataclasses.replace(cfg, verify=False)
    main(cfg)


# -- steps -----------------------------------------------------------------------------------------------
@dataclass
class Result:
    funnel: Funnel
    drops: pa.Table
    views: dict[str, pa.Table]
    inputs: dict


def curate(lake: Lake, cfg: CurateConfig, state: _State) -> Result:
    problems = _problems(lake)
    traces = _traces(lake)
    verdicts = lake.read("verdicts", columns=["trace_id", "problem_id", "correct", "status"])
    if verdicts.num_rows == 0:
        raise UserError(
            f"{lake.root} has no verdicts: run `curate verify` (or `curate run`) before building views"
        )
    pdrops = update_dedup(lake, problems, cfg, state)
    matches = update_decontam(lake, problems, cfg, state)
    checks = update_filters(lake, traces, cfg, state)
    con = _session(problems, traces, verdicts, pdrops, _contaminated(matches), checks)
    funnel, drops = Funnel(), []
    kept = _problem_steps(con, funnel, drops)
    pool = _trace_steps(con, funnel, drops)
    built = _build_views(con, kept, pool, cfg, funnel)
    return Result(funnel, pa.Table.from_pylist(drops, schema=DROPS), built, _snapshot(lake))


def update_dedup(lake: Lake, problems: pa.Table, cfg: CurateConfig, state: _State) -> pa.Table:
    """PDROPS: exact duplicates (by row) then near-duplicates among the rest; recomputed only when the
    problems or the dedup settings change."""
    key = _key("dedup-v3", lake.manifest("problems")["shards"], dataclasses.asdict(cfg.dedup))
    if state.get("dedup") == key and lake.has("dedup"):
        return lake.read("dedup")
    con = duckdb.connect()
    con.register("p", problems.select(["row", "problem_id", "problem"]))
    exact = exact_duplicates(con, "p", "problem_id")
    rows = [
        {"row": r["row"], "problem_id": r["problem_id"], "reason": "exact_dup", "kept_id": r["kept_id"]}
        for r in exact.to_pylist()
    ]
    if cfg.dedup.near_dup:
        dropped = set(exact.column("row").to_pylist())
        rest = problems.filter(pa.array([r not in dropped for r in problems.column("row").to_pylist()]))
        near = near_duplicates(rest.select(["problem_id", "problem"]), cfg.dedup, lake.root / "_minhash_work")
        row_of = dict(zip(rest.column("problem_id").to_pylist(), rest.column("row").to_pylist(), strict=True))
        rows += [
            {
                "row": row_of[r["problem_id"]],
                "problem_id": r["problem_id"],
                "reason": "near_dup",
                "kept_id": r["kept_id"],
            }
            for r in near.to_pylist()
        ]
    table = pa.Table.from_pylist(rows, schema=PDROPS)
    lake.replace("dedup", [table])
    state.set("dedup", key)
    return table


def update_decontam(lake: Lake, problems: pa.Table, cfg: CurateConfig, state: _State) -> pa.Table:
    """decontam.MATCHES for every problem id checked (benchmark NULL when clean); only ids not checked
    under the same benchmarks and n are looked at."""
    files = cfg.decontam.benchmark_files()
    if not files:
        raise UserError(
            "no benchmark files to decontaminate against (set decontam.benchmarks or --benchmarks)"
        )
    benchmarks = [decontam.load_benchmark(p) for p in files]
    key = decontam.config_key(benchmarks, cfg.decontam)
    fresh = state.get("decontam") != key
    checked = decontam.MATCHES.empty_table() if fresh else lake.read("decontam")
    seen = set(checked.column("problem_id").to_pylist())
    todo = _distinct_problems(problems, exclude=seen)
    if todo.num_rows or fresh:
        index = decontam.BenchmarkIndex(benchmarks, cfg.decontam.n_gram)
        new = _with_clean_rows(todo, decontam.find_contaminated(todo, index, cfg.progress))
        checked = pa.concat_tables([checked, new])
        lake.replace("decontam", [checked]) if fresh else lake.write("decontam", new)
        report = decontam.build_report(_contaminated(checked), problems, benchmarks, cfg.decontam)
        lake.replace("decontam_report", [report])
        state.set("decontam", key)
    return checked


def update_filters(lake: Lake, traces: pa.Table, cfg: CurateConfig, state: _State) -> pa.Table:
    """filters.CHECKS for every trace; only traces not checked under the same settings are looked at."""
    key = _key("filters-v2", dataclasses.asdict(cfg.filters))
    fresh = state.get("filters") != key
    checked = filters.CHECKS.empty_table() if fresh else lake.read("trace_checks")
    seen = set(checked.column("trace_id").to_pylist())
    ids = traces.column("trace_id").to_pylist()
    todo = traces.filter(pa.array([t not in seen for t in ids], pa.bool_()))
    if todo.num_rows or fresh:
        new = filters.check_traces(todo, cfg.filters, cfg.progress)
        checked = pa.concat_tables([checked, new])
        lake.replace("trace_checks", [checked]) if fresh else lake.write("trace_checks", new)
        state.set("filters", key)
    return checked


# -- funnel ----------------------------------------------------------------------------------------------
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


# -- outputs ---------------------------------------------------------------------------------------------
def write_outputs(lake: Lake, cfg: CurateConfig, result: Result, key: str) -> None:
    for stage, table in result.views.items():
        lake.replace(f"views/{stage}", [table])
        record = {
            "view": stage,
            "rows": table.num_rows,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "run_key": key,
            "params": _params(cfg, stage),
            "inputs": result.inputs,
        }
        atomic_write_bytes(
            lake.path(f"views/{stage}") / VIEW_FILE, json.dumps(record, indent=1, default=str).encode()
        )
    lake.replace("drops", [result.drops])
    lake.replace("funnel", [result.funnel.to_table()])


def _params(cfg: CurateConfig, stage: str) -> dict:
    prefix = {"mid": (), "sft": ("sft_",), "dpo": ("dpo_",), "rl": ("rl_",)}[stage]
    view_params = {
        k: v for k, v in dataclasses.asdict(cfg.views).items() if k == "instruction" or k.startswith(prefix)
    }
    return {
        "views": view_params,
        "filters": dataclasses.asdict(cfg.filters),
        "dedup": {
            k: v
            for k, v in dataclasses.asdict(cfg.dedup).items()
            if k not in ("executor", "tasks", "workers")
        },
        "decontam": {
            "n_gram": cfg.decontam.n_gram,
            "benchmarks": [str(p) for p in cfg.decontam.benchmark_files()],
        },
    }


def summary(result: Result) -> str:
    sizes = ", ".join(f"{stage} {t.num_rows:,}" for stage, t in result.views.items())
    return f"curate run: views written ({sizes} rows); funnel stored in table 'funnel'"


# -- inputs and state ------------------------------------------------------------------------------------
def _open(root: Path) -> Lake:
    lake = Lake(root, create=False)
    if not lake.root.is_dir():
        raise UserError(
            f"no lake at {root} (run `synth problems` and `synth generate` first, or pass --lake)"
        )
    return lake


def _problems(lake: Lake) -> pa.Table:
    problems = lake.read("problems", columns=["problem_id", "problem", "answer", "level"])
    if problems.num_rows == 0:
        raise UserError(f"lake {lake.root} has no problems (run `synth problems` first)")
    return problems.append_column("row", pa.array(range(problems.num_rows), pa.int64()))


def _traces(lake: Lake) -> pa.Table:
    traces = lake.read("traces", columns=_TRACE_COLUMNS)
    if traces.num_rows == 0:
        raise UserError(f"lake {lake.root} has no traces (run `synth generate` first)")
    return traces


def _verify(cfg: CurateConfig):
    from curate.verify import VerifyConfig
    from curate.verify import main as verify_main

    return verify_main(VerifyConfig(lake=cfg.lake, progress=cfg.progress))


def _distinct_problems(problems: pa.Table, exclude: set[str]) -> pa.Table:
    seen = set(exclude)
    keep = []
    for pid in problems.column("problem_id").to_pylist():
        keep.append(pid not in seen)
        seen.add(pid)
    return problems.filter(pa.array(keep, pa.bool_())).select(["problem_id", "problem"])


def _with_clean_rows(todo: pa.Table, found: pa.Table) -> pa.Table:
    """Every checked id gets a row (benchmark NULL when clean), so it is not checked again."""
    hit = set(found.column("problem_id").to_pylist())
    clean = [pid for pid in todo.column("problem_id").to_pylist() if pid not in hit]
    clean_rows = pa.table(
        {
            "problem_id": clean,
            "benchmark": pa.nulls(len(clean), pa.string()),
            "item": pa.nulls(len(clean), pa.int64()),
        },
        schema=decontam.MATCHES,
    )
    return pa.concat_tables([found, clean_rows])


def _contaminated(matches: pa.Table) -> pa.Table:
    return matches.filter(matches.column("benchmark").is_valid())


def _snapshot(lake: Lake) -> dict:
    """The inputs a view was built from: per table, rows and the sha256 of every shard."""
    out = {}
    for table in ("problems", "traces", "verdicts"):
        shards = lake.manifest(table)["shards"]
        out[table] = {"rows": sum(s["rows"] for s in shards), "shards": sorted(s["sha256"] for s in shards)}
    return out


def run_key(lake: Lake, cfg: CurateConfig) -> str:
    bench = [
        (str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in cfg.decontam.benchmark_files() if p.exists()
    ]
    settings = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("lake", "verify", "progress")}
    return _key("run-v3", _snapshot(lake), settings, bench)


def _key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


class _State:
    """Keys (settings + inputs) under which each cached step result was computed."""

    def __init__(self, lake: Lake):
        self.path = lake.root / STATE_FILE
        self.data = json.loads(self.path.read_text()) if self.path.exists() else {}

    def get(self, name: str) -> str | None:
        return self.data.get(name)

    def set(self, name: str, value: str) -> None:
        self.data[name] = value
        atomic_write_bytes(self.path, json.dumps(self.data, indent=1, sort_keys=True).encode())
