"""`hf:PATH`: a local transformers model, batched with left padding, alone and through synth's loop."""

from __future__ import annotations

import pytest

from lakehouse.store import Lake
from sampling.checkpoints import load_tokenizer
from sampling.hf import HFTeacher
from sampling.types import SampleRequest
from tests.helpers.tiny_spec import SMALL
from train.tiny import build, save

SPEC = SMALL


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    corpus = [
        "Left to right, mod 10: 5+7*3",
        "<think>5+7=2*3=6</think>\\boxed{6}",
        "Please reason step by step.",
    ]
    model, tok = build(SPEC, corpus)
    return save(model, tok, tmp_path_factory.mktemp("hf") / "tiny")


def request(text: str, idx: int = 0, temperature: float = 0.0, max_tokens: int = 12) -> SampleRequest:
    return SampleRequest(
        problem_id=text,
        sample_idx=idx,
        messages=[{"role": "user", "content": text}],
        problem=text,
        answer="0",
        level=1,
        temperature=temperature,
        top_p=1.0,
        max_tokens=max_tokens,
        seed=idx,
    )


def test_batched_generation_with_left_padding_equals_one_by_one(tiny_dir):
    from transformers import AutoModelForCausalLM

    teacher = HFTeacher(
        AutoModelForCausalLM.from_pretrained(tiny_dir), load_tokenizer(tiny_dir), batch_size=8
    )
    reqs = [request("5+7"), request("Left to right, mod 10: 5+7*3*9+1"), request("3")]  # different lengths
    batched = {r.problem_id: c for r, c in teacher.generate(reqs)}
    single = HFTeacher(teacher.model, teacher.tokenizer, batch_size=1)
    for r in reqs:
        [(_, alone)] = list(single.generate([r]))
        assert batched[r.problem_id].completion == alone.completion
        assert batched[r.problem_id].completion_tokens == alone.completion_tokens
    for c in batched.values():
        assert c.finish_reason in ("stop", "length") and 0 < c.completion_tokens <= 12
        assert c.finish_reason == "stop" or c.completion_tokens == 12


def test_sampling_is_reproducible_for_the_same_seed(tiny_dir):
    from transformers import AutoModelForCausalLM

    teacher = HFTeacher(AutoModelForCausalLM.from_pretrained(tiny_dir), load_tokenizer(tiny_dir))
    reqs = [request("5+7", i, temperature=1.0) for i in range(4)]
    first = [c.completion for _, c in teacher.generate(reqs)]
    assert first == [c.completion for _, c in teacher.generate(reqs)]
    assert len(set(first)) > 1  # distinct samples within a batch


def test_synth_generate_with_hf_teacher_writes_traces(tiny_dir, tmp_path):
    """synth's generation loop (journal, resume units, lake writes) with this backend, in-process."""
    from synth.config import GenerateConfig
    from synth.generate import main as generate
    from synth.problems import ProblemsConfig
    from synth.problems import main as problems

    lake = tmp_path / "lake"
    problems(ProblemsConfig(source="builtin:chain", n=3, lake=lake))
    generate(GenerateConfig(lake=lake, teacher=f"hf:{tiny_dir}", samples=2, max_tokens=8, progress=False))
    traces = Lake(lake).read("traces").to_pylist()
    assert len(traces) == 6
    assert {t["teacher"] for t in traces} == {f"hf:{tiny_dir}"}
    assert all(t["finish_reason"] in ("stop", "length") and t["completion_tokens"] <= 8 for t in traces)
