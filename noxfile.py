"""nox sessions: `nox -s tests` (the README's test command), `lint`, `bench`.

Sessions run in the current environment (venv_backend "none"): lz's engines are separate processes
with their own pins, and the CPU torch build must not be swapped for a CUDA one by a fresh venv.
`scripts/install.sh` is the one place that knows how to install lz with every extra.
"""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.default_venv_backend = "none"


@nox.session
def install(session: nox.Session) -> None:
    """Install lz with the extras the tests use (torch CPU first, llama.cpp compiled once)."""
    session.run("bash", "scripts/install.sh", external=True)


@nox.session
def tests(session: nox.Session) -> None:
    """Install what the tests need, then run the whole suite (pass pytest args after --)."""
    session.run("bash", "scripts/install.sh", external=True)
    session.run("python", "-m", "pytest", *session.posargs, external=True)


@nox.session
def lint(session: nox.Session) -> None:
    session.run("python", "-m", "pip", "install", "-q", "ruff>=0.5", external=True)
    session.run("ruff", "check", "src", "plugins", "tests", "benchmarks", "noxfile.py", external=True)
    session.run(
        "ruff", "format", "--check", "src", "plugins", "tests", "benchmarks", "noxfile.py", external=True
    )


@nox.session
def bench(session: nox.Session) -> None:
    """Every benchmark, each printing ratios against a baseline measured in the same run."""
    import glob

    for script in sorted(glob.glob("benchmarks/bench_*.py")):
        session.run("python", script, *session.posargs, external=True)
