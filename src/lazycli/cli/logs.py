"""`lz logs list|show|search`: the conversations `lz chat` logged (prompt, answer, tokens, latency)."""

from __future__ import annotations

import time

import typer

from lazycli.console import console, note, print_json, want_json
from lazycli.errors import LzError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Read the chat log.",
    epilog="Examples: lz logs list --json · lz logs show 12 · lz logs search 'capital of France'",
)


@app.command("list")
def list_(
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many exchanges, newest first."),
    conversation: str = typer.Option(None, "--conversation", "-c", help="Only this conversation id."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Logged exchanges, newest first, with token counts and latency.

    \b
    Examples:
      lz logs list
      lz logs list -n 5 --json
    """
    from lazycli.client import chatlog

    rows = chatlog.list_logs(limit, conversation)
    if want_json(json_):
        print_json({"logs": rows})
        return
    if not rows:
        note("no conversations logged yet; `lz chat` logs them unless --no-log")
        return
    _table(rows)


@app.command()
def show(
    ident: str = typer.Argument(..., help="Exchange id, a conversation id, or `last`."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """One exchange (or a whole conversation) in full.

    \b
    Examples:
      lz logs show last
      lz logs show 12 --json
      lz logs show 3f9c2a1b7e0d         (a conversation id: every exchange of it)
    """
    from lazycli.client import chatlog

    rows = chatlog.get_log(ident)
    if not rows:
        raise LzError(f"no logged exchange or conversation {ident!r}", hint="`lz logs list` shows ids")
    if want_json(json_):
        print_json({"logs": rows})
        return
    out = console()
    for row in rows:
        out.print(
            f"[bold]#{row['id']}[/bold] {_when(row['created_at'])}  {row['target']}  model {row['model']}  "
            f"conversation {row['conversation_id']}",
            highlight=False,
        )
        if row.get("system"):
            out.print(f"[dim]system:[/dim] {row['system']}", markup=True, highlight=False)
        out.print("[cyan]user:[/cyan]", end=" ")
        out.print(row["prompt"], markup=False, highlight=False)
        out.print("[green]assistant:[/green]", end=" ")
        out.print(row["response"], markup=False, highlight=False)
        out.print(
            f"[dim]{_usage_text(row)}[/dim]"
            + (f" [red]error: {row['error']}[/red]" if row.get("error") else "")
        )
        out.print()


@app.command()
def search(
    text: str = typer.Argument(..., help="Text to find in prompts and answers (case-insensitive)."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many matches, newest first."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Exchanges whose prompt or answer contains TEXT.

    \b
    Examples:
      lz logs search "RAG"
      lz logs search 2+2 --json
    """
    from lazycli.client import chatlog

    rows = chatlog.search(text, limit)
    if want_json(json_):
        print_json({"logs": rows})
        return
    if not rows:
        note(f"nothing logged matches {text!r}")
        return
    _table(rows)


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _usage_text(row: dict) -> str:
    tokens = row.get("total_tokens")
    parts = [
        f"{row.get('prompt_tokens')}→{row.get('completion_tokens')} tokens"
        if tokens is not None
        else "tokens ?"
    ]
    if row.get("latency_s") is not None:
        parts.append(f"{row['latency_s']:.2f}s")
    return ", ".join(parts)


def _short(text: str, width: int = 48) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(rows: list[dict]) -> None:
    from rich.table import Table

    table = Table()
    for column in ("id", "when", "target", "tokens", "latency", "prompt", "answer"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            str(row["id"]),
            _when(row["created_at"]),
            row["target"],
            "" if row.get("total_tokens") is None else str(row["total_tokens"]),
            "" if row.get("latency_s") is None else f"{row['latency_s']:.2f}s",
            _short(row["prompt"]),
            _short(row["response"]) + (f" [error: {row['error']}]" if row.get("error") else ""),
        )
    console().print(table)
