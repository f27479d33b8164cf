"""Training curves: loss (and any other logged metric) per epoch, training beside validation."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

__all__ = ["plot_history"]


def plot_history(
    history: dict, title: str = "training", log_scale: bool = True, total_epochs: int | None = None
) -> Figure:
    """Loss per epoch (``loss`` and ``val_loss``) and, in a second panel, the first other metric.

    Parameters
    ----------
    history : dict of str to list of float
        A Keras-style ``History.history``: ``{"loss": [...], "val_loss": [...], "mae": [...]}``.
    title : str, default "training"
        Title of the loss panel.
    log_scale : bool, default True
        Log y axis for the loss when every value is positive.
    total_epochs : int, optional
        Fixes the x range, so a plot redrawn live during training does not rescale.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> figure = plot_history({"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.7, 0.6],
    ...                        "mae": [0.8, 0.6, 0.4]}, total_epochs=10)
    >>> [ax.get_title() for ax in figure.axes]
    ['training', 'mae']
    """
    metric_names = sorted({key.removeprefix("val_") for key in history} - {"loss", "lr"})
    panels = 2 if metric_names else 1
    figure = Figure(figsize=(4.8 * panels, 3.6), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, panels))
    _plot_pair(axes[0], history, "loss", log_scale)
    axes[0].set_title(title)
    for name in metric_names[:1]:  # one metric panel keeps the figure laptop-sized
        _plot_pair(axes[1], history, name, log_scale=False)
        axes[1].set_title(name)
    for ax in axes:
        if total_epochs:
            ax.set_xlim(0.5, max(total_epochs, 1) + 0.5)
    return figure


def _plot_pair(ax, history: dict, name: str, log_scale: bool) -> None:
    for key, label, style in ((name, "training", "-"), (f"val_{name}", "validation", "--")):
        values = np.asarray(history.get(key, []), dtype=float)
        if values.size:
            epochs = np.arange(1, values.size + 1)
            ax.plot(epochs, values, style, linewidth=1.8, label=f"{label} {name}")
    finite = [v for key in (name, f"val_{name}") for v in history.get(key, []) if np.isfinite(v)]
    if log_scale and finite and min(finite) > 0:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(name + (" (log scale)" if ax.get_yscale() == "log" else ""))
    ax.grid(True, alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=11)
