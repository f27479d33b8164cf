"""The table: every (architecture, learning rate, seed) of a :class:`BenchSpace`, trained once.

On disk a table is two files side by side: ``NAME.npz`` (compressed arrays) and ``NAME.json``
(what was trained and how, versions, the machine, and a content hash). Arrays, for ``A``
architectures, ``L`` learning rates, ``S`` seeds and ``E`` epochs:

==============  ================  =====================================================
``train_loss``  float32 (A,L,S,E)  training loss after each epoch
``val_loss``    float64 (A,L,S,E)  validation loss (what early stopping compares, kept exact)
``val_error``   float32 (A,L,S,E)  validation error (1 - accuracy, or the MSE for regression)
``test_error``  float32 (A,L,S,E)  the same on the test split
``seconds``     float32 (A,L,S,E)  cumulative wall-clock training seconds at each epoch's end
``params``      int64 (A,)         weights and biases of each architecture
==============  ================  =====================================================

The hash covers the definition (dataset, space, seeds, epochs, recipe) and every array except
``seconds``: times are measurements, so a rebuild on the same machine has the same hash.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..._atomic import atomic_write
from ..._checks import positive_int
from .space import BenchSpace

__all__ = ["ARRAYS", "FORMAT_VERSION", "NASBenchMLP", "TableError", "content_hash"]

FORMAT_VERSION = 1
CURVES = ("train_loss", "val_loss", "val_error", "test_error", "seconds")
ARRAYS = (*CURVES, "params")
HASHED = ("train_loss", "val_loss", "val_error", "test_error", "params")
DATA_DIR = Path(__file__).with_name("data")
_DEFINITION_KEYS = ("dataset", "space", "seeds", "epochs")
DTYPES = {name: np.float64 if name == "val_loss" else np.float32 for name in CURVES}


class TableError(ValueError):
    """A table file is missing, damaged, or does not match its metadata (names the file)."""


def content_hash(definition: dict, arrays: dict) -> str:
    """SHA-256 of the canonical JSON ``definition`` and the bytes of the hashed arrays."""
    digest = hashlib.sha256(json.dumps(definition, sort_keys=True, separators=(",", ":")).encode())
    for name in HASHED:
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _definition(metadata: dict) -> dict:
    return {key: metadata[key] for key in _DEFINITION_KEYS}


@dataclass(frozen=True)
class Query:
    """One table look-up: errors, loss, size and cost of a genome after ``epoch`` epochs."""

    val_error: float
    test_error: float
    train_loss: float
    val_loss: float
    params: int
    seconds: float
    epoch: int
    seed: int

    def __getitem__(self, name):
        return getattr(self, name)


class NASBenchMLP:
    """A loaded tabular benchmark: exact look-ups of trained MLPs by genome.

    Parameters
    ----------
    metadata : dict
        The JSON metadata (see the module docstring).
    arrays : dict
        The arrays, checked against the metadata.
    path : str, optional
        Where it was loaded from (for messages).

    Examples
    --------
    >>> bench = NASBenchMLP.load("digits")
    >>> genome = bench.space.genome([(64, "relu")], bench.space.learning_rates[0])
    >>> 0 <= bench.query(genome, epochs=10, seed=0).test_error <= 1
    True
    """

    def __init__(self, metadata: dict, arrays: dict, path=None):
        self.path = None if path is None else str(path)
        self.metadata = metadata
        where = self.path or "table"
        try:
            self.space = BenchSpace.from_config(metadata["space"])
        except (KeyError, TypeError, ValueError) as error:
            raise TableError(
                f"{where}: metadata 'space' is not a valid BenchSpace: {error}"
            ) from None
        self.dataset = metadata["dataset"]
        self.seeds = tuple(int(seed) for seed in metadata["seeds"])
        self.epochs = int(metadata["epochs"])
        self.task = metadata["dataset"]["task"]
        self.input_dim = int(metadata["dataset"]["input_dim"])
        self.output_dim = int(metadata["dataset"]["output_dim"])
        shape = (
            len(self.space.architectures()),
            len(self.space.learning_rates),
            len(self.seeds),
            self.epochs,
        )
        for name in ARRAYS:
            if name not in arrays:
                raise TableError(
                    f"{where}: array {name!r} is missing; a table holds {ARRAYS}. "
                    f"Rebuild it with `nastoolkit bench build`."
                )
            expected = shape[:1] if name == "params" else shape
            if arrays[name].shape != expected:
                raise TableError(
                    f"{where}: array {name!r} has shape {arrays[name].shape}, but "
                    f"the metadata's space, seeds and epochs need {expected}."
                )
        self.arrays = {name: arrays[name] for name in ARRAYS}

    # -- files ---------------------------------------------------------------------------------
    @staticmethod
    def available() -> list[str]:
        """Names of the tables shipped with the package."""
        return sorted(path.stem for path in DATA_DIR.glob("*.json"))

    @classmethod
    def load(cls, name_or_path) -> NASBenchMLP:
        """Load a shipped table by name (``"digits"``, ``"regression"``, or a name from
        :meth:`available`) or any table by the path of its ``.json`` or ``.npz`` file.

        A shipped name without its own file falls back to the ``-small`` table of that dataset
        (see ``bench.metadata["space_name"]``). The content hash is checked: a damaged, edited or
        mismatched file is a :class:`TableError` naming it.
        """
        text = os.fspath(name_or_path)
        if os.sep in text or text.endswith((".json", ".npz")):
            base = Path(text).with_suffix("")
        else:
            base = DATA_DIR / text
            if not base.with_suffix(".json").exists():
                base = DATA_DIR / f"{text}-small"
            if not base.with_suffix(".json").exists():
                raise TableError(
                    f"no shipped table named {text!r}; shipped tables: "
                    f"{cls.available()}. Pass a path to load your own."
                )
        json_path, npz_path = base.with_suffix(".json"), base.with_suffix(".npz")
        for path in (json_path, npz_path):
            if not path.exists():
                raise TableError(
                    f"{path}: table file not found (a table is NAME.json beside NAME.npz)."
                )
        try:
            metadata = json.loads(json_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise TableError(f"{json_path}: not readable JSON metadata ({error}).") from None
        missing = [
            key
            for key in (*_DEFINITION_KEYS, "format_version", "content_hash")
            if not isinstance(metadata, dict) or key not in metadata
        ]
        if missing:
            raise TableError(f"{json_path}: metadata lacks {missing}.")
        if metadata["format_version"] != FORMAT_VERSION:
            raise TableError(
                f"{json_path}: format_version {metadata['format_version']!r}; this "
                f"nastoolkit reads version {FORMAT_VERSION}."
            )
        try:
            with np.load(npz_path, allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in stored.files}
        except Exception as error:  # noqa: BLE001  (zip, zlib and format errors alike)
            raise TableError(
                f"{npz_path}: not a readable npz archive ({type(error).__name__}: {error})."
            ) from None
        table = cls(metadata, arrays, path=npz_path)
        found = content_hash(_definition(metadata), table.arrays)
        if found != metadata["content_hash"]:
            raise TableError(
                f"{npz_path}: content hash {found[:12]}... does not match "
                f"{json_path.name}'s {metadata['content_hash'][:12]}...; the files "
                f"are damaged or from different builds. Rebuild the table."
            )
        return table

    def save(self, path) -> None:
        """Write ``PATH.npz`` and ``PATH.json`` atomically (the npz first)."""
        base = Path(os.fspath(path)).with_suffix("")
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **self.arrays)
        atomic_write(base.with_suffix(".npz"), buffer.getvalue())
        atomic_write(base.with_suffix(".json"), json.dumps(self.metadata, indent=1) + "\n")

    @property
    def content_hash(self) -> str:
        """The hash recorded in the metadata (checked on load)."""
        return self.metadata["content_hash"]

    # -- look-ups ------------------------------------------------------------------------------
    def index(self, genome) -> tuple[int, int]:
        """``(architecture, learning rate)`` indices of ``genome`` (GenomeError outside)."""
        return self.space.index_of(genome)

    def seed_index(self, seed) -> int:
        """Position of training ``seed`` in the table."""
        if seed not in self.seeds:
            raise ValueError(
                f"seed must be one of the table's training seeds {self.seeds}. "
                f"Received: seed={seed!r}"
            )
        return self.seeds.index(seed)

    def check_epochs(self, epochs) -> int:
        """``epochs`` checked against the table's 1..``self.epochs``."""
        epochs = positive_int("epochs", epochs, f"The table holds 1..{self.epochs} epochs.")
        if epochs > self.epochs:
            raise ValueError(
                f"epochs must be at most the table's {self.epochs}. Received: epochs={epochs}"
            )
        return epochs

    def query(self, genome, epochs=None, seed=0) -> Query:
        """The recorded numbers of ``genome`` trained with ``seed`` after ``epochs`` epochs
        (default: all). An exact look-up; nothing is trained or interpolated.

        Returns
        -------
        Query
            ``val_error``, ``test_error``, ``train_loss``, ``val_loss``, ``params``, ``seconds``
            (cumulative training time), ``epoch`` and ``seed``.
        """
        epochs = self.epochs if epochs is None else self.check_epochs(epochs)
        architecture, rate = self.index(genome)
        where = (architecture, rate, self.seed_index(seed), epochs - 1)
        values = {name: float(self.arrays[name][where]) for name in CURVES}
        return Query(
            values["val_error"],
            values["test_error"],
            values["train_loss"],
            values["val_loss"],
            int(self.arrays["params"][architecture]),
            values["seconds"],
            epochs,
            seed,
        )

    def curves(self, genome, seed=0) -> dict:
        """Every per-epoch array of ``genome`` at ``seed`` (length ``self.epochs``)."""
        architecture, rate = self.index(genome)
        position = self.seed_index(seed)
        return {name: self.arrays[name][architecture, rate, position].copy() for name in CURVES}

    def final_errors(self, epochs=None, seed=0, split="test") -> np.ndarray:
        """Error of every architecture at its better learning rate after ``epochs`` (default:
        all) with ``seed``: an array (architectures,) in table order."""
        epochs = self.epochs if epochs is None else self.check_epochs(epochs)
        if split not in ("val", "test"):
            raise ValueError(f"split must be 'val' or 'test'. Received: split={split!r}")
        errors = self.arrays[f"{split}_error"][:, :, self.seed_index(seed), epochs - 1]
        return errors.min(axis=1)

    def pareto_front(self, epochs=None, seed=0, split="test") -> np.ndarray:
        """Indices of the architectures no other beats on both error (as
        :meth:`final_errors`) and parameter count, by increasing size.

        >>> bench = NASBenchMLP.load("digits")
        >>> front = bench.pareto_front()
        >>> bool((np.diff(bench.arrays["params"][front]) > 0).all())
        True
        """
        errors = self.final_errors(epochs, seed, split)
        params = self.arrays["params"]
        front = []
        for index in np.lexsort((errors, params)):
            if not front or errors[index] < errors[front[-1]]:
                if front and params[index] == params[front[-1]]:
                    continue
                front.append(int(index))
        return np.asarray(front, int)

    def genomes(self) -> list[dict]:
        """Every genome of the table, in table order (architecture-major)."""
        return [
            self.space.genome(architecture, rate)
            for architecture in self.space.architectures()
            for rate in self.space.learning_rates
        ]

    def __len__(self) -> int:
        return self.space.size()

    def __repr__(self) -> str:
        return (
            f"NASBenchMLP({self.dataset['name']!r}, {self.metadata.get('space_name', '?')} "
            f"space: {len(self.space.architectures())} architectures x "
            f"{len(self.space.learning_rates)} learning rates x {len(self.seeds)} seeds, "
            f"{self.epochs} epochs, hash {self.content_hash[:12]})"
        )
