"""Naturalness of a set of molecules, as a term each molecule can be steered by: how much it moves its batch's mean
molecular weight toward real MOSES sets' and how much it adds to the batch's internal diversity.

QED pays for lighter molecules and a guided sampler draws its outputs toward the same few scaffolds, so a set of
designs ends lighter and less diverse than real MOSES sets of its size (64: mean weight 304..313, IntDiv >= 0.835)
while each molecule looks real alone. For a batch of valid molecules with weights w_b (mean m) and Morgan
fingerprints, each scores

    value_b = (t - m) (w_b - m) / s**2  +  diversity * (d_b - mean(d))

the first-order change of -(m - t)**2 / (2 s**2) when the batch leans toward b (t: real sets' median mean weight;
s: a weight scale), plus b's own diversity d_b = 1 - its mean Tanimoto similarity to the batch, centred: zero on
average, positive for what the batch lacks. It depends on the batch, so it is a naturalness term only
(`reward.natural.molecule_set=<weight>`); in svdd the batch is every candidate of every output at one step.
Cost: one fingerprint and one weight per molecule, B**2 Tanimoto similarities.
"""

from __future__ import annotations

import numpy as np
import torch
from rdkit import DataStructs
from rdkit.Chem import Descriptors
from torch import Tensor

from svdd_cli.science.chem import mol_from_smiles
from svdd_cli.science.moses import fingerprints


class MoleculeSetNaturalness:
    """Each molecule's pull on its batch's mean weight and diversity (an invalid SMILES: 0, no pull)."""

    set_level = True  # core.SetLevel: a naturalness term, never a reward
    domains = ("molecule",)

    def __init__(self, weight_target: float = 308.1, weight_scale: float = 30.0, diversity: float = 20.0) -> None:
        if weight_scale <= 0:
            raise ValueError(f"reward.weight_scale={weight_scale} must be > 0 (daltons)")
        self.target, self.scale, self.diversity = weight_target, weight_scale, diversity

    def __call__(self, samples: list[str]) -> Tensor:
        """(B,) pulls; the batch's mean pull is 0."""
        out = torch.zeros(len(samples))
        rows, mols = [], []
        for i, smiles in enumerate(samples):
            try:
                mols.append(mol_from_smiles(smiles))
                rows.append(i)
            except ValueError:
                continue
        if len(rows) < 2:
            return out
        w = np.array([Descriptors.MolWt(m) for m in mols])
        m = w.mean()
        value = (self.target - m) * (w - m) / self.scale ** 2
        if self.diversity:
            fps = fingerprints(mols)
            d = 1.0 - np.array([np.mean(DataStructs.BulkTanimotoSimilarity(fp, fps)) for fp in fps])
            value += self.diversity * (d - d.mean())
        out[rows] = torch.tensor(value, dtype=torch.float32)
        return out
