"""Write a fine-tuned GGUF: the base GGUF with the LoRA-touched weights replaced (stand-alone script).

A PEFT LoRA run changes only the target projections (q_proj and v_proj by default). Every other
tensor of the base GGUF is copied byte for byte, quantized as it was (the model trained on exactly
those dequantized values), and the changed projections are written as F16: re-quantizing them to
4 bits would drown the small LoRA delta in quantization noise.

llama.cpp stores Llama's q/k projections with the rows of each head interleaved differently from
Hugging Face. Which layout the file uses is not guessed: the base HF weight is compared with the
dequantized GGUF tensor, as is and permuted, and the one that matches is used (or the run fails).

Runs inside the finetuner's environment (numpy, torch, safetensors, gguf); imports no lazycli.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# Hugging Face Llama module → llama.cpp tensor name inside block N.
HF_TO_GGUF = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_HF_NAME = re.compile(r"^model\.layers\.(\d+)\.(.+)\.weight$")
MATCH_TOLERANCE = 1e-3


def gguf_name(hf_name: str) -> str | None:
    match = _HF_NAME.match(hf_name)
    if not match or match.group(2) not in HF_TO_GGUF:
        return None
    return f"blk.{match.group(1)}.{HF_TO_GGUF[match.group(2)]}.weight"


def head_interleave(weight, n_heads: int):
    """Rows of each head reordered from HF's [half0 | half1] to llama.cpp's pairwise layout."""
    rows = weight.shape[0]
    return (
        weight.reshape(n_heads, 2, rows // n_heads // 2, *weight.shape[1:])
        .swapaxes(1, 2)
        .reshape(weight.shape)
    )


def _field_value(field):
    return field.contents()


def _heads(reader, arch: str) -> tuple[int, int]:
    fields = reader.fields
    n_head = int(_field_value(fields[f"{arch}.attention.head_count"]))
    kv_field = fields.get(f"{arch}.attention.head_count_kv")
    return n_head, int(_field_value(kv_field)) if kv_field is not None else n_head


def _layout(base_hf, base_gguf, n_heads: int):
    """The transform that turns HF rows into this file's rows (checked on real values)."""
    import numpy as np

    candidates = {"as-is": lambda w: w, "interleaved": lambda w: head_interleave(w, n_heads)}
    errors = {}
    for name, transform in candidates.items():
        errors[name] = float(np.max(np.abs(transform(base_hf) - base_gguf)))
        if errors[name] < MATCH_TOLERANCE:
            return transform
    raise SystemExit(f"gguf_patch: base weights do not match the GGUF in any known layout: {errors}")


def patch(base_gguf: Path, base_hf: Path, merged_hf: Path, out: Path, changed: list[str]) -> list[str]:
    """Write `out`: `base_gguf` with the HF tensors named in `changed` taken from `merged_hf`."""
    import numpy as np
    from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType, GGUFWriter
    from gguf.quants import dequantize
    from safetensors.numpy import load_file

    reader = GGUFReader(str(base_gguf))
    arch = str(_field_value(reader.fields["general.architecture"]))
    n_head, n_head_kv = _heads(reader, arch)
    merged = _load_all(merged_hf, load_file)
    base = _load_all(base_hf, load_file)
    tensors = {t.name: t for t in reader.tensors}
    replace = {}
    for hf_name in changed:
        target = gguf_name(hf_name)
        if target is None or target not in tensors:
            raise SystemExit(f"gguf_patch: no GGUF tensor for {hf_name}")
        heads = n_head if ".q_proj" in hf_name else n_head_kv
        tensor = tensors[target]
        base_values = dequantize(tensor.data, tensor.tensor_type).reshape(base[hf_name].shape)
        transform = _layout(base[hf_name].astype(np.float32), base_values, heads)
        replace[target] = transform(merged[hf_name].astype(np.float32)).astype(np.float16)

    tmp = out.with_name(out.name + ".tmp")
    writer = GGUFWriter(str(tmp), arch)
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture":
            continue
        main = field.types[0]
        sub = field.types[-1] if main == GGUFValueType.ARRAY else None
        writer.add_key_value(name, _field_value(field), main, sub)
    for tensor in reader.tensors:
        if tensor.name in replace:
            writer.add_tensor(tensor.name, replace[tensor.name], raw_dtype=GGMLQuantizationType.F16)
        else:
            writer.add_tensor(tensor.name, tensor.data, raw_dtype=tensor.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(out)
    return sorted(replace)


def _load_all(directory: Path, load_file) -> dict:
    out = {}
    for file in sorted(Path(directory).glob("*.safetensors")):
        out.update(load_file(str(file)))
    return out


if __name__ == "__main__":
    base_gguf, base_hf, merged_hf, out, *names = sys.argv[1:]
    print(patch(Path(base_gguf), Path(base_hf), Path(merged_hf), Path(out), names))
