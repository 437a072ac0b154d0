"""Cloud-optimised GeoTIFFs: lazy reading (rioxarray + dask) and one COG per time step out."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rioxarray
import xarray as xr

from ..errors import InputNotFoundError, XlstsrError
from ..validate import require_georeferenced, spatial_dims

__all__ = ["open_cog", "to_cogs"]

PathLike = str | os.PathLike


def open_cog(
    path: PathLike | Sequence[PathLike],
    chunks: Any = "auto",
    *,
    times: Sequence[Any] | None = None,
    masked: bool = True,
    band: int | None = None,
) -> xr.DataArray:
    """Open one COG/GeoTIFF (or several, stacked along ``time``) lazily with dask chunks.

    Parameters
    ----------
    path : path or list of paths
        GeoTIFF file(s) (local path or any URL GDAL reads, e.g. ``/vsicurl/...`` or ``https://``).
        Several files must share a grid; they are stacked along a new ``time`` dimension.
    chunks : dict, int, "auto", True or None
        Dask chunks as for :func:`rioxarray.open_rasterio` (``{"x": 512, "y": 512}``...). Use the
        COG's internal tiling (a multiple of it) for efficient reads; ``True`` or ``{}`` does:
        whole blocks, grown to about 1024 pixels a side (one-row strips too), all bands at once
        in pixel-interleaved files. ``None`` reads eagerly.
    times : sequence, optional
        Values of the ``time`` coordinate when several paths are given (default: 0, 1, ...).
    masked : bool
        Nodata -> NaN. Scale metadata (``scale_factor``/``add_offset``) is left in ``attrs``;
        :func:`xlstsr.upscale` decodes it.
    band : int, optional
        Select this band (1-based) of a multi-band file. Single-band files lose the ``band`` dim.

    Returns
    -------
    DataArray
        ``(y, x)``, ``(band, y, x)`` or ``(time, y, x)``, with CRS and transform.

    Examples
    --------
    >>> lst = open_cog("MOD11A1_LST.tif", chunks={"x": 512, "y": 512})  # doctest: +SKIP
    >>> sr = lst.lstsr.upscale(4)  # doctest: +SKIP
    """
    if isinstance(path, (str, os.PathLike)):
        local = "://" not in os.fspath(path) and not os.fspath(path).startswith("/vsi")
        if local and not Path(path).exists():  # rasterio's own error is not an XlstsrError
            raise InputNotFoundError(f"no such GeoTIFF file: {os.fspath(path)}; check the path.")
        try:
            if chunks is True or (isinstance(chunks, dict) and not chunks):
                chunks = _file_chunks(path)
            elif chunks == "auto":  # as a dict: rioxarray's own "auto" warns in recent xarray
                chunks = {"band": 1, "y": "auto", "x": "auto"}
            da = rioxarray.open_rasterio(path, chunks=chunks, masked=masked)
        except OSError as err:  # rasterio.errors.RasterioIOError: not a raster GDAL reads
            raise XlstsrError(
                f"cannot read {os.fspath(path)} as a GeoTIFF ({err}); check that the file is a "
                "complete GeoTIFF/COG (`gdalinfo` opens it)."
            ) from err
        if band is not None:
            da = da.sel(band=band, drop=True)
        elif "band" in da.dims and da.sizes["band"] == 1:
            da = da.isel(band=0, drop=True)
        return da
    paths = list(path)
    if not paths:
        raise XlstsrError("open_cog got an empty list of paths")
    arrays = [open_cog(p, chunks, masked=masked, band=band) for p in paths]
    if times is not None and len(times) != len(arrays):
        raise XlstsrError(f"{len(times)} times for {len(arrays)} paths; give one time per path")
    out = xr.concat(arrays, dim="time", join="exact", combine_attrs="override")
    out = out.assign_coords(time=list(times) if times is not None else np.arange(len(arrays)))
    crs = arrays[0].rio.crs
    return out.rio.write_crs(crs) if crs is not None else out


#: target side (pixels) of chunks built from a file's blocks, and the most bytes in one chunk
_CHUNK_SIDE = 1024
_CHUNK_BYTES = 128 * 1024**2


def _file_chunks(path: PathLike) -> dict[str, int]:
    """Chunks from the file's layout: whole blocks, about ``_CHUNK_SIDE`` pixels a side.

    One-row strips (common in GeoTIFFs written by MATLAB or GDAL without ``TILED=YES``) would
    otherwise give one tiny task per row and band; a pixel-interleaved file stores all bands of
    a block together, so its bands are read at once (within ``_CHUNK_BYTES``).
    """
    import rasterio
    from rasterio.enums import Interleaving

    with rasterio.open(path) as src:
        by, bx = src.block_shapes[0]
        ty = min(src.height, by * max(1, _CHUNK_SIDE // by))
        tx = min(src.width, bx * max(1, _CHUNK_SIDE // bx))
        nbytes = src.count * ty * tx * np.dtype(src.dtypes[0]).itemsize
        together = src.interleaving == Interleaving.pixel and nbytes <= _CHUNK_BYTES
        return {"band": src.count if together else 1, "y": ty, "x": tx}


def _stamp(value: Any, index: int) -> str:
    try:
        ts = np.datetime64(value)
        if np.isnat(ts):
            raise ValueError
        s = np.datetime_as_string(ts, unit="s")
        s = s[:10] if s.endswith("T00:00:00") else s.replace(":", "")
        return s
    except (ValueError, TypeError):
        return f"{index:05d}"


def to_cogs(
    da: xr.DataArray,
    directory: PathLike,
    *,
    prefix: str | None = None,
    time_dim: str | None = None,
    compress: str = "DEFLATE",
    overwrite: bool = False,
    **rio_kwargs: Any,
) -> list[Path]:
    """Write one Cloud-Optimised GeoTIFF per time step of a georeferenced (time, y, x) array.

    Each step is computed and written in turn (memory: one time step). CRS, transform and
    nodata (NaN) are written; files are named ``{prefix}_{time}.tif`` with the time as
    ``YYYY-MM-DD`` (or ISO with seconds, or the step's index for non-datetime coordinates).

    Parameters
    ----------
    da : DataArray
        ``(time, y, x)`` or ``(y, x)`` with a CRS (rioxarray).
    directory : path
        Output folder (created).
    prefix : str, optional
        File name prefix (default: ``da.name`` or ``"lst"``).
    time_dim : str, optional
        The dimension to split along (default: the one non-spatial dim).
    compress : str
        GDAL COG compression (``DEFLATE``, ``ZSTD``, ``LZW``...).
    overwrite : bool
        Replace existing files; otherwise an existing file raises.
    **rio_kwargs
        Passed to :meth:`rioxarray.raster_array.RasterArray.to_raster` (``blocksize=``...).

    Returns
    -------
    list of Path
        The written files, in time order.

    Examples
    --------
    >>> import xlstsr, tempfile
    >>> sr = xlstsr.datasets.sample_scene(n_times=2, size=32)["lst_1km"].lstsr.upscale(4)
    >>> paths = to_cogs(sr, tempfile.mkdtemp())
    >>> len(paths)
    2
    """
    require_georeferenced(da, "array written to COG")
    ydim, xdim = spatial_dims(da)
    others = [d for d in da.dims if d not in (ydim, xdim)]
    if time_dim is None:
        if len(others) > 1:
            raise XlstsrError(
                f"to_cogs needs one non-spatial dim, got {others}; pass `time_dim=` and select "
                "or stack the others first."
            )
        time_dim = others[0] if others else None
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    prefix = prefix or (str(da.name) if da.name is not None else "lst")
    steps = range(da.sizes[time_dim]) if time_dim else [None]
    paths: list[Path] = []
    crs = da.rio.crs
    transform = da.rio.transform(recalc=True)
    for i in steps:
        step = da if i is None else da.isel({time_dim: i})
        stamp = (
            ""
            if i is None
            else "_" + _stamp(step[time_dim].values if time_dim in step.coords else i, i)
        )
        path = out_dir / f"{prefix}{stamp}.tif"
        if path.exists() and not overwrite:
            raise XlstsrError(f"{path} exists; pass overwrite=True or write to another directory")
        if path in paths:
            raise XlstsrError(
                f"two time steps map to the same file name {path.name}; pass prefix/time_dim"
            )
        step = step.transpose(ydim, xdim).compute()
        # a store's encoding (Zarr/NetCDF _FillValue, dtype, codecs) describes that store, not
        # the GeoTIFF: keep only the CRS link, the nodata written below is the GeoTIFF's
        step.encoding = {k: v for k, v in step.encoding.items() if k == "grid_mapping"}
        step = step.rio.write_crs(crs).rio.write_transform(transform)
        if np.issubdtype(step.dtype, np.floating):
            step = step.rio.write_nodata(np.nan, encoded=False)
        step.rio.to_raster(path, driver="COG", compress=compress, **rio_kwargs)
        paths.append(path)
    return paths
