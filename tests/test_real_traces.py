"""Real DeepSeek-R1 answers (tests/fixtures/README.md) replayed by a chat server on 127.0.0.1 in the three
shapes servers send them — a `reasoning_content` channel, an inline `<think>` block, and a block whose
opener the chat template pre-filled — through `synth generate` and `curate run`: the sft rows' assistant
turns are byte-identical across shapes and equal the canonical form, and their prompt is the one the
teacher answered (system prompt and instruction included)."""

from __future__ import annotations

import json
import subprocess

import pytest

from lakehouse.store import Lake
from sampling.prompts import user_turn
from tests.conftest import FIXTURES, cli
from tests.helpers.chat_server import ChatServer

SYSTEM, INSTRUCTION = "You are a careful mathematician.", "Reason, then box the answer."
TRACES = [json.loads(line) for line in (FIXTURES / "r1_671b_traces.jsonl").read_text().splitlines()]
SHAPES = {
    "channel": lambda t: {"content": t["message_content"], "reasoning_content": t["message_thinking"]},
    "inline": lambda t: {"content": f"<think>\n{t['message_thinking']}\n</think>\n\n{t['message_content']}"},
    "no_opener": lambda t: {"content": f"{t['message_thinking']}\n</think>\n\n{t['message_content']}"},
}


def run(*args: str) -> str:
    done = subprocess.run(list(args), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def lakes(tmp_path_factory):
    out = {}
    for shape, make in SHAPES.items():
        lake = tmp_path_factory.mktemp(shape) / "lake"
        run(cli("synth"), "problems", "--source", str(FIXTURES / "r1_problems.jsonl"), "--lake", str(lake))
        answers = {user_turn(t["problem"], INSTRUCTION): [make(t)] for t in TRACES}
        with ChatServer(answers=answers) as server:
            run(
                cli("synth"), "generate", "--teacher", "openai:r1", "--base-url", server.base_url,
                "--samples", "1", "--system-prompt", SYSTEM, "--instruction", INSTRUCTION, "--lake", str(lake),
            )  # fmt: skip
        run(cli("curate"), "run", "--lake", str(lake))
        out[shape] = Lake(lake)
    return out


def test_every_shape_gives_the_same_canonical_sft_rows(lakes):
    rows = {shape: lake.read("views/sft").to_pylist() for shape, lake in lakes.items()}
    assert len(rows["channel"]) == len(TRACES)  # every real answer verified correct and kept
    turns = {shape: sorted(r["messages"][-1]["content"] for r in rs) for shape, rs in rows.items()}
    assert turns["channel"] == turns["inline"] == turns["no_opener"]
    canonical = sorted(
        f"<think>\n{t['message_thinking'].strip()}\n</think>\n\n{t['message_content'].strip()}"
        for t in TRACES
    )
    assert turns["channel"] == canonical


def test_traces_store_reasoning_and_answer_split_at_ingest(lakes):
    for lake in lakes.values():
        traces = sorted(lake.read("traces").to_pylist(), key=lambda t: t["completion"])
        expected = sorted(TRACES, key=lambda t: t["message_content"].strip())
        assert [(t["reasoning"], t["completion"]) for t in traces] == [
            (t["message_thinking"].strip(), t["message_content"].strip()) for t in expected
        ]


def test_the_views_keep_the_prompt_the_teacher_answered(lakes):
    problems = {p["problem_id"]: p["problem"] for p in lakes["inline"].read("problems").to_pylist()}
    for row in lakes["inline"].read("views/sft").to_pylist():
        assert row["messages"][:2] == [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"{problems[row['problem_id']]}\n{INSTRUCTION}"},
        ]
    record = json.loads((lakes["inline"].path("views/sft") / ".view.json").read_text())
    assert record["params"]["prompts"] == [
        json.dumps(
            [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "{problem}\n" + INSTRUCTION}]
        )
    ]
