"""Guides (NDVI, reflectances...): decoded, stacked into bands, aligned onto a grid of the LST.

One aligner serves every entry point: :func:`prepare_guide` puts a guide on the grid ``factor``
times finer than the LST (what guided methods read), and :func:`guide_on_lst_grid` on the LST's
own grid (what :func:`xlstsr.scaling_stats` compares with), by aligning it on the finer grid it
nests in and taking the NaN-aware block mean there. Alignment itself is
:func:`xlstsr.grid.align_guide` (slicing when the guide nests exactly, reprojection otherwise).
"""

from __future__ import annotations

import contextvars
import datetime
import logging
import re
import warnings
import weakref
from collections.abc import Callable, Hashable, Mapping, Sequence
from functools import partial
from typing import Any, NamedTuple

import dask.array as dsa
import numpy as np
import xarray as xr

from .errors import (
    AllNaNError,
    CoregistrationError,
    GridError,
    GuideAlignmentWarning,
    GuideScaleError,
    GuideTimeError,
    InputTypeError,
    NoOverlapError,
    NoSpatialDimsError,
    UndeclaredFillError,
    XlstsrError,
    warn,
)
from .grid import _COARSE_GUIDE_NOTES, _transform, align_guide, fine_grid, pixel_side
from .kernels.aggregate import block_mean
from .kernels.coregister import BORDER_MIN_LINES, _line_runs, constant_border
from .steps import (
    _cf_decode_fix,
    _cf_time_key,
    _decode_cf_labels,
    _label_text,
    calendar,
    calendar_fix,
    calendar_keep_code,
    calendar_period_key,
    calendar_period_names,
    composite_period,
    day_numbers,
)
from .steps import _refuse_bad_labels as _refuse_bad_step_labels
from .validate import (
    FILL_MIN_PIXELS,
    NEVER_DATA,
    _file_band_positions,
    _fill_text,
    _sentinel_fill,
    central_window,
    crs_mismatch,
    decode_guide,
    georeference,
    nearest_block_size,
    raster_fields,
    spatial_dims,
    suspect_guide_fill,
    whole_images,
)

_log = logging.getLogger("xlstsr")

__all__ = [
    "GUIDE_OFFSET_MODES",
    "GuideLike",
    "band_reorder_code",
    "check_alignment",
    "check_guide_labels",
    "check_guide_values",
    "check_model_ndvi",
    "georeference_guide",
    "guide_bands",
    "guide_labels",
    "guide_on_lst_grid",
    "guide_pixel",
    "mask_edge_value",
    "match_steps",
    "measure_offset",
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


def _band_items(guide: GuideLike) -> list[tuple[Hashable, xr.DataArray]]:
    """The (label, band) pairs of a list or dict guide, each checked to be a DataArray."""
    if isinstance(guide, Mapping):
        items = list(guide.items())
    elif isinstance(guide, Sequence) and not isinstance(guide, str):
        items = [(getattr(g, "name", None) or f"band{i}", g) for i, g in enumerate(guide)]
    else:
        _check_guide_type(guide)
        raise InputTypeError(
            f"guide must be a DataArray, a list or a dict of DataArrays, got {type(guide).__name__}")
    _check_guide_type([g for _, g in items])
    return items


def _refuse_band_mismatch(items: Sequence[tuple[Hashable, xr.DataArray]],
                          spatial: bool = True, lead: Sequence[Hashable] = ()) -> None:
    """Refuse bands whose coordinates along a dim differ from the first band's (with
    ``spatial=False``, along their leading dims only: bands on different grids are aligned
    each on its own by :func:`prepare_guide`; nor along the LST's leading dims ``lead``, which
    :func:`prepare_guide` matches with the LST's steps band by band)."""
    first = items[0][1]
    try:
        yx = spatial_dims(first)
    except XlstsrError:
        yx = ()
    for i, (k, b) in enumerate(items[1:], 1):
        for d in first.dims:
            if (d in yx and not spatial) or d in lead:
                continue
            if d in b.dims and d in first.coords and d in b.coords and not (
                    b.sizes[d] == first.sizes[d] and np.array_equal(
                        np.asarray(b[d].values), np.asarray(first[d].values))):
                # a band of another grid resampled by its footprint mean, as upscale aligns a
                # guide: the advice was rioxarray's default, nearest neighbour (one 58 m
                # pixel of 16 standing for a 250 m one)
                how = ("put it on the first band's grid by its footprint mean, e.g. `band = "
                       "band.rio.reproject_match(first_band, resampling=Resampling.average)` "
                       "(`from rasterio.enums import Resampling`), or pass the bands as a list "
                       "or dict to xlstsr.upscale, which aligns each band on its own"
                       if d in yx else f"select the same {d!r} labels in every band")
                raise GridError(
                    f"guide band {i} ({str(k)!r}) is not on the same {d!r} coordinates as "
                    f"band 0 ({str(items[0][0])!r}; {b.sizes[d]} vs {first.sizes[d]} values): the "
                    f"bands {'of one guide array' if spatial else 'of a guide list or dict'} "
                    f"must share {'one grid' if d in yx else 'their labels'}; {how}."
                )


def guide_bands(guide: GuideLike) -> xr.DataArray:
    """One DataArray with a ``guide_band`` dim from a DataArray, a list or a dict of bands on
    one grid (:func:`prepare_guide` takes bands on different grids, aligning each on its
    own)."""
    if isinstance(guide, xr.DataArray):
        return guide
    items = _band_items(guide)
    bands = [g.expand_dims(guide_band=[str(k)]) if "guide_band" not in g.dims else g for k, g in items]
    try:
        return xr.concat(bands, dim="guide_band", join="exact", coords="minimal", compat="override")
    except ValueError:  # xarray's AlignmentError: "cannot align objects with join='exact'"
        _refuse_band_mismatch(items)
        raise


def _guide_band_list(guide: GuideLike, lead: Sequence[Hashable] = ()) -> list[xr.DataArray]:
    """A guide's bands, each on its own grid, with its label as a scalar ``guide_band``
    coordinate where it has one (a list or dict's key, a ``guide_band`` dim's label). Bands of
    a list or dict must share their leading labels (time...) other than the LST's leading dims
    ``lead`` (each band's steps are matched with the LST's on its own: a 16-day NDVI beside an
    8-day albedo), not their grid: each is aligned on its own, by its footprint mean (they
    were refused, with nearest-neighbour advice)."""
    if not isinstance(guide, xr.DataArray):
        items = _band_items(guide)
        if not any("guide_band" in g.dims for _, g in items):
            _refuse_band_mismatch(items, spatial=False, lead=lead)
            return [g.assign_coords(guide_band=str(k)) for k, g in items]
    g = guide_bands(guide)
    if "guide_band" in g.dims:
        return [g.isel(guide_band=i) for i in range(g.sizes["guide_band"])]
    return [g]


# HLS 'Fmask', Sentinel-2 L2A 'SCL' (scene classes) and its 'MSK_CLDPRB' / 'MSK_SNWPRB' masks,
# Landsat Collection-1 'BQA' were predictors (dms moved by 2.4 to 4.7 K); whole words only
# ('scale', 'bqa' inside a word are none)
_QUALITY_NAME = re.compile(
    r"(^|[^a-z])(qa|qc|quality|reliability|flags?|gflags|cloud[_ -]?(mask|prob|probability)"
    r"|state_\d+k?m|fmask|scl|bqa|msk)([^a-z]|$)",
    re.IGNORECASE)


def _quality_name(text: str) -> bool:
    """Whether a name or description names a quality or class layer, with camel case split
    first: Earth Engine's ``SummaryQA``/``DetailedQA``/``StateQA`` glue 'QA' to a word and
    passed as predictors (dms moved by 5.7 K); 'qa' inside a word ('aquatic', 'Aqua') is none."""
    return bool(_QUALITY_NAME.search(
        re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", text)))


_CAMEL = r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])"

# zenith / azimuth only of an observer or the sun (a terrain aspect is a 'slope_azimuth'); a
# 'doy' followed by digits is a date label (AppEEARS' '_NDVI_doy2020177_aid0001')
_ANCILLARY_NAME = re.compile(
    r"(^|[^a-z])((view|viewing|scan|sensor|sat|satellite|platform|solar|sun|relative)[_ ]?"
    r"(zenith|azimuth)([_ ]?angl(e|es)?)?|zenith[_ ]?angl(e|es)?"
    r"|(view|viewing|scan|sensor|sat|satellite|platform|solar|sun|relative|phase)[_ ]?"
    r"angl(e|es)?|[sv]za|[sv]aa|raa|[sv]zen|raz|day[_ ]?of[_ ]?(the[_ ]?)?year|doy(?![_ ]?[0-9])|julian[_ ]?day"
    r"|composite[_ ]?(day|date)|(day|night)?[_ ]?(view|observation|acquisition|overpass)[_ ]?"
    r"time)([^a-z]|$)", re.IGNORECASE)

# surface quantities (and phenology dates: 'greenup_doy', 'SOS_DOY'): a name that also names
# one of these is that quantity, not an acquisition layer ('hillshade (sun azimuth 315)');
# reflectance is not among them: MOD09A1 names its angles and dates 'sur_refl_vzen',
# 'sur_refl_day_of_year
_SURFACE_NAME = re.compile(
    r"(^|[^a-z])(ndvi|evi2?|savi|ndwi|lai|fpar|albedo|elevation|dem"
    r"|dsm|dtm|slope|aspect|hillshade|greenup|green[_ ]?up|greendown|maturity|senescence"
    r"|dormancy|peak|sos|eos|pos|phenology)([^a-z]|$)", re.IGNORECASE)


def _ancillary_name(text: str) -> bool:
    """Whether a name or description names an acquisition layer: a view / sun angle (MOD13Q1's
    ``view_zenith_angle``, MOD11's ``Day_view_angl``), the day a composite pixel was taken
    (``composite_day_of_the_year``) or an overpass time (``Day_view_time``). They describe
    how a pixel was observed, not the surface: as predictors, dms regressed LST on the scan
    geometry and the composite date without a word. A name that also names a surface quantity
    (``NDVI doy 177``, ``greenup_doy``, a hillshade described by its sun azimuth) is none."""
    split = re.sub(_CAMEL, " ", text)
    return bool(_ANCILLARY_NAME.search(split)) and not _SURFACE_NAME.search(split)


def _ancillary_layer(name: str, da: xr.DataArray) -> bool:
    """An acquisition layer (:func:`_ancillary_name`) by its name, long_name or standard_name
    (CF ``solar_zenith_angle``), scaled or not."""
    said = [name] + [t for t in (da.attrs.get("long_name"), da.attrs.get("standard_name"))
                     if isinstance(t, str)]
    return any(_ancillary_name(t) for t in said)


def _coded(da: xr.DataArray, key: str, neutral: float, index: int = 0) -> bool:
    """Whether ``da`` declares ``key`` (scale_factor, add_offset; a multi-band raster's
    per-band ``scales``/``offsets``, band ``index``) other than ``neutral``."""
    v = da.attrs.get(key, da.encoding.get(key))
    try:
        return v is not None and float(np.ravel(v)[min(index, np.size(v) - 1)]) != neutral
    except (TypeError, ValueError, IndexError):
        return True


def _stored_integers(da: xr.DataArray) -> bool:
    """Whether ``da`` holds integers, or did on disk (masked on reading: float with NaN for
    its fill, the file's integer type in its encoding)."""
    kinds = [da.dtype.kind]
    for key in ("dtype", "rasterio_dtype"):
        stored = da.encoding.get(key)
        if isinstance(stored, (str, np.dtype, type)):
            kinds.append(np.dtype(stored).kind)
    return any(k in "iu" for k in kinds)


#: a float layer named as a quality layer with at most this many distinct whole values is one
#: (MOD13's pixel_reliability: 5 classes; VI_Quality's bit fields: a few dozen on a scene)
QUALITY_MAX_VALUES = 256


def _whole_number_layer(da: xr.DataArray) -> bool:
    """Whether a layer's finite values are whole numbers, at most :data:`QUALITY_MAX_VALUES`
    distinct ones (a lazy layer judged on :func:`~xlstsr.validate.central_window`, never read
    whole); False when it has none."""
    # not `.data`: a lazily indexed file (no dask) would be read whole to ask
    if not isinstance(da.variable._data, np.ndarray):
        try:
            ydim, xdim = spatial_dims(da)
        except XlstsrError:
            ydim, xdim = da.dims[-2], da.dims[-1]
        da = central_window(da, ydim, xdim)
    v = np.asarray(da.values, dtype=np.float64).ravel()
    u = np.unique(v[np.isfinite(v)][:1_000_000])  # the distinct values, rounded once each
    return bool(u.size) and u.size <= QUALITY_MAX_VALUES and bool(np.all(u == np.round(u)))


def _quality_layer(name: str, da: xr.DataArray) -> bool:
    """A quality or class layer by its name (``VI_Quality``, ``pixel_reliability``, ``QC_Day``,
    ``QA_PIXEL``, ``SummaryQA``, ``state_1km``), its long_name or standard_name (a GeoTIFF band
    read as ``band_2`` described '250m 16 days pixel reliability') or its CF flag attributes,
    integers (on disk: masked on reading too) without a scale (a band is scaled). A float layer
    without a scale is one by its name when its values are few whole numbers: masking the
    Dataset as the refusal advises (``ds.where(ds.pixel_reliability <= 1)``) makes every
    variable float and drops the encoding, and the masked quality layer was a predictor (dms
    moved by 1.07 K) without a word; a float NDVI, elevation or albedo is none."""
    # rioxarray writes 1.0 and 0.0 on every band
    if _coded(da, "scale_factor", 1.0) or _coded(da, "add_offset", 0.0):
        return False  # a scaled band (an NDVI whose flags mark special values)
    said = [name] + [t for t in (da.attrs.get("long_name"), da.attrs.get("standard_name"))
                     if isinstance(t, str)]
    named = any(_quality_name(t) for t in said)
    if not _stored_integers(da):  # a float band (flags of special values say nothing)
        return named and _whole_number_layer(da)
    flags = any(k in da.attrs for k in ("flag_meanings", "flag_masks", "flag_values"))
    return flags or named


# a 2-D latitude / longitude (or projected x / y) field: a NetCDF whose band lacks the CF
# `coordinates` attribute opens its auxiliary coordinates as data variables
_GEOLOCATION_NAME = re.compile(
    r"(nav_|x)?(lat|lon|long|latitude|longitude)(_?2d|itude_?2d)?", re.IGNORECASE)
_GEOLOCATION_STANDARD = {"latitude", "longitude", "grid_latitude", "grid_longitude",
                         "projection_x_coordinate", "projection_y_coordinate"}
_GEOLOCATION_UNITS = {"degrees_north", "degree_north", "degrees_n", "degree_n", "degreesn",
                      "degreen", "degrees_east", "degree_east", "degrees_e", "degree_e",
                      "degreese", "degreee"}


def _geolocation_layer(name: str, da: xr.DataArray) -> bool:
    """A geolocation field (latitude, longitude) by its name (``lat``, ``longitude``,
    ``nav_lat``, WRF's ``XLAT``), CF standard_name or units (``degrees_north``): as a
    predictor, dms regressed LST on the position (its output moved by 4.4 K)."""
    std = da.attrs.get("standard_name")
    units = da.attrs.get("units")
    return bool(_GEOLOCATION_NAME.fullmatch(name)) or (
        isinstance(std, str) and std.strip().lower() in _GEOLOCATION_STANDARD) or (
        isinstance(units, str) and units.strip().lower() in _GEOLOCATION_UNITS)


def _refuse_geolocation(fields: Mapping[Hashable, xr.DataArray], skip: Sequence[str]) -> None:
    """Refuse a guide Dataset some of whose fields are geolocation (:func:`_geolocation_layer`),
    naming the bands to pass (other than ``skip``: quality and acquisition layers) and the
    ``set_coords`` that makes the geolocation coordinates again."""
    geo = [str(k) for k, v in fields.items() if _geolocation_layer(str(k), v)]
    if not geo:
        return
    bands = [str(k) for k in fields if str(k) not in geo and str(k) not in skip]
    if not bands:
        raise XlstsrError(
            f"the guide Dataset holds geolocation fields {geo} (latitude / longitude) and no "
            "band: position is no predictor of LST. Pass the surface bands (an NDVI, a DEM) "
            "as the guide."
        )
    raise XlstsrError(
        f"the guide Dataset holds geolocation fields {geo} (latitude / longitude, opened as "
        f"data variables: the file's bands lack the CF `coordinates` attribute) beside its "
        f"bands {bands}: they would be taken as predictors. Make them coordinates, "
        f"`ds = ds.set_coords({geo})`, or pass the bands only, e.g. `guide=ds[{bands}]`."
    )


def _refuse_quality_bands(guide: Any) -> None:
    """Refuse a guide raster (one DataArray) some of whose bands are quality or class layers
    by their descriptions (a two-band MOD13Q1 GeoTIFF: NDVI and '250m 16 days pixel
    reliability'): its band dim becomes guide channels, so the quality band was a predictor
    (dms moved by 5.8 K), while the same layer as a Dataset variable was refused; so are
    acquisition layers (view / sun angles, composite dates: :func:`_ancillary_name`)."""
    if not isinstance(guide, xr.DataArray) or guide.ndim < 3:
        return
    try:
        gy, gx = spatial_dims(guide)
    except NoSpatialDimsError:  # refused as such further on
        return
    extra = [d for d in guide.dims if d not in (gy, gx) and not _is_time_like(guide, d)]
    if len(extra) != 1 or guide.sizes[extra[0]] < 2:
        return
    d = extra[0]
    texts = _band_texts(guide, d)  # descriptions, else text labels
    if texts is None:
        return
    whole = (not _stored_integers(guide) or _coded(guide, "scale_factor", 1.0)
             or _coded(guide, "add_offset", 0.0))
    qc = [i for i, t in enumerate(texts) if not whole and not _coded(guide, "scales", 1.0, i)
          and not _coded(guide, "offsets", 0.0, i) and _quality_name(t)]
    # view / sun angles and composite dates are scaled (0.01 degree) or float: named alone
    anc = [i for i, t in enumerate(texts) if i not in qc and _ancillary_name(t)]
    # a quality layer beside any other layer (an acquisition one too) is refused; acquisition
    # layers only beside bands (a stack of angles alone names no band to pass instead)
    if not (len(qc) < len(texts) if qc else anc and len(anc) < len(texts)):
        return
    keep = [i for i in range(len(texts)) if i not in qc and i not in anc]
    if not keep:
        raise XlstsrError(
            f"the guide's {d!r} dim holds quality or class layers {[texts[i] for i in qc]} and "
            f"acquisition layers (view / sun angles, dates or times of observation) "
            f"{[texts[i] for i in anc]} (by their descriptions) and no other band: none of them "
            "is a predictor of LST. Pass the surface bands (an NDVI, a DEM) as the guide."
        )
    if d in guide.coords:
        labels = guide[d].values.tolist()
        pick = f"sel({d}={[labels[i] for i in keep]})"
        one = f"sel({d}={labels[keep[0]]!r})"

        def layer(i: int) -> str:
            return f"guide.sel({d}={labels[qc[i]]!r})"
    else:
        pick, one = f"isel({d}={keep})", f"isel({d}={keep[0]})"

        def layer(i: int) -> str:
            return f"guide.isel({d}={qc[i]})"
    held = " and ".join(
        ([f"quality or class layers {[texts[i] for i in qc]}"] if qc else [])
        + ([f"acquisition layers (view / sun angles, dates or times of observation) "
            f"{[texts[i] for i in anc]}"] if anc else []))
    raise XlstsrError(
        f"the guide's {d!r} dim holds {held} (by their "
        f"descriptions) beside its bands {[texts[i] for i in keep]}: they would be taken as "
        f"predictors. Pass the bands only, e.g. `guide=guide.{pick}`"
        + (_quality_mask_advice([texts[i] for i in qc], f"guide.{one}", layer) if qc else "")
        + "."
    )


def _quality_mask_advice(names: list[str], band: str, layer: Callable[[int], str]) -> str:
    """The advice to mask the bands with a quality layer first (`band`: the expression of the
    first band, ``layer(i)`` that of quality layer ``i`` of ``names``), with an example only
    where its meaning is known: MODIS ``pixel_reliability`` 0 (good data), else MOD13's
    ``VI_Quality`` MODLAND bits 0-1 = 00 (a bit field: ``== 0``, advised of the first quality
    layer found, VI_Quality in AppEEARS order, kept no land pixel at all).

    Examples
    --------
    >>> _quality_mask_advice(["VI_Quality", "pixel_reliability"], "ds['NDVI']",
    ...                      lambda i: f"ds[{i}]")
    " (mask the bands with the quality layers first, e.g. `ds['NDVI'].where(ds[1] == 0)`: MODIS pixel_reliability 0, good data)"
    """
    head = " (mask the bands with the quality layers first"
    for i, name in enumerate(names):
        if re.search(r"reliab", name, re.IGNORECASE):
            return (f"{head}, e.g. `{band}.where({layer(i)} == 0)`: MODIS pixel_reliability 0, "
                    "good data)")
    for i, name in enumerate(names):
        if re.search(r"vi[\W_]*qual", name, re.IGNORECASE):
            # % 4, not & 0b11: a band of a float raster (read masked) has no bitwise and
            return (f"{head}, e.g. `{band}.where({layer(i)} % 4 == 0)`: MOD13 VI_Quality's "
                    "MODLAND bits 0-1 = 00, good quality; it is a bit field, == 0 keeps no "
                    "land pixel)")
    return f"{head}, as their product defines good pixels)"


def guide_fields(guide: GuideLike) -> GuideLike:
    """A guide Dataset's fields (variables with both spatial dims) as a dict of bands; other
    guides as they are. A CF grid-mapping variable (``crs``) or ``time_bnds`` was taken as a
    band and refused as "no spatial dimensions", with a rename of ``nv`` to ``x`` suggested.
    Quality or class layers, acquisition layers (angles, composite dates) and geolocation
    fields (latitude / longitude data variables) beside bands are refused, the bands to pass
    named."""
    if not isinstance(guide, xr.Dataset):
        _refuse_quality_bands(guide)
        return guide
    fields = raster_fields(guide)
    qc = [str(k) for k, v in fields.items() if _quality_layer(str(k), v)]
    # MOD13Q1 as AppEEARS delivers it also holds its view / sun angles and the composite
    # day of the year: advised as bands with the quality layers left out, they were predictors
    anc = [str(k) for k, v in fields.items() if str(k) not in qc and _ancillary_layer(str(k), v)]
    _refuse_geolocation(fields, qc + anc)
    # a quality layer beside any other layer (an acquisition one too) is refused; acquisition
    # layers only beside bands (a Dataset of angles alone names no band to pass instead)
    if len(qc) < len(fields) if qc else anc and len(anc) < len(fields):
        # MOD13Q1 as AppEEARS delivers it: VI_Quality (bit fields) and pixel_reliability
        # (classes) became regression inputs beside the NDVI (dms moved by 2.3 K)
        bands = [str(k) for k in fields if str(k) not in qc and str(k) not in anc]
        if not bands:
            raise XlstsrError(
                f"the guide Dataset holds quality or class layers {qc} and acquisition layers "
                f"(view / sun angles, dates or times of observation) {anc} and no other "
                "field: none of them is a predictor of LST. Pass the surface bands (an NDVI, "
                "a DEM) as the guide."
            )
        held = " and ".join(
            ([f"quality or class layers {qc}"] if qc else [])
            + ([f"acquisition layers (view / sun angles, dates or times of observation) {anc}"]
               if anc else []))
        mask = (_quality_mask_advice(qc, f"ds[{bands[0]!r}]", lambda i: f"ds[{qc[i]!r}]")
                if qc else "")
        raise XlstsrError(
            f"the guide Dataset holds {held} beside its bands {bands}: they would be taken as "
            f"predictors. Pass the bands only, e.g. `guide=ds[{bands}]`{mask}."
        )
    if not fields:
        raise GridError(
            f"the guide Dataset holds no field on a grid: its variables "
            f"{[str(k) for k in guide.data_vars]} have no y/x (or lat/lon) dims; pass the "
            "guide variable itself, e.g. `guide=ds['NDVI']`."
        )
    return fields


def georeference_guide(guide: GuideLike) -> GuideLike:
    """Each band of a guide through :func:`xlstsr.validate.georeference` (lat/lon dims renamed,
    coordinates from a written transform, CRS and regular grid required)."""
    ds = guide if isinstance(guide, xr.Dataset) else None
    guide = guide_fields(guide)
    _check_guide_type(guide)
    if isinstance(guide, xr.DataArray):
        return georeference(guide, "guide")
    keys = list(guide) if isinstance(guide, Mapping) else list(range(len(guide)))
    out, refused = [], []
    for k in keys:
        try:
            out.append(georeference(guide[k], "guide"))
        except GridError as err:
            refused.append((k, err))
    if refused:
        # the code written on each refused band (`guide = guide.interp(...)` raised
        # AttributeError on a list or dict), every band's at once (each its own grid)
        tup = "guide = list(guide); " if isinstance(guide, tuple) else ""
        k, err = refused[0]
        if ds is not None:
            # a Dataset's fields share its coordinates: one refusal of them all is fixed by
            # its code on the whole Dataset, which keeps a grid-mapping data variable
            # (`xr.open_dataset`'s spatial_ref: a dict of `guide[k]` lost it, MissingCRSError
            # when followed; review 49f/1). Codes that differ by band (each its fill) go on
            # the fields with their grid mapping (raster_fields): a variable assigned back
            # to the Dataset is aligned onto its own index, so the label stayed irregular
            if len(refused) == len(keys) and len({str(e) for _, e in refused}) == 1:
                raise type(err)(f"guide {'band' if len(keys) == 1 else 'bands'} "
                                f"{', '.join(repr(k2) for k2 in keys)}: {err}") from err
            tup = "guide = xlstsr.validate.raster_fields(guide); "
        more = [(k2, e2) for k2, e2 in refused[1:] if type(e2) is type(err)]
        # the fields taken once, by the first band's code (raster_fields of the dict failed)
        then = "" if ds is not None else tup
        codes = " ".join(f"Band {k2!r} too: {'; '.join(_band_codes(str(e2), k2, then))}."
                         for k2, e2 in more if _band_codes(str(e2), k2, then))
        raise type(err)(f"guide band {k!r}: {_on_band(str(err), k, tup)}"
                        + (f" {codes}" if codes else "")) from err
    return dict(zip(keys, out)) if isinstance(guide, Mapping) else out


def _on_band(msg: str, key: Hashable, made: str) -> str:
    """A refusal of one band of a list or dict guide, its code written on that band
    (``guide[key] = guide[key].interp(...)``) after ``made``, the code that makes the guide
    one whose items can be replaced (a tuple a list, a Dataset a dict of its fields), or ''."""
    band = f"guide[{key!r}]"

    def code(m: re.Match) -> str:
        c = re.sub(r"\bguide\b", band, m.group(1))
        return f"`{made}{c}`"

    return re.sub(r"`([^`]*\bguide\b[^`]*)`", code, msg)


def _band_codes(msg: str, key: Hashable, made: str) -> list[str]:
    """The code spans (in backticks) of :func:`_on_band`'s message."""
    return [f"`{c}`" for c in re.findall(r"`([^`]*)`", _on_band(msg, key, made))
            if f"guide[{key!r}]" in c]


def _check_guide_type(guide: Any) -> None:
    if isinstance(guide, xr.DataArray):
        return
    if isinstance(guide, Mapping):
        bands = list(guide.values())
    elif isinstance(guide, (list, tuple)):
        bands = list(guide)
    else:
        bands = [guide]
    if not bands:  # xr.concat raised a bare "must supply at least one object to concatenate"
        raise InputTypeError(
            f"the guide is an empty {type(guide).__name__}: pass at least one band "
            "(`guide=ndvi` or `guide=[ndvi, albedo]`), or `guide=None` for a method without one."
        )
    for i, g in enumerate(bands):
        if not isinstance(g, xr.DataArray):
            raise InputTypeError(
                f"guide{'' if len(bands) == 1 else f' band {i}'} is a {type(g).__name__}, not an "
                "xarray DataArray: give it its grid, e.g. `xr.DataArray(a, dims=('y', 'x'), "
                "coords={'y': ..., 'x': ...}).rio.write_crs(...)`"
            )


def _is_time_like(da: xr.DataArray, dim: str) -> bool:
    if str(dim).lower() in ("time", "t", "date", "datetime", "dates", "times"):
        return True
    if dim in da.coords:
        c = da.coords[dim]
        if np.issubdtype(c.dtype, np.datetime64) or c.attrs.get("axis") == "T" or (
            c.attrs.get("standard_name") == "time"
        ):
            return True
        if c.dtype == object and c.size and hasattr(c.values.ravel()[0], "calendar"):
            return True  # cftime
    return False


#: pandas offset aliases and words for calendar months, quarters and years, which are no fixed
#: duration: pd.Timedelta read '1MS' (month start) as 1 millisecond and '1A' as 365 days
_CALENDAR_ALIAS = re.compile(
    r"[+-]?\s*(\d+(\.\d*)?)?\s*(C?B?M[SE]?|SM[SE]?|B?Q[SE]?|B?[AY][SE]?)(-[A-Z]{3})?"
    r"|(?i:[+-]?\s*(\d+(\.\d*)?)?\s*(months?|mons?|mo|quarters?|years?|yrs?|yr|y))")
#: an ISO 8601 duration whose date part holds years or months: pd.Timedelta read 'P1M' (a month)
#: as 1 minute
_ISO_CALENDAR = re.compile(r"[+-]?P[^T]*[YM].*")


def _calendar_tolerance(tolerance: Any) -> bool:
    """Whether ``tolerance`` is given in months, quarters or years (text, ISO 8601, numpy or a
    pandas DateOffset)."""
    import pandas as pd

    if isinstance(tolerance, str):
        t = tolerance.strip()
        return bool(_CALENDAR_ALIAS.fullmatch(t) or _ISO_CALENDAR.fullmatch(t))
    if isinstance(tolerance, np.timedelta64):
        return np.datetime_data(tolerance.dtype)[0] in ("M", "Y")
    if isinstance(tolerance, pd.DateOffset):  # MonthBegin(), DateOffset(months=1)
        kw = getattr(tolerance, "kwds", {}) or {}
        return bool(re.search(r"Month|Quarter|Year", type(tolerance).__name__)) or any(
            k in kw for k in ("months", "years", "month", "year"))
    return False


def _as_timedelta(tolerance: Any) -> Any:
    if tolerance is None:
        return None
    if _calendar_tolerance(tolerance):
        # '1MS' became 1 millisecond and 'P1M' 1 minute: nothing matched, and the error
        # echoed the value as if it were the month asked for
        raise GuideTimeError(
            f"guide_time_tolerance {tolerance!r} is a calendar month, quarter or year: a month "
            "is no fixed duration; use e.g. '31D' (monthly guides labelled by their first "
            "day), '92D' for a quarter or '366D' for a year."
        )
    if isinstance(tolerance, (int, float, np.integer, np.floating)) and not isinstance(tolerance, bool):
        if not tolerance >= 0:
            raise GuideTimeError(f"guide_time_tolerance must be >= 0, got {tolerance!r}")
        return tolerance
    import pandas as pd

    if isinstance(tolerance, str) and tolerance.strip().lstrip("+-").replace(".", "", 1).isdigit():
        # pandas reads "16" as 16 nanoseconds: no guide would ever match a day apart
        raise GuideTimeError(
            f"guide_time_tolerance {tolerance!r} has no unit (pandas would read nanoseconds): "
            f"give one, e.g. '{tolerance.strip()}D' for days or '{tolerance.strip()}h' for hours "
            "(a number, not text, for numeric time labels)"
        )
    try:
        td = pd.Timedelta(tolerance)
    except (TypeError, ValueError) as err:
        raise GuideTimeError(
            f"guide_time_tolerance must be a duration such as '16D' or '8h' (or a number for "
            f"numeric labels), got {tolerance!r}"
        ) from err
    if pd.isna(td) or td < pd.Timedelta(0):
        # the guide step is the latest one *before* a date: a negative reach matches nothing
        raise GuideTimeError(
            f"guide_time_tolerance must be a duration >= 0 (how long before an LST date a guide "
            f"step may be, e.g. '16D'), got {tolerance!r}"
        )
    return td.to_timedelta64()


def _duration_text(td: Any) -> str:
    """A duration in words ('16 days', '1 millisecond', '2 days 3 hours'); a number as it is."""
    if isinstance(td, (int, float, np.integer, np.floating)) and not isinstance(td, np.timedelta64):
        return f"{td:g}"
    import pandas as pd

    try:
        c = pd.Timedelta(td).components
    except (TypeError, ValueError):
        return str(td)
    parts = [(c.days, "day"), (c.hours, "hour"), (c.minutes, "minute"), (c.seconds, "second"),
             (c.milliseconds, "millisecond"), (c.microseconds, "microsecond"),
             (c.nanoseconds, "nanosecond")]
    words = [f"{v} {u}{'s' if v != 1 else ''}" for v, u in parts if v]
    return " ".join(words[:2]) if words else "0 seconds"


def _tolerance_text(gap: Any) -> Any:
    """The shortest tolerance of whole days (whole hours under a day) that covers ``gap``, as
    ``guide_time_tolerance`` takes it ('31D'); a number as it is (numeric labels)."""
    if isinstance(gap, (int, float, np.integer, np.floating)) and not isinstance(
            gap, np.timedelta64):
        return gap.item() if isinstance(gap, np.generic) else gap
    import pandas as pd

    td = pd.Timedelta(gap)
    day, hour = pd.Timedelta(1, "D"), pd.Timedelta(1, "h")
    if td >= day:
        return f"{-(-td // day)}D"
    return f"{max(1, -(-td // hour))}h"


def _day_floor(v: np.ndarray) -> np.ndarray:
    """Date labels (numpy or cftime dates) at midnight of their day."""
    if np.issubdtype(v.dtype, np.datetime64):
        return v.astype("datetime64[D]").astype(v.dtype)
    return np.array([x.replace(hour=0, minute=0, second=0, microsecond=0) for x in v.ravel()],
                    dtype=object).reshape(v.shape)


def _by_day(lv: np.ndarray, gv: np.ndarray, tol: Any = None) -> str | None:
    """Which side's labels to take by calendar day ('guide', 'lst', 'both') when one side is
    dates only (all at midnight) and the other at times of day, or, with a tolerance of a day
    or more, both are at times of day; None: compared as they are.

    - 'guide': LST labels are dates (daily products, open_modis) and the guide's are times of
      day, at most one per calendar day (open_stac labels a MOD13A2 composite 10:30 on the
      first day of its period): the guide step of a day belongs to that date. Matched by full
      timestamps, the first day of each period took the previous composite, 16 days older
      (12 K off), silently. Without a tolerance too (equal days).
    - 'lst': the guide's labels are dates (open_cog dates composites by their A2020DDD names)
      and the LST's are times of day (open_stac: 10:30), with a tolerance of a day or more:
      the LST of the last day of a period (15 d 10.5 h after the label) was refused under the
      documented '15D', and '16D' gave the day after the period the old composite.
    - 'both': both at times of day (an LST at 03:00, a night or ECOSTRESS overpass, against
      open_stac's composites at 10:30 on the first day of their periods), with a tolerance of
      a day or more and composites (:func:`_composites`): the first day of a period was
      refused under '15D', and the advised '16D' took the previous composite, silently. The
      day after a period is still 16 days after its composite: refused under '15D'.

    numpy and cftime dates (of one calendar) alike."""
    kinds = {_label_kind(lv), _label_kind(gv)}
    if kinds != {"dates"} or not lv.size or not gv.size:
        return None
    if (np.issubdtype(lv.dtype, np.datetime64) != np.issubdtype(gv.dtype, np.datetime64)
            or (lv.dtype == object and calendar(lv) is None)
            or (gv.dtype == object and calendar(gv) is None)):
        return None  # datetime objects, tz-aware Timestamps: not compared by day
    if lv.dtype.kind == "M" and (np.isnat(lv).any() or np.isnat(gv).any()):
        return None
    try:
        lday, gday = _day_floor(lv), _day_floor(gv)
    except (AttributeError, TypeError, ValueError):
        return None
    import pandas as pd

    # a tolerance under a day asks for instants (a 23:00 guide 1 h before a 00:00 step)
    days = tol is not None and pd.Timedelta(tol) >= pd.Timedelta(1, "D")
    l_dates, g_dates = bool((lday == lv).all()), bool((gday == gv).all())
    one_a_day = np.unique(gday).size == gday.size
    if l_dates and not g_dates and (tol is None or days) and one_a_day:
        return "guide"
    if g_dates and not l_dates and days:
        return "lst"
    if not l_dates and not g_dates and days and one_a_day and _composites(gday):
        return "both"
    return None


def _refuse_part_day_tolerance(tolerance: Any, tol: Any, how: str, dim: Hashable) -> None:
    """Refuse a tolerance that is not whole days where labels are matched by calendar day
    (:func:`_by_day`): both labels were floored to their days but compared with the raw
    duration, so '36h' took a composite 46 h before an LST at 23:00, silently."""
    import pandas as pd

    td, day = pd.Timedelta(tol), pd.Timedelta(1, "D")
    if td % day == pd.Timedelta(0):
        return
    side = {"guide": "LST dates (00:00) against guide steps at a time of day",
            "lst": "guide dates (00:00) against LST steps at a time of day",
            "both": "composites against LST steps at times of day"}[how]
    raise GuideTimeError(
        f"guide_time_tolerance={tolerance!r} ({_duration_text(td)}) is not a whole number of "
        f"days, but these '{dim}' labels are matched by calendar day ({side}), where part of "
        "a day has no meaning: a step further away than the tolerance says could be taken. "
        f"Give whole days, e.g. `guide_time_tolerance='{td // day}D'` or "
        f"'{-(-td // day)}D'."
    )


def _composites(gday: np.ndarray) -> bool:
    """Whether guide steps on the calendar days ``gday`` are composites: two or more, each more
    than a day after the one before. A daily guide (an Aqua afternoon at 23:00 UTC) is matched
    by instant: by day, an LST at 01:00 took the 23:00 step of its day, 22 h later."""
    import pandas as pd

    gd = np.sort(np.unique(gday))
    if gd.size < 2:
        return False
    return bool((pd.to_timedelta(np.diff(gd)) > pd.Timedelta(1, "D")).all())


def _longer_by_day(lv: np.ndarray, gv: np.ndarray, missing: list[int]) -> tuple[str, Any] | None:
    """The tolerance (a day or more) that reaches the latest guide step of each ``missing`` LST
    step when dates are matched by calendar day, as a tolerance of a day or more matches them
    (:func:`_by_day`), and the first one's gap; None when such a tolerance does not match by
    day or some step has no guide step before it."""
    import pandas as pd

    how = _by_day(lv, gv, np.timedelta64(1, "D"))
    if how is None:
        return None
    keys = _day_floor(gv) if how in ("guide", "both") else gv
    lkeys = _day_floor(lv) if how in ("lst", "both") else lv
    order = np.argsort(keys, kind="stable")
    gs = keys[order]
    pos = np.searchsorted(gs, lkeys[missing], side="right") - 1
    if (pos < 0).any():
        return None
    gaps = [pd.Timedelta(lkeys[i] - gs[p]) for i, p in zip(missing, pos)]
    longer = _tolerance_text(max([*gaps, pd.Timedelta(1, "D")]))
    return longer, gaps[0]


def _label_kind(v: np.ndarray) -> str:
    """'dates' (datetime64, cftime), 'numbers', 'text' (strings) or 'objects' labels."""
    if np.issubdtype(v.dtype, np.datetime64):
        return "dates"
    if np.issubdtype(v.dtype, np.number):
        return "numbers"
    if v.dtype.kind in "US":
        return "text"
    first = v.ravel()[0] if v.size else None
    if hasattr(first, "calendar") or isinstance(first, (datetime.date, np.datetime64)):
        return "dates"  # cftime, tz-aware pandas Timestamps, datetime objects
    return "text" if isinstance(first, str) else "objects"


def _tolerance_in_units(tol: Any, units: str) -> Any:
    """A duration as a number in CF time units ('days since launch': 15 for '15D'), or None
    for units of no fixed duration (months) or not named."""
    import pandas as pd

    step = {"day": "1D", "days": "1D", "d": "1D", "hour": "1h", "hours": "1h", "hr": "1h",
            "hrs": "1h", "h": "1h", "minute": "1min", "minutes": "1min", "min": "1min",
            "mins": "1min", "second": "1s", "seconds": "1s", "sec": "1s", "secs": "1s",
            "s": "1s"}.get(units.split()[0].lower() if units.split() else "")
    if step is None:
        return None
    n = pd.Timedelta(tol) / pd.Timedelta(step)
    return int(n) if float(n).is_integer() else float(n)


def _label_value(v: Any) -> Any:
    """A step label as advice code selects it (``drop_sel``): a date in full ISO text (cut to
    seconds, a sub-second overpass time named no step), a number as a number."""
    if isinstance(v, np.datetime64):
        return str(np.datetime_as_string(v))
    if isinstance(v, np.generic):
        return v.item()
    return v if isinstance(v, (int, float)) else str(v)


def _refuse_bad_labels(da: xr.DataArray, dim: Hashable, what: str, var: str) -> None:
    """Refuse timezone-aware and missing (NaT/NaN) labels along ``dim`` with a
    :class:`~xlstsr.errors.GuideTimeError` (the check :func:`xlstsr.steps.pair_steps` makes
    too)."""
    _refuse_bad_step_labels(da, dim, what, var, GuideTimeError)


def _number_labels_fix(numbers: np.ndarray, dates: np.ndarray, var: str, dim: Hashable) -> str:
    """How to date number labels matched against dates: numbers that are dates written as
    digits (20200701, 2020183) are parsed, days of a year (1..366) are dated in the year of the
    other side's dates, and others (open_cog's step numbers 0, 1, ... of undated files) are
    given their dates. A fixed '2020-01-01 + day - 1' made 2019-12-31 of step 0 for 2006 data."""
    v = np.asarray(numbers).ravel()
    text = [str(_label_value(x)) for x in v[:50]]
    for pattern, fmt, kind in ((r"\d{8}", "%Y%m%d", "YYYYMMDD"), (r"\d{7}", "%Y%j", "YYYYDDD")):
        if text and all(re.fullmatch(pattern, t) for t in text):
            return (f"for {kind} numbers, `{var}['{dim}'] = pd.to_datetime({var}['{dim}']"
                    f".values.astype('int64').astype(str), format='{fmt}')`")
    whole = v.size and np.isfinite(v).all() and (v == np.round(v)).all()
    if whole and v.min() >= 1 and v.max() <= 366:
        years = sorted({int(str(d)[:4]) if not hasattr(d, "year") else d.year
                        for d in np.asarray(dates).ravel()[:1000]})
        if len(years) == 1:
            return (f"for days of the year {years[0]} (as the other side's dates), "
                    f"`{var}['{dim}'] = pd.Timestamp('{years[0]}-01-01') + pd.to_timedelta("
                    f"{var}['{dim}'].values - 1, 'D')`; for step numbers, give the steps "
                    f"their dates (`{var} = {var}.assign_coords({dim}=dates)`)")
    return ("for step or band numbers (open_cog numbers the steps of files whose names carry "
            "no date 0, 1, 2, ...), give the steps their dates, in order: "
            f"`xlstsr.io.open_cog(files, times=dates)` or `{var} = {var}.assign_coords("
            f"{dim}=dates)`")


def match_steps(
    guide: xr.DataArray, lst: xr.DataArray, dim: str, tolerance: Any = None, *,
    one_guide_advice: str | None = None, code: GuideCode | None = None,
) -> xr.DataArray:
    """The guide's steps along ``dim`` matched to the LST's by label, not by position.

    For each LST label ``t`` the guide step taken is the latest one whose label ``g`` satisfies
    ``g <= t`` and ``t - g <= tolerance`` (default: equal labels only; the bound is inclusive).
    A 16-day composite labelled by the first day of its period (MODIS, STAC ``start_datetime``)
    covers that day and the 15 after it (its ``end_datetime`` is the first day + 15 d 23:59:59),
    so ``tolerance="15D"`` serves every LST date of its period and no later one: ``"16D"``
    also gives it the day after its period, where the next composite is missing (the LST of
    2020-10-15 took the composite of 2020-09-29..10-14). LST labels that are dates (all at
    midnight, as daily products are labelled) against a guide labelled at a time of day (at
    most one step per day, e.g. a STAC composite at 10:30 on the first day of its period) are
    matched by day: a guide step belongs to its calendar day, so the date 2020-07-27 takes the
    composite labelled 2020-07-27T10:30, not the previous one; with a tolerance of a day or
    more, LST labels at a time of day (open_stac: 10:30) against guide dates (open_cog: 00:00)
    are matched by day too, so '15D' serves the last day of a period, and so are labels at
    times of day on both sides (an LST at 03:00 against composites at 10:30) when the guide
    has at most one step per day: its first day takes its own composite. Matched by day, a
    label stands for its whole day, so the tolerance must be whole days ('36h' is refused
    there: give '1D' or '2D'); elsewhere it compares instants. Number labels with CF
    time units ('days since ...', a file opened with ``decode_times=False``) are matched as
    the dates they are when the two sides' units differ or the tolerance is a duration; a
    duration against plain numbers is refused, as are timezone-aware and NaT labels. A
    tolerance is a fixed duration
    ('15D', '8h'); months and years are not (refused: use e.g. '31D' for monthly guides).
    cftime dates (model calendars) match as
    numpy dates do, when both sides share the calendar. Labels that are neither dates nor
    numbers must be equal. Without labels on both sides, steps are matched by position only when the
    sizes agree and neither side has labels.

    ``one_guide_advice``: the refusal's advice to use one guide instead of matching steps
    (default: ``guide.squeeze(dim, drop=True)`` to use one guide for every step).
    ``code``: how the refusal's advice writes the guide as the user passed it (a list's or
    dict's bands: :class:`GuideCode`); default, one DataArray or Dataset named ``guide``.

    Returns the guide with ``dim`` indexed like the LST (labels the LST's).

    Raises
    ------
    GuideTimeError
        A step of the LST has no guide step within the tolerance, only one side has labels,
        the two sides' dates are of different calendars, or a tolerance of a day or more is
        not whole days where labels are matched by calendar day.

    Examples
    --------
    >>> import pandas as pd
    >>> lst = xr.DataArray(np.zeros(3), dims="time",
    ...                    coords={"time": pd.to_datetime(["2020-01-03", "2020-01-20", "2020-01-21"])})
    >>> ndvi = xr.DataArray([0.1, 0.2], dims="time",
    ...                     coords={"time": pd.to_datetime(["2020-01-01", "2020-01-17"])})
    >>> match_steps(ndvi, lst, "time", "15D").values.tolist()
    [0.1, 0.2, 0.2]
    """
    tol = _as_timedelta(tolerance)  # a bad tolerance is named even when labels agree
    n = lst.sizes[dim]

    def _lst_labels(g: xr.DataArray) -> xr.DataArray:
        """The LST's numbers, with the units that say which dates they are."""
        return g.assign_coords({dim: (dim, lst[dim].values, dict(lst[dim].attrs))})

    has_l, has_g = dim in lst.coords, dim in guide.coords
    if not has_l and not has_g:
        if guide.sizes[dim] != n:
            raise GuideTimeError(
                f"the guide has {guide.sizes[dim]} steps along '{dim}' and the LST {n}, and "
                f"neither has '{dim}' labels to match them by: give both their labels "
                f"(`da.assign_coords({dim}=dates)`), or pass a guide without '{dim}' to use "
                "one guide for every step."
            )
        return guide
    if not (has_l and has_g):
        which, other = ("LST", "guide") if not has_l else ("guide", "LST")
        raise GuideTimeError(
            f"the {which} has no '{dim}' labels, so its steps cannot be matched with the "
            f"{other}'s by label: assign them (`da.assign_coords({dim}=dates)`)."
        )
    for da, what, var in ((lst, "LST", "lst"), (guide, "guide", "guide")):
        _refuse_bad_labels(da, dim, what, var)
    lv, gv = np.asarray(lst[dim].values), np.asarray(guide[dim].values)
    lkey, gkey = _cf_time_key(lst[dim]), _cf_time_key(guide[dim])
    decoded = bool(lkey and gkey and (lkey != gkey or isinstance(tol, np.timedelta64)))
    if decoded:
        # files opened with decode_times=False, each 'days since' its own first date: their
        # raw numbers were matched as one time axis (the LST of 07-02 took the composite of
        # 06-25 instead of 07-02's), and a duration against them was no limit at all
        ld, gd = _decode_cf_labels(lst[dim]), _decode_cf_labels(guide[dim])
        if (ld is None or gd is None) and lkey == gkey:
            # one axis in units xarray cannot read ('days since launch'): its numbers are
            # compared as they are, and a duration against them is refused below
            decoded = False
        elif ld is None or gd is None:
            raise GuideTimeError(
                f"the LST's '{dim}' labels are numbers in {lkey[0]!r} ({lkey[1]} calendar) "
                f"and the guide's in {gkey[0]!r} ({gkey[1]} calendar), which xarray cannot "
                "decode to dates here: the same number is another date in each. Decode both, "
                f"e.g. {_cf_decode_fix('lst')} (and the same for the guide)."
            )
        else:
            lv, gv = ld, gd
    if (isinstance(tol, np.timedelta64) and lv.dtype.kind in "iuf"
            and gv.dtype.kind in "iuf"):
        # '15D' against numbers was compared as 1.3e15 (nanoseconds): no limit; float labels
        # raised numpy's UFuncTypeError
        units = [f"the {w}'s are in {k[0]!r}" for w, k in (("LST", lkey), ("guide", gkey)) if k]
        same = bool(lkey and lkey == gkey)  # one axis xarray cannot decode ('days since launch')
        number = _tolerance_in_units(tol, lkey[0]) if same else None
        raise GuideTimeError(
            f"guide_time_tolerance={tolerance!r} is a duration, but the '{dim}' labels are "
            f"plain numbers (LST {lv.dtype}, e.g. {_label_value(lv.ravel()[0])!r}; guide "
            f"{gv.dtype}, e.g. {_label_value(gv.ravel()[0])!r})"
            + (f", both in {lkey[0]!r}, CF time units xarray cannot decode to dates" if same
               else f" and only one side has CF time units ({'; '.join(units)})" if units else
               ", without CF time units")
            + ": give the tolerance as a number in the labels' own units ("
            + (f"`guide_time_tolerance={number!r}`" if number is not None
               else "e.g. 15 for day numbers")
            + f"), or give both sides their dates (`da = da.assign_coords({dim}=dates)`"
            + (f", or {_cf_decode_fix('lst')} for a file opened with decode_times=False"
               if units and not same else "") + ")."
        )
    if (isinstance(tol, (int, float, np.integer, np.floating))
            and not isinstance(tol, np.timedelta64)  # a subclass of np.integer
            and "dates" in (_label_kind(lv), _label_kind(gv))):
        # a bare 16 against dates was read as 16 ns: nothing matched, and the message said
        # "pass guide_time_tolerance=", which the user had
        raise GuideTimeError(
            f"guide_time_tolerance={tol!r} is a plain number, but the '{dim}' labels are "
            f"dates: give a duration, e.g. '{float(tol):g}D' for days or '{float(tol):g}h' for "
            "hours."
        )
    try:
        uniq, counts = np.unique(gv, return_counts=True)
    except TypeError:  # labels that do not sort (mixed kinds): matched by equality below
        uniq, counts = gv[:0], np.zeros(0, dtype=np.int64)
    if (counts > 1).any():  # which of two guide steps with one label goes with that date?
        raise GuideTimeError(
            f"the guide repeats '{dim}' labels ({', '.join(str(v)[:19] for v in uniq[counts > 1][:3])}"
            f"): keep one step per label (e.g. `guide.drop_duplicates('{dim}')` or "
            f"`guide.groupby('{dim}').mean()`)."
        )
    ordered = np.issubdtype(lv.dtype, np.datetime64) or np.issubdtype(lv.dtype, np.number)
    lk, gk = _label_kind(lv), _label_kind(gv)
    if lk != gk and "dates" in (lk, gk):  # '2020-01-01' never equals a datetime64 label
        fix = "lst" if lk != "dates" else "guide"
        other = (gv if fix == "guide" else lv).ravel()
        units = (guide if fix == "guide" else lst)[dim].attrs.get("units")
        if lk != "text" and isinstance(units, str) and " since " in units:
            # a file opened with decode_cf=False / decode_times=False: its CF units say which
            # dates the numbers are (read as days of the year, they were other dates)
            how = (f"decode their CF time units ({units!r}): `xr.decode_cf(ds)` on the Dataset "
                   "opened with decode_cf=False (or open it with decode_times=True, the "
                   f"default), or `{fix} = xr.decode_cf({fix}.to_dataset(name='v'))['v']`")
        elif other.size and all(re.fullmatch(r"A?\d{7}", str(v)) for v in other[:50]):
            # MODIS 'YYYYDDD' (A2020183): pd.to_datetime read it as the year 2020183, and the
            # day-of-year line as 2 million days
            how = (f"for MODIS YYYYDDD labels, `{fix}['{dim}'] = pd.to_datetime({fix}['{dim}']"
                   ".to_index().astype(str).str.lstrip('A'), format='%Y%j')`")
        elif "text" in (lk, gk):
            how = f"`{fix}['{dim}'] = pd.to_datetime({fix}['{dim}'])`"
        else:  # pd.to_datetime of numbers reads nanoseconds since 1970: say how to date them
            how = _number_labels_fix(other, lv if fix == "guide" else gv, fix, dim)
        raise GuideTimeError(
            f"the LST's '{dim}' labels are {lk} ({lv.dtype}, e.g. '{str(lv.ravel()[0])[:19]}') "
            f"and the guide's are {gk} ({gv.dtype}, e.g. '{str(gv.ravel()[0])[:19]}'): they "
            f"never match. Make both dates, e.g. {how}."
        )
    lc, gc = calendar(lv), calendar(gv)
    if lc != gc and lk == gk == "dates":  # cftime's dates never equal other calendars' dates
        def kind(cal: str | None, v: np.ndarray) -> str:
            return f"cftime dates of the '{cal}' calendar" if cal else f"{v.dtype} dates"

        if decoded:
            # numbers in CF units of two calendars: convert_calendar of the numbers as the
            # user has them failed ("must contain datetime objects"); decode them first
            align = ", align_on='date'" if "360_day" in {str(lc).lower(), str(gc).lower()} else ""
            to = (f".convert_calendar('{lc}', dim='{dim}', use_cftime=True{align})" if lc else
                  f".convert_calendar('standard', dim='{dim}'{align})")
            raise GuideTimeError(
                f"the LST's '{dim}' labels are numbers in {lkey[0]!r} ({lkey[1]} calendar: "
                f"{kind(lc, lv)}) and the guide's in {gkey[0]!r} ({gkey[1]} calendar: "
                f"{kind(gc, gv)}): they never match. Decode both to dates (a file opened "
                "with decode_times=False), then put the guide on the LST's calendar: "
                "`lst = xr.decode_cf(lst.to_dataset(name='v'))['v']; guide = xr.decode_cf("
                f"guide.to_dataset(name='v'))['v']{to}`."
            )
        raise GuideTimeError(
            f"the LST's '{dim}' labels are {kind(lc, lv)} and the guide's are {kind(gc, gv)}: "
            f"they never match. Put the guide on the LST's calendar, e.g. "
            f"{calendar_fix(lc, dim, 'guide', gc)}."
        )
    # after the kind and calendar checks: dates of two cftime calendars do not compare
    # (np.array_equal raised cftime's bare TypeError before their refusal)
    if lv.shape == gv.shape and np.array_equal(lv, gv):
        # equal labels are matched as they are, without reading the guide: one merged into
        # the LST's Dataset (xr.merge) is all-NaN at the LST's dates, and the docs say to pass
        # it without those steps (guide=ds.ndvi.dropna('time', how='all')); equal once decoded
        # (CF numbers of other epochs), it takes the LST's numbers and units: its own were
        # other steps to xarray's alignment after
        return _lst_labels(guide) if decoded else guide
    if lc is not None:  # cftime dates sort and subtract, as datetime64 do
        ordered = True  # (a plain-number tolerance was refused above)
        tol = None if tol is None else tol.astype("timedelta64[us]").item()  # a timedelta
    if ordered and lv.dtype.kind != gv.dtype.kind:
        raise GuideTimeError(
            f"the guide's '{dim}' labels ({gv.dtype}) and the LST's ({lv.dtype}) are of "
            "different kinds; give both dates (or both numbers)."
        )
    idx = np.empty(n, dtype=np.int64)
    missing = []
    if ordered:
        # LST dates (midnight) against a guide labelled later on the same day: matched by day
        # (only without a tolerance or with one of a day or more: a shorter one asks for
        # instants, e.g. a 23:00 guide 1 h before a 00:00 step, not the same day's)
        # and guide dates (midnight) against LST times of day, with a tolerance of days: the
        # LST of a period's last day is then 15 days after its composite's date, not 15 d 10.5 h
        by_day = _by_day(lv, gv, tol)
        if by_day is not None and tol is not None:
            _refuse_part_day_tolerance(tolerance, tol, by_day, dim)
        keys = _day_floor(gv) if by_day in ("guide", "both") else gv
        lkeys = _day_floor(lv) if by_day in ("lst", "both") else lv
        order = np.argsort(keys, kind="stable")
        gs = keys[order]
        pos = np.searchsorted(gs, lkeys, side="right") - 1  # latest guide label <= t
        for i, (t, p) in enumerate(zip(lkeys, pos)):
            ok = p >= 0 and (gs[p] == t if tol is None else (t - gs[p]) <= tol)
            if ok:
                idx[i] = order[p]
            else:
                missing.append(i)
    else:
        where = {v: i for i, v in enumerate(gv.tolist())}
        for i, t in enumerate(lv.tolist()):
            if t in where:
                idx[i] = where[t]
            else:
                missing.append(i)
    if missing:
        def fmt(v: Any) -> str:
            return str(v)[:19]

        shown = ", ".join(fmt(lv[i]) for i in missing[:3]) + (" ..." if len(missing) > 3 else "")
        have = ", ".join(fmt(v) for v in gv[:4]) + (" ..." if gv.size > 4 else "")
        code = code or GuideCode()
        hint = (
            f" Pass {_composite_tolerance_advice(guide, lst, dim, gv, code)}, or "
            + (one_guide_advice or _one_guide_advice(guide, dim, code)) + "."
            if ordered and tol is None else ""
        )
        if ordered and tol is not None:
            # the tolerance given, as read: '1MS' was 1 millisecond, and the hint advised to
            # pass guide_time_tolerance=, which the user had
            first, p = missing[0], pos[missing[0]]
            read = f" guide_time_tolerance={tolerance!r} was read as {_duration_text(tol)}"
            if p >= 0:
                # the tolerance that reaches every such step's latest guide step (the example
                # was '15D', the value a user of 16-day composites had given)
                gaps = [lkeys[i] - gs[pos[i]] for i in missing if pos[i] >= 0]
                longer = _tolerance_text(max(gaps))
                gap, daily = lkeys[first] - gs[p], bool(by_day)
                import pandas as pd

                if (not by_day and _label_kind(lv) == "dates"
                        and pd.Timedelta(max(gaps)) >= pd.Timedelta(1, "D")
                        and _longer_by_day(lv, gv, missing) is not None):
                    # a tolerance under a day ('12h') compares instants, but the one advised
                    # (a day or more) matches by calendar day: '17D' was advised where '16D'
                    # reaches the same composite
                    longer, gap = _longer_by_day(lv, gv, missing)
                    daily = True
                shown_all = ", ".join(repr(_label_value(lv[i])) for i in missing[:6])
                drop = (f"`lst.drop_sel({dim}=[{shown_all}])`" if len(missing) <= 6 else
                        f"drop the {len(missing)} dates: `lst.drop_sel({dim}=dates)`")
                hint = (f"{read}; the latest guide step before {fmt(lv[first])} is "
                        f"{_duration_text(gap)} earlier"
                        f"{' (by calendar day)' if daily else ''}: "
                        f"give a duration that reaches it, `guide_time_tolerance={longer!r}` "
                        f"(`--guide-time-tolerance {longer}` on the command line; these dates "
                        "then take that older guide step), or select the LST dates the guide "
                        f"covers ({drop}), or give a guide with steps on these dates.")
            else:
                hint = (f"{read}, but the guide begins after {fmt(lv[first])}: give a guide "
                        "that covers these dates, or select the LST's dates it covers "
                        f"(`lst.sel({dim}=slice({code.ref}['{dim}'][0], None))`).")
        if ordered and tol is None and np.issubdtype(np.asarray(lv).dtype, np.datetime64):
            days = np.asarray(lv).astype("datetime64[D]")
            gdays = np.asarray(gv).astype("datetime64[D]")
            if np.isin(days[missing], gdays).all():
                # a guide step of the same day at or before each LST time (a daily guide
                # labelled at midnight) is what a tolerance reaches; one later that day (22:00
                # against 10:30) is not: the advised '1D' was then refused in turn
                before = all((np.asarray(gv)[gdays == days[i]] <= np.asarray(lv)[i]).any()
                             for i in missing)
                if before:
                    hint = (" Each of these dates has a guide step on the same day, at another "
                            "time of day (overpass times against a daily guide): pass "
                            "`guide_time_tolerance='1D'` (the latest guide step at most a day "
                            f"before), or label both by day (`lst['{dim}'] = "
                            f"lst['{dim}'].dt.floor('D')`).")
                else:
                    hint = (" Each of these dates has a guide step on the same day, but later "
                            "that day, which a tolerance (reaching back only) cannot pair: label "
                            f"both by day, `lst['{dim}'] = lst['{dim}'].dt.floor('D')` and "
                            f"`guide['{dim}'] = guide['{dim}'].dt.floor('D')` (in Python; the "
                            "command line matches the files' labels as they are).")
        raise GuideTimeError(
            f"{len(missing)} of the LST's {n} steps along '{dim}' have no guide step "
            f"{'with that label' if tol is None else f'at most {tolerance!r} before them'} "
            f"(LST {shown}; guide {have}).{hint}"
        )
    out = guide.isel({dim: idx})
    if decoded:
        return _lst_labels(out)
    return out.assign_coords({dim: lst[dim].values})


class GuideCode(NamedTuple):
    """How advice writes code for a guide as the user passed it (:func:`_guide_code`): a list's
    or dict's bands have no ``guide['time']`` nor ``guide.isel`` (TypeError, AttributeError
    when followed).

    Attributes
    ----------
    ref : str
        An expression of one of its DataArrays that holds the dates matched: ``guide``,
        ``guide[0]``, ``guide['ndvi']``.
    form : str
        'one' (a DataArray or Dataset), 'list' (or tuple) or 'dict'.
    static : bool
        Whether some band lacks the steps' dim (a static band beside dated ones), which a
        per-band selection then leaves as it is.
    """

    ref: str = "guide"
    form: str = "one"
    static: bool = False

    def each(self, dim: str, method: str) -> str:
        """The guide with ``method`` (e.g. ``.isel(time=0, drop=True)``, along ``dim``) applied
        to each of its bands, as an expression to pass as the guide."""
        band = f"g{method} if {dim!r} in g.dims else g" if self.static else f"g{method}"
        if self.form == "list":
            return f"[{band} for g in guide]"
        if self.form == "dict":
            return f"{{k: {band} for k, g in guide.items()}}"
        return f"guide{method}"


def _guide_code(guide: Any, bands: Sequence[xr.DataArray], lead: Sequence[Hashable],
                i: int | None = None) -> GuideCode:
    """:class:`GuideCode` of a guide as passed (``bands``: its bands as
    :func:`prepare_guide` reads them, in order), naming band ``i`` (default: the first with one
    of the LST's leading dims ``lead``)."""
    if not isinstance(guide, (list, tuple, Mapping)):
        return GuideCode()
    dated = [any(d in b.dims for d in lead) for b in bands]
    if i is None:
        i = dated.index(True) if any(dated) else 0
    static = not all(dated)
    if isinstance(guide, Mapping):
        keys = list(guide)
        key = keys[i] if i < len(keys) else keys[0]
        return GuideCode(f"guide[{key!r}]", "dict", static)
    return GuideCode(f"guide[{i}]", "list", static)


def _previous_period_tolerance(guide: xr.DataArray, lst: xr.DataArray, dim: str,
                               lv: np.ndarray, gv: np.ndarray) -> str | None:
    """The tolerance of whole days that pairs every LST step with its latest guide step (a
    previous period's composite), checked by matching, or None (a step before the guide's
    first): offered only as an explicit choice."""
    lday = day_numbers(lv)  # (cftime labels too, by their calendar's days)
    gday = np.unique(day_numbers(gv))
    at = np.searchsorted(gday, lday, side="right") - 1
    if (at < 0).any():
        return None
    days = int((lday - gday[at]).max())
    for n in (days, days + 1):  # by calendar day, else as instants (a part day more)
        try:
            match_steps(guide, lst, dim, f"{n}D")
        except GuideTimeError:
            continue
        return f"{n}D"
    return None


def _composite_tolerance_advice(guide: xr.DataArray, lst: xr.DataArray, dim: str,
                                gv: np.ndarray, code: GuideCode | None = None) -> str:
    """The tolerance advice of :func:`match_steps` for a guide whose labels matched none (no
    tolerance given): the composites' own one where their dates tell their period
    (:func:`xlstsr.steps.composite_period`, calibration's rule too: '7D' for 8-day ones, which
    '15D' filled with a composite 8-15 days old where one is missing), else both examples.
    Where that tolerance still leaves LST steps unpaired, the advice says why: LST dates
    before the guide's first, or beyond their composite's period (one missing). Dekads and
    months where no LST step's own period has a composite get no tolerance (it paired every
    step with the previous period's composite, silently): a guide of their periods, or the
    previous period's composite as an explicit choice. ``code``: the guide as passed."""
    code = code or GuideCode()
    period = composite_period(gv)
    if period is None:
        return ("`guide_time_tolerance=` (e.g. '15D' for 16-day composites labelled by their "
                "first day, which cover it and the 15 days after, '7D' for 8-day ones: the "
                "latest guide step at most that long before each date is used)")
    tol = f"{period.reach}D"
    if not period.fixed:
        # dekads, months: a tolerance of days cannot say a step's own period; where that one
        # is missing it paired the step with the previous period's composite, silently
        lv = np.asarray(lst[dim].values)
        own = np.isin(calendar_period_key(lv, period), calendar_period_key(gv, period))
        what = "dekad" if period.days == 10 else "month"
        if not own.any():
            prev = _previous_period_tolerance(guide, lst, dim, lv, gv)
            return (f"a guide with the composites of the LST steps' own {what}s: none of the "
                    f"{own.size} LST steps' own {what} has a composite here (LST "
                    f"{calendar_period_names(lv, period)}; guide {calendar_period_names(gv, period)}: "
                    f"{period.name} composites labelled by their first day, each covering its "
                    f"own {what} only), and a tolerance of days would pair them with the "
                    f"previous {what}'s composite, so no tolerance is advised for them"
                    + (f"; `guide_time_tolerance={prev!r}` only to use the previous {what}'s "
                       "composite for them knowingly (an older NDVI than their own period's)"
                       if prev else ""))
        if not own.all():
            return (f"`guide_time_tolerance={tol!r}` after keeping the {int(own.sum())} of "
                    f"the {own.size} LST steps whose own {what} has a composite (the guide's "
                    f"dates are those of {period.name} composites; a tolerance pairs the "
                    f"others with the previous {what}'s): "
                    f"`{calendar_keep_code(period, 'lst', dim, code.ref)}`")
    try:
        match_steps(guide, lst, dim, tol)
        note = ""
    except GuideTimeError:
        # the call names the dates and what to do; a longer tolerance would fill them with an
        # older composite. The cause said is the one of these dates (an LST that merely
        # begins before the guide was told "one missing")
        lday = day_numbers(lst[dim].values)  # (cftime labels too)
        gday = np.unique(day_numbers(gv))
        at = np.searchsorted(gday, lday, side="right") - 1
        before = bool((at < 0).any())
        beyond = bool(((at >= 0) & (lday - gday[np.maximum(at, 0)] > period.reach)).any())
        why = [w for w, on in (("before the guide's first date", before),
                               (f"more than {period.reach} days after their latest composite "
                                "(one missing)", beyond)) if on]
        note = (f"; LST steps {' or '.join(why) or 'it does not reach'} are then refused "
                "with their dates")
    after = (f"the {period.reach} days after" if period.fixed
             else f"the days up to the next period's first (at most {period.reach})")
    return (f"`guide_time_tolerance={tol!r}` (the guide's dates are those of {period.name} "
            f"composites labelled by their first day, which cover it and {after}: the latest "
            f"guide step at most that long before each date is used{note})")


def _one_guide_advice(guide: xr.DataArray, dim: str, code: GuideCode | None = None) -> str:
    """The advice to use one guide for every step: squeezed where it has one step along
    ``dim``, else one of its steps selected (``squeeze`` raised ValueError on several), written
    for the guide as passed (``code``: a list's or dict's bands each)."""
    code = code or GuideCode()
    # a list's or dict's bands may hold other numbers of steps (squeeze failed on two)
    if guide.sizes.get(dim, 0) == 1 and code.form == "one":
        return (f"`{code.each(dim, f'.squeeze({dim!r}, drop=True)')}` to use one guide for "
                "every step")
    if code.form != "one":
        return (f"`{code.each(dim, f'.isel({dim}=0, drop=True)')}` to use one step of each "
                "band (here its first) for every step")
    return (f"`{code.each(dim, f'.isel({dim}=0, drop=True)')}` to use one of its "
            f"{guide.sizes.get(dim, 0)} steps (here its first) for every step")


#: dim names (or words of them: 'spectral_band') of a raster's bands, not of steps
_BAND_DIM_WORDS = frozenset({"band", "bands", "channel", "channels"})


def _is_band_like(g: xr.DataArray, lst: xr.DataArray, d: str) -> bool:
    """Whether a leading dim ``d`` that the LST and the guide share holds a raster's bands
    rather than steps: it is named so (:data:`_BAND_DIM_WORDS`, a word of the name), or its
    labels are rioxarray's band numbers (integers, the LST's 1, the guide's 1..n). A dim of
    other labels (an ``overpass`` of 'day' and 'night') is matched by label, as steps are."""
    if set(re.split(r"[^a-z]+", str(d).lower())) & _BAND_DIM_WORDS:
        return True
    if d not in lst.coords or d not in g.coords:
        return False
    lv, gv = np.asarray(lst[d].values).ravel(), np.asarray(g[d].values).ravel()
    return (np.issubdtype(lv.dtype, np.integer) and np.issubdtype(gv.dtype, np.integer)
            and lv.tolist() == [1] and gv.tolist() == list(range(1, gv.size + 1)))


def _refuse_bands_as_step(g: xr.DataArray, lst: xr.DataArray, d: str) -> None:
    """Refuse matching by label a guide's band-like ``d`` (:func:`_is_band_like`) against the
    LST's size-1 ``d`` when the guide has other values there: an LST read by rioxarray keeps
    ``band=[1]``, a 2-band guide read alike has ``band=[1, 2]``, and the label match kept guide
    band 1 only (band 2 dropped without a word; labels [4, 5] were refused with time-step
    advice that could not work). Which is meant (the guide's bands as channels, or one of them)
    is for the user to say. Other dims (an ``overpass``) are matched by label."""
    if (lst.sizes[d] != 1 or _is_time_like(lst, d) or _is_time_like(g, d)
            or not _is_band_like(g, lst, d)):
        return
    lv = np.asarray(lst[d].values).ravel() if d in lst.coords else None
    gv = np.asarray(g[d].values).ravel() if d in g.coords else None
    if g.sizes[d] == 1 and (lv is None or gv is None or lv.tolist() == gv.tolist()):
        return  # one guide band with the LST's label (or neither labelled): nothing to choose
    have = ("" if gv is None else
            f" ({', '.join(str(v) for v in gv[:6])}{' ...' if gv.size > 6 else ''})")
    label = "" if lv is None else f" (label {lv[0]})"
    raise GuideTimeError(
        f"the LST has a size-1 {d!r} dim{label}, e.g. a one-band raster as rioxarray reads "
        f"it, and the guide {g.sizes[d]} {d!r} value(s){have}: a dim the LST has is matched "
        f"with the guide's by label, as time steps are, so "
        + ("only the guide band with the LST's label would be kept and the others dropped. "
           if gv is not None and lv is not None and lv[0] in gv.tolist() else
           "no guide band matches. ")
        + f"If the guide's {d!r} values are its bands (channels such as NDVI, reflectances), "
        f"drop the LST's size-1 dim: `lst = lst.squeeze({d!r}, drop=True)`; every guide band "
        f"is then a channel (select the ones to use with `guide.sel({d}=[...])`)."
    )


def _band_texts(g: xr.DataArray, d: str) -> list[str] | None:
    """The text labels of a guide's bands along ``d``: a GeoTIFF's band descriptions (the
    ``band_description`` coordinate of :func:`xlstsr.io.open_cog`, or rioxarray's long_name
    tuple), or text labels of ``d`` itself; None when nothing labels them."""
    described = _described_bands(g, d)
    if described is not None:
        return described
    names = g.attrs.get("long_name")
    if isinstance(names, (tuple, list)) and len(names) == g.sizes[d] and all(
            str(v).strip() for v in names):
        return [str(v).strip() for v in names]
    if d in g.coords and g[d].dtype.kind in "OUS":
        return [str(v) for v in g[d].values.tolist()]
    return None


#: words of a band description that name a quantity besides :data:`_OTHER_BANDS` and NDVI (a
#: guide's bands described 'ndvi', 'lst', 'elevation' are channels, not dates)
_QUANTITY_WORDS = frozenset({"lst", "temperature", "dem", "elevation", "height", "slope"})


def _band_quantities(text: str) -> frozenset[str]:
    """The quantities a band description names: NDVI (:func:`_says_ndvi`), the other
    quantities of :func:`_other_quantities` (red, nir, albedo, 'B04', 'sur_refl_b02'...) and
    :data:`_QUANTITY_WORDS`; empty when it names none ('band 1', 'A2020153')."""
    return frozenset(_other_quantities(text) | (_tokens(text) & _QUANTITY_WORDS)
                     | ({"ndvi"} if _says_ndvi(text) else set()))


#: a sensor's band as Earth Engine names it, unpadded (Sentinel-2 'B4', 'B8', 'B8A', Landsat 8
#: 'B4', 'B5', 'B10'): a band name unless it is the band's own number ('b1', 'b2' on bands 1
#: and 2, an uploaded asset's default names, say nothing)
_SENSOR_BAND = re.compile(r"b(\d{1,2})a?")
#: radar polarisations (Sentinel-1 'VV', 'VH'): each band another quantity
_POLARISATIONS = frozenset({"vv", "vh", "hh", "hv"})


def _band_names(text: str, number: object) -> frozenset[str]:
    """The quantities a band description names (:func:`_band_quantities`) and the sensor bands
    it names: unpadded band names ('B4', 'B8A') other than the band's own ``number`` ('b1' on
    band 1) and polarisations ('VV', 'VH'). Dates and indices ('A2020153', '0_', 'doy 153')
    name none: one NDVI band per date names the same ones on every band, and so does a 'bN'
    beside NDVI ('NDVI_b3', 'NDVI_b4': bands 3 and 4 of a per-date stack)."""
    named = _band_quantities(text)
    if "ndvi" in named:  # 'NDVI_b03': the stack's band number beside the index, no sensor band
        named = frozenset(q for q in named if not _SENSOR_BAND.fullmatch(q))
    found = set(_tokens(text) & _POLARISATIONS)
    for t in _tokens(text):
        m = _SENSOR_BAND.fullmatch(t)
        # beside a derived index ('NDVI_b3': a subset of a per-date NDVI stack) a 'bN' is the
        # stack's band number, not a sensor band
        if m and not named & {"ndvi"} and (t.endswith("a")
                                           or m.group(1).lstrip("0") != str(number)):
            found.add(t)
    return named | found


def _refuse_quantity_bands_as_steps(g: xr.DataArray, lst: xr.DataArray, d: str) -> None:
    """Refuse matching a guide's bands with the LST's several bands (its dates, as a multi-band
    LST GeoTIFF is read) by band number when the guide's bands are quantities (described
    'red', 'nir', 'ndvi') or their counts differ: guide band i guided LST date i and the
    guide's other bands were dropped, without a word. Quantities are bands whose descriptions
    name different known quantities or sensor bands (:func:`_band_names`: 'red', 'B4' and
    'B8', 'VV' and 'VH'): one NDVI band per date described in any form ('NDVI_A2020153', Earth
    Engine's '0_NDVI', 'NDVI doy 153') names the same one on every band and is matched by band
    number, as are bands whose labels equal the LST's (day numbers [153, 161] on both sides:
    matched by label)."""
    if (d not in g.dims or lst.sizes[d] < 2 or _is_time_like(lst, d)
            or _is_time_like(g, d)):
        return
    lv = np.asarray(lst[d].values).ravel() if d in lst.coords else None
    gv = np.asarray(g[d].values).ravel() if d in g.coords else None
    numbered = (lv is None or np.issubdtype(lv.dtype, np.integer)) and (
        gv is None or np.issubdtype(gv.dtype, np.integer))
    named = bool(set(re.split(r"[^a-z]+", d.lower())) & _BAND_DIM_WORDS)
    if not (named or numbered):
        return  # labels of another kind (an 'overpass' of 'day' and 'night'): matched by label
    # rioxarray's numbering on both sides (1..n, 1..m), or none: a selection of one file's
    # bands (LST bands [2, 3] of the guide's [1..4]) is matched by its labels
    raw = all(v is None or v.tolist() == list(range(1, v.size + 1)) for v in (lv, gv))
    if not raw and lv is not None and gv is not None and lv.tolist() == gv.tolist():
        return  # the LST's own labels (day numbers on both sides): matched by label
    texts = _band_texts(g, d)
    numbers = (gv.tolist() if gv is not None and np.issubdtype(gv.dtype, np.integer)
               and gv.size == len(texts or []) else range(1, len(texts or []) + 1))
    quantities = (texts is not None and len({_band_names(v, k) for v, k in zip(texts, numbers)}) > 1
                  and (gv is None or gv.dtype.kind not in "OUS"))
    counts = numbered and raw and g.sizes[d] != lst.sizes[d]
    if not (quantities or counts):
        return
    n, m = g.sizes[d], lst.sizes[d]
    shown = ", ".join(repr(v) for v in (texts or [])[:6]) + (" ..." if texts and len(texts) > 6
                                                            else "")
    what = (f"described {shown}" if texts is not None else
            f"labelled {', '.join(str(v) for v in gv[:6])}" if gv is not None else "unlabelled")
    pick = next((i for i, v in enumerate(texts or []) if _says_ndvi(v)), 0)
    label = gv[pick].item() if gv is not None else pick + 1
    if n == 1:
        matched = (f"and the guide's single {d!r} band ({what}) would be matched with them by "
                   f"band number: it would guide LST band 1 only, the LST's other {m - 1} "
                   "band(s) left without a guide")
        cause = f"the guide has one band and the LST {m}, so it is not one guide per LST date"
        channels = "it as a channel"
        select = "To use that band for every date, select it"
    else:
        matched = (f"and the guide's {n} {d!r} bands ({what}) would be matched with them by "
                   "band number: guide band 1 guiding LST band 1, band 2 LST band 2"
                   + (f", the guide's other {n - m} band(s) dropped" if n > m else ""))
        cause = ("the guide's bands are quantities, not dates" if quantities else
                 f"the guide has {n} bands and the LST {m}, so they are not one guide per LST "
                 "date")
        channels = "the guide's bands as channels"
        select = "Select the guide band to use for every date"
    raise GuideTimeError(
        f"the LST's {m} {d!r} values are its steps (dates, as a multi-band LST GeoTIFF is "
        f"read), {matched}. But {cause}. {select}: `guide = "
        f"guide.sel({d}={label!r}, drop=True)` (on the command line, `--guide-band {pick + 1}`); "
        f"or, to use {channels}, give the LST's steps a dim of their own "
        f"(`lst = lst.rename({d}='time')`; an LST of one date: `lst = lst.isel({d}=0, "
        "drop=True)`)."
    )


def _match_lead(
    g: xr.DataArray, lst: xr.DataArray, lead: tuple[str, ...], skip: tuple[str, ...],
    tolerance: Any, drop_fix: Callable[[str], str] | None = None,
    code: GuideCode | None = None, given: xr.DataArray | xr.Dataset | None = None,
) -> xr.DataArray:
    """Match the guide's leading dims with the LST's by label; refuse a time dim the LST lacks
    (an LST date kept as a scalar coordinate is matched as a one-step dim, with the tolerance).
    ``drop_fix``: :func:`_match_scalar_time`'s advice to drop a scalar date, for the guide's form;
    ``code``: :func:`match_steps`'s, for the guide as passed (:class:`GuideCode`); ``given``:
    the guide as passed, whose coordinates the rename advice must not clash with (default
    ``g``)."""
    given = g if given is None else given
    g = _match_scalar_time(g, lst, lead, skip, tolerance, drop_fix)
    for d in [str(d) for d in g.dims if d not in skip]:
        if d in lead:
            _refuse_bands_as_step(g, lst, d)
            _refuse_quantity_bands_as_steps(g, lst, d)
            g = match_steps(g, lst, d, tolerance, code=code)
        elif _is_time_like(g, d):
            if d in g.coords and d in lst.coords and lst[d].ndim == 0:
                # an LST of one date as a label (`cube.sel(time=t)`): matched as a one-step dim
                # would be, with the tolerance (a one-step guide of 18 months earlier was taken
                # without a word; a 16-day cube was refused whatever guide_time_tolerance said)
                g = _match_scalar_lst_time(g, lst, d, tolerance)
                continue
            if g.sizes[d] == 1:
                g = g.isel({d: 0}, drop=True)
                continue
            lst_time = [str(x) for x in lead if _is_time_like(lst, x)]
            if lst_time:  # the same axis under two names
                t = lst_time[0]
                # one Dataset cannot rename one variable's dim onto another's: the guide as a
                # DataArray (an xr.merge onto one dim leaves it all-NaN at the LST's dates)
                name = g.name if isinstance(g.name, str) else "ndvi"  # its variable's
                raise GuideTimeError(
                    f"the guide's time dim is '{d}' and the LST's '{t}': give them one "
                    f"name (`guide.rename({{'{d}': '{t}'}})`) so that their steps are "
                    f"matched by label; for a guide variable of the LST's Dataset, pass it "
                    f"renamed: `guide=ds[{name!r}].rename({{'{d}': '{t}'}})` (merged onto one "
                    f"'{t}' dim instead, keep its own dates: "
                    f"`guide=ds[{name!r}].dropna('{t}', how='all')`)."
                )
            if d in lst.coords and lst[d].ndim == 0:  # one image with its date as a label
                raise GuideTimeError(
                    f"the guide has a time dim '{d}' ({g.sizes[d]} steps) without labels and "
                    f"the LST a single '{d}' label ({str(lst[d].values)[:19]}) as a scalar "
                    f"coordinate: label the guide's steps (`guide.assign_coords({d}=dates)`), "
                    "to be matched with the LST's date (with guide_time_tolerance), or select "
                    f"its step (`guide.isel({d}=i)`)."
                )
            if d in lst.coords and lst[d].ndim == 1 and lst[d].dims[0] in lead:
                e = lst[d].dims[0]
                raise GuideTimeError(
                    f"the guide has a time dim '{d}' ({g.sizes[d]} steps); the LST's '{d}' labels "
                    f"are a coordinate along its dim '{e}', not a dim: make '{d}' its dim "
                    f"(`lst.swap_dims({{'{e}': '{d}'}})`) so that the guide's steps are matched "
                    "with the LST's by label."
                )
            scalar = [str(c) for c, v in lst.coords.items() if v.ndim == 0 and c != d
                      and _is_time_like(lst, c)]
            if scalar and d in g.coords:
                # the LST's date under another name (`cube.sel(time=t)` against a guide's
                # 'date' dim): renamed, it is matched with guide_time_tolerance; 'nearest' may
                # take a composite whose period begins after the LST's date
                # a date's own name first ('time' before a 'composite_start' kept beside it)
                t = sorted(scalar, key=lambda c: (c.lower() not in ("time", "date"),
                                                  bool(re.search("start|end", c.lower()))))[0]
                if t in given.coords and given[t].dims == (d,):
                    # the guide holds that coordinate along its steps (modis_sample's
                    # composite_start): its dim, not a rename (ValueError 'conflicts')
                    fix = f"guide = guide.swap_dims({{{d!r}: {t!r}}})"
                    how = f"make the guide's own '{t}' labels its dim"
                elif t in given.coords:
                    fix = f"guide = guide.drop_vars({t!r}).rename({{{d!r}: {t!r}}})"
                    how = "give them one name"
                else:
                    fix, how = f"guide = guide.rename({d}={t!r})", "give them one name"
                raise GuideTimeError(
                    f"the guide's time dim is '{d}' ({g.sizes[d]} steps) and the LST's date a "
                    f"scalar '{t}' coordinate ({str(lst[t].values)[:19]}): {how} (`{fix}`) so "
                    "that the LST's date is matched with the guide's steps (with "
                    "guide_time_tolerance, e.g. '15D' for 16-day composites labelled by their "
                    "first day)."
                )
            raise GuideTimeError(
                f"the guide has a time dim '{d}' ({g.sizes[d]} steps) but the LST has none, so "
                "it is not clear which step goes with the LST: select one "
                f"(`guide.sel({d}=date, method='nearest')`), or give the LST its '{d}' dim."
            )
    return g


def _match_scalar_lst_time(g: xr.DataArray, lst: xr.DataArray, d: str,
                           tolerance: Any) -> xr.DataArray:
    """The guide's step for an LST whose date is a scalar ``d`` coordinate, taken by
    :func:`match_steps` as for a one-step dim (the latest guide step at most ``tolerance``
    before it); a refusal says so, and that ``guide.sel(..., method='nearest')`` is no fix: it
    may take a composite whose period begins after the LST's date."""
    try:
        return match_steps(
            g, lst.expand_dims(d), d, tolerance,
            one_guide_advice=f"`guide.isel({d}=i, drop=True)` to use one of its steps",
        ).isel({d: 0}, drop=True)
    except GuideTimeError as err:
        msg = str(err)
        raise GuideTimeError(
            f"the LST's date is a scalar '{d}' coordinate ({str(lst[d].values)[:19]}), matched "
            f"with the guide's {g.sizes[d]} step(s) as a one-step dim: {msg}"
        ) from None


def _match_scalar_time(
    g: xr.DataArray, lst: xr.DataArray, lead: tuple[str, ...], skip: tuple[Hashable, ...],
    tolerance: Any, drop_fix: Callable[[str], str] | None = None,
) -> xr.DataArray:
    """A guide's date kept as a scalar coordinate (``guide.sel(time=t)``), named like the LST's
    time dim or scalar time coordinate, matched as a one-step dim is, with the tolerance, then
    dropped (one image for every step): it was never looked at, and an NDVI of 2019-01-01
    sharpened July 2020 without a word while the same guide as a one-step dim was refused.
    ``drop_fix(c)``: the code that drops the date ``c`` from the guide as passed
    (:func:`_drop_date_fix`; default ``guide = guide.drop_vars(c)``, one DataArray or Dataset)."""
    for c in [str(c) for c, v in g.coords.items()
              if v.ndim == 0 and c not in g.dims and c not in skip]:
        if not _is_time_like(g, c):
            continue
        if c in lead:
            against = lst
        elif c in lst.coords and lst[c].ndim == 0:
            against = lst.expand_dims(c)
        else:
            continue  # the LST has no such label to match it with
        try:
            match_steps(g.expand_dims(c), against, c, tolerance)
        except GuideTimeError as err:
            msg = str(err)
            fix = f"`{drop_fix(c)}`" if drop_fix else f"`guide = guide.drop_vars({c!r})`"
            squeeze = f"`guide.squeeze({c!r}, drop=True)`"
            raise GuideTimeError(
                f"the guide's date is a scalar '{c}' coordinate ({str(g[c].values)[:19]}), matched "
                "with the LST's as a one-step dim: "
                + (msg.replace(squeeze, fix) if squeeze in msg else
                   f"{msg} For a guide meant to be static (one image for every date): {fix}.")
            ) from None
        g = g.drop_vars(c)
    return g


def _steps_differ(bands: Sequence[xr.DataArray], lead: Sequence[Hashable]) -> bool:
    """Whether a guide's bands have other labels along one of the LST's leading dims."""
    first = bands[0]
    for b in bands[1:]:
        for d in lead:
            if (d in first.dims) != (d in b.dims):
                continue  # a static band beside dated ones: broadcast, as before
            if d in first.dims and not (
                    d in first.coords and d in b.coords and b.sizes[d] == first.sizes[d]
                    and np.array_equal(np.asarray(b[d].values), np.asarray(first[d].values))):
                return True
    return False


def _match_band_lead(b: xr.DataArray, lst: xr.DataArray, lead: tuple[str, ...],
                     skip: tuple[Hashable, ...], tolerance: Any,
                     code: GuideCode | None = None) -> xr.DataArray:
    """One guide band's leading dims matched with the LST's (:func:`_match_lead`), a refusal
    naming the band (``code``: that band of the guide as passed, :class:`GuideCode`)."""
    label = (f" {str(b['guide_band'].item())!r}" if "guide_band" in b.coords
             and b["guide_band"].ndim == 0 else "")
    try:
        return _match_lead(b, lst, lead, (*skip, "guide_band"), tolerance, code=code)
    except GuideTimeError as err:
        raise GuideTimeError(
            f"guide band{label} (its steps matched with the LST's on their own, the bands "
            f"being on different dates): {err}") from None


def _drop_date_fix(guide: GuideLike, i: int, key: Hashable) -> Callable[[str], str]:
    """The code that drops a scalar date ``c`` from band ``i`` (label ``key``) of a guide as
    passed: ``guide.drop_vars`` of a list raised AttributeError (``list(guide)``: a tuple's
    items cannot be assigned). A dict or Dataset (upscale
    hands a Dataset on as a dict of its variables) gets a new dict: ``guide['ndvi'] = ...``
    would not drop a Dataset's date, which its variables share."""
    if isinstance(guide, (list, tuple)):  # upscale hands a tuple on as a list
        return lambda c: f"guide = list(guide); guide[{i}] = guide[{i}].drop_vars({c!r})"
    if isinstance(guide, Mapping):
        return lambda c: (f"guide = {{k: g.drop_vars({c!r}) if k == {key!r} else g "
                          "for k, g in guide.items()}")
    return lambda c: f"guide = guide.drop_vars({c!r})"


def _band_scalar_time(b: xr.DataArray, lst: xr.DataArray, lead: tuple[str, ...],
                      skip: tuple[Hashable, ...], tolerance: Any,
                      drop_fix: Callable[[str], str] | None = None) -> xr.DataArray:
    """One band's own date (a scalar 'time': ``ndvi.sel(time=t)`` beside ``albedo.sel(time=u)``)
    matched with the LST's and dropped, as one guide's is (:func:`_match_scalar_time`), a
    refusal naming the band: concatenated, the bands' dates became labels along the bands that
    no check read (an NDVI 20 days off, refused alone, was used beside a same-day band), and a
    static band beside two dated ones failed in xarray's concat."""
    label = (f" {str(b['guide_band'].item())!r}" if "guide_band" in b.coords
             and b["guide_band"].ndim == 0 else "")
    try:
        return _match_scalar_time(b, lst, lead, (*skip, "guide_band"), tolerance, drop_fix)
    except GuideTimeError as err:
        raise GuideTimeError(f"guide band{label}: {err}") from None


def _has_crs(da: xr.DataArray) -> bool:
    try:
        return da.rio.crs is not None
    except Exception:  # no spatial dims rioxarray recognises
        return False


def _same_shape_guide(guide: xr.DataArray, lst: xr.DataArray, factor: int) -> xr.DataArray:
    """A guide without a CRS on the fine grid: exactly ``factor`` x the LST, pixel for pixel,
    put north-up along each axis on which the LST has coordinates too (the caller puts the LST
    north-up by them) and, when both have coordinates, checked to lie on the LST's grid
    ``factor`` times finer (as training checks its truth): its coordinates were ignored, so a
    south-up guide (ascending y) trained upside down and one 8 km away on the wrong ground. On
    an axis the LST has no coordinates for, nothing says the LST's order: the guide is kept as
    stored (flipping it alone trained a south-up pair stored alike upside down)."""
    from .grid import fine_grid, same_axis
    from .validate import _pixel_indices, image_order

    gy, gx = spatial_dims(guide)
    ly, lx = spatial_dims(lst)
    unordered = [g for g, d in ((gy, ly), (gx, lx)) if g in guide.coords and d not in lst.coords]
    guide = image_order(guide.drop_vars(unordered))
    want = (lst.sizes[ly] * factor, lst.sizes[lx] * factor)
    got = (guide.sizes[gy], guide.sizes[gx])
    if got != want:
        raise GridError(
            f"the guide is {got[0]} x {got[1]} pixels, not {factor} x the LST's "
            f"{lst.sizes[ly]} x {lst.sizes[lx]} ({want[0]} x {want[1]}); without a CRS it must "
            "cover the LST pixel for pixel (or write the CRS of both with rioxarray to align it)"
        )
    if all(d in c.coords for d, c in ((gy, guide), (gx, guide), (ly, lst), (lx, lst))):
        fy, fx, _ = fine_grid(image_order(lst), factor)
        y, x = np.asarray(guide[gy].values, float), np.asarray(guide[gx].values, float)
        if not (same_axis(fy, y, tol=0.01) and same_axis(fx, x, tol=0.01)):
            where = (
                f"the guide is not on the LST's grid {factor} times finer (its x from "
                f"{x[0]:.6g}, y from {y[0]:.6g}; the fine grid's from {fx[0]:.6g} and "
                f"{fy[0]:.6g}, {fx.size} x {fy.size} pixels)"
            )
            which = ("the guide has no" if _has_crs(lst) else "the LST has no"
                     if _has_crs(guide) else "neither the guide nor the LST has a")
            index = {
                name: [str(a), str(b)]
                for name, (a, b), da in (("guide", (gy, gx), guide), ("LST", (ly, lx), lst))
                if all(_pixel_indices(np.asarray(da[d].values)) for d in (a, b))
            }
            if index:
                # positions unknown: a CRS would place the indices as metres (1 m pixels)
                drops = " and ".join(
                    f"`{n.lower()} = {n.lower()}.drop_vars({dims})`" for n, dims in index.items()
                )
                raise GridError(
                    f"{where}: the {' and the '.join(index)}'s coordinates are pixel indices "
                    f"(0, 1, 2...), not positions, and {which} CRS, so nothing says where the "
                    "guide lies on the LST. To pair them pixel for pixel as stored (the guide "
                    f"covering the LST exactly), drop the indices: {drops}; or give both their "
                    "georeferencing (projected pixel-centre coordinates and the CRS, "
                    "`.rio.write_crs(...)`) to align the guide by coordinates."
                )
            half = 0.5 * min(abs(float(fy[1] - fy[0])) if fy.size > 1 else np.inf,
                             abs(float(fx[1] - fx[0])) if fx.size > 1 else np.inf)
            select = (
                f"`fy, fx, _ = xlstsr.grid.fine_grid(lst, {factor})`, then `guide = "
                f"guide.reindex({gy}=fy, {gx}=fx, method='nearest', tolerance={half:.6g})` "
                "(NaN where it does not cover the LST)"
            )
            if _has_crs(lst):
                fix = (
                    "Write the LST's CRS on it (`guide = guide.rio.write_crs(lst.rio.crs)`) to "
                    f"align it by coordinates, or select it onto that grid first: {select}."
                )
            elif _has_crs(guide):
                fix = (
                    "Write the guide's CRS on the LST (`lst = lst.rio.write_crs(guide.rio.crs)`) "
                    f"to align it by coordinates, or select it onto that grid first: {select}."
                )
            else:
                fix = (
                    "Write the CRS of the data on both (`lst = lst.rio.write_crs(crs)` and "
                    "`guide = guide.rio.write_crs(crs)`, e.g. crs='EPSG:32631' or "
                    "xlstsr.grid.MODIS_SINUSOIDAL) to align it by coordinates, or select it "
                    f"onto that grid first: {select}."
                )
            raise GridError(
                f"{where}, and {which} CRS, so it would be paired with the LST pixel for pixel "
                f"on the wrong ground. {fix}"
            )
    return guide.rename({gy: ly, gx: lx}).drop_vars([ly, lx], errors="ignore")


def _infinite_guide_error(reached: int, band: str, count: int | None = None) -> XlstsrError:
    """``reached``: output pixels of the part used that infinite values reach; ``count``: the
    band's infinite values (in memory), None for a dask guide (checked block by block as it
    is read: then ``reached`` is one block's infinite values)."""
    held = (f"infinite values ({reached} in one block read)" if count is None else
            f"{count} infinite value(s) ({reached} output pixel(s) of the part used reached "
            "by them)")
    return XlstsrError(
        f"the guide{band} holds {held} (an NDVI `(nir - red) / (nir + red)` where nir + red "
        "is 0, a fill written as inf): a guided method would take them as gaps without a "
        "word, as the LST's and a training guide's are refused. Make them NaN: "
        "`guide = guide.where(np.isfinite(guide))`."
    )


def _check_infinite_block(block: np.ndarray, reached: np.ndarray, band: str) -> np.ndarray:
    count = np.count_nonzero(reached > 0)
    if count:
        raise _infinite_guide_error(count, band)
    return block


def _check_infinite_read(block: np.ndarray, band: str) -> np.ndarray:
    count = np.count_nonzero(np.isinf(block))
    if count:
        raise _infinite_guide_error(count, band)
    return block


def _refuse_infinite_lazily(b: xr.DataArray, i: int, n: int) -> xr.DataArray:
    """A dask guide band refused where a block read holds +-inf (only the blocks the LST's
    footprint and steps need are read); an in-memory band as it is (:func:`_infinite_marks`
    look at the part used). Checked as read, not aligned with marks: that doubled the work of
    every dask guide for a value that is rare."""
    data = b.variable.data
    if not isinstance(data, dsa.Array) or not np.issubdtype(b.dtype, np.floating):
        return b
    label = (f" {str(b['guide_band'].item())!r}" if "guide_band" in b.coords
             and b["guide_band"].ndim == 0 else f" {i}" if n > 1 else "")
    band = f" band{label}" if label else ""
    return b.copy(data=data.map_blocks(_check_infinite_read, band, dtype=data.dtype))


#: the dim along which :func:`prepare_guide` carries each band's infinite-value marks
_INF_DIM = "_xlstsr_inf"


def _infinite_marks(b: xr.DataArray) -> xr.DataArray:
    """A decoded guide band's infinite values marked 1, others 0: aligned and matched with the
    LST's steps as the band is, the marks say whether an inf reaches the data used (footprint
    average and bilinear interpolation turned a finer guide's inf into NaN: a check after
    alignment missed it)."""
    return b.copy(data=np.isinf(b.variable.data).astype(np.float32))


def _with_marks(aligned: xr.DataArray, marks: xr.DataArray) -> xr.DataArray:
    """An aligned band and its aligned marks along :data:`_INF_DIM` (on the same grid: they
    are matched with the LST's steps together)."""
    marks = aligned.copy(data=marks.transpose(*aligned.dims).variable.data)
    return xr.concat([aligned, marks.astype(aligned.dtype)], dim=_INF_DIM)


def _infinite_marks_needed(bands: Sequence[xr.DataArray]) -> bool:
    """Whether an in-memory float band holds +-inf (a dask band is checked as its blocks are
    read: :func:`_refuse_infinite_lazily`)."""
    return any(np.issubdtype(b.dtype, np.floating) and not isinstance(b.variable.data, dsa.Array)
               and bool(np.isinf(b.values).any()) for b in bands)


def _refuse_infinite_guide(g: xr.DataArray, bands: Sequence[xr.DataArray]) -> xr.DataArray:
    """The guide ``g`` (aligned and matched, with :func:`_with_marks`' dim) without
    its marks; refused (lazily for dask, as its blocks are computed) where an infinite value
    reaches the data used: alignment and the methods' masks took it as a gap, silently, and
    dms's band scale (np.nanstd) became NaN with numpy's raw RuntimeWarning. An inf outside
    the LST's footprint or on a guide step no LST step uses is none of its business."""
    data, marks = g.isel({_INF_DIM: 0}, drop=True), g.isel({_INF_DIM: 1}, drop=True)
    n = g.sizes["guide_band"]
    out = []
    for i in range(n):
        d, m = data.isel(guide_band=[i]), marks.isel(guide_band=[i])
        c = d["guide_band"].values[0] if "guide_band" in d.coords else None
        label = f" {str(c)!r}" if c is not None else f" {i}" if n > 1 else ""
        band = f" band{label}" if label else ""
        if isinstance(d.variable.data, dsa.Array) or isinstance(m.variable.data, dsa.Array):
            dd = dsa.asarray(d.variable.data)
            mm = dsa.asarray(m.variable.data).rechunk(dd.chunks)
            out.append(d.copy(data=dsa.map_blocks(_check_infinite_block, dd, mm, band,
                                                  dtype=dd.dtype)))
        elif bool((np.asarray(m.values) > 0).any()):
            raise _infinite_guide_error(int(np.count_nonzero(m.values > 0)), band,
                                        int(np.count_nonzero(np.isinf(bands[i].values))))
        else:
            out.append(d)
    return xr.concat(out, dim="guide_band") if n > 1 else out[0]


#: the own pixel side, in fine pixels, of each guide :func:`prepare_guide` put on a fine grid
#: finer than it is (by the id of the array returned; an entry goes with its array)
_GUIDE_PIXELS: dict[int, float] = {}


def guide_pixel(gdata: Any) -> float:
    """The side of a prepared guide's own pixel in pixels of the fine grid it was put on
    (:func:`prepare_guide`, and the checked guides :func:`check_guide_values` and
    :func:`check_model_ndvi` return): above 1 for a guide coarser than the output, which
    :func:`xlstsr.grid.align_guide` interpolates onto it; 1.0 for any other guide or array.
    The scale correction reads the guide's detail from that pixel up only
    (:func:`xlstsr.kernels.correction.fit_variance_law`).

    Examples
    --------
    >>> import xlstsr
    >>> scene = xlstsr.datasets.sample_scene(n_times=1, size=32)
    >>> guide_pixel(prepare_guide(scene["ndvi_250m"], scene["lst_1km"], 4, ("time",)))
    1.0
    """
    return _GUIDE_PIXELS.get(id(gdata), 1.0)


def _noted_pixel(data: Any, pixel: float) -> Any:
    """``data`` with its own pixel side noted for :func:`guide_pixel` (nothing noted at 1)."""
    if pixel > 1.0:
        key = id(data)
        _GUIDE_PIXELS[key] = pixel
        weakref.finalize(data, _GUIDE_PIXELS.pop, key, None)  # before the id can be reused
    return data


def _own_pixel(band: xr.DataArray, lst: xr.DataArray, factor: int) -> float:
    """The side of ``band``'s pixel in pixels of ``lst``'s fine grid for ``factor``, where
    :func:`xlstsr.grid.align_guide` takes it as coarser than that grid (by its rule: per axis
    in the LST's CRS, the side of its area mapped there in another), else 1.0."""
    ft = fine_grid(lst, factor)[2]
    if crs_mismatch(band, lst) is None:
        gt = _transform(band)
        side = max(abs(gt.a) / abs(ft.a), abs(gt.e) / abs(ft.e))
        return side if side > 1.01 else 1.0
    side = pixel_side(band, lst) / float(np.sqrt(abs(ft.a * ft.e)))
    return side if side > 1.02 else 1.0


def prepare_guide(
    guide: GuideLike,
    lst: xr.DataArray,
    factor: int,
    lead: tuple[str, ...],
    *,
    time_tolerance: Any = None,
    require_crs: bool = True,
    require_detail: bool = True,
    gap_effect: str | None = None,
    averaged_to_lst: bool = False,
) -> Any:
    """Decode and align a guide onto the grid ``factor`` times finer than ``lst``.

    Returns float32 data ``(n, c, Y, X)`` when the guide varies along the LST's leading dims
    (``n`` their flattened size), ``(1, c, Y, X)`` for a guide shared by every time step. Guide
    steps are matched with the LST's by label (:func:`match_steps`, ``time_tolerance``); a time
    dim the LST lacks is refused (one of length 1 is dropped); other extra dims (a raster's
    ``band``) become guide channels. ``require_crs=False`` (training arrays): when either input
    has no CRS, the guide must be exactly ``factor`` times the LST's shape, pixel for pixel,
    instead of being aligned by coordinates: it is put north-up where the LST has coordinates
    too (kept as stored where it has none) and, when both have coordinates, must lie on the grid
    ``factor`` times finer (:class:`GridError` otherwise). ``require_detail`` refuses a guide whose every
    channel holds one value and warns of some such channels (:func:`_require_valid_guide`);
    :func:`guide_on_lst_grid` (statistics, which name a constant guide themselves) turns it off.
    ``gap_effect``: what the caller does with LST pixels the guide leaves NaN, for the warning
    of a guide that misses part of the LST's extent (:func:`xlstsr.grid.align_guide`).
    ``averaged_to_lst``: the caller averages the result back onto the LST's grid (passed to
    :func:`xlstsr.grid.align_guide`, which then does not advise against a guide on that grid).
    A guide coarser than the fine grid, interpolated onto it, has its own pixel side noted
    for :func:`guide_pixel` (its first band's: the channel the scale correction reads).
    Infinite guide values that reach the data used (over the LST, on the matched steps) are
    refused, as the LST's are (for dask, in the blocks read).

    Examples
    --------
    >>> import xlstsr
    >>> scene = xlstsr.datasets.sample_scene(n_times=2, size=32)
    >>> prepare_guide(scene["ndvi_250m"], scene["lst_1km"], 4, ("time",)).shape
    (1, 1, 32, 32)
    """
    _refuse_quality_bands(guide)
    raw = _guide_band_list(guide, lead)
    kept = [_fill_in_attrs(b) for b in raw]  # per band, before decoding drops the fill
    bands = [_refuse_infinite_lazily(decode_guide(b), i, len(raw)) for i, b in enumerate(raw)]
    ndvi = [_declared_ndvi(b) for b in bands]  # per band, before the bands lose their names
    by_coords = require_crs or (_has_crs(lst) and _has_crs(bands[0]))
    if by_coords:
        def put(b: xr.DataArray) -> xr.DataArray:
            return align_guide(b, lst, factor, gap_effect=gap_effect,
                               averaged_to_lst=averaged_to_lst)
    else:
        def put(b: xr.DataArray) -> xr.DataArray:
            return _same_shape_guide(b, lst, factor)
    aligned = [put(b) for b in bands]
    # an interpolated guide's detail below its own pixel is the interpolation's: the variance
    # law read it as the guide's and restored a fraction of the variance (pixel for pixel on
    # the fine grid, without a CRS: its own)
    pixel = _own_pixel(bands[0], lst, factor) if by_coords else 1.0
    # infinite values are looked for in the data used: their marks, aligned as the bands are
    # (quietly: the band's alignment said all there is to say), travel with the bands
    marked = _infinite_marks_needed(bands)
    if marked:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GuideAlignmentWarning)
            token = _COARSE_GUIDE_NOTES.set(None)
            try:
                aligned = [_with_marks(a, put(_infinite_marks(b)))
                           for a, b in zip(aligned, bands)]
            finally:
                _COARSE_GUIDE_NOTES.reset(token)
    ydim, xdim = spatial_dims(lst)
    # a band's date dropped as the guide was passed (a list's band by its index)
    keys = list(guide) if isinstance(guide, Mapping) else list(range(len(aligned)))
    fixes = [_drop_date_fix(guide, i, keys[i] if i < len(keys) else i)
             for i in range(len(aligned))]
    if len(aligned) > 1:
        aligned = [_band_scalar_time(b, lst, lead, (ydim, xdim, _INF_DIM), time_tolerance,
                                     fixes[i])
                   for i, b in enumerate(aligned)]
    if len(aligned) > 1 and _steps_differ(aligned, lead):
        # bands of a list or dict on different dates (a 16-day NDVI, an 8-day albedo): each is
        # matched with the LST's steps on its own, with the tolerance, then stacked (they were
        # refused with "select the same 'time' labels in every band", which they share none of)
        aligned = [_match_band_lead(b, lst, lead, (ydim, xdim, _INF_DIM), time_tolerance,
                                    _guide_code(guide, aligned, lead, i))
                   for i, b in enumerate(aligned)]
    g = xr.concat(aligned, dim="guide_band") if len(aligned) > 1 else aligned[0].expand_dims("guide_band")
    g = _match_lead(g, lst, lead, (ydim, xdim, "guide_band", _INF_DIM), time_tolerance,
                    fixes[0] if len(aligned) == 1 else None, _guide_code(guide, aligned, lead),
                    given=guide if isinstance(guide, (xr.DataArray, xr.Dataset)) else None)
    if marked:
        g = _refuse_infinite_guide(g, bands)
    extra = [d for d in g.dims if d not in (ydim, xdim, "guide_band") and d not in lead]
    if extra and lead and not any(d in g.dims for d in lead):
        _warn_bands_like_steps(guide, g, lst, extra, lead)
    if extra:  # e.g. a 'band' dim of a multi-band raster: more guide channels
        per = int(np.prod([g.sizes[d] for d in extra]))
        ndvi = [c for b in bands for c in _channel_ndvi(b, extra, per)]
        kept = list(np.repeat(kept, int(np.prod([g.sizes[d] for d in extra]))))
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
    else:
        data = g.transpose(chdim, ydim, xdim).variable.data[None]
    return _noted_pixel(_require_valid_guide(data.astype(np.float32), ndvi,
                                             constant=require_detail,
                                             names=_channel_names(g, chdim), fills=kept), pixel)


def band_reorder_code(guide: Any, lead: Sequence[Hashable]) -> str | None:
    """The code that puts a guide's bands, as passed, in another order (a template of
    ``{order}``, the channels' positions, and ``{keyed}``, a dict's entries), or None where
    its form does not say one: a DataArray's own band dim named (``guide.isel(band=...)`` of
    a guide whose bands are along 'channel' raised ValueError). ``lead``: the LST's leading
    dims, which are steps, not bands; for :func:`check_guide_values`'s ``expected["reorder"]``.

    Examples
    --------
    >>> g = xr.DataArray(np.zeros((2, 4, 4)), dims=("channel", "y", "x"))
    >>> band_reorder_code(g, ("time",))
    'guide = guide.isel(channel=[{order}])'
    """
    if isinstance(guide, (list, tuple)):
        return "guide = [guide[i] for i in [{order}]]"
    if isinstance(guide, Mapping):  # a Dataset too
        fields = (raster_fields(guide) or guide) if isinstance(guide, xr.Dataset) else guide
        own = {k: band_reorder_code(v, lead) for k, v in fields.items()
               if isinstance(v, xr.DataArray)}
        if len(fields) == 1 and None not in own.values() and own:
            # one band of several channels (`xr.open_dataset(..., engine="rasterio")`'s
            # band_data): its own bands reordered (`bands[1]` of its one value failed)
            (k, code), = own.items()
            sel = f"guide[{k!r}]".replace("{", "{{").replace("}", "}}")
            return code.replace("guide = guide.", f"guide = {sel}.", 1)
        if any(c is not None for c in own.values()):
            return None  # bands of several channels beside others: no one code reorders them
        return "bands = list(guide.values()); guide = {{{keyed}}}"
    if not isinstance(guide, xr.DataArray):
        return None
    ydim, xdim = spatial_dims(guide)
    # a one-step dim (a guide's single date against a 2-D LST) is not a band dim
    extra = [d for d in guide.dims if d not in (ydim, xdim) and d not in lead
             and guide.sizes[d] > 1]
    if len(extra) != 1:
        return None
    if isinstance(extra[0], str) and extra[0].isidentifier():
        return f"guide = guide.isel({extra[0]}=[{{order}}])"
    # braces doubled: the template is filled with str.format ('spectral band' was a KeyError)
    return f"guide = guide.isel({{{{{extra[0]!r}: [{{order}}]}}}})"


def _channel_names(g: xr.DataArray, chdim: Hashable) -> list[str]:
    """Each guide channel's label (a dict key, a band number; '' when it has none), for
    messages."""
    if chdim not in g.coords:
        return [""] * g.sizes[chdim]
    return [repr(v) if not isinstance(v, tuple) else
            repr(tuple(x for x in v if x is not None and not (isinstance(x, float) and np.isnan(x))))
            for v in g[chdim].values.tolist()]


#: the coordinate :func:`xlstsr.io.open_cog` keeps a GeoTIFF's band descriptions in, along its
#: bands (``xlstsr.io.cog.DESCRIPTION_COORD``)
_DESCRIPTION_COORD = "band_description"

#: a date in a label (a band per date: 'NDVI_2020-07-01', 'NDVI_2020_07_01', '20200701')
_DATED = re.compile(r"(?<![0-9])\d{4}[-_]?\d{2}[-_]?\d{2}(?![0-9])")


def _described_bands(guide: xr.DataArray, d: Hashable) -> list[str] | None:
    """The text descriptions of a guide's bands along ``d`` (a GeoTIFF's own, which
    :func:`xlstsr.io.open_cog` keeps as the ``band_description`` coordinate), or None."""
    c = guide.coords.get(_DESCRIPTION_COORD)
    if c is None or c.dims != (d,) or c.dtype.kind not in "OUS":
        return None
    texts = [str(v).strip() for v in c.values.tolist()]
    return texts if all(texts) else None


def _file_descriptions(guide: xr.DataArray, d: Hashable, whole: bool = True
                       ) -> list[str] | None:
    """The descriptions of a guide's bands along ``d`` from rioxarray's tuple ``long_name``
    (a GeoTIFF read with ``rioxarray.open_rasterio``): the file's, which ``sel``/``isel`` keep
    whole, so placed by the ``band`` numbers; None when they cannot be placed, when the bands
    are not all the file's bands (a subset, or a stack of several files' bands), or
    (``whole``) when a band has none (rioxarray's None or an empty text)."""
    names = guide.attrs.get("long_name")
    if not isinstance(names, (tuple, list)) or not names:
        return None
    where = _file_band_positions(guide, len(names))
    # only a whole file's bands (in any order): xr.concat keeps the first array's tuple, so a
    # stack of two files' bands ([2, 1]: file A's 2, file B's 1) was labelled by A's alone
    # (review 49f/4); a subset's numbers cannot tell one file's from such a stack
    if where is None or where[0] != d or sorted(where[1]) != list(range(len(names))):
        return None
    # rioxarray gives an undescribed band as None (str(None) was the label 'None')
    texts = ["" if names[i] is None else str(names[i]).strip() for i in where[1]]
    return texts if all(texts) or not whole else None


def _dated_descriptions(texts: Sequence[str]) -> list[np.datetime64] | None:
    """The dates of band descriptions that each hold one date, all different, as
    :func:`xlstsr.io.open_cog` and ``--guide`` read them as time steps; None otherwise."""
    from .io.cog import _description_dates

    return _description_dates(list(texts)) if len(texts) > 1 else None


def _dated_bands_warning(d: Hashable, lst: xr.DataArray, t: Hashable,
                         dates: list[np.datetime64]) -> str:
    """The warning for a guide whose bands are described by dates: what happens, and the two
    ways to make them the guide's steps, each of which runs as written: where every LST step
    is on one band's day, the rename takes the LST's own labels (the steps' overpass times: the
    bands' midnights matched none) and open_cog's steps are reached with a day's tolerance."""
    days = [str(np.datetime_as_string(v, unit="s")).replace("T00:00:00", "") for v in dates]
    shown = f"{days[0]} ... {days[-1]}" if len(days) > 3 else ", ".join(days)
    labels = lst[t].values if t in lst.coords else None
    by_day: list[str] | None = None
    if labels is not None and labels.dtype.kind == "M":
        own = np.asarray(dates, dtype="datetime64[ns]")
        on_day = {np.datetime64(v, "D"): v for v in labels.astype("datetime64[ns]")}
        if len(on_day) == len(labels) and not np.isin(labels, own).all() and sorted(
                on_day) == sorted(np.datetime64(v, "D") for v in own) and all(
                on_day[np.datetime64(v, "D")] >= v for v in own):
            by_day = [str(np.datetime_as_string(on_day[np.datetime64(v, "D")], unit="s"))
                      for v in own]
    tolerance = "" if by_day is None else (
        "; then pass `guide_time_tolerance='1D'`: the LST's steps are later on the bands' days")
    coord = f"{t}=np.array({by_day or days}, dtype='datetime64[ns]')"
    return (
        f"the guide's {len(days)} {d!r} bands are described by dates ({shown}): they are one "
        f"guide per date (time steps), but are used as {len(days)} channels of every one of "
        f"the LST's {lst.sizes[t] if t in lst.dims else len(days)} steps. Read the file with "
        "`guide = xlstsr.io.open_cog(path)` (path: the GeoTIFF's), which makes date-described "
        f"bands time steps (as --guide does on the command line{tolerance}), or give them the "
        f"LST's time dim: `guide = guide.rename({{{str(d)!r}: {str(t)!r}}})"
        f".assign_coords({coord})` (`import numpy as np`"
        f"{'; each band takes the LST step of its day' if by_day else ''}). If they are "
        "channels, give each band a long_name without a date to silence this."
    )


def _warn_bands_like_steps(guide: GuideLike, g: xr.DataArray, lst: xr.DataArray,
                           extra: list[Hashable], lead: Sequence[Hashable]) -> None:
    """Warn when a guide's bands are as many as the LST's steps and labelled alike (one NDVI
    GeoTIFF band per date, the CLI's own convention for LST GeoTIFFs): they become channels of
    every step, so each date was sharpened with every date's NDVI (2.3 K off), silently."""
    n_steps = int(np.prod([lst.sizes[d] for d in lead]))
    n_bands = int(np.prod([g.sizes[d] for d in extra]))
    if n_steps < 2 or n_bands != n_steps or not isinstance(guide, xr.DataArray):
        return
    names = guide.attrs.get("long_name", guide.attrs.get("description"))
    d = extra[0]
    described = _described_bands(guide, d)
    if described is None and len(extra) == 1:
        described = _file_descriptions(guide, d)
    dated = _dated_descriptions(described) if described is not None else None
    if dated is not None:
        # one date per band (a per-date NDVI GeoTIFF read with rioxarray: its tuple long_name
        # is the dates), as --guide reads them: steps, not channels (tsharp ran 13.9 K off)
        warn(_dated_bands_warning(d, lst, lead[0], dated), UserWarning)
        return
    if isinstance(names, (tuple, list)) and len(set(map(str, names))) > 1:
        return  # labelled channels (NDVI, albedo...)
    if described is not None and len(set(described)) > 1 and not all(
            _DATED.search(v) for v in described):
        return  # the file's own band descriptions label its channels (NDVI, albedo...)
    labels = guide[d].values if d in guide.coords else None
    if labels is not None and labels.dtype.kind in "OUS" and any(
            re.search(r"[A-Za-z]", str(v)) and not re.match(r"\d{4}-\d{2}-\d{2}", str(v))
            for v in labels):
        return  # channels named by their labels (['red', 'nir']), not numbered or dated bands
    warn(
        f"the guide's {n_bands} {d!r} bands, labelled alike, are used as {n_bands} channels of "
        f"every time step, and the LST has {n_steps} steps: if the bands are the steps' "
        f"guides (one NDVI per date), give them the LST's time dim (`guide = guide.rename("
        f"{d}={lead[0]!r}).assign_coords({lead[0]}=lst.{lead[0]})`); if they are channels, give "
        "each band its own long_name to silence this.",
        UserWarning,
    )


#: values per image, channel and block that a dask guide's fill check samples
GUIDE_SAMPLE = 4096


def _empty_guide_error(c: int) -> AllNaNError:
    return AllNaNError(
        f"guide channel {c} holds no valid value over the LST (all NaN or infinite after "
        "decoding and alignment): check its fill value / scale_factor and that it covers "
        "the LST's area and dates, or use a method without a guide (method='bicubic' or "
        "'sisr')."
    )


def _constant_guide_error(c: int, value: float, count: int, steps: int) -> UndeclaredFillError:
    where = (f"one value on each step's valid pixels ({value:.6g} on the first; {count} "
             "pixels in all)" if steps > 1 else f"one value ({value:.6g}) on all its {count} "
             "valid pixels")
    return UndeclaredFillError(
        f"guide channel {c} holds {where}: it has "
        "no spatial detail, so a guided method would return an unguided field as if it had "
        "been guided. An image read as all fill (e.g. an NDVI tile of only its fill 0, with its "
        "nodata undeclared) or an NDVI cast to integers (`ndvi.astype(int)` is 0 nearly "
        "everywhere) does this: read the band with its fill declared (`rioxarray.open_rasterio"
        "(path, mask_and_scale=True)`) and keep it as floats, give the guide of the LST's area "
        "and dates, or use a method without a guide (method='bicubic' or 'sisr')."
    )


def _flat_guide_channels(flat: Sequence[tuple[int, float, int]], n_channels: int, steps: int,
                         names: Sequence[str] | None = None) -> None:
    """Act on the channels ``flat`` found of one value (``(c, value, count)`` each): refuse the
    guide when every channel is (it guides nothing), else warn naming them. A constant band next
    to a real one (a water mask 0 over an inland window, a flat DEM, one land-cover class) adds
    nothing and costs nothing: DMS and TsHARP regress on the others, as they did before."""
    if not flat:
        return
    if len(flat) == n_channels:
        raise _constant_guide_error(*flat[0], steps)
    which = ", ".join(
        f"{c} ({f'{names[c]}, ' if names and c < len(names) and names[c] else ''}always {v:.6g})"
        for c, v, _ in flat)
    one = len(flat) == 1
    warn(
        f"guide channel{'' if one else 's'} {which} hold{'s' if one else ''} one value over all "
        f"{'its' if one else 'their'} valid pixels: no spatial detail, so the other "
        f"{n_channels - len(flat)} channel(s) guide alone. If such a band should vary (a fill "
        "read as data, a band cast to integers), read it with its fill declared and keep it as "
        "floats; otherwise drop it from the guide to silence this.",
        UserWarning,
    )


def _refuse_constant_guide(data: np.ndarray, names: Sequence[str] | None = None) -> None:
    """Refuse an in-memory guide ``(n, c, Y, X)`` whose every channel holds one value over each
    step's valid pixels (a partly constant one, e.g. a window of water, is fine); warn when
    some channels but not all do (:func:`_flat_guide_channels`)."""
    flat = []
    for c in range(data.shape[1]):
        count, value, same = 0, np.nan, True
        for k in range(data.shape[0]):
            v = np.asarray(data[k, c])
            ok = np.isfinite(v)
            n = int(ok.sum())
            if n == 0:
                continue
            lo = float(np.min(v, where=ok, initial=np.inf))
            if lo != float(np.max(v, where=ok, initial=-np.inf)):
                same = False
                break
            count, value = count + n, lo if np.isnan(value) else value
        if same and count > 1:
            flat.append((c, value, count))
    _flat_guide_channels(flat, data.shape[1], data.shape[0], names)


def _refuse_guide_fill(c: int, values: np.ndarray, sampled: bool = False,
                       ndvi: str = "") -> None:
    # a band declared as NDVI (``ndvi``): a product's fill found by its valid range alone (MOD13's
    # -3000 under NDVI x 10000) is left to _refuse_ndvi_range, which names the scale beside it
    fill = suspect_guide_fill(values, products=not ndvi)
    if fill is None and not sampled and not (ndvi and _beyond_ndvi(values)):
        # (an NDVI stored x 10000 is told its scale and fill together by _refuse_ndvi_range;
        # its MOD13 -3000 rows were told as a border alone)
        _refuse_border_fill(c, values)
    if fill is not None:
        v, share = fill
        where = (f"on {share:.1%} of its valid pixels" if share >= 0.001 else
                 "on a few pixels" if sampled else
                 f"on {int(np.count_nonzero(np.asarray(values) == v))} pixel(s)")
        raise UndeclaredFillError(
            f"guide channel {c} holds {v:.6g} {where}, far outside "
            "the other values: an undeclared fill value (e.g. MOD13's NDVI fill -3000, or "
            "-9999, 255). Declare it on the guide (`guide.rio.write_nodata("
            f"{v:.6g})` or `guide.attrs['_FillValue'] = {v:.6g}`) or mask it "
            f"(`guide.where(guide != {v:.6g})`)."
        )


#: a channel with at most this many distinct values is a class map (land cover, a water mask),
#: whose class may genuinely fill edge rows: :func:`_refuse_border_fill` leaves it alone
BORDER_CLASS_VALUES = 64

#: a border value held by at least this share of the guide's other valid pixels is its data
#: (sea at a clipped 0 of a vegetation cover), warned of, not refused as a warp's fill
BORDER_SHARED_SHARE = 0.005


def _refuse_border_fill(c: int, values: np.ndarray) -> None:
    """Refuse guide channel ``c`` (``values``: its images, ``(n, Y, X)`` or ``(Y, X)``, on the
    fine grid) where an image holds a constant band along its edge
    (:func:`xlstsr.kernels.coregister.constant_border`: one exact value on 2 or more whole edge
    rows / columns), as a warp without a nodata value leaves around a scene. A constant block
    at a corner alone is not judged here (a window of water set to one value is data, and a
    dask guide, not checked, must give what the same guide in memory gives). A 0 border on 4 % of an NDVI hides among genuine NDVI near 0, so
    :func:`~xlstsr.validate.suspect_guide_fill` does not see it; read as data, DISR's output
    moved by up to 3.2 K away from the border (the guide's offset check already leaves it out).
    Class maps (at most :data:`BORDER_CLASS_VALUES` distinct values: a land-cover class or a
    water mask may fill an edge) are not judged. A value held by at least
    :data:`BORDER_SHARED_SHARE` of the other valid pixels, or at or beyond the bound of their
    range where some pixel inside holds it too (sea rows of a vegetation cover clipped to
    [0, 1] with bare ground inland), is genuine data and warned of only (a DEM's 0 m coast
    held nowhere inside is refused as a warp's 0 is: values cannot tell them apart); where the inside holds it too, the advice masks the border alone
    (:func:`mask_edge_value`). A dask guide is judged by :func:`_refuse_lazy_border_fill`."""
    imgs = np.asarray(values)
    imgs = imgs.reshape(-1, *imgs.shape[-2:])
    for img in imgs:
        lines_only = img.size + 1  # no corner block is that large
        found = constant_border(img, min_block=lines_only)  # block 1 first: cheaper
        if found is None:
            continue
        # a field resampled by nearest neighbour is made of squares: its lines are counted
        # in them
        found = constant_border(img, min_block=lines_only, block=nearest_block_size(img))
        if found is None:
            continue
        ok = np.isfinite(img)
        if np.unique(img[ok]).size <= BORDER_CLASS_VALUES:
            return
        v = _fill_text(found.value)
        share = float(found.mask[ok].mean())
        rest = img[ok & ~found.mask]
        held = int(np.count_nonzero(rest == found.value))
        # genuine data along an edge (sea rows of a vegetation cover clipped to [0, 1], of a
        # DEM at 0 m, an impervious share): the value is common inside too, or a bound of the
        # guide's range (nothing inside beyond it); a warp's 0 hides inside an NDVI's range
        # (a bound held by no pixel inside is not enough: a warp's 0 around an NDVI of
        # vegetation, all above 0, was let through, 9.7 K off; review 52h/1)
        genuine = rest.size and held and (held >= BORDER_SHARED_SHARE * rest.size
                                          or found.value <= rest.min()
                                          or found.value >= rest.max())
        # where the inside holds the value too, only the border is masked (its genuine 0s kept)
        mask = (f"`guide = xlstsr.guide.mask_edge_value(guide, {v})` (its pieces touching "
                f"the edge; `guide.where(guide != {v})` masks the {held} inside too)" if held
                else f"`guide = guide.where(guide != {v})`")
        if genuine:
            warn(f"guide channel {c} holds {v} on {found.where} (about {share:.1%} of its "
                 f"valid pixels), a value {'common' if held else 'at the range'} of the rest "
                 "of the guide too: used as data (sea or bare ground at a clipped bound, 0 m). "
                 "If it is a warp's undeclared fill instead (gdalwarp without -dstnodata), "
                 f"mask it: {mask}.", UserWarning)
            return
        raise UndeclaredFillError(
            f"guide channel {c} holds {v} on {found.where} (about {share:.1%} of its valid "
            "pixels with those next to them): a constant band along its edge, as a warp "
            "without a nodata value leaves around a scene (gdalwarp without -dstnodata), an "
            "undeclared fill. Read as data it is used as guide detail (DISR's output moved by "
            f"up to 3.2 K away from a 0 border on 4 % of an NDVI). Mask it ({mask}), or "
            f"declare it where the file is made (`gdalwarp -dstnodata {v}`, then read with "
            f"`rioxarray.open_rasterio(path, masked=True)`; on the command line `--guide-nodata "
            f"{v}`). If it is genuine data (sea at 0 m along a DEM's edge), mask it all the "
            "same: those pixels then get the method's unguided fallback."
        )


def mask_edge_value(guide: xr.DataArray, value: float) -> xr.DataArray:
    """``guide`` with ``value`` masked (NaN) in the pieces of it that touch an image's edge,
    as a warp without a nodata value leaves them, and kept elsewhere (the genuine 0s of a
    clipped vegetation cover inland, which ``guide.where(guide != 0)`` masked too).

    Parameters
    ----------
    guide : xarray.DataArray
        A guide of any leading dims; each 2-D image over its spatial dims is masked on its own.
    value : float
        The value of the border.

    Returns
    -------
    xarray.DataArray

    Examples
    --------
    >>> g = xr.DataArray(np.arange(1.0, 37.0).reshape(6, 6), dims=("y", "x"))
    >>> g[:2] = 0.0
    >>> g[4, 3] = 0.0
    >>> m = mask_edge_value(g, 0)
    >>> int(m.isnull().sum()), float(m[4, 3])
    (12, 0.0)
    """
    from scipy import ndimage

    ydim, xdim = spatial_dims(guide)

    def edge_pieces(img: np.ndarray) -> np.ndarray:
        lab, _ = ndimage.label(img == value, structure=np.ones((3, 3), dtype=bool))
        edge = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
        return np.isin(lab, edge[edge > 0])

    border = xr.apply_ufunc(edge_pieces, guide, input_core_dims=[[ydim, xdim]],
                            output_core_dims=[[ydim, xdim]], vectorize=True,
                            dask="parallelized", output_dtypes=[bool],
                            dask_gufunc_kwargs={"allow_rechunk": True})
    return guide.where(~border)


#: an NDVI channel is refused when more than NDVI_MAX_OUTSIDE of its valid values lie beyond
#: +-NDVI_LIMIT (decoded MODIS NDVI: 0 of the 55 MODIS/ASTER pairs' pixels beyond +-1)
NDVI_LIMIT = 1.05
NDVI_MAX_OUTSIDE = 0.01


def _beyond_ndvi(values: np.ndarray) -> bool:
    """Whether more than :data:`NDVI_MAX_OUTSIDE` of ``values``' valid pixels lie beyond
    +-:data:`NDVI_LIMIT` (an NDVI channel :func:`_refuse_ndvi_range` refuses)."""
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    return bool(ok.any()) and float((np.abs(v[ok]) > NDVI_LIMIT).mean()) > NDVI_MAX_OUTSIDE


def _declared_ndvi(band: xr.DataArray) -> str:
    """What declares a guide band as NDVI (its band label, name, long_name or standard_name
    holds 'ndvi'), or '' when nothing does (a reflectance or a generic band may exceed 1).
    One band selected from a multi-band raster (``g.sel(band=1)``) is declared by its own
    description: rioxarray's tuple long_name (placed by the ``band`` number) or the
    ``band_description`` coordinate; read as a whole, the tuple declared nothing, so an
    NDVI x 10000 described 'NDVI' passed as a band of ('NDVI', 'EVI')."""
    if "guide_band" in band.coords and band["guide_band"].ndim == 0:
        said = [("band label", band["guide_band"].item())]
    else:
        said = [("name", band.name), *((k, band.attrs.get(k)) for k in ("long_name", "standard_name"))]
        said += [("band description", t) for t in _own_description(band)]
    for what, text in said:
        if isinstance(text, str) and ("ndvi" in text.lower() or _says_ndvi(text)):
            return f"its {what} {text!r}"
    return ""


def _own_description(band: xr.DataArray) -> list[str]:
    """The description of one band selected from a multi-band raster (no band dim left): its
    scalar ``band_description`` coordinate, or the entry of rioxarray's tuple long_name its
    ``band`` number (from 1) picks; empty when there is none."""
    out = []
    c = band.coords.get(_DESCRIPTION_COORD)
    if c is not None and c.ndim == 0 and isinstance(c.item(), str):
        out.append(c.item())
    names = band.attrs.get("long_name")
    if isinstance(names, (tuple, list)) and names:
        where = _file_band_positions(band, len(names))
        if where is not None and where[0] is None and names[where[1][0]] is not None:
            out.append(str(names[where[1][0]]))
    return out


def _channel_ndvi(band: xr.DataArray, dims: Sequence[Hashable], n: int) -> list[str]:
    """The NDVI declaration of each of the ``n`` channels a guide band's extra ``dims`` make
    (a multi-band raster's ``band``): the band's own (:func:`_declared_ndvi`) or, along one
    dim, each channel's description or text label (:func:`_band_texts`), so band 1 of a file
    described ('NDVI', 'EVI') is range-checked as the same band alone is."""
    whole = _declared_ndvi(band)
    texts = None
    if len(dims) == 1 and dims[0] in band.dims:
        d = dims[0]
        texts = _described_bands(band, d)
        texts = _file_descriptions(band, d, whole=False) if texts is None else texts
        texts = _band_texts(band, d) if texts is None else texts
    if whole or texts is None or len(texts) != n:
        return [whole] * n
    return [f"its band description {t!r}" if _says_ndvi(t) else "" for t in texts]


def _fill_in_attrs(band: xr.DataArray) -> str | None:
    """The fill a guide band declares in its attrs (``_FillValue``, ``missing_value``,
    ``nodata``), as text, or None: xarray keeps attrs through arithmetic, so a band multiplied
    by its scale keeps the stored fill declared while its values are scaled (MOD13's -3000
    becomes NDVI -0.3, used as data)."""
    for key in ("_FillValue", "missing_value", "nodata"):
        v = band.attrs.get(key)
        if v is not None and np.size(v) == 1:
            try:
                f = float(np.ravel(v)[0])
            except (TypeError, ValueError):
                continue
            if np.isfinite(f):  # a NaN fill stays NaN, scaled or not
                return _fill_text(f)
    return None


def _stored_ndvi_fill(v: np.ndarray, scale: float | None) -> tuple[str, int] | None:
    """The fill value of an NDVI stored scaled (``v``: its finite values; ``scale``: the one
    that makes them NDVI, if known), as (text, count), or None: a usual product fill
    (:func:`~xlstsr.validate._sentinel_fill`: MOD13's -3000 at the edge of the values or apart
    from them, water reaching below -0.3) or, ``scale`` applied, its smallest or largest value
    repeated on at least :data:`FILL_MIN_PIXELS` pixels (or on all), no NDVI while the others
    are (a constant water NDVI at the low end is data)."""
    found = _sentinel_fill(v)
    if found is not None:
        return _fill_text(found[0]), found[1]
    for c in (float(v.min()), float(v.max())):
        count = int(np.count_nonzero(v == c))
        if count < min(FILL_MIN_PIXELS, v.size):
            continue
        rest = v[v != c]
        if (scale is not None and rest.size and abs(c * scale) > NDVI_LIMIT
                and float(np.abs(rest * scale).max()) <= NDVI_LIMIT):
            return _fill_text(c), count
    return None


def _refuse_ndvi_range(c: int, declared: str, values: Any, kept_fill: str | None = None) -> None:
    """Refuse an NDVI channel whose valid values go beyond [-1, 1] (scaled or another band).
    ``kept_fill``: the fill the band declares in its attrs (:func:`_fill_in_attrs`), masked
    already: the scale is then to be declared beside it, not applied by hand."""
    v = np.asarray(values, np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return
    share = float((np.abs(v) > NDVI_LIMIT).mean())
    if share <= NDVI_MAX_OUTSIDE:
        return
    top = float(np.percentile(np.abs(v), 99))
    outside = np.unique(v[np.abs(v) > NDVI_LIMIT])
    # one value repeated, the rest an NDVI: a fill; so is a value no scale gives (NetCDF's
    # default fill 9.97e36 over most of the field was "NDVI scaled by about 9.97e+36")
    if outside.size == 1 and (share < 0.5 or abs(float(outside[0])) >= NEVER_DATA):
        f = _fill_text(float(outside[0]))
        rest = ("" if share == 1.0 else ", its other values within [-1, 1]")
        raise UndeclaredFillError(
            f"guide channel {c} is declared as NDVI ({declared}) and holds {f} on {share:.1%}"
            f" of its valid pixels{rest}: an undeclared fill value. "
            f"Declare it on the guide (`guide.rio.write_nodata({f})` or "
            f"`guide.attrs['_FillValue'] = {f}`) or mask it (`guide.where(guide != {f})`)."
        )
    scale, how = ((0.01, "NDVI in percent") if 10 < top <= 100 else
                  (0.0001, "scaled integers (MODIS stores NDVI x 10000)")
                  if 1000 < top <= 10000 else (None, f"NDVI scaled by about {top:.3g}"))
    fill = _stored_ndvi_fill(v, scale)
    if fill is not None:
        # scaled, the fill becomes an NDVI (MOD13's -3000: -0.3, water) used as data: the advice
        # declares or masks it first, so that following it leaves no fill in the guide
        f, count = fill
        head = (f"{how}, holding {f} on {count} of {v.size} pixels apart from their other values: "
                "a fill value (MOD13's NDVI fill is -3000), which scaled alone would become an "
                "NDVI" + ("" if scale is None else f" ({float(f) * scale:.3g})")
                + " used as data. ")
        if scale is None:
            cause = (head + f"Mask it first, `guide.where(guide != {f})`, then divide the "
                     "guide back to NDVI (MODIS NDVI digital numbers take scale_factor 0.0001)")
        else:
            cause = (head + "Declare the fill with the scale, `guide.attrs.update(_FillValue="
                     f"{f}, scale_factor={scale:g})` (`--guide-nodata {f} --guide-scale "
                     f"{scale:g}` on the command line), or mask it first: "
                     f"`guide.where(guide != {f}) * {scale:g}`")
    elif kept_fill is not None and scale is not None:
        # multiplied, the values are NDVI and the attrs still declare the stored fill: the
        # fill pixels (masked now) become NDVI data (-3000 * 0.0001 = -0.3)
        cause = (f"{how}, with its fill {kept_fill} declared in attrs, which xarray keeps "
                 f"through arithmetic: multiplied by hand, the fill would become an NDVI "
                 f"({float(kept_fill) * scale:.3g}) used as data. Declare the scale beside the "
                 f"fill instead: `guide.attrs['scale_factor'] = {scale:g}` (`--guide-scale "
                 f"{scale:g}` on the command line)")
    elif 10 < top <= 100:
        cause = "NDVI in percent? divide it by 100"
    elif 1000 < top <= 10000:
        cause = ("scaled integers (MODIS stores NDVI x 10000): multiply by 0.0001, or open the "
                 "file with `mask_and_scale=True` so that its scale_factor is applied")
    elif 100 < top <= 255 and v.min() >= 0 and np.array_equal(v, np.round(v)):
        # whole numbers within 0-255, no power of ten: coded as bytes, with an offset
        cause = "its values within 0-255 look like " + BYTE_NDVI_HINT
    else:
        cause = (f"NDVI scaled by about {top:.3g}? divide it back; MODIS NDVI digital numbers "
                 "take scale_factor 0.0001")
    raise GuideScaleError(
        f"guide channel {c} is declared as NDVI ({declared}) but {share:.0%} of its valid "
        f"values lie outside [-{NDVI_LIMIT:g}, {NDVI_LIMIT:g}] (range {v.min():.4g} to "
        f"{v.max():.4g}); NDVI lies in [-1, 1]: {cause}. "
        + ("Pass the NDVI the model was trained with (for MODIS, `(nir - red) / (nir + red)` of "
           "the surface reflectances)." if declared.startswith("the model") else
           "If the band is not NDVI, name it otherwise (e.g. `guide.rename('band')`, and drop an "
           "NDVI long_name).")
    )


#: width of :func:`_guide_sample`'s record: the count, the subsample, the block's min and max
GUIDE_SAMPLE_WIDTH = 1 + GUIDE_SAMPLE + 2


def _guide_sample(block: np.ndarray) -> np.ndarray:
    """(n, c, 1, 1, GUIDE_SAMPLE_WIDTH): per image and channel of a guide block, its count of
    finite pixels, an even 2-D subsample of its values (NaN-padded), and its smallest and
    largest finite values (so that a single fill pixel the subsample misses is still seen)."""
    b = np.asarray(block)
    n, c, ny, nx = b.shape
    step = max(1, int(np.ceil(np.sqrt(ny * nx / GUIDE_SAMPLE))))
    sub = b[..., ::step, ::step].reshape(n, c, -1)[..., :GUIDE_SAMPLE]
    out = np.full((n, c, 1, 1, GUIDE_SAMPLE_WIDTH), np.nan)
    out[:, :, 0, 0, 0] = np.isfinite(b).sum(axis=(2, 3))
    out[:, :, 0, 0, 1 : 1 + sub.shape[2]] = sub
    finite = np.where(np.isfinite(b), b, np.nan)  # +-inf is not a value to keep
    out[:, :, 0, 0, -2] = np.fmin.reduce(finite.reshape(n, c, -1), axis=2)
    out[:, :, 0, 0, -1] = np.fmax.reduce(finite.reshape(n, c, -1), axis=2)
    return out


def _guide_sample_verdict(parts: np.ndarray, static: bool, ndvi: Any = None,
                          constant: bool = False, names: Any = None,
                          fills: Any = None) -> np.ndarray:
    """A dask guide's checks on one time block, from its blocks' :func:`_guide_sample`."""
    flat = []
    for c in range(parts.shape[1]):
        if static and parts[:, c, ..., 0].sum() == 0:
            raise _empty_guide_error(c)
        _refuse_guide_fill(c, parts[:, c, ..., 1:].ravel(), sampled=True,
                           ndvi=ndvi[c] if ndvi else "")
        if ndvi and ndvi[c]:
            _refuse_ndvi_range(c, ndvi[c], parts[:, c, ..., 1:].ravel(),
                               fills[c] if fills else None)
        count = int(parts[:, c, ..., 0].sum())
        # the blocks' exact smallest and largest values: one value over the whole guide
        lo, hi = np.fmin.reduce(parts[:, c, ..., -2], axis=None), np.fmax.reduce(
            parts[:, c, ..., -1], axis=None)
        if static and constant and count > 1 and lo == hi:
            flat.append((c, float(lo), count))
    _flat_guide_channels(flat, parts.shape[1], 1, names)
    return np.zeros((*parts.shape[:2], 1))


def _pass_through(block: np.ndarray, verdict: np.ndarray) -> np.ndarray:
    return block


def _checked_lazily(gdata: Any, summarize: Any, width: int, verdict: Any, *args: Any) -> Any:
    """A dask guide ``(n, c, Y, X)`` made to depend on ``verdict(parts, *args)`` (which raises
    on a bad guide): ``summarize`` maps each block to ``(n, c, 1, 1, width)`` partial statistics,
    merged per time block. Nothing is computed now; the check runs with the first result that
    needs the guide."""
    part = gdata.map_blocks(
        summarize, dtype=np.float64, new_axis=4,
        chunks=(*gdata.chunks[:2], (1,) * len(gdata.chunks[2]), (1,) * len(gdata.chunks[3]),
                (width,)),
        meta=np.empty((0,) * 5, np.float64),
    )
    # one verdict per time block over every channel: a channel's index (and its NDVI
    # declaration) is then the guide's, and all channels are seen together
    part = part.rechunk({1: -1, 2: -1, 3: -1})
    ok = part.map_blocks(
        verdict, *args, dtype=np.float64, drop_axis=[3, 4],
        chunks=(*part.chunks[:2], (1,)), meta=np.empty((0,) * 3, np.float64),
    )
    return dsa.blockwise(
        _pass_through, "ncyx", gdata, "ncyx", ok, "ncv", dtype=gdata.dtype,
        concatenate=True, meta=np.empty((0,) * 4, gdata.dtype),
    )


#: lines along each edge of a dask guide's images read at graph build for the border check
BORDER_STRIP = 8

#: a dask guide of more images (steps) than this is not checked for a constant border: each
#: image's edges would be read at graph build
BORDER_LAZY_IMAGES = 16

#: a dask guide's image of more pixels than this (256 MB as float32) is not read whole for the
#: border check (the lazy read was chosen to keep it out of memory)
BORDER_LAZY_PIXELS = 1 << 26


#: whether a dask guide's edges are read when the graph is built, for the border check: the
#: command line sets it (it reads every guide lazily, for streaming, though its user chose no
#: dask); a dask guide given in Python stays lazy (building the graph reads nothing)
READ_GUIDE_EDGES: contextvars.ContextVar[bool] = contextvars.ContextVar("read_guide_edges",
                                                                        default=False)


def _refuse_lazy_border_fill(data: dsa.Array, ndvi: Any = None) -> None:
    """:func:`_refuse_border_fill` on a dask guide ``(n, c, Y, X)``, which the lazy block checks
    cannot do (a block does not see the image's edges): the command line reads every guide
    lazily, so a warp's 0 border refused in memory ran there (7.7 K off). Only the
    :data:`BORDER_STRIP` edge lines of each image are read now; an image whose edges hold a
    whole line of one value (or no finite value) is read whole and judged as in memory
    (:func:`_refuse_guide_fill`, which also tells an NDVI stored x 10000 its scale first).
    Guides of more than :data:`BORDER_LAZY_IMAGES` images, and images of more than
    :data:`BORDER_LAZY_PIXELS` pixels, are left to the block checks."""
    import dask

    n, nc, ny, nx = data.shape
    if n > BORDER_LAZY_IMAGES or min(ny, nx) < 2 or ny * nx > BORDER_LAZY_PIXELS:
        return
    s = min(BORDER_STRIP, ny, nx)
    top, bottom, left, right = dask.compute(data[:, :, :s, :], data[:, :, -s:, :],
                                            data[:, :, :, :s], data[:, :, :, -s:])
    for k in range(n):
        for c in range(nc):
            lines: dict[float, int] = {}
            unseen = False
            for strip in (top[k, c], bottom[k, c][::-1], left[k, c].T, right[k, c].T[::-1]):
                strip = np.asarray(strip, dtype=np.float64)
                if not np.isfinite(strip).any():
                    unseen = True  # its first finite line lies further in
                    continue
                run = _line_runs(strip)
                if run is not None:
                    lines[run[0]] = lines.get(run[0], 0) + run[2]
            if unseen or any(v >= BORDER_MIN_LINES for v in lines.values()):
                img = np.asarray(data[k, c].compute(), dtype=np.float32)
                _refuse_guide_fill(c, img, ndvi=ndvi[c] if ndvi else "")


def _require_valid_guide(data: Any, ndvi: Any = None, constant: bool = False,
                         names: Sequence[str] | None = None, fills: Any = None) -> Any:
    """Refuse a guide ``(n, c, Y, X)`` with a channel that holds no finite value over the LST:
    a guided method would sharpen with nothing (or with its NaN fallback) and return a smooth
    field as if it had been guided; or one with an undeclared fill value
    (:func:`~xlstsr.validate.suspect_guide_fill`), which a regression sharpener (TsHARP, DMS)
    would fit as if it were vegetation.

    A dask guide is checked lazily, per time block, as its blocks are read for the result
    (:data:`GUIDE_SAMPLE` values per image and block for the fill test); the all-NaN test then
    applies to a static guide only (a daily guide may be all cloud on a day the LST is too).
    A channel declared as NDVI (``ndvi[c]``: its name, from :func:`_declared_ndvi`) must also
    lie in [-1, 1] (:func:`_refuse_ndvi_range`). With ``constant``, a guide whose every channel
    holds one value on each step's valid pixels (all fill read as data, an NDVI cast to
    integers) is refused too: a guided method returned an unguided field without a word
    (lazily: a static guide only); some such channels among varying ones are warned about,
    by their ``names`` (:func:`_flat_guide_channels`). ``fills``: per channel, the fill its
    band declares in attrs (:func:`_fill_in_attrs`), for the NDVI scale advice.
    """
    if isinstance(data, dsa.Array):
        if READ_GUIDE_EDGES.get():
            _refuse_lazy_border_fill(data, ndvi)
        return _checked_lazily(data, _guide_sample, GUIDE_SAMPLE_WIDTH, _guide_sample_verdict,
                               data.shape[0] == 1, ndvi, constant, names, fills)
    empty = ~np.isfinite(data).any(axis=(0, 2, 3))
    if empty.any():
        raise _empty_guide_error(int(np.flatnonzero(empty)[0]))
    for c in range(data.shape[1]):
        _refuse_guide_fill(c, data[:, c], ndvi=ndvi[c] if ndvi else "")
        if ndvi and ndvi[c]:
            _refuse_ndvi_range(c, ndvi[c], data[:, c], fills[c] if fills else None)
    if constant:
        _refuse_constant_guide(data, names)
    return data


def _nesting_factor(guide: xr.DataArray, lst: xr.DataArray) -> int:
    """The factor of the grid nested in the LST's that the guide is aligned on: how many guide
    pixels span one LST pixel, rounded (a GridError for a guide coarser than the LST). A guide
    that nests exactly is sliced there; one on another grid or CRS (a 30 m Landsat NDVI, a UTM
    guide for a sinusoidal LST) is reprojected onto it by its footprint mean
    (:func:`xlstsr.grid.align_guide`, ``Resampling.average``), as :func:`xlstsr.upscale` aligns
    a guide: it was refused with advice (``guide.rio.reproject_match(lst)``) that resampled by
    nearest neighbour, one guide pixel standing for a whole LST pixel."""
    lres = float(np.sqrt(abs(np.prod(lst.rio.resolution()))))
    gres = pixel_side(guide, lst)
    ratio = lres / gres
    if not np.isfinite(ratio) or ratio < 0.99:
        raise GridError(
            f"the guide's pixel ({gres:.6g}, in the LST's units) is larger than the LST's "
            f"({lres:.6g}): its footprint means cannot be taken on the LST's grid. Give a guide "
            "at the LST's resolution or finer (e.g. 250 m NDVI for a 1 km LST)."
        )
    return max(1, round(ratio))


def _block_mean64(a: np.ndarray, factor: int, min_valid: float) -> np.ndarray:
    return block_mean(a.astype(np.float64), factor, min_valid=min_valid)


def guide_on_lst_grid(
    guide: xr.DataArray,
    lst: xr.DataArray,
    lead: tuple[str, ...],
    *,
    min_valid: float = 0.5,
    time_tolerance: Any = None,
    gap_effect: str | None = None,
) -> Any:
    """A single-band guide on the LST's own grid: ``(n or 1, y, x)`` data.

    A guide of the LST's shape and CRS is taken as it is (fields without a CRS included).
    Another guide (e.g. NDVI at 250 m for LST at 1 km; a 30 m guide; one in another CRS) is
    aligned by :func:`prepare_guide` on the grid nested in the LST's whose pixel is nearest its
    own (:func:`_nesting_factor`: sliced when it nests exactly, else reprojected by its
    footprint mean, as :func:`xlstsr.upscale` aligns a guide) and averaged onto the LST grid
    with the NaN-aware block mean (:func:`xlstsr.kernels.aggregate.block_mean`: blocks with
    less than ``min_valid`` valid pixels are NaN). ``gap_effect``: what the caller does with
    the LST pixels a guide missing part of the LST's extent leaves NaN (its warning says it).

    Examples
    --------
    >>> import xlstsr
    >>> scene = xlstsr.datasets.sample_scene(n_times=1, size=32)
    >>> guide_on_lst_grid(scene["ndvi_250m"], scene["lst_1km"], ("time",)).shape
    (1, 8, 8)
    """
    ydim, xdim = spatial_dims(lst)
    gy, gx = spatial_dims(guide)
    if (guide.sizes[gy], guide.sizes[gx]) == (lst.sizes[ydim], lst.sizes[xdim]) and (
            crs_mismatch(guide, lst) is None):
        g = decode_guide(guide).rename({gy: ydim, gx: xdim} if (gy, gx) != (ydim, xdim) else {})
        g = _match_scalar_time(g, lst, lead, (ydim, xdim), time_tolerance)
        g = g.drop_vars([c for c in g.coords if c not in g.dims], errors="ignore")
        g = _match_lead(g, lst, lead, (ydim, xdim), time_tolerance, given=guide)
        extra = [d for d in g.dims if d not in (ydim, xdim) and d not in lead]
        # a one-band raster as rioxarray reads it, (band=1, y, x), is one band, as on a nested
        # grid (prepare_guide): it was refused with "pass a single band"
        g = g.isel({d: 0 for d in extra if g.sizes[d] == 1}, drop=True)
        extra = [d for d in extra if d in g.dims]
        if extra:
            sel = ", ".join(f"{d}=0" for d in extra)
            raise GridError(
                f"the guide has extra dims {extra} ({', '.join(f'{d}: {g.sizes[d]}' for d in extra)}"
                f" steps): pass a single band, e.g. `guide.isel({sel})` for the first"
            )
        shared = [d for d in lead if d in g.dims]
        if shared and shared != list(lead):
            raise GridError(f"the guide varies along {shared} but the LST along {list(lead)}")
        data = g.transpose(*shared, ydim, xdim).variable.data
        return data.reshape(-1, g.sizes[ydim], g.sizes[xdim]) if shared else data[None]
    r = _nesting_factor(guide, lst)
    with warnings.catch_warnings():
        if r == 1:  # a guide of about the LST's pixel in another CRS: statistics need no
            # detail below the LST's pixel (the warning speaks of guided methods)
            warnings.filterwarnings("ignore", message=r"the guide's pixels .* are not finer",
                                    category=GuideAlignmentWarning)
        data = prepare_guide(guide, lst, r, lead, time_tolerance=time_tolerance,
                             require_detail=False, gap_effect=gap_effect)
    if data.shape[1] != 1:
        raise GridError(f"the guide has {data.shape[1]} bands: pass a single band")
    data = data[:, 0]
    if isinstance(data, dsa.Array):
        steps = data.chunks[0]
        data = whole_images(data)  # a few whole images per task, not every step of a chunk
        return data.map_blocks(
            partial(_block_mean64, factor=r, min_valid=min_valid),
            chunks=(data.chunks[0], (data.shape[1] // r,), (data.shape[2] // r,)),
            dtype=np.float64,
            meta=np.empty((0, 0, 0), np.float64),
        ).rechunk({0: steps})  # r^2 smaller: on the guide's steps again
    return block_mean(np.asarray(data, np.float64), r, min_valid=min_valid)


#: how a guide's alignment with the LST is handled by :func:`xlstsr.upscale`
GUIDE_OFFSET_MODES = ("check", "auto", "ignore")


def _tolerated_step(g: xr.DataArray, dim: Hashable, label: Any, labels: Any,
                    tolerance: Any, label_attrs: Mapping[Hashable, Any] | None = None) -> int:
    """The position of the guide step that :func:`match_steps` gives the LST step ``label``
    (among the LST's ``labels``: the latest within ``tolerance``, or of the same day for dates),
    else 0: with 16-day composites labelled by their first day, the offset was measured on the
    first composite (January's, mostly cloud) for a July LST date, and the composite used went
    uncorrected. ``label_attrs`` are the attrs of the LST's labels, which the guide's keep
    too: CF time units of number labels (a file opened with decode_times=False) say which
    dates they are (without them, the same number of another epoch was taken)."""
    if label is None or dim not in g.indexes:
        return 0
    pos = xr.DataArray(np.arange(g.sizes[dim]), dims=dim,
                       coords={dim: (dim, g.indexes[dim], dict(g[dim].attrs))})
    for probe in (labels, [label]):  # all labels decide how dates match (by day or not)
        if probe is None:
            continue
        lab = xr.DataArray(np.zeros(len(probe)), dims=dim,
                           coords={dim: (dim, np.asarray(probe), dict(label_attrs or {}))})
        try:
            matched = match_steps(pos, lab, str(dim), tolerance)
            return int(matched.sel({dim: label}).values.ravel()[0])
        except (GuideTimeError, TypeError, ValueError, KeyError):  # refused when prepared
            continue
    return 0


#: time steps of a dask LST whose window :func:`check_alignment` counts to find the clearest
#: one (a count of all would be a read of the whole cube)
OFFSET_SAMPLE_STEPS = 8

#: :func:`check_alignment` looks beyond the central window when the clearest step holds fewer
#: valid pixels there than this share of the window
OFFSET_MIN_VALID = 0.25


def _window_starts(n: int, window: int) -> list[int]:
    """Starts of windows of ``window`` pixels tiling ``n``, the central one first."""
    centre = max(0, (n - window) // 2)
    tiled = {*range(0, max(1, n - window + 1), window), max(0, n - window)}
    return [centre, *sorted(tiled - {centre})]


def _clearest_window(steps: np.ndarray, window: int) -> tuple[int, int, int, int]:
    """(count, step, y0, x0) of the window of ``window`` pixels and the step of an in-memory
    ``(n, y, x)`` LST with the most valid pixels (the centre wins ties)."""
    n, ny, nx = steps.shape
    ys, xs = _window_starts(ny, window), _window_starts(nx, window)
    best = (-1, 0, ys[0], xs[0])
    for i in range(n):  # one step's mask at a time
        ok = np.isfinite(steps[i])
        c = np.zeros((ny + 1, nx + 1), np.int64)  # summed-area table
        c[1:, 1:] = ok.cumsum(0).cumsum(1)
        for y0 in ys:
            y1 = min(ny, y0 + window)
            for x0 in xs:
                x1 = min(nx, x0 + window)
                k = int(c[y1, x1] - c[y0, x1] - c[y1, x0] + c[y0, x0])
                if k > best[0]:
                    best = (k, i, y0, x0)
    return best


def _offset_image(lst: xr.DataArray, window: int, stored: xr.DataArray | None = None,
                  ) -> tuple[xr.DataArray | None, dict[Hashable, Any]]:
    """The LST image the guide's offset is measured on and its leading labels, or None when no
    examined window holds a valid pixel.

    The central window of at most ``window`` pixels of the step with the most valid pixels
    there; when that holds less than :data:`OFFSET_MIN_VALID` of the window (a lake, the sea, a
    persistent cloud in the middle), the window and step with the most valid pixels anywhere.
    A dask LST is read on the central window of at most :data:`OFFSET_SAMPLE_STEPS` steps spread
    over the cube, in one compute, and the step is chosen among them in memory; when those
    leave the centre mostly empty, the same steps are read whole and searched (never the whole
    cube). ``stored``: the dask LST as stored (georeferenced, before
    :func:`~xlstsr.validate.decode_lst`, which made ``lst``): the windows are read from it and
    decoded on their own (values out of the physical range masked), not through ``lst``'s
    whole-image value checks, which read every image of a window's chunks whole (the value
    checks of the result judge the whole images; ``lst`` is read where a window's own
    decoding refuses it)."""
    ydim, xdim = spatial_dims(lst)
    lead = [d for d in lst.dims if d not in (ydim, xdim)]
    labelled = lst
    ny, nx = lst.sizes[ydim], lst.sizes[xdim]
    y0, x0 = max(0, (ny - window) // 2), max(0, (nx - window) // 2)
    lazy = isinstance(lst.variable.data, dsa.Array)
    flat = np.arange(int(np.prod([lst.sizes[d] for d in lead])))  # step -> index in the cube
    if lazy:  # a few steps spread over the cube, not a read of all of it
        flat = np.unique(np.linspace(0, flat.size - 1, OFFSET_SAMPLE_STEPS).round().astype(int))

    def plain(da: xr.DataArray) -> xr.DataArray:
        # the leading labels are taken from the input by position below: without them, a dim
        # stacked as `da.stack(t=("scene", "time"))` (a MultiIndex) stacks again (xarray
        # refused "cannot create a multi-index along stacked dimension '_step'")
        return da.drop_vars([c for c in da.coords if set(da[c].dims) & set(lead)])

    def centres(da: xr.DataArray) -> xr.DataArray:
        c = plain(da).isel({ydim: slice(y0, y0 + window), xdim: slice(x0, x0 + window)})
        c = c.stack(_step=lead) if lead else c.expand_dims(_step=1)
        return c.isel(_step=flat) if lazy else c

    def wholes(da: xr.DataArray) -> xr.DataArray:
        w = plain(da).transpose(*lead, ydim, xdim)
        if lead:
            w = w.stack(_step=lead).isel(_step=flat).transpose("_step", ydim, xdim)
        return w

    steps = _read_windows(lst, stored, centres)
    counts = np.isfinite(steps).sum((ydim, xdim)).values.reshape(-1)
    k = int(np.argmax(counts))
    chosen, pos = steps.isel(_step=k), flat[k]
    if counts[k] < OFFSET_MIN_VALID * steps.sizes[ydim] * steps.sizes[xdim]:
        # the centre empty on every step looked at (a 100 x 100 lake in a 200 x 200 scene): the
        # offset was estimated on nothing and the user told "the LST holds no valid pixel"
        whole = _read_windows(lst, stored, wholes)
        cube = np.asarray(whole.values).reshape(-1, ny, nx)
        best, i, by, bx = _clearest_window(cube, window)
        if best > counts[k]:
            one = whole.isel(_step=i) if lead else whole
            chosen = one.isel({ydim: slice(by, by + window), xdim: slice(bx, bx + window)})
            counts[k], pos = best, flat[i]
    if counts[k] == 0:
        return None, {}
    where = np.unravel_index(pos, [lst.sizes[d] for d in lead]) if lead else ()
    # a stacked dim's label is its tuple, as the guide's own stacked dim is indexed by
    at = {d: labelled[d].values[int(j)] for d, j in zip(lead, where)
          if d in labelled.coords and labelled[d].dims == (d,)}
    return chosen.drop_vars(["_step", *lead], errors="ignore").load(), at


def _read_windows(lst: xr.DataArray, stored: xr.DataArray | None, select: Any) -> xr.DataArray:
    """``select(lst)`` in memory (:func:`_offset_image`), in one compute: for a dask ``lst``
    with its ``stored`` values, ``select(stored)`` read and decoded on its own (values out of
    the physical range masked, the decoding's warnings left to the checks of the result, a
    refusal of the window read through ``lst`` instead)."""
    if stored is None or not isinstance(lst.variable.data, dsa.Array):
        return select(lst).load()
    from .validate import decode_lst

    raw = select(stored).load()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return decode_lst(raw, mask_out_of_range=True)
    except XlstsrError as err:  # judged on the window alone: the whole images decide
        _log.info("the guide's offset window read through the LST's checks (%s)", err)
        return select(lst).load()


def measure_offset(
    guide: GuideLike, lst: xr.DataArray, mode: str | None = "auto", *,
    window: int = 96, factor: int | None = None, time_tolerance: Any = None,
    stored: xr.DataArray | None = None,
) -> xr.Dataset | None:
    """The offset :func:`check_alignment` moves the guide back by, as an
    :func:`xlstsr.estimate_offset` Dataset, or None when the guide is used as it is.

    Measured as :func:`check_alignment` says (``mode`` ``"auto"``, ``"check"`` or None; its
    :class:`~xlstsr.errors.GuideAlignmentWarning` given here). None also when the offset is within
    tolerance, cannot be estimated reliably, or no window examined holds a valid LST pixel (the
    LST's own checks judge an empty input). :func:`xlstsr.upscale_to_zarr` measures an
    in-memory input with it before chunking the input, as :func:`xlstsr.upscale` would.
    ``stored``: for a dask ``lst`` decoded by :func:`~xlstsr.validate.decode_lst`, the LST
    before it (georeferenced): the windows looked at are read from it and decoded on their
    own, not through ``lst``'s whole-image value checks (:func:`_offset_image`).
    """
    from .coregister import estimate_offset, fine_pixel_size

    if mode == "ignore":
        return None
    ydim, xdim = spatial_dims(lst)
    bands = _guide_band_list(guide, [d for d in lst.dims if d not in (ydim, xdim)])
    g = bands[0]  # the first band is measured: each may lie on its own grid
    lazy = isinstance(lst.variable.data, dsa.Array) or any(
        isinstance(b.variable.data, dsa.Array) for b in bands)
    if mode is None:  # the default: on a graph being built, nothing read
        if lazy:
            return None
        mode = "auto"
    # an explicit "check" on dask reads the window "auto" reads, and warns (it read nothing:
    # the command line, which reads lazily, passed it and was never told of an offset)
    one, at = _offset_image(lst, window, stored)
    if one is None:
        # no valid pixel where it looked (a lazy LST's sampled steps all cloud): nothing to
        # measure, as for an unreliable estimate; an empty LST is refused by its own checks
        _log.info("no valid LST pixel to measure the guide's offset on: used as it is")
        return None
    # the guide's step of the LST step compared (its first step was compared with the LST's
    # clearest one: two dates), else its first
    gsel: dict[Hashable, Any] = {}
    for d in g.dims:
        if d in spatial_dims(g):
            continue
        # number labels with CF time units (decode_times=False) of other epochs: the same
        # number is another date, so the guide step is the one match_steps pairs, by date
        cf = d in lst.coords and bool(_cf_time_key(lst[d]) or _cf_time_key(g[d]))
        if not cf and d in at and d in g.indexes and at[d] in g.indexes[d]:
            loc = g.indexes[d].get_loc(at[d])
        else:
            labels = lst[d].values if d in at and d in lst.coords and lst[d].ndim == 1 else None
            attrs = lst[d].attrs if d in lst.coords else None
            loc = _tolerated_step(g, d, at.get(d), labels, time_tolerance, attrs)
        gsel[d] = loc if isinstance(loc, (int, np.integer)) else 0  # repeated labels: refused later
    g = g.isel(gsel)
    # the guide's pixel in the LST's units: a guide in degrees under a metric LST would
    # otherwise ask for a search step of a few thousandths of a metre
    lres = abs(float(lst.rio.resolution()[0]))
    fine_px = lres / max(1, round(lres / fine_pixel_size(g, lst.rio.crs)))
    seen = g
    if factor is not None and fine_px < 0.75 * lres / factor:
        with warnings.catch_warnings():  # align_guide's own notes come with the guide's use
            warnings.simplefilter("ignore", GuideAlignmentWarning)
            try:
                seen = align_guide(decode_guide(g), one, factor)
            except (NoOverlapError, GridError):
                return None
        fine_px = lres / factor
    try:
        # a window of one guide value (all 0: water, or a fill read as data) divides 0 by 0 in
        # the fit: an unreliable estimate below, not numpy's raw RuntimeWarning
        with np.errstate(divide="ignore", invalid="ignore"):
            est = estimate_offset(seen, one, psf=False, errors="ignore", search_step=fine_px)
    except (NoOverlapError, GridError, AllNaNError):
        # align_guide then says what is wrong with the guide's coverage or grid; a window
        # without valid pairs is nothing to measure on, not an empty input
        return None
    if not bool(est.reliable):
        bound = 0.5 * lres  # estimate_offset's default search bound: half an LST pixel
        sx, sy = abs(float(est.shift_x)), abs(float(est.shift_y))
        r0, r1 = abs(float(est.correlation_before)), abs(float(est.correlation_after))
        wide = None
        if max(sx, sy) >= bound - 0.05 * fine_px and r1 >= 0.5 and r1 > r0:
            # the best shift at the search bound of a guide that relates to the LST: searched
            # again twice as far, to tell a guide off by more than the search reaches (a
            # geotransform off by an LST pixel) from one in place whose correlation peak is
            # merely broad (real pair 136, |r| 0.57 -> 0.62, whose advice then failed)
            try:
                with np.errstate(divide="ignore", invalid="ignore"):
                    wide = estimate_offset(seen, one, psf=False, errors="ignore",
                                           search_step=fine_px, max_shift=2 * bound)
            except (NoOverlapError, GridError, AllNaNError):
                wide = None
        far = None if wide is None else max(abs(float(wide.shift_x)), abs(float(wide.shift_y)))
        # quiet only where the wider search places the guide within reach or finds no peak
        # (pair 136: a broad peak, 650-690 m, unreliable); a shift at the wider bound too, the
        # correlation still rising, is a guide off by more than an LST pixel (moved 1200 m, it
        # was used without a word)
        beyond = far is not None and (
            (bool(wide.reliable) and far > bound)
            or (far >= 2 * bound - 0.05 * fine_px
                and abs(float(wide.correlation_after)) > r1))
        if beyond:
            # found, reliably, beyond the default search (the guide was used as it was
            # without a word); the advice searches twice as far again, so that the whole
            # image's estimate (a shift at its bound is unreliable) finds it too
            u = "deg" if lst.rio.crs is not None and lst.rio.crs.is_geographic else "m"
            # shift_x/shift_y are the correction: the guide's offset is its opposite (printed
            # as the offset, a user moving the coordinates back by it doubled the error)
            wx, wy = float(wide.shift_x), float(wide.shift_y)
            warn(
                f"the guide's best offset from the LST lies at the search limit ({bound:.4g} {u}, "
                f"half an LST pixel; |r| {r0:.2f} as given, {r1:.2f} there); searched twice as "
                f"far it is ({-wx + 0.0:+.4g}, {-wy + 0.0:+.4g}) {u} (x, y"
                + ("" if bool(wide.reliable) else ", at that search's limit too")
                + f"; moving its coordinates by ({wx:+.4g}, {wy:+.4g}) {u} would put it back): the "
                "guide is off by more than "
                "half an LST pixel (e.g. coordinates off by a whole LST pixel), and its detail "
                f"lands in the wrong place; it is used as it is (guide_offset={mode!r}). Check "
                "its coordinates, or measure the offset with a wider search (one that holds "
                "it with room: a shift at the bound is refused as unreliable) "
                f"(`xlstsr.estimate_offset(guide, lst, max_shift={4 * bound:.6g})`) and move "
                f"the guide by it (`guide = xlstsr.coregister(guide, lst, max_shift="
                f"{4 * bound:.6g})`), then pass guide_offset='ignore'.",
                GuideAlignmentWarning)
            return None
        # the guide hardly relates to the LST here (night, water, cloud): nothing to correct it
        # by, so it is used as it is - silently, as "auto" is the default and such scenes common
        _log.info("the guide's offset could not be estimated reliably: used as it is")
        return None
    sx, sy, unc = float(est.shift_x), float(est.shift_y), float(est.shift_uncertainty)
    off = float(np.hypot(sx, sy))
    if off - 0.25 * fine_px <= 2 * unc:
        return None  # within a quarter pixel, or not significantly beyond it
    # in the LST's CRS units: degrees on a geographic grid ("(+0, +0) m" before)
    u = "deg" if lst.rio.crs is not None and lst.rio.crs.is_geographic else "m"
    # est.shift_x/shift_y are the correction (what to add to the guide's coordinates): the
    # guide's own offset is its opposite (the correction printed as the offset, a user moving
    # another band by hand moved it the wrong way, doubling the error)
    found = (f"the guide is offset from the LST by ({-sx + 0.0:+.3g}, {-sy + 0.0:+.3g}) {u} "
             f"(x, y; +/- {unc:.2g} {u}), {off / fine_px:.2f} fine pixel")
    back_by = f"({sx:+.3g}, {sy:+.3g}) {u}"
    # the offset of band 0 stands for every band: bands of other sources (each on its own
    # grid, accepted since the bands are aligned one by one) may not share it
    which = ""
    if len(bands) > 1:
        first = (f" ({bands[0]['guide_band'].item()!r})" if "guide_band" in bands[0].coords
                 and bands[0]["guide_band"].ndim == 0 else "")
        which = (f" (measured on the guide's first band{first}, of {len(bands)}: it stands for "
                 "every band; bands from other sources or grids may not share it, "
                 "`xlstsr.coregister` each on its own and pass guide_offset='ignore')")
    placed = _coregistered_band(bands, guide)
    if mode == "check":
        how = ("Pass guide_offset='auto' to correct it, or xlstsr.coregister the guide yourself."
               if placed is None else
               f"The guide{placed[0]} was co-registered already (its attrs hold "
               f"xlstsr_coregistration: {placed[1]}): to move it again, drop the attribute "
               f"({placed[2]}) and pass guide_offset='auto'.")
        warn(f"{found}{which}: its detail lands in the wrong place (moving its coordinates "
             f"by {back_by} puts it back). {how}",
             GuideAlignmentWarning)
        return None
    if placed is not None:
        # apply_offset refuses a second move (it would move it twice): say so at the guide's
        # level, with guide_offset's way out, before "moved back by it" is said
        raise CoregistrationError(
            f"guide_offset='auto': {found}{which}, but the guide{placed[0]} was co-registered "
            f"already (its attrs hold xlstsr_coregistration: {placed[1]}): moving it back would "
            "move it twice. Pass guide_offset='ignore' to keep the guide as placed, or drop the "
            f"attribute ({placed[2]}) to let guide_offset='auto' move it again."
        )
    warn(
        f"{found}{which}: moved back by it, its coordinates shifted by {back_by} "
        f"(guide_offset='auto'"
        f"{', every band' if which else ''}). Pass "
        "guide_offset='ignore' to use the guide as it is, or an xlstsr.estimate_offset result "
        "of your own.", GuideAlignmentWarning)
    return est


#: how a co-registered guide's record is dropped (in Python; a file keeps it as a tag)
_DROP_COREGISTRATION = ("`guide.attrs.pop('xlstsr_coregistration')`, or the file's tag of "
                        "that name")


def _coregistered_band(bands: Sequence[xr.DataArray],
                       guide: Any = None) -> tuple[str, str, str] | None:
    """The first of a guide's bands (:func:`_guide_band_list`) that was co-registered already
    (its attrs hold ``xlstsr_coregistration``: :func:`xlstsr.coregister.apply_offset` refuses
    to move it again), as (`` (band 'label')`` or ``""`` for a guide of one band, the record
    cut to 80 characters, how to drop the record: on that band of a list, dict or Dataset
    ``guide``, where ``guide.attrs`` does not hold it); None when none was."""
    for i, b in enumerate(bands):
        record = (b.attrs or {}).get("xlstsr_coregistration")
        if record is None:
            continue
        label, drop = "", _DROP_COREGISTRATION
        if len(bands) > 1 and "guide_band" in b.coords and b["guide_band"].ndim == 0:
            key = str(b["guide_band"].item())
            label = f" (band {key!r})"
            if isinstance(guide, (list, tuple)) and len(guide) == len(bands):
                drop = _DROP_COREGISTRATION.replace("guide.attrs", f"guide[{i}].attrs")
            elif isinstance(guide, (dict, xr.Dataset)):
                drop = _DROP_COREGISTRATION.replace("guide.attrs", f"guide[{key!r}].attrs")
        return label, str(record)[:80], drop
    return None


def check_alignment(
    guide: GuideLike, lst: xr.DataArray, mode: str | xr.Dataset | None = "check", *,
    window: int = 96, factor: int | None = None, time_tolerance: Any = None,
    stored: xr.DataArray | None = None, with_estimate: bool = False,
) -> GuideLike | tuple[GuideLike, xr.Dataset | None]:
    """Check (and with ``mode="auto"`` correct) the sub-pixel offset of a guide against the LST
    (:func:`xlstsr.upscale`'s ``guide_offset``).

    The guide's offset is estimated with :func:`xlstsr.estimate_offset` (a linear fit at the LST
    scale, so NDVI's anti-correlation with LST is fine) on one image: the first band, the LST
    step with the most valid pixels, a central window of at most ``window`` LST pixels (on an
    in-memory LST whose centre holds less than a quarter of valid pixels on every step, the
    window and step with the most valid pixels anywhere; with none anywhere examined, the guide
    is used as it is). An offset counts when it exceeds a quarter of a fine pixel by more than
    twice its uncertainty. ``"auto"`` then moves the guide's
    coordinates back by it (the guide is resampled onto the fine grid) and says so with a
    :class:`~xlstsr.errors.GuideAlignmentWarning`: on the real MODIS/ASTER pairs the MOD09GQ
    NDVI was found offset from the MOD11A1 LST on 11 of 55, by 0.46-0.74 of its pixel, and
    moving it back lowered the error against co-registered ASTER on every one of them with
    TsHARP. The first band's offset moves every band of a list or dict guide, bands on other
    grids (from other sources) included, which may not share it: ``xlstsr.coregister`` such
    bands each on its own and pass ``"ignore"``. ``"check"`` only warns; ``"ignore"`` does nothing; an
    :func:`~xlstsr.estimate_offset` Dataset is applied as it is. On dask-backed inputs
    the default (None) reads nothing, and ``"auto"`` and ``"check"`` read, in one compute, the
    central window of at most 8 steps spread over a dask LST's cube (each window's chunks; with ``stored``, the LST
    as stored before its decoding, the windows are decoded on their own, not through the
    whole-image value checks of ``lst``), measures on the one with the most valid pixels (and
    when every one is mostly empty, reads those 8 steps whole to find a clearer window); every
    step of an in-memory LST is counted. ``None`` (the default of
    :func:`xlstsr.upscale`) is ``"auto"`` on in-memory inputs and nothing on dask-backed
    ones, so that building a lazy graph reads nothing. With ``factor`` (the
    upscaling's), a guide finer than the output grid is checked as the method sees it, averaged
    onto that grid, and a quarter of an output pixel is the tolerance (the same NDVI subdivided
    2 x 2 was estimated ~60 m further and warned). :func:`measure_offset` gives the offset
    itself; ``with_estimate=True`` returns (guide, the offset applied or None), which
    :func:`xlstsr.upscale` records.
    """
    from .coregister import apply_offset

    if isinstance(mode, xr.Dataset):
        try:
            moved = _map_bands(guide, lambda g: apply_offset(g, mode, lst.rio.crs))
            return (moved, mode) if with_estimate else moved
        except CoregistrationError as err:  # the way out here: the guide as it is
            ly, lx = spatial_dims(lst)
            placed = _coregistered_band(
                _guide_band_list(guide, [d for d in lst.dims if d not in (ly, lx)]), guide)
            if placed is not None:
                raise CoregistrationError(
                    f"guide_offset=<offset Dataset>: the guide{placed[0]} was co-registered "
                    f"already (its attrs hold xlstsr_coregistration: {placed[1]}): applying "
                    "the offset moves it twice. Pass guide_offset='ignore' to keep the guide as "
                    f"placed, or drop the attribute ({placed[2]}) to move it by this "
                    "offset."
                ) from None
            raise CoregistrationError(f"guide_offset: {err} For the guide as it is, pass "
                                      "guide_offset='ignore'.") from None
    if mode is not None and mode not in GUIDE_OFFSET_MODES:
        raise XlstsrError(f"guide_offset must be one of {GUIDE_OFFSET_MODES} or an offset Dataset, "
                         f"got {mode!r}")
    est = measure_offset(guide, lst, mode, window=window, factor=factor,
                         time_tolerance=time_tolerance, stored=stored)
    if est is not None:
        guide = _map_bands(guide, lambda b: apply_offset(b, est, lst.rio.crs))
    return (guide, est) if with_estimate else guide


def _map_bands(guide: GuideLike, fn: Any) -> GuideLike:
    if isinstance(guide, xr.DataArray):
        return fn(guide)
    if isinstance(guide, Mapping):
        return {k: fn(v) for k, v in guide.items()}
    return [fn(v) for v in guide]


#: A guide channel is refused when its mean lies this many training standard deviations from the
#: training mean, or its spread exceeds this many training standard deviations.
GUIDE_MAX_Z = 10.0
GUIDE_MAX_STD_RATIO = 10.0


def _channel_stats(block: np.ndarray) -> np.ndarray:
    """(n, c, 1, 1, 5): count, sum, sum of squares, min, max of each image's finite pixels
    (one float32 copy of one image at a time)."""
    b = np.asarray(block)
    out = np.zeros((*b.shape[:2], 1, 1, 5))
    for i in range(b.shape[0]):
        for c in range(b.shape[1]):
            x = b[i, c]
            fin = np.isfinite(x)
            z = np.where(fin, x, 0).astype(np.float32, copy=False).ravel()
            n = int(fin.sum())
            mn = float(np.fmin.reduce(x, axis=None)) if n else np.inf
            mx = float(np.fmax.reduce(x, axis=None)) if n else -np.inf
            out[i, c, 0, 0] = (n, z.sum(dtype=np.float64), float(np.dot(z, z)), mn, mx)
    return out


def _merge_stats(parts: np.ndarray) -> np.ndarray:
    """Merge (n, c, by, bx, 5) partial statistics into (n, c, 5)."""
    return np.concatenate([
        parts[..., :3].sum((2, 3)), parts[..., 3:4].min((2, 3)), parts[..., 4:5].max((2, 3)),
    ], axis=-1)


#: the advice for an NDVI coded as bytes (0-255): a scale and an offset, where dividing it back
#: by its largest value (as for NDVI x 10000) gives no NDVI
BYTE_NDVI_HINT = (
    "a byte-coded NDVI (e.g. Copernicus / PROBA-V: NDVI = DN x 0.004 - 0.08; eMODIS: "
    "(DN - 100) / 100): decode it with its product's scale and offset first (`g * 0.004 - "
    "0.08`, or its `scale_factor` / `add_offset` attributes declared and the file opened with "
    "`mask_and_scale=True`)")


def _scale_hint(m: float, s: float, mu: float, sd: float, name: str,
                lo: float = -np.inf, hi: float = np.inf) -> str:
    """The likely cause of a guide channel's values (mean m, std s, range lo..hi) far from the
    training ones."""
    ndvi_like = _ndvi_channel(name, mu, sd)
    if ndvi_like and 150 <= m <= 400 and s < 50 and 0 <= lo and hi <= 255:
        # bytes of a coded NDVI over vegetation (Copernicus: DN x 0.004 - 0.08; eMODIS:
        # (DN - 100) / 100), told to pass the NDVI it was, sent the user to swap the inputs;
        # a cold LST (polar, winter nights) stays under 255 K too: both named
        return ("the values (whole range within 0-255) look like " + BYTE_NDVI_HINT
                + "; or like temperatures in Kelvin of a cold scene: then pass the NDVI (or the "
                "band the model was trained with) as the guide, and the LST as the input")
    if ndvi_like and 150 <= m <= 400 and s < 50:
        return ("the values look like temperatures in Kelvin, not NDVI: pass the NDVI (or the "
                "band the model was trained with) as the guide, and the LST as the input")
    for k in (100.0, 10000.0, 1000.0, 10.0, 0.01, 0.0001):
        if abs(m / k - mu) <= 3 * sd and s / k <= 3 * sd:
            if ndvi_like and k == 100.0:
                return "NDVI in percent? divide it by 100"
            if k == 10000.0:
                return ("scaled integers (MODIS stores NDVI and reflectances x 10000): multiply by "
                        "0.0001, or open the file with `mask_and_scale=True` so that its "
                        "scale_factor is applied")
            return f"the values look {k:g} times too large: divide them by {k:g}"
    if ndvi_like and m > 1:
        return ("NDVI lies in [-1, 1]: is this another band (a reflectance, a temperature) or "
                "an undeclared fill value? check `scale_factor` and `_FillValue`")
    return ("another quantity or scale than the training guide, or an undeclared fill value: "
            "check units, `scale_factor` and `_FillValue`")


def _ndvi_channel(name: str, mu: float, sd: float) -> bool:
    """Whether a model's channel (its name, training mean and spread) is NDVI: by its name
    where that says NDVI or another quantity ('red': a reflectance within [-1, 1] too, whose
    slot given an NDVI was told "NDVI in percent? divide it by 100"), by its values' range
    for names that say neither ('guide0', 'band_data')."""
    if name and _says_ndvi(name):
        return True
    if name and _other_quantities(name):
        return False
    return -1 <= mu <= 1 and sd < 1


def _fits(m: float, sd: float, mu: float, st: float) -> float | None:
    """How far (in training standard deviations) a channel of mean ``m`` and spread ``sd``
    lies from a trained one (``mu``, ``st``), or None where it lies beyond the limits
    (:data:`GUIDE_MAX_Z`, :data:`GUIDE_MAX_STD_RATIO`) or beyond a tenth of its spread, or
    ten times it (a near-constant band fits no textured one's slot, nor the converse)."""
    z = abs(m - mu) / st
    if z > GUIDE_MAX_Z or not (st / GUIDE_MAX_STD_RATIO <= sd <= st * GUIDE_MAX_STD_RATIO):
        return None
    return float(z)


def _band_order_hint(ms: np.ndarray, sds: np.ndarray, mean_t: np.ndarray, std_t: np.ndarray,
                     names: Sequence[str], c: int, reorder: str | None = None) -> str | None:
    """The advice for guide channels given in another order than the model's, or None: an
    order of the channels whose every one fits its trained channel (:func:`_fits`) where the
    order given does not (a list [red, ndvi] for a model of ['ndvi', 'red'] was told "NDVI in
    percent? divide it by 100", which ran on swapped bands); else, channel ``c``'s values
    fitting another trained channel better than any power-of-ten rescaling fits its own: the
    order asked where that slot's channel fits ``c``'s slot, fails its own too or fits it
    worse than ``c`` does, else (``c`` fits no slot a channel of its own does not fit better)
    the units, scale and fill value to check. ``reorder``: the code for the guide's form as
    passed (:func:`band_reorder_code`); without it, the code of each form."""
    import itertools

    n = min(ms.size, mean_t.size)
    fit = [[_fits(ms[a], sds[a], mean_t[j], std_t[j]) for j in range(n)] for a in range(n)]
    best: tuple[float, tuple[int, ...]] | None = None
    if ms.size == mean_t.size and 1 < n <= 6:
        for perm in itertools.permutations(range(n)):  # perm[j]: the channel for slot j
            zs = [fit[perm[j]][j] for j in range(n)]
            if all(z is not None for z in zs) and perm != tuple(range(n)):
                total = float(sum(zs))  # type: ignore[arg-type]
                if best is None or total < best[0]:
                    best = (total, perm)
    label = [repr(str(x)) for x in names]
    if best is not None:
        perm = best[1]
        moved = ", ".join(f"channel {perm[j]} fits the model's channel {j} ({label[j]})"
                          for j in range(n) if perm[j] != j)
        order = ", ".join(str(p) for p in perm)
        keyed = ", ".join(f"{str(names[j])!r}: bands[{perm[j]}]" for j in range(n))
        head = (f"the guide's bands look to be in another order than the model's inputs "
                f"{[str(x) for x in names]} ({moved}). Reorder them into the model's order "
                f"(channels {order})")
        if reorder is not None:
            return f"{head}: `{reorder.format(order=order, keyed=keyed)}`"
        return (f"{head}: a list `guide = [guide[i] for i in [{order}]]`, a "
                f"DataArray of bands `guide = guide.isel(band=[{order}])` (its band dim), a "
                f"dict or Dataset `bands = list(guide.values()); guide = {{{keyed}}}`")
    if c >= n:
        return None
    scaled = [abs(ms[c] / k - mean_t[c]) / std_t[c]
              for k in (100.0, 10000.0, 1000.0, 10.0, 0.01, 0.0001)
              if sds[c] / k <= 3 * std_t[c]]
    own = min(scaled, default=np.inf)
    others = [(fit[c][j], j) for j in range(n) if j != c and fit[c][j] is not None]
    if others and min(others)[0] < own:
        j = min(others)[1]
        fits = (f"its values fit the model's channel {j} ({label[j]}: mean {mean_t[j]:.4g}, "
                f"standard deviation {std_t[j]:.4g}), not channel {c} ({label[c]})")
        if fit[j][c] is not None or fit[j][j] is None or fit[c][j] < fit[j][j]:
            # a swap of c and j fits both slots, channel j fails its own slot too, or c fits
            # slot j better than j does (a swapped [bright albedo, ndvi]: the albedo fits the
            # broad NDVI slot, but worse than the NDVI given in the albedo's)
            also = ("" if fit[j][c] is not None else
                    f"; channel {j}'s values do not fit the model's {label[c]} either: check "
                    f"their units, `scale_factor` and `_FillValue` too")
            return (f"{fits}: are the guide's bands in another order than the model's inputs "
                    f"{[str(x) for x in names]}? Give them in that order{also}")
        # channel j fits its own slot and not c's: no order makes c fit (a correctly ordered
        # guide of a bright albedo was asked whether its bands were in another order); nor
        # does a power of ten ('red' given the NDVI again was told to divide it by 100)
        return (f"{fits}, which channel {j} already gives (the order is not what is wrong): "
                f"the same band given twice, or another quantity or scale than the model's "
                f"{label[c]}, or an undeclared fill value? Give the model's {label[c]} in "
                f"channel {c}: check units, `scale_factor` and `_FillValue`")
    return None


def _stored_scale(m: float, sd: float, mu: float, st: float) -> float | None:
    """The power of ten (>= 100) by which the training guide is a scaled copy of this one, in
    level and in spread both (within 1.5 times), or None."""
    if not all(np.isfinite((m, sd, mu, st))) or sd <= 0 or m == 0 or st <= 0:
        return None  # an untrained network's statistics (inf, NaN) compare with nothing
    k, r = abs(mu / m), st / sd
    if not (np.isfinite(k) and k > 0):
        return None
    p = 10.0 ** round(np.log10(k))
    if p >= 100 and 1 / 1.5 <= k / p <= 1.5 and 1 / 1.5 <= r / p <= 1.5 and mu * m > 0:
        return k
    return None


def _guide_verdict(stats: np.ndarray, expected: dict[str, Any]) -> np.ndarray:
    merged = _merge_stats(stats)
    mean_t = np.asarray(expected["mean"], np.float64)
    std_t = np.maximum(np.asarray(expected["std"], np.float64), 1e-12)
    names = list(expected.get("names") or [f"guide{i}" for i in range(mean_t.size)])
    names += [f"guide{i}" for i in range(len(names), mean_t.size)]
    for i in range(merged.shape[0]):
        cnt_i = np.maximum(merged[i, :, 0], 1)
        ms = merged[i, :, 1] / cnt_i
        sds = np.sqrt(np.maximum(merged[i, :, 2] / cnt_i - ms * ms, 0.0))
        for c in range(merged.shape[1]):
            cnt, s1, s2, mn, mx = merged[i, c]
            if cnt == 0 or c >= mean_t.size:
                continue
            m = s1 / cnt
            sd = float(np.sqrt(max(s2 / cnt - m * m, 0.0)))
            mu, st = mean_t[c], std_t[c]
            # a scaled copy of the training guide by a power of ten, level and spread alike:
            # a model trained on stored integers (NDVI x 10000) given decoded NDVI (3.95 K
            # off); a guide merely small (flat ground, water) is no scaled copy
            k = _stored_scale(m, sd, mu, st)
            if k is not None and abs(mu) > 1.05:
                hint = (f"the training guide was about {k:.3g} times larger: the model was "
                        "trained on the guide as stored (NDVI x 10000?). Give the guide on that "
                        "scale, or retrain the model on the decoded guide (`scale_factor` "
                        "applied)")
            elif k is not None:
                # trained on NDVI-like values (within [-1, 1]): this guide is the one off, a
                # scale applied to values already decoded (an NDVI saved with its bands'
                # scale_factor 0.0001, which the reader applied), not a model of stored numbers
                hint = (f"this guide is about {k:.3g} times smaller than the training guide, "
                        "which lies within [-1, 1] (a decoded NDVI): a scale applied to values "
                        "already decoded (a 'scale_factor' of 0.0001 inherited from the bands "
                        "it was computed from, applied on reading?). Drop that scale: divide "
                        "by the scale the file declares (e.g. `g = g / 0.0001`), or reopen the "
                        "file with `mask_and_scale=False` and `g.attrs.pop('scale_factor')`")
            elif abs(m - mu) / st > GUIDE_MAX_Z or sd / st > GUIDE_MAX_STD_RATIO:
                # another channel's values first: bands given in another order were told to
                # rescale one of them, which then ran on swapped bands
                hint = ((_band_order_hint(ms, sds, mean_t, std_t, names, c,
                                          expected.get("reorder"))
                         if (merged[i, :, 0] > 0).all() else None)
                        or _scale_hint(m, sd, mu, st, names[c] if c < len(names) else "",
                                       mn, mx))
            else:
                continue
            name = names[c] if c < len(names) else f"guide{c}"
            raise GuideScaleError(
                f"guide channel {c} ({name!r}) has mean {m:.4g} and standard deviation "
                f"{sd:.4g} (range {mn:.4g} to {mx:.4g}), but the model was trained on mean "
                f"{mu:.4g} and standard deviation {st:.4g}: {hint}. A guide off the training "
                "scale makes the model produce meaningless temperatures."
            )
    return np.zeros((*merged.shape[:2], 1))


def check_guide_values(gdata: Any, expected: dict[str, Any] | None) -> Any:
    """The prepared guide ``(n, c, Y, X)``, checked against the statistics a model was trained
    on (``expected``: per-channel ``mean``, ``std`` and ``names``, from
    :meth:`xlstsr.methods.base.UpscaleMethod.guide_statistics`).

    A channel whose mean lies more than :data:`GUIDE_MAX_Z` training standard deviations from
    the training mean, or whose spread exceeds :data:`GUIDE_MAX_STD_RATIO` of them, raises
    :class:`~xlstsr.errors.GuideScaleError` naming the likely cause (NDVI in percent, stored
    integers...). The statistics are taken per image over the whole image (count, sum, sum of
    squares, min, max: exact on any chunking); on dask they are a branch of the graph that the
    returned guide depends on, so nothing is computed before the result is.

    Examples
    --------
    >>> g = np.full((1, 1, 8, 8), 64.0, np.float32)  # NDVI in percent
    >>> check_guide_values(g, {"mean": [0.64], "std": [0.17], "names": ["ndvi"]})
    Traceback (most recent call last):
    ...
    xlstsr.errors.GuideScaleError: guide channel 0 ('ndvi') has mean 64 ... NDVI in percent? divide it by 100. ...
    """
    if expected is None or gdata is None:
        return gdata
    if not isinstance(gdata, dsa.Array):
        _guide_verdict(_channel_stats(np.asarray(gdata)), expected)
        return gdata
    return _noted_pixel(_checked_lazily(gdata, _channel_stats, 5, _guide_verdict, expected),
                        guide_pixel(gdata))


def check_model_ndvi(gdata: Any, expected: dict[str, Any] | None) -> Any:
    """The prepared guide ``(n, c, Y, X)``, its channels that a model was trained on as NDVI
    (``expected["names"]`` holding 'ndvi') required to lie in [-1, 1] whatever the bands' own
    labels (:func:`_refuse_ndvi_range`): an unlabelled NDVI x 3 passes the statistics test of
    :func:`check_guide_values` (within 10 training standard deviations) and a model makes
    meaningless temperatures of it. Dask guides are checked lazily, on a sample of each image.

    Examples
    --------
    >>> g = np.full((1, 1, 8, 8), 0.5, np.float32)
    >>> check_model_ndvi(g, {"mean": [0.6], "std": [0.2], "names": ["ndvi"]}).shape
    (1, 1, 8, 8)
    >>> check_model_ndvi(g * 3, {"mean": [0.6], "std": [0.2], "names": ["ndvi"]})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    xlstsr.errors.GuideScaleError: guide channel 0 is declared as NDVI (the model's channel 'ndvi') ...
    """
    if expected is None or gdata is None:
        return gdata
    names = list(expected.get("names") or [])
    ndvi = [f"the model's channel {n!r}" if "ndvi" in str(n).lower() else "" for n in names]
    ndvi = (ndvi + [""] * gdata.shape[1])[: gdata.shape[1]]
    if not any(ndvi):
        return gdata
    if not isinstance(gdata, dsa.Array):
        for c, declared in enumerate(ndvi):
            if declared:
                _refuse_ndvi_range(c, declared, np.asarray(gdata)[:, c])
        return gdata
    return _noted_pixel(_checked_lazily(gdata, _guide_sample, GUIDE_SAMPLE_WIDTH,
                                        _ndvi_sample_verdict, ndvi), guide_pixel(gdata))


def _ndvi_sample_verdict(parts: np.ndarray, ndvi: list[str]) -> np.ndarray:
    """A dask guide's NDVI range check on one time block, from its blocks' :func:`_guide_sample`."""
    for c in range(parts.shape[1]):
        if c < len(ndvi) and ndvi[c]:
            _refuse_ndvi_range(c, ndvi[c], parts[:, c, ..., 1:].ravel())
    return np.zeros((*parts.shape[:2], 1))


#: labels of guide bands that are other quantities than a model's channel of another name, whose
#: values can pass for NDVI (reflectances, other indices). Temperatures and elevations are left
#: to the values' range checks: a band labelled 'lst' with NDVI-like values is an NDVI that kept
#: a stale name (``lst.copy(data=ndvi)``), not a temperature
_OTHER_BANDS = frozenset({
    "red", "nir", "blue", "green", "swir", "swir1", "swir2", "mir",
    "evi", "savi", "ndwi", "ndbi", "albedo", "emissivity", "reflectance",
    # leaf area index (0-6): refused by its values as "10 times too large: divide them by 10",
    # and LAI / 10, still named 'lai', then ran DISR's NDVI model without a word
    "lai", "fapar", "fpar",
})
#: other quantities as long names spell them (CF standard_name ``leaf_area_index``)
_OTHER_PHRASES = {"leaf area index": "lai"}


#: reflectance bands as products name them: MODIS ``sur_refl_b02`` (MOD09GQ/GA), Landsat
#: Collection 2 ``SR_B5`` (also within a file name), MCD43A4 ``Nadir_Reflectance_Band2``
_PRODUCT_BAND = re.compile(r"(^|_)(sur_refl_b\d+|sr_b\d+|nadir_reflectance_band\d*)($|_)")
#: a Sentinel-2 style band, zero-padded (``B04``, ``B08``, ``B8A``, ``B11``); a bare ``b1`` is
#: a band number that says nothing (Earth Engine's default name, a numbered stack)
_S2_BAND = re.compile(r"b(0\d|1[0-2]|8a)")


def _other_quantities(label: str) -> set[str]:
    """The quantities other than NDVI a label names: words ('red', 'nir', 'reflectance') and
    products' reflectance band names (:data:`_PRODUCT_BAND`, :data:`_S2_BAND`)."""
    low = label.lower()
    found = _tokens(low) & _OTHER_BANDS
    words = " ".join(re.split(r"[^a-z0-9]+", low))
    found |= {q for phrase, q in _OTHER_PHRASES.items() if phrase in words}
    for part in re.split(r"[^a-z0-9_]+", low):
        m = _PRODUCT_BAND.search(part)
        if m:
            found.add(m.group(2))
    found |= {t for t in _tokens(low) if _S2_BAND.fullmatch(t)}
    return found


def _says_ndvi(text: str) -> bool:
    """Whether a label names NDVI: the word, or 'normalized difference vegetation' with any
    separators (CF's standard_name ``normalized_difference_vegetation_index``, 'Normalised
    Difference Vegetation Index')."""
    words = " ".join(re.split(r"[^a-z0-9]+", text.lower()))
    return "ndvi" in _tokens(text) or bool(
        re.search(r"normali[sz]ed difference vegetation", words))


def _described(da: xr.DataArray, name: str | None) -> str | None:
    """A channel's label: its name, with its long_name (or standard_name) added when that names
    another quantity than NDVI and the name names none (a MOD09GQ band read as 'band_data'
    whose long_name is '250m Surface Reflectance Band 2' was taken for DISR's NDVI)."""
    said = [t for t in (da.attrs.get("long_name"), da.attrs.get("standard_name"))
            if isinstance(t, str) and t.strip()]
    if not said or any(_says_ndvi(t) for t in said):
        return name
    if name is not None and (_says_ndvi(name) or _other_quantities(name)):
        return name  # the name says what it is
    other = [t for t in said if _other_quantities(t)]
    if not other:
        return name
    return other[0] if name is None else f"{name} ({other[0]})"


class GuideLabels(list):
    """:func:`guide_labels`'s list, with the guide's form (``form``): ``'keyed'`` for a dict
    or Dataset of bands (each read as ``guide[key]``), ``'list'`` for a list of bands (``guide[i]``),
    ``'raster'`` for one DataArray (its bands by ``guide.sel(band=...)``), so that advice on the
    bands can be given in a form that runs on the guide passed."""

    form: str = "raster"
    #: a raster's band dim (``'variable'`` of ``ds.to_array()``), which advice selects along
    dim: str = "band"
    #: each channel's label where a dict or Dataset's keys do not say it (its bands'
    #: descriptions), for :func:`check_guide_labels`; None where the labels say it
    described: list[str | None] | None = None

    @classmethod
    def of(cls, labels: Sequence[str | None], form: str, dim: str = "band") -> GuideLabels:
        out = cls(labels)
        out.form, out.dim = form, dim
        return out


def guide_labels(guide: GuideLike) -> list[str | None]:
    """The label of each channel of a guide as :func:`prepare_guide` orders them: the keys of a
    dict or Dataset (their ``described`` attribute: the bands' descriptions where the keys say
    nothing, ``band_1`` or ``band_data`` of rasterio readers, or name no quantity beside a
    description that names one; :func:`_keyed_labels`), the names of a list's DataArrays
    (their own descriptions where the names say nothing; :func:`_list_labels`), a
    DataArray's text labels along its one extra dim ('band')
    or its bands' descriptions (:func:`xlstsr.io.open_cog`'s ``band_description`` coordinate,
    rioxarray's tuple long_name) or its name; None where nothing labels a channel. A
    DataArray's long_name or standard_name that names another quantity than NDVI (a
    reflectance) is added to a name that names none (``'band_data (250m Surface Reflectance
    Band 2)'``).

    Examples
    --------
    >>> import xlstsr
    >>> scene = xlstsr.datasets.sample_scene(n_times=1, size=16)
    >>> guide_labels({"red": scene["ndvi_250m"], "nir": scene["ndvi_250m"]})
    ['red', 'nir']
    >>> guide_labels(scene["ndvi_250m"])
    ['ndvi_250m']
    """
    if isinstance(guide, Mapping):
        return _keyed_labels(guide)
    if isinstance(guide, (list, tuple)):
        return _list_labels(guide)
    if not isinstance(guide, xr.DataArray):
        return []
    try:
        gy, gx = spatial_dims(guide)
    except Exception:
        return []
    extra = [d for d in guide.dims if d not in (gy, gx) and not _is_time_like(guide, d)]
    if len(extra) == 1 and extra[0] in guide.coords and (
            guide[extra[0]].dtype.kind in "US"
            or all(isinstance(v, str) for v in guide[extra[0]].values.tolist())):  # to_array()
        return GuideLabels.of([str(v) for v in guide[extra[0]].values], "raster", str(extra[0]))
    if len(extra) == 1:  # a GeoTIFF's bands numbered 1, 2... and described 'NDVI', 'albedo'
        # open_cog's band_description coordinate, or rioxarray's tuple long_name
        described = _described_bands(guide, extra[0])
        if described is None:
            described = _file_descriptions(guide, extra[0])
        if described is not None:
            return GuideLabels.of(described, "raster", str(extra[0]))
    if extra and any(guide.sizes[d] > 1 for d in extra):
        return [None] * int(np.prod([guide.sizes[d] for d in extra]))
    return [_described(guide, None if guide.name is None else str(guide.name))]


#: keys that name no quantity: the variables of ``rioxarray.open_rasterio(...,
#: band_as_variable=True)`` ('band_1', 'band_2') and of ``xr.open_dataset(...,
#: engine="rasterio")`` ('band_data'), which keep the file's band descriptions in their attrs
_KEY_WITHOUT_MEANING = re.compile(r"(band|b|channel|layer)_?\d+|band_data", re.IGNORECASE)


def _band_dim_labels(band: xr.DataArray) -> list[str | None]:
    """A dict or Dataset field's channel labels (:func:`guide_labels`) where its one extra dim
    besides time holds channels, else ``[None]``: a dim of steps (an LST's 'overpass' of 'day'
    and 'night') is matched with the LST's, not taken for channels. Their labels were
    taken for channels (['day', 'night', 'day', 'night'] for two keys), which turned the keys'
    check off: swapped keys ran silently (300.23 K for 295.29 K)."""
    try:
        gy, gx = spatial_dims(band)
    except Exception:
        return [None]
    extra = [d for d in band.dims if d not in (gy, gx) and not _is_time_like(band, d)]
    if len(extra) != 1:
        return [None]
    d = extra[0]
    # only a dim of steps is left out: named as one, or labelled day / night. Any other
    # labelled dim holds channels ('variable' of to_array(), 'layer': keeping only the band
    # dims, their swapped channels ran silently, 304.50 K for 299.50 K, review 50m/1)
    steps = str(d).lower() in ("overpass", "day_night") or (
        d in band.coords and band[d].size > 0
        and all(isinstance(v, (str, bytes)) and _label_text(v) in ("day", "night")
                for v in np.asarray(band[d].values).ravel()))
    return [None] if steps else guide_labels(band)


def _names_quantity(text: str) -> bool:
    """Whether a label names NDVI or another known quantity ('red', 'SR_B4', 'albedo')."""
    return _says_ndvi(text) or bool(_other_quantities(text))


def _piece_label(key: str | None, band: xr.DataArray) -> str | None:
    """The label of one band of a list or dict guide, known by ``key`` (a dict's key, a list
    piece's name; None where it has none), from its own description (its ``long_name`` or
    ``description``: a GeoTIFF band's, as rioxarray and xarray's rasterio engine keep it; or
    a ``standard_name`` that names a quantity) where the key says nothing: a rasterio
    reader's ``band_1`` / ``band_data``, no name, or a key that names no quantity ('a',
    'g1') beside a description that names one ('red', 'NDVI'). A key that names a quantity
    is the user's word and is kept. A description that names NDVI beside reflectances ('NDVI
    from red and NIR reflectance') labels nothing. Returns ``key`` where the band has no
    description (a dict of undescribed bands under 'a', 'b' is not checked by its labels:
    only its values are)."""
    plain = [band.attrs.get(a) for a in ("long_name", "description")]
    plain = [t.strip() for t in plain if isinstance(t, str) and t.strip()]
    std = band.attrs.get("standard_name")
    texts = plain + ([std.strip()] if isinstance(std, str) and std.strip() else [])
    ndvi = [t for t in texts if _says_ndvi(t)]
    said: str | None
    if ndvi:
        clean = [t for t in ndvi if not _other_quantities(t)]
        if not clean:
            return key
        # 'NDVI' as a token, so that a model channel 'ndvi' is found in it (CF's
        # 'normalized_difference_vegetation_index' holds none)
        said = clean[0] if "ndvi" in _tokens(clean[0]) else f"NDVI ({clean[0]})"
    else:
        said = next((t for t in texts if _other_quantities(t)), None)
    if said is not None and (key is None or _KEY_WITHOUT_MEANING.fullmatch(key)
                             or not _names_quantity(key)):
        return said
    if plain and not ndvi and (key is None or _KEY_WITHOUT_MEANING.fullmatch(key)):
        return plain[0]
    return key


def _list_labels(guide: Sequence[Any]) -> GuideLabels:
    """:func:`guide_labels` of a list guide: one label per channel, in :func:`prepare_guide`'s
    order; a piece labelled by its name, or by its own description where its name says
    nothing (:func:`_piece_label`: single-band GeoTIFFs read with rioxarray, ``band_1`` of
    ``band_as_variable=True``, ``band_data`` of ``engine="rasterio"``); a piece of several
    channels by its bands' labels. A piece described 'NDVI' was unlabelled, and a list of
    (red, NDVI) files ran silently through a model of (NDVI, red), which refuses the same
    bands given as a dict."""
    labels: list[str | None] = []
    for g in guide:
        if not isinstance(g, xr.DataArray):
            labels.append(None)
            continue
        own = _band_dim_labels(g)
        if len(own) > 1:  # a band dim of its own: its channels
            labels.extend(own)
            continue
        labels.append(_piece_label(None if g.name is None else str(g.name), g))
    return GuideLabels.of(labels, "list")


def _keyed_labels(guide: Mapping) -> GuideLabels:
    """:func:`guide_labels` of a dict or Dataset: its keys (which advice on the bands selects
    by), with ``described``, each channel's label for :func:`check_guide_labels`: a key that
    names no quantity (``band_1``: a GeoTIFF read with ``band_as_variable=True``) gives way to
    its band's description (its ``long_name`` or ``description``, the file's band description
    there), and a band of several channels (``band_data`` of ``xr.open_dataset(...,
    engine="rasterio")``) is labelled as that DataArray is (its bands' descriptions), one label
    per channel. Neither was read: a (red, NDVI) file ran silently through a model of (NDVI,
    red), which refuses the same file read as one DataArray. A key that names no quantity
    ('a', 'g1') gives way to a description that names one ('red', 'NDVI'); bands with no
    description under such keys stay unlabelled: only their values are checked."""
    keys = [str(k) for k in guide]
    # the bands prepare_guide takes (a Dataset's spatial_ref or crs variable is none)
    fields = (raster_fields(guide) or guide) if isinstance(guide, xr.Dataset) else guide
    described: list[str | None] = []
    for k, band in fields.items():
        key = str(k)
        own = _band_dim_labels(band) if isinstance(band, xr.DataArray) else [key]
        if len(own) > 1:  # a band dim of its own: its channels, in prepare_guide's order
            described.extend(own)
            continue
        described.append(_piece_label(key, band) if isinstance(band, xr.DataArray) else key)
    out = GuideLabels.of(keys, "keyed")
    if described != keys:
        out.described = described
    return out


def _tokens(label: str) -> set[str]:
    return {t for t in re.split(r"[^a-z0-9]+", label.lower()) if t}


def check_guide_labels(labels: Sequence[str | None], names: Sequence[str], method: str, *,
                       reorder: str | None = None) -> None:
    """Refuse guide channels whose labels say they are not the channels a model was trained on
    (``names``, in order): a band labelled as another quantity ('red' where the model takes
    'ndvi'), or the model's channels in another order. Unlabelled channels, and labels that
    neither name a model channel nor another known quantity ('band_data', 'b1', a dict's
    'a' over an undescribed band), pass: the statistics check (:func:`check_guide_values`)
    judges their values. A channel labelled as another model channel is refused beside
    unlabelled ones too (['red', None] for a model of 'ndvi', 'red': the one unlabelled
    channel is taken for the model channel no label names, and the reorder advised). Products' reflectance
    band names ('sur_refl_b02', 'SR_B5', 'B04', 'Nadir_Reflectance_Band2') name another
    quantity than NDVI: a NIR band passed the statistics check and shifted DISR's output by 2 K.
    ``reorder``: the band-order code for the guide's form as passed
    (:func:`band_reorder_code`), filled with the channels' positions; without it, the code of
    each form (a fixed ``guide.sel(band=[...])`` failed on a list guide or a 'channel' dim).

    Examples
    --------
    >>> check_guide_labels(["ndvi_250m"], ["ndvi"], "disr")
    >>> check_guide_labels(["red"], ["guide0"], "torch")  # a model that names no channel
    >>> check_guide_labels(["red"], ["ndvi"], "disr")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    xlstsr.errors.GuideScaleError: guide channel 0 is labelled 'red' but method 'disr' was trained on 'ndvi' ...
    """
    # a dict or Dataset's bands labelled by their descriptions where their keys say nothing
    # ('band_1', 'band_data': rioxarray's and xarray's rasterio readers)
    labels = getattr(labels, "described", None) or labels
    given = [str(n) for n in names]
    names = [str(n).lower() for n in names]
    if not names or len(labels) != len(names):
        return
    import re

    # a checkpoint that records no channel names gets 'guide0', 'guide1'...: nothing to compare
    generic = [bool(re.fullmatch(r"(guide|band|channel|b)_?\d+", n)) for n in names]
    if all(generic):
        return
    where: list[int | None] = []
    for label in labels:
        toks = _tokens(label) if label else set()
        hits = [j for j, n in enumerate(names) if n in toks or (label and n == label.lower())]
        where.append(hits[0] if len(hits) == 1 else None)
    placed = [w for w in where if w is not None]
    if where.count(None) == 1 and len(set(placed)) == len(placed) and not any(
            w is None and label and _names_quantity(label) for label, w in zip(labels, where)):
        # one channel unlabelled (a list of a 'red' file and an undescribed NDVI): it is the
        # model channel no other label names, so that 'red' at the NDVI's place is reordered
        # (it was skipped, as it names a model channel: the swapped bands ran silently)
        free = [j for j in range(len(names)) if j not in placed]
        where = [free[0] if w is None else w for w in where]
    if all(w is not None for w in where) and where != list(range(len(names))) and (
        sorted(where) == list(range(len(names)))  # type: ignore[type-var]
    ):
        # perm[j]: the channel given for the model's channel j, as the values' order advice
        # writes it (_band_order_hint), in code for the guide's form as passed
        perm = [where.index(j) for j in range(len(names))]
        order = ", ".join(str(p) for p in perm)
        keyed = ", ".join(f"{given[j]!r}: bands[{perm[j]}]" for j in range(len(names)))
        code = (f"`{reorder.format(order=order, keyed=keyed)}`" if reorder is not None else
                f"a list `guide = [guide[i] for i in [{order}]]`, a DataArray of bands "
                f"`guide = guide.isel(band=[{order}])` (with its own band dim's name), a dict "
                f"or Dataset `bands = list(guide.values()); guide = {{{keyed}}}`")
        raise GuideScaleError(
            f"the guide's channels are labelled {list(labels)} but method {method!r} takes "
            f"{names} in that order: reorder them into the model's order (channels {order}): "
            f"{code}."
        )
    for c, (label, w) in enumerate(zip(labels, where)):
        if label is None or w == c or generic[c]:
            continue
        if w is not None:
            # another model channel's band at this place, beside unlabelled ones (or twice)
            raise GuideScaleError(
                f"guide channel {c} is labelled {label!r}, the model's channel {w} "
                f"({given[w]!r}), but method {method!r} takes {names} in that order and "
                f"{given[c]!r} for channel {c}: pass the bands in the model's order (the "
                f"{given[c]} band as channel {c}). If the band is {given[c]}, label it so (a "
                "dict key, or the band's name).")
        if not _tokens(names[c]) & (_OTHER_BANDS | {"ndvi"}):
            # a model name that is no known quantity ('sur_refl_b01', 'SR_B4'): 'red' may be
            # it, renamed; the values' check judges
            continue
        other = _other_quantities(label)
        if not other and _says_ndvi(label) and "ndvi" not in _tokens(names[c]):
            # NDVI is another quantity too, for a model trained on a named non-NDVI channel
            # ('albedo'): its values pass that model's statistics check
            other = {"ndvi"}
        if other:
            hint = (" For MODIS, `ndvi = (nir - red) / (nir + red)` of the surface reflectances."
                    if "ndvi" in names[c] else
                    " For an NDVI guide, the bundled DISR weights take it (`method='disr'` "
                    "without model=)." if other == {"ndvi"} else "")
            raise GuideScaleError(
                f"guide channel {c} is labelled {label!r} but method {method!r} was trained on "
                f"{names[c]!r} for that channel: pass the {names[c]} band it expects.{hint} If the "
                f"band is {names[c]}, label it so (e.g. `guide.rename({names[c]!r})` or the dict "
                "key)."
            )
