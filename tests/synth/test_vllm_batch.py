"""`--teacher vllm-batch:MODEL`: batch files run by a `vllm run-batch` command line (here a stand-in that
speaks the same file format, tests/helpers/run_batch.py); a SIGKILL mid-run resumes with only the chunks
that had not finished."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import cli
from tests.synth.test_batch_generate import SAMPLES, assert_complete_and_the_servers, traces
from tests.synth.test_openai_generate import make_lake

STAND_IN = Path(__file__).resolve().parents[1] / "helpers" / "run_batch.py"


def synth(lake: Path, log: Path, kill_on: int | None = None) -> subprocess.CompletedProcess:
    cmd = [cli("synth"), "generate", "--lake", str(lake), "--teacher", "vllm-batch:tiny", "--run", "b"]
    cmd += ["--max-tokens", "64", "--no-progress", "--samples", str(SAMPLES), "--batch-units", "10"]
    cmd += ["--batch-command", f"{sys.executable} {STAND_IN}"]
    env = {**os.environ, "RUN_BATCH_LOG": str(log)}
    if kill_on is not None:
        env["RUN_BATCH_KILL_ON"] = str(kill_on)
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


def test_vllm_batch_runs_chunks_and_resumes_after_sigkill(tmp_path):
    lake = make_lake(tmp_path / "lake", 20)
    log = tmp_path / "invocations"
    killed = synth(lake, log, kill_on=3)
    assert killed.returncode == -9
    done = synth(lake, log)
    assert done.returncode == 0, done.stderr
    assert "40/40 samples done (20 new, 0 failed)" in done.stdout  # 20 came in before the kill
    # chunks 1 and 2 ran once; chunk 3 was killed and ran again with chunk 4
    assert len(log.read_text().splitlines()) == 5
    assert_complete_and_the_servers(lake, traces(lake))
    again = synth(lake, log)
    assert "40/40 samples done (0 new, 0 failed)" in again.stdout and len(log.read_text().splitlines()) == 5
