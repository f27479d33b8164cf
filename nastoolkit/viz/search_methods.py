"""Figures for tutorial 7: what the controller, DARTS and Hyperband do while they search.

- :func:`plot_controller_probabilities`: the controller's softmax per decision and choice as a
  heat map over controller steps (``ControllerSearch`` history rows' ``probabilities``).
- :func:`plot_operation_weights` and :func:`plot_darts`: DARTS's ``softmax(alpha)`` per layer
  over epochs, and the genome it derives (``DifferentiableSearch`` history rows).
- :func:`plot_brackets`: Hyperband's brackets: one bar per candidate, as long as the epochs it
  received, one colour per rung it reached (``Hyperband`` history rows).

Data in, ``matplotlib.figure.Figure`` out; nothing here trains. Fonts and legends follow
:mod:`nastoolkit.viz.nas` (text >= 11 pt, legends outside the data).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .nas import SMALL, _styled, plot_genome

__all__ = [
    "OPERATION_COLORS",
    "RUNG_COLORS",
    "bracket_bars",
    "plot_brackets",
    "plot_controller_probabilities",
    "plot_darts",
    "plot_operation_weights",
]

# Lines, so saturated colours (the box palette of viz.nas is pale); "zero" is dashed black.
OPERATION_COLORS = {
    "relu": "tab:green",
    "tanh": "tab:purple",
    "sigmoid": "tab:pink",
    "linear": "tab:olive",
    "elu": "tab:orange",
    "leaky_relu": "tab:cyan",
    "gelu": "tab:brown",
    "silu": "tab:red",
    "skip": "tab:blue",
    "zero": "black",
}
# Rung 0, 1, 2, ...: darker the further a candidate was promoted.
RUNG_COLORS = ("#c6dbef", "#6baed6", "#2171b5", "#08306b", "#041a3a")


def _decision_label(name: str, choice) -> str:
    """``layers[0].units`` and 8 -> ``layer 1 units = 8``; ``learning_rate`` -> ``lr = 0.001``."""
    if name.startswith("layers["):
        index, gene = name[len("layers[") :].split("].")
        name = f"layer {int(index) + 1} {gene}"
    name = {"learning_rate": "lr", "batch_size": "batch"}.get(name, name)
    value = f"{choice:.2g}" if isinstance(choice, float) and choice else f"{choice}"
    return f"{name} = {value}"


@_styled
def plot_controller_probabilities(history, decisions, ax=None, skip_fixed: bool = True):
    """The controller's decision probabilities as a heat map: one row per (decision, choice),
    one column per controller step, colour = the softmax probability averaged over that step's
    sampled architectures.

    Parameters
    ----------
    history : list of dict
        ``ControllerSearch`` result history rows (each with ``probabilities``: decision name ->
        list of probabilities).
    decisions : list
        ``(name, choices)`` pairs in emission order (``search.decisions``).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new ``Figure`` (with a colour bar) is made without one.
    skip_fixed : bool
        Leave out decisions with a single choice (always probability 1).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> history = [{"probabilities": {"depth": [0.5, 0.5]}},
    ...            {"probabilities": {"depth": [0.3, 0.7]}}]
    >>> figure = plot_controller_probabilities(history, [("depth", (1, 2))])
    >>> figure.axes[0].images[0].get_array().tolist()
    [[0.5, 0.3], [0.5, 0.7]]
    """
    shown = [(name, tuple(choices)) for name, choices in decisions]
    if skip_fixed:
        shown = [(name, choices) for name, choices in shown if len(choices) > 1]
    if not history or not shown:
        raise ValueError(
            f"history and decisions must be non-empty (run a ControllerSearch first). "
            f"Received: {len(history)} history rows, {len(shown)} decisions to show."
        )
    rows, labels, edges = [], [], []
    for name, choices in shown:
        for index, choice in enumerate(choices):
            rows.append([float(row["probabilities"][name][index]) for row in history])
            labels.append(_decision_label(name, choice))
        edges.append(len(rows))
    matrix = np.array(rows)
    if ax is None:
        figure = Figure(figsize=(9.5, 1.2 + 0.24 * len(rows)), layout="constrained")
        ax = figure.add_subplot()
    figure = ax.figure
    image = ax.imshow(
        matrix, aspect="auto", vmin=0.0, vmax=1.0, cmap="viridis", interpolation="nearest"
    )
    for edge in edges[:-1]:
        ax.axhline(edge - 0.5, color="white", linewidth=2)
    ax.set_yticks(range(len(labels)), labels, fontsize=SMALL)
    steps = len(history)
    ticks = range(0, steps, max(1, steps // 10))
    ax.set_xticks(list(ticks), [str(t) for t in ticks])
    ax.set_xlabel("controller step")
    ax.set_title("Controller: probability of each choice (mean over the step's samples)")
    bar = figure.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    bar.set_label("probability")
    return figure


def _alpha_series(history) -> tuple:
    """Operations per layer and an array (epochs, operations) of softmax(alpha) per layer."""
    if not history:
        raise ValueError("history is empty: run a DifferentiableSearch for at least one epoch.")
    operations = history[-1]["operations"]
    series = [
        np.array([row["alpha"][layer] for row in history]) for layer in range(len(operations))
    ]
    return operations, series


@_styled
def plot_operation_weights(history, axes=None):
    """DARTS's operation strengths softmax(alpha) per layer over epochs: one panel per layer,
    one line per candidate operation (the space's activations, ``skip``, ``zero``).

    Parameters
    ----------
    history : list of dict
        ``DifferentiableSearch`` result history rows (``alpha`` and ``operations`` per layer).
    axes : sequence of matplotlib.axes.Axes, optional
        One per layer; a new ``Figure`` is made without them (with the legend to the right).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> history = [{"operations": [["relu", "tanh"]], "alpha": [[0.5, 0.5]]},
    ...            {"operations": [["relu", "tanh"]], "alpha": [[0.6, 0.4]]}]
    >>> ax = plot_operation_weights(history).axes[0]
    >>> [line.get_label() for line in ax.get_lines()], ax.get_lines()[0].get_ydata().tolist()
    (['relu', 'tanh'], [0.5, 0.6])
    """
    operations, series = _alpha_series(history)
    own = axes is None
    if own:
        figure = Figure(figsize=(9.5, 3.2), layout="constrained")
        axes = figure.subplots(1, len(operations), sharey=True, squeeze=False)[0]
    epochs = np.arange(1, len(history) + 1)
    names = []
    for layer, (ax, names_here, weights) in enumerate(zip(axes, operations, series)):
        for index, name in enumerate(names_here):
            ax.plot(
                epochs,
                weights[:, index],
                color=OPERATION_COLORS.get(name, "tab:gray"),
                linestyle="--" if name == "zero" else "-",
                linewidth=2,
                marker="o" if len(epochs) == 1 else None,
                label=name,
            )
            if name not in names:
                names.append(name)
        ax.set_title(f"layer {layer + 1}")
        ax.set_xlabel("epoch")
        ax.set_ylim(0.0, 1.0)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("softmax(alpha)")
    figure = axes[0].figure
    if own:
        handles = [
            Line2D(
                [],
                [],
                color=OPERATION_COLORS.get(name, "tab:gray"),
                linestyle="--" if name == "zero" else "-",
                linewidth=2,
                label=name,
            )
            for name in names
        ]
        figure.legend(handles=handles, loc="outside right center", title="operation")
    return figure


@_styled
def plot_darts(history, input_dim=None, output_dim=None):
    """DARTS in one figure: softmax(alpha) per layer over epochs (top) and the genome the last
    epoch derives (bottom: per layer the strongest operation but zero, skip dropping the layer,
    and the strongest width).

    Parameters
    ----------
    history : list of dict
        ``DifferentiableSearch`` result history rows (with ``genome``).
    input_dim, output_dim : int, optional
        Written in the diagram's input and output boxes.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from nastoolkit.nas import make_genome
    >>> genome = make_genome([(8, "relu", 0.0)])
    >>> history = [{"operations": [["relu", "tanh"]], "alpha": [[0.6, 0.4]], "genome": genome}]
    >>> len(plot_darts(history, input_dim=4, output_dim=2).axes)
    2
    """
    operations, _ = _alpha_series(history)
    figure = Figure(figsize=(9.5, 6.0), layout="constrained")
    top, bottom = figure.subfigures(2, 1, height_ratios=[3.2, 2.6])
    axes = top.subplots(1, len(operations), sharey=True, squeeze=False)[0]
    plot_operation_weights(history, axes=axes)
    names = list(dict.fromkeys(name for layer in operations for name in layer))
    top.legend(
        handles=[
            Line2D(
                [],
                [],
                color=OPERATION_COLORS.get(name, "tab:gray"),
                linestyle="--" if name == "zero" else "-",
                linewidth=2,
                label=name,
            )
            for name in names
        ],
        loc="outside right center",
        title="operation",
    )
    plot_genome(
        history[-1]["genome"],
        ax=bottom.subplots(),
        input_dim=input_dim,
        output_dim=output_dim,
        title=f"derived after epoch {len(history)}",
    )
    return figure


def bracket_bars(history) -> list:
    """Per bracket, per candidate: the rungs it reached as ``(epochs, score)`` pairs.

    Parameters
    ----------
    history : list of dict
        Synchronous ``Hyperband`` result history rows (``bracket``, ``rung``, ``epochs``,
        ``trials``, ``scores``).

    Returns
    -------
    list of dict
        ``{"bracket": s, "candidates": {trial: [(epochs, score), ...]}}`` in run order; a
        candidate's last pair says how many epochs it received in all (a promoted candidate
        continues training, so its epochs are not added up).

    Examples
    --------
    >>> history = [
    ...     {"bracket": 1, "rung": 0, "epochs": 1, "trials": ["t0", "t1"], "scores": [0.3, 0.5]},
    ...     {"bracket": 1, "rung": 1, "epochs": 3, "trials": ["t0"], "scores": [0.2]}]
    >>> bracket_bars(history)
    [{'bracket': 1, 'candidates': {'t0': [(1, 0.3), (3, 0.2)], 't1': [(1, 0.5)]}}]
    """
    brackets = []
    if any(isinstance(row.get("rung"), list) for row in history):
        raise ValueError(
            "history comes from ASHA (Hyperband(asynchronous=True)), which has no brackets. "
            "Pass the history of a Hyperband(asynchronous=False) run."
        )
    for row in history:
        if row["rung"] == 0:
            brackets.append({"bracket": row["bracket"], "candidates": {}})
        candidates = brackets[-1]["candidates"]
        for trial, score in zip(row["trials"], row["scores"]):
            candidates.setdefault(trial, []).append((row["epochs"], score))
    return brackets


def _score_text(score) -> str:
    return "failed" if score is None else f"{score:.3f}"


@_styled
def plot_brackets(history, max_epochs=None):
    """Hyperband's brackets: one panel per bracket, one bar per candidate as long as the epochs
    it received, coloured by rung (a promoted candidate's bar continues into the next rung's
    colour), with its validation error at the last rung it reached.

    Parameters
    ----------
    history : list of dict
        Synchronous ``Hyperband`` result history rows.
    max_epochs : int, optional
        ``R`` (the x axis' end); default the most epochs any candidate received.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> history = [
    ...     {"bracket": 1, "rung": 0, "epochs": 1, "trials": ["t0", "t1"], "scores": [0.3, 0.5]},
    ...     {"bracket": 1, "rung": 1, "epochs": 3, "trials": ["t0"], "scores": [0.2]}]
    >>> ax = plot_brackets(history).axes[0]
    >>> [round(patch.get_width()) for patch in ax.patches]  # t0: 1 + 2 epochs, t1: 1
    [1, 2, 1]
    """
    brackets = bracket_bars(history)
    if not brackets:
        raise ValueError("history is empty: run a Hyperband search for at least one rung.")
    longest = max(pairs[-1][0] for bracket in brackets for pairs in bracket["candidates"].values())
    end = max_epochs or longest
    sizes = [len(bracket["candidates"]) for bracket in brackets]
    figure = Figure(
        figsize=(9.5, 1.0 + 0.75 * len(brackets) + 0.26 * sum(sizes)), layout="constrained"
    )
    axes = figure.subplots(
        len(brackets), 1, sharex=True, squeeze=False, height_ratios=[n + 1.5 for n in sizes]
    )[:, 0]
    deepest = 0
    for ax, bracket in zip(axes, brackets):
        candidates = sorted(
            bracket["candidates"].items(),
            key=lambda item: (-item[1][-1][0], item[1][-1][1] is None, item[1][-1][1] or 0.0),
        )
        for row, (trial, pairs) in enumerate(candidates):
            previous = 0
            for rung, (epochs, _) in enumerate(pairs):
                ax.barh(
                    row,
                    epochs - previous,
                    left=previous,
                    height=0.7,
                    color=RUNG_COLORS[min(rung, len(RUNG_COLORS) - 1)],
                    edgecolor="white",
                )
                previous = epochs
                deepest = max(deepest, rung)
            ax.text(
                previous + 0.01 * end, row, _score_text(pairs[-1][1]), va="center", fontsize=SMALL
            )
        counts = [
            sum(len(pairs) > rung for _, pairs in candidates)
            for rung in range(max(len(pairs) for _, pairs in candidates))
        ]
        ax.set_yticks(range(len(candidates)), [trial for trial, _ in candidates], fontsize=SMALL)
        ax.invert_yaxis()
        ax.set_title(
            f"bracket s = {bracket['bracket']}: "
            + " \u2192 ".join(str(count) for count in counts)
            + " candidates"
        )
        ax.set_xlim(0, end * 1.15)
    axes[-1].set_xlabel("epochs received (text: validation error at the last rung reached)")
    figure.legend(
        handles=[
            Patch(facecolor=RUNG_COLORS[min(rung, len(RUNG_COLORS) - 1)], label=f"rung {rung}")
            for rung in range(deepest + 1)
        ],
        loc="outside right center",
        title="trained in",
    )
    return figure
