"""model=hf_masked_lm: a Hugging Face masked LM (a tiny random EsmForMaskedLM) as the denoiser of the masked kernel."""

from __future__ import annotations

import math
import re

import pytest
import torch
from transformers import AutoModelForMaskedLM, AutoTokenizer

from svdd_cli import run as run_module
from svdd_cli.core import MaskedKernel
from svdd_cli.errors import UserError
from svdd_cli.models.hf_masked_lm import from_pretrained
from svdd_cli.rewards.gravy import Gravy
from svdd_cli.samplers.ancestral import Ancestral
from svdd_cli.samplers.dps import DPS
from svdd_cli.samplers.smc import SMC
from svdd_cli.samplers.svdd import SVDD
from svdd_cli.science.protein import AMINO_ACIDS
from tests.tiny_image_models import single_thread
from tests.tiny_protein_models import save_tiny_esm


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with single_thread():
        yield


@pytest.fixture(scope="module")
def esm(tmp_path_factory) -> str:
    return str(save_tiny_esm(tmp_path_factory.mktemp("esm")))


def test_the_denoiser_is_the_lms_logits_on_our_letters_inside_cls_eos(esm):
    model = from_pretrained(esm, AMINO_ACIDS, length=6, num_steps=5, device="cpu")
    assert isinstance(model, MaskedKernel) and model.vocab == list(AMINO_ACIDS) and model.mask_id == 20
    tokenizer, lm = AutoTokenizer.from_pretrained(esm), AutoModelForMaskedLM.from_pretrained(esm).eval()
    x_t = torch.tensor([[0, 20, 3, 20, 19, 20]])  # A <mask> E <mask> Y <mask>
    text = "".join(AMINO_ACIDS[i] if i < 20 else "<mask>" for i in x_t[0])
    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    assert ids[0, 0] == tokenizer.cls_token_id and ids[0, -1] == tokenizer.eos_token_id and ids.shape[1] == 8
    with torch.no_grad():
        expected = lm(input_ids=ids).logits[0, 1:-1][:, tokenizer.convert_tokens_to_ids(list(AMINO_ACIDS))]
    pred = model.predict(x_t, 0.5)
    torch.testing.assert_close(pred.output[0, 1, :20], expected[1].log_softmax(-1), atol=1e-5, rtol=1e-5)
    assert pred.output[0, :, 20].eq(-math.inf)[[1, 3, 5]].all()  # the mask is never predicted
    assert pred.output[0, 0, 0] == 0 and pred.output[0, 0, 1:].eq(-math.inf).all()  # unmasked letters carried over


@pytest.mark.parametrize(("sampler", "kernel"),
                         [(SVDD(num_candidates=3), "mdlm"), (SMC(num_particles=3), "random_order")],
                         ids=["svdd", "smc-random-order"])
def test_samplers_run_on_it_and_decode_amino_acids(esm, sampler, kernel):
    model = from_pretrained(esm, AMINO_ACIDS, length=12, num_steps=4, device="cpu", kernel=kernel)

    def hydrophobic(samples: list[str]) -> torch.Tensor:
        return torch.tensor([float(sum(c in "AILMFVW" for c in s)) for s in samples])

    hydrophobic.domains = ("protein",)
    x = sampler.sample(model, hydrophobic, 3, torch.Generator().manual_seed(0), lambda record: None)
    samples = model.decode(x)
    assert len(samples) == 3 and all(len(s) == 12 and set(s) <= set(AMINO_ACIDS) for s in samples)
    assert torch.isfinite(model.log_likelihood(x, torch.Generator().manual_seed(0), draws=2)).all()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"path": None}, "model.path is not set"),
    ({"path": "/no/such/esm"}, "/no/such/esm not found"),
    ({"path": "nobody-here/esm2_missing"}, "nobody-here/esm2_missing is not a folder nor a cached hub id"),
    ({"alphabet": "ACGTJ"}, "no single-letter token for J"),
    ({"length": 200}, "model.length=200 with 2 special tokens exceeds the model's 130 positions"),
    ({"alphabet": None}, "model.alphabet is not set"),
])
def test_mistakes_are_one_line_errors(esm, kwargs, message, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # as offline as this machine, without the hub client's retries
    settings = {"path": esm, "alphabet": AMINO_ACIDS, "length": 10, "device": "cpu", **kwargs}
    with pytest.raises(UserError, match=re.escape(message)) as err:
        from_pretrained(**settings)
    assert "\n" not in str(err.value)


def test_the_config_composes_for_protein_and_dna(compose_config, esm):
    for domain, reward, letters in (("protein", "gravy", AMINO_ACIDS), ("dna", "enhancer", "ACGT")):
        cfg = compose_config([f"domain={domain}", "model=hf_masked_lm", f"model.path={esm}", "model.length=8",
                              f"reward={reward}", "device=cpu"])
        _, model, _, _ = run_module.build_task(cfg)
        assert model.vocab == list(letters) and model.length == 8


def test_an_uncached_hub_id_with_an_unreachable_hub_is_one_line(esm, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.invalid")  # .invalid never resolves (RFC 2606)
    with pytest.raises(UserError, match="the hub cannot be reached: download it where there is a network"):
        from_pretrained("nobody-here/esm2_missing", AMINO_ACIDS, 10, device="cpu")


def test_dps_with_the_differentiable_gravy_raises_hydropathy(esm):
    model, reward = from_pretrained(esm, AMINO_ACIDS, length=20, num_steps=5, device="cpu"), Gravy()
    plain = Ancestral().sample(model, reward, 8, torch.Generator().manual_seed(0), lambda record: None)
    guided = DPS(scale=20.0).sample(model, reward, 8, torch.Generator().manual_seed(0), lambda record: None)
    plain, guided = reward(model.decode(plain)), reward(model.decode(guided))
    assert guided.mean() > plain.mean() + 1.0, (guided, plain)


def test_refine_edits_given_proteins_within_max_edits(compose_config, esm, tmp_path):
    seeds = ["MKTAYIAKQRQISFVKSHFSRQLEERLG", "GDVEKGKKIFIMKCSQCHTVEKGGKHKT"]
    (tmp_path / "seeds.fasta").write_text("".join(f">seed{i}\n{s}\n" for i, s in enumerate(seeds)))
    cfg = compose_config(["domain=protein", "model=hf_masked_lm", f"model.path={esm}", "model.length=28",
                          "model.num_steps=4", "reward=instability", "sampler=refine", "sampler.rounds=2",
                          "sampler.num_candidates=2", f"sampler.init={tmp_path / 'seeds.fasta'}", "sampler.max_edits=3",
                          "num_samples=4", "batch_size=4", "reference_samples=0", "likelihood_draws=1", "device=cpu"])
    run_module.run(cfg, tmp_path / "run")
    samples = [line.split(",")[1] for line in (tmp_path / "run" / "samples.csv").read_text().splitlines()[1:]]
    assert len(samples) == 4
    for s in samples:
        assert min(sum(a != b for a, b in zip(s, seed)) for seed in seeds) <= 3
