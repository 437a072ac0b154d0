"""The method contract and the registry of upscaling methods.

A method is a class with a block-level numpy kernel (:meth:`UpscaleMethod.upscale_block`); the
engine (:mod:`xlstsr.engine`) fills gaps before calling it, re-masks after, and streams it over
dask chunks with a halo of :meth:`UpscaleMethod.halo` coarse pixels. Options are constructor
keyword arguments (``upscale(..., method_options={...})``).

A method with heavy state (torch weights) declares it through :meth:`UpscaleMethod.state_key`,
:meth:`~UpscaleMethod.dump_state` and :meth:`~UpscaleMethod.load_state`: the engine then puts the
state into the dask graph once (one key every block task depends on), a distributed worker
receives it once, and the method object itself pickles to a few bytes.

Examples
--------
>>> import numpy as np
>>> @register_method("double_nearest")
... class DoubleNearest(UpscaleMethod):
...     def halo(self, factor):
...         return 0
...     def upscale_block(self, lst, valid, guide, factor):
...         return lst.repeat(factor, -2).repeat(factor, -1)
>>> get_method("double_nearest").upscale_block(np.ones((1, 2, 2)), None, None, 2).shape
(1, 4, 4)
>>> unregister_method("double_nearest")
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import numpy as np

__all__ = [
    "UpscaleMethod",
    "available_methods",
    "get_method",
    "register_method",
    "unregister_method",
]

_REGISTRY: dict[str, type[UpscaleMethod]] = {}
M = TypeVar("M", bound=type["UpscaleMethod"])


class UpscaleMethod:
    """Base class of upscaling methods.

    Subclasses implement :meth:`upscale_block` on numpy arrays and declare how much context
    they need. Options are constructor keyword arguments.

    Attributes
    ----------
    name : str
        Registry name (``upscale(method=name)``).
    guided : bool
        Class default of :attr:`needs_guide`.
    spatially_local : bool
        True if an output pixel depends only on inputs within :meth:`halo` coarse pixels; False
        for methods fitted on the whole scene (a regression), which the engine runs per time step
        on whole images.
    """

    name: ClassVar[str] = ""
    guided: ClassVar[bool] = False
    spatially_local: ClassVar[bool] = True

    @property
    def needs_guide(self) -> bool:
        """True if this configuration requires a fine guide (NDVI...)."""
        return self.guided

    def halo(self, factor: int) -> int:
        """Receptive field in coarse pixels: an output pixel depends on inputs this far away."""
        return 2

    def upscale_block(
        self,
        lst: np.ndarray,
        valid: np.ndarray,
        guide: np.ndarray | None,
        factor: int,
    ) -> np.ndarray:
        """Upscale a gap-filled block.

        Parameters
        ----------
        lst : ndarray, (n, y, x)
            Coarse LST in Kelvin with gaps filled (by :func:`xlstsr.kernels.interp.fill_gaps`).
        valid : ndarray of bool, (n, y, x)
            Where ``lst`` was observed (False on filled gaps): fit models on these only.
        guide : ndarray, (n, c, y * factor, x * factor), or None
            Fine guide bands; may hold NaN.
        factor : int
            Upscaling factor.

        Returns
        -------
        ndarray, (n, y * factor, x * factor)
            Fine LST in Kelvin. The engine re-masks gaps afterwards.
        """
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """Options that identify this configuration (written into provenance attributes)."""
        return {}

    # -- heavy state shipped once to workers (torch weights); none by default ------------------
    def state_key(self) -> str | None:
        """Identity of the heavy state (e.g. a weights hash), or None when there is none."""
        return None

    def dump_state(self) -> bytes:
        """The heavy state as bytes; called only when the graph leaves this process."""
        raise NotImplementedError(f"method {self.name!r} declares no state to ship")

    def load_state(self, payload: bytes) -> None:
        """Install state received from :meth:`dump_state` (in a worker process; cache it)."""
        raise NotImplementedError(f"method {self.name!r} declares no state to receive")


def register_method(name: str) -> Callable[[M], M]:
    """Class decorator adding an :class:`UpscaleMethod` subclass to the registry under ``name``."""

    def deco(cls: M) -> M:
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def unregister_method(name: str) -> None:
    """Remove ``name`` from the registry (methods registered for a session or a test)."""
    if name not in _REGISTRY:
        raise ValueError(f"no method {name!r} is registered; registered: {available_methods()}")
    del _REGISTRY[name]


def available_methods() -> list[str]:
    """Names accepted by ``upscale(method=...)``."""
    return sorted(_REGISTRY)


def get_method(method: str | UpscaleMethod, **options: Any) -> UpscaleMethod:
    """Instantiate a registered method by name (or pass an instance through)."""
    if isinstance(method, UpscaleMethod):
        if options:
            raise TypeError("options cannot be given together with a method instance")
        return method
    if method not in _REGISTRY:
        raise ValueError(
            f"unknown method {method!r}; available: {available_methods()}. "
            "Register new ones with `xlstsr.register_method`."
        )
    try:
        return _REGISTRY[method](**options)
    except TypeError as err:
        raise TypeError(f"bad options for method {method!r}: {err}") from err
