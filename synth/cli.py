"""`synth`: build problem sets and distil teacher rollouts into the lake."""

from __future__ import annotations

from pathlib import Path

import typer

from lakehouse.cli import user_errors
from lakehouse.errors import UserError

app = typer.Typer(
    help="Build problem sets and distil teacher rollouts into the lake.\n\n"
    "Example:  synth problems --source builtin:arith --n 1000 && synth generate --teacher procedural --samples 4",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

LakeOpt = typer.Option(Path("lake"), "--lake", help="Lake directory.")


def parse_shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise UserError(f"--shard {text!r}: expected I/N, e.g. 0/4") from None
    return i, n


def parse_levels(text: str) -> tuple[int, ...]:
    try:
        levels = tuple(sorted({int(x) for x in text.split(",") if x.strip()}))
    except ValueError:
        raise UserError(f"--levels {text!r}: expected comma-separated integers 1-5, e.g. 1,2,3") from None
    if not levels or not all(1 <= x <= 5 for x in levels):
        raise UserError(f"--levels {text!r}: levels are 1-5")
    return levels


@app.command()
@user_errors
def problems(
    source: str = typer.Option(
        ..., "--source", help="builtin:arith | builtin:FAMILY | FILE.jsonl | FILE.parquet | hf:NAME[:SPLIT]"
    ),
    n: int | None = typer.Option(
        None, "--n", help="Number of problems (builtin: required; files: at most N)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the builtin generator."),
    problem_field: str | None = typer.Option(None, "--problem-field", help="Field holding the problem text."),
    answer_field: str | None = typer.Option(None, "--answer-field", help="Field holding the gold answer."),
    exclude: list[Path] = typer.Option(
        [],
        "--exclude",
        help="Lake dirs or .jsonl/.parquet files whose problems are skipped (disjoint held-out sets).",
    ),
    levels: str | None = typer.Option(
        None, "--levels", help="Builtin levels to generate, e.g. 1,2,3 (default: 1-5)."
    ),
    lake: Path = LakeOpt,
) -> None:
    """Import or generate problems into LAKE/problems.

    Example:  synth problems --source builtin:arith --n 1000 --seed 0
              synth problems --source ../shared/benchmarks/math500.jsonl --lake bench_lake
    """
    from synth.problems import ProblemsConfig, main

    cfg = ProblemsConfig(
        lake=lake,
        source=source,
        n=n,
        seed=seed,
        problem_field=problem_field,
        answer_field=answer_field,
        exclude=list(exclude),
    )
    if levels:
        cfg.levels = parse_levels(levels)
    typer.echo(main(cfg))


@app.command()
@user_errors
def generate(
    teacher: str = typer.Option(
        "procedural", "--teacher", help="procedural | openai:MODEL | vllm:PATH | hf:PATH"
    ),
    samples: int = typer.Option(8, "--samples", help="Rollouts per problem."),
    temperature: float = typer.Option(0.8, "--temperature"),
    top_p: float = typer.Option(0.95, "--top-p"),
    max_tokens: int = typer.Option(4096, "--max-tokens"),
    seed: int = typer.Option(0, "--seed"),
    limit: int | None = typer.Option(None, "--limit", help="At most this many problems (after sharding)."),
    run: str = typer.Option("default", "--run", help="Run name; re-running a run finishes what is missing."),
    shard: str = typer.Option(
        "0/1", "--shard", help="I/N: this worker's deterministic slice of the problems."
    ),
    instruction: str | None = typer.Option(
        None, "--instruction", help="Instruction appended to each problem."
    ),
    system_prompt: str | None = typer.Option(None, "--system-prompt"),
    base_url: str | None = typer.Option(
        None, "--base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1"
    ),
    api_key_env: str = typer.Option("OPENAI_API_KEY", "--api-key-env", help="Env var holding the API key."),
    concurrency: int = typer.Option(16, "--concurrency", help="Requests in flight (API teachers)."),
    requests_per_min: float | None = typer.Option(None, "--rpm", help="Client-side request rate limit."),
    tokens_per_min: float | None = typer.Option(None, "--tpm", help="Client-side token rate limit."),
    max_retries: int = typer.Option(6, "--max-retries"),
    retry_base_s: float = typer.Option(
        1.0, "--retry-base", help="Backoff base seconds (doubles per attempt)."
    ),
    retry_max_s: float = typer.Option(60.0, "--retry-max", help="Longest backoff wait in seconds."),
    use_n: bool | None = typer.Option(
        None, "--use-n/--no-use-n", help="One request with n=samples per problem (default: try, fall back)."
    ),
    request_timeout_s: float = typer.Option(600.0, "--timeout", help="Seconds per API request."),
    price_in: float | None = typer.Option(None, "--price-in", help="USD per 1M prompt tokens."),
    price_out: float | None = typer.Option(None, "--price-out", help="USD per 1M completion tokens."),
    budget_usd: float | None = typer.Option(
        None, "--budget-usd", help="Stop before spending more than this."
    ),
    tensor_parallel_size: int = typer.Option(1, "--tensor-parallel-size"),
    batch_size: int = typer.Option(64, "--batch-size", help="Work units per chunk for local engines."),
    executor: str = typer.Option(
        "none", "--executor", help="none | local | slurm | ray (runs --tasks shards)."
    ),
    tasks: int = typer.Option(1, "--tasks"),
    workers: int = typer.Option(-1, "--workers", help="Tasks running at once (-1: all)."),
    slurm_partition: str | None = typer.Option(None, "--slurm-partition"),
    slurm_time: str = typer.Option("24:00:00", "--slurm-time"),
    cpus_per_task: int = typer.Option(1, "--cpus-per-task"),
    gpus_per_task: int = typer.Option(0, "--gpus-per-task"),
    dtype: str = typer.Option("auto", "--dtype", help="vLLM engine dtype (CPU builds: float32 or bfloat16)."),
    max_model_len: int | None = typer.Option(None, "--max-model-len", help="vLLM context length."),
    enforce_eager: bool = typer.Option(False, "--enforce-eager", help="vLLM: no CUDA graphs / compilation."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    lake: Path = LakeOpt,
) -> None:
    """Distil rollouts from a teacher into LAKE/traces, exactly once per (run, problem, sample).

    Example:  synth generate --teacher procedural --samples 4 --run demo
              synth generate --teacher openai:deepseek-reasoner --base-url https://api.example.com/v1 --budget-usd 20
    """
    from sampling.config import HFConfig, OpenAIConfig, VLLMConfig
    from synth.config import GenerateConfig
    from synth.generate import main

    cfg = GenerateConfig(
        lake=lake, teacher=teacher, run=run, samples=samples, temperature=temperature, top_p=top_p,
        max_tokens=max_tokens, seed=seed, limit=limit, shard=parse_shard(shard), system_prompt=system_prompt,
        openai=OpenAIConfig(
            base_url=base_url, api_key_env=api_key_env, concurrency=concurrency, requests_per_min=requests_per_min,
            tokens_per_min=tokens_per_min, max_retries=max_retries, request_timeout_s=request_timeout_s,
            price_in=price_in, price_out=price_out, budget_usd=budget_usd, retry_base_s=retry_base_s,
            retry_max_s=retry_max_s, use_n=use_n,
        ),
        vllm=VLLMConfig(
            tensor_parallel_size=tensor_parallel_size, batch_size=batch_size, dtype=dtype,
            max_model_len=max_model_len, enforce_eager=enforce_eager,
        ),
        hf=HFConfig(batch_size=batch_size),
        executor=executor, tasks=tasks, workers=workers, slurm_partition=slurm_partition,
        slurm_time=slurm_time, cpus_per_task=cpus_per_task, gpus_per_task=gpus_per_task, progress=progress,
    )  # fmt: skip
    if instruction is not None:
        cfg.instruction = instruction
    if executor != "none":
        from synth.executors import run_sharded

        typer.echo(run_sharded(cfg))
        return
    summary = main(cfg)
    typer.echo(summary.line())
    if summary.stopped == "interrupted":
        raise typer.Exit(130)


@app.command()
@user_errors
def status(lake: Path = LakeOpt) -> None:
    """Per run: done/total samples, tokens, cost, failed units.

    Example:  synth status --lake lake
    """
    from synth.status import main

    typer.echo(main(lake))


if __name__ == "__main__":
    app()
