"""Bad cases are captured: `lz serve` records every exchange with its trace, `POST /v1/feedback`
rates it, and a thumbs-down clicked in the web page (headless Chromium) shows up in `lz logs --bad`
and `lz logs export --bad`. Real processes: the engine stand-in, `lz serve`, the `openai` client."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from tests.conftest import chromium_page, lz
from tests.serve.conftest import lz_serve, standin

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
def engine():
    with standin(pieces=6) as url:
        yield url


def _env(home) -> dict:
    return {"LAZYCLI_HOME": str(home)}


def _logs(home, *args: str) -> list[dict]:
    return json.loads(lz("logs", *args, "--json", env=_env(home), check=0).stdout)["logs"]


def test_api_exchange_is_traced_and_feedback_rates_it(engine, tmp_path):
    with lz_serve(engine, "--api-key-env", "LZ_TEST_KEY", home=tmp_path,
                  env={"LZ_TEST_KEY": "key-for-serve-123456"}) as (base, _):  # fmt: skip
        client = openai.OpenAI(base_url=base + "/v1", api_key="key-for-serve-123456", max_retries=0)
        reply = client.chat.completions.create(
            model="standin",
            messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "capital?"}],
            temperature=0,
        )
        assert reply.id.startswith("chatcmpl-")
        auth = {"Authorization": "Bearer key-for-serve-123456"}
        sent = {"id": reply.id, "rating": "down", "comment": "too vague", "correction": "Paris."}
        assert httpx.post(base + "/v1/feedback", json=sent).status_code == 401  # auth like the others
        ok = httpx.post(base + "/v1/feedback", json=sent, headers=auth)
        assert ok.status_code == 200, ok.text
        assert ok.json()["rating"] == "down" and ok.json()["trace_id"] == reply.id.removeprefix("chatcmpl-")

        for body, status, code in [
            ({"rating": "down"}, 422, "invalid_value"),
            ({"id": reply.id, "rating": "meh"}, 422, "invalid_value"),
            ({"id": "chatcmpl-nosuchexchange", "rating": "up"}, 404, "exchange_not_found"),
        ]:
            bad = httpx.post(base + "/v1/feedback", json=body, headers=auth)
            assert bad.status_code == status and bad.json()["error"]["code"] == code, bad.text
            assert set(bad.json()["error"]) == {"message", "type", "code"}
        broken = httpx.post(
            base + "/v1/feedback", content=b"{not json", headers={**auth, "Content-Type": "application/json"}
        )
        assert broken.status_code == 400 and broken.json()["error"]["code"] == "json_invalid"

        stream = client.chat.completions.create(
            model="standin", messages=[{"role": "user", "content": "streamed question"}], stream=True
        )
        ids = {chunk.id for chunk in stream}
        assert len(ids) == 1
        streamed_id = ids.pop()
        good = httpx.post(base + "/v1/feedback", json={"id": streamed_id, "rating": "up"}, headers=auth)
        assert good.status_code == 200

    bad = _logs(tmp_path, "--bad")
    assert [(r["prompt"], r["comment"], r["correction"], r["kind"]) for r in bad] == [
        ("capital?", "too vague", "Paris.", "serve")
    ]
    assert bad[0]["response"] == reply.choices[0].message.content
    assert [r["prompt"] for r in _logs(tmp_path, "--good")] == ["streamed question"]
    shown = _logs(tmp_path, "show", reply.id)[0]
    (llm,) = shown["spans"]
    assert llm["kind"] == "llm" and llm["attrs"]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert llm["attrs"]["usage"]["completion_tokens"] > 0 and llm["duration_s"] > 0
    assert shown["feedback"][0]["origin"] == "api"
    assert b"key-for-serve-123456" not in (tmp_path / "data" / "state.db").read_bytes()


def test_feedback_is_refused_when_recording_is_off(engine, tmp_path):
    with lz_serve(engine, home=tmp_path, env={"LAZYCLI_CHAT_LOG": "false"}) as (base, _):
        reply = httpx.post(
            base + "/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}
        ).json()
        refused = httpx.post(base + "/v1/feedback", json={"id": reply["id"], "rating": "down"})
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "feedback_unavailable"
    assert _logs(tmp_path) == []


def test_thumbs_down_in_the_web_page_reaches_lz_logs_bad_and_the_export(engine, tmp_path):
    with lz_serve(engine, home=tmp_path) as (base, _), chromium_page() as (page, errors):
        page.goto(base + "/")
        ready = "document.getElementById('status').textContent === 'ready'"
        page.wait_for_function(ready, timeout=30_000)
        page.fill("#input", "Which port does lz serve use?")
        page.keyboard.press("Enter")
        page.wait_for_selector(".msg.assistant .thumb-down", timeout=60_000)
        answer = page.inner_text(".msg.assistant .answer")
        page.click(".msg.assistant .thumb-down")
        page.wait_for_function(
            "document.querySelector('.rate-status').textContent === 'rated bad'", timeout=30_000
        )
        page.fill(".rate-comment", "it did not name the port")
        page.fill(".rate-correction", "A free port unless you pass --port.")
        page.click(".rate-send")
        page.wait_for_function(
            "document.querySelector('.rate-status').textContent.startsWith('feedback saved')",
            timeout=30_000,
        )
        assert errors == []

    bad = _logs(tmp_path, "--bad")
    assert len(bad) == 1 and bad[0]["prompt"] == "Which port does lz serve use?"
    assert bad[0]["response"] == answer and bad[0]["comment"] == "it did not name the port"
    listing = lz("logs", "--bad", env=_env(tmp_path), check=0).stdout
    assert "Which port does lz serve use?" in listing
    exported = lz("logs", "export", "--bad", "--format", "eval", env=_env(tmp_path), check=0).stdout
    (record,) = [json.loads(line) for line in exported.splitlines()]
    assert record["q"] == "Which port does lz serve use?"
    assert record["answer"] == "A free port unless you pass --port."
    assert record["meta"]["rating"] == "bad" and record["meta"]["logged_answer"] == answer
    history = _logs(tmp_path, "show", bad[0]["trace_id"])[0]["feedback"]
    assert [(f["rating"], f["comment"]) for f in history] == [(-1, None), (-1, "it did not name the port")]


def _stream(base: str, topic: str) -> tuple[str, str]:
    body = {"messages": [{"role": "user", "content": topic}], "stream": True}
    rid, text = None, ""
    with httpx.stream("POST", base + "/v1/chat/completions", json=body, timeout=60) as resp:
        for line in resp.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                chunk = json.loads(line[6:])
                rid = chunk["id"]
                text += "".join(c["delta"].get("content") or "" for c in chunk["choices"])
    return rid, text


def test_lz_chat_and_a_served_recipe_app_record_their_traces(engine, tmp_path):
    env = {**_env(tmp_path), "LZ_TEST_ENGINE_URL": engine}
    lz("chat", engine, "hello there", "--system", "Be kind.", env=env, check=0)
    chat = _logs(tmp_path, "show", "last")[0]
    (llm,) = chat["spans"]
    assert chat["kind"] == "chat" and chat["prompt"] == "hello there"
    assert llm["attrs"]["messages"][0] == {"role": "system", "content": "Be kind."}
    assert llm["attrs"]["usage"]["completion_tokens"] > 0

    recipe = tmp_path / "app.toml"  # an llm step that streams (formatter text) from the stand-in
    recipe.write_text(
        '[app]\n[[app.steps]]\ntype = "llm"\nmodel = "${LZ_TEST_ENGINE_URL}"\nprompt = "Topic: {input}"\n'
    )
    with lz_serve(str(recipe), home=tmp_path, env=env) as (base, _):
        reply = httpx.post(
            base + "/v1/chat/completions", json={"messages": [{"role": "user", "content": "dogs"}]}
        ).json()
        topics = [f"topic{i}" for i in range(8)]
        with ThreadPoolExecutor(8) as pool:  # requests at once: each trace keeps its own steps
            streamed = list(pool.map(lambda topic: _stream(base, topic), topics))
    for topic, (rid, text) in zip(topics, streamed, strict=True):
        row = _logs(tmp_path, "show", rid)[0]
        assert row["prompt"] == topic and row["response"] == text and text.startswith(f"echo: Topic: {topic}")
        (llm,) = [s for s in row["spans"] if s["kind"] == "llm"]
        assert llm["attrs"]["messages"] == [{"role": "user", "content": f"Topic: {topic}"}]
        assert llm["output"] == text and llm["attrs"]["usage"]["completion_tokens"] > 0
    served = _logs(tmp_path, "show", reply["id"])[0]
    assert served["kind"] == "serve" and served["prompt"] == "dogs"
    assert served["response"] == reply["choices"][0]["message"]["content"]
    steps = {s["kind"]: s for s in served["spans"]}
    assert steps["llm"]["attrs"]["messages"] == [{"role": "user", "content": "Topic: dogs"}]
