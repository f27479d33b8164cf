"""Figures for the tabular benchmark: regret vs simulated cost, and the whole space at once.

Data in (a :class:`~nastoolkit.nas.bench.ComparisonReport`, a table's arrays), a matplotlib
``Figure`` out; nothing here trains or searches.
"""

from __future__ import annotations

from matplotlib.figure import Figure

__all__ = ["plot_regret", "plot_space"]


def _axes(ax, size=(6.4, 4.2)):
    if ax is not None:
        return ax.figure, ax
    figure = Figure(figsize=size, layout="constrained")
    return figure, figure.add_subplot()


def plot_regret(report, ax=None, regret="test") -> Figure:
    """Median regret (line) and its 25-75 % band (shaded) vs simulated training seconds (log
    axis), one colour per strategy, as the NAS-Bench-101 paper plots them.

    Parameters
    ----------
    report : ComparisonReport
        From :func:`nastoolkit.nas.bench.compare_strategies`.
    ax : matplotlib Axes, optional
        Where to draw (default: a new Figure).
    regret : {"test", "validation"}
        Which regret of the validation-best choice: its test error minus the table's lowest
        test error (NAS-Bench-101's curve), or its validation error minus the table's lowest
        validation error (0 once the search has found the validation-best entry).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from nastoolkit.nas.bench import NASBenchMLP, compare_strategies
    >>> report = compare_strategies(NASBenchMLP.load("digits"), ["random"], repetitions=3,
    ...                             budget_seconds=30)
    >>> len(plot_regret(report).axes[0].lines)
    1
    """
    figure, ax = _axes(ax)
    for name in report.strategies:
        low, middle, high = report.quantiles(name, regret=regret)
        (line,) = ax.plot(report.costs, middle, label=name)
        ax.fill_between(report.costs, low, high, color=line.get_color(), alpha=0.2, lw=0)
    ax.set_xscale("log")
    ax.set_ylim(bottom=0)  # regret is never negative; 0 is the best possible choice
    ax.set_xlabel("simulated training time (s)")
    ax.set_ylabel(f"{regret} regret of the validation-best choice")
    ax.set_title(f"{report.repetitions} runs each: median and quartiles")
    ax.legend(frameon=False)
    return figure


def plot_space(bench, epochs=None, seed=0, ax=None) -> Figure:
    """Test error (at the table's last epoch, or ``epochs``) against parameter count for every
    entry of ``bench``, with the true Pareto front drawn as a step line.

    Examples
    --------
    >>> from nastoolkit.nas.bench import NASBenchMLP
    >>> len(plot_space(NASBenchMLP.load("digits")).axes)
    1
    """
    figure, ax = _axes(ax)
    errors = bench.final_errors(epochs, seed)
    params = bench.arrays["params"].astype(float)
    ax.scatter(params, errors, s=8, alpha=0.5, label="architectures (best learning rate)")
    front = bench.pareto_front(epochs, seed)
    ax.step(params[front], errors[front], where="post", color="black", label="Pareto front")
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter("")  # minor labels of a log axis overlap at this width
    ax.set_xlabel("parameters")
    ax.set_ylabel("test error")
    ax.legend(frameon=False)
    return figure
