"""File formats by path: open any supported input, and name the output format of a path.

Zarr stores (``.zarr`` or a folder with Zarr metadata), NetCDF (``.nc``) and GeoTIFF/COG
(``.tif``, ``.tiff``) are opened lazily with their CRS; anything else is refused with the list of
what is supported.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import xarray as xr

from ..errors import XlstsrError
from .zarr import is_zarr_path, open_zarr

__all__ = ["format_of", "open_path"]

Format = Literal["zarr", "netcdf", "cog"]
_SUFFIXES: dict[str, Format] = {".nc": "netcdf", ".nc4": "netcdf", ".tif": "cog", ".tiff": "cog"}


def format_of(path: str | os.PathLike) -> Format:
    """``"zarr"``, ``"netcdf"`` or ``"cog"`` from a path's suffix (or Zarr metadata).

    Examples
    --------
    >>> format_of("lst_250m.zarr"), format_of("lst.nc"), format_of("lst.tif")
    ('zarr', 'netcdf', 'cog')
    >>> format_of("lst.csv")
    Traceback (most recent call last):
    ...
    xlstsr.errors.XlstsrError: cannot tell the format of 'lst.csv' ...
    """
    if is_zarr_path(path):
        return "zarr"
    fmt = _SUFFIXES.get(Path(path).suffix.lower())
    if fmt is None:
        raise XlstsrError(
            f"cannot tell the format of {os.fspath(path)!r} from its suffix: use .zarr (Zarr "
            "store), .nc (NetCDF) or .tif (GeoTIFF/COG)."
        )
    return fmt


def open_path(path: str | os.PathLike, **kwargs: Any) -> xr.Dataset | xr.DataArray:
    """Open a Zarr store, NetCDF file or GeoTIFF lazily (dask), with its CRS.

    Zarr and NetCDF give a Dataset (``spatial_ref`` decoded as a coordinate), a GeoTIFF a
    DataArray (:func:`xlstsr.io.open_cog` with its internal tiling as chunks). ``kwargs`` go to
    the reader.
    """
    fmt = format_of(path)
    if fmt == "zarr":
        return open_zarr(path, **kwargs)
    if fmt == "netcdf":
        return xr.open_dataset(os.fspath(path), **{"chunks": {}, "decode_coords": "all", **kwargs})
    from .cog import open_cog

    return open_cog(os.fspath(path), **{"chunks": True, **kwargs})
