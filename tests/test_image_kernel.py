"""The Gaussian kernel on a tiny random UNet: proposals match the scheduler's posterior, log_prob is the
Gaussian density, stateful / deterministic schedulers are refused, and the samplers run unchanged."""

from __future__ import annotations

import math

import pytest
import torch
from diffusers import DDIMScheduler, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler

from svdd_cli.errors import UserError
from svdd_cli.models.gaussian import GaussianDiffusion, GaussianKernel
from svdd_cli.samplers.ancestral import Ancestral
from svdd_cli.samplers.best_of_n import BestOfN
from svdd_cli.samplers.svdd import SVDD
from tests.tiny_image_models import save_tiny_ddpm, single_thread, tiny_scheduler, tiny_unet

DRAWS = 4000


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with single_thread():
        yield


def tiny_model(scheduler=None, num_steps: int = 10, eta: float = 1.0) -> GaussianDiffusion:
    return GaussianDiffusion(tiny_unet(), GaussianKernel(scheduler or tiny_scheduler(), num_steps, eta))


def state_at(model: GaussianDiffusion, step: int):
    """A state x_t (1, 1, 8, 8) at the step-th time, its prediction, and the next time s."""
    times = model.timesteps()
    x_t = torch.randn(1, 1, 8, 8, generator=torch.Generator().manual_seed(1)) * 0.8
    return model.predict(x_t, times[step]), times[step + 1]


def test_timesteps_descend_from_noise_to_clean():
    times = tiny_model(num_steps=10).timesteps()
    assert len(times) == 11 and times[-1] == 0.0 and 0 < times[0] <= 1
    assert all(a > b for a, b in zip(times, times[1:]))


def test_predict_is_tweedie_x0_clipped():
    model = tiny_model()
    pred, _ = state_at(model, 5)
    a = model.kernel.abar(pred.t)
    x0 = ((pred.x_t - math.sqrt(1 - a) * pred.output) / math.sqrt(a))
    assert pred.x0.abs().max() <= 1
    inside = pred.x0.abs() < 1
    torch.testing.assert_close(pred.x0[inside], x0[inside], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("step", [0, 5, 8])
def test_propose_matches_the_ddpm_posterior(step):
    model = tiny_model()
    pred, s = state_at(model, step)
    a_t, a_s = model.kernel.abar(pred.t), model.kernel.abar(s)
    beta = 1 - a_t / a_s  # Ho et al. eq. 7 on the strided chain
    mean = (math.sqrt(a_s) * beta / (1 - a_t) * pred.x0 + math.sqrt(a_t / a_s) * (1 - a_s) / (1 - a_t) * pred.x_t)
    var = (1 - a_s) / (1 - a_t) * beta
    x = model.propose(pred.repeat(DRAWS), s, torch.Generator().manual_seed(0))
    torch.testing.assert_close(x.mean(0, keepdim=True), mean, atol=4 * math.sqrt(var / DRAWS), rtol=0)
    assert abs(x.var(0).mean().item() / var - 1) < 0.05


@pytest.mark.parametrize(("scheduler", "kwargs"), [(tiny_scheduler(), {}),
                                                   (DDIMScheduler.from_config(tiny_scheduler().config),
                                                    {"eta": 0.5, "use_clipped_model_output": True})])
def test_propose_matches_the_schedulers_own_step(scheduler, kwargs):
    model = tiny_model(scheduler, eta=kwargs.get("eta", 1.0))
    pred, s = state_at(model, 3)
    k = model.kernel.index(pred.t)
    eps = model.unet(pred.x_t, torch.tensor([k])).sample.detach().repeat(DRAWS, 1, 1, 1)
    reference = scheduler.step(eps, k, pred.x_t.repeat(DRAWS, 1, 1, 1), generator=torch.Generator().manual_seed(5),
                               **kwargs).prev_sample
    ours = model.propose(pred.repeat(DRAWS), s, torch.Generator().manual_seed(6))
    _, sigma = model.kernel.mean_std(pred, s)
    torch.testing.assert_close(ours.mean(0), reference.mean(0), atol=6 * sigma / math.sqrt(DRAWS), rtol=0)
    assert abs(ours.var(0).mean().item() / reference.var(0).mean().item() - 1) < 0.07


def test_log_prob_is_the_gaussian_density_of_the_step():
    model = tiny_model()
    pred, s = state_at(model, 4)
    x = model.propose(pred.repeat(500), s, torch.Generator().manual_seed(0))
    mean, sigma = model.kernel.mean_std(pred, s)
    expected = torch.distributions.Normal(mean, sigma).log_prob(x).flatten(1).sum(1)
    got = model.log_prob(pred.repeat(500), x, s)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-2)
    entropy = 0.5 * 64 * (math.log(2 * math.pi * sigma ** 2) + 1)
    assert abs(-got.mean().item() - entropy) < 4 * math.sqrt(32 / 500) + 1e-3  # E[-log p] = entropy


def test_last_ddpm_step_is_deterministic():
    model = tiny_model()
    pred, s = state_at(model, 9)
    assert s == 0.0
    x = model.propose(pred.repeat(3), s, torch.Generator().manual_seed(0))
    torch.testing.assert_close(x, pred.x0.repeat(3, 1, 1, 1))
    assert model.log_prob(pred.repeat(3), x, s).abs().max() == 0


@pytest.mark.parametrize(("scheduler", "eta", "message"), [
    (EulerAncestralDiscreteScheduler, 1.0, "EulerAncestralDiscreteScheduler is not supported"),
    (DPMSolverMultistepScheduler, 1.0, "DPMSolverMultistepScheduler is not supported"),
    (DDIMScheduler, 0.0, "eta=0.0"),
])
def test_stateful_or_deterministic_schedulers_are_refused(scheduler, eta, message):
    with pytest.raises(UserError, match=message) as err:
        GaussianKernel(scheduler.from_config(tiny_scheduler().config), 10, eta)
    assert "\n" not in str(err.value)


def test_from_pretrained_round_trip_and_missing_path(tmp_path):
    folder = save_tiny_ddpm(tmp_path / "ddpm")
    model = GaussianDiffusion.from_pretrained(str(folder), num_steps=4, device="cpu")
    assert model.image_size == (1, 8, 8) and len(model.timesteps()) == 5
    ddim = GaussianDiffusion.from_pretrained(str(folder), num_steps=4, eta=0.3, scheduler=DDIMScheduler.from_config,
                                             device="cpu")
    assert ddim.kernel.eta == 0.3
    with pytest.raises(UserError, match="/no/such/ddpm"):
        GaussianDiffusion.from_pretrained("/no/such/ddpm", device="cpu")
    with pytest.raises(UserError, match="model.scheduler built a dict, not a diffusers scheduler"):
        GaussianDiffusion.from_pretrained(str(folder), scheduler=dict, device="cpu")


def test_log_likelihood_is_a_finite_bound_per_image():
    model = tiny_model()
    x0 = torch.rand(3, 1, 8, 8) * 2 - 1
    ll = model.log_likelihood(x0, torch.Generator().manual_seed(0), draws=2)
    again = model.log_likelihood(x0, torch.Generator().manual_seed(0), draws=2)
    assert ll.shape == (3,) and torch.isfinite(ll).all() and (ll < 0).all()
    torch.testing.assert_close(ll, again)


class Brightness:
    domains = ("image",)

    def __call__(self, samples: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack(list(samples)).mean((1, 2, 3))


@pytest.mark.parametrize("sampler", [Ancestral(), BestOfN(3), SVDD(num_candidates=3)])
def test_samplers_run_unchanged_on_the_gaussian_model(sampler):
    model = tiny_model(num_steps=4)
    x = sampler.sample(model, Brightness(), 4, torch.Generator().manual_seed(0), lambda record: None)
    assert x.shape == (4, 1, 8, 8) and x.abs().max() <= 1
    images = model.decode(x)
    assert len(images) == 4 and images[0].shape == (1, 8, 8) and 0 <= images[0].min() <= images[0].max() <= 1


def test_svdd_raises_the_reward_over_ancestral():
    model, reward = tiny_model(num_steps=6), Brightness()
    plain = Ancestral().sample(model, reward, 16, torch.Generator().manual_seed(0), lambda r: None)
    guided = SVDD(num_candidates=4).sample(model, reward, 16, torch.Generator().manual_seed(0), lambda r: None)
    assert reward(model.decode(guided)).mean() > reward(model.decode(plain)).mean()
