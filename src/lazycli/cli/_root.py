"""The typer group behind `lz` (imported only to run a command, not for a cached `lz --help`)."""

from __future__ import annotations

import typer
import typer.main
from typer.core import TyperGroup

from lazycli import __version__
from lazycli.cli import EPILOG, VERBS, _help_cache
from lazycli.console import options


def _to_command(obj):
    """A verb module's `app` (a typer app) as a command of the same click flavour as the root."""
    return typer.main.get_command(obj) if isinstance(obj, typer.Typer) else obj


class LazyGroup(TyperGroup):
    """A typer group that imports a verb's module only when that verb runs."""

    def list_commands(self, ctx) -> list[str]:
        return sorted(VERBS)

    def get_command(self, ctx, cmd_name: str):
        if cmd_name in VERBS:
            import importlib

            module = importlib.import_module(VERBS[cmd_name][0])
            command = _to_command(module.app)
            command.name = cmd_name
            return command
        return _plugin_command(cmd_name)

    def get_help(self, ctx) -> str:
        text = super().get_help(ctx)
        if ctx.parent is None:  # the root's help: what `lz --help` prints from the cache next time
            _help_cache.store(text)
        return text

    def format_commands(self, ctx, formatter) -> None:
        # From the table, not from the modules: listing verbs must not import them.
        rows = [(name, VERBS[name][1]) for name in sorted(VERBS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _plugin_command(name: str):
    from lazycli.plugins import registry

    spec = registry().all("commands").get(name)
    if spec is None:
        return None
    command = _to_command(spec.factory())
    command.name = name
    return command


def _show_version(value: bool) -> None:
    if value:
        print(f"lz {__version__}")
        raise typer.Exit()


app = typer.Typer(
    cls=LazyGroup,
    rich_markup_mode=None,  # plain help: rich's renderer would import every verb to list them
    add_completion=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=EPILOG,
)


@app.callback()
def root(
    json_: bool = typer.Option(False, "--json", help="Machine output: plain JSON on stdout, nothing else."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress or notes, only results and errors."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """lz: build, tune and run LLM applications from the shell."""
    options.json = options.json or json_
    options.quiet = options.quiet or quiet
    options.debug = options.debug or debug


def command():
    """The root as a click command (what `lz` runs)."""
    return typer.main.get_command(app)
