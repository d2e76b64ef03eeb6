"""`--teacher vllm-batch:MODEL`: the batch file format (sampling/batch_file.py) run offline by
`vllm run-batch` on this machine's GPUs: no server, no API, the same request and output lines the Batch API
uses.

Each chunk of --batch-units units becomes an input file named by the hash of its lines; the command
(--batch-command, default vLLM's run_batch entry point) writes the output to a temporary name, which is
renamed into place only when the command succeeded. A restart finds a chunk's finished output by that
hash and reads it instead of running the model again; a killed command leaves only the temporary file,
and its chunk runs again. Results for units already in the lake are dropped (the caller's journal makes
the units exactly-once). The files live in the run's journal directory (LAKE/_journal/run=R/).
"""

from __future__ import annotations

import hashlib
import json
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from lakehouse.errors import UserError
from sampling.batch_file import custom_id, parse_result, request_line
from sampling.config import Backends, BatchConfig
from sampling.pricing import Prices
from sampling.types import Completion, SampleRequest

DEFAULT_COMMAND = f"{shlex.quote(sys.executable)} -m vllm.entrypoints.openai.run_batch"
FREE = Prices(0.0, 0.0)  # your own GPUs


class VLLMBatchTeacher:
    def __init__(self, model: str, bcfg: BatchConfig):
        if not model:
            raise UserError("--teacher vllm-batch:MODEL needs a model (a checkpoint directory or hub id)")
        if bcfg.batch_units < 1:
            raise UserError("--batch-units must be >= 1")
        self.model = model
        self.name = f"vllm-batch:{model}"
        self.bcfg = bcfg
        self.command = shlex.split(bcfg.command or DEFAULT_COMMAND)
        self._dir: Path | None = None
        self.runs = 0  # chunks the command was run for (a restart reuses finished outputs)

    def attach(self, directory: Path, run: str, shard: str) -> None:
        self._dir = directory / f"{shard}.vllm-batch"

    def close(self) -> None:
        pass

    def generate(self, requests: list[SampleRequest]) -> Iterator[tuple[SampleRequest, Completion]]:
        if self._dir is None:
            raise UserError("vllm-batch: runs inside `synth generate` (it keeps its files in the journal)")
        self._dir.mkdir(parents=True, exist_ok=True)
        n = self.bcfg.batch_units
        for i in range(0, len(requests), n):
            chunk = requests[i : i + n]
            results = self._run(chunk)
            for r in chunk:
                yield r, parse_result(results.get(custom_id(r)), FREE)

    def _run(self, chunk: list[SampleRequest]) -> dict[str, dict]:
        body = "".join(request_line(r, self.model) + "\n" for r in chunk)
        name = hashlib.sha256(body.encode()).hexdigest()[:24]
        source, output = self._dir / f"{name}.in.jsonl", self._dir / f"{name}.out.jsonl"
        if not output.exists():
            source.write_text(body)
            partial = output.with_suffix(".partial")
            args = [*self.command, "-i", str(source), "-o", str(partial), "--model", self.model]
            done = subprocess.run(args, stdout=sys.stderr)  # its log must not mix with the summary
            if done.returncode != 0:
                raise UserError(f"vllm-batch: {self.command[0]} exited {done.returncode} (its log is above)")
            partial.rename(output)
            self.runs += 1
        rows = (json.loads(x) for x in output.read_text().splitlines() if x.strip())
        return {row["custom_id"]: row for row in rows}


def make(spec_rest: str, backends: Backends, seed: int = 0) -> VLLMBatchTeacher:
    """Registry factory: `vllm-batch:MODEL` (each request line carries its unit's seed)."""
    return VLLMBatchTeacher(spec_rest, backends.batch)
