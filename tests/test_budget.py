"""Every budgeted sampler, composed from its real YAML, spends at most its NFE budget (counted by counted_model),
exactly what its nfe(steps) says, and refuses a budget below its minimum naming that minimum."""

from __future__ import annotations

import re

import pytest
import torch
from hydra.utils import instantiate

from svdd_cli.core import Budgeted, Counters, counted_model, counted_reward
from tests.conftest import CONFIGS, CountLetter, log_uniform, table_model

STEPS, LENGTH = 8, 200  # the shipped DNA value network (svdd_mc) reads length-200 sequences
NOT_BUDGETED = {"dps", "classifier_guidance"}  # gradient guidance: T NFE, no width (tested on their own below)
SAMPLERS = sorted(p.stem for p in (CONFIGS / "sampler").glob("*.yaml") if p.stem not in NOT_BUDGETED)
MODEL = table_model(log_uniform(LENGTH, 4), "ACGT", num_steps=STEPS)


def build(compose_config, name: str, *overrides: str):
    sampler = instantiate(compose_config([f"sampler={name}", "device=cpu", *overrides]).sampler)
    assert isinstance(sampler, Budgeted)
    return sampler


def spend(sampler, n: int = 3) -> int:
    counters = Counters()
    sampler.sample(counted_model(MODEL, counters, 10**6), counted_reward(CountLetter(), counters, -1.0), n,
                   torch.Generator().manual_seed(0), lambda r: None)
    return counters.nfe // n


@pytest.mark.parametrize("name", SAMPLERS)
@pytest.mark.parametrize("budget", [64, 100, 333])
def test_a_run_at_a_budget_stays_within_it(compose_config, name, budget):
    sized = build(compose_config, name).with_budget(budget, STEPS)
    spent = spend(sized)
    assert spent == sized.nfe(STEPS)  # the cost formula is the counted cost
    assert spent <= budget  # never more than the budget (so within budget + one step's worth)


@pytest.mark.parametrize("name", SAMPLERS)
def test_a_bigger_budget_buys_a_wider_sampler_that_spends_most_of_it(compose_config, name):
    sampler = build(compose_config, name)
    small, large = (sampler.with_budget(b, STEPS).nfe(STEPS) for b in (60, 600))
    fixed_cost = name in ("ancestral", "svdd_mc")  # one pass whatever the budget (svdd_mc's width costs no NFE)
    assert large == small == STEPS if fixed_cost else large > small
    if not fixed_cost:  # most of the budget is spent: widths are coarse, but never by half
        assert large > 600 // 2


@pytest.mark.parametrize("name", SAMPLERS)
def test_a_budget_below_the_minimum_is_refused_naming_it(compose_config, name):
    sampler = build(compose_config, name)
    least = int(re.search(r"minimum of (\d+)", _refusal(sampler, 1)).group(1))
    assert least >= STEPS  # nothing finishes a sample with less than one pass
    assert sampler.with_budget(least, STEPS).nfe(STEPS) <= least
    assert f"nfe_per_sample={least - 1}" in _refusal(sampler, least - 1)


def _refusal(sampler, budget: int) -> str:
    with pytest.raises(ValueError, match="below the minimum of") as err:
        sampler.with_budget(budget, STEPS)
    return str(err.value)


def test_with_budget_leaves_the_configured_sampler_alone(compose_config):
    sampler = build(compose_config, "svdd", "sampler.guide_from=0", "sampler.num_candidates=10")  # every step guided
    assert sampler.with_budget(100, STEPS).m == 14 and sampler.m == 10  # 1 + 14 * 7 = 99 <= 100 < 1 + 15 * 7


def test_best_of_n_and_svdd_share_the_width_name(compose_config):
    for name in ("best_of_n", "svdd"):
        guided = ["sampler.guide_from=0"] if name == "svdd" else []  # every step guided
        cfg = compose_config([f"sampler={name}", "sampler.num_candidates=5", *guided])
        assert instantiate(cfg.sampler).nfe(STEPS) == {"best_of_n": 5 * STEPS, "svdd": 1 + 5 * (STEPS - 1)}[name]


@pytest.mark.parametrize("name", sorted(NOT_BUDGETED))
def test_gradient_guidance_fits_any_budget_above_one_pass(compose_config, name):
    sampler = build(compose_config, name)
    assert sampler.with_budget(10 * STEPS, STEPS) is sampler and sampler.nfe(STEPS) == STEPS
    with pytest.raises(ValueError, match=f"below the minimum of {STEPS} NFE per sample"):
        sampler.with_budget(STEPS - 1, STEPS)
