"""Image rewards on known images: JPEG (in)compressibility, the Fashion-MNIST classifier, the aesthetic MLP."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from PIL import Image

from svdd_cli.errors import UserError
from svdd_cli.rewards.aesthetic import Aesthetic
from svdd_cli.rewards.classifier import Classifier
from svdd_cli.rewards.compressibility import Compressibility
from svdd_cli.rewards.incompressibility import Incompressibility
from svdd_cli.science.fashion import CLASSES, DATA, load_fashion_mnist
from tests.tiny_image_models import save_tiny_aesthetic, save_tiny_classifier, single_thread

SHIPPED = Path(__file__).resolve().parent.parent / "checkpoints" / "fashion_classifier"


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with single_thread():
        yield


def images(seed: int = 0) -> list[torch.Tensor]:
    """A flat grey image, a smooth gradient and uniform noise, each (1, 28, 28)."""
    flat = torch.full((1, 28, 28), 0.5)
    ramp = torch.linspace(0, 1, 28).expand(1, 28, 28).clone()
    noise = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(seed))
    return [flat, ramp, noise]


def test_compressibility_is_minus_the_jpeg_size_in_kb():
    r = Compressibility()(images())
    flat = Image.fromarray((torch.full((28, 28), 0.5) * 255).round().byte().numpy())
    buffer = io.BytesIO()
    flat.save(buffer, format="JPEG", quality=95)
    assert r[0].item() == pytest.approx(-buffer.tell() / 1000)
    assert r[0] > r[1] > r[2]  # flat compresses best, noise worst
    torch.testing.assert_close(Incompressibility()(images()), -r)


def test_compressibility_takes_rgb_images_and_rejects_bad_quality():
    rgb = [torch.rand(3, 16, 16), torch.zeros(3, 16, 16)]
    r = Compressibility()(rgb)
    assert r[1] > r[0]
    with pytest.raises(ValueError, match="quality=0"):
        Compressibility(quality=0)


@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory) -> str:
    return str(save_tiny_classifier(tmp_path_factory.mktemp("classifier")))


def test_classifier_gives_log_probabilities_by_name_or_index(tiny_classifier):
    rewards = torch.stack([Classifier(tiny_classifier, k, device="cpu")(images()) for k in range(10)])
    assert (rewards <= 0).all()
    torch.testing.assert_close(rewards.logsumexp(0), torch.zeros(3), atol=1e-5, rtol=0)
    by_name = Classifier(tiny_classifier, "Ankle boot", device="cpu")(images())
    torch.testing.assert_close(by_name, rewards[9])
    torch.testing.assert_close(Classifier(tiny_classifier, "7", device="cpu")(images()), rewards[7])


def test_unknown_class_lists_the_names(tiny_classifier):
    with pytest.raises(UserError, match="target_class=hat is not a class") as err:
        Classifier(tiny_classifier, "hat", device="cpu")
    assert all(name in str(err.value) for name in CLASSES)


def test_classifier_is_differentiable(tiny_classifier):
    x = torch.stack(images()).requires_grad_(True)
    Classifier(tiny_classifier, "bag", device="cpu")(list(x)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.skipif(not SHIPPED.is_dir() or not DATA.is_dir(), reason="needs the shipped classifier + Fashion-MNIST")
def test_shipped_classifier_recognises_real_test_images():
    x, y = load_fashion_mnist("t10k")
    sneakers = [torch.from_numpy(x[i].copy()).float().div(255)[None] for i in (y == 7).nonzero()[0][:50]]
    others = [torch.from_numpy(x[i].copy()).float().div(255)[None] for i in (y == 8).nonzero()[0][:50]]
    reward = Classifier(str(SHIPPED), "sneaker", device="cpu")
    assert reward(sneakers).exp().mean() > 0.8 and reward(others).exp().mean() < 0.1


@pytest.mark.parametrize("mlp_name", ["mlp.pth", "mlp.safetensors"])
def test_aesthetic_scores_with_a_tiny_clip_and_mlp(tmp_path, mlp_name):
    folder = save_tiny_aesthetic(tmp_path, mlp_name)
    reward = Aesthetic(str(folder), clip="clip", mlp=mlp_name, device="cpu")
    rgb = [torch.rand(3, 40, 40, generator=torch.Generator().manual_seed(i)) for i in range(2)]
    r = reward(rgb)
    assert r.shape == (2,) and torch.isfinite(r).all() and r[0] != r[1]
    x = torch.nn.functional.interpolate(torch.stack(rgb), size=(32, 32), mode="bicubic", antialias=True).clamp(0, 1)
    mean, std = torch.tensor([0.48145466, 0.4578275, 0.40821073]), torch.tensor([0.26862954, 0.26130258, 0.27577711])
    embeds = reward.clip(pixel_values=(x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)).image_embeds
    torch.testing.assert_close(r, reward.mlp(torch.nn.functional.normalize(embeds, dim=-1)))
    assert reward(images()).shape == (3,)  # grey images are repeated to RGB


def test_aesthetic_missing_weights_are_one_line_errors(tmp_path):
    with pytest.raises(UserError, match="/no/such/aesthetic/clip"):
        Aesthetic("/no/such/aesthetic", device="cpu")
    folder = save_tiny_aesthetic(tmp_path)
    with pytest.raises(UserError, match="nope.pth not found"):
        Aesthetic(str(folder), mlp="nope.pth", device="cpu")
