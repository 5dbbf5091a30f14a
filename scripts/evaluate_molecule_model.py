"""Evaluate the molecule checkpoint on ancestral samples (the figures of its MODEL_CARD.md).

Validity, uniqueness, novelty against the model's training set, internal diversity (MOSES IntDiv1
without self-pairs), and the Frechet ChemNet Distance (fcd-torch, ChemNet weights shipped in the
wheel) to the MOSES test set, using the reference statistics MOSES ships for all 176,074 test
molecules (molsets wheel, test_stats.npz, read by path). As a floor, the same FCD of as many
held-out MOSES training molecules (data/molecule/valid.tsv, never trained on).

    python scripts/evaluate_molecule_model.py [--samples 10000 --steps 64]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import time
import zipfile
from pathlib import Path

import numpy as np
import torch
from fcd_torch import FCD

from svdd_cli.domains.chem import canonical_smiles
from svdd_cli.domains.molecule import MoleculeDomain, selfies_to_smiles
from svdd_cli.models.masked import MaskedDiffusion
from svdd_cli.samplers.ancestral import rollout


def moses_fcd_reference(wheel: Path) -> dict[str, np.ndarray]:
    """ChemNet activation mean and covariance of the MOSES test set, as shipped in the molsets wheel."""
    with zipfile.ZipFile(wheel) as zf:
        stats = np.load(io.BytesIO(zf.read("moses/dataset/data/test_stats.npz")), allow_pickle=True)["stats"]
    return stats.item()["FCD"]


def sample_smiles(model: MaskedDiffusion, n: int, batch_size: int, seed: int) -> list[str]:
    generator = torch.Generator(model.device).manual_seed(seed)
    out: list[str] = []
    while len(out) < n:
        x = rollout(model, model.init(min(batch_size, n - len(out)), generator), generator, lambda record: None)
        out.extend(model.decode(x))
    return out


def naturalness(domain: MoleculeDomain, smiles: list[str]) -> dict[str, float]:
    """The molecule domain's run-level metrics (validity, uniqueness, novelty, IntDiv, property means)."""
    columns = domain.columns([], smiles, Path("."))
    return domain.metrics([{k: v[i] for k, v in columns.items()} for i in range(len(smiles))])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", type=Path, default=Path("checkpoints/molecule_mdlm"))
    p.add_argument("--wheel", type=Path, default=Path("data/molecule/molsets-0.3.1-py3-none-any.whl"))
    p.add_argument("--heldout", type=Path, default=Path("data/molecule/valid.tsv"))
    p.add_argument("--samples", type=int, default=10_000)
    p.add_argument("--steps", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    start = time.time()
    model = MaskedDiffusion.from_checkpoint(args.checkpoint, num_steps=args.steps, device="auto",
                                            detokenize=selfies_to_smiles)
    smiles = sample_smiles(model, args.samples, args.batch_size, args.seed)
    sampling_s = time.time() - start
    domain = MoleculeDomain(training_hashes=args.checkpoint / "train_hashes.npy")
    metrics = naturalness(domain, smiles)
    fcd = FCD(device="cpu", n_jobs=1)
    reference = moses_fcd_reference(args.wheel)
    valid = [s for s in smiles if s]
    with open(args.heldout) as f:
        heldout = [canonical_smiles(row["smiles"]) for row in csv.DictReader(f, delimiter="\t")][:len(valid)]
    result = {
        "samples": len(smiles), "steps": args.steps, "seed": args.seed, "sampling_s": sampling_s,
        **metrics,
        "fcd_moses_test": float(fcd.metric(reference, fcd.precalc(valid))),
        "fcd_floor_heldout_moses_train": float(fcd.metric(reference, fcd.precalc(heldout))),
        "heldout_moses_train": naturalness(domain, heldout),
        "total_s": time.time() - start,
    }
    (args.checkpoint / "eval_metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
