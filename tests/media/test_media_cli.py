"""`lz deploy` of the bundled media models (auto picks the media engine, offline), `lz speak`,
`lz transcribe`, `lz ocr` and `lz serve MODEL` end to end, and bad files refused in one line with
exit 2. The module shares one LAZYCLI_HOME so each engine starts once; it stops them all at the end."""

from __future__ import annotations

import io
import json
import wave
from pathlib import Path

import httpx
import pytest

from tests.conftest import lz
from tests.serve.conftest import lz_serve

from .conftest import media_installed, render_text

pytestmark = pytest.mark.integration
if not all(media_installed(b) for b in ("espeak", "pocketsphinx", "rapidocr")):
    pytest.skip("the media extra is not installed (pip install 'lazycli[media]')", allow_module_level=True)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    path = tmp_path_factory.mktemp("lzhome-media")
    yield path
    lz("deploy", "stop", "--all", env={"LAZYCLI_HOME": str(path)}, timeout=120)


def run(home: Path, *args: str, check: int | None = 0, timeout: float = 300):
    return lz(*args, env={"LAZYCLI_HOME": str(home)}, check=check, timeout=timeout)


def test_deploy_picks_media_engines_offline(home):
    tts = json.loads(run(home, "deploy", "espeak-ng-en", "--json").stdout)
    ocr = json.loads(run(home, "deploy", "pp-ocrv6-small", "--json").stdout)
    assert (tts["engine"], ocr["engine"]) == ("espeak", "rapidocr")
    assert httpx.get(tts["url"].removesuffix("/v1") + "/health").json()["kind"] == "tts"
    rows = json.loads(run(home, "deploy", "ls", "--json").stdout)["deployments"]
    listed = {r["name"]: r["status"] for r in rows}
    assert listed == {"espeak-ng-en": "running", "pp-ocrv6-small": "running"}


def test_speak_then_transcribe_from_the_shell(home, tmp_path):
    out = tmp_path / "q.wav"
    sentence = "please call me tomorrow morning"
    meta = json.loads(run(home, "speak", sentence, "-o", str(out), "--json").stdout)
    with wave.open(str(out), "rb") as w:
        seconds = w.getnframes() / w.getframerate()
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
    assert meta["seconds"] == pytest.approx(seconds, abs=0.01) and 1.0 < seconds < 6.0
    # No stt deployment yet: lz transcribe starts the bundled PocketSphinx itself.
    heard = run(home, "transcribe", str(out)).stdout.split()
    assert sum(w in heard for w in sentence.split(" ")) >= 4, heard


def test_ocr_from_the_shell(home, tmp_path):
    page = tmp_path / "page.png"
    page.write_bytes(render_text(["Quarterly report 2026", "Total 1234 units"]))
    assert run(home, "ocr", str(page)).stdout.splitlines() == ["Quarterly report 2026", "Total 1234 units"]


def test_bad_files_are_one_line_exit_2(home, tmp_path):
    png = tmp_path / "page.png"
    png.write_bytes(render_text(["x"]))
    corrupt = tmp_path / "broken.png"
    corrupt.write_bytes(png.read_bytes()[:60])
    huge = tmp_path / "huge.png"
    with open(huge, "wb") as fh:  # sparse: 21 MiB on paper, nothing on disk
        fh.write(b"\x89PNG\r\n\x1a\n")
        fh.truncate(21 * 1024 * 1024)
    mp3 = tmp_path / "voice.mp3"
    mp3.write_bytes(b"ID3\x04\x00\x00" + b"\x00" * 4000)
    cases = [
        (("transcribe", str(mp3)), "mp3 audio is not supported"),
        (("transcribe", str(png)), "expected audio"),
        (("ocr", str(huge)), "over the 20.0 MiB limit"),
        (("ocr", str(corrupt)), "corrupt or unreadable image"),
    ]
    for args, words in cases:
        proc = run(home, *args, check=2)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0] and "Traceback" not in proc.stderr, proc.stderr
    rows = json.loads(run(home, "deploy", "ls", "--json").stdout)["deployments"]
    assert all(r["status"] == "running" for r in rows)


def test_serve_a_tts_model_on_the_openai_path(home):
    from openai import OpenAI

    with lz_serve("espeak-ng-en", home=home) as (base, _proc):
        client = OpenAI(base_url=base + "/v1", api_key="none", max_retries=0, timeout=60)
        audio = client.audio.speech.create(model="espeak-ng-en", voice="nova", input="hello world").content
        with wave.open(io.BytesIO(audio), "rb") as w:
            assert w.getnframes() / w.getframerate() > 0.5
        hi = {"messages": [{"role": "user", "content": "hi"}]}
        chat = httpx.post(base + "/v1/chat/completions", json=hi)
        assert chat.status_code == 400 and "/v1/audio/speech" in chat.json()["error"]["message"]
        wrong = httpx.post(base + "/v1/audio/speech", json={"input": "hi", "response_format": "flac"})
        assert wrong.status_code == 400 and "flac" in wrong.json()["error"]["message"]
        assert httpx.get(base + "/health").status_code == 200


def test_auto_never_picks_an_llm_engine_for_media_models():
    from lazycli import engines

    specs = engines.engine_specs()
    for model_type, fmt, engine in (("tts", "espeak", "espeak"), ("stt", "pocketsphinx", "pocketsphinx")):
        assert engines.choose_engine(model_type, fmt, gpus=4, specs=specs).engine == engine
    assert engines.choose_engine("ocr", "onnx", gpus=0, specs=specs).engine == "rapidocr"
    # hf-format media models: the GPU engine the catalogue names, never vLLM, and none without a GPU
    for model_type, engine in (("tts", "chattts"), ("stt", "funasr"), ("sd", "diffusers")):
        assert (
            engines.choose_engine(model_type, "hf", gpus=4, specs=specs, preferred=(engine,)).engine == engine
        )
        with pytest.raises(engines.LzError, match="needs a GPU"):
            engines.choose_engine(model_type, "hf", gpus=0, specs=specs, preferred=(engine,))
    with pytest.raises(engines.LzError, match="no engine serves ocr models in hf format"):
        engines.choose_engine("ocr", "hf", gpus=4, specs=specs, preferred=("transformers",))


def test_index_ocr_finds_a_scanned_pdf(home, tmp_path):
    """A PDF with no text layer (a page image, as a scanner writes it) and a PNG: `lz index --ocr`
    reads them through the OCR deployment, and `lz rag` finds the scanned page."""
    from PIL import Image

    docs = tmp_path / "docs"
    docs.mkdir()
    page = render_text(["The warehouse in Lyon ships", "orders every Tuesday"], size=(720, 80))
    Image.open(io.BytesIO(page)).convert("RGB").save(docs / "scan.pdf")
    (docs / "note.png").write_bytes(render_text(["Invoices are due in 30 days"], size=(720, 80)))
    (docs / "plain.md").write_text("# Plain\nThe cafeteria opens at noon.\n")
    summary = json.loads(run(home, "index", str(docs), "--name", "scans", "--ocr", "--json").stdout)
    assert summary["files"] == 3 and summary["unsupported"] == 0 and summary["failed"] == []
    question = "when does the warehouse ship"
    found = json.loads(run(home, "rag", "--index", "scans", question, "--retrieve-only", "--json").stdout)
    top = found["results"][0]
    assert top["file"] == "scan.pdf" and "orders every Tuesday" in top["text"]


def test_served_app_takes_audio_parts_in_chat(home, tmp_path):
    """A recipe whose app transcribes: /v1/chat/completions with an OpenAI `input_audio` part gives
    the words back; /v1/audio/transcriptions is passed to its stt deployment."""
    import base64

    from openai import OpenAI

    recipe = tmp_path / "hear.toml"
    recipe.write_text(
        '[models.stt]\nmodel = "pocketsphinx-en-us"\n\n[app]\nname = "hear"\n\n'
        '[[app.steps]]\ntype = "stt"\nmodel = "stt"\n'
    )
    wav = tmp_path / "q.wav"
    run(home, "speak", "one two three four five", "-o", str(wav))
    audio = {
        "type": "input_audio",
        "input_audio": {"data": base64.b64encode(wav.read_bytes()).decode(), "format": "wav"},
    }
    with lz_serve(str(recipe), home=home) as (base, _):
        client = OpenAI(base_url=base + "/v1", api_key="-", max_retries=0, timeout=120)
        reply = client.chat.completions.create(
            model="hear", messages=[{"role": "user", "content": [{"type": "text", "text": "listen"}, audio]}]
        )
        heard = reply.choices[0].message.content.split()
        assert sum(w in heard for w in ("one", "two", "three", "four", "five")) >= 4, heard
        text = client.audio.transcriptions.create(
            model="hear", file=("q.wav", wav.read_bytes(), "audio/wav")
        ).text
        assert sum(w in text.split() for w in ("one", "two", "three", "four", "five")) >= 4, text
        no_ocr = httpx.post(base + "/v1/ocr", json={"image": "x"})
        assert no_ocr.status_code == 404 and "no ocr model" in no_ocr.json()["error"]["message"]


def test_web_page_attaches_audio_and_plays_the_spoken_reply(home, tmp_path):
    """The chat page of `lz serve` in headless Chromium: a WAV attached to a message goes to an app
    that transcribes it and speaks the words back; the page shows the words and an audio player."""
    import shutil

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    recipe = tmp_path / "echo.toml"
    recipe.write_text(
        '[models.stt]\nmodel = "pocketsphinx-en-us"\n\n[models.tts]\nmodel = "espeak-ng-en"\n\n'
        '[app]\nname = "echo"\n\n[[app.steps]]\ntype = "stt"\nmodel = "stt"\n\n'
        '[[app.steps]]\ntype = "tts"\nmodel = "tts"\n'
    )
    wav = tmp_path / "q.wav"
    run(home, "speak", "one two three four five", "-o", str(wav))
    with lz_serve(str(recipe), home=home) as (base, _), sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(base + "/")
            page.wait_for_function("document.getElementById('model').textContent === 'echo'", timeout=30_000)
            page.set_input_files("#file", str(wav))
            page.fill("#input", "listen")
            page.keyboard.press("Enter")
            page.wait_for_selector(".msg.assistant audio", timeout=120_000)
            words = page.inner_text(".msg.assistant .answer").split()
            src = page.get_attribute(".msg.assistant audio", "src")
            assert sum(w in words for w in ("one", "two", "three", "four", "five")) >= 4, words
            assert src.startswith("data:audio/wav;base64,") and errors == []
            assert "q.wav" in page.inner_text(".msg.user")
        finally:
            browser.close()
