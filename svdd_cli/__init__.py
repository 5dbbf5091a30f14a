"""svdd: inference-time reward steering of pre-trained diffusion models (SVDD and relatives)."""

__version__ = "0.1.0"
