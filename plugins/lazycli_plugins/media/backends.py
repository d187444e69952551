"""The offline models behind the media engines, loaded inside the engine's own process.

- `Espeak`: text → 16-bit mono WAV with eSpeak NG (libespeak-ng and its voice data ship in the
  `espeakng-loader` wheel; called through ctypes, nothing on PATH needed).
- `Pocketsphinx`: WAV → text with CMU PocketSphinx 5 (the en-us acoustic model, dictionary and
  language model ship in the `pocketsphinx` wheel).
- `RapidOcr`: image → lines of text with PP-OCR ONNX models (ship in the `rapidocr` wheel) on
  onnxruntime.

Each takes bytes and returns plain values; the HTTP layer is `server.py`. They are not thread-safe
(one eSpeak instance per process, a decoder per sample rate): the server runs one call at a time.
"""

from __future__ import annotations

import array
import ctypes
import io
import struct
import wave
from dataclasses import dataclass
from pathlib import Path

from lazycli.media import MediaError

# OpenAI's voice names mapped to eSpeak voices ("+f2": a variant). en-us+f2 is the default: of the
# English voices it is the one PocketSphinx transcribes best (measured, see docs/multimodal.md).
VOICES = {
    "alloy": "en-us+f2",
    "nova": "en-us+f3",
    "shimmer": "en-us+f4",
    "echo": "en-us+m3",
    "onyx": "en-us+m1",
    "fable": "en-gb-x-rp",
}
DEFAULT_VOICE = "alloy"
BASE_RATE = 140  # eSpeak words per minute at speed 1.0 (its own 175 is too fast for PocketSphinx)

# espeak_AUDIO_OUTPUT and flags from speak_lib.h
_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE = 1
_SYNTH_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class Espeak:
    """eSpeak NG in this process: `speak(text, voice, speed)` → WAV bytes."""

    def __init__(self, data_dir: Path | None = None) -> None:
        import espeakng_loader

        data = Path(data_dir) if data_dir else Path(espeakng_loader.get_data_path())
        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip
        self.rate = self.lib.espeak_Initialize(_SYNCHRONOUS, 0, str(data).encode(), 0)
        if self.rate <= 0:
            raise RuntimeError(f"eSpeak NG could not start with its data at {data}")
        self._samples = array.array("h")
        self._callback = _SYNTH_CB(self._collect)  # kept on self: ctypes must not free it
        self.lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav, count: int, _events) -> int:
        if count > 0:
            self._samples.frombytes(ctypes.string_at(wav, count * 2))
        return 0

    def voice_name(self, voice: str | None) -> str:
        return VOICES.get(voice or DEFAULT_VOICE, voice or VOICES[DEFAULT_VOICE])

    def speak(self, text: str, voice: str | None = None, speed: float = 1.0) -> bytes:
        name = self.voice_name(voice)
        if self.lib.espeak_SetVoiceByName(name.encode()) != 0:
            raise MediaError(
                f"unknown voice {voice!r}", hint=f"one of {', '.join(VOICES)} or an eSpeak voice name"
            )
        self.lib.espeak_SetParameter(_RATE, max(80, min(450, round(BASE_RATE * speed))), 0)
        self._samples = array.array("h")
        encoded = text.encode("utf-8")
        size = len(encoded) + 1
        status = self.lib.espeak_Synth(encoded, size, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        self.lib.espeak_Synchronize()
        if status != 0:
            raise RuntimeError(f"eSpeak NG failed to synthesise (status {status})")
        return pcm_to_wav(self._samples.tobytes(), self.rate)


def pcm_to_wav(pcm: bytes, rate: int, channels: int = 1) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return out.getvalue()


@dataclass(frozen=True)
class Audio:
    """Mono 16-bit samples and their rate."""

    pcm: bytes
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / self.rate


def read_wav(data: bytes, name: str = "audio") -> Audio:
    """A WAV file's PCM as mono 16-bit (any channel count, 8/16/24/32-bit integer samples)."""
    import numpy as np

    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError, struct.error, ValueError, RuntimeError) as exc:  # RuntimeError: chunk
        raise MediaError(f"{name}: corrupt WAV file ({exc})", hint="send a PCM WAV file") from None
    if width not in (1, 2, 3, 4) or channels < 1 or rate < 4000:
        raise MediaError(f"{name}: unsupported WAV ({width * 8}-bit, {channels} ch, {rate} Hz)", status=415)
    usable = len(frames) - len(frames) % (width * channels)
    raw = np.frombuffer(frames[:usable], dtype=np.uint8).reshape(-1, width)
    if width == 1:
        samples = (raw[:, 0].astype(np.int32) - 128) << 8
    else:
        # little-endian signed: keep the top two bytes of each sample
        samples = raw[:, -1].astype(np.int8).astype(np.int32) << 8 | raw[:, -2].astype(np.int32)
    mono = samples.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return Audio(pcm=mono.tobytes(), rate=rate)


class Pocketsphinx:
    """PocketSphinx with the model folder given (default: the one in the wheel)."""

    def __init__(self, model_dir: Path | None = None) -> None:
        self.model_dir = Path(model_dir) if model_dir else None
        self._decoders: dict[int, object] = {}

    def _decoder(self, rate: int):
        # PocketSphinx takes any sample rate once the FFT covers its 25.6 ms window: no resampling.
        if rate not in self._decoders:
            from pocketsphinx import Decoder

            nfft = 256
            while nfft < 0.025625 * rate:
                nfft *= 2
            kwargs: dict = {"samprate": rate, "nfft": nfft, "loglevel": "FATAL"}
            if self.model_dir is not None:
                kwargs.update(
                    hmm=str(self.model_dir / "en-us"),
                    lm=str(self.model_dir / "en-us.lm.bin"),
                    dict=str(self.model_dir / "cmudict-en-us.dict"),
                )
            self._decoders[rate] = Decoder(**kwargs)
        return self._decoders[rate]

    def transcribe(self, audio: Audio, language: str | None = None) -> str:
        # The bundled model is en-us only: `language` is accepted (OpenAI's field) and not used.
        decoder = self._decoder(audio.rate)
        # A fresh feature front end per request: its cepstral mean and noise estimate otherwise carry
        # over from earlier requests, and the same audio came back with other words (measured).
        decoder.reinit_feat()
        decoder.start_utt()
        decoder.process_raw(audio.pcm, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        return hyp.hypstr if hyp is not None else ""


@dataclass(frozen=True)
class OcrLine:
    text: str
    score: float
    box: list[list[float]]  # four corner points, clockwise from top-left, in pixels


class RapidOcr:
    """RapidOCR (PP-OCR on onnxruntime). `model_dir` other than the wheel's: det/rec/cls .onnx files."""

    def __init__(self, model_dir: Path | None = None, threads: int | None = None) -> None:
        import logging

        from rapidocr import RapidOCR

        params: dict = {}
        if threads:
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = threads
        if model_dir is not None and not _is_bundled(Path(model_dir)):
            params.update(_ocr_model_params(Path(model_dir)))
        self.engine = RapidOCR(params=params)
        logging.getLogger("RapidOCR").setLevel(logging.WARNING)

    def read(self, image: bytes, name: str = "image") -> list[OcrLine]:
        import numpy as np
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(image)) as img:
                pixels = np.asarray(img.convert("RGB"))[:, :, ::-1]  # RGB → BGR, what OpenCV expects
        except (UnidentifiedImageError, OSError, ValueError):
            raise MediaError(f"{name}: corrupt or unreadable image", hint="send a PNG or JPEG") from None
        result = self.engine(np.ascontiguousarray(pixels))
        if result.txts is None:
            return []
        return [
            OcrLine(text=str(t), score=float(s), box=[[float(x), float(y)] for x, y in b.tolist()])
            for t, s, b in zip(result.txts, result.scores, result.boxes, strict=True)
        ]


def _is_bundled(folder: Path) -> bool:
    import rapidocr

    return folder.resolve() == (Path(rapidocr.__file__).parent / "models").resolve()


def _ocr_model_params(folder: Path) -> dict:
    """RapidOCR parameters for det/rec/cls models found in `folder` (the bundled ones by default)."""
    params = {}
    for key, pattern in (("Det", "*det*.onnx"), ("Rec", "*rec*.onnx"), ("Cls", "*cls*.onnx")):
        found = sorted(folder.glob(pattern))
        if found:
            params[f"{key}.model_path"] = str(found[-1])
    return params
