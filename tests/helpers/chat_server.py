"""A real chat-completions server on 127.0.0.1 (aiohttp) for tests and benchmarks.

It speaks enough of the OpenAI protocol for the `openai` client: POST /v1/chat/completions with
`n`, `seed`, `max_tokens`, usage counts and `reasoning_content`. Faults are injected per request from
a seeded hash of (prompt, seed, attempt), so a run is reproducible: 429 with Retry-After, 500, a
connection reset, a response slower than the client's timeout, truncated JSON, empty `choices`.
Units listed as `always_fail` answer 500 until `heal()` is called (a first run records errors that
a second run fills). Every request and every fully sent answer is counted per (prompt, seed).

Run standalone (for benchmarks or a manual `synth generate`):
    python tests/helpers/chat_server.py --port 8000 --latency 0.05
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web

FAULTS = ("rate_limit", "server_error", "reset", "slow", "truncated_json", "empty_choices")


@dataclass
class FaultMix:
    """Probability of each fault per request attempt (the rest answer normally)."""

    rate_limit: float = 0.0
    server_error: float = 0.0
    reset: float = 0.0
    slow: float = 0.0
    truncated_json: float = 0.0
    empty_choices: float = 0.0
    length: float = 0.0  # share of answers cut at max_tokens (finish_reason "length"): not a fault
    retry_after: str = "0"  # Retry-After header value sent with 429
    slow_s: float = 5.0  # how long a "slow" response takes (above the client's timeout)
    seed: int = 0

    def pick(self, key: str, attempt: int) -> str | None:
        """The fault for this attempt of this request, or None; deterministic in (seed, key, attempt)."""
        digest = hashlib.sha256(f"{self.seed}\x1f{key}\x1f{attempt}".encode()).digest()
        u = struct.unpack(">Q", digest[:8])[0] / 2**64
        for name in FAULTS:
            p = getattr(self, name)
            if u < p:
                return name
            u -= p
        return None


@dataclass
class ServerState:
    requests: Counter = field(default_factory=Counter)  # (prompt, seed) -> requests received
    returned: Counter = field(default_factory=Counter)  # (prompt, seed) -> 200 answers fully sent
    faults: Counter = field(default_factory=Counter)  # fault name -> times injected
    auth_headers: set = field(default_factory=set)  # every Authorization header seen
    arrivals: dict = field(default_factory=dict)  # (prompt, seed) -> monotonic arrival times


class ChatServer:
    """A chat-completions server in a background thread; use as a context manager.

    `n_mode`: "support" answers `n` choices, "ignore" always answers one (like APIs without `n`),
    "reject" answers 400 to n > 1. `reasoning`: also send `reasoning_content`.
    `echo_auth`: error bodies echo the Authorization header (a hostile server, for leak tests).
    `hold_after`: requests after the first `hold_after` hang until `release()`.
    `api_key`: when set, any other key is refused with 401.
    `script`: per (prompt, seed), the fault of attempt 1, 2, ... (None: answer); beyond it, `faults`.
    `answers`: per prompt, choice 0, 1, ...: its visible text, or a dict of message fields (`content`,
    `reasoning_content`): a scripted model, e.g. real traces replayed in the shape a server sends them.
    """

    def __init__(
        self,
        faults: FaultMix | None = None,
        latency_s: float = 0.0,
        n_mode: str = "support",
        reasoning: bool = True,
        always_fail: set[tuple[str, int]] | None = None,
        script: dict[tuple[str, int], list[str | None]] | None = None,
        echo_auth: bool = False,
        hold_after: int | None = None,
        api_key: str | None = None,
        port: int = 0,
        answers: dict[str, list[str]] | None = None,
    ):
        self.faults = faults or FaultMix()
        self.latency_s = latency_s
        self.n_mode = n_mode
        self.reasoning = reasoning
        self.always_fail = set(always_fail or ())
        self.script = dict(script or {})
        self.echo_auth = echo_auth
        self.hold_after = hold_after
        self.api_key = api_key
        self.port = port
        self.answers = dict(answers or {})
        self.state = ServerState()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._released: asyncio.Event | None = None

    # ---- lifecycle -------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> ChatServer:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("chat server did not start")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = None

    def __enter__(self) -> ChatServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def heal(self) -> None:
        """Stop failing the `always_fail` units and stop injecting faults (answers stay the same)."""
        self.always_fail = set()
        self.faults = FaultMix(length=self.faults.length)

    def release(self) -> None:
        """Let held requests (see `hold_after`) proceed, and stop holding."""
        self.hold_after = None
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._released.set)

    def held(self) -> int:
        """Requests received but not answered because of `hold_after`."""
        return self.state.faults["held"]

    def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._released = asyncio.Event()
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, backlog=1024)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        ready.set()
        self._loop.run_forever()

    # ---- handlers --------------------------------------------------------------------------
    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "tiny", "object": "model"}]})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        prompt = body["messages"][-1]["content"]
        seed = body.get("seed")
        key = (prompt, seed)
        with self._lock:
            self.state.requests[key] += 1
            attempt = self.state.requests[key]
            self.state.auth_headers.add(request.headers.get("Authorization", ""))
            self.state.arrivals.setdefault(key, []).append(time.monotonic())
        if self.hold_after is not None and sum(self.state.requests.values()) > self.hold_after:
            self.state.faults["held"] += 1
            await self._released.wait()
            if request.transport is None or request.transport.is_closing():
                return web.Response()  # the client is gone (killed): nothing is delivered
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if self.api_key is not None and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._error(request, 401, "invalid api key")
        n = int(body.get("n") or 1)
        if n > 1 and self.n_mode == "reject":
            return self._error(request, 400, "n > 1 is not supported")
        if (prompt, seed) in self.always_fail:
            return self._error(request, 500, "permanent failure")
        steps = self.script.get(key, [])
        fault = (
            steps[attempt - 1] if attempt <= len(steps) else self.faults.pick(f"{prompt}\x1f{seed}", attempt)
        )
        if fault is not None:
            self.state.faults[fault] += 1
            return await self._inject(request, fault, body, key)
        n = 1 if self.n_mode == "ignore" else n
        payload = _answer(body, n, key, self.faults.length, self.reasoning)
        if prompt in self.answers:
            for choice in payload["choices"]:
                scripted = self.answers[prompt][choice["index"]]
                fields = scripted if isinstance(scripted, dict) else {"content": scripted}
                choice["message"] = {"role": "assistant", **fields}
        return await self._send(request, payload, key)

    async def _send(self, request: web.Request, payload: dict, key) -> web.StreamResponse:
        data = json.dumps(payload).encode()
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.content_length = len(data)
        try:
            await resp.prepare(request)
            await resp.write(data)
            await resp.write_eof()
        except ConnectionResetError:  # the client gave up (timeout, kill): nothing was delivered
            return resp
        with self._lock:
            self.state.returned[key] += 1
        return resp

    def _error(self, request: web.Request, status: int, message: str, headers=None) -> web.Response:
        if self.echo_auth:
            message = f"{message}; you sent {request.headers.get('Authorization', '')}"
        payload = {"error": {"message": message, "type": "server_error", "code": status}}
        return web.json_response(payload, status=status, headers=headers)

    async def _inject(self, request: web.Request, fault: str, body: dict, key) -> web.StreamResponse:
        n = int(body.get("n") or 1) if self.n_mode == "support" else 1
        if fault == "rate_limit":
            return self._error(request, 429, "rate limited", {"Retry-After": self.faults.retry_after})
        if fault == "auth":
            return self._error(request, 401, "invalid api key")
        if fault == "server_error":
            return self._error(request, 500, "internal error")
        if fault == "reset":
            _reset(request)
            return web.Response()  # never written: the connection is gone
        if fault == "slow":
            await asyncio.sleep(self.faults.slow_s)
            return await self._send(request, _answer(body, n, key, self.faults.length, self.reasoning), key)
        if fault == "truncated_json":
            data = json.dumps(_answer(body, n, key, self.faults.length, self.reasoning))
            return web.Response(body=data[: len(data) // 2], content_type="application/json")
        return web.json_response({**_answer(body, n, key, self.faults.length, self.reasoning), "choices": []})


def _reset(request: web.Request) -> None:
    """Abort the connection with a TCP RST (SO_LINGER 0), like a crashed proxy."""
    sock = request.transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    request.transport.abort()


def _words(text: str) -> int:
    return len(text.split())


def _answer(body: dict, n: int, key, length_rate: float, reasoning: bool) -> dict:
    """A deterministic answer per (prompt, seed, choice): reasoning plus a boxed number."""
    prompt, seed = key
    prompt_tokens = sum(_words(m["content"]) for m in body["messages"]) + 3 * len(body["messages"])
    max_tokens = int(body.get("max_tokens") or 64)
    choices, completion_tokens, reasoning_total = [], 0, 0
    for i in range(n):
        h = int(hashlib.sha256(f"{prompt}\x1f{seed}\x1f{i}".encode()).hexdigest()[:8], 16)
        think = f"step {h % 97} then step {h % 89} gives {h % 10}"
        text = f"The answer is \\boxed{{{h % 10}}}."
        finish = "stop"
        if length_rate and (h % 1000) / 1000 < length_rate:
            think, text, finish = (think + " and more ") * max_tokens, "", "length"
        tokens = _words(think) + _words(text) if reasoning else _words(text)
        reasoning_total += min(_words(think), tokens) if reasoning else 0
        if finish == "length" or tokens > max_tokens:
            tokens, finish = max_tokens, "length"
        message = {"role": "assistant", "content": text}
        if reasoning:
            message["reasoning_content"] = think
        choices.append({"index": i, "message": message, "finish_reason": finish, "logprobs": None})
        completion_tokens += tokens
    return {
        "id": f"chatcmpl-{seed}",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", "tiny"),
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            # what reasoning models report: the reasoning share of the completion tokens
            **({"completion_tokens_details": {"reasoning_tokens": reasoning_total}} if reasoning else {}),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    server = ChatServer(latency_s=args.latency, port=args.port).start()
    print(server.base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
