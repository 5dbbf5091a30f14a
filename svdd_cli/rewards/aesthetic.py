"""LAION aesthetic score: the improved-aesthetic-predictor MLP on L2-normalised CLIP image embeddings
(ViT-L/14 in the SVDD and DDPO papers). No wheel ships the weights: both load from local paths.

Preprocessing is done in torch (resize to CLIP's input size, CLIP normalisation), so the score is
differentiable in the images.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import Tensor, nn

from svdd_cli.checkpoint import load_module, resolve_device
from svdd_cli.errors import UserError
from svdd_cli.models.gaussian import load_pretrained

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class AestheticMLP(nn.Module):
    """CLIP embedding (B, D) -> score (B,); the layout of LAION's sac+logos+ava1-l14-linearMSE.pth."""

    def __init__(self, dim: int = 768) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(dim, 1024), nn.Dropout(0.2), nn.Linear(1024, 128), nn.Dropout(0.2),
            nn.Linear(128, 64), nn.Dropout(0.1), nn.Linear(64, 16), nn.Linear(16, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x).squeeze(-1)


def load_mlp(path: Path) -> AestheticMLP:
    """The MLP from a .pth state dict or a .safetensors file; its input width is read from the weights."""
    if not path.is_file():
        raise UserError(f"reward.mlp: {path} not found (the LAION aesthetic MLP weights, .pth or .safetensors)")
    try:
        state = load_file(str(path)) if path.suffix == ".safetensors" else torch.load(path, map_location="cpu",
                                                                                        weights_only=True)
        dim = state["layers.0.weight"].shape[1]
    except (OSError, RuntimeError, KeyError, AttributeError) as err:
        raise UserError(f"reward.mlp: {path} is not an aesthetic MLP state dict: {err}") from None
    return load_module(AestheticMLP(dim), state, path)


class Aesthetic:
    """Aesthetic score of images (C, H, W) in [0, 1]; `clip` and `mlp` are relative to `path` (or absolute)."""

    domains = ("image",)

    def __init__(self, path: str, clip: str = "clip", mlp: str = "aesthetic_mlp.pth", device: str = "auto") -> None:
        import transformers
        from transformers import CLIPVisionModelWithProjection

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
        self.device = resolve_device(device)
        folder = Path(path).expanduser()
        self.clip = load_pretrained(CLIPVisionModelWithProjection.from_pretrained, str(folder / clip), "reward.clip")
        self.clip = self.clip.eval().requires_grad_(False).to(self.device)
        self.mlp = load_mlp(folder / mlp).requires_grad_(False).to(self.device)
        self.size = self.clip.config.image_size
        self.mean = torch.tensor(CLIP_MEAN, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(CLIP_STD, device=self.device).view(1, 3, 1, 1)

    def score_images(self, images: Tensor) -> Tensor:
        """Differentiable reward of images (B, C, H, W) in [0, 1] -> (B,) on the reward's device."""
        x = images.float().to(self.device)
        x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
        x = nn.functional.interpolate(x, size=(self.size, self.size), mode="bicubic", antialias=True,
                                      align_corners=False).clamp(0, 1)
        embeds = self.clip(pixel_values=(x - self.mean) / self.std).image_embeds
        return self.mlp(nn.functional.normalize(embeds, dim=-1)).float()

    def __call__(self, samples: list[Tensor]) -> Tensor:
        return self.score_images(torch.stack(list(samples))).cpu()
