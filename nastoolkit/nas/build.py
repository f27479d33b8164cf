"""genome -> compiled nastoolkit ``Sequential``: the one place a genome becomes a network."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["TASKS", "Task", "check_task", "count_parameters", "genome_to_model", "make_optimizer"]


class Task(NamedTuple):
    """What a task puts on top of the hidden layers and how it is trained and scored.

    Examples
    --------
    >>> check_task("regression")
    Task(output_activation='linear', loss='mse', metrics=('mse',))
    """

    output_activation: str
    loss: str
    metrics: tuple


TASKS = {
    "classification": Task("softmax", "sparse_categorical_crossentropy", ("accuracy",)),
    "regression": Task("linear", "mse", ("mse",)),
}


def check_task(task: str) -> Task:
    """The :class:`Task` named ``task``, or a ValueError listing the choices.

    Parameters
    ----------
    task : str
        ``"classification"`` or ``"regression"``.

    Returns
    -------
    Task

    Examples
    --------
    >>> check_task("regression").loss
    'mse'
    """
    if task not in TASKS:
        raise ValueError(
            f"task must be one of {sorted(TASKS)}. Received: task={task!r}. "
            f"Use 'classification' for integer labels, 'regression' for numbers."
        )
    return TASKS[task]


def make_optimizer(genome: dict):
    """A fresh optimizer of the genome's kind and learning rate (other settings: defaults).

    Parameters
    ----------
    genome : dict
        A genome (see ``make_genome``).

    Returns
    -------
    Optimizer

    Examples
    --------
    >>> from nastoolkit.nas import make_genome
    >>> make_optimizer(make_genome([(8, "relu", 0.0)], optimizer="sgd", learning_rate=0.01))
    SGD(learning_rate=0.01, momentum=0.0, nesterov=False)
    """
    from .. import optimizers

    kind = type(optimizers.get(genome["optimizer"]))
    return kind(learning_rate=genome["learning_rate"])


def genome_to_model(
    genome: dict,
    input_dim: int,
    output_dim: int,
    task: str = "classification",
    seed: int | None = None,
):
    """A compiled ``Sequential`` for ``genome``: each layer gene gives
    ``Dense(units, activation, kernel_regularizer=L2(l2))`` then ``Dropout(dropout)`` when the
    rate is positive; the task adds the output layer (softmax / linear), loss and metrics.

    Shapes: inputs ``(batch, input_dim)``, outputs ``(batch, output_dim)``. ``seed`` fixes the
    weight initialisation (``fit(seed=...)`` overrides it, as Keras's does).

    Parameters
    ----------
    genome : dict
        A genome (see ``make_genome``).
    input_dim : int
        Features per sample.
    output_dim : int
        Classes (classification) or targets (regression).
    task : str, default "classification"
        ``"classification"`` or ``"regression"``.
    seed : int, optional
        Seed of the weight initialisation.

    Returns
    -------
    Sequential
        Compiled, built for ``(batch, input_dim)`` inputs.

    Examples
    --------
    >>> from nastoolkit.nas import make_genome
    >>> model = genome_to_model(make_genome([(8, "relu", 0.0)]), input_dim=4, output_dim=3, seed=0)
    >>> model.count_params()  # (4 + 1) * 8 + (8 + 1) * 3
    67
    """
    # Imported here so ``import nastoolkit.nas`` (checkpoints, CLI parsing) stays light.
    from ..layers import Dense, Dropout
    from ..models import Sequential
    from ..regularizers import L2

    spec = check_task(task)
    layers = []
    for index, gene in enumerate(genome["layers"]):
        extra = {"input_shape": (int(input_dim),)} if index == 0 else {}
        regularizer = L2(genome["l2"]) if genome["l2"] > 0 else None
        layers.append(
            Dense(
                gene["units"],
                activation=gene["activation"],
                kernel_regularizer=regularizer,
                **extra,
            )
        )
        if gene["dropout"] > 0:
            layers.append(Dropout(gene["dropout"]))
    output_extra = {} if layers else {"input_shape": (int(input_dim),)}
    layers.append(Dense(int(output_dim), activation=spec.output_activation, **output_extra))
    model = Sequential(layers, seed=seed)
    model.compile(optimizer=make_optimizer(genome), loss=spec.loss, metrics=list(spec.metrics))
    return model


def count_parameters(genome: dict, input_dim: int, output_dim: int) -> int:
    """Weights plus biases of the genome's network, without building it (equals
    ``genome_to_model(...).count_params()``).

    Parameters
    ----------
    genome : dict
        A genome (see ``make_genome``).
    input_dim : int
        Features per sample.
    output_dim : int
        Output units.

    Returns
    -------
    int

    Examples
    --------
    >>> from nastoolkit.nas import make_genome
    >>> count_parameters(make_genome([(8, "relu", 0.0)]), 4, 3)
    67
    """
    total, fan_in = 0, int(input_dim)
    for gene in genome["layers"]:
        total += fan_in * gene["units"] + gene["units"]
        fan_in = gene["units"]
    return total + fan_in * int(output_dim) + int(output_dim)
