"""JSON checkpoints of a search, written atomically, and array <-> JSON encoding.

Never pickle: a checkpoint is readable, diffable and safe to load from anywhere. A write goes to a
temporary file in the same folder, is flushed to disk, then ``os.replace``-d over the old one, so a
process killed at any moment leaves either the previous checkpoint or the new one, never half.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os

import numpy as np

from .._atomic import atomic_write

__all__ = [
    "FORMAT",
    "VERSION",
    "CheckpointError",
    "array_fingerprint",
    "decode_array",
    "decode_rng_state",
    "encode_array",
    "encode_rng_state",
    "load_checkpoint",
    "save_checkpoint",
]

FORMAT = "nastoolkit.nas.checkpoint"
# 2: evaluations are Candidate records holding an Outcome; 1 (flat dicts) is upgraded on read.
VERSION = 2
REQUIRED = ("format", "version", "strategy", "config", "evaluator", "state")


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt, of another format, or does not match the search."""


def save_checkpoint(path, payload: dict) -> None:
    """Write ``payload`` (plus format and version) to ``path`` atomically."""
    path = os.fspath(path)
    document = {"format": FORMAT, "version": VERSION, **payload}
    text = json.dumps(document, separators=(",", ":"), allow_nan=False)
    atomic_write(path, text)


def load_checkpoint(path) -> dict:
    """Read and check a checkpoint written by :func:`save_checkpoint`."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(f"no checkpoint at {path!r}. Check the path, or start a new search "
                              f"with checkpoint={path!r} instead of resuming.")
    try:
        with open(path, encoding="utf-8") as stream:
            document = json.load(stream)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"checkpoint {path!r} is corrupt (not valid JSON: {error}). It was "
                              f"not written by nastoolkit's atomic writer or was edited; start a "
                              f"new search.") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        found = document.get("format") if isinstance(document, dict) else type(document).__name__
        raise CheckpointError(f"{path!r} is not a nastoolkit search checkpoint: expected "
                              f"format={FORMAT!r}, found {found!r}.")
    if document.get("version") == 1:
        document = _upgrade_version_1(document)
    if document.get("version") != VERSION:
        raise CheckpointError(f"checkpoint {path!r} has version {document.get('version')!r}; this "
                              f"nastoolkit reads version {VERSION}. Resume it with the nastoolkit "
                              f"that wrote it.")
    missing = [key for key in REQUIRED if key not in document]
    if missing:
        raise CheckpointError(f"checkpoint {path!r} is incomplete: missing {missing}.")
    return document


def _upgrade_version_1(document: dict) -> dict:
    """Version 1 kept each evaluation flat (status, score, reason, metrics beside the genome);
    version 2 nests them as the record's ``outcome``."""
    state = document.get("state")
    records = state.get("evaluations") if isinstance(state, dict) else None
    if isinstance(records, list):
        outcome_fields = ("status", "score", "reason", "metrics")
        state["evaluations"] = [
            {**{k: v for k, v in record.items() if k not in outcome_fields},
             "outcome": {k: record[k] for k in outcome_fields if k in record}}
            if isinstance(record, dict) and "outcome" not in record else record
            for record in records]
    return {**document, "version": VERSION}


def encode_array(array) -> dict:
    """An array as JSON: dtype, shape and the raw little-endian bytes in base64 (exact)."""
    array = np.ascontiguousarray(array)
    little = array.astype(array.dtype.newbyteorder("<"), copy=False)
    return {"dtype": little.dtype.str, "shape": list(array.shape),
            "base64": base64.b64encode(little.tobytes()).decode("ascii")}


def decode_array(encoded: dict) -> np.ndarray:
    """Inverse of :func:`encode_array`."""
    raw = base64.b64decode(encoded["base64"])
    return np.frombuffer(raw, dtype=np.dtype(encoded["dtype"])).reshape(encoded["shape"]).copy()


def array_fingerprint(*arrays) -> str:
    """SHA-256 over the dtype, shape and bytes of each array: equal data, equal fingerprint."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def encode_rng_state(state: tuple) -> list:
    """``random.Random.getstate()`` as JSON lists."""
    version, internal, gauss_next = state
    return [version, list(internal), gauss_next]


def decode_rng_state(encoded: list) -> tuple:
    """Inverse of :func:`encode_rng_state`, ready for ``random.Random.setstate``."""
    version, internal, gauss_next = encoded
    return (version, tuple(internal), gauss_next)
