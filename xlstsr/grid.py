"""Grids: fine and coarse grids for an integer factor, and alignment of a guide onto the fine grid."""

from __future__ import annotations

from typing import Any

import dask.array as dsa
import numpy as np
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr
from affine import Affine
from rasterio.enums import Resampling

from .errors import GridError, GuideAlignmentWarning, GuideCoverageError, warn
from .validate import require_georeferenced, spatial_dims

__all__ = [
    "MODIS_1KM",
    "MODIS_250M",
    "MODIS_LST_PSF_SIGMA",
    "MODIS_SINUSOIDAL",
    "align_guide",
    "coarse_grid",
    "fine_grid",
    "grid_coords",
    "same_axis",
    "with_grid",
]

#: MODIS sinusoidal projection (sphere R = 6371007.181 m); it has no EPSG code.
MODIS_SINUSOIDAL = "+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs"
#: MODIS "1 km" and "250 m" pixel sizes in metres (tile width / 1200 and / 4800).
MODIS_1KM = 926.625433055833
MODIS_250M = MODIS_1KM / 4
#: Gaussian PSF width (m) of a MODIS 1 km LST pixel on top of its box: the median of
#: :func:`xlstsr.estimate_offset` over the 20 training MODIS/ASTER pairs (352 m; spread
#: 34 m; 369 m on the 35 held-out pairs). Re-measure: ``python benchmarks/coregistration.py``.
MODIS_LST_PSF_SIGMA = 350.0


def grid_coords(transform: Affine, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre (y, x) coordinates of a north-up grid."""
    ny, nx = shape
    x = transform.c + (np.arange(nx) + 0.5) * transform.a
    y = transform.f + (np.arange(ny) + 0.5) * transform.e
    return y, x


def same_axis(a: Any, b: Any, tol: float = 1e-3) -> bool:
    """Whether two 1-D pixel-centre coordinates are the same grid axis: same length and equal
    to ``tol`` of ``a``'s pixel. A grid computed here (``fine_grid``) and the same grid read
    from a file differ by float round-off (1e-9 m, 1e-14 degree), which an exact comparison or
    xarray's join on labels would take for another grid.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(4) * 250.0 + 125.0
    >>> same_axis(x, x + 1e-9), same_axis(x, x + 100.0), same_axis(x, x[:3])
    (True, False, False)
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind not in "fiu" or b.dtype.kind not in "fiu":
        return bool(np.array_equal(a, b))
    a, b = a.astype(np.float64), b.astype(np.float64)
    step = abs(float(a[1] - a[0])) if a.size > 1 else 1.0
    return bool(np.allclose(a, b, rtol=0, atol=tol * step))


def _recalc(da: xr.DataArray) -> bool:
    """Bounds from the coordinates, not a written GeoTransform that ``coarsen``/``isel`` with a
    step left stale (the coverage then read 88 % for a full guide); a 1-pixel side has only
    the written one."""
    ydim, xdim = spatial_dims(da)
    return da.sizes[ydim] > 1 and da.sizes[xdim] > 1


def _transform(da: xr.DataArray) -> Affine:
    t = da.rio.transform(recalc=True)
    if t.b != 0 or t.d != 0:
        raise GridError("rotated grids are not supported; reproject to a north-up grid first")
    return t


def fine_grid(da: xr.DataArray, factor: int) -> tuple[np.ndarray, np.ndarray, Affine]:
    """(y, x, transform) of the grid ``factor`` times finer, with the same outer bounds."""
    t = _transform(da)
    ydim, xdim = spatial_dims(da)
    ft = t * Affine.scale(1.0 / factor)
    y, x = grid_coords(ft, (da.sizes[ydim] * factor, da.sizes[xdim] * factor))
    return y, x, ft


def coarse_grid(da: xr.DataArray, factor: int) -> tuple[np.ndarray, np.ndarray, Affine]:
    """(y, x, transform) of the grid ``factor`` times coarser (sizes must divide by ``factor``)."""
    t = _transform(da)
    ydim, xdim = spatial_dims(da)
    ny, nx = da.sizes[ydim], da.sizes[xdim]
    if ny < factor or nx < factor:
        raise GridError(
            f"the grid ({ny} x {nx}) is smaller than one coarse pixel of factor {factor}: "
            "coarsen a larger field, or use a smaller factor."
        )
    if ny % factor or nx % factor:
        raise GridError(
            f"the grid ({ny} x {nx}) is not a multiple of factor {factor}; crop it first, e.g. "
            f"`da.isel({ydim}=slice(0, {ny - ny % factor}), {xdim}=slice(0, {nx - nx % factor}))`, "
            "or pass `boundary='trim'`."
        )
    ct = t * Affine.scale(factor)
    y, x = grid_coords(ct, (ny // factor, nx // factor))
    return y, x, ct


def with_grid(
    data: object,
    template: xr.DataArray,
    y: np.ndarray,
    x: np.ndarray,
    transform: Affine,
    dims: tuple[str, ...],
) -> xr.DataArray:
    """Wrap ``data`` as a DataArray on a new spatial grid, keeping the template's other coords and CRS."""
    ydim, xdim = spatial_dims(template)
    coords = {
        k: v for k, v in template.coords.items()
        if ydim not in v.dims and xdim not in v.dims and k != "spatial_ref"
    }
    coords[ydim] = (ydim, y, template[ydim].attrs)
    coords[xdim] = (xdim, x, template[xdim].attrs)
    out = xr.DataArray(data, dims=dims, coords=coords)
    # a new object: written in place (rioxarray's copies would duplicate a fine-grid result)
    out.rio.set_spatial_dims(x_dim=xdim, y_dim=ydim, inplace=True)
    out.rio.write_crs(template.rio.crs, inplace=True)
    out.rio.write_transform(transform, inplace=True)
    return out


def _slice_nested(
    guide: xr.DataArray, oy: int, ox: int, fy: np.ndarray, fx: np.ndarray, ft: Affine, ly: str, lx: str
) -> xr.DataArray:
    """Cut a guide that nests exactly (whole-pixel offset) to the fine grid; pad with NaN outside it."""
    gy, gx = spatial_dims(guide)
    ny, nx = fy.size, fx.size
    y0, y1 = max(oy, 0), min(oy + ny, guide.sizes[gy])
    x0, x1 = max(ox, 0), min(ox + nx, guide.sizes[gx])
    out = guide.isel({gy: slice(y0, y1), gx: slice(x0, x1)})
    pads = {gy: (y0 - oy, oy + ny - y1), gx: (x0 - ox, ox + nx - x1)}
    if any(p for pair in pads.values() for p in pair):
        shifted = f" (offset by ({-oy:+d}, {-ox:+d}) fine pixels, y, x)" if (oy or ox) else ""
        warn(
            f"the guide nests under the fine grid{shifted} but misses "
            f"{pads[gy][0] + pads[gy][1]} row(s) and {pads[gx][0] + pads[gx][1]} column(s) of the "
            "LST's extent: the guide is NaN there and methods fall back to bicubic. Give a guide "
            "that covers the LST (e.g. `guide.rio.reproject_match(...)` on a larger source).",
            GuideAlignmentWarning,
        )
        if not np.issubdtype(out.dtype, np.floating):
            out = out.astype(np.float32)
        out = out.pad(pads, mode="constant", constant_values=np.nan)
    out = out.assign_coords({gy: fy, gx: fx}).rename({gy: ly, gx: lx} if (gy, gx) != (ly, lx) else {})
    out = out.rio.set_spatial_dims(x_dim=lx, y_dim=ly, inplace=False)
    return out.rio.write_transform(ft)


def longitude_convention_hint(bounds: Any, lst_bounds: Any, var: str, xdim: str,
                              what: str | None = None) -> str:
    """A sentence naming the longitude convention when bounds ``(W, S, E, N)`` in degrees
    overlap the LST's once moved by 360 degrees (one field in 0..360, the other in -180..180),
    or ''. ``var``: the field's name in the code shown, ``what``: in prose (default ``var``)."""
    for shift in (-360.0, 360.0):
        w, e = bounds[0] + shift, bounds[2] + shift
        if min(e, lst_bounds[2]) > max(w, lst_bounds[0]) and \
                min(bounds[3], lst_bounds[3]) > max(bounds[1], lst_bounds[1]):
            return (
                f" Moved by {shift:+.0f} degrees the {what or var} would overlap it: its longitudes "
                f"run {'0..360' if shift < 0 else '-180..180'} and the LST's "
                f"{'-180..180' if shift < 0 else '0..360'}. Put it in the LST's convention: "
                f"`{var} = {var}.assign_coords({xdim}="
                + (f"(({var}.{xdim} + 180) % 360) - 180" if shift < 0 else f"{var}.{xdim} % 360")
                + f").sortby('{xdim}')` (with its own longitude dim's name for '{xdim}': 'x' "
                "for a GeoTIFF read with rioxarray)."
            )
    return ""


def align_guide(
    guide: xr.DataArray,
    lst: xr.DataArray,
    factor: int,
    *,
    min_coverage: float = 0.9,
    resampling: Resampling = Resampling.average,
) -> xr.DataArray:
    """Put a guide (e.g. NDVI) on the fine grid of ``lst`` for ``factor``.

    A guide that nests exactly (same CRS and fine resolution, offset by whole fine pixels, extent
    covering the LST) is sliced, not resampled. Otherwise (sub-pixel offset, other resolution or
    CRS) it is reprojected onto the fine grid with a :class:`GuideAlignmentWarning` naming the
    offset. Parts of the fine grid the guide does not cover become NaN; if it covers less than
    ``min_coverage`` of the LST extent, :class:`GuideCoverageError` is raised.

    Returns
    -------
    DataArray
        The guide with dims ``(..., y, x)`` on the fine grid (band/time dims kept).
    """
    require_georeferenced(guide, "guide")
    _gy, _gx = spatial_dims(guide)
    ly, lx = spatial_dims(lst)
    fy, fx, ft = fine_grid(lst, factor)
    gt = _transform(guide)
    same_crs = guide.rio.crs == lst.rio.crs
    # coverage in the LST CRS
    try:
        gb = (guide.rio.transform_bounds(lst.rio.crs, recalc=_recalc(guide)) if not same_crs
              else guide.rio.bounds(recalc=_recalc(guide)))
    except Exception as err:
        raise GuideCoverageError(f"the guide's bounds cannot be transformed to the LST CRS: {err}") from err
    lb = lst.rio.bounds(recalc=_recalc(lst))
    ix = max(0.0, min(gb[2], lb[2]) - max(gb[0], lb[0]))
    iy = max(0.0, min(gb[3], lb[3]) - max(gb[1], lb[1]))
    coverage = (ix * iy) / ((lb[2] - lb[0]) * (lb[3] - lb[1]))
    if coverage < min_coverage:
        hint = ""
        if not same_crs:
            # the same numbers in two CRSs: one of the CRSs written is wrong (the coverage
            # message alone sent the user to look for another guide)
            nb = guide.rio.bounds(recalc=_recalc(guide))
            size = max(lb[2] - lb[0], lb[3] - lb[1])
            if max(abs(a - b) for a, b in zip(nb, lb)) <= 0.05 * size:
                hint = (
                    f" The guide's own coordinates span the LST's bounds, but its CRS ("
                    f"{guide.rio.crs.to_string()[:60]!r}) differs from the LST's: one of them has "
                    "the wrong CRS written. If both are on the LST's, "
                    "`guide = guide.rio.write_crs(lst.rio.crs)`."
                )
        if same_crs and lst.rio.crs is not None and lst.rio.crs.is_geographic:
            # named as users name it: the front door renamed lon to x
            hint += longitude_convention_hint(gb, lb, "guide", "lon" if _gx == "x" else _gx)
        raise GuideCoverageError(
            f"the guide covers {coverage:.0%} of the LST extent (LST bounds {tuple(round(v, 1) for v in lb)}, "
            f"guide bounds {tuple(round(v, 1) for v in gb)}); provide a guide over the same area "
            "(check both CRS), or crop the LST to the guide's extent with "
            f"`lst.rio.clip_box(*guide.rio.bounds())`.{hint}"
        )
    # the guide's pixel in the LST's units (its extent over its pixel count, in any CRS)
    gy_, gx_ = spatial_dims(guide)
    gpix = max((gb[2] - gb[0]) / max(guide.sizes[gx_], 1), (gb[3] - gb[1]) / max(guide.sizes[gy_], 1))
    lpix = max(abs(ft.a), abs(ft.e)) * factor
    if gpix >= 0.99 * lpix:
        # reprojected onto the fine grid, such a guide is blocks of LST pixels: no detail below
        # the LST's resolution, and its block edges become the "detail" a method adds
        warn(
            f"the guide's pixels ({gpix:.6g}) are not finer than the LST's ({lpix:.6g}): it "
            "holds no detail below the LST's resolution, so a guided method only adds the "
            "guide's block edges (the result is no better than bicubic). Give a guide at the "
            f"output resolution ({lpix / factor:.6g}), e.g. 250 m NDVI (MOD09GQ) rather than a "
            "1 km product (MOD13A2), or use method='bicubic' / 'sisr'.",
            GuideAlignmentWarning,
        )
    if same_crs and np.isclose(gt.a, ft.a, rtol=1e-6) and np.isclose(gt.e, ft.e, rtol=1e-6):
        ox = (ft.c - gt.c) / ft.a
        oy = (ft.f - gt.f) / ft.e
        nested = abs(ox - round(ox)) < 1e-3 and abs(oy - round(oy)) < 1e-3
        if nested:
            return _slice_nested(guide, round(oy), round(ox), fy, fx, ft, ly, lx)
        reason = (f"offset by ({oy:+.2f}, {ox:+.2f}) fine pixels (y, x), not a whole number")
    elif same_crs:
        # the CRS's unit: a lon/lat guide read "0.010 x 0.010 m"
        unit = "degree" if lst.rio.crs is not None and lst.rio.crs.is_geographic else "m"
        reason = (f"at {abs(gt.a):.4g} x {abs(gt.e):.4g} {unit} instead of the fine grid's "
                  f"{abs(ft.a):.4g} x {abs(ft.e):.4g} {unit}")
        if 1.01 * abs(ft.a) < abs(gt.a) < 0.99 * lpix:
            reason += (", coarser than the output: detail finer than the guide's pixel comes "
                       "from interpolation")
    else:
        reason = f"in another CRS ({guide.rio.crs.to_string()[:60]})"
    # fine pixels whose centre lies beyond the guide's footprint (from the bounds, so that a lazy
    # guide is not read): NaN after the reprojection (GDAL's average filled an uncovered edge
    # row with its neighbour's values), said as the nested path says it
    in_x = (np.asarray(fx) >= gb[0]) & (np.asarray(fx) <= gb[2])
    in_y = (np.asarray(fy) >= gb[1]) & (np.asarray(fy) <= gb[3])
    miss_x, miss_y = int((~in_x).sum()), int((~in_y).sum())
    missing = ""
    if miss_x or miss_y:
        missing = (f" It misses {miss_y} row(s) and {miss_x} column(s) of the LST's extent at the "
                   "fine resolution: the guide is NaN there and methods fall back to bicubic.")
    warn(
        f"guide reprojected onto the fine LST grid: it is {reason}.{missing}",
        GuideAlignmentWarning,
    )
    template = with_grid(
        np.zeros((fy.size, fx.size), np.float32), lst.isel({d: 0 for d in lst.dims if d not in (ly, lx)}),
        fy, fx, ft, (ly, lx),
    )
    src = guide.astype(np.float32)
    if src.rio.nodata is None or not np.isnan(src.rio.nodata):
        src = src.rio.write_nodata(np.nan, encoded=False)
    if isinstance(src.variable.data, dsa.Array):
        out = _reproject_lazy(src, template, resampling, ly, lx)
    else:
        out = src.rio.reproject_match(template, resampling=resampling, nodata=np.nan)
        out = out.rename({out.rio.y_dim: ly, out.rio.x_dim: lx}) if (out.rio.y_dim, out.rio.x_dim) != (ly, lx) else out
        out = out.assign_coords({ly: fy, lx: fx})
    if same_crs and (miss_x or miss_y):  # other CRSs: the bounds are an enclosing box
        inside = xr.DataArray(in_y, dims=(ly,)) & xr.DataArray(in_x, dims=(lx,))
        out = out.where(inside)
    return out


def _reproject_lazy(
    src: xr.DataArray, template: xr.DataArray, resampling: Resampling, ly: str, lx: str
) -> xr.DataArray:
    """``src.rio.reproject_match(template)`` block by block along the leading dims (time...).

    rioxarray's reprojection loads the whole array; a guide datacube (NDVI per date) would then
    be read at once. Here each chunk of leading indices is reprojected when it is computed, with
    whole images in space (a reprojection needs the full source window).
    """
    gy, gx = src.rio.y_dim, src.rio.x_dim
    lead = [d for d in src.dims if d not in (gy, gx)]
    src = src.transpose(*lead, gy, gx)
    data = src.data.rechunk({src.ndim - 2: -1, src.ndim - 1: -1})
    sy, sx = src[gy].values, src[gx].values
    crs, transform = src.rio.crs, src.rio.transform()
    # the tasks carry the target grid's geometry only, not the (fine-sized) template array
    ny, nx = template.sizes[ly], template.sizes[lx]
    dst_crs, dst_transform = template.rio.crs, template.rio.transform()

    def _block(a: np.ndarray) -> np.ndarray:
        d = xr.DataArray(a, dims=(*lead, gy, gx), coords={gy: sy, gx: sx})
        d = d.rio.write_crs(crs).rio.write_transform(transform)
        d = d.rio.write_nodata(np.nan, encoded=False)
        return d.rio.reproject(
            dst_crs, shape=(ny, nx), transform=dst_transform, resampling=resampling, nodata=np.nan
        ).values

    out = data.map_blocks(
        _block, chunks=(*data.chunks[:-2], (ny,), (nx,)), dtype=np.float32,
        meta=np.empty((0,) * data.ndim, np.float32),
    )
    coords = {d: src[d].variable for d in lead if d in src.coords}
    coords |= {d: (d, template[d].values, template[d].attrs) for d in (ly, lx)}
    res = xr.DataArray(out, dims=(*lead, ly, lx), coords=coords, attrs=src.attrs)
    res = res.rio.write_crs(dst_crs).rio.write_transform(dst_transform)
    return res.rio.write_nodata(np.nan, encoded=False)
