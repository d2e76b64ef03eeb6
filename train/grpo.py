"""`train grpo`: GRPO on the `rl` view with reward/'s verifiable accuracy reward and format reward.

The stabilisers (each a switch in `Stabilisers`, documented in train/README.md) are composed here:
probe + length filter and resampling shape the dataset before training; the temperature callback,
the solved-prompt sampler and negative balancing act during training through the small
`StabilisedGRPOTrainer` below, which uses only the two hooks of train/trl_adapter.py (the one module
that touches TRL's internals, pinned to the TRL versions it was tested with).

One `Verifier` (math-verify pool, `--verify_timeout_s` per check) serves the whole run: the probe and
the accuracy reward both check with it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

from lakehouse.errors import UserError
from reward.verify import Verifier
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
from train.trl_adapter import HookedGRPOTrainer, RepeatOrder, ScoredBatch

VIEW = "rl"


def main(cfg: StageRun, callbacks: Sequence = (), reward_funcs: Sequence | None = None) -> Path:
    """`reward_funcs` replaces [accuracy, format]; the first must be the 0/1 accuracy reward."""
    stab = cfg.stabilisers or Stabilisers()
    with contextlib.ExitStack() as stack:
        # a verifier pool only when something verifies (custom reward functions bring their own checks)
        verifier = None
        if reward_funcs is None or stab.prompt_filter:
            verifier = stack.enter_context(Verifier(timeout_s=stab.verify_timeout_s))
        funcs = list(reward_funcs) if reward_funcs is not None else default_rewards(verifier)
        return run(cfg, stab, funcs, verifier, callbacks)


def run(
    cfg: StageRun, stab: Stabilisers, funcs: list, verifier: Verifier | None, callbacks: Sequence
) -> Path:
    script, args = cfg.script, cfg.trainer
    dataset = load_view(view_dir(script.lake, VIEW, script.data), VIEW, script.max_samples)
    model, tokenizer = load_student(script, corpus(dataset))
    dataset = shape_dataset(dataset, stab, model, tokenizer, args, verifier)
    tracker = SolveTracker(stab.solved_threshold, stab.solved_min_samples) if stab.drop_solved else None
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


def shape_dataset(dataset, stab: Stabilisers, model, tokenizer, args, verifier: Verifier | None):
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
            verifier,
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


def default_rewards(verifier: Verifier | None) -> list:
    """[accuracy, format]: reward/'s functions, the accuracy one checking with `verifier`."""
    from reward.functions import format_reward, make_accuracy_reward

    return [make_accuracy_reward(verifier), format_reward]


class StabilisedGRPOTrainer(HookedGRPOTrainer):
    """GRPOTrainer plus the adapter's two hooks: a sampler that skips solved prompts, and negative
    balancing on the scored batch. Everything else is TRL's."""

    def __init__(self, *a, stabilisers: Stabilisers, tracker: SolveTracker | None, accuracy_name: str, **kw):
        self.stabilisers = stabilisers
        self.tracker = tracker
        self.accuracy_name = accuracy_name
        self.masked_negatives = 0  # reported in the run's summary line
        super().__init__(*a, **kw)
        if tracker is not None and self.accelerator.num_processes > 1:
            raise UserError("--drop_solved tracks rewards per process; run it on one process")
        if stabilisers.balance_negatives and self.local_generation_batch % self.group_size:
            raise UserError(
                "--balance_negatives needs per-device generation batches of whole groups "
                f"({self.local_generation_batch} is not a multiple of num_generations={self.group_size})"
            )

    def train_sampler(self, dataset, order: RepeatOrder):
        if self.tracker is None:
            return None
        return SkipSolvedSampler(
            dataset["problem_id"],
            self.tracker,
            mini_repeat_count=order.mini_repeat_count,
            batch_size=order.batch_size,
            repeat_count=order.repeat_count,
            shuffle=order.shuffle,
            seed=order.seed,
        )

    def on_scored_batch(self, batch: ScoredBatch) -> None:
        if not self.stabilisers.balance_negatives:
            return
        correct = [r == 1.0 for r in batch.rewards(self.accuracy_name)]
        keep = balance_negatives(correct, self.group_size, seed=self.args.seed + self.state.global_step)
        self.masked_negatives += batch.mask_out([not k for k in keep])

    def stabiliser_summary(self) -> str:
        parts = []
        if self.stabilisers.balance_negatives:
            parts.append(f"{self.masked_negatives} surplus negatives masked")
        if self.tracker is not None:
            parts.append(f"{self.tracker.n_solved()} prompts solved and no longer sampled")
        return "; " + ", ".join(parts) if parts else ""
