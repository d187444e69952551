"""Files that travel through lz: audio and images, as paths or data URLs, never pickled.

A `Blob` is the bytes of one file plus its media type, found by sniffing the bytes (a `.wav` name on
an MP3 does not fool it). Every way a file enters lz (a CLI flag, a recipe step's input, a request
body) goes through `load()`/`from_bytes()`, which enforce one size limit per kind and answer with a
`MediaError` (an `LzError`: one line and exit 2 from the CLI; its `status` is the HTTP code a server
answers with: 413 too large, 415 unsupported type, 400 corrupt).

Stdlib only: the CLI imports this for `lz chat --image` and `lz serve`.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from pathlib import Path

from lazycli.errors import LzError

KINDS = ("audio", "image")

# OpenAI's own limit for /v1/audio/transcriptions uploads; images as large as a phone photo.
MAX_BYTES = {"audio": 25 * 1024 * 1024, "image": 20 * 1024 * 1024}

# (media type, the bytes it starts with at offset, offset); checked in order.
_AUDIO_MAGIC = (
    ("audio/flac", b"fLaC", 0),
    ("audio/ogg", b"OggS", 0),
    ("audio/mpeg", b"ID3", 0),
    ("audio/webm", b"\x1a\x45\xdf\xa3", 0),
    ("audio/mp4", b"ftyp", 4),
)
_IMAGE_MAGIC = (
    ("image/png", b"\x89PNG\r\n\x1a\n", 0),
    ("image/jpeg", b"\xff\xd8\xff", 0),
    ("image/gif", b"GIF8", 0),
    ("image/bmp", b"BM", 0),
    ("image/tiff", b"II*\x00", 0),
    ("image/tiff", b"MM\x00*", 0),
    ("application/pdf", b"%PDF-", 0),
)
EXTENSIONS = {
    "audio/wav": "wav",
    "audio/flac": "flac",
    "audio/ogg": "ogg",
    "audio/mpeg": "mp3",
    "audio/webm": "webm",
    "audio/mp4": "m4a",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/bmp": "bmp",
    "image/tiff": "tiff",
    "image/webp": "webp",
    "application/pdf": "pdf",
}


class MediaError(LzError):
    """A file lz cannot take: `status` is what a server answers (400, 413, 415)."""

    def __init__(self, message: str, *, hint: str | None = None, status: int = 400) -> None:
        super().__init__(message, hint=hint)
        self.status = status


@dataclass(frozen=True)
class Blob:
    """One file's bytes, its sniffed media type and a name for messages and multipart uploads."""

    data: bytes
    mime: str
    name: str

    @property
    def kind(self) -> str:
        return "audio" if self.mime.startswith("audio/") else "image"

    @property
    def extension(self) -> str:
        return EXTENSIONS.get(self.mime, "bin")

    def data_url(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"


def sniff(data: bytes) -> str | None:
    """The media type of `data` by its first bytes, or None when lz knows no such file."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for mime, magic, offset in (*_AUDIO_MAGIC, *_IMAGE_MAGIC):
        if data[offset : offset + len(magic)] == magic:
            return mime
    if len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0:
        return "audio/mpeg"  # an MP3 frame sync without an ID3 tag
    return None


def limit_for(kind: str, limit: int | None = None) -> int:
    return limit if limit is not None else MAX_BYTES[kind]


def from_bytes(data: bytes, *, kind: str, name: str = "upload", limit: int | None = None) -> Blob:
    """`data` as a Blob of `kind`, or a MediaError saying what is wrong with it."""
    cap = limit_for(kind, limit)
    if len(data) > cap:
        raise MediaError(
            f"{name}: {kind} file is {_size(len(data))}, over the {_size(cap)} limit",
            hint="send a smaller file",
            status=413,
        )
    if not data:
        raise MediaError(f"{name}: the {kind} file is empty", hint="check the file", status=400)
    mime = sniff(data)
    if mime is None:
        raise MediaError(
            f"{name}: not {_a(kind)} file lz knows (its bytes match no {kind} format)",
            hint="audio: WAV, FLAC, OGG, MP3; images: PNG, JPEG, GIF, BMP, TIFF, WebP, PDF",
            status=415 if _looks_binary(data) else 400,
        )
    if not mime.startswith(kind) and not (kind == "image" and mime == "application/pdf"):
        raise MediaError(f"{name}: expected {kind}, got {mime}", hint=f"give {_a(kind)} file", status=415)
    return Blob(data=data, mime=mime, name=name)


_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[\w.+-]+=[^;,]*)*)(?P<b64>;base64)?,")


def is_data_url(value: str) -> bool:
    return value.startswith("data:") and _DATA_URL.match(value[:200]) is not None


def decode_data_url(value: str, *, kind: str, limit: int | None = None, name: str = "data URL") -> Blob:
    """A `data:<type>;base64,...` string as a Blob (the bytes are sniffed, the declared type only
    names the file in messages)."""
    match = _DATA_URL.match(value[:200])
    if match is None:
        raise MediaError(f"{name}: not a data URL", hint="write data:<type>;base64,<bytes>")
    payload = value[match.end() :]
    cap = limit_for(kind, limit)
    if len(payload) * 3 // 4 > cap + 3:  # refuse before decoding a huge string
        raise MediaError(
            f"{name}: {kind} file is about {_size(len(payload) * 3 // 4)}, over the {_size(cap)} limit",
            hint="send a smaller file",
            status=413,
        )
    if not match.group("b64"):
        raise MediaError(f"{name}: only base64 data URLs carry files", hint="write data:<type>;base64,...")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise MediaError(f"{name}: the data URL's base64 is corrupt", hint="encode the file again") from None
    return from_bytes(data, kind=kind, name=name, limit=limit)


def load(value: str | Path, *, kind: str, limit: int | None = None, base: Path | None = None) -> Blob:
    """A path (relative to `base`) or a data URL as a Blob of `kind`."""
    if isinstance(value, str) and is_data_url(value):
        return decode_data_url(value, kind=kind, limit=limit)
    path = Path(value).expanduser()
    if base is not None and not path.is_absolute():
        path = base / path
    if not path.is_file():
        raise MediaError(f"no {kind} file at {path}", hint="check the path", status=404)
    cap = limit_for(kind, limit)
    size = path.stat().st_size
    if size > cap:
        raise MediaError(
            f"{path}: {kind} file is {_size(size)}, over the {_size(cap)} limit",
            hint="send a smaller file",
            status=413,
        )
    return from_bytes(path.read_bytes(), kind=kind, name=str(path), limit=limit)


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _looks_binary(data: bytes) -> bool:
    return b"\x00" in data[:512]


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MiB"
    if n >= 1024:
        return f"{n / 1024:.0f} KiB"
    return f"{n} B"


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so a reader sees the old file or the new one, never half of one."""
    from lazycli.fsutil import atomic_write_bytes

    atomic_write_bytes(path, data)
