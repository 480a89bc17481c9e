"""The Map state of a definition, run item by item in process: what the handler tests feed Evaluate is
what the definition's iteration produces (its ItemSelector, Choice rules, task Parameters, Retry,
Catch and result Pass states), not a result written by hand.

It interprets only what the definition uses — JSONPath reference paths, ``Choice`` with
``And``/``Or``/``Not``, ``IsPresent``, ``IsNull``, ``IsBoolean``, ``IsNumeric``, ``BooleanEquals``,
``StringEquals``, ``StringMatches``, ``NumericLessThan(Path)``,
the intrinsic functions ``States.JsonMerge``, ``States.MathAdd``, ``States.MathRandom``,
``States.ArrayGetItem``, ``States.Array``, ``States.JsonToString`` and ``States.StringToJson``,
``Retry`` and ``Catch`` by error name, Lambda tasks (``lambdas``: the handler of each function name),
``Fail``, ``Succeed`` and ``Parallel`` (the watched iteration of early stopping) — and raises
:class:`Unsupported` on anything else, so that a definition that grows past it fails loudly here
instead of being run wrongly. A path that finds nothing raises :class:`RuntimeFailure`
(``States.Runtime``, which no Catch handles). Waits do not wait; retries do not sleep. A Parallel
runs its branches one after the other, and stops at the first that fails, as Step Functions stops
every branch when one fails: the watched iteration's training branch, which always ends in its Fail
state, runs to its end (its training task returns once the job has ended) and the watch loop, which
has nothing left to see, does not run. The executions
themselves are ``tests/test_state_machine.py``'s, through moto's interpreter.
"""

from __future__ import annotations

import copy
import json
import random
import re
from collections.abc import Callable, Mapping
from typing import Any

#: Errors ``States.ALL`` does not match (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
UNCATCHABLE = ("States.DataLimitExceeded", "States.Runtime")


class Unsupported(Exception):
    """The definition uses something this interpreter does not know."""


class RuntimeFailure(Exception):
    """``States.Runtime``: a path that finds nothing, a bad intrinsic argument."""


class TaskFailed(Exception):
    """A task's error, as Step Functions names it, and its cause."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(error, cause)
        self.error, self.cause = error, cause


#: The task: CreateTrainingJob parameters in, the ``.sync`` task's output (the job's description) out,
#: or :class:`TaskFailed`.
Task = Callable[[dict[str, Any]], Any]


class MapIteration:
    """One Map state (a dict from the definition) and the task its iterations run."""

    def __init__(self, map_state: Mapping[str, Any], task: Task, *, max_steps: int = 1000,
                 lambdas: Mapping[str, Callable[[Any], Any]] | None = None) -> None:
        if map_state.get("Type") != "Map":
            raise Unsupported("not a Map state")
        self.state = map_state
        self.processor = map_state["ItemProcessor"]
        self.task = task
        self.lambdas = dict(lambdas or {})
        self.max_steps = max_steps
        self.random = random.Random(0)

    def run(self, map_input: Mapping[str, Any]) -> list[Any]:
        """The Map's result: one iteration's output per item, in order."""
        items = path_value(map_input, self.state["ItemsPath"], {})
        if not isinstance(items, list):
            raise RuntimeFailure(f"ItemsPath {self.state['ItemsPath']} is not a list")
        return [self.iterate(map_input, index, item) for index, item in enumerate(items)]

    def iterate(self, map_input: Mapping[str, Any], index: int, item: Any) -> Any:
        context = {"Map": {"Item": {"Value": item, "Index": index}}}
        data = self.template(self.state.get("ItemSelector", {"value.$": "$$.Map.Item.Value"}), map_input,
                             context)
        return self.run_program(self.processor, data, context)

    def run_program(self, program: Mapping[str, Any], data: Any, context: Mapping[str, Any]) -> Any:
        """The output of ``program`` (an ItemProcessor, a Parallel's branch), or :class:`TaskFailed`."""
        states = program["States"]
        name = program["StartAt"]
        for _ in range(self.max_steps):
            state = states[name]
            kind = state["Type"]
            if kind == "Choice":
                name = choose(state, data)
                continue
            if kind == "Succeed":
                return data
            if kind == "Fail":
                cause = (self.expression(state["CausePath"], data, context) if "CausePath" in state
                         else state.get("Cause", ""))
                raise TaskFailed(state.get("Error", "States.Fail"), cause)
            if kind == "Pass":
                if "Parameters" in state:
                    result = self.template(state["Parameters"], data, context)
                else:
                    result = copy.deepcopy(state["Result"]) if "Result" in state else data
                data = apply_result_path(data, state.get("ResultPath", "$"), result)
            elif kind == "Wait":
                pass
            elif kind in ("Task", "Parallel"):
                run = self.run_task if kind == "Task" else self.run_parallel
                data, caught_next = run(state, data, context)
                if caught_next:
                    name = caught_next
                    continue
            else:
                raise Unsupported(f"state type {kind}")
            if "OutputPath" in state:
                data = path_value(data, state["OutputPath"], context)
            if state.get("End"):
                return data
            name = state["Next"]
        raise RuntimeFailure(f"no end after {self.max_steps} states")

    def run_parallel(self, state: Mapping[str, Any], data: Any,
                     context: Mapping[str, Any]) -> tuple[Any, str | None]:
        try:
            outputs = [self.run_program(branch, copy.deepcopy(data), context) for branch in state["Branches"]]
        except TaskFailed as exc:
            return self.caught(state, data, exc)
        return apply_result_path(data, state.get("ResultPath", "$"), outputs), None

    def caught(self, state: Mapping[str, Any], data: Any, exc: TaskFailed) -> tuple[Any, str]:
        """The state's Catch of ``exc``: its output and next state (else ``exc`` goes on)."""
        catcher = next((c for c in state.get("Catch", ()) if matches(c["ErrorEquals"], exc.error)), None)
        if catcher is None:
            raise exc
        error = {"Error": exc.error, "Cause": exc.cause}
        return apply_result_path(data, catcher.get("ResultPath", "$"), error), catcher["Next"]

    def run_task(self, state: Mapping[str, Any], data: Any,
                 context: Mapping[str, Any]) -> tuple[Any, str | None]:
        unknown = set(state) - {"Type", "Resource", "Parameters", "ResultPath", "ResultSelector", "Retry",
                                "Catch", "Next", "End", "Comment"}
        lambda_task = state["Resource"] == "arn:aws:states:::lambda:invoke"
        training = state["Resource"].startswith("arn:aws:states:::sagemaker:createTrainingJob")
        if unknown or not (lambda_task or training) or ("ResultSelector" in state and not lambda_task):
            raise Unsupported(f"task {state['Resource']} with {sorted(unknown)}")
        params = self.template(state["Parameters"], data, context)
        attempts: dict[int, int] = {}
        while True:
            try:
                result = self.invoke(params) if lambda_task else self.task(params)
                if "ResultSelector" in state:
                    result = self.template(state["ResultSelector"], result, context)
            except TaskFailed as exc:
                retrier = next((i for i, r in enumerate(state.get("Retry", ()))
                                if matches(r["ErrorEquals"], exc.error)), None)
                if retrier is not None:
                    attempts[retrier] = attempts.get(retrier, 0) + 1
                    if attempts[retrier] <= state["Retry"][retrier].get("MaxAttempts", 3):
                        continue
                return self.caught(state, data, exc)
            return apply_result_path(data, state.get("ResultPath", "$"), result), None

    def invoke(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``lambda:invoke``: the function's answer as the optimized integration gives it (``Payload``),
        an exception as the function's error (its class name; its message in the JSON Cause)."""
        function = self.lambdas.get(params.get("FunctionName", ""))
        if function is None:
            raise Unsupported(f"no handler for Lambda function {params.get('FunctionName')}")
        try:
            payload = function(copy.deepcopy(params.get("Payload")))
        except Exception as exc:
            kind = type(exc).__name__
            raise TaskFailed(kind, json.dumps({"errorMessage": str(exc), "errorType": kind})) from exc
        return {"Payload": json.loads(json.dumps(payload)), "StatusCode": 200}

    # -- ASL ------------------------------------------------------------------------------------------
    def template(self, template: Any, data: Any, context: Mapping[str, Any]) -> Any:
        if isinstance(template, Mapping):
            out = {}
            for key, value in template.items():
                if key.endswith(".$"):
                    out[key[:-2]] = self.expression(value, data, context)
                else:
                    out[key] = self.template(value, data, context)
            return out
        if isinstance(template, list):
            return [self.template(v, data, context) for v in template]
        return copy.deepcopy(template)

    def expression(self, text: str, data: Any, context: Mapping[str, Any]) -> Any:
        if text.startswith("States."):
            return self.intrinsic(text, data, context)
        return path_value(data, text, context)

    def intrinsic(self, text: str, data: Any, context: Mapping[str, Any]) -> Any:
        match = re.fullmatch(r"(States\.[A-Za-z]+)\((.*)\)", text.strip(), re.S)
        if not match:
            raise Unsupported(f"intrinsic {text}")
        name, args = match[1], [self.argument(a, data, context) for a in split_arguments(match[2])]
        if name == "States.JsonMerge":
            left, right, deep = args
            if deep is not False or not isinstance(left, Mapping) or not isinstance(right, Mapping):
                raise RuntimeFailure("States.JsonMerge takes two objects and false")
            return {**left, **right}
        if name == "States.MathAdd":
            return int(args[0]) + int(args[1])
        if name == "States.MathRandom":
            return self.random.randint(int(args[0]), int(args[1]))  # both ends, as moto draws them
        if name == "States.ArrayGetItem":
            if not 0 <= int(args[1]) < len(args[0]):
                raise RuntimeFailure("States.ArrayGetItem index out of range")
            return args[0][int(args[1])]
        if name == "States.Array":
            return list(args)
        if name == "States.JsonToString":
            return json.dumps(args[0], separators=(",", ":"))
        if name == "States.StringToJson":
            if not isinstance(args[0], str):
                raise RuntimeFailure("States.StringToJson takes a string")
            return json.loads(args[0])
        raise Unsupported(f"intrinsic {name}")

    def argument(self, text: str, data: Any, context: Mapping[str, Any]) -> Any:
        text = text.strip()
        if text.startswith("States."):
            return self.intrinsic(text, data, context)
        if text.startswith("$"):
            return path_value(data, text, context)
        if text in ("true", "false"):
            return text == "true"
        if text.startswith("'") and text.endswith("'"):
            return text[1:-1]
        return float(text) if "." in text else int(text)

def holds(rule: Mapping[str, Any], data: Any) -> bool:
    """Whether a Choice rule holds for ``data``."""
    if "And" in rule:
        return all(holds(r, data) for r in rule["And"])
    if "Or" in rule:
        return any(holds(r, data) for r in rule["Or"])
    if "Not" in rule:
        return not holds(rule["Not"], data)
    variable = rule["Variable"]
    if "IsPresent" in rule:
        return path_present(data, variable) == rule["IsPresent"]
    value = path_value(data, variable, {})
    if "IsNull" in rule:
        return (value is None) == rule["IsNull"]
    if "IsBoolean" in rule:
        return isinstance(value, bool) == rule["IsBoolean"]
    if "IsNumeric" in rule:
        return _number(value) == rule["IsNumeric"]
    if "BooleanEquals" in rule:
        return isinstance(value, bool) and value == rule["BooleanEquals"]
    if "StringEquals" in rule:
        return isinstance(value, str) and value == rule["StringEquals"]
    if "StringMatches" in rule:
        return isinstance(value, str) and glob(rule["StringMatches"]).fullmatch(value) is not None
    if "NumericLessThan" in rule:
        return _number(value) and value < rule["NumericLessThan"]
    if "NumericLessThanPath" in rule:
        bound = path_value(data, rule["NumericLessThanPath"], {})
        return _number(value) and _number(bound) and value < bound
    raise Unsupported(f"Choice rule {sorted(rule)}")


def choose(choice: Mapping[str, Any], data: Any) -> str:
    """The state a Choice state goes to for ``data``."""
    name = next((r["Next"] for r in choice["Choices"] if holds(r, data)), None) or choice.get("Default")
    if name is None:
        raise RuntimeFailure("no Choice rule matched and no Default")
    return name


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def matches(names: list[str], error: str) -> bool:
    return error in names or ("States.ALL" in names and error not in UNCATCHABLE)


def glob(pattern: str) -> re.Pattern[str]:
    """``StringMatches``: ``*`` matches anything, ``\\*`` a star."""
    parts = re.split(r"(\\\*|\*)", pattern)
    return re.compile("".join(".*" if p == "*" else re.escape("*" if p == "\\*" else p) for p in parts),
                      re.S)


def split_arguments(text: str) -> list[str]:
    out, depth, current, quoted = [], 0, "", False
    for ch in text:
        if ch == "'":
            quoted = not quoted
        if not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        if ch == "," and depth == 0 and not quoted:
            out.append(current)
            current = ""
        else:
            current += ch
    return [*out, current] if current.strip() else out


def _walk(data: Any, path: str, context: Mapping[str, Any]) -> tuple[bool, Any]:
    if path.startswith("$$."):
        node, keys = context, path[3:].split(".")
    elif path == "$":
        return True, data
    elif path.startswith("$."):
        node, keys = data, path[2:].split(".")
    else:
        raise Unsupported(f"path {path}")
    for key in keys:
        if not re.fullmatch(r"[A-Za-z0-9_]+", key):
            raise Unsupported(f"path {path}")
        if not isinstance(node, Mapping) or key not in node:
            return False, None
        node = node[key]
    return True, node


def path_present(data: Any, path: str) -> bool:
    return _walk(data, path, {})[0]


def path_value(data: Any, path: str, context: Mapping[str, Any]) -> Any:
    found, value = _walk(data, path, context)
    if not found:
        raise RuntimeFailure(f"The JSONPath '{path}' could not be found in the input")
    return copy.deepcopy(value)


def apply_result_path(data: Any, path: str | None, result: Any) -> Any:
    if path is None:
        return copy.deepcopy(data)
    if path == "$":
        return copy.deepcopy(result)
    if not path.startswith("$."):
        raise Unsupported(f"ResultPath {path}")
    out = copy.deepcopy(data)
    node = out
    keys = path[2:].split(".")
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = copy.deepcopy(result)
    return out
