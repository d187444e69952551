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


def files_in(content, text: str):
    """A served message's image/audio parts as `{"text", "image", "audio"}` data URLs (the first
    of each), or `text` when it has none. OpenAI's shapes: `image_url.url` and
    `input_audio: {"data": base64, "format": "wav"}`."""
    if not isinstance(content, list):
        return text
    found: dict[str, str] = {}
    for part in content:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "image_url" and "image" not in found:
            url = (part.get("image_url") or {}).get("url")
            if isinstance(url, str):
                found["image"] = url
        elif part.get("type") == "input_audio" and "audio" not in found:
            audio = part.get("input_audio") or {}
            if isinstance(audio.get("data"), str):
                found["audio"] = f"data:audio/{audio.get('format') or 'wav'};base64,{audio['data']}"
    return {"text": text, **found} if found else text
