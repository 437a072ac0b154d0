"""Readers and writers only: COGs, STAC items, MODIS HDF granules, Landsat scenes, Zarr, NetCDF.

Every reader returns lazy (dask) arrays with their CRS and, where the source says it, values in
physical units (STAC ``raster:bands`` and HDF scale metadata decoded).

:func:`open_path` opens any supported file lazily with its CRS (Zarr, NetCDF, GeoTIFF);
streaming a super-resolved cube into Zarr is the engine's :func:`xlstsr.upscale_to_zarr`.

Examples
--------
>>> import xlstsr
>>> lst = xlstsr.io.open_zarr("lst_1km.zarr")["LST_Day_1km"]               # doctest: +SKIP
>>> xlstsr.upscale_to_zarr(lst, "lst_250m.zarr", factor=4, mode="resume")  # doctest: +SKIP
"""

from __future__ import annotations

from .cog import open_cog, to_cogs
from .formats import WRITABLE, format_of, open_path
from .landsat import open_landsat8_l1, open_landsat_c2l2
from .modis import granule_time, open_modis
from .stac import band_coding, open_stac
from .zarr import open_zarr

__all__ = [
    "WRITABLE",
    "band_coding",
    "format_of",
    "granule_time",
    "open_cog",
    "open_landsat8_l1",
    "open_landsat_c2l2",
    "open_modis",
    "open_path",
    "open_stac",
    "open_zarr",
    "to_cogs",
]
