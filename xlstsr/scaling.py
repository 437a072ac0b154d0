"""``scaling_stats``: LST (and guide) statistics across scales, as an xarray Dataset.

The xarray layer over :mod:`xlstsr.kernels.scaling`: it resolves the grid (pixel size in metres,
or degrees on a geographic grid),
decodes the input, aligns a guide, and maps the one-image kernel over every time step (whole
images, in parallel over dask chunks along time; the result stays lazy on dask input).
"""

from __future__ import annotations

import collections
import functools
import warnings
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import dask.array as dsa
import numpy as np
import xarray as xr
from rioxarray.exceptions import RioXarrayError

from .errors import (
    AllNaNError,
    GridError,
    InputTypeError,
    PhysicalRangeError,
    ScaledIntegerError,
    UndeclaredFillError,
    UnitsError,
    XlstsrError,
    warn,
)
from .grid import grid_unit, horizontal_metres_per_unit, metres_per_degree
from .guide import (
    _as_timedelta,
    _declared_ndvi,
    _fill_in_attrs,
    _refuse_ndvi_range,
    guide_on_lst_grid,
)
from .io.zarr import refuse_incomplete_inputs
from .kernels import scaling as ks
from .kernels.spectra import isolated_gap_share, log_wavenumber_edges
from .validate import (
    _LAT_NAMES,
    _LON_NAMES,
    TASK_BYTES,
    _check_crs_units,
    _file_size,
    _source_of,
    _standard_grid_mapping,
    all_nan_advice,
    check_bool,
    check_number,
    check_whole,
    crs_mismatch,
    decode_guide,
    decode_lst,
    image_order,
    require_nonempty,
    require_regular,
    select_lst,
    spatial_dims,
    spatial_names,
    suspect_guide_fill,
    warn_if_resampled,
)
from .validate import whole_images as _whole_images

__all__ = ["default_scales", "pixel_size", "scaling_stats"]


#: refusals of a field's values as a temperature in Kelvin (units, digital numbers, range): a
#: field that is no temperature at all (NDVI, an anomaly) is studied with ``radiometric=False``
_NOT_KELVIN = (UnitsError, ScaledIntegerError, PhysicalRangeError)

_PLAIN_MEAN_HINT = (
    " If the field is not a temperature (NDVI, an anomaly, digital numbers studied as such), "
    "pass radiometric=False (`--plain-mean` on the command line): it is then aggregated by the "
    "plain mean and taken as it is."
)


def _decode_kelvin(lst: xr.DataArray, mask_out_of_range: bool) -> xr.DataArray:
    """:func:`decode_lst` of a field taken as an LST; a refusal of its values as Kelvin adds
    that a field which is no temperature takes ``radiometric=False`` (NDVI labelled '1', an
    anomaly labelled 'K' or Celsius-like values were refused without it)."""
    try:
        return decode_lst(lst, mask_out_of_range=mask_out_of_range)
    except _NOT_KELVIN as err:
        if "radiometric=False" in str(err):
            raise
        raise type(err)(f"{err}{_PLAIN_MEAN_HINT}") from err


def _block_encoding(lst: xr.DataArray) -> dict[str, Any]:
    """The encoding each block of ``lst`` is decoded with (:func:`_decode_lst_field`):
    ``lst``'s, whose packing and ``source`` tell validate a file's own scale/offset tags
    (judged and rewritten on a copy, as for the whole array). Without ``source`` where ``lst``
    spans several files (open_mfdataset: the encoding names the first only): a block is judged
    by its own size, so the first file's one-file command would be given for any block, where
    the whole array's refusal gives the loop over every file; nor where a block holds only some
    of the steps (one bad step is no file-wide tag)."""
    encoding = dict(lst.encoding)
    source = _source_of(lst)
    # the spatial dims in lst's own names: spatial_names maps only names to rename ({} for
    # y/x), so y and x were taken as lead dims and a tiled file's spatial chunks as "some of
    # the steps" (source dropped: its own wrong tag was advised the typed --scale, refused)
    names = spatial_names(lst)
    back = {v: k for k, v in names.items()}
    space = {back.get(d, d) for d in spatial_dims(lst.rename(names))}
    lead = [d for d in lst.dims if d not in space]
    if lst.chunks is not None and any(len(lst.chunksizes[d]) > 1 for d in lead):
        # a block holds some of the file's steps: its one bad step was given the file-wide
        # rewrite (followed, the good steps read 3000 K); judged as values only
        encoding.pop("source", None)
    elif source is not None:
        size = _file_size(source)
        if size is not None and source[2] > size:
            encoding.pop("source", None)
    return encoding


def _decode_lst_field(lst: xr.DataArray, mask_out_of_range: bool) -> xr.DataArray:
    """The field in Kelvin (:func:`_decode_kelvin`), in memory or lazy.

    On dask, the attributes are checked now and the values as the result is computed: each
    block of whole images is decoded as the same images in memory (decode_lst takes every
    decision per image), so its refusals carry the ``radiometric=False`` hint too (raised in
    the decoder's own tasks, they could not be caught downstream). ``lst`` must be in whole
    images (:func:`_chunk_whole_images`).
    """
    # a grid mapping named `crs` (GDAL, CF writers) moved to spatial_ref first: decode_lst moves
    # it through the encoding, which the blocks lack, so the template had spatial_ref and the
    # blocks `crs` (xarray's raw "does not contain coordinate variables {'spatial_ref'}")
    lst = _standard_grid_mapping(lst)
    template = _decode_kelvin(lst, mask_out_of_range)  # attributes: refused here
    if not isinstance(lst.variable.data, dsa.Array):
        return template
    # each block judged as the file it came from: map_blocks' blocks have no encoding, which
    # held the reader's packing (a packed NetCDF's wrong scale went unjudged) and the file's
    # path (a file's own wrong tag was advised the typed --scale, refused as declared twice)
    encoding = _block_encoding(lst)

    def block(b: xr.DataArray) -> xr.DataArray:
        b.encoding = dict(encoding)
        return _decode_kelvin(b, mask_out_of_range)

    return xr.map_blocks(block, lst, template=template)


_ATTRS: dict[str, dict[str, str]] = {
    "structure_function": {"long_name": "isotropic structure function <|T(x+l)-T(x)|^q>"},
    "structure_function_directional": {"long_name": "structure function along y and along x"},
    "increment_skewness": {"long_name": "skewness of increments <d^3>/S_2^1.5"},
    "increment_flatness": {"long_name": "flatness of increments S_4/S_2^2 (3 = Gaussian)"},
    "increment_flatness_directional": {"long_name": "flatness of increments along y and x"},
    "increment_count": {"long_name": "number of valid pixel pairs"},
    "coarse_variance": {"long_name": "variance of the field aggregated by `factor`"},
    "coarse_valid_fraction": {"long_name": "fraction of valid aggregated pixels"},
    "within_block_variance": {
        "long_name": "within-block variance lost from `factor` to 2 x `factor` (one factor-2 "
        "super-resolution step restores it)"
    },
    "power_spectrum": {
        "long_name": "radially averaged power spectrum (xlstsr.kernels.spectra: Hann window, "
        "plane removed, gaps at the plane)"
    },
    "power_spectrum_wavenumber": {
        "long_name": "mean wavenumber of the bin",
        "units": "cycles/pixel",
    },
    "structure_function_exponent": {"long_name": "zeta(q): S_q ~ l^zeta(q) over fit_lags"},
    "structure_function_exponent_ci": {"long_name": "95 % confidence interval of zeta(q)"},
    "hurst": {"long_name": "Hurst-like exponent H: S_2 ~ l^(2H) over fit_lags"},
    "hurst_ci": {"long_name": "95 % confidence interval of H (nominal: lags are correlated)"},
    "hurst_directional": {"long_name": "H fitted on increments along y and along x"},
    "spectral_slope": {
        "long_name": "slope of log power vs log wavenumber over fit_wavenumbers "
        "(fBm: -(2H+2); white noise: 0)"
    },
    "spectral_slope_ci": {"long_name": "95 % confidence interval of the spectral slope"},
    "spectral_break_wavenumber": {
        "long_name": "best two-segment break of the spectrum",
        "units": "cycles/pixel",
    },
    "spectral_slope_low": {"long_name": "spectral slope below the break (large scales)"},
    "spectral_slope_high": {"long_name": "spectral slope above the break (small scales)"},
    "spectral_break_delta_bic": {
        "long_name": "BIC(one line) - BIC(two segments); > 10: a significant break"
    },
    "within_block_exponent": {
        "long_name": "alpha: within-block variance ~ factor^alpha over fit_factors (fBm: ~2H)"
    },
    "within_block_exponent_ci": {"long_name": "95 % confidence interval of alpha"},
    "within_block_prefactor": {"long_name": "within-block variance law at factor 1 (fitted)"},
    "guide_correlation": {"long_name": "Pearson correlation of aggregated LST and guide"},
    "guide_slope": {"long_name": "regression slope of aggregated LST on aggregated guide"},
    "guide_coarse_variance": {"long_name": "variance of the guide aggregated by `factor`"},
    "guide_within_block_variance": {
        "long_name": "within-block variance of the guide, step `factor` -> 2 x `factor`"
    },
    "guide_within_block_exponent": {"long_name": "alpha of the guide's within-block variance"},
    "guide_within_block_exponent_ci": {"long_name": "95 % confidence interval"},
    "guide_within_block_prefactor": {"long_name": "guide within-block variance law at factor 1"},
    "guide_slope_trend": {"long_name": "d(guide_slope) / d log2(factor)"},
}


#: units of a field without dimension (NDVI, reflectance, a ratio): its statistics are too
_DIMENSIONLESS = {"1", "-", "none", "dimensionless", "unitless", "ratio", "ndvi", "reflectance"}


def _powers(units: Any) -> tuple[Any, str, str] | None:
    """(q -> the units of a quantity in ``units`` to the power q, ``units`` as a factor, the
    power spectrum's units) of a field of ``units``; None for a field without units."""
    if isinstance(units, (list, tuple)):  # one per band (rioxarray): one unit, or unknown
        units = units[0] if len(set(map(str, units))) == 1 else None
    u = None if units is None else str(units).strip()
    if u is None or u.lower() in ("", "na", "n/a", "unknown"):
        return None
    if u.lower().replace(" ", "").replace("_", "") in _DIMENSIONLESS:
        return (lambda q: "1"), "1", "pixel^2"
    base = f"({u})" if any(c in u for c in " /*.^") else u
    return (lambda q: f"{base}^{q}"), u, f"{base}^2 pixel^2"


def _stat_units(units: Any, guide_units: Any = None) -> dict[str, str]:
    """The ``units`` attribute of each statistic from the field's own units (``"K"`` for an LST,
    the field's ``units`` with ``radiometric=False``): an NDVI's variances were labelled K^2.
    A dimensionless field gives dimensionless statistics ("1"); a field without units, none.
    ``guide_units``: the guide's, for its own variances and their law's prefactor (a NetCDF of
    the statistics left the guide's numbers unitless, beside the LST's 'K^2')."""
    out: dict[str, str] = {}
    field = _powers(units)
    if field is not None:
        pw, per, spectrum = field
        out.update({
            "structure_function": pw("q"),
            "structure_function_directional": pw("q"),
            "coarse_variance": pw(2),
            "within_block_variance": pw(2),
            "power_spectrum": spectrum,
            "within_block_prefactor": pw(2),
            "guide_slope": f"{per} per guide unit",
            "guide_slope_trend": f"{per} per guide unit per octave",
        })
    guide = _powers(guide_units)
    if guide is not None:
        gpw = guide[0]
        out.update({
            "guide_coarse_variance": gpw(2),
            "guide_within_block_variance": gpw(2),
            "guide_within_block_prefactor": gpw(2),
        })
    return out


def pixel_size(da: xr.DataArray) -> tuple[float, str]:
    """Pixel size along x and its unit: metres, degrees on a geographic grid, or 1 pixel.

    The size comes from the transform or the coordinates. A projected CRS's linear unit is
    converted to metres (US survey feet were called metres); without a CRS, dims named lat/lon
    (or coordinates in ``degrees_north``/``degrees_east``) are degrees (0.01-degree pixels were
    called 0.01 m), other coordinates are taken as metres (or kilometres, by their ``units``).

    Examples
    --------
    >>> import xlstsr
    >>> from xlstsr.scaling import pixel_size
    >>> pixel_size(xlstsr.datasets.sample_scene()["lst_1km"])[1]
    'm'
    """
    _, rx, unit = _pixel_sizes(da)
    return rx, unit


def _pixel_sizes(da: xr.DataArray) -> tuple[float, float, str]:
    """(pixel size along y, along x, unit) of ``da`` (which may have lat/lon-named dims); sizes
    in metres on projected grids, degrees on geographic ones, (1, 1, 'pixel') when unknown."""
    names = spatial_names(da)
    lat_lon_named = any(str(d).lower() in _LAT_NAMES + _LON_NAMES for d in names)
    da = da.rename(names)
    ydim, xdim = spatial_dims(da)
    lat_lon_named = lat_lon_named or (ydim.lower() in _LAT_NAMES and xdim.lower() in _LON_NAMES)
    res: list[float | None] = [None, None]
    try:
        rx, ry = da.rio.resolution(recalc=True)  # a cached transform goes stale on isel
        res = [abs(float(ry)), abs(float(rx))]
    except RioXarrayError:  # one row or column, no coordinates: the coordinates' steps
        for i, d in enumerate((ydim, xdim)):
            if d in da.coords and da.sizes[d] > 1:
                res[i] = abs(float(da[d][1] - da[d][0]))
    ok = [r is not None and np.isfinite(r) and r > 0 for r in res]
    if not ok[1]:
        return 1.0, 1.0, "pixel"
    factor, unit = grid_unit(da, ydim, xdim, lat_lon_named)
    rx = float(res[1]) * factor
    ry = float(res[0]) * factor if ok[0] else rx  # one row: nothing to compare
    return ry, rx, unit


#: relative difference of the y and x pixel sizes above which the pixels are not square
_SQUARE_RTOL = 0.01


@dataclass(frozen=True)
class _GridUse:
    """How the grid checks name what would go wrong and the variable in their advice: the
    statistics of :func:`scaling_stats`, or :func:`xlstsr.metrics.radial_power_spectrum`."""

    var: str
    #: what the grid is called in the refusals it shares with upscale (validate's)
    what: str
    #: why pixels that are not square are refused (after "the pixels are not square (...): ")
    refusal: str
    #: what pixels not square on the ground mix (in the warnings)
    mix: str
    #: the results given in the grid's length unit
    scales: str
    #: the CRS the advice writes first (a lat/lon grid known by its dim names alone:
    #: rioxarray's reproject raised MissingCRS), "" where the grid has one
    write_crs: str = ""
    #: gdalwarp's options for the file (:func:`_gdal_options`): its CRS where it has none, its
    #: fill kept out of the means and the padding NaN
    gdal: str = ""
    #: a grid in metres without a CRS (no reprojection runs on it)
    no_crs: bool = False


_STATS = _GridUse(
    "lst",
    "LST",
    "the statistics take a lag or a block of pixels as one length along both axes, so the "
    "isotropic structure function, hurst and the spectrum would mix scales",
    "lags, blocks and the radial spectrum mix two lengths",
    "pixel_size, lag_m, scale_m, wavenumber_m",
)
_SPECTRUM = _GridUse(
    "da",
    "field",
    "the radial spectrum takes a pixel as one length along both axes, so it would mix two "
    "frequencies (a wave along the longer side read at the wrong frequency) and scale the power "
    "by one side squared",
    "the radial spectrum mixes two frequencies",
    "the frequency coordinate, and the power per unit area",
)


def _rio(var: str, dims: tuple[str, str], crs: str = "") -> str:
    """``var`` as rioxarray takes it: its CRS ``crs`` written first where given, and its spatial
    dims ``dims`` (y, x) declared where they are not y/x (lat/lon: the advice
    `lst.rio.reproject(...)` raised rioxarray's MissingSpatialDimensionError on
    open_ecostress_scene's native grid)."""
    y, x = dims
    var = f'{var}.rio.write_crs("{crs}")' if crs else var
    return var if (y, x) == ("y", "x") else f"{var}.rio.set_spatial_dims(x_dim={x!r}, y_dim={y!r})"


def _stored_fill(da: xr.DataArray) -> float | None:
    """The fill value of ``da``'s file as stored: a declared one (``_FillValue`` or
    ``missing_value`` among the attrs: a typed ``--nodata``, in decoded units where the reader
    decoded the file's scale), else the one its reader masked (the encoding's); None without
    one, or where it is NaN."""
    enc = da.encoding
    value = next((da.attrs[k] for k in ("_FillValue", "missing_value")
                  if da.attrs.get(k) is not None), None)
    try:
        if value is not None:
            fill = float(np.ravel(value)[0])
            if enc.get("scale_factor") is not None or enc.get("add_offset") is not None:
                fill = (fill - float(enc.get("add_offset") or 0.0)) / float(
                    enc.get("scale_factor") or 1.0)
        else:
            value = enc.get("_FillValue", enc.get("missing_value"))
            if value is None:
                return None
            fill = float(np.ravel(value)[0])
    except (TypeError, ValueError):  # a fill that is no number: nothing to pass
        return None
    if not np.isfinite(fill):
        return None
    return float(round(fill)) if _stored_dtype(da).kind in "iub" else fill


def _stored_dtype(da: xr.DataArray) -> np.dtype:
    """``da``'s dtype as stored in its file (the encoding's, else its own)."""
    try:
        return np.dtype(da.encoding.get("dtype", da.dtype))
    except TypeError:
        return np.dtype(da.dtype)


def _gdal_options(da: xr.DataArray, unit: str) -> str:
    """gdalwarp's options that read ``da``'s file as the statistics read it: ``-s_srs
    EPSG:4326`` where a grid in degrees has no CRS (known by its lat/lon dim names: the
    reprojection had no source CRS), its stored fill as ``-srcnodata`` (a typed ``--nodata``
    the file does not declare was averaged into the data: SEVIRI's -80 degC gave H 0.24 for
    0.65), and ``-dstnodata nan`` (the area outside the source was padded with 0, 0 degC taken
    as data), in float32 where the file stores integers (which hold no NaN)."""
    opts = ""
    if unit == "degree" and da.rio.crs is None:
        opts += " -s_srs EPSG:4326"
    fill = _stored_fill(da)
    if fill is not None:
        # in full, as a whole number where it is one (float32's lowest as -3.40282e+38 was
        # averaged in as data; as an int it is 39 digits)
        opts += f" -srcnodata {int(fill) if fill.is_integer() and abs(fill) < 1e15 else fill!r}"
    if _stored_dtype(da).kind in "iub":
        opts += " -ot Float32"
    return opts + " -dstnodata nan"


def _check_square(ry: float, rx: float, unit: str, use: _GridUse = _STATS,
                  dims: tuple[str, str] = ("y", "x")) -> None:
    """Refuse non-square pixels: a lag or a block of ``f`` pixels spans another length along y
    than along x, so the isotropic structure function, the Hurst exponent and the radial spectrum
    mixed scales (500 and 1000 m under lag 1), and every scale in metres was the x size alone.
    ``dims``: the field's own spatial dim names, which the advice declares to rioxarray."""
    if unit == "pixel" or abs(ry - rx) <= _SQUARE_RTOL * max(ry, rx):
        return
    r = max(ry, rx)
    r_txt = f"{r:.6g}"
    v = _rio(use.var, dims, use.write_crs)
    fix = (f"`{v}.rio.reproject({v}.rio.crs, resolution={r_txt}, "
           "resampling=rasterio.enums.Resampling.average)`")
    if use.no_crs:
        # no CRS to reproject in (rioxarray raised MissingCRS): a footprint mean along the
        # finer axis where it divides the other, else the CRS its lengths are in written first
        ratio = max(ry, rx) / min(ry, rx)
        k = round(ratio)
        finer = dims[0] if ry < rx else dims[1]
        if k >= 2 and abs(ratio - k) <= _SQUARE_RTOL * ratio:
            fix = f"`{use.var}.coarsen({{{finer!r}: {k}}}, boundary='trim').mean()`"
        else:
            w = _rio(use.var, dims, "EPSG:32631")
            fix = (f"`{w}.rio.reproject({w}.rio.crs, resolution={r_txt}, resampling="
                   "rasterio.enums.Resampling.average)`, with the CRS its lengths are in in "
                   "place of EPSG:32631 (the grid has none, which the reprojection needs)")
    raise GridError(
        f"the pixels are not square ({ry:.6g} {unit} along y, {rx:.6g} {unit} along x): "
        f"{use.refusal}. Resample to square pixels first, e.g. {fix} (a file: "
        f"`gdalwarp{use.gdal} -tr {r_txt} {r_txt} -r average in.tif out.tif`)."
    )


def _utm_fix(lon: float | None, lat: float, r: float, use: _GridUse, first: str,
             dims: tuple[str, str] = ("y", "x")) -> str:
    """The advice to reproject to the UTM zone of ``(lon, lat)`` at ``r`` metres (its
    resampling: the footprint mean), opening with ``first``; ``dims``: the field's own spatial
    dim names (y, x), declared to rioxarray where they are not y/x."""
    v = _rio(use.var, dims, use.write_crs)
    if lon is not None and np.isfinite(lon):
        zone = int((float(lon) + 180.0) // 6.0) % 60 + 1
        epsg = f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"
        crs_txt, t_srs = f'"{epsg}"', epsg
    else:
        crs_txt, t_srs = f"{v}.rio.estimate_utm_crs()", "EPSG:326<zone>"
    r = float(f"{r:.3g}")  # whole metres, not 1.11e+03
    r_txt = f"{r:.0f}" if r >= 100 else f"{r:g}"
    return (f"{first}, e.g. `{v}.rio.reproject({crs_txt}, resolution={r_txt}, resampling="
            f"rasterio.enums.Resampling.average)` (a file: `gdalwarp{use.gdal} -t_srs {t_srs} -tr "
            f"{r_txt} {r_txt} -r average in.tif out.tif`).")


def _check_lonlat_square(lst: xr.DataArray, ry: float, rx: float,
                         use: _GridUse = _STATS, dims: tuple[str, str] = ("y", "x")) -> float:
    """Check a lon/lat grid's pixels on the ground, where the statistics' lags and blocks lie;
    return the pixel size its scales are given in (degrees).

    A degree of longitude is cos(latitude) of a degree of latitude: 0.005 x 0.01 degree pixels
    at 60 N are square on the ground (557 x 559 m) and are taken (their scales in degrees of
    latitude, the y size); 0.001 x 0.001 degree at 60 N (111 x 56 m) warn (a product's grid,
    square on the ground at one latitude at most; the structure function at lag 1 was 4x
    larger along y than along x on an isotropic field); pixels square neither in degrees nor
    on the ground are refused, naming a reprojection to square metres. (Degrees compared as
    such refused the 0.005 x 0.01 grid and suggested 0.01 x 0.01 degree, 1113 x 559 m.)
    Without usable latitudes the degrees are compared.
    """
    ydim, xdim = spatial_dims(lst)
    lat = np.asarray(lst[ydim].values, float) if ydim in lst.coords else np.empty(0)
    if not lat.size or not np.isfinite(lat).all() or np.abs(lat).max() > 90:
        _check_square(ry, rx, "degree", use, dims)
        return rx
    mid = float(np.median(lat))
    m_lat, m_lon = metres_per_degree(mid)
    gy, gx = ry * m_lat, rx * m_lon
    degree_square = abs(ry - rx) <= _SQUARE_RTOL * max(ry, rx)
    if abs(gy - gx) <= _SQUARE_RTOL * max(gy, gx):
        return rx if degree_square else ry
    lon = np.asarray(lst[xdim].values, float) if xdim in lst.coords else np.empty(0)
    centre = float(np.median(lon)) if lon.size and np.isfinite(lon).all() else None
    fix = _utm_fix(centre, mid, max(gy, gx), use,
                   "Reproject to a projected CRS with square pixels first", dims)
    sizes = (f"{gy / 1000:.3g} km along y, {gx / 1000:.3g} km along x at latitude {mid:.3g}; "
             f"{ry:.6g} x {rx:.6g} degree")
    if degree_square:
        warn(
            f"the pixels are square in degrees but not on the ground ({sizes}): {use.mix}, and "
            "scales are given in degrees. " + fix,
            UserWarning,
        )
        return rx
    raise GridError(f"the pixels are not square on the ground ({sizes}): {use.refusal}. " + fix)


#: a projected CRS's metres are no ground metres (warned) where one of the pixel's ground
#: lengths the statistics rest on is off its CRS length by more than this: a step along x (the
#: lags along x), a step along y (the lags along y), or the side of the square of the pixel's
#: ground area (the blocks, whose means average over an area; their shape, sheared or not, is
#: no length a statistic is given at). Why 2 %: the statistics are power laws of these lengths
#: (a structure function grows as lag**(2 H), a block mean's variance falls as
#: side**(-2 (1 - H)), 0 <= H <= 1), so a length off by 2 % moves them by at most 4 %, and the
#: scales (lag_m, scale_m) by 3 % of the octave that separates the default lags and factors;
#: the Hurst exponent and the other slopes, fitted in log-log, do not move with a common
#: factor at all. A shear is no length: MODIS sinusoidal (equal-area) has the pixel's area
#: exactly, and its y step is 1 / cos(shear) long, past 2 % beyond a shear of 11.4 degrees
_GROUND_RTOL = 0.02


def _ground_pixel(da: xr.DataArray, ry: float, rx: float) -> dict[str, Any] | None:
    """A projected grid's pixel on the ground at the scene centre: the lengths (m) of one step
    along x and along y and the angle (degrees) between them (geodesics on the CRS's ellipsoid
    between the centre pixel and its neighbours), with the CRS's scale along the meridian and
    the parallel and its angular distortion there (``pyproj.Proj.get_factors``). ``ry``,
    ``rx``: the pixel's size in metres. None without a projected CRS pyproj reads, or where
    the centre does not transform."""
    from pyproj import CRS, Proj, Transformer
    from pyproj.exceptions import ProjError

    try:
        crs = da.rio.crs
    except ProjError:  # a grid mapping pyproj cannot read (CRSError): nothing to measure
        return None
    if crs is None:
        return None
    ydim, xdim = spatial_dims(da)
    try:
        pcrs = CRS.from_user_input(crs)
        if not pcrs.is_projected or xdim not in da.coords or ydim not in da.coords:
            return None
        x = np.asarray(da[xdim].values, np.float64)
        y = np.asarray(da[ydim].values, np.float64)
        # one pixel step in the CRS's own horizontal unit (rx, ry are in metres; a compound
        # CRS's last axis is its height's)
        per_unit = horizontal_metres_per_unit(pcrs) or 1.0
        sx, sy = rx / per_unit, ry / per_unit
        xc, yc = float(np.median(x)), float(np.median(y))
        to_lonlat = Transformer.from_crs(pcrs, pcrs.geodetic_crs, always_xy=True)
        lon, lat = to_lonlat.transform(np.array([xc, xc + sx, xc]), np.array([yc, yc, yc + sy]))
        if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
            return None
        geod = pcrs.get_geod()
        az_x, _, gx = geod.inv(lon[0], lat[0], lon[1], lat[1])
        az_y, _, gy = geod.inv(lon[0], lat[0], lon[2], lat[2])
        f = Proj(pcrs).get_factors(float(lon[0]), float(lat[0]))
    except ProjError:  # pyproj cannot transform or measure here: nothing to warn about
        return None
    if not (gx > 0 and gy > 0):
        # a centre far outside the CRS's area (Web Mercator's pole: y in millimetres) maps
        # both steps onto one point: no ground length to compare the CRS's with
        return None
    angle = abs((float(az_x) - float(az_y) + 180.0) % 360.0 - 180.0)
    return {"lon": float(lon[0]), "lat": float(lat[0]), "gx": float(gx), "gy": float(gy),
            "angle": angle, "h": float(f.meridional_scale), "k": float(f.parallel_scale),
            "omega": float(f.angular_distortion), "name": _crs_label(pcrs)}


def _crs_label(pcrs: Any) -> str:
    """A projected CRS in a message: its name, or its method's where it has none ('unknown'
    for MODIS's sinusoidal grid read from a file)."""
    name = str(pcrs.name or "").strip()
    if name and name.lower() not in ("unknown", "unnamed"):
        return name
    op = pcrs.coordinate_operation
    return f"the {op.method_name} CRS" if op is not None else "the CRS"


def _ground_errors(g: dict[str, Any], ry: float, rx: float) -> dict[str, float]:
    """The relative errors of the ground lengths the statistics rest on (:data:`_GROUND_RTOL`):
    one step along x, one along y, the side of the square of the pixel's ground area, and the
    difference between the x and y steps (what lags along both axes mix)."""
    gx, gy = g["gx"], g["gy"]
    area = gx * gy * abs(np.sin(np.radians(g["angle"])))
    return {"x": abs(gx / rx - 1.0), "y": abs(gy / ry - 1.0),
            "area": abs(np.sqrt(area / (rx * ry)) - 1.0),
            "mixed": abs(gx / rx - gy / ry) / max(gx / rx, gy / ry), "side": float(np.sqrt(area))}


def _check_ground_metres(da: xr.DataArray, ry: float, rx: float, use: _GridUse = _STATS,
                         dims: tuple[str, str] = ("y", "x")) -> None:
    """Warn when a projected CRS's metres are not ground metres at the scene centre: MODIS
    sinusoidal over Los Angeles (tile h08v05) has 926.6 m pixels that are 929 m (x) by 1415 m
    (y) parallelograms on the ground (the structure function at lag 1 was 2x larger along y than
    along x on an isotropic field), Web Mercator at 60 N 100 m pixels that are 50 m; only lon/lat
    grids were warned about. The trigger: a step along x or y, or the side of the square of the
    pixel's ground area, more than 2 % (:data:`_GROUND_RTOL`, which says why) off its CRS
    length; the warning names a reprojection to UTM, and says that lags and blocks mix two
    lengths only where the x and y steps differ by more than that. A shear alone changes none
    of these lengths and is not judged (it warned at 1 % on some windows of the h18v04 cube and
    not on others as sheared, with "mix two lengths"). UTM, LAEA or Albers near their centre,
    sinusoidal within about 11 degrees of shear (the bundled h18v04 tile, 1.8 % on its y step),
    and the polar stereographic grids (EPSG:3413, 3031) up to about 79 degrees of latitude
    pass silently; EPSG:3413 at 80 N (2.3 %) and EASE-Grid 2.0 (18-22 %) warn."""
    g = _ground_pixel(da, ry, rx)
    if g is None:
        return
    err = _ground_errors(g, ry, rx)
    if max(err["x"], err["y"], err["area"]) <= _GROUND_RTOL:
        return
    gx, gy = g["gx"], g["gy"]
    size = f"{rx:.6g} m" if abs(rx - ry) <= 1e-9 * rx else f"{ry:.6g} x {rx:.6g} m"
    shear = abs(90.0 - g["angle"])
    mixed = err["mixed"] > _GROUND_RTOL
    fix = _utm_fix(g["lon"], g["lat"], err["side"], use,
                   "Reproject to UTM (square ground metres) first", dims)
    warn(
        f"the CRS's metres are not ground metres here: at the scene centre (lon "
        f"{g['lon']:.4g}, lat {g['lat']:.4g}) {g['name']} scales lengths by {g['h']:.4g} along "
        f"the meridian and {g['k']:.4g} along the parallel, with an angular distortion of "
        f"{g['omega']:.3g} degree, so one pixel step is {gx:.4g} m along x and {gy:.4g} m "
        f"along y on the ground" + (f" (sheared by {shear:.3g} degree)" if shear >= 0.5 else "")
        + f", a pixel of the area of a {err['side']:.4g} m square, not {size} (off by more than "
        f"{_GROUND_RTOL:.0%}): " + (f"{use.mix}, and " if mixed else "")
        + f"the scales in metres ({use.scales}) are the CRS's, not the ground's. " + fix,
        UserWarning,
    )


def _square_pixel(da: xr.DataArray, use: _GridUse = _STATS) -> tuple[float, str, bool]:
    """The pixel size the scales of ``da`` (in its own dim names) are given in, its unit, and
    whether it is a degree of latitude (a lon/lat grid square on the ground but not in
    degrees), after the grid checks: pixels not square refused (:func:`_check_square`; on a
    lon/lat grid, on the ground: :func:`_check_lonlat_square`), and a projected CRS whose
    metres are not ground metres warned about (:func:`_check_ground_metres`); before them,
    coordinates that cannot be in the units of the CRS written on them refused as upscale
    refuses them (:func:`~xlstsr.validate._check_crs_units`)."""
    named = da.rename(spatial_names(da))
    if named.rio.crs is not None:
        # metres under EPSG:4326 were read as 1000-degree pixels, 0.01-degree steps under UTM
        # as 0.01 m (upscale and evaluate refused the same file); a grid without coordinates
        # (a transform only) has nothing to judge
        ydim, xdim = spatial_dims(named)
        if ydim in named.coords and xdim in named.coords:
            _check_crs_units(named, use.what, ydim, xdim)
    # the grid's unit read before the rename: lat/lon-named dims without a CRS are degrees
    ry, rx, unit = _pixel_sizes(da)
    # the advice as it runs on this grid and its file: a CRS where it has none, the fill kept
    # out of gdalwarp's means
    crs_free = named.rio.crs is None
    use = replace(use, write_crs="EPSG:4326" if crs_free and unit == "degree" else "",
                  gdal=_gdal_options(da, unit), no_crs=crs_free and unit != "degree")
    back = {v: k for k, v in spatial_names(da).items()}  # the advice names da's own dims
    dims = (back.get("y", "y"), back.get("x", "x"))
    if unit != "degree":
        _check_square(ry, rx, unit, use, dims)
    if unit == "degree":  # on the ground, where the lags and blocks lie
        size = _check_lonlat_square(named, ry, rx, use, dims)
        return size, unit, size != rx
    if unit == "m":
        _check_ground_metres(named, ry, rx, use, dims)
    return rx, unit, False


def default_scales(shape: tuple[int, int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Default (lags, factors): powers of two up to a quarter of the smaller side.

    Examples
    --------
    >>> from xlstsr.scaling import default_scales
    >>> default_scales((64, 70))
    ((1, 2, 4, 8, 16), (1, 2, 4, 8, 16))
    """
    n = min(shape)
    p = tuple(2**i for i in range(0, 31) if 2**i <= n // 4)
    return p, p


def _whole(name: str, values: Any) -> tuple[int, ...]:
    """``values`` as ints, refusing non-integers (``int(2.5)`` would silently use 2) and
    repeats (a repeated lag weighed twice in the fit; a repeated factor made a duplicated
    coordinate)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise GridError(f"{name} must be a sequence of whole numbers of pixels, got {values!r}")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float, np.number)) or not float(
                v).is_integer():
            raise GridError(
                f"{name} must be whole numbers of pixels, got {v!r} in {values!r}; e.g. "
                f"{name}=(1, 2, 4, 8)."
            )
        out.append(int(v))
    if len(set(out)) < len(out):
        raise GridError(f"{name} {tuple(out)} hold repeats: give each once, e.g. "
                        f"{name}={tuple(sorted(set(out)))}.")
    return tuple(out)


def _lags_inside(lags: Sequence[int], fit_lags: tuple[float, float]) -> str:
    """The other fix of a fit window holding fewer than 2 of ``lags``: lags with 2 or more
    inside it, added to those given (", or lags=(...)"; "or lags that include 1" was advised
    for lags=(1, 16, 32), which include 1 and stayed NaN); '' where the window holds fewer than
    2 whole numbers."""
    lo, hi = fit_lags
    add = {2**i for i in range(0, 31) if lo <= 2**i <= hi}
    if len(add) < 2:
        add |= {v for v in (int(np.ceil(lo)), int(np.floor(hi))) if lo <= v <= hi}
    if len(add) < 2:
        return ""
    return f", or lags inside that window, e.g. lags={tuple(sorted({*lags, *add}))}"


def _warn_unfitted(lags: Sequence[int], factors: Sequence[int], steps: Sequence[int],
                   fit_lags: tuple[float, float], fit_factors: tuple[float, float],
                   given: tuple[bool, bool]) -> None:
    """Warn when scales the caller chose leave a fit without points: factors without a pair
    ``f, 2 f`` (1, 3, 9) gave all-NaN within-block statistics, lags outside the default fit
    window (3, 9) a NaN Hurst exponent, without a word."""
    if given[0]:
        inside = [lag for lag in lags if fit_lags[0] <= lag <= fit_lags[1]]
        if len(inside) < 2:
            # a window of the lags given only where they are 2 or more (fit_lags=(2, 2) of one
            # lag is refused, and one lag fits no power law)
            fix = (f"pass fit_lags=({min(lags)}, {max(lags)})" + _lags_inside(lags, fit_lags)
                   if len(set(lags)) >= 2 else
                   f"pass more lags, e.g. lags={tuple(sorted({1, 2, 4, *lags}))}")
            # the window not written `fit_lags=(...)`: the command line maps that to its flag,
            # and the window in use is no fix
            warn(
                f"hurst and structure_function_exponent are NaN: the lags' fit window "
                f"{tuple(fit_lags)} (fit_lags) holds {len(inside)} of the lags {tuple(lags)} (a "
                f"power law needs 2); {fix}.",
                UserWarning,
            )
    if given[1]:
        if not steps:
            warn(
                f"within_block_variance and its exponent are NaN: they measure the variance "
                f"lost from factor f to 2 f, and factors {tuple(factors)} hold no such pair; "
                "pass factors in steps of 2 (e.g. (1, 2, 4, 8) or (1, 3, 6, 12)).",
                UserWarning,
            )
        elif len([f for f in steps if fit_factors[0] <= f <= fit_factors[1]]) < 2:
            warn(
                f"within_block_exponent is NaN: the factors {tuple(factors)} give "
                f"{len(steps)} step(s) f -> 2 f inside the fit window {tuple(fit_factors)} (a "
                "power law needs 2); add factors in steps of 2.",
                UserWarning,
            )


def _warn_small_field(shape: tuple[int, int], steps: Sequence[int]) -> None:
    """Warn that the default scales of a field under 32 px across leave the exponents on two
    points or none: on 16 x 16 windows of one real MODIS scene within_block_exponent ranged
    from -1.4 to +0.6 (the whole 64 x 64 scene: -0.38), with no confidence interval and no
    word (scales the caller chose warned)."""
    what = ("within_block_exponent is a line through 2 points" if len(steps) == 2
            else "within_block_exponent and spectral_slope cannot be fitted (NaN)")
    warn(
        f"the field is {shape[0]} x {shape[1]} pixels: with the default scales {what} and hurst "
        "rests on 2 or 3 lags, without a confidence interval: these exponents are not reliable "
        "below 32 x 32 pixels. Use a larger area (or choose the scales yourself: lags= and "
        "factors=, `--lags` and `--factors` on the command line).",
        UserWarning,
    )


def _warn_constant_guide(gdata: np.ndarray, start: int = 0, n_steps: int | None = None) -> None:
    """Warn about a guide constant over its valid pixels on the LST grid (a water body at one
    value, a fill): its laws (``guide_*``) are NaN, and nothing said why. ``gdata`` may be the
    steps ``start...`` of a guide of ``n_steps`` (a dask block)."""
    flat = gdata.reshape(gdata.shape[0], -1)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN steps: not constant
        spread = np.nanmax(flat, axis=1) - np.nanmin(flat, axis=1)
    constant = np.flatnonzero(spread == 0)
    if constant.size:
        n_steps = gdata.shape[0] if n_steps is None else n_steps
        which = "" if n_steps == 1 else f" at steps {(constant + start).tolist()}"
        warn(
            f"the guide is constant{which} ({float(np.nanmax(flat[constant[0]])):g} on every "
            "valid pixel of the LST grid): the LST-guide laws (guide_* statistics) are NaN "
            "there. A fill value taken as data, or a guide of another place?",
            UserWarning,
        )


def _step_names(obj: xr.DataArray | xr.Dataset, lead: Sequence[Hashable]) -> list[str] | None:
    """Each step of ``obj``'s ``lead`` dims (flattened in their order, as the checks see them)
    named by its labels (``band=2``, ``time=2020-07-01``, ``(time=..., overpass=day)``), the
    way the file and the output table count them: a GeoTIFF's bands from 1 (a warning of
    "steps [1]" was about band 2, its table's row 2); a dim without labels by its position
    (``isel(t=0)``). Where a dim's labels repeat, the first other coordinate along it that
    tells its steps apart is added (``overpass`` tried first: ``(time=2020-07-01,
    overpass=night)``), else the position (``(time=2020-07-01, isel(time=3))``), so that each
    name is one step. None without lead dims or labels (their positions named then)."""
    lead = [d for d in lead if d in obj.dims]
    if not any(d in obj.coords and obj[d].ndim == 1 for d in lead):
        return None  # no labels: by position, as isel counts (and as before)

    def texts(c: Hashable, values: np.ndarray, as_dates: bool = False) -> list[str]:
        # each coordinate's values read once, dates turned to text in one call (a STAC stack's
        # six coordinates read step by step took 5 s for 10,000 steps)
        if np.issubdtype(values.dtype, np.datetime64):
            shown = np.datetime_as_string(values, unit="D" if as_dates else "s").tolist()
        else:
            shown = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v
                     for v in values.tolist()]
        return [f"{c}={v}" for v in shown]

    def unique(*columns: Sequence[Any]) -> bool:
        return len(set(zip(*columns))) == len(columns[0])

    def labels(d: Hashable) -> list[str]:
        n = obj.sizes[d]
        if d not in obj.coords or obj[d].ndim != 1:
            return [f"isel({d}={i})" for i in range(n)]
        values = obj[d].values
        # dates alone where every label of the dim is a midnight (a quarter-hourly series named
        # its midnight step "time=2018-08-19" beside "time=2018-08-19T00:30:00")
        as_dates = (np.issubdtype(values.dtype, np.datetime64)
                    and bool((values.astype("datetime64[D]") == values).all()))
        out = texts(d, values, as_dates)
        if unique(out):
            return out
        # repeated labels (open_cog's day+night series: each date twice, an `overpass`
        # coordinate along time; a STAC stack's items of one datetime): "time=2020-07-01" named
        # two rows of the table. One other coordinate, the first that tells them apart (all of
        # a stack's made 130-character names)
        others = sorted((c for c in obj.coords if c != d and obj[c].dims == (d,)),
                        key=lambda c: c != "overpass")
        for c in others:
            paired = [f"{a}, {b}" for a, b in zip(out, texts(c, obj[c].values))]
            if unique(paired):
                return paired
        # none does (no other coordinate, or one value on every step): the position, as
        # isel counts, on the steps whose names repeat
        seen = collections.Counter(out)
        return [f"{s}, isel({d}={i})" if seen[s] > 1 else s for i, s in enumerate(out)]

    per_dim = [labels(d) for d in lead]
    out = []
    for idx in np.ndindex(*(len(names) for names in per_dim)):
        parts = [names[i] for names, i in zip(per_dim, idx)]
        out.append(parts[0] if len(parts) == 1 and ", " not in parts[0]
                   else f"({', '.join(parts)})")
    return out


#: the steps' names (:func:`_step_names`), or a call that makes them: built only where a
#: warning names steps (0.03 s per 10,000 steps, but paid on every call when built eagerly)
StepNames = Sequence[str] | Callable[[], Sequence[str] | None] | None


def _names_of(names: StepNames) -> Sequence[str] | None:
    """The steps' names, made now where ``names`` is the call that makes them."""
    return names() if callable(names) else names


def _named_steps(positions: Sequence[int] | np.ndarray, names: StepNames,
                 most: int | None = 8) -> str:
    """The steps at ``positions`` by their names (:func:`_step_names`), else by position as
    before ("[0, 2]"); more than ``most`` shortened to the first 5 and the count (48 SEVIRI
    dates listed whole made a 1371-character line; an hourly cube thousands)."""
    names = _names_of(names)
    positions = [int(i) for i in positions]
    if names is None or len(names) <= max(positions, default=0):
        if most is not None and len(positions) > most:
            return ("[" + ", ".join(map(str, positions[:5]))
                    + f", ... ({len(positions)} in all)]")
        return str(positions)
    shown = [names[i] for i in positions]
    if most is not None and len(shown) > most:
        return ", ".join(shown[:5]) + f", ... ({len(shown)} in all)"
    return ", ".join(shown)


def _check_images(data: np.ndarray, name: str, names: StepNames = None) -> None:
    """Refuse a field constant over its valid pixels (a fill value taken as data, a gap-filled
    constant: every statistic is 0 or NaN, and the spectral slope was fitted to round-off), and
    warn about the constant steps of a stack. ``names``: the steps' names (:func:`_step_names`)."""
    flat = data.reshape(data.shape[0], -1)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN steps: not constant
        _check_constant_steps(np.nanmin(flat, axis=1), np.nanmax(flat, axis=1), name, names)


def _check_constant_steps(lo: np.ndarray, hi: np.ndarray, name: str,
                          names: StepNames = None) -> None:
    """:func:`_check_images` from each step's minimum and maximum over its valid pixels (NaN
    for an all-gap step): what the CLI, which reads lazily, computes with the statistics (a
    constant file gave an all-NaN table with exit status 0 there). ``names``: the steps'
    names (:func:`_step_names`; else their positions)."""
    lo, hi = np.ravel(np.asarray(lo, np.float64)), np.ravel(np.asarray(hi, np.float64))
    with np.errstate(invalid="ignore"):
        spread = hi - lo
    constant = np.flatnonzero(spread == 0)
    if constant.size and constant.size == int(np.isfinite(spread).sum()):
        values = np.unique(hi[constant])
        if values.size > 1:
            # one value per step, not one value: "300 on every valid pixel" was said, and
            # masking 300 left the next step's 280 refused in turn
            # by the steps' labels (a GeoTIFF's bands from 1: "at step 0" named no band)
            names = _names_of(names)
            shown = [f"{float(hi[i]):g} at " + (names[i] if names is not None
                                                 and len(names) == hi.size
                                                 else f"step {int(i)}")
                     for i in constant[:5]]
            more = f", ... ({constant.size} steps)" if constant.size > 5 else ""
            raise XlstsrError(
                f"each step of the {name} is constant over its valid pixels, at different "
                f"values ({', '.join(shown)}{more}): it has no structure across scales (every "
                "statistic would be 0 or NaN), and masking one value leaves the others. Fill "
                "values taken as data, or gap-filled constants? Check that the file holds the "
                "field (its variable or band)."
            )
        v = float(values[0])
        raise XlstsrError(
            f"the {name} is constant ({v:g} on every valid pixel): it has no structure across "
            "scales (every statistic would be 0 or NaN). A fill value taken as data, or a "
            "gap-filled constant? Mask it (`da.where(da != value)`)."
        )
    if constant.size:
        warn(
            f"steps {_named_steps(constant, names)} of the {name} are constant over their "
            "valid pixels: "
            "their statistics are 0 or NaN (a fill value taken as data?)",
            UserWarning,
        )


#: isolated gap pixels (3 or 4 of their 4 neighbours valid), as a share of the valid pixels,
#: above which the spectral slope is warned as biased. Measured on a clear 256 x 256 crop of
#: ECOSTRESS 2023202005411 (70 m, gap-free slope -3.12, its 95 % interval +-0.21) with pixels
#: removed at random: 1 % moved the slope by +0.10 (the gap-free slope inside the interval),
#: 2 % by +0.17 (outside it), 10 % by +0.69; real speckle moves it less (Croatia 2.19 % and
#: ECOSTRESS at 1.12 km 2.02 %: the advised fill moved the slope 0.06-0.11, inside its
#: interval), so 3 %; real scenes carry 0.03-2.3 %, all but one silent
_SCATTERED_GAPS = 0.03


def _warn_scattered_gaps(share: np.ndarray, lead: tuple[str, ...],
                         dims: tuple[str, str], names: StepNames = None) -> None:
    """Warn, once, where isolated gaps (:func:`~xlstsr.kernels.spectra.isolated_gap_share`,
    per step) exceed :data:`_SCATTERED_GAPS`: each is a zero-anomaly pixel of the periodogram,
    power at every wavenumber, which flattens spectral_slope (10 % of a real scene's pixels
    removed at random: -3.12 became -2.42, its interval excluding -3.12, without a word).
    ``dims``: the user's (y, x) dim names, for the advice; ``names``: the steps' names
    (:func:`_step_names`)."""
    share = np.atleast_1d(np.asarray(share, np.float64))
    over = np.flatnonzero(np.nan_to_num(share, nan=0.0) > _SCATTERED_GAPS)
    if not over.size:
        return
    y, x = dims
    # a long series names a few steps (SEVIRI's 96 quarter-hours were all listed)
    names = _names_of(names)
    listed = _named_steps(over, names, most=8)
    where = ((f"steps {listed} ({', '.join(lead)}) have" if names is None else
              f"steps {listed} have") if lead else "the field has")
    warn(
        f"{where} isolated gap pixels (3 or 4 of their 4 neighbours valid) on up to "
        f"{float(share[over].max()):.1%} of the valid pixels (a speckled QC mask?): the "
        "spectral slope (spectral_slope, its break and interval) is biased towards 0 by them, "
        "each being power at every wavenumber (2 % moved a real ECOSTRESS scene's slope from "
        "-3.12 to -2.95, 10 % to -2.42); hurst and the structure functions are not. Fill the "
        "isolated gaps first, those alone (a wider fill eats the rims of large gaps and leaves "
        "their cores isolated: a real SEVIRI series then warned on all its steps), e.g. "
        f"`lst = lst.fillna(lst.rolling({y}=3, {x}=3, center=True, min_periods=1).mean()"
        f".where(sum(lst.notnull().shift({{d: s}}, fill_value=False).astype(int) for d in "
        f"({y!r}, {x!r}) for s in (1, -1)) >= 3))` (10 % removed from a clear crop: slope "
        "-2.34, filled -2.95, whole -2.98), or use hurst.",
        UserWarning,
    )


def _guide_gap_sentence(min_valid: float) -> str:
    """What a guide's gap on the fine grid does to :func:`scaling_stats` (the sentence of
    ``gap_effect`` of :func:`xlstsr.guide.guide_on_lst_grid`): the LST pixels it leaves without a guide value are
    left out of the guide statistics."""
    return (
        "the guide is NaN there. scaling_stats averages the guide onto the LST grid over the "
        f"part it covers: LST pixels less than min_valid={float(min_valid):g} of whose area it "
        "covers get no guide value and are left out of the guide statistics (guide_correlation, "
        "guide_slope, the guide's variances and their trends); the LST's own statistics keep "
        "every pixel."
    )


def _check_guide_grid(guide: xr.DataArray, lst: xr.DataArray, given: xr.DataArray | None = None,
                      back: Mapping[Hashable, Hashable] | None = None) -> None:
    """A guide of the LST's shape is taken pixel for pixel: refuse one whose coordinates or CRS
    say it lies elsewhere (half a pixel or a scene away), which was used as if aligned.
    ``given``: the LST as the user gave it (``lst`` renamed by ``back``'s inverse, north up),
    for advice in its own dims and direction."""
    gy, gx = spatial_dims(guide)
    ly, lx = spatial_dims(lst)
    if crs_mismatch(guide, lst) is not None:
        # aligned as upscale aligns a guide (guide_on_lst_grid: nested grid, footprint mean);
        # it was refused with `guide.rio.reproject_match(lst)` as advice, a nearest-neighbour
        # resampling (one 250 m NDVI pixel per 1 km pixel: the slope trend changed sign)
        return
    if (guide.sizes[gy], guide.sizes[gx]) != (lst.sizes[ly], lst.sizes[lx]):
        return
    _refuse_other_pixel_size(guide, lst, given, back)
    for d, e in ((gy, ly), (gx, lx)):
        if d not in guide.coords or e not in lst.coords or lst.sizes[e] < 2:
            continue
        a = np.asarray(lst[e].values, np.float64)
        b = np.asarray(guide[d].values, np.float64)
        step = abs(float(a[1] - a[0]))
        # a thousandth of a pixel, or float32 coordinates' rounding (0.25 m at 4e6 m northings)
        tol = max(1e-3 * step, 8 * float(np.finfo(np.float32).eps) * float(np.abs(a).max()))
        if not np.allclose(a, b, rtol=0, atol=tol):
            off = float(np.median(b - a))
            raise GridError(
                f"the guide has the LST's shape but not its grid: its {d!r} is off by {off:.6g} "
                f"({off / step:.3g} pixels), and a guide of the LST's shape is taken pixel for "
                "pixel; put it on the LST's grid by its footprint mean (`guide.rio."
                "reproject_match(lst, resampling=Resampling.average)`, with `from "
                "rasterio.enums import Resampling`; after co-registration: xlstsr.coregister), "
                "or pass it on its own finer grid, which is aligned as upscale aligns it."
            )


def _refuse_other_pixel_size(guide: xr.DataArray, lst: xr.DataArray,
                             given: xr.DataArray | None = None,
                             back: Mapping[Hashable, Hashable] | None = None) -> None:
    """Refuse a guide of the LST's shape (in image order, as ``lst``) whose pixel is another
    size: a 250 m guide of a 1 km LST's 64 x 64 was said to be "off by 24 pixels" (a shift),
    with "pass it on its own finer grid" as advice, which is what was done. Its advice: the
    guide over the LST's whole extent, or the LST cropped to the pixels wholly inside the
    guide (then aligned as upscale aligns a finer guide)."""
    gy, gx = spatial_dims(guide)
    ly, lx = spatial_dims(lst)
    sizes, crop = [], {}
    for d, e in ((gy, ly), (gx, lx)):
        if d not in guide.coords or e not in lst.coords or min(lst.sizes[e], guide.sizes[d]) < 2:
            return
        a = np.asarray(lst[e].values, np.float64)
        b = np.asarray(guide[d].values, np.float64)
        # over the whole span (float32 coordinates' rounding: 232 for 231.656 between two)
        step = abs(float(a[-1] - a[0])) / (a.size - 1)
        gstep = abs(float(b[-1] - b[0])) / (b.size - 1)
        sizes.append((d, gstep, step))
        # the LST's pixels wholly inside the guide's extent
        lo, hi = float(b.min()) - gstep / 2, float(b.max()) + gstep / 2
        tol = 1e-3 * step
        inside = a[(a - step / 2 >= lo - tol) & (a + step / 2 <= hi + tol)]
        if inside.size:
            crop[e] = (float(inside[0]), float(inside[-1]))
    if all(abs(g - s) <= _SQUARE_RTOL * s for _, g, s in sizes):  # (a shift is judged after)
        return
    told = ", ".join(f"{g:.6g} along {d!r} (the LST's {s:.6g})" for d, g, s in sizes)
    routes = "give the guide over the LST's whole extent (a finer guide is aligned as upscale "
    routes += "aligns it)"
    if len(crop) == 2 and all(lst.sizes[e] > 0 for e in crop):
        # in the user's dims and the direction its coordinates run (the north-up renamed copy's
        # `sel(y=...)` raised KeyError on lat/lon and selected nothing of a south-up LST)
        given = lst if given is None else given
        parts = []
        for e, (v0, v1) in crop.items():
            name = (back or {}).get(e, e)
            c = np.asarray(given[name].values, np.float64) if name in given.coords else None
            down = c is not None and c.size > 1 and c[-1] < c[0]
            lo_v, hi_v = min(v0, v1), max(v0, v1)
            parts.append(f"{name}=slice({hi_v!r}, {lo_v!r})" if down
                         else f"{name}=slice({lo_v!r}, {hi_v!r})")
        sel = ", ".join(parts)
        routes += f", or crop the LST to its pixels inside the guide (`lst = lst.sel({sel})`)"
    raise GridError(
        f"the guide has the LST's shape but another pixel size: {told}. It is not the LST's "
        "grid shifted, and a guide of the LST's shape is taken pixel for pixel; " + routes + "."
    )


def _warn_few_pairs(ds: xr.Dataset, lead: tuple[str, ...], fit_lags: tuple[float, float],
                    names: StepNames = None) -> None:
    """Warn about steps whose statistics rest on few pixel pairs (a scene 99 % cloud gave a
    Hurst exponent from 3 pairs without a word), and about those whose clear area is too
    fragmented for the spectral slope (:func:`_warn_fragmented_clear`)."""
    _warn_fragmented_clear(ds, lead, names)
    # steps without structure (all gaps, constant: warned or refused on their own) have their
    # pairs counted but no statistics to call noise
    count = ds["increment_count"].where(ds["coarse_valid_fraction"].sel(factor=1).notnull())
    inside = (ds["lag"] >= fit_lags[0]) & (ds["lag"] <= fit_lags[1])
    if not bool(inside.any()):
        return
    low = count.where(inside).min("lag")
    few = np.atleast_1d(np.asarray(low.values)) < _MIN_PAIRS
    if few.any():
        names = _names_of(names)
        where = ((f"steps {_named_steps(np.flatnonzero(few), names)}"
                  + ("" if names is not None else f" ({', '.join(lead)})") + " have")
                 if lead else "the field has")
        warn(
            f"{where} fewer than {_MIN_PAIRS} valid pixel pairs at some fitted lag (as few as "
            f"{int(np.nanmin(np.atleast_1d(low.values)))}): their statistics and fits are "
            "noise (mostly cloud, or a small field?); drop such steps or use a larger clear "
            "area.",
            UserWarning,
        )


#: fewer valid pixel pairs than this at a fitted lag: the step's statistics are noise
_MIN_PAIRS = 100

#: the share of a step's valid pixels whose neighbour ``lag`` pixels away (along y or x) is a
#: gap, by lag, above which a step is warned of: its spectral slope biased by the gap pattern as
#: a whole (not by isolated gaps: :data:`_SCATTERED_GAPS`). Measured on real cloud masks over
#: an exact fBm (H 0.35): the MODIS MOD11A1 granule's QC mask, whole (23 % clear, 1200 px:
#: +0.53) and in 512 x 512 crops (8-19 % clear in thin strips: +0.27 to +0.58), reached
#: 0.056-0.082 (lag 2) and 0.035-0.051 (lag 1), ECOSTRESS 2023188134933 (13 % clear: +0.27)
#: 0.197 / 0.15, their intervals excluding the clear slope; the heavy masks the slope kept
#: (within 0.08: ECOSTRESS 8 % clear, the h18v04 cube's 5-9 % clear corners) at most 0.027 /
#: 0.014. Clearer masks are not judged: the granule's 77 % clear part reached 0.043 / 0.027 and
#: moved the slope by 0.04. hurst moved by at most 0.012 on all of them.
_FRAGMENTED_CLEAR = {2: 0.045, 1: 0.025}
#: the valid share of a step below which its clear area is judged (:data:`_FRAGMENTED_CLEAR`):
#: above it, a speckle of isolated gaps (10 % of the pixels) reaches the share too, and its own
#: warning (:data:`_SCATTERED_GAPS`) advises the fill that removes its bias. Review 52f: some
#: masks more than half clear are biased too (Croatia 2006-03-06, 57 % valid: +0.32; a Landsat
#: coast: +0.33), unwarned: telling them from a speckle needs more than the pair counts.
_FRAGMENTED_VALID = 0.5


def _warn_fragmented_clear(ds: xr.Dataset, lead: tuple[str, ...],
                           names: StepNames = None) -> None:
    """Warn, once, about steps whose clear area is fragmented (the share of valid pixels with
    a gap ``lag`` pixels away above :data:`_FRAGMENTED_CLEAR`, from the pair counts of ``ds``):
    heavy cloud in thin clear strips biased spectral_slope by +0.2 to +0.6 without a word (the
    isolated-gap warning, where it came, advised a fill that silenced it and left the bias)."""
    shape = ds.attrs.get("image_shape_px")
    if shape is None or "increment_count" not in ds or "coarse_valid_fraction" not in ds:
        return
    ny, nx = (int(v) for v in shape)
    lag = next((lag for lag in _FRAGMENTED_CLEAR if lag in ds["lag"].values), None)
    if lag is None or min(ny, nx) <= lag:
        return
    # the two per step, in the lead dims' order (two or more lead dims: one was flat and the
    # other not, and the shapes did not broadcast)
    count, valid = xr.broadcast(ds["increment_count"].sel(lag=lag),
                                ds["coarse_valid_fraction"].sel(factor=1))
    order = [d for d in lead if d in count.dims]
    count = np.atleast_1d(np.asarray(count.transpose(*order).values, np.float64)).ravel()
    valid = np.atleast_1d(np.asarray(valid.transpose(*order).values, np.float64)).ravel()
    # the pairs the valid pixels would have if every neighbour were valid (the image's edge
    # taken off: a clear image has (ny - lag) nx + ny (nx - lag) pairs)
    full = valid * ((ny - lag) * nx + ny * (nx - lag))
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(full > 0, 1.0 - count / full, np.nan)
    over = np.flatnonzero((np.nan_to_num(share, nan=0.0) > _FRAGMENTED_CLEAR[lag])
                          & (np.nan_to_num(valid, nan=1.0) < _FRAGMENTED_VALID))
    if not over.size:
        return
    names = _names_of(names)
    listed = _named_steps(over, names, most=8)
    where = ((f"steps {listed}" + ("" if names is not None else f" ({', '.join(lead)})")
              + " have") if lead else "the field has")
    warn(
        f"{where} a fragmented clear area: up to {float(share[over].max()):.2%} of the valid "
        f"pixels have a gap {lag} pixel{'s' if lag > 1 else ''} away (more than "
        f"{_FRAGMENTED_CLEAR[lag]:.1%}, with less than half the pixels valid). The spectral slope (spectral_slope, its break and "
        "interval) is then biased towards 0 by the gap pattern as a whole (real cloud and coast "
        "masks laid on a field of slope -2.44: +0.2 to +0.58, the interval excluding the "
        "clear slope), and within_block_exponent may move too; filling "
        "the isolated gaps does not remove this. Read hurst instead (the structure function: "
        "moved by 0.012 at most on those masks; an fBm's slope is -(2 hurst + 2)), or compute "
        "the statistics on a clearer window of the scene or a clearer step.",
        UserWarning,
    )


def _check_window(name: str, win: Any) -> None:
    """A fit window: None or (low, high) finite numbers with 0 < low < high."""
    if win is None:
        return
    ok = (not isinstance(win, (str, bytes)) and isinstance(win, Iterable) and len(tuple(win)) == 2
          and all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
                  and np.isfinite(v) for v in win))
    if not ok or not 0 < win[0] < win[1]:
        raise XlstsrError(
            f"{name} must be (low, high) with 0 < low < high (inclusive bounds of the power-law "
            f"fit), got {win!r}; e.g. {name}={(0.05, 0.3) if 'wave' in name else (1, 8)}, or "
            "None for the default."
        )


def _check_window_points(name: str, win: Any, points: Sequence[int], what: str) -> None:
    """Refuse a fit window holding fewer than 2 of the ``points`` it fits (a NaN fit)."""
    if win is None or len(points) < 2:
        return
    inside = [p for p in points if win[0] <= p <= win[1]]
    if len(inside) < 2:
        raise GridError(
            f"{name} {tuple(win)} holds {len(inside)} of the {what} {tuple(points)}: a power law "
            "needs at least 2 points. Widen it to cover 2 or more of them, or pass None."
        )


def _bin_wavenumbers(shape: tuple[int, int], edges: Sequence[float]) -> np.ndarray:
    """Mean wavenumber (cycles/pixel) of each bin of the radial spectrum of a ``shape`` field
    (NaN where a bin is empty), as :func:`xlstsr.kernels.spectra.radial_power_spectrum` gives
    it: the bins hold the Fourier coefficients of the grid, whatever its values. Summed over
    rows of ``|k_y|`` (each standing for its +/- twins), without the full plane in memory."""
    ny, nx = shape
    edges = np.asarray(edges, np.float64)
    nb = len(edges) - 1
    kx = np.fft.rfftfreq(nx)
    wx = np.full(kx.shape, 2.0)  # the rfft columns with a conjugate twin count twice
    wx[0] = 1.0
    if nx % 2 == 0:
        wx[-1] = 1.0
    ky = np.abs(np.fft.fftfreq(ny))
    uy, my = np.unique(ky, return_counts=True)
    ksum, cnt = np.zeros(nb), np.zeros(nb)
    for i in range(0, uy.size, 256):
        k = np.hypot(uy[i:i + 256, None], kx[None, :])
        w = my[i:i + 256, None] * wx[None, :]
        sel = k > 0
        idx = np.digitize(k[sel], edges) - 1
        inb = (idx >= 0) & (idx < nb)
        ksum += np.bincount(idx[inb], weights=(k[sel] * w[sel])[inb], minlength=nb)
        cnt += np.bincount(idx[inb], weights=w[sel][inb], minlength=nb)
    with np.errstate(invalid="ignore", divide="ignore"):
        return ksum / cnt


def _check_wavenumber_points(win: tuple[float, float] | None, shape: tuple[int, int],
                             edges: Sequence[float]) -> None:
    """Refuse a ``fit_wavenumbers`` window holding fewer than 2 spectral bins, as fit_lags and
    fit_factors are refused: (0.1, 0.12) on a 64 x 64 field holds one bin and gave a NaN
    spectral slope without a word."""
    if win is None:
        return
    k = _bin_wavenumbers(shape, edges)
    k = k[np.isfinite(k)]
    inside = k[(k >= win[0] - 1e-12) & (k <= win[1] + 1e-12)]  # the kernel's selection
    if inside.size >= 2 or k.size < 2:
        return
    centre = np.sqrt(win[0] * win[1])
    near = np.sort(k[np.argsort(np.abs(np.log(k / centre)))[:2]])
    raise GridError(
        f"fit_wavenumbers {tuple(win)} holds {inside.size} of the {k.size} spectral bins of a "
        f"{shape[0]} x {shape[1]} field (the nearest are centred at {near[0]:.3g} and "
        f"{near[1]:.3g} cycles per pixel): a power law needs at least 2 points. Widen it, e.g. "
        f"fit_wavenumbers=({0.98 * near[0]:.3g}, {1.02 * near[1]:.3g}), or pass None."
    )


def _check_scales(shape: tuple[int, int], lags: Sequence[int], factors: Sequence[int]) -> None:
    n = min(shape)
    if n < 8:
        raise GridError(
            f"the field is {shape[0]} x {shape[1]} pixels: too small for multiscale statistics "
            "(at least 8 x 8 needed); use a larger area."
        )
    bad_l = [int(lag) for lag in lags if lag < 1 or lag > n // 2]
    if bad_l:
        raise GridError(
            f"lags {bad_l} do not fit a {shape[0]} x {shape[1]} field (1 <= lag <= {n // 2}); "
            f"pass smaller lags, e.g. lags={default_scales(shape)[0]}, or a larger field."
        )
    bad_f = [int(f) for f in factors if f < 1 or n // f < 2]
    if bad_f:
        raise GridError(
            f"factors {bad_f} leave fewer than 2 x 2 aggregated pixels on a {shape[0]} x "
            f"{shape[1]} field; pass factors up to {n // 2} (e.g. factors="
            f"{default_scales(shape)[1]}) or a larger field."
        )
    if 1 not in factors:
        raise GridError("factors must include 1 (the native resolution)")


def scaling_stats(
    lst: xr.DataArray | xr.Dataset,
    guide: xr.DataArray | Hashable | None = None,
    *,
    lags: Iterable[int] | None = None,
    factors: Iterable[int] | None = None,
    moments: Iterable[int] = range(1, 7),
    fit_lags: tuple[float, float] | None = None,
    fit_factors: tuple[float, float] | None = None,
    fit_wavenumbers: tuple[float, float] | None = None,
    nbins: int = 16,
    min_valid: float = 0.5,
    radiometric: bool = True,
    variable: Hashable | None = None,
    guide_time_tolerance: Any = None,
    mask_out_of_range: bool = False,
) -> xr.Dataset:
    """Multiscale statistics of an LST field (and its relation to a guide), per time step.

    Parameters
    ----------
    lst : DataArray or Dataset
        Field(s) with spatial dims and any leading dims (time...). LST in Kelvin (or decodable:
        Celsius, scaled integers with their metadata); any field with ``radiometric=False``.
        With ``radiometric=True`` a field without ``units`` is checked as Kelvin like any LST
        input (digital numbers, Celsius or an undeclared fill value are refused, naming the
        fix).
    guide : DataArray or str, optional
        A guide (e.g. NDVI) on the LST grid, or on a finer grid in any CRS: aligned as
        :func:`xlstsr.upscale` aligns a guide (on the grid nested in the LST's nearest its
        pixel; sliced when it nests exactly, else reprojected by its footprint mean with a
        GuideAlignmentWarning), then averaged onto the LST grid. Adds LST-guide correlation and
        slope per coarse factor.
    lags : iterable of int, optional
        Increment lags in pixels (default: powers of two up to a quarter of the smaller side).
    factors : iterable of int, optional
        Coarse-graining factors, including 1 (default: powers of two up to a quarter side).
    moments : iterable of int
        Orders q of the structure functions (default 1..6).
    fit_lags, fit_factors, fit_wavenumbers : (low, high), optional
        Inclusive ranges of the power-law fits, in pixels, pixels (the step ``f -> 2f`` is fitted
        at ``f``) and cycles per pixel. Defaults: lags 1 to max(4, side/16); factors 1 to a
        the largest step; wavenumbers ``3/side`` to 0.3.
    nbins : int
        Number of logarithmic wavenumber bins of the spectrum (>= 2).
    min_valid : float
        Fraction of valid fine pixels for an aggregated pixel to be valid, in (0, 1].
    radiometric : bool
        Aggregate by ``(mean T^4)^(1/4)`` (LST, default) or by the plain mean (NDVI...).
    variable : str, optional
        The LST variable when ``lst`` is a Dataset.
    guide_time_tolerance : str, timedelta or number, optional
        How a guide with a time dim (or a scalar date, as a one-step dim) is matched with
        the LST's steps, as in :func:`xlstsr.upscale`: by label, never by position. Default:
        equal labels. A duration
        such as ``"15D"`` takes, for each LST date, the latest guide step at most that long
        before it (a 16-day composite labelled by the first day of its period covers it and
        the 15 days after).
    mask_out_of_range : bool
        Mask LST values outside 150-400 K after decoding (hot or garbage pixels) instead of
        raising :class:`~xlstsr.errors.PhysicalRangeError`, as :func:`xlstsr.upscale` does; the
        statistics then leave them out as gaps. No effect with ``radiometric=False`` (such a
        field is taken as it is).

    Returns
    -------
    Dataset
        One value per leading index (time...) of each statistic and fit; see each variable's
        ``long_name``. Coordinates: ``lag`` (pixels) and ``lag_m``, ``factor`` and ``scale_m``,
        ``wavenumber`` (cycles/pixel) and ``wavenumber_m`` (cycles per metre), ``moment``,
        ``direction`` (y, x), ``bound`` (lower, upper). Lazy when the input is dask-backed.
        Coarse-graining statistics at factor ``f`` use the top-left multiple of ``f`` pixels
        (of ``2f`` for the step ``f -> 2f``), whichever other factors are asked for. The
        ``_m`` coordinates and ``pixel_size`` are in metres (a projected CRS's feet converted)
        or, on a geographic grid or lat/lon dims without a CRS, in degrees (``pixel_unit``; of
        latitude, the y size, where the pixels are square on the ground but not in degrees).
        The statistics' ``units`` follow the field's: Kelvin for an LST (``K^2``...), the
        field's own ``units`` with ``radiometric=False`` (``1`` for a dimensionless NDVI; none
        when the field has none). Dask input is taken in whole images, a few per task (one
        1200 x 1200 image), whatever its chunks along time.

    Raises
    ------
    XlstsrError
        The unwritten steps of an unfinished :func:`xlstsr.upscale_to_zarr` store (read
        lazily, or a loaded copy), refused as :func:`xlstsr.upscale` refuses them, advising
        the written steps. A constant field; options of the wrong kind or range (``nbins``
        < 2, moments < 1, ``min_valid`` outside (0, 1], a fit window that is not (low, high)
        with 0 < low < high).
    GridError
        The field is too small for the requested lags/factors, its pixels are not square (more
        than 1 % apart: resample it first; on a lon/lat grid, on the ground at its median
        latitude, unless square in degrees: then a warning), the guide is not nested, or a fit
        window holds fewer than 2 of the points it fits; a guide of the LST's shape whose
        pixel is another size, or that lies elsewhere.
    GuideTimeError
        Guide steps that do not match the LST's (see ``guide_time_tolerance``), or a tolerance
        that is no duration.
    AllNaNError
        An in-memory input holds no valid pixel.
    UndeclaredFillError
        The guide (or a ``radiometric=False`` field) holds an undeclared fill value.
    GuideScaleError
        A guide declared as NDVI (its name, ``long_name``) whose values lie outside [-1, 1]
        (NDVI x 10000, percent), as :func:`xlstsr.upscale` refuses it (lazily: when computed).
    UnitsError, ScaledIntegerError, PhysicalRangeError
        An LST (``radiometric=True``) whose units or values are not those of a temperature
        (lazily: when computed); the message adds ``radiometric=False`` for a field that is no
        temperature (NDVI, an anomaly).

    Warns
    -----
    UserWarning
        A projected CRS whose metres are not ground metres at the scene's centre (a pixel step
        along x or y, or the side of the square of the pixel's ground area, more than 2 %
        longer or shorter on the ground: MODIS sinusoidal far from its central meridian,
        sheared; Web Mercator away from the equator), naming the CRS's scales there and a
        reprojection to UTM; a lon/lat grid square in degrees but not on the ground.
        In memory: constant steps, steps with fewer than 100 valid pixel pairs at a fitted lag,
        a field made of blocks of equal pixels (nearest-resampled), chosen ``lags`` /
        ``factors`` that leave a fit without points (its exponent NaN), steps whose
        spectrum is zero to round-off (a plane: ``spectral_slope`` and the break NaN), and
        steps with isolated gap pixels (3 or 4 of their 4 neighbours valid) on more than 3 %
        of their valid pixels (a speckled QC mask: ``spectral_slope`` is biased towards 0;
        the message gives a fill of those gaps alone). Lazily too (when the statistics are
        computed, by the command line): steps less than half valid whose clear area is
        fragmented (more than 4.5 % of their valid pixels with a gap 2 pixels away, e.g. 80-90 %
        cloud in thin strips: ``spectral_slope`` biased towards 0, which no fill removes; the
        message advises ``hurst`` or a clearer window).

    Examples
    --------
    >>> import xlstsr
    >>> lst = xlstsr.datasets.sample_scene(n_times=2, size=128)["lst_1km"]  # 32 x 32
    >>> st = xlstsr.scaling_stats(lst)
    >>> sorted(st.hurst.dims)
    ['time']
    """
    lst, guide = select_lst(lst, variable, guide, operation="scaling_stats")
    # the unwritten steps of an unfinished upscale_to_zarr store read as NaN: their rows were
    # all-NaN statistics without a word (refused as upscale refuses them; metadata only)
    refuse_incomplete_inputs(lst, guide, roles=("LST", "guide"))  # ("the source": no source)
    # an empty selection as upscale names it (else a reshape error, "too small" or "all NaN"),
    # in the user's dims (lat/lon, declared row/col): `da.sel(y=...)` failed on their array
    names = spatial_names(lst)
    back = {v: k for k, v in names.items()}
    require_nonempty(lst.rename(names), "LST", user_dims=back)
    # coordinates off a regular grid named as upscale names them (a lon grid wrapped at
    # Greenwich or the antimeridian was "pixels not square (0.01 x 18.9 degree)" from its mean
    # step, with reprojection advised); no CRS needed here
    require_regular(lst.rename(names), "LST", user_dims=back)
    if guide is not None and not isinstance(guide, xr.DataArray):
        raise InputTypeError(
            f"guide is a {type(guide).__name__}, not an xarray DataArray: give it its grid, e.g. "
            "`xr.DataArray(a, dims=('y', 'x'), coords={'y': ..., 'x': ...}).rio.write_crs(...)`"
        )
    # lat/lon dims (ECOSTRESS on its own grid) as the other entry points take them: the
    # statistics have no spatial dims, so nothing is to be given back
    # image order: a guide of the LST's shape is paired pixel for pixel ((x, y) or south-up
    # was read as "off by 0")
    # square pixels (on the ground for lon/lat), and a projected CRS's metres on the ground
    res_x, res_unit, _ = _square_pixel(lst)
    given = lst
    lst = image_order(lst.rename(spatial_names(lst)))
    if guide is not None:
        _as_timedelta(guide_time_tolerance)  # named even when the guide has no time dim
        guide = image_order(guide.rename(spatial_names(guide)))
        _check_guide_grid(guide, lst, given, back)
    check_bool("radiometric", radiometric)
    check_bool("mask_out_of_range", mask_out_of_range)
    nbins = check_whole("nbins", nbins, 2, hint="logarithmic wavenumber bins of the spectrum: "
                        "e.g. 16")
    min_valid = check_number("min_valid", min_valid, 0, 1, lo_open=True,
                             hint="the valid share of an aggregated pixel: e.g. 0.5")
    if isinstance(moments, (str, bytes)) or not isinstance(moments, Iterable):
        raise XlstsrError(f"moments must be a sequence of whole orders >= 1, e.g. range(1, 7), "
                          f"got {moments!r}")
    moments_t = tuple(check_whole("each moment", q, 1, hint="orders q of the structure "
                                  "functions: e.g. moments=range(1, 7)") for q in moments)
    if not moments_t:
        raise XlstsrError("moments is empty: give the orders q of the structure functions, e.g. "
                          "moments=range(1, 7)")
    for name, win in (("fit_lags", fit_lags), ("fit_factors", fit_factors),
                      ("fit_wavenumbers", fit_wavenumbers)):
        _check_window(name, win)
    # tuples of floats: an array (a window computed in metres) failed at `fit_lags or (...)`
    fit_lags, fit_factors, fit_wavenumbers = (
        None if w is None else (float(w[0]), float(w[1]))
        for w in (fit_lags, fit_factors, fit_wavenumbers))
    ydim, xdim = spatial_dims(lst)
    if isinstance(lst.variable.data, dsa.Array):  # before the decoding's checks, which join
        lst = _chunk_whole_images(lst, ydim, xdim)  # the chunks of an image as these tasks do
    if radiometric:
        # with units or without (scale attributes or none): an LST (radiometric aggregation),
        # so it must be Kelvin. Digital numbers (~15000) or Celsius would give statistics 2500x
        # too large or T^4 means of Celsius without a word; a refusal names radiometric=False
        field_ = _decode_lst_field(lst, mask_out_of_range)
    else:
        field_ = decode_guide(lst)
    units = _stat_units("K" if radiometric else lst.attrs.get("units"),
                        None if guide is None else guide.attrs.get("units"))
    lead = tuple(str(d) for d in field_.dims if d not in (ydim, xdim))
    field_ = field_.transpose(*lead, ydim, xdim)
    shape = (field_.sizes[ydim], field_.sizes[xdim])
    dl, df = default_scales(shape)
    lags_t = _whole("lags", dl if lags is None else lags)
    factors_t = tuple(sorted(_whole("factors", df if factors is None else factors)))
    _check_scales(shape, lags_t, factors_t)
    n = min(shape)
    steps = [f for f in factors_t if 2 * f in factors_t]
    default_fit_lags = (1.0, float(max(4, n // 16)))
    default_fit_factors = (1.0, float(max(steps, default=1)))
    _warn_unfitted(lags_t, factors_t, steps, fit_lags or default_fit_lags,
                   fit_factors or default_fit_factors,
                   (lags is not None and fit_lags is None, factors is not None))
    if lags is None and factors is None and n < 32:
        _warn_small_field(shape, steps)
    _check_window_points("fit_lags", fit_lags, lags_t, "lags")
    _check_window_points("fit_factors", fit_factors, steps, "factor steps f -> 2f at")
    if fit_wavenumbers is not None and (fit_wavenumbers[0] >= 0.5 * np.sqrt(2.0)
                                        or fit_wavenumbers[1] < 1.0 / n):
        raise GridError(
            f"fit_wavenumbers {tuple(fit_wavenumbers)} lies outside the spectrum of a {n}-pixel "
            f"field ({1.0 / n:.3g} to 0.707 cycles per pixel): e.g. fit_wavenumbers="
            f"({3.0 / n:.3g}, 0.3)."
        )
    edges = tuple(log_wavenumber_edges(shape, nbins))
    _check_wavenumber_points(fit_wavenumbers, shape, edges)
    cfg = ks.ScalingConfig(
        shape=shape,
        lags=lags_t,
        factors=factors_t,
        moments=moments_t,
        edges=edges,
        fit_lags=fit_lags or default_fit_lags,
        fit_factors=fit_factors or default_fit_factors,
        fit_wavenumbers=fit_wavenumbers or (3.0 / n, 0.3),
        min_valid=float(min_valid),
        with_guide=guide is not None,
        radiometric=bool(radiometric),  # --plain-mean aggregated in T^4 all the same
    )

    data = field_.variable.data
    nlead = int(np.prod([field_.sizes[d] for d in lead])) if lead else 1
    data = data.reshape(nlead, *shape)
    is_dask = isinstance(data, dsa.Array)
    if not is_dask:
        data = np.asarray(data, dtype=np.float64)
        if not np.isfinite(data).any():
            # the advice upscale gives, in the field's own lead dim ('time' failed on an image)
            raise AllNaNError(
                "the field holds no valid pixel (all NaN or fill). Check its fill value / QC "
                f"mask; {all_nan_advice(field_)}."
            )
        if radiometric and np.nanmin(data) <= 0:
            raise UnitsError(
                "radiometric aggregation needs positive temperatures in Kelvin, but the field has "
                "values <= 0; convert it to Kelvin, or pass radiometric=False for fields that "
                "aggregate linearly (NDVI, anomalies)."
            )
        if not radiometric:  # not decoded as an LST: its fill was not looked for
            _refuse_fill(data, "field")
        # the steps' names made only where a warning names them
        names = functools.partial(_step_names, field_, lead)
        _check_images(data, "field", names)
        _warn_scattered_gaps(isolated_gap_share(data), lead,
                             (back.get("y", "y"), back.get("x", "x")), names)
        warn_if_resampled(field_, "field", user_dims=back)
    elif not radiometric:
        data = _checked_lazily(data, "field")
    gdata = None
    if guide is not None:
        # a guide missing part of the LST's extent: what that does here, not what upscale's
        # methods do there (tsharp's bicubic fallback was said, and no method runs here)
        gdata = guide_on_lst_grid(guide, field_, lead, min_valid=float(min_valid),
                                  time_tolerance=guide_time_tolerance,
                                  gap_effect=_guide_gap_sentence(min_valid))
        if not isinstance(gdata, dsa.Array) and not np.isfinite(np.asarray(gdata)).any():
            # else every guide statistic is NaN without a word, as upscale refuses such a guide
            raise AllNaNError(
                "the guide holds no valid value on the LST grid (all NaN or fill, or fewer than "
                f"min_valid={min_valid} of each block valid); check its fill value and that it "
                "covers the LST."
            )
        # a guide declared as NDVI (its name, long_name) must lie in [-1, 1], as upscale
        # requires (prepare_guide): a guide of the LST's shape skipped that check, and an
        # NDVI x 10000 gave a guide_slope 10000 times too small without a word
        ndvi = (_declared_ndvi(guide), _fill_in_attrs(guide))
        if not isinstance(gdata, dsa.Array):  # a guide of the LST's shape skipped the check
            _refuse_fill(np.asarray(gdata), "guide")
            _refuse_guide_ndvi_range(np.asarray(gdata), *ndvi)
            _warn_constant_guide(np.asarray(gdata))
        else:  # the same checks, on each block as it is read (the CLI reads lazily)
            gdata = _checked_lazily(gdata, "guide", ndvi)
        if gdata.shape[0] == 1 and nlead > 1:
            gdata = (dsa if isinstance(gdata, dsa.Array) else np).broadcast_to(
                gdata, (nlead, *shape)
            )
    size = ks.stats_size(cfg)
    if is_dask or isinstance(gdata, dsa.Array):
        # whole images, a few per task (a cube chunked for time series, (time=-1, 256, 256),
        # was one task holding every image in float64)
        data = whole_images(dsa.asarray(data)).astype(np.float64)
        args = [data]
        if gdata is not None:
            args.append(dsa.asarray(gdata).rechunk((data.chunks[0], -1, -1)).astype(np.float64))

        def _block(a, g=None):
            return ks.image_stats_stack(a, g, cfg)

        packed = dsa.map_blocks(
            _block,
            *args,
            drop_axis=[1, 2],
            new_axis=[1],
            chunks=(data.chunks[0], (size,)),
            dtype=np.float64,
            meta=np.empty((0, 0), np.float64),
        )
    else:
        g = None if gdata is None else np.asarray(gdata, np.float64)
        packed = ks.image_stats_stack(data, g, cfg)
        out = _unpack(packed, cfg, field_, lead, ydim, xdim, (res_x, res_unit), units)
        names = functools.partial(_step_names, field_, lead)
        _warn_few_pairs(out, lead, cfg.fit_lags, names)
        _warn_flat_spectrum(out, lead, names)
        return out
    return _unpack(packed, cfg, field_, lead, ydim, xdim, (res_x, res_unit), units)


def _images_per_task(image_size: int) -> int:
    """Images of ``image_size`` pixels one task takes (:data:`xlstsr.validate.TASK_BYTES` of
    float64, >= 1)."""
    return max(1, TASK_BYTES // (8 * max(1, int(image_size))))


def whole_images(data: dsa.Array) -> dsa.Array:
    """A dask stack ``(n, ...)`` in whole images (every axis after the first in one chunk), a
    few per task (:func:`xlstsr.validate.whole_images`)."""
    return _whole_images(data, data.ndim - 1, TASK_BYTES)


def _chunk_whole_images(da: xr.DataArray, ydim: str, xdim: str) -> xr.DataArray:
    """A dask DataArray in whole images, a few per chunk over its leading dims (time...), as
    :func:`whole_images` takes them; the leading chunks are kept when smaller."""
    data = da.variable.data
    budget = _images_per_task(da.sizes[ydim] * da.sizes[xdim])
    spec: dict[int, int] = {}
    for i in reversed(range(da.ndim)):
        d = da.dims[i]
        if d in (ydim, xdim):
            spec[i] = -1
            continue
        take = max(1, min(budget, da.shape[i]))
        if data.chunks[i] and max(data.chunks[i]) > take:
            spec[i] = take
        budget = max(1, budget // take)
    return da.copy(data=data.rechunk(spec))


def _warn_flat_spectrum(ds: xr.Dataset, lead: tuple[str, ...],
                        names: StepNames = None) -> None:
    """Warn about steps whose spectrum is zero (power at round-off, below 1e-12 of the field's
    variance, set to 0 by the kernel): a plane, removed by the estimator. Their spectral slope
    and break are NaN; a ramp reported a slope of -0.83 with its interval, fitted to 1e-24."""
    p = np.asarray(ds["power_spectrum"].values, np.float64)
    p = p.reshape(-1, p.shape[-1])
    flat = np.isfinite(p).any(1) & (np.nan_to_num(p, nan=0.0) == 0).all(1)
    if flat.any():
        names = _names_of(names)
        where = ((f"steps {_named_steps(np.flatnonzero(flat), names)}"
                  + ("" if names is not None else f" ({', '.join(lead)})"))
                 if lead else "the field")
        warn(
            f"the power spectrum of {where} is zero (below 1e-12 of the variance: round-off): "
            "such a field is a plane (a smooth gradient), which the spectrum removes, so "
            "spectral_slope and the break are NaN there; the structure functions and "
            "variances still describe it. A gap-filled trend or a synthetic ramp?",
            UserWarning,
        )


def _refuse_fill(values: np.ndarray, name: str) -> None:
    """A value on a large share of a field taken as data, far outside the rest (NDVI's -3000,
    -9999, 0 written for clouds): the correlations and variances were computed with it."""
    found = suspect_guide_fill(values)
    if found is not None:
        v, share = found
        v = int(v) if float(v).is_integer() else v
        raise UndeclaredFillError(
            f"the {name} holds {v!r} on {share:.0%} of its valid pixels, far outside the other "
            f"values: an undeclared fill value (MOD13's NDVI -3000, -9999, 0 for clouds). Mask "
            f"it (`{name}.where({name} != {v!r})`) or declare it (`{name}.attrs['_FillValue'] "
            f"= {v!r}`)."
        )


def _refuse_guide_ndvi_range(values: np.ndarray, declared: str, kept_fill: str | None) -> None:
    """Refuse a guide declared as NDVI (``declared``: what says so, from
    :func:`xlstsr.guide._declared_ndvi`; '' for another guide, never refused) whose values go
    beyond [-1, 1] (NDVI x 10000, percent), as upscale refuses it
    (:func:`xlstsr.guide._refuse_ndvi_range`). ``kept_fill``: the fill its attrs declare."""
    if declared:
        _refuse_ndvi_range(0, declared, values, kept_fill)


def _checked_lazily(data: dsa.Array, name: str,
                    ndvi: tuple[str, str | None] = ("", None)) -> dsa.Array:
    """A dask ``(n, y, x)`` field or guide that runs the in-memory checks (:func:`_refuse_fill`,
    and :func:`_warn_constant_guide` and, with ``ndvi`` (what declares the guide NDVI, its
    fill in attrs), :func:`_refuse_guide_ndvi_range` for the guide) on each block of whole
    images as it is read for the result: a lazy guide holding MOD13's -3000 was taken as NDVI
    without a word (r 0 for -0.99), and ``xlstsr scaling --guide`` reads lazily. Nothing is
    computed now."""
    whole = whole_images(data)
    n_steps = data.shape[0]

    def check(block: np.ndarray, block_info: Any = None) -> np.ndarray:
        values = np.asarray(block)
        _refuse_fill(values, name)
        if name == "guide":
            _refuse_guide_ndvi_range(values, *ndvi)
            start = block_info[0]["array-location"][0][0] if block_info else 0
            _warn_constant_guide(values, start, n_steps)
        return block

    return whole.map_blocks(check, dtype=whole.dtype, meta=np.empty((0, 0, 0), whole.dtype))


def _unpack(
    packed: Any,
    cfg: ks.ScalingConfig,
    field_: xr.DataArray,
    lead: tuple[str, ...],
    ydim: str,
    xdim: str,
    grid: tuple[float, str],
    units: dict[str, str],
) -> xr.Dataset:
    res, unit = grid
    lead_shape = tuple(field_.sizes[d] for d in lead)
    edges = np.asarray(cfg.edges)
    kc = np.sqrt(edges[:-1] * edges[1:])
    coords: dict[str, Any] = {
        "lag": ("lag", np.asarray(cfg.lags), {"units": "pixel"}),
        "lag_m": ("lag", np.asarray(cfg.lags) * res, {"units": unit}),
        "factor": ("factor", np.asarray(cfg.factors), {"units": "pixel"}),
        "scale_m": ("factor", np.asarray(cfg.factors) * res, {"units": unit}),
        "wavenumber": ("wavenumber", kc, {"units": "cycles/pixel"}),
        "wavenumber_m": ("wavenumber", kc / res, {"units": f"cycles/{unit}"}),
        "moment": ("moment", np.asarray(cfg.moments)),
        "direction": ("direction", np.asarray(["y", "x"])),
        "bound": ("bound", np.asarray(["lower", "upper"])),
    }
    for d in lead:
        if d in field_.coords:
            coords[d] = field_[d]
    for c, v in field_.coords.items():  # scalar / non-spatial coords along lead dims
        if c not in coords and c != "spatial_ref" and ydim not in v.dims and xdim not in v.dims:
            coords[c] = v
    out = {}
    off = 0
    for name, dims, shp in ks.stats_layout(cfg):
        size = int(np.prod(shp))
        part = packed[:, off : off + size]
        off += size
        part = part.reshape(lead_shape + tuple(shp)) if lead else part.reshape(tuple(shp))
        attrs = dict(_ATTRS.get(name, {}))
        if name in units:
            attrs["units"] = units[name]
        out[name] = xr.Variable(lead + dims if lead else dims, part, attrs)
    ds = xr.Dataset(out, coords=coords)
    ds.attrs = {
        "pixel_size": res,
        "pixel_unit": unit,
        "fit_lags_px": list(cfg.fit_lags),
        "fit_factors_px": list(cfg.fit_factors),
        "fit_wavenumbers_cycles_per_px": list(cfg.fit_wavenumbers),
        "min_valid": cfg.min_valid,
        # the image's (y, x) size, which the pair counts are judged against
        # (:func:`_warn_fragmented_clear`)
        "image_shape_px": [int(v) for v in cfg.shape],
    }
    if field_.name is not None:  # an unnamed field records no name (not the string "None")
        ds.attrs["source_name"] = str(field_.name)
    return ds
