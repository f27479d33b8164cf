"""Run notebooks headlessly with nbclient, from a temporary copy so the repo stays clean."""

from __future__ import annotations

import shutil

import pytest
from notebook_helpers import NOTEBOOK_DIR


@pytest.fixture
def notebook_workdir(tmp_path):
    """A temporary copy of notebooks/ (executing may write checkpoints or data files)."""
    target = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOK_DIR, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return target
