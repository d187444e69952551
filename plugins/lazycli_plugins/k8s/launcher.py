"""Run jobs on Kubernetes with the official client.

An argv with the `{port}` placeholder is a service: a Deployment (one pod) plus a ClusterIP
Service in front of it; any other argv is batch work: a Job with `backoffLimit: 0`. A pod has its
own network namespace, so the port is the container port (default 8000, `extra["port"]`), which
the Service exposes; `endpoint(job)` is the Service's address. Secrets go into a Secret object
that the container reads through `envFrom`; manifests never carry their values.
Status comes from the Job's conditions or the pods' phases, container states and reasons.

Multi-node (`lz deploy … --nodes N`, Resources.cluster == "ray"): a Ray head + worker set. The head
is a Deployment of one pod that starts a Ray head, waits until N nodes have joined, then runs the
command (vLLM with its Ray executor) with RAY_ADDRESS set; the workers are a Deployment of N-1 pods
that join the head through a headless Service (published before the head is ready: it turns ready
only once vLLM serves, after the workers joined). Plain Deployments, not a LeaderWorkerSet: LWS is a
CRD that must be installed first and that the official client has no models for; workers need no
stable identity (they find the head by the Service), so a StatefulSet would only order their start.
Every pod gets nvidia.com/gpu = GPUs per node, a memory-backed /dev/shm (NCCL) and VLLM_HOST_IP =
its pod IP, the address Ray knows it by (`ray start --node-ip-address`).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

from lazycli.errors import LzError
from lazycli.launchers import (
    Job,
    Resources,
    Status,
    env_names,
    fill_port,
    map_state,
    needs_port,
    resources_text,
    shell_argv,
)

NAME = "k8s"
DEFAULT_PORT = 8000
MANAGED_BY = {"app.kubernetes.io/managed-by": "lazycli"}
JOB_LABEL = "lazycli.io/job"
PART_OF = "lazycli.io/part-of"  # every object and pod of one multi-node deployment
RAY_PORT = 6379  # the Ray head's GCS port (Ray's default)

# The head pod: a Ray head, then the command once every node has joined (the same wait as the Slurm
# job script's; `ray status` lists one ` node_…` line per live node). `{nodes}` is filled in.
RAY_HEAD = """\
RAY=${{LAZYCLI_RAY_BIN:-ray}}
export RAY_ADDRESS="$POD_IP:{port}"
echo "lz: ray head at $RAY_ADDRESS, waiting for {nodes} node(s)"
"$RAY" start --head --node-ip-address="$POD_IP" --port={port} --block &
for _ in $(seq 1 600); do
  up=$("$RAY" status --address="$RAY_ADDRESS" 2>/dev/null | grep -c ' node_')
  [ "$up" -ge {nodes} ] && break
  sleep 1
done"""
# A worker pod joins the head and stays with it. While the head starts it asks again, for about 5
# minutes (LZ_RAY_JOIN_TRIES x 5 s); then it exits, so a head that never comes shows as a worker in
# a crash loop (the set's status) rather than as a silent wait.
RAY_WORKER = """\
RAY=${LAZYCLI_RAY_BIN:-ray}
for _ in $(seq 1 "${LZ_RAY_JOIN_TRIES:-60}"); do
  "$RAY" start --address="$LZ_RAY_HEAD" --node-ip-address="$POD_IP" --block && exit 0
  echo "lz: waiting for the ray head at $LZ_RAY_HEAD"; sleep 5
done
exit 1"""

POD_PHASES: dict[str, Status] = {
    "PENDING": Status.PENDING,
    "RUNNING": Status.RUNNING,
    "SUCCEEDED": Status.COMPLETED,
    "FAILED": Status.FAILED,
    "UNKNOWN": Status.UNKNOWN,  # the node cannot be reached
}

# Reasons on pods, container states and Job conditions that say more than the phase.
REASONS: dict[str, Status] = {
    "OOMKILLED": Status.OUT_OF_MEMORY,
    "DEADLINEEXCEEDED": Status.TIMEOUT,
    "EVICTED": Status.PREEMPTED,
    "PREEMPTED": Status.PREEMPTED,
    "PREEMPTIONBYSCHEDULER": Status.PREEMPTED,
    "NODELOST": Status.NODE_FAIL,
    "NODESHUTDOWN": Status.NODE_FAIL,
    "ERRIMAGEPULL": Status.FAILED,
    "IMAGEPULLBACKOFF": Status.FAILED,
    "INVALIDIMAGENAME": Status.FAILED,
    "CREATECONTAINERCONFIGERROR": Status.FAILED,
    "CREATECONTAINERERROR": Status.FAILED,
    "CRASHLOOPBACKOFF": Status.FAILED,
    "BACKOFFLIMITEXCEEDED": Status.FAILED,
}


def _settings():
    """This plugin's settings (`k8s_*`, declared in its __init__), typed."""
    from lazycli import settings

    return settings.section("k8s")


def _k8s_name(log_path: Path | None) -> str:
    """A DNS-1123 label: lowercase, starts with a letter, ≤ 63 characters, unique."""
    stem = re.sub(r"[^a-z0-9-]+", "-", (Path(log_path).stem if log_path else "job").lower()).strip("-")
    return f"lz-{stem[:40].strip('-') or 'job'}-{uuid.uuid4().hex[:6]}"


def _port(resources: Resources) -> int:
    """The container port of a service: Resources.extra["port"], else the k8s_port setting."""
    return int(resources.extra.get("port") or _settings().port or DEFAULT_PORT)


def _quantity(memory: str) -> str:
    """Slurm-style sizes ("16G", "512M") → Kubernetes binary quantities ("16Gi", "512Mi")."""
    m = re.fullmatch(r"(\d+)([KMGT])B?", memory.strip(), re.IGNORECASE)
    return f"{m.group(1)}{m.group(2).upper()}i" if m else memory


def _seconds(limit: str) -> int:
    """Slurm time formats ("MM", "HH:MM:SS", "D-HH:MM:SS") → seconds."""
    days, _, rest = limit.rpartition("-")
    parts = [int(p) for p in rest.split(":")]
    if len(parts) == 1:
        parts = [0, parts[0], 0]
    while len(parts) < 3:
        parts.insert(0, 0)
    h, m, s = parts
    return (int(days) if days else 0) * 86400 + h * 3600 + m * 60 + s


def _models():
    """`kubernetes.client` (API models and calls), or one line saying how to install it."""
    try:
        from kubernetes import client
    except ImportError:
        raise LzError(
            "the k8s launcher needs the kubernetes client, which is not installed",
            hint="pip install 'lazycli[k8s]'",
        ) from None
    return client


def _client():
    """The kubernetes client, configured from KUBECONFIG/~/.kube/config or the in-cluster account."""
    _models()
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    try:
        # The client reads KUBECONFIG once at import; read it per call so a changed one counts.
        config.load_kube_config(config_file=os.environ.get("KUBECONFIG") or "~/.kube/config")
    except (ConfigException, FileNotFoundError, TypeError):
        try:
            config.load_incluster_config()
        except ConfigException:
            raise LzError(
                "no Kubernetes configuration found for the k8s launcher",
                hint="set KUBECONFIG (or ~/.kube/config), or run lz inside the cluster",
            ) from None
    return client


class K8sLauncher:
    name = NAME
    multi_node = True  # --nodes N: a Ray head pod + N-1 worker pods (Resources.cluster == "ray")
    multi_node_how = "over a Ray head pod and worker pods joined by a headless Service"

    # --- manifests ------------------------------------------------------------------------------

    def manifests(
        self,
        argv: list[str],
        resources: Resources,
        env: dict[str, str],
        name: str,
        namespace: str,
        strict: bool = True,
    ) -> list[Any]:
        """The API objects submit creates, as kubernetes client models, in creation order
        (`strict=False`, for --dry-run, shows an unset image as <k8s_image>)."""
        client = _models()

        image = resources.extra.get("image") or _settings().image or (None if strict else "<k8s_image>")
        if not image:
            raise LzError(
                "no container image set for the k8s launcher",
                hint="lz config set k8s_image IMAGE (or LAZYCLI_K8S_IMAGE); it must hold the engine",
            )
        if resources.cluster == "ray":
            return self._ray_manifests(argv, resources, env, name, namespace, image)
        if resources.nodes != 1:
            raise LzError(
                f"the k8s launcher runs one pod per job, not {resources.nodes} nodes",
                hint="use --nodes 1, or the slurm/ray launcher for multi-node work",
            )
        service = needs_port(argv)
        port = _port(resources)
        labels = {**MANAGED_BY, JOB_LABEL: name}
        meta = client.V1ObjectMeta(name=name, namespace=namespace, labels=labels)
        objects: list[Any] = []
        if env:
            objects.append(_secret(meta, env))
        command = fill_port(argv, port)
        container = client.V1Container(
            name="main",
            image=image,
            command=command,
            env=[client.V1EnvVar(name="LAZYCLI_PORT", value=str(port))] if service else None,
            env_from=[client.V1EnvFromSource(secret_ref=client.V1SecretEnvSource(name=name))]
            if env
            else None,
            ports=[client.V1ContainerPort(container_port=port, name="http")] if service else None,
            readiness_probe=client.V1Probe(tcp_socket=client.V1TCPSocketAction(port=port))
            if service
            else None,
            resources=self._requirements(resources),
        )
        if service:
            pod = client.V1PodSpec(containers=[container], restart_policy="Always")
            objects.append(
                client.V1Deployment(
                    api_version="apps/v1",
                    kind="Deployment",
                    metadata=meta,
                    spec=client.V1DeploymentSpec(
                        replicas=1,
                        selector=client.V1LabelSelector(match_labels={JOB_LABEL: name}),
                        template=client.V1PodTemplateSpec(
                            metadata=client.V1ObjectMeta(labels=labels), spec=pod
                        ),
                    ),
                )
            )
            objects.append(_http_service(meta, name, port, resources))
        else:
            time_limit = resources.time_limit or _settings().time_limit
            pod = client.V1PodSpec(containers=[container], restart_policy="Never")
            objects.append(
                client.V1Job(
                    api_version="batch/v1",
                    kind="Job",
                    metadata=meta,
                    spec=client.V1JobSpec(
                        backoff_limit=0,
                        active_deadline_seconds=_seconds(time_limit) if time_limit else None,
                        template=client.V1PodTemplateSpec(
                            metadata=client.V1ObjectMeta(labels=labels), spec=pod
                        ),
                    ),
                )
            )
        return objects

    def _ray_manifests(
        self,
        argv: list[str],
        resources: Resources,
        env: dict[str, str],
        name: str,
        namespace: str,
        image: str,
    ) -> list[Any]:
        """Secret, headless Service, head Deployment, worker Deployment, Service: one model over
        `resources.nodes` pods of `resources.gpus` GPUs each (the worker part only past one node)."""
        client = _models()
        if not needs_port(argv):  # a pinned --port: the Service and probes would miss the server
            raise LzError(
                "a multi-node deployment on k8s listens on the container port, not a pinned --port",
                hint="leave out --port (the container port is the k8s_port setting, default 8000)",
            )
        port = _port(resources)
        nodes, head_svc = resources.nodes, f"{name}-ray"
        part = {**MANAGED_BY, PART_OF: name}
        head_labels, worker_labels = {**part, JOB_LABEL: name}, {**part, JOB_LABEL: f"{name}-worker"}

        def meta(obj_name: str):
            return client.V1ObjectMeta(name=obj_name, namespace=namespace, labels=part)

        def env_vars(extra: dict[str, str]):
            pod_ip = client.V1EnvVarSource(field_ref=client.V1ObjectFieldSelector(field_path="status.podIP"))
            out = [client.V1EnvVar(name=var, value_from=pod_ip) for var in ("POD_IP", "VLLM_HOST_IP")]
            return out + [client.V1EnvVar(name=k, value=v) for k, v in extra.items()]

        def pod(labels: dict, container) -> Any:
            shm = client.V1Volume(name="dshm", empty_dir=client.V1EmptyDirVolumeSource(medium="Memory"))
            spec = client.V1PodSpec(containers=[container], restart_policy="Always", volumes=[shm])
            return client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels=labels), spec=spec)

        def deployment(obj_name: str, labels: dict, replicas: int, container) -> Any:
            return client.V1Deployment(
                api_version="apps/v1",
                kind="Deployment",
                metadata=meta(obj_name),
                spec=client.V1DeploymentSpec(
                    replicas=replicas,
                    selector=client.V1LabelSelector(match_labels={JOB_LABEL: labels[JOB_LABEL]}),
                    template=pod(labels, container),
                ),
            )

        def container(command: list[str], extra_env: dict[str, str], ports: list) -> Any:
            return client.V1Container(
                name="main",
                image=image,
                command=command,
                env=env_vars(extra_env),
                env_from=[client.V1EnvFromSource(secret_ref=client.V1SecretEnvSource(name=name))]
                if env
                else None,
                ports=ports or None,
                resources=self._requirements(resources),
                volume_mounts=[client.V1VolumeMount(name="dshm", mount_path="/dev/shm")],
                readiness_probe=client.V1Probe(tcp_socket=client.V1TCPSocketAction(port=port))
                if ports
                else None,
            )

        head_script = (
            RAY_HEAD.format(port=RAY_PORT, nodes=nodes) + "\nexec " + shell_argv(fill_port(argv, port))
        )
        head = container(
            ["bash", "-c", head_script],
            {"LAZYCLI_PORT": str(port)},
            [
                client.V1ContainerPort(container_port=port, name="http"),
                client.V1ContainerPort(container_port=RAY_PORT, name="ray-gcs"),
            ],
        )
        objects: list[Any] = []
        if env:
            objects.append(_secret(meta(name), env))
        if nodes > 1:
            objects.append(
                client.V1Service(
                    api_version="v1",
                    kind="Service",
                    metadata=meta(head_svc),
                    spec=client.V1ServiceSpec(
                        cluster_ip="None",
                        publish_not_ready_addresses=True,
                        selector={JOB_LABEL: name},
                        ports=[client.V1ServicePort(name="ray-gcs", port=RAY_PORT, target_port=RAY_PORT)],
                    ),
                )
            )
        objects.append(deployment(name, head_labels, 1, head))
        if nodes > 1:
            worker = container(
                ["bash", "-c", RAY_WORKER], {"LZ_RAY_HEAD": f"{head_svc}.{namespace}.svc:{RAY_PORT}"}, []
            )
            objects.append(deployment(f"{name}-worker", worker_labels, nodes - 1, worker))
        objects.append(_http_service(meta(name), name, port, resources))
        return objects

    def _requirements(self, resources: Resources):
        client = _models()

        limits: dict[str, str] = {}
        requests: dict[str, str] = {}
        if resources.gpus:
            limits["nvidia.com/gpu"] = str(resources.gpus)
        if resources.cpus:
            requests["cpu"] = str(resources.cpus)
        if resources.memory:
            requests["memory"] = limits["memory"] = _quantity(resources.memory)
        if not (limits or requests):
            return None
        return client.V1ResourceRequirements(limits=limits or None, requests=requests or None)

    def describe(self, argv: list[str], resources: Resources, env: dict[str, str], log_path=None) -> str:
        _models()  # without the client: one line with the install hint

        name = _k8s_name(log_path)
        namespace = resources.extra.get("namespace") or _settings().namespace
        shown = {k: "<not shown>" for k in env}  # the Secret's values never reach the screen
        objects = self.manifests(argv, resources, shown, name, namespace, strict=False)
        return (
            f"# launcher: k8s  namespace: {namespace}  resources: {resources_text(resources)}\n"
            f"# environment from Secret {name} (values not shown): {env_names(env)}\n"
            f"# objects: {', '.join(f'{o.kind}/{o.metadata.name}' for o in objects)}\n"
            f"---\n{_yaml(objects)}"
        )

    # --- the contract -------------------------------------------------------------------------

    def submit(self, argv: list[str], resources: Resources, env: dict[str, str], log_path: Path) -> Job:
        name = _k8s_name(log_path)
        namespace = resources.extra.get("namespace") or _settings().namespace
        objects = self.manifests(argv, resources, env, name, namespace)
        client = _client()
        created: list[list[str]] = []  # [kind, name] of every object made, for cancel
        try:
            for obj in objects:
                self._create(client, obj, namespace)
                created.append([obj.kind, obj.metadata.name])
        except client.ApiException as exc:
            job = Job(launcher=NAME, job_id=name, extra={"namespace": namespace, "objects": created})
            self.cancel(job)  # do not leave half a deployment behind
            raise LzError(
                f"Kubernetes refused the {obj.kind} {obj.metadata.name} in namespace {namespace}: "
                f"{_api_reason(exc)}",
                hint="check the image, quotas and your permissions (kubectl auth can-i create pods)",
            ) from None
        service = needs_port(argv)  # a multi-node set too: _ray_manifests refused one without it
        port = _port(resources) if service else None
        kinds = sorted({kind for kind, _ in created})
        return Job(
            launcher=NAME,
            job_id=name,
            log_path=str(log_path),
            port=None,
            extra={"namespace": namespace, "kinds": kinds, "objects": created, "service_port": port},
        )

    def _create(self, client, obj, namespace: str) -> None:
        if obj.kind == "Secret":
            client.CoreV1Api().create_namespaced_secret(namespace, obj)
        elif obj.kind == "Service":
            client.CoreV1Api().create_namespaced_service(namespace, obj)
        elif obj.kind == "Deployment":
            client.AppsV1Api().create_namespaced_deployment(namespace, obj)
        elif obj.kind == "Job":
            client.BatchV1Api().create_namespaced_job(namespace, obj)

    def status(self, job: Job) -> Status:
        client = _client()
        ns = job.extra["namespace"]
        try:
            if "Job" in job.extra["kinds"]:
                found = self._job_status(client, job, ns)
                if found is not None:
                    return found
            else:
                client.AppsV1Api().read_namespaced_deployment(job.job_id, ns)
        except client.ApiException as exc:
            if exc.status == 404:
                job.reason = job.reason or "deleted"
                return Status.CANCELLED  # its objects were deleted (lz deploy stop, kubectl delete)
            raise
        head = self._pods_status(client, job, ns)
        if head.finished or ["Deployment", f"{job.job_id}-worker"] not in job.extra.get("objects", []):
            return head
        return self._workers_trouble(client, job, ns) or head

    def _workers_trouble(self, client, job: Job, ns: str) -> Status | None:
        """A worker pod that cannot run (image, memory, eviction, crash loop) fails the set: the
        head would wait for it, and vLLM cannot serve without it."""
        selector = f"{JOB_LABEL}={job.job_id}-worker"
        for pod in client.CoreV1Api().list_namespaced_pod(ns, label_selector=selector).items:
            if trouble := _trouble(pod):
                status, reason = trouble
                job.reason = f"worker pod {pod.metadata.name}: {reason}"
                return status
        return None

    def _job_status(self, client, job: Job, ns: str) -> Status | None:
        obj = client.BatchV1Api().read_namespaced_job(job.job_id, ns)
        for cond in (obj.status.conditions or []) if obj.status else []:
            if cond.status != "True":
                continue
            if cond.type == "Complete":
                job.exit_code = 0
                return Status.COMPLETED
            if cond.type == "Failed":
                job.reason = cond.reason or cond.message
                pod_state = self._pods_status(client, job, ns)
                if pod_state in (Status.OUT_OF_MEMORY, Status.PREEMPTED, Status.NODE_FAIL):
                    return pod_state
                pods = self._pods(client, job, ns)
                job.exit_code = _exit_code(pods[0]) if pods else None
                return Status.TIMEOUT if cond.reason == "DeadlineExceeded" else Status.FAILED
        return None

    def _pods(self, client, job: Job, ns: str) -> list:
        pods = client.CoreV1Api().list_namespaced_pod(ns, label_selector=f"{JOB_LABEL}={job.job_id}").items
        return sorted(pods, key=lambda p: str(p.metadata.creation_timestamp or ""), reverse=True)

    def _pods_status(self, client, job: Job, ns: str) -> Status:
        pods = self._pods(client, job, ns)
        if not pods:
            return Status.PENDING  # created, nothing scheduled yet
        pod = pods[0]
        phase = map_state(POD_PHASES, pod.status.phase if pod.status else None)
        if pod.status and pod.status.pod_ip:
            job.extra["pod_ip"] = pod.status.pod_ip
        if trouble := _trouble(pod):
            status, job.reason = trouble
            return status
        if phase.finished:
            code = _exit_code(pod)
            job.exit_code = code
        return phase

    def endpoint(self, job: Job) -> tuple[str, int | None] | None:
        if job.host and job.port:
            return job.host, job.port
        client = _client()
        ns = job.extra["namespace"]
        if job.extra.get("service_port") is None:
            ip = job.extra.get("pod_ip")
            return (ip, None) if ip else None
        try:
            svc = client.CoreV1Api().read_namespaced_service(job.job_id, ns)
        except client.ApiException:
            return None
        port = svc.spec.ports[0].port
        ingress = (svc.status.load_balancer.ingress or []) if svc.status and svc.status.load_balancer else []
        if ingress:
            host = ingress[0].ip or ingress[0].hostname
        elif svc.spec.cluster_ip and svc.spec.cluster_ip != "None":
            host = svc.spec.cluster_ip
        else:
            host = f"{job.job_id}.{ns}.svc"
        job.host, job.port = host, port
        return host, port

    def logs(self, job: Job, lines: int | None = None) -> str:
        client = _client()
        ns = job.extra["namespace"]
        try:
            pods = self._pods(client, job, ns)
            if not pods:
                return ""
            kwargs = {"tail_lines": lines} if lines is not None else {}
            text = client.CoreV1Api().read_namespaced_pod_log(pods[0].metadata.name, ns, **kwargs)
        except client.ApiException as exc:
            if exc.status in (400, 404):  # container not started yet, or already deleted
                return ""
            raise
        if job.log_path:  # keep a copy where `lz deploy logs` and the other launchers keep theirs
            Path(job.log_path).parent.mkdir(parents=True, exist_ok=True)
            if lines is None:
                Path(job.log_path).write_text(text, encoding="utf-8")
        return text

    def cancel(self, job: Job) -> None:
        client = _client()
        ns = job.extra["namespace"]
        # Background propagation deletes the pods of a Deployment/Job too.
        options = client.V1DeleteOptions(propagation_policy="Background")
        calls = {
            "Deployment": lambda n: client.AppsV1Api().delete_namespaced_deployment(n, ns, body=options),
            "Job": lambda n: client.BatchV1Api().delete_namespaced_job(n, ns, body=options),
            "Service": lambda n: client.CoreV1Api().delete_namespaced_service(n, ns),
            "Secret": lambda n: client.CoreV1Api().delete_namespaced_secret(n, ns),
        }
        # Rows from before objects were recorded by name hold kinds only, all named job_id.
        made = job.extra.get("objects") or [[kind, job.job_id] for kind in job.extra.get("kinds", [])]
        order = ("Deployment", "Job", "Service", "Secret")  # the pods' owners first
        for kind, obj_name in sorted(made, key=lambda o: order.index(o[0]) if o[0] in order else len(order)):
            if kind not in calls:
                continue
            try:
                calls[kind](obj_name)
            except client.ApiException as exc:
                if exc.status != 404:
                    raise LzError(
                        f"could not delete {kind} {obj_name} in {ns}: {_api_reason(exc)}",
                        hint=f"kubectl delete -n {ns} {kind.lower()} {obj_name}",
                    ) from None


def _yaml(objects: list) -> str:
    """The objects as YAML documents, scripts (multi-line strings) as literal blocks to read."""
    import yaml
    from kubernetes.client import ApiClient

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper, value: str):
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    docs = [ApiClient().sanitize_for_serialization(o) for o in objects]
    return yaml.dump_all(docs, Dumper=Dumper, sort_keys=False, width=1000)


def _secret(meta, env: dict[str, str]):
    """The job's environment as a Secret (its pods read it through envFrom; values stay off argv)."""
    return _models().V1Secret(api_version="v1", kind="Secret", metadata=meta, type="Opaque", string_data=env)


def _http_service(meta, name: str, port: int, resources: Resources):
    """The Service in front of the pod that serves (the job's, or a multi-node set's head)."""
    client = _models()
    return client.V1Service(
        api_version="v1",
        kind="Service",
        metadata=meta,
        spec=client.V1ServiceSpec(
            type=resources.extra.get("service_type", "ClusterIP"),
            selector={JOB_LABEL: name},
            ports=[client.V1ServicePort(name="http", port=port, target_port=port, protocol="TCP")],
        ),
    )


def _trouble(pod) -> tuple[Status, str] | None:
    """The first reason on a pod (its own, then its containers') that says more than its phase."""
    for reason in _reasons(pod):
        special = map_state(REASONS, reason)
        if special is not Status.UNKNOWN:
            return special, reason
    return None


def _reasons(pod) -> list[str]:
    """Reasons that explain a pod's trouble: the pod's own, then its containers' states."""
    out = []
    if pod.status and pod.status.reason:
        out.append(pod.status.reason)
    for cs in (pod.status.container_statuses or []) if pod.status else []:
        for state in (cs.state, cs.last_state):
            if state is None:
                continue
            if state.waiting and state.waiting.reason and state.waiting.reason != "ContainerCreating":
                out.append(state.waiting.reason)
            if state.terminated and state.terminated.reason in ("OOMKilled",):
                out.append(state.terminated.reason)
    return out


def _exit_code(pod) -> int | None:
    for cs in (pod.status.container_statuses or []) if pod.status else []:
        if cs.state and cs.state.terminated:
            return cs.state.terminated.exit_code
    return None


def _api_reason(exc) -> str:
    try:
        return json.loads(exc.body).get("message") or exc.reason
    except (TypeError, ValueError, AttributeError):
        return str(exc.reason)
