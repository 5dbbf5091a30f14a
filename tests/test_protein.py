"""domain=protein: ProtParam rewards, the domain's columns and naturalness, and svdd steering a tiny ESM-2 through
the CLI (`svdd run domain=protein model=hf_masked_lm ... reward=gravy`)."""

from __future__ import annotations

import csv
import json
import math
import statistics

import pytest
import torch
from Bio import SeqIO
from Bio.SeqUtils.ProtParam import ProteinAnalysis

from svdd_cli.domains.protein.domain import ProteinDomain, composition, mean_pairwise_identity, properties
from svdd_cli.errors import UserError
from svdd_cli.rewards.charge import Charge
from svdd_cli.rewards.composite import Composite
from svdd_cli.rewards.gravy import Gravy
from svdd_cli.rewards.instability import Instability
from svdd_cli.science.protein import AMINO_ACIDS
from tests.test_cli import svdd
from tests.tiny_protein_models import save_tiny_esm

SEQS = ["MKTAYIAKQRQISFVKSHFSRQ", "GDVEKGKKIFIMKCSQCHTVEK", "LLLLIIIIVVVVFFFFAAAAMM"]


def test_protparam_rewards_are_biopythons_numbers():
    analyses = [ProteinAnalysis(s) for s in SEQS]
    assert Gravy()(SEQS).tolist() == pytest.approx([a.gravy() for a in analyses])
    assert Gravy(direction=-1)(SEQS).tolist() == pytest.approx([-a.gravy() for a in analyses])
    assert Instability()(SEQS).tolist() == pytest.approx([-a.instability_index() for a in analyses], rel=1e-6)
    charge = Charge(target=2.0, ph=7.4)(SEQS).tolist()
    assert charge == pytest.approx([-abs(a.charge_at_pH(7.4) - 2.0) for a in analyses], rel=1e-6)
    for reward in (Gravy(penalty=-7.0), Instability(penalty=-7.0), Charge(penalty=-7.0)):
        assert reward(["MK?LV", "MKBLV", ""]).tolist() == [-7.0, -7.0, -7.0]  # a leftover mask, a non-standard letter
    with pytest.raises(UserError, match="reward.direction=2"):
        Gravy(direction=2)


def test_vectorised_gravy_is_protparams_gravy_on_a_mixed_batch():
    seqs = [*SEQS, "W", "RRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRI", "MK?LV", ""]
    expected = torch.tensor([ProteinAnalysis(s).gravy() if s and "?" not in s else -10.0 for s in seqs])
    torch.testing.assert_close(Gravy()(seqs), expected, rtol=0, atol=1e-9)  # ProtParam's float64, as float32
    torch.testing.assert_close(Gravy(direction=-1)(seqs[:5]), -expected[:5], rtol=0, atol=1e-9)


def test_gravy_is_a_probs_reward_equal_on_one_hot_sequences():
    index = torch.tensor([[AMINO_ACIDS.index(c) for c in s] for s in SEQS])
    probs = torch.nn.functional.one_hot(index, 20).float().requires_grad_()
    scores = Gravy().score_probs(probs)
    torch.testing.assert_close(scores, Gravy()(SEQS))
    scores.sum().backward()
    grad = probs.grad[0, 0]
    assert grad[AMINO_ACIDS.index("I")] > grad[AMINO_ACIDS.index("R")]  # isoleucine is the most hydrophobic


def test_protparam_rewards_compose():
    reward = Composite({"gravy": 1.0, "instability": 0.1})
    assert reward.domains == ("protein",)
    expected = Gravy()(SEQS) + 0.1 * Instability()(SEQS)
    torch.testing.assert_close(reward(SEQS), expected)


def test_domain_columns_and_naturalness(tmp_path):
    reference = tmp_path / "heldout.json"
    reference.write_text(json.dumps({"composition": composition(SEQS[:2]).tolist(), "gravy_mean": 0.0,
                                     "instability_mean": 40.0, "charge_ph7_mean": 1.0, "mean_pairwise_identity": 0.06}))
    domain = ProteinDomain(reference=reference)
    columns = domain.columns(["a", "b", "c"], SEQS, tmp_path)
    assert columns["gravy"][0] == pytest.approx(ProteinAnalysis(SEQS[0]).gravy())
    rows = [{"id": i, "reward": 0.0, **{k: v[n] for k, v in columns.items()}} for n, i in enumerate("abc")]
    metrics = domain.metrics(rows)
    assert 0 < metrics["composition_distance_to_heldout"] < 1 and metrics["heldout_instability_mean"] == 40.0
    pairs = [sum(x == y for x, y in zip(a, b)) / 22 for a, b in [(SEQS[0], SEQS[1]), (SEQS[0], SEQS[2]),
                                                                (SEQS[1], SEQS[2])]]
    assert metrics["mean_pairwise_identity"] == pytest.approx(sum(pairs) / 3)
    assert mean_pairwise_identity(["AAAA", "AAAA"]) == 1.0 and math.isnan(mean_pairwise_identity(["A"]))
    domain.write_native(tmp_path, rows)
    assert [str(r.seq) for r in SeqIO.parse(tmp_path / "samples.fasta", "fasta")] == SEQS
    with pytest.raises(UserError, match="domain.alphabet=ACGT"):
        ProteinDomain(alphabet="ACGT")
    with pytest.raises(UserError, match=r"domain.reference: .*nope.json.*scripts/evaluate_protein_model.py"):
        ProteinDomain(reference=tmp_path / "nope.json")


def gravy_run(tmp_path, esm, sampler: str) -> list[float]:
    folder = tmp_path / sampler
    extra = ["sampler.num_candidates=8"] if sampler == "svdd" else []
    result = svdd("run", "domain=protein", "domain.reference=null", "model=hf_masked_lm", f"model.path={esm}",
                  "model.length=24", "model.num_steps=8", "reward=gravy", f"sampler={sampler}", *extra,
                  "num_samples=6", "batch_size=6", "reference_samples=0", "likelihood_draws=1", "device=cpu",
                  f"hydra.run.dir={folder}")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(open(folder / "samples.csv")))
    assert all(len(r["sequence"]) == 24 and set(r["sequence"]) <= set(AMINO_ACIDS) for r in rows)
    assert [str(r.seq) for r in SeqIO.parse(folder / "samples.fasta", "fasta")] == [r["sequence"] for r in rows]
    for r in rows:
        assert float(r["reward"]) == pytest.approx(ProteinAnalysis(r["sequence"]).gravy(), abs=1e-5)
        assert float(r["gravy"]) == pytest.approx(float(r["reward"]), abs=1e-5)
    summary = json.loads((folder / "summary.json").read_text())
    assert 0 <= summary["naturalness"]["mean_pairwise_identity"] <= 1
    return [float(r["reward"]) for r in rows]


def test_svdd_beats_ancestral_on_gravy_with_a_tiny_esm(tmp_path):
    esm = save_tiny_esm(tmp_path / "esm")
    ancestral, steered = gravy_run(tmp_path, esm, "ancestral"), gravy_run(tmp_path, esm, "svdd")  # svdd's defaults
    assert statistics.median(steered) > statistics.median(ancestral) + 0.5, (steered, ancestral)


def test_the_shipped_prior_runs_with_naturalness_against_heldout_proteins(tmp_path):
    result = svdd("run", "domain=protein", "reward=instability", "model.num_steps=4", "num_samples=4", "batch_size=4",
                  "sampler.num_candidates=2", "reference_samples=2", "likelihood_draws=1", "device=cpu",
                  f"hydra.run.dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(open(tmp_path / "samples.csv")))
    assert len(rows) == 4 and {"sequence", "gravy", "instability", "charge_ph7", "log_likelihood"} <= set(rows[0])
    for r in rows:
        assert len(r["sequence"]) == 100 and set(r["sequence"]) <= set(AMINO_ACIDS)
        assert float(r["reward"]) == pytest.approx(-float(r["instability"]), rel=1e-5)
    naturalness = json.loads((tmp_path / "summary.json").read_text())["naturalness"]
    assert 0 <= naturalness["composition_distance_to_heldout"] < 0.2 and naturalness["heldout_gravy_mean"] < 0
    assert naturalness["log_likelihood"]["median"] < 0 and 0 < naturalness["mean_pairwise_identity"] < 0.5
    assert len(naturalness["headline"]) == 2 and {f[0] for f in naturalness["headline"]} <= set(naturalness)


def test_proteins_are_compared_with_real_heldout_sets_of_their_size():
    from svdd_cli.assets import asset_root
    from svdd_cli.naturalness.warnings import outside

    domain = ProteinDomain(reference=asset_root() / "checkpoints" / "protein_mdlm" / "heldout_stats.json")
    hydrophobic = ["".join("ILVFAM"[(i + j) % 6] for j in range(100)) for i in range(16)]
    rows = [{"sequence": s, **properties(s)} for s in hydrophobic]
    out = domain.metrics(rows)
    assert out["real_n"] == 16 and 0.03 < out["real"]["composition_distance_to_heldout"] < 0.08
    assert out["real_range"]["composition_distance_to_heldout"][0] is None
    assert {line.split()[0] for line in outside(out)} == {"composition_distance_to_heldout", "mean_pairwise_identity"}
