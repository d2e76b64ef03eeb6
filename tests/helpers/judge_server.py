"""A judge endpoint with scripted answers: a chat-completions server on 127.0.0.1 whose reply to a
request is chosen by the first scripted marker found in the request's user message.

Script values: "CORRECT" / "INCORRECT" / any other text (sent as the reply), "error" (HTTP 500, every
attempt), "timeout" (answers after `slow_s`, later than the client waits). `asked` counts requests per
marker (None: no marker matched: a request the test did not expect)."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

from aiohttp import web


class JudgeServer:
    def __init__(self, script: dict[str, str], slow_s: float = 5.0):
        self.script = dict(script)
        self.slow_s = slow_s
        self.asked: Counter = Counter()
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> JudgeServer:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        assert ready.wait(10), "judge server did not start"
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        ready.set()
        self._loop.run_forever()

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        user = body["messages"][-1]["content"]
        marker = next((m for m in self.script if m in user), None)
        self.asked[marker] += 1
        action = self.script.get(marker, "CORRECT")
        if action == "error":
            return web.json_response({"error": {"message": "boom", "code": 500}}, status=500)
        if action == "timeout":
            await asyncio.sleep(self.slow_s)
            action = "CORRECT"
        choice = {"index": 0, "message": {"role": "assistant", "content": action}, "finish_reason": "stop"}
        usage = {"prompt_tokens": 100, "completion_tokens": 2, "total_tokens": 102}
        return web.json_response(
            {"id": "j", "object": "chat.completion", "created": 0, "model": body["model"],
             "choices": [choice], "usage": usage}
        )  # fmt: skip
