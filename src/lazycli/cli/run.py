"""`lz run RECIPE ["input"]`: validate, plan, bring up models/indexes/steps, run the app."""

from __future__ import annotations

import sys

import typer

app = typer.Typer(add_completion=False)


@app.command()
def run(
    recipe: str = typer.Argument(..., help="Recipe file (.toml)."),
    input_: str = typer.Argument(None, metavar="[INPUT]", help="Input for the app ('-' reads stdin)."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the plan (steps, argv, launchers); start nothing."
    ),
    set_: list[str] = typer.Option([], "--set", help="Override a recipe value: --set models.llm.model=NAME."),
    json_: bool = typer.Option(False, "--json", help="Print JSON: plan, results, output, sources."),
    eval_: bool = typer.Option(
        False, "--eval", help="Score the app on the QA set of the recipe's eval table."
    ),
    launcher: str | None = typer.Option(
        None, "--launcher", "-l", help="Deploy every model of the recipe through this launcher (slurm, …)."
    ),
) -> None:
    """Run a recipe: validate it, print the plan, deploy (or reuse) its models, build (or update) its
    indexes, run its steps, then run its app once on INPUT, or open a chat REPL on a terminal.
    On failure, deployments this run started are stopped again.

    \b
    Examples:
      lz run recipes/rag.toml --dry-run              # the plan, with engine argv and launcher
      lz run recipes/rag.toml "What is lazycli?"     # answer with sources
      lz run recipes/chatbot.toml                    # chat REPL on a terminal
      lz run recipes/rag.toml --set app.steps.0.steps.0.topk=5 --json "question"
      echo "question" | lz run recipes/rag.toml -
      lz run my-recipe.toml --eval --json            # score the app on its eval QA set
      lz run recipes/rag.toml --launcher slurm "q"   # its models deployed through Slurm
    """
    from lazycli import recipes
    from lazycli.console import is_tty, print_json, want_json

    as_json = want_json(json_)
    loaded = recipes.load(recipe, set_)
    if launcher is not None:  # every sub-service on one launcher: the same as --set models.K.launcher=L
        from lazycli.plugins import registry

        registry().get("launchers", launcher)  # an unknown one is one line before anything starts
        moved = [f"models.{key}.launcher={launcher}" for key in loaded.spec.models]
        loaded = recipes.load(recipe, [*set_, *moved])
    actions = recipes.plan(loaded)
    if dry_run:
        if as_json:
            print_json(
                {
                    "recipe": str(loaded.path),
                    "name": loaded.name,
                    "plan": [a.as_dict() for a in actions],
                    "app": loaded.app_name if loaded.spec.app else None,
                }
            )
        else:
            print_plan(actions, out=sys.stdout)
            if loaded.spec.app:
                print(f"then: app {loaded.app_name!r} ({len(loaded.spec.app.steps)} steps) on the input")
        return
    if not as_json:
        print_plan(actions)
    value = sys.stdin.read().strip() if input_ == "-" else input_
    execution = recipes.execute(loaded, progress=not as_json and is_tty(sys.stderr))
    try:
        _use(loaded, execution, actions, value, as_json=as_json, evaluate=eval_)
    except BaseException:
        execution.stop_started()  # a failed app run also takes down what this run started
        raise


def _use(loaded, execution, actions, value, *, as_json: bool, evaluate: bool) -> None:
    """After the resources are up: evaluate, the REPL, one answer, or just report the results."""
    from lazycli import recipes
    from lazycli.console import is_tty, note, print_json

    if evaluate:
        _evaluate(loaded, execution, as_json)
        return
    if value is None:
        if loaded.spec.app is not None and is_tty(sys.stdin) and is_tty(sys.stdout) and not as_json:
            _repl(recipes.build_app(loaded, execution.results), loaded.app_name)
            return
        if as_json:
            print_json(
                {
                    "recipe": str(loaded.path),
                    "plan": [a.as_dict() for a in actions],
                    "results": execution.results,
                }
            )
        else:
            note(f"done: {len(actions)} step(s); give an input to run the app")
        return
    app_flow = recipes.build_app(loaded, execution.results)
    if as_json:
        from lazycli.flow import Context

        ctx = Context(input=value)
        with _recording(loaded.app_name, value) as t:
            output = app_flow.run(value, ctx)
            t.output, t.sources = output, ctx.sources
        body = {
            "recipe": str(loaded.path),
            "plan": [a.as_dict() for a in actions],
            "results": execution.results,
            "input": value,
            "output": output,
            "sources": ctx.sources,
        }
        if ctx.steps:  # agents' steps: thought, tool calls with arguments and results, answer
            body["steps"] = [step.as_dict() for step in ctx.steps]
        print_json(body)
        return
    _answer(app_flow, value, history=[], app=loaded.app_name)


def _evaluate(loaded, execution, as_json: bool) -> None:
    from lazycli import recipes
    from lazycli.console import print_json
    from lazycli.recipes.evaluate import evaluate

    report = evaluate(loaded, recipes.build_app(loaded, execution.results))
    if as_json:
        print_json(report)
        return
    for row in report["rows"]:
        mark = "ok  " if row["correct"] else "miss"
        print(f"{mark} {row['question']!r} → {str(row['output'])[:80]!r}")
    print(f"{report['metric']}: {report['correct']}/{report['n']} = {report['score']:.3f}")


def print_plan(actions, out=None) -> None:
    """The plan, one numbered line per action (argv and launcher indented below)."""
    from lazycli.console import options

    if options.quiet and out is None:
        return
    write = (out or sys.stderr).write
    write("plan:\n")
    for i, action in enumerate(actions, 1):
        write(f"  {i}. {action.id}: {action.action}: {action.detail}\n")
        if action.command:
            write(f"       command: {' '.join(action.command)}\n")
        if action.argv:
            write(f"       argv: {' '.join(map(str, action.argv))}\n")
        if action.launcher:
            write(f"       launcher: {action.launcher}\n")
    if not actions:
        write("  (nothing to start or build)\n")


def _recording(app: str | None, value):
    """The exchange as a trace (each flow step, sources, prompt, tokens) for `lz logs`."""
    from lazycli import settings, trace
    from lazycli.console import note

    return trace.recording("run", app, value, enabled=settings.get().chat_log, warn=note)


def _answer(app_flow, value, history: list[dict], app: str | None = None) -> str:
    """Stream the app's answer to stdout, then its sources; returns the answer text."""
    from lazycli.flow import Context

    ctx = Context(input=value, history=history)
    pieces = []
    with _recording(app, value) as t:
        for piece in app_flow.stream(value, ctx):
            pieces.append(piece)
            sys.stdout.write(piece)
            sys.stdout.flush()
        t.output, t.sources = "".join(pieces), ctx.sources
    sys.stdout.write("\n")
    if ctx.sources:
        sys.stdout.write("sources:\n")
        for i, doc in enumerate(ctx.sources, 1):
            sys.stdout.write(f"  [{i}] {doc.get('source', '?')}\n")
    sys.stdout.flush()
    _print_steps(ctx.steps)
    return "".join(pieces)


def _print_steps(steps: list) -> None:
    """Agents' steps on stderr, one line each (`--json` carries them whole)."""
    from lazycli.console import note

    for step in steps:
        text = " | ".join(step.render().splitlines())
        note(f"[dim]{step.agent} step {step.n}: {_short(text)}[/dim]")


def _short(text: str, width: int = 160) -> str:
    from rich.markup import escape

    return escape(text if len(text) <= width else text[: width - 1] + "…")


def _repl(app_flow, name: str) -> None:
    from lazycli.console import err_console

    err_console().print(
        f"[bold]{name}[/bold]: type a message; /reset clears the history, /exit or Ctrl-D quits"
    )
    history: list[dict] = []
    while True:
        try:
            line = input("> ").strip()
        except EOFError:
            sys.stdout.write("\n")
            return
        if not line:
            continue
        if line in ("/exit", "/quit"):
            return
        if line == "/reset":
            history.clear()
            continue
        try:
            answer = _answer(app_flow, line, history, app=name)
        except KeyboardInterrupt:
            sys.stdout.write("\n(interrupted)\n")
            continue
        history += [{"role": "user", "content": line}, {"role": "assistant", "content": answer}]
