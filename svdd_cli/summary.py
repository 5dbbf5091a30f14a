"""summary.json and plots of a run (or of merged shards), computed from its rows and counters."""

from __future__ import annotations

import json
import logging
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from svdd_cli import constraints, plots
from svdd_cli.core import Counters, Domain
from svdd_cli.fronts import Objectives
from svdd_cli.naturalness.warnings import applies, warnings
from svdd_cli.outputs import describe

log = logging.getLogger("svdd")
UNSTEERED = "svdd_cli.samplers.ancestral.Ancestral"  # the pre-trained model's own samples


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def summarise(settings: dict[str, Any], choices: dict[str, str], domain: Domain, rows: list[dict[str, Any]],
              reference: list[float], counters: Counters, device: str, status: str,
              oracle: dict[str, float]) -> dict[str, Any]:
    """Everything a comparison needs: choices and settings, reward statistics, evaluation_reward and every other
    evaluation column (evaluations: evaluation_<name>), naturalness against real data, each oracle's real quantiles,
    warnings, notes (a figure left out, e.g. without its optional extra), compute spent; with hard constraints,
    `constraints` (infeasible outputs, redraws) and a warning when an output still breaks one."""
    evaluation = [r["evaluation_reward"] for r in rows if r["evaluation_reward"] is not None]
    columns = [c for c in (rows[0] if rows else {}) if c.startswith("evaluation_") and c != "evaluation_reward"]
    with logged("naturalness", f"the domain's figures over {len(rows)} samples"):
        naturalness = {"log_likelihood": describe([r["log_likelihood"] for r in rows]), **domain.metrics(rows)}
    oracles = real_quantiles(settings, naturalness.pop("oracles", {}))
    notes = naturalness.pop("notes", [])
    reward = describe([r["reward"] for r in rows])
    summary = {
        "status": status,
        "choices": choices,
        "settings": settings,
        "seed": settings["seed"], "num_samples": len(rows),
        "sampler": settings["sampler"],
        "reward": reward,
        "evaluation_reward": describe(evaluation),
        "evaluations": {c: describe([r[c] for r in rows if r[c] is not None]) for c in columns},
        "reference_reward": describe(reference),
        "naturalness": naturalness,
        "real_quantiles": {c: {"checkpoint": e["checkpoint"], "data": e["data"], **e["quantiles"]}
                           for c, e in oracles.items()},
        "warnings": warnings(rows, oracles, naturalness, reward["median"], describe(reference)["median"],
                             steered=(settings.get("sampler") or {}).get("_target_") != UNSTEERED),
        "notes": notes,
        "nfe": counters.nfe, "nfe_per_sample": counters.nfe / max(len(rows), 1),
        "reward_calls": counters.reward_calls, "invalid_rewards": counters.invalid_rewards,
        "oracle": oracle,
        "wall_s": counters.wall_s, "device": device, "precision": settings.get("precision", "fp32"),
        "torch": torch.__version__,
    }
    names = [name for name, node in (settings.get("constraints") or {}).items() if node is not None]
    if names:
        summary["constraints"] = constraints.summary(names, rows, settings.get("constraint_tries"))
        summary["warnings"] += constraints.warning(summary["constraints"], len(rows))
    return summary


def real_quantiles(settings: dict[str, Any], declared: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The declared oracle quantiles (column -> entry) that belong to this run's oracles: "reward" and
    "evaluation_reward" only when the run's reward / evaluation node uses that checkpoint with those settings."""
    reward = settings.get("reward") or {}
    nodes = {"reward": reward, "evaluation_reward": reward.get("evaluation") or {}}
    return {c: e for c, e in declared.items() if applies(e, nodes.get(c))}


def histogram_labels(summary: dict[str, Any]) -> dict[str, Any]:
    """reward_hist.png's title (domain, reward, sampler), its x axis (the reward and its oracle's checkpoint) and
    the oracle's real-data quantiles (where the domain declares them for this reward: the p99 marker)."""
    choices, real = summary["choices"], summary["real_quantiles"].get("reward")
    oracle = f"reward={choices.get('reward')}" + (f" (oracle {real['checkpoint']})" if real else "")
    title = "  ".join(f"{k}={choices[k]}" for k in ("domain", "model", "reward", "sampler") if k in choices)
    return {"label": choices.get("sampler", "run"), "oracle": oracle, "real": real, "title": title}


def make_plots(folder: Path, rows: list[dict[str, Any]], reference: list[float], summary: dict[str, Any],
               reference_values: Tensor | None = None, real_values: Tensor | None = None) -> None:
    """reward_hist.png (this run over the pre-trained distribution, labelled by `summary`) and reward_steps.png
    (from the trace); with a `pareto` block, pareto.png (the oriented objective values (n, K) of the reference
    samples, reference_values, and of real held-out samples, real_values, beside the run's)."""
    started = time.perf_counter()
    if rows:
        plots.reward_histogram([r["reward"] for r in rows], reference, path=folder / "reward_hist.png",
                               **histogram_labels(summary))
    if rows and "pareto" in summary:
        objectives = Objectives.from_record(summary["pareto"]["objectives"])
        plots.pareto_front(objectives, {histogram_labels(summary)["label"]: rows}, folder / "pareto.png",
                           title=histogram_labels(summary)["title"],
                           reference=None if reference_values is None else objectives.orient(reference_values),
                           real=None if real_values is None else objectives.orient(real_values))
    trace_path = folder / "trace.jsonl"
    if trace_path.exists():
        records = [json.loads(line) for line in trace_path.read_text().splitlines()]
        plots.reward_along_steps(records, folder / "reward_steps.png")
    log.info("plots: %.1f s", time.perf_counter() - started)


@contextmanager
def logged(phase: str, what: str) -> Iterator[None]:
    """Log the phase and `what` it does before the block, its seconds after it: the phases after the last batch
    are not silent."""
    log.info("%s: %s ...", phase, what)
    started = time.perf_counter()
    yield
    log.info("%s: %.1f s", phase, time.perf_counter() - started)
