"""`lz plugin new NAME --kind K`: scaffold a standalone plugin distribution.

The result is a directory with a pyproject (the `lazycli` entry point), a module whose hookimpl
yields a working minimal record, a README and a contract test; `pip install -e DIR` makes it show
in `lz plugins`.
"""

from __future__ import annotations

import re
from pathlib import Path

import typer

from lazycli.console import note, print_json, want_json
from lazycli.scaffolds import KINDS, render

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Scaffold plugins.",
    epilog="Example: lz plugin new my-provider --kind provider && pip install -e lazycli-my-provider",
)


@app.callback()
def _group() -> None:
    """Scaffold plugins (a group, so that `lz plugin new` keeps its sub-command name)."""


@app.command()
def new(
    name: str = typer.Argument(..., help="Plugin name (also the record name), e.g. my-provider."),
    kind: str = typer.Option(..., "--kind", "-k", help="|".join(KINDS)),
    directory: Path = typer.Option(None, "--dir", help="Where to create it (default: ./lazycli-NAME)."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Scaffold a standalone plugin distribution that `pip install -e` makes visible in `lz plugins`.

    Examples:
      lz plugin new my-provider --kind provider
      lz plugin new fast-engine --kind engine --dir ./fast-engine
    """
    from lazycli.errors import LzError, unknown

    if kind not in KINDS:
        raise unknown("plugin kind", kind, KINDS, hint=f"choose one of {', '.join(KINDS)}")
    if not re.fullmatch(r"[a-z][a-z0-9-]*", name):
        raise LzError(
            f"bad plugin name {name!r}", hint="use lower-case letters, digits and '-', e.g. my-provider"
        )
    target = directory or Path.cwd() / f"lazycli-{name}"
    if target.exists() and any(target.iterdir()):
        raise LzError(f"{target} already exists and is not empty", hint="pick another --dir")
    files = render(name, kind)
    for rel, text in files.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if want_json(json_):
        print_json({"path": str(target), "files": sorted(files)})
    else:
        note(f"created {target} ({', '.join(sorted(files))})")
        print(f"next: pip install -e {target} && lz plugins")
