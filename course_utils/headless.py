"""Headless notebook runs (the static site, ``benchmarks/course.py``, ``benchmarks/pair_memory.py``):
nbclient's ``NotebookClient`` with a shell channel that cannot miss a cell's reply.

Why (jupyter/nbclient#312, seen here on notebook 10's slider): nbclient stands in for the front end
of the ``Output`` widget that ``ipywidgets.interactive`` draws into, so when the slider's figure
arrives on IOPub it sends a ``comm_msg`` on the *shell* socket while it is waiting, on that same
socket, for the cell's ``execute_reply``. jupyter_client's ``Session.send`` makes that send on a
plain shadow of the asyncio socket (``zmq.Socket.shadow(stream.underlying)``), behind pyzmq's
asyncio wrapper. libzmq's send processes the socket's pending commands, and with them the
edge-triggered wake-up (ZMQ_FD) of a reply that has just arrived; pyzmq's wrapper re-checks
``EVENTS`` after its own sends, but this send bypasses it. The pending wait is then never woken:
the reply is read only when the wait times out (the cell's timeout) or never (no timeout).

:class:`ShellChannel` closes the gap twice over, keeping nbclient's Output-widget stand-in (the
site's ``freeze_widgets`` reads the widget state it records):

* after every send it reads ``EVENTS`` through the asyncio socket, which schedules the wake-up
  the send swallowed (pyzmq does the same after its own sends);
* it waits for a reply in polls of at most :data:`SLICE_S` seconds up to the caller's timeout: a
  fresh poll checks ``EVENTS`` at once, so a reply whose wake-up something else swallowed is still
  read within one slice, and the caller's timeout is kept.
"""
from __future__ import annotations

import time
from queue import Empty
from typing import Any

import zmq
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from nbclient import NotebookClient
from traitlets import Type

__all__ = ["SLICE_S", "ShellChannel", "KernelClient", "HeadlessClient"]

#: Longest single poll of the shell socket, in seconds (a reply is read at most this late).
SLICE_S = 1.0


class ShellChannel(AsyncZMQSocketChannel):
    """The shell channel of a headless run: sends re-arm the socket's wake-up, waits are sliced."""

    def send(self, msg: dict[str, Any]) -> None:
        """Send ``msg``, then read ``EVENTS`` through the asyncio socket so that a reply whose
        wake-up this send consumed is handled on the next loop pass."""
        super().send(msg)
        self.socket.get(zmq.EVENTS)

    async def get_msg(self, timeout: float | None = None) -> dict[str, Any]:
        """The next shell message, waiting at most ``timeout`` seconds (``None``: no limit) in polls
        of at most :data:`SLICE_S` s; raises ``queue.Empty`` when the time is up, as jupyter_client does."""
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        while True:
            left = SLICE_S if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return await super().get_msg(timeout=min(SLICE_S, left))
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise


class KernelClient(AsyncKernelClient):
    """jupyter_client's asyncio kernel client with :class:`ShellChannel` as its shell channel."""

    shell_channel_class = Type(ShellChannel)


class HeadlessClient(NotebookClient):
    """``nbclient.NotebookClient`` whose kernels are reached through :class:`KernelClient`; use it as
    ``HeadlessClient(nb, timeout=…, kernel_name=…, resources=…).execute()``."""

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        km.client_class = f"{KernelClient.__module__}.{KernelClient.__qualname__}"
        return km
