"""`train eval --merge N`: the one evals row of an evaluation whose N shards (`--shard I/N`, same other
arguments) wrote their responses to LAKE/eval_samples.

The merge recomputes the evaluation's id and each shard's expected (benchmark, problem, sample) set from
the arguments alone, takes one whole write of every shard (eval_shard.complete_write), and fails with one
line naming the shards that are missing before writing anything. The metrics come from the same
functions as an unsharded run's, over the problems in the same order (float sums depend on it), and the
fingerprint is the one the shards recorded: the row is the unsharded run's, created_at and eval_run aside.
No backend starts: a merge can run anywhere the lake and the model's files are.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone

import pyarrow as pa

from lakehouse.errors import UserError
from lakehouse.schema import EVALS
from lakehouse.store import existing_lake
from problemsets.registry import resolve
from train import eval_fingerprint as fp
from train.eval import (
    BenchmarkResult,
    EvalConfig,
    EvalResult,
    _run_rows,
    eval_run,
    evals_row,
    load_benchmark,
    model_identity,
    protocol_for,
    report,
)
from train.eval_shard import complete_write, expected_keys


def merge(cfg: EvalConfig) -> EvalResult:
    n = cfg.merge
    loaded = [(b, protocol_for(cfg, b), load_benchmark(cfg, b)) for b in resolve(cfg.benchmark)]
    lake = existing_lake(cfg.lake, hint=f"run the shards first: train eval --shard I/{n}")
    run = eval_run(cfg, loaded, model_identity(cfg), n)
    earlier = lake.read("evals").to_pylist() if lake.has("evals") else []
    if merged := [e for e in earlier if e.get("eval_run") == run]:
        print(f"eval run {run}: already merged into {cfg.lake}/evals ({len(merged)} row(s)); nothing written")
        return EvalResult(rows=merged, results=[])
    rows = _run_rows(lake, run) if lake.has("eval_samples") else []
    benchmarks = [(b.name, p.k, problems) for b, p, problems in loaded]
    writes, missing = [], []
    for i in range(n):
        expected = expected_keys(benchmarks, (i, n))
        if not expected:  # more shards than problems: this one had nothing to answer
            continue
        write = complete_write(rows, i, expected)
        if write is None:
            missing.append(f"{i}/{n}")
        else:
            writes.extend(write)
    if missing:
        raise UserError(
            f"eval run {run}: {len(missing)} of {n} shards missing from {cfg.lake}/eval_samples "
            f"({', '.join(missing)}); run them with --shard I/{n} and the same arguments, then merge again"
        )
    by_key = {(r["benchmark"], r["problem_id"], r["sample_idx"]): r for r in writes}
    results = [_result(b, protocol, problems, by_key) for b, protocol, problems in loaded]
    created = datetime.now(timezone.utc)
    for r in results:
        r.row = evals_row(cfg, r, created, run)
    out = [r.row for r in results]
    lake.write("evals", pa.Table.from_pylist(out, schema=EVALS))
    print(report(results, earlier, cfg))
    print(f"eval run {run}: merged {len(writes)} responses from {n} shards")
    return EvalResult(rows=out, results=results)


def _result(b, protocol, problems: list[dict], by_key: dict) -> BenchmarkResult:
    """One benchmark's result from its shards' rows, in the unsharded run's problem and sample order."""
    rows = [[by_key[(b.name, p["problem_id"], j)] for j in range(protocol.k)] for p in problems]
    inputs = {r["fingerprint_inputs"] for per in rows for r in per}
    if len(inputs) != 1:  # cannot happen for one eval_run unless the rows were edited by hand
        raise UserError(f"eval run of {b.name}: the shards recorded {len(inputs)} different fingerprints")
    fingerprint = fp.Fingerprint(**json.loads(inputs.pop()))
    return BenchmarkResult(
        benchmark=b,
        protocol=replace(protocol, max_tokens=fingerprint.max_tokens),  # the shards' backend cap
        problems=problems,
        completions={
            (r["problem_id"], r["sample_idx"]): (r["completion"], r["finish_reason"])
            for per in rows
            for r in per
        },
        correct=[[r["correct"] for r in per] for per in rows],
        preds=[[r["pred"] for r in per] for per in rows],
        fingerprint=fingerprint,
    )
