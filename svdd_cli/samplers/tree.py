"""Tree search over denoising states (DTS*, 2025; docs/algorithms.md item 14): Monte Carlo tree search with
soft-Bellman backups, anytime, stopped at a budget of network evaluations.

One tree per output; a node is a state x_t at one of the model's times, with its prediction (so expanding it
costs no network call), a visit count N and a soft value v. An iteration, batched across the trees:
  select   from the root, while the node has at least ceil(C N^a) children (progressive widening), go to the
           child maximising the UCT score v_c + c sqrt(log N / N_c) (a clean child is never chosen: the
           node is expanded instead);
  expand   a new child x_s ~ p_pre(. | x_t) from the node's stored prediction;
  roll out the child to x_0 with the pre-trained kernel (one prediction per step, batched over the trees by
           time), adding every state of the path to the tree; the leaf's value is r(x_0) (or r(x0-hat) of the
           last state when the tree's budget ends mid-rollout);
  back up  along the path: v(node) = alpha log (sum_c N_c exp(v_c / alpha) / sum_c N_c) over its children
           (visit-weighted soft Bellman update; alpha -> 0 is the max, alpha -> inf the visit-weighted mean).
Each tree spends exactly `budget` NFE (1 for the root x_T, then one per rollout prediction); returns the clean
leaf with the highest reward. One reward call per rollout. A budget (nfe_per_sample) is the tree's budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from svdd_cli.core import DiffusionModel, Prediction, Reward, Sampler, Trace
from svdd_cli.samplers.budget import fixed, resized
from svdd_cli.samplers.steps import at_least, start


@dataclass
class Node:
    parent: int
    depth: int  # index of its time in model.timesteps()
    pred: Prediction | None  # one row, its x_t the node's state; None for a clean leaf
    clean: Tensor | None = None  # (...) the clean leaf's x_0; None for the others
    children: list[int] = field(default_factory=list)
    visits: int = 0
    value: float = 0.0


class Tree:
    """MCTS over denoising states with soft-Bellman backups; `budget` NFE per output."""

    def __init__(self, budget: int = 500, exploration: float = 1.0, alpha: float = 0.1, widening: float = 2.0,
                 widening_power: float = 0.5) -> None:
        at_least("budget", budget, 1, "network evaluations per sample")
        at_least("exploration", exploration, 0)
        if alpha <= 0:
            raise ValueError(f"sampler.alpha={alpha} must be > 0 (the soft Bellman temperature)")
        at_least("widening", widening, 1, "C in children < C N^a")
        if not 0 <= widening_power <= 1:
            raise ValueError(f"sampler.widening_power={widening_power} must be in [0, 1]")
        self.budget, self.c, self.alpha = budget, exploration, alpha
        self.widening, self.power = widening, widening_power

    def nfe(self, steps: int) -> int:
        """Exactly the budget; below one full rollout (T) it cannot return a clean sample."""
        return max(self.budget, steps)

    def with_budget(self, nfe_per_sample: int, steps: int) -> Sampler:
        return fixed(resized(self, budget=nfe_per_sample), nfe_per_sample, steps)

    def sample(self, model: DiffusionModel, reward: Reward, n: int, generator: torch.Generator,
               trace: Trace) -> Tensor:
        times, x, pred = start(model, n, generator)
        if self.budget < len(times) - 1:
            raise ValueError(f"sampler.budget={self.budget} is below one rollout of {len(times) - 1} steps")
        trees = [[Node(-1, 0, pred.take(slice(i, i + 1)))] for i in range(n)]
        left = [self.budget - 1] * n  # the root's prediction is spent
        iteration = 0
        while any(b > 0 for b in left):
            active = [i for i in range(n) if left[i] > 0]
            parents = [self.select(trees[i]) for i in active]
            spent = sum(left)
            leaves = self.rollout(model, reward, times, trees, active, parents, left, generator)
            for i, leaf in zip(active, leaves):
                self.backup(trees[i], leaf)
            iteration += 1
            if sum(left) == spent:  # every expansion was a clean child (no NFE): nothing left to widen (T = 1, ...)
                break
            trace({"step": iteration, "trees": len(active), "nodes_mean": sum(map(len, trees)) / n,
                   "root_value_mean": sum(t[0].value for t in trees) / n})
        best = [max((j for j, node in enumerate(t) if node.pred is None), key=lambda j: t[j].value) for t in trees]
        return torch.stack([trees[i][j].clean for i, j in enumerate(best)])

    def select(self, tree: list[Node]) -> int:
        """The node to expand: descend by UCT while the node is widened enough and its best child is not clean."""
        i = 0
        while True:
            node = tree[i]
            if len(node.children) < math.ceil(self.widening * max(node.visits, 1) ** self.power):
                return i
            log_n = math.log(max(node.visits, 1))
            child = max(node.children, key=lambda c: tree[c].value + self.c * math.sqrt(log_n / tree[c].visits))
            if tree[child].pred is None:
                return i
            i = child

    def rollout(self, model: DiffusionModel, reward: Reward, times: list[float], trees: list[list[Node]],
                active: list[int], parents: list[int], left: list[int], generator: torch.Generator) -> list[int]:
        """Expand a child of each tree's selected node and roll it out, adding the path; returns the leaves."""
        steps = len(times) - 1
        heads = [trees[i][p] for i, p in zip(active, parents)]
        depth = [h.depth + 1 for h in heads]
        states: list[Tensor | None] = [None] * len(active)
        for j in sorted(set(depth)):  # proposals from the stored predictions, grouped by time
            rows = [r for r in range(len(active)) if depth[r] == j]
            drawn = model.propose(Prediction.cat([heads[r].pred for r in rows]), times[j], generator)
            for r, state in zip(rows, drawn):
                states[r] = state
        tail = list(parents)  # the last node added to each tree's path
        done: list[int | None] = [None] * len(active)
        for j in range(min(depth), steps + 1):
            rows = [r for r in range(len(active)) if done[r] is None and depth[r] == j]
            if not rows:
                continue
            x_j = torch.stack([states[r] for r in rows])
            if j == steps:  # clean: the true reward
                pred_j, values = None, reward(model.decode(x_j))
            else:
                pred_j = model.predict(x_j, times[j])
            for q, r in enumerate(rows):
                i = active[r]
                row = None if pred_j is None else pred_j.take(slice(q, q + 1))
                tail[r] = self.add(trees[i], Node(tail[r], j, row, states[r] if row is None else None))
                if pred_j is not None:
                    left[i] -= 1
            if pred_j is not None:
                ended = [q for q, r in enumerate(rows)  # budget over before x_0: value r(x0-hat)
                         if left[active[r]] == 0 and j + 1 < steps]
                if ended:
                    idx = torch.tensor(ended, device=x_j.device)
                    for q, v in zip(ended, reward(model.decode(pred_j.x0[idx])).tolist()):
                        done[rows[q]] = tail[rows[q]]
                        trees[active[rows[q]]][tail[rows[q]]].value = v
                going = [q for q, r in enumerate(rows) if done[r] is None]
                if going:
                    idx = torch.tensor(going, device=x_j.device)
                    drawn = model.propose(pred_j.take(idx), times[j + 1], generator)
                    for q, state in zip(going, drawn):
                        states[rows[q]], depth[rows[q]] = state, j + 1
            else:
                for r, v in zip(rows, values.tolist()):
                    done[r] = tail[r]
                    trees[active[r]][tail[r]].value = v
        return done

    @staticmethod
    def add(tree: list[Node], node: Node) -> int:
        tree.append(node)
        tree[node.parent].children.append(len(tree) - 1)
        return len(tree) - 1

    def backup(self, tree: list[Node], leaf: int) -> None:
        """Visits +1 from the leaf to the root; each ancestor's value is the soft Bellman update of its children."""
        tree[leaf].visits += 1
        i = tree[leaf].parent
        while i >= 0:
            node = tree[i]
            node.visits += 1
            kids = [tree[c] for c in node.children if tree[c].visits > 0]  # torch, not math: a Python logsumexp
            # differs in the last bit now and then (exp / summation order), and UCT ties would then change samples
            weights = torch.tensor([float(k.visits) for k in kids], dtype=torch.float64)
            values = torch.tensor([k.value for k in kids], dtype=torch.float64)
            node.value = self.alpha * float(torch.logsumexp(values / self.alpha + weights.log(), 0)
                                            - weights.sum().log())
            i = node.parent
