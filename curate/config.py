"""Typed configuration of the curation pipeline: defaults < curate.yaml < command-line options."""

from __future__ import annotations

import dataclasses
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import yaml

from lakehouse.errors import UserError
from lakehouse.options import opt
from problemsets.registry import Benchmark, resolve

DEFAULT_YAML = Path(__file__).with_name("curate.yaml")


@dataclass
class DedupConfig:
    near_dup: bool = opt(
        True, "--near-dup/--no-near-dup", "MinHash near-duplicate dedup after the exact one."
    )
    n_grams: int = opt(5, "--n-grams", "Words per shingle.")
    # 16 x 7 = 112 hashes (as many as datatrove's 14 x 8) but P(found) at Jaccard 0.8 is 97.7% (14 x 8: 92.4%)
    bands: int = opt(16, "--bands", "MinHash LSH bands.")
    # 50% detection at (1/bands)^(1/rows) = 0.67
    rows: int = opt(7, "--rows", "Hashes per band.")
    seed: int = opt(1, "--seed", "MinHash seed.")
    # True maps every number to 0 (datatrove's default; wrong for maths)
    norm_numbers: bool = opt(False, "--norm-numbers/--no-norm-numbers", "Map every number to 0 first.")
    same_math_tokens: bool = opt(
        True,
        "--same-math-tokens/--any-math-tokens",
        "A near-duplicate must have the same numbers and symbols.",
    )
    executor: str = opt("local", "--executor", "local | slurm | ray (datatrove executor).")
    # signature/filter tasks; the buckets step runs one task per band
    tasks: int = opt(1, "--tasks", "Parallel signature/filter tasks.")
    workers: int = opt(1, "--workers", "Local executor: tasks running at once.")
    slurm_partition: str | None = opt(None, "--slurm-partition", "Slurm partition of the dedup jobs.")
    slurm_time: str = opt("2:00:00", "--slurm-time", "Slurm time limit per job.")
    slurm_qos: str = opt("", "--slurm-qos", "Slurm QOS of the dedup jobs (empty: the partition's default).")


@dataclass
class DecontamConfig:
    # registered names, `all` (every shipped set + $MINIREASON_BENCHMARKS), or files (problemsets.registry)
    benchmarks: list[str] = field(
        default_factory=lambda: ["all"],
        metadata={
            "flag": "--benchmarks",
            "help": "Registered names, a comma list, all, or files (repeatable; default: all). "
            "See `curate benchmarks`.",
        },
    )
    # a benchmark item shorter than this must match a training problem whole
    n_gram: int = opt(13, "--ngram", "Overlap unit in words.")
    examples: int = opt(3, "--examples", "Example pairs kept per benchmark in the report.")
    # The rule (measured on MATH train + AIME 1983-2023 against the shipped sets; docs/decontamination.md):
    # an n-gram held by more than `max_item_df` benchmark items is boilerplate and carries no evidence; a
    # problem is contaminated when it holds at least `min_coverage` of a benchmark item's other n-grams,
    # or shares one of them and its word sequence is at least `min_similarity` alike (difflib ratio).
    max_item_df: int = opt(2, "--max-item-df", "An n-gram more benchmark items hold is boilerplate.")
    min_coverage: float = opt(0.5, "--min-coverage", "Share of an item's n-grams a copy holds.")
    min_similarity: float = opt(0.75, "--min-similarity", "Or: word-sequence ratio of a copy.")

    def benchmark_sets(self) -> list[Benchmark]:
        return resolve(self.benchmarks)


@dataclass
class FilterConfig:
    require_stop: bool = True  # finish_reason must be "stop"
    require_boxed: bool = True  # a \boxed{} answer present
    require_reasoning: bool = True  # a reasoning block present (field or <think> block)
    require_answer: bool = True  # non-empty visible answer after the reasoning
    min_tokens: int = 0  # completion_tokens bounds (whitespace words when the teacher gave no count)
    max_tokens: int | None = None
    repetition_ngram: int = 8  # words per n-gram in the repetition check
    max_repetition: float = 0.5  # drop when more than this share of n-grams are repeats (runaway loops)
    # The training stage's bound ahead of time: drop traces whose prompt + assistant turn is longer than
    # `max_length` tokens of the student's tokenizer (a checkpoint dir or a tokenizer.json). The chat
    # markup is not counted: `train mid|sft` still check the exact templated length.
    max_length: int | None = None
    student_tokenizer: str | None = None


DPO_CHOSEN = ("shortest", "sample")


@dataclass
class ViewsConfig:
    sft_k: int = 2  # at most k correct traces per problem (shortest first)
    sft_band: tuple[float, float] = (0.0, 1.0)  # preferred pass-rate band (inclusive)
    sft_outside_band: bool = True  # False: drop problems outside the band; True: rank them after
    sft_max_rows: int | None = None
    dpo_max_pairs: int = 2  # per problem; each rollout is used in at most one pair
    dpo_length_ratio: float | None = None  # e.g. 1.5: longer/shorter of a pair at most this
    dpo_chosen: str = "shortest"  # shortest | sample: the order in which correct rollouts become chosen
    rl_band: tuple[float, float] = (0.01, 0.5)  # teacher pass rate kept (inclusive); > 0.5 is too easy
    rl_hard_below: float = 0.25  # pass rate at or below which a prompt counts as hard
    rl_hard_repeat: int = 2  # rows per hard prompt (reward rebalancing: oversample hard prompts)


@dataclass
class CurateConfig:
    lake: Path = Path("lake")
    verify: bool = True  # `curate run` verifies new traces first
    progress: bool = True
    dedup: DedupConfig = field(default_factory=DedupConfig)
    decontam: DecontamConfig = field(default_factory=DecontamConfig)
    filters: FilterConfig = field(default_factory=FilterConfig)
    views: ViewsConfig = field(default_factory=ViewsConfig)


def load_config(path: Path | None = None, lake: Path | None = None) -> CurateConfig:
    """The shipped defaults, then `path` (a curate.yaml), then the --lake option."""
    cfg = from_dict(CurateConfig, _read_yaml(DEFAULT_YAML), "curate.yaml")
    if path is not None:
        cfg = from_dict(CurateConfig, _read_yaml(path), str(path), base=cfg)
    if lake is not None:
        cfg.lake = Path(lake)
    return cfg


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except FileNotFoundError:
        raise UserError(f"config file {path} not found") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise UserError(f"{where}: not valid YAML") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of settings")
    return data


def from_dict(cls, data: dict, where: str, base: Any = None):
    """Build dataclass `cls` from a mapping, on top of `base`; unknown keys are a one-line error."""
    obj = base if base is not None else cls()
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key, value in data.items():
        if key not in names:
            raise UserError(f"{where}: unknown setting {key!r} (known: {', '.join(sorted(names))})")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise UserError(f"{where}: {key} must be a mapping")
            setattr(obj, key, from_dict(type(current), value, f"{where}: {key}", base=current))
        else:
            setattr(obj, key, _coerce(hints[key], value, f"{where}: {key}"))
    return obj


def _coerce(hint, value, where: str):
    """Check/convert one YAML value against its dataclass field type."""
    if get_origin(hint) in (Union, types.UnionType):
        if value is None and type(None) in get_args(hint):
            return None
        hint = next(a for a in get_args(hint) if a is not type(None))
    if value is None:
        raise UserError(f"{where} must not be empty")
    origin, args = get_origin(hint), get_args(hint)
    if origin is tuple:
        if not isinstance(value, list | tuple) or len(value) != len(args):
            raise UserError(f"{where} must be a list of {len(args)} values")
        return tuple(_coerce(a, v, where) for a, v in zip(args, value, strict=True))
    if origin is list:
        return [_coerce(args[0], v, where) for v in (value if isinstance(value, list) else [value])]
    if hint is Path:
        return Path(str(value))
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise UserError(f"{where} must be {hint.__name__}, got {value!r}")
    return value


# (section, key, command-line flag or None, lowest allowed value): every count the pipeline divides by,
# loops over or slices with. Checked before any step writes (and before any work folder is made).
_AT_LEAST = [
    ("dedup", "n_grams", "--n-grams", 1), ("dedup", "bands", "--bands", 1), ("dedup", "rows", "--rows", 1),
    ("dedup", "tasks", "--tasks", 1), ("dedup", "workers", "--workers", 1),
    ("decontam", "n_gram", "--ngram", 1), ("decontam", "examples", None, 0), ("decontam", "max_item_df", None, 1),
    ("filters", "min_tokens", None, 0), ("filters", "max_tokens", None, 1), ("filters", "repetition_ngram", None, 1),
    ("views", "sft_k", None, 1), ("views", "sft_max_rows", None, 1), ("views", "dpo_max_pairs", None, 1),
    ("views", "rl_hard_repeat", None, 1),
]  # fmt: skip
_BANDS = [("views", "sft_band"), ("views", "rl_band")]
_FRACTIONS = [
    ("decontam", "min_coverage"), ("decontam", "min_similarity"), ("filters", "max_repetition"),
    ("views", "rl_hard_below"),
]  # fmt: skip


def check(cfg: CurateConfig) -> None:
    """Refuse settings no step can run with, as one line naming the setting (and its flag)."""
    for section, key, flag, least in _AT_LEAST:
        value = getattr(getattr(cfg, section), key)
        if value is not None and value < least:
            also = f" ({flag})" if flag else ""
            raise UserError(f"{section}.{key}{also} must be >= {least}, got {value}")
    for section, key in _FRACTIONS:
        value = getattr(getattr(cfg, section), key)
        if not 0 <= value <= 1:
            raise UserError(f"{section}.{key} must be between 0 and 1, got {value}")
    for section, key in _BANDS:
        low, high = getattr(getattr(cfg, section), key)
        if not 0 <= low <= high <= 1:
            raise UserError(
                f"{section}.{key} must be [low, high] with 0 <= low <= high <= 1, got [{low}, {high}]"
            )
    if cfg.views.dpo_chosen not in DPO_CHOSEN:
        raise UserError(
            f"views.dpo_chosen must be one of {', '.join(DPO_CHOSEN)}, got {cfg.views.dpo_chosen!r}"
        )
    if cfg.views.dpo_length_ratio is not None and cfg.views.dpo_length_ratio < 1:
        raise UserError(f"views.dpo_length_ratio must be >= 1, got {cfg.views.dpo_length_ratio}")
