"""byohpo.plot: real PNG files from real stored runs."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest
from test_leaderboard import ACCURACY, PARETO, SECONDS, SINGLE, fill_store

from byohpo.plot import PlotUnavailableError, check_output, plot_run, supported_formats
from byohpo.store import SQLiteStore, TrialRecord
from byohpo.trials import Objective

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the IHDR chunk, after checking the signature."""
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, "not a PNG file"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert data.endswith(b"IEND\xaeB`\x82"), "truncated PNG"
    return width, height


@pytest.fixture(scope="module")
def trials(tmp_path_factory) -> dict[str, list[TrialRecord]]:
    path = fill_store(tmp_path_factory.mktemp("plot") / "byohpo.sqlite")
    with SQLiteStore(path) as store:
        return {name: store.get_trials(name) for name in (SINGLE, PARETO)}


def test_single_objective_progress_plot_is_a_png(trials, tmp_path):
    out = plot_run(trials[SINGLE], [ACCURACY], tmp_path / "progress.png", title="digits-random-1")
    assert out == tmp_path / "progress.png"
    assert png_size(out) == (900, 550)
    assert out.stat().st_size > 20_000  # points, lines, legend and colour bar, not an empty canvas


def test_two_objective_front_plot_is_a_png(trials, tmp_path):
    out = plot_run(trials[PARETO], [ACCURACY, SECONDS], tmp_path / "front.png", dpi=50)
    assert png_size(out) == (450, 275)
    assert out.stat().st_size > 5_000


def test_three_objectives_plot_the_first_two(trials, tmp_path):
    third = Objective("validation:accuracy", "Minimize")
    out = plot_run(trials[PARETO], [ACCURACY, SECONDS, third], tmp_path / "three.png")
    assert png_size(out) == (900, 550)


def test_a_run_without_a_completed_trial_still_plots(trials, tmp_path):
    failed = [t for t in trials[SINGLE] if t.status in ("Failed", "Stopped", "Pending")]
    assert png_size(plot_run(failed, [ACCURACY], tmp_path / "failed.png")) == (900, 550)
    assert png_size(plot_run(failed, [ACCURACY, SECONDS], tmp_path / "failed2.png")) == (900, 550)


def test_the_extension_picks_the_format(trials, tmp_path):
    assert "svg" in supported_formats() and "png" in supported_formats()
    out = plot_run(trials[SINGLE], [ACCURACY], tmp_path / "progress.svg")
    assert out.read_text().lstrip().startswith("<?xml") and "<svg" in out.read_text()


def test_an_unknown_extension_is_refused_before_drawing(trials, tmp_path):
    with pytest.raises(ValueError, match=r"\.png"):
        check_output(tmp_path / "plot.bmpx")
    with pytest.raises(ValueError, match="cannot write"):
        plot_run(trials[SINGLE], [ACCURACY], tmp_path / "plot")
    assert not list(tmp_path.iterdir())
    with pytest.raises(ValueError, match="objective"):
        plot_run(trials[SINGLE], [], tmp_path / "plot.png")


def test_plotting_leaves_pyplot_alone(trials, tmp_path):
    plot_run(trials[SINGLE], [ACCURACY], tmp_path / "p.png")
    pyplot = sys.modules.get("matplotlib.pyplot")
    assert pyplot is None or pyplot.get_fignums() == []


def test_without_matplotlib_the_error_names_the_extra(trials, tmp_path, monkeypatch):
    # None in sys.modules makes the import fail, as when the `local` extra is not installed.
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(PlotUnavailableError, match=r"byohpo\[local\]") as info:
        plot_run(trials[SINGLE], [ACCURACY], tmp_path / "p.png")
    assert isinstance(info.value, ImportError)
    assert not (tmp_path / "p.png").exists()


def _svg_text(trials_, tmp_path, name: str) -> str:
    import matplotlib

    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text as text, to read it back
        return plot_run(trials_, [ACCURACY], tmp_path / name).read_text()


def test_a_run_in_which_every_trial_failed_does_not_say_not_yet(trials, tmp_path):
    ended = [t.replace(status="Failed", values=None) for t in trials[SINGLE]]
    ended[0] = ended[0].replace(status="Stopped")
    svg = _svg_text(ended, tmp_path, "failed.svg")
    assert "no trial has a value of validation:accuracy" in svg and "(8 failed, 1 stopped)" in svg
    assert "yet" not in svg
    running = [t.replace(status="Failed", values=None) for t in trials[SINGLE][:-1]] + trials[SINGLE][-1:]
    assert "no trial with a value of validation:accuracy yet (1 not finished)" in \
        _svg_text(running, tmp_path, "running.svg")
