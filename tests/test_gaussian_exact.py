"""The Gaussian path against closed forms: a 2-D Gaussian mixture whose exact eps(x_t, t) is the "unet" of a
GaussianDiffusion on a real diffusers DDPMScheduler, and a linear reward r(x) = b.x.

p = sum_k w_k N(mu_k, s^2 I). Tilted target pi ~ p exp(r / alpha) = sum_k w'_k N(mu_k + s^2 b / alpha, s^2 I) with
w'_k ~ w_k exp(b.mu_k / alpha). Under the forward process x_t = sqrt(abar) x_0 + sqrt(1 - abar) z, the marginal
is sum_k w_k N(sqrt(abar) mu_k, (abar s^2 + 1 - abar) I), so eps = -sqrt(1 - abar) grad log p_t is analytic.
The sampled law also carries the discretisation error of 100 DDPM steps (fixed_large variance, cosine schedule:
measured -0.001 on the component weight, +4% on the within-component std), inside every tolerance below.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from diffusers import DDPMScheduler
from torch import Tensor, nn

from svdd_cli.core import Counters, counted_model, counted_reward
from svdd_cli.models.gaussian import GaussianDiffusion, GaussianKernel
from svdd_cli.samplers.ancestral import Ancestral
from svdd_cli.samplers.dps import DPS
from svdd_cli.samplers.fk import FK
from svdd_cli.samplers.nested_is import NestedIS
from svdd_cli.samplers.resampling import stratified
from svdd_cli.samplers.smc import SMC
from svdd_cli.samplers.svdd import SVDD
from tests.tiny_image_models import single_thread

WEIGHTS, MEANS, STD = [0.7, 0.3], [[-0.4, 0.0], [0.4, 0.0]], 0.15
B, ALPHA = [1.5, 4.0], 1.0


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with single_thread():
        yield


class MixtureEps(nn.Module):
    """The exact eps(x_t, k) of sum_k w_k N(mu_k, s^2 I) under the cumulative alphas `abars`: (B, D, 1, 1)."""

    def __init__(self, weights: list[float], means: list[list[float]], std: float, abars: Tensor) -> None:
        super().__init__()
        self.w, self.mu, self.std = torch.tensor(weights).double(), torch.tensor(means).double(), std
        self.abars = abars.double()
        self.config = SimpleNamespace(in_channels=self.mu.shape[1], sample_size=1)

    def forward(self, x: Tensor, k: Tensor) -> SimpleNamespace:
        a = self.abars[k.long()][:, None]  # (B, 1)
        flat = x.flatten(1).double()
        var = a * self.std ** 2 + 1 - a  # every component has this variance at time k
        logits = self.w.log() - (flat[:, None] - a.sqrt()[:, None] * self.mu).square().sum(-1) / (2 * var)
        mean = a.sqrt() * (logits.softmax(-1) @ self.mu)  # E[x_t-marginal component mean | x_t]
        return SimpleNamespace(sample=((1 - a).sqrt() * (flat - mean) / var).view_as(x).float())


class Linear:
    """r(x) = b.x for x in the model's space, scored on decoded images (x + 1) / 2 in [0, 1]."""

    domains = ("image",)

    def __init__(self, b: list[float]) -> None:
        self.b = torch.tensor(b)

    def score_images(self, images: Tensor) -> Tensor:
        return (2 * images - 1).flatten(1) @ self.b

    def __call__(self, samples: list[Tensor]) -> Tensor:
        return self.score_images(torch.stack(samples))


def mixture_model(weights: list[float] = WEIGHTS, means: list[list[float]] = MEANS, steps: int = 100
                  ) -> GaussianDiffusion:
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", clip_sample=False,
                              variance_type="fixed_large")
    eps = MixtureEps(weights, means, STD, scheduler.alphas_cumprod)
    return GaussianDiffusion(eps, GaussianKernel(scheduler, steps))


MODEL, REWARD = mixture_model(), Linear(B)


def phi(z: float) -> float:
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def law(tilted: bool) -> dict[str, float]:
    """Exact P(x_1 > 0) and E[x] of p, or of pi = p exp(r / alpha)."""
    b, mu = torch.tensor(B).double(), torch.tensor(MEANS).double()
    w = torch.tensor(WEIGHTS).double()
    if tilted:
        w = torch.softmax(w.log() + mu @ b / ALPHA, 0)
        mu = mu + STD ** 2 * b / ALPHA
    right = sum(float(w_k) * phi(float(m[0]) / STD) for w_k, m in zip(w, mu))
    mean = w @ mu
    return {"right": right, "mean_x": float(mean[0]), "mean_y": float(mean[1])}


def moments(x: Tensor, weights: Tensor | None = None) -> dict[str, float]:
    """The same figures from samples (N, 2, 1, 1), optionally weighted (N,)."""
    x = x.flatten(1).double()
    w = torch.ones(len(x), dtype=torch.float64) if weights is None else weights.double()
    w = w / w.sum()
    return {"right": float(w @ (x[:, 0] > 0).double()), "mean_x": float(w @ x[:, 0]), "mean_y": float(w @ x[:, 1])}


def close(got: dict[str, float], want: dict[str, float], tol: float) -> bool:
    return all(abs(got[k] - want[k]) < tol for k in want)


def test_the_tilt_is_far_from_the_pretrained_law():
    p, pi = law(tilted=False), law(tilted=True)
    assert pi["right"] - p["right"] > 0.25 and pi["mean_x"] - p["mean_x"] > 0.2 and pi["mean_y"] > 0.08


def test_ancestral_sampling_follows_the_mixture():
    x = Ancestral().sample(MODEL, REWARD, 20_000, torch.Generator().manual_seed(0), lambda r: None)
    assert close(moments(x), law(tilted=False), 0.015)  # measured within 0.002; noise ~0.004
    y = x.flatten(1)[:, 1]
    assert y.std().item() == pytest.approx(STD, rel=0.08)  # measured +4%: discretisation


WEIGHTED = {  # name -> sampler, 8 network evaluations per output per step each; n = 1000 outputs
    "smc": SMC(8, ALPHA),
    "fk": FK(8, ALPHA, resampling=stratified),  # max / sum potentials: 100 factors exp(lambda max r) along each
    "nested_is": NestedIS(2, 4, ALPHA),  # path make their weights heavy-tailed here (ESS 134 of 12000 for max)
}


@pytest.mark.parametrize("name", WEIGHTED)
def test_weighted_particles_match_the_tilted_mixture(name):
    """sum_o Z_o (weighted particles of o) / sum_o Z_o is consistent for pi at fixed K (test_smc_family.py)."""
    parts = WEIGHTED[name].particles(MODEL, REWARD, 1000, torch.Generator().manual_seed(1), lambda r: None)
    weights = (parts.log_w + parts.log_z[:, None]).double()
    got = moments(parts.x.flatten(0, 1), (weights - weights.max()).exp().flatten())
    assert close(got, law(tilted=True), 0.03), got  # measured within 0.016 over 4 seeds each


def test_svdd_argmax_moves_the_mass_to_the_high_reward_component():
    x = SVDD(num_candidates=8, alpha=0.0).sample(MODEL, REWARD, 500, torch.Generator().manual_seed(2), lambda r: None)
    got, pi = moments(x), law(tilted=True)
    assert got["right"] > 0.95 and got["mean_y"] > pi["mean_y"] + 0.5  # measured 1.0, 1.08: greedier than pi


def dps_shift(scale: float, mean: list[float], steps: int) -> Tensor:
    """The exact dps displacement of every sample for one Gaussian N(mu, s^2 I) and r = b.x: x0-hat is affine in x_t
    with slope c_t = sqrt(abar_t) s^2 / (abar_t s^2 + 1 - abar_t), so the guidance adds rho c_t b at each step and
    the later steps map a displacement d to slope(t -> s) d, the same for every sample and noise draw."""
    kernel = mixture_model([1.0], [mean], steps).kernel
    times = kernel.timesteps()
    d = torch.zeros(2, dtype=torch.float64)
    for t, s in zip(times[:-1], times[1:]):
        a = kernel.abar(t)
        c = math.sqrt(a) * STD ** 2 / (a * STD ** 2 + 1 - a)
        c_x0, c_eps, _ = kernel.coefficients(t, s)
        slope = c_x0 * c + c_eps * (1 - math.sqrt(a) * c) / math.sqrt(1 - a)  # d x_s-mean / d x_t
        d = slope * d + scale * c * torch.tensor(B).double()
    return d


def test_dps_shifts_each_sample_by_the_closed_form_displacement():
    mean, steps = [0.2, -0.1], 20
    model = mixture_model([1.0], [mean], steps)
    draw = [s.sample(model, REWARD, 64, torch.Generator().manual_seed(3), lambda r: None).flatten(1).double()
            for s in (DPS(scale=0.02), Ancestral())]
    shift = dps_shift(0.02, mean, steps)
    assert (shift @ torch.tensor(B).double()) > 0.5  # it moves up the reward: shift (0.068, 0.181)
    torch.testing.assert_close(draw[0] - draw[1], shift.expand(64, 2), atol=2e-4, rtol=1e-3)


def test_dps_on_the_mixture_raises_the_mean_reward_with_the_scale_and_counts_its_cost():
    means = []
    for scale in (0.0, 0.01, 0.03):
        counters, records = Counters(), []
        x = DPS(scale).sample(counted_model(MODEL, counters, 64), counted_reward(REWARD, counters, -1.0), 200,
                              torch.Generator().manual_seed(4), records.append)
        means.append(REWARD(MODEL.decode(x)).mean().item())
        assert counters.nfe == 200 * 100 and counters.reward_calls == 200 * 100  # one differentiable forward a step
        assert len(records) == 100 and records[-1]["nan_grads"] == 0
    assert means[0] + 1 < means[1] < means[2] - 1  # measured -0.25, 1.39, 4.43


def test_dps_with_scale_zero_or_non_finite_gradients_is_ancestral_sampling():
    class NaN(Linear):
        def score_images(self, images: Tensor) -> Tensor:
            return super().score_images(images) * math.nan

    runs, records = [], []
    for sampler, reward in ((DPS(0.0), REWARD), (DPS(1.0), NaN(B)), (Ancestral(), REWARD)):
        runs.append(sampler.sample(MODEL, reward, 16, torch.Generator().manual_seed(5), records.append))
    assert torch.equal(runs[0], runs[2]) and torch.equal(runs[1], runs[2])
    assert [r["nan_grads"] for r in records[100:200]] == [16] * 100
