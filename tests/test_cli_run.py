"""``byohpo run``: the local engine as a user drives it, killed, interrupted and resumed.

Engines that get killed or interrupted run as ``byohpo run`` subprocesses in their own session; the
others run in process through ``byohpo.cli.main``. Training jobs are the tiny script of
``test_engine.py``; the store is polled read-only through ``SQLiteStore`` while an engine runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import alive, group_alive, wait_for
from test_engine import CTL_ENV, METRIC, Ctl, accuracy, make_request, write_train

from byohpo.cli import main
from byohpo.store import RunNotFoundError, SQLiteStore, TrialRecord

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

NAME = "engine-test"


class Setup:
    """A request file, a store and a runs folder in tmp_path, and the control folder of the script."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **request: Any) -> None:
        self.tmp_path = tmp_path
        self.entry = write_train(tmp_path)
        self.request_path = tmp_path / "request.json"
        self.store_path = tmp_path / "store" / "byohpo.sqlite"
        self.runs_dir = tmp_path / "runs"
        self.ctl = Ctl(tmp_path / "ctl")
        monkeypatch.setenv(CTL_ENV, str(self.ctl.path))
        self.write(make_request(self.entry, **request))

    def write(self, raw: dict[str, Any]) -> None:
        self.request_path.write_text(json.dumps(raw, indent=1))

    @property
    def raw(self) -> dict[str, Any]:
        return json.loads(self.request_path.read_text())

    @property
    def argv(self) -> list[str]:
        return ["run", str(self.request_path), "--store", str(self.store_path), "--runs-dir",
                str(self.runs_dir)]

    def start(self) -> subprocess.Popen[bytes]:
        """``byohpo run`` in a new session, output to files (a full pipe would block it), with Ctrl-C
        handled as in a terminal's foreground job: a suite started in the background (``nohup pytest
        &``) hands its children SIGINT ignored, and the Ctrl-C tests then waited for nothing."""
        code = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
                "from byohpo.cli import main; sys.exit(main(sys.argv[1:]))")
        return subprocess.Popen(
            [sys.executable, "-X", "faulthandler", "-c", code, *self.argv], start_new_session=True,
            stdout=open(self.tmp_path / "engine.out", "wb"), stderr=open(self.tmp_path / "engine.err", "wb"))

    def stderr(self) -> str:
        return (self.tmp_path / "engine.err").read_text()

    def trials(self) -> list[TrialRecord]:
        """The trials as stored now, read through a store opened for this read only (never creates
        the file: an engine that has not started yet would find a foreign schema in it)."""
        if not self.store_path.exists():
            return []
        with SQLiteStore(self.store_path) as store:
            try:
                return store.get_trials(NAME)
            except RunNotFoundError:
                return []

    def snapshot(self) -> tuple[Any, ...]:
        with SQLiteStore(self.store_path) as store:
            runs = [r.to_dict() for r in store.list_runs()]
            trials = [t.to_dict() for r in store.list_runs() for t in store.get_trials(r.name)]
        files = sorted(str(p.relative_to(self.runs_dir)) for p in self.runs_dir.rglob("*"))
        return runs, trials, files, self.ctl.jobs()


def statuses(trials: list[TrialRecord], generation: int) -> list[str]:
    return [t.status for t in trials if t.generation == generation]


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Setup]:
    return lambda **request: Setup(tmp_path, monkeypatch, **request)


def test_sigkill_mid_generation_then_resume_loses_nothing(setup: Callable[..., Setup], tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    # The reference: the same request, never interrupted, in its own store.
    ref = Setup(tmp_path / "reference", monkeypatch)
    assert main([*ref.argv, "--quiet", "--top", "0"]) == 0
    reference = ref.trials()
    s = setup()  # ga, PopulationSize 4, 2 at a time, 10 jobs
    # Generation 1's jobs after the first hang until released: the engine dies with one of them done,
    # two in flight and the rest not started.
    s.ctl.configure(block=r"-g1-t[1-9]$")

    def mid_generation() -> bool:
        gen = s.trials()
        flying = [t.job_name for t in gen if t.generation == 1 and t.status == "InProgress"]
        return (statuses(gen, 1)[:1] == ["Completed"] and len(flying) == 2
                and set(flying) <= set(s.ctl.jobs()))

    engine = s.start()
    try:
        assert wait_for(mid_generation), s.stderr()
        os.kill(engine.pid, signal.SIGKILL)  # the engine only: it cannot clean up
        engine.wait()
    finally:
        stop(engine)
    killed = s.trials()
    flying = [t for t in killed if t.status == "InProgress"]
    pending = [t for t in killed if t.status == "Pending"]
    assert [t.generation for t in flying] == [1, 1] and all(t.generation == 1 for t in pending)
    blocked = [pid for t in flying for pid in s.ctl.pids(t.job_name)]
    # The runner's supervisor sees its engine gone and stops the whole group of each trial.
    assert wait_for(lambda: not any(alive(pid) or group_alive(pid) for pid in blocked), 10)
    with SQLiteStore(s.store_path) as store:
        held = store.get_run(NAME)
    assert (held.status, held.owner) == ("InProgress", f"{engine.pid}@{socket.gethostname()}")
    before = {t.trial_id: t for t in killed if t.finished}
    assert len(before) == len(killed) - len(flying) - len(pending) >= 5
    started_before = set(s.ctl.jobs())

    s.ctl.configure()  # nothing hangs any more
    assert main(s.argv) == 0  # the dead engine's run is taken over and resumed
    out = capsys.readouterr().out
    after = s.trials()
    assert len(after) == 10 and all(t.status == "Completed" for t in after)
    for trial_id, old in before.items():  # kept as they were, not rerun
        assert after[[t.trial_id for t in after].index(trial_id)] == old
    by_id = {t.trial_id: t for t in after}
    for old in flying:  # rerun under a new training job name
        t = by_id[old.trial_id]
        assert t.attempt == 1 and t.job_name == f"{old.job_name}-a1"
        assert Path(t.log_path).parent.name == "attempt-1"
        assert (s.runs_dir / NAME / t.trial_id / "attempt-0" / "train.log").is_file()
    for old in pending:  # never started: its first attempt
        assert (by_id[old.trial_id].attempt, by_id[old.trial_id].job_name) == (0, old.job_name)
    assert set(s.ctl.jobs()) - started_before == (
        {f"{t.job_name}-a1" for t in flying} | {t.job_name for t in pending}
        | {t.job_name for t in after if t.generation >= 2})
    # The strategy continued as if never interrupted.
    assert [(t.trial_id, t.params) for t in after] == [(t.trial_id, t.params) for t in reference]
    with SQLiteStore(s.store_path) as store:
        run = store.get_run(NAME)
    assert (run.status, run.stop_code, run.owner) == ("Completed", "MaxNumberOfTrainingJobs", None)
    best = max(after, key=lambda t: t.values[METRIC])
    assert best.values[METRIC] == accuracy(best.params)
    assert out.startswith(f"resuming run {NAME}: strategy ga, maximize {METRIC}, up to 10 training jobs, "
                          f"2 at a time; {len(before)} done already")
    assert f"best {METRIC}: {best.values[METRIC]:.6g} ({best.job_name})" in out
    first_row = out.split("failure reason\n", 1)[1].splitlines()[0]  # the leaderboard, best first
    assert first_row.split()[:3] == ["1", best.trial_id, best.job_name]


def interrupted(s: Setup) -> subprocess.Popen[bytes]:
    """Start ``byohpo run`` and press Ctrl-C once generation 1 has one job done and one in flight."""
    s.ctl.configure(block=r"-g1-t1$")
    engine = s.start()
    try:
        assert wait_for(lambda: statuses(s.trials(), 1) == ["Completed", "InProgress"]
                        and f"{NAME}-g1-t1" in s.ctl.jobs()), s.stderr()
        engine.send_signal(signal.SIGINT)
        # a generous bound: it ends in ~1 s alone, but took over 15 s once with the machine under load
        try:
            code = engine.wait(60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):  # faulthandler: its threads' stacks
                os.kill(engine.pid, signal.SIGABRT)
                engine.wait(5)
            pytest.fail(f"byohpo run still running 60 s after Ctrl-C; its stderr:\n{s.stderr()}")
        assert code == 130, s.stderr()
    finally:
        stop(engine)
    return engine


def test_ctrl_c_stops_trials_in_flight_and_the_printed_command_resumes(
        setup: Callable[..., Setup], capsys: pytest.CaptureFixture[str]) -> None:
    s = setup(strategy="random", strategy_config={"Seed": 5}, max_jobs=6)
    interrupted(s)
    script, group = s.ctl.pids(f"{NAME}-g1-t1")
    assert not alive(script) and not group_alive(group)  # stopped before the engine exited
    trials = s.trials()
    assert [t.status for t in trials] == ["Completed"] * 3 + ["InProgress"]
    with SQLiteStore(s.store_path) as store:
        assert store.get_run(NAME).owner is None  # released: the next run needs no takeover
    err = s.stderr()
    assert f"interrupted: 3 finished training jobs of run {NAME} are kept in {s.store_path}" in err
    command = err.split("resume with: ", 1)[1].strip()
    words = shlex.split(command)
    assert words[:2] == ["byohpo", "run"]
    # `byohpo runs` tells the interrupted run from a live one, and gives the same command.
    assert main(["runs", "--store", str(s.store_path)]) == 0
    row = capsys.readouterr().out.splitlines()[1].split(None, 7)
    assert row[:4] == [NAME, "interrupted", "random", "3/6"]
    assert row[7].endswith(f"interrupted; 1 unfinished training job will run; resume with: {command}")

    assert main(words[1:]) == 0
    after = s.trials()
    assert len(after) == 6 and all(t.status == "Completed" for t in after)
    assert after[:3] == trials[:3]
    assert (after[3].attempt, after[3].job_name) == (1, f"{NAME}-g1-t1-a1")
    assert "resuming run" in capsys.readouterr().out


CHANGES: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    ("HyperParameterTuningJobConfig.ParameterRanges",
     lambda raw: raw["HyperParameterTuningJobConfig"]["ParameterRanges"]["ContinuousParameterRanges"][0]
     .update(MaxValue="2")),
    ("HyperParameterTuningJobConfig.Strategy",
     lambda raw: raw["HyperParameterTuningJobConfig"].update(Strategy="sobol")),
    ("HyperParameterTuningJobConfig.StrategyConfig.Seed",
     lambda raw: raw["HyperParameterTuningJobConfig"]["StrategyConfig"].update(Seed=6)),
]


def test_resume_with_a_changed_search_is_refused(setup: Callable[..., Setup],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    s = setup(strategy="random", strategy_config={"Seed": 5}, max_jobs=6)
    interrupted(s)
    original = s.raw
    before = s.snapshot()
    for field, change in CHANGES:
        raw = json.loads(json.dumps(original))
        change(raw)
        s.write(raw)
        assert main(s.argv) == 2, field
        err = capsys.readouterr().err
        assert err.startswith(f"{s.request_path}: cannot resume run {NAME!r} of {s.store_path}")
        assert [line.split(": ", 1)[0].strip() for line in err.splitlines()[1:]] == [field]
        assert f"  {field}: differs from the stored run {NAME!r}" in err
        assert s.snapshot() == before, field


def test_resume_with_a_bigger_budget_runs_to_it(setup: Callable[..., Setup]) -> None:
    s = setup(strategy="random", strategy_config={"Seed": 5}, max_jobs=6)
    interrupted(s)
    raw = s.raw
    raw["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 9
    s.write(raw)
    assert main([*s.argv, "--quiet"]) == 0
    trials = s.trials()
    assert len(trials) == 9 and all(t.status == "Completed" for t in trials)
    with SQLiteStore(s.store_path) as store:
        run = store.get_run(NAME)
    assert run.reason == "9 training jobs finished, the limit is MaxNumberOfTrainingJobs=9"


def test_second_engine_on_a_live_run_is_refused(setup: Callable[..., Setup],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    s = setup(strategy="random", strategy_config={"Seed": 5}, max_jobs=4)
    s.ctl.configure(block=".")
    first = s.start()
    try:
        assert wait_for(lambda: len(s.ctl.jobs()) == 2), s.stderr()
        before = s.snapshot()
        assert main(s.argv) == 1
        err = capsys.readouterr().err
        assert (f"byohpo run: run {NAME!r} in {s.store_path} is driven by another engine "
                f"({first.pid}@{socket.gethostname()}, pid@host); nothing was changed") in err
        assert s.snapshot() == before
        s.ctl.release()
        assert first.wait(30) == 0, s.stderr()
    finally:
        stop(first)
    assert len(s.trials()) == 4


def _drop_metric_group(raw: dict[str, Any]) -> None:
    raw["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"][0]["Regex"] = "accuracy=.*"


@pytest.mark.parametrize(("field", "change"), [
    ("HyperParameterTuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs",
     lambda raw: raw["HyperParameterTuningJobConfig"]["ResourceLimits"].pop("MaxNumberOfTrainingJobs")),
    ("HyperParameterTuningJobConfig.ParameterRanges.ContinuousParameterRanges[0].MinValue",
     lambda raw: raw["HyperParameterTuningJobConfig"]["ParameterRanges"]["ContinuousParameterRanges"][0]
     .update(MinValue="3")),
    ("HyperParameterTuningJobConfig.Strategy",
     lambda raw: raw["HyperParameterTuningJobConfig"].update(Strategy="simulated-anealing")),
    ("TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions[0].Regex", _drop_metric_group),
    ("TrainingJobDefinition.Local.EntryPoint",
     lambda raw: raw["TrainingJobDefinition"]["Local"].update(EntryPoint="no/such/train.py")),
    ("TrainingJobDefinition.Local.EntryPoint",
     lambda raw: raw["TrainingJobDefinition"].pop("Local")),
])
def test_bad_request_exits_2_before_anything_is_written(setup: Callable[..., Setup], field: str,
                                                        change: Callable[[dict[str, Any]], None],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    s = setup()
    raw = s.raw
    change(raw)
    s.write(raw)
    assert main(s.argv) == 2
    err = capsys.readouterr().err
    assert f"  {field}: " in err
    assert not s.store_path.parent.exists() and not s.runs_dir.exists()
    assert s.ctl.jobs() == []


def test_a_killed_engine_leaves_a_run_that_runs_calls_interrupted(setup: Callable[..., Setup],
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    s = setup(strategy="random", strategy_config={"Seed": 5}, max_jobs=6)
    s.ctl.configure(block=r"-g1-t1$")
    engine = s.start()
    try:
        assert wait_for(lambda: statuses(s.trials(), 1) == ["Completed", "InProgress"]
                        and f"{NAME}-g1-t1" in s.ctl.jobs()), s.stderr()
        assert main(["runs", "--store", str(s.store_path)]) == 0
        live = capsys.readouterr().out.splitlines()[1]
        assert live.split()[1] == "running" and f"driven by byohpo run (pid {engine.pid})" in live
        os.kill(engine.pid, signal.SIGKILL)
        engine.wait()
    finally:
        stop(engine)
    assert main(["runs", "--store", str(s.store_path)]) == 0
    killed = capsys.readouterr().out.splitlines()[1]
    assert killed.split()[1] == "interrupted"
    assert killed.endswith(f"its engine was killed; 1 unfinished training job will run; resume with: "
                           f"{shlex.join(['byohpo', *s.argv])}")


# -- no successful trial: not Completed -------------------------------------------------------------

def test_a_run_whose_trials_all_time_out_exits_1_naming_the_time_limit(setup: Callable[..., Setup],
                                                                       capsys: pytest.CaptureFixture[str]
                                                                       ) -> None:
    s = setup(strategy="random", strategy_config={"Seed": 5}, max_jobs=8, trial_runtime=1)
    s.ctl.configure(hang_above=-1)
    assert main([*s.argv, "--top", "3"]) == 1
    out = capsys.readouterr().out
    assert f"run {NAME} Failed: none succeeded: all 6 training jobs so far ended without a value" in out
    assert ("Likely cause: all 6 hit their time limit (StoppingCondition.MaxRuntimeInSeconds = 1 s): "
            "raise it, or make a training job shorter") in out
    assert f"{NAME}: random, Failed, 3 of 6 trials" in out  # the leaderboard still shows what ran


# -- checked before anything is written -------------------------------------------------------------

def test_an_entry_point_that_exists_but_cannot_run_is_refused_before_anything_is_written(
        setup: Callable[..., Setup], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = setup()
    passwd = tmp_path / "passwd"
    passwd.write_text("root:x:0:0:root:/root:/bin/bash\n")
    raw = s.raw
    raw["TrainingJobDefinition"]["Local"]["EntryPoint"] = str(passwd)
    s.write(raw)
    for _ in range(2):  # and again: the same clean refusal, nothing left behind
        assert main(s.argv) == 2
        err = capsys.readouterr().err
        assert f"  TrainingJobDefinition.Local.EntryPoint: {str(passwd)!r} is neither a .py script nor an " \
               "executable program" in err
        assert "Traceback" not in err
        assert not s.store_path.parent.exists() and not s.runs_dir.exists()


def test_a_script_missing_from_where_run_looks_says_where_it_is(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # The README's example, run from examples/digits/ instead of the repository root.
    root = tmp_path / "repo"
    write_train(root)  # root/code/train.py
    (root / "examples").mkdir()
    request = root / "examples" / "req.json"
    request.write_text(json.dumps(make_request(Path("code/train.py"))))
    monkeypatch.chdir(root / "examples")
    assert main(["run", "req.json"]) == 2
    err = capsys.readouterr().err
    assert (f"'code/train.py' (from {root / 'examples'}, the current directory) does not exist; it is in "
            f"{root}: run byohpo from there, or pass --base-dir ..") in err
    assert not (root / "examples" / "byohpo-runs").exists()


def _store_file(kind: str, path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``path`` a store the engine cannot use in the way ``kind`` says."""
    if kind == "not-a-database":
        path.write_text("these are my notes, not a database\n" * 200)
        return
    full = Setup(tmp_path / "donor", monkeypatch, strategy="random", strategy_config={"Seed": 5}, max_jobs=4)
    assert main([*full.argv, "--quiet", "--top", "0"]) == 0
    data = full.store_path.read_bytes()
    path.write_bytes(data[: len(data) // 3])  # truncated: the header says more pages than there are


@pytest.mark.parametrize(("kind", "message"), [
    ("not-a-database", "not a byohpo store (file is not a database); point --store (or $BYOHPO_STORE) at "
                       "another file"),
    ("truncated", "the store is damaged (database disk image is malformed); move it aside to start afresh"),
])
def test_a_store_that_is_not_usable_is_one_clean_line(setup: Callable[..., Setup], tmp_path: Path, kind: str,
                                                      message: str, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    s = setup(strategy="random", strategy_config={"Seed": 5}, max_jobs=4)
    s.store_path.parent.mkdir(parents=True)
    _store_file(kind, s.store_path, tmp_path, monkeypatch)
    before = s.store_path.read_bytes()
    code = main(s.argv)
    err = capsys.readouterr().err
    assert code in (1, 2) and "Traceback" not in err
    assert f"{s.store_path}: {message}" in err
    assert s.store_path.read_bytes() == before and s.ctl.jobs() == []


def _as_nobody() -> list[str] | None:
    """A command prefix that runs as an unprivileged user (root writes into read-only folders)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"] if setpriv else None


@pytest.mark.skipif(_as_nobody() is None, reason="root, and no setpriv to drop root's rights")
def test_a_read_only_store_folder_is_refused_before_anything_is_written(monkeypatch: pytest.MonkeyPatch
                                                                        ) -> None:
    # Outside pytest's tmp_path, which only its owner may enter.
    with tempfile.TemporaryDirectory(prefix="byohpo-ro-") as folder:
        root = Path(folder)
        root.chmod(0o755)  # readable by the unprivileged user, writable by nobody but the owner
        s = Setup(root, monkeypatch)
        _refused_as_nobody(s)


def _refused_as_nobody(s: Setup) -> None:
    s.store_path.parent.mkdir(parents=True)
    s.store_path.parent.chmod(0o555)
    try:
        code = "import sys; from byohpo.cli import main; sys.exit(main(sys.argv[1:]))"
        done = subprocess.run([*_as_nobody(), sys.executable, "-c", code, *s.argv], capture_output=True,
                              text=True, timeout=120)
    finally:
        s.store_path.parent.chmod(0o755)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"byohpo run: the store {s.store_path} cannot be created: {s.store_path.parent} "
                           "is read-only for this user\n")
    assert not s.store_path.exists() and s.ctl.jobs() == []


def test_a_store_locked_past_the_timeout_is_one_clean_line(setup: Callable[..., Setup],
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    import functools
    import sqlite3

    import byohpo.cli.run as run_command

    s = setup(strategy="random", strategy_config={"Seed": 5}, max_jobs=4)
    SQLiteStore(s.store_path).close()
    # Another process holds the write lock; the store waits 0.5 s here rather than its 30 s.
    monkeypatch.setattr(run_command, "SQLiteStore", functools.partial(SQLiteStore, timeout=0.5))
    holder = sqlite3.connect(s.store_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        assert main(s.argv) == 1
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert (f"byohpo run: the store failed: {s.store_path}: locked by another process for more than "
            "0.5 s") in err
    assert "resume with: byohpo run" in err
    assert s.ctl.jobs() == []
    assert main([*s.argv, "--quiet"]) == 0  # the lock gone, the same command runs it


# -- processes ----------------------------------------------------------------------------------------

ESCAPING = """\
import os, subprocess, sys
from pathlib import Path
loop = "import time\\nwhile True: time.sleep(0.1)"
child = subprocess.Popen([sys.executable, "-c", loop], start_new_session=True)
Path(os.environ["BYOHPO_TEST_CTL"], os.environ["TRAINING_JOB_NAME"]).write_text(str(child.pid))
print("Validation-accuracy=0.5", flush=True)
"""


def test_a_helper_that_calls_setsid_does_not_outlive_byohpo_run(setup: Callable[..., Setup]) -> None:
    s = setup(strategy="random", strategy_config={"Seed": 5}, max_jobs=2)
    s.entry.write_text(ESCAPING)
    helpers: list[int] = []
    try:
        assert main([*s.argv, "--quiet", "--top", "0"]) == 0
        helpers = [int(p.read_text()) for p in s.ctl.path.glob(f"{NAME}-*")]
        assert len(helpers) == 2
        assert not any(alive(pid) for pid in helpers)  # gone once byohpo run has returned
    finally:
        for pid in helpers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
