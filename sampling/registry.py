"""Backend registry: the prefix of `PREFIX:REST` names a backend module, imported lazily so that
torch/vllm/openai load only when that backend is used. synth extends it with `procedural`."""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from lakehouse.errors import UserError
from sampling.config import Backends
from sampling.types import Teacher

# prefix -> "module:factory"; a factory is `make(rest: str, backends: Backends, seed: int) -> Teacher`
BACKENDS: dict[str, str] = {
    "openai": "sampling.openai_api:make",
    "openai-batch": "sampling.batch:make",
    "vllm-batch": "sampling.vllm_batch:make",
    "vllm": "sampling.vllm_local:make",
    "hf": "sampling.hf:make",
}


def make_backend(
    spec: str, backends: Backends | None = None, seed: int = 0, registry: Mapping[str, str] = BACKENDS
) -> Teacher:
    """The teacher for `spec` (e.g. "hf:checkpoints/sft-tiny"); `seed` seeds engines that take one."""
    prefix, _, rest = spec.partition(":")
    if prefix not in registry:
        raise UserError(f"unknown teacher {spec!r}; choose one of: {', '.join(p + ':' for p in registry)}")
    module, _, factory = registry[prefix].partition(":")
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        raise UserError(f"teacher {prefix!r} needs an optional dependency: {e.name or e}") from None
    return getattr(mod, factory)(rest, backends or Backends(), seed)
