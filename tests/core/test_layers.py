"""Layering: `lazycli.client` is the wire layer and imports nothing above errors and settings.

What a name means (deployments, providers, plugins, the catalogue) is decided above it, in
`lazycli.targets`; a wire module that reached up would bring the import circle back.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import lazycli.client

CLIENT_DIR = Path(lazycli.client.__file__).parent
ALLOWED = ("lazycli.client", "lazycli.errors", "lazycli.settings")


def _imported(tree: ast.Module, module: str) -> list[tuple[int, str]]:
    """(line, module) of every import in the file, top level or inside a function."""
    package = module.rsplit(".", 1)[0]  # lazycli.client for lazycli.client.http and .__init__
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # a relative import: resolve it against the package
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            # `from lazycli import state` imports the module lazycli.state
            names = [f"{base}.{a.name}" for a in node.names] if base == "lazycli" else [base]
            found += [(node.lineno, name) for name in names]
    return found


def _allowed(name: str) -> bool:
    if name != "lazycli" and not name.startswith("lazycli."):
        return True  # the standard library and third-party packages
    return any(name == a or name.startswith(a + ".") for a in ALLOWED)


def test_client_modules_import_nothing_above_errors_and_settings():
    modules = sorted(CLIENT_DIR.glob("*.py"))
    assert {p.name for p in modules} >= {"__init__.py", "http.py", "adapters.py"}
    offending = []
    for path in modules:
        module = "lazycli.client." + path.stem
        for line, name in _imported(ast.parse(path.read_text(), str(path)), module):
            if not _allowed(name):
                offending.append(f"{module} imports {name} (line {line})")
    assert not offending, "the wire layer reaches above errors/settings:\n" + "\n".join(offending)


def test_the_check_sees_a_forbidden_import():
    """The AST walk itself: an import of state inside a function is caught, errors is not."""
    tree = ast.parse(
        "from lazycli.errors import LzError\n"
        "def f():\n    from lazycli import state, settings\n    import lazycli.plugins\n"
    )
    names = [name for _, name in _imported(tree, "lazycli.client.http") if not _allowed(name)]
    assert names == ["lazycli.state", "lazycli.plugins"]


def test_no_circle_between_providers_and_the_client():
    """Importing the wire layer in a fresh interpreter loads none of the layers above it."""
    code = (
        "import sys, json\n"
        "import lazycli.client.http, lazycli.client.adapters\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('lazycli'))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    loaded = set(json.loads(proc.stdout))
    assert {"lazycli.client.http", "lazycli.client.adapters"} <= loaded
    above = {"lazycli.providers", "lazycli.state", "lazycli.plugins", "lazycli.targets", "lazycli.console"}
    assert not loaded & above, f"the wire layer loaded {sorted(loaded & above)}"
    # and the other way round: providers builds on the client, in either import order
    proc = subprocess.run(
        [sys.executable, "-c", "import lazycli.providers, lazycli.client.http; import lazycli.targets"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
