"""Latent text-to-image on a tiny random Stable Diffusion pipeline built from configs (no download)."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from svdd_cli import run as run_module
from svdd_cli.errors import UserError
from svdd_cli.models.latent import LatentDiffusion
from tests.tiny_image_models import save_tiny_sd, single_thread

STEPS = ["model.num_steps=3", "num_samples=2", "batch_size=2", "reference_samples=1", "likelihood_draws=1",
         "device=cpu"]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with single_thread():
        yield


@pytest.fixture(scope="module")
def sd(tmp_path_factory) -> str:
    return str(save_tiny_sd(tmp_path_factory.mktemp("tiny_sd")))


def test_guided_prediction_and_vae_decode(sd):
    model = LatentDiffusion.from_pretrained(sd, prompt="a cat", guidance_scale=3.0, num_steps=4, device="cpu")
    unguided = LatentDiffusion.from_pretrained(sd, prompt="a cat", guidance_scale=1.0, num_steps=4, device="cpu")
    assert model.image_size == (3, 16, 16) and model.latent_size == (4, 8, 8)
    x = model.init(2, torch.Generator().manual_seed(0))
    t = model.timesteps()[1]
    pred, plain = model.predict(x, t), unguided.predict(x, t)
    assert pred.x0.shape == (2, 4, 8, 8) and not torch.allclose(pred.output, plain.output)
    cond = unguided.unet(x, torch.full((2,), model.kernel.index(t)),
                         encoder_hidden_states=unguided.embeds.expand(2, -1, -1)).sample
    torch.testing.assert_close(plain.output, cond)  # guidance 1: the prompt's eps alone
    images = model.decode(pred.x0)
    assert len(images) == 2 and images[0].shape == (3, 16, 16) and 0 <= images[0].min() <= images[0].max() <= 1


def test_the_pipelines_own_pndm_scheduler_is_refused(sd):
    with pytest.raises(UserError, match="PNDMScheduler is not supported"):
        LatentDiffusion.from_pretrained(sd, prompt="a cat", scheduler=None, device="cpu")
    with pytest.raises(UserError, match="/no/such/sd not found"):
        LatentDiffusion.from_pretrained("/no/such/sd", prompt="a cat", device="cpu")


@pytest.mark.parametrize("sampler", ["svdd", "best_of_n"])
def test_run_end_to_end_on_the_tiny_pipeline(compose_config, sd, tmp_path, sampler):
    extra = ["sampler.num_candidates=2", *(["sampler.guide_from=0.0"] if sampler == "svdd" else [])]
    cfg = compose_config(["domain=image", "model=stable_diffusion", f"model.path={sd}", "model.prompt=a cat",
                          "reward=compressibility", f"sampler={sampler}", *extra, *STEPS])
    median = run_module.run(cfg, tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert median < 0 and summary["num_samples"] == 2 and summary["nfe"] == (2 * (1 + 2 * 2) if sampler == "svdd"
                                                                            else 2 * 2 * 3)
    assert Image.open(tmp_path / "images" / "s000000.png").size == (16, 16)
    assert (tmp_path / "grid.png").is_file()
