"""What the local engine shows while it runs: a live bar on a terminal, one line per event elsewhere
(CI logs, pipes, files). The engine calls a :class:`Reporter`; the base class shows nothing.

Both show the same facts, so that a log says as much as a terminal: the generation, training jobs
done out of the budget, the best value so far, how many run now, and the time left to spend the
budget at the pace of this session (a stopping rule may end the run sooner; the run's own
``MaxRuntimeInSeconds`` caps the estimate).
"""

from __future__ import annotations

import shlex
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import IO, Any

from byohpo.early_stopping import Verdict
from byohpo.reasons import headline
from byohpo.request import TuningRequest
from byohpo.store.records import RunRecord, TrialRecord


class Reporter:
    """Progress events of a local run. Called from worker threads: implementations lock."""

    def start(self, run: RunRecord, request: TuningRequest, trials: Sequence[TrialRecord]) -> None: ...
    def generation(self, generation: int, trials: Sequence[TrialRecord]) -> None: ...
    def trial_started(self, trial: TrialRecord) -> None: ...
    def trial_stopping_early(self, trial_id: str, job_name: str | None, verdict: Verdict) -> None:
        """The early-stopping rule condemned a running trial; it is being stopped (SIGTERM)."""
    def trial_finished(self, trial: TrialRecord) -> None: ...
    def finished(self, run: RunRecord, trials: Sequence[TrialRecord]) -> None: ...
    def already_finished(self, run: RunRecord) -> None: ...
    def close(self) -> None:
        """The engine is done with the run, finished or interrupted: release the display."""


def jobs(n: int) -> str:
    """``1 training job``, ``2 training jobs``."""
    return f"{n} training job{'s' * (n != 1)}"


def format_params(params: Mapping[str, Any]) -> str:
    """``learning_rate=0.04213 optimizer='adam w'``: floats to 4 significant digits, as the leaderboard
    shows them, and values quoted where a shell would need it (spaces), so that each reads as one."""
    out = []
    for name, value in params.items():
        if isinstance(value, float):
            text = format(value, ".4g")
        else:
            text = shlex.quote(str(value)) if str(value) else "''"
        out.append(f"{name}={text}")
    return " ".join(out)


def format_duration(seconds: float) -> str:
    """``45s``, ``3m05s``, ``2h10m``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class ConsoleReporter(Reporter):
    """A live bar (rich) on a terminal, plain lines otherwise.

    Plain output has one line per generation, one per finished training job with the run's state
    after it (``best 0.98 · 2 running · ~1m10s left``), and the run's end: why it stopped and its best
    trial. The live bar shows the same state and prints the same job lines above itself.

    Args:
        stream: where to write (default: standard output).
        live: show the live bar; None (default) shows it when ``stream`` is a terminal.
        clock: seconds, monotonic (tests pass their own).
    """

    def __init__(self, stream: IO[str] | None = None, live: bool | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty() if live is None else live
        self._clock = clock
        self._lock = threading.Lock()
        self._done = 0
        self._total = 0
        self._generation = 0
        self._running: set[str] = set()
        self._best: float | None = None
        self._best_job: str | None = None
        self._objective: Any = None
        self._session_start: float | None = None  # when this session's first job started
        self._session_done = 0
        self._deadline: float | None = None  # the run's MaxRuntimeInSeconds, on our clock
        self._progress: Any = None
        self._task: Any = None

    # -- state -------------------------------------------------------------------------------------
    def _best_text(self) -> str:
        if self._best is None:
            return f"best {self._objective.metric}: -"
        return f"best {self._objective.metric}: {self._best:.6g} ({self._best_job})"

    def _consider(self, trial: TrialRecord) -> None:
        # A completed trial's value, or an early-stopped one's last value: what the run ranks by.
        score = self._objective.score(trial.to_trial()) if trial.finished else None
        if score is not None and (self._best is None or score > self._objective.sign * self._best):
            self._best, self._best_job = self._objective.sign * score, trial.job_name

    def _eta(self) -> str | None:
        """The time left to spend the budget at this session's pace, or None before it has one."""
        left = self._total - self._done
        now = self._clock()
        estimate = None
        if left <= 0:
            estimate = 0.0
        elif self._session_done and self._session_start is not None:
            estimate = (now - self._session_start) / self._session_done * left
        if estimate is None:  # no pace yet: the run's time limit alone would be no estimate
            return None
        if self._deadline is not None:
            estimate = min(estimate, max(0.0, self._deadline - now))
        return f"~{format_duration(estimate)} left"

    def _state(self) -> str:
        """``best 0.98 · 2 running · ~1m10s left``: short enough for an 80-column bar."""
        best = "best -" if self._best is None else f"best {self._best:.6g}"
        parts = [best, f"{len(self._running)} running"]
        eta = self._eta()
        if eta:
            parts.append(eta)
        return " · ".join(parts)

    def _print(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text, highlight=False, markup=False, soft_wrap=True)
        else:
            print(text, file=self.stream, flush=True)

    def _refresh(self) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=self._done, total=self._total,
                                  description=f"gen {self._generation}", state=self._state())

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
            limit = request.stopping.max_runtime_seconds
            if limit is not None and run.created_at:
                created = datetime.fromisoformat(run.created_at.replace("Z", "+00:00"))
                spent = (datetime.now(UTC) - created).total_seconds()
                self._deadline = self._clock() + limit - spent
            verb = "resuming" if trials else "starting"
            goal = f"{'maximize' if self._objective.direction == 'Maximize' else 'minimize'} " \
                   f"{self._objective.metric}"
            text = (f"{verb} run {run.name}: strategy {request.strategy}, {goal}, up to "
                    f"{jobs(self._total)}, {request.max_parallel} at a time")
            if finished:
                text += f"; {len(finished)} done already, {self._best_text()}"
            if self.live:
                self._start_live()
            self._print(text)
            self._refresh()

    def _start_live(self) -> None:
        try:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
        except ImportError:
            self.live = False
            return
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(bar_width=20),
                                  MofNCompleteColumn(), TextColumn("{task.fields[state]}"), transient=True,
                                  # live=True asked for the bar: draw it, terminal or not.
                                  console=Console(file=self.stream, force_terminal=True))
        self._progress.start()
        self._task = self._progress.add_task("", total=self._total, completed=self._done, state="")

    def generation(self, generation: int, trials: Sequence[TrialRecord]) -> None:
        with self._lock:
            self._generation = generation
            size = len(trials)
            text = f"generation {generation}: {jobs(size)}"
            note = self._smaller(size, trials)
            self._print(f"{text} ({note})" if note else text)
            self._refresh()

    def _smaller(self, size: int, trials: Sequence[TrialRecord]) -> str | None:
        """Why a generation has fewer jobs than the strategy's population, when it does."""
        population = trials[0].meta.get("population_size") if trials else None
        if isinstance(population, bool) or not isinstance(population, int) or size >= population:
            return None
        if size == self._total - self._done:
            return f"population {population}: the budget has {size} left"
        repeats = population - size
        verb = "repeats a point" if repeats == 1 else "repeat points"
        return (f"population {population}: {repeats} candidate{'s' * (repeats != 1)} {verb} already "
                "tried or proposed, and each point runs once")

    def trial_started(self, trial: TrialRecord) -> None:
        with self._lock:
            if self._session_start is None:
                self._session_start = self._clock()
            self._running.add(trial.trial_id)
            self._refresh()

    def trial_stopping_early(self, trial_id: str, job_name: str | None, verdict: Verdict) -> None:
        with self._lock:
            self._print(f"  stopping {job_name or trial_id} early: {verdict.message}")

    def trial_finished(self, trial: TrialRecord) -> None:
        with self._lock:
            self._done += 1
            self._session_done += 1
            if self._session_start is None:  # a job that could not start
                self._session_start = self._clock()
            self._running.discard(trial.trial_id)
            self._consider(trial)
            if trial.early_stopped:
                epochs = trial.learning_curve().epochs
                kept = " ".join(f"{k}={v:.6g}" for k, v in (trial.values or {}).items()) or "no value"
                outcome = f"stopped early after {epochs} epoch{'s' * (epochs != 1)}: {kept}"
            elif trial.status == "Completed" and trial.values:
                outcome = " ".join(f"{k}={v:.6g}" for k, v in trial.values.items())
            elif trial.status == "Completed":
                outcome = "Completed without metrics"
            else:
                outcome = f"{trial.status}: {headline(trial.failure_reason) or 'no reason given'}"
            params = format_params(trial.params)
            line = f"  [{self._done}/{self._total}] {trial.job_name}  {params}  -> {outcome}"
            # On a terminal the bar shows the state; in a log, each line carries it.
            self._print(line if self._progress is not None else f"{line}  ({self._state()})")
            self._refresh()

    def finished(self, run: RunRecord, trials: Sequence[TrialRecord]) -> None:
        with self._lock:
            self._stop_display()
            self._print(f"run {run.name} {run.status}: {run.reason}")
            stopped = [t for t in trials if t.early_stopped]
            if stopped:
                epochs = sum(t.learning_curve().epochs for t in trials if t.finished)
                self._print(f"early stopping stopped {len(stopped)} of {jobs(len(trials))}; "
                            f"{epochs} epochs run in all")
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


__all__ = ["ConsoleReporter", "Reporter", "format_duration", "format_params", "jobs"]
