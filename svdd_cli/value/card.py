"""MODEL_CARD.md of a value network written by `svdd train-value`."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_card(folder: Path, config: dict[str, Any], metrics: dict[str, Any]) -> None:
    """Data, settings, compute and the held-out per-step correlation table, from config.json and metrics.json."""
    s = metrics["settings"]
    targets = ("the trajectory's final reward r(x_0)" if config["targets"] == "reward" else
               f"the soft value alpha log mean_k exp(r(x0_k)/alpha), alpha = {config['alpha']}, over "
               f"K = {config['completions']} completions (the trajectory's end + K-1 fresh rollouts), "
               f"at steps 1, {1 + s['completion_every']}, {1 + 2 * s['completion_every']}, ... only")
    rows = "\n".join(f"| {r['step']} | {r['t']:.2f} | {r['value_pearson']:.3f} | {r['x0hat_pearson']:.3f} |"
                     for r in metrics["per_step"])
    net = config["network"]
    pool = "no pooling" if net["pool"] == 1 else f"average-pooled by {net['pool']}"
    text = f"""# {folder.name}: SVDD-MC value network for domain={config['domain']} reward={config['reward']}

**What it is.** `svdd_cli.value.network.ValueNetwork`: v(x_t, t), a time-conditioned residual dilated 1-D CNN
({net['layers']} blocks, {net['channels']} channels, kernel {net['kernel_size']}, {pool}; {metrics['parameters']:,}
parameters) over one-hot tokens {config['vocab']} + mask, length {config['length']}.
Used by `svdd run sampler=svdd_mc sampler.value={folder}`.

**Data.** {s['rollouts']} training + {s['heldout']} held-out ancestral rollouts of `{config['model']}`
({config['num_steps']} steps; {metrics['nfe']:,} network evaluations, {metrics['reward_calls']:,} reward calls,
{metrics['invalid_rewards']} invalid rewards). Every state x_t with 0 < t < 1 of a trajectory is one pair
(x_t, t); target: {targets}. {metrics['pairs']['train']:,} training pairs; {metrics['pairs']['heldout']:,}
held-out pairs (whole trajectories held out).

**Training.** MSE on standardised targets, AdamW (lr {s['lr']}, one-cycle schedule, weight decay
{s['weight_decay']}, gradient clip 1.0), batch {s['train_batch']}, {s['epochs']} epochs, seed {metrics['seed']}.
Rollouts took {metrics['rollout_s']:.0f} s, fitting {metrics['train_s']:.0f} s. Held-out MSE per epoch
(in units of the targets' variance): {', '.join(f'{x:.3f}' for x in metrics['heldout_mse'])}.

**Command.**
```
{metrics['command']}
```

**Held-out per-step correlation.** Pearson correlation over the {s['heldout']} held-out trajectories between
the value of the state x_t and the trajectory's final reward r(x_0); next to it the same for SVDD-PM's value
r(x0-hat(x_t)) (one denoiser call + one reward call per state). Step 1 is the first state after x_T.

| step | t | v(x_t, t) | r(x0-hat(x_t)) |
|---|---|---|---|
{rows}

**Caveats.** r(x_0) of one trajectory is a noisy label of E[r(x_0) | x_t]: early states cannot correlate
strongly with any single outcome. The network only knows the model and reward it was trained for; svdd_mc
refuses it for another vocabulary or length, but not for another reward on the same tokens.
"""
    (folder / "MODEL_CARD.md").write_text(text)
