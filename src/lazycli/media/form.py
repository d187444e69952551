"""multipart/form-data bodies (OpenAI's /v1/audio/transcriptions upload) read with the stdlib's
email parser: lz's servers take file uploads without python-multipart.
"""

from __future__ import annotations

from dataclasses import dataclass

from lazycli.media import MediaError


@dataclass(frozen=True)
class Field:
    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


def parse_form(body: bytes, content_type: str) -> dict[str, Field]:
    """The fields of a multipart/form-data body by name (the last one wins for a repeated name)."""
    from email.parser import BytesParser
    from email.policy import HTTP

    if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in content_type:
        raise MediaError(
            f"expected a multipart/form-data upload, got {content_type or 'no content type'}",
            hint="send the file as a form field named 'file' (curl -F file=@audio.wav)",
            status=415,
        )
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise MediaError("the multipart body could not be read", hint="check the upload's boundary")
    fields: dict[str, Field] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        fields[str(name)] = Field(
            name=str(name),
            data=payload,
            filename=part.get_filename(),
            content_type=part.get_content_type() if part.get("content-type") else None,
        )
    return fields
