"""`lz finetune MODEL --data FILE` and `lz finetune ls|status|logs|cancel|resume|doctor`.

`lz finetune MODEL …` is shorthand for `lz finetune start MODEL …`. Runs go through a launcher and
outlive lz; the result is registered as a model under `--name` (`lz chat NAME`, `lz deploy NAME`).
"""

from __future__ import annotations

import time
from pathlib import Path

import typer

from lazycli.cli._groups import DefaultCommandGroup
from lazycli.console import console, err_console, is_tty, note, options, print_json, want_json


class FinetuneGroup(DefaultCommandGroup):
    default_command = "start"
    order = ("start", "ls", "status", "attach", "logs", "cancel", "resume", "doctor")


app = typer.Typer(
    cls=FinetuneGroup,
    add_completion=False,
    no_args_is_help=True,
    help="""Fine-tune a model on a data file; the result is a model lz can chat with and deploy.

\b
Examples:
  lz finetune smollm2-135m-instruct --data d.jsonl --method peft --steps 20 --name smol-ft
  lz chat smol-ft "question"                       the fine-tuned model, served by llama.cpp
  lz finetune qwen2-1.5b --data d.json --method llamafactory --dry-run
  lz finetune doctor d.jsonl                       check a data file, line by line
  lz finetune ls                                   lz finetune logs smol-ft -f
  lz finetune resume smol-ft                       continue from the last checkpoint
  lz finetune openai:gpt-4o-mini --data d.jsonl --name support-bot   online, at the provider
  lz finetune qwen:qwen-turbo --data d.jsonl --dry-run              the exact HTTP requests
""",
)


def _show_problem(line: str) -> None:
    err_console().print(line, markup=False)


@app.command("start")
def start(
    model: str = typer.Argument(
        ..., help="Base model: catalogue name, registered name, local path, or PROVIDER:MODEL (online)."
    ),
    data: Path = typer.Option(
        ..., "--data", "-d", help="Training data: JSON or JSONL (alpaca, messages, …)."
    ),
    method: str = typer.Option(
        "auto", "--method", "-m", help="peft, llamafactory, flagembedding, collie, auto."
    ),
    name: str | None = typer.Option(None, "--name", "-n", help="Run name = name of the resulting model."),
    steps: int | None = typer.Option(None, "--steps", min=1, help="Training steps (overrides --epochs)."),
    epochs: float | None = typer.Option(None, "--epochs", min=0.0, help="Epochs (default: the method's)."),
    lora_rank: int | None = typer.Option(None, "--lora-rank", min=1, help="LoRA rank."),
    lr: float | None = typer.Option(
        None, "--lr", help="Learning rate (online: the vendor's multiplier where it takes one)."
    ),
    batch_size: int | None = typer.Option(None, "--batch-size", min=1, help="Batch size (online)."),
    set_: list[str] = typer.Option(
        [], "--set", help="Method parameter key=value (typed, checked); repeatable."
    ),
    launcher: str | None = typer.Option(None, "--launcher", "-l", help="Launcher (default: local)."),
    gpus: int = typer.Option(0, "--gpus", min=0, help="GPUs for the trainer."),
    force: bool = typer.Option(False, "--force", help="Train on the good records even if some are bad."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Start over a run of the same name."),
    no_wait: bool = typer.Option(
        False, "--no-wait", "--detach", help="Return once started; `lz finetune status|attach` follow."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the method, config files and argv; run nothing."
    ),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Fine-tune MODEL on --data: check the data, write the config, train, merge, register the model.

    \b
    Examples:
      lz finetune smollm2-135m-instruct --data d.jsonl --method peft --steps 20 --name smol-ft
      lz finetune smollm2-135m-instruct --data d.jsonl --set lora_alpha=32 --set target_modules=q_proj,v_proj
      lz finetune M --data d.jsonl --method llamafactory --dry-run
    """
    from lazycli import engines
    from lazycli.finetune import online, runs

    if online.is_online(model):
        if method not in ("auto", "online"):
            from lazycli.errors import LzError

            raise LzError(f"{model} is fine-tuned online by its provider, not with --method {method}",
                          hint="leave --method out")  # fmt: skip
        _start_online(
            model, data, name=name, sets=engines.parse_set(set_), force=force, overwrite=overwrite,
            wait=not no_wait, dry_run=dry_run, json_=json_,
            overrides={"epochs": epochs, "lr": lr, "batch_size": batch_size, "lora_rank": lora_rank,
                       "steps": steps},
        )  # fmt: skip
        return
    if batch_size is not None:
        from lazycli.errors import LzError

        raise LzError(
            "--batch-size is for online fine-tunes", hint="locally: --set per_device_train_batch_size=N"
        )
    overrides = {"max_steps": steps, "num_train_epochs": epochs, "lora_rank": lora_rank, "learning_rate": lr}
    plan = runs.plan(
        model, data, method=method, name=name, overrides=overrides, sets=engines.parse_set(set_),
        launcher=launcher, gpus=gpus, force=force, show=_show_problem,
    )  # fmt: skip
    if dry_run:
        _print_plan(plan.describe(), json_)
        return
    quiet = want_json(json_)
    with _Progress(plan.job.name, quiet=quiet) as bar:
        record = runs.start(
            plan,
            overwrite=overwrite,
            wait=not no_wait,
            on_progress=bar.update,
            on_note=None if quiet else note,
        )
    _report(record, json_)


def _start_online(model, data, *, name, sets, force, overwrite, wait, dry_run, json_, overrides) -> None:
    """`lz finetune PROVIDER:MODEL`: the same verb, a job at the vendor (lazycli.finetune.online)."""
    from lazycli.finetune import online

    plan = online.plan(
        model, data, name=name, overrides=overrides, sets=sets, force=force, show=_show_problem
    )
    if dry_run:
        if want_json(json_):
            print_json(plan.describe())
        else:
            console().print(plan.render(), markup=False, highlight=False)
        return
    quiet = want_json(json_)
    with _Progress(plan.name, quiet=quiet) as bar:
        record = online.start(
            plan, overwrite=overwrite, wait=wait, on_progress=bar.update, on_note=None if quiet else note
        )
    _report(record, json_)


def _print_plan(described: dict, json_: bool) -> None:
    if want_json(json_):
        print_json(described)
        return
    import shlex

    out = console()
    for key in ("name", "method", "reason", "model", "base_path", "run_dir", "environment", "launcher"):
        out.print(f"{key:>12}: {described[key]}", markup=False)
    data = described["data"]
    out.print(
        f"{'data':>12}: {data['path']} ({data['format']}, {data['good']} of {data['records']} records)",
        markup=False,
    )
    out.print(
        f"{'params':>12}: " + ", ".join(f"{k}={v}" for k, v in described["params"].items()), markup=False
    )
    out.print(f"{'argv':>12}: {shlex.join(described['argv'])}", markup=False)
    for rel, text in described["files"].items():
        out.print(f"--- {rel} ---", markup=False)
        out.print(text.rstrip("\n"), markup=False)
    if described.get("launcher_wrapping"):
        out.print("--- launcher ---", markup=False)
        out.print(described["launcher_wrapping"], markup=False)
    for text in described["notes"]:
        out.print(f"note: {text}", markup=False)


class _Progress:
    """A progress bar on a terminal (step/total, loss, eta); plain notes when piped; nothing with --json."""

    def __init__(self, name: str, *, quiet: bool) -> None:
        self.name = name
        self.quiet = quiet or options.quiet
        self.bar = None

    def __enter__(self):
        if not self.quiet and is_tty(err_console().file):
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"),
                console=err_console(),
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task(f"fine-tuning {self.name}", total=None, info="")
        return self

    def update(self, row, record) -> None:
        if self.quiet:
            return
        loss = f"loss {row.loss:.4f}" if isinstance(row.loss, float) else ""
        eta = f"eta {row.eta:.0f}s" if row.eta is not None else ""
        if self.bar is not None:
            self.bar.update(self.task, completed=row.step, total=row.total, info=f"{loss} {eta}".strip())
        else:
            note(f"step {row.step}/{row.total or '?'} {loss} {eta}".rstrip())

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()


def _report(record: dict, json_: bool) -> None:
    if want_json(json_):
        from lazycli.finetune import runs

        print_json(runs.as_json(record))
        return
    result = record.get("result")
    if result:
        console().print(
            f"fine-tune {record['name']} {record['status']}: model {result['model']} ({result['format']}) at "
            f'{result["path"]}\n  try: lz chat {result["model"]} "…"',
            markup=False,
        )
    elif record.get("online"):
        ids = record["online"]
        console().print(
            f"fine-tune {record['name']} {record['status']} at {record['provider']}: "
            f"job {ids.get('job_id')}, file {ids.get('file_id')}; "
            f"follow it with `lz finetune attach {record['name']}`",
            markup=False,
        )
    else:
        console().print(
            f"fine-tune {record['name']} {record['status']} ({record['run_dir']}); "
            f"follow it with `lz finetune status {record['name']}`",
            markup=False,
        )


@app.command("ls")
def ls(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List fine-tune runs with their status, progress and resulting model.

    \b
    Examples:
      lz finetune ls
      lz finetune ls --json
    """
    from lazycli.finetune import progress, runs

    records = runs.list_runs()
    rows = []
    for record in records:
        last = progress.latest(Path(record["run_dir"]))
        rows.append(
            {
                "name": record["name"],
                "method": record["method"],
                "model": record["model"],
                "status": record["status"],
                "step": last.step if last else 0,
                "total": last.total if last else None,
                "loss": last.loss if last else None,
                "result": (record.get("result") or {}).get("model"),
            }
        )
    if want_json(json_):
        print_json({"finetunes": rows})
        return
    if not rows:
        note("no fine-tunes; start one with `lz finetune MODEL --data FILE`")
        return
    out = console()
    out.print(
        "\t".join(("name", "method", "model", "status", "step", "loss", "model registered")), markup=False
    )
    for r in rows:
        loss = f"{r['loss']:.4f}" if isinstance(r["loss"], float) else "-"
        step = f"{r['step']}/{r['total'] or '?'}"
        out.print(
            "\t".join((r["name"], r["method"], r["model"], r["status"], step, loss, r["result"] or "-")),
            markup=False,
        )


@app.command("status")
def status(
    name: str = typer.Argument(..., help="Run name."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one run: status, last progress row (step, total, loss, lr, eta), result.

    \b
    Examples:
      lz finetune status smol-ft
      lz finetune status smol-ft --json | jq .progress
    """
    from lazycli.finetune import runs

    record = runs.status_of(name)
    if want_json(json_):
        print_json(runs.as_json(record))
        return
    out = console()
    row = record.get("progress") or {}
    fields = [
        ("name", record["name"]),
        ("status", record["status"]),
        ("method", record["method"]),
        ("model", record["model"]),
        ("step", f"{row.get('step', 0)}/{row.get('total') or '?'}"),
        ("loss", row.get("loss") if row.get("loss") is not None else "-"),
        ("lr", row.get("lr") if row.get("lr") is not None else "-"),
        ("eta", f"{row['eta']:.0f} s" if row.get("eta") is not None else "-"),
        ("launcher", record.get("launcher", "-")),
        ("run dir", record["run_dir"]),
        ("result", (record.get("result") or {}).get("path", "-")),
    ]
    ids = record.get("online")
    if ids:
        fields[2] = ("method", f"online ({record['provider']})")
        fields[-3] = ("provider", record["provider"])
        fields += [
            ("job", ids.get("job_id") or "-"),
            ("vendor", ids.get("vendor_status") or "-"),
            ("file", ids.get("file_id") or "-"),
            ("tuned", ids.get("fine_tuned_model") or "-"),
            ("served", (record.get("result") or {}).get("path", "-")),
        ]
        fields = [f for f in fields if f[0] != "result"]
        if record.get("poll_error"):
            fields.append(("warning", record["poll_error"]))
    if record.get("job_name"):
        fields.append(("job", f"{record['job_name']} (lz jobs status {record['job_name']})"))
    if record.get("reason_failed"):
        fields.append(("reason", record["reason_failed"]))
    for key, value in fields:
        out.print(f"{key:>9}: {value}", markup=False)


@app.command("attach")
def attach(
    name: str = typer.Argument(..., help="Run name."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Follow a run started elsewhere (`--detach`, another shell) until it ends; registers its model.

    \b
    Examples:
      lz finetune attach support-bot
    """
    from lazycli.finetune import runs

    record = runs.require_run(name)
    quiet = want_json(json_)
    with _Progress(name, quiet=quiet) as bar:
        record = runs.follow(runs.reconcile(record), on_progress=bar.update)
    _report(record, json_)


@app.command("logs")
def logs(
    name: str = typer.Argument(..., help="Run name."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing until the run ends."),
    lines: int | None = typer.Option(None, "--lines", "-n", help="Only the last N lines."),
) -> None:
    """Print a run's log (the trainer's stdout and stderr).

    \b
    Examples:
      lz finetune logs smol-ft -n 50
      lz finetune logs smol-ft -f
    """
    import sys

    from lazycli.finetune import runs
    from lazycli.launchers import tail_text

    record = runs.require_run(name)
    path = record.get("log_path")
    if not follow:
        text = tail_text(path, lines)
        sys.stdout.write(text if not text or text.endswith("\n") else text + "\n")
        return
    offset = 0
    while True:
        try:
            with open(path, "rb") as fh:
                fh.seek(offset)
                chunk = fh.read()
        except (FileNotFoundError, TypeError):
            chunk = b""
        if chunk:
            sys.stdout.write(chunk.decode("utf-8", errors="replace"))
            sys.stdout.flush()
            offset += len(chunk)
        record = runs.reconcile(runs.read_run(name) or record)
        if runs.is_finished(record):
            return
        time.sleep(0.5)


@app.command("cancel")
def cancel(
    name: str = typer.Argument(..., help="Run name."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Stop a running fine-tune (its checkpoints stay: `lz finetune resume NAME` continues).

    \b
    Examples:
      lz finetune cancel smol-ft
    """
    from lazycli.finetune import runs

    record = runs.cancel(name)
    if want_json(json_):
        print_json(record)
        return
    console().print(f"fine-tune {name}: {record['status']}", markup=False)


@app.command("resume")
def resume(
    name: str = typer.Argument(..., help="Run name."),
    no_wait: bool = typer.Option(False, "--no-wait", help="Return once started."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Start a failed or cancelled run again; it continues from its newest checkpoint.

    \b
    Examples:
      lz finetune resume smol-ft
    """
    from lazycli.finetune import runs

    quiet = want_json(json_)
    with _Progress(name, quiet=quiet) as bar:
        record = runs.resume(name, wait=not no_wait, on_progress=bar.update, on_note=None if quiet else note)
    _report(record, json_)


@app.command("doctor")
def doctor(
    data: Path = typer.Argument(..., help="JSON or JSONL data file."),
    fmt: str | None = typer.Option(None, "--format", help="Expect this format instead of detecting it."),
    cutoff_len: int | None = typer.Option(
        None, "--cutoff-len", help="Flag records longer than this (tokens)."
    ),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Check a training data file: detect its format and report each bad record by line (exit 2).

    Formats: alpaca {instruction, input, output}; messages (OpenAI); sharegpt {conversations};
    prompt/completion; triplet {query, pos, neg}.

    \b
    Examples:
      lz finetune doctor d.jsonl
      lz finetune doctor d.json --cutoff-len 512 --json
    """
    from lazycli.finetune import data as doctor_data

    report = doctor_data.check(data, fmt=fmt, cutoff_len=cutoff_len)
    if want_json(json_):
        print_json(report.to_dict())
        if not report.ok:
            raise typer.Exit(2)
        return
    console().print(f"{report.path}: {report.format}, {len(report.records)} records", markup=False)
    if not report.ok:
        doctor_data.require_ok(report, show=_show_problem)
    console().print("no problems found", markup=False)
