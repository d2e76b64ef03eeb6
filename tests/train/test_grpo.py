"""GRPO and the paper's stabilisers."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from lakehouse.errors import UserError
from reward.functions import make_accuracy_reward
from reward.verify import Verifier
from tests.train.conftest import Steps, parse
from train import grpo
from train.rewards import guarded
from train.stabilisers import (
    SkipSolvedSampler,
    SolveTracker,
    TemperatureSchedule,
    balance_negatives,
    oversample_hard,
    uniform_length_mask,
)
from train.trl_adapter import SUPPORTED_TRL, check_trl_version

GRPO_FAST = [
    "--max_steps",
    "4",
    "--per_device_train_batch_size",
    "8",
    "--num_generations",
    "4",
    "--max_completion_length",
    "12",
    "--max_samples",
    "16",
]


@pytest.mark.parametrize(
    ("step", "max_steps", "expected"),
    [(0, 10, 1.0), (1, 10, 0.92), (2, 10, 0.84), (4, 10, 0.68), (5, 10, 0.6), (9, 10, 0.6), (0, 1, 1.0)],
)
def test_temperature_schedule_is_linear_over_the_first_half_then_constant(step, max_steps, expected):
    assert TemperatureSchedule(1.0, 0.6, 0.5).at(step, max_steps) == pytest.approx(expected)


class Logged(Steps):
    """Steps, plus the sampling temperature each logged step reports (read from the log history at the
    end: the annealing callback adds it to a step's logs after the callbacks passed to main)."""

    def __init__(self):
        super().__init__()
        self.temperatures: list[float] = []

    def on_train_end(self, args, state, control, **kwargs):
        self.temperatures = [
            h["sampling_temperature"] for h in state.log_history if "sampling_temperature" in h
        ]


class GenerateSpy:
    """Wraps the model's real `generate` to record the temperature of the config it is called with."""

    def __init__(self, model):
        self.real, self.seen = model.generate, []
        model.generate = self

    def __call__(self, *args, generation_config=None, **kwargs):
        self.seen.append(generation_config.temperature)
        return self.real(*args, generation_config=generation_config, **kwargs)


def test_annealed_temperature_is_the_one_used_for_sampling(views_lake, dpo_run, tmp_path, monkeypatch):
    trainers = []
    real_init = grpo.StabilisedGRPOTrainer.__init__

    def keep(self, *a, **kw):  # remember the trainer main() builds, and spy on its model's generate
        real_init(self, *a, **kw)
        trainers.append((self, GenerateSpy(self.model)))

    monkeypatch.setattr(grpo.StabilisedGRPOTrainer, "__init__", keep)
    steps = Logged()
    cfg = parse("grpo", views_lake, tmp_path, "--model", str(dpo_run[0]), *GRPO_FAST, "--max_steps", "6")
    grpo.main(cfg, callbacks=[steps], reward_funcs=_rewards())
    _, spy = trainers[0]
    schedule = TemperatureSchedule(1.0, 0.6, 0.5)
    expected = [schedule.at(s, 6) for s in range(6)]
    assert steps.begun == list(range(6))
    assert spy.seen == pytest.approx(expected)  # what model.generate really received, step by step
    assert steps.temperatures == pytest.approx(expected)  # and what the run logged
    assert (tmp_path / "model.safetensors").exists()


def test_reward_that_times_out_or_returns_none_does_not_stop_the_step(views_lake, dpo_run, tmp_path):
    def slow_reward(completions, **kwargs):
        time.sleep(5)
        return [1.0] * len(completions)

    def none_reward(completions, **kwargs):
        return [None] * len(completions)

    def raising_reward(completions, **kwargs):
        raise RuntimeError("verifier crashed")

    steps = Steps()
    cfg = parse(
        "grpo",
        views_lake,
        tmp_path,
        "--model",
        str(dpo_run[0]),
        *GRPO_FAST,
        "--max_steps",
        "3",
        "--reward_timeout_s",
        "0.3",
        "--reward_weights",
        "1",
        "1",
        "1",
        "1",
        "1",
    )
    grpo.main(cfg, callbacks=[steps], reward_funcs=_rewards() + [slow_reward, none_reward, raising_reward])
    assert steps.begun == [0, 1, 2]


def test_guarded_reward_returns_none_on_timeout_and_error_and_values_otherwise():
    def ok(completions, **kw):
        return [0.5 for _ in completions]

    def slow(completions, **kw):
        time.sleep(2)
        return [1.0 for _ in completions]

    def bad(completions, **kw):
        raise ValueError("x")

    completions = [[{"role": "assistant", "content": "a"}]] * 3
    assert guarded(ok, 1.0)(completions) == [0.5, 0.5, 0.5]
    assert guarded(slow, 0.1)(completions) == [None, None, None]
    assert guarded(bad, 1.0)(completions) == [None, None, None]
    assert guarded(slow, 0.1).__name__ == "slow"


def test_prompts_the_policy_solves_are_no_longer_sampled(views_lake, dpo_run, tmp_path, capsys):
    import pyarrow.compute as pc

    from lakehouse.store import Lake

    rl = Lake(views_lake).read("views/rl")  # curate repeats hard prompts: keep 4 distinct ones
    first = sorted(
        {rl.column("problem_id").to_pylist().index(p) for p in rl.column("problem_id").to_pylist()}
    )[:4]
    view = Lake(tmp_path / "four")
    view.replace("views/rl", [rl.take(first)])
    ids = pc.unique(rl.take(first).column("problem_id")).to_pylist()
    assert len(ids) == 4
    solved, sampled = set(ids[:2]), Counter()

    def right_on_two(completions, problem_id, **kwargs):  # the policy "solves" two of the four prompts
        sampled.update(problem_id)
        return [float(p in solved) for p in problem_id]

    cfg = parse(
        "grpo",
        tmp_path / "four",
        tmp_path / "out",
        "--model",
        str(dpo_run[0]),
        *GRPO_FAST,
        "--max_samples",
        "4",
        "--per_device_train_batch_size",
        "8",
        "--num_generations",
        "4",
        "--max_steps",
        "4",
        "--solved_min_samples",
        "4",
        "--oversample_hard",
        "false",
        "--reward_weights",
        "1",
    )
    grpo.main(cfg, reward_funcs=[right_on_two])
    # epoch 1 samples each prompt once (4 responses); epoch 2 only the two unsolved ones, twice each
    assert sampled == {ids[0]: 4, ids[1]: 4, ids[2]: 12, ids[3]: 12}
    assert "2 prompts solved and no longer sampled" in capsys.readouterr().out


def test_negative_balancing_masks_surplus_negatives_out_of_the_loss(views_lake, dpo_run, tmp_path, capsys):
    def one_right_per_group(completions, **kwargs):  # groups of 4 consecutive responses: 1 right, 3 wrong
        return [float(i % 4 == 0) for i in range(len(completions))]

    cfg = parse(
        "grpo",
        views_lake,
        tmp_path,
        "--model",
        str(dpo_run[0]),
        *GRPO_FAST,
        "--max_steps",
        "3",
        "--drop_solved",
        "false",
        "--reward_weights",
        "1",
    )
    grpo.main(cfg, reward_funcs=[one_right_per_group])
    # 2 groups per step x 3 steps, 2 of 3 negatives masked in each
    assert "12 surplus negatives masked" in capsys.readouterr().out


def test_balance_negatives_keeps_all_positives_and_as_many_negatives():
    correct = [True, False, False, False, False, False, True, True, False, False, False, False]
    keep = balance_negatives(correct, group_size=4, seed=0)
    groups = [keep[i : i + 4] for i in range(0, 12, 4)]
    assert groups[0][0] and sum(groups[0]) == 2  # 1 positive + 1 of 3 negatives
    assert groups[1] == [True, True, True, True]  # no positive: no advantage, left as is
    assert groups[2][:2] == [True, True] and sum(groups[2]) == 4  # 2 positives + 2 of 2 negatives
    assert balance_negatives(correct, 4, seed=0) == keep  # seeded


def test_skip_solved_sampler_repeats_like_trl_and_skips_solved_prompts():
    tracker = SolveTracker(threshold=0.5, min_samples=2)
    ids = ["a", "b", "c", "d", "e"]
    sampler = SkipSolvedSampler(
        ids, tracker, mini_repeat_count=2, batch_size=2, repeat_count=1, shuffle=False
    )
    assert list(sampler) == [0, 0, 1, 1, 2, 2, 3, 3]
    tracker.record(["a", "a", "c", "c", "d", "d"], [1.0, 1.0, 1.0, None, 1.0, 0.0])
    assert tracker.solved("a") and not tracker.solved("c") and not tracker.solved("d")
    assert list(sampler) == [1, 1, 2, 2, 3, 3, 4, 4]  # "a" (2/2 right) is skipped
    tracker.record(["b", "b", "c", "d", "e", "e"], [1.0, 1.0, 1.0, 1.0, 0.0, 0.0])
    assert [tracker.solved(i) for i in ids] == [True, True, True, True, False]
    # only "e" is unsolved: it is drawn again, and solved prompts fill what it cannot (same epoch length)
    assert list(sampler) == [4, 4, 0, 0, 4, 4, 0, 0]


def test_oversample_hard_draws_unsolved_prompts_more_often():
    draws = oversample_hard([0.0] * 50 + [1.0] * 50, floor=0.1, seed=0)
    assert len(draws) == 100
    hard = sum(i < 50 for i in draws)
    assert hard > 80  # expected share 1.1 / 1.2 = 92%
    assert oversample_hard([0.0] * 50 + [1.0] * 50, floor=0.1, seed=0) == draws


def test_uniform_length_mask_keeps_prompts_with_low_length_variation():
    assert uniform_length_mask([[10, 10, 12, 8], [2, 30, 5, 40], [0, 0]], max_cv=0.5) == [True, False, True]


def _rewards():
    """Fast deterministic stand-ins for accuracy/format on the chain answers (the real reward/ functions
    are exercised by test_grpo_default_rewards)."""

    def accuracy(completions, answer, **kwargs):
        return [float(f"\\boxed{{{a}}}" in c[0]["content"]) for c, a in zip(completions, answer, strict=True)]

    def think_format(completions, **kwargs):
        return [float("</think>" in c[0]["content"]) for c in completions]

    return [accuracy, think_format]


def test_grpo_with_reward_package_rewards_and_prompt_filter(views_lake, dpo_run, tmp_path, capsys):
    """The shipped path: reward/'s accuracy + format rewards (verification pool), probe + length filter,
    hard-prompt oversampling from the probe's pass rates; the checkpoint saves and reloads."""
    from transformers import AutoModelForCausalLM

    steps = Steps()
    cfg = parse(
        "grpo",
        views_lake,
        tmp_path,
        "--model",
        str(dpo_run[0]),
        *GRPO_FAST,
        "--max_steps",
        "3",
        "--prompt_filter",
        "true",
        "--probe_samples",
        "4",
        "--max_length_cv",
        "0.4",
    )
    grpo.main(cfg, callbacks=[steps])
    out = capsys.readouterr().out
    assert steps.begun == [0, 1, 2]
    line = next(x for x in out.splitlines() if x.startswith("prompt filter: kept "))
    kept, dropped = (int(w.rstrip(",")) for w in line.split()[3:6:2])
    assert kept + dropped == 16
    assert AutoModelForCausalLM.from_pretrained(tmp_path).config.model_type == "qwen2"


@pytest.mark.parametrize("version", ["1.16.0", "1.16.3", "1.16.0.dev0", "1.16.1rc1"])
def test_supported_trl_versions_pass_the_check(version):
    check_trl_version(version)


@pytest.mark.parametrize("version", ["0.20.0", "1.15.2", "1.17.0", "2.0.0"])
def test_other_trl_versions_fail_with_one_line_naming_both(version):
    with pytest.raises(UserError) as e:
        check_trl_version(version)
    message = str(e.value)
    assert "\n" not in message
    assert f"TRL {version} is installed" in message and SUPPORTED_TRL in message


def test_pyproject_pins_the_trl_range_the_adapter_supports():
    from pathlib import Path

    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet

    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]
    pins = [Requirement(r) for r in project["optional-dependencies"]["train"]]
    assert [r.specifier for r in pins if r.name == "trl"] == [SpecifierSet(SUPPORTED_TRL)]


def test_accuracy_reward_checks_with_the_verifier_it_is_given():
    completions = [[{"role": "assistant", "content": "\\boxed{7}"}], [{"role": "assistant", "content": "3"}]]
    with Verifier(workers=1, timeout_s=2.0) as verifier:
        reward = make_accuracy_reward(verifier)
        assert reward(completions, answer=["7", "7"]) == [1.0, 0.0]
        assert verifier.stats.checks == 2
    assert reward.__name__ == "accuracy_reward"  # the name TRL logs it under
    assert grpo.default_rewards(verifier)[0].__name__ == "accuracy_reward"
