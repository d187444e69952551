"""Images in OpenAI chat messages: content parts `{"type": "image_url", "image_url": {"url": DATA_URL}}`
after the text part, as vision models served by vLLM, LMDeploy and OpenAI take them."""

from __future__ import annotations

from lazycli.media import Blob


def image_part(blob: Blob) -> dict:
    return {"type": "image_url", "image_url": {"url": blob.data_url()}}


def with_images(messages: list[dict], images) -> tuple[list[dict], list[dict]]:
    """(messages to log, messages to send): the last user message gets the images as content parts
    to send; the logged copy names them in its text instead of carrying megabytes of base64."""
    images = list(images or ())
    if not images:
        return messages, messages
    last = max(i for i, m in enumerate(messages) if m["role"] == "user")
    text = messages[last]["content"]
    sent = [dict(m) for m in messages]
    sent[last]["content"] = [{"type": "text", "text": text}, *(image_part(b) for b in images)]
    logged = [dict(m) for m in messages]
    names = ", ".join(f"{b.name} ({b.mime}, {len(b.data)} bytes)" for b in images)
    logged[last]["content"] = f"{text}\n[images: {names}]"
    return logged, sent
