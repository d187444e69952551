"""`lz launch [--launcher L] [resources] -- CMD …`: any command on any launcher, as a tracked job."""

from __future__ import annotations

import sys

import typer

app = typer.Typer(add_completion=False)


@app.command()
def launch(
    command: list[str] = typer.Argument(None, metavar="-- CMD...", help="The command and its arguments."),
    launcher: str = typer.Option("local", "--launcher", "-l", help="Where it runs: local, slurm, …"),
    name: str | None = typer.Option(None, "--name", "-n", help="Job name (default: from the command)."),
    gpus: int = typer.Option(0, "--gpus", min=0, help="GPUs for the job in all, split evenly over --nodes."),
    nodes: int = typer.Option(1, "--nodes", min=1, help="Nodes (launchers that can span several)."),
    cpus: int | None = typer.Option(None, "--cpus", min=1, help="CPUs for the job."),
    memory: str | None = typer.Option(None, "--memory", help="Memory, e.g. 16G."),
    time_limit: str | None = typer.Option(None, "--time", help="Time limit, e.g. 04:00:00."),
    partition: str | None = typer.Option(None, "--partition", help="Partition or queue."),
    env: list[str] = typer.Option([], "--env", help="Pass this variable of your shell to the job (by name)."),
    detach: bool = typer.Option(False, "--detach", "-d", help="Return once submitted; `lz jobs` follows it."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would be submitted; submit nothing."),
    json_: bool = typer.Option(False, "--json", help="Print the job as JSON (implies no log streaming)."),
) -> None:
    """Run CMD through a launcher as a tracked job: its output streams here until it ends, and lz
    exits with its exit code. Ctrl-C stops following, not the job (`lz jobs cancel NAME` does).

    \b
    Examples:
      lz launch -- python -c "print(42)"
      lz launch --launcher slurm --gpus 1 --time 01:00:00 -- python train.py --epochs 3
      lz launch --launcher slurm --env HF_TOKEN --detach -- bash prepare.sh
      lz launch --launcher slurm --dry-run -- python train.py     the job script, nothing submitted
    """
    from lazycli import jobs
    from lazycli.console import note, print_json, want_json
    from lazycli.launchers import Resources, Status, gpus_per_node

    request = jobs.LaunchRequest(
        argv=tuple(command or ()),
        launcher=launcher,
        name=name,
        resources=Resources(nodes=nodes, gpus=gpus_per_node(gpus, nodes), cpus=cpus, memory=memory,
                            time_limit=time_limit, partition=partition),
        env_names=tuple(env),
    )  # fmt: skip
    if dry_run:
        text = jobs.describe(request)
        if want_json(json_):
            print_json({"launcher": launcher, "argv": list(request.argv), "submit": text})
        else:
            print(text)
        return
    row = jobs.submit(request)
    if want_json(json_):
        print_json(row.as_dict())
        return
    if detach:
        note(f"job {row.name} submitted to {row.launcher} ({row.job.job_id})")
        print(f"logs: lz jobs logs {row.name} -f    status: lz jobs status {row.name}")
        return
    note(f"job {row.name} on {row.launcher} ({row.job.job_id}); Ctrl-C stops following, not the job")
    try:
        row = jobs.follow(row, _write)
    except KeyboardInterrupt:
        note(f"stopped following; job {row.name} goes on (`lz jobs cancel {row.name}` stops it)")
        raise typer.Exit(130) from None
    ok = row.status is Status.COMPLETED
    if not ok:
        note(f"job {row.name} {row.status.value}" + (f": {row.reason}" if row.reason else ""))
    raise typer.Exit(row.exit_code if row.exit_code is not None else (0 if ok else 1))


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
