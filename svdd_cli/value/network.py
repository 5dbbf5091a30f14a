"""A time-conditioned value network v(x_t, t) for masked diffusion models, and its checkpoint loader.

v(x_t, t) estimates the soft value alpha * log E_p[exp(r(x_0) / alpha) | x_t] (plain E[r(x_0) | x_t]
when trained on raw rewards) of a partially masked sequence x_t at time t (docs/algorithms.md, item 4).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from svdd_cli.checkpoint import load_folder, load_module, resolve_device
from svdd_cli.core import MaskedKernel
from svdd_cli.errors import UserError

TIME_FREQUENCIES = 8  # sinusoidal time features: sin/cos(2^k pi t), k < 8


class ValueNetwork(nn.Module):
    """Residual dilated 1-D CNN: one-hot x_t (B, L, V+1) and t (B,) -> value (B,) in reward units.

    Stem conv over the one-hot (mask = last category), average-pooled by `pool`; pre-norm residual blocks
    h += conv(gelu(norm(h) + time_i)) with dilations 1, 2, 4, 8, 1, ...; mean+max pooling, MLP head.
    Outputs are shift + scale * head, shift/scale being the training targets' mean and std."""

    def __init__(self, vocab: Sequence[str], length: int, channels: int = 64, layers: int = 4,
                 kernel_size: int = 5, pool: int = 1) -> None:
        super().__init__()
        self.vocab, self.length, self.layers = list(vocab), length, layers
        self.hparams = {"channels": channels, "layers": layers, "kernel_size": kernel_size, "pool": pool}
        self.trained_for: dict[str, Any] = {}  # config.json of the checkpoint it was loaded from
        self.stem = nn.Conv1d(len(self.vocab) + 1, channels, 9, padding=4)
        self.pool = nn.AvgPool1d(pool) if pool > 1 else nn.Identity()
        self.time = nn.Sequential(nn.Linear(2 * TIME_FREQUENCIES, channels), nn.GELU(),
                                  nn.Linear(channels, layers * channels))
        dilations = [2 ** (i % 4) for i in range(layers)]
        self.convs = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, padding=d * (kernel_size // 2), dilation=d)
            for d in dilations)
        self.norms = nn.ModuleList(nn.GroupNorm(1, channels) for _ in dilations)
        self.head = nn.Sequential(nn.Linear(2 * channels, channels), nn.GELU(), nn.Linear(channels, 1))
        self.register_buffer("shift", torch.zeros(()))
        self.register_buffer("scale", torch.ones(()))

    def forward(self, x_onehot: Tensor, t: Tensor) -> Tensor:
        """x_onehot (B, L, V+1) float, t (B,) float -> (B,); differentiable in x_onehot."""
        h = self.pool(self.stem(x_onehot.transpose(1, 2)))  # (B, C, L / pool)
        angles = math.pi * t.unsqueeze(-1) * 2.0 ** torch.arange(TIME_FREQUENCIES, device=t.device)
        time = self.time(torch.cat([angles.sin(), angles.cos()], -1)).view(t.shape[0], self.layers, -1, 1)
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            h = h + conv(nn.functional.gelu(norm(h) + time[:, i]))
        z = self.head(torch.cat([h.mean(-1), h.amax(-1)], dim=1)).squeeze(-1)
        return self.shift + self.scale * z

    def one_hot(self, x_t: Tensor) -> Tensor:
        """Tokens (B, L) in 0..V (V = mask) -> (B, L, V+1) float on the network's device."""
        return nn.functional.one_hot(x_t.to(self.shift.device), len(self.vocab) + 1).float()

    @torch.no_grad()
    def value(self, x_t: Tensor, t: float) -> Tensor:
        """v(x_t, t) for tokens x_t (B, L) at one time t: (B,) on the network's device."""
        times = torch.full((x_t.shape[0],), float(t), device=self.shift.device)
        return self(self.one_hot(x_t), times)

    def unmasking_gradient(self, x_t: Tensor, t: float) -> tuple[Tensor, Tensor]:
        """v(x_t, t) (B,) on the CPU and its first-order change delta (B, L, V) on x_t's device when each masked
        position unmasks to each token: dv/d onehot at the token minus at the mask (0 at unmasked positions)."""
        onehot = self.one_hot(x_t).requires_grad_()  # (B, L, V+1) on the network's device
        with torch.enable_grad():
            v = self(onehot, torch.full((len(x_t),), float(t), device=onehot.device))
            (g,) = torch.autograd.grad(v.sum(), onehot)
        g = g.to(x_t.device)
        masked = x_t == len(self.vocab)
        return v.detach().float().cpu(), (g[..., :-1] - g[..., -1:]) * masked.unsqueeze(-1)

    def check_guided_model(self, model: Any) -> None:
        """check_model for classifier guidance, which steers a masked model's transitions by this network's token
        gradient: a UserError for any other model first."""
        if not isinstance(model, MaskedKernel):
            raise UserError("classifier_guidance needs a masked model (its value networks read one-hot tokens); "
                            "for Gaussian models use sampler=dps")
        self.check_model(model)

    def check_model(self, model: Any) -> None:
        """Raise UserError unless the model generates this network's vocabulary and length."""
        vocab, length = (model.vocab, model.length) if isinstance(model, MaskedKernel) else (None, None)
        if vocab != self.vocab or length != self.length:
            where = self.trained_for.get("path", "the value network")
            raise UserError(f"{where} was trained for tokens {self.vocab} x {self.length}, but the model generates "
                            f"{vocab} x {length}; train one for this model with `svdd train-value`")


def load_value_network(path: str | Path, device: torch.device | str) -> ValueNetwork:
    """Read a folder written by `svdd train-value` (config.json + model.safetensors) onto `device`
    ('auto' allowed); a missing or corrupt folder is a one-line UserError."""
    config, state = load_folder(path)
    try:
        net = ValueNetwork(config["vocab"], config["length"], **config["network"])
    except (KeyError, TypeError) as err:
        raise UserError(f"checkpoint {path} is missing or corrupt: config.json is not a value network's "
                        f"({type(err).__name__}: {err})") from None
    load_module(net, state, path)
    net.trained_for = {**config, "path": str(path)}
    return net.to(resolve_device(device) if isinstance(device, str) else device)
