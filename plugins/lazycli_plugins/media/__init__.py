"""Media engines that run on a CPU with models shipped inside wheels (no hub download):

- `espeak`: text-to-speech (tts) with eSpeak NG → POST /v1/audio/speech
- `pocketsphinx`: speech-to-text (stt) with CMU PocketSphinx → POST /v1/audio/transcriptions
- `rapidocr`: OCR with PP-OCR ONNX models → POST /v1/ocr

and LazyLLM's GPU models, the libraries imported only in the engine's process (see gpu.py):

- `chattts` (tts, ChatTTS), `funasr` (stt, SenseVoiceSmall), `diffusers` (sd, Stable Diffusion)
  → /v1/audio/speech, /v1/audio/transcriptions, /v1/images/generations

Each runs `python -m lazycli_plugins.media.server --backend NAME …` (see server.py for the wire).
Install them with `pip install 'lazycli[media]'`.
"""

from __future__ import annotations

import sys
from functools import cache

from lazycli.engines import module_available, option, render_flags
from lazycli.hookspecs import EngineRequest, EngineSpec, SettingsSpec, hookimpl

INSTALL_HINT = "pip install 'lazycli[media]'"
_SERVER_MODULES = ("fastapi", "uvicorn", "numpy")

VOICE = dict([option("voice", "--voice", str, "default voice: alloy, nova, echo, … or an eSpeak voice")])
THREADS = dict([option("threads", "--threads", int, "onnxruntime threads")])
LIMITS = dict(
    [
        option("max_audio_mb", "--max-audio-mb", float, "largest audio upload in MiB (default 25)"),
        option("max_image_mb", "--max-image-mb", float, "largest image upload in MiB (default 20)"),
    ]
)


def _argv(backend: str, known: dict):
    def argv(req: EngineRequest) -> list[str]:
        head = [
            sys.executable, "-m", "lazycli_plugins.media.server",
            "--backend", backend,
            "--model", str(req.model_path),
            "--served-name", req.served_name,
            "--host", req.host,
            "--port", str(req.port),
        ]  # fmt: skip
        return head + render_flags(req.options, known, style="dash") + list(req.extra_args)

    return argv


def _gpu_argv(backend: str, known: dict):
    plain = _argv(backend, known)

    def argv(req: EngineRequest) -> list[str]:
        options = dict(req.options)
        options.setdefault("device", "cuda" if req.gpus > 0 else "cpu")
        return plain(EngineRequest(**{**req.__dict__, "options": options}))

    return argv


def _installed(*modules: str):
    return lambda: all(module_available(m) for m in (*_SERVER_MODULES, *modules))


@hookimpl
def lazycli_engines():
    tts_options = {**VOICE, **LIMITS}
    yield EngineSpec(
        name="espeak",
        argv=_argv("espeak", tts_options),
        model_types=("tts",),
        formats=("espeak",),
        options=tts_options,
        is_installed=_installed("espeakng_loader"),
        install_hint=INSTALL_HINT,
        description="eSpeak NG text-to-speech on CPU: /v1/audio/speech (WAV)",
    )
    yield EngineSpec(
        name="pocketsphinx",
        argv=_argv("pocketsphinx", LIMITS),
        model_types=("stt",),
        formats=("pocketsphinx",),
        options=LIMITS,
        is_installed=_installed("pocketsphinx"),
        install_hint=INSTALL_HINT,
        description="CMU PocketSphinx speech recognition on CPU: /v1/audio/transcriptions (WAV)",
    )
    ocr_options = {**THREADS, **LIMITS}
    yield EngineSpec(
        name="rapidocr",
        argv=_argv("rapidocr", ocr_options),
        model_types=("ocr",),
        formats=("onnx",),
        options=ocr_options,
        is_installed=_installed("rapidocr", "onnxruntime", "PIL"),
        install_hint=INSTALL_HINT,
        description="RapidOCR (PP-OCR ONNX) on CPU: /v1/ocr",
    )
    gpu_options = {
        **LIMITS,
        **dict(
            [option("device", "--device", str, "torch device: cuda, cuda:1, cpu (default: cuda with --gpus)")]
        ),
    }
    yield EngineSpec(
        name="chattts",
        argv=_gpu_argv("chattts", gpu_options),
        model_types=("tts",),
        formats=("hf",),
        options=gpu_options,
        is_installed=_installed("ChatTTS", "torch"),
        install_hint="pip install ChatTTS (in the engine's environment; it needs torch)",
        needs_gpu=True,
        description="ChatTTS text-to-speech: /v1/audio/speech (WAV, 24 kHz)",
    )
    yield EngineSpec(
        name="funasr",
        argv=_gpu_argv("funasr", gpu_options),
        model_types=("stt",),
        formats=("hf",),
        options=gpu_options,
        is_installed=_installed("funasr", "torch"),
        install_hint="pip install funasr (in the engine's environment; it needs torch)",
        needs_gpu=True,
        description="FunASR SenseVoice speech recognition: /v1/audio/transcriptions",
    )
    sd_options = {
        **gpu_options,
        **dict([option("steps", "--steps", int, "diffusion steps (default: the pipeline's)")]),
    }
    yield EngineSpec(
        name="diffusers",
        argv=_gpu_argv("diffusers", sd_options),
        model_types=("sd",),
        formats=("hf",),
        options=sd_options,
        is_installed=_installed("diffusers", "torch"),
        install_hint="pip install diffusers transformers accelerate (in the engine's environment)",
        needs_gpu=True,
        description="Stable Diffusion via diffusers: /v1/images/generations (b64_json PNG)",
    )


@cache
def _settings_model():
    from pydantic import BaseModel, Field

    class MediaSettings(BaseModel):
        tts: str = Field("espeak-ng-en", description="Model, deployment or URL `lz speak` uses without -m")
        stt: str = Field("pocketsphinx-en-us", description="Model, deployment or URL `lz transcribe` uses")
        ocr: str = Field("pp-ocrv6-small", description="Model, deployment or URL `lz ocr` and --ocr use")

    return MediaSettings


@hookimpl
def lazycli_settings():
    yield SettingsSpec(name="media", model=_settings_model, description="default speech and OCR models")
