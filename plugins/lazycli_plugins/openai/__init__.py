"""OpenAI: chat (streaming with usage), embeddings, online fine-tuning. An ordinary plugin."""

from __future__ import annotations

from lazycli.hookspecs import ProviderSpec, hookimpl
from lazycli_plugins.openai.finetune import OpenAITuner


@hookimpl
def lazycli_providers():
    yield ProviderSpec(
        name="openai",
        base_url="https://api.openai.com/v1",
        default_model="gpt-4o-mini",
        key_env_vars=("LAZYCLI_OPENAI_API_KEY", "OPENAI_API_KEY"),
        models=("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1"),
        embed=True,
        default_embed_model="text-embedding-3-small",
        finetune=OpenAITuner(),
        description="OpenAI API (Bearer key); errors: invalid_api_key, insufficient_quota, "
        "rate_limit_exceeded, model_not_found, context_length_exceeded",
    )
