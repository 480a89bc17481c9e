"""The tuning request: the body of SageMaker's ``CreateHyperParameterTuningJob``, validated and parsed.

An Automatic Model Tuning request works as it is, with ``Strategy`` changed to a byohpo strategy (or
left as SageMaker's ``Random``, ``Grid`` or ``Bayesian``, which name our built-ins of the same kind).
byohpo's extensions:

* ``HyperParameterTuningJobConfig.Strategy``: any registered strategy name or ``"pkg.module:Class"``;
* ``HyperParameterTuningJobConfig.StrategyConfig``: the strategy's options, plus ``Seed``;
* ``HyperParameterTuningJobConfig.Objectives``: several objectives (PAES, NSGA-II);
* ``TuningJobCompletionCriteria.MaxFailedTrainingJobs``: stop after this many failed trials;
* ``TrainingJobDefinition.Local.EntryPoint``: the script the local engine runs.

Validation has two passes, and every problem of both is reported in one :class:`ValidationError`:
a structural pass walks the JSON Schema built from botocore's SageMaker model (field names, types,
enums, lengths, patterns), then byohpo's own rules (the search space, strategy options, metrics, ...).
The same schema, with the extensions, is published as ``byohpo/schema/request.schema.json``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from byohpo.errors import FieldError, UnknownStrategyError, ValidationError
from byohpo.job_tags import too_many_tags
from byohpo.schema.build import SCHEMA_ID, build_schema, schema  # noqa: F401 - the public entry points
from byohpo.schema.walk import check_structure, json_type
from byohpo.space import Continuous, SearchSpace
from byohpo.stopping import StoppingRules
from byohpo.strategies import make_strategy, strategy_class
from byohpo.strategies.base import Strategy, to_snake
from byohpo.trials import Objective

CONFIG = "HyperParameterTuningJobConfig"
# SageMaker's own strategy names, accepted so that an AMT request works unchanged.
SAGEMAKER_STRATEGIES = {"Random": "random", "Grid": "grid", "Bayesian": "bayesian"}
_NAME_RE = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}")
# Keys of a training job definition that the request absorbs into the space and the objectives.
_TUNING_ONLY_KEYS = ("DefinitionName", "TuningObjective", "HyperParameterRanges")


# -- the parsed request -----------------------------------------------------------------------------

@dataclass(frozen=True)
class TuningRequest:
    """A valid tuning request.

    ``training`` is the one training job definition (from ``TrainingJobDefinition`` or the single entry
    of ``TrainingJobDefinitions``) without the keys absorbed into ``space`` and ``objectives``
    (``DefinitionName``, ``TuningObjective``, ``HyperParameterRanges``); ``training_path`` is where it
    was found, for error messages. ``strategy`` is the resolved name (``Random`` becomes ``random``).
    """

    name: str
    strategy: str
    strategy_options: dict[str, Any]
    seed: int
    objectives: list[Objective]
    space: SearchSpace
    max_parallel: int
    stopping: StoppingRules
    early_stopping_type: str
    warm_start_parents: list[str]
    warm_start_type: str | None
    tags: list[dict[str, str]]
    training: dict[str, Any]
    training_path: str
    metric_definitions: list[tuple[str, str]]
    entry_point: str | None
    raw: dict[str, Any] = field(repr=False)

    def fingerprint(self) -> str:
        """sha256 of what must not change when a run is resumed: space, objectives, strategy, its
        options and the seed. Budget, parallelism and stopping rules may change."""
        payload = {
            "space": {"ParameterRanges": self.space.to_sagemaker(),
                      "StaticHyperParameters": self.space.static},
            "objectives": [[o.metric, o.direction] for o in self.objectives],
            "strategy": self.strategy,
            # Both spellings reach the same constructor argument, so they are the same run.
            "options": {to_snake(str(k)): v for k, v in self.strategy_options.items()},
            "seed": self.seed,
        }
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(text.encode("ascii")).hexdigest()

    def build_strategy(self) -> Strategy:
        """The configured strategy (already known to build: parsing constructed it once)."""
        return make_strategy(self.strategy, self.space, self.objectives, self.seed, self.strategy_options)


def load_request(path: str | Path) -> TuningRequest:
    """Read and parse a request file; unreadable files and bad JSON are ValidationErrors too."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ValidationError(f"cannot read {path}: not UTF-8 text ({exc.reason})") from exc
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: "
                              f"{exc.msg}") from exc
    return parse_request(raw)


def check_local(request: TuningRequest, base_dir: str | Path) -> Path:
    """The local entry point as an existing file (relative paths from ``base_dir``), or a
    ValidationError naming ``Local.EntryPoint``."""
    path = f"{request.training_path}.Local.EntryPoint"
    if not request.entry_point:
        raise ValidationError("is required to run locally: the training script to start", path)
    script = Path(request.entry_point)
    if not script.is_absolute():
        script = Path(base_dir) / script
    if not script.is_file():
        raise ValidationError(f"{str(script)!r} is not a file", path)
    return script


# -- parsing ----------------------------------------------------------------------------------------

def parse_request(raw: dict[str, Any]) -> TuningRequest:
    """Validate ``raw`` and return the parsed request.

    Raises :class:`ValidationError` with every problem found, each path from the request's root
    (``HyperParameterTuningJobConfig.ResourceLimits.MaxParallelTrainingJobs``);
    :class:`UnknownStrategyError` (a ValidationError) when one of them is an unknown strategy.
    """
    if not isinstance(raw, Mapping):
        raise ValidationError(f"the request must be a JSON object, not {json_type(raw)}")
    structural = check_structure(raw)
    parser = _Parser(raw)
    request = parser.parse()
    errors = _merge(structural, parser.errors)
    if errors:
        raise (UnknownStrategyError if parser.unknown_strategy else ValidationError)(errors)
    if request is None:  # every rule that returns nothing reports why; this is a safety net
        raise ValidationError("the request is not valid")
    return request


def _resolve_strategy(requested: str) -> str:
    """SageMaker's Random, Grid and Bayesian name our built-ins, unless a strategy is registered under
    that very name."""
    if requested not in SAGEMAKER_STRATEGIES:
        return requested
    try:
        strategy_class(requested)
        return requested
    except UnknownStrategyError:
        return SAGEMAKER_STRATEGIES[requested]


def _merge(structural: list[FieldError], semantic: list[FieldError]) -> list[FieldError]:
    """One list without repeats: our message wins over the schema's at the same field, and a field
    inside one the schema already refused (a wrong type, say) is not reported again."""
    semantic_paths = {e.path for e in semantic}
    out = [e for e in structural if e.path not in semantic_paths]
    out += [e for e in semantic if not any(_inside(e.path, s.path) for s in structural)]
    return list(dict.fromkeys(out))


def _inside(path: str, parent: str) -> bool:
    return bool(parent) and (path.startswith(parent + ".") or path.startswith(parent + "["))


def _obj(value: Any) -> Mapping[str, Any]:
    # The schema pass reports wrong types; the rules below then see an empty object.
    return value if isinstance(value, Mapping) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class _Parser:
    """byohpo's rules over a request of any shape; appends to ``errors`` and never raises."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        self.cfg = _obj(raw.get(CONFIG))
        self.errors: list[FieldError] = []
        self.unknown_strategy = False

    def error(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path, message))

    def extend(self, exc: ValidationError, prefix: str) -> None:
        self.errors.extend(exc.prefixed(prefix).errors if prefix else exc.errors)

    def parse(self) -> TuningRequest | None:
        name = self.name()
        definition, tpath = self.definition()
        space = self.space(definition, tpath)
        objectives, objective_paths = self.objectives(definition, tpath)
        metric_definitions = self.metrics(definition, tpath, objectives, objective_paths)
        strategy, options, seed = self.strategy(name, space, objectives, objective_paths)
        stopping, max_parallel = self.limits()
        parents, warm_start_type = self.warm_start(name)
        if self.raw.get("Autotune") is not None:
            self.error("Autotune", "is not supported: give the ranges in ParameterRanges")
        tags = self.raw.get("Tags")
        if isinstance(tags, list) and (problem := too_many_tags(tags)):
            self.error("Tags", problem)
        if self.errors or space is None or stopping is None or strategy is None or seed is None:
            return None
        local = _obj(definition.get("Local"))
        return TuningRequest(
            name=name, strategy=strategy, strategy_options=options, seed=seed,
            objectives=objectives, space=space, max_parallel=max_parallel or 1, stopping=stopping,
            early_stopping_type=self.cfg.get("TrainingJobEarlyStoppingType", "Off"),
            warm_start_parents=parents, warm_start_type=warm_start_type,
            tags=copy.deepcopy(list(self.raw.get("Tags") or [])),
            training={k: copy.deepcopy(v) for k, v in definition.items() if k not in _TUNING_ONLY_KEYS},
            training_path=tpath, metric_definitions=metric_definitions,
            entry_point=local.get("EntryPoint"), raw=copy.deepcopy(dict(self.raw)),
        )

    def name(self) -> str:
        name = self.raw.get("HyperParameterTuningJobName")
        if isinstance(name, str) and not _NAME_RE.fullmatch(name):
            self.error("HyperParameterTuningJobName",
                       f"{name!r} must be 1 to 32 letters, digits or hyphens, starting and ending with a "
                       "letter or digit (SageMaker's pattern ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31})")
        return name if isinstance(name, str) else ""

    def definition(self) -> tuple[Mapping[str, Any], str]:
        single = self.raw.get("TrainingJobDefinition")
        plural = self.raw.get("TrainingJobDefinitions")
        if single is not None and plural is not None:
            self.error("TrainingJobDefinitions", "give either TrainingJobDefinition or "
                                                 "TrainingJobDefinitions, not both")
        if single is None and isinstance(plural, list):
            if len(plural) > 1:
                self.error("TrainingJobDefinitions", "multi-algorithm tuning is not supported yet: give "
                                                     f"exactly one definition, not {len(plural)}")
            return _obj(plural[0] if plural else None), "TrainingJobDefinitions[0]"
        if single is None:
            if plural is None:
                self.error("TrainingJobDefinition", "is required (or TrainingJobDefinitions with one "
                                                    "definition)")
            return {}, "TrainingJobDefinitions[0]"
        return _obj(single), "TrainingJobDefinition"

    def space(self, definition: Mapping[str, Any], tpath: str) -> SearchSpace | None:
        in_config = self.cfg.get("ParameterRanges")
        in_definition = definition.get("HyperParameterRanges")
        if in_config is not None and in_definition is not None and in_config != in_definition:
            self.error(f"{tpath}.HyperParameterRanges",
                       f"differs from {CONFIG}.ParameterRanges: give the ranges in one place")
            return None
        if in_config is not None:
            ranges, rpath = in_config, f"{CONFIG}.ParameterRanges"
        elif in_definition is not None:
            ranges, rpath = in_definition, f"{tpath}.HyperParameterRanges"
        else:
            self.error(f"{CONFIG}.ParameterRanges", f"is required (or {tpath}.HyperParameterRanges)")
            return None
        try:
            return SearchSpace.from_sagemaker(ranges, definition.get("StaticHyperParameters"))
        except ValidationError as exc:
            for e in exc.errors:
                prefix = tpath if e.path.startswith("StaticHyperParameters") else rpath
                self.extend(ValidationError(e), prefix)
            return None

    def objectives(self, definition: Mapping[str, Any], tpath: str
                   ) -> tuple[list[Objective], list[str]]:
        """The objectives and, for each, the path of its entry. An empty list when any is invalid."""
        ours = self.cfg.get("Objectives")
        if ours is not None:
            entries = [(f"{CONFIG}.Objectives[{i}]", o) for i, o in enumerate(ours)] \
                if isinstance(ours, list) else []
        elif self.cfg.get("HyperParameterTuningJobObjective") is not None:
            entries = [(f"{CONFIG}.HyperParameterTuningJobObjective",
                        self.cfg["HyperParameterTuningJobObjective"])]
        elif definition.get("TuningObjective") is not None:
            entries = [(f"{tpath}.TuningObjective", definition["TuningObjective"])]
        else:
            self.error(f"{CONFIG}.HyperParameterTuningJobObjective",
                       f"is required (or {CONFIG}.Objectives, or {tpath}.TuningObjective)")
            return [], []
        objectives: list[Objective] = []
        seen: dict[str, str] = {}
        for path, entry in entries:
            entry = _obj(entry)
            metric, direction = entry.get("MetricName"), entry.get("Type")
            if not isinstance(metric, str) or direction not in ("Maximize", "Minimize"):
                continue  # missing, mistyped or not an enum value: the schema pass says which
            try:
                objective = Objective(metric, direction)
            except ValidationError as exc:
                self.extend(exc, path)
                continue
            if objective.metric in seen:
                self.error(f"{path}.MetricName", f"duplicate objective {objective.metric!r} "
                                                 f"(already at {seen[objective.metric]})")
                continue
            seen[objective.metric] = path
            objectives.append(objective)
        if len(objectives) != len(entries):
            return [], []
        return objectives, [path for path, _ in entries]

    def metrics(self, definition: Mapping[str, Any], tpath: str, objectives: list[Objective],
                objective_paths: list[str]) -> list[tuple[str, str]]:
        if not definition:
            return []
        apath = f"{tpath}.AlgorithmSpecification"
        algorithm = _obj(definition.get("AlgorithmSpecification"))
        if algorithm and not algorithm.get("TrainingImage") and not algorithm.get("AlgorithmName"):
            self.error(f"{apath}.TrainingImage", "is required (or AlgorithmName)")
        raw_defs = algorithm.get("MetricDefinitions")
        out: list[tuple[str, str]] = []
        for i, md in enumerate(raw_defs if isinstance(raw_defs, list) else []):
            md = _obj(md)
            name, regex = md.get("Name"), md.get("Regex")
            if not isinstance(name, str) or not isinstance(regex, str):
                continue
            path = f"{apath}.MetricDefinitions[{i}]"
            if name in dict(out):
                self.error(f"{path}.Name", f"duplicate metric {name!r}")
                continue
            try:
                compiled = re.compile(regex)
            except re.error as exc:
                self.error(f"{path}.Regex", f"does not compile: {exc}")
                continue
            if compiled.groups < 1:
                self.error(f"{path}.Regex", "needs a capture group around the value, e.g. "
                                            "'loss=([0-9.eE+-]+)'")
                continue
            out.append((name, regex))
        if algorithm.get("AlgorithmName"):
            return out  # a built-in algorithm defines its own metrics
        defined = [n for n, _ in out]
        for objective, path in zip(objectives, objective_paths, strict=True):
            if objective.metric not in defined:
                known = ", ".join(repr(n) for n in defined) or "none"
                self.error(f"{path}.MetricName", f"metric {objective.metric!r} is not defined in "
                                                 f"{apath}.MetricDefinitions (defined: {known})")
        return out

    def strategy(self, name: str, space: SearchSpace | None, objectives: list[Objective],
                 objective_paths: list[str]) -> tuple[str | None, dict[str, Any], int | None]:
        spath = f"{CONFIG}.StrategyConfig"
        config = _obj(self.cfg.get("StrategyConfig"))
        seed_keys = [k for k in config if to_snake(str(k)) == "seed"]
        options = {k: v for k, v in config.items() if k not in seed_keys}
        seed, seed_path = self.seed(name, config, seed_keys)
        requested = self.cfg.get("Strategy")
        if not isinstance(requested, str) or not requested:
            return None, options, seed  # the schema pass reports it
        resolved = _resolve_strategy(requested)
        try:
            strategy_class(resolved)
        except UnknownStrategyError as exc:
            self.unknown_strategy = True
            self.extend(exc, CONFIG)
            return None, options, seed
        stand_in = space is None or not objectives or seed is None
        if stand_in:
            # Build it on stand-ins anyway so that option errors show now, not after the other fixes;
            # only errors about StrategyConfig are kept, the rest would be about the stand-ins.
            space = space or SearchSpace([Continuous("x", 0.0, 1.0)])
            objectives = objectives or [Objective("objective")]
        try:
            make_strategy(resolved, space, objectives, 0 if seed is None else seed, options)
        except ValidationError as exc:
            for e in exc.errors:
                if stand_in and not e.path.startswith("StrategyConfig"):
                    continue
                if e.path == "Objectives":
                    ours = objective_paths[0].startswith(f"{CONFIG}.Objectives[")
                    self.error(f"{CONFIG}.Objectives" if ours else objective_paths[0], e.message)
                elif e.path == "Seed":
                    self.error(seed_path, e.message)
                else:
                    self.extend(ValidationError(e), CONFIG)
        except Exception as exc:  # a user strategy may refuse its options any way it likes
            if stand_in:
                return resolved, options, seed
            self.error(spath, f"strategy {resolved!r} cannot be built with these options: "
                              f"{type(exc).__name__}: {exc}")
        return resolved, options, seed

    def seed(self, name: str, config: Mapping[str, Any], seed_keys: list[str]) -> tuple[int | None, str]:
        """StrategyConfig.Seed, else RandomSeed, else a stable function of the job name."""
        if len(seed_keys) > 1:
            self.error(f"{CONFIG}.StrategyConfig.{seed_keys[1]}", "the seed is given twice")
            return None, ""
        if seed_keys:
            path = f"{CONFIG}.StrategyConfig.{seed_keys[0]}"
            value = _int(config[seed_keys[0]])
            if value is None or value < 0:
                self.error(path, f"must be a non-negative integer, not {config[seed_keys[0]]!r}")
                return None, path
            return value, path
        if "RandomSeed" in self.cfg:
            value = _int(self.cfg["RandomSeed"])
            return (value if value is not None and value >= 0 else None), f"{CONFIG}.RandomSeed"
        # crc32, not hash(): the same name gives the same seed in every process.
        return zlib.crc32(name.encode("utf-8")), "HyperParameterTuningJobName"

    def limits(self) -> tuple[StoppingRules | None, int | None]:
        limits = _obj(self.cfg.get("ResourceLimits"))
        criteria = _obj(self.cfg.get("TuningJobCompletionCriteria"))
        max_jobs = _int(limits.get("MaxNumberOfTrainingJobs"))
        max_parallel = _int(limits.get("MaxParallelTrainingJobs"))
        # Positive integers and SageMaker's minimums are the schema's job; here, only what it misses.
        if max_jobs is None or max_jobs < 1:
            return None, max_parallel
        target = criteria.get("TargetObjectiveMetricValue")
        return StoppingRules(
            max_jobs=max_jobs,
            max_runtime_seconds=_int(limits.get("MaxRuntimeInSeconds")),
            target_value=float(target) if isinstance(target, int | float) and not isinstance(target, bool)
            and math.isfinite(target) else None,
            max_jobs_not_improving=_int(_obj(criteria.get("BestObjectiveNotImproving"))
                                        .get("MaxNumberOfTrainingJobsNotImproving")),
            convergence=_obj(criteria.get("ConvergenceDetected")).get("CompleteOnConvergence") == "Enabled",
            max_failed_jobs=_int(criteria.get("MaxFailedTrainingJobs")),
        ), max_parallel

    def warm_start(self, name: str) -> tuple[list[str], str | None]:
        config = _obj(self.raw.get("WarmStartConfig"))
        parents = config.get("ParentHyperParameterTuningJobs")
        names: list[str] = []
        for i, parent in enumerate(parents if isinstance(parents, list) else []):
            path = f"WarmStartConfig.ParentHyperParameterTuningJobs[{i}].HyperParameterTuningJobName"
            parent_name = _obj(parent).get("HyperParameterTuningJobName")
            if parent_name is None:
                self.error(path, "is required")
            elif isinstance(parent_name, str):
                if parent_name == name:
                    self.error(path, "a tuning job cannot warm-start from itself")
                names.append(parent_name)
        warm_start_type = config.get("WarmStartType")
        return names, warm_start_type if isinstance(warm_start_type, str) else None
