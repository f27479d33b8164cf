"""Atomic file writes: a reader (or a crash) never sees a half-written file.

Training backups, saved models and search checkpoints all go through ``atomic_write``: the data
goes to a temporary file in the same folder, is flushed to disk, then renamed over the target.
"""

from __future__ import annotations

import os
import tempfile

__all__ = ["atomic_write"]


def atomic_write(path, data: bytes | str) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8) in one rename."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    suffix = os.path.splitext(path)[1]
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data.encode("utf-8") if isinstance(data, str) else data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
