"""`lz config show|get|set|unset|path`: settings from flags > env > config file > defaults."""

from __future__ import annotations

import json
import os
from typing import Any

import typer

from lazycli.console import console, note, print_json, want_json

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Show and change settings.",
    epilog="Examples: lz config show · lz config set deploy_timeout 600 · lz config unset deploy_timeout",
)


@app.command()
def show(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Every setting with its value and where it comes from (env, file or default).

    Example: lz config show
    """
    from lazycli import settings

    current = settings.load()
    file_values = settings.read_config_file()
    rows = []
    for name, field in settings.Settings.model_fields.items():
        env = settings.ENV_PREFIX + name.upper()
        origin = "env" if env in os.environ else "file" if name in file_values else "default"
        value = getattr(current, name)
        rows.append({"key": name, "value": _plain(value), "source": origin, "help": field.description or ""})
    if want_json(json_):
        print_json({"config_file": str(settings.config_path()), "settings": rows})
        return
    from rich.table import Table

    table = Table()
    for column in ("key", "value", "source", "help"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row["key"], json.dumps(row["value"], ensure_ascii=False), row["source"], row["help"])
    console().print(table)


def _plain(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@app.command()
def get(key: str = typer.Argument(..., help="Setting name, e.g. deploy_timeout.")) -> None:
    """Print one setting's effective value.

    Example: lz config get llamacpp_threads
    """
    from lazycli import settings

    settings.check_keys({key.split(".")[0]: None}, "the command line")
    value = getattr(settings.load(), key.split(".")[0])
    for part in key.split(".")[1:]:
        value = _plain(value).get(part) if isinstance(_plain(value), dict) else None
    value = _plain(value)
    print(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))


# A negative number is a value here, not an option: `lz config set deploy_timeout -5` is validated.
@app.command("set", context_settings={"ignore_unknown_options": True})
def set_(
    key: str = typer.Argument(..., help="Setting name (dotted for endpoints: endpoints.NAME.base_url)."),
    value: str = typer.Argument(..., help="New value (TOML/JSON literal or plain text)."),
) -> None:
    """Validate and write a setting to the config file (nothing is written when it is bad).

    Examples:
      lz config set deploy_timeout 600
      lz config set llamacpp_threads 2
      lz config set endpoints.local.base_url http://127.0.0.1:8000/v1
    """
    from lazycli import settings

    data = settings.read_config_file()
    _assign(data, key.split("."), _parse_value(value))
    _save_checked(data, key)
    note(f"set {key} in {settings.config_path()}")


@app.command()
def unset(key: str = typer.Argument(..., help="Setting name.")) -> None:
    """Remove a setting from the config file (its default or env value applies again).

    Example: lz config unset deploy_timeout
    """
    from lazycli import settings
    from lazycli.errors import LzError

    data = settings.read_config_file()
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict) or parts[-1] not in node:
        raise LzError(
            f"{key!r} is not set in {settings.config_path()}", hint="`lz config show` lists settings"
        )
    del node[parts[-1]]
    _save_checked(data, key)
    note(f"unset {key}")


@app.command()
def path(
    json_: bool = typer.Option(False, "--json", help="Print JSON with the data and cache dirs."),
) -> None:
    """Print the config file path (and the data and cache dirs with --json).

    Example: lz config path
    """
    from lazycli import paths

    if want_json(json_):
        print_json(
            {
                "config": str(paths.config_path()),
                "data": str(paths.data_dir()),
                "cache": str(paths.cache_dir()),
            }
        )
        return
    print(paths.config_path())


def _parse_value(raw: str) -> Any:
    """A TOML/JSON literal when it parses as one (numbers, booleans, lists), else the plain string."""
    import tomllib

    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _assign(data: dict, parts: list[str], value: Any) -> None:
    from lazycli import settings

    settings.check_keys({parts[0]: None}, "the command line")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _save_checked(data: dict, key: str) -> None:
    """Validate the whole file's values before replacing the file atomically."""
    import tomli_w
    from pydantic import ValidationError

    from lazycli import settings
    from lazycli.fsutil import atomic_write_text

    try:
        settings.Settings.model_validate(data)
    except ValidationError as exc:
        raise settings.validation_error(exc, "the command line") from None
    atomic_write_text(settings.config_path(), tomli_w.dumps(data))
