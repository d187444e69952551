"""Secrets around `lz serve` (issue 21): its API key never reaches the engine it starts, and an
upstream error sent to HTTP clients never names this machine's keys file."""

from __future__ import annotations

import http.server
import json
import os
import threading
from pathlib import Path

import httpx
import pytest

from tests.conftest import lz
from tests.serve.conftest import lz_serve


class _RejectingAPI(http.server.BaseHTTPRequestHandler):
    """An OpenAI-compatible server that lists one model and refuses every key, as OpenAI does."""

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 - http.server's name
        self._send(200, {"object": "list", "data": [{"id": "m", "object": "model"}]})

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length") or 0))
        error = {"message": "Incorrect API key provided", "type": "invalid_request_error"}
        self._send(401, {"error": {**error, "code": "invalid_api_key"}})

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def rejecting_api():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RejectingAPI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_a_502_names_no_local_keys_file(lz_home, rejecting_api):
    from lazycli.keys import set_key
    from lazycli.paths import config_path, keys_path

    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text(f'[endpoints.stub]\nbase_url = "{rejecting_api}"\nkey_env = "STUB_API_KEY"\n')
    set_key("stub", "sk-stub-0123456789")  # what `lz keys set stub` stores
    keys_file = str(keys_path())
    with lz_serve("stub:m", home=lz_home) as (base, _):
        resp = httpx.post(
            base + "/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}, timeout=60
        )
    assert resp.status_code == 502
    message = resp.json()["error"]["message"]
    assert "rejected the API key" in message and "lz's keys file" in message
    assert keys_file not in resp.text and str(lz_home) not in resp.text and "sk-stub" not in resp.text


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode(errors="replace").partition("=")[::2] for item in raw if item)


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                found.append(int(entry))
    return found


@pytest.mark.integration
def test_the_serve_api_key_stays_out_of_the_engine_it_starts(lz_home):
    pytest.importorskip("llama_cpp")
    env = {"LZ_SERVE_KEY": "serve-secret-4711", "LAZYCLI_LLAMACPP_THREADS": "1"}
    try:
        with lz_serve(
            "smollm2-135m-instruct", "--api-key-env", "LZ_SERVE_KEY", home=lz_home, env=env, timeout=300
        ) as (base, _):
            assert httpx.get(base + "/v1/models", timeout=30).status_code == 401  # the key guards serve
            rows = json.loads(lz("deploy", "ls", "--json", check=0).stdout)["deployments"]
            assert [r["name"] for r in rows] == ["smollm2-135m-instruct"]
            wrapper = int(rows[0]["job_id"])
            engines = _children(wrapper)
            assert engines, "the engine process was not found"
            for pid in (wrapper, *engines):
                environ = _environ(pid)
                assert "LZ_SERVE_KEY" not in environ
                assert "serve-secret-4711" not in "".join(environ.values())
    finally:
        lz("deploy", "stop", "--all")
