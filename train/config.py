"""Typed configs of the training stages.

A stage is configured by two dataclasses parsed together by TRL's parser (defaults < YAML < command
line): our `ScriptArgs` (what to train, on which view) and the TRL trainer's own config (SFTConfig,
DPOConfig, GRPOConfig). GRPO adds `Stabilisers`, the paper's three RL switches.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, get_type_hints

from train.tiny import TinySpec

TINY_PREFIX = "tiny_"


def tiny_options(cls: type) -> type:
    """Add a `tiny_<name>` field for every TinySpec field (applied before @dataclass), so the tiny
    student's shape is declared once, in train/tiny.py, and still parses as `--tiny_<name>` / YAML keys."""
    hints = get_type_hints(TinySpec)
    for f in fields(TinySpec):
        name = TINY_PREFIX + f.name
        cls.__annotations__[name] = hints[f.name]
        # HfArgumentParser hands metadata to argparse as keywords: pass on the help only
        setattr(cls, name, field(default=f.default, metadata={"help": f.metadata.get("help", "")}))
    return cls


def tiny_spec(script: ScriptArgs) -> TinySpec:
    return TinySpec(**{f.name: getattr(script, TINY_PREFIX + f.name) for f in fields(TinySpec)})


@dataclass
@tiny_options  # then tiny_tokenizer, tiny_hidden_size, ...: the tiny student's shape (only with --model tiny)
class ScriptArgs:
    """What to train and on which data (shared by every stage)."""

    model: str = field(
        default="tiny",
        metadata={
            "help": "Checkpoint dir or hub id to start from; 'tiny' builds a tiny Qwen2 and trains its "
            "tokenizer on the stage's data (CPU demo and tests)."
        },
    )
    lake: str = field(default="lake", metadata={"help": "Lake root; the data default is LAKE/views/<stage>."})
    data: str | None = field(default=None, metadata={"help": "View directory (parquet shards) to train on."})
    ref_model: str | None = field(
        default=None, metadata={"help": "DPO reference model; defaults to --model (the SFT checkpoint)."}
    )
    max_samples: int | None = field(
        default=None, metadata={"help": "Use at most this many rows (smoke runs)."}
    )
    save_base: str | None = field(
        default=None,
        metadata={
            "help": "mid/sft: also save the starting model (before any step) here, e.g. to evaluate "
            "the freshly built tiny model as the 'base' row of the stage table."
        },
    )
    attn_implementation: str | None = field(
        default=None, metadata={"help": "sdpa | eager | flash_attention_2 (GPU speed-up; off on CPU)."}
    )
    long_rows: str = field(
        default="drop",
        metadata={
            "help": "mid/sft rows longer than --max_length (counted with the student's tokenizer): drop "
            "(default: counted and reported), keep (the trainer truncates them: their answer is lost), "
            "error (stop)."
        },
    )


@dataclass
class Stabilisers:
    """The paper's RL stabilisers, each a switch (see train/README.md for exactly what each does)."""

    anneal_temperature: bool = field(
        default=True,
        metadata={
            "help": "Sampling temperature goes linearly from --temperature to --temperature_end over the "
            "first --anneal_fraction of steps, then stays."
        },
    )
    temperature_end: float = 0.6
    anneal_fraction: float = 0.5
    prompt_filter: bool = field(
        default=False,
        metadata={
            "help": "Before training, sample --probe_samples responses per prompt from the starting "
            "policy and keep prompts whose response lengths are uniform (CV <= --max_length_cv)."
        },
    )
    probe_samples: int = 8
    max_length_cv: float = 0.5
    oversample_hard: bool = field(
        default=False,
        metadata={"help": "Resample the prompts with weight (1 - pass_rate) + --hard_weight_floor."},
    )
    hard_weight_floor: float = 0.1
    drop_solved: bool = field(
        default=False,
        metadata={
            "help": "Stop sampling prompts the policy solves in more than --solved_threshold of its samples."
        },
    )
    solved_threshold: float = 0.5
    solved_min_samples: int = 8
    balance_negatives: bool = field(
        default=False,
        metadata={
            "help": "Per group keep all positive responses and as many negatives (the rest are masked "
            "out of the loss)."
        },
    )
    reward_timeout_s: float = field(
        default=60.0, metadata={"help": "A reward call running longer gives None (ignored) for its batch."}
    )
    verify_timeout_s: float = 5.0


@dataclass
class StageRun:
    """Everything one `train <stage>` run needs: ours, TRL's config, and (GRPO) the stabilisers."""

    script: ScriptArgs
    trainer: Any  # trl.SFTConfig | trl.DPOConfig | trl.GRPOConfig (imported lazily)
    stabilisers: Stabilisers | None = None
