"""The `lz` command: a typer group whose verbs are imported only when they are run.

`lz --help` must stay fast (≤ 0.15 s CPU), so this module imports typer and nothing heavy: the
verb table below carries each verb's module and one-line help, and the module (pydantic, rich,
the verb's own imports) is imported only when that verb is invoked (vLLM's CLI does the same).
Verbs are typer apps (`app` in their module); plugin commands (`lazycli_commands`) are looked up
when a name is not a built-in verb.
"""

from __future__ import annotations

import sys

import typer
import typer.main
from typer.core import TyperGroup

from lazycli import __version__
from lazycli.console import options

# name → (module, one-line help). Only verbs that work are listed here.
VERBS: dict[str, tuple[str, str]] = {
    "plugins": ("lazycli.cli.plugins", "List loaded plugins, what they register, and load errors."),
    "plugin": ("lazycli.cli.plugin", "Scaffold a new plugin distribution (lz plugin new NAME --kind K)."),
    "config": ("lazycli.cli.config", "Show and change settings (config file, env vars, defaults)."),
    "keys": ("lazycli.cli.keys", "Store API keys for online providers (0600 file; env vars win)."),
    "version": ("lazycli.cli.version", "Print the lz version."),
    "download": ("lazycli.cli.download", "Download models from Hugging Face or ModelScope (resumable)."),
    "models": ("lazycli.cli.models", "The model catalogue and local models (ls, info, add, rm)."),
    "deploy": ("lazycli.cli.deploy", "Start model servers that outlive lz; ls, status, logs, stop, restart."),
    "chat": ("lazycli.cli.chat", "Chat with a deployment, model, provider[:model] or URL."),
    "logs": ("lazycli.cli.logs", "Read the chat log: list, show, search (--json)."),
    "index": ("lazycli.cli.index", "Index documents for RAG (incremental, crash-safe); ls, info, rm."),
    "rag": ("lazycli.cli.rag", "Answer from an index with cited sources (REPL or one-shot); rag eval."),
    "run": ("lazycli.cli.run", "Run a recipe: plan, deploy/reuse, index, steps, then its app (--dry-run)."),
    "recipe": ("lazycli.cli.recipe", "Check recipe files (validate) and print the recipe JSON schema."),
    "serve": ("lazycli.cli.serve", "Serve a recipe's app or a model: OpenAI-compatible API + web chat page."),
    "finetune": ("lazycli.cli.finetune", "Fine-tune a model on a data file (a new model); ls, status, logs."),
    "engines": ("lazycli.cli.engines", "Managed environments for engines and finetuners: install, ls, rm."),
}

EPILOG = """\b
Examples:
  lz chat "What is RAG?"                 talk to the bundled model
  lz index ./docs --name kb              build a searchable index
  lz rag --index kb "question"           answer with sources
  lz deploy qwen2-1.5b --engine vllm     start a model server
Run `lz VERB --help` for a verb's options; `lz plugins` lists plugin commands.
"""


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


def _report_user_error(message: str, hint: str | None) -> None:
    line = f"lz: error: {message}"
    if hint:
        line += f" (hint: {hint})"
    sys.stderr.write(line + "\n")


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors → one line, exit 2; bugs → traceback, exit 1."""
    from lazycli.errors import LzError

    args = list(sys.argv[1:] if argv is None else argv)
    options.debug = options.debug or "--debug" in args
    try:
        typer.main.get_command(app).main(args=args, prog_name="lz", standalone_mode=True)
    except LzError as exc:
        if options.debug:
            import traceback

            traceback.print_exc()
        _report_user_error(exc.message, exc.hint)
        sys.exit(exc.exit_code)
