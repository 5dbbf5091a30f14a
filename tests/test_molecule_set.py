"""reward=molecule_set, the set-level naturalness term of molecules: its weight pull is the first-order change of
the batch's squared gap to the target, its diversity part favours what the batch lacks, its pulls sum to zero, and
as a reward it is a one-line error."""

from __future__ import annotations

import pytest
import torch
from rdkit.Chem import Descriptors

import svdd_cli
from svdd_cli.errors import UserError
from svdd_cli.rewards.molecule_set import MoleculeSetNaturalness
from svdd_cli.run import build
from svdd_cli.science.chem import mol_from_smiles

LIGHT = ["CCO", "CCN", "CCC", "c1ccccc1"]  # a batch far lighter than real MOSES sets
HEAVY = "CC(=O)Oc1ccccc1C(=O)O"  # aspirin, 180 Da


def weight(smiles: str) -> float:
    return Descriptors.MolWt(mol_from_smiles(smiles))


def test_the_weight_pull_is_the_gradient_of_the_squared_gap_and_sums_to_zero():
    term = MoleculeSetNaturalness(weight_target=300.0, weight_scale=30.0, diversity=0.0)
    batch = [*LIGHT, HEAVY]
    values = term(batch)
    w = torch.tensor([weight(s) for s in batch], dtype=torch.float64)
    m = w.mean()
    assert torch.allclose(values.double(), (300.0 - m) * (w - m) / 900.0, atol=1e-5)
    assert abs(values.sum().item()) < 1e-4 and values.argmax().item() == 4  # the heaviest pulls toward 300 Da
    above = MoleculeSetNaturalness(weight_target=20.0, weight_scale=30.0, diversity=0.0)(batch)
    assert above.argmin().item() == 4  # a batch heavier than the target: the heaviest is pushed down


def test_the_diversity_part_favours_what_the_batch_lacks_and_invalid_samples_do_not_pull():
    term = MoleculeSetNaturalness(weight_target=0.0, weight_scale=1e9, diversity=1.0)  # diversity only
    batch = ["c1ccccc1C", "c1ccccc1C", "c1ccccc1C", "CCCCCCO", "not a smiles", ""]
    values = term(batch)
    assert values[3] > values[0] == values[1] == values[2] and values[4] == values[5] == 0.0
    assert abs(values.sum().item()) < 1e-5
    assert term(["CCO"]).tolist() == [0.0] and term(["x", "y"]).tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="weight_scale=0"):
        MoleculeSetNaturalness(weight_scale=0)


def test_it_steers_as_a_natural_term_only(compose_config):
    parts = build(compose_config(["domain=molecule", "reward=qed", "++reward.natural.molecule_set=0.5", "device=cpu"]))
    assert parts.natural.weights == {"moses_filters": 0.2, "molecule_set": 0.5} and parts.natural.set_level
    batch = [*LIGHT, HEAVY]
    direct = svdd_cli.load_reward("molecule_set")(batch)
    assert torch.allclose(parts.natural.terms["molecule_set"](batch), direct)
    with pytest.raises(UserError, match="^reward=molecule_set scores a sample against the rest of its batch"):
        parts = build(compose_config(["domain=molecule", "reward=molecule_set", "device=cpu"]))
        svdd_cli.steer(parts.model, parts.reward, parts.sampler, domain=parts.domain, num_samples=1)
