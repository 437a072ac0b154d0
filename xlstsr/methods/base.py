"""The method protocol and the registry of upscaling methods."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import numpy as np

__all__ = ["UpscaleMethod", "available_methods", "get_method", "register_method"]

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
    needs_guide : bool
        True if the method requires a fine guide (NDVI...).
    spatially_local : bool
        True if an output pixel depends only on inputs within :meth:`halo` coarse pixels; False
        for methods fitted on the whole scene (a regression), which the engine runs per time step
        on whole images.
    """

    name: ClassVar[str] = ""
    needs_guide: ClassVar[bool] = False
    spatially_local: ClassVar[bool] = True

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


def register_method(name: str) -> Callable[[M], M]:
    """Class decorator adding an :class:`UpscaleMethod` subclass to the registry under ``name``."""

    def deco(cls: M) -> M:
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


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
