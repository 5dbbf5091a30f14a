"""SVDD-MC (Li et al. 2024): soft value-based decoding with a learned value network v(x_t, t).

Same selection as SVDD-PM (svdd.py): every sample draws M candidates x_s^(m) ~ p_pre(. | x_t) and keeps
argmax_m v (alpha = 0) or m ~ softmax(v / alpha), but v = v_phi(x_s^(m), s) from a network trained by
`svdd train-value`, so only the kept candidate goes through the denoiser: 1 network evaluation per sample
per step (value-network evaluations are reported in the trace, not counted as NFE): T per sample, so a
budget only checks that one pass fits. At the last step
(s = 0) the candidates are finished samples and are scored by the true reward r(x_0), as in svdd.py.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import torch
from torch import Tensor

from svdd_cli.core import DiffusionModel, Reward, Sampler, Trace, output_rewards, per_output
from svdd_cli.samplers.budget import fixed
from svdd_cli.samplers.selection import keep
from svdd_cli.samplers.steps import at_least, start
from svdd_cli.value.network import ValueNetwork, load_value_network


class SVDDMC:
    """Soft value-based decoding with a value network; M candidates per sample per step, 1 NFE."""

    def __init__(self, value: str | Path | ValueNetwork, num_candidates: int = 10, alpha: float = 0.0,
                 device: str = "auto") -> None:
        """`value`: a checkpoint folder written by `svdd train-value` (loaded onto `device`), or a network."""
        at_least("num_candidates", num_candidates, 1)
        at_least("alpha", alpha, 0, "0 = argmax")
        self.m, self.alpha = num_candidates, alpha
        self.net = value if isinstance(value, ValueNetwork) else load_value_network(value, device)

    def sample(self, model: DiffusionModel, reward: Reward, n: int, generator: torch.Generator,
               trace: Trace) -> Tensor:
        self.net.check_model(model)
        times, x, pred = start(model, n, generator)
        steps = len(times) - 1
        for step, (t, s) in enumerate(pairwise(times)):
            final = step == steps - 1
            x_s = model.propose(pred.repeat(self.m), s, generator)  # (n*M, ...)
            v = (output_rewards(reward, model.decode(x_s), per_output(n, len(x_s))) if final else
                 self.net.value(x_s, s).float().cpu())
            rows, stats = keep(v.view(n, self.m), self.alpha, generator)
            x = x_s[rows.to(x_s.device)]
            if not final:
                pred = model.predict(x, s)  # the only network call: the kept candidate
            trace({"step": step, "t": t, **stats, "value_net_evals": 0 if final else n * self.m})
        return x

    def nfe(self, steps: int) -> int:
        """T per sample whatever M: the candidates cost value-network evaluations, not NFE."""
        return steps

    def with_budget(self, nfe_per_sample: int, steps: int) -> Sampler:
        """The budget cannot buy candidates (they cost no NFE): this sampler, once it fits one pass."""
        return fixed(self, nfe_per_sample, steps)
