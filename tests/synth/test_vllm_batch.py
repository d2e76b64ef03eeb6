"""`--teacher vllm-batch:MODEL`: batch files run by a `vllm run-batch` command line (here a stand-in that
speaks the same file format, tests/helpers/run_batch.py); a SIGKILL mid-run resumes with only the chunks
that had not finished. The `vllm` test runs the real run_batch entry point of the vLLM CPU build on a tiny
local checkpoint (`make test-vllm`)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse import Lake
from lakehouse.ids import trace_id
from lakehouse.sql import connect
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


# counts its runs in $1, runs the real command; on run $2 it then does what synth does after a success
# (renames OUT.partial to OUT.jsonl) and SIGKILLs synth before the chunk's traces are journaled
COUNTING = """log=$1; kill_on=$2; shift 2; echo run >> "$log"; "$@" || exit $?
if [ "$(wc -l < "$log")" = "$kill_on" ]; then
  prev=; for a in "$@"; do [ "$prev" = -o ] && out=$a; prev=$a; done
  mv "$out" "${out%.partial}.jsonl"; kill -9 $PPID
fi"""


@pytest.mark.vllm
@pytest.mark.slow
def test_real_vllm_run_batch_on_a_tiny_checkpoint(tmp_path):
    pytest.importorskip("vllm")
    from train.tiny import TinySpec, build, save

    spec = TinySpec(
        tokenizer="bpe", vocab_size=512, hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, head_dim=64, intermediate_size=256, max_position_embeddings=512,
    )  # fmt: skip
    corpus = [f"What is {a} + {b}? Please reason step by step, and put your final answer within \\boxed{{}}."
              for a in range(30) for b in range(30)]  # fmt: skip
    ckpt = save(*build(spec, corpus + ["system", "user", "assistant", "\n"]), tmp_path / "tiny-qwen2")
    lake = make_lake(tmp_path / "lake", 4)
    log = tmp_path / "invocations"
    # the real entry point with the flags vLLM on CPU needs (its own python), behind the counting shell
    run_batch = [sys.executable, "-m", "vllm.entrypoints.openai.run_batch", "--dtype", "float32"]
    run_batch += ["--enforce-eager", "--max-model-len", "512"]
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_ENABLE_V1_MULTIPROCESSING": "0"}

    def synth_run(kill_on: int = 0) -> subprocess.CompletedProcess:
        command = shlex.join(["sh", "-c", COUNTING, "sh", str(log), str(kill_on), *run_batch])
        cmd = [cli("synth"), "generate", "--lake", str(lake), "--teacher", f"vllm-batch:{ckpt}", "--run", "b"]
        cmd += ["--max-tokens", "16", "--no-progress", "--samples", "2", "--batch-units", "4"]
        cmd += ["--batch-command", command]
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)

    killed = synth_run(kill_on=2)  # 8 units in 2 chunks; killed once chunk 2's output is in place
    assert killed.returncode == -9, killed.stderr[-4000:]
    assert len(log.read_text().splitlines()) == 2
    done = synth_run()
    assert done.returncode == 0, done.stderr[-4000:]
    assert "8/8 samples done (4 new, 0 failed)" in done.stdout
    assert len(log.read_text().splitlines()) == 2  # chunk 2's output found by its hash: no model run
    rows = (
        connect(lake)
        .execute("SELECT trace_id, completion, finish_reason, completion_tokens FROM traces WHERE run = 'b'")
        .fetchall()
    )
    pids = Lake(lake).read("problems", columns=["problem_id"]).column("problem_id").to_pylist()
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)) == 8  # one trace per (problem, sample)
    assert set(ids) == {trace_id("b", p, i) for p in pids for i in range(2)}
    for _, completion, finish_reason, completion_tokens in rows:
        assert isinstance(completion, str) and completion
        assert finish_reason in ("stop", "length") and 0 < completion_tokens <= 16
    again = synth_run()
    assert again.returncode == 0, again.stderr[-4000:]
    assert "8/8 samples done (0 new, 0 failed)" in again.stdout
    assert len(log.read_text().splitlines()) == 2
    assert connect(lake).execute("SELECT count(*) FROM traces WHERE run = 'b'").fetchone()[0] == 8
