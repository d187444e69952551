"""`lz pack RECIPE --out DIR`: the Dockerfile, pinned requirements and Kubernetes manifests; the
manifests round-trip through the official client's models, and the command the app's Deployment
runs works against a model server reached by URL (a real llama.cpp standing in for the Service)."""

from __future__ import annotations

import json
from importlib import metadata

import pytest
import yaml

from tests.conftest import REPO, lz

RAG = str(REPO / "recipes" / "rag.toml")


@pytest.fixture
def packed(tmp_path):
    out = tmp_path / "build"
    result = json.loads(
        lz("pack", RAG, "--out", str(out), "--image", "reg.example/rag:1", "--json", check=0).stdout
    )
    return out, result


def _objects(out):
    from kubernetes.client import ApiClient

    api = ApiClient()
    docs = list(yaml.safe_load_all((out / "k8s.yaml").read_text()))
    kinds = {"Deployment": "V1Deployment", "Service": "V1Service"}
    # The client's own deserializer: an unknown field or a wrong type would not survive the trip.
    models = [api._ApiClient__deserialize(doc, kinds[doc["kind"]]) for doc in docs]
    assert [api.sanitize_for_serialization(m) for m in models] == docs
    return {(m.kind, m.metadata.name): m for m in models}


def test_the_manifests_round_trip_through_the_kubernetes_models(packed):
    out, result = packed
    objects = _objects(out)
    assert set(objects) == {("Deployment", "lz-model-llm"), ("Service", "lz-model-llm"),
                            ("Deployment", "lz-app-rag"), ("Service", "lz-app-rag")}  # fmt: skip
    model = objects["Deployment", "lz-model-llm"].spec.template.spec.containers[0]
    assert (
        model.command[:3] == ["lz", "serve", "smollm2-135m-instruct"] and model.image == "reg.example/rag:1"
    )
    app = objects["Deployment", "lz-app-rag"].spec.template.spec.containers[0]
    assert app.command[:3] == ["lz", "serve", "/app/rag.toml"]
    assert "models.llm.url=http://lz-model-llm:8000/v1" in app.command
    service = objects["Service", "lz-model-llm"]
    assert service.spec.selector == objects["Deployment", "lz-model-llm"].spec.selector.match_labels
    assert result["objects"] == ["Deployment/lz-model-llm", "Service/lz-model-llm",
                                 "Deployment/lz-app-rag", "Service/lz-app-rag"]  # fmt: skip


def test_the_image_pins_what_lz_runs_with_here_and_carries_the_app(packed):
    out, _ = packed
    pins = dict(
        line.split("==") for line in (out / "requirements.txt").read_text().splitlines() if "==" in line
    )
    for dist in ("pydantic", "typer", "lancedb", "llama-cpp-python", "torch"):
        assert pins[dist] == metadata.version(dist), dist
    dockerfile = (out / "Dockerfile").read_text()
    assert dockerfile.splitlines()[1].startswith("FROM python:3.11")
    assert 'CMD ["lz", "serve", "/app/rag.toml"' in dockerfile and "-DGGML_NATIVE=OFF" in dockerfile
    assert (out / "app" / "rag.toml").is_file() and (out / "app" / "data" / "kb").is_dir()
    assert (out / "lazycli" / "pyproject.toml").is_file() and (out / "lazycli" / "src" / "lazycli").is_dir()


def test_a_folder_that_is_not_empty_is_refused_and_kept(tmp_path):
    out = tmp_path / "build"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    proc = lz("pack", RAG, "--out", str(out), check=2)
    assert "is not empty" in proc.stderr and (out / "mine.txt").read_text() == "keep"


@pytest.mark.slow
@pytest.mark.integration
def test_the_app_command_of_the_manifest_answers_through_a_model_url(packed, llamacpp_url, lz_home):
    """What the app's Deployment runs, with the model Service replaced by a real llama.cpp server."""
    out, _ = packed
    proc = lz("run", str(out / "app" / "rag.toml"), "--set", f"models.llm.url={llamacpp_url}", "--json",
              "What causes tides?", check=0)  # fmt: skip
    result = json.loads(proc.stdout)
    assert str(result["output"]).strip() and result["results"]["models"]["llm"]["url"] == llamacpp_url
    assert json.loads(lz("deploy", "ls", "--json", check=0).stdout)["deployments"] == []  # nothing deployed
