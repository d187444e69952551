"""`lz jobs ls|status|logs|cancel`: commands started with `lz launch`, fine-tune runs and sweep
workers, on any launcher."""

from __future__ import annotations

import sys
import time

import typer

from lazycli.console import console, note, print_json, want_json

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Jobs (`lz launch` commands, fine-tunes, sweep workers): ls, status, logs (-f), cancel.",
    epilog="Examples: lz jobs ls --kind finetune · lz jobs logs train-1 -f · lz jobs cancel train-1",
)


@app.command("ls")
def ls(
    kind: str | None = typer.Option(
        None, "--kind", help="Only jobs of this kind: command, finetune, sweep-worker, deployment."
    ),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Jobs, newest first, with the launcher's current status."""
    from lazycli import jobs

    rows = jobs.list_jobs(kind=_kind(kind) if kind else None)
    if want_json(json_):
        print_json({"jobs": [r.as_dict() for r in rows]})
        return
    if not rows:
        note("no jobs yet: `lz launch -- CMD` starts one")
        return
    from rich.table import Table

    table = Table()
    for column in ("name", "kind", "of", "launcher", "job id", "status", "exit", "age", "command"):
        table.add_column(column, overflow="fold")
    for r in rows:
        code = "" if r.exit_code is None else str(r.exit_code)
        table.add_row(r.name, r.kind.value, r.owner or "", r.launcher, r.job.job_id, r.status.value, code,
                      _age(r.created_at), " ".join(r.argv))  # fmt: skip
    console().print(table)


def _kind(value: str):
    from lazycli import jobs
    from lazycli.errors import unknown

    try:
        return jobs.Kind(value)
    except ValueError:
        known = [k.value for k in jobs.Kind]
        raise unknown("job kind", value, known, hint="one of " + ", ".join(known)) from None


def _age(since: float) -> str:
    seconds = max(0, int(time.time() - since))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@app.command()
def status(
    name: str = typer.Argument(..., help="Job name (`lz jobs ls`)."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """One job's status, exit code and where its log is."""
    from lazycli import jobs

    row = jobs.require(name)
    if want_json(json_):
        print_json(row.as_dict())
        return
    code = "" if row.exit_code is None else f" (exit {row.exit_code})"
    owner = f", {row.kind.value} {row.owner}" if row.owner else ""
    print(f"{row.name}: {row.status.value}{code} on {row.launcher} (job {row.job.job_id}{owner})")
    if row.reason:
        print(f"  reason: {row.reason}")
    print(f"  log: {row.job.log_path or row.log_path}")


@app.command()
def logs(
    name: str = typer.Argument(..., help="Job name (`lz jobs ls`)."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing until the job ends."),
    lines: int | None = typer.Option(None, "--lines", "-n", min=0, help="Only the last N lines."),
) -> None:
    """The job's output (stdout and stderr), as its launcher keeps it."""
    from lazycli import jobs

    row = jobs.require(name)
    if not follow:
        text = jobs.logs(row, lines)
        sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
        return
    try:
        jobs.follow(row, lambda text: (sys.stdout.write(text), sys.stdout.flush()))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


@app.command()
def cancel(
    name: str = typer.Argument(..., help="Job name (`lz jobs ls`)."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Stop a job (its launcher's cancel: the process group, scancel, …)."""
    from lazycli import jobs

    row = jobs.cancel(name)
    if want_json(json_):
        print_json(row.as_dict())
    else:
        note(f"{row.name}: {row.status.value}")
