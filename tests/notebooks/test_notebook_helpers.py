"""The sliced kernel-channel wait: every wait is short, no message is lost, timeouts still hold."""

from __future__ import annotations

import asyncio
from queue import Empty

import pytest
from notebook_helpers import POLL_SLICE_S, poll_in_slices


class _Channel:
    """A channel whose message is ready on the ``ready_on``-th wait (earlier waits time out)."""

    def __init__(self, ready_on: int | None):
        self.ready_on = ready_on
        self.timeouts = []

    async def get_msg(self, timeout=None):
        self.timeouts.append(timeout)
        if self.ready_on is not None and len(self.timeouts) >= self.ready_on:
            return {"msg_type": "execute_reply"}
        raise Empty


def test_waits_in_slices_and_returns_the_message():
    channel = _Channel(ready_on=4)
    poll_in_slices(channel)
    message = asyncio.run(channel.get_msg(timeout=90))
    assert message == {"msg_type": "execute_reply"}
    assert len(channel.timeouts) == 4
    assert all(0 < timeout <= POLL_SLICE_S for timeout in channel.timeouts)


def test_no_timeout_means_slices_until_a_message():
    channel = _Channel(ready_on=3)
    poll_in_slices(channel)
    assert asyncio.run(channel.get_msg())["msg_type"] == "execute_reply"
    assert channel.timeouts == [POLL_SLICE_S] * 3


def test_the_total_timeout_still_raises_empty():
    channel = _Channel(ready_on=None)
    poll_in_slices(channel, slice_s=0.01)
    with pytest.raises(Empty):
        asyncio.run(channel.get_msg(timeout=0.05))
    assert len(channel.timeouts) >= 1 and max(channel.timeouts) <= 0.01
    zero = _Channel(ready_on=None)
    poll_in_slices(zero)
    with pytest.raises(Empty):
        asyncio.run(zero.get_msg(timeout=0))
    assert zero.timeouts == [0.0]
