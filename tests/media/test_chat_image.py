"""`lz chat TARGET PROMPT --image F` against a stand-in vision server on 127.0.0.1: the request carries
the image as an OpenAI `image_url` content part (a data URL of the file's exact bytes) after the
text; the chat log keeps the text and the image's name, not its base64; bad images never leave lz."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import lz

from .conftest import render_text


class _VisionStandin(BaseHTTPRequestHandler):
    """An OpenAI-compatible vision model that answers with what it was shown."""

    seen: list[dict] = []  # noqa: RUF012 - the requests, for the test to inspect

    def log_message(self, *args) -> None:
        pass

    def _send(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._send({"object": "list", "data": [{"id": "vision-standin", "object": "model"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        self.seen.append(body)
        parts = body["messages"][-1]["content"]
        images = [p for p in parts if isinstance(p, dict) and p.get("type") == "image_url"]
        answer = f"I see {len(images)} image(s)"
        self._send(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": body.get("model"),
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14},
            }
        )


@pytest.fixture
def vision_url():
    _VisionStandin.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _VisionStandin)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_image_goes_as_a_content_part(vision_url, tmp_path, lz_home):
    photo = tmp_path / "photo.png"
    photo.write_bytes(render_text(["A red bicycle"]))
    out = json.loads(
        lz("chat", vision_url, "What is in it?", "--image", str(photo), "--json", check=0).stdout
    )
    assert out["text"] == "I see 1 image(s)"
    (request,) = _VisionStandin.seen
    text, image = request["messages"][-1]["content"]
    assert text == {"type": "text", "text": "What is in it?"}
    head, _, payload = image["image_url"]["url"].partition(",")
    assert image["type"] == "image_url" and head == "data:image/png;base64"
    assert base64.b64decode(payload) == photo.read_bytes()
    logged = json.loads(lz("logs", "list", "--json", check=0).stdout)
    dump = json.dumps(logged)
    assert "photo.png" in dump and payload[:200] not in dump


def test_bad_images_are_refused_before_any_request(vision_url, tmp_path, lz_home):
    fake = tmp_path / "notes.png"
    fake.write_text("just text, not an image")
    huge = tmp_path / "huge.jpg"
    with open(huge, "wb") as fh:
        fh.write(b"\xff\xd8\xff")
        fh.truncate(21 * 1024 * 1024)
    for path, words in ((fake, "not an image file"), (huge, "over the 20.0 MiB limit")):
        proc = lz("chat", vision_url, "What is it?", "--image", str(path), check=2)
        assert words in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert _VisionStandin.seen == []


def test_lz_serve_passes_image_parts_to_a_vision_model(vision_url, tmp_path, lz_home):
    from openai import OpenAI

    from tests.serve.conftest import lz_serve

    png = render_text(["A red bicycle"])
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    parts = [{"type": "text", "text": "What is in it?"}, {"type": "image_url", "image_url": {"url": url}}]
    with lz_serve(vision_url, home=lz_home) as (base, _):
        client = OpenAI(base_url=base + "/v1", api_key="-", max_retries=0, timeout=60)
        reply = client.chat.completions.create(
            model=vision_url, messages=[{"role": "user", "content": parts}]
        )
    assert reply.choices[0].message.content == "I see 1 image(s)"
    assert _VisionStandin.seen[-1]["messages"][-1]["content"] == parts
