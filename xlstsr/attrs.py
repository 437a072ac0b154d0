"""Attribute conventions of xlstsr's outputs: which input attributes are kept, which describe
storage or the grid, the long_names xlstsr writes.

:func:`xlstsr.upscale` and :func:`xlstsr.coarsen` keep an input's attributes that describe the
field (``source``, ``history``...) but not those of its storage (:func:`storage_attr`) nor of
its grid (:func:`grid_attr`), and write their own ``long_name`` (:data:`SR_LONG_NAME`,
:data:`COARSE_LONG_NAME`) with the input's kept as ``source_long_name``
(:func:`source_long_name`). A Dataset's global attributes are carried onto its LST variable
and into the files written from a result (:func:`global_attrs`, :func:`with_global_attrs`,
:func:`output_global_attrs`).

Only numpy, xarray and the standard library are imported here: upscale, degrade, validate and
the engine all import this module.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import xarray as xr

__all__ = [
    "COARSE_LONG_NAME",
    "GRID_ATTRS",
    "GUIDE_OFFSET_ATTR",
    "NOT_GLOBAL_ATTRS",
    "SR_LONG_NAME",
    "STATUS_ATTR",
    "UPSCALE_ATTRS",
    "global_attrs",
    "grid_attr",
    "netcdf_attr",
    "output_global_attrs",
    "source_long_name",
    "storage_attr",
    "with_global_attrs",
]


# --- a field's attributes: storage and grid, not kept ----------------------------------------

#: input attributes that describe the stored values (their encoding, links to the CRS and
#: coordinates, names and units), not the field: never kept (the grid's own size and spacing
#: are :data:`GRID_ATTRS`)
_STORAGE_ATTRS = frozenset({
    "scale_factor", "add_offset", "_FillValue", "missing_value", "fill_value", "nodata",
    "valid_range", "valid_min", "valid_max", "actual_range", "_Unsigned", "dtype",
    "grid_mapping", "coordinates", "AREA_OR_POINT", "calibrated_nt", "scale_factor_err",
    "add_offset_err", "Number Type", "units", "standard_name", "long_name",
    # rioxarray's per-band ones (a multi-band file's bands scaled differently, read with
    # mask_and_scale=False): when they were kept, rio.to_raster wrote them as the Kelvin output's band scale
    # (readers saw K x 0.02) or refused a tuple of another length ('One scale for each band')
    "scales", "offsets", "nodatavals",
})
#: the prefix of GDAL's band statistics (``STATISTICS_MINIMUM``/``MAXIMUM``/``MEAN``/``STDDEV``/
#: ``VALID_PERCENT``..., read by rioxarray from a GeoTIFF's metadata): the input's values, which
#: ``rio.to_raster`` wrote into the output file as its own
_STATISTICS_PREFIX = "STATISTICS_"
#: the prefix of GDAL's TIFF baseline tags (``TIFFTAG_SOFTWARE``/``DATETIME``/
#: ``IMAGEDESCRIPTION``/``ARTIST``..., read by rioxarray from a GeoTIFF): the input file's own
#: record, which ``rio.to_raster`` wrote into the output as if the input's software had made
#: it at the input's date
_TIFFTAG_PREFIX = "TIFFTAG_"
#: the state of the store of an upscale_to_zarr run, on its root and (until the run completes)
#: on its variable ("incomplete: ... complete it with mode='resume'"): it describes that store,
#: not the field. A copy of the store loaded into memory keeps it (xlstsr.io.zarr refuses the
#: copy's unwritten-looking steps by it); an output made from the store's steps (upscale's
#: result, to_cogs' files) is no copy of an unfinished store: it carried the attribute as a
#: tag, and open_cog's series of those complete files was refused as one
STATUS_ATTR = "xlstsr_status"


def storage_attr(key: Hashable) -> bool:
    """Whether the input attribute ``key`` describes the stored values or the file that held
    them (:data:`_STORAGE_ATTRS`, GDAL's ``STATISTICS_*`` and ``TIFFTAG_*``, a store's
    :data:`STATUS_ATTR`), not the field: never kept by upscale nor coarsen.

    Examples
    --------
    >>> storage_attr("scale_factor"), storage_attr("STATISTICS_MAXIMUM"), storage_attr("source")
    (True, True, False)
    >>> storage_attr("TIFFTAG_SOFTWARE"), storage_attr("xlstsr_status")
    (True, True)
    """
    k = str(key).upper()
    return (str(key) in _STORAGE_ATTRS or str(key) == STATUS_ATTR
            or k.startswith((_STATISTICS_PREFIX, _TIFFTAG_PREFIX)))


#: attribute names that describe a field's grid rather than the field: its transform and its
#: pixel size in the spellings readers and conventions use (a reader's ``resolution_m``, CF/ACDD's
#: ``geospatial_lat_resolution``, ``spatial_resolution``). They are the input's, not those of a
#: field on another grid: an upscaled result, or a file written from one, that kept them said
#: "1 km" of 250 m pixels. Temporal ones (``temporal_resolution``,
#: ``time_coverage_resolution``) still describe it, so a name is matched whole (:func:`grid_attr`)
GRID_ATTRS = frozenset({
    "resolution", "resolution_m", "res", "transform", "geotransform",
    "spatial_resolution", "spatial_resolution_m", "horizontal_resolution",
    "geospatial_lat_resolution", "geospatial_lon_resolution",
    "geospatial_x_resolution", "geospatial_y_resolution",
    "pixel_size", "pixel_size_m", "cell_size", "cellsize", "xres", "yres",
    "x_resolution", "y_resolution", "resolution_x", "resolution_y",
})


def grid_attr(key: Any) -> bool:
    """Whether the attribute ``key`` describes the grid (:data:`GRID_ATTRS`, any case).

    Examples
    --------
    >>> grid_attr("geospatial_lat_resolution"), grid_attr("GeoTransform"), grid_attr("res")
    (True, True, True)
    >>> grid_attr("temporal_resolution"), grid_attr("time_coverage_resolution")
    (False, False)
    """
    return str(key).lower() in GRID_ATTRS


# --- what xlstsr writes of its own -------------------------------------------------------------

#: the attribute that records as JSON what ``guide_offset`` did: on a guided result (upscale),
#: and in upscale_to_zarr's store's root the offset its run measured and applied (the
#: :func:`xlstsr.estimate_offset` Dataset, floats kept exactly), which a resume on the same
#: data opened lazily applies again
GUIDE_OFFSET_ATTR = "xlstsr_guide_offset"

#: an upscaled field's long_name (as before xlstsr kept the input's own text beside it)
SR_LONG_NAME = "land surface temperature (super-resolved)"
#: a coarsened field's long_name (the input's own is kept as ``source_long_name``)
COARSE_LONG_NAME = "land surface temperature (radiometrically aggregated)"
#: what upscale records of how its output was made: not carried to a coarsened field
UPSCALE_ATTRS = frozenset({"xlstsr_method", "xlstsr_factor", "xlstsr_options",
                           "xlstsr_scale_correction"})


def source_long_name(kept: Mapping[Hashable, Any]) -> str | None:
    """The input's own long_name, kept as ``source_long_name`` (the only record of which
    product, day or night: 'MOD11A1 v061 nighttime LST'); not the long_name itself, which
    then said 'LST at 1 km' of a 250 m field or '(degC)' of one converted to K. An earlier
    upscale's or coarsen's output (long_name xlstsr's own) passes its ``source_long_name`` on
    (a coarsened night field upscaled lost 'nighttime'); a multi-band
    file's tuple of band descriptions is none (the CLI writes those back itself)."""
    text = kept.get("long_name")
    text = text.strip() if isinstance(text, str) else ""
    # xlstsr's own long_names (upscale's, coarsen's) name no product: the earlier one passes on
    if text and text not in (SR_LONG_NAME, COARSE_LONG_NAME):
        return text
    earlier = kept.get("source_long_name")
    return earlier.strip() if isinstance(earlier, str) and earlier.strip() else None


# --- a Dataset's global attributes ---------------------------------------------------------------

#: global attributes of a file that are not carried onto its variable: how a variable is
#: stored or what it measures (a global ``scale_factor`` would decode the LST with it), the
#: grid's own, and a store's records of the run that wrote it (``xlstsr_fingerprint``...)
NOT_GLOBAL_ATTRS = frozenset({
    "scale_factor", "add_offset", "_FillValue", "missing_value", "fill_value", "nodata",
    "_Unsigned", "valid_range", "valid_min", "valid_max", "units", "standard_name",
    "long_name", "grid_mapping", "coordinates", "calendar", "crs", "spatial_ref", "transform",
    "nodatavals", "scales", "offsets",
})


def netcdf_attr(value: Any) -> Any:
    """An attribute value as NetCDF can hold it: strings, numbers and 1-D numeric lists as they
    are, anything else (a dict, a bool, a list of strings: Zarr's JSON attributes) as JSON text.

    Examples
    --------
    >>> netcdf_attr({"collection": "mod11a1"}), netcdf_attr(np.bool_(True)), netcdf_attr(2.5)
    ('{"collection": "mod11a1"}', 'true', 2.5)
    """
    if isinstance(value, (str, int, float, np.number)) and not isinstance(value, (bool, np.bool_)):
        return value
    if isinstance(value, (list, tuple, np.ndarray)):
        a = np.asarray(value)
        if a.ndim == 1 and a.dtype.kind in "iuf" and a.size > 0:
            return value

    def plain(v: Any) -> Any:
        # numpy scalars and arrays as the Python values they hold: str() wrote np.bool_(True)
        # as '"True"' (quotes included), where a bool is 'true'
        if isinstance(v, (np.generic, np.ndarray)):
            return v.tolist()
        return str(v)

    return json.dumps(value, default=plain)


def global_attrs(attrs: Mapping[Any, Any], *, as_netcdf: bool = True) -> dict[Any, Any]:
    """The global attributes of a Dataset that describe it (``source``, ``title``,
    ``history``...): not how a variable is stored or what it measures, nor its grid (a file
    written from them may be on another: :func:`grid_attr`), nor a store's records of the run
    that wrote it (:data:`NOT_GLOBAL_ATTRS`, ``xlstsr_*``). With ``as_netcdf`` (the default: a
    result in memory may be written with ``to_netcdf``), values NetCDF cannot hold as JSON text
    (:func:`netcdf_attr`: a Zarr store's dict or bool attributes, carried onto the result,
    made its ``to_netcdf`` fail); ``as_netcdf=False`` keeps them as they are, for a Zarr store
    (which holds booleans and lists: written as JSON text they came back as strings) or a
    writer that converts them itself."""
    keep = {k: v for k, v in attrs.items()
            if k not in NOT_GLOBAL_ATTRS and not grid_attr(k)
            and not str(k).startswith("xlstsr_")}
    return {k: netcdf_attr(v) for k, v in keep.items()} if as_netcdf else keep


def output_global_attrs(attrs: Mapping[Any, Any], result: xr.DataArray, *,
                        as_netcdf: bool = True) -> dict[Any, Any]:
    """The global attributes of a file written from ``result``, computed from an input of
    global ``attrs``: the input's (:func:`global_attrs`, ``as_netcdf`` as there) with
    ``history`` the result's (the input's chain and a line for this run); none for an input
    without them (a DataArray)."""
    out = global_attrs(attrs, as_netcdf=as_netcdf)
    if out and result.attrs.get("history"):
        out["history"] = result.attrs["history"]
    return out


def with_global_attrs(lst: xr.DataArray, attrs: Mapping[Any, Any], *,
                      as_netcdf: bool = True) -> xr.DataArray:
    """``lst`` with a Dataset's global attributes (``source``, ``title``, ``Conventions``,
    ``institution``...) under its own, which win, and the global ``history`` before its own: a
    Dataset's metadata lived in the file's global attributes (CF puts ``history`` there), which
    were dropped, the output's history started afresh. Storage, units, the grid's description
    (:func:`grid_attr`) and store bookkeeping (:data:`NOT_GLOBAL_ATTRS`, ``xlstsr_*``) are not
    carried. ``as_netcdf``: as :func:`global_attrs` (False for a result written to Zarr).

    Examples
    --------
    >>> da = xr.DataArray(np.zeros((2, 2)), dims=("y", "x"), attrs={"units": "K", "history": "b"})
    >>> with_global_attrs(da, {"source": "MODIS", "history": "a", "units": "1"}).attrs
    {'source': 'MODIS', 'history': 'a\\nb', 'units': 'K'}
    """
    glob = global_attrs(attrs, as_netcdf=as_netcdf)
    if not glob:
        return lst
    merged = {**glob, **lst.attrs}
    hist = [str(h) for h in (glob.get("history"), lst.attrs.get("history")) if h]
    if len(hist) == 2 and hist[0] not in hist[1]:  # the variable's own history already
        # holding the file's (a result of xlstsr written back) is not repeated
        merged["history"] = "\n".join(hist)
    elif hist:
        merged["history"] = hist[-1]
    out = lst.copy(deep=False)
    out.attrs = merged
    return out
