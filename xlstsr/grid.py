"""Grids: fine and coarse grids for an integer factor, and alignment of a guide onto the fine grid."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import numbers
from collections.abc import Iterator, Mapping
from typing import Any

import dask.array as dsa
import numpy as np
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr
from affine import Affine
from rasterio.enums import Resampling

from .errors import GridError, GuideAlignmentWarning, GuideCoverageError, warn
from .validate import (
    _LAT_NAMES,
    _LON_NAMES,
    _gives,
    _refuse_coordinate_units,
    _written_transform,
    crs_mismatch,
    crs_name_and_axis,
    label_transform,
    north_up,
    require_georeferenced,
    spatial_dims,
)

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
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    step = abs(float(a64[1] - a64[0])) if a.size > 1 else 1.0
    atol = max(tol * step, label_rounding(a, b, step=step))
    return bool(np.allclose(a64, b64, rtol=0, atol=atol))


def label_rounding(*labels: Any, step: float) -> float:
    """How far labels stored in a float narrower than float64 (float32: a NetCDF's, a Zarr's)
    may lie from the grid they hold, in their units; 0.0 where all are float64 (or integers).

    Labels stored in float32 hold a grid to their own step only: one float32 step at 45
    degrees is 1.5e-3 of a 0.0025-degree pixel, and the same grid computed and stored twice was
    "not on the same grid". Two steps at most, and never 5 % of the pixel ``step``: 4 steps
    at a northing of 5e6 m (2 m) took a grid shifted 1.9 m from a 10 m one for the same.

    Examples
    --------
    >>> import numpy as np
    >>> y = 4.9e6 - np.arange(3) * 231.65635826
    >>> label_rounding(y, step=231.66), label_rounding(y.astype(np.float32), step=231.66)
    (0.0, 1.0)
    """
    arrays = [np.asarray(v) for v in labels]
    narrow = [v for v in arrays if v.dtype.kind == "f" and v.dtype.itemsize < 8 and v.size]
    if not narrow:
        return 0.0
    big = max(float(np.abs(v.astype(np.float64)).max()) for v in arrays if v.size)
    dtype = min((v.dtype for v in narrow), key=lambda d: d.itemsize)
    ulp = float(np.spacing(dtype.type(big)))
    return min(2 * ulp, 0.05 * abs(step))


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
    t = label_transform(da)
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


def _stale(da: xr.DataArray) -> tuple[tuple[float, float] | None, ...]:
    """Per axis (y, x), the written (edge, pixel) that gives the labels a whole number (>= 1) of
    pixels away, else None: the GeoTransform of the file a window was cut from by ``isel``
    (which leaves it written; ``rio.isel_window`` writes the window's own). The labels are the
    file's, computed from that edge (:func:`_offset_fits`), not from the window's own: the
    recomputed transform alone gave fine labels 3.6e-12 m off them."""
    w = _written_transform(da)
    if w is None or w.b != 0 or w.d != 0:
        return None, None
    out: list[tuple[float, float] | None] = []
    for dim, wc, wa in zip(spatial_dims(da), (w.f, w.c), (w.e, w.a)):
        hint = None
        if dim in da.coords and da.sizes[dim] > 1 and wa != 0 and np.isfinite([wc, wa]).all():
            v = np.asarray(da[dim].values, np.float64)
            res = (v[-1] - v[0]) / (v.size - 1)
            k = (v[0] - wc) / wa - 0.5
            if abs(res - wa) <= 1e-6 * abs(wa) and round(k) >= 1 and abs(k - round(k)) <= 1e-3:
                hint = (float(wc), float(wa))
        out.append(hint)
    return tuple(out)


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


def _rounded(v: float, lo: int = 8) -> list[float]:
    """``v`` to ``lo``..15 significant digits, roundest first: the round number (0.01 degree, an
    edge at -3.55) that a transform recomputed from the labels misses by round-off (``lo`` 3 for
    float32 labels, which give it to 5 or 6 digits only: :func:`_digits`)."""
    out: list[float] = []
    for p in range(lo, 16):
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


def _digits(dtype: np.dtype) -> int:
    """The fewest significant digits :func:`_rounded` tries for labels stored in ``dtype``: 8,
    or 3 for a narrower float (a transform recomputed from float32 labels is off by 1e-6 of
    the edge and 1e-4 of the pixel: lon/lat labels of a 0.0025-degree grid at 45 degrees got
    no round grid, and fine labels a float32 step off theirs)."""
    return 3 if dtype.kind == "f" and dtype.itemsize < 8 else 8


def _tries(c: float, a: float, exact: bool, first: float | None = None,
           lo: int = 8) -> list[tuple[float, float]]:
    """(edge, pixel) pairs for a transform's (``c``, ``a``) along one axis, the likeliest first:
    itself if ``exact`` (not recomputed from the labels: a file's), round values near both (to
    ``lo`` significant digits and more: :func:`_rounded`), edges a round-off from ``c`` or giving
    the first label ``first``. A short axis is computed alike from several: the first that
    gives it is taken."""
    out = [(c, a)] if exact else []
    for aa in [*_rounded(a, lo), a]:
        edges = [*_rounded(c, lo), *_near(c)]
        if first is not None:
            edges += _near(first - aa / 2)
        out += [(cc, aa) for cc in edges if (cc, aa) not in out]
    return out


def _forms(c: float, a: float, n: int, off: float = 0) -> list[np.ndarray | None]:
    """Labels of ``n`` pixels of size ``a`` from edge ``c`` the ways they are computed:
    rioxarray's (and ``np.arange``'s) first centre plus ``i * a``, ``c + (i + 0.5) * a`` (an
    array made from its transform), and on a round grid (None elsewhere) from a round first
    centre or rounded to its decimals (a NetCDF's 45.005, 45.015). ``off``: the pixels from
    the edge to the first label (``i`` runs from it): a crop of the grid of edge ``c``
    (``isel``, ``rio.isel_window``: :func:`_offset_fits`), a fraction of a pixel for the coarse
    grid of a crop by a number of fine pixels that ``factor`` does not divide."""
    i = off + np.arange(n)
    first = c + a * 0.5
    out: list[np.ndarray | None] = [first + i * a, c + (i + 0.5) * a, None, None]
    for q in range(13):
        if abs(round(first, q) - first) <= 1e-9 * abs(a) and abs(round(a, q) - a) <= 1e-9 * abs(a):
            out[2:] = [round(first, q) + i * a, np.round(first + i * a, q)]
            break
    return out


def _fit_axis(labels: np.ndarray, c: float, a: float, dtype: np.dtype = _F64,
              mirrored: bool = False, more: bool = False,
              bare: bool = False) -> tuple[int, float, float, bool] | None:
    """:func:`_fit_search` of ``labels``, kept: every step of a run (the checks, the coarse and
    fine grids, the writers) fits the same few axes again, 5 of 6 fits were repeats."""
    labels = np.ascontiguousarray(labels)
    return _fit_search(labels.tobytes(), labels.dtype, c, a, np.dtype(dtype), mirrored, more,
                       bare)


@functools.lru_cache(maxsize=256, typed=True)  # typed: a float32 edge is not its float64
def _fit_search(key: bytes, ltype: np.dtype, c: float, a: float, dtype: np.dtype = _F64,
                mirrored: bool = False, more: bool = False,
                bare: bool = False) -> tuple[int, float, float, bool] | None:
    """(form, edge, pixel, reversed) that compute exactly ``labels`` (one of :func:`_forms`,
    from the transform's ``c``, ``a`` or values a round-off from them; ``reversed``: the labels
    are those of the axis run the other way, a south-up field made north-up), or None.
    ``dtype``: the labels' storage (float32: the forms rounded to it); ``mirrored``: the axis
    runs against north-up order (:func:`_fine_axis`), a written transform's mirror tried second.
    ``more``: for labels stored in a narrower float, also values rounded to as few digits as
    those give (:func:`_digits`), then any transform that gives them (:func:`_fit_narrow`):
    where the others give grids that do not round-trip. ``bare``: no transform is written with
    the labels (float64): rioxarray's own (edge, pixel) for them (:func:`_rio_fit`) is tried
    right after a pixel round to 8 digits."""
    labels = np.frombuffer(key, ltype)
    n = labels.size
    head = min(n, 8)  # a few labels first: most tries fail there
    # not the transform rioxarray recomputes from the labels (``rio.transform(recalc=True)``):
    # a written one (a file's), exact
    res = (labels[-1] - labels[0]) / (n - 1) if n > 1 else a
    exact = (c, a) != (labels[0] - res / 2, res)
    lo = _digits(dtype) if more else 8
    tries = [(cc, aa, False) for cc, aa in _tries(c, a, exact, float(labels[0]), lo)]
    rio = _rio_fit(labels) if bare and not exact and dtype == _F64 else None
    if rio is not None:
        # labels written without their transform (a CF NetCDF of CDO, NCO, AppEEARS): those
        # rioxarray computed from the file's transform; a pixel round to 8 digits first (0.01
        # degree), then the file's edge and pixel as well as the labels give them. The
        # recomputed pixel is some ulps off the file's and 15-digit rounds of it (1/120 degree
        # as 0.00833333333333333) gave them too: coarse labels 1 ulp off rioxarray's of the
        # coarse grid, and ``coarsen(truth) - lst`` dropped a third of the rows and columns
        p8 = _rounded(a, lo)[0]
        tries = [*[t for t in tries if t[1] == p8], (*rio, False), *[t for t in tries if t[1] != p8]]
    if n > 1:  # the transform of the axis run the other way: for a mirrored axis the written
        # one mirrored (a result's for a south-up field: :func:`_mirror`) next to it, before
        # values a round-off from it (which gave such a result's labels too, but other coarse
        # ones); else recomputed from the flipped labels, last (np.linspace's north-up labels
        # fit both ways: tried earlier, they got fine labels an ulp off)
        mirror = exact and mirrored
        other = [(cc, aa, True) for cc, aa in _tries(c + n * a, -a, mirror, float(labels[-1]), lo)]
        back = _rio_fit(labels[::-1]) if bare and not exact and dtype == _F64 else None
        if back is not None and (*back, True) not in other:
            # bare labels computed the other way (a NetCDF's latitude from the south edge,
            # flipped north-up), last: 15-digit rounds miss 1/120 degree, whose coarse labels
            # were then the block centres, 1 ulp off a coarse file's, and gave no fine ones back
            other.append((*back, True))
        tries = [*tries[:1], *other[:1], *tries[1:], *other[1:]] if mirror else tries + other
    if more:  # a transform for these labels as they run
        tries = [t for t in tries if not t[2]]
    for cc, aa, flip in tries:
        target = labels[::-1] if flip else labels
        for k, form in enumerate(_forms(cc, aa, head)):
            if form is not None and np.array_equal(_in(form, dtype), target[:head]) \
                    and np.array_equal(_in(_forms(cc, aa, n)[k], dtype), target):  # type: ignore[arg-type]
                return k, cc, aa, flip
    if more and dtype != _F64:
        fit = _fit_narrow(labels, dtype)
        if fit is not None:
            return 1, fit[0], fit[1], False
    return None


#: The floats each side of the pixel a bare axis' labels give that :func:`_rio_fit` tries.
_RIO_STEPS = 32


@functools.lru_cache(maxsize=64)
def _rio_search(key: bytes) -> tuple[float, float] | None:
    """:func:`_rio_fit` of the labels whose bytes are ``key``, kept (the checks fit the same
    labels again)."""
    labels = np.frombuffer(key, np.float64)
    n = labels.size
    # the pixels whose i-th multiple added to the first label rounds to the i-th label: an
    # interval (round-off of the label and of the product), bounded in extended precision
    ext = labels.astype(np.longdouble)
    i = np.arange(1, n, dtype=np.longdouble)
    d = ext[1:] - ext[0]
    h = (np.spacing(np.abs(labels[1:])) + np.spacing(np.abs(labels[1:] - labels[0]))) / 2
    lo = float(((d - h.astype(np.longdouble)) / i).max())
    hi = float(((d + h.astype(np.longdouble)) / i).min())
    if not lo <= hi:
        return None
    mid = (lo + hi) / 2
    pixels, down, up = [*_rio_simple(lo, hi, mid), mid], mid, mid
    for _ in range(_RIO_STEPS):
        down, up = float(np.nextafter(down, -np.inf)), float(np.nextafter(up, np.inf))
        pixels += [down, up]
    steps = np.arange(n)
    for aa in dict.fromkeys(pixels):  # the simple ones first, then from the middle out
        # rioxarray's labels are the first centre plus i pixels: with the first centre the
        # first label (the edges below keep it so), whichever edge it came from
        if not np.array_equal(labels[0] + steps * aa, labels):
            continue
        e = float(labels[0]) - aa * 0.5  # a round edge (7.3 under 926.6 m pixels) can be further
        found = sorted({cc for cc in [*_near(e), *_rounded(e, 1)]
                        if cc + aa * 0.5 == labels[0]})  # the first centre is the first label
        if found:
            # the edge of the fewest digits (60.0, 7.3, -180.0), else the middle one
            short = min(found, key=lambda cc: len(repr(cc)))
            tie = sum(len(repr(cc)) == len(repr(short)) for cc in found) > 1
            return (found[len(found) // 2] if tie else short), aa
    return None


#: The largest denominator of the fractions of a degree (1/120, 1/240, 1/3600) or of a unit
#: (0.0025 = 1/400) that :func:`_rio_simple` takes for a pixel.
_RIO_DENOMINATOR = 3600


#: The floats an interval of pixels spans from which :func:`_rio_simple` takes a decimal round:
#: narrower, its middle (-926.6254330550003 of a MODIS file's 64 rows, 2 floats off -926.625433055).
_RIO_WIDE = 64


def _rio_simple(lo: float, hi: float, mid: float) -> list[float]:
    """The pixels between ``lo`` and ``hi`` more likely than the middle ``mid`` to be the file's:
    the fraction of the smallest denominator (1/240, 0.01 = 1/100, 30), then, where the interval
    spans more than :data:`_RIO_WIDE` floats (4 to 16 labels), the decimal rounds in it of as
    few digits as it holds at most about one of (-926.625433055 of a MODIS strip of 4 rows).
    On such a short axis the middle of the interval gave fine labels 1 ulp off rioxarray's
    where the round pixel gave them all; on a long one the interval is a few floats wide and a
    15-digit round (0.00833333333333333 for 1/120 degree) or a near-round one in it was not the
    file's pixel: the middle."""
    out: list[float] = []
    q = np.arange(1, _RIO_DENOMINATOR + 1, dtype=np.float64)
    with np.errstate(all="ignore"):
        p = np.round(mid * q)
        v = p / q
    ok = np.flatnonzero((v >= lo) & (v <= hi) & (np.abs(p) < 2.0 ** 53))
    if ok.size:
        out.append(float(v[ok[0]]))
    width = hi - lo
    for r in _rounded(mid, 1):
        digits = len(f"{abs(r):.15e}".split("e")[0].rstrip("0").replace(".", "")) or 1
        step = 10.0 ** (np.floor(np.log10(abs(mid))) - digits + 1)
        if lo <= r <= hi and width < step and width > _RIO_WIDE * np.spacing(abs(mid)):
            out.append(r)
    return out


def _rio_fit(labels: np.ndarray) -> tuple[float, float] | None:
    """(edge, pixel) from which rioxarray's label formula (``affine_to_coords``: first centre
    ``edge + pixel * 0.5`` plus ``i * pixel``, :func:`_forms` 0) computes exactly ``labels``
    (float64, 3 or more), a simple one (:func:`_rio_simple`) or the one nearest the middle
    where several floats do, else None: those of the
    transform of the file whose GeoTransform was not written with them (a CF NetCDF of CDO,
    NCO, AppEEARS read back), so that labels derived from it (:func:`_coarse_axis`,
    :func:`_fine_axis`) are those rioxarray computes for the derived grid."""
    labels = np.ascontiguousarray(labels, np.float64)
    if labels.size < 3 or not np.isfinite(labels).all() or labels[1] == labels[0]:
        return None
    return _rio_search(labels.tobytes())


#: The most whole pixels between a crop's first label and the edge of the grid it was cut from
#: that :func:`_offset_fits` searches beyond a written transform's (a MODIS 250 m tile has 4800,
#: a Landsat scene 8000).
_MAX_OFFSET = 1 << 14


def _offset_values(cc: np.ndarray, o: np.ndarray, aa: float, form: int,
                   idx: np.ndarray) -> np.ndarray:
    """Labels ``idx`` of the crops at ``o`` pixels of size ``aa`` from the edges ``cc`` (one row
    per candidate), computed as :func:`_forms` ``form`` (0 or 1) computes them."""
    m = o[:, None] + idx[None, :]
    if form == 0:
        return (cc + aa * 0.5)[:, None] + m * aa
    return cc[:, None] + (m + 0.5) * aa


def _lsbs(v: np.ndarray) -> np.ndarray:
    """The value of each ``v``'s lowest set bit (inf for 0): the larger, the rounder ``v`` is in
    binary. A file's edge is often such a value (a difference of two large numbers:
    ``-20015109.354 + 18 * 1111950.5197665`` is a multiple of 2**-28); edges computed back from
    a crop's labels a round-off from it are not."""
    m, e = np.frexp(np.asarray(v, np.float64))
    i = (np.abs(m) * 2.0**53).astype(np.int64)
    low = np.log2((i & -i).astype(np.float64), where=i > 0, out=np.zeros(i.shape))
    return np.where(i > 0, np.ldexp(1.0, (e - 53 + low).astype(np.int64)), np.inf)


def _survivors(labels: np.ndarray, cc: np.ndarray, o: np.ndarray, aa: float,
               form: int) -> np.ndarray:
    """The indices of the candidate crops (edges ``cc``, offsets ``o``) that give the first 64
    ``labels`` (:func:`_offset_values`), in order; a few labels first."""
    keep = np.arange(cc.size)
    idx = np.arange(min(labels.size, 64))
    for sl in (slice(0, 1), slice(1, 4), slice(4, 16), slice(16, 64)):
        if not idx[sl].size or not keep.size:
            break
        vals = _offset_values(cc[keep], o[keep], aa, form, idx[sl])
        keep = keep[(vals == labels[idx[sl]]).all(axis=1)]
    return keep


def _roundness(v: np.ndarray, dlo: int, dhi: int) -> np.ndarray:
    """How round each ``v`` is: the larger of its lowest set bit (:func:`_lsbs`) and of
    ``10**-d`` for the fewest decimals ``d`` in ``dlo``..``dhi`` that hold it (inf for 0)."""
    unit = _lsbs(v)
    for d in range(dhi, dlo - 1, -1):
        unit = np.where(np.round(v, d) == v, np.maximum(unit, 10.0**-d), unit)
    return unit


@functools.lru_cache(maxsize=64)
def _offset_search(key: bytes, pixels: tuple[float, ...], hint: tuple[float, float] | None,
                   window: float | None) -> tuple[tuple[int, float, float, int], ...]:
    """:func:`_offset_fits` of the labels whose bytes are ``key``, kept (the same labels are
    coarsened again by the checks)."""
    labels = np.frombuffer(key, np.float64)
    n = labels.size
    out: list[tuple[int, float, float, int]] = []

    def add(form: int, cc: float, aa: float, o: int) -> None:
        if (form, cc, aa, o) not in out and \
                np.array_equal(_forms(cc, aa, n, o)[form], labels):  # type: ignore[arg-type]
            out.append((form, cc, aa, o))

    if hint is not None:
        hc, ha = hint
        o = round(float((labels[0] - hc) / ha) - 0.5)
        if o >= 1:
            for form in (0, 1):
                add(form, hc, ha, o)
        return tuple(out)
    big = float(np.abs(labels[[0, -1]]).max())
    # decimals of the round edges: coarser than the labels' round-off by 256 steps or more
    dhi = int(np.floor(-np.log10(256 * float(np.spacing(big))))) if big > 0 else 15
    dlo = dhi - 8
    os_ = np.arange(1, _MAX_OFFSET + 1)
    found: list[tuple[float, int, int, float, float]] = []
    for aa in pixels:
        if not np.isfinite(aa) or aa == 0:
            continue
        edge = labels[0] - (os_ + 0.5) * aa
        first = labels[0] - os_ * aa
        for form, base in ((0, first), (1, edge)):
            # round edges (0, a file's 5559752.598833), and edges a round-off from the one
            # the first label gives (through a first centre for form 0)
            steps, lo, hi = [base], base, base
            for _ in range(4):
                lo, hi = np.nextafter(lo, -np.inf), np.nextafter(hi, np.inf)
                steps += [lo, hi]
            near = np.stack(steps, axis=1)
            if form == 0:
                near = near - aa * 0.5
            cands = np.concatenate(
                [np.stack([np.round(edge, d) for d in range(dlo, dhi + 1)], axis=1), near], axis=1)
            o = np.repeat(os_, cands.shape[1])
            cc = cands.ravel()
            keep = _survivors(labels, cc, o, aa, form)
            if window is not None:  # where the window's transform puts its edge
                keep = keep[np.abs(cc[keep] + o[keep] * aa - window) <= 1e-6 * abs(aa)]
            if keep.size:
                # the likeliest edge: the nearest and roundest (a file's edge is round, one a
                # round-off from a crop's labels is not), rioxarray's form first
                score = o[keep] / _roundness(cc[keep], dlo, dhi)
                best = np.argsort(score, kind="stable")[:16]
                found += [(float(score[j]), form, int(o[keep][j]), float(cc[keep][j]), float(aa))
                          for j in best]
    for _, form, o, cc, aa in sorted(found)[:16]:
        add(form, cc, aa, o)
    return tuple(out[:4])


def _offset_fits(labels: np.ndarray, pixels: list[float], hint: tuple[float, float] | None = None,
                 window: float | None = None) -> tuple[tuple[int, float, float, int], ...]:
    """(form, edge, pixel, o) that compute exactly ``labels`` as a crop: those of
    ``_forms(edge, pixel, n, o)[form]`` (form 0 or 1), ``o`` >= 1 whole pixels from the edge of
    the grid it was cut from; the likeliest first. A window of a file (``isel``,
    ``rio.isel_window``) has its file's labels, computed from the file's edge: from its own
    edge, its coarse labels gave fine ones 3.6e-12 m off (``upscale(coarsen(truth)) - truth``
    kept 35 % of the pixels).

    ``hint``: the (edge, pixel) of a written transform that gives the labels at a whole-pixel
    offset (the file's, left by ``isel``: :func:`_stale`): its crop only. Else for each pixel of
    ``pixels`` and offsets 1.. :data:`_MAX_OFFSET`, round edges and edges a round-off from the
    one the first label gives, the nearest and roundest first (:func:`_roundness`); ``window``:
    the crop's written edge, which the edge plus ``o`` pixels must give to 1e-6 pixel.
    """
    labels = np.ascontiguousarray(labels, np.float64)
    if labels.size < 2 or not np.isfinite(labels).all():
        return ()
    return _offset_search(labels.tobytes(), tuple(float(p) for p in pixels),
                          None if hint is None else (float(hint[0]), float(hint[1])),
                          None if window is None else float(window))


#: The floats each side of the middle of the pixels an (edge, offset) allows that
#: :func:`_pixel_fits` tries (the interval holds a few), the (edge, offset) candidates it
#: checks at once, the likeliest first, and the most values of its arrays of labels.
_PIXEL_STEPS = 16
_PIXEL_BATCH = 4096
_PIXEL_VALUES = 1 << 20
#: labels spread evenly along the axis that filter the candidates before all labels do
_PIXEL_SPREAD = 16


@functools.lru_cache(maxsize=64)
def _pixel_search(key: bytes, pixel: float,
                  window: float) -> tuple[tuple[int, float, float, int], ...]:
    """:func:`_pixel_fits` of the labels whose bytes are ``key``, kept (the checks coarsen the
    same labels again)."""
    labels = np.frombuffer(key, np.float64)
    n = labels.size
    ulp = np.spacing(np.abs(labels))
    # the pixel as the labels give it: their span over n - 1 pixels, each end a round-off off
    span = float(labels[-1] - labels[0]) / (n - 1)
    width = 2.0 * float(ulp.max()) / (n - 1)
    plo, phi = span - width, span + width
    if span == 0 or not (np.isfinite([span, pixel, window]).all()
                         and abs(pixel - span) <= 1e-6 * abs(pixel)):
        return ()
    big = float(np.abs(labels[[0, -1]]).max())
    dhi = int(np.floor(-np.log10(256 * float(np.spacing(big))))) if big > 0 else 15
    dlo = dhi - 8
    os_ = np.arange(1, _MAX_OFFSET + 1, dtype=np.float64)
    tol = 1e-6 * abs(pixel)  # where the window's transform puts its edge (:func:`_offset_fits`)
    ext = labels.astype(np.longdouble)
    rows = []
    for form in (0, 1):
        half = 0.5 if form else 0.0
        # round edges where the first label puts the edge, o pixels before it, at either end
        # of the pixels the span allows
        cc = np.sort(np.stack([np.round(labels[0] - (os_ + 0.5) * p, d)
                               for p in (plo, phi) for d in range(dlo, dhi + 1)], axis=1), axis=1)
        first = np.ones(cc.shape, dtype=bool)  # each edge once per offset
        first[:, 1:] = cc[:, 1:] != cc[:, :-1]
        o = np.broadcast_to(os_[:, None], cc.shape)[first]
        cc = cc[first]
        # what the i-th pixel is added to: the edge (form 1) or the first centre computed from
        # it and stored (form 0), for the pixels at either end
        base = cc
        if not form:
            b0, b1 = cc + plo * 0.5, cc + phi * 0.5
            two = b1 != b0
            base = np.concatenate([b0, b1[two]])
            cc, o = np.concatenate([cc, cc[two]]), np.concatenate([o, o[two]])
        lo = np.maximum(plo, (window - cc - tol) / o)
        hi = np.minimum(phi, (window - cc + tol) / o)
        keep = np.flatnonzero(lo <= hi)
        # the ends first, then a few labels spread along the axis, then all labels for the
        # candidates whose interval is still wider than the pixels tried below (the exact check
        # rejects the others' wrong pixels: all labels of the thousands of candidates that
        # stay took seconds on a 4096-pixel axis, where the ends narrow each to a few steps);
        # in blocks of candidates (a long axis' labels times thousands of offsets did not fit
        # in memory at once)
        spread = np.unique(np.linspace(0, n - 1, _PIXEL_SPREAD).round().astype(np.intp))
        for idx in (np.array([0, n - 1]), spread, np.arange(n)):
            todo = keep
            if idx.size == n:
                mid = (lo[keep] + hi[keep]) / 2
                todo = keep[hi[keep] - lo[keep] > _PIXEL_STEPS * np.spacing(np.abs(mid))]
            step = max(1, _PIXEL_VALUES // idx.size)
            for b in range(0, todo.size, step):
                kb = todo[b : b + step]
                m = o[kb, None] + idx[None, :] + half
                # each label is the round-off of base + m * pixel, the product rounded too
                slack = ulp[idx] / 2 + np.spacing(np.abs(m * span)) / 2
                d = ext[idx][None, :] - base[kb, None].astype(np.longdouble)
                lo[kb] = np.maximum(lo[kb], ((d - slack) / m).max(axis=1).astype(np.float64))
                hi[kb] = np.minimum(hi[kb], ((d + slack) / m).min(axis=1).astype(np.float64))
            keep = keep[lo[keep] <= hi[keep]]
        rows.append(np.stack([np.full(keep.size, form), cc[keep], o[keep], lo[keep], hi[keep]],
                             axis=1))
    form, cc, o, lo, hi = np.concatenate(rows).T
    # the likeliest edge first: the nearest and roundest (:func:`_offset_search`)
    order = np.argsort(o / _roundness(cc, dlo, dhi), kind="stable")
    steps = np.array([0, *[s * j for j in range(1, _PIXEL_STEPS + 1) for s in (-1, 1)]])
    out: list[tuple[int, float, float, int]] = []
    for b in range(0, order.size, _PIXEL_BATCH):
        ci = order[b : b + _PIXEL_BATCH]
        # the pixels each candidate allows (its interval is a few steps wide), from the middle
        mid = (lo[ci] + hi[ci]) / 2
        pix = mid[:, None] + steps[None, :] * np.spacing(np.abs(mid))[:, None]
        ok = (pix >= lo[ci, None]) & (pix <= hi[ci, None])
        rows_, cols = np.nonzero(ok)  # candidate-major: the likeliest candidate's pixels first
        cand, p = ci[rows_], pix[rows_, cols]
        keep = np.arange(cand.size)
        for sl in (slice(0, 1), slice(1, 4), slice(4, 16), slice(16, n)):  # as _forms computes
            idx = np.arange(n)[sl]
            if not idx.size or not keep.size:
                break
            i = o[cand[keep], None] + idx[None, :]
            pk = p[keep, None]
            vals = np.where(form[cand[keep], None] == 0,
                            (cc[cand[keep], None] + pk * 0.5) + i * pk,
                            cc[cand[keep], None] + (i + 0.5) * pk)
            keep = keep[(vals == labels[idx]).all(axis=1)]
        for j in keep:
            got = (int(form[cand[j]]), float(cc[cand[j]]), float(p[j]), int(o[cand[j]]))
            if any(g[:2] == got[:2] and g[3] == got[3] for g in out):
                continue  # one pixel per edge and offset: the middle one
            exact = _forms(got[1], got[2], n, got[3])[got[0]]
            if np.array_equal(exact, labels):  # type: ignore[arg-type]
                out.append(got)
            if len(out) == 4:
                return tuple(out)
    return tuple(out)


def _pixel_fits(labels: np.ndarray, pixel: float,
                window: float) -> tuple[tuple[int, float, float, int], ...]:
    """(form, edge, pixel, o) that compute exactly ``labels`` as a crop, as
    :func:`_offset_fits` gives them, where the pixel of the file the crop was cut from is not
    known to the last steps: that of a window's transform recomputed from other labels than
    the crop's (``rio.clip_box``'s from the 65 rows it cut, ``isel`` of 64 of them after it) is
    100 steps off the file's, and no crop at it gives the labels. For each offset ``o`` (1..
    :data:`_MAX_OFFSET`) and round edge where the first label puts it, the pixels that give
    every label to round-off (an interval; ``window``: the crop's written edge, which the edge
    plus ``o`` pixels must give to 1e-6 ``pixel``) are tried exactly, the nearest and roundest
    edge first (:func:`_roundness`)."""
    labels = np.ascontiguousarray(labels, np.float64)
    if labels.size < 2 or not np.isfinite(labels).all():
        return ()
    return _pixel_search(labels.tobytes(), float(pixel), float(window))


def _fit_narrow(labels: np.ndarray, dtype: np.dtype) -> tuple[float, float] | None:
    """(edge, pixel) whose pixel centres ``edge + (i + 0.5) * pixel`` (:func:`_forms` 1) round
    to ``labels`` stored in a narrower float (float32, held as float64): the one farthest
    inside each label's rounding interval (a linear program), or None. Float32 labels of a
    grid of no round edge or pixel fit no transform recomputed from them (those are 1e-6 of
    the edge off): the fine labels of their coarse grid were a float32 step off theirs."""
    from scipy.optimize import linprog

    n = labels.size
    if n < 3:
        return None
    x = np.arange(n) + 0.5
    lab = labels.astype(dtype)
    down = labels - np.nextafter(lab, dtype.type(-np.inf)).astype(np.float64)
    up = np.nextafter(lab, dtype.type(np.inf)).astype(np.float64) - labels
    if not (np.isfinite(down).all() and np.isfinite(up).all()):
        return None
    slope, icpt = np.polyfit(x, labels, 1)
    pred = icpt + slope * x
    u = float(np.median(down + up)) / 2
    # c = icpt + u * p0, a = slope + u / n * p1: each centre within its interval by u * t
    g = np.stack([np.ones(n), x / n], axis=1)
    a_ub = np.block([[g, np.ones((n, 1))], [-g, np.ones((n, 1))]])
    b_ub = np.concatenate([(labels + up / 2 - pred) / u, (pred - labels + down / 2) / u])
    try:
        res = linprog([0.0, 0.0, -1.0], A_ub=a_ub, b_ub=b_ub,
                      bounds=[(None, None), (None, None), (None, 1.0)], method="highs")
    except ValueError:  # scipy's refusal of a degenerate problem
        return None
    if not res.success or res.x[2] < 1e-4:  # inside each interval, by more than round-off
        return None
    c, a = float(icpt + u * res.x[0]), float(slope + u / n * res.x[1])
    if np.array_equal(_in(_forms(c, a, n)[1], dtype), labels):  # type: ignore[arg-type]
        return c, a
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


def _written(labels: np.ndarray, c: float, a: float) -> bool:
    """Whether (``c``, ``a``) is a written transform (a file's, a window's), not the one
    rioxarray recomputes from the ``labels``."""
    n = labels.size
    res = (labels[-1] - labels[0]) / (n - 1) if n > 1 else a
    return (c, a) != (labels[0] - res / 2, res)


#: The attribute of a coarse result's y / x coordinate (:func:`coarse_grid_attrs`, written by
#: ``coarsen``) that says how the labels of the crop it was computed from are computed:
#: ``[factor, form, edge, pixel, offset]`` (:func:`_forms` ``form`` of ``offset`` fine pixels of
#: size ``pixel`` from the edge of the file the crop was cut from; ``form`` + 4: those labels
#: reversed, an axis computed the other way, a NetCDF's latitude from the south edge, flipped
#: north-up: :func:`_origin_labels`). A crop's coarse labels do
#: not give that edge back (a range of edges and offsets gives them); nor do a whole grid's
#: (offset 0) where the coarse pixel divided back by ``factor`` is not the fine one (926.625...
#: m or 0.05 degree at factor 3). It travels with them through NetCDF and Zarr (a GeoTIFF
#: drops it: the labels are then searched as before).
FINE_ORIGIN = "xlstsr_fine_origin"
#: the :func:`_forms` a :data:`FINE_ORIGIN` may name (2, 3: a grid's own round labels, offset 0),
#: and the same + 4 for those labels reversed (:func:`_origin_labels`)
_ORIGIN_FORMS = (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0)
#: what a :data:`FINE_ORIGIN` form adds for labels computed the other way and reversed
_REVERSED = 4


def _origin_labels(cc: float, aa: float, n: int, off: float, form: int
                   ) -> tuple[np.ndarray | None, float, float]:
    """(labels, edge, pixel) of a :data:`FINE_ORIGIN` ``form``: :func:`_forms` ``form`` of ``n``
    pixels of ``aa`` from ``off`` pixels past the edge ``cc``; for a form of
    :data:`_REVERSED` or more those labels reversed, with the edge and pixel of the axis as it
    then runs (:func:`_mirror`, which mirrors back to the edge exactly)."""
    out = _forms(cc, aa, n, off)[form % _REVERSED]
    if form < _REVERSED:
        return out, cc + off * aa, aa
    return (None if out is None else out[::-1]), *_mirror(cc + off * aa, aa, n)


def _crop(fine: np.ndarray, form: int, cc: float, aa: float, o: int, factor: int,
          origin: list[Any] | None = None) -> tuple[np.ndarray, float, float]:
    """(labels, edge, pixel) of the coarse grid of a crop whose labels ``fine`` are those of
    ``o`` pixels of ``aa`` from the edge ``cc`` (:func:`_offset_fits`): its coarse pixels'
    labels computed from that edge, ``o / factor`` coarse pixels away. ``origin`` (a list) gets
    the :data:`FINE_ORIGIN` of them, from which :func:`_fine_axis` computes ``fine`` back."""
    # the crop's edge cc + o * aa, as rioxarray's isel_window computes it (mirrored for labels
    # computed the other way)
    out, edge, pixel = _origin_labels(cc, aa * factor, fine.size // factor, o / factor, form)
    if origin is not None:
        origin.append([float(factor), float(form), float(cc), float(aa), float(o)])
    return out, edge, pixel  # type: ignore[return-value]


def _own_origin(labels: np.ndarray, origin: Any) -> tuple[int, float, float, int] | None:
    """(form, edge, pixel, offset) of a :data:`FINE_ORIGIN` ``origin`` of factor 1 (the
    crop's labels themselves: a result of ``upscale``, :func:`with_grid`) where it computes
    ``labels`` exactly, else None."""
    try:
        f, form, cc, aa, o = (float(v) for v in np.asarray(origin, np.float64).ravel())
    except (TypeError, ValueError):
        return None
    if f != 1 or form not in _ORIGIN_FORMS or o != round(o) or o < 0 \
            or not np.isfinite([cc, aa]).all() or aa == 0:
        return None
    got = _origin_labels(cc, aa, labels.size, o, int(form))[0]
    if got is None or not np.array_equal(got, np.asarray(labels, np.float64)):
        return None
    return int(form), cc, aa, int(o)


def _from_origin(coarse: np.ndarray, factor: int, origin: Any) -> tuple[np.ndarray, float, float] | None:
    """(labels, edge, pixel) of the crop whose coarse labels ``coarse`` are, from their
    :data:`FINE_ORIGIN` attribute ``origin``; None where it is absent, malformed, of another
    factor, or does not compute ``coarse`` exactly (the labels shifted, cut or flipped since)."""
    try:
        f, form, cc, aa, o = (float(v) for v in np.asarray(origin, np.float64).ravel())
    except (TypeError, ValueError):
        return None
    if f != factor or form not in _ORIGIN_FORMS or o != round(o) or o < 0 \
            or not np.isfinite([cc, aa]).all() or aa == 0:
        return None
    n = coarse.size
    got = _origin_labels(cc, aa * factor, n, o / factor, int(form))[0]
    fine, edge, pixel = _origin_labels(cc, aa, n * factor, o, int(form))
    if got is None or fine is None or not np.array_equal(got, np.asarray(coarse, np.float64)):
        return None
    return fine, edge, pixel


def _coarse_axis(fine: np.ndarray, c: float, a: float, factor: int,
                 dtype: np.dtype = _F64, rev: tuple[float, float] | None = None,
                 mirrored: bool = False, hint: tuple[float, float] | None = None,
                 new: bool = True, bare: bool = False,
                 origin: list[Any] | None = None, own: Any = None) -> tuple[np.ndarray, float, float]:
    """(labels, edge, pixel) of one axis ``factor`` times coarser than the ``fine`` labels (edge
    ``c``, pixel ``a``): computed as the fine ones were (:func:`_fit_axis`), from which
    :func:`_fine_axis` computes the fine labels back; else each block's centre
    (:func:`_centres`). Labels rounded to ``dtype``, the fine ones' storage. ``rev``: the
    written (edge, pixel) of the axis run the other way (:func:`_axes`): the labels are those of
    the field it was flipped from, reversed; ``mirrored``: as for :func:`_fine_axis`.

    Where the centres do not give the fine labels back (:func:`_fine_axis`), labels of a crop
    (a window of a file: computed from the file's edge, ``hint`` where that is left written,
    :func:`_stale`, else searched wherever a transform is written, :func:`_offset_fits`, and
    where the window's pixel is not the file's, :func:`_pixel_fits`) give their coarse
    pixels' labels computed from that edge (:func:`_crop`), and float32 labels of a field with
    no transform written (``bare``: the one recomputed from them is 1e-6 of the edge off) the
    grid of any transform that gives them (``_fit_axis(more=True)``). ``new``: False for the
    computation without these, which the results of :func:`_fine_axis` are checked with.
    ``origin``: a list that gets a crop's :data:`FINE_ORIGIN` (:func:`_crop`), or a whole
    grid's (offset 0) whose coarse labels give other fine ones back (reversed for labels
    computed the other way, a NetCDF's latitude from the south edge: :func:`_reversed_origin`);
    ``own``: the
    one the fine labels carry (of factor 1: ``upscale``'s of a crop, :func:`with_grid`), used
    where it computes them (:func:`_own_origin`).
    """
    plain = new and not mirrored and factor > 1 and fine.size >= 2 * factor
    if rev is not None:
        out, cc, aa = _coarse_axis(fine[::-1], *rev, factor, dtype, mirrored=not mirrored, new=False)
        res = (out[::-1], *_mirror(cc, aa, out.size))
        if plain and dtype == _F64 and origin is not None:
            _reversed_origin(fine, res, rev, factor, not mirrored, origin)
        return res
    got = _own_origin(fine, own) if plain and dtype == _F64 and own is not None else None
    if got is not None:
        return _crop(fine, *got, factor, origin)
    crops = plain and dtype == _F64 and hint is not None
    fit = _fit_axis(fine, c, a, dtype, mirrored, bare=bare and plain)
    if fit is not None:
        k, cc, aa, flip = fit
        out = _forms(cc, aa * factor, fine.size // factor)[k]
        if out is not None:  # else no round grid at this resolution
            out = _in(out, dtype)
            if not flip:
                res = out, cc, aa * factor
            else:
                res = (out[::-1], *_mirror(cc, aa * factor, out.size)) if mirrored \
                    else (out[::-1], c, a * factor)
            # (a flipped axis too: a crop of a north-up file keeps its origin on y; a whole
            # one computed the other way gets a reversed FINE_ORIGIN below)
            whole = plain and dtype == _F64
            if not (crops or whole) \
                    or np.array_equal(_fine_axis(*res, factor, dtype, new=False)[0], fine):
                return res
            # a crop (its file's transform left written) whose labels a transform of its own
            # also gives, but whose coarse labels give other fine ones: as a crop
            if crops:
                for kk, hc, ha, o in _offset_fits(fine, [hint[1]], hint):  # type: ignore[index]
                    return _crop(fine, kk, hc, ha, o, factor, origin)
            # the labels from the grid's own edge (offset 0) whose coarse pixel divided back
            # is not theirs ((a * 3) / 3 != a: a MODIS 926.6254331391667 m, 0.05 degree): the
            # coarse labels are kept, and their FINE_ORIGIN gives the fine ones back (rebuilt
            # from the coarse pixel, 1 ulp off, ``upscale(coarsen(t)) - t`` kept 51 of 210
            # columns)
            # (computed the other way, a NetCDF's latitude from the south edge flipped north-up,
            # as reversed labels: rebuilt, 80 of 100 rows came back 1 ulp off)
            if whole and origin is not None:
                origin.append([float(factor), float(k + _REVERSED * flip), float(cc), float(aa), 0.0])
            return res
    old = _in(_centres(fine, factor), dtype), c, a * factor
    if not plain:
        return old
    if crops:
        for k, cc, aa, o in _offset_fits(fine, [hint[1]], hint):  # type: ignore[index]
            return _crop(fine, k, cc, aa, o, factor, origin)
    if np.array_equal(_fine_axis(*old, factor, dtype, new=False)[0], fine):
        return old  # the centres give them back
    if dtype == _F64:
        # a window's own transform (rio.isel_window, rio.clip_box: the file's recomputed from
        # its labels, its pixel a few steps off the file's); labels np.linspace computes from
        # their ends are taken as such, not as a window's (both give them). Searched wherever a
        # transform is written, not only where it differs from the one recomputed from the
        # labels: rio.isel_window writes exactly that one, and a MODIS window's coarse labels
        # were the block centres, whose fine labels were 1 ulp off (``upscale(coarsen(w)) - w``
        # kept 34 of 64 columns)
        if (_written(fine, c, a) or not bare) \
                and not np.array_equal(np.linspace(fine[0], fine[-1], fine.size), fine):
            fits = _offset_fits(fine, [*_near(a, 3), *_rounded(a)[:2]], window=c) \
                or _pixel_fits(fine, a, c)  # the window's pixel recomputed from other labels
            for k, cc, aa, o in fits:
                return _crop(fine, k, cc, aa, o, factor, origin)
        return old
    fit = _fit_axis(fine, c, a, dtype, more=True) if bare else None
    if fit is not None and not fit[3]:
        _, cc, aa, _ = fit
        # of the forms that give them (float32 hides which), the one the fine labels and the
        # coarse ones are read back with, under the transform written with them
        for out in _forms(cc, aa * factor, fine.size // factor):
            if out is None:
                continue
            out = _in(out, dtype)
            if np.array_equal(_fine_axis(out, cc, aa * factor, factor, dtype, new=False)[0], fine) \
                    and np.array_equal(_coarse_axis(fine, cc, aa, factor, dtype, new=False)[0], out):
                return out, cc, aa * factor
    return old


def _reversed_origin(fine: np.ndarray, res: tuple[np.ndarray, float, float],
                     rev: tuple[float, float], factor: int, mirrored: bool,
                     origin: list[Any]) -> None:
    """Add to ``origin`` the reversed :data:`FINE_ORIGIN` of ``fine`` labels computed run the
    other way (``rev``: that axis' written edge and pixel, ``mirrored`` as it runs) where their
    coarse labels ``res`` (:func:`_coarse_axis`) are those of that computation but give other
    fine labels back (a NetCDF's latitude from the south edge with its south-up transform:
    exact coarse labels that several edges give)."""
    fit = _fit_axis(fine[::-1], *rev, _F64, mirrored)
    if fit is None or fit[3]:
        return
    k, cc, aa, _ = fit
    out = _origin_labels(cc, aa * factor, fine.size // factor, 0, k + _REVERSED)[0]
    if out is None or not np.array_equal(out, res[0]) \
            or np.array_equal(_fine_axis(*res, factor, _F64, new=False)[0], fine):
        return
    origin.append([float(factor), float(k + _REVERSED), float(cc), float(aa), 0.0])


def _fine_axis(coarse: np.ndarray, c: float, a: float, factor: int,
               dtype: np.dtype = _F64, rev: tuple[float, float] | None = None,
               mirrored: bool = False, hint: tuple[float, float] | None = None,
               new: bool = True, bare: bool = False,
               origin: Any = None) -> tuple[np.ndarray, float, float]:
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

    The coarse labels of a crop computed here (:func:`_crop`), or of a whole grid whose pixel
    does not divide back, with their :data:`FINE_ORIGIN` (``origin``: checked to compute them,
    :func:`_from_origin`) give the fine labels back, and
    those of a window of a coarse file whose transform is left written (``hint``,
    :func:`_stale`) the labels of the window of its fine grid. Float32 labels of a field with
    no transform written (``bare``) that the above does not give back get the grid of any
    transform that gives them (``_fit_axis(more=True)``), else blocks centred in float32 steps
    (:func:`_snap_narrow`). ``new``: False for the computation without these, which
    :func:`_coarse_axis` checks its labels with.
    """
    if rev is not None:
        fine, fc, fa = _fine_axis(coarse[::-1], *rev, factor, dtype, mirrored=not mirrored, new=False)
        return (fine[::-1], *_mirror(fc, fa, fine.size))
    n = coarse.size
    plain = new and not mirrored and factor > 1 and n >= 2
    if plain and dtype == _F64:
        got = None if origin is None else _from_origin(coarse, factor, origin)
        if got is not None:
            return got
        if hint is not None:  # a window of a coarse file: that of the file's fine grid
            for k, cc, aa, o in _offset_fits(coarse, [hint[1]], hint):
                fa = aa / factor
                fine = _forms(cc, fa, n * factor, o * factor)[k]
                return fine, cc + o * aa, fa  # type: ignore[return-value]
    fine, fc, fa, back = _fine_axis_old(coarse, c, a, factor, dtype, mirrored, bare and plain)
    if back or not plain or not bare or dtype == _F64:
        return fine, fc, fa
    fit = _fit_axis(coarse, c, a, dtype, more=True)
    if fit is not None and not fit[3]:
        k, cc, aa, _ = fit
        pure = _forms(cc, aa / factor, n * factor)[k]
        if pure is not None:
            pure = _in(pure, dtype)
            # checked as coarse_grid will see it: the transform written with it
            if np.array_equal(_coarse_axis(pure, cc, aa / factor, factor, dtype)[0], coarse):
                return pure, cc, aa / factor
    snapped = _snap(_forms(c, a / factor, n * factor)[0], coarse, factor, a, dtype)  # type: ignore[arg-type]
    if np.array_equal(_coarse_axis(snapped, c, a / factor, factor, dtype)[0], coarse):
        return snapped, c, a / factor
    return fine, fc, fa


def _fine_axis_old(coarse: np.ndarray, c: float, a: float, factor: int, dtype: np.dtype,
                   mirrored: bool, bare: bool = False) -> tuple[np.ndarray, float, float, bool]:
    """:func:`_fine_axis` of labels not run the other way, without what ``new`` adds (but
    rioxarray's transform of ``bare`` labels, :func:`_fit_axis`); and whether
    :func:`_coarse_axis` (without it) gives the coarse labels back."""
    n = coarse.size
    fit = _fit_axis(coarse, c, a, dtype, mirrored, bare=bare)
    if fit is not None:
        k, cc, aa, flip = fit
        pure = _forms(cc, aa / factor, n * factor)[k]
        if pure is not None:
            pure, fc, fa, rv = _in(pure, dtype), cc, aa / factor, None
            if flip and mirrored:  # computed run the other way: reversed, its transform mirrored
                rv, pure, (fc, fa) = (fc, fa), pure[::-1], _mirror(fc, fa, pure.size)
            elif flip:  # a north-up axis keeps its transform
                pure, fc, fa = pure[::-1], c, a / factor
            if np.array_equal(_coarse_axis(pure, fc, fa, factor, dtype, rv, mirrored, new=False)[0],
                              coarse):
                return pure, fc, fa, True
    fine = _in(_snap(_forms(c, a / factor, n * factor)[0], coarse, factor, a), dtype)  # type: ignore[arg-type]
    if factor > 1 and not np.array_equal(
            _coarse_axis(fine, c, a / factor, factor, dtype, mirrored=mirrored, new=False)[0], coarse):
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
                                           mirrored=mirrored, new=False)[0], coarse):
                return b.ravel(), c, a / factor, True
        return fine, c, a / factor, False
    return fine, c, a / factor, True


def _snap(fine: np.ndarray, coarse: np.ndarray, factor: int, pixel: float,
          dtype: np.dtype = _F64) -> np.ndarray:
    """``fine`` with each block centred on its coarse label where it is to round-off (a
    :func:`same_axis` tolerance): its middle label set to it (odd factor), or one of its middle
    pair moved by round-off so that their midpoint is it (even). ``pixel``: the coarse one.
    ``dtype``: the labels' storage; a narrower float's are snapped in its own steps
    (:func:`_snap_narrow`)."""
    if dtype != _F64:
        return _snap_narrow(_in(fine, dtype), coarse, factor, dtype)
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


def _snap_narrow(fine: np.ndarray, coarse: np.ndarray, factor: int, dtype: np.dtype) -> np.ndarray:
    """:func:`_snap` for labels stored in a narrower float (float32, held as float64): each
    block whose centre rounds to a step or two of ``dtype`` from its coarse label gets a middle
    label moved by one or two such steps so that it rounds to it (:func:`_coarse_axis` takes the
    centres rounded to ``dtype``), the smallest move first; a block it cannot centre so is left.
    Unsnapped, float32 lon/lat labels of a 0.0025-degree grid at 45 degrees had centres a step
    off theirs: ``coarsen(upscale(lst)) - lst`` kept 99 of 256 pixels."""
    b = fine.reshape(-1, factor).copy()
    m = factor // 2
    cf = np.asarray(coarse, np.float64)
    ulp = np.spacing(np.abs(cf).astype(dtype)).astype(np.float64)

    def off(bb: np.ndarray) -> np.ndarray:
        return _in(_centres(bb.ravel(), factor), dtype) != cf

    todo = off(b) & (np.abs(_centres(b.ravel(), factor) - cf) <= 3 * ulp)
    cols = [m] if factor % 2 else [m - 1, m]
    for k in (1, -1, 2, -2):
        for col in cols:
            if not todo.any():
                return b.ravel()
            trial = b.copy()
            trial[:, col] = np.where(todo, _in(b[:, col] + k * ulp, dtype), b[:, col])
            fixed = todo & ~off(trial)
            b[:, col] = np.where(fixed, trial[:, col], b[:, col])
            todo &= ~fixed
    return b.ravel()


def fine_grid(da: xr.DataArray, factor: int) -> tuple[np.ndarray, np.ndarray, Affine]:
    """(y, x, transform) of the grid ``factor`` times finer, with the same outer bounds.

    :func:`coarse_grid` of it gives back ``da``'s labels exactly, and ``da`` from
    :func:`coarse_grid` gets back the labels it was computed from (where they were computed one
    of the usual ways and its transform is written, or ``da`` is the coarse grid of a window of
    a file, or of a grid whose pixel ``factor`` does not divide back exactly, with the
    :data:`FINE_ORIGIN` attributes ``coarsen`` writes on its y / x coordinates
    (:func:`coarse_grid_attrs`), kept through NetCDF and Zarr): ``coarsen(upscale(lst))`` and
    ``upscale(coarsen(t))`` keep the input's labels, on which xarray's arithmetic aligns.
    Float32 labels stay float32.
    """
    t, (ry, rx) = _axes(da)
    hy, hx = _stale(da)
    ydim, xdim = spatial_dims(da)
    yt, xt = _dtype(da, ydim), _dtype(da, xdim)
    y, x = _labels(da, t)
    # an axis running south-up or west may be a south-up field's mirrored (:func:`_fine_axis`)
    bare = _written_transform(da) is None
    oy, ox = (da[d].attrs.get(FINE_ORIGIN) if d in da.coords else None for d in (ydim, xdim))
    y, fy0, fe = _fine_axis(y, t.f, t.e, factor, yt, ry, t.e > 0, hy, bare=bare, origin=oy)
    x, fx0, fa = _fine_axis(x, t.c, t.a, factor, xt, rx, t.a < 0, hx, bare=bare, origin=ox)
    return y.astype(yt), x.astype(xt), Affine(fa, 0.0, fx0, 0.0, fe, fy0)


def coarse_grid(da: xr.DataArray, factor: int) -> tuple[np.ndarray, np.ndarray, Affine]:
    """(y, x, transform) of the grid ``factor`` times coarser (sizes must divide by ``factor``).

    Labels computed one of the usual ways (rioxarray's, ``np.arange``'s, round decimals) give
    coarse labels computed the same way, from which :func:`fine_grid` computes them back
    exactly; so do those of a window of a file (``isel``, ``rio.isel_window``, ``rio.clip_box``
    and a crop of it: computed from the file's edge, a whole number of pixels away). Others
    give the centre of each block (the middle label, or the midpoint of the middle two), which
    a grid of :func:`fine_grid` has on its coarse labels.
    """
    return coarse_grid_attrs(da, factor)[:3]  # type: ignore[return-value]


def require_whole_blocks(da: xr.DataArray, factor: Any,
                         user_dims: Mapping[str, str] | None = None) -> None:
    """Refuse a grid that is not a whole number of ``factor`` x ``factor`` blocks (or smaller
    than one), with the crop to paste. ``user_dims``: the user's names of the dims (``{'y':
    'lat', 'x': 'lon'}`` where an entry point renamed lat/lon), which the crop uses (``y``/``x``
    of a lat/lon array did not select). A factor that is not a whole number >= 1 is left to
    :func:`xlstsr.validate.check_factor`."""
    if isinstance(factor, bool) or not isinstance(factor, numbers.Real) or not (
            np.isfinite(factor) and factor >= 1 and float(factor).is_integer()):
        return
    ydim, xdim = spatial_dims(da)
    ny, nx = da.sizes[ydim], da.sizes[xdim]
    if ny < factor or nx < factor:
        raise GridError(
            f"the grid ({ny} x {nx}) is smaller than one coarse pixel of factor {factor}: "
            "coarsen a larger field, or use a smaller factor."
        )
    if ny % factor or nx % factor:
        names = dict(user_dims or {})
        uy, ux = names.get(str(ydim), ydim), names.get(str(xdim), xdim)
        raise GridError(
            f"the grid ({ny} x {nx}) is not a multiple of factor {factor}; crop it first, e.g. "
            f"`da.isel({uy}=slice(0, {ny - ny % factor}), {ux}=slice(0, {nx - nx % factor}))`, "
            "or pass `boundary='trim'`."
        )


def coarse_grid_attrs(da: xr.DataArray, factor: int, user_dims: Mapping[str, str] | None = None
                      ) -> tuple[np.ndarray, np.ndarray, Affine, dict[str, Any], dict[str, Any]]:
    """:func:`coarse_grid` and, per axis (y, x), the attributes its coordinate is written with:
    the :data:`FINE_ORIGIN` of a window of a file (whose coarse labels do not give back the
    file's edge its labels are computed from) or of a grid whose coarse pixel divided back is
    not its own (:func:`fine_grid` reads it), else none.
    ``user_dims``: the user's names of the dims, for the refusal of a grid that is not whole
    blocks (:func:`require_whole_blocks`).
    """
    t, (ry, rx) = _axes(da)
    ydim, xdim = spatial_dims(da)
    require_whole_blocks(da, factor, user_dims)
    hy, hx = _stale(da)
    yt, xt = _dtype(da, ydim), _dtype(da, xdim)
    y, x = _labels(da, t)
    bare = _written_transform(da) is None
    gy: list[Any] = []
    gx: list[Any] = []
    oy, ox = (da[d].attrs.get(FINE_ORIGIN) if d in da.coords else None for d in (ydim, xdim))
    y, ty, te = _coarse_axis(y, t.f, t.e, factor, yt, ry, t.e > 0, hy, bare=bare, origin=gy, own=oy)
    x, tx, ta = _coarse_axis(x, t.c, t.a, factor, xt, rx, t.a < 0, hx, bare=bare, origin=gx, own=ox)
    ay, ax = ({FINE_ORIGIN: np.asarray(g[-1], np.float64)} if g else {} for g in (gy, gx))
    return y.astype(yt), x.astype(xt), Affine(ta, 0.0, tx, 0.0, te, ty), ay, ax


def _new_resolution(old: Any, step: float) -> float | None:
    """A coordinate's ``resolution`` attribute for a grid of pixel size ``step`` (the
    transform's, signed): ``step``'s size with ``old``'s sign (a y 'resolution' may be
    written positive or negative); None (drop it) where ``old`` is not one number.

    Examples
    --------
    >>> _new_resolution(-926.625, -231.65625), _new_resolution(926.625, -231.65625)
    (-231.65625, 231.65625)
    """
    try:
        o = float(np.asarray(old, np.float64).item())
    except (TypeError, ValueError):
        return None
    if not np.isfinite(o) or not np.isfinite(step) or step == 0:
        return None
    return float(np.copysign(abs(step), o))


def with_grid(
    data: object,
    template: xr.DataArray,
    y: np.ndarray,
    x: np.ndarray,
    transform: Affine,
    dims: tuple[str, ...],
    axis_attrs: tuple[dict[str, Any], dict[str, Any]] | None = None,
) -> xr.DataArray:
    """Wrap ``data`` as a DataArray on a new spatial grid, keeping the template's other coords
    and CRS. ``axis_attrs``: attributes added to the new (y, x) coordinates' (those of
    :func:`coarse_grid_attrs`); a ``resolution`` attribute of the template's (odc-stac's) is
    rewritten to the new pixel size (:func:`_new_resolution`); the template's :data:`FINE_ORIGIN` is not kept (it is of the
    template's labels), but where it computes the new labels (``upscale`` of a crop's coarse
    grid: :func:`_from_origin`) they get theirs, of factor 1, which :func:`coarse_grid` reads.

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
    for dim, v, extra, step in zip((ydim, xdim), (y, x), axis_attrs or ({}, {}),
                                   (transform.e, transform.a)):
        attrs = {k: a for k, a in template[dim].attrs.items() if k != FINE_ORIGIN}
        if "resolution" in attrs:
            # the template's pixel size (odc-stac's convention): the new grid's, sign kept
            attrs["resolution"] = _new_resolution(attrs["resolution"], step)
            if attrs["resolution"] is None:
                del attrs["resolution"]
        orig = template[dim].attrs.get(FINE_ORIGIN)
        if orig is not None and FINE_ORIGIN not in extra:
            with contextlib.suppress(TypeError, ValueError, IndexError):
                o = np.asarray(orig, np.float64).ravel()
                f = int(o[0])
                got = _from_origin(np.asarray(template[dim].values, np.float64), f, o) \
                    if f > 1 and np.size(v) == template.sizes[dim] * f else None
                if got is not None and np.array_equal(got[0], np.asarray(v, np.float64)):
                    extra = {FINE_ORIGIN: np.asarray([1.0, *o[1:]])}
        if FINE_ORIGIN not in extra:
            extra = {**extra, **_window_origin(template, dim, np.asarray(v, np.float64))}
        coords[dim] = (dim, v, {**attrs, **extra})
    out = xr.DataArray(data, dims=dims, coords=coords)
    # a new object: written in place (rioxarray's copies would duplicate a fine-grid result)
    out.rio.set_spatial_dims(x_dim=xdim, y_dim=ydim, inplace=True)
    out.rio.write_crs(template.rio.crs, inplace=True)
    out.rio.write_transform(transform, inplace=True)
    return out


def _window_origin(template: xr.DataArray, dim: str, fine: np.ndarray) -> dict[str, Any]:
    """The :data:`FINE_ORIGIN` (factor 1) of ``fine``, the labels :func:`fine_grid` gives a
    window of a coarse file (its transform left written: :func:`_stale`), where they are those
    of the window of the file's fine grid; else none."""
    hint = dict(zip(spatial_dims(template), _stale(template))).get(dim)
    n = template.sizes[dim]
    if hint is None or fine.size <= n or fine.size % n:
        return {}
    f = fine.size // n
    for k, cc, aa, o in _offset_fits(np.asarray(template[dim].values, np.float64), [hint[1]], hint):
        if np.array_equal(_forms(cc, aa / f, fine.size, o * f)[k], fine):  # type: ignore[arg-type]
            return {FINE_ORIGIN: np.asarray([1.0, k, cc, aa / f, o * f], np.float64)}
    return {}


#: what a guided method does where the aligned guide is NaN (the aligner does not know the
#: method): "methods fall back to bicubic" was said, and deep models do not. Said by
#: :func:`align_guide` where its caller gives no other (``gap_effect``)
_GUIDE_GAP_EFFECT = (
    "the guide is NaN there. The regression sharpeners (tsharp, dms) give those fine pixels "
    "the bicubic value; the deep models (disr and other torch models) fill the gap (from the "
    "guide nearby, beyond its reach with the model's guide_fill_value) and run as if guided, "
    "which can be worse than bicubic there."
)
def _gap_effect(effect: str | None) -> str:
    """The sentence saying what a guide's gap does: ``effect`` (the caller's), else the guided
    methods' (:data:`_GUIDE_GAP_EFFECT`)."""
    return effect or _GUIDE_GAP_EFFECT


def crop_to_guide_advice(same_crs: bool = True) -> str:
    """Code that crops ``lst`` to the whole LST pixels inside ``guide``'s bounds (the user's
    names). ``lst.rio.clip_box(*guide.rio.bounds())`` keeps every LST pixel the box touches
    (rioxarray rounds its window outward): an LST pixel the guide covers in part stayed, and
    with it the gap. The box is shrunk by just under an LST pixel on each side, so that the
    outward rounding keeps the pixels inside it only (an edge on a pixel edge keeps that
    pixel)."""
    bounds = "guide.rio.bounds()" if same_crs else "guide.rio.transform_bounds(lst.rio.crs)"
    return ("`rx, ry = (0.999 * abs(r) for r in lst.rio.resolution()); "
            f"w, s, e, n = {bounds}; "
            "lst = lst.rio.clip_box(w + rx, s + ry, e - rx, n - ry)`")


def _slice_nested(
    guide: xr.DataArray, oy: int, ox: int, fy: np.ndarray, fx: np.ndarray, ft: Affine, ly: str, lx: str,
    gap_effect: str | None = None,
) -> xr.DataArray:
    """Cut a guide that nests exactly (whole-pixel offset) to the fine grid; pad with NaN outside
    it (warned, with ``gap_effect``: :func:`_gap_effect`)."""
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
            f"LST's extent: {_gap_effect(gap_effect)} Give a guide that covers the LST, or crop the "
            f"LST to the whole LST pixels inside the guide: {crop_to_guide_advice()}.",
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


#: a list set by :func:`noting_coarse_guide` while a caller prepares a guide: :func:`align_guide`
#: appends to it when it advises against a guide not finer than the LST
_COARSE_GUIDE_NOTES: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "xlstsr_coarse_guide_notes", default=None)


@contextlib.contextmanager
def noting_coarse_guide() -> Iterator[list[str]]:
    """A list that gets one entry (the warning's text) each time :func:`align_guide`, within
    the block, advises against a guide whose pixels are not finer than the LST's: its caller
    (:func:`xlstsr.upscale`) then keeps a guided method from giving the same advice again
    (per thread and task: a context variable, not the global warnings state).

    Examples
    --------
    >>> with noting_coarse_guide() as notes:
    ...     pass
    >>> notes
    []
    """
    notes: list[str] = []
    token = _COARSE_GUIDE_NOTES.set(notes)
    try:
        yield notes
    finally:
        _COARSE_GUIDE_NOTES.reset(token)


def pixel_side(da: xr.DataArray, like: xr.DataArray) -> float:
    """The side of ``da``'s pixel in ``like``'s CRS units: the square root of its area at
    ``da``'s centre, mapped into ``like``'s CRS where the two differ (a sheared or rotated
    pixel keeps its area, which the bounding box of its mapped grid overstates).

    Examples
    --------
    >>> import xlstsr
    >>> s = xlstsr.datasets.sample_scene(n_times=1)
    >>> round(pixel_side(s["ndvi_250m"], s["lst_1km"]), 1)
    231.7
    """
    a, _, c, _, e, f = tuple(label_transform(da))[:6]
    if crs_mismatch(da, like) is None:
        return float(np.sqrt(abs(a * e)))
    from pyproj import Transformer

    dy, dx = spatial_dims(da)
    x0, y0 = c + a * (da.sizes[dx] / 2), f + e * (da.sizes[dy] / 2)
    tr = Transformer.from_crs(da.rio.crs, like.rio.crs, always_xy=True)
    xs, ys = tr.transform([x0, x0 + a, x0], [y0, y0, y0 + e])
    ux, uy = (xs[1] - xs[0], ys[1] - ys[0]), (xs[2] - xs[0], ys[2] - ys[0])
    return float(np.sqrt(abs(ux[0] * uy[1] - ux[1] * uy[0])))


def align_guide(
    guide: xr.DataArray,
    lst: xr.DataArray,
    factor: int,
    *,
    min_coverage: float = 0.9,
    resampling: Resampling | None = None,
    gap_effect: str | None = None,
    averaged_to_lst: bool = False,
) -> xr.DataArray:
    """Put a guide (e.g. NDVI) on the fine grid of ``lst`` for ``factor``.

    A guide that nests exactly (same CRS and fine resolution, offset by whole fine pixels, extent
    covering the LST) is sliced, not resampled. Otherwise (sub-pixel offset, other resolution or
    CRS) it is reprojected onto the fine grid with a :class:`GuideAlignmentWarning` naming the
    offset. Parts of the fine grid the guide does not cover become NaN (warned, saying what that
    does: ``gap_effect``, a sentence of the caller's, else what the guided methods of
    ``upscale`` do there). Coverage is the share of the LST's extent the guide covers: in the
    same CRS its bounds' share; in another CRS the larger of the share of its enclosing box
    (its bounds transformed into the LST's CRS) and that of its footprint, so that the LST
    cropped to that box, as the refusal advises, passes. Below ``min_coverage``
    :class:`GuideCoverageError` is raised; at or above it the guide is accepted, and the fine
    pixels outside its footprint are NaN and counted in the warning ("It misses N fine
    pixel(s) (p%) ..."), even when they are more than ``1 - min_coverage`` of the grid (a UTM
    guide's footprint in a sinusoidal LST cropped to its box leaves ~30% without guide).
    ``averaged_to_lst``: the caller averages the aligned guide back onto the LST's grid (the
    pairs of a degraded DISR's training): a guide on the LST's own grid holds all it needs
    there, so it gets neither the "not finer than the LST" advice (about inference) nor the
    note of its reprojection; a coarser guide still gets both.
    ``resampling``: by default the footprint average (:attr:`Resampling.average`) for a guide
    at the fine resolution or finer, bilinear for one coarser than the fine pixel (in either
    axis) but finer than the LST's (the average replicated each guide pixel into blocks of fine
    pixels, whose edges the guided methods added as detail).

    Returns
    -------
    DataArray
        The guide with dims ``(..., y, x)`` on the fine grid (band/time dims kept).
    """
    require_georeferenced(guide, "guide")
    # north-up first (a lazy isel): a guide on the fine grid stored south-up (a NetCDF's
    # latitude order) failed the nesting test on the sign of its pixel, was resampled and
    # warned "at 250 x 250 m instead of the fine grid's 250 x 250 m"
    guide = north_up(guide)
    _gy, _gx = spatial_dims(guide)
    ly, lx = spatial_dims(lst)
    fy, fx, ft = fine_grid(lst, factor)
    gt = _transform(guide)
    # (the same CRS spelled otherwise, e.g. GDAL's '+nadgrids=@null +wktext' sinusoidal, is
    # the same: a guide on the fine grid was resampled instead of nested)
    same_crs = crs_mismatch(guide, lst) is None
    # coverage in the LST CRS
    try:
        gb = (guide.rio.transform_bounds(lst.rio.crs, recalc=_recalc(guide)) if not same_crs
              else guide.rio.bounds(recalc=_recalc(guide)))
    except Exception as err:
        raise GuideCoverageError(f"the guide's bounds cannot be transformed to the LST CRS: {err}") from err
    lb = lst.rio.bounds(recalc=_recalc(lst))
    footprint = None
    ix = max(0.0, min(gb[2], lb[2]) - max(gb[0], lb[0]))
    iy = max(0.0, min(gb[3], lb[3]) - max(gb[1], lb[1]))
    coverage = (ix * iy) / ((lb[2] - lb[0]) * (lb[3] - lb[1]))
    if not same_crs:
        # in another CRS the transformed bounds enclose a sheared footprint: a lon/lat guide
        # spanning the LST's width left 3.5 % of it without guide, unsaid (the footprint
        # masks and names those pixels below). The refusal keeps the enclosing box: the crop
        # it advises is to that box, which a sheared footprint never fills (refused again
        # after following it); the footprint counts where the box cannot (0..360 longitudes)
        try:
            footprint = _footprint(guide, lst, fy, fx)
        except Exception as err:
            raise GuideCoverageError(
                f"the LST's fine grid cannot be transformed to the guide's CRS: {err}") from err
        coverage = max(coverage, float(footprint.mean()) if footprint.size else 0.0)
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
            # floored to 0.1 %: 89.8 % printed "90%", the very minimum it was refused for
            f"the guide covers {np.floor(coverage * 1000) / 10:g}% of the LST extent, less "
            f"than the {min_coverage:.0%} needed (LST bounds {tuple(round(v, 1) for v in lb)}, "
            f"guide bounds {tuple(round(v, 1) for v in gb)}); provide a guide over the same area "
            "(check both CRS), or crop the LST to the whole LST pixels inside the guide: "
            f"{crop_to_guide_advice(same_crs)}.{hint}"
        )
    # the guide's pixel in the LST's units (its extent over its pixel count, in any CRS)
    gy_, gx_ = spatial_dims(guide)
    gpix = max((gb[2] - gb[0]) / max(guide.sizes[gx_], 1), (gb[3] - gb[1]) / max(guide.sizes[gy_], 1))
    lpix = max(abs(ft.a), abs(ft.e)) * factor
    on_lst_grid = averaged_to_lst and bool(np.isclose(gpix, lpix, rtol=0.01))
    if gpix >= 0.99 * lpix and not on_lst_grid:
        # reprojected onto the fine grid, such a guide is blocks of LST pixels: no detail below
        # the LST's resolution, and its block edges become the "detail" a method adds
        advice = (
            f"the guide's pixels ({gpix:.6g}) are not finer than the LST's ({lpix:.6g}): it "
            "holds no detail below the LST's resolution, so a guided method only adds the "
            "guide's block edges (the result is no better than bicubic). Give a guide at the "
            f"output resolution ({lpix / factor:.6g}), e.g. 250 m NDVI (MOD09GQ) rather than a "
            "1 km product (MOD13A2), or use method='bicubic' / 'sisr'."
        )
        warn(advice, GuideAlignmentWarning)
        notes = _COARSE_GUIDE_NOTES.get()
        if notes is not None:  # a guided method's check of the guide's content says it again
            notes.append(advice)
    # coarser than the output: per axis on the LST's CRS; in another CRS the side of its
    # pixel's area mapped there at its centre (GDAL's default resolution, from the bounding
    # box, rated a sheared 200 m UTM pixel over sinusoidal at 60 N 385 m), with 2 % for the
    # mapping (the fine grid itself reprojected to lon/lat by GDAL's default is 1.2 % larger;
    # a 250 m UTM guide over a 231.7 m output, 8 % larger, is coarser)
    if same_crs:
        coarser = abs(gt.a) > 1.01 * abs(ft.a) or abs(gt.e) > 1.01 * abs(ft.e)
    else:
        coarser = pixel_side(guide, lst) > 1.02 * float(np.sqrt(abs(ft.a * ft.e)))
    interpolated = coarser and gpix < 0.99 * lpix
    if resampling is None:
        resampling = Resampling.bilinear if interpolated else Resampling.average
    # float32 x/y (a NetCDF's) hold the grid to their rounding only (0.25 m at 4.9e6 m
    # northings): a guide on the fine grid failed the 1e-6 pixel and 1e-3 offset tests and was
    # resampled; the pixel recomputed from its end labels is off by their rounding over its span
    r_y, r_x = (label_rounding(*(da[d].values for da, d in ((guide, g), (lst, e)) if d in da.coords),
                               step=abs(s_)) for g, e, s_ in ((_gy, ly, ft.e), (_gx, lx, ft.a)))
    n_y = max(min(guide.sizes[_gy], fy.size) - 1, 1)
    n_x = max(min(guide.sizes[_gx], fx.size) - 1, 1)
    if (same_crs and abs(gt.a - ft.a) <= 1e-6 * abs(ft.a) + r_x / n_x
            and abs(gt.e - ft.e) <= 1e-6 * abs(ft.e) + r_y / n_y):
        ox = (ft.c - gt.c) / ft.a
        oy = (ft.f - gt.f) / ft.e
        nested = (abs(ox - round(ox)) < max(1e-3, r_x / abs(ft.a))
                  and abs(oy - round(oy)) < max(1e-3, r_y / abs(ft.e)))
        if nested:
            return _slice_nested(guide, round(oy), round(ox), fy, fx, ft, ly, lx, gap_effect)
        # the guide's position on the fine grid, as _slice_nested's warning gives it (the fine
        # grid's on the guide's, the opposite sign, told a user to move it the wrong way)
        reason = (f"offset by ({-oy:+.2f}, {-ox:+.2f}) fine pixels (y, x), not a whole number")
    elif same_crs:
        # the CRS's unit: a lon/lat guide read "0.010 x 0.010 m"
        unit = "degree" if lst.rio.crs is not None and lst.rio.crs.is_geographic else "m"
        sizes = [abs(gt.a), abs(gt.e), abs(ft.a), abs(ft.e)]
        shown = [f"{v:.4g}" for v in sizes]
        if shown[:2] == shown[2:]:  # a difference below the digits shown: give them all
            shown = [f"{v:.10g}" for v in sizes]
        reason = (f"at {shown[0]} x {shown[1]} {unit} instead of the fine grid's "
                  f"{shown[2]} x {shown[3]} {unit}")
        if r_x or r_y:
            reason += (" (its or the LST's x/y coordinates are float32, rounded to half a "
                       "float32 step, which does not explain the difference; if it lies on the "
                       "fine grid, give it float64 x/y computed from its GeoTransform)")
    else:
        reason = f"in another CRS ({guide.rio.crs.to_string()[:60]})"
    if interpolated and resampling in (Resampling.nearest, Resampling.average, Resampling.mode):
        reason += (f", coarser than the output: each of its pixels is repeated over a block of "
                   f"fine pixels ({resampling.name}), whose edges guided methods add as detail")
    elif interpolated:
        reason += (f", coarser than the output: it is interpolated ({resampling.name}), so detail "
                   "finer than the guide's pixel comes from interpolation, not from the guide")
    # fine pixels whose centre lies beyond the guide's footprint (from the bounds or the
    # guide's grid, so that a lazy guide is not read): NaN after the reprojection (GDAL's
    # average filled an uncovered edge row with its neighbour's values), said as the nested
    # path says it
    if footprint is None:
        in_x = (np.asarray(fx) >= gb[0]) & (np.asarray(fx) <= gb[2])
        in_y = (np.asarray(fy) >= gb[1]) & (np.asarray(fy) <= gb[3])
        miss_x, miss_y = int((~in_x).sum()), int((~in_y).sum())
        inside = xr.DataArray(in_y, dims=(ly,)) & xr.DataArray(in_x, dims=(lx,))
        share = ""
    else:
        miss_y, miss_x = (int((~footprint).any(axis=k).sum()) for k in (1, 0))
        inside = xr.DataArray(footprint, dims=(ly, lx))
        n_miss = int((~footprint).sum())
        share = f"{n_miss} fine pixel(s) ({n_miss / footprint.size:.1%}) in " if n_miss else ""
    missing = ""
    if miss_x or miss_y:
        missing = (f" It misses {share}{miss_y} row(s) and {miss_x} column(s) of the LST's extent "
                   f"at the fine resolution: {_gap_effect(gap_effect)} Give a guide that covers the "
                   "LST, or crop the LST to the whole LST pixels inside the guide: "
                   f"{crop_to_guide_advice(same_crs)}.")
    if missing or not on_lst_grid:
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
        out = _reproject_eager(src, template, resampling)
        out = out.rename({out.rio.y_dim: ly, out.rio.x_dim: lx}) if (out.rio.y_dim, out.rio.x_dim) != (ly, lx) else out
        out = out.assign_coords({ly: fy, lx: fx})
    if miss_x or miss_y:
        out = out.where(inside)
    return out


def _reproject_eager(src: xr.DataArray, template: xr.DataArray,
                     resampling: Resampling) -> xr.DataArray:
    """``src.rio.reproject_match(template)`` for a ``src`` of any number of leading dims:
    rioxarray reprojects 2-D and 3-D arrays only (a dated multi-band guide, ``(time, band, y,
    x)``, raised its TooManyDimensions), so one with several is reprojected per step of its
    first leading dim and put back together along it (its labels and coordinates kept)."""
    lead = src.dims[:-2]
    if len(lead) <= 1:
        return src.rio.reproject_match(template, resampling=resampling, nodata=np.nan)
    parts = [_reproject_eager(src.isel({lead[0]: i}), template, resampling)
             for i in range(src.sizes[lead[0]])]
    out = xr.concat(parts, dim=lead[0], coords="minimal", compat="override",
                    combine_attrs="override")
    # the coordinates along the leading dims (a date per step), as reproject_match keeps them
    # (each part holds its step's as a scalar)
    out = out.assign_coords({k: v.variable for k, v in src.coords.items()
                             if lead[0] in v.dims and set(v.dims) <= set(lead)})
    return out.transpose(*lead, ...)


def _footprint(guide: xr.DataArray, lst: xr.DataArray, fy: np.ndarray, fx: np.ndarray) -> np.ndarray:
    """``(y, x)`` booleans on the fine grid (``fy``, ``fx``, in ``lst``'s CRS): whether each
    fine pixel's centre, mapped into ``guide``'s CRS, lies within the guide's bounds (its
    footprint, a rectangle there). From the grids alone: a lazy guide is not read."""
    from pyproj import Transformer

    w, s, e, n = guide.rio.bounds(recalc=_recalc(guide))
    tr = Transformer.from_crs(lst.rio.crs, guide.rio.crs, always_xy=True)
    # a lon/lat guide in 0..360 while the mapping gives -180..180 (or the reverse)
    shifts = (0.0, 360.0, -360.0) if guide.rio.crs.is_geographic else (0.0,)
    fx, fy = np.asarray(fx, np.float64), np.asarray(fy, np.float64)
    out = np.zeros((fy.size, fx.size), bool)
    rows = max(1, 2**20 // max(fx.size, 1))  # a million points at a time
    for i in range(0, fy.size, rows):
        xx, yy = np.meshgrid(fx, fy[i:i + rows])
        gx, gy = (np.asarray(v) for v in tr.transform(xx, yy))
        # points the mapping cannot take come back inf: outside (comparisons are False)
        in_x = np.zeros(gx.shape, bool)
        for sh in shifts:
            in_x |= (gx + sh >= w) & (gx + sh <= e)
        out[i:i + rows] = in_x & (gy >= s) & (gy <= n)
    return out


def _reproject_block(a: np.ndarray, dims: tuple, sy: np.ndarray, sx: np.ndarray, crs: Any,
                     transform: Affine, dst_crs: Any, shape: tuple[int, int],
                     dst_transform: Affine, resampling: Resampling) -> np.ndarray:
    """One block of :func:`_reproject_lazy`: whole images ``a`` on the source grid (``sy``,
    ``sx``, ``crs``, ``transform``) reprojected onto the target grid. At module level: a task
    names it by reference, so a worker process imports this module, and rioxarray with it."""
    gy, gx = dims[-2:]
    d = xr.DataArray(a, dims=dims, coords={gy: sy, gx: sx})
    d = d.rio.write_crs(crs).rio.write_transform(transform)
    d = d.rio.write_nodata(np.nan, encoded=False)
    lead = a.shape[:-2]
    if len(lead) > 1:  # rioxarray reprojects 2-D and 3-D arrays only: the leading dims as one
        d = d.stack(_lead=list(dims[:-2])).drop_vars(["_lead", *dims[:-2]], errors="ignore")
        d = d.transpose("_lead", gy, gx)
    out = d.rio.reproject(
        dst_crs, shape=shape, transform=dst_transform, resampling=resampling, nodata=np.nan
    ).values
    return out.reshape(*lead, *shape)


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

    # a module-level task function (a closure was shipped by value: a worker process that never
    # imported xlstsr, a fresh dask.distributed worker or scheduler='processes', had no `.rio`
    # and raised AttributeError); by reference, the worker imports xlstsr.grid and rioxarray
    out = data.map_blocks(
        _reproject_block, dims=(*lead, gy, gx), sy=sy, sx=sx, crs=crs, transform=transform,
        dst_crs=dst_crs, shape=(ny, nx), dst_transform=dst_transform, resampling=resampling,
        chunks=(*data.chunks[:-2], (ny,), (nx,)), dtype=np.float32,
        meta=np.empty((0,) * data.ndim, np.float32),
    )
    # the leading dims' coordinates and the coordinates along them or none (a band's scalar
    # ``guide_band`` label, a date per step), as rioxarray's reproject_match keeps them: a
    # dask guide dict with bands on other grids lost its bands' labels, and their concat
    # failed ("coordinate 'guide_band' not present in all datasets")
    grid_mapping = src.rio.grid_mapping
    coords = {k: v.variable for k, v in src.coords.items()
              if k != grid_mapping and set(v.dims) <= set(lead)}
    coords |= {d: (d, template[d].values, template[d].attrs) for d in (ly, lx)}
    # its name kept, as reproject_match keeps it (the dask key was taken for it)
    res = xr.DataArray(out, dims=(*lead, ly, lx), coords=coords, attrs=src.attrs,
                       name=src.name)
    res = res.rio.write_crs(dst_crs).rio.write_transform(dst_transform)
    return res.rio.write_nodata(np.nan, encoded=False)


#: coordinate ``units`` of a grid without a CRS -> metres per unit
METRES_PER = {"m": 1.0, "metre": 1.0, "meter": 1.0, "metres": 1.0, "meters": 1.0,
              "km": 1000.0, "kilometre": 1000.0, "kilometer": 1000.0}


def horizontal_metres_per_unit(pcrs: Any) -> float | None:
    """Metres per unit of a pyproj CRS's horizontal axes (EPSG:2263: US survey feet, 0.3048006),
    or None where they have no finite positive unit factor. A geographic CRS's is radians per
    degree: callers handle degrees first.

    A vertical axis is not the grid's: a compound CRS (EPSG:2263+5703, feet + NAVD88 height in
    metres), a 3-D projected one or a PROJ string with ``+vunits`` lists its height last, and
    its pixels were read as metres (3.3x too large under EPSG:2263+5703).

    Examples
    --------
    >>> from pyproj import CRS
    >>> round(horizontal_metres_per_unit(CRS("EPSG:2263+5703")), 7)
    0.3048006
    """
    horizontal = pcrs.sub_crs_list[0] if pcrs.is_compound else pcrs
    factors = [ax.unit_conversion_factor for ax in horizontal.axis_info
               if str(ax.direction).lower() not in ("up", "down")]
    if factors and all(np.isfinite(f) and f > 0 for f in factors):
        return float(factors[-1])
    return None


def grid_unit(da: xr.DataArray, ydim: str, xdim: str, lat_lon_named: bool) -> tuple[float, str]:
    """(metres per grid unit, unit) of ``da``'s grid: 1 and 'degree' for degrees, 1 and 'pixel'
    where the size is unknown.

    The CRS's horizontal axes' unit where it has one (EPSG:2263: US survey feet, 0.3048006 m
    per unit), else the coordinates' ``units`` attribute (``lat_lon_named``: dims named latitude/longitude).
    Coordinates without either are metres, but for a swath's (:func:`_index_grid`): pixels, as
    for a field without coordinates. Coordinates whose ``units`` is another length than the
    projected CRS's (km under UTM) raise :class:`GridError`: their pixel size is not known."""
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
        # km-labelled coordinates under UTM: 1 m pixels for 1 km ones (scaling_stats' scales)
        _refuse_coordinate_units(da, "input", ydim, xdim, crs, crs_name_and_axis(crs)[0])
        # the horizontal axes' linear unit (EPSG:2263: US survey feet, 0.3048006 m), not a
        # compound CRS's height's
        return horizontal_metres_per_unit(pcrs) or 1.0, "m"
    units = [str(da[d].attrs.get("units", "")).strip().lower() if d in da.coords else ""
             for d in (ydim, xdim)]
    if lat_lon_named or any(u.startswith("degree") for u in units):
        return 1.0, "degree"
    known = [METRES_PER[u] for u in units if u in METRES_PER]
    if not known and not any(units) and _index_grid(da, ydim, xdim):
        return 1.0, "pixel"
    return (known[-1] if known else 1.0), "m"


def _index_grid(da: xr.DataArray, ydim: str, xdim: str) -> bool:
    """Whether ``da``'s y / x coordinates number its pixels rather than place them: each 1-D y / x
    coordinate missing or exactly 0..n-1, and either 2-D lat/lon auxiliary coordinates on
    (y, x) (a swath, a curvilinear grid: the ground position is there, in degrees that vary over
    the field) or such a coordinate of integers. Taken as metres, a ~1 km swath got
    ``pixel_size`` 1 m and every scale of ``scaling_stats`` in metres. 1-D coordinates of other
    values place the pixels (a projected grid's x / y in metres, whose CF file also carries 2-D
    lat/lon): not a swath, whatever the 2-D coordinates."""
    index = [np.asarray(da[d].values) for d in (ydim, xdim) if d in da.coords]
    if any(v.ndim != 1 or v.dtype.kind not in "iuf" or not np.array_equal(v, np.arange(v.size))
           for v in index):
        return False
    dims = {ydim, xdim}
    for name, c in da.coords.items():
        if c.ndim != 2 or set(c.dims) != dims:
            continue
        units = str(c.attrs.get("units", "")).strip().lower()
        std = str(c.attrs.get("standard_name", "")).strip().lower()
        if str(name).lower() in _LAT_NAMES + _LON_NAMES or std in ("latitude", "longitude") \
                or units.startswith("degree"):
            return True
    return bool(index) and all(v.dtype.kind in "iu" for v in index)


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
