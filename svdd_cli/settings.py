"""The top-level settings of a run (configs/config.yaml's keys that steering reads), checked without torch so
that a bad value is a one-line error before anything heavy is imported."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from svdd_cli.errors import UserError

PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class Settings:
    """How a run draws and scores its samples (every top-level key of configs/config.yaml that steering reads)."""

    num_samples: int = 64  # finished samples
    seed: int = 0
    batch_size: int = 64  # samples drawn together; batch b is seeded by (seed, b)
    max_batch: int = 64  # rows per network call (memory only; never changes results)
    precision: str = "fp32"  # fp32 | bf16 autocast
    reference_samples: int = 0  # ancestral samples scored as the pre-trained reference (the CLI draws 64)
    likelihood_draws: int = 8  # Monte Carlo draws of the ELBO (log_likelihood column)
    invalid_reward: float = -1000.0  # value of a sample whose reward is NaN/inf or raised
    max_invalid_fraction: float = 0.99  # stop when a batch's final rewards have more invalid values than this
    reward_timeout: float | None = None  # seconds one reward call may take (None: no limit)
    nfe_per_sample: int | None = None  # compute budget: the sampler sizes itself to it (None: its own widths)
    oracle_budget: int | None = None  # distinct oracle calls of the run; sampling stops when spent (None: no cap)
    constraint_tries: int = 10  # times an output that breaks a hard constraint is drawn again (svdd_cli.constraints)
    num_shards: int = 1
    shard: int = 0

    def __post_init__(self) -> None:
        for key, least in (("num_samples", 1), ("batch_size", 1), ("max_batch", 1), ("num_shards", 1),
                           ("shard", 0), ("seed", 0), ("reference_samples", 0), ("likelihood_draws", 1),
                           ("constraint_tries", 0)):
            check_int(key, getattr(self, key), least)
        for key in ("nfe_per_sample", "oracle_budget"):
            if getattr(self, key) is not None:
                check_int(key, getattr(self, key), 1)
        if not 0 <= self.shard < self.num_shards:
            raise UserError(f"shard={self.shard} must be in 0..num_shards-1 = 0..{self.num_shards - 1}")
        if self.precision not in PRECISIONS:
            raise UserError(f"precision={self.precision} must be one of {', '.join(PRECISIONS)}")
        if not isinstance(self.max_invalid_fraction, (int, float)) or not 0 <= self.max_invalid_fraction <= 1:
            raise UserError(f"max_invalid_fraction={self.max_invalid_fraction!r} must be a number in [0, 1]")
        if self.reward_timeout is not None and not (isinstance(self.reward_timeout, (int, float))
                                                    and self.reward_timeout > 0):
            raise UserError(f"reward_timeout={self.reward_timeout!r} must be a number of seconds > 0, or null")

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def batches(self) -> list[int]:
        """Global indices of this shard's batches."""
        num_batches = -(-self.num_samples // self.batch_size)
        return [b for b in range(num_batches) if b % self.num_shards == self.shard]


def check_int(key: str, value: Any, least: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise UserError(f"{key}={value!r} must be an integer >= {least}")
