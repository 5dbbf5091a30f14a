"""The molecule domain: SELFIES decoding, properties, native files and run-level metrics."""

from __future__ import annotations

import math

import pytest
import selfies as sf
from rdkit import Chem, DataStructs
from rdkit.Chem import QED, Crippen
from rdkit.Chem import rdFingerprintGenerator as fpgen

from svdd_cli.domains.molecule.domain import MoleculeDomain, save_smiles_hashes
from svdd_cli.domains.molecule.tokens import PAD, selfies_to_smiles
from svdd_cli.errors import UserError
from svdd_cli.science.chem import canonical_smiles
from svdd_cli.science.moses import fingerprints, internal_diversity, mols
from tests.conftest import log_uniform, table_model

MOSES = ["CCCS(=O)c1ccc2[nH]c(=NC(=O)OC)[nH]c2c1", "CC(C)(C)C(=O)C(Oc1ccc(Cl)cc1)n1ccnc1",
         "Cc1c(Cl)cccc1Nc1ncccc1C(=O)OCC(O)CO", "Cn1cnc2c1c(=O)n(CC(O)CO)c(=O)n2C", "Clc1ccccc1-c1nc(-c2ccncc2)no1"]


def test_selfies_round_trip_gives_the_canonical_molecule():
    for smiles in MOSES:
        tokens = list(sf.split_selfies(sf.encoder(smiles)))
        padded = "".join(tokens[:3] + [PAD] * 4 + tokens[3:] + [PAD] * 10)  # [nop] is skipped anywhere
        assert selfies_to_smiles(padded) == Chem.MolToSmiles(Chem.MolFromSmiles(smiles))


def test_undecodable_rows_become_empty_smiles():
    assert selfies_to_smiles(PAD * 50) == ""
    assert selfies_to_smiles("[C][?][O]") == ""  # a leftover mask shows as '?'
    assert canonical_smiles("C1CC") == "" and canonical_smiles("") == ""


def test_columns_hold_rdkit_properties_and_flag_invalid(tmp_path):
    domain = MoleculeDomain()
    cols = domain.columns(["a", "b"], [MOSES[0], ""], tmp_path)
    mol = Chem.MolFromSmiles(MOSES[0])
    assert cols["smiles"] == [MOSES[0], ""] and cols["valid"] == [True, False]
    assert cols["qed"][0] == pytest.approx(QED.qed(mol)) and cols["logp"][0] == pytest.approx(Crippen.MolLogP(mol))
    assert 1 <= cols["sa"][0] <= 10 and cols["qed"][1] is None


def test_native_files_carry_properties_as_tags(tmp_path):
    domain = MoleculeDomain(grid_size=2)
    samples = [*MOSES, ""]
    ids = [f"s{i}" for i in range(len(samples))]
    cols = domain.columns(ids, samples, tmp_path)
    rows = [{"id": i, **{k: v[j] for k, v in cols.items()}, "reward": float(j)} for j, i in enumerate(ids)]
    domain.write_native(tmp_path, rows)
    mols = list(Chem.SDMolSupplier(str(tmp_path / "samples.sdf")))
    assert [m.GetProp("_Name") for m in mols] == ids[:-1]
    assert float(mols[2].GetProp("qed")) == pytest.approx(rows[2]["qed"]) and mols[2].GetProp("reward") == "2.0"
    assert (tmp_path / "top_molecules.png").read_bytes()[:4] == b"\x89PNG"


def test_sdf_grows_by_batch_into_the_file_one_sdwriter_writes(tmp_path):
    domain = MoleculeDomain()
    samples = [MOSES[0], "", *MOSES[1:], MOSES[0]]
    ids = [f"s{i:06d}" for i in range(len(samples))]
    cols = domain.columns(ids, samples, tmp_path)
    rows = [{"id": i, **{k: v[j] for k, v in cols.items()}, "reward": float(j)} for j, i in enumerate(ids)]
    for end in (2, 3, len(rows)):  # three batches: appended, the invalid row skipped, records numbered on
        domain.write_native(tmp_path, rows[:end])
    one = tmp_path / "one.sdf"
    with Chem.SDWriter(str(one)) as writer:
        for row in (r for r in rows if r["valid"]):
            mol = Chem.MolFromSmiles(row["smiles"])
            mol.SetProp("_Name", row["id"])
            for key, value in row.items():
                if value is not None and key not in ("smiles", "valid"):
                    mol.SetProp(key, str(value))
            writer.write(mol)
    assert (tmp_path / "samples.sdf").read_text() == one.read_text()


def test_metrics_validity_uniqueness_novelty_diversity(tmp_path):
    hashes = tmp_path / "train.npy"
    save_smiles_hashes(hashes, [canonical_smiles(MOSES[0])])
    domain = MoleculeDomain(training_hashes=hashes)
    samples = [canonical_smiles(s) for s in MOSES[:3]] + [canonical_smiles(MOSES[1]), ""]
    cols = domain.columns([], samples, tmp_path)
    rows = [{k: v[j] for k, v in cols.items()} for j in range(len(samples))]
    m = domain.metrics(rows)
    assert m["validity"] == pytest.approx(4 / 5) and m["uniqueness"] == pytest.approx(3 / 4)
    assert m["novelty"] == pytest.approx(2 / 3)
    assert 0 < m["internal_diversity"] < 1 and m["qed_mean"] > 0


def test_internal_diversity_is_moses_intdiv1():
    """1024-bit Morgan r=2, mean over all ordered pairs with the self-pairs: (1 - T) / 2 for two molecules."""
    gen = fpgen.GetMorganGenerator(radius=2, fpSize=1024)
    a, b = (gen.GetFingerprint(Chem.MolFromSmiles(s)) for s in MOSES[:2])
    diversity = internal_diversity(fingerprints(mols(MOSES[:2])))
    assert diversity == pytest.approx((1 - DataStructs.TanimotoSimilarity(a, b)) / 2)
    assert internal_diversity(fingerprints(mols([MOSES[0]] * 3))) == pytest.approx(0.0)
    assert internal_diversity(fingerprints(mols(MOSES[:1]))) == pytest.approx(0.0)
    assert math.isnan(internal_diversity([]))


def test_a_model_of_another_alphabet_is_refused():
    with pytest.raises(UserError, match="not SELFIES symbols"):
        MoleculeDomain().check_model(table_model(log_uniform(5, 4), "ACGT", num_steps=2))


def test_missing_training_hashes_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="nope.npy"):
        MoleculeDomain(training_hashes=tmp_path / "nope.npy")
