"""Media engines on this CPU: TTS real-time factor, transcription real-time factor and OCR pages per
second, through `lz serve MODEL` against the engine's own endpoint (same deployment, same run), and
the engine's library called in this process as the floor.

    python benchmarks/bench_multimodal.py [--sentences 6] [--pages 4] [--json]

RTF = seconds of compute / seconds of audio (below 1: faster than real time). Every request is
sequential (one client), so the ratio serve/direct is lz serve's own cost: a second HTTP hop and
the body copied through. Deploys espeak-ng-en, pocketsphinx-en-us and pp-ocrv6-small in a temporary
LAZYCLI_HOME, starts one `lz serve` per model, and stops all of it at the end.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
MODELS = {"tts": "espeak-ng-en", "stt": "pocketsphinx-en-us", "ocr": "pp-ocrv6-small"}
SENTENCES = [
    "please call me tomorrow morning",
    "the weather is nice today",
    "one two three four five six seven eight nine ten",
    "which engine runs on a machine without a graphics card",
    "lazy command line tools deploy models from the shell",
    "the warehouse ships orders every tuesday",
]


def lz(home: Path, *args: str) -> str:
    env = {**os.environ, "LAZYCLI_HOME": str(home)}
    proc = subprocess.run([sys.executable, "-m", "lazycli", *args], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"lz {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return proc.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_serve(home: Path, model: str) -> tuple[subprocess.Popen, str]:
    import httpx

    port = free_port()
    env = {**os.environ, "LAZYCLI_HOME": str(home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lazycli", "serve", model, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                return proc, base + "/v1"
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"lz serve {model} did not come up")


def seconds_of(wav: bytes) -> float:
    with wave.open(io.BytesIO(wav), "rb") as w:
        return w.getnframes() / w.getframerate()


def timed(fn, items) -> tuple[float, list]:
    started = time.perf_counter()
    out = [fn(item) for item in items]
    return time.perf_counter() - started, out


def pages(n: int) -> list[bytes]:
    from tests.media.conftest import render_text

    lines = ["Invoice 4721 paid in full", "Total 1234 units shipped", "Lyon warehouse, Tuesday"]
    return [render_text([f"Page {i + 1}", *lines], size=(720, 80)) for i in range(n)]


def http_runners(base: str):
    import base64

    import httpx

    client = httpx.Client(timeout=300, trust_env=False)

    def speak(text: str) -> bytes:
        return client.post(base + "/audio/speech", json={"input": text, "response_format": "wav"}).content

    def transcribe(wav: bytes) -> str:
        return client.post(
            base + "/audio/transcriptions", files={"file": ("a.wav", wav, "audio/wav")}
        ).json()["text"]

    def ocr(png: bytes) -> str:
        url = "data:image/png;base64," + base64.b64encode(png).decode()
        return client.post(base + "/ocr", json={"image": url}).json()["text"]

    return {"tts": speak, "stt": transcribe, "ocr": ocr}


def library_runners():
    """The engines' libraries in this process: no HTTP at all."""
    from lazycli_plugins.media import backends

    tts, stt, ocr = backends.Espeak(), backends.Pocketsphinx(), backends.RapidOcr(threads=1)
    return {
        "tts": lambda text: tts.speak(text),
        "stt": lambda wav: stt.transcribe(backends.read_wav(wav)),
        "ocr": lambda png: "\n".join(line.text for line in ocr.read(png)),
    }


def measure(runners, texts: list[str], images: list[bytes]) -> dict:
    tts_s, wavs = timed(runners["tts"], texts)
    audio_s = sum(seconds_of(w) for w in wavs)
    stt_s, heard = timed(runners["stt"], wavs)
    ocr_s, read = timed(runners["ocr"], images)
    words = sum(len(set(t.split()) & set(h.split())) for t, h in zip(texts, heard, strict=True))
    return {
        "tts_rtf": tts_s / audio_s,
        "stt_rtf": stt_s / audio_s,
        "ocr_pages_per_s": len(images) / ocr_s,
        "audio_s": audio_s,
        "words_heard": words / sum(len(set(t.split())) for t in texts),
        "ocr_exact_pages": sum("Total 1234 units shipped" in r for r in read) / len(images),
        "wavs": wavs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=6)
    parser.add_argument("--pages", type=int, default=4)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    texts = (SENTENCES * (args.sentences // len(SENTENCES) + 1))[: args.sentences]
    images = pages(args.pages)
    home = Path(tempfile.mkdtemp(prefix="lz-bench-media-"))
    serves: list[subprocess.Popen] = []
    try:
        rows = {k: json.loads(lz(home, "deploy", m, "--json")) for k, m in MODELS.items()}
        direct = {k: http_runners(rows[k]["url"])[k] for k in MODELS}
        via = {}
        for kind, model in MODELS.items():
            proc, base = start_serve(home, model)
            serves.append(proc)
            via[kind] = http_runners(base)[kind]
        for runners in (direct, via):  # warm-up: first calls load decoders and sessions
            runners["stt"](runners["tts"]("warm up"))
            runners["ocr"](images[0])
        results = {
            "library": measure(library_runners(), texts, images),
            "direct": measure(direct, texts, images),
            "lz serve": measure(via, texts, images),
        }
    finally:
        for proc in serves:
            proc.terminate()
            proc.wait(timeout=30)
        lz(home, "deploy", "stop", "--all")
    for row in results.values():
        row.pop("wavs")
    ratios = {
        "tts_rtf serve/direct": results["lz serve"]["tts_rtf"] / results["direct"]["tts_rtf"],
        "stt_rtf serve/direct": results["lz serve"]["stt_rtf"] / results["direct"]["stt_rtf"],
        "ocr_pages_per_s serve/direct": results["lz serve"]["ocr_pages_per_s"]
        / results["direct"]["ocr_pages_per_s"],
    }
    if args.json:
        print(json.dumps({"results": results, "ratios": ratios}, indent=2))
        return
    print(f"{'':10} {'TTS RTF':>8} {'STT RTF':>8} {'OCR pages/s':>12} {'words heard':>12} {'OCR exact':>10}")
    for name, r in results.items():
        print(
            f"{name:10} {r['tts_rtf']:8.3f} {r['stt_rtf']:8.3f} {r['ocr_pages_per_s']:12.2f} "
            f"{r['words_heard']:12.0%} {r['ocr_exact_pages']:10.0%}"
        )
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}")


if __name__ == "__main__":
    main()
