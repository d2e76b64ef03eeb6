"""`hf:PATH`: a local transformers checkpoint as teacher (`synth generate`), the student's sampler in
`train eval`, and the policy's in GRPO's probe.

Batched `generate` over the chat template with left padding (a right-padded batch would make every
shorter prompt continue after its pad tokens). Requests are grouped by sampling parameters so one
batch shares one GenerationConfig; a batch is seeded from its first request, so a run is reproducible
on the same hardware and batch size. The whole generated text is the completion (a local model has no
separate reasoning channel; reward/extract splits `<think>` blocks where needed).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from itertools import groupby
from typing import TYPE_CHECKING

from lakehouse.errors import UserError
from sampling.checkpoints import left_pad, load_model, load_tokenizer
from sampling.config import Backends
from sampling.types import Completion, SampleRequest

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


class HFTeacher:
    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        name: str = "hf",
        batch_size: int = 64,
    ):
        self.model = model.eval()
        self.tokenizer = tokenizer
        left_pad(self.tokenizer)
        self.name = name
        self.batch_size = max(1, batch_size)
        self.eos_ids = _eos_ids(model, tokenizer)

    @classmethod
    def from_path(cls, path: str, batch_size: int = 64) -> HFTeacher:
        import torch

        model = load_model(path)
        if torch.cuda.is_available():
            model = model.to("cuda", dtype=torch.bfloat16)
        return cls(model, load_tokenizer(path), name=f"hf:{path}", batch_size=batch_size)

    def generate(self, requests: list[SampleRequest]) -> Iterator[tuple[SampleRequest, Completion]]:
        def params(r: SampleRequest) -> tuple:
            return (r.temperature, r.top_p, r.max_tokens)

        for _, group in groupby(sorted(requests, key=params), key=params):
            group = list(group)
            for start in range(0, len(group), self.batch_size):
                yield from self._generate_batch(group[start : start + self.batch_size])

    def _generate_batch(self, batch: list[SampleRequest]) -> Iterator[tuple[SampleRequest, Completion]]:
        import torch

        t0 = time.perf_counter()
        texts = [
            self.tokenizer.apply_chat_template(r.messages, add_generation_prompt=True, tokenize=False)
            for r in batch
        ]
        enc = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        enc = enc.to(self.model.device)
        torch.manual_seed(batch[0].seed)
        with torch.no_grad():
            out = self.model.generate(**enc, generation_config=self._generation_config(batch[0]))
        new_tokens = out[:, enc["input_ids"].shape[1] :].tolist()
        latency = (time.perf_counter() - t0) / len(batch)
        prompt_lengths = enc["attention_mask"].sum(dim=1).tolist()
        for request, ids, n_prompt in zip(batch, new_tokens, prompt_lengths, strict=True):
            yield request, self._completion(ids, int(n_prompt), latency)

    def _generation_config(self, r: SampleRequest):
        from transformers import GenerationConfig

        sample = r.temperature > 0
        return GenerationConfig(
            do_sample=sample,
            temperature=r.temperature if sample else None,
            top_p=r.top_p if sample else None,
            top_k=0 if sample else None,  # no hidden top-k cut: the protocol is temperature + top-p only
            max_new_tokens=r.max_tokens,
            eos_token_id=self.eos_ids,
            pad_token_id=self.tokenizer.pad_token_id,
        )

    def _completion(self, ids: list[int], n_prompt: int, latency: float) -> Completion:
        stop = next((i for i, t in enumerate(ids) if t in self.eos_ids), None)
        stopped = stop is not None
        ids = ids[:stop] if stopped else ids
        ids = [i for i in ids if i != self.tokenizer.pad_token_id]
        return Completion(
            completion=self.tokenizer.decode(ids, skip_special_tokens=True),
            finish_reason="stop" if stopped else "length",
            prompt_tokens=n_prompt,
            completion_tokens=len(ids) + int(stopped),
            latency_s=latency,
        )

    def close(self) -> None:
        self.model = None


def _eos_ids(model, tokenizer) -> list[int]:
    """End-of-turn ids: the tokenizer's and the model's generation config's (Qwen lists two)."""
    configured = model.generation_config.eos_token_id
    configured = configured if isinstance(configured, list) else [configured]
    return sorted({i for i in [tokenizer.eos_token_id, *configured] if i is not None})


def make(rest: str, backends: Backends, seed: int = 0) -> HFTeacher:
    """Registry factory: `hf:PATH` (a local checkpoint directory or hub id). Each batch is seeded from
    its first request's seed, so the run seed is not needed here."""
    if not rest:
        raise UserError("teacher hf: needs a model path, e.g. --teacher hf:checkpoints/sft-tiny")
    return HFTeacher.from_path(rest, batch_size=backends.hf.batch_size)
