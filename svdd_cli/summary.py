"""summary.json and plots of a run (or of merged shards), computed from its rows and counters."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import torch

from svdd_cli import plots
from svdd_cli.core import Counters, Domain
from svdd_cli.outputs import describe


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def summarise(settings: dict[str, Any], choices: dict[str, str], domain: Domain, rows: list[dict[str, Any]],
              reference: list[float], counters: Counters, device: str, status: str,
              oracle: dict[str, float]) -> dict[str, Any]:
    """Everything a comparison needs: choices, reward statistics, naturalness, compute spent."""
    evaluation = [r["evaluation_reward"] for r in rows if r["evaluation_reward"] is not None]
    return {
        "status": status,
        "choices": choices,
        "seed": settings["seed"], "num_samples": len(rows),
        "sampler": settings["sampler"],
        "reward": describe([r["reward"] for r in rows]),
        "evaluation_reward": describe(evaluation),
        "reference_reward": describe(reference),
        "naturalness": {"log_likelihood": describe([r["log_likelihood"] for r in rows]), **domain.metrics(rows)},
        "nfe": counters.nfe, "nfe_per_sample": counters.nfe / max(len(rows), 1),
        "reward_calls": counters.reward_calls, "invalid_rewards": counters.invalid_rewards,
        "oracle": oracle,
        "wall_s": counters.wall_s, "device": device, "precision": settings.get("precision", "fp32"),
        "torch": torch.__version__,
    }


def make_plots(folder: Path, rows: list[dict[str, Any]], reference: list[float], label: str) -> None:
    """reward_hist.png (this run over the pre-trained distribution) and reward_steps.png (from the trace)."""
    if rows:
        plots.reward_histogram([r["reward"] for r in rows], reference, label, folder / "reward_hist.png")
    trace_path = folder / "trace.jsonl"
    if trace_path.exists():
        records = [json.loads(line) for line in trace_path.read_text().splitlines()]
        plots.reward_along_steps(records, folder / "reward_steps.png")
