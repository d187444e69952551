"""Stand-in for ChatTTS (2Noise/ChatTTS): Chat().load(source, custom_path, compile, device),
Chat.InferCodeParams(prompt=…), infer(texts, params_infer_code=…) → one float32 array per text at
24 kHz (a 220 Hz tone, 0.3 s a word)."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _log import record


class Chat:
    @dataclass
    class InferCodeParams:
        prompt: str = "[speed_5]"
        spk_emb: str | None = None
        temperature: float = 0.3

    def load(
        self, source="local", force_redownload=False, compile=False, custom_path=None, device=None, **kw
    ):
        record("ChatTTS.load", source=source, compile=compile, custom_path=custom_path, device=str(device))
        return Path(custom_path or ".").is_dir()

    def infer(self, text, params_refine_text=None, params_infer_code=None, **kw):
        record("ChatTTS.infer", text=text, prompt=getattr(params_infer_code, "prompt", None))
        out = []
        for item in text:
            n = int(24000 * 0.3 * len(item.split()))
            out.append((0.5 * np.sin(2 * np.pi * 220 * np.arange(n) / 24000)).astype(np.float32)[None, :])
        return out
