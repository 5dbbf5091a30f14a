"""Overlap CPU-bound reward oracles with the network: chunk k is scored on a background thread while
chunk k + 1 goes through the denoiser (on a GPU the two run at the same time)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import torch
from torch import Tensor

from svdd_cli.core import CountedModel, DiffusionModel, Prediction, Reward, SetLevel, output_rewards


def predict_and_score(model: DiffusionModel, reward: Reward, x: Tensor, t: float, overlap: bool | None = None,
                      outputs: Tensor | None = None) -> tuple[Prediction, Tensor]:
    """model.predict(x, t) and r(decode(x0-hat)) of every row: x (B, ...) -> (Prediction (B, ...), rewards (B,)).
    With overlap (default: on CUDA devices) the rows go through the network in chunks of the model's max_batch,
    each scored on a background thread while the next is predicted; the values are the same either way (a reward
    with a set-level naturalness term, core.SetLevel, is scored once on the whole batch: no overlap).
    On a CPU the network and the oracle share the cores, so one call of each is faster. `outputs` (B,): the output
    each row is a candidate for (core.output_rewards; None: row j for output j)."""
    outputs = torch.arange(x.shape[0]) if outputs is None else outputs
    if isinstance(reward, SetLevel):  # a set-level naturalness term scores the whole batch at once, not by chunk
        overlap = False
    if not (model.device.type == "cuda" if overlap is None else overlap):
        pred = model.predict(x, t)
        return pred, output_rewards(reward, model.decode(pred.x0), outputs)
    chunk = model.max_batch if isinstance(model, CountedModel) else x.shape[0]
    with ThreadPoolExecutor(max_workers=1) as scorer:
        preds, scores = [], []
        for rows, of in zip(x.split(chunk), outputs.split(chunk)):
            pred = model.predict(rows, t)
            preds.append(pred)
            scores.append(scorer.submit(lambda p=pred, o=of: output_rewards(reward, model.decode(p.x0), o)))
        return Prediction.cat(preds), torch.cat([s.result() for s in scores])
