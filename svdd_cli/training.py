"""What the resumable training scripts share (scripts/train_mdlm.py, scripts/train_image_ddpm.py).

A sitting saves one state (weights, EMA, optimizer, step, RNG) into a folder; the next sitting runs the same
command and continues from it. The state is safetensors shards of at most SHARD_BYTES each plus state.json, which
is written last and names its shards: a kill mid-write keeps the previous state, and every file fits what a lent
GPU machine sends back (16 MiB a file), so a GPU sitting can continue a CPU one and hand its state back.
Optimizer moments are stored in bf16 so a small model's state can be committed.
"""

from __future__ import annotations

import json
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

SHARD_BYTES = 15 * 2 ** 20
INDEX = "state.json"
LEGACY = "state.pt"  # one torch.save file (before shards); read, never written
CPUINFO = Path("/proc/cpuinfo")


def use_bf16(device: torch.device, requested: bool | None = None, cpuinfo: Path = CPUINFO) -> bool:
    """Whether to autocast to bf16 on `device`: as `requested` (a --bf16/--no-bf16 flag), else where it is fast —
    on CUDA, and on CPUs with AMX (`amx_bf16` among cpuinfo's flags); elsewhere (AVX2, most AVX-512) bf16 is
    emulated and a training step runs ~100x slower."""
    if requested is not None:
        return requested
    if device.type == "cuda":
        return True
    try:
        return device.type == "cpu" and "amx_bf16" in cpuinfo.read_text().split()
    except OSError:
        return False


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


def _split(state: Any, path: str, tensors: dict[str, Tensor]) -> Any:
    """`state` with every tensor moved into `tensors` under its key path (a/b/c) and replaced by that path."""
    if torch.is_tensor(state):
        tensors[path] = state.detach().cpu().clone().contiguous()
        return {"__tensor__": path}
    if isinstance(state, dict):
        return {"__keys__": [[type(k).__name__, str(k)] for k in state],
                "__values__": [_split(v, f"{path}/{k}", tensors) for k, v in state.items()]}
    if isinstance(state, (list, tuple)):
        return [_split(v, f"{path}/{i}", tensors) for i, v in enumerate(state)]
    return state


def _join(meta: Any, tensors: dict[str, Tensor]) -> Any:
    if isinstance(meta, dict) and "__tensor__" in meta:
        return tensors[meta["__tensor__"]]
    if isinstance(meta, dict):
        keys = [int(k) if kind == "int" else k for kind, k in meta["__keys__"]]
        return {k: _join(v, tensors) for k, v in zip(keys, meta["__values__"])}
    if isinstance(meta, list):
        return [_join(v, tensors) for v in meta]
    return meta


def save_state(state: dict[str, Any], folder: Path) -> None:
    """Write `state` (nested dicts / lists of tensors, numbers, strings) into `folder` as shards + state.json."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, Tensor] = {}
    meta = _split(state, "", tensors)
    shards: list[dict[str, Tensor]] = [{}]
    size = 0
    for key, tensor in tensors.items():
        nbytes = tensor.numel() * tensor.element_size()
        if shards[-1] and size + nbytes > SHARD_BYTES:
            shards.append({})
            size = 0
        shards[-1][key] = tensor
        size += nbytes
    tag = uuid.uuid4().hex[:8]
    names = [f"state-{tag}-{i:02d}.safetensors" for i in range(len(shards))]
    for name, shard in zip(names, shards):
        save_file(shard, folder / name)
    tmp = folder / f"{INDEX}.tmp"
    tmp.write_text(json.dumps({"shards": names, "state": meta}))
    tmp.replace(folder / INDEX)
    for old in [*folder.glob("state-*.safetensors"), folder / LEGACY]:
        if old.name not in names and old.exists():
            old.unlink()


def load_state(folder: Path) -> dict[str, Any] | None:
    """The state an earlier sitting saved in `folder` (shards, or a legacy state.pt), or None when there is none."""
    if (folder / INDEX).exists():
        index = json.loads((folder / INDEX).read_text())
        tensors = {k: v for name in index["shards"] for k, v in load_file(folder / name).items()}
        return _join(index["state"], tensors)
    if (folder / LEGACY).exists():
        return torch.load(folder / LEGACY, map_location="cpu", weights_only=False)
    return None


@torch.no_grad()
def ema_update(ema: nn.Module, net: nn.Module, decay: float, step: int) -> None:
    """ema <- d ema + (1 - d) net with d = min(decay, (1 + step) / (10 + step)) (a short warm-up)."""
    d = min(decay, (1 + step) / (10 + step))
    for e, w in zip(ema.parameters(), net.parameters()):
        e.lerp_(w, 1 - d)


class Sitting:
    """One training sitting's end: `minutes` of wall time, the step `max_steps` (None: no limit), or SIGTERM /
    SIGINT (kill, Ctrl-C), which the loop sees at its next check, so it ends the step, saves and exits 0 and stopping
    early loses nothing. A second signal stops at once."""

    def __init__(self, minutes: float, max_steps: int | None) -> None:
        self.deadline, self.max_steps, self.requested = time.time() + minutes * 60, max_steps, False
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._request)

    def goes_on(self, step: int) -> bool:
        """Whether to train step `step` + 1."""
        return not self.requested and time.time() < self.deadline and (self.max_steps is None or step < self.max_steps)

    def _request(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print(f"{signal.Signals(signum).name}: saving after this step", flush=True)
