"""Is a run going on, interrupted, or finished? What ``byohpo runs`` and ``byohpo leaderboard`` say.

A store only says ``InProgress`` for a run that has not finished, and a run whose engine was
interrupted (Ctrl-C releases it) or killed (``kill -9`` leaves it held by a process that no longer
exists) looks exactly like one going on in another terminal. The holder tells them apart: a local
engine holds its run as ``pid@host`` while it drives it, and on this host a pid can be checked.
"""

from __future__ import annotations

import os
import shlex
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from byohpo.store.base import Store
from byohpo.store.records import RunRecord, TrialRecord
from byohpo.store.sqlite import SQLiteStore

#: The states :func:`run_state` gives an unfinished run.
RUNNING, INTERRUPTED, ELSEWHERE = "running", "interrupted", "InProgress"


def local_owner() -> str:
    """Who holds a run driven from this process: ``pid@host``."""
    return f"{os.getpid()}@{socket.gethostname()}"


def holder_is_dead(holder: str | None) -> bool:
    """True when ``holder`` is a local engine on this host whose process no longer exists."""
    pid, _, host = (holder or "").partition("@")
    if not pid.isdigit() or host != socket.gethostname():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by someone else
        return False
    return False


def _local_pid(holder: str | None) -> int | None:
    pid, _, host = (holder or "").partition("@")
    return int(pid) if pid.isdigit() and host == socket.gethostname() else None


@dataclass(frozen=True)
class RunState:
    """``status``: the run's own status when finished; else ``running`` (a live engine on this host),
    ``interrupted`` (nobody drives it: Ctrl-C, or an engine that died), or ``InProgress`` (held by
    something this machine cannot check: another host, an AWS execution). ``note`` says what to know:
    why it ended, who drives it, or the command that resumes it."""

    status: str
    note: str
    to_rerun: int = 0


def run_state(run: RunRecord, trials: Sequence[TrialRecord],
              command: tuple[list[str], str] | None = None) -> RunState:
    """The state of ``run``; ``command`` is how it was last started (``argv``, working directory), as
    ``SQLiteStore.command`` keeps it, to say how to resume it."""
    if run.finished:
        return RunState(run.status, " ".join((run.reason or "").split()))
    unfinished = sum(1 for t in trials if not t.finished)
    in_flight = sum(1 for t in trials if t.status == "InProgress")
    pid = _local_pid(run.owner)
    if run.owner is not None and not holder_is_dead(run.owner):
        if pid is not None:
            jobs = f", {in_flight} training job{'s' * (in_flight != 1)} in flight" if in_flight else ""
            return RunState(RUNNING, f"driven by byohpo run (pid {pid}){jobs}")
        where = "an AWS execution" if run.owner.startswith("arn:") else "another host"
        return RunState(ELSEWHERE, f"driven by {where}: {run.owner}")
    how = "its engine was killed" if run.owner is not None else "interrupted"
    rerun = f"; {unfinished} unfinished training job{'s' * (unfinished != 1)} will run" if unfinished else ""
    return RunState(INTERRUPTED, f"{how}{rerun}; resume with: {resume_command(run, command)}", unfinished)


def stored_run_state(store: Store, run: RunRecord) -> RunState:
    """:func:`run_state` of a run read from ``store``, with the command that last drove it when the
    store keeps one (a local SQLite store does)."""
    command = store.command(run.name) if isinstance(store, SQLiteStore) and not run.finished else None
    return run_state(run, store.get_trials(run.name), command)


def resume_command(run: RunRecord, command: tuple[list[str], str] | None) -> str:
    """The command that resumes ``run``: the one that last drove it, from its working directory."""
    if command is None:
        return f"byohpo run REQUEST.json (the request of {run.name})"
    argv, cwd = command
    text = shlex.join(argv)
    try:
        here = Path.cwd().resolve() == Path(cwd).resolve()
    except OSError:
        here = False
    return text if here else f"cd {shlex.quote(cwd)} && {text}"


__all__ = ["ELSEWHERE", "INTERRUPTED", "RUNNING", "RunState", "holder_is_dead", "local_owner",
           "resume_command", "run_state", "stored_run_state"]
