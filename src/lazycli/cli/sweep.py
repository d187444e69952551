"""`lz sweep RECIPE --grid KEY=V1,V2`: try configurations of a recipe, scored by `lz eval`, resumable;
`lz sweep ls | show | compare | best`."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from lazycli.cli._groups import DefaultCommandGroup
from lazycli.console import err_console, is_tty, options, print_json, want_json


class SweepGroup(DefaultCommandGroup):
    default_command = "run"
    order = ("run", "ls", "show", "compare", "best", "cancel")


app = typer.Typer(
    cls=SweepGroup,
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="""Try configurations of a recipe, score each with `lz eval`, rank them; resumable.

\b
Examples:
  lz sweep recipes/rag-sweep.toml                       the recipe's [sweep] table
  lz sweep recipes/rag-sweep.toml --grid app.steps.0.topk=1,2,5 --metric mrr,hit@1 -j 2
  lz sweep recipes/rag.toml --grid app.steps.3.options.temperature=0,0.7 --eval qa.jsonl --repeat 3
  lz sweep recipes/rag.toml --eval qa.jsonl --grid app.steps.1.topk=1,3,5 --random 2 --budget time=600
  lz sweep ls                       lz sweep show rag-sweep --md -o results.md
  lz sweep compare rag-sweep 1 2    lz sweep best rag-sweep --write best.toml
  lz sweep cancel rag-sweep         its workers on a launcher (`lz jobs ls --kind sweep-worker`)
""",
)


@app.command("run")
def run_(
    recipe: Path = typer.Argument(..., help="The recipe to sweep (.toml)."),
    grid: list[str] = typer.Option(
        [], "--grid", "-g", help="KEY=V1,V2: a dotted recipe key and its values (repeat for more keys)."
    ),
    random_n: int | None = typer.Option(
        None, "--random", min=1, help="Try N configurations drawn at random."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Seed of --random and of the trials."),
    jobs: int | None = typer.Option(None, "--jobs", "-j", min=1, help="Trials running at once."),
    eval_file: Path | None = typer.Option(None, "--eval", help="JSONL eval set (default: [sweep].eval)."),
    metric: list[str] = typer.Option([], "--metric", "-m", help="Metrics of `lz eval`; the first ranks."),
    judge: str | None = typer.Option(None, "--judge", help="Target that judges judged metrics (lz eval)."),
    repeat: int | None = typer.Option(None, "--repeat", min=1, help="Runs per configuration (mean ± std)."),
    budget: list[str] = typer.Option(
        [], "--budget", help="Stop starting trials past trials=N, time=SECONDS or tokens=N."
    ),
    name: str | None = typer.Option(None, "--name", help="Sweep name (default: the recipe's name)."),
    target: float | None = typer.Option(
        None, "--target", help="Stop early once a configuration scores this much."
    ),
    min_score: float | None = typer.Option(
        None, "--min-score", help="Exit 1 when the best score is below this (CI)."
    ),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Run failed trials again."),
    launcher: str | None = typer.Option(
        None, "--launcher", help="Run -j workers there (slurm: one array job; local: processes)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the configurations (with --launcher: the job) and run nothing."
    ),
    json_: bool = typer.Option(False, "--json", help="Print the results as JSON only."),
) -> None:
    """Run every configuration of RECIPE (its [sweep] table, and --grid) through `lz eval`.

    \b
    Results live in one SQLite store per sweep: run the same command again and finished trials
    are skipped, trials of a killed run are taken again, nothing is run twice.
    """
    from lazycli.sweep import plan as plans
    from lazycli.sweep import rank, scheduler, store

    machine = want_json(json_)
    if machine:
        options.json = True
    plan = plans.build(
        recipe,
        grid=grid,
        random_n=random_n,
        seed=seed,
        jobs=jobs,
        eval_file=eval_file,
        metric=metric,
        repeat=repeat,
        budget=budget,
        name=name,
        target=target,
        min_score=min_score,
        judge=judge,
    )
    progress = _progress_printer(machine)
    if progress:
        progress(
            f"sweep {plan.name}: {len(plan.configs)} configurations × {plan.repeat} "
            f"on {len(plan.rows)} rows, -j {plan.jobs} ({plan.folder})"
        )
    if launcher is not None:
        from lazycli.sweep import launch

        flags = launch.forwarded_flags(plan, grid, eval_file, random_n, seed, metric, budget)
        argv = launch.worker_argv(plan, flags)
        if dry_run:
            sys.stdout.write(launch.describe(plan, launcher, argv) + "\n")
            return
        summary = scheduler.on_launcher(plan, launcher, argv, retry_failed=retry_failed, progress=progress)
    elif dry_run:
        _print_plan(plan, machine)
        return
    else:
        summary = scheduler.execute(plan, retry_failed=retry_failed, progress=progress)
    names = [m.name for m in plan.metrics]
    failed = sum(1 for t in summary.trials if t.status == store.FAILED)
    done = sum(1 for t in summary.trials if t.status == store.DONE)
    if machine:
        print_json(
            {
                "name": plan.name,
                "folder": summary.folder,
                "metric": plan.metric,
                "metrics": names,
                "keys": plan.keys,
                "planned": summary.planned,
                "added": summary.added,
                "ran": summary.ran,
                "retried": summary.retried,
                "done": done,
                "failed": failed,
                "stopped": summary.stopped,
                "ranking": [r.as_dict() for r in summary.ranking],
                "trials": [t.as_dict() for t in summary.trials],
            }
        )
    else:
        title = (
            f"sweep {plan.name}: {done} done, {failed} failed, {summary.ran} run now; "
            f"ranked by {plan.metric}" + (f"; stopped by {summary.stopped}" if summary.stopped else "")
        )
        sys.stdout.write(rank.to_text(summary.ranking, plan.keys, names, title))
        sys.stdout.write(f"best: lz sweep best {plan.name} --write best.toml\n")
    _verdict(summary, plan)


def _print_plan(plan, machine: bool) -> None:
    """The configurations a run would try, checked, without running or storing anything."""
    from lazycli.sweep import rank

    configs = [{"config_hash": c.config_hash, "params": c.params} for c in plan.configs]
    if machine:
        print_json(
            {
                "name": plan.name,
                "store": str(plan.folder / "sweep.sqlite"),
                "data": str(plan.data),
                "metrics": [m.name for m in plan.metrics],
                "repeat": plan.repeat,
                "jobs": plan.jobs,
                "configs": configs,
            }
        )
        return
    names = rank.short_names(plan.keys)
    print(
        f"sweep {plan.name}: {len(configs)} of {plan.space_size} configurations × {plan.repeat}, "
        f"-j {plan.jobs}, scored by {', '.join(m.name for m in plan.metrics)} on {plan.data}"
    )
    for n, c in enumerate(configs, 1):
        print(f"  {n:3}  " + "  ".join(f"{names[k]}={v!r}" for k, v in c["params"].items()))
    print(f"store: {plan.folder / 'sweep.sqlite'}")


def _progress_printer(machine: bool):
    if machine or options.quiet or not is_tty(sys.stderr):
        return None

    def say(line: str) -> None:
        err_console().file.write(line + "\n")
        err_console().file.flush()

    return say


def _verdict(summary, plan) -> None:
    from lazycli.sweep import store

    best = summary.ranking[0] if summary.ranking else None
    score = best.mean(plan.metric) if best else None
    if summary.trials and all(t.status == store.FAILED for t in summary.trials):
        sys.stderr.write(f"lz sweep: every trial failed (first error: {summary.trials[0].error})\n")
        raise typer.Exit(1)
    if plan.min_score is not None and (score is None or score < plan.min_score):
        shown = "n/a" if score is None else f"{score:.4f}"
        sys.stderr.write(f"lz sweep: best {plan.metric} {shown} < --min-score {plan.min_score:g}\n")
        raise typer.Exit(1)


# --- reading stored sweeps ------------------------------------------------------------------------


def _store_path(name: str) -> Path:
    """Sweep `name`'s store, or one line with a did-you-mean when there is no such sweep."""
    from lazycli.errors import unknown
    from lazycli.sweep import plan as plans

    path = plans.sweeps_dir() / name / "sweep.sqlite"
    if not path.is_file():
        raise unknown("sweep", name, _names(), hint="`lz sweep ls` lists the sweeps")
    return path


def _open(name: str):
    from lazycli.sweep import store

    db = store.Store(_store_path(name))
    try:
        return db.get_meta(), db.trials()
    finally:
        db.close()


def _names() -> list[str]:
    from lazycli.sweep import plan as plans

    root = plans.sweeps_dir()
    return sorted(p.parent.name for p in root.glob("*/sweep.sqlite")) if root.is_dir() else []


def _ranked(name: str):
    from lazycli.sweep import rank

    meta, trials = _open(name)
    return meta, trials, rank.rank(trials, meta.get("metrics", []))


@app.command("ls")
def ls(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List sweeps: trials done and failed, the best configuration's score."""
    from lazycli.sweep import store

    rows = []
    for name in _names():
        meta, trials, ranking = _ranked(name)
        metric = (meta.get("metrics") or ["?"])[0]
        best = ranking[0] if ranking and ranking[0].done else None
        rows.append(
            {
                "name": name,
                "recipe": meta.get("recipe"),
                "metric": metric,
                "trials": len(trials),
                "done": sum(t.status == store.DONE for t in trials),
                "failed": sum(t.status == store.FAILED for t in trials),
                "running": sum(t.status == store.RUNNING for t in trials),
                "best": None if best is None else best.mean(metric),
            }
        )
    if want_json(json_):
        print_json({"sweeps": rows})
        return
    if not rows:
        print("no sweeps yet (lz sweep RECIPE --grid KEY=V1,V2)")
        return
    for r in rows:
        best = "-" if r["best"] is None else f"{r['best']:.4f}"
        print(
            f"{r['name']:24} {r['done']}/{r['trials']} done, {r['failed']} failed, {r['running']} running"
            f"  best {r['metric']} {best}  {r['recipe']}"
        )


@app.command("show")
def show(
    name: str = typer.Argument(..., help="Sweep name (lz sweep ls)."),
    json_: bool = typer.Option(False, "--json", help="Print JSON (ranking and every trial)."),
    csv_: bool = typer.Option(False, "--csv", help="Print the ranking as CSV."),
    md: bool = typer.Option(False, "--md", help="Print the ranking as Markdown."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write it to a file instead (.json, .csv, .md, .txt)."
    ),
) -> None:
    """The ranked table of a sweep (mean ± std over repeats), or an export of it."""
    import json

    from lazycli.errors import LzError
    from lazycli.fsutil import atomic_write_text
    from lazycli.sweep import rank

    if sum([json_, csv_, md]) > 1:
        raise LzError("choose one of --json, --csv, --md")
    fmt = "json" if json_ else "csv" if csv_ else "md" if md else "txt"
    if output is not None:
        fmt = output.suffix.lower().lstrip(".")
        if fmt not in ("json", "csv", "md", "txt"):
            raise LzError(
                f"--output {output}: unknown format {output.suffix!r}", hint="use .json, .csv, .md or .txt"
            )
    meta, trials, ranking = _ranked(name)
    keys, metrics = meta.get("keys", []), meta.get("metrics", [])
    keys = keys + [k for t in trials for k in t.params if k not in keys]
    keys = list(dict.fromkeys(keys))
    title = f"sweep {name}: {len(trials)} trials, ranked by {metrics[0] if metrics else '?'}"
    if fmt == "json":
        text = json.dumps(
            {**meta, "ranking": [r.as_dict() for r in ranking], "trials": [t.as_dict() for t in trials]},
            indent=2,
            ensure_ascii=False,
        )
        text += "\n"
    elif fmt == "csv":
        text = rank.to_csv(ranking, keys, metrics)
    elif fmt == "md":
        text = rank.to_markdown(ranking, keys, metrics, title)
    else:
        text = rank.to_text(ranking, keys, metrics, title)
    if output is not None:
        atomic_write_text(output, text)
        if not options.quiet:
            err_console().print(f"wrote {output}")
        return
    sys.stdout.write(text)


@app.command("compare")
def compare(
    name: str = typer.Argument(..., help="Sweep name."),
    first: int = typer.Argument(1, help="Rank of one configuration."),
    second: int = typer.Argument(2, help="Rank of the other."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Two configurations of a sweep side by side: the values that differ and each metric's delta."""
    from lazycli.errors import LzError

    meta, _, ranking = _ranked(name)
    for n in (first, second):
        if not 1 <= n <= len(ranking):
            raise LzError(
                f"sweep {name} has no rank {n}", hint=f"ranks 1…{len(ranking)} (lz sweep show {name})"
            )
    a, b = ranking[first - 1], ranking[second - 1]
    keys = list(dict.fromkeys([*a.params, *b.params]))
    differ = {k: [a.params.get(k), b.params.get(k)] for k in keys if a.params.get(k) != b.params.get(k)}
    deltas = {}
    for metric in meta.get("metrics", []):
        ma, mb = a.mean(metric), b.mean(metric)
        deltas[metric] = {"a": ma, "b": mb, "delta": None if ma is None or mb is None else round(ma - mb, 4)}
    if want_json(json_):
        print_json({"a": a.as_dict(), "b": b.as_dict(), "differ": differ, "metrics": deltas})
        return
    print(f"#{first} vs #{second} in sweep {name}")
    for key, (va, vb) in differ.items():
        print(f"  {key}: {va!r} → {vb!r}")
    for metric, d in deltas.items():
        shown = [("-" if d[k] is None else f"{d[k]:.4f}") for k in ("a", "b", "delta")]
        print(f"  {metric}: {shown[0]} vs {shown[1]} (Δ {shown[2]})")


@app.command("best")
def best(
    name: str = typer.Argument(..., help="Sweep name."),
    write: Path | None = typer.Option(None, "--write", "-w", help="Write the winning recipe here."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The best configuration of a sweep; --write saves it as a recipe `lz run` accepts."""
    from lazycli.errors import LzError

    meta, _, ranking = _ranked(name)
    winner = ranking[0] if ranking and ranking[0].done else None
    if winner is None:
        raise LzError(
            f"sweep {name} has no finished trial yet", hint=f"run it: lz sweep {meta.get('recipe')}"
        )
    if write is not None:
        _write_best(winner, write, name, meta)
    if want_json(json_):
        print_json({**winner.as_dict(), "written": str(write) if write else None})
        return
    metric = (meta.get("metrics") or ["?"])[0]
    print(f"best of sweep {name}: {metric} {winner.mean(metric):.4f}")
    for key, value in winner.params.items():
        print(f"  {key} = {value!r}")
    if write is not None:
        print(f"wrote {write}  (lz run {write})")


@app.command("cancel")
def cancel(
    name: str = typer.Argument(..., help="Sweep name."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Cancel a sweep's workers on a launcher (`--launcher`); a rerun takes their trials again."""
    from lazycli.sweep import launch, store

    path = _store_path(name)  # an unknown sweep is one line with a did-you-mean
    rows = launch.cancel(name)
    db = store.Store(path)
    try:  # the cancelled workers' trials go back to pending (those whose owner is known to be gone)
        released = db.reset(stale_for=store.owner_id(), retry_failed=False)
    finally:
        db.close()
    if want_json(json_):
        print_json({"sweep": name, "cancelled": [r.as_dict() for r in rows], "released": released})
        return
    if not rows:
        print(f"sweep {name}: no worker job is running")
    for row in rows:
        print(f"{row.name}: {row.status.value} on {row.launcher} (job {row.job.job_id})")
    if released:
        print(f"{released} trial(s) back to pending: the next `lz sweep` run takes them")


def _write_best(winner, path: Path, name: str, meta: dict) -> None:
    import tomllib

    from lazycli.errors import LzError
    from lazycli.sweep import trial

    source = Path(winner.recipe or "")
    if not source.is_file():
        raise LzError(
            f"the recipe of sweep {name}'s best trial is gone ({source})",
            hint=f"run the sweep again: lz sweep {meta.get('recipe')}",
        )
    raw = tomllib.loads(source.read_text(encoding="utf-8"))
    header = f"# The best configuration of `lz sweep` {name} ({meta.get('recipe')}):\n"
    header += "".join(f"#   {k} = {trial.toml_value(v)}\n" for k, v in winner.params.items())
    trial.write_recipe(raw, path, header)
