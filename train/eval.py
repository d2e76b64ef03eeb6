"""`train eval`: the paper's evaluation protocol on one benchmark, one row appended to LAKE/evals.

Every sampled response also goes to LAKE/eval_samples (with its extracted answer and verdict), so that
"which levels, which problems, what kind of mistake" is a SQL query rather than a re-run.

Protocol: the boxed-answer instruction after the problem, temperature 0.6, top-p 0.95, k samples per
problem through synth's teacher backends (hf, or vllm), each scored by reward/'s Verifier.
pass@1 is the share of correct samples averaged over problems (= pass@1 averaged over the k samples);
maj@k is correct when the most frequent extracted answer (exact string after stripping; ties go to
the first seen) is a correct one.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa

from lakehouse.errors import UserError
from lakehouse.schema import EVAL_SAMPLES, EVALS
from lakehouse.store import Lake
from sampling.prompts import DEFAULT_INSTRUCTION, prompt_messages, sample_seed
from sampling.types import SampleRequest


@dataclass
class EvalConfig:
    model: str
    benchmark: str  # FILE.jsonl | FILE.parquet | builtin:FAMILY | hf:NAME[:SPLIT]
    samples: int = 8
    n: int | None = None  # problems: required for builtin sources, at most this many for files
    seed: int = 0
    backend: str = "hf"  # hf | vllm
    stage: str | None = None  # recorded in evals.stage; default: the model directory's name
    lake: Path = Path("lake")
    temperature: float = 0.6
    top_p: float = 0.95
    max_tokens: int = 32768  # the paper's budget; capped by the model's context for the hf backend
    batch_size: int = 64
    problem_field: str | None = None
    answer_field: str | None = None
    instruction: str = DEFAULT_INSTRUCTION
    verify_timeout_s: float = 5.0
    save_samples: bool = True  # every response to LAKE/eval_samples
    progress: bool = True


@dataclass
class EvalResult:
    row: dict
    correct: list[list[bool]] = field(default_factory=list)  # per problem, per sample
    preds: list[list[str | None]] = field(default_factory=list)


def main(cfg: EvalConfig) -> EvalResult:
    if cfg.samples < 1:
        raise UserError(f"--samples must be >= 1, got {cfg.samples}")
    problems = load_benchmark(cfg)
    completions = sample(cfg, problems)
    correct, preds = score(cfg, problems, completions)
    row = evals_row(cfg, problems, correct, preds)
    lake = Lake(cfg.lake)
    if cfg.save_samples:  # before the evals row: a crash in between leaves no row pointing at nothing
        lake.write(
            "eval_samples",
            pa.Table.from_pylist(
                sample_rows(row, problems, completions, correct, preds), schema=EVAL_SAMPLES
            ),
        )
    lake.write("evals", pa.Table.from_pylist([row], schema=EVALS))
    print(
        f"eval: {row['benchmark']} n={row['n']} k={row['k']}: pass@1 {row['pass_at_1']:.4f}, "
        f"maj@{row['k']} {row['maj_at_k']:.4f} ({row['model']}, stage {row['stage']}); row appended to {cfg.lake}/evals"
    )
    return EvalResult(row=row, correct=correct, preds=preds)


def load_benchmark(cfg: EvalConfig) -> list[dict]:
    from synth.problems import ProblemsConfig
    from synth.sources import load_problems

    pcfg = ProblemsConfig(
        source=cfg.benchmark,
        n=cfg.n,
        seed=cfg.seed,
        problem_field=cfg.problem_field,
        answer_field=cfg.answer_field,
    )
    problems = load_problems(cfg.benchmark, pcfg).to_pylist()
    if not problems:
        raise UserError(f"{cfg.benchmark}: no problems to evaluate")
    return problems


def requests_for(cfg: EvalConfig, problems: Sequence[dict], max_tokens: int) -> list[SampleRequest]:
    return [
        SampleRequest(
            problem_id=p["problem_id"],
            sample_idx=j,
            messages=prompt_messages(p["problem"], cfg.instruction),
            problem=p["problem"],
            answer=p["answer"],
            level=p["level"] or 0,
            temperature=cfg.temperature,
            top_p=cfg.top_p,
            max_tokens=max_tokens,
            seed=sample_seed(cfg.seed, p["problem_id"], j),
        )
        for p in problems
        for j in range(cfg.samples)
    ]


def sample(cfg: EvalConfig, problems: list[dict]) -> dict[tuple[str, int], tuple[str, str]]:
    """(problem_id, sample_idx) -> (completion text, finish_reason)."""
    from rich.progress import Progress

    teacher = make_backend(cfg)
    try:
        requests = requests_for(cfg, problems, _max_tokens(cfg, teacher))
        out: dict[tuple[str, int], tuple[str, str]] = {}
        with Progress(disable=not cfg.progress, transient=True) as bar:
            task = bar.add_task(f"sampling {len(requests)} responses", total=len(requests))
            for req, c in teacher.generate(requests):
                text = f"<think>{c.reasoning}</think>{c.completion}" if c.reasoning else c.completion
                out[(req.problem_id, req.sample_idx)] = (text, c.finish_reason)
                bar.advance(task)
        return out
    finally:
        teacher.close()


def make_backend(cfg: EvalConfig):
    from sampling.config import Backends, HFConfig, VLLMConfig
    from sampling.registry import make_backend as make

    if cfg.backend not in ("hf", "vllm"):
        raise UserError(f"unknown backend {cfg.backend!r} (hf | vllm)")
    if not Path(cfg.model).exists() and "/" not in cfg.model:
        raise UserError(f"model {cfg.model!r} not found")
    backends = Backends(hf=HFConfig(batch_size=cfg.batch_size), vllm=VLLMConfig(batch_size=cfg.batch_size))
    return make(f"{cfg.backend}:{cfg.model}", backends, seed=cfg.seed)


def _max_tokens(cfg: EvalConfig, teacher) -> int:
    """The hf backend cannot generate past the model's positions: cap the budget there."""
    model = getattr(teacher, "model", None)
    limit = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    return min(cfg.max_tokens, limit // 2) if limit else cfg.max_tokens


def score(cfg: EvalConfig, problems: list[dict], completions: dict) -> tuple[list[list[bool]], list[list]]:
    from reward.verify import Verifier

    keys = [(p["problem_id"], j, p["answer"]) for p in problems for j in range(cfg.samples)]
    with Verifier(timeout_s=cfg.verify_timeout_s) as verifier:
        items = ((gold, *completions[(pid, j)]) for pid, j, gold in keys)
        verdicts = list(verifier.check_many(items, progress=cfg.progress))
    k = cfg.samples
    correct = [[v.correct for v in verdicts[i * k : (i + 1) * k]] for i in range(len(problems))]
    preds = [[v.pred for v in verdicts[i * k : (i + 1) * k]] for i in range(len(problems))]
    return correct, preds


def pass_at_1(correct: Sequence[Sequence[bool]]) -> float:
    return sum(sum(c) / len(c) for c in correct) / len(correct)


def majority_correct(preds: Sequence[str | None], correct: Sequence[bool]) -> bool:
    """Is the most frequent answer (None = no answer, never voted) a correct one?"""
    votes = Counter(p.strip() for p in preds if p is not None and p.strip())
    if not votes:
        return False
    top = max(votes.values())
    winner = next(p.strip() for p in preds if p is not None and p.strip() and votes[p.strip()] == top)
    return any(ok for p, ok in zip(preds, correct, strict=True) if p is not None and p.strip() == winner)


def maj_at_k(preds: Sequence[Sequence[str | None]], correct: Sequence[Sequence[bool]]) -> float:
    return sum(majority_correct(p, c) for p, c in zip(preds, correct, strict=True)) / len(correct)


def evals_row(cfg: EvalConfig, problems: list[dict], correct: list[list[bool]], preds: list[list]) -> dict:
    from synth.sources import source_name

    return {
        "model": cfg.model,
        "stage": cfg.stage or Path(cfg.model).name,
        "benchmark": source_name(cfg.benchmark),
        "k": cfg.samples,
        "pass_at_1": pass_at_1(correct),
        "maj_at_k": maj_at_k(preds, correct),
        "n": len(problems),
        "created_at": datetime.now(timezone.utc),
    }


def sample_rows(
    row: dict, problems: list[dict], completions: dict, correct: list[list[bool]], preds: list[list]
) -> list[dict]:
    """The eval_samples rows of one evaluation: its evals row's keys, then one row per response."""
    keys = {k: row[k] for k in ("model", "stage", "benchmark", "created_at")}
    out = []
    for p, oks, answers in zip(problems, correct, preds, strict=True):
        for j, (ok, pred) in enumerate(zip(oks, answers, strict=True)):
            text, finish = completions[(p["problem_id"], j)]
            out.append(
                {
                    **keys,
                    "problem_id": p["problem_id"],
                    "level": p["level"],
                    "sample_idx": j,
                    "problem": p["problem"],
                    "answer": p["answer"],
                    "completion": text,
                    "finish_reason": finish,
                    "pred": pred,
                    "correct": ok,
                }
            )
    return out


def _seed(seed: int, problem_id: str, sample_idx: int) -> int:
    return int(hashlib.sha256(f"{seed}:{problem_id}:{sample_idx}".encode()).hexdigest()[:8], 16)
