"""The default `lz rag` answer: the best passage quoted with its citation, then the model's summary."""

from __future__ import annotations

import pytest

from tests.eval.standin import EvalStandIn

CONFIG = (
    "Settings come from four places; the first one that sets a value wins: a command-line flag.\n\n"
    "## Adding an OpenAI-compatible endpoint without a plugin\n\n"
    "Any service that speaks the OpenAI API can be added by configuration alone:\n\n"
    "    lz config set endpoints.mylab.base_url http://10.0.0.5:8000/v1\n"
    "    lz config set endpoints.mylab.key_env MYLAB_API_KEY\n\n"
    "## API keys\n\n`lz keys set openai` stores a key in a file readable only by you (mode 0600)."
)
CHAT = "# Chatting with models\n\n`lz chat [TARGET] [PROMPT]` talks to any model through one client."
RESULTS = [
    {"source": "/d/chat.md", "file": "chat.md", "text": CHAT},
    {"source": "/d/configuration.md", "file": "configuration.md", "text": CONFIG},
]
QUESTION = "How do I add an OpenAI-compatible endpoint without writing a plugin?"


def test_quote_picks_the_matching_section_of_any_top_passage_and_cites_it():
    from lazycli.rag import prompt

    text = prompt.quoted(QUESTION, RESULTS)
    assert "> ## Adding an OpenAI-compatible endpoint without a plugin" in text
    assert "endpoints.mylab.base_url" in text and "[2] (configuration.md)" in text
    assert "API keys" not in text  # the next section is another topic


def test_quote_stays_within_its_token_budget():
    from lazycli.rag import prompt
    from lazycli.rag.splitter import count_tokens

    long = [{"source": "a.md", "file": "a.md", "text": "endpoint plugin " * 400}]
    assert count_tokens(prompt.best_quote(QUESTION, long, budget=50).text) <= 52


@pytest.mark.parametrize("style, calls", [("quote", 1), ("focused", 1), ("extract", 0), ("brief", 1)])
def test_answer_styles_over_a_real_client(style, calls):
    from lazycli.rag import prompt
    from lazycli.rag.answering import AnswerStream
    from lazycli.targets import for_url

    server = EvalStandIn({QUESTION: "Set endpoints.NAME.base_url with lz config set [2]."})
    try:
        client = for_url(server.url)
        messages = prompt.messages(QUESTION, RESULTS, 400, style)
        pending = AnswerStream(client, QUESTION, RESULTS, messages, {"max_tokens": 64}, style=style)
        text = "".join(pending)
        assert server.count("model") == calls
    finally:
        server.close()
    cited = [s["label"] for s in pending.result["sources"] if s["cited"]]
    assert cited == ["configuration.md"]
    if style != "brief":
        assert text.startswith("> ## Adding an OpenAI-compatible endpoint")
    if calls:
        assert text.rstrip().endswith("Set endpoints.NAME.base_url with lz config set [2].")
        assert messages[0]["content"] == prompt.BRIEF_SYSTEM


def test_focused_style_shows_the_model_only_the_quoted_passage_under_its_own_number():
    from lazycli.rag import prompt

    (system, user) = prompt.messages(QUESTION, RESULTS, 400, "focused")
    assert system["content"] == prompt.BRIEF_SYSTEM
    assert "[2] (configuration.md)\n## Adding an OpenAI-compatible endpoint" in user["content"]
    assert "lz chat [TARGET]" not in user["content"] and "[1]" not in user["content"]
