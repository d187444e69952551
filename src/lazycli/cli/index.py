"""`lz index PATH… --name NAME` and `lz index ls|info|rm`: searchable indexes of your documents.

`lz index PATH …` is shorthand for `lz index build PATH …`: a first word that is not a subcommand
is a path.
"""

from __future__ import annotations

from pathlib import Path

import typer

from lazycli.cli._groups import DefaultCommandGroup
from lazycli.console import console, note, print_json, want_json


class IndexGroup(DefaultCommandGroup):
    """`lz index PATH…` means `lz index build PATH…`."""

    default_command = "build"
    order = ("build", "ls", "info", "rm")


app = typer.Typer(
    cls=IndexGroup,
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="""Index documents for `lz rag`: chunks in node groups, embeddings in LanceDB, BM25 (jieba).

\b
Examples:
  lz index ./docs --name kb                          txt md html pdf docx json code
  lz index ./docs --name kb                          again: only changed files are redone
  lz index ./docs --name kb --include '*.md' --exclude 'drafts/*'
  lz index ./docs --name kb --group fine:128:12 --group coarse:512:50
  lz index ./docs --name kb --embed qwen:text-embedding-v3    an online embedder
  lz index ./docs --name kb --store my-store                  a store from a plugin
  lz index ls                lz index info kb                lz index rm kb
""",
)


@app.command("build")
def build(
    paths: list[Path] = typer.Argument(..., help="Files and directories to index (hidden ones are skipped)."),
    name: str = typer.Option(..., "--name", "-n", help="Index name."),
    embed: str | None = typer.Option(
        None,
        "--embed",
        help="Embedder: a local model (default all-minilm-l6-v2), a plugin, a deployment, provider:model.",
    ),
    chunk_size: int | None = typer.Option(None, "--chunk-size", help="One node group of this many tokens."),
    overlap: int | None = typer.Option(
        None, "--overlap", help="Overlap in tokens for --chunk-size (default 10%)."
    ),
    group: list[str] = typer.Option(
        [],
        "--group",
        "-g",
        help="Node group NAME:SIZE:OVERLAP (tokens); repeatable. Default: "
        "coarse:1024:100 medium:256:25 fine:128:12.",
    ),  # fmt: skip
    include: list[str] = typer.Option([], "--include", help="Only files matching this glob; repeatable."),
    exclude: list[str] = typer.Option([], "--exclude", help="Skip files matching this glob; repeatable."),
    store: str | None = typer.Option(
        None,
        "--store",
        help="Store plugin for chunks and vectors (default: the index's own, else the store setting: "
        "lancedb; `lz plugins`).",
    ),
    json_: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    ocr: bool = typer.Option(False, "--ocr", help="Read images and scanned PDF pages with an OCR model."),
    ocr_model: str | None = typer.Option(
        None, "--ocr-model", help="With --ocr: deployment, model or URL (default: pp-ocrv6-small)."
    ),
) -> None:
    """Build or update index NAME from PATHs: the index mirrors exactly the files given.

    Unchanged files cost nothing, changed ones are redone (unchanged chunks keep their vectors),
    files no longer present are removed. Safe to interrupt: run it again to finish.

    \b
    Examples:
      lz index ./docs --name kb
      lz index ./docs ./notes.md --name kb --chunk-size 200 --overlap 20
      lz index ./src --name code --include '*.py' --json
      lz index ./scans --name scans --ocr
    """
    from lazycli.errors import LzError
    from lazycli.plugins import registry
    from lazycli.rag import build_index

    if ocr_model and not ocr:
        raise LzError("--ocr-model needs --ocr", hint="add --ocr")
    groups = _groups(group, chunk_size, overlap)
    if store is not None:
        registry().get("stores", store)  # an unknown store is one line before anything is written
    summary = build_index(
        paths,
        name,
        embed=embed,
        groups=groups,
        include=include,
        exclude=exclude,
        store=store,
        ocr=(ocr_model or "") if ocr else None,
    )
    if want_json(json_):
        print_json(summary)
        return
    _print_summary(summary)


def _groups(specs: list[str], chunk_size: int | None, overlap: int | None):
    from lazycli.errors import LzError
    from lazycli.rag.splitter import make_group, parse_group

    if specs and chunk_size is not None:
        raise LzError("give either --group or --chunk-size, not both", hint="--group NAME:SIZE:OVERLAP")
    if chunk_size is not None:
        return [make_group("chunk", chunk_size, overlap if overlap is not None else chunk_size // 10)]
    if overlap is not None:
        raise LzError("--overlap needs --chunk-size", hint="or use --group NAME:SIZE:OVERLAP")
    return [parse_group(s) for s in specs] or None


def _print_summary(s: dict) -> None:
    parts = [
        f"{s['added']} added",
        f"{s['updated']} updated",
        f"{s['deleted']} deleted",
        f"{s['unchanged']} unchanged",
    ]
    console().print(
        f"index [bold]{s['name']}[/bold]: {s['files']} files, {s['chunks']} chunks ({', '.join(parts)})"
    )
    if s["embedded"] or s["reused_vectors"]:
        note(f"embedded {s['embedded']} chunks, reused {s['reused_vectors']} vectors, {s['seconds']:.1f}s")
    if s["unsupported"]:
        note(f"{s['unsupported']} files of unsupported types were skipped (`lz plugins` lists the loaders)")
    for failed in s["failed"]:
        note(f"[yellow]failed: {failed['source']}: {failed['error']}[/yellow]")


@app.command("ls")
def ls(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List indexes.

    \b
    Examples:
      lz index ls
      lz index ls --json
    """
    from lazycli.rag import manifest

    rows = [_public(r) for r in manifest.list_indexes()]
    if want_json(json_):
        print_json({"indexes": rows})
        return
    if not rows:
        note("no indexes; build one with `lz index ./docs --name kb`")
        return
    from rich.table import Table

    table = Table()
    for column in ("name", "files", "chunks", "embed", "groups", "updated"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["name"], str(r["files"]), str(r["chunks"]), r["embed"], ", ".join(r["groups"]), r["updated"]
        )
    console().print(table)


def _public(row: dict) -> dict:
    import time

    from lazycli.rag.backends import spec_of

    return {
        "name": row["name"],
        "files": row["files"],
        "chunks": row["chunks"],
        "embed": spec_of(row["embed"]),
        "groups": [f"{g['name']}:{g['size']}:{g['overlap']}" for g in row["config"]["groups"]],
        "store": row["store"],
        "path": row["path"],
        "roots": row["roots"],
        "updated": time.strftime("%Y-%m-%d %H:%M", time.localtime(row["updated_at"])),
    }


@app.command("info")
def info(
    name: str = typer.Argument(..., help="Index name."),
    files: bool = typer.Option(False, "--files", help="List every indexed file with its chunk count."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one index: roots, embedder, node groups, counts, size on disk.

    \b
    Examples:
      lz index info kb
      lz index info kb --files --json
    """
    from lazycli.rag import manifest

    row = _public(manifest.require(name))
    entries = manifest.files(name)
    # From the per-file entries, which each commit updates: right even when a run was killed.
    done = [e for e in entries.values() if e.hash]
    row["files"], row["chunks"] = len(done), sum(e.chunks or 0 for e in done)
    row["pending"] = sorted(p for p, e in entries.items() if e.hash is None)
    row["disk_bytes"] = sum(f.stat().st_size for f in Path(row["path"]).rglob("*") if f.is_file())
    if files:
        row["file_list"] = [{"path": p, "chunks": e.chunks} for p, e in sorted(entries.items())]
    if want_json(json_):
        print_json(row)
        return
    out = console()
    for key in ("name", "files", "chunks", "embed", "store", "path", "updated"):
        out.print(f"{key:8} {row[key]}")
    out.print(f"{'groups':8} {', '.join(row['groups'])}")
    out.print(f"{'roots':8} {', '.join(row['roots'] or [])}")
    out.print(f"{'disk':8} {row['disk_bytes'] / 1e6:.1f} MB")
    if row["pending"]:
        out.print(
            f"[yellow]{len(row['pending'])} files unfinished (interrupted run): run `lz index` again[/yellow]"
        )
    for f in row.get("file_list", []):
        out.print(f"  {f['chunks']:6}  {f['path']}")


@app.command("rm")
def rm(name: str = typer.Argument(..., help="Index name.")) -> None:
    """Delete an index (its store, search data and manifest).

    \b
    Examples:
      lz index rm kb
    """
    import shutil

    from lazycli.rag import manifest
    from lazycli.rag.indexer import writer_lock

    row = manifest.require(name)
    index_dir = Path(row["path"])
    with writer_lock(index_dir, name):
        manifest.remove(name)
        shutil.rmtree(index_dir / "store", ignore_errors=True)
        for leftover in index_dir.glob("snapshot*"):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
    shutil.rmtree(index_dir, ignore_errors=True)
    note(f"removed index {name!r}")
