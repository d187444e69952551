"""`lz plugins`: every plugin with version, source, what it registered, and load errors."""

from __future__ import annotations

import typer

from lazycli.console import console, print_json, want_json

app = typer.Typer(add_completion=False)


@app.command()
def plugins(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List loaded plugins (built-in and third-party), their records by kind, and load errors.

    Examples:
      lz plugins
      lz plugins --json
      LAZYCLI_PLUGINS=llamacpp,local lz plugins    # load only these
    """
    from lazycli.plugins import registry

    reg = registry()
    if want_json(json_):
        print_json({"plugins": [info.as_dict() for info in reg.plugins]})
        return
    _print_table(reg)


def _print_table(reg) -> None:
    from rich.table import Table

    table = Table(show_lines=False)
    for column in ("plugin", "version", "source", "registers", "status"):
        table.add_column(column, overflow="fold")
    for info in reg.plugins:
        registers = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in info.records.items())
        status = "[red]error[/red]" if info.errors else "ok"
        table.add_row(info.name, info.version or "-", info.source, registers or "-", status)
    out = console()
    out.print(table)
    # Errors in full below the table: a narrow terminal must not fold away the reason.
    failed = [info for info in reg.plugins if info.errors]
    if failed:
        out.print("[red]Load errors:[/red]")
        for info in failed:
            for error in info.errors:
                out.print(f"  {info.name}: {error}", markup=False)
