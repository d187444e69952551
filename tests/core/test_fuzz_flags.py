"""A fuzz pass over every verb's flags and arguments (issue 21): out-of-range, empty, non-UTF-8 and
wrong-type values never end in a traceback (exit code 1); they give a one-line error (exit 2) or work.

Each value goes into one option (or one positional argument) of one command, with the command's
other required arguments set to a name that exists nowhere, so nothing is started or downloaded.
The bulk runs in-process (hundreds of cases); non-UTF-8 argv runs as real processes, where Python
turns the bytes into surrogates exactly as a shell would hand them over.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import traceback

from tests.conftest import _reset_caches

NOWHERE = "nosuch-xyz"
BAD_VALUES = ("-1", "99999999999999999999", "", "abc", "nan", "1e400", "-")
NON_UTF8 = b"\xff\xfe\xc3("


def leaf_commands():
    """(argv prefix, command) for every verb and subcommand, walked from the real CLI."""
    import typer.main

    from lazycli.cli import VERBS, app

    root = typer.main.get_command(app)

    def walk(command, path):
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in sorted(subs.items()):
                yield from walk(sub, [*path, name])
        else:
            yield path, command

    for verb in sorted(VERBS):
        yield from walk(root.get_command(None, verb), [verb])


def cases() -> list[tuple[str, list[str]]]:
    out = []
    for path, command in leaf_commands():
        arguments = [p for p in command.params if p.param_type_name == "argument"]
        options = [
            p
            for p in command.params
            if p.param_type_name == "option" and not p.is_flag and not getattr(p, "count", False)
        ]
        filler = [NOWHERE for _ in arguments[:1]] + [NOWHERE for a in arguments[1:] if a.required]
        for option in options:
            flag = max(option.opts, key=len)
            for value in BAD_VALUES:
                out.append((" ".join(path), [*path, *filler, flag, value]))
        for i in range(len(arguments)):
            for value in BAD_VALUES:
                args = list(filler) + [NOWHERE] * max(0, i + 1 - len(filler))
                args[i] = value
                out.append((" ".join(path), [*path, *args]))
    return out


CASES = cases()


def run_in_process(argv: list[str], capsys) -> tuple[int, str]:
    from lazycli.cli import main

    _reset_caches()
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - exactly what the test looks for
        captured = capsys.readouterr()
        return 1, f"{traceback.format_exc()}\n{captured.err}"
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_the_fuzz_covers_every_verb():
    verbs = {name.split()[0] for name, _ in CASES}
    assert {"chat", "config", "deploy", "download", "index", "rag", "run", "serve"} <= verbs
    assert len(CASES) > 300


def test_no_flag_value_ends_in_a_traceback(lz_home, tmp_path, monkeypatch, capsys):
    from lazycli import deployments
    from lazycli.fsutil import free_port

    monkeypatch.chdir(tmp_path)  # `lz plugin new` and `recipe schema -o` write here
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # `lz chat nosuch-xyz` asks the default target: here a closed port, so nothing is deployed
    # (the bundled model would be) and a refused connection fails at once.
    monkeypatch.setenv("LAZYCLI_DEFAULT_TARGET", f"http://127.0.0.1:{free_port()}/v1")
    for kind in ("TTS", "STT", "OCR"):  # `lz speak nosuch-xyz -o F` likewise (docs/multimodal.md)
        monkeypatch.setenv(f"LAZYCLI_MEDIA_{kind}", f"http://127.0.0.1:{free_port()}/v1")
    monkeypatch.setenv("LAZYCLI_MAX_RETRIES", "0")
    failures = []
    for _name, argv in CASES:
        code, output = run_in_process(argv, capsys)
        if code == 1 or "Traceback" in output:
            failures.append(f"lz {' '.join(map(repr, argv))} → exit {code}\n{output[-600:]}")
    assert not failures, f"{len(failures)} of {len(CASES)} cases:\n" + "\n".join(failures[:10])
    _reset_caches()
    assert deployments.list_deployments() == []  # no value started an engine


def test_non_utf8_values_end_in_one_line_not_a_traceback(lz_home, tmp_path):
    """One non-UTF-8 value per command (its first option, else its first argument), as real argv bytes."""
    seen, runs = set(), []
    for name, argv in CASES:
        if name in seen or "" not in argv:
            continue
        seen.add(name)
        blank = argv.index("")
        raw = [a.encode() for a in argv]
        raw[blank] = NON_UTF8
        runs.append(raw)
    assert len(runs) > 25
    env = {**os.environ, "LAZYCLI_HOME": str(lz_home), "HF_HUB_OFFLINE": "1"}
    failures = []
    for raw in runs:
        proc = subprocess.run(
            [sys.executable.encode(), b"-m", b"lazycli", *raw],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=tmp_path,
            timeout=120,
        )
        output = (proc.stdout + proc.stderr).decode(errors="replace")
        if proc.returncode == 1 or "Traceback" in output:
            failures.append(f"lz {raw!r} → exit {proc.returncode}\n{output[-600:]}")
    assert not failures, f"{len(failures)} of {len(runs)}:\n" + "\n".join(failures[:10])
