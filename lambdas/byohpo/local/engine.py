"""The local engine: the tuning loop of ``byohpo.tuning`` driven in one process, with trials run as
local training processes and the run kept in a store (SQLite by default).

Every trial's learning curve (the first objective's values, one per epoch, as its log prints them) is
recorded as the log is read and stored with the trial. With ``TrainingJobEarlyStoppingType: "Auto"``
each new epoch of a running trial is judged by SageMaker's median rule
(``byohpo.early_stopping.check_early_stopping``) against the curves of the run's trials that have
finished, as the store holds them; a trial it condemns is stopped like one at its time limit (SIGTERM,
then SIGKILL after the grace period) and recorded ``Stopped``, its reason ``EarlyStopped: ...``, with
the last values it printed.

Nothing the engine knows lives only in memory: before a trial starts it is ``InProgress`` in the
store, and its result is written the moment it ends. Killed at any point (SIGKILL included), the next
``byohpo run`` of the same request finds the completed trials, reruns the ones that were in flight
under a new attempt, and the strategy, replaying the same history, continues as if never interrupted.
"""

from __future__ import annotations

import shutil
import signal
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from byohpo.early_stopping import (
    EARLIER_STATUSES,
    Curve,
    CurveRecorder,
    EarlyStopped,
    Verdict,
    check_early_stopping,
)
from byohpo.errors import ByohpoError
from byohpo.jobs.local import LocalJobResult, LocalTrainingJob
from byohpo.local.progress import Reporter
from byohpo.local.state import holder_is_dead, local_owner
from byohpo.request import TuningRequest, check_channels, check_local
from byohpo.stopping import TARGET, StopReason, out_of_time
from byohpo.store.base import RunClaimedError, Store, StoreError
from byohpo.store.records import RunRecord, TrialRecord, utc_now
from byohpo.tuning import (
    conclude,
    decide,
    elapsed_seconds,
    next_generation,
    open_run,
    training_job_name,
)


class RunInterrupted(ByohpoError):
    """The run was interrupted (Ctrl-C or SIGTERM); it resumes with the same ``byohpo run``."""


class LocalEngine:
    """Runs one tuning request to its end on this machine.

    Args:
        request: the parsed tuning request.
        store: where the run and its trials live.
        runs_dir: the folder for trial folders (``<runs_dir>/<run>/<trial>/attempt-<k>/``: SageMaker's
            ``/opt/ml`` of each attempt, with ``train.log``, ``model/`` and ``output/``).
        base_dir: the folder a relative ``Local.EntryPoint`` is resolved from.
        reporter: progress display; None shows nothing.
        kill_grace_seconds: time between SIGTERM and SIGKILL when a trial is stopped.
        now: the clock (tests pass their own).
        on_claim: called with the run once this engine holds it, before any trial starts
            (``byohpo run`` records there how to resume it).
    """

    def __init__(self, request: TuningRequest, *, store: Store, runs_dir: Path, base_dir: Path,
                 reporter: Reporter | None = None, kill_grace_seconds: float = 5.0,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 on_claim: Callable[[RunRecord], None] | None = None) -> None:
        self.request = request
        self.store = store
        self.runs_dir = Path(runs_dir)
        self.entry_point = check_local(request, base_dir)
        self.channels = check_channels(request, base_dir)
        self.reporter = reporter or Reporter()
        self.kill_grace_seconds = kill_grace_seconds
        self.now = now
        self.owner = local_owner()
        self.on_claim = on_claim
        # Set on Ctrl-C/SIGTERM: trials stopped then were not judged, and stay InProgress to rerun.
        self._interrupted = threading.Event()
        # Why every trial in flight is being stopped (the run's time is up, or an interrupt); once set,
        # no trial starts. Each job has its own stop, so that stopping one never cancels the others.
        self._halt: str | None = None
        self._out_of_time = False  # the run's MaxRuntimeInSeconds stopped trials or kept them from starting
        self._jobs: dict[str, LocalTrainingJob] = {}
        self._lock = threading.Lock()
        stopping = request.training.get("StoppingCondition") or {}
        self.trial_max_runtime: int | None = stopping.get("MaxRuntimeInSeconds")
        self.metric_definitions = request.log_metric_definitions()
        self.objective = request.objectives[0]
        self.early_stopping = request.early_stopping
        # The learning curves of the run's finished trials, by trial id, as the store holds them: what
        # the early-stopping rule compares a running trial with. Read at each generation's start and
        # added to as trials finish.
        self._finished_curves: dict[str, Curve] = {}

    # -- the loop ---------------------------------------------------------------------------------
    def run(self) -> RunRecord:
        """Drive the run until a stopping rule holds; returns the finished run. Raises
        :class:`RunInterrupted` on Ctrl-C/SIGTERM after stopping the trials in flight."""
        run, _ = open_run(self.store, self.request)
        if run.finished:
            self.reporter.already_finished(run)
            return run
        run = self._claim(run)
        restore = self._trap_sigterm()
        try:
            if self.on_claim is not None:
                self.on_claim(run)
            return self._loop(run)
        except KeyboardInterrupt:
            raise RunInterrupted(f"run {run.name} interrupted") from None
        finally:
            restore()
            self.reporter.close()
            self._release(run.name)

    def _release(self, name: str) -> None:
        """Let go of an unfinished run, so that the next ``byohpo run`` needs no takeover. A store
        that fails here (the error that ended the run, again) must not hide that first error: the
        run then stays held by this process, and the next engine takes it over once it has exited."""
        try:
            run = self.store.get_run(name)
            if not run.finished and run.owner == self.owner:
                self.store.release_run(name, self.owner)
        except StoreError:
            pass

    def _loop(self, run: RunRecord) -> RunRecord:
        name = run.name
        trials = self.store.get_trials(name)
        self.reporter.start(run, self.request, trials)
        while True:
            todo = [t for t in trials if not t.finished]
            if not todo:
                elapsed = elapsed_seconds(run, self.now())
                stop = decide(self.request, trials, elapsed)
                if self._out_of_time and (stop is None or stop.code != TARGET):
                    # The trials stopped for the run's time say nothing about the script: the run's
                    # time is why it ends.
                    stop = out_of_time(self.request.stopping, elapsed) or stop
                if stop is None:
                    proposal = next_generation(self.request, run, trials)
                    if isinstance(proposal, StopReason):
                        stop = proposal
                    else:
                        todo = self.store.put_generation(name, run.version, proposal, run.version)
                        run = self.store.get_run(name)
                        self.reporter.generation(run.version - 1, todo)
                if stop is not None:
                    stop = conclude(self.request, self.store.get_trials(name), stop)
                    run = self.store.finish_run(name, stop.run_status, stop.message, stop.code)
                    self.reporter.finished(run, self.store.get_trials(name))
                    return run
            self._execute(run, todo)
            trials = self.store.get_trials(name)

    def _execute(self, run: RunRecord, todo: list[TrialRecord]) -> None:
        """Run ``todo`` with at most MaxParallelTrainingJobs processes; returns when all have ended.
        The run's MaxRuntimeInSeconds stops what is in flight and skips what has not started."""
        limit = self.request.stopping.max_runtime_seconds
        with self._lock:
            self._finished_curves = {t.trial_id: t.learning_curve() for t in self.store.get_trials(run.name)
                                     if t.status in EARLIER_STATUSES and t.curve}
        with ThreadPoolExecutor(max_workers=self.request.max_parallel,
                                thread_name_prefix="byohpo-trial") as pool:
            futures: set[Future[Any]] = {pool.submit(self._run_trial, run, t) for t in todo}
            try:
                while futures:
                    done, futures = wait(futures, timeout=0.5, return_when=FIRST_COMPLETED)
                    for future in done:
                        future.result()  # a bug in a worker surfaces here, not silently
                    if limit is not None and elapsed_seconds(run, self.now()) >= limit:
                        self._halt_all(_out_of_time(limit), out_of_time=True)
            except BaseException:
                self._interrupted.set()  # Ctrl-C: stop every trial in flight, start no other
                self._halt_all("the local engine was interrupted")
                raise

    def _run_trial(self, run: RunRecord, trial: TrialRecord) -> None:
        limit = self.request.stopping.max_runtime_seconds
        if limit is not None and elapsed_seconds(run, self.now()) >= limit:
            self._halt_all(_out_of_time(limit), out_of_time=True)
        # A trial found InProgress was in flight when an engine died: rerun it under a new job name.
        attempt = trial.attempt + (1 if trial.status == "InProgress" else 0)
        job_name = training_job_name(run.name, trial.generation, trial.index, attempt)
        trial_dir = self.runs_dir / run.name / trial.trial_id / f"attempt-{attempt}"
        watcher = _Watcher(self, trial)
        try:
            job = LocalTrainingJob(
                self.entry_point, trial.hyperparameters, trial_dir,
                channels=self.channels, input_data_config=self.request.local_input_data_config(),
                metric_definitions=self.metric_definitions, max_runtime_seconds=self.trial_max_runtime,
                env={"TRAINING_JOB_NAME": job_name},
                required_metrics=[o.metric for o in self.request.objectives], job_name=job_name,
                on_metric=watcher.on_metric, kill_grace_seconds=self.kill_grace_seconds)
            watcher.job = job
        except (OSError, ValueError, TypeError) as exc:  # the entry point went away since the start
            self._cannot_start(run, trial, attempt, job_name, exc)
            return
        # Registered before it starts, under the lock _halt_all takes: a halt either comes first and
        # the trial never starts, or sees the job and stops it.
        with self._lock:
            halt = self._halt
            if halt is None:
                self._jobs[trial.trial_id] = job
        if halt is not None:
            if not self._interrupted.is_set():  # interrupted: left as it is, to run on resume
                self.store.update_trial(run.name, trial.trial_id, expected_attempt=trial.attempt,
                                        status="Stopped", ended_at=utc_now(),
                                        failure_reason=f"not started: {halt}")
            return
        try:
            if trial_dir.exists():  # left by an engine killed before it recorded the attempt
                shutil.rmtree(trial_dir)
            trial = self.store.update_trial(
                run.name, trial.trial_id, expected_attempt=trial.attempt, status="InProgress",
                attempt=attempt, job_name=job_name, started_at=utc_now(), ended_at=None,
                log_path=str(job.log_path))
            self.reporter.trial_started(trial)
            try:
                result = job.run()
            except OSError as exc:  # its folder or log cannot be written (disk full, permissions)
                self._cannot_start(run, trial, attempt, job_name, exc)
                return
        finally:
            with self._lock:
                self._jobs.pop(trial.trial_id, None)
        if self._interrupted.is_set() and result.status == "Stopped":
            return  # interrupted, not judged: it stays InProgress and reruns on resume
        status, values, reason = result.status, _finite(result.values) or None, result.failure_reason
        stopped_early = watcher.outcome(result)
        if stopped_early is not None:
            values, reason = stopped_early.values, stopped_early.reason
        curve = watcher.recorder.curve
        trial = self.store.update_trial(
            run.name, trial.trial_id, expected_attempt=attempt, status=status, values=values,
            failure_reason=reason, ended_at=utc_now(), curve=curve.to_dict() if curve.points else None)
        if trial.status in EARLIER_STATUSES and trial.curve:
            with self._lock:
                self._finished_curves[trial.trial_id] = trial.learning_curve()
        self.reporter.trial_finished(trial)

    def _cannot_start(self, run: RunRecord, trial: TrialRecord, attempt: int, job_name: str,
                      exc: Exception) -> None:
        """Record a trial whose process could not be started as Failed, as SageMaker records a job it
        could not start (``ClientError``), and let the run go on: the stopping rules decide."""
        trial = self.store.update_trial(
            run.name, trial.trial_id, expected_attempt=trial.attempt, status="Failed", attempt=attempt,
            job_name=job_name, ended_at=utc_now(),
            failure_reason=f"ClientError: the local engine could not start the training job: {exc}")
        self.reporter.trial_finished(trial)

    def _halt_all(self, reason: str, *, out_of_time: bool = False) -> None:
        """Stop every trial in flight with ``reason`` and start no other (the first reason stays)."""
        with self._lock:
            if self._halt is None:
                self._halt = reason
                self._out_of_time = out_of_time
            jobs = list(self._jobs.values())
        for job in jobs:
            job.stop(reason)

    # -- ownership and signals ----------------------------------------------------------------------
    def _claim(self, run: RunRecord) -> RunRecord:
        try:
            return self.store.claim_run(run.name, self.owner)
        except RunClaimedError:
            holder = self.store.get_run(run.name).owner
            if holder_is_dead(holder):  # an engine that was killed: take its run over
                return self.store.claim_run(run.name, self.owner, expected_owner=holder)
            raise

    @staticmethod
    def _trap_sigterm() -> Callable[[], None]:
        """Treat SIGTERM like Ctrl-C so `kill` stops trials cleanly; only the main thread may."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None

        def interrupt(signum: int, frame: object) -> None:
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, interrupt)
        return lambda: signal.signal(signal.SIGTERM, previous)


class _Watcher:
    """One trial's learning curve, recorded from its log as the job prints it, and the early-stopping
    rule asked after each new epoch (``TrainingJobEarlyStoppingType: "Auto"`` only). Its
    :meth:`on_metric` runs on the thread reading the job's output."""

    def __init__(self, engine: LocalEngine, trial: TrialRecord) -> None:
        self.engine = engine
        self.trial_id = trial.trial_id
        self.recorder = CurveRecorder(engine.objective.metric)
        self.job: LocalTrainingJob | None = None
        self.verdict: Verdict | None = None

    def on_metric(self, name: str, value: float) -> None:
        self.recorder.on_metric(name, value)
        engine = self.engine
        if not engine.early_stopping or self.verdict is not None or name != engine.objective.metric:
            return
        with engine._lock:
            earlier = [c for tid, c in engine._finished_curves.items() if tid != self.trial_id]
        verdict = check_early_stopping(self.recorder.curve, earlier, engine.objective)
        if verdict.stop and self.job is not None:
            self.verdict = verdict
            engine.reporter.trial_stopping_early(self.trial_id, self.job.job_name, verdict)
            self.job.stop(verdict.reason)

    def outcome(self, result: LocalJobResult) -> EarlyStopped | None:
        """How the trial is recorded when the rule stopped it: None when it ended otherwise (it
        completed before the stop took effect, failed, or was stopped for another reason first)."""
        verdict = self.verdict
        if verdict is None or result.status != "Stopped" or result.failure_reason != verdict.reason:
            return None
        return EarlyStopped.of(verdict, result.values)


def _out_of_time(limit: int) -> str:
    return f"the tuning job's MaxRuntimeInSeconds ({limit} s) was reached"


def _finite(values: Mapping[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items() if v == v and abs(v) != float("inf")}
