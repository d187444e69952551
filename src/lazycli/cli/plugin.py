"""`lz plugin new NAME --kind K`: scaffold a standalone plugin distribution.

The result is a directory with a pyproject (the `lazycli` entry point), a module whose hookimpl
yields a working minimal record, a README and a contract test; `pip install -e DIR` makes it show
in `lz plugins`.
"""

from __future__ import annotations

import re
from pathlib import Path

import typer

from lazycli.console import note, print_json, want_json

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Scaffold plugins.",
    epilog="Example: lz plugin new my-provider --kind provider && pip install -e lazycli-my-provider",
)


@app.callback()
def _group() -> None:
    """Scaffold plugins (a group, so that `lz plugin new` keeps its sub-command name)."""


KINDS = ("engine", "launcher", "provider", "finetuner", "store", "loader", "embedder", "reranker")

# Per kind: (imports, body yielding the record, a contract check on that record).
_RECORDS: dict[str, tuple[str, str, str]] = {
    "engine": (
        "import shutil\n\nfrom lazycli.hookspecs import EngineRequest, EngineSpec, hookimpl",
        """def _argv(req: EngineRequest) -> list[str]:
    return ["{name}-server", "--model", str(req.model_path), "--host", req.host, "--port", str(req.port)]


@hookimpl
def lazycli_engines():
    yield EngineSpec(
        name="{name}",
        argv=_argv,
        model_types=("llm",),
        formats=("gguf",),
        health_path="/health",
        protocol="openai",
        is_installed=lambda: shutil.which("{name}-server") is not None,
        install_hint="install {name}-server and put it on PATH",
    )""",
        """    from pathlib import Path

    from lazycli.hookspecs import EngineRequest

    argv = record.argv(EngineRequest(model_path=Path("/m"), served_name="m", port=8000))
    assert argv and all(isinstance(a, str) for a in argv)
    assert "8000" in argv""",
    ),
    "launcher": (
        "import subprocess\n\nfrom lazycli.hookspecs import LauncherSpec, hookimpl\n"
        "from lazycli.launchers import Job, Status, tail_text",
        '''class Launcher:
    """Runs the job to completion in the foreground (replace with your scheduler's calls)."""

    name = "{name}"

    def submit(self, argv, resources, env, log_path):
        with open(log_path, "w") as log:
            code = subprocess.call(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        return Job(launcher=self.name, job_id="0", exit_code=code, log_path=str(log_path))

    def status(self, job):
        return Status.COMPLETED if job.exit_code == 0 else Status.FAILED

    def endpoint(self, job):
        return "127.0.0.1"

    def logs(self, job, lines=None):
        return tail_text(job.log_path, lines)

    def cancel(self, job):
        return None


@hookimpl
def lazycli_launchers():
    yield LauncherSpec(name="{name}", factory=Launcher)''',
        """    import os
    import sys

    from lazycli.launchers import Resources, Status

    launcher = record.factory()
    argv = [sys.executable, "-c", "print('hi')"]
    job = launcher.submit(argv, Resources(), dict(os.environ), tmp_path / "log")
    assert launcher.status(job) is Status.COMPLETED
    assert "hi" in launcher.logs(job)""",
    ),
    "provider": (
        "from lazycli.hookspecs import ProviderSpec, hookimpl",
        """@hookimpl
def lazycli_providers():
    yield ProviderSpec(
        name="{name}",
        base_url="https://api.{name}.example/v1",
        default_model="{name}-chat",
        key_env_vars=("LAZYCLI_{upper}_API_KEY", "{upper}_API_KEY"),
    )""",
        """    assert record.base_url.startswith("https://")
    assert record.default_model
    assert record.key_env_vars""",
    ),
    "finetuner": (
        "import json\nimport sys\n\nfrom lazycli.hookspecs import FinetunerSpec, hookimpl",
        """def _prepare(model, data, out, options):
    out.mkdir(parents=True, exist_ok=True)
    config = out / "{name}.json"
    config.write_text(json.dumps({{"model": str(model), "data": str(data), **dict(options)}}))
    return config


def _argv(config):
    return [sys.executable, "-c", "import json, sys; print(json.load(open(sys.argv[1])))", str(config)]


@hookimpl
def lazycli_finetuners():
    yield FinetunerSpec(name="{name}", prepare=_prepare, argv=_argv)""",
        """    import subprocess

    config = record.prepare("base-model", "data.json", tmp_path, {"epochs": 1})
    out = subprocess.run(record.argv(config), capture_output=True, text=True, check=True).stdout
    assert "base-model" in out""",
    ),
    "store": (
        "from lazycli.hookspecs import StoreSpec, hookimpl",
        '''class MemoryStore:
    """Keeps vectors in memory; a real store persists them under `path`."""

    def __init__(self, path, options=None):
        self.rows = []

    def add(self, rows):
        self.rows.extend(rows)

    def search(self, vector, k):
        def score(row):
            return sum(a * b for a, b in zip(row["vector"], vector))

        return sorted(self.rows, key=score, reverse=True)[:k]


@hookimpl
def lazycli_stores():
    yield StoreSpec(name="{name}", open=MemoryStore)''',
        '''    store = record.open(tmp_path, {})
    store.add([{"id": "a", "vector": [1.0, 0.0]}, {"id": "b", "vector": [0.0, 1.0]}])
    assert store.search([0.0, 1.0], 1)[0]["id"] == "b"''',
    ),
    "loader": (
        "from lazycli.hookspecs import LoaderSpec, hookimpl",
        """def _load(path):
    yield path.read_text(encoding="utf-8"), {{"source": str(path)}}


@hookimpl
def lazycli_loaders():
    yield LoaderSpec(name="{name}", extensions=(".{name}",), load=_load)""",
        """    doc = tmp_path / "doc.x"
    doc.write_text("hello", encoding="utf-8")
    [(text, meta)] = list(record.load(doc))
    assert text == "hello" and meta["source"] == str(doc)""",
    ),
    "embedder": (
        "from lazycli.hookspecs import EmbedderSpec, hookimpl",
        '''class Embedder:
    """Character-count vectors; a real embedder calls a model."""

    dim = 26

    def __init__(self, model=None, options=None):
        self.model = model

    def embed(self, texts):
        return [[float(t.lower().count(chr(97 + i))) for i in range(self.dim)] for t in texts]


@hookimpl
def lazycli_embedders():
    yield EmbedderSpec(name="{name}", factory=Embedder)''',
        """    embedder = record.factory(None, {})
    vectors = embedder.embed(["abc", "xyz"])
    assert len(vectors) == 2 and len(vectors[0]) == embedder.dim""",
    ),
    "reranker": (
        "from lazycli.hookspecs import RerankerSpec, hookimpl",
        '''class Reranker:
    """Scores by shared words; a real reranker calls a cross-encoder."""

    def __init__(self, model=None, options=None):
        self.model = model

    def rerank(self, query, texts):
        words = set(query.lower().split())
        return [float(len(words & set(t.lower().split()))) for t in texts]


@hookimpl
def lazycli_rerankers():
    yield RerankerSpec(name="{name}", factory=Reranker)''',
        """    scores = record.factory(None, {}).rerank("red apple", ["a red apple", "blue sky"])
    assert scores[0] > scores[1]""",
    ),
}

_PYPROJECT = """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"
description = "A lazycli {kind} plugin: {name}"
requires-python = ">=3.11"
dependencies = ["lazycli"]

[project.entry-points.lazycli]
{name} = "{module}"

[tool.setuptools]
py-modules = ["{module}"]
"""

_README = """# {dist}

A [lazycli](https://pypi.org/project/lazycli/) {kind} plugin that registers `{name}`.

    pip install -e .
    lz plugins            # lists {name}
    pytest                # runs the contract test
"""

_TEST = '''"""Contract test: the plugin is discovered through its entry point and its record works."""

from lazycli import plugins


def test_{module}_is_registered(tmp_path):
    plugins.reset()
    reg = plugins.registry()
    info = next(p for p in reg.plugins if p.name == "{name}")
    assert not info.errors, info.errors
    record = reg.get("{kinds}", "{name}")
{check}
'''


def _identifier(name: str) -> str:
    return re.sub(r"\W", "_", name.lower())


@app.command()
def new(
    name: str = typer.Argument(..., help="Plugin name (also the record name), e.g. my-provider."),
    kind: str = typer.Option(..., "--kind", "-k", help="|".join(KINDS)),
    directory: Path = typer.Option(None, "--dir", help="Where to create it (default: ./lazycli-NAME)."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Scaffold a standalone plugin distribution that `pip install -e` makes visible in `lz plugins`.

    Examples:
      lz plugin new my-provider --kind provider
      lz plugin new fast-engine --kind engine --dir ./fast-engine
    """
    from lazycli.errors import LzError, unknown

    if kind not in KINDS:
        raise unknown("plugin kind", kind, KINDS, hint=f"choose one of {', '.join(KINDS)}")
    if not re.fullmatch(r"[a-z][a-z0-9-]*", name):
        raise LzError(
            f"bad plugin name {name!r}", hint="use lower-case letters, digits and '-', e.g. my-provider"
        )
    target = directory or Path.cwd() / f"lazycli-{name}"
    if target.exists() and any(target.iterdir()):
        raise LzError(f"{target} already exists and is not empty", hint="pick another --dir")
    files = render(name, kind)
    for rel, text in files.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if want_json(json_):
        print_json({"path": str(target), "files": sorted(files)})
    else:
        note(f"created {target} ({', '.join(sorted(files))})")
        print(f"next: pip install -e {target} && lz plugins")


def render(name: str, kind: str) -> dict[str, str]:
    """The files of a new plugin distribution, by relative path."""
    module = f"lazycli_{_identifier(name)}"
    dist = f"lazycli-{name}"
    imports, body, check = _RECORDS[kind]
    fmt = {"name": name, "upper": _identifier(name).upper(), "kind": kind, "dist": dist, "module": module}
    source = f'"""{dist}: a lazycli {kind} plugin."""\n\n{imports}\n\n\n{body.format(**fmt)}\n'
    return {
        "pyproject.toml": _PYPROJECT.format(**fmt),
        f"{module}.py": source,
        "README.md": _README.format(**fmt),
        f"tests/test_{module}.py": _TEST.format(kinds=kind + "s", check=check, **fmt),
    }
