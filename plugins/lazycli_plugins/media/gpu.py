"""LazyLLM's GPU media models behind the same server and wire as the CPU ones:

- `ChatTts`: ChatTTS (`ChatTTS.Chat().load(source="custom", custom_path=DIR)`, `infer([text])` →
  24 kHz float audio) → /v1/audio/speech
- `SenseVoice`: FunASR's `AutoModel(model=DIR)` (SenseVoiceSmall; no VAD model: that one would come
  from a hub) `.generate(input=16 kHz float samples, language=, use_itn=True)` → /v1/audio/transcriptions
- `Diffusion`: diffusers' `DiffusionPipeline.from_pretrained(DIR, torch_dtype=float16)`
  `(prompt=…).images` → /v1/images/generations (b64_json PNGs)

Each library is imported when its engine starts, in the engine's process; none is a dependency of
lz. Their calls follow the libraries' own documented usage (ChatTTS README, FunASR's SenseVoice
example, diffusers' DiffusionPipeline); the tests check them against stand-in modules.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

from lazycli_plugins.media.backends import Audio, pcm_to_wav

SENSEVOICE_RATE = 16000
CHATTTS_RATE = 24000


def _float_to_wav(samples, rate: int) -> bytes:
    import numpy as np

    mono = np.asarray(samples, dtype=np.float32).reshape(-1)
    pcm = (np.clip(mono, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    return pcm_to_wav(pcm, rate)


class ChatTts:
    def __init__(self, model_dir: Path, device: str) -> None:
        import ChatTTS
        import torch

        self.chat = ChatTTS.Chat()
        ok = self.chat.load(
            source="custom", custom_path=str(model_dir), compile=False, device=torch.device(device)
        )
        if ok is False:
            raise RuntimeError(f"ChatTTS could not load its model from {model_dir}")
        self.lib = ChatTTS

    def speak(self, text: str, voice: str | None = None, speed: float = 1.0) -> bytes:
        # ChatTTS takes speed as a prompt token [speed_0]…[speed_9]; 5 is its default pace.
        level = max(0, min(9, round(5 * speed)))
        params = self.lib.Chat.InferCodeParams(prompt=f"[speed_{level}]")
        wavs = self.chat.infer([text], params_infer_code=params)
        return _float_to_wav(wavs[0], CHATTTS_RATE)


class SenseVoice:
    def __init__(self, model_dir: Path, device: str) -> None:
        from funasr import AutoModel
        from funasr.utils.postprocess_utils import rich_transcription_postprocess

        self.model = AutoModel(model=str(model_dir), device=device, disable_update=True)
        self.postprocess = rich_transcription_postprocess

    def transcribe(self, audio: Audio, language: str | None = None) -> str:
        import numpy as np

        samples = np.frombuffer(audio.pcm, dtype="<i2").astype(np.float32) / 32768.0
        if audio.rate != SENSEVOICE_RATE:  # SenseVoice's front end expects 16 kHz
            count = int(len(samples) * SENSEVOICE_RATE / audio.rate)
            samples = np.interp(
                np.arange(count) * audio.rate / SENSEVOICE_RATE, np.arange(len(samples)), samples
            )
        result = self.model.generate(
            input=samples.astype(np.float32), cache={}, language=language or "auto", use_itn=True
        )
        return self.postprocess(result[0]["text"]) if result else ""


class Diffusion:
    def __init__(self, model_dir: Path, device: str) -> None:
        import torch
        from diffusers import DiffusionPipeline

        dtype = torch.float16 if device.startswith("cuda") else torch.float32
        self.pipe = DiffusionPipeline.from_pretrained(str(model_dir), torch_dtype=dtype).to(device)

    def generate(self, prompt: str, n: int, width: int, height: int, steps: int | None) -> list[str]:
        kwargs = {"prompt": prompt, "num_images_per_prompt": n, "width": width, "height": height}
        if steps:
            kwargs["num_inference_steps"] = steps
        images = self.pipe(**kwargs).images
        out = []
        for image in images:
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            out.append(base64.b64encode(buffer.getvalue()).decode("ascii"))
        return out
