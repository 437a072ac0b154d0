"""xlstsr: super-resolution of Land Surface Temperature datacubes in xarray/Dask.

Importing the package registers the ``.lstsr`` accessor on :class:`xarray.DataArray` and
:class:`xarray.Dataset`.

Examples
--------
>>> import xlstsr
>>> scene = xlstsr.datasets.sample_scene()
>>> sr = scene["lst_1km"].lstsr.upscale(factor=4, method="bicubic")
>>> sr.sizes["y"] == 4 * scene["lst_1km"].sizes["y"]
True
"""

from __future__ import annotations

from . import accessor as _accessor  # noqa: F401  (registers .lstsr)
from . import datasets, errors
from ._version import __version__
from .degrade import coarsen
from .evaluate import evaluate
from .io import upscale_to_zarr
from .methods import available_methods, register_method
from .scaling import scaling_stats
from .upscale import upscale

__all__ = [
    "__version__",
    "available_methods",
    "coarsen",
    "datasets",
    "errors",
    "evaluate",
    "register_method",
    "scaling_stats",
    "upscale",
    "upscale_to_zarr",
]
