"""The media engines for real on this CPU, through the official openai client where OpenAI has the
path: text → speech (a WAV checked by the stdlib's wave reader) → text again; printed text → OCR →
the text; and bad input (wrong format, too large, corrupt) answered with a 4xx JSON error while the
server stays up."""

from __future__ import annotations

import io
import wave

import httpx
import pytest

from .conftest import render_text

pytestmark = pytest.mark.integration


def _openai(url: str):
    from openai import OpenAI

    return OpenAI(base_url=url, api_key="none", max_retries=0, timeout=120)


def _speak(url: str, text: str, **extra) -> bytes:
    return _openai(url).audio.speech.create(model="espeak", input=text, voice="alloy", **extra).content


def _wav_facts(data: bytes) -> tuple[int, int, int, float, int]:
    """channels, sample width, rate, seconds, peak amplitude, read with the stdlib's wave module."""
    import array

    with wave.open(io.BytesIO(data), "rb") as w:
        frames = w.readframes(w.getnframes())
        samples = array.array("h", frames)
        return (
            w.getnchannels(),
            w.getsampwidth(),
            w.getframerate(),
            w.getnframes() / w.getframerate(),
            max(abs(s) for s in samples),
        )


@pytest.mark.parametrize("sentence", ["one two three four five", "the weather is nice today"])
def test_speech_round_trip_brings_the_words_back(tts_server, stt_server, sentence):
    wav = _speak(tts_server.url, sentence, response_format="wav")
    channels, width, rate, seconds, peak = _wav_facts(wav)
    assert (channels, width, rate) == (1, 2, 22050)
    words = sentence.split()
    assert 0.2 * len(words) < seconds < 1.0 * len(words) + 1  # speech pace, not silence or a loop
    assert peak > 3000  # audible, not a file of zeros
    heard = _openai(stt_server.url).audio.transcriptions.create(
        model="pocketsphinx", file=("question.wav", wav, "audio/wav")
    )
    got = heard.text.split()
    assert sum(w in got for w in words) >= len(words) - 1, heard.text


def test_speed_and_pcm(tts_server):
    normal = _speak(tts_server.url, "one two three four five six seven eight", response_format="wav")
    fast = _speak(tts_server.url, "one two three four five six seven eight", response_format="wav", speed=2.0)
    assert _wav_facts(fast)[3] < 0.7 * _wav_facts(normal)[3]
    pcm = _speak(tts_server.url, "one two", response_format="pcm")
    assert len(pcm) % 2 == 0 and not pcm.startswith(b"RIFF")


def test_speech_bad_requests_are_4xx_json(tts_server):
    cases = [
        ({"model": "espeak", "input": "hi", "response_format": "mp3"}, "mp3"),
        ({"model": "espeak", "input": ""}, "input"),
        ({"model": "espeak", "input": "hi", "speed": 9}, "speed"),
        ({"model": "espeak", "input": "hi", "voice": "no-such-voice"}, "voice"),
    ]
    for body, word in cases:
        resp = httpx.post(tts_server.url + "/audio/speech", json=body, timeout=60)
        assert resp.status_code == 400, resp.text
        assert word in resp.json()["error"]["message"]
    assert httpx.post(tts_server.url + "/ocr", json={"image": "x"}).status_code == 404
    assert tts_server.alive()


def test_transcription_bad_input_keeps_the_server_up(tts_server, stt_server):
    url = stt_server.url + "/audio/transcriptions"
    mp3 = httpx.post(url, files={"file": ("a.mp3", b"ID3\x04\x00\x00" + b"\x00" * 2000, "audio/mpeg")})
    assert mp3.status_code == 415 and "mp3" in mp3.json()["error"]["message"]
    corrupt = httpx.post(url, files={"file": ("a.wav", b"RIFF\x10\x00\x00\x00WAVEjunkjunk", "audio/wav")})
    assert corrupt.status_code == 400 and "corrupt" in corrupt.json()["error"]["message"]
    big = b"RIFF\x00\x00\x00\x00WAVE" + b"\x00" * (1024 * 1024 + 10)
    too_big = httpx.post(url, files={"file": ("a.wav", big, "audio/wav")})
    assert too_big.status_code == 413
    no_file = httpx.post(url, data={"model": "pocketsphinx"}, files={"other": ("x", b"1")})
    assert no_file.status_code == 400 and "file" in no_file.json()["error"]["message"]
    # still serving: a good request after the bad ones
    wav = _speak(tts_server.url, "one two three")
    form = {"response_format": "text"}
    ok = httpx.post(url, files={"file": ("a.wav", wav, "audio/wav")}, data=form, timeout=60)
    assert ok.status_code == 200 and "three" in ok.text
    assert stt_server.alive()


def test_ocr_reads_printed_text_and_refuses_bad_images(ocr_server):
    png = render_text(["Invoice 4721 paid", "lazycli reads text"])
    import base64

    data_url = "data:image/png;base64," + base64.b64encode(png).decode()
    answer = httpx.post(ocr_server.url + "/ocr", json={"image": data_url}, timeout=120).json()
    assert answer["text"].splitlines() == ["Invoice 4721 paid", "lazycli reads text"]
    first = answer["lines"][0]
    assert first["score"] > 0.8 and len(first["box"]) == 4
    assert first["box"][0][1] < answer["lines"][1]["box"][0][1]  # top line first
    upload = httpx.post(ocr_server.url + "/ocr", files={"file": ("p.png", png, "image/png")}, timeout=120)
    assert upload.json()["text"] == answer["text"]

    corrupt = httpx.post(ocr_server.url + "/ocr", files={"file": ("p.png", png[:40], "image/png")})
    assert corrupt.status_code == 400 and "corrupt" in corrupt.json()["error"]["message"]
    not_image = httpx.post(ocr_server.url + "/ocr", json={"image": base64.b64encode(b"hello").decode()})
    assert not_image.status_code in (400, 415)
    big_png = b"\x89PNG\r\n\x1a\n" + b"\x00" * (1024 * 1024 + 1)
    huge = "data:image/png;base64," + base64.b64encode(big_png).decode()
    too_big = httpx.post(ocr_server.url + "/ocr", json={"image": huge})
    assert too_big.status_code == 413
    assert httpx.get(ocr_server.url.removesuffix("/v1") + "/health").status_code == 200
