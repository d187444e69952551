"""Stand-in for diffusers' DiffusionPipeline: from_pretrained(path, torch_dtype).to(device), then
pipe(prompt=…, num_images_per_prompt, width, height, num_inference_steps?) → .images (PIL)."""

from types import SimpleNamespace

from _log import record
from PIL import Image


class DiffusionPipeline:
    @classmethod
    def from_pretrained(cls, path, torch_dtype=None, **kwargs):
        record("diffusers.from_pretrained", path=path, torch_dtype=str(torch_dtype))
        return cls()

    def to(self, device):
        record("diffusers.to", device=str(device))
        return self

    def __call__(self, prompt=None, num_images_per_prompt=1, width=512, height=512, **kwargs):
        record("diffusers.call", prompt=prompt, n=num_images_per_prompt, width=width, height=height, **kwargs)
        return SimpleNamespace(
            images=[Image.new("RGB", (width, height), "teal") for _ in range(num_images_per_prompt)]
        )
