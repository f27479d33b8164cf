"""A live loss curve for ``model.fit``: a Keras-style callback that redraws as epochs end.

    live = LiveLossPlot()
    live                                   # last line of a cell: shows the (empty) plot
    model.fit(X, y, epochs=100, callbacks=[live], verbose=0)

The state (``curves``: a dict of per-epoch lists, like ``History.history``) is plain Python, so a
test can check it without a browser; the view is a status line and one ``FigureView``.
"""

from __future__ import annotations

import math

import ipywidgets

from ..callbacks import Callback
from ..viz.training import plot_history
from ._view import FigureView, WidgetApp, figure_style

__all__ = ["LiveLossPlot"]


class LiveLossPlot(Callback, WidgetApp):
    """Redraw the loss curves every ``update_every`` epochs (and once at the end of training).

    Redrawing costs ~0.1 s, so a long fit should redraw every few epochs. ``log_scale`` puts the
    loss axis on a log scale. Attributes: ``curves`` (per-epoch values of every logged key),
    ``epochs_seen``, ``view`` (the FigureView), ``status`` (HTML) and ``widget`` (the container).

    Parameters
    ----------
    update_every : int, default 5
        Epochs between redraws.
    log_scale : bool, default True
        A log loss axis.
    title : str, default "training"
        The figure's title.

    Examples
    --------
    >>> import contextlib, io
    >>> import numpy as np
    >>> from nastoolkit.layers import Dense
    >>> from nastoolkit.models import Sequential
    >>> model = Sequential([Dense(1, input_shape=(2,))], seed=0)
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> plot = LiveLossPlot(update_every=2)
    >>> with contextlib.redirect_stdout(io.StringIO()):  # outside Jupyter figures print as text
    ...     _ = model.fit(np.zeros((20, 2)), np.ones(20), epochs=3, verbose=0, callbacks=[plot])
    >>> plot.epochs_seen, len(plot.curves["loss"])
    (3, 3)
    """

    def __init__(self, update_every: int = 5, log_scale: bool = True, title: str = "training"):
        super().__init__()
        if not isinstance(update_every, int) or update_every < 1:
            raise ValueError(
                "update_every must be a positive integer (epochs between redraws). "
                f"Received: update_every={update_every!r}"
            )
        self.update_every = update_every
        self.log_scale = log_scale
        self.title = title
        self.curves: dict[str, list[float]] = {}
        self.epochs_seen = 0
        self.view = FigureView()
        self.status = ipywidgets.HTML("waiting for <code>fit</code> ...")
        self.widget = ipywidgets.VBox([self.status, self.view.output])

    def __repr__(self) -> str:
        return f"LiveLossPlot(epochs_seen={self.epochs_seen}, keys={sorted(self.curves)})"

    # Keras hooks ------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self.curves = {}
        self.epochs_seen = 0
        self.status.value = "training ..."

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.curves.setdefault(key, []).append(float(value))
        self.epochs_seen = epoch + 1
        if self.epochs_seen % self.update_every == 0:
            self.redraw()

    def on_train_end(self, logs=None):
        self.redraw()
        reason = getattr(self.model, "stop_reason", None)
        if reason:
            self.status.value += f"<br><b>stopped early:</b> {reason}"

    # drawing ----------------------------------------------------------------------------------
    def redraw(self) -> None:
        """Draw the curves so far and summarise the last epoch in the status line."""
        total = self.params.get("epochs")
        with figure_style():
            figure = plot_history(
                self.curves, title=self.title, log_scale=self.log_scale, total_epochs=total
            )
        self.view.show(figure)
        last = ", ".join(
            f"{key} = {values[-1]:.4g}"
            for key, values in sorted(self.curves.items())
            if values and math.isfinite(values[-1])
        )
        of_total = f" of {total}" if total else ""
        self.status.value = f"epoch {self.epochs_seen}{of_total}: {last}"
