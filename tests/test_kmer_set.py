"""reward=kmer_set, the set-level naturalness term: its gradient is Pearson r's, its pulls sum to zero over a batch
and favour what the batch lacks; it steers a set's spectrum toward the target; as a reward or an objective it is a
one-line error."""

from __future__ import annotations

import json

import numpy as np
import pytest

import svdd_cli
from svdd_cli.errors import UserError
from svdd_cli.rewards.kmer_set import KmerSetNaturalness, pearson_gradient
from svdd_cli.run import build
from svdd_cli.samplers.svdd import SVDD
from svdd_cli.science.sequence import kmer_spectrum, pearson
from tests.conftest import log_uniform, table_model


def test_the_gradient_is_pearson_r_s():
    rng = np.random.default_rng(0)
    m, q, step = rng.random(16), rng.random(16), 1e-6
    numeric = [(np.corrcoef(m + step * e, q)[0, 1] - np.corrcoef(m - step * e, q)[0, 1]) / (2 * step)
               for e in np.eye(16)]
    assert np.allclose(pearson_gradient(m, q), numeric, atol=1e-6)
    assert not pearson_gradient(np.ones(16), q).any()  # a flat spectrum has no direction


@pytest.fixture
def uniform(tmp_path):
    """A target of uniform 1-mers (of one cell set only)."""
    path = tmp_path / "spectra.json"
    path.write_text(json.dumps({"alphabet": "ACGT", "spectra": {}, "sets": {"flat": {"1": [0.1, 0.2, 0.3, 0.4]}}}))
    return path


def test_pulls_sum_to_zero_and_favour_what_the_batch_lacks(uniform):
    term = KmerSetNaturalness(uniform, k=1, sets=("flat",))
    batch = ["AAAAAAAC", "AAAAAAAG", "AAAAAAAT", "TTTTGGGC", "ACGN", "ACG"]  # A-rich; other letters; other length
    pull = term(batch)
    assert pull[:4].sum().item() == pytest.approx(0, abs=1e-6)
    assert pull[3] > 0 > pull[0]  # the T- and G-rich one moves the batch toward 0.1 / 0.2 / 0.3 / 0.4
    assert pull[4:].tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="reward.sets: hepg2 has no 1-mer spectrum"):
        KmerSetNaturalness(uniform, k=1, sets=("hepg2",))


MODEL = table_model(log_uniform(12, 4), "ACGT", num_steps=6)


def test_steering_by_it_brings_a_drifted_set_s_spectrum_back(uniform):
    target = np.array([0.1, 0.2, 0.3, 0.4])
    term = KmerSetNaturalness(uniform, k=1, sets=("flat",))

    def a_count(samples):  # drifts every design toward A
        return [s.count("A") / len(s) for s in samples]

    def r_of(natural):
        result = svdd_cli.steer(MODEL, a_count, SVDD(num_candidates=8, guide_from=0.0), num_samples=32, seed=0,
                                reference_samples=0, natural=natural)
        return pearson(kmer_spectrum(result.samples, "ACGT", 1), target)

    assert r_of(lambda s: 2 * term(s)) > r_of(None) + 0.2


def test_it_steers_as_a_natural_term_and_nowhere_else(compose_config):
    parts = build(compose_config(["reward=enhancer", "~reward.natural", "+reward.natural.kmer_set=5", "device=cpu"]))
    seqs = ["ACGT" * 50, "A" * 200, "GC" * 100]
    assert parts.natural(seqs).tolist() == pytest.approx((5 * svdd_cli.load_reward("kmer_set")(seqs)).tolist())
    with pytest.raises(UserError, match="^reward=kmer_set scores a sample against the rest of its batch"):
        parts = build(compose_config(["reward=kmer_set", "device=cpu"]))
        svdd_cli.steer(parts.model, parts.reward, parts.sampler, domain=parts.domain, num_samples=1)
    with pytest.raises(UserError, match="^reward.terms.kmer_set scores a sample against the rest of its batch"):
        build(compose_config(["reward=pareto", "domain=dna", "~reward.terms", "device=cpu",
                              "+reward.terms={kmer_set: max, kmer_natural: max}",
                              "+reward.ranges.kmer_set=[-1,1]", "+reward.ranges.kmer_natural=[-2,0]"]))


def test_the_terms_read_the_run_s_domain_s_spectra(compose_config):
    rna = build(compose_config(["domain=rna", "reward=mfe", "+reward.natural.kmer_set=1",
                                "+reward.natural.kmer_natural=1", "device=cpu"])).natural
    assert rna.terms["kmer_set"].domains == rna.terms["kmer_natural"].domains == ("rna",)
    assert rna.terms["kmer_set"].alphabet == "ACGU" and len(rna.terms["kmer_set"].targets[0]) == 64
    utr = "GCCGCCACCAUGGCGCGGCCAGGGCCGCGGCCUCGGCGGCAGCGGCGGCC"
    assert rna([utr, utr.replace("G", "A")]).shape == (2,)
    protein = build(compose_config(["domain=protein", "reward=gravy", "+reward.natural.kmer_natural=1",
                                    "device=cpu"])).natural.terms["kmer_natural"]
    assert protein.domains == ("protein",) and sorted(protein.spectra) == [1, 2]
    assert protein(["ACDEFGHIKLMNPQRSTVWY" * 5]).item() > protein(["W" * 100]).item()
    with pytest.raises(UserError, match="^reward=kmer_set scores dna and rna sequences, not domain=protein"):
        build(compose_config(["domain=protein", "reward=gravy", "+reward.natural.kmer_set=1", "device=cpu"]))
