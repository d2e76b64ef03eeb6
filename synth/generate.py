"""`synth generate`: the loop every teacher runs in.

The unit of work is (run, problem_id, sample_idx). A unit is done when its trace is in the lake;
a restart recovers whatever the journal holds, then asks the teacher only for the units still
missing. The teacher never sees the lake and the lake never sees the teacher.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow.compute as pc

from lakehouse import Lake
from lakehouse.errors import UserError
from lakehouse.ids import trace_id
from lakehouse.store import atomic_write_bytes
from sampling.prompts import prompt_messages, sample_seed, split_assistant
from sampling.types import Budgeted, Completion, SampleRequest
from synth.config import GenerateConfig
from synth.journal import Journal, compact
from synth.progress import GenerateProgress
from synth.teachers import make_teacher

FAILED_TABLE = "trace_errors"
COMPACT_EVERY = 50_000  # journal rows before an intermediate compaction into a shard
# What makes two commands the same run: the teacher (and its model), the sampling and the prompt. Fixed when
# the run's first sample is journaled (LAKE/runs/<run>.json); a later command that differs is refused.
IDENTITY = {
    "teacher": "--teacher", "samples": "--samples", "temperature": "--temperature", "top_p": "--top-p",
    "max_tokens": "--max-tokens", "seed": "--seed", "instruction": "--instruction",
    "system_prompt": "--system-prompt",
}  # fmt: skip


@dataclass
class RunSummary:
    run: str
    total: int
    done_before: int
    new: int = 0
    failed: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0
    stopped: str | None = None  # "interrupted" | "budget" | None
    reused: int = 0  # of `new`: copied from another run's identical request (synth/reuse.py)
    saved_usd: float = 0.0
    extra: dict = field(default_factory=dict)
    errors: Counter = field(default_factory=Counter)  # failed units per error message, in first-seen order

    @property
    def all_failed(self) -> bool:
        """Every unit this command tried failed: the command failed, whatever the lake holds."""
        return self.failed > 0 and self.new == 0

    def error_lines(self, most: int = 3) -> list[str]:
        """The first message of each kind of failure, counted (the kind: the text before its first ':')."""
        kinds: dict[str, tuple[str, int]] = {}
        for message, n in self.errors.items():
            kind = message.split(":", 1)[0]
            first, count = kinds.get(kind, (message, 0))
            kinds[kind] = (first, count + n)
        lines = [f"  {n} failed: {first}" for first, n in list(kinds.values())[:most]]
        if len(kinds) > most:
            lines.append(f"  ... and {len(kinds) - most} more kinds of failure")
        return lines

    def count(self, compacted: tuple[int, int]) -> None:
        """New and failed units are counted from what compaction committed, so the summary agrees
        with the lake exactly, even when Ctrl-C lands between a journal write and the loop's counters."""
        self.new += compacted[0]
        self.failed += compacted[1]

    def line(self) -> str:
        done = self.done_before + self.new
        asked = f"{self.new - self.reused} new, {self.reused} reused" if self.reused else f"{self.new} new"
        head = f"run {self.run}: {done}/{self.total} samples done ({asked}, {self.failed} failed)"
        tail = f", {self.tokens:,} completion tokens, ${self.cost_usd:.4f}, {self.seconds:.1f}s"
        saved = f", ${self.saved_usd:.4f} saved by reuse" if self.reused else ""
        stop = f" — stopped: {self.stopped}" if self.stopped else ""
        return head + tail + saved + stop


def journal_dir(lake: Lake, run: str) -> Path:
    return lake.root / "_journal" / f"run={run}"


def worker_name(cfg: GenerateConfig) -> str:
    i, n = cfg.shard
    return f"shard-{i}-of-{n}"


def select_problems(lake: Lake, cfg: GenerateConfig) -> list[dict]:
    """This worker's problems, in a fixed order: sorted by id, sliced by shard, then limited."""
    table = lake.read("problems")
    if table.num_rows == 0:
        raise UserError(f"no problems in {lake.root} (run `synth problems --source ...` first)")
    table = table.sort_by("problem_id")
    i, n = cfg.shard
    if n > 1:
        bucket = [int(p[:8], 16) % n for p in table.column("problem_id").to_pylist()]
        table = table.filter(pc.equal(bucket, i))
    if cfg.limit is not None:
        table = table.slice(0, cfg.limit)
    return table.to_pylist()


def build_requests(cfg: GenerateConfig, problems: list[dict], done: set[str]) -> list[SampleRequest]:
    out = []
    for p in problems:
        messages = prompt_messages(p["problem"], cfg.instruction, cfg.system_prompt)
        for idx in range(cfg.samples):
            if trace_id(cfg.run, p["problem_id"], idx) in done:
                continue
            out.append(
                SampleRequest(
                    problem_id=p["problem_id"],
                    sample_idx=idx,
                    messages=messages,
                    problem=p["problem"],
                    answer=p["answer"],
                    level=int(p["level"] or 0),
                    temperature=cfg.temperature,
                    top_p=cfg.top_p,
                    max_tokens=cfg.max_tokens,
                    seed=sample_seed(cfg.seed, p["problem_id"], idx),
                    domain=p["domain"] or "",
                    meta=p["meta"] or "{}",
                )
            )
    return out


def trace_row(
    cfg: GenerateConfig, teacher: str, req: SampleRequest, c: Completion, prompt: str | None = None
) -> dict:
    """The lake row of one unit. `prompt` is the messages' JSON when the caller has it cached. Reasoning
    and answer are split here, at ingest, whatever shape the server answered in (sampling.prompts), so
    SQL over traces.reasoning does not depend on the server."""
    reasoning, answer = split_assistant(c.reasoning, c.completion)
    return {
        "trace_id": trace_id(cfg.run, req.problem_id, req.sample_idx),
        "problem_id": req.problem_id,
        "run": cfg.run,
        "teacher": teacher,
        "sample_idx": req.sample_idx,
        "prompt": prompt if prompt is not None else json.dumps(req.messages, ensure_ascii=False),
        "reasoning": reasoning,
        "completion": answer,
        "finish_reason": c.finish_reason,
        "prompt_tokens": c.prompt_tokens,
        "completion_tokens": c.completion_tokens,
        "latency_s": c.latency_s,
        "cost_usd": c.cost_usd,
        "temperature": req.temperature,
        "top_p": req.top_p,
        "max_tokens": req.max_tokens,
        "seed": req.seed if c.seed is None else c.seed,  # the seed sent (shared by an n > 1 request)
        "created_at": time.time_ns()
        // 1000,  # microseconds since the epoch, UTC (the schema's timestamp unit)
        "error": c.error,
        "reasoning_tokens": c.reasoning_tokens,
    }


def done_ids(lake: Lake, run: str) -> set[str]:
    traces = lake.read("traces", columns=["trace_id", "run"])
    traces = traces.filter(pc.equal(traces.column("run"), run))
    return set(traces.column("trace_id").to_pylist())


def recover(lake: Lake, cfg: GenerateConfig, done: set[str]) -> None:
    """Compact this worker's leftover journals (a crashed or interrupted earlier attempt)."""
    d = journal_dir(lake, cfg.run)
    for path in sorted(d.glob(f"{worker_name(cfg)}*.jsonl")) if d.exists() else []:
        compact(lake, path, cfg.run, done, FAILED_TABLE)


def identity_path(lake: Lake, run: str) -> Path:
    return lake.root / "runs" / "identity" / f"{run}.json"  # a folder: `synth status` reads runs/*.json


def stored_identity(lake: Lake, run: str) -> dict | None:
    """The run's identity; for a run made before identities were stored, that of a worker's run info."""
    path = identity_path(lake, run)
    legacy = sorted((lake.root / "runs").glob(f"{run}.shard-*.json")) if (lake.root / "runs").is_dir() else []
    for p in [path] if path.exists() else legacy[:1]:
        info = json.loads(p.read_text())
        return {k: (tuple(v) if isinstance(v, list) else v) for k, v in ((k, info.get(k)) for k in IDENTITY)}
    return None


def check_identity(lake: Lake, cfg: GenerateConfig) -> None:
    """Refuse a command that would mix into an existing run with another teacher, sampling or prompt."""
    stored = stored_identity(lake, cfg.run)
    if stored is None:
        return
    mine = {k: getattr(cfg, k) for k in IDENTITY}
    for k, flag in IDENTITY.items():
        if stored[k] != mine[k]:
            raise UserError(
                f"run {cfg.run!r} was created with {flag} {stored[k]!r}, this command has {flag} {mine[k]!r} "
                f"(pass --run NEW to start another run)"
            )


def create_identity(lake: Lake, cfg: GenerateConfig) -> None:
    """Fix the run's identity, once: a link that fails if another process created it first (then the
    two must agree)."""
    path = identity_path(lake, cfg.run)
    if path.exists():
        return check_identity(lake, cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(json.dumps({k: getattr(cfg, k) for k in IDENTITY}, indent=1))
        os.link(tmp, path)
    except FileExistsError:
        check_identity(lake, cfg)
    finally:
        tmp.unlink(missing_ok=True)


def write_run_info(lake: Lake, cfg: GenerateConfig, n_problems: int) -> None:
    """Per-run metadata for `synth status` and provenance (never holds secrets: no keys are in cfg)."""
    info = {k: v for k, v in asdict(cfg).items() if k not in ("lake", "progress")}
    info["lake"] = None
    info["problems"] = n_problems
    path = lake.root / "runs" / f"{cfg.run}.{worker_name(cfg)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, json.dumps(info, indent=1, default=str).encode())


def validate(cfg: GenerateConfig) -> None:
    i, n = cfg.shard
    if n < 1 or not 0 <= i < n:
        raise UserError(f"--shard {i}/{n}: need 0 <= I < N")
    if cfg.samples < 1:
        raise UserError("--samples must be >= 1")
    if cfg.max_tokens < 1:
        raise UserError("--max-tokens must be >= 1")
    if not cfg.run or "/" in cfg.run or "=" in cfg.run or cfg.run.startswith("."):
        raise UserError(f"--run {cfg.run!r}: use a plain name (no '/' or '=', not starting with '.')")
    if not 0 <= cfg.temperature <= 10:
        raise UserError(f"--temperature {cfg.temperature}: must be between 0 and 10")
    if not 0 < cfg.top_p <= 1:
        raise UserError(f"--top-p {cfg.top_p}: must be in (0, 1]")
    if cfg.limit is not None and cfg.limit < 0:
        raise UserError(f"--limit {cfg.limit}: must be >= 0")


def main(cfg: GenerateConfig) -> RunSummary:
    validate(cfg)
    teacher = make_teacher(cfg.teacher, cfg)  # a bad --teacher is named before a missing lake
    lake = Lake(cfg.lake, create=False)  # never created here: a lake without problems has nothing to do
    if not lake.root.is_dir():
        raise UserError(f"no lake at {cfg.lake} (run `synth problems` first, or pass --lake)")
    check_identity(lake, cfg)
    previous_sigint = _catch_sigint()
    problems = select_problems(lake, cfg)
    new_run = stored_identity(lake, cfg.run) is None
    journal = Journal(journal_dir(lake, cfg.run), worker_name(cfg))  # locks this (run, shard)
    if hasattr(
        teacher, "attach"
    ):  # a teacher with its own ledger (openai-batch:) keeps it beside the journal
        teacher.attach(journal_dir(lake, cfg.run), cfg.run, worker_name(cfg))
    done = done_ids(lake, cfg.run)
    recover(lake, cfg, done)
    journal.open()
    requests = build_requests(cfg, problems, done)
    total = len(problems) * cfg.samples
    summary = RunSummary(run=cfg.run, total=total, done_before=total - len(requests))
    if (
        requests and cfg.progress
    ):  # said at once: an API teacher may retry for minutes before its first sample
        print(f"run {cfg.run}: {len(requests)} samples to generate with {cfg.teacher} "
              f"({summary.done_before} done before)", file=sys.stderr, flush=True)  # fmt: skip

    def begin() -> None:  # the first sample arrived: the run exists from now on
        create_identity(lake, cfg)
        write_run_info(lake, cfg, len(problems))

    start = time.monotonic()
    try:
        if cfg.reuse:  # the completion cache: journal what other runs already paid for, ask the rest
            requests = _reuse(cfg, lake, teacher.name, requests, journal, summary, begin)
        _consume(cfg, lake, teacher, requests, journal, summary, done, begin)
    except KeyboardInterrupt:
        summary.stopped = "interrupted"
    finally:
        _ignore_sigint()
        teacher.close()
        journal.close()
        summary.count(compact(lake, journal.path, cfg.run, done, FAILED_TABLE))
        summary.seconds = time.monotonic() - start
        _restore_sigint(previous_sigint)
        if new_run and stored_identity(lake, cfg.run) is None:
            _forget(journal_dir(lake, cfg.run))  # nothing arrived (the teacher failed to start): no run
    if summary.stopped is None and isinstance(teacher, Budgeted) and teacher.budget_exhausted:
        summary.stopped = "budget"
    return summary


def _reuse(cfg, lake, teacher: str, requests, journal, summary, begin) -> list[SampleRequest]:
    from synth.reuse import split

    hits, rest = split(lake, teacher, cfg.run, cfg.seed, requests)
    if hits:  # a reused sample is the run's first sample too: its identity is fixed now
        begin()
    for req, cached in hits:
        saved = cached.pop("saved_usd")
        journal.append(trace_row(cfg, teacher, req, Completion(**cached, cost_usd=0.0)))
        summary.reused += 1
        summary.saved_usd += saved
    return rest


def _forget(directory: Path) -> None:
    """Remove a new run's journal folder when it holds nothing but empty journals and locks."""
    files = list(directory.iterdir()) if directory.is_dir() else []
    if all(p.is_file() and (p.name.endswith(".lock") or p.stat().st_size == 0) for p in files):
        for p in files:
            p.unlink()
        directory.rmdir() if directory.is_dir() else None


def _consume(cfg, lake, teacher, requests, journal, summary, done, begin) -> None:
    budget = teacher.budget_usd if isinstance(teacher, Budgeted) else None
    with GenerateProgress(len(requests), enabled=cfg.progress, budget_usd=budget) as bar:
        stream = teacher.generate(requests)
        prompts: dict[str, str] = {}  # every sample of a problem shares its prompt: encode it once
        try:
            for i, (req, c) in enumerate(stream, 1):
                if i == 1:
                    begin()
                if c.finish_reason == "error":
                    summary.errors[c.error or "unknown error"] += 1
                prompt = prompts.get(req.problem_id)
                if prompt is None:
                    prompt = prompts[req.problem_id] = json.dumps(req.messages, ensure_ascii=False)
                journal.append(trace_row(cfg, teacher.name, req, c, prompt))
                summary.tokens += c.completion_tokens
                summary.cost_usd += c.cost_usd
                bar.advance(c.completion_tokens, summary.cost_usd)
                if i % COMPACT_EVERY == 0:
                    summary.count(compact(lake, journal.rotate(), cfg.run, done, FAILED_TABLE))
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()


def _catch_sigint():
    """Ctrl-C must reach us as KeyboardInterrupt even when started with SIGINT ignored
    (background jobs of a non-interactive shell inherit SIG_IGN, and Python then keeps it)."""
    try:
        return signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:  # not the main thread: the caller owns signals
        return None


def _restore_sigint(handler) -> None:
    if handler is not None:
        try:
            signal.signal(signal.SIGINT, handler)
        except ValueError:
            pass


def _ignore_sigint() -> None:
    """While flushing after Ctrl-C, a second Ctrl-C must not tear the compaction."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        pass
