"""sampling/prompts.py: the one rule for the user turn, the assistant text and the per-sample seed,
and the places that must follow it (synth's requests, curate's views, train's eval requests)."""

from __future__ import annotations

import pytest

from curate.config import ViewsConfig
from curate.filters import assistant_text as views_assistant_text
from curate.views import Problem
from curate.views import user_turn as views_user_turn
from reward.extract import has_think_block
from sampling.prompts import (
    DEFAULT_INSTRUCTION,
    _has_think_block,
    assistant_text,
    prompt_messages,
    sample_seed,
    user_turn,
)
from synth.config import GenerateConfig
from synth.generate import build_requests
from train.eval import Protocol, requests_for

INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."


def test_default_instruction_is_the_papers():
    assert DEFAULT_INSTRUCTION == INSTRUCTION


@pytest.mark.parametrize(
    "problem, instruction, expected",
    [
        ("1+1", "Think.", "1+1\nThink."),
        ("1+1", "", "1+1"),  # no instruction: the problem alone, no trailing newline
        ("a\nb", "Think.", "a\nb\nThink."),
    ],
)
def test_user_turn(problem, instruction, expected):
    assert user_turn(problem, instruction) == expected


def test_prompt_messages_put_the_system_prompt_first():
    assert prompt_messages("1+1") == [{"role": "user", "content": "1+1\n" + INSTRUCTION}]
    assert prompt_messages("1+1", "Go.", "Be brief.") == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "1+1\nGo."},
    ]


ASSISTANT_CASES = [
    ("r", "a", "<think>r</think>a"),
    (None, "a", "a"),
    ("r", "<think>x</think>a", "<think>x</think>a"),  # the completion already carries its block
    ("r", "<think> </think>a", "<think>r</think><think> </think>a"),  # an empty block is no block
    ("", "a", "<think></think>a"),  # an empty reasoning channel is still a channel
    ("r", None, "<think>r</think>"),
    (None, None, ""),
    ("r", "<|begin_of_thought|>x<|end_of_thought|>a", "<|begin_of_thought|>x<|end_of_thought|>a"),
]


@pytest.mark.parametrize("reasoning, answer, expected", ASSISTANT_CASES)
def test_assistant_text_is_the_views_rule(reasoning, answer, expected):
    assert assistant_text(reasoning, answer) == expected
    assert views_assistant_text(reasoning, answer) == expected


@pytest.mark.parametrize(
    "text",
    ["a", "<think>x</think>a", "<think></think>a", "<think> \n</think>", "<think>x", "x</think>",
     "<|begin_of_thought|>x<|end_of_thought|>", "<|begin_of_thought|><|end_of_thought|>"],
)  # fmt: skip
def test_think_block_test_agrees_with_reward(text):
    assert _has_think_block(text) == has_think_block(text)


def test_sample_seed_is_31_bits_of_the_recorded_rule():
    assert [sample_seed(0, "abc", 0), sample_seed(0, "abc", 1), sample_seed(7, "0123456789abcdef", 3)] == [
        556760020,
        811046935,
        2144673691,
    ]


PROBLEM = {
    "problem_id": "p1",
    "problem": "What is 2+3?",
    "answer": "5",
    "level": 1,
    "domain": "",
    "meta": "{}",
}


def test_synth_views_and_eval_send_the_same_user_turn_and_seeds():
    expected = "What is 2+3?\n" + INSTRUCTION
    synth = build_requests(GenerateConfig(samples=2, seed=3), [PROBLEM], done=set())
    protocol = Protocol(k=2, temperature=0.6, top_p=0.95, max_tokens=8, instruction=INSTRUCTION)
    evals = requests_for(protocol, 3, [PROBLEM], max_tokens=8)
    view = views_user_turn(Problem("p1", "What is 2+3?", "5", 1, None), ViewsConfig())
    for requests in (synth, evals):
        assert [r.messages for r in requests] == [[{"role": "user", "content": expected}]] * 2
        assert [r.seed for r in requests] == [sample_seed(3, "p1", 0), sample_seed(3, "p1", 1)]
    assert view == [{"role": "user", "content": expected}]
