"""`lz plugin new`: the scaffold installs with pip, is listed by `lz plugins`, and its test passes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.conftest import lz

from lazycli.scaffolds import KINDS, render


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_valid_python(kind):
    files = render("my-thing", kind)
    for name, text in files.items():
        if name.endswith(".py"):
            compile(text, name, "exec")
    assert 'my-thing = "lazycli_my_thing"' in files["pyproject.toml"]


def test_refuses_unknown_kind_and_existing_dir(tmp_path):
    proc = lz("plugin", "new", "x", "--kind", "engin", "--dir", str(tmp_path / "x"))
    assert proc.returncode == 2 and "did you mean 'engine'" in proc.stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    proc = lz("plugin", "new", "x", "--kind", "engine", "--dir", str(tmp_path / "full"))
    assert proc.returncode == 2 and (tmp_path / "full" / "keep.txt").read_text() == "mine"


# --- every kind, installed like a third-party plugin, in its real verb ----------------------------
# One venv for the whole module: the scaffold of every kind (named demo-KIND) plus two with a method
# cut out, installed by pip in one call. The venv sees this environment's packages through a .pth
# file, and nothing is installed into this environment: other tests' registries never see them.

NAMES = {kind: f"demo-{kind}" for kind in KINDS}
THIN = {"thin-store": ("store", "take"), "thin-launcher": ("launcher", "cancel")}
# A callable written for another signature: (kind, the field lz calls, its Protocol, the scaffold's line,
# the line it is replaced by). The finetuner's is the shape an old scaffold taught.
WRONG = {
    "wrong-engine": ("engine", "argv", "contracts.EngineCommand",
                     "def _argv(req: EngineRequest)", "def _argv(req: EngineRequest, port)"),
    "wrong-finetuner": ("finetuner", "prepare", "contracts.PrepareFinetune",
                        "def _prepare(job):", "def _prepare(model, data, out, options):"),
    "wrong-store": ("store", "open", "contracts.StoreOpener",
                    "def __init__(self, path, options=None):", "def __init__(self, path, options, layout):"),
    # An optional launcher member that is there but could not be called as lz calls it.
    "wrong-launcher": ("launcher", "check_port", "launchers.PortCheck",
                       "    def cancel(self, job):",
                       "    def check_port(self):\n        pass\n\n    def cancel(self, job):"),
}  # fmt: skip
KEY = "sk-test-0123456789"


@dataclass
class Installed:
    python: str
    root: Path
    listed: dict[str, dict]  # `lz plugins --json` rows by plugin name
    contract_tests: dict[str, str]  # plugin name → "" (passed) or the failure text of its own test

    def lz(self, *args: str, home: Path, env: dict | None = None, check: int | None = 0, timeout=120):
        """`lz ARGS` with the venv's python (so the plugins load) and LAZYCLI_HOME=home."""
        full = {**os.environ, "LAZYCLI_HOME": str(home), **(env or {})}
        proc = subprocess.run(
            [self.python, "-m", "lazycli", *args], capture_output=True, text=True, env=full, timeout=timeout
        )
        if check is not None:
            assert proc.returncode == check, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        return proc

    def lz_json(self, *args: str, home: Path, env: dict | None = None) -> dict:
        return json.loads(self.lz(*args, "--json", home=home, env=env).stdout)


def _venv(env_dir: Path) -> str:
    """A venv whose python sees the packages of the environment running this test (lz, pytest,
    setuptools from the dev extra) through a .pth file; a venv's system_site_packages would show the
    base interpreter's instead, which lack them in a fresh venv. addsitedir (not a bare path) so their
    own .pth files run too: an editable lz is found by one."""
    venv.EnvBuilder(with_pip=False).create(env_dir)
    [inner_site] = (env_dir / "lib").glob("python*/site-packages")
    outer_sites = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    (inner_site / "outer-env.pth").write_text(f"import site; list(map(site.addsitedir, {outer_sites!r}))\n")
    return str(env_dir / "bin" / "python")


def _cut_method(module: Path, method: str) -> None:
    source = module.read_text(encoding="utf-8")
    pattern = rf"\n    def {method}\(self[^\n]*\n(?:        [^\n]*\n|\n)*?(?=\n    def |\n\n@)"
    cut, count = re.subn(pattern, "\n", source)
    assert count == 1, f"no method {method} in {module}"
    module.write_text(cut, encoding="utf-8")


def _contract_results(report: Path) -> dict[str, str]:
    """Plugin name → "" or the failure text, from the junit report of the scaffolds' own tests."""
    import xml.etree.ElementTree as ET

    results = {}
    for case in ET.parse(report).iter("testcase"):
        module = case.get("classname", "").rsplit(".", 1)[-1]  # tests.test_lazycli_demo_store
        name = module.removeprefix("test_lazycli_").replace("_", "-")
        failed = case.find("failure") if case.find("failure") is not None else case.find("error")
        results[name] = "" if failed is None else (failed.get("message") or "") + (failed.text or "")
    return results


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    root = tmp_path_factory.mktemp("plugins")
    home = {"LAZYCLI_HOME": str(root / "home")}
    wanted = {name: kind for kind, name in NAMES.items()}
    wanted |= {n: k for n, (k, _) in THIN.items()} | {n: case[0] for n, case in WRONG.items()}
    for name, kind in wanted.items():
        lz("plugin", "new", name, "--kind", kind, "--dir", str(root / name), env=home, check=0)
    for name, (_, method) in THIN.items():
        _cut_method(root / name / f"lazycli_{name.replace('-', '_')}.py", method)
    for name, (_, _, _, line, wrong) in WRONG.items():
        module = root / name / f"lazycli_{name.replace('-', '_')}.py"
        source = module.read_text(encoding="utf-8")
        assert source.count(line) == 1, f"no {line!r} in {module}"
        module.write_text(source.replace(line, wrong), encoding="utf-8")
    python = _venv(root / "venv")
    # pip from this interpreter installs into the venv (no network: setuptools is already here).
    editable = [arg for name in wanted for arg in ("-e", str(root / name))]
    pip = [
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "-q",
        "--no-deps",
        "--no-build-isolation",
    ]
    subprocess.run([*pip, *editable], check=True)
    listed = subprocess.run(
        [python, "-m", "lazycli", "plugins", "--json"],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ | home,
    ).stdout
    rows = {p["name"]: p for p in json.loads(listed)["plugins"]}
    # Each scaffold's own test (the shared contract suite), all in one pytest run of the venv.
    report = root / "contract.xml"
    subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
         "--rootdir", str(root), *[str(root / name / "tests") for name in wanted]],
        capture_output=True, text=True, cwd=root, env=os.environ | home, timeout=300,
    )  # fmt: skip
    return Installed(python, root, rows, _contract_results(report))


def _docs(folder: Path, files: dict[str, str | bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        target = folder / name
        target.write_bytes(text) if isinstance(text, bytes) else target.write_text(text, encoding="utf-8")
    return folder


TIDES = "Ocean tides are caused by the gravity of the Moon."
TEA = "Longjing green tea is grown near Hangzhou."
RINGS = "Saturn has bright rings of ice."


def _retrieve(plug: Installed, home: Path, question: str, *extra: str) -> list[dict]:
    found = plug.lz_json("rag", "ask", "--index", "kb", "--retrieve-only", *extra, question, home=home)
    return found["results"]


def _verb_store(plug: Installed, tmp_path: Path, home: Path) -> None:
    """`lz index --store` builds and updates the index in the plugin's store, `lz rag` reads it; its
    setting keep_versions decides how many versions compact() leaves."""
    docs = _docs(tmp_path / "docs", {"tides.txt": TIDES, "tea.txt": TEA, "rings.txt": RINGS})
    build = ("index", "build", str(docs), "--name", "kb", "--embed", "demo-embedder")
    built = plug.lz_json(*build, "--store", "demo-store", home=home)
    assert built["files"] == 3 and built["chunks"] > 0
    versions = lambda: sorted(p.name for p in home.rglob("v*.arrow"))  # noqa: E731
    (docs / "tea.txt").unlink()  # an update keeps the index's store: no --store needed
    updated = plug.lz_json(*build, home=home)
    assert updated["deleted"] == 1 and not updated["rebuilt"]
    assert len(versions()) == 2  # compact() kept the default keep_versions
    plug.lz("config", "set", "demo_store_keep_versions", "1", home=home)
    (docs / "rings.txt").unlink()
    assert plug.lz_json(*build, home=home)["deleted"] == 1
    assert len(versions()) == 1
    assert [r["file"] for r in _retrieve(plug, home, "what causes tides?")][:1] == ["tides.txt"]
    assert plug.lz_json("index", "info", "kb", home=home)["store"] == "demo-store"


def _verb_loader(plug: Installed, tmp_path: Path, home: Path) -> None:
    """`lz index` reads a .demo-loader file through the plugin, in the encoding its setting names."""
    docs = _docs(
        tmp_path / "docs", {"tides.txt": TIDES, "rings.demo-loader": "Café Saturn rings".encode("latin-1")}
    )
    args = ("index", "build", str(docs), "--name", "kb", "--embed", "demo-embedder")
    first = plug.lz_json(*args, home=home)
    [failed] = first["failed"]  # latin-1 bytes are not utf-8
    assert Path(failed["source"]).name == "rings.demo-loader" and "utf-8" in failed["error"]
    plug.lz("config", "set", "demo_loader_encoding", "latin-1", home=home)
    again = plug.lz_json(*args, home=home)
    assert again["files"] == 2 and not again["failed"]
    [top, *_] = _retrieve(plug, home, "Saturn rings", "--retriever", "bm25")
    assert top["file"] == "rings.demo-loader" and top["text"] == "Café Saturn rings"
    assert top["meta"]["source"].endswith("rings.demo-loader")  # the loader's own metadata


def _verb_embedder(plug: Installed, tmp_path: Path, home: Path) -> None:
    """`lz index --embed demo-embedder` embeds with the plugin, and `lz rag` queries with it again."""
    docs = _docs(tmp_path / "docs", {"tides.txt": TIDES, "tea.txt": TEA, "rings.txt": RINGS})
    built = plug.lz_json("index", "build", str(docs), "--name", "kb", "--embed", "demo-embedder", home=home)
    assert built["embedded"] == built["chunks"] > 0
    assert plug.lz_json("index", "info", "kb", home=home)["embed"] == "demo-embedder"
    for text, file in [(TEA, "tea.txt"), (RINGS, "rings.txt")]:  # cosine alone: the plugin's vectors
        assert _retrieve(plug, home, text, "--retriever", "cosine")[0]["file"] == file


def _verb_reranker(plug: Installed, tmp_path: Path, home: Path) -> None:
    """`lz rag --rerank demo-reranker` orders the passages by the plugin's scores (shared words)."""
    docs = _docs(tmp_path / "docs", {"tides.txt": TIDES, "tea.txt": TEA, "rings.txt": RINGS})
    plug.lz(
        "index",
        "build",
        str(docs),
        "--name",
        "kb",
        "--embed",
        "demo-embedder",
        "--group",
        "one:512:0",
        home=home,
    )
    ranked = _retrieve(plug, home, "the gravity of tides", "--rerank", "demo-reranker", "--topk", "3")
    # tides shares the, gravity, of, tides (4); rings shares of (1); tea nothing.
    assert [(r["file"], r["score"]) for r in ranked] == [
        ("tides.txt", 4.0),
        ("rings.txt", 1.0),
        ("tea.txt", 0.0),
    ]


def _verb_launcher(plug: Installed, tmp_path: Path, home: Path) -> None:
    """`lz launch --launcher demo-launcher` runs the job, `lz jobs logs` shows its output; the
    plugin's timeout setting stops a longer job."""
    ran = plug.lz(
        "launch",
        "--launcher",
        "demo-launcher",
        "--name",
        "answer",
        "--",
        "python",
        "-c",
        "print(42)",
        home=home,
    )
    assert ran.stdout.strip() == "42"
    assert plug.lz("jobs", "logs", "answer", home=home).stdout.strip() == "42"
    assert plug.lz_json("jobs", "status", "answer", home=home)["status"] == "completed"
    plug.lz("config", "set", "demo_launcher_timeout", "1", home=home)
    slow = (
        "launch",
        "--launcher",
        "demo-launcher",
        "--name",
        "slow",
        "--",
        "python",
        "-c",
        "import time; time.sleep(60)",
    )
    stopped = plug.lz(*slow, home=home, check=124, timeout=30)
    assert "stopped after 1.0 s (demo_launcher_timeout)" in stopped.stdout
    assert plug.lz_json("jobs", "status", "slow", home=home)["status"] == "failed"


ENGINE = '''#!{python}
"""A stand-in for an engine binary: --model M --host H --port P; /health and /v1/chat/completions."""
import argparse, json, pathlib
from http.server import BaseHTTPRequestHandler, HTTPServer

parser = argparse.ArgumentParser()
for flag in ("--model", "--host", "--port"):
    parser.add_argument(flag, required=True)
args = parser.parse_args()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.reply({{"status": "ok"}} if self.path == "/health" else {{"data": [{{"id": "m"}}]}})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        text = "served " + pathlib.Path(args.model).name + " as " + body["model"]
        message = {{"role": "assistant", "content": text}}
        self.reply({{"id": "1", "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [{{"index": 0, "message": message, "finish_reason": "stop"}}],
                    "usage": {{"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4}}}})


HTTPServer((args.host, int(args.port)), Handler).serve_forever()
'''


def _verb_engine(plug: Installed, tmp_path: Path, home: Path) -> None:
    """`lz deploy --engine demo-engine --dry-run` shows the plugin's argv; with its binary setting
    pointing at a stand-in server, a real deploy starts it, `lz chat` talks to it, stop ends it."""
    from tests.conftest import bundled_gguf

    gguf = bundled_gguf()
    plan = plug.lz_json(
        "deploy", "start", "smollm2-135m-instruct", "--engine", "demo-engine", "--dry-run", home=home
    )
    assert plan["engine"] == "demo-engine" and not plan["installed"]
    assert plan["argv"] == [
        "demo-engine-server",
        "--model",
        str(gguf),
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
    ]
    server = tmp_path / "engine-server"
    server.write_text(ENGINE.format(python=sys.executable), encoding="utf-8")
    server.chmod(0o755)
    plug.lz("config", "set", "demo_engine_binary", str(server), home=home)
    deploy = ("deploy", "start", "smollm2-135m-instruct", "--engine", "demo-engine", "--name", "demo-dep")
    try:
        row = plug.lz_json(*deploy, "--timeout", "60", home=home)
        assert row["status"] == "running" and row["argv"][0] == str(server)
        answer = plug.lz("chat", "demo-dep", "hi", "--no-stream", home=home).stdout
        assert answer.strip() == f"served {gguf.name} as smollm2-135m-instruct"
    finally:
        plug.lz("deploy", "stop", "demo-dep", home=home, check=None)
    assert plug.lz_json("deploy", "status", "demo-dep", home=home)["status"] != "running"


def _verb_provider(plug: Installed, tmp_path: Path, home: Path) -> None:
    """`lz chat demo-provider[:model]` reaches the provider (a stand-in on 127.0.0.1) with its key."""
    from tests.chat import standin

    vendor = standin.Vendor("demo-provider", "/v1", ("demo-provider-chat", "demo-provider-mini"), key=KEY)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(standin.VENDORS, "demo-provider", vendor)
        server = standin.StandIn("demo-provider")
    try:
        env = {"LAZYCLI_DEMO_PROVIDER_BASE_URL": server.url, "DEMO_PROVIDER_API_KEY": KEY}
        for target, model in [
            ("demo-provider", "demo-provider-chat"),
            ("demo-provider:demo-provider-mini", "demo-provider-mini"),
        ]:
            answer = plug.lz("chat", target, "What is 2+2?", "--no-stream", home=home, env=env).stdout
            assert answer.strip() == standin.ANSWER and server.requests[-1]["body"]["model"] == model
        keyless = plug.lz(
            "chat",
            "demo-provider",
            "hi",
            home=home,
            env={"LAZYCLI_DEMO_PROVIDER_BASE_URL": server.url},
            check=2,
        )
        assert "no API key for provider 'demo-provider'" in keyless.stderr
    finally:
        server.close()


def _verb_finetuner(plug: Installed, tmp_path: Path, home: Path) -> None:
    """`lz finetune --method demo-finetuner`: --dry-run shows its config and argv; a real run goes
    through the launcher, and the model it made is registered under the run's name."""
    data = tmp_path / "d.jsonl"
    rows = [{"instruction": f"Say {i}", "input": "", "output": str(i)} for i in range(4)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    args = ("finetune", "start", "smollm2-135m-instruct", "--data", str(data), "--method", "demo-finetuner",
            "--set", "steps=3", "--name", "smol-copy")  # fmt: skip
    plan = plug.lz_json(*args, "--dry-run", home=home)
    assert plan["method"] == "demo-finetuner" and plan["argv"][-1].endswith("config/demo-finetuner.json")
    assert json.loads(plan["files"]["config/demo-finetuner.json"])["steps"] == 3
    done = plug.lz_json(*args, home=home)
    assert done["status"] == "completed" and done["result"]["model"] == "smol-copy"
    assert Path(done["result"]["path"]).stat().st_size == bundled_size()
    assert "demo-finetuner: trained 3 steps" in plug.lz("finetune", "logs", "smol-copy", home=home).stdout


def bundled_size() -> int:
    from tests.conftest import bundled_gguf

    return bundled_gguf().stat().st_size


VERBS = {
    "engine": _verb_engine,
    "launcher": _verb_launcher,
    "provider": _verb_provider,
    "finetuner": _verb_finetuner,
    "store": _verb_store,
    "loader": _verb_loader,
    "embedder": _verb_embedder,
    "reranker": _verb_reranker,
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_a_scaffolded_plugin_installs_passes_its_contract_test_and_works_in_its_verb(
    installed, kind, tmp_path
):
    name = NAMES[kind]
    info = installed.listed[name]
    assert info["source"] == f"lazycli-{name}" and not info["errors"]
    assert info["records"][kind + "s"] == [name]
    assert installed.contract_tests[name] == "", installed.contract_tests[name]
    VERBS[kind](installed, tmp_path, tmp_path / "home")


@pytest.mark.slow
def test_a_plugin_declared_setting_is_listed_validated_and_kept_out_when_bad(installed, tmp_path):
    home = tmp_path / "home"
    shown = {r["key"]: r for r in installed.lz_json("config", "show", home=home)["settings"]}
    keep = shown["demo_store_keep_versions"]
    assert (keep["value"], keep["source"]) == (2, "default")
    assert keep["help"] == "Versions compact() keeps, the newest first"
    assert (
        shown["demo_launcher_timeout"]["value"] == 0
        and shown["demo_engine_binary"]["value"] == "demo-engine-server"
    )
    bad = installed.lz("config", "set", "demo_store_keep_versions", "0", home=home, check=2)
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    assert "bad value for 'demo_store_keep_versions'" in bad.stderr and "expected int" in bad.stderr
    bad = installed.lz("config", "set", "demo_launcher_timeout", "soon", home=home, check=2)
    assert "bad value for 'demo_launcher_timeout'" in bad.stderr and "expected float" in bad.stderr
    config = home / "config" / "config.toml"
    assert not config.exists()  # a refused value writes nothing
    # Kept in the file, not validated, while its plugin is left out (LAZYCLI_PLUGINS) or broken.
    installed.lz("config", "set", "demo_store_keep_versions", "3", home=home)
    asleep = {"LAZYCLI_PLUGINS": "local,demo-launcher"}
    keys = [r["key"] for r in installed.lz_json("config", "show", home=home, env=asleep)["settings"]]
    assert "demo_launcher_timeout" in keys and "demo_store_keep_versions" not in keys
    assert "demo_store_keep_versions = 3" in config.read_text()
    from_env = installed.lz("launch", "--launcher", "demo-launcher", "--", "python", "-c", "1", home=home,
                           env={"LAZYCLI_DEMO_LAUNCHER_TIMEOUT": "-1"}, check=2)  # fmt: skip
    assert (
        "LAZYCLI_DEMO_LAUNCHER_TIMEOUT" in from_env.stderr and "greater than or equal to 0" in from_env.stderr
    )


@pytest.mark.slow
@pytest.mark.parametrize(("name", "verb"), [
    ("thin-store", ("index", "build", "{docs}", "--name", "kb", "--store", "thin-store")),
    ("thin-launcher", ("launch", "--launcher", "thin-launcher", "--", "python", "-c", "print(1)")),
])  # fmt: skip
def test_a_plugin_missing_a_method_fails_its_contract_test_and_its_verb_naming_it(
    installed, name, verb, tmp_path
):
    kind, method = THIN[name]
    protocol = {"store": "ChunkStore", "launcher": "Launcher"}[kind]
    assert f"lacks {method}" in installed.contract_tests[name]
    home = tmp_path / "home"
    docs = _docs(tmp_path / "docs", {"tides.txt": TIDES})
    failed = installed.lz(*[a.format(docs=docs) for a in verb], home=home, check=2)
    assert failed.stderr.count("\n") == 1 and "Traceback" not in failed.stderr
    assert f"{kind} plugin {name!r}" in failed.stderr and f"lacks {method}, which lz calls" in failed.stderr
    assert f"lazycli.contracts.{protocol}" in failed.stderr
    # Nothing half-made: no index, no job row.
    assert installed.lz_json("index", "ls", home=home)["indexes"] == []
    assert not (home / "data" / "indexes" / "kb").exists()  # not even an empty folder with its lock
    assert installed.lz_json("jobs", "ls", home=home)["jobs"] == []


@pytest.mark.slow
@pytest.mark.parametrize(("name", "verb", "listing"), [
    ("wrong-engine", ("deploy", "start", "smollm2-135m-instruct", "--engine", "wrong-engine", "--name", "w"),
     ("deploy", "ls")),
    ("wrong-finetuner", ("finetune", "start", "smollm2-135m-instruct", "--data", "{data}", "--method",
                         "wrong-finetuner", "--name", "w"), ("finetune", "ls")),
    ("wrong-store", ("index", "build", "{docs}", "--name", "kb", "--store", "wrong-store"), ("index", "ls")),
    ("wrong-launcher", ("launch", "--launcher", "wrong-launcher", "--name", "w", "--", "python", "-c", "1"),
     ("jobs", "ls")),
])  # fmt: skip
def test_a_plugin_callable_of_the_wrong_signature_fails_its_verb_in_one_line_naming_it(
    installed, name, verb, listing, tmp_path
):
    kind, field, protocol, _, _ = WRONG[name]
    said = f"{kind} plugin {name!r}: {field} cannot be called as lz calls it (lazycli.{protocol})"
    assert said in installed.contract_tests[name]
    home = tmp_path / "home"
    docs = _docs(tmp_path / "docs", {"tides.txt": TIDES})
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"instruction": "Say 1", "input": "", "output": "1"}) + "\n", encoding="utf-8")
    args = [a.format(docs=docs, data=data) for a in verb]
    end = args.index("--") if "--" in args else len(args)  # options go before a launched command
    dry_run = [*args[:end], "--dry-run", *args[end:]]
    for attempt in (dry_run, args) if kind != "store" else (args,):
        failed = installed.lz(*attempt, home=home, check=2)
        assert failed.stderr.count("\n") == 1 and "Traceback" not in failed.stderr
        assert said in failed.stderr
    # Nothing submitted or half-made: no row in the verb's listing, no job, no run folder.
    [rows] = installed.lz_json(*listing, home=home).values()
    assert rows == [] and installed.lz_json("jobs", "ls", home=home)["jobs"] == []
    assert not list(home.glob("data/finetune/*")) and not list(home.glob("data/indexes/*"))
