"""What several widget tests do alike: a left click on a panel of an app's ipympl figure."""

from __future__ import annotations


def click(app, point, axes: int = 0) -> None:
    """A left click at ``point`` (data coordinates) on panel ``axes`` of ``app``'s live figure,
    processed as the ipympl canvas processes a browser click (needs ipympl)."""
    from matplotlib.backend_bases import MouseEvent

    canvas = app.view.canvas
    canvas.draw()
    x, y = app.view.last_figure.axes[axes].transData.transform(point)
    MouseEvent("button_press_event", canvas, x, y, button=1)._process()
