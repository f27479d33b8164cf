"""Learning-rate schedules beside their effect on training: lr vs step, and loss vs step."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

__all__ = ["plot_schedules"]


def plot_schedules(
    learning_rates: dict,
    losses: dict,
    highlight: str | None = None,
    title: str = "learning-rate schedules",
) -> Figure:
    """Two panels with one line per schedule: its lr per step, and the loss it produced.

    Parameters
    ----------
    learning_rates : dict of str to array_like, shape (steps,)
        A schedule's name mapped to its learning rate at each step.
    losses : dict of str to array_like, shape (steps,)
        The same names mapped to the loss at each step (a name may be missing).
    highlight : str, optional
        A schedule drawn thicker.
    title : str, default "learning-rate schedules"
        Title of the left panel.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> rates = {"constant": np.full(50, 0.1), "decay": 0.1 * 0.9 ** np.arange(50)}
    >>> losses = {name: 1.0 / (1.0 + np.cumsum(lr)) for name, lr in rates.items()}
    >>> figure = plot_schedules(rates, losses, highlight="decay")
    >>> len(figure.axes)
    2
    """
    figure = Figure(figsize=(9.5, 3.8), layout="constrained")
    lr_ax, loss_ax = figure.subplots(1, 2)
    for index, name in enumerate(learning_rates):
        color = f"C{index}"
        width = 3.0 if name == highlight else 1.5
        lr_ax.plot(np.asarray(learning_rates[name]), color=color, linewidth=width, label=name)
        if name in losses:
            loss_ax.plot(np.asarray(losses[name]), color=color, linewidth=width, label=name)
    lr_ax.set_title(title)
    lr_ax.set_xlabel("step")
    lr_ax.set_ylabel(r"learning rate $\alpha_t$")
    loss_ax.set_title("effect: loss with noisy gradients")
    loss_ax.set_xlabel("step")
    loss_ax.set_ylabel(r"loss $J(\theta_t)$ (log scale)")
    loss_ax.set_yscale("log")
    for ax in (lr_ax, loss_ax):
        ax.grid(True, alpha=0.3)
    # One legend for both panels (same colours), outside the data.
    loss_ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=11)
    return figure
