"""`lz speak TEXT -o out.wav`: text to speech at a tts deployment (default: the bundled eSpeak NG)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from lazycli.console import note, print_json, want_json
from lazycli.errors import LzError

app = typer.Typer(add_completion=False)


@app.command()
def speak(
    text: str = typer.Argument(..., help="What to say ('-' reads stdin)."),
    output: Path = typer.Option(..., "--output", "-o", help="WAV file to write ('-': stdout)."),
    model: str | None = typer.Option(
        None, "--model", "-m", help="tts deployment, model or URL (default: espeak-ng-en, started if needed)."
    ),
    voice: str | None = typer.Option(None, "--voice", help="Voice: alloy, nova, shimmer, echo, onyx, fable."),
    speed: float = typer.Option(1.0, "--speed", min=0.25, max=4.0, help="0.25 to 4.0."),
    json_: bool = typer.Option(False, "--json", help="Print JSON (path, bytes, seconds)."),
) -> None:
    """Say TEXT with a text-to-speech model and write a WAV file.

    Examples: lz speak "Hello there" -o hello.wav · echo hi | lz speak - -o - > hi.wav
    """
    from lazycli.media import client, write_atomic

    if text == "-":
        text = sys.stdin.read()
    if not text.strip():
        raise LzError("nothing to say: TEXT is empty", hint='lz speak "Hello" -o hello.wav')
    if str(output) != "-" and output.is_dir():
        raise LzError(f"--output {output} is a folder", hint=f"name a file: -o {output / 'speech.wav'}")
    ep = client.endpoint(model, "tts")
    audio = client.speak(ep, text, voice=voice, speed=speed)
    seconds = wav_seconds(audio.data)
    if str(output) == "-":
        sys.stdout.buffer.write(audio.data)
        sys.stdout.flush()
        return
    write_atomic(output, audio.data)
    if want_json(json_):
        print_json({"path": str(output), "bytes": len(audio.data), "seconds": seconds, "model": ep.label})
    else:
        note(f"wrote {output} ({seconds:.1f} s of audio from {ep.label})")


def wav_seconds(data: bytes) -> float:
    import io
    import wave

    with wave.open(io.BytesIO(data), "rb") as w:
        return w.getnframes() / w.getframerate()
