"""The agent step in the recipe schema: what validates runs, and what does not is one line with file:line."""

from __future__ import annotations

import pytest

from lazycli import recipes
from lazycli.errors import LzError

HEAD = '[app]\n[[app.steps]]\ntype = "agent"\nmodel = "http://127.0.0.1:9/v1"\n'


def write(tmp_path, body: str):
    path = tmp_path / "a.toml"
    path.write_text(HEAD + body)
    (tmp_path / "mytools.py").write_text("def f(x: str) -> str:\n    return x\n")
    return path


def test_a_missing_tool_module_is_found_at_validation(tmp_path):
    path = write(tmp_path, 'tools = ["mytools:f", "nosuch:g"]\n')
    with pytest.raises(
        LzError, match=r"a.toml:5: app.steps\[0\].tools\[1\].function: no module 'nosuch'"
    ) as err:
        recipes.load(path)
    assert "nosuch.py next to the recipe" in err.value.hint


def test_a_tool_table_needs_exactly_one_source(tmp_path):
    path = write(tmp_path, '[[app.steps.tools]]\nname = "x"\n')
    with pytest.raises(LzError, match="exactly one of 'function'"):
        recipes.load(path)


def test_unknown_kind_names_the_kinds(tmp_path):
    path = write(tmp_path, 'kind = "reflexion"\n')
    with pytest.raises(LzError, match=r"a.toml:5: app.steps\[0\].kind") as err:
        recipes.load(path)
    assert "react" in str(err.value)


def test_a_stop_tool_that_is_not_a_tool_fails_when_built(tmp_path):
    path = write(tmp_path, 'tools = ["mytools:f"]\nstop_tool = "g"\n')
    loaded = recipes.load(path)
    with pytest.raises(LzError, match="stop_tool 'g' is not one of its tools"):
        recipes.build_app(loaded, {"models": {}})


def test_component_tools_compile_with_their_names(tmp_path):
    body = (
        'name = "boss"\n[[app.steps.tools]]\nfunction = "mytools:f"\n'
        '[[app.steps.tools]]\nname = "helper"\ndescription = "Helps."\n'
        '[app.steps.tools.node]\ntype = "agent"\nmodel = "http://127.0.0.1:9/v1"\ntools = ["mytools:f"]\n'
    )
    app = recipes.build_app(recipes.load(write(tmp_path, body)), {"models": {}})
    boss = app.steps[0].agent
    assert boss.name == "boss" and boss.toolbox.names() == ["f", "helper"]
    helper = boss.toolbox.get("helper")
    assert helper.description == "Helps." and helper.parameters["required"] == ["input"]
