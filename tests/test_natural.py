"""Naturalness that steers (reward.natural, reward=kmer_natural): the k-mer distance is exact on hand-made
sequences; the term is added to what a sampler steers by, never to the reported reward; invalid and infeasible
values keep their penalty; a term of another domain is a one-line error (a pareto reward: tests/test_pareto.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import svdd_cli
from svdd_cli.core import Counters, counted_reward
from svdd_cli.errors import UserError
from svdd_cli.rewards.kmer_natural import KmerNaturalness, kmer_frequencies
from svdd_cli.run import build
from svdd_cli.samplers.svdd import SVDD
from svdd_cli.science.sequence import kmer_counts, kmer_index
from tests.conftest import log_uniform, table_model


@pytest.fixture
def flat(tmp_path):
    """A reference of uniform 1- and 2-mer spectra over ACGT."""
    path = tmp_path / "spectra.json"
    path.write_text(json.dumps({"alphabet": "ACGT", "spectra": {"1": [0.25] * 4, "2": [1 / 16] * 16}}))
    return path


def test_kmer_frequencies_match_counting_each_sequence():
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), 30)) for _ in range(5)]
    codes = np.array([["ACGT".index(c) for c in s] for s in seqs])
    for k in (1, 2, 3):
        expected = [kmer_counts(s, kmer_index("ACGT", k), k) / (30 - k + 1) for s in seqs]
        assert np.allclose(kmer_frequencies(codes, k, 4), expected)


def test_the_distance_to_the_reference_by_hand(flat):
    reward = KmerNaturalness(flat)
    balanced, runs = "ACGT" * 4 + "A", "A" * 17  # every letter 1/4 (A 5/17) / all A
    one = abs(5 / 17 - 0.25) + 3 * abs(4 / 17 - 0.25)
    two = 4 * abs(4 / 16 - 1 / 16) + 12 / 16  # AC, CG, GT, TA each 4/16; the 12 others absent
    assert reward([balanced]).item() == pytest.approx(-(one + two) / 2, abs=1e-6)
    assert reward([runs]).item() == pytest.approx(-(1.5 + (15 / 16 + 15 / 16)) / 2, abs=1e-6)
    assert reward(["ACGN" * 4, "", "A", "AC"]).tolist() == [-2.0, -2.0, -2.0, -(1.0 + 30 / 16) / 2]  # other letters,
    # shorter than k = 2: the penalty; "AC": 1-mers 1/2, 1/2 (L1 1.0), its one 2-mer
    assert reward.domains == ("dna",)


def test_the_shipped_reference_ranks_a_real_like_sequence_above_a_homopolymer():
    reward = svdd_cli.load_reward("kmer_natural")
    spectra = json.loads(open(reward_reference()).read())["spectra"]
    assert all(abs(sum(v) - 1) < 1e-4 for v in spectra.values())
    real_like = "TCTATTTGTCAGGGTTTTCTTAGCATTAGTGACTCCATTTTGATTCTTACACTTTCACAACTACAACCACTTGACCACAG"
    assert reward([real_like]).item() > -0.6 > reward(["A" * 80]).item()


def reward_reference() -> str:
    from svdd_cli.compose import compose_config

    return compose_config(["reward=kmer_natural"]).reward.reference


def test_the_term_is_added_to_valid_steering_values_only():
    counters = Counters()
    guide = counted_reward(lambda s: [float(x.count("A")) if "N" not in x else float("nan") for x in s], counters,
                           -1000.0, natural=lambda s: torch.full((len(s),), 0.5))
    assert guide(["AAC", "ACN", "CCC"]).tolist() == [2.5, -1000.0, 0.5]


MODEL = table_model(log_uniform(8, 4), "ACGT", num_steps=4)


def a_count(samples):
    return [float(s.count("A")) for s in samples]


def c_count(samples):
    return torch.tensor([float(s.count("C")) for s in samples])


def test_steering_follows_reward_plus_natural_but_reports_the_reward():
    plain = svdd_cli.steer(MODEL, a_count, SVDD(num_candidates=8, guide_from=0.0), num_samples=16, seed=0,
                           reference_samples=0)
    pulled = svdd_cli.steer(MODEL, a_count, SVDD(num_candidates=8, guide_from=0.0), num_samples=16, seed=0,
                            reference_samples=0, natural=lambda s: 10 * c_count(s))
    assert [r["reward"] for r in pulled.rows] == [s.count("A") for s in pulled.samples]  # the reward alone
    assert sum(s.count("C") for s in pulled.samples) > sum(s.count("C") for s in plain.samples)
    assert sum(s.count("A") for s in pulled.samples) < sum(s.count("A") for s in plain.samples)


def test_reward_natural_composes_as_a_weighted_sum_and_errors_are_one_line(compose_config):
    parts = build(compose_config(["reward=enhancer", "~reward.natural", "+reward.natural.kmer_natural=10",
                                  "device=cpu"]))
    seqs = ["ACGT" * 50, "A" * 200]
    direct = svdd_cli.load_reward("kmer_natural")(seqs)
    assert parts.natural(seqs).tolist() == pytest.approx((10 * direct).tolist())
    assert build(compose_config(["reward=enhancer", "sampler=best_of_n", "device=cpu"])).natural is None
    default = build(compose_config(["reward=enhancer", "device=cpu"])).natural  # svdd on DNA: configs/sampler_domain
    both = 3 * direct + 3 * svdd_cli.load_reward("kmer_set")(seqs)
    assert default(seqs).tolist() == pytest.approx(both.tolist())
    molecules = build(compose_config(["domain=molecule", "reward=pareto", "device=cpu"])).natural  # svdd_molecule
    assert molecules.weights == {"moses_filters": 0.2} and molecules.domains == ("molecule",)
    with pytest.raises(UserError, match="reward.terms: nope is not a reward"):
        build(compose_config(["reward=enhancer", "++reward.natural.nope=1", "device=cpu"]))
    molecule = compose_config(["domain=molecule", "reward=qed", "+reward.natural.kmer_natural=1", "device=cpu"])
    with pytest.raises(UserError, match="^reward=kmer_natural scores dna, rna, protein sequences, not domain=molecule"):
        build_and_steer(molecule)
    rna_model = table_model(log_uniform(8, 4), "ACGU", num_steps=4)
    with pytest.raises(UserError, match="^reward.natural scores dna samples, not domain=rna"):  # a notebook's
        svdd_cli.steer(rna_model, a_count, SVDD(), domain="rna", natural=svdd_cli.load_reward("kmer_natural"))


def build_and_steer(cfg):
    parts = build(cfg)
    return svdd_cli.steer(parts.model, parts.reward, parts.sampler, domain=parts.domain, natural=parts.natural,
                          num_samples=1)
