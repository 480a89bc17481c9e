"""Metrics read from training logs with the request's ``MetricDefinitions``, as SageMaker reads them.

Every ``Regex`` is applied to every log line; its first capture group is parsed as a float, and the
last value matched in the log is the metric's final value (SageMaker's ``FinalMetricDataList``).
Captures that are not floats (``0.97.`` from ``([0-9\\.]+)`` at the end of a sentence) are skipped.

Not-a-number and infinite values are kept out of :attr:`MetricParser.values`: they cannot be stored
(DynamoDB and JSON have no NaN) and cannot be ranked. A metric whose *last* value is NaN or infinite
has no value, and :attr:`MetricParser.nonfinite` says why, so a diverged training run is reported as
such instead of being credited with an earlier, better value.

Pure: no I/O. The local runner feeds it a process's output as it arrives; the Evaluate Lambda feeds
it CloudWatch Logs events or reads ``FinalMetricDataList`` with :func:`final_metric_values`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from byohpo.errors import FieldError, ValidationError

# botocore's MetricDefinition: Name and Regex are 1-255 and 1-500 characters.
_MAX_NAME = 255
_MAX_REGEX = 500
# A process printing without newlines (progress bars) must not grow the buffer without bound.
_MAX_PENDING = 1 << 20

MetricCallback = Callable[[str, float], None]


@dataclass(frozen=True)
class MetricDefinition:
    """One ``{"Name", "Regex"}`` entry, its regex compiled once."""

    name: str
    regex: str
    pattern: re.Pattern[str] = field(compare=False, repr=False)

    @classmethod
    def of(cls, name: str, regex: str) -> MetricDefinition:
        return cls(name, regex, re.compile(regex))

    def to_dict(self) -> dict[str, str]:
        return {"Name": self.name, "Regex": self.regex}


Definitions = Iterable[Mapping[str, Any] | MetricDefinition | tuple[str, str]]


def compile_metric_definitions(definitions: Definitions | None) -> tuple[MetricDefinition, ...]:
    """Validate and compile ``MetricDefinitions``: ``{"Name", "Regex"}`` dicts, ``(name, regex)``
    pairs (as ``TuningRequest.metric_definitions`` holds them) or compiled definitions.

    Refuses, naming the field (``[1].Regex``), a missing or over-long name or regex, a regex Python
    cannot compile, a regex without a capture group (it could never yield a value), and a name given
    twice. Already compiled definitions pass through.
    """
    out: list[MetricDefinition] = []
    errors: list[FieldError] = []
    seen: set[str] = set()
    for i, item in enumerate(definitions or ()):
        if isinstance(item, MetricDefinition):
            compiled: MetricDefinition | None = item
        elif isinstance(item, tuple | list) and len(item) == 2:
            compiled = _compile_one(i, {"Name": item[0], "Regex": item[1]}, errors)
        else:
            compiled = _compile_one(i, item, errors)
        if compiled is None:
            continue
        if compiled.name in seen:
            errors.append(FieldError(f"[{i}].Name", f"metric {compiled.name!r} is defined twice"))
            continue
        seen.add(compiled.name)
        out.append(compiled)
    if errors:
        raise ValidationError(errors)
    return tuple(out)


def _compile_one(i: int, item: Any, errors: list[FieldError]) -> MetricDefinition | None:
    if not isinstance(item, Mapping):
        errors.append(FieldError(f"[{i}]", 'must be an object {"Name": ..., "Regex": ...}'))
        return None
    name, regex = item.get("Name"), item.get("Regex")
    ok = True
    if not isinstance(name, str) or not 1 <= len(name) <= _MAX_NAME:
        errors.append(FieldError(f"[{i}].Name", f"must be a string of 1 to {_MAX_NAME} characters"))
        ok = False
    if not isinstance(regex, str) or not 1 <= len(regex) <= _MAX_REGEX:
        errors.append(FieldError(f"[{i}].Regex", f"must be a string of 1 to {_MAX_REGEX} characters"))
        return None
    try:
        pattern = re.compile(regex)
    except re.error as exc:
        errors.append(FieldError(f"[{i}].Regex", f"is not a valid regular expression: {exc}"))
        return None
    if pattern.groups < 1:
        errors.append(FieldError(f"[{i}].Regex", "needs a capture group around the value, "
                                                 "e.g. 'loss=([0-9\\.]+)'"))
        return None
    return MetricDefinition(name, regex, pattern) if ok else None


def _to_float(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


class MetricParser:
    """Streaming metric parser: feed output as it arrives, read the final values at any time.

    Args:
        definitions: ``MetricDefinitions`` (dicts, pairs or compiled); validated here.
        on_metric: called with ``(name, value)`` for every value matched, NaN included, as lines
            complete (live progress).

    ``feed`` takes arbitrary chunks and holds a partial last line until its newline arrives;
    ``feed_line`` takes one whole line (a CloudWatch Logs event). Call ``close`` at the end of the
    stream so that a last line without a newline is read too.
    """

    def __init__(self, definitions: Definitions | None, *,
                 on_metric: MetricCallback | None = None) -> None:
        self.definitions = compile_metric_definitions(definitions)
        self.on_metric = on_metric
        self._last: dict[str, float] = {}
        self._raw: dict[str, str] = {}
        self._pending = ""

    def feed(self, chunk: str) -> list[str]:
        """Read a chunk of output; returns the lines it completed (without their line ends)."""
        text = self._pending + chunk
        lines = text.split("\n")
        self._pending = lines.pop()
        if len(self._pending) > _MAX_PENDING:
            lines.append(self._pending)
            self._pending = ""
        for i, line in enumerate(lines):
            lines[i] = line[:-1] if line.endswith("\r") else line
            self.feed_line(lines[i])
        return lines

    def close(self) -> list[str]:
        """End of stream: read the partial last line, if any. Returns it as a list of 0 or 1 line."""
        if not self._pending:
            return []
        line, self._pending = self._pending.rstrip("\r"), ""
        self.feed_line(line)
        return [line]

    def feed_line(self, line: str) -> None:
        """Read one whole line. Every match on the line counts, the last one winning (a progress
        bar redrawn with carriage returns is one line)."""
        for d in self.definitions:
            for match in d.pattern.finditer(line):
                raw = match.group(1)
                value = _to_float(raw)
                if value is None:
                    continue
                self._last[d.name] = value
                self._raw[d.name] = raw or ""
                if self.on_metric is not None:
                    self.on_metric(d.name, value)

    @property
    def values(self) -> dict[str, float]:
        """Final value of each metric seen, in definition order; a metric whose last value is NaN
        or infinite is left out (see :attr:`nonfinite`)."""
        return {d.name: self._last[d.name] for d in self.definitions
                if d.name in self._last and math.isfinite(self._last[d.name])}

    @property
    def nonfinite(self) -> dict[str, str]:
        """Metrics whose last value was NaN or infinite, with the text that was captured."""
        return {d.name: self._raw[d.name] for d in self.definitions
                if d.name in self._last and not math.isfinite(self._last[d.name])}

    def missing_reason(self, name: str) -> str | None:
        """Why metric ``name`` has no value (None if it has one): for a failure reason."""
        if name in self.values:
            return None
        return missing_metric_reason(name, self.definitions, self.nonfinite)


def parse_metrics(text: str, definitions: Definitions | None
                  ) -> dict[str, float]:
    """The final value of each metric in a whole log text (one-shot form of :class:`MetricParser`)."""
    parser = MetricParser(definitions)
    parser.feed(text)
    parser.close()
    return parser.values


def missing_metric_reason(name: str, definitions: Definitions | None,
                          nonfinite: Mapping[str, str] | None = None) -> str:
    """A failure reason for a trial that produced no usable value of metric ``name``."""
    if nonfinite and name in nonfinite:
        return f"the last value of metric {name} was {nonfinite[name]!r}, not a finite number"
    regex = next((d.regex for d in compile_metric_definitions(definitions) if d.name == name), None)
    if regex is None:
        return f"metric {name} has no entry in MetricDefinitions"
    return f"no value for metric {name} matched Regex `{regex}` in the training log"


def final_metric_values(final_metric_data_list: Iterable[Mapping[str, Any]] | None) -> dict[str, float]:
    """SageMaker's ``FinalMetricDataList`` (``[{"MetricName", "Value", "Timestamp"}]``) as
    ``{name: value}``. Entries without a finite numeric value are skipped; a name listed twice keeps
    its last entry (SageMaker lists each metric once)."""
    out: dict[str, float] = {}
    for item in final_metric_data_list or ():
        if not isinstance(item, Mapping):
            continue
        name, value = item.get("MetricName"), item.get("Value")
        if not isinstance(name, str) or isinstance(value, bool):
            continue
        if isinstance(value, str):
            value = _to_float(value)
        number = value if isinstance(value, int | float) else None
        if number is not None and math.isfinite(number):
            out[name] = float(number)
    return out


__all__ = [
    "Definitions",
    "MetricCallback",
    "MetricDefinition",
    "MetricParser",
    "compile_metric_definitions",
    "final_metric_values",
    "missing_metric_reason",
    "parse_metrics",
]
