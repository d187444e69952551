"""The readers behind the loader records (imported only when a file is read)."""

from __future__ import annotations

import json as json_lib
from collections.abc import Iterator
from pathlib import Path

from lazycli.errors import LzError

# Elements whose text is never content: page chrome and code.
_HTML_DROP = ("script", "style", "noscript", "nav", "header", "footer", "aside", "form", "template", "svg")


def _decode(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="replace")


def text(path: Path) -> Iterator[tuple[str, dict]]:
    yield _decode(Path(path).read_bytes()), {}


def html(path: Path) -> Iterator[tuple[str, dict]]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_decode(Path(path).read_bytes()), "html.parser")
    for tag in soup.find_all(_HTML_DROP):
        tag.decompose()
    title = soup.title.get_text(strip=True) if soup.title else None
    if soup.title:
        soup.title.decompose()
    body = soup.body or soup
    # One line per block element keeps sentence boundaries the splitter can see.
    lines = [line.strip() for line in body.get_text("\n").splitlines()]
    meta = {"title": title} if title else {}
    yield "\n".join(line for line in lines if line), meta


def pdf(path: Path) -> Iterator[tuple[str, dict]]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        pages = [(page.extract_text() or "") for page in reader.pages]
    except (PdfReadError, ValueError, KeyError) as exc:
        raise LzError(f"cannot read PDF {path}: {exc}", hint="is the file damaged or encrypted?") from None
    for number, page_text in enumerate(pages, start=1):
        if page_text.strip():
            yield page_text, {"page": number}


def docx(path: Path) -> Iterator[tuple[str, dict]]:
    import docx as python_docx

    document = python_docx.Document(str(path))
    parts = [p.text for p in document.paragraphs if p.text.strip()]
    for table in document.tables:
        for row in table.rows:
            cells = [cell.text.strip() for cell in row.cells if cell.text.strip()]
            if cells:
                parts.append(" | ".join(cells))
    yield "\n".join(parts), {}


def json(path: Path) -> Iterator[tuple[str, dict]]:  # noqa: A001 - named after the file type
    raw = _decode(Path(path).read_bytes())
    if Path(path).suffix.lower() in (".jsonl", ".ndjson"):
        for number, line in enumerate(raw.splitlines(), start=1):
            if line.strip():
                text_ = _strings(_parse(line, path, number))
                if text_:
                    yield text_, {"line": number}
        return
    text_ = _strings(_parse(raw, path, None))
    if text_:
        yield text_, {}


def _parse(raw: str, path: Path, line: int | None):
    try:
        return json_lib.loads(raw)
    except ValueError as exc:
        where = f"{path}:{line}" if line else str(path)
        raise LzError(f"bad JSON in {where}: {exc}", hint="fix the file or --exclude it") from None


def _strings(value, key: str | None = None) -> str:
    """The string values of a JSON document, one per line, prefixed by their key."""
    out: list[str] = []
    _walk(value, key, out)
    return "\n".join(out)


def _walk(value, key, out: list[str]) -> None:
    if isinstance(value, str):
        if value.strip():
            out.append(f"{key}: {value}" if key else value)
    elif isinstance(value, dict):
        for k, v in value.items():
            _walk(v, str(k), out)
    elif isinstance(value, list):
        for item in value:
            _walk(item, key, out)
    elif value is not None and not isinstance(value, bool):
        out.append(f"{key}: {value}" if key else str(value))
