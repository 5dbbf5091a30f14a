"""The dilated-CNN denoiser of DRAKES' DNA models (backbone `cnn`, drakes_dna/models/dnaconv.py, after
Dirichlet flow matching), in plain torch with the same parameter names, so their MDLM checkpoints load:
    linear (H, V, 9)                 one-hot tokens -> H channels
    time_embedder.0.W (H/2,)         fixed Gaussian Fourier frequencies (not trained, not in the EMA)
    time_embedder.1 (H, H)           time features -> H
    convs.i, time_layers.i.dense, norms.i  for i < 5 S: kernel 9, dilations 1 (2 S layers), 4, 16, 64 (S each)
    final_conv.0 (H, H, 1), final_conv.2 (V, H, 1)
Forward: tokens (B, L) in 0..V-1 (mask included) and sigma (B,) -> logits (B, L, V); one call = 1 NFE.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class GaussianFourierProjection(nn.Module):
    """sigma (B,) -> (B, D): sin and cos of 2 pi sigma W for fixed random frequencies W (D/2,)."""

    def __init__(self, embed_dim: int, scale: float = 30.0) -> None:
        super().__init__()
        self.W = nn.Parameter(torch.randn(embed_dim // 2) * scale, requires_grad=False)

    def forward(self, x: Tensor) -> Tensor:
        proj = x[:, None] * self.W[None, :] * 2 * math.pi
        return torch.cat([torch.sin(proj), torch.cos(proj)], dim=-1)


class Dense(nn.Module):
    """A Linear layer stored under the name `dense`."""

    def __init__(self, input_dim: int, output_dim: int) -> None:
        super().__init__()
        self.dense = nn.Linear(input_dim, output_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.dense(x)


class DNAConv(nn.Module):
    """Residual dilated CNN with additive time embeddings: (B, L) tokens + (B,) sigma -> (B, L, vocab_size)."""

    def __init__(self, vocab_size: int, hidden_dim: int = 128, num_cnn_stacks: int = 4, dropout: float = 0.0,
                 time_conditioning: bool = False) -> None:
        super().__init__()
        self.vocab_size, self.time_conditioning = vocab_size, time_conditioning
        self.linear = nn.Conv1d(vocab_size, hidden_dim, kernel_size=9, padding=4)
        self.time_embedder = nn.Sequential(GaussianFourierProjection(hidden_dim), nn.Linear(hidden_dim, hidden_dim))
        dilations = [d for d in (1, 1, 4, 16, 64) for _ in range(num_cnn_stacks)]
        self.convs = nn.ModuleList(nn.Conv1d(hidden_dim, hidden_dim, kernel_size=9, dilation=d, padding=4 * d)
                                   for d in dilations)
        self.time_layers = nn.ModuleList(Dense(hidden_dim, hidden_dim) for _ in dilations)
        self.norms = nn.ModuleList(nn.LayerNorm(hidden_dim) for _ in dilations)
        self.final_conv = nn.Sequential(nn.Conv1d(hidden_dim, hidden_dim, kernel_size=1), nn.ReLU(),
                                        nn.Conv1d(hidden_dim, vocab_size, kernel_size=1))
        self.dropout = nn.Dropout(dropout)

    def forward(self, tokens: Tensor, sigma: Tensor) -> Tensor:
        if not self.time_conditioning:
            sigma = torch.zeros_like(sigma)
        time = F.relu(self.time_embedder(sigma.float()))
        feat = F.relu(self.linear(F.one_hot(tokens, self.vocab_size).float().transpose(1, 2)))  # (B, H, L)
        for conv, time_layer, norm in zip(self.convs, self.time_layers, self.norms):
            h = self.dropout(feat) + time_layer(time)[:, :, None]
            h = norm(h.transpose(1, 2)).transpose(1, 2)
            feat = feat + F.relu(conv(h))
        return self.final_conv(feat).transpose(1, 2)
