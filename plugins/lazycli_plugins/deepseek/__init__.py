"""DeepSeek: OpenAI-compatible chat (https://api.deepseek.com); no embeddings."""

from __future__ import annotations

from lazycli.hookspecs import ProviderSpec, hookimpl
from lazycli.providers import compat_factory

# DeepSeek reports errors by HTTP status with OpenAI-style bodies: 401 auth ("Authentication
# Fails"), 402 insufficient balance, 400 "Model Not Exist", 422 bad parameters, 429 rate limit,
# 500/503 server busy; the generic mapping covers them, these types are explicit.
ERROR_CODES = {"authentication_error": "auth", "rate_limit_error": "rate_limit"}


@hookimpl
def lazycli_providers():
    yield ProviderSpec(
        name="deepseek",
        base_url="https://api.deepseek.com",
        default_model="deepseek-chat",
        key_env_vars=("LAZYCLI_DEEPSEEK_API_KEY", "DEEPSEEK_API_KEY"),
        models=("deepseek-chat", "deepseek-reasoner"),
        client_factory=compat_factory(error_codes=ERROR_CODES),
        description="DeepSeek API (Bearer key)",
    )
