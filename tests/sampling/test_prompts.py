"""sampling/prompts.py: the one rule for the user turn, the assistant text and the per-sample seed,
and the places that must follow it (synth's requests, curate's views, train's eval requests)."""

from __future__ import annotations

import pytest

from reward.extract import split_reasoning
from sampling.prompts import (
    DEFAULT_INSTRUCTION,
    assistant_text,
    prompt_messages,
    prompt_template,
    sample_seed,
    split_assistant,
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


CANON = "<think>\nR\n</think>\n\nA"
# (reasoning channel, text) -> the canonical assistant turn: every shape a teacher answers in
ASSISTANT_CASES = [
    ("R", "A", CANON),  # reasoning_content beside the answer
    (None, "<think>\nR\n</think>\n\nA", CANON),  # inline, R1's own layout
    (None, "<think>R</think>A", CANON),  # inline, no separators
    (None, "R\n</think>\n\nA", CANON),  # the chat template pre-filled the opener
    (None, "<|begin_of_thought|>R<|end_of_thought|><|begin_of_solution|>A<|end_of_solution|>", CANON),
    ("", "<think>R</think>A", CANON),  # an empty channel beside an inline block
    ("  R \n", "\n\nA\n", CANON),  # blanks around either part do not count
    (None, "<think>R", "<think>\nR\n</think>\n\n"),  # a cut response: all reasoning
    (None, "A", "A"),  # no reasoning at all: the answer alone
    ("R", None, "<think>\nR\n</think>\n\n"),
    (None, None, ""),
]


@pytest.mark.parametrize("reasoning, answer, expected", ASSISTANT_CASES)
def test_assistant_text_is_one_canonical_form(reasoning, answer, expected):
    assert assistant_text(reasoning, answer) == expected
    r, a = split_assistant(reasoning, answer)
    assert assistant_text(r, a) == expected  # what synth stores re-renders to the same string


def test_the_canonical_form_reads_back_as_its_parts():
    assert split_reasoning(CANON) == ("\nR\n", "\n\nA")
    assert split_assistant(None, CANON) == ("R", "A")


def test_prompt_template_marks_the_problem():
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+3?\nGo."}]
    assert prompt_template(messages, "What is 2+3?") == (
        '[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "{problem}\\nGo."}]'
    )


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


def test_synth_and_eval_send_the_same_user_turn_and_seeds():
    """The views do not build a user turn at all: they keep the prompt synth recorded (tests/curate)."""
    expected = "What is 2+3?\n" + INSTRUCTION
    synth = build_requests(GenerateConfig(samples=2, seed=3), [PROBLEM], done=set())
    protocol = Protocol(k=2, temperature=0.6, top_p=0.95, max_tokens=8, instruction=INSTRUCTION)
    evals = requests_for(protocol, 3, [PROBLEM], max_tokens=8)
    for requests in (synth, evals):
        assert [r.messages for r in requests] == [[{"role": "user", "content": expected}]] * 2
        assert [r.seed for r in requests] == [sample_seed(3, "p1", 0), sample_seed(3, "p1", 1)]


@pytest.mark.parametrize(
    "text",
    ["<think>r</think>a", "<think>\nlong\n</think>\n\n\\boxed{1}", "prefix <think>r</think> after", "r only</think>the end",
     "<think>truncated reasoning", "plain answer", "<|begin_of_thought|>t<|end_of_thought|>v",
     "<|begin_of_thought|>t<|end_of_thought|><|begin_of_solution|>s<|end_of_solution|>", "<think></think>x"],
)  # fmt: skip
def test_the_split_agrees_with_rewards_reading(text):
    """sampling sits below reward, so it carries its own copy of the reasoning markers: both must split alike."""
    reasoning, visible = split_reasoning(text)
    expected = (None, text) if reasoning is None else (reasoning.strip(), visible.strip())
    assert split_assistant(None, text) == expected
