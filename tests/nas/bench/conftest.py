"""A tiny table built once per test session (8 configurations x 2 seeds x 4 epochs, ~2 s), so
exact-reproduction tests always compare numbers trained on this very machine."""

import pytest

from nastoolkit.nas.bench import BenchSpace, build_table

TINY_SPACE = BenchSpace(max_layers=1, units=(8, 16), activations=("relu", "tanh"),
                        learning_rates=(1e-3, 3e-2))
TINY = {"space": TINY_SPACE, "seeds": (0, 1), "epochs": 4}


@pytest.fixture(scope="session")
def tiny_table(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "tiny"
    return build_table("digits", out, progress=False, chunk_size=3, **TINY)
