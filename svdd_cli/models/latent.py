"""Latent text-to-image diffusion: a diffusers StableDiffusionPipeline as a core.DiffusionModel.

The state is the VAE latent (B, 4, H/8, W/8); each prediction runs the conditional UNet on the prompt and,
with guidance_scale > 1, on the negative prompt too (classifier-free guidance, Ho & Salimans 2022):
    out = out_uncond + g (out_cond - out_uncond)   (one NFE counted per row; the UNet sees 2 rows).
The kernel is GaussianKernel's (DDPM or DDIM with eta > 0); `decode` runs the VAE, so rewards see x0-hat
as pixels. The pipeline's default scheduler (PNDM for SD 1.x) is stateful: choose `scheduler`.
"""

from __future__ import annotations

from typing import Any

import diffusers
import torch
from torch import Tensor

from svdd_cli.checkpoint import load_pretrained, resolve_device
from svdd_cli.core import Prediction
from svdd_cli.models.gaussian import GaussianKernel, KernelDiffusion, SchedulerFactory, build_scheduler


def load_pipeline(path: str) -> Any:
    """StableDiffusionPipeline from a local folder or hub id, without the safety checker."""
    import transformers

    transformers.logging.set_verbosity_error()  # loading bars, notices about torchvision-less processors
    transformers.logging.disable_progress_bar()
    from diffusers import StableDiffusionPipeline

    return load_pretrained(StableDiffusionPipeline.from_pretrained, path, "model.path", safety_checker=None,
                           requires_safety_checker=False)


class LatentDiffusion(KernelDiffusion):
    """Stable Diffusion (VAE + text encoder + UNet2DConditionModel) with a stateless Gaussian kernel."""

    def __init__(self, pipeline: Any, kernel: GaussianKernel, prompt: str, negative_prompt: str = "",
                 guidance_scale: float = 7.5, height: int | None = None, width: int | None = None,
                 vae_batch: int = 8, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.pipeline, self.kernel, self.guidance_scale = pipeline.to(self.device), kernel, guidance_scale
        self.unet, self.vae, self.vae_batch = pipeline.unet.eval(), pipeline.vae.eval(), vae_batch
        factor = pipeline.vae_scale_factor
        height = height or pipeline.unet.config.sample_size * factor
        width = width or pipeline.unet.config.sample_size * factor
        self.image_size = (3, height, width)
        self.latent_size = self.state_size = (self.unet.config.in_channels, height // factor, width // factor)
        with torch.inference_mode():
            cond, uncond = pipeline.encode_prompt(prompt, self.device, 1, guidance_scale > 1, negative_prompt)
        self.embeds = cond if guidance_scale <= 1 else torch.cat([uncond, cond])  # (1 or 2, L, D)

    @classmethod
    def from_pretrained(cls, path: str, prompt: str, negative_prompt: str = "", guidance_scale: float = 7.5,
                        num_steps: int = 50, eta: float = 1.0,
                        scheduler: SchedulerFactory | None = diffusers.DDIMScheduler.from_config,
                        height: int | None = None, width: int | None = None, vae_batch: int = 8,
                        device: str = "auto") -> LatentDiffusion:
        """Load the pipeline; `scheduler` (e.g. diffusers.DDIMScheduler.from_config, applied to the saved scheduler's
        config; None = the saved scheduler itself) sets the kernel."""
        pipeline = load_pipeline(path)
        saved = pipeline.scheduler
        kernel_scheduler = build_scheduler(scheduler, saved.config) if scheduler else saved
        kernel = GaussianKernel(kernel_scheduler, num_steps, eta, clip_sample=False)  # latents are unbounded
        return cls(pipeline, kernel, prompt, negative_prompt,
                   guidance_scale, height, width, vae_batch, resolve_device(device))

    def predict_with_grad(self, x_t: Tensor, t: float) -> Prediction:
        """One guided UNet evaluation with autograd: eps and the Tweedie x0-hat in latent space (B, 4, h, w)."""
        b, copies = x_t.shape[0], self.embeds.shape[0]
        k = torch.full((b * copies,), self.kernel.index(t), device=x_t.device)
        embeds = self.embeds.repeat_interleave(b, dim=0)  # (copies*B, L, D): uncond rows first
        out = self.unet(x_t.repeat(copies, 1, 1, 1), k, encoder_hidden_states=embeds).sample.float()
        if copies == 2:
            uncond, cond = out.chunk(2)
            out = uncond + self.guidance_scale * (cond - uncond)
        x0, eps = self.kernel.split(out, x_t, t)
        return Prediction(x_t=x_t, t=t, x0=x0, output=eps)

    def decode_images(self, x: Tensor) -> Tensor:
        """Differentiable VAE decode in chunks: latents (B, 4, h, w) -> images (B, 3, H, W) in [0, 1]."""
        scale = self.vae.config.scaling_factor
        images = [self.vae.decode(chunk / scale).sample for chunk in x.split(self.vae_batch)]
        return ((torch.cat(images).float() + 1) / 2).clamp(0, 1)

    @torch.inference_mode()
    def log_likelihood(self, x0: Tensor, generator: torch.Generator, draws: int = 8) -> Tensor:
        """DDPM variational lower bound on the latent's log-density given the prompt (guided model), in nats:
        (B,). A density over continuous latents, so not comparable with the pixel model's figure."""
        denoise = lambda x, t: self.predict(x, t).x0  # noqa: E731
        return -self.kernel.variational_bound(x0, denoise, generator, draws, bins=None).float()
