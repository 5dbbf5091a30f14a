"""ancestral / best_of_n / svdd on tiny models with a toy reward: steering works, seeds reproduce."""

from __future__ import annotations

import pytest
import torch

from svdd_cli.core import Counters, counted_model, counted_reward
from svdd_cli.samplers.ancestral import Ancestral
from svdd_cli.samplers.best_of_n import BestOfN
from svdd_cli.samplers.selection import categorical
from svdd_cli.samplers.svdd import SVDD
from tests.conftest import CountLetter, log_uniform, table_model


def draw(sampler, n=64, seed=0, steps=8, max_batch=4096):
    model = table_model(log_uniform(10, 4), "ACGT", num_steps=steps)
    counters = Counters()
    reward = counted_reward(CountLetter("A"), counters, penalty=-1.0)
    x = sampler.sample(counted_model(model, counters, max_batch), reward, n, torch.Generator().manual_seed(seed),
                       lambda record: None)
    return CountLetter("A")(model.decode(x)), counters


def test_svdd_beats_best_of_n_beats_ancestral_on_a_toy_reward():
    r_anc, _ = draw(Ancestral())
    r_bon, _ = draw(BestOfN(num_candidates=8))
    r_svdd, _ = draw(SVDD(num_candidates=8))
    assert r_anc.mean() == pytest.approx(2.5, abs=0.5)  # 10 positions x P(A) = 1/4
    assert r_svdd.mean() > r_bon.mean() + 1 > r_anc.mean() + 2


def test_nfe_is_matched_between_svdd_and_best_of_n():
    _, c_bon = draw(BestOfN(num_candidates=8), n=4, steps=8)
    _, c_svdd = draw(SVDD(num_candidates=8), n=4, steps=8)
    _, c_anc = draw(Ancestral(), n=4, steps=8)
    assert c_anc.nfe == 4 * 8
    assert c_bon.nfe == 4 * 8 * 8
    assert c_svdd.nfe == 4 * (1 + 8 * 7)  # x_T once, then M per step; the last step's x_0 needs no network
    assert c_svdd.reward_calls == 4 * 8 * 8


def test_soft_selection_and_value_samples_run_and_steer():
    r, _ = draw(SVDD(num_candidates=8, alpha=0.5, value_samples=4))
    assert r.mean() > 4


def test_guidance_window_outside_steps_cost_one_evaluation():
    _, c = draw(SVDD(num_candidates=8, guide_from=0.5), n=4, steps=8)
    assert c.nfe == 4 * (1 + 4 * 1 + 3 * 8)  # steps 0-3 plain, steps 4-6 guided, last step free


@pytest.mark.parametrize("sampler", [Ancestral(), BestOfN(4), SVDD(4), SVDD(4, alpha=1.0)])
def test_same_seed_same_samples_any_max_batch(sampler):
    model = table_model(log_uniform(10, 4), "ACGT", num_steps=6)
    runs = [sampler.sample(counted_model(model, Counters(), mb), CountLetter(), 8, torch.Generator().manual_seed(3),
                           lambda r: None) for mb in (7, 4096, 4096)]
    assert torch.equal(runs[0], runs[1]) and torch.equal(runs[1], runs[2])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"num_candidates": 0}, "num_candidates=0"), ({"alpha": -0.1}, "alpha=-0.1"),
    ({"value_samples": 4}, "alpha > 0"), ({"guide_from": 0.9, "guide_until": 0.1}, "guide_from")])
def test_bad_svdd_settings_are_rejected_naming_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SVDD(**kwargs)


def test_categorical_draws_follow_the_probabilities():
    probs = torch.tensor([[0.1, 0.6, 0.3]]).repeat(30_000, 1)
    counts = torch.bincount(categorical(probs, torch.Generator().manual_seed(0)), minlength=3) / 30_000
    assert torch.allclose(counts, probs[0], atol=0.01)


class Flaky:
    """A reward that returns NaN for 'AAAA', inf for 'CCCC' and raises on 'GGGG'."""

    domains = ("dna",)

    def __call__(self, samples):
        if "GGGG" in samples:
            raise RuntimeError("oracle crashed")
        return torch.tensor([{"AAAA": float("nan"), "CCCC": float("inf")}.get(s, 1.0) for s in samples])


def test_bad_reward_values_are_penalised_and_counted():
    counters = Counters()
    reward = counted_reward(Flaky(), counters, penalty=-7.0)
    assert reward(["AAAA", "CCCC", "ACGT"]).tolist() == [-7.0, -7.0, 1.0]
    assert reward(["GGGG", "ACGT"]).tolist() == [-7.0, 1.0]
    assert counters.invalid_rewards == 3 and counters.reward_calls == 5
