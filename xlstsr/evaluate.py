"""``evaluate``: accuracy of a super-resolved LST field against a fine reference (e.g. ASTER).

The super-resolved (SR) field is reprojected onto the reference grid (bilinear, rioxarray), the
reference's validity mask is applied (nodata, scale, erosion of the valid region, physical
thresholds), and the metrics of :mod:`xlstsr.metrics` are computed on the pixels valid in both.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

import dask.array as dsa
import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr
from rasterio.enums import Resampling
from scipy import ndimage

from . import metrics as _m
from .errors import (
    AllNaNError,
    CoregistrationError,
    GridError,
    InputTypeError,
    NoOverlapError,
    OverpassWarning,
    PhysicalRangeError,
    PhysicalRangeWarning,
    ScaledIntegerError,
    UndeclaredFillError,
    UnitsError,
    VariableNotFoundError,
    XlstsrError,
    warn,
)
from .grid import same_axis
from .steps import (
    _all_dates_only,
    _date_only,
    _gap,
    _overpass_matches,
    _warn_other_hours,
    pair_steps,
)
from .validate import (
    LANDSAT_C2_ST_OFFSET,
    PHYSICAL_RANGE_K,
    UNSCORED,
    _landsat_l1_hint,
    check_bool,
    check_factor,
    check_number,
    check_whole,
    decode_lst,
    georeference,
    label_transform,
    prepare_lst,
    select_lst,
    spatial_dims,
    spatial_names,
    unscored_message,
)

__all__ = ["check_possible_kelvin", "decode_reference", "evaluate", "reference_mask"]

#: units and long names of the scores: the metrics' own (a difference in K: evaluate's inputs
#: are all in Kelvin), and those of the scores only evaluate gives
_UNITS: dict[str, tuple[str, str]] = {
    **{name: ((u or "K") + ("/pixel" if name == "gradient_rmse" else ""), long_name)
       for name, (u, long_name) in _m._ATTRS.items()},
    "spectral_ratio_sym": (
        "1",
        "geometric mean of spectral_ratio on the reference grid and on the sr grid (cancels the "
        "resampling's smoothing)",
    ),
    "coregistration_shift_x": ("m", "shift added to the reference's x (LST CRS) to align it"),
    "coregistration_shift_y": ("m", "shift added to the reference's y (LST CRS) to align it"),
    "psf_sigma": ("m", "Gaussian PSF width of the coarse sensor, estimated with the shift"),
}


def _n_steps(da: xr.DataArray) -> int:
    """The number of images of ``da`` (its leading dims' sizes multiplied)."""
    ydim, xdim = spatial_dims(da)
    return int(np.prod([n for d, n in da.sizes.items() if d not in (ydim, xdim)]))


#: evaluate(coregister=True) without coarse=: refused before the reference is read (a lazy
#: reference was read whole, then this advice given)
_NEEDS_COARSE = ("coregister=True aligns the reference with the coarse input: pass `coarse=lst` "
                 "(`--coarse` on the command line)")


def _coregistered(
    ref: xr.DataArray, mask: xr.DataArray, coarse: xr.DataArray | None, how: bool | xr.Dataset,
    masked: bool = True,
) -> tuple[xr.DataArray, xr.DataArray, xr.Dataset]:
    """The reference and its mask moved onto ``coarse`` (coordinates only), and the estimate.
    ``masked``: the reference was masked beyond its gaps (``erode``, thresholds, clouds)."""
    from .coregister import apply_offset, estimate_offset

    if isinstance(how, xr.Dataset):
        est = how
    else:
        if coarse is None:
            raise XlstsrError(_NEEDS_COARSE)
        # the steps of the cube scored: a truth of one date (2-D) under a coarse cube is
        # estimated once per coarse step too (one cloudy coarse step refused the whole cube)
        cube = max(_n_steps(ref), _n_steps(coarse)) > 1
        try:
            # a cube: the reliable steps' offset moves every step (one offset per scene), so an
            # unreliable step (99 % cloud) is said, not a refusal of the whole cube
            with warnings.catch_warnings(record=True) as said:
                warnings.simplefilter("always")
                est = estimate_offset(ref.where(mask), coarse,
                                      errors="warn" if cube else "raise")
            ok = np.atleast_1d(est.reliable.values).astype(bool)
            if not ok.any():
                raise CoregistrationError(str(said[0].message) if said else
                                          "no step gave a reliable co-registration estimate.")
            if not ok.all():
                warn(
                    f"co-registration: {int((~ok).sum())} of {ok.size} steps gave no reliable "
                    "estimate (mostly cloud?); the reliable steps' offset moves them too. "
                    f"First: {str(said[0].message)[:200] if said else ''}",
                    UserWarning)
        except CoregistrationError as err:
            raise CoregistrationError(_coregistration_advice(str(err), masked, cube)) from err
    # an estimate recording its CRS (attrs['crs']) is applied in that CRS's axes by apply_offset
    # whatever crs is passed; older ones without it are read in coarse's CRS
    if coarse is not None:
        crs = coarse.rio.crs
    elif est.attrs.get("crs"):
        from pyproj import CRS

        crs = CRS.from_wkt(str(est.attrs["crs"]))
    else:
        crs = ref.rio.crs
    moved = apply_offset(ref, est, crs)
    ydim, xdim = spatial_dims(ref)
    mask = mask.assign_coords({ydim: moved[ydim], xdim: moved[xdim]})
    return moved, mask, est


def _coregistration_advice(text: str, masked: bool, cube: bool = False) -> str:
    """estimate_offset's unreliable-estimate message with the fixes that work within evaluate.

    evaluate takes no ``errors=`` (estimate_offset's own advice), and it refuses only when no
    step is reliable: an estimate passed with ``errors='ignore'`` then has no reliable step
    either, and :func:`xlstsr.coregister.apply_offset` refuses it (the advice given before).
    An estimate of one's own works on other data (a larger area) or settings (``max_shift``),
    and on the reference masked as evaluate masks it (an unmasked ASTER scene fails). For a
    ``cube`` it is made with ``errors='warn'``, as evaluate's own: with the default 'raise' one
    cloudy coarse step refused the advised estimate as well.
    """
    text = text.replace(", mask clouds in both, or pass errors='warn' to keep the estimate.",
                        " and mask clouds in both.")
    text = text.replace(" or pass errors='warn' to keep the estimate.", "")
    out = [text]
    if not masked:
        # an unmasked ASTER scene (border pixels mixed with its fill, cold cloud pixels)
        # spoils the estimate, which sees the reference as masked for scoring
        out.append("Within evaluate, the estimate sees the reference masked as for scoring: "
                   "mask its border and clouds (for ASTER: erode=3, valid_min=230, clear=True).")
    own = ("(`from xlstsr.evaluate import reference_mask`; `coregister=xlstsr.estimate_offset("
           "{r}.where(reference_mask({r}, erode=3, valid_min=230, clear=True)), coarse{k}"
           + (", errors='warn'" if cube else "") + ")` for ASTER"
           + ("; errors='warn' keeps the steps that are reliable, as evaluate does" if cube
              else "") + ")")
    if "valid in both fields" in text:  # the other problems follow from too few pixels
        out.append("The reference covers too few coarse pixels for an estimate: estimate the "
                   "offset on a larger area of the same scene, masked as for scoring, and pass "
                   "it " + own.format(r="larger", k="") + ".")
    elif "search bound" in text:
        out.append("The offset may be larger than the search (half a coarse pixel): estimate it "
                   "with a wider one on the reference masked as for scoring, and pass it "
                   + own.format(r="reference", k=", max_shift=...") + ".")
    out.append("Or pass coregister=False to score the reference as given.")
    return " ".join(out)


#: thresholds below this many Kelvin are no land temperature (degrees Celsius, or a sign slip)
_THRESHOLD_MIN_K = 100.0
#: decoded reference values outside this range are no temperature at all: a fill value (float32's
#: lowest, -3.4e38; -9999 on a few pixels) that was not declared and that no threshold removed
_IMPOSSIBLE_K = (0.0, 1000.0)


def _impossible_message(n: int, decoded: np.ndarray, stored: np.ndarray | None,
                        nodata: Any) -> str:
    vals, counts = np.unique(stored if stored is not None else decoded, return_counts=True)
    v = vals[int(np.argmax(counts))]
    v = int(v) if float(v).is_integer() and abs(float(v)) < 1e15 else float(v)
    what = "stored value" if stored is not None else "value"
    return (
        f"{n} reference pixel(s) hold values that are no temperature after decoding (from "
        f"{float(decoded.min()):.4g} to {float(decoded.max()):.4g} K; {what} {v!r} on "
        f"{int(counts.max())} of them): an undeclared fill value (reference_nodata={nodata!r}), "
        f"which would dominate every metric. Pass `reference_nodata={v!r}` (`--reference-nodata "
        f"{v!r}` on the command line; the value as stored), declare it "
        f"(`reference.attrs['_FillValue'] = {v!r}`), or drop such pixels with `valid_min=230`."
    )


def check_possible_kelvin(values: Any, what: str, use: str = "would dominate the result") -> None:
    """Refuse decoded Kelvin values that no temperature takes (<= 0 K or > 1000 K): cloud or
    gap pixels written as 0 or -9999, too few to be found as a fill value by the decoders'
    checks (a few percent), which a fit or a gain took as data without a word.

    Examples
    --------
    >>> import numpy as np
    >>> from xlstsr.evaluate import check_possible_kelvin
    >>> check_possible_kelvin(np.array([300.0, np.nan, 310.0]), "truth")
    >>> check_possible_kelvin(np.array([300.0, -9999.0, 310.0]), "truth")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    xlstsr.errors.UndeclaredFillError: 1 truth pixel(s) hold values no temperature takes ...
    """
    v = np.asarray(values, np.float64)
    bad = v[_impossible(v, np.isfinite(v))]
    if not bad.size:
        return
    vals, counts = np.unique(bad, return_counts=True)
    x = vals[int(np.argmax(counts))]
    x = int(x) if float(x).is_integer() else float(x)
    raise UndeclaredFillError(
        f"{bad.size} {what} pixel(s) hold values no temperature takes ({float(bad.min()):.6g} "
        f"to {float(bad.max()):.6g} K; {x!r} on {int(counts.max())} of them): an undeclared "
        f"fill value (clouds or gaps written as {x!r}?), which {use}. Mask it first "
        f"(`{what}.where({what} != {x!r})`), or declare it (`{what}.attrs['_FillValue'] = "
        f"{x!r}`)."
    )


def _impossible(r: np.ndarray, m: np.ndarray) -> np.ndarray:
    return np.asarray(m, bool) & ((r <= _IMPOSSIBLE_K[0]) | (r > _IMPOSSIBLE_K[1]))


def _check_block(r: np.ndarray, m: np.ndarray, nodata: Any) -> np.ndarray:
    bad = _impossible(r, m)
    if bad.any():
        raise UndeclaredFillError(_impossible_message(int(bad.sum()), r[bad], None, nodata))
    return r


def _refuse_impossible(reference: xr.DataArray, ref: xr.DataArray, mask: xr.DataArray,
                       nodata: Any) -> xr.DataArray:
    """``ref``, refusing kept reference pixels that cannot be temperatures (<= 0 K or > 1000 K
    after decoding): too few to be found as a fill value by :func:`decode_reference`'s check,
    they would still make the metrics meaningless (one float32 fill pixel: an RMSE of 1e35 K).
    In memory the error is raised here (naming the stored value); on dask the check joins the
    graph and raises when the metrics are computed."""
    if isinstance(mask.variable.data, dsa.Array) or isinstance(ref.variable.data, dsa.Array):
        r = dsa.asarray(ref.variable.data)
        m = dsa.asarray(mask.transpose(*ref.dims).variable.data).rechunk(r.chunks)
        # positional (the mask is made from ref, on its grid): no coordinate alignment
        checked = dsa.map_blocks(_check_block, r, m, nodata=nodata, dtype=r.dtype)
        return ref.copy(data=checked)
    r = np.asarray(ref.values)
    bad = _impossible(r, np.asarray(mask.values))
    n = int(bad.sum())
    if n:
        stored = np.asarray(reference.values)
        raise UndeclaredFillError(_impossible_message(
            n, r[bad], stored[bad] if stored.shape == bad.shape else None, nodata))
    return ref


#: fewer pixels valid in both than this: a step's metrics are noise (warned)
MIN_SCORED_PIXELS = 100


def _check_scored(ref_m: xr.DataArray, nv: xr.DataArray) -> None:
    """Warn about a reference constant over its scored pixels (a fill value or a gap-filled
    constant taken as truth: an RMSE, an infinite PSNR and a NaN correlation were reported),
    and about steps scored on fewer than :data:`MIN_SCORED_PIXELS` pixels (a scene 99.99 %
    cloud was scored on 6 pixels without a word) or on none (their metrics NaN: a step all
    cloud in either field was passed over silently among scored ones; with no step scored at
    all :func:`evaluate` raises before)."""
    ry, rx = spatial_dims(ref_m)
    flat = np.asarray(ref_m.transpose(..., ry, rx).values, np.float64).reshape(
        -1, ref_m.sizes[ry] * ref_m.sizes[rx])
    counts = np.atleast_1d(np.asarray(nv.values)).ravel()
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        spread = np.nanmax(flat, axis=1) - np.nanmin(flat, axis=1)
    flat_steps = [i for i, (sp, n) in enumerate(zip(spread, np.isfinite(flat).sum(1)))
                  if n >= 16 and sp == 0]
    if flat_steps:  # a warning: a constant field is a fair synthetic test of the bias
        v = float(np.nanmax(flat[flat_steps[0]]))
        warn(
            f"the reference is constant ({v:g} K on every valid pixel"
            f"{'' if flat.shape[0] == 1 else f' of step(s) {flat_steps}'}): a real scene never "
            f"is (a fill value or a gap-filled constant taken as truth? mask it with "
            f"`reference_nodata={v:g}`); psnr, ssim, correlation and the spectral ratios are undefined "
            "for it.",
            UserWarning,
        )
    empty = [i for i, n in enumerate(counts) if n == 0]
    if empty:
        named = ", ".join(
            " ".join(f"{d}={_label(nv, d, int(j))}" for d, j in zip(
                nv.dims, np.unravel_index(i, nv.shape))) for i in empty[:4])
        warn(
            f"step(s) {empty} ({named}{', ...' if len(empty) > 4 else ''}) have no pixel valid "
            "in both sr and the reference (n_valid 0): "
            "their metrics are NaN. Either field is all cloud (or masked) there, or their valid "
            "pixels do not overlap; the other steps are scored. Keep the scored steps only with "
            "`ds = xlstsr.evaluate(...)`; `ds = ds.where(ds.n_valid > 0, drop=True)`.",
            UserWarning,
        )
    few = [i for i, n in enumerate(counts) if 0 < n < MIN_SCORED_PIXELS]
    if few:
        warn(
            f"{'step(s) ' + str(few) + ' are' if counts.size > 1 else 'the field is'} scored on "
            f"fewer than {MIN_SCORED_PIXELS} pixels valid in both (as few as "
            f"{int(min(counts[i] for i in few))}): the metrics are noise (mostly cloud, or a "
            "small overlap?); see n_valid.",
            UserWarning,
        )


#: share of the reference's otherwise valid pixels that valid_min / valid_max may remove
#: before :func:`evaluate` warns (a cloud-free Antarctic truth of 215-239 K lost 86 % of its
#: pixels to the cloud threshold valid_min=230, and its warmest part was scored alone)
THRESHOLD_DROP_WARN = 0.5


def _check_thresholds_kept(ref: xr.DataArray, mask: xr.DataArray, erode: int | None,
                           valid_min: Any, valid_max: Any) -> None:
    """Warn when more than :data:`THRESHOLD_DROP_WARN` of the reference pixels that the other
    masks keep lie beyond ``valid_min`` / ``valid_max`` (the count removed, with ``clear``'s
    erosion around them, is said): a cloud threshold on a cold scene drops the scene, not its
    clouds. In memory
    (``ref`` and ``mask`` computed) only, as the other checks of the scored pixels."""
    if valid_min is None and valid_max is None:
        return
    lo, hi = PHYSICAL_RANGE_K
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the erosion's own warnings were given with the mask
        base = reference_mask(ref, erode=erode or 0) & (ref >= lo) & (ref <= hi)
    total = int(base.sum())
    # the pixels beyond the thresholds themselves, not those clear's erosion takes around
    # cloud gaps (a temperate truth with 3 % scattered cloud lost 53 % to it: no cold scene)
    outside = base & (((ref < valid_min) if valid_min is not None else False)
                      | ((ref > valid_max) if valid_max is not None else False))
    if total == 0 or int(outside.sum()) <= THRESHOLD_DROP_WARN * total:
        return
    kept = int((mask & base).sum())
    v = np.asarray(ref.where(base).values, np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        span = f"{np.nanmin(v):.1f}-{np.nanmax(v):.1f} K, median {np.nanmedian(v):.1f} K"
    bounds = ", ".join(f"{n}={float(t):g}" for n, t in (("valid_min", valid_min),
                                                           ("valid_max", valid_max))
                       if t is not None and not np.ndim(t))
    warn(
        f"the valid range ({bounds or 'valid_min / valid_max'}) removes {total - kept} of the "
        f"reference's {total} otherwise valid pixels ({(total - kept) / total:.0%}; the "
        f"reference spans {span}): the scores describe only the {kept} kept. valid_min=230 "
        "drops cloud pixels in temperate scenes; a cold scene (polar, high mountains, winter "
        "nights) is that cold itself: use a lower valid_min (e.g. 20 K below the clear "
        "scene's coldest ground) or a cloud mask (reference_clear=...). If the removed pixels "
        "are cloud, this is as intended; see n_valid.",
        UserWarning,
    )


#: kelvin by which the median of the reference pixels kept next to its gaps may differ from
#: the median of the rest, at any ``erode``, before :func:`evaluate` warns (also more than
#: :data:`GAP_RING_IQR` times the rest's interquartile range). ASTER K x 10 decoded with its 0
#: fill and valid_min=230 kept its fill-mixed border 43-77 K colder than the rest (RMSE 2-3x);
#: land along the coast or cloud gaps of clear ECOSTRESS scenes (70 m, water and cloud
#: masks applied) was at most 19 K colder
GAP_RING_WARN_K = 20.0
#: ... and this many interquartile ranges of the rest (a scene of wide contrasts)
GAP_RING_IQR = 3.0
#: kept pixels next to the gaps, and elsewhere, needed for the comparison
_GAP_RING_MIN_PIXELS = 30
#: kelvin by which the kept pixels next to the gaps may be colder than those 4-5 px further
#: in before :func:`evaluate` warns, where the pixels 2 px in are within
#: :data:`GAP_EDGE_SHARP` of that of them (also more than one interquartile range of the
#: rest): a step this sharp is a mix with the fill, not a colder region. ASTER decoded as
#: documented but at erode=1 kept a band 10.2-19.1 K colder, 2 px in within 0.18 of it (all
#: 55 pairs; RMSE 0.13-0.67 K above erode=3's); at erode=2 2.7 K at most (RMSE within 0.041 K
#: of erode=3's), at erode=3 0.7 K. Clean MODIS crops cut by their window: 1.3 K at most;
#: ECOSTRESS scenes with cloud and water masks (22, erode 0-3): up to 11.7 K at cloud edges and
#: coasts, but gradual (2 px in still 0.58-0.87 of it)
GAP_EDGE_STEP_K = 5.0
#: ... the share of that step left 2 px in, at most
GAP_EDGE_SHARP = 1 / 3


def _grow(a: np.ndarray) -> np.ndarray:
    """``a`` with its 4-neighbours: ``ndimage.binary_dilation(a, cross)`` by slices (8x
    faster on 2000 x 2000)."""
    out = a.copy()
    out[1:] |= a[:-1]
    out[:-1] |= a[1:]
    out[:, 1:] |= a[:, :-1]
    out[:, :-1] |= a[:, 1:]
    return out


def _border_ring(vi: np.ndarray, mi: np.ndarray, gaps: np.ndarray, frame: np.ndarray, b: float,
                 bound: float, i: int) -> list[tuple[int, int, float, float, str]]:
    """The ring of the gaps that reach the array's edge (``frame``: the scene's outside) judged
    alone, where gaps inside it (masked water, cloud holes) have rims of their own: pooled,
    clean 2x2 NaN holes diluted a fill-mixed border (RMSE 8.4 K for 1.0 K, no word; review
    48e/3). Warned (as ``(i, n, ring median, rest median, "gaps")``) when the ring is ``bound``
    off the rest (median ``b``) and that departure is the ring's: the pixels 4-5 px further in
    are at least half of it back (a mix with the fill is 1-3 px thin; the land along Los
    Angeles' coast, 22 K colder than the rest beside the masked sea, is as cool inland)."""
    labels, n_gaps = ndimage.label(gaps, np.ones((3, 3), bool))
    outer = np.zeros(n_gaps + 1, bool)
    outer[labels[frame]] = True
    outer[0] = False
    if n_gaps < 2 or not outer.any() or outer[1:].all():  # no hole, or no border: judged above
        return []
    border = outer[labels]
    near = _grow(border) & mi
    # (square neighbourhoods: a separable filter, 7x faster than three cross dilations)
    shell = (ndimage.maximum_filter(border, size=11) & ~ndimage.maximum_filter(border, size=7)
             & mi)
    if near.sum() < _GAP_RING_MIN_PIXELS or shell.sum() < _GAP_RING_MIN_PIXELS:
        return []
    a, inner = float(np.median(vi[near])), float(np.median(vi[shell]))
    if abs(a - b) > bound and abs(a - inner) > abs(a - b) / 2:
        return [(i, int(near.sum()), a, b, "gaps")]
    return []


def _edge_step(vi: np.ndarray, mi: np.ndarray, removed: np.ndarray, iqr: float,
               i: int) -> list[tuple[int, int, float, float, str]]:
    """The kept pixels next to what the mask removes (``removed``: fill, NaN, thresholds' gaps
    and the erosion around them) judged against the kept pixels 4-5 px further in, as
    ``(i, n, ring median, inner median, "edge")``, when the ring is more than
    :data:`GAP_EDGE_STEP_K` (and ``iqr``) colder and the pixels 2 px in are back within
    :data:`GAP_EDGE_SHARP` of that: ASTER's border 2 px from its 0 fill, partly mixed, is
    only 10-19 K colder than 4-5 px in, under the bounds against the rest, while a colder
    region (land along a masked sea, a cloud's rim) fades over several pixels."""
    # the rings by 4-neighbours (a square ring of a diagonal border takes in pixels 2 px in)
    one = _grow(removed)
    ring, second = one & mi, _grow(one) & ~one & mi
    shell = (ndimage.maximum_filter(removed, size=11) & ~ndimage.maximum_filter(removed, size=7)
             & mi)
    if min(ring.sum(), second.sum(), shell.sum()) < _GAP_RING_MIN_PIXELS:
        return []
    a, a2, inner = (float(np.median(vi[r])) for r in (ring, second, shell))
    if inner - a > max(GAP_EDGE_STEP_K, iqr) and inner - a2 < GAP_EDGE_SHARP * (inner - a):
        return [(i, int(ring.sum()), a, inner, "edge")]
    return []


def _check_gap_ring(ref: xr.DataArray, mask: xr.DataArray, erode: int | None,
                    valid_min: Any = None, valid_max: Any = None, clear: bool = False,
                    fill_declared: bool = False) -> None:
    """Warn when the reference pixels that ``mask`` keeps next to the pixels it removes (the
    reference's fill or NaN, what ``valid_min`` / ``valid_max`` and the physical range drop,
    and what ``erode`` drops around them; not the band it cuts along the array's edge) differ
    from the rest by more than :data:`GAP_RING_WARN_K` and :data:`GAP_RING_IQR` interquartile
    ranges: a scene border mixed with the fill (ASTER's 0) scored as truth, which doubled its
    RMSE without a word. Run at any ``erode``: ASTER's border is still mixed 1-2 px in, and
    erode acts on the declared gaps only (a 0 fill left undeclared and removed by valid_min,
    or cold cloud without ``clear``, kept its mixed ring at erode=3). The ring of the gaps that
    reach the array's edge (the scene's outside) is judged alone too (:func:`_border_ring`),
    as the clean rims of holes inside diluted it, and a ring under those bounds by its sharp
    step against the pixels 4-5 px in (:func:`_edge_step`: ASTER's partly mixed band at
    erode=1). ``fill_declared``: the
    reference's fill was declared (``reference_nodata`` or its attrs), so the advice does not
    ask for it. In memory (``ref`` and ``mask`` computed) only, as the other checks of the
    scored pixels."""
    erode = int(erode or 0)
    ydim, xdim = spatial_dims(ref)
    lead = [d for d in ref.dims if d not in (ydim, xdim)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the erosion's own warnings were given with the mask
        # what erode alone keeps: the rest of what the mask removes is the thresholds' (and
        # the physical range's) gaps, with clear's erosion around them
        base = reference_mask(ref, erode=erode)
    v = np.asarray(ref.transpose(*lead, ydim, xdim).values, np.float64)
    m = np.asarray(mask.transpose(*lead, ydim, xdim).values, bool)
    e = np.asarray(base.transpose(*lead, ydim, xdim).values, bool)
    v, m, e = (a.reshape(-1, *a.shape[-2:]) for a in (v, m, e))
    # the band erode cuts along the array's edge: a cut, not a fill
    edge = np.zeros(v.shape[-2:], bool)
    if erode:
        edge[:erode], edge[-erode:], edge[:, :erode], edge[:, -erode:] = True, True, True, True
    # the first pixels inside that band: a gap reaching them is the scene's outside
    frame = np.zeros(v.shape[-2:], bool)
    k = min(erode, (min(frame.shape) - 1) // 2)
    frame[k], frame[-k - 1], frame[:, k], frame[:, -k - 1] = True, True, True, True
    frame &= ~edge
    found = []
    for i, (vi, mi, ei) in enumerate(zip(v, m, e)):
        # the kept 4-neighbours of the gaps (fill, NaN) and of erode's rim around them, and
        # of the threshold gaps: judged apart, as the ring of one was diluted by the other's
        # (pair 020 at erode=3 without clear: RMSE 2.85 for 1.56 K, the mixed ring beside the
        # 230 K gaps unseen among the clean one at 4 px from the fill)
        gaps = ~ei & ~edge
        rings = {"gaps": _grow(gaps) & mi, "thresholds": _grow(ei & ~mi) & mi}
        rest = mi & ~(rings["gaps"] | rings["thresholds"])
        if rest.sum() < _GAP_RING_MIN_PIXELS:
            continue
        q1, b, q3 = (float(q) for q in np.percentile(vi[rest], [25, 50, 75]))
        bound = max(GAP_RING_WARN_K, GAP_RING_IQR * float(q3 - q1))
        for kind, near in rings.items():
            if near.sum() < _GAP_RING_MIN_PIXELS:
                continue
            a = float(np.median(vi[near]))
            if abs(a - b) > bound:
                found.append((i, int(near.sum()), a, b, kind))
        if not any(f[0] == i for f in found):
            found += _border_ring(vi, mi, gaps, frame, b, bound, i)
        if not any(f[0] == i for f in found):
            step = _edge_step(vi, mi, ~mi & ~edge, float(q3 - q1), i)
            # a step beside the thresholds' gaps more than beside the fill's: erode alone
            # cannot drop it (a larger erode was advised, for ever: review 49f/2)
            ring = _grow(~mi & ~edge) & mi
            if step and (ring & rings["thresholds"]).sum() > (ring & rings["gaps"]).sum():
                step = [(*f[:4], "edge_thresholds") for f in step]
            found += step
    if not found:
        return
    # the bounds' findings first (against the rest); the edge step's only where none is
    i, n, a, b, kind = max(found, key=lambda f: (not f[4].startswith("edge"),
                                                 abs(f[2] - f[3])))
    than = "those 4-5 px further in" if kind.startswith("edge") else "the rest"
    where = f" (in {len(set(f[0] for f in found))} of {len(v)} images; the worst, image {i}, " \
        "said)" if len(v) > 1 else ""
    given = not (valid_min is None and valid_max is None)
    masked = "if the reference was masked already, its mask left them in."
    if not erode:
        why = "as nothing erodes the valid region"
        fix = ("Pass erode=3 to drop the pixels within 3 px of every gap (ASTER: "
               "`reference_scale=0.1, reference_nodata=0, erode=3, valid_min=230, "
               f"clear=True`); {masked}")
    elif kind in ("thresholds", "edge_thresholds") and not (clear and given):
        # erode acts on the declared fill and NaN: an undeclared fill is removed by the
        # thresholds (or the physical range) alone, its mixed border kept. Only the steps not
        # taken are advised (the declared fill was asked for again, and the command line
        # listed the flags typed, not --clear: regression probe 48/F1)
        why = (f"as an erode of {erode} px acts on the reference's declared fill and NaN, not on "
               f"the pixels {'valid_min / valid_max' if given else 'the physical range'} remove")
        steps = [] if fill_declared else [
            "declare the fill (ASTER: reference_nodata=0), so that erode drops its border"]
        if given:
            steps.append("pass clear=True to erode around the gaps the thresholds make too "
                         "(cloud edges, a fill they remove)")
        elif fill_declared:
            steps.append("give the threshold that removes them (ASTER: valid_min=230) with "
                         "clear=True, so that erode acts around its gaps too")
        fix = "; ".join(steps)
        fix = f"{fix[0].upper()}{fix[1:]}; {masked}"
    else:
        why = f"as erode={erode} leaves them"
        fix = f"Pass a larger erode (e.g. erode={max(3, erode + 2)}) to drop them; {masked}"
    warn(
        f"the {n} reference pixels kept next to its gaps (its fill or NaN: the scene border, "
        f"masked clouds) are {abs(a - b):.1f} K {'colder' if a < b else 'warmer'} than "
        f"{than} (median {a:.1f} K against {b:.1f} K){where}: pixels mixed with the fill at the "
        f"scene border (or partly cloudy at cloud edges) are scored as truth, {why}. {fix}",
        UserWarning,
    )


def _check_sr_gaps(ref_m: xr.DataArray, nv: xr.DataArray) -> None:
    """Warn where ``n_valid`` differs along a dim of sr that the reference lacks and that is
    not time (methods stacked along ``method``): each image is scored on its own valid pixels,
    so products with other gaps are not compared alike (a product that left its hardest 20 %
    of pixels NaN scored 0.79 K for 1.06 K, without a word). A single product's gaps are not
    warned about: a MODIS LST's clouds leave its sr NaN where the fine truth is clear on most
    real pairs; ``n_valid`` says how many pixels were scored."""
    lead = list(nv.dims)
    # images stacked along a dim the reference lacks (methods): what differs along it
    stacks = [d for d in lead if d not in ref_m.dims and d != "time" and nv.sizes[d] > 1
              and not isinstance(nv.indexes.get(d), (pd.DatetimeIndex, xr.CFTimeIndex))]
    differ = [d for d in stacks if bool((nv != nv.isel({d: 0})).any())]
    for d in differ:
        per = nv.max([o for o in lead if o != d]) if nv.ndim > 1 else nv
        shown = ", ".join(f"{_label(nv, d, j)}: {int(per.values[j])}"
                          for j in range(min(nv.sizes[d], 4)))
        warn(
            f"n_valid differs along sr's {d!r} dim ({shown}{', ...' if nv.sizes[d] > 4 else ''}): "
            "its images are scored against the same reference on different pixels (their own "
            "valid ones), so their scores are not comparable (one that leaves its hardest "
            f"pixels NaN scores better). Score them on the pixels valid in all: "
            f"`sr = sr.where(sr.notnull().all({d!r}))`.",
            UserWarning,
        )


def _label(da: xr.DataArray, dim: str, i: int) -> str:
    """The label of ``da``'s step ``i`` along ``dim`` (its position without labels)."""
    return str(da.indexes[dim][i]) if dim in da.indexes else str(i)


MAX_BIAS_K = 60.0
"""Mean differences (K) beyond which sr and the reference are not the same quantity: the
diurnal range of a desert is about 50 K, and a truth of another hour is named before."""


WARN_BIAS_K = 15.0
"""Mean differences (K) of a scored pair beyond which a warning says that the scores measure a
mismatch: sensors, emissivities and minutes between overpasses make a few K (a Landsat
Level-1 band decoded as K x 100 was scored 50 K off without a word)."""


def _check_bias(sr: xr.DataArray, ref_m: xr.DataArray,
                reference_scale: float | None = None) -> None:
    """Refuse a mean error no two LST of the same ground and hour show (a Landsat scene decoded
    without its 149 K offset lies within the physical range on warm days: an RMSE of 148 K was
    reported). Pooled over every step and on :data:`MIN_SCORED_PIXELS` pixels at least: one
    step of a cube scored on a few cloud-edge pixels is an outlier of that step, not a
    decoding error. Steps of a mean error beyond :data:`WARN_BIAS_K` (on as many pixels) are
    warned about."""
    sb, rb = xr.broadcast(sr, ref_m)  # as the metrics pair them (a band dim on one side)
    sb = sb.transpose(..., *spatial_dims(sb))  # images last: the warning is per image
    s = np.asarray(sb.values, np.float64)
    r = np.asarray(rb.transpose(*sb.dims).values, np.float64)
    both = np.isfinite(s) & np.isfinite(r)
    if int(both.sum()) < MIN_SCORED_PIXELS:
        return
    mean = float((s[both] - r[both]).mean())
    if abs(mean) <= MAX_BIAS_K:
        _warn_bias(s, r, both, reference_scale)
        return
    r_med, s_med = float(np.median(r[both])), float(np.median(s[both]))
    landsat = ("; the reference's values plus 149 K match sr: a Landsat Collection 2 surface "
               "temperature decoded without its offset (K = DN x 0.00341802 + 149.0)? Read the "
               "scene with `xlstsr.io.open_landsat_c2l2`, or add the offset"
               if abs(r_med + LANDSAT_C2_ST_OFFSET - s_med) < 30.0 else "")
    raise PhysicalRangeError(
        f"sr and the reference differ by {mean:+.1f} K on average (medians {s_med:.1f} K and "
        f"{r_med:.1f} K): no two LST of the same ground and hour differ by more than "
        f"{MAX_BIAS_K:g} K, so one of them is decoded wrongly (a scale, an offset or units not "
        f"applied) or they are not the same product{landsat}."
    )


def _warn_bias(s: np.ndarray, r: np.ndarray, both: np.ndarray,
               reference_scale: float | None) -> None:
    """Warn about the steps whose mean error sr - reference exceeds :data:`WARN_BIAS_K` (on
    :data:`MIN_SCORED_PIXELS` pixels at least): within :data:`MAX_BIAS_K`, but more than
    sensors and the minutes between overpasses make; a decoding or pairing error is likelier."""
    shape = (-1, *s.shape[-2:]) if s.ndim >= 2 else (1, -1)
    s, r, both = (np.reshape(a, shape) for a in (s, r, both))
    big = []
    for i in range(s.shape[0]):
        ok = both[i]
        if int(ok.sum()) >= MIN_SCORED_PIXELS:
            m = float((s[i][ok] - r[i][ok]).mean())
            if abs(m) > WARN_BIAS_K:
                big.append((i, m, float(np.median(s[i][ok])), float(np.median(r[i][ok]))))
    if not big:
        return
    _, m, s_med, r_med = max(big, key=lambda b: abs(b[1]))
    steps = [b[0] for b in big]
    where = "" if s.shape[0] == 1 else (
        f" on step(s) {steps[:10]}{'...' if len(steps) > 10 else ''} (the largest shown)")
    scaled = ""
    if reference_scale is not None:
        # the reference's values as stored: Landsat Level-1 counts given a scale of K x 100
        l1 = _landsat_l1_hint(r_med / float(reference_scale), (s_med, "sr"))
        # (no `reference_scale=` in the text: the command line would offer it as a flag)
        scaled = (f"; the reference as stored (its scale {float(reference_scale):g} undone): "
                  f"{l1}" if l1 else
                  f"; check the reference's scale ({float(reference_scale):g}) against its "
                  "product's documentation")
    warn(
        f"sr and the reference differ by {m:+.1f} K on average{where} "
        f"(medians {s_med:.1f} K and {r_med:.1f} K): more than sensors, emissivities and the "
        f"minutes between overpasses make (a few K; beyond {WARN_BIAS_K:g} K warned, beyond "
        f"{MAX_BIAS_K:g} K refused), so the scores measure that mismatch. One of them is "
        "likely decoded wrongly (a scale, an offset or units) or of another hour or day"
        f"{scaled}.",
        UserWarning,
    )


_NO_PIXEL_IN_BOTH = (
    "the super-resolved field and the reference overlap, but no pixel is valid in both "
    "(gaps in sr over the valid reference pixels); check the inputs' gaps and masking."
)


def _check_total(block: np.ndarray, total: Any, kept: Any, message: str,
                 empty: str) -> np.ndarray:
    if int(kept) == 0:
        raise AllNaNError(empty)
    if int(total) == 0:
        raise NoOverlapError(message)
    return block


def _refuse_none_scored(out: dict[str, xr.DataArray], nv: xr.DataArray, mask: xr.DataArray,
                        empty: str) -> dict[str, xr.DataArray]:
    """The in-memory refusals of a reference with no valid pixel after masking
    (:class:`AllNaNError`) or none valid in sr as well (:class:`NoOverlapError`) for dask
    inputs whose metrics are one chunk (a scene, or a cube scored in one piece): every metric
    then depends on the counts, so computing any of them raises instead of returning NaN with
    n_valid 0. A cube scored in several chunks is left as it is: tying every step to the
    whole cube's count read all of it to compute one step. A step with no pixel stays NaN,
    as in memory."""
    if nv.variable.data.npartitions != 1:
        return out
    total = nv.variable.data.sum()
    kept = dsa.asarray(mask.variable.data).sum()
    return {name: da.copy(data=dsa.map_blocks(_check_total, da.variable.data, total, kept,
                                              message=_NO_PIXEL_IN_BOTH, empty=empty,
                                              dtype=da.dtype))
            if isinstance(da.variable.data, dsa.Array) else da
            for name, da in out.items()}


def _erode_block(valid: np.ndarray, iterations: int) -> np.ndarray:
    structure = ndimage.generate_binary_structure(2, 1)  # 4-connected cross: city-block distance
    structure = structure.reshape((1,) * (valid.ndim - 2) + structure.shape)
    return ndimage.binary_erosion(valid, structure, iterations=iterations, border_value=0)


#: what :func:`decode_reference` keeps of the reference's encoding through its typed fill:
#: the file read (``source``) and how its reader decoded it (packing, stored type)
_READER_ENCODING = ("source", "scale_factor", "add_offset", "dtype", "_Unsigned")


def decode_reference(
    reference: xr.DataArray,
    *,
    scale: float | None = None,
    nodata: float | None = None,
    valid_min: float | None = None,
    valid_max: float | None = None,
    sr_median: Any = None,
    attrs_of: str | None = None,
) -> xr.DataArray:
    """Reference values in Kelvin (float64, NaN where invalid), decoded as the inputs are.

    The front door of the inputs (:func:`xlstsr.validate.decode_lst`) decodes the reference:
    declared encodings (``units`` in Celsius, ``scale_factor``/``add_offset``/``_FillValue`` in
    its attrs, its rio nodata) are applied; ``nodata`` and ``scale`` declare an encoding the file
    does not (ASTER stored as K x 10 with 0 outside the scene: ``scale=0.1, nodata=0``), applied
    first. Then the same checks: Celsius without units, an undeclared fill value (one value over
    a large part of the scene far below the rest), and the physical range, which the bulk of
    the reference (more than half of each image's valid pixels) must be in; pixels outside it
    are kept (border pixels mixed with the fill: ``valid_min`` and ``erode`` drop them). A value
    repeated over part of the scene but outside ``[valid_min, valid_max]`` (the thresholds
    :func:`reference_mask` applies next) is not refused as an undeclared fill: they drop it.

    ``sr_median``: the median (K) of the super-resolved field scored against it, or a callable
    of a reference image's index (flat order of its leading dims) giving that of its sr image,
    called for a refusal's advice only: a stored scale is offered only if it brings the
    reference within :data:`xlstsr.validate.NEAR_LIKE_K` of it (sr and truth are of one
    overpass; "K x 100" was offered for Landsat Level-1 counts, followed and scored 50 K off).

    ``attrs_of``: for a caller that takes no ``scale``/``nodata`` (the plot functions'
    ``truth``), the variable whose attrs a refusal tells to set (scaled integers:
    `truth.attrs.update(scale_factor=0.1, _FillValue=0)`; an undeclared fill:
    `truth.attrs['_FillValue'] = -9999`; a stale scale: `del truth.attrs['scale_factor']`)
    instead of evaluate's ``reference_scale=``/``reference_nodata=`` (a TypeError when
    followed). It is passed to :func:`xlstsr.validate.decode_lst` as a plain argument, so a
    lazy reference refused when computed, on any scheduler, is told the same.

    Raises
    ------
    UnitsError, UndeclaredFillError, PhysicalRangeError
        The reference is not in Kelvin as decoded (e.g. a Celsius or K x 10 reference without
        ``units`` or ``scale``), with the fix in the message.

    Examples
    --------
    >>> import xarray as xr, numpy as np
    >>> from xlstsr.evaluate import decode_reference
    >>> r = xr.DataArray(np.array([[0.0, 3000.0]]), dims=("y", "x"))
    >>> decode_reference(r, scale=0.1, nodata=0).values.tolist()
    [[nan, 300.0]]
    >>> c = xr.DataArray(np.array([[25.0, 26.85]]), dims=("y", "x"), attrs={"units": "degC"})
    >>> np.round(decode_reference(c).values, 2).tolist()
    [[298.15, 300.0]]
    """
    ref = reference.copy(deep=False)  # attrs are set below: never on the caller's array
    declared = ref.attrs.get("scale_factor")
    if scale is not None and declared is not None and float(np.ravel(declared)[0]) != 1.0:
        raise XlstsrError(
            f"the reference declares scale_factor={declared} in its attrs and reference_scale="
            f"{scale} was passed as well; pass one of them (drop the attr, or reference_scale)."
        )
    if scale is not None and float(scale) != 1.0:  # (a scale of 1 changes nothing)
        _refuse_scale_on_decoded(reference, scale, nodata)
    if nodata is not None:  # a fill the file does not declare, in stored units
        ref = ref.astype(np.float64).where(ref != float(nodata))
        ref.attrs = dict(reference.attrs)
    if scale is not None:  # a scale it does not declare: decoded (and reported) as if it did
        ref = ref.astype(np.float64)  # as before: scaled in float64
        ref.attrs = {**ref.attrs, "scale_factor": float(scale)}
    # the file and the reader's packing, dropped by `where`: the file is named, so a
    # refusal's command line rewrites the file's own wrong tag on a copy (not
    # "--reference-scale where typed", refused typed), and a packed file's scale is judged
    # as without a typed fill (a packed .nc's 0.002 for 0.02 was told degrees Celsius only:
    # followed, RMSE 8.90 K for 2.29 K)
    kept = {k: reference.encoding[k] for k in _READER_ENCODING
            if k in reference.encoding and k not in ref.encoding}
    if kept:
        ref.encoding = {**ref.encoding, **kept}
    like = None if sr_median is None else (sr_median, "the super-resolved field")
    out = decode_lst(ref, keep_out_of_range=True, what="reference",
                     kept_range=(valid_min, valid_max), like=like,
                     attrs_of=attrs_of,
                     # a step's drop advice on sr (dropped on the reference alone, the next
                     # call refused the pair of steps; the reference is relabelled as sr's)
                     step_vars=None if attrs_of else ("sr",)).astype(np.float64)
    return out.rio.write_nodata(np.nan, encoded=False)


def _refuse_scale_on_decoded(reference: xr.DataArray, scale: float,
                             nodata: float | None = None) -> None:
    """Refuse a typed ``reference_scale`` on values its reader decoded already
    (``mask_and_scale=True``: the file's scale in ``encoding``, not ``attrs``): it was written
    into ``attrs['scale_factor']`` and the decoded Kelvin read as degrees Celsius, whose advice
    (``attrs['scale_factor'] = 1``) was overridden by ``reference_scale`` again (a loop). An
    in-memory reference whose values are all whole numbers (digital numbers the encoding does
    not describe) is left to :func:`~xlstsr.validate.decode_lst`. A typed ``nodata`` (stored) is
    told as its decoded value, computed as the reader decodes (float64): the decoded -999.9 of
    -9999 x 0.1 is -999.9000000000001, and -999.9 typed was refused as a fill again."""
    from dask import is_dask_collection

    from .validate import _packed_encoding

    packed = _packed_encoding(reference)
    if packed is None or packed == (1.0, 0.0):
        return
    shown = f"scale_factor {packed[0]:g}" + (f", add_offset {packed[1]:g}" if packed[1] else "")
    values = ""
    if not is_dask_collection(reference.data):
        finite = np.asarray(reference.values, dtype=np.float64)
        finite = finite[np.isfinite(finite)]
        if finite.size and np.allclose(finite, np.round(finite), rtol=0.0, atol=1e-6):
            return
        if finite.size:
            values = (f"; its values, {float(finite.min()):.2f} to {float(finite.max()):.2f}, "
                      "are not whole numbers")
    fill = ("give a fill as decoded, `stored * scale + offset` computed in float64" if nodata
            is None else f"give {float(np.float64(nodata) * packed[0] + packed[1])!r}, "
            f"which is {float(nodata):g} decoded")
    raise UnitsError(
        f"reference_scale={scale:g} was passed, but the reference is decoded already: its "
        f"reader applied the file's {shown} (kept in `reference.encoding`, as "
        f"`mask_and_scale=True` keeps it){values}. A typed scale would be applied a second "
        "time: drop `reference_scale` (a typed `reference_nodata` is then compared with the "
        f"decoded values: {fill}).")


def _check_thresholds(valid_min: float | None, valid_max: float | None) -> None:
    """Refuse thresholds that cannot be in Kelvin, or that drop every pixel. Per-step
    thresholds (a DataArray along time) and an open bound (``valid_max=np.inf``) are taken:
    reference_mask applied them before it checked them. A 0-d DataArray (``ref.quantile(.05)``)
    is checked as the number it holds."""
    valid_min, valid_max = _number_of(valid_min), _number_of(valid_max)
    if np.ndim(valid_min) or np.ndim(valid_max):
        for name, v in (("valid_min", valid_min), ("valid_max", valid_max)):
            if np.ndim(v) and not isinstance(v, xr.DataArray):
                # a list or numpy array has no step labels: it broadcast along x, or raised
                raise InputTypeError(
                    f"{name} is a {type(v).__name__}, not a number or a DataArray along the "
                    f"reference's steps: give one number, or label each step's threshold, e.g. "
                    f"`{name} = xr.DataArray(values, dims='time', coords={{'time': "
                    f"reference.time}})`.")
            vals = np.asarray(v, float) if v is not None else np.empty(0)
            if vals[np.isfinite(vals)].size and float(np.nanmin(vals)) < _THRESHOLD_MIN_K:
                raise XlstsrError(f"{name} holds {float(np.nanmin(vals)):g}, not a temperature "
                                  "in Kelvin: add 273.15 to thresholds in degrees Celsius.")
        return
    for name, v in (("valid_min", valid_min), ("valid_max", valid_max)):
        if v is not None and not (isinstance(v, (int, float, np.number)) and np.isinf(v)
                                  and (v > 0) == (name == "valid_max")):
            check_number(name, v, hint="or None")
        if v is not None and np.isfinite(float(v)) and float(v) < _THRESHOLD_MIN_K:
            # a threshold in degrees Celsius (-43 for 230 K) would keep every pixel, or none,
            # without a word: the reference is compared in Kelvin after decoding
            raise XlstsrError(
                f"{name}={float(v):g} is not a temperature in Kelvin: the thresholds apply to the "
                f"decoded reference in Kelvin, whatever its stored units: add 273.15 to a "
                f"threshold in degrees Celsius ({float(v):g} degC is {name}="
                f"{float(v) + 273.15:g}; valid_min=230 drops cloud-contaminated pixels)."
            )
    if valid_min is not None and valid_max is not None and float(valid_min) >= float(valid_max):
        # every pixel dropped, reported as "no valid pixel after masking ... relax valid_min"
        raise XlstsrError(f"valid_min={float(valid_min):g} is not below valid_max="
                          f"{float(valid_max):g}: swapped? e.g. valid_min=230, valid_max=350.")


def _number_of(v: Any) -> Any:
    """The number a 0-d DataArray holds (``ref.quantile(.05)``, a one-step threshold squeezed
    for a 2-D reference: refused as "must be a finite number"); anything else as it is."""
    return v.values[()] if isinstance(v, xr.DataArray) and not v.ndim else v


def _paired_thresholds(valid_min: Any, valid_max: Any, ref: xr.DataArray,
                       relabelled: xr.DataArray | None = None) -> tuple[Any, Any]:
    """Per-step thresholds (DataArrays along the reference's steps) with the reference's steps,
    paired by label as ``reference_clear`` is (:func:`xlstsr.steps.pair_steps`); numbers and
    None as they are, and a threshold left with no dim (0-d) as its number. Refused: a
    threshold lacking a step of the reference (combined with it by an inner join, that step
    was left out of the scores without a word), a NaN threshold (its step emptied), and a dim
    the reference lacks (a 2-D reference raised xarray's error).

    ``relabelled`` is ``ref`` with sr's labels where its steps were paired with sr's by
    overpass (a truth dated 10:30 against sr's nominal dates): a threshold is paired on the
    reference's own labels, or else on sr's (the labels the scores carry, those a threshold
    taken from sr has), and returned with sr's labels."""
    ry, rx = spatial_dims(ref)
    out = []
    for name, v in (("valid_min", valid_min), ("valid_max", valid_max)):
        if not isinstance(v, xr.DataArray):
            out.append(v)
            continue
        if ry in v.dims or rx in v.dims:
            raise XlstsrError(
                f"{name} has the reference's spatial dims {v.dims}: thresholds are one number, "
                f"or one per step (a DataArray along 'time'); mask pixels with "
                "reference_clear= instead.")
        lacks = [d for d in v.dims if d not in ref.dims and v.sizes[d] > 1]
        if lacks:
            raise XlstsrError(
                f"{name} has the dim {lacks[0]!r} ({v.sizes[lacks[0]]} steps) and the reference "
                f"has none (its dims: {ref.dims}): one reference image takes one threshold. "
                f"Give a number (e.g. `{name}=float({name}.min())`), or a reference with those "
                "steps.")
        nan = [str(v[d].values[i]) if d in v.coords else str(i) for d in v.dims
               for i in np.flatnonzero(v.isnull().any([o for o in v.dims if o != d]).values)]
        if nan:
            raise XlstsrError(
                f"{name} is NaN for step(s) {nan[:3]}{'...' if len(nan) > 3 else ''}: that "
                f"step would keep no pixel. Give each step its threshold (e.g. "
                f"`{name}.fillna(230)`), or a number for all.")
        grid = v.expand_dims({ry: 1, rx: 1}).transpose(..., ry, rx)
        try:
            paired = pair_steps(grid, ref, name, "reference", var=name, like_var="reference")
        except GridError as err:
            if relabelled is None:
                raise
            try:
                paired = pair_steps(grid, relabelled, name, "reference", var=name,
                                    like_var="reference")
            except GridError:
                raise GridError(_unpaired_threshold(name, v, ref, relabelled)) from err
        if relabelled is not None:  # the labels the scores carry (sr's)
            paired = paired.assign_coords({d: relabelled[d].values for d in paired.dims
                                           if d in ref.dims and d not in (ry, rx)
                                           and d in relabelled.indexes})
        # size-1 dims the reference lacks (a date of one step): that one threshold
        out.append(_number_of(paired.squeeze(
            [ry, rx, *(d for d in paired.dims if d not in ref.dims)], drop=True)))
    return out[0], out[1]


def _unpaired_threshold(name: str, v: xr.DataArray, ref: xr.DataArray,
                        relabelled: xr.DataArray) -> str:
    """The refusal of a per-step threshold whose labels are neither the reference's own nor
    sr's (to which the reference's steps were paired by overpass). Its fix relabels: the
    pair_steps advice ``.sel(time=reference['time'])`` raised KeyError."""
    dims = [d for d in v.dims if d in ref.indexes and d in relabelled.indexes
            and not ref.indexes[d].equals(relabelled.indexes[d])] or [
        d for d in v.dims if d in ref.indexes]
    d = dims[0] if dims else "time"
    own = list(ref.indexes[d][:2]) if d in ref.indexes else []
    srs = list(relabelled.indexes[d][:2]) if d in relabelled.indexes else []
    has = list(v.indexes[d][:3]) if d in v.indexes else []
    return (
        f"{name}'s '{d}' labels ({has}) match neither the reference's own ({own}...) nor "
        f"sr's ({srs}...), with which the reference's steps were paired by overpass: give "
        f"one threshold for each of the reference's steps, labelled with sr's dates (those "
        f"the scores carry), e.g. `{name} = xr.DataArray(values, dims='{d}', "
        f"coords={{'{d}': sr['{d}'].values}})`, values in sr's order; or a number for all."
    )


def _unscored(ref: xr.DataArray, mask: xr.DataArray) -> list[np.ndarray]:
    """Per image of an in-memory ``ref``, its values that ``mask`` keeps and the physical range
    does not (those :func:`~xlstsr.validate.unscored_message` names), for the images that
    have any; the impossible ones (0 K and below, over 1000 K) are refused, not named."""
    lo, hi = PHYSICAL_RANGE_K
    ydim, xdim = spatial_dims(ref)
    lead = [d for d in ref.dims if d not in (ydim, xdim)]
    v = np.asarray(ref.where(mask).transpose(*lead, ydim, xdim).values, float)
    v = v.reshape(-1, v.shape[-2] * v.shape[-1])
    images = [row[np.isfinite(row) & ((row < lo) | (row > hi)) & (row > 0) & (row <= 1000)]
              for row in v]
    return [out for out in images if out.size]


def reference_mask(
    reference: xr.DataArray,
    *,
    erode: int = 0,
    valid_min: float | None = None,
    valid_max: float | None = None,
    clear: bool = False,
) -> xr.DataArray:
    """Boolean mask of trustworthy reference pixels.

    A pixel is kept when it is finite, still inside the finite region after eroding that region
    by ``erode`` pixels (``scipy.ndimage.binary_erosion`` with the 4-connected cross iterated
    ``erode`` times, i.e. pixels within city-block distance ``erode`` of a gap or of the array
    border are dropped: this removes scene-border pixels mixed with the fill), and within
    ``[valid_min, valid_max]``. The erosion acts on each 2-D slice.

    With ``clear=True`` the thresholds are applied *before* the erosion, so that pixels within
    ``erode`` of every gap they make (cold cloud pixels below ``valid_min``) are dropped too: the
    partly cloudy pixels at cloud edges, which otherwise dominate the RMSE against ASTER.

    Parameters
    ----------
    reference : DataArray
        Decoded reference (float, NaN = invalid), see :func:`decode_reference`.
    erode : int
        Erosion of the valid region, in pixels.
    valid_min, valid_max : float or DataArray, optional
        Thresholds in Kelvin (e.g. 230 K to drop cloud-contaminated pixels); a DataArray gives
        one per step of ``reference``, paired by label.
    clear : bool
        Erode around the gaps the thresholds make as well (cloud edges); with ``erode=0`` it
        drops nothing (warned).

    Examples
    --------
    >>> import xarray as xr, numpy as np
    >>> from xlstsr.evaluate import reference_mask
    >>> r = xr.DataArray(np.full((5, 5), 300.0), dims=("y", "x"))
    >>> int(reference_mask(r, erode=1).sum())
    9
    >>> r[2, 2] = 200.0  # a cold (cloudy) pixel
    >>> int(reference_mask(r, erode=1, valid_min=230).sum()), int(
    ...     reference_mask(r, erode=1, valid_min=230, clear=True).sum())
    (8, 4)
    """
    check_bool("clear", clear)  # "no" is truthy: it would silently mean True
    _check_thresholds(valid_min, valid_max)
    valid_min, valid_max = _paired_thresholds(valid_min, valid_max, reference)
    if clear and valid_min is None and valid_max is None:  # the CLI refuses --clear alone
        warn("clear=True erodes around the gaps that valid_min / valid_max make, and "
             "neither is given: it changes nothing; pass e.g. valid_min=230 (cold "
             "cloud pixels), or drop clear=True", UserWarning)
    ydim, xdim = spatial_dims(reference)
    valid = np.isfinite(reference)
    if clear:
        if valid_min is not None:
            valid = valid & (reference >= valid_min)
        if valid_max is not None:
            valid = valid & (reference <= valid_max)
    # int(2.5) would erode by 2 pixels without a word, and "3" was taken for 3
    erode = 0 if erode is None else check_whole(
        "erode", erode, 0, hint="a whole number of pixels dropped around each gap, e.g. 3")
    if clear and not erode and not (valid_min is None and valid_max is None):
        # the scores were those of clear=False while the result said cloud edges were eroded
        warn("clear=True drops the pixels within `erode` pixels of the gaps that valid_min / "
             "valid_max make, and erode is 0: it changes nothing; pass e.g. erode=3 (cloud "
             "edges and the scene border), or drop clear=True.", UserWarning)
    if erode:
        if isinstance(valid.variable.data, dsa.Array):
            valid = valid.chunk({ydim: -1, xdim: -1})
        valid = xr.apply_ufunc(
            _erode_block, valid,
            input_core_dims=[[ydim, xdim]], output_core_dims=[[ydim, xdim]],
            dask="parallelized", output_dtypes=[bool], kwargs={"iterations": int(erode)},
        ).transpose(*reference.dims)
    if valid_min is not None:
        valid = valid & (reference >= valid_min)
    if valid_max is not None:
        valid = valid & (reference <= valid_max)
    valid.name = "reference_mask"
    return valid


def _same_grid(a: xr.DataArray, b: xr.DataArray) -> bool:
    ay, ax = spatial_dims(a)
    by, bx = spatial_dims(b)
    if (a.sizes[ay], a.sizes[ax]) != (b.sizes[by], b.sizes[bx]) or a.rio.crs != b.rio.crs:
        return False
    ta, tb = label_transform(a), label_transform(b)
    tol = 1e-6 * abs(tb.a)
    return all(abs(p - q) <= tol for p, q in zip(ta[:6], tb[:6]))


#: a reference this many times coarser than ``sr`` (pixel side) is refused: it cannot score
#: the fine detail, and is most often the coarse input passed in the reference's place
MAX_REFERENCE_COARSENING = 1.5
#: A reference this many times finer than ``sr`` (or more) is warned about: sr is scored on its
#: grid, against variance within its pixels (MODIS 250 m against ASTER's 90 m: 2.8)
MIN_REFERENCE_FINENESS = 2.0
#: the fraction of an sr pixel's footprint that valid reference pixels must cover for the
#: reference's aggregate onto sr's grid (the fineness warning's advice) to keep it
MIN_AGGREGATE_COVERAGE = 0.9


def _pixel_sizes(sr: xr.DataArray, ref: xr.DataArray) -> tuple[float, float] | None:
    """The pixel sides of ``sr`` and of the reference in ``sr``'s CRS units, from coordinates
    only (a lazy reference is not read): the square root of the area of the reference's pixel
    mapped into sr's CRS (its two axes transformed at its centre, the cross product:
    :func:`xlstsr.grid.pixel_side`); None where the grids are not comparable."""
    from .grid import pixel_side

    try:
        both_metric = (ref.rio.crs is not None and sr.rio.crs is not None
                       and ref.rio.crs.is_projected and sr.rio.crs.is_projected)
        if ref.rio.crs == sr.rio.crs or both_metric:
            # in each CRS's own linear units, in sr's (UTM against MODIS sinusoidal: a rotated
            # footprint's bounding box read ASTER's 231.65 m pixel a few % larger; US feet)
            gx, gy = ref.rio.resolution()
            unit = (ref.rio.crs.linear_units_factor[1] / sr.rio.crs.linear_units_factor[1]
                    if both_metric else 1.0)
            r_ref = float(np.sqrt(abs(gx * gy))) * unit
        elif ref.rio.crs is None or sr.rio.crs is None:
            return None
        else:
            # not the bounding box of its footprint over the pixel count: a lat/lon ECOSTRESS
            # pixel (58 x 70 m) under a MODIS sinusoidal sr at 118 W is a sheared
            # parallelogram there, whose box read it as 98.8 m for 64 m (the fineness
            # warning, its advice and spectral_ratio's band were off by 1.5x)
            r_ref = pixel_side(ref, sr)
        rx, ry = sr.rio.resolution()
    except (ValueError, RuntimeError):  # a grid not comparable: the overlap check says more
        return None
    if not (np.isfinite(r_ref) and r_ref > 0):
        return None
    return float(np.sqrt(abs(rx * ry))), float(r_ref)


def _aggregate_advice(names: dict[str, str], k: int) -> str:
    """Code that puts the reference on sr's grid by its radiometric footprint mean, keeping
    the sr pixels mostly covered by valid reference pixels (runs as given, on lat/lon dims
    too: `reference.rio.reproject_match(sr, resampling=Resampling.average)` raised rioxarray's
    MissingSpatialDimensionError on the ECOSTRESS reader's output, kept sr pixels with a few
    clear reference pixels under them, and averaged T, not T^4). ``names``: the renaming
    :func:`xlstsr.validate.spatial_names` gives the reference as passed (its own dim names)."""
    back = {v: k for k, v in names.items()}
    ry, rx = back.get("y", "y"), back.get("x", "x")
    dims = "" if (ry, rx) == ("y", "x") else f".rio.set_spatial_dims(x_dim={rx!r}, y_dim={ry!r})"
    avg = "rio.reproject_match(sr, resampling=Resampling.average)"
    return (
        f"`xlstsr.coarsen(reference, {k})` where the grids nest; else its radiometric footprint "
        f"mean (the mean of T^4), keeping the sr pixels at least {MIN_AGGREGATE_COVERAGE:.0%} "
        "covered by valid reference pixels: `t4 = (reference.astype('float64') ** 4)"
        f"{dims}.rio.write_nodata(np.nan, encoded=False); cover = "
        f"reference.notnull().astype('float64'){dims}.{avg}; reference = "
        f"(t4.{avg} ** 0.25).where(cover >= {MIN_AGGREGATE_COVERAGE:g})` (the reference in K; "
        "`import numpy as np`, `from rasterio.enums import Resampling`). GDAL's average over a "
        "footprint in another CRS is approximate."
    )


def _check_reference_scale(sr: xr.DataArray, ref: xr.DataArray,
                           names: dict[str, str] | None = None) -> None:
    """Refuse a reference coarser than ``sr`` (``sr`` would be resampled onto it and scored on
    what the coarse grid keeps (``evaluate(sr, lst)`` scored 0.7 K where the fine truth gave
    2.1 K, without a word); warn about one much finer (scored against sub-pixel variance))."""
    sizes = _pixel_sizes(sr, ref)
    if sizes is None:
        return
    r_sr, r_ref = sizes
    if r_ref * MIN_REFERENCE_FINENESS <= r_sr:
        # sr is interpolated onto the fine grid and charged with the sub-pixel variance no
        # product at its pixel size can hold (the truth's own aggregate scored 2.15 K)
        k = round(r_sr / r_ref)
        u = "deg" if sr.rio.crs is not None and sr.rio.crs.is_geographic else "m"
        warn(
            f"the reference's pixels ({r_ref:.4g} {u}) are {r_sr / r_ref:.1f} times finer than "
            f"the super-resolved field's ({r_sr:.4g} {u}): sr is scored on the reference's grid, "
            "so the reference's variance within each sr pixel counts as error, even for a "
            "perfect product. To score sr at its own scale, aggregate the reference onto sr's "
            f"grid first: {_aggregate_advice(names or {}, k)}",
            UserWarning,
        )
    if r_ref > MAX_REFERENCE_COARSENING * r_sr:
        u = "deg" if sr.rio.crs is not None and sr.rio.crs.is_geographic else "m"
        raise GridError(
            f"the reference's pixels ({r_ref:.4g} {u}) are {r_ref / r_sr:.1f} times the "
            f"super-resolved field's ({r_sr:.4g} {u}): a reference coarser than sr cannot score "
            "its fine detail (sr would be resampled onto it). Is it the coarse input? Pass that "
            "as `coarse=` (its consistency is then reported) and a fine truth (ASTER, Landsat, "
            "ECOSTRESS) as the reference; to score at the coarse scale on purpose, aggregate sr "
            f"first (`xlstsr.coarsen(sr, {max(2, round(r_ref / r_sr))})`)."
        )


#: sr pixels of margin kept around sr's extent when the reference is cut to it: room for a
#: co-registration shift (a fraction of a coarse pixel) and the PSF of its estimate
_CUT_MARGIN_SR_PX = 8
#: ... and reference pixels (erosion at the cut drops margin pixels only, up to this erode)
_CUT_MARGIN_REF_PX = 32


def _cut_to_sr(sr: xr.DataArray, ref: xr.DataArray, erode: int | None) -> dict[str, slice]:
    """Slices of the reference's (y, x) around sr's extent (with a margin: erosion at the cut
    drops margin pixels only), or {} when the cut would not shrink it. Scored on a whole
    Landsat scene, a 15 km MODIS window took 34x the memory and 23x the time of the same
    scores on the cut."""
    try:
        ry, rx = spatial_dims(ref)
        if ref.rio.crs is None or sr.rio.crs is None or ref.sizes[ry] < 2 or ref.sizes[rx] < 2:
            return {}
        sb = sr.rio.transform_bounds(ref.rio.crs, densify_pts=21) \
            if sr.rio.crs != ref.rio.crs else sr.rio.bounds()
        sres = abs(sr.rio.resolution(recalc=True)[0])
        if sr.rio.crs != ref.rio.crs:
            sres = (sb[2] - sb[0]) / max(sr.rio.width, 1)  # sr's pixel in the reference's units
    except Exception:  # the overlap and CRS checks below say what is wrong
        return {}
    y, x = np.asarray(ref[ry].values, float), np.asarray(ref[rx].values, float)
    rres = max(abs(float(y[1] - y[0])), abs(float(x[1] - x[0])))
    # a margin independent of erode (GDAL's approximate warp moves values by a little with
    # the extent: the same pixels scored otherwise with another erode)
    pad = _CUT_MARGIN_SR_PX * sres + max(int(erode or 0) + 2, _CUT_MARGIN_REF_PX) * rres
    cut, kept = {}, 1.0
    for dim, v, lo, hi in ((ry, y, sb[1], sb[3]), (rx, x, sb[0], sb[2])):
        idx = np.flatnonzero((v >= lo - pad) & (v <= hi + pad))
        if idx.size == 0:
            return {}  # no overlap: refused below with both bounds
        if idx[0] > 0 or idx[-1] < v.size - 1:
            cut[dim] = slice(int(idx[0]), int(idx[-1]) + 1)
        kept *= idx.size / v.size
    # only a reference much larger than sr is cut: one about sr's size (an ASTER scene under a
    # MODIS window) is scored as before, on its whole grid
    return cut if kept < 0.25 else {}


def _check_overlap(sr: xr.DataArray, ref: xr.DataArray) -> None:
    try:
        sb = sr.rio.transform_bounds(ref.rio.crs) if sr.rio.crs != ref.rio.crs else sr.rio.bounds()
    except Exception as err:
        raise NoOverlapError(
            f"the super-resolved field's bounds cannot be transformed to the reference CRS ({err}); "
            "check both CRS."
        ) from err
    rb = ref.rio.bounds()
    if min(sb[2], rb[2]) <= max(sb[0], rb[0]) or min(sb[3], rb[3]) <= max(sb[1], rb[1]):
        raise NoOverlapError(
            f"the super-resolved field (bounds {tuple(round(v, 1) for v in sb)} in the reference "
            f"CRS) and the reference (bounds {tuple(round(v, 1) for v in rb)}) do not overlap; "
            "check that they show the same area and that both CRS are right."
        )


def _sr_medians(sr: xr.DataArray, reference: xr.DataArray) -> Any:
    """For :func:`decode_reference`'s ``sr_median``: a callable of a reference image's index
    giving the median (K) of sr's image paired with it (of all of sr for a reference of one
    image or other leading dims), computed when called (a refusal's advice only). None for a
    lazy reference over a lazy sr: its images are checked in tasks, which must not compute sr.
    """
    ry, rx = spatial_dims(reference)
    sy, sx = spatial_dims(sr)
    rlead = [d for d in reference.dims if d not in (ry, rx)]
    slead = [d for d in sr.dims if d not in (sy, sx)]
    lazy_ref = isinstance(reference.variable.data, dsa.Array)
    if lazy_ref and isinstance(sr.variable.data, dsa.Array):
        return None
    # in a task the index is the block's own: the whole of sr then
    per_image = (not lazy_ref and sorted(rlead) == sorted(slead)
                 and all(reference.sizes[d] == sr.sizes[d] for d in rlead))
    cache: dict[int, float | None] = {}

    def median(i: int) -> float | None:
        key = i if per_image else -1
        if key not in cache:
            if per_image and rlead:
                step = sr.transpose(*rlead, sy, sx)[np.unravel_index(
                    i, [sr.sizes[d] for d in rlead])]
            else:
                step = sr
            try:  # a lazy sr's own refusal is its own: no advice from it here
                v = np.asarray(step.values, np.float64)
            except XlstsrError:
                v = np.empty(0)
            v = v[np.isfinite(v)]
            cache[key] = float(np.median(v)) if v.size else None
        return cache[key]

    return median


@contextlib.contextmanager
def _advice_with_sr(reference: xr.DataArray, sr: xr.DataArray,
                    decoding: dict[str, Any]) -> Iterator[None]:
    """A lazy reference's refusal (its checks run when computed, where sr's median was not
    known), raised again with the advice of the reference decoded in memory against sr's
    medians (:func:`decode_reference`'s ``sr_median``): the command line reads both lazily,
    and "--reference-scale 0.01" was offered for Landsat Level-1 counts (a 50 K error)."""
    try:
        yield
    except (PhysicalRangeError, ScaledIntegerError, UnitsError):
        if not isinstance(reference.variable.data, dsa.Array):
            raise
        stored = reference.compute()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                decode_reference(stored, **decoding, sr_median=_sr_medians(sr, stored))
        except (PhysicalRangeError, ScaledIntegerError, UnitsError) as again:
            raise again from None
        except XlstsrError:
            pass
        raise


def _reproject(sr: xr.DataArray, ref: xr.DataArray) -> xr.DataArray:
    """``sr`` bilinearly reprojected onto the reference's (y, x) grid, with the reference's coords.

    Each image (leading index) is warped as it is on its own: GDAL warps a multi-band raster
    with one validity for all its bands, so a step's score moved with the other steps of the
    cube (165,880 pixels alone, 164,689 in a 3-step cube). The coupling acts only through the
    NaN (nodata) pixels, so the images with the same NaN mask are warped together, in one call
    (bit for bit their warps alone): a call per step cost ~10 ms each (200 steps of 128 x 128:
    1.9 s for 0.24 s)."""
    ydim, xdim = spatial_dims(sr)
    ry, rx = spatial_dims(ref)
    lead = [d for d in sr.dims if d not in (ydim, xdim)]
    src = sr.transpose(*lead, ydim, xdim).astype(np.float64)
    template = ref.isel({d: 0 for d in ref.dims if d not in (ry, rx)}, drop=True)

    def warped(one: xr.DataArray) -> xr.DataArray:
        one = one.rio.write_nodata(np.nan, encoded=False)
        out = one.rio.reproject_match(template, resampling=Resampling.bilinear, nodata=np.nan)
        oy, ox = spatial_dims(out)
        if (oy, ox) != (ry, rx):
            out = out.rename({oy: ry, ox: rx})
        return out.assign_coords({ry: ref[ry].values, rx: ref[rx].values})

    if not lead:
        return warped(src)
    if len(lead) == 1:  # each group of steps as one raster, put back in the steps' order
        groups = _same_nan_mask(np.asarray(src.values))
        if len(groups) == 1:
            return warped(src)
        parts = xr.concat([warped(src.isel({lead[0]: g})) for g in groups], dim=lead[0])
        return parts.isel({lead[0]: np.argsort(np.concatenate(groups), kind="stable")})
    # rioxarray reprojects (band, y, x): the leading dims flattened into one
    flat = xr.DataArray(
        np.asarray(src.values).reshape(-1, src.sizes[ydim], src.sizes[xdim]),
        dims=("_lead", ydim, xdim), coords={ydim: src[ydim].values, xdim: src[xdim].values},
    )
    flat = flat.rio.write_crs(sr.rio.crs).rio.write_transform(sr.rio.transform(recalc=True))
    images = np.empty((flat.sizes["_lead"], ref.sizes[ry], ref.sizes[rx]), np.float64)
    for g in _same_nan_mask(np.asarray(flat.values)):
        images[g] = np.asarray(warped(flat.isel(_lead=g)).values)
    shape = [sr.sizes[d] for d in lead]
    coords = {k: v for k, v in sr.coords.items() if ydim not in v.dims and xdim not in v.dims
              and k != "spatial_ref"}
    coords.update({ry: ref[ry].values, rx: ref[rx].values})
    return xr.DataArray(images.reshape(*shape, ref.sizes[ry], ref.sizes[rx]),
                        dims=(*lead, ry, rx), coords=coords)


def _same_nan_mask(images: np.ndarray) -> list[np.ndarray]:
    """The indices of the images (first axis) grouped by identical NaN masks, each group in
    order, the groups in order of their first image."""
    import hashlib

    groups: dict[bytes, tuple[np.ndarray, list[int]]] = {}
    for i in range(images.shape[0]):
        nan = np.isnan(images[i])
        key = hashlib.blake2b(np.packbits(nan).tobytes(), digest_size=16).digest()
        while key in groups and not np.array_equal(groups[key][0], nan):
            key += b"+"  # a hash collision: another mask
        groups.setdefault(key, (nan, []))[1].append(i)
    return [np.asarray(members, dtype=np.intp) for _, members in groups.values()]


def _refuse_other_units(sr: xr.DataArray, coarse: xr.DataArray) -> None:
    """Refuse inferring the factor from pixel sizes in other units (the coarse input's degrees
    divided by sr's metres read "sr is not finer than its input")."""
    from .coregister import _other_units, crs_length_unit

    a, b = sr.rio.crs, coarse.rio.crs
    if a is None or b is None or not _other_units(a, b):
        return
    raise GridError(
        f"sr is on {a.to_string()[:60]} ({crs_length_unit(a)}) and the coarse input on "
        f"{b.to_string()[:60]} ({crs_length_unit(b)}): their pixel sizes are in other units, so "
        "the factor cannot be inferred from them. Put sr on the coarse LST's CRS (its "
        "factor-times finer grid, as xlstsr.upscale returns it), or score sr without coarse= "
        "and pass factor= (the factor it was made with)."
    )


def _infer_factor(sr: xr.DataArray, coarse: xr.DataArray | None, factor: int | None) -> int | None:
    if factor is not None:
        factor = check_factor(factor)  # 0 divided by zero, 2.5 was taken as 2
        made = sr.attrs.get("xlstsr_factor")
        if made is not None and int(made) != factor:  # spectral_ratio would use the wrong band
            raise GridError(
                f"factor={factor} but sr was made with factor {int(made)} (its 'xlstsr_factor' "
                "attribute); pass the factor it was made with, or drop the argument."
            )
        return factor
    if sr.attrs.get("xlstsr_factor") is not None:
        return int(sr.attrs["xlstsr_factor"])
    if coarse is not None:
        _refuse_other_units(sr, coarse)
        ratio = abs(coarse.rio.resolution()[0]) / abs(sr.rio.resolution()[0])
        if abs(ratio - round(ratio)) < 1e-3 and round(ratio) >= 2:
            return round(ratio)
        if ratio < 1.5:  # was "1.0000 times ...: not an integer factor"
            raise GridError(
                f"the coarse input's pixels are {ratio:.4g} times the super-resolved field's: "
                "sr is not finer than its input. Pass the output of xlstsr.upscale as sr (not "
                "the coarse LST it was made from), and that LST as coarse."
            )
        raise GridError(
            f"the coarse input's pixels are {ratio:.4f} times the super-resolved ones: not an integer "
            "factor. Pass `factor=` explicitly with the super-resolved field on its own grid."
        )
    return None


def _axis_window(axis: Any, within: Any) -> slice | None:
    """The slice of the pixel-centre coordinates ``within`` that is ``axis``, each to 1e-6 of a
    pixel (same pixel size, aligned origin), or None."""
    a, b = np.asarray(axis), np.asarray(within)
    if (a.ndim != 1 or b.ndim != 1 or a.dtype.kind not in "fiu" or b.dtype.kind not in "fiu"
            or a.size < 2 or b.size < a.size):
        return None
    k = int(np.argmin(np.abs(b.astype(np.float64) - float(a[0]))))
    win = slice(k, k + a.size)
    return win if k + a.size <= b.size and same_axis(a, b[win], tol=1e-6) else None


def _window_on(clear: xr.DataArray, ref: xr.DataArray, cdims: tuple[Any, Any],
               rdims: tuple[Any, Any]) -> xr.DataArray | None:
    """``clear`` cut to the reference's extent where it is on a larger grid of the same pixels
    (the full-scene mask of a windowed reference), either way up; None otherwise."""
    try:
        a, b = clear.rio.crs, ref.rio.crs
    except Exception:  # rioxarray errors without spatial dims: no CRS to compare
        a = b = None
    if a is not None and b is not None and a != b:
        return None
    for c, r in zip(cdims, rdims):
        if c not in clear.coords or r not in ref.coords or clear[c].ndim != 1:
            return None
        win = _axis_window(ref[r].values, clear[c].values)
        if win is None:
            clear = clear.isel({c: slice(None, None, -1)})  # stored the other way up
            win = _axis_window(ref[r].values, clear[c].values)
            if win is None:
                return None
        clear = clear.isel({c: win})
    return clear


def _clear_on(clear: Any, ref: xr.DataArray) -> xr.DataArray:
    """``reference_clear`` checked: a boolean DataArray on the reference's grid (its steps
    paired by label), with the reference's coordinates."""
    if not isinstance(clear, xr.DataArray):
        raise InputTypeError(
            f"reference_clear must be a boolean DataArray on the reference's grid, got "
            f"{type(clear).__name__}: e.g. `(cloud_mask == 0) & (water_mask == 0)`")
    if clear.dtype != bool:
        raise XlstsrError(
            f"reference_clear holds {clear.dtype} values, not True/False: give the pixels that "
            "may be scored, e.g. `cloud_mask == 0` (a cloud mask itself would score the clouds)")
    if "band" in clear.dims and clear.sizes["band"] == 1:
        clear = clear.squeeze("band", drop=True)
    clear = clear.rename(spatial_names(clear))  # lat/lon dims, as the reference's were renamed
    ry, rx = spatial_dims(ref)
    try:
        cy, cx = spatial_dims(clear)
    except XlstsrError:
        cy, cx = ry, rx
    same = clear.sizes.get(cy) == ref.sizes[ry] and clear.sizes.get(cx) == ref.sizes[rx]
    for c, r in ((cy, ry), (cx, rx)):
        if same and c in clear.coords and r in ref.coords:
            same = same_axis(ref[r].values, clear[c].values, tol=0.01)
            if not same and same_axis(ref[r].values, clear[c].values[::-1], tol=0.01):
                # the same grid stored the other way (south-up)
                clear, same = clear.isel({c: slice(None, None, -1)}), True
    if not same:
        # the full-scene mask of a windowed reference: its window, exactly (no resampling)
        cut = _window_on(clear, ref, (cy, cx), (ry, rx))
        if cut is not None:
            clear, same = cut, True
    if not same:
        # GDAL has no boolean type: `mask.rio.reproject_match(...)` raised KeyError 'bool' (and
        # an OverflowError for the _FillValue 255 a mask read by rioxarray keeps)
        raise GridError(
            "reference_clear is not on the reference's grid (nor on a larger grid of its pixels "
            "that holds it, whose window would be taken): put it there first, e.g. `mask = "
            "mask.astype('uint8').rio.write_nodata(None).rio.reproject_match(reference, "
            "resampling=Resampling.nearest) == 1` (GDAL does not reproject booleans)")
    clear = clear.rename({cy: ry, cx: rx}).assign_coords(
        {d: ref[d].values for d in (ry, rx) if d in ref.coords})
    if any(d not in (ry, rx) for d in clear.dims):
        clear = pair_steps(clear, ref, "reference_clear", "reference", var="reference_clear",
                           like_var="reference")
    return clear


def _overpass_steps(ref: xr.DataArray, sr: xr.DataArray) -> dict[str, np.ndarray] | None:
    """For each step dim whose date labels differ between ``ref`` and ``sr`` (acquisition times
    against nominal dates), the position of ``ref``'s step of each ``sr`` step's overpass, as
    :func:`xlstsr.steps.check_scalar_steps` pairs a scalar date: the one step of the same day
    (a date-only label, 00:00, against a time on that day), else the one less than a day away.
    None unless every ``sr`` step has exactly one such step and no two share it (or where the
    labels are not dates): the refusal of :func:`xlstsr.steps.pair_steps` stands."""
    sy, sx = spatial_dims(sr)
    ry, rx = spatial_dims(ref)
    picks: dict[str, np.ndarray] = {}
    for d in sr.dims:
        if d in (sy, sx) or d in (ry, rx) or d not in ref.dims:
            continue
        if d not in sr.indexes or d not in ref.indexes:
            continue  # no labels: paired by position, as pair_steps does
        like_lab, lab = sr.indexes[d], ref.indexes[d]
        if not len(like_lab.difference(lab)):
            continue  # pair_steps pairs these by label
        dated = (pd.DatetimeIndex, xr.CFTimeIndex)
        if (not isinstance(like_lab, dated) or not isinstance(lab, dated)
                or like_lab.has_duplicates or lab.has_duplicates):
            return None
        idx = []
        for label in like_lab:
            # a date-only label: its own day's only (00:00 is a date when all sr's labels are)
            near = _overpass_matches(label, lab, like_lab)
            if len(near) != 1:
                return None
            idx.append(near[0])
        if len(set(idx)) != len(idx):
            return None
        picks[d] = np.asarray(idx)
    return picks or None


def _paired_reference(reference: xr.DataArray, sr: xr.DataArray,
                      ) -> tuple[xr.DataArray, dict[str, Any]]:
    """The reference's steps paired with sr's (:func:`xlstsr.steps.pair_steps`), and the
    reference's own labels of the steps where they were paired by overpass instead
    (:func:`_overpass_steps`: a truth dated by its acquisition, 10:30, against an sr of nominal
    dates was refused with a Python-only fix, where the same truth with a scalar date was
    scored). Those steps take sr's labels; times of day more than
    :data:`xlstsr.steps.OVERPASS_HOURS` apart are warned about as for a scalar date."""
    try:
        return pair_steps(reference, sr), {}
    except GridError:
        picks = _overpass_steps(reference, sr)
        if picks is None:
            raise
    acquired = {d: reference.indexes[d][idx] for d, idx in picks.items()}
    moved = reference.isel(picks).assign_coords({d: sr.indexes[d] for d in picks})
    moved = pair_steps(moved, sr)  # the other dims and steps checked as before
    # dates of any kind, cftime too (_gap; numpy dates only were measured: a cftime truth at
    # 22:00 was scored against an sr at 10:00 without the warning); a 00:00 label is a date
    # only when all its side's are (a sub-daily sr step at 00:00 paired with a truth at 01:30
    # was not warned about)
    gaps = [(g, a, b) for d in picks
            if not (_all_dates_only(sr.indexes[d]) or _all_dates_only(acquired[d]))
            for a, b in zip(sr.indexes[d], acquired[d])
            # of the pairs the warning judges (no 00:00 on either side: a midnight step
            # widest, its warning skipped, hid a 10:00 / 13:00 pair)
            if _date_only(a) is False and _date_only(b) is False
            and (g := _gap(a, b)) is not None]
    if gaps:  # the widest pair only: one warning, not one per step
        _, a, b = max(gaps, key=lambda g: g[0])
        _warn_other_hours(a, b, "reference", "super-resolved field")
    return moved, acquired


def evaluate(
    sr: xr.DataArray,
    reference: xr.DataArray,
    *,
    coarse: xr.DataArray | None = None,
    factor: int | None = None,
    erode: int = 0,
    valid_min: float | None = None,
    valid_max: float | None = None,
    reference_scale: float | None = None,
    reference_nodata: float | None = None,
    coregister: bool | xr.Dataset = False,
    clear: bool = False,
    reference_clear: xr.DataArray | None = None,
) -> xr.Dataset:
    """Accuracy metrics of a super-resolved LST field against a fine reference.

    Steps: (1) decode the reference as the inputs are (:func:`decode_reference`: its declared
    units, scale and fill values, plus ``reference_nodata`` / ``reference_scale`` for an encoding
    it does not declare; Celsius without units, an undeclared fill value or a bulk outside
    150-400 K raise, naming the fix); (2) keep reference pixels that are valid after eroding the valid
    region by ``erode`` pixels and within ``[valid_min, valid_max]`` (:func:`reference_mask`);
    (3) reproject ``sr`` onto the reference grid with rioxarray bilinear resampling
    (``sr.rio.reproject_match(reference, resampling=Resampling.bilinear)``; skipped when both are
    already on the same grid); (4) compute the metrics on pixels valid in both.

    ``spectral_ratio`` is measured on the reference grid, after the bilinear resampling has
    smoothed ``sr``: it reads a right amount of detail as less than 1 (about 0.87 for MODIS
    250 m onto ASTER 231 m). Its band (above half the coarse grid's Nyquist frequency) is a
    physical frequency: on a reference grid of other pixels the cut-off is converted into that
    grid's pixels. ``spectral_ratio_sym`` also measures it on the ``sr`` grid (the
    reference resampled, which over-reads) and takes the geometric mean: the estimate to compare
    with 1 when the two grids have similar pixel sizes. Without resampling both are equal.

    Parameters
    ----------
    sr : DataArray
        Super-resolved LST in Kelvin, georeferenced (CRS + transform), dims ``(..., y, x)``: each
        leading index (time, scene) gets its own row of metrics.
    reference : DataArray
        Fine reference LST (e.g. ASTER), georeferenced, ``(y, x)`` or with the same leading dims.
        Steps are paired by label; a reference of one date carrying it as a scalar coordinate
        (``.sel(time=t)``) needs an ``sr`` of that one step (else :class:`GridError`: drop the
        coordinate to score every step against it). Date labels that differ (acquisition times
        against nominal dates) are paired as a scalar date is when each ``sr`` step has exactly
        one reference step of its overpass (the one of its day for a date-only label; else the
        nearest when it is the only one within 2 h, or within 6 h with the others 12 h away or
        more; several within 2 h are ambiguous, refused) and no two share it; the scores take
        ``sr``'s labels, and times of day more than 2 h apart are warned about
        (:class:`~xlstsr.errors.OverpassWarning`).
    coarse : DataArray, optional
        The coarse input ``sr`` was made from: adds ``coarse_consistency`` (RMSE between the
        radiometric aggregate of ``sr`` on its own grid and ``coarse``).
    factor : int, optional
        Upscaling factor, for ``spectral_ratio`` and ``coarse_consistency``; defaults to
        ``sr.attrs['xlstsr_factor']`` (written by :func:`xlstsr.upscale`) or the ratio of the
        coarse and ``sr`` resolutions. Without any, ``spectral_ratio`` is left out. A factor
        other than ``sr.attrs['xlstsr_factor']`` raises :class:`~xlstsr.errors.GridError`.
    erode : int
        Pixels removed along the border of the reference's valid region (mixed border pixels).
        It erodes around *every* gap, cloud holes already set to NaN included: for a reference
        you have masked yourself, pass ``erode=0`` (eroding it again drops the pixels next to
        each hole, a much stricter mask that changes the scores).
    valid_min, valid_max : float or DataArray, optional
        Physical thresholds on the decoded reference in Kelvin (e.g. 230 K: cloud contamination),
        or one per step of the reference: a DataArray along its step dims, paired by label as
        ``reference_clear`` is (a threshold lacking a step, or NaN, is refused).
    reference_scale : float, optional
        Factor turning stored reference values into Kelvin (0.1 for ASTER stored as K x 10),
        for a reference that does not declare it (a ``scale_factor`` attr other than 1 and this
        together are refused).
    reference_nodata : float, optional
        Stored value marking missing reference data (0 for that ASTER product).
    coregister : bool or Dataset
        Align the reference with ``coarse`` first (:func:`xlstsr.coregister`, needs ``coarse``):
        the offset is estimated from the reference and the coarse input only, so every method
        scored against that input meets the same truth. A Dataset from
        :func:`xlstsr.estimate_offset` applies that estimate instead (one estimate for many
        methods). The offset is reported as ``coregistration_shift_x`` / ``_y`` and
        ``psf_sigma`` variables. Sensors are rarely co-registered to a fraction of a 250 m
        pixel (ASTER vs MODIS: ~160 m); without it, fine detail in the right place for MODIS
        is scored against displaced truth.
    clear : bool
        Apply ``valid_min`` / ``valid_max`` before the erosion, so that the pixels within
        ``erode`` of every gap they make (cloud edges) are dropped too
        (:func:`reference_mask`); with ``erode=0`` it drops nothing (warned).
    reference_clear : DataArray of bool, optional
        The reference's own cloud / QC mask on its grid, True where it may be scored (e.g.
        ECOSTRESS ``(cloud_mask == 0) & (water_mask == 0)``: its LST layer is not cloud-masked,
        and cloud tops near 285 K pass any threshold). Applied first: ``erode`` then drops the
        pixels along its gaps too (cloud edges).

    Returns
    -------
    Dataset
        Variables ``rmse``, ``bias``, ``ubrmse``, ``mae`` (K), ``psnr`` (dB, data range = reference
        max - min over the valid pixels), ``ssim``, ``gradient_rmse`` (K/pixel), ``correlation``,
        ``spectral_ratio`` and ``spectral_ratio_sym`` (if the factor is known),
        ``coarse_consistency`` (if ``coarse``) and ``n_valid``; one value per leading index of ``sr``. Lazy when the inputs are dask-backed
        and no reprojection is needed. Each image is scored on the pixels valid in it and in
        the reference: to compare products with other gaps, score them on a common mask
        (stack them along a dim, ``sr.where(sr.notnull().all("method"))``; a stack whose
        ``n_valid`` differs along such a dim is warned about, when the scores are computed
        here: see Warns).

    Raises
    ------
    NoOverlapError
        When ``sr`` and ``reference`` do not overlap (or share no valid pixel).
    AllNaNError
        When the reference has no valid pixel after masking.
    PhysicalRangeError
        When the reference is not Kelvin as decoded, or (in memory) when sr and the reference
        differ by more than :data:`MAX_BIAS_K` on average: one of them is decoded wrongly.

    Warns
    -----
    OverpassWarning
        The reference and ``sr`` are of other overpasses: times of day more than 2 h apart,
        or a day against a night acquisition (their ``day_night`` attributes, layer names);
        said once.
    UserWarning
        A step scored on fewer than :data:`MIN_SCORED_PIXELS` pixels or on none (NaN
        metrics: all cloud in either field, or no overlap there), a reference constant
        over its scored pixels (a fill value taken as truth), ``valid_min`` / ``valid_max``
        removing more than :data:`THRESHOLD_DROP_WARN` of the reference's otherwise valid
        pixels (a cold scene, not its clouds), ``n_valid`` differing along a dim of ``sr``
        that the reference lacks (methods stacked along ``method``), a step whose mean
        error exceeds :data:`WARN_BIAS_K`, or reference pixels kept next to its gaps (fill,
        NaN, and what ``erode`` or ``valid_min`` / ``valid_max`` remove) that differ from the
        rest by more than :data:`GAP_RING_WARN_K` (a scene border mixed with the fill: pass
        ``erode=3``, declare the fill, ``clear=True``). These checks need the pixels,
        so they run only on what is in memory here: the threshold check on the reference (in
        memory, or computed by a reprojection or ``coregister=True``), the others on ``sr``
        and the reference both (in memory, or computed by a reprojection). Lazy scores
        (dask-backed inputs on one grid) are not checked, computed later either: ``.load()``
        the reference and ``sr`` first to have the warnings.

    Examples
    --------
    >>> import xlstsr
    >>> s = xlstsr.datasets.sample_scene(n_times=2)
    >>> sr = xlstsr.upscale(s["lst_1km"], 4)
    >>> ds = xlstsr.evaluate(sr, s["lst_250m"], coarse=s["lst_1km"])
    >>> sorted(ds.data_vars)[:3], ds.sizes["time"]
    (['bias', 'coarse_consistency', 'correlation'], 2)
    """
    check_bool("clear", clear)  # "no" is truthy: it would silently mean True
    if reference_scale is not None:
        # the argument named: a 0 written into the reference's attrs was reported as its
        # 'scale_factor' attribute, which it does not have
        check_number("reference_scale", reference_scale, 0, lo_open=True,
                     hint="the factor the reference's stored integers are multiplied by, e.g. "
                     "reference_scale=0.1 for ASTER K x 10, or None for a reference in Kelvin")
    sr = prepare_lst(sr, what="super-resolved field", maskable=False)
    _check_thresholds(valid_min, valid_max)
    if reference_nodata is not None:
        try:
            nan = bool(np.isnan(reference_nodata))  # NaN: the reference's fill is NaN
        except (TypeError, ValueError):
            nan = False
        if not nan:
            check_number("reference_nodata", reference_nodata,
                         hint="the reference's fill value, NaN, or None")
    if isinstance(coregister, xr.Dataset):
        missing = {"shift_x", "shift_y", "psf_sigma", "reliable"} - set(coregister.data_vars)
        if missing:
            raise XlstsrError(
                f"coregister= got a Dataset without {sorted(missing)}: pass True, False or the "
                "Dataset returned by `xlstsr.estimate_offset(reference, coarse)`."
            )
    elif not isinstance(coregister, (bool, np.bool_)):
        raise XlstsrError(f"coregister must be True, False or an estimate_offset Dataset, got "
                          f"{coregister!r}")
    else:  # np.False_ (a flag read from an array or table) is not `False`: it co-registered
        coregister = bool(coregister)
    if coregister is True and coarse is None:  # before any read of a lazy reference
        raise XlstsrError(_NEEDS_COARSE)
    if coarse is not None:
        coarse = prepare_lst(coarse, mask_out_of_range=True, what="coarse LST")
        coarse = pair_steps(coarse, sr, "coarse input")
    try:
        reference, _ = select_lst(reference)  # a numpy array or a Dataset: named, not an AttributeError
    except VariableNotFoundError as err:  # its message told to pass `ds.lstsr.upscale(variable=)`
        if "cannot tell which" not in str(err):  # an empty Dataset: its own message is right
            raise
        names = [str(v) for v in reference.data_vars] if isinstance(reference, xr.Dataset) else []
        raise VariableNotFoundError(
            f"cannot tell which variable of the reference Dataset to score against (it has "
            f"{names}): pass it, e.g. `reference=ds[{(names or ['lst'])[0]!r}]`."
        ) from err
    names = spatial_names(reference)  # its own dims (lat/lon), for the advice
    if "xlstsr_method" in reference.attrs and "xlstsr_method" not in sr.attrs:
        # the truth scored against the result: the bias and the spectral ratio inverted
        # (a warning: another tool's result scored against an xlstsr one is a fair comparison)
        warn(
            f"the reference is an xlstsr upscale output (xlstsr_method="
            f"{reference.attrs['xlstsr_method']!r}) and sr is not: SR and REFERENCE swapped? "
            "The order is `xlstsr.evaluate(sr, reference)` (`xlstsr evaluate SR REFERENCE "
            "OUTPUT` on the command line); the bias and the spectral ratio are of sr against "
            "the reference.", UserWarning)
    if coregister is not False and "xlstsr_coregistration" in reference.attrs:
        # moved a second time (330 m off in all), while one shift was reported
        raise XlstsrError(
            "the reference was co-registered already (its attrs hold xlstsr_coregistration: "
            f"{str(reference.attrs['xlstsr_coregistration'])[:80]}): co-registering it again "
            "moves it twice. Pass coregister=False to score it as it is, or give the reference "
            "as read."
        )
    if coregister is not False and "band" in reference.dims and reference.sizes["band"] == 1:
        reference = reference.squeeze("band", drop=True)  # as read by rioxarray: one band
    reference, acquired = _paired_reference(georeference(reference, "reference"), sr)
    # per-step thresholds paired as reference_clear is: on the reference's own labels (or
    # sr's, those the scores carry, where the steps were paired by overpass), then relabelled
    # with sr's (an inner join left out the steps they lack, silently)
    valid_min, valid_max = _paired_thresholds(valid_min, valid_max,
                                              reference.assign_coords(acquired),
                                              reference if acquired else None)
    cut = _cut_to_sr(sr, reference, erode)
    if reference_clear is not None:  # checked on the reference's own grid, then cut alike
        # (paired with the reference's own labels where its steps were paired by overpass)
        reference_clear = _clear_on(reference_clear, reference.assign_coords(acquired)
                                    ).assign_coords({d: reference[d].values for d in acquired}
                                                    ).isel(cut)
    reference = reference.isel(cut)
    factor = _infer_factor(sr, coarse, factor)
    held: list[warnings.WarningMessage] = []
    decoding = {"scale": reference_scale, "nodata": reference_nodata,
                "valid_min": valid_min, "valid_max": valid_max}
    try:
        with warnings.catch_warnings(record=True) as held:
            # the out-of-range warning waits for the mask (reference_clear, erode, the
            # thresholds): pixels it drops are not scored either way
            warnings.simplefilter("always")
            ref = decode_reference(reference, **decoding, sr_median=_sr_medians(sr, reference))
    except Exception:
        for w in held:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        raise
    if reference_clear is not None:
        before = ref
        ref = ref.where(reference_clear)
    try:
        mask = reference_mask(ref, erode=erode, valid_min=valid_min, valid_max=valid_max,
                              clear=clear)
    except Exception:
        for w in held:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        raise
    # the out-of-range pixels named are those the mask keeps (and the range drops below): the
    # fill-mixed border pixels erode drops, a Landsat fill under its QA flag, were named as
    # "not scored, declare the fill" with the fill declared
    unscored = None if isinstance(mask.variable.data, dsa.Array) else _unscored(ref, mask)
    for w in held:  # as decode_reference gave them, at the user's line
        if unscored is None or not (issubclass(w.category, PhysicalRangeWarning)
                                    and UNSCORED in str(w.message)):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    for out in unscored or ():
        warn(unscored_message(out), PhysicalRangeWarning)
    if reference_clear is not None:
        if (not isinstance(ref.variable.data, dsa.Array) and bool(np.isfinite(before).any())
                and not bool(np.isfinite(ref).any())):
            # blamed on nodata, scale and erode before: the mask is the only cause
            raise AllNaNError(
                "reference_clear leaves no valid reference pixel: it is True on the pixels "
                "that may be scored (e.g. `cloud_mask == 0`). A bit-field QA layer is not 0 "
                "where clear: Landsat's QA_PIXEL marks clear sky by bit 6 (`((qa >> 6) & 1) "
                "== 1`); or the mask is not the reference's (another date or scene)."
            )
    empty = (
        f"the reference has no valid pixel after masking (nodata={reference_nodata}, "
        f"scale={reference_scale}, erode={erode}, valid range [{valid_min}, {valid_max}] K). "
        "Check the nodata value and the scale (e.g. reference_scale=0.1 for K x 10), or relax "
        "`erode` / `valid_min`."
    )
    if not isinstance(mask.variable.data, dsa.Array) and not bool(mask.any()):
        raise AllNaNError(empty)
    ref = _refuse_impossible(reference, ref, mask, reference_nodata)
    # no truth outside the physical range (decode_reference named such pixels): a threshold
    # after the erosion, so that what `erode` drops is unchanged; the co-registration
    # estimate does not see them either
    lo, hi = PHYSICAL_RANGE_K
    mask = mask & (ref >= lo) & (ref <= hi)
    offset = None
    if coregister is not False:
        masked = bool(erode) or clear or reference_clear is not None or not (
            valid_min is None and valid_max is None)
        with _advice_with_sr(reference, sr, decoding):  # a lazy reference is read here
            if coregister is True:
                # the estimate reads the (masked) reference and the coarse input whole: read
                # once here and kept, since the reprojection below read them again
                import dask

                ref, mask, coarse = dask.compute(ref, mask, coarse)
            ref, mask, offset = _coregistered(ref, mask, coarse, coregister, masked)
    _check_overlap(sr, ref)
    _check_reference_scale(sr, ref, names)
    resampled = not _same_grid(sr, ref)
    if not resampled:
        ydim, xdim = spatial_dims(sr)
        ry, rx = spatial_dims(ref)
        on_ref = sr.rename({ydim: ry, xdim: rx}) if (ydim, xdim) != (ry, rx) else sr
        on_ref = on_ref.astype(np.float64).assign_coords({ry: ref[ry].values, rx: ref[rx].values})
    else:
        # the reprojection computes sr and the reference: computed once here, since the
        # metrics on sr's grid used them again (a second model run and reads on compute)
        # (with the coarse input, in one pass: sr's graph reads it too)
        import dask

        with _advice_with_sr(reference, sr, decoding):  # a lazy reference's checks run here
            sr, ref, mask, coarse = dask.compute(sr, ref, mask, coarse)
        on_ref = _reproject(sr, ref)
    if not isinstance(mask.variable.data, dsa.Array):  # in memory (or computed above) only
        _check_thresholds_kept(ref, mask, erode, valid_min, valid_max)
        declared = reference_nodata is not None or any(
            key in reference.attrs or key in reference.encoding
            for key in ("_FillValue", "missing_value", "nodata"))
        _check_gap_ring(ref, mask, erode, valid_min, valid_max, clear, declared)
    ref_m = ref.where(mask)
    on_ref = on_ref.where(mask)
    with warnings.catch_warnings():
        # the steps were paired above, an overpass apart said once: each metric pairs
        # them again (a day against a night field was warned ten times)
        warnings.simplefilter("ignore", OverpassWarning)
        nv = _m.n_valid(on_ref, ref_m)
        if not isinstance(nv.variable.data, dsa.Array) and not bool((nv > 0).any()):
            raise NoOverlapError(_NO_PIXEL_IN_BOTH)
        if not isinstance(nv.variable.data, dsa.Array):
            _check_scored(ref_m, nv)
            _check_sr_gaps(ref_m, nv)
        out: dict[str, Any] = {
            "rmse": _m.rmse(on_ref, ref_m),
            "bias": _m.bias(on_ref, ref_m),
            "ubrmse": _m.ubrmse(on_ref, ref_m),
            "mae": _m.mae(on_ref, ref_m),
            "psnr": _m.psnr(on_ref, ref_m),
            "ssim": _m.ssim(on_ref, ref_m),
            "gradient_rmse": _m.gradient_rmse(on_ref, ref_m),
            "correlation": _m.correlation(on_ref, ref_m),
        }
        if not isinstance(out["bias"].variable.data, dsa.Array):
            _check_bias(on_ref, ref_m, reference_scale)
        if factor is not None:
            # the band is above half the coarse Nyquist frequency, a physical frequency: on a
            # reference grid of other pixels its cut-off in that grid's pixels moves with them (a
            # perfect sr read 0.70 against a 1.4x finer reference, 0.79 at the right cut-off)
            sizes = _pixel_sizes(sr, ref) if resampled else None
            scale = sizes[0] / sizes[1] if sizes else 1.0
            out["spectral_ratio"] = _m.spectral_ratio(on_ref, ref_m, factor, pixel_ratio=scale)
            if resampled:
                # Resampling sr onto the reference smooths it, so the ratio above under-reads; the
                # same ratio on the sr grid (reference resampled) over-reads by about as much when
                # the pixel sizes are alike: their geometric mean cancels the attenuation.
                ref_on_sr = _reproject(ref_m, sr)  # on sr's dims and coords
                other = _m.spectral_ratio(sr.astype(np.float64).where(np.isfinite(ref_on_sr)),
                                          ref_on_sr, factor)
                out["spectral_ratio_sym"] = np.sqrt(out["spectral_ratio"] * other)
            else:  # a copy: the two carry their own long_name
                out["spectral_ratio_sym"] = out["spectral_ratio"].copy()
        if coarse is not None:
            out["coarse_consistency"] = _m.coarse_consistency(sr, coarse, factor)
    out["n_valid"] = nv
    if isinstance(nv.variable.data, dsa.Array):
        out = _refuse_none_scored(out, nv, mask, empty)
    if offset is not None:  # what was applied: one offset per scene
        ok = np.atleast_1d(offset.reliable.values).astype(bool)
        for name, var in (("coregistration_shift_x", "shift_x"),
                          ("coregistration_shift_y", "shift_y"), ("psf_sigma", "psf_sigma")):
            out[name] = xr.DataArray(float(np.median(np.atleast_1d(offset[var].values)[ok])))
    # sr's scalar labels on every score (the docstring's "the scores take sr's labels"): a
    # scalar time of the truth's acquisition on the metrics and sr's on coarse_consistency
    # raised xarray's MergeError below
    labels = {c: sr[c].variable for c in sr.coords
              if sr[c].ndim == 0 and c not in sr.dims and c != "spatial_ref"}
    for name, da in list(out.items()):
        # the one step of a reference dim that sr holds as a scalar (`reference.isel(time=[i])`
        # against `sr.isel(time=i)`): the scores are of sr's one field, not of a dim beside
        # its label (xarray raised "dimension 'time' already exists as a scalar variable")
        one = {c: 0 for c in labels if c in da.dims and da.sizes[c] == 1}
        da = da.isel(one, drop=True) if one else da
        stale = [c for c in labels if c in da.coords and c not in da.dims]
        out[name] = da.drop_vars(stale).assign_coords(labels)
    for name, da in out.items():
        units, long_name = _UNITS[name]
        if units == "m" and offset is not None:  # the offset's lengths, in its CRS's units
            units = str(offset["shift_x"].attrs.get("units", units))
        da.attrs = {"units": units, "long_name": long_name}
    ds = xr.Dataset(out)
    # the masks that change the scores most (reference_clear, clear=True) were not named
    said = [f"reference finite after nodata={reference_nodata} and scale={reference_scale}"]
    if reference_clear is not None:
        said.append("reference_clear mask applied")
    said.append(f"valid region eroded by {erode} px")
    if clear and erode and not (valid_min is None and valid_max is None):
        # with erode=0 or without a threshold clear drops nothing (warned by reference_mask)
        said.append("clear-sky erosion around threshold gaps")
    ds.attrs = {
        "reference_mask": ", ".join(said) + f", within [{valid_min}, {valid_max}] K",
        "resampling": ("sr reprojected onto the reference grid with bilinear resampling"
                       if resampled else "none: sr and the reference share a grid"),
        "factor": -1 if factor is None else factor,
    }
    return ds
