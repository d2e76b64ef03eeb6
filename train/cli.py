"""`train mid|sft|dpo|grpo|eval`: the four training stages over TRL, and evaluation.

The stages parse with TRL's parser (defaults < YAML `--config` < command line), so every TRL/transformers
training argument is accepted as `--name value`. `eval` is a typer command.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

import typer

from lakehouse.cli import fail, user_errors
from lakehouse.errors import UserError
from lakehouse.options import options_from
from train.eval import EvalConfig

USAGE = """usage: train {mid,sft,dpo,grpo,eval} [options]

Train the student stage by stage on the lake's views, then evaluate it.

  mid    distillation mid-training (SFT, packed) on LAKE/views/mid
  sft    distillation SFT (not packed) on LAKE/views/sft
  dpo    rollout DPO on LAKE/views/dpo, reference = the SFT checkpoint
  grpo   GRPO with verifiable rewards and the paper's stabilisers on LAKE/views/rl
  eval   pass@1 ± s.e., pass@k, maj@k on registered benchmarks; appends rows to LAKE/evals

example (tiny CPU student, four stages then eval):
  train mid  --config train/configs/mid-tiny.yaml
  train sft  --config train/configs/sft-tiny.yaml  --model checkpoints/mid-tiny
  train dpo  --config train/configs/dpo-tiny.yaml  --model checkpoints/sft-tiny
  train grpo --config train/configs/grpo-tiny.yaml --model checkpoints/dpo-tiny
  train eval --model checkpoints/grpo-tiny --benchmark builtin:chain --n 100 --samples 4 --stage grpo

`train <stage> --help` lists every option (ours, then TRL's)."""


@dataclass(frozen=True)
class Stage:
    module: str  # has main(cfg: StageRun)
    config: str  # TRL config class name
    view: str


STAGES: dict[str, Stage] = {
    "mid": Stage("train.mid", "SFTConfig", "mid"),
    "sft": Stage("train.sft", "SFTConfig", "sft"),
    "dpo": Stage("train.dpo", "DPOConfig", "dpo"),
    "grpo": Stage("train.grpo", "GRPOConfig", "rl"),
}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in ("-h", "--help"):
        print(USAGE)
        return
    if not argv:  # a mistake, not a request for help: say so and exit 2 (`train --help` shows the usage)
        fail("a command is required: train {mid,sft,dpo,grpo,eval} [options] (see `train --help`)")
    command, rest = argv[0], argv[1:]
    if command == "eval":
        eval_app(args=rest, prog_name="train eval")
        return
    if command not in STAGES:
        fail(f"unknown command {command!r}; choose one of: mid, sft, dpo, grpo, eval")
    try:
        cfg = parse_stage(command, rest)
        importlib.import_module(STAGES[command].module).main(cfg)
    except UserError as e:
        fail(str(e))
    _release_process_group()


def _release_process_group() -> None:
    """Under `accelerate launch`, each rank waits for the others and tears the process group down itself:
    left to interpreter shutdown, gloo's threads can abort a rank that has finished its work (SIGABRT,
    "terminate called without an active exception"; seen once in a CI run), failing the launch."""
    dist = sys.modules.get("torch.distributed")  # only loaded when a stage ran
    if dist is not None and dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def parse_stage(command: str, argv: list[str]):
    """argv -> StageRun for `command`; bad config files/keys are user errors."""
    config = _config_path(argv)
    if config is not None and not config.is_file():
        raise UserError(f"config file {config} not found")  # before the slow TRL import
    if config is not None:
        _check_yaml(config)
    import torch
    import trl
    from trl import TrlParser

    from train.config import ScriptArgs, Stabilisers, StageRun

    stage = STAGES[command]
    types = [ScriptArgs, getattr(trl, stage.config)] + ([Stabilisers] if command == "grpo" else [])
    parser = TrlParser(
        types,
        prog=f"train {command}",
        epilog=f"example: train {command} --config train/configs/{command}-tiny.yaml --max_steps 5",
    )
    # lowest priority: safe settings for this machine (TRL defaults to bf16 + gradient checkpointing)
    defaults = {"output_dir": f"checkpoints/{command}", "report_to": "none"}
    if not torch.cuda.is_available():
        defaults |= {"bf16": False, "activation_checkpointing": False, "use_cpu": True}
    elif command != "grpo" and importlib.util.find_spec("liger_kernel") is not None:
        defaults |= {
            "use_liger_kernel": True
        }  # fused kernels where installed (GPU only); YAML/CLI may turn off
    parser.set_defaults_with_config(**defaults)
    parser.error = lambda message: _bad_argument(config, message)  # argparse would print its usage too
    try:
        parsed = parser.parse_args_and_config(argv)
    except ValueError as e:
        raise UserError(f"{config or 'arguments'}: {str(e).splitlines()[0]}") from None
    return StageRun(*parsed[:2], stabilisers=parsed[2] if command == "grpo" else None)


def _check_yaml(config: Path) -> None:
    """A config that is not YAML, or not a mapping, is one line naming the file and line."""
    import yaml

    try:
        data = yaml.safe_load(config.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise UserError(f"{config}{f':{mark.line + 1}' if mark else ''}: not valid YAML") from None
    if data is not None and not isinstance(data, dict):
        raise UserError(f"{config}: expected a mapping of settings")


def _bad_argument(config: Path | None, message: str):
    # e.g. "argument --max_steps/--max-steps: invalid int value: 'lots'" from the YAML or the command line
    raise UserError(f"{config or 'arguments'}: {message}")


def _config_path(argv: list[str]) -> Path | None:
    if "--config" in argv and argv.index("--config") + 1 < len(argv):
        return Path(argv[argv.index("--config") + 1])
    return None


EVAL_EXAMPLE = """example:

  train eval --model checkpoints/sft-tiny --benchmark math500 --n 20 --samples 2 --max-tokens 64 --stage sft

  train eval --model checkpoints/grpo-phi --benchmark math500,aime24 --backend vllm   # each set's own k: 8, 64

  train eval --model my-served-name --backend openai --base-url http://127.0.0.1:8000/v1 --benchmark all

Benchmarks: `curate benchmarks` lists the registered sets; a .jsonl/.parquet file, hf:NAME[:SPLIT] or
builtin:FAMILY (with --n) works too.
"""

eval_app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@eval_app.command(epilog=EVAL_EXAMPLE)
@user_errors
@options_from(EvalConfig)
def evaluate(cfg: EvalConfig) -> None:
    """Evaluate a model with the paper's protocol; append pass@1 ± s.e., pass@k and maj@k to LAKE/evals."""
    from train.eval import main as run_eval

    run_eval(cfg)


if __name__ == "__main__":
    main()
