"""Neural networks for LST super-resolution: architectures, torch operators, losses, checkpoints
and the bundled weights.

One module per concept: :mod:`~xlstsr.nn.base` (the model protocol and the shared base),
:mod:`~xlstsr.nn.rescnn` and :mod:`~xlstsr.nn.resunet` (the architectures),
:mod:`~xlstsr.nn.registry` (architectures by name), :mod:`~xlstsr.nn.ops` (torch counterparts of
the numpy kernels), :mod:`~xlstsr.nn.losses`, :mod:`~xlstsr.nn.checkpoint` (the file format) and
:mod:`~xlstsr.nn.weights` (the bundled weights by name).

The names below are imported on first use, so that ``import xlstsr`` and the torch-free
submodules (``xlstsr.nn.weights`` paths) do not import torch.

Examples
--------
>>> import torch
>>> from xlstsr.nn import ResCNN
>>> ResCNN(4)(torch.full((1, 1, 16, 16), 300.0)).shape
torch.Size([1, 1, 64, 64])
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .checkpoint import load_checkpoint, load_model, save_model
    from .ops import cubic_upsample_torch, radiometric_mean_torch
    from .registry import ARCHITECTURES, build_model
    from .rescnn import GuidedResCNN, ResCNN
    from .resunet import GuidedUNet, MRUNet
    from .weights import BUNDLED, list_weights, load_weights, weights_path

#: public name -> submodule defining it
_HOMES = {
    "ARCHITECTURES": "registry",
    "build_model": "registry",
    "ResCNN": "rescnn",
    "GuidedResCNN": "rescnn",
    "MRUNet": "resunet",
    "GuidedUNet": "resunet",
    "load_checkpoint": "checkpoint",
    "load_model": "checkpoint",
    "save_model": "checkpoint",
    "cubic_upsample_torch": "ops",
    "radiometric_mean_torch": "ops",
    "BUNDLED": "weights",
    "list_weights": "weights",
    "load_weights": "weights",
    "weights_path": "weights",
}

__all__ = [
    "ARCHITECTURES",
    "BUNDLED",
    "GuidedResCNN",
    "GuidedUNet",
    "MRUNet",
    "ResCNN",
    "build_model",
    "cubic_upsample_torch",
    "list_weights",
    "load_checkpoint",
    "load_model",
    "load_weights",
    "radiometric_mean_torch",
    "save_model",
    "weights_path",
]


def _submodules() -> frozenset[str]:
    """The names of this package's submodules (``weights``, ``adapt``, ``checkpoint``...): the
    README and the docstrings name them as ``xlstsr.nn.weights.list_weights()``, which must work
    after a plain ``import xlstsr``; they are imported on first use (none imports torch before)."""
    return frozenset(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        value = getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
        globals()[name] = value  # later lookups skip this hook
        return value
    if name in _submodules():  # importing it binds it here: later lookups skip this hook
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES) | _submodules())
