"""`lz plugin new`: the scaffold installs with pip, is listed by `lz plugins`, and its test passes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv

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


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["provider", "launcher", "embedder", "store"])
def test_scaffold_installs_lists_and_passes_its_contract_test(tmp_path, kind):
    target = tmp_path / "plugin"
    lz("plugin", "new", "demo-thing", "--kind", kind, "--dir", str(target), check=0)
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    # The plugin goes into a venv of its own; the packages of the environment running this test (lz,
    # pytest, setuptools from the dev extra) stay visible there through a .pth file. A venv's
    # system_site_packages would show the base interpreter's instead, which lacks them in a fresh venv.
    # addsitedir (not a bare path) so their own .pth files run too: an editable lz is found by one.
    [inner_site] = (env_dir / "lib").glob("python*/site-packages")
    outer_sites = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    (inner_site / "outer-env.pth").write_text(f"import site; list(map(site.addsitedir, {outer_sites!r}))\n")
    python = str(env_dir / "bin" / "python")
    # pip from the outer interpreter installs into the venv (no network: setuptools is already here).
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            python,
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-e",
            str(target),
        ],
        check=True,
    )
    listed = subprocess.run(
        [python, "-m", "lazycli", "plugins", "--json"], capture_output=True, text=True, check=True
    ).stdout
    info = next(p for p in json.loads(listed)["plugins"] if p["name"] == "demo-thing")
    assert info["source"] == "lazycli-demo-thing" and not info["errors"]
    assert info["records"] == {kind + "s": ["demo-thing"]}
    result = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(target / "tests")],
        capture_output=True,
        text=True,
        cwd=target,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    if kind == "store":
        _index_and_search_with_the_scaffolded_store(python, tmp_path)


def _index_and_search_with_the_scaffolded_store(python: str, tmp_path):
    """The real verbs over the third-party store: `lz index --store`, an update, then `lz rag`."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tides.txt").write_text("Ocean tides are caused by the gravity of the Moon.", encoding="utf-8")
    (docs / "tea.txt").write_text("Longjing green tea is grown near Hangzhou.", encoding="utf-8")
    env = {**os.environ, "LAZYCLI_HOME": str(tmp_path / "home")}

    def run(*args):
        proc = subprocess.run([python, "-m", "lazycli", *args], capture_output=True, text=True, env=env)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    built = json.loads(run("index", str(docs), "--name", "kb", "--store", "demo-thing", "--json"))
    assert built["files"] == 2 and built["chunks"] > 0
    (docs / "tea.txt").unlink()  # an update keeps the index's store: no --store needed
    updated = json.loads(run("index", str(docs), "--name", "kb", "--json"))
    assert updated["deleted"] == 1 and not updated["rebuilt"]
    found = json.loads(run("rag", "--index", "kb", "--retrieve-only", "--json", "what causes tides?"))
    assert [r["file"] for r in found["results"]][:1] == ["tides.txt"]
    assert any(p.name.endswith(".arrow") for p in (tmp_path / "home").rglob("v*.arrow"))
