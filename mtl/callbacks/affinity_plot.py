"""``affinity.png``: the lookahead task affinity and the gradient cosine side by side, as
mean matrices and over training (see :class:`mtl.callbacks.TaskAffinity`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from mtl.callbacks.balancer_plots import add_legend, draw_heatmap, save_with_legend, smoothed, smoothing_window

LINE_STYLES = ("-", "--", ":", "-.")


def plot_affinity(path: Path, summary: dict[str, Any]) -> Path:
    """Top: the mean affinity ``Z[i->j]`` (row: the task stepped on; column: the task whose
    loss is measured) and the mean gradient cosine (diagonal left out), each on a red-blue scale centred at 0
    with the values written in the cells. Below: each pair over training (a moving mean
    over a twentieth of the measurements), every line named in a legend.

    Args:
        path: the PNG to write.
        summary: :meth:`TaskAffinity.summary`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = summary["tasks"]
    side = 0.9 * len(tasks) + 3
    fig, ((left, right), (below_left, below_right)) = plt.subplots(
        2, 2, figsize=(2 * side + 2, side + 5), height_ratios=[side, 5]
    )
    affinity = _filled(summary["affinity"])
    across = [[v if i != j else math.nan for j, v in enumerate(row)] for i, row in enumerate(affinity)]
    scale = _scale(across if len(tasks) > 1 else affinity)  # the pairs across tasks; the diagonal may saturate
    digits = decimals(scale)
    draw_heatmap(
        fig,
        left,
        affinity,
        tasks,
        scale,
        "Mean affinity Z[row -> column] = 1 - L_col(after a step on row) / L_col\n(colour scale: the pairs across tasks)",
        digits,
    )
    left.set(xlabel="task whose loss is measured", ylabel="task stepped on")
    cosine = [[v if i != j else math.nan for j, v in enumerate(row)] for i, row in enumerate(_filled(summary["cosine"]))]
    draw_heatmap(fig, right, cosine, tasks, 1.0, "Mean cosine of the task gradients (the same steps)")
    series = _series(summary, "affinity", "->", ordered=True)
    _curves(below_left, series, "affinity Z", "Affinity over training")
    _curves(below_right, _series(summary, "cosine", "~", ordered=False), "cosine", "Gradient cosine over training")
    add_legend(below_left, len(series), per_column=8)
    return save_with_legend(fig, below_right, path, lines=len(tasks) * (len(tasks) - 1) // 2, per_column=8)


def decimals(scale: float) -> int:
    """Decimals that show values up to ``scale`` with two significant digits (small
    affinities come with a small learning rate), at least 2."""
    return max(2, 1 - math.floor(math.log10(max(scale, 1e-12))))


def _filled(matrix: list[list[float | None]]) -> list[list[float]]:
    """``None`` (never measured) as NaN: a grey cell."""
    return [[math.nan if value is None else value for value in row] for row in matrix]


def _scale(matrix: list[list[float]]) -> float:
    """The largest absolute value, the colour scale's end (at least 1e-6)."""
    return max([1e-6, *(abs(v) for row in matrix for v in row if not math.isnan(v))])


def _series(summary: dict[str, Any], key: str, joint: str, ordered: bool) -> dict[str, tuple[list[int], list[float]]]:
    """Each pair's measured values over training: ``{"a->b": (steps, values)}``."""
    found: dict[str, tuple[list[int], list[float]]] = {}
    for m in summary["measurements"]:
        for i, a in enumerate(m["tasks"]):
            for j, b in enumerate(m["tasks"]):
                if (ordered or i < j) and (i != j or ordered):
                    steps, values = found.setdefault(f"{a}{joint}{b}", ([], []))
                    steps.append(m["step"])
                    values.append(m[key][i][j])
    return found


def _curves(ax: Any, series: dict[str, tuple[list[int], list[float]]], ylabel: str, title: str) -> None:
    """One line per pair, smoothed; colours repeat every 20 lines with another dash."""
    import matplotlib.pyplot as plt

    colours = plt.get_cmap("tab20")
    window = smoothing_window(max((len(steps) for steps, _ in series.values()), default=1))
    for k, (pair, (steps, values)) in enumerate(sorted(series.items())):
        style = LINE_STYLES[k // 20 % len(LINE_STYLES)]
        ax.plot(steps, smoothed(values, window), color=colours(k % 20), linestyle=style, linewidth=1.3, marker=".", label=pair)
    ax.axhline(0.0, color="black", linewidth=0.6)
    ax.set(xlabel="step", ylabel=ylabel, title=f"{title} ({window}-measurement mean)")
