"""Evaluate a molecule checkpoint on ancestral samples with the MOSES protocol (its MODEL_CARD.md table).

Generated SMILES are compared with the MOSES test set (molsets wheel, read by path): FCD / SNN / Frag /
Scaf to 10,000 seeded test molecules and to MOSES's shipped statistics of all 176,074 (test_stats.npz:
MOSES's own "/Test" figures), IntDiv, unique@1k/@10k, novelty against the training set's hashes, the
MOSES filters, ring statistics and property means (svdd_cli.science.moses). The same figures of as many
real test molecules (disjoint from the 10,000) are the ceiling column: their FCD is the small-sample floor.

    python scripts/evaluate_molecule_model.py [--checkpoint checkpoints/molecule_mdlm --samples 2000 --top-p 0.8]
    python scripts/evaluate_molecule_model.py --kernel mdlm --steps 64 --top-p 1   # positions unmasked independently
    python scripts/evaluate_molecule_model.py --remask-rounds 24                    # + corrector rounds (ReMDM-style)
    python scripts/evaluate_molecule_model.py --smiles designs.smi --no-ceiling   # score saved SMILES, no sampling
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from fcd_torch import FCD
from omegaconf import OmegaConf

from svdd_cli.domains.molecule.domain import smiles_hashes
from svdd_cli.domains.molecule.tokens import selfies_to_smiles
from svdd_cli.models.kernels import KERNELS
from svdd_cli.models.masked import MaskedDiffusion
from svdd_cli.samplers.ancestral import Ancestral
from svdd_cli.science import moses
from svdd_cli.training import use_bf16

DEFAULTS = OmegaConf.load(Path(__file__).parents[1] / "configs/model/molecule.yaml")  # the shipped sampling settings


def read_wheel(wheel: Path) -> tuple[list[str], dict[str, Any]]:
    """(MOSES test SMILES, MOSES's shipped test statistics) from the molsets wheel."""
    with zipfile.ZipFile(wheel) as zf:
        stats = np.load(io.BytesIO(zf.read("moses/dataset/data/test_stats.npz")), allow_pickle=True)["stats"].item()
    return moses.read_moses(wheel, "test"), stats


@torch.inference_mode()
def sample_smiles(model: MaskedDiffusion, sampler: Ancestral, n: int, batch_size: int, seed: int,
                  bf16: bool) -> list[str]:
    """n decoded ancestral samples: model.num_steps steps of the model's reverse kernel (and the sampler's corrector
    rounds)."""
    generator = torch.Generator(model.device).manual_seed(seed)
    out: list[str] = []
    start = time.time()
    with torch.autocast(model.device.type, torch.bfloat16, enabled=bf16):
        while len(out) < n:
            x = sampler.sample(model, None, min(batch_size, n - len(out)), generator, lambda record: None)
            out.extend(model.decode(x))
            elapsed = time.time() - start
            print(f"sampled {len(out):,} of {n:,} molecules in {elapsed:.0f} s "
                  f"(~{elapsed * (n - len(out)) / len(out):.0f} s left)", file=sys.stderr, flush=True)
    return out


def snn_to_bits(smiles: list[str], ref_bits: np.ndarray, chunk: int = 20_000) -> float:
    """MOSES SNN against reference fingerprint bits (N, 1024) in 0/1: mean max Tanimoto, by matrix products."""
    fps = moses.fingerprints(moses.mols(smiles))
    gen = torch.tensor(np.array([list(fp.ToList()) for fp in fps]), dtype=torch.float32)
    best = torch.zeros(len(gen))
    for start in range(0, len(ref_bits), chunk):
        ref = torch.from_numpy(ref_bits[start:start + chunk].astype(np.float32))
        inter = gen @ ref.T
        sim = inter / (gen.sum(1, keepdim=True) + ref.sum(1)[None] - inter).clamp_min(1)
        best = torch.maximum(best, sim.max(1).values)
    return float(best.mean())


def evaluate(smiles: list[str], fcd: FCD, ref10k: dict[str, Any], filters: Path, training: np.ndarray | None,
             stats: dict[str, Any] | None = None) -> dict[str, float]:
    """The MOSES table of one set of SMILES against the 10,000 test molecules (`ref10k`: reference_stats
    with ChemNet statistics), and against MOSES's statistics of the whole test set when `stats` is given
    (only for sets outside the test set: a test molecule is its own nearest neighbour there)."""
    out = moses.moses_metrics(smiles, ref10k, filters, fcd=fcd, training=training, hashes=smiles_hashes)
    out = {("fcd_test10k" if k == "fcd" else f"{k}_test10k" if k in ("snn", "frag", "scaf") else k): v
           for k, v in out.items()}
    if stats is not None:
        valid = [s for s in smiles if moses.mols([s])]
        molecules = moses.mols(valid)
        out |= {"fcd_test": float(fcd.metric(stats["FCD"], fcd.precalc(valid))),
                "snn_test": snn_to_bits(valid, stats["SNN"]["fps"]),
                "frag_test": moses.cosine(moses.fragments(molecules), moses.recanonical(stats["Frag"]["frag"])),
                "scaf_test": moses.cosine(moses.scaffolds(molecules), moses.recanonical(stats["Scaf"]["scaf"]))}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", type=Path, default=Path("checkpoints/molecule_mdlm"))
    p.add_argument("--wheel", type=Path, help="the molsets 0.3.1 wheel (default: the one in data/moses/, "
                                              "downloaded from PyPI there when absent)")
    p.add_argument("--hashes", type=Path, help="training-set hashes (default: <checkpoint>/train_hashes.npy)")
    p.add_argument("--filters", type=Path, default=Path("checkpoints/molecule_moses/moses_filters.smarts"))
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--steps", type=int, default=DEFAULTS.num_steps,
                   help=f"reverse steps (default: configs/model/molecule.yaml's, {DEFAULTS.num_steps})")
    p.add_argument("--kernel", choices=KERNELS, default=DEFAULTS.kernel,
                   help=f"default: configs/model/molecule.yaml's, {DEFAULTS.kernel}; all but mdlm unmask one "
                        "token per step with --steps = the model's length (confidence, left_to_right, "
                        "right_to_left: only so); mdlm: positions unmask independently")
    p.add_argument("--top-p", type=float, default=DEFAULTS.top_p,
                   help="draw each token from the denoiser's nucleus of this mass (default: "
                        f"configs/model/molecule.yaml's, {DEFAULTS.top_p}; 1 = the full distribution)")
    p.add_argument("--remask-rounds", type=int, default=0,
                   help="corrector rounds after the pass (sampler=ancestral sampler.remask_rounds; the card)")
    p.add_argument("--remask-fraction", type=float, default=0.15, help="positions re-masked per round")
    p.add_argument("--batch-size", type=int, default=250)
    p.add_argument("--reference", type=int, default=10_000, help="test molecules for the FCD reference")
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None,
                   help="bf16 autocast (default: on CPUs with AMX, where it is fast; samples differ from fp32's)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--smiles", type=Path, help="score these SMILES (one per line, empty = invalid; e.g. a saved "
                                               ".smi) instead of sampling the checkpoint; --samples is their number")
    p.add_argument("--ceiling", action=argparse.BooleanOptionalAction, default=True,
                   help="also score as many real test molecules (the ceiling column)")
    p.add_argument("--out", type=Path, help="JSON file (default: <checkpoint>/eval_metrics.json)")
    args = p.parse_args()
    if args.smiles and not args.smiles.is_file():
        p.error(f"--smiles {args.smiles}: no such file (one SMILES per line)")
    torch.set_num_threads(args.threads)
    bf16 = use_bf16(torch.device("cpu"), args.bf16)
    start = time.time()
    test, stats = read_wheel(args.wheel or moses.moses_wheel(Path("data/moses")))
    out = args.out or args.checkpoint / "eval_metrics.json"
    if args.smiles:
        generated = args.smiles.read_text().removesuffix("\n").split("\n")
        source = {"smiles": str(args.smiles)}
    else:
        model = MaskedDiffusion.from_checkpoint(args.checkpoint, num_steps=args.steps, device="cpu",
                                                detokenize=selfies_to_smiles, kernel=args.kernel,
                                                top_p=args.top_p)
        sampler = Ancestral(args.remask_rounds, args.remask_fraction)
        generated = sample_smiles(model, sampler, args.samples, args.batch_size, args.seed, bf16)
        source = {"steps": args.steps, "kernel": args.kernel, "top_p": args.top_p, "remask_rounds": args.remask_rounds,
                  "remask_fraction": args.remask_fraction, "nfe_per_sample": sampler.nfe(args.steps), "bf16": bf16,
                  "sampling_s": time.time() - start}
        out.with_suffix(".smi").write_text("\n".join(generated) + "\n")  # kept if the metrics fail
        print(f"wrote {out.with_suffix('.smi')}; computing the metrics", file=sys.stderr, flush=True)
    drawn = random.Random(args.seed).sample(test, args.reference + len(generated))
    ref10k, real = drawn[:args.reference], drawn[args.reference:]
    hashes = args.hashes or args.checkpoint / "train_hashes.npy"
    training = np.load(hashes) if hashes.is_file() else None
    fcd = FCD(device="cpu", n_jobs=1)
    ref = moses.reference_stats(ref10k, fcd)
    result = {"checkpoint": str(args.checkpoint), "samples": len(generated), "seed": args.seed, **source,
              "training_hashes": str(hashes) if training is not None else None,
              "generated": evaluate(generated, fcd, ref, args.filters, training, stats)}
    if args.ceiling:
        result[f"real_test_{len(generated)}"] = evaluate(real, fcd, ref, args.filters, None)
    result["total_s"] = time.time() - start
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
