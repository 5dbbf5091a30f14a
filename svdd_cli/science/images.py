"""Images as (C, H, W) tensors in [0, 1] and 8-bit PIL images."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch import Tensor


def to_pil(image: Tensor) -> Image.Image:
    """(C, H, W) in [0, 1], C = 1 or 3 -> an 8-bit grey or RGB PIL image."""
    array = (image.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    return Image.fromarray(array[0]) if array.shape[0] == 1 else Image.fromarray(np.moveaxis(array, 0, -1))


def from_pil(image: Image.Image) -> Tensor:
    """A PIL image -> (C, H, W) float in [0, 1] (grey stays 1 channel)."""
    array = np.asarray(image, dtype=np.float32) / 255
    return torch.from_numpy(array[None] if array.ndim == 2 else np.moveaxis(array, -1, 0).copy())
