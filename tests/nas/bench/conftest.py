"""A tiny table built once per test session (8 configurations x 2 seeds x 4 epochs, ~2 s), so
exact-reproduction tests always compare numbers trained on this very machine."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_helpers import TINY

from nastoolkit.nas.bench import build_table


@pytest.fixture(scope="session")
def tiny_table(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "tiny"
    return build_table("digits", out, progress=False, chunk_size=3, **TINY)
