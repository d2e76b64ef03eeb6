"""Typed configuration of `synth generate`. The command's options are generated from these fields
(lakehouse/options.py); each backend reads only its own config (sampling/config.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.options import opt
from sampling.config import Backends, BatchConfig, HFConfig, OpenAIConfig, VLLMConfig
from sampling.prompts import DEFAULT_INSTRUCTION
from scale.shards import parse_shard


@dataclass
class GenerateConfig:
    lake: Path = opt(Path("lake"), "--lake", "Lake directory.")
    teacher: str = opt(
        "procedural",
        "--teacher",
        "procedural[:styles] | openai:MODEL | openai-batch:MODEL | vllm:PATH | vllm-batch:PATH | hf:PATH",
    )
    run: str = opt("default", "--run", "Run name; re-running a run finishes what is missing.")
    samples: int = opt(8, "--samples", "Rollouts per problem.")
    temperature: float = opt(0.8, "--temperature", "Sampling temperature.")
    top_p: float = opt(0.95, "--top-p", "Nucleus sampling mass.")
    max_tokens: int = opt(
        32768, "--max-tokens", "Completion tokens per sample (long-CoT budget: the paper's 32K)."
    )
    seed: int = opt(0, "--seed", "Run seed; each sample's seed derives from it (sampling.prompts).")
    limit: int | None = opt(None, "--limit", "At most this many problems (after sharding).")
    shard: tuple[int, int] = opt(
        (0, 1), "--shard", "I/N: this worker's deterministic slice of the problems (default 0/1).",
        parse=parse_shard,
    )  # fmt: skip
    instruction: str = opt(DEFAULT_INSTRUCTION, "--instruction", "Instruction appended to each problem.")
    system_prompt: str | None = opt(None, "--system-prompt", "System message sent before the problem.")
    # the completion cache (synth/reuse.py): same teacher, messages, sampling parameters, seed, sample_idx
    reuse: bool = opt(True, "--reuse/--no-reuse", "Reuse completions other runs already have (no cost).")
    openai: OpenAIConfig = field(default_factory=OpenAIConfig)
    vllm: VLLMConfig = field(default_factory=VLLMConfig)
    hf: HFConfig = field(default_factory=HFConfig)
    batch: BatchConfig = field(default_factory=BatchConfig)
    # scale-out (synth/executors.py)
    executor: str = opt("none", "--executor", "none | local | slurm | ray (runs --tasks shards).")
    tasks: int = opt(1, "--tasks", "Shard tasks the executor runs.")
    workers: int = opt(-1, "--workers", "Tasks running at once (-1: all).")
    slurm_partition: str | None = opt(None, "--slurm-partition", "Slurm partition (--executor slurm).")
    slurm_time: str = opt("24:00:00", "--slurm-time", "Slurm time limit per task.")
    slurm_qos: str = opt("", "--slurm-qos", "Slurm QOS ('' = the partition's default).")
    cpus_per_task: int = opt(1, "--cpus-per-task", "CPUs per shard task (slurm, ray).")
    # per shard worker (e.g. 8 for a vllm: teacher with --tensor-parallel-size 8)
    gpus_per_task: int = opt(0, "--gpus-per-task", "GPUs per shard task (slurm, ray).")
    progress: bool = opt(True, "--progress/--no-progress", "Show a progress bar.")

    def backends(self) -> Backends:
        return Backends(openai=self.openai, vllm=self.vllm, hf=self.hf, batch=self.batch)
