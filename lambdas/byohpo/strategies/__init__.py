"""Strategy registry: built-ins, ``register_strategy``, the ``byohpo.strategies`` entry-point group,
and ``"pkg.module:Class"`` names.

Built-ins are imported lazily so that a Lambda proposing with ``random`` never imports inspyred or the
Gaussian-process code.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
from collections.abc import Mapping, Sequence
from typing import Any

from byohpo.errors import FieldError, UnknownStrategyError, ValidationError
from byohpo.space import SearchSpace
from byohpo.strategies.base import Strategy, to_pascal, to_snake
from byohpo.trials import Objective

ENTRY_POINT_GROUP = "byohpo.strategies"

# name -> "module:Class", in the order `byohpo strategies` lists them.
BUILTIN: dict[str, str] = {
    "random": "byohpo.strategies.random_search:RandomSearch",
    "grid": "byohpo.strategies.grid:GridSearch",
    "sobol": "byohpo.strategies.sobol:SobolSearch",
    "bayesian": "byohpo.strategies.bayesian:BayesianOptimization",
    "ga": "byohpo.strategies.ga:GeneticAlgorithm",
    "pso": "byohpo.strategies.pso:ParticleSwarm",
    "de": "byohpo.strategies.de:DifferentialEvolution",
    "es": "byohpo.strategies.es:EvolutionStrategy",
    "sa": "byohpo.strategies.sa:SimulatedAnnealing",
    "eda": "byohpo.strategies.eda:EstimationOfDistribution",
    "acs": "byohpo.strategies.acs:AntColony",
    "paes": "byohpo.strategies.paes:PAES",
    "nsga2": "byohpo.strategies.nsga2:NSGA2",
}
# SageMaker's own tuner, run as a tuning job by the state machine (AWS only): byohpo.strategies.amt.
BUILTIN.update({
    "amt-bayesian": "byohpo.strategies.amt:AmtBayesian",
    "amt-random": "byohpo.strategies.amt:AmtRandom",
    "amt-grid": "byohpo.strategies.amt:AmtGrid",
    "amt-hyperband": "byohpo.strategies.amt:AmtHyperband",
})

_registered: dict[str, type] = {}


def register_strategy(name: str, cls: type) -> None:
    """Make ``cls`` available as ``Strategy: name`` in this process (tests, notebooks).

    For a deployed stack, prefer the ``byohpo.strategies`` entry-point group or a ``"pkg.module:Class"``
    name, which every process (every Lambda invocation) resolves the same way.
    """
    if not isinstance(name, str) or not name or ":" in name:
        raise ValueError(f"strategy name must be a non-empty string without ':', not {name!r}")
    if name in BUILTIN:
        raise ValueError(f"{name!r} is a built-in strategy; choose another name")
    if not callable(getattr(cls, "propose", None)):
        raise TypeError(f"{cls!r} has no propose(history, n) method")
    _registered[name] = cls


def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def strategy_names() -> list[str]:
    """Every strategy name this process can resolve (``"pkg.module:Class"`` names aside)."""
    names = list(BUILTIN)
    names += sorted(n for n in _registered if n not in names)
    names += sorted(n for n in _entry_points() if n not in names)
    return names


def _import(target: str) -> type:
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    obj: Any = module
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def strategy_class(name: str) -> type:
    """The class behind a strategy name, or :class:`UnknownStrategyError` naming the field."""
    if not isinstance(name, str) or not name:
        raise UnknownStrategyError("must name a strategy", "Strategy")
    try:
        if name in _registered:
            return _registered[name]
        if name in BUILTIN:
            return _import(BUILTIN[name])
        eps = _entry_points()
        if name in eps:
            return eps[name].load()
        if ":" in name:
            cls = _import(name)
            if not callable(getattr(cls, "propose", None)):
                raise UnknownStrategyError(f"{name!r} has no propose(history, n) method", "Strategy")
            return cls
    except (ImportError, AttributeError) as exc:
        raise UnknownStrategyError(f"cannot load strategy {name!r}: {exc}", "Strategy") from exc
    raise UnknownStrategyError(
        f"unknown strategy {name!r}; choose one of {', '.join(strategy_names())} "
        "or give a 'package.module:Class' name", "Strategy")


def strategy_options(cls: type) -> dict[str, Any]:
    """The keyword options a strategy class accepts, with their defaults (``inspect.Parameter.empty``
    when required)."""
    params = inspect.signature(cls.__init__).parameters
    return {n: p.default for n, p in params.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and n != "seed"}


#: What ``StrategyConfig.Seed`` is, for every strategy (it is the constructor's ``seed``).
SEED_DOC = "the random seed (default: the request's RandomSeed, else a number made from the job name)"


def option_docs(cls: type) -> dict[str, str]:
    """Each option's description from the ``Args:`` section of the class docstring (Google style, as
    the built-ins document their options), as one line without reST markup; options without one are
    left out."""
    lines = (inspect.getdoc(cls) or "").splitlines()
    out: dict[str, str] = {}
    current: str | None = None
    indent = None
    inside = False
    for line in lines:
        stripped = line.strip()
        if stripped == "Args:":
            inside, current, indent = True, None, None
            continue
        if not inside:
            continue
        if not stripped:
            current = None
            continue
        depth = len(line) - len(line.lstrip())
        if indent is None:
            indent = depth
        if depth < indent:
            inside = False
            continue
        name, colon, text = stripped.partition(":")
        if depth == indent and colon and name.isidentifier():
            current = name
            out[name] = text.strip()
        elif current is not None and depth > indent:
            out[current] += " " + stripped
    return {k: " ".join(v.replace("``", "").split()) for k, v in out.items()}


def make_strategy(name: str, space: SearchSpace, objectives: Sequence[Objective], seed: int,
                  options: Mapping[str, Any] | None = None) -> Strategy:
    """Build the strategy ``name`` with ``StrategyConfig``-style options (``PopulationSize`` or
    ``population_size``). Unknown options are refused with their name, never silently dropped."""
    cls = strategy_class(name)
    accepted = strategy_options(cls)
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD
                    for p in inspect.signature(cls.__init__).parameters.values())
    kwargs: dict[str, Any] = {}
    errors: list[FieldError] = []
    for key, value in (options or {}).items():
        snake = to_snake(str(key))
        if snake == "seed":
            continue  # the seed is passed on its own (StrategyConfig.Seed overrides RandomSeed upstream)
        if snake not in accepted and not takes_any:
            known = ", ".join(["Seed", *(to_pascal(k) for k in accepted)])
            errors.append(FieldError(f"StrategyConfig.{key}", f"unknown option for strategy {name!r} "
                                                              f"(options: {known})"))
        elif snake in kwargs:
            errors.append(FieldError(f"StrategyConfig.{key}", "given twice"))
        else:
            kwargs[snake] = value
    if errors:
        raise ValidationError(errors)
    try:
        return cls(space, list(objectives), seed=seed, **kwargs)
    except TypeError as exc:
        raise ValidationError(f"cannot configure strategy {name!r}: {exc}", "StrategyConfig") from exc


def describe(name: str) -> str:
    """One line about a strategy, from its ``description`` or docstring."""
    cls = strategy_class(name)
    text = getattr(cls, "description", "") or (inspect.getdoc(cls) or "").split("\n", 1)[0]
    return text.strip()


__all__ = [
    "BUILTIN",
    "ENTRY_POINT_GROUP",
    "SEED_DOC",
    "Strategy",
    "describe",
    "make_strategy",
    "option_docs",
    "register_strategy",
    "strategy_class",
    "strategy_names",
    "strategy_options",
]
