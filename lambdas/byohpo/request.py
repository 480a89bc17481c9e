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
import difflib
import functools
import hashlib
import html
import importlib.resources
import json
import math
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from byohpo.errors import FieldError, UnknownStrategyError, ValidationError
from byohpo.space import Continuous, SearchSpace
from byohpo.stopping import StoppingRules
from byohpo.strategies import BUILTIN, make_strategy, strategy_class
from byohpo.strategies.base import Strategy, to_snake
from byohpo.trials import Objective

SCHEMA_ID = "urn:byohpo:schema:tuning-request:v1"
SCHEMA_FILE = "request.schema.json"
_DRAFT = "https://json-schema.org/draft/2020-12/schema"
_ROOT_SHAPE = "CreateHyperParameterTuningJobRequest"

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
        raise ValidationError(f"the request must be a JSON object, not {_json_type(raw)}")
    structural: list[FieldError] = []
    _check(_validation_schema(), raw, "", structural)
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


# -- the JSON Schema, built from botocore's SageMaker model ---------------------------------------

def schema() -> dict[str, Any]:
    """The published JSON Schema (draft 2020-12) of the tuning request."""
    text = importlib.resources.files("byohpo.schema").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def build_schema() -> dict[str, Any]:
    """The JSON Schema of the request from the installed botocore's SageMaker model, with byohpo's
    extensions. ``python -m byohpo.schema.generate`` writes it to the package."""
    return copy.deepcopy(_built_schema())


@functools.lru_cache(maxsize=1)
def _built_schema() -> dict[str, Any]:
    import botocore
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    builder = _SchemaBuilder(model)
    root = builder.define(model.shape_for(_ROOT_SHAPE))
    _extend(root, builder.defs)
    out: dict[str, Any] = {
        "$schema": _DRAFT,
        "$id": SCHEMA_ID,
        "$comment": f"Generated by `python -m byohpo.schema.generate` from the SageMaker model of botocore "
                    f"{botocore.__version__}; do not edit by hand.",
        "title": "byohpo tuning request",
        "description": "The body of SageMaker's CreateHyperParameterTuningJob, with byohpo's extensions "
                       "(their descriptions start with 'byohpo:').",
    }
    out.update((k, v) for k, v in root.items() if k != "description")
    out["$defs"] = {}
    for name in sorted(_reachable(root, builder.defs)):
        out["$defs"][name] = builder.defs[name]
    return out


_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def _doc(text: str | None) -> str:
    """botocore's HTML documentation, first paragraph, as plain text."""
    if not text:
        return ""
    first = text.split("</p>", 1)[0]
    return _SPACE.sub(" ", html.unescape(_TAG.sub("", first))).strip()


class _SchemaBuilder:
    """botocore shapes -> JSON Schema; structures and enums become ``$defs`` named after their shape."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.defs: dict[str, dict[str, Any]] = {}

    def use(self, shape: Any) -> dict[str, Any]:
        """The schema where ``shape`` is used: a ``$ref`` for named structures and enums."""
        if shape.type_name == "structure" or getattr(shape, "enum", None):
            if shape.name not in self.defs:
                self.defs[shape.name] = {}  # reserved first: structures may be recursive
                self.defs[shape.name] = self.define(self.model.shape_for(shape.name))
            return {"$ref": f"#/$defs/{shape.name}"}
        return self.define(shape)

    def define(self, shape: Any) -> dict[str, Any]:
        kind, meta = shape.type_name, shape.metadata
        out: dict[str, Any] = {}
        if shape.type_name == "structure" or getattr(shape, "enum", None):
            doc = _doc(shape.documentation)
            if doc:
                out["description"] = doc
        if kind == "structure":
            out["type"] = "object"
            out["properties"] = {name: self.member(member) for name, member in shape.members.items()}
            if shape.required_members:
                out["required"] = list(shape.required_members)
            out["additionalProperties"] = False
        elif kind == "list":
            out.update(type="array", items=self.use(shape.member))
            _bounds(out, meta, "minItems", "maxItems")
        elif kind == "map":
            out["type"] = "object"
            keys = {k: v for k, v in self.define(shape.key).items() if k != "type"}
            if keys:
                out["propertyNames"] = keys
            out["additionalProperties"] = self.use(shape.value)
            _bounds(out, meta, "minProperties", "maxProperties")
        elif kind == "string":
            out["type"] = "string"
            if getattr(shape, "enum", None):
                out["enum"] = list(shape.enum)
            _bounds(out, meta, "minLength", "maxLength")
            pattern = meta.get("pattern")
            if pattern:
                try:
                    re.compile(pattern)
                    out["pattern"] = f"^(?:{pattern})$"
                except re.error:
                    pass  # e.g. \p{L} (Tags): Python's re cannot check it; SageMaker will
        elif kind in ("integer", "long"):
            out["type"] = "integer"
            _bounds(out, meta, "minimum", "maximum")
        elif kind in ("float", "double"):
            out["type"] = "number"
            _bounds(out, meta, "minimum", "maximum")
        elif kind == "boolean":
            out["type"] = "boolean"
        else:  # timestamp, blob: none in this request today
            out["type"] = "string"
        return out

    def member(self, member: Any) -> dict[str, Any]:
        schema_ = self.use(member)
        doc = _doc(member.documentation)
        return {**schema_, "description": doc} if doc else schema_


def _bounds(out: dict[str, Any], meta: Mapping[str, Any], low: str, high: str) -> None:
    # A minimum of 0 says nothing for lengths and counts, but does for numbers (RandomSeed).
    if meta.get("min") or ("min" in meta and low == "minimum"):
        out[low] = meta["min"]
    if "max" in meta:
        out[high] = meta["max"]


def _extend(root: dict[str, Any], defs: dict[str, dict[str, Any]]) -> None:
    """byohpo's extensions, applied to the shapes built from botocore."""
    ours = "byohpo: "
    config = defs["HyperParameterTuningJobConfig"]["properties"]
    config["Strategy"] = {
        "type": "string", "minLength": 1,
        "description": ours + "the search strategy: a built-in (" + ", ".join(BUILTIN) + "), a name "
        "registered in the 'byohpo.strategies' entry-point group, or 'package.module:Class'. SageMaker's "
        "Random, Grid and Bayesian name the built-ins random, grid and bayesian.",
    }
    config["StrategyConfig"] = {"$ref": "#/$defs/ByohpoStrategyConfig"}
    defs["ByohpoStrategyConfig"] = {
        "description": ours + "the strategy's options, in PascalCase or snake_case (`byohpo strategies "
        "--options` lists them), and Seed. Options the strategy does not take are refused.",
        "type": "object",
        "properties": {"Seed": {"type": "integer", "minimum": 0, "description": ours + "the seed of the "
                                "strategy's random draws; default RandomSeed, else derived from the job "
                                "name."}},
    }
    config["Objectives"] = {
        "type": "array", "minItems": 1, "items": {"$ref": "#/$defs/HyperParameterTuningJobObjective"},
        "description": ours + "several objectives for multi-objective strategies (paes, nsga2); replaces "
        "HyperParameterTuningJobObjective when given.",
    }
    limits = defs["ResourceLimits"]
    limits["required"] = [*limits.get("required", []), "MaxNumberOfTrainingJobs"]
    budget = limits["properties"]["MaxNumberOfTrainingJobs"]
    budget["description"] = (budget.get("description", "") + " byohpo: required, the run's budget.").strip()
    defs["TuningJobCompletionCriteria"]["properties"]["MaxFailedTrainingJobs"] = {
        "type": "integer", "minimum": 1,
        "description": ours + "stop the run once this many training jobs have failed.",
    }
    defs["HyperParameterTrainingJobDefinition"]["properties"]["Local"] = {"$ref": "#/$defs/ByohpoLocal"}
    defs["ByohpoLocal"] = {
        "description": ours + "how the local engine runs a trial.",
        "type": "object",
        "properties": {"EntryPoint": {
            "type": "string", "minLength": 1,
            "description": ours + "the training script, started like SageMaker script mode starts it "
            "(hyperparameters as --name value arguments and SM_* variables).",
        }},
        "additionalProperties": False,
    }
    plural = root["properties"]["TrainingJobDefinitions"]
    plural["maxItems"] = 1
    plural["description"] = plural.get("description", "") + " byohpo: exactly one definition " \
        "(multi-algorithm tuning is not supported yet)."


def _reachable(root: dict[str, Any], defs: Mapping[str, Any]) -> set[str]:
    """Names of the ``$defs`` the root refers to, directly or not (drops the shapes we replaced)."""
    found: set[str] = set()
    todo = [root]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                name = ref.rsplit("/", 1)[1]
                if name not in found:
                    found.add(name)
                    todo.append(defs[name])
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return found


# -- the structural pass: a walk of the schema (the subset of JSON Schema it uses) ------------------

def _validation_schema() -> dict[str, Any]:
    return _built_schema()


_TYPE_NAMES = {"object": "an object", "array": "a list", "string": "a string", "integer": "an integer",
               "number": "a number", "boolean": "true or false"}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _is_type(value: Any, kind: str) -> bool:
    if kind == "object":
        return isinstance(value, Mapping)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "integer":
        return isinstance(value, int)
    return isinstance(value, int | float) and math.isfinite(value)  # number: NaN is not one


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _check(node: Mapping[str, Any], value: Any, path: str, errors: list[FieldError]) -> None:
    ref = node.get("$ref")
    if ref:
        node = _built_schema()["$defs"][ref.rsplit("/", 1)[1]]
    kind = node.get("type")
    if kind and not _is_type(value, kind):
        errors.append(FieldError(path, f"must be {_TYPE_NAMES[kind]}, not {_json_type(value)}"))
        return
    if "enum" in node and value not in node["enum"]:
        choices = node["enum"]
        if len(choices) <= 10:
            errors.append(FieldError(path, f"must be one of {', '.join(choices)}, not {value!r}"))
        else:
            close = difflib.get_close_matches(str(value), choices, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            errors.append(FieldError(path, f"{value!r} is not a valid value{hint}"))
        return
    if kind == "string":
        _check_string(node, value, path, errors)
    elif kind in ("integer", "number"):
        if "minimum" in node and value < node["minimum"]:
            errors.append(FieldError(path, f"must be at least {node['minimum']}, not {value}"))
        if "maximum" in node and value > node["maximum"]:
            errors.append(FieldError(path, f"must be at most {node['maximum']}, not {value}"))
    elif kind == "array":
        _count(node, len(value), "minItems", "maxItems", "item", path, errors)
        for i, item in enumerate(value):
            _check(node["items"], item, f"{path}[{i}]", errors)
    elif kind == "object":
        _check_object(node, value, path, errors)


def _check_string(node: Mapping[str, Any], value: str, path: str, errors: list[FieldError]) -> None:
    if node.get("minLength") == 1 and not value:
        errors.append(FieldError(path, "must not be empty"))
        return
    _count(node, len(value), "minLength", "maxLength", "character", path, errors)
    pattern = node.get("pattern")
    if pattern and not re.search(pattern, value):
        errors.append(FieldError(path, f"{value!r} does not match the pattern {pattern}"))


def _check_object(node: Mapping[str, Any], value: Mapping[str, Any], path: str,
                  errors: list[FieldError]) -> None:
    props = node.get("properties", {})
    for name in node.get("required", []):
        if name not in value:
            errors.append(FieldError(_join(path, name), "is required"))
    extra = node.get("additionalProperties", True)
    for key, item in value.items():
        sub = _join(path, str(key))
        if key in props:
            _check(props[key], item, sub, errors)
        elif extra is False:
            close = difflib.get_close_matches(str(key), list(props), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" (expected {', '.join(props)})"
            errors.append(FieldError(sub, f"unknown field{hint}"))
        elif isinstance(extra, Mapping):
            if "propertyNames" in node:
                _check({"type": "string", **node["propertyNames"]}, str(key), sub, errors)
            _check(extra, item, sub, errors)
    _count(node, len(value), "minProperties", "maxProperties", "entry", path, errors)


def _count(node: Mapping[str, Any], n: int, low: str, high: str, noun: str, path: str,
           errors: list[FieldError]) -> None:
    if low in node and n < node[low]:
        errors.append(FieldError(path, f"must have at least {node[low]} {noun}{'s' * (node[low] != 1)}"))
    if high in node and n > node[high]:
        errors.append(FieldError(path, f"must have at most {node[high]} {noun}{'s' * (node[high] != 1)}"
                                       f", not {n}"))
