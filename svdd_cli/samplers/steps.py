"""What every step-wise sampler shares: checking its settings, opening the loop at x_T, the plain rollout, the
re-denoising steps below t* (and their thinning), and the CPU generator of a sampler's small draws."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch
from torch import Tensor

from svdd_cli.core import DiffusionModel, Prediction, Trace


def at_least(setting: str, value: float, least: float, hint: str = "") -> None:
    """ValueError `sampler.<setting>=<value> must be >= least (hint)` unless value >= least."""
    if value < least:
        raise ValueError(f"sampler.{setting}={value} must be >= {least}" + (f" ({hint})" if hint else ""))


def start(model: DiffusionModel, rows: int, generator: torch.Generator) -> tuple[list[float], Tensor, Prediction]:
    """The times, x_T (rows, ...) and its prediction: 1 network evaluation per row."""
    times = list(model.timesteps())
    x = model.init(rows, generator)
    return times, x, model.predict(x, times[0])


def round_steps(fraction: float, steps: int) -> int:
    """k*: the steps of a round that re-draws `fraction` of a pass of `steps` steps, t* down to 0 (at least 1)."""
    return max(1, round(fraction * steps))


def redenoise_steps(fraction: float, steps: int, thinned_to: int | None) -> int:
    """Network evaluations to re-denoise from t* = fraction of a pass of `steps` steps: the k* = round_steps of it,
    or `thinned_to` of them when that is fewer (samplers' `denoise_steps`)."""
    below = round_steps(fraction, steps)
    return below if thinned_to is None else min(thinned_to, below)


def last_steps(times: Sequence[float], fraction: float) -> list[float]:
    """The times of a pass's last round_steps(fraction) steps: t* = the first of them, down to 0."""
    return list(times[len(times) - 1 - round_steps(fraction, len(times) - 1):])


def rollout(model: DiffusionModel, x: Tensor, generator: torch.Generator, trace: Trace,
            times: Sequence[float] | None = None) -> Tensor:
    """Run every step of the pre-trained kernel on a batch x_T (B, ...) and return x_0 (B, ...): T NFE per row.
    `times`: the steps from a later start, x being x_{times[0]} (default: all of model.timesteps())."""
    for step, (t, s) in enumerate(pairwise(model.timesteps() if times is None else times)):
        x = model.propose(model.predict(x, t), s, generator)
        trace({"step": step, "t": t})
    return x


def thinned(times: list[float], steps: int) -> list[float]:
    """`steps` + 1 of the times (t* first, 0 last), evenly spaced along them."""
    index = torch.linspace(0, len(times) - 1, steps + 1).round().long().tolist()
    return [times[i] for i in index]


def generator_on_cpu(generator: torch.Generator) -> torch.Generator:
    """The CPU generator for a sampler's small draws (parents, coins): the run's own when it is on the CPU, else one
    seeded from it (so a CUDA run stays reproducible)."""
    if generator.device.type == "cpu":
        return generator
    seed = int(torch.randint(2**62, (1,), generator=generator, device=generator.device).item())
    return torch.Generator().manual_seed(seed)
