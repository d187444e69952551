"""Recipes: TOML files that name models, indexes, steps and an app (a flow), run by `lz run` and
served by `lz serve`.

    from lazycli import recipes
    loaded = recipes.load("recipes/rag.toml", ["models.llm.model=qwen2-1.5b"])
    run = recipes.execute(loaded)                  # deploy / reuse, index, steps
    app = recipes.build_app(loaded, run.results)   # a lazycli.flow node
    answer, sources = recipes.ask(app, "What is lazycli?")

Modules: `schema` (pydantic, JSON schema export), `loader` (file:line errors, `${ENV}`, references,
cycles), `runner` (plan, execute, stop on failure), `compile` (app → flow).
"""

from __future__ import annotations

from typing import Any

from lazycli.recipes.loader import LoadedRecipe, load
from lazycli.recipes.runner import Action, Run, execute, plan


def build_app(loaded: LoadedRecipe, results: dict[str, Any], **kw: Any):
    from lazycli.recipes.compile import compile_app

    return compile_app(loaded, results, **kw)


def ask(app, value: Any, *, history: list[dict] | None = None, options: dict | None = None):
    """Run an app once: (output, sources)."""
    from lazycli.flow import Context

    ctx = Context(input=value, history=list(history or []), options=dict(options or {}))
    output = app.run(value, ctx)
    return output, ctx.sources


__all__ = ["Action", "LoadedRecipe", "Run", "ask", "build_app", "execute", "load", "plan"]
