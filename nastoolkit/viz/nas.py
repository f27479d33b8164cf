"""Figures for tutorial 5: architectures as diagrams, fitness per generation, the hall of fame,
the Pareto front of error vs parameters, and holdout vs k-fold estimates.

Data in (genomes as ``nastoolkit.nas`` dicts, ``Candidate`` records, per-generation statistics),
``matplotlib.figure.Figure`` out; nothing here trains or searches. Plot functions that draw one
panel take an optional ``ax``; without one they make their own ``Figure`` (not pyplot). Each
figure gives colour one meaning with a legend (activation: ``ACTIVATION_COLORS``; parent:
``PARENT_COLORS``, a disjoint palette), keeps legends outside the data and text >= 11 pt.
"""

from __future__ import annotations

import functools
import math

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, Patch
from matplotlib.ticker import MaxNLocator

from ..nas.genome import describe_genome

__all__ = [
    "ACTIVATION_COLORS",
    "FIGURE_STYLE",
    "PARENT_COLORS",
    "activation_legend",
    "plot_estimates",
    "plot_fitness_history",
    "plot_genome",
    "plot_genomes",
    "plot_hall_of_fame",
    "plot_pareto_front",
    "plot_population",
]

# Two palettes that share no colour, so a blue box never means "parent A" in one panel and
# "relu" in another: parents are saturated blue/orange, activations pale green/purple/pink/grey.
PARENT_COLORS = {"first": "#4f9fd1", "second": "#f28e2b"}
ACTIVATION_COLORS = {
    "relu": "#b5dfa8",
    "tanh": "#cdb4e6",
    "sigmoid": "#f7c6d0",
    "linear": "#d9d9d9",
    "elu": "#fde68a",
    "leaky_relu": "#a7e3e0",
    "softmax": "#e5e5e5",
}
HIGHLIGHT_COLOR = "tab:red"
CUT_COLOR = "k"
# Readable in a 1100 px JupyterLab window: a 9.5-inch figure is shown at about 0.78 of its
# 90-dpi size, so 11 pt is the smallest text that stays >= 10 px on screen. The sizes are those
# of widgets._view.FIGURE_STYLE, repeated because viz never imports widgets (ipywidgets).
FIGURE_STYLE = {
    "font.size": 12,
    "axes.titlesize": 12,
    "axes.labelsize": 12,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 11,
    "figure.titlesize": 12,
}
SMALL = 11  # the smallest font size used in these figures (points)


def _styled(function):
    """Draw inside ``FIGURE_STYLE``: font sizes are fixed when artists are made."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(FIGURE_STYLE):
            return function(*args, **kwargs)

    return wrapper


def _axes(ax, figsize):
    if ax is not None:
        return ax
    return Figure(figsize=figsize, layout="constrained").add_subplot()


def _box_height(units: int, largest: int) -> float:
    """Box height grows with log2(units), so 8 and 256 units both stay visible."""
    return 0.25 + 0.75 * math.log2(max(units, 1) + 1) / math.log2(max(largest, 2) + 1)


def _global_genes_text(genome: dict) -> str:
    return (
        f"{genome['optimizer']}, lr={genome['learning_rate']:.2g}, "
        f"L2={genome['l2']:g}, batch={genome['batch_size']}"
    )


@_styled
def plot_genome(
    genome: dict,
    ax=None,
    title=None,
    input_dim=None,
    output_dim=None,
    layer_colors=None,
    highlight=(),
    highlight_globals=False,
    slots=None,
    cuts=(),
):
    """A genome drawn as a network: input -> one box per hidden layer -> output, left to right.

    Each box shows units, activation (box colour, see :data:`ACTIVATION_COLORS`) and dropout
    rate (hatched when positive); box height grows with log(units). The global genes (optimizer,
    learning rate, L2, batch size) are written underneath.

    Parameters
    ----------
    genome : dict
        A ``nastoolkit.nas`` genome.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new ``Figure`` is made without one.
    title : str, optional
        The panel title.
    input_dim, output_dim : int, optional
        Written in the input and output boxes.
    layer_colors : list of colours, optional
        One per layer; replaces the activation colours (e.g. which parent a layer came from).
    highlight : sequence of int
        Layer indices drawn with a thick red edge (what a mutation changed).
    highlight_globals : bool
        Write the global genes in red (they changed).
    slots : int, optional
        At least layers + 2; fixes the horizontal scale so diagrams of different depths side by
        side have boxes of one size (the network is centred in them).
    cuts : sequence of int
        Crossover cut points: a dashed line is drawn before layer ``k`` for each ``k`` (0: right
        after the input, ``len(layers)``: right before the output).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from nastoolkit.nas import make_genome
    >>> genome = make_genome([(64, "relu", 0.25), (32, "tanh", 0.0)])
    >>> figure = plot_genome(genome, input_dim=64, output_dim=10, cuts=[1])
    >>> len(figure.axes[0].lines)  # the cut
    1
    """
    layers = genome["layers"]
    ax = _axes(ax, (2.4 + 1.5 * len(layers), 2.6))
    largest = max([layer["units"] for layer in layers] + [output_dim or 1, 2])
    columns = len(layers) + 2
    slots = max(columns, slots or 0)
    shift = (slots - columns) / 2
    for column in range(columns - 1):
        ax.annotate(
            "",
            xy=(shift + column + 0.62, 0),
            xytext=(shift + column + 0.38, 0),
            arrowprops={"arrowstyle": "->", "color": "0.4"},
        )
    _draw_box(ax, shift, 0.45, "in" + (f"\n{input_dim}" if input_dim else ""), "white", "0.4")
    for index, layer in enumerate(layers, start=1):
        color = (
            layer_colors[index - 1]
            if layer_colors is not None
            else ACTIVATION_COLORS.get(layer["activation"], "#d9d9d9")
        )
        label = f"{layer['units']}\n{layer['activation']}"
        if layer["dropout"]:
            label += f"\np={layer['dropout']:g}"
        marked = (index - 1) in highlight
        _draw_box(
            ax,
            shift + index,
            _box_height(layer["units"], largest),
            label,
            color,
            HIGHLIGHT_COLOR if marked else "k",
            hatch="//" if layer["dropout"] else None,
            linewidth=3 if marked else 1,
        )
    _draw_box(
        ax,
        shift + columns - 1,
        0.45,
        "out" + (f"\n{output_dim}" if output_dim else ""),
        "white",
        "0.4",
    )
    for cut in cuts:
        ax.plot(
            [shift + cut + 0.5] * 2, [-0.58, 0.58], color=CUT_COLOR, linestyle="--", linewidth=2
        )
    ax.text(
        (slots - 1) / 2,
        -0.76,
        _global_genes_text(genome),
        ha="center",
        va="center",
        fontsize=SMALL,
        color=HIGHLIGHT_COLOR if highlight_globals else "k",
        fontweight="bold" if highlight_globals else "normal",
    )
    ax.set_xlim(-0.55, slots - 0.45)
    ax.set_ylim(-0.9, 0.62)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax.figure


def _draw_box(ax, x, height, label, color, edge, hatch=None, linewidth=1.0):
    ax.add_patch(
        FancyBboxPatch(
            (x - 0.4, -height / 2),
            0.8,
            height,
            boxstyle="round,pad=0.02",
            facecolor=color,
            edgecolor=edge,
            hatch=hatch,
            linewidth=linewidth,
            alpha=0.95,
        )
    )
    ax.text(
        x,
        0,
        label,
        ha="center",
        va="center",
        fontsize=SMALL,
        linespacing=1.0,
        bbox={"facecolor": "white", "alpha": 0.6, "edgecolor": "none", "pad": 1},
    )


def activation_legend(genomes) -> list:
    """Legend handles for the activations that ``genomes`` use, in their colours (with the
    dropout hatch when any layer has dropout).

    Parameters
    ----------
    genomes : list of genome
        The genomes drawn in the figure.

    Returns
    -------
    list of matplotlib.patches.Patch
        One handle per activation used (plus one for dropout), for ``ax.legend(handles=...)``.

    Examples
    --------
    >>> from nastoolkit.nas import make_genome
    >>> [h.get_label() for h in activation_legend([make_genome([(8, "tanh", 0.0)])])]
    ['tanh']
    """
    layers = [layer for genome in genomes for layer in genome["layers"]]
    names = dict.fromkeys(layer["activation"] for layer in layers)
    handles = [
        Patch(facecolor=ACTIVATION_COLORS.get(name, "#d9d9d9"), edgecolor="k", label=name)
        for name in names
    ]
    if any(layer["dropout"] for layer in layers):
        handles.append(Patch(facecolor="white", edgecolor="k", hatch="//", label="dropout p > 0"))
    return handles


@_styled
def plot_genomes(
    genomes,
    titles=None,
    columns: int = 2,
    input_dim=None,
    output_dim=None,
    figure=None,
    width: float = 9.5,
):
    """Several genomes in a grid of diagrams, one panel each, with one activation legend.

    Parameters
    ----------
    genomes : list of dict
        The genomes to draw (at least one).
    titles : list of str, optional
        One panel title per genome.
    columns : int
        Panels per row.
    input_dim, output_dim : int, optional
        Written in the input and output boxes.
    figure : matplotlib.figure.Figure, optional
        Draw into this figure instead of a new one.
    width : float
        Figure width in inches.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from nastoolkit.nas import make_genome
    >>> figure = plot_genomes([make_genome([(8, "relu", 0.0)]), make_genome([(16, "tanh", 0.5)])])
    >>> len(figure.axes)
    2
    """
    genomes = list(genomes)
    if not genomes:
        raise ValueError("genomes must hold at least one genome to draw. Received: none")
    rows = math.ceil(len(genomes) / columns)
    figure = figure or Figure(figsize=(width, 2.3 * rows + 0.5), layout="constrained")
    axes = np.atleast_1d(figure.subplots(rows, columns)).reshape(-1)
    slots = max(len(genome["layers"]) for genome in genomes) + 2
    for index, ax in enumerate(axes):
        if index < len(genomes):
            plot_genome(
                genomes[index],
                ax=ax,
                title=titles[index] if titles else None,
                input_dim=input_dim,
                output_dim=output_dim,
                slots=slots,
            )
        else:
            ax.set_axis_off()
    handles = activation_legend(genomes)
    figure.legend(
        handles=handles,
        loc="outside lower center",
        ncols=len(handles),
        title="box colour: activation",
    )
    return figure


@_styled
def plot_fitness_history(history, ax=None, title="Validation error per generation"):
    """Best, mean and mean +- std of the population's validation error per generation, and the
    best found so far (the hall of fame's first), with the legend beside the axes.

    Parameters
    ----------
    history : list of dict
        ``SearchResult.history``: dicts with ``generation``, ``best``, ``mean``, ``std``,
        ``best_so_far``; generations where every candidate failed are skipped.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    title : str
        The panel title.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> rows = [{"generation": 0, "best": 0.3, "mean": 0.5, "std": 0.1, "best_so_far": 0.3}]
    >>> plot_fitness_history(rows).axes[0].get_xlabel()
    'generation'
    """
    ax = _axes(ax, (9.5, 3.6))
    rows = [row for row in history if row.get("best") is not None]
    generations = np.array([row["generation"] for row in rows])
    best = np.array([row["best"] for row in rows])
    mean = np.array([row["mean"] for row in rows])
    spread = np.array([row["std"] for row in rows])
    ax.fill_between(
        generations,
        mean - spread,
        mean + spread,
        color="tab:blue",
        alpha=0.2,
        label="population mean ± 1 std\n(spread of the members)",
    )
    ax.plot(generations, mean, color="tab:blue", marker="o", label="population mean")
    ax.plot(generations, best, color="tab:green", marker="o", label="population best")
    if rows and "best_so_far" in rows[0]:
        ax.step(
            generations,
            [row["best_so_far"] for row in rows],
            where="post",
            color="k",
            linestyle="--",
            label="best so far\n(hall of fame)",
        )
    ax.set_xticks(generations)
    ax.set_xlabel("generation")
    ax.set_ylabel("validation error")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    return ax.figure


@_styled
def plot_population(records, generation: int, ax=None, best_key=None):
    """One generation's population as horizontal bars of validation error, best at the top.

    Parameters
    ----------
    records : list of Candidate
        :class:`~nastoolkit.nas.Candidate` records (a search's population).
    generation : int
        Members born in this generation (new children) are orange, survivors of earlier ones
        blue, so a step shows what selection kept. Failed members are drawn at the worst
        score, hatched.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    best_key : str, optional
        Key of the best candidate so far: its bar gets a thick black edge when it is in the
        population, and the title says when it is not.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from nastoolkit.nas import Candidate, Outcome, make_genome
    >>> record = Candidate(0, "a", make_genome([(8, "relu", 0.0)]), 0, 100, Outcome("ok", 0.2))
    >>> plot_population([record], generation=0).axes[0].get_xlabel()
    'validation error'
    """
    ax = _axes(ax, (9.5, 0.8 + 0.4 * len(records)))
    ordered = sorted(records, key=lambda r: (not r.ok, r.score))
    scores = [r.score for r in ordered if r.ok]
    worst = max(scores) if scores else 1.0
    positions = np.arange(len(ordered))[::-1]
    for position, record in zip(positions, ordered):
        failed = not record.ok
        width = worst if failed else record.score
        best = record.key == best_key
        ax.barh(
            position,
            width,
            alpha=0.85,
            hatch="xx" if failed else None,
            color="tab:orange" if record.generation == generation else "tab:blue",
            edgecolor="k" if best else "none",
            linewidth=2.5 if best else 0,
        )
        ax.text(
            width,
            position,
            " failed" if failed else f" {record.score:.3f}",
            va="center",
            fontsize=SMALL,
        )
    ax.set_yticks(positions, [describe_genome(r.genome) for r in ordered], fontsize=SMALL)
    ax.set_xlim(0, 1.25 * worst)
    ax.set_xlabel("validation error")
    kept = best_key is None or any(r.key == best_key for r in records)
    ax.set_title(
        f"Population after generation {generation}"
        + ("" if kept else ": the best so far is no longer in it")
    )
    handles = [
        Patch(color="tab:orange", label=f"new: born in\ngeneration {generation}"),
        Patch(color="tab:blue", label="survivor"),
    ]
    if best_key is not None and kept:
        handles.append(Patch(facecolor="white", edgecolor="k", linewidth=2.5, label="best so far"))
    ax.xaxis.set_major_locator(MaxNLocator(4))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    return ax.figure


@_styled
def plot_hall_of_fame(records, columns: int = 2, input_dim=None, output_dim=None, width=9.5):
    """The best records (``SearchResult.hall_of_fame``) as diagrams titled with rank, validation
    error and parameter count.

    Parameters
    ----------
    records : list of Candidate
        Best first.
    columns : int
        Panels per row.
    input_dim, output_dim : int, optional
        Written in the input and output boxes.
    width : float
        Figure width in inches.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from nastoolkit.nas import Candidate, Outcome, make_genome
    >>> record = Candidate(0, "a", make_genome([(8, "relu", 0.0)]), 0, 610, Outcome("ok", 0.1))
    >>> plot_hall_of_fame([record]).axes[0].get_title()
    '#1: error 0.1000, 610 parameters'
    """
    titles = [
        f"#{rank}: error {record.score:.4f}, {record.params:,} parameters"
        for rank, record in enumerate(records, start=1)
    ]
    return plot_genomes(
        [record.genome for record in records],
        titles=titles,
        columns=columns,
        input_dim=input_dim,
        output_dim=output_dim,
        width=width,
    )


@_styled
def plot_pareto_front(records, front, ax=None, label_front: bool = True):
    """Every successful candidate as a point (parameters on a log axis, validation error), the
    non-dominated ones (``front``, e.g. ``SearchResult.pareto_front``) joined by a staircase.

    Parameters
    ----------
    records : list of Candidate
        Every evaluated candidate (failed ones are left out).
    front : list of Candidate
        The non-dominated records.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    label_front : bool
        Write each front point's parameter count beside it.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from nastoolkit.nas import Candidate, Outcome, make_genome
    >>> record = Candidate(0, "a", make_genome([(8, "relu", 0.0)]), 0, 610, Outcome("ok", 0.1))
    >>> plot_pareto_front([record], [record]).axes[0].get_xscale()
    'log'
    """
    ax = _axes(ax, (9.5, 4.2))
    ok = [record for record in records if record.ok]
    ax.scatter(
        [r.params for r in ok],
        [r.score for r in ok],
        s=25,
        color="0.6",
        label=f"all candidates ({len(ok)})",
    )
    front = sorted(front, key=lambda record: record.params)
    front_params = [r.params for r in front]
    front_scores = [r.score for r in front]
    ax.step(front_params, front_scores, where="post", color="tab:red", linewidth=1.5)
    ax.scatter(
        front_params,
        front_scores,
        s=60,
        color="tab:red",
        edgecolor="k",
        zorder=3,
        label=f"Pareto front ({len(front)})",
    )
    if label_front:
        for record in front:
            ax.annotate(
                f"{record.params:,}",
                (record.params, record.score),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize=SMALL,
            )
    ax.set_xscale("log")
    ax.set_xlabel("number of parameters (log scale)")
    ax.set_ylabel("validation error")
    ax.set_title("Error vs size: the Pareto front")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    return ax.figure


@_styled
def plot_estimates(names, holdout_errors, kfold_means, kfold_stds, ax=None):
    """Holdout vs k-fold cross-validation estimates of the same architectures, side by side
    bars; only the k-fold bars carry +-1 std error bars (over the folds: one holdout split
    has no spread to show).

    Parameters
    ----------
    names : list of str
        One label per architecture.
    holdout_errors : list of float
        The single-split validation errors.
    kfold_means, kfold_stds : list of float
        Mean and standard deviation of the fold errors.
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> figure = plot_estimates(["a"], [0.1], [0.12], [0.01])
    >>> [t.get_text() for t in figure.axes[0].get_xticklabels()]
    ['a']
    """
    ax = _axes(ax, (9.5, 3.6))
    positions = np.arange(len(names))
    ax.bar(
        positions - 0.2, holdout_errors, width=0.4, color="tab:orange", label="holdout\n(one split)"
    )
    ax.bar(
        positions + 0.2,
        kfold_means,
        width=0.4,
        yerr=kfold_stds,
        capsize=4,
        color="tab:blue",
        label="k-fold mean\n± std over folds",
    )
    ax.set_xticks(positions, names)
    ax.set_ylabel("validation error")
    ax.set_title("One holdout split vs k-fold cross-validation")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    return ax.figure
