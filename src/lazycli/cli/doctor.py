"""`lz doctor`: check the embedded default end to end and say how to fix what is wrong."""

from __future__ import annotations

import typer

from lazycli.console import console, err_console, is_tty, options, print_json, want_json

app = typer.Typer(add_completion=False)

# status → (the word shown, its colour on a terminal)
MARKS = {"ok": ("ok", "green"), "warn": ("warn", "yellow"), "fail": ("FAIL", "bold red")}
MARKS |= {"missing": ("--", "dim"), "skip": ("skip", "dim")}


@app.command()
def doctor(
    model: str = typer.Option(
        "smollm2-135m-instruct", "--model", help="GGUF model to generate the test token with (name or path)."
    ),
    timeout: float = typer.Option(
        180.0, "--timeout", min=1, help="Seconds each engine/embedder check may take."
    ),
    only: list[str] = typer.Option(
        [], "--only", help="Run only these checks (and those they need), e.g. --only state,config."
    ),
    json_: bool = typer.Option(False, "--json", help="Print JSON only (no progress)."),
) -> None:
    """Check that lz works here: config, state database, disk, plugins, the bundled model, llama.cpp
    (its CPU variant and one real token), the embedder; then the optional parts (Slurm, Ray, other
    engines, Chromium). Each problem comes with a hint. Exit 0 when every required check passes, 2
    otherwise; a missing optional part never fails it.

    Examples:
      lz doctor
      lz doctor --json | jq '.checks[] | select(.status == "fail")'
      lz doctor --model ./my-model.Q4_K_M.gguf
      lz doctor --only state,disk          # quick: no model is loaded
    """
    from lazycli import doctor as checks

    as_json = want_json(json_)
    report = checks.run(
        checks.Options(model=model, timeout=timeout, only=_names(only)),
        on_start=None if as_json else _Progress.start,
        on_done=None if as_json else _print_check,
    )
    _Progress.stop()
    if as_json:
        print_json(report.as_dict())
    else:
        _print_summary(report)
    if not report.ok:
        raise typer.Exit(2)


def _names(values: list[str]) -> tuple[str, ...]:
    names = tuple(name.strip() for value in values for name in value.split(",") if name.strip())
    if values and not names:  # `--only ""` (an unset variable) must not mean every check, models and all
        from lazycli import doctor as checks
        from lazycli.errors import LzError

        raise LzError("--only names no check", hint=f"checks: {', '.join(s.name for s in checks.steps())}")
    return names


class _Progress:
    """A spinner on stderr while a check runs, only on a terminal and without -q."""

    status = None

    @classmethod
    def start(cls, step) -> None:
        cls.stop()
        if options.quiet or not is_tty(err_console().file):
            return
        cls.status = err_console().status(f"{step.name}: {step.doing}…")
        cls.status.start()

    @classmethod
    def stop(cls) -> None:
        if cls.status is not None:
            cls.status.stop()
            cls.status = None


_optional_header_shown = False


def _print_check(check) -> None:
    global _optional_header_shown
    _Progress.stop()
    from rich.text import Text

    out = console()
    if not check.required and not _optional_header_shown:
        out.print("optional parts:", style="bold")
        _optional_header_shown = True
    word, style = MARKS.get(check.status, (check.status, ""))
    line = Text("  ")
    line.append(f"{word:<5}", style=style)
    line.append(f" {check.name:<9} {check.detail}")
    out.print(line)
    if check.hint and check.status != "ok":
        out.print(Text(f"{'':18}hint: {check.hint}", style="dim"))


def _print_summary(report) -> None:
    failed = [check.name for check in report.checks if check.failed]
    seconds = sum(check.seconds for check in report.checks)
    if failed:
        console().print(
            f"[red]{len(failed)} required check(s) failed:[/red] {', '.join(failed)} ({seconds:.1f} s)"
        )
    else:
        console().print(f"[green]all required checks passed[/green] ({seconds:.1f} s)")
