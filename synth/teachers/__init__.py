"""synth's teacher registry: sampling's backends (openai:, vllm:, hf:) plus the procedural teacher,
which stays here because it writes its working from synth's problem families."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sampling.registry import BACKENDS, make_backend

if TYPE_CHECKING:
    from sampling.types import Teacher
    from synth.config import GenerateConfig

TEACHERS: dict[str, str] = {"procedural": "synth.teachers.procedural:make", **BACKENDS}


def make_teacher(spec: str, cfg: GenerateConfig) -> Teacher:
    return make_backend(spec, cfg.backends(), cfg.seed, TEACHERS)
