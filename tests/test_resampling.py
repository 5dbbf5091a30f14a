"""Resampling schemes are unbiased, ESS is the textbook formula, and the adaptive step keeps the books."""

from __future__ import annotations

import math

import pytest
import torch

from svdd_cli.samplers.resampling import Resampling, ess, multinomial, residual, stratified, systematic

SCHEMES = {f.__name__: f for f in (systematic, multinomial, stratified, residual)}

WEIGHTS = torch.tensor([0.42, 0.25, 0.18, 0.15, 0.0])  # K = 5, one particle with no weight


def offspring(ancestors: torch.Tensor, k: int) -> torch.Tensor:
    """Copies of each particle per row: ancestors (B, K) -> counts (B, K)."""
    return torch.zeros(ancestors.shape[0], k).scatter_add_(1, ancestors, torch.ones(ancestors.shape))


@pytest.mark.parametrize("name", SCHEMES)
def test_expected_offspring_is_k_times_the_weight(name):
    draws = 40_000  # std of each mean count <= sqrt(K w (1 - w) / draws) < 0.006
    ancestors = SCHEMES[name](WEIGHTS.expand(draws, 5), torch.Generator().manual_seed(0))
    assert ancestors.shape == (draws, 5) and ancestors.dtype == torch.long
    counts = offspring(ancestors, 5)
    assert torch.allclose(counts.mean(0), 5 * WEIGHTS, atol=0.025)
    assert (counts[:, 4] == 0).all()  # zero weight: never an ancestor
    assert (counts.sum(1) == 5).all()


@pytest.mark.parametrize("name", SCHEMES)
def test_a_single_weight_vector_gives_k_ancestors(name):
    ancestors = SCHEMES[name](WEIGHTS, torch.Generator().manual_seed(1))
    assert ancestors.shape == (5,) and 0 <= ancestors.min() and ancestors.max() <= 3


@pytest.mark.parametrize("scheme", [systematic, residual])
def test_low_variance_schemes_keep_the_deterministic_copies(scheme):
    counts = offspring(scheme(WEIGHTS.expand(2000, 5), torch.Generator().manual_seed(2)), 5)
    assert (counts >= (5 * WEIGHTS).floor()).all()
    if scheme is systematic:  # systematic: every count is floor(K w) or ceil(K w)
        assert (counts <= (5 * WEIGHTS).ceil()).all()


def test_ess_of_known_weights():
    inf = math.inf
    log_w = torch.tensor([[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, -inf, -inf], [0.0, -inf, -inf, -inf],
                          [math.log(3), 0.0, 0.0, 0.0]])
    assert torch.allclose(ess(log_w), torch.tensor([4.0, 2.0, 1.0, 36 / 12]))
    assert torch.allclose(ess(log_w[:2] + 123.0), ess(log_w[:2]))  # unnormalised: a shift changes nothing


def test_adaptive_step_resamples_only_degenerate_outputs_and_keeps_the_books():
    log_w = torch.tensor([[0.0, -math.inf, -math.inf, -math.inf],  # ESS 1 < 0.5 * 4: resampled
                          [0.3, 0.0, 0.1, 0.2]])  # ESS ~ 3.97: carried
    res = Resampling(systematic, ess_threshold=0.5)(log_w, 0.3, torch.Generator().manual_seed(0))
    assert res.resampled.tolist() == [True, False]
    assert res.rows.tolist() == [0, 0, 0, 0, 4, 5, 6, 7]  # output 0 all copy particle 0; output 1 untouched
    assert torch.equal(res.log_w, torch.tensor([[0.0] * 4, [0.3, 0.0, 0.1, 0.2]]))  # reset / carried
    # evidence: resampling folds log mean w into log Z; a carried output folds nothing yet
    assert torch.allclose(res.log_z, torch.tensor([-math.log(4), 0.0]))


def test_nothing_is_drawn_outside_the_window_or_when_no_output_needs_it():
    degenerate = torch.tensor([[0.0, -9.0, -9.0, -9.0]])
    generator = torch.Generator().manual_seed(0)
    before = generator.get_state()
    outside = Resampling(resample_from=0.5)(degenerate, 0.25, generator)
    healthy = Resampling()(torch.zeros(1, 4), 0.75, generator)
    assert torch.equal(generator.get_state(), before)
    for res in (outside, healthy):
        assert res.rows.tolist() == [0, 1, 2, 3] and not res.resampled.any() and res.log_z.item() == 0
    assert torch.equal(outside.log_w, degenerate)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"scheme": "nope"}, "resampling='nope' is not a resampling function: pick one with sampler/resampling=NAME"),
    ({"ess_threshold": 1.5}, "ess_threshold=1.5"), ({"ess_threshold": -0.1}, "ess_threshold=-0.1"),
    ({"resample_from": 0.8, "resample_until": 0.2}, "resample_from=0.8"),
    ({"resample_until": 1.5}, "resample_until=1.5")])
def test_bad_resampling_settings_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Resampling(**kwargs)
