"""Input checks and decoding: spatial dims, georeferencing, units, scaled integers, fill values.

The front door of every entry point (:func:`xlstsr.upscale`, :func:`xlstsr.upscale_to_zarr`,
:func:`xlstsr.scaling_stats`, :func:`xlstsr.evaluate`, training) is :func:`select_lst` (which
variable, CRS from the Dataset, a guide named by variable) and :func:`prepare_lst` (that, plus
georeferencing, decoding to Kelvin and the all-NaN check).

Value checks run inside the dask graph on dask inputs (they raise when the block is computed), so
validating never forces a computation.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Hashable
from typing import Any

import dask.array as dsa
import numpy as np
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr

from .errors import (
    AllNaNError,
    GridError,
    MissingCRSError,
    NoSpatialDimsError,
    PhysicalRangeError,
    PhysicalRangeWarning,
    ScaledIntegerError,
    UnitsError,
    VariableNotFoundError,
)

__all__ = [
    "PHYSICAL_RANGE_K",
    "check_factor",
    "decode_guide",
    "decode_lst",
    "prepare_lst",
    "require_georeferenced",
    "require_valid_pixels",
    "select_lst",
    "select_variable",
    "spatial_dims",
]

#: Land surface temperatures outside this range (Kelvin) are not physical on Earth.
PHYSICAL_RANGE_K = (150.0, 400.0)
#: Up to this fraction of valid pixels, at most this many Kelvin above the range, is masked with a
#: warning (fires, sensor artefacts: one real MODIS pair has a 402 K pixel) rather than rejected.
HOT_SPOT_FRACTION = 0.01
HOT_SPOT_MARGIN_K = 50.0

_KELVIN = {"k", "kelvin", "kelvins", "degk", "deg_k", "degrees_k", "degree_kelvin"}
_CELSIUS = {
    "c", "°c", "degc", "deg_c", "celsius", "degree_celsius", "degrees_celsius", "degrees c",
    "deg c", "degree c", "celcius",
}
_FILL_KEYS = ("_FillValue", "missing_value", "nodata", "_Unsigned_fill")


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
        raise NoSpatialDimsError(
            f"no spatial dimensions found in dims {dims}. xlstsr looks for y/x, lat/lon or "
            "latitude/longitude; rename yours (`da.rename({'row': 'y', 'col': 'x'})`) or declare "
            "them with `da.rio.set_spatial_dims(x_dim=..., y_dim=...)`."
        ) from err


def require_georeferenced(da: xr.DataArray, what: str = "input") -> None:
    """Raise unless ``da`` has a CRS and a regular transform (rioxarray conventions)."""
    spatial_dims(da)
    if da.rio.crs is None:
        raise MissingCRSError(
            f"the {what} has no CRS. Set it with rioxarray, e.g. "
            "`da = da.rio.write_crs('EPSG:32631')`, or for MODIS sinusoidal "
            "`da.rio.write_crs(xlstsr.grid.MODIS_SINUSOIDAL)`."
        )
    ydim, xdim = spatial_dims(da)
    for dim in (ydim, xdim):
        if dim not in da.coords or da.sizes[dim] < 2:
            raise MissingCRSError(
                f"the {what} has no coordinates along '{dim}', so its transform is unknown. Assign "
                f"pixel-centre coordinates (`da.assign_coords({dim}=...)`) or write a transform "
                "with `da.rio.write_transform(...)`."
            )
        step = np.diff(np.asarray(da[dim].values, dtype=np.float64))
        if not np.allclose(step, step[0], rtol=1e-6, atol=0):
            raise GridError(
                f"the {what}'s '{dim}' coordinates are not regularly spaced; resample it onto a "
                "regular grid first (`da.rio.reproject(...)`)."
            )


def check_factor(factor: Any) -> int:
    """Return ``factor`` as an int, or raise if it is not a positive integer >= 2."""
    if isinstance(factor, bool) or not isinstance(factor, numbers.Real):
        raise GridError(f"factor must be a positive integer (e.g. 4), got {factor!r}")
    if float(factor) != int(factor) or int(factor) < 1:
        raise GridError(
            f"factor must be a positive integer (e.g. 4 for 1 km -> 250 m), got {factor!r}"
        )
    if int(factor) == 1:
        raise GridError("factor must be >= 2: factor 1 would not change the resolution")
    return int(factor)


def select_variable(ds: xr.Dataset, variable: Hashable | None, role: str = "LST") -> xr.DataArray:
    """Pick the LST (or guide) variable of a Dataset, or raise naming the candidates."""
    names = list(ds.data_vars)
    if variable is not None:
        if variable not in ds.data_vars:
            raise VariableNotFoundError(
                f"variable {variable!r} is not in the Dataset; it has {names}."
            )
        return ds[variable]
    if role == "LST":
        hits = [
            n for n in names
            if ds[n].attrs.get("standard_name") == "surface_temperature"
            or "lst" in str(n).lower()
        ]
        if len(hits) == 1:
            return ds[hits[0]]
    raise VariableNotFoundError(
        f"cannot tell which Dataset variable holds {role}: it has {names}. Name it, e.g. "
        f"`ds.lstsr.upscale(variable={names[0]!r} if names else ..., ...)`."
    )


def _attr(da: xr.DataArray, key: str) -> Any:
    # scale metadata in attrs means the values are still encoded; in encoding, already decoded
    return da.attrs.get(key)


def _fill_values(da: xr.DataArray) -> list[float]:
    fills = []
    for key in _FILL_KEYS:
        v = da.attrs.get(key, da.encoding.get(key) if key != "_FillValue" else None)
        if v is not None:
            fills.extend(np.atleast_1d(np.asarray(v, dtype=np.float64)).tolist())
    try:
        nodata = da.rio.nodata
    except Exception:  # rioxarray raises on inconsistent nodata metadata
        nodata = None
    if nodata is not None and np.isfinite(nodata):
        fills.append(float(nodata))
    return sorted(set(fills))


def _decode_scaled(da: xr.DataArray) -> tuple[xr.DataArray, bool]:
    """Apply fill, valid_range, scale_factor and add_offset found in attrs. Returns (da, scaled)."""
    scale = _attr(da, "scale_factor")
    offset = _attr(da, "add_offset")
    vrange = _attr(da, "valid_range")
    fills = _fill_values(da)
    raw = da.variable.data
    is_int = np.issubdtype(da.dtype, np.integer)
    out_dtype = np.float64 if da.dtype == np.float64 else np.float32
    data = raw.astype(out_dtype)
    bad = None
    for f in fills:
        hit = raw == f
        bad = hit if bad is None else (bad | hit)
    if vrange is not None:
        lo, hi = (float(v) for v in np.asarray(vrange).ravel()[:2])
        hit = (raw < lo) | (raw > hi)
        bad = hit if bad is None else (bad | hit)
    if bad is not None:
        data = _where(bad, np.nan, data)
    if scale is not None:
        data = data * out_dtype(float(np.asarray(scale).ravel()[0]))
    if offset is not None:
        data = data + out_dtype(float(np.asarray(offset).ravel()[0]))
    attrs = {
        k: v for k, v in da.attrs.items()
        if k not in ("scale_factor", "add_offset", "valid_range", "valid_min", "valid_max",
                     *_FILL_KEYS)
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


def _units_kind(units: str | None) -> str | None:
    if units is None:
        return None
    u = str(units).strip().lower().replace("degrees", "deg").replace("degree", "deg")
    u_compact = u.replace(" ", "").replace("_", "")
    if u in _KELVIN or u_compact in {x.replace("_", "") for x in _KELVIN}:
        return "K"
    if u in _CELSIUS or u_compact in {x.replace(" ", "").replace("_", "") for x in _CELSIUS} or u_compact in {"degc", "degcelsius"}:
        return "C"
    raise UnitsError(
        f"unknown LST units {units!r}. xlstsr works in Kelvin and converts degrees Celsius; "
        "set `da.attrs['units'] = 'K'` (or 'degC') after converting."
    )


def _check_lst_block(
    block: np.ndarray,
    *,
    units_known: bool,
    unscaled_int: bool,
    mask_out_of_range: bool,
    physical_range: tuple[float, float],
) -> np.ndarray:
    finite = block[np.isfinite(block)]
    if finite.size == 0:
        return block
    lo, hi = physical_range
    if unscaled_int and np.median(finite) > 1000:
        raise ScaledIntegerError(
            f"integer LST with values around {np.median(finite):.0f} and no scale metadata: these "
            "look like scaled digital numbers (MOD11A1 stores K / 0.02, fill 0). Set "
            "`da.attrs.update(scale_factor=0.02, _FillValue=0)` (or your product's scale), or open "
            "the file with `mask_and_scale=True`."
        )
    if not units_known:
        in_celsius = ((finite > -70) & (finite < 75)).mean()
        if in_celsius > 0.9:
            raise UnitsError(
                "LST has no 'units' attribute and its values (median "
                f"{np.median(finite):.1f}) look like degrees Celsius. Set "
                "`da.attrs['units'] = 'degC'` to convert, or 'K' if they are Kelvin."
            )
    out_of_range = (block < lo) | (block > hi)
    if out_of_range.any():
        if mask_out_of_range:
            return np.where(out_of_range, np.nan, block).astype(block.dtype)
        # a few isolated hot spots (fires, artefacts) just above the range are not a units or
        # scale problem: mask them with a warning instead of failing a whole cube
        hot = block > hi
        if (
            not (block < lo).any()
            and hot.sum() <= HOT_SPOT_FRACTION * finite.size
            and block[hot].max() <= hi + HOT_SPOT_MARGIN_K
        ):
            warnings.warn(
                f"{int(hot.sum())} LST value(s) up to {float(block[hot].max()):.2f} K exceed "
                f"{hi:g} K (hot spots or artefacts) and were masked.",
                PhysicalRangeWarning,
                stacklevel=2,
            )
            return np.where(hot, np.nan, block).astype(block.dtype)
        vmin, vmax = float(finite.min()), float(finite.max())
        if vmax > 1000:
            cause = ("values look scaled (e.g. Kelvin x 10 as ASTER stores it, or MODIS digital "
                     "numbers x 0.02 K): set scale_factor/add_offset attrs")
        elif vmax < lo and vmin > -100:
            cause = "values look like degrees Celsius: set `da.attrs['units'] = 'degC'`"
        else:
            cause = ("a fill value may not be declared: set `da.attrs['_FillValue']` or "
                     "`da.rio.write_nodata(...)`")
        raise PhysicalRangeError(
            f"LST values from {vmin:.2f} to {vmax:.2f} K fall outside the physical range "
            f"{lo:g}-{hi:g} K; {cause}. To mask such pixels instead, pass `mask_out_of_range=True`."
        )
    return block


def decode_lst(
    da: xr.DataArray,
    *,
    mask_out_of_range: bool = False,
    physical_range: tuple[float, float] = PHYSICAL_RANGE_K,
) -> xr.DataArray:
    """Return LST as floating-point Kelvin with NaN gaps; decode scaled integers and Celsius.

    Scale metadata (``scale_factor``, ``add_offset``, ``_FillValue``, ``missing_value``,
    ``valid_range``) is applied when found in ``attrs`` (undecoded data, e.g.
    ``rioxarray.open_rasterio(..., mask_and_scale=False)``); data that xarray already decoded keeps
    it in ``encoding`` and is left alone. Units ``degC``/``celsius``/... are converted to Kelvin.

    Parameters
    ----------
    da : DataArray
        LST, any dims; lazy (dask) arrays stay lazy: value checks raise when computed.
    mask_out_of_range : bool
        Mask values outside ``physical_range`` instead of raising :class:`PhysicalRangeError`.
    physical_range : (float, float)
        Accepted Kelvin range after decoding.

    Examples
    --------
    >>> import xarray as xr, numpy as np
    >>> dn = xr.DataArray(np.array([[0, 15000]], dtype="uint16"), dims=("y", "x"),
    ...                   attrs={"scale_factor": 0.02, "_FillValue": 0})
    >>> decode_lst(dn).values.tolist()
    [[nan, 300.0]]
    """
    unscaled_int = np.issubdtype(da.dtype, np.integer) and _attr(da, "scale_factor") is None
    out, _ = _decode_scaled(da)
    kind = _units_kind(out.attrs.get("units"))
    if kind == "C":
        out = out + out.dtype.type(273.15)
        out.attrs = dict(da.attrs)
    check = dict(
        units_known=kind is not None,
        unscaled_int=unscaled_int,
        mask_out_of_range=mask_out_of_range,
        physical_range=physical_range,
    )
    data = out.variable.data
    if isinstance(data, dsa.Array):
        data = data.map_blocks(_check_lst_block, dtype=data.dtype, **check)
    else:
        data = _check_lst_block(np.asarray(data), **check)
    attrs = {k: v for k, v in out.attrs.items()
             if k not in ("scale_factor", "add_offset", "valid_range", *_FILL_KEYS)}
    attrs.update(units="K", standard_name="surface_temperature")
    result = out.copy(data=data)
    result.attrs = attrs
    return result


def decode_guide(da: xr.DataArray) -> xr.DataArray:
    """Decode a guide band (NDVI, reflectance...): scale, offset and fill values to float NaN."""
    out, _ = _decode_scaled(da)
    return out


def require_valid_pixels(da: xr.DataArray, what: str = "LST") -> None:
    """Raise :class:`AllNaNError` when an in-memory array holds no finite value.

    Dask arrays are not checked (that would compute them): their all-NaN blocks yield NaN.
    """
    data = da.variable.data
    if isinstance(data, dsa.Array):
        return
    if not np.isfinite(np.asarray(data)).any():
        raise AllNaNError(
            f"the {what} holds no valid pixel (all NaN or fill). Check the fill value / QC mask, or "
            "select time steps with data, e.g. `da.dropna('time', how='all')`."
        )


def select_lst(
    obj: xr.DataArray | xr.Dataset,
    variable: Hashable | None = None,
    guide: Any = None,
) -> tuple[xr.DataArray, Any]:
    """The LST DataArray of an input, and its guide resolved.

    A Dataset gives its LST variable (``variable``, or the one variable that looks like LST) with
    the Dataset's CRS written on it, and a guide given as a variable name becomes that variable.
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
        lst = select_variable(obj, variable)
        if isinstance(guide, Hashable) and not isinstance(guide, xr.DataArray) and guide is not None:
            guide = select_variable(obj, guide, role="guide")
        if lst.rio.crs is None and obj.rio.crs is not None:
            lst = lst.rio.write_crs(obj.rio.crs)
        return lst, guide
    if not isinstance(obj, xr.DataArray):
        raise TypeError(
            f"expected an xarray DataArray or Dataset, got {type(obj).__name__}; open files with "
            "xlstsr.io.open_path (Zarr, NetCDF, GeoTIFF) or rioxarray.open_rasterio."
        )
    if isinstance(guide, str):
        raise TypeError("a guide given by name needs a Dataset input; pass the guide DataArray instead")
    return obj, guide


def prepare_lst(
    obj: xr.DataArray | xr.Dataset,
    variable: Hashable | None = None,
    *,
    mask_out_of_range: bool = False,
    what: str = "LST",
) -> xr.DataArray:
    """The front door: select the LST, require a CRS and transform, decode to Kelvin, check that
    an in-memory input holds valid pixels.

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
    require_georeferenced(lst, what)
    kelvin = decode_lst(lst, mask_out_of_range=mask_out_of_range)
    require_valid_pixels(kelvin, what)
    return kelvin
