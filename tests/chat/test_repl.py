"""The interactive REPL driven in a real terminal (tmux send-keys / capture-pane)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import pytest

from tests.chat.standin import ANSWER

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

SOCKET = "lazycli-chat-tests"  # our own tmux server: other sessions on the machine are untouched


def tmux(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True)


class Pane:
    def __init__(self, name: str, command: str) -> None:
        self.name = name
        tmux("new-session", "-d", "-s", name, "-x", "150", "-y", "60", command)

    def text(self) -> str:
        return tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", self.name).stdout

    def send(self, *keys: str) -> None:
        tmux("send-keys", "-t", self.name, *keys)

    def type(self, line: str) -> None:
        self.send("-l", line)
        self.send("Enter")

    def alive(self) -> bool:
        return tmux("has-session", "-t", self.name).returncode == 0

    def wait(self, predicate, what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; screen:\n{self.text()}")

    def wait_prompt(self, count: int) -> None:
        """Until the screen shows `count` input prompts with the last one empty (ready for input)."""
        self.wait(
            lambda: self.text().count(">>>") >= count and self.text().rstrip().endswith(">>>"), "the prompt"
        )


def test_repl_streams_interrupts_and_keeps_history(standin, lz_home, tmp_path):
    server = standin("local")
    server.script("slow")  # the first answer streams one word every 0.1 s
    command = f"env LAZYCLI_HOME={lz_home} {sys.executable} -m lazycli chat {server.url}"
    pane = Pane("chat", command)
    try:
        pane.wait_prompt(1)
        assert "Chatting with" in pane.text()

        pane.type("Tell me a long story")
        pane.wait(lambda: "word3" in pane.text(), "streamed tokens")
        assert "word99" not in pane.text()  # still streaming: tokens show as they arrive
        pane.send("C-c")
        pane.wait(lambda: "[interrupted]" in pane.text(), "the interruption note")
        pane.wait_prompt(2)  # the REPL goes on

        pane.type("/system Answer briefly.")
        pane.type('"""')
        pane.type("What is")
        pane.type("2+2?")
        pane.type('"""')
        pane.wait(lambda: ANSWER in pane.text(), "the second answer")
        pane.wait_prompt(4)

        saved = tmp_path / "conversation.json"
        pane.type(f"/save {saved}")
        pane.wait(saved.exists, "the saved file")
        pane.type("/exit")
        pane.wait(lambda: not pane.alive(), "the REPL to exit")
    finally:
        tmux("kill-server")

    messages = server.requests[-1]["body"]["messages"]
    assert messages[0] == {"role": "system", "content": "Answer briefly."}
    assert messages[1] == {"role": "user", "content": "Tell me a long story"}
    assert messages[2]["role"] == "assistant" and messages[2]["content"].startswith("word0 word1 word2")
    assert messages[3] == {"role": "user", "content": "What is\n2+2?"}  # a multi-line block

    # ↑ recalls inputs of earlier sessions too: readline's history is kept in the data dir.
    assert "Tell me a long story" in (lz_home / "data" / "chat_input_history").read_text()

    data = json.loads(saved.read_text())
    assert [m["role"] for m in data["messages"]] == ["system", "user", "assistant", "user", "assistant"]
    assert data["messages"][-1]["content"] == ANSWER

    from lazycli import chatlog

    rows = chatlog.list_logs()
    assert [r["error"] for r in rows] == [None, "interrupted"]
    assert rows[0]["conversation_id"] == rows[1]["conversation_id"]  # one REPL session, one conversation
