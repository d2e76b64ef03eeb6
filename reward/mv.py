"""The worker side of the verification pool: one math-verify comparison, the loop a worker runs, and the
zygote that forks workers.

`reward.mv.main()` (started by the pool with the control socket's fd) is the zygote: a single-threaded process that imports math-verify (and sympy)
once and forks a warm worker in milliseconds whenever the pool asks (a new worker or the replacement of a
killed one). A zygote rather than multiprocessing's fork server because the latter re-runs the caller's
`__main__` in every worker, and rather than forking the caller because the caller has threads.
"""

from __future__ import annotations

import logging
import os
import resource
import signal
import socket
import sys
from multiprocessing.connection import Connection

from math_verify import parse, verify

# math-verify warns once that its own (signal based) timeouts are off: the parent enforces the limit.
logging.getLogger("math_verify").setLevel(logging.ERROR)


def judge(gold: str, pred: str) -> bool:
    """math-verify's verdict on two bare answers. Both are wrapped in a box so the LaTeX extractor
    reads them whole; its timeouts are off because they rely on signals (the pool kills instead)."""
    gold_parsed = parse(f"\\boxed{{{gold}}}", parsing_timeout=None)
    pred_parsed = parse(f"\\boxed{{{pred}}}", parsing_timeout=None)
    return bool(verify(gold_parsed, pred_parsed, timeout_seconds=None))


def serve(conn: Connection, memory_mb: int) -> None:
    """Worker loop: receive (job_id, gold, pred), answer (job_id, correct, status, peak_rss_kb).

    None as a job means stop. The memory cap (RLIMIT_AS) turns a runaway allocation into MemoryError.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's business
    cap = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    conn.send("ready")  # the pool hands out a worker only once its limits are in place
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        job_id, gold, pred = job
        correct, status = _run(gold, pred)
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        conn.send((job_id, correct, status, peak_kb))


def _run(gold: str, pred: str) -> tuple[bool, str]:
    try:
        return judge(gold, pred), "ok"
    except (MemoryError, RecursionError):
        return False, "error"
    except Exception:  # noqa: BLE001 - any failure inside math-verify/sympy is a verdict, not a crash
        return False, "error"


def zygote(ctrl: socket.socket) -> None:
    """Fork one worker per request. A request is the memory cap (ASCII) with the worker's end of its
    pipe attached as a file descriptor; the answer is the worker's pid. EOF on ctrl ends the zygote."""
    judge("1", "1")  # warm the parsers once, so every forked worker starts warm
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps workers: no zombies
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(ctrl, 64, 1)
        except OSError:
            return
        if not data:
            return
        pid = os.fork()
        if pid == 0:
            ctrl.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            try:
                serve(Connection(fds[0]), int(data))
            finally:
                os._exit(0)
        os.close(fds[0])
        ctrl.sendall(f"{pid}\n".encode())


def main() -> None:
    """Entry of the zygote process; argv[1] is the inherited control socket's file descriptor."""
    zygote(socket.socket(fileno=int(sys.argv[1])))


if __name__ == "__main__":
    main()
