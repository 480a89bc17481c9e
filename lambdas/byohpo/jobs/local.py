"""One trial as a local process, started the way SageMaker script mode starts an entry point.

What the process sees mirrors the SageMaker training toolkit (``sagemaker_training.environment``),
with ``/opt/ml`` replaced by the trial's folder::

    trial_dir/model/                    SM_MODEL_DIR
    trial_dir/output/                   SM_OUTPUT_DIR   (a ``failure`` file here becomes the reason)
    trial_dir/output/data/              SM_OUTPUT_DATA_DIR
    trial_dir/input/config/*.json       hyperparameters.json (the raw strings), inputdataconfig.json, ...
    trial_dir/input/data/<channel>      SM_CHANNEL_<CHANNEL>: a link to (or copy of) the local folder, or a
                                        folder holding the local file (as File mode downloads it)
    trial_dir/train.log                 stdout and stderr, as CloudWatch Logs would hold them

The command is ``python <entry point> --name value ...`` (an executable file other than ``.py`` runs
directly), in the entry point's folder as in ``/opt/ml/code``. Like the toolkit, hyperparameter values
are JSON-decoded where they parse (``"100"`` -> 100, ``"true"`` -> True, ``"relu"`` stays a string),
names starting with ``sagemaker_`` are framework parameters kept out of the arguments, arguments come
sorted by name with ``str()`` of the decoded value, and ``SM_HPS`` is the JSON of the decoded values.

The trial runs in a process tree the runner owns. Its root is a tiny supervisor, started in a session
of its own, that starts the entry point. On Linux the supervisor is a child subreaper
(``prctl(PR_SET_CHILD_SUBREAPER)``): whatever the entry point starts stays below it, also a daemon that
double-forks or a helper that calls ``setsid`` and so leaves the process group, and the supervisor
finds them all by walking ``/proc``. A stop (the run's ``MaxRuntimeInSeconds`` or
:meth:`LocalTrainingJob.stop`) sends SIGTERM to every process of the trial, then SIGKILL after a grace
period, as SageMaker's StopTrainingJob does with its 120 s. When the entry point exits, whatever it
left running is killed, as a container's end would; :meth:`LocalTrainingJob.run` returns once nothing
of the trial runs any more.

A SIGKILLed engine cannot clean up, so the supervisor polls its parent's pid and, once orphaned, stops
the trial the same way (within about half a second, plus the grace period). ``PR_SET_PDEATHSIG`` was
not used: it fires when the *thread* that started the child exits, which would kill trials started from
a short-lived worker thread, and it reaches the direct child only.

POSIX only. The subreaper and ``/proc`` are Linux-only: elsewhere (macOS, the BSDs) the trial is
tracked by its process group, which a process calling ``setsid`` leaves and so survives its trial.
"""

from __future__ import annotations

import codecs
import collections
import contextlib
import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from byohpo.metrics import Definitions, MetricCallback, MetricParser
from byohpo.trials import Status

_FAILURE_REASON_MAX = 1024  # botocore: DescribeTrainingJob FailureReason
_TAIL_LINES = 20
_DRAIN_SECONDS = 2.0  # after the entry point exits, how long an escaped process may hold the pipe
_TICK = 0.1
_SUPERVISOR_MARGIN = 2.0  # how long the supervisor may take to kill its tree before the group is killed
_CHANNEL_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")  # botocore: Channel.ChannelName

# Runs as the process-group leader and, on Linux, as a child subreaper (prctl PR_SET_CHILD_SUBREAPER):
# a process the entry point starts stays below it even after its parent exits or it calls setsid, so
# walking /proc from here finds every process of the trial. It starts the entry point, reaps whatever
# ends below it, kills what is left when the entry point exits, and mirrors its exit status.
# SIGTERM (the engine's stop, sent to the group) is passed on to the processes outside the group, then
# everything is SIGKILLed after the grace period; SIGUSR1 kills everything at once; an engine that dies
# (the parent pid changes) is a SIGTERM. Without a subreaper (not Linux) it falls back to its process
# group, which processes that call setsid leave.
# One thread, woken by signals through a wakeup pipe (SIGCHLD included) or every half second to look at
# its parent; os.posix_spawnp rather than subprocess, whose import alone took longer than a trivial
# training script. Signal handlers, not SIG_IGN, because an ignored disposition would be inherited by
# the entry point across exec.
_SUPERVISOR = r"""
import os, select, signal, sys, time
parent, grace, cmd = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]
me = os.getpid()
subreaper = False
if sys.platform.startswith("linux"):
    try:
        import ctypes
        subreaper = ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        pass
asked = {"stop": False, "urgent": False}
def on_term(*_):
    asked["stop"] = True
def on_usr1(*_):
    asked["stop"] = asked["urgent"] = True
wake_r, wake_w = os.pipe()
os.set_blocking(wake_r, False)
os.set_blocking(wake_w, False)
signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, lambda *_: None)
signal.signal(signal.SIGUSR1, on_usr1)
signal.signal(signal.SIGCHLD, lambda *_: None)
signal.set_wakeup_fd(wake_w)

def below():
    children = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/" + name + "/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[0] not in (b"Z", b"X"):
                children.setdefault(int(fields[1]), []).append(int(name))
    found, todo = [], [me]
    while todo:
        for pid in children.get(todo.pop(), ()):
            found.append(pid)
            todo.append(pid)
    return found

def send(pid, sig):
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass

def terminate(outside_group_only):
    if not subreaper:
        if not outside_group_only:
            os.killpg(0, signal.SIGTERM)
        return
    for pid in below():
        try:
            if outside_group_only and os.getpgid(pid) == me:
                continue
        except ProcessLookupError:
            continue
        send(pid, signal.SIGTERM)

def kill_all():
    end = time.monotonic() + 5.0
    while subreaper and time.monotonic() < end:
        pids = below()
        if not pids:
            return
        for pid in pids:
            send(pid, signal.SIGKILL)
        time.sleep(0.005)

def reap():
    # Collects what has ended below; the entry point's exit code, or None. True once nothing is left.
    code = None
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return code, True
        if pid == 0:
            return code, False
        if pid == child:
            code = os.waitstatus_to_exitcode(status)

try:
    child = os.posix_spawnp(cmd[0], cmd, os.environ)
except OSError as exc:
    print(f"byohpo: cannot start {cmd[0]!r}: {exc}", file=sys.stderr, flush=True)
    sys.exit(127)
rc = None
orphaned = False
kill_at = None
look_at = time.monotonic() + 0.5
while True:
    code, gone = reap()
    rc = code if code is not None else rc
    if rc is not None:
        break
    now = time.monotonic()
    if not orphaned and now >= look_at:
        look_at = now + 0.5
        if os.getppid() != parent:
            orphaned = asked["stop"] = True
    if asked["stop"] and kill_at is None:
        kill_at = now + grace
        if not asked["urgent"]:
            terminate(outside_group_only=not orphaned)
    if asked["urgent"]:
        kill_at = now
    if kill_at is not None and now >= kill_at:
        kill_all()
        if orphaned and not subreaper:
            os.killpg(0, signal.SIGKILL)
        kill_at = now + 0.2
    wait = min(look_at, kill_at if kill_at is not None else look_at) - now
    select.select([wake_r], [], [], max(0.0, wait))
    try:
        os.read(wake_r, 512)
    except BlockingIOError:
        pass
# The entry point has ended: whatever it left running goes with it.
code, gone = reap()
if not gone:
    kill_all()
    reap()
if rc < 0:
    import resource
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if -rc not in (signal.SIGKILL, signal.SIGSTOP):
        signal.signal(-rc, signal.SIG_DFL)
    os.kill(os.getpid(), -rc)
sys.exit(rc)
"""


@dataclass(frozen=True)
class LocalJobResult:
    """How a local trial ended.

    ``exit_code`` is the process's return code, negative for a signal (``-9``), None if it never
    ran. ``values`` holds every metric read from the log, also for failed and stopped trials.
    """

    status: Status
    values: dict[str, float]
    exit_code: int | None
    failure_reason: str | None
    log_path: Path
    duration_seconds: float


def _decode_hyperparameter(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def _arg_value(value: Any) -> str:
    if isinstance(value, Mapping):
        return ",".join(f"{k}={v}" for k, v in sorted(value.items()))
    return "" if value is None else str(value)


def _env_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return "" if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"))


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _num_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone already
        os.killpg(pgid, sig)


def _group_has_live_members(pgid: int) -> bool:
    if os.path.isdir("/proc"):
        # Linux: zombies do not count; they wait for a reaper (PID 1) that may be slow to come.
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(os.path.join(entry.path, "stat")) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                return True
        return False
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _wait_group_gone(pgid: int, timeout: float = 1.0) -> None:
    """SIGKILL is delivered asynchronously: wait briefly until no member of the group still runs,
    so that nothing of the trial competes for the CPU once ``run`` has returned."""
    end = time.monotonic() + timeout
    while _group_has_live_members(pgid) and time.monotonic() < end:
        time.sleep(0.01)


def _has_exited(proc: subprocess.Popen[bytes]) -> bool:
    """Has the process exited? Leaves it a zombie where possible, so its pid (the group id we
    signal) cannot be reused before we are done with the group."""
    if hasattr(os, "waitid"):
        try:
            return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            pass
    return proc.poll() is not None


class LocalTrainingJob:
    """One trial, run as a local process; :meth:`run` blocks until it ends, :meth:`stop` may be
    called from any thread (the engine's Ctrl-C handler).

    Args:
        entry_point: the training script (``.py``) or an executable file.
        hyperparameters: SageMaker ``HyperParameters``: names to string values.
        trial_dir: the trial's folder, SageMaker's ``/opt/ml``; created if missing.
        channels: channel name to a local folder or file, seen as the folder ``SM_CHANNEL_<NAME>``.
        input_data_config: channel name to its ``inputdataconfig.json`` entry (``ContentType``, ...);
            ``TrainingInputMode`` is ``File``.
        metric_definitions: the request's ``MetricDefinitions``.
        max_runtime_seconds: ``StoppingCondition.MaxRuntimeInSeconds``; None for no limit.
        env: extra environment variables, applied last.
        required_metrics: metrics a successful run must print (the objectives); a run that exits 0
            without them is Failed. None requires every metric in ``metric_definitions``.
        job_name: the training job's name, as ``TRAINING_JOB_NAME``.
        on_line: called with each line of output as it arrives.
        on_metric: called with ``(name, value)`` for each metric value as it arrives.
        cancel: an event shared with the engine; setting it stops the job like :meth:`stop`.
        kill_grace_seconds: time between SIGTERM and SIGKILL when stopping.
    """

    def __init__(self, entry_point: str | os.PathLike[str], hyperparameters: Mapping[str, str],
                 trial_dir: str | os.PathLike[str], *,
                 channels: Mapping[str, str | os.PathLike[str]] | None = None,
                 input_data_config: Mapping[str, Mapping[str, str]] | None = None,
                 metric_definitions: Definitions | None = None,
                 max_runtime_seconds: float | None = None, env: Mapping[str, str] | None = None,
                 required_metrics: Sequence[str] | None = None, job_name: str | None = None,
                 on_line: Callable[[str], None] | None = None, on_metric: MetricCallback | None = None,
                 cancel: threading.Event | None = None, kill_grace_seconds: float = 5.0) -> None:
        self.entry_point = Path(entry_point).resolve()
        if not self.entry_point.is_file():
            raise FileNotFoundError(f"entry point {str(entry_point)!r} is not a file")
        if self.entry_point.suffix != ".py" and not os.access(self.entry_point, os.X_OK):
            raise PermissionError(f"entry point {str(entry_point)!r} is neither a .py file nor executable")
        for name, value in hyperparameters.items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise TypeError(f"hyperparameter {name!r}: names and values must be strings, "
                                f"as SageMaker passes them (got {type(value).__name__})")
        self.hyperparameters = dict(hyperparameters)
        self.trial_dir = Path(trial_dir).resolve()
        self.channels: dict[str, Path] = {}
        for name, folder in (channels or {}).items():
            if not isinstance(name, str) or not _CHANNEL_NAME.fullmatch(name) or name in (".", ".."):
                raise ValueError(f"channel name {name!r} must be 1-64 of [A-Za-z0-9._-]")
            if not Path(folder).exists():
                raise FileNotFoundError(f"channel {name!r}: {str(folder)!r} is not a file or folder")
            self.channels[name] = Path(folder).resolve()
        self.input_data_config = channel_config(self.channels, input_data_config)
        if max_runtime_seconds is not None and not max_runtime_seconds > 0:
            raise ValueError(f"max_runtime_seconds must be positive, not {max_runtime_seconds!r}")
        if not kill_grace_seconds >= 0:
            raise ValueError(f"kill_grace_seconds must be >= 0, not {kill_grace_seconds!r}")
        self.max_runtime_seconds = max_runtime_seconds
        self.kill_grace_seconds = float(kill_grace_seconds)
        self.env = dict(env or {})
        self.job_name = job_name
        self.on_line = on_line
        self._parser = MetricParser(metric_definitions, on_metric=on_metric)
        self.required_metrics = (tuple(d.name for d in self._parser.definitions)
                                 if required_metrics is None else tuple(required_metrics))
        self._cancel = cancel if cancel is not None else threading.Event()
        self._stop_reason: str | None = None
        self._started = False
        self.log_path = self.trial_dir / "train.log"

    # -- what the process sees -------------------------------------------------------------------

    @property
    def _user_hyperparameters(self) -> dict[str, Any]:
        return {k: _decode_hyperparameter(v) for k, v in self.hyperparameters.items()
                if not k.startswith("sagemaker_")}

    @property
    def args(self) -> list[str]:
        """The ``--name value`` arguments, as the toolkit's ``mapping.to_cmd_args`` builds them."""
        hps = self._user_hyperparameters
        out: list[str] = []
        for name in sorted(hps):
            out += [f"--{name}" if len(name) > 1 else f"-{name}", _arg_value(hps[name])]
        return out

    @property
    def command(self) -> list[str]:
        if self.entry_point.suffix == ".py":
            return [sys.executable, self.entry_point.name, *self.args]
        return [str(self.entry_point), *self.args]

    def environment(self) -> dict[str, str]:
        """The process's environment: this process's, minus inherited ``SM_*``, plus SageMaker's."""
        root = self.trial_dir
        hps = self._user_hyperparameters
        framework = {k: _decode_hyperparameter(v) for k, v in self.hyperparameters.items()
                     if k.startswith("sagemaker_")}
        channel_dirs = {name: str(root / "input" / "data" / name) for name in sorted(self.channels)}
        input_data_config = self.input_data_config
        resource_config = {"current_host": "algo-1", "hosts": ["algo-1"], "current_instance_type": "local",
                           "network_interface_name": "eth0"}
        training_env = {
            "additional_framework_parameters": framework, "channel_input_dirs": channel_dirs,
            "current_host": "algo-1", "current_instance_type": "local", "hosts": ["algo-1"],
            "hyperparameters": hps,
            "input_config_dir": str(root / "input" / "config"), "input_data_config": input_data_config,
            "input_dir": str(root / "input"), "job_name": self.job_name, "log_level": 20,
            "model_dir": str(root / "model"), "module_dir": str(self.entry_point.parent),
            "module_name": self.entry_point.stem, "network_interface_name": "eth0",
            "num_cpus": _num_cpus(), "num_gpus": 0, "output_data_dir": str(root / "output" / "data"),
            "output_dir": str(root / "output"),
            "output_intermediate_dir": str(root / "output" / "intermediate"),
            "resource_config": resource_config, "user_entry_point": self.entry_point.name,
        }
        env = {k: v for k, v in os.environ.items() if not k.startswith("SM_")}
        env.pop("TRAINING_JOB_NAME", None)
        for key, value in training_env.items():
            if key not in ("hyperparameters", "additional_framework_parameters", "channel_input_dirs",
                           "job_name"):
                env[f"SM_{key.upper()}"] = _env_value(value)
        env.update({
            "SM_HPS": _json(hps), "SM_FRAMEWORK_PARAMS": _json(framework),
            "SM_CHANNELS": _json(sorted(self.channels)), "SM_TRAINING_ENV": _json(training_env),
            "SM_USER_ARGS": _json(self.args), "PYTHONUNBUFFERED": "1",
        })
        for name, path in channel_dirs.items():
            env[f"SM_CHANNEL_{name.upper()}"] = path
        for name, value in hps.items():
            if "=" not in name and "\0" not in name:
                env[f"SM_HP_{name.upper()}"] = _env_value(value)
        if self.job_name:
            env["TRAINING_JOB_NAME"] = self.job_name
        env.update(self.env)
        return env

    def _prepare(self) -> None:
        root = self.trial_dir
        for sub in ("model", "output/data", "output/intermediate", "input/config", "input/data"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        (root / "output" / "failure").unlink(missing_ok=True)  # a retry must not inherit a reason
        config = root / "input" / "config"
        config.joinpath("hyperparameters.json").write_text(json.dumps(self.hyperparameters, indent=1))
        config.joinpath("inputdataconfig.json").write_text(json.dumps(self.input_data_config))
        config.joinpath("resourceconfig.json").write_text(
            json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}))
        for name, source in self.channels.items():
            lay_out_channel(source, root / "input" / "data" / name)

    # -- running ---------------------------------------------------------------------------------

    def stop(self, reason: str = "stopped by the engine") -> None:
        """Ask the running job to stop (SIGTERM, then SIGKILL after the grace period). Thread-safe;
        the job ends as Stopped with ``reason``."""
        if self._stop_reason is None:
            self._stop_reason = reason
        self._cancel.set()

    def run(self) -> LocalJobResult:
        """Run the job to its end and say how it ended. Runs once."""
        if self._started:
            raise RuntimeError("a LocalTrainingJob runs once; make a new one to retry")
        self._started = True
        self._prepare()
        started = time.monotonic()
        tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
        with open(self.log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _SUPERVISOR, str(os.getpid()),
                 repr(self.kill_grace_seconds), *self.command],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                cwd=self.entry_point.parent, env=self.environment(), start_new_session=True)
            try:
                stopped = self._supervise(proc, log, tail, started)
            finally:
                # Normal end: the tree is gone already. Exception (a callback, Ctrl-C): the supervisor
                # kills the whole tree at once; the group is killed too, should it not answer.
                if not _has_exited(proc):
                    _signal(proc.pid, signal.SIGUSR1)
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(_SUPERVISOR_MARGIN)
                _killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                _wait_group_gone(proc.pid)
                if proc.stdout is not None:
                    proc.stdout.close()
        return self._result(proc.returncode, stopped, tail, time.monotonic() - started)

    def _supervise(self, proc: subprocess.Popen[bytes], log: IO[bytes], tail: collections.deque[str],
                   started: float) -> str | None:
        """Stream the output until the process ends; returns the stop reason if we stopped it."""
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        os.set_blocking(fd, False)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        deadline = None if self.max_runtime_seconds is None else started + self.max_runtime_seconds
        stopped: str | None = None
        term_sent = exited = None
        killed = eof = False
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while True:
                if eof:
                    time.sleep(_TICK)
                elif sel.select(_TICK):
                    try:
                        data = os.read(fd, 65536)
                    except BlockingIOError:
                        data = None
                    if data == b"":
                        eof = True
                    elif data:
                        log.write(data)
                        log.flush()
                        self._lines(self._parser.feed(decoder.decode(data)), tail)
                now = time.monotonic()
                if exited is None and _has_exited(proc):
                    exited = now
                    _killpg(proc.pid, signal.SIGKILL)  # what it left behind in its group
                if exited is not None:
                    if eof or now - exited > _DRAIN_SECONDS:
                        break
                    continue
                if stopped is None:
                    if self._cancel.is_set():
                        stopped = self._stop_reason or "stopped by the engine"
                    elif deadline is not None and now >= deadline:
                        stopped = (f"MaxRuntimeExceeded: stopped after {self.max_runtime_seconds:g} s "
                                   "(StoppingCondition.MaxRuntimeInSeconds)")
                    if stopped is not None:
                        _killpg(proc.pid, signal.SIGTERM)
                        term_sent = now
                elif (not killed and term_sent is not None
                      and now - term_sent >= self.kill_grace_seconds + _SUPERVISOR_MARGIN):
                    # The supervisor kills its tree after the grace period; this is for a supervisor
                    # that cannot (no subreaper) or does not answer.
                    _killpg(proc.pid, signal.SIGKILL)
                    killed = True
        self._parser.feed(decoder.decode(b"", final=True))
        self._lines(self._parser.close(), tail)
        return stopped

    def _lines(self, lines: list[str], tail: collections.deque[str]) -> None:
        for line in lines:
            tail.append(line)
            if self.on_line is not None:
                self.on_line(line)

    def _result(self, code: int, stopped: str | None, tail: Iterable[str], duration: float) -> LocalJobResult:
        values = self._parser.values
        status: Status = "Completed"
        reason: str | None = None
        if stopped is not None:
            status, reason = "Stopped", stopped
        elif code != 0:
            how = f"exit code {code}" if code > 0 else f"killed by {_signal_name(-code)}"
            failure = self.trial_dir / "output" / "failure"
            detail = failure.read_text(errors="replace").strip() if failure.is_file() else ""
            if not detail:
                detail = "last log lines:\n" + "\n".join(tail)
            status, reason = "Failed", _fit(f"AlgorithmError: {how}: {detail}")
        else:
            missing = [m for m in self.required_metrics if m not in values]
            if missing:
                status = "Failed"
                reason = _fit("; ".join(str(self._parser.missing_reason(m)) for m in missing))
        return LocalJobResult(status, values, code, reason, self.log_path, round(duration, 3))


def channel_config(channels: Iterable[str], input_data_config: Mapping[str, Mapping[str, str]] | None
                   ) -> dict[str, dict[str, str]]:
    """``inputdataconfig.json``: each channel's entry as SageMaker writes it for the container
    (``ContentType`` when the channel has one, ``TrainingInputMode``, ``S3DistributionType``,
    ``RecordWrapperType``). Local data is always in File mode."""
    out: dict[str, dict[str, str]] = {}
    for name in sorted(channels):
        entry = dict((input_data_config or {}).get(name) or {})
        entry["TrainingInputMode"] = "File"
        entry.setdefault("S3DistributionType", "FullyReplicated")
        entry.setdefault("RecordWrapperType", "None")
        out[name] = entry
    return out


def lay_out_channel(source: Path, folder: Path) -> None:
    """Make ``folder`` the channel's folder, as File mode fills ``/opt/ml/input/data/<channel>``: a link
    to the local folder, or a folder holding a link to the local file. Copies where links fail."""
    if folder.is_symlink() or folder.is_file():
        folder.unlink()
    elif folder.is_dir():
        shutil.rmtree(folder)
    if source.is_dir():
        try:
            folder.symlink_to(source, target_is_directory=True)
        except OSError:  # no symlinks here (some Windows setups): copy, as File mode does
            shutil.copytree(source, folder)
        return
    folder.mkdir(parents=True)
    try:
        (folder / source.name).symlink_to(source)
    except OSError:
        shutil.copy2(source, folder / source.name)


def _fit(text: str) -> str:
    """Cut to SageMaker's FailureReason length, keeping the head (what failed) and the end of the
    detail (where the error is)."""
    if len(text) <= _FAILURE_REASON_MAX:
        return text
    head, _, rest = text.partition("\n")
    head = head[:200]
    keep = _FAILURE_REASON_MAX - len(head) - 5
    return f"{head}\n...\n{rest[-keep:]}" if keep > 0 else text[:_FAILURE_REASON_MAX]


def run_local_training(entry_point: str | os.PathLike[str], hyperparameters: Mapping[str, str],
                       trial_dir: str | os.PathLike[str],
                       channels: Mapping[str, str | os.PathLike[str]] | None = None,
                       metric_definitions: Definitions | None = None,
                       max_runtime_seconds: float | None = None, env: Mapping[str, str] | None = None,
                       **options: Any) -> LocalJobResult:
    """Run one trial to its end: ``LocalTrainingJob(...).run()``. ``options`` are the other keyword
    arguments of :class:`LocalTrainingJob` (``required_metrics``, ``cancel``, ``on_line``, ...)."""
    return LocalTrainingJob(entry_point, hyperparameters, trial_dir, channels=channels,
                            metric_definitions=metric_definitions, max_runtime_seconds=max_runtime_seconds,
                            env=env, **options).run()


__all__ = ["LocalJobResult", "LocalTrainingJob", "channel_config", "lay_out_channel", "run_local_training"]
