"""An OpenAI-compatible Batch API on 127.0.0.1: files (upload with purpose=batch, content download),
batches (create with metadata, retrieve, list with `after` paging) and their status transitions
validating -> in_progress -> completed, or -> expired with only part of the output.

Answers are the chat server's (tests.helpers.chat_server._answer), so a test can check every completion.
`created` counts batches created (exactly-once tests assert it), `answered` the units answered, per
custom_id. Scripting:
  polls_to_finish   retrieves of a batch before it completes
  expire            batch numbers (1, 2, ...) that expire, answering only the first half of their lines
  fail_ids          custom_ids answered with a 500 in the error file (once each)
  kill              (event, nth): SIGKILL `victim` (a pid) on the nth upload | create | poll | download;
                    upload: before answering; create: after creating, before answering; poll: before
                    answering; download: after sending half the file's bytes.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
from collections import Counter

from aiohttp import web

from tests.helpers.chat_server import _answer


class BatchServer:
    def __init__(
        self,
        polls_to_finish: int = 1,
        expire: set[int] | None = None,
        fail_ids: set[str] | None = None,
        kill: tuple[str, int] | None = None,
    ):
        self.polls_to_finish = polls_to_finish
        self.expire = set(expire or ())
        self.fail_ids = set(fail_ids or ())
        self.kill = kill
        self.victim: int | None = None
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict] = {}
        self.polls: Counter = Counter()
        self.events: Counter = Counter()
        self.created = 0
        self.answered: Counter = Counter()  # custom_id -> successful answers written to output files
        self.auth_headers: set[str] = set()
        self.port = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> BatchServer:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        assert ready.wait(10), "batch server did not start"
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/files", self._upload)
        app.router.add_get("/v1/files/{id}/content", self._content)
        app.router.add_post("/v1/batches", self._create)
        app.router.add_get("/v1/batches", self._list)
        app.router.add_get("/v1/batches/{id}", self._retrieve)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        ready.set()
        self._loop.run_forever()

    def _event(self, name: str) -> bool:
        """Count the event; True when this occurrence is the one to kill the client on."""
        self.events[name] += 1
        return self.kill is not None and self.kill == (name, self.events[name]) and self.victim is not None

    def _sigkill(self) -> None:
        os.kill(self.victim, signal.SIGKILL)
        self.victim = None

    # ---- files -------------------------------------------------------------------------------
    async def _upload(self, request: web.Request) -> web.Response:
        self.auth_headers.add(request.headers.get("Authorization", ""))
        form = await request.post()
        if form.get("purpose") != "batch":
            return web.json_response({"error": {"message": "purpose must be batch"}}, status=400)
        data = form["file"].file.read()
        fid = f"file-{len(self.files) + 1}"
        self.files[fid] = data
        if self._event("upload"):
            self._sigkill()
            await asyncio.sleep(0.5)
        return web.json_response(_file(fid, len(data)))

    async def _content(self, request: web.Request) -> web.StreamResponse:
        data = self.files.get(request.match_info["id"])
        if data is None:
            return web.json_response({"error": {"message": "no such file"}}, status=404)
        resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        resp.content_length = len(data)
        await resp.prepare(request)
        if self._event("download"):
            await resp.write(data[: len(data) // 2])
            self._sigkill()
            await asyncio.sleep(0.5)
            return resp
        await resp.write(data)
        await resp.write_eof()
        return resp

    # ---- batches -----------------------------------------------------------------------------
    async def _create(self, request: web.Request) -> web.Response:
        self.auth_headers.add(request.headers.get("Authorization", ""))
        body = await request.json()
        if body.get("input_file_id") not in self.files or body.get("endpoint") != "/v1/chat/completions":
            return web.json_response({"error": {"message": "bad input file or endpoint"}}, status=400)
        with self._lock:
            self.created += 1
            bid = f"batch_{self.created}"
            self.batches[bid] = {
                "id": bid, "object": "batch", "endpoint": body["endpoint"], "input_file_id": body["input_file_id"],
                "completion_window": body.get("completion_window", "24h"), "status": "validating",
                "created_at": self.created, "metadata": body.get("metadata"), "output_file_id": None,
                "error_file_id": None, "number": self.created,
            }  # fmt: skip
        if self._event("create"):
            self._sigkill()
            await asyncio.sleep(0.5)
        return web.json_response(self._public(bid))

    async def _retrieve(self, request: web.Request) -> web.Response:
        bid = request.match_info["id"]
        if bid not in self.batches:
            return web.json_response({"error": {"message": "no such batch"}}, status=404)
        if self._event("poll"):
            self._sigkill()
            await asyncio.sleep(0.5)
        self.polls[bid] += 1
        self._advance(bid)
        return web.json_response(self._public(bid))

    async def _list(self, request: web.Request) -> web.Response:
        limit = int(request.query.get("limit", 20))
        after = request.query.get("after")
        ids = sorted(self.batches, key=lambda b: -self.batches[b]["number"])  # newest first, like OpenAI
        if after in ids:
            ids = ids[ids.index(after) + 1 :]
        page = ids[:limit]
        data = [self._public(b) for b in page]
        return web.json_response({"object": "list", "data": data, "has_more": len(ids) > limit})

    def _public(self, bid: str) -> dict:
        return {k: v for k, v in self.batches[bid].items() if k != "number"}

    def _advance(self, bid: str) -> None:
        b = self.batches[bid]
        if b["status"] == "validating":
            b["status"] = "in_progress"
        if b["status"] != "in_progress" or self.polls[bid] < self.polls_to_finish:
            return
        lines = [json.loads(x) for x in self.files[b["input_file_id"]].splitlines() if x.strip()]
        expired = b["number"] in self.expire
        answered = lines[: len(lines) // 2] if expired else lines
        out, err = [], []
        for line in answered:
            cid = line["custom_id"]
            if cid in self.fail_ids:
                self.fail_ids.discard(cid)
                err.append({"id": f"r-{cid}", "custom_id": cid, "response": {"status_code": 500, "body": {}},
                            "error": {"code": "server_error", "message": "internal"}})  # fmt: skip
                continue
            messages = line["body"]["messages"]
            key = (messages[-1]["content"], line["body"].get("seed"))
            payload = _answer(line["body"], 1, key, 0.0, True)
            out.append({"id": f"r-{cid}", "custom_id": cid, "response": {"status_code": 200, "body": payload},
                        "error": None})  # fmt: skip
            self.answered[cid] += 1
        if expired:
            for line in lines[len(lines) // 2 :]:
                err.append({"id": f"r-{line['custom_id']}", "custom_id": line["custom_id"], "response": None,
                            "error": {"code": "batch_expired", "message": "not done in time"}})  # fmt: skip
        b["status"] = "expired" if expired else "completed"
        for kind, rows in (("output_file_id", out), ("error_file_id", err)):
            if rows:
                fid = f"file-{len(self.files) + 1}"
                self.files[fid] = "".join(json.dumps(r) + "\n" for r in rows).encode()
                b[kind] = fid
        b["request_counts"] = {"total": len(lines), "completed": len(out), "failed": len(lines) - len(out)}


def _file(fid: str, size: int) -> dict:
    return {"id": fid, "object": "file", "bytes": size, "created_at": 0, "filename": "in.jsonl",
            "purpose": "batch", "status": "processed"}  # fmt: skip
