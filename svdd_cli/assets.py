"""Where the shipped configs and checkpoints live: inside an installed package (svdd_cli/_assets/, found through
importlib.resources), or beside the package in a checkout."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from omegaconf import OmegaConf

from svdd_cli.errors import UserError


def asset_root() -> Path:
    """The folder holding configs/ and checkpoints/."""
    for root in (Path(str(files("svdd_cli") / "_assets")), Path(__file__).resolve().parent.parent):
        if (root / "configs" / "config.yaml").is_file():
            return root
    raise UserError("svdd's configs/ folder was not found inside the package or beside it; "
                    "reinstall with `pip install .` from a checkout")


def register_resolver() -> None:
    """${svdd_asset:checkpoints} in a config -> absolute path of the shipped checkpoints folder."""
    if not OmegaConf.has_resolver("svdd_asset"):
        OmegaConf.register_new_resolver("svdd_asset", lambda name: str(asset_root() / name))
