"""Every option of every config group composes, and the composed objects instantiate."""

from __future__ import annotations

import pytest
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import OmegaConf

from tests.conftest import CONFIGS

GROUPS = sorted(p.name for p in CONFIGS.iterdir()
                if p.is_dir() and p.name not in ("hydra", "experiment", "sampler_domain"))
SAMPLER_DOMAIN = sorted(p.stem for p in (CONFIGS / "sampler_domain").glob("*.yaml"))
EXPERIMENTS = sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml"))
OPTIONS = [(g, p.stem) for g in GROUPS for p in sorted((CONFIGS / g).glob("*.yaml"))]
NEEDS_USER_WEIGHTS = {("model", "stable_diffusion"), ("reward", "aesthetic"), ("model", "mdlm"),  # not shipped
                      ("model", "hf_masked_lm"), ("model", "diffusers_unet"), ("reward", "command")}  # the user's own


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_option_composes_and_instantiates(compose_config, group, option):
    cfg = compose_config([f"{group}={option}", "device=cpu"])
    node = OmegaConf.to_container(cfg[group], resolve=True)  # nested nodes refer to ${paths...} too
    node.pop("evaluation", None)  # reported next to the reward, instantiated separately
    node.pop("natural", None)  # the terms svdd steers by on DNA (configs/sampler_domain/svdd_dna.yaml), built apart
    if (group, option) in NEEDS_USER_WEIGHTS:
        with pytest.raises(InstantiationException, match="not found|is not set"):
            instantiate(node)
        return
    assert instantiate(node) is not None


@pytest.mark.parametrize("pair", SAMPLER_DOMAIN)
def test_every_sampler_domain_file_sets_known_settings_of_a_sampler_in_a_domain(compose_config, pair):
    """configs/sampler_domain/<sampler>_<domain>.yaml is picked by `svdd run domain=D sampler=S` (config.yaml's
    defaults); each of its keys must be a setting of that sampler's YAML (a typo would add a new key)."""
    sampler, domain = pair.rsplit("_", 1)
    assert (CONFIGS / "sampler" / f"{sampler}.yaml").is_file() and (CONFIGS / "domain" / f"{domain}.yaml").is_file()
    elsewhere = next(d.stem for d in sorted((CONFIGS / "domain").glob("*.yaml"))
                     if f"{sampler}_{d.stem}" not in SAMPLER_DOMAIN)
    plain = compose_config([f"sampler={sampler}", f"domain={elsewhere}"]).sampler  # the sampler's own YAML
    special = compose_config([f"sampler={sampler}", f"domain={domain}", "device=cpu"]).sampler
    changed = {k for k in special if special[k] != plain.get(k)}
    assert changed and changed <= set(plain), f"{pair} sets {changed - set(plain)}, not settings of {sampler}"
    assert instantiate(special) is not None


@pytest.mark.parametrize("experiment", [e for e in EXPERIMENTS if e != "pmo"])
def test_every_experiment_pairs_a_domain_with_its_model_and_reward(compose_config, experiment):
    cfg = compose_config([f"+experiment={experiment}", "device=cpu"])
    domain_name, reward_name = experiment.split("_", 1)
    domain = instantiate(cfg.domain)
    assert domain.name == domain_name and cfg.model.path.endswith(f"checkpoints/{domain_name}_mdlm"
                                                                   if domain_name != "image" else "fashion_ddpm")
    reward = dict(cfg.reward)
    reward.pop("evaluation", None)
    reward.pop("natural", None)
    assert domain_name in instantiate(reward).domains


def test_the_pmo_experiment_is_a_molecule_task_under_pmo_s_budget(compose_config):
    cfg = compose_config(["+experiment=pmo", "reward.task=qed", "device=cpu"])
    assert cfg.domain.name == "molecule" and cfg.reward.task == "qed" and cfg.sampler._target_.endswith("Evolve")
    assert cfg.oracle_budget == 10_000 and cfg.reference_samples == 0 and cfg.num_samples == cfg.batch_size == 100


def test_default_is_the_main_job(compose_config):
    cfg = compose_config([])
    assert cfg.domain.name == "dna"
    assert cfg.reward._target_.endswith("Enhancer")
    assert cfg.sampler._target_.endswith("SVDD")
    assert cfg.model.path.endswith("checkpoints/dna_mdlm")


def test_plain_drops_hydras_per_call_check_and_keeps_the_call(compose_config):
    """The molecule model's `detokenize` (a `_partial_: true` node) is stored without hydra's wrapper, which
    re-checks its target on every call (most of the time of decoding a molecule)."""
    import functools

    from svdd_cli.compose import plain

    node = OmegaConf.to_container(compose_config(["domain=molecule"]).model.detokenize, resolve=True)
    wrapped = instantiate(node)
    assert type(wrapped) is not functools.partial  # hydra's subclass: what plain() is for
    unwrapped = plain(wrapped)
    assert type(unwrapped) is functools.partial
    selfies = "[C][C][O]"
    assert unwrapped(selfies) == wrapped(selfies) == "CCO"
    assert plain(len) is len
