"""Reference statistics of real held-out data, shipped beside the checkpoints (derived figures only, no sequences).

    python scripts/reference_stats.py dna   # checkpoints/dna_mdlm/reference_stats.json   (data/dna/test.tsv)
    python scripts/reference_stats.py rna   # checkpoints/rna_mdlm/reference_stats.json   (data/rna/test.tsv)
    python scripts/reference_stats.py image # checkpoints/fashion_classifier/reference_stats.json (Fashion-MNIST)
    python scripts/reference_stats.py molecule  # checkpoints/molecule_moses/reference_stats.json (data/molecule)
    python scripts/reference_stats.py protein   # checkpoints/protein_mdlm/reference_stats.json (data/protein)
    python scripts/reference_stats.py quantiles  # <oracle>/real_quantiles.json of every learned oracle

DNA: 3-mer spectra of the real HepG2 and other-cell (GM12878, K562, hESCT0) test sequences, the percentiles of
single HepG2 sites' GC, and every figure of svdd_cli.domains.dna.naturalness over random subsets of the HepG2
test sequences (50 draws per size 8..512, seed 0). RNA: the test 5'UTR windows' 3-mer spectrum, MFE percentiles
and the figures of svdd_cli.domains.rna.naturalness the same way. Images: the Frechet distance (the shipped classifier's
features) of n random real training images to the test set, n = 256 .. 4096 (5 draws, seed 0): the floor of a
run's FD at its size. Molecules: the MOSES figures of svdd_cli.science.moses (filters, rings, weight, SA,
IntDiv) over random subsets of the 10,000 prepared MOSES test molecules, the same way; proteins: composition distance
to the held-out composition and mean pairwise identity over subsets of the held-out windows. Quantiles: p1, p5, p50,
p95, p99 of each learned oracle's reward on real held-out data (DNA oracles: the HepG2 test sequences; the MFE
surrogate: the test UTR windows, direction=stable; the Fashion classifier: test images of the default target
class). The same prepared data gives the same files.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file as safetensors_load

from svdd_cli.domains.dna.naturalness import CONTROL_TFS, TARGET_TFS, dna_figures
from svdd_cli.domains.rna.naturalness import rna_figures
from svdd_cli.naturalness.reference import FRECHET_SIZES, SIZES, subset_table
from svdd_cli.rewards.classifier import load_classifier
from svdd_cli.science import moses
from svdd_cli.science import sequence as seq
from svdd_cli.science.fashion import feature_stats, frechet_distance, load_fashion_mnist
from svdd_cli.science.motifs import MotifScanner
from svdd_cli.science.rna import fold

DRAWS = 50


def read(path: Path) -> list[dict[str, str]]:
    with open(path) as f:
        return list(csv.DictReader(f, delimiter="\t"))


def percentiles(values: list[float]) -> list[float]:
    return [round(float(q), 6) for q in np.percentile(values, np.arange(101))]


def subsets(items: list[Any], figures: Any) -> dict[str, Any]:
    """figures(subset) over DRAWS random subsets of each size in SIZES (seed 0)."""
    rng = random.Random(0)
    sizes = [n for n in SIZES if n <= len(items) // 2]
    return subset_table([[figures(rng.sample(items, n)) for _ in range(DRAWS)] for n in sizes], sizes)


def dna(data: Path) -> dict[str, Any]:
    rows = read(data / "test.tsv")
    hepg2 = [r["sequence"] for r in rows if r["cell_type"] == "HepG2"]
    other = [r["sequence"] for r in rows if r["cell_type"] != "HepG2"]
    spectra = {"hepg2": seq.kmer_spectrum(hepg2, "ACGT"), "other": seq.kmer_spectrum(other, "ACGT")}
    motifs, release, relative = {**TARGET_TFS, **CONTROL_TFS}, "JASPAR2024", 0.85
    scanner = MotifScanner(motifs, release, relative)
    return {"source": f"{data}/test.tsv: {len(hepg2)} HepG2 and {len(other)} other-cell test sequences",
            "written_by": "scripts/reference_stats.py dna",
            "kmer3": {k: [round(float(v), 6) for v in s] for k, s in spectra.items()},
            "gc_percentiles": percentiles([seq.gc_content(s) for s in hepg2]),
            "motifs": motifs, "target_tfs": list(TARGET_TFS), "control_tfs": list(CONTROL_TFS),
            "jaspar_release": release, "motif_relative_score": relative,
            "all_hepg2": dna_figures(hepg2[:512], spectra, scanner) | {"n": 512},
            "other_cells": dna_figures(other[:512], spectra, scanner) | {"n": 512},
            "subsets": subsets(hepg2, lambda s: dna_figures(s, spectra, scanner))}


def rna(data: Path) -> dict[str, Any]:
    windows = [r["sequence"] for r in read(data / "test.tsv")]
    mfes = [fold(s)[1] for s in windows]
    spectrum = seq.kmer_spectrum(windows, "ACGU")
    mfe_percentiles = percentiles(mfes)
    pairs = list(zip(windows, mfes))
    return {"source": f"{data}/test.tsv: {len(windows)} test 5'UTR windows (ViennaRNA MFE at 37 C)",
            "written_by": "scripts/reference_stats.py rna",
            "kmer3": [round(float(v), 6) for v in spectrum], "mfe_percentiles": mfe_percentiles,
            "subsets": subsets(pairs, lambda p: rna_figures([s for s, _ in p], [m for _, m in p], spectrum,
                                                            mfe_percentiles))}


def image(classifier: Path) -> dict[str, Any]:
    net, _ = load_classifier(classifier, torch.device("cpu"))
    stats = safetensors_load(classifier / "test_features.safetensors")
    train, _ = load_fashion_mnist("train")
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        feats = torch.cat([net.features(torch.from_numpy(chunk.copy()).float().div(255).unsqueeze(1))
                           for chunk in np.array_split(train, 60)])

    def fd(n: int) -> dict[str, float]:
        rows = torch.randperm(len(feats), generator=generator)[:n]
        return {"frechet_distance": frechet_distance(*feature_stats(feats[rows]), stats["mu"], stats["cov"])}
    return {"source": "Fashion-MNIST: n random training images against the test set's feature statistics",
            "written_by": "scripts/reference_stats.py image",
            "subsets": subset_table([[fd(n) for _ in range(5)] for n in FRECHET_SIZES], list(FRECHET_SIZES))}


def molecule(data: Path) -> dict[str, Any]:
    smiles = [r["smiles"] for r in read(data / "test.tsv")]
    molecules = moses.mols(smiles)
    filters = Path("checkpoints/molecule_moses/moses_filters.smarts")
    items = list(zip(molecules, moses.fingerprints(molecules)))

    def figures(subset: list[Any]) -> dict[str, float]:
        mols = [m for m, _ in subset]
        return {**moses.cheap_metrics(mols, filters), "sa_mean": moses.property_means(mols)["sa_mean"],
                "internal_diversity": moses.internal_diversity([f for _, f in subset])}
    return {"source": f"{data}/test.tsv: {len(molecules)} MOSES test molecules",
            "written_by": "scripts/reference_stats.py molecule", "subsets": subsets(items, figures)}


def protein(data: Path) -> dict[str, Any]:
    from svdd_cli.domains.protein.domain import composition, mean_pairwise_identity
    from svdd_cli.science.sequence import total_variation

    windows = [r["sequence"] for r in read(data / "test.tsv")]
    heldout = composition(windows)

    def figures(subset: list[str]) -> dict[str, float]:
        return {"composition_distance_to_heldout": total_variation(composition(subset), heldout),
                "mean_pairwise_identity": mean_pairwise_identity(subset)}
    return {"source": f"{data}/test.tsv: {len(windows)} held-out protein windows",
            "written_by": "scripts/reference_stats.py protein", "subsets": subsets(windows, figures)}


def quantile_file(checkpoint: Path, scores: torch.Tensor, data: str, settings: dict[str, Any]) -> None:
    q = {f"p{p}": round(float(v), 4) for p, v in zip((1, 5, 50, 95, 99),
                                                         np.percentile(scores.numpy(), [1, 5, 50, 95, 99]))}
    entry = {"checkpoint": checkpoint.name, "settings": settings, "data": data, "quantiles": q,
             "written_by": "scripts/reference_stats.py quantiles"}
    (checkpoint / "real_quantiles.json").write_text(json.dumps(entry, indent=2) + "\n")
    print(checkpoint.name, q)


def quantiles(checkpoints: Path) -> None:
    from svdd_cli.rewards.classifier import Classifier
    from svdd_cli.rewards.enhancer import Enhancer
    from svdd_cli.rewards.kmer_oracle import KmerOracle
    from svdd_cli.rewards.mfe_surrogate import MfeSurrogate

    hepg2 = [r["sequence"] for r in read(Path("data/dna/test.tsv")) if r["cell_type"] == "HepG2"]
    data = f"{len(hepg2)} real HepG2 test sequences"
    for name in ("dna_enhancer_oracle", "dna_enhancer_heldout"):
        quantile_file(checkpoints / name, Enhancer(checkpoints / name, device="cpu")(hepg2), data, {})
    quantile_file(checkpoints / "dna_kmer_oracle", KmerOracle(checkpoints / "dna_kmer_oracle")(hepg2), data, {})
    windows = [r["sequence"] for r in read(Path("data/rna/test.tsv"))]
    surrogate = MfeSurrogate(checkpoints / "rna_mfe_surrogate", direction="stable", device="cpu")
    quantile_file(checkpoints / "rna_mfe_surrogate", surrogate(windows), f"{len(windows)} real test 5'UTR windows",
                  {"direction": "stable"})
    images, labels = load_fashion_mnist("t10k")
    classifier = Classifier(checkpoints / "fashion_classifier", target_class="sneaker", device="cpu")
    target = torch.from_numpy(images[labels == 7].copy()).float().div(255).unsqueeze(1)
    quantile_file(checkpoints / "fashion_classifier", classifier.score_images(target),
                  f"{len(target)} real sneaker test images", {"target_class": "sneaker"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("domain", choices=["dna", "rna", "image", "molecule", "protein", "quantiles"])
    parser.add_argument("--data", type=Path, help="default data/<domain>")
    parser.add_argument("--out", type=Path, help="default: reference_stats.json in the domain's checkpoint")
    args = parser.parse_args()
    if args.domain == "quantiles":
        return quantiles(Path("checkpoints"))
    data = args.data or Path("data") / args.domain
    folder = {"dna": "dna_mdlm", "rna": "rna_mdlm", "image": "fashion_classifier",
              "molecule": "molecule_moses", "protein": "protein_mdlm"}[args.domain]
    out = args.out or Path("checkpoints") / folder / "reference_stats.json"
    build = {"dna": dna, "rna": rna, "image": lambda _: image(Path("checkpoints/fashion_classifier")),
             "molecule": molecule, "protein": protein}[args.domain]
    stats = build(data)
    out.write_text(json.dumps(stats, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
