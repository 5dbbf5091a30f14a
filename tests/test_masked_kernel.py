"""Invariants of the masked diffusion kernel on tiny models with known probabilities."""

from __future__ import annotations

import itertools
from itertools import pairwise

import pytest
import torch
from torch import Tensor, nn

from svdd_cli.errors import UserError
from svdd_cli.models.masked import MaskedDiffusion, nucleus
from svdd_cli.samplers.ancestral import Ancestral
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


# The random_order kernel: a fixed number of uniformly chosen masked positions unmask per step.

ALPHABET, LENGTH = "ACG", 3
STATES = torch.tensor(list(itertools.product(range(len(ALPHABET) + 1), repeat=LENGTH)))  # {A, C, G, mask}^3


class ConditionalDenoiser(nn.Module):
    """The exact conditionals of a random joint law q over the 27 words: logits(x0_i = v | x_t) =
    log q(x_i = v | x_t's unmasked tokens), by enumeration (a perfectly trained, time-agnostic denoiser)."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        words = torch.tensor(list(itertools.product(range(len(ALPHABET)), repeat=LENGTH)))  # (27, L)
        self.q = torch.rand(len(words), generator=torch.Generator().manual_seed(seed), dtype=torch.float64) ** 3
        self.q /= self.q.sum()
        fits = ((STATES[:, None] == words[None]) | (STATES[:, None] == len(ALPHABET))).all(-1)  # (64, 27)
        onehot = nn.functional.one_hot(words, len(ALPHABET)).double()  # (27, L, V)
        marginals = torch.einsum("sw,wlv->slv", fits * self.q, onehot)  # (64, L, V)
        logits = (marginals / marginals.sum(-1, keepdim=True)).log()
        self.table = torch.cat([logits, torch.zeros(len(STATES), LENGTH, 1)], -1).float()

    def forward(self, tokens: Tensor) -> Tensor:
        index = (tokens * (len(ALPHABET) + 1) ** torch.arange(LENGTH - 1, -1, -1)).sum(-1)
        return self.table[index]


def steps_law(model: MaskedDiffusion, dist: Tensor, times: list[float]) -> Tensor:
    """dist (64,) over the states carried through the kernel's steps `times` by its transition matrices; each row
    of each matrix must sum to 1 (log_prob is a normalised kernel)."""
    n = len(STATES)
    for t, s in pairwise(times):
        kernel = model.log_prob(model.predict(STATES, t).repeat(n), STATES.repeat(n, 1), s).view(n, n).double().exp()
        torch.testing.assert_close(kernel.sum(1), torch.ones(n, dtype=torch.float64))
        dist = dist @ kernel
    return dist


def chain_law(model: MaskedDiffusion) -> Tensor:
    """The exact law over the 64 states after all steps from all-mask."""
    return steps_law(model, (STATES == model.mask_id).all(1).double(), model.timesteps())


def test_random_order_with_one_token_per_step_samples_the_denoisers_joint_law_exactly():
    denoiser = ConditionalDenoiser()
    words = ~(STATES == len(ALPHABET)).any(1)
    exact = MaskedDiffusion(denoiser, ALPHABET, LENGTH, num_steps=LENGTH, kernel="random_order")
    torch.testing.assert_close(chain_law(exact)[words], denoiser.q.double(), atol=1e-6, rtol=0)
    # the mdlm kernel with as many steps draws positions unmasked together independently: measured TV 0.098
    # (64 steps: 0.005)
    mdlm = MaskedDiffusion(denoiser, ALPHABET, LENGTH, num_steps=LENGTH)
    assert 0.5 * (chain_law(mdlm)[words] - denoiser.q).abs().sum() > 0.05
    # fewer steps than tokens: L / num_steps per step, still a normalised kernel that ends with no mask
    assert chain_law(MaskedDiffusion(denoiser, ALPHABET, LENGTH, num_steps=2, kernel="random_order"))[words].sum() \
        == pytest.approx(1, abs=1e-6)


@pytest.mark.parametrize("kernel", ["random_order", "confidence", "left_to_right", "right_to_left"])
def test_one_position_kernels_propose_by_log_prob_and_unmask_the_scheduled_count(kernel):
    model = MaskedDiffusion(ConditionalDenoiser(), ALPHABET, LENGTH, num_steps=LENGTH, kernel=kernel, top_p=0.9)
    gen = torch.Generator().manual_seed(0)
    x = model.init(20_000, gen)
    for step, (t, s) in enumerate(pairwise(model.timesteps())):
        pred = model.predict(x, t)
        x_s = model.propose(pred, s, gen)
        kept = x != model.mask_id
        assert torch.equal(x_s[kept], x[kept])
        assert ((x_s == model.mask_id).sum(1) == LENGTH - step - 1).all()  # exactly one token per step
        if step == 1:  # drawn frequencies of the 64 states vs exp(log_prob), averaged over the rows' x_t
            index = (x_s * 4 ** torch.arange(LENGTH - 1, -1, -1)).sum(1)
            observed = torch.bincount(index, minlength=len(STATES)).double() / len(x_s)
            expected = torch.stack([model.log_prob(pred, x_s.new_tensor(state).expand_as(x_s), s).exp().mean()
                                    for state in STATES.tolist()]).double()
            assert 0.5 * (observed - expected).abs().sum() < 0.02
        x = x_s
    # a row off the schedule (more masks than the time says, as refine's re-masking gives) still ends clean
    t, s = model.timesteps()[-2:]
    off = torch.full((1, LENGTH), model.mask_id)
    assert not (model.propose(model.predict(off, t), s, gen) == model.mask_id).any()


def test_random_order_guidance_picks_the_position_by_its_tilted_mass_then_the_token():
    model = MaskedDiffusion(ConditionalDenoiser(), ALPHABET, LENGTH, num_steps=LENGTH, kernel="random_order")
    x_t = torch.full((40_000, LENGTH), model.mask_id)
    pred = model.predict(x_t, 1.0)
    delta = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, -1.0, 1.0]]).expand(len(x_t), -1, -1)
    x_s = model.propose_guided(pred, model.timesteps()[1], delta, torch.Generator().manual_seed(2))
    tilted = pred.output[0, :, :-1].exp() * delta[0].exp()  # (L, V): one of the 3 masked positions unmasks
    expected = tilted / tilted.sum()
    observed = torch.stack([torch.bincount(x_s[:, i], minlength=4)[:3].float() for i in range(LENGTH)]) / len(x_s)
    torch.testing.assert_close(observed, expected, atol=0.01, rtol=0)


def test_an_unknown_kernel_is_a_user_error():
    with pytest.raises(UserError, match="model.kernel=gibbs must be one of mdlm, random_order"):
        MaskedDiffusion(ConditionalDenoiser(), ALPHABET, LENGTH, kernel="gibbs")


# top_p: each token is drawn from its position's nucleus.

def test_nucleus_keeps_the_smallest_most_likely_set_with_the_mass_and_renormalises():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    torch.testing.assert_close(nucleus(probs.log(), 0.8).exp(), torch.tensor([[0.625, 0.375, 0.0, 0.0]]))
    torch.testing.assert_close(nucleus(probs.log(), 0.81).exp(), torch.tensor([[0.5, 0.3, 0.15, 0.0]]) / 0.95)
    torch.testing.assert_close(nucleus(probs.log(), 0.1).exp(), torch.tensor([[1.0, 0.0, 0.0, 0.0]]))


def truncated(p: Tensor, top_p: float) -> Tensor:
    """p (V,) cut by hand to its most likely tokens up to mass top_p, renormalised."""
    ranked = p.sort(descending=True).values
    size = int((ranked.cumsum(0) - ranked < top_p).sum())
    kept = torch.where(p >= ranked[size - 1], p, 0.0)
    return kept / kept.sum()


def position_weight(rule: str, state: list[int], i: int, top: float) -> float:
    """Unnormalised probability that masked position i of `state` is unmasked next under `rule`; top = the
    probability of i's most likely token in its nucleus."""
    masked = [j for j in range(LENGTH) if state[j] == len(ALPHABET)]
    return {"random_order": 1.0, "confidence": top, "left_to_right": float(i == masked[0]),
            "right_to_left": float(i == masked[-1])}[rule]


def law_by_hand(denoiser: ConditionalDenoiser, top_p: float, rule: str) -> Tensor:
    """The law over the 27 words of unmasking one position per step, enumerated independently of the kernel code:
    the sum over the L! orders of the product, step by step, of the position's probability under `rule` (uniform
    over the masked ones, proportional to the top token probability of its nucleus, or the first / last masked
    one) and its truncated conditional."""
    conditionals = denoiser.table[..., :-1].double().exp()  # (64 partial states, L, V)
    words = list(itertools.product(range(len(ALPHABET)), repeat=LENGTH))
    law = torch.zeros(len(words), dtype=torch.float64)
    for w, word in enumerate(words):
        for order in itertools.permutations(range(LENGTH)):
            state, prob = [len(ALPHABET)] * LENGTH, 1.0
            for pos in order:
                cut = [truncated(p, top_p) for p in conditionals[STATES.tolist().index(state)]]
                weight = {i: position_weight(rule, state, i, float(cut[i].max())) for i in range(LENGTH)
                          if state[i] == len(ALPHABET)}
                prob *= weight[pos] / sum(weight.values()) * float(cut[pos][word[pos]])
                state[pos] = word[pos]
            law[w] += prob
    return law


def test_top_p_with_one_token_per_step_samples_the_truncated_conditionals_exactly():
    denoiser = ConditionalDenoiser()
    model = MaskedDiffusion(denoiser, ALPHABET, LENGTH, num_steps=LENGTH, kernel="random_order", top_p=0.6)
    law = chain_law(model)[~(STATES == len(ALPHABET)).any(1)]
    torch.testing.assert_close(law, law_by_hand(denoiser, 0.6, "random_order"), atol=1e-6, rtol=0)
    assert (law == 0).sum() > 0 and 0.5 * (law - denoiser.q).abs().sum() > 0.05  # it truncated something


def test_confidence_samples_its_law_exactly_and_a_consistent_denoisers_joint():
    """Any order, adaptive ones too, multiplies exact conditionals into the joint: without a nucleus the
    confidence kernel samples q like random_order; with one, its own law, not random_order's."""
    denoiser = ConditionalDenoiser()
    words = ~(STATES == len(ALPHABET)).any(1)
    full = MaskedDiffusion(denoiser, ALPHABET, LENGTH, num_steps=LENGTH, kernel="confidence")
    torch.testing.assert_close(chain_law(full)[words], denoiser.q.double(), atol=1e-6, rtol=0)
    cut = MaskedDiffusion(denoiser, ALPHABET, LENGTH, num_steps=LENGTH, kernel="confidence", top_p=0.6)
    law = chain_law(cut)[words]
    torch.testing.assert_close(law, law_by_hand(denoiser, 0.6, "confidence"), atol=1e-6, rtol=0)
    uniform = chain_law(MaskedDiffusion(denoiser, ALPHABET, LENGTH, num_steps=LENGTH, kernel="random_order",
                                        top_p=0.6))[words]
    assert 0.5 * (law - uniform).abs().sum() > 0.01


@pytest.mark.parametrize("order", ["left_to_right", "right_to_left"])
def test_a_fixed_order_samples_its_law_exactly_and_a_consistent_denoisers_joint(order):
    """One order multiplies exact conditionals into the joint (without a nucleus: q, as random_order); with one,
    the truncated conditionals of that order only (the law differs from random_order's and from the other
    order's)."""
    denoiser = ConditionalDenoiser()
    words = ~(STATES == len(ALPHABET)).any(1)
    full = MaskedDiffusion(denoiser, ALPHABET, LENGTH, num_steps=LENGTH, kernel=order)
    torch.testing.assert_close(chain_law(full)[words], denoiser.q.double(), atol=1e-6, rtol=0)
    law = chain_law(MaskedDiffusion(denoiser, ALPHABET, LENGTH, num_steps=LENGTH, kernel=order, top_p=0.6))[words]
    torch.testing.assert_close(law, law_by_hand(denoiser, 0.6, order), atol=1e-6, rtol=0)
    other = "right_to_left" if order == "left_to_right" else "left_to_right"
    for rule in ("random_order", other):
        assert 0.5 * (law - law_by_hand(denoiser, 0.6, rule)).abs().sum() > 0.01


def test_a_fixed_order_unmasks_exactly_the_next_position():
    model = MaskedDiffusion(ConditionalDenoiser(), ALPHABET, LENGTH, num_steps=LENGTH, kernel="right_to_left")
    gen = torch.Generator().manual_seed(0)
    x = model.init(100, gen)
    for step, (t, s) in enumerate(pairwise(model.timesteps())):
        x = model.propose(model.predict(x, t), s, gen)
        assert (x[:, LENGTH - 1 - step:] != model.mask_id).all() and (x[:, :LENGTH - 1 - step] == model.mask_id).all()


@pytest.mark.parametrize("kernel", ["confidence", "left_to_right", "right_to_left"])
def test_one_position_kernels_need_one_position_per_network_call(kernel):
    with pytest.raises(UserError, match=f"model.kernel={kernel} unmasks one position per network call: set model."
                                        "num_steps=3 \\(the model's length\\), not 2, or model.kernel=random_order"):
        MaskedDiffusion(ConditionalDenoiser(), ALPHABET, LENGTH, num_steps=2, kernel=kernel)


@pytest.mark.parametrize("top_p", [0.0, 1.5])
def test_a_top_p_outside_0_1_is_a_user_error(top_p):
    with pytest.raises(UserError, match=f"model.top_p={top_p} must be in \\(0, 1\\]"):
        MaskedDiffusion(ConditionalDenoiser(), ALPHABET, LENGTH, top_p=top_p)


# The ancestral sampler's corrector rounds (sampler.remask_rounds): re-mask a block, re-draw it with the kernel.

def remask_law(dist: Tensor, count: int) -> Tensor:
    """dist over words -> over states with `count` of the L positions masked, every subset alike."""
    out = torch.zeros_like(dist)
    subsets = list(itertools.combinations(range(LENGTH), count))
    for i, state in enumerate(STATES.tolist()):
        for subset in subsets:
            masked = [len(ALPHABET) if j in subset else v for j, v in enumerate(state)]
            out[STATES.tolist().index(masked)] += dist[i] / len(subsets)
    return out


def test_noise_to_masks_round_t_l_uniformly_chosen_positions():
    model = table_model(log_uniform(12, 4), "ACGT", num_steps=10)
    x0 = torch.randint(0, 4, (4000, 12), generator=torch.Generator().manual_seed(0))
    x_t = model.noise_to(x0, 0.3, torch.Generator().manual_seed(1))
    masked = x_t == model.mask_id
    assert (masked.sum(1) == round(0.3 * 12)).all() and torch.equal(x_t[~masked], x0[~masked])
    torch.testing.assert_close(masked.float().mean(0), torch.full((12,), 4 / 12), atol=0.03, rtol=0)
    assert torch.equal(model.noise_positions(x0, masked), x_t)


@pytest.mark.parametrize("top_p", [1.0, 0.6])
def test_corrector_rounds_sample_the_chain_of_remask_and_redraw(top_p):
    """Two rounds re-masking 2 of 3 positions (remask_fraction 0.5: k* = 2 steps), 40,000 samples against the law
    composed by hand from the remask law and the kernel's matrices: exact conditionals leave q unchanged (a block
    Gibbs move); truncated ones, which disagree, move it."""
    model = MaskedDiffusion(ConditionalDenoiser(), ALPHABET, LENGTH, num_steps=LENGTH, kernel="random_order",
                            top_p=top_p)
    law = before = chain_law(model)
    for _ in range(2):
        law = steps_law(model, remask_law(law, 2), model.timesteps()[1:])
    words = ~(STATES == model.mask_id).any(1)
    assert law[~words].abs().sum() < 1e-9
    if top_p == 1:
        torch.testing.assert_close(law[words], ConditionalDenoiser().q.double(), atol=1e-6, rtol=0)
    else:
        assert 0.5 * (law - before).abs().sum() > 0.1  # measured 0.153
    x = Ancestral(remask_rounds=2, remask_fraction=0.5).sample(model, None, 40_000, torch.Generator().manual_seed(0),
                                                                lambda record: None)
    index = (x * (len(ALPHABET) + 1) ** torch.arange(LENGTH - 1, -1, -1)).sum(1)
    observed = torch.bincount(index, minlength=len(STATES)).double() / len(x)
    assert 0.5 * (observed - law).abs().sum() < 0.02  # measured 0.011 (top_p 1), 0.0025 (0.6)


def test_corrector_rounds_cost_their_steps_and_need_a_masked_model():
    assert Ancestral(remask_rounds=12, remask_fraction=0.15).nfe(24) == 24 + 12 * 4
    assert Ancestral().nfe(24) == 24
    with pytest.raises(ValueError, match="sampler.remask_rounds=-1 must be >= 0"):
        Ancestral(remask_rounds=-1)
    with pytest.raises(ValueError, match="sampler.remask_fraction=0 must be in \\(0, 1\\]"):
        Ancestral(remask_rounds=1, remask_fraction=0)
    from tests.test_image_kernel import tiny_model  # a Gaussian (image) model: nothing to re-mask
    with pytest.raises(UserError, match="sampler.remask_rounds needs a masked \\(sequence\\) model"):
        Ancestral(remask_rounds=1).sample(tiny_model(num_steps=2), None, 1, torch.Generator(), lambda record: None)
