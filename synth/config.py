"""Typed configuration of `synth generate`. The CLI builds it; backends read the fields they need."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from synth.teachers.base import DEFAULT_INSTRUCTION


@dataclass
class GenerateConfig:
    lake: Path = Path("lake")
    teacher: str = "procedural"  # procedural | openai:MODEL | vllm:PATH | hf:PATH
    run: str = "default"
    samples: int = 8
    temperature: float = 0.8
    top_p: float = 0.95
    max_tokens: int = 4096
    seed: int = 0
    limit: int | None = None  # at most this many problems
    shard: tuple[int, int] = (0, 1)  # (index, count): this worker's slice of the problems
    instruction: str = DEFAULT_INSTRUCTION  # appended to the problem in the user message
    system_prompt: str | None = None
    # API teachers
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 16
    requests_per_min: float | None = None
    tokens_per_min: float | None = None
    max_retries: int = 6
    request_timeout_s: float = 600.0
    price_in: float | None = None  # USD per 1M prompt tokens
    price_out: float | None = None  # USD per 1M completion tokens
    budget_usd: float | None = None
    use_n: bool | None = None  # one request with n=samples per problem; None: try it, fall back if ignored
    retry_base_s: float = 1.0  # backoff base: attempt k waits uniform(0, min(retry_max_s, base * 2**k))
    retry_max_s: float = 60.0
    # local engines
    tensor_parallel_size: int = 1
    batch_size: int = 64  # chunk of work units submitted to a local engine at once
    dtype: str = "auto"  # vLLM engine dtype (CPU builds need float32 or bfloat16)
    max_model_len: int | None = None  # vLLM context length (None: the model's)
    enforce_eager: bool = False  # vLLM: skip CUDA graphs / compilation (CPU, debugging)
    # scale-out
    executor: str = "none"  # none | local | slurm | ray
    tasks: int = 1
    workers: int = -1  # tasks running at once (-1: all of them locally, no limit on Slurm/Ray)
    slurm_partition: str | None = None
    slurm_time: str = "24:00:00"
    cpus_per_task: int = 1
    gpus_per_task: int = 0  # per shard worker (e.g. 8 for a vllm: teacher with --tensor-parallel-size 8)
    progress: bool = True
