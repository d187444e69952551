"""`lz serve` in front of a fast engine stand-in: the OpenAI wire protocol, load, limits, shutdown."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx
import openai
import pytest

from tests.serve.conftest import lz_serve, standin, stop

pytestmark = pytest.mark.integration

EXPECTED = "echo: hello there w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12"  # the stand-in's 16 pieces


@pytest.fixture(scope="module")
def server(module_home):
    with standin() as engine, lz_serve(engine, home=module_home) as (base, proc):
        yield base


def test_openai_client_plain_and_streaming(server):
    client = openai.OpenAI(base_url=server + "/v1", api_key="unused", max_retries=0)
    messages = [{"role": "user", "content": "hello there"}]
    plain = client.chat.completions.create(model="standin", messages=messages)
    assert plain.choices[0].message.content == EXPECTED
    assert plain.choices[0].finish_reason == "stop"
    assert plain.usage.completion_tokens == 16 and plain.usage.total_tokens == 21
    stream = client.chat.completions.create(
        model="standin", messages=messages, stream=True, stream_options={"include_usage": True}
    )
    deltas, usage, finish = [], None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        if chunk.choices:
            deltas.append(chunk.choices[0].delta.content or "")
            finish = chunk.choices[0].finish_reason or finish
    assert "".join(deltas) == EXPECTED
    assert len([d for d in deltas if d]) == 16  # really streamed piece by piece, not one blob
    assert finish == "stop" and usage.total_tokens == 21
    assert [m.id for m in client.models.list().data] == ["standin"]


def test_64_concurrent_streams_all_complete(server):
    async def one(client, i):
        stream = await client.chat.completions.create(
            model="standin", messages=[{"role": "user", "content": f"q{i}"}], stream=True
        )
        return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    async def main():
        client = openai.AsyncOpenAI(
            base_url=server + "/v1",
            api_key="unused",
            max_retries=0,
            http_client=openai.DefaultAsyncHttpxClient(limits=httpx.Limits(max_connections=64)),
        )
        try:
            return await asyncio.gather(*(one(client, i) for i in range(64)), return_exceptions=True)
        finally:
            await client.close()

    results = asyncio.run(main())
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    assert all(r.startswith(f"echo: q{i} w0") and r.endswith("w13") for i, r in enumerate(results))


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/v1/chat/completions", b'{"messages": [', 400, "json_invalid"),
        ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "\xff"}]}', 400, "json_invalid"),
        ("/v1/chat/completions", b'{"model": "standin"}', 422, "invalid_value"),
        ("/v1/chat/completions", b'{"messages": []}', 422, "invalid_value"),
        ("/v1/chat/completions", b'{"messages": [{"role": "wizard", "content": "x"}]}', 422, "invalid_value"),
        (
            "/v1/chat/completions",
            b'{"messages": [{"role": "user", "content": "x"}], "temperature": "hot"}',
            422,
            "invalid_value",
        ),
        (
            "/v1/chat/completions",
            b'{"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]}',
            404,
            "model_not_found",
        ),
        ("/v1/chat/completions", b"[1, 2]", 422, "invalid_value"),
        ("/v1/embeddings", b'{"input": []}', 422, "invalid_value"),
        ("/v1/apps/standin/invoke", b'{"inptu": "x"}', 422, "invalid_value"),
        ("/v1/apps/nope/invoke", b'{"input": "x"}', 404, "app_not_found"),
    ],
)
def test_malformed_requests_get_4xx_json_and_server_stays_up(server, path, body, status, code):
    resp = httpx.post(server + path, content=body, headers={"content-type": "application/json"}, timeout=30)
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.json()["error"]["code"] == code
    assert httpx.get(server + "/health", timeout=10).json()["status"] == "ok"
    ok = httpx.post(
        server + "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "hello there"}]},
        timeout=30,
    )
    assert ok.json()["choices"][0]["message"]["content"] == EXPECTED


def test_embeddings_invoke_and_page(server):
    emb = httpx.post(
        server + "/v1/embeddings", json={"input": ["a", "b"], "model": "standin"}, timeout=30
    ).json()
    assert [d["index"] for d in emb["data"]] == [0, 1]
    assert (
        emb["data"][0]["embedding"] != emb["data"][1]["embedding"] and len(emb["data"][0]["embedding"]) == 8
    )
    out = httpx.post(server + "/v1/apps/standin/invoke", json={"input": "hello there"}, timeout=30).json()
    assert out["output"] == EXPECTED and out["app"] == "standin"
    page = httpx.get(server + "/", timeout=10)
    assert page.status_code == 200 and "<textarea" in page.text and "/v1/chat/completions" in page.text


@pytest.fixture(scope="module")
def limited(module_home):
    """A slow engine (16 pieces, 0.15 s apart: ~2.4 s an answer) behind a server with tight limits."""
    env = {"LZ_TEST_SERVE_KEY": "s3cret-key"}
    with (
        standin(delay=0.15) as engine,
        lz_serve(
            engine,
            "--api-key-env",
            "LZ_TEST_SERVE_KEY",
            "--max-concurrency",
            "2",
            "--timeout",
            "1.2",
            "--max-body",
            "4096",
            home=module_home,
            env=env,
        ) as (base, proc),
    ):
        yield base, proc


AUTH = {"Authorization": "Bearer s3cret-key"}


def test_api_key_required(limited):
    base, _ = limited
    assert httpx.get(base + "/v1/models", timeout=10).status_code == 401
    wrong = httpx.get(base + "/v1/models", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
    assert "s3cret" not in wrong.text
    assert httpx.get(base + "/v1/models", headers=AUTH, timeout=10).status_code == 200
    assert httpx.get(base + "/health", timeout=10).status_code == 200  # health needs no key
    bad = httpx.post(
        base + "/v1/chat/completions", content=b"{bad", headers={"content-type": "application/json"}
    )
    assert bad.status_code == 401  # no key: nothing about the request is looked at
    client = openai.OpenAI(base_url=base + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_body_limit_413(limited):
    base, _ = limited
    big = {"messages": [{"role": "user", "content": "x" * 5000}]}
    resp = httpx.post(base + "/v1/chat/completions", json=big, headers=AUTH, timeout=10)
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "request_too_large"

    def chunked(data: bytes):  # no Content-Length: the server must count as it reads
        for i in range(0, len(data), 1000):
            yield data[i : i + 1000]

    payload = json.dumps(big).encode()
    resp = httpx.post(base + "/v1/chat/completions", content=chunked(payload), headers=AUTH, timeout=10)
    assert resp.status_code == 413
    small = json.dumps({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}).encode()
    resp = httpx.post(base + "/v1/chat/completions", content=chunked(small), headers=AUTH, timeout=10)
    assert resp.status_code == 422  # a small chunked body is read and validated as usual


def test_timeout_504_plain_and_error_event_when_streaming(limited):
    base, _ = limited
    body = {"messages": [{"role": "user", "content": "slow"}]}
    started = time.monotonic()
    resp = httpx.post(base + "/v1/chat/completions", json=body, headers=AUTH, timeout=30)
    assert resp.status_code == 504 and resp.json()["error"]["code"] == "timeout"
    assert time.monotonic() - started < 2.2
    with httpx.stream(
        "POST", base + "/v1/chat/completions", json={**body, "stream": True}, headers=AUTH, timeout=30
    ) as stream:
        events = [json.loads(line[6:]) for line in stream.iter_lines() if line.startswith("data: {")]
    assert events[-1]["error"]["code"] == "timeout"
    assert 0 < len([e for e in events if e.get("choices")]) < 17  # some pieces came before the deadline
    time.sleep(1.5)  # let the timed-out producers finish before the next test counts requests


def test_concurrency_limit_429(limited):
    base, _ = limited
    body = {"messages": [{"role": "user", "content": "hold"}], "stream": True}
    statuses: list[int] = []

    def hold():
        with httpx.stream("POST", base + "/v1/chat/completions", json=body, headers=AUTH, timeout=30) as resp:
            statuses.append(resp.status_code)
            for _ in resp.iter_lines():
                pass

    threads = [threading.Thread(target=hold) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    busy = httpx.post(
        base + "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "x"}]},
        headers=AUTH,
        timeout=10,
    )
    for t in threads:
        t.join()
    assert statuses == [200, 200]
    assert busy.status_code == 429 and busy.headers["retry-after"] == "1"


def test_graceful_shutdown_finishes_the_stream_in_flight(module_home):
    with standin(delay=0.1) as engine, lz_serve(engine, home=module_home) as (base, proc):
        got: dict = {}

        def consume():
            body = {"messages": [{"role": "user", "content": "bye"}], "stream": True}
            with httpx.stream("POST", base + "/v1/chat/completions", json=body, timeout=30) as resp:
                got["lines"] = [line for line in resp.iter_lines() if line.startswith("data: ")]

        reader = threading.Thread(target=consume)
        reader.start()
        time.sleep(0.5)  # mid-stream (16 pieces take ~1.6 s)
        code = stop(proc, grace=20)
        reader.join(timeout=20)
        assert code == 0
        assert got["lines"][-1] == "data: [DONE]"
        text = "".join(
            json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
            for line in got["lines"][:-1]
            if json.loads(line[6:]).get("choices")
        )
        assert text.startswith("echo: bye w0") and text.endswith("w13")
        with pytest.raises(httpx.HTTPError):
            httpx.get(base + "/health", timeout=2)


DATA = __import__("pathlib").Path(__file__).resolve().parents[1] / "recipes" / "data"


def test_serving_a_recipe_app_chat_stream_invoke_and_500_on_a_bug(module_home):
    with lz_serve(str(DATA / "flows.toml"), home=module_home) as (base, _):
        client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0)
        assert [m.id for m in client.models.list().data] == ["flows"]
        history = [{"role": "user", "content": "earlier"}, {"role": "assistant", "content": "reply"}]
        messages = [*history, {"role": "user", "content": "the quick fox"}]
        answer = client.chat.completions.create(model="flows", messages=messages).choices[0].message.content
        assert answer.startswith("3 words in 'the quick fox': THE-QUICK-FOX (first the)!!! [lz ")
        stream = client.chat.completions.create(model="flows", messages=messages, stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == answer
        out = httpx.post(base + "/v1/apps/flows/invoke", json={"input": "a b c d e f"}, timeout=30).json()
        assert out["output"].startswith("big: a b c d e f!!! [lz ")
        no_embed = httpx.post(base + "/v1/embeddings", json={"input": "x"}, timeout=30)
        assert no_embed.status_code == 400 and no_embed.json()["error"]["code"] == "embeddings_unsupported"
    with lz_serve(str(DATA / "boom.toml"), home=module_home) as (base, _):
        bug = httpx.post(
            base + "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "boom"}]},
            timeout=30,
        )
        assert (
            bug.status_code == 500 and "ValueError: a bug in a python step" in bug.json()["error"]["message"]
        )
        with httpx.stream(
            "POST",
            base + "/v1/chat/completions",
            timeout=30,
            json={"messages": [{"role": "user", "content": "boom"}], "stream": True},
        ) as resp:
            last = [line for line in resp.iter_lines() if line.startswith("data: ")][-1]
        assert "a bug in a python step" in json.loads(last[6:])["error"]["message"]
        fine = httpx.post(
            base + "/v1/chat/completions", json={"messages": [{"role": "user", "content": "ok"}]}, timeout=30
        )
        assert fine.json()["choices"][0]["message"]["content"] == "ok"
