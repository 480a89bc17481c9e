"""The request's structural pass: a walk of the JSON Schema (the subset of JSON Schema it uses), every
problem reported as a :class:`~byohpo.errors.FieldError` with its path from the request's root."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from typing import Any

from byohpo.errors import FieldError
from byohpo.schema.build import built_schema


def check_structure(raw: Any) -> list[FieldError]:
    """Every structural problem of ``raw`` (field names, types, enums, lengths, patterns)."""
    errors: list[FieldError] = []
    _check(built_schema(), raw, "", errors)
    return errors

_TYPE_NAMES = {"object": "an object", "array": "a list", "string": "a string", "integer": "an integer",
               "number": "a number", "boolean": "true or false"}


def json_type(value: Any) -> str:
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
        node = built_schema()["$defs"][ref.rsplit("/", 1)[1]]
    kind = node.get("type")
    if kind and not _is_type(value, kind):
        errors.append(FieldError(path, f"must be {_TYPE_NAMES[kind]}, not {json_type(value)}"))
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
        _check_condition(node, value, path, errors)


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


def _check_condition(node: Mapping[str, Any], value: Mapping[str, Any], path: str,
                     errors: list[FieldError]) -> None:
    """``if``/``then``/``else`` where ``if`` tests that fields are present: the only form we publish."""
    condition = node.get("if")
    if not condition:
        return
    given = [k for k in condition.get("required", []) if k in value]
    holds = len(given) == len(condition.get("required", []))
    branch = node.get("then" if holds else "else") or {}
    unless = "" if holds else f" (unless {' and '.join(_join(path, k) for k in condition['required'])} " \
                              "is given)"
    for name in branch.get("required", []):
        if name not in value:
            errors.append(FieldError(_join(path, name), f"is required{unless}"))


def _count(node: Mapping[str, Any], n: int, low: str, high: str, noun: str, path: str,
           errors: list[FieldError]) -> None:
    if low in node and n < node[low]:
        errors.append(FieldError(path, f"must have at least {node[low]} {noun}{'s' * (node[low] != 1)}"))
    if high in node and n > node[high]:
        errors.append(FieldError(path, f"must have at most {node[high]} {noun}{'s' * (node[high] != 1)}"
                                       f", not {n}"))
