"""Rollout DPO from the SFT checkpoint, which is also the frozen reference."""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM

from train import dpo


def test_dpo_runs_three_steps_from_the_sft_checkpoint(sft_run, dpo_run):
    sft = sft_run[0]
    out, begun = dpo_run
    assert begun == [0, 1, 2]
    before = AutoModelForCausalLM.from_pretrained(sft)
    after = AutoModelForCausalLM.from_pretrained(out)
    w0, w1 = before.state_dict(), after.state_dict()
    assert any(not torch.equal(w0[k], w1[k]) for k in w0)  # the policy moved


def test_reference_is_a_frozen_copy_of_the_sft_weights(sft_run):
    sft = sft_run[0]
    policy = AutoModelForCausalLM.from_pretrained(sft)
    ref = dpo.reference(policy, str(sft), None)
    assert ref is not policy and not ref.training
    assert all(not p.requires_grad for p in ref.parameters())
    assert all(torch.equal(a, b) for a, b in zip(policy.parameters(), ref.parameters(), strict=True))
