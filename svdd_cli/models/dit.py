"""MDLM's DiT denoiser (Sahoo et al. 2024, models/dit.py of kuleshov-group/mdlm), written in plain torch.

Parameter names and shapes match MDLM's `DIT` so its checkpoints load as they are:
    vocab_embed.embedding                  (V, D)     token embedding (V includes the mask token)
    sigma_map.mlp.{0,2}.{weight,bias}      (C, 256), (C, C)  sinusoidal time embedding -> MLP
    rotary_emb.inv_freq                    (D/H/2,)   rotary position frequencies (a buffer)
    blocks.i.{norm1,norm2}.weight          (D,)       LayerNorm without bias
    blocks.i.attn_qkv.weight               (3D, D)    no bias; output laid out as (3, H, D/H)
    blocks.i.attn_out.weight               (D, D)
    blocks.i.mlp.{0,2}.{weight,bias}       (4D, D), (D, 4D)  GELU(tanh) MLP
    blocks.i.adaLN_modulation.{weight,bias} (6D, C)   shift/scale/gate for attention and MLP
    output_layer.norm_final.weight, output_layer.linear (V, D), output_layer.adaLN_modulation (2D, C)
    pos_embed                              (P, D)     only with positions = P > 0: learned absolute positions added
                                                      to the token embedding (not MDLM's; see DIT)
Forward: tokens (B, L) in 0..V-1 and the total noise sigma (B,) -> logits (B, L, V). With
`time_conditioning=False` sigma is replaced by zeros, as MDLM's `_process_sigma` does.
Attention is plain softmax(q k^T / sqrt(d)) v (MDLM calls flash-attn for the same function).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class LayerNorm(nn.Module):
    """LayerNorm with a weight and no bias, computed in fp32."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return F.layer_norm(x.float(), [self.dim]) * self.weight


class TimestepEmbedder(nn.Module):
    """sigma (B,) -> (B, C): cos/sin features at 256 log-spaced frequencies, then Linear-SiLU-Linear."""

    def __init__(self, hidden_size: int, frequency_embedding_size: int = 256) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(frequency_embedding_size, hidden_size), nn.SiLU(),
                                 nn.Linear(hidden_size, hidden_size))
        self.frequency_embedding_size = frequency_embedding_size

    def forward(self, t: Tensor, max_period: float = 10000.0) -> Tensor:
        half = self.frequency_embedding_size // 2
        freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
        args = t[:, None].float() * freqs[None]
        emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        if self.frequency_embedding_size % 2:
            emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
        return self.mlp(emb)


class Rotary(nn.Module):
    """Rotary position embedding for heads of size `dim` (rotate-half / GPT-NeoX layout)."""

    def __init__(self, dim: int, base: float = 10_000.0) -> None:
        super().__init__()
        self.register_buffer("inv_freq", 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim)))

    def forward(self, length: int, device: torch.device) -> tuple[Tensor, Tensor]:
        """cos, sin of shape (L, dim)."""
        freqs = torch.outer(torch.arange(length, device=device, dtype=torch.float32), self.inv_freq)
        emb = torch.cat([freqs, freqs], dim=-1)
        return emb.cos(), emb.sin()


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate x (B, H, L, d) by position: x cos + rotate_half(x) sin, in fp32."""
    x1, x2 = x.float().chunk(2, dim=-1)
    return (x.float() * cos + torch.cat([-x2, x1], dim=-1) * sin).to(x.dtype)


def attention(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """softmax(q k^T / sqrt(d)) v over (B, H, L, d), as plain matmuls (faster than torch's fused
    CPU kernel, whose backward is slow, at these short lengths)."""
    weights = (q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5
    return weights.softmax(-1).to(v.dtype) @ v


def modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    return x * (1 + scale) + shift


class DDiTBlock(nn.Module):
    """Pre-norm transformer block, adaLN-modulated by the time embedding c (B, C): (B, L, D) -> (B, L, D)."""

    def __init__(self, dim: int, n_heads: int, cond_dim: int, mlp_ratio: int = 4, dropout: float = 0.1) -> None:
        super().__init__()
        self.n_heads, self.dropout = n_heads, dropout
        self.norm1 = LayerNorm(dim)
        self.attn_qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.attn_out = nn.Linear(dim, dim, bias=False)
        self.norm2 = LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(approximate="tanh"),
                                 nn.Linear(mlp_ratio * dim, dim))
        self.adaLN_modulation = nn.Linear(cond_dim, 6 * dim)
        nn.init.zeros_(self.adaLN_modulation.weight)
        nn.init.zeros_(self.adaLN_modulation.bias)

    def forward(self, x: Tensor, rotary: tuple[Tensor, Tensor], c: Tensor) -> Tensor:
        b, n, d = x.shape
        shift1, scale1, gate1, shift2, scale2, gate2 = self.adaLN_modulation(c)[:, None].chunk(6, dim=2)
        qkv = self.attn_qkv(modulate(self.norm1(x), shift1, scale1))
        q, k, v = qkv.view(b, n, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)  # (B, H, L, d) each
        q, k = apply_rotary(q, *rotary), apply_rotary(k, *rotary)
        h = attention(q, k, v).transpose(1, 2).reshape(b, n, d)
        p = self.dropout if self.training else 0.0
        x = x + gate1 * F.dropout(self.attn_out(h), p, self.training)
        return x + gate2 * F.dropout(self.mlp(modulate(self.norm2(x), shift2, scale2)), p, self.training)


class EmbeddingLayer(nn.Module):
    """Token embedding as one (V, D) parameter named `embedding`."""

    def __init__(self, dim: int, vocab_dim: int) -> None:
        super().__init__()
        self.embedding = nn.Parameter(torch.empty(vocab_dim, dim))
        nn.init.kaiming_uniform_(self.embedding, a=math.sqrt(5))

    def forward(self, x: Tensor) -> Tensor:
        return self.embedding[x]


class DDitFinalLayer(nn.Module):
    """adaLN-modulated LayerNorm then a zero-initialised linear head: (B, L, D) -> (B, L, V)."""

    def __init__(self, hidden_size: int, out_channels: int, cond_dim: int) -> None:
        super().__init__()
        self.norm_final = LayerNorm(hidden_size)
        self.linear = nn.Linear(hidden_size, out_channels)
        self.adaLN_modulation = nn.Linear(cond_dim, 2 * hidden_size)
        for layer in (self.linear, self.adaLN_modulation):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        shift, scale = self.adaLN_modulation(c)[:, None].chunk(2, dim=2)
        return self.linear(modulate(self.norm_final(x), shift, scale))


class DIT(nn.Module):
    """MDLM's diffusion transformer: tokens (B, L) + sigma (B,) -> logits (B, L, vocab_size); one call = 1 NFE.

    `vocab_size` counts every token the network reads or writes, the mask included. Rotary attention alone is
    blind to absolute position: with every token masked each position gets the same prediction, padding at
    position 0 as at the last. `positions` = P > 0 adds learned absolute positions for sequences of up to P
    tokens, zero-initialised (a model without them loads with strict=False and computes the same)."""

    def __init__(self, vocab_size: int, hidden_size: int = 768, cond_dim: int = 128, n_blocks: int = 12,
                 n_heads: int = 12, dropout: float = 0.1, time_conditioning: bool = False,
                 positions: int = 0) -> None:
        super().__init__()
        if hidden_size % n_heads or (hidden_size // n_heads) % 2:
            raise ValueError(f"hidden_size={hidden_size} must split into n_heads={n_heads} heads of even size")
        self.vocab_size, self.time_conditioning = vocab_size, time_conditioning
        self.vocab_embed = EmbeddingLayer(hidden_size, vocab_size)
        self.sigma_map = TimestepEmbedder(cond_dim)
        self.rotary_emb = Rotary(hidden_size // n_heads)
        self.blocks = nn.ModuleList(DDiTBlock(hidden_size, n_heads, cond_dim, dropout=dropout)
                                    for _ in range(n_blocks))
        self.output_layer = DDitFinalLayer(hidden_size, vocab_size, cond_dim)
        self.register_parameter("pos_embed", nn.Parameter(torch.zeros(positions, hidden_size)) if positions else None)

    def forward(self, indices: Tensor, sigma: Tensor) -> Tensor:
        if not self.time_conditioning:
            sigma = torch.zeros_like(sigma)
        x = self.vocab_embed(indices)
        if self.pos_embed is not None:
            if indices.shape[1] > self.pos_embed.shape[0]:
                raise ValueError(f"{indices.shape[1]} tokens but positions={self.pos_embed.shape[0]}")
            x = x + self.pos_embed[: indices.shape[1]]
        c = F.silu(self.sigma_map(sigma))
        rotary = self.rotary_emb(indices.shape[1], indices.device)
        for block in self.blocks:
            x = block(x, rotary, c)
        return self.output_layer(x, c)
