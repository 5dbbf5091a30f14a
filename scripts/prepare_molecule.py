"""Prepare the real molecule data: MOSES SMILES as fixed-length SELFIES token rows.

Source: the `molsets==0.3.1` wheel on PyPI (MIT), fetched with `pip download --no-deps` into
the output folder and read by path (never installed: its pinned dependencies do not build).
Splits: train = a seeded subsample of the 1,584,663 MOSES training SMILES, valid = another
disjoint subsample of them, test = a seeded subsample of the MOSES test set (176,074).
Every SMILES is encoded as SELFIES and padded with `[nop]` (ignored by the SELFIES decoder); `--tokens ring-first`
writes ring-first grouped SELFIES instead (svdd_cli/science/selfies_tokens.py: each ring written before its
substituents, ring/branch symbols joined with their index symbols), recorded in <out>/tokens.txt.

Writes <out>/{train,valid,test}.tsv (columns sequence = space-separated tokens, smiles = the MOSES SMILES),
<out>/vocab.txt (one token per line, `[nop]` included), <out>/tokens.txt and the training set's fingerprint
(--hashes, for novelty; the shipped model's is checkpoints/molecule_mdlm/train_hashes.npy).

    python scripts/prepare_molecule.py [--train 200000 --valid 10000 --test 10000 --seed 0 --tokens selfies]
    python scripts/prepare_molecule.py --tokens ring-first --length 40 --out data/molecule_ringfirst \
        --hashes data/molecule_ringfirst/train_hashes.npy     # then --fragments (below): the shipped prior's data

More data for a prepared model: `--extend data/molecule_ringfirst --out data/molecule_ringfirst_full --hashes
data/molecule_ringfirst_full/train_hashes.npy` keeps that folder's valid / test split, vocabulary and length,
and trains on every other MOSES training molecule whose tokens fit them (about 1.57M; the few with a new token or
more tokens are dropped and counted), in the prepared folder's tokens.

Fragment tokens for a prepared folder (the shipped prior's, checkpoints/molecule_mdlm/MODEL_CARD.md): `--fragments
data/molecule_ringfirst --merges 350 --out data/molecule_fragments --hashes data/molecule_fragments/train_hashes.npy`
learns 350 multi-token fragments by byte-pair merging on 20,000 of its training rows (selfies_tokens.learn_fragments)
and rewrites every split by greedy longest match (the same molecules in shorter rows, padded to the longest);
tokens.txt says e.g. "ring-first+fragments".
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
from pathlib import Path

from svdd_cli.domains.molecule.domain import save_smiles_hashes
from svdd_cli.domains.molecule.tokens import PAD
from svdd_cli.science.chem import canonical_smiles
from svdd_cli.science.moses import moses_wheel, read_moses
from svdd_cli.science.selfies_tokens import TOKENIZERS, fragment, learn_fragments, scheme_tokens


def write_split(path: Path, tokens: list[list[str]], smiles: list[str], length: int) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, delimiter="\t")
        writer.writerow(["sequence", "smiles"])
        for row, smi in zip(tokens, smiles):
            writer.writerow([" ".join(row + [PAD] * (length - len(row))), smi])


def read_split(path: Path) -> tuple[list[list[str]], list[str], int]:
    """(token rows without padding, SMILES, the padded length) of a prepared split."""
    with open(path) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    padded = [r["sequence"].split() for r in rows]
    return [[t for t in row if t != PAD] for row in padded], [r["smiles"] for r in rows], len(padded[0])


def tokens_scheme(prepared: Path) -> str:
    """The tokens scheme recorded in `prepared`/tokens.txt ("selfies" for folders made before it existed)."""
    recorded = prepared / "tokens.txt"
    return recorded.read_text().strip() if recorded.exists() else "selfies"


def extend(prepared: Path, out: Path, hashes: Path) -> None:
    """Every MOSES training molecule outside `prepared`'s valid split that fits its vocabulary and length, as out's
    train split; valid, test and vocab.txt copied from `prepared`."""
    vocab = (prepared / "vocab.txt").read_text().split()
    scheme = tokens_scheme(prepared)
    valid_tokens, valid_smiles, length = read_split(prepared / "valid.tsv")
    held_out = set(valid_smiles)
    known, kept_tokens, kept_smiles, dropped = set(vocab), [], [], 0
    for seen, smi in enumerate(read_moses(moses_wheel(prepared), "train"), 1):
        if seen % 100_000 == 0:
            print(f"{seen} MOSES training molecules read, {len(kept_tokens)} kept", flush=True)
        if smi in held_out:
            continue
        row = scheme_tokens(smi, scheme, vocab)
        if len(row) > length or not known.issuperset(row):
            dropped += 1
            continue
        kept_tokens.append(row)
        kept_smiles.append(smi)
    write_split(out / "train.tsv", kept_tokens, kept_smiles, length)
    write_split(out / "valid.tsv", valid_tokens, valid_smiles, length)
    for name in ("test.tsv", "vocab.txt"):
        shutil.copyfile(prepared / name, out / name)
    (out / "tokens.txt").write_text(scheme + "\n")
    save_smiles_hashes(hashes, [canonical_smiles(s) for s in kept_smiles])
    print(f"train={len(kept_tokens)} ({dropped} dropped: a token outside the {len(vocab)} or over {length} tokens), "
          f"valid/test/vocab of {prepared} in {out}; training-set hashes in {hashes}")


def with_fragments(prepared: Path, out: Path, hashes: Path, merges: int, seed: int, sample: int = 20_000) -> None:
    """`prepared`'s splits in fragment tokens: `merges` fragments learned on `sample` of its training rows, every
    row rewritten by greedy longest match; vocab.txt = the prepared tokens + the fragments."""
    scheme = tokens_scheme(prepared)
    splits = {name: read_split(prepared / f"{name}.tsv") for name in ("train", "valid", "test")}
    rows = splits["train"][0]
    learned = learn_fragments(random.Random(seed).sample(rows, min(sample, len(rows))), merges)
    vocab = sorted(set((prepared / "vocab.txt").read_text().split()) | set(learned))
    known, width = set(vocab), max(learned.values(), default=1)
    rewritten = {name: [fragment(row, known, width) for row in split[0]] for name, split in splits.items()}
    length = max(len(row) for rows in rewritten.values() for row in rows)
    for name, (_, smiles, _) in splits.items():
        write_split(out / f"{name}.tsv", rewritten[name], smiles, length)
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n")
    (out / "tokens.txt").write_text(f"{scheme}+fragments\n")
    save_smiles_hashes(hashes, [canonical_smiles(s) for s in splits["train"][1]])
    print(f"{len(learned)} fragments learned on {min(sample, len(rows))} rows ({len(vocab)} tokens, width {width}); "
          f"mean row {sum(map(len, rows)) / len(rows):.1f} -> {sum(map(len, rewritten['train'])) / len(rows):.1f} "
          f"tokens, length {length}, in {out}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("data/molecule"))
    p.add_argument("--hashes", type=Path, default=Path("checkpoints/molecule_mdlm/train_hashes.npy"))
    p.add_argument("--train", type=int, default=200_000)
    p.add_argument("--valid", type=int, default=10_000)
    p.add_argument("--test", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--extend", type=Path, help="a prepared folder: keep its valid/test/vocab/length, add all else")
    p.add_argument("--fragments", type=Path, help="a prepared folder: the same splits in learned fragment tokens")
    p.add_argument("--merges", type=int, default=350, help="with --fragments: how many fragments to learn")
    p.add_argument("--length", type=int, default=0, help="pad rows to this many tokens (default: the longest row)")
    p.add_argument("--tokens", choices=sorted(TOKENIZERS), default="selfies",
                   help="selfies: SELFIES of the canonical SMILES; ring-first: ring-first grouped SELFIES")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.extend:
        extend(args.extend, args.out, args.hashes)
        return
    if args.fragments:
        with_fragments(args.fragments, args.out, args.hashes, args.merges, args.seed)
        return
    wheel = moses_wheel(args.out)
    rng = random.Random(args.seed)
    moses_train = rng.sample(read_moses(wheel, "train"), args.train + args.valid)
    smiles = {"train": moses_train[:args.train], "valid": moses_train[args.train:],
              "test": rng.sample(read_moses(wheel, "test"), args.test)}
    tokens = {k: [TOKENIZERS[args.tokens](s) for s in v] for k, v in smiles.items()}
    length = max(args.length, *(len(row) for rows in tokens.values() for row in rows))
    vocab = sorted({t for rows in tokens.values() for row in rows for t in row} | {PAD})
    (args.out / "vocab.txt").write_text("\n".join(vocab) + "\n")
    (args.out / "tokens.txt").write_text(args.tokens + "\n")
    for name in smiles:
        write_split(args.out / f"{name}.tsv", tokens[name], smiles[name], length)
    save_smiles_hashes(args.hashes, [canonical_smiles(s) for s in smiles["train"]])
    print(f"{len(vocab)} tokens, length {length}; " + ", ".join(f"{k}={len(v)}" for k, v in smiles.items())
          + f" in {args.out}; training-set hashes in {args.hashes}")


if __name__ == "__main__":
    main()
