"""Learning tests: a stage that runs is not a stage that learns.

The task is built so the signal is unambiguous and a tiny student learns it in seconds. Every prompt
asks for one digit; a warm start (150 plain causal-LM steps on uniformly random digits) gives a
policy that answers with a single digit, each about equally often. Then
- GRPO rewards one digit (gold "7" on every prompt, checked by the real verifier): the mean accuracy
  reward of the training prompts must climb from chance (~0.1) to most of the samples;
- DPO prefers even digits (chosen) to odd ones (rejected): on held-out prompts and held-out pairs the
  implicit reward margin must become clearly positive, and the policy's samples must turn even.
Anything that cuts the learning signal (advantages zeroed or masked, the wrong temperature, a balancing
that drops the positives, chosen and rejected swapped) leaves these numbers at chance and fails them.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from transformers import TrainerCallback

from sampling.checkpoints import load_tokenizer
from tests.helpers.tiny_spec import SMALL
from tests.train.conftest import Steps, parse
from train import dpo, grpo
from train.stabilisers import TemperatureSchedule
from train.tiny import build, save

DIGITS = "0123456789"
GOLD = "7"
SPEC = SMALL  # character tokenizer (the default)


def prompts(n: int, seed: int) -> list[list[dict]]:
    """Distinct one-turn prompts, `pick a digit #<code>`, codes drawn with `seed`."""
    rng = random.Random(seed)
    codes = rng.sample(range(1000, 10000), n)
    return [[{"role": "user", "content": f"pick a digit #{c}"}] for c in codes]


def completion_logps(model, tokenizer, prompt: list[dict], texts: list[str]) -> torch.Tensor:
    """log p(text + <|im_end|> | prompt) under `model`, one value per text."""
    prefix = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    prefix_ids = tokenizer(prefix, add_special_tokens=False).input_ids
    out = []
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False).input_ids + [tokenizer.eos_token_id]
        x = torch.tensor([prefix_ids + ids])
        logits = model(x).logits[0, len(prefix_ids) - 1 : -1]
        out.append(torch.log_softmax(logits.float(), -1).gather(1, torch.tensor(ids)[:, None]).sum())
    return torch.stack(out)


def sample_digits(model, tokenizer, rows: list[list[dict]], k: int, seed: int) -> list[str]:
    """k sampled completions per prompt at temperature 1 (what the policy prefers, not its argmax)."""
    texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in rows]
    batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    torch.manual_seed(seed)
    with torch.no_grad():
        out = model.generate(
            **batch, do_sample=True, temperature=1.0, top_p=1.0, max_new_tokens=3, num_return_sequences=k
        )
    return tokenizer.batch_decode(out[:, batch.input_ids.shape[1] :], skip_special_tokens=True)


@pytest.fixture(scope="module")
def warm_student(tmp_path_factory) -> Path:
    """A tiny Qwen2 (char tokenizer trained on the task's text) that answers every prompt with one
    random digit: plain causal-LM steps on the assistant tokens of uniformly random answers."""
    rows = prompts(64, seed=1)
    model, tokenizer = build(
        SPEC, [m["content"] for p in rows for m in p] + list(DIGITS) + ["user", "assistant"]
    )
    rng = random.Random(0)
    torch.manual_seed(0)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    prefix_ids = [
        tokenizer(tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True)).input_ids
        for p in rows
    ]
    model.train()
    for _ in range(150):
        ids, labels = [], []
        for pre in prefix_ids:
            answer = tokenizer(rng.choice(DIGITS)).input_ids + [tokenizer.eos_token_id]
            ids.append(pre + answer)
            labels.append([-100] * len(pre) + answer)
        loss = model(input_ids=torch.tensor(ids), labels=torch.tensor(labels)).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    return save(model.eval(), tokenizer, tmp_path_factory.mktemp("learning") / "warm")


def write_view(directory: Path, rows: list[dict]) -> Path:
    from datasets import Dataset

    directory.mkdir(parents=True)
    Dataset.from_list(rows).to_parquet(str(directory / "part-0.parquet"))
    return directory


def test_warm_start_answers_one_digit_each_about_equally_often(warm_student):
    from transformers import AutoModelForCausalLM

    model, tokenizer = AutoModelForCausalLM.from_pretrained(warm_student), load_tokenizer(warm_student)
    samples = sample_digits(model, tokenizer, prompts(16, seed=2), k=16, seed=0)
    assert sum(s in DIGITS for s in samples) / len(samples) > 0.9
    shares = [samples.count(d) / len(samples) for d in DIGITS]
    assert max(shares) < 0.2, shares


GRPO_LEARN = [
    "--max_steps",
    "30",
    "--per_device_train_batch_size",
    "32",
    "--num_generations",
    "8",
    "--max_completion_length",
    "4",
    "--learning_rate",
    "3e-3",
    "--lr_scheduler_type",
    "constant",
    "--warmup_steps",
    "0",
    "--oversample_hard",
    "false",
]
PLAIN = ["--anneal_temperature", "false", "--drop_solved", "false", "--balance_negatives", "false"]
STABILISED = ["--anneal_temperature", "true", "--drop_solved", "true", "--balance_negatives", "true"]


class Rewards(Steps):
    """Steps, plus the mean accuracy reward TRL logged at each step."""

    def __init__(self):
        super().__init__()
        self.accuracy: list[float] = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        super().on_log(args, state, control, logs=logs, **kwargs)
        if logs and "rewards/accuracy_reward/mean" in logs:
            self.accuracy.append(logs["rewards/accuracy_reward/mean"])


class Temperatures(TrainerCallback):
    """Per step: the temperature `model.generate` really sampled with, and how far the policy loss's
    log-probabilities (TRL's fused LM head) are from log-softmax(logits / that temperature)."""

    def __init__(self):
        self.sampled: list[float] = []
        self.loss_gap: list[float] = []

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        real = model.generate

        def generate(*a, generation_config=None, **kw):
            self.sampled.append(generation_config.temperature)
            return real(*a, generation_config=generation_config, **kw)

        model.generate = generate

    def on_step_end(self, args, state, control, model=None, **kwargs):
        x = torch.arange(4, 20)[None]  # any token ids
        with torch.no_grad():
            fused = model(input_ids=x, labels=x, fused_lm_head=True).log_probs
            logits = model(input_ids=x).logits[:, :-1] / self.sampled[-1]
        plain = torch.log_softmax(logits.float(), -1).gather(2, x[:, 1:, None])[..., 0]
        self.loss_gap.append(float((fused - plain).abs().max()))


def grpo_accuracy(warm_student, tmp_path, *options: str, callbacks=()) -> list[float]:
    """Per-step mean accuracy reward of `train grpo` (reward/'s accuracy + format rewards, real
    verifier) on 16 training prompts whose gold is always GOLD."""
    rows = [{"prompt": p, "answer": GOLD, "problem_id": f"p{i}"} for i, p in enumerate(prompts(16, seed=3))]
    data = write_view(tmp_path / "rl", rows)
    cfg = parse(
        "grpo",
        tmp_path,
        tmp_path / "out",
        "--data",
        str(data),
        "--model",
        str(warm_student),
        *GRPO_LEARN,
        *options,
    )
    rewards = Rewards()
    grpo.main(cfg, callbacks=[rewards, *callbacks])
    assert len(rewards.accuracy) == 30
    return rewards.accuracy


def _rise(accuracy: list[float]) -> tuple[float, float]:
    return sum(accuracy[:3]) / 3, sum(accuracy[-5:]) / 5


def test_grpo_raises_the_accuracy_reward_on_its_training_prompts(warm_student, tmp_path):
    acc = grpo_accuracy(warm_student, tmp_path, *PLAIN)
    start, end = _rise(acc)
    print(f"grpo plain: accuracy {start:.3f} -> {end:.3f}", [round(a, 2) for a in acc])
    assert start < 0.3 and end > start + 0.4, (start, end)


def test_grpo_with_the_stabilisers_on_still_raises_the_accuracy_reward(warm_student, tmp_path):
    """Annealing 1.0 -> 0.6 over the first half, negative balancing and solved-prompt skipping on; the
    annealed temperature must reach both the sampler and the policy loss."""
    temperatures = Temperatures()
    acc = grpo_accuracy(warm_student, tmp_path, *STABILISED, callbacks=[temperatures])
    start, end = _rise(acc)
    print(f"grpo stabilised: accuracy {start:.3f} -> {end:.3f}", [round(a, 2) for a in acc])
    assert start < 0.3 and end > start + 0.4, (start, end)
    schedule = TemperatureSchedule(1.0, 0.6, 0.5)
    assert temperatures.sampled == pytest.approx([schedule.at(s, 30) for s in range(30)])
    assert max(temperatures.loss_gap) < 1e-4, temperatures.loss_gap


def dpo_pairs(rows: list[list[dict]], seed: int) -> list[dict]:
    """One pair per prompt: chosen an even digit, rejected an odd one (random)."""
    rng = random.Random(seed)
    return [
        {
            "prompt": p,
            "chosen": [{"role": "assistant", "content": rng.choice("02468")}],
            "rejected": [{"role": "assistant", "content": rng.choice("13579")}],
        }
        for p in rows
    ]


def test_dpo_raises_the_held_out_margin_and_the_policy_turns_to_the_chosen_style(warm_student, tmp_path):
    from transformers import AutoModelForCausalLM

    rows = prompts(80, seed=4)
    train_rows, held_out = rows[:64], rows[64:]  # distinct codes: no held-out prompt is trained on
    data = write_view(tmp_path / "dpo", dpo_pairs(train_rows, seed=0))
    cfg = parse(
        "dpo",
        tmp_path,
        tmp_path / "out",
        "--data",
        str(data),
        "--model",
        str(warm_student),
        "--max_steps",
        "20",
        "--per_device_train_batch_size",
        "16",
        "--learning_rate",
        "3e-3",
        "--lr_scheduler_type",
        "constant",
        "--warmup_steps",
        "0",
        "--loss_type",
        "sigmoid",
        "--loss_weights",
        "1.0",
    )
    out = dpo.main(cfg)
    tokenizer = load_tokenizer(warm_student)
    ref = AutoModelForCausalLM.from_pretrained(warm_student).eval()
    policy = AutoModelForCausalLM.from_pretrained(out).eval()
    margins = held_out_margins(policy, ref, tokenizer, dpo_pairs(held_out, seed=1), cfg.trainer.beta)
    margin = sum(margins) / len(margins)
    share = {name: even_share(m, tokenizer, held_out) for name, m in (("ref", ref), ("policy", policy))}
    positive = sum(m > 0 for m in margins)
    print(f"dpo: held-out margin 0 -> {margin:.3f} (positive in {positive}/16); even share {share}")
    assert margin > 0.2 and positive == len(margins), margins
    assert share["ref"] < 0.65 and share["policy"] > 0.85, share


def held_out_margins(policy, ref, tokenizer, pairs: list[dict], beta: float) -> list[float]:
    """DPO's implicit reward margin per pair: beta * (chosen log-ratio - rejected log-ratio to `ref`)."""
    margins = []
    with torch.no_grad():
        for pair in pairs:
            texts = [pair["chosen"][0]["content"], pair["rejected"][0]["content"]]
            ratio = completion_logps(policy, tokenizer, pair["prompt"], texts) - completion_logps(
                ref, tokenizer, pair["prompt"], texts
            )
            margins.append(beta * float(ratio[0] - ratio[1]))
    return margins


def even_share(model, tokenizer, rows: list[list[dict]]) -> float:
    """Share of 16 samples per prompt that start with an even digit (the chosen style)."""
    samples = sample_digits(model, tokenizer, rows, k=16, seed=0)
    return sum(s[:1] != "" and s[0] in "02468" for s in samples) / len(samples)
