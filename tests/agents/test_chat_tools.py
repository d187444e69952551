"""`lz chat TARGET --tool module:function`: the real `lz` process calls a Python function from the
current folder when the (scripted) model asks, and answers with its result; one-shot and REPL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.chat.standin import call, reply

TOOLS_PY = '''
def shout(text: str) -> str:
    """Upper-case a text.

    Args:
        text: what to shout
    """
    open("called.txt", "a").write(text + "\\n")
    return text.upper() + "!"


def hang(text: str) -> str:
    """Never returns."""
    import time
    time.sleep(3600)
    return text
'''


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "mytools.py").write_text(TOOLS_PY)
    return tmp_path


def chat(folder, *args: str, check: int | None = 0) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "lazycli", "chat", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env=dict(os.environ),
    )
    if check is not None:
        assert proc.returncode == check, proc.stderr
    return proc


def test_one_shot_calls_the_function_and_uses_its_result(local, folder):
    local.play("", reply(calls=[call("shout", {"text": "hello"})]), reply("The tool says HELLO!"))
    proc = chat(folder, local.url, "Shout hello", "--tool", "mytools:shout")
    assert proc.stdout == "The tool says HELLO!\n"
    assert (folder / "called.txt").read_text() == "hello\n"
    assert 'shout({"text": "hello"}) = HELLO!' in proc.stderr
    [tool] = [m for m in local.requests[-1]["body"]["messages"] if m["role"] == "tool"]
    assert tool["content"] == "HELLO!"
    offered = local.requests[0]["body"]["tools"][0]["function"]
    assert (
        offered["name"] == "shout"
        and offered["parameters"]["properties"]["text"]["description"] == "what to shout"
    )


def test_a_hanging_tool_is_abandoned_and_lz_still_exits(local, folder):
    local.play("", reply(calls=[call("hang", {"text": "x"})]), reply("The tool timed out."))
    started = time.monotonic()
    proc = chat(folder, local.url, "--tool", "mytools:hang", "--tool-timeout", "0.5", "Hang")
    assert time.monotonic() - started < 60  # the abandoned call does not keep the process alive
    assert proc.stdout == "The tool timed out.\n"
    [tool] = [m for m in local.requests[-1]["body"]["messages"] if m["role"] == "tool"]
    assert tool["content"] == "ERROR: hang did not finish within 0.5s"


def test_json_output_carries_every_step(local, folder):
    local.play("", reply(calls=[call("shout", {"text": "a"}), call("shout", {"text": "b"})]), reply("A! B!"))
    out = json.loads(chat(folder, local.url, "--json", "--tool", "mytools:shout", "Shout a and b").stdout)
    assert out["answer"] == "A! B!" and out["stopped"] == "answer"
    assert [c["result"] for c in out["steps"][0]["calls"]] == ["A!", "B!"]


def test_react_agent_for_a_model_without_tool_calls(local, folder):
    local.play(
        "",
        reply('Thought: shout it\nAction: shout\nAction Input: {"text": "hey"}'),
        reply("Thought: done\nFinal Answer: HEY!"),
    )
    proc = chat(folder, local.url, "--tool", "mytools:shout", "--agent", "react", "Shout hey")
    assert proc.stdout == "HEY!\n"
    assert "tools" not in local.requests[0]["body"]
    assert local.requests[1]["body"]["messages"][-1]["content"] == "Observation: HEY!"


def test_user_errors_are_one_line(local, folder):
    proc = chat(folder, "lightllm+http://127.0.0.1:9", "hi", "--tool", "mytools:shout", check=2)
    assert proc.stderr.strip().splitlines()[-1].startswith("lz: error: http://127.0.0.1:9 cannot call tools")
    proc = chat(folder, local.url, "hi", "--tool", "nomodule:fn", check=2)
    assert "cannot import 'nomodule'" in proc.stderr and "Traceback" not in proc.stderr
    proc = chat(folder, local.url, "hi", "--tool", "mytools:shout", "--agent", "magic", check=2)
    assert "unknown --agent 'magic'" in proc.stderr


SOCKET = "lazycli-agent-tests"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_repl_runs_the_tool_loop_and_keeps_history(local, folder, lz_home):
    local.play(
        "", reply(calls=[call("shout", {"text": "one"})]), reply("ONE!"), reply("You asked me to shout.")
    )

    def tmux(*args):
        return subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True)

    lz = f"env LAZYCLI_HOME={lz_home} {sys.executable} -m lazycli"
    command = f"cd {folder} && {lz} chat {local.url} --tool mytools:shout"
    tmux("new-session", "-d", "-s", "agent", "-x", "150", "-y", "50", command)

    def screen() -> str:
        return tmux("capture-pane", "-p", "-J", "-t", "agent").stdout

    def wait(predicate, what):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}:\n{screen()}")

    try:
        wait(lambda: screen().rstrip().endswith(">>>"), "the prompt")
        tmux("send-keys", "-t", "agent", "-l", "Shout one")
        tmux("send-keys", "-t", "agent", "Enter")
        wait(lambda: "ONE!" in screen() and screen().count(">>>") >= 2, "the first answer")
        assert 'shout({"text": "one"}) = ONE!' in screen()
        tmux("send-keys", "-t", "agent", "-l", "What did I ask?")
        tmux("send-keys", "-t", "agent", "Enter")
        wait(lambda: "You asked me to shout." in screen(), "the second answer")
        tmux("send-keys", "-t", "agent", "-l", "/exit")
        tmux("send-keys", "-t", "agent", "Enter")
    finally:
        tmux("kill-server")
    messages = local.requests[-1]["body"]["messages"]
    assert messages[:3] == [
        {"role": "user", "content": "Shout one"},
        {"role": "assistant", "content": "ONE!"},
        {"role": "user", "content": "What did I ask?"},
    ]
