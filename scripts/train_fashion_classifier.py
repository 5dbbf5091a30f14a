"""Train the shipped Fashion-MNIST classifier (reward `classifier`, and the judge of image naturalness).

    nice -n 10 python scripts/train_fashion_classifier.py --out checkpoints/fashion_classifier

Trains FashionCNN (svdd_cli/science/fashion.py) on the 60,000 training images with random shifts, reports
accuracy on the 10,000 test images, and writes config.json + model.safetensors, metrics.json, and
test_features.safetensors: mean and covariance of the test images' features, the reference of the
Frechet distance reported by domain=image.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import Tensor

from svdd_cli.checkpoint import save_folder
from svdd_cli.science.fashion import CLASSES, FashionCNN, feature_stats, load_fashion_mnist


def as_tensor(images) -> Tensor:
    return torch.from_numpy(images.copy()).float().div(255).unsqueeze(1)  # (N, 1, 28, 28) in [0, 1]


def shift(x: Tensor, pixels: int = 2) -> Tensor:
    """Random translation by up to `pixels` in each direction (zero padding): (B, 1, 28, 28)."""
    padded = torch.nn.functional.pad(x, (pixels,) * 4)
    i, j = torch.randint(0, 2 * pixels + 1, (2,)).tolist()
    return padded[..., i:i + x.shape[-2], j:j + x.shape[-1]]


@torch.inference_mode()
def evaluate(net: FashionCNN, x: Tensor, y: Tensor) -> tuple[float, Tensor]:
    """Accuracy and features (N, width) of the images x."""
    net.eval()
    feats = torch.cat([net.features(chunk) for chunk in x.split(1000)])
    accuracy = (net.head(feats).argmax(1) == y).float().mean().item()
    return accuracy, feats


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("checkpoints/fashion_classifier"))
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    images, labels = load_fashion_mnist("train")
    x, y = as_tensor(images), torch.from_numpy(labels)
    test_images, test_labels = load_fashion_mnist("t10k")
    x_test, y_test = as_tensor(test_images), torch.from_numpy(test_labels)

    network = {"channels": args.channels, "width": 128, "dropout": 0.3}
    net = FashionCNN(**network)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    steps = args.epochs * (len(x) // args.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps)
    start = time.time()
    for epoch in range(args.epochs):
        net.train()
        order = torch.randperm(len(x))
        for batch in order[: len(order) // args.batch_size * args.batch_size].view(-1, args.batch_size):
            loss = torch.nn.functional.cross_entropy(net(shift(x[batch])), y[batch])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        accuracy, _ = evaluate(net, x_test, y_test)
        print(f"epoch {epoch + 1}: loss {loss.item():.3f}, test accuracy {accuracy:.4f}, {time.time() - start:.0f}s",
              flush=True)
    accuracy, features = evaluate(net, x_test, y_test)
    save_folder(args.out, {"network": network, "classes": list(CLASSES), "size": 28}, net)
    mu, cov = feature_stats(features)
    save_file({"mu": mu.contiguous(), "cov": cov.contiguous()}, str(args.out / "test_features.safetensors"))
    metrics = {"test_accuracy": accuracy, "epochs": args.epochs, "train_images": len(x), "test_images": len(x_test),
               "params": sum(q.numel() for q in net.parameters()), "minutes": (time.time() - start) / 60}
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps(metrics), flush=True)


if __name__ == "__main__":
    main()
