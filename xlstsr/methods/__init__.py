"""Upscaling methods, registered by name; :func:`xlstsr.upscale` is their single entry point.

A method is a class with a block-level numpy kernel (see :class:`UpscaleMethod`). The engine
fills cloud gaps before calling it, re-masks after, and streams it over dask chunks with halos.

Examples
--------
>>> from xlstsr.methods import available_methods
>>> "bicubic" in available_methods()
True
"""

from __future__ import annotations

from .base import (
    UpscaleMethod,
    available_methods,
    get_method,
    register_method,
    unregister_method,
)
from .torch_model import TorchModelMethod

# importing the modules registers their methods
from . import bicubic  # noqa: F401  isort: skip
from . import tsharp  # noqa: F401  isort: skip
from . import dms  # noqa: F401  isort: skip
from . import deep  # noqa: F401  isort: skip

__all__ = ["TorchModelMethod", "UpscaleMethod", "available_methods", "get_method", "register_method",
           "unregister_method"]
