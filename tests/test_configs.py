"""Every option of every config group composes, and the composed objects instantiate."""

from __future__ import annotations

import pytest
from hydra.errors import InstantiationException
from hydra.utils import instantiate

from tests.conftest import CONFIGS

GROUPS = sorted(p.name for p in CONFIGS.iterdir() if p.is_dir() and p.name != "hydra")
OPTIONS = [(g, p.stem) for g in GROUPS for p in sorted((CONFIGS / g).glob("*.yaml"))]
NEEDS_USER_WEIGHTS = {("model", "stable_diffusion"), ("reward", "aesthetic")}  # weights not shipped


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_option_composes_and_instantiates(compose_config, group, option):
    cfg = compose_config([f"{group}={option}", "device=cpu"])
    node = dict(cfg[group])
    node.pop("evaluation", None)  # reported next to the reward, instantiated separately
    if (group, option) in NEEDS_USER_WEIGHTS:
        with pytest.raises(InstantiationException, match="not found"):
            instantiate(node)
        return
    assert instantiate(node) is not None


def test_default_is_the_main_job(compose_config):
    cfg = compose_config([])
    assert cfg.domain.name == "dna"
    assert cfg.reward._target_.endswith("Enhancer")
    assert cfg.sampler._target_.endswith("SVDD")
    assert cfg.model.path.endswith("checkpoints/dna_mdlm")
