"""`lz recipe validate RECIPE` and `lz recipe schema`."""

from __future__ import annotations

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Check recipes and print their schema.",
    epilog="Examples: lz recipe validate recipes/rag.toml · lz recipe schema > recipe.schema.json",
)


@app.command()
def validate(
    recipe: str = typer.Argument(..., help="Recipe file (.toml)."),
    set_: list[str] = typer.Option([], "--set", help="Override a value first: --set models.llm.model=NAME."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Check a recipe: TOML syntax, keys and types, references and cycles, models and providers.
    Errors name the file, line and field path, and suggest the closest valid key (exit 2).

    \b
    Examples:
      lz recipe validate recipes/rag.toml
      lz recipe validate my.toml --set models.llm.model=qwen2-1.5b
    """
    from lazycli import recipes
    from lazycli.console import print_json, want_json

    loaded = recipes.load(recipe, set_)
    order = recipes.loader.check_references(loaded)
    spec = loaded.spec
    summary = {
        "recipe": str(loaded.path),
        "name": loaded.name,
        "valid": True,
        "models": list(spec.models),
        "indexes": list(spec.indexes),
        "steps": len(spec.steps),
        "app": loaded.app_name if spec.app else None,
        "order": order,
    }
    if want_json(json_):
        print_json(summary)
        return
    app_part = f", app {summary['app']!r}" if spec.app else ""
    print(
        f"{loaded.path}: ok ({len(spec.models)} model(s), {len(spec.indexes)} index(es), "
        f"{len(spec.steps)} step(s){app_part})"
    )


@app.command()
def schema(
    output: str = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),
) -> None:
    """Print the recipe JSON schema (draft 2020-12), for editors and CI checks.

    \b
    Examples:
      lz recipe schema > recipe.schema.json
      lz recipe schema -o recipe.schema.json
    """
    import json

    from lazycli.recipes.schema import json_schema

    text = json.dumps(json_schema(), indent=2) + "\n"
    if output:
        from pathlib import Path

        from lazycli.fsutil import atomic_write_text

        atomic_write_text(Path(output), text)
    else:
        print(text, end="")
