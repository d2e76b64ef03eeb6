"""Every use of TRL's private internals, in one place, pinned to the TRL versions it was tested with.

The GRPO stabilisers need things TRL has no public hook for: the order prompts are drawn in
(`GRPOTrainer._get_train_sampler`); the scored generation batch before the loss sees it
(`GRPOTrainer._generate_and_score_completions`, its output keys `completion_mask` and
`num_items_in_batch`, the per-completion rewards it logs in `GRPOTrainer._logs`); the temperature
(`generation_config`, `generation_kwargs`, `vllm_generation.temperature`, and the one the loss's fused
LM head divides by); and TRL's metric buffer (`GRPOTrainer._log_metric`). A TRL release may rename or
reshape any of them without notice, and the stabilisers would then stop acting *silently* (an override
nobody calls is not an error). So this module refuses to import on a TRL outside `SUPPORTED_TRL`, and
the rest of train/ talks only to `HookedGRPOTrainer`'s two named hooks, `set_sampling_temperature` and
`log_metric`. Moving to a new TRL: read these few functions against its source, run tests/train
(test_grpo.py and test_learning.py exercise every one), then widen the range here and in pyproject.toml.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import trl
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from trl import GRPOTrainer

from lakehouse.errors import UserError

# Keep in step with the `trl` pin of the `train` extra in pyproject.toml (a test compares them).
SUPPORTED_TRL = ">=1.16,<1.17"


def check_trl_version(installed: str) -> None:
    """A one-line UserError unless `installed` is in SUPPORTED_TRL (pre-releases count as their release)."""
    if not SpecifierSet(SUPPORTED_TRL).contains(Version(installed).base_version):
        raise UserError(
            f"TRL {installed} is installed but train/ is tested with TRL {SUPPORTED_TRL} "
            f"(pip install 'trl{SUPPORTED_TRL}'; see train/README.md, 'TRL adapter')"
        )


check_trl_version(trl.__version__)


@dataclass(frozen=True)
class RepeatOrder:
    """TRL's RepeatSampler parameters for this trainer: each prompt `mini_repeat_count` times in a row
    (one GRPO group), chunks of `batch_size` prompts, each chunk `repeat_count` times (reused generations)."""

    mini_repeat_count: int
    batch_size: int
    repeat_count: int
    shuffle: bool
    seed: int


class ScoredBatch:
    """One process's scored generation batch, as TRL hands it to the loss: whole groups of
    `group_size` consecutive completions, advantages already computed."""

    def __init__(self, trainer: GRPOTrainer, out: dict[str, Any]):
        self._trainer = trainer
        self._out = out

    @property
    def size(self) -> int:
        return int(self._out["completion_mask"].shape[0])

    def rewards(self, reward_name: str) -> list[float]:
        """This process's completions' raw rewards from the reward function TRL logs as `reward_name`
        (NaN where it gave None), in batch order."""
        acc = self._trainer.accelerator
        logged = list(self._trainer._logs["rewards"][reward_name])[-self.size * acc.num_processes :]
        return logged[acc.process_index * self.size : (acc.process_index + 1) * self.size]

    def mask_out(self, drop: Sequence[bool]) -> int:
        """Take the completions where `drop` is true out of the loss: completion mask 0, and the token
        count the loss divides by reduced (summed over processes, like TRL's). Returns how many."""
        import torch

        mask = self._out["completion_mask"]
        rows = torch.tensor(list(drop), dtype=torch.bool, device=mask.device)
        removed = mask[rows].sum()
        mask[rows] = 0
        self._out["num_items_in_batch"] = (
            self._out["num_items_in_batch"] - self._trainer.accelerator.gather(removed).sum()
        )
        return int(rows.sum())


class HookedGRPOTrainer(GRPOTrainer):
    """GRPOTrainer with two named hooks over TRL's private methods; subclasses override the hooks only."""

    @property
    def group_size(self) -> int:
        return self.num_generations

    @property
    def local_generation_batch(self) -> int:
        """Completions one process generates (and scores) at once."""
        return self.args.per_device_train_batch_size * self.args.steps_per_generation

    def repeat_order(self) -> RepeatOrder:
        return RepeatOrder(
            mini_repeat_count=self.num_generations,
            batch_size=self.args.generation_batch_size // self.num_generations,
            repeat_count=self.num_iterations * self.args.steps_per_generation,
            shuffle=self.shuffle_dataset,
            seed=self.args.seed,
        )

    def train_sampler(self, dataset, order: RepeatOrder):
        """The training sampler; None keeps TRL's RepeatSampler."""
        return None

    def on_scored_batch(self, batch: ScoredBatch) -> None:
        """Called with every training batch after scoring (rewards, advantages), before any loss step."""

    # -- TRL's private methods (TRL 1.16) --------------------------------------------------------

    def _get_train_sampler(self, dataset=None):
        dataset = dataset if dataset is not None else self.train_dataset
        sampler = self.train_sampler(dataset, self.repeat_order())
        return sampler if sampler is not None else super()._get_train_sampler(dataset)

    def _generate_and_score_completions(self, inputs):
        out = super()._generate_and_score_completions(inputs)
        if self.model.training:  # evaluation batches are scored too; the hooks shape training only
            self.on_scored_batch(ScoredBatch(self, out))
        return out


def set_sampling_temperature(trainer: GRPOTrainer, t: float) -> None:
    """Make the trainer's next generations sample at temperature `t`, and its policy loss score them at `t`.

    Sampling: `generation_config` (what `model.generate` receives) and `generation_kwargs` (which override
    the model's own generation config) for the transformers backend, `vllm_generation.temperature` for
    vLLM. Scoring: TRL computes the loss's log-probabilities in a fused LM head that divides the logits by
    the temperature the trainer was *built* with. Left there, an annealed run scores samples drawn at
    0.6 as if drawn at 1.0; with vLLM the importance-sampling correction then multiplies every
    sequence's loss by exp(sum of log p_1.0 - log p_0.6 over its tokens), which vanishes (or, masked
    above its cap, is zeroed) for long sequences: the annealed part of training stops learning.
    """
    trainer.temperature = t
    if getattr(trainer, "generation_config", None) is not None:
        trainer.generation_config.temperature = t
        trainer.generation_kwargs["temperature"] = t
    if getattr(trainer, "vllm_generation", None) is not None:
        trainer.vllm_generation.temperature = t
    for model in (trainer.model, trainer.ref_model):
        if model is not None:
            _set_fused_head_temperature(_fused_head_owner(trainer, model), t)


def log_metric(trainer: GRPOTrainer, name: str, value: float) -> None:
    """Add `value` to the metrics of the current step (the channel TRL gives reward functions as
    `log_metric`): it is averaged over the logging window and reaches every logger and the log history."""
    trainer._log_metric(name, value)


def _fused_head_owner(trainer: GRPOTrainer, model):
    """The module TRL patched with `add_fused_lm_head` (PEFT: the base model, as TRL does)."""
    from accelerate.utils import is_peft_model

    model = trainer.accelerator.unwrap_model(model)
    return model.get_base_model() if is_peft_model(model) else model


def _set_fused_head_temperature(model, t: float) -> None:
    # TRL 1.16's add_fused_lm_head replaces `model.forward` with a method whose function closes over
    # `temperature` (functools.wraps gives it the name "forward"; its code keeps "_fused_forward"); the
    # cell is rewritten in place (re-patching would stack wrappers every step).
    fn = getattr(model.forward, "__func__", None)
    code = getattr(fn, "__code__", None)
    if code is None or code.co_name != "_fused_forward" or "temperature" not in code.co_freevars:
        raise RuntimeError(
            f"TRL {trl.__version__}: the fused LM head is not where train/trl_adapter.py expects it; "
            "the loss temperature cannot follow the annealed sampling temperature"
        )
    fn.__closure__[code.co_freevars.index("temperature")].cell_contents = float(t)
