"""Targets: what `lz chat TARGET` (and rag, serve, recipes, eval) talk to.

`parse(name)` says what a name names, and nothing else (no process is started): an http(s) URL
(OpenAI-compatible; `lightllm+http://…`, `vllm+http://…`, `lmdeploy+http://…` pick another
protocol), a deployment name (`lz deploy ls`), `provider[:model]`, an online fine-tuned model, a
model. `open_target(parsed, start=…)` makes the client; a model is served by a running deployment of
it, and one is started only when the caller passes `start=True` (the verbs that promise it: chat,
rag, serve, run). `resolve_target(name, start=…)` is both. No target: the configured
`default_target`, else the first provider with a key, else the bundled model.

This is the layer above the wire (`lazycli.client`): it reads state, the plugins and the catalogue
to turn a name into a `ChatClient`; the client layer itself knows only URLs and protocols.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lazycli.client import ChatClient
from lazycli.console import note
from lazycli.errors import LzError, did_you_mean

if TYPE_CHECKING:
    from lazycli.deployments import Deployment

BUNDLED_MODEL = "smollm2-135m-instruct"
# `PROTOCOL+http://…` names the wire protocol of an engine plugin (`EngineSpec.clients`); `vllm+` is
# short for vLLM's demo server.
_SCHEME_ALIASES = {"vllm": "vllm-generate"}
_TARGET_KINDS = (
    "a target is a deployment (`lz deploy ls`), a model (`lz models ls`), provider[:model] or a URL"
)
_URL = re.compile(r"^(?:(?P<proto>[a-z-]+)\+)?(?P<url>https?://\S+)$", re.I)


# --- what a name names (pure) -------------------------------------------------------------------


@dataclass(frozen=True)
class UrlTarget:
    url: str
    protocol: str = "openai"


@dataclass(frozen=True)
class DeploymentTarget:
    name: str
    row: Deployment = field(compare=False, repr=False)  # as recorded (parse asks no launcher)


@dataclass(frozen=True)
class ProviderTarget:
    provider: str
    model: str | None = None  # None: the provider's default model


@dataclass(frozen=True)
class ModelTarget:
    name: str  # a model of the catalogue, registered, or on disk: served by a deployment of it


Target = UrlTarget | DeploymentTarget | ProviderTarget | ModelTarget


def parse(target: str, *, known_only: bool = False) -> Target | None:
    """What `target` names, or None. Pure: it reads state and the catalogue and starts nothing.

    In order: an http(s) URL (`lightllm+http://…` picks a protocol), a deployment name,
    `provider[:model]`, an online model registered by `lz finetune PROVIDER:MODEL`, a model. With
    `known_only`, a model counts only when it is known here (catalogue, registered or on disk), so a
    stray word is not taken for a model to download.
    """
    target = target.strip()
    url = _URL.match(target)
    if url:
        scheme = (url.group("proto") or "openai").lower()
        return UrlTarget(url.group("url"), _SCHEME_ALIASES.get(scheme, scheme))
    row = _deployment(target)
    if row is not None:
        return DeploymentTarget(target, row)
    provider, _, provider_model = target.partition(":")
    if _provider_spec(provider) is not None:
        return ProviderTarget(provider, provider_model or None)
    online = _online_model(target)
    if online is not None:
        return ProviderTarget(online[0], online[1])
    if _is_model(target, known_only=known_only):
        return ModelTarget(target)
    return None


def require(target: str, *, known_only: bool = False) -> Target:
    """What `target` names (`parse`), or one line saying it names nothing, with a did-you-mean."""
    if not target.strip():
        raise LzError("the target is empty", hint=_TARGET_KINDS)
    parsed = parse(target, known_only=known_only)
    if parsed is None:
        raise _unknown_target(target.strip())
    return parsed


def kind_of(target: str) -> str | None:
    """What `target` names ("url", "deployment", "provider", "model"), or None; starts nothing.

    `lz chat WORD` uses this to tell a target from a one-word prompt."""
    parsed = parse(target, known_only=True)
    return None if parsed is None else _KINDS[type(parsed)]


_KINDS = {UrlTarget: "url", DeploymentTarget: "deployment", ProviderTarget: "provider", ModelTarget: "model"}


# --- a client for it (starting a deployment only when asked) --------------------------------------


def resolve_target(
    target: str | None = None,
    *,
    start: bool = False,
    announce: Callable[[str], None] | None = None,
    model: str | None = None,
) -> ChatClient:
    """A ChatClient for a deployment name, model name, provider[:model], http(s) URL, or None (the
    default target). `start=True` lets a model with no running deployment be deployed (and says so
    through `announce`); otherwise that is a one-line error."""
    from lazycli import catalog

    announce = announce or note
    if target is None:
        return _default(announce, model, start=start)
    with catalog.reading():  # parse and open read the name once between them
        return open_target(require(target), start=start, announce=announce, model=model)


def open_target(
    parsed: Target, *, start: bool, announce: Callable[[str], None] | None = None, model: str | None = None
):
    """A ChatClient for a parsed target; a model is deployed only with `start=True`."""
    from lazycli import catalog

    with catalog.reading():
        return _open(parsed, start=start, announce=announce or note, model=model)


def _open(parsed: Target, *, start: bool, announce: Callable[[str], None], model: str | None) -> ChatClient:
    if isinstance(parsed, UrlTarget):
        return for_url(parsed.url, protocol=parsed.protocol, model=model)
    if isinstance(parsed, DeploymentTarget):
        return for_deployment(_refreshed(parsed.row), model=model)
    if isinstance(parsed, ProviderTarget):
        spec = _provider_spec(parsed.provider)
        if spec is None:  # an online fine-tune whose provider plugin is not loaded
            raise LzError(
                f"model {parsed.model!r} is served by provider {parsed.provider!r}, which is not loaded",
                hint="`lz plugins` lists the loaded providers",
            )
        return for_provider(spec, model=model or parsed.model, announce=announce)
    if start:
        return for_model(parsed.name, announce=announce, model=model)
    return _running_model(parsed.name, model=model)


def _running_model(name: str, *, model: str | None) -> ChatClient:
    deployments = _deployments_module()
    row = deployments.find_running(name) if deployments is not None else None
    if row is None:
        raise LzError(f"model {name!r} has no running deployment", hint=f"start one: `lz deploy {name}`")
    return for_deployment(row, model=model)


# --- each kind ------------------------------------------------------------------------------------


def for_url(
    url: str, *, protocol: str | None = "openai", model: str | None = None, template: str | None = None
):
    from lazycli.settings import HttpUrl, check_value

    check_value(HttpUrl, url, "the target URL")  # a port such as 99999 fails here, not as "refused"
    backend = _backend(protocol or "openai", url, name=url, template=template)
    model = model or _first_model(backend) or "default"
    if hasattr(backend, "default_embed_model"):
        backend.default_embed_model = backend.default_rerank_model = model
    return ChatClient(backend, target=url, model=model, label=url)


def for_deployment(row: Deployment, *, model: str | None = None) -> ChatClient:
    name = row.name
    if not row.status.reachable:
        raise LzError(
            f"deployment {name!r} is {row.status}, not running",
            hint=f"`lz deploy logs {name}` shows why; start it again: `lz deploy restart {name}`",
        )
    protocol = row.protocol or "openai"
    url = row.url or f"http://{row.host}:{row.port}" + ("/v1" if protocol == "openai" else "")
    served = model or row.served_name or row.model or name
    backend = _backend(
        protocol,
        url,
        name=f"deployment {name}",
        template=_template_of(row.model),
        served=served,
        engine=row.engine,
    )
    deployments = _deployments_module()
    if deployments is not None:  # an engine that died mid-request says so, instead of "ask again"
        backend = deployments.CrashAware(backend, name)
    return ChatClient(backend, target=name, model=served, label=f"{name} ({served})")


def for_provider(
    spec: Any, *, model: str | None = None, announce: Callable[[str], None] | None = None
) -> ChatClient:
    from lazycli.providers import connect

    backend = connect(spec, announce=announce)
    chosen = model or spec.default_model or _first_model(backend)
    if not chosen:
        raise LzError(f"no model given for {spec.name!r}", hint=f"use {spec.name}:MODEL or set default_model")
    return ChatClient(backend, target=f"{spec.name}:{chosen}", model=chosen, label=f"{spec.name}:{chosen}")


def for_model(name: str, *, announce: Callable[[str], None], model: str | None = None) -> ChatClient:
    deployments = _deployments_module()
    if deployments is None:
        raise LzError(
            f"cannot start model {name!r}: the deployments part is not installed",
            hint="deploy it elsewhere and pass its URL",
        )
    row = deployments.ensure_running(name, announce=announce)
    return for_deployment(row, model=model)


def _default(announce: Callable[[str], None], model: str | None, *, start: bool) -> ChatClient:
    from lazycli import settings

    configured = settings.get().default_target
    if configured:
        return resolve_target(configured, start=start, announce=announce, model=model)
    from lazycli.providers import key_for, needs_key

    for spec in _providers().values():
        if needs_key(spec) and key_for(spec)[0]:
            announce(f"using {spec.name} (its API key is set); pick another with `lz chat TARGET`")
            return for_provider(spec, model=model, announce=announce)
    return open_target(ModelTarget(BUNDLED_MODEL), start=start, announce=announce, model=model)


# --- helpers --------------------------------------------------------------------------------------


def _backend(
    protocol: str,
    url: str,
    *,
    name: str,
    template: str | None = None,
    served: str | None = None,
    engine: str | None = None,
):
    """The wire client for `protocol` at `url`: the OpenAI-compatible one, else the client the
    engine plugins' records give for it (`engine`'s own first, for a deployment)."""
    if protocol == "openai":
        from lazycli.client.http import OpenAICompatible

        # A self-hosted server (lz's embed engine, vLLM, llama.cpp…) serves /v1/embeddings and
        # /v1/rerank for the one model it runs: that model is the default for both.
        return OpenAICompatible(
            name,
            url,
            embed_path="/embeddings",
            rerank_path="/rerank",
            default_embed_model=served,
            default_rerank_model=served,
            announce=note,
        )
    from lazycli.engines import wire_client

    factory = wire_client(protocol, engine)
    if factory is None:
        raise LzError(
            f"{name} speaks protocol {protocol!r}, which no loaded engine plugin speaks",
            hint="use its OpenAI API; `lz plugins` lists the loaded engines",
        )
    return factory(name, re.sub(r"/v1/?$", "", url), template=template, announce=note)


def _first_model(backend: Any) -> str | None:
    """The first model a server lists (GET /models); None when it lists none or cannot."""
    lister = getattr(backend, "list_models", None)
    if lister is None:
        return None
    try:
        models = lister()
    except LzError:
        return None
    return models[0] if models else None


def _template_of(model: str | None) -> str | None:
    if not model:
        return None
    try:
        from lazycli import catalog

        return catalog.resolve(model).template
    except Exception:
        return None


def _deployments_module():
    try:
        from lazycli import deployments
    except ImportError:
        return None
    return deployments


def _refreshed(row: Deployment) -> Deployment:
    """The row checked now with its launcher, so a dead engine says so before any request."""
    deployments = _deployments_module()
    return deployments.reconcile_row(row) if deployments is not None else row


def _deployment(name: str) -> Deployment | None:
    deployments = _deployments_module()
    if deployments is None:
        return None
    try:
        return deployments.get(name)
    except LzError:
        return None


def _providers() -> dict:
    from lazycli.plugins import registry

    return registry().all("providers")


def _provider_spec(name: str):
    if not name:
        return None
    from lazycli.plugins import registry

    if name not in _providers():
        return None
    return registry().get("providers", name)  # a user error when two plugins claim the name


def _online_model(name: str) -> tuple[str, str] | None:
    try:
        from lazycli.finetune.online import online_model
    except ImportError:
        return None
    return online_model(name)


def _is_model(name: str, *, known_only: bool = False) -> bool:
    try:
        from lazycli import catalog

        ref = catalog.resolve(name)
    except (ImportError, LzError):
        return False
    if known_only:
        return bool(ref.ready or getattr(ref, "in_catalog", False) or ref.source in ("registered", "bundled"))
    return True


def _unknown_target(target: str) -> LzError:
    pool: list[str] = list(_providers())
    deployments = _deployments_module()
    if deployments is not None:
        with contextlib.suppress(Exception):  # suggestions are a nicety: never fail on them
            pool += [row.name for row in deployments.list_deployments()]
    try:
        from lazycli.catalog import data

        pool += data.names()
    except Exception:
        pass
    close = did_you_mean(target, pool)
    prefix, colon, rest = target.partition(":")
    if colon:  # a mistyped provider in provider:model
        close += [f"{name}:{rest}" for name in did_you_mean(prefix, list(_providers()))]
    close = list(dict.fromkeys(close))[:3]
    hint = ("did you mean " + " or ".join(repr(c) for c in close) + "? ") if close else ""
    hint += _TARGET_KINDS
    return LzError(f"unknown chat target {target!r}", hint=hint)
