"""Shared test helpers: compose the real configs, and tiny masked models with known probabilities."""

from __future__ import annotations

import math

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig
from torch import Tensor, nn

from svdd_cli.assets import asset_root, register_resolver
from svdd_cli.models.masked import MaskedDiffusion

CONFIGS = asset_root() / "configs"


@pytest.fixture
def compose_config():
    """compose_config(overrides) -> the real composed config (as `svdd run` would build it)."""
    register_resolver()

    def _compose(overrides: list[str] = ()) -> DictConfig:
        with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
            return compose(config_name="config", overrides=list(overrides))

    return _compose


class TableDenoiser(nn.Module):
    """Context-free denoiser: the same logits (L, V) at every call, whatever x_t is."""

    def __init__(self, logits: Tensor) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.cat([logits, torch.zeros(logits.shape[0], 1)], dim=1))

    def forward(self, tokens: Tensor) -> Tensor:
        return self.logits.expand(tokens.shape[0], -1, -1)


def table_model(logits: Tensor, alphabet: str, num_steps: int) -> MaskedDiffusion:
    """A MaskedDiffusion whose p_theta(x0 | x_t) is softmax(logits) per position: (L, V)."""
    return MaskedDiffusion(TableDenoiser(logits), alphabet, logits.shape[0], num_steps=num_steps)


class CountLetter:
    """Toy reward: the number of times `letter` occurs."""

    domains = ("dna",)

    def __init__(self, letter: str = "A") -> None:
        self.letter = letter

    def __call__(self, samples: list[str]) -> Tensor:
        return torch.tensor([float(s.count(self.letter)) for s in samples])


class RecordingLetter(CountLetter):
    """CountLetter that keeps every batch it scored (which samples met the oracle, in which calls)."""

    def __init__(self, letter: str = "A") -> None:
        super().__init__(letter)
        self.batches: list[list[str]] = []

    def __call__(self, samples: list[str]) -> Tensor:
        self.batches.append(list(samples))
        return super().__call__(samples)


def log_uniform(length: int, size: int) -> Tensor:
    return torch.full((length, size), -math.log(size))


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> str:
    """A small randomly initialised DNA masked-diffusion checkpoint folder (fast stand-in for dna_mdlm)."""
    from svdd_cli.checkpoint import save_folder
    from svdd_cli.models.masked import ConvDenoiser

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny_mdlm")
    backbone = {"channels": 16, "layers": 2, "kernel_size": 5}
    save_folder(folder, {"vocab": list("ACGT"), "length": 200, "eps": 1e-3, "backbone": backbone},
                ConvDenoiser(4, **backbone))
    return str(folder)
