"""``byohpo runs [--store PATH]``: every run in the store, one line each, and whether it is going on."""

from __future__ import annotations

import argparse
from typing import Any

from byohpo.cli._common import (
    CommandError,
    add_store_option,
    empty_message,
    existing_store,
    fail,
    piped,
    store_path,
)
from byohpo.leaderboard import align, best_trial, request_info
from byohpo.local.state import RunState, run_state, stored_run_state
from byohpo.reasons import shorten
from byohpo.store import RunRecord, TrialRecord

HEADER = ("name", "status", "strategy", "trials", "best", "objective", "created (UTC)", "note")
_RIGHT = (False, False, False, True, True, False, False, False)
_NOTE_WIDTH = 90

COLUMNS = """\
columns:
  name           the run's HyperParameterTuningJobName
  status         Completed, Failed or Stopped once it has ended; while it has not:
                   running      a byohpo run on this machine drives it now
                   interrupted  nothing drives it (Ctrl-C, or its byohpo run was killed):
                                the note gives the command that resumes it
                   InProgress   driven from elsewhere (another host, an AWS execution)
  strategy       the request's Strategy
  trials         finished training jobs / MaxNumberOfTrainingJobs
  best           the best value of the first objective so far ('-' while none has one)
  objective      max or min, the first objective's metric; (+N) for N more objectives
  created (UTC)  when the run was created
  note           why it ended; who drives it and how many jobs are in flight; or how to resume it
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "runs", help="list the runs in the store: ended, running, or interrupted",
        description="List every run in the store, and tell a run going on from one that was "
                    "interrupted (with the command that resumes it) or has ended (with why).",
        epilog=COLUMNS, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_store_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = store_path(args.store)
    try:
        with existing_store(path) as store:
            lines = [line(r, store.get_trials(r.name), stored_run_state(store, r))
                     for r in store.list_runs()] if store else []
    except CommandError as exc:
        return fail("runs", exc)
    with piped():
        print(align(HEADER, lines, _RIGHT) if lines else empty_message(path))
    return 0


def line(record: RunRecord, trials: list[TrialRecord], state: RunState | None = None) -> list[str]:
    """One run's cells, in :data:`HEADER` order."""
    state = state or run_state(record, trials)
    info = request_info(record.request)
    done = sum(1 for t in trials if t.finished)
    budget = "?" if info.max_jobs is None else str(info.max_jobs)
    best = best_trial(trials, info.objectives)
    value = "-"
    if best is not None and best.values is not None:
        value = format(best.values[info.objectives[0].metric], ".6g")
    objective = ""
    if info.objectives:
        first = info.objectives[0]
        objective = f"{'max' if first.direction == 'Maximize' else 'min'} {first.metric}"
        if len(info.objectives) > 1:
            objective += f" (+{len(info.objectives) - 1})"
    created = record.created_at[:19].replace("T", " ")
    # Only why a run ended is cut: a command to resume and who holds a run are meant to be copied.
    note = shorten(state.note, _NOTE_WIDTH) if record.finished else state.note
    return [record.name, state.status, info.strategy or "?", f"{done}/{budget}", value, objective, created,
            note]
