"""The local store: one SQLite file, safe for several processes, durable across a killed writer.

Every conditional write is one ``BEGIN IMMEDIATE`` transaction, which takes the database's write lock
before reading, so the read-check-write of a claim or a generation cannot interleave with another
writer's; WAL mode lets readers go on meanwhile. A process killed at any moment leaves the file as it
was before or after the transaction, never in between (SQLite rolls a torn write back on next open).
WAL needs a local filesystem: do not put the file on NFS or SMB.

Every problem with the file itself (not a database, damaged, read-only, locked past the timeout, a
newer schema) is a :class:`StoreFileError` naming the file, never a bare ``sqlite3`` error.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from byohpo.store.base import (
    RunClaimedError,
    RunExistsError,
    RunNotFoundError,
    Store,
    StoreError,
    TrialNotFoundError,
    VersionConflictError,
    check_changes,
    check_finish,
    check_generation,
    check_owner,
    plan_generation,
)
from byohpo.store.records import RunRecord, TrialRecord, utc_now

SCHEMA_VERSION = 3
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    name TEXT PRIMARY KEY,
    request TEXT NOT NULL,          -- JSON
    fingerprint TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    stop_code TEXT,
    version INTEGER NOT NULL,
    owner TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    token TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS trials (
    run TEXT NOT NULL REFERENCES runs (name),
    trial_id TEXT NOT NULL,
    generation INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    params TEXT NOT NULL,           -- JSON
    meta TEXT NOT NULL,             -- JSON
    hyperparameters TEXT NOT NULL,  -- JSON
    status TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    job_name TEXT,
    "values" TEXT,                  -- JSON or NULL
    failure_reason TEXT,
    started_at TEXT,
    ended_at TEXT,
    log_path TEXT,
    curve TEXT,                     -- JSON or NULL
    watch TEXT,                     -- JSON or NULL
    PRIMARY KEY (run, trial_id),
    UNIQUE (run, generation, idx)
);
"""
_RUN_COLUMNS = ("name", "request", "fingerprint", "status", "reason", "stop_code", "version", "owner",
                "created_at", "updated_at", "token")
#: Changes from one schema version to the next, applied in order to an older file.
_UPGRADES: dict[int, tuple[str, ...]] = {
    1: ("ALTER TABLE runs ADD COLUMN token TEXT NOT NULL DEFAULT ''",),
    2: ("ALTER TABLE trials ADD COLUMN curve TEXT", "ALTER TABLE trials ADD COLUMN watch TEXT"),
}
_TRIAL_COLUMNS = ("run", "trial_id", "generation", "idx", "params", "meta", "hyperparameters", "status",
                  "attempt", "job_name", "values", "failure_reason", "started_at", "ended_at", "log_path",
                  "curve", "watch")
_RUN_JSON = ("request",)
_TRIAL_JSON = ("params", "meta", "hyperparameters", "values", "curve", "watch")


class StoreFileError(StoreError, RuntimeError):
    """The store file cannot be used: not a byohpo store, damaged, read-only, locked by another
    process past the timeout, or written by a newer byohpo. The message names the file and, where
    it can, the likely fix; nothing was written. (A RuntimeError too, as the newer-schema error was.)"""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


def _explain(path: Path, exc: BaseException, timeout: float) -> StoreFileError:
    """What an sqlite3 or OS error means for the store at ``path``, for people."""
    text = str(exc)
    low = text.lower()
    if "locked" in low or "busy" in low:
        message = (f"locked by another process for more than {timeout:g} s ({text}); is another byohpo "
                   "writing it? Wait for it, or stop it")
    elif "not a database" in low or "file is encrypted" in low:
        message = f"not a byohpo store ({text}); point --store (or $BYOHPO_STORE) at another file"
    elif "malformed" in low or "disk image" in low or "corrupt" in low:
        message = f"the store is damaged ({text}); move it aside to start afresh"
    elif "readonly" in low or "read-only" in low or "unable to open" in low or "permission" in low:
        message = (f"cannot write the store ({text}): the file or its folder is read-only or missing; "
                   "byohpo also needs to create the -wal and -shm files beside it")
    elif "disk" in low and "full" in low:
        message = f"the disk is full ({text})"
    else:
        message = f"{type(exc).__name__}: {text}"
    return StoreFileError(path, message)


def _dumps(value: Any) -> str | None:
    # allow_nan: a diverged training job reports NaN, and the record must say so rather than fail.
    return None if value is None else json.dumps(value, ensure_ascii=False, allow_nan=True)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _quoted(columns: Sequence[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


class SQLiteStore(Store):
    """The store in one SQLite file (created with its folder if missing).

    Args:
        path: the database file; the local engine uses ``./byohpo-runs/byohpo.sqlite``.
        timeout: seconds to wait for another process's write lock before failing with
            :class:`StoreFileError` (``database is locked``).
        clock: the ISO-8601 UTC timestamp source for ``created_at``/``updated_at`` (tests pin it).

    One connection per store object, shared by its threads under a lock. Open a store per process
    (after a fork, open a new one).
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0,
                 clock: Callable[[], str] = utc_now) -> None:
        self.path = Path(path)
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.RLock()
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: no implicit transactions; each write says BEGIN IMMEDIATE itself.
            self._db = sqlite3.connect(str(path), timeout=timeout, isolation_level=None,
                                       check_same_thread=False)
        except (sqlite3.Error, OSError) as exc:
            raise _explain(self.path, exc, timeout) from exc
        try:
            with self._errors():
                self._use_wal(timeout)
                # FULL syncs the WAL on every commit: a commit the caller saw survives a power cut
                # too, and writes are few (one per generation or trial event).
                self._db.execute("PRAGMA synchronous=FULL")
                self._db.execute("PRAGMA foreign_keys=ON")
                self._migrate()
        except BaseException:
            self._db.close()
            raise

    def _use_wal(self, timeout: float) -> None:
        """Switch the file to WAL. Changing the journal mode takes an exclusive lock for which SQLite
        does not always call its busy handler: processes opening a new file together got ``database is
        locked`` at once (1 of 4 in a CI run), so wait for it here, within the same ``timeout``."""
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def _migrate(self) -> None:
        """Create the schema in a new file, upgrade an older one; refuse a file written by a newer
        byohpo."""
        found = self._db.execute("PRAGMA user_version").fetchone()[0]
        if found == SCHEMA_VERSION:
            return  # the common case takes no write lock
        with self._write() as db:
            found = db.execute("PRAGMA user_version").fetchone()[0]
            if found > SCHEMA_VERSION:
                raise StoreFileError(self.path, f"written with store schema {found}; this byohpo reads "
                                                f"up to {SCHEMA_VERSION}: upgrade byohpo")
            if found == 0:  # a new file
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
            else:
                for version in range(found, SCHEMA_VERSION):
                    for statement in _UPGRADES[version]:
                        db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    # -- plumbing -------------------------------------------------------------------------------
    @contextmanager
    def _errors(self) -> Iterator[None]:
        """sqlite3's errors as :class:`StoreFileError`, naming the file and the likely fix."""
        try:
            yield
        except sqlite3.Error as exc:
            raise _explain(self.path, exc, self._timeout) from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction holding the database's write lock from its first read."""
        with self._lock, self._errors():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: a consistent snapshot across several SELECTs."""
        with self._lock, self._errors():
            self._db.execute("BEGIN")
            try:
                yield self._db
            finally:
                self._db.execute("COMMIT")

    def _run(self, db: sqlite3.Connection, name: str) -> RunRecord:
        row = db.execute(f"SELECT {_quoted(_RUN_COLUMNS)} FROM runs WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise RunNotFoundError(name)
        data = dict(zip(_RUN_COLUMNS, row, strict=True))
        for key in _RUN_JSON:
            data[key] = _loads(data[key])
        return RunRecord.from_dict(data)

    @staticmethod
    def _trial(row: Sequence[Any]) -> TrialRecord:
        data = dict(zip(_TRIAL_COLUMNS, row, strict=True))
        for key in _TRIAL_JSON:
            data[key] = _loads(data[key])
        data["index"] = data.pop("idx")
        return TrialRecord.from_dict(data)

    def _trials(self, db: sqlite3.Connection, where: str, args: Sequence[Any]) -> list[TrialRecord]:
        rows = db.execute(f"SELECT {_quoted(_TRIAL_COLUMNS)} FROM trials WHERE {where} "
                          "ORDER BY generation, idx", tuple(args)).fetchall()
        return [self._trial(row) for row in rows]

    def _set_run(self, db: sqlite3.Connection, run: RunRecord) -> RunRecord:
        run = run.replace(updated_at=self._clock())
        columns = [c for c in _RUN_COLUMNS if c != "name"]
        values = [_dumps(getattr(run, c)) if c in _RUN_JSON else getattr(run, c) for c in columns]
        db.execute(f"UPDATE runs SET {', '.join(f'{c} = ?' for c in columns)} WHERE name = ?",
                   (*values, run.name))
        return run

    @staticmethod
    def _trial_row(trial: TrialRecord) -> tuple[Any, ...]:
        out = []
        for column in _TRIAL_COLUMNS:
            value = getattr(trial, "index" if column == "idx" else column)
            out.append(_dumps(value) if column in _TRIAL_JSON else value)
        return tuple(out)

    # -- runs -----------------------------------------------------------------------------------
    def create_run(self, run: RunRecord) -> RunRecord:
        now = self._clock()
        run = run.replace(created_at=run.created_at or now, updated_at=run.updated_at or now)
        row = [_dumps(getattr(run, c)) if c in _RUN_JSON else getattr(run, c) for c in _RUN_COLUMNS]
        with self._write() as db:
            try:
                db.execute(f"INSERT INTO runs ({_quoted(_RUN_COLUMNS)}) "
                           f"VALUES ({', '.join('?' * len(row))})", row)
            except sqlite3.IntegrityError as exc:
                raise RunExistsError(run.name) from exc
            return self._run(db, run.name)

    def get_run(self, name: str) -> RunRecord:
        with self._read() as db:
            return self._run(db, name)

    def list_runs(self) -> list[RunRecord]:
        with self._read() as db:
            names = [row[0] for row in db.execute("SELECT name FROM runs ORDER BY name")]
            return [self._run(db, name) for name in names]

    def claim_run(self, name: str, owner: str, expected_owner: str | None = None) -> RunRecord:
        check_owner(owner)
        with self._write() as db:
            run = self._run(db, name)
            if run.owner == owner:
                return run
            if run.owner != expected_owner:
                raise RunClaimedError(name, run.owner)
            return self._set_run(db, run.replace(owner=owner))

    def release_run(self, name: str, owner: str) -> RunRecord:
        check_owner(owner)
        with self._write() as db:
            run = self._run(db, name)
            if run.owner is None:
                return run
            if run.owner != owner:
                raise RunClaimedError(name, run.owner)
            return self._set_run(db, run.replace(owner=None))

    def finish_run(self, name: str, status: str, reason: str | None = None,
                   stop_code: str | None = None) -> RunRecord:
        check_finish(status)
        with self._write() as db:
            run = self._run(db, name)
            if run.finished:
                return run
            return self._set_run(db, run.replace(status=status, reason=reason, stop_code=stop_code,
                                                 owner=None))

    # -- trials ---------------------------------------------------------------------------------
    def put_generation(self, name: str, generation: int, trials: Sequence[TrialRecord],
                       expected_version: int) -> list[TrialRecord]:
        check_generation(name, generation, trials, expected_version)
        with self._write() as db:
            run = self._run(db, name)
            existing = self._trials(db, "run = ? AND generation = ?", (name, generation))
            missing = plan_generation(name, generation, trials, expected_version, run, existing)
            if missing is None:
                return existing
            db.executemany(f"INSERT INTO trials ({_quoted(_TRIAL_COLUMNS)}) "
                           f"VALUES ({', '.join('?' * len(_TRIAL_COLUMNS))})",
                           [self._trial_row(trial) for trial in missing])
            self._set_run(db, run.replace(version=expected_version + 1))
            return self._trials(db, "run = ? AND generation = ?", (name, generation))

    def update_trial(self, name: str, trial_id: str, /, *, expected_attempt: int | None = None,
                     **changes: Any) -> TrialRecord:
        check_changes(changes)
        with self._write() as db:
            current = self._trials(db, "run = ? AND trial_id = ?", (name, trial_id))
            if not current:
                self._run(db, name)  # RunNotFoundError first when the run itself is missing
                raise TrialNotFoundError(name, trial_id)
            trial = current[0]
            if expected_attempt is not None and trial.attempt != expected_attempt:
                raise VersionConflictError(name, f"trial {trial_id} is at attempt {trial.attempt}, "
                                                 f"not {expected_attempt}")
            updated = trial.replace(**changes)
            columns = sorted(changes)
            db.execute(f"UPDATE trials SET {', '.join(f'{_quoted([c])} = ?' for c in columns)} "
                       "WHERE run = ? AND trial_id = ?",
                       (*[_dumps(getattr(updated, c)) if c in _TRIAL_JSON else getattr(updated, c)
                          for c in columns], name, trial_id))
            return self._trials(db, "run = ? AND trial_id = ?", (name, trial_id))[0]

    def get_trial(self, name: str, trial_id: str) -> TrialRecord:
        with self._read() as db:
            found = self._trials(db, "run = ? AND trial_id = ?", (name, trial_id))
            if not found:
                self._run(db, name)
                raise TrialNotFoundError(name, trial_id)
            return found[0]

    def get_trials(self, name: str) -> list[TrialRecord]:
        with self._read() as db:
            self._run(db, name)
            return self._trials(db, "run = ?", (name,))

    # -- how a local run was started (not part of the Store interface) ------------------------------
    # A table of its own, created on first use and never required: a store written by an older byohpo
    # has none, and an older byohpo ignores it, so the schema version stays.
    _COMMANDS = ("CREATE TABLE IF NOT EXISTS commands (run TEXT PRIMARY KEY, argv TEXT NOT NULL, "
                 "cwd TEXT NOT NULL, updated_at TEXT NOT NULL)")

    def set_command(self, name: str, argv: Sequence[str], cwd: str) -> None:
        """Remember the command line (and its working directory) that drives run ``name`` locally, so
        that ``byohpo runs`` can say how to resume it once interrupted."""
        with self._write() as db:
            db.execute(self._COMMANDS)
            db.execute("INSERT OR REPLACE INTO commands (run, argv, cwd, updated_at) VALUES (?, ?, ?, ?)",
                       (name, json.dumps(list(argv)), cwd, self._clock()))

    def command(self, name: str) -> tuple[list[str], str] | None:
        """``(argv, cwd)`` of the last ``set_command`` for run ``name``, or None."""
        with self._read() as db:
            if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'commands'"
                          ).fetchone() is None:
                return None
            row = db.execute("SELECT argv, cwd FROM commands WHERE run = ?", (name,)).fetchone()
        return None if row is None else (list(json.loads(row[0])), row[1])

    def close(self) -> None:
        with self._lock:
            self._db.close()
