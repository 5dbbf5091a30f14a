"""Configs -> objects: compose the shipped YAMLs, instantiate a `_target_` node, and turn a user's mistake inside
it (a wrong type, a bad value, a missing file) into a one-line UserError naming the setting."""

from __future__ import annotations

import functools
import importlib
import inspect
import re
import types
import typing
from typing import Any

from omegaconf import DictConfig, OmegaConf

from svdd_cli.errors import UserError

KINDS = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def compose_config(overrides: list[str], config_name: str = "config") -> DictConfig:
    """The config `svdd run <overrides>` would compose: inside a running `svdd` app with its search path (the
    user's config folders included), elsewhere from the shipped configs."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from svdd_cli.assets import asset_root, register_resolver

    register_resolver()
    if GlobalHydra.instance().is_initialized():
        return compose(config_name=config_name, overrides=overrides)
    with initialize_config_dir(config_dir=str(asset_root() / "configs"), version_base="1.3"):
        return compose(config_name=config_name, overrides=overrides)


def instantiate_part(node: Any, where: str) -> Any:
    """hydra's instantiate(node), its settings checked against the target's type hints first; a user mistake
    inside becomes a one-line UserError naming `where`."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    check_types(node, where)
    try:
        return instantiate(node)
    except InstantiationException as err:
        cause = err.__cause__
        if isinstance(cause, UserError):
            raise cause from None
        if isinstance(cause, (ValueError, TypeError)):
            raise UserError(f"{where}: {cause}") from None
        if cause is None or isinstance(cause, ImportError):  # a `_target_` that does not exist
            named = re.search(r"Error locating target '([^']+)'", str(err))
            target = named[1] if named else node.get("_target_") if isinstance(node, (dict, DictConfig)) else None
            try:
                locate(str(target))
                why = "check the module path; your own modules must be on PYTHONPATH"
            except Exception as missing:  # the import's own reason, e.g. a module of a broken install
                why = f"{type(missing).__name__}: {missing}"
            raise UserError(f"{where}: _target_ {target} cannot be imported ({why})") from None
        raise


def reward_nodes(reward: Any) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, float]]:
    """A reward config split into (the reward itself, its held-out `evaluation` (reported, never steers), its
    `natural` terms: reward name -> weight (steer, never reported as the reward)), resolved."""
    node = OmegaConf.to_container(reward, resolve=True) if isinstance(reward, DictConfig) else dict(reward)
    return node, node.pop("evaluation", None), node.pop("natural", None) or {}


def plain(function: Any) -> Any:
    """A `_partial_: true` callable without hydra's check of its target on every call (~0.5 ms: most of the time of
    decoding a molecule); the target was checked once, when the config was instantiated."""
    if isinstance(function, functools.partial) and type(function) is not functools.partial:
        return functools.partial(function.func, *function.args, **function.keywords)
    return function


def check_types(node: Any, where: str) -> None:
    """Each scalar setting of a `_target_` node (and of its nested nodes) must fit the target's type hint:
    `model.num_steps=ten` -> "model.num_steps='ten' must be an integer"."""
    values = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node
    if not isinstance(values, dict):
        return
    hints = target_hints(values.get("_target_"))
    for key, value in values.items():
        if isinstance(value, dict):
            check_types(value, f"{where}.{key}")
        elif key in hints and not fits(value, hints[key]):
            raise UserError(f"{where}.{key}={value!r} must be {describe(hints[key])}")


def target_hints(target: Any) -> dict[str, Any]:
    """The type hints of a `_target_`'s parameters ({} when it cannot be resolved)."""
    if not isinstance(target, str):
        return {}
    try:
        obj = locate(target)
        function = obj.__init__ if inspect.isclass(obj) else obj
        hints = typing.get_type_hints(function)
    except Exception:  # an unresolvable target or hint: instantiate() reports it
        return {}
    return {k: v for k, v in hints.items() if k != "return"}


def locate(target: str) -> Any:
    """The object a dotted `_target_` names (module attributes, classes' classmethods); ImportError if none."""
    parts = target.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(f"no module in {target}")


def fits(value: Any, hint: Any) -> bool:
    """Whether a config value fits a hint made of int / float / bool / str / None (other hints: anything)."""
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    if not all(o in KINDS or o is type(None) for o in options):
        return True  # paths, tensors, modules, containers: not ours to judge
    if value is None:
        return type(None) in options
    if isinstance(value, bool):
        return bool in options
    if isinstance(value, int):
        return int in options or float in options
    return type(value) in options


def describe(hint: Any) -> str:
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    kinds = [KINDS[o] for o in options if o in KINDS]
    return " or ".join(kinds) + (" (or null)" if type(None) in options else "")
