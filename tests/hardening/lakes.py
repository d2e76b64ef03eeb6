"""Tiny lakes for the hardening suites, and the tree hash that says a command wrote nothing."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from tests.conftest import cli


def tree_hash(root: Path) -> str:
    """Every path under `root` with its bytes (and mode): equal hashes mean nothing was added, removed,
    rewritten or made writable/read-only."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(p.relative_to(root).as_posix().encode() + b"\0" + oct(p.stat().st_mode).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def run(name: str, *args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [cli(name), *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env
    )


def make_lake(root: Path, n: int = 6, samples: int = 2, run_name: str = "r") -> Path:
    from synth.config import GenerateConfig
    from synth.generate import main as generate
    from synth.problems import ProblemsConfig
    from synth.problems import main as make_problems

    make_problems(ProblemsConfig(lake=root, source="builtin:arith", n=n, seed=1))
    generate(GenerateConfig(lake=root, run=run_name, samples=samples, progress=False))
    return root


def assert_one_line_error(proc: subprocess.CompletedProcess, code: int = 2) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]
