"""Fashion-MNIST class reward: log p(target_class | image) under the shipped CNN (checkpoints/fashion_classifier).

Differentiable in the images (the network is frozen, not run in inference mode), so gradient guidance works.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from svdd_cli.checkpoint import load_folder, load_module, resolve_device
from svdd_cli.errors import UserError
from svdd_cli.science.fashion import FashionCNN, classifier_input


def load_classifier(path: str | Path, device: torch.device) -> tuple[FashionCNN, list[str]]:
    """The FashionCNN of a checkpoint folder (frozen, eval mode) and its class names (also the image domain's
    naturalness judge)."""
    config, state = load_folder(path)
    net = load_module(FashionCNN(**config["network"]), state, path)
    return net.requires_grad_(False).to(device), list(config["classes"])


def class_index(target: str | int, classes: list[str]) -> int:
    """A class given by name (case and -/_/space insensitive) or index -> its index; unknown is a UserError."""
    key = str(target).strip().lower().replace("_", "-").replace(" ", "-")
    if key.isdigit() and int(key) < len(classes):
        return int(key)
    if key in classes:
        return classes.index(key)
    raise UserError(f"reward.target_class={target} is not a class; use a name ({', '.join(classes)}) "
                    f"or an index 0-{len(classes) - 1}")


class Classifier:
    """log-probability of `target_class` (name or index) for images (C, H, W) in [0, 1] (grey, resized to 28)."""

    domains = ("image",)

    def __init__(self, checkpoint: str | Path, target_class: str | int = "sneaker", device: str = "auto") -> None:
        self.device = resolve_device(device)
        self.net, self.classes = load_classifier(checkpoint, self.device)
        self.target = class_index(target_class, self.classes)

    def score_images(self, images: Tensor) -> Tensor:
        """Differentiable reward of images (B, C, H, W) in [0, 1] -> (B,) on the reward's device."""
        return self.net(classifier_input(images).to(self.device)).log_softmax(-1)[:, self.target].float()

    def __call__(self, samples: list[Tensor]) -> Tensor:
        return self.score_images(torch.stack(samples)).cpu()
