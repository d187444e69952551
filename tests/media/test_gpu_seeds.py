"""LazyLLM's GPU media models (ChatTTS, SenseVoice via FunASR, Stable Diffusion via diffusers): the
exact argv `lz deploy` plans, the refusal without a GPU, and the wire of each engine against stand-in
modules of those libraries that record how they were called (tests/media/standins)."""

from __future__ import annotations

import base64
import io
import json
import os
import wave
from pathlib import Path

import pytest

from tests.conftest import lz

from .conftest import Server

pytestmark = pytest.mark.integration
STANDINS = Path(__file__).parent / "standins"


def test_deploy_plans_the_gpu_engines_by_model_type():
    expected = {"chattts": "chattts", "sensevoicesmall": "funasr", "stable-diffusion-3-medium": "diffusers"}
    for model, engine in expected.items():
        plan = json.loads(lz("deploy", model, "--gpus", "1", "--dry-run", "--json", check=0).stdout)
        argv = plan["argv"]
        assert plan["engine"] == engine and "-m" in argv and "lazycli_plugins.media.server" in argv
        assert argv[argv.index("--backend") + 1] == engine and argv[argv.index("--device") + 1] == "cuda"
        assert argv[argv.index("--served-name") + 1] == model
    no_gpu = lz("deploy", "chattts", "--dry-run", check=2, env={"CUDA_VISIBLE_DEVICES": ""})
    assert "needs a GPU" in no_gpu.stderr
    bark = lz("deploy", "bark", "--gpus", "1", "--dry-run", check=2)
    assert "no engine serves tts models in hf format (the catalogue names transformers)" in bark.stderr


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    pytest.importorskip("torch")
    folder = tmp_path_factory.mktemp("seeds")
    model = folder / "model"
    model.mkdir()
    log = folder / "calls.jsonl"
    env = {
        **os.environ,
        "STANDIN_LOG": str(log),
        "PYTHONPATH": os.pathsep.join([str(STANDINS), os.environ.get("PYTHONPATH", "")]),
    }
    servers = {
        name: Server(name, folder / f"{name}.log", "--model", str(model), "--device", "cpu", env=env)
        for name in ("chattts", "funasr", "diffusers")
    }
    try:
        yield {name: s.wait() for name, s in servers.items()}, log, model
    finally:
        for server in servers.values():
            server.stop()


def _calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_gpu_engines_speak_the_openai_wire(seeds):
    from openai import OpenAI

    servers, log, model = seeds
    client = {n: OpenAI(base_url=s.url, api_key="-", max_retries=0, timeout=60) for n, s in servers.items()}

    wav = client["chattts"].audio.speech.create(
        model="chattts", voice="alloy", input="one two three four", response_format="wav", speed=2.0
    )
    with wave.open(io.BytesIO(wav.content), "rb") as w:
        assert w.getframerate() == 24000 and w.getnframes() == int(24000 * 0.3 * 4)

    audio = io.BytesIO()
    with wave.open(audio, "wb") as w:  # 2 s at 22.05 kHz: the engine resamples to SenseVoice's 16 kHz
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(22050)
        w.writeframes(b"\x00\x01" * 44100)
    text = (
        client["funasr"]
        .audio.transcriptions.create(
            model="funasr", file=("a.wav", audio.getvalue(), "audio/wav"), language="en"
        )
        .text
    )
    assert text == "heard 2.0 seconds"  # SenseVoice's tags removed by rich_transcription_postprocess

    images = client["diffusers"].images.generate(
        model="diffusers", prompt="a teal square", n=2, size="256x128", response_format="b64_json"
    )
    from PIL import Image

    sizes = [Image.open(io.BytesIO(base64.b64decode(d.b64_json))).size for d in images.data]
    assert sizes == [(256, 128), (256, 128)]

    calls = {c["call"]: c for c in _calls(log)}
    load = calls["ChatTTS.load"]
    assert (load["source"], load["compile"], load["custom_path"], load["device"]) == (
        "custom",
        False,
        str(model),
        "cpu",
    )
    assert calls["ChatTTS.infer"]["text"] == ["one two three four"]
    assert calls["ChatTTS.infer"]["prompt"] == "[speed_9]"  # 2× speed: ChatTTS's fastest prompt token
    assert calls["funasr.AutoModel"]["model"] == str(model) and calls["funasr.AutoModel"]["device"] == "cpu"
    gen = calls["funasr.generate"]
    assert (gen["dtype"], gen["language"], gen["use_itn"]) == ("float32", "en", True)
    assert gen["seconds"] == pytest.approx(2.0, abs=0.01)
    assert calls["diffusers.from_pretrained"] == {
        "call": "diffusers.from_pretrained", "path": str(model), "torch_dtype": "torch.float32"
    }  # fmt: skip
    assert calls["diffusers.call"]["n"] == 2 and (
        calls["diffusers.call"]["width"],
        calls["diffusers.call"]["height"],
    ) == (256, 128)


def test_gpu_engines_refuse_bad_requests(seeds):
    import httpx

    servers, _log, _model = seeds
    sd = servers["diffusers"].url + "/images/generations"
    for body, words in (
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x", "size": "100x100"}, "multiples of 8"),
        ({"prompt": "x", "n": 9}, "'n'"),
        ({"prompt": "x", "response_format": "url"}, "b64_json"),
    ):
        resp = httpx.post(sd, json=body, timeout=30)
        assert resp.status_code == 400 and words in resp.json()["error"]["message"], resp.text
    mp3 = httpx.post(
        servers["funasr"].url + "/audio/transcriptions", files={"file": ("a.mp3", b"ID3" + b"\0" * 500)}
    )
    assert mp3.status_code == 415
    assert all(s.alive() for s in servers.values())
