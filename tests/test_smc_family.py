"""smc, fk, nested_is and beam on a tiny enumerable masked model: the SMC family samples the tilted target
pi(x) ~ p(x) exp(r(x) / alpha) exactly, beam search finds the maximum, and every sampler counts its cost.

The model: length 3 over "ACG", 4 steps, a fixed random denoiser whose logits depend on every token of x_t
(so x0-hat values change along a path), and a random reward table over the 27 words (no additive
structure). p(x) is computed exactly by pushing the kernel's transition matrix over all 64 states of
{A, C, G, mask}^3 through the 4 steps; ancestral sampling is checked against it first.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import Tensor, nn

from svdd_cli.core import Counters, counted_model, counted_reward
from svdd_cli.models.masked import MaskedDiffusion
from svdd_cli.samplers.ancestral import Ancestral
from svdd_cli.samplers.beam import Beam, dedupe
from svdd_cli.samplers.best_of_n import BestOfN
from svdd_cli.samplers.fk import FK
from svdd_cli.samplers.nested_is import NestedIS
from svdd_cli.samplers.potentials import RunningMax, RunningSum
from svdd_cli.samplers.resampling import multinomial, residual
from svdd_cli.samplers.smc import SMC
from svdd_cli.samplers.svdd import SVDD
from tests.conftest import CountLetter, log_uniform, table_model

ALPHABET, LENGTH, STEPS, ALPHA = "ACG", 3, 4, 0.5
WORDS = ["".join(w) for w in itertools.product(ALPHABET, repeat=LENGTH)]


class ContextDenoiser(nn.Module):
    """logits(x0_i = v | x_t) = base[i, v] + sum_j pair[j, x_t[j], i, v]: every token of x_t matters."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        v = len(ALPHABET)
        self.base = nn.Parameter(torch.randn(LENGTH, v, generator=g))
        self.pair = nn.Parameter(torch.randn(LENGTH, v + 1, LENGTH, v, generator=g))

    def forward(self, tokens: Tensor) -> Tensor:
        logits = self.base + self.pair[torch.arange(LENGTH), tokens].sum(1)  # (B, L, V)
        return torch.cat([logits, torch.zeros(*logits.shape[:2], 1)], -1)  # mask column, never predicted


class TableReward:
    """A random reward in [0, 3) for each of the 27 words."""

    domains = ("dna",)

    def __init__(self, seed: int = 1) -> None:
        values = 3 * torch.rand(len(WORDS), generator=torch.Generator().manual_seed(seed))
        self.table = dict(zip(WORDS, values.tolist()))

    def __call__(self, samples: list[str]) -> Tensor:
        return torch.tensor([self.table[s] for s in samples])


MODEL = MaskedDiffusion(ContextDenoiser(), ALPHABET, LENGTH, num_steps=STEPS)
REWARD = TableReward()
R = torch.tensor([REWARD.table[w] for w in WORDS], dtype=torch.float64)


@pytest.fixture(scope="module")
def p() -> Tensor:
    """Exact law of ancestral samples over WORDS, by the transition matrices of the 4 steps."""
    states = torch.tensor(list(itertools.product(range(len(ALPHABET) + 1), repeat=LENGTH)))  # (64, 3)
    n = len(states)
    dist = (states == MODEL.mask_id).all(1).double()  # x_T = all mask
    times = MODEL.timesteps()
    for t, s in zip(times[:-1], times[1:]):
        pred = MODEL.predict(states, t)
        kernel = MODEL.log_prob(pred.repeat(n), states.repeat(n, 1), s).view(n, n).double().exp()
        assert torch.allclose(kernel.sum(1), torch.ones(n, dtype=torch.float64), atol=1e-5)
        dist = dist @ kernel
    law = dict(zip(MODEL.decode(states), dist.tolist()))
    assert sum(law[w] for w in WORDS) == pytest.approx(1, abs=1e-5)  # nothing left masked at the end
    return torch.tensor([law[w] for w in WORDS], dtype=torch.float64)


def tilted(p: Tensor, alpha: float) -> Tensor:
    pi = p * torch.exp(R / alpha)
    return pi / pi.sum()


def tv(a: Tensor, b: Tensor) -> float:
    return 0.5 * (a - b).abs().sum().item()


def frequencies(x: Tensor, weights: Tensor | None = None) -> Tensor:
    """Empirical law over WORDS of token rows x (N, L), optionally weighted (N,)."""
    index = torch.tensor([WORDS.index(s) for s in MODEL.decode(x)])
    weights = torch.ones(len(index), dtype=torch.float64) if weights is None else weights.double()
    return torch.zeros(len(WORDS), dtype=torch.float64).index_add(0, index, weights) / weights.sum()


def test_ancestral_sampling_follows_the_exact_kernel_law_and_the_tilt_matters(p):
    x = Ancestral().sample(MODEL, REWARD, 20_000, torch.Generator().manual_seed(0), lambda r: None)
    assert tv(frequencies(x), p) < 0.02  # measured 0.005; sampling noise ~0.008
    assert tv(p, tilted(p, ALPHA)) > 0.25 and tv(p, tilted(p, 1.0)) > 0.15  # 0.29 and 0.17


WEIGHTED = {  # name -> (sampler, alpha); K = 8 particles: the estimator below needs no large K
    "smc": (SMC(8, ALPHA), ALPHA),
    "smc tempered": (SMC(8, ALPHA, tempering=1.0), ALPHA),
    "smc multinomial every step": (SMC(8, ALPHA, ess_threshold=1.0, resampling=multinomial), ALPHA),
    "smc residual late window": (SMC(8, ALPHA, 1.0, resampling=residual, resample_from=0.5), ALPHA),
    "fk max": (FK(8, ALPHA, potential=RunningMax(), ess_threshold=1.0), ALPHA),
    "fk sum": (FK(8, 1.0, potential=RunningSum()), 1.0),  # heavy-tailed at alpha 0.5 or resampling every step
    "nested_is": (NestedIS(8, 2, ALPHA), ALPHA),
}


@pytest.mark.parametrize("name", WEIGHTED)
def test_weighted_particles_target_the_tilted_law_and_estimate_its_normaliser(p, name):
    """Over n outputs, sum_o Z_o (weighted particles of o) / sum_o Z_o is consistent for pi at FIXED K, since
    E[Z_hat sum_i w_i delta(x_i)] = Z pi: a wrong weight, or bookkeeping lost at a resampling event,
    is a bias that no number of outputs removes. Same for mean_o Z_o -> Z = E_p[exp(r / alpha)]."""
    sampler, alpha = WEIGHTED[name]
    records = []
    parts = sampler.particles(MODEL, REWARD, 4000, torch.Generator().manual_seed(0), records.append)
    weights = (parts.log_w + parts.log_z[:, None]).double()
    law = frequencies(parts.x.flatten(0, 1), (weights - weights.max()).exp().flatten())
    assert tv(law, tilted(p, alpha)) < 0.03  # measured 0.004-0.017 (sampling noise)
    z = (p * torch.exp(R / alpha)).sum().item()
    assert parts.log_z.double().exp().mean().item() == pytest.approx(z, rel=0.05)  # measured within 1.3%
    assert sum(r["resampled"] for r in records[:-1]) > 0  # resampling events happened along the way


def test_one_draw_per_output_follows_the_tilted_law(p):
    """What `sample` returns (fk and nested_is share the draw): one particle per output by its weight."""
    x = SMC(16, ALPHA).sample(MODEL, REWARD, 3000, torch.Generator().manual_seed(1), lambda r: None)
    assert x.shape == (3000, LENGTH)
    assert tv(frequencies(x), tilted(p, ALPHA)) < 0.05  # noise ~0.02 plus the O(1/K) bias of one draw from K


@pytest.mark.parametrize("sampler", [
    SMC(8, ALPHA, ess_threshold=0), SMC(8, ALPHA, ess_threshold=0, tempering=2.0),
    FK(8, ALPHA, ess_threshold=0), FK(8, ALPHA, potential=RunningMax(), ess_threshold=0),
    FK(8, ALPHA, potential=RunningSum(), ess_threshold=0),
], ids=["smc", "smc tempered", "fk difference", "fk max", "fk sum"])
def test_without_resampling_the_weights_telescope_to_the_final_reward(sampler):
    """All intermediate potentials cancel (or are corrected away): w = exp(r(x_0) / alpha) up to the
    shared G_T(x_T) of the identical all-mask x_T."""
    parts = sampler.particles(MODEL, REWARD, 50, torch.Generator().manual_seed(2), lambda r: None)
    r = REWARD(MODEL.decode(parts.x.flatten(0, 1))).view(50, 8)
    assert torch.allclose(parts.log_w, torch.log_softmax(r / ALPHA, 1), atol=1e-4)


def test_smc_with_one_particle_is_ancestral_sampling():
    runs = [s.sample(MODEL, REWARD, 64, torch.Generator().manual_seed(3), lambda r: None)
            for s in (SMC(1, ALPHA), Ancestral())]
    assert torch.equal(*runs)


def test_fk_with_the_difference_potential_is_smc():
    runs = [s.sample(MODEL, REWARD, 64, torch.Generator().manual_seed(3), lambda r: None)
            for s in (FK(8, ALPHA), SMC(8, ALPHA))]
    assert torch.equal(*runs)


def test_nested_is_that_never_resamples_is_svdd():
    runs = [s.sample(MODEL, REWARD, 64, torch.Generator().manual_seed(4), lambda r: None)
            for s in (NestedIS(1, 6, ALPHA), SVDD(6, alpha=ALPHA))]
    assert torch.equal(*runs)


def test_trace_has_one_record_per_step_and_the_final_weights():
    records = []
    SMC(8, ALPHA).sample(MODEL, REWARD, 5, torch.Generator().manual_seed(5), records.append)
    assert [r["step"] for r in records] == [*range(STEPS), "final"]
    assert all({"step", "t", "value_mean", "value_max", "ess", "resampled"} <= r.keys() for r in records[:-1])
    weights = torch.tensor(records[-1]["weights"])
    assert weights.shape == (5, 8) and torch.allclose(weights.sum(1), torch.ones(5))
    assert 1 <= records[-1]["ess"] <= 8


def counted(sampler, n=3):
    counters = Counters()
    sampler.sample(counted_model(MODEL, counters, 10**6), counted_reward(REWARD, counters, penalty=-1.0), n,
                   torch.Generator().manual_seed(6), lambda r: None)
    return counters


def test_network_evaluations_and_reward_calls_are_as_documented():
    k, m, b, c, t = 4, 3, 2, 5, STEPS
    assert counted(SMC(k, ALPHA)).nfe == 3 * k * t  # one prediction per particle per step
    assert counted(SMC(k, ALPHA)).reward_calls == 3 * k * (t + 1)  # v_T, then one value per step
    assert counted(FK(k, ALPHA, potential=RunningMax())).nfe == 3 * k * t
    assert counted(NestedIS(k, m, ALPHA)).nfe == 3 * k * (1 + m * (t - 1))  # svdd's cost per particle
    assert counted(Beam(b, c)).nfe == 3 * (1 + b * c * (t - 1))
    # lookahead 2 from the children at steps 0, 1, 2 costs 2, 1, 0 predictions (x_0 needs none)
    assert counted(Beam(b, c, lookahead=2)).nfe == 3 * (1 + b * c * (t - 1) + b * c * 3)


def test_best_of_n_can_match_the_nfe_of_svdd():
    steps, m = 8, 12  # svdd: 1 + 12 * 7 = 85 per sample; best_of_n: N = ceil(85 / 8) = 11 -> 88
    model = table_model(log_uniform(6, 4), "ACGT", num_steps=steps)
    spent = {}
    for name, sampler in (("svdd", SVDD(m)), ("best_of_n", BestOfN(match_nfe=m))):
        counters = Counters()
        sampler.sample(counted_model(model, counters, 10**6), CountLetter(), 2,
                       torch.Generator().manual_seed(0), lambda r: None)
        spent[name] = counters.nfe
    assert spent == {"svdd": 2 * 85, "best_of_n": 2 * 88}


def test_beam_with_enough_beams_is_exhaustive_and_finds_the_best_word():
    x = Beam(num_beams=64, num_children=64).sample(MODEL, REWARD, 4, torch.Generator().manual_seed(7),
                                                   lambda r: None)
    assert REWARD(MODEL.decode(x)).tolist() == [max(REWARD.table.values())] * 4


class Spy:
    """The model, recording the rows sent to predict (children) and to propose (kept beams, K copies each)."""

    def __init__(self, model: MaskedDiffusion) -> None:
        self.model, self.predicted, self.proposed = model, [], []

    def predict(self, x_t, t):
        self.predicted.append(x_t)
        return self.model.predict(x_t, t)

    def propose(self, pred, s, generator):
        self.proposed.append(pred.x_t)
        return self.model.propose(pred, s, generator)

    def __getattr__(self, name):
        return getattr(self.model, name)


def distinct(rows: Tensor) -> int:
    return len(torch.unique(rows, dim=0))


def test_beam_keeps_the_top_distinct_children():
    n, b, k = 6, 3, 8
    spy = Spy(MODEL)
    Beam(b, k).sample(spy, REWARD, n, torch.Generator().manual_seed(8), lambda r: None)
    for children, beams in zip(spy.predicted[1:], spy.proposed[1:]):  # step j's children, step j+1's beams
        children, beams = children.view(n, b * k, LENGTH), beams.view(n, b, k, LENGTH)[:, :, 0]
        for o in range(n):
            assert distinct(beams[o]) == min(b, distinct(children[o]))
            assert (beams[o][:, None] == children[o][None]).all(-1).any(1).all()  # beams are children
            best = REWARD(MODEL.decode(MODEL.predict(children[o], 0.5).x0)).max()  # x0-hat of unmasked kept
            assert REWARD(MODEL.decode(MODEL.predict(beams[o], 0.5).x0)).max() == best


def test_dedupe_drops_repeats_within_an_output_only():
    x = torch.tensor([[[0, 1], [1, 1], [0, 1], [2, 2]], [[0, 1], [0, 1], [0, 1], [1, 1]]])  # (n=2, C=4, L=2)
    score = torch.arange(8.0).view(2, 4)
    inf = -math.inf
    assert dedupe(x, score).tolist() == [[0.0, 1.0, inf, 3.0], [4.0, inf, inf, 7.0]]


NEW = [SMC(4, ALPHA), FK(4, ALPHA, potential=RunningSum()), NestedIS(3, 3, ALPHA), Beam(2, 3, lookahead=1)]


@pytest.mark.parametrize("sampler", NEW, ids=["smc", "fk", "nested_is", "beam"])
def test_same_seed_same_samples_any_max_batch(sampler):
    runs = [sampler.sample(counted_model(MODEL, Counters(), mb), REWARD, 8, torch.Generator().manual_seed(9),
                           lambda r: None) for mb in (7, 4096, 4096)]
    assert torch.equal(runs[0], runs[1]) and torch.equal(runs[1], runs[2])


@pytest.mark.parametrize("sampler", NEW, ids=["smc", "fk", "nested_is", "beam"])
def test_every_new_sampler_steers_a_toy_reward(sampler):
    model = table_model(log_uniform(10, 4), "ACGT", num_steps=6)
    draw = [s.sample(model, CountLetter(), 32, torch.Generator().manual_seed(10), lambda r: None)
            for s in (sampler, Ancestral())]
    steered, plain = (CountLetter()(model.decode(x)).mean() for x in draw)
    assert steered > plain + 1  # ancestral: 2.5 A's of 10


@pytest.mark.parametrize(("cls", "kwargs", "message"), [
    (SMC, {"num_particles": 0}, "sampler.num_particles=0 must be >= 1"),
    (SMC, {"alpha": 0.0}, "sampler.alpha=0.0 must be > 0"),
    (SMC, {"tempering": -1.0}, "sampler.tempering=-1.0"),
    (SMC, {"resampling": "best"}, "sampler.resampling='best' is not a resampling function"),
    (SMC, {"ess_threshold": 2.0}, "sampler.ess_threshold=2.0"),
    (SMC, {"resample_from": 0.5, "resample_until": 0.5}, "sampler.resample_from=0.5"),
    (FK, {"num_particles": -1}, "sampler.num_particles=-1"),
    (FK, {"alpha": -0.5}, "sampler.alpha=-0.5"),
    (FK, {"potential": "min"}, "sampler.potential='min' is not a potential: pick one with sampler/potential=NAME"),
    (FK, {"resampling": "x"}, "sampler.resampling='x'"),
    (NestedIS, {"num_particles": 0}, "sampler.num_particles=0"),
    (NestedIS, {"num_candidates": 0}, "sampler.num_candidates=0"),
    (NestedIS, {"alpha": 0}, "sampler.alpha=0"),
    (NestedIS, {"ess_threshold": -1}, "sampler.ess_threshold=-1"),
    (Beam, {"num_beams": 0}, "sampler.num_beams=0"),
    (Beam, {"num_children": 0}, "sampler.num_children=0"),
    (Beam, {"lookahead": -1}, "sampler.lookahead=-1"),
    (BestOfN, {"match_nfe": 0}, "sampler.match_nfe=0"),
])
def test_bad_settings_are_rejected_naming_the_setting(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)
