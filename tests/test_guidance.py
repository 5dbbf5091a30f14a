"""dps and classifier_guidance on masked models: the exact law of the guided chain on the enumerable model of
test_smc_family.py (sampling follows it, and it raises the expected reward / value), the NaN guard, clipping,
the cost, one-line errors, the differentiable rewards, and `svdd run ... sampler=dps` end to end."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from itertools import pairwise

import pytest
import torch
from torch import Tensor

from svdd_cli import run as run_module
from svdd_cli.assets import asset_root
from svdd_cli.checkpoint import save_folder
from svdd_cli.core import Counters, counted_model, counted_reward
from svdd_cli.errors import UserError
from svdd_cli.models.gaussian import GaussianDiffusion, GaussianKernel
from svdd_cli.models.latent import LatentDiffusion
from svdd_cli.models.masked import vocab_order
from svdd_cli.rewards.aesthetic import Aesthetic
from svdd_cli.rewards.classifier import Classifier
from svdd_cli.rewards.enhancer import Enhancer
from svdd_cli.samplers.ancestral import Ancestral
from svdd_cli.samplers.classifier_guidance import ClassifierGuidance, value_direction
from svdd_cli.samplers.dps import DPS
from svdd_cli.samplers.guidance import guard
from svdd_cli.value.network import ValueNetwork
from tests.test_cli import svdd
from tests.test_smc_family import ALPHABET, LENGTH, MODEL, WORDS, TableReward, frequencies, tv
from tests.tiny_image_models import (
    save_tiny_aesthetic,
    save_tiny_classifier,
    save_tiny_sd,
    single_thread,
    tiny_scheduler,
    tiny_unet,
)

STATES = torch.tensor(list(itertools.product(range(len(ALPHABET) + 1), repeat=LENGTH)))  # {A, C, G, mask}^3


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with single_thread():
        yield


class LinearReward:
    """r(word) = sum_i W[i, letter_i], with W (L, 3) over the letters in the order "GAC" (not the model's "ACG")."""

    domains = ("dna",)
    alphabet = "GAC"

    def __init__(self, seed: int = 0) -> None:
        self.w = 2 * torch.randn(LENGTH, 3, generator=torch.Generator().manual_seed(seed))

    def score_probs(self, probs: Tensor) -> Tensor:
        return (probs * self.w).sum((1, 2))

    def __call__(self, samples: list[str]) -> Tensor:
        return torch.tensor([sum(float(self.w[i, self.alphabet.index(c)]) for i, c in enumerate(s)) for s in samples])


class LinearValue(ValueNetwork):
    """v(x_t, t) = sum_i W[i, x_t[i]] over tokens and the mask: the real class with a known gradient."""

    def __init__(self, seed: int = 1) -> None:
        super().__init__(list(ALPHABET), LENGTH, channels=4, layers=1)
        self.w = 2 * torch.randn(LENGTH, len(ALPHABET) + 1, generator=torch.Generator().manual_seed(seed))

    def forward(self, x_onehot: Tensor, t: Tensor) -> Tensor:
        return (x_onehot * self.w).sum((1, 2))


REWARD, VALUE = LinearReward(), LinearValue()
R = REWARD(WORDS).double()
V = torch.tensor([sum(float(VALUE.w[i, ALPHABET.index(c)]) for i, c in enumerate(w)) for w in WORDS]).double()
Step = Callable[[Tensor, float, float], Tensor]  # x_t (64, L), t, s -> logits of x_s per position (64, L, V+1)


def exact_law(step: Step) -> Tensor:
    """Law over WORDS of the chain whose step t -> s draws each position of x_s from softmax(step(x_t, t, s))."""
    n = len(STATES)
    dist = (STATES == MODEL.mask_id).all(1).double()
    for t, s in pairwise(MODEL.timesteps()):
        logq = step(STATES, t, s).log_softmax(-1).double()  # (64, L, V+1)
        kernel = sum(logq[:, i][:, STATES[:, i]] for i in range(LENGTH)).exp()  # (64 from, 64 to)
        assert torch.allclose(kernel.sum(1), torch.ones(n, dtype=torch.float64), atol=1e-5)
        dist = dist @ kernel
    law = dict(zip(MODEL.decode(STATES), dist.tolist()))
    return torch.tensor([law[w] for w in WORDS], dtype=torch.float64)


def plain(x: Tensor, t: float, s: float) -> Tensor:
    return MODEL.transition_log_probs(MODEL.predict(x, t), s)


def dps_step(scale: float) -> Step:
    direction = MODEL.reward_direction(REWARD, "dps")

    def step(x: Tensor, t: float, s: float) -> Tensor:
        pred, _, delta = direction(x, t)
        return MODEL.shifted_log_probs(pred, s, scale * delta)
    return step


def value_step(scale: float) -> Step:
    def step(x: Tensor, t: float, s: float) -> Tensor:
        pred, _, delta = value_direction(MODEL, VALUE, x, t)
        return MODEL.shifted_log_probs(pred, s, scale * delta)
    return step


def sample(sampler, n: int = 20_000, seed: int = 0, reward=REWARD, records: list | None = None) -> Tensor:
    trace = (lambda r: None) if records is None else records.append
    return sampler.sample(MODEL, reward, n, torch.Generator().manual_seed(seed), trace)


@pytest.fixture(scope="module")
def p() -> Tensor:
    return exact_law(plain)


def test_dps_samples_its_exact_guided_law_which_raises_the_expected_reward(p):
    expected = [float(exact_law(dps_step(scale)) @ R) for scale in (0.25, 1.0)]
    assert float(p @ R) + 1 < expected[0] < expected[1] - 1  # measured -6.21 (p), -4.55, 3.32
    assert tv(frequencies(sample(DPS(0.5))), exact_law(dps_step(0.5))) < 0.02  # noise ~0.008; TV(p, law) = 0.55


def test_classifier_guidance_samples_its_exact_guided_law_which_raises_the_expected_value(p):
    expected = [float(exact_law(value_step(scale)) @ V) for scale in (1.0, 4.0)]
    assert float(p @ V) + 0.3 < expected[0] < expected[1] - 0.3  # measured -1.86 (p), -1.36, -0.72
    x = sample(ClassifierGuidance(VALUE, scale=1.0))
    assert tv(frequencies(x), exact_law(value_step(1.0))) < 0.02  # TV(p, law) = 0.25


def test_the_guided_transition_tilts_unmasking_by_exp_delta_and_keeps_the_rest():
    t, s = MODEL.timesteps()[1:3]
    pred = MODEL.predict(STATES, t)
    delta = torch.randn(len(STATES), LENGTH, len(ALPHABET), generator=torch.Generator().manual_seed(7))
    want = MODEL.transition_log_probs(pred, s).exp()  # (64, L, V+1)
    masked = STATES == MODEL.mask_id
    want[..., :-1] = torch.where(masked.unsqueeze(-1), want[..., :-1] * delta.exp(), want[..., :-1])
    want = want / want.sum(-1, keepdim=True)  # staying masked keeps its pre-trained weight
    torch.testing.assert_close(MODEL.shifted_log_probs(pred, s, delta).softmax(-1), want)


def test_scale_zero_is_ancestral_sampling_and_the_cost_is_the_pretrained_one():
    anc = sample(Ancestral(), n=64, seed=1)
    for sampler, calls in ((DPS(0.0), 64 * 4), (ClassifierGuidance(VALUE, scale=0.0), 0)):
        counters = Counters()
        x = sampler.sample(counted_model(MODEL, counters, 10), counted_reward(REWARD, counters, -1.0), 64,
                           torch.Generator().manual_seed(1), lambda r: None)
        assert torch.equal(x, anc)
        assert counters.nfe == 64 * 4 and counters.reward_calls == calls


class Shifted(LinearReward):
    """r + c for every sequence, written as c / L per position: the same reward up to a constant."""

    def score_probs(self, probs: Tensor) -> Tensor:
        return super().score_probs(probs) + 5.0 * probs.sum((1, 2)) / LENGTH


def test_dps_is_blind_to_a_constant_added_to_the_reward():
    """delta[i, j] = g[i, j] - sum_k p[i, k] g[i, k]: staying masked is the reference, so r + const steers alike."""
    assert torch.equal(sample(DPS(1.0), n=256, seed=6), sample(DPS(1.0), n=256, seed=6, reward=Shifted()))


class HalfNaN(LinearReward):
    """Every other sample's reward is NaN, and so is its gradient."""

    def score_probs(self, probs: Tensor) -> Tensor:
        nan = torch.tensor([math.nan, 1.0]).repeat(len(probs) // 2)
        return super().score_probs(probs) * nan


def test_a_non_finite_gradient_row_takes_the_plain_step():
    records = []
    x = sample(DPS(2.0), n=64, seed=2, reward=HalfNaN(), records=records)
    anc = sample(Ancestral(), n=64, seed=2)
    assert torch.equal(x[0::2], anc[0::2]) and not torch.equal(x[1::2], anc[1::2])
    assert [r["nan_grads"] for r in records] == [32] * 4 and math.isfinite(records[-1]["value_mean"])


def test_guard_clips_each_row_and_zeroes_non_finite_ones():
    g = torch.tensor([[3.0, 4.0], [0.3, 0.4], [math.inf, 1.0], [math.nan, 0.0]])
    out = guard(g, max_norm=1.0)
    torch.testing.assert_close(out.direction, torch.tensor([[0.6, 0.8], [0.3, 0.4], [0.0, 0.0], [0.0, 0.0]]))
    assert out.clipped.tolist() == [True, False, False, False] and out.bad.tolist() == [False, False, True, True]
    assert torch.equal(guard(g, max_norm=None).direction[:2], g[:2])


def test_clipping_bounds_the_guidance(p):
    records = []
    x = sample(DPS(1.0, max_grad_norm=1.0), n=2000, seed=3, records=records)
    assert sum(r["clipped"] for r in records) > 0 and records[0]["grad_norm"] > 1
    clipped = REWARD(MODEL.decode(x)).mean().item()
    assert float(p @ R) + 0.5 < clipped < float(exact_law(dps_step(1.0)) @ R) - 5  # measured -6.21 < -5.32 < 3.31


@pytest.mark.parametrize(("sampler", "reward", "message"), [
    (DPS(1.0), TableReward(), "reward=TableReward is not differentiable; dps needs a reward with score_probs()"),
    (DPS(1.0), type("Wrong", (LinearReward,), {"alphabet": "ACGT"})(), "scores letters ACGT, but the model's"),
    (ClassifierGuidance(ValueNetwork(list("ACGT"), LENGTH, channels=4, layers=1)), REWARD, "was trained for tokens"),
])
def test_mistakes_are_user_errors(sampler, reward, message):
    with pytest.raises(UserError, match=message):
        sample(sampler, n=2, reward=reward)


@pytest.mark.parametrize(("cls", "kwargs", "message"), [
    (DPS, {"scale": -1.0}, "sampler.scale=-1.0 must be >= 0"),
    (DPS, {"max_grad_norm": 0.0}, "sampler.max_grad_norm=0.0 must be > 0"),
    (ClassifierGuidance, {"value": VALUE, "scale": -2}, "sampler.scale=-2"),
])
def test_bad_settings_are_rejected_naming_the_setting(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


def test_vocab_order_maps_the_models_tokens_to_the_rewards_letters():
    assert vocab_order(list("ACGT"), "TGCA", "r").tolist() == [3, 2, 1, 0]
    assert vocab_order(list("ACGU"), "ACGT", "r").tolist() == [0, 1, 2, 3]  # T and U are one letter


def test_differentiable_rewards_agree_with_their_scores_on_hard_samples(tiny_classifier):
    enhancer = Enhancer(asset_root() / "checkpoints" / "dna_enhancer_oracle", device="cpu")
    seqs = ["".join("ACGT"[(7 * i + j) % 4] for j in range(200)) for i in range(3)]
    hard = torch.nn.functional.one_hot(torch.tensor([["ACGT".index(c) for c in s] for s in seqs]), 4).float()
    torch.testing.assert_close(enhancer.score_probs(hard), enhancer(seqs), atol=1e-4, rtol=1e-4)
    images = torch.rand(3, 1, 28, 28, requires_grad=True)
    reward = Classifier(tiny_classifier, "bag", device="cpu")
    torch.testing.assert_close(reward.score_images(images).detach(), reward(list(images.detach())))
    reward.score_images(images).sum().backward()
    assert images.grad.abs().sum() > 0


@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory) -> str:
    return str(save_tiny_classifier(tmp_path_factory.mktemp("classifier")))


def test_dps_on_pixel_and_latent_image_models_with_the_image_rewards(tmp_path, tiny_classifier):
    pixel = GaussianDiffusion(tiny_unet(28), GaussianKernel(tiny_scheduler(), 3))
    sd = LatentDiffusion.from_pretrained(str(save_tiny_sd(tmp_path)), prompt="a cat", num_steps=3, device="cpu")
    aesthetic = Aesthetic(str(save_tiny_aesthetic(tmp_path / "aesthetic")), mlp="mlp.pth", device="cpu")
    for model, reward in ((pixel, Classifier(tiny_classifier, "bag", device="cpu")), (sd, aesthetic)):
        counters, records = Counters(), []
        x = DPS(1.0).sample(counted_model(model, counters, 64), counted_reward(reward, counters, -1.0), 2,
                            torch.Generator().manual_seed(0), records.append)
        anc = Ancestral().sample(model, reward, 2, torch.Generator().manual_seed(0), lambda r: None)
        assert x.shape == anc.shape and not torch.allclose(x, anc)
        assert counters.nfe == counters.reward_calls == 2 * 3 and records[0]["grad_norm"] > 0


def test_svdd_run_dps_writes_a_summary(tmp_path):
    result = svdd("run", "domain=dna", "reward=enhancer", "sampler=dps", "num_samples=4", "batch_size=4",
                  "model.num_steps=5", "reference_samples=2", "likelihood_draws=1", "device=cpu",
                  f"hydra.run.dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["num_samples"] == 4 and summary["nfe"] == 4 * 5
    trace = [json.loads(line) for line in open(tmp_path / "trace.jsonl")]
    assert len(trace) == 5 and {"value_mean", "grad_norm", "clipped", "nan_grads"} <= set(trace[0])


def test_run_classifier_guidance_and_a_non_differentiable_reward(compose_config, tiny_checkpoint, tmp_path):
    value = ValueNetwork(list("ACGT"), 200, channels=8, layers=1)
    save_folder(tmp_path / "value", {"vocab": list("ACGT"), "length": 200, "network": value.hparams}, value)
    small = ["model.num_steps=3", "num_samples=2", "batch_size=2", "reference_samples=0", "likelihood_draws=1",
             "device=cpu", f"model.path={tiny_checkpoint}"]
    cfg = compose_config(["sampler=classifier_guidance", f"sampler.value={tmp_path / 'value'}", *small])
    run_module.run(cfg, tmp_path / "cg")
    assert json.loads((tmp_path / "cg" / "summary.json").read_text())["nfe"] == 2 * 3
    cfg = compose_config(["reward=motifs", "sampler=dps", *small])
    with pytest.raises(UserError, match="reward=motifs is not differentiable; dps needs a reward with score_probs"):
        run_module.run(cfg, tmp_path / "motifs")
