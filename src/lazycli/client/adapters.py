"""Adapters for engines with their own wire protocol (the OpenAI one is `lazycli.client.http`).

- LightLLM: POST /generate {"inputs", "parameters": {max_new_tokens, temperature, top_p,
  stop_sequences, do_sample}} → {"generated_text": [..], "count_output_tokens", "finish_reason",
  "prompt_tokens"}; POST /generate_stream → SSE `data:{"token": {"text", "count_output_tokens",
  "prompt_tokens", …}, "finished", "finish_reason"}`.
- vLLM's demo server (`vllm.entrypoints.api_server`): POST /generate {"prompt", "stream", sampling
  params at the top level} → {"text": [prompt + output]}; streamed as JSON objects separated by
  "\\n" (older releases: "\\0"), each carrying the whole text so far.
- LMDeploy: POST /v1/chat/interactive {"prompt": messages, "interactive_mode": false, "stream",
  "request_output_len", …} → {"text", "tokens", "input_tokens", "finish_reason"}; streamed as
  newline-separated JSON objects with text deltas.

The first two take a prompt string, so messages are rendered with the model's chat template.
Each class is built as `cls(name, base_url, template=…, announce=…)`; the engine plugins name
them in their records (`EngineSpec.clients`), which is how lz finds the client of a deployment.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from lazycli.client import KNOWN_OPTIONS, Chunk, Completion
from lazycli.client.http import HttpEndpoint, ProviderError

# --- chat templates for prompt-only protocols ----------------------------------------------------


def render_prompt(messages: list[dict], template: str | None) -> str:
    """Messages as one prompt string in the model's chat template, ending where the answer starts."""
    family = (template or "chatml").lower()
    if family == "llama3":
        parts = ["<|begin_of_text|>"]
        for m in messages:
            parts.append(f"<|start_header_id|>{m['role']}<|end_header_id|>\n\n{m['content']}<|eot_id|>")
        parts.append("<|start_header_id|>assistant<|end_header_id|>\n\n")
        return "".join(parts)
    if family in ("plain", "none", "raw"):
        lines = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
        return "\n".join(lines) + "\nAssistant:"
    # chatml (Qwen, SmolLM2, InternLM2 and many more)
    parts = [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages]
    return "".join(parts) + "<|im_start|>assistant\n"


def stop_words(template: str | None) -> list[str]:
    family = (template or "chatml").lower()
    if family == "llama3":
        return ["<|eot_id|>"]
    if family in ("plain", "none", "raw"):
        return ["\nUser:"]
    return ["<|im_end|>"]


def _usage(prompt_tokens: Any, completion_tokens: Any) -> dict:
    out: dict[str, int] = {}
    if isinstance(prompt_tokens, int):
        out["prompt_tokens"] = prompt_tokens
    if isinstance(completion_tokens, int):
        out["completion_tokens"] = completion_tokens
    if len(out) == 2:
        out["total_tokens"] = out["prompt_tokens"] + out["completion_tokens"]
    return out


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


# --- LightLLM -----------------------------------------------------------------------------------


class LightLLM(HttpEndpoint):
    """LightLLM's own API: /generate and /generate_stream."""

    api = "a LightLLM"

    def __init__(self, name: str, base_url: str, *, template: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, base_url, **kwargs)
        self.template = template

    def _body(self, messages: list[dict], options: dict) -> dict:
        params: dict[str, Any] = {"max_new_tokens": options.get("max_tokens", 512)}
        if "temperature" in options:
            params["temperature"] = options["temperature"]
            params["do_sample"] = options["temperature"] > 0
        if "top_p" in options:
            params["top_p"] = options["top_p"]
        params["stop_sequences"] = [*options.get("stop", []), *stop_words(self.template)]
        for key, value in options.items():
            if key not in KNOWN_OPTIONS:
                params[key] = value
        return {"inputs": render_prompt(messages, self.template), "parameters": params}

    def chat(self, messages: list[dict], model: str, options: dict) -> Completion:
        data = self.post_json("/generate", self._body(messages, options), model=model)
        return Completion(
            text=_strip_stops(_first(data.get("generated_text")) or "", stop_words(self.template)),
            model=model,
            usage=_usage(data.get("prompt_tokens"), _first(data.get("count_output_tokens"))),
            finish_reason=_first(data.get("finish_reason")),
            raw=data,
        )

    def chat_stream(self, messages: list[dict], model: str, options: dict) -> Iterator[Chunk]:
        finished = False
        prompt_tokens = completion_tokens = None
        stops = stop_words(self.template)
        for event in self.sse_events("/generate_stream", self._body(messages, options), model=model):
            token = event.get("token") or {}
            prompt_tokens = token.get("prompt_tokens", prompt_tokens)
            completion_tokens = token.get("count_output_tokens", completion_tokens)
            text = "" if token.get("special") or token.get("text") in stops else token.get("text") or ""
            finished = bool(event.get("finished"))
            usage = _usage(prompt_tokens, completion_tokens) if finished else None
            yield Chunk(
                text=text, finish_reason=event.get("finish_reason") if finished else None, usage=usage
            )
            if finished:
                return
        raise ProviderError(
            f"{self.name}: the stream ended before the answer was finished", kind="disconnected"
        )


def _strip_stops(text: str, stops: list[str]) -> str:
    for stop in stops:
        if text.endswith(stop):
            return text[: -len(stop)]
    return text


# --- vLLM's demo /generate server ---------------------------------------------------------------


class VLLMGenerate(HttpEndpoint):
    """vLLM's legacy demo API server: /generate, whose text includes the prompt."""

    api = "a vLLM /generate"

    def __init__(self, name: str, base_url: str, *, template: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, base_url, **kwargs)
        self.template = template

    def _body(self, messages: list[dict], options: dict, stream: bool) -> tuple[str, dict]:
        prompt = render_prompt(messages, self.template)
        body: dict[str, Any] = {
            "prompt": prompt,
            "stream": stream,
            "max_tokens": options.get("max_tokens", 512),
        }
        for key, value in options.items():
            if key != "stop":
                body[key] = value
        body["stop"] = [*options.get("stop", []), *stop_words(self.template)]
        return prompt, body

    def chat(self, messages: list[dict], model: str, options: dict) -> Completion:
        prompt, body = self._body(messages, options, stream=False)
        data = self.post_json("/generate", body, model=model)
        full = _first(data.get("text")) or ""
        return Completion(
            text=full[len(prompt) :] if full.startswith(prompt) else full, model=model, raw=data
        )

    def chat_stream(self, messages: list[dict], model: str, options: dict) -> Iterator[Chunk]:
        prompt, body = self._body(messages, options, stream=True)
        shown = 0
        for line in self.stream_lines("/generate", body, model=model):
            for piece in line.split("\0"):
                if not piece.strip():
                    continue
                try:
                    full = _first(json.loads(piece).get("text")) or ""
                except ValueError:
                    continue
                answer = full[len(prompt) :] if full.startswith(prompt) else full
                if len(answer) > shown:
                    yield Chunk(text=answer[shown:])
                    shown = len(answer)
        # The demo server ends its stream without a finish marker: a clean end is the end.
        yield Chunk(finish_reason="stop")


# --- LMDeploy ------------------------------------------------------------------------------------


class LMDeployInteractive(HttpEndpoint):
    """LMDeploy's /v1/chat/interactive, used statelessly (interactive_mode false, full messages)."""

    api = "an LMDeploy"

    def __init__(self, name: str, base_url: str, *, template: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, base_url, **kwargs)  # the server applies the chat template itself

    def _body(self, messages: list[dict], options: dict, stream: bool) -> dict:
        body: dict[str, Any] = {"prompt": messages, "interactive_mode": False, "stream": stream}
        if "max_tokens" in options:
            body["request_output_len"] = options["max_tokens"]
        for key, value in options.items():
            if key != "max_tokens":
                body[key] = value
        return body

    def chat(self, messages: list[dict], model: str, options: dict) -> Completion:
        data = self.post_json("/v1/chat/interactive", self._body(messages, options, False), model=model)
        return Completion(
            text=data.get("text") or "",
            model=model,
            usage=_usage(data.get("input_tokens"), data.get("tokens")),
            finish_reason=data.get("finish_reason"),
            raw=data,
        )

    def chat_stream(self, messages: list[dict], model: str, options: dict) -> Iterator[Chunk]:
        finished = False
        for line in self.stream_lines(
            "/v1/chat/interactive", self._body(messages, options, True), model=model
        ):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            reason = event.get("finish_reason")
            finished = finished or bool(reason)
            usage = _usage(event.get("input_tokens"), event.get("tokens")) if reason else None
            yield Chunk(text=event.get("text") or "", finish_reason=reason, usage=usage)
        if not finished:
            yield Chunk(finish_reason="stop")
