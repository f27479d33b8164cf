"""Contour plots of 2-D loss surfaces with optimisation trajectories, and loss-versus-step curves.

An *objective* is anything with ``value(theta)`` for theta of shape (..., 2), ``bounds`` as
``((x_min, x_max), (y_min, y_max))`` and optionally ``minimum`` (the minimising theta, or None)
and ``name``: the surfaces of ``nastoolkit.objectives`` and ``widgets.descent.ModelSlice`` both
qualify. These functions only draw: paths and losses are computed by the caller.
"""

from __future__ import annotations

import textwrap

import numpy as np
from matplotlib.figure import Figure

__all__ = [
    "loss_axis_limits",
    "loss_axis_scale",
    "plot_descent",
    "plot_race",
    "plot_surface",
    "surface_grid",
]

FIGURE_WIDTH = 9.5  # inches: fits a laptop screen beside JupyterLab's side bar


def surface_grid(objective, bounds=None, resolution: int = 120):
    """(x, y, Z): a ``resolution`` x ``resolution`` grid over ``bounds`` and the loss on it.

    Uses the objective's own ``grid(resolution)`` when it has one and ``bounds`` is not given
    (a model slice caches its grid: each point is a forward pass).

    Parameters
    ----------
    objective : Objective
        A surface with ``value(theta)`` and ``bounds`` (see the module docstring).
    bounds : tuple, optional
        ``((x_min, x_max), (y_min, y_max))``; the objective's own by default.
    resolution : int, default 120
        Points per axis.

    Returns
    -------
    x : ndarray, shape (resolution,)
    y : ndarray, shape (resolution,)
    Z : ndarray, shape (resolution, resolution)
        ``Z[i, j]`` is the loss at ``(x[j], y[i])``.

    Examples
    --------
    >>> from nastoolkit import objectives
    >>> x, y, Z = surface_grid(objectives.get("quadratic"), bounds=((-1, 1), (0, 2)), resolution=3)
    >>> float(Z[0, 1]), float(Z[2, 2])
    (0.0, 2.5)
    """
    if bounds is None and hasattr(objective, "grid"):
        X, Y, Z = objective.grid(resolution)
        return X[0], Y[:, 0], np.asarray(Z, dtype=float)
    (x_min, x_max), (y_min, y_max) = bounds if bounds is not None else objective.bounds
    x = np.linspace(x_min, x_max, resolution)
    y = np.linspace(y_min, y_max, resolution)
    grid = np.stack(np.meshgrid(x, y), axis=-1)  # (resolution, resolution, 2): theta per point
    return x, y, np.asarray(objective.value(grid), dtype=float)


def _contour_levels(values: np.ndarray, count: int = 18) -> np.ndarray:
    # Quantile levels follow the data: they resolve a narrow Rosenbrock valley as well as a
    # saddle's negative values, where evenly or log-spaced levels would bunch in one corner.
    finite = values[np.isfinite(values)]
    levels = np.unique(np.quantile(finite, np.linspace(0.0, 0.97, count) ** 2))
    return levels if levels.size >= 2 else np.array([finite.min(), finite.max() + 1e-12])


def plot_surface(ax, objective, bounds=None, resolution: int = 80) -> None:
    """Draw filled contours of ``objective`` on ``ax`` (and its minimum, when known, as a star).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    objective : Objective
    bounds : tuple, optional
        ``((x_min, x_max), (y_min, y_max))``; the objective's own by default.
    resolution : int, default 80
        Grid points per axis.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> from nastoolkit import objectives
    >>> ax = Figure().subplots()
    >>> plot_surface(ax, objectives.get("rosenbrock"))
    >>> [float(limit) for limit in ax.get_xlim()]
    [-2.0, 2.0]
    """
    x, y, values = surface_grid(objective, bounds, resolution)
    levels = _contour_levels(values)
    ax.contourf(x, y, values, levels=levels, cmap="viridis", alpha=0.55, extend="both")
    ax.contour(x, y, values, levels=levels, colors="k", linewidths=0.4, alpha=0.5)
    minimum = getattr(objective, "minimum", None)
    if minimum is not None:
        ax.plot(
            *np.asarray(minimum, dtype=float),
            marker="*",
            markersize=15,
            color="gold",
            markeredgecolor="k",
            linestyle="none",
            label="minimum",
        )
    ax.set_xlim(x[0], x[-1])
    ax.set_ylim(y[0], y[-1])
    # Equal scale on both axes, so -grad J looks perpendicular to the contours, as it is.
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(r"$\theta_1$")
    ax.set_ylabel(r"$\theta_2$")


def loss_axis_scale(losses) -> str:
    """The y scale for a loss curve: "log" when every finite loss is positive, else "symlog".

    Parameters
    ----------
    losses : iterable of float

    Returns
    -------
    {"log", "symlog"}
        "symlog" for a saddle's negative losses.

    Examples
    --------
    >>> loss_axis_scale([3.0, 1.0, float("inf")]), loss_axis_scale([1.0, -4.0])
    ('log', 'symlog')
    """
    finite = np.asarray([value for value in losses if np.isfinite(value)], dtype=float)
    return "log" if finite.size and finite.min() > 0 else "symlog"


def _steps(count: int) -> str:
    return f"{count} step" + ("" if count == 1 else "s")


def _display_name(objective) -> str:
    return str(getattr(objective, "name", "surface")).replace("_", " ")


def _visible(path: np.ndarray, bounds) -> np.ndarray:
    # A diverging path leaves the plot; drop non-finite points so matplotlib draws the rest.
    return path[np.all(np.isfinite(path), axis=1)]


# After a divergence the loss axis stops this many decades above the highest starting loss, so
# one racer running to 1e18 does not flatten every other curve into the bottom of the plot.
CLIP_DECADES = 1.0
SYMLOG_LABEL = "symlog: linear in [-1, 1], log beyond"


def loss_axis_limits(losses_by_name: dict, scale: str) -> tuple[float, float] | None:
    """(bottom, top) for the loss axis, or None to let matplotlib choose.

    Top is ``10**CLIP_DECADES`` times the largest starting abs(loss) whenever some curve goes
    above it (a divergence), so the other curves keep their height; bottom is left free.

    Parameters
    ----------
    losses_by_name : dict of str to array_like
        Each curve's losses per step.
    scale : {"log", "symlog"}
        The axis scale (``loss_axis_scale``).

    Returns
    -------
    tuple or None
        ``(None, top)``, or None when no curve diverged.

    Examples
    --------
    >>> loss_axis_limits({"a": [1.0, 0.1], "b": [2.0, 1e18]}, "log")
    (None, 20.0)
    >>> loss_axis_limits({"a": [1.0, 0.1]}, "log") is None
    True
    """
    starts, highest = [], -np.inf
    for values in losses_by_name.values():
        values = np.asarray(values, dtype=float)
        finite = values[np.isfinite(values)]
        if finite.size:
            starts.append(abs(finite[0]))
            highest = max(highest, float(np.max(np.abs(finite))))
        if values.size and not np.all(np.isfinite(values)):
            highest = np.inf
    if not starts:
        return None
    top = float(max(starts)) * 10.0**CLIP_DECADES
    if scale == "symlog":
        top = max(top, 1.0)
    return (None, top) if highest > top else None


def _plot_losses(ax, losses_by_name: dict, colors: dict, tolerance=None) -> None:
    all_losses = []
    for name, losses in losses_by_name.items():
        losses = np.asarray(losses, dtype=float)
        steps = np.arange(losses.size)
        keep = np.isfinite(losses)
        # Markers when there are few points: at step 0 a lone point must still be visible.
        marker = "o" if losses.size <= 30 else None
        ax.plot(
            steps[keep],
            losses[keep],
            color=colors[name],
            label=name,
            linewidth=1.8,
            marker=marker,
            markersize=3,
        )
        all_losses.extend(losses[keep].tolist())
    scale = loss_axis_scale(all_losses)
    ax.set_yscale(scale)
    if tolerance is not None and scale == "log":
        ax.axhline(tolerance, color="gray", linestyle="--", linewidth=1, label="tolerance")
    limits = loss_axis_limits(losses_by_name, scale)
    if limits is not None:
        ax.set_ylim(top=limits[1])
        ax.text(
            0.98,
            0.98,
            "axis clipped: a run diverged",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=11,
            color="darkred",
        )
    longest = max((np.size(values) for values in losses_by_name.values()), default=1)
    if longest <= 1:
        ax.set_xlim(-0.5, 10)
        ax.text(
            0.5,
            0.5,
            "step 0: press Step or Run",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=11,
            color="gray",
        )
    ax.set_xlabel("step")
    ax.set_ylabel(
        r"loss $J(\theta)$" + (" (log scale)" if scale == "log" else f" ({SYMLOG_LABEL})")
    )
    ax.grid(True, which="major", alpha=0.3)


def plot_descent(
    objective, path, losses, gradient=None, learning_rate=None, message=None, title=None
) -> Figure:
    """Gradient descent on one surface: the path on the contours, and the loss per step.

    Parameters
    ----------
    objective : Objective
    path : array_like, shape (k, 2)
        The thetas visited, from the start.
    losses : array_like, shape (k,)
        J(theta) at each of them.
    gradient : array_like, shape (2,), optional
        The gradient at the last point, drawn as the next step's direction, -grad J.
    learning_rate : float, optional
        Shown in the title.
    message : str, optional
        A status line (a divergence warning, say) shown in red.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: contours with the path (left), loss against step (right).

    Examples
    --------
    >>> from nastoolkit import objectives
    >>> surface = objectives.get("quadratic")
    >>> path = [[-4.0, 3.0], [-2.0, 1.5], [-1.0, 0.75]]
    >>> figure = plot_descent(surface, path, surface.value(path), learning_rate=0.5)
    >>> len(figure.axes)
    2
    """
    path = np.asarray(path, dtype=float).reshape(-1, 2)
    figure = Figure(figsize=(FIGURE_WIDTH, 4.0), layout="constrained")
    contour_ax, loss_ax = figure.subplots(1, 2, width_ratios=[1.1, 1.0])
    plot_surface(contour_ax, objective)
    shown = _visible(path, objective.bounds)
    contour_ax.plot(
        shown[:, 0], shown[:, 1], "-o", color="crimson", markersize=3, linewidth=1.5, label="path"
    )
    contour_ax.plot(*path[0], "s", color="white", markeredgecolor="k", markersize=8, label="start")
    current = shown[-1] if len(shown) else path[0]
    contour_ax.plot(*current, "o", color="crimson", markeredgecolor="k", markersize=8)
    if gradient is not None and np.all(np.isfinite(gradient)) and np.linalg.norm(gradient) > 0:
        (x_min, x_max), (y_min, y_max) = objective.bounds
        # Fixed on-screen length: the arrow shows the direction of -grad J; its true size is in
        # the title, since lr * grad can be far smaller or larger than the plot.
        direction = -np.asarray(gradient, dtype=float) / np.linalg.norm(gradient)
        length = 0.15 * min(x_max - x_min, y_max - y_min)
        contour_ax.annotate(
            "",
            xy=current + length * direction,
            xytext=current,
            arrowprops={"arrowstyle": "-|>", "color": "black", "linewidth": 2},
        )
        contour_ax.plot([], [], color="black", label=r"$-\nabla J$ direction")
    # Outside the axes, so the legend never hides the path it explains.
    contour_ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=11, framealpha=0.9)
    name = _display_name(objective)
    contour_ax.set_title(
        title
        or f"{name}: {_steps(len(path) - 1)}"
        + (f", lr = {learning_rate:.3g}" if learning_rate is not None else "")
    )
    _plot_losses(loss_ax, {"gradient descent": losses}, {"gradient descent": "crimson"})
    loss_ax.set_title(r"loss: $\theta \leftarrow \theta - \alpha \nabla J(\theta)$")
    if message:
        # Above both panels, so it never hides the curve it explains.
        figure.suptitle(
            textwrap.fill(message, 110), color="darkred", fontsize=11, backgroundcolor="mistyrose"
        )
    return figure


def plot_race(
    objective, paths: dict, losses: dict, tolerance=None, colors=None, title=None
) -> Figure:
    """Several optimizers on one surface: their paths on the contours, and their losses per step.

    Parameters
    ----------
    objective : Objective
    paths : dict of str to array_like, shape (k, 2)
        A racer's name mapped to the thetas it visited.
    losses : dict of str to array_like, shape (k,)
        The same names mapped to their losses.
    tolerance : float, optional
        A loss value drawn as a dashed line on the loss plot (the finish line).
    colors : dict of str to str, optional
        A matplotlib colour per racer; a fixed palette by default.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from nastoolkit import objectives
    >>> surface = objectives.get("quadratic")
    >>> paths = {"slow": [[-4.0, 3.0], [-3.0, 2.25]], "fast": [[-4.0, 3.0], [-1.0, 0.75]]}
    >>> losses = {name: surface.value(path) for name, path in paths.items()}
    >>> figure = plot_race(surface, paths, losses, tolerance=1e-3)
    >>> len(figure.axes)
    2
    """
    if not paths:
        raise ValueError(
            "paths must map at least one racer's name to its (k, 2) thetas. Received: paths={}"
        )
    palette = [
        "tab:blue",
        "tab:orange",
        "tab:green",
        "tab:red",
        "tab:purple",
        "tab:brown",
        "tab:pink",
        "tab:olive",
    ]
    colors = colors or {name: palette[i % len(palette)] for i, name in enumerate(paths)}
    figure = Figure(figsize=(FIGURE_WIDTH, 4.2), layout="constrained")
    contour_ax, loss_ax = figure.subplots(1, 2, width_ratios=[1.1, 1.0])
    plot_surface(contour_ax, objective)
    for name, path in paths.items():
        shown = _visible(np.asarray(path, dtype=float).reshape(-1, 2), objective.bounds)
        contour_ax.plot(
            shown[:, 0], shown[:, 1], "-", color=colors[name], linewidth=1.8, label=name
        )
        if len(shown):
            contour_ax.plot(*shown[-1], "o", color=colors[name], markeredgecolor="k")
    first = np.asarray(next(iter(paths.values())), dtype=float).reshape(-1, 2)[0]
    contour_ax.plot(*first, "s", color="white", markeredgecolor="k", markersize=8)
    contour_ax.set_title(title or f"{_display_name(objective)}: the race")
    _plot_losses(loss_ax, losses, colors, tolerance)
    loss_ax.set_title("loss vs step")
    loss_ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=11, framealpha=0.9)
    return figure
