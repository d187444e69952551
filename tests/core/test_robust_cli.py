"""Errors a user can cause end in one line and exit 2 (issue 21): settings, flags, config file,
recipes, indexing. Each test runs `lz` as a real process and asserts what the user sees."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from tests.conftest import lz


def one_line_error(proc, *needles: str) -> str:
    """The process ended with exit 2 and one `lz: error:` line, its last, holding every needle
    (progress notes such as a run's plan may come before it)."""
    assert proc.returncode == 2, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("lz: error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], proc.stderr
    for needle in needles:
        assert needle in errors[0], f"{needle!r} not in {errors[0]!r}"
    return errors[0]


# --- settings: one validation layer for `config set`, env vars and the file ------------------------


@pytest.mark.parametrize(
    ("key", "value", "needles"),
    [
        ("max_retries", "99999999999999999999", ("max_retries", "less than or equal to 10")),
        ("default_engine", "llamacp", ("default_engine", "did you mean 'llamacpp'", "known engines")),
        ("default_launcher", "nowhere", ("default_launcher", "known launchers", "local")),
        ("endpoints.x.base_url", "not a url", ("endpoints.x.base_url", "not an http(s) URL")),
        ("endpoints.x.base_url", "http://127.0.0.1:99999/v1", ("its port is not in 1-65535",)),
        ("endpoints.x.base_urll", "http://127.0.0.1:8000/v1", ("unknown setting", "did you mean 'base_url'")),
        ("deploy_timeout", "-5", ("deploy_timeout", "greater than 0")),
    ],
)
def test_config_set_refuses_nonsense_and_writes_nothing(lz_home, key, value, needles):
    one_line_error(lz("config", "set", key, value), *needles)
    assert not (lz_home / "config" / "config.toml").exists()


def test_config_set_accepts_good_values_of_the_same_keys(lz_home):
    lz("config", "set", "max_retries", "5", check=0)
    lz("config", "set", "default_engine", "llamacpp", check=0)
    lz("config", "set", "endpoints.x.base_url", "http://127.0.0.1:8000/v1", check=0)
    assert lz("config", "get", "endpoints.x.base_url", check=0).stdout.strip() == "http://127.0.0.1:8000/v1"


def test_env_var_goes_through_the_same_checks(lz_home):
    proc = lz("config", "get", "max_retries", env={"LAZYCLI_MAX_RETRIES": "99999999999999999999"})
    one_line_error(proc, "LAZYCLI_MAX_RETRIES", "less than or equal to 10")


def test_config_file_not_utf8_or_a_directory_is_one_line(lz_home):
    path = lz_home / "config" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"deploy_timeout = 5\n\xff\xfe\n")
    one_line_error(lz("config", "show"), str(path), "not UTF-8")
    path.unlink()
    path.mkdir()
    one_line_error(lz("config", "show"), str(path), "is a directory")


def test_config_path_json_is_accepted(lz_home):
    import json

    out = json.loads(lz("config", "path", "--json", check=0).stdout)
    assert out["config"].startswith(str(lz_home))


# --- flags: ports and hosts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("deploy", "smollm2-135m-instruct", "--port", "-1"),
        ("deploy", "smollm2-135m-instruct", "--port", "70000"),
        ("serve", "smollm2-135m-instruct", "--port", "70000"),
    ],
)
def test_out_of_range_ports_are_refused_before_anything_starts(lz_home, args):
    one_line_error(lz(*args), "--port", "65535" if args[-1] == "70000" else "greater than or equal to 1")
    assert lz("deploy", "ls", "--json", check=0).stdout.count('"name"') == 0  # nothing was started


def test_a_host_that_does_not_resolve_is_refused(lz_home):
    one_line_error(lz("serve", "smollm2-135m-instruct", "--host", "999.1.1.1"), "--host", "999.1.1.1")


def test_an_empty_target_or_prompt_is_refused_and_starts_nothing(lz_home):
    # An unset shell variable (`lz chat "$T" hi`) must not mean "the default", which deploys a model.
    one_line_error(lz("chat", "", "hi"), "the target is empty")
    one_line_error(lz("serve", ""), "the target is empty")
    one_line_error(lz("chat", "", input=""), "nothing to ask", "PROMPT")
    one_line_error(lz("doctor", "--only", ""), "--only names no check", "checks: config")
    assert lz("deploy", "ls", "--json", check=0).stdout.count('"name"') == 0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("chat", "hi", "--temperature", "nan"), "'nan' is not a finite number"),
        (("chat", "hi", "--top-p", "1e400"), "'1e400' is not a finite number"),
        (("doctor", "--timeout", "99999999999999999999"), "is too large"),
        (("logs", "list", "--limit", "99999999999999999999"), "is too large"),
    ],
)
def test_numbers_no_option_means_are_refused_at_the_door(lz_home, capsys, args, needle):
    from tests.core.test_fuzz_flags import run_in_process  # in-process: the parse is all there is

    code, output = run_in_process(list(args), capsys)
    assert code == 2 and "Traceback" not in output, output
    assert needle in output


def test_an_id_beyond_64_bits_is_just_not_found(lz_home):
    one_line_error(lz("logs", "show", "99999999999999999999"), "no logged exchange")


def test_a_url_with_an_impossible_port_is_refused_before_any_request(lz_home):
    proc = lz("chat", "http://127.0.0.1:99999/v1", "hi")
    one_line_error(proc, "http://127.0.0.1:99999/v1", "its port is not in 1-65535")
    assert "retry" not in proc.stderr


@pytest.fixture
def web_server():
    """A real HTTP server that is not an API: Python's file server (501 for POST, HTML pages)."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=os.getcwd())
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("stream", [True, False])
def test_a_url_that_is_no_openai_server_says_so_in_one_line(lz_home, web_server, stream):
    proc = lz("chat", f"{web_server}/v1", "hi", *(() if stream else ("--no-stream",)))
    line = one_line_error(
        proc, f"{web_server}/v1/chat/completions is not an OpenAI-compatible endpoint", "HTTP 501", "/v1"
    )
    assert "<" not in line and "retry" not in proc.stderr


def test_k8s_dry_run_without_the_kubernetes_extra_is_an_install_hint(lz_home, tmp_path):
    # What an environment without the extra looks like to Python: `import kubernetes` fails.
    blocker = tmp_path / "blocked"
    blocker.mkdir()
    (blocker / "kubernetes.py").write_text("raise ModuleNotFoundError(\"No module named 'kubernetes'\")\n")
    path = os.pathsep.join([str(blocker), os.environ.get("PYTHONPATH", "")])
    proc = lz("deploy", "smollm2-135m-instruct", "--launcher", "k8s", "--dry-run", env={"PYTHONPATH": path})
    one_line_error(proc, "the k8s launcher needs the kubernetes client", "pip install 'lazycli[k8s]'")


def test_an_offline_modelscope_download_fails_fast_in_one_line_and_leaves_no_dir(lz_home):
    from lazycli.fsutil import free_port

    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens: what "offline" looks like
    proc = lz(
        "download", "qwen2.5-0.5b-instruct", "--source", "modelscope", env={"MODELSCOPE_ENDPOINT": endpoint}
    )
    one_line_error(proc, f"cannot reach {endpoint}", "Connection refused", "run again")
    assert "WARNING" not in proc.stderr and "retry" not in proc.stderr
    assert not list((lz_home / "cache").rglob("*Qwen2.5-0.5B*"))


# --- recipes: validation checks what a run would check ------------------------------------------


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def test_an_empty_recipe_does_not_validate(lz_home, tmp_path):
    recipe = write(tmp_path / "empty.toml", "# nothing\n")
    one_line_error(lz("recipe", "validate", str(recipe)), "the recipe is empty")
    one_line_error(lz("run", str(recipe), "hi"), "the recipe is empty")


def test_a_retriever_on_an_undeclared_index_fails_validation_at_its_line(lz_home, tmp_path):
    recipe = write(
        tmp_path / "r.toml",
        """\
        [indexes.kb]
        paths = ["docs"]

        [app]
        [[app.steps]]
        type = "retriever"
        index = "kbb"
        """,
    )
    (tmp_path / "docs").mkdir()
    one_line_error(
        lz("recipe", "validate", str(recipe)), f"{recipe}:7", "no index 'kbb'", "did you mean 'kb'"
    )


def test_a_python_step_whose_module_is_missing_fails_validation(lz_home, tmp_path):
    recipe = write(
        tmp_path / "r.toml",
        """\
        [app]
        [[app.steps]]
        type = "python"
        function = "nosuchmodule_xyz:run"
        """,
    )
    one_line_error(lz("recipe", "validate", str(recipe)), f"{recipe}:4", "python module 'nosuchmodule_xyz'")


def test_an_unknown_table_is_reported_at_its_own_line(lz_home, tmp_path):
    recipe = write(
        tmp_path / "r.toml",
        """\
        [app]
        [[app.steps]]
        type = "prompt"
        template = "{input}"

        [extra.thing]
        x = 1
        """,
    )
    one_line_error(lz("recipe", "validate", str(recipe)), f"{recipe}:6", "unknown key 'extra'")


def test_a_python_step_that_raises_is_one_line_with_its_place(lz_home, tmp_path):
    (tmp_path / "tools.py").write_text("def boom(value):\n    return 1 / 0\n")
    recipe = write(
        tmp_path / "r.toml",
        """\
        [app]
        [[app.steps]]
        type = "python"
        function = "tools:boom"
        """,
    )
    for extra in ((), ("--json",)):
        proc = lz("run", str(recipe), *extra, "hi")
        one_line_error(proc, "python step 'tools:boom' raised ZeroDivisionError", "tools.py:2")


# --- indexing: bad files are skipped with a warning, the others are indexed ----------------------


@pytest.fixture
def docs(tmp_path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.md").write_text("# Lighthouses\n\nThe Pharos of Alexandria guided ships for centuries.\n")
    return folder


def _search(name: str, query: str) -> str:
    return lz("rag", "--index", name, "--retrieve-only", "--json", query, check=0).stdout


def test_a_zero_byte_file_does_not_break_indexing(lz_home, docs):
    (docs / "empty.txt").write_bytes(b"")
    proc = lz("index", str(docs), "--name", "kb", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Pharos" in _search("kb", "Pharos of Alexandria")


def test_a_file_that_cannot_be_read_is_skipped_with_a_warning(lz_home, docs):
    (docs / "gone.txt").symlink_to(docs / "nowhere.txt")  # listed, but reading it fails (ENOENT)
    proc = lz("index", str(docs), "--name", "kb")
    assert proc.returncode == 0, proc.stderr
    assert "skipped " in proc.stderr and "gone.txt: No such file or directory" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Pharos" in _search("kb", "Pharos of Alexandria")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_file_is_skipped_with_a_warning(lz_home, docs):
    secret = docs / "secret.txt"
    secret.write_text("private")
    secret.chmod(0)
    proc = lz("index", str(docs), "--name", "kb")
    assert proc.returncode == 0, proc.stderr
    assert "secret.txt: Permission denied" in proc.stderr


def test_random_bytes_in_a_text_file_are_skipped_not_indexed(lz_home, docs):
    (docs / "noise.txt").write_bytes(os.urandom(20000))
    proc = lz("index", str(docs), "--name", "kb", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "noise.txt: binary data, not text" in proc.stderr
    import json

    summary = json.loads(proc.stdout)
    assert [Path(f["source"]).name for f in summary["failed"]] == ["noise.txt"]
