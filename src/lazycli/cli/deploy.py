"""`lz deploy MODEL` and `lz deploy ls|status|logs|stop|restart`: model servers that outlive lz.

`lz deploy MODEL …` is shorthand for `lz deploy start MODEL …`: the group treats a first word that
is not a subcommand as the model. Everything after `--` goes to the engine unchanged.
"""

from __future__ import annotations

import shlex
import sys
import time
from typing import TYPE_CHECKING

import typer

from lazycli.cli._groups import DefaultCommandGroup
from lazycli.console import console, err_console, is_tty, note, options, print_json, want_json

if TYPE_CHECKING:
    from lazycli.deployments import Deployment

RAW_EXTRA = "lz_raw_extra"


class DeployGroup(DefaultCommandGroup):
    """`lz deploy MODEL` means `lz deploy start MODEL`; `-- …` is kept for the engine."""

    default_command = "start"
    order = ("start", "ls", "status", "logs", "stop", "restart")

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        if "--" in args:
            cut = args.index("--")
            ctx.meta[RAW_EXTRA] = args[cut + 1 :]
            args = args[:cut]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=DeployGroup,
    add_completion=False,
    no_args_is_help=True,
    help="""Start model servers (engines) and manage them; they keep running after lz exits.

\b
Examples:
  lz deploy smollm2-135m-instruct                 the bundled model on llama.cpp (CPU)
  lz deploy qwen2-1.5b --engine vllm --gpus 2     tensor parallel over 2 GPUs
  lz deploy qwen2-1.5b --engine vllm --launcher slurm --dry-run
  lz deploy all-minilm-l6-v2                      an embedding server (/v1/embeddings, /v1/rerank)
  lz deploy M --set max_model_len=4096 -- --enforce-eager
  lz deploy ls                                    lz deploy logs NAME -f
  lz deploy stop NAME                             lz deploy stop --all
""",
)


@app.command("start")
def start(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="Model name, org/name id, or local path (.gguf file or HF dir)."),
    engine: str | None = typer.Option(None, "--engine", "-e", help="Engine (default: settings, 'auto')."),
    launcher: str | None = typer.Option(None, "--launcher", "-l", help="Launcher (default: local)."),
    name: str | None = typer.Option(None, "--name", "-n", help="Deployment name (default: from the model)."),
    port: int | None = typer.Option(
        None, "--port", "-p", callback=lambda v: _check_port(v), help="Pin the port (default: a free one)."
    ),
    gpus: int = typer.Option(0, "--gpus", min=0, help="GPUs (in all, with --nodes); > 1: tensor parallel."),
    nodes: int | None = typer.Option(
        None, "--nodes", help="Spread the model over N nodes (vllm on slurm, ray or k8s, over Ray)."
    ),
    set_: list[str] = typer.Option([], "--set", help="Engine option key=value (checked); repeatable."),
    force_set: bool = typer.Option(False, "--force-set", help="Pass unknown --set keys through unchecked."),
    timeout: float | None = typer.Option(
        None, "--timeout", help="Seconds to wait for health (default: settings.deploy_timeout)."
    ),
    no_wait: bool = typer.Option(
        False, "--no-wait", help="Return once started; `lz deploy ls` shows readiness."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the engine choice, argv and launcher; start nothing."
    ),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Deploy MODEL: resolve it (download if needed), pick the engine, start it, wait until healthy.

    \b
    Examples:
      lz deploy smollm2-135m-instruct
      lz deploy smollm2-135m-instruct --name tiny --port 8011 --set n_ctx=2048
      lz deploy qwen2-1.5b --engine lmdeploy --gpus 4 --dry-run
      lz deploy qwen2-72b-instruct --engine vllm --launcher slurm --nodes 2 --gpus 16 --dry-run
      lz deploy ./my-model.gguf -- --chat_format chatml
    """
    from lazycli import deployments, engines

    extra = ctx.meta.get(RAW_EXTRA, [])
    request = deployments.DeployRequest(
        model, engine=engine, launcher=launcher, name=name, port=port, gpus=gpus,
        options=engines.parse_set(set_), force_set=force_set, extra_args=tuple(extra), nodes=nodes,
    )  # fmt: skip
    if dry_run:
        _print_plan(deployments.plan(request).describe(), json_)
        return
    with _Progress(f"starting {model}", quiet=json_) as progress:
        row = deployments.deploy(request, timeout=timeout, wait=not no_wait, progress=progress)
    _report_started(row, json_, waited=not no_wait)


@app.command("ls")
def ls(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List deployments with their live status (a dead process shows as failed with its exit code).

    \b
    Examples:
      lz deploy ls
      lz deploy ls --json | jq '.deployments[] | select(.status=="running") | .url'
    """
    from lazycli import deployments

    rows = deployments.list_deployments(refresh=True)  # the truth now, in any shell
    if want_json(json_):
        print_json({"deployments": [row.as_dict() for row in rows]})
        return
    if not rows:
        note("no deployments; start one with `lz deploy MODEL`")
        return
    from rich.table import Table

    table = Table()
    for column in ("name", "model", "engine", "launcher", "status", "url", "job", "age"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            row.name, row.model, row.engine, row.launcher, _status_text(row),
            row.url or "-", row.job_id or "-", _age(row.created_at),
        )  # fmt: skip
    console().print(table)


@app.command("status")
def status(
    name: str = typer.Argument(..., help="Deployment name."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one deployment: status (checked now), URL, engine, argv, log file.

    Example: lz deploy status smollm2-135m-instruct
    """
    from lazycli import deployments

    row = deployments.require(name, refresh=True)  # checked now with its launcher
    if want_json(json_):
        print_json(row.as_dict())
        return
    out = console()
    for key in ("name", "model", "engine", "launcher", "status", "url", "served_name", "job_id", "pid",
                "exit_code", "reason", "log_path"):  # fmt: skip
        value = _status_text(row) if key == "status" else getattr(row, key)
        if value is not None:
            out.print(f"{key:12} {value}")
    if row.argv:
        out.print(f"{'argv':12} {shlex.join(row.argv)}", markup=False)


@app.command("logs")
def logs(
    name: str = typer.Argument(..., help="Deployment name."),
    follow: bool = typer.Option(
        False, "--follow", "-f", help="Keep printing new lines until it ends (Ctrl-C)."
    ),
    lines: int | None = typer.Option(None, "-n", "--lines", min=0, help="Only the last N lines."),
) -> None:
    """Print a deployment's engine log.

    \b
    Examples:
      lz deploy logs smollm2-135m-instruct -n 50
      lz deploy logs smollm2-135m-instruct -f
    """
    from lazycli import deployments
    from lazycli.launchers import last_lines

    found = deployments.job_of(deployments.require(name))
    if found is None:
        note(f"deployment {name} has not started yet")
        return
    launcher, job = found
    # One read gives both what to show and where following starts, so no line written in
    # between is lost (and a remote launcher is asked once, not twice).
    whole = launcher.logs(job, None)
    _write(whole if lines is None else last_lines(whole, lines))
    if follow:
        _follow(launcher, job, len(whole))


def _follow(launcher, job, offset: int) -> None:
    try:
        while True:
            text = launcher.logs(job, None)
            if len(text) > offset:
                _write(text[offset:])
                offset = len(text)
            elif launcher.status(job).finished:
                return
            time.sleep(0.25)
    except KeyboardInterrupt:
        return


def _write(text: str) -> None:
    if text:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()


@app.command("stop")
def stop(
    name: str | None = typer.Argument(None, help="Deployment name."),
    all_: bool = typer.Option(False, "--all", help="Stop every running deployment."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Stop a deployment (SIGTERM to its process group, SIGKILL after a grace period); also ends what
    is left of one that is recorded as ended (an engine whose wrapper was killed).

    \b
    Examples:
      lz deploy stop smollm2-135m-instruct
      lz deploy stop --all
    """
    from lazycli import deployments
    from lazycli.errors import LzError

    if bool(name) == all_:
        raise LzError("give a deployment NAME or --all (not both)", hint="`lz deploy ls` lists them")
    if all_:
        # Ended rows too, when something of theirs still runs (an engine whose wrapper was killed).
        rows = deployments.list_deployments(refresh=True)
        names = [r.name for r in rows if deployments.needs_stop(r)]
    else:
        names = [name]
    stopped = [deployments.stop(n) for n in names]
    if want_json(json_):
        print_json({"stopped": [row.as_dict() for row in stopped]})
        return
    for row in stopped:
        console().print(f"{row.name}: {row.status}")
    if not stopped:
        note("nothing to stop")


@app.command("restart")
def restart(
    name: str = typer.Argument(..., help="Deployment name."),
    timeout: float | None = typer.Option(None, "--timeout", help="Seconds to wait for health."),
    no_wait: bool = typer.Option(False, "--no-wait", help="Return once started."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Stop a deployment (when running) and start it again with the same settings.

    Example: lz deploy restart smollm2-135m-instruct
    """
    from lazycli import deployments

    with _Progress(f"restarting {name}", quiet=json_) as progress:
        row = deployments.restart(name, timeout=timeout, wait=not no_wait, progress=progress)
    _report_started(row, json_, waited=not no_wait)


def _check_port(value: int | None) -> int | None:
    from lazycli.settings import check_port

    return check_port(value)


# --- output helpers -----------------------------------------------------------------------------------


class _Progress:
    """A spinner with elapsed seconds on a terminal; nothing otherwise (or with --json / -q)."""

    def __init__(self, text: str, *, quiet: bool = False) -> None:
        self.text = text
        self.quiet = quiet
        self.status = None

    def __enter__(self):
        if self.quiet or options.quiet or options.json or not is_tty(sys.stderr):
            return None
        self.status = err_console().status(self.text)
        self.status.__enter__()
        return lambda elapsed: self.status.update(f"{self.text}: waiting for the engine ({elapsed:.0f} s)")

    def __exit__(self, *exc) -> None:
        if self.status is not None:
            self.status.__exit__(*exc)


def _report_started(row: Deployment, json_: bool, *, waited: bool) -> None:
    if want_json(json_):
        print_json(row.as_dict())
        return
    name = row.name
    if waited:
        took = (row.ready_at or 0) - (row.created_at or 0)
        note(f"[green]ready[/green]: {name} ({row.engine} on {row.launcher}, {took:.1f} s)")
        from lazycli.media.client import usage_hint

        use = usage_hint(row) or (
            f"embeddings: POST {row.url}/embeddings" if row.engine == "embed" else f"chat: lz chat {name}"
        )
        note(f"  {use}    logs: lz deploy logs {name}    stop: lz deploy stop {name}")
    else:
        note(f"started {name} ({row.status}); `lz deploy ls` shows when it is ready")
    print(row.url or name)


def _print_plan(plan: dict, json_: bool) -> None:
    if want_json(json_):
        print_json(plan)
        return
    out = console()
    out.print(f"model     {plan['model']} ({plan['model_type']}, {plan['format']})", markup=False)
    out.print(f"path      {plan['model_path'] or '(downloaded at deploy time)'}", markup=False)
    installed = "" if plan["installed"] else "  [not installed here]"
    out.print(f"engine    {plan['engine']}{installed} — {plan['reason']}", markup=False)
    out.print(f"protocol  {plan['protocol']} (health: GET {plan['health_path']})", markup=False)
    out.print(f"argv      {shlex.join(plan['argv'])}", markup=False)
    if plan["launcher_wrapping"]:
        out.print(plan["launcher_wrapping"], markup=False)
    else:
        out.print(f"launcher  {plan['launcher']}", markup=False)
    for line in plan["notes"]:
        out.print(f"note      {line}", markup=False)


def _status_text(row: Deployment) -> str:
    if row.exit_code is not None and row.status.finished:
        return f"{row.status} (exit {row.exit_code})"
    return row.status.value


def _age(created_at: float | None) -> str:
    if not created_at:
        return "-"
    seconds = max(0, time.time() - created_at)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"
