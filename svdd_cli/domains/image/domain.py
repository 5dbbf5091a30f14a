"""Images: one PNG per sample, a grid with rewards under each image, and Fashion-MNIST naturalness metrics
(classifier confidence, Frechet distance to the test set in the classifier's features)."""

from __future__ import annotations

import itertools
import math
import statistics
from pathlib import Path
from typing import Any

import torch
from PIL import Image, ImageDraw, ImageFont
from safetensors.torch import load_file
from torch import Tensor

from svdd_cli.checkpoint import resolve_device
from svdd_cli.core import DiffusionModel, GradientModel
from svdd_cli.errors import UserError
from svdd_cli.naturalness.headline import Figure
from svdd_cli.naturalness.reference import FRECHET_SIZES, load_reference, real_fields
from svdd_cli.naturalness.warnings import load_quantiles
from svdd_cli.rewards.classifier import load_classifier
from svdd_cli.science.fashion import classifier_input, feature_stats, frechet_distance
from svdd_cli.science.images import from_pil, to_pil

FASHION_SHAPE = (1, 28, 28)
# what tables and the trade-off plot lead with (naturalness.headline)
HEADLINE = (Figure("frechet_distance", "FD", "Frechet distance to the test set (lower = more natural)"),
            Figure("classifier_confidence_mean", "confidence", "mean classifier confidence (real test: ~0.9)", None))


def image_grid(images: list[Image.Image], labels: list[str], scale: int = 3, cols: int = 8,
               title: str = "") -> Image.Image:
    """Images (same size) upscaled `scale` times in rows of `cols`, each with its label (lines split by "\n")
    written under it in a 13-pixel font, a cell as wide as the wider of image and label; `title` above them all."""
    font = ImageFont.load_default(size=13)
    line_h = 16
    lines = [label.split("\n") for label in labels]
    text_w = max(math.ceil(font.getlength(line)) for label in lines for line in label) + 6
    w, h = (scale * s for s in images[0].size)
    cell_w, label_h = max(w, text_w), line_h * max(map(len, lines)) + 4
    title_h = line_h + 8 if title else 0
    cols = min(cols, len(images))
    grid = Image.new("RGB", (cols * cell_w, title_h + math.ceil(len(images) / cols) * (h + label_h)), "white")
    draw = ImageDraw.Draw(grid)
    if title:
        draw.text((4, 4), title, fill="black", font=font)
    for i, (image, label) in enumerate(zip(images, lines)):
        x, y = (i % cols) * cell_w, title_h + (i // cols) * (h + label_h)
        grid.paste(image.convert("RGB").resize((w, h), Image.NEAREST), (x + (cell_w - w) // 2, y))
        for k, line in enumerate(label):
            draw.text((x + 3, y + h + 2 + k * line_h), line, fill="black", font=font)
    return grid


class ImageDomain:
    """Images decoded to (C, H, W) tensors in [0, 1] (implements core.Domain).

    With a classifier, 28x28 grey samples get class / confidence columns and a run of >= 256 of them a Frechet
    distance to the Fashion-MNIST test set (stats shipped as test_features.safetensors beside the classifier),
    with that of as many real training images (`reference`) as the floor."""

    def __init__(self, name: str = "image", classifier: str | Path | None = None, grid_size: int = 64,
                 scale: int = 3, device: str = "auto", reference: str | Path | None = None,
                 oracles: dict[str, str | Path] | None = None) -> None:
        """reference: FD of real images per sample count (scripts/reference_stats.py image); oracles: samples.csv
        column -> its oracle's real_quantiles.json (the summary's extrapolation warnings)."""
        self.name, self.grid_size, self.scale = name, grid_size, scale
        self.oracles = load_quantiles(oracles)
        self.real = load_reference(reference, "domain.reference")["subsets"] if reference else None
        self.device = resolve_device(device)
        self.net, self.classes, self.reference = None, [], None
        if classifier is not None:
            self.net, self.classes = load_classifier(classifier, self.device)
            stats = load_file(str(Path(classifier) / "test_features.safetensors"))
            self.reference = stats["mu"], stats["cov"]
        self._features: dict[str, Tensor] = {}
        self._folder: Path | None = None

    def check_model(self, model: DiffusionModel) -> None:
        if not isinstance(model, GradientModel):  # pixel and latent diffusers models decode to images
            raise UserError(f"the model does not generate images; domain={self.name} needs an image model "
                            "(model=image or model=stable_diffusion)")

    def columns(self, ids: list[str], samples: list[Tensor], folder: Path) -> dict[str, list[Any]]:
        """Writes images/<id>.png; class and confidence of the 8-bit image for 28x28 grey images when there is a
        classifier."""
        self._folder = folder
        (folder / "images").mkdir(exist_ok=True)
        files = [f"images/{i}.png" for i in ids]
        for file, image in zip(files, samples):
            to_pil(image).save(folder / file)
        labels, confidence = [None] * len(ids), [None] * len(ids)
        if self.net is not None and samples and tuple(samples[0].shape) == FASHION_SHAPE:
            quantised = [(s.float().clamp(0, 1) * 255).round() / 255 for s in samples]  # as in the PNGs
            with torch.inference_mode():
                feats = self.net.features(classifier_input(quantised).to(self.device))
                probs = self.net.head(feats).softmax(-1).cpu()
            self._features.update(zip(ids, feats.cpu()))
            labels = [self.classes[k] for k in probs.argmax(1).tolist()]
            confidence = probs.max(1).values.tolist()
        return {"file": files, "class": labels, "confidence": confidence}

    def write_native(self, folder: Path, rows: list[dict[str, Any]]) -> None:
        """grid.png: the first `grid_size` samples, each with its id and reward written under it."""
        self._folder = folder
        shown = list(itertools.islice((r for r in rows if (folder / r["file"]).is_file()), self.grid_size))
        if shown:
            grid = image_grid([Image.open(folder / r["file"]) for r in shown],
                              [f"{r['id']}\nreward {r['reward']:.3g}" for r in shown], self.scale,
                              title=f"the first {len(shown)} samples: id and reward under each")
            grid.save(folder / "grid.png.tmp", format="PNG")  # outputs.write_atomic writes text only
            (folder / "grid.png.tmp").replace(folder / "grid.png")

    def metrics(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Mean classifier confidence and, from 256 samples on, the Frechet distance of the samples' features to
        the test set's, with real training images' FD at the same n under "real" and their p95 as the upper end
        of "real_range" (so the warnings line fires); null and a note below 256; the HEADLINE."""
        scored = [r for r in rows if r.get("confidence") is not None]
        declared = {"oracles": self.oracles} if self.oracles and rows else {}
        if not scored or self.net is None:
            return declared
        out: dict[str, Any] = {"classifier_confidence_mean": statistics.fmean(r["confidence"] for r in scored),
                               **declared, "headline": HEADLINE}
        feats = [f for f in (self._row_features(r) for r in scored) if f is not None]
        if len(feats) < FRECHET_SIZES[0]:
            return {**out, "frechet_distance": None,
                    "frechet_note": f"needs >= {FRECHET_SIZES[0]} samples, the run has {len(feats)}"}
        mu, cov = feature_stats(torch.stack(feats))
        fd = frechet_distance(mu, cov, *self.reference)
        real = real_fields({"frechet_distance": fd}, self.real, len(feats), {"frechet_distance": "high"}) \
            if self.real else {"real": {}}
        return {**out, "frechet_distance": fd, "frechet_samples": len(feats), **real}

    def _row_features(self, row: dict[str, Any]) -> Tensor | None:
        """Classifier features of a row: cached from columns(), else from its PNG (a resumed run)."""
        if row["id"] not in self._features and self._folder is not None and (self._folder / row["file"]).is_file():
            image = from_pil(Image.open(self._folder / row["file"]))
            with torch.inference_mode():
                self._features[row["id"]] = self.net.features(classifier_input([image]).to(self.device))[0].cpu()
        return self._features.get(row["id"])
