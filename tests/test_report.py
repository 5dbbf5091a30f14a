"""`svdd report`: labels that tell the runs apart, a table readable at 80 columns, plots of bounded size."""

from __future__ import annotations

import json
import shutil

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from PIL import Image

from svdd_cli.assets import asset_root, register_resolver
from svdd_cli.report import flatten, labelled, report
from tests.test_cli import svdd


def made_with(*overrides: str) -> dict:
    """The choices and settings that summary.json records of `svdd run <overrides>`."""
    register_resolver()
    with initialize_config_dir(config_dir=str(asset_root() / "configs"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=list(overrides), return_hydra_config=True)
    choices = {k: v for k, v in cfg.hydra.runtime.choices.items() if not k.startswith("hydra")}
    del cfg.hydra
    settings = OmegaConf.to_container(cfg, resolve=True)
    settings.pop("resume")
    return {"choices": choices, "settings": settings, "sampler": settings["sampler"], "seed": settings["seed"]}


def test_runs_are_labelled_by_what_differs_between_them(tmp_path):
    cases = {"dna-3": ["num_samples=3"], "dna-4": ["num_samples=4"], "dna-steps": ["model.num_steps=3"],
             "dna-seed": ["num_samples=3", "seed=1"], "mol": ["domain=molecule", "reward=qed"],
             "mol-r2l": ["domain=molecule", "reward=qed", "model=molecule_r2l"]}
    runs, shared = labelled([(tmp_path / name, made_with(*o)) for name, o in cases.items()])
    steps = made_with()["settings"]["model"]["num_steps"]
    assert [r.label for r in runs] == [
        "domain=dna reward=enhancer model.num_steps=3 num_samples=64 seed=0",
        f"domain=dna reward=enhancer model.num_steps={steps} num_samples=3 seed=0",
        f"domain=dna reward=enhancer model.num_steps={steps} num_samples=3 seed=1",
        f"domain=dna reward=enhancer model.num_steps={steps} num_samples=4 seed=0",
        "domain=molecule reward=qed",  # on its domain's own model: no model=molecule
        "domain=molecule reward=qed model=molecule_r2l"]
    assert [r.short for r in runs][-2:] == ["mol", "model=molecule_r2l"]  # within the molecule/qed panel
    assert shared == "sampler=svdd"
    again, _ = labelled([(tmp_path / "a", made_with()), (tmp_path / "b", made_with())])
    assert [r.label for r in again] == ["a", "b"]  # nothing differs: the folders' names


def test_config_group_nodes_show_by_their_target():
    node = {"_target_": "svdd_cli.samplers.resampling.systematic", "_partial_": True}
    assert flatten({"sampler": {"resampling": node, "alpha": 0.1}}) == {
        "sampler.resampling": "systematic", "sampler.alpha": "0.1"}


def test_a_mixed_folder_reads_at_80_columns_and_plots_at_a_bounded_size(tiny_checkpoint, tmp_path, monkeypatch,
                                                                         capsys):
    sweep = tmp_path / "sweep"
    result = svdd("run", "-m", "sampler=ancestral,svdd", "model.num_steps=3,4", f"model.path={tiny_checkpoint}",
                  "num_samples=3", "reference_samples=0", "likelihood_draws=1",
                  "device=cpu", f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr
    rewards = sorted(p.stem for p in (asset_root() / "configs" / "reward").glob("*.yaml"))[:11]
    for run in list(sweep.glob("*-dna-*")):  # the same runs under 11 rewards: 11 panels of 4 runs
        for reward in rewards:
            copy = tmp_path / "mixed" / f"{run.name}-{reward}"
            shutil.copytree(run, copy)
            summary = json.loads((copy / "summary.json").read_text())
            summary["choices"]["reward"] = reward
            (copy / "summary.json").write_text(json.dumps(summary))
    monkeypatch.setenv("COLUMNS", "80")
    report([tmp_path / "mixed"], tmp_path / "report")
    out = capsys.readouterr().out
    *lines, wrote = out.splitlines()  # the last line names the output folder: as long as its path
    assert lines[0].strip() == "44 runs of domain=dna" and wrote.startswith("wrote ")
    assert "…" not in out and max(map(len, lines)) <= 80
    table = (tmp_path / "report" / "report.md").read_text()
    for reward in rewards:
        for sampler in ("ancestral", "svdd"):
            for steps in (3, 4):
                assert f"| reward={reward} sampler={sampler} model.num_steps={steps} |" in table
    width, height = Image.open(tmp_path / "report" / "reward_vs_nfe.png").size
    assert 1000 < width <= 2000 and height <= 3000  # three panels to a row, whatever the number of tasks
    width, _ = Image.open(tmp_path / "report" / "reward_distributions.png").size
    assert width <= 2600
