"""One `lz chat MODEL` resolves the model's name once, however many layers read it (what it names,
the deployment serving it, its chat template)."""

from __future__ import annotations

import time

import pytest

from lazycli import catalog, state
from lazycli.catalog import resolver
from lazycli.cli import main
from tests.chat.standin import ANSWER


@pytest.fixture
def resolutions(monkeypatch) -> list[str]:
    """The names the catalogue resolves (reading the registry and the disk each time)."""
    seen: list[str] = []
    real = resolver.resolve

    def counting(name: str):
        seen.append(name)
        return real(name)

    monkeypatch.setattr(resolver, "resolve", counting)
    return seen


def _running_deployment_of(model: str, server) -> None:
    """A deployment row serving `model` at the stand-in, as `lz deploy` leaves a running one."""
    now = time.time()
    with state.transaction() as db:
        db.execute(
            """INSERT INTO deployments (name, model, engine, launcher, status, protocol, served_name,
                   health_path, host, port, url, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            ("smol", model, "llamacpp", "local", "running", "openai", model, "/v1/models",
             "127.0.0.1", server.port, server.url, now, now),
        )  # fmt: skip


def test_lz_chat_model_resolves_the_name_once(standin, resolutions, capsys):
    server = standin("local")
    _running_deployment_of("smollm2-135m-instruct", server)
    with pytest.raises(SystemExit) as done:
        main(["chat", "smollm2-135m-instruct", "What is 2+2?", "--no-stream", "--no-log"])
    assert done.value.code == 0
    out = capsys.readouterr()
    assert out.out.strip() == ANSWER and "using deployment smol" in out.err
    assert server.requests[-1]["body"]["model"] == "smollm2-135m-instruct"
    assert resolutions == ["smollm2-135m-instruct"]


def test_a_reading_remembers_only_models_on_disk(resolutions):
    with catalog.reading():
        for _ in range(3):
            assert catalog.resolve("smollm2-135m-instruct").ready  # bundled: on disk
            assert not catalog.resolve("qwen2-0.5b-instruct").ready  # may be downloaded meanwhile
    assert resolutions.count("smollm2-135m-instruct") == 1
    assert resolutions.count("qwen2-0.5b-instruct") == 3
    catalog.resolve("smollm2-135m-instruct")  # outside a reading: resolved afresh
    assert resolutions.count("smollm2-135m-instruct") == 2


def test_repl_model_command_switches_to_a_target_reading_it_once(standin, resolutions):
    """`/model NAME` in the REPL: a target name switches the client (resolved once), any other
    word is a model name for the current server."""
    from lazycli.cli.chat import Repl, Style
    from lazycli.targets import for_url

    server = standin("local")
    _running_deployment_of("smollm2-135m-instruct", server)
    repl = Repl(for_url(server.url, model="m0"), system=None, options={}, style=Style(), log=False)
    repl._switch("some-other-model")
    assert repl.client.target == server.url and repl.client.model == "some-other-model"
    resolutions.clear()
    repl._switch("smollm2-135m-instruct")
    assert repl.client.target == "smol" and repl.client.model == "smollm2-135m-instruct"
    assert resolutions == ["smollm2-135m-instruct"]
    assert repl.client.complete([{"role": "user", "content": "hi"}]).text == ANSWER
