"""``nastoolkit.optimizers.schedules``: the learning-rate schedules under Keras's spelling
(``keras.optimizers.schedules.ExponentialDecay``); the same objects as ``nastoolkit.schedules``.

>>> from nastoolkit.optimizers.schedules import ExponentialDecay
>>> ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)(10)
0.05
"""

from ..schedules import (
    CosineDecay,
    CosineDecayRestarts,
    ExponentialDecay,
    InverseTimeDecay,
    LearningRateSchedule,
    PiecewiseConstantDecay,
    PolynomialDecay,
    StepDecay,
    deserialize,
    get,
    serialize,
    values,
)

__all__ = [
    "CosineDecay",
    "CosineDecayRestarts",
    "ExponentialDecay",
    "InverseTimeDecay",
    "LearningRateSchedule",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "StepDecay",
    "deserialize",
    "get",
    "serialize",
    "values",
]
