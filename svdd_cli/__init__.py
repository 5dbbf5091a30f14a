"""svdd: steer pre-trained diffusion models toward high rewards at inference time (SVDD and relatives).

From Python: `svdd_cli.load_model`, `load_reward`, `load_sampler`, `steer` (svdd_cli/api.py). They are
imported on first use, so that `svdd --help` answers without loading torch.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.2.0"
__all__ = ["Result", "Settings", "load_domain", "load_model", "load_reward", "load_sampler", "steer"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from svdd_cli import api

        return getattr(api, name)
    raise AttributeError(f"module 'svdd_cli' has no attribute {name!r}")
