"""Ring-first grouped SELFIES: the same molecule back, one meaning per token, rings closed by their size's token."""

from __future__ import annotations

import json

import pytest
import selfies as sf
from rdkit import Chem

from svdd_cli.science.selfies_tokens import group, ring_first_smiles, ring_first_tokens

MOSES_LIKE = ["CCOc1cccc(C(=O)Nc2ccn(Cc3ccccn3)n2)c1", "OCc1cc(-c2ccc(N3CCCC3)nn2)ccc1F",
              "COc1ccc(OC)c(C(=O)CSc2nc3cccnc3n2C)c1", "CCn1nnnc1-c1cccc(C(=O)NCc2cccc(OC)c2)c1",
              "O=C1NC(=O)C2(CCCCC2)N1", "Cc1[nH]c2ccccc2c1C#N", "C[N+](C)(C)CC(=O)[O-]", "c1ccc2c(c1)ccc1ccccc12",
              "CC(C)(C)OC(=O)N1CCC(CC1)n1cnc2c1cccc2", "ClC1=CC2=CC=CC=C2S1", "O=S(=O)(N1CCOCC1)c1ccc(Br)cc1"]


def canonical(smiles: str) -> str:
    return Chem.MolToSmiles(Chem.MolFromSmiles(smiles))


@pytest.mark.parametrize("smiles", MOSES_LIKE)
def test_the_tokens_decode_to_the_same_molecule(smiles):
    tokens = ring_first_tokens(smiles)
    assert canonical(ring_first_smiles(Chem.MolFromSmiles(smiles))) == canonical(smiles)
    assert canonical(sf.decoder("".join(tokens))) == canonical(smiles)
    assert ring_first_tokens(canonical(smiles)) == tokens  # one string per molecule, whatever SMILES came in


def test_a_ring_and_branch_symbol_is_one_token_with_its_index():
    assert group(["[C]", "[Branch1]", "[C]", "[O]", "[Ring2]", "[Ring1]", "[C]", "[N]"]) == \
        ["[C]", "[Branch1][C]", "[O]", "[Ring2][Ring1][C]", "[N]"]


def ring_sizes(tokens: list[str]) -> list[str]:
    """The index symbols of each ring token (the ring bond's order aside: a kekulé benzene may close with = or -)."""
    return [t[t.index("]") + 1:] for t in tokens if "Ring" in t.split("]")[0]]


def test_every_benzene_closes_with_the_six_ring_token_whatever_hangs_off_it():
    six = ring_sizes(ring_first_tokens("c1ccccc1"))
    for smiles in ("Cc1ccccc1", "Cc1ccc(C)cc1", "Cc1ccc(CCCCO)cc1", "Fc1cc(Cl)cc(Br)c1"):
        assert ring_sizes(ring_first_tokens(smiles)) == six, smiles
        assert ring_sizes(group(list(sf.split_selfies(sf.encoder(smiles))))) != six or smiles == "Cc1ccccc1"


@pytest.mark.parametrize("smiles", ["", "C1CC", "not a molecule"])
def test_a_bad_smiles_is_a_value_error_naming_it(smiles):
    with pytest.raises(ValueError, match="not a valid SMILES"):
        ring_first_tokens(smiles)


def test_the_molecule_model_tokenizes_seeds_in_its_checkpoints_tokens():
    from svdd_cli.domains.molecule.tokens import PAD, selfies_to_smiles, smiles_to_tokens
    from svdd_cli.errors import UserError

    smiles = "Cc1ccc(CCCCO)cc1"
    for tokens in ("selfies", "ring-first"):
        row = smiles_to_tokens(smiles, 30, tokens)
        assert len(row) == 30 and row[-1] == PAD and selfies_to_smiles("".join(row)) == canonical(smiles)
    assert smiles_to_tokens(smiles, 30, "ring-first")[:-1] != smiles_to_tokens(smiles, 30)[:-1]
    with pytest.raises(ValueError, match="needs 14 SELFIES tokens; the model's length is 5"):
        smiles_to_tokens(smiles, 5, "ring-first")
    with pytest.raises(UserError, match="tokens='smiles' is not a molecule tokenization"):
        smiles_to_tokens(smiles, 30, "smiles")


def test_seeds_take_the_tokens_and_fragments_the_checkpoint_names(tmp_path):
    from svdd_cli.domains.molecule.tokens import PAD, selfies_to_smiles, smiles_to_tokens
    from svdd_cli.errors import UserError

    smiles, chain = "Cc1ccc(CCCCO)cc1", "[C][C][C][C][O]"
    base = ring_first_tokens(smiles)
    for scheme, vocab in (("ring-first", base), ("ring-first+fragments", [*base, "[C][C][C]", chain])):
        folder = tmp_path / scheme
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({"vocab": [*vocab, PAD], "tokens": scheme}))
        row = smiles_to_tokens(smiles, 16, checkpoint=folder)
        assert len(row) == 16 and selfies_to_smiles("".join(row)) == canonical(smiles)
        assert (chain in row) == scheme.endswith("+fragments") and set(row) <= {*vocab, PAD}
    assert smiles_to_tokens(smiles, 16, checkpoint=tmp_path / "ring-first") == base + [PAD] * (16 - len(base))
    with pytest.raises(UserError, match="needs the model's vocabulary: set model.tokenize.checkpoint"):
        smiles_to_tokens(smiles, 16, "ring-first+fragments")
    with pytest.raises(UserError, match="no config.json there"):
        smiles_to_tokens(smiles, 16, checkpoint=tmp_path)


def test_fragments_join_frequent_runs_and_keep_the_molecule():
    from svdd_cli.science.selfies_tokens import fragment, learn_fragments

    rows = [ring_first_tokens(s) for s in MOSES_LIKE]
    learned = learn_fragments(rows, 40)
    assert learned["[C][=C][C][=C]"] == 4  # kekulé alternation, the aromatic rings' run, is one of the first
    vocab = {t for row in rows for t in row} | set(learned)
    for smiles, row in zip(MOSES_LIKE, rows):
        pieces = fragment(row, vocab, max(learned.values()))
        assert "".join(pieces) == "".join(row) and len(pieces) < len(row) and set(pieces) <= vocab
        assert canonical(sf.decoder("".join(pieces))) == canonical(smiles)


def test_fragment_takes_the_longest_known_run_and_learning_stops_at_unique_pairs():
    from svdd_cli.science.selfies_tokens import fragment, learn_fragments

    assert fragment(["[C]", "[N]", "[O]", "[C]", "[N]"], {"[C][N]", "[C][N][O]"}, 3) == ["[C][N][O]", "[C][N]"]
    assert learn_fragments([["[C]", "[N]"], ["[O]", "[S]"]], 5) == {}  # no pair seen twice: nothing learned
