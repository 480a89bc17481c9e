"""The plot of ``byohpo compare``: several runs in one figure, one colour each.

One objective: each run's best-so-far against the training jobs it spent, a step line per run.
Several objectives (runs compared by their fronts): each run's Pareto front of the first two.
Drawn like ``byohpo.plot``: on an Agg canvas of its own, matplotlib imported on first use.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

from byohpo.compare import Comparison
from byohpo.plot import _matplotlib, check_output

_SIZE = (9.0, 5.5)
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")  # told apart without colour too
# Runs that make the same first proposals (two inspyred strategies with one seed) draw the same line:
# each later run is thinner and dashed differently, so that the earlier one still shows around it.
_LINES = ("-", "--", "-.", ":")


def plot_comparison(comparison: Comparison, path: str | os.PathLike[str], *, title: str | None = None,
                    dpi: int = 100) -> Path:
    """Draw ``comparison`` and write it to ``path`` (the format follows the extension); returns it."""
    check_output(path)
    Figure, FigureCanvasAgg, colormaps = _matplotlib()
    fig = Figure(figsize=_SIZE, dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    colours = colormaps["tab10"].colors
    styles = [(colours[i % len(colours)], _MARKERS[i % len(_MARKERS)]) for i in range(len(comparison.runs))]
    drawn = (_fronts if comparison.by_front else _progress)(ax, comparison, styles)
    if drawn:
        ax.legend(loc="best", fontsize="small")
    else:
        ax.text(0.5, 0.5, "no run has a completed job with a value yet", transform=ax.transAxes,
                ha="center", va="center")
    ax.set_title(title or "")
    ax.grid(True, alpha=0.3)
    out = Path(path)
    fig.savefig(out)
    return out


def _progress(ax: Any, comparison: Comparison, styles: Sequence[tuple[Any, str]]) -> bool:
    """Best-so-far against jobs spent, one step line per run, its best marked."""
    from matplotlib.ticker import MaxNLocator

    objective = comparison.objective
    drawn = False
    for i, (run, (colour, marker)) in enumerate(zip(comparison.runs, styles, strict=True)):
        xs = [0] if run.start is not None else []  # a warm start begins with its parents' best
        ys = [run.start] if run.start is not None else []
        for jobs, value in enumerate(run.best_so_far, start=1):
            if value is not None:
                xs.append(jobs)
                ys.append(value)
        if not xs:
            continue
        best = run.best_value(objective)
        at = f" at job {run.jobs_to_best}" if run.jobs_to_best else " (warm start)"
        ax.step(xs, ys, where="post", color=colour, linestyle=_LINES[i % len(_LINES)],
                linewidth=max(3.2 - 0.4 * i, 1.2),
                label=f"{run.name} ({run.strategy or '?'}): {best:.6g}{at}")
        if run.jobs_to_best:
            ax.plot([run.jobs_to_best], [best], marker=marker, color=colour, markersize=8,
                    markeredgecolor="black", markeredgewidth=0.6, linestyle="none", zorder=3)
        drawn = True
    k = comparison.common_jobs
    if drawn and 0 < k < max(r.jobs for r in comparison.runs):
        ax.axvline(k, color="0.4", linestyle="--", linewidth=1,
                   label=f"{k} jobs: the fewest any run spent")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("training jobs spent (proposal order)")
    ax.set_ylabel(f"best {objective.metric} so far ({objective.direction.lower()})")
    return drawn


def _fronts(ax: Any, comparison: Comparison, styles: Sequence[tuple[Any, str]]) -> bool:
    """Each run's front on the first two objectives; with exactly two, drawn as the staircase that
    bounds what it dominates."""
    first, second = comparison.objectives[0], comparison.objectives[1]
    drawn = False
    for run, (colour, marker) in zip(comparison.runs, styles, strict=True):
        front = [t for t in run.front or () if t.values]
        if not front:
            continue
        scores = sorted((first.sign * t.values[first.metric], second.sign * t.values[second.metric])  # type: ignore[index]
                        for t in front)
        label = f"{run.name} ({run.strategy or '?'}): {len(front)} on its front"
        if run.hypervolume is not None:
            label += f", hypervolume {run.hypervolume:.3f}"
        if len(comparison.objectives) == 2:
            # Sorted by the first score ascending, the second descends: the boundary of the dominated
            # region holds each point's second score back to the previous point's first.
            vertices = [scores[0]]
            for previous, point in pairwise(scores):
                vertices += [(previous[0], point[1]), point]
            ax.plot([first.sign * v[0] for v in vertices], [second.sign * v[1] for v in vertices],
                    color=colour, linewidth=1.4, alpha=0.8)
        ax.plot([first.sign * s[0] for s in scores], [second.sign * s[1] for s in scores], marker=marker,
                color=colour, markersize=7, markeredgecolor="black", markeredgewidth=0.5, linestyle="none",
                label=label, zorder=3)
        drawn = True
    if len(comparison.objectives) > 2:
        ax.text(0.01, 0.01, f"the fronts over all {len(comparison.objectives)} objectives, seen on the "
                f"first two", transform=ax.transAxes, fontsize="small", va="bottom")
    ax.set_xlabel(f"{first.metric} ({first.direction.lower()})")
    ax.set_ylabel(f"{second.metric} ({second.direction.lower()})")
    return drawn


__all__ = ["plot_comparison"]
