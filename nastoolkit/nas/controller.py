"""An RNN controller that designs networks, trained with REINFORCE (Zoph & Le, 2017, "Neural
architecture search with reinforcement learning").

The controller is an LSTM (:mod:`.recurrent`) that emits a genome one decision at a time: the
depth, then units, activation and dropout of every layer slot up to ``max_layers``, then the
learning rate (a log-spaced grid over the space's range), L2, optimizer and batch size. Each
decision is a softmax over its choices; the chosen token's embedding is the next step's input.
Layer slots beyond the chosen depth are still sampled (the sequence has a fixed length, so a
batch runs as one array) and simply not used; their log-probabilities stay in the estimator,
which keeps it unbiased for the joint distribution the rewards are drawn from.

The training signal is REINFORCE with a baseline and an entropy bonus, averaged over a batch of
``n`` sampled sequences ``a^k``::

    L = -(1/n) sum_k (R_k - b) sum_t log p(a^k_t | a^k_<t)  -  beta (1/n) sum_k sum_t H_t^k
    dL/dz_t = (1/n) [ (R_k - b) (p_t - onehot(a_t)) + beta p_t (log p_t + H_t) ]

with ``z_t`` the logits of step t; ``b`` is an exponential moving average of past mean rewards.
The reward is the negative validation error (a failed candidate gets the step's worst reward
minus 1). Steps with the toolkit's :class:`~nastoolkit.optimizers.Adam`.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

from .. import kernels
from .._checks import int_at_least, non_negative, number_in, positive, positive_int
from .checkpoint import (
    CheckpointError,
    encode_rng_state,
    load_checkpoint,
    remove_stale_arrays,
    save_checkpoint,
    write_arrays,
)
from .recurrent import LSTMCell
from .space import SearchSpace
from .strategies import Search

__all__ = ["Controller", "ControllerSearch", "Decision", "controller_decisions", "decode_tokens"]


class Decision(NamedTuple):
    """One softmax of the controller: a name such as ``"layers[0].units"`` and its choices."""

    name: str
    choices: tuple


def _learning_rates(space: SearchSpace, count: int) -> tuple:
    low, high = space.learning_rate
    grid = [space.clamp_learning_rate(value) for value in np.geomspace(low, high, count)]
    return tuple(dict.fromkeys(grid))


def controller_decisions(space: SearchSpace, learning_rate_choices: int = 5) -> list:
    """The controller's decisions for ``space``, in emission order.

    Examples
    --------
    >>> space = SearchSpace(max_layers=2, units=(8, 16), learning_rate=(1e-3, 1e-1))
    >>> [d.name for d in controller_decisions(space)][:4]
    ['depth', 'layers[0].units', 'layers[0].activation', 'layers[0].dropout']
    >>> controller_decisions(space, learning_rate_choices=3)[-4].choices
    (0.001, 0.01, 0.1)
    """
    count = positive_int(
        "learning_rate_choices", learning_rate_choices, "Pass e.g. learning_rate_choices=5."
    )
    decisions = [Decision("depth", tuple(range(space.min_layers, space.max_layers + 1)))]
    for index in range(space.max_layers):
        decisions += [
            Decision(f"layers[{index}].units", space.units),
            Decision(f"layers[{index}].activation", space.activations),
            Decision(f"layers[{index}].dropout", space.dropout),
        ]
    decisions += [
        Decision("learning_rate", _learning_rates(space, count)),
        Decision("l2", space.l2),
        Decision("optimizer", space.optimizers),
        Decision("batch_size", space.batch_size),
    ]
    return decisions


def decode_tokens(decisions: list, tokens) -> dict:
    """The genome a sequence of chosen indices (one per decision) stands for.

    Examples
    --------
    >>> space = SearchSpace(max_layers=2, units=(8, 16), activations=("relu", "tanh"))
    >>> decisions = controller_decisions(space)
    >>> genome = decode_tokens(decisions, [0, 1, 1, 0] + [0] * (len(decisions) - 4))
    >>> genome["layers"]
    [{'units': 16, 'activation': 'tanh', 'dropout': 0.0}]
    """
    value = {d.name: d.choices[int(t)] for d, t in zip(decisions, tokens)}
    layers = [
        {
            "units": int(value[f"layers[{i}].units"]),
            "activation": str(value[f"layers[{i}].activation"]),
            "dropout": float(value[f"layers[{i}].dropout"]),
        }
        for i in range(int(value["depth"]))
    ]
    return {
        "layers": layers,
        "learning_rate": float(value["learning_rate"]),
        "l2": float(value["l2"]),
        "optimizer": str(value["optimizer"]),
        "batch_size": int(value["batch_size"]),
    }


class _Pass(NamedTuple):
    """One forward pass over a batch: tokens (n, T), per-step probabilities and LSTM steps."""

    tokens: np.ndarray
    probabilities: list
    hidden: list
    steps: list


class Controller:
    """The LSTM policy over ``decisions``: a cell of ``units``, a learned start input, and per
    decision a softmax head (``V_d``, ``c_d``) and an embedding table ``E_d`` of its choices.

    Parameters
    ----------
    decisions : list of Decision
        What it emits, in order.
    units, embedding : int
        LSTM width and input (embedding) width.
    rng : numpy.random.Generator
        Draws the initial weights.
    dtype : str
        ``"float64"`` (default; exact gradient tests) or ``"float32"``.

    Examples
    --------
    >>> space = SearchSpace(max_layers=1, units=(8, 16))
    >>> controller = Controller(controller_decisions(space), 8, 4, np.random.default_rng(0))
    >>> tokens = controller.sample(np.random.default_rng(1).random((3, controller.length)))
    >>> tokens.shape  # depth, units, activation, dropout, learning rate, l2, optimizer, batch
    (3, 8)
    """

    def __init__(self, decisions: list, units: int, embedding: int, rng, dtype="float64"):
        self.decisions = list(decisions)
        self.length = len(self.decisions)
        self.cell = LSTMCell(embedding, units, rng, dtype=dtype)
        dtype = self.cell.dtype
        self.start = rng.normal(0.0, 0.1, (1, embedding)).astype(dtype)
        self.heads = [
            (
                rng.normal(0.0, 0.1, (units, len(d.choices))).astype(dtype),
                np.zeros(len(d.choices), dtype),
            )
            for d in self.decisions
        ]
        self.embeddings = [
            rng.normal(0.0, 0.1, (len(d.choices), embedding)).astype(dtype) for d in self.decisions
        ]

    @property
    def weights(self) -> list:
        """Every trainable array, in a fixed order (optimizer state and checkpoints use it)."""
        return [
            *self.cell.weights,
            self.start,
            *[array for head in self.heads for array in head],
            *self.embeddings,
        ]

    def _forward(self, tokens=None, uniforms=None) -> _Pass:
        """Run the sequence: sample from ``uniforms`` (n, T) in [0, 1) by inverse CDF, or follow
        the given ``tokens`` (n, T)."""
        n = len(tokens if tokens is not None else uniforms)
        chosen = np.empty((n, self.length), np.int64)
        h, c = self.cell.zero_state(n)
        x = np.repeat(self.start, n, axis=0)
        probabilities, hidden, steps = [], [], []
        for t, ((V, bias), E) in enumerate(zip(self.heads, self.embeddings)):
            h, c, step = self.cell.forward(x, h, c)
            p = kernels.activation_forward("softmax", kernels.dense_forward(h, V, bias))
            if tokens is None:
                below = (np.cumsum(p, axis=1) <= uniforms[:, t : t + 1]).sum(axis=1)
                chosen[:, t] = np.minimum(below, p.shape[1] - 1)
            else:
                chosen[:, t] = tokens[:, t]
            x = E[chosen[:, t]]
            probabilities.append(p)
            hidden.append(h)
            steps.append(step)
        return _Pass(chosen, probabilities, hidden, steps)

    def sample(self, uniforms) -> np.ndarray:
        """Token sequences (n, T) drawn with ``uniforms`` (n, T) of numbers in [0, 1)."""
        return self._forward(uniforms=np.asarray(uniforms, float)).tokens

    def probabilities(self, tokens) -> list:
        """Per decision, the (n, choices) softmax seen along each sequence of ``tokens``."""
        return self._forward(tokens=np.asarray(tokens)).probabilities

    def log_probability(self, tokens) -> np.ndarray:
        """``log p(sequence)`` for each row of ``tokens`` (forward only)."""
        run = self._forward(tokens=np.asarray(tokens))
        rows = np.arange(len(run.tokens))
        return sum(np.log(p[rows, run.tokens[:, t]]) for t, p in enumerate(run.probabilities))

    def gradients(self, tokens, advantages, entropy_weight: float = 0.0) -> list:
        """dL/d(each of :attr:`weights`) for the REINFORCE loss of the module docstring, given
        sequences ``tokens`` (n, T) and ``advantages`` ``R_k - b`` (n,)."""
        run = self._forward(tokens=np.asarray(tokens))
        n = len(run.tokens)
        advantages = np.asarray(advantages, self.cell.dtype).reshape(n, 1)
        rows = np.arange(n)
        grad_W, grad_b = np.zeros_like(self.cell.W), np.zeros_like(self.cell.b)
        grad_heads = [(np.zeros_like(V), np.zeros_like(bias)) for V, bias in self.heads]
        grad_embeddings = [np.zeros_like(E) for E in self.embeddings]
        grad_h = np.zeros((n, self.cell.units), self.cell.dtype)
        grad_c = np.zeros_like(grad_h)
        for t in reversed(range(self.length)):
            p = run.probabilities[t]
            grad_z = advantages * p
            grad_z[rows, run.tokens[:, t]] -= advantages[:, 0]
            if entropy_weight:
                log_p = np.log(np.maximum(p, np.finfo(p.dtype).tiny))
                entropy = -(p * log_p).sum(axis=1, keepdims=True)
                grad_z += entropy_weight * p * (log_p + entropy)
            grad_z /= n
            V, _ = self.heads[t]
            grad_from_head, step_V, step_bias = kernels.dense_backward(
                run.hidden[t], V, p, grad_z, "linear"
            )
            grad_heads[t][0][...] += step_V
            grad_heads[t][1][...] += step_bias
            grad_x, grad_h, grad_c = self.cell.backward(
                run.steps[t], grad_h + grad_from_head, grad_c, grad_W, grad_b
            )
            if t > 0:  # input of step t is the embedding of step t-1's choice
                np.add.at(grad_embeddings[t - 1], run.tokens[:, t - 1], grad_x)
            else:
                grad_start = grad_x.sum(axis=0, keepdims=True)
        return [
            grad_W,
            grad_b,
            grad_start,
            *[g for pair in grad_heads for g in pair],
            *grad_embeddings,
        ]

    def __repr__(self) -> str:
        return (
            f"Controller(decisions={self.length}, units={self.cell.units}, "
            f"embedding={self.cell.input_dim})"
        )


class ControllerSearch(Search):
    """Architecture search by an RNN controller trained with REINFORCE (see the module docstring).

    Each controller step samples ``architectures_per_step`` genomes, evaluates them through the
    evaluator, cache and parallel map like every :class:`Search`, and takes one Adam step on the
    REINFORCE loss. ``result.history`` rows add ``probabilities`` (decision name -> mean softmax
    over the step's samples), ``rewards``, ``baseline``.

    Parameters
    ----------
    space, evaluator
        As for every search.
    controller_steps : int
        Controller updates (each one generation of the search).
    architectures_per_step : int
        Genomes sampled per step.
    seed : int
        Seeds the controller's weights and its sampling.
    learning_rate : float
        Adam's learning rate for the controller.
    entropy_weight : float
        ``beta``: the entropy bonus that keeps the controller exploring.
    baseline_decay : float
        The moving average's decay in [0, 1).
    controller_units, embedding : int
        LSTM width and embedding width.
    learning_rate_choices : int
        Points of the log-spaced learning-rate grid the controller picks from.
    **options
        ``workers``, ``client``, ``cluster``, ``checkpoint``, ``cache``, ``progress``,
        ``overwrite``, ``hall_of_fame_size`` as for :class:`Search`.

    Examples
    --------
    >>> from nastoolkit.nas.outcome import Outcome
    >>> class Size:  # scores by depth instead of training, to keep the example instant
    ...     input_dim, output_dim = 4, 2
    ...     def fingerprint(self): return "size"
    ...     def count_parameters(self, genome): return 1
    ...     def evaluate(self, genome): return Outcome("ok", len(genome["layers"]) / 10)
    >>> search = ControllerSearch(SearchSpace(max_layers=3), Size(), controller_steps=3,
    ...                           architectures_per_step=4, progress=False)
    >>> result = search.run()
    >>> len(result.history), round(sum(result.history[-1]["probabilities"]["depth"]), 6)
    (3, 1.0)
    """

    def __init__(
        self,
        space,
        evaluator,
        controller_steps=50,
        architectures_per_step=8,
        seed=0,
        learning_rate=0.01,
        entropy_weight=1e-3,
        baseline_decay=0.9,
        controller_units=32,
        embedding=16,
        learning_rate_choices=5,
        **options,
    ):
        steps = positive_int("controller_steps", controller_steps, "Pass e.g. controller_steps=50.")
        per_step = int_at_least(
            "architectures_per_step",
            architectures_per_step,
            2,
            "Pass e.g. architectures_per_step=8.",
        )
        super().__init__(
            space, evaluator, population_size=per_step, generations=steps - 1, seed=seed, **options
        )
        self.controller_steps = steps
        self.architectures_per_step = per_step
        self.learning_rate = positive("learning_rate", learning_rate, "Pass e.g. 0.01.")
        self.entropy_weight = non_negative("entropy_weight", entropy_weight, "Pass e.g. 1e-3.")
        self.baseline_decay = number_in(
            "baseline_decay", baseline_decay, 0.0, 1.0, high_open=True, fix="Pass e.g. 0.9."
        )
        self.controller_units = positive_int("controller_units", controller_units)
        self.embedding = positive_int("embedding", embedding)
        self.learning_rate_choices = positive_int("learning_rate_choices", learning_rate_choices)
        self.decisions = controller_decisions(space, self.learning_rate_choices)
        self.controller = Controller(
            self.decisions, self.controller_units, self.embedding, np.random.default_rng(self.seed)
        )
        from ..optimizers import Adam

        self.optimizer = Adam(learning_rate=self.learning_rate)
        self.optimizer.build(self.controller.weights)
        self.baseline = None
        self.controller_history = []
        self._tokens = None

    def _strategy_config(self) -> dict:
        return {
            "learning_rate": self.learning_rate,
            "entropy_weight": self.entropy_weight,
            "baseline_decay": self.baseline_decay,
            "controller_units": self.controller_units,
            "embedding": self.embedding,
            "learning_rate_choices": self.learning_rate_choices,
        }

    def get_config(self) -> dict:
        return {
            "space": self.space.get_config(),
            "controller_steps": self.controller_steps,
            "architectures_per_step": self.architectures_per_step,
            "seed": self.seed,
            "hall_of_fame_size": self.hall_of_fame_size,
            "generations": self.generations,
            **self._strategy_config(),
        }

    # -- one controller step --------------------------------------------------------------------
    def _first_population(self) -> list:
        uniforms = [
            [self.rng.random() for _ in range(self.controller.length)]
            for _ in range(self.architectures_per_step)
        ]
        self._tokens = self.controller.sample(np.array(uniforms))
        return [decode_tokens(self.decisions, row) for row in self._tokens]

    def _generation(self, generation: int) -> None:
        self.state.population = self._evaluate(self._first_population(), generation)

    def _rewards(self) -> np.ndarray:
        records = [self.state.evaluations[key] for key in self.state.population]
        ok = [-record.score for record in records if record.ok]
        worst = min(ok) - 1.0 if ok else -1.0
        return np.array([-record.score if record.ok else worst for record in records])

    def _finish_generation(self, generation: int, bar) -> None:
        rewards = self._rewards()
        baseline = float(rewards.mean()) if self.baseline is None else self.baseline
        probabilities = self.controller.probabilities(self._tokens)
        grads = self.controller.gradients(self._tokens, rewards - baseline, self.entropy_weight)
        self.optimizer.apply_gradients(zip(grads, self.controller.weights))
        self.baseline = self.baseline_decay * baseline + (1.0 - self.baseline_decay) * float(
            rewards.mean()
        )
        self.controller_history.append(
            {
                "generation": generation,
                "rewards": rewards.tolist(),
                "baseline": baseline,
                "probabilities": {
                    d.name: p.mean(axis=0).tolist() for d, p in zip(self.decisions, probabilities)
                },
            }
        )
        super()._finish_generation(generation, bar)

    def result(self):
        """The :class:`SearchResult`; history rows carry the controller's per-step record."""
        result = super().result()
        extra = {row["generation"]: row for row in self.controller_history}
        result.history = [
            {
                **row,
                **{k: v for k, v in extra.get(row["generation"], {}).items() if k != "generation"},
            }
            for row in result.history
        ]
        return result

    # -- checkpoints ----------------------------------------------------------------------------
    def save(self, path) -> None:
        """JSON checkpoint (as every search, plus the controller's baseline and history) and an
        npz beside it with the controller's weights and Adam state, written first."""
        path = os.fspath(path)
        arrays = {f"w/{i}": w for i, w in enumerate(self.controller.weights)}
        arrays.update({f"o/{k}": np.asarray(v) for k, v in self.optimizer.get_state().items()})
        name = write_arrays(path, self.state.generation, arrays)
        state = {
            "generation": self.state.generation,
            "population": self.state.population,
            "rng_state": encode_rng_state(self.rng.getstate()),
            "evaluations": [record.to_dict() for record in self.state.evaluations.values()],
            "history": self.state.history,
        }
        controller = {
            "baseline": self.baseline,
            "history": self.controller_history,
            "arrays": name,
        }
        save_checkpoint(path, self._checkpoint_payload(state, controller=controller))
        remove_stale_arrays(path, name)

    @classmethod
    def resume(
        cls,
        path,
        evaluator=None,
        workers=None,
        client=None,
        cluster=None,
        checkpoint=None,
        progress=True,
        cache=None,
        overwrite=False,
    ):
        """The controller search saved at ``path``, ready to :meth:`run`; it ends exactly as an
        uninterrupted run would. ``evaluator`` defaults to the one stored in the checkpoint."""
        document = load_checkpoint(path)
        if document.get("strategy") != cls.__name__:
            raise CheckpointError(
                f"checkpoint {path!r} was written by "
                f"{document.get('strategy')!r}, not {cls.__name__}."
            )
        saved = document["evaluator"]
        if evaluator is None:
            from .evaluators import evaluator_from_config

            if not saved.get("config"):
                raise CheckpointError(
                    f"checkpoint {path!r} does not store its evaluator's data; "
                    f"pass evaluator=... to resume."
                )
            evaluator = evaluator_from_config(saved["config"])
        if evaluator.fingerprint() != saved.get("fingerprint"):
            raise CheckpointError(
                f"checkpoint {path!r} was made with another evaluator setup "
                f"(field evaluator.fingerprint differs)."
            )
        config = dict(document["config"])
        config.pop("generations", None)
        target = checkpoint or path
        same = os.path.abspath(os.fspath(target)) == os.path.abspath(os.fspath(path))
        execution = document.get("execution") or {}
        try:
            space = SearchSpace.from_config(config.pop("space"))
            search = cls(
                space,
                evaluator,
                **config,
                workers=workers if workers is not None else execution.get("workers"),
                client=client,
                cluster=cluster,
                checkpoint=target,
                progress=progress,
                cache=cache,
                overwrite=overwrite or same,
            )
            search._restore(document["state"])
            search._restore_controller(
                document["controller"], os.path.dirname(os.path.abspath(path))
            )
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(
                f"checkpoint {path!r}: a field does not fit {cls.__name__} "
                f"({type(error).__name__}: {error})."
            ) from None
        return search

    def _restore_controller(self, saved: dict, folder: str) -> None:
        self.baseline = saved["baseline"]
        self.controller_history = list(saved["history"])
        arrays_path = os.path.join(folder, saved["arrays"])
        if not os.path.exists(arrays_path):
            raise ValueError(
                f"the arrays file {arrays_path!r} named by field controller.arrays is missing"
            )
        with np.load(arrays_path, allow_pickle=False) as data:
            weights = self.controller.weights
            for index, weight in enumerate(weights):
                stored = data[f"w/{index}"]
                if stored.shape != weight.shape:
                    raise ValueError(
                        f"controller weight {index} has shape {stored.shape}, "
                        f"expected {weight.shape}"
                    )
                weight[...] = stored
            state = {name[2:]: data[name] for name in data.files if name.startswith("o/")}
        state["iterations"] = int(state["iterations"])
        self.optimizer.set_state(state, variables=weights)

    def __repr__(self) -> str:
        return (
            f"ControllerSearch(controller_steps={self.controller_steps}, "
            f"architectures_per_step={self.architectures_per_step}, seed={self.seed}, "
            f"evaluator={self.evaluator!r}, completed={self.state.generation + 1})"
        )
