"""`lz transcribe FILE`: speech to text at an stt deployment (default: the bundled PocketSphinx)."""

from __future__ import annotations

from pathlib import Path

import typer

from lazycli.console import print_json, want_json

app = typer.Typer(add_completion=False)


@app.command()
def transcribe(
    file: Path = typer.Argument(..., help="Audio file (WAV; at most 25 MiB)."),
    model: str | None = typer.Option(
        None, "--model", "-m", help="stt deployment, model or URL (default: pocketsphinx-en-us)."
    ),
    language: str | None = typer.Option(None, "--language", help="Language code, when the model takes one."),
    json_: bool = typer.Option(False, "--json", help="Print JSON ({text, model})."),
) -> None:
    """Print the words spoken in an audio file.

    Examples: lz transcribe question.wav · lz transcribe call.wav -m my-stt --json
    """
    from lazycli import media
    from lazycli.media import client

    audio = media.load(file, kind="audio")
    text = client.transcribe(client.endpoint(model, "stt"), audio, language=language)
    if want_json(json_):
        print_json({"text": text, "file": str(file), "model": model or client.default_target("stt")})
    else:
        print(text)
