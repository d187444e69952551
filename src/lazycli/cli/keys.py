"""`lz keys set|list|rm PROVIDER`: API keys in a 0600 file; env vars win; never printed in full."""

from __future__ import annotations

import sys

import typer

from lazycli.console import console, note, print_json, want_json

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Store API keys for online providers.",
    epilog="Examples: lz keys set openai · echo $KEY | lz keys set qwen · lz keys list",
)


@app.command("set")
def set_key(
    provider: str = typer.Argument(..., help="Provider name, e.g. openai, qwen, glm."),
    value: str = typer.Option(None, "--value", hidden=True, help="Read from stdin or a prompt instead."),
) -> None:
    """Store the API key for PROVIDER (read from a hidden prompt, or from stdin when piped).

    Examples:
      lz keys set openai
      echo "$KEY" | lz keys set qwen
    """
    from lazycli import keys

    secret = value if value is not None else _read_secret(provider)
    keys.set_key(provider, secret)
    note(f"saved key for {provider} ({keys.mask(secret)}) in {keys.keys_path()}")


def _read_secret(provider: str) -> str:
    if sys.stdin.isatty():
        return typer.prompt(f"API key for {provider}", hide_input=True)
    return sys.stdin.readline()


@app.command("list")
def list_keys(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List stored keys (masked) and which env vars would override them.

    Example: lz keys list
    """
    from lazycli import keys

    rows = keys.listing()
    if want_json(json_):
        print_json({"keys": rows})
        return
    if not rows:
        note("no keys stored; add one with `lz keys set PROVIDER`")
        return
    for row in rows:
        origin = f"env {row['env']}" if row["env"] else "file"
        console().print(f"{row['provider']}\t{row['masked']}\t({origin})")


@app.command("rm")
def rm_key(provider: str = typer.Argument(..., help="Provider name.")) -> None:
    """Remove the stored key for PROVIDER.

    Example: lz keys rm openai
    """
    from lazycli import keys

    keys.remove_key(provider)
    note(f"removed key for {provider}")
