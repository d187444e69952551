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


SETTINGS_PLUGIN = """
from pydantic import BaseModel, Field

from lazycli.hookspecs import SettingsSpec, hookimpl


class MyCloud(BaseModel):
    region: str = Field("eu-1", description="Region of my-cloud jobs")
    retries: int = Field(2, ge=0, le=5, description="Retries of a my-cloud call")


@hookimpl
def lazycli_settings():
    yield SettingsSpec(name="mycloud", model=MyCloud)
"""


def test_a_plugin_declared_setting_is_shown_validated_and_read(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    install_fake_dist(site, "lazycli-mycloud", {"lz_mycloud": SETTINGS_PLUGIN}, {"mycloud": "lz_mycloud"})
    env = {"PYTHONPATH": str(site), "LAZYCLI_HOME": str(tmp_path / "home")}
    shown = json.loads(lz("config", "show", "--json", env=env, check=0).stdout)["settings"]
    rows = {r["key"]: r for r in shown}
    assert rows["mycloud_region"]["value"] == "eu-1" and rows["mycloud_region"]["source"] == "default"
    assert rows["mycloud_retries"]["help"] == "Retries of a my-cloud call"

    bad = lz("config", "set", "mycloud_retries", "9", env=env, check=2)
    assert "bad value for 'mycloud_retries'" in bad.stderr and "less than or equal to 5" in bad.stderr
    typo = lz("config", "set", "mycloud_regoin", "x", env=env, check=2)
    assert "did you mean 'mycloud_region'" in typo.stderr
    assert not (tmp_path / "home" / "config" / "config.toml").exists()  # nothing bad was written

    lz("config", "set", "mycloud_region", "ap-2", env=env, check=0)
    assert lz("config", "get", "mycloud_region", env=env, check=0).stdout.strip() == "ap-2"
    from_env = lz("config", "get", "mycloud_retries", env={**env, "LAZYCLI_MYCLOUD_RETRIES": "4"}, check=0)
    assert from_env.stdout.strip() == "4"
    # Without the plugin loaded, its keys in the config file are left alone, not an error.
    other = lz("config", "get", "deploy_timeout", env={**env, "LAZYCLI_PLUGINS": "llamacpp"}, check=0)
    assert other.returncode == 0 and other.stdout.strip() == "300.0"
