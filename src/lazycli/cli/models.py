"""`lz models ls|info|add|rm`: the catalogue, what is local, and registered local models."""

from __future__ import annotations

from pathlib import Path

import typer

from lazycli.console import console, note, print_json, want_json

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="The model catalogue and local models.",
    epilog="Examples: lz models ls · lz models info qwen2-1.5b · lz models add my-ft --path ./out --type llm",
)


@app.command("ls")
def ls(
    local_only: bool = typer.Option(False, "--local", help="Only models that are on this machine."),
    type_: str = typer.Option(None, "--type", "-t", help="Only this type (llm, embed, rerank, vlm, …)."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the catalogue and the local models (bundled, downloaded, LAZYCLI_MODEL_PATH, registered).

    Works offline: nothing here touches the network.

    Examples:
      lz models ls
      lz models ls --local
      lz models ls --type embed --json
    """
    from lazycli.catalog import listing

    rows = listing.rows(local_only=local_only, type_=type_)
    if want_json(json_):
        print_json({"models": rows})
        return
    _print_table(rows)


COLUMNS = ("name", "type", "params", "status", "source", "size", "path / hub id")


def _cells(row: dict) -> list[str]:
    from lazycli.catalog.sizes import format_bytes, format_params

    status = "ready" if row["ready"] else ("partial" if row["partial"] else "-")
    if row.get("online"):
        status = "online"
    return [
        row["name"],
        row["type"],
        format_params(row["params_b"]),
        status,
        row["source"],
        format_bytes(row["size_bytes"]),
        row["path"] or row.get("online") or next(iter(row["hub_ids"].values()), "-"),
    ]


def _print_table(rows: list[dict]) -> None:
    out = console()
    if not out.is_terminal:
        # Piped: one tab-separated line per model, nothing folded, easy to grep and cut.
        print("\t".join(COLUMNS))
        for row in rows:
            print("\t".join(_cells(row)))
        return
    from rich.table import Table

    table = Table(show_lines=False, box=None, pad_edge=False)
    for column in COLUMNS:
        table.add_column(column, overflow="fold")
    colour = {"ready": "green", "partial": "yellow"}
    for row in rows:
        cells = _cells(row)
        if cells[3] in colour:
            cells[3] = f"[{colour[cells[3]]}]{cells[3]}[/]"
        table.add_row(*cells)
    out.print(table)


@app.command("info")
def info(
    name: str = typer.Argument(..., help="Catalogue name, alias, hub id, registered name or path."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one model: type, size, template, engines, hub ids, where it is and whether it is ready.

    Examples:
      lz models info qwen2-1.5b
      lz models info smollm2-135m-instruct --json
    """
    from lazycli.catalog import listing

    row = listing.info(name)
    if want_json(json_):
        print_json(row)
        return
    from lazycli.catalog.sizes import format_bytes, format_params

    out = console()
    fields = [
        ("name", row["name"]),
        ("type", row["type"]),
        ("format", row["format"]),
        ("params", format_params(row["params_b"])),
        ("context", row["context_length"] or "-"),
        ("template", row["template"] or "-"),
        ("engines", ", ".join(row["default_engines"]) or "-"),
        ("hub ids", ", ".join(f"{k}: {v}" for k, v in row["hub_ids"].items()) or "-"),
        ("status", "ready" if row["ready"] else ("partial download" if row["partial"] else "not downloaded")),
        ("source", row["source"]),
        ("path", row["path"] or "-"),
    ]
    if row.get("online"):  # an online fine-tune: served by its provider
        fields[8:11] = [("status", "online"), ("source", row["source"]), ("served by", row["online"])]
    fields += [
        ("size", format_bytes(row["size_bytes"])),
        ("download dir", row["download_dir"] or "-"),
    ]
    if row.get("commit"):
        fields.append(("commit", row["commit"]))
    for key, value in fields:
        out.print(f"{key:>13}: {value}", markup=False)
    for text in row.get("notes", []):
        out.print(f"{'note':>13}: {text}", markup=False)


@app.command("add")
def add(
    name: str = typer.Argument(..., help="The name other verbs will accept."),
    path: Path = typer.Option(..., "--path", "-p", help="Model directory (or .gguf file)."),
    type_: str = typer.Option(..., "--type", "-t", help="llm, vlm, embed, rerank, tts, stt, sd or ocr."),
    template: str = typer.Option(None, "--template", help="Chat template family (chatml, llama3, …)."),
    force: bool = typer.Option(
        False, "--force", "-f", help="Replace a registration or shadow a catalogue name."
    ),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Register a local model under NAME (e.g. a finetune result) so `lz deploy NAME` etc. find it.

    Examples:
      lz models add my-qwen --path ./out/merged --type llm
      lz models add my-bge --path /data/bge-ft --type embed
    """
    from lazycli.catalog import register_local

    ref = register_local(name, path, type=type_, template=template, replace=force)
    if want_json(json_):
        print_json(ref.to_dict())
        return
    console().print(f"registered {ref.name} ({ref.type}, {ref.format}) at {ref.path}", markup=False)


@app.command("rm")
def rm(
    name: str = typer.Argument(..., help="Downloaded or registered model."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Delete a downloaded model from the cache, or forget a registered one (its files stay).

    Bundled models and models in LAZYCLI_MODEL_PATH are never deleted by lz.

    Examples:
      lz models rm qwen2-1.5b
      lz models rm my-qwen
    """
    from lazycli.catalog import listing

    result = listing.remove(name)
    if want_json(json_):
        print_json(result)
        return
    from lazycli.catalog.sizes import format_bytes

    if result["unregistered"]:
        note(f"forgot registered model {result['name']} (files left at {result['path']})")
    for directory in result["deleted"]:
        note(f"deleted {directory}")
    console().print(f"removed {result['name']} ({format_bytes(result['freed_bytes'])} freed)", markup=False)
