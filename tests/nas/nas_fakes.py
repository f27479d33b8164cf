"""Test doubles for the NAS tests: a fast, deterministic evaluator that counts its trainings, and
tiny real datasets. Importable by spawned pool workers and subprocesses (no pytest needed)."""

from __future__ import annotations

import math
import time

import numpy as np

from nastoolkit.nas.build import count_parameters
from nastoolkit.nas.outcome import Outcome


class FormulaEvaluator:
    """Scores a genome by a smooth formula instead of training (best: ~3 layers of 64 units,
    learning rate 3e-3), optionally sleeping to look like training. ``trainings`` counts calls
    to ``evaluate`` in this process; genomes listed in ``failing_units`` fail with a reason."""

    input_dim, output_dim = 8, 3

    def __init__(self, delay: float = 0.0, failing_units=(), tag: str = "formula"):
        self.delay, self.failing_units, self.tag = delay, tuple(failing_units), tag
        self.trainings = 0

    def fingerprint(self) -> str:
        return f"{self.tag}-{self.failing_units}"

    def count_parameters(self, genome) -> int:
        return count_parameters(genome, self.input_dim, self.output_dim)

    def evaluate(self, genome) -> Outcome:
        self.trainings += 1
        if self.delay:
            time.sleep(self.delay)
        if any(layer["units"] in self.failing_units for layer in genome["layers"]):
            return Outcome.failure("loss diverged (fake)")
        layers = genome["layers"]
        score = (
            abs(math.log10(genome["learning_rate"]) - math.log10(3e-3)) / 3
            + 0.05 * abs(len(layers) - 3)
            + sum(abs(math.log2(layer["units"]) - 6) for layer in layers) / (10 * len(layers))
            + sum(layer["dropout"] for layer in layers) / 10
            + (0.02 if genome["optimizer"] != "adam" else 0.0)
        )
        return Outcome("ok", score, None, {"val_error": score, "best_epoch": 1})


def blobs(samples=90, features=6, classes=3, seed=0):
    """Well-separated Gaussian blobs: a tiny classification set that trains in milliseconds."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, 3.0, (classes, features))
    y = np.arange(samples) % classes
    X = centers[y] + rng.normal(0.0, 1.0, (samples, features))
    return X.astype(np.float32), y.astype(np.int64)
