"""The lake's table schemas: the contract every package relies on (see DESIGN.md)."""

from __future__ import annotations

import pyarrow as pa

PROBLEMS = pa.schema(
    [
        ("problem_id", pa.string()),
        ("source", pa.string()),
        ("problem", pa.string()),
        ("answer", pa.string()),
        ("domain", pa.string()),
        ("level", pa.int32()),
        ("meta", pa.string()),  # JSON object as text
    ]
)

TRACES = pa.schema(
    [
        ("trace_id", pa.string()),
        ("problem_id", pa.string()),
        ("run", pa.string()),
        ("teacher", pa.string()),
        ("sample_idx", pa.int32()),
        ("prompt", pa.string()),  # JSON list of chat messages
        ("reasoning", pa.string()),
        ("completion", pa.string()),
        ("finish_reason", pa.string()),
        ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()),
        ("latency_s", pa.float64()),
        ("cost_usd", pa.float64()),
        ("temperature", pa.float64()),
        ("top_p", pa.float64()),
        ("max_tokens", pa.int64()),
        # the seed the request carried; samples of one n > 1 request share their first sample's seed
        ("seed", pa.int64()),
        ("created_at", pa.timestamp("us", tz="UTC")),
        ("error", pa.string()),
        ("reasoning_tokens", pa.int64()),  # of completion_tokens, reasoning (when the server's usage says)
    ]
)

VERDICT_STATUSES = ("ok", "no_answer", "truncated", "timeout", "error")

VERDICTS = pa.schema(
    [
        ("trace_id", pa.string()),
        ("problem_id", pa.string()),
        ("pred", pa.string()),
        ("correct", pa.bool_()),
        ("status", pa.string()),
        ("verifier", pa.string()),
        ("elapsed_ms", pa.float64()),
    ]
)

# One row per decision of an LLM judge (curate verify --judge): math-verify's verdict beside the judge's,
# for `curate stats`, the dataset card and `curate audit`. The verdicts row carries the one that counts.
JUDGEMENTS = pa.schema(
    [
        ("trace_id", pa.string()),
        ("problem_id", pa.string()),
        ("judge", pa.string()),  # e.g. judge:MODEL/judge-v1 (the prompt's version)
        ("mv_verifier", pa.string()),
        ("mv_status", pa.string()),
        ("mv_pred", pa.string()),
        ("mv_correct", pa.bool_()),
        ("judge_correct", pa.bool_()),
        ("created_at", pa.timestamp("us", tz="UTC")),
    ]
)

EVALS = pa.schema(
    [
        ("model", pa.string()),
        ("stage", pa.string()),
        ("benchmark", pa.string()),
        ("k", pa.int32()),
        ("pass_at_1", pa.float64()),
        ("maj_at_k", pa.float64()),
        ("n", pa.int32()),
        ("created_at", pa.timestamp("us", tz="UTC")),
        ("pass_at_1_se", pa.float64()),  # standard error of pass@1 over problems (NULL for one problem)
        ("pass_at_k", pa.string()),  # JSON {"1": .., "2": .., "4": .., ..., "k": ..}: unbiased pass@k
        ("extraction", pa.string()),  # strict | lenient
        ("fingerprint", pa.string()),  # everything the numbers depend on, hashed (train/eval_fingerprint.py)
        ("protocol", pa.string()),  # the same without the model: equal protocol = comparable rows
        ("fingerprint_inputs", pa.string()),  # JSON of the fingerprint's inputs
        # the evaluation's id (train/eval_shard.py): its eval_samples rows carry it, sharded or not
        ("eval_run", pa.string()),
    ]
)

# One row per sampled response of `train eval`; (model, stage, benchmark, created_at) equal its evals row's
# for an unsharded run, and eval_run equals it for every run (a sharded run's shards each have their own
# created_at), so per-level or per-problem breakdowns and error analysis are plain SQL over the lake.
EVAL_SAMPLES = pa.schema(
    [
        ("model", pa.string()),
        ("stage", pa.string()),
        ("benchmark", pa.string()),
        ("problem_id", pa.string()),
        ("level", pa.int32()),
        ("sample_idx", pa.int32()),
        ("problem", pa.string()),
        ("answer", pa.string()),
        ("completion", pa.string()),
        ("finish_reason", pa.string()),
        ("pred", pa.string()),
        ("correct", pa.bool_()),
        ("created_at", pa.timestamp("us", tz="UTC")),
        ("eval_run", pa.string()),
        ("shard", pa.int32()),  # which of `shards` workers sampled this response (0 of 1: unsharded)
        ("shards", pa.int32()),
        ("fingerprint_inputs", pa.string()),  # the evals row's, so a merge needs no backend
    ]
)

TABLES: dict[str, pa.Schema] = {
    "problems": PROBLEMS,
    "traces": TRACES,
    "verdicts": VERDICTS,
    "judgements": JUDGEMENTS,
    "evals": EVALS,
    "eval_samples": EVAL_SAMPLES,
    # units that failed after the teacher's retries; a resume retries them, `traces` never holds them
    "trace_errors": TRACES,
}
