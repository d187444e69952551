"""Bad recipes end with one line naming file:line and the field path, a hint, exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lazycli import recipes
from lazycli.errors import LzError
from tests.conftest import lz

REPO = Path(__file__).resolve().parents[2]

BAD = {
    "unknown_key": (
        'name = "x"\n\n[models.llm]\nmodel = "smollm2-135m-instruct"\nengnie = "llamacpp"\n',
        ":5: models.llm.engnie: unknown key 'engnie'",
        "did you mean 'engine'?",
    ),
    "unknown_nested_key": (
        '[app]\n[[app.steps]]\ntype = "parallel"\n[[app.steps.steps]]\ntype = "retriever"\nindex = "kb"\n'
        '[[app.steps.steps]]\ntype = "retriever"\nindex = "kb"\ntopkk = 3\n',
        ":10: app.steps[0].steps[1].topkk: unknown key 'topkk'",
        "did you mean 'topk'?",
    ),
    "unknown_step_type": (
        '[app]\n[[app.steps]]\ntype = "retriver"\nindex = "kb"\n',
        ":2: app.steps[0].type: unknown step type 'retriver'",
        "did you mean 'retriever'?",
    ),
    "wrong_type": (
        '[app]\n[[app.steps]]\ntype = "retriever"\nindex = "kb"\n\n'
        '[[app.steps]]\ntype = "rerank"\ntopk = "three"\n',
        ":8: app.steps[1].topk: Input should be a valid integer",
        "topk: int",
    ),
    "wrong_type_inline": (
        '[models.llm]\nmodel = "smollm2-135m-instruct"\nport = "eighty"\n',
        ":3: models.llm.port:",
        "port",
    ),
    "cycle": (
        '[models.a]\nmodel = "smollm2-135m-instruct"\nname = "${models.b.name}"\n\n'
        '[models.b]\nmodel = "smollm2-135m-instruct"\nname = "${models.a.name}"\n',
        "reference cycle models.a → models.b → models.a",
        "do not depend on it",
    ),
    "unknown_reference": (
        '[models.llm]\nmodel = "smollm2-135m-instruct"\n\n'
        '[indexes.kb]\npaths = ["."]\nembed = "${models.lm.name}"\n',
        ":6: indexes.kb.embed: ${models.lm.name} refers to unknown 'models.lm'",
        "did you mean 'models.llm'?",
    ),
    "missing_model": (
        '[models.llm]\nmodel = "smollm3-135m-instruct"\n',
        ":2: models.llm.model: unknown model 'smollm3-135m-instruct'",
        "smollm2-135m-instruct",
    ),
    "llm_names_unknown_model": (
        '[models.llm]\nmodel = "smollm2-135m-instruct"\n[app]\n[[app.steps]]\ntype = "llm"\nmodel = "lmm"\n',
        ":6: app.steps[0].model: unknown model 'lmm'",
        "did you mean 'llm'",
    ),
    "bind_to_unknown_step": (
        '[app]\n[[app.steps]]\ntype = "prompt"\ntemplate = "x"\nbind = { q = "inptu" }\n',
        ":5: app.steps[0].bind.q: no step named 'inptu'",
        "did you mean 'input'?",
    ),
    "unreadable_toml": (
        '[models.llm]\nmodel = "smollm2-135m-instruct\n',
        ":2: not valid TOML",
        "fix the syntax",
    ),
    "secret_in_recipe": (
        '[models.llm]\nmodel = "gpt-4o"\nprovider = "openai"\noptions = { api_key = "sk-123" }\n',
        ":4: models.llm.options.api_key: secrets do not go in recipes",
        "lz keys set openai",
    ),
    "missing_required": (
        '[indexes.kb]\ninclude = ["*.md"]\n',
        ":1: indexes.kb.paths: required key is missing",
        "paths",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_recipe_names_file_line_field_and_hint(case, tmp_path):
    text, message, hint = BAD[case]
    path = tmp_path / f"{case}.toml"
    path.write_text(text)
    with pytest.raises(LzError) as err:
        recipes.load(path)
    assert err.value.message.startswith(str(path)), err.value.message
    assert message in err.value.message
    assert "sk-123" not in str(err.value)
    assert hint in (err.value.hint or "") + err.value.message


@pytest.mark.parametrize("case", ["unknown_key", "cycle", "unreadable_toml", "missing_model"])
def test_validate_verb_exits_2_with_one_line(case, tmp_path):
    text, message, hint = BAD[case]
    path = tmp_path / "bad.toml"
    path.write_text(text)
    proc = lz("recipe", "validate", str(path))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    line = proc.stderr.strip()
    assert line.startswith(f"lz: error: {path}") and message in line and hint in line
    assert len(line.splitlines()) == 1


def test_unreadable_file_and_missing_file(tmp_path):
    (tmp_path / "dir.toml").mkdir()
    (tmp_path / "latin1.toml").write_bytes(b'name = "caf\xe9"\n')
    for name in ("dir.toml", "latin1.toml"):
        proc = lz("recipe", "validate", str(tmp_path / name))
        assert proc.returncode == 2 and f"cannot read recipe {tmp_path / name}" in proc.stderr
    proc = lz("recipe", "validate", str(tmp_path / "nope.toml"))
    assert proc.returncode == 2 and "not found" in proc.stderr


def test_env_interpolation_set_overrides_and_secret_env_refused(tmp_path, monkeypatch):
    path = tmp_path / "r.toml"
    path.write_text('[models.llm]\nmodel = "${LZ_TEST_MODEL}"\nport = "${LZ_TEST_PORT:-8080}"\n')
    with pytest.raises(
        LzError, match=r"r.toml:2: models.llm.model: environment variable LZ_TEST_MODEL is not set"
    ):
        recipes.load(path)
    monkeypatch.setenv("LZ_TEST_MODEL", "smollm2-135m-instruct")
    loaded = recipes.load(path)
    assert loaded.spec.models["llm"].model == "smollm2-135m-instruct"
    assert loaded.spec.models["llm"].port == 8080  # the default, then validated as an int
    loaded = recipes.load(path, ["models.llm.port=9000", "models.llm.options.n_ctx=2048"])
    assert loaded.spec.models["llm"].port == 9000 and loaded.spec.models["llm"].options == {"n_ctx": 2048}
    with pytest.raises(LzError, match=r"\(--set models.llm.port\): models.llm.port"):
        recipes.load(path, ["models.llm.port=high"])
    with pytest.raises(LzError, match="unknown key 'engnie'"):
        recipes.load(path, ["models.llm.engnie=vllm"])
    path.write_text('[models.llm]\nmodel = "x"\nprovider = "openai"\nname = "${OPENAI_API_KEY}"\n')
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-for-recipes")
    with pytest.raises(LzError, match="looks like a secret") as err:
        recipes.load(path)
    assert "sk-not-for-recipes" not in str(err.value)


def test_shipped_recipes_validate_and_schema_exports():
    for recipe in sorted((REPO / "recipes").glob("*.toml")):
        proc = lz("recipe", "validate", str(recipe), "--json", check=0)
        assert json.loads(proc.stdout)["valid"] is True
    schema = json.loads(lz("recipe", "schema", check=0).stdout)
    assert schema["title"] == "lazycli recipe"
    assert {"models", "indexes", "steps", "app", "serve", "eval"} <= set(schema["properties"])
    step_types = {d for d in json.dumps(schema["$defs"]).split('"') if d.endswith("Node")}
    assert {"LLMNode", "RetrieverNode", "WarpNode", "LoopNode", "SwitchNode"} <= step_types


def test_every_step_type_line_is_found_in_nested_tables(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text(
        '[app]\n[[app.steps]]\ntype = "warp"\n\n[app.steps.body]\ntype = "loop"\nmax_turns = 2\n\n'
        '[app.steps.body.body]\ntype = "llm"\nmodel = "http://127.0.0.1:1/v1"\nformater = "json"\n'
    )
    with pytest.raises(LzError, match=r"deep.toml:12: app.steps\[0\].body.body.formater: unknown key") as err:
        recipes.load(path)
    assert err.value.hint == "did you mean 'formatter'?"


def test_references_decide_the_order_and_are_filled_with_results(tmp_path):
    from lazycli.recipes.loader import check_references
    from lazycli.recipes.refs import resolve_refs

    path = tmp_path / "order.toml"
    path.write_text(
        '[models.chat]\nmodel = "smollm2-135m-instruct"\nname = "chat-for-${indexes.kb.name}"\n\n'
        '[indexes.kb]\npaths = ["."]\n\n'
        '[[steps]]\nverb = "lz"\n'
        'args = { _ = ["chat", "${models.chat.target}"], port = "${models.chat.port}" }\n'
    )
    loaded = recipes.load(path)
    assert check_references(loaded) == ["indexes.kb", "models.chat", "steps.0"]
    results = {"indexes": {"kb": {"name": "kb"}}, "models": {"chat": {"target": "chat-for-kb", "port": 8001}}}
    step = resolve_refs(loaded.raw["steps"][0], results)
    assert step["args"] == {"_": ["chat", "chat-for-kb"], "port": 8001}  # a whole reference keeps its type
    with pytest.raises(LzError, match=r"\$\{models.chat.url\}: models.chat has no field 'url'"):
        resolve_refs("${models.chat.url}", results)
