"""`--teacher openai-batch:MODEL`: the OpenAI-compatible Batch API (a discount for waiting up to a day).

Work goes out in chunks of at most --batch-units units: a JSONL request file (one chat-completions body
per unit, custom_id "<problem_id>:<sample_idx>") is uploaded with purpose=batch, a batch is created over
it with metadata naming (run, shard, chunk hash), the batch is polled until it ends, and its output and
error files are downloaded. vLLM's `run-batch` reads and writes this same format (sampling/batch_file.py).

Exactly once, with a ledger (LAKE/_journal/run=R/<shard>.batches.ledger, one fsynced JSON line per event):
  submit  {chunk, units, reserve}  written before the upload: which units the chunk holds
  created {chunk, batch}           written as soon as the batch id is known
  done    {batch}                  written after every result of the batch reached the caller's journal
A restart polls the batches the ledger created and has not finished, instead of creating new ones. A
chunk with a `submit` but no `created` line (killed during upload or before the create call answered)
is first looked up on the server by its metadata; only when no batch carries it is it submitted, so a
crash never pays twice. A batch that expires or fails in part gives its successes and resubmits only the
rest (up to --max-retries more batches per unit, then the unit is recorded as failed and a resume
retries it). Results of a batch whose units are no longer wanted (already in the lake) are dropped.

Budget: before a chunk is submitted, its worst case (every prompt's token bound plus max_tokens, at the
batch price = list price x --batch-price-factor) is reserved; a chunk that does not fit next to what is
spent and reserved is not submitted, and the run ends with what fits ("stopped: budget").
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.errors import UserError
from sampling.batch_file import custom_id, parse_result, request_line
from sampling.config import Backends, BatchConfig, OpenAIConfig
from sampling.openai_api import prompt_token_bound, read_api_key
from sampling.pricing import Budget, Prices, resolve_prices
from sampling.types import Completion, SampleRequest

TERMINAL = {"completed", "expired", "failed", "cancelled"}
METADATA_KEYS = ("minireason_run", "minireason_shard", "minireason_chunk")


@dataclass
class Chunk:
    chunk: str  # hash of the units and the model: the metadata a lost batch is found by
    units: list[str]  # custom_ids
    reserve: float
    batch: str | None = None


@dataclass
class Ledger:
    """The durable record of chunks and batches of one (run, shard); see the module docstring."""

    path: Path
    chunks: dict[str, Chunk] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)  # batch ids
    attempts: Counter = field(default_factory=Counter)  # custom_id -> chunks it was submitted in

    @classmethod
    def load(cls, path: Path) -> Ledger:
        ledger = cls(path)
        lines = path.read_bytes().splitlines() if path.exists() else []
        for raw in lines:
            try:
                e = json.loads(raw)
            except ValueError:  # a torn last line (SIGKILL mid-write): the event did not happen
                continue
            if e["e"] == "submit":
                ledger.chunks[e["chunk"]] = Chunk(e["chunk"], e["units"], e["reserve"])
                ledger.attempts.update(e["units"])
            elif e["e"] == "created":
                ledger.chunks[e["chunk"]].batch = e["batch"]
            elif e["e"] == "done":
                ledger.done.add(e["batch"])
        return ledger

    def open_chunks(self) -> list[Chunk]:
        return [c for c in self.chunks.values() if c.batch is None or c.batch not in self.done]

    def write(self, event: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, json.dumps(event).encode() + b"\n")
            os.fsync(fd)  # rare events, each of which decides whether money is spent twice
        finally:
            os.close(fd)


class BatchTeacher:
    """A Teacher (sampling.types) over the Batch API; Budgeted like the openai: teacher."""

    def __init__(self, model: str, cfg: OpenAIConfig, bcfg: BatchConfig):
        if not model:
            raise UserError("--teacher openai-batch:MODEL needs a model name, e.g. openai-batch:gpt-4.1-mini")
        if bcfg.batch_units < 1 or bcfg.poll_s <= 0 or not 0 < bcfg.price_factor <= 1:
            raise UserError("--batch-units must be >= 1, --batch-poll > 0, 0 < --batch-price-factor <= 1")
        self.model = model
        self.name = f"openai-batch:{model}"
        self.cfg, self.bcfg = cfg, bcfg
        listed = resolve_prices(model, cfg.price_in, cfg.price_out, cfg.budget_usd)
        self.prices = Prices(listed.input_per_m * bcfg.price_factor, listed.output_per_m * bcfg.price_factor)
        self.budget = Budget(cfg.budget_usd)
        self.budget_exhausted = False
        self.unlaunched = 0
        self.stats: Counter = Counter()  # submitted, adopted, done, expired, resubmitted
        self._key = read_api_key(cfg)
        self._client = None
        self._ledger: Ledger | None = None
        self._run, self._shard = "default", "shard-0-of-1"
        self._wanted: dict[str, SampleRequest] = {}
        self._last_status = ""

    # ---- Budgeted --------------------------------------------------------------------------------
    @property
    def spent_usd(self) -> float:
        return self.budget.spent_usd

    @property
    def budget_usd(self) -> float | None:
        return self.budget.limit_usd

    # ---- the caller's hook: where the ledger lives ------------------------------------------------
    def attach(self, directory: Path, run: str, shard: str) -> None:
        """Called by synth generate with the run's journal directory (locked for this run and shard)."""
        # not *.jsonl: the journal recovery compacts every "<shard>*.jsonl" it finds
        self._ledger = Ledger.load(directory / f"{shard}.batches.ledger")
        self._run, self._shard = run, shard

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # ---- Teacher ---------------------------------------------------------------------------------
    def generate(self, requests: list[SampleRequest]) -> Iterator[tuple[SampleRequest, Completion]]:
        if self._ledger is None:
            raise UserError("openai-batch: runs inside `synth generate` (it journals its batches there)")
        wanted = self._wanted = {custom_id(r): r for r in requests}
        running: list[Chunk] = []
        for chunk in self._ledger.open_chunks():  # a previous attempt's batches: poll, never recreate
            units = [u for u in chunk.units if u in wanted]
            if not units and chunk.batch is None:
                continue
            self.budget.reserved_usd += chunk.reserve  # it is (or may be) billed: it counts against the cap
            running.append(chunk)
        claimed = {u for c in running for u in c.units}
        queue = self._chunks([r for cid, r in wanted.items() if cid not in claimed])
        start, total = time.monotonic(), len(wanted)
        while running or queue:
            while queue:
                units = queue[0]
                reserve = self._worst_cost([wanted[u] for u in units])
                if not self.budget.try_reserve(reserve):
                    break  # running batches may settle below their reservation: try again after them
                queue.pop(0)
                running.append(self._submit(units, reserve, wanted))
            if queue and not running:  # nothing left to settle: what is queued can never fit
                self._out_of_budget(queue)
                queue = []
            finished = self._poll(running)
            for chunk, batch in finished:
                running.remove(chunk)
                retry = yield from self._collect(chunk, batch, wanted)
                queue += self._chunks(retry)
            self._status(running, start, total, len(wanted))
            if running and not finished:
                time.sleep(self.bcfg.poll_s)

    def _out_of_budget(self, queue: list[list[str]]) -> None:
        self.budget_exhausted = True
        self.unlaunched = sum(len(q) for q in queue)
        print(
            f"openai-batch: {self.unlaunched} units not submitted: the worst case of their next batch "
            f"would pass --budget-usd {self.budget.limit_usd} (spent ${self.budget.spent_usd:.4f})",
            file=sys.stderr,
        )

    # ---- steps -----------------------------------------------------------------------------------
    def _chunks(self, requests: list[SampleRequest]) -> list[list[str]]:
        ids = [custom_id(r) for r in requests]
        n = self.bcfg.batch_units
        return [ids[i : i + n] for i in range(0, len(ids), n)]

    def _worst_cost(self, requests: list[SampleRequest]) -> float:
        return sum(self.prices.cost(prompt_token_bound(r.messages), r.max_tokens) for r in requests)

    def _chunk_hash(self, units: list[str]) -> str:
        attempt = max(self._ledger.attempts[u] for u in units)  # a resubmission is another chunk
        text = json.dumps([self.model, self._run, self._shard, attempt, units])
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def _submit(self, units: list[str], reserve: float, wanted: dict) -> Chunk:
        chunk = Chunk(self._chunk_hash(units), units, reserve)
        self._ledger.write({"e": "submit", "chunk": chunk.chunk, "units": units, "reserve": reserve})
        self._ledger.chunks[chunk.chunk] = chunk
        self._ledger.attempts.update(units)
        self._create(chunk, wanted)
        return chunk

    def _create(self, chunk: Chunk, wanted: dict) -> None:
        body = "".join(request_line(wanted[u], self.model) + "\n" for u in chunk.units if u in wanted)
        client = self._api()
        upload = client.files.create(file=("requests.jsonl", body.encode()), purpose="batch")
        batch = client.batches.create(
            input_file_id=upload.id,
            endpoint="/v1/chat/completions",
            completion_window=self.bcfg.completion_window,
            metadata=self._metadata(chunk.chunk),
        )
        self._record(chunk, batch.id)
        self.stats["submitted"] += 1

    def _record(self, chunk: Chunk, batch_id: str) -> None:
        chunk.batch = batch_id
        self._ledger.write({"e": "created", "chunk": chunk.chunk, "batch": batch_id})

    def _metadata(self, chunk: str) -> dict[str, str]:
        return dict(zip(METADATA_KEYS, (self._run, self._shard, chunk), strict=True))

    def _find(self, chunk: Chunk) -> str | None:
        """A batch created for this chunk whose id the ledger never heard of (killed after create)."""
        meta = self._metadata(chunk.chunk)
        for batch in self._api().batches.list(limit=100):  # the page iterator follows `after`
            if all((batch.metadata or {}).get(k) == v for k, v in meta.items()):
                return batch.id
        return None

    def _poll(self, running: list[Chunk]) -> list[tuple[Chunk, object]]:
        finished = []
        for chunk in running:
            if chunk.batch is None:  # submitted before a crash, id unknown: find it, else create it now
                found = self._find(chunk)
                if found is not None:
                    self._record(chunk, found)
                    self.stats["adopted"] += 1
                else:
                    self._create(chunk, self._wanted)
                    continue
            batch = self._api().batches.retrieve(chunk.batch)
            if batch.status in TERMINAL:
                finished.append((chunk, batch))
        return finished

    def _collect(self, chunk: Chunk, batch, wanted: dict):
        """Yield the batch's successes; return the units to resubmit."""
        results: dict[str, dict] = {}
        for file_id in (batch.output_file_id, batch.error_file_id):
            if file_id:
                for line in self._api().files.content(file_id).text.splitlines():
                    if line.strip():
                        row = json.loads(line)
                        results.setdefault(row["custom_id"], row)
        retry = []
        for u in chunk.units:
            request = wanted.get(u)
            if request is None:
                continue  # already in the lake (a resumed batch's unit another path delivered)
            completion = parse_result(results.get(u), self.prices)
            if completion.error is None:
                self.budget.spent_usd += completion.cost_usd
                self.stats["tokens"] += completion.completion_tokens
                del wanted[u]
                yield request, completion
            elif self._ledger.attempts[u] > self.cfg.max_retries:
                del wanted[u]
                yield request, completion
            else:
                retry.append(request)
        self.budget.settle(chunk.reserve, 0.0)  # the actual cost was added per completion above
        self._ledger.write({"e": "done", "batch": chunk.batch})
        self._ledger.done.add(chunk.batch)
        self.stats["done"] += 1
        self.stats["expired"] += batch.status == "expired"
        self.stats["resubmitted"] += len(retry)
        return retry

    def _status(self, running: list[Chunk], start: float, total: int, left: int) -> None:
        done = total - left
        elapsed = time.monotonic() - start
        eta = f", ETA {elapsed / done * left:.0f}s" if done and left else ""
        line = (
            f"openai-batch: batches {self.stats['submitted']} submitted, {len(running)} running, "
            f"{self.stats['done']} done; {done}/{total} samples, {self.stats['tokens']:,} tokens, "
            f"${self.budget.spent_usd:.4f}"
        )
        if line != self._last_status:  # one line per change, not per poll
            self._last_status = line
            print(line + eta, file=sys.stderr, flush=True)

    def _api(self):
        if self._client is None:
            import openai

            self._client = openai.OpenAI(
                api_key=self._key,
                base_url=self.cfg.base_url,
                max_retries=self.cfg.max_retries,  # transient API errors: the client's backoff, Retry-After
                timeout=self.cfg.request_timeout_s,
            )
        return self._client


def make(spec_rest: str, backends: Backends, seed: int = 0) -> BatchTeacher:
    """Registry factory: `openai-batch:MODEL` (each request line carries its unit's seed)."""
    return BatchTeacher(spec_rest, backends.openai, backends.batch)
