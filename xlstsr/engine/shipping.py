"""Shipping a method's heavy state (torch weights) to dask workers once.

A method that declares state (:meth:`~xlstsr.methods.base.UpscaleMethod.state_key`) gets one
graph key holding a :class:`Shipment` that every block task depends on: a distributed worker
fetches it once and the method caches what it loads, while the method object itself pickles to a
few bytes into each task. Under the threaded or synchronous schedulers nothing is serialised.

Examples
--------
>>> import pickle
>>> from xlstsr.methods import get_method
>>> ship_state(get_method("bicubic")) is None  # no state: nothing to ship
True
"""

from __future__ import annotations

from typing import Any

import dask

from ..methods.base import UpscaleMethod

__all__ = ["Shipment", "deliver", "ship_state"]


class Shipment:
    """A method's state on its way to workers: serialised only when pickled (never under the
    threaded or synchronous schedulers), handed to the method once per process by :func:`deliver`.
    """

    def __init__(self, key: str, method: UpscaleMethod | None = None, payload: bytes | None = None):
        self.key, self.method, self._payload = key, method, payload

    @property
    def travelled(self) -> bool:
        """True in a process that received the shipment pickled (a distributed worker)."""
        return self.method is None

    def payload(self) -> bytes:
        if self._payload is None:
            self._payload = self.method.dump_state()
        return self._payload

    def __reduce__(self) -> tuple:
        return (Shipment, (self.key, None, self.payload()))

    def __dask_tokenize__(self) -> tuple:
        return ("xlstsr-shipment", self.key)


def ship_state(method: UpscaleMethod) -> Any:
    """The dask key (a ``Delayed``) carrying ``method``'s state, or None if it declares none."""
    key = method.state_key()
    if key is None:
        return None
    return dask.delayed(Shipment(key, method), pure=True, name=f"xlstsr-shipment-{key}")


def deliver(method: UpscaleMethod, shipment: Shipment | None) -> None:
    """Give a received shipment to the method (a no-op in the process that built the graph)."""
    if shipment is not None and shipment.travelled:
        method.load_state(shipment.payload())
