"""MDLM-style masked (absorbing-state) diffusion over a token vocabulary, plus its CNN denoiser.

Forward process: each token is masked independently with probability 1 - alpha_t, log-linear
schedule alpha_t = 1 - (1 - eps) t (Sahoo et al. 2024, MDLM). "subs" parameterisation: the denoiser
never predicts the mask, and unmasked tokens are carried over unchanged. Reverse step t -> s < t,
for a masked position (MDLM eq. 7):
    p(x_s = v) = (alpha_s - alpha_t) / (1 - alpha_t) * p_theta(x_0 = v | x_t),
    p(x_s = mask) = (1 - alpha_s) / (1 - alpha_t).
Which masked positions a step unmasks is the kernel's choice (models/kernels.py, `model.kernel`): each on its own
("mdlm", the law above), a scheduled number of uniformly chosen ones ("random_order"), or one per network call
("confidence", "left_to_right", "right_to_left").
`top_p` < 1 truncates the denoiser's distribution at each position to its nucleus (the smallest set of most likely
tokens with mass >= top_p, renormalised; Holtzman et al. 2020, as ReMDM samples MDLM) before any kernel draws
from it (confidence weighs positions by their nucleus's top token); the ELBO (log_likelihood) stays the network's own.
Tokens are 0..V-1 for the vocabulary (letters, or SELFIES symbols) and V for the mask.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from torch import Tensor, nn

from svdd_cli.checkpoint import load_folder, load_module, resolve_device
from svdd_cli.compose import plain
from svdd_cli.core import DiffusionModel, Direction, Prediction, ProbsReward, Reward, check_differentiable, reward_name
from svdd_cli.errors import UserError
from svdd_cli.models.kernels import gumbel_argmax, unmasking_kernel


class ConvDenoiser(nn.Module):
    """Residual dilated 1-D CNN: tokens (B, L) in 0..V -> logits (B, L, V+1).

    Pre-norm residual blocks h += conv(gelu(norm(h))) with dilations 1, 2, 4, 8, 1, 2, ...
    (fast on CPUs, where it trains ~6x faster than a transformer of the same size)."""

    def __init__(self, vocab_size: int, channels: int = 128, layers: int = 6, kernel_size: int = 5) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size + 1, channels)
        dilations = [2 ** (i % 4) for i in range(layers)]
        self.convs = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, padding=d * (kernel_size // 2), dilation=d)
            for d in dilations)
        self.norms = nn.ModuleList(nn.GroupNorm(1, channels) for _ in dilations)
        self.head = nn.Conv1d(channels, vocab_size + 1, 1)

    def forward(self, tokens: Tensor) -> Tensor:
        h = self.embed(tokens).transpose(1, 2)  # (B, C, L)
        for conv, norm in zip(self.convs, self.norms):
            h = h + conv(nn.functional.gelu(norm(h)))
        return self.head(h).transpose(1, 2)


@runtime_checkable
class SigmaConditioned(Protocol):
    """A denoiser called as denoiser(tokens (B, L), sigma (B,)), sigma = -log alpha_t (MDLM's total noise),
    e.g. svdd_cli.models.dit.DIT; other denoisers are called with the tokens alone."""

    time_conditioning: bool


class MaskedDiffusion:
    """The masked diffusion kernel around a denoiser; implements core.DiffusionModel."""

    def __init__(self, denoiser: nn.Module, vocab: Sequence[str], length: int, num_steps: int = 100,
                 eps: float = 1e-3, device: torch.device | str = "cpu",
                 detokenize: Callable[[str], Any] | None = None,
                 tokenize: Callable[[Any, int], Sequence[str]] | None = None, kernel: str = "mdlm",
                 top_p: float = 1.0) -> None:
        """`tokenize(sample, length)`: detokenize's inverse, a sample -> exactly `length` tokens (ValueError when
        it cannot); None: a sample is a string of one-letter tokens (DNA, RNA). `kernel`: the name of one of
        kernels.KERNELS (those that unmask one position per call need num_steps = length); `top_p`: the nucleus,
        1 = the full distribution (the module docstring)."""
        self.mask_id = len(vocab)
        self.kernel = unmasking_kernel(kernel, self.mask_id, self.alpha, num_steps, length)
        if not 0 < top_p <= 1:
            raise UserError(f"model.top_p={top_p} must be in (0, 1]: the probability mass each position keeps")
        self.top_p = top_p
        self.denoiser, self.vocab, self.length = denoiser, list(vocab), length
        self.num_steps, self.eps, self.detokenize, self.tokenize = num_steps, eps, plain(detokenize), tokenize
        self._index = {token: i for i, token in enumerate(self.vocab)}
        self._table = np.array([*self.vocab, "?"], dtype=object)
        self.device = torch.device(device)
        self.denoiser.to(self.device)
        self.sigma_conditioned = isinstance(denoiser, SigmaConditioned)  # checked once, not per network call

    @classmethod
    def from_checkpoint(cls, path: str | Path, num_steps: int = 100, device: str = "auto",
                        detokenize: Callable[[str], Any] | None = None,
                        tokenize: Callable[[Any, int], Sequence[str]] | None = None,
                        kernel: str = "mdlm", top_p: float = 1.0) -> MaskedDiffusion:
        """Load a folder written by scripts/train_masked_diffusion.py or scripts/train_mdlm.py; `detokenize`
        maps the joined tokens of a sample to what rewards take (e.g. SELFIES -> SMILES), identity by default;
        `tokenize` is its inverse (encode_samples). config.json's "backbone" holds ConvDenoiser's settings, or
        names any denoiser module by `_target_` with all its arguments (e.g. svdd_cli.models.dit.DIT, whose
        vocab_size counts the mask)."""
        if num_steps < 1:
            raise UserError(f"model.num_steps={num_steps} must be >= 1")
        config, state = load_folder(path)
        denoiser = load_module(build_backbone(config["backbone"], len(config["vocab"]), path), state, path)
        return cls(denoiser, config["vocab"], config["length"], num_steps, config["eps"], resolve_device(device),
                   detokenize, tokenize, kernel, top_p)

    def alpha(self, t: float | Tensor) -> float | Tensor:
        """Probability that a token is still unmasked at time t."""
        return 1 - (1 - self.eps) * t

    def timesteps(self) -> list[float]:
        return torch.linspace(1.0, 0.0, self.num_steps + 1).tolist()

    def init(self, n: int, generator: torch.Generator) -> Tensor:
        return torch.full((n, self.length), self.mask_id, dtype=torch.long, device=self.device)

    def denoiser_log_probs(self, x_t: Tensor, t: float | Tensor) -> Tensor:
        """log p_theta(x_0 | x_t) over the vocabulary, mask excluded: (B, L), t scalar or (B,) -> (B, L, V+1)."""
        if self.sigma_conditioned:
            sigma = -torch.log(torch.as_tensor(self.alpha(t), dtype=torch.float32, device=x_t.device))
            logits = self.denoiser(x_t, sigma.expand(x_t.shape[0])).float()
        else:
            logits = self.denoiser(x_t).float()
        is_mask = torch.arange(logits.shape[-1], device=logits.device) == self.mask_id
        return logits.masked_fill(is_mask, -math.inf).log_softmax(-1)

    @torch.inference_mode()
    def predict(self, x_t: Tensor, t: float) -> Prediction:
        """log p_theta(x_0 | x_t) with the subs parameterisation, in the top_p nucleus; x0 = argmax fill of masked
        positions."""
        log_probs = self.denoiser_log_probs(x_t, t)
        if self.top_p < 1:
            log_probs = nucleus(log_probs, self.top_p)
        masked = x_t == self.mask_id
        carried = torch.full_like(log_probs, -math.inf).scatter_(-1, x_t.unsqueeze(-1), 0.0)
        log_probs = torch.where(masked.unsqueeze(-1), log_probs, carried)
        x0 = torch.where(masked, log_probs.argmax(-1), x_t)
        return Prediction(x_t=x_t, t=t, x0=x0, output=log_probs)

    def transition_log_probs(self, pred: Prediction, s: float) -> Tensor:
        """log p(x_s = v | x_t) for every position and token v (mask last): (B, L, V+1); a position's marginal
        (the kernel's: positions are independent under mdlm only)."""
        return self.kernel.transition_log_probs(pred, s)

    def propose(self, pred: Prediction, s: float, generator: torch.Generator) -> Tensor:
        return self.kernel.draw(pred, self.transition_log_probs(pred, s), s, generator)

    def shifted_log_probs(self, pred: Prediction, s: float, delta: Tensor) -> Tensor:
        """Unnormalised log p(x_s | x_t) (B, L, V+1) with delta (B, L, V) added to the logits of unmasking each
        masked position to each token; staying masked and unmasked positions unchanged (guidance)."""
        masked = (pred.x_t == self.mask_id).unsqueeze(-1)
        shift = torch.nn.functional.pad(delta * masked, (0, 1))  # the mask column (staying masked) gets 0
        return self.transition_log_probs(pred, s) + shift

    def propose_guided(self, pred: Prediction, s: float, direction: Tensor, generator: torch.Generator) -> Tensor:
        """x_s (B, L) drawn with direction (B, L, V) added to the logits of unmasking each masked position to each
        token (core.Guided): a logit shift of the kernel."""
        return self.kernel.draw(pred, self.shifted_log_probs(pred, s, direction), s, generator)

    def reward_direction(self, reward: Reward, sampler: str, network: DiffusionModel | None = None) -> Direction:
        """The first-order guided transition of a differentiable reward r (core.Guided): r of the relaxed x0-hat p
        (B, L, V) (the denoiser's probabilities at masked positions, one-hot at unmasked ones); unmasking position i
        to token j changes p_i to e_j, so r changes by delta[i, j] = g[i, j] - sum_k p[i, k] g[i, k], g = dr/dp
        (0 at unmasked positions). One network evaluation (no backpropagation through it) and one reward gradient
        per row."""
        check_differentiable(reward, ProbsReward, sampler)
        order = vocab_order(self.vocab, reward.alphabet, reward_name(reward))
        predict = (network or self).predict

        def direction(x_t: Tensor, t: float) -> tuple[Prediction, Tensor, Tensor]:
            pred = predict(x_t, t)
            probs = pred.output[..., : self.mask_id].exp().requires_grad_()  # (B, L, V): one-hot where unmasked
            with torch.enable_grad():
                r = reward.score_probs(probs[..., order.to(probs.device)])
                (g,) = torch.autograd.grad(r.sum(), probs)
            delta = g - (g * probs.detach()).sum(-1, keepdim=True)
            return pred, r.detach().float().cpu(), delta * (x_t == self.mask_id).unsqueeze(-1)
        return direction

    def noise_to(self, x0: Tensor, t: float, generator: torch.Generator) -> Tensor:
        """x_t (B, L) from clean x0: round(t L) uniformly chosen positions of each row masked (the forward process
        with its mask count fixed at t L, about its mean (1 - alpha_t) L)."""
        keys = torch.rand(x0.shape, generator=generator, device=generator.device).to(x0.device)
        return self.noise_positions(x0, keys.argsort(1).argsort(1) < round(t * x0.shape[1]))

    def noise_positions(self, x0: Tensor, chosen: Tensor) -> Tensor:
        """x0 (B, L) with the chosen positions (B, L) masked (core.PositionNoise)."""
        return torch.where(chosen, self.mask_id, x0)

    def position_log_probs(self, pred: Prediction, x0: Tensor) -> Tensor:
        """log p_theta(x_0 = x0 | x_t) of each position's token x0 (B, L): (B, L) (core.PositionNoise)."""
        return pred.output.gather(-1, x0.unsqueeze(-1)).squeeze(-1)

    def log_prob(self, pred: Prediction, x_s: Tensor, s: float) -> Tensor:
        return self.kernel.log_prob(pred, x_s, s)

    def sample_x0(self, pred: Prediction, generator: torch.Generator) -> Tensor:
        return gumbel_argmax(pred.output, generator)

    def decode(self, x: Tensor) -> list[Any]:
        """Token rows (B, L) -> joined token strings, detokenized when set; a leftover mask shows as '?'."""
        joined = ["".join(row) for row in self._table[x.cpu().numpy()]]
        return [self.detokenize(s) for s in joined] if self.detokenize else joined

    def encode(self, sequences: Sequence[Sequence[str]]) -> Tensor:
        """Token sequences (a str is a sequence of one-letter tokens) -> token rows (B, L) on the device."""
        try:
            rows = [[self._index[token] for token in seq] for seq in sequences]
        except KeyError as err:
            raise ValueError(f"token {err.args[0]!r} is not in the model's vocabulary {self.vocab}") from None
        return torch.tensor(rows, dtype=torch.long, device=self.device)

    def encode_samples(self, samples: Sequence[Any]) -> Tensor:
        """Decoded samples (strings; SMILES with a `tokenize`) -> token rows (B, L): decode's inverse (core.Encoder).
        ValueError naming the first sample that has the wrong length or a token outside the vocabulary."""
        rows = []
        for sample in samples:
            tokens = list(sample) if self.tokenize is None else list(self.tokenize(sample, self.length))
            if len(tokens) != self.length:
                raise ValueError(f"{str(sample)[:40]!r} has {len(tokens)} tokens; the model's length is {self.length}")
            bad = next((tok for tok in tokens if tok not in self._index), None)
            if bad is not None:
                raise ValueError(f"{str(sample)[:40]!r}: token {bad!r} is not in the model's vocabulary "
                                 f"{''.join(self.vocab) if all(len(v) == 1 for v in self.vocab) else self.vocab}")
            rows.append(tokens)
        return self.encode(rows).view(len(rows), self.length)  # checked: encode's lookup cannot fail

    def nelbo(self, x0: Tensor, t: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Continuous-time NELBO integrand at times t (B,): sum over masked positions of
        -log p_theta(x_0 | x_t) weighted by -alpha'_t / (1 - alpha_t) = 1 / t (log-linear). (B,) nats."""
        mask_prob = (1 - self.alpha(t)).unsqueeze(-1)
        u = torch.rand(x0.shape, generator=generator, device=x0.device)
        x_t = torch.where(u < mask_prob, self.mask_id, x0)
        nll = -self.denoiser_log_probs(x_t, t).gather(-1, x0.unsqueeze(-1)).squeeze(-1)
        return (nll * (x_t == self.mask_id)).sum(-1) / t

    @torch.inference_mode()
    def log_likelihood(self, x0: Tensor, generator: torch.Generator, draws: int = 8) -> Tensor:
        """ELBO lower bound on log p(x0) in nats, Monte Carlo over `draws` stratified times: (B,)."""
        n = x0.shape[0]
        total = torch.zeros(n, device=x0.device)
        for k in range(draws):
            t = (k + torch.rand(n, generator=generator, device=x0.device)) / draws
            total += self.nelbo(x0, t.clamp_min(1e-4), generator)
        return -total / draws


def build_backbone(settings: dict[str, Any], vocab_size: int, path: str | Path) -> nn.Module:
    """The denoiser a checkpoint's "backbone" settings describe: `_target_` names its class, otherwise
    ConvDenoiser over `vocab_size` tokens."""
    if "_target_" not in settings:
        return ConvDenoiser(vocab_size, **settings)
    try:
        module = instantiate(settings)
    except InstantiationException as err:
        raise UserError(f"checkpoint {path}: cannot build backbone {settings['_target_']}: "
                        f"{err.__cause__ or err}") from None
    if not isinstance(module, nn.Module):
        raise UserError(f"checkpoint {path}: backbone {settings['_target_']} is not a torch module")
    return module


def nucleus(log_probs: Tensor, top_p: float) -> Tensor:
    """log-probs (..., V) truncated to the smallest set of most likely entries with mass >= top_p, renormalised."""
    ranked, order = log_probs.sort(-1, descending=True)
    probs = ranked.exp()
    mass_before = probs.cumsum(-1) - probs
    ranked = ranked.masked_fill(mass_before >= top_p, -math.inf)
    return torch.full_like(log_probs, -math.inf).scatter(-1, order, ranked).log_softmax(-1)


def vocab_order(vocab: Sequence[str], alphabet: str, reward: str) -> Tensor:
    """Index (A,) into the model's vocabulary of each letter of the reward's alphabet (T and U as one letter):
    probs (B, L, V)[..., index] lists the model's probabilities in the reward's letter order."""
    tokens, letters = [v.replace("U", "T") for v in vocab], [a.replace("U", "T") for a in alphabet]
    if sorted(tokens) != sorted(letters):
        raise UserError(f"reward={reward} scores letters {alphabet}, but the model's vocabulary is {list(vocab)}")
    return torch.tensor([tokens.index(a) for a in letters])
