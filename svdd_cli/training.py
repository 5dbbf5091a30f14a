"""What the resumable training scripts share (scripts/train_mdlm.py, scripts/train_image_ddpm.py).

A sitting saves one state file (weights, EMA, optimizer, step, RNG) atomically; the next sitting runs the same
command and continues from it. Optimizer moments are stored in bf16 so a small model's state can be committed.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


def compact_optimizer(state: dict) -> dict:
    """An optimizer state_dict with its floating moment tensors in bf16 (the file stays small)."""
    moments = {k: {n: v.to(torch.bfloat16) if torch.is_tensor(v) and v.is_floating_point() and v.dim() else v
                   for n, v in s.items()} for k, s in state["state"].items()}
    return {**state, "state": moments}


def expand_optimizer(state: dict) -> dict:
    """The inverse of compact_optimizer: moment tensors back in float32."""
    moments = {k: {n: v.float() if torch.is_tensor(v) and v.dim() else v for n, v in s.items()}
               for k, s in state["state"].items()}
    return {**state, "state": moments}


def load_state(path: Path) -> dict | None:
    """The saved state of an earlier sitting, or None when there is none."""
    return torch.load(path, map_location="cpu", weights_only=False) if path.exists() else None


def save_state(state: dict, path: Path) -> None:
    """Write `state` to `path` through a temporary file, so a kill mid-write keeps the previous state."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


@torch.no_grad()
def ema_update(ema: nn.Module, net: nn.Module, decay: float, step: int) -> None:
    """ema <- d ema + (1 - d) net with d = min(decay, (1 + step) / (10 + step)) (a short warm-up)."""
    d = min(decay, (1 + step) / (10 + step))
    for e, w in zip(ema.parameters(), net.parameters()):
        e.lerp_(w, 1 - d)
