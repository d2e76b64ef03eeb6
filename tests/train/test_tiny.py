"""The tiny student: tokenizer trained locally, chat template, save/reload round trip."""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from sampling.checkpoints import load_tokenizer
from tests.helpers.tiny_spec import SMALL
from train.tiny import CHAT_TEMPLATE, EOS, PAD, TinySpec, build, save

TEXT = "Left to right, mod 10: 7*3+4\nPlease reason step by step.\n\t<think>7*3=1+4=5</think>\\boxed{5}"


def test_char_tokenizer_is_one_token_per_character_and_decodes_exactly():
    _, tok = build(SMALL, [TEXT])
    ids = tok(TEXT, add_special_tokens=False).input_ids
    assert len(ids) == len(TEXT)
    assert tok.decode(ids) == TEXT
    assert tok.eos_token == EOS and tok.pad_token == PAD and tok.padding_side == "left"


def test_bpe_tokenizer_merges_and_decodes_exactly():
    _, tok = build(
        TinySpec(
            tokenizer="bpe",
            vocab_size=300,
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
            head_dim=16,
        ),
        [TEXT] * 50,
    )
    ids = tok(TEXT, add_special_tokens=False).input_ids
    assert len(ids) < len(TEXT)
    assert tok.decode(ids) == TEXT


def test_save_reload_round_trip_keeps_tokens_template_and_weights(tmp_path):
    model, tok = build(SMALL, [TEXT])
    save(model, tok, tmp_path)
    expected = tok(TEXT).input_ids
    # our loader and transformers' AutoTokenizer (which rebuilds Qwen2 tokenizers from vocab + merges)
    for reloaded in (load_tokenizer(tmp_path), AutoTokenizer.from_pretrained(tmp_path)):
        assert reloaded(TEXT).input_ids == expected
        assert reloaded.decode(expected) == TEXT  # "\n" and "\t" survive (sampling/checkpoints.py)
        assert reloaded.chat_template == CHAT_TEMPLATE
    assert load_tokenizer(tmp_path).padding_side == "left"
    again = AutoModelForCausalLM.from_pretrained(tmp_path)
    x = torch.tensor([expected])
    with torch.no_grad():
        assert torch.equal(model.eval()(x).logits, again.eval()(x).logits)


def test_chat_template_marks_assistant_content_and_end_of_turn():
    _, tok = build(SMALL, [TEXT])
    msgs = [{"role": "user", "content": "1+2"}, {"role": "assistant", "content": "\\boxed{3}"}]
    out = tok.apply_chat_template(msgs, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    marked = [i for i, m in zip(out["input_ids"], out["assistant_masks"], strict=True) if m]
    assert tok.decode(marked) == "\\boxed{3}<|im_end|>"
    prompt = tok.apply_chat_template(msgs[:1], tokenize=False, add_generation_prompt=True)
    assert prompt == "<|im_start|>user\n1+2<|im_end|>\n<|im_start|>assistant\n"
