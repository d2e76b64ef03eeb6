"""A stand-in for `vllm run-batch` (same command line: -i IN -o OUT --model M): answers every request
line with the chat server's deterministic answer, so tests of the batch file path run without vLLM.

Each invocation appends a line to $RUN_BATCH_LOG; with $RUN_BATCH_KILL_ON=N, the Nth invocation
SIGKILLs its parent (the synth process) before writing anything, like a machine dying mid-batch."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.helpers.chat_server import _answer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-i", required=True)
    parser.add_argument("-o", required=True)
    parser.add_argument("--model", required=True)
    args = parser.parse_args()
    log = Path(os.environ["RUN_BATCH_LOG"])
    with log.open("a") as f:
        f.write(args.i + "\n")
    if os.environ.get("RUN_BATCH_KILL_ON") == str(len(log.read_text().splitlines())):
        os.kill(os.getppid(), signal.SIGKILL)
        sys.exit(1)
    out = []
    for line in Path(args.i).read_text().splitlines():
        req = json.loads(line)
        body = req["body"]
        payload = _answer(body, 1, (body["messages"][-1]["content"], body.get("seed")), 0.0, True)
        out.append(
            {"id": "x", "custom_id": req["custom_id"], "response": {"status_code": 200, "body": payload}}
        )
    Path(args.o).write_text("".join(json.dumps(r) + "\n" for r in out))


if __name__ == "__main__":
    main()
