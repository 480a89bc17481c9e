"""What the store-reading subcommands share: where the store is, opening it, finding a run.

The store is ``--store PATH``, else ``$BYOHPO_STORE``, else ``./byohpo-runs/byohpo.sqlite``: the
local engine's :func:`byohpo.local.default_store_path`, so that ``byohpo run`` and the commands that
read its results always agree.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from byohpo.local import DEFAULT_HOME, STORE_ENV, default_store_path
from byohpo.store import RunNotFoundError, RunRecord, SQLiteStore, Store, StoreFileError

DEFAULT_STORE = DEFAULT_HOME / "byohpo.sqlite"
_LISTED = 20  # known run names listed in an error message


class CommandError(Exception):
    """A problem to report on one line and exit with ``code`` (2: bad input)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def add_store_option(parser: Any) -> None:
    """``--store PATH``, defaulting to ``$BYOHPO_STORE`` or ``./byohpo-runs/byohpo.sqlite``."""
    parser.add_argument("--store", metavar="PATH", default=None,
                        help=f"the run store (default: ${STORE_ENV}, else {DEFAULT_STORE})")


def store_path(option: str | None = None) -> Path:
    """The store file: the ``--store`` value, else ``$BYOHPO_STORE`` (when not empty), else the default
    (relative to the current directory)."""
    return Path(option) if option else default_store_path()


@contextmanager
def existing_store(path: Path) -> Iterator[Store | None]:
    """The store at ``path`` for reading, or None when there is no file yet (opening would create
    one, and a command that only reads must leave no file behind)."""
    if not path.exists():
        yield None
        return
    if path.is_dir():
        raise CommandError(f"{path} is a directory, not a store file")
    try:
        store = SQLiteStore(path)
    except StoreFileError as exc:  # not SQLite, damaged, locked, a newer schema
        raise CommandError(f"cannot read the store {exc}") from exc
    try:
        yield store
    except StoreFileError as exc:  # a file that opened but cannot be read through (truncated, locked)
        raise CommandError(f"cannot read the store {exc}") from exc
    finally:
        store.close()


def find_run(store: Store | None, path: Path, name: str) -> RunRecord:
    """The run named ``name``, or a :class:`CommandError` that lists the runs there are."""
    if store is not None:
        try:
            return store.get_run(name)
        except RunNotFoundError:
            pass
    known = [] if store is None else [run.name for run in store.list_runs()]
    if not known:
        raise CommandError(f"no run named {name!r}: {empty_message(path)}")
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    listed = ", ".join(known[:_LISTED]) + (f", ... ({len(known)} in all)" if len(known) > _LISTED else "")
    raise CommandError(f"no run named {name!r} in {path}{hint}; known runs: {listed}")


def empty_message(path: Path) -> str:
    """What to say when the store holds no run."""
    where = f"the store {path} has no runs yet" if path.exists() else f"there is no store at {path} yet"
    return (f"{where}. Start one with `byohpo run REQUEST.json`, or point at another store with "
            f"--store PATH or ${STORE_ENV}.")


@contextmanager
def piped() -> Iterator[None]:
    """Output into a pipe whose reader stops early (``byohpo leaderboard X --format csv | head``) is
    not an error: stop writing and exit quietly instead of with a BrokenPipeError traceback."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        # Python flushes stdout once more at exit; point it at /dev/null so that flush cannot fail.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def fail(command: str, exc: CommandError) -> int:
    print(f"byohpo {command}: {exc}", file=sys.stderr)
    return exc.code
