"""`lz engines install|ls|rm NAME`: managed virtual environments for engines and finetuners."""

from __future__ import annotations

import typer

from lazycli.console import console, note, print_json, want_json

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="""Managed environments: one venv per engine or finetuner, with pins that work (torch 2.13 CPU).

\b
Examples:
  lz engines ls                       which environments exist, their versions and sizes
  lz engines install peft             PEFT + transformers for `lz finetune --method peft`
  lz engines install llamafactory     LLaMA-Factory for `lz finetune --method llamafactory`
  lz engines rm peft
""",
)


@app.command("ls")
def ls(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the known environments: status (ready, partial, absent, refused), versions, size.

    \b
    Examples:
      lz engines ls
      lz engines ls --json
    """
    from lazycli import envs
    from lazycli.catalog.sizes import format_bytes

    rows = envs.list_envs()
    if want_json(json_):
        print_json({"environments": [r.to_dict() for r in rows]})
        return
    out = console()
    out.print("\t".join(("name", "status", "size", "versions / reason")), markup=False)
    for row in rows:
        detail = ", ".join(f"{k} {v}" for k, v in row.versions.items()) or row.reason or row.description
        size = format_bytes(row.size_bytes) if row.size_bytes else "-"
        out.print("\t".join((row.name, row.status, size, detail)), markup=False)


@app.command("install")
def install(
    name: str = typer.Argument(..., help="Environment name (see `lz engines ls`)."),
    force: bool = typer.Option(False, "--force", help="Rebuild it even when it is ready."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Create the environment NAME: a venv with torch 2.13 (CPU) and the framework's pinned packages.

    An interrupted install is never marked ready; running the command again starts it clean.

    \b
    Examples:
      lz engines install peft
      lz engines install vllm --force
    """
    from lazycli import envs

    quiet = want_json(json_)

    def step(i: int, n: int, title: str) -> None:
        if not quiet:
            note(f"[{i}/{n}] {title}")

    if envs.is_ready(name) and not force:
        if not quiet:
            note(f"{name} is already installed ({envs.env_dir(name)}); --force rebuilds it")
        row = envs.info(name)
    else:
        if not quiet:
            note(f"installing {name} into {envs.env_dir(name)} (log: {envs.log_path(name)})")
        row = envs.install(name, force=force, on_step=step)
    if quiet:
        print_json(row.to_dict())
        return
    from lazycli.catalog.sizes import format_bytes

    versions = ", ".join(f"{k} {v}" for k, v in row.versions.items())
    console().print(f"{name} ready ({format_bytes(row.size_bytes or 0)}): {versions}", markup=False)


@app.command("rm")
def rm(
    name: str = typer.Argument(..., help="Environment name."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Delete the environment NAME (fine-tune runs and models made with it stay).

    \b
    Examples:
      lz engines rm peft
    """
    from lazycli import envs

    removed = envs.remove(name)
    if want_json(json_):
        print_json({"name": name, "removed": removed})
        return
    console().print(f"removed {name}" if removed else f"{name} was not installed", markup=False)
