"""One small typed config per backend. A command composes the ones it offers (synth generate: all
three; train eval: hf and vllm) and its options are generated from these fields (lakehouse/options.py):
`metadata["flag"]` is the option's name, `metadata["help"]` its help, so an error message that names
a flag names one that exists (tests/synth/test_cli_errors.py checks it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lakehouse.options import opt


@dataclass
class OpenAIConfig:
    """`openai:MODEL`: any OpenAI-compatible chat-completions endpoint."""

    base_url: str | None = opt(
        None, "--base-url", "OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1"
    )
    api_key_env: str = opt("OPENAI_API_KEY", "--api-key-env", "Env var holding the API key.")
    concurrency: int = opt(16, "--concurrency", "Requests in flight (API teachers).")
    requests_per_min: float | None = opt(None, "--rpm", "Client-side request rate limit.")
    tokens_per_min: float | None = opt(None, "--tpm", "Client-side token rate limit.")
    max_retries: int = opt(6, "--max-retries", "Retries per request before the unit is recorded as failed.")
    request_timeout_s: float = opt(600.0, "--timeout", "Seconds per API request.")
    price_in: float | None = opt(None, "--price-in", "USD per 1M prompt tokens.")
    price_out: float | None = opt(None, "--price-out", "USD per 1M completion tokens.")
    budget_usd: float | None = opt(None, "--budget-usd", "Stop before spending more than this.")
    # one request with n=samples per problem; None: try it, fall back if the server ignores it
    use_n: bool | None = opt(
        None, "--use-n/--no-use-n", "One request with n=samples per problem (default: try, fall back)."
    )
    # backoff: attempt k waits uniform(0, min(retry_max_s, retry_base_s * 2**k)) unless the server says
    retry_base_s: float = opt(1.0, "--retry-base", "Backoff base seconds (doubles per attempt).")
    retry_max_s: float = opt(60.0, "--retry-max", "Longest backoff wait in seconds.")


@dataclass
class VLLMConfig:
    """`vllm:PATH`: vLLM in-process on this machine's accelerators."""

    tensor_parallel_size: int = opt(1, "--tensor-parallel-size", "vLLM: GPUs per engine.")
    batch_size: int = opt(64, "--batch-size", "Work units per chunk for local engines (vllm, hf).")
    dtype: str = opt("auto", "--dtype", "vLLM engine dtype (CPU builds: float32 or bfloat16).")
    max_model_len: int | None = opt(None, "--max-model-len", "vLLM context length (default: the model's).")
    enforce_eager: bool = opt(False, "--enforce-eager", "vLLM: no CUDA graphs / compilation.")


@dataclass
class HFConfig:
    """`hf:PATH`: a local transformers checkpoint, batched generate()."""

    batch_size: int = opt(64, "--batch-size", "Work units per chunk for local engines (vllm, hf).")


@dataclass
class BatchConfig:
    """`openai-batch:MODEL`: the OpenAI-compatible Batch API (sampling/batch.py); with OpenAIConfig's
    endpoint, key, prices, budget and retries."""

    batch_units: int = opt(1000, "--batch-units", "Work units per batch (openai-batch).")
    poll_s: float = opt(30.0, "--batch-poll", "Seconds between polls of running batches.")
    completion_window: str = opt("24h", "--batch-window", "The batches' completion window.")
    # OpenAI and most hosts bill batches at half the list price; the budget reserves at this price
    price_factor: float = opt(0.5, "--batch-price-factor", "Batch price as a fraction of --price-in/out.")
    # vllm-batch: the command given -i IN -o OUT --model MODEL (default: vLLM's run_batch entry point)
    command: str | None = opt(None, "--batch-command", "vllm-batch: the run-batch command line.")


@dataclass
class Backends:
    """The configs a backend factory chooses from (each factory reads only its own)."""

    openai: OpenAIConfig = field(default_factory=OpenAIConfig)
    vllm: VLLMConfig = field(default_factory=VLLMConfig)
    hf: HFConfig = field(default_factory=HFConfig)
    batch: BatchConfig = field(default_factory=BatchConfig)
