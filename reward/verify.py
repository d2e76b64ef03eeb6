"""A verification pool that never hangs: long-lived math-verify workers with a hard wall-clock limit.

Why a pool of processes: math-verify's own timeout uses SIGALRM, which does nothing off the main thread
and cannot interrupt a long C-level big-integer operation (`10^{10^{8}}` runs for minutes). So each check
runs in a worker process; the parent waits at most `timeout_s` for the answer, then kills the worker,
starts a replacement (forked from a warm zygote, milliseconds) and reports `timeout`. Each worker
has an address-space cap (RLIMIT_AS), so a runaway allocation becomes a MemoryError (`error`) instead of
swapping the machine.

Cheap decisions never reach a worker: truncated responses, responses without an answer, answers too long
or too deeply nested to be real (`error`), and pairs already in the cache.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import version
from multiprocessing.connection import Connection
from pathlib import Path

from reward import forms
from reward.cache import VerdictCache, cache_key
from reward.extract import EXTRACTION_MODES, extract_answer, normalize_gold

STATUSES = ("ok", "no_answer", "truncated", "timeout", "error")
# Guards against inputs that are not answers: no real final answer is longer or deeper than this.
MAX_ANSWER_CHARS = 1000
MAX_ANSWER_DEPTH = 40
_ROOT = str(Path(__file__).resolve().parent.parent)  # so the zygote imports this very package


@dataclass(frozen=True)
class Verdict:
    pred: str | None
    correct: bool
    status: str  # ok | no_answer | truncated | timeout | error
    elapsed_ms: float


@dataclass
class PoolStats:
    """Counters for reports and tests (read them; the pool updates them under its lock)."""

    checks: int = 0
    cache_hits: int = 0
    worker_calls: int = 0
    timeouts: int = 0
    errors: int = 0
    restarts: int = 0
    peak_worker_rss_mb: float = 0.0
    by_status: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))


def verifier_name() -> str:
    """The id written to verdicts.verifier, e.g. "math-verify-0.9" (major.minor: what changes verdicts)."""
    return "math-verify-" + ".".join(version("math-verify").split(".")[:2])


class _Zygote:
    """The parent's handle on the zygote process (reward.mv), which forks warm workers on request."""

    def __init__(self) -> None:
        self._ctrl, child = socket.socketpair()
        # Isolated (-I): neither the caller's working directory nor PYTHONPATH can shadow this package.
        boot = f"import sys; sys.path.insert(0, {_ROOT!r}); from reward.mv import main; main()"
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", boot, str(child.fileno())], pass_fds=[child.fileno()]
        )
        child.close()
        self._lock = threading.Lock()

    def fork(self, memory_mb: int) -> _Worker:
        ours, theirs = mp.Pipe()
        with self._lock:
            socket.send_fds(self._ctrl, [str(memory_mb).encode()], [theirs.fileno()])
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = self._ctrl.recv(64)
                if not chunk:
                    raise RuntimeError("the verifier's worker zygote died")
                reply += chunk
        theirs.close()
        if not ours.poll(30) or ours.recv() != "ready":
            raise RuntimeError("a verifier worker failed to start")
        return _Worker(ours, int(reply))

    def close(self) -> None:
        self._ctrl.close()  # EOF: the zygote exits
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@dataclass(eq=False)
class _Worker:
    """One worker process (a child of the zygote) and the parent's end of its pipe."""

    conn: Connection
    pid: int

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    def stop(self) -> None:
        """Ask politely (the worker exits on None or on EOF), then make sure."""
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.conn.close()


class Verifier:
    """math-verify behind a pool of worker processes with hard limits and a verdict cache.

    Thread-safe: `check` may be called from many threads at once (each call borrows one idle worker).
    From asyncio, `await verifier.acheck(...)`. Use as a context manager or call `close()`.
    """

    def __init__(
        self,
        workers: int | None = None,
        timeout_s: float = 5.0,
        memory_mb: int = 1024,
        cache_path: Path | None = None,
        extraction: str = "lenient",
    ) -> None:
        if extraction not in EXTRACTION_MODES:
            raise ValueError(f"extraction must be one of {', '.join(EXTRACTION_MODES)}, got {extraction!r}")
        self.extraction = extraction  # strict: a boxed answer is required (reward.extract.extract_answer)
        self.workers = workers or len(os.sched_getaffinity(0))
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.name = verifier_name()
        self.stats = PoolStats()
        self.cache = VerdictCache(self.name, cache_path)
        self._zygote = [_Zygote()]  # a list: a replacement zygote must reach the finalizer too
        self._zygote_lock = threading.Lock()
        # One slot per worker (None while it is busy). A pair prefers the slot its gold hashes to:
        # the samples of one problem then meet math-verify's parse cache in the same process.
        self._slots: list[_Worker | None] = []
        self._free = threading.Condition()
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._job_ids = itertools.count()
        self._closed = False
        for _ in range(self.workers):
            self._add_worker()
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="verify")
        self._finalizer = weakref.finalize(self, _shutdown, self._all, self._executor, self._zygote)

    # -- public API ------------------------------------------------------------------------------

    def check(self, gold: str, response: str, finish_reason: str | None = None) -> Verdict:
        """Verify one response against its gold answer; never raises for bad input, never hangs."""
        start = time.perf_counter()
        early = self._screen(gold, response, finish_reason, start, None)
        if isinstance(early, Verdict):
            return early
        verdict = self._run(*early, start)
        self._count(verdict.status)
        return verdict

    def check_many(
        self, items: Iterable[tuple[str, str, str | None]], progress: bool = False
    ) -> Iterator[Verdict]:
        """Verify a stream of (gold, response, finish_reason); yields verdicts in input order.

        Cache hits and screened items are answered inline; the rest run on the pool, at most a few
        per worker in flight, so a long stream is never held in memory.
        """
        total = len(items) if hasattr(items, "__len__") else None  # type: ignore[arg-type]
        # Inline verdicts are counted here and added to the stats in bulk: no lock per cache hit.
        counts: collections.Counter[tuple[str, bool]] = collections.Counter()
        with _progress_bar(progress, total) as advance, self._merging(counts):
            pending: collections.deque[Verdict | Future[Verdict]] = collections.deque()
            for gold, response, finish_reason in items:
                item = self._submit(gold, response, finish_reason, counts)
                if not pending and isinstance(item, Verdict):
                    yield item  # nothing ahead of it: no queueing
                    advance()
                    continue
                pending.append(item)
                while pending and (len(pending) > 4 * self.workers or _ready(pending[0])):
                    yield _value(pending.popleft())
                    advance()
            while pending:
                yield _value(pending.popleft())
                advance()

    async def acheck(self, gold: str, response: str, finish_reason: str | None = None) -> Verdict:
        """The asyncio form of `check`: runs on the pool's threads, never blocks the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.check, gold, response, finish_reason)

    def close(self) -> None:
        """Persist new cache entries and stop the workers (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.cache.flush()
        self._finalizer()

    def __enter__(self) -> Verifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def worker_pids(self) -> list[int]:
        with self._lock:
            return [w.pid for w in self._all]

    # -- internals -------------------------------------------------------------------------------

    def _screen(
        self,
        gold: str,
        response: str,
        finish_reason: str | None,
        start: float,
        counts: collections.Counter | None,
    ) -> Verdict | tuple[str, str, tuple]:
        """A counted verdict for everything decided without a worker (the hot path of cache hits:
        keep it lean); otherwise the normalised (gold, pred, cache key) for a worker."""
        pred = extract_answer(response, self.extraction) if isinstance(response, str) else None
        if finish_reason == "length":
            return self._early(pred, False, "truncated", start, counts)
        if pred is None:
            return self._early(None, False, "no_answer", start, counts)
        gold_n = _gold(gold) if isinstance(gold, str) else normalize_gold(gold)
        gold_n, pred = forms.rewrite(gold_n, pred)  # intervals, ordinals, choice letters (reward/forms.py)
        key = cache_key(gold_n, pred)
        hit = self.cache.get(key)
        if hit is not None:
            return self._early(pred, hit[0], hit[1], start, counts, cache_hit=True)
        if not _plausible(pred) or not _plausible(gold_n):
            return self._early(pred[:MAX_ANSWER_CHARS], False, "error", start, counts)
        return gold_n, pred, key

    def _early(
        self,
        pred: str | None,
        correct: bool,
        status: str,
        start: float,
        counts: collections.Counter | None,
        cache_hit: bool = False,
    ) -> Verdict:
        verdict = Verdict(pred, correct, status, (time.perf_counter() - start) * 1000)
        if counts is None:
            self._count(status, cache_hit)
        else:
            counts[(status, cache_hit)] += 1
        return verdict

    @contextlib.contextmanager
    def _merging(self, counts: collections.Counter) -> Iterator[None]:
        try:
            yield
        finally:
            for (status, cache_hit), n in counts.items():
                self._count(status, cache_hit, n)

    def _submit(
        self, gold: str, response: str, finish_reason: str | None, counts: collections.Counter
    ) -> Verdict | Future[Verdict]:
        early = self._screen(gold, response, finish_reason, time.perf_counter(), counts)
        if isinstance(early, Verdict):
            return early
        return self._executor.submit(self._run_counted, *early)

    def _run_counted(self, gold: str, pred: str, key: tuple) -> Verdict:
        # elapsed_ms counts from here: the time a pair took, not the time it queued behind others
        verdict = self._run(gold, pred, key, time.perf_counter())
        self._count(verdict.status)
        return verdict

    def _run(self, gold: str, pred: str, key: tuple, start: float) -> Verdict:
        if self._closed:
            raise RuntimeError("Verifier is closed")
        slot, worker = self._acquire(gold)
        deadline = time.monotonic() + self.timeout_s  # from here: waiting for a free worker is not work
        status = "interrupted"
        try:
            correct, status = self._call(worker, gold, pred, deadline)
            if status == "crashed":
                # The worker died mid-job: maybe killed from outside. One retry on a fresh worker, within
                # the same deadline, tells that apart from an input that crashes math-verify (an error).
                worker = self._replace(worker)
                correct, status = self._call(worker, gold, pred, deadline)
                status = "error" if status == "crashed" else status
        finally:
            # Only a worker that answered normally goes back as it is. A killed, crashed or out-of-memory
            # worker, or one interrupted mid-job (its late answer would reach the next job), is replaced.
            if status != "ok":
                worker = self._replace(worker)
            self._release(slot, worker)
        self.cache.put(key, (correct, status))
        return Verdict(pred, correct, status, (time.perf_counter() - start) * 1000)

    def _call(self, worker: _Worker, gold: str, pred: str, deadline: float) -> tuple[bool, str]:
        """Send one job and wait until the deadline at most; a worker past it is killed."""
        job_id = next(self._job_ids)
        with self._lock:
            self.stats.worker_calls += 1
        try:
            worker.conn.send((job_id, gold, pred))
            if not worker.conn.poll(max(0.0, deadline - time.monotonic())):
                worker.kill()
                return False, "timeout"
            got_id, correct, status, peak_kb = worker.conn.recv()
        except (EOFError, OSError):
            # The worker died: a crash inside sympy, or a kill from outside (_run retries once).
            return False, "crashed"
        if got_id != job_id:
            return False, "error"
        with self._lock:
            self.stats.peak_worker_rss_mb = max(self.stats.peak_worker_rss_mb, peak_kb / 1024)
        return bool(correct), status

    def _fork(self) -> _Worker:
        zygote = self._zygote[0]
        try:
            return zygote.fork(self.memory_mb)
        except (OSError, RuntimeError):
            # The zygote itself died (killed from outside): one new zygote, then fork again.
            with self._zygote_lock:
                if self._zygote[0] is zygote:
                    zygote.close()
                    self._zygote[0] = _Zygote()
            return self._zygote[0].fork(self.memory_mb)

    def _add_worker(self) -> None:
        worker = self._fork()
        with self._lock:
            self._all.add(worker)
        with self._free:
            self._slots.append(worker)

    def _acquire(self, gold: str) -> tuple[int, _Worker]:
        """A free worker, the gold's own when it is free (never waits for it while another is free)."""
        with self._free:
            while True:
                preferred = hash(gold) % len(self._slots)
                free = [i for i, w in enumerate(self._slots) if w is not None]
                if free:
                    slot = preferred if self._slots[preferred] is not None else free[0]
                    worker, self._slots[slot] = self._slots[slot], None
                    return slot, worker
                self._free.wait()

    def _release(self, slot: int, worker: _Worker) -> None:
        with self._free:
            self._slots[slot] = worker
            self._free.notify()

    def _replace(self, worker: _Worker) -> _Worker:
        worker.kill()
        worker.stop()
        fresh = self._fork()
        with self._lock:
            self._all.discard(worker)
            self._all.add(fresh)
            self.stats.restarts += 1
        return fresh

    def _count(self, status: str, cache_hit: bool = False, n: int = 1) -> None:
        with self._lock:
            self.stats.checks += n
            self.stats.cache_hits += cache_hit * n
            self.stats.by_status[status] += n
            if status == "timeout":
                self.stats.timeouts += n
            elif status == "error":
                self.stats.errors += n


@lru_cache(maxsize=65536)
def _gold(raw: str) -> str:
    # Golds repeat (several samples per problem): normalising each once keeps cache hits cheap.
    return normalize_gold(raw)


def _plausible(answer: str) -> bool:
    """False for inputs no real answer looks like: too long, or nested too deeply for sympy's recursion."""
    if len(answer) > MAX_ANSWER_CHARS:
        return False
    depth = peak = 0
    for c in answer:
        if c in "{([":
            depth += 1
            peak = max(peak, depth)
        elif c in "})]":
            depth -= 1
    return peak <= MAX_ANSWER_DEPTH


def _ready(item: Verdict | Future[Verdict]) -> bool:
    return isinstance(item, Verdict) or item.done()


def _value(item: Verdict | Future[Verdict]) -> Verdict:
    return item if isinstance(item, Verdict) else item.result()


def _shutdown(workers: set[_Worker], executor: ThreadPoolExecutor, zygote: list[_Zygote]) -> None:
    executor.shutdown(wait=True, cancel_futures=True)
    for worker in list(workers):
        worker.stop()
    workers.clear()
    zygote[0].close()


class _progress_bar:
    """A rich progress bar when asked for, else a no-op; `advance()` moves it by one."""

    def __init__(self, enabled: bool, total: int | None) -> None:
        self._enabled, self._total = enabled, total
        self._progress = None

    def __enter__(self):
        if not self._enabled:
            return lambda: None
        from rich.console import Console
        from rich.progress import Progress

        console = Console(stderr=True)  # progress is for a person at a terminal, never in piped output
        if not console.is_terminal:
            return lambda: None
        self._progress = Progress(transient=True, console=console)
        self._progress.start()
        task = self._progress.add_task("verify", total=self._total)
        return lambda: self._progress.advance(task)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
