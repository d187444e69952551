"""Loaders on real files generated here: PDF (a minimal valid PDF written byte by byte), DOCX
(python-docx), HTML with scripts and navigation, JSON/JSONL, code; then indexed end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lazycli.plugins import registry

PDF_PAGES = ["Photosynthesis turns light into chemical energy.", "Chlorophyll absorbs red and blue light."]


def write_pdf(path: Path, pages: list[str]) -> Path:
    """A minimal PDF 1.4: catalog, page tree, one page + content stream per text, Helvetica, xref."""
    objects: list[bytes] = []
    n_pages = len(pages)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n_pages))
    font_id = 3 + 2 * n_pages
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    for i, text in enumerate(pages):
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))
    return path


def write_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Quarterly report", level=1)
    document.add_paragraph("Revenue grew by twelve percent in the third quarter.")
    document.add_paragraph("第三季度的收入增长了百分之十二。")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Region"
    table.rows[0].cells[1].text = "Europe"
    document.save(str(path))
    return path


HTML = """<!doctype html><html><head><title>Glacier guide</title>
<style>body { color: red; }</style><script>var tracking = "SECRET_SCRIPT_TEXT";</script></head>
<body><nav><a href="/">Home</a> <a href="/menu">NAVIGATION_MENU_TEXT</a></nav>
<header>SITE_HEADER_TEXT</header>
<main><h1>Glaciers</h1><p>A glacier is dense ice that moves under its own weight.</p>
<p>Glaciers carve U-shaped valleys.</p></main>
<footer>FOOTER_TEXT</footer><script>console.log("MORE_SCRIPT")</script></body></html>"""


def _load(path: Path) -> list[tuple[str, dict]]:
    loaders = {ext: spec for spec in registry().all("loaders").values() for ext in spec.extensions}
    return list(loaders[path.suffix].load(path))


def test_pdf_one_segment_per_page(tmp_path):
    segments = _load(write_pdf(tmp_path / "doc.pdf", PDF_PAGES))
    assert [meta["page"] for _, meta in segments] == [1, 2]
    assert [" ".join(text.split()) for text, _ in segments] == PDF_PAGES


def test_docx_paragraphs_and_tables(tmp_path):
    [(text, _)] = _load(write_docx(tmp_path / "report.docx"))
    assert "Revenue grew by twelve percent" in text and "第三季度的收入增长了百分之十二" in text
    assert "Region | Europe" in text


def test_html_drops_scripts_styles_and_navigation(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(HTML, encoding="utf-8")
    [(text, meta)] = _load(path)
    assert "A glacier is dense ice" in text and "U-shaped valleys" in text
    for junk in (
        "SECRET_SCRIPT_TEXT",
        "MORE_SCRIPT",
        "NAVIGATION_MENU_TEXT",
        "SITE_HEADER_TEXT",
        "FOOTER_TEXT",
        "color",
    ):
        assert junk not in text
    assert meta == {"title": "Glacier guide"}


def test_json_and_jsonl_keep_string_values(tmp_path):
    (tmp_path / "faq.jsonl").write_text(
        json.dumps({"question": "How long is the warranty?", "answer": "Two years.", "id": 7}) + "\n\n"
        + json.dumps({"question": "退货期限是多久？", "answer": "三十天。"}, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    records = _load(tmp_path / "faq.jsonl")
    assert [meta["line"] for _, meta in records] == [1, 3]
    assert "answer: Two years." in records[0][0] and "id: 7" in records[0][0]
    (tmp_path / "conf.json").write_text(json.dumps({"name": "demo", "tags": ["a b", "c"]}), encoding="utf-8")
    assert _load(tmp_path / "conf.json")[0][0] == "name: demo\ntags: a b\ntags: c"


def test_bad_json_is_a_user_error_naming_the_line(tmp_path):
    from lazycli.errors import LzError

    (tmp_path / "bad.jsonl").write_text('{"a": "ok"}\n{"a": \n', encoding="utf-8")
    with pytest.raises(LzError, match=r"bad\.jsonl:2"):
        _load(tmp_path / "bad.jsonl")


@pytest.mark.slow
def test_every_type_indexed_and_found(tmp_path, lz_home):
    from lazycli.rag import build_index, retrieve

    docs = tmp_path / "docs"
    docs.mkdir()
    write_pdf(docs / "plants.pdf", PDF_PAGES)
    write_docx(docs / "report.docx")
    (docs / "page.html").write_text(HTML, encoding="utf-8")
    (docs / "tool.py").write_text(
        'def checksum(data):\n    """Adler-32 style rolling checksum."""\n', encoding="utf-8"
    )
    (docs / "broken.jsonl").write_text("{not json\n", encoding="utf-8")
    (docs / "image.png").write_bytes(b"\x89PNG\r\n")
    (docs / ".hidden.md").write_text("hidden", encoding="utf-8")
    summary = build_index([docs], "types", progress=False)
    assert summary["files"] == 4 and summary["unsupported"] == 1
    assert [f["source"] for f in summary["failed"]] == [str(docs / "broken.jsonl")]
    for query, expected in (
        ("chlorophyll absorbs light", "plants.pdf"),
        ("revenue third quarter", "report.docx"),
        ("glacier moves under its own weight", "page.html"),
        ("rolling checksum", "tool.py"),
    ):
        top = retrieve("types", query, topk=1)[0]
        assert top["file"] == expected, (query, top)
    pdf_hit = retrieve("types", "chlorophyll", retrievers=("bm25",), topk=1)[0]
    assert pdf_hit["meta"] == {"page": 2}
