"""The pluggy hook specifications: the only contract between lz's core and its plugins.

Each hook *yields typed records* (conda's shape). The plugin manager (`lazycli.plugins`) collects
them into registries keyed by name, refuses duplicate names, and keeps going when one plugin fails.
A plugin is a module registered under the `lazycli` entry-point group:

    # pyproject.toml of a plugin distribution
    [project.entry-points.lazycli]
    my-engine = "my_engine_plugin"

Records are plain frozen dataclasses holding data and callables. Keep plugin modules light: import
heavy libraries (torch, lancedb, kubernetes, …) inside the callables, never at module import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # the Protocols of the callables and objects records carry (lazycli.contracts)
    from lazycli.contracts import (
        ClientFactory,
        EmbedderFactory,
        EngineCommand,
        FinetuneArgv,
        FinishFinetune,
        LoadDocument,
        PrepareFinetune,
        RerankerFactory,
        StoreOpener,
    )
    from lazycli.launchers import Launcher

PROJECT = "lazycli"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- records ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EngineOption:
    """One option an engine knows (`lz deploy --set key=value`), mapped to its real flag."""

    name: str
    flag: str
    type: type = str
    default: Any = None
    help: str = ""


@dataclass(frozen=True)
class EngineRequest:
    """Everything an engine needs to build its argv."""

    model_path: Path
    served_name: str
    port: int | str  # a port, or launchers.PORT_PLACEHOLDER ("{port}") for the launcher to fill in
    host: str = "0.0.0.0"
    gpus: int = 0
    options: Mapping[str, Any] = field(default_factory=dict)
    extra_args: Sequence[str] = ()
    model_type: str = "llm"
    nodes: int = 1  # > 1, or asked for with --nodes: a multi-node deployment (a Ray cluster under it)
    distributed: bool = False  # --nodes was given: the engine spreads over the cluster


@dataclass(frozen=True)
class EngineSpec:
    """An inference engine run as its own process.

    `argv(request)` returns the exact command line (a list, never a shell string, never a secret).
    `protocol` names what its client speaks: "openai" (OpenAI-compatible /v1), "lightllm"
    (/generate + /generate_stream), "vllm-generate" (vLLM's legacy demo server), …
    `clients` holds the engine's wire clients other than the OpenAI one, by protocol name: the one
    `protocol` names talks to its deployments, and `lz chat PROTOCOL+http://…` reaches any of them.
    Each is called `client(name, base_url, template=…, announce=…)` (template: the model's chat
    template, for prompt-only APIs) and returns a `lazycli.client.Backend`; the adapters in
    `lazycli.client.adapters` are such clients. Import them inside the callable (plugins stay light).
    `is_installed()` answers without importing the engine (a package spec or a binary on PATH).
    """

    name: str
    argv: EngineCommand
    model_types: tuple[str, ...] = ("llm",)
    formats: tuple[str, ...] = ("hf",)
    health_path: str = "/health"
    protocol: str = "openai"
    clients: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    options: Mapping[str, EngineOption] = field(default_factory=dict)
    is_installed: Callable[[], bool] = lambda: True
    install_hint: str = ""
    description: str = ""
    needs_gpu: bool = False
    concurrency: int = 0  # requests it runs at once (0: unknown); `lz serve` queues the rest itself
    crash_hint: str = ""  # what to do when the engine dies by a signal (a crash, not a user error)
    multi_node: bool = False  # serves one model across nodes (`lz deploy … --nodes N`)


@dataclass(frozen=True)
class LauncherSpec:
    """Where processes run (local, slurm, sco, k8s, ray, …).

    `factory()` returns a `lazycli.launchers.Launcher`: `submit(argv, resources, env, log_path) -> Job`,
    `status(job)`, `endpoint(job)`, `logs(job)`, `cancel(job)`, `describe(argv, resources, env)`.
    """

    name: str
    factory: Callable[[], Launcher]
    description: str = ""


@dataclass(frozen=True)
class ProviderSpec:
    """An online model service. OpenAI-compatible ones need only data; others give `client_factory`.

    The API key is read from the first set env var in `key_env_vars`, then from `lz keys`.
    """

    name: str
    base_url: str
    default_model: str
    key_env_vars: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    chat: bool = True
    embed: bool = False
    rerank: bool = False
    default_embed_model: str | None = None
    default_rerank_model: str | None = None
    rerank_path: str | None = None
    client_factory: ClientFactory | None = None
    description: str = ""
    # Online fine-tuning (`lz finetune NAME:MODEL`): a lazycli.finetune.online_vendor.OnlineTuner.
    finetune: Any = None


@dataclass(frozen=True)
class EnvRecipe:
    """A managed virtual environment (`lz engines install NAME`): what to pip install, with torch
    pinned to the CPU build, the fixes that make it import, and why it cannot run here (if so).

    `refuse()` returns a reason (shown before anything is downloaded) or None.
    """

    name: str
    packages: tuple[str, ...]
    torch: bool = True
    remove: tuple[str, ...] = ()  # pip uninstall afterwards (e.g. CUDA-linked torchvision)
    strip: tuple[str, ...] = ()  # globs under site-packages to delete (e.g. torchaudio/lib/*.so)
    probe: tuple[str, ...] = ()  # distributions whose versions are recorded
    refuse: Callable[[], str | None] = lambda: None
    description: str = ""


# `dataset_formats` of a chat-model finetuner: every format the data doctor turns into messages.
CHAT_FORMATS = ("alpaca", "sharegpt", "messages", "prompt_completion")


@dataclass(frozen=True)
class FinetunerSpec:
    """A finetuning tool run as its own process: `prepare(job)` returns its config files and the argv
    that runs it (a `lazycli.finetune.runs.Prepared`; lz writes and submits them), `argv(job, config)`
    that command line alone, `finish(run_dir, record)` the model a finished run made (registered under
    the run's name); `data_target` is what the data doctor converts the set to. `env` names the
    managed environment it runs from; `needs_gpu` refuses it on CPU-only machines.
    """

    name: str
    prepare: PrepareFinetune
    argv: FinetuneArgv
    model_types: tuple[str, ...] = ("llm",)
    dataset_formats: tuple[str, ...] = ("alpaca", "sharegpt")
    merge: Callable[..., Any] | None = None  # unused by core (finish registers the model)
    is_installed: Callable[[], bool] = lambda: True
    install_hint: str = ""
    description: str = ""
    env: EnvRecipe | None = None
    data_target: str = "messages"
    needs_gpu: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)
    finish: FinishFinetune | None = None


@dataclass(frozen=True)
class StoreSpec:
    """A chunk store: `open(path, options)` returns a `lazycli.contracts.ChunkStore`."""

    name: str
    open: StoreOpener
    description: str = ""


@dataclass(frozen=True)
class LoaderSpec:
    """A document reader for some file types: `load(path)` yields `(text, metadata)` pairs."""

    name: str
    extensions: tuple[str, ...]
    load: LoadDocument
    description: str = ""


@dataclass(frozen=True)
class EmbedderSpec:
    """An embedding backend: `factory(model, options)` returns a `lazycli.contracts.Embedder`."""

    name: str
    factory: EmbedderFactory
    description: str = ""


@dataclass(frozen=True)
class RerankerSpec:
    """A reranking backend: `factory(model, options)` returns a `lazycli.contracts.Reranker`."""

    name: str
    factory: RerankerFactory
    description: str = ""


@dataclass(frozen=True)
class SettingsSpec:
    """Settings a plugin owns. Each field of its model (a pydantic BaseModel with defaults) becomes the
    setting `<name>_<field>`: `LAZYCLI_<NAME>_<FIELD>` in the environment, a key of the config file,
    `lz config set`; validated with lz's own settings and listed by `lz config show`. The plugin reads
    them typed with `lazycli.settings.section(name)`.

    `model` is the class, or a function returning it: then pydantic is imported only when settings
    are read, not by every `lz plugins`.
    """

    name: str
    model: type | Callable[[], type]
    description: str = ""

    def model_class(self) -> type:
        return self.model if isinstance(self.model, type) else self.model()


@dataclass(frozen=True)
class CommandSpec:
    """An extra top-level command: `factory()` returns a click command or a typer app."""

    name: str
    factory: Callable[[], Any]
    help: str = ""


# kind → (hook name, record type); the order is the order `lz plugins` shows them in.
KINDS: dict[str, tuple[str, type]] = {
    "engines": ("lazycli_engines", EngineSpec),
    "launchers": ("lazycli_launchers", LauncherSpec),
    "providers": ("lazycli_providers", ProviderSpec),
    "finetuners": ("lazycli_finetuners", FinetunerSpec),
    "stores": ("lazycli_stores", StoreSpec),
    "loaders": ("lazycli_loaders", LoaderSpec),
    "embedders": ("lazycli_embedders", EmbedderSpec),
    "rerankers": ("lazycli_rerankers", RerankerSpec),
    "commands": ("lazycli_commands", CommandSpec),
    "settings": ("lazycli_settings", SettingsSpec),
}


# --- hook specifications ------------------------------------------------------------------------


@hookspec
def lazycli_engines() -> Iterable[EngineSpec]:
    """Yield the inference engines this plugin provides.

    A complete example that passes lz's contract suite (`lazycli.contracts.check`) is what
    `lz plugin new NAME --kind engine` writes; its source is `lazycli.scaffolds.EXAMPLES["engine"]`.
    """


@hookspec
def lazycli_launchers() -> Iterable[LauncherSpec]:
    """Yield the launchers this plugin provides.

    A complete example that passes lz's contract suite (`lazycli.contracts.check`) is what
    `lz plugin new NAME --kind launcher` writes; its source is `lazycli.scaffolds.EXAMPLES["launcher"]`.
    """


@hookspec
def lazycli_providers() -> Iterable[ProviderSpec]:
    """Yield the online providers this plugin provides.

    A complete example that passes lz's contract suite (`lazycli.contracts.check`) is what
    `lz plugin new NAME --kind provider` writes; its source is `lazycli.scaffolds.EXAMPLES["provider"]`.
    """


@hookspec
def lazycli_finetuners() -> Iterable[FinetunerSpec]:
    """Yield the finetuners this plugin provides.

    A complete example that passes lz's contract suite (`lazycli.contracts.check`) is what
    `lz plugin new NAME --kind finetuner` writes; its source is `lazycli.scaffolds.EXAMPLES["finetuner"]`.
    """


@hookspec
def lazycli_stores() -> Iterable[StoreSpec]:
    """Yield the vector stores this plugin provides.

    A complete example that passes lz's contract suite (`lazycli.contracts.check`) is what
    `lz plugin new NAME --kind store` writes; its source is `lazycli.scaffolds.EXAMPLES["store"]`.
    """


@hookspec
def lazycli_loaders() -> Iterable[LoaderSpec]:
    """Yield document loaders by file type.

    A complete example that passes lz's contract suite (`lazycli.contracts.check`) is what
    `lz plugin new NAME --kind loader` writes; its source is `lazycli.scaffolds.EXAMPLES["loader"]`.
    """


@hookspec
def lazycli_embedders() -> Iterable[EmbedderSpec]:
    """Yield embedding backends.

    A complete example that passes lz's contract suite (`lazycli.contracts.check`) is what
    `lz plugin new NAME --kind embedder` writes; its source is `lazycli.scaffolds.EXAMPLES["embedder"]`.
    """


@hookspec
def lazycli_rerankers() -> Iterable[RerankerSpec]:
    """Yield reranking backends.

    A complete example that passes lz's contract suite (`lazycli.contracts.check`) is what
    `lz plugin new NAME --kind reranker` writes; its source is `lazycli.scaffolds.EXAMPLES["reranker"]`.
    """


@hookspec
def lazycli_settings() -> Iterable[SettingsSpec]:
    """Yield the settings this plugin owns (one `SettingsSpec` per prefix, usually the plugin's name).

    Example::

        from pydantic import BaseModel, Field
        from lazycli.hookspecs import SettingsSpec, hookimpl

        class MyCloud(BaseModel):
            region: str = Field("eu-1", description="Region of my-cloud jobs")

        @hookimpl
        def lazycli_settings():
            yield SettingsSpec(name="mycloud", model=MyCloud)   # → setting mycloud_region
    """


@hookspec
def lazycli_commands() -> Iterable[CommandSpec]:
    """Yield extra top-level `lz` commands.

    Example::

        import typer
        from lazycli.hookspecs import CommandSpec, hookimpl

        def _app():
            app = typer.Typer()

            @app.command()
            def hello(name: str = "world"):
                print(f"hello {name}")

            return app

        @hookimpl
        def lazycli_commands():
            yield CommandSpec(name="hello", factory=_app, help="Say hello")
    """
