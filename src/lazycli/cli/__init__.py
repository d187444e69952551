"""The `lz` command: a typer group whose verbs are imported only when they are run.

`lz --help` must stay fast, so this module imports neither typer nor anything heavy: the verb
table below carries each verb's module and one-line help, the typer group lives in `_root` and
is imported only to run a command, and a verb's module (pydantic, rich, its own imports) only when
that verb is invoked (vLLM's CLI does the same). `lz --help` itself is printed from a cache of the
text typer rendered last time (see `_help_cache`). Verbs are typer apps (`app` in their module);
plugin commands (`lazycli_commands`) are looked up when a name is not a built-in verb.
"""

from __future__ import annotations

import sys

from lazycli.cli import _help_cache
from lazycli.console import options

# name → (module, one-line help). Only verbs that work are listed here.
VERBS: dict[str, tuple[str, str]] = {
    "plugins": ("lazycli.cli.plugins", "List loaded plugins, what they register, and load errors."),
    "plugin": ("lazycli.cli.plugin", "Scaffold a new plugin distribution (lz plugin new NAME --kind K)."),
    "config": ("lazycli.cli.config", "Show and change settings (config file, env vars, defaults)."),
    "keys": ("lazycli.cli.keys", "Store API keys for online providers (0600 file; env vars win)."),
    "version": ("lazycli.cli.version", "Print the lz version."),
    "doctor": ("lazycli.cli.doctor", "Check that lz works here (engine, model, state) and how to fix it."),
    "download": ("lazycli.cli.download", "Download models from Hugging Face or ModelScope (resumable)."),
    "models": ("lazycli.cli.models", "The model catalogue and local models (ls, info, add, rm)."),
    "deploy": ("lazycli.cli.deploy", "Start model servers that outlive lz; ls, status, logs, stop, restart."),
    "chat": ("lazycli.cli.chat", "Chat with a deployment, model, provider[:model] or URL."),
    "speak": ("lazycli.cli.speak", "Text to speech (WAV) with a tts model (default: the bundled eSpeak NG)."),
    "transcribe": ("lazycli.cli.transcribe", "Speech to text from an audio file with an stt model."),
    "ocr": ("lazycli.cli.ocr", "The text in an image, with an OCR model (the bundled PP-OCR by default)."),
    "logs": ("lazycli.cli.logs", "Exchanges and their traces: list (--bad, --since…), show, rate, export."),
    "index": ("lazycli.cli.index", "Index documents for RAG (incremental, crash-safe); ls, info, rm."),
    "rag": ("lazycli.cli.rag", "Answer from an index with cited sources (REPL or one-shot); rag eval."),
    "eval": ("lazycli.cli.eval", "Score a recipe, model or endpoint on a JSONL set (metrics, judge, cache)."),
    "sweep": ("lazycli.cli.sweep", "Try configurations of a recipe, scored by lz eval; ranked, resumable."),
    "run": ("lazycli.cli.run", "Run a recipe: plan, deploy/reuse, index, steps, then its app (--dry-run)."),
    "recipe": ("lazycli.cli.recipe", "Check recipe files (validate) and print the recipe JSON schema."),
    "serve": ("lazycli.cli.serve", "Serve a recipe's app or a model: OpenAI-compatible API + web chat page."),
    "finetune": ("lazycli.cli.finetune", "Fine-tune a model on a data file (a new model); ls, status, logs."),
    "engines": ("lazycli.cli.engines", "Managed environments for engines and finetuners: install, ls, rm."),
    "launch": ("lazycli.cli.launch", "Run any command on a launcher (local, slurm, …) as a tracked job."),
    "jobs": ("lazycli.cli.jobs", "Jobs (launch, fine-tune, sweep): ls, status, logs (-f), cancel."),
    "pack": (
        "lazycli.cli.pack",
        "A Dockerfile and Kubernetes manifests for a recipe's app on a cluster.",
    ),
}

EPILOG = """\b
Examples:
  lz chat "What is RAG?"                 talk to the bundled model
  lz index ./docs --name kb              build a searchable index
  lz rag --index kb "question"           answer with sources
  lz deploy qwen2-1.5b --engine vllm     start a model server
Run `lz VERB --help` for a verb's options; `lz plugins` lists plugin commands.
"""


def __getattr__(name: str):
    # `lazycli.cli.app` (the typer group) stays importable without making every start pay for it.
    if name == "app":
        from lazycli.cli._root import app

        return app
    raise AttributeError(name)


def _report_user_error(message: str, hint: str | None) -> None:
    line = f"lz: error: {message}"
    if hint:
        line += f" (hint: {hint})"
    sys.stderr.write(line + "\n")


def _first_non_utf8(args: list[str]) -> int | None:
    """Index of the first argument holding bytes that were not UTF-8 (Python maps them to surrogates)."""
    for i, arg in enumerate(args):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            return i
    return None


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors → one line, exit 2; bugs → traceback, exit 1."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["--help"], ["-h"]) and _help_cache.show():
        return
    from lazycli.cli._root import command
    from lazycli.errors import LzError

    options.debug = options.debug or "--debug" in args
    bad = _first_non_utf8(args)
    if bad is not None:
        # Names, paths and values all end up in SQLite, JSON and HTTP as UTF-8; refuse at the door.
        _report_user_error(
            f"argument {bad + 1} ({args[bad]!r}) is not valid UTF-8",
            "retype it, or set a UTF-8 locale (LANG=C.UTF-8) if your shell produced it",
        )
        sys.exit(2)
    try:
        command().main(args=args, prog_name="lz", standalone_mode=True)
    except LzError as exc:
        if options.debug:
            import traceback

            traceback.print_exc()
        _report_user_error(exc.message, exc.hint)
        sys.exit(exc.exit_code)
    except OSError as exc:  # the one boundary for expected OS errors; others are bugs (exit 1)
        from lazycli.errors import from_os_error

        error = from_os_error(exc)
        if error is None or options.debug:
            raise
        _report_user_error(error.message, error.hint)
        sys.exit(error.exit_code)
