"""The image domain: PNG per sample, grid, class columns, Frechet distance."""

from __future__ import annotations

import json

import pytest
import torch

from svdd_cli.domains.image.domain import ImageDomain
from svdd_cli.errors import UserError
from svdd_cli.naturalness.warnings import outside
from svdd_cli.science.fashion import CLASSES, feature_stats, frechet_distance
from svdd_cli.science.images import from_pil, to_pil
from tests.tiny_image_models import save_tiny_classifier, single_thread


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with single_thread():
        yield


@pytest.fixture(scope="module")
def classifier(tmp_path_factory) -> str:
    return str(save_tiny_classifier(tmp_path_factory.mktemp("classifier")))


@pytest.fixture
def domain(classifier) -> ImageDomain:
    return ImageDomain(classifier=classifier, device="cpu")


def test_png_round_trip_is_8_bit_exact():
    image = torch.rand(1, 28, 28)
    torch.testing.assert_close(from_pil(to_pil(image)), (image * 255).round() / 255)
    rgb = torch.rand(3, 5, 7)
    torch.testing.assert_close(from_pil(to_pil(rgb)), (rgb * 255).round() / 255)


def test_columns_write_pngs_and_classes(domain, tmp_path):
    samples = [torch.rand(1, 28, 28) for _ in range(3)]
    cols = domain.columns(["s0", "s1", "s2"], samples, tmp_path)
    assert cols["file"] == ["images/s0.png", "images/s1.png", "images/s2.png"]
    assert all((tmp_path / f).is_file() for f in cols["file"])
    assert set(cols["class"]) <= set(CLASSES) and all(0.1 <= c <= 1 for c in cols["confidence"])
    rgb = domain.columns(["r0"], [torch.rand(3, 16, 16)], tmp_path)  # not Fashion-shaped: no class
    assert rgb["class"] == [None] and (tmp_path / "images/r0.png").is_file()


def test_grid_and_metrics(domain, classifier, tmp_path):
    ids = [f"s{i}" for i in range(256)]
    cols = domain.columns(ids, [torch.rand(1, 28, 28) for _ in ids], tmp_path)
    rows = [{"id": i, "reward": -0.5 * k, **{c: v[k] for c, v in cols.items()}} for k, i in enumerate(ids)]
    domain.write_native(tmp_path, rows)
    assert (tmp_path / "grid.png").stat().st_size > 500
    assert domain.metrics(rows[:255])["frechet_distance"] is None  # FD only from 256 samples on
    metrics = domain.metrics(rows)
    assert metrics["frechet_samples"] == 256 and metrics["frechet_distance"] > 0
    assert metrics["classifier_confidence_mean"] == pytest.approx(sum(cols["confidence"]) / 256)
    resumed = ImageDomain(classifier=None, device="cpu")
    assert resumed.metrics(rows) == {}
    fresh = ImageDomain(classifier=classifier, device="cpu")
    fresh.write_native(tmp_path, rows)  # a resumed run: features come back from the PNGs
    assert fresh.metrics(rows)["frechet_distance"] == pytest.approx(metrics["frechet_distance"], rel=1e-3)


def test_frechet_distance_has_a_real_range_so_the_warnings_line_fires(classifier, tmp_path):
    real = tmp_path / "reference_stats.json"
    real.write_text(json.dumps({"subsets": {"n": [256, 512], "figures": {"frechet_distance": {
        "p5": [0.0, 0.0], "p50": [1e-7, 1e-8], "p95": [1e-6, 1e-7]}}}}))  # the tiny classifier's FDs are ~1e-5
    domain = ImageDomain(classifier=classifier, device="cpu", reference=real)
    ids = [f"s{i}" for i in range(256)]
    cols = domain.columns(ids, [torch.rand(1, 28, 28) for _ in ids], tmp_path)
    metrics = domain.metrics([{"id": i, **{c: v[k] for c, v in cols.items()}} for k, i in enumerate(ids)])
    assert metrics["real"]["frechet_distance"] == 0.0 and metrics["real_range"]["frechet_distance"] == [None, 0.0]
    assert outside(metrics)[0].startswith("frechet_distance") and outside(metrics)[0].endswith("(real <= 0)")


def test_frechet_distance_matches_the_closed_form():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(200, 6, generator=g), torch.randn(300, 6, generator=g) * 1.5 + 0.3
    (mu1, c1), (mu2, c2) = feature_stats(a), feature_stats(b)
    root = scipy_linalg.sqrtm(c1.numpy() @ c2.numpy()).real
    expected = float((mu1 - mu2).square().sum() + c1.trace() + c2.trace() - 2 * root.trace())
    assert frechet_distance(mu1, c1, mu2, c2) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(mu1, c1, mu1, c1) == pytest.approx(0, abs=1e-6)


def test_check_model_wants_an_image_model(domain):
    class Tokens:
        vocab = list("ACGT")

    with pytest.raises(UserError, match="does not generate images"):
        domain.check_model(Tokens())
