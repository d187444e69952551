"""Every shipped recipe that runs on the embedded default (SmolLM2 on llama.cpp, MiniLM) runs here,
for real: `lz run` deploys (once; later runs reuse it), indexes, answers; `lz serve recipes/rag.toml`
answers the `openai` client and chats in a real browser (headless Chromium).

All tests of this module share one LAZYCLI_HOME, so the model is deployed once; the module stops
every deployment at the end.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import openai
import pytest

from tests.conftest import chromium_page, lz
from tests.serve.conftest import lz_serve

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
RECIPES = REPO / "recipes"
SHORT = "app.steps.3.options.max_tokens=48"  # the rag recipes' llm step: keep CI answers short


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed")
    path = tmp_path_factory.mktemp("lzhome-recipes")
    yield path
    lz("deploy", "stop", "--all", env=_env(path), timeout=120)


def _env(home: Path) -> dict:
    return {
        "LAZYCLI_HOME": str(home),
        "LAZYCLI_LLAMACPP_THREADS": os.environ.get("LAZYCLI_LLAMACPP_THREADS", "1"),
    }


def run(home: Path, *args: str, check: int | None = 0, timeout: float = 600):
    return lz("run", *args, env=_env(home), check=check, timeout=timeout)


def deployments(home: Path) -> dict[str, str]:
    rows = json.loads(lz("deploy", "ls", "--json", env=_env(home), check=0).stdout)["deployments"]
    return {row["name"]: str(row["status"]) for row in rows}


def test_dry_run_prints_every_process_and_starts_nothing(home):
    plan = json.loads(run(home, str(RECIPES / "rag-stack.toml"), "--dry-run", "--json").stdout)["plan"]
    by_id = {item["id"]: item for item in plan}
    assert [item["id"] for item in plan] == ["models.llm", "models.embed", "indexes.docs"]
    llm = by_id["models.llm"]
    assert llm["action"] == "deploy" and llm["launcher"] == "local"
    assert "lazycli_plugins.llamacpp_server" in llm["argv"] and "--n_threads" in llm["argv"]
    assert by_id["models.embed"]["action"] == "deploy" and "all-minilm-l6-v2" in by_id["models.embed"]["argv"]
    assert by_id["indexes.docs"]["command"][:2] == ["lz", "index"]
    assert deployments(home) == {}


def test_rag_answers_with_sources_and_second_run_reuses(home):
    first = json.loads(
        run(home, str(RECIPES / "rag.toml"), "--json", "--set", SHORT, "How do I stop a deployment?").stdout
    )
    kb = first["results"]["indexes"]["kb"]
    assert kb["added"] == 4 and kb["chunks"] > 0
    assert first["results"]["models"]["llm"]["reused"] is False
    assert first["output"].strip()
    assert "deploy.md" in {Path(s["source"]).name for s in first["sources"]}
    assert len(first["sources"]) == 3
    # Second run: the deployment is reused and the index unchanged (nothing embedded again); the
    # Chinese question finds the Chinese document through bm25_chinese; sources listed after the answer.
    second = run(home, str(RECIPES / "rag.toml"), "--set", SHORT, "什么是检索增强生成？")
    assert "reusing deployment 'smollm2-135m-instruct'" in second.stderr
    assert "indexes.kb: 4 unchanged (" in second.stderr
    answer, sources = second.stdout.split("sources:\n")
    assert answer.strip() and "rag_zh.md" in sources and sources.strip().startswith("[1] ")
    assert list(deployments(home).values()) == ["running"]


def test_chatbot_and_story_recipes_run(home):
    chat = run(
        home, str(RECIPES / "chatbot.toml"), "--set", "app.steps.0.options.max_tokens=24", "Say hello."
    )
    assert chat.stdout.strip()
    story = run(
        home,
        str(RECIPES / "story.toml"),
        "--set",
        "app.steps.2.body.options.max_tokens=40",
        "a robot who learns to paint",
    ).stdout
    assert story.startswith("# A story about a robot who learns to paint")
    assert story.count("\n## ") == 3  # outline → three sections written by the warp → assembled


def test_failure_stops_only_what_the_run_started(home, tmp_path):
    recipe = tmp_path / "broken.toml"
    recipe.write_text(
        '[models.llm]\nmodel = "smollm2-135m-instruct"\n\n'  # reused: already running
        '[models.extra]\nmodel = "smollm2-135m-instruct"\nname = "extra-llm"\n\n'  # started by this run
        '[indexes.kb]\npaths = ["no-such-folder"]\n'
    )
    proc = run(home, str(recipe), check=None)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{recipe}:9: indexes.kb: index 'kb': no such path" in proc.stderr  # the `paths` line
    assert "stopping deployment 'extra-llm'" in proc.stderr
    state = deployments(home)
    assert state["smollm2-135m-instruct"] == "running"
    assert state.get("extra-llm", "cancelled") != "running"


def test_rag_stack_deploys_two_models_and_serves_chat_and_embeddings(home):
    # `lz serve RECIPE` runs the recipe first: the chat model is reused, the embedding model deployed.
    with lz_serve(
        str(RECIPES / "rag-stack.toml"), "--set", SHORT, home=home, env=_env(home), timeout=300
    ) as (
        base,
        _,
    ):
        assert deployments(home)["rag-stack-embed"] == "running"
        # The index is embedded by that deployment (its server logs the requests), not in-process.
        info = json.loads(lz("index", "info", "rag-stack-docs", "--json", env=_env(home), check=0).stdout)
        assert info["embed"] == "rag-stack-embed" and info["chunks"] > 0
        log = lz("deploy", "logs", "rag-stack-embed", env=_env(home), check=0).stdout
        assert "POST /v1/embeddings" in log
        client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=300)
        vectors = client.embeddings.create(model="rag-stack", input=["hello", "world"]).data
        assert len(vectors) == 2 and len(vectors[0].embedding) == 384  # all-MiniLM-L6-v2
        raw = client.chat.completions.with_raw_response.create(
            model="rag-stack", messages=[{"role": "user", "content": "Which launchers exist?"}]
        )
        body = json.loads(raw.text)
        assert body["choices"][0]["message"]["content"].strip()
        assert "deploy.md" in {Path(s["source"]).name for s in body["sources"]}


@pytest.fixture(scope="module")
def rag_server(home):
    with lz_serve(str(RECIPES / "rag.toml"), "--set", SHORT, home=home, env=_env(home), timeout=300) as (
        base,
        _,
    ):
        yield base


def test_serve_rag_answers_openai_client_with_sources(rag_server):
    client = openai.OpenAI(base_url=rag_server + "/v1", api_key="unused", max_retries=0, timeout=300)
    assert [m.id for m in client.models.list().data] == ["rag"]
    raw = client.chat.completions.with_raw_response.create(
        model="rag", messages=[{"role": "user", "content": "How do I list deployments?"}]
    )
    body = json.loads(raw.text)
    assert body["choices"][0]["message"]["content"].strip()
    assert "deploy.md" in {Path(s["source"]).name for s in body["sources"]}
    stream = client.chat.completions.create(
        model="rag", messages=[{"role": "user", "content": "What is a recipe?"}], stream=True
    )
    pieces = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
    assert len(pieces) > 1 and "".join(pieces).strip()


def test_web_page_chats_in_a_real_browser(rag_server):
    with chromium_page() as (page, errors):
        page.goto(rag_server + "/")
        page.wait_for_function("document.getElementById('model').textContent === 'rag'", timeout=30_000)
        page.fill("#input", "What does lz deploy do?")
        page.keyboard.press("Enter")
        page.wait_for_selector(".msg.user", timeout=10_000)
        page.wait_for_selector(".msg.assistant .sources li", timeout=300_000)
        page.wait_for_function("document.getElementById('status').textContent === 'ready'", timeout=300_000)
        answer = page.inner_text(".msg.assistant .answer")
        sources = page.locator(".msg.assistant .sources li").all_inner_texts()
        assert answer.strip() and not page.locator(".msg.error").count()
        assert any("deploy.md" in s for s in sources)
        assert errors == []


def test_serve_a_model_name_reuses_its_deployment(home):
    with lz_serve("smollm2-135m-instruct", home=home, env=_env(home)) as (base, _):
        client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=300)
        assert [m.id for m in client.models.list().data] == ["smollm2-135m-instruct"]
        reply = client.chat.completions.create(
            model="smollm2-135m-instruct", messages=[{"role": "user", "content": "Hi!"}], max_tokens=8
        )
        assert reply.choices[0].message.content.strip() and reply.usage.completion_tokens > 0
    assert "smollm2-135m-instruct" in deployments(home)  # the same deployment, still the only chat model


def test_voice_rag_hears_the_question_answers_and_speaks(home, tmp_path):
    """recipes/voice-rag.toml: a WAV made by the TTS engine itself → PocketSphinx → bm25 over data/kb →
    SmolLM2 → eSpeak NG; `lz run` gives a WAV path, `lz serve` takes and returns data URLs only."""
    import base64
    import importlib.util
    import io
    import wave

    if not all(importlib.util.find_spec(m) for m in ("espeakng_loader", "pocketsphinx")):
        pytest.skip("the media extra is not installed")
    question = tmp_path / "question.wav"
    lz("speak", "which engine runs on a machine without a graphics card", "-o", str(question), env=_env(home))
    short = "app.steps.3.options.max_tokens=24"
    recipe = str(RECIPES / "voice-rag.toml")
    out = json.loads(run(home, recipe, "--json", "--set", short, str(question)).stdout)
    assert "deploy.md" in {Path(s["source"]).name for s in out["sources"]}  # heard "machine without"
    answer = out["output"]
    assert answer["text"].strip()
    with wave.open(answer["audio"], "rb") as w:
        seconds = w.getnframes() / w.getframerate()
    assert seconds == pytest.approx(answer["seconds"], abs=0.01) and seconds > 0.5

    import httpx

    with lz_serve(recipe, "--set", short, home=home, env=_env(home), timeout=300) as (base, _):
        url = base + "/v1/apps/voice-rag/invoke"
        data_url = "data:audio/wav;base64," + base64.b64encode(question.read_bytes()).decode()
        served = httpx.post(url, json={"input": data_url}, timeout=300).json()["output"]
        head, _, payload = served["audio"].partition(",")
        assert head == "data:audio/wav;base64"
        with wave.open(io.BytesIO(base64.b64decode(payload)), "rb") as w:
            assert w.getnframes() > 0
        refused = httpx.post(url, json={"input": str(question)}, timeout=60)
        assert refused.status_code == 400 and "data URL" in refused.json()["error"]["message"]
        heard = openai.OpenAI(base_url=base + "/v1", api_key="-", max_retries=0).audio.transcriptions.create(
            model="voice-rag", file=("q.wav", question.read_bytes(), "audio/wav")
        )
        # PocketSphinx hears eSpeak's voice imperfectly (~3 words in 4): half the question comes back.
        said = {"which", "engine", "runs", "on", "machine", "without", "graphics", "card"}
        assert len(said & set(heard.text.lower().split())) >= 4, heard.text
