"""lz's one contract suite (`lazycli.contracts.check`) on every plugin in the registry and on every
scaffold `lz plugin new` writes; a plugin missing a method core calls fails with a line naming it."""

from __future__ import annotations

import importlib.util
import re

import pytest

from lazycli import contracts, plugins
from lazycli.errors import LzError
from lazycli.rag import backends
from lazycli.scaffolds import KINDS, render

KIND_GROUPS = [kind + "s" for kind in KINDS]
# What cannot run on this offline machine.
ELSEWHERE = {
    ("embedders", "remote"): "embeds through a deployment or provider: needs one running",
    ("rerankers", "remote"): "reranks through a deployment or provider: needs one running",
    ("rerankers", "cross-encoder"): "no cross-encoder model ships offline",
}


def _registered() -> list[tuple[str, str]]:
    reg = plugins.registry()
    return [(kind, name) for kind in KIND_GROUPS for name in sorted(reg.all(kind))]


@pytest.mark.parametrize(("kind", "name"), _registered())
def test_every_registered_plugin_passes_the_contract_suite(kind, name, tmp_path):
    if (kind, name) in ELSEWHERE:
        pytest.skip(ELSEWHERE[kind, name])
    model = backends.choose_embedder(None).model if kind == "embedders" else None
    contracts.check(kind, plugins.registry().get(kind, name), tmp_path, model=model)


def _scaffold_record(kind: str, tmp_path, edit=lambda source: source):
    """The record a freshly scaffolded plugin yields, imported from the file `lz plugin new` writes."""
    files = render("demo-thing", kind)
    path = tmp_path / "lazycli_demo_thing.py"
    path.write_text(edit(files["lazycli_demo_thing.py"]), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"scaffold_{kind}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if hasattr(module, "_settings_model"):  # not registered here: its settings at their defaults
        module._settings = lambda: module._settings_model()()
    [record] = list(getattr(module, f"lazycli_{kind}s")())
    return record


@pytest.mark.parametrize("kind", KINDS)
def test_every_scaffold_passes_the_same_contract_suite(kind, tmp_path):
    record = _scaffold_record(kind, tmp_path)
    (tmp_path / "work").mkdir()
    contracts.check(kind + "s", record, tmp_path / "work")


def test_the_scaffold_test_runs_the_shared_suite_not_a_copy():
    for kind in KINDS:
        test = render("demo-thing", kind)["tests/test_lazycli_demo_thing.py"]
        assert f'contracts.check("{kind}s", reg.get("{kind}s", "demo-thing"), tmp_path)' in test


def _without_method(name: str):
    def edit(source: str) -> str:
        pattern = rf"\n    def {name}\(self[^\n]*\n(?:        [^\n]*\n|\n)*?(?=\n    def |\n\n@)"
        cut, count = re.subn(pattern, "\n", source)
        assert count == 1, f"no method {name} in the scaffold"
        return cut

    return edit


@pytest.mark.parametrize(
    ("kind", "method"), [("store", "take"), ("store", "fingerprint"), ("launcher", "describe")]
)
def test_a_plugin_missing_a_method_fails_with_a_line_naming_it(kind, method, tmp_path):
    record = _scaffold_record(kind, tmp_path, edit=_without_method(method))
    (tmp_path / "work").mkdir()
    with pytest.raises(contracts.ContractError) as caught:
        contracts.check(kind + "s", record, tmp_path / "work")
    message = str(caught.value)
    assert f"{kind} plugin 'demo-thing'" in message and f"lacks {method}" in message
    assert isinstance(caught.value, LzError) and "lz plugin new NAME --kind" in caught.value.hint


def _names_for_annotations(module) -> dict:
    """The module's globals plus what it imports only under `if TYPE_CHECKING:`, so the annotations
    resolve as a type checker resolves them."""
    import ast
    import importlib
    import inspect

    names = dict(vars(module))
    for node in ast.parse(inspect.getsource(module)).body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for imp in node.body:
                source = importlib.import_module(imp.module)
                names.update({a.asname or a.name: getattr(source, a.name) for a in imp.names})
    return names


def test_record_callables_and_registry_lookups_are_typed_with_the_protocols():
    import typing

    from lazycli import hookspecs
    from lazycli.finetune.runs import FinetuneJob, Prepared

    hints = {
        kind: typing.get_type_hints(record, globalns=_names_for_annotations(hookspecs))
        for kind, (_, record) in hookspecs.KINDS.items()
    }
    assert hints["engines"]["argv"] is contracts.EngineCommand
    assert hints["stores"]["open"] is contracts.StoreOpener
    assert hints["embedders"]["factory"] is contracts.EmbedderFactory
    assert hints["rerankers"]["factory"] is contracts.RerankerFactory
    assert hints["loaders"]["load"] is contracts.LoadDocument
    assert hints["providers"]["client_factory"] == contracts.ClientFactory | None
    assert hints["finetuners"]["prepare"] is contracts.PrepareFinetune
    assert hints["finetuners"]["finish"] == contracts.FinishFinetune | None
    protocol_names = _names_for_annotations(contracts)
    assert (
        typing.get_type_hints(contracts.StoreOpener.__call__, protocol_names)["return"]
        is contracts.ChunkStore
    )
    prepare = typing.get_type_hints(contracts.PrepareFinetune.__call__, protocol_names)
    assert prepare == {"job": FinetuneJob, "return": Prepared}
    # Registry.get is overloaded per kind: the record type of each kind, Any for a kind in a variable.
    returns = [typing.get_type_hints(o)["return"] for o in typing.get_overloads(plugins.Registry.get)]
    assert returns == [record for _, record in hookspecs.KINDS.values()] + [typing.Any]
    from lazycli.launchers import Launcher

    conformed = [typing.get_type_hints(o)["return"] for o in typing.get_overloads(contracts.conform)]
    assert conformed == [contracts.ChunkStore, contracts.Embedder, contracts.Reranker, Launcher]


def test_a_callable_written_for_another_signature_fails_naming_the_field_and_protocol(tmp_path):
    """The finetuner scaffold once taught prepare(model, data, out, options); lz calls prepare(job)."""
    from dataclasses import replace

    record = _scaffold_record("finetuner", tmp_path)
    old_shape = replace(record, prepare=lambda model, data, out, options: out / "config.json")
    (tmp_path / "work").mkdir()
    with pytest.raises(contracts.ContractError) as caught:
        contracts.check("finetuners", old_shape, tmp_path / "work")
    message = str(caught.value)
    assert "plugin 'demo-thing': prepare cannot be called as lz calls it" in message
    assert "lazycli.contracts.PrepareFinetune" in message and "missing a required argument: 'data'" in message
    assert "--kind finetuner" in caught.value.hint


def _with_members(text: str):
    """The launcher scaffold with `text` (indented class body lines) added before its describe."""

    def edit(source: str) -> str:
        anchor = "    def describe(self, argv, resources, env):\n"
        assert anchor in source
        return source.replace(anchor, text + anchor)

    return edit


@pytest.mark.parametrize(
    ("member", "text", "names"),
    [
        ("check_port", "    def check_port(self):\n        return None\n\n", "PortCheck"),
        ("leftovers", "    def leftovers(self, job, signal):\n        return []\n\n", "Leftovers"),
        ("check_resources", "    check_resources = 3\n\n", "ResourceCheck"),
        ("poll_interval", '    poll_interval = "fast"\n\n', "int or float"),
        ("multi_node", '    multi_node = "yes"\n\n', "bool"),
    ],
)
def test_an_optional_launcher_member_of_the_wrong_shape_fails_naming_it(member, text, names, tmp_path):
    """An optional member is not silently skipped when it is there but lz could not call or read it."""
    record = _scaffold_record("launcher", tmp_path, edit=_with_members(text))
    (tmp_path / "work").mkdir()
    with pytest.raises(contracts.ContractError) as caught:
        contracts.check("launchers", record, tmp_path / "work")
    message = str(caught.value)
    assert message.startswith("launcher plugin 'demo-thing': ") and "\n" not in message
    assert member in message and names in message


def test_optional_launcher_members_are_asked_for_by_protocol(tmp_path):
    from lazycli import launchers
    from lazycli.plugins import registry

    extra = "    def check_port(self, port):\n        raise ValueError(port)\n\n    poll_interval = 0.5\n\n"
    record = _scaffold_record("launcher", tmp_path, edit=_with_members(extra))
    (tmp_path / "work").mkdir()
    contracts.check("launchers", record, tmp_path / "work")  # present and right: passes
    scaffolded = record.factory()
    assert launchers.supports(scaffolded, launchers.PortCheck)
    assert not launchers.supports(scaffolded, launchers.Leftovers)
    assert not launchers.supports(scaffolded, launchers.DescribeAt)  # its describe takes 3 arguments
    assert launchers.trait(scaffolded, "poll_interval") == 0.5
    assert launchers.trait(scaffolded, "bind_host") == "0.0.0.0"  # the declared default
    # The built-ins keep what they had: local checks ports and leftovers, ray the cluster's resources.
    local, ray, slurm = (registry().get("launchers", n).factory() for n in ("local", "ray", "slurm"))
    assert launchers.supports(local, launchers.PortCheck) and launchers.supports(local, launchers.Leftovers)
    assert launchers.supports(ray, launchers.ResourceCheck) and not launchers.supports(
        ray, launchers.PortCheck
    )
    assert all(launchers.supports(x, launchers.DescribeAt) for x in (local, ray, slurm))
    assert launchers.trait(slurm, "multi_node") and not launchers.trait(local, "multi_node")
