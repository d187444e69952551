"""Kimi (Moonshot AI): OpenAI-compatible chat at https://api.moonshot.cn/v1.

Moonshot names errors by `type` (invalid_authentication_error, exceeded_current_quota_error,
rate_limit_reached_error, engine_overloaded_error, resource_not_found_error, …) and puts the final
usage of a stream inside the last choice, which the OpenAI-compatible base reads too.
"""

from __future__ import annotations

from lazycli.hookspecs import ProviderSpec, hookimpl
from lazycli.providers import compat_factory

ERROR_CODES = {
    "invalid_authentication_error": "auth",
    "permission_denied_error": "auth",
    "exceeded_current_quota_error": "quota",
    "rate_limit_reached_error": "rate_limit",
    "engine_overloaded_error": "server",
    "resource_not_found_error": "model_not_found",
}


@hookimpl
def lazycli_providers():
    yield ProviderSpec(
        name="kimi",
        base_url="https://api.moonshot.cn/v1",
        default_model="moonshot-v1-8k",
        key_env_vars=("LAZYCLI_KIMI_API_KEY", "MOONSHOT_API_KEY"),
        models=("moonshot-v1-8k", "moonshot-v1-32k", "moonshot-v1-128k", "kimi-k2-0711-preview"),
        client_factory=compat_factory(error_codes=ERROR_CODES),
        description="Moonshot AI Kimi (Bearer key)",
    )
