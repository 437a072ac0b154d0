"""xlstsr: super-resolution of Land Surface Temperature datacubes in xarray/Dask.

Importing the package registers the ``.lstsr`` accessor on :class:`xarray.DataArray` and
:class:`xarray.Dataset`. The layers (each imports only those below it):

1. kernels: :mod:`xlstsr.kernels` (numpy) and :mod:`xlstsr.nn` (torch models, weights, runtime);
2. the xarray layer: :func:`upscale`, :func:`coarsen`, :func:`evaluate`, :func:`scaling_stats`,
   in flat modules named as the user calls them, the method
   plugins (:mod:`xlstsr.methods`), the streaming engine (:mod:`xlstsr.engine`), readers and
   writers (:mod:`xlstsr.io`), data sets (:mod:`xlstsr.datasets`), training
   (:mod:`xlstsr.train`) and figures (:mod:`xlstsr.plot`);
3. the thin accessor (``da.lstsr``) and command line (``xlstsr``).

Submodules are imported on first access (``xlstsr.train``, ``xlstsr.plot``...), so that
``import xlstsr`` stays light. ``xlstsr.coregister`` and ``xlstsr.evaluate`` are the functions,
not their submodules: import the helpers of those (``from xlstsr.evaluate import
reference_mask``); ``apply_offset`` and ``misfit_surface`` are at the top level too.

Examples
--------
>>> import xlstsr
>>> scene = xlstsr.datasets.sample_scene()
>>> sr = scene["lst_1km"].lstsr.upscale(factor=4, method="bicubic")
>>> sr.sizes["y"] == 4 * scene["lst_1km"].sizes["y"]
True
>>> xlstsr.train.fit.__module__
'xlstsr.train.loop'
"""

from __future__ import annotations

import importlib
from typing import Any

from . import accessor as _accessor  # noqa: F401  (registers .lstsr)
from . import datasets, errors
from ._version import __version__
from .coregister import apply_offset, coregister, estimate_offset, misfit_surface
from .degrade import coarsen
from .engine import upscale_to_zarr
from .evaluate import evaluate
from .methods import available_methods, register_method
from .scaling import scaling_stats
from .upscale import upscale

#: submodules reachable as attributes of the package, imported on first access
SUBMODULES = (
    "calibration", "coregister", "correction", "datasets", "degrade", "demo", "engine", "errors", "evaluate", "grid", "guide",
    "io", "kernels", "methods", "metrics", "nn", "plot", "qc", "scaling", "train", "upscale",
    "validate",
)

__all__ = [
    "__version__",
    "apply_offset",
    "available_methods",
    "coarsen",
    "coregister",
    "datasets",
    "errors",
    "estimate_offset",
    "evaluate",
    "misfit_surface",
    "register_method",
    "scaling_stats",
    "upscale",
    "upscale_to_zarr",
]


#: submodules whose names are the entry-point functions imported above: ``xlstsr.evaluate`` is
#: the function, so ``xlstsr.evaluate.reference_mask`` fails; a helper of theirs asked of the
#: package is pointed to its import
SHADOWED = ("coregister", "evaluate")


def __getattr__(name: str) -> Any:
    if name in SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    home = [m for m in SHADOWED
            if name in getattr(importlib.import_module(f".{m}", __name__), "__all__", ())]
    hint = (f": it is in the submodule that the function xlstsr.{home[0]} hides; import it "
            f"with `from xlstsr.{home[0]} import {name}`" if home else "")
    raise AttributeError(f"module 'xlstsr' has no attribute {name!r}{hint}")


def __dir__() -> list[str]:
    return sorted({*globals(), *SUBMODULES})
