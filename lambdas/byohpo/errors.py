"""byohpo's exceptions.

Step Functions matches Lambda errors by the Python class name, so every error a state machine may
branch on is a named class here, and adapters translate foreign errors into them at the boundary.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class ByohpoError(Exception):
    """Base class of every error byohpo raises on purpose."""


@dataclass(frozen=True)
class FieldError:
    """One problem with one field of the input, named by its path (``ParameterRanges.X[0].MinValue``)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ValidationError(ByohpoError, ValueError):
    """The input is malformed. Carries every problem found, each naming its field."""

    def __init__(self, errors: Iterable[FieldError] | FieldError | str, path: str = "") -> None:
        if isinstance(errors, str):
            errors = [FieldError(path, errors)]
        elif isinstance(errors, FieldError):
            errors = [errors]
        self.errors: list[FieldError] = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors))

    def prefixed(self, prefix: str) -> ValidationError:
        """The same errors with their paths nested under ``prefix``."""
        def join(path: str) -> str:
            if not path:
                return prefix
            return f"{prefix}{path}" if path.startswith("[") else f"{prefix}.{path}"

        return ValidationError([FieldError(join(e.path), e.message) for e in self.errors])


class UnknownStrategyError(ValidationError):
    """No strategy is registered under the requested name."""


class SearchExhausted(ByohpoError):
    """Raised by ``propose`` when the strategy has nothing left to try (a fully evaluated grid).

    The engine ends the run with the message as its stopping reason.
    """


class ReplayMismatchError(ByohpoError):
    """A strategy replaying the stored history found a trial it would not have proposed.

    The history was changed, or the strategy's code, seed or options differ from those that proposed
    it. Continuing would silently propose different candidates, so the strategy refuses.
    """
