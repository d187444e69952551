"""`lz ocr IMAGE`: the text in an image at an ocr deployment (default: the bundled PP-OCR)."""

from __future__ import annotations

from pathlib import Path

import typer

from lazycli.console import print_json, want_json

app = typer.Typer(add_completion=False)


@app.command()
def ocr(
    image: Path = typer.Argument(..., help="Image file (PNG, JPEG, BMP, TIFF, WebP; at most 20 MiB)."),
    model: str | None = typer.Option(
        None, "--model", "-m", help="ocr deployment, model or URL (default: pp-ocrv6-small)."
    ),
    json_: bool = typer.Option(False, "--json", help="Print JSON (text, and each line with score and box)."),
) -> None:
    """Print the text in an image, one line per detected line of text.

    Examples: lz ocr scan.png · lz ocr receipt.jpg --json
    """
    from lazycli import media
    from lazycli.media import client

    blob = media.load(image, kind="image")
    if blob.mime == "application/pdf":
        raise media.MediaError(f"{image}: a PDF, not an image", hint="render its pages to PNG first")
    result = client.read(client.endpoint(model, "ocr"), blob)
    if want_json(json_):
        print_json({"text": result.text, "lines": result.lines, "file": str(image)})
    else:
        print(result.text)
