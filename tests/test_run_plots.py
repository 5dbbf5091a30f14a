"""A run's pictures say what they show: reward_hist.png's title, oracle and real-data p99; grid.png's labels."""

from __future__ import annotations

import json

import numpy as np
import torch

from svdd_cli import plots
from svdd_cli.compose import compose_config
from svdd_cli.domains.image.domain import image_grid
from svdd_cli.run import run
from svdd_cli.science.images import to_pil
from svdd_cli.summary import histogram_labels

TINY = ["sampler=ancestral", "model.num_steps=3", "num_samples=4", "batch_size=4", "reference_samples=4",
        "likelihood_draws=1", "device=cpu"]


def test_the_reward_histogram_names_its_run_and_oracle_and_marks_the_real_p99(tmp_path):
    run(compose_config(["reward=enhancer", *TINY]), tmp_path, {"domain": "dna", "model": "dna",
                                                                "reward": "enhancer", "sampler": "ancestral"})
    assert (tmp_path / "reward_hist.png").stat().st_size > 1000
    summary = json.loads((tmp_path / "summary.json").read_text())
    labels = histogram_labels(summary)
    real = summary["real_quantiles"]["reward"]
    assert labels["title"] == "domain=dna  model=dna  reward=enhancer  sampler=ancestral"
    assert labels["oracle"] == "reward=enhancer (oracle dna_enhancer_oracle)" and labels["real"] == real
    rewards = [json.loads(line)["reward"] for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    ax = plots.reward_histogram(rewards, [0.0, 1.0], path=tmp_path / "again.png", **labels).axes[0]
    assert ax.get_title() == labels["title"] and ax.get_xlabel() == labels["oracle"]
    marker = ax.get_lines()  # the histograms are bars; the one line is the marker
    assert len(marker) == 1 and list(marker[0].get_xdata()) == [real["p99"], real["p99"]]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[-1] == f"real data p99: {real['p99']:.3g}\n({real['data']})"


def test_a_reward_without_real_quantiles_has_no_p99_marker():
    summary = {"choices": {"domain": "molecule", "reward": "qed", "sampler": "svdd"}, "real_quantiles": {}}
    assert histogram_labels(summary) == {"label": "svdd", "oracle": "reward=qed", "real": None,
                                         "title": "domain=molecule  reward=qed  sampler=svdd"}


def test_the_image_grid_writes_a_title_and_each_images_id_and_reward_readably():
    images = [to_pil(torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(i))) for i in range(3)]
    labels = [f"s00000{i}\nreward -2.1e-05" for i in range(3)]
    grid = np.asarray(image_grid(images, labels, scale=3, title="the first 3 samples").convert("L"))
    height, width = grid.shape
    assert width > 3 * 3 * 28 and height > 3 * 28 + 2 * 13  # cells as wide as their labels, two lines each
    title, under_first = grid[:24], grid[24 + 84:, :width // 3]  # a 24-pixel title, then 84-pixel images
    assert (title < 128).sum() > 50 and (under_first < 128).sum() > 100  # dark text on white
