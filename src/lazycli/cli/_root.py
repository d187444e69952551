"""The typer group behind `lz` (imported only to run a command, not for a cached `lz --help`)."""

from __future__ import annotations

import math

import typer
import typer.main
from typer.core import TyperGroup

from lazycli import __version__
from lazycli.cli import EPILOG, VERBS, _help_cache
from lazycli.console import options


def _to_command(obj):
    """A verb module's `app` (a typer app) as a command of the same click flavour as the root,
    its numbers checked once for every verb (see `_checked_numbers`)."""
    command = typer.main.get_command(obj) if isinstance(obj, typer.Typer) else obj
    _checked_numbers(command)
    return command


# No float flag of lz means more (seconds, rates, sampling values); a timeout beyond it overflows
# the clock (`time.monotonic() + t`), a temperature beyond it is a typo.
MAX_FLOAT = 1e9


class _FiniteNumber:
    """A number flag's type that also refuses what no lz option means: nan and ±inf (they break
    JSON request bodies and comparisons), floats beyond MAX_FLOAT and integers beyond 64 bits
    (SQLite cannot bind them)."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if isinstance(number, float) and not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        if isinstance(number, float) and abs(number) > MAX_FLOAT:
            self.fail(f"{value!r} is too large (at most {MAX_FLOAT:g}).", param, ctx)
        if isinstance(number, int) and not -(2**63) <= number < 2**63:
            self.fail(f"{value!r} is too large.", param, ctx)
        return number


_CHECKED: dict[type, type] = {}


def _checked_numbers(command) -> None:
    """Give every int/float parameter of `command` (and of its sub-commands) a `_FiniteNumber`
    type: one check at the door instead of one per verb."""
    from typer._click.types import FloatParamType, IntParamType

    for param in getattr(command, "params", ()):
        kind = type(param.type)
        if issubclass(kind, (IntParamType, FloatParamType)) and not issubclass(kind, _FiniteNumber):
            if kind not in _CHECKED:
                _CHECKED[kind] = type(kind.__name__, (_FiniteNumber, kind), {})
            param.type.__class__ = _CHECKED[kind]  # same fields, one more check
    for sub in (getattr(command, "commands", None) or {}).values():
        _checked_numbers(sub)


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
