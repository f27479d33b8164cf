"""Widget apps for tutorial 7: the controller, DARTS and Hyperband, one step per click.

- :class:`ControllerStepperModel` / :class:`ControllerStepperApp`: one controller step (sample a
  batch of architectures, train them, one REINFORCE update) per click, with the decision
  probabilities as a heat map.
- :class:`DartsStepperModel` / :class:`DartsStepperApp`: one supernet epoch per click, with
  softmax(alpha) per layer and the genome it derives (retrained and scored).
- :class:`HyperbandStepperModel` / :class:`HyperbandStepperApp`: one rung of successive halving
  per click, with the brackets drawn as bars of epochs received.

Models hold the search and advance it through its own ``run`` (which continues from its state),
so a stepped search ends exactly where an uninterrupted one does; figures come from
:mod:`nastoolkit.viz.search_methods`.
"""

from __future__ import annotations

import ipywidgets
import numpy as np
from matplotlib.figure import Figure

from ..nas import ControllerSearch, DifferentiableSearch, Hyperband, describe_genome
from ..nas.controller import decode_tokens
from ..nas.result import rank_records
from ..viz import search_methods as plots
from ._view import FigureView, WidgetApp, figure_style

__all__ = [
    "ControllerStepperApp",
    "ControllerStepperModel",
    "DartsStepperApp",
    "DartsStepperModel",
    "HyperbandStepperApp",
    "HyperbandStepperModel",
]


def _require(search, kind, name: str):
    if not isinstance(search, kind):
        raise TypeError(
            f"search must be a nastoolkit.nas.{kind.__name__} (e.g. {name}). "
            f"Received: {type(search).__name__}"
        )
    return search


def _best_text(records) -> str:
    ranked = rank_records(list(records))
    if not ranked:
        return "every candidate so far failed."
    best = ranked[0]
    return f"{best.score:.4f}, {describe_genome(best.genome)}."


# --- the controller -----------------------------------------------------------------------------


class ControllerStepperModel:
    """A :class:`~nastoolkit.nas.ControllerSearch` advanced one controller step per
    :meth:`step`: sample ``architectures_per_step`` genomes, train them (cache first), take one
    REINFORCE step.

    Parameters
    ----------
    search : ControllerSearch
        The search to step (its ``controller_steps`` is ignored: each step adds one).

    Examples
    --------
    >>> from nastoolkit.nas import Outcome, SearchSpace
    >>> class Size:  # scores by depth instead of training, to keep the example instant
    ...     input_dim, output_dim = 4, 2
    ...     def fingerprint(self): return "size"
    ...     def evaluate(self, genome): return Outcome("ok", len(genome["layers"]) / 10)
    >>> model = ControllerStepperModel(ControllerSearch(SearchSpace(max_layers=2), Size(),
    ...                                                 architectures_per_step=4))
    >>> _ = model.step(); _ = model.step()
    >>> model.steps, len(model.history)
    (2, 2)
    """

    def __init__(self, search):
        self.search = _require(search, ControllerSearch, "ControllerSearch(space, evaluator)")
        self.search.progress = False  # the app shows progress itself
        self.result = None

    def __repr__(self) -> str:
        return f"ControllerStepperModel(steps={self.steps})"

    @property
    def steps(self) -> int:
        """Controller steps done (each one REINFORCE update)."""
        return self.search.state.generation + 1

    @property
    def history(self) -> list:
        """The result's history rows (with ``probabilities``, ``rewards``, ``baseline``)."""
        return self.result.history if self.result is not None else []

    def step(self):
        """Run exactly one more controller step; returns the search result so far."""
        self.search.generations = self.steps
        self.result = self.search.run()
        return self.result

    def most_likely_genome(self) -> dict:
        """The genome of each decision's most probable choice (at the last step's samples)."""
        if not self.history:
            raise RuntimeError("no controller step yet: call step() first.")
        probabilities = self.history[-1]["probabilities"]
        tokens = [int(np.argmax(probabilities[d.name])) for d in self.search.decisions]
        return decode_tokens(self.search.decisions, tokens)

    def summary(self) -> str:
        """What the last step sampled and learned, and the best genome so far."""
        if not self.history:
            return "No controller step yet: press the button to sample the first architectures."
        row = self.history[-1]
        rewards = row["rewards"]
        return "<br>".join(
            [
                (
                    f"Controller step {self.steps - 1}: {len(rewards)} architectures sampled "
                    f"({row['trained']} trained, {row['cache_hits']} reused); mean reward "
                    f"{np.mean(rewards):.3f} against the baseline {row['baseline']:.3f}."
                ),
                f"Most likely now: {describe_genome(self.most_likely_genome())}.",
                f"Best so far: {_best_text(self.search.state.evaluations.values())}",
            ]
        )


# --- DARTS --------------------------------------------------------------------------------------


class DartsStepperModel:
    """A :class:`~nastoolkit.nas.DifferentiableSearch` advanced one supernet epoch per
    :meth:`step`; each step also retrains and scores the genome the epoch derives (as ``run``
    does at its end).

    Parameters
    ----------
    search : DifferentiableSearch
        The search to step (its ``epochs`` is ignored: each step adds one).

    Examples
    --------
    >>> from nastoolkit.nas import SearchSpace
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 2)).astype("float32"); y = (X[:, 0] > 0).astype(int)
    >>> space = SearchSpace(max_layers=1, units=(4,), activations=("relu", "tanh"))
    >>> model = DartsStepperModel(DifferentiableSearch(space, X, y, evaluator_epochs=1))
    >>> _ = model.step()
    >>> model.epochs, len(model.search.history[0]["alpha"][0])
    (1, 2)
    """

    def __init__(self, search):
        self.search = _require(search, DifferentiableSearch, "DifferentiableSearch(space, X, y)")
        self.search.progress = False
        self.result = None

    def __repr__(self) -> str:
        return f"DartsStepperModel(epochs={self.epochs})"

    @property
    def epochs(self) -> int:
        """Supernet epochs done."""
        return len(self.search.history)

    def step(self):
        """Train the supernet one more epoch, derive its genome, retrain and score that."""
        self.search.epochs = self.epochs + 1
        self.result = self.search.run()
        return self.result

    def summary(self) -> str:
        """The last epoch's losses and the genome it derives, with its retrained score."""
        if self.result is None:
            return "No epoch yet: press the button to train the supernet for one epoch."
        row = self.search.history[-1]
        record = self.result.evaluations[0]
        score = f"{record.score:.4f}" if record.ok else f"failed ({record.outcome.reason})"
        return "<br>".join(
            [
                (
                    f"Epoch {self.epochs}: supernet training loss {row['train_loss']:.3f}, "
                    f"validation loss {row['val_loss']:.3f}."
                ),
                (
                    f"Derived: {describe_genome(row['genome'])}; retrained from scratch, its "
                    f"validation error is {score}."
                ),
            ]
        )


# --- Hyperband ----------------------------------------------------------------------------------


class HyperbandStepperModel:
    """A synchronous :class:`~nastoolkit.nas.Hyperband` advanced one rung per :meth:`step`.

    Parameters
    ----------
    search : Hyperband
        With ``asynchronous=False`` (ASHA has no rungs to step through).

    Examples
    --------
    >>> from nastoolkit.nas import HoldoutEvaluator, SearchSpace
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(40, 3)).astype("float32"), np.arange(40) % 2
    >>> space = SearchSpace(max_layers=1, units=(4,), activations=("relu",))
    >>> model = HyperbandStepperModel(Hyperband(space, HoldoutEvaluator(X, y), max_epochs=3))
    >>> _ = model.step()
    >>> model.rungs_done, model.rungs_total, model.search.state.history[0]["epochs"]
    (1, 3, 1)
    """

    def __init__(self, search):
        self.search = _require(search, Hyperband, "Hyperband(space, evaluator, max_epochs=9)")
        if self.search.asynchronous:
            raise ValueError(
                "search must be a synchronous Hyperband: ASHA has no rungs to step through "
                "(it hands out jobs as workers finish). "
                "Received: asynchronous=True. Pass Hyperband(..., asynchronous=False)."
            )
        self.search.progress = False
        self.result = None

    def __repr__(self) -> str:
        return f"HyperbandStepperModel(rungs_done={self.rungs_done}/{self.rungs_total})"

    @property
    def rungs_done(self) -> int:
        """Rungs finished, over all brackets."""
        return self.search.state.generation + 1

    @property
    def rungs_total(self) -> int:
        """Rungs in all brackets."""
        return len(self.search.schedule)

    @property
    def finished(self) -> bool:
        """Whether every bracket has run."""
        return self.rungs_done >= self.rungs_total

    def step(self):
        """Train exactly one more rung (nothing when finished); returns the result so far."""
        if not self.finished:
            self.search.generations = self.rungs_done
            self.result = self.search.run()
        return self.result

    def summary(self) -> str:
        """What the last rung trained and promoted, and the best so far."""
        if self.result is None:
            return "No rung yet: press the button to train the first rung of the first bracket."
        row = self.search.state.history[-1]
        promoted = ", ".join(row["promoted"]) or "none (the bracket's last rung)"
        lines = [
            (
                f"Bracket s = {row['bracket']}, rung {row['rung']}: {len(row['trials'])} "
                f"candidates trained to {row['epochs']} epochs ({row['epochs_trained']} epochs this rung, "
                f"{row['total_epochs']} of {self.search.budget} in all); promoted: {promoted}."
            ),
            f"Best so far: {_best_text(self.search.state.evaluations.values())}",
        ]
        if self.finished:
            lines.append("Every bracket has run.")
        return "<br>".join(lines)


# --- the apps -----------------------------------------------------------------------------------


class _StepperApp(WidgetApp):
    """A Step button, a status line and a figure over a stepper model."""

    button_text = "Step"

    def __init__(self, model):
        self.model = model
        self.step_button = ipywidgets.Button(
            description=self.button_text,
            icon="step-forward",
            button_style="primary",
            layout=ipywidgets.Layout(width="auto"),
        )
        self.status = ipywidgets.HTML(value=self.model.summary())
        self.view = FigureView()
        self.step_button.on_click(self._on_step)
        self.widget = ipywidgets.VBox([self.step_button, self.status, self.view.output])
        self.redraw()

    def _on_step(self, _button):
        self.step_button.disabled = True  # training takes a moment; no double clicks meanwhile
        self.status.value = "Training ..."
        try:
            self.model.step()
        finally:
            self.step_button.disabled = self._done()
        self.status.value = self.model.summary()
        self.redraw()

    def _done(self) -> bool:
        return False

    def redraw(self):
        self.view.show(self.draw())

    def _empty(self, text: str) -> Figure:
        with figure_style():
            figure = Figure(figsize=(9.5, 2.0), layout="constrained")
            ax = figure.add_subplot()
            ax.set_axis_off()
            ax.text(0.5, 0.5, text, ha="center", va="center", fontsize="large")
        return figure


class ControllerStepperApp(_StepperApp):
    """ "Step: one controller step" over the heat map of the controller's decision probabilities.

    Parameters
    ----------
    search : ControllerSearch, optional
        The search to step.
    model : ControllerStepperModel, optional
        Instead of ``search``.

    Examples
    --------
    >>> from nastoolkit.nas import Outcome, SearchSpace
    >>> class Size:  # scores by depth instead of training, to keep the example instant
    ...     input_dim, output_dim = 4, 2
    ...     def fingerprint(self): return "size"
    ...     def evaluate(self, genome): return Outcome("ok", len(genome["layers"]) / 10)
    >>> import contextlib, io
    >>> with contextlib.redirect_stdout(io.StringIO()):  # outside Jupyter figures print as text
    ...     app = ControllerStepperApp(ControllerSearch(SearchSpace(max_layers=2), Size(),
    ...                                                 architectures_per_step=4))
    ...     app.step_button.click()
    >>> app.model.steps
    1
    """

    button_text = "Step: one controller step"

    def __init__(self, search=None, model=None):
        super().__init__(model or ControllerStepperModel(search))

    def draw(self) -> Figure:
        """The heat map of every step so far (a note before the first)."""
        if not self.model.history:
            return self._empty("no controller step yet: press 'Step'")
        decisions = [(d.name, d.choices) for d in self.model.search.decisions]
        return plots.plot_controller_probabilities(self.model.history, decisions)


class DartsStepperApp(_StepperApp):
    """ "Step: one DARTS epoch" over softmax(alpha) per layer and the derived genome.

    Parameters
    ----------
    search : DifferentiableSearch, optional
        The search to step.
    model : DartsStepperModel, optional
        Instead of ``search``.

    Examples
    --------
    >>> from nastoolkit.nas import SearchSpace
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 2)).astype("float32"); y = (X[:, 0] > 0).astype(int)
    >>> space = SearchSpace(max_layers=1, units=(4,), activations=("relu", "tanh"))
    >>> import contextlib, io
    >>> with contextlib.redirect_stdout(io.StringIO()):
    ...     app = DartsStepperApp(DifferentiableSearch(space, X, y, evaluator_epochs=1))
    ...     app.step_button.click()
    >>> app.model.epochs
    1
    """

    button_text = "Step: one DARTS epoch"

    def __init__(self, search=None, model=None):
        super().__init__(model or DartsStepperModel(search))

    def draw(self) -> Figure:
        """softmax(alpha) per layer over the epochs so far, and the derived genome."""
        if not self.model.search.history:
            return self._empty("no epoch yet: press 'Step'")
        evaluator = self.model.search.evaluator
        return plots.plot_darts(
            self.model.search.history,
            input_dim=evaluator.input_dim,
            output_dim=evaluator.output_dim,
        )


class HyperbandStepperApp(_StepperApp):
    """ "Step: one rung" over the brackets so far (bars of epochs received, coloured by rung).

    Parameters
    ----------
    search : Hyperband, optional
        A synchronous Hyperband to step.
    model : HyperbandStepperModel, optional
        Instead of ``search``.

    Examples
    --------
    >>> from nastoolkit.nas import HoldoutEvaluator, SearchSpace
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(40, 3)).astype("float32"), np.arange(40) % 2
    >>> space = SearchSpace(max_layers=1, units=(4,), activations=("relu",))
    >>> import contextlib, io
    >>> with contextlib.redirect_stdout(io.StringIO()):
    ...     app = HyperbandStepperApp(Hyperband(space, HoldoutEvaluator(X, y), max_epochs=3))
    ...     app.step_button.click()
    >>> app.model.rungs_done
    1
    """

    button_text = "Step: one rung"

    def __init__(self, search=None, model=None):
        super().__init__(model or HyperbandStepperModel(search))

    def _done(self) -> bool:
        return self.model.finished

    def draw(self) -> Figure:
        """The brackets so far."""
        if not self.model.search.state.history:
            return self._empty("no rung yet: press 'Step'")
        return plots.plot_brackets(
            self.model.search.state.history, max_epochs=self.model.search.max_epochs
        )
