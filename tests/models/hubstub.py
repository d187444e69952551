"""A local stand-in for the Hugging Face Hub HTTP API, for the real `huggingface_hub` client.

It speaks the part of the protocol a download uses, with the headers the client relies on:

- `GET /api/models/{repo}/revision/{rev}?blobs=True` → JSON with `sha` (the commit) and `siblings`
  (`rfilename`, `size`, `blobId`, and `lfs: {size, sha256, pointerSize}` for LFS files);
- `HEAD|GET /{repo}/resolve/{rev}/{file}`: small files are served directly with `ETag` (the git blob
  sha1), `X-Repo-Commit` and `Content-Length`; LFS files answer 302 to a separate "CDN" server (a
  different origin, so the client stops there, as with the real CDN) with `X-Linked-Etag` (the
  sha256), `X-Linked-Size`, `X-Repo-Commit` and `Location`;
- the CDN serves bytes with `Range: bytes=N-` → 206 and `Content-Range`;
- private repos answer 401 (`X-Error-Code: RepoNotFound`) without `Authorization: Bearer <token>`.

Knobs for the tests: `throttle` (bytes/s on the CDN), `corrupt` (files whose served bytes differ
from what the API publishes), and `log` (every request: method, path, Range, whether auth came).
Files are real files read from a directory.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

LFS_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".onnx")


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()


@dataclass
class Repo:
    repo_id: str
    files: dict[str, bytes]
    commit: str = field(default_factory=lambda: hashlib.sha1(str(time.time_ns()).encode()).hexdigest())
    private_token: str | None = None

    def is_lfs(self, name: str) -> bool:
        return name.endswith(LFS_SUFFIXES) or len(self.files[name]) > 100_000

    def sibling(self, name: str) -> dict:
        data = self.files[name]
        row = {"rfilename": name, "size": len(data), "blobId": git_blob_sha1(data)}
        if self.is_lfs(name):
            row["lfs"] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "pointerSize": 134}
        return row

    @classmethod
    def from_dir(cls, repo_id: str, directory: Path, **kw) -> Repo:
        files = {
            str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts
        }
        return cls(repo_id, files, **kw)


class HubStub:
    """Two threaded HTTP servers on 127.0.0.1: the hub API and its "CDN"."""

    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.log: list[dict] = []
        self.throttle: float | None = None  # bytes per second on the CDN
        self.corrupt: set[str] = set()
        self.lock = threading.Lock()
        self.hub = ThreadingHTTPServer(("127.0.0.1", 0), self._handler("hub"))
        self.cdn = ThreadingHTTPServer(("127.0.0.1", 0), self._handler("cdn"))
        self.hub.daemon_threads = self.cdn.daemon_threads = True
        self._threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (self.hub, self.cdn)]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.hub.server_address[1]}"

    @property
    def cdn_url(self) -> str:
        return f"http://127.0.0.1:{self.cdn.server_address[1]}"

    def add(self, repo: Repo) -> Repo:
        self.repos[repo.repo_id] = repo
        return repo

    def start(self) -> HubStub:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        for server in (self.hub, self.cdn):
            server.shutdown()
            server.server_close()

    def requests(self, method: str | None = None, contains: str = "") -> list[dict]:
        with self.lock:
            return [
                r for r in self.log if (method is None or r["method"] == method) and contains in r["path"]
            ]

    def bytes_served(self, filename: str) -> int:
        with self.lock:
            return sum(r.get("sent", 0) for r in self.log if r["path"].endswith("/" + filename))

    def _handler(self, role: str):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_HEAD(self) -> None:
                self._route(head=True)

            def do_GET(self) -> None:
                self._route(head=False)

            def _route(self, head: bool) -> None:
                parsed = urllib.parse.urlsplit(self.path)
                path = urllib.parse.unquote(parsed.path)
                entry = {
                    "method": self.command,
                    "role": role,
                    "path": path,
                    "range": self.headers.get("Range"),
                    "auth": self.headers.get("Authorization", "").startswith("Bearer "),
                }
                with stub.lock:
                    stub.log.append(entry)
                try:
                    if role == "cdn":
                        self._cdn(path, head, entry)
                    elif path.startswith("/api/models/"):
                        self._api(path)
                    elif "/resolve/" in path:
                        self._resolve(path, head)
                    else:
                        self._send(404, b"not found")
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _repo_for(self, repo_id: str) -> Repo | None:
                repo = stub.repos.get(repo_id)
                if repo is None:
                    self._send(401, b'{"error":"Repository not found"}', {"X-Error-Code": "RepoNotFound"})
                    return None
                if repo.private_token and self.headers.get("Authorization") != f"Bearer {repo.private_token}":
                    self._send(
                        401,
                        b'{"error":"Invalid credentials in Authorization header"}',
                        {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Invalid credentials"},
                    )
                    return None
                return repo

            def _api(self, path: str) -> None:
                rest = path[len("/api/models/") :]
                if "/tree/" in rest:
                    self._tree(*rest.split("/tree/", 1))
                    return
                repo_id, _, revision = rest.partition("/revision/")
                repo = self._repo_for(repo_id)
                if repo is None:
                    return
                if revision not in ("", "main", repo.commit):
                    self._send(404, b'{"error":"Revision Not Found"}', {"X-Error-Code": "RevisionNotFound"})
                    return
                body = {
                    "_id": "stub",
                    "id": repo.repo_id,
                    "modelId": repo.repo_id,
                    "sha": repo.commit,
                    "private": bool(repo.private_token),
                    "siblings": [repo.sibling(n) for n in sorted(repo.files)],
                }
                self._send(200, json.dumps(body).encode(), {"Content-Type": "application/json"})

            def _tree(self, repo_id: str, revision: str) -> None:
                """The recursive file listing `snapshot_download` asks for (used by the benchmark)."""
                repo = self._repo_for(repo_id)
                if repo is None:
                    return
                rows = []
                for name in sorted(repo.files):
                    sib = repo.sibling(name)
                    row = {"type": "file", "oid": sib["blobId"], "size": sib["size"], "path": name}
                    if "lfs" in sib:
                        row["lfs"] = {"oid": sib["lfs"]["sha256"], "size": sib["size"], "pointerSize": 134}
                    rows.append(row)
                self._send(200, json.dumps(rows).encode(), {"Content-Type": "application/json"})

            def _resolve(self, path: str, head: bool) -> None:
                before, _, filename = path.lstrip("/").partition("/resolve/")
                revision, _, filename = filename.partition("/")
                repo = self._repo_for(before)
                if repo is None:
                    return
                if filename not in repo.files or revision not in ("main", repo.commit):
                    self._send(404, b"Entry not found", {"X-Error-Code": "EntryNotFound"})
                    return
                data = repo.files[filename]
                common = {"X-Repo-Commit": repo.commit}
                if repo.is_lfs(filename):
                    sha = hashlib.sha256(data).hexdigest()
                    location = f"{stub.cdn_url}/{repo.repo_id}/{sha}/{filename}"
                    headers = {
                        **common,
                        "ETag": f'"{git_blob_sha1(data)}"',
                        "X-Linked-Etag": f'"{sha}"',
                        "X-Linked-Size": str(len(data)),
                        "Location": location,
                    }
                    self._send(302, b"", headers, head=head)
                    return
                headers = {**common, "ETag": f'"{git_blob_sha1(data)}"'}
                if filename in stub.corrupt:
                    data = bytes([data[0] ^ 0xFF]) + data[1:]
                self._send(200, data, headers, head=head)

            def _cdn(self, path: str, head: bool, entry: dict) -> None:
                parts = path.lstrip("/").split("/")
                repo_id, filename = "/".join(parts[:2]), "/".join(parts[3:])
                repo = stub.repos.get(repo_id)
                if repo is None or filename not in repo.files:
                    self._send(404, b"no such object")
                    return
                data = repo.files[filename]
                if filename in stub.corrupt:
                    data = bytes([data[0] ^ 0xFF]) + data[1:]  # same size, different bytes
                start = 0
                rng = self.headers.get("Range")
                status = 200
                headers = {"Accept-Ranges": "bytes"}
                if rng and rng.startswith("bytes="):
                    start = int(rng[6:].split("-")[0] or 0)
                    status = 206
                    headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
                body = data[start:]
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if head:
                    return
                self._stream(body, entry)

            def _stream(self, body: bytes, entry: dict) -> None:
                chunk = 64 * 1024
                for offset in range(0, len(body), chunk):
                    piece = body[offset : offset + chunk]
                    self.wfile.write(piece)
                    with stub.lock:
                        entry["sent"] = entry.get("sent", 0) + len(piece)
                    if stub.throttle:
                        time.sleep(len(piece) / stub.throttle)

            def _send(
                self, status: int, body: bytes, headers: dict | None = None, head: bool = False
            ) -> None:
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head and body:
                    self.wfile.write(body)

        return Handler
