"""The result scripts: their fault paths (nothing committed is overwritten by an empty result), and their samplers."""

from __future__ import annotations

import gzip
import importlib.util
import random
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from svdd_cli.domains.dna.naturalness import HEADLINE

ROOT = Path(__file__).resolve().parent.parent


def test_tradeoff_plot_only_without_runs_is_one_line_and_writes_nothing(tmp_path):
    (tmp_path / "docs").mkdir()
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "tradeoff.py"), "dna", "--plot-only",
                           "--runs", str(tmp_path / "none")], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode != 0 and "no finished run under" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not list((tmp_path / "docs").iterdir())


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compare_samplers_table_shows_headline_naturalness_and_extrapolating_oracles():
    compare = load_script("compare_samplers")
    stats = {"median": 6.0, "top10": 8.0}
    summary = {"choices": {"sampler": "svdd", "domain": "dna"}, "reward": stats, "evaluation_reward": stats,
               "evaluations": {"evaluation_kmer": {"median": 1.0}}, "nfe_per_sample": 266, "wall_s": 39,
               "naturalness": {"log_likelihood": {"median": -264.5}, "kmer3_r_hepg2": 0.943, "gc_percentile": 63.4,
                               "hamming_diversity": 0.75, "gc_mean": 0.488, "headline": [list(f) for f in HEADLINE]},
               "real_quantiles": {"reward": {"p99": 4.78}, "evaluation_reward": {"p99": 6.5},
                                  "evaluation_kmer": {"p99": 5.46}}}
    header, _, row = compare.table([summary]).splitlines()
    assert header.split(" | ")[-4:] == ["kmer3_r_hepg2", "gc_percentile", "hamming_diversity", "beyond real p99 |"]
    assert row.endswith("| 0.943 | 63.400 | 0.750 | reward |")
    assert "gc_mean" in compare.table([summary], "all") and "gc_mean" not in compare.table([summary])


def test_compare_samplers_passes_on_a_bad_setting_as_svdds_one_line_error(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "compare_samplers.py"), "--samplers",
                           "ancestral,svdd", "--out", str(tmp_path), "sampler.guide_from=0.5"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "Could not override 'sampler.guide_from'" in done.stderr and not (tmp_path / "results.md").exists()


def fake_moses_wheel(folder: Path, train: list[str]) -> None:
    """A molsets wheel holding only MOSES's train split (what prepare_molecule.py reads)."""
    text = "SMILES,SPLIT\n" + "".join(f"{s},train\n" for s in train)
    with zipfile.ZipFile(folder / "molsets-0.3.1-py3-none-any.whl", "w") as zf:
        zf.writestr("moses/dataset/data/train.csv.gz", gzip.compress(text.encode()))


def test_prepare_molecule_extend_keeps_the_split_vocabulary_and_length(tmp_path):
    prepared, out = tmp_path / "prepared", tmp_path / "full"
    prepared.mkdir()
    vocab = ["[C]", "[O]", "[nop]"]
    (prepared / "vocab.txt").write_text("\n".join(vocab) + "\n")
    header = "sequence\tsmiles\n"
    (prepared / "valid.tsv").write_text(header + "[C] [O] [nop] [nop]\tCO\n")
    (prepared / "test.tsv").write_text(header + "[C] [C] [nop] [nop]\tCC\n")
    fake_moses_wheel(prepared, ["CO", "CCO", "CCCO", "CCCCO", "CN"])  # valid, fits, fits, too long, new token
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "prepare_molecule.py"), "--extend", str(prepared),
                           "--out", str(out), "--hashes", str(out / "hashes.npy")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "train=2 (2 dropped" in done.stdout
    rows = (out / "train.tsv").read_text().splitlines()
    assert rows[1:] == ["[C] [C] [O] [nop]\tCCO", "[C] [C] [C] [O]\tCCCO"]
    assert (out / "valid.tsv").read_text() == (prepared / "valid.tsv").read_text()
    assert (out / "vocab.txt").read_text() == (prepared / "vocab.txt").read_text() and (out / "hashes.npy").is_file()


@pytest.mark.parametrize("scheme", ["ring-first", "ring-first+fragments"])
def test_prepare_molecule_extend_keeps_the_prepared_tokens(tmp_path, scheme):
    from svdd_cli.science.selfies_tokens import scheme_tokens

    prepared, out = tmp_path / "prepared", tmp_path / "full"
    prepared.mkdir()
    vocab = [*scheme_tokens("Cc1ccccc1", "ring-first"), "[C][=C][C][=C]"]  # the fragment: a kekulé benzene's run
    toluene = scheme_tokens("Cc1ccccc1", scheme, vocab)
    assert ("[C][=C][C][=C]" in toluene) == scheme.endswith("+fragments")
    (prepared / "vocab.txt").write_text("\n".join(sorted(set(vocab)) + ["[nop]"]) + "\n")
    (prepared / "tokens.txt").write_text(scheme + "\n")
    padded = " ".join(toluene + ["[nop]"])
    (prepared / "valid.tsv").write_text(f"sequence\tsmiles\n{padded}\tCc1ccccc1\n")
    (prepared / "test.tsv").write_text(f"sequence\tsmiles\n{padded}\tCc1ccccc1\n")
    fake_moses_wheel(prepared, ["C1=CC=CC=C1C", "c1ccc(C)cc1", "Oc1ccccc1"])  # toluene twice, then a new token
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "prepare_molecule.py"), "--extend", str(prepared),
                           "--out", str(out), "--hashes", str(out / "hashes.npy")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rows = (out / "train.tsv").read_text().splitlines()[1:]
    assert [r.split("\t")[0] for r in rows] == [padded, padded] and (out / "tokens.txt").read_text() == scheme + "\n"


def test_prepare_molecule_fragments_rewrites_every_split_into_shorter_rows_of_the_same_molecules(tmp_path):
    from svdd_cli.science.selfies_tokens import ring_first_tokens

    prepared, out = tmp_path / "prepared", tmp_path / "frag"
    prepared.mkdir()
    smiles = ["Cc1ccccc1", "CCc1ccccc1", "Oc1ccccc1", "CC(=O)Nc1ccccc1"]
    rows = [ring_first_tokens(s) for s in smiles]
    (prepared / "vocab.txt").write_text("\n".join(sorted({t for r in rows for t in r} | {"[nop]"})) + "\n")
    (prepared / "tokens.txt").write_text("ring-first\n")
    table = "sequence\tsmiles\n" + "".join(" ".join(r + ["[nop]"] * (12 - len(r))) + f"\t{s}\n"
                                           for r, s in zip(rows, smiles))
    for name in ("train", "valid", "test"):
        (prepared / f"{name}.tsv").write_text(table)
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "prepare_molecule.py"), "--fragments", str(prepared),
                           "--merges", "5", "--out", str(out), "--hashes", str(out / "hashes.npy")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    vocab = set((out / "vocab.txt").read_text().split())
    assert (out / "tokens.txt").read_text() == "ring-first+fragments\n" and (out / "hashes.npy").is_file()
    for name in ("train", "valid", "test"):
        written = [line.split("\t") for line in (out / f"{name}.tsv").read_text().splitlines()[1:]]
        assert [s for _, s in written] == smiles
        for (sequence, _), row in zip(written, rows):
            tokens = sequence.split()
            assert len(tokens) < len(row) and set(tokens) <= vocab
            assert "".join(t for t in tokens if t != "[nop]") == "".join(row)


def test_evaluate_molecule_model_names_a_missing_smiles_file(tmp_path, monkeypatch, capsys):
    evaluate = load_script("evaluate_molecule_model")
    missing = tmp_path / "designs.smi"
    monkeypatch.setattr("sys.argv", ["evaluate_molecule_model.py", "--smiles", str(missing)])
    with pytest.raises(SystemExit) as exit_:
        evaluate.main()
    assert exit_.value.code == 2 and f"--smiles {missing}: no such file" in capsys.readouterr().err


def test_pack_state_round_trips_a_folder_in_parts_and_names_missing_parts(tmp_path, monkeypatch):
    pack_state = load_script("pack_state")
    monkeypatch.setattr(pack_state, "PART", 1000)  # small parts: several of them
    state = tmp_path / "state"
    state.mkdir()
    weights = random.Random(0).randbytes(12_003)  # incompressible, not a multiple of the 4-byte word
    (state / "state-00.safetensors").write_bytes(weights)
    (state / "state.json").write_text('{"step": 7}')
    pack_state.pack(state, tmp_path / "out" / "state")
    assert len(pack_state.parts(tmp_path / "out" / "state")) > 2
    pack_state.unpack(tmp_path / "out" / "state", tmp_path / "back")
    assert (tmp_path / "back" / "state-00.safetensors").read_bytes() == weights
    assert (tmp_path / "back" / "state.json").read_text() == '{"step": 7}'
    with pytest.raises(SystemExit, match="no .*nothing.00 ...: nothing to unpack"):
        pack_state.unpack(tmp_path / "nothing", tmp_path / "back")
