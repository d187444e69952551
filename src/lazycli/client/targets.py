"""Target resolution: what `lz chat TARGET` (and rag, serve, recipes) talk to.

In order: an http(s) URL (OpenAI-compatible; `lightllm+http://…`, `vllm+http://…`,
`lmdeploy+http://…` pick another protocol), a deployment name (`lz deploy ls`), `provider[:model]`,
a model name (a running deployment of it is reused, else one is started and we say so). No target:
the configured `default_target`, else the first provider with a key, else the bundled model.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import Any

from lazycli.client import ChatClient
from lazycli.console import note
from lazycli.errors import LzError, did_you_mean

BUNDLED_MODEL = "smollm2-135m-instruct"
_SCHEMES = {"lightllm": "lightllm", "vllm": "vllm-generate", "lmdeploy": "lmdeploy", "openai": "openai"}
_TARGET_KINDS = (
    "a target is a deployment (`lz deploy ls`), a model (`lz models ls`), provider[:model] or a URL"
)
_URL = re.compile(r"^(?:(?P<proto>[a-z-]+)\+)?(?P<url>https?://\S+)$", re.I)


def resolve(target: str | None, *, announce: Callable[[str], None] | None = None, model: str | None = None):
    announce = announce or note
    if target is None:
        return _default(announce, model)
    if not target.strip():  # "" is a mistake (an unset shell variable), not a request for the default
        raise LzError("the target is empty", hint=_TARGET_KINDS)
    target = target.strip()
    url = _URL.match(target)
    if url:
        return for_url(
            url.group("url"), protocol=_SCHEMES.get((url.group("proto") or "openai").lower()), model=model
        )
    row = _deployment(target)
    if row is not None:
        return for_deployment(row, model=model)
    provider, _, provider_model = target.partition(":")
    spec = _provider_spec(provider)
    if spec is not None:
        return for_provider(spec, model=model or provider_model or None, announce=announce)
    online = _online_model(target)
    if online is not None:  # an online fine-tune registered by `lz finetune PROVIDER:MODEL`
        spec = _provider_spec(online[0])
        if spec is None:
            raise LzError(f"model {target!r} is served by provider {online[0]!r}, which is not loaded",
                          hint="`lz plugins` lists the loaded providers")  # fmt: skip
        return for_provider(spec, model=model or online[1], announce=announce)
    if _is_model(target):
        return for_model(target, announce=announce, model=model)
    raise _unknown_target(target)


def kind_of(target: str) -> str | None:
    """What `target` names ("url", "deployment", "provider", "model"), or None; starts nothing.

    `lz chat WORD` uses this to tell a target from a one-word prompt; a model counts only when it
    is known here (catalogue, registered or on disk), so a stray word never starts a download.
    """
    if _URL.match(target):
        return "url"
    if _deployment(target) is not None:
        return "deployment"
    if _provider_spec(target.partition(":")[0]) is not None:
        return "provider"
    if _is_model(target, known_only=True):
        return "model"
    return None


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


def for_deployment(row: dict, *, model: str | None = None) -> ChatClient:
    name = row.get("name") or "?"
    status = str(row.get("status") or "")
    if status and status not in ("running", "starting", "unknown"):
        raise LzError(
            f"deployment {name!r} is {status}, not running",
            hint=f"`lz deploy logs {name}` shows why; start it again: `lz deploy restart {name}`",
        )
    protocol = row.get("protocol") or "openai"
    url = row.get("url") or (
        f"http://{row.get('host')}:{row.get('port')}" + ("/v1" if protocol == "openai" else "")
    )
    served = model or row.get("served_name") or row.get("model") or name
    backend = _backend(
        protocol, url, name=f"deployment {name}", template=_template_of(row.get("model")), served=served
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


def _default(announce: Callable[[str], None], model: str | None) -> ChatClient:
    from lazycli import settings

    configured = settings.get().default_target
    if configured:
        return resolve(configured, announce=announce, model=model)
    from lazycli.providers import key_for, needs_key

    for spec in _providers().values():
        if needs_key(spec) and key_for(spec)[0]:
            announce(f"using {spec.name} (its API key is set); pick another with `lz chat TARGET`")
            return for_provider(spec, model=model, announce=announce)
    return for_model(BUNDLED_MODEL, announce=announce, model=model)


# --- helpers --------------------------------------------------------------------------------------


def _backend(protocol: str, url: str, *, name: str, template: str | None = None, served: str | None = None):
    if protocol == "openai":
        from lazycli.providers import OpenAICompatible

        # A self-hosted server (lz's embed engine, vLLM, llama.cpp…) serves /v1/embeddings and
        # /v1/rerank for the one model it runs: that model is the default for both.
        return OpenAICompatible(
            name,
            url,
            embed_path="/embeddings",
            rerank_path="/rerank",
            default_embed_model=served,
            default_rerank_model=served,
        )
    from lazycli.client.adapters import PROTOCOLS

    cls = PROTOCOLS.get(protocol)
    if cls is None:
        raise LzError(
            f"{name} speaks protocol {protocol!r}, which lz cannot talk to", hint="use its OpenAI API"
        )
    base = re.sub(r"/v1/?$", "", url)
    return cls(name, base, template=template) if protocol != "lmdeploy" else cls(name, base)


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


def _deployment(name: str) -> dict | None:
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
            pool += [row["name"] for row in deployments.list_deployments(reconcile=False)]
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
