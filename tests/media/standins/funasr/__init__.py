"""Stand-in for FunASR's AutoModel with SenseVoiceSmall: generate(input=float32 16 kHz samples,
cache, language, use_itn) → [{"key", "text"}] with SenseVoice's rich tags around the words."""

import numpy as np
from _log import record


class AutoModel:
    def __init__(self, model=None, device="cuda:0", **kwargs):
        record("funasr.AutoModel", model=model, device=device, **kwargs)

    def generate(self, input, cache=None, language="auto", use_itn=False, **kwargs):
        samples = np.asarray(input)
        record(
            "funasr.generate",
            dtype=str(samples.dtype),
            seconds=len(samples) / 16000,
            language=language,
            use_itn=use_itn,
        )
        return [
            {
                "key": "utt",
                "text": f"<|en|><|NEUTRAL|><|Speech|><|withitn|>heard {len(samples) / 16000:.1f} seconds",
            }
        ]
