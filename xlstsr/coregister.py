"""Sub-pixel co-registration of a fine field (reference LST or guide) with a coarse LST.

A fine field from another sensor (ASTER, Landsat, ECOSTRESS LST; NDVI) is rarely where its
geotransform says to a fraction of a 250 m pixel: on the shared MODIS/ASTER pairs the ASTER
content sits ~175 m south and ~160 m east of where MODIS saw it. :func:`estimate_offset`
measures that translation at the LST's own scale — the fine field is put on a grid nested in the
LST's, shifted, blurred by the sensor's Gaussian PSF and aggregated, and compared with the LST by
a linear fit (so a guide that anti-correlates with LST, like NDVI, works too) — jointly with
the PSF width when asked. :func:`coregister` moves the fine field's coordinates by the estimate
(no resampling). The numpy kernel is :mod:`xlstsr.kernels.coregister`.

Conventions: ``shift_x`` / ``shift_y`` are lengths in the units of the LST's grid (metres, or
degrees on a lon/lat grid) to *add* to the fine field's x / y coordinates to align it
(``shift_y > 0``: its content belongs further north).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import xarray as xr
from affine import Affine
from rasterio.enums import Resampling
from scipy import ndimage

from .errors import (
    CoregistrationError,
    GridError,
    NoOverlapError,
    ScaledIntegerError,
    UndeclaredFillError,
    XlstsrError,
    warn,
)
from .grid import fine_grid, longitude_convention_hint
from .kernels import coregister as _kc
from .kernels.coregister import ShiftEstimate, estimate_shift
from .validate import (
    FILL_SHARE,
    check_bool,
    check_number,
    check_whole,
    decode_guide,
    image_order,
    label_transform,
    nearest_block_size,
    prepare_lst,
    require_georeferenced,
    select_lst,
    spatial_dims,
    spatial_names,
    suspect_fill,
    suspect_guide_fill,
    temperature_units,
)

__all__ = [
    "apply_offset",
    "coregister",
    "estimate_offset",
    "fine_pixel_size",
    "misfit_surface",
]

Errors = Literal["raise", "warn", "ignore"]

_VARS: dict[str, tuple[str, str]] = {
    "shift_x": ("m", "add to the fine field's x coordinates to align it with the LST"),
    "shift_y": ("m", "add to the fine field's y coordinates to align it with the LST"),
    "shift_uncertainty": ("m", "standard error of each shift component"),
    "psf_sigma": ("m", "Gaussian PSF width of the LST sensor (on top of its pixel box)"),
    "correlation_before": ("1", "LST vs aggregated fine field as given (box, no shift)"),
    "correlation_after": ("1", "LST vs aggregated fine field, shifted and blurred"),
    "mismatch_before": ("K", "RMS of the LST residual after a linear fit, as given"),
    "mismatch_after": ("K", "RMS of the LST residual after a linear fit, co-registered"),
    "bias_removed_before": ("K", "bias-removed RMSE at the LST scale, as given (fine LST only)"),
    "bias_removed_after": ("K", "bias-removed RMSE at the LST scale, co-registered (fine LST)"),
    "n_valid": ("1", "LST pixels compared"),
    "reliable": ("1", "the estimate passed the reliability checks"),
}


#: lengths beyond these many LST pixels are a slip of units: an offset or a PSF of a few pixels
#: the default largest standard error of a reliable shift, in LST pixels (a quarter of a 250 m
#: pixel under a 1 km LST, the same metres whatever the fine field's resolution)
_MAX_UNCERTAINTY_LST_PX = 1 / 16
_MAX_PIXELS = {"max_shift": 10, "search_step": 10, "psf_sigma": 5, "shifts": 10,
               "max_shift_uncertainty": 10}


def _check_lengths(lres: float, crs: Any, **lengths: float | None) -> None:
    """Refuse a length (in the LST CRS's units) of many LST pixels: ``max_shift=500`` meant as
    metres on a lon/lat LST was 500 degrees, and the search grid asked numpy for 7 TiB."""
    unit = crs_length_unit(crs)
    for name, v in lengths.items():
        if v is None or v <= _MAX_PIXELS[name] * lres:
            continue
        hint = (f" (on a lon/lat grid, {v:g} m is about {v / 111320:.2g} degree)"
                if unit == "degree" else "")
        raise XlstsrError(
            f"{name}={v:g} is {v / lres:.3g} LST pixels of {lres:.4g} {unit}: lengths are in the "
            f"units of the LST's CRS ({unit}){hint}, and an offset or PSF between MODIS and a "
            f"fine sensor is below a few pixels (at most {_MAX_PIXELS[name]} here)."
        )


def crs_length_unit(crs: Any) -> str:
    """The unit of lengths (shifts, PSF widths) measured in ``crs``: ``"m"``, ``"degree"`` on
    a lon/lat CRS, or a projected CRS's own unit name (US survey feet)."""
    if crs is None:
        return "m"
    if crs.is_geographic:
        return "degree"
    name = str(crs.linear_units or "m")
    return "m" if name in ("metre", "meter", "m") else name


def fine_pixel_size(fine: xr.DataArray, crs: Any) -> float:
    """Mean pixel size of ``fine`` in the units of ``crs`` (reprojecting it when needed)."""
    if fine.rio.crs == crs:
        rx, ry = fine.rio.resolution()
    else:
        one = fine.isel({d: 0 for d in fine.dims if d not in spatial_dims(fine)})
        rx, ry = one.rio.reproject(crs, resampling=Resampling.nearest).rio.resolution()
    return float(np.sqrt(abs(rx * ry)))


def _on_nested_grid(fine: xr.DataArray, lst: xr.DataArray, factor: int,
                    fill: bool = False) -> xr.DataArray:
    """``fine`` resampled bilinearly (NaN-aware) onto the grid ``factor`` times finer than lst.

    The target pixel centres are mapped into the fine field's pixel space with pyproj and read
    with ``scipy.ndimage.map_coordinates``: GDAL's warper (``rio.reproject``) displaced a
    UTM -> MODIS sinusoidal test field by ~18 m (0.08 pixel) in y, more than the precision
    wanted here. A target pixel is NaN unless all its interpolation neighbours are valid.

    The bilinear interpolation blurs: at a sub-pixel phase ``u`` of the fine field's grid it
    averages two pixels, a kernel of variance ``u (1 - u)`` fine pixels^2 per axis (none when
    the grids coincide, 1/4 at half a pixel), which the PSF fitted on this grid took for the
    sensor's (330 m for a true 350 m). That variance, in pixels^2 of the nested grid and
    averaged over its pixels and the two axes (:func:`_resampling_variance`), is kept in
    ``attrs["resampling_variance"]`` for :func:`estimate_offset` to add back.

    ``fill=True`` fills the isolated gaps (:func:`_fill_isolated_gaps`) of the window the
    interpolation reads (with a margin), not of the whole field (a 5400 x 5400 scene took
    7.5 s and 1.1 GB), and keeps the pixels filled per image in
    ``attrs["isolated_gaps_filled"]``.
    """
    ly, lx = spatial_dims(lst)
    gy, gx = spatial_dims(fine)
    fy, fx, _ = fine_grid(lst, factor)
    xx, yy = np.meshgrid(fx, fy)
    if fine.rio.crs != lst.rio.crs:
        from pyproj import Transformer

        tr = Transformer.from_crs(lst.rio.crs, fine.rio.crs, always_xy=True)
        xx, yy = tr.transform(xx, yy)
    col, row = ~label_transform(fine) * (xx, yy)
    coords = [np.asarray(row) - 0.5, np.asarray(col) - 0.5]  # pixel-centre index space
    blur = _resampling_variance(*coords)
    lead = [d for d in fine.dims if d not in (gy, gx)]
    src = fine.transpose(*lead, gy, gx)
    vals = np.asarray(src.values).reshape(-1, src.sizes[gy], src.sizes[gx])
    counts = []
    if fill:
        # the read window and a margin wider than an isolated gap, so that a cloud the
        # window cuts is not taken for one
        m = _ISOLATED_GAP_PX + 2
        lo = [max(int(np.floor(np.nanmin(c))) - m, 0) if np.isfinite(c).any() else 0
              for c in coords]
        hi = [min(int(np.ceil(np.nanmax(c))) + m + 1, n) if np.isfinite(c).any() else n
              for c, n in zip(coords, vals.shape[1:])]
        vals = vals[:, lo[0]:hi[0], lo[1]:hi[1]]
        coords = [coords[0] - lo[0], coords[1] - lo[1]]
    out = np.empty((vals.shape[0], fy.size, fx.size))
    for i, v in enumerate(vals):
        v = np.asarray(v, dtype=np.float64)
        if fill:
            v, k = _fill_isolated_gaps(v)
            counts.append(k)
            if not k:  # the image as read without the fill: never used (_use_filled)
                out[i] = np.nan
                continue
        ok = np.isfinite(v)
        num = ndimage.map_coordinates(np.where(ok, v, 0.0), coords, order=1, mode="constant")
        w = ndimage.map_coordinates(ok.astype(np.float64), coords, order=1, mode="constant")
        out[i] = np.where(w > 1 - 1e-6, num / np.where(w > 0, w, 1.0), np.nan)
    dims = (*lead, ly, lx)
    shape = (*(src.sizes[d] for d in lead), fy.size, fx.size)
    coords_out = {d: src[d].values for d in lead if d in src.coords}
    attrs: dict[str, Any] = {"resampling_variance": blur}
    if fill:
        attrs["isolated_gaps_filled"] = counts
    return xr.DataArray(out.reshape(shape), dims=dims, coords={**coords_out, ly: fy, lx: fx},
                        attrs=attrs)


def _resampling_variance(row: np.ndarray, col: np.ndarray) -> float:
    """Mean variance per axis (pixels^2 of the target grid) of the bilinear kernel that reads a
    source field at fractional indices ``row``, ``col`` (2-D, one per target pixel): ``u (1 -
    u)`` source pixels^2 along each source axis at phase ``u``, carried onto the target grid
    by the local Jacobian of the index mapping (a source pixel of 1.2 target pixels, or a
    rotated one across CRSs)."""
    row, col = np.asarray(row, np.float64), np.asarray(col, np.float64)
    if row.ndim != 2 or min(row.shape) < 2:
        return 0.0
    vr, vc = (v - np.floor(v) for v in (row, col))
    vr, vc = vr * (1 - vr), vc * (1 - vc)
    # source indices per target index: [[a, b], [c, d]] = d(row, col) / d(i, j)
    a, b = np.gradient(row, axis=0), np.gradient(row, axis=1)
    c, d = np.gradient(col, axis=0), np.gradient(col, axis=1)
    det2 = (a * d - b * c) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        # trace of J^-1 diag(vr, vc) J^-T, halved: the mean variance along the target axes
        v = ((d * d + c * c) * vr + (b * b + a * a) * vc) / det2 / 2.0
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else 0.0


#: gaps of the fine field of at most this many pixels (8-connected) are isolated: filled from
#: their neighbours before the estimate (a bad or flagged pixel here and there, not a cloud)
_ISOLATED_GAP_PX = 4


def _fill_isolated_gaps(v: np.ndarray) -> tuple[np.ndarray, int]:
    """An image (2-D float) with its isolated gaps (NaN pieces of at most
    :data:`_ISOLATED_GAP_PX` pixels, 8-connected) filled with the mean of their valid 8
    neighbours, and how many pixels were filled (``v`` itself when none).

    A footprint counts only where nearly all of it is observed (``min_weight`` 0.95 of the
    kernel, at every corner of the search, after the bilinear resampling spread each gap to up
    to 4 nested pixels): 1 % of a masked ASTER truth's pixels missing at random left 1429 of
    3477 LST pixels compared, 3 % left 62 and the estimate was refused as "too flat ... mask
    clouds", whose advice (more masking) ended at none. Filled, such a gap weighs as its
    neighbours (3448 of the clear truth's 3451 compared at 3 %, the shift the same to 1 m);
    a cloud, larger, is left a gap. The neighbour mean is a guess: where the masked pixels
    differ (small water bodies 10 K cooler) it biases the estimate, so :func:`estimate_offset`
    uses it only where the gaps would leave too few LST pixels compared
    (:func:`_use_filled`)."""
    gap = ~np.isfinite(v)
    if not gap.any() or gap.all():
        return v, 0
    lab, n = ndimage.label(gap, structure=np.ones((3, 3), dtype=bool))
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    small = sizes <= _ISOLATED_GAP_PX
    small[0] = False
    iy, ix = np.nonzero(small[lab])
    if not iy.size:
        return v, 0
    # the 8 neighbours of the isolated pixels alone, gathered by index (two convolutions of
    # the whole image cost 10x its size in memory)
    ny, nx = v.shape
    num = np.zeros(iy.size)
    den = np.zeros(iy.size)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy == dx == 0:
                continue
            yy, xx = iy + dy, ix + dx
            inside = (yy >= 0) & (yy < ny) & (xx >= 0) & (xx < nx)
            nb = np.full(iy.size, np.nan)
            nb[inside] = v[yy[inside], xx[inside]]
            ok = np.isfinite(nb)
            num[ok] += nb[ok]
            den[ok] += 1
    has = den > 0
    out = v.copy()
    out[iy[has], ix[has]] = num[has] / den[has]
    return out, int(has.sum())


#: isolated gaps are filled only where, left as gaps, they would leave fewer than this share
#: of the LST pixels compared with the fill (a clean sample kept as it was)
_FILL_NEEDED_SHARE = 0.5


def _use_filled(raw: np.ndarray, filled: np.ndarray, coarse: np.ndarray, factor: int,
                **search: Any) -> bool:
    """Whether the estimate should compare ``filled`` (the nested fine image with its isolated
    gaps filled) rather than ``raw``: only where the gaps, left, would leave fewer than
    :data:`_FILL_NEEDED_SHARE` of the LST pixels compared with the fill. A few gaps are left
    as gaps (the results of the fill-free estimate kept): the neighbour mean biases the
    estimate where the masked pixels differ (1-4 px water bodies 10 K cooler, masked in the
    fine field: shift error 0.6 -> 6.8 m at 4.7 % water)."""
    n_raw = _kc.compared_in(raw, coarse, factor, **search)
    n_fill = _kc.compared_in(filled, coarse, factor, **search)
    return n_raw < _FILL_NEEDED_SHARE * n_fill


def _kernel_sigma(psf_sigma_px: float | None, blur: float) -> float | None:
    """A sensor PSF width (nested fine pixels) as the kernel takes it: without the blur the
    resampling onto the nested grid put into the field already (variance ``blur``)."""
    if psf_sigma_px is None:
        return None
    return float(np.sqrt(max(psf_sigma_px**2 - blur, 0.0)))


#: a fitted PSF width (nested fine pixels) at or below this is the fit's lower bound: the LST
#: is as sharp as the resampled field or sharper (a block mean), and no blur is added back
_SIGMA_AT_ZERO = 0.05


def _refuse_fine_fill(fine: xr.DataArray, gy: str, gx: str, errors: str,
                      radiometric: bool | None = None,
                      lst_stats: Callable[[], tuple[float, float]] | None = None) -> None:
    """Refuse a fine field with an undeclared fill value (ASTER's 0 outside the scene): read as
    data it decorrelates the fields, and the estimate was reported as "the fields hardly
    correlate ... same ground and date", which sends the user the wrong way. As the other
    reliability problems: ``errors="warn"`` warns, ``"ignore"`` says nothing (a caller that
    checks the field itself, as the guide's offset check before the guide's own fill check).
    A temperature stored in a scale (:func:`_stored_scale`) is named first: ASTER's K x 10 was
    told to mask its 0 with a Kelvin threshold, or every value in turn as a fill; it raises
    :class:`~xlstsr.errors.UndeclaredFillError` where it holds a fill, else
    :class:`~xlstsr.errors.ScaledIntegerError` (stored numbers without their scale)."""
    if errors == "ignore":
        return
    lead = [d for d in fine.dims if d not in (gy, gx)]
    imgs = np.asarray(fine.transpose(*lead, gy, gx).values).reshape(
        -1, fine.sizes[gy], fine.sizes[gx])
    if radiometric is not False:
        said, has_fill = _stored_scale(fine, imgs, lst_stats)
    else:  # a guide: no stored temperature, but its stored 0 on a large share is a fill
        v = np.asarray(imgs, np.float64)
        v = v[np.isfinite(v)]
        zero = _stored_zero_share(v[:: max(1, v.size // 200_000)]) if v.size >= 10 else None
        said = "" if zero is None else _stored_zero_said(zero, float(np.median(v[v != 0])))
        has_fill = zero is not None
    if said:
        if errors == "raise":
            raise (UndeclaredFillError if has_fill else ScaledIntegerError)(said)
        warn(said)
        return
    for img in imgs:
        found = suspect_guide_fill(img)
        if found is not None:
            v, share = found
            v = int(v) if float(v).is_integer() else v
            err = UndeclaredFillError(
                f"the fine field holds {v!r} on {share:.0%} of its valid pixels, far outside the "
                f"others: an undeclared fill value (ASTER stores 0 outside the scene). Mask it: "
                f"`fine.where(fine != {v!r})`, or declare it (`fine.attrs['_FillValue'] = "
                f"{v!r}`); for an LST, mask the pixels mixed with it along the scene border too "
                "(e.g. `from xlstsr.evaluate import reference_mask`; `fine.where(reference_mask("
                "fine, erode=3, valid_min=230, clear=True))`)."
            )
            if errors == "raise":
                raise err
            warn(str(err))
            return
    if not _looks_like_kelvin(fine):
        return
    # too few to be found as a fill (cloud pixels written as 0 or -9999 on 1 %), they still
    # decorrelate the fields: the estimate was refused as "too flat ... same ground and date"
    from .evaluate import check_possible_kelvin

    try:
        check_possible_kelvin(imgs, "fine", "decorrelates the fields")
    except UndeclaredFillError as err:
        if errors == "raise":
            raise
        warn(str(err))


def _mask_border_fill(fine: xr.DataArray, gy: str, gx: str, errors: str) -> xr.DataArray:
    """``fine`` with a constant border band masked (:func:`xlstsr.kernels.coregister.
    constant_border`: one exact value on whole edge rows / columns or a corner block, as a warp
    without a nodata value leaves around a scene), with a warning (``errors="raise"`` or
    ``"warn"``) or, with ``"ignore"``, without a word: a caller that judges the field itself
    (the guide's offset check under ``guide_offset='auto'``). A 0 border on 4 % of an
    NDVI's pixels hides among genuine NDVI near 0 (no spread-based fill check finds it): read
    as data it put the estimate 330 m off, "reliable", and the guide was moved by it. Left out,
    the estimate is that of the field with the fill declared: a constant band holds no pattern
    to align, so masking it costs only pixels even where it is data."""
    lead = [d for d in fine.dims if d not in (gy, gx)]
    src = fine.transpose(*lead, gy, gx)
    vals = np.asarray(src.values)
    imgs = vals.reshape(-1, src.sizes[gy], src.sizes[gx])
    found = []
    for img in imgs:
        img = np.asarray(img, np.float64)
        # counted in the squares of a field resampled by nearest neighbour: two equal squares
        # of such an LST at a corner are no band
        found.append(_kc.constant_border(img, block=nearest_block_size(img)))
    first = next((b for b in found if b is not None), None)
    if first is None:
        return fine
    v = int(first.value) if first.value.is_integer() else first.value
    n = sum(b is not None for b in found)
    where = first.where + (f" (in {n} of its {len(found)} images)" if len(found) > 1 else "")
    share = float(np.mean([b.mask.mean() for b in found if b is not None]))
    said = (f"the fine field holds {v!r} on {where}, about {share:.1%} of its pixels with those "
            f"next to them: a constant band along its edge, as a warp without a nodata value "
            f"leaves around a scene (gdalwarp without -dstnodata), an undeclared fill. Read as "
            f"data it pulls the estimate off (330 m for a 0 border on 4 % of an NDVI's "
            f"pixels). Mask it: `fine = fine.where(fine != {v!r})`, or declare it where the file "
            f"is made (`gdalwarp -dstnodata {v!r}`, then read with `rioxarray.open_rasterio("
            f"path, masked=True)`)")
    if errors != "ignore":
        # warned, not refused, under "raise" too: a genuine constant edge (an LST clipped at
        # the sensor's maximum in a corner, sea rows at one value, a coarse field resampled at
        # 3.33x) was refused, and evaluate has no errors= to pass; leaving it out costs pixels
        warn(said + ". It is left out of the estimate.")
    mask = np.stack([np.zeros(imgs.shape[1:], bool) if b is None else b.mask for b in found])
    out = np.where(mask.reshape(vals.shape), np.nan, vals.astype(np.float64, copy=False))
    return src.copy(data=out).transpose(*fine.dims)


#: the widest inter-quartile range (K, once scaled) of a stored temperature without units: a
#: scene's LST spreads less (ASTER pair 001: 5 K), an NDVI x 10000 of the same median more
_STORED_IQR_K = 30.0

#: how far above a fill-mixed plateau (ASTER's 200 K border ring, spread over 195-205 K) a
#: stored temperature's values count as the scene's own when the border threshold is advised
_BAND_REACH_K = 5.0

#: the least share of a stored temperature's pixels on such a plateau for the border advice to
#: take it for the ring (suspect_fill's default, 5 %, missed crops holding 1.9 % of it)
_BAND_SHARE = 0.005

#: the least 1-99 % spread of a stored temperature without units, once scaled, as a share of
#: the LST's: an emissivity x 10000 (0.97-0.99) x 0.02 spreads a tenth of a scene's LST
_STORED_SPREAD_SHARE = 0.2


def _median_spread(lst: xr.DataArray) -> tuple[float, float]:
    """The median and 1-99 % spread of an LST's valid values (NaN, NaN without any)."""
    v = np.asarray(lst.values, np.float64)
    v = v[np.isfinite(v)]
    if not v.size:
        return np.nan, np.nan
    p1, p50, p99 = np.percentile(v, [1, 50, 99])
    return float(p50), float(p99 - p1)


def _stored_zero_share(vals: np.ndarray) -> float | None:
    """The share of stored 0s among the valid values ``vals`` where they are a fill: at least
    :data:`~xlstsr.validate.FILL_SHARE` of them beside others whose median is far above any
    Kelvin or NDVI (> 1000: stored numbers, among which an exact 0 on that share is no
    measurement); else None."""
    nonzero = vals[vals != 0]
    if (nonzero.size >= 10 and nonzero.size <= (1 - FILL_SHARE) * vals.size
            and float(np.median(nonzero)) > 1000.0):
        return 1.0 - nonzero.size / vals.size
    return None


def _stored_zero_said(share: float, median: float) -> str:
    """The refusal of a stored 0 on ``share`` of a field whose other values (``median``) are
    stored numbers of no temperature (:func:`_stored_zero_share`)."""
    return (f"the fine field holds 0 on {share:.0%} of its valid pixels beside stored numbers "
            f"(median {median:.6g}, none near 0): an undeclared fill (a 0 written outside the "
            "scene or under clouds), read as data it decorrelates the fields. Mask it: `fine = "
            "fine.where(fine != 0)`, or declare it (`fine.attrs['_FillValue'] = 0`).")


def _scene_iqr(vals: np.ndarray, k: float, has_fill: bool) -> float:
    """The inter-quartile range of stored values ``vals`` read in scale ``k``; beside a fill,
    without the plateau of fill-mixed values (ASTER's 200 K ring, found as in the border
    advice): on 28 % of a crop's scene pixels it put the lower quartile on the ring (117 K)."""
    if has_fill:
        band = suspect_fill(vals * k, share=_BAND_SHARE)
        if band is not None:
            core = vals[np.abs(vals * k - band[0]) > _BAND_REACH_K]
            vals = core if core.size >= 10 else vals
    q1, q3 = np.percentile(vals, [25, 75])
    return float(q3 - q1)


def _stored_scale(fine: xr.DataArray, imgs: np.ndarray,
                  lst_stats: Callable[[], tuple[float, float]] | None) -> tuple[str, bool]:
    """The refusal of a fine field that holds a temperature in a stored scale (ASTER's Kelvin x
    10, MODIS' x 50, x 100), "" for any other, and whether it holds a fill. Its values (fill values aside) must be far above
    any Kelvin (median > 1000) and a usual Kelvin scale must make them a land surface's
    temperatures (:func:`xlstsr.validate._scale_fits`); without Kelvin units, also within
    :data:`~xlstsr.validate.NEAR_LIKE_K` of the LST's median (``lst_stats``: its median and
    1-99 % spread) and of a scene's spread (:data:`_STORED_IQR_K`, an NDVI x 10000 guide
    spreads more), and spreading at least :data:`_STORED_SPREAD_SHARE` of the LST's (an
    emissivity x 10000 beside a cold LST: x 0.02 a median near the LST's, but almost flat).
    """
    from .validate import _scale_fits

    units = temperature_units(fine.attrs.get("units"))
    if units == "C":
        return "", False
    fill, share = None, 0.0
    parts = []
    for img in imgs:
        v = np.asarray(img, np.float64)
        v = v[np.isfinite(v)]
        found = suspect_guide_fill(v) if v.size else None
        if found is not None:
            fill, share = found if fill is None else (fill, share)
            v = v[v != found[0]]
        parts.append(v[:: max(1, v.size // 200_000)])
    vals = np.concatenate(parts) if parts else np.empty(0)
    if vals.size < 10:
        return "", False
    zero = _stored_zero_share(vals) if fill is None else None
    if zero is not None:
        # a stored 0 on a large share beside values far above any Kelvin is the fill whatever
        # else the field holds: near a scene corner ASTER's ring at 2000 widened the others'
        # quartiles, so 0 was not "far outside" them, and the raw K x 10 crop was used as a
        # guide (28 % stored 0: shift 188 m for the decoded field's 139 m, "reliable")
        fill, share = 0.0, zero
        vals = vals[vals != 0]
    med = float(np.median(vals))
    if not med > 1000.0:  # no Kelvin: a stored scale's values are 1800-35000
        return "", False
    p1, p99 = np.percentile(vals, [1, 99])
    like = None
    spread = np.nan
    if units != "K":
        like_k, spread = lst_stats() if lst_stats is not None else (np.nan, np.nan)
        like = (like_k, "the LST") if np.isfinite(like_k) else None
    fits = [f for f in _scale_fits(med, (150.0, 400.0), like=like) if not f[1]]
    if units != "K":
        # a scene's spread, neither an NDVI's (wider) nor an emissivity's (nearly flat)
        fits = [f for f in fits if like is not None
                and _scene_iqr(vals, f[0], fill is not None) * f[0] <= _STORED_IQR_K
                and not (p99 - p1) * f[0] < _STORED_SPREAD_SHARE * spread]
    if not fits:
        # no temperature (an NDVI x 10000): the stored 0 found above is still a fill (it was
        # dropped here, and the field used with it as data)
        return (_stored_zero_said(zero, med) if zero is not None else ""), zero is not None
    k, _, what, kelvin = fits[0]
    if fill is not None:
        fill = int(fill) if float(fill).is_integer() else float(fill)
        decode = f"fine = fine.where(fine != {fill!r}) * {k:g}"
    else:
        decode = f"fine = fine * {k:g}"
    # the scene border's pixels mixed with the fill (ASTER's 200 K ring) stay after decoding:
    # a threshold below the scene's own coldest (a fixed 230 K masked a winter scene whole),
    # taken above that ring where it is found (its 1st percentile was the ring itself: 188 K
    # advised, the estimate then refused or 260-340 m off). Also with the fill masked already.
    # Looked for at a share far below suspect_fill's default: a crop holding a little of the
    # ring (1.9 % of its pixels) was advised a valid_min inside it, the ring kept as truth.
    # Stored 0s left (under the fill's share) are the fill itself, not a ring "near 0 K"
    band = suspect_fill(vals[vals != 0] * k, share=_BAND_SHARE)
    border = ""
    if fill is not None or band is not None:
        above = vals if band is None else vals[vals * k > band[0] + _BAND_REACH_K]
        if above.size:
            p1 = float(np.percentile(above, 1))
        vmin = int(np.floor(p1 * k - 10.0))
        advice = (f"a valid_min below the scene's decoded 1st percentile"
                  f"{' above that ring' if band is not None else ''} ({p1 * k:.1f} K): "
                  "`from xlstsr.evaluate import reference_mask`; `fine = fine.where("
                  f"reference_mask(fine, erode=3, valid_min={vmin}, clear=True))`")
        if band is None:
            # no ring found: a condition, not an order (an ECOSTRESS scene followed it lost
            # 2.5 % of its valid pixels)
            border = (". If pixels along the scene border are mixed with the fill (as ASTER's "
                      f"200 K ring), mask them too, with {advice}")
        else:
            border = (f". Mask the pixels along the scene border mixed with the fill (ASTER's "
                      f"200 K ring, {band[1]:.{int(band[1] < 0.1)}%} of its pixels here, near "
                      f"{band[0]:.0f} K) "
                      f"too, with {advice}")
    return (f"the fine field holds a temperature in a stored scale, not decoded: its values "
            f"(median {med:.6g}) are {what}: x {k:g} gives a median of {kelvin:.1f} K"
            + (f" (the LST's: {like[0]:.1f} K)" if like is not None else "")
            + ("" if fill is None else f"; it holds {fill!r} on {share:.0%} of its valid "
               "pixels, an undeclared fill (ASTER stores 0 outside the scene)")
            + f". Decode it first: `{decode}`{border}. If it is no temperature (a guide such "
            "as NDVI x 10000), pass radiometric=False.", fill is not None)


def _block_size(lst: xr.DataArray, ly: str, lx: str) -> int:
    """The side of the squares of equal values an LST resampled by nearest neighbour onto a
    finer grid is made of (1 when it is not): :func:`xlstsr.validate.nearest_block_size` of
    its first image."""
    a = np.asarray(lst.transpose(..., ly, lx).values, dtype=np.float64)
    return nearest_block_size(a.reshape(-1, a.shape[-2], a.shape[-1])[0])


def _resampled_hint(lst: xr.DataArray, ly: str, lx: str) -> str:
    k = _block_size(lst, ly, lx)
    if k > 1:
        return (f" The LST is made of blocks of {k} x {k} equal pixels: it was resampled by "
                f"nearest neighbour onto a finer grid. Bring it back to its own grid first: "
                f"`lst.coarsen({ly}={k}, {lx}={k}).mean()`.")
    return (" Pass the coarse LST on its own grid (not resampled onto the fine one), or a "
            "finer fine field.")


def _celsius_to_kelvin(fine: xr.DataArray) -> xr.DataArray:
    """``fine`` in Kelvin (float64) where its units attribute declares degrees Celsius
    (:func:`~xlstsr.validate.temperature_units`), else as it is. A fine LST in degC (~30) was
    taken for a guide by its median: aggregated linearly, not through T^4, and its
    bias-removed RMSEs came back NaN without a word. The LST is decoded to Kelvin already."""
    if temperature_units(fine.attrs.get("units")) != "C":
        return fine
    out = fine.astype(np.float64) + 273.15
    out.attrs = {**fine.attrs, "units": "K"}
    return out


def _looks_like_kelvin(fine: xr.DataArray) -> bool:
    if temperature_units(fine.attrs.get("units")) == "K":
        return True
    vals = np.asarray(fine.values, dtype=np.float64)
    med = np.nanmedian(vals) if np.isfinite(vals).any() else np.nan
    return bool(np.isfinite(med) and 150.0 < med < 400.0)


#: names that say a field is a temperature (:func:`_warn_undeclared_celsius`)
_TEMPERATURE_NAME = re.compile(r"lst|temp|kelvin|celsius|degc|\b(?:st|bt|t)\b|thermal|_st_|^st_",
                               re.IGNORECASE)


def _warn_undeclared_celsius(fine: xr.DataArray, lst: xr.DataArray) -> None:
    """Warn where a fine field without units reads like an LST in degrees Celsius beside the
    LST's Kelvin (its median within 15 K of the LST's less 273.15, a temperature's spread): it
    is taken for a guide, aggregated linearly and its bias-removed scores NaN (a GeoTIFF
    seldom declares units; Madrid's 20 m LST less 273.15 moved 0.3 px)."""
    if fine.attrs.get("units") is not None:
        return
    # a field named as something else (a slope in degrees, 0-32, beside a 17 degC LST) is
    # not told to be an LST; rioxarray's generic names say nothing
    named = " ".join(str(v) for v in (fine.name, fine.attrs.get("long_name"),
                                      fine.attrs.get("standard_name"))
                     if v is not None and str(v) not in ("band_data", "__xarray_dataarray_variable__"))
    if named and not _TEMPERATURE_NAME.search(named):
        return
    vals = np.asarray(fine.values, dtype=np.float64)
    ref = np.asarray(lst.values, dtype=np.float64)
    if not (np.isfinite(vals).any() and np.isfinite(ref).any()):
        return
    lo, med, hi = np.nanpercentile(vals, [1, 50, 99])
    lst_med = float(np.nanmedian(ref)) - 273.15
    if -60.0 < lo and hi < 90.0 and hi - lo > 8.0 and abs(med - lst_med) < 15.0:
        warn(f"the fine field declares no units and its values read like an LST in degrees "
             f"Celsius (median {med:.1f}, the LST's {lst_med:.1f} degC): it is taken for a "
             "guide (aggregated linearly, its bias-removed scores NaN). If it is an LST in "
             "degrees Celsius, declare it, `fine.attrs['units'] = 'degC'`, to be compared "
             "through radiance.", UserWarning)


#: upper bound of an estimated PSF width, in LST pixels (MODIS: ~0.4): the kernel's default
_PSF_BOUND = 0.75


def _fine_field(fine: Any) -> xr.DataArray:
    """The fine field as :func:`estimate_offset` and :func:`misfit_surface` take it: a numpy
    array or a Dataset named (not an AttributeError), lat/lon dims (ECOSTRESS' own grid) as
    y/x, in image order, georeferenced."""
    fine, _ = select_lst(fine)
    fine = image_order(fine.rename(spatial_names(fine)))
    require_georeferenced(fine, "fine field")
    return fine


def _problems(e: ShiftEstimate, min_pixels: int, limit: float, min_correlation: float,
              psf_bound: str = "", factor: int = 1, fine_px: float = np.nan,
              unit: str = "m", window: Callable[[], str] | None = None) -> list[str]:
    """What makes an estimate unreliable. ``limit`` is the largest standard error of the shift
    in fine pixels of the nested grid (``factor`` per LST pixel, each ``fine_px`` long in
    ``unit``), as :func:`estimate_offset` derives it from ``max_shift_uncertainty`` (the LST
    CRS's units, default 1/16 LST pixel: the same metres whatever the fine field's
    resolution); it is said in those units and in LST pixels. ``window``: the advice on the
    window size where the search margin left pixels valid in both fields out
    (:func:`_window_advice`)."""
    out = []
    if e.n_valid < min_pixels:
        left = e.n_overlap - e.n_valid
        # a window without gaps (``window`` says "" where either field has some: a cloudy
        # scene was told to be larger and min_pixels= the count of a clear one)
        said = window() if left > 0 and window is not None else ""
        if said:
            # all valid, they were blamed on gaps ("valid in both fields", "mask clouds")
            out.append(
                f"only {e.n_valid} LST pixels are compared (need {min_pixels}): {left} of the "
                f"{e.n_overlap} valid in both fields lie in the search margin, along the fine "
                "field's edge, where the footprint can move or blur out of the observed pixels "
                f"within max_shift and the widest PSF; {said}")
        else:
            out.append(f"only {e.n_valid} LST pixels are valid in both fields (need {min_pixels})")
    if not (np.isfinite(e.dx) and np.isfinite(e.dy)):  # the kernel's NaN: nothing to align
        # always a problem: a NaN shift marked reliable (min_pixels=1 or 2 with 2 valid
        # pixels) was refused by apply_offset as "not finite on a step marked reliable"
        if e.n_valid >= 3:
            out.append("one field is uniform where they overlap (no pattern to align): no "
                       "shift can be estimated")
        elif not out:
            out.append(f"only {e.n_valid} LST pixels are valid in both fields: no shift can "
                       "be estimated from fewer than 3")
        return out
    if e.at_bound:
        out.append("the best shift lies at the search bound: the offset may be larger than "
                   "max_shift, or the fields do not match")
    if e.n_valid <= e.n_params:  # the kernel's inf: no degrees of freedom left
        out.append(
            f"{e.n_valid} LST pixels compared are no more than the {e.n_params} parameters "
            f"fitted (gain, offset, 2 shift components{', PSF width' if e.n_params > 4 else ''})"
            ": the fit is exact whatever the shift, and its uncertainty is not defined")
        return out
    if e.sigma_at_bound:
        out.append(f"the estimated PSF width lies at its bound ({psf_bound}): the PSF may be "
                   "wider, or the fields do not match; hold a known PSF fixed (psf=False, "
                   "psf_sigma=its width)")
    if not np.isfinite(e.uncertainty) or e.uncertainty > limit:
        if np.isfinite(fine_px):
            said = (f"{e.uncertainty * fine_px:.3g} {unit} ({e.uncertainty / factor:.3g} LST px)"
                    f" > max_shift_uncertainty={limit * fine_px:.3g} {unit} "
                    f"({limit / factor:.3g} LST px)")
        else:
            said = f"{e.uncertainty:.3g} fine px > {limit:.3g} fine px"
        if e.n_effective <= e.n_params:  # the kernel counted one degree of freedom
            # not "the fit is exact": the pixels are enough, their residuals too alike
            out.append(
                f"the residuals are too correlated along the field to bound the shift: "
                f"{e.n_valid} LST pixels compared count as {e.n_effective:.3g} independent, no "
                f"more than the {e.n_params} parameters fitted (shift uncertainty {said}); a "
                "smooth difference between the fields (a radiometric tilt) or a small window")
        else:
            out.append(f"the correlation surface is too flat (shift uncertainty {said})")
    if abs(e.r_after) < min_correlation:
        out.append(f"the fields hardly correlate (|r| = {abs(e.r_after):.2f} < {min_correlation})")
    return out


def _window_advice(fine: np.ndarray, coarse: np.ndarray, e: ShiftEstimate, factor: int,
                   min_pixels: int, fpx: float, unit: str, **search: Any) -> str:
    """The window of clear LST pixels :func:`estimate_offset` needs with the kernel's
    ``search`` arguments (:func:`xlstsr.kernels.coregister.smallest_window`), and what else
    takes this one (``fine`` on the nested grid of the LST pixels ``coarse`` under it, whose
    estimate ``e`` compared too few): a smaller ``max_shift`` (fine pixels in ``search``; said
    in ``unit``, ``fpx`` per fine pixel) or ``psf=False`` where they shrink the margin, a lower
    ``min_pixels`` that the pixels compared meet. "" where either field has gaps under the
    other (clouds: not a window too small)."""
    valid = np.isfinite(fine)
    f = int(factor)
    under = valid.reshape(coarse.shape[0], f, coarse.shape[1], f).mean(axis=(1, 3)) >= 0.95
    if (under & ~np.isfinite(coarse)).any() or _has_gaps(valid):
        return ""
    # the pixels there are (a reprojected field covers part of its LST box: an 11 x 11 box
    # told "10 x 10 needed" and min_pixels= the count of the whole box, above the one missed)
    have = e.n_valid
    side = _kc.smallest_window(factor, min_pixels, **search)
    need = (f"a window of at least {side} x {side} clear LST pixels under the fine field is "
            f"needed" if side is not None else "a larger window is needed")
    ny, nx = coarse.shape
    this = f"this one is {ny} x {nx}"
    if e.n_overlap < ny * nx:
        this += f", of which {e.n_overlap} LST pixels lie wholly under the fine field"
    out = f"with these settings {need} ({this})"
    shift = search["max_shift"]
    for label, change in (("psf=False", {"psf": False}),
                          (f"max_shift={shift / 2 * fpx:.3g} {unit}", {"max_shift": shift / 2}),
                          (f"max_shift={shift / 4 * fpx:.3g} {unit}", {"max_shift": shift / 4})):
        if not search.get("psf", True) and "psf" in change:
            continue
        other = {**search, **change}
        if _kc.compared_in(fine, coarse, factor, **other) > have:
            side2 = _kc.smallest_window(factor, min_pixels, **other)
            out += (f"; a smaller margin takes more of this one if the offset is that small: "
                    f"{label}" + (f" ({side2} x {side2} needed)" if side2 is not None else ""))
            break
    if 2 * (4 + int(search.get("psf", True))) < have < min_pixels:
        out += f"; or accept fewer compared pixels: min_pixels={have}"
    return out


def _has_gaps(valid: np.ndarray) -> bool:
    """Whether a validity mask has gaps: valid pixels in more than one piece, or invalid ones
    within the span of valid ones along a row or a column (a reprojected window's NaN
    corners, outside its footprint, are not gaps)."""
    if ndimage.label(valid)[1] > 1:
        return True
    for a in (valid, valid.T):
        rows = a.any(axis=1)
        first = np.argmax(a, axis=1)
        last = a.shape[1] - 1 - np.argmax(a[:, ::-1], axis=1)
        count = a.sum(axis=1)
        if (count[rows] < (last - first + 1)[rows]).any():
            return True
    return False


def estimate_offset(
    fine: xr.DataArray,
    lst: xr.DataArray,
    *,
    psf: bool = True,
    psf_sigma: float | None = None,
    max_shift: float | None = None,
    radiometric: bool | None = None,
    min_pixels: int = 30,
    max_shift_uncertainty: float | None = None,
    min_correlation: float = 0.3,
    errors: Errors = "raise",
    search_step: float | None = None,
    max_uncertainty: float | None = None,
) -> xr.Dataset:
    """Estimate the translation (and PSF width) that aligns a fine field with a coarse LST.

    Parameters
    ----------
    fine : DataArray
        A fine field: a reference LST (ASTER, Landsat, ECOSTRESS; decoded to Kelvin, NaN gaps) or
        a guide (NDVI, which may anti-correlate with LST). Any CRS; ``(y, x)`` or with the LST's
        leading dims (then one estimate per step).
    lst : DataArray
        The coarse LST (decoded as :func:`xlstsr.upscale` does), ``(y, x)`` or ``(time, y, x)``.
    psf : bool
        Estimate the sensor's Gaussian PSF width jointly (else hold it at ``psf_sigma``).
    psf_sigma : float, optional
        PSF width in the units of the LST's CRS (metres on a projected grid, degrees on a
        lon/lat one). With ``psf=True`` the starting value (default 0.4 LST pixel): the
        estimate is bounded to 0.75 LST pixel, and one at that bound is marked unreliable.
        With ``psf=False`` the fixed value, used as given (default 0: a box; at most 5 LST
        pixels).
    max_shift : float, optional
        Search bound on each shift component, in the same units (default half an LST pixel; at
        most 10 LST pixels).
    radiometric : bool, optional
        Aggregate the fine field through radiance (``T^4``: a fine LST) or linearly (a guide);
        default: radiance when it looks like Kelvin or declares degrees Celsius (its ``units``
        attribute: ``"degC"``, ``"celsius"``...; converted to Kelvin first).
    min_pixels, max_shift_uncertainty, min_correlation
        Reliability checks: LST pixels compared (those under the fine field but for a margin
        along its edge and gaps that the shift and PSF could move out of it: 2 pixels each side
        with the defaults, so a clear window of 10 x 10 LST pixels compares 36); the largest
        standard error of the shift (the returned ``shift_uncertainty``), in the same units as
        ``max_shift`` (metres on a projected grid; default 1/16 LST pixel: ~58 m under a 1 km
        LST, a quarter of a 250 m pixel, the same metres whatever the fine field's resolution;
        ``np.inf``: no limit); the absolute correlation at the estimate. Whatever ``min_pixels``, no more pixels
        compared than the parameters fitted (gain, offset, two shift components, the PSF
        width with ``psf``) fit exactly: ``shift_uncertainty`` is inf and the estimate
        unreliable; pixels whose residuals are so correlated that they count as no more
        independent samples get one degree of freedom (a large, finite uncertainty).
    errors : {"raise", "warn", "ignore"}
        What an unreliable estimate does: raise :class:`~xlstsr.errors.CoregistrationError`,
        warn, or only set ``reliable`` to False. A fine field with an undeclared fill value
        (one value on a large share of it, far outside the rest: ASTER's 0) raises
        :class:`~xlstsr.errors.UndeclaredFillError` with ``"raise"``, warns with ``"warn"``,
        as does a temperature in a stored scale (ASTER's Kelvin x 10), named with its decoding
        (unless ``radiometric=False``: a guide). A constant band along the fine field's edge
        (one exact value on 2 or more whole edge rows / columns, or on a corner block: a warp
        without a nodata value) is left out of the estimate, with a warning under ``"raise"``
        and ``"warn"`` (not refused: sea rows at one value, an LST clipped in a corner are
        genuine), without one under ``"ignore"``.
        An LST on about the fine field's pixel size (factor < 2) raises
        :class:`~xlstsr.errors.GridError` whatever ``errors``.
    search_step : float, optional
        Step of the grid search before the continuous refinement, in the same units (default a sixteenth
        of the search window; coarser is faster and risks a secondary optimum; at least a
        sixty-fourth of the window, so that the search stays at most 65 x 65 candidates).
    max_uncertainty : float, optional
        Deprecated (a :class:`FutureWarning`): the largest standard error of the shift in fine
        pixels of the nested grid (e.g. 0.25), as before; it is ``max_shift_uncertainty`` =
        ``max_uncertainty`` x the fine pixel. Pass ``max_shift_uncertainty`` instead.

    Returns
    -------
    Dataset
        ``shift_x``, ``shift_y`` (in the units of the LST's grid, metres, or degrees on a
        lon/lat grid: add them to the fine field's x / y to align it), ``shift_uncertainty``,
        ``psf_sigma`` (the same units; the sensor's PSF: the width fitted on the nested grid
        and the blur of the resampling onto it together, ~0 where the LST is sharper than that
        blur (a block mean); with ``psf=False`` the value held), ``correlation_before`` /
        ``_after``, ``mismatch_before`` / ``_after`` (K), ``bias_removed_before`` / ``_after``
        (K, a fine LST), ``n_valid``, ``reliable``; one value per leading index of ``lst``.
        ``attrs["factor"]``: the nested grid's factor; ``attrs["fine_pixel"]``: its pixel (in
        the grid's units, metres, or degrees on a lon/lat grid);
        ``attrs["isolated_gaps_filled"]``: the fine pixels of isolated gaps (pieces of at most
        4 pixels: a bad pixel, not a cloud) filled from their neighbours before the estimate,
        ``attrs["isolated_gaps_filled_images"]``: of how many fine images. They are filled only
        where, left as gaps, they would leave fewer than half the LST pixels compared with the
        fill (else the estimate is that of the field as given: a neighbour mean is biased
        where the masked pixels differ, as small water bodies). A filled gap blurs the field
        slightly, and ``psf_sigma`` reads a little narrower (about -1 % at 5 % of the pixels
        filled for a 350 m PSF, -10 % at 10 % for a 150 m one).

    Examples
    --------
    >>> import xlstsr
    >>> s = xlstsr.datasets.sample_scene(n_times=1)
    >>> est = xlstsr.estimate_offset(s["lst_250m"].isel(time=0), s["lst_1km"].isel(time=0))
    >>> abs(float(est.shift_x)) < 0.05 * 231.66 and abs(float(est.shift_y)) < 0.05 * 231.66
    True
    """
    if errors not in ("raise", "warn", "ignore"):
        raise XlstsrError(f"errors must be 'raise', 'warn' or 'ignore', got {errors!r}")
    for name, v, low in (("max_shift", max_shift, 0.0), ("search_step", search_step, 0.0),
                         ("psf_sigma", psf_sigma, None)):
        if v is None:
            continue
        ok = isinstance(v, (int, float, np.number)) and not isinstance(v, bool) and np.isfinite(v)
        if not ok or (v <= low if low is not None else v < 0):
            raise XlstsrError(f"{name} must be a finite number of metres "
                              f"{'> 0' if low is not None else '>= 0'} (or None), got {v!r}")
    min_pixels = check_whole("min_pixels", min_pixels, 1,
                             hint="the fewest valid coarse pixels of an estimate: e.g. 30")
    for name, v, unit in (("max_shift_uncertainty", max_shift_uncertainty,
                           "a length in the units of the LST's CRS (metres)"),
                          ("max_uncertainty", max_uncertainty, "a number of fine pixels")):
        if v is not None and (isinstance(v, bool) or not isinstance(
                v, (int, float, np.number)) or not v > 0):
            raise XlstsrError(f"{name} must be {unit} > 0 (np.inf: no limit; None: 1/16 LST "
                              f"pixel), got {v!r}; e.g. max_shift_uncertainty=60 on a metre grid")
    if max_uncertainty is not None and max_shift_uncertainty is not None:
        raise XlstsrError(
            "pass max_shift_uncertainty (a length in the LST CRS's units) or the deprecated "
            "max_uncertainty (fine pixels), not both.")
    check_number("min_correlation", min_correlation, 0, 1,
                 hint="the lowest |correlation| of a reliable estimate: e.g. 0.3")
    check_bool("psf", psf)
    if radiometric is not None:
        check_bool("radiometric", radiometric)
    # image order: the images are compared as arrays ((x, y) or south-up: a mirror image)
    lst = image_order(prepare_lst(lst, mask_out_of_range=True))
    ly0, lx0 = spatial_dims(lst)
    if min(lst.sizes[ly0], lst.sizes[lx0]) < 2:
        raise GridError(
            f"the LST is {lst.sizes[ly0]} x {lst.sizes[lx0]} pixels: an offset is estimated from "
            "the pattern of many LST pixels (at least 2 x 2; in practice 10 x 10 or more) under "
            "the fine field; give a larger area of both."
        )
    fine = _fine_field(fine)
    from .steps import _scalar_over_one_date, check_scalar_steps, pair_steps

    # a size-1 dim the LST lacks (band=1 of a GeoTIFF read by rioxarray as it is) is one fine
    # image, as pair_steps takes it: it was refused as "give one fine image"; kept as a scalar
    # coordinate, so that a date of it is checked against the LST's below
    gy, gx = spatial_dims(fine)
    single = [d for d in fine.dims if d not in (gy, gx) and d not in lst.dims and fine.sizes[d] == 1]
    if single:
        fine = fine.squeeze(single)
    # a fine image of one date (`.sel(time=t)`) serves the day and the night step of that date,
    # as `.sel(time=[t])` does (it was refused as "cannot be told by date"); one of other dates
    # was compared with LST steps of other dates
    fine = _scalar_over_one_date(fine, lst, "fine field", "LST", "fine", "lst")
    check_scalar_steps(lst, fine, "fine field", "LST", var="fine", like_var="lst",
                       overpass_free=True)
    ly, lx = spatial_dims(lst)
    lead = [d for d in lst.dims if d not in (ly, lx)]
    if len(lead) > 1:
        raise GridError(f"estimate_offset takes (y, x) or one leading dim, the LST has {lead}")
    fine = decode_guide(fine).compute()  # read once: every image is compared whole below
    gy, gx = spatial_dims(fine)
    flead = [d for d in fine.dims if d not in (gy, gx)]
    _refuse_fine_fill(fine, gy, gx, errors, radiometric, lambda: _median_spread(lst))
    fine = _mask_border_fill(fine, gy, gx, errors)
    # after the fill checks, whose advice names the field's own values
    fine = _celsius_to_kelvin(fine)
    if flead and flead != lead:
        raise GridError(
            f"the fine field has dims {flead} besides (y, x), the LST {lead}: give one fine image "
            "or one per LST step"
        )
    if flead:  # one fine image per LST step: paired by label, not by position
        # a fine image serves both overpasses of its date (a day+night series)
        fine = pair_steps(fine, lst, "fine field", "LST", var="fine", like_var="lst",
                          overpass_free=True)
    lres = float(np.sqrt(abs(np.prod(lst.rio.resolution()))))
    if fine_pixel_size(fine, lst.rio.crs) > 1.01 * lres:
        raise GridError(
            f"the fine field's pixels ({fine_pixel_size(fine, lst.rio.crs):.6g}) are larger than "
            f"the LST's ({lres:.6g}): are the arguments swapped? The order is "
            "`estimate_offset(fine, lst)` (the fine reference or guide first)."
        )
    _check_lengths(lres, lst.rio.crs, max_shift=max_shift, search_step=search_step,
                   psf_sigma=psf_sigma)
    if psf and psf_sigma is not None and psf_sigma > _PSF_BOUND * lres:
        # the start was clipped to the bound without a word
        unit = crs_length_unit(lst.rio.crs)
        raise XlstsrError(
            f"psf_sigma={psf_sigma:g} is the starting value of the PSF estimate (psf=True), which "
            f"is bounded to {_PSF_BOUND} LST pixel ({_PSF_BOUND * lres:.4g} {unit}; MODIS: ~0.4). "
            f"To use a wider PSF, hold it fixed: psf=False, psf_sigma={psf_sigma:g}."
        )
    factor = max(1, round(lres / fine_pixel_size(fine, lst.rio.crs)))
    if factor < 2:
        raise GridError(
            f"the fine field's pixels ({fine_pixel_size(fine, lst.rio.crs):.6g}) are about the "
            f"size of the LST's ({lres:.6g}): estimate_offset finds where a fine field lies "
            "under a coarser LST (2 or more fine pixels per LST pixel)."
            + _resampled_hint(lst, ly, lx)
        )
    # only the LST pixels under the fine field take part
    try:
        b = fine.rio.transform_bounds(lst.rio.crs) if fine.rio.crs != lst.rio.crs else fine.rio.bounds()
        sub = lst.rio.clip_box(*b)
    except Exception as err:  # rioxarray raises NoDataInBounds and others
        hint = ""
        if lst.rio.crs is not None and lst.rio.crs.is_geographic and fine.rio.crs == lst.rio.crs:
            hint = longitude_convention_hint(b, lst.rio.bounds(), "fine", "lon",
                                             "fine field")
        raise NoOverlapError(f"the fine field does not overlap the LST ({err}).{hint}") from err
    on_grid = _on_nested_grid(fine, sub, factor)
    blur = on_grid.attrs.get("resampling_variance", 0.0)  # nested pixels^2
    # isolated gaps filled only where needed (_use_filled): read on the clipped window
    on_filled = (_on_nested_grid(fine, sub, factor, fill=True)
                 if bool(np.isnan(on_grid.values).any()) else None)
    if on_filled is not None and not sum(on_filled.attrs["isolated_gaps_filled"]):
        on_filled = None
    fpx = abs(float(fine_grid(sub, factor)[2].a))
    ft = fine_grid(sub, factor)[2]
    # the largest standard error of the shift, in fine pixels of the nested grid (the kernel's)
    if max_uncertainty is not None:
        # its old unit kept: max_uncertainty=0.25 written for fine pixels became 4x looser at
        # 1 km / 250 m, silently, when it was read as LST pixels
        warn(f"max_uncertainty (fine pixels) is deprecated: pass max_shift_uncertainty, a length "
             f"in the LST CRS's units (max_uncertainty={max_uncertainty:g} is "
             f"max_shift_uncertainty={max_uncertainty * fpx:.4g} "
             f"{crs_length_unit(lst.rio.crs)} here).", FutureWarning)
        limit = float(max_uncertainty)
    elif max_shift_uncertainty is None:
        limit = factor * _MAX_UNCERTAINTY_LST_PX
    else:
        _check_lengths(lres, lst.rio.crs, max_shift_uncertainty=max_shift_uncertainty
                       if np.isfinite(max_shift_uncertainty) else None)
        limit = float(max_shift_uncertainty) / fpx
    if radiometric is None:
        radiometric = _looks_like_kelvin(fine)
        if not radiometric:
            _warn_undeclared_celsius(fine, sub)
    else:
        radiometric = bool(radiometric)
    bound = (0.5 * factor) if max_shift is None else max_shift / fpx
    step = max(bound / 8.0, 0.05) if search_step is None else search_step / fpx
    step = max(step, bound / 32.0)  # at most 65 x 65 candidates in the grid search
    # the sensor's PSF (held, or the start) less the resampling's blur, as misfit_surface
    sig = _kernel_sigma(None if psf_sigma is None else psf_sigma / fpx, blur)
    if psf and sig is not None:  # within the bound checked above: only round-off
        sig = min(sig, _PSF_BOUND * factor)
    n = sub.sizes[lead[0]] if lead else 1
    rows = []
    filled_images: dict[int, int] = {}  # fine image -> its pixels filled, where used
    for i in range(n):
        c = sub.isel({lead[0]: i}) if lead else sub
        f_i = on_grid.isel({lead[0]: i}) if flead else on_grid
        if on_filled is not None:
            k = i if flead else 0
            g_i = on_filled.isel({lead[0]: i}) if flead else on_filled
            if on_filled.attrs["isolated_gaps_filled"][k] and _use_filled(
                    np.asarray(f_i.values), np.asarray(g_i.values),
                    np.asarray(c.values, np.float64), factor, psf=psf, sigma=sig,
                    max_shift=bound, max_sigma=_PSF_BOUND * factor):
                f_i = g_i
                filled_images[k] = on_filled.attrs["isolated_gaps_filled"][k]
        e = estimate_shift(
            np.asarray(f_i.values), np.asarray(c.values, np.float64), factor, psf=psf, sigma=sig,
            max_shift=bound, step=step, max_sigma=_PSF_BOUND * factor, radiometric=radiometric,
        )
        search = {"psf": psf, "sigma": sig, "max_shift": bound,
                  "max_sigma": _PSF_BOUND * factor}
        bad = _problems(e, min_pixels, limit, min_correlation,
                        f"{_PSF_BOUND} LST pixel, {_PSF_BOUND * factor * fpx:.4g} "
                        f"{crs_length_unit(lst.rio.crs)}", factor, fpx,
                        crs_length_unit(lst.rio.crs),
                        lambda c=c, f_i=f_i, e=e, search=search: _window_advice(
                            np.asarray(f_i.values, np.float64), np.asarray(c.values, np.float64),
                            e, factor, min_pixels, fpx, crs_length_unit(lst.rio.crs), **search))
        if bad:
            where = f" at {lead[0]}={c[lead[0]].values}" if lead else ""
            # a window too small for the search margin or for the parameters, all valid: not
            # "check that both fields cover the same ground and date"
            small = all("search margin" in b or "parameters fitted" in b for b in bad)
            msg = (f"the co-registration estimate{where} is unreliable: " + "; ".join(bad) + ". "
                   + ("Give a larger window" if small else
                      "Check that both fields cover the same ground and date")
                   + ", mask clouds in both, or pass errors='warn' to keep the estimate.")
            if errors == "raise":
                raise CoregistrationError(msg)
            if errors == "warn":
                warn(msg)
        rows.append({
            # array axes -> CRS metres: a column is +a in x, a row +e in y (e < 0: north-up)
            "shift_x": e.dx * ft.a,
            "shift_y": e.dy * ft.e,
            "shift_uncertainty": e.uncertainty * fpx,
            # the interpolation onto the nested grid blurred the fine field already: the
            # sensor's PSF is the fitted one and that blur together, unless the fit is at its
            # lower bound (an LST sharper than the blur: a block mean reads ~0); a held one
            # as given
            "psf_sigma": (np.sqrt(e.sigma**2 + blur) * fpx
                          if psf and e.sigma > _SIGMA_AT_ZERO else e.sigma * fpx if psf
                          else psf_sigma if psf_sigma is not None else e.sigma * fpx),
            "correlation_before": e.r_before,
            "correlation_after": e.r_after,
            "mismatch_before": e.rmse_before,
            "mismatch_after": e.rmse_after,
            "bias_removed_before": e.bias_removed_before if radiometric else np.nan,
            "bias_removed_after": e.bias_removed_after if radiometric else np.nan,
            "n_valid": e.n_valid,
            "reliable": not bad,
        })
    data = {}
    length = crs_length_unit(lst.rio.crs)
    for k, (units, long_name) in _VARS.items():
        vals = np.array([r[k] for r in rows])
        v = xr.DataArray(vals, dims=tuple(lead)) if lead else xr.DataArray(vals[0])
        # lengths in the LST CRS's units (a lon/lat offset of 230 m read "-0.003 m")
        v.attrs = {"units": length if units == "m" else units, "long_name": long_name}
        data[k] = v
    coords = {lead[0]: sub[lead[0]].values} if lead else {}
    return xr.Dataset(data, coords=coords, attrs={
        "factor": factor, "fine_pixel": fpx, "psf_estimated": int(psf),
        "radiometric": int(radiometric),
        "isolated_gaps_filled": int(sum(filled_images.values())),
        "isolated_gaps_filled_images": len(filled_images),
        "convention": f"add shift_x/shift_y (LST CRS units: {length}) to the fine field's x/y "
                      "to align it",
        "crs": lst.rio.crs.to_wkt() if lst.rio.crs is not None else "",
    })


def _other_units(a: Any, b: Any) -> bool:
    """Whether two CRSs measure shifts in other units (degrees against metres, metres against
    feet): the same CRS written another way (axis order, a PROJ string) is not refused."""
    if a.is_geographic != b.is_geographic:
        return True
    if a.is_geographic:
        return False
    fa, fb = _length_factor(a), _length_factor(b)
    # a unit not known (an engineering CRS without one) is not refused: the factor is
    # inferred as before (rasterio's CRSError came out of evaluate(sr, ref, coarse=lst))
    return fa is not None and fb is not None and not np.isclose(fa, fb)


def _length_factor(crs: Any) -> float | None:
    """Metres per unit of a projected or engineering CRS's axes; None where not known.
    rasterio's ``linear_units_factor`` raises ``CRSError`` on a CRS that is not projected (a
    ``LOCAL_CS``, as GDAL reads some user-defined GeoTIFFs): its axes' unit is read with
    pyproj instead."""
    from rasterio.errors import CRSError

    try:
        return float(crs.linear_units_factor[1])
    except (CRSError, AttributeError, TypeError, ValueError):
        pass
    try:
        import pyproj

        axes = pyproj.CRS.from_user_input(crs).axis_info
        factor = float(axes[0].unit_conversion_factor)
    except Exception:  # no CRS pyproj reads, no axes: the unit is not known
        return None
    return factor if np.isfinite(factor) and factor > 0 else None


def _refuse_coregistered(fine: Any) -> None:
    """Refuse a fine field that an offset was applied to already: moved again, silently, it
    ended two offsets away (a 75 m offset applied as 150 m)."""
    attrs = getattr(fine, "attrs", None) or {}
    if "xlstsr_coregistration" in attrs:
        raise CoregistrationError(
            "the fine field was co-registered already (its attrs hold xlstsr_coregistration: "
            f"{str(attrs['xlstsr_coregistration'])[:80]}): applying an offset again moves it "
            "twice. Use it as it is, or apply the offset to the field as read; to move it again "
            "on purpose, drop the attribute first (`fine.attrs.pop('xlstsr_coregistration')`)."
        )


def apply_offset(fine: xr.DataArray, offset: xr.Dataset, crs: Any) -> xr.DataArray:
    """The fine field with its coordinates and transform moved by an :func:`estimate_offset`
    result (no resampling).

    ``offset`` holds ``shift_x`` / ``shift_y`` in the axes of the CRS it records in
    ``attrs["crs"]`` (the LST's it was estimated against, as :func:`estimate_offset` writes it),
    else in ``crs`` (the LST's; offsets of older versions record none); one per time step gives
    their median over the reliable steps (a sensor offset is systematic). Across CRSs the shift
    is converted into the fine field's CRS at its centre (an estimate in EPSG:4326 degrees
    moves a UTM field by the metres they span there). The estimate is kept as JSON in
    ``attrs["xlstsr_coregistration"]``; a field that carries it already is refused (it would
    move twice): drop the attribute to move it again on purpose.
    """
    if not isinstance(offset, xr.Dataset) or {"shift_x", "shift_y", "reliable"} - set(
            offset.data_vars):
        raise XlstsrError(
            f"offset must be the Dataset returned by `xlstsr.estimate_offset(fine, lst)` (with "
            f"shift_x, shift_y and reliable), got {type(offset).__name__}"
            + (f" with {sorted(map(str, offset.data_vars))}" if isinstance(offset, xr.Dataset)
               else "")
        )
    try:
        from rasterio.crs import CRS

        if crs is None:
            raise ValueError("no CRS")
        crs = CRS.from_user_input(crs)
    except Exception as err:
        raise XlstsrError(
            f"crs must be the LST's CRS, the one the offset was estimated in (`lst.rio.crs`), "
            f"got {crs!r} ({err})"
        ) from err
    _refuse_coregistered(fine)
    own = offset.attrs.get("crs")  # absent from offsets of older versions
    if own and CRS.from_user_input(own) != crs:
        # the shifts are in the axes and units of the CRS they were estimated in: read in
        # another one's (a sinusoidal +y of 200 m read as UTM +y, 0.002 degrees as 0.002 m)
        # they move the field elsewhere, or not at all; converted below at the field's centre
        crs = CRS.from_user_input(own)
    names = spatial_names(fine)
    if names:  # lat/lon dims: moved as y/x, given back their names
        return apply_offset(fine.rename(names), offset, crs).rename(
            {v: k for k, v in names.items()})
    ok = np.atleast_1d(offset.reliable.values).astype(bool)
    if not ok.any():
        raise CoregistrationError(
            "the offset has no reliable step (reliable is False everywhere, e.g. estimated with "
            "errors='warn'): there is no offset to apply. Use the fine field as it is, or "
            "estimate it again on clearer steps (`xlstsr.estimate_offset(fine, lst.isel(time="
            "[i]))`).")
    sx = float(np.median(np.atleast_1d(offset.shift_x.values)[ok]))
    sy = float(np.median(np.atleast_1d(offset.shift_y.values)[ok]))
    if not (np.isfinite(sx) and np.isfinite(sy)):  # the fine field's coordinates became NaN
        raise CoregistrationError(
            "the offset's shift_x/shift_y is not finite on a step marked reliable: pass the "
            "result of `xlstsr.estimate_offset(fine, lst)` as it is.")
    gy, gx = spatial_dims(fine)
    if fine.rio.crs != crs:
        from pyproj import Transformer

        to_fine = Transformer.from_crs(crs, fine.rio.crs, always_xy=True)
        to_lst = Transformer.from_crs(fine.rio.crs, crs, always_xy=True)
        cx, cy = float(fine[gx].mean()), float(fine[gy].mean())
        x0, y0 = to_lst.transform(cx, cy)
        x1, y1 = to_fine.transform(x0 + sx, y0 + sy)
        dx, dy = x1 - cx, y1 - cy
    else:
        dx, dy = sx, sy
    t = label_transform(fine)
    out = fine.assign_coords({gx: fine[gx] + dx, gy: fine[gy] + dy})
    out = out.rio.write_transform(Affine.translation(dx, dy) * t)
    summary = {k: np.atleast_1d(v.values).tolist() for k, v in offset.data_vars.items()}
    out.attrs = {**fine.attrs, "xlstsr_coregistration": json.dumps(
        {"applied_shift_x": dx, "applied_shift_y": dy, "crs_of_applied_shift": "fine field",
         **summary, **dict(offset.attrs)}, default=float)}
    return out


def coregister(fine: xr.DataArray, lst: xr.DataArray, **kwargs: Any) -> xr.DataArray:
    """The fine field with coordinates and transform moved onto the LST (no resampling).

    :func:`estimate_offset` (``kwargs`` go to it) then :func:`apply_offset`.

    Examples
    --------
    >>> import xlstsr
    >>> from affine import Affine
    >>> s = xlstsr.datasets.sample_scene(n_times=1)
    >>> fine = s["lst_250m"].isel(time=0)
    >>> moved = fine.assign_coords(x=fine.x + 120.0).rio.write_transform(
    ...     fine.rio.transform() * Affine.translation(120.0 / 231.656, 0))
    >>> back = xlstsr.coregister(moved, s["lst_1km"].isel(time=0))
    >>> bool(abs(float(back.x[0] - fine.x[0])) < 12)
    True
    """
    _refuse_coregistered(fine)  # before the estimate, not after its work
    return apply_offset(fine, estimate_offset(fine, lst, **kwargs), lst.rio.crs)


def misfit_surface(
    fine: xr.DataArray,
    lst: xr.DataArray,
    shifts: np.ndarray,
    *,
    psf_sigma: float = 0.0,
    radiometric: bool | None = None,
) -> xr.DataArray:
    """The misfit ``1 - r^2`` between a 2-D LST and a fine field moved by every ``(shift_y,
    shift_x)`` in ``shifts`` x ``shifts`` (added to the fine field's coordinates) and seen
    through a sensor PSF of ``psf_sigma``: the surface :func:`estimate_offset` minimises.

    The inputs are taken as :func:`estimate_offset` takes them (lat/lon dims, a Dataset, any
    CRS, a fine LST declaring degrees Celsius converted to Kelvin, isolated gaps filled where
    it fills them), one image each; ``shifts`` and ``psf_sigma`` are in the units
    of the LST's CRS (metres, or degrees on a lon/lat grid). ``psf_sigma`` is the sensor's, as
    :func:`estimate_offset` reports it: the blur of the resampling onto the nested grid is
    part of it.
    """
    lst = image_order(prepare_lst(lst, mask_out_of_range=True))
    # the same front door as estimate_offset: lat/lon dims failed inside rioxarray
    fine = decode_guide(_fine_field(fine)).compute()
    for name, da in (("lst", lst), ("fine", fine)):
        extra = [d for d in da.dims if d not in spatial_dims(da) and da.sizes[d] > 1]
        if extra:
            raise GridError(f"misfit_surface takes one image of each field, {name} has dims "
                            f"{extra} besides (y, x): select one, e.g. `{name}.isel({extra[0]}=0)`")
    lst = lst.squeeze([d for d in lst.dims if d not in spatial_dims(lst)], drop=True)
    fine = fine.squeeze([d for d in fine.dims if d not in spatial_dims(fine)], drop=True)
    # a constant border band left out, as estimate_offset leaves it (said, not refused: a view)
    fine = _celsius_to_kelvin(_mask_border_fill(fine, *spatial_dims(fine), "warn"))
    shifts = np.asarray(shifts, dtype=np.float64)
    if shifts.ndim != 1 or not shifts.size or not np.isfinite(shifts).all():
        raise XlstsrError(f"shifts must be a 1-D array of finite lengths, got {shifts!r}")
    psf_sigma = check_number("psf_sigma", psf_sigma, 0,
                             hint="the PSF width in the LST CRS's units, e.g. 350")
    lres = float(np.sqrt(abs(np.prod(lst.rio.resolution()))))
    _check_lengths(lres, lst.rio.crs, shifts=float(np.abs(shifts).max()) or None,
                   psf_sigma=float(psf_sigma) or None)
    factor = max(1, round(lres / fine_pixel_size(fine, lst.rio.crs)))
    if factor < 2:
        raise GridError(
            f"the fine field's pixels ({fine_pixel_size(fine, lst.rio.crs):.6g}) are about the "
            f"size of the LST's ({lres:.6g}) or larger: misfit_surface compares a fine field "
            "with a coarser LST (2 or more fine pixels per LST pixel); the order is "
            "`misfit_surface(fine, lst, shifts)`.")
    try:
        b = (fine.rio.transform_bounds(lst.rio.crs) if fine.rio.crs != lst.rio.crs
             else fine.rio.bounds())
        sub = lst.rio.clip_box(*b)
    except Exception as err:  # rioxarray raises NoDataInBounds and others
        raise NoOverlapError(f"the fine field does not overlap the LST ({err}).") from err
    ft = fine_grid(sub, factor)[2]
    on_grid = _on_nested_grid(fine, sub, factor)
    radiometric = _looks_like_kelvin(fine) if radiometric is None else bool(radiometric)
    # the resampling blurred the field already: the rest of the sensor's PSF (nested pixels)
    sig = _kernel_sigma(psf_sigma / abs(ft.a), on_grid.attrs["resampling_variance"])
    if bool(np.isnan(on_grid.values).any()):  # isolated gaps filled as estimate_offset does
        filled = _on_nested_grid(fine, sub, factor, fill=True)
        if sum(filled.attrs["isolated_gaps_filled"]) and _use_filled(
                np.asarray(on_grid.values), np.asarray(filled.values),
                np.asarray(sub.values, np.float64), factor, psf=False, sigma=sig,
                max_shift=max(float(np.abs(shifts).max()) / abs(ft.a), 1e-9)):
            on_grid = filled
    # CRS units -> array axes: a column is +a in x, a row +e in y (e < 0: north-up)
    j = _kc.misfit_surface(np.asarray(on_grid.values), np.asarray(sub.values, np.float64),
                           factor, shifts / ft.e, shifts / ft.a, sig, radiometric=radiometric)
    return xr.DataArray(j, dims=("shift_y", "shift_x"),
                        coords={"shift_y": shifts, "shift_x": shifts},
                        attrs={"long_name": "unexplained LST variance 1 - r^2", "units": "1"})
