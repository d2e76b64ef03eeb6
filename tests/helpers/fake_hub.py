"""A real HTTP server on 127.0.0.1 speaking the part of the Hugging Face Hub API that
`HfApi.repo_info`, `create_repo` and `create_commit` use for dataset repos (files inlined as
"regular" uploads, so no LFS/Xet storage is involved).

It keeps repos in memory as {path: bytes} per commit, checks the bearer token, enforces
`parentCommit` like the Hub (412 when the branch moved), and records every request so tests can
assert how many commits were made and what travelled where.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Repo:
    private: bool
    commits: list[tuple[str, dict[str, bytes]]] = field(default_factory=list)  # (sha, files), oldest first

    @property
    def head(self) -> str:
        return self.commits[-1][0]

    @property
    def files(self) -> dict[str, bytes]:
        return self.commits[-1][1]


@dataclass
class Request:
    method: str
    path: str
    authorization: str | None
    body: bytes


class FakeHub:
    def __init__(self, token: str):
        self.token = token
        self.repos: dict[str, Repo] = {}
        self.requests: list[Request] = []
        self.before_commit: Callable[[], None] | None = None  # e.g. another client pushing first
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_repo(self, repo_id: str, files: dict[str, bytes], private: bool = False) -> str:
        with self._lock:
            repo = self.repos.setdefault(repo_id, Repo(private=private))
            sha = _sha(repo_id, len(repo.commits), files)
            repo.commits.append((sha, dict(files)))
            return sha

    def commit_requests(self) -> list[Request]:
        return [r for r in self.requests if r.method == "POST" and "/commit/" in r.path]

    # -- request handling ------------------------------------------------------------------------------------
    def handle(self, method: str, path: str, body: bytes) -> tuple[int, dict]:
        if m := re.fullmatch(r"/api/datasets/([^/]+/[^/]+)(?:/revision/main)?", path):
            return self._info(m[1])
        if path == "/api/repos/create" and method == "POST":
            return self._create(json.loads(body))
        if path == "/api/validate-yaml":
            return 200, {"errors": [], "warnings": []}
        if m := re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/preupload/main", path):
            files = json.loads(body)["files"]
            return 200, {
                "files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]
            }
        if m := re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/commit/main", path):
            return self._commit(m[1], body)
        return 404, {"error": f"no route {method} {path}"}

    def _info(self, repo_id: str) -> tuple[int, dict]:
        repo = self.repos.get(repo_id)
        if repo is None:
            return 404, {"error": "Repository not found"}
        siblings = [{"rfilename": p} for p in sorted(repo.files)]
        return 200, {"id": repo_id, "sha": repo.head, "private": repo.private, "siblings": siblings}

    def _create(self, payload: dict) -> tuple[int, dict]:
        repo_id = f"{payload['organization']}/{payload['name']}"
        if repo_id in self.repos:
            return 409, {"error": "You already created this dataset repo"}
        self.add_repo(
            repo_id,
            {".gitattributes": b"*.parquet filter=lfs\n"},
            private=payload.get("visibility") == "private",
        )
        return 200, {"url": f"{self.endpoint}/datasets/{repo_id}"}

    def _commit(self, repo_id: str, body: bytes) -> tuple[int, dict]:
        if self.before_commit is not None:
            self.before_commit()
        repo = self.repos.get(repo_id)
        if repo is None:
            return 404, {"error": "Repository not found"}
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        header = lines[0]["value"]
        if header.get("parentCommit") not in (None, repo.head):
            return 412, {"error": "A commit has happened since. Please refresh and try again."}
        files = dict(repo.files)
        for line in lines[1:]:
            if line["key"] == "file":
                files[line["value"]["path"]] = base64.b64decode(line["value"]["content"])
            elif line["key"] == "deletedFile":
                files.pop(line["value"]["path"])
            else:
                return 400, {"error": f"unsupported operation {line['key']}"}
        sha = self.add_repo(repo_id, files)
        return 200, {
            "commitUrl": f"{self.endpoint}/datasets/{repo_id}/commit/{sha}",
            "commitOid": sha,
            "pullRequestUrl": None,
        }


def _sha(repo_id: str, n: int, files: dict[str, bytes]) -> str:
    h = hashlib.sha1(f"{repo_id}\x00{n}".encode())
    for path in sorted(files):
        h.update(path.encode() + b"\x00" + files[path])
    return h.hexdigest()


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path = self.path.split("?", 1)[0]
            auth = self.headers.get("Authorization")
            with hub._lock:
                hub.requests.append(Request(self.command, path, auth, body))
            if auth != f"Bearer {hub.token}":
                status, payload = 401, {"error": "Invalid credentials in Authorization header"}
            else:
                status, payload = hub.handle(self.command, path, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 404:
                self.send_header("X-Error-Code", "RepoNotFound")
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

        def log_message(self, *args) -> None:  # keep test output clean
            pass

    return Handler
