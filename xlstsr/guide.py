"""Guides (NDVI, reflectances...): decoded, stacked into bands, aligned onto a grid of the LST.

One aligner serves every entry point: :func:`prepare_guide` puts a guide on the grid ``factor``
times finer than the LST (what guided methods read), and :func:`guide_on_lst_grid` on the LST's
own grid (what :func:`xlstsr.scaling_stats` compares with), by aligning it on the finer grid it
nests in and taking the NaN-aware block mean there. Alignment itself is
:func:`xlstsr.grid.align_guide` (slicing when the guide nests exactly, reprojection otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dask.array as dsa
import numpy as np
import xarray as xr

from .errors import GridError
from .grid import align_guide
from .kernels.aggregate import block_mean
from .validate import decode_guide, spatial_dims

__all__ = ["GuideLike", "guide_bands", "guide_on_lst_grid", "prepare_guide", "to_stack"]

GuideLike = xr.DataArray | Sequence[xr.DataArray] | Mapping[str, xr.DataArray]


def to_stack(da: xr.DataArray) -> tuple[Any, tuple[str, ...]]:
    """(n, y, x) data of ``da`` with its leading dims flattened into one, and the leading dims."""
    ydim, xdim = spatial_dims(da)
    lead = tuple(str(d) for d in da.dims if d not in (ydim, xdim))
    da = da.transpose(*lead, ydim, xdim)
    data = da.variable.data
    n = int(np.prod([da.sizes[d] for d in lead])) if lead else 1
    return data.reshape(n, da.sizes[ydim], da.sizes[xdim]), lead


def guide_bands(guide: GuideLike) -> xr.DataArray:
    """One DataArray with a ``guide_band`` dim from a DataArray, a list or a dict of bands."""
    if isinstance(guide, xr.DataArray):
        return guide
    if isinstance(guide, Mapping):
        items = list(guide.items())
    elif isinstance(guide, Sequence) and not isinstance(guide, str):
        items = [(getattr(g, "name", None) or f"band{i}", g) for i, g in enumerate(guide)]
    else:
        raise TypeError(f"guide must be a DataArray, a list or a dict of DataArrays, got {type(guide)}")
    bands = [g.expand_dims(guide_band=[str(k)]) if "guide_band" not in g.dims else g for k, g in items]
    return xr.concat(bands, dim="guide_band", join="exact", coords="minimal", compat="override")


def prepare_guide(guide: GuideLike, lst: xr.DataArray, factor: int, lead: tuple[str, ...]) -> Any:
    """Decode and align a guide onto the grid ``factor`` times finer than ``lst``.

    Returns float32 data ``(n, c, Y, X)`` when the guide varies along the LST's leading dims
    (``n`` their flattened size), ``(1, c, Y, X)`` for a guide shared by every time step.

    Examples
    --------
    >>> import xlstsr
    >>> scene = xlstsr.datasets.sample_scene(n_times=2, size=32)
    >>> prepare_guide(scene["ndvi_250m"], scene["lst_1km"], 4, ("time",)).shape
    (1, 1, 32, 32)
    """
    g = guide_bands(guide)
    bands = (
        [decode_guide(g.isel(guide_band=i)) for i in range(g.sizes["guide_band"])]
        if "guide_band" in g.dims
        else [decode_guide(g)]
    )
    aligned = [align_guide(b, lst, factor) for b in bands]
    g = xr.concat(aligned, dim="guide_band") if len(aligned) > 1 else aligned[0].expand_dims("guide_band")
    ydim, xdim = spatial_dims(lst)
    extra = [d for d in g.dims if d not in (ydim, xdim, "guide_band") and d not in lead]
    if extra:  # e.g. a 'band' dim of a multi-band raster: more guide channels
        g = g.stack(_ch=("guide_band", *extra)).transpose(..., "_ch", ydim, xdim)
        chdim = "_ch"
    else:
        chdim = "guide_band"
    shared = [d for d in lead if d in g.dims]
    if shared and shared != list(lead):
        raise GridError(
            f"the guide varies along {shared} but not along all of the LST's leading dims {lead}; "
            "give it all of them, or none (a guide shared by every time step)."
        )
    if shared:
        g = g.transpose(*lead, chdim, ydim, xdim)
        n = int(np.prod([g.sizes[d] for d in lead]))
        data = g.variable.data.reshape(n, g.sizes[chdim], g.sizes[ydim], g.sizes[xdim])
        return data.astype(np.float32)
    return g.transpose(chdim, ydim, xdim).variable.data[None].astype(np.float32)


def _nesting_factor(guide: xr.DataArray, lst: xr.DataArray) -> int:
    """How many guide pixels span one LST pixel (an integer, or a GridError)."""
    gres = abs(float(guide.rio.resolution()[0]))
    lres = abs(float(lst.rio.resolution()[0]))
    ratio = lres / gres
    r = round(ratio)
    if r < 1 or abs(ratio - r) > 1e-3:
        raise GridError(
            f"the guide's pixel ({gres:g}) is not the LST's ({lres:g}) divided by an integer; "
            "resample the guide onto the LST grid or a nested finer grid."
        )
    return r


def guide_on_lst_grid(
    guide: xr.DataArray, lst: xr.DataArray, lead: tuple[str, ...], *, min_valid: float = 0.5
) -> Any:
    """A single-band guide on the LST's own grid: ``(n or 1, y, x)`` data.

    A guide of the LST's shape is taken as it is (fields without a CRS included). A guide on a
    finer nested grid (e.g. NDVI at 250 m for LST at 1 km) is aligned there by
    :func:`prepare_guide` and averaged onto the LST grid with the NaN-aware block mean
    (:func:`xlstsr.kernels.aggregate.block_mean`: blocks with less than ``min_valid`` valid
    pixels are NaN).

    Examples
    --------
    >>> import xlstsr
    >>> scene = xlstsr.datasets.sample_scene(n_times=1, size=32)
    >>> guide_on_lst_grid(scene["ndvi_250m"], scene["lst_1km"], ("time",)).shape
    (1, 8, 8)
    """
    ydim, xdim = spatial_dims(lst)
    gy, gx = spatial_dims(guide)
    if (guide.sizes[gy], guide.sizes[gx]) == (lst.sizes[ydim], lst.sizes[xdim]):
        g = decode_guide(guide).rename({gy: ydim, gx: xdim} if (gy, gx) != (ydim, xdim) else {})
        g = g.drop_vars([c for c in g.coords if c not in g.dims], errors="ignore")
        extra = [d for d in g.dims if d not in (ydim, xdim) and d not in lead]
        if extra:
            raise GridError(f"the guide has extra dims {extra}: pass a single band")
        shared = [d for d in lead if d in g.dims]
        if shared and shared != list(lead):
            raise GridError(f"the guide varies along {shared} but the LST along {list(lead)}")
        data = g.transpose(*shared, ydim, xdim).variable.data
        return data.reshape(-1, g.sizes[ydim], g.sizes[xdim]) if shared else data[None]
    r = _nesting_factor(guide, lst)
    data = prepare_guide(guide, lst, r, lead)
    if data.shape[1] != 1:
        raise GridError(f"the guide has {data.shape[1]} bands: pass a single band")
    data = data[:, 0]
    if isinstance(data, dsa.Array):
        data = data.rechunk({1: -1, 2: -1})
        return data.map_blocks(
            lambda a: block_mean(a.astype(np.float64), r, min_valid=min_valid),
            chunks=(data.chunks[0], (data.shape[1] // r,), (data.shape[2] // r,)),
            dtype=np.float64,
            meta=np.empty((0, 0, 0), np.float64),
        )
    return block_mean(np.asarray(data, np.float64), r, min_valid=min_valid)
