"""csmc (Metropolis-Hastings over clean samples) on the enumerable table model, whose denoiser is exact so the
re-noise + re-denoise proposal is exactly reversible with respect to the prior: the chains' law is the target
p_pre exp(r / alpha), the oracle sees clean samples only, the cost is what nfe says, it stops when the oracle budget
is spent, and keep_best never returns worse than where each chain started."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from svdd_cli.core import Counters, counted_model, counted_reward
from svdd_cli.oracle_calls import OracleLedger
from svdd_cli.samplers.csmc import CSMC
from svdd_cli.samplers.steps import rollout
from tests.conftest import CountLetter, RecordingLetter, table_model

STEPS = 4
PRIOR = torch.tensor([[0.5, 0.3, 0.2], [0.6, 0.2, 0.2], [0.2, 0.3, 0.5]])  # 3 positions, 3 letters: 27 words
MODEL = table_model(PRIOR.log(), "ACG", num_steps=STEPS)


def run(sampler: CSMC, n: int = 4, seed: int = 0, reward=None, trace=None, model=MODEL) -> torch.Tensor:
    return sampler.sample(model, reward or CountLetter("C"), n, torch.Generator().manual_seed(seed),
                          trace or (lambda r: None))


def law(words: list[str]) -> dict[str, float]:
    return {w: words.count(w) / len(words) for w in set(words)}


def total_variation(p: dict[str, float], q: dict[str, float]) -> float:
    return sum(abs(p.get(w, 0.0) - q.get(w, 0.0)) for w in set(p) | set(q)) / 2


def test_the_chains_law_is_the_prior_tilted_by_exp_reward_over_alpha():
    words = ["".join(w) for w in itertools.product("ACG", repeat=3)]
    prior = {w: math.prod(PRIOR[i, "ACG".index(c)].item() for i, c in enumerate(w)) for w in words}

    def target(alpha: float) -> dict[str, float]:
        tilted = {w: p * math.exp(w.count("C") / alpha) for w, p in prior.items()}
        return {w: v / sum(tilted.values()) for w, v in tilted.items()}

    records = []  # 2 of the 3 positions re-drawn per proposal; 4,000 chains: the sampling noise is TV ~0.03
    x = run(CSMC(iterations=20, alpha=1.0, remask_fraction=0.67, keep_best=False), n=4000, trace=records.append)
    found = law(MODEL.decode(x))
    assert total_variation(found, target(1.0)) < 0.045
    # the chains start at the prior, far from the target; a target off by 25% in alpha would be seen
    assert min(total_variation(prior, target(1.0)), total_variation(target(0.8), target(1.0)),
               total_variation(target(1.25), target(1.0))) > 0.07
    accepted = [r["accepted"] for r in records if r.get("step") == "population"]
    assert len(accepted) == 20 and all(0.2 < a < 0.9 for a in accepted)


def test_the_oracle_sees_clean_samples_only():
    reward = RecordingLetter("C")
    run(CSMC(iterations=5, remask_fraction=0.67), reward=reward)
    scored = [s for batch in reward.batches for s in batch]
    assert len(reward.batches) == 6 and all(len(s) == 3 and set(s) <= set("ACG") for s in scored)


@pytest.mark.parametrize(("settings", "k"), [({}, 1), ({"remask_fraction": 0.75}, 3),
                                               ({"remask_fraction": 0.75, "denoise_steps": 1}, 1)])
def test_it_costs_what_nfe_says(settings, k):
    counters = Counters()
    sampler = CSMC(iterations=6, **settings)
    run(sampler, n=5, model=counted_model(MODEL, counters, 64))
    assert counters.nfe == 5 * sampler.nfe(STEPS) == 5 * (STEPS + 6 * k)


def test_a_budget_buys_iterations():
    sampler = CSMC(iterations=3).with_budget(20, STEPS)
    assert sampler.iterations == 16 and sampler.nfe(STEPS) == 20  # 4 + 16 x 1
    with pytest.raises(ValueError, match="minimum of 4 NFE per sample"):
        CSMC().with_budget(3, STEPS)


def test_it_stops_when_the_oracle_budget_is_spent():
    reward = RecordingLetter("C")
    ledger = OracleLedger(budget=10)
    guide = counted_reward(reward, Counters(), -1.0, ledger=ledger)
    records = []
    run(CSMC(iterations=50, remask_fraction=0.67), n=4, reward=guide, trace=records.append)
    rounds = [r["round"] for r in records if r.get("step") == "population"]
    assert ledger.calls == 10 and len({s for batch in reward.batches for s in batch}) == 10
    assert 1 <= len(rounds) < 50  # stopped once the 10 distinct calls were made


@pytest.mark.parametrize(("settings", "message"), [
    ({"alpha": 0}, "sampler.alpha=0 must be > 0"), ({"alpha": -1.0}, "sampler.alpha=-1.0 must be > 0"),
    ({"iterations": -1}, "sampler.iterations=-1 must be >= 0"),
    ({"remask_fraction": 0}, "sampler.remask_fraction=0 must be in"),
    ({"remask_fraction": 1.5}, "sampler.remask_fraction=1.5 must be in"),
    ({"denoise_steps": 0}, "sampler.denoise_steps=0 must be >= 1"),
])
def test_bad_settings_are_refused_naming_the_setting(settings, message):
    with pytest.raises(ValueError, match=message):
        CSMC(**settings)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_keep_best_is_never_worse_than_where_each_chain_started(seed):
    n, reward = 16, CountLetter("G")
    generator = torch.Generator().manual_seed(seed)  # the draws csmc makes first: x_T, then the rollout
    start = reward(MODEL.decode(rollout(MODEL, MODEL.init(n, generator), generator, lambda r: None)))
    best = reward(MODEL.decode(run(CSMC(iterations=10, alpha=0.2), n=n, seed=seed, reward=reward)))
    last = reward(MODEL.decode(run(CSMC(iterations=10, alpha=0.2, keep_best=False), n=n, seed=seed, reward=reward)))
    assert (best >= start).all() and (best >= last).all() and best.sum() > start.sum()
    assert (run(CSMC(iterations=0), n=n, seed=seed) == run(CSMC(iterations=0, keep_best=False), n=n, seed=seed)).all()
