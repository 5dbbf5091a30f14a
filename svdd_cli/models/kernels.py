"""The unmasking kernels of masked diffusion (models/masked.py): which masked positions a step t -> s unmasks.

MaskedDiffusion draws each unmasked position's token from the denoiser; a kernel decides which positions unmask:
- "mdlm" (Independent): each masked position unmasks independently with probability
  (alpha_s - alpha_t) / (1 - alpha_t) (MDLM eq. 7), so two positions unmasked in the same step are drawn without
  seeing each other;
- "random_order": a fixed number of uniformly chosen masked positions per step (m - round(m s / t) of the m masked
  ones: L / num_steps on the schedule); with num_steps = L it unmasks one token per network call, which for a
  denoiser that ignores the time is the continuous-time reverse process itself (no discretisation error, L NFE);
- "confidence": one position per network call (num_steps = L), chosen with probability proportional to the
  probability of its most likely token (confident positions first, as MaskGIT decodes, but drawn, not argmax);
- "left_to_right" / "right_to_left": one position per call in a fixed order, the first / last masked one (the
  denoiser's conditionals multiplied in one order, as an autoregressive model samples).
`model.kernel=<name>` picks one from KERNELS. Tokens are 0..V-1 and the mask V, the last index of every log-prob axis.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar

import torch
from torch import Tensor

from svdd_cli.core import Prediction
from svdd_cli.errors import UserError

Schedule = Callable[[float], float]  # alpha(t): the probability that a token is still unmasked at time t


class UnmaskingKernel:
    """How a masked diffusion step t -> s picks the positions it unmasks, its transition law and density."""

    name: ClassVar[str]  # what model.kernel calls it

    def __init__(self, mask_id: int, alpha: Schedule) -> None:
        self.mask_id, self.alpha = mask_id, alpha

    def check(self, num_steps: int, length: int) -> None:
        """UserError when the kernel cannot take `num_steps` steps over `length` positions."""

    def unmask_probability(self, pred: Prediction, masked: Tensor, s: float) -> Tensor:
        """Probability that each masked position (B, L) unmasks in the step pred.t -> s: (B, 1) or (B, L)."""
        raise NotImplementedError

    def transition_log_probs(self, pred: Prediction, s: float) -> Tensor:
        """log p(x_s = v | x_t) for every position and token v (mask last): (B, L, V+1); a position's marginal
        (all kernels but mdlm: positions are not independent). Unmasked positions are carried over."""
        masked = pred.x_t == self.mask_id
        unmask = self.unmask_probability(pred, masked, s)
        logq = pred.output + unmask.log().unsqueeze(-1)
        logq[..., self.mask_id] = torch.log1p(-unmask)
        return torch.where(masked.unsqueeze(-1), logq, pred.output)  # unmasked rows of output are one-hot

    def draw(self, pred: Prediction, logq: Tensor, s: float, generator: torch.Generator) -> Tensor:
        """x_s (B, L) from per-position log-weights logq (B, L, V+1): transition_log_probs, or a guided shift of
        them."""
        raise NotImplementedError

    def log_prob(self, pred: Prediction, x_s: Tensor, s: float) -> Tensor:
        """log p(x_s | x_t): (B,)."""
        raise NotImplementedError


class Independent(UnmaskingKernel):
    """Each masked position unmasks on its own with probability (alpha_s - alpha_t) / (1 - alpha_t) (MDLM)."""

    name = "mdlm"

    def unmask_probability(self, pred: Prediction, masked: Tensor, s: float) -> Tensor:
        a_t, a_s = self.alpha(pred.t), self.alpha(s)
        return torch.full((len(masked), 1), (a_s - a_t) / (1 - a_t), device=masked.device)

    def draw(self, pred: Prediction, logq: Tensor, s: float, generator: torch.Generator) -> Tensor:
        return gumbel_argmax(logq, generator)

    def log_prob(self, pred: Prediction, x_s: Tensor, s: float) -> Tensor:
        return self.transition_log_probs(pred, s).gather(-1, x_s.unsqueeze(-1)).squeeze(-1).sum(-1)


class CountedUnmasking(UnmaskingKernel):
    """Kernels that unmask a scheduled count of the masked positions, chosen without replacement with weights
    sum_v exp(logq[v]) (Gumbel top-k), each then drawn from its token weights."""

    def count(self, masked: Tensor, t: float, s: float) -> Tensor:
        """How many of each row's masked positions (B, L) unmask in the step t -> s: (B,); all of them at s = 0."""
        m = masked.sum(-1)
        if s == 0:
            return m
        return m - torch.round(m * (s / t)).long()

    def positions_log_prob(self, pred: Prediction, masked: Tensor, changed: Tensor, m: Tensor, n: Tensor) -> Tensor:
        """log-probability (B,) that the step unmasks exactly the changed positions (B, L), n of the m masked."""
        raise NotImplementedError

    def draw(self, pred: Prediction, logq: Tensor, s: float, generator: torch.Generator) -> Tensor:
        """count() of the masked positions, weighted by their token mass (random_order: uniform unless guidance
        shifted logq; exact for one per step), each then drawn from its token weights."""
        masked = pred.x_t == self.mask_id
        tokens = logq[..., :self.mask_id]
        weight = tokens.logsumexp(-1).masked_fill(~masked, -math.inf)  # (B, L)
        u = torch.rand(weight.shape, generator=generator, device=weight.device, dtype=torch.float64)
        keys = weight.double() - torch.log(-torch.log(u.clamp_min(1e-300)))  # Gumbel top-k: without replacement
        rank = keys.argsort(-1, descending=True).argsort(-1)
        chosen = rank < self.count(masked, pred.t, s).unsqueeze(-1)
        return torch.where(chosen, gumbel_argmax(tokens, generator), pred.x_t)

    def log_prob(self, pred: Prediction, x_s: Tensor, s: float) -> Tensor:
        masked = pred.x_t == self.mask_id
        changed = x_s != pred.x_t
        m, n = masked.sum(-1), self.count(masked, pred.t, s)
        drawn = pred.output.gather(-1, x_s.unsqueeze(-1)).squeeze(-1)  # (B, L) log p_theta of each token
        lp = torch.where(changed, drawn, 0.0).sum(-1) + self.positions_log_prob(pred, masked, changed, m, n)
        possible = (changed.sum(-1) == n) & ~(changed & (~masked | (x_s == self.mask_id))).any(-1)
        return torch.where(possible, lp, -math.inf)


class RandomOrder(CountedUnmasking):
    """A uniformly chosen subset of the scheduled count of masked positions."""

    name = "random_order"

    def unmask_probability(self, pred: Prediction, masked: Tensor, s: float) -> Tensor:
        m, n = masked.sum(-1, keepdim=True), self.count(masked, pred.t, s).unsqueeze(-1)
        return n / m.clamp_min(1)

    def positions_log_prob(self, pred: Prediction, masked: Tensor, changed: Tensor, m: Tensor, n: Tensor) -> Tensor:
        return torch.lgamma(n + 1.0) + torch.lgamma(m - n + 1.0) - torch.lgamma(m + 1.0)  # 1 / C(m, n)


class OnePosition(CountedUnmasking):
    """One masked position per network call (num_steps = length), chosen by position_log_weights; more masks than
    steps left (refine's re-masking): the last step unmasks the rest."""

    def check(self, num_steps: int, length: int) -> None:
        if num_steps != length:
            raise UserError(f"model.kernel={self.name} unmasks one position per network call: set model.num_steps="
                            f"{length} (the model's length), not {num_steps}, or model.kernel=random_order")

    def count(self, masked: Tensor, t: float, s: float) -> Tensor:
        n = super().count(masked, t, s)
        return n if s == 0 else n.clamp(max=1)

    def position_log_weights(self, pred: Prediction, masked: Tensor) -> Tensor:
        """log-probability that each masked position is the one unmasked next: (B, L), -inf where unmasked."""
        raise NotImplementedError

    def unmask_probability(self, pred: Prediction, masked: Tensor, s: float) -> Tensor:
        m, n = masked.sum(-1, keepdim=True), self.count(masked, pred.t, s).unsqueeze(-1)
        return torch.where(n == m, 1.0, n * self.position_log_weights(pred, masked).exp())  # all at the last step

    def positions_log_prob(self, pred: Prediction, masked: Tensor, changed: Tensor, m: Tensor, n: Tensor) -> Tensor:
        chosen = torch.where(changed, self.position_log_weights(pred, masked), 0.0).sum(-1)
        return torch.where(n < m, chosen, 0.0)  # the one changed position's weight (1 when all unmask)


class Confidence(OnePosition):
    """The position drawn with probability proportional to the probability of its most likely token."""

    name = "confidence"

    def position_log_weights(self, pred: Prediction, masked: Tensor) -> Tensor:
        top = pred.output[..., :self.mask_id].amax(-1)
        return top.masked_fill(~masked, -math.inf).log_softmax(-1)


class FixedOrder(OnePosition):
    """The next masked position in a fixed order."""

    def next_position(self, masked: Tensor) -> Tensor:
        """Index (B,) of the next position to unmask of each row of masked (B, L)."""
        raise NotImplementedError

    def position_log_weights(self, pred: Prediction, masked: Tensor) -> Tensor:
        chosen = torch.zeros_like(masked).scatter_(-1, self.next_position(masked).unsqueeze(-1), True) & masked
        return torch.zeros(masked.shape, device=masked.device).masked_fill(~chosen, -math.inf)


class LeftToRight(FixedOrder):
    """The first masked position."""

    name = "left_to_right"

    def next_position(self, masked: Tensor) -> Tensor:
        return masked.int().argmax(-1)


class RightToLeft(FixedOrder):
    """The last masked position."""

    name = "right_to_left"

    def next_position(self, masked: Tensor) -> Tensor:
        return masked.shape[-1] - 1 - masked.flip(-1).int().argmax(-1)


KERNELS: dict[str, type[UnmaskingKernel]] = {
    kernel.name: kernel for kernel in (Independent, RandomOrder, Confidence, LeftToRight, RightToLeft)}
FIXED_ORDERS = (LeftToRight.name, RightToLeft.name)  # the orders scripts/train_mdlm.py trains the conditionals of


def unmasking_kernel(name: str, mask_id: int, alpha: Schedule, num_steps: int, length: int) -> UnmaskingKernel:
    """The kernel `model.kernel=<name>` over a model's mask and schedule, checked against its steps and length."""
    if name not in KERNELS:
        raise UserError(f"model.kernel={name} must be one of {', '.join(KERNELS)}")
    kernel = KERNELS[name](mask_id, alpha)
    kernel.check(num_steps, length)
    return kernel


def gumbel_argmax(log_probs: Tensor, generator: torch.Generator) -> Tensor:
    """One categorical draw per position from log-probs (..., V) via the Gumbel-max trick."""
    u = torch.rand(log_probs.shape, generator=generator, device=log_probs.device)
    return (log_probs - torch.log(-torch.log(u.clamp_min(1e-20)))).argmax(-1)
