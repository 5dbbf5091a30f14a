"""JPEG compressibility (Black et al. 2023, DDPO; the SVDD paper's image task): minus the JPEG size in kB
(incompressibility.py: the size itself)."""

from __future__ import annotations

import io

import torch
from torch import Tensor

from svdd_cli.science.images import to_pil


def jpeg_kb(images: list[Tensor], quality: int) -> Tensor:
    """Size in kB (1000 bytes) of each image (C, H, W) in [0, 1] saved by Pillow as JPEG: (B,)."""
    sizes = []
    for image in images:
        buffer = io.BytesIO()
        to_pil(image).save(buffer, format="JPEG", quality=quality)
        sizes.append(buffer.tell() / 1000)
    return torch.tensor(sizes)


class Compressibility:
    """-(JPEG size in kB) at `quality`: higher for images that compress well."""

    domains = ("image",)
    sign = -1.0

    def __init__(self, quality: int = 95) -> None:
        if not 1 <= quality <= 100:
            raise ValueError(f"reward.quality={quality} must be in 1..100")
        self.quality = quality

    def __call__(self, samples: list[Tensor]) -> Tensor:
        return self.sign * jpeg_kb(samples, self.quality)
