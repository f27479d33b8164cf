"""Figures for tutorial 4: polynomial fits under L2, error and weights vs lambda, L1 vs L2 paths,
the diamond and the circle, and dropout masks.

Data in, ``matplotlib.figure.Figure`` out; nothing here fits or trains. Every ``plot_*`` function
takes an optional ``ax`` so widget apps can put several panels in one figure; without one it makes
its own figure (``Figure`` directly, not pyplot, so a notebook never shows it twice).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Polygon
from matplotlib.ticker import MaxNLocator

__all__ = [
    "plot_constraint_regions",
    "plot_decision_boundaries",
    "plot_dropout_outputs",
    "plot_dropout_units",
    "plot_error_vs_lambda",
    "plot_loss_curves",
    "plot_polynomial_fit",
    "plot_regularization_paths",
    "plot_weight_magnitudes",
]

TRAIN_COLOR = "tab:blue"
VAL_COLOR = "tab:orange"
L1_COLOR = "tab:red"
L2_COLOR = "tab:green"


def _axes(ax, figsize):
    """The given axes, or the single axes of a new figure of ``figsize`` inches."""
    if ax is not None:
        return ax
    figure = Figure(figsize=figsize, layout="constrained")
    return figure.add_subplot()


def _lambda_label(lam: float) -> str:
    return f"$\\lambda$ = {lam:.2g}"


def plot_polynomial_fit(
    x_train, y_train, x_curve, y_fit, *, x_val=None, y_val=None, y_true=None, title=None, ax=None
):
    """Training points and the fitted curve, optionally with validation points and the true curve.

    Parameters
    ----------
    x_train, y_train : array_like, shape (m,)
        The points the curve was fitted to.
    x_curve, y_fit : array_like, shape (n,)
        The fitted curve, sampled densely.
    x_val, y_val : array_like, shape (v,), optional
        Validation points.
    y_true : array_like, shape (n,), optional
        The noise-free function at ``x_curve``.
    title : str, optional
    ax : matplotlib.axes.Axes, optional
        Draw here; a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure
        The figure of ``ax``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.linspace(0, 1, 5)
    >>> figure = plot_polynomial_fit(x, x ** 2, x, x ** 2, y_true=x ** 2, title="exact")
    >>> figure.axes[0].get_title()
    'exact'
    """
    ax = _axes(ax, (5, 3.6))
    if y_true is not None:
        ax.plot(x_curve, y_true, color="0.6", linestyle="--", label="true function")
    if x_val is not None:
        ax.scatter(x_val, y_val, s=10, color=VAL_COLOR, alpha=0.5, label="validation data")
    ax.scatter(
        x_train, y_train, s=36, color=TRAIN_COLOR, edgecolor="k", zorder=3, label="training data"
    )
    ax.plot(x_curve, y_fit, color="k", linewidth=2, label="fit $h_\\theta(x)$")
    spread = np.ptp(y_train) if len(y_train) else 1.0
    center = np.mean(y_train) if len(y_train) else 0.0
    # Clip the view: an overfitted polynomial shoots off to +-1e3 between points.
    ax.set_ylim(center - 1.2 * spread, center + 1.2 * spread)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(title or "Polynomial fit")
    ax.legend(
        loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=11, ncols=2
    )  # below the panel: never over the data
    return ax.figure


def plot_error_vs_lambda(lambdas, train_errors, val_errors, current_lambda=None, ax=None):
    """Training and validation mean squared error against lambda on a log axis.

    Parameters
    ----------
    lambdas, train_errors, val_errors : array_like, shape (k,)
    current_lambda : float, optional
        Marked with a vertical line.
    ax : matplotlib.axes.Axes, optional
        Draw here; a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure
        The figure of ``ax``.

    Examples
    --------
    >>> figure = plot_error_vs_lambda([1e-3, 1e-1, 10.0], [0.1, 0.2, 0.9], [0.6, 0.3, 0.9], 0.1)
    >>> figure.axes[0].get_xscale()
    'log'
    """
    ax = _axes(ax, (5, 3.6))
    ax.plot(lambdas, train_errors, color=TRAIN_COLOR, marker=".", label="training error")
    ax.plot(lambdas, val_errors, color=VAL_COLOR, marker=".", label="validation error")
    best = int(np.argmin(val_errors))
    ax.scatter(
        [lambdas[best]],
        [val_errors[best]],
        s=80,
        facecolor="none",
        edgecolor="k",
        zorder=3,
        label=f"best validation ({_lambda_label(lambdas[best])})",
    )
    if current_lambda is not None:
        ax.axvline(current_lambda, color="k", linestyle=":", label=_lambda_label(current_lambda))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("regularization strength $\\lambda$")
    ax.set_ylabel("mean squared error")
    ax.set_title("Error vs $\\lambda$")
    ax.legend(
        loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=11
    )  # below the panel: never over the data
    return ax.figure


def plot_weight_magnitudes(theta, labels=None, ax=None, floor: float = 1e-4):
    """Bar chart of the weights' magnitudes abs(theta_j) on a log axis.

    Parameters
    ----------
    theta : array_like, shape (p,)
    labels : list of str, optional
        Names of the weights (theta_0 ... theta_{p-1} by default).
    ax : matplotlib.axes.Axes, optional
        Draw here; a new figure by default.
    floor : float, default 1e-4
        Magnitudes below it (exact zeros of L1) are drawn at it.

    Returns
    -------
    matplotlib.figure.Figure
        The figure of ``ax``.

    Examples
    --------
    >>> figure = plot_weight_magnitudes([2.0, 0.0, -0.5])
    >>> len(figure.axes[0].patches)
    3
    """
    theta = np.asarray(theta, dtype=float)
    ax = _axes(ax, (5, 3.6))
    labels = labels or [f"$\\theta_{{{j}}}$" for j in range(theta.size)]
    ax.bar(np.arange(theta.size), np.maximum(np.abs(theta), floor), color="tab:purple")
    ax.set_xticks(np.arange(theta.size), labels, fontsize=11)
    ax.set_yscale("log")
    ax.set_ylim(floor, max(1.0, 3 * np.max(np.abs(theta))))
    ax.set_xlabel("weight")
    ax.set_ylabel("$|\\theta_j|$ (log scale)")
    ax.set_title(f"weights, $||\\theta||_2$ = {np.linalg.norm(theta):.3g}")
    return ax.figure


def plot_regularization_paths(
    lambdas, l1_path, l2_path, current_lambda=None, feature_names=None, figure=None
):
    """Two panels, each weight's value against lambda: L1 (lasso) left, L2 (ridge) right.

    The title of each panel counts the weights that are exactly zero at ``current_lambda`` (the
    nearest lambda on the grid).

    Parameters
    ----------
    lambdas : array_like, shape (k,)
    l1_path, l2_path : array_like, shape (k, p)
        The weights for each lambda, as ``regularization_path.lasso_path`` and ``ridge_path``
        return them.
    current_lambda : float, optional
    feature_names : list of str, optional
    figure : matplotlib.figure.Figure, optional
        Draw into it; a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from nastoolkit import regularization_path as rp
    >>> X, y, _ = rp.sample_sparse_regression(num_samples=30, num_features=4, seed=0)
    >>> lambdas = np.logspace(-2, 2, 5)
    >>> figure = plot_regularization_paths(lambdas, rp.lasso_path(X, y, lambdas),
    ...                                    rp.ridge_path(X, y, lambdas), current_lambda=1.0)
    >>> len(figure.axes)
    2
    """
    lambdas = np.asarray(lambdas, dtype=float)
    figure = figure or Figure(figsize=(10, 3.8), layout="constrained")
    axes = figure.subplots(1, 2, sharey=True)
    p = l1_path.shape[1]
    names = feature_names or [f"$\\theta_{{{j + 1}}}$" for j in range(p)]
    colors = [f"C{j % 10}" for j in range(p)]
    index = (
        None
        if current_lambda is None
        else int(np.argmin(np.abs(np.log(lambdas) - np.log(current_lambda))))
    )
    for ax, path, name in zip(axes, (l1_path, l2_path), ("L1 (lasso)", "L2 (ridge)")):
        for j in range(p):
            ax.plot(lambdas, path[:, j], color=colors[j], label=names[j])
        ax.axhline(0.0, color="k", linewidth=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("regularization strength $\\lambda$")
        if index is None:
            ax.set_title(f"{name} path")
        else:
            ax.axvline(lambdas[index], color="k", linestyle=":")
            zeros = int(np.count_nonzero(path[index] == 0.0))
            ax.set_title(f"{name}: {zeros} of {p} weights exactly 0")
    axes[0].set_ylabel("weight value $\\theta_j$")
    axes[1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=11)
    return figure


def plot_constraint_regions(
    theta_1,
    theta_2,
    losses,
    theta_unregularized,
    theta_l1,
    theta_l2,
    loss_at_l1=None,
    loss_at_l2=None,
    figure=None,
):
    """Loss contours of a 2-weight model with the L1 diamond (left) and the L2 circle (right).

    Each region is the constraint set ``norm_1(theta) <= t`` or ``norm_2(theta) <= t`` whose size
    t is that of the penalized solution, so the solution is where the smallest loss contour
    touches the region: at a corner of the diamond (a weight exactly 0) or on the round edge of
    the circle (both weights shrunk, none 0).

    Parameters
    ----------
    theta_1 : array_like, shape (a,)
    theta_2 : array_like, shape (b,)
    losses : array_like, shape (b, a)
        The unregularized loss on the grid (``regularization_path.loss_grid``).
    theta_unregularized, theta_l1, theta_l2 : array_like, shape (2,)
        The three solutions.
    loss_at_l1, loss_at_l2 : float, optional
        Draw the contour that touches each region in bold.
    figure : matplotlib.figure.Figure, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from nastoolkit import regularization_path as rp
    >>> X, y, _ = rp.sample_sparse_regression(num_features=2, num_informative=2, seed=0)
    >>> grid = np.linspace(-4, 4, 41)
    >>> figure = plot_constraint_regions(grid, grid, rp.loss_grid(X, y, grid, grid),
    ...                                  rp.ridge_fit(X, y, 0.0), rp.lasso_fit(X, y, 40.0),
    ...                                  rp.ridge_fit(X, y, 40.0))
    >>> len(figure.axes)
    2
    """
    figure = figure or Figure(figsize=(10, 4.4), layout="constrained")
    axes = figure.subplots(1, 2)
    theta_l1 = np.asarray(theta_l1, float)
    theta_l2 = np.asarray(theta_l2, float)
    radius_l1 = float(np.sum(np.abs(theta_l1)))
    radius_l2 = float(np.linalg.norm(theta_l2))
    diamond = Polygon(
        [(radius_l1, 0), (0, radius_l1), (-radius_l1, 0), (0, -radius_l1)],
        closed=True,
        facecolor=L1_COLOR,
        alpha=0.25,
        edgecolor=L1_COLOR,
    )
    circle = Circle((0, 0), radius_l2, facecolor=L2_COLOR, alpha=0.25, edgecolor=L2_COLOR)
    panels = (
        (axes[0], diamond, theta_l1, L1_COLOR, "L1: $|\\theta_1| + |\\theta_2| \\leq t$"),
        (axes[1], circle, theta_l2, L2_COLOR, "L2: $\\theta_1^2 + \\theta_2^2 \\leq t^2$"),
    )
    levels = np.quantile(losses, np.linspace(0.0, 0.6, 12) ** 2)
    for (ax, region, solution, color, title), touching in zip(panels, (loss_at_l1, loss_at_l2)):
        ax.contour(theta_1, theta_2, losses, levels=np.unique(levels), cmap="viridis", linewidths=1)
        if touching is not None and np.min(losses) < touching < np.max(losses):
            ax.contour(theta_1, theta_2, losses, levels=[touching], colors=color, linewidths=2.5)
        ax.add_patch(region)
        ax.scatter(
            *theta_unregularized,
            marker="*",
            s=160,
            color="k",
            zorder=3,
            label="unregularized minimum",
        )
        ax.scatter(
            *solution,
            s=70,
            color=color,
            edgecolor="k",
            zorder=4,
            label=f"regularized: ({solution[0]:.2f}, {solution[1]:.2f})",
        )
        ax.axhline(0, color="0.5", linewidth=0.6)
        ax.axvline(0, color="0.5", linewidth=0.6)
        ax.set_aspect("equal")
        ax.set_xlim(theta_1[0], theta_1[-1])
        ax.set_ylim(theta_2[0], theta_2[-1])
        ax.set_xlabel("$\\theta_1$")
        ax.set_ylabel("$\\theta_2$")
        ax.set_title(title)
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=11)
    return figure


def plot_dropout_units(activations, mask, columns: int = 8, title=None, ax=None):
    """Hidden units as a grid of circles: kept units coloured by their output, dropped ones crossed.

    Parameters
    ----------
    activations : array_like, shape (units,)
        The layer's outputs before dropout.
    mask : array_like, shape (units,)
        0 (dropped) or 1/(1 - rate) (kept), as ``kernels.dropout`` returns it.
    columns : int, default 8
        Circles per row.
    title : str, optional
        By default, how many units were dropped.
    ax : matplotlib.axes.Axes, optional
        Draw here; a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure
        The figure of ``ax``.

    Examples
    --------
    >>> figure = plot_dropout_units([0.5, 1.0, 0.2, 0.8], [2.0, 0.0, 2.0, 0.0], columns=2)
    >>> figure.axes[0].get_title()
    '2 of 4 units dropped'
    """
    activations = np.asarray(activations, dtype=float).reshape(-1)
    mask = np.asarray(mask, dtype=float).reshape(-1)
    ax = _axes(ax, (4.5, 3.2))
    rows = int(np.ceil(activations.size / columns))
    column_index = np.arange(activations.size) % columns
    row_index = rows - 1 - np.arange(activations.size) // columns
    outputs = activations * mask
    kept = mask != 0
    scale = max(float(np.max(np.abs(outputs))), 1e-12)
    points = ax.scatter(
        column_index[kept],
        row_index[kept],
        c=outputs[kept],
        cmap="Blues",
        vmin=0.0,
        vmax=scale,
        s=420,
        edgecolor="k",
    )
    ax.scatter(column_index[~kept], row_index[~kept], s=420, color="0.88", edgecolor="0.6")
    ax.scatter(column_index[~kept], row_index[~kept], s=160, marker="x", color=L1_COLOR)
    ax.figure.colorbar(points, ax=ax, label="unit output $h_j m_j$", shrink=0.8)
    ax.set_xlim(-0.7, columns - 0.3)
    ax.set_ylim(-0.7, rows - 0.3)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    dropped = int(np.count_nonzero(~kept))
    ax.set_title(title or f"{dropped} of {activations.size} units dropped")
    return ax.figure


def plot_dropout_outputs(train_outputs, inference_output, current_output=None, band=None, ax=None):
    """Histogram of a network's output over many training-mode dropout masks, with the mean and
    the (deterministic) inference-mode output: inverted dropout makes them agree in expectation.

    The legend sits outside the axes, so it never covers the histogram.

    Parameters
    ----------
    train_outputs : array_like, shape (masks,)
        The output under each training-mode mask.
    inference_output : float
        The output with dropout off.
    current_output : float, optional
        The output under the mask of the current step, marked in red.
    band : tuple of float, optional
        ``(low, high)``: shades where the mean of this many random masks may fall (the mean
        plus or minus 3 standard errors, say), so a visible gap can be judged as noise or not.
    ax : matplotlib.axes.Axes, optional
        Draw here; a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure
        The figure of ``ax``.

    Examples
    --------
    >>> import numpy as np
    >>> outputs = np.random.default_rng(0).normal(1.0, 0.2, size=200)
    >>> figure = plot_dropout_outputs(outputs, inference_output=1.0, band=(0.95, 1.05))
    >>> figure.axes[0].get_title()
    'output: train vs inference'
    """
    train_outputs = np.asarray(train_outputs, dtype=float).reshape(-1)
    ax = _axes(ax, (4.5, 3.2))
    low, high = float(np.min(train_outputs)), float(np.max(train_outputs))
    # rate 0 gives identical outputs (up to rounding): widen the range so 30 bins still fit.
    pad = max(0.05 * (high - low), 1e-3 * max(1.0, abs(low)))
    ax.hist(
        train_outputs,
        bins=30,
        range=(low - pad, high + pad),
        color=TRAIN_COLOR,
        alpha=0.6,
        label=f"train mode, {train_outputs.size} masks",
    )
    if band is not None:
        ax.axvspan(
            band[0],
            band[1],
            color=TRAIN_COLOR,
            alpha=0.2,
            label="where the mean may fall\n(± 3 standard errors)",
        )
    ax.axvline(
        np.mean(train_outputs),
        color=TRAIN_COLOR,
        linewidth=2,
        label=f"train-mode mean = {np.mean(train_outputs):.3f}",
    )
    ax.axvline(
        inference_output,
        color="k",
        linestyle="--",
        linewidth=2,
        label=f"inference output = {inference_output:.3f}",
    )
    if current_output is not None:
        ax.axvline(
            current_output, color=L1_COLOR, linewidth=1.5, label=f"this step = {current_output:.3f}"
        )
    ax.set_xlabel("network output $\\hat{y}$")
    ax.set_ylabel("count")
    # Few ticks: at rate 0 the range is tiny and long labels such as -0.4425 would run together.
    ax.xaxis.set_major_locator(MaxNLocator(nbins=3))
    ax.set_title("output: train vs inference")
    ax.legend(fontsize=11, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return ax.figure


def plot_decision_boundaries(
    grid_x, grid_y, probabilities, X_train, y_train, titles=None, axes=None
):
    """Heat maps of P(class 1) over a grid, one panel per model, with the training points.

    The 0.5 contour is the decision boundary. The caller predicts; nothing here trains.

    Parameters
    ----------
    grid_x : array_like, shape (a,)
    grid_y : array_like, shape (b,)
    probabilities : dict of str to array_like, shape (b, a)
        A model's name mapped to its predicted P(class 1) on the grid.
    X_train : array_like, shape (m, 2)
    y_train : array_like, shape (m,)
        Labels 0 and 1.
    titles : dict of str to str, optional
        A panel title per model (default: the name).
    axes : sequence of matplotlib.axes.Axes, optional
        One per model; a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> gx = gy = np.linspace(-1, 1, 5)
    >>> figure = plot_decision_boundaries(gx, gy, {"a": np.tile(gx, (5, 1)) * 0.5 + 0.5},
    ...                                   np.zeros((2, 2)), np.array([0, 1]))
    >>> len(figure.axes)
    2
    """
    names = list(probabilities)
    if axes is None:
        figure = Figure(figsize=(3.4 * len(names) + 0.8, 3.4), layout="constrained")
        axes = figure.subplots(1, len(names), squeeze=False)[0]
    X_train = np.asarray(X_train, dtype=float)
    y_train = np.asarray(y_train).reshape(-1)
    image = None
    for ax, name in zip(axes, names, strict=True):
        values = np.asarray(probabilities[name], dtype=float)
        # imshow, not pcolormesh: one image instead of thousands of patches, so a live
        # retrain redraws in a fraction of the time.
        image = ax.imshow(
            values,
            origin="lower",
            cmap="RdBu_r",
            vmin=0.0,
            vmax=1.0,
            extent=(grid_x[0], grid_x[-1], grid_y[0], grid_y[-1]),
            interpolation="bilinear",
            aspect="equal",
        )
        ax.contour(grid_x, grid_y, values, levels=[0.5], colors="k", linewidths=1.5)
        for label, marker in ((0, "o"), (1, "s")):
            chosen = y_train == label
            ax.scatter(
                X_train[chosen, 0],
                X_train[chosen, 1],
                s=18,
                marker=marker,
                c="tab:blue" if label == 0 else "tab:red",
                edgecolors="k",
                linewidths=0.6,
            )
        ax.set_title((titles or {}).get(name, name), fontsize=12)
        ax.set_xlabel("$x_1$")
    axes[0].set_ylabel("$x_2$")
    axes[0].figure.colorbar(image, ax=list(axes), label="P(class 1)", shrink=0.85)
    return axes[0].figure


def plot_loss_curves(histories, ax=None):
    """Training (dashed) and validation (solid) loss per epoch for several runs, one colour each.

    Parameters
    ----------
    histories : dict of str to dict
        A run's name mapped to its ``History.history`` (``loss``, optionally ``val_loss``).
    ax : matplotlib.axes.Axes, optional
        Draw here; a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure
        The figure of ``ax``.

    Examples
    --------
    >>> runs = {"no dropout": {"loss": [1.0, 0.4], "val_loss": [1.1, 0.9]},
    ...         "dropout 0.5": {"loss": [1.0, 0.6], "val_loss": [1.0, 0.7]}}
    >>> figure = plot_loss_curves(runs)
    >>> len(figure.axes[0].lines)
    5
    """
    ax = _axes(ax, (7, 3.8))
    for index, (name, history) in enumerate(histories.items()):
        color = f"C{index % 10}"
        epochs = np.arange(1, len(history["loss"]) + 1)
        ax.plot(epochs, history["loss"], color=color, linestyle="--", linewidth=1)
        if "val_loss" in history:
            ax.plot(
                epochs,
                history["val_loss"],
                color=color,
                linewidth=2,
                label=f"{name}: validation {history['val_loss'][-1]:.3f}",
            )
    ax.plot([], [], color="0.4", linestyle="--", label="training loss (dashed)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("Training vs validation loss")
    ax.legend(fontsize=11, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return ax.figure
