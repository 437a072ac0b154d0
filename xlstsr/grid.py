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
from .validate import _gives, _written_transform, require_georeferenced, spatial_dims

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
#: The encoding keys of a coordinate that say what its values mean, kept on results
#: (:func:`with_grid`); the others (compressors, chunks, filters...) are the input store's.
_SEMANTIC_ENCODING = ("units", "calendar")


def _semantic_encoding(encoding: dict[str, Any]) -> dict[str, Any]:
    """The keys of a coordinate's ``encoding`` that say what its values mean: ``units`` and
    ``calendar``, and the ``dtype`` of a CF-encoded one (float days: overpass times 10:30 in int
    days warned on every write of the result); not the input store's codecs and chunks (a Zarr
    v2 compressor made writing the result to Zarr v3 fail)."""
    keep = {e: encoding[e] for e in _SEMANTIC_ENCODING if e in encoding}
    if "units" in keep and "dtype" in encoding:
        keep["dtype"] = encoding["dtype"]
    return keep


#: Labels' storage where nothing narrower is kept (:func:`_dtype`).
_F64 = np.dtype(np.float64)


def grid_coords(transform: Affine, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre (y, x) coordinates of a north-up grid, computed as rioxarray computes them
    (first centre plus ``i`` pixels): a field written to a file and read back with
    ``rioxarray.open_rasterio`` keeps its labels, which xarray's arithmetic aligns on."""
    ny, nx = shape
    x = (transform.c + transform.a * 0.5) + np.arange(nx) * transform.a
    y = (transform.f + transform.e * 0.5) + np.arange(ny) * transform.e
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


def _axes(da: xr.DataArray) -> tuple[Affine, tuple[tuple[float, float] | None, ...]]:
    """``da``'s transform in its labels' order and, per axis (y, x), the written (edge, pixel)
    where the labels run the other way (a south-up field left with its north-up GeoTransform:
    ``isel(y=slice(None, None, -1))``), else None.

    Each axis of the transform is the written GeoTransform's where it gives the labels (a
    file's exact one, or one xlstsr wrote; :func:`_gives`), or its mirror where it gives them
    run the other way (:func:`_mirror`), else the one recomputed from them. Both recomputed,
    as long as one axis disagreed, gave labels 1e-9 m off on the other too; recomputed, a
    south-up axis lost the file's pixel (0.025 for its 0.025000000000000015).
    """
    t = da.rio.transform(recalc=True)
    if t.b != 0 or t.d != 0:
        raise GridError("rotated grids are not supported; reproject to a north-up grid first")
    rev: list[tuple[float, float] | None] = [None, None]
    w = _written_transform(da)
    if w is None or w.b != 0 or w.d != 0:
        return t, (None, None)
    atol = 1e-9 * max(abs(t.a), abs(t.e))
    axes = []
    for i, (dim, wc, wa, tc, ta) in enumerate(zip(spatial_dims(da), (w.f, w.c), (w.e, w.a),
                                                  (t.f, t.c), (t.e, t.a))):
        n = da.sizes[dim]
        labels = np.asarray(da[dim].values) if dim in da.coords else None
        if _gives(labels, wc, wa, tc, ta, atol):
            axes.append((wc, wa))
            continue
        if n > 1 and _gives(None if labels is None else labels[::-1], wc, wa, tc + n * ta, -ta, atol):
            rev[i] = (wc, wa)
            axes.append((wc + n * wa, -wa))  # a mirrored one's (:func:`_mirror`) exactly
            continue
        axes.append((tc, ta))
    (fy, e), (c, a) = axes
    return Affine(a, 0.0, c, 0.0, e, fy), tuple(rev)


def _transform(da: xr.DataArray) -> Affine:
    """``da``'s north-up transform: per axis the written GeoTransform's where it gives the
    coordinates (:func:`_axes`), else the one recomputed from them."""
    return _axes(da)[0]


def _dtype(da: xr.DataArray, dim: str) -> np.dtype:
    """The dtype results keep for ``dim``'s labels: theirs where they are a narrower float
    (float32: fine labels in float64 never equal them, and xarray's join dropped the pixels),
    else float64."""
    if dim in da.coords and da[dim].dtype.kind == "f" and da[dim].dtype.itemsize < 8:
        return da[dim].dtype
    return _F64


def _in(v: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``v`` rounded to ``dtype`` (labels stored as float32), held as float64."""
    return v if dtype == _F64 else v.astype(dtype).astype(np.float64)


def _labels(da: xr.DataArray, t: Affine) -> tuple[np.ndarray, np.ndarray]:
    """``da``'s (y, x) labels as float64; from the transform for a dim without them."""
    ydim, xdim = spatial_dims(da)
    gy, gx = grid_coords(t, (da.sizes[ydim], da.sizes[xdim]))
    y = np.asarray(da[ydim].values, np.float64) if ydim in da.coords else gy
    x = np.asarray(da[xdim].values, np.float64) if xdim in da.coords else gx
    return y, x


def _centres(fine: np.ndarray, factor: int) -> np.ndarray:
    """The coarse label of each block of ``factor`` fine labels: its middle label (odd factor)
    or the midpoint of its two middle ones (even)."""
    b = fine.reshape(-1, factor)
    m = factor // 2
    return b[:, m].copy() if factor % 2 else (b[:, m - 1] + b[:, m]) / 2


def _rounded(v: float) -> list[float]:
    """``v`` to 8..15 significant digits, roundest first: the round number (0.01 degree, an edge
    at -3.55) that a transform recomputed from the labels misses by round-off."""
    out: list[float] = []
    for p in range(8, 16):
        r = float(f"{v:.{p}g}")
        if r not in out:
            out.append(r)
    return out


def _near(v: float, k: int = 2) -> list[float]:
    """``v`` and the floats up to ``k`` apart from it."""
    out, lo, hi = [float(v)], float(v), float(v)
    for _ in range(k):
        lo, hi = float(np.nextafter(lo, -np.inf)), float(np.nextafter(hi, np.inf))
        out += [lo, hi]
    return out


def _tries(c: float, a: float, exact: bool, first: float | None = None) -> list[tuple[float, float]]:
    """(edge, pixel) pairs for a transform's (``c``, ``a``) along one axis, the likeliest first:
    itself if ``exact`` (not recomputed from the labels: a file's), round values near both,
    edges a round-off from ``c`` or giving the first label ``first``. A short axis is computed
    alike from several: the first that gives it is taken."""
    out = [(c, a)] if exact else []
    for aa in [*_rounded(a), a]:
        edges = [*_rounded(c), *_near(c)]
        if first is not None:
            edges += _near(first - aa / 2)
        out += [(cc, aa) for cc in edges if (cc, aa) not in out]
    return out


def _forms(c: float, a: float, n: int) -> list[np.ndarray | None]:
    """Labels of ``n`` pixels of size ``a`` from edge ``c`` the ways they are computed:
    rioxarray's (and ``np.arange``'s) first centre plus ``i * a``, ``c + (i + 0.5) * a`` (an
    array made from its transform), and on a round grid (None elsewhere) from a round first
    centre or rounded to its decimals (a NetCDF's 45.005, 45.015)."""
    i = np.arange(n)
    first = c + a * 0.5
    out: list[np.ndarray | None] = [first + i * a, c + (i + 0.5) * a, None, None]
    for q in range(13):
        if abs(round(first, q) - first) <= 1e-9 * abs(a) and abs(round(a, q) - a) <= 1e-9 * abs(a):
            out[2:] = [round(first, q) + i * a, np.round(first + i * a, q)]
            break
    return out


def _fit_axis(labels: np.ndarray, c: float, a: float, dtype: np.dtype = _F64,
              mirrored: bool = False) -> tuple[int, float, float, bool] | None:
    """(form, edge, pixel, reversed) that compute exactly ``labels`` (one of :func:`_forms`,
    from the transform's ``c``, ``a`` or values a round-off from them; ``reversed``: the labels
    are those of the axis run the other way, a south-up field made north-up), or None.
    ``dtype``: the labels' storage (float32: the forms rounded to it); ``mirrored``: the axis
    runs against north-up order (:func:`_fine_axis`), a written transform's mirror tried second."""
    n = labels.size
    head = min(n, 8)  # a few labels first: most tries fail there
    # not the transform rioxarray recomputes from the labels (``rio.transform(recalc=True)``):
    # a written one (a file's), exact
    res = (labels[-1] - labels[0]) / (n - 1) if n > 1 else a
    exact = (c, a) != (labels[0] - res / 2, res)
    tries = [(cc, aa, False) for cc, aa in _tries(c, a, exact, float(labels[0]))]
    if n > 1:  # the transform of the axis run the other way: for a mirrored axis the written
        # one mirrored (a result's for a south-up field: :func:`_mirror`) next to it, before
        # values a round-off from it (which gave such a result's labels too, but other coarse
        # ones); else recomputed from the flipped labels, last (np.linspace's north-up labels
        # fit both ways: tried earlier, they got fine labels an ulp off)
        mirror = exact and mirrored
        other = [(cc, aa, True) for cc, aa in _tries(c + n * a, -a, mirror, float(labels[-1]))]
        tries = [*tries[:1], *other[:1], *tries[1:], *other[1:]] if mirror else tries + other
    for cc, aa, flip in tries:
        target = labels[::-1] if flip else labels
        for k, form in enumerate(_forms(cc, aa, head)):
            if form is not None and np.array_equal(_in(form, dtype), target[:head]) \
                    and np.array_equal(_in(_forms(cc, aa, n)[k], dtype), target):  # type: ignore[arg-type]
                return k, cc, aa, flip
    return None


def _mirror(c: float, a: float, n: int) -> tuple[float, float]:
    """(edge, pixel) of an axis of ``n`` pixels of size ``a`` from edge ``c`` run the other way
    (a south-up field's from its north-up ones): the pixel exact (recomputed from the labels, a
    file's 0.025000000000000015 read 0.025, whose labels it does not give), and an edge that
    mirrors back to ``c`` exactly (``e + n * -a == c``: :func:`_axes`, :func:`_fit_axis`)."""
    for e in _near(c + n * a):
        if e + n * -a == c:
            return e, -a
    return c + n * a, -a


def _coarse_axis(fine: np.ndarray, c: float, a: float, factor: int,
                 dtype: np.dtype = _F64, rev: tuple[float, float] | None = None,
                 mirrored: bool = False) -> tuple[np.ndarray, float, float]:
    """(labels, edge, pixel) of one axis ``factor`` times coarser than the ``fine`` labels (edge
    ``c``, pixel ``a``): computed as the fine ones were (:func:`_fit_axis`), from which
    :func:`_fine_axis` computes the fine labels back; else each block's centre
    (:func:`_centres`). Labels rounded to ``dtype``, the fine ones' storage. ``rev``: the
    written (edge, pixel) of the axis run the other way (:func:`_axes`): the labels are those of
    the field it was flipped from, reversed; ``mirrored``: as for :func:`_fine_axis`."""
    if rev is not None:
        out, cc, aa = _coarse_axis(fine[::-1], *rev, factor, dtype, mirrored=not mirrored)
        return (out[::-1], *_mirror(cc, aa, out.size))
    fit = _fit_axis(fine, c, a, dtype, mirrored)
    if fit is None:
        return _in(_centres(fine, factor), dtype), c, a * factor
    k, cc, aa, flip = fit
    out = _forms(cc, aa * factor, fine.size // factor)[k]
    if out is None:  # no round grid at this resolution
        return _in(_centres(fine, factor), dtype), c, a * factor
    out = _in(out, dtype)
    if not flip:
        return out, cc, aa * factor
    return (out[::-1], *_mirror(cc, aa * factor, out.size)) if mirrored else (out[::-1], c, a * factor)


def _fine_axis(coarse: np.ndarray, c: float, a: float, factor: int,
               dtype: np.dtype = _F64, rev: tuple[float, float] | None = None,
               mirrored: bool = False) -> tuple[np.ndarray, float, float]:
    """(labels, edge, pixel) of one axis ``factor`` times finer than the ``coarse`` labels (edge
    ``c``, pixel ``a``), from which :func:`_coarse_axis` gives the coarse labels back.

    Labels computed one of the ways of :func:`_forms` give fine labels computed the same way
    (those of a file on the fine grid, those the field had before :func:`coarse_grid`); others
    (or where that does not give them back: the factor 3 of a MODIS pixel) the transform's
    fine labels with each block centred on its coarse label (:func:`_snap`). Labels 1e-9 m off
    the input's made xarray's arithmetic (``coarsen(upscale(lst)) - lst``) drop most pixels.
    Labels rounded to ``dtype``, the coarse ones' storage. ``rev``: the written (edge, pixel)
    of the axis run the other way (:func:`_axes`): the fine labels are those of the field it was
    flipped from, reversed (recomputed, 32 of 42 were 1e-14 degree off them).

    ``mirrored``: the axis (``rev``'s where given) runs against north-up order (y up, x west),
    as a result's for a south-up field does under the mirror of a north-up transform: its
    labels are tried early as those of the axis run the other way, and get that transform
    mirrored (:func:`_mirror`). An axis running north-up keeps the computation it always had
    (the other way tried last, its transform kept): np.linspace's labels fit both ways, and
    mirrored they got fine labels and pixel an ulp off those of a fine field built the same way
    (``upscale(lst) - truth`` kept 35800 of 75600 pixels, 42960 before).
    """
    if rev is not None:
        fine, fc, fa = _fine_axis(coarse[::-1], *rev, factor, dtype, mirrored=not mirrored)
        return (fine[::-1], *_mirror(fc, fa, fine.size))
    n = coarse.size
    fit = _fit_axis(coarse, c, a, dtype, mirrored)
    if fit is not None:
        k, cc, aa, flip = fit
        pure = _forms(cc, aa / factor, n * factor)[k]
        if pure is not None:
            pure, fc, fa, rv = _in(pure, dtype), cc, aa / factor, None
            if flip and mirrored:  # computed run the other way: reversed, its transform mirrored
                rv, pure, (fc, fa) = (fc, fa), pure[::-1], _mirror(fc, fa, pure.size)
            elif flip:  # a north-up axis keeps its transform
                pure, fc, fa = pure[::-1], c, a / factor
            if np.array_equal(_coarse_axis(pure, fc, fa, factor, dtype, rv, mirrored)[0], coarse):
                return pure, fc, fa
    fine = _in(_snap(_forms(c, a / factor, n * factor)[0], coarse, factor, a), dtype)  # type: ignore[arg-type]
    if factor > 1 and not np.array_equal(
            _coarse_axis(fine, c, a / factor, factor, dtype, mirrored=mirrored)[0], coarse):
        # computed one of the ways the coarse labels were not: coarse_grid would compute them
        # that way. One label moved by round-off (its block's centre kept) makes it take the
        # centres, the coarse labels
        for row, k in ((-1, 1), (0, 1), (-1, 4), (0, 4), (-1, 16)):
            b = fine.reshape(-1, factor).copy()
            out, inner = (-1, 0) if row == -1 else (0, -1)  # the axis' end label, and its pair's
            # a step of the labels' storage
            d = k * np.sign(b[row, out] - b[row, inner]) * abs(float(np.spacing(dtype.type(b[row, out]))))
            b[row, out] += d
            if factor == 2:
                b[row, inner] -= d
            if np.array_equal(_coarse_axis(b.ravel(), c, a / factor, factor, dtype,
                                           mirrored=mirrored)[0], coarse):
                return b.ravel(), c, a / factor
    return fine, c, a / factor


def _snap(fine: np.ndarray, coarse: np.ndarray, factor: int, pixel: float) -> np.ndarray:
    """``fine`` with each block centred on its coarse label where it is to round-off (a
    :func:`same_axis` tolerance): its middle label set to it (odd factor), or one of its middle
    pair moved by round-off so that their midpoint is it (even). ``pixel``: the coarse one."""
    b = fine.reshape(-1, factor).copy()
    m = factor // 2
    # round-off of float64 only: float32 labels (a NetCDF's, a Zarr's) are off by up to 0.1 m,
    # and snapping to them made the fine labels irregular (refused by xlstsr afterwards)
    near = np.abs(_centres(fine, factor) - coarse) <= 64 * np.spacing(np.abs(coarse))
    if factor % 2:
        b[:, m] = np.where(near, coarse, b[:, m])
        return b.ravel()
    u, v = b[:, m - 1], b[:, m]
    two = 2 * coarse
    for nu, nv in ((u, two - u), (two - v, v), (u, np.nextafter(two - u, np.inf)),
                   (u, np.nextafter(two - u, -np.inf))):
        fix = near & ((u + v) / 2 != coarse) & ((nu + nv) / 2 == coarse)
        u, v = np.where(fix, nu, u), np.where(fix, nv, v)
    b[:, m - 1], b[:, m] = u, v
    return b.ravel()


def fine_grid(da: xr.DataArray, factor: int) -> tuple[np.ndarray, np.ndarray, Affine]:
    """(y, x, transform) of the grid ``factor`` times finer, with the same outer bounds.

    :func:`coarse_grid` of it gives back ``da``'s labels exactly, and ``da`` from
    :func:`coarse_grid` gets back the labels it was computed from (where they were computed one
    of the usual ways and its transform is written): ``coarsen(upscale(lst))`` and
    ``upscale(coarsen(t))`` keep the input's labels, on which xarray's arithmetic aligns.
    """
    t, (ry, rx) = _axes(da)
    ydim, xdim = spatial_dims(da)
    yt, xt = _dtype(da, ydim), _dtype(da, xdim)
    y, x = _labels(da, t)
    # an axis running south-up or west may be a south-up field's mirrored (:func:`_fine_axis`)
    y, fy0, fe = _fine_axis(y, t.f, t.e, factor, yt, ry, t.e > 0)
    x, fx0, fa = _fine_axis(x, t.c, t.a, factor, xt, rx, t.a < 0)
    return y.astype(yt), x.astype(xt), Affine(fa, 0.0, fx0, 0.0, fe, fy0)


def coarse_grid(da: xr.DataArray, factor: int) -> tuple[np.ndarray, np.ndarray, Affine]:
    """(y, x, transform) of the grid ``factor`` times coarser (sizes must divide by ``factor``).

    Labels computed one of the usual ways (rioxarray's, ``np.arange``'s, round decimals) give
    coarse labels computed the same way, from which :func:`fine_grid` computes them back
    exactly; others give the centre of each block (the middle label, or the midpoint of the
    middle two), which a grid of :func:`fine_grid` has on its coarse labels.
    """
    t, (ry, rx) = _axes(da)
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
    yt, xt = _dtype(da, ydim), _dtype(da, xdim)
    y, x = _labels(da, t)
    y, ty, te = _coarse_axis(y, t.f, t.e, factor, yt, ry, t.e > 0)
    x, tx, ta = _coarse_axis(x, t.c, t.a, factor, xt, rx, t.a < 0)
    return y.astype(yt), x.astype(xt), Affine(ta, 0.0, tx, 0.0, te, ty)


def with_grid(
    data: object,
    template: xr.DataArray,
    y: np.ndarray,
    x: np.ndarray,
    transform: Affine,
    dims: tuple[str, ...],
) -> xr.DataArray:
    """Wrap ``data`` as a DataArray on a new spatial grid, keeping the template's other coords
    and CRS.

    The coords keep their values and attributes, and of their encoding only what says what the
    values mean (``units``, ``calendar`` of times): how the input's store held them (a Zarr v2
    ``compressors``, ``chunks``, ``filters``) made writing the result to another store fail
    (zarr's "Expected a BytesBytesCodec" in a Zarr v3 one).
    """
    ydim, xdim = spatial_dims(template)
    coords = {}
    for k, v in template.coords.items():
        if ydim in v.dims or xdim in v.dims or k == "spatial_ref":
            continue
        var = v.variable.copy(deep=False)  # a new Variable: the template's encoding is untouched
        var.encoding = _semantic_encoding(var.encoding)
        coords[k] = var
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
    # rioxarray reprojects only (..., y, x) arrays (InvalidDimensionOrder otherwise): a guide
    # read or stacked as (y, x, time) / (time, x, y) gets its spatial dims last, so the result
    # is (..., y, x) as from a (time, y, x) guide
    src = guide.astype(np.float32).transpose(..., gy_, gx_)
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


#: coordinate ``units`` of a grid without a CRS -> metres per unit
METRES_PER = {"m": 1.0, "metre": 1.0, "meter": 1.0, "metres": 1.0, "meters": 1.0,
              "km": 1000.0, "kilometre": 1000.0, "kilometer": 1000.0}


def grid_unit(da: xr.DataArray, ydim: str, xdim: str, lat_lon_named: bool) -> tuple[float, str]:
    """(metres per grid unit, unit) of ``da``'s grid: 1 and 'degree' for degrees.

    The CRS's axis unit where it has one (EPSG:2263: US survey feet, 0.3048006 m per unit), else
    the coordinates' ``units`` attribute (``lat_lon_named``: dims named latitude/longitude)."""
    try:
        crs = da.rio.crs
    except Exception:  # a grid mapping rioxarray cannot read: judged by the coordinates' units
        crs = None
    if crs is not None:
        try:
            from pyproj import CRS

            pcrs = CRS.from_user_input(crs)
        except Exception:  # a CRS pyproj cannot read: metres, as before
            return 1.0, "m"
        if pcrs.is_geographic:
            return 1.0, "degree"
        # the axes' linear unit (EPSG:2263: US survey feet, 0.3048006 m)
        factors = [ax.unit_conversion_factor for ax in pcrs.axis_info]
        if factors and all(np.isfinite(f) and f > 0 for f in factors):
            return float(factors[-1]), "m"
        return 1.0, "m"
    units = [str(da[d].attrs.get("units", "")).strip().lower() if d in da.coords else ""
             for d in (ydim, xdim)]
    if lat_lon_named or any(u.startswith("degree") for u in units):
        return 1.0, "degree"
    known = [METRES_PER[u] for u in units if u in METRES_PER]
    return (known[-1] if known else 1.0), "m"


def metres_per_degree(lat: float) -> tuple[float, float]:
    """Metres per degree of latitude and of longitude at latitude ``lat`` (degrees) on the WGS84
    ellipsoid, to < 0.01 % (the series' first terms).

    Examples
    --------
    >>> [round(m) for m in metres_per_degree(60.0)]
    [111412, 55800]
    """
    phi = np.deg2rad(float(lat))
    m_lat = 111_132.92 - 559.82 * np.cos(2 * phi) + 1.175 * np.cos(4 * phi)
    m_lon = 111_412.84 * np.cos(phi) - 93.5 * np.cos(3 * phi)
    return float(m_lat), float(m_lon)
