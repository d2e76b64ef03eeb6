"""The eval fingerprint changes when any single input changes, and not otherwise."""

from __future__ import annotations

import dataclasses
import json

import pytest

from train import eval_fingerprint as fp

BASE = fp.Fingerprint(
    benchmark="math500", benchmark_hash="b" * 16, prompt_template=fp.PROMPT_TEMPLATE, instruction="box it",
    chat_template_hash="c" * 16, temperature=0.6, top_p=0.95, max_tokens=32768, seed=0, k=8,
    verifier="math-verify-0.9", extraction="lenient", backend="hf", model="/m", weights_hash="w" * 16,
)  # fmt: skip


def _other(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    return f"{value}x" if value is not None else "set"


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(fp.Fingerprint)])
def test_each_input_changes_the_fingerprint(name):
    changed = dataclasses.replace(BASE, **{name: _other(getattr(BASE, name))})
    assert changed.digest() != BASE.digest()
    model_side = name in ("model", "weights_hash")
    assert (changed.protocol() == BASE.protocol()) is model_side  # the protocol ignores only the model
    assert fp.differences(changed.inputs(), BASE.inputs()) == ([] if model_side else [name])


def test_same_inputs_same_fingerprint():
    again = fp.Fingerprint(**BASE.inputs())
    assert again.digest() == BASE.digest() and again.protocol() == BASE.protocol()
    assert len(BASE.digest()) == 16


def test_weights_and_chat_template_hashes_follow_the_files(tmp_path):
    model = tmp_path / "ckpt"
    model.mkdir()
    assert fp.weights_hash(str(model)) is None and fp.chat_template_hash(str(model)) is None
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"\x00" * 100)
    (model / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ messages }}"}))
    w, c = fp.weights_hash(str(model)), fp.chat_template_hash(str(model))
    (model / "README.md").write_text("not a weight")  # other files do not count
    assert fp.weights_hash(str(model)) == w
    (model / "model.safetensors").write_bytes(b"\x00" * 99 + b"\x01")
    assert fp.weights_hash(str(model)) != w
    (model / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ messages }}!"}))
    assert fp.chat_template_hash(str(model)) != c
    assert fp.weights_hash("org/hub-model") is None  # not local: nothing to hash


def test_benchmark_hash_is_of_the_evaluated_pairs():
    rows = [{"problem_id": "a", "answer": "1"}, {"problem_id": "b", "answer": "2"}]
    assert fp.benchmark_hash(rows) == fp.benchmark_hash(rows[::-1])  # order does not matter
    assert fp.benchmark_hash(rows) != fp.benchmark_hash([rows[0], {"problem_id": "b", "answer": "3"}])
    assert fp.benchmark_hash(rows) != fp.benchmark_hash(rows[:1])
