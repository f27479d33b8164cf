"""Settings of the tiny table the bench tests build (shared by conftest and the tests)."""

from nastoolkit.nas.bench import BenchSpace

TINY_SPACE = BenchSpace(
    max_layers=1, units=(8, 16), activations=("relu", "tanh"), learning_rates=(1e-3, 3e-2)
)
TINY = {"space": TINY_SPACE, "seeds": (0, 1), "epochs": 4}
