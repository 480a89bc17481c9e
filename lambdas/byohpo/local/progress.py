"""What the local engine shows while it runs: a progress bar on a terminal, one line per event elsewhere
(CI logs, pipes). The engine calls a :class:`Reporter`; the base class shows nothing."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import IO, Any

from byohpo.request import TuningRequest
from byohpo.store.records import RunRecord, TrialRecord


class Reporter:
    """Progress events of a local run. Called from worker threads: implementations lock."""

    def start(self, run: RunRecord, request: TuningRequest, trials: Sequence[TrialRecord]) -> None: ...
    def generation(self, generation: int, size: int) -> None: ...
    def trial_started(self, trial: TrialRecord) -> None: ...
    def trial_finished(self, trial: TrialRecord) -> None: ...
    def finished(self, run: RunRecord, trials: Sequence[TrialRecord]) -> None: ...
    def already_finished(self, run: RunRecord) -> None: ...
    def close(self) -> None:
        """The engine is done with the run, finished or interrupted: release the display."""


class ConsoleReporter(Reporter):
    """Jobs done/total, best so far and the current generation: a live bar (rich) on a terminal, plain
    lines otherwise. Each finished trial gets a line; the run's end prints its reason and best trial.

    Args:
        stream: where to write (default: standard output).
        live: show the live bar; None (default) shows it when ``stream`` is a terminal.
    """

    def __init__(self, stream: IO[str] | None = None, live: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty() if live is None else live
        self._lock = threading.Lock()
        self._done = 0
        self._total = 0
        self._generation = 0
        self._best: float | None = None
        self._best_job: str | None = None
        self._objective: Any = None
        self._progress: Any = None
        self._task: Any = None

    # -- state -------------------------------------------------------------------------------------
    def _best_text(self) -> str:
        if self._best is None:
            return "best: -"
        return f"best {self._objective.metric}: {self._best:.6g} ({self._best_job})"

    def _consider(self, trial: TrialRecord) -> None:
        value = (trial.values or {}).get(self._objective.metric)
        if trial.status == "Completed" and value is not None and (
                self._best is None or self._objective.better(value, self._best)):
            self._best, self._best_job = value, trial.job_name

    def _print(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text, highlight=False, markup=False)
        else:
            print(text, file=self.stream, flush=True)

    def _refresh(self) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=self._done, total=self._total,
                                  description=f"generation {self._generation}  {self._best_text()}")

    # -- events ------------------------------------------------------------------------------------
    def start(self, run: RunRecord, request: TuningRequest, trials: Sequence[TrialRecord]) -> None:
        with self._lock:
            self._objective = request.objectives[0]
            self._total = request.stopping.max_jobs
            finished = [t for t in trials if t.finished]
            self._done = len(finished)
            for t in finished:
                self._consider(t)
            self._generation = max((t.generation for t in trials), default=0)
            verb = "resuming" if trials else "starting"
            text = (f"{verb} run {run.name}: strategy {request.strategy}, {self._total} training jobs, "
                    f"{request.max_parallel} at a time")
            if finished:
                text += f"; {len(finished)} done already, {self._best_text()}"
            if self.live:
                try:
                    from rich.console import Console
                    from rich.progress import (
                        BarColumn,
                        MofNCompleteColumn,
                        Progress,
                        TextColumn,
                        TimeElapsedColumn,
                    )
                except ImportError:
                    self.live = False
                else:
                    self._progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                              MofNCompleteColumn(), TimeElapsedColumn(), transient=True,
                                              console=Console(file=self.stream))
                    self._progress.start()
                    self._task = self._progress.add_task("", total=self._total, completed=self._done)
            self._print(text)
            self._refresh()

    def generation(self, generation: int, size: int) -> None:
        with self._lock:
            self._generation = generation
            self._print(f"generation {generation}: {size} training job{'s' if size != 1 else ''}")
            self._refresh()

    def trial_finished(self, trial: TrialRecord) -> None:
        with self._lock:
            self._done += 1
            self._consider(trial)
            params = " ".join(f"{k}={v}" for k, v in trial.params.items())
            if trial.status == "Completed":
                values = " ".join(f"{k}={v:.6g}" for k, v in (trial.values or {}).items())
                outcome = values or "no metrics"
            else:
                outcome = f"{trial.status}: {_short_reason(trial.failure_reason)}"
            self._print(f"  [{self._done}/{self._total}] {trial.job_name}  {params}  -> {outcome}")
            self._refresh()

    def finished(self, run: RunRecord, trials: Sequence[TrialRecord]) -> None:
        with self._lock:
            self._stop_display()
            self._print(f"run {run.name} {run.status}: {run.reason}")
            if self._best is not None:
                self._print(self._best_text())

    def close(self) -> None:
        with self._lock:
            self._stop_display()

    def _stop_display(self) -> None:
        # A live display left running would keep the terminal's cursor hidden after an interrupt.
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def already_finished(self, run: RunRecord) -> None:
        self._print(f"run {run.name} already finished ({run.status}: {run.reason}); "
                    "use a new HyperParameterTuningJobName to tune again")


def _short_reason(reason: str | None) -> str:
    """One line of a failure reason: its first line, and the last log line when the first only
    announces the log tail (``AlgorithmError: exit code 1: last log lines:``)."""
    lines = [line.strip() for line in (reason or "").strip().splitlines() if line.strip()]
    if not lines:
        return "no reason given"
    if len(lines) > 1 and lines[0].endswith(":"):
        return f"{lines[0]} {lines[-1]}"
    return lines[0]
