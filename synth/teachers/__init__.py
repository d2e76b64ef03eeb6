"""Teacher registry: the prefix of `--teacher PREFIX:REST` names a backend module, imported lazily
so that torch/vllm/openai load only when that backend is used."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from lakehouse.errors import UserError

if TYPE_CHECKING:  # synth.config imports synth.teachers.base: avoid the cycle at run time
    from synth.config import GenerateConfig
    from synth.teachers.base import Teacher

# prefix -> "module:factory"; a factory is `make(rest: str, cfg: GenerateConfig) -> Teacher`
TEACHERS: dict[str, str] = {
    "procedural": "synth.teachers.procedural:make",
    "openai": "synth.teachers.openai_api:make",
    "vllm": "synth.teachers.vllm_local:make",
    "hf": "synth.teachers.hf:make",
}


def make_teacher(spec: str, cfg: GenerateConfig) -> Teacher:
    prefix, _, rest = spec.partition(":")
    if prefix not in TEACHERS:
        raise UserError(f"unknown teacher {spec!r}; choose one of: {', '.join(p + ':' for p in TEACHERS)}")
    module, _, factory = TEACHERS[prefix].partition(":")
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        raise UserError(f"teacher {prefix!r} needs an optional dependency: {e.name or e}") from None
    return getattr(mod, factory)(rest, cfg)
