"""The example plugin of every kind, in one place: `lz plugin new` writes it into a new distribution,
and the hook specifications (`lazycli.hookspecs`) point here instead of keeping examples of their own
that could drift. Each example is complete (every member core calls, see `lazycli.contracts`) and
its generated test runs the shared contract suite, `lazycli.contracts.check`.

Templates are `str.format` strings: `{name}`, `{ident}` (the name as an identifier: its settings'
prefix), `{upper}`; literal braces are doubled. Engine, launcher, store and loader examples declare
one typed setting each (`lazycli_settings`), shown and checked by `lz config`.
"""

from __future__ import annotations

import re

KINDS = ("engine", "launcher", "provider", "finetuner", "store", "loader", "embedder", "reranker")


def _settings_block(key: str, field: str) -> str:
    """The tail every scaffold with a setting ends with: one typed field (`field`, a pydantic line),
    read through `lazycli.settings.section`, declared by the `lazycli_settings` hook."""
    upper = key.upper()
    return f"""


@functools.cache
def _settings_model():
    # A function, so pydantic is imported when settings are read, not by every `lz plugins`.
    from pydantic import BaseModel, Field

    class Settings(BaseModel):
        {field}

    return Settings


def _settings():
    # This plugin's settings, typed (`lz config set {{ident}}_{key} …`, LAZYCLI_{{upper}}_{upper}).
    from lazycli import settings

    return settings.section("{{ident}}")


@hookimpl
def lazycli_settings():
    yield SettingsSpec(name="{{ident}}", model=_settings_model)"""


# Per kind: (imports, the code that yields the record).
EXAMPLES: dict[str, tuple[str, str]] = {
    "engine": (
        "import functools\nimport shutil\n\n"
        "from lazycli.hookspecs import EngineRequest, EngineSpec, SettingsSpec, hookimpl",
        """def _argv(req: EngineRequest) -> list[str]:
    binary = _settings().binary
    return [binary, "--model", str(req.model_path), "--host", req.host, "--port", str(req.port)]


@hookimpl
def lazycli_engines():
    yield EngineSpec(
        name="{name}",
        argv=_argv,
        model_types=("llm",),
        formats=("gguf",),
        health_path="/health",
        protocol="openai",
        is_installed=lambda: shutil.which(_settings().binary) is not None,
        install_hint="install {name}-server and put it on PATH (or `lz config set {ident}_binary PATH`)",
    )"""
        + _settings_block(
            "binary",
            'binary: str = Field("{name}-server", min_length=1, description="The server executable")',
        ),
    ),
    "launcher": (
        "import functools\nimport os\nimport shlex\nimport subprocess\n\n"
        "from lazycli.hookspecs import LauncherSpec, SettingsSpec, hookimpl\n"
        "from lazycli.launchers import Job, Status, tail_text",
        '''class Launcher:
    """Runs the job to completion in the foreground (replace with your scheduler's calls).

    lz also uses these when a launcher has them (lazycli.launchers.OPTIONAL and TRAITS; the contract
    test checks their shape): check_port(port), check_resources(resources), leftovers(job),
    describe(argv, resources, env, log_path), and bind_host, poll_interval, multi_node.
    """

    name = "{name}"

    def submit(self, argv, resources, env, log_path):
        limit = _settings().timeout or None
        env = {{**os.environ, **env}}  # `env` is what the job adds to the environment of where it runs
        with open(log_path, "w") as log:
            try:
                code = subprocess.call(argv, stdout=log, stderr=subprocess.STDOUT, env=env, timeout=limit)
            except subprocess.TimeoutExpired:  # call() has killed the job
                log.write(f"{name}: stopped after {{limit}} s ({ident}_timeout)\\n")
                code = 124
        return Job(launcher=self.name, job_id="0", exit_code=code, log_path=str(log_path))

    def status(self, job):
        return Status.COMPLETED if job.exit_code == 0 else Status.FAILED

    def endpoint(self, job):
        return ("127.0.0.1", None)  # (host, port) where the job's service listens; None: not known yet

    def logs(self, job, lines=None):
        return tail_text(job.log_path, lines)

    def cancel(self, job):
        return None

    def describe(self, argv, resources, env):
        # For --dry-run: the command and the names of the variables it gets, never their values.
        return shlex.join(argv) + "\\nenv: " + " ".join(sorted(env))


@hookimpl
def lazycli_launchers():
    yield LauncherSpec(name="{name}", factory=Launcher)'''
        + _settings_block(
            "timeout", 'timeout: float = Field(0, ge=0, description="Seconds a job may run (0: no limit)")'
        ),
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
    ),
    "finetuner": (
        "import json\nimport sys\nfrom pathlib import Path\n\n"
        "from lazycli.hookspecs import FinetunerSpec, hookimpl",
        '''def _config(job):
    suffix = "" if job.base_format == "hf" else "." + job.base_format
    return {{
        "base": str(job.base_path),
        "base_format": job.base_format,
        "data": str(job.data_file),  # lz has converted the set to data_target (messages) already
        "out": str(job.run_dir / ("model" + suffix)),
        **job.params,
    }}


# The trainer lz runs through the launcher: a real one trains on config["data"]; this one copies
# the base model to the run folder as "the result" (replace it with your tool's command).
TRAINER = """
import json, shutil, sys
config = json.load(open(sys.argv[1]))
copy = shutil.copytree if config["base_format"] == "hf" else shutil.copyfile
copy(config["base"], config["out"])
print("{name}: trained", config["steps"], "steps")
"""


def _argv(job, config=None):
    return [sys.executable, "-c", TRAINER, str(config or job.config_dir / "{name}.json")]


def _prepare(job):
    """The files and command of one run; lz writes the files under job.run_dir, then submits argv."""
    from lazycli.finetune.runs import Prepared

    files = {{"config/{name}.json": json.dumps(_config(job), indent=2)}}
    return Prepared(files=files, argv=_argv(job), env={{"PYTHONUNBUFFERED": "1"}})


def _finish(run_dir, record):
    """The model the run made; lz registers it under the run's name (`lz chat NAME`)."""
    made = sorted(Path(run_dir).glob("model*"))
    if not made:
        from lazycli.errors import LzError

        raise LzError(f"the {name} run in {{run_dir}} made no model", hint="see `lz finetune logs`")
    return {{"path": str(made[0]), "format": made[0].suffix.lstrip(".") or "hf"}}


@hookimpl
def lazycli_finetuners():
    yield FinetunerSpec(
        name="{name}",
        prepare=_prepare,
        argv=_argv,
        finish=_finish,
        options={{"steps": 10}},  # typed defaults: `lz finetune … --set steps=20`
    )''',
    ),
    "store": (
        "import functools\nimport os\nimport shutil\nfrom pathlib import Path\n\n"
        "from lazycli.hookspecs import SettingsSpec, StoreSpec, hookimpl",
        '''class ArrowStore:
    """Chunk rows in Arrow files under `path`, one file a version (v000001.arrow, …). A write makes
    the next version as a temp file renamed into place, so a crash never leaves half a table."""

    def __init__(self, path, options=None):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._pinned = None  # a version chosen by checkout(); None reads the newest

    def _files(self):
        return sorted(self.path.glob("v*.arrow"))

    def _read(self):
        import pyarrow as pa

        version = self.version()
        if version == 0:
            return None
        with pa.OSFile(str(self.path / f"v{{version:06d}}.arrow")) as source:
            return pa.ipc.open_file(source).read_all()

    def _write(self, table):
        import pyarrow as pa

        version = max((int(f.stem[1:]) for f in self._files()), default=0) + 1
        temp = self.path / f".tmp-v{{version:06d}}.arrow"
        with pa.OSFile(str(temp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        os.replace(temp, self.path / f"v{{version:06d}}.arrow")
        self._pinned = None

    def _of_sources(self, table, sources):
        import pyarrow as pa
        import pyarrow.compute as pc

        return pc.is_in(table["source"], value_set=pa.array(sources, type=pa.string()))

    # reading
    def fingerprint(self):
        return ",".join(f"{{f.name}}:{{f.stat().st_mtime_ns}}" for f in self._files())

    def version(self):
        if self._pinned is not None:
            return self._pinned
        files = self._files()
        return int(files[-1].stem[1:]) if files else 0

    def checkout(self, version):
        if not (self.path / f"v{{version:06d}}.arrow").exists():
            return False
        self._pinned = version
        return True

    def count(self):
        table = self._read()
        return 0 if table is None else table.num_rows

    def scan(self, columns):
        table = self._read()
        return None if table is None else table.select(columns)

    def take(self, offsets, columns):
        table = self._read()
        if table is None or not offsets:
            return []
        return table.take(offsets).select(list(dict.fromkeys(["id", *columns]))).to_pylist()

    def rows_for_sources(self, sources, columns):
        table = self._read()
        if table is None or not sources:
            return []
        return table.filter(self._of_sources(table, sources)).select(columns).to_pylist()

    # writing
    def add(self, rows):
        import pyarrow as pa

        table = self._read()
        self._write(rows if table is None else pa.concat_tables([table, rows.cast(table.schema)]))

    def delete_sources(self, sources):
        import pyarrow.compute as pc

        table = self._read()
        if table is not None and sources:
            self._write(table.filter(pc.invert(self._of_sources(table, sources))))

    def compact(self):
        keep = _settings().keep_versions  # 2 by default: a query may still be reading the previous one
        for old in self._files()[:-keep]:
            old.unlink(missing_ok=True)

    def clean_temp(self):
        freed = 0
        for leftover in self.path.glob(".tmp-*"):
            freed += leftover.stat().st_size
            leftover.unlink(missing_ok=True)
        return freed

    def drop(self):
        shutil.rmtree(self.path, ignore_errors=True)


@hookimpl
def lazycli_stores():
    yield StoreSpec(name="{name}", open=ArrowStore)'''
        + _settings_block(
            "keep_versions",
            'keep_versions: int = Field(2, ge=1, description="Versions compact() keeps, the newest first")',
        ),
    ),
    "loader": (
        "import functools\n\nfrom lazycli.hookspecs import LoaderSpec, SettingsSpec, hookimpl",
        """def _load(path):
    yield path.read_text(encoding=_settings().encoding), {{"source": str(path)}}


@hookimpl
def lazycli_loaders():
    yield LoaderSpec(name="{name}", extensions=(".{name}",), load=_load)"""
        + _settings_block(
            "encoding",
            'encoding: str = Field("utf-8", min_length=1, description="Text encoding of .{name} files")',
        ),
    ),
    "embedder": (
        "import numpy as np\n\nfrom lazycli.hookspecs import EmbedderSpec, hookimpl",
        '''class Embedder:
    """Letter counts, normalised; a real embedder calls a model. `embed` returns texts × dim."""

    dim = 26

    def __init__(self, model=None, options=None):
        self.model = model

    def embed(self, texts):
        letters = [chr(97 + i) for i in range(self.dim)]
        counts = np.array([[t.lower().count(c) for c in letters] for t in texts], dtype=np.float32)
        return counts / np.maximum(np.linalg.norm(counts, axis=1, keepdims=True), 1e-9)


@hookimpl
def lazycli_embedders():
    yield EmbedderSpec(name="{name}", factory=Embedder)''',
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
    pytest                # runs lazycli's contract suite on it (lazycli.contracts.check)
"""

_TEST = '''"""lazycli's contract suite on this plugin: found by its entry point, then driven as lz does."""

from lazycli import contracts, plugins


def test_{module}_passes_the_lazycli_contract(tmp_path):
    plugins.reset()
    reg = plugins.registry()
    info = next(p for p in reg.plugins if p.name == "{name}")
    assert not info.errors, info.errors
    contracts.check("{kinds}", reg.get("{kinds}", "{name}"), tmp_path)
'''


def identifier(name: str) -> str:
    return re.sub(r"\W", "_", name.lower())


def module_source(name: str, kind: str) -> str:
    """The plugin module of a new `kind` plugin called `name`."""
    imports, body = EXAMPLES[kind]
    dist = f"lazycli-{name}"
    return f'"""{dist}: a lazycli {kind} plugin."""\n\n{imports}\n\n\n{body.format(**_names(name))}\n'


def render(name: str, kind: str) -> dict[str, str]:
    """The files of a new plugin distribution, by relative path."""
    fmt = {**_names(name), "kind": kind, "kinds": kind + "s"}
    module = fmt["module"]
    return {
        "pyproject.toml": _PYPROJECT.format(**fmt),
        f"{module}.py": module_source(name, kind),
        "README.md": _README.format(**fmt),
        f"tests/test_{module}.py": _TEST.format(**fmt),
    }


def _names(name: str) -> dict[str, str]:
    return {
        "name": name,
        "upper": identifier(name).upper(),
        "ident": identifier(name),
        "dist": f"lazycli-{name}",
        "module": f"lazycli_{identifier(name)}",
    }
