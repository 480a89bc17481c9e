"""Failure reasons for people: the one line that says what went wrong.

A training job's ``FailureReason`` can be long: the local engine writes ``AlgorithmError: exit code 1:
last log lines:`` and then the log's tail, where the error is the *last* line of a Python traceback,
not the first line of the tail. The leaderboard's table, the progress lines and the run's ending all
show :func:`headline`; the whole reason stays in the store, the CSV and the JSON.
"""

from __future__ import annotations

import re

#: The line the local engine puts before a log tail when the script left no ``failure`` file.
LOG_TAIL = "last log lines:"

# The last line of a Python traceback: ``RuntimeError: boom``, ``KeyboardInterrupt``,
# ``sklearn.exceptions.NotFittedError: ...``.
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning)\b(:.*)?$")


def headline(reason: str | None) -> str:
    """One line of a failure reason: the exception from a log tail, else the reason's first line.

    ``AlgorithmError: exit code 1: last log lines:\\n...Traceback...\\nRuntimeError: boom`` becomes
    ``AlgorithmError: exit code 1: RuntimeError: boom``. Empty when there is no reason.
    """
    lines = [" ".join(line.split()) for line in (reason or "").splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return ""
    first = lines[0]
    if not first.endswith(LOG_TAIL) or len(lines) == 1:
        return first
    tail = lines[1:]
    found = next((line for line in reversed(tail) if _EXCEPTION.match(line)), tail[-1])
    lead = first[: -len(LOG_TAIL)].rstrip()
    return f"{lead} {found}" if lead else found


def shorten(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, the cut marked with ``…``."""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


__all__ = ["LOG_TAIL", "headline", "shorten"]
