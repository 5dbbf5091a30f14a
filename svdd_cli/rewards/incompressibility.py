"""JPEG incompressibility (Black et al. 2023, DDPO): the JPEG size in kB, higher for detailed images."""

from __future__ import annotations

from torch import Tensor

from svdd_cli.rewards.compressibility import jpeg_kb


class Incompressibility:
    """JPEG size in kB at `quality`."""

    domains = ("image",)

    def __init__(self, quality: int = 95) -> None:
        if not 1 <= quality <= 100:
            raise ValueError(f"reward.quality={quality} must be in 1..100")
        self.quality = quality

    def __call__(self, samples: list[Tensor]) -> Tensor:
        return jpeg_kb(samples, self.quality)
