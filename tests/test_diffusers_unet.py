"""model=diffusers_unet: a plain UNet2DModel folder (with or without a scheduler), a pipeline folder, a hub id;
a missing part names itself and the fix."""

from __future__ import annotations

import json
import re

import pytest
from diffusers import DDIMScheduler, DDPMPipeline

from svdd_cli import run as run_module
from svdd_cli.errors import UserError
from svdd_cli.models.gaussian import GaussianDiffusion
from tests.tiny_image_models import single_thread, tiny_scheduler, tiny_unet

RUN = ["domain=image", "model=diffusers_unet", "model.num_steps=3", "num_samples=2", "batch_size=2",
       "reference_samples=0", "likelihood_draws=1", "device=cpu", "reward=compressibility", "sampler=svdd",
       "sampler.num_candidates=2", "sampler.guide_from=0.0", "domain.classifier=null"]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with single_thread():
        yield


def test_a_plain_unet_folder_gets_the_yamls_ddpm_chain(compose_config, tmp_path):
    tiny_unet().save_pretrained(tmp_path / "unet_only")  # config.json + diffusion_pytorch_model.safetensors
    cfg = compose_config([*RUN, f"model.path={tmp_path / 'unet_only'}"])
    _, model, _, _ = run_module.build_task(cfg)
    assert model.kernel.train_steps == 1000 and model.image_size == (1, 8, 8)  # fallback_scheduler: DDPM's 1000 steps
    median = run_module.run(cfg, tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["nfe"] == 2 * (1 + 2 * 2) and median < 0


def test_a_scheduler_config_beside_the_unet_is_used(tmp_path):
    folder = tmp_path / "unet"
    tiny_unet().save_pretrained(folder)
    tiny_scheduler().save_pretrained(folder)  # scheduler_config.json next to config.json
    model = GaussianDiffusion.from_pretrained(str(folder), num_steps=4, scheduler=DDIMScheduler.from_config,
                                              eta=0.5, device="cpu")
    assert model.kernel.train_steps == 100 and type(model.unet).__name__ == "UNet2DModel" and model.kernel.eta == 0.5


def test_a_pipeline_folder_runs_through_the_cli(compose_config, tmp_path):
    DDPMPipeline(unet=tiny_unet(), scheduler=tiny_scheduler()).save_pretrained(tmp_path / "pipe")
    cfg = compose_config([*RUN, f"model.path={tmp_path / 'pipe'}", "model.scheduler._target_=diffusers.DDIMScheduler"
                          ".from_config", "model.eta=0.7"])
    _, model, _, _ = run_module.build_task(cfg)
    assert model.kernel.train_steps == 100 and model.kernel.eta == 0.7
    assert run_module.run(cfg, tmp_path / "run") < 0


@pytest.mark.parametrize(("layout", "overrides", "message"), [
    ("unet_only", ["model=image"], "has no scheduler (neither"),
    ("unet_only", ["model=diffusers_unet", "model.fallback_scheduler=null"], "model.fallback_scheduler="),
    ("empty", ["model=diffusers_unet"], "has no UNet: expected"),
    (None, ["model=diffusers_unet"], "model.path is not set"),
    ("hub", ["model=diffusers_unet"], "nobody-here/ddpm-missing is not a folder nor a cached hub id"),
])
def test_a_missing_part_is_a_one_line_error_naming_it(compose_config, tmp_path, monkeypatch, layout, overrides,
                                                     message):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tiny_unet().save_pretrained(tmp_path / "unet_only")
    (tmp_path / "empty").mkdir()
    path = {"unet_only": [f"model.path={tmp_path / 'unet_only'}"], "empty": [f"model.path={tmp_path / 'empty'}"],
            "hub": ["model.path=nobody-here/ddpm-missing"], None: []}[layout]
    cfg = compose_config([*RUN, *overrides, *path])
    with pytest.raises(UserError, match=re.escape(message)) as err:
        run_module.build_task(cfg)
    assert "\n" not in str(err.value)
