"""What steer() returns (api.steer), as the run writer assembles it (writer.RunWriter.result)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import Tensor

from svdd_cli.core import Counters


@dataclass
class Result:
    """What steer() drew: decoded samples with their rewards, and the compute spent."""

    samples: list[Any]  # decoded samples (strings, SMILES, images (C, H, W) in [0, 1])
    rewards: Tensor  # (n,) rewards of the samples
    rows: list[dict[str, Any]]  # samples.csv rows (id, sample columns, reward, evaluation, log-likelihood)
    counters: Counters  # nfe, reward_calls, wall_s, invalid_rewards of the sampling
    summary: dict[str, Any] = field(default_factory=dict)  # summary.json's content
    folder: Path | None = None  # the run folder, when out= was given

    @property
    def nfe(self) -> int:
        return self.counters.nfe
