"""The eval fingerprint: everything an evaluation's numbers depend on, hashed.

Two evals rows with one `fingerprint` are repeats of the same evaluation. Two rows with one
`protocol` fingerprint (everything but the model and its weights) evaluated different models under the
same protocol, so their numbers compare; `differences` names what differs when they do not.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

PROMPT_TEMPLATE = "user: {problem}\\n{instruction}"  # the one user-turn rule (a version of it)
_MODEL_KEYS = ("model", "weights_hash")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")


@dataclass(frozen=True)
class Fingerprint:
    benchmark: str
    benchmark_hash: str  # of the (problem_id, gold) pairs evaluated
    prompt_template: str
    instruction: str
    chat_template_hash: str | None  # None: the server applies its own (openai backend)
    temperature: float
    top_p: float
    max_tokens: int
    seed: int
    k: int
    verifier: str  # name and version, e.g. math-verify-0.9
    extraction: str  # strict | lenient
    backend: str
    model: str
    weights_hash: str | None  # None: not local (a hub id or a remote API)
    judge: str | None = (
        None  # the LLM judge behind the verifier (train eval --judge), with its prompt version
    )

    def inputs(self) -> dict:
        # without a judge the inputs are what they were before the judge existed: old rows keep matching
        return {k: v for k, v in asdict(self).items() if k != "judge" or v is not None}

    def digest(self) -> str:
        return _hash(self.inputs())

    def protocol(self) -> str:
        return _hash({k: v for k, v in self.inputs().items() if k not in _MODEL_KEYS})


def _hash(d: dict) -> str:
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def differences(a: dict, b: dict, include_model: bool = False) -> list[str]:
    """Names of the protocol inputs (and the model's, when asked) whose values differ."""
    keys = sorted(set(a) | set(b))
    return [k for k in keys if (include_model or k not in _MODEL_KEYS) and a.get(k) != b.get(k)]


def benchmark_hash(problems: list[dict]) -> str:
    h = hashlib.sha256()
    for p in sorted(problems, key=lambda p: p["problem_id"]):
        h.update(f"{p['problem_id']}\0{p['answer']}\0".encode())
    return h.hexdigest()[:16]


def weights_hash(model: str) -> str | None:
    """sha256 over a local checkpoint's config and weight files (names and bytes); None when not local."""
    root = Path(model)
    if not root.is_dir():
        return None
    files = sorted(p for p in root.iterdir() if p.name == "config.json" or p.suffix in _WEIGHT_SUFFIXES)
    if not files:
        return None
    h = hashlib.sha256()
    for path in files:
        h.update(path.name.encode() + b"\0")
        with open(path, "rb") as f:
            while chunk := f.read(1 << 22):
                h.update(chunk)
    return h.hexdigest()[:16]


def chat_template_hash(model: str) -> str | None:
    """Hash of a local checkpoint's chat template (chat_template.jinja or tokenizer_config.json's)."""
    root = Path(model)
    jinja = root / "chat_template.jinja"
    template = jinja.read_text() if jinja.is_file() else None
    config = root / "tokenizer_config.json"
    if template is None and config.is_file():
        template = json.loads(config.read_text()).get("chat_template")
    if not template:
        return None
    return hashlib.sha256(str(template).encode()).hexdigest()[:16]
