"""One picture comparing image runs (e.g. ancestral vs svdd): a row of samples per run, rewards under each.

    python scripts/image_sampler_grid.py multirun/compare-X/0-* multirun/compare-X/2-* --out docs/grid.png

Each run contributes its first --n samples (samples.csv order, which is the seed order, so rows of runs with
the same seed start from the same noise) under a header naming its sampler and median reward.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from PIL import Image, ImageDraw

from svdd_cli.domains.image.domain import image_grid


def run_block(folder: Path, n: int, scale: int) -> Image.Image:
    summary = json.loads((folder / "summary.json").read_text())
    rows = list(csv.DictReader(open(folder / "samples.csv")))[:n]
    grid = image_grid([Image.open(folder / r["file"]) for r in rows], [f"{float(r['reward']):.3g}" for r in rows],
                      scale, cols=n)
    block = Image.new("RGB", (grid.width, grid.height + 18), "white")
    ImageDraw.Draw(block).text((2, 3), f"{summary['choices']['sampler']}: {summary['choices']['reward']} median "
                                      f"{summary['reward']['median']:.3g} (NFE/sample {summary['nfe_per_sample']:.0f})",
                               fill="black")
    block.paste(grid, (0, 18))
    return block


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path, help="run folders (with summary.json, samples.csv, images/)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--n", type=int, default=12)
    p.add_argument("--scale", type=int, default=3)
    args = p.parse_args()
    blocks = [run_block(folder, args.n, args.scale) for folder in args.runs]
    out = Image.new("RGB", (max(b.width for b in blocks), sum(b.height + 6 for b in blocks)), "white")
    y = 0
    for block in blocks:
        out.paste(block, (0, y))
        y += block.height + 6
    args.out.parent.mkdir(parents=True, exist_ok=True)
    out.save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
