"""Online providers: from a provider plugin's `ProviderSpec` to a ready client (its key, base URL
override and quirks). The client itself, the OpenAI-compatible wire with its error mapping and
retries, lives in `lazycli.client.http`; its names are re-exported here for provider plugins.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lazycli.client.http import (  # noqa: F401 - the names provider plugins import from here
    KIND_HINTS,
    MAX_BACKOFF_S,
    RETRY_STATUS,
    HttpEndpoint,
    OpenAICompatible,
    Provider,
    ProviderError,
    backoff_delay,
    classify,
    error_from_response,
    is_loopback,
    normalize_usage,
    parse_retry_after,
    tool_call_deltas,
)
from lazycli.console import note
from lazycli.errors import LzError

if TYPE_CHECKING:  # pragma: no cover
    from lazycli.hookspecs import ProviderSpec


# --- from a ProviderSpec to a client ------------------------------------------------------------


def base_url_env(name: str) -> str:
    """LAZYCLI_<NAME>_BASE_URL overrides a provider's base URL (a proxy, a regional endpoint)."""
    return "LAZYCLI_" + re.sub(r"[^A-Z0-9]", "_", name.upper()) + "_BASE_URL"


def compat_factory(**fixed: Any) -> Callable[..., OpenAICompatible]:
    """A `ProviderSpec.client_factory` for an OpenAI-compatible vendor with its own quirks.

    The factory is called as `factory(spec, base_url=..., api_key=..., key_source=..., **kw)`.
    """

    def factory(spec: ProviderSpec, **kwargs: Any) -> OpenAICompatible:
        args = {
            "default_embed_model": spec.default_embed_model,
            "default_rerank_model": spec.default_rerank_model,
            "rerank_path": spec.rerank_path,
        }
        if not spec.embed:
            args["embed_path"] = None
        args.update(fixed)
        args.update(kwargs)
        base_url = args.pop("base_url", spec.base_url)
        return OpenAICompatible(spec.name, base_url, **args)

    return factory


def missing_key_error(spec: ProviderSpec) -> LzError:
    from lazycli.keys import env_var_for

    names = list(dict.fromkeys((env_var_for(spec.name), *spec.key_env_vars)))
    return LzError(
        f"no API key for provider {spec.name!r}: set {' or '.join(names)}",
        hint=f"or store one with `lz keys set {spec.name}`",
    )


def key_for(spec: ProviderSpec) -> tuple[str | None, str | None]:
    from lazycli.keys import get_key

    return get_key(spec.name, spec.key_env_vars)


def needs_key(spec: ProviderSpec) -> bool:
    return bool(spec.key_env_vars)


def connect(spec: ProviderSpec, *, announce: Callable[[str], None] | None = None) -> Provider:
    """A ready client for `spec`: its key (or a clear missing-key error), base URL override, quirks."""
    key, source = key_for(spec)
    if key is None and needs_key(spec):
        raise missing_key_error(spec)
    base_url = os.environ.get(base_url_env(spec.name)) or spec.base_url
    factory = spec.client_factory or compat_factory()
    announce = announce or note  # retry notes on the console (the wire layer alone would log them)
    return factory(spec, base_url=base_url, api_key=key, key_source=source, announce=announce)
