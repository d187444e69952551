"""`lz chat [TARGET] [PROMPT]`: talk to a deployment, a model, an online provider or a URL.

On a terminal with no PROMPT it is a REPL (tokens stream as they arrive, multi-line input,
/system /reset /save /model /exit, Ctrl-C stops the answer and keeps the REPL). With a PROMPT or
piped stdin it answers once: plain text on stdout, or `--json` with usage. Every exchange is
logged to the state database unless `--no-log` (`lz logs` reads them).
"""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import typer

from lazycli.console import err_console, is_tty, note, print_json, want_json
from lazycli.errors import LzError

app = typer.Typer(add_completion=False, rich_markup_mode=None)

# With a PROMPT, how long piped stdin may take to show something before it is ignored.
STDIN_WAIT_S = 1.0

REPL_HELP = """\
Commands:
  /system [TEXT]   show or set the system prompt (/system - clears it)
  /reset           forget the conversation so far
  /save FILE       save the conversation (.json: messages; else a Markdown transcript)
  /model [NAME]    show the target, or switch: a target (provider:model, deployment, URL…) or a model name
  /exit            leave (also /quit or Ctrl-D)
Input: end a line with \\ to continue it; a line of \"\"\" starts and ends a multi-line block.
Ctrl-C stops the current answer; the conversation goes on."""


@dataclass
class Style:
    """LazyLLM's stream styling: colour of the answer, a prefix and a suffix (each with a colour)."""

    color: str | None = None
    prefix: str = ""
    prefix_color: str | None = None
    suffix: str = ""
    suffix_color: str | None = None

    @classmethod
    def parse(cls, spec: str | None) -> Style:
        """From JSON ({"color": "cyan", "prefix": ">> "}) or key=value pairs (color=cyan,prefix=>> )."""
        if not spec:
            return cls()
        if spec.lstrip().startswith("{"):
            try:
                values = json.loads(spec)
            except ValueError as exc:
                raise LzError(f"bad --style JSON: {exc}", hint='e.g. --style \'{"color": "cyan"}\'') from None
        else:
            values = {}
            for part in spec.split(","):
                if not part.strip():
                    continue
                key, sep, value = part.partition("=")
                if not sep:
                    raise LzError(
                        f"bad --style part {part!r}", hint="use key=value pairs: color=cyan,prefix=>> "
                    )
                values[key.strip()] = value.replace("\\n", "\n").replace("\\t", "\t")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(values) - known)
        if unknown:
            raise LzError(
                f"unknown --style key {unknown[0]!r}", hint=f"known keys: {', '.join(sorted(known))}"
            )
        style = cls(**values)
        style.check()
        return style

    def check(self) -> None:
        from rich.color import Color, ColorParseError

        for name in ("color", "prefix_color", "suffix_color"):
            value = getattr(self, name)
            if value:
                try:
                    Color.parse(value)
                except ColorParseError:
                    raise LzError(
                        f"unknown colour {value!r} in --style", hint="e.g. cyan, green, #ff8800"
                    ) from None


def _style_for(client, explicit: str | None) -> Style:
    if explicit:
        return Style.parse(explicit)
    from lazycli import settings

    styles = settings.get().chat_styles
    provider = client.target.partition(":")[0]
    for key in (client.model, client.target, provider, "*"):
        if key in styles:
            return Style.parse(styles[key])
    return Style()


@app.command()
def chat(
    target: str = typer.Argument(
        None,
        help="Deployment, model, provider[:model] or URL. Default: configured, keyed provider, bundled.",
    ),
    prompt: str = typer.Argument(None, help="Ask once and exit (stdin is read too when piped)."),
    model: str = typer.Option(None, "--model", "-m", help="Model name to request from the target."),
    system: str = typer.Option(None, "--system", "-s", help="System prompt."),
    temperature: float = typer.Option(None, "--temperature", "-t", help="Sampling temperature."),
    max_tokens: int = typer.Option(None, "--max-tokens", help="Longest answer, in tokens."),
    top_p: float = typer.Option(None, "--top-p", help="Nucleus sampling."),
    stop: list[str] = typer.Option(None, "--stop", metavar="TEXT", help="Stop sequence (repeatable)."),
    no_stream: bool = typer.Option(False, "--no-stream", help="Wait for the whole answer."),
    style: str = typer.Option(
        None,
        "--style",
        help="Answer styling: color=cyan,prefix=>> ,suffix=… (or JSON); colours on a terminal.",
    ),
    no_log: bool = typer.Option(False, "--no-log", help="Do not log this conversation."),
    json_: bool = typer.Option(False, "--json", help="Print the full response with usage as JSON."),
    tool: list[str] = typer.Option(
        None,
        "--tool",
        metavar="MODULE:FUNCTION",
        help="A Python function the model may call (repeatable); modules in the current folder first.",
    ),
    agent: str = typer.Option(
        "function_call",
        "--agent",
        help="With --tool: function_call (native tool calls), react (a text protocol, for models "
        "without them), plan_and_solve or rewoo.",
    ),
    max_steps: int = typer.Option(8, "--max-steps", min=1, help="With --tool: model turns at most."),
    tool_timeout: float = typer.Option(
        60.0, "--tool-timeout", min=0.01, help="With --tool: seconds a tool call may take."
    ),
    image: list[Path] = typer.Option(
        None, "--image", metavar="FILE", help="An image for a vision model to see with PROMPT (repeatable)."
    ),
) -> None:
    """Chat with a model: a REPL on a terminal, one answer with PROMPT or piped stdin.

    A single word that is not a known target is taken as the prompt.

    \b
    Examples:
      lz chat                                   REPL with the default target
      echo "What is 2+2?" | lz chat             one answer from the default target
      lz chat "What is RAG?"                    one answer
      lz chat openai:gpt-4o-mini "hi"           an online provider (key from OPENAI_API_KEY or `lz keys`)
      lz chat qwen --system "Be brief" "hi"     a provider's default model
      lz chat my-deploy                         REPL with a deployment (`lz deploy ls`)
      lz chat smollm2-135m-instruct             reuse or start a local deployment of a model
      lz chat http://127.0.0.1:8000/v1 "hi"     any OpenAI-compatible server
      lz chat lightllm+http://host:8080 "hi"    LightLLM's /generate API (also vllm+, lmdeploy+)
      lz chat --json "hi" | jq .usage           full response with token usage
      lz chat openai --tool tools:add "What is 2+3?"     the model calls add() from ./tools.py
      lz chat URL --tool tools:add --agent react         tools as text, for models without tool calls
      lz chat qwen2-vl-2b-instruct "What is in it?" --image photo.jpg   a vision model sees the image
    """
    from lazycli import catalog, settings
    from lazycli.targets import resolve_target

    with catalog.reading():  # the target's name is resolved once: is it a target, then its client
        target, prompt = _split_positionals(target, prompt)
        piped = _read_stdin(wait=STDIN_WAIT_S if prompt is not None else None)
        if piped:
            prompt = f"{prompt}\n\n{piped}" if prompt else piped
        interactive = prompt is None and is_tty(sys.stdin)
        if (prompt is None and not interactive) or (prompt is not None and not prompt.strip()):
            raise LzError(
                "nothing to ask: the PROMPT is missing or empty, and so is stdin",
                hint='lz chat "question", or pipe text in',
            )
        images = _load_images(image or [], interactive=interactive, tools=bool(tool))
        client = resolve_target(target, start=True, model=model)  # `lz chat MODEL` deploys it if needed
    chosen_style = _style_for(client, style)
    options = {"temperature": temperature, "max_tokens": max_tokens, "top_p": top_p, "stop": stop or None}
    log = settings.get().chat_log and not no_log
    tool_agent = (
        _tool_agent(client, tool, agent, system, options, max_steps, tool_timeout, log) if tool else None
    )
    if interactive:
        Repl(client, system=system, options=options, style=chosen_style, log=log, agent=tool_agent).run()
        return
    if tool_agent is not None:
        _one_shot_agent(tool_agent, client, prompt, style=chosen_style, json_=json_)
        return
    _one_shot(
        client,
        prompt,
        system=system,
        options=options,
        style=chosen_style,
        log=log,
        stream=not no_stream,
        json_=json_,
        images=images,
    )


def _load_images(paths: list[Path], *, interactive: bool, tools: bool) -> list:
    """The --image files, read and checked (type, size) before any model is started."""
    if not paths:
        return []
    if interactive or tools:
        raise LzError(
            "--image goes with one PROMPT (not the REPL, not --tool)",
            hint='lz chat TARGET "What is in this picture?" --image photo.jpg',
        )
    from lazycli import media

    blobs = [media.load(p, kind="image") for p in paths]
    for blob in blobs:
        if blob.mime == "application/pdf":
            raise media.MediaError(f"{blob.name}: a PDF, not an image", hint="render its pages to PNG first")
    return blobs


def _split_positionals(target: str | None, prompt: str | None) -> tuple[str | None, str | None]:
    """`lz chat WORD`: WORD is the target when it names one, else it is the prompt."""
    if target is not None and prompt is None:
        from lazycli.targets import kind_of

        if any(ch.isspace() for ch in target) or kind_of(target) is None:
            return None, target
    return target, prompt


def _read_stdin(wait: float | None) -> str | None:
    """Piped stdin, if any. With a PROMPT given, stdin is read only when it has something (or
    ends) within `wait` seconds: a parent process that leaves stdin open must not hang `lz chat`."""
    if sys.stdin is None or is_tty(sys.stdin):
        return None
    if wait is not None:
        import select

        try:
            ready, _, _ = select.select([sys.stdin], [], [], wait)
        except (OSError, ValueError):  # not selectable (a file on some platforms): read it
            ready = [sys.stdin]
        if not ready:
            note(f"[dim]stdin gave nothing within {wait:g}s: answering the PROMPT alone[/dim]")
            return None
    try:
        text = sys.stdin.read()
    except (OSError, ValueError):
        return None
    return text.strip() or None


def _messages(system: str | None, history: list[dict], text: str) -> list[dict]:
    out = [{"role": "system", "content": system}] if system else []
    return [*out, *history, {"role": "user", "content": text}]


def _log(
    client, conversation: str, messages: list[dict], completion, options: dict, error: str | None = None
):
    from lazycli import chatlog

    try:
        chatlog.record(
            conversation_id=conversation,
            target=client.target,
            model=client.model,
            messages=messages,
            completion=completion,
            options={k: v for k, v in options.items() if v is not None},
            error=error,
        )
    except Exception as exc:  # logging must never cost the user their answer
        note(f"[dim]could not log the conversation: {exc}[/dim]")


# --- tools ----------------------------------------------------------------------------------------


def _tool_agent(client, refs, kind, system, options, max_steps, timeout, log):
    """An agent over `client` with the functions named by --tool (steps shown on stderr)."""
    from lazycli.agents import KINDS, Agent, load_tool

    if kind not in KINDS:
        raise LzError(f"unknown --agent {kind!r}", hint=f"one of {', '.join(KINDS)}")
    tools = [load_tool(ref, Path.cwd(), timeout=timeout) for ref in refs]
    return Agent(
        client,
        tools,
        kind=kind,
        name="chat",
        system=system,
        max_steps=max_steps,
        options={k: v for k, v in options.items() if v is not None},
        log=log,
        on_step=_show_step,
    )


def _show_step(step) -> None:
    """Tool calls (arguments and results) on stderr as they happen; the answer goes to stdout."""
    if step.kind == "answer" and not step.calls:
        return
    if step.thought and step.kind != "answer":
        note(f"[dim]{_escape(_clip(step.thought))}[/dim]")
    for run in step.calls:
        mark = "[green]→[/green]" if run.ok else "[red]✗[/red]"
        call = f"[bold]{_escape(run.name)}[/bold]({_escape(_clip(run.arguments))})"
        note(f"{mark} {call} = {_escape(_clip(run.observation()))}")
    if step.note:
        note(f"[yellow]{step.kind}: {_escape(step.note)}[/yellow]")


def _clip(text: str, width: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _one_shot_agent(tool_agent, client, prompt: str, *, style: Style, json_: bool) -> None:
    result = tool_agent.run(prompt)
    if want_json(json_):
        print_json({"target": client.target, **result.as_dict()})
        return
    _print_answer(result.answer, style)


# --- one answer -----------------------------------------------------------------------------------


def _one_shot(
    client, prompt: str, *, system, options, style: Style, log: bool, stream: bool, json_: bool, images=()
) -> None:
    from lazycli.chatlog import new_conversation_id
    from lazycli.client import Completion
    from lazycli.media.parts import with_images

    # The log keeps the text and the images' names; the request carries the images as data URLs.
    messages, sent = with_images(_messages(system, [], prompt), images)
    conversation = new_conversation_id()
    as_json = want_json(json_)
    completion: Completion | None = None
    try:
        if as_json or not stream:
            completion = client.complete(sent, **options)
            if as_json:
                print_json({"target": client.target, **completion.as_dict()})
            else:
                _print_answer(completion.text, style)
        else:
            completion = _stream_to_stdout(client, sent, options, style)
    except LzError as exc:
        if log:
            _log(client, conversation, messages, client.last, options, error=exc.message)
        raise
    except KeyboardInterrupt:
        if log:
            _log(client, conversation, messages, client.last, options, error="interrupted")
        raise
    if log:
        _log(client, conversation, messages, completion, options)


def _print_answer(text: str, style: Style) -> None:
    out = _Writer(style)
    out.start()
    out.write(text)
    out.end()


def _stream_to_stdout(client, messages, options, style: Style):
    out = _Writer(style)
    out.start()
    stream = client.complete(messages, stream=True, **options)
    try:
        for delta in stream:
            out.write(delta)
    finally:
        stream.close()
        out.end()
    return client.last


class _Writer:
    """Writes an answer as it arrives: rich colours on a terminal, plain text otherwise."""

    def __init__(self, style: Style, stream=None) -> None:
        self.style = style
        self.tty = is_tty(stream or sys.stdout)
        self._console = None
        if self.tty:
            from lazycli.console import console

            self._console = console()

    def _emit(self, text: str, color: str | None) -> None:
        if not text:
            return
        if self._console is not None:
            self._console.print(
                text, style=color or "", end="", markup=False, highlight=False, soft_wrap=True
            )
            self._console.file.flush()
        else:
            sys.stdout.write(text)
            sys.stdout.flush()

    def start(self) -> None:
        self._emit(self.style.prefix, self.style.prefix_color)

    def write(self, text: str) -> None:
        self._emit(text, self.style.color)

    def end(self) -> None:
        self._emit(self.style.suffix, self.style.suffix_color)
        self._emit("\n", None)


# --- the REPL -------------------------------------------------------------------------------------


class Repl:
    def __init__(
        self, client, *, system: str | None, options: dict, style: Style, log: bool, agent=None
    ) -> None:
        from lazycli.chatlog import new_conversation_id

        self.agent = agent  # with --tool: every message runs the agent's tool loop
        self.client = client
        self.system = system
        self.options = options
        self.style = style
        self.log = log
        self.history: list[dict] = []
        self.conversation = new_conversation_id()
        self.err = err_console()

    def run(self) -> None:
        history_file = self._load_input_history()
        self.err.print(
            f"Chatting with [bold]{self.client.label}[/bold]. /help for commands, /exit or Ctrl-D to leave."
        )
        try:
            self._loop()
        finally:
            self._save_input_history(history_file)

    def _load_input_history(self) -> Path | None:
        """Line editing and ↑ through earlier inputs (of this and past sessions), via readline."""
        try:
            import readline
        except ImportError:
            return None
        from lazycli.paths import data_dir

        path = data_dir() / "chat_input_history"
        with contextlib.suppress(OSError):
            readline.read_history_file(path)
        readline.set_history_length(1000)
        return path

    def _save_input_history(self, path: Path | None) -> None:
        if path is None:
            return
        import readline

        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            readline.write_history_file(path)

    def _loop(self) -> None:
        while True:
            try:
                text = self._read()
            except EOFError:
                self.err.print()
                return
            except KeyboardInterrupt:
                self.err.print("^C")
                continue
            if not text.strip():
                continue
            if text.strip().startswith("/"):
                if self._command(text.strip()) is False:
                    return
                continue
            self._ask(text)

    def _read(self) -> str:
        line = input(">>> ")
        if line.strip() == '"""':
            lines = []
            while True:
                more = input("... ")
                if more.strip() == '"""':
                    return "\n".join(lines)
                lines.append(more)
        lines = []
        while line.endswith("\\"):
            lines.append(line[:-1])
            line = input("... ")
        lines.append(line)
        return "\n".join(lines)

    def _ask_agent(self, text: str) -> None:
        self.agent.system = self.system
        answer = ""
        try:
            result = self.agent.run(text, history=self.history)
            answer = result.answer
            _print_answer(answer, self.style)
            self.err.print(f"[dim]{len(result.steps)} step(s), {result.stopped}[/dim]")
        except KeyboardInterrupt:
            self.err.print("[yellow]\\[interrupted][/yellow]")
        except LzError as exc:
            extra = f" (hint: {exc.hint})" if exc.hint else ""
            self.err.print(f"[red]error:[/red] {_escape(exc.message + extra)}", highlight=False)
        self.history += [{"role": "user", "content": text}, {"role": "assistant", "content": answer}]

    def _ask(self, text: str) -> None:
        if self.agent is not None:
            self._ask_agent(text)
            return
        messages = _messages(self.system, self.history, text)
        error = hint = None
        try:
            _stream_to_stdout(self.client, messages, self.options, self.style)
        except KeyboardInterrupt:
            error = "interrupted"
        except LzError as exc:
            error, hint = exc.message, exc.hint
        completion = self.client.last
        if error == "interrupted":
            self.err.print("[yellow]\\[interrupted][/yellow]")
        elif error:
            extra = f" (hint: {hint})" if hint else ""
            self.err.print(f"[red]error:[/red] {_escape(error + extra)}", highlight=False)
        elif completion is not None:
            self.err.print(f"[dim]{_stats(completion)}[/dim]")
        self.history += [{"role": "user", "content": text}]
        self.history += [{"role": "assistant", "content": completion.text if completion else ""}]
        if self.log:
            _log(self.client, self.conversation, messages, completion, self.options, error=error)

    def _command(self, line: str) -> bool | None:
        name, _, arg = line.partition(" ")
        arg = arg.strip()
        if name in ("/exit", "/quit", "/bye"):
            return False
        if name == "/help":
            self.err.print(REPL_HELP, markup=False)
        elif name == "/reset":
            self.history.clear()
            self.err.print("conversation cleared")
        elif name == "/system":
            if not arg:
                self.err.print(
                    f"system prompt: {self.system!r}" if self.system else "no system prompt", markup=False
                )
            else:
                self.system = None if arg == "-" else arg
                self.err.print("system prompt cleared" if self.system is None else "system prompt set")
        elif name == "/save":
            self._save(arg)
        elif name == "/model":
            self._switch(arg)
        else:
            self.err.print(f"unknown command {name}; /help lists them", markup=False)
        return None

    def _save(self, arg: str) -> None:
        if not arg:
            self.err.print("usage: /save FILE")
            return
        path = Path(arg).expanduser()
        messages = ([{"role": "system", "content": self.system}] if self.system else []) + self.history
        if path.suffix == ".json":
            text = json.dumps(
                {"target": self.client.target, "model": self.client.model, "messages": messages},
                indent=2,
                ensure_ascii=False,
            )
        else:
            parts = [f"# Chat with {self.client.label}\n"]
            parts += [f"**{m['role']}**: {m['content']}\n" for m in messages]
            text = "\n".join(parts)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            self.err.print(f"[red]cannot save to {path}: {exc.strerror}[/red]")
            return
        self.err.print(f"saved {len(messages)} messages to {path}", markup=False)

    def _switch(self, arg: str) -> None:
        if not arg:
            self.err.print(f"target {self.client.target}, model {self.client.model}", markup=False)
            return
        from lazycli import catalog
        from lazycli.targets import kind_of, resolve_target

        try:
            with catalog.reading():  # the name is resolved once: is it a target, then its client
                client = resolve_target(arg, start=True) if kind_of(arg) is not None else None
            if client is not None:
                self.client = client
                if self.agent is not None:
                    self.agent.client = self.client
            else:
                self.client.model = arg
                self.client.label = f"{self.client.target} ({arg})"
        except LzError as exc:
            self.err.print(f"[red]error:[/red] {exc}", highlight=False)
            return
        self.err.print(f"now chatting with {self.client.label}", markup=False)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _stats(completion) -> str:
    parts = []
    usage = completion.usage or {}
    if usage.get("completion_tokens") is not None:
        about = "~" if usage.get("estimated") else ""
        parts.append(f"{about}{usage.get('prompt_tokens', '?')}→{usage['completion_tokens']} tokens")
    if completion.latency_s is not None:
        parts.append(f"{completion.latency_s:.1f}s")
    return ", ".join(parts)
