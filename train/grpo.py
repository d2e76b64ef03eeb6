"""`train grpo`: GRPO on the `rl` view with reward/'s verifiable accuracy reward and format reward.

The stabilisers (each a switch in `Stabilisers`, documented in train/README.md) are composed here:
probe + length filter and resampling shape the dataset before training; the temperature callback,
the solved-prompt sampler and negative balancing act during training through the small
`StabilisedGRPOTrainer` below (TRL's documented extension points: a sampler and the scored batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from trl import GRPOTrainer

from lakehouse.errors import UserError
from train.common import resume_arg, summary
from train.config import Stabilisers, StageRun
from train.data import corpus, load_view, view_dir
from train.rewards import Tracked, guarded
from train.stabilisers import (
    AnnealTemperature,
    SkipSolvedSampler,
    SolveTracker,
    TemperatureSchedule,
    balance_negatives,
    oversample_hard,
)
from train.student import load_student, save_student

VIEW = "rl"


def main(cfg: StageRun, callbacks: Sequence = (), reward_funcs: Sequence | None = None) -> Path:
    """`reward_funcs` replaces [accuracy, format]; the first must be the 0/1 accuracy reward."""
    script, args, stab = cfg.script, cfg.trainer, cfg.stabilisers or Stabilisers()
    dataset = load_view(view_dir(script.lake, VIEW, script.data), VIEW, script.max_samples)
    model, tokenizer = load_student(script, corpus(dataset))
    dataset = shape_dataset(dataset, stab, model, tokenizer, args)
    tracker = SolveTracker(stab.solved_threshold, stab.solved_min_samples) if stab.drop_solved else None
    funcs = list(reward_funcs) if reward_funcs is not None else default_rewards()
    accuracy = Tracked(funcs[0], tracker)  # the first reward is the 0/1 accuracy one
    funcs[0] = accuracy
    trainer = StabilisedGRPOTrainer(
        model=model,
        reward_funcs=[guarded(f, stab.reward_timeout_s) for f in funcs],
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=list(callbacks),
        stabilisers=stab,
        tracker=tracker,
        accuracy_name=accuracy.__name__,
    )
    if stab.anneal_temperature:
        trainer.add_callback(
            AnnealTemperature(
                trainer, TemperatureSchedule(args.temperature, stab.temperature_end, stab.anneal_fraction)
            )
        )
    trainer.train(resume_from_checkpoint=resume_arg(args.resume_from_checkpoint))
    out = save_student(trainer, tokenizer, args.output_dir)
    print(summary("grpo", trainer, out) + trainer.stabiliser_summary())
    return out


def shape_dataset(dataset, stab: Stabilisers, model, tokenizer, args):
    """Prompt filter (probe) then hard-prompt oversampling; columns reduced to what GRPO reads."""
    if stab.prompt_filter:
        from train.probe import probe

        dataset, result = probe(
            dataset,
            model,
            tokenizer,
            stab.probe_samples,
            stab.max_length_cv,
            args.temperature,
            args.max_completion_length,
            args.seed,
            stab.verify_timeout_s,
        )
        print(
            f"prompt filter: kept {result.kept}, dropped {result.dropped} (non-uniform lengths); "
            f"policy pass rate {result.mean_pass_rate:.3f}"
        )
        if len(dataset) == 0:
            raise UserError("prompt filter kept no prompt; raise --max_length_cv")
    if stab.oversample_hard:
        if "pass_rate" not in dataset.column_names:
            raise UserError("--oversample_hard needs a pass_rate column in the rl view (or --prompt_filter)")
        dataset = dataset.select(oversample_hard(dataset["pass_rate"], stab.hard_weight_floor, args.seed))
    if "problem_id" not in dataset.column_names:
        dataset = dataset.add_column("problem_id", [str(i) for i in range(len(dataset))])
    return dataset.select_columns(["prompt", "answer", "problem_id"])


def default_rewards() -> list:
    from reward.functions import accuracy_reward, format_reward

    return [accuracy_reward, format_reward]


class StabilisedGRPOTrainer(GRPOTrainer):
    """GRPOTrainer plus two hooks: a sampler that skips solved prompts, and negative balancing on the
    scored batch. Everything else is TRL's."""

    def __init__(self, *a, stabilisers: Stabilisers, tracker: SolveTracker | None, accuracy_name: str, **kw):
        self.stabilisers = stabilisers
        self.tracker = tracker
        self.accuracy_name = accuracy_name
        self.masked_negatives = 0
        self.sampling_temperatures: list[tuple[int, float]] = []
        super().__init__(*a, **kw)
        if tracker is not None and self.accelerator.num_processes > 1:
            raise UserError("--drop_solved tracks rewards per process; run it on one process")
        local = self.args.per_device_train_batch_size * self.args.steps_per_generation
        if stabilisers.balance_negatives and local % self.num_generations:
            raise UserError(
                "--balance_negatives needs per-device generation batches of whole groups "
                f"({local} is not a multiple of num_generations={self.num_generations})"
            )

    def _get_train_sampler(self, dataset=None):
        if self.tracker is None:
            return super()._get_train_sampler(dataset)
        dataset = dataset if dataset is not None else self.train_dataset
        return SkipSolvedSampler(
            dataset["problem_id"],
            self.tracker,
            mini_repeat_count=self.num_generations,
            batch_size=self.args.generation_batch_size // self.num_generations,
            repeat_count=self.num_iterations * self.args.steps_per_generation,
            shuffle=self.shuffle_dataset,
            seed=self.args.seed,
        )

    def _generate(self, prompts):
        # what the sampler really uses this step (tests compare it with the schedule)
        t = self.vllm_generation.temperature if self.use_vllm else self.generation_config.temperature
        self.sampling_temperatures.append((self.state.global_step, t))
        return super()._generate(prompts)

    def _generate_and_score_completions(self, inputs):
        out = super()._generate_and_score_completions(inputs)
        if self.stabilisers.balance_negatives and self.model.training:
            self._balance(out)
        return out

    def _balance(self, out) -> None:
        import torch

        n = out["completion_mask"].shape[0]
        rank = self.accelerator.process_index
        rewards = list(self._logs["rewards"][self.accuracy_name])[-n * self.accelerator.num_processes :]
        correct = [r == 1.0 for r in rewards[rank * n : (rank + 1) * n]]
        keep = balance_negatives(correct, self.num_generations, seed=self.args.seed + self.state.global_step)
        drop = torch.tensor([not k for k in keep], device=out["completion_mask"].device)
        removed = (out["completion_mask"][drop]).sum()
        out["completion_mask"][drop] = 0
        out["num_items_in_batch"] = out["num_items_in_batch"] - self.accelerator.gather(removed).sum()
        self.masked_negatives += int(drop.sum())

    def stabiliser_summary(self) -> str:
        parts = []
        if self.stabilisers.balance_negatives:
            parts.append(f"{self.masked_negatives} surplus negatives masked")
        if self.tracker is not None:
            parts.append(f"{self.tracker.n_solved()} prompts solved and no longer sampled")
        return "; " + ", ".join(parts) if parts else ""
