"""An engine's wire client comes from its plugin record (`EngineSpec.clients`), not from core.

A third-party engine that speaks its own protocol is reachable as `PROTOCOL+http://…` and its
deployments are talked to with its client; the built-in prompt-only engines (LightLLM, vLLM's
demo server, LMDeploy's interactive API) give theirs the same way.
"""

from __future__ import annotations

import pytest

from lazycli import plugins
from lazycli.client.adapters import LightLLM, LMDeployInteractive, VLLMGenerate
from lazycli.engines import get_engine, wire_client
from lazycli.errors import LzError
from lazycli.targets import for_deployment, resolve_target
from tests.conftest import lz
from tests.core.test_plugins import install_fake_dist

# A plugin whose engine speaks "echo-wire": its client answers with what it was built with, so the
# test sees which base URL and chat template lz handed to the plugin's factory.
ECHO_ENGINE = """
from lazycli.client import Chunk, Completion
from lazycli.hookspecs import EngineSpec, hookimpl


class EchoWire:
    name = "echo-wire"

    def __init__(self, name, base_url, template=None, announce=None):
        self.base_url, self.template = base_url, template

    def chat(self, messages, model, options):
        said = messages[-1]["content"]
        return Completion(text=f"echo[{self.base_url} {self.template}] {said}", model=model)

    def chat_stream(self, messages, model, options):
        yield Chunk(text=self.chat(messages, model, options).text, finish_reason="stop")


@hookimpl
def lazycli_engines():
    yield EngineSpec(
        name="echo", argv=lambda req: ["echo-server", str(req.port)],
        protocol="echo-wire", clients={"echo-wire": EchoWire},
    )
"""


@pytest.fixture
def echo_plugin(tmp_path, monkeypatch):
    install_fake_dist(tmp_path, "lazycli-echo", {"lz_echo_engine": ECHO_ENGINE}, {"echo": "lz_echo_engine"})
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins.reset()
    yield tmp_path
    plugins.reset()


def test_a_plugin_protocol_is_reached_by_its_url_scheme(echo_plugin):
    proc = lz("chat", "echo-wire+http://127.0.0.1:9/v1", "hi", env={"PYTHONPATH": str(echo_plugin)}, check=0)
    assert proc.stdout.strip() == "echo[http://127.0.0.1:9 None] hi"


def test_a_deployment_is_talked_to_with_its_engine_client(echo_plugin):
    from lazycli.deployments import Deployment
    from lazycli.launchers import Status

    row = Deployment(
        name="e1",
        engine="echo",
        launcher="local",
        status=Status.RUNNING,
        protocol="echo-wire",
        url="http://127.0.0.1:9",
        model="smollm2-135m-instruct",  # its catalogue template (chatml) goes to the client
        served_name="smollm2-135m-instruct",
        health_path="/health",
        created_at=0.0,
        updated_at=0.0,
    )
    answer = for_deployment(row).complete([{"role": "user", "content": "hi"}]).text
    assert answer == "echo[http://127.0.0.1:9 chatml] hi"


def test_a_protocol_no_engine_speaks_is_one_line():
    with pytest.raises(LzError, match=r"speaks protocol 'nosuch', which no loaded engine plugin speaks"):
        resolve_target("nosuch+http://127.0.0.1:9")
    proc = lz("chat", "nosuch+http://127.0.0.1:9", "hi")
    assert proc.returncode == 2 and "no loaded engine plugin speaks" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_built_in_engines_carry_their_clients():
    assert isinstance(get_engine("lightllm").clients["lightllm"]("d", "http://h:1"), LightLLM)
    assert isinstance(get_engine("vllm-generate").clients["vllm-generate"]("d", "http://h:1"), VLLMGenerate)
    # LMDeploy deployments use its OpenAI API; its interactive API is there for lmdeploy+http://…
    assert get_engine("lmdeploy").protocol == "openai"
    assert isinstance(wire_client("lmdeploy")("d", "http://h:1", template="chatml"), LMDeployInteractive)
    assert wire_client("openai") is None  # the OpenAI-compatible client is the wire layer's own
