"""`lz logs [list]|show|search|rate|export`: the exchanges `lz chat`, `lz rag`, `lz run` and `lz serve`
recorded, with their traces (steps, sources, prompt, tokens, latency) and ratings.

`lz logs --bad` is shorthand for `lz logs list --bad`: a first word that is not a subcommand starts `list`.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import typer

from lazycli.cli._groups import DefaultCommandGroup
from lazycli.console import console, err_console, note, print_json, want_json
from lazycli.errors import LzError


class LogsGroup(DefaultCommandGroup):
    """`lz logs --bad` means `lz logs list --bad`; plain `lz logs` lists too."""

    default_command = "list"
    order = ("list", "show", "search", "rate", "export")

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, args or [self.default_command])


app = typer.Typer(
    cls=LogsGroup,
    add_completion=False,
    no_args_is_help=False,
    rich_markup_mode=None,
    help="""Read the exchange log and its traces; rate answers; export bad cases.

\b
Examples:
  lz logs                                  the newest exchanges (chat, rag, run, serve)
  lz logs --bad --since 1d                 answers rated thumbs-down in the last day
  lz logs show last                        one exchange with its trace steps
  lz logs rate 12 down --correction "…"    rate an answer, give the right one
  lz logs export --bad --format eval -o bad.jsonl
""",
)


_KINDS = ("chat", "rag", "run", "serve")


def _filter(app_, kind, bad, good, since, until, text):
    from lazycli.chatlog import LogFilter

    if bad and good:
        raise LzError("--bad and --good exclude each other", hint="give one of them")
    if kind is not None and kind not in _KINDS:
        raise LzError(f"unknown --kind {kind!r}", hint=f"one of {', '.join(_KINDS)}")
    rating = -1 if bad else 1 if good else None
    low, high = parse_when(since, "--since"), parse_when(until, "--until")
    return LogFilter(app=app_, kind=kind, rating=rating, since=low, until=high, text=text)


_APP = typer.Option(None, "--app", "-a", help="Only this app: index, recipe app, served name or chat target.")
_KIND = typer.Option(None, "--kind", help="Only chat, rag, run or serve exchanges.")
_BAD = typer.Option(False, "--bad", help="Only answers rated thumbs-down.")
_GOOD = typer.Option(False, "--good", help="Only answers rated thumbs-up.")
_SINCE = typer.Option(None, "--since", help="From: 2026-12-01, '2026-12-01 10:00', or an age: 30m, 2h, 7d.")
_UNTIL = typer.Option(None, "--until", help="Before this time (same forms as --since).")
_TEXT = typer.Option(None, "--text", "-t", help="Text in the prompt, answer or comment (case-insensitive).")


@app.command("list")
def list_(
    app_: str = _APP,
    kind: str = _KIND,
    bad: bool = _BAD,
    good: bool = _GOOD,
    since: str = _SINCE,
    until: str = _UNTIL,
    text: str = _TEXT,
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many exchanges, newest first."),
    conversation: str = typer.Option(None, "--conversation", "-c", help="Only this conversation id."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Logged exchanges, newest first, with rating, token counts and latency.

    \b
    Examples:
      lz logs list
      lz logs --bad --app rag
      lz logs --since 2h --text "deploy" --json
    """
    from lazycli import chatlog

    where = _filter(app_, kind, bad, good, since, until, text)
    rows = chatlog.list_logs(limit, conversation, where)
    if want_json(json_):
        print_json({"logs": rows})
        return
    if not rows:
        note("nothing logged matches" if any(vars(where).values()) else "nothing logged yet")
        return
    _table(rows)


@app.command()
def show(
    ident: str = typer.Argument(..., help="Exchange id, trace id, a conversation id, or `last`."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """One exchange (or a whole conversation) in full, with its trace: each step's input and
    output, the sources with their scores, the prompt sent, tokens and latency.

    \b
    Examples:
      lz logs show last
      lz logs show 12 --json
      lz logs show 3f9c2a1b7e0d         (a conversation id: every exchange of it)
    """
    from lazycli import chatlog

    rows = chatlog.get_log(ident)
    if not rows:
        raise LzError(f"no logged exchange or conversation {ident!r}", hint="`lz logs list` shows ids")
    for row in rows:
        row["spans"] = chatlog.spans(row.get("trace_id"))
        row["feedback"] = chatlog.feedback(row.get("trace_id"))
    if want_json(json_):
        print_json({"logs": rows})
        return
    for row in rows:
        _show_one(row)


def _show_one(row: dict) -> None:
    out = console()
    head = f"[bold]#{row['id']}[/bold] {_when(row['created_at'])}  {row.get('kind') or 'chat'}"
    head += f"  {row.get('app') or row['target']}  model {row['model'] or '?'}"
    out.print(head + f"  trace {row.get('trace_id') or '-'}", highlight=False)
    if row.get("system"):
        out.print("[dim]system:[/dim] ", end="")
        out.print(row["system"], markup=False, highlight=False)
    out.print("[cyan]user:[/cyan]", end=" ")
    out.print(row["prompt"], markup=False, highlight=False)
    out.print("[green]assistant:[/green]", end=" ")
    out.print(row["response"], markup=False, highlight=False)
    error = f" [red]error: {_esc(row['error'])}[/red]" if row.get("error") else ""
    out.print(f"[dim]{_usage_text(row)}[/dim]{error}")
    if row.get("rating"):
        out.print(f"rated {_rating(row)}", end="")
        out.print(f": {row['comment']}" if row.get("comment") else "", markup=False, highlight=False)
        if row.get("correction"):
            out.print("[yellow]corrected answer:[/yellow] ", end="")
            out.print(row["correction"], markup=False, highlight=False)
    if row.get("spans"):
        out.print("[bold]trace:[/bold]")
        for span in row["spans"]:
            _show_span(span, _depth(span, row["spans"]))
    out.print()


def _depth(span: dict, spans: list[dict]) -> int:
    by_seq = {s["seq"]: s for s in spans}
    depth, parent = 0, span.get("parent")
    while parent is not None and parent in by_seq and depth < 32:
        depth, parent = depth + 1, by_seq[parent].get("parent")
    return depth


def _show_span(span: dict, depth: int) -> None:
    out = console()
    pad = "  " * (depth + 1)
    attrs = span.get("attrs") or {}
    took = f"{span['duration_s'] * 1000:.1f} ms" if span.get("duration_s") is not None else "?"
    line = f"{pad}[bold]{span['seq']}. {_esc(span['name'])}[/bold] [dim]({span['kind']}, {took})[/dim]"
    usage = attrs.get("usage") or {}
    if usage.get("total_tokens") is not None or usage.get("completion_tokens") is not None:
        line += f" [dim]{usage.get('prompt_tokens')}→{usage.get('completion_tokens')} tokens[/dim]"
    if attrs.get("model"):
        line += f" [dim]model {_esc(str(attrs['model']))}[/dim]"
    out.print(line, highlight=False)
    if span.get("error"):
        out.print(f"{pad}  [red]error:[/red] {_esc(span['error'])}", highlight=False)
    docs = _docs(span.get("output"))
    if span.get("input") is not None and not attrs.get("messages"):
        _field(f"{pad}  in:  ", span["input"])
    if attrs.get("messages"):
        out.print(f"{pad}  prompt sent:", highlight=False)
        for message in attrs["messages"]:
            _field(f"{pad}    {message.get('role')}: ", message.get("content"), width=400)
    if docs:
        for n, doc in enumerate(docs, 1):
            score = doc.get("score")
            where = f"{pad}    [{n}] {'' if score is None else f'{score:.4f} '}{doc.get('source', '?')}"
            _field(where + "  ", doc.get("text", ""), width=100)
    elif span.get("output") is not None:
        _field(f"{pad}  out: ", span["output"])


def _docs(value) -> list[dict]:
    if isinstance(value, list) and value and all(isinstance(d, dict) and "text" in d for d in value):
        return value
    return []


def _field(label: str, value, width: int = 200) -> None:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    console().print(label, end="", highlight=False, markup=False)
    console().print(_short(text, width), markup=False, highlight=False)


@app.command()
def search(
    text: str = typer.Argument(..., help="Text to find in prompts, answers and comments (case-insensitive)."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many matches, newest first."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Exchanges whose prompt or answer contains TEXT (the same as `lz logs --text TEXT`).

    \b
    Examples:
      lz logs search "RAG"
      lz logs search 2+2 --json
    """
    from lazycli import chatlog

    rows = chatlog.search(text, limit)
    if want_json(json_):
        print_json({"logs": rows})
        return
    if not rows:
        note(f"nothing logged matches {text!r}")
        return
    _table(rows)


@app.command()
def rate(
    ident: str = typer.Argument(..., help="Exchange id, trace id, or `last`."),
    rating: str = typer.Argument(..., help="up (good) or down (bad); none clears the rating."),
    comment: str = typer.Option(None, "--comment", "-m", help="What was wrong (or right)."),
    correction: str = typer.Option(None, "--correction", help="The answer it should have given."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Rate an answer thumbs up or down, with a comment and the corrected answer.

    \b
    Examples:
      lz logs rate last down -m "invented a flag" --correction "Use [endpoints.NAME] in config.toml."
      lz logs rate 12 up
    """
    from lazycli import chatlog

    value = chatlog.parse_rating(rating)
    if value is None:
        raise LzError(f"unknown rating {rating!r}", hint="up, down or none")
    if ident == "last":
        rows = chatlog.get_log("last")
        ident = str(rows[0]["id"]) if rows else ident
    rated = chatlog.rate(ident, value, comment=comment, correction=correction, origin="cli")
    if rated is None:
        raise LzError(f"no logged exchange {ident!r}", hint="`lz logs list` shows ids")
    if want_json(json_):
        print_json({"id": rated.id, "trace_id": rated.trace_id, "rating": rated.rating})
        return
    note(f"#{rated.id} rated {_rating({'rating': rated.rating}) or 'none'}")


@app.command()
def export(
    format_: str = typer.Option(..., "--format", "-f", help="eval, alpaca, sharegpt or messages."),
    output: Path = typer.Option(None, "--output", "-o", help="Write JSONL here (default: stdout)."),
    app_: str = _APP,
    kind: str = _KIND,
    bad: bool = _BAD,
    good: bool = _GOOD,
    since: str = _SINCE,
    until: str = _UNTIL,
    text: str = _TEXT,
    limit: int = typer.Option(None, "--limit", "-n", min=1, help="At most this many (newest first)."),
) -> None:
    """Write logged exchanges as an eval set or a fine-tuning data set (JSONL, oldest first).

    eval: {"q", "answer" (the corrected answer, when one was given), "context", "sources", "meta"},
    ready for `lz eval --data`. alpaca / sharegpt / messages: the prompt that was sent and the answer
    to learn: the corrected one, or the answer itself when rated good; a bad answer without a
    correction is skipped (it must not become a training target).

    \b
    Examples:
      lz logs export --bad --format eval -o bad-cases.jsonl
      lz logs export --good --format sharegpt --app rag -o sft.jsonl
      lz logs export --bad --format messages --since 7d
    """
    from lazycli import chatlog
    from lazycli.fsutil import atomic_write_text

    if format_ not in chatlog.EXPORT_FORMATS:
        raise LzError(f"unknown --format {format_!r}", hint=f"one of {', '.join(chatlog.EXPORT_FORMATS)}")
    where = _filter(app_, kind, bad, good, since, until, text)
    rows = list(reversed(chatlog.list_logs(limit, where=where, full=True)))
    records = [chatlog.export_record(row, format_) for row in rows]
    lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in records if r is not None]
    skipped = len(rows) - len(lines)
    if output is None:
        sys.stdout.write("".join(lines))
    else:
        atomic_write_text(output, "".join(lines))  # never a half-written data set
    where_to = "stdout" if output is None else str(output)
    message = f"{len(lines)} record(s) ({format_}) to {where_to}"
    if skipped:
        message += f"; skipped {skipped} without a corrected answer (`lz logs rate ID down --correction …`)"
    err_console().print(message, markup=False, highlight=False)


# --- helpers ------------------------------------------------------------------------------------

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")


def parse_when(value: str | None, flag: str) -> float | None:
    """A local date/time or an age (30m, 2h, 7d, 1w) as a Unix time."""
    if value is None:
        return None
    text = value.strip()
    match = _RELATIVE.match(text)
    if match:
        return time.time() - float(match.group(1)) * _UNIT_S[match.group(2)]
    for fmt in _FORMATS:
        try:
            return time.mktime(time.strptime(text, fmt))
        except ValueError:
            continue
    raise LzError(
        f"{flag} {value!r} is not a date or an age", hint="e.g. 2026-12-01, '2026-12-01 10:00', 2h, 7d"
    )


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _rating(row: dict) -> str:
    return {1: "👍 good", -1: "👎 bad"}.get(row.get("rating"), "")


def _esc(text: str) -> str:
    from rich.markup import escape

    return escape(str(text))


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
    for column in ("id", "when", "kind", "app", "rating", "tokens", "latency", "prompt", "answer"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            str(row["id"]),
            _when(row["created_at"]),
            row.get("kind") or "chat",
            row.get("app") or row["target"],
            _rating(row),
            "" if row.get("total_tokens") is None else str(row["total_tokens"]),
            "" if row.get("latency_s") is None else f"{row['latency_s']:.2f}s",
            _short(row["prompt"]),
            _short(row["response"]) + (f" [error: {row['error']}]" if row.get("error") else ""),
        )
    console().print(table)
