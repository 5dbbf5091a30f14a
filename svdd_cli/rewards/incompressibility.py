"""JPEG incompressibility (Black et al. 2023, DDPO): the JPEG size in kB, higher for detailed, textured images."""

from __future__ import annotations

from svdd_cli.rewards.compressibility import Compressibility


class Incompressibility(Compressibility):
    """JPEG size in kB at `quality`: compressibility with the opposite sign."""

    sign = 1.0
