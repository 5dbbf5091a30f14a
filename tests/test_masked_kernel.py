"""Invariants of the masked diffusion kernel on tiny models with known probabilities."""

from __future__ import annotations

from itertools import pairwise

import torch

from tests.conftest import log_uniform, table_model


def test_unmasked_tokens_never_change_and_nothing_is_masked_at_the_end():
    model = table_model(log_uniform(12, 4), "ACGT", num_steps=10)
    gen = torch.Generator().manual_seed(0)
    x = model.init(32, gen)
    times = model.timesteps()
    for t, s in pairwise(times):
        x_s = model.propose(model.predict(x, t), s, gen)
        kept = x != model.mask_id
        assert torch.equal(x_s[kept], x[kept])
        x = x_s
    assert not (x == model.mask_id).any()


def test_proposals_follow_the_kernel_probabilities():
    probs = torch.tensor([[0.7, 0.1, 0.1, 0.1], [0.25, 0.25, 0.4, 0.1]])
    model = table_model(probs.log(), "ACGT", num_steps=4)
    t, s = 0.75, 0.5
    x_t = torch.tensor([[model.mask_id, model.mask_id]]).repeat(40_000, 1)
    pred = model.predict(x_t, t)
    x_s = model.propose(pred, s, torch.Generator().manual_seed(1))
    a_t, a_s = model.alpha(t), model.alpha(s)
    expected = torch.cat([probs * (a_s - a_t) / (1 - a_t), torch.full((2, 1), (1 - a_s) / (1 - a_t))], dim=1)
    observed = torch.stack([torch.bincount(x_s[:, i], minlength=5).float() / len(x_s) for i in range(2)])
    assert torch.allclose(observed, expected, atol=0.01)
    # log_prob is the log of the same transition probabilities
    lp = model.log_prob(pred.take(torch.tensor([0])), torch.tensor([[0, 2]]), s)
    assert torch.allclose(lp, (expected[0, 0] * expected[1, 2]).log(), atol=1e-5)


def test_predict_carries_unmasked_tokens_and_never_predicts_the_mask():
    model = table_model(log_uniform(5, 4), "ACGT", num_steps=5)
    x_t = torch.tensor([[0, 4, 2, 4, 3]])
    pred = model.predict(x_t, 0.5)
    assert torch.equal(pred.x0[0, [0, 2, 4]], x_t[0, [0, 2, 4]])
    assert (pred.x0 != model.mask_id).all()
    assert torch.isinf(pred.output[..., model.mask_id]).all()


def test_decode_encode_round_trip():
    model = table_model(log_uniform(6, 4), "ACGT", num_steps=2)
    seqs = ["ACGTAC", "TTTTGG"]
    assert model.decode(model.encode(seqs)) == seqs


def test_elbo_is_exact_for_a_context_free_model():
    """For a context-free denoiser the NELBO integrand's expectation equals -log p(x0) exactly."""
    probs = torch.tensor([[0.5, 0.2, 0.2, 0.1]] * 6)
    model = table_model(probs.log(), "ACGT", num_steps=2)
    x0 = torch.tensor([[0, 1, 2, 3, 0, 0]])
    exact = probs[torch.arange(6), x0[0]].log().sum()
    ll = model.log_likelihood(x0.repeat(2000, 1), torch.Generator().manual_seed(0), draws=8).mean()
    assert abs(ll - exact) < 0.05 * abs(exact)
