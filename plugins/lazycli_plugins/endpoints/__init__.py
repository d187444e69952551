"""OpenAI-compatible endpoints added by configuration alone (llm's idea), no plugin needed:

    # config.toml (or `lz config set endpoints.local.base_url http://127.0.0.1:8000/v1`)
    [endpoints.local]
    base_url = "http://127.0.0.1:8000/v1"
    key_env = "LOCAL_API_KEY"        # optional: the env var holding its key
    default_model = "qwen2"          # optional; else the first of `models`, else the server's first
    models = ["qwen2"]

The config file is read with tomllib here (not through pydantic settings) so that `lz plugins`
stays fast; entries without a base_url are skipped.
"""

from __future__ import annotations

import tomllib

from lazycli.hookspecs import ProviderSpec, hookimpl


def _endpoints() -> dict:
    from lazycli.paths import config_path

    try:
        with open(config_path(), "rb") as fh:
            data = tomllib.load(fh)
    except (FileNotFoundError, tomllib.TOMLDecodeError):
        return {}
    table = data.get("endpoints")
    return table if isinstance(table, dict) else {}


@hookimpl
def lazycli_providers():
    for name, entry in sorted(_endpoints().items()):
        if not isinstance(entry, dict) or not isinstance(entry.get("base_url"), str):
            continue
        models = tuple(str(m) for m in entry.get("models") or ())
        key_env = entry.get("key_env")
        yield ProviderSpec(
            name=name,
            base_url=entry["base_url"],
            default_model=str(entry.get("default_model") or (models[0] if models else "")),
            key_env_vars=(key_env,) if key_env else (),
            models=models,
            description=f"OpenAI-compatible endpoint from the config file ({entry['base_url']})",
        )
