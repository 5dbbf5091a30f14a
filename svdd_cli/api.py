"""The Hydra-free core that `svdd run` and notebooks share: load a model and a reward, steer, get samples.

    import svdd_cli
    model = svdd_cli.load_model("dna", num_steps=20)          # a domain's shipped model; settings as keywords
    reward = svdd_cli.load_reward("enhancer")                 # any configs/reward option, or a plain function
    from svdd_cli.samplers.svdd import SVDD
    result = svdd_cli.steer(model, reward, SVDD(num_candidates=10), num_samples=64, seed=0)
    result.samples, result.rewards, result.nfe

Batch b of a run is drawn with the generator seeded by (seed, b), so the same seed and batch_size give the
same samples as the CLI. With `out=FOLDER` steer writes the run folder the CLI writes (samples.csv, the
domain's native file, trace.jsonl, summary.json, plots) and can resume it.
"""

from __future__ import annotations

import errno
import functools
import logging
import math
import time
import types
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from svdd_cli.compose import compose_config, instantiate_part, reward_nodes
from svdd_cli.constraints import Constraint, Constraints
from svdd_cli.core import (
    Budgeted,
    Counters,
    DiffusionModel,
    Domain,
    DomainRestricted,
    FunctionReward,
    MultiObjective,
    OracleStats,
    Reward,
    Sampler,
    SetLevel,
    Trace,
    counted_model,
    counted_reward,
    reward_name,
)
from svdd_cli.errors import UserError
from svdd_cli.outputs import describe as describe_rewards
from svdd_cli.result import Result
from svdd_cli.settings import Settings

if TYPE_CHECKING:
    from svdd_cli.oracle_calls import OracleLedger
    from svdd_cli.writer import RunWriter

log = logging.getLogger("svdd")


PLAIN_FUNCTIONS = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, functools.partial)


def as_reward(reward: Reward | Callable[[list[Any]], Any]) -> Reward:
    """A Reward as given; a plain function wrapped as FunctionReward."""
    return FunctionReward(reward) if isinstance(reward, PLAIN_FUNCTIONS) else reward


def load_model(domain: str, model: str | None = None, **settings: Any) -> DiffusionModel:
    """A domain's model from configs/model/ (its shipped model by default); keywords override model.<key>."""
    cfg = compose_config([f"domain={domain}", *([f"model={model}"] if model else [])])
    return instantiate_part(_override(cfg.model, settings, "model"), "model")


def load_reward(name: str, **settings: Any) -> Reward:
    """A reward from configs/reward/<name>.yaml (without its evaluation and natural blocks); keywords override
    reward.<key>."""
    cfg = compose_config([f"reward={name}"])
    node, _, _ = reward_nodes(_override(cfg.reward, settings, "reward"))
    return instantiate_part(node, "reward")


def load_sampler(name: str, *, domain: str | None = None, **settings: Any) -> Sampler:
    """A sampler from configs/sampler/<name>.yaml with its shipped defaults, and with `domain` the settings
    configs/sampler_domain/<name>_<domain>.yaml gives it there (as `svdd run domain=...` does); keywords override
    sampler.<key>."""
    cfg = compose_config([f"sampler={name}", *([f"domain={domain}"] if domain else [])])
    return instantiate_part(_override(cfg.sampler, settings, "sampler"), "sampler")


def load_domain(name: str) -> Domain:
    """A domain from configs/domain/<name>.yaml."""
    return instantiate_part(compose_config([f"domain={name}"]).domain, "domain")


def _override(node: Any, settings: dict[str, Any], group: str) -> dict[str, Any]:
    from omegaconf import OmegaConf

    values = OmegaConf.to_container(node, resolve=True)
    unknown = sorted(set(settings) - set(values))
    if unknown:
        known = ", ".join(k for k in values if k != "_target_")
        raise UserError(f"{group} has no setting {unknown[0]!r}; its settings: {known}")
    return {**values, **settings}


def steer(model: DiffusionModel, reward: Reward | Callable[[list[Any]], Any], sampler: Sampler,
          num_samples: int = 64, seed: int = 0, *, domain: Domain | str | None = None,
          evaluation: Reward | None = None, out: str | Path | None = None, resume: bool = False,
          labels: dict[str, str] | None = None, record: dict[str, Any] | None = None,
          progress: Trace | None = None, constraints: Constraints | Sequence[Constraint] = (),
          natural: Reward | None = None, **settings: Any) -> Result:
    """Draw num_samples samples of `model` steered by `reward` with `sampler`, in batches of batch_size.

    settings: any Settings field (batch_size, max_batch, precision, nfe_per_sample, reference_samples, ...).
    out: write (or, with resume=True, continue) the CLI's run folder there. labels: the config choices shown in
    summary.json. record: the settings a resume must match (default: the Settings, the sampler's and the
    constraints'). progress: called with every trace record. constraints: hard rules every output meets
    (svdd_cli.constraints; constraint_tries redraws). natural: a naturalness reward added to what the sampler
    steers by, never to the reported reward (e.g. load_reward("kmer_natural")). Ctrl-C keeps the finished batches
    and re-raises."""
    from svdd_cli.summary import device_name, logged
    from svdd_cli.writer import RunWriter

    unknown = sorted(set(settings) - set(Settings.keys()))
    if unknown:
        raise UserError(f"steer() has no setting {unknown[0]!r}; settings: {', '.join(Settings.keys())}")
    config = Settings(num_samples=num_samples, seed=seed, **settings)
    reward = as_reward(reward)
    domain = load_domain(domain) if isinstance(domain, str) else domain
    constraints = constraints if isinstance(constraints, Constraints) else Constraints(constraints)
    if domain is not None:
        check_fits(domain, model, reward)
        if isinstance(natural, DomainRestricted) and domain.name not in natural.domains:
            raise UserError(f"reward.natural scores {'/'.join(natural.domains)} samples, not domain={domain.name}")
        constraints.check_domain(domain.name)
    sampler = budgeted(sampler, config.nfe_per_sample, model)
    record = record if record is not None else {**asdict(config), "sampler": sampler_settings(sampler),
                                                "constraints": constraints.record()}
    labels = labels or default_labels(domain, reward, sampler)
    writer = RunWriter(Path(out) if out is not None else None, config, domain, labels, resume, record,
                       device_name(model.device), reward.objectives if isinstance(reward, MultiObjective) else None)
    with writer:
        if writer.finished:
            print(f"{writer.folder} is already finished; nothing to do")
            return writer.result()
        counted = counted_model(model, writer.counters, config.max_batch, config.precision)
        ledger = writer.oracle_ledger(config.oracle_budget, config.invalid_reward)
        guide = counted_reward(reward, writer.counters, config.invalid_reward, config.max_invalid_fraction,
                               config.reward_timeout, min_values=GUIDANCE_VALUES, name=labels.get("reward"),
                               ledger=ledger, feasible=constraints.feasible if constraints else None,
                               natural=natural)
        todo = [b for b in config.batches() if b not in writer.done]
        steps = len(model.timesteps()) - 1
        try:
            for k, b in enumerate(todo):
                if ledger.spent:
                    log.info("oracle_budget=%d is spent: %d of %d batches drawn, no further batch", ledger.budget,
                             k, len(todo))
                    break
                if k == 0:
                    log.info("batch 1/%d: drawing %d samples over %d steps", len(todo),
                             min(config.batch_size, config.num_samples - b * config.batch_size), steps)
                started, times = time.perf_counter(), {}
                rows = draw_batch(config, model, counted, guide, reward, evaluation, sampler, writer, b,
                                  ticker(b, k, len(todo), steps, writer.trace, progress), times, ledger, constraints)
                writer.add_batch(b, rows)
                took = time.perf_counter() - started
                log.info("batch %d/%d: %d samples, reward median %.4g, %.1f s (%s), ETA %.0f s", k + 1, len(todo),
                         len(rows), describe_rewards([r["reward"] for r in rows])["median"] or math.nan, took,
                         ", ".join(f"{name} {seconds:.1f} s" for name, seconds in times.items()),
                         took * (len(todo) - k - 1))
        except KeyboardInterrupt:
            writer.finish("interrupted", [], oracle_stats(reward))
            raise
        except OSError as err:
            if err.errno != errno.ENOSPC:
                writer.finish("failed", [], oracle_stats(reward))
                raise
            raise UserError(f"no space left on the device of {writer.folder}; {len(writer.done)} finished batches "
                            "are kept: free some space and rerun with resume=true") from None
        except BaseException:
            writer.finish("failed", [], oracle_stats(reward))
            raise
        reference, reference_values, real_values = [], None, None
        if config.shard == 0 and config.reference_samples > 0:
            with logged("reference", f"{config.reference_samples} samples of the pre-trained model, scored "
                        "(reference_samples=0 skips them)"):
                reference, reference_values = reference_rewards(model, reward, config, labels.get("reward"))
            if isinstance(reward, MultiObjective) and reward.real_samples:
                real = list(reward.real_samples[:config.reference_samples])
                with logged("real samples", f"{len(real)} real held-out samples scored by the front's terms "
                            "(reference_samples=0 skips them)"):
                    values = counted_reward(reward, Counters(), config.invalid_reward, 1.0, config.reward_timeout,
                                            name=labels.get("reward")).objective_values(real)
                    real_values = values[(values > config.invalid_reward).all(1)]  # the ones the terms could score
        writer.finish("finished", reference, oracle_stats(reward), reference_values, real_values)
        return writer.result()


def check_fits(domain: Domain, model: DiffusionModel, reward: Reward) -> None:
    """The reward scores this domain's samples, and the model generates them (UserError otherwise)."""
    if isinstance(reward, SetLevel):
        raise UserError(f"reward={reward_name(reward)} scores a sample against the rest of its batch: it steers as a "
                        "naturalness term only, e.g. reward=enhancer ++reward.natural.kmer_set=5")
    if isinstance(reward, DomainRestricted) and domain.name not in reward.domains:
        raise UserError(f"reward={reward_name(reward)} scores {'/'.join(reward.domains)} samples, "
                        f"not domain={domain.name} (`svdd run --help` lists the rewards)")
    domain.check_model(model)


def oracle_stats(reward: Reward) -> dict[str, float]:
    return reward.stats() if isinstance(reward, OracleStats) else {}


def sampler_settings(sampler: Sampler) -> dict[str, Any]:
    """A sampler's class and scalar settings (what summary.json and a resume compare)."""
    settings = {k: v for k, v in vars(sampler).items() if isinstance(v, (int, float, str, bool, type(None)))}
    return {"_target_": f"{type(sampler).__module__}.{type(sampler).__qualname__}", **settings}


GUIDANCE_VALUES = 64  # guidance stops on invalid rewards only once it has seen this many (a batch's final
# scores stop it on their own: `max_invalid_fraction` of one batch)


def budgeted(sampler: Sampler, nfe_per_sample: int | None, model: DiffusionModel) -> Sampler:
    """The sampler sized to the compute budget (unchanged when there is none)."""
    if nfe_per_sample is None:
        return sampler
    if not isinstance(sampler, Budgeted):
        raise UserError(f"sampler {type(sampler).__name__} cannot size itself to a compute budget; "
                        "drop nfe_per_sample or set its width directly")
    try:
        return sampler.with_budget(nfe_per_sample, len(model.timesteps()) - 1)
    except ValueError as err:  # the shipped samplers' messages name the budget; a plug-in's may not
        named = f"nfe_per_sample={nfe_per_sample}"
        raise UserError(str(err) if str(err).startswith(named) else f"{named}: {err}") from None


def default_labels(domain: Domain | None, reward: Reward, sampler: Sampler) -> dict[str, str]:
    return {"domain": domain.name if domain else "any", "reward": reward_name(reward),
            "sampler": type(sampler).__module__.rsplit(".", 1)[-1]}


def ticker(b: int, k: int, batches: int, steps: int, trace: Trace, progress: Trace | None) -> Trace:
    """The trace callback of batch b (the k-th of this run's `batches`, of `steps` steps): writes the record,
    forwards it, and logs progress at the first step of the run and every ~30 s."""
    started = time.perf_counter()
    last = [started if k > 0 else -math.inf]

    def record(entry: dict[str, Any]) -> None:
        trace({"batch": b, **entry})
        if progress is not None:
            progress(entry)
        now = time.perf_counter()
        if now - last[0] >= 30 and isinstance(entry.get("step"), int):
            last[0] = now
            value = entry.get("kept_mean", entry.get("value_mean"))
            log.info("batch %d/%d, step %d/%d, %.1f s in%s", k + 1, batches, entry["step"] + 1, steps,
                     now - started, f", value of kept samples {value:.4g}" if isinstance(value, float) else "")
        elif now - last[0] >= 30 and entry.get("step") == "population":  # evolve's generations; refine, csmc: rounds
            last[0] = now
            loop = "generation" if "generation" in entry else "round"
            log.info("batch %d/%d, %s %d, %.1f s in, population reward mean %.4g, best %.4g", k + 1, batches, loop,
                     entry[loop], now - started, entry["reward_mean"], entry["reward_max"])

    return record


@contextmanager
def phase(times: dict[str, float], name: str) -> Iterator[None]:
    """Add the seconds the block takes to times[name]."""
    started = time.perf_counter()
    try:
        yield
    finally:
        times[name] = times.get(name, 0.0) + time.perf_counter() - started


def draw_batch(config: Settings, model: DiffusionModel, counted: DiffusionModel, guide: Reward, reward: Reward,
               evaluation: Reward | None, sampler: Sampler, writer: RunWriter, b: int,
               trace: Trace, times: dict[str, float], ledger: OracleLedger,
               constraints: Constraints) -> list[dict[str, Any]]:
    """Draw global batch b and return its samples.csv rows: the domain's columns, rewards, log-likelihood (and with
    constraints: feasible, violated, redraw); the seconds of each phase (sampling, final scores, evaluation,
    log-likelihood) go into `times`. The final scores go through the run's ledger (a sample guidance scored is not
    paid twice); a sample the oracle never saw, because oracle_budget ran out or it breaks a constraint, gets no
    reward (NaN)."""
    first = b * config.batch_size
    n = min(config.batch_size, config.num_samples - first)
    generator = torch.Generator(model.device).manual_seed(config.seed * 1_000_003 + b)
    with timed(writer.counters), phase(times, "sampling"):
        x, redraws = constraints.draw(sampler, counted, guide, n, generator, trace, config.constraint_tries)
    samples = model.decode(x)
    ids = [f"s{first + i:06d}" for i in range(n)]
    columns = {"id": ids, **writer.columns(ids, samples)}
    checked = constraints.columns(samples, redraws)  # {} without constraints
    score = counted_reward(reward, Counters(), config.invalid_reward, config.max_invalid_fraction,
                           config.reward_timeout, name=writer.labels.get("reward"), ledger=ledger,
                           feasible=constraints.feasible if constraints else None)  # final scores: not sampling NFE
    with phase(times, "final scores"):
        rewards, values = scored_with_values(score, samples)
    unscored = [ledger.refused_sample(s) or not ok for s, ok in zip(samples, checked.get("feasible", [True] * n))]
    columns["reward"] = [math.nan if u else r for r, u in zip(rewards, unscored)]
    if isinstance(score, MultiObjective):  # objective_<name>: each term's own value
        columns |= {c: [math.nan if u else v for v, u in zip(column, unscored)]
                    for c, column in score.objectives.raw_columns(values).items()}
    columns["evaluation_reward"] = [None] * n
    if evaluation is not None:
        with phase(times, "evaluation"):
            columns["evaluation_reward"] = evaluation(samples).tolist()
    with phase(times, "log-likelihood"):
        columns["log_likelihood"] = model.log_likelihood(x, generator, draws=config.likelihood_draws).tolist()
    columns.update(checked)
    return [{k: v[i] for k, v in columns.items()} for i in range(n)]


@contextmanager
def timed(counters: Counters) -> Iterator[None]:
    counters.start()
    try:
        yield
    finally:
        counters.stop()


def reference_rewards(model: DiffusionModel, reward: Reward, config: Settings,
                      name: str | None = None) -> tuple[list[float], Tensor | None]:
    """Rewards of `reference_samples` ancestral samples: the pre-trained model's distribution (`name`: the
    reward's name in messages); with a MultiObjective reward also their oriented objective values (n, K)."""
    from svdd_cli.samplers.ancestral import Ancestral

    if config.reference_samples < 1:
        return [], None
    generator = torch.Generator(model.device).manual_seed(config.seed + 7_777_777)
    counted = counted_model(model, Counters(), config.max_batch, config.precision)
    x = Ancestral().sample(counted, reward, config.reference_samples, generator, lambda record: None)
    score = counted_reward(reward, Counters(), config.invalid_reward, 1.0, config.reward_timeout, name=name)
    return scored_with_values(score, model.decode(x))


def scored_with_values(score: Reward, samples: list[Any]) -> tuple[list[float], Tensor | None]:
    """Each sample's reward, and with a MultiObjective reward its oriented objective values (B, K) too (each
    sample scalarised for its own output)."""
    if not isinstance(score, MultiObjective):
        return score(samples).tolist(), None
    values = score.objective_values(samples)
    return score.scalarise(values, torch.arange(len(samples))).tolist(), values
