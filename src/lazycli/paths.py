"""Where lz keeps things: XDG dirs, or `$LAZYCLI_HOME/{config,data,cache}` when that is set.

Kept free of heavy imports so that fast commands (state reads, `lz deploy ls`) stay fast.
"""

from __future__ import annotations

import os
from pathlib import Path


def _xdg(var: str, fallback: str) -> Path:
    return Path(os.environ.get(var) or Path.home() / fallback)


def home_dir() -> Path | None:
    home = os.environ.get("LAZYCLI_HOME")
    return Path(home).expanduser() if home else None


def config_dir() -> Path:
    home = home_dir()
    return home / "config" if home else _xdg("XDG_CONFIG_HOME", ".config") / "lazycli"


def data_dir() -> Path:
    home = home_dir()
    return home / "data" if home else _xdg("XDG_DATA_HOME", ".local/share") / "lazycli"


def cache_dir() -> Path:
    home = home_dir()
    return home / "cache" if home else _xdg("XDG_CACHE_HOME", ".cache") / "lazycli"


def config_path() -> Path:
    """The TOML config file; LAZYCLI_CONFIG points at another one."""
    explicit = os.environ.get("LAZYCLI_CONFIG")
    return Path(explicit).expanduser() if explicit else config_dir() / "config.toml"


def keys_path() -> Path:
    """The 0600 secrets file written by `lz keys`."""
    return config_dir() / "keys.toml"


def logs_dir() -> Path:
    return data_dir() / "logs"
