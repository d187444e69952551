"""The k8s launcher's objects, checked against the API schema through the official client's
models, and its status mapping from pod phases, container states and reasons."""

from __future__ import annotations

import pytest

pytest.importorskip("kubernetes")

from kubernetes import client  # noqa: E402

from lazycli.errors import LzError  # noqa: E402
from lazycli.launchers import Resources, Status, map_state  # noqa: E402
from lazycli_plugins.k8s.launcher import REASONS, K8sLauncher, _reasons  # noqa: E402
from tests.launchers.fakes.kube_api import schema_check  # noqa: E402

SERVE = ["vllm", "serve", "/models/q", "--port", "{port}", "--tensor-parallel-size", "2"]


def _as_json(objects):
    api = client.ApiClient()
    return [(type(o).__name__, api.sanitize_for_serialization(o)) for o in objects]


def test_a_service_is_a_deployment_and_a_service_with_a_secret(fake_kube):
    objects = K8sLauncher().manifests(
        SERVE, Resources(gpus=2, memory="32G"), {"HF_TOKEN": "tok"}, "lz-q-1", "ns"
    )
    docs = _as_json(objects)
    assert [d["kind"] for _, d in docs] == ["Secret", "Deployment", "Service"]
    for model, doc in docs:
        assert schema_check(doc, model) is None
    deployment = docs[1][1]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["command"][:3] == ["vllm", "serve", "/models/q"] and "8000" in container["command"]
    assert container["resources"]["limits"] == {"nvidia.com/gpu": "2", "memory": "32Gi"}
    assert container["envFrom"] == [{"secretRef": {"name": "lz-q-1"}}]
    assert "tok" not in str(deployment)  # the value lives in the Secret only
    service = docs[2][1]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == 8000


def test_batch_work_is_a_job_with_its_deadline(fake_kube):
    objects = K8sLauncher().manifests(
        ["python", "train.py"], Resources(time_limit="1-02:00:00"), {}, "lz-t", "ns"
    )
    ((model, job),) = _as_json(objects)
    assert schema_check(job, model) is None
    assert job["kind"] == "Job" and job["spec"]["backoffLimit"] == 0
    assert job["spec"]["activeDeadlineSeconds"] == 26 * 3600
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_the_schema_check_catches_what_the_api_would_refuse():
    good = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "x"},
        "spec": {"ports": [{"port": 80}]},
    }
    assert schema_check(good, "V1Service") is None
    typo = {**good, "spec": {"ports": [{"port": 80, "targetport": 8000}]}}
    assert "targetport" in schema_check(typo, "V1Service")
    assert schema_check({"kind": "Deployment", "spec": {"template": {}}}, "V1Deployment") is not None


def test_no_image_is_a_user_error(fake_kube, monkeypatch):
    from lazycli import settings

    monkeypatch.delenv("LAZYCLI_K8S_IMAGE")
    settings.reset_cache()
    with pytest.raises(LzError, match="k8s_image"):
        K8sLauncher().manifests(SERVE, Resources(), {}, "lz-x", "ns")


def test_describe_prints_the_manifests_without_secret_values(fake_kube):
    text = K8sLauncher().describe(SERVE, Resources(gpus=2), {"HF_TOKEN": "hf_abc123"})
    import yaml

    docs = list(yaml.safe_load_all(text))  # the manifests as YAML, ready for kubectl apply -f
    assert [d["kind"] for d in docs if d] == ["Secret", "Deployment", "Service"] and "nvidia.com/gpu" in text
    assert "HF_TOKEN" in text and "hf_abc123" not in text


def _pod(phase, waiting=None, terminated=None, reason=None):
    state = client.V1ContainerState(
        waiting=client.V1ContainerStateWaiting(reason=waiting) if waiting else None,
        terminated=client.V1ContainerStateTerminated(exit_code=137, reason=terminated)
        if terminated
        else None,
    )
    status = client.V1ContainerStatus(
        name="main", image="i", image_id="", ready=False, restart_count=1, state=state
    )
    return client.V1Pod(status=client.V1PodStatus(phase=phase, reason=reason, container_statuses=[status]))


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        (_pod("Running", terminated="OOMKilled"), Status.OUT_OF_MEMORY),
        (_pod("Pending", waiting="ImagePullBackOff"), Status.FAILED),
        (_pod("Running", waiting="CrashLoopBackOff"), Status.FAILED),
        (_pod("Failed", reason="Evicted"), Status.PREEMPTED),
        (_pod("Failed", reason="DeadlineExceeded"), Status.TIMEOUT),
        (_pod("Pending", waiting="ContainerCreating"), None),
    ],
)
def test_pod_reasons_say_more_than_the_phase(pod, expected):
    found = [map_state(REASONS, r) for r in _reasons(pod)]
    assert (found[0] if found else None) == expected


def test_a_multi_node_set_with_a_pinned_port_is_refused(fake_kube):
    pinned = [a.replace("{port}", "9000") for a in SERVE]
    with pytest.raises(LzError, match="not a pinned --port"):
        K8sLauncher().manifests(pinned, Resources(nodes=2, gpus=2, cluster="ray"), {}, "lz-x", "ns")
