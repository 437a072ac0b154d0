"""Readers and writers only: COGs, STAC items, MODIS HDF granules, Zarr stores, NetCDF.

:func:`open_path` opens any supported file lazily with its CRS (Zarr, NetCDF, GeoTIFF);
streaming a super-resolved cube into Zarr is the engine's :func:`xlstsr.upscale_to_zarr`.

Examples
--------
>>> import xarray as xr, xlstsr
>>> lst = xr.open_zarr("lst_1km.zarr")["LST_Day_1km"]                      # doctest: +SKIP
>>> xlstsr.upscale_to_zarr(lst, "lst_250m.zarr", factor=4, mode="resume")  # doctest: +SKIP
"""

from __future__ import annotations

from .cog import open_cog, to_cogs
from .formats import format_of, open_path
from .modis import open_modis
from .stac import open_stac
from .zarr import open_zarr

__all__ = ["format_of", "open_cog", "open_modis", "open_path", "open_stac", "open_zarr", "to_cogs"]
