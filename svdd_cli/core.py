"""The contract every model, reward and sampler speaks (docs/design.md), and the compute counters.

A sampler only talks to `DiffusionModel` and `Reward`. `CountedModel` / `CountedReward` wrap them
to count network evaluations (rows through the network) and reward calls (samples scored), and
to split big network batches into chunks of `max_batch` rows to bound memory.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import torch
from torch import Tensor

from svdd_cli.errors import ModelFailed, OracleError, RewardFailed, UserError
from svdd_cli.settings import PRECISIONS

if TYPE_CHECKING:
    from svdd_cli.fronts import Objectives

log = logging.getLogger("svdd")


@dataclass(frozen=True)
class Prediction:
    """One network evaluation at x_t (all rows share the time t)."""

    x_t: Tensor  # (B, ...) current state
    t: float  # its time, 1 = pure noise / all masked, 0 = clean
    x0: Tensor  # (B, ...) predicted clean sample in x_t's space
    output: Tensor  # (B, ...) what propose() consumes: log-probs (masked) / eps (Gaussian)

    def repeat(self, m: int) -> Prediction:
        """Each row repeated m times in place: (B, ...) -> (B*m, ...)."""
        return Prediction(self.x_t.repeat_interleave(m, dim=0), self.t,
                          self.x0.repeat_interleave(m, dim=0), self.output.repeat_interleave(m, dim=0))

    def take(self, rows: Tensor | slice) -> Prediction:
        """The rows with the given indices (a slice: views, no copy): (B, ...) -> (len(rows), ...)."""
        return Prediction(self.x_t[rows], self.t, self.x0[rows], self.output[rows])

    @staticmethod
    def cat(parts: Sequence[Prediction]) -> Prediction:
        """Stack predictions made at the same time along the batch dimension."""
        if len(parts) == 1:
            return parts[0]
        return Prediction(
            torch.cat([p.x_t for p in parts]), parts[0].t,
            torch.cat([p.x0 for p in parts]), torch.cat([p.output for p in parts]),
        )


class DiffusionModel(Protocol):
    """A pre-trained diffusion model seen as a kernel p(x_s | x_t) plus a denoiser."""

    device: torch.device

    def timesteps(self) -> Sequence[float]:
        """Descending times from 1 (x_T) to 0 (clean); a sampling step goes from one to the next."""

    def init(self, n: int, generator: torch.Generator) -> Tensor:
        """x_T for n samples: (n, ...)."""

    def predict(self, x_t: Tensor, t: float) -> Prediction:
        """The only network call: (B, ...) -> Prediction."""

    def propose(self, pred: Prediction, s: float, generator: torch.Generator) -> Tensor:
        """x_s ~ p_pre(. | x_t) for every row of pred: (B, ...); no network call."""

    def log_prob(self, pred: Prediction, x_s: Tensor, s: float) -> Tensor:
        """log p_pre(x_s | x_t): (B,)."""

    def noise_to(self, x0: Tensor, t: float, generator: torch.Generator) -> Tensor:
        """x_t ~ q(x_t | x0), the forward process from clean samples (B, ...) to time t (diffusers' add_noise);
        no network call."""

    def sample_x0(self, pred: Prediction, generator: torch.Generator) -> Tensor:
        """One draw of a clean sample from the denoiser at x_t (pred.x0 when it is deterministic)."""

    def decode(self, x: Tensor) -> list[Any]:
        """Clean samples (B, ...) -> what rewards and files take (strings, images)."""

    def log_likelihood(self, x0: Tensor, generator: torch.Generator, draws: int = 8) -> Tensor:
        """Naturalness: a lower bound on log p_pre(x0) in nats, (B,), Monte Carlo over `draws` noise levels (about
        one network evaluation per draw per row)."""


class Reward(Protocol):
    """Higher is better; a sample it cannot score gets a penalty value, never an exception."""

    def __call__(self, samples: list[Any]) -> Tensor:
        """Decoded batch -> (B,) float32 on the CPU."""


@runtime_checkable
class DomainRestricted(Protocol):
    """A reward that scores only some domains' samples (a reward without `domains` scores any domain)."""

    domains: tuple[str, ...]


@runtime_checkable
class SetLevel(Protocol):
    """A term whose value for one sample depends on the rest of its batch (reward=kmer_set): it steers as a
    naturalness term only (reward.natural), never as a reward, which the oracle ledger caches sample by sample."""

    set_level: bool


class FunctionReward:
    """A plain function list[sample] -> list[float] (or a (B,) tensor) as a Reward of any domain."""

    def __init__(self, function: Callable[[list[Any]], Any]) -> None:
        self.function = function
        self.name = getattr(function, "__name__", "function")  # functools.partial has none

    def __call__(self, samples: list[Any]) -> Tensor:
        return torch.as_tensor(self.function(samples), dtype=torch.float32)


class Domain(Protocol):
    """What a kind of sample is: how it is checked, tabulated, saved and judged for naturalness."""

    name: str

    def check_model(self, model: DiffusionModel) -> None:
        """Raise UserError when the model does not generate this domain's samples."""

    def columns(self, ids: list[str], samples: list[Any], folder: Path) -> dict[str, list[Any]]:
        """samples.csv columns for a batch, the sample itself first; may write per-sample files (images)."""

    def write_native(self, folder: Path, rows: list[dict[str, Any]]) -> None:
        """Bring the domain's native file(s) (FASTA, SDF, image grid) up to all rows so far (sorted by id; a
        file may grow by the new rows only: outputs.GrowingFile)."""

    def metrics(self, rows: list[dict[str, Any]]) -> dict[str, float]:
        """Run-level naturalness figures for summary.json (GC content, validity, ...)."""


Trace = Callable[[dict[str, Any]], None]  # receives one record per sampling step
Feasible = Callable[[list[Any]], Tensor]  # decoded samples -> (B,) bool, True where every hard constraint holds

# x_t (B, ...) at time t -> (its prediction, the guiding value (B,), the direction (B, ...) a guided step takes)
Direction = Callable[[Tensor, float], tuple[Prediction, Tensor, Tensor]]


class Sampler(Protocol):
    """An inference-time algorithm: draws n finished samples of `model` steered by `reward`."""

    def sample(
        self, model: DiffusionModel, reward: Reward, n: int, generator: torch.Generator, trace: Trace
    ) -> Tensor:
        """Returns (n, ...) clean samples in the model's space."""


# Optional capabilities: named protocols that samplers test with isinstance (never by method name).


@runtime_checkable
class MaskedKernel(Protocol):
    """A masked (absorbing-state) model over a token vocabulary; guidance shifts its transition logits."""

    vocab: list[str]  # tokens 0..V-1; the mask is token V
    mask_id: int
    length: int

    def transition_log_probs(self, pred: Prediction, s: float) -> Tensor:
        """log p(x_s = v | x_t) for every position and token v, mask last: (B, L, V+1)."""


@runtime_checkable
class PositionNoise(Protocol):
    """A model whose states are sequences of positions it can return to noise one by one (masked models: the mask
    token), for samplers that choose which positions to re-draw (refine, ancestral's remask rounds)."""

    def noise_positions(self, x0: Tensor, chosen: Tensor) -> Tensor:
        """x0 (B, L) with the chosen positions (B, L) bool returned to noise: (B, L)."""

    def position_log_probs(self, pred: Prediction, x0: Tensor) -> Tensor:
        """log p_theta(x_0 = x0 | x_t) of each position's token x0 (B, L): the denoiser's confidence, (B, L)."""


@runtime_checkable
class Guided(Protocol):
    """A model whose steps a direction can steer (dps, classifier_guidance): the guided proposal, and the direction
    of a differentiable reward."""

    def propose_guided(self, pred: Prediction, s: float, direction: Tensor, generator: torch.Generator) -> Tensor:
        """x_s ~ p_pre(. | x_t) moved by `direction` (B, ...), as a Direction gives it: masked models add it
        (B, L, V) to the logits of unmasking each masked position to each token; Gaussian models to x_s."""

    def reward_direction(self, reward: Reward, sampler: str, network: DiffusionModel | None = None) -> Direction:
        """The direction of a differentiable reward (ProbsReward for masked models, ImageReward for Gaussian ones),
        one network evaluation per row; UserError naming the reward and `sampler` when it is not one. `network`:
        the model whose network predicts (default this one; a counted wrapper passes itself, to count the calls)."""


@runtime_checkable
class GradientModel(Protocol):
    """A model with a differentiable forward and decode (Gaussian models), for reward-gradient guidance."""

    def predict_with_grad(self, x_t: Tensor, t: float) -> Prediction:
        """predict() with autograd: x0 (B, ...) keeps its graph to x_t."""

    def decode_images(self, x: Tensor) -> Tensor:
        """States (B, ...) -> images (B, C, H, W) in [0, 1], differentiably."""


@runtime_checkable
class Encoder(Protocol):
    """A model that maps decoded samples back to its states (decode's inverse), for refining given designs."""

    def encode_samples(self, samples: list[Any]) -> Tensor:
        """Samples (strings, images) -> states (B, ...); ValueError naming the first sample it cannot encode."""


@runtime_checkable
class ProbsReward(Protocol):
    """A differentiable reward of relaxed one-hot sequences (masked models)."""

    alphabet: str  # the letter order of the last axis of probs

    def score_probs(self, probs: Tensor) -> Tensor:
        """probs (B, L, A) -> (B,), differentiable."""


@runtime_checkable
class ImageReward(Protocol):
    """A differentiable reward of images (Gaussian models)."""

    def score_images(self, images: Tensor) -> Tensor:
        """images (B, C, H, W) in [0, 1] -> (B,), differentiable."""


def check_differentiable(reward: Reward, capability: type, sampler: str) -> None:
    """A UserError naming the reward when it lacks the differentiable `capability` (ProbsReward / ImageReward)."""
    if not isinstance(reward, capability):
        method, example = ("score_probs", "reward=enhancer") if capability is ProbsReward else \
            ("score_images", "reward=classifier")
        raise UserError(f"reward={reward_name(reward)} is not differentiable; {sampler} needs a reward with "
                        f"{method}() (e.g. {example}, or use sampler=svdd)")


@runtime_checkable
class MultiObjective(Protocol):
    """A reward of several objectives (reward=pareto; svdd_cli.fronts, docs/pareto.md): a vector per sample, turned
    into one number per row by the weights of the output the row is a candidate for, so that a batch's outputs
    spread along the front. Its __call__ scores row j for output j."""

    objectives: Objectives
    real_samples: Sequence[Any]  # real held-out samples drawn beside the front (scored by the terms; may be empty)

    def objective_values(self, samples: list[Any]) -> Tensor:
        """Decoded batch -> (B, K) oriented values (higher is better), each row a function of its sample alone: the
        oracle calls, what a run's ledger keeps."""

    def scalarise(self, values: Tensor, outputs: Tensor) -> Tensor:
        """values (B, K) of candidates for the outputs (B,) (indices in the sampler's batch) -> (B,); no oracle call."""

    def scores_for(self, samples: list[Any], outputs: Tensor) -> Tensor:
        """(B,) what a sampler steers by: each row's objective values scalarised for its output (B,)."""


def output_rewards(reward: Reward, samples: list[Any], outputs: Tensor) -> Tensor:
    """(B,) rewards of decoded samples that are candidates for `outputs` (B,), the index in the sampler's batch of
    the output each row may become: a MultiObjective reward scalarises each row by its output's weights, any other
    reward is reward(samples). Samplers that know their layout (svdd's M candidates per output, best_of_n's N,
    particles) call this; a plain reward(samples) scores row j for output j."""
    if isinstance(reward, MultiObjective):
        return reward.scores_for(samples, outputs.cpu())
    return reward(samples)


def per_output(n: int, rows: int) -> Tensor:
    """outputs (rows,) of a batch laid out as n blocks of rows / n candidates, output i's block i-th:
    [0, .., 0, 1, .., 1, ...]."""
    return torch.arange(n).repeat_interleave(rows // n)


@runtime_checkable
class OracleStats(Protocol):
    """An oracle that reports its own counters (cache hits, failures) for summary.json."""

    def stats(self) -> dict[str, float]:
        """Counter name -> value."""


class Ledger(Protocol):
    """The run's record of distinct oracle calls (svdd_cli.oracle_calls.OracleLedger)."""

    def score(self, oracle: Callable[[list[Any]], Any], samples: list[Any]) -> Tensor:
        """(B,) scores ((B, K) for a MultiObjective's vectors): repeats from the record, unseen samples from
        oracle(...) while its budget lasts."""

    def calls_left(self) -> int | None:
        """Distinct calls left in the budget (None: no budget)."""


@runtime_checkable
class Metered(Protocol):
    """A reward whose distinct oracle calls may be capped (oracle_budget): a loop that can stop early asks it."""

    def calls_left(self) -> int | None:
        """Distinct oracle calls the run may still make; None: no cap."""


@runtime_checkable
class Budgeted(Protocol):
    """A sampler whose width (candidates, particles, rounds, ...) follows a compute budget."""

    def with_budget(self, nfe_per_sample: int, steps: int) -> Sampler:
        """This sampler sized to spend at most nfe_per_sample network evaluations per sample over `steps`
        steps; ValueError naming the smallest budget it can fit when it cannot."""


@dataclass
class Counters:
    """Compute spent: network evaluations (rows), reward calls (samples scored), wall seconds,
    and how many reward values were NaN/inf or raised (replaced by the penalty)."""

    nfe: int = 0
    reward_calls: int = 0
    wall_s: float = 0.0
    invalid_rewards: int = 0
    _started: float = field(default=0.0, repr=False)

    def start(self) -> None:
        self._started = time.perf_counter()

    def stop(self) -> None:
        self.wall_s += time.perf_counter() - self._started



class CountedModel:
    """A DiffusionModel that counts network evaluations and chunks predict() by max_batch rows;
    precision="bf16" runs the network under bfloat16 autocast (outputs stay float32).
    counted_model() adds the inner model's capabilities (MaskedKernel, GradientModel, Encoder, PositionNoise,
    Guided)."""

    def __init__(self, model: DiffusionModel, counters: Counters, max_batch: int, precision: str = "fp32") -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision={precision} must be one of {', '.join(PRECISIONS)}")
        self.inner, self.counters, self.max_batch = model, counters, max_batch
        self.device = model.device
        self.bf16 = precision == "bf16"

    def timesteps(self) -> Sequence[float]:
        return self.inner.timesteps()

    def init(self, n: int, generator: torch.Generator) -> Tensor:
        return self.inner.init(n, generator)

    def predict(self, x_t: Tensor, t: float) -> Prediction:
        return self._counted(self.inner.predict, x_t, t)

    def propose(self, pred: Prediction, s: float, generator: torch.Generator) -> Tensor:
        return self.inner.propose(pred, s, generator)

    def log_prob(self, pred: Prediction, x_s: Tensor, s: float) -> Tensor:
        return self.inner.log_prob(pred, x_s, s)

    def noise_to(self, x0: Tensor, t: float, generator: torch.Generator) -> Tensor:
        return self.inner.noise_to(x0, t, generator)

    def sample_x0(self, pred: Prediction, generator: torch.Generator) -> Tensor:
        return self.inner.sample_x0(pred, generator)

    def decode(self, x: Tensor) -> list[Any]:
        return self.inner.decode(x)

    def log_likelihood(self, x0: Tensor, generator: torch.Generator, draws: int = 8) -> Tensor:
        return self.inner.log_likelihood(x0, generator, draws=draws)

    def _counted(self, network: Callable[[Tensor, float], Prediction], x_t: Tensor, t: float) -> Prediction:
        """network(x_t, t) counted per row, chunked by max_batch rows, under the precision's autocast. Out of
        memory halves max_batch and retries (results do not depend on it); a non-finite output is a ModelFailed."""
        self.counters.nfe += x_t.shape[0]
        while True:
            try:
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                    pred = Prediction.cat([network(chunk, t) for chunk in x_t.split(self.max_batch)])
                break
            except torch.OutOfMemoryError:
                if self.max_batch == 1:
                    raise ModelFailed(f"out of memory on {self.device} even at max_batch=1") from None
                self.max_batch //= 2
                log.warning("out of memory on %s: max_batch halved to %d, network call retried",
                            self.device, self.max_batch)
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
        # one reduction (one device sync) per call: Gaussian x0 carries any NaN/inf of eps; masked log-probs may be -inf
        finite = torch.isfinite(pred.x0).all() if pred.x0.is_floating_point() else ~torch.isnan(pred.output).any()
        if not finite:
            raise ModelFailed(f"the model's output at t={t:.3g} is not finite (NaN/inf){' under bf16' * self.bf16}; "
                              "check the checkpoint" + (" or use precision=fp32" if self.bf16 else ""))
        return pred


class CountedMaskedModel(CountedModel):
    """A counted MaskedKernel."""

    def __init__(self, model: DiffusionModel, counters: Counters, max_batch: int, precision: str = "fp32") -> None:
        super().__init__(model, counters, max_batch, precision)
        self.vocab, self.mask_id, self.length = model.vocab, model.mask_id, model.length

    def transition_log_probs(self, pred: Prediction, s: float) -> Tensor:
        return self.inner.transition_log_probs(pred, s)


class CountedGradientModel(CountedModel):
    """A counted GradientModel: the differentiable forward counts as predict()."""

    def predict_with_grad(self, x_t: Tensor, t: float) -> Prediction:
        return self._counted(self.inner.predict_with_grad, x_t, t)

    def decode_images(self, x: Tensor) -> Tensor:
        return self.inner.decode_images(x)


def counted_model(model: DiffusionModel, counters: Counters, max_batch: int,
                  precision: str = "fp32") -> CountedModel:
    """`model` counted by `counters`, with the same optional capabilities as `model`."""
    if isinstance(model, MaskedKernel):
        counted: CountedModel = CountedMaskedModel(model, counters, max_batch, precision)
    elif isinstance(model, GradientModel):
        counted = CountedGradientModel(model, counters, max_batch, precision)
    else:
        counted = CountedModel(model, counters, max_batch, precision)
    # capabilities are the inner model's own methods, which call no network; reward_direction's network calls go
    # through the counted model
    if isinstance(model, Encoder):
        counted.encode_samples = model.encode_samples  # type: ignore[attr-defined]
    if isinstance(model, PositionNoise):
        counted.noise_positions = model.noise_positions  # type: ignore[attr-defined]
        counted.position_log_probs = model.position_log_probs  # type: ignore[attr-defined]
    if isinstance(model, Guided):
        counted.propose_guided = model.propose_guided  # type: ignore[attr-defined]
        guide = functools.partial(model.reward_direction, network=counted)
        counted.reward_direction = guide  # type: ignore[attr-defined]
    return counted


class CountedReward:
    """A Reward that counts the samples it scored and never lets a bad value through: NaN/inf, or a sample on
    which the oracle raised, gets `penalty` and is counted in counters.invalid_rewards. Once it has scored
    `min_values` values, more than max_invalid_fraction of them invalid stops the run with a RewardFailed naming
    the reward; so does a call past `timeout` seconds or of the wrong shape. `feasible` (svdd_cli.constraints): a
    sample it rejects gets `penalty` and never reaches the oracle (nor the counters). `natural`: a cheap naturalness
    term added to every valid score the sampler steers by (reward.natural; never an oracle call, never reported as
    the reward). counted_reward() adds the inner reward's differentiable capability (unconstrained: a gradient sees
    no constraint and no naturalness term)."""

    def __init__(self, reward: Reward, counters: Counters, penalty: float, max_invalid_fraction: float = 1.0,
                 timeout: float | None = None, min_values: int = 1, name: str | None = None,
                 ledger: Ledger | None = None, feasible: Feasible | None = None, natural: Reward | None = None) -> None:
        self.inner, self.counters, self.penalty, self.feasible = reward, counters, penalty, feasible
        self.natural = natural
        if isinstance(natural, SetLevel):
            self.set_level = True  # its values depend on the whole batch it is called with (core.SetLevel)
        self.max_invalid_fraction, self.timeout, self.min_values = max_invalid_fraction, timeout, min_values
        self.name = name or reward_name(reward)  # what messages call it: reward=<name>
        self.seen = self.invalid = 0  # values scored by this wrapper, and how many of them were invalid
        self.ledger = ledger
        self.oracle = self.through_ledger(reward)
        self.width: tuple[int, ...] = ()  # the shape of one sample's value: a number

    def through_ledger(self, oracle: Callable[[list[Any]], Any]) -> Callable[[list[Any]], Any]:
        """The oracle as called: through the run's ledger of distinct calls (repeats free, budget) when there is
        one."""
        return oracle if self.ledger is None else functools.partial(self.ledger.score, oracle)

    def calls_left(self) -> int | None:
        """Distinct oracle calls this run may still make (core.Metered); None: no oracle_budget."""
        return None if self.ledger is None else self.ledger.calls_left()

    def __call__(self, samples: list[Any]) -> Tensor:
        """(B,) scores (+ the naturalness term where valid); with `feasible`, a sample that breaks a constraint gets
        `penalty` without an oracle call."""
        return self.with_natural(self._values(samples), samples)

    def with_natural(self, scores: Tensor, samples: list[Any], valid: Tensor | None = None) -> Tensor:
        """(B,) scores + the naturalness term on `valid` rows (default: those above the penalty)."""
        if self.natural is None:
            return scores
        valid = scores > self.penalty if valid is None else valid
        return torch.where(valid, scores + torch.as_tensor(self.natural(samples)).float(), scores)

    def _values(self, samples: list[Any]) -> Tensor:
        """(B, *width) values, `penalty` for infeasible samples (no oracle call) and invalid ones."""
        if self.feasible is None:
            return self._scored(samples)
        ok = self.feasible(samples)
        r = torch.full((len(samples), *self.width), float(self.penalty))
        if ok.any():
            r[ok] = self._scored([s for s, keep in zip(samples, ok.tolist()) if keep])
        return r

    def _scored(self, samples: list[Any]) -> Tensor:
        self.counters.reward_calls += len(samples)
        error, shape = "", (len(samples), *self.width)
        try:
            r = torch.as_tensor(self._timed(self.oracle, samples)).float().cpu()
        except RewardFailed:
            raise
        except OracleError as err:  # the whole batch failed: no retry sample by sample
            r, error = torch.full(shape, math.nan), f"{type(err).__name__}: {err}"
        except Exception as err:  # find the samples it fails on, score the others
            values, errors = zip(*(self._one(s) for s in samples)) if samples else ((), ())
            r = torch.stack(values) if values else torch.zeros(shape)
            error = next((e for e in errors if e), f"{err}")
        if r.shape != shape:
            what = "one number per sample" if not self.width else f"{self.width[0]} numbers per sample"
            raise RewardFailed(f"reward={self.name} returned shape {tuple(r.shape)} for {len(samples)} samples; "
                               f"a reward returns {what}, shape {shape}")
        bad = ~torch.isfinite(r).view(len(samples), -1).all(1)  # a sample with any NaN/inf value
        self.counters.invalid_rewards += int(bad.sum())
        self.seen, self.invalid = self.seen + len(samples), self.invalid + int(bad.sum())
        if self.seen >= self.min_values and self.invalid > self.max_invalid_fraction * self.seen:
            why = error.splitlines()[-1] if error.strip() else "it returned NaN/inf"
            raise RewardFailed(f"reward={self.name} gave no valid value for {self.invalid} of {self.seen} "
                               f"samples ({why}); finished batches are kept (max_invalid_fraction=1.0 never stops)")
        return r.masked_fill(bad.view(-1, *[1] * len(self.width)), self.penalty)

    def _one(self, sample: Any) -> tuple[Tensor, str]:
        try:
            return torch.as_tensor(self._timed(self.oracle, [sample])[0]).float().cpu().reshape(self.width), ""
        except RewardFailed:
            raise
        except Exception as err:
            return torch.full(self.width, math.nan), f"{type(err).__name__}: {err}"

    def _timed(self, function: Callable[[list[Any]], Any], samples: list[Any]) -> Any:
        """function(samples), or RewardFailed when it takes longer than `timeout` seconds."""
        if self.timeout is None:
            return function(samples)
        box: dict[str, Any] = {}

        def call() -> None:
            try:
                box["value"] = function(samples)
            except BaseException as err:  # re-raised in the caller's thread
                box["error"] = err

        worker = threading.Thread(target=call, daemon=True)  # a hung oracle must not keep the process alive
        worker.start()
        worker.join(self.timeout)
        if worker.is_alive():
            raise RewardFailed(f"reward={self.name} did not answer within {self.timeout:g} s for "
                               f"{len(samples)} samples (reward_timeout={self.timeout:g})")
        if "error" in box:
            raise box["error"]
        return box["value"]


def reward_name(reward: Any) -> str:
    """The config name of a shipped reward (configs/reward/<module>.yaml <-> svdd_cli/rewards/<module>.py), a
    plug-in reward's class name, or a plain function's name."""
    if isinstance(reward, (CountedReward, FunctionReward)):
        return reward.name
    module = type(reward).__module__
    return module.rsplit(".", 1)[-1] if module.startswith("svdd_cli.rewards.") else type(reward).__name__


class CountedProbsReward(CountedReward):
    """A counted ProbsReward; score_probs counts like __call__ (no penalty: guidance guards non-finite values)."""

    def __init__(self, reward: Reward, counters: Counters, penalty: float, max_invalid_fraction: float = 1.0,
                 timeout: float | None = None, min_values: int = 1, name: str | None = None,
                 ledger: Ledger | None = None, feasible: Feasible | None = None, natural: Reward | None = None) -> None:
        super().__init__(reward, counters, penalty, max_invalid_fraction, timeout, min_values, name, ledger, feasible,
                         natural)
        self.alphabet = reward.alphabet

    def score_probs(self, probs: Tensor) -> Tensor:
        self.counters.reward_calls += len(probs)
        return self.inner.score_probs(probs)


class CountedMultiObjective(CountedReward):
    """A counted MultiObjective: the ledger keeps each sample's vector of objective values (a number depending on
    the batch is never cached); invalid or infeasible samples get `penalty` in every objective (oriented: worst).
    The naturalness term is added to the scalarised value a sampler steers by, never to the objectives."""

    def __init__(self, reward: Reward, counters: Counters, penalty: float, max_invalid_fraction: float = 1.0,
                 timeout: float | None = None, min_values: int = 1, name: str | None = None,
                 ledger: Ledger | None = None, feasible: Feasible | None = None, natural: Reward | None = None) -> None:
        super().__init__(reward, counters, penalty, max_invalid_fraction, timeout, min_values, name, ledger, feasible,
                         natural)
        self.objectives, self.real_samples = reward.objectives, reward.real_samples
        self.oracle = self.through_ledger(reward.objective_values)
        self.width = (len(self.objectives.names),)

    def objective_values(self, samples: list[Any]) -> Tensor:
        return self._values(samples)

    def scalarise(self, values: Tensor, outputs: Tensor) -> Tensor:
        return self.inner.scalarise(values, outputs)

    def scores_for(self, samples: list[Any], outputs: Tensor) -> Tensor:
        values = self.objective_values(samples)
        return self.with_natural(self.scalarise(values, outputs), samples, (values > self.penalty).all(1))

    def __call__(self, samples: list[Any]) -> Tensor:
        return self.scores_for(samples, torch.arange(len(samples)))


class CountedImageReward(CountedReward):
    """A counted ImageReward; score_images counts like __call__."""

    def score_images(self, images: Tensor) -> Tensor:
        self.counters.reward_calls += len(images)
        return self.inner.score_images(images)


def counted_reward(reward: Reward, counters: Counters, penalty: float, max_invalid_fraction: float = 1.0,
                   timeout: float | None = None, min_values: int = 1, name: str | None = None,
                   ledger: Ledger | None = None, feasible: Feasible | None = None,
                   natural: Reward | None = None) -> CountedReward:
    """`reward` counted by `counters`, bad values replaced by `penalty` (CountedReward), with the same
    differentiable capability as `reward`; `name` (default reward_name) is what its messages call it; `ledger`:
    the run's record of distinct oracle calls that __call__ goes through (svdd_cli.oracle_calls); `feasible`: the
    run's hard constraints (infeasible samples get `penalty` without an oracle call); `natural`: a naturalness term
    added to the scores the sampler steers by (a MultiObjective's scalarised value, never its objectives)."""
    if isinstance(reward, MultiObjective):
        kind: type[CountedReward] = CountedMultiObjective
    elif isinstance(reward, ProbsReward):
        kind = CountedProbsReward
    elif isinstance(reward, ImageReward):
        kind = CountedImageReward
    else:
        kind = CountedReward
    return kind(reward, counters, penalty, max_invalid_fraction, timeout, min_values, name, ledger, feasible, natural)
