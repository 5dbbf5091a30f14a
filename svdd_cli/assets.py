"""Where the shipped configs and checkpoints live: a checkout, or an installed package's share/svdd."""

from __future__ import annotations

import sys
from pathlib import Path

from omegaconf import OmegaConf

from svdd_cli.errors import UserError


def asset_root() -> Path:
    """The folder holding configs/ and checkpoints/."""
    for root in (Path(__file__).resolve().parent.parent, Path(sys.prefix) / "share" / "svdd"):
        if (root / "configs" / "config.yaml").is_file():
            return root
    raise UserError("svdd's configs/ folder was not found next to the package or in <prefix>/share/svdd; "
                    "reinstall with `pip install .` from a checkout")


def register_resolver() -> None:
    """${svdd_asset:checkpoints} in a config -> absolute path of the shipped checkpoints folder."""
    if not OmegaConf.has_resolver("svdd_asset"):
        OmegaConf.register_new_resolver("svdd_asset", lambda name: str(asset_root() / name))
