"""Flow combinators: what each one does with values, in-process (no models needed)."""

from __future__ import annotations

import threading
import time

import pytest

from lazycli import flow
from lazycli.flow import Context, FlowError


def test_pipeline_passes_each_output_on():
    app = flow.pipeline(lambda x: x + 1, lambda x: x * 10, str)
    assert app(4) == "50"


@pytest.mark.parametrize(
    ("merge", "expected"),
    [
        ("stack", [["a", 3], ["a", 6]]),
        ("sum", ["a", 3, "a", 6]),
        ("dict", {"short": ["a", 3], "long": ["a", 6]}),
    ],
)
def test_parallel_merges(merge, expected):
    app = flow.parallel(
        flow.fn(lambda q: [q, 3], name="short"), flow.fn(lambda q: [q, 6], name="long"), merge=merge
    )
    assert app("a") == expected


def test_parallel_join_and_dict_merge_of_unnamed_dicts():
    assert flow.parallel(str.upper, str.lower, merge="join", sep="|")("Ab") == "AB|ab"
    assert flow.parallel(lambda x: {"a": x}, lambda x: {"b": x * 2}, merge="dict")(2) == {"a": 2, "b": 4}


def test_parallel_really_runs_at_once():
    barrier = threading.Barrier(3, timeout=5)  # deadlocks (BrokenBarrierError) if run one by one

    def wait(x):
        barrier.wait()
        return x

    assert flow.parallel(wait, wait, wait)(1) == [1, 1, 1]


def test_diverter_sends_item_i_to_branch_i():
    app = flow.diverter(str.upper, lambda x: x * 2)
    assert app(["a", 3]) == ["A", 6]
    with pytest.raises(FlowError, match="2 branches but got a list of 3"):
        app(["a", 3, 4])


def test_if_and_switch():
    sign = flow.if_(lambda x: x >= 0, lambda x: "positive", lambda x: "negative")
    assert (sign(3), sign(-1)) == ("positive", "negative")
    assert flow.if_(lambda x: False, str.upper)("same") == "same"
    router = flow.switch(
        {"math": lambda q: "calc", "chat": lambda q: "talk"},
        on=lambda q: q.split()[0],
        default=lambda q: "other",
    )
    assert [router("math 1+1"), router("chat hi"), router("poem x")] == ["calc", "talk", "other"]
    with pytest.raises(FlowError, match="no case for 'x'"):
        flow.switch({"a": str})("x")


def test_loop_stops_on_condition_or_max_turns():
    turns = []

    def step(x):
        turns.append(x)
        return x * 2

    assert flow.loop(step, until=lambda x: x > 10, max_turns=50)(1) == 16
    assert turns == [1, 2, 4, 8]
    assert flow.loop(lambda x: x + 1, max_turns=3)(0) == 3
    assert flow.loop(lambda x: x + 1, until=lambda x: False, max_turns=5)(0) == 5


def test_warp_maps_in_parallel_and_keeps_order():
    def slow(x):
        time.sleep(0.2 if x == 0 else 0.0)
        return x * x

    started = time.monotonic()
    assert flow.warp(slow, max_workers=8)(list(range(8))) == [0, 1, 4, 9, 16, 25, 36, 49]
    assert time.monotonic() - started < 1.0
    with pytest.raises(FlowError, match="needs a list"):
        flow.warp(slow)(3)


def test_bind_passes_the_original_input_and_named_outputs():
    app = flow.pipeline(
        flow.fn(lambda q: q.split(), name="words"),
        len,
        flow.fn(lambda n, query, words: f"{query!r} has {n} words, first {words[0]}")
        | flow.bind(query="input", words="words"),
    )
    assert app("the quick fox") == "'the quick fox' has 3 words, first the"
    with pytest.raises(FlowError, match="no earlier step produced"):
        flow.pipeline(flow.bind(flow.fn(lambda x, y: x), y="nope"))(1)


def test_prompt_fills_query_context_and_bound_names_but_leaves_json_braces():
    docs = [{"source": "a.md", "text": "Alpha."}, {"source": "b.md", "text": "Beta."}]
    ctx = Context(input="what?")
    text = flow.prompt(
        'Q: {query}\n{context}\nReply as {"answer": "..."} in {lang}', binds={"lang": "input"}
    ).run(docs, ctx)
    assert text == 'Q: what?\n[1] (a.md) Alpha.\n[2] (b.md) Beta.\nReply as {"answer": "..."} in what?'
    with pytest.raises(FlowError, match=r"\{missing\} has no value"):
        flow.prompt("{missing}")("x")


def test_formatters_extract_json_and_lines():
    assert flow.format_output('Sure! ```json\n{"a": [1, 2]}\n``` done', "json") == {"a": [1, 2]}
    assert flow.format_output("The list: [1, 2] ok", "json") == [1, 2]
    assert flow.format_output("1. Intro\n- Middle\n\n* End", "lines") == ["Intro", "Middle", "End"]
    with pytest.raises(FlowError, match="holds no JSON"):
        flow.format_output("no json here", "json")


class _FakeClient:
    """Records messages; answers with a fixed text (the real client is tested in tests/serve)."""

    def __init__(self, answer):
        self.answer, self.seen = answer, []

    def complete(self, messages, *, stream=False, **options):
        self.seen.append((messages, options))
        text = self.answer

        class _Completion:
            pass

        if stream:
            return iter([text[: len(text) // 2], text[len(text) // 2 :]])
        completion = _Completion()
        completion.text = text
        return completion


def test_llm_builds_messages_with_system_history_and_template():
    client = _FakeClient('{"title": "T"}')
    node = flow.llm(
        "m",
        prompt="Topic: {input}",
        system="Be brief.",
        history=True,
        formatter="json",
        options={"max_tokens": 9},
        client_factory=lambda target: client,
    )
    ctx = Context(
        input="cats",
        history=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
        options={"temperature": 0},
    )
    assert node.run("cats", ctx) == {"title": "T"}
    messages, options = client.seen[0]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[-1]["content"] == "Topic: cats"
    assert options == {"max_tokens": 9, "temperature": 0}


def test_pipeline_streams_only_its_last_llm_step():
    client = _FakeClient("hello world")
    app = flow.pipeline(str.upper, flow.llm("m", client_factory=lambda t: client, name="answer"))
    ctx = Context(input="q")
    assert list(app.stream("q", ctx)) == ["hello", " world"]
    assert client.seen[0][0][-1]["content"] == "Q"
    assert ctx.results["answer"] == "hello world"


def test_rerank_fuses_lists_by_rank_and_records_sources():
    cosine = [{"source": "a", "text": "A"}, {"source": "b", "text": "B"}, {"source": "c", "text": "C"}]
    bm25 = [{"source": "b", "text": "B"}, {"source": "d", "text": "D"}]
    ctx = Context(input="q")
    top = flow.rerank(topk=2).run([cosine, bm25], ctx)
    assert [d["source"] for d in top] == ["b", "a"]  # b is found by both retrievers
    assert [d["source"] for d in ctx.sources] == ["b", "a"]


def test_python_step_imports_from_the_recipe_folder(tmp_path):
    (tmp_path / "tools.py").write_text("def shout(x, suffix='!'):\n    return x.upper() + suffix\n")
    assert flow.python("tools:shout", tmp_path, args={"suffix": "?"})("hi") == "HI?"
    assert flow.python("json:dumps")([1]) == "[1]"  # an installed module
    with pytest.raises(FlowError, match="no function 'nope'"):
        flow.python("tools:nope", tmp_path)("x")
    with pytest.raises(FlowError, match="cannot import"):
        flow.python("no_such_module_xyz:f", tmp_path)("x")
