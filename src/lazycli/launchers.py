"""What every launcher plugin shares: the Launcher protocol, the Job record and the Status enum.

A launcher runs an argv somewhere (this machine, a Slurm node, a pod…) and can later tell its
status, the host it runs on, its logs, and cancel it, from another `lz` process: everything it
needs for that lives in the Job record, which is stored in the state database.
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

# Put this token in an argv where the service's port goes: the launcher picks a free port on the
# node where the job runs, substitutes it, and reports it back (`endpoint(job)`). A port pinned by
# the user (`--port`) is written into the argv directly instead.
PORT_PLACEHOLDER = "{port}"


class Status(enum.StrEnum):
    PENDING = "pending"  # queued, not started (Slurm PENDING, pod Pending, …)
    STARTING = "starting"  # process started, service not healthy yet
    RUNNING = "running"
    COMPLETED = "completed"  # ended with exit code 0
    FAILED = "failed"  # ended with a non-zero exit code or a launcher-side failure
    CANCELLED = "cancelled"  # stopped by a user or an admin
    TIMEOUT = "timeout"  # hit its time limit
    PREEMPTED = "preempted"
    NODE_FAIL = "node_fail"
    OUT_OF_MEMORY = "out_of_memory"
    UNKNOWN = "unknown"  # the launcher cannot tell (yet); never silently "failed"

    @property
    def finished(self) -> bool:
        return self in FINISHED

    @property
    def active(self) -> bool:
        """Not finished: it holds its name (a new deploy or job of that name is refused)."""
        return self not in FINISHED

    @property
    def reachable(self) -> bool:
        """Worth sending a request to: started, and not known to have ended."""
        return self in (Status.STARTING, Status.RUNNING, Status.UNKNOWN)


FINISHED = frozenset(
    {
        Status.COMPLETED,
        Status.FAILED,
        Status.CANCELLED,
        Status.TIMEOUT,
        Status.PREEMPTED,
        Status.NODE_FAIL,
        Status.OUT_OF_MEMORY,
    }
)


@dataclass
class Resources:
    """What a job asks for; `extra` carries launcher-specific settings."""

    nodes: int = 1
    gpus: int = 0  # on each node (the verbs' --gpus is the total: gpus_per_node)
    cpus: int | None = None
    memory: str | None = None  # e.g. "16G"
    time_limit: str | None = None  # e.g. "04:00:00"
    partition: str | None = None
    # "ray": the job starts a Ray cluster over its nodes first (head on the first, a worker on each
    # other) and runs its command on the head with RAY_ADDRESS set; launchers with `multi_node`.
    cluster: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def gpus_per_node(gpus: int, nodes: int) -> int:
    """The verbs' `--gpus` is the total over `--nodes` (as Slurm's --gpus); launchers get it per
    node. One line when it does not divide: every node runs the same share."""
    if gpus % nodes:  # 0 GPUs divides: CPU nodes
        from lazycli.errors import LzError

        per = -(-gpus // nodes)  # rounded up
        raise LzError(
            f"--gpus {gpus} does not divide across --nodes {nodes}: every node runs the same number of GPUs",
            hint=f"--gpus is the total: e.g. --gpus {per * nodes} for {per} per node",
        )
    return gpus // nodes


@dataclass
class Job:
    """A submitted job, enough to find it again from another process."""

    launcher: str
    job_id: str
    log_path: str | None = None
    host: str | None = None
    port: int | None = None
    pid: int | None = None
    exit_code: int | None = None
    reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Job:
        return cls(**json.loads(text))


class Launcher(Protocol):
    name: str

    def submit(self, argv: list[str], resources: Resources, env: dict[str, str], log_path: Path) -> Job: ...

    def status(self, job: Job) -> Status: ...

    def endpoint(self, job: Job) -> tuple[str, int | None] | None:
        """(host, port) where the job's service listens; None while that is not known yet."""
        ...

    def logs(self, job: Job, lines: int | None = None) -> str: ...

    def cancel(self, job: Job) -> None: ...

    def describe(self, argv: list[str], resources: Resources, env: dict[str, str]) -> str:
        """What `submit` would run, as text for `--dry-run` (job script, manifests, request body).

        Shows environment variable names only, never their values (they may be secrets).
        """
        ...


# --- optional members ---------------------------------------------------------------------------
# A launcher may do more than the Launcher protocol asks. Each extra is a small Protocol below; core
# asks `supports(launcher, PortCheck)` (present and callable as lz calls it) instead of probing
# attribute names, and the contract suite refuses a launcher that has one with the wrong parameters.
# Plain settings a launcher may declare (`bind_host`, …) have their default in TRAITS, read by `trait`.


@runtime_checkable
class PortCheck(Protocol):
    """Refuses a pinned `--port` that is taken, before anything is submitted (local)."""

    def check_port(self, port: int, /) -> None: ...


@runtime_checkable
class ResourceCheck(Protocol):
    """Refuses what the cluster cannot hold (GPUs, nodes), before any download (ray)."""

    def check_resources(self, resources: Resources, /) -> None: ...


@runtime_checkable
class Leftovers(Protocol):
    """Processes of an ended job that still run (`lz deploy stop --all` ends them; local)."""

    def leftovers(self, job: Job, /) -> list[int]: ...


@runtime_checkable
class DescribeAt(Protocol):
    """A `describe` that also takes the log path `submit` will get, so the job script it shows is the
    one submit writes (slurm, k8s, local…); a 3-argument `describe` is just as valid."""

    def describe(
        self, argv: list[str], resources: Resources, env: dict[str, str], log_path: Path | None, /
    ) -> str: ...


OPTIONAL: tuple[type, ...] = (PortCheck, ResourceCheck, Leftovers, DescribeAt)


@dataclass(frozen=True)
class Trait:
    default: Any
    kind: type | tuple[type, ...]
    help: str


TRAITS: dict[str, Trait] = {
    "bind_host": Trait("0.0.0.0", str, "the address an engine on it listens on"),
    "poll_interval": Trait(1.0, (int, float), "seconds between status questions while waiting"),
    "multi_node": Trait(False, bool, "runs one job over several nodes (--nodes N)"),
    "multi_node_how": Trait("over a Ray cluster the job starts", str, "how, for --dry-run"),
}


def feature_members(feature: type) -> dict[str, Any]:
    """The methods `feature` (one of OPTIONAL) asks for, by name."""
    return {n: v for n, v in vars(feature).items() if not n.startswith("_") and callable(v)}


def arity_error(function: Any, wanted: Any) -> str | None:
    """Why `function` cannot be called the way `wanted` (a Protocol method, self first) is; None if it
    can. Its required parameters are passed as placeholders (keyword-only ones by name)."""
    import inspect

    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # no signature to read (some builtins): trust it
        return None
    params = list(inspect.signature(wanted).parameters.values())[1:]  # without self
    required = [p for p in params if p.default is p.empty]
    positional = [p for p in required if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    named = {p.name: None for p in required if p.kind == p.KEYWORD_ONLY}
    try:
        signature.bind(*([None] * len(positional)), **named)
    except TypeError as exc:
        return str(exc)
    return None


def supports(launcher: Any, feature: type) -> bool:
    """Whether `launcher` has every method of `feature` (one of OPTIONAL), callable as lz calls it."""
    for name, wanted in feature_members(feature).items():
        member = getattr(launcher, name, None)
        if not callable(member) or arity_error(member, wanted) is not None:
            return False
    return True


def trait(launcher: Any, name: str) -> Any:
    """A declared optional setting of `launcher` (TRAITS), or its default."""
    return getattr(launcher, name, TRAITS[name].default)


def tail_text(path: str | Path | None, lines: int | None) -> str:
    """The last `lines` lines of a text file ('' when it does not exist yet)."""
    if not path:
        return ""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except FileNotFoundError:
        return ""
    return last_lines(text, lines)


def last_lines(text: str, lines: int | None) -> str:
    """The last `lines` lines of `text` (all with None, none with 0: `[-0:]` would be everything)."""
    if lines is None:
        return text
    if lines <= 0:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# --- helpers shared by the launcher plugins ---------------------------------------------------

# A job that serves something prints this line once it has chosen its port, e.g.
# `LAZYCLI_ENDPOINT node12:43117`; `endpoint(job)` reads it back from the job's output.
ENDPOINT_MARKER = "LAZYCLI_ENDPOINT"
# The variable the wrapper script sets to the chosen port (engines may read it too).
PORT_ENV = "LAZYCLI_PORT"


def map_state(table: dict[str, Status], raw: str | None) -> Status:
    """A scheduler's state name → Status through an explicit table; names not in it are UNKNOWN.

    Slurm decorates states (`CANCELLED by 0`, `RUNNING+`), so only the first word counts.
    """
    words = (raw or "").split()
    if not words:
        return Status.UNKNOWN
    return table.get(words[0].rstrip("+*").upper(), Status.UNKNOWN)


def find_endpoint(text: str) -> tuple[str, int] | None:
    """The last `LAZYCLI_ENDPOINT host:port` line in a job's output, or None."""
    found = None
    for line in text.splitlines():
        idx = line.find(ENDPOINT_MARKER + " ")
        if idx < 0:
            continue
        value = line[idx + len(ENDPOINT_MARKER) + 1 :].strip()
        host, sep, port = value.rpartition(":")
        if sep and host and port.isdigit():
            found = (host.strip("[]"), int(port))
    return found


def needs_port(argv: list[str]) -> bool:
    return any(PORT_PLACEHOLDER in arg for arg in argv)


def fill_port(argv: list[str], port: int) -> list[str]:
    """argv with `{port}` replaced by a port already known (`shell_argv` leaves it to the job)."""
    return [arg.replace(PORT_PLACEHOLDER, str(port)) for arg in argv]


def shell_argv(argv: list[str]) -> str:
    """argv as one shell command line, with `{port}` replaced by "$LAZYCLI_PORT"."""
    import shlex

    words = []
    for arg in argv:
        parts = arg.split(PORT_PLACEHOLDER)
        words.append(f'"${PORT_ENV}"'.join(shlex.quote(p) if p else "" for p in parts) or "''")
    return " ".join(words)


# Bash that picks a free TCP port on the node the job runs on (python3 asks the kernel; the
# fallback probes random high ports through bash's /dev/tcp). Each item is one complete command,
# so the script can also be joined into one line (SenseCore's srun takes one line of shell).
_PICK_PORT = (
    f"""{PORT_ENV}=$(python3 -c 'import socket; s = socket.socket(); s.bind(("", 0)); """
    f"""print(s.getsockname()[1])' 2>/dev/null || true)""",
    f'if [ -z "${PORT_ENV}" ]; then for _ in $(seq 1 50); do p=$(( 20000 + RANDOM % 40000 )); '
    f"if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then {PORT_ENV}=$p; break; fi; done; fi",
    f"export {PORT_ENV}",
)


# A Ray cluster over a multi-node job (Resources.cluster == "ray"), the shape of Ray's own Slurm
# guide: the head on the job's first node (where the batch script runs), a worker on every other node
# (one `srun` step each), then the command runs on the head with RAY_ADDRESS set (vLLM's ray executor
# reads it). `ray` is LAZYCLI_RAY_BIN when set (Ray lives in its own venv), else the one on PATH.
RAY_CLUSTER = """\
RAY=${LAZYCLI_RAY_BIN:-ray}
mapfile -t LZ_NODES < <(scontrol show hostnames "$SLURM_JOB_NODELIST")
LZ_HEAD_IP=${LAZYCLI_NODE_HOST:-$(hostname -I 2>/dev/null | awk '{print $1}')}
LZ_RAY_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])')
export RAY_ADDRESS="$LZ_HEAD_IP:$LZ_RAY_PORT"
echo "lz: ray head on ${LZ_NODES[0]} at $RAY_ADDRESS, ${#LZ_NODES[@]} node(s)"
"$RAY" start --head --node-ip-address="$LZ_HEAD_IP" --port="$LZ_RAY_PORT" --block &
for _ in $(seq 1 120); do "$RAY" status --address="$RAY_ADDRESS" >/dev/null 2>&1 && break; sleep 1; done
for node in "${LZ_NODES[@]:1}"; do
  srun --nodes=1 --ntasks=1 -w "$node" "$RAY" start --address="$RAY_ADDRESS" --block &
done
for _ in $(seq 1 120); do
  up=$("$RAY" status --address="$RAY_ADDRESS" 2>/dev/null | grep -c ' node_')
  [ "$up" -ge "${#LZ_NODES[@]}" ] && break
  sleep 1
done"""


def wrapper_script(
    argv: list[str], *, host_expr: str = "$(hostname)", preamble: str = "", one_line: bool = False
) -> str:
    """The body of a bash job script: pick a port when the argv wants one, print the endpoint
    marker, then exec the argv (so signals from the scheduler reach the program itself)."""
    lines = [preamble.strip()] if preamble.strip() else []
    if needs_port(argv):
        lines.extend(_PICK_PORT)
        host = f"${{LAZYCLI_NODE_HOST:-{host_expr}}}"
        lines.append(f'echo "{ENDPOINT_MARKER} {host}:${PORT_ENV}"')
    lines.append(f"exec {shell_argv(argv)}")
    return "; ".join(lines) if one_line else "\n".join(lines) + "\n"


def env_names(env: dict[str, str]) -> str:
    """Environment for display: names only (values may be secrets)."""
    return ", ".join(sorted(env)) if env else "(none)"


def resources_text(resources: Resources) -> str:
    """One line describing what a job asks for, for `--dry-run`."""
    parts = [f"nodes={resources.nodes}", f"gpus={resources.gpus}"]
    for key in ("cpus", "memory", "time_limit", "partition", "cluster"):
        value = getattr(resources, key)
        if value is not None:
            parts.append(f"{key}={value}")
    parts += [f"{k}={v}" for k, v in sorted(resources.extra.items())]
    return " ".join(parts)


def job_name(log_path: str | Path | None, prefix: str = "lz") -> str:
    """A scheduler-friendly job name derived from the log file's name (`lz-<stem>`)."""
    import re

    stem = Path(log_path).stem if log_path else "job"
    return f"{prefix}-" + (re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-")[:48] or "job")
