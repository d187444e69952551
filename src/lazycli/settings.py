"""Settings: flags > LAZYCLI_* env vars > the TOML config file > defaults.

Directories follow XDG (config, data, cache under `lazycli/`); LAZYCLI_HOME overrides all three
with `$LAZYCLI_HOME/{config,data,cache}`. Import this module only in commands that need settings:
pydantic is not free at start-up.
"""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from lazycli.errors import LzError, did_you_mean, unknown
from lazycli.paths import config_path

ENV_PREFIX = "LAZYCLI_"
MAX_RETRIES = 10  # with backoff capped at 8 s, ten retries already wait over a minute


# --- the one validation layer: settings (env vars, config file, `lz config set`) and flags ----------


def _http_url(value: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URL (e.g. http://127.0.0.1:8000/v1)")
    try:
        port = parts.port  # raises for a port outside 0-65535
    except ValueError:
        port = 0
    if port == 0:
        raise ValueError("its port is not in 1-65535")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
Port = Annotated[int, Field(ge=1, le=65535)]


def check_value(kind: Any, value: Any, where: str) -> Any:
    """`value` checked against a type of this module (Port, HttpUrl, …); a bad one is one line
    naming `where` (a flag, an env var, a setting). Flags use it, so they and settings agree."""
    try:
        return TypeAdapter(kind).validate_python(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise LzError(
            f"bad value {value!r} for {where}: {first['msg'].removeprefix('Value error, ')}"
        ) from None


def check_port(port: int | None, where: str = "--port") -> int | None:
    return None if port is None else check_value(Port, port, where)


def check_host(host: str | None, where: str = "--host") -> str | None:
    """A host this machine can listen on (resolvable and one of its addresses)."""
    import socket

    if host is None:
        return None
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError):
        raise LzError(
            f"bad value {host!r} for {where}: not an address or a name that resolves",
            hint="use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)",
        ) from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((address[0], 0))
        except OSError as exc:
            raise LzError(
                f"cannot listen on {where} {host}: {exc.strerror or exc}",
                hint="use an address of this machine: 127.0.0.1 or 0.0.0.0",
            ) from None
    return host


def _registered(kind: str, value: str, extra: tuple[str, ...] = ()) -> str:
    """`value` must name a registered plugin of `kind` (engines, launchers)."""
    from lazycli.plugins import registry

    names = [*extra, *registry().all(kind)]
    if value not in names:
        close = did_you_mean(value, names)
        tip = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
        raise ValueError(
            f"no {kind.removesuffix('s')} {value!r} is loaded; {tip}known {kind}: {', '.join(names)}"
        )
    return value


def _name_list(value: Any) -> Any:
    """`a,b` (a plain `lz config set` value or env var) as a list of names."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


# The plugins core picks when nobody names one: settings, so that a user (or a site's config file)
# can point them at other plugins; each value must name a loaded plugin of its kind.
PLUGIN_DEFAULTS = {
    "default_launcher": "launchers",
    "engine_cpu": "engines",
    "engine_gpu_order": "engines",
    "engine_embed": "engines",
    "embedder_local": "embedders",
    "reranker_local": "rerankers",
    "store": "stores",
}


class EndpointConfig(BaseModel):
    """An OpenAI-compatible endpoint added by configuration alone (no plugin needed)."""

    model_config = ConfigDict(extra="forbid")

    base_url: HttpUrl
    key_env: str | None = None
    default_model: str | None = None
    models: list[str] = Field(default_factory=list)


class CoreSettings(BaseSettings):
    """The settings of lz's core. Each field is `LAZYCLI_<FIELD>` in the environment and `<field>` in
    the config file (`lz config set <field> <value>`). Plugins add theirs (`SettingsSpec`): the class
    lz validates with is `settings_class()`, these fields plus every loaded plugin's."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", validate_default=True)

    # models
    model_path: str = Field("", description="Colon-separated dirs searched for models before the cache")
    model_source: Literal["huggingface", "modelscope"] = Field("huggingface", description="Default hub")
    # deploy
    default_engine: str = Field("auto", description="Engine used when --engine is not given")
    default_launcher: str = Field("local", description="Launcher used when --launcher is not given")
    deploy_timeout: float = Field(300.0, gt=0, description="Seconds to wait for an engine to turn healthy")
    gpu_memory_gb: float = Field(80.0, gt=0, description="Memory of one GPU, for sizing multi-node deploys")
    engine_cpu: str = Field("llamacpp", description="Engine `auto` picks for a GGUF model or with no GPU")
    engine_gpu_order: Annotated[list[str], NoDecode, BeforeValidator(_name_list)] = Field(
        ["vllm", "lmdeploy", "lightllm"],
        min_length=1,
        description="Engines `auto` tries for an LLM on GPUs, the first installed wins (e.g. vllm,lmdeploy)",
    )
    engine_embed: str = Field("embed", description="Engine `auto` picks for embedding and rerank models")
    # chat
    default_target: str | None = Field(None, description="Target of `lz chat` when none is given")
    chat_log: bool = Field(True, description="Log conversations to the state database")
    chat_styles: dict[str, str] = Field(
        default_factory=dict,
        description="`lz chat --style` per model/target/provider ('*' for all), e.g. color=cyan,prefix=🤖 ",
    )
    request_timeout: float = Field(120.0, gt=0, description="Seconds before an LLM request times out")
    max_retries: int = Field(3, ge=0, le=MAX_RETRIES, description="Retries on 429/5xx/connection errors")
    # rag
    embed_model: str = Field("all-minilm-l6-v2", description="Default embedder for `lz index`")
    index_batch_files: int = Field(
        64, ge=1, description="Files per `lz index` commit (smaller: less work redone after a crash)"
    )
    embedder_local: str = Field(
        "sentence-transformers", description="Embedder plugin that runs a local --embed model in-process"
    )
    reranker_local: str = Field(
        "cross-encoder", description="Reranker plugin that runs a local --rerank model in-process"
    )
    store: str = Field("lancedb", description="Store plugin of a new index (`lz index --store` wins)")
    # providers added by config: [endpoints.NAME] base_url = ..., key_env = ..., models = [...]
    endpoints: dict[str, EndpointConfig] = Field(default_factory=dict)

    @field_validator("default_engine")
    @classmethod
    def _known_engine(cls, value: str) -> str:
        return value if value == "auto" else _registered("engines", value, ("auto",))

    @field_validator(*PLUGIN_DEFAULTS)
    @classmethod
    def _known_plugins(cls, value: Any, info: ValidationInfo) -> Any:
        # The built-in default is not checked: a plugin left out by LAZYCLI_PLUGINS must not break
        # every command, only the one that needs it (which names it then).
        if value == cls.model_fields[info.field_name].default:
            return value
        kind = PLUGIN_DEFAULTS[info.field_name]
        for name in value if isinstance(value, list) else [value]:
            _registered(kind, name)
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _FileSource(settings_cls))

    @property
    def model_dirs(self) -> list[Path]:
        return [Path(p).expanduser() for p in self.model_path.split(":") if p]


class _FileSource(PydanticBaseSettingsSource):
    """Values from the TOML config file (validated with the rest, so errors name the key)."""

    def get_field_value(self, field, field_name):  # pragma: no cover - pydantic-settings API
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in read_config_file().items() if not _of_a_sleeping_plugin(k)}


def read_config_file(path: Path | None = None) -> dict[str, Any]:
    """The config file as a dict; a corrupt file is a user error naming the file and line."""
    path = path or config_path()
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise LzError(f"config file {path} is not valid TOML: {exc}", hint="fix or remove it") from None
    except UnicodeDecodeError as exc:
        raise LzError(
            f"config file {path} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})",
            hint="save it as UTF-8, or remove it",
        ) from None
    except IsADirectoryError:
        raise LzError(
            f"config file {path} is a directory", hint="move it away; lz writes a file there"
        ) from None
    except OSError as exc:
        raise LzError(
            f"cannot read config file {path}: {exc.strerror or exc}", hint="check its permissions"
        ) from None


@lru_cache(maxsize=1)
def settings_class() -> type[CoreSettings]:
    """The core settings plus each loaded plugin's (`<name>_<field>`), as one pydantic class, so
    flags, environment, config file, `lz config` and error messages treat them all alike."""
    from pydantic import create_model

    from lazycli.plugins import registry

    fields: dict[str, Any] = {}
    for spec in registry().all("settings").values():
        for name, info in spec.model_class().model_fields.items():
            key = f"{spec.name}_{name}"
            if key in CoreSettings.model_fields or key in fields:
                continue  # a plugin cannot take over a core setting (the registry refuses name clashes)
            fields[key] = (info.annotation, info)
    return create_model("Settings", __base__=CoreSettings, **fields)


def section(name: str) -> Any:
    """Plugin `name`'s settings as its own typed model (e.g. `section("slurm").partition`)."""
    from lazycli.plugins import registry

    model = registry().get("settings", name).model_class()
    current = get()
    return model(**{f: getattr(current, f"{name}_{f}") for f in model.model_fields})


def __getattr__(name: str) -> Any:
    if name == "Settings":  # the full class, built on first use (it needs the plugins)
        return settings_class()
    raise AttributeError(name)


def field_names() -> list[str]:
    return list(settings_class().model_fields)


def _of_a_sleeping_plugin(key: str) -> bool:
    """A key of a plugin that is installed but not loaded in this process (left out by
    LAZYCLI_PLUGINS, or broken): kept in the file and not validated, as that plugin's own settings are
    unknown here. A broken plugin must not break every command."""
    from lazycli.plugins import entry_points, registry
    from lazycli.scaffolds import identifier

    awake = {p.name for p in registry().plugins if not p.errors}
    # The prefix is the plugin's name as an identifier, as `lz plugin new` writes it (my-store → my_store_).
    return any(key.startswith(f"{identifier(f.name)}_") and f.name not in awake for f in entry_points())


def check_keys(values: dict[str, Any], where: str) -> None:
    for key in values:
        if key not in settings_class().model_fields and not _of_a_sleeping_plugin(key):
            raise unknown("setting", key, field_names(), hint=f"in {where}; see `lz config show`")


def validation_error(exc: ValidationError, where: str) -> LzError:
    """Turn pydantic's report into one line naming the key and the allowed form (an unknown key
    first, with a did-you-mean: a misspelt key also makes the right one look missing)."""
    errors = exc.errors()
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = [str(p) for p in first["loc"]]
    key = ".".join(loc) or "?"
    nested = bool(loc) and loc[0] == "endpoints"
    if first["type"] == "extra_forbidden" and loc:
        known = EndpointConfig.model_fields if nested else settings_class().model_fields
        close = did_you_mean(loc[-1], [*known])
        tip = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
        return LzError(f"unknown setting {key!r} in {where}", hint=f"{tip}known: {', '.join(known)}")
    if nested and len(loc) >= 3:
        field = EndpointConfig.model_fields.get(loc[2])
    else:
        field = settings_class().model_fields.get(loc[0]) if loc else None
    allowed = _allowed_form(field)
    msg = f"bad value for {key!r} in {where}: {first['msg'].removeprefix('Value error, ')}"
    return LzError(msg, hint=f"expected {allowed}" if allowed else None)


def _allowed_form(field) -> str | None:
    if field is None:
        return None
    ann = field.annotation
    text = getattr(ann, "__name__", None) or str(ann).replace("typing.", "")
    return f"{text} ({field.description})" if field.description else text


def _where_from_env_or_file(exc: ValidationError) -> str:
    first = exc.errors()[0]
    key = str(first["loc"][0]) if first["loc"] else ""
    env = ENV_PREFIX + key.upper()
    return f"environment variable {env}" if env in os.environ else f"config file {config_path()}"


@lru_cache(maxsize=1)
def _cached() -> CoreSettings:
    return load()


def load(**overrides: Any) -> CoreSettings:
    """Settings with flag overrides on top; a bad value anywhere is a one-line user error."""
    check_keys(read_config_file(), f"config file {config_path()}")
    try:
        return settings_class()(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise validation_error(exc, _where_from_env_or_file(exc)) from None


def get() -> CoreSettings:
    """The process-wide settings (env + file + defaults), loaded once."""
    return _cached()


def reset_cache() -> None:
    _cached.cache_clear()
    settings_class.cache_clear()
