"""TRL-compatible reward functions, called the way GRPOTrainer calls them (trl/trainer/grpo_trainer.py:
`reward_func(prompts=..., completions=..., completion_ids=..., **dataset_columns, trainer_state=..., log_metric=...)`)."""

from __future__ import annotations

import pytest

from reward import functions
from reward.functions import (
    accuracy_reward,
    completion_text,
    configure_verifier,
    format_reward,
    length_aware_accuracy_reward,
    make_length_aware_accuracy_reward,
    reward_failures,
)

TOWER = "<think>big</think>\\boxed{2^{2^{2^{100}}}}"
COMPLETIONS = [
    "<think>2+2=4</think>\n\\boxed{4}",  # right, well formed
    "<think>2+2=5</think>\n\\boxed{5}",  # wrong, well formed
    None,  # a generation that failed upstream
    "",  # an empty generation
    TOWER,  # pathological: math-verify would run for minutes
    "\\boxed{4}",  # right, no reasoning block
    "<think>" + "x" * 1_000_000,  # a megabyte, never closed
    "<think>so</think> The final answer is 4.",  # right, no box
]
ANSWERS = ["4", "4", "4", "4", "4", "4", "4", "4"]


@pytest.fixture(scope="module", autouse=True)
def verifier():
    configure_verifier(workers=2, timeout_s=1.0)
    yield functions.get_verifier()
    configure_verifier()  # close it; the next user gets the defaults


def _conversational(completions):
    return [[{"role": "assistant", "content": c}] for c in completions]


def _trl_kwargs(n: int, metrics: dict) -> dict:
    return {
        "prompts": [[{"role": "user", "content": "What is 2+2?"}]] * n,
        "completion_ids": [list(range(len(c or "") // 4 + 1)) for c in COMPLETIONS][:n],
        "trainer_state": None,
        "log_extra": lambda *a, **k: None,
        "log_metric": lambda name, value: metrics.__setitem__(name, value),
    }


def test_accuracy_full_list_for_a_batch_with_junk():
    before = sum(reward_failures().values())
    metrics: dict = {}
    plain = accuracy_reward(completions=COMPLETIONS, answer=ANSWERS, **_trl_kwargs(8, metrics))
    assert plain == [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0]
    assert reward_failures()["timeout"] >= 1  # the tower was cut off and counted
    assert metrics["reward/verifier_failures"] == sum(reward_failures().values()) > before
    chat = accuracy_reward(completions=_conversational(COMPLETIONS), answer=ANSWERS, **_trl_kwargs(8, {}))
    assert chat == plain


def test_accuracy_never_raises_on_bad_columns():
    assert accuracy_reward(["\\boxed{4}", "\\boxed{4}"], answer=[None, 4]) == [0.0, 1.0]
    assert accuracy_reward(["\\boxed{4}"]) == [0.0]  # no answer column at all
    failures = reward_failures().get("exception", 0)
    assert accuracy_reward(["\\boxed{4}", "\\boxed{4}"], answer=["4"]) == [0.0, 0.0]  # lengths differ
    assert reward_failures()["exception"] == failures + 2
    assert accuracy_reward([], answer=[]) == []


def test_format_reward():
    assert format_reward(COMPLETIONS) == [1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    assert format_reward(_conversational(["<think>a</think>\\boxed{1}", "<think> </think>\\boxed{1}"])) == [
        1.0,
        0.0,
    ]


def test_length_aware_accuracy():
    completions = ["<think>a</think>\\boxed{4}", "<think>aaaa</think>\\boxed{4}", "\\boxed{5}", "\\boxed{4}"]
    ids = [[0] * 10, [0] * 30, [0] * 50, [0] * 20]
    rewards = length_aware_accuracy_reward(completions, answer=["4"] * 4, completion_ids=ids)
    # lam = 0.5 - (L - 10) / 40: 0.5, 0.0, -0.5, 0.25; weight 0.5; wrong answers only keep min(0, lam)
    assert rewards == [1.25, 1.0, -0.25, 1.125]
    assert length_aware_accuracy_reward(["\\boxed{4}"] * 2, answer=["4", "3"]) == [1.0, 0.0]  # equal lengths
    assert make_length_aware_accuracy_reward(1.0).__name__ == "length_aware_accuracy_reward"


@pytest.mark.parametrize(
    ("completion", "text"),
    [
        ("plain", "plain"),
        ([{"role": "assistant", "content": "a"}], "a"),
        ([{"role": "assistant", "content": [{"type": "text", "text": "b"}]}], "b"),
        ([{"role": "tool", "content": "x"}, {"role": "assistant", "content": "c"}], "c"),
        (None, ""),
        (42, ""),
        ([{"role": "assistant", "content": None}], ""),
    ],
)
def test_completion_text(completion, text):
    assert completion_text(completion) == text
