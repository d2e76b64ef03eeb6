"""One small evaluation for the sharded `train eval` tests (tests/train, tests/cluster): builtin chain
problems against the test chat server, whose answer is a hash of (prompt, seed) -- the same for a given
request on any worker, and right about one time in ten (the answers are digits)."""

from __future__ import annotations

import os
import subprocess

from tests.conftest import cli
from tests.helpers.chat_server import ChatServer
from train.eval import EvalConfig

# every column of an evals row that says what was measured (created_at says when, eval_run which shards)
SAME = ["model", "stage", "benchmark", "k", "n", "pass_at_1", "pass_at_1_se", "pass_at_k", "maj_at_k"]
SAME += ["extraction", "fingerprint", "protocol", "fingerprint_inputs"]


def measured(row: dict) -> dict:
    return {k: row[k] for k in SAME}


def chain_api(server: ChatServer, lake, **options) -> EvalConfig:
    """10 builtin chain problems x 4 samples against the chat server, in-process (no API key: loopback)."""
    options = {"n": 10, "samples": 4, **options}
    return EvalConfig(
        model="tiny", backend="openai", base_url=server.base_url, benchmark="builtin:chain", max_tokens=64,
        lake=lake, progress=False, stage="api", concurrency=2, **options,
    )  # fmt: skip


def eval_command(server: ChatServer, lake, *extra: str) -> tuple[list[str], dict]:
    """`train eval` through its console script with chain_api's settings (so the same evaluation)."""
    args = [
        "--model",
        "tiny",
        "--backend",
        "openai",
        "--base-url",
        server.base_url,
        "--benchmark",
        "builtin:chain",
    ]
    args += ["--n", "10", "--samples", "4", "--max-tokens", "64", "--stage", "api", "--concurrency", "2"]
    args += ["--lake", str(lake), "--no-progress", *extra]
    return [cli("train"), "eval", *args], {**os.environ, "OPENAI_API_KEY": "sk-test"}


def train_eval(server: ChatServer, lake, *extra: str, timeout_s: float = 300) -> subprocess.CompletedProcess:
    cmd, env = eval_command(server, lake, *extra)
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout_s)


def start_train_eval(server: ChatServer, lake, *extra: str) -> subprocess.Popen:
    cmd, env = eval_command(server, lake, *extra)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
