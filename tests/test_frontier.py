"""The frontier samplers on the enumerable model of test_smc_family (length 3 over "ACG", 4 steps, exact law p):
particle_gibbs converges to the tilted law, svdd_r is svdd plus batch resampling, tree spends exactly its
budget and finds the best word, refine changes only re-masked positions and honours max_edits, and bad seed
files are one-line errors naming the file and line."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate

from svdd_cli.core import Counters, counted_model, counted_reward
from svdd_cli.errors import UserError
from svdd_cli.samplers.ancestral import Ancestral
from svdd_cli.samplers.beam import Beam
from svdd_cli.samplers.particle_gibbs import ParticleGibbs, lineage
from svdd_cli.samplers.refine import Refine
from svdd_cli.samplers.resampling import multinomial
from svdd_cli.samplers.schedules import exp, linear, sigmoid
from svdd_cli.samplers.svdd import SVDD
from svdd_cli.samplers.svdd_r import SVDDR
from svdd_cli.samplers.tree import Tree
from tests.conftest import CountLetter, log_uniform, table_model
from tests.test_smc_family import (
    ALPHA,
    ALPHABET,
    LENGTH,
    MODEL,
    REWARD,
    STEPS,
    WORDS,
    frequencies,
    p,  # noqa: F401  (the exact law fixture)
    tilted,
    tv,
)

GEN = torch.Generator


def test_particle_gibbs_converges_to_the_tilted_law(p):  # noqa: F811
    """The first sweep is plain smc with K = 2 (biased); the conditional sweeps leave pi invariant."""
    target = tilted(p, ALPHA)
    dist = {it: tv(frequencies(ParticleGibbs(2, it, ALPHA).sample(MODEL, REWARD, 6000, GEN().manual_seed(it),
                                                                  lambda r: None)), target) for it in (1, 3, 8)}
    assert dist[1] > dist[8] + 0.04  # measured 0.13 -> 0.03
    assert dist[3] > dist[8] - 0.01
    assert dist[8] < 0.05  # the one-draw SMC tolerance of test_smc_family


def test_particle_gibbs_costs_iterations_times_particles_times_steps():
    counters = Counters()
    ParticleGibbs(3, 2, ALPHA).sample(counted_model(MODEL, counters, 99), counted_reward(REWARD, counters, -1), 5,
                                      GEN().manual_seed(0), lambda r: None)
    assert counters.nfe == 5 * 2 * 3 * STEPS


def test_particle_gibbs_lineage_is_the_path_re_indexed_at_every_step():
    g = GEN().manual_seed(0)
    states = [torch.randn(6, 2, generator=g) for _ in range(5)]
    parents = [torch.randint(6, (6,), generator=g) for _ in range(4)]
    path = [states[0]]
    for rows, x in zip(parents, states[1:]):  # the O(T^2) way: re-index the whole path at every step
        path = [state[rows] for state in path] + [x]
    pick = torch.tensor([5, 0, 2])
    assert all(torch.equal(a, b[pick]) for a, b in zip(lineage(states, parents, pick), path, strict=True))


def test_svdd_r_on_a_batch_of_one_is_svdd():
    runs = [s.sample(MODEL, REWARD, 1, GEN().manual_seed(s_), lambda r: None)
            for s_ in range(20) for s in (SVDDR(3, alpha=0.5, candidate_alpha=0.5), SVDD(3, alpha=0.5))]
    assert all(torch.equal(a, b) for a, b in zip(runs[::2], runs[1::2]))


def test_svdd_r_resamples_the_batch_toward_high_values_at_svdd_cost():
    model = table_model(log_uniform(10, 4), "ACGT", num_steps=6)
    records, spent = [], {}
    for name, sampler in (("svdd_r", SVDDR(4, alpha=0.3)), ("svdd", SVDD(4))):
        counters = Counters()
        x = sampler.sample(counted_model(model, counters, 99), counted_reward(CountLetter(), counters, -1), 64,
                           GEN().manual_seed(1), records.append if name == "svdd_r" else lambda r: None)
        spent[name] = (counters.nfe, CountLetter()(model.decode(x)).mean().item())
    assert spent["svdd_r"][0] == spent["svdd"][0] == 64 * (1 + 4 * 5)
    assert spent["svdd_r"][1] > spent["svdd"][1]
    assert all(r["resampled"] == 1 and r["resampled_mean"] >= r["kept_mean"] - 1e-6 for r in records)


@pytest.mark.parametrize("budget", [STEPS, 7, 23, 64])
def test_tree_spends_exactly_its_budget(budget):
    counters = Counters()
    Tree(budget=budget).sample(counted_model(MODEL, counters, 99), counted_reward(REWARD, counters, -1), 6,
                               GEN().manual_seed(2), lambda r: None)
    assert counters.nfe == 6 * max(budget, STEPS) or budget < STEPS


def test_tree_below_one_rollout_is_refused():
    with pytest.raises(ValueError, match="minimum of 4 NFE per sample"):
        Tree().with_budget(3, STEPS)


def test_tree_with_a_large_budget_mostly_finds_the_best_word():
    x = Tree(budget=400, alpha=0.01, exploration=0.3).sample(MODEL, REWARD, 8, GEN().manual_seed(3), lambda r: None)
    found = REWARD(MODEL.decode(x)) == max(REWARD.table.values())
    assert found.sum() >= 5  # measured 7 of 8 (27 words; ancestral sampling puts p = 0.07 on the best one)


DNA = table_model(log_uniform(20, 4), "ACGT", num_steps=10)


def seeds_file(tmp_path, rows: list[str], name: str = "seeds.fasta") -> str:
    path = tmp_path / name
    path.write_text("".join(f">s{i}\n{row[:10]}\n{row[10:]}\n" for i, row in enumerate(rows)))
    return str(path)


def test_refine_changes_only_re_masked_positions(tmp_path):
    seeds = ["ACGTACGTACGTACGTACGT", "CCCCCCCCCCGGGGGGGGGG"]
    sampler = Refine(rounds=1, remask_fraction=0.25, init=seeds_file(tmp_path, seeds), alpha=None, num_candidates=3)
    x = sampler.sample(DNA, CountLetter(), 40, GEN().manual_seed(4), lambda r: None)
    seed = DNA.encode_samples(seeds * 20)
    changed = (x != seed).sum(1)
    assert changed.max() <= 5 and changed.float().mean() > 2  # 5 of 20 re-masked, mostly refilled with A


def test_refine_remask_masks_the_fraction_and_nothing_else():
    x = DNA.encode_samples(["ACGTACGTACGTACGTACGT"] * 30)
    masked = Refine(remask_fraction=0.3).remask(DNA, x, x, 0.3, GEN().manual_seed(5))
    is_mask = masked == DNA.mask_id
    assert (is_mask.sum(1) == 6).all() and torch.equal(masked[~is_mask], x[~is_mask])
    assert len({tuple(row.tolist()) for row in is_mask}) > 20  # uniform: different positions per row


def test_refine_lowest_confidence_re_masks_the_tokens_the_denoiser_likes_least():
    logits = torch.zeros(20, 4)
    logits[:, 0] = 3.0  # the denoiser is confident in A everywhere
    model = table_model(logits, "ACGT", num_steps=10)
    x = model.encode_samples(["AAAAAAAAAAAAAAAACCCC"] * 16)
    masked = Refine(remask_fraction=0.5, lowest_confidence=True).remask(model, x, x, 0.5, GEN().manual_seed(6))
    assert (masked[x == 1] == model.mask_id).all()  # the probe covers 2 x 10 positions: the 4 C's go first
    assert ((masked == model.mask_id).sum(1) == 10).all()


def test_refine_lowest_confidence_re_masks_an_impossible_token_first():
    logits = torch.zeros(20, 4)
    logits[:, 1] = -torch.inf  # the denoiser gives C probability 0: log-prob -inf, the least confident of all
    model = table_model(logits, "ACGT", num_steps=10)
    x = model.encode_samples(["AAAAAAAAAAAAAAAACCCC"] * 16)
    masked = Refine(remask_fraction=0.5, lowest_confidence=True).remask(model, x, x, 0.5, GEN().manual_seed(6))
    assert (masked[x == 1] == model.mask_id).all()  # the 4 C's (-inf) are re-masked, not dropped
    assert ((masked == model.mask_id).sum(1) == 10).all()


def test_refine_reuses_the_rewards_its_last_svdd_step_computed(tmp_path):
    """Every SVDD step scores its B*M candidates; the population resampling of a round reuses the kept ones'
    rewards: only seeds (no first pass) are scored on their own."""
    steps, n, m, rounds = len(DNA.timesteps()) - 1, 12, 3, 3
    for init, extra in ((None, 0), (seeds_file(tmp_path, ["ACGTACGTACGTACGTACGT"]), n)):
        sampler, counters = Refine(rounds=rounds, num_candidates=m, init=init), Counters()
        sampler.sample(counted_model(DNA, counters, 99), counted_reward(CountLetter(), counters, -1), n,
                       GEN().manual_seed(3), lambda r: None)
        first = 0 if init else steps
        assert counters.reward_calls == n * m * (first + rounds * sampler.sub_steps(steps)) + extra


@pytest.mark.parametrize("max_edits", [0, 2, 5])
def test_refine_honours_max_edits_over_many_rounds(tmp_path, max_edits):
    seeds = ["CCCCCCCCCCGGGGGGGGGG", "GGGGGGGGGGCCCCCCCCCC"]
    sampler = Refine(rounds=6, remask_fraction=0.5, init=seeds_file(tmp_path, seeds), max_edits=max_edits,
                     alpha=None, num_candidates=4)
    x = sampler.sample(DNA, CountLetter(), 16, GEN().manual_seed(7), lambda r: None)
    distance = (x != DNA.encode_samples(seeds * 8)).sum(1)
    assert distance.max() <= max_edits and distance.float().mean() >= 0.7 * max_edits  # the reward uses the edits


def test_refine_from_a_first_pass_beats_that_pass():
    draws = [s.sample(DNA, CountLetter(), 32, GEN().manual_seed(8), lambda r: None)
             for s in (Refine(rounds=3, num_candidates=3), SVDD(3), Ancestral())]
    refined, first, plain = (CountLetter()(DNA.decode(x)).mean() for x in draws)
    assert refined > first > plain


@pytest.mark.parametrize(("name", "text", "message"), [
    ("bad.fasta", ">a\nACGTACGTACGTACGTACGT\n>b\nACGTNCGTACGTACGTACGT\n", r"bad.fasta:3: .*token 'N' is not in"),
    ("short.fasta", ">a\nACGT\n", r"short.fasta:1: 'ACGT' has 4 tokens; the model's length is 20"),
    ("headless.fasta", "ACGT\n", r"headless.fasta:1: sequence before the first '>'"),
    ("empty.txt", "\n\n", r"holds no seeds")])
def test_bad_seed_files_are_one_line_errors_naming_file_and_line(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(UserError, match=message):
        Refine(init=str(path)).sample(DNA, CountLetter(), 2, GEN().manual_seed(0), lambda r: None)


def test_unparsable_smiles_name_the_file_and_line(compose_config, tmp_path):
    model = instantiate(compose_config(["domain=molecule", "reward=qed", "device=cpu"]).model)
    path = tmp_path / "hits.smi"
    path.write_text("CCO\nc1ccccc1O\nC1CC(\n")
    with pytest.raises(UserError, match=r"hits.smi:3: 'C1CC\(' is not a valid SMILES"):
        Refine(init=str(path)).sample(model, CountLetter(), 2, GEN().manual_seed(0), lambda r: None)
    path.write_text("CCO\nc1ccccc1O\n")
    x = Refine(init=str(path), rounds=1, num_candidates=2, alpha=None, max_edits=0).sample(
        counted_model(model, Counters(), 64), CountLetter(), 2, GEN().manual_seed(0), lambda r: None)
    assert model.decode(x) == ["CCO", "Oc1ccccc1"]  # max_edits = 0: the seeds come back unchanged


@pytest.mark.parametrize("schedule", [exp, linear, sigmoid])
def test_dsearch_widths_shrink_from_oversample_b_to_b(schedule):
    widths = Beam(num_beams=3, num_children=2, width_schedule=schedule, oversample=4).widths(10)
    assert widths[0] == 12 and widths[-1] == 3 and widths == sorted(widths, reverse=True)


@pytest.mark.parametrize("kwargs", [{"width_schedule": exp, "oversample": 3}, {"search_every": 2},
                                    {"lookahead": 1, "search_every": 3}, {"alpha": 0.3, "oversample": 2,
                                                                           "width_schedule": linear}])
def test_dsearch_beam_costs_what_it_says_and_steers(kwargs):
    model = table_model(log_uniform(10, 4), "ACGT", num_steps=6)
    sampler, counters = Beam(2, 3, **kwargs), Counters()
    x = sampler.sample(counted_model(model, counters, 99), counted_reward(CountLetter(), counters, -1), 16,
                       GEN().manual_seed(9), lambda r: None)
    assert counters.nfe == 16 * sampler.nfe(6)
    assert CountLetter()(model.decode(x)).mean() > 2.5 + 1.5  # ancestral: 2.5


def test_dsearch_with_exhaustive_width_finds_the_best_word():
    x = Beam(num_beams=27, num_children=27, width_schedule=exp, oversample=3).sample(
        MODEL, REWARD, 3, GEN().manual_seed(10), lambda r: None)
    assert REWARD(MODEL.decode(x)).tolist() == [max(REWARD.table.values())] * 3


def test_new_samplers_compose_from_their_configs(compose_config):
    for name, extra in (("svdd_r", []), ("refine", ["sampler.rounds=2"]), ("tree", []), ("particle_gibbs", []),
                        ("beam", ["sampler/width_schedule=exp", "sampler.oversample=4", "sampler.lookahead=2"])):
        sampler = instantiate(compose_config([f"sampler={name}", *extra]).sampler)
        assert sampler.nfe(STEPS) > 0


def tiny_image_model(steps: int = 10):
    from svdd_cli.models.gaussian import GaussianDiffusion, GaussianKernel
    from tests.tiny_image_models import tiny_scheduler, tiny_unet

    torch.manual_seed(0)
    return GaussianDiffusion(tiny_unet(), GaussianKernel(tiny_scheduler(), steps))


def test_gaussian_noise_to_draws_the_forward_marginal():
    model = tiny_image_model()
    t = model.timesteps()[6]
    x0 = torch.rand(1, 1, 8, 8).expand(4000, -1, -1, -1) * 2 - 1
    x_t = model.noise_to(x0, t, GEN().manual_seed(0))
    a = model.kernel.abar(t)
    assert torch.allclose(x_t.mean(0), a ** 0.5 * x0[0], atol=0.08)  # std of a mean of 4000: ~0.016
    assert x_t.var(0).mean().item() == pytest.approx(1 - a, rel=0.05)


def test_refine_edits_png_seeds_with_a_gaussian_model(tmp_path):
    import numpy as np
    from PIL import Image

    for i in range(2):
        Image.fromarray((np.random.default_rng(i).random((8, 8)) * 255).astype(np.uint8)).save(tmp_path / f"{i}.png")
    model, counters = tiny_image_model(), Counters()
    sampler = Refine(rounds=2, remask_fraction=0.3, init=str(tmp_path), num_candidates=2)
    x = sampler.sample(counted_model(model, counters, 99), counted_reward(Brightness(), counters, -1), 4,
                       GEN().manual_seed(1), lambda r: None)
    assert x.shape == (4, 1, 8, 8) and counters.nfe == 4 * sampler.nfe(10)
    with pytest.raises(UserError, match="max_edits bounds a Hamming distance"):
        Refine(init=str(tmp_path), max_edits=3).sample(model, Brightness(), 2, GEN().manual_seed(0), lambda r: None)
    Image.fromarray(np.zeros((9, 8), dtype=np.uint8)).save(tmp_path / "big.png")
    with pytest.raises(UserError, match=r"big.png: image 0 has shape \(1, 9, 8\)"):
        Refine(init=str(tmp_path)).sample(model, Brightness(), 2, GEN().manual_seed(0), lambda r: None)


class Brightness:
    domains = ("image",)

    def __call__(self, images: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack([image.mean() for image in images])


def test_frontier_table_averages_seeds_and_reports_the_ratio_over_best_of_n(tmp_path):
    import importlib.util
    import json

    from tests.conftest import CONFIGS

    spec = importlib.util.spec_from_file_location("frontier", CONFIGS.parent / "scripts" / "frontier.py")
    frontier = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(frontier)
    for job, (sampler, seed, median) in enumerate([("ancestral", 0, 1.0), ("best_of_n", 0, 2.0),
                                                   ("svdd_r", 0, 5.0), ("svdd_r", 1, 6.0)]):
        folder = tmp_path / f"{job}-{sampler}"
        folder.mkdir()
        stats = {"median": median, "top10": median + 1}
        (folder / "summary.json").write_text(json.dumps({
            "choices": {"sampler": sampler, "domain": "dna", "reward": "enhancer"}, "seed": seed, "nfe_budget": 500,
            "reward": stats, "evaluation_reward": stats, "naturalness": {"log_likelihood": {"median": -1.0}},
            "nfe_per_sample": 491, "wall_s": 3.0, "num_samples": 2}))
        (folder / "samples.csv").write_text("id,sequence\ns0,ACGT\ns1,ACGT\n")
    found = frontier.points(tmp_path)
    rows = frontier.table(found, ["ancestral", "best_of_n", "svdd_r"]).splitlines()
    assert rows[-1].split(" | ")[:3] == ["| svdd_r", "500", "5.500"] and rows[-1].endswith("| 2 | 4.50 |")
    assert " 0.50 " in rows[-1]  # distinct: one sequence of two
    frontier.plot(found, ["ancestral", "best_of_n", "svdd_r"], tmp_path / "frontier.png")
    assert (tmp_path / "frontier.png").stat().st_size > 1000


def svdd_r_pair_law(alpha: float) -> torch.Tensor:
    """Exact law over WORDS of one sample of svdd_r with a batch of n = 2, M = 1 candidate (the pre-trained
    proposal) and multinomial resampling whenever ESS < 2: the joint law of the pair pushed through each step's
    two independent proposals and the resampling of the pair by exp(v / alpha), v = r(x0-hat) (r(x_0) at the end)."""
    import itertools

    from svdd_cli.samplers.resampling import ess

    states = torch.tensor(list(itertools.product(range(len(ALPHABET) + 1), repeat=LENGTH)))  # (64, 3)
    s = len(states)
    joint = torch.zeros(s, s, dtype=torch.float64)
    start = int((states == MODEL.mask_id).all(1).nonzero())
    joint[start, start] = 1.0
    times = MODEL.timesteps()
    for step, (t, u) in enumerate(zip(times[:-1], times[1:])):
        pred = MODEL.predict(states, t)
        kernel = MODEL.log_prob(pred.repeat(s), states.repeat(s, 1), u).view(s, s).double().exp()
        joint = kernel.T @ joint @ kernel  # both particles step independently
        final = step == len(times) - 2
        words = MODEL.decode(states if final else MODEL.predict(states, u).x0)  # masked states: no mass at x_0
        v = torch.tensor([REWARD.table.get(word, 0.0) for word in words])  # (64,) float32, as sampled
        log_w = torch.stack([v[:, None].expand(s, s), v[None, :].expand(s, s)], -1) / alpha  # (64, 64, 2)
        w = torch.softmax(log_w.double(), -1)
        need = ess(log_w) < 2.0  # the sampler's own float32 test
        w1, w2 = w[..., 0], w[..., 1]
        moved = torch.zeros_like(joint)
        diag = torch.arange(s)
        moved[diag, diag] += (joint * need * w1 ** 2).sum(1) + (joint * need * w2 ** 2).sum(0)
        moved += joint * need * w1 * w2 + (joint * need * w1 * w2).T
        joint = moved + joint * ~need
    marginal = dict(zip(MODEL.decode(states), (joint.sum(1) + joint.sum(0)).div(2).tolist()))
    return torch.tensor([marginal[word] for word in WORDS], dtype=torch.float64)


@pytest.mark.slow
def test_svdd_r_follows_its_exact_law_on_a_batch_of_two():
    """Each call is one particle system of two (the batch), so the 10000 systems are drawn one by one (~2 min)."""
    law = svdd_r_pair_law(ALPHA)
    generator, draws = GEN().manual_seed(11), []
    sampler = SVDDR(1, alpha=ALPHA, resampling=multinomial)
    for _ in range(10_000):
        draws.append(sampler.sample(MODEL, REWARD, 2, generator, lambda r: None))
    assert tv(frequencies(torch.cat(draws)), law) < 0.03  # measured 0.024 with 3000 systems (noise ~0.03)
    plain = frequencies(SVDD(1).sample(MODEL, REWARD, 40_000, GEN().manual_seed(12), lambda r: None))
    assert tv(law, plain) > 0.15  # the resampling matters: 0.23 from ancestral sampling (svdd with M = 1)


@pytest.mark.parametrize("sampler", [SVDDR(2, alpha=0.5), Refine(rounds=1, num_candidates=2), Tree(budget=15),
                                     ParticleGibbs(2, 2, 0.5), Beam(1, 2, width_schedule=exp, oversample=2)],
                         ids=["svdd_r", "refine", "tree", "particle_gibbs", "dsearch"])
def test_every_new_sampler_runs_on_a_gaussian_model_within_its_cost(sampler):
    model, counters = tiny_image_model(), Counters()
    x = sampler.sample(counted_model(model, counters, 99), counted_reward(Brightness(), counters, -1), 3,
                       GEN().manual_seed(2), lambda r: None)
    assert x.shape == (3, 1, 8, 8) and torch.isfinite(x).all()
    assert counters.nfe == 3 * sampler.nfe(10)


@pytest.mark.parametrize(("steps", "power"), [(1, 0.5), (3, 0.0)])
def test_tree_stops_when_nothing_is_left_to_widen(steps, power):
    """T = 1 (every child is clean: no NFE) and widening_power = 0 (a finite tree) used to loop forever."""
    from svdd_cli.samplers.tree import Tree
    from tests.conftest import CountLetter, log_uniform, table_model

    model = table_model(log_uniform(4, 4), "ACGT", num_steps=steps)
    x = Tree(budget=200, widening_power=power).sample(model, CountLetter(), 2, torch.Generator().manual_seed(0),
                                                      lambda record: None)
    assert x.shape == (2, 4)
