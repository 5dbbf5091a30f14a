"""Gaussian diffusion on diffusers models: the stateless DDPM / DDIM (eta > 0) kernel, and a pixel UNet2DModel.

Time: the scheduler's integer timestep k (0..T-1 of its training chain) is time (k + 1) / T; time 0 is the
clean sample, with abar = 1 (DDPM, or DDIM's `set_alpha_to_one`). A step t -> s < t (DDIM, Song et al. 2021,
eq. 12, with eps re-derived from the clipped x0-hat as in GLIDE):
    x_s = sqrt(abar_s) x0_hat + sqrt(1 - abar_s - eta^2 b) eps_hat + sigma z,   z ~ N(0, I),
    b = (1 - abar_s) / (1 - abar_t) (1 - abar_t / abar_s)   (the DDPM posterior variance, Ho et al. 2020 eq. 7),
    sigma^2 = eta^2 b, or 1 - abar_t / abar_s for DDPM's fixed_large variance.
eta = 1 is exactly the DDPM posterior q(x_s | x_t, x0_hat), i.e. DDPMScheduler.step. The last step (to time 0)
of DDPM adds no noise, as in diffusers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import diffusers
import torch
from torch import Tensor

from svdd_cli.checkpoint import load_pretrained, resolve_device, shipped
from svdd_cli.core import Direction, GradientModel, ImageReward, Prediction, Reward, check_differentiable
from svdd_cli.errors import UserError

SMALL, LARGE = ("fixed_small", "fixed_small_log"), ("fixed_large", "fixed_large_log")
SchedulerFactory = Callable[[Mapping[str, Any]], Any]  # scheduler config -> scheduler: DDIMScheduler.from_config

diffusers.logging.set_verbosity_error()  # loading bars, notices about missing optional packages
diffusers.logging.disable_progress_bar()


def build_scheduler(factory: SchedulerFactory, config: Mapping[str, Any]) -> Any:
    """factory(config) (a `model.scheduler` _target_ such as diffusers.DDIMScheduler.from_config), checked to be a
    diffusers scheduler."""
    scheduler = factory(config)
    if not isinstance(scheduler, diffusers.SchedulerMixin):
        raise UserError(f"model.scheduler built a {type(scheduler).__name__}, not a diffusers scheduler (use e.g. "
                        "{_target_: diffusers.DDIMScheduler.from_config, _partial_: true})")
    return scheduler


def load_scheduler(path: str, factory: SchedulerFactory, fallback: Mapping[str, Any] | None = None) -> Any:
    """The kernel's scheduler: `factory` applied to the scheduler config saved with the model (path/scheduler/, a
    pipeline's layout, or path/scheduler_config.json next to a UNet's config.json; a hub id: either), or,
    when the folder has none, to `fallback` (the training chain's settings, e.g. {num_train_timesteps: 1000})."""
    folder = shipped(path)
    saved = [sub for sub in ("scheduler", None) if (folder / (sub or "") / "scheduler_config.json").is_file()]
    if saved or not folder.exists():  # a hub id (or a missing path, which load_pretrained names)
        config = load_part(diffusers.DDPMScheduler.load_config, path, saved[:1] or ["scheduler", None])
    elif fallback is not None:
        config = dict(fallback)
    else:
        raise UserError(f"model.path={path} has no scheduler (neither {folder}/scheduler/scheduler_config.json nor "
                        f"{folder}/scheduler_config.json): save the training scheduler there with "
                        "scheduler.save_pretrained, or give its settings as model.fallback_scheduler="
                        "'{num_train_timesteps: 1000, beta_schedule: linear}' (model=diffusers_unet sets DDPM's)")
    return build_scheduler(factory, config)


def load_unet(path: str) -> Any:
    """The UNet2DModel of a pipeline folder (path/unet/), of a UNet2DModel.save_pretrained folder (path/config.json)
    or of a hub id (either layout)."""
    folder = shipped(path)
    pipeline = (folder / "unet" / "config.json").is_file()
    if folder.exists() and not pipeline and not (folder / "config.json").is_file():
        raise UserError(f"model.path={path} has no UNet: expected {folder}/unet/config.json (a pipeline folder, "
                        f"e.g. DDPMPipeline.save_pretrained) or {folder}/config.json (UNet2DModel.save_pretrained)")
    layouts = ["unet", None] if not folder.exists() else ["unet"] if pipeline else [None]
    return load_part(diffusers.UNet2DModel.from_pretrained, path, layouts)


def load_part(loader: Callable[..., Any], path: str, subfolders: list[str | None]) -> Any:
    """`loader` on the first of `subfolders` (None = the folder itself) that loads: a hub id may keep its UNet and
    scheduler in unet/ + scheduler/ (a pipeline) or at the top; the first one's UserError when none does."""
    errors = []
    for subfolder in subfolders:
        try:
            return load_pretrained(loader, path, "model.path", subfolder=subfolder)
        except UserError as err:
            errors.append(err)
    raise errors[0]


class SchedulerStep(Protocol):
    """What a stateless diffusers scheduler fixes about the kernel's step."""

    noisy_last_step: bool  # whether the step to the clean time 0 adds noise

    def eta(self, eta: float) -> float:
        """The kernel's eta for `model.eta`; UserError when the scheduler cannot take it."""

    def clean_abar(self, config: Any, abars: Tensor) -> float:
        """abar at the clean time 0, from the scheduler's config and its training chain's abars (T,)."""


class DDPMStep:
    """DDPMScheduler.step: the DDPM posterior (eta = 1), abar = 1 at the clean time, no noise on the last step."""

    noisy_last_step = False

    def eta(self, eta: float) -> float:
        return 1.0

    def clean_abar(self, config: Any, abars: Tensor) -> float:
        return 1.0


class DDIMStep:
    """DDIMScheduler.step with noise, 0 < eta <= 1; the clean time's abar is 1 with set_alpha_to_one, else abar_0."""

    noisy_last_step = True

    def eta(self, eta: float) -> float:
        if not 0 < eta <= 1:
            raise UserError(f"model.eta={eta}: DDIM needs 0 < eta <= 1 (eta = 0 is deterministic: all M "
                            "candidates would be equal)")
        return eta

    def clean_abar(self, config: Any, abars: Tensor) -> float:
        return 1.0 if config.set_alpha_to_one else float(abars[0])


# the stateless schedulers (a step depends on x_t alone, so M candidates can be drawn from one state) and their steps
STATELESS: dict[type, SchedulerStep] = {diffusers.DDPMScheduler: DDPMStep(), diffusers.DDIMScheduler: DDIMStep()}


class GaussianKernel:
    """The stateless DDPM / DDIM transition on the scheduler's timesteps, and its density."""

    def __init__(self, scheduler: Any, num_steps: int, eta: float = 1.0, clip_sample: bool | None = None) -> None:
        """`clip_sample`: clip x0-hat to the scheduler's range (None: as its config says; False for latents)."""
        config, step = scheduler.config, STATELESS.get(type(scheduler))
        if step is None:
            raise UserError(f"{type(scheduler).__name__} is not supported: svdd draws M candidates from one state, "
                            "which needs a stateless kernel "
                            f"({' or '.join(kind.__name__ for kind in STATELESS)} with eta > 0)")
        self.eta = step.eta(eta)
        variance = config.get("variance_type", "fixed_small")
        if variance not in SMALL + LARGE:
            raise UserError(f"variance_type={variance} is not supported (fixed_small or fixed_large)")
        if config.thresholding or config.prediction_type not in ("epsilon", "sample", "v_prediction"):
            raise UserError("dynamic thresholding and prediction_type other than epsilon/sample/v_prediction "
                            "are not supported")
        self.train_steps = config.num_train_timesteps
        if not 1 <= num_steps <= self.train_steps:
            raise UserError(f"model.num_steps={num_steps} must be in 1..{self.train_steps}")
        scheduler.set_timesteps(num_steps)
        self.steps = [int(k) for k in scheduler.timesteps]
        self.abars = scheduler.alphas_cumprod.double()
        self.final = step.clean_abar(config, self.abars)
        self.large, self.noisy_last_step = variance in LARGE, step.noisy_last_step
        clip = config.clip_sample if clip_sample is None else clip_sample
        self.clip = config.clip_sample_range if clip else None
        self.prediction_type = config.prediction_type

    def timesteps(self) -> list[float]:
        return [(k + 1) / self.train_steps for k in self.steps] + [0.0]

    def index(self, t: float) -> int:
        """The scheduler's integer timestep of time t (-1 for the clean time 0)."""
        return round(t * self.train_steps) - 1

    def abar(self, t: float) -> float:
        k = self.index(t)
        return self.final if k < 0 else float(self.abars[k])

    def split(self, output: Tensor, x_t: Tensor, t: float) -> tuple[Tensor, Tensor]:
        """Network output at x_t -> (x0_hat clipped to the data range, eps consistent with it), each (B, ...)."""
        a = self.abar(t)
        if self.prediction_type == "epsilon":
            x0 = (x_t - math.sqrt(1 - a) * output) / math.sqrt(a)
        elif self.prediction_type == "sample":
            x0 = output
        else:  # v_prediction
            x0 = math.sqrt(a) * x_t - math.sqrt(1 - a) * output
        if self.clip is not None:
            x0 = x0.clamp(-self.clip, self.clip)
        return x0, (x_t - math.sqrt(a) * x0) / math.sqrt(1 - a)

    def coefficients(self, t: float, s: float) -> tuple[float, float, float]:
        """(c_x0, c_eps, sigma): x_s = c_x0 x0_hat + c_eps eps_hat + sigma z."""
        a_t, a_s = self.abar(t), self.abar(s)
        b = (1 - a_s) / (1 - a_t) * (1 - a_t / a_s)
        sigma2 = (1 - a_t / a_s) if self.large else self.eta ** 2 * b
        if s == 0 and not self.noisy_last_step:
            sigma2 = 0.0
        return math.sqrt(a_s), math.sqrt(max(1 - a_s - self.eta ** 2 * b, 0.0)), math.sqrt(sigma2)

    def mean_std(self, pred: Prediction, s: float) -> tuple[Tensor, float]:
        """Mean (B, ...) and standard deviation of p(x_s | x_t)."""
        c_x0, c_eps, sigma = self.coefficients(pred.t, s)
        return c_x0 * pred.x0 + c_eps * pred.output, sigma

    def propose(self, pred: Prediction, s: float, generator: torch.Generator) -> Tensor:
        mean, sigma = self.mean_std(pred, s)
        if sigma == 0:
            return mean
        z = torch.randn(mean.shape, generator=generator, device=generator.device, dtype=mean.dtype)
        return mean + sigma * z.to(mean.device)

    def noise_to(self, x0: Tensor, t: float, generator: torch.Generator) -> Tensor:
        """x_t ~ q(x_t | x0) (B, ...): a kernel step from the first time (abar ~ 0) whose x0-hat is x0 and eps-hat
        fresh noise z, x_t = sqrt(abar_t) x0 + c z + sigma z', c^2 + sigma^2 = 1 - abar_t for DDPM / DDIM eta
        kernels (SDEdit)."""
        z = torch.randn(x0.shape, generator=generator, device=generator.device).to(x0.device)
        return self.propose(Prediction(x_t=z, t=self.timesteps()[0], x0=x0, output=z), t, generator)

    def log_prob(self, pred: Prediction, x_s: Tensor, s: float) -> Tensor:
        """log N(x_s; mean, sigma^2 I) summed over dimensions: (B,); 0 on the deterministic last step."""
        mean, sigma = self.mean_std(pred, s)
        if sigma == 0:
            return torch.zeros(x_s.shape[0], device=x_s.device)
        d = x_s[0].numel()
        sq = (x_s - mean).flatten(1).double().square().sum(1)
        return (-0.5 * sq / sigma ** 2 - d * (math.log(sigma) + 0.5 * math.log(2 * math.pi))).float()

    def variational_bound(self, x0: Tensor, denoise: Callable[[Tensor, float], Tensor], generator: torch.Generator,
                          draws: int, bins: int | None) -> Tensor:
        """DDPM negative ELBO on the model's full training chain, in nats: (B,).

        L_T (exact) + sum_{k>=1} KL(q(x_{k-1} | x_k, x0) || p(x_{k-1} | x_k)) (Monte Carlo over `draws`
        stratified k, with the posterior variance) + L_0 = -log p(x0 | x_0-step), a Gaussian of variance beta_0
        (Ho et al. 2020 eq. 5), discretised to `bins` levels over the data range when given. The `draws`
        timesteps are shared by the batch, so each costs one network call."""
        n, big_t = x0.shape[0], self.train_steps
        x0 = x0.double()
        flat = x0.flatten(1)
        a_last = float(self.abars[-1])
        prior = 0.5 * (a_last * flat.square() + (1 - a_last) - 1 - math.log(1 - a_last)).sum(1)
        kl = torch.zeros(n, dtype=torch.float64, device=x0.device)
        u = torch.rand(draws, generator=generator, device=generator.device).cpu()
        for j in range(draws):  # timestep k in 1..T-1, stratified, shared by the batch (one network call)
            k = 1 + min(int((j + float(u[j])) / draws * (big_t - 1)), big_t - 2)
            kl += self._kl(x0, k, denoise, generator) * (big_t - 1) / draws
        a0 = float(self.abars[0])
        x1 = math.sqrt(a0) * x0 + math.sqrt(1 - a0) * self._noise(x0, generator)
        mean = denoise(x1.float(), 1 / big_t).double().flatten(1)
        decoder = _decoder_log_prob(flat, mean, math.sqrt(1 - a0), bins, self.clip or 1.0)
        return prior + kl - decoder

    def _kl(self, x0: Tensor, k: int, denoise: Callable[[Tensor, float], Tensor], generator: torch.Generator) -> Tensor:
        a_k, a_prev = float(self.abars[k]), float(self.abars[k - 1])
        x_k = math.sqrt(a_k) * x0 + math.sqrt(1 - a_k) * self._noise(x0, generator)
        x0_hat = denoise(x_k.float(), (k + 1) / self.train_steps).double()
        beta = 1 - a_k / a_prev
        var = (1 - a_prev) / (1 - a_k) * beta
        coef = math.sqrt(a_prev) * beta / (1 - a_k)  # of x0 in the posterior mean (Ho et al. eq. 7)
        return (coef * (x0 - x0_hat)).flatten(1).square().sum(1) / (2 * var)

    @staticmethod
    def _noise(x: Tensor, generator: torch.Generator) -> Tensor:
        return torch.randn(x.shape, generator=generator, device=generator.device, dtype=x.dtype).to(x.device)


def _decoder_log_prob(x: Tensor, mean: Tensor, std: float, bins: int | None, bound: float) -> Tensor:
    """log p(x0 | x_1) summed over dimensions (B,): Gaussian density, or the probability of x's bin among
    `bins` equal bins over [-bound, bound], the edge bins open-ended (Ho et al. 2020 sec. 3.3)."""
    if bins is None:
        return (-0.5 * ((x - mean) / std).square() - math.log(std) - 0.5 * math.log(2 * math.pi)).sum(1)
    half = bound / (bins - 1)
    x = ((x.clamp(-bound, bound) + bound) / (2 * half)).round() * 2 * half - bound
    upper = torch.where(x >= bound - half, 1.0, torch.special.ndtr((x + half - mean) / std))
    lower = torch.where(x <= -bound + half, 0.0, torch.special.ndtr((x - half - mean) / std))
    return (upper - lower).clamp_min(1e-12).log().sum(1)


class KernelDiffusion:
    """What pixel and latent Gaussian models share around the GaussianKernel: a subclass sets `kernel`, `device`
    and `state_size` (C, H, W) and implements predict_with_grad and decode_images."""

    kernel: GaussianKernel
    device: torch.device
    state_size: tuple[int, int, int]

    def timesteps(self) -> list[float]:
        return self.kernel.timesteps()

    def init(self, n: int, generator: torch.Generator) -> Tensor:
        return torch.randn((n, *self.state_size), generator=generator, device=generator.device).to(self.device)

    def noise_to(self, x0: Tensor, t: float, generator: torch.Generator) -> Tensor:
        return self.kernel.noise_to(x0, t, generator)

    @torch.inference_mode()
    def predict(self, x_t: Tensor, t: float) -> Prediction:
        """One network call: eps and the Tweedie x0-hat (x_t - sqrt(1 - abar) eps) / sqrt(abar)."""
        return self.predict_with_grad(x_t, t)

    def predict_with_grad(self, x_t: Tensor, t: float) -> Prediction:
        """predict() with autograd: x0 (B, ...) keeps its graph to x_t, for gradient guidance (dps)."""
        raise NotImplementedError

    def propose(self, pred: Prediction, s: float, generator: torch.Generator) -> Tensor:
        return self.kernel.propose(pred, s, generator)

    def log_prob(self, pred: Prediction, x_s: Tensor, s: float) -> Tensor:
        return self.kernel.log_prob(pred, x_s, s)

    def propose_guided(self, pred: Prediction, s: float, direction: Tensor, generator: torch.Generator) -> Tensor:
        """x_s ~ p_pre(. | x_t) plus direction (B, ...): the mean shifted (core.Guided)."""
        return self.propose(pred, s, generator) + direction

    def reward_direction(self, reward: Reward, sampler: str, network: GradientModel | None = None) -> Direction:
        """grad_{x_t} r(decode(x0-hat(x_t))) of a differentiable image reward (core.Guided), backpropagated through
        the denoiser's differentiable forward (predict_with_grad: one network evaluation per row) and decode."""
        check_differentiable(reward, ImageReward, sampler)
        model = network or self

        def direction(x_t: Tensor, t: float) -> tuple[Prediction, Tensor, Tensor]:
            x_in = x_t.detach().requires_grad_()
            with torch.enable_grad():
                pred = model.predict_with_grad(x_in, t)
                r = reward.score_images(model.decode_images(pred.x0))
                (g,) = torch.autograd.grad(r.sum(), x_in)
            plain = Prediction(x_t=x_t, t=t, x0=pred.x0.detach(), output=pred.output.detach())
            return plain, r.detach().float().cpu(), g
        return direction

    def sample_x0(self, pred: Prediction, generator: torch.Generator) -> Tensor:
        return pred.x0

    @torch.inference_mode()
    def decode(self, x: Tensor) -> list[Tensor]:
        """States (B, ...) -> B images (C, H, W) in [0, 1] on the CPU."""
        return list(self.decode_images(x).cpu().unbind(0))

    def decode_images(self, x: Tensor) -> Tensor:
        """Differentiable decode: states (B, ...) -> images (B, C, H, W) in [0, 1] on the device."""
        raise NotImplementedError

    def encode_samples(self, samples: list[Tensor]) -> Tensor:
        """Images (C, H, W) in [0, 1] -> states (B, ...) (core.Encoder, decode's inverse); ValueError naming the
        first image of the wrong shape or range, or when the model has no image encoder (latent models)."""
        for i, image in enumerate(samples):
            if tuple(image.shape) != tuple(self.image_size):
                raise ValueError(f"image {i} has shape {tuple(image.shape)}; the model's images are "
                                 f"{tuple(self.image_size)} (C, H, W)")
            if image.min() < 0 or image.max() > 1:
                raise ValueError(f"image {i} has values outside [0, 1]")
        return self.encode_images(torch.stack(samples).float().to(self.device))

    def encode_images(self, images: Tensor) -> Tensor:
        """Images (B, C, H, W) in [0, 1] -> states; a model without an image encoder says so."""
        raise ValueError(f"{type(self).__name__} cannot encode images into its states (no image encoder)")


class GaussianDiffusion(KernelDiffusion):
    """A pixel-space diffusers UNet2DModel with a DDPM/DDIM kernel; implements core.DiffusionModel.

    Samples live in [-1, 1] (B, C, H, W); decode gives images in [0, 1]."""

    def __init__(self, unet: torch.nn.Module, kernel: GaussianKernel, device: torch.device | str = "cpu") -> None:
        self.unet, self.kernel = unet.eval(), kernel
        self.device = torch.device(device)
        self.unet.to(self.device)
        config = unet.config
        size = config.sample_size if isinstance(config.sample_size, (list, tuple)) else (config.sample_size,) * 2
        self.image_size = self.state_size = (config.in_channels, *size)

    @classmethod
    def from_pretrained(cls, path: str | None, num_steps: int = 50, eta: float = 1.0,
                        scheduler: SchedulerFactory = diffusers.DDPMScheduler.from_config,
                        fallback_scheduler: Mapping[str, Any] | None = None, device: str = "auto") -> GaussianDiffusion:
        """Load the UNet (load_unet's layouts) and the kernel's scheduler: `scheduler` (e.g.
        DDIMScheduler.from_config, with `eta`) built from the saved scheduler config, or from `fallback_scheduler`
        when the folder has none (load_scheduler); `num_steps` sampling steps over the training chain."""
        if path is None:
            raise UserError("model.path is not set: give a UNet2DModel folder, a pipeline folder (unet/ + scheduler/) "
                            "or a hub id, e.g. model.path=/models/my_unet")
        kernel = GaussianKernel(load_scheduler(path, scheduler, fallback_scheduler), num_steps, eta)
        return cls(load_unet(path), kernel, resolve_device(device))

    def predict_with_grad(self, x_t: Tensor, t: float) -> Prediction:
        """One UNet call with autograd: eps and the clipped x0-hat (B, C, H, W), its graph kept to x_t."""
        k = torch.full((x_t.shape[0],), self.kernel.index(t), device=x_t.device)
        x0, eps = self.kernel.split(self.unet(x_t, k).sample.float(), x_t, t)
        return Prediction(x_t=x_t, t=t, x0=x0, output=eps)

    def decode_images(self, x: Tensor) -> Tensor:
        """(B, C, H, W) in [-1, 1] -> images (B, C, H, W) in [0, 1], differentiably."""
        return (x.float().clamp(-1, 1) + 1) / 2

    def encode_images(self, images: Tensor) -> Tensor:
        """decode_images' inverse: images (B, C, H, W) in [0, 1] -> states in [-1, 1]."""
        return images * 2 - 1

    @torch.inference_mode()
    def log_likelihood(self, x0: Tensor, generator: torch.Generator, draws: int = 8) -> Tensor:
        """DDPM variational lower bound on log P(x0 quantised to 8 bits) in nats per image: (B,).
        bits/dim = -value / (C H W ln 2). Costs draws + 1 network calls per image."""
        denoise = lambda x, t: self.predict(x, t).x0  # noqa: E731
        return -self.kernel.variational_bound(x0, denoise, generator, draws, bins=256).float()
