"""Convert a GGUF model into a plain Hugging Face directory (bf16 safetensors + tokenizer).

    VENV/bin/python tests/deploy/gguf_to_hf.py MODEL.gguf OUT_DIR

Run with the vLLM environment's python (it has transformers 5 with gguf and accelerate). Loading a
GGUF with transformers dequantizes it but marks the model as GGUF-quantized, which cannot be saved:
the weights are copied into a fresh model of the same config instead.
"""

import sys
from pathlib import Path


def main(gguf: str, out: str) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(Path(gguf).parent), Path(gguf).name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.bfloat16)
    weights = {k: v.detach().to(torch.bfloat16).clone() for k, v in loaded.state_dict().items()}
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    plain.load_state_dict(weights)
    plain.save_pretrained(out)
    tokenizer.save_pretrained(out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
