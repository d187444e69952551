"""`lz deploy MODEL --engine vllm --launcher k8s --nodes N --gpus G`: a Ray head pod + worker pods.
The 2-node manifests by golden file, each valid for the official client's models; two nodes end to
end on the stand-in API server, whose pods run here: the worker joins the head's stand-in Ray
cluster through the headless Service's address, the head's stand-in vLLM serves over both nodes,
and `lz deploy stop` deletes every object it made."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml

from lazycli.fsutil import free_port
from tests.conftest import lz
from tests.deploy.conftest import STANDINS, served_argv

pytest.importorskip("kubernetes")

from tests.launchers.fakes.kube_api import FakeKube, schema_check  # noqa: E402

GOLDEN = Path(__file__).parent / "golden" / "vllm-qwen2-72b-2-nodes.k8s.yaml"
BIG = "qwen2-72b-instruct"
MODELS = {"Secret": "V1Secret", "Service": "V1Service", "Deployment": "V1Deployment"}


def _manifests(text: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def test_the_two_node_manifests_are_a_head_and_a_worker_set(lz_home):
    env = {"LAZYCLI_K8S_IMAGE": "vllm/vllm-openai:v0.6.3", "LAZYCLI_K8S_NAMESPACE": "llm"}
    args = ["deploy", BIG, "--engine", "vllm", "--launcher", "k8s", "--nodes", "2", "--gpus", "16"]
    plan = json.loads(lz(*args, "--dry-run", "--json", env=env, check=0).stdout)
    text = re.sub(r"lz-job-[0-9a-f]{6}", "lz-job-NAME", plan["launcher_wrapping"])  # a fresh name per run
    if os.environ.get("LZ_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()
    docs = _manifests(text)
    for doc in docs:  # each survives the trip through the client's models unchanged
        assert schema_check(doc, MODELS[doc["kind"]]) is None
    objects = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    headless = objects["Service", "lz-job-NAME-ray"]["spec"]
    head = objects["Deployment", "lz-job-NAME"]["spec"]
    workers = objects["Deployment", "lz-job-NAME-worker"]["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    assert headless["selector"] == head["selector"]["matchLabels"] != workers["selector"]["matchLabels"]
    assert (head["replicas"], workers["replicas"]) == (1, 1)
    for spec in (head, workers):
        (container,) = spec["template"]["spec"]["containers"]
        assert container["resources"]["limits"] == {"nvidia.com/gpu": "8"}
        assert {
            "name": "VLLM_HOST_IP",
            "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}},
        } in container["env"]
    (worker,) = workers["template"]["spec"]["containers"]
    assert {"name": "LZ_RAY_HEAD", "value": "lz-job-NAME-ray.llm.svc:6379"} in worker["env"]
    (serve,) = head["template"]["spec"]["containers"]
    assert (
        "--tensor-parallel-size 8 --pipeline-parallel-size 2 --distributed-executor-backend ray"
        in (serve["command"][2])
    )
    assert objects["Service", "lz-job-NAME"]["spec"]["selector"] == head["selector"]["matchLabels"]


@pytest.fixture
def kube(tmp_path, lz_home, standin_env, monkeypatch):
    """The stand-in API server; its pods run here with the stand-in `ray` and `vllm` on PATH."""
    monkeypatch.setenv("RAY_STANDIN_DIR", str(tmp_path))  # the stand-in Ray cluster's file lives here
    with FakeKube(tmp_path) as fake:
        env = {
            "KUBECONFIG": str(fake.kubeconfig(tmp_path / "kubeconfig")),
            "LAZYCLI_K8S_IMAGE": "vllm/vllm-openai:v0.6.3",
            "LAZYCLI_K8S_NAMESPACE": "llm",
            "LAZYCLI_K8S_PORT": str(free_port()),
        }
        yield fake, env


def test_two_nodes_serve_through_the_head_and_stop_deletes_everything(kube, hf_dir):
    fake, env = kube
    args = ["--engine", "vllm", "--launcher", "k8s", "--nodes", "2", "--name", "mn2", "--json"]
    row = json.loads(lz("deploy", str(hf_dir), *args, env=env, timeout=120, check=0).stdout)
    created = [
        (path.split("/")[-1], body["metadata"]["name"]) for m, path, body in fake.requests if m == "POST"
    ]
    name = row["job"]["job_id"]
    assert created == [
        ("secrets", name),  # the environment (secrets included) reaches the pods from here only
        ("services", f"{name}-ray"),
        ("deployments", name),
        ("deployments", f"{name}-worker"),
        ("services", name),
    ]
    pods = list(fake.pods.values())
    assert len(pods) == 2
    try:
        parsed = served_argv(row["url"])["parsed"]
        # vLLM ran on the head once the worker pod had joined: a Ray cluster of two nodes
        assert parsed["distributed_executor_backend"] == "ray" and parsed["ray_nodes"] == 2
        assert (parsed["tensor_parallel_size"], parsed["pipeline_parallel_size"]) == (1, 2)
        assert "waiting for 2 node(s)" in lz("deploy", "logs", "mn2", env=env, check=0).stdout
    finally:
        lz("deploy", "stop", "mn2", env=env, check=0)
    deleted = {(path.split("/")[-2], path.split("/")[-1]) for m, path, _ in fake.requests if m == "DELETE"}
    assert deleted >= {(kind, obj) for kind, obj in created}
    assert not [key for key in fake.objects if key[2].startswith(name)]
    assert all(pod.proc.poll() is not None for pod in pods)  # the head and the worker pod are gone


def test_a_launcher_that_cannot_span_nodes_names_those_that_can(lz_home):
    proc = lz("deploy", BIG, "--engine", "vllm", "--launcher", "sco", "--nodes", "2", "--gpus", "16", check=2)
    assert "launcher sco runs jobs on one node (hint: use --launcher k8s or ray or slurm)" in proc.stderr
    assert json.loads(lz("deploy", "ls", "--json", check=0).stdout)["deployments"] == []


@pytest.mark.parametrize("launcher", ["ray", "k8s"])
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--nodes", "4", "--gpus", "6"], "--gpus 6 does not divide across --nodes 4"),
        (["--nodes", "2", "--gpus", "2"], "needs about 174 GB in 16-bit: at least 4 GPUs"),
        (["--nodes", "0", "--gpus", "8"], "--nodes 0: at least 1"),
    ],
)
def test_bad_spreads_are_one_line_on_the_cluster_launchers_too(lz_home, launcher, args, message):
    # No Ray head and no Kubernetes API answer here: the plan refuses before either is asked.
    proc = lz("deploy", BIG, "--engine", "vllm", "--launcher", launcher, *args, check=2)
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_a_worker_that_cannot_join_fails_the_set_and_leaves_nothing(kube, hf_dir, tmp_path, monkeypatch):
    fake, env = kube
    no_join = tmp_path / "ray-no-join"  # the stand-in ray, except that a worker never reaches the head
    no_join.write_text(
        '#!/bin/sh\ncase "$*" in *"start --address="*) echo "ConnectionError: no head" >&2; exit 1;; esac\n'
        f'exec "{STANDINS / "bin" / "ray"}" "$@"\n'
    )
    no_join.chmod(0o755)
    monkeypatch.setenv("LAZYCLI_RAY_BIN", str(no_join))
    monkeypatch.setenv("LZ_RAY_JOIN_TRIES", "1")  # give up at once instead of after 5 minutes
    args = ["--engine", "vllm", "--launcher", "k8s", "--nodes", "2", "--name", "mn3"]
    proc = lz("deploy", str(hf_dir), *args, env=env, timeout=120)
    assert proc.returncode != 0 and "worker pod lz-deploy-mn3-" in proc.stderr
    assert "CrashLoopBackOff" in proc.stderr
    assert fake.objects == {} and all(pod.proc.poll() is not None for pod in fake.pods.values())
