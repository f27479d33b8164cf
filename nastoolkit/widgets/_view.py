"""The one way widget apps put a matplotlib figure on screen: ``FigureView``.

Every app in ``nastoolkit.widgets`` owns one or more ``FigureView`` objects. A redraw replaces the
previous figure inside an ``ipywidgets.Output`` (so the browser shows one PNG ``<img>`` inside
``.widget-output``), and the figure is closed right after display so pyplot never keeps it and it
never reappears at the end of a cell. Tests read ``last_figure`` and ``draw_count`` instead of a
screen.
"""

from __future__ import annotations

import io

import ipywidgets
import matplotlib
import matplotlib.pyplot as plt
from IPython.display import Image, display
from matplotlib.figure import Figure

__all__ = ["CanvasView", "FigureView", "WidgetApp", "figure_style", "make_view"]

# A 9.5-inch figure at 90 dpi is 855 px wide. In a 1100 px JupyterLab window with the file browser
# open the output area is about 665 px, so the image is shown at ~0.78 scale; with no text below
# 11 pt (FIGURE_STYLE) every label is still >= 10 px on screen.
DPI = 90
# A live ipympl canvas is not scaled by the browser: draw it at this dpi so 9.5 inches fit 665 px.
CANVAS_DPI = 68
FIGURE_STYLE = {
    "font.size": 12,
    "axes.titlesize": 12,
    "axes.labelsize": 12,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 11,
    "figure.titlesize": 12,
}


def figure_style():
    """A matplotlib ``rc_context`` with the apps' readable font sizes; build figures in it."""
    return matplotlib.rc_context(FIGURE_STYLE)


class FigureView:
    """An ``ipywidgets.Output`` that shows one matplotlib figure at a time.

    ``layout`` is passed to the Output (e.g. ``ipywidgets.Layout(width="640px")``).
    ``last_figure`` is the figure drawn last (None before the first draw) and ``draw_count`` how
    many times ``show`` has been called: tests use both to check that a control redrew the plot.
    """

    def __init__(self, layout=None):
        self.output = (
            ipywidgets.Output(layout=layout) if layout is not None else ipywidgets.Output()
        )
        self.last_figure = None
        self.draw_count = 0

    def __repr__(self) -> str:
        return f"FigureView(draw_count={self.draw_count})"

    def show(self, figure) -> None:
        """Replace what the Output shows with ``figure`` (a matplotlib Figure), then close it.

        The figure is rendered to PNG here rather than handed to IPython's formatters: a
        ``Figure`` made without pyplot has no PNG formatter unless the inline backend happens to
        be active, and would show as the text "Figure(950x400)".
        """
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI)
        with self.output:
            # wait=True keeps the old image until the new one arrives, so the page does not jump.
            self.output.clear_output(wait=True)
            display(Image(data=buffer.getvalue(), format="png"))
        # The figure stays readable for tests (axes, lines, texts) after pyplot forgets it.
        plt.close(figure)
        self.last_figure = figure
        self.draw_count += 1

    def _ipython_display_(self) -> None:
        display(self.output)


class WidgetApp:
    """Base of the apps: the last line of a cell that evaluates to an app shows ``app.widget``."""

    widget = None  # the app's top-level ipywidgets container, set by each app's __init__

    def _ipython_display_(self) -> None:
        display(self.widget)


class CanvasView:
    """A live ipympl canvas with ``FigureView``'s interface, that also reports clicks.

    ``show(figure)`` puts ``figure`` on the canvas (the canvas keeps one widget, the figure is
    swapped), ``on_click(callback)`` calls ``callback(axes_index, x, y)`` in data coordinates
    when the learner clicks inside an axes. ``output`` is the widget to place in a layout.
    Without ipympl, use ``FigureView`` (``make_view`` chooses).
    """

    def __init__(self, figsize=(9.5, 4.0)):
        from ipympl.backend_nbagg import Canvas, FigureManager  # optional: widgets extra

        self._figure = Figure(figsize=figsize)
        self.canvas = Canvas(self._figure)
        self.manager = FigureManager(self.canvas, 0)
        self.canvas.header_visible = False
        self.canvas.footer_visible = False
        self.canvas.toolbar_visible = False
        self.canvas.resizable = False
        self.canvas.capture_scroll = False
        self.output = self.canvas
        self.last_figure = None
        self.draw_count = 0
        self._callbacks = []

    def __repr__(self) -> str:
        return f"CanvasView(draw_count={self.draw_count})"

    def on_click(self, callback) -> None:
        """Call ``callback(axes_index, x, y)`` for each click inside one of the axes."""
        self._callbacks.append(callback)
        self._connect()

    def _connect(self) -> None:
        # Matplotlib keeps canvas callbacks on the figure, so each new figure is connected anew.
        if self._callbacks:
            self.canvas.mpl_connect("button_press_event", self._on_press)

    def _on_press(self, event) -> None:
        if event.inaxes is None or event.xdata is None:
            return
        index = self.canvas.figure.axes.index(event.inaxes)
        for callback in self._callbacks:
            callback(index, float(event.xdata), float(event.ydata))

    def show(self, figure) -> None:
        """Swap ``figure`` onto the canvas and redraw it."""
        figure.set_dpi(CANVAS_DPI)
        figure.set_canvas(self.canvas)
        self.canvas.figure = figure
        self._connect()
        self.canvas.draw_idle()
        self.last_figure = figure
        self.draw_count += 1

    def _ipython_display_(self) -> None:
        display(self.output)


def make_view(clickable: bool = False, figsize=(9.5, 4.0)):
    """A ``CanvasView`` when ``clickable`` and ipympl is installed, else a ``FigureView``."""
    if clickable:
        try:
            return CanvasView(figsize)
        except ImportError:
            pass
    return FigureView()
