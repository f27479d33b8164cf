"""Figures for tutorial 5: architectures as diagrams, fitness per generation, the hall of fame,
the Pareto front of error vs parameters, and holdout vs k-fold estimates.

Data in (genomes as ``nastoolkit.nas`` dicts, ``Candidate`` records, per-generation statistics),
``matplotlib.figure.Figure`` out; nothing here trains or searches. Plot functions that draw one
panel take an optional ``ax``; without one they make their own ``Figure`` (not pyplot).
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, Patch

from ..nas.genome import describe_genome

__all__ = [
    "ACTIVATION_COLORS",
    "plot_estimates",
    "plot_fitness_history",
    "plot_genome",
    "plot_genomes",
    "plot_hall_of_fame",
    "plot_pareto_front",
    "plot_population",
]

ACTIVATION_COLORS = {"relu": "#8ecae6", "tanh": "#ffb703", "sigmoid": "#90be6d",
                     "linear": "#d9d9d9", "elu": "#c77dff", "leaky_relu": "#f4a261",
                     "softmax": "#e5e5e5"}
HIGHLIGHT_COLOR = "tab:red"


def _axes(ax, figsize):
    if ax is not None:
        return ax
    return Figure(figsize=figsize, layout="constrained").add_subplot()


def _box_height(units: int, largest: int) -> float:
    """Box height grows with log2(units), so 8 and 256 units both stay visible."""
    return 0.25 + 0.75 * math.log2(max(units, 1) + 1) / math.log2(max(largest, 2) + 1)


def _global_genes_text(genome: dict) -> str:
    return (f"{genome['optimizer']}, lr={genome['learning_rate']:.2g}, "
            f"L2={genome['l2']:g}, batch={genome['batch_size']}")


def plot_genome(genome: dict, ax=None, title=None, input_dim=None, output_dim=None,
                layer_colors=None, highlight=(), highlight_globals=False, slots=None):
    """A genome drawn as a network: input -> one box per hidden layer -> output, left to right.

    Each box shows units, activation (box colour) and dropout rate (hatched when positive); box
    height grows with log(units). The global genes (optimizer, learning rate, L2, batch size) are
    written underneath. ``layer_colors`` (one colour per layer) overrides the activation colours
    (e.g. to show which parent a layer came from); layer indices in ``highlight`` get a thick red
    edge and ``highlight_globals`` turns the global-gene line red (what a mutation changed).
    ``slots`` (at least layers + 2) fixes the horizontal scale, so diagrams of different depths
    drawn side by side have boxes of the same size; the network is centred in them.
    """
    layers = genome["layers"]
    ax = _axes(ax, (2.2 + 1.3 * len(layers), 2.4))
    largest = max([layer["units"] for layer in layers] + [output_dim or 1, 2])
    columns = len(layers) + 2
    slots = max(columns, slots or 0)
    shift = (slots - columns) / 2
    for column in range(columns - 1):
        ax.annotate("", xy=(shift + column + 0.62, 0), xytext=(shift + column + 0.38, 0),
                    arrowprops={"arrowstyle": "->", "color": "0.4"})
    _draw_box(ax, shift, 0.45, "input" + (f"\n{input_dim}" if input_dim else ""), "white", "0.4")
    for index, layer in enumerate(layers, start=1):
        color = (layer_colors[index - 1] if layer_colors is not None
                 else ACTIVATION_COLORS.get(layer["activation"], "#d9d9d9"))
        label = f"{layer['units']}\n{layer['activation']}"
        if layer["dropout"]:
            label += f"\ndrop {layer['dropout']:g}"
        marked = (index - 1) in highlight
        _draw_box(ax, shift + index, _box_height(layer["units"], largest), label, color,
                  HIGHLIGHT_COLOR if marked else "k", hatch="//" if layer["dropout"] else None,
                  linewidth=3 if marked else 1)
    _draw_box(ax, shift + columns - 1, 0.45, "output" + (f"\n{output_dim}" if output_dim else ""),
              "white", "0.4")
    ax.text((slots - 1) / 2, -0.72, _global_genes_text(genome), ha="center", va="center",
            fontsize="small", color=HIGHLIGHT_COLOR if highlight_globals else "k",
            fontweight="bold" if highlight_globals else "normal")
    ax.set_xlim(-0.55, slots - 0.45)
    ax.set_ylim(-0.9, 0.62)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize="medium")
    return ax.figure


def _draw_box(ax, x, height, label, color, edge, hatch=None, linewidth=1.0):
    ax.add_patch(FancyBboxPatch((x - 0.36, -height / 2), 0.72, height,
                                boxstyle="round,pad=0.02", facecolor=color, edgecolor=edge,
                                hatch=hatch, linewidth=linewidth, alpha=0.95))
    ax.text(x, 0, label, ha="center", va="center", fontsize="x-small",
            bbox={"facecolor": "white", "alpha": 0.6, "edgecolor": "none", "pad": 1})


def plot_genomes(genomes, titles=None, columns: int = 2, input_dim=None, output_dim=None,
                 figure=None, width: float = 10.0):
    """Several genomes in a grid of diagrams, one panel each (``titles`` label the panels)."""
    genomes = list(genomes)
    if not genomes:
        raise ValueError("genomes must hold at least one genome to draw. Received: none")
    rows = math.ceil(len(genomes) / columns)
    figure = figure or Figure(figsize=(width, 2.1 * rows), layout="constrained")
    axes = np.atleast_1d(figure.subplots(rows, columns)).reshape(-1)
    slots = max(len(genome["layers"]) for genome in genomes) + 2
    for index, ax in enumerate(axes):
        if index < len(genomes):
            plot_genome(genomes[index], ax=ax, title=titles[index] if titles else None,
                        input_dim=input_dim, output_dim=output_dim, slots=slots)
        else:
            ax.set_axis_off()
    return figure


def plot_fitness_history(history, ax=None, title="Validation error per generation"):
    """Best, mean and mean +- std of the population's validation error per generation, and the
    best found so far. ``history`` is ``SearchResult.history`` (dicts with ``generation``,
    ``best``, ``mean``, ``std``, ``best_so_far``); generations where every candidate failed are
    skipped.
    """
    ax = _axes(ax, (6, 3.6))
    rows = [row for row in history if row.get("best") is not None]
    generations = np.array([row["generation"] for row in rows])
    best = np.array([row["best"] for row in rows])
    mean = np.array([row["mean"] for row in rows])
    spread = np.array([row["std"] for row in rows])
    ax.fill_between(generations, mean - spread, mean + spread, color="tab:blue", alpha=0.2,
                    label="mean ± std (spread)")
    ax.plot(generations, mean, color="tab:blue", marker="o", label="population mean")
    ax.plot(generations, best, color="tab:green", marker="o", label="population best")
    if rows and "best_so_far" in rows[0]:
        ax.step(generations, [row["best_so_far"] for row in rows], where="post", color="k",
                linestyle="--", label="best so far")
    ax.set_xticks(generations)
    ax.set_xlabel("generation")
    ax.set_ylabel("validation error (1 - accuracy)")
    ax.set_title(title)
    ax.legend(fontsize="small")
    return ax.figure


def plot_population(records, generation: int, ax=None):
    """One generation's population as horizontal bars of validation error, best at the top.

    ``records`` are :class:`~nastoolkit.nas.Candidate` records (``SearchResult.evaluations``
    or a search's population); members
    born in ``generation`` (new children) are coloured apart from survivors of earlier ones, so a
    step shows what selection kept. Failed members are drawn at the worst score, hatched.
    """
    ax = _axes(ax, (6, 0.5 + 0.35 * len(records)))
    ordered = sorted(records, key=lambda r: (not r.ok, r.score))
    scores = [r.score for r in ordered if r.ok]
    worst = max(scores) if scores else 1.0
    positions = np.arange(len(ordered))[::-1]
    for position, record in zip(positions, ordered):
        failed = not record.ok
        width = worst if failed else record.score
        ax.barh(position, width, alpha=0.85, hatch="xx" if failed else None,
                color="tab:orange" if record.generation == generation else "tab:blue")
        ax.text(width, position, " failed" if failed else f" {record.score:.3f}",
                va="center", fontsize="x-small")
    ax.set_yticks(positions, [describe_genome(r.genome) for r in ordered], fontsize="x-small")
    ax.set_xlim(0, 1.25 * worst)
    ax.set_xlabel("validation error")
    ax.set_title(f"Population after generation {generation}")
    ax.legend(handles=[Patch(color="tab:orange", label=f"born in generation {generation}"),
                       Patch(color="tab:blue", label="survivor from earlier")],
              fontsize="x-small", loc="lower right")
    return ax.figure


def plot_hall_of_fame(records, columns: int = 2, input_dim=None, output_dim=None, width=10.0):
    """The best records (``SearchResult.hall_of_fame``) as diagrams titled with rank, validation
    error and parameter count."""
    titles = [f"#{rank}: error {record.score:.4f}, {record.params:,} parameters"
              for rank, record in enumerate(records, start=1)]
    return plot_genomes([record.genome for record in records], titles=titles, columns=columns,
                        input_dim=input_dim, output_dim=output_dim, width=width)


def plot_pareto_front(records, front, ax=None, label_front: bool = True):
    """Every successful candidate as a point (parameters on a log axis, validation error), the
    non-dominated ones (``front``, e.g. ``SearchResult.pareto_front``) joined by a staircase."""
    ax = _axes(ax, (6.5, 4))
    ok = [record for record in records if record.ok]
    ax.scatter([r.params for r in ok], [r.score for r in ok], s=25, color="0.6",
               label=f"all candidates ({len(ok)})")
    front = sorted(front, key=lambda record: record.params)
    front_params = [r.params for r in front]
    front_scores = [r.score for r in front]
    ax.step(front_params, front_scores, where="post", color="tab:red", linewidth=1.5)
    ax.scatter(front_params, front_scores, s=60, color="tab:red", edgecolor="k", zorder=3,
               label=f"Pareto front ({len(front)})")
    if label_front:
        for record in front:
            ax.annotate(f"{record.params:,}", (record.params, record.score),
                        textcoords="offset points", xytext=(4, 4), fontsize="x-small")
    ax.set_xscale("log")
    ax.set_xlabel("number of parameters (log scale)")
    ax.set_ylabel("validation error")
    ax.set_title("Error vs size: the Pareto front")
    ax.legend(fontsize="small")
    return ax.figure


def plot_estimates(names, holdout_errors, kfold_means, kfold_stds, ax=None):
    """Holdout vs k-fold cross-validation estimates of the same architectures, side by side
    bars; k-fold bars carry +-1 std error bars over the folds."""
    ax = _axes(ax, (7, 3.6))
    positions = np.arange(len(names))
    ax.bar(positions - 0.2, holdout_errors, width=0.4, color="tab:orange",
           label="holdout (one split)")
    ax.bar(positions + 0.2, kfold_means, width=0.4, yerr=kfold_stds, capsize=4,
           color="tab:blue", label="k-fold mean ± std")
    ax.set_xticks(positions, names, fontsize="small")
    ax.set_ylabel("validation error")
    ax.set_title("One holdout split vs k-fold cross-validation")
    ax.legend(fontsize="small")
    return ax.figure
