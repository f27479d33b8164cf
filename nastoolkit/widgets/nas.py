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
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .._checks import int_at_least, non_negative_int, one_of
from ..nas import SearchSpace, crossover, describe_genome, genome_key, mutate
from ..nas.result import rank_records
from ..viz import nas as plots
from ._view import FigureView, WidgetApp, figure_style

__all__ = [
    "OPERATIONS",
    "GenerationStepperApp",
    "GenerationStepperModel",
    "OperatorApp",
    "OperatorModel",
    "crossover_cuts",
    "layer_origins",
    "mutation_changes",
]

OPERATIONS = ("crossover", "mutation")
PARENT_COLORS = plots.PARENT_COLORS
GLOBAL_GENES = ("learning_rate", "l2", "optimizer", "batch_size")


def _layer_tuple(layer: dict) -> tuple:
    return layer["units"], layer["activation"], layer["dropout"]


def layer_origins(child: dict, first: dict, second: dict) -> list:
    """Which parent each of ``child``'s layers came from: a list of "first"/"second".

    One-point crossover makes ``child = first[:k] + second[c:c + n - k]`` (the tail may be cut
    by repair); this finds the longest head ``k`` of ``first`` for which the rest is a contiguous
    run of ``second``'s layers. A layer that matches neither (snapped by repair) counts as the
    first parent's.

    Parameters
    ----------
    child, first, second : dict
        Genomes: a crossover child and the parents it was made from (head parent first).

    Returns
    -------
    list of str
        One ``"first"`` or ``"second"`` per layer of ``child``.

    Examples
    --------
    >>> from nastoolkit.nas import make_genome
    >>> a = make_genome([(8, "relu", 0.0), (16, "relu", 0.0)])
    >>> b = make_genome([(32, "tanh", 0.0), (64, "tanh", 0.0)])
    >>> layer_origins(make_genome([(8, "relu", 0.0), (64, "tanh", 0.0)]), a, b)
    ['first', 'second']
    """
    layers = [_layer_tuple(layer) for layer in child["layers"]]
    head = [_layer_tuple(layer) for layer in first["layers"]]
    tail = [_layer_tuple(layer) for layer in second["layers"]]
    count = len(layers)
    for k in range(min(count, len(head)), -1, -1):
        if layers[:k] != head[:k]:
            continue
        rest = layers[k:]
        if any(tail[c : c + len(rest)] == rest for c in range(len(tail) - len(rest) + 1)):
            return ["first"] * k + ["second"] * (count - k)
    return ["first"] * count


def crossover_cuts(children, first: dict, second: dict, max_layers=None):
    """The cut points ``(k, c)`` of a one-point crossover: child 1 = ``first[:k] + second[c:]``
    and child 2 = ``second[:c] + first[k:]``, each cut to ``max_layers`` by repair.

    ``crossover`` does not report its cuts, so they are read back from the children: the first
    pair that explains both children (with the largest heads, when several do). None when no
    pair does (e.g. repair changed a layer).

    Parameters
    ----------
    children : tuple of dict
        The two children of ``crossover(first, second, ...)`` (or only the first).
    first, second : dict
        The parents.
    max_layers : int, optional
        The search space's ``max_layers`` (repair cuts deeper children).

    Returns
    -------
    tuple of int or None
        ``(k, c)``: how many layers of ``first`` and of ``second`` the heads keep.

    Examples
    --------
    >>> from nastoolkit.nas import make_genome
    >>> a = make_genome([(8, "relu", 0.0), (16, "relu", 0.0)])
    >>> b = make_genome([(32, "tanh", 0.0)])
    >>> children = (make_genome([(8, "relu", 0.0)]), make_genome([(32, "tanh", 0.0),
    ...                                                         (16, "relu", 0.0)]))
    >>> crossover_cuts(children, a, b)
    (1, 1)
    """
    head = [_layer_tuple(layer) for layer in first["layers"]]
    tail = [_layer_tuple(layer) for layer in second["layers"]]
    wanted = [[_layer_tuple(layer) for layer in child["layers"]] for child in children]
    limit = max_layers or len(head) + len(tail)
    for k in range(len(head), -1, -1):
        for c in range(len(tail), -1, -1):
            made = ((head[:k] + tail[c:])[:limit], (tail[:c] + head[k:])[:limit])
            if list(made[: len(wanted)]) == wanted:
                return k, c
    return None


def _cut_text(cut) -> str:
    if cut is None:
        return "cut not recoverable"
    return "cut before layer 1" if cut == 0 else f"cut after layer {cut}"


def mutation_changes(parent: dict, child: dict) -> tuple:
    """What a mutation changed: new or changed layers, and changed global genes.

    Layers are aligned with ``difflib`` so an inserted layer does not mark every later layer as
    changed.

    Parameters
    ----------
    parent, child : dict
        Genomes before and after the mutation.

    Returns
    -------
    tuple
        (indices of new or changed layers in ``child``, names of changed global genes).

    Examples
    --------
    >>> from nastoolkit.nas import make_genome
    >>> parent = make_genome([(8, "relu", 0.0), (32, "relu", 0.0)])
    >>> mutation_changes(parent, make_genome([(8, "relu", 0.0), (16, "tanh", 0.0),
    ...                                       (32, "relu", 0.0)]))
    ([1], [])
    """
    before = [_layer_tuple(layer) for layer in parent["layers"]]
    after = [_layer_tuple(layer) for layer in child["layers"]]
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    changed = [
        index
        for tag, _, _, start, end in matcher.get_opcodes()
        if tag != "equal"
        for index in range(start, end)
    ]
    genes = [gene for gene in GLOBAL_GENES if parent[gene] != child[gene]]
    return changed, genes


# --- genetic operators on two parents ----------------------------------------------------------


class OperatorModel:
    """Two parents sampled from ``space`` with ``parent_seed``, and the children that
    ``operation`` ("crossover" or "mutation") makes from them with ``operator_seed``.

    Both seeds feed their own ``random.Random``, so the same seeds always show the same picture.
    Mutation acts on the first parent only.

    Parameters
    ----------
    space : SearchSpace, optional
        Where parents are drawn from (default: ``SearchSpace(max_layers=4)``).
    parent_seed, operator_seed : int
        Seeds of the parents and of the operator.
    operation : {"crossover", "mutation"}
        Which operator makes the children.
    input_dim, output_dim : int, optional
        Written in the diagrams' input and output boxes.

    Examples
    --------
    >>> model = OperatorModel(parent_seed=3, operator_seed=1)
    >>> len(model.children), model.all_valid()
    (2, True)
    """

    def __init__(
        self,
        space: SearchSpace | None = None,
        parent_seed: int = 0,
        operator_seed: int = 0,
        operation: str = "crossover",
        input_dim=None,
        output_dim=None,
    ):
        self.space = space or SearchSpace(max_layers=4)
        self.input_dim, self.output_dim = input_dim, output_dim
        self.operation = "crossover"
        self.parent_seed = 0
        self.operator_seed = non_negative_int(
            "operator_seed", operator_seed, "Pass e.g. operator_seed=0."
        )
        self.set_operation(operation)
        self.set_parent_seed(parent_seed)

    def __repr__(self):
        return (
            f"OperatorModel(operation={self.operation!r}, parent_seed={self.parent_seed}, "
            f"operator_seed={self.operator_seed}, children={len(self.children)})"
        )

    def set_operation(self, operation: str):
        self.operation = one_of(
            "operation", operation, OPERATIONS, "Pass 'crossover' or 'mutation'."
        )
        if hasattr(self, "parents"):
            self._apply()

    def set_parent_seed(self, seed: int):
        self.parent_seed = non_negative_int("parent_seed", seed, "Pass e.g. parent_seed=0.")
        rng = random.Random(self.parent_seed)
        self.parents = (self.space.sample(rng), self.space.sample(rng))
        self._apply()

    def set_operator_seed(self, seed: int):
        self.operator_seed = non_negative_int("operator_seed", seed, "Pass e.g. operator_seed=0.")
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
    "apply again" button (next operator seed) over the parent and child diagrams.

    Parameters
    ----------
    model : OperatorModel, optional
        The state to show; otherwise one is made from ``model_arguments``.
    **model_arguments
        Passed to :class:`OperatorModel`.

    Examples
    --------
    >>> import contextlib, io
    >>> with contextlib.redirect_stdout(io.StringIO()):  # outside Jupyter figures print as text
    ...     app = OperatorApp(parent_seed=1)
    ...     app.operation_buttons.value = "mutation"
    >>> app.model.operation
    'mutation'
    """

    def __init__(self, model: OperatorModel | None = None, **model_arguments):
        self.model = model or OperatorModel(**model_arguments)
        self.parent_slider = ipywidgets.IntSlider(
            value=self.model.parent_seed,
            min=0,
            max=99,
            description="parents (seed)",
            continuous_update=False,
            style={"description_width": "initial"},
        )
        self.operator_slider = ipywidgets.IntSlider(
            value=self.model.operator_seed,
            min=0,
            max=999,
            description="operator seed",
            continuous_update=False,
            style={"description_width": "initial"},
        )
        self.operation_buttons = ipywidgets.ToggleButtons(
            options=list(OPERATIONS), value=self.model.operation, description="operation"
        )
        self.again_button = ipywidgets.Button(
            description="apply again", icon="random", layout=ipywidgets.Layout(width="auto")
        )
        self.view = FigureView()
        self.parent_slider.observe(self._on_parents, names="value")
        self.operator_slider.observe(self._on_operator, names="value")
        self.operation_buttons.observe(self._on_operation, names="value")
        self.again_button.on_click(self._on_again)
        self.widget = ipywidgets.VBox(
            [
                ipywidgets.HBox([self.parent_slider, self.operator_slider]),
                ipywidgets.HBox([self.operation_buttons, self.again_button]),
                self.view.output,
            ]
        )
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
        slider = self.operator_slider
        slider.value = (slider.value + 1) % (slider.max + 1)

    def redraw(self):
        self.view.show(self.draw())

    def draw(self) -> Figure:
        """The parents over the children: in crossover mode coloured by parent with the cut
        points dashed; in mutation mode coloured by activation with the changes in red. Each
        mode has one colour meaning, named in the figure's legend."""
        model = self.model
        slots = max(len(g["layers"]) for g in (*model.parents, *model.children)) + 2
        dims = {"input_dim": model.input_dim, "output_dim": model.output_dim, "slots": slots}
        with figure_style():  # font sizes are fixed when artists are made
            figure = Figure(figsize=(9.5, 5.6), layout="constrained")
            axes = figure.subplots(2, 2)
            if model.operation == "crossover":
                self._draw_crossover(figure, axes, dims)
            else:
                self._draw_mutation(figure, axes, dims)
        return figure

    def _draw_crossover(self, figure, axes, dims):
        model = self.model
        first, second = model.parents
        cuts = crossover_cuts(model.children, first, second, model.space.max_layers)
        k, c = cuts if cuts is not None else (None, None)
        colors = {"A": PARENT_COLORS["first"], "B": PARENT_COLORS["second"]}
        plots.plot_genome(
            first,
            ax=axes[0, 0],
            title=f"parent A, {_cut_text(k)}",
            layer_colors=[colors["A"]] * len(first["layers"]),
            cuts=[k] if cuts else [],
            **dims,
        )
        plots.plot_genome(
            second,
            ax=axes[0, 1],
            title=f"parent B, {_cut_text(c)}",
            layer_colors=[colors["B"]] * len(second["layers"]),
            cuts=[c] if cuts else [],
            **dims,
        )
        for ax, child, name, (parent, head) in zip(
            axes[1],
            model.children,
            ("child 1 = A head + B tail", "child 2 = B head + A tail"),
            ((first, ("A", k)), (second, ("B", c))),
        ):
            letter, length = head
            other = "B" if letter == "A" else "A"
            if cuts is None:  # repair changed a layer: colour by the longest matching head
                origins = layer_origins(
                    child, *((first, second) if letter == "A" else (second, first))
                )
                length = origins.count("first")
            length = min(length, len(child["layers"]))
            layer_colors = [colors[letter]] * length + [colors[other]] * (
                len(child["layers"]) - length
            )
            swapped = [gene for gene in GLOBAL_GENES if child[gene] != parent[gene]]
            plots.plot_genome(
                child,
                ax=ax,
                layer_colors=layer_colors,
                title=name,
                highlight_globals=bool(swapped),
                cuts=[length],
                **dims,
            )
        figure.legend(
            handles=[
                Patch(facecolor=colors["A"], edgecolor="k", label="layer from parent A"),
                Patch(facecolor=colors["B"], edgecolor="k", label="layer from parent B"),
                Line2D(
                    [], [], color=plots.CUT_COLOR, linestyle="--", linewidth=2, label="cut point"
                ),
                Line2D(
                    [],
                    [],
                    color=plots.HIGHLIGHT_COLOR,
                    linewidth=3,
                    label="red genes: swapped with the other parent",
                ),
            ],
            loc="outside lower center",
            ncols=2,
        )

    def _draw_mutation(self, figure, axes, dims):
        model = self.model
        first, child = model.parents[0], model.children[0]
        changed, genes = mutation_changes(first, child)
        plots.plot_genome(first, ax=axes[0, 0], title="parent", **dims)
        what = ", ".join([*(f"layer {i + 1}" for i in changed), *genes]) or "nothing"
        plots.plot_genome(
            child,
            ax=axes[1, 0],
            highlight=changed,
            highlight_globals=bool(genes),
            title=f"child (changed: {what})",
            **dims,
        )
        for ax in axes[:, 1]:
            ax.set_axis_off()
        axes[0, 1].text(
            0.0,
            0.5,
            "Mutation changes one gene:\n"
            "a layer's units, activation\nor dropout; adds or removes\na layer; "
            "rescales the learning\nrate; or swaps L2, optimizer\nor batch size.",
            va="center",
        )
        handles = plots.activation_legend((first, child))
        handles.append(
            Patch(
                facecolor="white",
                edgecolor=plots.HIGHLIGHT_COLOR,
                linewidth=3,
                label="changed by the mutation",
            )
        )
        figure.legend(
            handles=handles,
            loc="outside lower center",
            ncols=min(len(handles), 3),
            title="box colour: activation",
        )


# --- a search stepped one generation at a time ------------------------------------------------


class GenerationStepperModel:
    """A ``nastoolkit.nas`` search (e.g. ``GeneticSearch``) advanced one generation per
    :meth:`step`. Generation 0 trains the first population; each later step breeds, trains and
    selects one more generation through the search's own ``run`` (which continues from its state).

    The best so far is the hall of fame's first record (every candidate ever evaluated), which
    the population may have lost: tournaments alone can miss it unless the search keeps elites
    (``GeneticSearch(elitism=1)``, switched with :meth:`set_elitism`).

    Parameters
    ----------
    search : Search
        A ``nastoolkit.nas`` search; its ``generations`` is advanced one at a time.

    Examples
    --------
    >>> from nastoolkit.nas import GeneticSearch, Outcome, SearchSpace
    >>> class Size:  # scores by depth instead of training, to keep the example instant
    ...     input_dim, output_dim = 4, 2
    ...     def fingerprint(self): return "size"
    ...     def evaluate(self, genome): return Outcome("ok", len(genome["layers"]) / 10)
    >>> model = GenerationStepperModel(GeneticSearch(SearchSpace(max_layers=3), Size(),
    ...                                              population_size=4, generations=0))
    >>> model.set_elitism(1)
    >>> _ = model.step(); _ = model.step()
    >>> model.generation, model.best_in_population()
    (1, True)
    """

    def __init__(self, search):
        if not hasattr(search, "run") or not hasattr(search, "state"):
            raise TypeError(
                f"search must be a nastoolkit.nas search (GeneticSearch, "
                f"NSGA2Search, ...). Received: {type(search).__name__}"
            )
        self.search = search
        self.search.progress = False  # the widget shows progress itself
        self.result = None

    def __repr__(self):
        return (
            f"GenerationStepperModel(strategy={type(self.search).__name__}, "
            f"generation={self.generation}, evaluations={len(self.search.state.evaluations)})"
        )

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
    def has_elitism(self) -> bool:
        """Whether the search has an elitism switch (``GeneticSearch`` has)."""
        return hasattr(self.search, "elitism")

    @property
    def elitism(self) -> int:
        """How many best members go straight into the next population (0: tournaments alone)."""
        return getattr(self.search, "elitism", 0)

    def set_elitism(self, elites) -> None:
        """Keep ``elites`` best members from the next generation on (``True`` means 1)."""
        if not self.has_elitism:
            raise TypeError(
                f"{type(self.search).__name__} has no elitism switch; use a "
                f"GeneticSearch. Received: elitism={elites!r}"
            )
        if isinstance(elites, bool):  # the checkbox's value
            elites = int(elites)
        fix = "Pass 1 to keep the best candidate, or 0 for tournaments alone."
        elites = int_at_least("elitism", elites, 0, fix)
        if elites > self.search.population_size:
            raise ValueError(
                f"elitism must be at most the population size "
                f"({self.search.population_size}). Received: elitism={elites}. "
                f"{fix}"
            )
        self.search.elitism = elites

    @property
    def population_records(self) -> list:
        """The current population's :class:`~nastoolkit.nas.Candidate` records (genome, score,
        generation born, ...)."""
        evaluations = self.search.state.evaluations
        return [evaluations[key] for key in self.search.state.population]

    @property
    def best_so_far(self):
        """The best :class:`~nastoolkit.nas.Candidate` ever evaluated (the hall of fame's
        first; None before the first step or when all failed)."""
        ranked = rank_records(list(self.search.state.evaluations.values()))
        return ranked[0] if ranked else None

    @property
    def population_best(self):
        """The best successful member of the current population (None if none)."""
        ranked = rank_records(self.population_records)
        return ranked[0] if ranked else None

    def best_in_population(self) -> bool:
        """Whether the current population still holds the best error so far (that record, or
        another with the same error)."""
        best, current = self.best_so_far, self.population_best
        return best is not None and current is not None and current.score <= best.score

    def _best_member_key(self):
        """Key of the population member to outline as the best so far (None if lost)."""
        best = self.best_so_far
        if best is not None and best.key in self.search.state.population:
            return best.key
        return self.population_best.key if self.best_in_population() else None

    def population_is_valid(self) -> bool:
        """Every member lies in the search space and has a record."""
        records = self.population_records
        return (
            len(records) == self.search.population_size
            and all(self.search.space.contains(r.genome) for r in records)
            and all(r.key == genome_key(r.genome) for r in records)
        )

    def summary(self) -> str:
        """The status line: what the last step trained, the best so far (hall of fame) with
        the genome that scored it, and the population's own best."""
        if self.generation < 0:
            return "No generation yet: press the button to train the first population."
        records = self.population_records
        born = sum(r.generation == self.generation for r in records)
        stats = self.search.state.history[-1]
        lines = [
            (
                f"Generation {self.generation}: {stats['trained']} candidates trained, "
                f"{stats['cache_hits']} reused; {born} of {len(records)} members are new."
            )
        ]
        best = self.best_so_far
        if best is None:
            lines.append("Every candidate so far failed.")
            return "<br>".join(lines)
        lines.append(
            f"Best so far (hall of fame): {best.score:.4f}, "
            f"{describe_genome(best.genome)}, from generation {best.generation}."
        )
        current = self.population_best
        if self.best_in_population():
            lines.append(
                "The population still holds it"
                + (
                    "."
                    if best.key in self.search.state.population
                    else " (or an equally good candidate)."
                )
            )
        else:
            kept = (
                "elitism is off: no tournament drew it"
                if not self.elitism
                else "it was not among the elites"
            )
            population = f"{current.score:.4f}" if current is not None else "none"
            lines.append(f"The population lost it ({kept}); its best is now {population}.")
        return "<br>".join(lines)


class GenerationStepperApp(WidgetApp):
    """A "step one generation" button and an elitism switch over the population (best so far
    outlined) and the fitness-per-generation plot.

    Parameters
    ----------
    search : Search, optional
        The search to step (e.g. a ``GeneticSearch`` with ``generations=0``).
    model : GenerationStepperModel, optional
        Instead of ``search``: the model to show.

    Examples
    --------
    >>> from nastoolkit.nas import GeneticSearch, Outcome, SearchSpace
    >>> class Size:  # scores by depth instead of training, to keep the example instant
    ...     input_dim, output_dim = 4, 2
    ...     def fingerprint(self): return "size"
    ...     def evaluate(self, genome): return Outcome("ok", len(genome["layers"]) / 10)
    >>> import contextlib, io
    >>> with contextlib.redirect_stdout(io.StringIO()):  # outside Jupyter figures print as text
    ...     app = GenerationStepperApp(GeneticSearch(SearchSpace(max_layers=3), Size(),
    ...                                              population_size=4, generations=0))
    ...     app.step_button.click()
    >>> app.model.generation
    0
    """

    def __init__(self, search=None, model: GenerationStepperModel | None = None):
        if model is None and search is None:
            raise ValueError(
                "pass search=... (e.g. a GeneticSearch) or model=... "
                "(a GenerationStepperModel). Received neither."
            )
        self.model = model or GenerationStepperModel(search)
        self.step_button = ipywidgets.Button(
            description="step one generation",
            icon="step-forward",
            button_style="primary",
            layout=ipywidgets.Layout(width="auto"),
        )
        self.elitism_box = ipywidgets.Checkbox(
            value=bool(self.model.elitism),
            description="keep the best (elitism = 1)",
            indent=False,
            disabled=not self.model.has_elitism,
            layout=ipywidgets.Layout(width="auto"),
        )
        self.status = ipywidgets.HTML(value=self.model.summary())
        self.view = FigureView()
        self.step_button.on_click(self._on_step)
        self.elitism_box.observe(self._on_elitism, names="value")
        self.widget = ipywidgets.VBox(
            [ipywidgets.HBox([self.step_button, self.elitism_box]), self.status, self.view.output]
        )
        self.redraw()

    def _on_elitism(self, change):
        self.model.set_elitism(1 if change["new"] else 0)

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
        """The population over the history, one above the other (both legends to the right)."""
        model = self.model
        members = max(len(model.search.state.population), 1)
        with figure_style():
            figure = Figure(figsize=(9.5, 4.4 + 0.3 * members), layout="constrained")
            # Subfigures lay out apart: the population's long labels do not squeeze the history.
            top, bottom = figure.subfigures(2, 1, height_ratios=[1.4 + 0.3 * members, 3.0])
            ax_population, ax_history = top.subplots(), bottom.subplots()
            if model.generation < 0:
                for ax in (ax_population, ax_history):
                    ax.set_axis_off()
                ax_population.text(
                    0.5,
                    0.5,
                    "no population yet:\npress 'step one generation'",
                    ha="center",
                    va="center",
                    fontsize="large",
                )
                return figure
            # A key that is in no record makes the plot say that the best was lost.
            best_key = model._best_member_key() or "lost"
            plots.plot_population(
                model.population_records, model.generation, ax=ax_population, best_key=best_key
            )
            plots.plot_fitness_history(model.search.state.history, ax=ax_history)
        return figure
