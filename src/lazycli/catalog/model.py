"""The model record every other part receives: `ModelRef`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

MODEL_TYPES = ("llm", "vlm", "embed", "rerank", "tts", "stt", "sd", "ocr")
SOURCES = ("path", "model_path", "cache", "bundled", "registered", "hub")


@dataclass
class ModelRef:
    """A resolved model: what it is, and where it lives when it is on this machine.

    `path` is set only when the model is usable as it is (a GGUF model's path is the .gguf file,
    any other model's path is its directory); `download_dir` is where a hub download goes.
    """

    name: str
    type: str
    format: str
    path: Path | None
    hub_ids: dict[str, str]
    params_b: float | None
    context_length: int | None
    template: str | None
    default_engines: tuple[str, ...]
    source: str
    # Beyond the agreed interface: handy for `lz models` and the downloader.
    aliases: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    quantization: str | None = None
    in_catalog: bool = False
    bundled_package: str | None = None
    bundled_pip: str | None = None
    download_dir: Path | None = None
    revision: str | None = None
    notes: list[str] = field(default_factory=list)
    online: str | None = None  # "provider:model" of a model served by an online provider (a fine-tune)

    @property
    def ready(self) -> bool:
        """True when the model is complete on disk (a half download never is: its path is None)."""
        return self.path is not None and self.path.exists()

    def to_dict(self) -> dict:
        out = asdict(self)
        out["ready"] = self.ready
        for key in ("path", "download_dir"):
            out[key] = str(out[key]) if out[key] is not None else None
        out["default_engines"] = list(self.default_engines)
        out["aliases"] = list(self.aliases)
        out["include"] = list(self.include)
        return out
