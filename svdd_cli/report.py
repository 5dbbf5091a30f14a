"""`svdd report DIR... [--out DIR]`: one table and plots over the runs of a sweep (or several runs)."""

from __future__ import annotations

import csv
import json
import math
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from svdd_cli.errors import UserError
from svdd_cli.fronts import Objectives
from svdd_cli.naturalness.headline import Figure, headline
from svdd_cli.plots import pareto_front

COLUMNS = ("run", "reward median", "top-10%", "held-out median", "log-lik median", "NFE / sample", "wall s")
SHOWN = {"real": " (real)", "real_range": " (real p5..p95)"}  # a figure's column title: what its cells add
DERIVED = ("sampler_domain",)  # configs/config.yaml picks it by the sampler and the domain: it tells no run apart
# (a choice left null, e.g. no constraints=, is no choice either)
BY_SAMPLER = ("reward.natural.",)  # settings configs/sampler_domain/ gives by the sampler (svdd_dna: the natural terms)
DEFAULT_OF = {"model": "domain"}  # configs/config.yaml: model: ${domain}; a run on its domain's own model says none
CHOICE_ORDER = ("domain", "reward", "model", "sampler")


def setting(value: Any) -> str:
    """A setting as a label shows it: a config-group node ({"_target_": "pkg.module.name", ...}) by the name its
    target ends in (sampler/resampling=systematic -> "systematic", potential=max -> "RunningMax"), anything else as
    it is."""
    if isinstance(value, dict) and "_target_" in value:
        return str(value["_target_"]).rsplit(".", 1)[-1]
    return str(value)


def flatten(node: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Dotted keys ("model.num_steps", "sampler.resampling") -> values as a label shows them."""
    out = {}
    for key, value in node.items():
        if isinstance(value, dict):
            if "_target_" in value:
                out[prefix + key] = setting(value)
            out |= flatten({k: v for k, v in value.items() if k not in ("_target_", "_partial_")}, f"{prefix}{key}.")
        else:
            out[prefix + key] = setting(value)
    return out


def settings_of(folder: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """The settings a run was made with: its summary's, or its state.json's (summaries written before they
    carried them)."""
    state = folder / "state.json"
    if "settings" not in summary and state.exists():
        return json.loads(state.read_text())["settings"]
    return summary.get("settings", {"sampler": summary["sampler"], "seed": summary["seed"]})


def facts(folder: Path, summary: dict[str, Any]) -> dict[str, str]:
    """What made a run: its config choices ("model", "sampler/resampling") and its settings ("model.num_steps")."""
    choices = {k: str(v) for k, v in summary["choices"].items() if k not in DERIVED and v is not None}
    flat = flatten(settings_of(folder, summary))
    return {**{k: v for k, v in flat.items() if k.replace(".", "/") not in choices}, **choices}


def governing(key: str, choices: set[str]) -> tuple[str, ...]:
    """The choices that set a key's value: none for a choice of the top level (domain, reward, model, sampler:
    compared over all runs); for the others the domain (a domain has its own models, rewards and sampler
    settings) and the choices above the key ("model" for model.num_steps, "sampler" for sampler/resampling; the
    sampler too for what a sampler_domain file sets, reward.natural.*)."""
    if key in choices and "/" not in key:
        return ()
    dotted = key.replace("/", ".")
    above = {c for c in choices if dotted.startswith(c.replace("/", ".") + ".")}
    by_sampler = {"sampler"} if dotted.startswith(BY_SAMPLER) else set()
    return tuple(sorted(({"domain"} | by_sampler) & choices | above))


@dataclass(frozen=True)
class Varying:
    """A key whose value differs between runs that agree on the choices that set it (`above`), in `groups`
    (the values of those choices where it differs)."""

    key: str
    above: tuple[str, ...]
    groups: frozenset[tuple[str | None, ...]]

    @classmethod
    def always(cls, key: str) -> Varying:
        """A key shown on every run that has it."""
        return cls(key, (), frozenset({()}))

    def shown(self, run: dict[str, str]) -> bool:
        """Whether this run's label shows the key: the run has it, in a group where it differs, and it is not a
        default choice."""
        default = DEFAULT_OF.get(self.key)
        return (self.key in run and tuple(run.get(c) for c in self.above) in self.groups
                and (default is None or run[self.key] != run.get(default)))


def differing(runs: list[dict[str, str]], choices: set[str]) -> list[Varying]:
    """The keys that tell runs apart: choices first (domain, reward, model, sampler, then the others), then
    settings, the seed last."""
    keys = []
    for key in {k for r in runs for k in r}:
        above = governing(key, choices)
        seen: dict[tuple[str | None, ...], set[str | None]] = {}
        for r in runs:
            seen.setdefault(tuple(r.get(c) for c in above), set()).add(r.get(key))
        groups = frozenset(g for g, values in seen.items() if len(values) > 1)
        if groups:
            keys.append(Varying(key, above, groups))
    return sorted(keys, key=lambda v: (v.key not in choices, v.key == "seed", *choice_rank(v.key)))


def choice_rank(key: str) -> tuple[int, str]:
    """domain, reward, model, sampler, then the others by name."""
    return (CHOICE_ORDER.index(key), "") if key in CHOICE_ORDER else (len(CHOICE_ORDER), key)


def label(run: dict[str, str], keys: list[Varying]) -> str:
    """key=value for the `keys` that this run's label shows."""
    return " ".join(f"{v.key}={run[v.key]}" for v in keys if v.shown(run))


@dataclass
class Labelled:
    """A finished run and how the report names it."""

    folder: Path
    summary: dict[str, Any]
    label: str  # what tells it apart from the report's other runs
    short: str  # the label within its domain/reward's plot panel
    curve: str  # its line on reward_vs_nfe.png: the label without the sampler's settings, the budget and the seed


def sort_key(values: list[str]) -> list[tuple[int, float, str]]:
    """Numbers by value (num_samples=10 after num_samples=3), text by text."""
    def one(value: str) -> tuple[int, float, str]:
        try:
            return 0, float(value), ""
        except ValueError:
            return 1, 0.0, value

    return [one(v) for v in values]


def unique_labels(runs: list[dict[str, str]], keys: list[Varying], folders: list[Path],
                  scopes: list[str]) -> list[str]:
    """Each run's label over `keys`, with its folder's name where another run of its scope has the same label
    (or where it has none)."""
    names = [(scope, label(r, keys)) for r, scope in zip(runs, scopes)]
    return [f"{n} ({f.name})" if n and names.count((scope, n)) > 1 else n or f.name
            for (scope, n), f in zip(names, folders)]


def labelled(runs: list[tuple[Path, dict[str, Any]]]) -> tuple[list[Labelled], str]:
    """The runs, sorted by and labelled with what tells them apart (a folder's name where nothing does), and the
    choices that all of them share, e.g. "domain=dna reward=enhancer"."""
    made = [facts(folder, s) for folder, s in runs]
    choices = {k for _, s in runs for k, v in s["choices"].items() if k not in DERIVED and v is not None}
    keys = differing(made, choices)
    order = sorted(range(len(runs)), key=lambda i: sort_key([made[i].get(v.key, "") for v in keys]))
    folders = [folder for folder, _ in runs]
    within = [v for v in keys if v.key not in ("domain", "reward")]
    tasks = [task(s) for _, s in runs]
    names, shorts = unique_labels(made, keys, folders, [""] * len(runs)), unique_labels(made, within, folders, tasks)
    curve = [Varying.always("sampler"), *(v for v in within if v.key not in ("sampler", "seed", "nfe_per_sample")
                                          and not v.key.startswith("sampler."))]
    out = [Labelled(runs[i][0], runs[i][1], names[i], shorts[i], label(made[i], curve)) for i in order]
    shared = [Varying.always(k) for k in sorted(choices, key=choice_rank)
              if len({r.get(k) for r in made}) == 1 and k in made[0]]
    return out, label(made[0], shared)


def load_runs(dirs: list[Path]) -> list[tuple[Path, dict[str, Any]]]:
    """(folder, summary) of every finished run under dirs; shards count once, through `svdd merge`."""
    runs = []
    for d in dirs:
        if not d.is_dir():
            raise UserError(f"no such folder: {d}")
        for path in sorted(d.rglob("summary.json")):
            summary = json.loads(path.read_text())
            state = path.parent / "state.json"  # a shard's own folder; merged folders have none
            shard = state.exists() and json.loads(state.read_text())["settings"]["num_shards"] > 1
            if summary["status"] == "finished" and not shard:
                runs.append((path.parent, summary))
    if not runs:
        raise UserError(f"no finished runs (summary.json) under {', '.join(map(str, dirs))}")
    return runs


def fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def natural_columns(runs: list[dict[str, Any]]) -> list[Figure]:
    """Every extra evaluation column (evaluation_<name>), then the headline figures of the runs' domains (what
    their summaries declare) that at least one run has."""
    extra = sorted({c for s in runs for c in s.get("evaluations", {}) if c != "evaluation_reward"})
    figures: dict[str, Figure] = {}
    for s in runs:
        for figure in headline(s["naturalness"]):
            if s["naturalness"].get(figure.key) is not None:
                figures.setdefault(figure.key, figure)
    return [Figure(c, f"{c.removeprefix('evaluation_')} median", "", None) for c in extra] + list(figures.values())


def natural_cell(summary: dict[str, Any], figure: Figure) -> str:
    """'value (real)' of a naturalness figure (the real value its `real` entry holds: a median or a p5..p95 range),
    or the median of an extra evaluation column."""
    if figure.key.startswith("evaluation_"):
        return fmt(summary.get("evaluations", {}).get(figure.key, {}).get("median"))
    n = summary["naturalness"]
    if n.get(figure.key) is None:
        return "-"
    real = n.get(figure.real, {}).get(figure.key) if figure.real else None
    shown = "" if real is None else \
        f" ({real[0]:.3g}..{real[1]:.3g})" if isinstance(real, list) else f" ({real:.3g})"
    return f"{n[figure.key]:.3g}{shown}"


def row(run: Labelled, natural: list[Figure], front: bool = False) -> list[str]:
    """The run's cells: COLUMNS, with `front` its hypervolume after the top-10%, then the natural columns."""
    summary = run.summary
    r, e = summary["reward"], summary["evaluation_reward"]
    ll = summary["naturalness"]["log_likelihood"]
    volume = [fmt(summary["pareto"]["hypervolume"], 4) if "pareto" in summary else "-"] if front else []
    return [run.label, fmt(r["median"]), fmt(r["top10"]), *volume, fmt(e["median"]), fmt(ll["median"], 1),
            f"{summary['nfe_per_sample']:.0f}", f"{summary['wall_s']:.0f}",
            *(natural_cell(summary, f) for f in natural)]


def fronts(runs: list[Labelled], path: Path) -> list[str]:
    """fronts.png: the samples and front of every reward=pareto run that shares the first one's objectives (one
    colour each); the lines report.md adds: the objectives and reference point, and the runs whose objectives
    differ (their hypervolumes are not comparable). Nothing when no run has a front."""
    with_front = [r for r in runs if "pareto" in r.summary]
    if not with_front:
        return []
    record = with_front[0].summary["pareto"]["objectives"]
    shared = [r for r in with_front if r.summary["pareto"]["objectives"] == record]
    objectives = Objectives.from_record(record)
    samples = {}
    for r in shared:
        with open(r.folder / "samples.csv", newline="") as f:
            samples[r.label] = list(csv.DictReader(f))
    pareto_front(objectives, samples, path, title="fronts of the runs (reward=pareto)")
    point = ", ".join(f"{k} {v:g}" for k, v in objectives.reference_point().items())
    lines = [f"Hypervolume: of the samples' objectives ({', '.join(objectives.labels)}), each scaled to [0, 1] over "
             f"its range, above the reference point ({point}); fronts.png draws them."]
    lines += [f"- {r.label}: other objectives or ranges than {shared[0].label}; its hypervolume is not comparable"
              for r in with_front if r not in shared]
    return lines


def rewards(folder: Path) -> list[float]:
    with open(folder / "samples.csv") as f:
        return [float(r["reward"]) for r in csv.DictReader(f)]


def task(summary: dict[str, Any]) -> str:
    return f"{summary['choices'].get('domain')}/{summary['choices'].get('reward')}"


def by_task(runs: list[Labelled]) -> dict[str, list[Labelled]]:
    """Runs grouped by domain/reward: rewards of different tasks do not share an axis."""
    groups: dict[str, list[Labelled]] = {}
    for run in runs:
        groups.setdefault(task(run.summary), []).append(run)
    return groups


PANELS_PER_ROW = 3  # a figure of many tasks grows downwards, never wider than three panels
WRAP = 36  # characters per line of a label in a plot


def panels(count: int, width: float, height: float) -> tuple[plt.Figure, list[plt.Axes]]:
    """A figure of `count` panels of width x height inches, PANELS_PER_ROW to a row."""
    columns = min(PANELS_PER_ROW, count)
    rows = math.ceil(count / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(width * columns, height * rows), squeeze=False)
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:count])


def plot_distributions(runs: list[Labelled], path: Path) -> None:
    """Box plots of every run's rewards, one panel per domain/reward, one box per run named by its label."""
    groups = by_task(runs)
    lines = max(sum(len(textwrap.wrap(r.short, WRAP)) for r in group) for group in groups.values())
    fig, axes = panels(len(groups), 7, max(3.0, 0.25 * lines + 1.5))
    for ax, (task, group) in zip(axes, groups.items()):
        ax.boxplot([rewards(r.folder) for r in group], orientation="horizontal", showfliers=False)
        ax.set_yticks(range(1, len(group) + 1), ["\n".join(textwrap.wrap(r.short, WRAP)) for r in group],
                      fontsize="small")
        ax.invert_yaxis()  # the first run on top, as in the table
        ax.set_title(task)
        ax.set_xlabel("reward")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_reward_vs_nfe(runs: list[Labelled], path: Path) -> None:
    """Median reward against NFE per sample, one panel per domain/reward and one line per curve (a sampler, and
    what else differs beside its width) through the mean over seeds (M or N grows along it); each run is a dot.
    One legend below the panels: a curve has the same colour in every panel."""
    groups = by_task(runs)
    curves = sorted({r.curve for r in runs})
    colours = {name: plt.get_cmap("tab20" if len(curves) > 10 else "tab10")(i % 20) for i, name in enumerate(curves)}
    fig, axes = panels(len(groups), 5, 4)
    for ax, (task, group) in zip(axes, groups.items()):
        points: dict[str, dict[float, list[float]]] = {}
        for r in group:
            points.setdefault(r.curve, {}).setdefault(r.summary["nfe_per_sample"], []).append(
                r.summary["reward"]["median"])
        for name, medians in sorted(points.items()):
            nfes = sorted(medians)
            ax.plot(nfes, [sum(medians[n]) / len(medians[n]) for n in nfes], marker="o", color=colours[name])
            ax.scatter([n for n in nfes for _ in medians[n]], [m for n in nfes for m in medians[n]],
                       color=colours[name], alpha=0.4, s=12)
        ax.set_xscale("log")
        ax.set_xlabel("network evaluations per sample")
        ax.set_ylabel("median reward")
        ax.set_title(task)
    handles = [plt.Line2D([], [], color=colours[name], marker="o") for name in curves]
    fig.tight_layout()
    fig.legend(handles, ["\n".join(textwrap.wrap(name, WRAP)) for name in curves], loc="upper center",
               bbox_to_anchor=(0.5, 0), ncols=min(PANELS_PER_ROW, len(curves)), fontsize="small")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


LABEL_WIDTH = 24  # the run column's least width in a terminal table; longer labels wrap


def console_table(title: str, columns: tuple[str, ...], rows: list[list[str]], console: Console) -> Table:
    """The table for a terminal `console.width` wide: the columns with a value in some row, dropped from the right
    until every cell shows whole (report.md has them all, the caption names them); headers wrapped."""
    keep = [i for i, name in enumerate(columns) if i == 0 or any(r[i] != "-" for r in rows)]
    while True:
        table = Table(title=title, box=box.SIMPLE_HEAD, show_lines=True, show_edge=False, collapse_padding=True)
        for i in keep:
            cells = max((len(r[i]) for r in rows), default=0)
            words = max(len(word) for word in columns[i].split())
            header = columns[i] if i == 0 else "\n".join(textwrap.wrap(columns[i], max(cells, words)))
            table.add_column(header, overflow="fold", no_wrap=i > 0, justify="left" if i == 0 else "right",
                             min_width=min(cells, LABEL_WIDTH) if i == 0 else None)
        for r in rows:
            table.add_row(*(r[i] for i in keep))
        fits = Measurement.get(console, console.options.update_width(1 << 16), table).minimum <= console.width
        if fits or len(keep) <= 2:  # the run and its reward median at the least
            dropped = [columns[i] for i in range(len(columns)) if i not in keep and any(r[i] != "-" for r in rows)]
            if dropped:
                table.caption = f"report.md also has: {', '.join(dropped)}"
            return table
        keep.pop()


def report(dirs: list[Path], out: Path) -> Path:
    """Write report.md, reward_distributions.png and reward_vs_nfe.png into `out` (with reward=pareto runs: a
    hypervolume column and fronts.png); print a rich table."""
    runs, shared = labelled(load_runs(dirs))
    natural = natural_columns([r.summary for r in runs])
    columns = (*COLUMNS, *(f.column + SHOWN.get(f.real, "") for f in natural))
    front = any("pareto" in r.summary for r in runs)
    if front:
        columns = (*columns[:3], "hypervolume", *columns[3:])
    rows = [row(r, natural, front) for r in runs]
    warned = [(r.label, w) for r in runs for w in r.summary.get("warnings", [])]
    title = f"{len(runs)} run{'s' if len(runs) > 1 else ''}" + (f" of {shared}" if shared else "")
    out.mkdir(parents=True, exist_ok=True)
    lines = [title, "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    if warned:
        lines += ["", "Warnings:", *(f"- {name}: {w}" for name, w in warned)]
    front_lines = fronts(runs, out / "fronts.png")
    lines += ["", *front_lines] if front_lines else []
    (out / "report.md").write_text("\n".join(lines) + "\n")
    plot_distributions(runs, out / "reward_distributions.png")
    plot_reward_vs_nfe(runs, out / "reward_vs_nfe.png")
    console = Console()
    console.print(console_table(title, columns, rows, console))
    for name, w in warned:
        console.print(f"[yellow]warning[/] {name}: {w}", highlight=False)
    print(f"wrote {out / 'report.md'}, reward_distributions.png, reward_vs_nfe.png" + ", fronts.png" * front)
    return out
