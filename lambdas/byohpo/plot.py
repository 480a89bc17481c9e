"""Plots of a run: how the objective moved trial by trial, or the Pareto front of two objectives; and,
for one objective, each trial's learning curve where trials have one (early-stopped ones cut short).

matplotlib is in the ``local`` extra only (the Lambda asset does without it), so it is imported inside
the functions. Figures are drawn on an Agg canvas of their own, never through ``pyplot``: no global
backend switch, no figure registry to leak, safe without a display.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from byohpo.errors import ByohpoError
from byohpo.pareto import pareto_indices
from byohpo.store.records import TrialRecord
from byohpo.trials import Objective

# Trials without a value to plot: (marker, colour, legend label).
_UNPLOTTED = {"Failed": ("x", "tab:red", "failed"), "Stopped": ("s", "tab:orange", "stopped"),
              "Completed": ("v", "tab:gray", "no value"), "Pending": ("o", "none", "not finished")}
_BAND = 0.1  # share of the y axis kept free at the bottom for the trials without a value
_SIZE = (9.0, 5.5)
_SIZE_WITH_CURVES = (9.0, 9.5)  # the progress above, the learning curves below


class PlotUnavailableError(ByohpoError, ImportError):
    """matplotlib is not installed."""


def _matplotlib() -> tuple[Any, Any, Any]:
    """(Figure, FigureCanvasAgg, colormaps), or a clear error naming the extra to install."""
    try:
        from matplotlib import colormaps
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise PlotUnavailableError("plotting needs matplotlib: pip install 'byohpo[local]'") from exc
    return Figure, FigureCanvasAgg, colormaps


def supported_formats() -> list[str]:
    """The file extensions the Agg canvas writes (png, pdf, svg, ...)."""
    Figure, FigureCanvasAgg, _ = _matplotlib()
    return sorted(FigureCanvasAgg(Figure()).get_supported_filetypes())


def check_output(path: str | os.PathLike[str]) -> None:
    """Refuse an output path whose extension matplotlib cannot write, before any work is done."""
    suffix = Path(path).suffix.lstrip(".").lower()
    formats = supported_formats()
    if suffix not in formats:
        raise ValueError(f"cannot write {str(path)!r}: the file name must end in one of "
                         f"{', '.join('.' + f for f in formats)}")


def plot_run(trials: Sequence[TrialRecord], objectives: Sequence[Objective],
             path: str | os.PathLike[str], *, title: str | None = None, dpi: int = 100) -> Path:
    """Draw the run and write it to ``path`` (the format follows the extension); returns the path.

    One objective: the value of each trial in proposal order, coloured by generation, with the
    best-so-far line; trials without a value (failed, stopped, diverged, not finished yet) are marked
    in a grey band at the bottom, and early-stopped trials, with the last value they reported, by a
    marker of their own. Below it, when trials have learning curves (``TrialRecord.curve``), each
    trial's objective by epoch, coloured by generation: an early-stopped trial's line ends where the
    rule stopped it, with a cross. Several objectives: the first two against each other, the Pareto
    front of those two highlighted and connected.
    """
    check_output(path)
    fig = draw_run(trials, objectives, title=title, dpi=dpi)
    out = Path(path)
    fig.savefig(out)
    return out


def draw_run(trials: Sequence[TrialRecord], objectives: Sequence[Objective], *, title: str | None = None,
             dpi: int = 100) -> Any:
    """The figure :func:`plot_run` writes (a matplotlib ``Figure`` on an Agg canvas): the progress (or
    front) axes first, the learning curves' second when drawn."""
    if not objectives:
        raise ValueError("at least one objective is required")
    Figure, FigureCanvasAgg, colormaps = _matplotlib()
    ordered = sorted(trials, key=lambda t: (t.generation, t.index))
    curves = len(objectives) == 1 and any(t.curve for t in ordered)
    fig = Figure(figsize=_SIZE_WITH_CURVES if curves else _SIZE, dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 1, height_ratios=(5.5, 4.0)) if curves else [fig.add_subplot()]
    ax = axes[0]
    cmap = colormaps["viridis"]
    generations = max((t.generation for t in ordered), default=0)
    norm, ticks = _generation_norm(generations, cmap)
    if len(objectives) == 1:
        mappable = _progress(ax, ordered, objectives[0], cmap, norm)
    else:
        mappable = _front(ax, ordered, objectives, cmap, norm)
    if curves:
        _curves(axes[1], ordered, objectives[0], cmap, norm)
    if mappable is not None:
        fig.colorbar(mappable, ax=list(axes), label="generation", ticks=ticks)
    for each in axes:
        if each.get_legend_handles_labels()[0]:
            each.legend(loc="best", fontsize="small")
        each.grid(True, alpha=0.3)
    ax.set_title(title or "")
    return fig


def _generation_norm(generations: int, cmap: Any) -> tuple[Any, list[int]]:
    """One colour band per generation (generations are whole numbers, the colour bar says so), and at
    most about ten ticks."""
    from matplotlib.colors import BoundaryNorm

    boundaries = [g - 0.5 for g in range(generations + 2)]
    step = max(1, -(-(generations + 1) // 10))
    return BoundaryNorm(boundaries, cmap.N), list(range(0, generations + 1, step))


def _progress(ax: Any, trials: Sequence[TrialRecord], objective: Objective, cmap: Any, norm: Any) -> Any:
    """Objective value per trial, best-so-far line, trials without a value in the bottom band."""
    from matplotlib.ticker import MaxNLocator

    xs, ys, gens, best_x, best_y = [], [], [], [], []
    early: list[int] = []  # indexes into xs of the early-stopped trials
    best = None
    unplotted: dict[str, list[int]] = {}
    for position, trial in enumerate(trials, start=1):
        score = objective.score(trial.to_trial()) if trial.finished else None
        if score is None:
            unplotted.setdefault(trial.status if trial.finished else "Pending", []).append(position)
            continue
        value = objective.sign * score
        if trial.early_stopped:
            early.append(len(xs))
        xs.append(position)
        ys.append(value)
        gens.append(trial.generation)
        if best is None or score > best[0]:
            best = (score, position, value, trial.trial_id)
        best_x.append(position)
        best_y.append(objective.sign * best[0])
    mappable = None
    if xs:
        full = [i for i in range(len(xs)) if i not in set(early)]
        if full:
            mappable = ax.scatter([xs[i] for i in full], [ys[i] for i in full], c=[gens[i] for i in full],
                                  cmap=cmap, norm=norm, s=36, edgecolors="black", linewidths=0.4, zorder=3,
                                  label="completed trial")
        if early:
            # The last value an early-stopped trial reported: it counts, as SageMaker counts it.
            stopped = ax.scatter([xs[i] for i in early], [ys[i] for i in early], c=[gens[i] for i in early],
                                 cmap=cmap, norm=norm, s=40, marker="v", edgecolors="tab:orange",
                                 linewidths=1.0, zorder=3, label=f"stopped early, last value ({len(early)})")
            mappable = mappable or stopped
        # Extend the step line to the last finished trial: trailing failures held the best as it was.
        last = max(i for i, t in enumerate(trials, start=1) if t.finished)
        ax.step([*best_x, last], [*best_y, best_y[-1]], where="post", color="tab:blue", linewidth=1.6,
                zorder=2, label="best so far")
        _, bx, by, bid = best
        ax.scatter([bx], [by], marker="*", s=260, color="gold", edgecolors="black", linewidths=0.8,
                   zorder=4, label=f"best: {by:.6g} ({bid})")
    else:
        ax.text(0.5, 0.5, _no_value(trials, objective), transform=ax.transAxes, ha="center", va="center")
        ax.set_yticks([])
    if unplotted and ys:
        # Keep a band free below the values for the trials without one, so that no marker hides a point.
        low, high = min(ys), max(ys)
        bottom, top = _BAND + 0.05, 0.95  # where the lowest and highest values sit, in axes units
        total = ((high - low) or (abs(high) * 0.1) or 1.0) / (top - bottom)
        ax.set_ylim(low - bottom * total, high + (1 - top) * total)
        ax.fill_between([0, 1], 0, _BAND, transform=ax.transAxes, color="0.94", linewidth=0, zorder=0)
    for status, positions in sorted(unplotted.items(), key=lambda item: list(_UNPLOTTED).index(item[0])):
        marker, colour, label = _UNPLOTTED[status]
        # No value to place them by: pin them in the bottom band, x in data, y in axes units.
        paint = {"facecolors": "none", "edgecolors": "tab:gray"} if colour == "none" else {"color": colour}
        ax.scatter(positions, [_BAND / 2] * len(positions), marker=marker, s=40, zorder=3, **paint,
                   transform=ax.get_xaxis_transform(), label=f"{label} ({len(positions)})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial (proposal order)")
    ax.set_ylabel(f"{objective.metric} ({objective.direction.lower()})")
    if trials:
        ax.set_xlim(0.5, len(trials) + 0.5)
    return mappable


def _curves(ax: Any, trials: Sequence[TrialRecord], objective: Objective, cmap: Any, norm: Any) -> None:
    """Each trial's objective by epoch (its learning curve), coloured by generation; an early-stopped
    trial's line ends in a cross where the rule stopped it, a trial stopped otherwise in a square."""
    from matplotlib.ticker import MaxNLocator

    counts = {"early": 0, "other": 0}
    for trial in trials:
        if not trial.curve:
            continue
        points = [(e, v) for e, v in trial.learning_curve().series() if v == v]  # NaN: nothing to draw
        if not points:
            continue
        colour = cmap(norm(trial.generation))
        epochs, values = [p[0] for p in points], [p[1] for p in points]
        ax.plot(epochs, values, color=colour, linewidth=1.0, alpha=0.8, zorder=2)
        if trial.early_stopped or trial.status == "Stopped":
            kind = "early" if trial.early_stopped else "other"
            counts[kind] += 1
            label = None
            if counts[kind] == 1:
                label = "stopped early" if kind == "early" else "stopped otherwise"
            ax.plot([epochs[-1]], [values[-1]], marker="x" if kind == "early" else "s", markersize=7,
                    color="tab:orange" if kind == "early" else "tab:gray", linestyle="none", zorder=3,
                    label=label and f"{label} ({sum(1 for t in trials if _stopped(t, kind))})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch (each value of the objective in the training log)")
    ax.set_ylabel(f"{objective.metric} ({objective.direction.lower()})")
    ax.set_title("learning curves", fontsize="medium")


def _stopped(trial: TrialRecord, kind: str) -> bool:
    """Is ``trial`` a drawn curve that was stopped early (``kind`` ``early``) or otherwise?"""
    if not trial.curve or trial.status != "Stopped":
        return False
    return trial.early_stopped == (kind == "early")


def _no_value(trials: Sequence[TrialRecord], objective: Objective) -> str:
    """What to say where no trial has a value: ``yet`` while some have not finished, else how the
    trials ended (all failed is not "not yet")."""
    unfinished = sum(1 for t in trials if not t.finished)
    if unfinished:
        return f"no trial with a value of {objective.metric} yet ({unfinished} not finished)"
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.status] = counts.get(t.status, 0) + 1
    how = ", ".join(f"{n} {status.lower()}" for status, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    return f"no trial has a value of {objective.metric}\n({how})"


def _front(ax: Any, trials: Sequence[TrialRecord], objectives: Sequence[Objective], cmap: Any,
           norm: Any) -> Any:
    """The first two objectives against each other, their Pareto front connected."""
    first, second = objectives[0], objectives[1]
    plotted = [t for t in trials if t.finished and first.score(t.to_trial()) is not None
               and second.score(t.to_trial()) is not None]
    values = [(t.values[first.metric], t.values[second.metric]) for t in plotted]  # type: ignore[index]
    mappable = None
    if plotted:
        mappable = ax.scatter([v[0] for v in values], [v[1] for v in values],
                              c=[t.generation for t in plotted], cmap=cmap, norm=norm, s=36,
                              edgecolors="black", linewidths=0.4, zorder=3, label="completed trial")
        front = sorted(values[i] for i in pareto_indices([t.to_trial() for t in plotted], [first, second]))
        ax.plot([v[0] for v in front], [v[1] for v in front], color="tab:red", linewidth=1.6,
                marker="o", markersize=10, markerfacecolor="none", markeredgewidth=1.6, zorder=4,
                label=f"Pareto front ({len(front)})")
    else:
        ax.text(0.5, 0.5, "no completed trial yet", transform=ax.transAxes, ha="center", va="center")
    missing = len([t for t in trials if t.finished]) - len(plotted)
    notes = []
    if missing:
        notes.append(f"{missing} finished trial{'s' * (missing != 1)} without values not shown")
    if len(objectives) > 2:
        notes.append(f"front of the 2 plotted of {len(objectives)} objectives")
    if notes:
        ax.text(0.01, 0.01, "; ".join(notes), transform=ax.transAxes, fontsize="small", va="bottom")
    ax.set_xlabel(f"{first.metric} ({first.direction.lower()})")
    ax.set_ylabel(f"{second.metric} ({second.direction.lower()})")
    return mappable


__all__ = ["PlotUnavailableError", "check_output", "draw_run", "plot_run", "supported_formats"]
