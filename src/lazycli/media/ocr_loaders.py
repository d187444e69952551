"""`lz index --ocr`: images and scanned PDF pages become text through an OCR deployment.

Images (.png .jpg …) are read whole; a PDF keeps the text its pages carry, and a page without any
(a scan) is read from the pictures embedded in it (a scanner's PDF holds one picture per page), so
no PDF renderer is needed. The OCR engine is chosen like any other: `--ocr-model` names a deployment,
model or URL, default the bundled PP-OCR (started when needed, as `lz chat` starts its model).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from lazycli.errors import LzError
from lazycli.hookspecs import LoaderSpec

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif")


class OcrReader:
    """Reads files through one OCR endpoint, found (or started) on first use."""

    def __init__(self, target: str | None) -> None:
        self.target = target
        self._endpoint = None
        self._lock = threading.Lock()

    def endpoint(self):
        from lazycli.media import client

        with self._lock:
            if self._endpoint is None:
                self._endpoint = client.endpoint(self.target, "ocr")
            return self._endpoint

    def text_of(self, data: bytes, name: str) -> str:
        from lazycli.media import client, from_bytes

        return client.read(self.endpoint(), from_bytes(data, kind="image", name=name)).text

    def image(self, path: Path) -> Iterator[tuple[str, dict]]:
        from lazycli.media import load

        blob = load(path, kind="image")
        text = self.text_of(blob.data, str(path))
        if text.strip():
            yield text, {"ocr": True}

    def pdf(self, path: Path) -> Iterator[tuple[str, dict]]:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError

        try:
            reader = PdfReader(str(path))
            pages = list(reader.pages)
        except (PdfReadError, ValueError, KeyError) as exc:
            raise LzError(f"cannot read PDF {path}: {exc}", hint="is it damaged or encrypted?") from None
        for number, page in enumerate(pages, start=1):
            text = page.extract_text() or ""
            if text.strip():
                yield text, {"page": number}
                continue
            scanned = [self.text_of(img.data, f"{path} page {number}") for img in _page_images(page)]
            text = "\n".join(t for t in scanned if t.strip())
            if text:
                yield text, {"page": number, "ocr": True}


def _page_images(page) -> list:
    try:
        return list(page.images)
    except (ValueError, KeyError, NotImplementedError):
        return []  # an image pypdf cannot decode: the page stays without text


def loaders(target: str | None) -> dict[str, LoaderSpec]:
    """Extension → loader for `lz index --ocr`: these replace the text-only ones."""
    reader = OcrReader(target)
    image = LoaderSpec("ocr-image", IMAGE_EXTENSIONS, reader.image, "image text through OCR")
    pdf = LoaderSpec("ocr-pdf", (".pdf",), reader.pdf, "PDF text; scanned pages through OCR")
    table = {ext: image for ext in IMAGE_EXTENSIONS}
    table[".pdf"] = pdf
    return table
