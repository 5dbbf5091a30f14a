"""Fashion-MNIST: the data files, the small CNN classifier shipped as a reward / naturalness judge, and the
Frechet distance in its features (FID's formula, with this classifier in place of Inception)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

CLASSES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot")
DATA = Path("/usr/share/datasets/fashion-mnist")  # Debian package dataset-fashion-mnist
SIZE = 28


def load_fashion_mnist(split: str, folder: str | Path = DATA) -> tuple[np.ndarray, np.ndarray]:
    """The 'train' (60,000) or 't10k' (10,000) images (N, 28, 28) uint8 and labels (N,) int64."""
    folder = Path(folder)
    with gzip.open(folder / f"{split}-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, SIZE, SIZE)
    with gzip.open(folder / f"{split}-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    return images, labels


class FashionCNN(nn.Module):
    """Images (B, 1, 28, 28) in [0, 1] -> class logits (B, 10); `features` gives the (B, width) layer
    before the head, used for the Frechet distance."""

    def __init__(self, channels: int = 16, width: int = 128, dropout: float = 0.3) -> None:
        super().__init__()
        c = channels
        self.body = nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2),  # 14x14
            nn.Conv2d(c, 2 * c, 3, padding=1), nn.BatchNorm2d(2 * c), nn.ReLU(), nn.MaxPool2d(2),  # 7x7
            nn.Flatten(), nn.Linear(2 * c * 7 * 7, width), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, len(CLASSES)))

    def features(self, x: Tensor) -> Tensor:
        return self.body((x - 0.5) / 0.5)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def feature_stats(features: Tensor) -> tuple[Tensor, Tensor]:
    """Mean (D,) and covariance (D, D) of features (N, D), in float64."""
    f = features.double()
    return f.mean(0), torch.cov(f.T)


def frechet_distance(mu1: Tensor, cov1: Tensor, mu2: Tensor, cov2: Tensor) -> float:
    """||mu1 - mu2||^2 + tr(C1 + C2 - 2 (C1^1/2 C2 C1^1/2)^1/2), by symmetric eigendecompositions."""
    vals, vecs = torch.linalg.eigh(cov1.double())
    root1 = vecs @ torch.diag(vals.clamp_min(0).sqrt()) @ vecs.T
    cross = torch.linalg.eigvalsh(root1 @ cov2.double() @ root1).clamp_min(0).sqrt().sum()
    return float((mu1 - mu2).double().square().sum() + cov1.trace() + cov2.trace() - 2 * cross)


def classifier_input(images: list[Tensor] | Tensor) -> Tensor:
    """Images (C, H, W) in [0, 1] -> (B, 1, 28, 28): grey (channel mean) and resized when needed."""
    x = torch.stack(list(images)).float()
    if x.shape[1] != 1:
        x = x.mean(1, keepdim=True)
    if x.shape[-2:] != (SIZE, SIZE):
        x = nn.functional.interpolate(x, size=(SIZE, SIZE), mode="bilinear", antialias=True, align_corners=False)
    return x
