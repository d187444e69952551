"""`lz pack RECIPE --out DIR`: a container build file and Kubernetes manifests for a recipe's app."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(add_completion=False)


@app.command()
def pack(
    recipe: str = typer.Argument(..., help="Recipe file (.toml) whose app to pack."),
    out: Path = typer.Option(..., "--out", "-o", help="A new folder for the Dockerfile, manifests and app."),
    image: str | None = typer.Option(None, "--image", help="Image in the manifests (default: lz-app-NAME)."),
    namespace: str = typer.Option("default", "--namespace", help="Kubernetes namespace of the objects."),
    json_: bool = typer.Option(False, "--json", help="Print what was written as JSON."),
) -> None:
    """Write what a cluster needs to run RECIPE's app without lz on your side: a Dockerfile with
    pinned dependencies and the recipe's models, and Kubernetes manifests (app, model servers,
    services) built with the official client's models.

    \b
    Examples:
      lz pack recipes/rag.toml --out build/rag
      lz pack recipes/rag.toml --out build/rag --image registry.example/rag:1 --namespace ml
    """
    from lazycli.console import note, print_json, want_json
    from lazycli.pack import pack as write

    result = write(recipe, out, image=image, namespace=namespace)
    if want_json(json_):
        print_json(result)
        return
    note(f"packed into {result['out']}: {', '.join(result['files'])}")
    print("\n".join(result["objects"]))
    where = result["out"]
    note(f"next: docker build -t {result['image']} {where} && kubectl apply -f {where}/k8s.yaml")
