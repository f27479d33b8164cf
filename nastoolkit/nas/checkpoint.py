"""JSON checkpoints of a search, written atomically, and array <-> JSON encoding.

Never pickle: a checkpoint is readable, diffable and safe to load from anywhere. A write goes to a
temporary file ``.<name>.<random>.tmp`` in the same folder, is flushed to disk, then
``os.replace``-d over the old one, so a process killed at any moment leaves either the previous
checkpoint or the new one, never half; the next successful write removes temporary files a killed
write left behind. A write that fails (disk full, no permission) is a :class:`CheckpointError`
naming the path, and :func:`check_checkpoint_target` finds a missing or read-only folder, or
another run's checkpoint, before a search trains anything.
"""

from __future__ import annotations

import base64
import glob
import hashlib
import io
import json
import os
import tempfile

import numpy as np

__all__ = [
    "FORMAT",
    "VERSION",
    "CheckpointError",
    "array_fingerprint",
    "check_checkpoint_target",
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
    """A checkpoint is missing, corrupt, of another format, or does not match the search.

    Examples
    --------
    >>> try:
    ...     load_checkpoint("no_such_checkpoint.json")
    ... except CheckpointError as error:
    ...     print(type(error).__name__)
    CheckpointError
    """


def _temporary_prefix(path: str) -> str:
    """Temporary files of ``path``'s writes start with this (hidden, named after the target so
    a cleanup never touches another file's write in progress)."""
    return f".{os.path.basename(path)}."


def check_checkpoint_target(path, overwrite: bool = False, owner: str = "the search") -> str:
    """``path`` as a string once it is known that a checkpoint can be written there: its folder
    exists and is writable, it is not a folder, and it does not hold a file already (unless
    ``overwrite``). Raises :class:`CheckpointError` naming the path and the way on.

    Parameters
    ----------
    path : str or os.PathLike
        Where the checkpoint will go.
    overwrite : bool, default False
        Allow replacing an existing file.
    owner : str, default "the search"
        Who writes it, for the error message.

    Returns
    -------
    str

    Examples
    --------
    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> check_checkpoint_target(os.path.join(folder, "run.json")).endswith("run.json")
    True
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"checkpoint must be a file path (str or pathlib.Path) or None. "
            f"Received: checkpoint={path!r}"
        )
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CheckpointError(
            f"cannot write checkpoint {path!r}: its folder {folder!r} does not "
            f"exist. Create it (os.makedirs) or choose another path."
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CheckpointError(
            f"cannot write checkpoint {path!r}: no permission to write in "
            f"{folder!r}. Choose a writable folder."
        )
    if os.path.isdir(path):
        raise CheckpointError(
            f"checkpoint {path!r} is a folder; give a file path such as "
            f"{os.path.join(path, 'search.json')!r}."
        )
    if os.path.exists(path) and not overwrite:
        raise CheckpointError(
            f"checkpoint {path!r} already holds {_describe(path)}; {owner} will not overwrite "
            f"it. To continue that run: nastoolkit.nas.load_search({path!r}) (or "
            f"<Strategy>.resume({path!r})); to replace it: pass overwrite=True; or choose "
            f"another checkpoint path."
        )
    return path


def _describe(path: str) -> str:
    """A few words on what a file holds, for the collision message."""
    try:
        with open(path, encoding="utf-8") as stream:
            document = json.load(stream)
        state = document["state"]
        return (
            f"a {document['strategy']} run (generation {state['generation']} of "
            f"{document['config']['generations']}, {len(state['evaluations'])} candidates)"
        )
    except Exception:  # noqa: BLE001  (any unreadable file is described the same way)
        return "a file of another run"


def save_checkpoint(path, payload: dict) -> None:
    """Write ``payload`` (plus format and version) to ``path`` atomically; a write that fails is
    a :class:`CheckpointError` naming the path (the previous checkpoint stays).

    Parameters
    ----------
    path : str or os.PathLike
        The JSON file to write.
    payload : dict
        JSON-ready; must hold ``strategy``, ``config``, ``evaluator`` and ``state``.

    Returns
    -------
    None

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "run.json")
    >>> save_checkpoint(path, {"strategy": "random", "config": {}, "evaluator": {}, "state": {}})
    >>> os.path.exists(path)
    True
    """
    path = os.fspath(path)
    document = {"format": FORMAT, "version": VERSION, **payload}
    text = json.dumps(document, separators=(",", ":"), allow_nan=False)
    folder = os.path.dirname(os.path.abspath(path))
    prefix = _temporary_prefix(path)
    temporary = None
    try:
        handle, temporary = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=folder)
        with os.fdopen(handle, "wb") as stream:
            stream.write(text.encode("utf-8"))
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
        temporary = None
    except OSError as error:
        raise CheckpointError(
            f"could not write checkpoint {path!r}: {error.strerror or error}. "
            f"Free disk space or fix the folder's permissions; the previous "
            f"checkpoint (if any) is unchanged."
        ) from error
    finally:
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)
    # Leftovers of writes killed before their rename (kill -9, power loss).
    for leftover in glob.glob(os.path.join(glob.escape(folder), glob.escape(prefix) + "*.tmp")):
        try:
            os.unlink(leftover)
        except OSError:
            pass


def write_arrays(path, tag, arrays: dict) -> str:
    """Write ``arrays`` atomically to ``<path>.<tag>.npz`` beside the JSON checkpoint ``path``
    and return that file's name, for the checkpoint to record. Written before the JSON that
    names it, so a kill between the two leaves the previous pair intact. Never pickle.

    Parameters
    ----------
    path : str or path-like
        The JSON checkpoint the arrays belong to.
    tag : int or str
        What tells this save's arrays apart (a generation or epoch number).
    arrays : dict of str to ndarray
        The arrays to keep.

    Returns
    -------
    str
        The npz's file name (no folder).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "search.json")
    >>> write_arrays(path, 0, {"w": np.zeros(3)})
    'search.json.0.npz'
    """
    from .._atomic import atomic_write

    arrays_path = f"{os.fspath(path)}.{tag}.npz"
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write(arrays_path, buffer.getvalue())
    return os.path.basename(arrays_path)


def remove_stale_arrays(path, keep: str) -> None:
    """Remove the npz files of earlier saves beside ``path`` once the checkpoint names ``keep``.

    Parameters
    ----------
    path : str or path-like
        The JSON checkpoint.
    keep : str
        The file name :func:`write_arrays` returned for the checkpoint just written.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "search.json")
    >>> old, new = (write_arrays(path, tag, {"w": np.zeros(1)}) for tag in (0, 1))
    >>> remove_stale_arrays(path, new)
    >>> sorted(os.listdir(os.path.dirname(path)))
    ['search.json.1.npz']
    """
    path = os.fspath(path)
    for old in glob.glob(glob.escape(path) + ".*.npz"):
        if os.path.basename(old) != keep:
            try:
                os.unlink(old)
            except OSError:
                pass


def load_checkpoint(path) -> dict:
    """Read and check a checkpoint written by :func:`save_checkpoint`.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by ``save_checkpoint``.

    Returns
    -------
    dict
        The payload with its format and version.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "run.json")
    >>> save_checkpoint(path, {"strategy": "random", "config": {}, "evaluator": {}, "state": {}})
    >>> load_checkpoint(path)["strategy"]
    'random'
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(
            f"no checkpoint at {path!r}. Check the path, or start a new search "
            f"with checkpoint={path!r} instead of resuming."
        )
    try:
        with open(path, encoding="utf-8") as stream:
            document = json.load(stream)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(
            f"checkpoint {path!r} is corrupt (not valid JSON: {error}). It was "
            f"not written by nastoolkit's atomic writer or was edited; start a "
            f"new search."
        ) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        found = document.get("format") if isinstance(document, dict) else type(document).__name__
        raise CheckpointError(
            f"{path!r} is not a nastoolkit search checkpoint: expected "
            f"format={FORMAT!r}, found {found!r}."
        )
    if document.get("version") == 1:
        document = _upgrade_version_1(document)
    if document.get("version") != VERSION:
        raise CheckpointError(
            f"checkpoint {path!r} has version {document.get('version')!r}; this "
            f"nastoolkit reads version {VERSION}. Resume it with the nastoolkit "
            f"that wrote it."
        )
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
            {
                **{k: v for k, v in record.items() if k not in outcome_fields},
                "outcome": {k: record[k] for k in outcome_fields if k in record},
            }
            if isinstance(record, dict) and "outcome" not in record
            else record
            for record in records
        ]
    return {**document, "version": VERSION}


def encode_array(array) -> dict:
    """An array as JSON: dtype, shape and the raw little-endian bytes in base64 (exact).

    Parameters
    ----------
    array : array_like
        Any shape and numeric dtype.

    Returns
    -------
    dict
        ``dtype``, ``shape`` and ``base64``.

    Examples
    --------
    >>> encode_array(np.arange(3, dtype="int32"))
    {'dtype': '<i4', 'shape': [3], 'base64': 'AAAAAAEAAAACAAAA'}
    """
    array = np.ascontiguousarray(array)
    little = array.astype(array.dtype.newbyteorder("<"), copy=False)
    return {
        "dtype": little.dtype.str,
        "shape": list(array.shape),
        "base64": base64.b64encode(little.tobytes()).decode("ascii"),
    }


def decode_array(encoded: dict) -> np.ndarray:
    """Inverse of :func:`encode_array`.

    Parameters
    ----------
    encoded : dict
        An ``encode_array`` result.

    Returns
    -------
    numpy.ndarray
        The original array, bit for bit.

    Examples
    --------
    >>> decode_array(encode_array(np.arange(3, dtype="int32")))
    array([0, 1, 2], dtype=int32)
    """
    raw = base64.b64decode(encoded["base64"])
    return np.frombuffer(raw, dtype=np.dtype(encoded["dtype"])).reshape(encoded["shape"]).copy()


def array_fingerprint(*arrays) -> str:
    """SHA-256 over the dtype, shape and bytes of each array: equal data, equal fingerprint.

    Parameters
    ----------
    *arrays : array_like
        The arrays, in order.

    Returns
    -------
    str
        64 hex digits.

    Examples
    --------
    >>> array_fingerprint(np.zeros(2)) == array_fingerprint(np.zeros(2))
    True
    >>> array_fingerprint(np.zeros(2)) == array_fingerprint(np.zeros(3))
    False
    """
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def encode_rng_state(state: tuple) -> list:
    """``random.Random.getstate()`` as JSON lists.

    Parameters
    ----------
    state : tuple
        A ``random.Random().getstate()`` result.

    Returns
    -------
    list

    Examples
    --------
    >>> import json, random
    >>> rng = random.Random(0)
    >>> text = json.dumps(encode_rng_state(rng.getstate()))
    """
    version, internal, gauss_next = state
    return [version, list(internal), gauss_next]


def decode_rng_state(encoded: list) -> tuple:
    """Inverse of :func:`encode_rng_state`, ready for ``random.Random.setstate``.

    Parameters
    ----------
    encoded : list
        An ``encode_rng_state`` result (after a JSON round-trip).

    Returns
    -------
    tuple
        For ``random.Random.setstate``.

    Examples
    --------
    >>> import json, random
    >>> rng, copy = random.Random(0), random.Random()
    >>> copy.setstate(decode_rng_state(json.loads(json.dumps(encode_rng_state(rng.getstate())))))
    >>> copy.random() == rng.random()
    True
    """
    version, internal, gauss_next = encoded
    return (version, tuple(internal), gauss_next)
