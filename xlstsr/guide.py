"""Guides (NDVI, reflectances...): decoded, stacked into bands, aligned onto a grid of the LST.

One aligner serves every entry point: :func:`prepare_guide` puts a guide on the grid ``factor``
times finer than the LST (what guided methods read), and :func:`guide_on_lst_grid` on the LST's
own grid (what :func:`xlstsr.scaling_stats` compares with), by aligning it on the finer grid it
nests in and taking the NaN-aware block mean there. Alignment itself is
:func:`xlstsr.grid.align_guide` (slicing when the guide nests exactly, reprojection otherwise).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import dask.array as dsa
import numpy as np
import xarray as xr

from .errors import GridError, GuideAlignmentWarning, NoOverlapError
from .grid import align_guide
from .kernels.aggregate import block_mean
from .validate import decode_guide, spatial_dims

__all__ = [
    "GUIDE_OFFSET_MODES",
    "GuideLike",
    "check_alignment",
    "guide_bands",
    "guide_on_lst_grid",
    "prepare_guide",
    "to_stack",
]

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


#: how a guide's alignment with the LST is handled by :func:`xlstsr.upscale`
GUIDE_OFFSET_MODES = ("check", "auto", "ignore")


def check_alignment(
    guide: GuideLike, lst: xr.DataArray, mode: str | xr.Dataset = "check", *, window: int = 96
) -> GuideLike:
    """Check (and with ``mode="auto"`` correct) the sub-pixel offset of a guide against the LST.

    The guide's offset is estimated with :func:`xlstsr.estimate_offset` (a linear fit at the LST
    scale, so NDVI's anti-correlation with LST is fine) on one image: the first band, the LST
    step with the most valid pixels, a central window of at most ``window`` LST pixels.
    ``"check"`` warns (:class:`~xlstsr.errors.GuideAlignmentWarning`) when the offset exceeds a
    quarter of a fine pixel by more than twice its uncertainty; ``"auto"`` moves the guide's
    coordinates by it instead (the guide is then resampled onto the fine grid); ``"ignore"``
    does nothing; an :func:`~xlstsr.estimate_offset` Dataset is applied as it is. Dask-backed
    inputs are checked only with ``"auto"`` (the check reads one step), so that building the
    graph reads nothing.
    """
    from .coregister import apply_offset, estimate_offset

    if isinstance(mode, xr.Dataset):
        return _map_bands(guide, lambda g: apply_offset(g, mode, lst.rio.crs))
    if mode not in GUIDE_OFFSET_MODES:
        raise ValueError(f"guide_offset must be one of {GUIDE_OFFSET_MODES} or an offset Dataset, "
                         f"got {mode!r}")
    if mode == "ignore":
        return guide
    g = guide_bands(guide)
    lazy = isinstance(lst.variable.data, dsa.Array) or isinstance(g.variable.data, dsa.Array)
    if lazy and mode == "check":
        return guide
    g = g.isel({d: 0 for d in g.dims if d not in spatial_dims(g)})
    ydim, xdim = spatial_dims(lst)
    lead = [d for d in lst.dims if d not in (ydim, xdim)]
    one = lst
    if lead:
        counts = np.isfinite(lst).sum((ydim, xdim)).values.reshape(-1)
        one = lst.stack(_step=lead).isel(_step=int(np.argmax(counts))).drop_vars(
            ["_step", *lead], errors="ignore")
    ny, nx = one.sizes[ydim], one.sizes[xdim]
    y0, x0 = max(0, (ny - window) // 2), max(0, (nx - window) // 2)
    one = one.isel({ydim: slice(y0, y0 + window), xdim: slice(x0, x0 + window)}).load()
    fine_px = abs(float(lst.rio.resolution()[0])) / max(1, round(
        abs(float(lst.rio.resolution()[0])) / abs(float(g.rio.resolution()[0]))))
    try:
        est = estimate_offset(g, one, psf=False, errors="ignore", search_step=fine_px / 2)
    except (NoOverlapError, GridError):
        return guide  # align_guide then says what is wrong with the guide's coverage or grid
    if not bool(est.reliable):
        if mode == "auto":
            warnings.warn("the guide's offset could not be estimated reliably (the guide hardly "
                          "relates to the LST here); it is used as it is", GuideAlignmentWarning,
                          stacklevel=3)
        return guide
    sx, sy, unc = float(est.shift_x), float(est.shift_y), float(est.shift_uncertainty)
    off = float(np.hypot(sx, sy))
    if off - 0.25 * fine_px <= 2 * unc:
        return guide  # within a quarter pixel, or not significantly beyond it
    if mode == "check":
        warnings.warn(
            f"the guide is offset from the LST by ({sx:+.0f}, {sy:+.0f}) m (x, y; +/- {unc:.0f} m), "
            f"{off / fine_px:.2f} fine pixel: its detail lands in the wrong place. Pass "
            "guide_offset='auto' to correct it, or xlstsr.coregister the guide yourself.",
            GuideAlignmentWarning, stacklevel=3)
        return guide
    return _map_bands(guide, lambda b: apply_offset(b, est, lst.rio.crs))


def _map_bands(guide: GuideLike, fn: Any) -> GuideLike:
    if isinstance(guide, xr.DataArray):
        return fn(guide)
    if isinstance(guide, Mapping):
        return {k: fn(v) for k, v in guide.items()}
    return [fn(v) for v in guide]
