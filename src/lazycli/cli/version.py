"""`lz version`."""

from __future__ import annotations

import platform

import typer

from lazycli import __version__
from lazycli.console import print_json, want_json

app = typer.Typer(add_completion=False)


@app.command()
def version(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Print the lz version (and Python's).

    Example: lz version --json
    """
    if want_json(json_):
        print_json({"lazycli": __version__, "python": platform.python_version()})
    else:
        print(f"lz {__version__} (Python {platform.python_version()})")
