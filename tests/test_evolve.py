"""evolve (evolution around the prior): invariants on the enumerable table model — the oracle sees clean samples
only, the population never gets worse, generations=0 is the best of the initial ancestral samples, and it stops
when the oracle budget is spent."""

from __future__ import annotations

import pytest
import torch

from svdd_cli.core import Counters, counted_model, counted_reward
from svdd_cli.errors import UserError
from svdd_cli.oracle_calls import OracleLedger
from svdd_cli.samplers.evolve import Evolve, Scored
from svdd_cli.samplers.steps import rollout
from svdd_cli.samplers.surrogate import TanimotoGP, kmer_counts, tanimoto
from tests.conftest import CountLetter, RecordingLetter, table_model

STEPS = 4
LOGITS = torch.log(torch.tensor([[0.5, 0.3, 0.2]] * 3))  # the enumerable model: 3 positions, 3 letters, 27 words
MODEL = table_model(LOGITS, "ACG", num_steps=STEPS)


def run(sampler: Evolve, n: int = 4, seed: int = 0, reward=None, trace=None) -> torch.Tensor:
    return sampler.sample(MODEL, reward or CountLetter("C"), n, torch.Generator().manual_seed(seed),
                          trace or (lambda r: None))


def test_the_oracle_sees_clean_samples_only():
    reward = RecordingLetter("A")
    run(Evolve(generations=5, crossover=0.5), reward=reward)
    scored = [s for batch in reward.batches for s in batch]
    assert len(reward.batches) == 6 and all(len(s) == 3 and set(s) <= set("ACG") for s in scored)


def test_the_population_never_gets_worse():
    records = []
    run(Evolve(generations=8, remask_fraction=0.5, crossover=0.5), n=3, reward=CountLetter("G"),
        trace=records.append)
    kept = [r["kept_mean"] for r in records if r.get("step") == "population"]
    assert len(kept) == 8 and all(a <= b + 1e-9 for a, b in zip(kept, kept[1:]))


def test_no_generation_is_the_best_distinct_of_the_initial_samples():
    n, initial = 3, 5
    x = run(Evolve(generations=0, initial=initial), n=n, reward=CountLetter("G"))
    generator = torch.Generator().manual_seed(0)  # the draws evolve makes first: x_T, then the rollout
    pool = rollout(MODEL, MODEL.init(initial * n, generator), generator, lambda r: None)
    words = set(MODEL.decode(pool))
    best = sorted((w.count("G") for w in words), reverse=True)[:n]
    assert sorted((w.count("G") for w in MODEL.decode(x)), reverse=True) == best


def test_evolution_finds_the_best_word_the_prior_rarely_draws():
    x = run(Evolve(generations=15, initial=2, remask_fraction=0.67), n=4, reward=CountLetter("G"))
    assert "GGG" in MODEL.decode(x)  # the prior draws it with probability 0.008


def test_it_costs_what_nfe_says_and_stops_when_the_oracle_budget_is_spent():
    counters = Counters()
    sampler = Evolve(generations=6, initial=2)
    sampler.sample(counted_model(MODEL, counters, 64), CountLetter("C"), 4, torch.Generator().manual_seed(1),
                   lambda r: None)
    assert counters.nfe == 4 * sampler.nfe(STEPS)
    reward = RecordingLetter("A")
    ledger = OracleLedger(budget=10)
    guide = counted_reward(reward, Counters(), -1.0, ledger=ledger)
    records = []
    sampler.sample(MODEL, guide, 4, torch.Generator().manual_seed(1), records.append)
    generations = [r["generation"] for r in records if r.get("step") == "population"]
    assert ledger.calls <= 10 and len(generations) < 6  # stopped once the 10 distinct calls were made


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"remask_fraction": 0}, "remask_fraction=0 must be in"), ({"crossover": 1.5}, "crossover=1.5"),
    ({"kappa": 0}, "kappa=0 must be > 0"), ({"initial": 0}, "initial=0 must be >= 1"),
    ({"screen": 0}, "screen=0 must be >= 1"), ({"denoise_steps": 0}, "denoise_steps=0 must be >= 1"),
])
def test_bad_settings_are_refused_naming_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Evolve(**kwargs)


def test_screening_never_pays_for_a_repeat_and_costs_what_nfe_says():
    counters = Counters()
    reward = RecordingLetter("A")
    sampler = Evolve(generations=5, initial=2, remask_fraction=0.67, denoise_steps=1, screen=4,
                     surrogate=TanimotoGP(kept=8))
    sampler.sample(counted_model(MODEL, counters, 64), reward, 3, torch.Generator().manual_seed(2), lambda r: None)
    assert counters.nfe == 3 * sampler.nfe(STEPS) == 3 * (2 * STEPS + 5 * 4 * 1)
    later = [s for batch in reward.batches[1:] for s in batch]
    assert all(len(batch) <= 3 for batch in reward.batches[1:])
    assert len(set(later)) == len(later) and not set(later) & set(reward.batches[0])  # each call a new word


def test_the_surrogate_sends_the_candidates_it_values_most():
    scored = Scored(TanimotoGP(beta=0.0))
    scored.add(["AAA", "CCC"], torch.tensor([0.0, 3.0]))  # CCC scored best
    names = ["AAA", "AAC", "CCA", "CCC", "GGT"]
    # unseen only: CCA (most like the best) first, GGT (like neither: the mean) next, AAC (like the worst) last
    assert scored.pick(names, 2).tolist() == [2, 4]
    assert scored.pick(names, 1).tolist() == [2]
    assert sorted(scored.pick(names, 5).tolist()) == [1, 2, 4]


def test_the_gp_fits_what_it_saw_and_the_kernel_is_tanimoto():
    a = torch.tensor([[1.0, 1, 0, 0], [0, 0, 1, 1], [1, 0, 1, 0], [0, 0, 0, 0]], dtype=torch.float64)
    assert torch.allclose(tanimoto(a, a).diagonal(), torch.ones(4, dtype=torch.float64))
    assert tanimoto(a[:1], a[1:2]).item() == 0 and abs(tanimoto(a[:1], a[2:3]).item() - 1 / 3) < 1e-12
    scores = torch.tensor([1.0, 5.0, float("nan"), 2.0])  # the refused call (NaN) is left out
    value = TanimotoGP(noise=1e-6, beta=0.0).value(a, scores, a)
    assert torch.allclose(value[[0, 1, 3]], scores[[0, 1, 3]].double(), atol=1e-3)


def test_a_surrogate_without_features_counts_substrings_of_strings_only():
    counts = kmer_counts(["ACGT", "AC"], k=2, bins=64)
    assert counts.sum(1).tolist() == [4 + 3, 2 + 1] and (kmer_counts(["ACGT"], 2, 64) == counts[:1]).all()
    with pytest.raises(UserError, match="sampler.surrogate needs `features`"):
        TanimotoGP().featurize([torch.zeros(3, 8, 8)])


def test_several_remask_fractions_split_the_parents_and_cost_their_mean():
    counters = Counters()
    sampler = Evolve(generations=3, initial=1, remask_fraction=[0.25, 0.75])  # k* = 1 and 3 of the 4 steps
    assert sampler.nfe(STEPS) == STEPS + 3 * (1 + 3) / 2
    sampler.sample(counted_model(MODEL, counters, 64), CountLetter("C"), 4, torch.Generator().manual_seed(3),
                   lambda r: None)
    assert counters.nfe == 4 * sampler.nfe(STEPS)
    with pytest.raises(ValueError, match=r"remask_fraction=\[0.5, 0\] must be in \(0, 1\]"):
        Evolve(remask_fraction=[0.5, 0])
