"""`train eval`: the paper's evaluation protocol on one or more benchmarks, one row per benchmark in LAKE/evals.

Benchmarks are registered names (`math500`, `aime24`, ..., see `curate benchmarks`), comma lists, `all`, or
files (problemsets.registry). Each is evaluated under its own protocol unless the command line overrides
it: k samples per problem (64 for AIME, 8 otherwise), temperature 0.6, top-p 0.95, 32,768 tokens, the
boxed instruction after the problem. Responses come from a backend (hf: a local checkpoint; vllm; openai:
any OpenAI-compatible endpoint through the same client the teachers use) and are scored by reward's
Verifier in the `lenient` extraction mode by default.

For each benchmark the row holds pass@1 with its standard error over problems, the unbiased pass@k for
k = 1, 2, 4, ..., k, maj@k and the eval fingerprint (train/eval_fingerprint.py). Every sampled response
also goes to LAKE/eval_samples (with its extracted answer and verdict), so that "which levels, which
problems, what kind of mistake" is a SQL query rather than a re-run. Nothing is written until every
benchmark has been scored: a bad input or a failure leaves the lake as it was.

One evaluation can be spread over workers: `--shard I/N` evaluates a fixed slice of the problems and
appends its responses to LAKE/eval_samples only (train/eval_shard.py); `--merge N` checks that all N
shards are there and writes the one evals row (train/eval_merge.py); `--executor local|slurm|ray --tasks N`
runs the N shards on datatrove's executors, then merges (train/eval_executors.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa

from lakehouse.errors import UserError
from lakehouse.options import opt
from lakehouse.schema import EVAL_SAMPLES, EVALS
from lakehouse.store import Lake
from problemsets.registry import Benchmark, resolve
from reward.extract import EXTRACTION_MODES
from reward.judge import Case, Judge, JudgeConfig, judge_name, rejudge
from sampling.prompts import DEFAULT_INSTRUCTION, assistant_text, prompt_messages, sample_seed
from sampling.types import SampleRequest
from scale import EXECUTORS
from scale.shards import parse_shard
from train import eval_fingerprint as fp
from train.eval_metrics import maj_at_k, pass_at_1, pass_at_k, standard_error
from train.eval_shard import complete_write, eval_run_id, expected_keys, shard_slice

BACKENDS = ("hf", "vllm", "openai")


@dataclass
class EvalConfig:
    """`train eval`'s settings; its command-line options are generated from these fields."""

    model: str = field(
        metadata={
            "flag": "--model",
            "help": "Checkpoint directory or hub id (hf, vllm); served model name (openai).",
        }
    )
    benchmark: str = opt(
        "math500",
        "--benchmark",
        "Registered names (comma list), all, FILE.jsonl|.parquet, hf:NAME[:SPLIT], builtin:FAMILY.",
    )
    samples: int | None = opt(
        None, "--samples", "k responses per problem (default: the set's, 64 AIME / 8 otherwise)."
    )
    n: int | None = opt(
        None, "--n", "Problems: required for builtin sources; at most this many (seeded) otherwise."
    )
    seed: int = opt(0, "--seed", "Seed of the per-sample seeds (and of sampling --n problems).")
    backend: str = opt("hf", "--backend", "hf | vllm | openai")
    base_url: str | None = opt(
        None, "--base-url", "openai backend: the endpoint, e.g. http://127.0.0.1:8000/v1."
    )
    api_key_env: str = opt("OPENAI_API_KEY", "--api-key-env", "openai backend: variable holding the API key.")
    concurrency: int = opt(16, "--concurrency", "openai backend: requests in flight.")
    stage: str | None = opt(
        None, "--stage", "Stage name recorded in the evals table (default: model dir name)."
    )
    lake: Path = opt(Path("lake"), "--lake", "Lake root; the rows go to LAKE/evals.")
    temperature: float | None = opt(None, "--temperature", "Default: the set's (0.6).")
    top_p: float | None = opt(None, "--top-p", "Default: the set's (0.95).")
    max_tokens: int | None = opt(
        None, "--max-tokens", "Budget per response (default: the set's, 32768; hf: capped)."
    )
    batch_size: int = opt(64, "--batch-size", "Requests per generate() batch (hf, vllm).")
    problem_field: str | None = opt(
        None, "--problem-field", "Field holding the problem (default: the set's)."
    )
    answer_field: str | None = opt(None, "--answer-field", "Field holding the answer (default: the set's).")
    instruction: str | None = opt(
        None, "--instruction", "Appended to each problem (default: the paper's boxed one)."
    )
    extraction: str = opt(
        "lenient", "--extraction", "lenient: boxed, answer phrases, last expression; strict: boxed."
    )
    verify_timeout_s: float = opt(5.0, "--verify-timeout", "Hard limit per verification, seconds.")
    # the LLM judge behind math-verify (reward/judge.py), on its own endpoint; recorded in the fingerprint
    judge: str | None = opt(None, "--judge", "openai:MODEL: an LLM judge where math-verify cannot decide.")
    judge_base_url: str | None = opt(None, "--judge-base-url", "The judge's OpenAI-compatible endpoint.")
    judge_api_key_env: str = opt("OPENAI_API_KEY", "--judge-api-key-env", "Variable holding the judge's key.")
    save_samples: bool = opt(
        True,
        "--save-samples/--no-save-samples",
        "Also append every response with its verdict to LAKE/eval_samples.",
    )
    progress: bool = opt(True, "--progress/--no-progress", "Progress bars on a terminal.")
    # one evaluation over several workers (train/eval_shard.py, eval_merge.py, eval_executors.py)
    shard: tuple[int, int] | None = opt(
        None,
        "--shard",
        "I/N: evaluate only this worker's slice of the problems; its responses go to LAKE/eval_samples, "
        "the evals row comes from --merge N.",
        parse=parse_shard,
    )
    merge: int | None = opt(
        None, "--merge", "N: check that all N shards are in LAKE/eval_samples, write their one evals row."
    )
    executor: str = opt("none", "--executor", "none | local | slurm | ray: run --tasks shards, then merge.")
    tasks: int = opt(1, "--tasks", "Shard tasks the executor runs.")
    workers: int = opt(-1, "--workers", "Tasks running at once (-1: all).")
    slurm_partition: str | None = opt(None, "--slurm-partition", "Slurm partition (--executor slurm).")
    slurm_time: str = opt("24:00:00", "--slurm-time", "Slurm time limit per task.")
    slurm_qos: str = opt("", "--slurm-qos", "Slurm QOS ('' = the partition's default).")
    cpus_per_task: int = opt(1, "--cpus-per-task", "CPUs per shard task (slurm, ray).")
    gpus_per_task: int = opt(0, "--gpus-per-task", "GPUs per shard task (slurm, ray).")
    # problem source options (problemsets.SourceOptions) that evaluation does not offer
    exclude: list[Path] = field(default_factory=list, metadata={"cli": False})
    levels: tuple[int, ...] = field(default=(1, 2, 3, 4, 5), metadata={"cli": False})
    level_field: str | None = field(default=None, metadata={"cli": False})
    on_bad_row: str = field(
        default="error", metadata={"cli": False}
    )  # a benchmark with a bad row is not evaluated


@dataclass(frozen=True)
class Protocol:
    """How one benchmark is sampled: its registered protocol with the command line's overrides."""

    k: int
    temperature: float
    top_p: float
    max_tokens: int
    instruction: str


@dataclass
class BenchmarkResult:
    benchmark: Benchmark
    protocol: Protocol
    problems: list[dict]
    completions: dict[tuple[str, int], tuple[str, str]]  # (problem_id, sample_idx) -> (text, finish)
    correct: list[list[bool]]  # per problem, per sample
    preds: list[list[str | None]]
    fingerprint: fp.Fingerprint
    row: dict = field(default_factory=dict)


@dataclass
class EvalResult:
    rows: list[dict]
    results: list[BenchmarkResult]

    @property
    def row(self) -> dict:  # the only row of a one-benchmark evaluation
        return self.rows[0]

    @property
    def correct(self) -> list[list[bool]]:
        return self.results[0].correct

    @property
    def preds(self) -> list[list[str | None]]:
        return self.results[0].preds


def main(cfg: EvalConfig) -> EvalResult:
    check(cfg)
    if cfg.executor != "none":
        from train.eval_executors import run_sharded

        return run_sharded(cfg)
    if cfg.merge is not None:
        from train.eval_merge import merge

        return merge(cfg)
    benchmarks = resolve(cfg.benchmark)
    loaded = [(b, protocol_for(cfg, b), load_benchmark(cfg, b)) for b in benchmarks]  # bad input fails here
    lake = Lake(cfg.lake)  # a lake path that is a file fails before any sampling
    earlier = lake.read("evals").to_pylist() if lake.has("evals") else []
    identity = model_identity(cfg)
    shard = cfg.shard or (0, 1)
    run = eval_run(cfg, loaded, identity, shard[1])
    if cfg.shard is not None and (done := _shard_done(cfg, lake, run, loaded)) is not None:
        print(done)  # a re-submitted shard that already wrote: nothing to sample, nothing to write
        return EvalResult(rows=[], results=[])
    backend = make_backend(cfg)
    try:
        # unsharded: the problems in their load order, the order the merge also scores them in
        parts = [shard_slice(problems, shard) if cfg.shard else None for _, _, problems in loaded]
        results = [
            evaluate(cfg, backend, identity, *item, part=part)
            for item, part in zip(loaded, parts, strict=True)
        ]
    finally:
        backend.close()
    created = datetime.now(timezone.utc)
    for r in results:
        r.row = evals_row(cfg, r, created, run)
    if cfg.save_samples:  # before the evals rows: a crash in between leaves no row pointing at nothing
        samples = [s for r in results for s in sample_rows(r, run, shard)]
        lake.write("eval_samples", pa.Table.from_pylist(samples, schema=EVAL_SAMPLES))
    if cfg.shard is not None:  # the row is the merge's: it needs every shard's verdicts
        print(shard_report(results, cfg, run, len(samples)))
        return EvalResult(rows=[], results=results)
    rows = [r.row for r in results]
    lake.write("evals", pa.Table.from_pylist(rows, schema=EVALS))
    print(report(results, earlier, cfg))
    return EvalResult(rows=rows, results=results)


def eval_run(cfg: EvalConfig, loaded: list, identity: dict, shards: int) -> str:
    """This evaluation's id (train/eval_shard.py), from the fingerprints as requested: no backend needed."""
    digests = [fingerprint(cfg, identity, b, protocol, problems).digest() for b, protocol, problems in loaded]
    return eval_run_id(digests, stage_of(cfg), shards)


def _shard_done(cfg: EvalConfig, lake: Lake, run: str, loaded: list) -> str | None:
    """The line to print when this shard has nothing to do: its slice is empty, or one write of it is
    already in LAKE/eval_samples (see eval_shard.complete_write)."""
    i, n = cfg.shard
    expected = expected_keys([(b.name, p.k, problems) for b, p, problems in loaded], cfg.shard)
    if not expected:
        return f"eval shard {i}/{n} of run {run}: no problems in this slice; nothing to do"
    if lake.has("eval_samples"):
        rows = _run_rows(
            lake, run, ["eval_run", "shard", "benchmark", "problem_id", "sample_idx", "created_at"]
        )
        if complete_write(rows, i, expected) is not None:
            return (
                f"eval shard {i}/{n} of run {run}: its {len(expected)} responses are already in "
                f"{cfg.lake}/eval_samples; nothing to do"
            )
    return None


def _run_rows(lake: Lake, run: str, columns: list[str] | None = None) -> list[dict]:
    import pyarrow.compute as pc

    table = lake.read("eval_samples", columns)
    return table.filter(pc.equal(table.column("eval_run"), run)).to_pylist()


def check(cfg: EvalConfig) -> None:
    """Bad options are one-line errors before anything loads."""
    if cfg.samples is not None and cfg.samples < 1:
        raise UserError(f"--samples must be >= 1, got {cfg.samples}")
    if cfg.n is not None and cfg.n < 1:
        raise UserError(f"--n must be >= 1, got {cfg.n}")
    if cfg.max_tokens is not None and cfg.max_tokens < 1:
        raise UserError(f"--max-tokens must be >= 1, got {cfg.max_tokens}")
    if cfg.temperature is not None and cfg.temperature < 0:
        raise UserError(f"--temperature must be >= 0, got {cfg.temperature}")
    if cfg.top_p is not None and not 0 < cfg.top_p <= 1:
        raise UserError(f"--top-p must be in (0, 1], got {cfg.top_p}")
    if cfg.backend not in BACKENDS:
        raise UserError(f"unknown backend {cfg.backend!r} ({' | '.join(BACKENDS)})")
    if cfg.extraction not in EXTRACTION_MODES:
        raise UserError(f"--extraction must be one of {', '.join(EXTRACTION_MODES)}, got {cfg.extraction!r}")
    if cfg.batch_size < 1 or cfg.concurrency < 1:
        raise UserError("--batch-size and --concurrency must be >= 1")
    if cfg.backend != "openai" and not Path(cfg.model).exists() and "/" not in cfg.model:
        raise UserError(f"model {cfg.model!r} not found")
    check_sharding(cfg)


def check_sharding(cfg: EvalConfig) -> None:
    if cfg.shard is not None:
        i, n = cfg.shard
        if n < 1 or not 0 <= i < n:
            raise UserError(f"--shard {i}/{n}: need 0 <= I < N")
    if cfg.merge is not None and cfg.merge < 1:
        raise UserError(f"--merge must be >= 1 (the number of shards), got {cfg.merge}")
    if cfg.executor not in ("none", *EXECUTORS):
        raise UserError(f"--executor {cfg.executor!r}: choose one of none, {', '.join(EXECUTORS)}")
    if cfg.tasks < 1:
        raise UserError(f"--tasks must be >= 1, got {cfg.tasks}")
    given = [name for name, on in (("--shard", cfg.shard), ("--merge", cfg.merge)) if on is not None]
    given += ["--executor"] if cfg.executor != "none" else []
    if len(given) > 1:
        raise UserError(
            f"{' and '.join(given)} exclude each other (--executor runs the shards and the merge)"
        )
    if given and not cfg.save_samples:
        raise UserError(f"{given[0]} needs --save-samples: the shards' responses are what the merge reads")


def protocol_for(cfg: EvalConfig, b: Benchmark) -> Protocol:
    return Protocol(
        k=cfg.samples if cfg.samples is not None else b.k,
        temperature=cfg.temperature if cfg.temperature is not None else b.temperature,
        top_p=cfg.top_p if cfg.top_p is not None else b.top_p,
        max_tokens=cfg.max_tokens if cfg.max_tokens is not None else b.max_tokens,
        instruction=cfg.instruction
        if cfg.instruction is not None
        else (b.instruction or DEFAULT_INSTRUCTION),
    )


def load_benchmark(cfg: EvalConfig, b: Benchmark | None = None) -> list[dict]:
    """The problems rows of one benchmark (the first of cfg.benchmark when b is None)."""
    from problemsets import load_problems

    b = b if b is not None else resolve(cfg.benchmark)[0]
    problems = load_problems(b.problems_source, cfg).to_pylist()
    if not problems:
        raise UserError(f"{b.name}: no problems to evaluate")
    return problems


def requests_for(protocol: Protocol, seed: int, problems: list[dict], max_tokens: int) -> list[SampleRequest]:
    return [
        SampleRequest(
            problem_id=p["problem_id"],
            sample_idx=j,
            messages=prompt_messages(p["problem"], protocol.instruction),
            problem=p["problem"],
            answer=p["answer"],
            level=p["level"] or 0,
            temperature=protocol.temperature,
            top_p=protocol.top_p,
            max_tokens=max_tokens,
            seed=sample_seed(seed, p["problem_id"], j),
        )
        for p in problems
        for j in range(protocol.k)
    ]


def evaluate(
    cfg: EvalConfig, backend, identity: dict, b: Benchmark, protocol: Protocol, problems, part=None
) -> BenchmarkResult:
    """Sample and score `part` of the benchmark's problems (all of them by default); the fingerprint is
    always of the whole benchmark, so a shard's is the unsharded run's."""
    part = problems if part is None else part
    protocol = replace(protocol, max_tokens=_max_tokens(protocol.max_tokens, backend))
    completions = sample(cfg, backend, requests_for(protocol, cfg.seed, part, protocol.max_tokens), b.name)
    correct, preds = score(cfg, part, completions, protocol.k)
    return BenchmarkResult(
        b, protocol, part, completions, correct, preds, fingerprint(cfg, identity, b, protocol, problems)
    )


def fingerprint(
    cfg: EvalConfig, identity: dict, b: Benchmark, protocol: Protocol, problems
) -> fp.Fingerprint:
    return fp.Fingerprint(
        benchmark=b.name,
        benchmark_hash=fp.benchmark_hash(problems),
        prompt_template=fp.PROMPT_TEMPLATE,
        instruction=protocol.instruction,
        temperature=protocol.temperature,
        top_p=protocol.top_p,
        max_tokens=protocol.max_tokens,
        seed=cfg.seed,
        k=protocol.k,
        extraction=cfg.extraction,
        **identity,
        judge=f"{judge_name(_judge_config(cfg))}@{_host(cfg.judge_base_url)}" if cfg.judge else None,
    )


def model_identity(cfg: EvalConfig) -> dict:
    """The fingerprint's model-side inputs (hashed once per evaluation)."""
    from reward.verify import verifier_name

    local = cfg.backend in ("hf", "vllm")
    model = cfg.model if not local or not Path(cfg.model).exists() else str(Path(cfg.model).resolve())
    return {
        "chat_template_hash": fp.chat_template_hash(cfg.model) if local else None,
        "verifier": verifier_name(),
        "backend": cfg.backend if cfg.backend != "openai" else f"openai:{_host(cfg.base_url)}",
        "model": model,
        "weights_hash": fp.weights_hash(cfg.model) if local else None,
    }


def _host(url: str | None) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).netloc if url else "api.openai.com"


def sample(cfg: EvalConfig, backend, requests: list[SampleRequest], name: str) -> dict:
    """(problem_id, sample_idx) -> (completion text, finish_reason)."""
    from rich.console import Console
    from rich.progress import Progress

    out: dict[tuple[str, int], tuple[str, str]] = {}
    console = Console(stderr=True)  # on a terminal only: stdout carries the table
    with Progress(disable=not (cfg.progress and console.is_terminal), transient=True, console=console) as bar:
        task = bar.add_task(f"{name}: sampling {len(requests)} responses", total=len(requests))
        for req, c in backend.generate(requests):
            if c.error is not None:
                raise UserError(f"{name}: the backend failed on a request after its retries ({c.error})")
            text = assistant_text(c.reasoning, c.completion)
            out[(req.problem_id, req.sample_idx)] = (text, c.finish_reason)
            bar.advance(task)
    return out


def make_backend(cfg: EvalConfig):
    from sampling.config import Backends, HFConfig, OpenAIConfig, VLLMConfig
    from sampling.registry import make_backend as make

    backends = Backends(
        openai=OpenAIConfig(base_url=cfg.base_url, api_key_env=cfg.api_key_env, concurrency=cfg.concurrency),
        hf=HFConfig(batch_size=cfg.batch_size),
        vllm=VLLMConfig(batch_size=cfg.batch_size),
    )
    return make(f"{cfg.backend}:{cfg.model}", backends, seed=cfg.seed)


def _max_tokens(budget: int, backend) -> int:
    """The hf backend cannot generate past the model's positions: cap the budget there."""
    model = getattr(backend, "model", None)
    limit = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    return min(budget, limit // 2) if limit else budget


def score(
    cfg: EvalConfig, problems: list[dict], completions: dict, k: int
) -> tuple[list[list[bool]], list[list]]:
    from reward.verify import Verifier

    keys = [(p["problem_id"], j, p["answer"]) for p in problems for j in range(k)]
    with Verifier(timeout_s=cfg.verify_timeout_s, extraction=cfg.extraction) as verifier:
        items = ((gold, *completions[(pid, j)]) for pid, j, gold in keys)
        verdicts = list(verifier.check_many(items, progress=cfg.progress))
    texts = {p["problem_id"]: p["problem"] for p in problems}
    cases = [
        Case(texts[pid], gold, completions[(pid, j)][0], v.status, v.correct, v.pred)
        for (pid, j, gold), v in zip(keys, verdicts, strict=True)
    ]
    flat = rejudge(_make_judge(cfg) if cfg.judge else None, cases)
    correct = [flat[i * k : (i + 1) * k] for i in range(len(problems))]
    preds = [[v.pred for v in verdicts[i * k : (i + 1) * k]] for i in range(len(problems))]
    return correct, preds


def _judge_config(cfg: EvalConfig) -> JudgeConfig:
    return JudgeConfig(judge=cfg.judge, base_url=cfg.judge_base_url, api_key_env=cfg.judge_api_key_env)


def _make_judge(cfg: EvalConfig) -> Judge:
    """The same judge as `curate verify --judge` (no budget: an evaluation asks a bounded number)."""
    from sampling.config import OpenAIConfig
    from sampling.openai_api import read_api_key
    from sampling.pricing import Budget, Prices

    jc = _judge_config(cfg)
    key = read_api_key(OpenAIConfig(base_url=jc.base_url, api_key_env=jc.api_key_env))
    return Judge(jc, key, Prices(0.0, 0.0), Budget(None))


def stage_of(cfg: EvalConfig) -> str:
    return cfg.stage or Path(cfg.model).name


def evals_row(cfg: EvalConfig, r: BenchmarkResult, created: datetime, run: str) -> dict:
    return {
        "model": cfg.model,
        "stage": stage_of(cfg),
        "benchmark": r.benchmark.name,
        "k": r.protocol.k,
        "pass_at_1": pass_at_1(r.correct),
        "maj_at_k": maj_at_k(r.preds, r.correct),
        "n": len(r.problems),
        "created_at": created,
        "pass_at_1_se": standard_error(r.correct),
        "pass_at_k": json.dumps({str(k): v for k, v in pass_at_k(r.correct).items()}),
        "extraction": cfg.extraction,
        "fingerprint": r.fingerprint.digest(),
        "protocol": r.fingerprint.protocol(),
        "fingerprint_inputs": json.dumps(r.fingerprint.inputs(), sort_keys=True),
        "eval_run": run,
    }


def sample_rows(r: BenchmarkResult, run: str, shard: tuple[int, int]) -> list[dict]:
    """The eval_samples rows of one benchmark: its evals row's keys, the shard that sampled them (0 of 1
    unsharded), then one row per response. The fingerprint inputs ride along so that a merge can write
    the evals row without starting the backend (whose token cap is part of them)."""
    keys = {
        k: r.row[k] for k in ("model", "stage", "benchmark", "created_at", "eval_run", "fingerprint_inputs")
    }
    keys |= {"shard": shard[0], "shards": shard[1]}
    out = []
    for p, oks, answers in zip(r.problems, r.correct, r.preds, strict=True):
        for j, (ok, pred) in enumerate(zip(oks, answers, strict=True)):
            text, finish = r.completions[(p["problem_id"], j)]
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


def report(results: list[BenchmarkResult], earlier: list[dict], cfg: EvalConfig) -> str:
    """The printed table (pass@1 ± s.e. per benchmark and overall), the fingerprints, and what makes this
    evaluation incomparable to the lake's earlier rows of the same benchmarks."""
    lines = [f"{'benchmark':<16}{'n':>6}{'k':>5}  {'pass@1':<16}{'maj@k':>7}  pass@k"]
    for r in results:
        row = r.row
        ks = " ".join(f"@{k} {v:.3f}" for k, v in json.loads(row["pass_at_k"]).items())
        lines.append(
            f"{row['benchmark']:<16}{row['n']:>6}{row['k']:>5}  {_pm(row['pass_at_1'], row['pass_at_1_se']):<16}"
            f"{row['maj_at_k']:>7.3f}  {ks}"
        )
    if len(results) > 1:
        pooled = [c for r in results for c in r.correct]
        lines.append(
            f"{'overall':<16}{len(pooled):>6}{'':>5}  {_pm(pass_at_1(pooled), standard_error(pooled))}"
        )
    for r in results:
        lines.append(
            f"fingerprint {r.row['benchmark']}: {r.row['fingerprint']} (protocol {r.row['protocol']})"
        )
        lines.extend(_comparisons(r, earlier))
    stage = results[0].row["stage"]
    lines.append(
        f"eval: {len(results)} benchmark(s), model {cfg.model}, stage {stage}, extraction {cfg.extraction}; "
        f"{len(results)} row(s) appended to {cfg.lake}/evals"
    )
    return "\n".join(lines)


def shard_report(results: list[BenchmarkResult], cfg: EvalConfig, run: str, responses: int) -> str:
    i, n = cfg.shard
    sets = ", ".join(f"{r.benchmark.name} ({len(r.problems)} problems x {r.protocol.k})" for r in results)
    return (
        f"eval shard {i}/{n} of run {run}: {sets}; {responses} responses appended to {cfg.lake}/eval_samples, "
        f"no evals row: once all {n} shards are done, the same arguments with --merge {n} write it"
    )


def _pm(mean: float, se: float | None) -> str:
    return f"{mean:.3f} ± {se:.3f}" if se is not None else f"{mean:.3f} ± n/a"


def _comparisons(r: BenchmarkResult, earlier: list[dict]) -> list[str]:
    same = [e for e in earlier if e["benchmark"] == r.row["benchmark"]]
    if not same:
        return []
    repeats = sum(e.get("fingerprint") == r.row["fingerprint"] for e in same)
    other = [e for e in same if e.get("protocol") != r.row["protocol"]]
    lines = [f"  {repeats} earlier row(s) of {r.row['benchmark']} share this fingerprint"] if repeats else []
    if other:
        last = other[-1]
        theirs = json.loads(last["fingerprint_inputs"]) if last.get("fingerprint_inputs") else {}
        diff = fp.differences(r.fingerprint.inputs(), theirs) if theirs else ["no fingerprint recorded"]
        lines.append(
            f"  not comparable with {len(other)} earlier row(s) of {r.row['benchmark']} "
            f"(e.g. stage {last['stage']}): differs in {', '.join(diff)}"
        )
    return lines
