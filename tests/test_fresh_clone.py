"""A user's clone has no `shared/` folder beside it: the repository's files alone, copied into an empty
temporary directory, run the quick start through `curate run` with its defaults (decontamination against
every shipped benchmark)."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def clone_files(dest: Path) -> Path:
    """The files a clone of this working tree holds: tracked and untracked-but-not-ignored ones."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def test_quick_start_runs_in_a_copy_with_nothing_beside_it(tmp_path):
    clone = clone_files(tmp_path / "empty" / "minireason")
    assert not (clone.parent / "shared").exists()
    env = {**os.environ, "PYTHONPATH": str(clone)}
    env.pop("MINIREASON_BENCHMARKS", None)

    def run(*args: str) -> str:
        done = subprocess.run([sys.executable, *args], cwd=clone, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert run("-c", "import curate, problemsets; print(curate.__file__, problemsets.__file__)").split() == [
        str(clone / "curate" / "__init__.py"), str(clone / "problemsets" / "__init__.py")
    ]  # fmt: skip
    run("-m", "synth.cli", "problems", "--source", "builtin:arith", "--n", "20", "--seed", "0")
    run("-m", "synth.cli", "generate", "--teacher", "procedural", "--samples", "2", "--run", "demo")
    run("-m", "curate.cli", "run")
    report = run(
        "-m",
        "curate.cli",
        "sql",
        "select benchmark, items from decontam_report order by 1",
        "--format",
        "csv",
    )
    assert list(csv.reader(report.splitlines())) == [
        ["benchmark", "items"], ["aime24", "30"], ["aime25", "30"], ["amc23", "40"], ["gsm8k", "1319"],
        ["math500", "500"], ["minerva", "272"], ["olympiadbench", "675"],
    ]  # fmt: skip
