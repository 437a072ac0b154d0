"""Input checks and decoding: spatial dims, georeferencing, units, scaled integers, fill values.

The front door of every entry point (:func:`xlstsr.upscale`, :func:`xlstsr.upscale_to_zarr`,
:func:`xlstsr.scaling_stats`, :func:`xlstsr.evaluate`, training) is :func:`select_lst` (which
variable, CRS from the Dataset, a guide named by variable) and :func:`prepare_lst` (that, plus
georeferencing, decoding to Kelvin and the all-NaN check).

Value checks run inside the dask graph on dask inputs (they raise when the block is computed), so
validating never forces a computation.
"""

from __future__ import annotations

import json
import numbers
import os
import re
import shlex
import warnings
from collections.abc import Callable, Hashable, Mapping, Sequence
from functools import cache, partial
from typing import Any

import dask
import dask.array as dsa
import numpy as np
import pandas as pd
import rioxarray  # registers .rio (its exceptions are used too)
import xarray as xr

from .attrs import with_global_attrs
from .errors import (
    AllNaNError,
    GridError,
    GuideScaleError,
    ImplausibleOutputError,
    InputTypeError,
    MissingCRSError,
    NoSpatialDimsError,
    PhysicalRangeError,
    PhysicalRangeWarning,
    ResampledInputWarning,
    ScaledIntegerError,
    UndeclaredFillError,
    UnitsError,
    VariableNotFoundError,
    XlstsrError,
    warn,
)

__all__ = [
    "DECLARABLE",
    "FILL_SHARE",
    "MAX_FACTOR",
    "PHYSICAL_RANGE_K",
    "all_nan_advice",
    "check_bool",
    "check_declarations",
    "check_factor",
    "check_kelvin_array",
    "check_number",
    "check_output",
    "check_output_size",
    "check_whole",
    "crs_mismatch",
    "declare_lst",
    "decode_guide",
    "decode_lst",
    "georeference",
    "image_order",
    "nearest_block_size",
    "nearest_blocks",
    "north_up",
    "north_up_flips",
    "prepare_lst",
    "raster_fields",
    "require_georeferenced",
    "require_latlon_crs",
    "require_nonempty",
    "require_regular",
    "require_valid_pixels",
    "select_lst",
    "select_variable",
    "spatial_dims",
    "spatial_names",
    "stored_values",
    "suspect_fill",
    "suspect_guide_fill",
    "temperature_units",
    "warn_if_resampled",
    "warn_if_super_resolved",
]

#: Land surface temperatures outside this range (Kelvin) are not physical on Earth.
PHYSICAL_RANGE_K = (150.0, 400.0)
#: Up to this fraction of valid pixels, at most this many Kelvin above the range, is masked with a
#: warning (fires, sensor artefacts: one real MODIS pair has a 402 K pixel) rather than rejected.
HOT_SPOT_FRACTION = 0.01
HOT_SPOT_MARGIN_K = 50.0
#: An undeclared fill value: one value (to within FILL_REL_TOL) on at least this share of an
#: image's valid pixels (and at least FILL_MIN_PIXELS of them), at least FILL_GAP_K below the
#: median of the others and FILL_IQR of their inter-quartile ranges below their lower quartile
#: (:func:`suspect_fill`).
FILL_SHARE = 0.05
FILL_MIN_PIXELS = 16
FILL_GAP_K = 20.0
FILL_IQR = 3.0
#: values within this fraction of a fill candidate count as that value (exact for 0): resampled,
#: the ASTER references' fill 2000 (200 K, 11-14 % of each scene) spreads over hundreds of values
#: within 0.002 K of it, none of them on FILL_SHARE alone; real temperatures on a share of a
#: scene far below the rest are not that close to one value
FILL_REL_TOL = 1e-5
#: an integer image stored as 0 on every valid pixel is a fill when 0 decodes outside the
#: physical range, when its stored step is this fine (K x 50 or finer: a real scene is never
#: exactly 0.00 on every pixel), or when it holds this many pixels (a whole image, not a crop
#: of melting ice): a whole-degree or degC x 10 crop at 0 degC is data
ZERO_FILL_MAX_SCALE = 0.02
ZERO_FILL_MIN_PIXELS = 256 * 256
#: ... and at any share (at least FILL_MIN_PIXELS pixels) beyond FILL_FAR_IQR of them: -9999 in
#: an NDVI band is 30 000 inter-quartile ranges out, a saturated reflectance tens at most
FILL_FAR_IQR = 100.0
#: fill values of fields in degrees Celsius (SEVIRI's -80; 0, a tool's default): as a
#: product's fill on a few pixels, where repeated exactly apart from every other value by
#: FILL_GAP_K (:func:`_lst_verdict`)
CELSIUS_FILLS = (-80.0, 0.0)
#: the products' usual fill values (MOD13 NDVI -3000, MOD09 -28672, int16/uint16 extremes,
#: -9999): outside the others by FILL_IQR, refused at any share too
FILL_SENTINELS = frozenset({-3000.0, -9999.0, -28672.0, -32768.0, -32767.0, 32767.0, 65535.0})
#: the valid ranges, as stored (whole numbers), of the products whose fill is one of
#: FILL_SENTINELS: MOD13 NDVI / EVI x 10000 (-2000..10000, fill -3000), MOD09 reflectance x
#: 10000 (-100..16000, fill -28672). On an NDVI x 10000 band, whose inter-quartile range is
#: ~3000, -3000 lies only ~2.7 of them out: below the valid range, apart from every other value,
#: it is the fill at any share (:func:`suspect_guide_fill`)
SENTINEL_RANGES = {-3000.0: (-2000.0, 10000.0), -28672.0: (-100.0, 16000.0)}
#: the extremes of integer types, which GDAL and CF write as fills (uint8 255, uint16 65535, the
#: int16 / int32 extremes and CF's defaults -32767, -2147483647), each with the range of its type:
#: in a guide of whole numbers within that range, such a value set apart from all the others by
#: more than their inter-quartile range is a fill, at any share (:func:`suspect_guide_fill`).
#: 255 on an NDVI x 250 band lies only 2 inter-quartile ranges above the quartiles, but 80 above
#: the largest NDVI; a saturated uint8 band runs on up to 255 and stays data
INTEGER_FILLS = {
    255.0: (0.0, 255.0),
    65535.0: (0.0, 65535.0),
    **dict.fromkeys((-32768.0, -32767.0, 32767.0), (-32768.0, 32767.0)),
    **dict.fromkeys((-2147483648.0, -2147483647.0, 2147483647.0),
                    (-2147483648.0, 2147483647.0)),
}
#: fill values of LST products and tools, named as fills even on one pixel (in Kelvin after
#: decoding: a value no temperature takes): 16-bit extremes, -9999 / 9999, float32's lowest
LST_FILL_SENTINELS = frozenset({65535.0, 32767.0, -32768.0, -32767.0, 9999.0, -9999.0,
                                float(np.finfo(np.float32).min)})
#: a magnitude no scale of a temperature or an NDVI reaches: a value repeated there is a fill
#: (NetCDF's default float fill 9.96921e36, float32's extremes)
NEVER_DATA = 1e20
#: Landsat Collection 2 Level-2 surface temperature: K = DN x scale + offset (DN 0: fill)
LANDSAT_C2_ST_SCALE = 0.00341802
LANDSAT_C2_ST_OFFSET = 149.0
#: NetCDF's default fill of float variables (written where a variable has no data)
NETCDF_DEFAULT_FILL = 9.969209968386869e36
#: Largest upscaling factor :func:`xlstsr.upscale` accepts (1 km -> 15.6 m; a typo such as 400
#: would ask for 160 000 times the input's memory).
MAX_FACTOR = 64

_KELVIN = {"k", "kelvin", "kelvins", "degk", "deg_k", "degrees_k", "degree_kelvin"}
_CELSIUS = {
    "c", "°c", "degc", "deg_c", "celsius", "degree_celsius", "degrees_celsius", "degrees c",
    "deg c", "degree c", "celcius",
}
_FILL_KEYS = ("_FillValue", "missing_value", "nodata", "_Unsigned_fill")


_LAT_NAMES = ("lat", "latitude", "nav_lat")
_LON_NAMES = ("lon", "long", "longitude", "nav_lon")


def spatial_names(da: xr.DataArray | xr.Dataset) -> dict[str, str]:
    """The renaming ``{lat: "y", lon: "x"}`` that makes a lat/lon-named input readable by
    rioxarray (which finds ``y``/``x`` and ``latitude``/``longitude`` only), or ``{}``.

    rioxarray forgets dims declared with ``rio.set_spatial_dims`` after any operation (an
    ``isel``, a ``where``), so such dims, and any rioxarray finds under other names, are
    renamed to ``y``/``x`` too: the front door renames them (:func:`prepare_lst`) and
    :func:`xlstsr.upscale` gives the output the input's names back.

    Examples
    --------
    >>> da = xr.DataArray(np.zeros((2, 3)), dims=("lat", "lon"))
    >>> spatial_names(da)
    {'lat': 'y', 'lon': 'x'}
    >>> spatial_names(da.rename(lat="northing", lon="easting").rio.set_spatial_dims(
    ...     x_dim="easting", y_dim="northing"))
    {'northing': 'y', 'easting': 'x'}
    """
    dims = [str(d) for d in da.dims]
    try:
        found = {str(da.rio.y_dim): "y", str(da.rio.x_dim): "x"}
    except Exception:  # rioxarray finds none: lat/lon names below
        found = None
    if found is not None:
        rename = {k: v for k, v in found.items() if k != v}
        # a y or x dim besides the declared ones: renaming would collide, keep the declaration
        return {} if any(v in dims for v in rename.values()) else rename
    lat = [d for d in dims if d.lower() in _LAT_NAMES]
    lon = [d for d in dims if d.lower() in _LON_NAMES]
    if len(lat) == 1 and len(lon) == 1 and "y" not in dims and "x" not in dims:
        return {lat[0]: "y", lon[0]: "x"}
    return {}


def _swath_hint(obj: xr.DataArray | xr.Dataset) -> str:
    """A sentence naming 2-D lat/lon coordinates (a swath or curvilinear grid), or ''."""
    two_d = [str(k) for k, c in obj.coords.items()
             if c.ndim >= 2 and str(k).lower() in (*_LAT_NAMES, *_LON_NAMES)]
    if not two_d:
        return ""
    return (f" Its coordinates {two_d} are 2-D: a swath or curvilinear grid, which xlstsr cannot "
            "upscale as it is; resample it onto a regular grid first (e.g. with pyresample, or "
            "GDAL warping with its geolocation arrays), then give it 1-D y/x coordinates and a CRS.")


#: dim names, lower-cased, that name a raster's rows and columns (rioxarray finds only y/x)
_ROW_NAMES = ("y", "row", "rows", "line", "lines", "northing")
_COL_NAMES = ("x", "col", "cols", "column", "columns", "sample", "samples", "easting")


def _row_col_dims(dims: tuple[Hashable, ...]) -> tuple[Hashable, Hashable]:
    """The dims of ``dims`` that are a raster's rows and columns by name, in any case (``Y`` /
    ``X``, ``rows`` / ``cols``: one of each), else the last two, else ``("row", "col")``.

    Examples
    --------
    >>> _row_col_dims(("Y", "X", "Band")), _row_col_dims(("band", "r", "c"))
    (('Y', 'X'), ('r', 'c'))
    """
    ys = [d for d in dims if str(d).lower() in _ROW_NAMES]
    xs = [d for d in dims if str(d).lower() in _COL_NAMES]
    if len(ys) == 1 and len(xs) == 1:
        return ys[0], xs[0]
    return (dims[-2], dims[-1]) if len(dims) >= 2 else ("row", "col")


def spatial_dims(obj: xr.DataArray | xr.Dataset) -> tuple[str, str]:
    """Return the names of the (y, x) dimensions, found as rioxarray finds them.

    Raises
    ------
    NoSpatialDimsError
        When neither ``y``/``x``, ``latitude``/``longitude``, CF-tagged coordinates nor dims set
        with ``rio.set_spatial_dims`` are present.
    """
    try:
        return str(obj.rio.y_dim), str(obj.rio.x_dim)
    except Exception as err:  # rioxarray raises MissingSpatialDimensionError
        dims = tuple(obj.dims)
        names = spatial_names(obj)
        if names:
            # lat/lon dims: the entry points (upscale, coarsen, evaluate, the metrics) rename
            # them; saying "xlstsr looks for lat/lon" of dims named lat/lon contradicted itself
            raise NoSpatialDimsError(
                f"dims {tuple(names)} are latitude and longitude, which this function takes "
                f"only named y/x: rename them first, `da.rename({names})` (xlstsr.upscale, "
                f"coarsen, evaluate and the metrics rename them themselves).{_swath_hint(obj)}"
            ) from err
        # the rename spelled with the user's own dims (a fixed {'row': 'y', 'col': 'x'} failed
        # when pasted): those named as rows and columns in any case (GDAL's Zarr of a
        # pixel-interleaved GeoTIFF is (Y, X, Band): the last two renamed put the raster on its
        # bands), else the last two, the raster's rows and columns by convention
        yd, xd = _row_col_dims(dims)
        swath = _swath_hint(obj)
        if swath:
            # 2-D lat/lon: renamed, the dims' pixel indices became the grid (under EPSG:4326,
            # 1-degree pixels at 0..n degrees): only the resampling advice stands
            raise NoSpatialDimsError(
                f"no spatial dimensions found in dims {dims} (no 1-D y/x or lat/lon "
                f"coordinates).{swath}") from err
        raise NoSpatialDimsError(
            f"no spatial dimensions found in dims {dims}. xlstsr looks for y/x or "
            f"latitude/longitude (lat/lon at its entry points); rename yours (e.g. "
            f"`da.rename({{{yd!r}: 'y', {xd!r}: 'x'}})`) or declare them with "
            f"`da.rio.set_spatial_dims(x_dim={xd!r}, y_dim={yd!r})`."
        ) from err


def raster_fields(ds: xr.Dataset) -> dict[Hashable, xr.DataArray]:
    """A Dataset's rasters: its variables with both spatial dims, each with its CF grid
    mapping as a coordinate (the CRS travels along). A grid-mapping variable (``crs``) or
    ``time_bnds`` has no spatial dims and is left out: taken as a raster, it was refused as
    "no spatial dimensions", with a rename of ``nv`` to ``x`` suggested.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"ndvi": (("y", "x"), np.zeros((2, 2))), "crs": ((), 0)},
    ...                 coords={"y": [1.5, 0.5], "x": [0.5, 1.5]})
    >>> list(raster_fields(ds))
    ['ndvi']
    """
    fields = {}
    for k, v in ds.data_vars.items():
        try:
            spatial_dims(v)
        except XlstsrError:
            continue
        gm = v.attrs.get("grid_mapping", v.encoding.get("grid_mapping"))
        if isinstance(gm, str) and gm in ds.data_vars and gm not in v.coords:
            v = v.assign_coords({gm: ds[gm]})
        fields[k] = v
    return fields


def _written_transform(da: xr.DataArray) -> Any:
    """The transform written in the grid-mapping variable (``rio.write_transform``), or None."""
    from affine import Affine

    try:
        gm = da.rio.grid_mapping
    except Exception:
        return None
    if gm not in da.coords:
        return None
    gt = da.coords[gm].attrs.get("GeoTransform")
    if gt is None:
        return None
    try:
        return Affine.from_gdal(*(float(v) for v in str(gt).split()))
    except (TypeError, ValueError):
        return None


def label_transform(da: xr.DataArray) -> Any:
    """``da.rio.transform(recalc=True)``: the transform rioxarray computes from the first and
    last labels of each axis, computed as it does from the label arrays (its own reads each
    label through the DataArray's indexing: 4.4 ms a call against 0.36 ms on a 200 x 200
    grid, and every step of a run asks again). rioxarray's where it does not compute it from
    the labels: an axis of one pixel or without labels, a written transform with rotation.

    Examples
    --------
    >>> import rioxarray  # noqa: F401
    >>> da = xr.DataArray(np.zeros((2, 3)), dims=("y", "x"),
    ...                   coords={"y": [1500.0, 500.0], "x": [500.0, 1500.0, 2500.0]})
    >>> label_transform(da) == da.rio.transform(recalc=True)
    True
    """
    from affine import Affine

    try:
        rio = da.rio
        xd, yd, gm = rio.x_dim, rio.y_dim, rio.grid_mapping
        gm = da.coords[gm] if gm in da.coords else None
    except Exception:  # rioxarray names what is missing
        return da.rio.transform(recalc=True)
    # (coords.get makes a range for a dimension without labels: rioxarray refuses those)
    xc = da.coords[xd] if xd in da.coords else None
    yc = da.coords[yd] if yd in da.coords else None
    written = gm is not None and "GeoTransform" in gm.attrs
    t = _written_transform(da) if written else None
    if xc is None or yc is None or xc.size < 2 or yc.size < 2 or xc.ndim != 1 or yc.ndim != 1 \
            or (written and (t is None or t.b != 0 or t.d != 0)) \
            or (not written and "transform" in da.attrs):
        return da.rio.transform(recalc=True)
    xv, yv = xc.values, yc.values
    left, right, top, bottom = float(xv[0]), float(xv[-1]), float(yv[0]), float(yv[-1])
    # rioxarray's resolution(recalc=True), then its _unordered_bounds, to the bit
    res_x, res_y = (right - left) / (xc.size - 1), (bottom - top) / (yc.size - 1)
    left -= res_x / 2.0
    top -= res_y / 2.0
    return Affine.translation(left, top) * Affine.scale(res_x, res_y)


def _dates_as_datetime64(da: xr.DataArray, what: str = "input") -> xr.DataArray:
    """Day labels held as Python ``datetime.date`` objects or pandas Periods as numpy dates:
    a Zarr store could not hold them (xarray's "cannot serialize arbitrary Python objects"),
    and a guide dated with numpy dates "had no step with that label" on the same days. A
    guide's dates in UTC as naive UTC (instants and days agree there); other zones are refused
    by require_georeferenced, naming both readings."""
    import datetime

    new = {}
    for d in da.dims:
        idx = da.indexes.get(d)
        tz = getattr(idx, "tz", None)
        if what == "guide" and tz is not None and str(tz) in ("UTC", "Etc/UTC", "utc"):
            new[d] = idx.tz_convert(None)
        elif isinstance(idx, pd.PeriodIndex):
            new[d] = idx.to_timestamp()
        elif (idx is not None and idx.dtype == object and len(idx)
              and all(type(v) is datetime.date for v in idx)):
            new[d] = pd.to_datetime(list(idx))
    for c, v in da.coords.items():  # one image's date (`.sel(time=t)`)
        if v.ndim == 0 and v.dtype == object and type(v.item()) is datetime.date:
            new[c] = np.datetime64(v.item(), "ns")
    return da.assign_coords(new) if new else da


def require_known_chunks(obj: Any, what: str = "LST") -> None:
    """Raise :class:`GridError` when a dask array of ``obj`` (a DataArray, or a Dataset's data
    variables) has unknown (NaN) chunk sizes, as boolean indexing leaves them: every step after
    needs the sizes, and failed with xarray's "Data shape (nan, 64, 64) must match shape of
    object" or "cannot convert float NaN to integer" that name neither the cause nor the fix.

    Examples
    --------
    >>> a = dsa.ones((3, 4, 4), chunks=(1, 4, 4))
    >>> da = xr.DataArray(a[a.sum(axis=(1, 2)) > 0], dims=("time", "y", "x"))
    >>> require_known_chunks(da)
    Traceback (most recent call last):
    ...
    xlstsr.errors.GridError: the LST's dask chunk sizes along 'time' are unknown ...
    >>> require_known_chunks(da.copy(data=da.data.compute_chunk_sizes()))
    """
    if isinstance(obj, xr.Dataset):
        for v in obj.data_vars.values():
            require_known_chunks(v, what)
        return
    # (.chunks, not .data: a lazily indexed file's .data reads it whole)
    chunks = obj.chunks if isinstance(obj, xr.DataArray) else None
    if not chunks:
        return
    unknown = [d for d, c in zip(obj.dims, chunks) if any(not np.isfinite(n) for n in c)]
    if unknown:
        name = "guide" if what == "guide" else "da"
        raise GridError(
            f"the {what}'s dask chunk sizes along {str(unknown[0])!r} are unknown (NaN, e.g. after "
            f"boolean indexing): compute them first: `{name} = "
            f"{name}.copy(data={name}.data.compute_chunk_sizes())`."
        )


def without_empty_chunks(obj: Any) -> Any:
    """``obj`` (a DataArray or Dataset) with its dask chunks of length 0 merged away: boolean
    indexing of an array chunked one date per chunk, after ``compute_chunk_sizes()``, leaves
    chunks ``(1, 0, 1)``, on which numpy failed deep in the method ("cannot reshape array of
    size 0"). Only the empty chunks go: the others, and the values, are unchanged.

    Examples
    --------
    >>> a = dsa.ones((3, 4, 4), chunks=(1, 4, 4))
    >>> a = a[dsa.from_array(np.array([True, False, True]), chunks=1)].compute_chunk_sizes()
    >>> without_empty_chunks(xr.DataArray(a, dims=("time", "y", "x"))).chunks[0]
    (1, 1)
    """
    if isinstance(obj, xr.Dataset):
        fixed = {k: without_empty_chunks(v) for k, v in obj.data_vars.items()}
        changed = {k: v for k, v in fixed.items() if v is not obj[k]}
        return obj.assign(changed) if changed else obj
    chunks = obj.chunks if isinstance(obj, xr.DataArray) else None
    if not chunks:
        return obj
    merge = {d: tuple(n for n in c if n) for d, c in zip(obj.dims, chunks)
             if 0 in c and sum(c) > 0}
    return obj.chunk(merge) if merge else obj


def _degree_span(da: xr.DataArray, ydim: Any, xdim: Any) -> tuple[bool | None, str]:
    """``(in_degrees, span)``: whether the 1-D coordinates of ``ydim``/``xdim`` lie where
    lat/lon degrees can (y within ±90, x within -180..360, as 0..360 longitudes do), None when
    there are none or they are not numbers; and their span ("x 10 to 10.2, y 44.8 to 45"),
    for advice that says why it names a geographic or a projected CRS."""
    if ydim not in da.coords or xdim not in da.coords:  # xarray's 0, 1, 2... stand-ins
        return None, ""
    try:
        y = np.asarray(da[ydim].values, dtype=np.float64)
        x = np.asarray(da[xdim].values, dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        return None, ""
    if y.ndim != 1 or x.ndim != 1 or not (np.isfinite(y).any() and np.isfinite(x).any()):
        return None, ""
    if _pixel_indices(x) and _pixel_indices(y):
        # a raster without georeferencing (0.5, 1.5, ...): no CRS makes them places; told
        # EPSG:4326 it was written as 1-degree pixels at 0-32 E
        return None, ""
    span = (f"x {np.nanmin(x):.6g} to {np.nanmax(x):.6g}, "
            f"y {np.nanmin(y):.6g} to {np.nanmax(y):.6g}")
    degrees = bool(np.nanmax(np.abs(y)) <= 90 and np.nanmin(x) >= -180 and np.nanmax(x) <= 360)
    return degrees, span


def _refuse_pixel_indices(da: xr.DataArray, ydim: Any, xdim: Any, what: str) -> None:
    """Refuse a field without a CRS whose coordinates are the pixel indices (0, 1, 2... or
    + 0.5: a GeoTIFF without a transform, an array given ``np.arange`` labels): no CRS makes
    them places (told EPSG:4326 it was written as 1-degree pixels at 0-32 E, told a UTM code it
    was refused in turn as pixel indices). Dims without coordinates (xarray's 0, 1, 2...
    stand-ins: a swath's 2-D lat/lon) are not judged here."""
    if ydim not in da.coords or xdim not in da.coords:
        return
    try:
        y = np.asarray(da[ydim].values, dtype=np.float64)
        x = np.asarray(da[xdim].values, dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        return
    if y.ndim == 1 and x.ndim == 1 and _pixel_indices(y) and _pixel_indices(x):
        raise MissingCRSError(
            f"the {what} carries no georeferencing: no CRS, and its coordinates are pixel "
            "indices (0, 1, 2...), not positions, so no CRS alone can place it. Georeference "
            "the file first, e.g. `gdal_translate -a_srs EPSG:32631 -a_ullr ULX ULY LRX LRY "
            "in.tif out.tif` with its corners, or in Python `da.drop_vars(['y', 'x'])"
            ".rio.write_transform(Affine(res, 0, left, 0, -res, top)).rio.write_crs(...)`."
        )


def require_latlon_crs(da: xr.DataArray, what: str = "input") -> None:
    """Raise :class:`MissingCRSError` when ``da`` has lat/lon-named dims and no CRS: checked
    before they are renamed ``y``/``x``, after which the generic advice named a projected CRS
    (metres) for coordinates in degrees. The advice follows the coordinates' values, not the
    names: EPSG:4326 for values within ±90 (y) and -180..360 (x), a projected CRS for values
    beyond (a projected grid mislabelled lat/lon, which EPSG:4326 would refuse as "not
    degrees")."""
    names = spatial_names(da)
    latlon = bool(names) and all(str(k).lower() in (*_LAT_NAMES, *_LON_NAMES) for k in names)
    if da.rio.crs is not None or not latlon:
        return
    back = {v: k for k, v in names.items()}
    _refuse_pixel_indices(da, back["y"], back["x"], what)
    degrees, span = _degree_span(da, back["y"], back["x"])
    if degrees is False:
        raise MissingCRSError(
            f"the {what} has lat/lon dims {tuple(names)} but no CRS; its coordinates ({span}) "
            "are beyond the ranges of degrees (y ±90, x -180..360), so they are not degrees "
            "whatever the dims are called: they are a projected grid's (metres). Set the CRS "
            "they are in, e.g. `da = da.rio.write_crs('EPSG:32631')` for UTM zone 31N, or for "
            "MODIS sinusoidal "
            "`da.rio.write_crs(xlstsr.grid.MODIS_SINUSOIDAL)`."
        )
    why = f" (its coordinates, {span}, lie within the ranges of degrees)" if degrees else ""
    raise MissingCRSError(
        f"the {what} has lat/lon dims {tuple(names)} but no CRS; for degrees on WGS 84{why}: "
        "`da = da.rio.write_crs('EPSG:4326')`."
    )


def georeference(da: xr.DataArray, what: str = "input") -> xr.DataArray:
    """``da`` with its spatial coordinates completed, after :func:`require_georeferenced`.

    lat/lon-named dims are renamed ``y``/``x`` (:func:`spatial_names`); an array with a written
    transform (``rio.write_transform``) but no ``y``/``x`` coordinates gets pixel-centre
    coordinates from it; one georeferenced by ground control points only (no transform) or by a
    rotated transform is refused (:class:`GridError`, with the ``gdalwarp`` that fixes it).

    Examples
    --------
    >>> from affine import Affine
    >>> da = xr.DataArray(np.full((2, 3), 300.0), dims=("y", "x")).rio.write_crs("EPSG:32631")
    >>> da = da.rio.write_transform(Affine(1000, 0, 0, 0, -1000, 0))
    >>> georeference(da).x.values.tolist()
    [500.0, 1500.0, 2500.0]
    """
    require_known_chunks(da, what)
    da = without_empty_chunks(da)
    da = _dates_as_datetime64(da, what)
    names = spatial_names(da)
    if names:
        require_latlon_crs(da, what)
        da = da.rename(names)
    back = {v: k for k, v in names.items()}  # the user's names, for advice that assigns them
    try:
        ydim, xdim = spatial_dims(da)
    except NoSpatialDimsError:
        require_georeferenced(da, what, user_dims=back)  # raises the full message
        raise
    t = _written_transform(da)
    missing = [d for d in (ydim, xdim) if d not in da.coords and da.sizes[d] > 0]
    if missing and t is not None and (t.b != 0 or t.d != 0):
        # a rotated/sheared transform was reported as "no coordinates and no transform"
        raise GridError(
            f"the {what}'s transform is rotated or sheared ({tuple(round(v, 6) for v in t[:6])}"
            "): xlstsr works on north-up grids only. Warp the file onto one first, e.g. "
            "`gdalwarp -t_srs EPSG:XXXX rotated.tif northup.tif` (the CRS you want), and open "
            "that one."
        )
    n_gcps = _gcp_count(da) if missing else 0
    if n_gcps:
        # no transform, only ground control points (a raw swath, `gdal_translate -gcp`): the
        # identity transform made them pixel indices, refused with a Python-only fix
        try:
            epsg = da.rio.crs.to_epsg() if da.rio.crs is not None else None
        except Exception:  # a CRS rasterio cannot name: the placeholder
            epsg = None
        raise GridError(
            f"the {what} is georeferenced by {n_gcps} ground control points (GCPs) only, "
            "without a transform: xlstsr works on regular north-up grids. Warp the file onto "
            f"one first, e.g. `gdalwarp -t_srs EPSG:{epsg or 'XXXX'} in.tif out.tif` (the CRS "
            "you want" + (", here the GCPs' own" if epsg else "") + "; "
            "`-tps` for a thin-plate-spline fit of many GCPs), and open that one."
        )
    if missing and t is not None:
        # the missing axis only: the labels of the other are the truth (an edge pad keeps the
        # unpadded transform; rebuilt from it with the other's, every pixel moved a pixel)
        edges = {ydim: (t.f, t.e), xdim: (t.c, t.a)}
        da = da.assign_coords({d: edges[d][0] + (np.arange(da.sizes[d]) + 0.5) * edges[d][1]
                               for d in missing})
    require_georeferenced(da, what, user_dims=back)
    _warn_corner_coordinates(da, what, t)
    return north_up(_standard_grid_mapping(da))


def _gcp_count(da: xr.DataArray) -> int:
    """How many ground control points ``da``'s grid mapping holds (rioxarray keeps a GeoTIFF's
    GCPs there, in its 'gcps' attribute, and gives the raster no x/y), 0 for none."""
    try:
        return len(da.rio.get_gcps() or ())
    except Exception:  # no grid mapping, or GCPs rioxarray cannot read: none to name
        return 0


def _standard_grid_mapping(da: xr.DataArray) -> xr.DataArray:
    """The CRS held in a CF grid-mapping coordinate of another name (GDAL's NetCDF writer calls
    it ``sinusoidal``, ``transverse_mercator``; many files ``crs``) moved to ``spatial_ref``: it
    was found through ``encoding['grid_mapping']``, which the first computed copy loses, and the
    output's georeferencing failed at the very end (rioxarray's MissingCRS)."""
    try:
        gm = da.rio.grid_mapping
        if gm == "spatial_ref" or gm not in da.coords:
            return _fresh_transform(da)
        crs = da.rio.crs
    except Exception:  # rioxarray's own errors on odd attrs: the checks name them
        return da
    if crs is None:
        return da
    # a shallow copy: drop_vars shares the Variable (and its encoding) with the caller's array,
    # which lost its CRS when the copy's encoding was set
    out = da.drop_vars(gm).copy(deep=False)
    out.attrs = {k: v for k, v in da.attrs.items() if k != "grid_mapping"}
    out.encoding = {k: v for k, v in da.encoding.items() if k != "grid_mapping"}
    # in place on the shallow copy: rioxarray's own copy is a deep one (the data twice)
    out.rio.write_crs(crs, grid_mapping_name="spatial_ref", inplace=True)
    return _fresh_transform(out)


def _gives(labels: np.ndarray | None, c: float, a: float, tc: float, ta: float, atol: float) -> bool:
    """Whether the written (edge ``c``, pixel ``a``) of an axis give its ``labels``: equal to
    1e-9 to the (``tc``, ``ta``) recomputed from them, or, for labels held in a narrower float
    (a NetCDF's or Zarr's float32: 0.5 m steps at 5e6 m), each label within two of its own
    dtype's steps of the transform's pixel centre (the file's exact transform, rounded by
    whoever stored the labels)."""
    if np.allclose((c, a), (tc, ta), rtol=1e-9, atol=atol):
        return True
    if labels is None or labels.dtype.kind != "f" or labels.dtype.itemsize >= 8:
        return False
    centres = c + (np.arange(labels.size) + 0.5) * a
    tol = 2 * np.spacing(np.abs(labels)).astype(np.float64) + atol
    return bool(np.all(np.abs(labels.astype(np.float64) - centres) <= tol))



def _fresh_transform(da: xr.DataArray) -> xr.DataArray:
    """A GeoTransform written in the grid mapping that the coordinates no longer match,
    rewritten from them: ``da.coarsen(y=10, x=10).mean()`` or ``isel`` with a step keep the
    old one, which rioxarray's ``resolution()`` and ``bounds()`` read (estimate_offset took a
    LST brought back to its 1 km grid, as its own hint said, for the 100 m one). Pixel-centre
    coordinates are the truth here, as everywhere in xlstsr."""
    try:
        ydim, xdim = spatial_dims(da)
    except NoSpatialDimsError:
        return da
    t = _written_transform(da)
    if t is None or da.sizes[ydim] < 2 or da.sizes[xdim] < 2 or ydim not in da.coords \
            or xdim not in da.coords:
        return da
    try:
        fresh = label_transform(da)
    except Exception:  # irregular coordinates: the checks name them
        return da
    if np.allclose(tuple(t)[:6], tuple(fresh)[:6], rtol=1e-9, atol=1e-9 * abs(fresh.a)):
        return da

    def gives(v: np.ndarray, c: float, a: float, fc: float, fa: float) -> bool:
        # the labels, or them run the other way: a south-up field under the north-up
        # GeoTransform of its file, which north_up flips them onto (rewritten from the labels,
        # the file's pixel was lost: results 2e-14 degree off the north-up field's grid)
        tol = 1e-9 * abs(fa)
        return _gives(v, c, a, fc, fa, tol) or (
            v.size > 1 and _gives(v[::-1], c, a, fc + v.size * fa, -fa, tol))

    if t.b == 0 and t.d == 0 and fresh.b == 0 and fresh.d == 0 and all(
            gives(np.asarray(da[d].values), c, a, fc, fa)
            for d, c, a, fc, fa in ((ydim, t.f, t.e, fresh.f, fresh.e),
                                    (xdim, t.c, t.a, fresh.c, fresh.a))):
        # a file's exact transform under labels stored in float32 (a NetCDF's, a Zarr's):
        # the labels' own rounding, not a stale transform; recomputed, it put every result
        # ~1e-9 m off the file's grid (xarray joins on exact labels)
        return da
    out = da.copy(deep=False)  # rioxarray's own copy is a deep one (the data twice)
    out.rio.write_transform(fresh, inplace=True)
    return out


def _warn_corner_coordinates(da: xr.DataArray, what: str, t: Any) -> None:
    """Warn when the coordinates lie exactly half a pixel up and left of the transform written
    in the grid-mapping variable: the signature of pixel corners assigned as coordinates (e.g.
    ``np.arange(left, right, res)``) on a raster read with its transform. xlstsr follows the
    coordinates (pixel centres, as rioxarray), so the result would be shifted by half a pixel."""
    if t is None or t.b != 0 or t.d != 0 or t.a == 0 or t.e == 0:
        return
    ydim, xdim = spatial_dims(da)
    if da.sizes[ydim] < 2 or da.sizes[xdim] < 2:
        return
    tc = label_transform(da)
    if not (np.isclose(tc.a, t.a, rtol=1e-6) and np.isclose(tc.e, t.e, rtol=1e-6)):
        return  # another resolution: a stale transform (coarsen, isel with a step), not corners
    ox, oy = (tc.c - t.c) / t.a, (tc.f - t.f) / t.e
    if abs(ox + 0.5) < 1e-3 and abs(oy + 0.5) < 1e-3:
        warn(
            f"the {what}'s coordinates lie exactly half a pixel up and left of the transform "
            "written in its spatial_ref (GeoTransform): they look like pixel corners. xlstsr "
            "takes coordinates as pixel centres (as rioxarray does) and follows them, so the "
            "result is shifted by half a pixel if they are corners: make them centres "
            f"(`da = da.assign_coords({xdim}=da.{xdim} + {abs(t.a) / 2:.10g}, {ydim}=da.{ydim} - "
            f"{abs(t.e) / 2:.10g})`). If they are centres, write the transform they give "
            "(`da = da.rio.write_transform(da.rio.transform(recalc=True))`).",
            UserWarning,
        )


def north_up_flips(da: xr.DataArray, ydim: Hashable, xdim: Hashable) -> dict[Hashable, slice]:
    """The ``isel`` reversals that put ``da`` north-up: ``ydim`` labels descending, ``xdim``
    ascending (axes without numeric labels, or of one pixel, are left as they are)."""
    flip: dict[Hashable, slice] = {}
    for dim, increasing in ((ydim, False), (xdim, True)):
        if da.sizes[dim] > 1 and dim in da.coords and da[dim].dtype.kind in "fiu":
            c = da[dim].values
            if bool(c[-1] > c[0]) != increasing:
                flip[dim] = slice(None, None, -1)
    return flip


def north_up(da: xr.DataArray) -> xr.DataArray:
    """``da`` with ``y`` decreasing and ``x`` increasing (flipped where they are not), its
    transform rewritten.

    A south-up grid (NetCDF files often store latitude ascending) or an x axis running west is
    the same field; rioxarray's bounds and transform assume north-up, so guides, references and
    coverage checks are computed on the flipped array. Coordinates keep their labels: the
    result of :func:`xlstsr.upscale` is north-up whatever the input's order.

    Examples
    --------
    >>> da = xr.DataArray(np.arange(3.0)[:, None] + 300, dims=("y", "x"),
    ...                   coords={"y": [0.5, 1.5, 2.5], "x": [0.5]}).rio.write_crs("EPSG:32631")
    >>> north_up(da).y.values.tolist(), north_up(da).values.ravel().tolist()
    ([2.5, 1.5, 0.5], [302.0, 301.0, 300.0])
    """
    flip = north_up_flips(da, *spatial_dims(da))
    if not flip:
        return da
    from .grid import _transform  # grid imports this module

    da = da.isel(flip)
    # per axis the written transform where it gives the flipped labels (a south-up NetCDF's
    # north-up GeoTransform), mirrored where it ran the old way, else recomputed from them
    return da.rio.write_transform(_transform(da))


def image_order(da: Any) -> Any:
    """``da`` with its spatial dims last, ``(..., y, x)``, and north-up (:func:`north_up`).

    For fields compared pixel by pixel as arrays: a NetCDF written longitude-first, or a
    south-up grid, paired pixel (i, j) with pixel (j, i) or with its mirror image. Anything
    that is not a DataArray with spatial dims is returned as it is (its shape is checked where
    it is used).

    Examples
    --------
    >>> da = xr.DataArray(np.zeros((2, 3)), dims=("x", "y"),
    ...                   coords={"x": [0.5, 1.5], "y": [2.5, 1.5, 0.5]})
    >>> image_order(da).dims
    ('y', 'x')
    """
    if not isinstance(da, xr.DataArray):
        return da
    try:
        ydim, xdim = spatial_dims(da)
    except NoSpatialDimsError:
        return da
    lead = [d for d in da.dims if d not in (ydim, xdim)]
    if list(da.dims) != [*lead, ydim, xdim]:
        da = da.transpose(*lead, ydim, xdim)
    return north_up(da)


def in_image_order(*fields: Any, lead_first: bool = False) -> list[Any]:
    """``fields`` in image order, ``(..., y, x)`` and north-up, the fields given by position
    put as the reference is put.

    The reference is the first DataArray with spatial dims: it, and every other such
    DataArray, is put in image order by its labels (:func:`image_order`). Arrays (and
    DataArrays without spatial dims) are given pixel for pixel in the reference's layout: one
    of the reference's number of dims is transposed as the reference is (its dims in the same
    order), one of another number of dims has its last two axes in the reference's order of
    its spatial dims (so has every array with ``lead_first``: a guide ``(n, c, Y, X)``); then
    each is flipped where the reference is. A DataArray whose spatial axis has no numeric
    labels is flipped where the reference is, too. Left as given, such an array beside a
    south-up or ``(x, y)`` reference was paired with its mirror image or its transpose (a
    calibration fitted 0.906 for 0.95, a detail gain 0.017 for 0.5, without a word).

    Parameters
    ----------
    *fields : Any
        DataArrays, numpy or dask arrays, or anything else (returned as given, as is an array
        of fewer than 2 dims).
    lead_first : bool, default False
        Whether every array's leading axes are its own (a guide ``(n, c, Y, X)``): its last
        two axes are then put in the reference's order of its spatial dims, never transposed
        as the reference is.

    Returns
    -------
    list
        The fields in the order given, each put in image order; without a reference, every
        field as given.
    """
    def dims_of(a: Any) -> tuple[str, str] | None:
        if not isinstance(a, xr.DataArray):
            return None
        try:
            return spatial_dims(a)
        except NoSpatialDimsError:
            return None

    ref = next((a for a in fields if dims_of(a) is not None), None)
    if ref is None:
        return list(fields)
    ydim, xdim = dims_of(ref)
    order = [*(d for d in ref.dims if d not in (ydim, xdim)), ydim, xdim]
    perm = [ref.dims.index(d) for d in order]
    flips = north_up_flips(ref, ydim, xdim)
    rev = (slice(None, None, -1) if ydim in flips else slice(None),
           slice(None, None, -1) if xdim in flips else slice(None))

    def put(a: Any) -> Any:
        yx = dims_of(a)
        if yx is not None:  # by its own dim names and labels; by ref's where it has none
            a = image_order(a)
            own = {d: s for d, s in zip(yx, rev) if s.step and not (
                d in a.coords and a[d].dtype.kind in "fiu")}
            return a.isel(own) if own else a
        if not isinstance(a, (np.ndarray, dsa.Array, xr.DataArray)) or a.ndim < 2:
            return a  # refused (or broadcast) where it is used, naming its type or shape
        if np.ndim(a) == ref.ndim and not lead_first:
            if perm != list(range(len(perm))):
                a = (a.transpose(*(a.dims[k] for k in perm)) if isinstance(a, xr.DataArray)
                     else a.transpose(perm))
        elif ref.dims.index(xdim) < ref.dims.index(ydim):
            a = a.swapaxes(-1, -2) if not isinstance(a, xr.DataArray) else a.transpose(
                *a.dims[:-2], a.dims[-1], a.dims[-2])
        return a[(Ellipsis, *rev)] if flips else a

    return [put(a) for a in fields]


def decoded_label(label: Any) -> Any:
    """A label as text: bytes (a NetCDF char label read back, ``b'day'``) decoded as UTF-8,
    case kept; anything else as it is.

    Undecoded, bytes named files by position, were tagged and written to CSV as the text
    ``"b'day'"`` and titled figures ``(b'night')``.

    Parameters
    ----------
    label : Any
        A label value (``bytes`` and ``np.bytes_`` are decoded, undecodable bytes replaced).

    Returns
    -------
    Any
        ``label`` decoded as ``str`` when it is bytes, else ``label`` itself.

    Examples
    --------
    >>> decoded_label(np.bytes_(b"Night")), decoded_label(3)
    ('Night', 3)
    """
    if isinstance(label, bytes):  # np.bytes_ too
        return label.decode("utf-8", errors="replace")
    return label


def require_nonempty(da: xr.DataArray, what: str = "input", *,
                     user_dims: Mapping[str, str] | None = None) -> None:
    """Raise :class:`GridError` when ``da`` has 0 pixels along a spatial dim or 0 steps along
    another (a selection that selected nothing): else reported as a reshape error, "too small"
    or "all NaN", none of which it is. ``da``'s spatial dims must be readable
    (:func:`spatial_dims`; lat/lon ones renamed first, :func:`spatial_names`); ``user_dims``:
    the user's names of dims renamed ``y``/``x`` (``{'y': 'lat'}``), which the message and its
    advice name (``da.sel(y=...)`` failed on the user's array)."""
    ydim, xdim = spatial_dims(da)
    back = dict(user_dims or {})

    def u(d: Hashable) -> str:
        return str(back.get(str(d), d))

    shape = {u(d): n for d, n in da.sizes.items()}
    for dim in (ydim, xdim):
        if da.sizes[dim] == 0:
            raise GridError(
                f"the {what} is empty: 0 pixels along '{u(dim)}' (shape {shape}). Check the "
                f"selection that made it: on a north-up grid {u(ydim)} decreases, so "
                f"`da.sel({u(ydim)}=slice(south, north))` selects nothing; use "
                "`slice(north, south)` or `da.rio.clip_box(minx, miny, maxx, maxy)`."
            )
    for dim in da.dims:
        if dim not in (ydim, xdim) and da.sizes[dim] == 0:  # else called "all NaN"
            raise GridError(
                f"the {what} is empty: 0 steps along '{dim}' (shape {shape}). Check the "
                f"selection that made it (e.g. `da.sel({dim}=slice(start, end))` with dates "
                "outside the data)."
            )


def require_georeferenced(da: xr.DataArray, what: str = "input", *,
                          user_dims: Mapping[str, str] | None = None) -> None:
    """Raise unless ``da`` has a CRS and a regular transform (rioxarray conventions).
    ``user_dims``: the user's names of dims renamed ``y``/``x`` (``{'x': 'lon'}``), for advice
    that assigns a coordinate.

    Coordinates are regular when every step is within a tolerance of the mean step: 1e-6 of it,
    or a few units of the coordinates' own precision (float32 coordinates of a sinusoidal or
    UTM grid carry errors of ~0.5 m at 5e6 m).
    """
    ydim, xdim = spatial_dims(da)
    require_nonempty(da, what, user_dims=user_dims)
    for dim in da.dims:
        if dim in (ydim, xdim):
            continue
        if dim in da.indexes and getattr(da.indexes[dim], "tz", None) is not None:
            # numpy has no timezone-aware datetimes: the output's labels came out as integers;
            # a guide's were shown as nanosecond integers, and as UTC instants its local days
            # (00:00 in New York is 04:00 UTC) took the previous day's guide under a tolerance
            v = "guide" if what == "guide" else "da"
            raise GridError(
                f"the {what}'s '{dim}' labels are timezone-aware ({da.indexes[dim].tz}); xlstsr "
                "works with naive UTC dates: convert instants with "
                f"`{v} = {v}.assign_coords({dim}={v}.indexes['{dim}'].tz_convert(None))`"
                + (f", or, for days dated in local time (a daily product), drop the zone: "
                   f"`{v} = {v}.assign_coords({dim}={v}.indexes['{dim}'].tz_localize(None))`."
                   if what == "guide" else ".")
            )
        if dim in da.coords and da[dim].dtype.kind in "fcmM" and da[dim].isnull().any():
            # a missing label cannot be matched with a guide's step or written to a store
            raise GridError(
                f"the {what}'s '{dim}' coordinate holds NaN/NaT labels; drop those steps "
                f"(`da.isel({dim}=da['{dim}'].notnull().values)`) or assign their labels."
            )
    if da.rio.crs is None:
        # the example follows the coordinates' values where they are known (x/y dims holding
        # degrees got a UTM example; lat/lon dims holding metres got EPSG:4326), else the names
        _refuse_pixel_indices(da, ydim, xdim, what)
        degrees, span = _degree_span(da, ydim, xdim)
        if degrees is None:
            degrees = any(str(d).lower() in (*_LAT_NAMES, *_LON_NAMES) for d in da.dims) or (
                ydim.lower() in _LAT_NAMES)
            span = ""
        if degrees and span:
            advice = (f"Its coordinates ({span}) lie within the ranges of degrees (y ±90, "
                      "x -180..360): if they are lon/lat degrees, "
                      "`da = da.rio.write_crs('EPSG:4326')`; if they are a projected grid's, "
                      "set its CRS, e.g. `da.rio.write_crs('EPSG:32631')`.")
        elif span:
            advice = (f"Its coordinates ({span}) are beyond the ranges of degrees (y ±90, "
                      "x -180..360): set the projected CRS they are in with rioxarray, e.g. "
                      "`da = da.rio.write_crs('EPSG:32631')`, or for MODIS sinusoidal "
                      "`da.rio.write_crs(xlstsr.grid.MODIS_SINUSOIDAL)`.")
        else:
            hint = " For lat/lon degrees: `da.rio.write_crs('EPSG:4326')`." if degrees else ""
            advice = ("Set it with rioxarray, e.g. `da = da.rio.write_crs('EPSG:32631')`, or "
                      f"for MODIS sinusoidal `da.rio.write_crs(xlstsr.grid.MODIS_SINUSOIDAL)`."
                      f"{hint}")
        raise MissingCRSError(
            f"the {what} has no CRS. {advice} A file reopened without "
            "`decode_coords='all'` (`xr.open_zarr(store, decode_coords='all')`) loses its "
            f"spatial_ref coordinate and with it the CRS.{_swath_hint(da)}"
        )
    t = _written_transform(da)
    for dim in (ydim, xdim):
        if dim not in da.coords:
            if t is not None and t.b == 0 and t.d == 0 and t.a != 0 and t.e != 0:
                # its labels follow from the written transform (rioxarray reads it, as
                # :func:`georeference` does): it was refused as "no transform" though one was
                # written; checked below on them (a local copy: the caller's array unchanged)
                edge, pixel = (t.f, t.e) if dim == ydim else (t.c, t.a)
                da = da.assign_coords({dim: edge + (np.arange(da.sizes[dim]) + 0.5) * pixel})
                continue
            u = (user_dims or {}).get(dim, dim)  # the user's name (lat, not y)
            n = da.sizes[dim]
            rotated = t is not None
            raise (GridError if rotated else MissingCRSError)(
                f"the {what} has no coordinates along '{u}' and "
                + ("its transform is rotated or sheared: xlstsr works on north-up grids "
                   "only. Warp it onto one first, e.g. `gdalwarp -t_srs EPSG:XXXX rotated.tif "
                   "northup.tif` (the CRS you want)." if rotated else
                   "no transform, so its pixels' positions are unknown. Assign pixel-centre "
                   f"coordinates, its first pixel's edge plus a pixel size per pixel (e.g. "
                   f"`da = da.assign_coords({u}=EDGE + PIXEL * (np.arange({n}) + 0.5))` with "
                   "your grid's numbers for EDGE and PIXEL, PIXEL negative for rows running "
                   "south), or write the transform of both axes: `from affine import Affine; "
                   "da = da.rio.write_transform(Affine(PIXEL_X, 0, LEFT, 0, -PIXEL_Y, TOP))`.")
                + _swath_hint(da)
            )
        if da.sizes[dim] < 2:
            if _written_transform(da) is None:
                raise GridError(
                    f"the {what} has a single pixel along '{dim}', so its pixel size is unknown: "
                    "write its transform (`da.rio.write_transform(Affine(res, 0, x0, 0, -res, "
                    "y0))`) or give it more than one pixel."
                )
            continue
        _require_regular(da, what, dim, (user_dims or {}).get(dim))
    _check_crs_units(da, what, ydim, xdim)


def require_regular(da: xr.DataArray, what: str = "input", *,
                    user_dims: Mapping[str, str] | None = None) -> None:
    """Raise :class:`GridError` when a spatial dim's coordinates (where it has them, over 2
    pixels or more) are not numbers, not finite or off a regular grid, naming the case and its
    fix (:func:`_irregular_error`: wrapped longitudes, missing rows or columns, jitter). The
    check of :func:`require_georeferenced` without its CRS and transform requirements, for
    functions that take grids without them (:func:`xlstsr.scaling_stats`); ``user_dims`` as
    there."""
    ydim, xdim = spatial_dims(da)
    for dim in (ydim, xdim):
        if dim in da.coords and da.sizes[dim] >= 2:
            _require_regular(da, what, dim, (user_dims or {}).get(dim))


def _require_regular(da: xr.DataArray, what: str, dim: str, name: str | None) -> None:
    """The regularity check of one spatial dim with 2 or more coordinates (``name``: the
    user's name of it, for the message and its advice)."""
    c = np.asarray(da[dim].values)
    if not np.issubdtype(c.dtype, np.number):
        raise GridError(
            f"the {what}'s '{name or dim}' coordinates are not numbers ({c.dtype}); assign "
            "projected or geographic pixel-centre coordinates."
        )
    c64 = c.astype(np.float64)
    if not np.isfinite(c64).all():
        raise GridError(
            f"the {what}'s '{name or dim}' coordinates hold NaN or infinite values; assign "
            "pixel-centre coordinates, or write its transform and drop them."
        )
    distinct = np.unique(c64).size
    if distinct < c64.size:
        # labels that repeat (every one the same: a broken or padded grid) are no positions:
        # the interp advice onto np.linspace(a, a, n) raised pandas' InvalidIndexError
        # (probe 52 U/6)
        n = name or dim
        v = _advice_var(what)
        line = _line_through_once(c64, c.dtype)
        if _transform_fits_labels(da, dim, c64):
            fix = (f"drop them, `{v} = {v}.drop_vars('{n}')`, and they are rebuilt from the "
                   "transform written in its grid mapping")
        elif line is not None:
            # an edge pad or a reindex repeats border labels: the one regular grid its other
            # labels lie on places every pixel, the padded ones a step beyond the border
            fix = (f"assign the regular grid its labels that occur once lie on, `{v} = "
                   f"{v}.assign_coords({n}={_regular(line[0], line[1], c64.size)})` "
                   "(the repeated ones become the steps before or after them; for another "
                   f"grid, `{v}.assign_coords({n}=FIRST + STEP * np.arange({c64.size}))` with "
                   "its first centre and pixel step)")
        else:
            fix = (f"assign the pixel-centre coordinates, `{v} = {v}.assign_coords({n}=FIRST + "
                   f"STEP * np.arange({c64.size}))` with the grid's first centre and pixel step "
                   f"(or write its transform, `{v}.rio.write_transform(...)`, and drop them)")
        raise GridError(
            f"the {what}'s '{n}' coordinates repeat values ({c64.size} labels, {distinct} "
            + ("distinct: every one the same" if distinct == 1 else "distinct") + "): they "
            f"are no pixel positions, so the grid cannot be told from them; {fix}."
        )
    step = np.diff(c64)
    mean_step = (c64[-1] - c64[0]) / (c64.size - 1)
    eps = np.finfo(c.dtype).eps if np.issubdtype(c.dtype, np.floating) else 0.0
    tol = max(1e-6 * abs(mean_step), 8 * eps * float(np.abs(c64).max()))
    if mean_step == 0 or not np.all(np.abs(step - mean_step) <= tol):
        raise _irregular_error(what, dim, c64, step, mean_step, name, da=da)


def _transform_fits_labels(da: xr.DataArray, dim: Hashable, c: np.ndarray) -> bool:
    """Whether ``da`` has a transform written in its grid mapping whose pixel centres agree,
    along ``dim``, with the labels ``c`` that occur once, and along the other spatial dim with
    its labels (where it has them) that occur once: a padded array (xarray's edge pad repeats
    its border labels) keeps the unpadded grid's transform, and rebuilt from it every pixel
    moved by the pad (review 52g/1: 1.85 km, without a warning). An array padded along both
    dims was told to drop one dim's labels because that one fitted, the other did not: a
    transform the labels of one axis contradict is stale, so none is rebuilt from it."""
    t = _written_transform(da)
    if t is None or t.b != 0 or t.d != 0:
        return False
    try:
        ydim, xdim = spatial_dims(da)
    except Exception:
        return False
    for d, first, step in ((ydim, t.f, t.e), (xdim, t.c, t.a)):
        if d == dim:
            labels = c
        elif d in da.coords and da[d].ndim == 1:
            labels = np.asarray(da[d].values)
        else:  # no labels: nothing contradicts the transform along it
            continue
        if not np.issubdtype(labels.dtype, np.number):
            return False
        v = labels.astype(np.float64)
        centres = first + step * (np.arange(v.size) + 0.5)
        values, counts = np.unique(v, return_counts=True)
        once = np.isin(v, values[counts == 1])
        # float32 labels carry their own rounding (~0.5 m at 5e6 m): not a stale transform
        tol = 1e-3 * abs(step) + (2 * np.spacing(np.abs(labels[once])).astype(np.float64)
                                  if labels.dtype.kind == "f" else 0.0)
        if not np.all(np.abs(v[once] - centres[once]) <= tol):
            return False
    return True


def _line_through_once(c: np.ndarray, dtype: Any) -> tuple[float, float] | None:
    """The (first centre, step) of the one regular grid the labels ``c`` (float64, of
    ``dtype``) that occur once lie on at their positions, or None where fewer than two occur
    once or they lie on none: an edge-padded or forward-filled axis, whose repeated labels are
    the copied border pixels'."""
    values, counts = np.unique(c, return_counts=True)
    idx = np.flatnonzero(np.isin(c, values[counts == 1]))
    if idx.size < 2:
        return None
    step = (c[idx[-1]] - c[idx[0]]) / (idx[-1] - idx[0])
    first = c[idx[0]] - step * idx[0]
    if step == 0:
        return None
    eps = np.finfo(dtype).eps if np.issubdtype(dtype, np.floating) else 0.0
    tol = max(1e-6 * abs(step), 8 * eps * float(np.abs(c).max()))
    if not np.all(np.abs(c[idx] - (first + step * idx)) <= tol):
        return None
    return float(first), float(step)


def _regular(first: float, step: float, n: int) -> str:
    """Python text of a regular coordinate array, e.g. ``500.5 - 1000 * np.arange(3)``."""
    return f"{first:.10g} {'-' if step < 0 else '+'} {abs(step):.10g} * np.arange({n})"


def _unwrap_advice(c: np.ndarray, n: str, v: str = "da") -> str:
    """Python text that unwraps longitudes ``c`` (named ``n``) so that they run on from the
    first one without the jump of 360, their order kept (no sortby: a grid wider than 180
    degrees sorted in -180..180 had a gap of the columns it does not cover), e.g.
    ``da['lon'] = ((da['lon'] - -59.8) % 360) + -59.8``, cut half a step before the first
    column (``v``: the variable). Of the first longitude's readings
    (itself, 360 less or more) the one that keeps them nearest 0: within the +-361 that
    :func:`_check_crs_units` takes of degrees (0..360 from 300E on would reach 500)."""
    d = np.diff(c)
    d = d - 360.0 * np.round(d / 360.0)  # the steps without the jump
    up = bool(np.median(d) > 0)  # (not last > first: 300E..200E runs east)
    span = float(np.abs(d).sum())
    best = None
    for a0 in (float(c[0]), float(c[0]) - 360.0, float(c[0]) + 360.0):
        lo, hi = (a0, a0 + span) if up else (a0 - span, a0)
        key = max(abs(lo), abs(hi))
        if best is None or key < best[0]:
            best = (key, a0)
    # the cut half a step outside the first column: at the column itself, the float error of
    # a computed label (0.14500000000000002 against 0.145) sent it 360 away
    half = float(np.median(np.abs(d))) / 2.0
    if up:  # to [cut, cut + 360)
        cut = f"{best[1] - half:.10g}"
        return f"(({v}['{n}'] - {cut}) % 360) + {cut}"
    cut = f"{best[1] + half:.10g}"
    return f"{cut} - (({cut} - {v}['{n}']) % 360)"  # descending: to (cut - 360, cut]


def _advice_var(what: str) -> str:
    """The variable a message's code is written on: the argument's own name where the role
    says it (``guide``, evaluate's ``reference``), else ``da`` (an LST, an input)."""
    return what if what in ("guide", "reference") else "da"


def _irregular_error(what: str, dim: str, c: np.ndarray, step: np.ndarray,
                     mean_step: float, name: str | None = None,
                     da: xr.DataArray | None = None) -> GridError:
    """The error for coordinates off a regular grid, naming which case it is: longitudes
    wrapped across the antimeridian or Greenwich (unwrap them), rows or columns missing (steps
    that are whole multiples of the usual one: reindex onto the full grid), a small jitter
    (rounding or float errors: snap them), or a truly irregular grid. ``name``: the user's name
    of the dim (lat/lon renamed y/x), which the message and the pasted advice use; the code is
    written on the argument's own variable (:func:`_advice_var`: ``guide = guide.interp(...)``;
    ``da`` was pasted on the LST). ``da``: the array, whose stored fill the interp advice
    masks first (:func:`_interp_advice`)."""
    n = name or dim
    v = _advice_var(what)
    # (a list or dict guide's band: guide.georeference_guide writes the code on that band)
    med = float(np.median(step)) if step.size else 0.0
    worst = float(np.abs(step - mean_step).max()) if step.size else 0.0
    line = "row" if dim.lower() in ("y", *_LAT_NAMES) else "column"
    wrap = np.flatnonzero(np.abs(np.abs(step - med) - 360.0) < 2 * abs(med) + 1e-9)
    if med != 0 and wrap.size == 1 and np.abs(c).max() <= 360.0 and line == "column":
        # one step of 360: longitudes wrapped across the antimeridian (-180..180: 180 -> -180)
        # or across Greenwich (0..360: 360 -> 0), where `% 360` changes nothing
        a, b = float(c[wrap[0]]), float(c[wrap[0] + 1])
        where = ("the prime meridian (Greenwich) with longitudes in 0..360" if max(a, b) > 180.0
                 else "the antimeridian with longitudes wrapped to -180..180")
        return GridError(
            f"the {what}'s '{n}' (longitude) coordinates jump from {a:.6g} to {b:.6g}: the grid "
            f"crosses {where}. Unwrap them so that they run on from the first one, in order "
            f"(some may then lie beyond -180..180 or 0..360, which is fine): "
            f"`{v} = {v}.assign_coords({n}={_unwrap_advice(c, n, v)})`."
        )
    s = np.sort(c)
    ds = np.diff(s)
    # (within float32's rounding of the coordinates, which the caller's test lets through)
    tol = max(1e-6 * float(ds.mean()), 8 * float(np.finfo(np.float32).eps) * float(np.abs(s).max()))
    # sorted already (float32 rounding in float64 coordinates): not "out of order", whose
    # advised sortby changes nothing; the jitter branch below names it
    monotonic = bool(np.all(step > 0) or np.all(step < 0))
    if (s.size >= 3 and not monotonic and ds.min() > 0
            and np.all(np.abs(ds - ds.mean()) <= tol)):
        # a regular grid in shuffled order (tiles concatenated east then west): sorting fixes
        # it, reprojecting is not needed; the order most steps take is kept (north-up y falls)
        down = np.count_nonzero(step < 0) > step.size / 2
        return GridError(
            f"the {what}'s '{n}' coordinates are a regular grid (step {float(ds.mean()):.6g}) "
            f"but its {line}s are out of order (e.g. tiles concatenated in the wrong order): "
            f"sort them, `{v} = {v}.sortby('{n}'" + (", ascending=False" if down else "")
            + ")`."
        )
    if med != 0:
        ratio = step / med
        whole = np.round(ratio)
        size = round(float(c[-1] - c[0]) / med) + 1
        if np.all(whole >= 1) and np.all(np.abs(ratio - whole) < 0.01) and np.any(whole >= 2):
            gaps = np.flatnonzero(whole >= 2)
            missing = int((whole[gaps] - 1).sum())
            at = ", ".join(f"{c[i]:.6g}" for i in gaps[:3]) + (" ..." if gaps.size > 3 else "")
            return GridError(
                f"the {what}'s '{n}' coordinates skip {missing} {line}(s) (after {n} = {at}; "
                f"the usual step is {med:.6g}): a grid needs every {line}. Put it on the full "
                f"grid, the missing {line}s as NaN: `{v} = {v}.reindex({n}="
                f"{_regular(c[0], med, size)}, method='nearest', tolerance={abs(med) / 4:.6g})`."
            )
        i = np.arange(c.size)
        slope, first = np.polyfit(i, c, 1)  # the regular grid nearest to the coordinates
        dev = float(np.abs(c - (first + slope * i)).max()) / abs(slope)
        if dev < 0.05:
            return GridError(
                f"the {what}'s '{n}' coordinates deviate from a regular grid by up to "
                f"{dev:.2g} pixel (steps differ from their mean {mean_step:.6g} by up to "
                f"{worst:.3g}): rounding or float errors in coordinates written by hand or "
                f"read from text? Snap them: `{v} = {v}.assign_coords({n}="
                f"{_regular(first, slope, c.size)})`; if the grid is truly irregular, "
                f"interpolate it onto a regular one: {_interp_advice(c, n, v, da)}."
            )
    # interpolated by its labels: `da.rio.reproject(...)` failed on lat/lon dims and on y/x
    # took the grid as regular, each row left up to a quarter pixel from its latitude
    return GridError(
        f"the {what}'s '{n}' coordinates are not regularly spaced (steps differ from their "
        f"mean {mean_step:.6g} by up to {worst:.3g}); interpolate it onto a regular grid "
        f"first (by its labels, each value where its coordinate says): "
        f"{_interp_advice(c, n, v, da)}."
    )


def _interp_advice(c: np.ndarray, n: str, v: str = "da",
                   da: xr.DataArray | None = None) -> str:
    """The advice (code in backticks) that interpolates ``v`` along ``n`` (coordinates ``c``)
    onto the regular grid of as many pixels between the same first and last coordinates.

    Values as stored are never mixed with a fill: a declared one (``_FillValue``,
    ``missing_value``, rioxarray's nodata) is masked first (``v.where(v != FILL)``; interp of
    an undecoded uint16 LST mixed its 0s into 112-212 K pixels beside each gap, which passed
    once mask_out_of_range was followed); integers with none declared holding a fill-like
    value (found by :func:`_fill_search`) get the nearest label (the value stays a whole pixel,
    which the value checks name), with that value's mask for a linear one; those of a lazy cube
    read in part with none found get the nearest label too (its other images may hold one),
    with the mask of the usual fills for a linear one; clean ones the plain linear interp."""
    grid = f"{n}=np.linspace({float(c[0])!r}, {float(c[-1])!r}, {c.size})"
    fills = _declared_fills_for_interp(da) if da is not None else []
    if len(fills) == 1:
        fill = fills[0]
        return (f"`{v} = {v}.where({v} != {fill!r}).interp({grid})` (its fill, {fill!r} as "
                "stored, masked first: interpolated, it would be mixed into the pixels beside "
                "each gap)")
    if fills:
        listed = ", ".join(repr(f) for f in fills)
        return (f"`{v} = {v}.where(~{v}.isin([{listed}])).interp({grid})` (its fills, "
                f"{listed} as stored, masked first: interpolated, they would be mixed into "
                "the pixels beside each gap)")
    if da is not None and np.issubdtype(da.dtype, np.integer):
        held, sampled = _fill_search(da)
        if held is not None:  # nearest keeps it a whole pixel (it may be data: 0 degC)
            return (f"`{v} = {v}.interp({grid}, method='nearest')` (nearest: it holds {held!r} "
                    "as stored, a fill's usual value, none being declared, which a linear "
                    "interp would mix into the pixels beside it; if it is the fill, mask it "
                    f"first for a linear one: `{v} = {v}.where({v} != {held!r}).interp({grid})`)")
        if sampled is not None:
            # a lazy cube read in part: its other images may hold a fill (a 0 in step 21 of
            # 64 was mixed into 218-226 K pixels by the linear advice); nearest is safe
            # whatever they hold, the mask of the usual values makes a linear one safe
            usual = ", ".join(repr(u) for u in _usual_integer_fills(da.dtype))
            return (f"`{v} = {v}.interp({grid}, method='nearest')` (nearest: no fill's usual "
                    f"value ({usual}) is in the {sampled[0]} of its {sampled[1]} images read "
                    "here, none being declared, but the others are not read, and a linear "
                    "interp would mix a fill they hold into the pixels beside it; for a linear "
                    f"one, mask those values first: `{v} = {v}.where(~{v}.isin([{usual}]))"
                    f".interp({grid})`)")
    # (clean integers: linear, each value where its label says; nearest moved them by up to
    # half an irregular step, 0.65 K RMSE for 0.15 K)
    return f"`{v} = {v}.interp({grid})`"


#: images of a lazy cube searched for a fill's usual value by the interp advice (an error
#: path: a bounded read, spread over the steps)
FILL_SEARCH_IMAGES = 32


def _usual_integer_fills(dtype: Any) -> tuple[int, ...]:
    """The fill values integers of ``dtype`` usually hold: 0 (MODIS's, ASTER's) and the
    type's extremes (GDAL's and CF's), each once."""
    info = np.iinfo(dtype)
    return tuple(dict.fromkeys((0, int(info.min), int(info.max))))


def _fill_search(da: xr.DataArray) -> tuple[int | None, tuple[int, int] | None]:
    """A fill-like value that stored integers ``da`` hold, none being declared, or None: 0
    (MODIS's, ASTER's), the type's extremes (GDAL's and CF's), or a plateau of one value far
    from the rest (:func:`suspect_fill` on the values through their attrs' scale); and, where
    a lazy cube was read in part, ``(images read, images)`` (else None). For advice only (an
    error path: the whole cube may not fit in memory): of a lazy cube, the usual values are
    looked for in up to :data:`FILL_SEARCH_IMAGES` whole images spread over the steps, the
    plateau in the first of them, in one ``dask.compute`` (a second read of the first image
    once nothing was found read a (time, 256, 256)-chunked cube twice); each image is taken by
    plain indexing, so a reader's chunks give the rows and steps wanted where the backend can
    (a list of steps read them whole). The first image alone, or row 0 of a (y, x, time) cube,
    missed a 0 in a later step, whose pixels the linear interp advised then mixed into
    211-213 K neighbours; an image not read may still hold one (:func:`_interp_advice`)."""
    usual = _usual_integer_fills(da.dtype)
    sampled = None
    if isinstance(da.data, dsa.Array) and da.ndim > 2:
        try:
            yx = spatial_dims(da)
        except XlstsrError:
            yx = (str(da.dims[-2]), str(da.dims[-1]))
        lead = [d for d in da.dims if d not in yx]
        images = da.transpose(*lead, *yx).data.reshape((-1, da.sizes[yx[0]], da.sizes[yx[1]]))
        n = images.shape[0]
        pick = np.unique(np.linspace(0, n - 1, min(n, FILL_SEARCH_IMAGES)).round().astype(int))
        sample = [images[int(i)] for i in pick]
        held = [dsa.stack([(im == c).any() for im in sample]).any() for c in usual]
        *held, first = dask.compute(*held, sample[0])
        for c, h in zip(usual, held):
            if bool(h):
                return c, None
        sampled = (int(pick.size), int(n)) if pick.size < n else None
        da = xr.DataArray(first, dims=yx, attrs=da.attrs)
    else:
        for c in usual:
            if bool((da == c).any()):
                return c, None
    v = np.asarray(da.values, np.float64)
    scale = _attr(da, "scale_factor")
    offset = _attr(da, "add_offset")
    try:
        k = (v * float(np.ravel(scale)[0] if scale is not None else 1.0)
             + float(np.ravel(offset)[0] if offset is not None else 0.0))
    except (TypeError, ValueError):
        k = v
    hit = suspect_fill(k)
    if hit is None:
        return None, sampled
    at = np.flatnonzero(np.isclose(k.ravel(), hit[0], rtol=FILL_REL_TOL, atol=0))
    return (int(v.ravel()[at[0]]), None) if at.size else (None, sampled)


def _declared_fills_for_interp(da: xr.DataArray) -> list[float | int]:
    """The fills declared on ``da``'s stored values (attrs ``_FillValue``, each of
    ``missing_value``'s, rioxarray's written nodata), each once, NaN left out (interp leaves NaN
    as NaN): the library's own "declare both" advice writes ``missing_value = [65535, 0]``,
    whose 0 the interp advice mixed into its neighbours when only the first was masked."""
    out: list[float | int] = []
    for key in ("_FillValue", "missing_value", "nodata"):
        f = da.attrs.get(key)
        if f is None:
            continue
        f = np.asarray(f).ravel()
        if not np.issubdtype(f.dtype, np.number):
            continue
        for x in f.tolist():
            if not np.isfinite(x):
                continue
            # (integers only: a float32 fill read as a 39-digit integer literal)
            x = int(x) if np.issubdtype(da.dtype, np.integer) and float(x).is_integer() else x
            if x not in out:
                out.append(x)
    return out


def _pixel_indices(c: np.ndarray) -> bool:
    """Whether coordinates are the pixel indices 0, 1, ... n-1 (or + 0.5), in either order."""
    c = np.sort(c)
    return bool(c.size >= 2 and (np.array_equal(c, np.arange(c.size))
                                 or np.array_equal(c, np.arange(c.size) + 0.5)))


def crs_mismatch(a: xr.DataArray, b: xr.DataArray) -> tuple[Any, Any] | None:
    """The CRSs of ``a`` and ``b`` when both carry one and they differ, else None (a field
    without a CRS is taken to share the other's).

    Examples
    --------
    >>> a = xr.DataArray(np.zeros((2, 2)), dims=("y", "x")).rio.write_crs("EPSG:32631")
    >>> crs_mismatch(a, a) is None, crs_mismatch(a, a.rio.write_crs("EPSG:4326"))[1].to_epsg()
    (True, 4326)
    """
    ca, cb = a.rio.crs, b.rio.crs
    if ca is None or cb is None or ca == cb:
        return None
    # rasterio's == compares the definitions: the same CRS spelled two ways (EPSG:4326,
    # '+proj=longlat +datum=WGS84', OGC:CRS84: axis order aside, x=lon/y=lat all the same) is
    # the same ground; pyproj compares what they mean
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        if CRS.from_user_input(ca.to_wkt()).equals(cb.to_wkt(), ignore_axis_order=True):
            return None
    except CRSError:  # a CRS pyproj cannot read: rasterio's verdict stands
        return ca, cb
    return None if _same_mapping(a, ca, cb) else (ca, cb)


def _same_mapping(a: xr.DataArray, ca: Any, cb: Any) -> bool:
    """Whether the CRSs ``ca`` (``a``'s) and ``cb`` map ``a``'s ground to the same coordinates
    (within a millimetre, or 1e-8 degree): definitions that differ only in what changes nothing
    there, such as the MODIS sinusoidal written with ``+nadgrids=@null +wktext`` (GDAL's
    spelling) against the plain one, were "another CRS" and the guide was resampled instead of
    nested (up to 4.7 K apart)."""
    from pyproj import Transformer
    from pyproj.exceptions import ProjError

    try:
        x0, y0, x1, y1 = a.rio.bounds(recalc=True)
        xs, ys = np.meshgrid(np.linspace(x0, x1, 3), np.linspace(y0, y1, 3))
        ox, oy = Transformer.from_crs(ca, cb, always_xy=True).transform(xs.ravel(), ys.ravel())
    except (ProjError, XlstsrError, ValueError, rioxarray.exceptions.RioXarrayError):
        return False  # no grid to map, or no transformation: another CRS
    tol = 1e-8 if cb.is_geographic else 1e-3
    d = np.hypot(np.asarray(ox) - xs.ravel(), np.asarray(oy) - ys.ravel())
    return bool(np.all(np.isfinite(d)) and d.max() <= tol)


def crs_name_and_axis(crs: Any) -> tuple[str, float | None]:
    """A CRS's short name and its ellipsoid's semi-major axis in metres (None: not known)."""
    try:
        from pyproj import CRS

        pcrs = CRS.from_user_input(crs.to_wkt())
        semi_major = pcrs.ellipsoid.semi_major_metre if pcrs.ellipsoid is not None else None
        return pcrs.name, semi_major  # a short name, not the whole WKT
    except Exception:  # a CRS pyproj cannot read: named by its text, its axis unknown
        return str(crs)[:60], None


def earth_sized(semi_major: float | None) -> bool:
    """Whether an ellipsoid's semi-major axis (m) is the Earth's (None, unknown: taken as such);
    DESIREX's ENVI headers carry 637813 m, a tenth of WGS 84's.

    Examples
    --------
    >>> earth_sized(6378137.0), earth_sized(637813.0), earth_sized(None)
    (True, False, True)
    """
    return semi_major is None or 6.0e6 < semi_major < 6.6e6


def _check_crs_units(da: xr.DataArray, what: str, ydim: str, xdim: str) -> None:
    """Refuse coordinates that cannot be in the units of the CRS written on them: degrees
    under a projected CRS (pixels of a few thousandths of a metre), metres under a geographic
    one, or a ``units`` attribute of another length than the projected CRS's (km under UTM:
    :func:`_refuse_coordinate_units`)."""
    crs = da.rio.crs
    if da.sizes[ydim] < 2 or da.sizes[xdim] < 2:
        return
    y = np.asarray(da[ydim].values, dtype=np.float64)
    x = np.asarray(da[xdim].values, dtype=np.float64)
    span = f"x {x.min():.6g} to {x.max():.6g}, y {y.min():.6g} to {y.max():.6g}"
    name, semi_major = crs_name_and_axis(crs)
    if not earth_sized(semi_major):
        # a malformed header (DESIREX's ENVI files: 637813 m, a tenth of WGS 84's): the grid is
        # self-consistent, but every reprojection against another file lands far off
        raise GridError(
            f"the {what}'s CRS ({name!r}) has an ellipsoid of semi-major axis {semi_major:.6g} m, "
            "not the Earth's (~6.378e6 m): its file's header is malformed. Write the CRS it is "
            "really in, e.g. `da = da.rio.write_crs('EPSG:32630')` for UTM zone 30N."
        )
    if crs.is_geographic:
        if np.abs(y).max() > 91 or np.abs(x).max() > 361:
            raise GridError(
                f"the {what}'s coordinates ({span}) are not degrees, but its CRS ({name!r}) is "
                "geographic: the CRS written on it is wrong. Write the CRS its coordinates are "
                "in, e.g. `da.rio.write_crs(xlstsr.grid.MODIS_SINUSOIDAL)` for MODIS tiles or "
                "the UTM zone's EPSG code."
            )
        return
    _refuse_coordinate_units(da, what, ydim, xdim, crs, name)
    res = min(abs(float(x[1] - x[0])), abs(float(y[1] - y[0])))
    if _pixel_indices(y) and _pixel_indices(x):
        # xr.DataArray(a, coords={"y": np.arange(ny), ...}): 1 m pixels at the CRS's origin,
        # and an ascending y read as south-up, so the output came out upside down
        raise GridError(
            f"the {what}'s coordinates ({span}) are pixel indices (0, 1, 2...), not positions "
            f"in its CRS ({name!r}, metres): the output would be placed at the CRS's origin "
            "with 1 m pixels, and an ascending y index read as a south-up grid (the image "
            "flipped). Give it its georeferencing: write the raster's transform and drop the "
            "indices (`da = da.drop_vars(['y', 'x']).rio.write_transform(Affine(res, 0, left, "
            "0, -res, top))`), or assign its projected pixel-centre coordinates."
        )
    if np.abs(y).max() <= 90 and np.abs(x).max() <= 360 and res < 0.1:
        raise GridError(
            f"the {what}'s coordinates ({span}, pixels of {res:.3g}) look like longitude/"
            f"latitude degrees, but its CRS ({name!r}) is projected (metres): write the CRS they "
            "are in, `da.rio.write_crs('EPSG:4326')`, and reproject if needed."
        )


#: linear ``units`` of projected coordinates -> metres per unit (CF / UDUNITS spellings)
_LINEAR_UNITS = {
    **dict.fromkeys(("m", "metre", "meter", "metres", "meters"), 1.0),
    **dict.fromkeys(("km", "kilometre", "kilometer", "kilometres", "kilometers"), 1000.0),
}


def _coordinate_metres(units: Any) -> float | None:
    """Metres per unit of a coordinate's ``units`` ('km', 'metre', rioxarray's '0.3048006096012192
    metre' of a feet CRS), None for units that are not a known length (degrees, none).

    Examples
    --------
    >>> _coordinate_metres("km"), _coordinate_metres(" Metres "), _coordinate_metres("degrees")
    (1000.0, 1.0, None)
    """
    m = re.fullmatch(r"\s*([0-9.]+(?:[eE][-+]?\d+)?\s+)?([a-zA-Z]+)\s*", str(units))
    if m is None or m.group(2).lower() not in _LINEAR_UNITS:
        return None
    try:
        factor = float(m.group(1)) if m.group(1) else 1.0
    except ValueError:
        return None
    return factor * _LINEAR_UNITS[m.group(2).lower()] if factor > 0 else None


def _refuse_coordinate_units(da: xr.DataArray, what: str, ydim: str, xdim: str, crs: Any,
                             name: str) -> None:
    """Refuse projected coordinates whose ``units`` attribute is another length than the CRS's
    horizontal axes' unit: x/y in km under UTM (metres) were written as metres, 1000x too small
    pixels placed near the CRS's origin. Coordinates without a length unit are not judged."""
    try:
        from pyproj import CRS

        pcrs = CRS.from_user_input(crs)
    except Exception:  # a CRS pyproj cannot read: its unit is unknown
        return
    from .grid import horizontal_metres_per_unit  # grid imports this module

    # the horizontal axes' unit: a compound CRS's last axis is its height's (EPSG:2263+5703:
    # metres, its x/y feet), and 'm'-labelled coordinates passed under it
    crs_m = horizontal_metres_per_unit(pcrs)
    if crs_m is None:
        return
    for dim in (xdim, ydim):
        units = da[dim].attrs.get("units")
        coord_m = None if units is None else _coordinate_metres(units)
        if coord_m is None or abs(coord_m / crs_m - 1) <= 1e-3:
            continue
        ratio = coord_m / crs_m
        crs_unit = "metres" if crs_m == 1.0 else f"units of {crs_m:g} m"
        label = "m" if crs_m == 1.0 else f"{crs_m:g} metre"
        x_, y_ = (f"(da.{d} * {ratio:g}).assign_attrs(units={label!r})" for d in (xdim, ydim))
        raise GridError(
            f"the {what}'s {dim!r} coordinates are in {units!r} ({coord_m:g} m per unit), but its "
            f"CRS ({name!r}) is in {crs_unit}: read as {crs_unit}, its pixel size and position "
            f"(and an output's) would be off by a factor {max(ratio, 1 / ratio):g}. "
            f"Convert them to the CRS's unit, `da = da.assign_coords({xdim}={x_}, {ydim}={y_})`"
            f" (and save the file again); if they are already in {crs_unit} and only the "
            f"label is wrong, set it: `da.{xdim}.attrs['units'] = da.{ydim}.attrs['units'] = "
            f"{label!r}`."
        )


#: check_factor's example where its caller gives none: a ratio of pixels, right whichever
#: way the caller goes (upscale's "1 km -> 250 m" read backwards from coarsen).
FACTOR_EXAMPLE = "4 between 1 km and 250 m pixels"


def check_factor(factor: Any, maximum: int | None = None, example: str = FACTOR_EXAMPLE) -> int:
    """Return ``factor`` as an int, or raise if it is not an integer >= 2 (and <= ``maximum``).

    ``example``: the refusal's example, in the caller's direction (``"4 for 1 km -> 250 m"``
    for upscaling, ``"4 for 250 m -> 1 km"`` for coarsening); by default one that holds both
    ways.

    Examples
    --------
    >>> check_factor(4.0)
    4
    >>> check_factor(2.5, example="4 for 250 m -> 1 km")
    Traceback (most recent call last):
    ...
    xlstsr.errors.GridError: factor must be a positive integer (e.g. 4 for 250 m -> 1 km), got 2.5
    """
    factor = _scalar(factor)  # a 0-d array (`ratio.values`) holds a number too
    if isinstance(factor, bool) or not isinstance(factor, numbers.Real):
        raise GridError(f"factor must be a positive integer (e.g. {example}), got {factor!r}")
    if not np.isfinite(float(factor)) or float(factor) != int(factor) or int(factor) < 1:
        near = np.isfinite(float(factor)) and round(float(factor)) >= 1 and abs(
            float(factor) - round(float(factor))) < 1e-6 * max(1.0, abs(float(factor)))
        raise GridError(
            f"factor must be a positive integer (e.g. {example}), got {factor!r}"
            # a ratio of two resolutions is off an integer by round-off: say how to pass it
            + (f": a ratio of resolutions off {round(float(factor))} by round-off? pass "
               f"`factor=round(ratio)` ({round(float(factor))})" if near else "")
        )
    if int(factor) == 1:
        raise GridError("factor must be >= 2: factor 1 would not change the resolution")
    if maximum is not None and int(factor) > maximum:
        raise GridError(
            f"factor {int(factor)} is above {maximum}: each input pixel would become "
            f"{int(factor) ** 2} output pixels. Is it a typo (e.g. 4 for 1 km -> 250 m)? For a "
            "larger ratio, upscale in steps."
        )
    return int(factor)


def check_whole(name: str, value: Any, minimum: int = 1, hint: str = "") -> int:
    """``value`` as an int, or an :class:`XlstsrError` naming ``name`` if it is not a whole
    number >= ``minimum`` (2.5, "8", True or NaN are not taken for a size; 16.0 and numpy
    scalars are).

    Examples
    --------
    >>> check_whole("patch", np.int64(16))
    16
    >>> check_whole("patch", 2.5)
    Traceback (most recent call last):
    ...
    xlstsr.errors.XlstsrError: patch must be a whole number >= 1, got 2.5
    """
    v = _scalar(value)
    if (isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v)
            or v != int(v) or v < minimum):
        raise XlstsrError(f"{name} must be a whole number >= {minimum}, got {value!r}"
                          + (f" ({hint})" if hint else ""))
    return int(v)


def _scalar(value: Any) -> Any:
    """A 0-d array or numpy scalar as the Python number it holds (``da.max().values`` gives one);
    anything else unchanged."""
    if isinstance(value, (np.ndarray, np.generic)) and np.ndim(value) == 0:
        value = value.item()
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**63 - 1:
        return float(value)  # np.isfinite refuses a Python int beyond int64 with a raw TypeError
    return value


def check_number(name: str, value: Any, lo: float | None = None, hi: float | None = None, *,
                 lo_open: bool = False, hi_open: bool = False, hint: str = "") -> float:
    """``value`` as a finite float within ``lo``..``hi`` (``*_open``: the bound excluded), or an
    :class:`XlstsrError` naming ``name`` and the range.

    Examples
    --------
    >>> check_number("min_valid", 0.5, 0, 1, lo_open=True)
    0.5
    >>> check_number("lr", -1, 0, lo_open=True)
    Traceback (most recent call last):
    ...
    xlstsr.errors.XlstsrError: lr must be a finite number > 0, got -1
    """
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo:g}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {hi:g}")
    want = f"a finite number{' ' + ' and '.join(parts) if parts else ''}"
    hint = f" ({hint})" if hint else ""
    v = _scalar(value)
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v):
        raise XlstsrError(f"{name} must be {want}, got {value!r}{hint}")
    v = float(v)
    if (lo is not None and (v <= lo if lo_open else v < lo)) or (
        hi is not None and (v >= hi if hi_open else v > hi)
    ):
        raise XlstsrError(f"{name} must be {want}, got {value!r}{hint}")
    return v


def check_bool(name: str, value: Any) -> bool:
    """``value`` if it is True or False (numpy bools and the integers 0 and 1 too), else an
    :class:`XlstsrError`: a string such as ``"no"`` or ``"False"`` is truthy and would silently
    mean True.

    Examples
    --------
    >>> check_bool("clear", np.bool_(False))
    False
    >>> check_bool("clear", "no")
    Traceback (most recent call last):
    ...
    xlstsr.errors.XlstsrError: clear must be True or False, got 'no' (a string is truthy: pass the bool itself)
    """
    v = _scalar(value)
    if not (isinstance(v, bool) or (isinstance(v, numbers.Integral) and v in (0, 1))):
        raise XlstsrError(f"{name} must be True or False, got {value!r}"
                          + (" (a string is truthy: pass the bool itself)"
                             if isinstance(value, str) else ""))
    return bool(v)


def check_kelvin_array(values: Any, what: str = "LST") -> None:
    """Refuse a bare array of LST whose valid values are not Kelvin of a land surface (median
    outside :data:`PHYSICAL_RANGE_K`): degrees Celsius or scaled digital numbers, which a
    DataArray's attributes would have let :func:`decode_lst` convert. All-NaN arrays pass (the
    caller decides about them).

    Examples
    --------
    >>> check_kelvin_array(np.full((2, 4, 4), 300.0))
    >>> check_kelvin_array(np.full((2, 4, 4), 25.0))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    xlstsr.errors.PhysicalRangeError: the LST values (median 25.00) are not Kelvin: they look ...
    """
    a = np.asarray(values)
    flat = a.ravel()
    if flat.size > 1_000_000:  # the median of a regular subsample is enough to tell the units
        flat = flat[:: flat.size // 1_000_000]
    f = flat[np.isfinite(flat)]
    if not f.size:
        return
    lo, hi = PHYSICAL_RANGE_K
    median = float(np.median(f))
    if lo <= median <= hi:
        return
    if median > 1000:
        cause = ("they look like scaled digital numbers (MOD11A1 stores K / 0.02: multiply by "
                 "0.02, fill 0 to NaN; ASTER stores K x 10: multiply by 0.1), or decode a "
                 "DataArray with its scale_factor / _FillValue attributes")
    elif -100 < median < 75:
        cause = ("they look like degrees Celsius. Add 273.15 (`lst + 273.15`), or decode a "
                 "DataArray with units 'degC'")
    else:
        cause = ("check the product's units, scale_factor and fill value, and convert to Kelvin, "
                 "or decode a DataArray with those attributes")
    raise PhysicalRangeError(
        f"the {what} values (median {median:.2f}) are not Kelvin: {cause} with "
        "`xlstsr.validate.decode_lst(da).values`."
    )


#: Largest in-memory result :func:`check_output_size` lets a numpy input produce, as a fraction
#: of the memory available, and the largest dask output chunk in bytes.
OUTPUT_MEMORY_FRACTION = 0.5
MAX_OUTPUT_CHUNK_BYTES = 2 * 1024**3


def _available_memory() -> int:
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # pragma: no cover - psutil comes with dask.distributed
        return 16 * 1024**3


def check_output_size(data: Any, factor: int, what: str = "LST") -> None:
    """Refuse an upscaling whose result cannot fit: an in-memory input whose output (``factor``
    squared times its size) would exceed half the available memory, or a dask array whose
    chunks times ``factor`` squared would exceed 2 GiB (:func:`xlstsr.upscale` checks the
    engine's output chunks themselves, with ``factor=1``).

    Examples
    --------
    >>> check_output_size(np.zeros((1, 100, 100), np.float32), 4)  # 640 kB: fine
    """
    itemsize = np.dtype(np.float64 if data.dtype == np.float64 else np.float32).itemsize
    f2 = int(factor) ** 2
    if isinstance(data, dsa.Array):
        biggest = 1
        for c in data.chunks:
            biggest *= max(c) if c else 0
        nbytes = biggest * f2 * itemsize
        if nbytes > MAX_OUTPUT_CHUNK_BYTES:
            shape = tuple(max(c) * (int(factor) if i >= data.ndim - 2 else 1)
                          for i, c in enumerate(data.chunks))
            raise GridError(
                f"each output chunk of the {what} would hold {nbytes / 1024**3:.1f} GiB (chunks "
                f"of {shape} pixels); give the input smaller chunks, e.g. "
                "`da.chunk({'time': 1, 'y': 512, 'x': 512})`."
            )
        return
    nbytes = int(np.prod(data.shape)) * f2 * itemsize
    avail = _available_memory()
    if nbytes > OUTPUT_MEMORY_FRACTION * avail:
        raise GridError(
            f"the result would hold {nbytes / 1024**3:.1f} GiB in memory ({avail / 1024**3:.1f} "
            f"GiB available): check the factor ({factor}), or give a dask input "
            "(`da.chunk({'time': 1})`) and stream it with `xlstsr.upscale_to_zarr`."
        )


def select_variable(ds: xr.Dataset, variable: Hashable | None, role: str = "LST",
                    operation: str | None = None) -> xr.DataArray:
    """Pick the LST (or guide) variable of a Dataset, or raise naming the candidates.
    ``operation``: the name of the ``ds.lstsr`` method / xlstsr function that asks (``coarsen``,
    ``scaling_stats``...), which the advice runs again with ``variable=``; None: a placeholder
    ``<method>`` (it named ``upscale`` to every caller, and a user who followed it from
    ``coarsen`` ran a super-resolution instead of the aggregation asked for); a dotted name
    (``xlstsr.upscale_to_zarr``, a function with no ``ds.lstsr`` method) is advised as it is."""
    names = list(ds.data_vars)
    if variable is not None and not isinstance(variable, Hashable):
        # a list of names raised xarray's bare "unhashable type: 'list'"
        raise VariableNotFoundError(
            f"variable must be the name of one Dataset variable, got {variable!r}; it has "
            f"{names}: e.g. `variable={names[0] if names else 'lst'!r}`"
            + (" (a guide of several bands: pass `guide=[ds['a'], ds['b']]`)" if role == "guide"
               else ".")
        )
    # rasters only: a CF grid mapping (GDAL's NetCDF writes `sinusoidal`, a 0-d variable) or
    # a scalar holds no pixels; it was offered as the example `variable=`
    rasters = [n for n in names
               if ds[n].ndim >= 2 and "grid_mapping_name" not in ds[n].attrs]
    # one example in backquotes, then "or `variable=` of the function.": the CLI replaces
    # that sentence by its own flag (and takes the example from it)
    call = (operation if operation and "." in operation  # a function: `xlstsr.upscale_to_zarr`
            else f"ds.lstsr.{operation or '<method>'}")
    if variable is not None:
        if variable not in ds.data_vars:
            # a misspelt name: the example is the role's likely variable (an LST's for the
            # LST), not the first listed (the CLI advised `--variable NDVI` for the LST)
            # a guide is named by guide= (variable= names the LST: followed, the advice made
            # the NDVI the LST)
            kw = "guide" if role == "guide" else "variable"
            example = ("" if not rasters else f" Name it, e.g. `{call}(..., {kw}="
                       f"{_example_variable(ds, rasters, role)!r})` or `{kw}=` of the "
                       "function.")
            raise VariableNotFoundError(
                f"{kw} {variable!r} is not in the Dataset; it has {names}.{example}"
            )
        return ds[variable]
    if role == "LST":
        # an LST's uncertainty or quality layer (LST_err, QC_LST) says "lst" too: taken as the
        # LST, its 0.3-1.5 K were called degrees Celsius, and --units degC wrote them + 273.15
        hits = [
            n for n in rasters
            if ds[n].attrs.get("standard_name") == "surface_temperature"
            or ("lst" in str(n).lower() and not _ancillary_name(n))
        ]
        if len(hits) == 1:
            return ds[hits[0]]
    if len(rasters) == 1:  # the one raster (GDAL's `Band1` beside its grid mapping)
        return ds[rasters[0]]
    if not rasters:
        raise VariableNotFoundError(
            f"the Dataset has no data variable to take the {role} from (none on a grid: "
            f"variables {names}, dims {dict(ds.sizes)}); check the file or group opened, or "
            "pass a DataArray."
        )
    raise VariableNotFoundError(
        f"cannot tell which Dataset variable holds {role}: it has {rasters}. Name it, e.g. "
        f"`{call}(..., variable={_example_variable(ds, rasters, role)!r})` or `variable=` of "
        "the function."
    )


#: words of a variable name that mark an uncertainty or quality layer (LST_err, LST_uncertainty,
#: QC_Day, lst_flag, LST_std), never taken as the LST by its name
_ANCILLARY_WORD = re.compile(r"^(err|errors?|uncert\w*|unc|qc|qa|flags?|std|stdev|sd|sigma)$")
#: quality words that name a step an LST went through when a participle follows them
_QUALITY_WORDS = frozenset({"qc", "qa", "flag", "flags"})
_LST_STEPS = frozenset({"corrected", "filtered", "masked", "screened", "checked", "applied",
                        "cleaned"})


def _ancillary_name(name: Hashable) -> bool:
    """Whether a variable's name marks an uncertainty or quality layer: one of its words
    (split at ``_``, ``-``, spaces and lower-to-upper case changes) is :data:`_ANCILLARY_WORD`;
    a quality word followed by a step (``LST_QC_corrected``, ``lst_qa_filtered``) names the LST.

    Examples
    --------
    >>> [_ancillary_name(n) for n in ("LST_err", "QC_Day", "lstUncertainty", "LST", "LST_Day_1km")]
    [True, True, True, False, False]
    >>> [_ancillary_name(n) for n in ("LST_QC_corrected", "LST_uncertainty_combined")]
    [False, True]
    """
    words = [w.lower() for w in re.split(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])", str(name))
             if w]
    # ... unless a quality word is followed by a step that leaves an LST: LST_QC_corrected,
    # lst_qa_filtered are the LST (an uncertainty stays one: LST_uncertainty_combined)
    return any(_ANCILLARY_WORD.match(w) and not (
        w in _QUALITY_WORDS and i + 1 < len(words) and words[i + 1] in _LST_STEPS)
        for i, w in enumerate(words))


#: names of guide layers (NDVI, reflectances, emissivity...): not offered as an LST's example
_GUIDE_NAME = re.compile(r"ndvi|evi|savi|ndwi|red|nir|swir|refl|band|emis|albedo|qc|mask",
                         re.I)
_LST_NAME = re.compile(r"lst|temp|bt\b|surface_temperature", re.I)


def _example_variable(ds: xr.Dataset, rasters: list[Hashable], role: str) -> Hashable:
    """The variable offered as the example of an ambiguous Dataset's ``variable=``: for the LST
    one that looks like LST (its name or ``standard_name``), else one not named like a guide
    layer; for a guide an NDVI (the channel of the shipped models and the usual guide), else
    one not named like LST. The first variable was offered, which could be the NDVI for the LST
    (then refused as "not a land surface temperature") or the LST for the guide."""
    def lst_like(n: Hashable) -> bool:
        return (ds[n].attrs.get("standard_name") == "surface_temperature"
                or bool(_LST_NAME.search(str(n))))

    if role == "LST":  # an uncertainty layer (LST_err) is no LST to offer
        plain = [n for n in rasters if not _ancillary_name(n)]
        order = ([n for n in plain if lst_like(n)]
                 + [n for n in plain if not _GUIDE_NAME.search(str(n))]
                 + [n for n in rasters if lst_like(n)])
    else:
        order = ([n for n in rasters if "ndvi" in str(n).lower()]
                 + [n for n in rasters if not lst_like(n)])
    return (order or rasters)[0]


def _attr(da: xr.DataArray, key: str) -> Any:
    # scale metadata in attrs means the values are still encoded; in encoding, already decoded
    return da.attrs.get(key)


def _fill_values(da: xr.DataArray) -> list[float]:
    fills = []
    for key in _FILL_KEYS:
        v = da.attrs.get(key, da.encoding.get(key) if key != "_FillValue" else None)
        if v is not None:
            try:
                fills.extend(np.atleast_1d(np.asarray(v, dtype=np.float64)).tolist())
            except (TypeError, ValueError):  # a text fill ('abc', 'none') raised a bare ValueError
                raise UnitsError(
                    f"the {key!r} attribute {v!r} is not a number: set the fill value the "
                    f"product uses (`da.attrs[{key!r}] = -9999`), or drop it "
                    f"(`da.attrs.pop({key!r})`) if the data has no fill."
                ) from None
    try:
        nodata = da.rio.nodata
    except Exception:  # rioxarray raises on inconsistent nodata metadata
        nodata = None
    # (rioxarray gives a list `missing_value` back as its nodata, e.g. [65535, 0] once the
    # interp advice made the values float: its truth value raised)
    if nodata is not None:
        fills.extend(float(f) for f in np.atleast_1d(np.asarray(nodata, np.float64)).tolist()
                     if np.isfinite(f))
    return sorted(set(fills))


def _attr_numbers(value: Any, key: str, n: int, finite: bool = True) -> tuple[float, ...]:
    """The first ``n`` numbers of a scale attribute, or a UnitsError naming it (a text
    ``scale_factor`` such as "abc"; with ``finite``, a NaN or zero scale too).

    Numbers given as text are read too: GDAL writes an HDF4 array attribute into a GeoTIFF's
    metadata as ``"7500, 65535"`` (its netCDF driver as ``"{7500,65535}"``), which rioxarray
    leaves a string.

    Examples
    --------
    >>> _attr_numbers("7500, 65535", "valid_range", 2), _attr_numbers("[7500 65535]", "valid_range", 2)
    ((7500.0, 65535.0), (7500.0, 65535.0))
    """
    given = value
    if isinstance(given, bytes):
        given = given.decode("utf-8", errors="replace")
    if isinstance(given, str):
        given = [v for v in re.split(r"[\s,;]+", given.strip().strip("[](){}")) if v]
    try:
        vals = tuple(float(v) for v in np.asarray(given, dtype=np.float64).ravel()[:n])
    except (TypeError, ValueError):
        vals = ()
    if len(vals) < n or (finite and (
        not all(np.isfinite(vals)) or (key == "scale_factor" and vals[0] == 0)
    )):
        raise UnitsError(
            f"the {key!r} attribute {value!r} is not {'a number' if n == 1 else f'{n} numbers'} "
            f"usable to decode the values: set it to the product's value (e.g. "
            f"{'0.02 for MODIS LST' if key == 'scale_factor' else '0' if n == 1 else '(7500, 65535)'}"
            f") with `da.attrs[{key!r}] = ...`, or drop it (`da.attrs.pop({key!r})`)."
        )
    return vals


def _unsigned_view(da: xr.DataArray) -> np.dtype | None:
    """The integer dtype the stored values mean when ``_Unsigned`` says otherwise than their
    dtype (NetCDF-3 and NETCDF4_CLASSIC store uint16 as int16 with ``_Unsigned = "true"``; a
    read with ``mask_and_scale=False`` leaves it to the reader), else None."""
    return _unsigned_of(da.attrs.get("_Unsigned"), da.dtype)


def _unsigned_of(flag: Any, dtype: Any) -> np.dtype | None:
    """The integer dtype that ``_Unsigned = flag`` makes of stored values of ``dtype``, or None
    (no flag, not integers, or the flag agrees with the dtype)."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        return None
    if flag is None or dtype.kind not in "iu":
        return None
    flag = str(flag.decode() if isinstance(flag, bytes) else flag).strip().lower()
    if flag == "true" and dtype.kind == "i":
        return np.dtype(f"u{dtype.itemsize}")
    if flag == "false" and dtype.kind == "u":
        return np.dtype(f"i{dtype.itemsize}")
    return None


def _bounds_view(da: xr.DataArray) -> np.dtype | None:
    """The integer dtype the valid bounds in ``da.attrs`` mean (:func:`_unsigned_view`), on
    values xarray decoded too: it moves ``_Unsigned`` and the stored dtype to ``encoding`` and
    leaves ``valid_range`` in the stored signed dtype (int16 ``{7500, -1}`` for 7500..65535)."""
    view = _unsigned_view(da)
    if view is not None or da.dtype.kind != "f":
        return view
    flag = da.attrs.get("_Unsigned", da.encoding.get("_Unsigned"))
    stored = da.encoding.get("dtype")
    if stored is None:  # the encoding lost its dtype: the bounds' own integer dtype
        kinds = [np.asarray(da.attrs[k]).dtype for k in _VALID_KEYS
                 if da.attrs.get(k) is not None and not isinstance(da.attrs[k], (str, bytes))]
        stored = next((d for d in kinds if d.kind in "iu"), None)
    return None if stored is None else _unsigned_of(flag, stored)


def _reinterpreted(v: float, view: np.dtype | None) -> float:
    """A stored number (a fill, a valid bound) written in the stored dtype, as the value of
    ``view`` it stands for (the int16 fill -1 of an unsigned variable is 65535)."""
    if view is None or not np.isfinite(v) or v != int(v):
        return v
    bits = 8 * view.itemsize
    if view.kind == "u" and v < 0:
        return v + 2.0**bits
    if view.kind == "i" and v >= 2.0 ** (bits - 1):
        return v - 2.0**bits
    return v


#: CF attributes that bound the valid stored values
_VALID_KEYS = ("valid_range", "valid_min", "valid_max")


def _packed_encoding(da: xr.DataArray) -> tuple[float, float] | None:
    """(scale, offset) of values already decoded by xarray or rioxarray (``mask_and_scale``):
    floats whose ``encoding`` holds the scale and whose ``attrs`` do not; else None."""
    if da.dtype.kind != "f" or any(da.attrs.get(k) is not None
                                   for k in ("scale_factor", "add_offset")):
        return None
    scale, offset = da.encoding.get("scale_factor"), da.encoding.get("add_offset")
    if scale is None and offset is None:
        return None
    try:
        s = 1.0 if scale is None else float(np.ravel(scale)[0])
        o = 0.0 if offset is None else float(np.ravel(offset)[0])
    except (TypeError, ValueError):
        return None
    return (s, o) if np.isfinite(s) and np.isfinite(o) and s != 0 else None


def _valid_bounds(da: xr.DataArray, physical_range: tuple[float, float] | None = None,
                  finite: bool = True, guide: bool = False) -> tuple[float, float, str] | None:
    """The bounds of valid values that ``da``'s CF attributes declare, as (lo, hi, text naming
    the attributes), or None: ``valid_range``, ``valid_min`` / ``valid_max`` (several: the
    narrowest), in the stored values' terms (``_Unsigned`` applied, from ``encoding`` too on
    decoded values: :func:`_bounds_view`).

    With ``physical_range`` (the LST) or ``guide``, bounds left in ``attrs`` on values already
    decoded (:func:`_packed_encoding`) are in packed units, as CF prescribes (xarray applies the
    scale and leaves them): they are converted through the encoding's scale and offset, widened
    by half a packed step (the decoded values' rounding), unless they were set in the decoded
    units: for the LST, only the unconverted bounds meet ``physical_range`` (bounds set in
    Kelvin after decoding); for a guide, which has no physical range, the converted bounds
    exclude more of its (in-memory) values than the unconverted ones.
    """
    given = {k: da.attrs.get(k) for k in _VALID_KEYS if da.attrs.get(k) is not None}
    if not given:
        return None
    lo, hi = -np.inf, np.inf
    if "valid_range" in given:
        lo, hi = _attr_numbers(given["valid_range"], "valid_range", 2, finite)
    if "valid_min" in given:
        lo = max(lo, _attr_numbers(given["valid_min"], "valid_min", 1, finite)[0])
    if "valid_max" in given:
        hi = min(hi, _attr_numbers(given["valid_max"], "valid_max", 1, finite)[0])
    view = _bounds_view(da)
    lo, hi = _reinterpreted(lo, view), _reinterpreted(hi, view)
    names = " / ".join(repr(k) for k in given)
    packed = _packed_encoding(da) if physical_range is not None or guide else None
    if packed is not None:
        s, o = packed
        clo, chi = sorted((lo * s + o, hi * s + o))
        whole = all(not np.isfinite(v) or v == int(v) for v in (lo, hi))
        tol = 0.5 * abs(s) if whole else 1e-6 * max(abs(clo), abs(chi), 1.0)
        if physical_range is not None:
            plo, phi = physical_range

            def meets(a: float, b: float) -> bool:
                return max(a, plo) <= min(b, phi)

            converted = meets(clo, chi) or not meets(lo, hi)
        else:
            # a lazy guide is not read here: CF's reading
            data = da.variable.data
            converted = True
            if isinstance(data, np.ndarray):
                v = data[np.isfinite(data)]
                converted = (np.count_nonzero((v < clo - tol) | (v > chi + tol))
                             <= np.count_nonzero((v < lo) | (v > hi)))
        if converted:
            text = _kelvin_text if physical_range is not None else (lambda x: f"{x:g}")
            return (clo - tol, chi + tol,
                    f"{names} (packed; {text(clo)} to {text(chi)} through the "
                    f"encoding's scale_factor {s:g} / add_offset {o:g})")
    return lo, hi, names


def _sentinel_fill(v: np.ndarray) -> tuple[float, int, bool] | None:
    """A usual product fill (:data:`FILL_SENTINELS`) in the finite values ``v``, as (value,
    count, at the edge), or None: repeated on at least :data:`FILL_MIN_PIXELS` pixels (or on
    all) and either the smallest or largest value, or a spike apart from the data, at least
    5 times as frequent as any other value within 1 % of the value range of it. MOD13's -3000
    lies inside an NDVI whose water goes below -0.3 (9 of the 55 MODIS/ASTER pairs), so the
    edge test alone let it through; a genuine NDVI of -0.3 repeats no more than its neighbours."""
    if not v.size:
        return None
    lo, hi = float(v.min()), float(v.max())
    width = max(1.0, 0.01 * (hi - lo))
    for c in sorted(FILL_SENTINELS):
        count = int(np.count_nonzero(v == c))
        if count < min(FILL_MIN_PIXELS, v.size):
            continue
        if c in (lo, hi):
            return c, count, True
        near = v[(np.abs(v - c) <= width) & (v != c)]
        top = int(np.unique(near, return_counts=True)[1].max()) if near.size else 0
        if count >= FILL_MIN_PIXELS and count >= 5 * top:
            return c, count, False
    return None


def _stored_guide_fill(stored: np.ndarray) -> None:
    """Refuse a guide block whose stored digital numbers (declared fills and bounds already
    NaN) hold a usual product fill (:func:`_sentinel_fill`: at their edge or apart from the
    data) on at least :data:`FILL_MIN_PIXELS` pixels (or on the whole block). Decoded, MOD13's
    -3000 is NDVI -0.3, a value water takes, so the decoded guide's own fill test lets it
    through: an int16 NDVI with its scale declared but not its fill ran TsHARP with the fill as
    water."""
    v = np.asarray(stored)
    v = v[np.isfinite(v)]
    found = _sentinel_fill(v)
    if found is not None:
        c, count, edge = found
        where = "at the edge of its values" if edge else "far more often than any value near it"
        raise UndeclaredFillError(
            f"the guide stores {c:g} on {count} of {v.size} pixels of a block, {where}, "
            f"and declares a scale_factor but no fill value: {c:g} is a "
            "usual fill of stored products (MOD13's NDVI fill -3000 decodes to NDVI -0.3, "
            "which looks like water). Declare it in stored units "
            f"(`guide.attrs['_FillValue'] = {c:g}`), or, if it is data, decode the guide "
            "yourself (`guide * scale_factor`, its scale_factor attribute dropped)."
        )


def _check_stored_guide_fill(block: np.ndarray) -> np.ndarray:
    _stored_guide_fill(block)
    return block


def _refuse_stored_guide_fill(data: Any) -> Any:
    """:func:`_stored_guide_fill` on every block of the stored values (lazily for dask: the
    check runs with the block's read)."""
    if isinstance(data, dsa.Array):
        return data.map_blocks(_check_stored_guide_fill, dtype=data.dtype)
    _stored_guide_fill(data)
    return data


def _decode_scaled(da: xr.DataArray, physical_range: tuple[float, float] | None = None,
                   guide: bool = False) -> tuple[xr.DataArray, bool]:
    """Apply ``_Unsigned``, fill, valid_range / valid_min / valid_max, scale_factor and
    add_offset found in attrs (``physical_range``: an LST; ``guide``: a guide band; their valid
    bounds left in packed units on decoded values are converted, :func:`_valid_bounds`).
    Returns (da, scaled)."""
    scale = _attr(da, "scale_factor")
    offset = _attr(da, "add_offset")
    view = _unsigned_view(da)
    fills = sorted({_reinterpreted(f, view) for f in _fill_values(da)})
    raw = da.variable.data
    if view is not None:  # two's complement wraps: int16 -1 is uint16 65535, as xarray reads it
        raw = raw.astype(view)
    is_int = np.issubdtype(da.dtype, np.integer)
    out_dtype = np.float64 if da.dtype == np.float64 else np.float32
    data = raw.astype(out_dtype)
    bad = None
    # float64 data matched at float32 precision too: the fill a message prints (six digits,
    # 9.96921e+36 for NetCDF's default) did not match 9.969209968386869e36 when declared
    for f in fills:
        hit = raw == f
        if raw.dtype == np.float64 and 0 < abs(f) < 1e300:  # half a float32 step of it
            hit = hit | (abs(raw - f) <= abs(f) * 2.0**-24)
        bad = hit if bad is None else (bad | hit)
    bounds = _valid_bounds(da, physical_range, guide=guide)
    if bounds is not None:
        lo, hi, names = bounds
        hit = (raw < lo) | (raw > hi)
        # fill values (a wholly cloudy granule) are not evidence against the range
        real = np.isfinite(raw) if bad is None else (np.isfinite(raw) & ~bad)
        if isinstance(raw, np.ndarray) and raw.size and real.any() and bool(hit[real].all()):
            vals = raw[real]
            keys = [k for k in _VALID_KEYS if da.attrs.get(k) is not None]
            pop = "; ".join(f"da.attrs.pop({k!r})" for k in keys)
            one = len(keys) == 1
            raise UnitsError(
                f"the {names} attribute{'' if one else 's'} ({lo:g}, {hi:g}) exclude"
                f"{'s' if one else ''} every value (from {float(vals.min()):.6g} to "
                f"{float(vals.max()):.6g}): {'it is' if one else 'they are'} in other units "
                "than the data (stored digital numbers left on decoded values?). Drop "
                f"{'it' if one else 'them'} (`{pop}`) or set {'it' if one else 'them'} in the "
                "data's units."
            )
        bad = hit if bad is None else (bad | hit)
    if bad is not None:
        data = _where(bad, np.nan, data)
    # a scale in attrs: stored numbers still (a scale of 1 leaves the fill as it is stored,
    # which the decoded guide's own fill test names)
    if guide and not fills and (
            (scale is not None and _attr_numbers(scale, "scale_factor", 1)[0] != 1)
            or (offset is not None and _attr_numbers(offset, "add_offset", 1)[0] != 0)):
        data = _refuse_stored_guide_fill(data)
    if scale is not None:
        data = data * out_dtype(_attr_numbers(scale, "scale_factor", 1)[0])
    if offset is not None:
        data = data + out_dtype(_attr_numbers(offset, "add_offset", 1)[0])
    attrs = {
        k: v for k, v in da.attrs.items()
        if k not in ("scale_factor", "add_offset", "_Unsigned", *_VALID_KEYS, *_FILL_KEYS)
    }
    out = da.copy(data=data)
    out.attrs = attrs
    out.encoding = {}
    # rioxarray keeps nodata in the spatial_ref/attrs; after decoding NaN is the only gap marker
    out = out.rio.write_nodata(np.nan, encoded=False) if out.rio.crs is not None else out
    return out, (scale is not None or offset is not None) or not is_int


def _where(cond: Any, a: Any, b: Any) -> Any:
    if isinstance(b, dsa.Array) or isinstance(cond, dsa.Array):
        return dsa.where(cond, a, b)
    return np.where(cond, a, b)


#: 'units' values that say nothing (AppEEARS writes 'NA' on its class and mask layers)
_NO_UNITS = ("", "na", "n/a", "unknown")


def _class_layer(finite: np.ndarray) -> str | None:
    """A description of values that are a class, mask or QC layer (at most 16 distinct whole
    numbers in 0..255, on at least 64 pixels), else None."""
    if finite.size < 64 or finite.min() < 0 or finite.max() > 255:
        return None
    vals = np.unique(finite[: 1_000_000])
    if vals.size > 16 or not bool(np.all(vals == np.round(vals))):
        return None
    return ", ".join(f"{v:g}" for v in vals[:8]) + (", ..." if vals.size > 8 else "")


def temperature_units(units: Any) -> str | None:
    """``"K"`` or ``"C"`` for the spellings of Kelvin and degrees Celsius the decoders take
    (``"degree_kelvin"``, ``"°K"``, ``"degrees_C"``...), None for anything else (no units,
    other units): the one table every reader and writer judges units with.

    Examples
    --------
    >>> temperature_units("degrees Kelvin"), temperature_units("°C"), temperature_units("1")
    ('K', 'C', None)
    """
    try:
        return _units_kind(None if units is None else str(units))
    except UnitsError:
        return None


def _f32_step(v: float) -> float:
    """The float32 step below ``|v|`` (``np.spacing`` overflows to inf at the float32 maximum,
    which allowed any digits)."""
    f = np.float32(min(abs(float(v)), float(np.finfo(np.float32).max)))
    return float(f) - float(np.nextafter(f, np.float32(0)))


def _kelvin_text(v: float) -> str:
    """A temperature in a message: two decimals, or six digits for a value no LST takes (a
    fill of 9.97e36 printed with 37 digits)."""
    return f"{v:.2f}" if abs(v) < 1e6 else f"{v:.6g}"


def _fill_text(v: float, tol: float | None = None) -> str:
    """A stored value as a fill to declare: the fewest digits (six at least) within ``tol``
    (the precision the value was decoded to; default two float32 steps) of it. Six digits
    always made the float32 maximum 3.40282e+38, which, declared as told, matched no pixel;
    every digit made the -80 degC fill of a Kelvin float32 decode -80.0000061035156."""
    v = float(v) + 0.0  # -0.0 is the fill 0
    if not np.isfinite(v):
        return repr(v)
    tol = 2 * _f32_step(v) if tol is None else float(tol)
    for digits in range(6, 18):
        text = f"{v:.{digits}g}"
        if abs(float(text) - v) <= tol:
            return text
    return repr(v)


_UNIT_BASES = {
    **dict.fromkeys(("k", "kelvin", "kelvins", "degk", "degkelvin"), "K"),
    **dict.fromkeys(("c", "degc", "celsius", "degcelsius"), "C"),
    **dict.fromkeys(("f", "degf", "fahrenheit", "degfahrenheit"), "F"),
}
_UNIT_PREFIXES = {"centi": 0.01, "c": 0.01, "deci": 0.1, "d": 0.1, "milli": 0.001, "m": 0.001}
_NUMBER = r"(\d+(?:\.\d*)?(?:e[-+]?\d+)?|\.\d+(?:e[-+]?\d+)?)"


def _packed_units_fix(u: str, cli: bool) -> str:
    """The fix for units that say how a temperature is packed (``u``: lower case, no spaces,
    'degrees' as 'deg'): 'K*100' (Kelvin x 100: scale 0.01), '0.01 K', 'centi-K', 'degC*10',
    'degF'; with the command line's flags where ``cli``; '' for other units.

    Examples
    --------
    >>> _packed_units_fix("k*100", True)[:60]
    " If they are Kelvin x 100: `da.attrs.update(units='K', scale"
    """
    bases = "|".join(sorted(map(re.escape, _UNIT_BASES), key=len, reverse=True))
    scale = None
    if m := re.fullmatch(rf"({bases})(?:\*|x|\u00d7){_NUMBER}", u):  # values are K x 100
        base, n = m.group(1), float(m.group(2))
        scale = 1 / n if n > 0 else None
    elif m := re.fullmatch(rf"{_NUMBER}(?:\*|x|\u00d7)?({bases})", u):  # in units of 0.01 K
        n, base = float(m.group(1)), m.group(2)
        scale = n if n > 0 else None
    elif m := re.fullmatch(rf"({'|'.join(_UNIT_PREFIXES)})-?({bases})", u):  # centi-K
        base, scale = m.group(2), _UNIT_PREFIXES[m.group(1)]
    elif u in _UNIT_BASES and _UNIT_BASES[u] == "F":
        base, scale = u, 1.0
    if (scale is None or not 0 < scale <= 1 or (scale == 1.0 and _UNIT_BASES[base] != "F")):
        return ""  # ('100 K': no packing of a temperature)
    kind = _UNIT_BASES[base]
    name = {"K": "Kelvin", "C": "degrees Celsius", "F": "degrees Fahrenheit"}[kind]
    what = name if scale == 1.0 else f"{name} x {1 / scale:.6g}"
    if kind == "F":  # degC = degF x 5/9 - 17.78: declared as a scale and offset in degC
        units, scale, offset = "degC", scale * 5 / 9, -32 * 5 / 9
    else:
        units, offset = ("K" if kind == "K" else "degC"), 0.0
    attrs = f"units={units!r}, scale_factor={scale:.7g}" + (
        f", add_offset={offset:.7g}" if offset else "")
    flags = f"--units {units} --scale {scale:.7g}" + (f" --offset {offset:.7g}" if offset else "")
    return (f" If they are {what}: `da.attrs.update({attrs})`"
            + (f" (`{flags}` on the command line)." if cli else "."))


def _units_kind(units: str | None, what: str = "LST") -> str | None:
    """``"K"``, ``"C"`` or None (no units) for the units of ``what`` (the LST, the truth: the
    input a refusal names); UnitsError for other units."""
    if isinstance(units, (tuple, list)) and units:
        # rioxarray's units of a multi-band GeoTIFF: one per band ('K', 'K'), refused as
        # unknown; bands of one kind (or none: a QC band beside the LST) are that kind, of
        # Kelvin and Celsius both are refused below
        kinds = {_units_kind(u) for u in units} - {None}
        if len(kinds) <= 1:
            return kinds.pop() if kinds else None
        # the band flag of that input (a truth with K and degC bands was told of the LST's)
        flag = {"LST": "--band", "truth": "--truth-band", "reference": "--reference-band"}.get(what)
        raise UnitsError(
            f"the bands of the {what} have different units {tuple(units)!r}: convert them to "
            "one (Kelvin) first, or select one band (`da.sel(band=1)`"
            + (f", `{flag} 1` on the command line" if flag else "") + ")."
        )
    if units is None or str(units).strip().lower() in _NO_UNITS:
        return None
    u = str(units).strip().lower().replace("°", "deg")
    u = u.replace("degrees", "deg").replace("degree", "deg")
    u_compact = u.replace(" ", "").replace("_", "")
    # the table's entries in the same spelling ("degree_kelvin" became "deg_kelvin" above and
    # matched none of them; "°K" neither)
    kelvin = {x.replace("degrees", "deg").replace("degree", "deg").replace("_", "")
              for x in _KELVIN} | {"degkelvin"}
    if u in _KELVIN or u_compact in kelvin:
        return "K"
    if u in _CELSIUS or u_compact in {x.replace(" ", "").replace("_", "") for x in _CELSIUS} or u_compact in {"degc", "degcelsius"}:
        return "C"
    unitless = u_compact in {"1", "-", "none", "dimensionless", "unitless", "ratio", "ndvi",
                             "reflectance", "percent", "%"}
    raise UnitsError(
        f"unknown LST units {units!r}. xlstsr works in Kelvin and converts degrees Celsius; "
        "set `da.attrs['units'] = 'K'` (or 'degC') after converting."
        + _packed_units_fix(u_compact, what == "LST")
        + (" These units are of a dimensionless band, not a temperature: is a guide (NDVI, "
           "reflectance) given as the LST? The LST goes first, the guide in `guide=`."
           if unitless else "")
    )


# -- per-image value checks ------------------------------------------------------------------
# Every decision below is taken on whole images (one per leading index: time, band...), never on
# dask chunks, so that a dask input is accepted or refused exactly as the same data in memory.
# On dask the image statistics are a branch of the graph (the image's chunks joined into one
# task); the checked array depends on it, so nothing is computed before the result is.


def _image_axes(da: xr.DataArray) -> tuple[str, ...]:
    """Dims in (*leading, y, x) order: the last two are the image (fallback: the last two dims)."""
    try:
        ydim, xdim = spatial_dims(da)
    except NoSpatialDimsError:
        return tuple(str(d) for d in da.dims)
    return (*(str(d) for d in da.dims if d not in (ydim, xdim)), ydim, xdim)


#: float64 bytes one whole-image task holds: a few images, at least one (whatever the input's
#: chunks along time: a cube chunked for time series, ``(time=-1, 256, 256)``, joined into
#: whole images along its chunks made one task of the whole cube, 2 GiB for a year of 1200^2)
TASK_BYTES = 4 * 2**20


def whole_images(data: dsa.Array, image_axes: int = 2, task_bytes: int | None = None) -> dsa.Array:
    """A dask array ``(*lead, *image)`` in whole images (its last ``image_axes`` axes in one
    chunk) and at most ``task_bytes`` (default :data:`TASK_BYTES`) of float64 per chunk over
    the leading axes (at least one image; leading chunks already smaller kept).

    Examples
    --------
    >>> cube = dsa.zeros((365, 1200, 1200), chunks=(365, 256, 256), dtype=np.float32)
    >>> whole_images(cube).chunksize
    (1, 1200, 1200)
    """
    lead = data.ndim - image_axes
    spec: dict[int, int] = {i: -1 for i in range(lead, data.ndim)}
    task_bytes = TASK_BYTES if task_bytes is None else task_bytes
    budget = max(1, task_bytes // (8 * max(1, int(np.prod(data.shape[lead:])))))
    for i in reversed(range(lead)):
        take = max(1, min(budget, data.shape[i]))
        if data.chunks[i] and max(data.chunks[i]) > take:
            spec[i] = take
        budget = max(1, budget // take)
    return data.rechunk(spec)


def _step_label(value: Any) -> str | None:
    """A coordinate value as Python source that ``drop_sel`` accepts: a date as its ISO text
    (``'2020-04-02T10:30:00'``), a text, bytes or number as its repr; None for a cftime date
    (its text is no label of a CFTimeIndex: ``drop_sel`` raised KeyError) or a value whose repr
    is no Python literal (NaN, objects)."""
    if isinstance(value, np.datetime64):
        return repr(pd.Timestamp(value).isoformat())
    if hasattr(value, "calendar"):  # cftime
        return None
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return repr(value) if isinstance(value, (str, bytes, int, float)) else None


def _step_word(value: Any) -> str:
    """A coordinate value in words (:func:`_step_label`; a cftime date as its text)."""
    text = _step_label(value)
    return repr(str(value)) if text is None else text


def _image_labels(t: xr.DataArray) -> np.ndarray | None:
    """Per image of ``t`` (``(*lead, y, x)``), its place, raw: ``(dims, extra)``, ``dims``
    ``((dim, index, label or None, size, unique), ...)`` per leading dim (``unique``: its labels
    are unique, so ``drop_sel`` and ``==`` pick this image's row alone) and ``extra`` ``((name,
    label), ...)``, the other coordinates along the leading dims (open_cog's ``overpass`` of a
    day+night series whose dates repeat); an object array of the leading shape, each task given
    its own block of it (:func:`_per_image`) and the text made only for an image refused
    (:func:`_image_name`). None for a single image (nothing to drop it from)."""
    lead = t.dims[:-2]
    shape = tuple(t.sizes[d] for d in lead)
    if not lead or int(np.prod(shape)) < 2:
        return None
    cols = [t[d].values if d in t.coords and t[d].ndim == 1 else None for d in lead]
    unique = [c is None or bool(pd.Index(c).is_unique) for c in cols]
    extra = [(str(n), lead.index(c.dims[0]), c.values) for n, c in t.coords.items()
             if n not in t.dims and c.ndim == 1 and c.dims[0] in lead]
    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(*shape):
        out[idx] = (tuple((d, j, None if c is None else c[j], n, u)
                          for d, j, c, n, u in zip(lead, idx, cols, shape, unique)),
                    tuple((n, vals[idx[a]]) for n, a, vals in extra))
    return out


def _image_name(place: Any) -> tuple[str, str]:
    """``(where, drop)`` of an image's place (:func:`_image_labels`): in words, with every
    leading coordinate (``time='2020-04-02T10:30:00', overpass='night'``), and the code that
    removes that image alone: ``da = da.drop_sel(time=[...])`` along the one leading dim longer
    than 1, ``drop_isel(time=[j])`` where its labels are missing or are no literal (cftime:
    KeyError), an ``isel`` of the others where they repeat (a day+night series: drop_sel and
    drop_isel raised InvalidIndexError). With several
    such dims (``(overpass, time)``) a drop takes a whole row of good images, so the image is
    masked instead (``da = da.where(~(...))``: its pixels then read as gaps)."""
    dims, extra = place
    parts = [f"{d} index {j}" if lab is None else f"{d}={_step_word(lab)}"
             for d, j, lab, _, _ in dims]
    parts += [f"{n}={_step_word(lab)}" for n, lab in extra]
    where = ", ".join(parts)
    long = [x for x in dims if x[3] > 1]
    if len(long) <= 1:
        d, j, lab, _, u = (long or list(dims))[0]
        text = None if lab is None or not u else _step_label(lab)
        drop = (f"drop_sel({d}=[{text}])" if text is not None else
                f"drop_isel({d}=[{j}])" if u else
                # drop_isel reindexes too (InvalidIndexError on repeated labels): isel keeps
                f"isel({d}=np.delete(np.arange(da.sizes[{d!r}]), {j}))")
        return where, f"da = da.{drop}"
    terms = []
    for d, j, lab, _, u in long:
        text = None if lab is None or not u else _step_label(lab)
        terms.append(f"(xr.DataArray(np.arange(da.sizes[{d!r}]) == {j}, dims={d!r}))"
                     if text is None else f"(da[{d!r}] == da[{d!r}].values[{j}])")
    return where, f"da = da.where(~({' & '.join(terms)}))"


def _named_verdict(imgs: np.ndarray, places: np.ndarray, verdict_fn: Any) -> np.ndarray:
    """``verdict_fn(imgs, names=...)`` with the names of the block's images (``places``: their
    block of :func:`_image_labels`, ``(*lead, 1, 1)``)."""
    return verdict_fn(imgs, names=[_image_name(p) for p in places.ravel()])


def _per_image(da: xr.DataArray, verdict_fn: Any, apply_fn: Any, n_verdict: int,
               named: bool = False) -> xr.DataArray:
    """``apply_fn(block, verdict)`` over ``da`` where ``verdict = verdict_fn(images)`` is taken on
    whole images: ``images`` is ``(*lead, y, x)``, the verdict ``(*lead, 1, n_verdict)``.
    ``named``: ``verdict_fn`` takes ``names=``, its images' ``(where, drop)``
    (:func:`_image_name`: a refusal names the step at fault), where there are several images.

    Numpy: both run at once. Dask: the verdict is one task per few whole images
    (:func:`whole_images`), and every block of the result depends on its images' verdicts.
    """
    if da.ndim < 2:
        one = da.expand_dims([f"_xlstsr_{i}" for i in range(2 - da.ndim)], axis=0)
        return _per_image(one, verdict_fn, apply_fn, n_verdict).squeeze(
            [d for d in one.dims if str(d).startswith("_xlstsr_")], drop=True)
    order = _image_axes(da)
    t = da.transpose(*order)
    data = t.variable.data
    nd = data.ndim
    places = _image_labels(t) if named else None
    if isinstance(data, dsa.Array):
        whole = whole_images(data)
        extra = []
        if places is not None:
            # each verdict task given its own images' places (the whole cube's names in
            # every task grew as the square of the steps: 5 GB pickled for 8000)
            extra = [dsa.from_array(places[..., None, None],
                                    chunks=(*whole.chunks[:-2], (1,), (1,)))]
            verdict_fn = partial(_named_verdict, verdict_fn=verdict_fn)
        verdict = dsa.map_blocks(
            verdict_fn, whole, *extra, dtype=np.float64,
            chunks=(*whole.chunks[:-2], (1,), (n_verdict,)),
            meta=np.empty((0,) * nd, np.float64),
        ).rechunk((*data.chunks[:-2], (1,), (n_verdict,)))  # tiny: on the data's steps
        ind = tuple(range(nd))
        vind = (*range(nd - 2), nd, nd + 1)  # its last two indices are contracted away
        checked = dsa.blockwise(
            apply_fn, ind, data, ind, verdict, vind, dtype=data.dtype, concatenate=True,
            meta=np.empty((0,) * nd, data.dtype),
        )
    else:
        arr = np.asarray(data)
        checked = apply_fn(arr, verdict_fn(arr) if places is None
                           else _named_verdict(arr, places, verdict_fn))
    return t.copy(data=checked).transpose(*da.dims)


def _apply_mask_flag(block: np.ndarray, verdict: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Mask values outside [lo, hi] in the images whose verdict says so (column 0)."""
    flag = verdict[..., 0:1] > 0  # (*lead, 1, 1): broadcasts over the block's pixels
    if not flag.any():
        return block
    out_of_range = (block < lo) | (block > hi)
    return np.where(flag & out_of_range, np.asarray(np.nan, block.dtype), block)


def _quantiles(f: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """Exact order statistics of ``f`` at fractions ``qs`` (lower value), O(n) with partition."""
    pos = sorted({min(f.size - 1, max(0, int(q * (f.size - 1)))) for q in qs})
    part = np.partition(f, pos)
    return np.array([part[min(f.size - 1, max(0, int(q * (f.size - 1))))] for q in qs])


def suspect_fill(values: np.ndarray, *, share: float | None = None,
                 gap: float | None = None) -> tuple[float, float] | None:
    """A single value that looks like an undeclared fill value, as ``(value, share)``, or None.

    The rule: one value covers at least ``share`` (default :data:`FILL_SHARE`) of the
    valid pixels (and at least :data:`FILL_MIN_PIXELS`), and lies far below the other pixels'
    distribution: ``gap`` (default :data:`FILL_GAP_K`, Kelvin) below their median and
    :data:`FILL_IQR` inter-quartile ranges below their lower quartile. A pixel counts as that
    value within :data:`FILL_REL_TOL` of it (:func:`_fill_pixels`; exactly for 0): a fill
    resampled with the scene (the ASTER references' 2000, 200 K) is a plateau of many values
    within 0.002 K of one, and ``value`` is the most frequent of them (:func:`_fill_pixels`
    finds them all). Real temperatures do not repeat one value over a large part of a scene far
    below the rest (a uniform scene has no "rest"; a quantised one spreads over many values
    further apart), fill values (SEVIRI's -80 degC = 193 K, an ASTER 0 outside the scene) do.
    Cost: O(n), one partition and a few comparisons in the values' own dtype (about 25 ms for
    a 1200 x 1200 image, 0.45 s and 300 MB for 25 Mpx of float32); the values far below the
    median are sorted to be grouped only when a bound (a histogram) allows a plateau (60 ms
    for a 1200 x 1200 image holding one).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> scene = 305 + 3 * rng.standard_normal(400)
    >>> suspect_fill(scene) is None
    True
    >>> scene[:190] = 193.15  # SEVIRI's -80 degC fill over half the scene, undeclared
    >>> v, s = suspect_fill(scene); round(v, 2), round(s, 3)
    (193.15, 0.475)
    >>> scene[:190] = 200 - 0.001 * rng.random(190)  # a fill of 200 K, resampled: 190 values
    >>> v, s = suspect_fill(scene); round(v, 2), round(s, 3)
    (200.0, 0.475)
    """
    share = FILL_SHARE if share is None else share
    gap = FILL_GAP_K if gap is None else gap
    f = np.asarray(values).ravel()
    if not np.issubdtype(f.dtype, np.floating):
        f = f.astype(np.float64)
    f = f[np.isfinite(f)]
    n = f.size
    k = max(FILL_MIN_PIXELS, int(np.ceil(share * n)))
    if n < 2 * FILL_MIN_PIXELS or k > n:
        return None
    # candidates: a fill on up to a third of the pixels lies more than gap/2 below the median
    # (it is FILL_IQR IQRs below the rest's lower quartile and gap below its median); a larger
    # one covers the minimum, the n/3-th or the median order statistic
    part = np.partition(f, [n // 3, n // 2])
    median = float(part[n // 2])
    cands = {f.dtype.type(f.min()), part[n // 3], part[n // 2]}
    del part
    low = f[f < median - gap / 2]  # usually (almost) empty
    possible = low.size >= k
    if possible and low.size > 100_000:
        # an upper bound first, without sorting: any window of values within FILL_REL_TOL of
        # one of them lies in 3 bins as wide as the widest tolerance (a 4th absorbs rounding):
        # a bimodal scene's cold tail (40 % of 25 Mpx) is ruled out at a fraction of the cost
        lo, hi = float(low.min()), float(low.max())
        w = FILL_REL_TOL * max(abs(lo), abs(hi))
        # (a span beyond the dtype's range, ~1e38 apart, is left to the sort: its bins overflow)
        if w > 0 and np.isfinite(hi - lo) and hi - lo > 4 * w:
            bins = int(np.ceil((hi - lo) / w)) + 1  # at most 2 / FILL_REL_TOL + 1
            # bin positions off by < 0.1 bin in float32 (not float16: 100 bins)
            t = (np.float32 if low.dtype.itemsize <= 4 and w > 1e-30 and hi - lo < 1e37
                 else np.float64)
            x = np.subtract(low, t(lo), dtype=t)
            x *= t(1 / w)
            c = np.concatenate(([0], np.cumsum(np.bincount(x.astype(np.int32), minlength=bins))))
            del x
            possible = c.size <= 4 or int((c[4:] - c[:-4]).max()) >= k
    if possible:
        # the densest group of values within FILL_REL_TOL of one of them, by its most frequent
        # (in float64, as _fill_pixels compares)
        low = np.sort(low.astype(np.float64))
        tol = np.abs(low)
        tol *= FILL_REL_TOL
        edge = low - tol
        counts = -np.searchsorted(low, edge)
        np.add(low, tol, out=edge)
        counts += np.searchsorted(low, edge, "right")
        del edge
        i = int(np.argmax(counts))
        if counts[i] >= k:
            group = low[np.abs(low - low[i]) <= tol[i]]
            vals, reps = np.unique(group, return_counts=True)
            cands.add(f.dtype.type(vals[int(np.argmax(reps))]))
    del low
    # each candidate's pixels within FILL_REL_TOL, counted in f's own dtype (a float64 copy
    # per candidate made this 4x slower, 2.7x the memory); the mask is kept for the winner
    best: tuple[Any, int] | None = None
    for c in cands:
        count = int(np.count_nonzero(_fill_pixels(f, c)))
        if count >= k and (best is None or count > best[1]):
            best = (c, count)
    if best is None:
        return None
    raw, count = best
    v = float(raw)
    rest = f[~_fill_pixels(f, raw)]  # order statistics: exact in f's dtype
    if rest.size < FILL_MIN_PIXELS:
        return None
    q25, q50, q75 = (float(q) for q in _quantiles(rest, (0.25, 0.5, 0.75)))
    if v < q50 - gap and v < q25 - FILL_IQR * (q75 - q25):
        return v, count / n
    return None


def _fill_pixels(values: np.ndarray, value: float) -> np.ndarray:
    """Where ``values`` hold the fill ``value`` that :func:`suspect_fill` found: within
    :data:`FILL_REL_TOL` of it (exactly, for 0), as a boolean array of ``values``' shape.

    Floating values are compared in their own dtype, with bounds of that dtype chosen so that
    the result is that of comparing in float64 (no float64 copy of the image).

    Examples
    --------
    >>> _fill_pixels(np.array([1999.9995, 2000.0, 2000.3, 0.0, 1e-9]), 2000.0).tolist()
    [True, True, False, False, False]
    >>> _fill_pixels(np.array([0.0, 1e-9]), 0.0).tolist()
    [True, False]
    >>> _fill_pixels(np.array([1999.9801, 2000.0199, 2000.02], np.float32), 2000.0).tolist()
    [True, True, False]
    """
    v = float(value)
    tol = FILL_REL_TOL * abs(v)
    a = np.asarray(values)
    if a.dtype not in (np.float16, np.float32, np.float64):
        a = a.astype(np.float64)  # integers, long doubles: compared as before
    t = a.dtype.type

    def inside(x: Any) -> bool:
        return abs(float(x) - v) <= tol

    # the smallest and largest values of a's dtype within tol of v (v is within them: a
    # candidate is one of the values, and bounds rounded to the dtype move by an ulp at most)
    with np.errstate(over="ignore"):  # a bound at the dtype's largest value steps to inf
        lo, hi = t(v - tol), t(v + tol)
        while not inside(lo) and float(lo) < v:
            lo = np.nextafter(lo, t(np.inf))
        while inside(np.nextafter(lo, t(-np.inf))):
            lo = np.nextafter(lo, t(-np.inf))
        while not inside(hi) and float(hi) > v:
            hi = np.nextafter(hi, t(-np.inf))
        while inside(np.nextafter(hi, t(np.inf))):
            hi = np.nextafter(hi, t(np.inf))
    if not inside(lo) or not inside(hi):
        return np.zeros(a.shape, bool)  # no value of the dtype within tol of v
    if lo == hi:
        return a == lo
    at = a >= lo
    at &= a <= hi
    return at


#: a stored scale is offered for a field only if it brings the field's median within this
#: many Kelvin of a field of the same ground and overpass (evaluate: sr's median): K x 100 was
#: offered for Landsat Level-1 radiance counts (237 "K" against sr's 289 K), followed, and
#: scored (a 50 K RMSE)
NEAR_LIKE_K = 20.0

#: Landsat 8 band 10's calibration, the same in every scene's MTL (RADIANCE_MULT_BAND_10,
#: RADIANCE_ADD_BAND_10, K1_CONSTANT_BAND_10, K2_CONSTANT_BAND_10)
LANDSAT8_B10_CALIBRATION = (3.342e-4, 0.1, 774.8853, 1321.0789)


def _near_like(kelvin: float, like: tuple[float, str] | None) -> bool:
    """Whether ``kelvin`` lies within :data:`NEAR_LIKE_K` of ``like``'s median (no ``like``:
    any value does)."""
    return like is None or abs(kelvin - like[0]) <= NEAR_LIKE_K


def _like_at(like: Any, i: int) -> tuple[float, str] | None:
    """``like`` of image ``i``: ``(median, name)`` or ``(callable of i, name)``, or None."""
    if like is None:
        return None
    value, name = like
    value = value(i) if callable(value) else value
    return None if value is None or not np.isfinite(value) else (float(value), str(name))


def _landsat_l1_hint(median: float, like: tuple[float, str] | None) -> str:
    """'they look like Landsat 8 Level-1 band-10 digital numbers ...' when stored values of
    ``median`` are brightness temperature near ``like``'s median through band 10's
    calibration; '' otherwise, and without ``like`` (K x 100 of 300 K, 30000, is also band 10
    at 304 K: only a field of the same overpass tells them apart)."""
    if like is None or not 1000.0 <= median <= 65535.0:
        return ""
    ml, al, k1, k2 = LANDSAT8_B10_CALIBRATION
    bt = k2 / np.log(k1 / (ml * median + al) + 1.0)
    if not (190.0 <= bt <= 345.0 and _near_like(bt, like)):
        return ""
    return (f"they look like digital numbers of radiance of a Landsat 8 Level-1 thermal band "
            f"(band 10's calibration makes their median a brightness temperature of {bt:.1f} "
            "K): read the scene with "
            "`xlstsr.io.open_landsat8_l1` and give its `bt` (brightness temperature, "
            "calibrated and cloud-masked)")


#: file suffixes whose scale/offset tags :func:`_retag_command` rewrites (GDAL's GeoTIFF tags
#: through rasterio; NetCDF attributes through xarray)
_TIFF_SUFFIXES = (".tif", ".tiff")
_NETCDF_SUFFIXES = (".nc", ".nc4", ".cdf")
#: a Zarr store (a folder): its variable's attributes through xarray
_ZARR_SUFFIX = ".zarr"


#: a file's own scale/offset tag rewritten, where the file is not known (a reference decoded
#: by evaluate first): the GeoTIFF way
_OWN_TAG_HINT = ("a file's own tag is rewritten on a copy (GeoTIFF: `f.{0} = ({1},) * f.count` "
                 "on the copy opened with `rasterio.open(path, \"r+\", "
                 "IGNORE_COG_LAYOUT_BREAK=\"YES\")`, which a Cloud Optimized GeoTIFF needs), "
                 "then given")


#: the file an array was read from: (path, variable, the array's number of values, the
#: GeoTIFF bands it holds), the third telling an array of several files (open_mfdataset, a
#: concat of per-date files: their encoding names the first file only) from one file's
#: (:func:`_file_size`), the fourth the bands read (0-based, from rioxarray's ``band``
#: labels; or the one band's description, open_cog's ``long_name``; None: unknown), whose
#: tags alone a rewrite mends (:func:`_retag_command`: none where a several-band file's
#: band is unknown; a band picked with drop=True, whose tags are every band's: rioxarray
#: gives a per-band ``scales`` attribute where they differ, refused before)
_Source = tuple[str, "str | None", int, "tuple[int, ...] | str | None"]


def _local_path(path: str) -> str | None:
    """``path`` as a file (or .zarr folder) on this machine, resolved (a ``file://`` URL
    decoded, as :func:`xlstsr.io.zarr.local_path` does), or None: a URL or GDAL virtual path
    (zip://, https://, s3://, /vsicurl/...). Only a local file is re-read for its tags or
    copied (``shutil.copyfile`` of a zip:// source failed, and re-reading a remote one costs)."""
    from .io.zarr import local_path

    if path.startswith("/vsi"):
        return None
    local = local_path(path)
    if local is None:
        return None
    # (the path as given where it is one: a symlink's copy goes beside the link, as before)
    text = str(local) if "://" in path else path
    ok = local.is_file() or (text.lower().endswith(_ZARR_SUFFIX) and local.is_dir())
    return text if ok else None


def _local_file(path: str) -> bool:
    """Whether ``path`` is a file on this machine (:func:`_local_path`)."""
    return _local_path(path) is not None


def _file_size(source: _Source) -> int | None:
    """The number of values the file ``source`` holds for its variable (all bands of a
    GeoTIFF), or None where it cannot be read."""
    path, var = _local_path(source[0]), source[1]
    if path is None:
        return None
    suffix = os.path.splitext(path)[1].lower()
    try:
        if suffix in _TIFF_SUFFIXES:
            import rasterio

            with rasterio.open(path) as f:
                return int(f.count * f.height * f.width)
        if suffix in _NETCDF_SUFFIXES and var is not None:
            with xr.open_dataset(path, mask_and_scale=False, decode_times=False) as ds:
                return int(ds[var].size)
        if suffix == _ZARR_SUFFIX and var is not None:
            with xr.open_zarr(path, mask_and_scale=False, decode_times=False) as ds:
                return int(ds[var].size)
    except (OSError, KeyError, TypeError, ValueError, RuntimeError):
        return None
    return None


def _file_tags(source: _Source | None) -> tuple[list[float], list[float]] | None:
    """The scales and offsets that the file ``source`` (path, variable) declares in its own
    tags (a GeoTIFF's per-band ones; a NetCDF variable's attributes), or None where it cannot
    be read: what tells a file's own wrong tag from one the user typed (the command line's
    ``--scale`` sets the same attribute)."""
    path = None if source is None else _local_path(source[0])
    if path is None:
        return None  # (a remote file is not re-read: its tags stay unknown)
    var = source[1]
    suffix = os.path.splitext(path)[1].lower()
    try:
        if suffix in _TIFF_SUFFIXES:
            import rasterio

            with rasterio.open(path) as f:
                return [float(s) for s in f.scales], [float(o) for o in f.offsets]
        if suffix in (*_NETCDF_SUFFIXES, _ZARR_SUFFIX) and var is not None:
            opener = xr.open_zarr if suffix == _ZARR_SUFFIX else xr.open_dataset
            with opener(path, mask_and_scale=False, decode_times=False) as ds:
                attrs = ds[var].attrs
            return ([float(np.ravel(attrs.get("scale_factor", 1.0))[0])],
                    [float(np.ravel(attrs.get("add_offset", 0.0))[0])])
    except (OSError, KeyError, TypeError, ValueError, RuntimeError):
        return None  # (unreadable now: the typed-flag wording stays)
    return None


# the advised copy never replaces a file of its name (regression probe 50: it was overwritten)
_KEEP = 'os.path.exists(q) and sys.exit(q + " exists: remove it or pick another name"); '


def _copy_code(folder: str, copy: str, suffix: str, source: str = "") -> str:
    """The head of a ``python -c`` program that writes a mended copy of a file (its body
    follows: it writes the temporary ``t`` and ends ``os.replace(t, q)``): it stops where
    the copy ``q`` exists (:data:`_KEEP`), and works in a temporary folder in ``folder``,
    beside the copy (a rename across file systems is no rename), so a failure leaves no
    half-done copy under the advised name. Each argument is a Python expression; ``source``
    a statement run first (``p = sys.argv[1]; `` for a loop over files)."""
    return (f"with __import__(\"tempfile\").TemporaryDirectory(dir={folder}) as d: "
            f"import os, sys, shutil; {source}q = {copy}; {_KEEP}"
            f"t = os.path.join(d, \"copy{suffix}\"); ")


def _tiff_update_code(source: str, updates: list[str]) -> str:
    """The body after :func:`_copy_code` for a GeoTIFF: ``source`` (an expression) copied to
    ``t`` and its tags updated in place by the statements ``updates`` (on the open file
    ``f``), opened with ``IGNORE_COG_LAYOUT_BREAK=YES``, without which GDAL refuses to
    update a Cloud Optimized GeoTIFF (the shared MODIS files, xlstsr's own .tif outputs)."""
    return (f"import rasterio; shutil.copyfile({source}, t); "
            "f = rasterio.open(t, \"r+\", IGNORE_COG_LAYOUT_BREAK=\"YES\"); "
            + "; ".join(updates) + "; f.close(); os.replace(t, q)")


def _described_band(path: str, description: str) -> tuple[int, ...] | None:
    """The position of the band of the GeoTIFF ``path`` described ``description`` (its only
    one), or None (every band) where none or several are, or the file is not one."""
    if os.path.splitext(path)[1].lower() not in _TIFF_SUFFIXES:
        return None
    try:
        import rasterio

        with rasterio.open(path) as f:
            hits = [i for i, d in enumerate(f.descriptions) if d == description]
    except (OSError, rasterio.errors.RasterioError):
        return None
    return (hits[0],) if len(hits) == 1 else None


def _band_count(path: str) -> int:
    """The number of bands of the GeoTIFF ``path`` (1 where it is none or unreadable)."""
    if os.path.splitext(path)[1].lower() not in _TIFF_SUFFIXES:
        return 1
    try:
        import rasterio

        with rasterio.open(path) as f:
            return int(f.count)
    except (OSError, rasterio.errors.RasterioError):
        return 1


def _placed(source: _Source | None, img: np.ndarray) -> _Source | None:
    """``source`` with the band it holds told by ``img``'s values (2-D, as decoded) where it
    names none (or a description several bands share) and holds one band's worth of a several-band GeoTIFF of that shape (open_cog's
    ``band=``, the command line's ``--band N``: no coordinate or description is left to place
    it): the one band whose stored values map onto ``img`` by one scale and offset, found
    only for a refusal's rewrite command (:func:`_retag_command`). ``source`` unchanged
    otherwise (several bands alike: the band stays unknown)."""
    if source is None or len(source) < 4 or img.ndim != 2 or not (
            source[3] is None or isinstance(source[3], str)):
        return source
    path = _local_path(source[0])
    if path is None or os.path.splitext(path)[1].lower() not in _TIFF_SUFFIXES:
        return source
    if isinstance(source[3], str) and _described_band(path, source[3]) is not None:
        return source  # placed by its description already (several described alike: not)
    try:
        import rasterio

        with rasterio.open(path) as f:
            if (f.count < 2 or (f.height, f.width) != img.shape
                    or source[2] != f.height * f.width):
                return source
            at = np.flatnonzero(np.isfinite(img).ravel())
            if at.size < 2:
                return source
            # a sample of the valid pixels, a band at a time (the whole stack as float64
            # doubled a 4 x 3000^2 refusal's time and memory): the band read fits on any
            # sample, so a sample can only leave two bands alike (no command), not pick wrongly
            at = at[::-(-at.size // _PLACED_SAMPLE)]
            y = img.ravel()[at].astype(np.float64)
            hits = []
            for b in range(f.count):
                x = f.read(b + 1).ravel()[at].astype(np.float64)
                if not np.all(np.isfinite(x)) or float(x.max()) == float(x.min()):
                    continue
                a, c = np.polyfit(x, y, 1)
                if np.max(np.abs(a * x + c - y)) <= 1e-4 * max(float(np.ptp(y)), 1e-6) + 1e-3:
                    hits.append(b)
    except (OSError, rasterio.errors.RasterioError):
        return source
    return (*source[:3], (hits[0],)) if len(hits) == 1 else source


#: at most this many valid pixels compared by :func:`_placed`
_PLACED_SAMPLE = 100_000


def _retag_command(source: _Source, scale: float | None = None,
                   drop_offset: bool = False) -> str:
    """A shell command that writes a copy of the file ``source`` (path, variable) with its
    scale tag ``scale`` and/or its offset tag dropped, and the copy to give instead; '' for a
    file of another kind or one not on this machine (a URL, zip://, /vsi...: the array's
    attribute is the way there). The command line refuses a typed ``--scale`` / ``--offset``
    over a file's own (it would apply both): a file's own wrong tag is mended in the file.

    The copy is written in a temporary folder beside it and renamed only once rewritten, so a
    failure leaves nothing behind (a half-done copy kept the wrong tag under the advised
    name); a GeoTIFF is opened with ``IGNORE_COG_LAYOUT_BREAK=YES``, without which GDAL
    refuses to update a Cloud Optimized GeoTIFF (the shared MODIS files, xlstsr's own .tif
    outputs). Only the bands read are retagged (``source[3]``; no command where unknown):
    every band's was set, and a copy's Emis_31 (0.002 + 0.49) read 5.09 for 0.95.

    Where the array holds more values than the file (several files, open_mfdataset: the
    encoding names the first only, not the one judged), a loop rewrites each file of the
    folder with that suffix (`for f in ...; do python -c '...' "$f"; done`)."""
    path, var = _local_path(source[0]), source[1]
    if path is None:
        return ""
    stem, suffix = os.path.splitext(path)
    size = _file_size(source)
    several = size is not None and len(source) > 2 and source[2] > size
    bands = source[3] if len(source) > 3 else None
    if isinstance(bands, str):
        bands = _described_band(path, bands)
    # every band held (the command line reads a file's bands as its time steps, open_cog the
    # same): each band was judged, so each is retagged (probe 52 R1/1: "not given" there)
    every = size is not None and len(source) > 2 and source[2] == size
    if bands is None and not every and _band_count(path) > 1:
        # the band read is unknown: a command retagging every band rescaled the others too
        # (review 51c/1: isel(band=0, drop=True) read Emis_31 at 10 times its value)
        return ("not given here: the file holds several bands, and which one this array is "
                "cannot be told (its `band` coordinate was dropped, and its tags are every "
                "band's), so a command would retag every band; select the band keeping its "
                "coordinate (`.sel(band=[n])`, or open_cog's `band=`) to be given one, or set "
                "the attribute as above")
    fixed = f"{stem}_retagged{suffix}"
    # one file: its path; several: each path the loop gives (sys.argv[1])
    p, q = ("p", "p[:-{}] + {}".format(len(suffix), json.dumps(f"_retagged{suffix}"))
            ) if several else (json.dumps(path), json.dumps(fixed))
    # the temporary folder beside the copy (a rename across file systems is no rename)
    folder = ("__import__(\"os\").path.dirname(__import__(\"os\").path.abspath("
              "__import__(\"sys\").argv[1]))" if several
              else json.dumps(os.path.dirname(os.path.abspath(fixed))))
    head = _copy_code(folder, q, suffix, "p = sys.argv[1]; " if several else "")

    def band_tags(key: str, value: float) -> str:
        if bands is None:
            return f"f.{key} = ({value:g},) * f.count"
        return (f"f.{key} = tuple({value:g} if i in {tuple(bands)!r} else v "
                f"for i, v in enumerate(f.{key}))")

    if suffix.lower() in _TIFF_SUFFIXES:
        sets = ([band_tags("scales", scale)] if scale is not None else []) + (
            [band_tags("offsets", 0.0)] if drop_offset else [])
        code = head + _tiff_update_code(p, sets)
    elif suffix.lower() in (*_NETCDF_SUFFIXES, _ZARR_SUFFIX) and var is not None:
        name = json.dumps(var)
        sets = ([f"ds[{name}].attrs[\"scale_factor\"] = {scale:g}"] if scale is not None
                else []) + ([f"ds[{name}].attrs.pop(\"add_offset\", None)"] if drop_offset else [])
        # (a Zarr store, a folder, is written whole and renamed as a NetCDF file is)
        how = (("open_zarr", "to_zarr") if suffix.lower() == _ZARR_SUFFIX
               else ("open_dataset", "to_netcdf"))
        code = (f"{head}import xarray as xr; ds = xr.{how[0]}({p}, mask_and_scale=False); "
                + "; ".join(sets) + f"; ds.{how[1]}(t); ds.close(); os.replace(t, q)")
    else:
        return ""
    if several:
        folder = shlex.quote(os.path.dirname(path) or ".")
        return (f"each of its files (the values span several; {shlex.quote(path)} is the "
                f"first): `for f in {folder}/*{suffix}; do python -c {shlex.quote(code)} "
                f"\"$f\"; done` (a pattern matching the series' files only), then give the "
                f"*_retagged{suffix} copies")
    return f"`python -c {shlex.quote(code)}`, then give {shlex.quote(fixed)}"


def _wrong_scale(median: float, stored: tuple[float, float, float],
                 physical_range: tuple[float, float], ref: bool = False,
                 like: tuple[float, str] | None = None, attrs_of: str | None = None,
                 spread: tuple[float, float] | Callable[[], tuple[float, float]] | None = None,
                 cli: bool = False, what: str = "LST", stored_kind: str | None = None,
                 source: _Source | None = None, decoded: bool = False) -> str:
    """When decoded values are off because the declared scale is wrong (0.002 instead of
    MOD11A1's 0.02 reads as 30 "K", like Celsius; MODIS's 0.02 on ASTER's K x 10 as 60 "K"),
    the sentence that says so and the scale that gives Kelvin of a land surface (near
    ``like``'s median when given); else ''. ``attrs_of``: a reference's variable whose
    'scale_factor' attribute is told (:func:`decode_lst`), not evaluate's ``reference_scale``.

    A declared offset is tested too: where the scale alone gives Kelvin of a land surface,
    the offset may be the one to drop (K x 50 with 0.02 and an extra 273.15 was told "0.002",
    which read it as 301 K +- 0.6 K, and trained on that). Both readings are taken: dropping
    the offset is told alone only where no scale reading fits (beside a declared offset, a
    smaller scale that squeezes the scene below :data:`SQUEEZED_SPREAD_K` while it is wider as
    decoded does not, where dropping the offset fits: the extra offset's case; where it does
    not, the smaller scale is the only reading, degC x 100 of a narrow crop declared 0.1 +
    273.15 was told 0.02, +19.6 K); a scale that fits is told alone where dropping the offset
    does not fit; where both fit they are told together with the scene's range under each,
    ranked by ``stored_kind``, the stored integers' kind ('u', 'i', None unknown): unsigned
    integers cannot hold a Celsius coding's negative values, so dropping the offset (a Kelvin
    coding: MODIS, ECOSTRESS, ASTER) comes first for them and for floats, the scale first for
    signed ones (degC x 100 in int16 declared 0.1 + 273.15 was told to drop the offset alone,
    and followed ran at 10 times the scene's contrast, std 22.9 K for 2.3 K; a rank by spread
    put 0.002 first on a wide ECOSTRESS scene, std 0.74 K for 7.43 K). ``spread``: the decoded
    values' 1st and 99th percentiles, fill-like
    values left out (:func:`_fill_free_spread`), which each reading offered must keep a land
    surface's (:data:`LAND_SURFACE_K`); or a function giving them, called only where a
    declared scale is judged (the spread runs :func:`suspect_fill` over every pixel). ``cli``: the command line's way named too; ``what``:
    the input's role, whose flag is named (``--offset``, ``--reference-offset``,
    ``--coarse-offset``, ``--truth-offset``) and whose variable is told. ``source``: the
    (path, variable) the values were read from: where the scale or offset judged is that
    file's own tag (not one typed), the command line's way rewrites the tag on a copy
    (:func:`_retag_command`; a typed flag over a file's own is refused, and "drop --offset"
    named a flag not typed). ``decoded``: ``stored`` is the coding the reader applied (a
    CF-packed NetCDF's encoding), mended on the decoded values (`da = da * 10`)."""
    scale, offset, celsius = stored
    if scale == 1.0 or celsius:
        return ""
    if callable(spread):
        spread = spread()
    raw = (median - offset) / scale

    def plausible(m: float, lo_hi: tuple[float, float] | None,
                  near: tuple[float, str] | None = like) -> bool:
        return (physical_range[0] + 50 <= m <= physical_range[1] - 50  # 200-350 K
                and _near_like(m, near)
                and (lo_hi is None or LAND_SURFACE_K[0] <= lo_hi[0] <= lo_hi[1]
                     <= LAND_SURFACE_K[1]))

    def width(lo_hi: tuple[float, float] | None) -> float | None:
        return None if lo_hi is None else lo_hi[1] - lo_hi[0]

    # the offset dropped: the scale alone makes them Kelvin (its spread is the decoded one)
    no_offset = None if spread is None else (spread[0] - offset, spread[1] - offset)
    drop_ok = offset != 0.0 and plausible(median - offset, no_offset)
    # a land surface's without the offset, whether or not near ``like``: the squeeze rule's
    # other explanation (degC x 100 of a narrow crop declared 0.1 + 273.15 reads 195 K so:
    # no other reading, its 0.01 is no squeeze)
    drop_surface = offset != 0.0 and plausible(median - offset, no_offset, None)
    kept: tuple[float, float, tuple[float, float] | None] | None = None
    candidates = [scale * 10.0**k for k in (1, 2, 3, -1, -2, -3)] + [0.02, 0.1, 0.01, 1.0]
    for s2 in candidates:
        fixed = raw * s2 + offset
        ratio = s2 / scale
        lo_hi = (None if spread is None else
                 ((spread[0] - offset) * ratio + offset, (spread[1] - offset) * ratio + offset))
        if not plausible(fixed, lo_hi):
            continue
        # a scale that squeezes the scene (+- 0.6 K) where dropping the offset fits, the other
        # explanation, is no fix, unless the scene is that narrow as decoded already; without
        # that reading there is no other, and a narrow scene is one (a uniform 32 x 32 crop
        # of 1.5 K declared 0.2 was refused 0.02, and its advice looped; degC x 100 of a 1.5 K
        # crop declared 0.1 + 273.15 was told 0.02, +19.6 K)
        w = width(lo_hi)
        if (drop_surface and w is not None and ratio < 1
                and w < SQUEEZED_SPREAD_K <= spread[1] - spread[0]):
            continue
        kept = (s2, fixed, lo_hi)
        break
    role = {"reference": "reference", "coarse LST": "coarse", "truth": "truth",
            "super-resolved field": "sr"}.get(what, "da")
    flag = {"reference": "--reference-offset", "coarse LST": "--coarse-offset",
            "truth": "--truth-offset"}.get(what, "--offset")
    # the command line is named for the roles only it types (as the offset's flag is)
    # (evaluate's sr too: its own wrong tag was told only `--units degC`, RMSE 7.76 K for 2.29)
    on_cli = cli or what in ("reference", "coarse LST", "truth", "super-resolved field")
    # the file's own tags (the reader applied them, or they match the file's): no typed flag
    # to drop or replace (the command line refuses a flag over a file's own tag)
    own_scale = own_offset = decoded
    if not decoded and source is not None and (drop_ok or kept is not None):
        tags = _file_tags(source)
        if tags is not None:
            own_scale = scale != 1.0 and any(np.isclose(t, scale, rtol=1e-6) for t in tags[0])
            own_offset = offset != 0.0 and any(np.isclose(t, offset, rtol=1e-9)
                                               for t in tags[1])
    # a file not on this machine (zip://, https://, /vsi...): its tags are not re-read, and
    # no copy is written from it (shutil.copyfile of a zip:// source failed)
    remote = ("" if decoded or source is None or _local_file(source[0]) else
              " where typed; where the tag is the file's own, make a local copy of the file "
              "first (it is not a local file) and give the copy")
    drop = ""
    if drop_ok:
        v = attrs_of if ref and attrs_of else role
        retag = _retag_command(source, drop_offset=True) if own_offset and source else ""
        cli_way = (f"the file's own tag, rewrite it on a copy: {retag}" if retag else
                   "" if own_offset else f"drop {flag}{remote}" if remote
                   else f"drop {flag}" if source is not None or what == "LST"
                   # (a reference decoded by evaluate first, its file unknown here)
                   else f"drop {flag} where typed; {_OWN_TAG_HINT.format('offsets', '0.0')}")
        drop = ((f"the offset (the file's 'add_offset', applied on reading) {offset:g} is "
                 f"applied to values the scale {scale:g} alone makes Kelvin already (median "
                 f"{median - offset:.1f} K without it): take it off, `{v} = {v} - {offset:g}`")
                if decoded else
                (f"the offset (the 'add_offset' attribute) {offset:g} is applied to values the "
                 f"scale {scale:g} alone makes Kelvin already (median {median - offset:.1f} K "
                 f"without it): drop it, `del {v}.attrs['add_offset']`"))
        drop += ((f" (on the command line, {cli_way})" if retag else f" (on the command line: {cli_way})")
                 if on_cli and cli_way else "")
    if kept is None:
        return drop
    s2, fixed, lo_hi = kept
    ratio = s2 / scale
    how = (f"{ratio:.3g} times too small" if ratio > 1 else
           f"{1 / ratio:.3g} times too large")
    what_s = "the scale" + (" (the file's 'scale_factor', applied on reading)" if decoded else
                            " (`reference_scale`, or the 'scale_factor' attribute)"
                            if ref and not attrs_of and not own_scale else
                            " (the 'scale_factor' attribute)")
    retag = _retag_command(source, scale=s2) if own_scale and source else ""
    cli_retag = (f" (on the command line, the file's own tag, rewrite it on a copy: {retag})"
                 if on_cli and retag else "")
    if decoded:  # values the reader decoded: mended as they are (their attrs hold no scale)
        v = attrs_of if ref and attrs_of else role
        expr = (f"{v} * {ratio:g}" if offset == 0.0 else
                f"({v} - {offset:g}) * {ratio:g} + {offset:g}")
        fix = f"rescale the decoded values, `{v} = {expr}`" + cli_retag
    elif ref and attrs_of:  # 1: the attribute dropped (a stale scale on Kelvin)
        fix = (f"drop it: `del {attrs_of}.attrs['scale_factor']`" if s2 == 1.0 else
               f"set `{attrs_of}.attrs['scale_factor'] = {s2:g}`")
    elif ref and own_scale:  # the reference's own attribute: evaluate refuses both
        fix = (f"set `reference.attrs['scale_factor'] = {s2:g}` (its own attribute: "
               "`reference_scale` beside it is refused)" + cli_retag)
    elif ref:
        fix = (f"pass `reference_scale={s2:g}`"
               # (a scale of 1: a typed scale to drop, the command line's own hint)
               + ("" if source is not None or s2 == 1.0 else
                  f" (where the scale is the reference's own 'scale_factor' attribute, set "
                  f"`reference.attrs['scale_factor'] = {s2:g}` instead: evaluate refuses "
                  f"both; on the command line: `--reference-scale {s2:g}` where typed; "
                  + _OWN_TAG_HINT.format("scales", f"{s2:g}") + ")"))
    else:
        scale_flag = {"coarse LST": "--coarse-scale", "truth": "--truth-scale"}.get(
            what, "--scale")
        fix = (f"set `{role}.attrs['scale_factor'] = {s2:g}`"
               + (cli_retag if own_scale else
                  # (a scale of 1: the command line's own hint says drop the typed flag)
                  f" (on the command line: `{scale_flag} {s2:g}`{remote})"
                  if on_cli and s2 != 1.0 else ""))
    rescale = (f"{what_s} {scale:g} is {how}: with {s2:g} the median would be {fixed:.1f} K "
               "(MOD11A1 LST takes 0.02, ASTER's K x 10 0.1); " + fix)
    if not drop:
        return rescale
    # both readings fit: each with the scene's range it gives, ranked by the stored type (a
    # rank by spread nearer 10 K put 0.002 first on any Kelvin scene wider than ~32 K)
    ranges = [(lo_hi, f"with {s2:g}"), (no_offset, f"without the offset {offset:g}")]
    texts = [rescale, drop]
    if stored_kind != "i":
        texts.reverse()
        ranges.reverse()
    why = {"u": "the values are stored as unsigned integers, which cannot hold a Celsius "
                "coding's negative values: likelier Kelvin, the offset the likelier error",
           "i": "stored as signed integers, as Celsius codings are (degC x 100), the scale "
                "is the likelier error"}.get(
        stored_kind, "the Kelvin codings (MODIS, ECOSTRESS, ASTER) are the common ones")
    if lo_hi is not None and no_offset is not None:
        told = "; ".join(f"{name} the scene spans {r[0]:.1f}-{r[1]:.1f} K"
                         for r, name in ranges)
        tell = (f" (both readings fit: {told} (1st-99th percentiles); {why}; a scene's "
                "spread tells which, a few K over a uniform crop, tens of K over a scene with "
                "cloud edges or relief, and the product's documentation says how it is stored)")
    else:
        tell = (f" (both readings fit; {why}; the product's documentation says how it is "
                "stored)")
    return f"{texts[0]}; or {texts[1]}{tell}"


def _fill_free_spread(finite: np.ndarray, stored: tuple[float, float, float],
                      quartiles: bool = False) -> tuple[float, float]:
    """:func:`_spread` of decoded values ``finite`` without their fill-like values: those
    stored as 0 or an integer type's extreme, and a plateau :func:`suspect_fill` finds. A
    MOD11A1 crop with 2-5 % undeclared cloud 0s under a 0.002 typo had its 1st percentile at 0
    K, so the right scale, 0.02, was refused as no land surface's spread. ``quartiles``: the
    25th and 75th percentiles instead (the middle half, :func:`_tenfold_leads`)."""
    scale, offset, celsius = stored
    v = np.asarray(finite, np.float64)
    raw = ((v - celsius) - offset) / scale if scale != 0 else v
    keep = np.abs(raw) > 0.01
    for e in (-128, 127, 255, -32768, 32767, 65535, -(2**31), 2**31 - 1, 2**32 - 1):
        keep &= np.abs(raw - e) > 0.01
    rest = v[keep]
    hit = suspect_fill(rest) if rest.size else None
    if hit is not None:
        rest = rest[~_fill_pixels(rest, hit[0])]
    if quartiles:
        q1, q3 = _quantiles(rest if rest.size else v, (0.25, 0.75))
        return float(q1), float(q3)
    return _spread(rest if rest.size else v)


#: a scene's 1st-99th percentile spread (K) below which a smaller scale offered for values
#: spread wider is taken to squeeze them (an extra offset made K x 50 read 301 K +- 0.6 K
#: with 0.002), not to decode them
SQUEEZED_SPREAD_K = 2.0


#: stored scales of LST products, and what stores them so (for the hint of scaled values)
_USUAL_LST_SCALES = ((0.1, "Kelvin x 10 (as ASTER stores it)"),
                     (0.02, "MODIS LST digital numbers (MOD11/MOD21)"),
                     (0.01, "Kelvin x 100"))
#: stored scales of degrees Celsius, named when no Kelvin scale fits (degC x 10 of a hot scene
#: runs past 400 "K"; degC x 100 was told MODIS's 0.02, 71 K)
_USUAL_CELSIUS_SCALES = ((0.1, "degrees Celsius x 10"), (0.01, "degrees Celsius x 100"))
#: a land surface's temperatures (K), over a scene's 1st-99th percentiles, that rank the scales
#: which fit a median alike (Antarctic plateau ~180 K; the hottest deserts' ~345 K LST)
LAND_SURFACE_K = (180.0, 355.0)
#: share of an image's pixels past the range, running on from the plausible values, that makes
#: them a field in other units or scale (a degC x 10 scene: 11 % past 400); fewer are stray or
#: corrupt pixels (ASTER's scene border: 2-3 of 88775 pixels at 120-146 K)
TAIL_SHARE = 0.01
#: at most this many distinct values beyond a gap of FILL_GAP_K from the data are fill values
#: (0, -9999, 65535 together); more are a second population of data (:func:`_isolated`)
FILL_FEW = 4


def _scale_fits(median: float, physical_range: tuple[float, float],
                extremes: tuple[float, float] | None = None,
                like: tuple[float, str] | None = None,
                celsius: bool = False,
                spread: tuple[float, float] | None = None,
                units_unknown: bool = False,
                ) -> list[tuple[float, bool, str, float]]:
    """The usual stored scales that make values of ``median`` (read as they are) Kelvin of a
    land surface (its median 190-345 K, within ``physical_range``; with ``extremes``, the
    smallest and largest value within ``physical_range`` too), as ``(scale, celsius, what,
    median in K)``: the Kelvin scales of :data:`_USUAL_LST_SCALES`, else those of degrees
    Celsius (:data:`_USUAL_CELSIUS_SCALES`). With ``like`` (the median and name of a field of
    the same ground and overpass), only the scales that bring the median within
    :data:`NEAR_LIKE_K` of its median. With ``celsius`` (values whose units say degrees
    Celsius), only the scales of degrees Celsius: a degC x 100 field (2681) was offered
    Kelvin x 10, 268 K. With ``spread`` (the 1st and 99th percentiles of the values), of
    several scales only those that keep it within :data:`LAND_SURFACE_K` (a land surface's
    temperatures), when any do: degC x 100 of a 279 K scene (585) was offered degC x 10 first,
    331 K on the median but 285-378 K over the scene; those left are equally plausible
    (:func:`_ambiguity`). With ``units_unknown`` (values without a ``units`` attribute), the
    Kelvin and Celsius scales that fit alike: degC x 100 of a 300 K scene (2682) was offered
    only Kelvin x 10, 268 K; with ``spread`` too, those that leave the scene a real scene's
    spread (:data:`_TWICE_STORED_SPREAD_K`) first.

    Examples
    --------
    >>> [(k, c) for k, c, _, _ in _scale_fits(3048.0, (150.0, 400.0))]
    [(0.1, False)]
    >>> [(k, c) for k, c, _, _ in _scale_fits(2682.0, (150.0, 400.0), units_unknown=True)]
    [(0.1, False), (0.01, True)]
    >>> [(k, c) for k, c, _, _ in _scale_fits(361.0, (150.0, 400.0), (282.0, 465.0))]
    [(0.1, True), (0.01, True)]
    >>> [(k, c) for k, c, _, _ in _scale_fits(585.0, (150.0, 400.0), celsius=True,
    ...                                        spread=(120.0, 1050.0))]
    [(0.01, True)]
    """
    lo, hi = physical_range

    def fits(k: float, c: float) -> bool:
        if not max(lo, 190.0) <= median * k + c <= min(hi, 345.0):
            return False
        return extremes is None or all(lo <= v * k + c <= hi for v in extremes)

    kelvin = ([] if celsius else
              [(k, False, what, median * k) for k, what in _USUAL_LST_SCALES if fits(k, 0.0)])
    in_celsius = [(k, True, what, median * k + 273.15)
                  for k, what in _USUAL_CELSIUS_SCALES if fits(k, 273.15)]
    # undeclared units: a Kelvin scale that fits does not rule the Celsius ones out
    out = kelvin + in_celsius if units_unknown and not celsius else kelvin or in_celsius
    out = [f for f in out if _near_like(f[3], like)]
    if spread is not None and len(out) > 1:
        land_lo, land_hi = LAND_SURFACE_K
        plausible = [f for f in out if all(
            land_lo <= v * f[0] + (273.15 if f[1] else 0.0) <= land_hi for v in spread)]
        out = plausible or out
    if units_unknown and spread is not None and len({f[1] for f in out}) > 1:
        # of a Kelvin and a Celsius reading, the one leaving a real scene's spread first:
        # ASTER's K x 10 (3050, 1-99 % over 14 K) read as degC x 100 spans 1.4 K. Both stay
        # offered: a lake or a night chip stored degC x 100 is as uniform as that
        out = sorted(out, key=lambda f: (spread[1] - spread[0]) * f[0] < _TWICE_STORED_SPREAD_K)
    return out


def _spread(values: np.ndarray) -> tuple[float, float]:
    """The 1st and 99th percentiles of ``values`` (a scene's range, a few stray pixels aside),
    for :func:`_scale_fits`'s ``spread``."""
    lo, hi = _quantiles(np.asarray(values, np.float64), (0.01, 0.99))
    return float(lo), float(hi)


def _ambiguity(fits: Sequence[tuple[float, bool, str, float]],
               strays: Sequence[int] | None = None) -> str:
    """' (ambiguous: ...: the product's documentation says which)' when several scales of
    :func:`_scale_fits`
    make the values a land surface's temperatures alike (degC x 10 and x 100 of a scene near
    0 degC; Kelvin x 10 and degC x 100 of values without units), else ''. ``strays``: the
    pixels each reading puts outside the physical range (:func:`_covering`), named."""
    if len(fits) < 2:
        return ""
    mixed = len({c for _, c, *_ in fits}) > 1  # Kelvin and Celsius readings: say which is which
    names = [f"x {k:g}" + ((" (degC)" if c else " (K)") if mixed else "") for k, c, *_ in fits]
    aside = "".join(f", {name} all but {n} stray pixel(s)"
                    for name, n in zip(names, strays or ()) if n)
    return (f" (ambiguous: {' and '.join(names)} both give a land "
            f"surface's temperatures over the {'scene' if aside else 'whole scene'}{aside}; "
            "the product's documentation says which)")


def _covering(fits: Sequence[tuple[float, bool, str, float]], values: np.ndarray,
              physical_range: tuple[float, float]) -> tuple[list[int], list[bool]]:
    """How many of ``values`` (as stored) each reading of ``fits`` (:func:`_scale_fits`) puts
    outside ``physical_range`` as stray pixels (under :data:`TAIL_SHARE`, 0 not counted; 0
    where more: a field in other units, not masked), and whether 0s are among those it puts
    outside (a fill to declare). A median and percentiles that fit say nothing of the rest:
    ASTER's K x 10, read x 0.1, leaves 2-3 scene-border pixels mixed with the fill at 120-146
    K, refused once followed. Every reading is kept: one leaving many pixels out is no reason
    to drop the other (degC x 100 covers any value from -12300 to 12700)."""
    v = np.asarray(values)
    lo, hi = physical_range
    strays, fills = [], []
    for k, c, *_ in fits:
        # the range in stored values: no float64 copy of the scene per reading
        a, b = sorted(((lo - (273.15 if c else 0.0)) / k, (hi - (273.15 if c else 0.0)) / k))
        out = (v < a) | (v > b)
        zeros = int(np.count_nonzero(out & (v == 0)))
        n = int(np.count_nonzero(out)) - zeros
        strays.append(n if n < TAIL_SHARE * v.size else 0)
        fills.append(zeros > 0)
    return strays, fills


def _stray_text(n: int, total: int, physical_range: tuple[float, float]) -> str:
    """', 3 stray pixel(s) of 88775 outside 150-400 K, masked' for a reading leaving ``n`` of
    ``total`` pixels out of range (its advice adds ``mask_out_of_range``), else ''."""
    if not n:
        return ""
    return (f", {n} stray pixel(s) of {total} outside {physical_range[0]:g}-"
            f"{physical_range[1]:g} K, masked")


def _unlike_text(median: float, physical_range: tuple[float, float],
                 extremes: tuple[float, float] | None, like: tuple[float, str] | None) -> str:
    """' near the super-resolved field's median (288.9 K, of the same overpass; x 0.01 gives
    237.1 K)': why no usual scale is offered for values of ``median`` (those that make them
    Kelvin of a land surface are far from ``like``'s median); '' without ``like``."""
    if like is None:
        return ""
    far = _scale_fits(median, physical_range, extremes)
    named = "".join(f"; x {k:g} gives {mk:.1f} K" for k, _, _, mk in far)
    return f" near {like[1]}'s median ({like[0]:.1f} K, of the same overpass{named})"


def _scale_fix(k: float, celsius: bool, ref: bool, cli: bool, fill0: bool = False,
               attrs_of: str | None = None, mask: bool = False) -> str:
    """The declaration that decodes values stored at scale ``k`` (of degrees Celsius with
    ``celsius``; with fill 0 with ``fill0``): evaluate's argument for a reference (with
    ``attrs_of``, the attrs of that variable: :func:`_reference_attrs_fix`), the attributes
    (and the command line's flags with ``cli``) for the LST; with ``mask`` (a reading that
    leaves stray pixels out of range, :func:`_covering`), ``mask_out_of_range`` with them: the
    declaration alone was refused once followed."""
    if ref and attrs_of:
        return _reference_attrs_fix(attrs_of, k, celsius, fill0)
    if ref:
        if celsius:
            return f"set `reference.attrs.update(scale_factor={k:g}, units='degC')`"
        return f"pass `reference_scale={k:g}" + (", reference_nodata=0" if fill0 else "") + "`"
    attrs = (f"scale_factor={k:g}" + (", units='degC'" if celsius else "")
             + (", _FillValue=0" if fill0 else ""))
    flags = (f"--scale {k:g}" + (" --units degC" if celsius else "")
             + (" --nodata 0" if fill0 else "") + (" --mask-out-of-range" if mask else ""))
    return (f"`da.attrs.update({attrs})`" + (" with `mask_out_of_range=True`" if mask else "")
            + (f" (`{flags}`)" if cli else ""))


def _landsat_dn_hint(median: float, ref: bool, fill0: bool = False,
                     like: tuple[float, str] | None = None, cli: bool = False) -> str:
    """'; if they are Landsat Collection 2 Level-2 ST digital numbers ...' when values of
    ``median`` decode to Kelvin of a land surface so (K = DN x 0.00341802 + 149: an offset, so
    no plain scale finds it), else ''; with ``cli``, the command line's flags too."""
    kelvin = median * LANDSAT_C2_ST_SCALE + LANDSAT_C2_ST_OFFSET
    if not 190.0 <= kelvin <= 345.0 or not _near_like(kelvin, like):
        return ""
    flags = (f" (`--scale {LANDSAT_C2_ST_SCALE:g} --offset {LANDSAT_C2_ST_OFFSET:g}"
             + " --nodata 0`)") if cli else ""  # 0: the product's fill
    return (f"; if they are Landsat Collection 2 Level-2 surface temperature digital numbers "
            f"(median {kelvin:.1f} K), read the scene with `xlstsr.io.open_landsat_c2l2`"
            + ("" if ref else " or decode them, `da.attrs.update(scale_factor=0.00341802, "
               f"add_offset=149.0{', _FillValue=0' if fill0 else ''})`" + flags))


def _celsius_scales(finite: np.ndarray, median: float, physical_range: tuple[float, float],
                    stored: tuple[float, float, float], ref: bool, cli: bool,
                    like: tuple[float, str] | None = None,
                    attrs_of: str | None = None) -> list[str]:
    """For decoded values (``finite``, of ``median``) of stored numbers whose units say degrees
    Celsius, the advice for each usual scale of degrees Celsius (x 10, x 100) other than the
    one applied that makes the stored whole numbers Kelvin of a land surface: degC x 10
    (268 for 26.8 degC) was told only 'already Kelvin, set units K', 268 K for a 300 K scene.
    None for values that are not whole numbers as stored, or with an offset."""
    scale, offset, celsius = stored
    if not celsius or offset != 0.0:
        return []
    raw = (finite.astype(np.float64) - celsius) / scale
    if not np.allclose(raw, np.round(raw), rtol=0.0, atol=0.01):
        return []
    raw_median = (median - celsius) / scale
    extremes = (float(raw.min()), float(raw.max()))
    fits = [f for f in _scale_fits(raw_median, physical_range, extremes, like, True,
                                   spread=_spread(raw))
            if not np.isclose(f[0], scale, rtol=1e-6)]
    note = _ambiguity(fits)
    return [_scale_fix(k, True, ref, cli, attrs_of=attrs_of)
            + f" if they are {w} (median {mk:.1f} K)"
            + (note if i == len(fits) - 1 else "") for i, (k, _, w, mk) in enumerate(fits)]


def _is_landsat_st_scale(scale: float) -> bool:
    """Whether ``scale`` is Landsat Collection 2 Level-2 surface temperature's,
    :data:`LANDSAT_C2_ST_SCALE`, to float32 rounding (a GeoTIFF tag or a NetCDF attribute)."""
    return abs(float(scale) - LANDSAT_C2_ST_SCALE) <= 4 * 2.0**-24 * LANDSAT_C2_ST_SCALE


def _landsat_scale_without_offset(da: xr.DataArray, what: str,
                                  attrs_of: str | None = None) -> str:
    """The refusal of Landsat Collection 2's surface-temperature scale declared without its
    149 K offset: every value 149 K too cold, whatever the scene (a 315 K scene read 166 K,
    inside the physical range, and was accepted). ``attrs_of``: a reference's variable whose
    attrs are told (:func:`decode_lst`), not evaluate's ``reference_scale``."""
    units = ", units='K'" if _units_kind(da.attrs.get("units")) == "C" else ""
    decode = (f"`dn.where(dn != 0) * {LANDSAT_C2_ST_SCALE:g} + {LANDSAT_C2_ST_OFFSET:g}` with "
              "`attrs['units'] = 'K'`")
    head = (f"the {what}'s scale_factor {LANDSAT_C2_ST_SCALE:g} is Landsat Collection 2 Level-2 "
            f"surface temperature's, declared without its offset {LANDSAT_C2_ST_OFFSET:g} K "
            f"(K = DN x {LANDSAT_C2_ST_SCALE:g} + {LANDSAT_C2_ST_OFFSET:g}): every value would "
            f"be {LANDSAT_C2_ST_OFFSET:g} K too cold. ")
    if what == "reference" and not attrs_of:
        return (head + "`reference_scale` declares no offset: read the scene with "
                "`xlstsr.io.open_landsat_c2l2` (fill and clouds masked too), or decode it "
                f"yourself: {decode}")
    # the command line's flags of this input (the truth's and the coarse input's own: the
    # Python advice alone did not name --truth-offset / --coarse-offset)
    role = _ROLE_FLAGS.get(what)
    # the scale the file's own tag (not a typed --scale): the command line refuses a typed
    # scale over it as declared twice (probe 52 R1/5), so only the offset is typed
    tags = _file_tags(_source_of(da)) if role is not None else None
    own = tags is not None and any(np.isclose(t, LANDSAT_C2_ST_SCALE, rtol=1e-6)
                                   for t in tags[0])
    flags = "" if role is None else (
        " (`" + ("" if own else f"--{role}scale {LANDSAT_C2_ST_SCALE:g} ")
        + f"--{role}offset {LANDSAT_C2_ST_OFFSET:g} "
        f"--{role}nodata 0" + (f" --{role}units K" if units else "") + "` on the command line"
        + (", the scale being the file's own tag" if own else "") + ")")
    return (head + "Read the scene with `xlstsr.io.open_landsat_c2l2` (fill and clouds masked "
            f"too), or declare both: `{attrs_of or 'da'}.attrs.update(scale_factor={LANDSAT_C2_ST_SCALE:g}, "
            f"add_offset={LANDSAT_C2_ST_OFFSET!r}{units}, _FillValue=0)`" + flags + ".")


#: the prefix of the command line's declaration flags (``--{prefix}scale``...) of an input, by
#: the name messages give it (``what``): the LST's and evaluate's super-resolved field's are
#: ``--scale``, the truth's ``--truth-scale``, evaluate's coarse input's ``--coarse-scale``
_ROLE_FLAGS = {"LST": "", "super-resolved field": "", "truth": "truth-", "coarse LST": "coarse-"}


def _isolated(finite: np.ndarray, vals: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Which of the out-of-range values ``vals`` (sorted, unique) of ``finite`` stand apart from
    the data, as fill values do: beyond a gap of at least :data:`FILL_GAP_K` from the values in
    ``lo``..``hi`` and every value between, with at most :data:`FILL_FEW` distinct values out
    there (0, -9999 and 65535 together), alone past its end of the range, or at a magnitude no
    data reaches (:data:`NEVER_DATA`). A tail of many values running on from the range (a scene stored in
    degC x 10, 282..465) is none: declaring 407 as a fill led to 406, 404... for 40 rounds."""
    iso = np.abs(vals) >= NEVER_DATA
    inside = finite[(finite >= lo) & (finite <= hi)]
    if not inside.size:
        return iso
    for side, edge in ((vals > hi, float(inside.max())), (vals < lo, float(inside.min()))):
        order = np.flatnonzero(side)
        if order.size == 1:  # one value alone past this end of the range: no tail to run on
            iso[order] = True
            continue
        if not order.size:
            continue
        if vals[order[0]] < lo:
            order = order[::-1]  # outward from the range, downwards
        path = np.concatenate([[edge], vals[order].astype(np.float64)])
        for g in np.flatnonzero(np.abs(np.diff(path)) >= FILL_GAP_K):
            if order.size - g <= FILL_FEW:  # the few values beyond this gap
                iso[order[g:]] = True
                break
    return iso


#: MODIS LST's scale (K per digital number), whose square is the step of a field scaled twice
MODIS_LST_SCALE = 0.02


def _scaled_twice(finite: np.ndarray, median: float, physical_range: tuple[float, float],
                  stored: tuple[float, float, float], units_known: bool, v: str = "da") -> str:
    """'MODIS digital numbers scaled twice' when values declared Kelvin (no scale left to
    apply) lie 150-400 K once divided by 0.02 and every one is a whole multiple of 0.0004 (DN x
    0.02 x 0.02: a loader's own scaling followed by a second decoding, as stackstac's
    rescale=True under open_stac did); else ''. Such a field (5.5 "K") was told "degrees
    Celsius", and following that gave a plausible 278.6 K field 5 K too warm. Celsius on a
    0.01 or 0.02 grid (decoded DN x 0.02 - 273.15, or rounded) lies on the 0.0004 grid too:
    told apart by most values being off the 0.01 grid (1 in 25 DN x 0.0004 lie on it)."""
    scale, offset, celsius = stored
    if not units_known or (scale, offset, celsius) != (1.0, 0.0, 0.0) or finite.size < 10:
        return ""
    once = median / MODIS_LST_SCALE
    if not physical_range[0] <= once <= physical_range[1]:
        return ""
    step = MODIS_LST_SCALE ** 2
    dn = finite / step
    if not np.all(np.abs(dn - np.round(dn)) < 0.02):
        return ""
    hundredths = finite / 0.01
    if np.mean(np.abs(hundredths - np.round(hundredths)) < 1e-3) >= 0.5:
        return ""  # values of 0.01: Celsius rounded (or decoded from DN x 0.02) as well
    return (f"values (median {median:.4g}, declared Kelvin) are all whole multiples of "
            f"{step:g} = {MODIS_LST_SCALE:g} x {MODIS_LST_SCALE:g}: MODIS digital numbers scaled "
            f"twice (median {once:.1f} K with one scale), not degrees Celsius. Decode the "
            "stored values once: undo the second scale, `"
            f"{v} = {v} / {MODIS_LST_SCALE:g}`, or read them without the loader's own scaling "
            "(stackstac's rescale=True under open_stac; a 'scale_factor' kept after "
            "`mask_and_scale=True`)")


def _reader_coding(stored: tuple[float, float, float],
                   packed: tuple[float, float, bool] | None,
                   ) -> tuple[tuple[float, float, float], bool]:
    """The coding that made decoded values from the stored ones, and whether the reader
    applied it: the attrs' (``stored``) where they declare one, else a CF-packed file's
    (``packed``: :func:`_packed_stored`'s, from the encoding), which :func:`_wrong_scale`
    judges alike."""
    scale, offset, celsius = stored
    if ((scale, offset) == (1.0, 0.0) and packed is not None
            and (packed[0], packed[1]) != (1.0, 0.0)):
        return (packed[0], packed[1], celsius), True
    return stored, False


def _tenfold_first(wrong: str) -> bool:
    """Whether ``wrong`` (:func:`_wrong_scale`) opens with a scale too small by a power of ten
    that gives a land surface (other than 1: dropping a typed scale is the command line's own
    hint): before degrees Celsius, which read such values with a tenth of their contrast
    (MOD11A1 under 0.002: std 0.29 K for 2.91 K, exit 0)."""
    m = re.match(r"the scale (?:\([^)]*\) )?\S+ is [\d.]+ times too small: with (\S+) ", wrong)
    return m is not None and float(m[1]) != 1.0


def _tenfold(wrong: str) -> float | None:
    """The factor of :func:`_tenfold_first`'s scale reading (10 for 0.002 -> 0.02), else
    None."""
    m = re.match(r"the scale (?:\([^)]*\) )?\S+ is ([\d.]+) times too small: with (\S+) ", wrong)
    return float(m[1]) if m is not None and float(m[2]) != 1.0 else None


def _tenfold_leads(wrong: str, middle: Callable[[], tuple[float, float]]) -> bool:
    """Whether :func:`_tenfold_first`'s scale reading goes before degrees Celsius: only where
    the Celsius reading squeezes the scene, its middle half (``middle``: fill-free quartiles
    as decoded) narrower than :data:`SQUEEZED_SPREAD_K`, as MOD11A1 under 0.002 (0.45) and
    ASTER's K x 10 tagged 0.01 (0.3-1.2 on all 55 scenes) are. A tenfold reading always has
    ten times the Celsius spread, so it cannot tell the two apart: genuine degrees Celsius
    stored x 100 with 0.01 (ECOSTRESS crops, middle half 3-5 degC) led with the scale and,
    followed, ran at std 23.8 K for 2.4 K."""
    if not _tenfold_first(wrong):
        return False
    q1, q3 = middle()
    return q3 - q1 < SQUEEZED_SPREAD_K


def _celsius_reading(spread: tuple[float, float], middle: tuple[float, float],
                     degc: str) -> str:
    """The degrees-Celsius reading offered after a tenfold scale (:func:`_tenfold_leads`),
    with the scene's span it gives (``spread``: 1st-99th percentiles as decoded; ``middle``:
    the quartiles)."""
    return (f"if they are degrees Celsius after all (the scene then spans "
            f"{spread[0]:.1f}-{spread[1]:.1f} degC, 1st-99th percentiles, its middle half "
            f"only {middle[1] - middle[0]:.2f} degC wide: narrow for a land surface, likelier "
            f"a scale too small), {degc}")


def _tenfold_range(wrong: str, spread: tuple[float, float], offset: float) -> str:
    """' (with that scale the scene spans a-b K, 1st-99th percentiles)' for the tenfold
    scale reading told after degrees Celsius (``spread``: as decoded), else ''."""
    k = _tenfold(wrong)
    if k is None:
        return ""
    lo, hi = ((v - offset) * k + offset for v in spread)
    return f" (with that scale the scene spans {lo:.1f}-{hi:.1f} K, 1st-99th percentiles)"


def _range_cause(
    finite: np.ndarray,
    median: float,
    physical_range: tuple[float, float],
    stored: tuple[float, float, float],
    units_known: bool,
    ref: bool,
    cli: bool = False,
    like: tuple[float, str] | None = None,
    attrs_of: str | None = None,
    packed: tuple[float, float, bool] | None = None,
    maskable: bool = True,
    what: str = "LST",
    stored_kind: str | None = None,
    source: _Source | None = None,
    file_wide: bool = True,
) -> str:
    """The likely cause, and its fix, of decoded values outside ``physical_range`` (``cli``: with
    the command line's option for it, for the LST input; ``what``: the input's role, whose
    offset flag a dropped offset names (:func:`_wrong_scale`); ``like``: the median and name of a
    field of the same ground and overpass, which a stored scale offered must bring the values
    near, :data:`NEAR_LIKE_K`).

    ``stored`` is (scale, offset, 273.15 if converted from Celsius else 0): how the decoded
    Kelvin were made from the stored values, to recognise a scale applied twice or Kelvin
    labelled Celsius. ``attrs_of``: a reference's variable whose attrs the fix sets
    (:func:`decode_lst`), not evaluate's ``reference_scale`` / ``reference_nodata``.
    ``packed``: the scale the reader applied (:func:`_packed_stored`): a fill named as stored.
    ``maskable``: the caller takes ``mask_out_of_range`` (a scale's advice names it for stray
    pixels, :func:`_covering`). ``stored_kind``: the stored integers' kind, 'u' or 'i' (None:
    unknown or floats), which ranks two readings that both fit (:func:`_wrong_scale`).
    ``source``: the (path, variable) read, whose own tags a fix rewrites on the command line.
    ``file_wide``: False for one step of a cube whose other steps read in range, where a
    wrong declared scale or offset (:func:`_wrong_scale`) is no reading: it is every step's,
    and its fix, followed, rescaled the good steps (307.8 K read 276.6 K, std 0.24 K for 2.43).
    """
    lo, hi = physical_range
    scale, offset, celsius = stored
    attrs_of = attrs_of if ref else None
    v = attrs_of or "da"  # the variable whose attrs a fix sets
    # the fill-free spread, once and only where a declared scale is judged (each computation
    # runs suspect_fill over every pixel: twice per scaled refusal, and on every unscaled one)
    fill_free = cache(partial(_fill_free_spread, finite, stored))
    raw_median = ((median - celsius) - offset) / scale  # the stored value
    if ((scale != 1.0 or offset != 0.0) and celsius == 0.0 and lo <= raw_median <= hi and ref
            and not attrs_of):
        return (f"the stored values (median {raw_median:.2f}) are already Kelvin, and a scale of "
                f"{scale:g} (offset {offset:g}) applied them a second time: drop "
                "`reference_scale` (or the reference's 'scale_factor' / 'add_offset' attributes)")
    if (scale != 1.0 or offset != 0.0) and celsius == 0.0 and lo <= raw_median <= hi:
        return (f"the stored values (median {raw_median:.2f}) are already Kelvin, and the "
                f"'scale_factor' {scale:g} / 'add_offset' {offset:g} attributes applied them a "
                "second time: the scale was applied before (e.g. by `mask_and_scale=True`) and "
                f"the attributes kept. Drop them: `{v}.attrs.pop('scale_factor', None); "
                f"{v}.attrs.pop('add_offset', None)`")
    if (abs(scale - LANDSAT_C2_ST_SCALE) < 1e-8 and offset == 0.0 and celsius == 0.0
            and lo <= median + LANDSAT_C2_ST_OFFSET <= hi):
        # Landsat C2 L2's scale without its offset read as degrees Fahrenheit before
        return (f"the scale {scale:g} is Landsat Collection 2's surface temperature's, without "
                f"its offset {LANDSAT_C2_ST_OFFSET:g} K (K = DN x {scale:g} + "
                f"{LANDSAT_C2_ST_OFFSET:g}): read the scene with `xlstsr.io.open_landsat_c2l2` "
                "(fill and clouds masked too), or decode it yourself: `dn.where(dn != 0) * "
                f"{scale:g} + {LANDSAT_C2_ST_OFFSET:g}` with `attrs['units'] = 'K'`")
    if celsius and lo <= median - celsius <= hi:
        scaled = _celsius_scales(finite, median, physical_range, stored, ref, cli, like,
                                 attrs_of)
        kelvin = (f"the values (median {median - celsius:.2f} as stored"
                  + ("" if scale == 1.0 else f" x {scale:g}") + ") are already Kelvin but "
                  f"the 'units' attribute says degrees Celsius: set `{v}.attrs['units'] = 'K'`")
        if scaled and scale != 1.0:
            # a scale declared on whole numbers labelled degC: the label's degC x 100 first
            # (degC x 100 given `--scale 0.1` was told only 'set units K', 268 K for 300 K)
            return ("the scale does not fit the units: " + "; or ".join(scaled)
                    + "; if " + kelvin.replace("the values", "instead the values", 1))
        return kelvin + "".join(f"; or {h}" for h in scaled)
    out = finite[(finite < lo) | (finite > hi)]
    vals, counts = np.unique(out, return_counts=True)
    iso = _isolated(finite, vals, lo, hi)
    # a fill is a value repeated apart from the data, not one step of a continuous tail
    cand = np.flatnonzero(iso & (counts >= 2))
    k = int(cand[np.argmax(counts[cand])]) if cand.size else 0
    if cand.size and (lo <= median <= hi or abs(vals[k]) >= NEVER_DATA):
        # a value repeated where no temperature lies is a fill, even over most of the image
        # (NetCDF's default fill on a mostly empty scene was "no temperature at any scale")
        sv = _fill_text(((float(vals[k]) - celsius) - offset) / scale,
                        2 * _f32_step(vals[k]) / abs(scale))
        ps = _packed_stored(((float(vals[k]) - celsius) - offset) / scale, packed)
        how = (f"pass `reference_nodata={sv}` to evaluate" if ref and not attrs_of else
               f"declare it: `{v}.attrs['_FillValue'] = {sv}`" if attrs_of else
               f"declare it: `{v}.attrs['_FillValue'] = {sv}` or "
               f"`{v} = {v}.rio.write_nodata({sv})`"
               + (f" (`--nodata {ps or sv}` on the command line)" if cli else ""))
        named = (" (NetCDF's default fill)"
                 if np.isclose(float(vals[k]), NETCDF_DEFAULT_FILL, rtol=1e-6) else "")
        most = "most values are plausible but " if lo <= median <= hi else ""
        return (f"{most}{int(counts[k])} pixel(s) of {finite.size} hold {sv} "
                f"({'' if ps is None else ps + ' '}as stored)"
                f"{named}, far outside it: an undeclared fill value; {how}")
    if (celsius and offset == 0.0 and median <= 1000 and float(finite.max()) <= 1000
            and out.size >= TAIL_SHARE * finite.size):
        # whole numbers labelled degC, scaled, below 1000 K once read (the scales of larger
        # ones are named below): a scene near 0 degC stored x 100 (-315 for 270 K) or a warm
        # one x 10 (468 for 320 K) was told only "not Kelvin of a land surface"
        scaled = _celsius_scales(finite, median, physical_range, stored, ref, cli, like,
                                 attrs_of)
        if scaled:
            return "values look scaled: " + "; or ".join(scaled)
    # Landsat C2 L2 decoded by hand as DN x 0.00341802 without its offset: 81-196 "K" (above
    # any Celsius median: a hot desert in degC declared K is told Celsius)
    with_offset = median + LANDSAT_C2_ST_OFFSET
    no_offset = (celsius == 0.0 and scale == 1.0 and offset == 0.0
                 and float(finite.min()) >= 0.0 and 230.0 <= with_offset <= 345.0)
    landsat = (f"Landsat Collection 2 surface temperature decoded without its offset (DN x "
               f"{LANDSAT_C2_ST_SCALE:g} alone; median {with_offset:.1f} K with it): add "
               f"{LANDSAT_C2_ST_OFFSET:g} K, `{v} = {v} + {LANDSAT_C2_ST_OFFSET:g}`, or read the "
               "scene with `xlstsr.io.open_landsat_c2l2`")
    tail = vals[~iso]
    n_tail = int(np.isin(out, tail).sum())
    if (lo <= median <= hi and tail.size >= 2 and n_tail >= TAIL_SHARE * finite.size
            and float(finite.max()) <= 1000):
        # many values running on from the range: the scene is in other units or scale. A
        # scale is named only for values as stored (no scale or units applied, whole numbers):
        # decoded Kelvin were told "degrees Celsius x 10", a 273 K error
        stored_dn = (scale == 1.0 and offset == 0.0 and celsius == 0.0
                     and bool(np.all(finite == np.round(finite))))
        extremes = (float(finite.min()), float(finite.max()))
        fits = _scale_fits(median, physical_range, extremes, like) if stored_dn else []
        head = (f"{n_tail} pixel(s) of {finite.size} spread over {tail.size} distinct values "
                f"from {_kelvin_text(float(tail.min()))} to {_kelvin_text(float(tail.max()))}"
                ", running on from the plausible ones: not a fill value but a field in other "
                "units or scale (or corrupt pixels)")
        how = [_scale_fix(k2, c, ref, cli, attrs_of=attrs_of)
               + f" if they are {w} (median {mk:.1f} K)"
               for k2, c, w, mk in fits]
        if no_offset and float(tail.max()) < lo:  # a warm scene's DN x scale runs below 150
            how.insert(0, f"they look like {landsat}")
        if how:
            return head + ": " + "; ".join(how)
        unlike = _unlike_text(median, physical_range, extremes, like) if stored_dn else ""
        return (head + (f" (no usual scale makes them Kelvin{unlike})" if unlike else "")
                + ": check the product's units and `scale_factor`, or mask them "
                "(`da.where(...)`)")
    if lo <= median <= hi:
        if float(finite.max()) <= 1000:
            return ("most values are plausible but some lie far outside the range: a fill "
                    f"value may not be declared (set `{v}.attrs['_FillValue']` or "
                    f"`{v}.rio.write_nodata(...)`), or mask the corrupt pixels (`{v}.where(...)`)")
    if (median > 1000 or float(finite.max()) > 1000) and not (
            scale != 1.0 and celsius == 0.0 and _wrong_scale(
                median, stored, physical_range, like=like, spread=fill_free)):
        # (a declared scale a power of ten off is named below). Name only the usual scales
        # that bring the median into the range: x 0.02 on Landsat L1 counts gives 473 K
        # (a median of Earth's LST lies well inside the physical range)
        # fitted on the values as stored, in the declared units: degC x 100 was offered
        # Kelvin x 10 on its values plus 273.15 ("median 295.4 K"), 268 K once followed
        fit_median = (median - celsius) / scale if celsius and offset == 0.0 else median
        # ranked on the scene's spread too: degC x 10 and x 100 of a cool scene both fit its
        # median (x 0.1 gave 331 K for a 279 K scene stored degC x 100, offered first)
        as_stored = (finite - celsius) / scale if celsius and offset == 0.0 else finite
        # without stored 0s, the fill of K x 10 / MODIS (_covering declares them with the
        # reading): K x 10 with 2-5 % undeclared 0 read them as 0 K, outside a land surface,
        # and only degC x 100 was offered (followed: 302 K for 291 K, probe 52 R1/3)
        nonzero = as_stored[as_stored != 0]
        spread = _spread(nonzero if nonzero.size >= FILL_MIN_PIXELS else as_stored)
        fits = _scale_fits(fit_median, physical_range, like=like, celsius=bool(celsius),
                           spread=spread, units_unknown=not units_known)
        # each reading checked on the whole scene: its stray pixels masked with it, its 0s
        # declared a fill (ASTER's K x 10 was refused once followed, for 3 border pixels)
        strays, fills = _covering(fits, as_stored, physical_range)
        strays = [0] * len(fits) if ref or not maskable else strays  # no such option
        counts = ("; or raw digital numbers of radiance (a Landsat Level-1 thermal band: "
                  "`xlstsr.io.open_landsat8_l1` gives brightness temperature) or another "
                  "quantity, not an LST")
        if lo <= median <= hi:  # most pixels plausible, some scaled or corrupt
            return ("some values look scaled (e.g. Kelvin x 10 as ASTER stores it, or MODIS "
                    "digital numbers x 0.02 K) among plausible ones: mask them (`da.where(...)`)"
                    " or decode the field as a whole")
        # Landsat Collection 2 Level-2 surface temperature (its DNs of cold scenes also pass
        # as K x 100)
        # (Landsat counts are no degrees Celsius: the hints' declarations keep the units)
        c2l2 = "" if celsius else _landsat_dn_hint(median, ref, like=like, cli=cli)
        l1 = "" if celsius else _landsat_l1_hint(median, like)
        if l1 and not fits:  # near the field of the same overpass, where no scale is
            return (f"values (median {median:.6g}) are no LST at a usual scale"
                    + _unlike_text(median, physical_range, None, like) + f": {l1}" + c2l2)
        if l1:  # K x 100 of 300 K (30000) is band 10's 304 K as well: both named
            counts = f"; if {l1.replace('they look like', 'they are', 1)}"
        if not fits:
            return (f"values (median {median:.6g}) are no temperature at any usual LST scale "
                    "(K x 10, K x 100, MODIS digital numbers x 0.02)"
                    + _unlike_text(median, physical_range, None, like) + c2l2 + counts)
        how = [_scale_fix(k, c, ref, cli, fill0=z, attrs_of=attrs_of, mask=n > 0)
               + f" if they are {what} (median {mk:.1f} K"
               + _stray_text(n, finite.size, physical_range) + ")"
               for (k, c, what, mk), n, z in zip(fits, strays, fills)]
        return ("values look scaled: " + "; ".join(how) + _ambiguity(fits, strays) + c2l2
                + counts)
    # values the reader decoded (a CF-packed NetCDF): its scale and offset judged as the
    # attrs' are (0.002 for 0.02 was told only 'set units degC', a tenth of the contrast)
    coding, decoded = _reader_coding(stored, packed)
    if decoded:
        fill_free = cache(partial(_fill_free_spread, finite, coding))
    wrong = "" if not file_wide else _wrong_scale(
        median, coding, physical_range, ref, like, attrs_of, spread=fill_free, cli=cli,
        what=what, stored_kind=stored_kind, source=source, decoded=decoded)
    as_kelvin = (median - 32.0) * 5.0 / 9.0 + 273.15
    # too hot for Celsius on many pixels (the Celsius test of the values passed them on),
    # plausible as Fahrenheit
    fahrenheit = (celsius == 0.0 and 32.0 <= median <= 160.0 and float(finite.max()) >= 75.0
                  and 230.0 <= as_kelvin <= 340.0)
    # declared units (Fahrenheit relabelled 'K' after an earlier hint): Fahrenheit where it
    # fits, unless Landsat's offset gives the more ordinary scene (nearer 295 K)
    prefer_f = fahrenheit and (not no_offset or abs(as_kelvin - 295.0) < abs(with_offset - 295.0))
    if no_offset and (units_known or float(finite.min()) > 160.0) and not prefer_f:
        # declared Kelvin (or hotter than 71 degC everywhere as Fahrenheit): neither Celsius
        # nor Fahrenheit is the likely cause
        return f"values (median {median:.1f}) look like {landsat}"
    if fahrenheit and (not units_known or prefer_f):
        labelled = ", labelled Kelvin" if units_known else ""
        return (f"values (median {median:.1f}{labelled}) look like degrees Fahrenheit "
                f"({as_kelvin:.1f} K; "
                f"as Celsius {median + 273.15:.1f} K): convert them, `{v} = ({v} - 32) * 5 / 9 + "
                f"273.15` with `{v}.attrs['units'] = 'K'`; if they are degrees Celsius (above "
                f"75 degC on part of the scene), set `{v}.attrs['units'] = 'degC'`"
                + (f"; if they are {landsat}" if no_offset else ""))
    twice = _scaled_twice(finite, median, physical_range, stored, units_known, v)
    if twice:
        return twice
    if median < lo and float(finite.min()) > -100 and not file_wide:
        # one step of a cube whose others hold Kelvin under the same declaration: setting
        # degC (or a tenfold scale) for the array, followed, broke the good steps (probe 52
        # R1/2: the good date was then refused and advised dropped, the bad one kept)
        return (f"this image alone reads like degrees Celsius (median {median:.1f}), or Kelvin "
                "under another scale, while the cube's other images hold Kelvin under the "
                "same declaration: the declaration is theirs, so no units or scale is to be "
                "set for the whole array; this date was stored otherwise")
    if median < lo and float(finite.min()) > -100:
        degc = (f"set `{v}.attrs['units'] = 'degC'`"
                + (" (`--units degC` on the command line)" if cli else ""))
        middle = cache(partial(_fill_free_spread, finite, coding, True))
        if _tenfold_leads(wrong, middle):
            return ("values look like degrees Celsius, but likelier Kelvin under a scale too "
                    "small: "
                    + wrong + "; or " + _celsius_reading(fill_free(), middle(), degc)
                    + (f"; if they are {landsat}" if no_offset else ""))
        # (a tenfold scale after degrees Celsius, with the scene's range it gives)
        return ("values look like degrees Celsius: " + degc
                + (f"; or {wrong}" + (_tenfold_range(wrong, fill_free(), coding[1])
                                      if _tenfold_first(wrong) else "") if wrong else "")
                + (f"; if they are {landsat}" if no_offset else ""))
    if wrong:
        return wrong
    return ("values are not Kelvin of a land surface: check the units, `scale_factor` and "
            "`_FillValue` of the product")


def suspect_guide_fill(values: np.ndarray, *, share: float | None = None,
                       max_values: int = 1_000_000,
                       products: bool = True) -> tuple[float, float] | None:
    """A value that looks like an undeclared fill in a guide band, as ``(value, share)``, or None.

    Unit-free (a guide may be NDVI, reflectance, emissivity, elevation): the smallest or the
    largest value covers at least ``share`` (default :data:`FILL_SHARE`) of the finite pixels
    and lies more than :data:`FILL_IQR` inter-quartile ranges outside the other pixels'
    quartiles, as MOD13's -3000 NDVI digital number or a -9999 left as data do, or on
    any share, down to one pixel, lies more than :data:`FILL_FAR_IQR` of them outside (a -9999
    scattered over 1 % of an NDVI band, or on one pixel: a leverage point of TsHARP's fit), or is
    one of the products' usual fill values (:data:`FILL_SENTINELS`) outside by
    :data:`FILL_IQR`, or such a value outside its product's valid range
    (:data:`SENTINEL_RANGES`: -3000 below an NDVI x 10000 band's -2000..10000) in a band of
    whole numbers all within that range, or is an integer type's extreme (:data:`INTEGER_FILLS`: a uint8 band's 255)
    in a band of whole numbers of that type, apart from every other value by more than their
    inter-quartile range (a saturated band that runs on up to 255 is data; on fewer than
    :data:`FILL_MIN_PIXELS` pixels only in a band that does not run from 0 to 255, as a
    stretched one does). A plausible constant
    (NDVI 0 or -0.3 over water) stays inside that reach. Large bands are judged on an even
    subsample of at most ``max_values`` pixels. ``products=False`` leaves the products' valid
    ranges out (a band declared as NDVI: its own range check names the fill and the scale).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ndvi = rng.uniform(0.1, 0.9, (100, 100))
    >>> suspect_guide_fill(ndvi) is None
    True
    >>> ndvi[:20] = -3000.0  # MOD13's fill digital number, undeclared
    >>> suspect_guide_fill(ndvi)
    (-3000.0, 0.2)
    >>> u8 = np.floor(rng.uniform(0.3, 0.7, (100, 100)) * 250)  # NDVI x 250, stored as uint8
    >>> u8[:10] = 255  # its fill, undeclared
    >>> suspect_guide_fill(u8)
    (255.0, 0.1)
    """
    share = FILL_SHARE if share is None else share
    a = np.asarray(values)
    step = max(1, int(np.ceil(np.sqrt(a.size / max_values)))) if a.ndim >= 2 else 1
    f = (a[..., ::step, ::step] if step > 1 else a).ravel()
    f = f[np.isfinite(f)]
    n = f.size
    if n < 2 * FILL_MIN_PIXELS:
        return None
    k = max(FILL_MIN_PIXELS, int(np.ceil(share * n)))
    for c in {f.dtype.type(f.min()), f.dtype.type(f.max())}:
        count = int(np.count_nonzero(f == c))
        rest = f[f != c]
        if rest.size < FILL_MIN_PIXELS:
            continue
        q25, q75 = _quantiles(rest, (0.25, 0.75))
        spread = float(q75 - q25)
        if spread <= 0:
            continue
        out = max(q25 - c, c - q75) / spread  # inter-quartile ranges outside the others
        # a large share (or a product's fill value) a little outside, or any share far outside,
        # down to one pixel: TsHARP's fit per image was corrupted by 2 % of -9999, and a single
        # -9999 of 4096 pixels, a leverage point of the fit, flattened its detail from 1.8 to
        # 0.4 K (a real value that far out would take the fit over just the same)
        near = (count >= k or float(c) in FILL_SENTINELS) and out > FILL_IQR
        if ((near and count >= FILL_MIN_PIXELS) or out > FILL_FAR_IQR
                or (float(c) in FILL_SENTINELS and out > FILL_IQR)
                or _integer_fill(c, f, rest, spread, count)
                or (products and _product_fill(c, f, rest))):
            return float(c), count / n
    return None


def _product_fill(c: Any, f: np.ndarray, rest: np.ndarray) -> bool:
    """Whether ``c`` (the smallest or largest of the guide values ``f``; ``rest``, the others)
    is a product's fill (:data:`SENTINEL_RANGES`: MOD13's -3000): the values are whole numbers,
    the others all within that product's valid range and ``c`` outside it. A band of other
    values (a DEM down to -2500 m) or of decoded floats is judged by the spread alone."""
    span = SENTINEL_RANGES.get(float(c))
    if span is None or span[0] <= float(c) <= span[1]:
        return False
    return (span[0] <= float(rest.min()) and float(rest.max()) <= span[1]
            and bool(np.all(f == np.round(f))))


def _stored_integer_fill(finite: np.ndarray, int_stored: tuple[float, float, str],
                         celsius: float = 0.0) -> tuple[float, float, float] | None:
    """An integer type's extreme (:data:`INTEGER_FILLS`, of the stored type ``int_stored[2]``)
    left as data in an LST's decoded values ``finite``, as ``(stored value, decoded value,
    share)``, or None: the rule of :func:`_integer_fill` on the stored integers
    (``int_stored``: the scale and offset that made ``finite``, ``celsius``: the 273.15 added
    to degrees Celsius). :func:`suspect_fill` looks only below the data: int16 Kelvin x 100's
    32767 decodes to 327.67 K, within the range, and was super-resolved as data.

    Examples
    --------
    >>> k = 300.0 + np.arange(100) * 0.01
    >>> k[:20] = 327.67  # int16 32767 x 0.01, undeclared
    >>> _stored_integer_fill(k, (0.01, 0.0, "int16"))
    (32767.0, 327.67, 0.2)
    >>> _stored_integer_fill(np.full(100, 327.67), (0.01, 0.0, "int16"))
    (32767.0, 327.67, 1.0)
    """
    scale, offset, dtype = int_stored
    if not finite.size or scale == 0:
        return None
    info = np.iinfo(np.dtype(dtype))

    def stored(v: Any) -> Any:
        return np.round(((np.asarray(v, np.float64) - celsius) - offset) / scale)

    lo_raw, hi_raw = float(stored(finite.min())), float(stored(finite.max()))
    zero_k = celsius + offset  # what a stored 0 decodes to
    if lo_raw == hi_raw == 0.0 and finite.size >= FILL_MIN_PIXELS and (
            not PHYSICAL_RANGE_K[0] <= zero_k <= PHYSICAL_RANGE_K[1]
            or abs(scale) <= ZERO_FILL_MAX_SCALE or finite.size >= ZERO_FILL_MIN_PIXELS):
        # every valid pixel at a stored 0 (MODIS's and ASTER's fill): a date written wholly
        # as 0 in a degC x 100 cube decoded to a uniform 273.15 K image, upscaled as data (a
        # coarse product's small crop of melting ice, whole degC, is let through: the fill
        # advice would have erased it)
        return 0.0, float(finite[0]), 1.0
    ends = {lo_raw, hi_raw}
    extremes = [c for c in sorted(ends)
                # not this type's extreme (uint16's 32767 is data)
                if INTEGER_FILLS.get(c) == (float(info.min), float(info.max))]
    if not extremes:
        return None  # the whole image mapped back only when an end is an extreme (memory)
    raw = stored(finite)
    for c in extremes:
        hit = raw == c
        rest = raw[~hit]
        if not rest.size and hit.size >= FILL_MIN_PIXELS:
            # every valid pixel at the extreme: a date written wholly as the fill (no other
            # values to stand apart from: a uniform 327.67 K image was upscaled as data)
            return c, float(finite[0]), 1.0
        # a few pixels at the extreme are a clipped hot spot, not a fill (suspect_fill's rule)
        if rest.size < FILL_MIN_PIXELS or int(hit.sum()) < FILL_MIN_PIXELS:
            continue
        q25, q75 = _quantiles(rest, (0.25, 0.75))
        spread = float(q75 - q25)
        count = int(hit.sum())
        if spread > 0 and _integer_fill(c, raw, rest, spread, count):
            return c, float(finite[hit][0]), count / finite.size
    return None


def _packed_stored(x: float, packed: tuple[float, float, bool] | None) -> str | None:
    """The value ``x`` of values the reader decoded (``packed``: the encoding's scale and
    offset, and whether the file stores integers) as the file stores it, the number the command
    line's ``--nodata`` declares (:func:`declare_lst`); None for values not decoded on reading.

    Examples
    --------
    >>> _packed_stored(1310.7, (0.02, 0.0, True)), _packed_stored(1.5, None)
    ('65535', None)
    """
    if packed is None:
        return None
    scale, offset, integer = packed
    raw = (float(x) - offset) / scale
    if integer and np.isfinite(raw):
        return str(round(raw))
    return _fill_text(raw, 2 * _f32_step(x) / abs(scale))


def _declare_fill_advice(sv: Any, what: str, attrs_of: str | None, cli: bool,
                         cli_sv: str | None = None,
                         declared: Sequence[float] = ()) -> str:
    """How to declare the undeclared fill ``sv`` (as stored) of the ``what`` field: on the
    variable ``attrs_of`` names, as evaluate's ``reference_nodata``, or on the LST (with the
    command line's ``--nodata``, ``cli_sv`` where it differs: the value as the file stores it,
    on values the reader decoded).

    ``declared``: the finite fills the field declares already (as stored). Beside another one
    the advice masks ``sv`` or declares both (``missing_value``, which decode_lst masks with
    ``_FillValue``): ``_FillValue = 0`` / ``--nodata 0`` replaced a declared -32768, which was
    then refused, and its own advice undeclared the 0 again (a loop)."""
    others = [f for f in declared if not _same_number(f, sv)]
    if others:
        v = attrs_of or ("reference" if what == "reference" else "da")
        both = ", ".join([*(_fill_number(f) for f in others), str(sv)])
        return (f"keep its declared fill ({', '.join(_fill_number(f) for f in others)}): "
                f"mask this value too, `{v} = {v}.where({v} != {sv})`, or declare both, "
                f"`{v}.attrs['missing_value'] = [{both}]` (a new `_FillValue`"
                + (" or `--nodata`" if cli else "") + " would replace the declared one"
                + ("; the command line takes one fill: write the file again with this value "
                   "masked" if cli else "") + ")")
    if attrs_of:
        return f"declare it: `{attrs_of}.attrs['_FillValue'] = {sv}`"
    if what == "reference":
        return (f"pass `reference_nodata={sv}` to evaluate, or declare it: "
                f"`reference.attrs['_FillValue'] = {sv}`")
    return (f"declare it: `da.attrs['_FillValue'] = {sv}` or `da = da.rio.write_nodata({sv})`"
            + (f" (`--nodata {cli_sv or sv}` on the command line)" if cli else "")
            + f", or mask it: `da = da.where(da != {sv})`")


def _same_number(f: float, sv: Any) -> bool:
    """Whether the declared fill ``f`` is the value ``sv`` (text as stored, e.g. '0')."""
    try:
        return float(f) == float(sv)
    except (TypeError, ValueError):
        return False


def _fill_number(f: float) -> str:
    """A declared fill as code writes it: -32768, not -32768.0."""
    return str(int(f)) if float(f).is_integer() else repr(float(f))


def fill_threshold(top: float) -> float:
    """A whole number 0.5-1.5 above a fill plateau ending at ``top``: the threshold that drops
    all of it (:func:`_threshold_fill_advice`, metrics' own check).

    Examples
    --------
    >>> fill_threshold(200.0018), fill_threshold(-79.9999995)
    (201.0, -79.0)
    """
    return float(np.floor(top + 0.5)) + 1.0


def _threshold_fill_advice(top: float, what: str, attrs_of: str | None, cli: bool,
                           as_stored: Any, rising: bool) -> str:
    """How to drop a fill plateau that ends at ``top`` (decoded, Kelvin) from
    the ``what`` field: a threshold just above it, evaluate's ``valid_min`` for the reference
    (with ``erode`` and ``clear``, which drop the pixels resampling mixed with the fill: 6.9 K
    of RMSE on an ASTER pair with the threshold alone, 2.3 K with them), else a mask of the
    values as stored (``as_stored``: decoded -> stored text; ``rising``: the stored values grow
    with the decoded ones)."""
    t = fill_threshold(top)
    if what == "reference" and not attrs_of:
        return (f"drop it with a threshold in Kelvin just above it: pass `valid_min={t:g}, "
                "erode=3, clear=True` to evaluate (`--valid-min "
                f"{t:g} --erode 3 --clear` on the command line); erode and clear drop the "
                "pixels that resampling mixed with it too")
    v = attrs_of or "da"
    ts = as_stored(t)
    return (f"mask it with a threshold just above it, as stored: `{v} = {v}.where({v} "
            f"{'>' if rising else '<'} {ts})`"
            + (" (then write the file again for the command line, which takes no threshold)"
               if cli else ""))


def _stale_scale_text(median: float, stale: tuple[float, float] | None,
                      physical_range: tuple[float, float], v: str = "da") -> str:
    """When values stored as floats were scaled on reading (``stale``: the encoding's scale and
    offset) and undone they are Kelvin of a land surface, the clause that names that stale
    scale and how to undo it; else ''. Kelvin saved decoded with the product's
    ``scale_factor`` kept (0.02) read as ~6: told "degrees Celsius", followed it gave 279 K."""
    if stale is None:
        return ""
    scale, offset = stale
    raw = (median - offset) / scale
    lo, hi = physical_range
    if not lo + 50 <= raw <= hi - 50:  # 200-350 K: plausible
        return ""
    undo = f"{v} / {scale:g}" if offset == 0 else f"({v} - {offset:g}) / {scale:g}"
    return (f"they are stored as floats with scale_factor={scale:g}, which the reader applied "
            f"(it is in `{v}.encoding`): as stored, their median is {raw:.1f}, which would be "
            "Kelvin. If that scale is one left from the product's digital numbers on a field "
            f"saved decoded, undo it, `{v} = {undo}`, or reopen the file with "
            f"`mask_and_scale=False` and drop the attribute (`{v}.attrs.pop('scale_factor')`); "
            "best, write the file again without it")


def _integer_fill(c: Any, f: np.ndarray, rest: np.ndarray, spread: float, count: int) -> bool:
    """Whether ``c`` (the smallest or largest of the guide values ``f``; ``rest``, the others,
    of inter-quartile range ``spread``, ``count`` pixels of ``c``) is an integer type's fill
    (:data:`INTEGER_FILLS`): the values are whole numbers within that type's range, and ``c``
    lies apart from the nearest other value by more than ``spread``, on at least
    :data:`FILL_MIN_PIXELS` pixels or in a band that does not span its type (a min-max
    stretched 8-bit band, 0 to 255, maps its one brightest pixel to 255: data)."""
    span = INTEGER_FILLS.get(float(c))
    if span is None or float(f.min()) < span[0] or float(f.max()) > span[1]:
        return False
    full_range = float(f.min()) == span[0] and float(f.max()) == span[1]
    if count < FILL_MIN_PIXELS and full_range:
        return False
    gap = float(np.min(np.abs(rest - c)))
    return gap > spread and bool(np.all(f == np.round(f)))


def _reference_attrs_fix(var: str, k: float, celsius: bool, fill0: bool) -> str:
    """The attrs that decode a reference stored at scale ``k`` (:func:`_scale_fix`'s
    declaration), set on the variable ``var``."""
    attrs = (f"scale_factor={k:g}" + (", units='degC'" if celsius else "")
             + (", _FillValue=0" if fill0 else ""))
    return f"set `{var}.attrs.update({attrs})`"


def _scaled_integer_message(what: str, median: float, zeros: bool,
                            physical_range: tuple[float, float], cli: bool,
                            like: tuple[float, str] | None = None,
                            celsius: bool = False, attrs_of: str | None = None,
                            units_unknown: bool = False,
                            spread: tuple[float, float] | None = None,
                            values: np.ndarray | None = None, maskable: bool = True) -> str:
    """The refusal of integers without scale metadata (values of ``median``; ``zeros``: 0 among
    them), naming the usual scales that make them Kelvin of a land surface
    (:func:`_scale_fits`): MODIS's 0.02 told to ASTER's K x 10 gave 62 K, then "degrees
    Celsius". ``celsius``: ``median`` is of the stored values, whose units say degrees
    Celsius: only the scales of degrees Celsius are offered (degC x 100 was told Kelvin x 10,
    268 K). ``units_unknown``: values without a ``units`` attribute, offered the Kelvin and
    Celsius scales that fit alike, flagged ambiguous (:func:`_ambiguity`), ranked on
    ``spread`` (the stored values' 1st and 99th percentiles, :func:`_scale_fits`). ``values``:
    the stored values (fill left out), each reading checked on (:func:`_covering`; with
    ``maskable``, its stray pixels masked with it). A reference is told
    evaluate's arguments, or, with ``attrs_of`` (a caller that takes none,
    :func:`decode_lst`), the attrs of that variable to set."""
    ref = what == "reference"
    attrs_of = attrs_of if ref else None
    head = (f"integer {what} with values around {median:.0f} and no scale metadata: these look "
            + ("like scaled degrees Celsius (their units say degC)" if celsius else
               "like scaled digital numbers (ASTER stores K x 10, MODIS LST K / 0.02, both with "
               "fill 0)"))
    fits = _scale_fits(median, physical_range, like=like, celsius=celsius,
                       units_unknown=units_unknown, spread=spread)
    strays = [0] * len(fits)
    if values is not None and values.size and not (ref or not maskable):  # no such option
        strays, _ = _covering(fits, values, physical_range)  # 0s: ``zeros`` names them
    l1 = "" if celsius else _landsat_l1_hint(median, like)
    if l1 and not fits:
        return (f"integer {what} with values around {median:.0f} and no scale metadata, and no "
                "usual scale makes them Kelvin" + _unlike_text(median, physical_range, None, like)
                + f": {l1}" + _landsat_dn_hint(median, ref, fill0=zeros, like=like, cli=cli) + ".")
    if fits:
        # the products of 0.02 and 0.1 fill with 0; another scale's fill is named if present
        how = "; ".join(
            (_reference_attrs_fix(attrs_of, k, c, zeros or (not c and k in (0.02, 0.1)))
             if attrs_of else
             _scale_fix(k, c, ref, cli, fill0=zeros or (not c and k in (0.02, 0.1)), mask=n > 0))
            + f" if they are {w} (median {mk:.1f} K"
            + _stray_text(n, values.size if values is not None else 0, physical_range) + ")"
            for (k, c, w, mk), n in zip(fits, strays)) + _ambiguity(fits, strays)
        if l1:  # K x 100 of 300 K (30000) is band 10's 304 K as well: both named
            how += f"; if {l1.replace('they look like', 'they are', 1)}"
        if attrs_of:  # the scale and the fill in one go: scale_factor alone met the fill 0
            return f"{head}: {how}."
        if ref:
            return f"{head}: {how} (to evaluate), or set the reference's scale_factor attrs."
        return (f"{head}. Set {how}; or open the file with `mask_and_scale=True` if it "
                "declares its scale.")
    c2l2 = "" if celsius else _landsat_dn_hint(median, ref, fill0=zeros, like=like, cli=cli)
    c2l2 = _unlike_text(median, physical_range, None, like) + c2l2
    usual = "(degC x 10, degC x 100)" if celsius else "(K x 10, K x 100, MODIS x 0.02)"
    if attrs_of:
        return (f"{head}, but no usual scale {usual} makes them Kelvin of a land surface{c2l2}. "
                f"Set `{attrs_of}.attrs.update(scale_factor=..., _FillValue=...)` with your "
                "product's values.")
    if ref:
        return (f"{head}, but no usual scale {usual} makes them Kelvin "
                f"of a land surface{c2l2}. Pass the product's `reference_scale=` and "
                "`reference_nodata=` to evaluate.")
    return (f"{head}, but no usual scale {usual} makes them Kelvin of a "
            f"land surface{c2l2}. Set `da.attrs.update(scale_factor=..., _FillValue=...)` with "
            "your product's values, or open the file with `mask_and_scale=True`.")


#: a field decoded twice is nearly uniform: its 1-99 percentile spread (K) under this ...
_TWICE_DECODED_SPREAD_K = 1.0
#: ... while its stored values, read as temperatures, spread as a scene does (at least this, K)
_TWICE_STORED_SPREAD_K = 3.0


def _refuse_scale_twice_celsius(finite: np.ndarray, physical_range: tuple[float, float],
                                stored: tuple[float, float, float], what: str,
                                attrs_of: str | None, cli: bool) -> None:
    """Refuse decoded values (``finite``, K) of float values labelled degrees Celsius whose
    scale in attrs was applied before: the stored values are themselves temperatures (degrees
    Celsius, or Kelvin labelled Celsius), not whole digital numbers. A MODIS LST converted by
    hand, ``open_cog(f) * 0.02 - 273.15`` with units 'degC', keeps open_cog's scale_factor 0.02
    in attrs: decoded again, a 26-39 degC scene became 273.7-273.9 K, inside the physical range,
    and was accepted (the same mistake in Kelvin, 5.5 K, is refused by its range).

    Non-whole stored values alone are no proof: a degC x 10 product read as floats
    (``open_cog``) and averaged or resampled while still in digital numbers (``coarsen``,
    bilinear ``reproject``) holds non-whole digital numbers that are, read as they are, -60 to
    60 or 180 to 420 as well, and decodes right. The symptom refused is the collapse: the
    decoded field is nearly uniform (1-99 percentile spread under
    :data:`_TWICE_DECODED_SPREAD_K`) while the stored values, read as temperatures, have a
    real scene's spread (at least :data:`_TWICE_STORED_SPREAD_K`). Still missed: a twice
    applied scale of 0.1 or more on a scene whose spread keeps the decoded field over 1 K
    (degC x 10 converted by hand, 18-42 degC: 2.4 K decoded), and a stored scene itself
    within 3 K (a lake at one temperature); a resampled degC x 100 field of a scene under 1 K
    spread (0.5-1 degC) would be refused wrongly."""
    lo, hi = physical_range
    scale, offset, celsius = stored
    raw = ((finite.astype(np.float64) - celsius) - offset) / scale  # the values as stored
    if raw.size < FILL_MIN_PIXELS or np.allclose(raw, np.round(raw), rtol=0.0, atol=0.01):
        return  # whole numbers: digital numbers of a scaled product, decoded once
    r_lo, r_med, r_hi = (float(q) for q in _quantiles(raw, (0.01, 0.5, 0.99)))
    d_lo, d_hi = (float(q) for q in _quantiles(finite.astype(np.float64), (0.01, 0.99)))
    if d_hi - d_lo >= _TWICE_DECODED_SPREAD_K or r_hi - r_lo < _TWICE_STORED_SPREAD_K:
        return  # a decoded scene with its own spread (digital numbers averaged), or no scene
    if -70.0 < r_med < 75.0 and lo - 273.15 <= r_lo and r_hi <= hi - 273.15:
        already, kelvin = "degrees Celsius", False
    elif lo <= r_lo and r_hi <= hi:
        already, kelvin = "Kelvin labelled degrees Celsius", True
    else:
        return
    v = attrs_of or "da"
    ref = what == "reference" and not attrs_of
    drop = (("drop `reference_scale` (or the reference's 'scale_factor' / 'add_offset' "
             "attributes)" + (" and set `reference.attrs['units'] = 'K'`" if kelvin else ""))
            if ref else
            f"Drop them: `{v}.attrs.pop('scale_factor', None); {v}.attrs.pop('add_offset', "
            "None)`" + (f" and set `{v}.attrs['units'] = 'K'`" if kelvin else "")
            + (" (and no `--scale` / `--offset` on the command line)" if cli else ""))
    dec = finite.astype(np.float64)
    raise UnitsError(
        f"the {what}'s stored values ({float(raw.min()):.2f} to {float(raw.max()):.2f}, median "
        f"{r_med:.2f}, not whole "
        f"numbers) are already {already}, and the 'scale_factor' {scale:g} / 'add_offset' "
        f"{offset:g} attributes applied them a second time: every value would lie between "
        f"{float(dec.min()):.2f} and {float(dec.max()):.2f} K. The scale was applied before (a "
        "conversion such as `dn * 0.02 - 273.15`, or `mask_and_scale=True`) and the attributes "
        f"kept (xarray keeps attrs through arithmetic); {drop}."
    )


def _others_in_range(flat: np.ndarray, i: int, lo: float, hi: float) -> bool:
    """Whether another image of ``flat`` (images as rows) than ``i`` holds temperatures:
    varying values whose median lies within ``lo``-``hi`` K."""
    for n, o in enumerate(flat):
        if n == i:
            continue
        o = o[np.isfinite(o)]
        if o.size and float(o.min()) != float(o.max()) and lo <= float(np.median(o)) <= hi:
            return True
    return False


def _step_fix_text(where: str, drop: str, finite: np.ndarray, what: str, v: str,
                   as_stored: Any = None, in_file: Any = None, cli: bool = False,
                   step_vars: Sequence[str] | None = None,
                   declared: Sequence[float] = ()) -> str:
    """The advice for one step of a cube wholly out of range: remove it (``drop``, from
    :func:`_image_name`, on the variable ``v``; ``step_vars``: the variables whose step is
    dropped instead, evaluate's ``('sr',)`` for its reference, named ``what``: dropped on the
    reference alone, the next call refused the pair of steps; a mask, which keeps the step,
    goes on both), or, where all its pixels hold one value (a missing
    date written as a fill), declare that value as the fill (the step then reads as all gaps),
    as stored (``as_stored``: through the attrs' scale and Celsius, the decoded value was
    refused again when declared; ``in_file``: the number the file stores, ``--nodata``'s);
    beside another fill the attrs declare (``declared``), both are declared (a new
    ``_FillValue`` replaced it: :func:`_declare_fill_advice`)."""
    own = what if step_vars else v  # the variable decoded (evaluate's reference)
    masked = ".where(" in drop
    names = (([own] if masked else []) + list(step_vars)) if step_vars else [v]
    code = "; ".join(re.sub(r"\bda\b", n, drop) for n in names)
    how = ("mask it instead (its pixels then read as gaps; dropping along one dim would take "
           "the other good images of that row too)" if masked else "drop it instead")
    # evaluate's reference: its steps as paired with sr's (relabelled, in sr's order), so the
    # code drops sr's step, whose reference step is then left out (the code on the reference
    # failed where its labels or order differ from sr's: 10:40 vs 10:30, night first)
    pair = ("" if names == [v] else
            f" (in {' and '.join(f'`{n}`' for n in names)} both: the steps are scored in pairs)"
            if masked else
            f" (from {' and '.join(f'`{n}`' for n in names)}: the {own}'s steps are scored "
            f"where {names[0]} has one, so its step is then left out)")
    text = (f"If only this step is wrong (the others in range: a date stored in other units, or "
            f"missing), {how}{pair}: `{code}`")
    if float(finite.min()) == float(finite.max()):
        k = float(finite[0])
        # as stored: the value _FillValue is compared with (the decoded 1200.0 of a uint16
        # x 0.02 step of 60000, declared, was refused again); as its type prints it
        sv = as_stored(k) if as_stored is not None else str(finite[0])
        ps = in_file(k) if in_file is not None else None
        others = [f for f in declared if not _same_number(f, sv)]
        if others:
            kept = ", ".join(_fill_number(f) for f in others)
            return text + (
                f"; all its pixels hold {sv} as stored, a missing date written as an undeclared "
                f"fill? Declare it: `{own}.attrs['_FillValue'] = {sv}` together with "
                f"`{own}.attrs['missing_value'] = [{kept}]` (that step is then read as all "
                f"gaps; the second keeps the declared {kept}, which the new `_FillValue` alone "
                "would replace" + ("; the command line's `--nodata` takes one fill: write the "
                                   "file again with this step masked" if cli else "") + ").")
        text += (f"; all its pixels hold {sv} as "
                 + ("read" if ps is not None else "stored")
                 + ", a missing date written as an "
                 f"undeclared fill? Declare it: `{own}.attrs['_FillValue'] = {sv}`"
                 + (f" (`--nodata {ps or sv}` on the command line)" if cli else "")
                 + " (that step is then read as all gaps)")
    return text + "."


#: a cube's step judged alone (one image per task): its drop is not offered as a command
_UNSEEN_STEPS = ("This image was judged alone (the cube is read one image per task; its other "
                 "images were not read here): if they hold the same coding, the fix above "
                 "applies to them all; only if this one alone is wrong (a date in other units) "
                 "leave it out of the {}, after checking the others hold temperatures.")


def _lst_verdict(
    imgs: np.ndarray,
    *,
    units_known: bool,
    unscaled_int: bool,
    mask_out_of_range: bool,
    keep_out_of_range: bool,
    physical_range: tuple[float, float],
    check_fill: bool,
    stored: tuple[float, float, float],
    what: str,
    kept_range: tuple[float | None, float | None] = (None, None),
    like: Any = None,
    fill_declared: bool = False,
    attrs_of: str | None = None,
    float_stored: bool = False,
    stale_scale: tuple[float, float] | None = None,
    int_stored: tuple[float, float, str] | None = None,
    packed: tuple[float, float, bool] | None = None,
    maskable: bool = True,
    names: Sequence[tuple[str, str]] | None = None,
    step_vars: Sequence[str] | None = None,
    declared_fills: tuple[float, ...] = (),
    stored_kind: str | None = None,
    source: _Source | None = None,
) -> np.ndarray:
    """Per image of ``imgs`` (*lead, y, x): raise on a units, scale or fill problem; return
    ``(*lead, 1, 1)`` flags, 1 where out-of-range pixels are to be masked. ``like``: see
    :func:`decode_lst`, resolved per image (:func:`_like_at`) only for a refusal's advice.
    ``fill_declared``: the field declares its fill (``_FillValue``, ``missing_value``, NaN
    included), so a repeated value within ``physical_range`` is taken as data. ``float_stored``:
    the values are stored as floats (a scale in attrs on them may be one applied already,
    :func:`_refuse_scale_twice_celsius`). ``attrs_of``: see :func:`decode_lst` (a plain argument, fixed when the graph is built: whatever runs the
    task, a pool, another process or a distributed worker, gives the same advice).
    ``stale_scale``: (scale, offset) that the reader applied to values stored as floats (from
    the encoding), named when undone they are Kelvin (:func:`_stale_scale_text`).
    ``int_stored``: (scale, offset, dtype) that map the values (Celsius's 273.15 taken off)
    back to the integers stored, whose type's extreme is looked for as an undeclared fill
    (:func:`_stored_integer_fill`). ``packed``: (scale, offset, integers stored) that the reader
    applied (:func:`_packed_stored`): a fill is named, and ``--nodata`` given, as stored.
    ``maskable``: see :func:`decode_lst`. ``names``: per image (flat order), ``(where, drop)``
    of :func:`_image_name`, or None (a single image): an image wholly out of range is named,
    with the call that drops it. ``step_vars``: see :func:`decode_lst`. ``stored_kind``: see
    :func:`_range_cause`. ``source``: the (path, variable) read (:func:`_wrong_scale`).
    ``declared_fills``: the
    finite fills the attrs declare (as stored), which a fill advice keeps
    (:func:`_declare_fill_advice`)."""
    lead = imgs.shape[:-2]
    attrs_of = attrs_of if what == "reference" else None
    # the variable whose attrs a fix sets: evaluate's `reference` by its own name (`da` was a
    # NameError in the user's session, beside fill advice that named `reference`)
    v = attrs_of or ("reference" if what == "reference" else "da")
    cli = what == "LST"  # the input of `xlstsr upscale` / `scaling`: their options fix it too
    flat = imgs.reshape(-1, imgs.shape[-2] * imgs.shape[-1])
    shape = imgs.shape[-2:]
    flags = np.zeros(flat.shape[0])
    lo, hi = physical_range
    scale, offset, celsius = stored

    def as_stored(k: float) -> str:
        v = ((k - celsius) - offset) / scale
        # to the precision the decoded value carries: a float32 0 degC decodes to 273.15 K
        # +- 3e-5, which read back as -6.10352e-06, a fill value no pixel holds
        # (the spacing of float32's minimum, an undeclared fill, overflows to -inf: no tolerance)
        with np.errstate(over="ignore"):
            tol = 2 * float(np.spacing(np.float32(k))) / abs(scale)
        if np.isfinite(tol) and tol > 0:
            v = round(v / tol) * tol if abs(v) < tol else v
        return _fill_text(v + 0.0, max(tol, 2 * _f32_step(v)))

    def in_file(k: float) -> str | None:
        # the value as the file stores it, on values the reader decoded: what `--nodata`
        # declares (declare_lst refused the decoded value it was told before)
        return _packed_stored(((k - celsius) - offset) / scale, packed)

    def stored_sentinel(k: float) -> float | None:
        # the value as stored (through the attrs' scale, then the reader's) is a product's fill:
        # int16 degC x 100's -9999 decodes to 173.16 K, within the range, and was taken as data
        raw = ((k - celsius) - offset) / scale
        for v in (raw, None if packed is None else (raw - packed[1]) / packed[0]):
            if v is None or not np.isfinite(v):
                continue
            r = float(round(v))
            if abs(v - r) > max(0.01, 1e-6 * abs(v)) or r not in LST_FILL_SENTINELS:
                continue
            if int_stored is not None and r in INTEGER_FILLS:
                # another integer type's extreme is data (uint16's 32767)
                info = np.iinfo(np.dtype(int_stored[2]))
                if INTEGER_FILLS[r] != (float(info.min), float(info.max)):
                    continue
            return r
        return None

    for i, img in enumerate(flat):
        finite = img[np.isfinite(img)]
        if finite.size < img.size and not keep_out_of_range and np.isinf(img).any():
            # infinities are out of range like any other value, not gaps to drop silently
            if not mask_out_of_range:
                signs = {bool(v > 0) for v in img[np.isinf(img)]}
                # one _FillValue masks one sign: with both, declaring one then the other cycled
                fill = ("" if len(signs) == 2 else
                        "Declare them as the fill value (`da.attrs['_FillValue'] = "
                        f"{'' if True in signs else '-'}np.inf`) or mask them ")
                raise PhysicalRangeError(
                    f"{int(np.isinf(img).sum())} {what} value(s) of an image are infinite"
                    + (" (+inf and -inf both: one fill value cannot declare them)"
                       if len(signs) == 2 else "")
                    + ": not temperatures. "
                    + (fill or "Mask them ") + "(`da.where(np.isfinite(da))`)"
                    + (", or pass `mask_out_of_range=True`"
                       + (" (`--mask-out-of-range` on the command line)." if cli else ".")
                       if maskable else ".")
                )
            flags[i] = 1  # masked with the other out-of-range values
        if finite.size == 0:
            continue
        median = float(_quantiles(finite, (0.5,))[0]) if unscaled_int or not units_known else None
        # a 0 fill on most of an image (a cloudy 8-day composite: 96 % of a MOD11A2 crop) is not
        # the image's level: judge scale and units on the other pixels, and name the fill below
        zeros = np.count_nonzero(finite == 0) if median is not None else 0
        if zeros > 0.5 * finite.size and finite.size - zeros >= FILL_MIN_PIXELS:
            judged = finite[finite != 0]
            median = float(_quantiles(judged, (0.5,))[0])
        else:
            judged = finite
        # judged on the values as stored: with units degC, median + 273.15 was fitted
        raw_median = None if median is None else (median - celsius - offset) / scale
        if unscaled_int and (median > 1000 or (celsius and abs(raw_median) > 1000)):
            raise ScaledIntegerError(_scaled_integer_message(
                what, raw_median if celsius else median, zeros > 0, physical_range, cli,
                _like_at(like, i), celsius=bool(celsius), attrs_of=attrs_of,
                units_unknown=not units_known,
                # without the 0 fill of K x 10 / MODIS (read as 0 K, it ruled Kelvin out)
                spread=None if units_known else _spread(judged[judged != 0] if zeros else judged),
                values=(judged[judged != 0] if zeros else judged) - celsius,
                maskable=maskable))
        if not units_known:
            classes = _class_layer(finite)
            if (classes is not None and names is not None
                    and float(finite.min()) == float(finite.max())
                    and finite.size >= FILL_MIN_PIXELS):
                # one value on a whole image of a cube (a missing date written as 0): named,
                # with its fill / drop advice as a -9999 step gets (the whole LST was called a
                # class layer, and "set degC" made the other steps 570 K)
                where, drop = names[i]
                others = any(
                    o[np.isfinite(o)].size and not _class_layer(o[np.isfinite(o)])
                    and lo <= float(np.nanmedian(o)) <= hi
                    for n, o in enumerate(flat) if n != i)
                step_fix = _step_fix_text(where, drop, finite, what, v, as_stored, in_file, cli,
                                          step_vars, declared_fills)
                raise UndeclaredFillError(
                    f"every valid {what} value of the image at {where} is {classes}, "
                    + ("while the cube's other images hold temperatures: a missing date "
                       f"written as an undeclared fill, not a temperature. {step_fix}"
                       if others else
                       "not a temperature. If the cube's other images hold temperatures, it "
                       f"is a missing date written as an undeclared fill. {step_fix} If "
                       "instead the whole LST is a class, mask or QC layer, give the LST "
                       "itself and use this layer to mask it (e.g. `lst.where(mask == 0)`).")
                )
            if classes is not None:
                raise UnitsError(
                    f"the {what} has no 'units' attribute and its values are a few whole numbers "
                    f"({classes}): a class, mask or QC layer, not a temperature. Give the LST "
                    "itself and use this layer to mask it (e.g. `lst.where(mask == 0)`); if "
                    f"they are whole degrees Celsius, set `{v}.attrs['units'] = 'degC'`."
                )
            lo_v, hi_v = float(np.min(finite)), float(np.max(finite))
            if -1.05 <= lo_v and hi_v <= 1.05:  # (an emissivity's noise passes 1 a little)
                # an emissivity, NDVI or fraction: "set degC" gave a uniform 274 K, accepted
                raise UnitsError(
                    f"the {what} has no 'units' attribute and its values lie in [-1, 1] "
                    f"({lo_v:.3g} to {hi_v:.3g}): an emissivity, an NDVI or a fraction, not a "
                    "temperature? Give the LST variable itself (e.g. LST_Day_1km, not Emis_31; "
                    "a guide goes in `guide=`); if they are degrees Celsius (a scene at 0 degC), "
                    f"set `{v}.attrs['units'] = 'degC'`."
                )
            in_celsius = ((judged > -70) & (judged < 75)).mean()
            # a scene's bulk in Celsius with a cold tail of border pixels mixed with the fill
            # (ASTER at 250 m: 14-15 % below -70 degC) is Celsius too: judged on 90 % alone it
            # got the generic "check the units" message
            cold_tail = (in_celsius > 0.75 and -60 < median < 70
                         and (judged >= 75).mean() < 0.02)
            # one step of a cube read so while its other steps hold Kelvin: the file's scale
            # is theirs too, so no file-wide rescale or rewrite (followed, the good step was
            # refused and advised dropped: probe 52 R1/2); it is named and dropped as a step
            # wholly out of range below
            lone_step = (names is not None and flat.shape[0] > 1
                         and _others_in_range(flat, i, lo, hi))
            if (in_celsius > 0.9 or cold_tail) and not lone_step:
                stale = _stale_scale_text(median, stale_scale, physical_range, v)
                if stale:  # Kelvin x a stale scale: "set degC" wrote 279 K for 300 K
                    raise UnitsError(
                        f"the {what}'s values (median {median:.1f}) look like degrees Celsius, "
                        f"but {stale}. If instead they are degrees Celsius as read (a scene "
                        f"at {median:.1f} degC; the file's producer can tell), set "
                        f"`{v}.attrs['units'] = 'degC'`"
                        + (" (`--units degC` on the command line)." if cli else "."))
                coding, decoded = _reader_coding(stored, packed)
                free = cache(partial(_fill_free_spread, finite, coding))
                wrong = _wrong_scale(median, coding, physical_range, what == "reference",
                                     _like_at(like, i), attrs_of, spread=free,
                                     cli=cli, what=what, stored_kind=stored_kind,
                                     source=_placed(source, flat[i].reshape(shape)),
                                     decoded=decoded)
                middle = cache(partial(_fill_free_spread, finite, coding, True))
                if _tenfold_leads(wrong, middle):
                    # the scale first: degrees Celsius read the scene squeezed (exit 0)
                    raise UnitsError(
                        f"the {what} has no 'units' attribute and its values (median "
                        f"{median:.1f}) look like degrees Celsius, but likelier Kelvin under a "
                        f"scale too small: {wrong}; or " + _celsius_reading(
                            free(), middle(), f"set `{v}.attrs['units'] = 'degC'`"
                            + (" (`--units degC` on the command line)" if cli else "")) + ".")
                # (degrees Celsius first where their spread is a land surface's: a tenfold
                # scale after them, with the scene's range it gives)
                raise UnitsError(
                    f"the {what} has no 'units' attribute and its values (median {median:.1f}) "
                    f"look like degrees Celsius. Set `{v}.attrs['units'] = 'degC'` to convert, or "
                    "'K' if they are Kelvin"
                    + (" (`--units degC` / `--units K` on the command line)" if cli else "")
                    + (f"; or {wrong}" + (_tenfold_range(wrong, free(), coding[1])
                                          if _tenfold_first(wrong) else "") + "."
                       if wrong else ".")
                )
        if float_stored and celsius and scale != 1.0:
            _refuse_scale_twice_celsius(finite, physical_range, stored, what, attrs_of, cli)
        if check_fill:
            hit = suspect_fill(finite)
            k_lo, k_hi = kept_range
            top = (None if hit is not None or int_stored is None else
                   _stored_integer_fill(finite, int_stored, celsius))
            if top is not None and lo <= top[1] <= hi and not (
                    (k_lo is not None and top[1] < k_lo) or (k_hi is not None and top[1] > k_hi)):
                # (beyond the range: named below with the other out-of-range values)
                c, k, share = top
                sv = as_stored(k)
                info = np.iinfo(np.dtype(int_stored[2]))
                kind = (f"{int_stored[2]}'s {'largest' if c > 0 else 'smallest'} value, which "
                        "GDAL and CF tools write as a fill" if c in (info.min, info.max) else
                        "0, the fill of MODIS, ASTER and other products")
                how = _declare_fill_advice(sv, what, attrs_of, cli, in_file(k), declared_fills)
                if share == 1.0:  # a whole image: a missing date, in a cube named with its drop
                    where, drop = names[i] if names is not None else (None, None)
                    step = "an image" if where is None else f"the image at {where}"
                    # a mask keeps the step: on the decoded variable too (_step_fix_text)
                    on = ((([what] if ".where(" in drop else []) + list(step_vars))
                          if step_vars else [v]) if drop else []
                    code = "; ".join(re.sub(r"\bda\b", n, drop) for n in on)
                    raise UndeclaredFillError(
                        f"the {what} holds {c:.0f} as stored ({_kelvin_text(k)} K decoded) on "
                        f"every valid pixel of {step} ({finite.size}): {kind}, left "
                        f"undeclared (a missing date, not a uniform temperature); {how}"
                        + (f"; or remove that image: `{code}`" if code else "")
                        # (the check is skipped only where asked: the fill advice, followed on
                        # a real 0 degC scene, would erase it)
                        + (f". If the scene truly is at 0 degC on every pixel, decode it "
                           f"without this check first: `{v} = xlstsr.validate.decode_lst({v}, "
                           "check_fill=False)`" if c == 0 else "") + "."
                    )
                raise UndeclaredFillError(
                    f"the {what} holds {c:.0f} as stored ({_kelvin_text(k)} K decoded) on "
                    f"{round(share * finite.size)} pixels ({share:.2%} of the valid pixels of "
                    "an image), apart from all its other "
                    f"values: {kind}, left undeclared (not a temperature); {how}."
                )
            # a fill resampled is a plateau of close values (ASTER's 2000 = 200 K: 1999.9995
            # to 2000), which no one declared value masks: its ends, for the advice
            at = None if hit is None else _fill_pixels(finite, hit[0])
            p_lo, p_hi = (0.0, 0.0) if at is None else (float(finite[at].min()),
                                                        float(finite[at].max()))
            if hit is not None and ((k_lo is not None and p_hi < k_lo)
                                    or (k_hi is not None and p_lo > k_hi)):
                hit = None  # the caller's thresholds drop that value: no fill to declare
            if hit is not None and mask_out_of_range and not lo <= hit[0] <= hi:
                hit = None  # asked for: masked below with the other out-of-range values
            if hit is not None and p_lo != p_hi and not (
                    lo <= float(np.median(finite[~at])) <= hi):
                # a plateau beside values in no Kelvin range (K x 10 without a scale): its
                # threshold, said in Kelvin, would be the stored number (valid_min=2001 masked
                # everything once the scale was given); the scale's advice comes first, the
                # plateau is named again once decoded
                hit = None
            # near the bulk of the rest (its median): its 1st percentile was dragged under
            # the plateau by the border pixels mixed with it (ASTER's 2000, _FillValue 0
            # declared: 1 % of the rest 1 K below 200 K, its median 100-120 K above), which
            # passed the fill band as data when declared in attrs and refused it when given
            # as `reference_nodata` (then undeclared)
            near = hit is not None and lo <= hit[0] <= hi and (
                float(np.median(finite[~at])) - p_hi <= DECLARED_FILL_GAP_K)
            if near and fill_declared:
                hit = None  # a plausible temperature near the rest, beside a declared fill:
                # data (a lake at one value of a whole-Kelvin product, a two-level field);
                # SEVIRI's -80 degC (193 K) lies 80 K under a scene: a fill whatever is declared
            if hit is not None:
                v, share = hit
                sv = as_stored(v)
                kelvin = f"; {_kelvin_text(v)} K" if units_known else ""
                real = (
                    " If it is a real temperature (a field of few distinct values), declare the "
                    "field's real fill instead, e.g. `da.attrs['_FillValue'] = np.nan` (none), "
                    "and it is kept as data."
                    if near and what != "reference" else "")
                ps = in_file(v)
                if p_lo != p_hi:
                    # a declared value or `!=` would leave the rest of the plateau as data
                    span = f"{as_stored(p_lo)} to {as_stored(p_hi)}"
                    ps = None if in_file(p_lo) is None else f"{in_file(p_lo)} to {in_file(p_hi)}"
                    kelvin = (f"; {_kelvin_text(p_lo)} to {_kelvin_text(p_hi)} K"
                              if units_known else "")
                    how = _threshold_fill_advice(p_hi, what, attrs_of, cli, as_stored,
                                                 scale > 0)
                    raise UndeclaredFillError(
                        f"the {what} holds a plateau of values from {span} "
                        f"({'' if ps is None else ps + ' '}as stored{kelvin}) on {share:.0%} of "
                        "the valid pixels of an image, far below all the others: an undeclared "
                        "fill value spread over many close values by resampling (the ASTER "
                        "references' 2000, 200 K, along the scene border), which no one "
                        f"declared fill value masks; {how}.{real}"
                    )
                how = _declare_fill_advice(sv, what, attrs_of, cli, ps, declared_fills)
                raise UndeclaredFillError(
                    f"the {what} value {sv} ({'' if ps is None else ps + ' '}as stored{kelvin}) covers {share:.0%} of the "
                    "valid pixels of an image and lies far below all the others: an undeclared "
                    f"fill value (SEVIRI writes -80 degC, ASTER products 0); {how}.{real}"
                )
            # a product's fill (-9999, 32767...) as stored on a few pixels, decoded within the
            # range (suspect_fill needs FILL_MIN_PIXELS and a share): far from every other value
            gap_k = DECLARED_FILL_GAP_K if fill_declared else FILL_GAP_K
            for k in {float(finite.min()), float(finite.max())}:
                rest, c = finite[finite != k], stored_sentinel(k)
                converted = None  # a degrees Celsius fill converted to Kelvin
                celsius_fill = c is None  # judged as one of CELSIUS_FILLS below
                if c is None and celsius:
                    # degrees Celsius' own fills (SEVIRI's -80, a tool's 0) on a few pixels,
                    # repeated exactly, apart from every other value by the gap below: a
                    # -80 corner of a summer scene was upscaled as 193 K, smeared 7.9 K into
                    # its neighbours (a 0 degC pixel among a scene's values stays data)
                    c = next((f for f in CELSIUS_FILLS if abs((k - celsius) - f) <= 1e-4),
                             None)
                elif c is None:
                    # the same fills converted to Kelvin before they were masked (`da +
                    # 273.15`: SEVIRI's -80 as 193.15 K, probe 52 R1/9), to float32's precision
                    c = next((f for f in CELSIUS_FILLS
                              if abs(k - (f + 273.15)) <= max(1e-4, 2 * _f32_step(k))), None)
                    converted = c
                if c is not None and celsius_fill:
                    # (on more than FILL_SHARE of the pixels, suspect_fill's rule and wording)
                    c = (c if c is not None
                         and 1 < np.count_nonzero(finite == k) < FILL_SHARE * finite.size
                         else None)
                if (not rest.size or not lo <= k <= hi or c is None
                        or (k_lo is not None and k < k_lo) or (k_hi is not None and k > k_hi)):
                    continue
                if k > float(rest.max()) and c == INTEGER_FILLS.get(c, (None, None))[1]:
                    continue  # a hot spot clipped at its type's largest value: data
                if (c > 0) != ((k > float(rest.max())) == (scale > 0)):
                    # a product's fill lies beyond its data as stored (9999 above, -9999
                    # below): MODIS's stored 9999 (199.98 K) at a scene's cold end is data
                    continue
                gap = float(rest.min()) - k if k < float(rest.min()) else k - float(rest.max())
                if gap < gap_k:
                    continue  # within the scene's values: data
                sv, ps = as_stored(k), in_file(k)
                how = _declare_fill_advice(sv, what, attrs_of, cli, ps, declared_fills)
                raise UndeclaredFillError(
                    f"the {what} holds {sv} ({'' if ps is None else ps + ' '}as stored, "
                    f"{_kelvin_text(k)} K decoded) on {int(np.count_nonzero(finite == k))} "
                    f"pixel(s) of an image, {gap:.0f} K apart from all its other values: a fill "
                    + ("value of LST products and tools (-9999, 32767...)" if converted is None
                       else f"value of degrees Celsius ({converted:g} degC, converted to Kelvin "
                       "before it was masked: SEVIRI writes -80)")
                    + f" left undeclared, not a temperature; {how}."
                )
        below, above = finite < lo, finite > hi
        n_out = int(below.sum() + above.sum())
        if n_out == 0:
            continue
        if median is None:
            median = float(_quantiles(finite, (0.5,))[0])
        vmin, vmax = float(finite.min()), float(finite.max())
        ref = what == "reference"
        # every valid pixel out of range: masking would leave nothing (refused below), so
        # mask_out_of_range is no advice; in a cube, the step is named with the call that
        # drops it (the whole-cube units advice, followed, broke the steps in range)
        whole_out = n_out == finite.size and finite.size >= FILL_MIN_PIXELS
        where, drop = names[i] if names is not None and whole_out else (None, None)
        step = ("an image" if where is None else f"the image at {where}")
        uniform = drop is not None and float(finite.min()) == float(finite.max())
        # one step wholly out while the cube's others read in range: the file's declared
        # scale/offset is theirs too, so no file-wide rescale is offered for it
        file_wide = drop is None or not _others_in_range(flat, i, lo, hi)
        # judged alone (a lazy cube read one step per chunk) from a file of several steps:
        # the other steps unseen, no command rewrites the file's tags for them all (review
        # 51c/2: the good steps, the rewrite followed, read 276 K for 296 K); its fix and drop
        # are told as the step's. (Files of one step each, open_mfdataset's: their loop kept.)
        judged = source
        if source is not None and drop is not None and flat.shape[0] == 1:
            held = _file_size(source)
            judged = (None if held is not None and flat[i].size < held and source[2] <= held
                      else source)
        # a step's drop only where another image of the cube holds temperatures (or, one image
        # per task, the others unseen): a cube wholly out for one cause (an extra offset on
        # every step) was told to drop its first step, then the next
        step_fix = ("" if drop is None or (not uniform and flat.shape[0] > 1
                                           and not _others_in_range(flat, i, lo, hi)) else
                    # one image per task (a lazy cube read a step per chunk): the others
                    # unseen, no drop command (followed, every step with data was dropped
                    # in turn, and the all-fill rest accepted)
                    _UNSEEN_STEPS.format(what) if not uniform and flat.shape[0] == 1 else
                    _step_fix_text(where, drop, finite, what, v, as_stored, in_file, cli,
                                   step_vars, declared_fills))
        # a block of this one image (a dask cube read one step per chunk, the usual layout):
        # the other images unseen, a fill's usual value on every pixel is judged a missing
        # date (the units advice came back there, and failed on the next step when followed)
        alone = (uniform and flat.shape[0] == 1
                 and (as_stored(vmin) in ("0", "-0") or stored_sentinel(vmin) is not None
                      or abs(vmin) >= NEVER_DATA))
        if uniform and (alone or _others_in_range(flat, i, lo, hi)):
            # one value on every pixel of a step, the cube's other images temperatures: a
            # missing date written as a fill (uint16 x 0.02's 0 or 65535: 0 K, 1310.7 K), not
            # a units problem: the whole-cube "set degC" / "values look scaled" advice,
            # followed, was refused on every other step (a PhysicalRangeError, as any step
            # wholly out of range: callers that catch it keep doing so)
            raise PhysicalRangeError(
                f"every valid {what} pixel of {step} holds {as_stored(vmin)} as "
                + ("read" if in_file(vmin) is not None else "stored")
                + f" ({_kelvin_text(vmin)} K decoded), outside the physical range "
                + (f"{lo:g}-{hi:g} K, a fill's usual value on every pixel: a missing date "
                   "written as an undeclared fill, not a temperature"
                   if alone else
                   f"{lo:g}-{hi:g} K, while the cube's other images hold temperatures: a "
                   "missing date written as an undeclared fill, not a temperature (the units "
                   "are not the cause)")
                + f". {step_fix}"
                # (the step's advice first: the other images, in other chunks, are unseen)
                # (no units/scale reading of it: one fill value on every pixel says nothing
                # of them; "set scale_factor=0.01, units='degC'", drawn from a 65535 image over
                # a declared 0.02 K, refused every good image once followed)
                + (f" (Judged on this image alone, the cube being read one image per chunk: "
                   f"its one value, {as_stored(vmin)}, is a fill's and tells nothing of the "
                   "units or scale, so keep those as declared; the other images are checked "
                   "as they are read.)"
                   if alone else "")
            )
        if mask_out_of_range:
            if not whole_out:
                flags[i] = 1
                continue
            # masking every pixel of an image is not masking outliers: a units or scale problem
            cause = (_stale_scale_text(median, stale_scale, physical_range, v)
                     or _range_cause(finite, median, physical_range, stored, units_known, ref,
                                     cli, _like_at(like, i), attrs_of, packed, what=what,
                                     stored_kind=stored_kind,
                                     source=_placed(judged, flat[i].reshape(shape)),
                                     file_wide=file_wide))
            raise PhysicalRangeError(
                f"every valid {what} value of {step} ({_kelvin_text(vmin)} to "
                f"{_kelvin_text(vmax)} K, median {_kelvin_text(median)} K) is outside the physical range {lo:g}-{hi:g} K, so "
                "masking out-of-range pixels would leave nothing"
                + f"; {cause}." + (f" {step_fix}" if step_fix else "")
            )
        if keep_out_of_range and n_out <= 0.5 * finite.size:
            # a reference: its bulk is plausible; pixels out of range are never scored
            # (reference_mask), and named here unless the caller's thresholds drop them anyway
            # (Landsat C2 L2's fill DN 0 decoded by hand is 149.0 K: scored, it made 5.3 K of
            # a 0.5 K RMSE)
            k_lo, k_hi = kept_range
            out = finite[below | above]
            out = out[(out > 0) & (out <= 1000)]  # evaluate refuses the impossible ones
            if np.ndim(k_lo) == 0 and k_lo is not None:
                out = out[out >= float(k_lo)]
            if np.ndim(k_hi) == 0 and k_hi is not None:
                out = out[out <= float(k_hi)]
            if out.size and what == "reference":  # evaluate's: it does not score them
                warn(unscored_message(out, physical_range, attrs_of), PhysicalRangeWarning)
            continue
        # a few isolated hot spots (fires, artefacts) just above the range are not a units or
        # scale problem: mask them with a warning instead of failing a whole cube
        if (
            not keep_out_of_range
            and not below.any()
            and above.sum() <= HOT_SPOT_FRACTION * finite.size
            and vmax <= hi + HOT_SPOT_MARGIN_K
        ):
            warn(
                f"{int(above.sum())} {what} value(s) up to {vmax:.2f} K exceed {hi:g} K (hot "
                "spots or artefacts) and were masked.",
                PhysicalRangeWarning,
            )
            flags[i] = 1
            continue
        out_vals = np.unique(finite[below | above])
        if (out_vals.size == 1 and n_out < FILL_MIN_PIXELS and not ref
                and (float(out_vals[0]) in LST_FILL_SENTINELS or abs(out_vals[0]) >= NEVER_DATA
                     or stored_sentinel(float(out_vals[0])) is not None)):
            # a few pixels of a product's fill value, the rest plausible: a fill left as data,
            # not a scale ("values look scaled" before, for a single 65535 pixel); more of them
            # are named by the fill test above
            sv = as_stored(float(out_vals[0]))
            ps = in_file(float(out_vals[0]))
            raise UndeclaredFillError(
                f"the {what} holds {sv} ({'' if ps is None else ps + ' '}as stored) on {n_out} "
                "pixel(s) of an image, outside the "
                f"physical range {lo:g}-{hi:g} K, its other values plausible: an undeclared "
                "fill value; " + _declare_fill_advice(sv, what, None, cli, ps, declared_fills)
                + ("; or pass `mask_out_of_range=True`"
                   + (" (`--mask-out-of-range`)." if cli else ".") if maskable else ".")
            )
        cause = (_stale_scale_text(median, stale_scale, physical_range, v)
                 or _range_cause(finite, median, physical_range, stored, units_known, ref, cli,
                                 _like_at(like, i), attrs_of, packed, maskable, what=what,
                                 stored_kind=stored_kind,
                                     source=_placed(judged, flat[i].reshape(shape)),
                                 file_wide=file_wide))
        fix = ("" if keep_out_of_range else
               # a cube's step wholly out: refused when followed (nothing left), its drop said
               "" if drop is not None else
               " To mask such pixels instead, pass `mask_out_of_range=True`"
               + (" (`--mask-out-of-range` on the command line)." if cli else ".")
               if maskable else
               # a result scored or drawn: its callers take no such option (the advice was a
               # TypeError when followed); out-of-range output says the method went wrong
               " A method's output out of range is not a temperature: check its inputs "
               "(units, guide, model); to look at the rest, mask such pixels by hand "
               f"(`da.where((da >= {lo:g}) & (da <= {hi:g}))`).")
        if drop is not None:
            raise PhysicalRangeError(
                f"every valid {what} value of {step} ({_kelvin_text(vmin)} to "
                f"{_kelvin_text(vmax)} K, median {_kelvin_text(median)} K) falls outside the "
                f"physical range {lo:g}-{hi:g} K: {cause}.{fix}"
                + (f" {step_fix}" if step_fix else "")
            )
        raise PhysicalRangeError(
            f"{what} values from {_kelvin_text(vmin)} to {_kelvin_text(vmax)} K (median "
            f"{_kelvin_text(median)} K) fall outside "
            f"the physical range {lo:g}-{hi:g} K; {cause}.{fix}"
        )
    return flags.reshape(*lead, 1, 1)


def _multiband_verdict(imgs: np.ndarray, *, verdict: Any, n_bands: int, what: str,
                       names: Sequence[tuple[str, str]] | None = None) -> np.ndarray:
    """``verdict(imgs)`` for an input with a 'band' dim (``names`` unused: a band is selected,
    not dropped, see below): a refusal names the band dim first (a multi-band raster's QC or angle layer read as LST was blamed on Celsius or a
    scale)."""
    try:
        # bands are not steps: the refusal advises selecting the LST band, not dropping one
        return verdict(imgs)
    except XlstsrError as err:
        raise type(err)(
            f"the {what} has a 'band' dim of {n_bands} bands, each checked as an image, and one "
            "is refused: a multi-band raster may hold other layers (QC, view time or angle) "
            "beside the LST: select the LST band (`da.sel(band=1)`, or "
            "`xlstsr.io.open_cog(path, band=1)`"
            + (", `--band 1` on the command line" if what == "LST" else "")
            + "); if the bands are time steps, `da.rename(band='time')`. The refusal: "
            + str(err)
        ) from err


#: words of a layer's name, long_name or standard_name that name a quantity other than a
#: temperature (MOD11A1's other layers: emissivity, clear-sky coverage, view time and angle,
#: QC), as patterns on a name whose '_' and '-' are spaces, with the forms MOD11A1's layer
#: names and long_names take ('Day_view_angl', 'View zenith angle of daytime Land-surface
#: Temperature', 'Time of daytime Land-surface Temperature observation', 'Emis_31',
#: 'Clear_day_cov')
_OTHER_PATTERNS = (
    ("emissivity", r"\bemis(sivity)?\b"),
    ("coverage", r"\bcoverage\b|\bclear (day|night) cov\b"),
    ("view time", r"\bview time\b|\btime of\b|\bobservation time\b"),
    ("view angle", r"\bview (zenith )?angl(e)?\b|\bzenith angle\b"),
    ("quality", r"\bquality\b|\bqc\b"),
    ("reflectance", r"\breflectance\b"),
    ("ndvi", r"\bndvi\b"),
    ("albedo", r"\balbedo\b"),
)

#: a temperature named: the quantity of an 'LST' layer, unless an other quantity comes first
_TEMPERATURE = r"\btemperature\b|\blst\b"


#: the other quantity tied to the temperature word by 'of' / 'for' right after it (a word of
#: the same name between: 'Quality control for daytime LST', 'QC flags of LST'); 'View zenith
#: angle of' and 'Time of' are within the patterns themselves. 'Quality-controlled mean of
#: daily LST' and 'QC-filtered composite of MODIS LST' are LSTs: the 'of' follows another word
_TIED = re.compile(r"\s*(?:(?:control|assurance)\s+)?(?:(?:flags?|bits?|indicators?)\s+)?"
                   r"(?:of|for)\b")

#: the layer names refused as the LST: MOD11 / MOD21 / VNP21 other layers, the whole name
#: (after any 'group:' or 'group/' prefix), case-insensitive, '-' read as '_'. A user's name
#: holding one of the words ('Tskin_qc', 'T_emis_corrected', 'lst_qcmasked') is an LST's (a
#: guide given as the LST, 'ndvi_250m', is named by its units or values, with its own advice)
_OTHER_LAYER_NAMES = (
    ("quality", r"qc(_day|_night)?"),
    ("emissivity", r"emis_\d\d"),
    ("view time", r"(day|night)_view_time|view_time(_day|_night)?"),
    ("view angle", r"(day|night)_view_angl|view_angle(_day|_night)?"),
    ("coverage", r"clear_(day|night)_cov|clear_sky_(days|nights)"),
)


def _other_layer_name(name: str) -> str | None:
    """The other quantity a variable's name names as a MODIS LST product's other layer
    (:data:`_OTHER_LAYER_NAMES`), or None."""
    base = re.split(r"[:/]", name.strip())[-1].lower().replace("-", "_")
    for word, pattern in _OTHER_LAYER_NAMES:
        if re.fullmatch(pattern, base):
            return word
    return None


def _other_quantity(text: str) -> str | None:
    """The other quantity ``text`` (a label) names as its own, or None: a word of
    :data:`_OTHER_PATTERNS` before any temperature word and tied to it by 'of' / 'for' right
    after it (:data:`_TIED`: 'Time of daytime Land-surface Temperature observation', 'Quality
    control for daytime LST' name a time and a QC of the LST), not after one ('LST, QC
    applied' is an LST) nor qualifying it ('Emissivity-corrected land surface temperature',
    'Quality-controlled mean of daily land surface temperature')."""
    text = re.sub(r"[_\-]+", " ", text.lower())
    temp = re.search(_TEMPERATURE, text)
    first = None
    for word, pattern in _OTHER_PATTERNS:
        m = re.search(pattern, text)
        if m is not None and (first is None or m.start() < first[1].start()):
            first = (word, m)
    if first is None or (temp is not None and temp.start() < first[1].start()):
        return None
    word, m = first
    if temp is not None and not (re.search(r"\b(of|for)$", m.group())
                                 or _TIED.match(text, m.end())):
        return None  # a qualifier ('Emissivity-corrected LST', 'QC filtered LST'), not 'X of LST'
    return word


def _refuse_other_quantity(da: xr.DataArray, what: str) -> None:
    """Refuse an array whose own name says it is not a temperature: MOD11A1's 'Band 31
    emissivity' (values near 1) was "degrees Celsius" by its values, and with units='degC' as
    advised became a 274 K field, silently. The long_name, standard_name and the variable's
    name are read, a temperature word in them notwithstanding: 'Time of daytime Land-surface
    Temperature observation' (MOD11A1's Day_view_time, hours) was taken for an LST and, the
    refusals' units advice followed, super-resolved as a 283 K field."""
    if what not in ("LST", "reference"):
        return
    labels = [(str(da.attrs[k]), k) for k in ("long_name", "standard_name")
              if str(da.attrs.get(k, "") or "").strip()]
    if da.name is not None and str(da.name).strip():
        labels.append((str(da.name), "name"))
    for text, key in labels:
        hit = _other_layer_name(text) if key == "name" else _other_quantity(text)
        if hit is None:
            continue
        label = "named" if key == "name" else "labelled"
        raise UnitsError(
            f"the {what} is {label} {text!r} ({hit}), not a land surface temperature: pass the "
            "LST layer (e.g. MOD11A1's 'LST_Day_1km' or 'LST_Night_1km'"
            + (", `--variable LST_Day_1km` on the command line" if what == "LST" else "")
            + "), or "
            + ("rename the array" if key == "name" else f"drop the {key}")
            + " if the label is wrong."
        )


def _source_of(da: xr.DataArray) -> _Source | None:
    """The file ``da`` was read from (xarray's and rioxarray's ``encoding['source']``; a Zarr
    store from its dask graph), its variable's name, its size and the GeoTIFF bands it holds
    (:data:`_Source`), or None: where a refusal's command-line way rewrites the file's own
    scale or offset tag (:func:`_retag_command`)."""
    path = da.encoding.get("source")
    if ((not isinstance(path, str) or not path) and "preferred_chunks" in da.encoding
            and isinstance(da.variable._data, dsa.Array)):
        # a Zarr store's arrays name no source (open_zarr, whose encoding keeps its chunks):
        # the one store its graph reads (other lazy arrays' graphs are not walked)
        from .io.zarr import files_read

        read = [str(f) for f in files_read(da)]
        path = read[0] if len(read) == 1 and read[0].lower().endswith(_ZARR_SUFFIX) else None
    if not isinstance(path, str) or not path:
        return None
    # the GeoTIFF bands held, by rioxarray's labels (the file's band numbers, from 1)
    label = da.coords.get("band")
    bands = None
    if label is not None and label.dtype.kind in "iu" and label.ndim <= 1:
        v = np.atleast_1d(np.asarray(label.values)).astype(np.int64)
        if v.size and bool(np.all(v >= 1)):
            bands = tuple(sorted({int(k) - 1 for k in v}))
    described = da.attrs.get("long_name")
    if bands is None and isinstance(described, str) and described:
        # one band picked by open_cog (`band=`, `--band`): its coordinate dropped, its
        # description kept, which places it among the file's (:func:`_retag_command`)
        bands = described
    return path, da.name if isinstance(da.name, str) else None, int(da.size), bands


def decode_lst(
    da: xr.DataArray,
    *,
    mask_out_of_range: bool = False,
    physical_range: tuple[float, float] = PHYSICAL_RANGE_K,
    check_fill: bool = True,
    keep_out_of_range: bool = False,
    what: str = "LST",
    kept_range: tuple[float | None, float | None] = (None, None),
    like: tuple[Any, str] | None = None,
    attrs_of: str | None = None,
    maskable: bool = True,
    step_vars: Sequence[str] | None = None,
) -> xr.DataArray:
    """Return LST as floating-point Kelvin with NaN gaps; decode scaled integers and Celsius.

    Scale metadata (``scale_factor``, ``add_offset``, ``_FillValue``, ``missing_value``,
    ``valid_range``, ``valid_min``, ``valid_max``, ``_Unsigned``) is applied when found in
    ``attrs`` (undecoded data, e.g. ``rioxarray.open_rasterio(..., mask_and_scale=False)``; a
    band of a file whose bands are scaled differently, rioxarray's per-band ``scales`` /
    ``offsets``, with its own entry: :func:`_lst_band_scales`); data that xarray already
    decoded keeps it in ``encoding`` and is left alone, except the valid bounds xarray leaves
    in ``attrs``: in packed units (CF), they are converted through the encoding's scale and
    applied in Kelvin. Units ``degC``/``celsius``/... are converted to
    Kelvin.

    The value checks are taken per image (each index of the leading dims: time, band...), on the
    whole image, so a dask input is accepted or refused exactly as the same data in memory,
    whatever its chunks: integers that look like digital numbers without a scale
    (:class:`~xlstsr.errors.ScaledIntegerError`), Celsius without units
    (:class:`~xlstsr.errors.UnitsError`), a single value repeated over a large part of an image
    far below the rest (an undeclared fill value, :func:`suspect_fill`,
    :class:`~xlstsr.errors.UndeclaredFillError`), values outside ``physical_range``
    (:class:`~xlstsr.errors.PhysicalRangeError`, except up to 1 % of an image's pixels at most
    50 K above it: hot spots, masked with a :class:`~xlstsr.errors.PhysicalRangeWarning`).

    Parameters
    ----------
    da : DataArray
        LST, any dims; lazy (dask) arrays stay lazy: the checks raise when the result is
        computed. On dask, each image's chunks meet in one task for the checks (memory: one
        image per time chunk).
    mask_out_of_range : bool
        Mask values outside ``physical_range`` instead of raising :class:`PhysicalRangeError`.
    physical_range : (float, float)
        Accepted Kelvin range after decoding; the default widened by :data:`OUTPUT_MARGIN_K`
        for a result of :func:`xlstsr.upscale` (attribute ``xlstsr_method``), which its output
        check lets so far.
    check_fill : bool
        Look for an undeclared fill value (:func:`suspect_fill`).
    keep_out_of_range : bool
        Only require most (more than half) of an image's valid values to be in range and keep
        the others (an evaluation reference whose border pixels are mixed with its fill and are
        dropped by its thresholds).
    what : str
        How messages name the array.
    kept_range : (float or None, float or None)
        Kelvin bounds the caller applies afterwards (``evaluate``'s ``valid_min`` /
        ``valid_max``): a repeated value outside them is dropped there, not refused here as an
        undeclared fill.
    like : (float or callable, str), optional
        The median (K) and name of a field of the same ground and overpass (``evaluate``:
        the super-resolved field's), or a callable of an image's index (flat order of the
        leading dims) giving that image's, called only for a refusal: a stored scale (K x 100)
        is offered only if it brings the values within :data:`NEAR_LIKE_K` of it, and Landsat
        Level-1 thermal-band counts that it tells apart are named.
    attrs_of : str, optional
        With ``what="reference"``, for a caller that takes no ``reference_scale`` /
        ``reference_nodata`` (the plot functions' ``truth``): the variable whose attrs a
        refusal tells to set (`truth.attrs.update(scale_factor=0.1, _FillValue=0)`,
        `truth.attrs['_FillValue'] = -9999`...) instead of evaluate's arguments (a TypeError
        when followed). Fixed here, when the graph is built: a lazy reference refused as it
        is computed, on any scheduler, gives the same advice. None: evaluate's arguments.
    maskable : bool
        Whether the caller offers ``mask_out_of_range`` (refusals name it). False for a result
        that is scored or drawn (:func:`xlstsr.evaluate`, the plot functions), which take no
        such option: refusals of values out of range name the method instead.
    step_vars : sequence of str, optional
        The variables whose step a cube step's drop advice removes instead of this array's
        (evaluate's ``('sr',)`` for its reference, paired with sr's steps: the reference's
        step is then left out); a mask, which keeps the step, is written on this array
        (``what``) and on them. None: ``attrs_of`` or ``da``.

    Examples
    --------
    >>> import xarray as xr, numpy as np
    >>> dn = xr.DataArray(np.array([[0, 15000]], dtype="uint16"), dims=("y", "x"),
    ...                   attrs={"scale_factor": 0.02, "_FillValue": 0})
    >>> decode_lst(dn).values.tolist()
    [[nan, 300.0]]
    """
    _refuse_other_quantity(da, what)
    da = _standard_grid_mapping(da)
    da = _lst_band_scales(da, what)  # a multi-band file's band: its own entry of `scales`
    if physical_range == PHYSICAL_RANGE_K and da.attrs.get("xlstsr_method") is not None:
        # a result of upscale, whose output check lets values OUTPUT_MARGIN_K beyond the range
        # through (bicubic overshoots a 396 K front to 403 K): coarsen and evaluate refused
        # upscale's own output as "a field in other units or scale"
        physical_range = (PHYSICAL_RANGE_K[0] - OUTPUT_MARGIN_K,
                          PHYSICAL_RANGE_K[1] + OUTPUT_MARGIN_K)
    if da.dtype.kind not in "iuf":
        raise UnitsError(
            f"the {what} holds {da.dtype} values, not numbers of a temperature; convert them "
            "(`da.astype('float32')`) if they are, or pass the LST variable."
        )
    for name, flag in (("mask_out_of_range", mask_out_of_range), ("check_fill", check_fill),
                       ("keep_out_of_range", keep_out_of_range)):
        check_bool(name, flag)  # "no" is truthy: it would silently mean True
    for key, n in (("scale_factor", 1), ("add_offset", 1), ("valid_range", 2),
                   ("valid_min", 1), ("valid_max", 1)):
        if _attr(da, key) is not None:  # text ("abc") is named here; NaN or 0 just below
            _attr_numbers(_attr(da, key), key, n, finite=False)
    bounds = _valid_bounds(da, physical_range, finite=False)
    if (bounds is not None and _attr(da, "scale_factor") is None
            and _attr(da, "add_offset") is None and _packed_encoding(da) is None
            and bounds[0] > physical_range[1]):
        # (a scale in the encoding: xarray decoded the values and left the CF range in packed
        # units, which _valid_bounds converts)
        keys = [k for k in _VALID_KEYS if da.attrs.get(k) is not None]
        given = ", ".join(f"{k}={da.attrs[k]!r}" for k in keys)
        pop = "; ".join(f"da.attrs.pop({k!r})" for k in keys)
        raise UnitsError(
            f"the {what}'s valid-range attribute ({given}) lies above {physical_range[1]:g} K "
            "and no 'scale_factor' is set, in its attrs or its encoding: a range of stored "
            "digital numbers left on values already decoded (it would mask every pixel; "
            "xarray operations such as `interp_like` or arithmetic drop the encoding that "
            f"held the scale). Drop it (`{pop}`), or set the product's 'scale_factor' if the "
            "values are still digital numbers."
        )
    unscaled_int = np.issubdtype(da.dtype, np.integer) and _attr(da, "scale_factor") is None
    scale = float(np.asarray(_attr(da, "scale_factor") or 1.0).ravel()[0])
    declared = _attr(da, "scale_factor")
    declared_scale = None if declared is None else float(np.asarray(declared, np.float64).ravel()[0])
    if declared_scale is not None and (not np.isfinite(declared_scale) or declared_scale == 0):
        # a zero (or NaN) scale makes every value 0 K (or NaN): not a units problem to diagnose
        raise ScaledIntegerError(
            f"the {what}'s 'scale_factor' attribute is {declared!r}, which "
            "would make every value 0 or NaN; set the product's scale (e.g. "
            "`da.attrs['scale_factor'] = 0.02` for MODIS LST) or drop the attribute if the "
            "values are already Kelvin."
        )
    applied = da.encoding.get("scale_factor") if declared is None and da.dtype.kind == "f" else None
    try:
        applied_scale = None if applied is None else float(np.ravel(applied)[0])
    except (TypeError, ValueError):
        applied_scale = None
    if applied_scale is not None and (not np.isfinite(applied_scale) or applied_scale == 0):
        # the reader applied it already: every value is 0 (or NaN), which was diagnosed as
        # degrees Celsius, and `--units degC` wrote a constant 273.15 K field
        raise ScaledIntegerError(
            f"the {what}'s file declares scale_factor={applied_scale!r}, which its reader "
            "applied: every value was decoded to 0 (or NaN), not a temperature. The file's "
            "scale is broken: write the product's scale into it (e.g. `ncatted -a "
            f"scale_factor,{da.name if isinstance(da.name, str) else 'VAR'},o,d,0.01 in.nc` for "
            "Kelvin x 100), or read the stored values "
            "undecoded (`xr.open_dataset(path, mask_and_scale=False)`) and set "
            "`da.attrs['scale_factor'] = 0.01` (the product's scale)."
        )
    offset = float(np.asarray(_attr(da, "add_offset") or 0.0).ravel()[0])
    if declared_scale is not None and offset == 0.0 and _is_landsat_st_scale(declared_scale):
        raise PhysicalRangeError(_landsat_scale_without_offset(
            da, what, attrs_of if what == "reference" else None))
    # what the reader decoded (xarray, rioxarray's mask_and_scale): the scale in the encoding
    packed = _packed_encoding(da)
    try:
        enc_dtype = np.dtype(da.encoding["dtype"]) if "dtype" in da.encoding else None
    except TypeError:
        enc_dtype = None
    # floats stored as floats with a scale: applied on reading, a stale scale makes Kelvin
    # look like Celsius (~6 "K" for 300 K x 0.02), which only the encoding tells
    stale_scale = (packed if packed is not None and packed[0] != 1.0 and enc_dtype is not None
                   and enc_dtype.kind == "f" else None)
    # the map back to stored integers (value = stored x scale + offset) and their type: an
    # integer type's extreme left undeclared may decode within the range (int16 K x 100's
    # 32767 is 327.67 K), named by the integer-fill rule
    unsigned = "_Unsigned" in da.attrs or "_Unsigned" in da.encoding
    if da.dtype.kind in "iu" and not unsigned:
        int_stored = (scale or 1.0, offset, str(da.dtype))
    elif packed is not None and enc_dtype is not None and enc_dtype.kind in "iu" and not unsigned:
        int_stored = (packed[0], packed[1], str(enc_dtype))
    elif (declared_scale is not None and enc_dtype is not None and enc_dtype.kind in "iu"
          and not unsigned):
        # stored integers read as floats, their scale still to apply (xlstsr's GeoTIFF reader,
        # the command line's route: missed, 32767 x 0.01 went on as 327.67 K)
        int_stored = (declared_scale, offset, str(enc_dtype))
    else:
        int_stored = None
    # the stored integers' kind ranks a scale against a dropped offset (unsigned types hold
    # no Celsius coding's negative values): 'u', 'i', or None (floats, unknown)
    flag_u = str(da.attrs.get("_Unsigned", da.encoding.get("_Unsigned", ""))).lower()
    stored_kind = ("u" if flag_u == "true" else da.dtype.kind if da.dtype.kind in "iu" else
                   enc_dtype.kind if enc_dtype is not None and enc_dtype.kind in "iu" else None)
    out, _ = _decode_scaled(da, physical_range)
    units = out.attrs.get("units")
    if (isinstance(units, (tuple, list)) and "band" not in out.dims and "band" in out.coords
            and out["band"].ndim == 0 and np.issubdtype(out["band"].dtype, np.integer)
            and 1 <= int(out["band"]) <= len(units)):
        # one band of a GeoTIFF selected as the refusal of bands of different units advises
        # (`da.sel(band=1)`): its own units of the file's per-band ones (it was refused again)
        units = units[int(out["band"]) - 1]
    kind = _units_kind(units, what)
    if kind == "C":
        out = out + out.dtype.type(273.15)
        out.attrs = dict(da.attrs)
    lo, hi = physical_range
    verdict = partial(
        _lst_verdict,
        units_known=kind is not None,
        unscaled_int=unscaled_int,
        mask_out_of_range=mask_out_of_range,
        keep_out_of_range=keep_out_of_range,
        physical_range=physical_range,
        check_fill=check_fill,
        stored=(scale or 1.0, offset, 273.15 if kind == "C" else 0.0),
        what=what,
        kept_range=kept_range,
        like=like,
        fill_declared=any(k in da.attrs for k in ("_FillValue", "missing_value")),
        # (attrs only: a fill the reader applied is NaN already, and a new one replaces none)
        # (each once: `_FillValue = 0` beside `missing_value = [0]` was advised as [0, 0])
        declared_fills=tuple(dict.fromkeys(
            f for k in ("_FillValue", "missing_value") if k in da.attrs
            for f in np.atleast_1d(np.asarray(da.attrs[k], np.float64)).tolist()
            if np.isfinite(f))),
        attrs_of=attrs_of,
        maskable=maskable,
        step_vars=None if step_vars is None else tuple(str(n) for n in step_vars),
        float_stored=da.dtype.kind == "f",
        stale_scale=stale_scale,
        int_stored=int_stored,
        stored_kind=stored_kind,
        source=_source_of(da),
        # the reader's scale (a scale of 1 leaves the values as stored): fills named as stored
        packed=(None if packed is None or packed == (1.0, 0.0) else
                (packed[0], packed[1], enc_dtype is not None and enc_dtype.kind in "iu")),
    )
    if "band" in out.dims and out.sizes["band"] > 1:
        verdict = partial(_multiband_verdict, verdict=verdict, n_bands=out.sizes["band"],
                          what=what)
    result = _per_image(out, verdict, partial(_apply_mask_flag, lo=lo, hi=hi), 1, named=True)
    attrs = {k: v for k, v in out.attrs.items()
             if k not in ("scale_factor", "add_offset", "_Unsigned", *_VALID_KEYS, *_FILL_KEYS)}
    attrs.update(units="K", standard_name="surface_temperature")
    result.attrs = attrs
    return result


#: side of the central window a declared guide scale is checked on (its first step and band): a
#: few blocks of the file, never all of it
GUIDE_SCALE_SAMPLE = 256


def central_window(da: xr.DataArray, ydim: Hashable, xdim: Hashable,
                   side: int = GUIDE_SCALE_SAMPLE) -> xr.DataArray:
    """The central ``side`` x ``side`` pixels of ``da``'s first step (index 0 of every other
    dim): what a check of a lazily read file's values reads, never the whole file.

    Examples
    --------
    >>> da = xr.DataArray(np.arange(100.0).reshape(1, 10, 10), dims=("time", "y", "x"))
    >>> central_window(da, "y", "x", side=2).values
    array([[44., 45.],
           [54., 55.]])
    """
    ny, nx = da.sizes[ydim], da.sizes[xdim]
    y0, x0 = max(0, (ny - side) // 2), max(0, (nx - side) // 2)
    return da.isel({d: 0 for d in da.dims if d not in (ydim, xdim)}).isel(
        {ydim: slice(y0, y0 + side), xdim: slice(x0, x0 + side)})


def stored_values(da: xr.DataArray) -> np.ndarray:
    """The finite values of an in-memory array as stored (float64, flat), without its declared
    ``_FillValue`` / ``missing_value`` (a text one is ignored): what a check of the stored values
    against their attributes judges.

    Examples
    --------
    >>> stored_values(xr.DataArray([0.0, 1.5, np.nan], attrs={"_FillValue": 0}))
    array([1.5])
    """
    v = np.asarray(da.values, dtype=np.float64).ravel()
    ok = np.isfinite(v)
    fill = da.attrs.get("_FillValue", da.attrs.get("missing_value"))
    if fill is not None:
        try:
            ok &= v != float(np.ravel(fill)[0])
        except (TypeError, ValueError):
            pass
    return v[ok]


#: The attributes a user may declare for an LST file that lacks them (the command line's
#: ``--units``, ``--nodata``, ``--scale``; ``fit_files(declare=...)``): what the front door reads.
DECLARABLE = ("units", "_FillValue", "scale_factor", "add_offset")


def stored_encoding(da: xr.DataArray) -> str | None:
    """What makes ``da`` stored values rather than temperatures (None: nothing): a scale or
    offset in its attrs (xarray and rioxarray move them to ``encoding`` once applied), or a
    declared fill value present among its values (an in-memory field).

    Examples
    --------
    >>> dn = xr.DataArray(np.array([[15000, 0]], "uint16"), dims=("y", "x"),
    ...                   attrs={"scale_factor": 0.02, "_FillValue": 0})
    >>> stored_encoding(dn)
    'scale_factor=0.02, add_offset=0 in its attrs'
    >>> stored_encoding(xr.DataArray([[300.0, np.nan]], dims=("y", "x"))) is None
    True
    """
    scale, offset = da.attrs.get("scale_factor", 1), da.attrs.get("add_offset", 0)
    try:
        if float(np.ravel(scale)[0]) != 1 or float(np.ravel(offset)[0]) != 0:
            return f"scale_factor={scale}, add_offset={offset} in its attrs"
    except (TypeError, ValueError):
        return f"scale_factor={scale!r}, add_offset={offset!r} in its attrs"
    fill = da.attrs.get("_FillValue", da.attrs.get("nodata"))
    if fill is not None and not isinstance(da.variable.data, dsa.Array):
        try:
            fill = float(np.ravel(fill)[0])
        except (TypeError, ValueError):
            return None
        if np.isfinite(fill) and bool((np.asarray(da.values) == fill).any()):
            return f"the fill value {fill:g} (its _FillValue/nodata attribute) among its values"
    return None


def check_declarations(declare: Any) -> dict[str, Any]:
    """``declare`` (a mapping of :data:`DECLARABLE` attributes, None values dropped) checked:
    known names, units as text, finite numbers, a scale > 0.

    Examples
    --------
    >>> check_declarations({"units": "degC", "_FillValue": -80, "scale_factor": None})
    {'units': 'degC', '_FillValue': -80.0}
    >>> check_declarations({"scale": 0.02})
    Traceback (most recent call last):
    ...
    xlstsr.errors.XlstsrError: declare: unknown attribute(s) ['scale']; ...
    """
    if declare is None:
        return {}
    if not isinstance(declare, Mapping):
        raise InputTypeError(f"declare must be a dict of LST attributes, e.g. {{'units': 'degC'}},"
                             f" got {type(declare).__name__}")
    unknown = sorted(str(k) for k in declare if k not in DECLARABLE)
    if unknown:
        raise XlstsrError(f"declare: unknown attribute(s) {unknown}; declare one of {DECLARABLE}"
                          ", e.g. {'scale_factor': 0.02, '_FillValue': 0}")
    out: dict[str, Any] = {}
    for key, value in declare.items():
        if value is None:
            continue
        if key == "units":
            if not isinstance(value, str) or not value.strip():
                raise XlstsrError(f"declare: units must be text, e.g. 'K' or 'degC', got {value!r}")
            out[key] = value
        elif key == "scale_factor":
            out[key] = check_number("declare: scale_factor", value, 0, lo_open=True,
                                    hint="stored value x scale = LST, e.g. 0.02 for MODIS")
        else:
            out[key] = check_number(f"declare: {key}", value,
                                    hint="a stored value, e.g. 0" if key == "_FillValue" else "")
    return out


def _declared_names(what: str, flag: str, key: str) -> str:
    """Where the ``what`` field's ``key`` is declared: the command line's ``--{flag}`` (evaluate
    and the guide rename it, :func:`xlstsr.cli._declare`) and fit_files' ``declare``."""
    truth = what == "truth"
    return (f"{'--truth-' if truth else '--'}{flag} on the command line, "
            f"{'truth_declare' if truth else 'declare'}[{key!r}] in fit_files")


def _own_number(da: xr.DataArray, key: str) -> float | None:
    """The file's own ``key`` (in attrs: still to apply; in encoding: applied on reading) as a
    number, or None; text is left to the front door's own message."""
    own = da.attrs.get(key, da.encoding.get(key))
    try:
        return None if own is None else float(np.asarray(own, dtype=np.float64).ravel()[0])
    except (TypeError, ValueError):
        return None


def _stored_fill_decoded(da: xr.DataArray, fill: float, packed: tuple[float, float],
                         what: str) -> list[float]:
    """The declared fill ``fill``, a stored value, as the readers decode it (``packed``: the
    scale and offset in ``da.encoding``) so that the front door's exact match finds it: as
    xarray does (stored value in ``da``'s float type, x scale, + offset) first, then, where it
    differs in the last bit, as :func:`xlstsr.io.open_modis` does (in float64, then cast to
    ``da``'s type; float32 arithmetic alone missed ~27 % of MOD11A1's stored values). A number no
    stored integer can be (1310.7 on uint16 data) is refused, naming the stored value it
    decodes from: the decoded value was the advice before (an unsigned-view fill, int16 -1 for
    uint16 65535, is read as the reader reads it)."""
    scale, offset = packed
    enc = da.encoding.get("dtype")
    try:
        enc = None if enc is None else np.dtype(enc)
    except TypeError:
        enc = None
    if enc is not None and enc.kind in "iu":
        view = _bounds_view(da) or enc
        v = _reinterpreted(fill, view)
        info = np.iinfo(view)
        if v != np.round(v) or not info.min <= v <= info.max:
            raw = (fill - offset) / scale
            near = (f": declare the stored value {raw:.0f}, which decodes to {fill:g}"
                    if abs(raw - round(raw)) < 1e-3 and info.min <= round(raw) <= info.max
                    else "")
            raise XlstsrError(
                f"the declared fill {fill:g} of the {what} is no stored {view} value: its file "
                f"is decoded on reading (stored x {scale:g} + {offset:g}) and a fill is "
                f"declared as stored ({_declared_names(what, 'nodata', '_FillValue')})"
                + (near or ": declare the value the file stores")
            )
        fill = v
    kw = {k: da.encoding[k] for k in ("scale_factor", "add_offset")
          if da.encoding.get(k) is not None}
    # as xarray's CFScaleOffsetCoder: an array's scale is taken as a Python number
    kw = {k: (np.asarray(v).item() if np.ndim(v) else v) for k, v in kw.items()}
    out = np.array([fill], dtype=np.float64).astype(da.dtype)
    wide = np.array([fill], dtype=np.float64)
    if "scale_factor" in kw:
        out *= kw["scale_factor"]
        wide *= float(kw["scale_factor"])
    if "add_offset" in kw:
        out += kw["add_offset"]
        wide += float(kw["add_offset"])
    values = [float(out[0]), float(wide.astype(da.dtype)[0])]
    return values[:1] if values[1] == values[0] else values


def declare_lst(da: xr.DataArray, declare: Any, what: str = "LST") -> xr.DataArray:
    """The LST with the user's declarations (:func:`check_declarations`) as attributes, for the
    front door to decode. A scale or offset the file has already (an attribute, or applied on
    reading) is refused: it would be applied twice.

    A declared ``_FillValue`` is a stored value. On values the reader decoded (the file's scale
    and offset in ``da.encoding``) it is converted to decoded units (stored x scale + offset;
    where xarray's float32 arithmetic and :func:`xlstsr.io.open_modis`'s float64 one give
    different float32 values, the second is declared too, as ``missing_value``);
    one equal to the file's own fill, which the reader masked already, is accepted as is. A
    fill that replaces a different one of the file's attrs keeps that one masked too (as
    ``missing_value``).

    Examples
    --------
    >>> da = xr.DataArray(np.full((2, 2), 15000, dtype="uint16"), dims=("y", "x"))
    >>> declare_lst(da, {"scale_factor": 0.02, "_FillValue": 0}).attrs
    {'scale_factor': 0.02, '_FillValue': 0.0}
    >>> k = xr.DataArray(np.array([300.0, 1310.7]), dims="x")
    >>> k.encoding = {"dtype": "uint16", "scale_factor": 0.02, "_FillValue": 0}  # as read
    >>> declare_lst(k, {"_FillValue": 65535}).attrs
    {'_FillValue': 1310.7}
    """
    declared = check_declarations(declare)
    for key, flag, none in (("scale_factor", "scale", 1.0), ("add_offset", "offset", 0.0)):
        own = _own_number(da, key)
        if key in declared and own is not None and own != none:
            # the offset too: Landsat C2's 149 K, given again, made a 235 K scene 384 K, exit 0
            raise XlstsrError(
                f"the {what} file declares {key}={da.attrs.get(key, da.encoding.get(key))} "
                f"already: drop the declared {flag} ({_declared_names(what, flag, key)}); the "
                f"file's own {flag} is applied"
            )
    if "_FillValue" in declared:
        fill = declared["_FillValue"]
        own = _own_number(da, "_FillValue")
        packed = _packed_encoding(da)
        if own is not None and fill == own and "_FillValue" not in da.attrs:
            del declared["_FillValue"]  # the reader masked it already
        elif packed is not None and packed != (1.0, 0.0):
            decoded = _stored_fill_decoded(da, fill, packed, what)
            declared["_FillValue"] = decoded[0]
            if len(decoded) > 1:  # the other reader's decoding of it, masked too
                own_mv = da.attrs.get("missing_value")
                declared["missing_value"] = (decoded[1] if own_mv is None else
                                             [*np.ravel(own_mv).tolist(), decoded[1]])
        elif (own is not None and fill != own and "_FillValue" in da.attrs
              and "missing_value" not in da.attrs):
            declared["missing_value"] = da.attrs["_FillValue"]  # the file's own, still masked
    return da.assign_attrs(**declared) if declared else da


def _refuse_inherited_scale(guide: xr.DataArray, per_band: str | None = None) -> None:
    """Refuse a float guide whose values as stored lie in [-1.05, 1.05] (an NDVI) but that
    carries a ``scale_factor`` below 1: the attributes of the band it was computed from, which
    xarray keeps through ``(nir - red) / (nir + red)``. Decoded, the guide would be 10000x too
    small (every method and ``scaling_stats`` read it so), without a word. The scale is read
    from ``attrs`` (not applied yet) or, on floats stored as floats, from ``encoding`` (a
    NetCDF / Zarr or a GeoTIFF read with ``mask_and_scale``: applied on reading already, the
    values are NDVI x 0.0001; reading ``attrs`` alone let them through). A lazy guide is
    judged on its central pixels of the first step (:func:`central_window`), never read
    whole. ``per_band``: the per-band attributes (rioxarray's ``scales=...``) the
    ``scale_factor`` under test stands for, named in the message and its fix instead."""
    applied = "scale_factor" not in guide.attrs
    if applied:
        stored = guide.encoding.get("dtype")
        try:
            if stored is None or np.dtype(stored).kind != "f":
                return  # stored integers: the scale is theirs (MOD13's NDVI x 10000)
        except TypeError:
            return
        scale, offset = guide.encoding.get("scale_factor"), guide.encoding.get("add_offset", 0.0)
    else:
        scale, offset = guide.attrs.get("scale_factor"), 0.0
    try:
        scale = float(np.ravel(scale)[0]) if scale is not None else None
        offset = float(np.ravel(offset)[0]) if offset is not None else 0.0
    except (TypeError, ValueError):
        return  # text: decode_guide names it
    if scale is None or not np.isfinite(scale) or not 0 < scale < 1 or guide.dtype.kind != "f":
        return
    where = ""
    if isinstance(guide.variable.data, dsa.Array):
        names = spatial_names(guide)
        back = {v: k for k, v in names.items()}
        try:
            ydim, xdim = spatial_dims(guide.rename(names) if names else guide)
        except XlstsrError:
            return  # a guide without a grid is named later
        window = central_window(guide, back.get(ydim, ydim), back.get(xdim, xdim))
        where = f" on its central {window.shape[-2]} x {window.shape[-1]} pixels"
        v = stored_values(window)
    else:
        v = stored_values(guide)
    if applied:
        v = (v - offset) / scale  # the values as the file stores them
    if not v.size or float(np.abs(v).max()) > 1.05:
        return
    if applied:
        raise GuideScaleError(
            f"the guide {guide.name!r} is stored as floats within [-1, 1] "
            f"({float(v.min()):.2f} to {float(v.max()):.2f}{where}: an NDVI?) but its file "
            f"declares scale_factor={scale:g}, which its reader applied (it is in "
            "`g.encoding`): the attributes of the band it was computed from, kept when it was "
            f"saved. Read so, it is {1 / scale:.0f}x too small (a model or sharpener would read "
            f"NDVI x {scale:g}; scaling_stats' guide_slope {1 / scale:.0f}x too large). Undo "
            f"it, `g = g / {scale:g}`" + (f" after `g = g - {offset:g}`" if offset else "")
            + ", or reopen the file with `mask_and_scale=False` and drop the attribute "
            "(`g.attrs.pop('scale_factor'); g.attrs.pop('add_offset', None)`); best, write "
            "the file again without it."
        )
    said = per_band or f"scale_factor={scale:g}"
    # a band's own scales (rioxarray's `scales`), kept as xarray keeps attrs: those to drop
    drop = ("g.attrs.pop('scales', None); g.attrs.pop('offsets', None)" if per_band else
            "g.attrs.pop('scale_factor'); g.attrs.pop('add_offset', None)")
    raise GuideScaleError(
        f"the guide {guide.name!r} holds values within [-1, 1] already ({float(v.min()):.2f} "
        f"to {float(v.max()):.2f}{where}: an NDVI?) but carries {said}: attributes "
        "of the band it was computed from, which xarray keeps through `(nir - red) / (nir + "
        f"red)`. Decoded, it would be {1 / scale:.0f}x too small (a model or sharpener would "
        f"read NDVI x {scale:g}; scaling_stats' guide_slope {1 / scale:.0f}x too large). "
        f"Drop them: `{drop}; g.attrs.pop('_FillValue', None)`, or compute it from decoded "
        "bands (`rioxarray.open_rasterio(f, mask_and_scale=True)`)."
    )


def _file_band_positions(da: xr.DataArray, n: int) -> tuple[Hashable | None, list[int]] | None:
    """Which of a multi-band file's ``n`` bands ``da`` holds, for attributes rioxarray gives
    per band (``scales``, ``offsets``, a tuple ``long_name`` of descriptions), which
    ``sel``/``isel`` keep whole: ``(None, [position])`` for one band selected (its scalar
    ``band`` coordinate, whatever other dims it has: a stack of dates of one band), or
    ``("band", positions)``, one file band per position along its ``band`` dim. rioxarray's
    ``band`` labels are the file's band numbers (from 1), so they place a subset or a
    reordering; unlabelled bands are placed in order when they are ``n``. None when nothing
    tells (no ``band`` coordinate: another dim, e.g. time, is never taken for the bands)."""
    label = da.coords.get("band")
    numbers = None
    if label is not None and label.dtype.kind in "iu" and label.ndim <= 1:
        v = np.atleast_1d(np.asarray(label.values)).astype(np.int64)
        if bool(np.all((v >= 1) & (v <= n))) and np.unique(v).size == v.size:
            numbers = [int(k) - 1 for k in v]
    if "band" not in da.dims:
        scalar = label is not None and label.ndim == 0
        return (None, numbers) if numbers is not None and scalar else None
    if numbers is not None:
        return "band", numbers
    return ("band", list(range(n))) if da.sizes["band"] == n else None


def _band_numbers(da: xr.DataArray, key: str, what: str = "guide") -> list[float] | None:
    """A per-band attribute (``scales``, ``offsets``) as floats, or None when absent."""
    v = da.attrs.get(key)
    if v is None:
        return None
    try:
        out = [float(x) for x in np.ravel(np.asarray(v, dtype=object))]
    except (TypeError, ValueError):
        error = GuideScaleError if what == "guide" else ScaledIntegerError
        raise error(
            f"the {what}'s {key!r} attribute ({v!r}) is not a number per band: set the bands' "
            f"scales as numbers, or reopen the file with `mask_and_scale=True`.") from None
    return out or None


def _lst_band_scales(da: xr.DataArray, what: str = "LST") -> xr.DataArray:
    """Integer LST of a multi-band file whose bands have their own scales or offsets, read
    undecoded (rioxarray's per-band ``scales``/``offsets`` and no ``scale_factor``; ``sel``
    keeps the whole tuples): its band's own entries as ``scale_factor``/``add_offset``, which
    :func:`decode_lst` applies. Only ``scale_factor`` was read, so such a band was refused as
    integers with 'no scale metadata'. The band is placed as a guide's is
    (:func:`_file_band_positions`); bands that cannot be placed, or scaled differently along
    a ``band`` dim, are refused. Floats (a band decoded by hand keeps the tuples) are left as
    they are, and a ``scale_factor`` (``add_offset``) declared beside the tuples stands for
    every band's scale (offset)."""
    if da.dtype.kind not in "iu" or not ("scales" in da.attrs or "offsets" in da.attrs):
        return da
    # a single scale_factor / add_offset stands for every band (rioxarray writes it for a
    # scale the bands share): the per-band tuple of the other one still applies (offsets
    # (150, 0) beside scale_factor 0.02: the offset was dropped)
    scales = (None if _attr(da, "scale_factor") is not None
              else _band_numbers(da, "scales", what))
    offsets = (None if _attr(da, "add_offset") is not None
               else _band_numbers(da, "offsets", what))
    if scales is None and offsets is None:
        return da
    rest = {k: v for k, v in da.attrs.items() if k not in ("scales", "offsets")}
    n = len(scales if scales is not None else offsets or ())
    where = _file_band_positions(da, n) if n else (None, [])
    if where is None and len(set(scales or [1.0])) == 1 and len(set(offsets or [0.0])) == 1:
        where = (None, [0])  # one scale and offset for every band: nothing to place
    mismatch = scales is not None and offsets is not None and len(offsets) != n
    pos = [] if where is None or mismatch else where[1]
    own_scales = {scales[i] for i in pos} if scales is not None else set()
    own_offsets = {offsets[i] for i in pos} if offsets is not None else set()
    if n and (not pos or len(own_scales) > 1 or len(own_offsets) > 1):
        why = (f"{n} scales but {len(offsets or ())} offsets" if mismatch else
               f"its bands {[i + 1 for i in pos]} are scaled differently" if pos else
               f"which of the file's {n} bands it holds cannot be told (dims {list(da.dims)}; no "
               "`band` coordinate numbering it from 1)")
        raise ScaledIntegerError(
            f"the {what} declares a scale or offset per band (attributes `scales`={scales}, "
            f"`offsets`={offsets}, as rioxarray reads a file whose bands are scaled "
            f"differently) and {why}: select the LST band by its number (`da.sel(band=1)`), or "
            "reopen the file with `mask_and_scale=True`, which applies each band's own.")
    out = da.copy(deep=False)
    out.attrs = rest
    if own_scales:
        out.attrs["scale_factor"] = own_scales.pop()
    if own_offsets:
        out.attrs["add_offset"] = own_offsets.pop()
    return out


def _decode_band_scales(da: xr.DataArray) -> xr.DataArray:
    """:func:`decode_guide` of a multi-band raster whose bands have their own scales or offsets
    (rioxarray then writes ``scales``/``offsets`` per band and no ``scale_factor``): each band
    is decoded with its own. Only ``scale_factor`` was read, so an NDVI x 10000 beside an
    elevation in 0.5 m steps was used as stored integers without a word (scaling_stats'
    guide_slope 10000x off). Bands that cannot be placed among the file's are refused."""
    scales, offsets = _band_numbers(da, "scales"), _band_numbers(da, "offsets")
    if scales is None and offsets is None:  # empty: no scale to apply
        out = da.copy(deep=False)
        out.attrs = {k: v for k, v in da.attrs.items() if k not in ("scales", "offsets")}
        return decode_guide(out)
    n = len(scales if scales is not None else offsets)
    if scales is not None and offsets is not None and len(offsets) != n:
        raise GuideScaleError(
            f"the guide declares {n} band scales but {len(offsets)} band offsets: reopen the "
            "file with `mask_and_scale=True`, which applies each band's own.")
    small = [x for x in (scales or []) if 0 < x < 1]
    if small and da.dtype.kind == "f" and "scale_factor" not in da.attrs:
        # floats within [-1, 1] carrying the bands' scales: an NDVI computed from them, or a
        # band decoded by hand (`g.sel(band=1) / 10000`), refused as a scale_factor is, with
        # the attributes it holds named
        tmp = da.copy(deep=False)
        tmp.attrs = {**da.attrs, "scale_factor": min(small)}
        _refuse_inherited_scale(tmp, per_band=f"scales={tuple(scales or ())}")
    where = _file_band_positions(da, n)
    if where is None and len(set(scales or [1.0])) == 1 and len(set(offsets or [0.0])) == 1:
        where = (None, [0])  # one scale and offset for every band: nothing to place
    if where is None:
        raise GuideScaleError(
            f"the guide declares a scale or offset per band (attributes `scales`={scales}, "
            f"`offsets`={offsets}, as rioxarray reads a file whose bands are scaled "
            f"differently), but which of the file's {n} bands it holds cannot be told (dims "
            f"{list(da.dims)}; no `band` dim or coordinate numbering them from 1): its values "
            "would be "
            "used as stored. Reopen the file with `mask_and_scale=True`, which applies each "
            "band's own, or decode the bands yourself (`g.sel(band=1) * scales[0]`) and drop "
            "the attributes (`g.attrs.pop('scales'); g.attrs.pop('offsets', None)`).")
    d, pos = where
    rest = {k: v for k, v in da.attrs.items() if k not in ("scales", "offsets")}

    def one(band: xr.DataArray, i: int) -> xr.DataArray:
        attrs = dict(rest)
        if scales is not None:
            attrs["scale_factor"] = scales[i]
        if offsets is not None:
            attrs["add_offset"] = offsets[i]
        out = band.copy(deep=False)
        out.attrs = attrs
        return decode_guide(out)

    if d is None:
        return one(da, pos[0])
    parts = [one(da.isel({d: k}), i) for k, i in enumerate(pos)]
    return xr.concat(parts, dim=d, combine_attrs="override").transpose(*da.dims)


def decode_guide(da: xr.DataArray) -> xr.DataArray:
    """Decode a guide band (NDVI, reflectance...): scale, offset and fill values to float NaN.

    A multi-band raster whose bands have their own scales or offsets (rioxarray's ``scales``
    and ``offsets`` attributes) is decoded band by band; one whose bands cannot be placed among
    the file's raises :class:`~xlstsr.errors.GuideScaleError`. Values that are not real numbers
    (complex, dates, text, objects) raise :class:`~xlstsr.errors.InputTypeError`: casting them
    would drop an imaginary part, or turn dates into nanoseconds, silently.
    """
    if da.dtype.kind not in "biuf":
        raise InputTypeError(
            f"the guide holds {da.dtype} values, not real numbers of a guide band (NDVI, "
            "reflectance...); convert them (`guide.astype('float32')`, `guide.real`) if they "
            "are, or pass the guide variable."
        )
    if "scales" in da.attrs or "offsets" in da.attrs:
        return _decode_band_scales(da)
    _refuse_inherited_scale(da)
    scale = da.attrs.get("scale_factor")
    try:
        k = float(np.ravel(scale)[0]) if scale is not None else 1.0
        # a power of ten >= 100: the HDF4 divisor (an elevation in 5 m steps scales by 5)
        big = k >= 100 and float(np.log10(k)).is_integer()
    except (TypeError, ValueError):
        big = False  # _decode_scaled names a scale that is not a number
    if big:
        # GDAL's read of a MOD13 HDF4 band: scale_factor 10000, which MODIS means as a divisor;
        # multiplied as CF says, the NDVI was refused as "scaled by about 8e7"
        raise GuideScaleError(
            f"the guide's scale_factor attribute is {float(np.ravel(scale)[0]):g}, which would "
            "multiply its stored values: MODIS HDF4 products (MOD13 NDVI, MOD09 reflectance) "
            "declare 10000 as a divisor. Set the multiplier, e.g. "
            f"`guide.attrs['scale_factor'] = {1 / float(np.ravel(scale)[0]):g}`, or open the "
            "HDF file with `xlstsr.io.open_modis`, which divides."
        )
    # (valid bounds xarray left in packed units on decoded values are converted: applied as
    # they stand they masked a packed emissivity whole, an NDVI's negative values silently)
    out, _ = _decode_scaled(_standard_grid_mapping(da), guide=True)
    return out


def all_nan_advice(da: xr.DataArray) -> str:
    """What to do with ``da`` (an LST, a field) that holds no valid pixel, in words for an
    error message: select the steps with data along its own lead dim, or, where it is one
    image (no lead dim, or lead dims of size 1: a one-band GeoTIFF read without squeezing, a
    single granule), skip it.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> all_nan_advice(xr.DataArray(np.full((3, 4, 4), np.nan), dims=("date", "y", "x")))[:42]
    "none of its 3 step(s) along 'date' has one"
    >>> all_nan_advice(xr.DataArray(np.full((1, 4, 4), np.nan), dims=("band", "y", "x")))[:19]
    'this image has none'
    """
    # the array's own lead dim: a dropna on 'time' failed on a single image (no such dim) and
    # on a cube whose dates are called otherwise ('date'); one of size 1 is no choice of steps
    # (`src.dropna('band', how='all')` of a one-band image left 0 steps: "the LST is empty")
    try:
        spatial = set(spatial_dims(da))
    except XlstsrError:
        spatial = set(da.dims[-2:])
    steps = [d for d in da.dims if d not in spatial and da.sizes[d] != 1]
    if steps:
        d = steps[0]
        return (f"none of its {da.sizes[d]} step(s) along '{d}' has one: select steps with "
                f"data from the cube they come from, e.g. `src.dropna('{d}', how='all')`")
    return ("this image has none (all cloud, water or fill): skip it, e.g. call only where "
            "`bool(da.notnull().any())` on the image read with its fill masked "
            "(`rioxarray.open_rasterio(path, mask_and_scale=True)`)")


def require_valid_pixels(da: xr.DataArray, what: str = "LST") -> None:
    """Raise :class:`AllNaNError` when an in-memory array holds no finite value; its message
    says what to do (:func:`all_nan_advice`).

    Dask arrays are not checked (that would compute them): their all-NaN blocks yield NaN.
    """
    data = da.variable.data
    if isinstance(data, dsa.Array):
        return
    if not np.isfinite(np.asarray(data)).any():
        raise AllNaNError(
            f"the {what} holds no valid pixel (all NaN or fill). Check the fill value / QC "
            f"mask; {all_nan_advice(da)}."
        )


def _refuse_merged_grids(ds: xr.Dataset, lst: xr.DataArray) -> None:
    """Name a Dataset whose LST shares irregular spatial coordinates with other variables: most
    often an LST at 1 km and an NDVI at 250 m merged under the same dim names, which xarray puts
    on the union of both grids (each padded with NaN) - "not regularly spaced" alone did not
    say so. Coordinates only: nothing is computed."""
    names = spatial_names(lst)
    try:
        dims = spatial_dims(lst.rename(names) if names else lst)
    except NoSpatialDimsError:
        return
    back = {v: k for k, v in names.items()}
    for dim in (back.get(d, d) for d in dims):
        if dim not in lst.coords or lst.sizes[dim] < 3 or lst[dim].dtype.kind not in "iuf":
            continue
        step = np.diff(np.asarray(lst[dim].values, dtype=np.float64))
        med = float(np.median(step))
        if med == 0 or np.all(np.abs(step - med) <= 0.01 * abs(med)):
            continue
        others = [str(v) for v in ds.data_vars if v != lst.name and dim in ds[v].dims]
        if others:
            raise GridError(
                f"the Dataset's '{dim}' coordinates are not regularly spaced (steps from "
                f"{float(np.abs(step).min()):.6g} to {float(np.abs(step).max()):.6g}), and its "
                f"variables {[str(lst.name), *others]} share them: fields of different grids "
                "(e.g. LST at 1 km and NDVI at 250 m) merged into one Dataset under the same dim "
                "names are put by xarray on the union of both grids, each padded with NaN. Keep "
                "them apart: pass separate DataArrays (`xlstsr.upscale(lst, 4, 'tsharp', "
                "guide=ndvi)`), or give each grid its own dim names before merging "
                "(`ndvi.rename(x='x_250m', y='y_250m')`). If the grid itself is irregular, "
                "resample it onto a regular one (`da.rio.reproject(...)`)."
            )


def _grid_suffixed(da: xr.DataArray) -> xr.DataArray:
    """A guide variable whose dims were renamed to keep its grid apart in a Dataset
    (``y_250m``/``x_250m``, as :func:`_refuse_merged_grids` advises) with ``y``/``x`` back:
    rioxarray finds no spatial dims under such names, and the guide is resampled onto the LST's
    grid anyway. Other dims are left as they are."""
    try:
        spatial_dims(da)
        return da
    except XlstsrError:  # no spatial dims under any known name: maybe suffixed ones
        dims = [str(d) for d in da.dims]
    if "y" in dims or "x" in dims:
        return da
    ys = [d for d in dims if d.lower().startswith(("y_", "y-"))]
    xs = [d for d in dims if d.lower().startswith(("x_", "x-"))]
    if len(ys) == 1 and len(xs) == 1:
        return da.rename({ys[0]: "y", xs[0]: "x"})
    return da


def _select_guide(ds: xr.Dataset, guide: Any, operation: str | None = None) -> Any:
    """A guide given by Dataset variable name(s) (a name, a list/tuple of names, a dict of
    names) resolved into DataArray(s); anything else returned as it is. A tuple of names was
    looked up as one name, a list or dict of names refused as "not a DataArray".
    ``operation``: as for :func:`select_variable`."""
    def one(g: Any) -> Any:
        if isinstance(g, str) or (isinstance(g, Hashable) and not isinstance(
                g, (xr.DataArray, tuple)) and g is not None and g in ds.data_vars):
            return _grid_suffixed(select_variable(ds, g, role="guide", operation=operation))
        return g

    if guide is None or isinstance(guide, xr.DataArray):
        return guide
    if isinstance(guide, (list, tuple)):
        return [one(g) for g in guide]
    if isinstance(guide, Mapping):
        return {k: one(g) for k, g in guide.items()}
    if isinstance(guide, Hashable):
        return _grid_suffixed(select_variable(ds, guide, role="guide", operation=operation))
    return guide


#: the words that end :func:`unscored_message`'s first sentence: how evaluate tells its
#: out-of-range warning from decode_reference's others
UNSCORED = "they are not scored"


def unscored_message(out: np.ndarray, physical_range: tuple[float, float] = PHYSICAL_RANGE_K,
                     attrs_of: str | None = None) -> str:
    """The warning about a reference image's pixels ``out`` (Kelvin) outside
    ``physical_range``, which evaluate does not score: how many, their values, and how to
    declare the fill they most likely are.

    Examples
    --------
    >>> unscored_message(np.array([120.0, 120.0, 130.0]))[:70]
    '3 reference pixel(s) of an image lie outside the physical range 150-40'
    """
    lo, hi = physical_range
    vals, counts = np.unique(out, return_counts=True)
    top = float(vals[np.argmax(counts)])
    landsat = (f" ({LANDSAT_C2_ST_OFFSET:g} K is Landsat Collection 2's surface-"
               "temperature offset: its fill, DN 0, decoded; "
               "`xlstsr.io.open_landsat_c2l2` masks it)"
               if abs(top - LANDSAT_C2_ST_OFFSET) < 1e-3 else "")
    return (
        f"{out.size} reference pixel(s) of an image lie outside the physical range "
        f"{lo:g}-{hi:g} K ({float(out.min()):.2f} to {float(out.max()):.2f} K; "
        f"{top:.2f} K on {int(counts.max())}){landsat}: {UNSCORED}. "
        + (f"Declare the fill (`{attrs_of}.attrs['_FillValue'] = ...`, as stored) "
           f"or mask them (`{attrs_of}.where(...)`) to silence this." if attrs_of else
           "Declare the fill (`reference_nodata=`, `--reference-nodata`) or drop "
           "them with `valid_min` / `valid_max` to silence this.")
    )


def _declared_dims(ds: xr.Dataset, da: xr.DataArray) -> xr.DataArray:
    """``da`` (a variable of ``ds``) with the spatial dims declared on the Dataset
    (``ds.rio.set_spatial_dims(x_dim='col', y_dim='row')``, as the advice for dims rioxarray does
    not find says) declared on it too: ``ds[var]`` forgets them, and the same error came back.
    Only when the variable has both dims and does not find its own."""
    from rioxarray.exceptions import MissingSpatialDimensionError

    try:
        ydim, xdim = str(ds.rio.y_dim), str(ds.rio.x_dim)
    except MissingSpatialDimensionError:  # the Dataset declares none and rioxarray finds none
        return da
    if ydim not in da.dims or xdim not in da.dims:
        return da
    try:
        own = (str(da.rio.y_dim), str(da.rio.x_dim))
    except MissingSpatialDimensionError:  # the variable alone finds none: the Dataset's
        own = None
    return da if own == (ydim, xdim) else da.rio.set_spatial_dims(x_dim=xdim, y_dim=ydim)


def select_lst(
    obj: xr.DataArray | xr.Dataset,
    variable: Hashable | None = None,
    guide: Any = None,
    *,
    dataset_attrs: bool = True,
    operation: str | None = None,
) -> tuple[xr.DataArray, Any]:
    """The LST DataArray of an input, and its guide resolved. ``operation``: the method asking,
    named in the advice where the Dataset's LST variable is ambiguous (:func:`select_variable`).

    A Dataset gives its LST variable (``variable``, or the one variable that looks like LST) with
    the Dataset's CRS written on it and its global attributes under the variable's own
    (:func:`~xlstsr.attrs.with_global_attrs`; ``dataset_attrs=False``: its own only), and a
    guide given as a variable name becomes that variable.
    A DataArray is returned as it is; a guide given by name then raises.

    Examples
    --------
    >>> import xlstsr
    >>> scene = xlstsr.datasets.sample_scene(n_times=1, size=16)
    >>> ds = xr.Dataset({"lst_1km": scene["lst_1km"]}).assign(ndvi=scene["ndvi_250m"].rename(x="xf", y="yf"))
    >>> lst, ndvi = select_lst(ds, "lst_1km", "ndvi")
    >>> lst.name, ndvi.name, lst.rio.crs is not None
    ('lst_1km', 'ndvi', True)
    """
    if isinstance(obj, xr.Dataset):
        lst = select_variable(obj, variable, operation=operation)
        guide = _select_guide(obj, guide, operation)
        lst = _declared_dims(obj, lst)
        if lst.rio.crs is None and obj.rio.crs is not None:
            lst = lst.rio.write_crs(obj.rio.crs)
        gm = lst.attrs.get("grid_mapping", lst.encoding.get("grid_mapping"))
        if lst.rio.crs is None and isinstance(gm, str) and gm in obj.data_vars:
            # CF: the CRS lives in the variable grid_mapping names, which a plain
            # `xr.open_dataset` keeps as a data variable ("no CRS, write_crs(...)" before)
            lst = lst.assign_coords({gm: obj[gm]})
        _refuse_merged_grids(obj, lst)
        lst, guide = _require_known_chunks_both(lst, guide)
        return (with_global_attrs(lst, obj.attrs) if dataset_attrs else lst), guide
    if not isinstance(obj, xr.DataArray):
        raise InputTypeError(
            f"expected an xarray DataArray or Dataset, got {type(obj).__name__}: LST needs its "
            "grid and CRS. Open files with xlstsr.io.open_path (Zarr, NetCDF, GeoTIFF) or "
            "rioxarray.open_rasterio, or wrap an array: `xr.DataArray(a, dims=('time', 'y', "
            "'x'), coords={...}).rio.write_crs(...)`."
        )
    if isinstance(guide, str):
        raise InputTypeError(
            f"a guide given by name ({guide!r}) needs a Dataset input holding it; pass the guide "
            "DataArray instead."
        )
    if variable is not None and obj.name is not None and obj.name != variable:
        # a DataArray is its own variable: another name asked for is a mistaken input
        raise VariableNotFoundError(
            f"variable {variable!r} was asked for, but the input is the DataArray {obj.name!r}: "
            "pass the Dataset that holds it (`ds`, not `ds[...]`), or drop `variable`."
        )
    return _require_known_chunks_both(obj, guide)


def _require_known_chunks_both(lst: xr.DataArray, guide: Any) -> tuple[xr.DataArray, Any]:
    """:func:`require_known_chunks` of the LST and of a guide array: before anything sizes
    them (upscale_to_zarr's regions, scaling_stats' blocks); both returned without empty
    chunks (:func:`without_empty_chunks`)."""
    require_known_chunks(lst, "LST")
    if isinstance(guide, (xr.DataArray, xr.Dataset)):
        require_known_chunks(guide, "guide")
        guide = without_empty_chunks(guide)
    return without_empty_chunks(lst), guide


#: Above this share of equal neighbours along both axes an image is tested for blocks: a native
#: LST quantised at 0.02 K has a few percent; a k x k nearest-resampled one (k - 1) / k.
_EQUAL_NEIGHBOURS = 0.45


def nearest_block_size(image: np.ndarray, max_size: int = 64) -> int:
    """The side ``k`` of :func:`nearest_blocks` (1: not made of blocks)."""
    return nearest_blocks(image, max_size)[0]


def nearest_blocks(image: np.ndarray, max_size: int = 64) -> tuple[int, int, int]:
    """The side of the squares of equal values that an image resampled by nearest neighbour onto
    a grid ``k`` times finer than its own is made of: ``k``, or 1 when it is not made of such
    blocks (NaN counts as equal to anything; an image with fewer than two value edges along
    each axis, a uniform one or one step, is not made of blocks). The blocks may start at any
    offset (an image cropped from a resampled one): ``(k, row, column)`` of the first whole
    block's start, ``(1, 0, 0)`` when not made of blocks.

    Examples
    --------
    >>> coarse = np.arange(12.0).reshape(3, 4) + 280
    >>> nearest_block_size(np.kron(coarse, np.ones((5, 5))))
    5
    >>> nearest_blocks(np.kron(coarse, np.ones((5, 5)))[3:, 2:])  # cropped: starts at 2, 3
    (5, 2, 3)
    >>> step = np.where(np.arange(256) < 16, 285.0, 300.0) * np.ones((256, 1))
    >>> nearest_block_size(coarse), nearest_block_size(np.full((20, 20), 290.0)), nearest_block_size(step)
    (1, 1, 1)
    """
    a = np.asarray(image, dtype=np.float64)
    if a.ndim != 2 or min(a.shape) < 4:
        return 1, 0, 0
    fin = np.isfinite(a)
    for pairs, ok in (((a[:, 1:], a[:, :-1]), fin[:, 1:] & fin[:, :-1]),
                      ((a[1:], a[:-1]), fin[1:] & fin[:-1])):
        n = int(ok.sum())
        if n == 0 or float(((pairs[0] == pairs[1]) & ok).sum()) < _EQUAL_NEIGHBOURS * n:
            return 1, 0, 0
    # the rows and columns where a new value starts: a nearest-resampled image changes at
    # (nearly) every block edge, so these fall every k pixels from one phase on both axes; a
    # field with one or two flat regions (a step, a plateau) changes at too few of them
    starts = []
    for diff, ok, axis in ((a[:, 1:] != a[:, :-1], fin[:, 1:] & fin[:, :-1], 0),
                           (a[1:] != a[:-1], fin[1:] & fin[:-1], 1)):
        where = np.flatnonzero((diff & ok).any(axis=axis)) + 1
        if where.size < 2:
            return 1, 0, 0
        starts.append(where)
    k = int(np.gcd.reduce(np.concatenate([np.diff(w) for w in starts])))
    if not 2 <= k <= max_size:
        return 1, 0, 0
    (ox, oy), (ny, nx) = (int(w[0]) % k for w in starts), a.shape
    core = a[oy: oy + (ny - oy) // k * k, ox: ox + (nx - ox) // k * k]
    if core.size == 0:
        return 1, 0, 0
    b = core.reshape(core.shape[0] // k, k, core.shape[1] // k, k)
    first = np.nanmax(np.where(np.isfinite(b), b, -np.inf), axis=(1, 3), keepdims=True)
    return (k, oy, ox) if bool(((b == first) | ~np.isfinite(b)).all()) else (1, 0, 0)


def warn_if_resampled(lst: xr.DataArray, what: str = "LST", *,
                      user_dims: Mapping[str, str] | None = None,
                      user_coords: bool = True,
                      user_flips: tuple[bool, bool] = (False, False)) -> None:
    """Warn when an in-memory LST is made of k x k blocks of equal pixels (a lazy one is not
    read here: the check would compute it at graph-building time). The advice coarsens the
    whole blocks only, from where they start (an image cropped from a resampled one starts
    mid-block: coarsened from its first pixel, 99 % of the pixels mixed 2-4 of the sensor's),
    selected by coordinate bounds (whatever the order of the user's array), in the user's dim
    names (``user_dims``: ``{'y': 'lat'}`` for dims renamed ``y``/``x``); by pixel positions
    where the user's array has no coordinates of them (``user_coords=False``: placed by its
    transform, its ``lst['y']`` is 0..n-1 and bounds in metres selected nothing), counted in
    the user's order: ``user_flips`` (y, x) where it runs the other way than ``lst`` (a
    south-up array turned north-up by the front door)."""
    if isinstance(lst.data, dsa.Array) or lst.ndim < 2:
        return
    ydim, xdim = spatial_dims(lst)
    first = lst.isel({d: 0 for d in lst.dims if d not in (ydim, xdim)})  # one image, no copy
    k, oy, ox = nearest_blocks(first.transpose(ydim, xdim).values)
    if k <= 1:
        return
    back = dict(user_dims or {})
    uy, ux = (str(back.get(str(d), d)) for d in (ydim, xdim))
    ny, nx = lst.sizes[ydim], lst.sizes[xdim]
    window = {ydim: slice(oy, oy + (ny - oy) // k * k), xdim: slice(ox, ox + (nx - ox) // k * k)}
    whole = all(s.start == 0 and s.stop == n for s, n in zip(window.values(), (ny, nx)))
    select = ""
    if not whole and user_coords and ydim in lst.coords and xdim in lst.coords:
        bounds = []
        for d, u in ((ydim, uy), (xdim, ux)):
            v = np.asarray(lst[d].values[window[d]], dtype=np.float64)
            bounds.append(f"(lst[{u!r}] >= {float(v.min())!r}) & "
                          f"(lst[{u!r}] <= {float(v.max())!r})")
        select = f".where({' & '.join(bounds)}, drop=True)"
    elif not whole:
        for d, n, flip in ((ydim, ny, user_flips[0]), (xdim, nx, user_flips[1])):
            if flip:  # the same pixels counted from the user's first row / column
                window[d] = slice(n - window[d].stop, n - window[d].start)
        select = (f".isel({uy}=slice({window[ydim].start}, {window[ydim].stop}), "
                  f"{ux}=slice({window[xdim].start}, {window[xdim].stop}))")
    # the blocks' start in the user's order is not told (a south-up array runs the other way)
    where = "" if whole else " (its whole blocks only: it starts or ends mid-block)"
    warn(
        f"the {what} is made of blocks of {k} x {k} equal pixels: it was resampled by nearest "
        f"neighbour onto a grid {k} times finer than its own, so its pixels are not its "
        f"resolution and super-resolving it enlarges the blocks. Bring it back to its own "
        f"grid first{where}: `lst{select}.coarsen({uy}={k}, {ux}={k}).mean()`.",
        ResampledInputWarning,
    )


def warn_if_super_resolved(lst: xr.DataArray) -> None:
    """Warn when the LST is itself an xlstsr output (its ``xlstsr_method`` attribute): upscaling
    it again sharpens the first model's detail, which no sensor saw, and the provenance of the
    second result would name only the second step. Attributes only: nothing is read."""
    method = lst.attrs.get("xlstsr_method")
    if method is None:
        return
    factor = lst.attrs.get("xlstsr_factor", "?")
    warn(
        f"the LST is already super-resolved by xlstsr (method {method!r}, x{factor}, its "
        "'xlstsr_method' attribute): upscaling it again adds detail to that method's detail, "
        "not to the sensor's. Upscale the sensor's own LST instead, with the total factor "
        f"(on the command line, give the sensor's own file with `--factor` {factor} times "
        "this run's); if this is intended, drop the attribute in Python "
        "(`lst.attrs.pop('xlstsr_method')`) to silence this (the command line has no option "
        "for it: its run goes on, this is a warning only).", ResampledInputWarning,
    )


def prepare_lst(
    obj: xr.DataArray | xr.Dataset,
    variable: Hashable | None = None,
    *,
    mask_out_of_range: bool = False,
    what: str = "LST",
    maskable: bool = True,
) -> xr.DataArray:
    """The front door: select the LST, require a CRS and transform (completing the coordinates
    from a written transform, renaming lat/lon dims to y/x: :func:`georeference`), decode to
    Kelvin and check the values (:func:`decode_lst`), check that an in-memory input holds valid
    pixels. ``maskable``: see :func:`decode_lst`.

    Examples
    --------
    >>> import xlstsr
    >>> lst = xlstsr.datasets.sample_scene(n_times=1, size=16)["lst_1km"]
    >>> prepare_lst(lst - 273.15).attrs["units"]  # the sample carries units "K"; Celsius values
    Traceback (most recent call last):
    ...
    xlstsr.errors.PhysicalRangeError: LST values from ...
    >>> prepare_lst(lst).attrs["units"]
    'K'
    """
    lst, _ = select_lst(obj, variable)
    lst = georeference(lst, what)
    kelvin = decode_lst(lst, mask_out_of_range=mask_out_of_range, what=what,
                        maskable=maskable)
    require_valid_pixels(kelvin, what)
    return kelvin


#: An output value is implausible outside PHYSICAL_RANGE_K widened by OUTPUT_MARGIN_K, or more than
#: max(OUTPUT_MIN_SPREAD_K, OUTPUT_SPREAD_RATIO x the image's input range) beyond the image's
#: input minimum or maximum (TsHARP on the sample scene reaches 1.6 times the range below it).
OUTPUT_MARGIN_K = 20.0
OUTPUT_MIN_SPREAD_K = 50.0
OUTPUT_SPREAD_RATIO = 2.0


def _image_range(data: np.ndarray) -> np.ndarray:
    """(n, 2): min and max of each image's finite values (+inf/-inf for an empty image)."""
    d = np.asarray(data).reshape(data.shape[0], -1)
    # NaN-skipping extremes in the input's dtype: one pass each, no float64 copy
    out = np.stack([np.fmin.reduce(d, axis=1), np.fmax.reduce(d, axis=1)], axis=1)
    out = out.astype(np.float64)
    redo = ~np.isfinite(out).all(axis=1)  # an empty image, or infinities among the values
    for k in np.flatnonzero(redo):
        v = d[k][np.isfinite(d[k])]
        out[k] = (v.min(), v.max()) if v.size else (np.inf, -np.inf)
    return out


#: an implausible output is diagnosed as degrees Celsius only when its bad values' median plus
#: 273.15 is within this (K) of the input image's median
CELSIUS_MEDIAN_TOL_K = 15.0

#: a value repeated over much of an image, beside a declared fill, is data only within this of
#: the other pixels' median (K): a lake 26 K under a Sahara day, a two-level 280/320 K field;
#: SEVIRI's -80 degC fill (193 K) under a 270-320 K scene is not, nor ASTER's 2000 (200 K)
#: border band, 95-120 K under its scenes' median
DECLARED_FILL_GAP_K = 60.0

#: built-in methods that regress the LST on the guide (no trained weights, no units to get
#: wrong): an implausible output of theirs is extrapolation, not a model's units
REGRESSION_SHARPENERS = ("tsharp", "dms")


def _check_output_block(block: np.ndarray, rng: np.ndarray, *, method: str, guided: bool,
                        physical_range: tuple[float, float],
                        scale_correction: Any = None, guide: Any = None,
                        adapt: Any = None, source: np.ndarray | None = None) -> np.ndarray:
    # ``source``: the input (n, y, x) when at hand (numpy), for its median in a message
    lo_in, hi_in = rng[:, 0:1, None], rng[:, 1:2, None]  # (n, 1, 1)
    spread = np.maximum(OUTPUT_MIN_SPREAD_K,
                        OUTPUT_SPREAD_RATIO * np.where(hi_in >= lo_in, hi_in - lo_in, 0.0))
    lo = np.maximum(physical_range[0] - OUTPUT_MARGIN_K, lo_in - spread)
    hi = np.minimum(physical_range[1] + OUTPUT_MARGIN_K, hi_in + spread)
    if block.size == 0 or (  # fast path: each image's extremes (NaN ignored) within bounds
        np.all(~(np.fmin.reduce(block, axis=(1, 2)) < lo.ravel()))
        and np.all(~(np.fmax.reduce(block, axis=(1, 2)) > hi.ravel()))
    ):
        return block
    with np.errstate(invalid="ignore"):
        bad = np.isfinite(block) & ((block < lo) | (block > hi))
    if not bad.any():
        return block
    vals = block[bad]
    img = int(np.nonzero(bad.any(axis=(1, 2)))[0][0])
    guide_out = _guide_out_of_range(guide) if guided else None
    scaled = _guide_scale_hint(guide) if guided and guide_out else ""
    # the bad values of that image, plus 273.15, back within its bounds and near the input's
    # median: degrees Celsius (values near 0 far from it, e.g. z-scores of a model that forgot to
    # de-normalise, are not: adding 273.15 would give a flat field that passes)
    mine = block[img][bad[img]]
    celsius = bool(np.all((mine + 273.15 >= lo.ravel()[img]) & (mine + 273.15 <= hi.ravel()[img])))
    if celsius:
        level = float(np.mean(rng[img]))  # lazy input: its range's midpoint
        if source is not None:
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                level = float(np.nanmedian(source[img]))
        celsius = bool(abs(float(np.median(mine)) + 273.15 - level) <= CELSIUS_MEDIAN_TOL_K)
    unsuited = ("The method or its options (or a custom model) do not suit this input; compare "
                "with method='bicubic', or pass output_check=False to see the values (to debug a "
                "model).")
    if method in REGRESSION_SHARPENERS:  # fitted on the guide's coarse means: no weights
        # first: its result does not depend on the guide's scale (NDVI and NDVI x 100 give
        # the same), so the units advice below, followed, could never help (probe 51m/2)
        cause = (f"{method}'s regression of the LST on the guide was fitted on its block means "
                 "at the LST's scale; fine guide pixels far beyond their range (water or bare "
                 "soil at low NDVI among vegetation) extrapolate the fitted line to values the "
                 "scene does not hold"
                 + (f" (the guide holds values outside NDVI's -1 to 1, {guide_out}: likely "
                    "those pixels; its scale does not change this method's result)"
                    if guided and guide_out and not scaled else
                    f" (most of the guide is outside NDVI's -1 to 1, {guide_out}: it is at "
                    f"another scale, {scaled}; that scale does not change this method's "
                    "result, its extreme pixels do)" if guided and guide_out else "")
                 + ". Mask those guide pixels (NaN: they get the bicubic "
                 "value), e.g. `guide.where(guide > 0)` for water"
                 # (only where a few are out: on NDVI x 10000 it blanked the whole guide)
                 + (" or `guide.where(abs(guide) <= 1)`" if guided and guide_out and not scaled
                    else "")
                 + ", or compare with method='bicubic'.")
    elif guided and guide_out:
        cause = ("Its inputs are not what it expects: the guide holds values outside NDVI's -1 "
                 f"to 1 ({guide_out}), most likely in other units or scale than the model was "
                 "trained on (NDVI in percent: divide by 100; reflectance or NDVI digital numbers: "
                 "multiply by their scale_factor, or open the file with mask_and_scale=True).")
    elif celsius:
        cause = ("These values plus 273.15 are plausible for this input: the output is in "
                 "degrees Celsius, not Kelvin (a custom model must return Kelvin: add 273.15 in "
                 "its forward, or train it on Kelvin targets).")
    elif guided and guide_out is not None:  # a guide within -1 to 1: not its units
        cause = ("Its guide is within NDVI's -1 to 1: most likely the model's output is not in "
                 "Kelvin (a custom model must return Kelvin at the input's scale), or the model "
                 "does not suit this input; compare with method='bicubic', or pass "
                 "output_check=False to see the values (to debug a model).")
    elif guided:  # the guide was not given to this check
        cause = (
            "Its inputs are not what it expects: most likely the guide is in other units or "
            "scale than it was trained on (NDVI in percent: divide by 100; reflectance or NDVI "
            "digital numbers: multiply by their scale_factor, or open the file with "
            "mask_and_scale=True), or the model's output is not in Kelvin."
        )
    else:
        cause = unsuited
    lr = _adapt_lr(adapt)
    if lr is not None:
        from .nn.adapt import Adaptation

        cause = (f"The model was adapted to each scene first (adapt=, lr={lr:g}): most likely "
                 f"the adaptation diverged; lower adapt's lr (default {Adaptation().lr:g}), or "
                 "compare without adapt=. Else: " + cause[0].lower() + cause[1:])
    if scale_correction is not None:
        cause = (f"It went through scale_correction={scale_correction!r}, which multiplies the "
                 "method's detail: with a fixed gain, use one near 1 (calibrated where fine truth "
                 "exists: `xlstsr.correction.calibrate_detail_gain`), or compare without the "
                 "correction. Else: " + cause[0].lower() + cause[1:])
    raise ImplausibleOutputError(
        f"method {method!r} produced {vals.size} temperature(s) from {vals.min():.6g} to "
        f"{vals.max():.6g} K for an input of {float(rng[img, 0]):.2f} to {float(rng[img, 1]):.2f}"
        f" K: not physical (outside {lo.ravel()[img]:.1f}-{hi.ravel()[img]:.1f} K for that "
        f"image). {cause}"
    )


def _guide_out_of_range(guide: Any) -> str | None:
    """For an implausible guided output: the guide's values outside NDVI's -1 to 1 as text
    (``"-1.2 to 86.3"``), ``""`` when it holds none (its units are not the cause), None when
    unknown (no guide given, or a dask guide: not computed for a message)."""
    if guide is None or isinstance(guide, dsa.Array):
        return None
    g = np.asarray(guide)
    if not np.issubdtype(g.dtype, np.number):
        return None
    with np.errstate(invalid="ignore"):
        lo, hi = float(np.fmin.reduce(g, axis=None)), float(np.fmax.reduce(g, axis=None))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return None
    return f"{lo:.4g} to {hi:.4g}" if lo < -1.0 - 1e-6 or hi > 1.0 + 1e-6 else ""


def _guide_scale_hint(guide: Any) -> str:
    """Where most of the guide's finite pixels lie outside NDVI's -1 to 1 (a guide of NDVI
    digital numbers, x 10000 as MOD13's): the scale to read it at as text ("NDVI x 10000:
    divide by 10000, or declare its 'scale_factor'"); ``""`` where only a few are out (those
    pixels are masked), or unknown. Masking ``abs(guide) <= 1`` blanked such a guide whole."""
    if guide is None or isinstance(guide, dsa.Array):
        return ""
    g = np.asarray(guide, dtype=np.float64)
    ok = np.isfinite(g)
    if not ok.any():
        return ""
    out = float(np.mean(np.abs(g[ok]) > 1.0 + 1e-6))
    if out <= 0.5:
        return ""
    top = float(np.max(np.abs(g[ok])))
    for factor, what in ((100.0, "NDVI in percent"), (1e4, "NDVI x 10000")):
        if top <= factor * (1.0 + 1e-6):
            return (f"likely {what}: divide it by {factor:g}, or declare its "
                    f"'scale_factor' {1 / factor:g}")
    return "divide it by its scale, or declare its 'scale_factor'"


def _adapt_lr(adapt: Any) -> float | None:
    """The learning rate of a test-time adaptation that ran (an :class:`~xlstsr.nn.adapt.
    Adaptation`, a dict of its settings or True), None when none ran."""
    if adapt is None or (isinstance(adapt, (bool, np.bool_)) and not adapt):
        return None
    if isinstance(adapt, Mapping):
        lr = adapt.get("lr")
        if lr is None and adapt.get("steps", 1) == 0:
            return None
    else:
        if getattr(adapt, "steps", 1) == 0:
            return None
        lr = getattr(adapt, "lr", None)
    if lr is None:
        from .nn.adapt import Adaptation

        lr = Adaptation().lr
    try:
        return float(lr)
    except (TypeError, ValueError):
        return None


def _block_range(b: np.ndarray) -> np.ndarray:
    """Each image's (min, max) of one block, as a (n, 1, 1, 2) block."""
    return _image_range(b)[:, None, None, :]


def _merged_range(p: np.ndarray) -> np.ndarray:
    """The blocks' (min, max) of each image merged: (n, by, bx, 2) -> (n, 2)."""
    return np.stack([p[..., 0].min((1, 2)), p[..., 1].max((1, 2))], axis=1)


def check_output(
    out: Any,
    lst: Any,
    method: str,
    *,
    guided: bool = False,
    physical_range: tuple[float, float] = PHYSICAL_RANGE_K,
    scale_correction: Any = None,
    guide: Any = None,
    adapt: Any = None,
) -> Any:
    """Refuse a method's output that is not physical: ``out`` (n, Y, X) against its input
    ``lst`` (n, y, x), both Kelvin, numpy or dask (``scale_correction``: the detail correction
    the output went through, named as a likely cause; ``guide``: the guide the method was given,
    whose units are named as the cause only when its values are outside NDVI's -1 to 1;
    ``adapt``: the test-time adaptation that ran, an :class:`~xlstsr.nn.adapt.Adaptation` or its
    settings, named as the likely cause with its learning rate).

    A finite output value is implausible outside ``physical_range`` widened by
    :data:`OUTPUT_MARGIN_K` (20 K), or further than max(:data:`OUTPUT_MIN_SPREAD_K` (50 K), twice
    the image's input range) beyond the image's input minimum or maximum: sharpening adds detail
    of the order of the scene's own contrast, not more. The rule is per pixel against each image's input range
    (min and max, exact on any chunking); on dask it runs inside the graph (each output block
    checks itself when computed), so nothing is computed early.

    Raises
    ------
    ImplausibleOutputError
        Naming the method, the values and the likely cause.

    Examples
    --------
    >>> lst = np.full((1, 2, 2), 300.0)
    >>> check_output(np.full((1, 8, 8), 301.0), lst, "bicubic").shape
    (1, 8, 8)
    >>> check_output(np.full((1, 8, 8), -6e4), lst, "disr", guided=True)
    Traceback (most recent call last):
    ...
    xlstsr.errors.ImplausibleOutputError: method 'disr' produced 64 temperature(s) from -60000 to -60000 K ...
    """
    kw = dict(method=method, guided=guided, physical_range=physical_range,
              scale_correction=scale_correction, adapt=adapt)
    if not isinstance(out, dsa.Array) and not isinstance(lst, dsa.Array):
        lst = np.asarray(lst)
        return _check_output_block(np.asarray(out), _image_range(lst), guide=guide, source=lst,
                                   **kw)
    # lazy: the guide's range is not computed for a message (nor its array put in each task)
    out = dsa.asarray(out)
    lst = dsa.asarray(lst)
    # module-level functions: a lazy result pickles with the standard pickle (process pools)
    part = lst.map_blocks(  # (n, by, bx, 2): each block's min and max
        _block_range, dtype=np.float64, new_axis=3,
        chunks=(lst.chunks[0], (1,) * len(lst.chunks[1]), (1,) * len(lst.chunks[2]), (2,)),
        meta=np.empty((0,) * 4, np.float64),
    )
    rng = part.rechunk({1: -1, 2: -1}).map_blocks(
        _merged_range,
        drop_axis=[1, 2], dtype=np.float64, chunks=(part.chunks[0], (2,)),
        meta=np.empty((0, 0), np.float64),
    ).rechunk({0: out.chunks[0]})
    return dsa.blockwise(
        partial(_check_output_block, **kw), "nyx", out, "nyx", rng, "nr", dtype=out.dtype,
        concatenate=True, meta=np.empty((0, 0, 0), out.dtype),
    )
