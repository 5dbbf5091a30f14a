"""A user's own sequence oracle (e.g. an Optimus-style mean-ribosome-load CNN) loaded from a checkpoint folder.

The folder holds config.json + model.safetensors (the module's state_dict):
    {"network": {"_target_": "my_package.models.MRLNet", ...constructor kwargs},
     "alphabet": "ACGU", "length": 50}
The network takes one-hot sequences (B, len(alphabet), L) float32 in `alphabet` order and returns (B,)
or (B, 1); reward = scale * output (scale = -1 to minimise what it predicts). T and U are read as
whichever of the two the alphabet has, so a DNA-trained oracle (Optimus uses ACGT) scores RNA samples.
`_target_` imports and runs code named by the folder: load only folders you trust.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from torch import Tensor, nn

from svdd_cli.checkpoint import load_folder, load_module, resolve_device
from svdd_cli.errors import UserError
from svdd_cli.science.sequence import one_hot


def load_oracle(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """(network in eval mode, config) from a folder whose config.json names the network by `_target_`."""
    config, state = load_folder(path)
    network = config.get("network")
    if not isinstance(network, dict) or "_target_" not in network or "length" not in config:
        raise UserError(f"checkpoint {path}: config.json needs \"network\": {{\"_target_\": ...}} and \"length\"")
    try:
        module = instantiate(network)
    except InstantiationException as err:
        raise UserError(f"checkpoint {path}: cannot build {network['_target_']}: {err.__cause__ or err}") from None
    return load_module(module, state, path), config


class UserOracle:
    """scale * network(one-hot sequence) for a torch module checkpoint folder named by `_target_`."""

    domains = ("rna", "dna")

    def __init__(self, checkpoint: str | Path, scale: float = 1.0, penalty: float = -100.0,
                 device: str = "auto") -> None:
        net, config = load_oracle(checkpoint)
        self.device = resolve_device(device)
        self.net = net.to(self.device)
        self.alphabet, self.length = config.get("alphabet", "ACGU"), int(config["length"])
        self.letters = str.maketrans("U", "T") if "T" in self.alphabet else str.maketrans("T", "U")
        self.scale, self.penalty = scale, penalty
        with torch.inference_mode():
            probe = self.net(torch.zeros(2, len(self.alphabet), self.length, device=self.device))
        if probe.numel() != 2:
            raise UserError(f"checkpoint {checkpoint}: the network returns shape {tuple(probe.shape)} for a batch "
                            f"of 2; it must return one number per sequence, (B,) or (B, 1)")

    def score_probs(self, probs: Tensor) -> Tensor:
        """Differentiable reward of relaxed one-hot sequences (B, L, A) in alphabet order -> (B,)."""
        return self.scale * self.net(probs.transpose(1, 2).to(self.device)).reshape(len(probs))

    @torch.inference_mode()
    def __call__(self, samples: list[str]) -> Tensor:
        """(B,) reward, the penalty for a sequence of the wrong length or with other letters."""
        x, valid = one_hot([s.translate(self.letters) for s in samples], self.alphabet)
        valid &= x.shape[-1] == self.length
        out = torch.full((len(samples),), self.penalty)
        if valid.any():
            out[valid] = self.scale * self.net(x[valid].to(self.device)).reshape(-1).float().cpu()
        return out
