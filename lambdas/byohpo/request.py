"""The tuning request: the body of SageMaker's ``CreateHyperParameterTuningJob``, validated and parsed.

An Automatic Model Tuning request works as it is, with ``Strategy`` changed to a byohpo strategy (or
left as SageMaker's ``Random``, ``Grid`` or ``Bayesian``, which name our built-ins of the same kind).
byohpo's extensions:

* ``HyperParameterTuningJobConfig.Strategy``: any registered strategy name or ``"pkg.module:Class"``;
* ``HyperParameterTuningJobConfig.StrategyConfig``: the strategy's options, plus ``Seed``;
* ``HyperParameterTuningJobConfig.Objectives``: several objectives (PAES, NSGA-II);
* ``TuningJobCompletionCriteria.MaxFailedTrainingJobs``: stop after this many failed trials;
* ``TrainingJobDefinition.Local``: how ``byohpo run`` runs a trial on this machine: ``EntryPoint``, the
  script, and ``Channels``, the local file or folder of each data channel. A request with ``Local``
  needs none of the fields only AWS uses (``RoleArn``, ``OutputDataConfig``, ``ResourceConfig``,
  ``StoppingCondition``, the image); ``byohpo start`` still does.

A request for one of SageMaker's built-in algorithms (``byohpo.algorithms``: its ``TrainingImage``, or
an ``AlgorithmName``) needs no ``MetricDefinitions``: the algorithm emits its own metrics, and the
objective must be one of those it documents as tunable.

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
import os
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from byohpo import algorithms, standins
from byohpo.errors import FieldError, UnknownStrategyError, ValidationError
from byohpo.job_tags import too_many_tags
from byohpo.schema.build import SCHEMA_ID, build_schema, built_schema, schema  # noqa: F401 - the public entry points
from byohpo.schema.walk import check_structure, json_type
from byohpo.space import Categorical, Continuous, SearchSpace
from byohpo.stopping import StoppingRules
from byohpo.strategies import make_strategy, strategy_class
from byohpo.strategies.amt import local_refusal, sagemaker_strategy
from byohpo.strategies.base import Strategy, to_snake
from byohpo.trials import Objective

CONFIG = "HyperParameterTuningJobConfig"
# SageMaker's own strategy names, accepted so that an AMT request works unchanged.
SAGEMAKER_STRATEGIES = {"Random": "random", "Grid": "grid", "Bayesian": "bayesian"}
_NAME_RE = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}")
# Keys of a training job definition that the request absorbs into the space and the objectives.
_TUNING_ONLY_KEYS = ("DefinitionName", "TuningObjective", "HyperParameterRanges")
# The ContentType of a local channel that InputDataConfig does not list, by its file's extension.
_CONTENT_TYPES = {".csv": "text/csv", ".libsvm": "text/libsvm", ".svm": "text/libsvm"}


# -- the parsed request -----------------------------------------------------------------------------

@dataclass(frozen=True)
class TuningRequest:
    """A valid tuning request.

    ``training`` is the one training job definition (from ``TrainingJobDefinition`` or the single entry
    of ``TrainingJobDefinitions``) without the keys absorbed into ``space`` and ``objectives``
    (``DefinitionName``, ``TuningObjective``, ``HyperParameterRanges``); ``training_path`` is where it
    was found, for error messages. ``strategy`` is the resolved name (``Random`` becomes ``random``).
    ``metric_definitions`` are the request's own ``MetricDefinitions``; ``algorithm`` names the
    built-in algorithm's entry in ``byohpo.algorithms.CATALOG`` when the image is one (its
    ``space.static`` then holds ``_tuning_objective_metric``, as AMT adds it); ``local_channels`` is
    ``Local.Channels``.
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
    algorithm: str | None = None
    local_channels: dict[str, str] = field(default_factory=dict)

    @property
    def sagemaker_strategy(self) -> str | None:
        """AMT's ``Strategy`` (``Bayesian``, ...) when the run is SageMaker's own tuner (``amt-*``: one
        tuning job on AWS), else None."""
        return sagemaker_strategy(strategy_class(self.strategy))

    @property
    def builtin_algorithm(self) -> algorithms.BuiltinAlgorithm | None:
        return algorithms.algorithm_named(self.algorithm) if self.algorithm else None

    @property
    def algorithm_name(self) -> str | None:
        """``AlgorithmSpecification.AlgorithmName``: an algorithm resource (yours or AWS Marketplace's)."""
        name = _obj(self.training.get("AlgorithmSpecification")).get("AlgorithmName")
        return name if isinstance(name, str) and name else None

    def local_input_data_config(self) -> dict[str, dict[str, str]]:
        """``inputdataconfig.json`` for a local trial, as SageMaker writes it for the container: each
        channel of ``Local.Channels`` with its ``ContentType`` (and distribution and record wrapper)
        from the ``InputDataConfig`` entry of that name. Local data is always laid out as ``File``."""
        configured = {_obj(c).get("ChannelName"): _obj(c) for c in self.training.get("InputDataConfig") or []
                      if isinstance(c, Mapping)}
        out: dict[str, dict[str, str]] = {}
        for name in sorted(self.local_channels):
            channel = configured.get(name, {})
            entry: dict[str, str] = {}
            if isinstance(channel.get("ContentType"), str):
                entry["ContentType"] = channel["ContentType"]
            elif not channel and Path(self.local_channels[name]).suffix.lower() in _CONTENT_TYPES:
                # A channel only this machine has: its file's extension says what it holds.
                entry["ContentType"] = _CONTENT_TYPES[Path(self.local_channels[name]).suffix.lower()]
            s3 = _obj(_obj(channel.get("DataSource")).get("S3DataSource"))
            entry["TrainingInputMode"] = "File"
            entry["S3DistributionType"] = str(s3.get("S3DataDistributionType") or "FullyReplicated")
            entry["RecordWrapperType"] = str(channel.get("RecordWrapperType") or "None")
            out[name] = entry
        return out

    @property
    def early_stopping(self) -> bool:
        """``TrainingJobEarlyStoppingType: "Auto"``: stop training jobs by SageMaker's median rule
        (``byohpo.early_stopping``)."""
        return self.early_stopping_type == "Auto"

    def log_metric_definitions(self) -> list[dict[str, str]]:
        """The ``MetricDefinitions`` that read this request's metrics from a log: the request's own, then
        the built-in algorithm's for the metrics the request does not define."""
        out = [{"Name": n, "Regex": r} for n, r in self.metric_definitions]
        algorithm = self.builtin_algorithm
        if algorithm is not None:
            defined = {n for n, _ in self.metric_definitions}
            out += [d for d in algorithm.metric_definitions() if d["Name"] not in defined]
        return out

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


def check_runs_here(request: TuningRequest) -> None:
    """Refuse, naming ``Strategy``, a request only AWS can run: SageMaker's own tuner (``amt-*``)."""
    if request.sagemaker_strategy:
        raise ValidationError(local_refusal(request.strategy), f"{CONFIG}.Strategy")


def check_local(request: TuningRequest, base_dir: str | Path, *,
                request_path: str | Path | None = None) -> Path:
    """What the local engine needs before it writes anything, checked: the entry point is a file
    this machine can start (a ``.py`` file that compiles, or an executable program). Returns its path
    (a relative ``Local.EntryPoint`` is found from ``base_dir``, the current directory by default).

    A ValidationError names ``Local.EntryPoint`` and says where it looked; when the script exists
    relative to the request file's folder or one above it (``byohpo run ga.json`` from
    ``examples/digits/`` for a request that says ``examples/digits/train.py``), it says which
    ``--base-dir`` finds it. Also checks ``Local.Channels`` and that a local trial's log can give every
    objective; without ``Local.EntryPoint``, the built-in algorithm's stand-in is the entry point. An
    ``amt-*`` strategy is refused first, naming ``Strategy``: only AWS runs SageMaker's tuner."""
    check_runs_here(request)
    path = f"{request.training_path}.Local.EntryPoint"
    check_channels(request, base_dir)
    check_local_metrics(request)
    if not request.entry_point:
        return builtin_entry_point(request)
    script = Path(request.entry_point)
    if not script.is_absolute():
        script = Path(base_dir) / script
    problem = _not_runnable(script)
    if problem is None:
        return script
    shown = repr(request.entry_point)
    if Path(request.entry_point).is_absolute():
        raise ValidationError(f"{shown} {problem}", path)
    where = Path(base_dir).resolve()
    looked = "the current directory" if where == Path.cwd() else f"--base-dir {base_dir}"
    message = f"{shown} (from {where}, {looked}) {problem}"
    found = _found_elsewhere(request.entry_point, request_path, where)
    if found is not None:
        message += f"; it is in {found}: run byohpo from there, or pass --base-dir {os.path.relpath(found)}"
    raise ValidationError(message, path)


# The first bytes of a program exec can start: a script's "#!" line, ELF, Mach-O (both byte orders,
# 32 and 64 bits, universal).
_PROGRAM_MAGIC = (b"#!", b"\x7fELF", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe",
                  b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe")


def _not_runnable(script: Path) -> str | None:
    """Why the local engine could not start ``script`` (a phrase to follow its name), or None."""
    if not script.exists():
        return "does not exist"
    if script.is_dir():
        return "is a folder, not a training script"
    if not script.is_file():
        return "is not a file"
    if not os.access(script, os.R_OK):
        return "cannot be read (permission denied)"
    if script.suffix == ".py":
        try:
            compile(script.read_bytes(), str(script), "exec", dont_inherit=True)
        except SyntaxError as exc:
            return f"is not valid Python: {exc.msg} (line {exc.lineno})"
        except (ValueError, OSError) as exc:
            return f"cannot be read as Python: {exc}"
        return None
    if not os.access(script, os.X_OK):
        return ("is neither a .py script nor an executable program: name a .py file (it runs with "
                "python), or make the program executable (chmod +x)")
    with open(script, "rb") as f:
        head = f.read(4)
    if not head.startswith(_PROGRAM_MAGIC):
        return "is executable but cannot be started: it has no #! line and is not a program"
    return None


def _found_elsewhere(entry_point: str, request_path: str | Path | None, tried: Path) -> Path | None:
    """The folder, the request file's own or one above it, from which ``entry_point`` is a file."""
    if request_path is None:
        return None
    here = Path(request_path).resolve().parent
    for folder in (here, *here.parents):
        if folder != tried and (folder / entry_point).is_file():
            return folder
    return None


def builtin_entry_point(request: TuningRequest) -> Path:
    """What runs a trial of a request without ``Local.EntryPoint``: the bundled stand-in of its built-in
    algorithm (XGBoost only), else a ValidationError naming ``Local.EntryPoint``."""
    path = f"{request.training_path}.Local.EntryPoint"
    algorithm = request.builtin_algorithm
    if algorithm is not None:
        script = standins.entry_point(algorithm.name)
        if script is not None:
            return script
        raise ValidationError(
            f"is required to run locally: SageMaker's built-in {algorithm.title} algorithm does not run on "
            "this machine (only XGBoost has a local stand-in); give a script that trains the same model "
            "and prints the metrics, with MetricDefinitions that read them", path)
    if request.algorithm_name:
        raise ValidationError(
            f"is required to run locally: algorithm {request.algorithm_name!r} (AlgorithmName) runs only on "
            "SageMaker; give a script that trains the same model and prints its metrics", path)
    raise ValidationError("is required to run locally: the training script to start", path)


def check_local_metrics(request: TuningRequest) -> None:
    """Every objective has a regex that reads it from a local trial's log: the request's own, or the
    built-in algorithm's (an algorithm's metrics need not be in MetricDefinitions for AWS, which reads
    the job's own definitions there). Without a script of the user's, the stand-in is what logs."""
    if not request.entry_point:
        return
    readable = {d["Name"] for d in request.log_metric_definitions()}
    apath = f"{request.training_path}.AlgorithmSpecification.MetricDefinitions"
    missing = [o.metric for o in request.objectives if o.metric not in readable]
    if missing:
        raise ValidationError(f"nothing reads {', '.join(map(repr, missing))} from a local trial's log: "
                              "add its Name and Regex, as your script prints it", apath)


def check_channels(request: TuningRequest, base_dir: str | Path) -> dict[str, Path]:
    """The local data of each channel (``Local.Channels``, relative paths from ``base_dir``), checked
    before anything runs: every path exists, and every channel of ``InputDataConfig`` has local data
    (a channel is never silently dropped). Raises ValidationError naming each wrong field."""
    tpath = request.training_path
    errors: list[FieldError] = []
    found: dict[str, Path] = {}
    for name, source in request.local_channels.items():
        where = Path(source) if Path(source).is_absolute() else Path(base_dir) / source
        if not where.exists():
            errors.append(FieldError(f"{tpath}.Local.Channels.{name}", f"{str(where)!r} does not exist"))
        else:
            found[name] = where
    configured = request.training.get("InputDataConfig")
    for i, channel in enumerate(configured if isinstance(configured, list) else []):
        name = _obj(channel).get("ChannelName")
        if isinstance(name, str) and name not in request.local_channels:
            errors.append(FieldError(
                f"{tpath}.InputDataConfig[{i}].ChannelName",
                f"channel {name!r} has no local data: map it to a local file or folder in "
                f"{tpath}.Local.Channels, e.g. {{{json.dumps(name)}: \"data/{name}\"}}"))
    algorithm = request.builtin_algorithm
    if algorithm is algorithms.XGBOOST and not request.entry_point and "train" not in request.local_channels:
        errors.append(FieldError(f"{tpath}.Local.Channels", "the built-in XGBoost algorithm reads its "
                                 "training data from a channel named 'train': map it to a CSV or libsvm "
                                 "file or folder"))
    if errors:
        raise ValidationError(errors)
    return found


def aws_requirements(request: TuningRequest) -> list[FieldError]:
    """What SageMaker needs of the training definition that a request with ``Local`` may leave out (the
    fields ``HyperParameterTrainingJobDefinition`` requires, an image, an input mode, the instances):
    checked by ``byohpo start`` and listed by ``byohpo validate``."""
    tpath = request.training_path
    training = request.training
    schema_ = built_schema()["$defs"]["HyperParameterTrainingJobDefinition"]
    errors = [FieldError(f"{tpath}.{key}", "is required to run on SageMaker")
              for key in schema_.get("else", {}).get("required", []) if key not in training]
    if "ResourceConfig" not in training and "HyperParameterTuningResourceConfig" not in training:
        errors.append(FieldError(f"{tpath}.ResourceConfig", "is required to run on SageMaker (or "
                                                            "HyperParameterTuningResourceConfig)"))
    spec = training.get("AlgorithmSpecification")
    if isinstance(spec, Mapping):
        if not spec.get("TrainingImage") and not spec.get("AlgorithmName"):
            errors.append(FieldError(f"{tpath}.AlgorithmSpecification.TrainingImage",
                                     "is required to run on SageMaker (or AlgorithmName)"))
        if "TrainingInputMode" not in spec:
            errors.append(FieldError(f"{tpath}.AlgorithmSpecification.TrainingInputMode",
                                     "is required to run on SageMaker"))
    return errors


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
        metric_definitions, builtin = self.metrics(definition, tpath, objectives, objective_paths)
        strategy, options, seed = self.strategy(name, space, objectives, objective_paths)
        stopping, max_parallel = self.limits()
        parents, warm_start_type = self.warm_start(name)
        self.sagemaker_rules(strategy, space, definition, tpath)
        if self.raw.get("Autotune") is not None:
            self.error("Autotune", "is not supported: give the ranges in ParameterRanges")
        tags = self.raw.get("Tags")
        if isinstance(tags, list) and (problem := too_many_tags(tags)):
            self.error("Tags", problem)
        if self.errors or space is None or stopping is None or strategy is None or seed is None:
            return None
        local = _obj(definition.get("Local"))
        if builtin is not None and objectives and algorithms.OBJECTIVE_HYPERPARAMETER not in space.names:
            # What AMT adds to a built-in algorithm's hyperparameters; the user's own value wins.
            space = SearchSpace(space.params, {**algorithms.tuning_hyperparameters(objectives[0].metric),
                                               **space.static})
        return TuningRequest(
            name=name, strategy=strategy, strategy_options=options, seed=seed,
            objectives=objectives, space=space, max_parallel=max_parallel or 1, stopping=stopping,
            early_stopping_type=self.cfg.get("TrainingJobEarlyStoppingType", "Off"),
            warm_start_parents=parents, warm_start_type=warm_start_type,
            tags=copy.deepcopy(list(self.raw.get("Tags") or [])),
            training={k: copy.deepcopy(v) for k, v in definition.items() if k not in _TUNING_ONLY_KEYS},
            training_path=tpath, metric_definitions=metric_definitions,
            entry_point=local.get("EntryPoint"), raw=copy.deepcopy(dict(self.raw)),
            algorithm=builtin.name if builtin is not None else None,
            local_channels={str(k): v for k, v in _obj(local.get("Channels")).items() if isinstance(v, str)},
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
                objective_paths: list[str]
                ) -> tuple[list[tuple[str, str]], algorithms.BuiltinAlgorithm | None]:
        """The request's own MetricDefinitions and the built-in algorithm its image runs (if any); every
        objective must be one of the defined metrics or one of the algorithm's tunable metrics."""
        if not definition:
            return [], None
        apath = f"{tpath}.AlgorithmSpecification"
        algorithm = _obj(definition.get("AlgorithmSpecification"))
        # With Local, the request may be for this machine only: the image and mode are AWS's business,
        # and `byohpo start` checks them (CreateTrainingJob's required fields).
        local = "Local" in definition
        if algorithm and not local:
            if not algorithm.get("TrainingImage") and not algorithm.get("AlgorithmName"):
                self.error(f"{apath}.TrainingImage", "is required (or AlgorithmName)")
            if "TrainingInputMode" not in algorithm:
                self.error(f"{apath}.TrainingInputMode", "is required")
        raw_defs = algorithm.get("MetricDefinitions")
        out: list[tuple[str, str]] = []
        refused: set[str] = set()  # defined, with a regex reported already: not "not defined" as well
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
                refused.add(name)
                continue
            if compiled.groups < 1:
                self.error(f"{path}.Regex", "needs a capture group around the value, e.g. "
                                            "'loss=([0-9.eE+-]+)'")
                refused.add(name)
                continue
            out.append((name, regex))
        if algorithm.get("AlgorithmName"):
            return out, None  # an algorithm resource defines its own metrics (DescribeAlgorithm)
        builtin = algorithms.algorithm_for_image(algorithm.get("TrainingImage"),
                                                 _obj(definition.get("StaticHyperParameters")))
        defined = [n for n, _ in out]
        for objective, path in zip(objectives, objective_paths, strict=True):
            if objective.metric in defined or objective.metric in refused:
                continue
            if builtin is None:
                known = ", ".join(repr(n) for n in defined) or "none"
                self.error(f"{path}.MetricName", f"metric {objective.metric!r} is not defined in "
                                                 f"{apath}.MetricDefinitions (defined: {known})")
                continue
            metric = builtin.metric(objective.metric)
            if metric is not None and metric.tunable:
                continue
            tunable = ", ".join(m.name for m in builtin.tunable_metrics)
            what = (f"is not a metric SageMaker's built-in {builtin.title} algorithm can be tuned for "
                    f"(tunable: {tunable}; {builtin.docs})") if tunable else (
                    f"cannot be tuned: SageMaker's built-in {builtin.title} algorithm has no metric that "
                    f"Automatic Model Tuning can optimize ({builtin.docs})")
            self.error(f"{path}.MetricName", f"{objective.metric!r} {what}")
        return out, builtin

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

    # -- SageMaker's own tuner (amt-*) ---------------------------------------------------------------
    def sagemaker_rules(self, strategy: str | None, space: SearchSpace | None, definition: Mapping[str, Any],
                        tpath: str) -> None:
        """What SageMaker's tuner refuses, or would ignore, in a request for an ``amt-*`` strategy, named
        by field before anything starts. byohpo's extensions AMT has no field for are refused
        (``Objectives`` with several metrics is the strategy's own check); ``Local`` is not sent, as for
        any training job on AWS, so the same file serves ``byohpo run`` with byohpo's strategies."""
        if strategy is None:
            return
        try:
            kind = sagemaker_strategy(strategy_class(strategy))
        except UnknownStrategyError:
            return
        if kind is None:
            return
        for key in _obj(self.cfg.get("StrategyConfig")):
            if to_snake(str(key)) == "seed":
                self.error(f"{CONFIG}.StrategyConfig.{key}", "SageMaker's tuner takes no seed in "
                                                              f"StrategyConfig: give it as "
                                                              f"{CONFIG}.RandomSeed")
        criteria = _obj(self.cfg.get("TuningJobCompletionCriteria"))
        if "MaxFailedTrainingJobs" in criteria:
            self.error(f"{CONFIG}.TuningJobCompletionCriteria.MaxFailedTrainingJobs",
                       "is byohpo's own criterion, which SageMaker's tuner does not have: remove it")
        if kind == "Hyperband" and self.cfg.get("TrainingJobEarlyStoppingType") == "Auto":
            # https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_HyperParameterTuningJobConfig.html
            # (TrainingJobEarlyStoppingType): SageMaker refuses the create otherwise.
            self.error(f"{CONFIG}.TrainingJobEarlyStoppingType",
                       "must be Off with amt-hyperband: \"Because the Hyperband strategy has its own "
                       "advanced internal early stopping mechanism, TrainingJobEarlyStoppingType must be OFF "
                       "to use Hyperband\" (SageMaker API reference, HyperParameterTuningJobConfig)")
        if kind == "Grid" and space is not None:
            self.grid_rules(space, definition, tpath)

    def grid_rules(self, space: SearchSpace, definition: Mapping[str, Any], tpath: str) -> None:
        """AMT's grid: "Only categorical parameters are supported when using the grid search strategy
        [...] If specified, the value of MaxNumberOfTrainingJobs should equal the total number of distinct
        categorical combinations possible" (https://docs.aws.amazon.com/sagemaker/latest/dg/
        automatic-model-tuning-how-it-works.html)."""
        rpath = (f"{CONFIG}.ParameterRanges" if self.cfg.get("ParameterRanges") is not None
                 else f"{tpath}.HyperParameterRanges")
        ranges = _obj(self.cfg.get("ParameterRanges") if self.cfg.get("ParameterRanges") is not None
                      else definition.get("HyperParameterRanges"))
        numeric = False
        for kind in ("ContinuousParameterRanges", "IntegerParameterRanges"):
            entries = ranges.get(kind)
            for i, _ in enumerate(entries if isinstance(entries, list) else []):
                numeric = True
                self.error(f"{rpath}.{kind}[{i}]", "amt-grid takes categorical ranges only (SageMaker's Grid "
                                                   "strategy): give this one as CategoricalParameterRanges "
                                                   "with the values to try")
        if numeric:
            return
        combinations = math.prod(len(p.values) for p in space if isinstance(p, Categorical))
        jobs = _int(_obj(self.cfg.get("ResourceLimits")).get("MaxNumberOfTrainingJobs"))
        if jobs is not None and jobs != combinations:
            self.error(f"{CONFIG}.ResourceLimits.MaxNumberOfTrainingJobs",
                       f"must be {combinations}, the number of distinct combinations of the categorical "
                       f"values, not {jobs}: SageMaker's Grid strategy runs each exactly once")
