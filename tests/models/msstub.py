"""A local stand-in for the ModelScope hub API, for the real `modelscope` client (MODELSCOPE_ENDPOINT).

It serves what `snapshot_download` uses:

- `GET /api/v1/models/{repo}/repo/files?Revision=R&Recursive=True` → `{"Code": 200, "Data": {"Files":
  [{"Name", "Path", "Type": "blob", "Size", "Sha256", "Revision"}]}, "Success": true}`;
- `GET /api/v1/models/{repo}/repo?Revision=R&FilePath=F` → the bytes (Range: bytes=N- → 206);
- anything else → a 404 in ModelScope's JSON error shape (logged, so a test sees unknown calls).

`corrupt` serves different bytes for a file than its published sha256; `log` keeps every request.
"""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ModelScopeStub:
    def __init__(self) -> None:
        self.repos: dict[str, dict[str, bytes]] = {}
        self.log: list[dict] = []
        self.corrupt: set[str] = set()
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> ModelScopeStub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_HEAD(self) -> None:
                self._route(head=True)

            def do_GET(self) -> None:
                self._route(head=False)

            def _route(self, head: bool) -> None:
                parsed = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(parsed.query))
                path = urllib.parse.unquote(parsed.path)
                entry = {
                    "method": self.command,
                    "path": path,
                    "query": query,
                    "range": self.headers.get("Range"),
                }
                with stub.lock:
                    stub.log.append(entry)
                prefix = "/api/v1/models/"
                try:
                    if path.startswith(prefix) and path.endswith("/repo/files"):
                        self._files(path[len(prefix) : -len("/repo/files")], query)
                    elif path.startswith(prefix) and path.endswith("/repo") and "FilePath" in query:
                        self._file(path[len(prefix) : -len("/repo")], query["FilePath"], head)
                    else:
                        self._json(404, {"Code": 404, "Message": "not in the stand-in", "Success": False})
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _files(self, repo_id: str, query: dict) -> None:
                files = stub.repos.get(repo_id)
                if files is None:
                    self._json(404, {"Code": 10010205001, "Message": "model not found", "Success": False})
                    return
                rows = [
                    {
                        "Name": name.rsplit("/", 1)[-1],
                        "Path": name,
                        "Type": "blob",
                        "Size": len(data),
                        "Sha256": hashlib.sha256(data).hexdigest(),
                        "Revision": query.get("Revision", "master"),
                    }
                    for name, data in sorted(files.items())
                ]
                self._json(200, {"Code": 200, "Data": {"Files": rows}, "Success": True})

            def _file(self, repo_id: str, name: str, head: bool) -> None:
                data = stub.repos.get(repo_id, {}).get(name)
                if data is None:
                    self._json(404, {"Code": 404, "Message": "file not found", "Success": False})
                    return
                if name in stub.corrupt:
                    data = bytes([data[0] ^ 0xFF]) + data[1:]
                start, status = 0, 200
                rng = self.headers.get("Range")
                if rng and rng.startswith("bytes="):
                    start, status = int(rng[6:].split("-")[0] or 0), 206
                body = data[start:]
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Accept-Ranges", "bytes")
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def _json(self, status: int, obj: dict) -> None:
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
