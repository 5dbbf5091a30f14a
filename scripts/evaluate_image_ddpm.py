"""Evaluate the shipped pixel DDPM: sample grid, Frechet distance in the shipped classifier's features,
predicted-class histogram, and the variational bound (bits/dim) on real test images.

    nice -n 10 python scripts/evaluate_image_ddpm.py --model checkpoints/fashion_ddpm \
        --classifier checkpoints/fashion_classifier --samples 500

FD with n samples is biased upwards at small n, so the FD of n real training images to the same test
statistics is reported beside it as the floor. Writes MODEL/samples.png and MODEL/metrics.json.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

from svdd_cli.domains.image.domain import image_grid
from svdd_cli.models.gaussian import GaussianDiffusion
from svdd_cli.rewards.classifier import load_classifier
from svdd_cli.samplers.ancestral import Ancestral
from svdd_cli.science.fashion import classifier_input, feature_stats, frechet_distance, load_fashion_mnist
from svdd_cli.science.images import to_pil


def fd_to_test(net: torch.nn.Module, images: torch.Tensor, reference: dict[str, torch.Tensor]) -> float:
    """Frechet distance of images (N, 1, 28, 28) in [0, 1] to the test-set feature statistics."""
    with torch.inference_mode():
        feats = torch.cat([net.features(chunk) for chunk in images.split(500)])
    return frechet_distance(*feature_stats(feats), reference["mu"], reference["cov"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="checkpoints/fashion_ddpm")
    p.add_argument("--classifier", default="checkpoints/fashion_classifier")
    p.add_argument("--samples", type=int, default=500)
    p.add_argument("--num-steps", type=int, default=50)
    p.add_argument("--likelihood-images", type=int, default=200)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    start = time.time()
    model = GaussianDiffusion.from_pretrained(args.model, num_steps=args.num_steps, device="cpu")
    net, classes = load_classifier(args.classifier, torch.device("cpu"))
    reference = load_file(str(Path(args.classifier) / "test_features.safetensors"))
    generator = torch.Generator().manual_seed(0)
    x = torch.cat([Ancestral().sample(model, None, len(chunk), generator, lambda record: None)
                   for chunk in torch.arange(args.samples).split(100)])
    images = (torch.stack(model.decode(x)) * 255).round() / 255  # as saved in PNGs
    train, _ = load_fashion_mnist("train")
    real = torch.from_numpy(train[torch.randperm(len(train), generator=generator)[:args.samples].numpy()].copy())
    with torch.inference_mode():
        predicted = net(classifier_input(list(images))).softmax(-1)
    test, _ = load_fashion_mnist("t10k")
    test_x = torch.from_numpy(test[:args.likelihood_images].copy()).float().div(127.5).sub(1).unsqueeze(1)
    ll = model.log_likelihood(test_x, generator, draws=8)
    metrics = {
        "samples": args.samples, "num_steps": args.num_steps,
        "frechet_distance": fd_to_test(net, images, reference),
        "frechet_distance_real_train_same_n": fd_to_test(net, real.float().div(255).unsqueeze(1), reference),
        "classifier_confidence_mean": predicted.max(1).values.mean().item(),
        "predicted_classes": dict(zip(classes, torch.bincount(predicted.argmax(1), minlength=10).tolist())),
        "test_elbo_bits_per_dim": (-ll.mean() / (784 * math.log(2))).item(),
        "test_elbo_images": args.likelihood_images, "minutes": (time.time() - start) / 60,
    }
    (Path(args.model) / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    confidence = predicted.max(1).values.tolist()
    image_grid([to_pil(image) for image in images[:64]], [f"{c:.2f}" for c in confidence[:64]]).save(
        Path(args.model) / "samples.png")
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
