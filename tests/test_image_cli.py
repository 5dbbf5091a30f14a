"""`svdd run domain=image` end to end on the shipped Fashion-MNIST DDPM and classifier, shrunk."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys

import pytest
from PIL import Image

from svdd_cli import run as run_module
from svdd_cli.errors import UserError
from tests.tiny_image_models import single_thread

TINY = ["domain=image", "model.num_steps=3", "num_samples=3", "batch_size=2", "reference_samples=2",
        "likelihood_draws=1", "device=cpu"]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with single_thread():
        yield


def test_compressibility_run_writes_every_output(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "svdd_cli.cli", "run", *TINY, "reward=compressibility",
                             "sampler.num_candidates=2",
                             f"hydra.run.dir={tmp_path}"], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(open(tmp_path / "samples.csv")))
    assert [r["file"] for r in rows] == [f"images/s00000{i}.png" for i in range(3)]
    assert set(rows[0]) >= {"id", "file", "class", "confidence", "reward", "log_likelihood"}
    for r in rows:
        assert Image.open(tmp_path / r["file"]).size == (28, 28)
        assert -5 < float(r["reward"]) < 0 and float(r["log_likelihood"]) < 0
    assert Image.open(tmp_path / "grid.png").size[0] >= 3 * 3 * 28  # 3 images at scale 3, or their labels' width
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["nfe"] == 3 * (1 + 2)  # guide_from=0.5: 2 plain, last free
    natural = summary["naturalness"]
    assert natural["frechet_distance"] is None and "256" in natural["frechet_note"]  # 3 samples: no FD
    assert 0 < natural["classifier_confidence_mean"] <= 1
    assert summary["reference_reward"]["median"] < 0


def test_classifier_best_of_n_run(compose_config, tmp_path):
    cfg = compose_config([*TINY, "reward=classifier", "reward.target_class=sneaker", "sampler=best_of_n",
                          "sampler.num_candidates=2"])
    median = run_module.run(cfg, tmp_path)
    rows = [json.loads(line) for line in open(tmp_path / "samples.jsonl")]
    assert len(rows) == 3 and median <= 0 and all(r["reward"] <= 0 for r in rows)
    assert len(list((tmp_path / "images").glob("*.png"))) == 3


@pytest.mark.parametrize(("override", "message"), [
    ("reward.target_class=hat", "target_class=hat is not a class; use a name (t-shirt, trouser,"),
    ("model.path=/no/such/ddpm", "/no/such/ddpm not found"),
    ("model.scheduler._target_=diffusers.EulerAncestralDiscreteScheduler.from_config",
     "EulerAncestralDiscreteScheduler is not supported"),
    ("model.scheduler._target_=diffusers.DDIMScheduler.from_config", "model.eta=0.0"),
    ("model.num_steps=0", "model.num_steps=0"),
])
def test_user_mistakes_are_one_line_errors(compose_config, override, message):
    overrides = [*TINY, "reward=classifier", override]
    if override.endswith("DDIMScheduler.from_config"):
        overrides.append("model.eta=0.0")
    with pytest.raises(UserError, match=re.escape(message)) as err:
        run_module.build(compose_config(overrides))
    assert "\n" not in str(err.value)


def test_image_shards_merge_with_their_images(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    sweep = subprocess.run([sys.executable, "-m", "svdd_cli.cli", "run", "-m", *TINY, "reward=compressibility",
                            "sampler=ancestral", "num_shards=2", "shard=0,1", f"hydra.sweep.dir={tmp_path}"],
                           capture_output=True, text=True, env=env, timeout=300)
    assert sweep.returncode == 0, sweep.stderr
    merge = subprocess.run([sys.executable, "-m", "svdd_cli.cli", "merge", str(tmp_path)], capture_output=True,
                           text=True, env=env, timeout=300)
    assert merge.returncode == 0, merge.stderr
    rows = list(csv.DictReader(open(tmp_path / "merged-0" / "samples.csv")))
    assert len(rows) == 3 and all((tmp_path / "merged-0" / r["file"]).is_file() for r in rows)
    assert (tmp_path / "merged-0" / "grid.png").is_file()
