"""Ships configs/ and checkpoints/ inside the package (svdd_cli/_assets/ of a built wheel), where
svdd_cli/assets.py finds them through importlib.resources whatever the install scheme (--user, --prefix, venv);
a checkout uses the folders beside the package. Everything else is in pyproject.toml."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithAssets(build_py):
    """build_py, plus configs/ and checkpoints/ copied to <build>/svdd_cli/_assets/ (not in editable installs)."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        for folder in ("configs", "checkpoints"):
            shutil.copytree(folder, Path(self.build_lib) / "svdd_cli" / "_assets" / folder, dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildWithAssets})
