"""Inputs and outputs: COGs, STAC items, Zarr stores.

Zarr inputs need nothing special: ``xr.open_zarr(store, chunks={})`` (or ``chunks={"time": 1}``)
gives a lazy, dask-backed Dataset; write its CRS with ``.rio.write_crs`` if the store lacks a
``spatial_ref`` variable, then pass it to :func:`xlstsr.upscale` or :func:`upscale_to_zarr`.

Examples
--------
>>> import xarray as xr, xlstsr
>>> lst = xr.open_zarr("lst_1km.zarr")["LST_Day_1km"]                      # doctest: +SKIP
>>> xlstsr.upscale_to_zarr(lst, "lst_250m.zarr", factor=4, mode="resume")  # doctest: +SKIP
"""

from __future__ import annotations

from .cog import open_cog, to_cogs
from .modis import open_modis
from .stac import open_stac
from .zarr import upscale_to_zarr

__all__ = ["open_cog", "open_modis", "open_stac", "to_cogs", "upscale_to_zarr"]
