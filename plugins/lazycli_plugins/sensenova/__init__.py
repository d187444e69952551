"""SenseNova (SenseTime): OpenAI-compatible chat under /compatible-mode/v1, native embeddings.

Chat takes `max_new_tokens` where OpenAI says max_tokens. Embeddings are the native API:
POST https://api.sensenova.cn/v1/llm/embeddings {model, input: [...]} → {embeddings: [{index,
embedding}]}. Errors are mapped by HTTP status (401 auth, 429 rate limit, …).
"""

from __future__ import annotations

from lazycli.hookspecs import ProviderSpec, hookimpl
from lazycli.providers import compat_factory
from lazycli_plugins.sensenova.finetune import SenseNovaTuner


@hookimpl
def lazycli_providers():
    yield ProviderSpec(
        name="sensenova",
        base_url="https://api.sensenova.cn/compatible-mode/v1",
        default_model="SenseChat-5",
        key_env_vars=("LAZYCLI_SENSENOVA_API_KEY", "SENSENOVA_API_KEY"),
        models=("SenseChat-5", "SenseChat-Turbo", "SenseChat-128K"),
        embed=True,
        default_embed_model="nova-embedding-stable",
        client_factory=compat_factory(
            option_names={"max_tokens": "max_new_tokens"},
            embed_path="//v1/llm/embeddings",
            embed_style="native-sensenova",
            stream_usage=False,
        ),
        finetune=SenseNovaTuner(),
        description="SenseTime SenseNova (Bearer key)",
    )
