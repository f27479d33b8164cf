"""Helpers shared by the notebook tests: where the notebooks are, a notebook client that does
not stall, and how to find errors."""

from __future__ import annotations

import time
from pathlib import Path
from queue import Empty

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"

# How long one wait on a kernel channel may block before pyzmq is asked again.
POLL_SLICE_S = 0.25


def poll_in_slices(channel, slice_s: float = POLL_SLICE_S) -> None:
    """Make ``channel.get_msg(timeout)`` wait in short slices up to the same total timeout.

    pyzmq's asyncio poll can miss the wake-up of a message that has already arrived (its socket
    signals readiness by an edge that another operation consumed); the poll then sleeps until
    its timeout, where a final non-blocking poll finds the message and returns it as if nothing
    happened. nbclient waits for each execute reply with the cell timeout (90 s here), so a
    finished cell sometimes sat idle for 90 s: notebook 04 once took 97 s of which its cells
    were 6 s. Waiting in slices bounds such a stall to ``slice_s`` and loses no message, since
    a slice that times out still returns a message that is ready.
    """
    get_msg = channel.get_msg

    async def get_msg_in_slices(timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = slice_s if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return await get_msg(timeout=min(slice_s, left))
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    channel.get_msg = get_msg_in_slices


def notebook_client(notebook, workdir: Path, timeout: int, **options):
    """An ``nbclient.NotebookClient`` for ``notebook`` run in ``workdir`` whose shell and IOPub
    waits go in slices (``poll_in_slices``); ``options`` go to the client."""
    import nbclient

    class SlicedPollClient(nbclient.NotebookClient):
        async def async_start_new_kernel_client(self):
            client = await super().async_start_new_kernel_client()
            for channel in (client.shell_channel, client.iopub_channel):
                poll_in_slices(channel)
            return client

    return SlicedPollClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
        **options,
    )


def error_outputs(notebook, widget_state: dict) -> list[str]:
    """Every error output: in the cells and inside Output widgets (callbacks that raised).

    nbclient does not fail when a widget callback raises; the traceback only lands in the
    Output widget's state, so both places are searched.
    """
    found = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append(f"cell {index}: {output.get('ename')}: {output.get('evalue')}")
    for model_id, model in (widget_state or {}).items():
        state = model.get("state", model)
        for output in state.get("outputs", []) or []:
            if isinstance(output, dict) and output.get("output_type") == "error":
                found.append(
                    f"Output widget {model_id}: {output.get('ename')}: {output.get('evalue')}"
                )
    return found
