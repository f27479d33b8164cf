"""Widget apps for tutorial 5: genetic operators on two parents, and a search stepped by a button.

- ``OperatorApp``: two parent architectures drawn from a search space, and what crossover or
  mutation makes of them (layers coloured by the parent they came from, changes outlined).
- ``GenerationStepperApp``: a ``nastoolkit.nas`` search advanced one generation per click, with the
  population (new children vs survivors) and the fitness per generation so far.

The models hold plain Python state and call the public ``nastoolkit.nas`` API; the figures come
from ``nastoolkit.viz.nas``.
"""

from __future__ import annotations

import difflib
import random

import ipywidgets
from matplotlib.figure import Figure

from ..nas import SearchSpace, crossover, describe_genome, genome_key, mutate
from ..viz import nas as plots
from ._view import FigureView, WidgetApp

__all__ = [
    "OPERATIONS",
    "GenerationStepperApp",
    "GenerationStepperModel",
    "OperatorApp",
    "OperatorModel",
    "layer_origins",
    "mutation_changes",
]

OPERATIONS = ("crossover", "mutation")
PARENT_COLORS = {"first": "#8ecae6", "second": "#ffb703"}
GLOBAL_GENES = ("learning_rate", "l2", "optimizer", "batch_size")


def _layer_tuple(layer: dict) -> tuple:
    return layer["units"], layer["activation"], layer["dropout"]


def layer_origins(child: dict, first: dict, second: dict) -> list:
    """Which parent each of ``child``'s layers came from: a list of "first"/"second".

    One-point crossover makes ``child = first[:k] + second[c:c + n - k]`` (the tail may be cut
    by repair); this finds the longest head ``k`` of ``first`` for which the rest is a contiguous
    run of ``second``'s layers. A layer that matches neither (snapped by repair) counts as the
    first parent's.
    """
    layers = [_layer_tuple(layer) for layer in child["layers"]]
    head = [_layer_tuple(layer) for layer in first["layers"]]
    tail = [_layer_tuple(layer) for layer in second["layers"]]
    count = len(layers)
    for k in range(min(count, len(head)), -1, -1):
        if layers[:k] != head[:k]:
            continue
        rest = layers[k:]
        if any(tail[c:c + len(rest)] == rest for c in range(len(tail) - len(rest) + 1)):
            return ["first"] * k + ["second"] * (count - k)
    return ["first"] * count


def mutation_changes(parent: dict, child: dict) -> tuple:
    """What a mutation changed: (indices of new or changed layers in ``child``, names of changed
    global genes). Layers are aligned with ``difflib`` so an inserted layer does not mark every
    later layer as changed."""
    before = [_layer_tuple(layer) for layer in parent["layers"]]
    after = [_layer_tuple(layer) for layer in child["layers"]]
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    changed = [index for tag, _, _, start, end in matcher.get_opcodes() if tag != "equal"
               for index in range(start, end)]
    genes = [gene for gene in GLOBAL_GENES if parent[gene] != child[gene]]
    return changed, genes


# --- genetic operators on two parents ----------------------------------------------------------

class OperatorModel:
    """Two parents sampled from ``space`` with ``parent_seed``, and the children that
    ``operation`` ("crossover" or "mutation") makes from them with ``operator_seed``.

    Both seeds feed their own ``random.Random``, so the same seeds always show the same picture.
    Mutation acts on the first parent only.
    """

    def __init__(self, space: SearchSpace | None = None, parent_seed: int = 0,
                 operator_seed: int = 0, operation: str = "crossover", input_dim=None,
                 output_dim=None):
        self.space = space or SearchSpace(max_layers=4)
        self.input_dim, self.output_dim = input_dim, output_dim
        self.operation = "crossover"
        self.parent_seed, self.operator_seed = int(parent_seed), int(operator_seed)
        self.set_operation(operation)
        self.set_parent_seed(parent_seed)

    def __repr__(self):
        return (f"OperatorModel(operation={self.operation!r}, parent_seed={self.parent_seed}, "
                f"operator_seed={self.operator_seed}, children={len(self.children)})")

    def set_operation(self, operation: str):
        if operation not in OPERATIONS:
            raise ValueError(f"operation must be one of {OPERATIONS}. "
                             f"Received: operation={operation!r}")
        self.operation = operation
        if hasattr(self, "parents"):
            self._apply()

    def set_parent_seed(self, seed: int):
        self.parent_seed = int(seed)
        rng = random.Random(self.parent_seed)
        self.parents = (self.space.sample(rng), self.space.sample(rng))
        self._apply()

    def set_operator_seed(self, seed: int):
        self.operator_seed = int(seed)
        self._apply()

    def _apply(self):
        rng = random.Random(self.operator_seed)
        first, second = self.parents
        if self.operation == "crossover":
            self.children = crossover(first, second, self.space, rng)
        else:
            self.children = (mutate(first, self.space, rng),)

    def all_valid(self) -> bool:
        """Every parent and child lies in the search space (operators repair their results)."""
        return all(self.space.contains(genome) for genome in (*self.parents, *self.children))


class OperatorApp(WidgetApp):
    """Sliders for the parents' seed and the operator's seed, a crossover/mutation toggle and an
    "apply again" button (next operator seed) over the parent and child diagrams."""

    def __init__(self, model: OperatorModel | None = None, **model_arguments):
        self.model = model or OperatorModel(**model_arguments)
        self.parent_slider = ipywidgets.IntSlider(
            value=self.model.parent_seed, min=0, max=99, description="parents (seed)",
            continuous_update=False, style={"description_width": "initial"})
        self.operator_slider = ipywidgets.IntSlider(
            value=self.model.operator_seed, min=0, max=999, description="operator seed",
            continuous_update=False, style={"description_width": "initial"})
        self.operation_buttons = ipywidgets.ToggleButtons(
            options=list(OPERATIONS), value=self.model.operation, description="operation")
        self.again_button = ipywidgets.Button(description="apply again", icon="random")
        self.view = FigureView()
        self.parent_slider.observe(self._on_parents, names="value")
        self.operator_slider.observe(self._on_operator, names="value")
        self.operation_buttons.observe(self._on_operation, names="value")
        self.again_button.on_click(self._on_again)
        self.widget = ipywidgets.VBox([
            ipywidgets.HBox([self.parent_slider, self.operator_slider]),
            ipywidgets.HBox([self.operation_buttons, self.again_button]), self.view.output])
        self.redraw()


    def _on_parents(self, change):
        self.model.set_parent_seed(change["new"])
        self.redraw()

    def _on_operator(self, change):
        self.model.set_operator_seed(change["new"])
        self.redraw()

    def _on_operation(self, change):
        self.model.set_operation(change["new"])
        self.redraw()

    def _on_again(self, _button):
        # Through the slider, so its readout shows which seed made the picture.
        self.operator_slider.value = (self.operator_slider.value + 1) % (self.operator_slider.max + 1)

    def redraw(self):
        self.view.show(self.draw())

    def draw(self) -> Figure:
        model = self.model
        first, second = model.parents
        figure = Figure(figsize=(10, 4.6), layout="constrained")
        axes = figure.subplots(2, 2)
        slots = max(len(g["layers"]) for g in (*model.parents, *model.children)) + 2
        dims = {"input_dim": model.input_dim, "output_dim": model.output_dim, "slots": slots}
        if model.operation == "crossover":
            plots.plot_genome(first, ax=axes[0, 0], title="parent A",
                              layer_colors=[PARENT_COLORS["first"]] * len(first["layers"]), **dims)
            plots.plot_genome(second, ax=axes[0, 1], title="parent B",
                              layer_colors=[PARENT_COLORS["second"]] * len(second["layers"]),
                              **dims)
            for ax, child, name, parents in zip(axes[1], model.children, ("child 1", "child 2"),
                                                ((first, second), (second, first))):
                origins = layer_origins(child, *parents)
                if parents[0] is second:  # child 2 starts with B's head
                    origins = ["second" if o == "first" else "first" for o in origins]
                swapped = [gene for gene in GLOBAL_GENES if child[gene] != parents[0][gene]]
                plots.plot_genome(child, ax=ax, layer_colors=[PARENT_COLORS[o] for o in origins],
                                  highlight_globals=bool(swapped),
                                  title=f"{name}: layers from " + " + ".join(
                                      dict.fromkeys("A" if o == "first" else "B"
                                                    for o in origins)), **dims)
            figure.suptitle("Crossover: layers coloured by parent (blue A, orange B); red line: "
                            "global genes swapped with the other parent", fontsize="medium")
        else:
            child = model.children[0]
            changed, genes = mutation_changes(first, child)
            plots.plot_genome(first, ax=axes[0, 0], title="parent", **dims)
            what = ", ".join([*(f"layer {i + 1}" for i in changed), *genes]) or "nothing"
            plots.plot_genome(child, ax=axes[1, 0], highlight=changed,
                              highlight_globals=bool(genes), title=f"child (changed: {what})",
                              **dims)
            axes[0, 1].set_axis_off()
            axes[1, 1].set_axis_off()
            axes[0, 1].text(0.0, 0.5, "Mutation changes one gene:\n"
                            "a layer's units / activation / dropout,\nadds or removes a layer,\n"
                            "rescales the learning rate,\nor swaps L2 / optimizer / batch size.",
                            va="center", fontsize="small")
        return figure


# --- a search stepped one generation at a time ------------------------------------------------

class GenerationStepperModel:
    """A ``nastoolkit.nas`` search (e.g. ``GeneticSearch``) advanced one generation per
    :meth:`step`. Generation 0 trains the first population; each later step breeds, trains and
    selects one more generation through the search's own ``run`` (which continues from its state).
    """

    def __init__(self, search):
        if not hasattr(search, "run") or not hasattr(search, "state"):
            raise TypeError(f"search must be a nastoolkit.nas search (GeneticSearch, "
                            f"NSGA2Search, ...). Received: {type(search).__name__}")
        self.search = search
        self.search.progress = False  # the widget shows progress itself
        self.result = None

    def __repr__(self):
        return (f"GenerationStepperModel(strategy={type(self.search).__name__}, "
                f"generation={self.generation}, evaluations={len(self.search.state.evaluations)})")

    @property
    def generation(self) -> int:
        """The last completed generation (-1 before the first step)."""
        return self.search.state.generation

    def step(self):
        """Run exactly one more generation and keep the search's result."""
        self.search.generations = self.generation + 1
        self.result = self.search.run()
        return self.result

    @property
    def population_records(self) -> list:
        """The current population's :class:`~nastoolkit.nas.Candidate` records (genome, score,
        generation born, ...)."""
        evaluations = self.search.state.evaluations
        return [evaluations[key] for key in self.search.state.population]

    def population_is_valid(self) -> bool:
        """Every member lies in the search space and has a record."""
        records = self.population_records
        return (len(records) == self.search.population_size
                and all(self.search.space.contains(r.genome) for r in records)
                and all(r.key == genome_key(r.genome) for r in records))

    def summary(self) -> str:
        if self.generation < 0:
            return "No generation yet: press the button to train the first population."
        records = self.population_records
        born = sum(r.generation == self.generation for r in records)
        stats = self.search.state.history[-1]
        best = min(records, key=lambda r: r.score)
        return (f"Generation {self.generation}: {stats['trained']} candidates trained, "
                f"{stats['cache_hits']} reused; {born} of {len(records)} survivors are new. "
                f"Best so far: {stats['best_so_far']:.4f} ({describe_genome(best.genome)})")


class GenerationStepperApp(WidgetApp):
    """A "step one generation" button over the population and the fitness-per-generation plot."""

    def __init__(self, search=None, model: GenerationStepperModel | None = None):
        if model is None and search is None:
            raise ValueError("pass search=... (e.g. a GeneticSearch) or model=... "
                             "(a GenerationStepperModel). Received neither.")
        self.model = model or GenerationStepperModel(search)
        self.step_button = ipywidgets.Button(description="step one generation",
                                             icon="step-forward", button_style="primary")
        self.status = ipywidgets.HTML(value=self.model.summary())
        self.view = FigureView()
        self.step_button.on_click(self._on_step)
        self.widget = ipywidgets.VBox([self.step_button, self.status, self.view.output])
        self.redraw()


    def _on_step(self, _button):
        self.step_button.disabled = True  # training takes seconds; no double clicks meanwhile
        self.status.value = f"Training generation {self.model.generation + 1} ..."
        try:
            self.model.step()
        finally:
            self.step_button.disabled = False
        self.status.value = self.model.summary()
        self.redraw()

    def redraw(self):
        self.view.show(self.draw())

    def draw(self) -> Figure:
        model = self.model
        figure = Figure(figsize=(10, 4.2), layout="constrained")
        ax_population, ax_history = figure.subplots(1, 2, width_ratios=[1.25, 1])
        if model.generation < 0:
            for ax in (ax_population, ax_history):
                ax.set_axis_off()
            ax_population.text(0.5, 0.5, "no population yet:\npress 'step one generation'",
                               ha="center", va="center", fontsize="large")
            return figure
        plots.plot_population(model.population_records, model.generation, ax=ax_population)
        plots.plot_fitness_history(model.search.state.history, ax=ax_history)
        return figure
