"""Flow components that take and return files: `stt` (audio → text), `tts` (text → audio) and `ocr`
(image → text), each calling a media deployment through `lazycli.media.client`.

A file travels as a path or a data URL (JSON-safe, size-limited by `lazycli.media`), never pickled.
A step's input may be the file itself, or a dict holding it under `audio` / `image` / `file` (what a
`tts` step returns: `{"text", "audio", "seconds"}`). Paths are read only where the run is local
(`lz run`): a served app (`Context.local_files` false) takes data URLs only, so a client of
`lz serve` can never make the server read its files.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

from lazycli import flow
from lazycli.media import Blob, MediaError, is_data_url, load, write_atomic

OUTPUTS = ("auto", "path", "data_url")
_KEYS = {"audio": ("audio", "file", "data"), "image": ("image", "file", "data")}


class _MediaStep(flow.Node):
    kind = ""  # tts | stt | ocr

    def __init__(self, target: str | None, **kw: Any) -> None:
        super().__init__(**kw)
        self.target = target
        self._endpoint = None
        self._lock = threading.Lock()

    def endpoint(self):
        from lazycli.media import client

        with self._lock:
            if self._endpoint is None:
                self._endpoint = client.endpoint(self.target, self.kind)
            return self._endpoint


def input_file(value: Any, kind: str, ctx: flow.Context) -> Blob:
    """The audio/image file a step got: a path, a data URL, or a dict holding one."""
    if isinstance(value, dict):
        found = next((value[k] for k in _KEYS[kind] if isinstance(value.get(k), str)), None)
        if found is None:
            raise MediaError(
                f"expected {kind} (a path or data URL), got an object with {sorted(value)}",
                hint=f"give the step a {kind} file, or a dict with {_KEYS[kind][0]!r}",
            )
        value = found
    if not isinstance(value, str | Path) or not str(value).strip():
        raise MediaError(f"expected {kind} (a path or data URL), got {type(value).__name__}")
    text = str(value).strip()
    if is_data_url(text):
        return load(text, kind=kind)
    if not getattr(ctx, "local_files", True):
        raise MediaError(
            f"a served app takes {kind} as a data URL, not a path",
            hint=f"send data:<type>;base64,… (a {kind} file's bytes)",
            status=400,
        )
    return load(Path(text), kind=kind)


class Transcribe(_MediaStep):
    """stt: audio in, its words out (text)."""

    kind = "stt"

    def __init__(self, target: str | None, *, language: str | None = None, **kw: Any) -> None:
        super().__init__(target, **kw)
        self.language = language

    def apply(self, value: Any, ctx: flow.Context, **bound: Any) -> Any:
        from lazycli.media import client

        return client.transcribe(self.endpoint(), input_file(value, "audio", ctx), language=self.language)


class Read(_MediaStep):
    """ocr: an image in, its text out (lines joined by newlines)."""

    kind = "ocr"

    def apply(self, value: Any, ctx: flow.Context, **bound: Any) -> Any:
        from lazycli.media import client

        blob = input_file(value, "image", ctx)
        if blob.mime == "application/pdf":
            raise MediaError("an ocr step takes images, not PDFs", hint="render the pages to PNG first")
        return client.read(self.endpoint(), blob).text


class Speak(_MediaStep):
    """tts: text in, `{"text", "audio", "seconds"}` out; `audio` is a WAV path (`lz run`, written under
    `save_to`) or a data URL (a served app, or output = "data_url")."""

    kind = "tts"

    def __init__(
        self,
        target: str | None,
        *,
        voice: str | None = None,
        speed: float = 1.0,
        output: str = "auto",
        save_to: Path | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(target, **kw)
        if output not in OUTPUTS:
            raise flow.FlowError(f"unknown tts output {output!r}", hint=f"one of {', '.join(OUTPUTS)}")
        self.voice = voice
        self.speed = speed
        self.output = output
        self.save_to = save_to

    def apply(self, value: Any, ctx: flow.Context, **bound: Any) -> Any:
        from lazycli.media import client

        text = value.get("text") if isinstance(value, dict) and "text" in value else flow.to_text(value)
        if not str(text).strip():
            raise MediaError("a tts step got no text to say", hint="check the step before it")
        audio = client.speak(self.endpoint(), str(text), voice=self.voice, speed=self.speed)
        as_path = self.output == "path" or (self.output == "auto" and getattr(ctx, "local_files", True))
        return {
            "text": str(text),
            "audio": str(self._save(audio)) if as_path else audio.data_url(),
            "seconds": wav_seconds(audio.data),
        }

    def _save(self, audio: Blob) -> Path:
        from lazycli import paths

        folder = self.save_to or (paths.data_dir() / "media")
        # Named by content: the same answer spoken twice is one file, and a rerun never clobbers
        # a different one.
        path = Path(folder) / f"speech-{hashlib.sha256(audio.data).hexdigest()[:16]}.wav"
        if not path.exists():
            write_atomic(path, audio.data)
        return path


def wav_seconds(data: bytes) -> float:
    import io
    import wave

    with wave.open(io.BytesIO(data), "rb") as w:
        return round(w.getnframes() / w.getframerate(), 3)
