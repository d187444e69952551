"""Document loaders for `lz index`: text, markdown, HTML, PDF, DOCX, JSON/JSONL and code files.

Each loader yields `(text, metadata)` segments: one per file for flat text, one per page for PDF,
one per record for JSONL. The readers (pypdf, python-docx, BeautifulSoup) are imported only when
a file of that type is read, so this module stays light for `lz plugins`.
"""

from __future__ import annotations

from lazycli.hookspecs import LoaderSpec, hookimpl

CODE_EXTENSIONS = (
    ".py", ".js", ".ts", ".tsx", ".jsx", ".java", ".go", ".rs", ".c", ".h", ".cc", ".cpp", ".hpp",
    ".cs", ".rb", ".php", ".sh", ".sql", ".swift", ".kt", ".scala", ".lua", ".r", ".toml", ".yaml",
    ".yml", ".ini", ".cfg",
)  # fmt: skip


def _read(kind: str):
    """The reader function `kind` from `readers`, imported on first use."""

    def load(path):
        from lazycli_plugins.loaders import readers

        return getattr(readers, kind)(path)

    load.__name__ = kind
    return load


@hookimpl
def lazycli_loaders():
    yield LoaderSpec("text", (".txt", ".text", ".log", ".csv", ".tsv"), _read("text"), "plain text")
    yield LoaderSpec("markdown", (".md", ".markdown", ".rst"), _read("text"), "Markdown / reST as text")
    yield LoaderSpec("html", (".html", ".htm", ".xhtml"), _read("html"), "HTML without scripts, styles, nav")
    yield LoaderSpec("pdf", (".pdf",), _read("pdf"), "PDF text, one segment per page (pypdf)")
    yield LoaderSpec("docx", (".docx",), _read("docx"), "Word paragraphs and tables (python-docx)")
    yield LoaderSpec("json", (".json", ".jsonl", ".ndjson"), _read("json"), "JSON / JSON Lines string values")
    yield LoaderSpec("code", CODE_EXTENSIONS, _read("text"), "source code and config files as text")
