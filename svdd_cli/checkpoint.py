"""Checkpoint folders: config.json + model.safetensors (+ MODEL_CARD.md), with one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from svdd_cli.errors import UserError


def load_folder(path: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read (config, state_dict) from a checkpoint folder; a missing or corrupt one is a UserError."""
    folder = Path(path)
    if not folder.is_dir():
        raise UserError(f"checkpoint folder not found: {folder} (set the path to a folder with "
                        "config.json + model.safetensors)")
    try:
        config = json.loads((folder / "config.json").read_text())
        state = load_file(str(folder / "model.safetensors"))
    except (OSError, ValueError, RuntimeError, SafetensorError) as err:  # truncated / garbage files
        raise UserError(f"checkpoint {folder} is missing or corrupt: {err}") from None
    return config, state


def save_folder(path: str | Path, config: dict[str, Any], module: torch.nn.Module) -> None:
    """Write config.json + model.safetensors into `path` (created)."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    save_file(state, str(folder / "model.safetensors"))


def load_module(module: torch.nn.Module, state: dict[str, torch.Tensor], folder: str | Path) -> torch.nn.Module:
    """Load weights into `module`, turning a shape/key mismatch into a UserError naming the folder."""
    try:
        module.load_state_dict(state)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise UserError(f"checkpoint {folder} does not match its config.json: {first}") from None
    return module.eval()


def resolve_device(device: str) -> torch.device:
    """'auto' -> cuda when present, else cpu; 'cuda' without a GPU is a UserError."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device={device} but no CUDA GPU is visible (use device=auto or device=cpu)")
    if device != "cpu" and not device.startswith("cuda"):
        raise UserError(f"device={device} is not one of auto, cpu, cuda")
    return torch.device(device)
