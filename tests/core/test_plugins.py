"""The plugin manager: entry points, broken plugins, duplicate names, LAZYCLI_PLUGINS."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from tests.conftest import lz


def install_fake_dist(site: Path, dist: str, modules: dict[str, str], entry_points: dict[str, str]) -> None:
    """Lay out a distribution the way pip installs a wheel: modules + a .dist-info with entry points."""
    for module, source in modules.items():
        (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    lines = "\n".join(f"{name} = {target}" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[lazycli]\n{lines}\n")


GOOD = """
from lazycli.hookspecs import EngineRequest, EngineSpec, hookimpl

@hookimpl
def lazycli_engines():
    yield EngineSpec(name="{name}", argv=lambda req: ["serve", str(req.port)])
"""

BROKEN = """
raise RuntimeError("this plugin is broken on purpose")
"""

RAISING_HOOK = """
from lazycli.hookspecs import hookimpl

@hookimpl
def lazycli_providers():
    raise ValueError("hook exploded")
"""


def _plugins_json(site: Path, **env) -> list[dict]:
    proc = lz("plugins", "--json", env={"PYTHONPATH": str(site), **env}, check=0)
    return json.loads(proc.stdout)["plugins"]


def test_third_party_plugin_is_listed_with_version_and_source(tmp_path):
    install_fake_dist(tmp_path, "lazycli-fast", {"lz_fast": GOOD.format(name="fast")}, {"fast": "lz_fast"})
    info = next(p for p in _plugins_json(tmp_path) if p["name"] == "fast")
    assert info["source"] == "lazycli-fast"
    assert info["version"] == "1.2.3"
    assert info["records"] == {"engines": ["fast"]}
    assert info["errors"] == []


def test_broken_plugin_is_reported_and_lz_keeps_working(tmp_path):
    install_fake_dist(tmp_path, "lazycli-broken", {"lz_broken": BROKEN}, {"broken": "lz_broken"})
    install_fake_dist(tmp_path, "lazycli-boom", {"lz_boom": RAISING_HOOK}, {"boom": "lz_boom"})
    install_fake_dist(tmp_path, "lazycli-fast", {"lz_fast": GOOD.format(name="fast")}, {"fast": "lz_fast"})
    plugins = {p["name"]: p for p in _plugins_json(tmp_path)}
    assert "this plugin is broken on purpose" in plugins["broken"]["errors"][0]
    assert "hook exploded" in plugins["boom"]["errors"][0]
    assert plugins["fast"]["records"] == {"engines": ["fast"]}
    env = {"PYTHONPATH": str(tmp_path)}
    assert lz("--help", env=env).returncode == 0
    assert lz("version", env=env).returncode == 0
    assert "broken on purpose" in lz("plugins", env=env, check=0).stdout


def test_duplicate_engine_names_are_refused_naming_both(tmp_path):
    install_fake_dist(tmp_path, "lazycli-a", {"lz_a": GOOD.format(name="same")}, {"plug-a": "lz_a"})
    install_fake_dist(tmp_path, "lazycli-b", {"lz_b": GOOD.format(name="same")}, {"plug-b": "lz_b"})
    plugins = {p["name"]: p for p in _plugins_json(tmp_path)}
    assert plugins["plug-a"]["records"] == {"engines": ["same"]}
    assert "already registered by plugin 'plug-a'" in plugins["plug-b"]["errors"][0]


def test_asking_for_a_clashing_name_is_a_user_error(tmp_path, monkeypatch):
    import pytest

    from lazycli import plugins
    from lazycli.errors import LzError

    # In-process tests use module names of their own: imported modules stay in sys.modules.
    install_fake_dist(
        tmp_path, "lazycli-a", {"lz_clash_a": GOOD.format(name="same")}, {"plug-a": "lz_clash_a"}
    )
    install_fake_dist(
        tmp_path, "lazycli-b", {"lz_clash_b": GOOD.format(name="same")}, {"plug-b": "lz_clash_b"}
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins.reset()
    with pytest.raises(LzError) as err:
        plugins.registry().get("engines", "same")
    assert "plug-a" in str(err.value) and "plug-b" in str(err.value)


def test_lazycli_plugins_restricts_loading(tmp_path):
    install_fake_dist(tmp_path, "lazycli-a", {"lz_a": GOOD.format(name="aa")}, {"plug-a": "lz_a"})
    install_fake_dist(tmp_path, "lazycli-b", {"lz_b": GOOD.format(name="bb")}, {"plug-b": "lz_b"})
    names = [p["name"] for p in _plugins_json(tmp_path, LAZYCLI_PLUGINS="plug-b")]
    assert names == ["plug-b"]


def test_unknown_record_name_suggests(tmp_path, monkeypatch):
    import pytest

    from lazycli import plugins
    from lazycli.errors import LzError

    install_fake_dist(
        tmp_path, "lazycli-a", {"lz_near": GOOD.format(name="fastengine")}, {"plug-a": "lz_near"}
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins.reset()
    with pytest.raises(LzError, match="did you mean 'fastengine'"):
        plugins.registry().get("engines", "fastengin")
