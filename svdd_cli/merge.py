"""`svdd merge DIR...`: join the shards of a sharded run (num_shards > 1) into one run folder.

Shards draw disjoint global batches, each seeded by (seed, batch index), so the merged samples.csv
is the one a single run with the same settings would write; counters are summed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from hydra.utils import instantiate

from svdd_cli.core import Counters
from svdd_cli.errors import UserError
from svdd_cli.fronts import Objectives, front_summary, with_ranks
from svdd_cli.outputs import write_atomic, write_csv
from svdd_cli.summary import make_plots, summarise


def find_runs(dirs: list[Path]) -> list[Path]:
    """Run folders (holding state.json) under the given folders."""
    missing = [d for d in dirs if not d.is_dir()]
    if missing:
        raise UserError(f"no such folder: {missing[0]}")
    return sorted({p.parent for d in dirs for p in d.rglob("state.json")})


def merge_shards(folders: list[Path], out: Path) -> Path:
    """Merge the shard folders of ONE sharded run into `out`; returns out."""
    states = {f: json.loads((f / "state.json").read_text()) for f in folders}
    settings = [dict(s["settings"], shard=0) for s in states.values()]
    if any(s != settings[0] for s in settings):
        raise UserError("these folders are shards of different runs (their settings differ beyond `shard`)")
    num_shards = settings[0]["num_shards"]
    by_shard = {s["settings"]["shard"]: f for f, s in states.items()}
    if sorted(by_shard) != list(range(num_shards)) or any(s["reference"] is None for s in states.values()):
        raise UserError(f"need all {num_shards} finished shards, found finished shards "
                        f"{sorted(k for k, f in by_shard.items() if states[f]['reference'] is not None)}")
    rows: list[dict[str, Any]] = []
    counters = Counters()
    for f in folders:
        rows += [json.loads(line) for line in (f / "samples.jsonl").read_text().splitlines()]
        for key, value in states[f]["counters"].items():
            setattr(counters, key, getattr(counters, key) + value)
    for r in rows:
        r.pop("_batch")
    rows.sort(key=lambda r: r["id"])
    out.mkdir(parents=True, exist_ok=True)
    for sub in (d for f in folders for d in f.iterdir() if d.is_dir() and not d.name.startswith(".")):
        shutil.copytree(sub, out / sub.name, dirs_exist_ok=True)  # per-sample files, e.g. images/<id>.png
    domain = instantiate(settings[0]["domain"])
    first = json.loads((by_shard[0] / "summary.json").read_text())
    front = None
    if "pareto" in first:  # reward=pareto: the merged front and its ranks (no reference samples' values kept)
        objectives = Objectives.from_record(first["pareto"]["objectives"])
        front, ranks = front_summary(objectives, rows)
        rows = with_ranks(rows, ranks, objectives)
    write_csv(out / "samples.csv", rows)
    domain.write_native(out, rows)
    reference = states[by_shard[0]]["reference"]
    summary = summarise(dict(settings[0], num_shards=1), first["choices"], domain, rows, reference, counters,
                        first["device"], "finished", first["oracle"])
    if front is not None:
        summary["pareto"] = front
    summary["merged_from"] = [str(by_shard[k]) for k in range(num_shards)]
    write_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    make_plots(out, rows, reference, summary)
    return out


def merge(dirs: list[Path]) -> list[Path]:
    """Merge every sharded run found under `dirs` into <parent>/merged-<k>."""
    groups: dict[str, list[Path]] = {}
    for f in find_runs(dirs):
        settings = json.loads((f / "state.json").read_text())["settings"]
        if settings["num_shards"] > 1:
            groups.setdefault(json.dumps(dict(settings, shard=0), sort_keys=True), []).append(f)
    if not groups:
        raise UserError(f"no sharded runs (num_shards > 1) under {', '.join(map(str, dirs))}")
    merged = []
    for k, folders in enumerate(groups.values()):
        merged.append(merge_shards(folders, folders[0].parent / f"merged-{k}"))
        print(f"merged {len(folders)} shards -> {merged[-1]}")
    return merged

