"""Checkpoint folders: config.json + model.safetensors (+ MODEL_CARD.md), and save_pretrained folders or hub ids
(diffusers, transformers), with one-line errors."""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from svdd_cli.errors import UserError


def shipped(path: str | Path) -> Path:
    """`path` itself, or, when it is relative and missing here, the shipped folder of that name
    (`checkpoints/dna_enhancer_value` works from any folder, not only inside a checkout)."""
    from svdd_cli.assets import asset_root

    folder = Path(path).expanduser()
    if folder.exists() or folder.is_absolute() or not (asset_root() / folder).exists():
        return folder
    return asset_root() / folder


def load_folder(path: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read (config, state_dict) from a checkpoint folder (relative paths may name a shipped one); a missing or
    corrupt one is a UserError."""
    folder = shipped(path)
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


HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")


def load_pretrained(loader: Callable[..., Any], path: str, what: str, **kwargs: Any) -> Any:
    """`loader(path, **kwargs)` (a diffusers/transformers from_pretrained) for a local folder or a hub id; a hub id
    is read from the local cache first and downloaded only when the hub is reachable. A missing folder, an
    uncached hub id offline or a failed load is a one-line UserError naming `what` and the path."""
    local = shipped(path)
    if local.exists():
        return _load(loader, str(local), what, "", **kwargs)
    if not HUB_ID.fullmatch(path) or Path(path.split("/")[0]).exists():
        raise UserError(f"{what}: {path} not found (a folder written by save_pretrained, or a hub id)")
    try:
        return loader(path, local_files_only=True, **kwargs)
    except (OSError, ValueError, RuntimeError, KeyError):
        if not hub_reachable():
            raise UserError(f"{what}: {path} is not a folder nor a cached hub id, and the hub cannot be reached: "
                            f"download it where there is a network (`hf download {path}`) and pass its folder"
                            ) from None
    return _load(loader, path, what, " (a hub id needs a network)", **kwargs)


def _load(loader: Callable[..., Any], path: str, what: str, hint: str, **kwargs: Any) -> Any:
    try:
        return loader(path, **kwargs)
    except (OSError, ValueError, RuntimeError, KeyError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise UserError(f"{what}: cannot load {path}{hint}: {first}") from None


def hub_reachable() -> bool:
    """Whether the Hugging Face hub's host resolves (and HF_HUB_OFFLINE is not set): a quick offline check."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or ""
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        return False
    return True
