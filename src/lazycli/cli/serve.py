"""`lz serve RECIPE|MODEL|DEPLOYMENT`: OpenAI-compatible HTTP endpoints and a web chat page."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from lazycli.recipes.runner import Run

app = typer.Typer(add_completion=False)


@app.command()
def serve(
    target: str = typer.Argument(
        ..., help="A recipe .toml, a deployment name, a model, provider:model or URL."
    ),
    host: str = typer.Option(
        None, "--host", help="Address to listen on (default: the recipe's, else 127.0.0.1)."
    ),
    port: int = typer.Option(None, "--port", "-p", help="Port (default: the recipe's, else a free one)."),
    api_key_env: str = typer.Option(
        None, "--api-key-env", help="Env var holding the API key clients must send (Bearer); none: no auth."
    ),
    max_concurrency: int = typer.Option(
        None, "--max-concurrency", help="Requests at once; more get 429 (default 128)."
    ),
    timeout: float = typer.Option(None, "--timeout", help="Seconds per request before 504 (default 300)."),
    max_body: int = typer.Option(
        None, "--max-body", help="Largest request body in bytes (413; default 1000000)."
    ),
    set_: list[str] = typer.Option([], "--set", help="Override a recipe value: --set models.llm.model=NAME."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the recipe's plan and the address; start nothing."
    ),
    launcher: str | None = typer.Option(
        None, "--launcher", "-l", help="Run the server through this launcher (slurm, …) as a deployment."
    ),
    detach: bool = typer.Option(
        False, "--detach", "-d", help="Run it in the background as a deployment (`lz deploy ls/logs/stop`)."
    ),
    name: str | None = typer.Option(None, "--name", "-n", help="Deployment name with --launcher/--detach."),
    json_: bool = typer.Option(False, "--json", help="With --launcher/--detach: print the deployment row."),
) -> None:
    """Serve a recipe's app or a model: /v1/chat/completions (SSE streaming too), /v1/models,
    /v1/embeddings (when the target embeds), /v1/apps/NAME/invoke, /health, and a chat page at /.

    \b
    Examples:
      lz serve recipes/rag.toml                       # the RAG app as model "rag", page at /
      lz serve smollm2-135m-instruct --port 8000      # a model (deployed if not running)
      LZ_KEY=secret lz serve my-deployment --api-key-env LZ_KEY
      lz serve recipes/rag.toml --launcher slurm      # on a cluster node, as a deployment
      lz serve recipes/rag.toml --detach              # in the background here; lz deploy stop NAME
      curl -s localhost:8000/v1/chat/completions -H 'content-type: application/json' \\
           -d '{"model": "rag", "messages": [{"role": "user", "content": "hi"}]}'
    """
    from pydantic import PositiveFloat, PositiveInt

    from lazycli.settings import check_host, check_port, check_value

    # Flags are checked before anything starts (a recipe's deployments, a model's engine).
    check_port(port)
    check_host(host)
    for flag, value in (("--max-concurrency", max_concurrency), ("--max-body", max_body)):
        if value is not None:
            check_value(PositiveInt, value, flag)
    if timeout is not None:
        check_value(PositiveFloat, timeout, "--timeout")
    from lazycli.console import print_json, want_json
    from lazycli.errors import LzError
    from lazycli.fsutil import free_port, port_is_free
    from lazycli.serve.app import Limits
    from lazycli.serve.server import prepare
    from lazycli.serve.server import serve as run_server

    api_key = None
    if api_key_env:
        # Taken out of the environment: engines that serve starts (and outlive it) never see it.
        api_key = os.environ.pop(api_key_env, None)
        if not api_key:
            raise LzError(
                f"--api-key-env {api_key_env}: that environment variable is empty or not set",
                hint=f"export {api_key_env}=… (the key itself never goes on the command line)",
            )
    flags = _serve_flags(set_, api_key_env, max_concurrency, timeout, max_body)
    if dry_run:
        _dry_run(
            target,
            tuple(set_),
            host,
            port,
            (launcher or "local") if (launcher or detach) else None,
            flags,
            json_,
        )
        return
    if launcher or detach:
        env = {api_key_env: api_key} if api_key_env and api_key else {}
        _as_deployment(target, launcher or "local", name, port, flags, env, json_)
        return
    served = prepare(target, tuple(set_))
    defaults = served.defaults
    host = check_host(host or defaults.get("host") or "127.0.0.1", "[serve] host")
    port = check_port(port if port is not None else defaults.get("port"), "[serve] port")
    if not api_key and defaults.get("api_key_env"):
        api_key = os.environ.pop(defaults["api_key_env"], None)
        if not api_key:
            raise LzError(
                f"[serve] api_key_env = {defaults['api_key_env']!r} is not set in the environment",
                hint=f"export {defaults['api_key_env']}=…",
            )
    if not port:
        port = free_port(host)
    elif not port_is_free(port, host):
        raise LzError(f"port {port} on {host} is in use", hint="pick another with --port, or leave it out")
    limits = Limits(
        api_key=api_key,
        max_concurrency=max_concurrency or defaults.get("max_concurrency") or 128,
        timeout=timeout or defaults.get("timeout") or 300.0,
        max_body=max_body or defaults.get("max_body") or 1_000_000,
    )
    if want_json(False):
        print_json({"model": served.backend.name, "url": f"http://{host}:{port}/v1"})
    try:
        run_server(served, host=host, port=port, limits=limits)
    finally:
        _end_started(served.run)


def _end_started(run: Run | None) -> None:
    """What the recipe's run started, once the server has stopped: kept running for the user, except
    where the server is itself a deployment's job (`lz serve --launcher/--detach`). There it ends with
    the job, as on Slurm (the job's cgroup) or in a pod, and also on Ray or the local launcher, whose
    jobs' detached children would otherwise outlive them."""
    from lazycli.console import note
    from lazycli.deployments import APP_JOB_ENV

    if run is None or not run.started:
        return
    if os.environ.get(APP_JOB_ENV):
        run.stop_started()
    else:
        note("deployments started for this recipe keep running: `lz deploy ls` / `lz deploy stop NAME`")


def _dry_run(target: str, overrides: tuple[str, ...], host: str | None, port: int | None,
             launcher: str | None, flags: tuple[str, ...], json_: bool = False) -> None:  # fmt: skip
    """The recipe's plan and where the app server would run; with --launcher/--detach, the exact job
    the launcher would be handed (its script or command line), since the plan runs inside that job."""
    from lazycli.console import print_json, want_json
    from lazycli.serve.server import is_recipe

    actions = []
    out = {"target": target, "host": host or "127.0.0.1", "port": port, "plan": []}
    if is_recipe(target):
        from lazycli import recipes

        loaded = recipes.load(target, overrides)
        out["model"] = loaded.app_name
        actions = recipes.plan(loaded)
        out["plan"] = [a.as_dict() for a in actions]
    if launcher is not None:
        out["launcher"] = launcher
        out["job"] = _app_job_text(target, out.get("model", target), launcher, port, flags)
    if want_json(json_):
        print_json(out)
        return
    from lazycli.cli.run import print_plan

    print_plan(actions, out=sys.stdout)
    if launcher is None:
        print(f"would serve {out.get('model', target)!r} on {out['host']}:{out['port'] or '(a free port)'}")
        return
    print(f"would submit the app server {out.get('model', target)!r} through the {launcher} launcher "
          "(the plan above runs inside that job, before it serves):")  # fmt: skip
    print(out["job"])


def _app_job_text(target: str, served_name: str, launcher: str, port: int | None, flags) -> str:
    """What the launcher would be handed for the app-server job `_as_deployment` submits: the same
    plan (`deployments.app_plan`), described instead of started."""
    from pathlib import Path

    from lazycli import deployments
    from lazycli.serve.server import is_recipe

    if is_recipe(target):
        target = str(Path(target).resolve())
    app = deployments.AppRequest(target, served_name, launcher, None, port, flags)
    return deployments.app_plan(app).describe()["launcher_wrapping"]


def _serve_flags(set_, api_key_env, max_concurrency, timeout, max_body) -> tuple[str, ...]:
    """The flags the detached server gets again (the key travels by variable name, never as a value)."""
    flags: list[str] = []
    for override in set_:
        flags += ["--set", override]
    for flag, value in (("--api-key-env", api_key_env), ("--max-concurrency", max_concurrency),
                        ("--timeout", timeout), ("--max-body", max_body)):  # fmt: skip
        if value is not None:
            flags += [flag, str(value)]
    return tuple(flags)


def _as_deployment(target, launcher, name, port, flags, env, json_) -> None:
    """`lz serve TARGET --launcher L`: the app server where the launcher puts it, recorded as a
    deployment; the recipe is checked here first, so a bad one submits nothing."""
    from pathlib import Path

    from lazycli import deployments
    from lazycli.cli.deploy import _Progress, _report_started
    from lazycli.serve.server import is_recipe

    served_name = target
    if is_recipe(target):
        from lazycli import recipes

        overrides = tuple(flags[i + 1] for i, f in enumerate(flags) if f == "--set")
        served_name = recipes.load(target, overrides).app_name
        target = str(Path(target).resolve())  # the job may start in another directory
    app = deployments.AppRequest(target, served_name, launcher, name, port, flags, env)
    with _Progress(f"starting lz serve {served_name} on {launcher}", quiet=json_) as progress:
        row = deployments.deploy_app(app, progress=progress)
    _report_started(row, json_, waited=True)
