"""Installs configs/ and checkpoints/ under <prefix>/share/svdd, where svdd_cli/assets.py finds them when svdd is
not run from a checkout (everything else is in pyproject.toml)."""

from pathlib import Path

from setuptools import setup


def data_files(*roots: str) -> list[tuple[str, list[str]]]:
    """(share/svdd/<folder>, [files]) for every folder under the roots that holds files."""
    folders = sorted({f.parent for root in roots for f in Path(root).rglob("*") if f.is_file()})
    return [(f"share/svdd/{d}", sorted(str(f) for f in d.iterdir() if f.is_file())) for d in folders]


setup(data_files=data_files("configs", "checkpoints"))
