"""Layering: no import runs back up (base <- models, rewards, domains, value <- samplers <- app <- cli), no
capability is probed by name (hasattr/getattr) in samplers or the app, and no sampler names a model family."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from svdd_cli import core
from svdd_cli.models.gaussian import GaussianDiffusion
from svdd_cli.models.kernels import KERNELS
from svdd_cli.models.latent import LatentDiffusion
from svdd_cli.models.masked import MaskedDiffusion

PACKAGE = Path(__file__).resolve().parent.parent / "svdd_cli"
LAYERS = [  # lowest first; a module may import its own layer and the ones below
    ("base", r"svdd_cli\.(errors|settings|core|assets|checkpoint|compose|outputs|oracle_calls|fronts)$"),
    ("library", r"svdd_cli\.(models|rewards|domains|value|naturalness|science|constraints)(\..+)?$"),
    ("samplers", r"svdd_cli\.samplers(\..+)?$"),
    ("app", r"svdd_cli\.(api|result|writer|run|train_value|training|summary|plots|report|merge)$"),
    ("cli", r"svdd_cli(\.cli)?$"),
]


def layer(module: str) -> int:
    return next(k for k, (_, pattern) in enumerate(LAYERS) if re.match(pattern, module))


def modules() -> dict[str, Path]:
    return {".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): p
            for p in PACKAGE.rglob("*.py")}


NAMES = set(modules())


def imports(path: Path, type_checking: bool = True) -> set[str]:
    """The svdd_cli modules a file imports, at module level or in functions; `type_checking=False` leaves out those
    under `if TYPE_CHECKING:` (annotations only, never imported at run time)."""
    tree = ast.parse(path.read_text())
    skipped = set() if type_checking else {id(inner) for node in ast.walk(tree) if isinstance(node, ast.If)
                                           and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
                                           for statement in node.body for inner in ast.walk(statement)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("svdd_cli"):
            found |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in NAMES else node.module
                      for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("svdd_cli")}
    return found


def test_no_import_runs_back_up():
    upward = [f"{name} ({LAYERS[layer(name)][0]}) imports {target} ({LAYERS[layer(target)][0]})"
              for name, path in modules().items() for target in imports(path) if layer(target) > layer(name)]
    assert upward == []


def import_cycles() -> list[tuple[str, ...]]:
    """Each set of svdd_cli modules that import each other (directly or through others) at run time, sorted."""
    graph = {name: imports(path, type_checking=False) & NAMES - {name} for name, path in modules().items()}

    def reachable(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for target in graph[todo.pop()] - seen:
                seen.add(target)
                todo.append(target)
        return seen

    reach = {name: reachable(name) for name in graph}
    return sorted({tuple(sorted({name} | {other for other in reach[name] if name in reach[other]}))
                   for name in graph if name in reach[name]})


def test_no_two_modules_import_each_other():
    assert import_cycles() == []


def test_no_sampler_imports_another_sampler():
    """A sampler module is one a configs/sampler/<name>.yaml targets; shared pieces live in modules of their own."""
    configs = PACKAGE.parent / "configs" / "sampler"
    samplers = {re.search(r"_target_: (svdd_cli\.samplers\.\w+)\.", p.read_text())[1] for p in configs.glob("*.yaml")}
    crossing = [f"{n} imports {t}" for n in samplers for t in imports(modules()[n]) if t in samplers and t != n]
    assert len(samplers) >= 10 and crossing == []


def test_no_capability_probes_in_samplers_or_the_app():
    probes = re.compile(r"\bhasattr\(|\bgetattr\([^,]+,\s*[\"']")  # an attribute asked for by its name
    found = [f"{n}:{i + 1}" for n, p in modules().items()
             if n.startswith("svdd_cli.samplers") or layer(n) >= 3
             for i, line in enumerate(p.read_text().splitlines()) if probes.search(line)]
    assert found == []


def test_science_is_a_leaf_that_rewards_and_naturalness_stand_on_instead_of_domains():
    """svdd_cli.science imports nothing of svdd_cli but errors; rewards and the shared naturalness machinery import
    no domain: what they share with a domain (RDKit helpers, RNA folding, one-hot encoding, ...) lives in science."""
    science = [n for n in modules() if n.startswith("svdd_cli.science.")]
    leaf = [f"{n} imports {t}" for n in science for t in imports(modules()[n])
            if not t.startswith("svdd_cli.science") and t != "svdd_cli.errors"]
    on_domains = [f"{n} imports {t}" for n, p in modules().items()
                  if n.startswith(("svdd_cli.rewards", "svdd_cli.naturalness"))
                  for t in imports(p) if t.startswith("svdd_cli.domains")]
    assert len(science) >= 5 and leaf == [] and on_domains == []


def test_a_domains_figures_are_named_only_in_its_own_package():
    """A new domain is its package plus its configs: every domain package declares the figures its runs lead with
    (naturalness.headline.Figure), and what reads runs (the modules and scripts that read summary.json: svdd report,
    merge, frontier, tradeoff, ...) learns them and their real values from the run's summary, naming none itself."""
    packages = [p for p in (PACKAGE / "domains").iterdir() if (p / "__init__.py").is_file()]
    declared: dict[str, str] = {}  # figure key -> the domain package that declares it
    for package in packages:
        for node in (n for path in package.glob("*.py") for n in ast.walk(ast.parse(path.read_text()))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Figure":
                declared[node.args[0].value] = package.name
    readers = [p for p in [*modules().values(), *(PACKAGE.parent / "scripts").glob("*.py")]
               if "summary.json" in p.read_text() and PACKAGE / "domains" not in p.parents]
    named = [f"{p.relative_to(PACKAGE.parent)} names {node.value!r} ({declared[node.value]})" for p in readers
             for node in ast.walk(ast.parse(p.read_text()))
             if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in declared]
    assert len(packages) >= 5 and set(declared.values()) == {p.name for p in packages}
    assert len(readers) >= 5 and named == []


# What only one model family has: its classes and capabilities, its attributes, its schedulers and the rewards
# only it can differentiate. A sampler asks the model (core.DiffusionModel.noise_to, core.Guided, core.PositionNoise).
FAMILY_NAMES = {
    "svdd_cli.models", "MaskedKernel", "MaskedDiffusion", "MaskedLMDenoiser", "GaussianDiffusion", "GaussianKernel",
    "KernelDiffusion", "LatentDiffusion", "GradientModel", "CountedMaskedModel", "CountedGradientModel", "mask_id",
    "vocab", "transition_log_probs", "shifted_log_probs", "predict_with_grad", "decode_images", "diffusers",
    "DDPMScheduler", "DDIMScheduler", "ProbsReward", "ImageReward", "score_probs", "score_images",
}


def code_names(path: Path) -> set[str]:
    """Every name, attribute and imported module or name the code of a file uses (docstrings and comments aside)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.Import):
            found |= {".".join(a.name.split(".")[:k]) for a in node.names for k in (1, 2, 3)}
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            found |= {a.name for a in node.names} | {".".join(module.split(".")[:k]) for k in (1, 2, 3)}
    return found


def family_names(folder: Path) -> list[str]:
    return [f"{p.name}: {name}" for p in sorted(folder.rglob("*.py")) for name in sorted(code_names(p) & FAMILY_NAMES)]


def test_no_sampler_names_a_model_family():
    assert family_names(PACKAGE / "samplers") == []


MODEL_PROTOCOLS = [core.DiffusionModel, core.MaskedKernel, core.PositionNoise, core.Guided, core.GradientModel,
                   core.Encoder]


def protocol_methods(protocol: type) -> list[str]:
    return [name for name, value in vars(protocol).items() if inspect.isfunction(value) and not name.startswith("_")]


def parameters(function: object) -> list[tuple[str, object]]:
    """(name, default) of each parameter after self."""
    return [(p.name, p.default) for p in inspect.signature(function).parameters.values()][1:]


@pytest.mark.parametrize("model", [MaskedDiffusion, GaussianDiffusion, LatentDiffusion, core.CountedModel])
def test_models_take_the_parameters_their_protocols_declare(model):
    """Every method of DiffusionModel, and of each capability whose methods the class has, takes the protocol's
    parameters with its defaults (callers write to the protocol: log_likelihood(x0, generator, draws=...))."""
    claimed = [p for p in MODEL_PROTOCOLS if p is core.DiffusionModel
               or all(hasattr(model, name) for name in protocol_methods(p))]
    drift = [f"{p.__name__}.{name}: {parameters(vars(p)[name])} vs {parameters(getattr(model, name))}"
             for p in claimed for name in protocol_methods(p)
             if parameters(vars(p)[name]) != parameters(getattr(model, name))]
    assert drift == [] and (len(claimed) > 1 or model is core.CountedModel)


def name_strings(path: Path) -> list[str]:
    """The string constants of a file that name a masked kernel or a diffusers scheduler, but a kernel class's own
    `name = "..."` and the default `kernel="mdlm"` of the functions that take a name to resolve."""
    tree = ast.parse(path.read_text())
    own = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Assign)
           and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["name"]}
    own |= {id(default) for node in ast.walk(tree) if isinstance(node, ast.arguments)
            for default in [*node.defaults, *node.kw_defaults]}
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and id(node) not in own
            and isinstance(node.value, str) and (node.value in KERNELS or re.fullmatch(r"\w+Scheduler", node.value))]


def test_kernels_and_schedulers_are_objects_not_names_the_models_compare():
    """model.kernel=<name> is resolved once from kernels.KERNELS, a scheduler by its class (gaussian.STATELESS)."""
    found = [f"{p.name}: {value}" for p in sorted((PACKAGE / "models").glob("*.py")) for value in name_strings(p)]
    assert found == []
