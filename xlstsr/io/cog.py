"""Cloud-optimised GeoTIFFs: lazy reading (rioxarray + dask) and one COG per time step out."""

from __future__ import annotations

import glob
import json
import os
import re
import warnings
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio.errors
import rioxarray
import xarray as xr
from affine import Affine
from rasterio._err import CPLE_BaseError

from ..errors import InputNotFoundError, InputTypeError, PhysicalRangeError, XlstsrError, warn
from ..grid import _fit_axis, _forms, _near, _rounded, _transform
from ..qc import TEMPERATURE_DIFFERENCE
from ..validate import (
    _written_transform,
    check_bool,
    decoded_label,
    image_order,
    require_georeferenced,
    spatial_dims,
    spatial_names,
    stored_values,
)
from .formats import absolute_path, check_writable
from .zarr import STATUS_ATTR, file_uri_path, refuse_incomplete_inputs

__all__ = ["open_cog", "to_cogs"]

PathLike = str | os.PathLike


def _series_pattern(name: str) -> str:
    """The regular expression of the series a file's name belongs to: its name with each run
    of digits (a date, a day of year, a pair's number) as ``\\d+``: to_cogs'
    ``sr_2020-01-01.tif`` and ``sr_nearest_2020-01-01.tif`` are the series
    ``sr_\\d+-\\d+-\\d+\\.tif`` and ``sr_nearest_\\d+-...`` ('sr_*.tif' matched both). A glob
    cannot say "digits only": its ``[0-9]*`` is one digit then anything, which matched
    ``sr_2_2020-01-01.tif`` and ``sr_2020-01-05_mask.tif`` too."""
    # a '-' outside a set is no special character: left bare, as the names read
    return "".join(r"\d+" if part.isdigit() else re.escape(part).replace("\\-", "-")
                   for part in re.split(r"(\d+)", name) if part)


def _raw(rx: str) -> str:
    """``rx`` as a Python literal, raw (``r'sr_\\d+\\.tif'``) where it can be."""
    return f"r'{rx}'" if "'" not in rx and not rx.endswith("\\") else repr(rx)


def _series_advice(files: Sequence[str], given: str, folder: bool = False) -> str:
    """Code that opens one series of ``files`` (a folder's or a wildcard's .tif), each series
    named by its own pattern (:func:`_series_pattern`) and read with ``re.fullmatch``, so
    that the code reads the very files counted: a folder holding ``sr_*`` and
    ``sr_nearest_*`` read with ``*.tif`` mixed two runs and was refused for repeated dates,
    and ``times=...`` in the code failed as written ('times must be a list')."""
    groups: dict[str, int] = {}
    for f in sorted(files):
        pat = _series_pattern(os.path.basename(f))
        groups[pat] = groups.get(pat, 0) + 1
    where = given if folder else os.path.dirname(given) or "."
    # the largest series first
    pats = sorted(groups.items(), key=lambda kv: -kv[1])
    if not folder and len(pats) <= 1:  # the pattern's files are one series: it reads them
        code = f"`open_cog(sorted(glob.glob({given!r})))` (import glob)"
    elif not pats:  # nothing matched: a folder's .tif, else the user's own pattern
        code = (f"`open_cog(sorted(pathlib.Path({where!r}).glob("
                f"{'*.tif' if folder else os.path.basename(given)!r})))` (import pathlib)")
    elif folder:
        code = (f"`open_cog(sorted(p for p in pathlib.Path({where!r}).iterdir() "
                f"if re.fullmatch({_raw(pats[0][0])}, p.name)))` (import pathlib, re)")
    else:  # the user's own wildcard, then the series (the folder listed whole read files
        # past the wildcard: sr_2021-01-01 for sr_*2020*.tif; a wildcard folder was no path)
        code = (f"`open_cog(sorted(p for p in glob.glob({given!r}) "
                f"if re.fullmatch({_raw(pats[0][0])}, os.path.basename(p))))` "
                "(import glob, os, re)")
    text = f"e.g. {code}"
    if len(pats) > 1:
        shown = ", ".join(f"{_raw(p)}: {n} file(s)" for p, n in pats[:6])
        text = (f"one series at a time: they form {len(pats)} series (regular expressions of "
                f"their names: {shown}" + (", ..." if len(pats) > 6 else "")
                + f"; .glob('*.tif') would read them all as one), e.g. {code}, and so on "
                "with the other patterns")
    # what open_cog dates files by without times=: LST2006_01_01.LST_Day_1km.tif names
    # came back as steps 0, 1, ... though the advice said their names dated them
    return (text + "; open_cog dates the files by their time tags (to_cogs and `xlstsr "
            "upscale ... out.tif` write them) or MODIS-style names (.AYYYYDDD., e.g. "
            "MOD11A1.A2020001.), else numbers them 0, 1, ...: for other files add times=[...] "
            "(a date per file, in the order given).")


def open_cog(
    path: PathLike | Sequence[PathLike],
    chunks: Any = "auto",
    *,
    times: Sequence[Any] | None = None,
    masked: bool = True,
    band: int | None = None,
) -> xr.DataArray:
    """Open one COG/GeoTIFF (or several, stacked along ``time``) lazily with dask chunks.

    Parameters
    ----------
    path : path or list of paths
        GeoTIFF file(s) (local path, ``file://`` URL, or any URL GDAL reads, e.g.
        ``/vsicurl/...`` or ``https://``).
        Several files must share a grid; they are stacked along a new ``time`` dimension.
        A page of a multi-page TIFF is named as GDAL names it, ``GTIFF_DIR:<n>:<file>``
        (the file itself is refused: read as one raster it kept its last page only), and
        rendered images (palette, red/green/blue/alpha bands without units or scale) are
        refused.
    chunks : dict, int, "auto", True or None
        Dask chunks as for :func:`rioxarray.open_rasterio` (``{"x": 512, "y": 512}``...). Use the
        COG's internal tiling (a multiple of it) for efficient reads; ``True`` or ``{}`` does:
        whole blocks, grown to about 1024 pixels a side (one-row strips too), all bands at once
        in pixel-interleaved files. ``None`` reads eagerly.
    times : sequence, optional
        Values of the ``time`` coordinate, one per path (default: the labels :func:`to_cogs`
        or ``xlstsr upscale ... out.tif`` wrote in the files' tags, the series then put in
        the order of these labels when they are dates or numbers (files listed in another
        order, ``os.listdir``'s, come back in time order; text labels keep the files' order);
        else the dates of
        MODIS-style names, ``.AYYYYDDD.``, the series then put in date order (names of
        several products, ``MOD11A1.`` and ``MYD11A1.``, are refused); else 0, 1, ...;
        one such file alone has none (its date: ``[path]``, a list of one, or
        :func:`xlstsr.io.modis.granule_time`); the files of a
        stacked cube whose dates repeat, day and night, come back stacked as written, e.g.
        ``(t, y, x)`` with the levels ``time`` and ``overpass``). Without ``times``,
        files of different MODIS layers (``LST_Day_1km`` and ``LST_Night_1km``, by name or
        ``source_subdataset`` tag) are refused: one stack is one layer. With one path,
        one per band of a multi-band file (its bands become the time steps), or a ``time`` dim
        of length 1. Dates (strings, datetimes, zone-aware ones converted to
        UTC) become datetime64; repeated values are refused. Without ``times``, a file whose
        time tag falls outside the days its MODIS-style name's date covers (``MOD11A1.A2020100``
        tagged 2020-07-01: a renamed copy) is refused.
    masked : bool
        Nodata -> NaN. Scale metadata (``scale_factor``/``add_offset``) is left in ``attrs``;
        :func:`xlstsr.upscale` decodes it.
    band : int, optional
        Select this band (1-based) of a multi-band file. Single-band files lose the ``band`` dim.
        A band dated by the file (its description ``LST_Day_2020_07_02``, or xlstsr's tags)
        keeps its date as a scalar ``time`` (``drop_vars('time')`` to use it as a guide of
        any date).

    Returns
    -------
    DataArray
        ``(y, x)``, ``(band, y, x)`` or ``(time, y, x)`` (a stacked dim for the files of a
        stacked cube, above), with CRS and transform; a file whose tags name another dim for
        its bands (``xlstsr upscale`` of one date's ``(overpass, y, x)`` field) comes back
        along that dim, its date a scalar ``time`` (several such files: stacked along
        ``time``). A stack keeps the attributes all its files hold alike (``units``...; one
        file's own, such as ``windows``, are dropped; files of different ``xlstsr_method``,
        an earlier run's files read with a rerun's, are warned of); a ``source`` /
        ``source_granule`` of each file is kept one per step, in step order (``"a.hdf, b.hdf"``, as
        :func:`xlstsr.io.open_modis` joins its granules). A file whose ``source_subdataset``
        or ``long_name`` tag names a MODIS layer of one overpass (``LST_Night_1km``; else,
        without band descriptions, its file name: ``..._LST_Night_1km.tif``, ``MOD21A1N...``)
        gets a ``day_night`` attribute (``"night"``), as :func:`xlstsr.io.open_modis` gives one, for
        the day/night pairing checks; files of distinct time tags each of its own overpass
        (:func:`to_cogs` of a series interleaving day and night steps), or of ``times=``, and
        the bands of ``xlstsr upscale ... out.tif`` of such a series (each band's overpass
        tagged), come back with an ``overpass`` coordinate along ``time`` where both
        overpasses are among them. Other files of different layers or overpasses, and files whose
        time tags repeat a date (two runs of one day) that are no stack :func:`to_cogs` wrote,
        are refused unless ``times=`` says which is which.

    Examples
    --------
    >>> lst = open_cog("MOD11A1_LST.tif", chunks={"x": 512, "y": 512})  # doctest: +SKIP
    >>> sr = lst.lstsr.upscale(4)  # doctest: +SKIP
    """
    check_chunks(chunks)
    check_bool("masked", masked)
    if isinstance(chunks, dict) and not set(chunks) <= {"band", "y", "x", "time"}:
        raise XlstsrError(
            f"chunks names {sorted(set(map(str, chunks)) - {'band', 'y', 'x', 'time'})}, which "
            "are not dims of a GeoTIFF cube: use 'band', 'y', 'x' and, for several files, "
            "'time' (e.g. chunks={'time': 1, 'y': 512, 'x': 512})."
        )
    if path is None or isinstance(path, (bytes, xr.DataArray, xr.Dataset)) or (
            not isinstance(path, (str, os.PathLike)) and not hasattr(path, "__iter__")):
        raise InputTypeError(f"open_cog takes a path or a list of paths, got "
                             f"{type(path).__name__}; e.g. open_cog('lst.tif') or "
                             "open_cog(sorted(glob.glob('lst_*.tif')))")
    if isinstance(path, dict):  # iterating a {date: path} dict gave its dates as paths
        raise InputTypeError("open_cog got a dict: pass its files and dates apart, e.g. "
                             "open_cog(list(d.values()), times=list(d.keys()))")
    # a file:// URL (percent-encoded, as Path.as_uri() writes it) is a local file: GDAL read
    # it undecoded ("my%20data") or not at all
    if isinstance(path, (str, os.PathLike)):
        path = file_uri_path(path) or path
    else:
        path = [file_uri_path(p) or p for p in path]
    if isinstance(path, (str, os.PathLike)) and times is not None:
        if band is None and hasattr(times, "__len__") and not isinstance(times, (str, bytes)) \
                and len(times) > 1:
            # one file of several bands, one per time step (SEVIRI's 96 quarter hours a day):
            # the bands become the time steps (was "96 times for 1 paths")
            da = _open_file(path, chunks, masked, None, check_name=False)
            if "band" in da.dims and da.sizes["band"] == len(times):
                out = da.rename(band="time").assign_coords(time=_time_labels(list(times)))
                return out.rio.write_crs(da.rio.crs) if da.rio.crs is not None else out
            if "time" in da.dims and da.sizes["time"] == len(times):
                # bands whose tags or descriptions dated them came back as time steps
                # already: the given times label them (was "3 times for 1 band(s)")
                out = da.assign_coords(time=_time_labels(list(times)))
                return out.rio.write_crs(da.rio.crs) if da.rio.crs is not None else out
            n = next((da.sizes[d] for d in da.dims if d not in ("y", "x")), 1)
            raise XlstsrError(
                f"{len(times)} times for one file of {n} band(s): give one "
                "time per band of a multi-band file, or one per file of a list of files.")
        # a single file with times= lost them without a word: a cube of one time step
        return open_cog([path], chunks, times=times, masked=masked, band=band)
    if isinstance(path, (str, os.PathLike)):
        # a MODIS-named file alone is not dated by its name: a scalar date made an LST and a
        # guide layer of another date conflict in one Dataset (xr.merge's MergeError)
        return _open_file(path, chunks, masked, band)
    paths = list(path)
    if isinstance(times, (str, bytes)) or (times is not None and not hasattr(times, "__iter__")):
        raise XlstsrError(f"times must be a list with one time per path, got {times!r}; e.g. "
                          "times=['2020-01-01', '2020-01-02']")
    times = list(times) if times is not None else None  # a generator has no len()
    if not paths:
        raise XlstsrError("open_cog got an empty list of paths")
    if times is not None and len(times) != len(paths):
        raise XlstsrError(f"{len(times)} times for {len(paths)} paths; give one time per path")
    if times is not None:
        times = _time_labels(times)
    # given times date the files: a time tag that contradicts a name is not read then
    arrays = [_open_file(p, chunks, masked, band, check_name=times is None) for p in paths]
    _same_grid(paths, arrays)
    _same_coding(paths, arrays, masked)
    _warn_mixed_methods(paths, arrays)
    # given times say which file is which step (day and night alternating); a stack to_cogs
    # wrote ((time, overpass)) is checked only where it is not restacked as written, below
    untimed = times is None
    if untimed:
        _same_layer(paths, arrays, stacks=False)
    if any("time" in a.dims for a in arrays):  # files of several dated bands each
        if times is not None or not all("time" in a.dims for a in arrays):
            raise XlstsrError(
                "some of the files hold several dated steps each (bands with dates in their "
                "tags) and times= or files of one step are given with them: open each file "
                "with open_cog and join them with `xr.concat(..., dim='time')`."
            )
        arrays = _with_band_overpasses(paths, arrays)
        arrays, sources = _with_sources(arrays, "time")
        out = xr.concat(arrays, dim="time", join="override", combine_attrs=_common_attrs)
        if out.indexes["time"].has_duplicates:
            raise XlstsrError("the files repeat dates: give each date once")
        out = _joined_sources(_in_label_order(out), sources)
        return out.rio.write_crs(arrays[0].rio.crs) if arrays[0].rio.crs is not None else out
    tagged = [a.coords["time"].values[()] if "time" in a.coords else None for a in arrays]
    by_tag = times is None and None not in tagged and len(set(tagged)) == len(tagged)
    if by_tag:
        times = tagged  # files of to_cogs: their dates (or labels) come back
    elif times is None and None not in tagged:
        # files of to_cogs of a stacked cube (`da.stack(t=('time', 'overpass'))`) whose
        # dates repeat: the stack as written (they came back as steps 0, 1, ...)
        out = _restack(arrays, tagged)
        if out is not None:
            dim = out.dims[0]
            if isinstance(chunks, dict) and "time" in chunks:
                out = out.chunk({dim: chunks["time"]})
            crs = arrays[0].rio.crs
            return out.rio.write_crs(crs) if crs is not None else out
        if all(isinstance(t, np.datetime64) or hasattr(t, "calendar") for t in tagged):
            # dates repeated and no stack of them (two runs of one day: Terra and Aqua):
            # they came back as undated steps 0, 1, without a word (step numbers of undated
            # runs, repeated, are numbered again as before)
            repeated = sorted({str(t) for t in tagged if tagged.count(t) > 1})
            raise XlstsrError(
                f"the files repeat dates in their time tags ({', '.join(repeated[:3])}): one "
                "stack holds each date once. Open the files of one series (e.g. one "
                "satellite's, one overpass's), or pass times= to say which file is which "
                "step.")
    if untimed and any(a.encoding.get(_STACK_ENCODING) for a in arrays):
        # a stack of to_cogs not restacked: its files are checked as any (the others were)
        _same_layer(paths, arrays, stacks=True)
    by_name = False
    if times is None:
        times = _granule_dates(paths)
        by_name = times is not None
    # each file's own overpass where they differ (day and night steps interleaved): the
    # stack keeps only the attributes all files share, so their day_night tags were lost
    from ..steps import _day_night

    overpasses = [_day_night(a)[0] for a in arrays]
    interleaved = ("overpass" not in arrays[0].coords and set(overpasses) == {"day", "night"})
    arrays = [a.drop_vars("time", errors="ignore") for a in arrays]
    arrays, sources = _with_sources(arrays, "time")
    # the grids were checked equal (to 1e-6 pixel): rounding in the coordinates is not a new grid
    # (attrs: those of every file; one file's source_granule was the whole stack's)
    out = xr.concat(arrays, dim="time", join="override", combine_attrs=_common_attrs)
    out = out.assign_coords(time=list(times) if times is not None else np.arange(len(arrays)))
    if interleaved and "overpass" not in out.coords:
        # as steps._overpass_labels reads a series of both (and _restack labels a stack)
        out = out.assign_coords(overpass=("time", overpasses))
    if by_name:  # files in any order (a glob's): the series in date order
        out = out.sortby("time")
    elif by_tag:  # tagged dates or numbers in any order (os.listdir's): in their order
        out = _in_label_order(out)
    out = _joined_sources(out, sources)
    if isinstance(chunks, dict) and "time" in chunks:
        out = out.chunk({"time": chunks["time"]})
    crs = arrays[0].rio.crs
    return out.rio.write_crs(crs) if crs is not None else out


def _open_file(path: PathLike, chunks: Any, masked: bool, band: int | None,
               check_name: bool = True) -> xr.DataArray:
    """One GeoTIFF as :func:`open_cog` opens it, dated only by its own tags or band
    descriptions (a list of MODIS-named files is dated by their names together, in date
    order), with a ``day_night`` attribute where a MODIS layer of one overpass is named
    (:func:`_tagged_day_night`) by its tags, else by every one of its bands' descriptions
    alike, else, where it has no band descriptions, by its file name
    (``MOD11A1.A2020208.h18v04.061_LST_Night_1km.tif``, MOD21A1N's). With ``check_name``, a
    time tag outside the window of the date in its MODIS-style name is refused
    (:func:`_check_name_date`)."""
    da = _read_file(path, chunks, masked, band, check_name)
    if "day_night" not in da.attrs:
        described = da.coords.get(DESCRIPTION_COORD)
        texts = ([str(t) for t in np.ravel(described.values)] if described is not None
                 else [])
        # its tags, else its bands' descriptions when every one names the same overpass (a
        # night stack 'LST_Night_1km_2020_07_01'...: band=1 was labelled, the whole file not;
        # ('NDVI', 'LST_Day_1km') is of no one overpass)
        each = {_tagged_day_night({"long_name": t}) for t in texts}
        dn = _tagged_day_night(da.attrs) or (
            each.pop() if len(each) == 1 and None not in each else None)
        if dn is None and not texts:
            # else its name ('MOD11A1.A2020208.h18v04.061_LST_Night_1km.tif', as AppEEARS and
            # cloud catalogues name untagged files; MOD21A1N's): a night field scored against
            # a day truth was not warned, nor a night calibration applied to day fields refused
            from .modis import _day_night

            name = Path(os.fspath(path)).name
            dn = _tagged_day_night({"long_name": name}) or _day_night(Path(name), "")
        if dn is not None:
            # the pairing checks warn about a night field scored against a day one: the
            # layer's name ('LST_Night_1km') was in tags only, which upscale replaces
            da.attrs["day_night"] = dn
    return da


def _tagged_day_night(attrs: dict[str, Any]) -> str | None:
    """'day' or 'night' for a file whose ``source_subdataset`` or ``long_name`` tag names a
    MODIS layer of one overpass (:data:`_LAYER`: ``LST_Night_1km``, ``QC_Day``...), else None
    (other names are not read: 'day_of_year' is no overpass).

    Examples
    --------
    >>> _tagged_day_night({"long_name": "LST_Night_1km"})
    'night'
    >>> _tagged_day_night({"long_name": "Emis_31"}) is None
    True
    """
    for key in ("source_subdataset", "long_name"):
        text = attrs.get(key)
        if not isinstance(text, str):
            continue
        # every layer the tag names ('LST_Day_1km - LST_Night_1km' is of no one overpass)
        found = {w for m in _LAYER.finditer(text) for w in ("day", "night")
                 if w in m.group(1).lower()}
        if len(found) == 1:
            return found.pop()
    return None


def _read_file(path: PathLike, chunks: Any, masked: bool, band: int | None,
               check_name: bool = True) -> xr.DataArray:
    """:func:`_open_file` without the ``day_night`` attribute."""
    local = "://" not in os.fspath(path) and not os.fspath(path).startswith("/vsi")
    page = _PAGE.match(os.fspath(path)) if isinstance(path, str) else None
    if page is not None:
        # one page of a multi-page TIFF (the advice of _check_pages): GDAL reads it, and the
        # file's own checks (truncation, format) do not apply to the page's name
        local = False
        inner = page.group(2)
        if "://" not in inner and not inner.startswith("/vsi"):
            if not Path(inner).exists():
                raise InputNotFoundError(f"no such GeoTIFF file: {inner} (in {path}); check "
                                         "the path.")
            path = f"GTIFF_DIR:{page.group(1)}:{absolute_path(inner)}"
    if local:  # GDAL does not expand "~"; a dask worker elsewhere reads absolute paths
        path = absolute_path(path)
    if local and not Path(path).exists():  # rasterio's own error is not an XlstsrError
        if glob.has_magic(os.fspath(path)):
            raise InputNotFoundError(
                f"no such GeoTIFF file: {os.fspath(path)}: open_cog does not expand "
                "wildcards; pass the list of files, "
                + _series_advice(glob.glob(os.fspath(path)), os.fspath(path)))
        raise InputNotFoundError(f"no such GeoTIFF file: {os.fspath(path)}; check the path.")
    if local and Path(path).is_dir():  # GDAL's "not recognized as a supported format"
        found = [os.fspath(f) for f in Path(path).glob("*.tif")]
        raise InputNotFoundError(
            f"{os.fspath(path)} is a folder ({len(found)} .tif files in it), not a GeoTIFF: "
            "pass its files, " + _series_advice(found, os.fspath(path), folder=True))
    if local and Path(path).suffix.lower() in (".hdf", ".hdf4", ".h4"):
        # GDAL in rasterio's wheels has no HDF4 driver: "not recognized as a supported
        # file format" does not say where to go
        raise XlstsrError(
            f"{os.fspath(path)} is an HDF4 file, not a GeoTIFF: open a MODIS granule with "
            "`xlstsr.io.open_modis(path, 'LST_Day_1km')` (or xlstsr.io.open_path), which "
            "reads HDF4 without GDAL's HDF4 driver."
        )
    if local:
        _check_format(path)
    try:
        if isinstance(chunks, dict) and "time" in chunks:  # a file is one time step
            chunks = {k: v for k, v in chunks.items() if k != "time"}
        if chunks is True or (isinstance(chunks, dict) and not chunks):
            chunks = _file_chunks(path)
        elif chunks == "auto":  # as a dict: rioxarray's own "auto" warns in recent xarray
            chunks = {"band": 1, "y": "auto", "x": "auto"}
        da = rioxarray.open_rasterio(path, chunks=chunks, masked=masked)
    except (OSError, ValueError) as err:
        # RasterioIOError: not a raster GDAL reads; ValueError: a NetCDF's own decoding
        raise XlstsrError(
            f"cannot read {os.fspath(path)} as a GeoTIFF ({err}); check that the file is a "
            "complete GeoTIFF/COG (`gdalinfo` opens it); a NetCDF or Zarr file opens with "
            "`xr.open_dataset`."
        ) from err
    if isinstance(da, (list, xr.Dataset)):
        # several subdatasets: the pages of a multi-page TIFF (a Dataset whose variables
        # share one name, so that only the last page was left) or a NetCDF's groups
        _check_pages(path)
        if isinstance(da, list):
            raise XlstsrError(f"{os.fspath(path)} holds several groups, not one GeoTIFF "
                              "raster: open it with `xr.open_dataset(path, group=...)`.")
        raise XlstsrError(
            f"{os.fspath(path)} holds several subdatasets ({', '.join(map(str, da.data_vars))}), "
            "not one GeoTIFF raster: open it with `xr.open_dataset(path)` and pick the "
            "variable, or pass one subdataset's GDAL name (`gdalinfo` lists them).")
    if local:
        _check_complete(path)
    da = _file_labels(da)
    _check_rendered(path, da)
    steps = (_tagged_band_times(da.attrs, da.sizes["band"]) if "band" in da.dims
             else None)
    # each dated band's overpass (`xlstsr upscale series.nc out.tif` of day and night steps
    # interleaved): an `overpass` coordinate along time again, as to_cogs' files give one
    overpasses = (_tagged_band_overpasses(da.attrs, da.sizes["band"])
                  if steps is not None and da.attrs.get(BAND_DIM_TAG) is None else None)
    # bands along another dim than time (band_dim_tags): that dim, and the file's own date
    dim = da.attrs.get(BAND_DIM_TAG)
    if not (isinstance(dim, str) and dim and "band" in da.dims
            and dim not in (*da.dims, *da.coords, "time")):
        dim = None
    da.attrs = {k: v for k, v in da.attrs.items() if k not in (BANDS_TAG, BAND_DIM_TAG)}
    own = _tagged_time(da.attrs) if dim is not None else None
    if check_name and own is not None:
        _check_name_date(path, own)
    # the bands' own descriptions (an Earth Engine / gdal_merge / QGIS stack's dates or
    # names): read as a tuple into attrs['long_name'], which upscale overwrote
    described = _band_descriptions(da)
    if described is not None:
        da.attrs = {k: v for k, v in da.attrs.items() if k != "long_name"}
    if band is not None:
        if isinstance(band, bool) or "band" not in da.dims or band not in da["band"].values:
            n = da.sizes.get("band", 1)
            raise XlstsrError(f"{os.fspath(path)} has no band {band!r} (it has {n}; bands "
                              f"are numbered from 1): pass `band=` 1 to {n}.")
        index = list(da["band"].values).index(band)
        picked = None if steps is None else steps[index]
        da = _band_coding(da.sel(band=band, drop=True), index)
        if described is not None:  # that band's own description
            da.attrs["long_name"] = described[index]
        if dim is not None:  # the band's label along its dim, and the file's date
            return _untagged(da.assign_coords({
                **({dim: picked} if picked is not None else {}),
                **({"time": own} if own is not None else {})}))
        if picked is not None:  # the band's own step (and overpass)
            if overpasses is not None:
                da.attrs["day_night"] = overpasses[index]
            return da.assign_coords(time=picked)
        date = _described_date(described[index]) if described is not None else None
        if date is not None:
            # its date in its description ('LST_Day_2020_07_02', or '2020_07_02_LST_Night_1km'
            # of a day and night export whose dates repeat): band=2 gave an undated field,
            # paired with a guide of any date
            return da.assign_coords(time=date)
    elif dim is not None and not any(k in da.attrs for k in ("scales", "offsets")):
        # a dim of one band stays one: the file is a field of (overpass=1, y, x)
        out = da.rename(band=dim)
        out = (out.assign_coords({dim: steps}) if steps is not None
               else out.drop_vars(dim))  # band numbers: positions, not labels
        if described is not None:
            out = out.assign_coords({DESCRIPTION_COORD: (dim, described)})
        return _untagged(out.assign_coords(time=own) if own is not None else out)
    elif "band" in da.dims and da.sizes["band"] == 1:
        da = _band_coding(da.isel(band=0, drop=True), 0)
    elif "band" in da.dims and any(k in da.attrs for k in ("scales", "offsets")):
        # bands of different scales (GDAL's per-band scale/offset: an LST_Day 0.02, LST_Night
        # 0.02, QC 1 stack): rioxarray keeps them as tuples, which no decoding applies (the
        # LST was refused as 14500 'K'), and one cube cannot hold them
        coding = {k: da.attrs[k] for k in ("scales", "offsets") if k in da.attrs}
        names = f" ({', '.join(described)})" if described is not None else ""
        raise XlstsrError(
            f"the {da.sizes['band']} bands of {os.fspath(path)}{names} declare different "
            f"scales or offsets ({', '.join(f'{k} {v}' for k, v in coding.items())}): they are "
            "different fields, not steps of one. Select one band with `band=` (`--band N` on "
            "the command line), each read with its own scale."
        )
    elif steps is not None:  # bands that are dated steps: a time dim again
        out = da.rename(band="time").assign_coords(time=steps)
        if overpasses is not None and len(set(overpasses)) > 1:
            out = out.assign_coords(overpass=("time", overpasses))
        elif overpasses is not None:  # one overpass throughout: the field's own
            out.attrs["day_night"] = overpasses[0]
        if described is not None:
            out = out.assign_coords({DESCRIPTION_COORD: ("time", described)})
        return out
    elif described is not None:
        dates = _description_dates(described)
        if dates is not None:  # one date per band in its description: the time steps
            return da.rename(band="time").assign_coords(
                {"time": dates, DESCRIPTION_COORD: ("time", described)})
        # names that are not dates: kept beside the band numbers (written back by the
        # outputs: .tif band descriptions, a .zarr/.nc coordinate)
        da = da.assign_coords({DESCRIPTION_COORD: ("band", described)})
    when = _tagged_time(da.attrs)
    if when is not None and "band" not in da.dims:  # one step of to_cogs: its date
        if check_name:
            _check_name_date(path, when)
        da = da.assign_coords(time=when)
        stack = _tagged_stack(da.attrs)
        if stack is not None:  # a step of a stacked cube: its other labels ('day')
            da = da.assign_coords({k: v for k, v in stack["labels"].items()
                                   if k not in da.coords and k not in da.dims})
            da.encoding[_STACK_ENCODING] = stack
        da = _untagged(da)
    return da


#: days a MODIS product's file may be dated before and after the day its name gives
#: (``.AYYYYDDD.``), by the product's code after its platform (MOD/MYD/MCD/VNP/VJ1/VJ2):
#: composites are named for their first day (MCD43 for the middle of its 16), and each window
#: has a day to spare either side, for a tag in local solar time (a night overpass near
#: midnight) of a file named for its UTC day
_NAME_WINDOWS = (
    (re.compile(r"43.*"), (9, 9)),
    (re.compile(r"12Q\d|44[BW]|1[67]A3(H|GF)?|17A3HGF"), (1, 366)),  # yearly
    (re.compile(r"13A3|13C2|11[BC]3|64A1|10CM"), (1, 31)),  # monthly
    (re.compile(r"13Q1|13A[12]|13C1"), (1, 16)),
    (re.compile(r"15A3H"), (1, 4)),
    (re.compile(r"11A2|21A2|15A2H?|16A2(GF)?|17A2H(GF)?|09A1|09Q1|10A2|11C2|14A[12]"), (1, 8)),
    (re.compile(r"11A1|21A1[DN]?|10A1|09G[AQ]|11[BC]1|10C1|46A[12]"), (1, 1)),
)
#: a product not in :data:`_NAME_WINDOWS`: only what no MODIS product's window allows
#: (a year after its named day, MCD43's days before) is refused
_ANY_WINDOW = (9, 366)


def _check_name_date(path: Any, when: Any) -> None:
    """Refuse a GeoTIFF whose time tag (``when``) lies outside the window of the date in its
    MODIS-style name (``MOD11A1.A2020100...``, :func:`~xlstsr.io.modis.granule_time`; the
    window by product, :data:`_NAME_WINDOWS`): a renamed or mislabelled file was dated by its
    tag alone, and by its name in a list of untagged files, without a word.

    A tag that is no numpy date (a cftime calendar's, a label) is not compared."""
    from .modis import _granule_product, granule_time

    if not isinstance(when, np.datetime64):
        return
    name = Path(os.fspath(path)).name
    if f"_{_stamp(when, 0)}" in name:
        return  # to_cogs' own name of the tag's date, after a MODIS-style prefix: no copy
    try:
        named = granule_time(name)
    except XlstsrError:  # no such day (A2019400): the name holds no date to contradict
        return
    if named is None:
        return
    product = _granule_product(name) or ""
    code = re.sub(r"^(MOD|MYD|MCD|VNP|VJ[12])", "", product.upper())
    before, after = next((w for pattern, w in _NAME_WINDOWS if pattern.fullmatch(code)),
                         _ANY_WINDOW)
    tagged = when.astype("datetime64[D]")
    days = int((tagged - named.astype("datetime64[D]")) // np.timedelta64(1, "D"))
    if -before <= days <= after:
        return
    import datetime as dt

    day = dt.date.fromisoformat(str(tagged))
    renamed = f".A{day.year}{day.timetuple().tm_yday:03d}."
    raise XlstsrError(
        f"{name} is named for {str(named)[:10]} but its time tag says {str(when)[:19]} "
        f"({abs(days)} days {'later' if days > 0 else 'earlier'}, outside a "
        f"{product or 'MODIS'} file's window): a renamed or mislabelled copy of another "
        f"date's file. Rename it to its tag's date (`{renamed}`), or fix its tag to the "
        f"file's real date (`with rasterio.open(path, 'r+') as f: "
        f"f.update_tags(time='{str(named)[:10]}')`), or pass the files' dates with "
        "`open_cog([...], times=[...])`."
    )


def _untagged(da: xr.DataArray) -> xr.DataArray:
    """``da`` without the tags that dated it (read into coordinates): an upscale of it kept
    them as attributes and wrote them into its output as its own."""
    da.attrs = {k: v for k, v in da.attrs.items() if k not in
                (TIME_TAG, CALENDAR_TAG, LABEL_TAG, LABEL_TYPE_TAG, STACK_TAG)}
    return da


def _in_label_order(out: xr.DataArray) -> xr.DataArray:
    """The steps of files dated by their own tags or band descriptions (all different) in the
    order of their labels when these are dates (numpy, or cftime of one calendar) or numbers,
    as MODIS-named files are put in date order: given in another order (``os.listdir``, an
    unpadded ``lst_1.tif ... lst_12.tif`` sorted as text) they came back scrambled. Other labels
    (texts, a mix) keep the files' order."""
    values = list(out["time"].values)
    if out["time"].dtype.kind == "M":
        ordered = True
    elif all(isinstance(v, (int, float, np.integer, np.floating))
             and not isinstance(v, (bool, np.bool_)) for v in values):
        ordered = not any(np.isnan(float(v)) for v in values)
    else:  # cftime dates of one calendar compare; other objects are left as given
        ordered = (all(hasattr(v, "calendar") and hasattr(v, "isoformat") for v in values)
                   and len({v.calendar for v in values}) == 1)
    if not ordered:
        return out
    order = sorted(range(len(values)), key=values.__getitem__)
    return out if order == list(range(len(values))) else out.isel(time=order)


def _band_coding(da: xr.DataArray, index: int) -> xr.DataArray:
    """One band of a GeoTIFF (its ``band`` dim dropped) with that band's own scale and offset:
    rioxarray keeps per-band values that differ as ``attrs['scales']`` / ``['offsets']``
    tuples (equal ones as ``scale_factor`` / ``add_offset``), which no decoding reads, so a
    band's declared 0.02 was ignored. They become the band's ``scale_factor`` /
    ``add_offset`` (as a single-band file's are), the tuples dropped; so do per-band units
    (the band of a K and degC stack picked by ``band=`` kept both and was refused again)."""
    attrs = dict(da.attrs)
    for many, one in (("scales", "scale_factor"), ("offsets", "add_offset")):
        values = attrs.pop(many, None)
        if isinstance(values, (tuple, list)) and index < len(values):
            attrs[one] = float(values[index])
    units = attrs.get("units")  # bands of different units (K and degC): a tuple, one per band
    if isinstance(units, (tuple, list)) and index < len(units):
        attrs["units"] = units[index]
    da.attrs = attrs
    return da


#: the coordinate that keeps a multi-band GeoTIFF's band descriptions along its bands (or the
#: time steps they date), which the .tif output writes back as its band descriptions
DESCRIPTION_COORD = "band_description"


def _band_descriptions(da: xr.DataArray) -> list[str] | None:
    """The descriptions of a multi-band GeoTIFF's bands (rioxarray's ``long_name`` tuple, one
    per band), or None: one band, no descriptions, or one text for every band (xlstsr's own
    outputs say 'land surface temperature (super-resolved)' of each; the input's own text is
    their ``source_long_name`` tag, not a band description). Bands without one among described
    bands get "" (their others' texts were dropped without a word)."""
    names = da.attrs.get("long_name")
    n = da.sizes.get("band", 1)
    if n < 2 or not isinstance(names, (tuple, list)) or len(names) != n:
        return None
    texts = [str(v).strip() if v is not None else "" for v in names]
    return texts if any(texts) and len(set(texts)) > 1 else None


#: a date in a band description, as the exporters write it: ISO ``2020-07-01``, ``2020_07_01``
#: (Earth Engine's ``LST_Day_1km_2020_07_01``), ``20200701``, MODIS's ``A2020183``; not part of a
#: longer number
_DESCRIBED_DATE = re.compile(
    r"(?<![0-9])(?P<y>\d{4})(?P<s>[-_]?)(?P<m>\d{2})(?P=s)(?P<d>\d{2})(?![0-9])"
    r"|(?<![A-Za-z0-9])A(?P<jy>\d{4})(?P<doy>\d{3})(?![0-9])")


#: the time of day after an ISO date in a band description: ``T20:15``, ``T20:15:00Z``,
#: ``T201500``, ``T20:15:00.5+02:00``
_DESCRIBED_CLOCK = re.compile(
    r"[Tt](?P<H>\d{2})(?P<c>:?)(?P<M>\d{2})(?:(?P=c)(?P<S>\d{2})(?:\.(?P<f>\d{1,9}))?)?"
    r"(?P<z>[Zz]|[+-]\d{2}(?::?\d{2})?)?(?![0-9])")


def _with_clock(date: np.datetime64, clock: re.Match) -> np.datetime64:
    """``date`` at the time of day ``clock`` reads, in UTC (ValueError: not a time of day)."""
    hour, minute, second = int(clock["H"]), int(clock["M"]), int(clock["S"] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(clock[0])
    ns = int(((clock["f"] or "") + "000000000")[:9])
    out = (date.astype("datetime64[ns]") + np.timedelta64(hour * 3600 + minute * 60 + second,
                                                          "s") + np.timedelta64(ns, "ns"))
    zone = clock["z"]
    if zone and zone not in ("Z", "z"):  # local time with its offset: UTC
        digits = zone[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + int(digits[2:4] or 0)
        out = out - np.timedelta64((1 if zone[0] == "+" else -1) * minutes, "m")
    return out


def _described_date(text: str) -> np.datetime64 | None:
    """The one date a band description holds (None: none, several, or not a real date)."""
    found = set()
    for m in _DESCRIBED_DATE.finditer(text):
        try:
            if m["jy"]:
                year, doy = int(m["jy"]), int(m["doy"])
                if not 1 <= doy <= 366:
                    return None
                date = np.datetime64(f"{year:04d}-01-01") + np.timedelta64(doy - 1, "D")
                if date.astype("datetime64[Y]").astype(int) + 1970 != year:
                    return None
            else:
                year = int(m["y"])
                date = np.datetime64(f"{m['y']}-{m['m']}-{m['d']}")
                if text[m.end():m.end() + 1] in ("T", "t") and \
                        text[m.end() + 1:m.end() + 2].isdigit():
                    # an overpass's time of day ('LST_2023-07-08T20:15:00Z'): kept (it was cut
                    # to midnight, hours off); one that does not read keeps the bands as bands
                    clock = _DESCRIBED_CLOCK.match(text, m.end())
                    if clock is None:
                        return None
                    date = _with_clock(date, clock)
        except ValueError:  # 20201340: a number, not a date
            return None
        if not 1900 <= year <= 2200:
            return None
        found.add(date)
    return next(iter(found)).astype("datetime64[ns]") if len(found) == 1 else None


def _description_dates(texts: list[str]) -> list[np.datetime64] | None:
    """One date per band description, all different; None unless every one holds exactly one."""
    dates = [_described_date(t) for t in texts]
    if any(d is None for d in dates) or len(set(dates)) != len(dates):
        return None
    return dates


#: the layer of a MODIS product file, by name or by its ``source_subdataset`` tag
_LAYER = re.compile(r"(LST_(?:Day|Night)_1km|QC_(?:Day|Night)|Emis_\d+|"
                    r"(?:Day|Night)_view_(?:time|angl))", re.IGNORECASE)


def _layer(path: Any, da: xr.DataArray) -> str | None:
    """The MODIS layer a file holds (``LST_Day_1km``...), from its tag or name, or None."""
    for text in (str(da.attrs.get("source_subdataset", "")), Path(os.fspath(path)).name):
        m = _LAYER.search(text)
        if m:
            return m.group(1)
    return None


def _same_layer(paths: Sequence[Any], arrays: Sequence[xr.DataArray],
                stacks: bool = True) -> None:
    """Refuse a stack of files of different MODIS layers: day and night files sorted together
    alternated the 10:30 and 22:30 overpasses (10 K apart) in one undated series."""
    layers: dict[str, tuple[str, Any]] = {}
    for p, a in zip(paths, arrays):
        name = _layer(p, a)
        stack = a.encoding.get(_STACK_ENCODING)
        if (name is not None and not stacks and stack
                and name.lower() in {str(v).lower() for v in stack["labels"].values()}):
            # a step of to_cogs' (time, overpass) stack whose layer name is its own stack
            # label ('lst_..._LST_Day_1km.tif' of `to_dataarray('overpass')`), restacked
            # below; a stack of one layer beside one of another is still two layers
            continue
        if name is not None:
            layers.setdefault(name.lower(), (name, p))
    named = dict(layers.values())
    # the overpass each file is labelled with (open_cog's day_night, read from its tags and
    # band description too): a day and a night file whose layer was named there only were
    # stacked as one series, alternating the overpasses, and lost both labels
    from ..steps import _day_night

    overpass: dict[str, Any] = {}
    for p, a in zip(paths, arrays):
        if not stacks and a.encoding.get(_STACK_ENCODING):
            continue  # a step of to_cogs' (time, overpass) stack: its overpass is its label
        dn, _ = _day_night(a)  # its day_night, else its tags' 'daytime' / 'nighttime'
        if dn:
            overpass.setdefault(dn, p)
    if len(named) <= 1 and len(overpass) > 1 and _file_overpasses(arrays) is None:
        # (files of distinct time tags, each of its own overpass, are one series interleaving
        # the overpasses, as to_cogs writes one: open_cog labels them along time)
        named = {f"{k} overpass": v for k, v in overpass.items()}
    if len(named) > 1:
        shown = ", ".join(f"{k} ({Path(os.fspath(v)).name})" for k, v in named.items())
        raise XlstsrError(
            f"the files hold different layers ({shown}): one stack is one layer of one product "
            "(a day series and a night series are two cubes); select the files of one, e.g. "
            "`sorted(glob.glob('...LST_Day_1km.tif'))`."
        )


def _with_band_overpasses(paths: Sequence[Any], arrays: list[xr.DataArray]
                          ) -> list[xr.DataArray]:
    """Files of dated bands, some with an ``overpass`` coordinate along time (each band's
    tagged: a series interleaving day and night) and some of one overpass throughout (their
    ``day_night``): the coordinate given to all, as xarray joins only files that all have it
    (a raw "coordinate 'overpass' not present in all datasets"); refused when a file has no
    overpass at all, which cannot be told."""
    from ..steps import _day_night

    if not any("overpass" in a.coords for a in arrays) or all("overpass" in a.coords
                                                             for a in arrays):
        return arrays
    out = []
    for p, a in zip(paths, arrays):
        dn = None if "overpass" in a.coords else _day_night(a)[0]
        if "overpass" not in a.coords and dn not in ("day", "night"):
            raise XlstsrError(
                f"{Path(os.fspath(p)).name} holds no overpass label while other files hold "
                "day and night steps (an 'overpass' coordinate along time): its steps cannot "
                "be told day or night. Open it separately, or label its steps first "
                "(`da.assign_coords(overpass=('time', [...]))`) and join them with xr.concat."
            )
        out.append(a if dn is None else
                   a.assign_coords(overpass=("time", [dn] * a.sizes["time"])))
    return out


def _file_overpasses(arrays: Sequence[xr.DataArray]) -> list[str] | None:
    """Each file's overpass ('day' / 'night', :func:`xlstsr.steps._day_night`) when every file
    has one and a time tag of its own, a date with its time of day (no two alike): the steps
    of one series interleaving the overpasses (to_cogs of a series with an ``overpass``
    coordinate along time, each file tagged with its own), which open_cog refused as
    different layers; else None: a day and a night series of the same dates, or of nominal
    dates (00:00, which tell no overpass apart), untimed files, and files of a to_cogs
    (time, overpass) stack (its overpass is a level of the stack, which is read whole) are
    two cubes."""
    from ..steps import _all_dates_only, _day_night

    if any(a.encoding.get(_STACK_ENCODING) for a in arrays):
        return None
    tagged = [a.coords["time"].values[()] if "time" in a.coords and a["time"].ndim == 0
              else None for a in arrays]
    if (any(not (isinstance(t, np.datetime64) or hasattr(t, "calendar")) for t in tagged)
            or len(set(map(str, tagged))) != len(tagged) or _all_dates_only(tagged)):
        return None
    labels = [_day_night(a)[0] for a in arrays]
    if any(v not in ("day", "night") for v in labels):
        return None
    return labels


def _granule_dates(paths: Sequence[Any]) -> list[Any] | None:
    """Dates from MODIS-style names (``.AYYYYDDD.``) when every file has one and they differ,
    as :func:`xlstsr.io.open_modis` dates its granules (:func:`~xlstsr.io.modis.granule_time`);
    else None (numbered steps). Dated names that repeat a date are refused, as open_modis
    refuses them: Terra and Aqua files of the same days were stacked as undated steps in the
    order given, two overpasses 3 h apart interleaved. Files of several products (MOD11A1 and
    MYD11A1 of different days) are refused too (:func:`~xlstsr.io.modis._check_one_product`)."""
    from .modis import _check_one_product, granule_time

    dates = [granule_time(p) for p in paths]
    if any(d is None for d in dates):
        return None
    if len(set(dates)) != len(dates):
        dup = sorted({str(d)[:10] for d in dates if dates.count(d) > 1})
        shown = [Path(os.fspath(p)).name for p, d in zip(paths, dates) if str(d)[:10] == dup[0]]
        raise XlstsrError(
            f"several files share the date(s) {dup[:5]}{' ...' if len(dup) > 5 else ''} (e.g. "
            f"{shown[:3]}: Terra and Aqua, or two versions?): one stack is one product. Stack "
            "each product separately, e.g. `open_cog(sorted(glob.glob('MOD11A1.*.tif')))`, or "
            "pass `times=` with each file's own time."
        )
    _check_one_product(paths, "open_cog")
    return dates


#: GDAL drivers of the files xarray reads with their coordinates and CRS, and their formats
_XARRAY_FORMATS = {"netCDF": "NetCDF", "HDF5": "NetCDF-4/HDF5", "HDF5Image": "NetCDF-4/HDF5"}


def _check_format(path: Any) -> None:
    """Refuse a local NetCDF/HDF5 file whatever its name (``ds.to_netcdf('lst.tif')``): GDAL
    opens it without its coordinates or CRS, and the advice that followed was to georeference
    it with gdal_translate. Other rasters GDAL reads (VRT, ENVI, JPEG 2000) are read."""
    import rasterio

    try:
        with warnings.catch_warnings():  # a NetCDF's "no geotransform"
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            with rasterio.open(path) as src:
                driver = src.driver
    except (OSError, rasterio.errors.RasterioError, CPLE_BaseError):
        return  # not a raster GDAL reads: open_rasterio's error says so
    fmt = _XARRAY_FORMATS.get(driver)
    if fmt is None:
        return
    name = Path(path).name
    if Path(name).suffix.lower() in (".nc", ".nc4", ".h5", ".hdf5", ".he5"):
        # named as what it is: open_cog was the wrong reader, no rename to advise
        raise XlstsrError(
            f"{os.fspath(path)} is a {fmt} file, which open_cog (GeoTIFFs) reads without its "
            "coordinates and CRS: open it with `xlstsr.io.open_path` (or pass it on the "
            "command line), or with `xr.open_dataset(path)`."
        )
    nc = Path(name).with_suffix(".nc").name
    raise XlstsrError(
        f"{os.fspath(path)} is a {fmt} file (GDAL's {driver} driver reads it), not a GeoTIFF, "
        "whatever its name says; read as a GeoTIFF it loses its coordinates and CRS. Rename it "
        f"(`mv {name} {nc}`) and open it with `xlstsr.io.open_path` (or pass the .nc file on "
        "the command line), or open it with `xr.open_dataset(path)`."
    )


#: a page of a multi-page TIFF, as GDAL names it: ``GTIFF_DIR:<n>:<file>``
_PAGE = re.compile(r"GTIFF_DIR:(\d+):(.+)\Z", re.DOTALL)

#: colour interpretations of the bands of an image for display, not of data
_COLOURS = ("palette", "red", "green", "blue", "alpha")


def _check_pages(path: Any) -> None:
    """Refuse a multi-page TIFF (PIL / ImageJ / tifffile stacks, one image a page; GDAL's
    ``GTIFF_DIR:n`` subdatasets): rioxarray reads its pages as one Dataset whose variables
    share the file's name, so only the last page was kept (2 of 3 dates lost without a word).
    The pages are not read as time steps here: they carry no dates, and each page has its
    own grid, type and coding, which the list form of :func:`open_cog` checks."""
    import rasterio

    try:
        with rasterio.open(path) as src:
            pages = [s for s in src.subdatasets if s.startswith("GTIFF_DIR:")]
    except (OSError, rasterio.errors.RasterioError, CPLE_BaseError):
        return
    if len(pages) < 2:
        return
    name = os.fspath(path)
    shown = ", ".join(pages[:3]) + (", ..." if len(pages) > 3 else "")
    base = Path(name).stem
    raise XlstsrError(
        f"{name} is a multi-page TIFF of {len(pages)} pages ({shown}), each one image: read "
        "as one raster, only its last page would be kept. Open the pages as a series: "
        f"`xlstsr.io.open_cog([f'GTIFF_DIR:{{n}}:{name}' for n in range(1, {len(pages) + 1})], "
        "times=[...])` (one date per page); on the command line, write each page to its own "
        f"file (`gdal_translate GTIFF_DIR:n:{name} {base}_page_n.tif`, n = 1 to {len(pages)}) "
        "and upscale each, or stack them as the bands of one file (`gdal_merge.py "
        f"-separate -o {base}_bands.tif {base}_page_*.tif`)."
    )


def _check_rendered(path: Any, da: xr.DataArray) -> None:
    """Refuse a rendered image (a colour table's indices, or red, green and blue bytes: a
    map exported for display), which was super-resolved as temperatures in K. Bands that
    declare units, a scale/offset or xlstsr's step tags are data whatever their colour
    interpretation (GDAL calls any 3- or 4-band uint8 GeoTIFF RGB by default)."""
    import rasterio

    # a rendering has neither units nor a scale/offset nor xlstsr's tags
    if any(k in da.attrs for k in ("units", "scales", "offsets", BANDS_TAG, BAND_DIM_TAG)) \
            or da.attrs.get("scale_factor", 1) != 1 or da.attrs.get("add_offset", 0) != 0:
        return
    try:
        with rasterio.open(path) as src:
            colours = [c.name for c in src.colorinterp]
            bytes_ = all(np.dtype(d).itemsize == 1 for d in src.dtypes)
    except (OSError, rasterio.errors.RasterioError, CPLE_BaseError):
        return  # read above: nothing to add to that
    # a palette, or red, green and blue together, of bytes: an alpha band alone is a mask
    # (`gdalwarp -dstalpha` writes one beside a float LST, which was refused)
    shown = [c for c in colours if c in _COLOURS]
    if not bytes_ or not ("palette" in shown or {"red", "green", "blue"} <= set(shown)):
        return
    what = ("colour-table indices (a palette image)" if "palette" in shown
            else f"colour channels ({', '.join(colours)})")
    n = len(colours)
    mark = ("" if "palette" in shown else " or mark the bands as data (`gdal_edit.py "
            + " ".join(f"-colorinterp_{i} undefined" for i in range(1, n + 1)) + " f`)")
    raise XlstsrError(
        f"{os.fspath(path)} is a rendered image, not data: its bands are {what}, values of "
        "a colour scale rather than temperatures. Use the data file it was drawn from (the "
        "LST product's own GeoTIFF, NetCDF or HDF). If its values really are temperatures, "
        "declare them: tag their units (`with rasterio.open(f, 'r+') as r: r.units = "
        f"['K'] * {n}`){mark}."
    )


def _check_complete(path: Any) -> None:
    """Refuse a local GeoTIFF whose tiles end past the end of the file (an interrupted
    download): read lazily, it failed only when computed, with GDAL's "Read failed" naming no
    file. Reads the tile offsets of the TIFF directory, not the data."""
    import rasterio

    size = os.path.getsize(path)
    with rasterio.open(path) as src:
        if src.driver != "GTiff":
            return
        bh, bw = src.block_shapes[0]
        nx, ny = -(-src.width // bw), -(-src.height // bh)
        # the last tile or strip of each band: a truncation cuts the end of the file, where
        # GDAL writes them (a COG writes the full-resolution tiles last); all of them cost
        # 5-20 ms a file for 1-row strips
        end = 0
        for b in range(1, src.count + 1):
            off = src.get_tag_item(f"BLOCK_OFFSET_{nx - 1}_{ny - 1}", "TIFF", bidx=b)
            n = src.get_tag_item(f"BLOCK_SIZE_{nx - 1}_{ny - 1}", "TIFF", bidx=b)
            if off and n:
                end = max(end, int(off) + int(n))
    if end > size:
        raise XlstsrError(
            f"{os.fspath(path)} is truncated: its tiles end at byte {end}, the file holds "
            f"{size} (an interrupted download or copy?). Download or write it again."
        )


def _coding(da: xr.DataArray, masked: bool) -> dict[str, Any]:
    """How a file's values are stored: scale, offset, units (by meaning) and, unmasked, the
    fill (masked, each file's own fill is NaN already)."""
    from ..validate import _units_kind

    out: dict[str, Any] = {}
    for k in ("scale_factor", "add_offset"):
        v = da.attrs.get(k, da.encoding.get(k))
        out[k] = {"scale_factor": 1.0, "add_offset": 0.0}[k] if v is None else \
            float(np.ravel(np.asarray(v, float))[0])
    units = da.attrs.get("units")
    try:
        kind = None if units is None else _units_kind(units)
    except XlstsrError:  # not a temperature (a guide's '1', 'reflectance'): compared as text
        kind = None
    out["units"] = None if units is None else (kind or str(units))
    if not masked:
        fill = da.encoding.get("_FillValue", da.attrs.get("_FillValue", da.rio.nodata))
        out["fill"] = None if fill is None or np.isnan(float(fill)) else float(fill)
    return out


def _same_coding(paths: Sequence[Any], arrays: Sequence[xr.DataArray], masked: bool) -> None:
    """Refuse files stored in different ways (scale, offset, fill, units, dtype): the stack keeps
    the first file's coding, so a file of scale 0.01 after one of 0.02 decoded 2x too hot, and
    the range error that followed advised a scale that broke the first date."""
    codings = [_coding(a, masked) for a in arrays]
    first = codings[0]
    for p, c in zip(paths[1:], codings[1:]):
        diff = {k: (first[k], c[k]) for k in first if first[k] != c[k] and k != "units"}
        if diff:
            said = "; ".join(f"{k} {x!r} there, {y!r} here" for k, (x, y) in diff.items())
            raise XlstsrError(
                f"{os.fspath(p)} is stored differently from {os.fspath(paths[0])} ({said}), and "
                "a stack of files takes the first file's coding for all: decode each file "
                "first (`rioxarray.open_rasterio(f, mask_and_scale=True)`), then "
                "`xr.concat(..., dim='time')`, or give files of one product."
            )
    _same_units(paths, arrays, [c["units"] for c in codings])


def _same_units(paths: Sequence[Any], arrays: Sequence[xr.DataArray],
                kinds: Sequence[str | None]) -> None:
    """Refuse files whose units differ, or files without units beside ones that declare other
    units than Kelvin: the stack has one ``units`` for all, so a Kelvin file without units
    stacked with a degC file was labelled degC, and upscale's advice flipped between K and degC
    step by step."""
    from ..validate import _NO_UNITS

    # a units tag of no meaning ('', 'unknown') declares none
    kinds = [None if k is None or k.strip().lower() in _NO_UNITS else k for k in kinds]
    declared = set(kinds) - {None}
    # all files agree or none declares units; files without units beside Kelvin ones are read
    # as Kelvin like the rest (upscale's range check refuses a Celsius step among them), and
    # beside other units than temperatures (a guide's '1') take them
    if len(declared) <= 1 and declared != {"C"}:
        return
    if len(set(kinds)) <= 1:
        return
    names = [os.path.basename(os.fspath(p)) for p in paths]
    short = len(set(names)) == len(names)  # file names alone, unless two folders repeat one
    groups: dict[str | None, list[str]] = {}
    said: dict[str | None, Any] = {}
    for p, name, a, k in zip(paths, names, arrays, kinds):
        groups.setdefault(k, []).append(name if short else os.fspath(p))
        said.setdefault(k, a.attrs.get("units"))
    parts = []
    for k, files in groups.items():
        shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        parts.append(f"{'no units' if k is None else f'units {said[k]!r}'} in {shown}")
    raise XlstsrError(
        f"the files declare different units ({'; '.join(parts)}), and a stack has one units "
        "attribute for all: each file would be labelled with another's. Set the units of each "
        "file to the units its values are in (`with rasterio.open(f, 'r+') as r: r.units = "
        "('K',)`, or `('degC',)`), or open the files "
        "separately with open_cog, set `da.attrs['units']` on each (converting them to one "
        "unit) and join them with `xr.concat(..., dim='time')`."
    )


#: GeoTIFF tags of a step's date written by :func:`to_cogs`, read back by :func:`open_cog`
TIME_TAG, CALENDAR_TAG = "time", "time_calendar"
#: the tag of a step label that is no date (a number such as 2020183, a text such as 'night'),
#: and of its type, read back by :func:`open_cog`
LABEL_TAG, LABEL_TYPE_TAG = "time_label", "time_label_type"


def _as_date(label: Any) -> np.datetime64 | None:
    """A numpy date, or a text that is an ISO date (``YYYY-MM-DD``, a time may follow), as
    datetime64; None for anything else ('2020' and '007' are labels, not years)."""
    if isinstance(label, (str, np.str_)) and not re.match(r"\d{4}-\d{2}-\d{2}", str(label)):
        return None
    if not isinstance(label, (str, np.str_, np.datetime64)):
        return None
    try:
        d = np.datetime64(label)
    except (ValueError, TypeError):
        return None
    return None if np.isnat(d) else d


def _time_tags(label: Any) -> dict[str, str]:
    """The tags that carry a step's label in a GeoTIFF: a date (numpy, cftime or a date
    string) as ``time``; another label (a number, a text) as ``time_label`` with its type
    (they were written nowhere and read back as 0, 1, ...). Bytes are decoded as text."""
    label = decoded_label(label)
    if hasattr(label, "calendar") and hasattr(label, "isoformat"):  # cftime
        text = label.isoformat()[:19]
        if getattr(label, "microsecond", 0):  # the full time: cut to seconds, it read back
            text += f".{int(label.microsecond):06d}"  # as another label
        return {TIME_TAG: text, CALENDAR_TAG: str(label.calendar)}
    date = _as_date(label)
    if date is not None:
        return {TIME_TAG: _iso_date(date)}
    for kind in (bool, int, float, str):
        if isinstance(label, np.generic):
            label = label.item()
        if isinstance(label, kind):
            # as JSON: a text stays quoted ('007'), which rioxarray would read back as 7
            return {LABEL_TAG: json.dumps(label), LABEL_TYPE_TAG: kind.__name__}
    return {}


def _iso_date(date: np.datetime64) -> str:
    """``date`` as ISO text to the second, with its fraction when it has one (a Landsat scene's
    ``16:19:21.7917421``: cut to whole seconds, it read back as another label, on which
    xarray's alignment found no step), trailing zeros dropped."""
    whole = date.astype("datetime64[s]")
    if whole == date or np.datetime_data(date.dtype)[0] not in ("ms", "us", "ns"):
        return str(np.datetime_as_string(whole, unit="s"))
    return str(np.datetime_as_string(date, unit=np.datetime_data(date.dtype)[0])).rstrip("0")


#: the tag of a step of a stacked dim (``da.stack(t=("time", "overpass"))``, as
#: upscale_to_zarr advises): the dim, its levels in order, which one is the date (written as the
#: ``time`` tag) and the others' labels, as JSON; read back by :func:`open_cog`
STACK_TAG = "time_stack"
#: where :func:`open_cog` keeps a file's :data:`STACK_TAG` for the stacking of several files
_STACK_ENCODING = "xlstsr_stack"


def _is_dates(coord: xr.DataArray) -> bool:
    """Whether a coordinate holds dates (numpy or cftime)."""
    if coord.dtype.kind == "M":
        return True
    first = coord.values.flat[0] if coord.dtype.kind == "O" and coord.size else None
    return hasattr(first, "calendar") and hasattr(first, "isoformat")


def _is_text_dates(coord: xr.DataArray) -> bool:
    """Whether a coordinate of text or bytes holds ISO dates only (``b'2020-07-01'``, a NetCDF
    char label read back), which :func:`_stamp` and :func:`_time_tags` write as dates."""
    return (coord.dtype.kind in "USO" and coord.size > 0
            and all(_as_date(decoded_label(v)) is not None for v in coord.values.flat))


def _stack_levels(da: xr.DataArray, time_dim: Any) -> tuple[list[Any], Any] | None:
    """The coordinates that label the steps of a stacked ``time_dim`` (the levels of its
    MultiIndex, or their coordinates along it in a store read back, where the dim has no labels
    of its own) and which of them is the date; for dates that repeat along ``time_dim`` (a
    day and a night step of each date, MODIS daily dates at 00:00), the dim's own dates and
    the first label coordinate along it that tells the repeats apart (``overpass`` first, a
    coordinate of text dates, acquisition times, last); None where the dim's own labels name
    the steps or no coordinate along it is a date (the steps are then named by position).
    Dates written as ISO text or bytes (a NetCDF char time read back) count as dates: the
    dim's own (their repeats by the dates they name), and a stack's level after true dates."""
    if time_dim is None:
        return None
    import pandas as pd

    index = da.indexes.get(time_dim)
    stacked = isinstance(index, pd.MultiIndex)
    if stacked:
        names = list(index.names)
    elif time_dim in da.coords:
        # ISO text or bytes dates too: named and tagged as dates, their repeats were refused
        # as told apart by nothing, advising the overpass coordinate they carried
        if index is None or not (_is_dates(da[time_dim]) or _is_text_dates(da[time_dim])):
            return None
        if not _is_dates(da[time_dim]):
            # repeats of text dates by the dates they name: one date spelled two ways
            # ('2020-01-05', '2020-01-05T00:00:00') maps to one file name, and on the raw
            # strings it was refused, advising the overpass coordinate that told them apart
            index = pd.Index([_as_date(decoded_label(v)) for v in da[time_dim].values])
        if not index.has_duplicates:
            return None
        # repeated dates told apart by a label along the dim (open_cog of the CLI's upscale
        # of a day+night series): named by both, else (None) refused as repeated labels
        # a text-date coordinate (acq times) last: it names the repeats only where nothing
        # else tells them apart (it was left out, and repeats it told apart were refused)
        labels = sorted((c for c in da.coords if c != time_dim and da[c].dims == (time_dim,)
                         and da[c].dtype.kind in "iuUSOT" and not _is_dates(da[c])),
                        key=lambda c: (_is_text_dates(da[c]), c not in ("overpass", "day_night")))
        for c in labels:
            if not pd.MultiIndex.from_arrays([index, da[c].values]).has_duplicates:
                return [time_dim, c], time_dim
        return None
    else:
        names = [c for c in da.coords if da[c].dims == (time_dim,)]
    # a level of ISO text or bytes dates (a NetCDF char time read back, then stacked) as a
    # date too, after true ones: it was named by position with no date tag (lst_00000.tif),
    # which open_cog refused as different layers
    dates = ([n for n in names if _is_dates(da[n])]
             + [n for n in names if stacked and not _is_dates(da[n]) and _is_text_dates(da[n])])
    if not dates:
        return None
    date = "time" if "time" in dates else dates[0]
    if not stacked:  # the date and the labels along the dim (a text, a number), not a second
        # date (a composite's start) or a measurement
        names = [date] + [n for n in names if n not in dates and da[n].dtype.kind in "iuUSOT"]
    return names, date


def _repeat_tellers(da: xr.DataArray, time_dim: Any, i: int, j: int) -> list[Any]:
    """The label coordinates along ``time_dim`` (not dates) whose values differ between its
    steps ``i`` and ``j``, where ``time_dim``'s own labels repeat and are not dates."""
    if (time_dim not in da.coords or da[time_dim].dims != (time_dim,) or _is_dates(da[time_dim])
            or _is_text_dates(da[time_dim])):
        return []
    return sorted((c for c in da.coords if c != time_dim and da[c].dims == (time_dim,)
                   and da[c].dtype.kind in "iuUSOT" and not _is_dates(da[c])
                   and da[c].values[i] != da[c].values[j]),
                  key=lambda c: c not in ("overpass", "day_night"))


def _json_label(value: Any) -> Any:
    """A level's label as JSON: a date as its :func:`_time_tags`, a number or text itself
    (bytes decoded: ``str(b'day')`` was tagged ``"b'day'"``)."""
    value = decoded_label(value)
    tags = _time_tags(value)
    if TIME_TAG in tags:
        return tags
    if isinstance(value, np.generic):
        value = value.item()
    return value if isinstance(value, (bool, int, float, str)) else str(value)


def _step_labels(da: xr.DataArray, time_dim: Any,
                 pad: bool = True) -> list[tuple[str, dict[str, str]]] | None:
    """Each step's file name part and tags when ``time_dim`` is stacked (:func:`_stack_levels`):
    its levels' labels joined (``2020-01-05_day``), the date as the ``time`` tag and the stack
    in :data:`STACK_TAG` (written as ``lst_00000.tif``... with no date, they were read back as
    steps 0, 1, ...). None where the dim's own labels (or positions) name the steps.
    ``pad=False``: whole numbers unpadded, as earlier versions named them (:func:`_stamps`)."""
    found = _stack_levels(da, time_dim)
    if found is None:
        return None
    names, date = found
    values = {n: da[n].values for n in names}
    stamps = {n: _stamps(values[n], pad) for n in names}
    out = []
    for i in range(da.sizes[time_dim]):
        stack = {"dim": str(time_dim), "levels": [str(n) for n in names], "date": str(date),
                 "labels": {str(n): _json_label(values[n][i]) for n in names if n != date}}
        out.append(("_".join(stamps[n][i] for n in names),
                    {**_time_tags(values[date][i]), STACK_TAG: json.dumps(stack)}))
    if len({stamp for stamp, _ in out}) < len(out):  # labels that do not tell the steps apart
        return None
    return out


def _tagged_stack(attrs: dict[str, Any]) -> dict[str, Any] | None:
    """The stack of a step written by :func:`to_cogs` from a stacked dim (:data:`STACK_TAG`),
    its labels decoded, or None when absent or not one."""
    try:
        stack = json.loads(str(attrs[STACK_TAG]))
        dim, levels, date, labels = (stack["dim"], stack["levels"], stack["date"],
                                     stack["labels"])
    except (KeyError, ValueError, TypeError):
        return None
    if not (isinstance(dim, str) and isinstance(levels, list) and isinstance(labels, dict)
            and all(isinstance(n, str) for n in levels) and date in levels
            and set(labels) == set(levels) - {date} and len(set(levels)) == len(levels)
            and (dim not in levels or dim == date)):  # dim == date: repeated dates, labelled
        return None
    labels = {k: _tagged_time(v) if isinstance(v, dict) else v for k, v in labels.items()}
    if any(v is None or isinstance(v, (list, dict)) for v in labels.values()):
        return None
    return {"dim": dim, "levels": levels, "date": date, "labels": labels}


def _restack(arrays: list[xr.DataArray], dates: list[Any]) -> xr.DataArray | None:
    """Files of one stacked cube (:func:`_step_labels`) whose dates repeat (day and night of
    each date) stacked again as written: along their dim, with its levels as a MultiIndex;
    None where they are not such files (each of its own stack, or steps repeated)."""
    stacks = [a.encoding.get(_STACK_ENCODING) for a in arrays]
    if any(s is None for s in stacks):
        return None
    dim, levels, date = stacks[0]["dim"], stacks[0]["levels"], stacks[0]["date"]
    reserved = (set(arrays[0].dims) | set(arrays[0].coords) | {"band"}) - {"time", *levels}
    if any((s["dim"], s["levels"], s["date"]) != (dim, levels, date) for s in stacks) or (
            {dim, *levels} & reserved):
        return None
    keys = [tuple(d if n == date else s["labels"][n] for n in levels)
            for d, s in zip(dates, stacks)]
    if len(set(keys)) != len(keys):
        return None
    drop = ["time", *levels]
    arrays, sources = _with_sources([a.drop_vars(drop, errors="ignore") for a in arrays], dim)
    out = xr.concat(arrays, dim=dim, join="override", combine_attrs=_common_attrs)
    out = out.assign_coords({n: (dim, [k[j] for k in keys]) for j, n in enumerate(levels)})
    out = _joined_sources(out, sources)
    # a dim of its own repeated dates (`date == dim`) is indexed by them as written, its other
    # labels coordinates along it; a stacked dim by its levels
    return out if date == dim else out.set_index({dim: levels})


#: attributes naming the file an array came from: files of different ones stacked keep them
#: all, one per step in step order, joined as open_modis joins its granules' ``source``
#: (``"a.hdf, b.hdf"``); :func:`to_cogs` writes each step's own into its file
_SOURCE_ATTRS = ("source", "source_granule")
_SOURCE_COORD = "_xlstsr_per_file_{}"  # follows the steps through sorting, then dropped


def _same_attr(a: Any, b: Any) -> bool:
    if isinstance(a, (np.ndarray, list, tuple)) or isinstance(b, (np.ndarray, list, tuple)):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and bool(np.all((a == b) | ((a != a) & (b != b))))
    try:
        return bool(a == b) or (a != a and b != b)  # NaN == NaN
    except (TypeError, ValueError):
        return False


def _common_attrs(attrs: Sequence[dict[str, Any]], context: Any = None) -> dict[str, Any]:
    """The attributes every file holds with the same value (units, scale...): one file's
    own (its source granule, windows) are no attributes of the stack."""
    if not attrs:
        return {}
    first, *rest = attrs
    out = {k: v for k, v in first.items() if all(k in a and _same_attr(a[k], v) for a in rest)}
    # the coding _same_coding compared by meaning ('degC' and 'Celsius'; a scale of 1 said
    # by one file only): from the first file that declares it (dropped, a Celsius stack lost
    # its units and upscale refused it as a class layer)
    for k in _CODING_KEYS:
        if k not in out:
            said = next((a[k] for a in attrs if a.get(k) is not None), None)
            if said is not None:
                out[k] = said
    return out


#: attributes of how values are stored, checked alike across a stack's files by meaning
_CODING_KEYS = ("units", "scale_factor", "add_offset", "_FillValue")

#: the tag naming the method that made a file's values (upscale's output, written by to_cogs)
METHOD_TAG = "xlstsr_method"


def _method_of(attrs: dict[str, Any]) -> str:
    """A file's ``xlstsr_method`` as the warnings name it (``'none'``: no such tag)."""
    method = attrs.get(METHOD_TAG)
    return "none" if method is None else str(method)


def _warn_mixed_methods(paths: Sequence[Any], arrays: Sequence[xr.DataArray]) -> None:
    """Warn where the files of one stack were made by different methods (``xlstsr_method``
    differs): a folder holding an earlier run's files beside a rerun's, read by one glob, gave
    one cube of both runs, its ``xlstsr_method`` attribute dropped without a word."""
    by_method: dict[str, list[str]] = {}
    for p, a in zip(paths, arrays):
        by_method.setdefault(_method_of(a.attrs), []).append(Path(os.fspath(p)).name)
    if len(by_method) < 2:
        return
    listed = "; ".join(
        f"{m} ({len(names)} file{'s' * (len(names) > 1)}: {', '.join(names[:3])}"
        f"{', ...' if len(names) > 3 else ''})" for m, names in by_method.items())
    first = next(m for m in by_method if m != "none")  # a value the tag holds
    warn(f"the {len(paths)} files were made by different methods ({METHOD_TAG} tag; 'none': "
         f"no such tag): {listed}. One cube mixes the steps of these runs (an earlier run's "
         "files left in the folder of a rerun and read by one glob), and its "
         f"{METHOD_TAG} attribute is dropped. Open the files of one run, e.g. `[p for p in "
         f"paths if rasterio.open(p).tags().get({METHOD_TAG!r}) == {first!r}]`, or remove "
         "the earlier run's files; to compare methods, open each method's files apart.")


def _with_sources(arrays: list[xr.DataArray], dim: str
                  ) -> tuple[list[xr.DataArray], list[str]]:
    """The arrays with each one's differing :data:`_SOURCE_ATTRS` as a coordinate along
    ``dim`` (to follow the steps' order), and the names of these attributes."""
    keys = []
    for k in _SOURCE_ATTRS:
        values = [a.attrs.get(k) for a in arrays]
        if (all(isinstance(v, str) and v and ", " not in v for v in values)
                and len(set(values)) > 1):  # else: common, or dropped as a conflict
            keys.append(k)
    if not keys:
        return arrays, keys
    out = []
    for a in arrays:
        n = a.sizes[dim] if dim in a.dims else None
        out.append(a.assign_coords({
            _SOURCE_COORD.format(k): ((dim, [a.attrs[k]] * n) if n is not None else a.attrs[k])
            for k in keys}))
    return out, keys


def _joined_sources(out: xr.DataArray, keys: list[str]) -> xr.DataArray:
    for k in keys:
        name = _SOURCE_COORD.format(k)
        out.attrs[k] = ", ".join(str(v) for v in np.ravel(out[name].values))
        out = out.drop_vars(name)
    return out


def _step_sources(attrs: dict[str, Any], label: Any, n: int | None) -> dict[str, Any]:
    """``attrs`` of the step labelled ``label`` (of ``n``, None: one field) with its own file
    in the :data:`_SOURCE_ATTRS` of a stack (``"a.hdf, b.hdf"``, one file per step): the one
    of its date in MODIS names; none where it cannot be told (the
    stack's list in every date's file named the other dates' granules as its source). One
    field (a composite of the files) keeps the list."""
    from .modis import granule_time

    out = dict(attrs)
    if n is None:
        return out
    for k in _SOURCE_ATTRS:
        v = out.get(k)
        parts = v.split(", ") if isinstance(v, str) else []
        # free text ('ERA5, MODIS', a URL and a note) is no list of files: kept as it is
        if len(parts) < 2 or not all(re.fullmatch(r"[^\s,]+\.\w+", p) for p in parts):
            continue
        out.pop(k)
        dates = [granule_time(p) for p in parts]
        date = _as_date(decoded_label(label))  # a date label as bytes: as to_cogs tags it
        # by date only: the joined list does not follow a reordering of the steps (isel,
        # sortby), so a position named the other step's granule
        if None not in dates and date is not None:
            own = {p for p, d in zip(parts, dates) if d is not None
                   and np.datetime64(d, "D") == np.datetime64(date, "D")}
            if len(own) == 1:
                out[k] = own.pop()
    return out


#: the tag of a multi-band GeoTIFF whose bands are time steps (``xlstsr upscale ... out.tif``):
#: one :func:`_time_tags` mapping per band, as JSON, read back by :func:`open_cog`
BANDS_TAG = "time_per_band"


def band_time_tags(labels: Any, overpasses: Sequence[str | None] | None = None
                   ) -> dict[str, str]:
    """The GeoTIFF tags that keep the labels of a field's steps written as its bands (one date
    per band; without them a dated cube came back as bands 1..N), or of its one step.

    ``overpasses`` (one per label, 'day' / 'night' / None) adds each band's overpass as its
    ``day_night``, which :func:`open_cog` reads back as an ``overpass`` coordinate along time
    (a series interleaving day and night steps lost it, and with it the pairing checks).

    Examples
    --------
    >>> band_time_tags(np.array(["2020-07-01"], dtype="datetime64[ns]"))
    {'time': '2020-07-01T00:00:00'}
    >>> tags = band_time_tags(np.array(["2020-07-01T10:30", "2020-07-01T22:30"],
    ...                                dtype="datetime64[ns]"), ["day", "night"])
    >>> [band["day_night"] for band in json.loads(tags["time_per_band"])]
    ['day', 'night']
    """
    labels = list(np.atleast_1d(labels))
    if overpasses is not None and len(overpasses) != len(labels):
        raise ValueError(f"{len(overpasses)} overpasses for {len(labels)} labels")
    over = [v if v in ("day", "night") else None
            for v in map(decoded_label, overpasses or [None] * len(labels))]
    tags = [_time_tags(v) for v in labels]
    if all(tags):
        tags = [{**t, "day_night": o} if o else t for t, o in zip(tags, over)]
    if len(labels) == 1:
        return tags[0]
    return {BANDS_TAG: json.dumps(tags)} if all(tags) else {}


#: the tag of a multi-band GeoTIFF whose bands run along another dim than ``time`` (the day and
#: night of one date, ``overpass``): the dim's name, read back by :func:`open_cog` as that dim,
#: with the file's own date (its :data:`TIME_TAG`) as a scalar ``time`` (the bands came back
#: as 'time' steps labelled 'day' and 'night', the date lost)
BAND_DIM_TAG = "band_dim"


def band_dim_tags(da: xr.DataArray, dim: Hashable) -> dict[str, str]:
    """The GeoTIFF tags of a field written with one band per step of ``dim``, which is not
    ``time``: the dim's name, its labels (one per band, even for one band) and the field's own
    date, a scalar ``time`` coordinate (``ds.sel(time=t)`` of an ``(time, overpass, y, x)``
    cube), as :func:`open_cog` reads them back.

    Examples
    --------
    >>> da = xr.DataArray(np.zeros((2, 1, 1)), dims=("overpass", "y", "x"),
    ...                   coords={"overpass": ["day", "night"], "time": np.datetime64("2020-01-05")})
    >>> tags = band_dim_tags(da, "overpass")
    >>> tags["band_dim"], tags["time"]
    ('overpass', '2020-01-05T00:00:00')
    """
    tags = {BAND_DIM_TAG: str(dim)}
    if dim in da.coords:
        labels = [_time_tags(v) for v in np.atleast_1d(da[dim].values)]
        if all(labels):
            tags[BANDS_TAG] = json.dumps(labels)
    if "time" in da.coords and da["time"].ndim == 0:
        tags.update(_time_tags(da["time"].values[()]))
    return tags


def _band_tags(attrs: dict[str, Any], n: int) -> list[dict[str, Any]] | None:
    """The per-band tags of a GeoTIFF's ``n`` bands as :func:`band_time_tags` writes them, or
    None when absent or not one object per band."""
    try:
        tags = json.loads(str(attrs[BANDS_TAG]))
    except (KeyError, ValueError):
        return None
    if not isinstance(tags, list) or len(tags) != n or not all(isinstance(t, dict) for t in tags):
        return None
    return tags


def _tagged_band_times(attrs: dict[str, Any], n: int) -> list[Any] | None:
    """The steps' labels of a GeoTIFF's ``n`` bands written with :func:`band_time_tags`."""
    tags = _band_tags(attrs, n)
    if tags is None:
        return None
    labels = [_tagged_time(t) for t in tags]
    return None if any(v is None for v in labels) else labels


def _tagged_band_overpasses(attrs: dict[str, Any], n: int) -> list[str] | None:
    """Each of a GeoTIFF's ``n`` bands' overpass ('day' / 'night') as :func:`band_time_tags`
    writes it, when every band has one; else None."""
    tags = _band_tags(attrs, n)
    if tags is None:
        return None
    labels = [str(t.get("day_night", "")).strip().lower() for t in tags]
    return labels if all(v in ("day", "night") for v in labels) else None


def _tagged_label(attrs: dict[str, Any]) -> Any:
    """The non-date label in a GeoTIFF's tags as :func:`to_cogs` writes it, or None."""
    text, kind = attrs.get(LABEL_TAG), attrs.get(LABEL_TYPE_TAG)
    if text is None or kind not in ("bool", "int", "float", "str"):
        return None
    try:  # rioxarray reads a numeric tag back as a number: its text is the JSON again
        value = json.loads(str(text).lower() if kind == "bool" else str(text))
    except ValueError:  # a text written unquoted (before the labels were JSON): itself
        return str(text) if kind == "str" else None
    if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    ok = {"bool": bool, "int": int, "float": float, "str": str}[kind]
    return value if isinstance(value, ok) and (kind == "bool") == isinstance(value, bool) else None


_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?"
                       r"(Z|[+-]\d{2}:?\d{2})?")


def _tagged_time(attrs: dict[str, Any]) -> Any:
    """The date in a GeoTIFF's tags as :func:`to_cogs` writes it (None when absent or not one)."""
    text, cal = attrs.get(TIME_TAG), attrs.get(CALENDAR_TAG)
    if not isinstance(text, str):
        return _tagged_label(attrs)
    try:
        if cal is None:
            import pandas as pd

            # ISO text only (pandas also reads '2020:07:01 10:30' as the year 1), as UTC
            # without numpy's "no explicit representation of timezones" warning (a zone
            # written by another tool, '2023-07-21 00:54:11+00:00')
            if not _ISO_TIME.fullmatch(text.strip()):
                return None
            ts = pd.Timestamp(text)
            return np.datetime64((ts.tz_convert(None) if ts.tzinfo else ts).to_datetime64(), "ns")
        import cftime

        out = cftime.datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S", calendar=str(cal))
        frac = text[19:]  # the microseconds written since (none in older files' tags)
        if re.fullmatch(r"\.\d{1,6}", frac):
            out = out.replace(microsecond=int(frac[1:].ljust(6, "0")))
        return out
    except (ValueError, TypeError, ImportError):  # another program's "time" tag
        return None


def _time_labels(times: list[Any]) -> list[Any]:
    """``times`` as datetime64 when they are dates: date strings stayed text (``<U10``) and
    zone-aware datetimes became an object coordinate, on which time selection and the
    matching of guides by date fail; zone-aware ones are converted to UTC. Repeated labels are
    refused: ``sel(time=...)`` would return two steps."""
    import pandas as pd

    if any(isinstance(t, (str, np.datetime64)) or hasattr(t, "isoformat") for t in times):
        try:
            idx = pd.to_datetime(pd.Series(list(times), dtype=object), utc=True)
        except (ValueError, TypeError) as err:
            raise XlstsrError(f"times {list(times)[:3]!r}... are not all dates ({err}): pass "
                              "dates (e.g. '2020-01-01', datetime, numpy datetime64) or "
                              "numbers, one per path") from None
        times = list(idx.dt.tz_localize(None).to_numpy())
    seen: dict[Any, int] = {}
    for i, t in enumerate(times):
        if t in seen:
            raise XlstsrError(
                f"times {seen[t]} and {i} are both {t!r}: two files of one date (Terra and Aqua, "
                "day and night, two versions?) would make one label hold two steps. Give each "
                "file its own time, or stack each product separately."
            )
        seen.setdefault(t, i)
    return times


def _grid(da: xr.DataArray) -> tuple[Any, ...]:
    try:
        transform = tuple(da.rio.transform(recalc=True))
    except Exception:  # no spatial coordinates rioxarray recognises: compare the rest
        transform = None
    return da.sizes.get("band"), da.shape[-2:], da.rio.crs, transform


def _show_grid(x: tuple[Any, ...], other: tuple[Any, ...]) -> str:
    """What differs of grid ``x`` from ``other`` (:func:`_grid`), in words."""
    if x[2] != other[2]:
        epsg = x[2].to_epsg() if x[2] is not None else None
        return f"CRS {f'EPSG:{epsg}' if epsg else str(x[2])[:60]}"
    if x[0] != other[0]:
        return f"{x[0]} bands"
    t = x[3]
    return f"{x[1][0]} x {x[1][1]} pixels" + (
        f" of {t[0]:g} x {-t[4]:g} from ({t[2]:g}, {t[5]:g})" if t else "")


def _same_grid(paths: Sequence[PathLike], arrays: Sequence[xr.DataArray]) -> None:
    """Refuse files on different grids (xarray's exact join would raise an AlignmentError)."""
    first = _grid(arrays[0])
    for p, a in zip(paths[1:], arrays[1:]):
        g = _grid(a)
        same = g[:3] == first[:3] and (g[3] is None) == (first[3] is None) and (
            g[3] is None or np.allclose(g[3], first[3], rtol=0, atol=1e-6 * abs(first[3][0])))
        if not same:
            raise XlstsrError(
                f"the files are on different grids: {os.fspath(paths[0])} has "
                f"{_show_grid(first, g)}, {os.fspath(p)} {_show_grid(g, first)}. Open them one "
                "by one and put them on one grid before stacking (`b.rio.reproject_match(a)`, then `xr.concat([a, b], 'time')`), "
                "or open only the files of one tile."
            )


#: target side (pixels) of chunks built from a file's blocks, and the most bytes in one chunk
_CHUNK_SIDE = 1024
_CHUNK_BYTES = 128 * 1024**2


def _file_chunks(path: PathLike) -> dict[str, int]:
    """Chunks from the file's layout: whole blocks, about ``_CHUNK_SIDE`` pixels a side.

    One-row strips (common in GeoTIFFs written by MATLAB or GDAL without ``TILED=YES``) would
    otherwise give one tiny task per row and band; a pixel-interleaved file stores all bands of
    a block together, so its bands are read at once (within ``_CHUNK_BYTES``).
    """
    import rasterio
    from rasterio.enums import Interleaving

    with rasterio.open(path) as src:
        by, bx = src.block_shapes[0]
        ty = min(src.height, by * max(1, _CHUNK_SIDE // by))
        tx = min(src.width, bx * max(1, _CHUNK_SIDE // bx))
        nbytes = src.count * ty * tx * np.dtype(src.dtypes[0]).itemsize
        together = src.interleaving == Interleaving.pixel and nbytes <= _CHUNK_BYTES
        return {"band": src.count if together else 1, "y": ty, "x": tx}


def check_chunks(chunks: Any, name: str = "chunks") -> None:
    """Refuse chunk sizes dask would divide by (0) or misread: each size a whole number >= 1,
    -1 (the whole dim) or "auto"; None, True, "auto" and dicts of those pass.

    Examples
    --------
    >>> check_chunks({"x": 512, "y": -1})
    >>> check_chunks({"x": 0})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    xlstsr.errors.XlstsrError: chunks['x'] must be a whole number >= 1, -1 (the whole ...
    """
    if chunks is None or chunks is True or chunks == "auto":
        return
    items = chunks.items() if isinstance(chunks, dict) else (
        enumerate(chunks) if isinstance(chunks, (tuple, list)) else [(None, chunks)])
    for key, v in items:
        if v is None or isinstance(v, tuple) or (isinstance(v, (int, np.integer))
                                                 and not isinstance(v, bool) and v == -1):
            continue  # explicit block sizes are dask's to judge
        if isinstance(v, str):
            from dask.utils import parse_bytes

            if v == "auto":
                continue
            try:
                parse_bytes(v)  # "64MiB": a size per chunk, as dask takes it
                continue
            except ValueError:
                pass
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            where = name if key is None else f"{name}[{key!r}]"
            raise XlstsrError(
                f"{where} must be a whole number >= 1, -1 (the whole dimension), 'auto' or a "
                f"size such as '64MiB', got "
                f"{v!r}; e.g. {name}={{'x': 512, 'y': 512}}"
            )


def _stamp(value: Any, index: int) -> str:
    """A step's part of its file name: its date, a label fit for a file name as it is (a
    number such as 2020183, a word such as 'night', bytes decoded as text), else its
    position."""
    value = decoded_label(value)
    try:
        # a text is a date only in ISO form ('2020' and '007' are labels: not 2020-01-01)
        ts = _as_date(value) if isinstance(value, (str, np.str_)) else np.datetime64(value)
        if ts is None or np.isnat(ts):
            raise ValueError
        s = np.datetime_as_string(ts, unit="s")
        s = s[:10] if s.endswith("T00:00:00") else s.replace(":", "")
        return s
    except (ValueError, TypeError):
        if hasattr(value, "calendar") and hasattr(value, "strftime"):
            # a cftime date numpy cannot hold ('360_day' Feb 30): named by its own fields,
            # not by its position (which broke the files' date order)
            s = value.strftime("%Y-%m-%dT%H%M%S")
            return s[:10] if s.endswith("T000000") else s
        text = str(value.item() if isinstance(value, np.generic) else value)
        if (isinstance(value, (int, str, np.integer, np.str_)) and not isinstance(value, bool)
                and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", text)):
            return text
        return f"{index:05d}"


def _stamps(values: Any, pad: bool = True) -> list[str]:
    """The file name parts of a series' steps (:func:`_stamp`), whole-number labels zero-padded
    to the widest of the series: ``lst_01.tif`` ... ``lst_12.tif`` (``lst_1.tif`` ...
    ``lst_12.tif`` listed by a sorted glob as 1, 10, 11, 12, 2 ...). Positions (a series
    without labels) are padded too: their files carry no label tag, so the order of a sorted
    glob is the order :func:`open_cog` reads them in. ``pad=False``: the unpadded names earlier
    versions wrote, which :func:`to_cogs` looks for beside the new ones."""
    values = list(values)
    stamps = [_stamp(v, i) for i, v in enumerate(values)]
    if not pad:
        return stamps
    whole = [isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) and v >= 0
             for v in values]
    width = max((len(s) for s, w in zip(stamps, whole) if w), default=0)
    return [s.zfill(width) if w and s.isdigit() else s for s, w in zip(stamps, whole)]


def to_cogs(
    da: xr.DataArray,
    directory: PathLike,
    *,
    prefix: str | None = None,
    time_dim: str | None = None,
    compress: str = "DEFLATE",
    overwrite: bool = False,
    **rio_kwargs: Any,
) -> list[Path]:
    """Write one Cloud-Optimised GeoTIFF per time step of a georeferenced (time, y, x) array.

    Each chunk along time is computed once and its steps written in turn (memory: one time
    chunk; ``da.chunk({"time": 1})`` for one step at a time). CRS, transform and nodata (NaN)
    are written (a float array's declared fill, ``rio.write_nodata(-80)`` or
    ``attrs['_FillValue']``, is written as NaN); files are named ``{prefix}_{time}.tif`` with
    the time as ``YYYY-MM-DD`` (or ISO with seconds; another label as it is when it suits a file name,
    e.g. ``2020183`` or ``night``, bytes, NetCDF char labels read back, decoded as text;
    whole numbers zero-padded to the widest of the series,
    ``lst_01.tif`` ... ``lst_12.tif``, so that a sorted glob lists them in order; else the
    step's index). A date label is also written as the
    tag ``time`` (with ``time_calendar`` for cftime dates), another label as ``time_label``
    (with its type), which :func:`open_cog` reads back. A stacked dim
    (``da.stack(t=("time", "overpass"))``, or its levels as coordinates along it in a store read
    back) with a date level is named by its levels (``lst_2020-01-05_day.tif``), the date in
    ``time`` and the stack in ``time_stack``: open_cog stacks the files back as written. So
    are dates that repeat along ``time`` (a day and a night step of each date) told apart by
    a coordinate along it (``overpass``): open_cog gives them back with that coordinate.
    The attributes are written as tags, with each step's overpass ('day' / 'night': its
    ``overpass`` coordinate, else ``day_night`` attribute or layer name) as ``day_night``,
    which open_cog reads back (an ``overpass`` coordinate along time again for a series
    interleaving both); a ``source`` / ``source_granule`` that lists one
    file per step (``"a.hdf, b.hdf"``, from open_modis or open_cog) gives each step's file
    its own (matched by the date in MODIS names), or none where that cannot be told. The
    transform is written exactly (not derived from the labels, an ulp off), and where the y/x
    labels are not those rioxarray computes from it (a NetCDF's 45.005, 45.015), the tag
    ``xlstsr_label_forms`` names how they are computed (where no formula does: a crop of a
    file whose edge is not round, upscale's fine labels of a NetCDF's rounded ones, how many
    floats they are from one, ``xlstsr_label_deltas_y`` / ``_x``), so that open_cog gives them
    back as they were; a file resampled with these tags copied (``gdalwarp``) is read with
    rioxarray's labels.

    Parameters
    ----------
    da : DataArray
        ``(time, y, x)`` or ``(y, x)`` with a CRS (rioxarray).
    directory : path
        Output folder (created): a local path or a ``file://`` URL of one.
    prefix : str, optional
        File name prefix (default: ``da.name`` or ``"lst"``).
    time_dim : str, optional
        The dimension to split along (default: the one non-spatial dim).
    compress : str
        GDAL COG compression (``DEFLATE``, ``ZSTD``, ``LZW``, ``LERC``...: lossless, for float
        LST). ``JPEG`` (8-bit data only), ``WEBP`` (RGB/RGBA images, not one band) and ``JXL``
        (a GDAL with its codec) are refused before any step is computed where they cannot
        write the data.
    overwrite : bool
        Replace existing files; otherwise an existing file raises. Whole-number labels and
        positions are zero-padded (``lst_01.tif``; earlier versions wrote ``lst_1.tif``): a
        step's file under its earlier unpadded name is removed once the new files are
        written, and refused without ``overwrite`` (left beside the new name, a sorted glob
        read the step twice). Other files ``{prefix}_*.tif`` in the folder are kept (a long
        series may be written in batches into one folder) but warned of (``UserWarning``,
        naming them) where they are another run's, which a sorted glob would read with the
        new files: where their ``xlstsr_method`` tag differs from the array's (up to 16 of
        them read). A rerun of fewer dates by the same method is not told from a batch: write
        a rerun into an empty folder.
    **rio_kwargs
        Passed to :meth:`rioxarray.raster_array.RasterArray.to_raster` (``blocksize=``...).
        The overviews are averaged (``overview_resampling="average"``: each overview pixel the
        mean of the valid pixels it covers, NaN only where none is; GDAL's own default, cubic,
        overshot the values of its block and spread every NaN gap); pass
        ``overview_resampling=`` (or ``resampling=``) to choose another, e.g. ``"nearest"``
        for class codes.

    Returns
    -------
    list of Path
        The written files, one per step in the array's order along ``time_dim``, not
        sorted: ``dict(zip(da[time_dim].values, paths))`` pairs each label with its file
        (:func:`open_cog` of them puts tagged dates back in time order).

    Raises
    ------
    xlstsr.errors.XlstsrError
        Before the first file is written: ``da`` that is no georeferenced DataArray, a
        ``directory`` that is a file, a ``prefix`` holding folders, time labels that give two
        steps one file name, existing files without ``overwrite`` (a step's file under the
        unpadded name of an earlier version included), a name derived from
        ``da.name`` that holds folders. If a step fails later (its computation, the disk), no
        file is changed: each step is written to a hidden file beside its name
        (``.{prefix}_{time}.tif.partial``), all are renamed to their names once every step is
        written, and on a failure the hidden files are removed, existing files (``overwrite``)
        left whole as they were. A run killed hard (no clean-up) may leave hidden files; they
        match no ``*.tif`` pattern, and the next run over the same names removes them. The folder needs room for the new files beside the old ones.
    xlstsr.errors.PhysicalRangeError
        An array labelled as a temperature (``units`` K or degC) whose values, decoded with its
        own ``scale_factor`` / ``add_offset``, are not land temperatures (median outside
        150-400 K): decoded Kelvin that kept a product's scale (read back as 6 K), Celsius
        labelled K, digital numbers labelled K. The tags would make every reader decode the
        file wrong. Checked before the first file for an in-memory array, per step (with the
        clean-up above) for a lazy one. Celsius labelled ``degC`` is written as it is, and so
        is a temperature difference or error in K (``sr - truth``,
        :func:`xlstsr.qc.lst_error_k`) marked as one as CF 1.11 does:
        ``attrs["units_metadata"] = "temperature: difference"``.

    Examples
    --------
    >>> import xlstsr, tempfile
    >>> sr = xlstsr.datasets.sample_scene(n_times=2, size=32)["lst_1km"].lstsr.upscale(4)
    >>> paths = xlstsr.io.to_cogs(sr, tempfile.mkdtemp())
    >>> len(paths)
    2
    """
    if isinstance(da, xr.DataArray):
        # lat/lon dims (or declared ones: rioxarray forgets them on isel) as the entry points
        # take them, written north-up; checked as the user gave it, whose dim names and order
        # the advice assigns labels in (`y=` for lat raised CoordinateValidationError)
        names = spatial_names(da)
        da = da.rename(names)
        require_georeferenced(da, "array written to COG",
                              user_dims={v: k for k, v in names.items()})
        da = image_order(da)
        da = _scalar_date_as_step(da, time_dim)
    # a local folder's file:// URL is that folder (it was refused as "not local")
    directory = file_uri_path(directory) or directory
    # the store of an unfinished upscale_to_zarr run (README: `xr.open_zarr` then to_cogs):
    # its unwritten dates were written as all-NaN COGs, like cloudy days
    refuse_incomplete_inputs(da, None, roles=("array given to to_cogs", "guide"))
    _check_cog_options(da, directory, rio_kwargs)
    # driver="COG" asks for what is written anyway: dropped, not passed twice to rasterio
    rio_kwargs = {k: v for k, v in rio_kwargs.items() if str(k).lower() != "driver"}
    if not any(str(k).lower() in ("overview_resampling", "resampling") for k in rio_kwargs):
        # GDAL's COG default (cubic) gave overviews off their block's mean, outside its
        # range, and NaN over every block a gap touches: the mean of the valid pixels
        rio_kwargs["overview_resampling"] = "AVERAGE"
    _check_compress(da, compress, rio_kwargs)
    ydim, xdim, time_dim, out_dir, names, step_tags, stale = _plan_cogs(da, directory, prefix,
                                                                        time_dim, overwrite)
    # files of an earlier run under this prefix that this run does not write (told after the
    # new files are written: a failed run changed nothing)
    leftover = _leftover_warning(da, out_dir, prefix, time_dim, names, stale)
    if not isinstance(da.variable.data, dask_array_type()):  # in memory: checked before any file
        _check_temperature(da)
    check_writable(out_dir, create=True)
    # each step is written to a hidden name beside its file, and all are renamed once every
    # step is written: a failed step (a compute error, a full disk) changed no file (writing
    # over the final names left new dates beside old ones, or a truncated old file)
    parts = {p: _partial_name(p) for p in names}
    for part in parts.values():  # left by a run killed hard (its clean-up below never ran)
        part.unlink(missing_ok=True)
    paths: list[Path] = []
    crs = da.rio.crs
    # the exact transform (the written one where the labels agree), not rioxarray's
    # recomputed from the labels: read back, labels 1e-9 m off the result's
    transform = _transform(da)
    from ..steps import _day_night

    try:
        for lo, hi in _time_blocks(da, time_dim):
            # one chunk along time computed once, then its steps written: each step computed
            # alone recomputed its whole chunk (9 reads and upscales of an 8-date chunk)
            block = da if time_dim is None else da.isel({time_dim: slice(lo, hi)}).compute()
            for i in range(lo, hi):
                step = block if time_dim is None else block.isel({time_dim: i - lo})
                tags = step_tags[i]
                # a stack's per-file sources: each date's file names its own
                label = (da[time_dim].values[i] if time_dim is not None and time_dim in da.coords
                         else None)
                step = step.copy(deep=False)  # its own attrs, not the caller's array's
                step.attrs = _step_sources(step.attrs, label,
                                           None if time_dim is None else da.sizes[time_dim])
                over, _ = _day_night(step)
                if over in ("day", "night"):
                    # the step's own overpass: a step of a (time, overpass) stack (the stack
                    # kept the day field's day_night, written into the night files), or a
                    # layer named only by da.name ('LST_Night_1km', lost with the name)
                    step.attrs["day_night"] = over
                _write_cog(step.transpose(ydim, xdim), names[i], crs, transform, compress,
                           {**rio_kwargs, "tags": {**tags, **rio_kwargs.get("tags", {})}},
                           write_to=parts[names[i]])
                paths.append(names[i])
        for p in paths:
            os.replace(parts[p], p)
        for p in stale:  # an earlier version's unpadded name of a step written now (overwrite)
            p.unlink(missing_ok=True)
    except BaseException:
        # no partial series: the hidden files written so far are removed, the existing files
        # stay as they were
        for part in parts.values():
            part.unlink(missing_ok=True)
        raise
    if leftover is not None:
        warn(leftover)
    return paths


def _partial_name(path: Path) -> Path:
    """The hidden name beside ``path`` a step is written to before it is renamed to ``path``
    (``.lst_2020-07-01.tif.partial``): it does not end in ``.tif``, so no ``*.tif`` pattern of
    the folder's files matches it (pathlib's and glob's ``*`` match a leading dot: a name
    ending in ``.tif`` left by a run killed hard was read as one more step by
    ``open_cog(sorted(Path(d).glob('*.tif')))``). GDAL writes it as a COG all the same: the
    driver is passed, not taken from the extension."""
    return path.with_name(f".{path.name}.partial")


#: the most of a time chunk to_cogs computes at once when the chunk is read from a file: a
#: chunk of more steps (a whole year read lazily as one chunk) is read in parts of this size
COG_BLOCK_BYTES = 256 * 1024**2


def _time_blocks(da: xr.DataArray, time_dim: str | None) -> list[tuple[int, int]]:
    """The ``[lo, hi)`` step ranges of ``da``'s chunks along ``time_dim``, each cut into parts of
    at most COG_BLOCK_BYTES (one step each for an in-memory array; the whole for no time dim)."""
    if time_dim is None:
        return [(0, 1)]
    n = da.sizes[time_dim]
    chunks = da.chunks[da.get_axis_num(time_dim)] if da.chunks is not None else (1,) * n
    step_bytes = max(1, da.nbytes // max(n, 1))
    most = max(1, COG_BLOCK_BYTES // step_bytes)
    layers = list(da.data.__dask_graph__().layers) if da.chunks is not None else []
    if layers and not (len(layers) <= 2 and any(str(k).startswith("original-") for k in layers)):
        # a computed chunk (a model's output) is computed whole for any part of it: parts
        # ran the model once each, for no less memory
        most = n
    blocks, lo = [], 0
    for c in chunks:
        blocks += [(a, min(a + most, lo + c)) for a in range(lo, lo + c, most)]
        lo += c
    return blocks


def _scalar_date_as_step(da: xr.DataArray, time_dim: str | None) -> xr.DataArray:
    """A field taken from a cube with ``.sel(time=t)`` as a one-step series: it keeps its date
    as a scalar coordinate, and was written as ``{name}.tif`` without it (a loop over dates
    then overwrote one undated file)."""
    name = time_dim if time_dim is not None else "time"
    try:
        ydim, xdim = spatial_dims(da)
    except XlstsrError:
        return da
    if set(da.dims) <= {ydim, xdim} and name in da.coords and da[name].ndim == 0:
        return da.expand_dims(name)
    return da


def _check_cog_options(da: Any, directory: Any, rio_kwargs: dict[str, Any]) -> None:
    """Refuse writer options GDAL would crash on or that would write something else than
    asked, before the first file: a block size that is not a multiple of 16 (``blocksize=0``
    aborts the interpreter in GDAL), another driver, an integer dtype for float LST (Kelvin
    truncated, NaN gaps unstorable), a URL as the folder (a local folder named 's3:' was
    written), a boolean array (no GeoTIFF type)."""
    opts = {str(k).lower(): v for k, v in rio_kwargs.items()}
    if "blocksize" in opts:
        v = opts["blocksize"]
        if (isinstance(v, bool) or not isinstance(v, (int, np.integer, str))
                or not str(v).isdigit() or int(v) < 16 or int(v) % 16):
            raise XlstsrError(f"GDAL could not write COG tiles of blocksize={v!r} pixels: the "
                              "tile size must be a whole multiple of 16, e.g. blocksize=256 or "
                              "512 (the default).")
    if "driver" in opts and not (isinstance(opts["driver"], str)
                                 and opts["driver"].strip().upper() == "COG"):
        raise XlstsrError(
            f"driver={opts['driver']!r}: to_cogs writes Cloud-Optimised GeoTIFFs (driver "
            "'COG'); for another format write each step with `da.rio.to_raster(path, "
            "driver=...)`."
        )
    if "dtype" in opts and isinstance(da, xr.DataArray):
        try:
            dt = np.dtype(opts["dtype"])
        except TypeError:
            raise XlstsrError(f"dtype={opts['dtype']!r} is not a numpy dtype") from None
        if dt.kind in "iub" and da.dtype.kind == "f":
            raise XlstsrError(
                f"dtype={opts['dtype']!r} cannot hold float values such as Kelvin: they would "
                "be truncated to whole degrees and the NaN gaps cannot be stored. Keep the "
                "float dtype (the default), or scale to integers yourself and declare it: "
                "`(da / 0.02).fillna(0).astype('uint16').assign_attrs(scale_factor=0.02, "
                "_FillValue=0)`."
            )
    if "://" in os.fspath(directory) if isinstance(directory, (str, os.PathLike)) else False:
        raise XlstsrError(
            f"to_cogs writes into a local folder, not to {os.fspath(directory)}: write locally, "
            "then upload the files (e.g. `aws s3 cp --recursive`, `gsutil cp -r`)."
        )
    if isinstance(da, xr.DataArray) and da.dtype == bool:
        raise XlstsrError("to_cogs cannot write a boolean array (GeoTIFF has no boolean type): "
                          "write `mask.astype('uint8')` (0/1).")


#: the lossless compressions of a float LST step (the advice of a refused codec)
_LOSSLESS = "DEFLATE (the default), ZSTD, LZW or LERC"


def _check_compress(da: Any, compress: Any, rio_kwargs: dict[str, Any]) -> None:
    """Refuse a compression GDAL's COG driver does not know (GDAL ignored it with a warning: the
    files were written uncompressed) or cannot write the steps with, before any step is
    computed: JPEG takes 8-bit data only, WEBP 3- or 4-band 8-bit images (to_cogs writes one
    band), JXL 8/16-bit or float32 data and a GDAL built with its codec. They failed at the
    first write, after its chunk was computed, with advice on free space and block sizes."""
    if not isinstance(compress, str) or compress.upper() not in _COG_COMPRESS:
        raise XlstsrError(f"compress={compress!r} is not a COG compression; use one of "
                          f"{', '.join(_COG_COMPRESS)} (e.g. 'DEFLATE', 'ZSTD')")
    codec = compress.upper()
    if codec not in ("JPEG", "WEBP", "JXL") or not isinstance(da, xr.DataArray):
        return
    opts = {str(k).lower(): v for k, v in rio_kwargs.items()}
    try:
        dtype = np.dtype(opts.get("dtype", da.dtype))
    except TypeError:
        return  # an unknown dtype= is named by _check_cog_options
    fix = (f"Use a lossless compression for {dtype} values such as LST: compress= "
           f"{_LOSSLESS} (e.g. compress='ZSTD').")
    if codec == "WEBP":
        raise XlstsrError(f"compress={compress!r} compresses 3- or 4-band 8-bit images (RGB, "
                          f"RGBA); to_cogs writes one band per file ({dtype}). {fix}")
    if codec == "JPEG" and dtype != np.uint8:
        raise XlstsrError(f"compress={compress!r} is a lossy 8-bit image codec: it cannot "
                          f"write {dtype} values (GDAL: 'BitsPerSample not allowed'). {fix}")
    if codec == "JXL":
        if dtype not in (np.uint8, np.uint16, np.float32):
            raise XlstsrError(f"compress={compress!r} writes 8- or 16-bit integers or float32, "
                              f"not {dtype} values. {fix}")
        if not _gdal_writes(codec, dtype):
            raise XlstsrError(f"compress={compress!r}: this GDAL (rasterio's) has no JPEG-XL "
                              f"codec. {fix}")


def _gdal_writes(codec: str, dtype: np.dtype) -> bool:
    """Whether GDAL writes a small COG of ``dtype`` with ``codec`` (in memory: no file)."""
    from rasterio.io import MemoryFile

    try:
        with warnings.catch_warnings(), MemoryFile() as mem:
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            with mem.open(driver="COG", width=16, height=16, count=1, dtype=dtype,
                          compress=codec) as f:
                f.write(np.zeros((1, 16, 16), dtype))
    except (rasterio.errors.RasterioError, CPLE_BaseError):
        return False
    return True


def _plan_cogs(
    da: Any, directory: Any, prefix: Any, time_dim: Any, overwrite: Any
) -> tuple[Any, Any, Any, Path, list[Path], list[dict[str, str]], list[Path]]:
    """Every check of :func:`to_cogs`, the file names and each file's tags of its step's
    labels, before the first file is written; and the files of these steps under the unpadded
    names of earlier versions (``lst_1.tif`` where ``lst_01.tif`` is written now), removed once
    the new files are written (``overwrite``; refused without it): left beside them, a sorted
    glob of the folder read every such step twice (22 steps for 12)."""
    if isinstance(da, xr.Dataset):
        _refuse_dataset(da)
    if not isinstance(da, xr.DataArray):
        raise InputTypeError(
            f"to_cogs writes a georeferenced DataArray, got {type(da).__name__}: wrap the array "
            "with its coordinates and CRS (`xr.DataArray(a, dims=('time', 'y', 'x'), coords=...)"
            ".rio.write_crs(...)`) or write the output of xlstsr.upscale."
        )
    check_bool("overwrite", overwrite)
    ydim, xdim = spatial_dims(da)  # georeferenced: checked by to_cogs in the user's dims
    others = [d for d in da.dims if d not in (ydim, xdim)]
    if time_dim is None:
        if len(others) > 1:
            raise XlstsrError(
                f"to_cogs needs one non-spatial dim, got {others}; pass `time_dim=` and select "
                "or stack the others first."
            )
        time_dim = others[0] if others else None
    elif time_dim not in others:
        raise XlstsrError(f"time_dim={time_dim!r} is not a non-spatial dim of the array "
                          f"(dims {da.dims}): pass one of {others} or None.")
    elif len(others) > 1:
        raise XlstsrError(f"to_cogs writes (time, y, x) arrays; the dims {others} besides "
                          f"{time_dim!r} would be written as bands: select or stack them first.")
    # "~/cogs" is the home folder's, as upscale_to_zarr, open_path and the CLI read it (a folder
    # named "~" was made in the working directory)
    out_dir = Path(os.path.expanduser(os.fspath(directory)))
    if out_dir.exists() and not out_dir.is_dir():
        raise XlstsrError(f"{out_dir} is a file, not a directory: to_cogs writes one file per "
                          "time step into a directory; pass a folder path.")
    if prefix is not None and not _file_prefix(prefix):
        raise XlstsrError(f"prefix must be a file name prefix, got {prefix!r}: put folders in "
                          "`directory`, not in `prefix`.")
    if prefix is None:
        prefix = str(da.name) if da.name is not None and str(da.name) else "lst"
        if not _file_prefix(prefix):
            # the name is a label ('LST 1km/250m'), not a path: as a prefix it gave GDAL's
            # failure, or files outside `directory` ('../lst')
            raise XlstsrError(
                f"the array's name {da.name!r}, the default file name prefix, holds a folder "
                "separator or is '.'/'..': the files would not be written into "
                f"{os.fspath(directory)}. Pass a file name prefix (`prefix='lst'`) or rename "
                "the array (`da.rename('lst')`).")
    stacked = _step_labels(da, time_dim)
    if time_dim is None:
        names, tags = [out_dir / f"{prefix}.tif"], [{}]
        unpadded = names
    elif stacked is not None:  # a stacked dim: its levels' labels (lst_2020-01-05_day.tif)
        names = [out_dir / f"{prefix}_{stamp}.tif" for stamp, _ in stacked]
        tags = [t for _, t in stacked]
        unpadded = [out_dir / f"{prefix}_{stamp}.tif"
                    for stamp, _ in (_step_labels(da, time_dim, pad=False) or stacked)]
    else:
        labels = da[time_dim].values if time_dim in da.coords else range(da.sizes[time_dim])
        names = [out_dir / f"{prefix}_{stamp}.tif" for stamp in _stamps(labels)]
        tags = [_time_tags(v) if time_dim in da.coords else {} for v in labels]
        unpadded = [out_dir / f"{prefix}_{stamp}.tif" for stamp in _stamps(labels, pad=False)]
    seen: dict[Path, int] = {}
    for i, p in enumerate(names):
        if p in seen:
            # no advice to drop the repeats: drop_duplicates keeps the first step of each
            # label, every night step of a day+night series
            tellers = _repeat_tellers(da, time_dim, seen[p], i)
            if tellers:
                # labels that are not dates, with a coordinate telling the repeats apart: the
                # advice to add such a coordinate named the one the array had
                why = (f"{time_dim!r} labels repeat and are not dates "
                       f"({str(decoded_label(da[time_dim].values[i]))!r}): only dates are named "
                       f"with the coordinate along {time_dim!r} that tells them apart "
                       f"({tellers[0]!r}). Give the steps their dates (`da.assign_coords("
                       f"{time_dim}=dates)`: each file is then named by both, "
                       f"lst_2020-01-05_{decoded_label(da[tellers[0]].values[i])}.tif)")
            else:
                why = (f"{time_dim!r} labels repeat and no coordinate along {time_dim!r} "
                       "tells them apart. Label the steps (e.g. `da.assign_coords(overpass=("
                       f"{time_dim!r}, ['day', 'night', ...]))`: each file is then named by "
                       "both, lst_2020-01-05_day.tif)")
            raise XlstsrError(
                f"time steps {seen[p]} and {i} map to the same file name {p.name}: their "
                f"{why}, or write each series apart, selecting its steps "
                f"(`da.isel({time_dim}=[...])`, step {seen[p]} in one, step {i} in the "
                "other) with a prefix of its own."
            )
        seen[p] = i
    folders = [p for p in names if p.is_dir()]
    if folders:  # the renaming of the written files would fail there, after others were renamed
        raise XlstsrError(f"{folders[0]} is a folder, not a file to overwrite: remove it or "
                          "write to another directory.")
    new = set(names)
    stale = [(old, p) for old, p in zip(unpadded, names)
             if old != p and old not in new and old.is_file()]
    if stale and not overwrite:
        old, p = stale[0]
        raise XlstsrError(
            f"{old} exists ({len(stale)} such files): a file under the unpadded name of the "
            f"same step, written now as {p.name} (by an earlier xlstsr, or by a shorter series "
            "with this prefix, whose labels needed no padding). Left beside the new files, a "
            "sorted glob of the folder would read each such step twice: pass overwrite=True "
            "(the files under the unpadded names are removed once the new files are written), "
            "remove them, or write to another directory.")
    existing = [p for p in names if p.exists()]
    if existing and not overwrite:
        raise XlstsrError(f"{existing[0]} exists ({len(existing)} of the {len(names)} files); "
                          "pass overwrite=True or write to another directory")
    return ydim, xdim, time_dim, out_dir, names, tags, [old for old, _ in stale]


#: the most files left beside a to_cogs run whose method tags are read (spread over them in
#: name order): reading every file of a long series written in batches took seconds per batch
LEFTOVER_TAGS_READ = 16


def _leftover_warning(da: xr.DataArray, out_dir: Path, prefix: Any, time_dim: Any,
                      names: list[Path], stale: list[Path]) -> str | None:
    """The warning :func:`to_cogs` gives of the files ``{prefix}_*.tif`` already in
    ``out_dir`` that this run does not write (a sorted glob of the run's pattern reads them
    with the new ones), or None.

    Told where they are of another run, not batches of one series (a long series written in
    parts into one folder, which must stay silent, and whose files are not removed): where
    some of them were made by another method (their ``xlstsr_method`` tag differs from
    ``da``'s; at most :data:`LEFTOVER_TAGS_READ` of them read: a rerun by another method left
    the earlier run's other steps, and the glob read 3 of 8 steps from it). A rerun by the
    same method is not told from a batch of the series (one month rewritten with
    overwrite=True among a year's was warned of as 3706 stale files, review 47f).

    Only files named as this run's steps are (:func:`_names_form`) are such files: another
    series whose prefix begins with this one's (``sr_bicubic_*.tif`` beside ``sr_*.tif``, a
    method comparison in one folder) was told as leftovers, and the advice removed it."""
    if time_dim is None:  # one field, one file: no series to mix into
        return None
    if prefix is None:  # as _plan_cogs names the files
        prefix = str(da.name) if da.name is not None and str(da.name) else "lst"
    pattern = f"{prefix}_*.tif"
    # the search and the advice's glob: the prefix's glob characters ('lst[1km]') escaped
    escaped = glob.escape(str(prefix)) + "_*.tif"
    named = _names_form(str(prefix), [p.name for p in names])
    skip = set(names) | set(stale)
    others = sorted(p for p in out_dir.glob(escaped)
                    if p not in skip and re.fullmatch(named, p.name) and p.is_file()
                    ) if out_dir.is_dir() else []
    if not others:
        return None
    method = _method_of(da.attrs)
    step = max(1, -(-len(others) // LEFTOVER_TAGS_READ))
    foreign = []  # (file, its method) of the files read whose method differs
    for p in others[::step]:
        try:
            with rasterio.open(p) as src:
                theirs = _method_of(src.tags())
        except (rasterio.errors.RasterioIOError, CPLE_BaseError):
            theirs = "unreadable"  # open_cog of the glob fails on it as well
        if theirs != method:
            foreign.append((p, theirs))
    if not foreign:
        return None
    shown = ", ".join(p.name for p in others[:3]) + (", ..." if len(others) > 3 else "")
    why = (f"made by another method than this run's {method!r} ("
           + ", ".join(f"{p.name}: {m!r}" for p, m in foreign[:3])
           + (", ..." if len(foreign) > 3 else "") + f"; {METHOD_TAG} tag)")
    return (
        f"{out_dir} holds {len(others)} file{'s' * (len(others) > 1)} of the pattern "
        f"{pattern}, named as this run's steps are, that this run did not write ({shown}), "
        f"{why}. A sorted glob of {pattern} reads them with the new files as one series "
        "mixing two runs. Where they are stale, remove "
        "those of the other method (`import re, pathlib, rasterio`, `keep = set(paths)` of "
        "`paths = to_cogs(...)`, then "
        f"`[p.unlink() for p in pathlib.Path({os.fspath(out_dir)!r}).glob({escaped!r}) if "
        f"re.fullmatch({_raw(named)}, p.name) and p not in keep and "
        f"rasterio.open(p).tags().get({METHOD_TAG!r}) != {method!r}]`: "
        "batches of this method's series are kept, and other series whose prefix begins with "
        f"{prefix!r}), or write into an empty folder."
    )


#: the kinds of a part of a step's file name (:func:`_stamp`; parts joined by '_' for a
#: stacked dim or a date with its overpass) matched by their form: a date (a time to the second
#: after a 'T', a cftime date as well) and a whole number (a label or a position, padded to any
#: width); any other part (a label) is matched only as the labels this run writes there
_STAMP_DATE = r"-?\d+-\d{2}-\d{2}(?:T\d{6})?"
_STAMP_NUMBER = r"\d+"
#: the overpass part a day/night series of the prefix writes after its dates (any case, as
#: :func:`xlstsr.steps._label_text` compares overpass labels)
_STAMP_OVERPASS = r"(?i:day|night)"
#: distinct labels at one position above which each is matched by its letters, its digit
#: runs by their form (``t0001`` ... ``t0999``: ``t\d+``), keeping the advice's code short
_STAMP_LITERALS = 16


def _part_form(parts: set[str]) -> str:
    """The regular expression of one position of this run's stamps (``parts``, the parts
    written there): dates and numbers by their form, other labels literally."""
    forms = []
    if any(re.fullmatch(_STAMP_DATE, x) for x in parts):
        forms.append(_STAMP_DATE)
    if any(re.fullmatch(_STAMP_NUMBER, x) for x in parts):
        forms.append(_STAMP_NUMBER)
    words = sorted(x for x in parts
                   if not re.fullmatch(_STAMP_DATE, x) and not re.fullmatch(_STAMP_NUMBER, x))
    if len(words) > _STAMP_LITERALS:
        words = sorted({_STAMP_NUMBER.join(re.escape(w) for w in re.split(r"\d+", x))
                        for x in words})
    else:
        words = [re.escape(x) for x in words]
    forms += words
    return forms[0] if len(forms) == 1 else "(?:" + "|".join(forms) + ")"


def _names_form(prefix: str, names: Sequence[str]) -> str:
    """The regular expression of the file names ``{prefix}_{stamp}.tif`` named as this run's
    steps (``names``, this run's files) are: as many '_'-joined parts as one of its stamps,
    dates and numbers by their form, other labels (words) only as this run writes them at that
    position; after a date or number, its overpass optional (``2020-01-05`` and
    ``2020-01-05_day``, as a day/night series of the prefix names its steps), which is only
    'day'/'night' or a label this run writes there.

    So another series whose prefix begins with this one's is never matched: its prefix's
    remainder is a part of its own (``bicubic_2020-01-05`` of ``sr_bicubic`` beside ``sr``;
    ``2_2020001`` of ``sr_2`` beside day-of-year labels; ``day_2020-01-05`` of a run stacked
    by overpass is matched only by a run writing the label 'day' first). A run of
    single-word labels is matched by its own labels only (``lst_mar.tif`` is not told beside
    a rerun of ``jan`` and ``feb``: any word would take the user's own untagged files of the
    prefix, ``sr_mask.tif``, which the advice then removes)."""
    by_count: dict[int, list[list[str]]] = {}
    for n in names:
        parts = n[len(prefix) + 1:-len(".tif")].split("_")
        by_count.setdefault(len(parts), []).append(parts)
    forms = set()
    for count, stamps in by_count.items():
        at = [{s[j] for s in stamps} for j in range(count)]
        heads = at[0]
        dated = all(re.fullmatch(_STAMP_DATE, x) or re.fullmatch(_STAMP_NUMBER, x)
                    for x in heads)
        if count == 1 and dated:
            forms.add(f"{_part_form(heads)}(?:_{_STAMP_OVERPASS})?")
        elif count == 2 and dated and not any(
                re.fullmatch(_STAMP_DATE, x) or re.fullmatch(_STAMP_NUMBER, x) for x in at[1]):
            # a date and its label (an overpass): the label optional, as the overpass
            # labels of a day/night series or this run's own
            labels = _part_form(at[1])
            forms.add(f"{_part_form(heads)}(?:_(?:{_STAMP_OVERPASS}|{labels}))?")
        else:
            forms.add("_".join(_part_form(x) for x in at))
    return re.escape(prefix) + "_(?:" + "|".join(sorted(forms)) + r")\.tif"


def _raw(regex: str) -> str:
    """``regex`` as Python source (a raw string where it can be one, for the advice's code)."""
    return f"r'{regex}'" if "'" not in regex and not regex.endswith("\\") else repr(regex)


def _refuse_dataset(ds: xr.Dataset) -> None:
    """Refuse a Dataset, naming its rasters (the data variables along both spatial dims: the
    example named a variable 'LST' it did not have, and listed ``spatial_ref``, the CRS read as
    a data variable, among them)."""
    names = spatial_names(ds)
    back = {v: k for k, v in names.items()}
    try:
        ydim, xdim = (back.get(d, d) for d in spatial_dims(ds.rename(names)))
        rasters = [str(k) for k, v in ds.data_vars.items() if {ydim, xdim} <= set(v.dims)]
    except XlstsrError:  # no spatial dims found: the variables of two dims or more
        rasters = [str(k) for k, v in ds.data_vars.items() if v.ndim >= 2]
    crs = [str(k) for k, v in ds.data_vars.items()
           if {"crs_wkt", "spatial_ref", "grid_mapping_name"} & set(v.attrs)]
    example = rasters[0] if rasters else (list(map(str, ds.data_vars)) or ["lst"])[0]
    raise InputTypeError(
        f"to_cogs writes one DataArray, got a Dataset (rasters {rasters}): pass one variable, "
        f"e.g. `to_cogs(ds[{example!r}], ...)`, or call it once per variable."
        + (f" Its CRS {crs[0]!r} was read as a data variable: open the file with "
           "`decode_coords='all'` (xr.open_dataset, xr.open_zarr, xr.open_mfdataset) so that it "
           "is the variables' CRS." if crs else "")
    )


def _file_prefix(prefix: Any) -> bool:
    """Whether ``prefix`` is a file name prefix: a non-empty text naming no folder."""
    return (isinstance(prefix, str) and bool(prefix) and Path(prefix).name == prefix
            and prefix not in (".", ".."))


def dask_array_type() -> type:
    import dask.array as dsa

    return dsa.Array


#: the compressions GDAL's COG driver writes
_COG_COMPRESS = ("NONE", "DEFLATE", "ZSTD", "LZW", "LZMA", "PACKBITS", "JPEG", "WEBP", "LERC",
                 "LERC_DEFLATE", "LERC_ZSTD", "JXL")


def _check_temperature(da: xr.DataArray, name: str | None = None) -> None:
    """Refuse to write a temperature whose tags would decode it wrong.

    A COG carries the array's ``units`` and ``scale_factor`` / ``add_offset`` / ``_FillValue``
    as tags, which readers apply (``mask_and_scale=True``, :func:`xlstsr.upscale`). An array
    labelled ``K`` or ``degC`` must therefore decode, with those attributes, to land
    temperatures (median 150-400 K): Kelvin that kept a product's ``scale_factor`` 0.02 would
    be read back as 6 K, Celsius labelled ``K`` as 25 K, digital numbers labelled ``K`` as
    15000 K. Celsius labelled ``degC`` is written as it is (the tag says so, and xlstsr reads it
    back as Kelvin). Arrays without temperature units (NDVI, masks) are not judged, nor a
    temperature difference or error marked as one (CF 1.11 ``units_metadata``
    ``"temperature: difference"``: ``sr - truth``, :func:`xlstsr.qc.lst_error_k`).
    """
    from ..validate import temperature_units

    kind = temperature_units(da.attrs.get("units"))  # every spelling ('°K' kept a scale)
    if kind is None or da.dtype.kind not in "iuf" or is_temperature_difference(da):
        return
    v = stored_values(da)
    if not v.size:
        return
    try:
        scale = float(np.ravel(da.attrs.get("scale_factor", 1.0))[0])
        offset = float(np.ravel(da.attrs.get("add_offset", 0.0))[0])
    except (TypeError, ValueError):
        return  # a text scale: the readers' own checks name it
    raw = float(np.median(v))
    to_k = 273.15 if kind == "C" else 0.0
    decoded = raw * scale + offset + to_k
    if 150.0 <= decoded <= 400.0:
        return
    label = "'K'" if kind == "K" else "'degC'"
    if (scale, offset) != (1.0, 0.0) and 150.0 <= raw + to_k <= 400.0:
        cause = (f"its values (median {raw:.2f}) are already decoded, but it keeps the stored "
                 f"integers' scale_factor={scale:g} / add_offset={offset:g}: written as tags, "
                 f"readers would decode them to {decoded:.2f} K. Drop them: "
                 "`da.attrs.pop('scale_factor', None); da.attrs.pop('add_offset', None); "
                 "da.attrs.pop('_FillValue', None)`")
    elif kind == "K" and -100.0 < decoded < 75.0:
        cause = (f"its values (median {decoded:.2f}) look like degrees Celsius: label them "
                 "`da.attrs['units'] = 'degC'` (written and read back as such), or convert "
                 "to Kelvin first (`da + 273.15`, units kept 'K'). " + _DIFFERENCE_HINT)
    elif kind == "C" and 150.0 + 273.15 <= decoded <= 400.0 + 273.15:
        cause = (f"its values (median {raw:.2f}) look like Kelvin: label them "
                 "`da.attrs['units'] = 'K'`")
    elif decoded > 1000.0:
        cause = (f"its values (median {raw:.2f}) look like scaled digital numbers: declare the "
                 "scale they were stored with (`da.attrs['scale_factor'] = 0.02` for MODIS "
                 "LST, 0.1 for ASTER's K x 10), or write decoded Kelvin "
                 "(`xlstsr.validate.decode_lst(da)`)")
    else:
        cause = (f"its values (median {raw:.2f}) decode to {decoded:.2f} K; check its units, "
                 "scale_factor and add_offset. " + _DIFFERENCE_HINT)
    where = f"{name}: " if name else ""
    raise PhysicalRangeError(
        f"{where}not writing a COG labelled {label} that is not a land temperature: {cause}."
    )


_DIFFERENCE_HINT = (
    "If it is a temperature difference or an error, not a temperature, mark it as one (CF "
    f"1.11): `da.attrs['units_metadata'] = {TEMPERATURE_DIFFERENCE!r}` (written as it is)")


def is_temperature_difference(da: xr.DataArray) -> bool:
    """Whether ``da`` is marked as a temperature difference (CF 1.11 ``units_metadata``
    ``"temperature: difference"``), whose values are not judged as land temperatures.

    Examples
    --------
    >>> import xarray as xr
    >>> is_temperature_difference(xr.DataArray(1.5, attrs={
    ...     "units": "K", "units_metadata": "temperature: difference"}))
    True
    >>> is_temperature_difference(xr.DataArray(300.0, attrs={"units": "K"}))
    False
    """
    meta = da.attrs.get("units_metadata")
    return isinstance(meta, str) and "".join(meta.split()).lower() == "temperature:difference"


#: The tag naming how a file's y and x labels are computed from its GeoTransform (two
#: :func:`xlstsr.grid._forms` numbers, "3 1"; "0r": form 0 of the axis run the other way,
#: reversed; "0r2": the same from the far edge rounded to 2 decimals, :func:`_axis_labels`;
#: "d0": form 0 moved by some ulps, :data:`DELTAS_TAGS`),
#: written where they are not rioxarray's own
#: (form 0): a result on a round grid keeps its input's labels (a NetCDF's 45.005, 45.015),
#: some an ulp off rioxarray's, and read back with those the .tif's joined (``xr.align``,
#: ``tif - truth``) with the result or a truth on that grid dropped a third of the rows.
LABELS_TAG = "xlstsr_label_forms"

#: The tags (``"<n>@<edge>@<pixel> <start>:<length>:<ulps> ..."``) of an axis tagged
#: ``"d<form>"`` in :data:`LABELS_TAG`: its labels as that form of the GeoTransform moved by a whole number
#: of floats (ulps) in runs of pixels (:func:`_label_deltas`). Labels no form gives (a crop
#: of a file whose edge and pixel are not round: c0 + a * (i0 + i + 0.5); a 1/120-degree
#: grid; upscale's fine labels of a NetCDF's rounded ones) were read back an ulp off, and
#: ``back - da`` kept 29 of 37 rows. Older versions read the ``"d<form>"`` tag as not theirs
#: (rioxarray's labels, as before).
DELTAS_TAGS = {"y": "xlstsr_label_deltas_y", "x": "xlstsr_label_deltas_x"}

#: The most runs :data:`DELTAS_TAGS` holds per axis (9 bytes or so each: 37 KB at most): GDAL
#: reads and prints a file's metadata on every open (``gdalinfo``, QGIS), once per file of a
#: series; an axis needing more is written untagged, its labels rioxarray's on reading.
_MAX_DELTA_RUNS = 4096


def exact_raster(da: xr.DataArray, transform: Any) -> tuple[xr.DataArray, dict[str, str]]:
    """``da`` ready for ``rio.to_raster`` with ``transform`` written exactly, and the tags
    that give its labels back (:data:`LABELS_TAG`, empty where rioxarray's reader gives them).

    The spatial dims are renamed ``y``/``x`` and their labels dropped: rioxarray's writer
    derives the origin from labels where there are any, ``recalc_transform=False`` or not
    (45.199999999999996 for a 0.01 degree grid's 45.2), and the file's labels then missed
    the result's by an ulp.

    Where no form of ``transform`` gives an axis' labels (rioxarray's transform recomputed
    from ``np.arange`` labels, 45.195 - i * 0.01: a pixel of 0.00999999999999997), that axis
    is written with the (edge, pixel) a round-off from it that gives them
    (:func:`xlstsr.grid._fit_axis`: 45.2 and 0.01), if any: read back with rioxarray's labels,
    ``xr.align`` with the source kept 28 of its 30 rows. Labels no (edge, pixel) gives, a few
    ulps off every form, are tagged with those ulps (:func:`_label_deltas`)."""
    ydim, xdim = spatial_dims(da)
    forms: list[int | str] = []
    axes: list[tuple[float, float]] = []
    deltas: dict[str, str] = {}
    for dim, name, c, a in ((ydim, "y", transform.f, transform.e),
                            (xdim, "x", transform.c, transform.a)):
        labels = da[dim].values if dim in da.coords else None
        form: int | str = 0  # float32 labels, or labels no form gives: rioxarray's on reading
        if labels is not None and labels.dtype == np.float64:
            k = next((i for i, f in enumerate(_forms(c, a, labels.size))
                      if f is not None and np.array_equal(f, labels)), -1)
            form, c, a = (k, c, a) if k >= 0 else _fitted_form(labels, c, a)
            back = _axis_labels(str(form), c, a, labels.size)
            if back is None or not np.array_equal(back, labels):
                # no form gives them: that form moved by some ulps (or rioxarray's as before)
                fallback = _label_deltas(labels, c, a)
                if fallback is not None:
                    form, deltas[DELTAS_TAGS[name]] = fallback
        forms.append(form)
        axes.append((c, a))
    (fy, e), (fc, fa) = axes
    if (fy, e, fc, fa) != (transform.f, transform.e, transform.c, transform.a):
        transform = Affine(fa, transform.b, fc, transform.d, e, fy)
    da = da.rename({ydim: "y", xdim: "x"}) if (ydim, xdim) != ("y", "x") else da
    da = da.drop_vars([d for d in ("y", "x") if d in da.coords])
    # a tag read back from an input file is not this one's; nor is the state of the store the
    # steps were read from (an unfinished upscale_to_zarr run's "incomplete ... resume"): the
    # file written is complete, and open_cog's series of such files was refused as a copy of
    # an unfinished store
    ours = (LABELS_TAG, *DELTAS_TAGS.values(), STATUS_ATTR)
    da.attrs = {k: v for k, v in da.attrs.items() if k not in ours}
    da = da.rio.write_transform(transform)
    return da, ({} if forms == [0, 0] else {LABELS_TAG: f"{forms[0]} {forms[1]}", **deltas})


def _label_tolerance(ref: np.ndarray, a: float) -> float:
    """How far a tag's labels may lie from those rioxarray computes from the file's
    GeoTransform (``ref``, pixel ``a``) and still describe its grid: 1e-6 of a pixel (or a
    few ulps of the largest label), where a resampled copy's are a pixel off or more."""
    big = float(np.abs(ref).max()) if ref.size else 0.0
    return max(1e-6 * abs(a), 8 * float(np.finfo(np.float64).eps) * big)


def _rio_axis(c: float, a: float, n: int) -> np.ndarray:
    """The ``n`` pixel centres of an axis of edge ``c`` and pixel ``a`` (rioxarray's, within
    round-off: the reference a tag's labels are checked against)."""
    return c + (np.arange(n) + 0.5) * a


def _label_deltas(labels: np.ndarray, c: float, a: float) -> tuple[str, str] | None:
    """(``"d<form>"``, the :data:`DELTAS_TAGS` value) that give back exactly ``labels`` from
    the edge ``c`` and pixel ``a`` written for them: the form of :func:`xlstsr.grid._forms`
    they differ least from, moved by whole floats (ulps, counted on their bits) in runs of
    pixels; None where they are not that grid within :func:`_label_tolerance` (or need more
    than :data:`_MAX_DELTA_RUNS` runs, or cross zero between a label and its form's)."""
    n = labels.size
    if not n or not np.isfinite(labels).all() or not np.isfinite([c, a]).all() or a == 0:
        return None
    if np.abs(labels - _rio_axis(c, a, n)).max() > _label_tolerance(_rio_axis(c, a, n), a):
        return None
    best: tuple[int, list[tuple[int, int, int]]] | None = None
    for k, base in enumerate(_forms(c, a, n)):
        if base is None or (np.signbit(base) != np.signbit(labels)).any():
            continue
        ulps = np.ascontiguousarray(labels).view(np.int64) - base.view(np.int64)
        edges = np.flatnonzero(np.diff(ulps)) + 1
        starts = np.concatenate([[0], edges])
        lengths = np.diff(np.concatenate([starts, [n]]))
        runs = [(int(s), int(m), int(ulps[s])) for s, m in zip(starts, lengths) if ulps[s]]
        if best is None or len(runs) < len(best[1]):
            best = (k, runs)
    if best is None or len(best[1]) > _MAX_DELTA_RUNS:
        return None
    k, runs = best
    # the edge and pixel written (exactly, repr): a copy whose GeoTransform was moved or
    # resampled to as many pixels keeps these tags, its labels then a few ulps off its own
    return f"d{k}", " ".join([f"{n}@{c!r}@{a!r}", *(f"{s}:{m}:{u}" for s, m, u in runs)])


def _delta_labels(form: str, value: Any, c: float, a: float, n: int) -> np.ndarray | None:
    """The ``n`` labels an axis tagged ``"d<form>"`` with the :data:`DELTAS_TAGS` ``value``
    gives from edge ``c`` and pixel ``a`` (:func:`_label_deltas`); None where the tag is not
    ours or was written for another grid (a copy resampled or moved: its size, edge or pixel
    differs from the ones the tag records)."""
    try:
        k = int(form[1:])
        head, *runs = str(value).split()
        size, edge, pixel = head.split("@")
        triples = [tuple(int(v) for v in r.split(":")) for r in runs]
        same = int(size) == n and float(edge) == c and float(pixel) == a
    except (TypeError, ValueError):
        return None
    forms = _forms(c, a, n)
    if not same or not 0 <= k < len(forms) or forms[k] is None:
        return None
    base = forms[k]
    ulps = np.zeros(n, np.int64)
    for t in triples:
        if len(t) != 3 or t[0] < 0 or t[1] < 1 or t[0] + t[1] > n:
            return None
        ulps[t[0]:t[0] + t[1]] = t[2]
    out = (base.view(np.int64) + ulps).view(np.float64)  # type: ignore[union-attr]
    return out if (np.signbit(out) == np.signbit(base)).all() else None


def _fitted_form(labels: np.ndarray, c: float, a: float) -> tuple[int | str, float, float]:
    """(form, edge, pixel) to write for an axis whose ``labels`` no form of (``c``, ``a``)
    gives: those :func:`xlstsr.grid._fit_axis` finds a round-off from them; a form of the axis
    run the other way (labels made south-up, then written north-up) tagged ``"<form>r"``
    where :func:`_axis_labels` computes them back exactly; else (0, ``c``, ``a``).

    On a round grid (edge and pixel of ``q`` decimals) the axis run the other way is written
    from its round north (west) edge and tagged ``"<form>r<q>"``: the float sum of the south
    edge and the pixels (44.9 + 30 * 0.01 = 45.199999999999996) put a GeoTransform an ulp off
    the same grid written north-up (45.2), and plain rioxarray/GDAL readers joined the two
    files on none of their rows."""
    fit = _fit_axis(labels, c, a, bare=True) if np.isfinite(labels).all() else None
    fit = fit or _reciprocal_fit(labels, c, a)
    if fit is None:
        return 0, c, a
    k, cc, aa, flip = fit
    if not flip:
        return k, cc, aa
    n = labels.size
    edge = cc + n * aa  # the north (west) edge of the axis as written
    q = next((q for q in range(13) if round(cc, q) == cc and round(aa, q) == aa), None)
    tries = [(f"{k}r", edge)] if q is None else [(f"{k}r{q}", round(edge, q)), (f"{k}r", edge)]
    for tag, ee in tries:
        back = _axis_labels(tag, ee, -aa, n)
        if back is not None and np.array_equal(back, labels):
            return tag, ee, -aa
    return 0, c, a


def _reciprocal_fit(labels: np.ndarray, c: float, a: float
                    ) -> tuple[int, float, float, bool] | None:
    """(form, edge, pixel, False) of a pixel ``1 / m`` a round-off from ``a`` (1/120, 1/240,
    1/3600 degree) and an edge a round-off from ``c`` that give exactly ``labels``, else None:
    the decimal rounds :func:`xlstsr.grid._fit_axis` tries miss 1/120, and the pixel
    recomputed from ``10 + (i + 0.5) / 120`` (0.008333333333333349) was written instead."""
    if a == 0 or not np.isfinite(labels).all() or not np.isfinite([c, a]).all():
        return None
    m = round(1 / a)
    if abs(m) < 2 or abs(1 / a - m) > 1e-9 * abs(1 / a):
        return None
    aa = 1 / m
    for cc in dict.fromkeys([*_rounded(c), *_near(c)]):
        for k, form in enumerate(_forms(cc, aa, labels.size)):
            if form is not None and np.array_equal(form, labels):
                return k, cc, aa, False
    return None


def _axis_labels(tag: str, c: float, a: float, n: int) -> np.ndarray | None:
    """The ``n`` labels of an axis of edge ``c`` and pixel ``a`` that the tag ``tag`` of
    :func:`exact_raster` names: a :func:`xlstsr.grid._forms` number, or one followed by ``r``
    (that form of the axis run the other way, reversed, from the far edge ``c + n * a``, or
    that edge rounded to ``q`` decimals for a tag ``"<form>r<q>"``: a round grid's edge, 44.9
    where the sum is 44.900000000000006); None for a tag not ours."""
    head, flip, digits = tag.partition("r")
    try:
        k = int(head)
        q = int(digits) if digits else None
    except ValueError:
        return None
    if not flip and digits:
        return None
    far = c + n * a if q is None else round(c + n * a, q)
    forms = _forms(far, -a, n) if flip else _forms(c, a, n)
    if not 0 <= k < len(forms) or forms[k] is None:
        return None
    return forms[k][::-1] if flip else forms[k]  # type: ignore[index]


def _file_labels(da: xr.DataArray) -> xr.DataArray:
    """A file read by rioxarray, its tags :data:`LABELS_TAG` and :data:`DELTAS_TAGS` (written
    by :func:`exact_raster`) dropped and its y/x labels computed as they name from the file's
    GeoTransform: those of the result it was written from, not rioxarray's an ulp off them.
    An axis whose tagged labels are not within :func:`_label_tolerance` of rioxarray's keeps
    rioxarray's: the tags were copied onto a file of another grid."""
    tag = da.attrs.pop(LABELS_TAG, None)
    deltas = {dim: da.attrs.pop(name, None) for dim, name in DELTAS_TAGS.items()}
    if tag is None:
        return da
    parts = str(tag).split()
    if len(parts) != 2:  # not ours: rioxarray's labels
        return da
    t = _written_transform(da)
    if t is None or t.b != 0 or t.d != 0 or "y" not in da.dims or "x" not in da.dims:
        return da
    new = {}
    for dim, k, c, a in (("y", parts[0], t.f, t.e), ("x", parts[1], t.c, t.a)):
        n = da.sizes[dim]
        labels = (_delta_labels(k, deltas[dim], c, a, n) if k.startswith("d")
                  else _axis_labels(k, c, a, n))
        # a tag copied onto a resampled file (gdalwarp/gdal_translate copy metadata) names
        # labels of the grid it was written for: a whole pixel off this one's (from the far
        # edge rounded to the old grid's decimals), so kept only within round-off of
        # rioxarray's from this file's GeoTransform
        ref = _rio_axis(c, a, n)
        if labels is not None and labels.shape == ref.shape \
                and np.abs(labels - ref).max(initial=0.0) <= _label_tolerance(ref, a):
            new[dim] = da[dim].copy(data=labels) if dim in da.coords else (dim, labels)
    return da.assign_coords(new)


def _write_cog(step: xr.DataArray, path: Path, crs: Any, transform: Any, compress: str,
               rio_kwargs: dict[str, Any], write_to: Path | None = None) -> None:
    """Compute one (y, x) step and write it as the COG ``path`` (to ``write_to`` when given,
    a temporary name the caller renames to ``path``)."""
    step = step.compute()
    _check_temperature(step, path.name)
    # a store's encoding (Zarr/NetCDF _FillValue, dtype, codecs) describes that store, not
    # the GeoTIFF: keep only the CRS link, the nodata written below is the GeoTIFF's
    step.encoding = {k: v for k, v in step.encoding.items() if k == "grid_mapping"}
    if np.issubdtype(step.dtype, np.floating):
        step = _fill_as_nan(step)
    step = step.rio.write_crs(crs)
    if np.issubdtype(step.dtype, np.floating):
        step = step.rio.write_nodata(np.nan, encoded=False)
    step, forms = exact_raster(step, transform)
    rio_kwargs = {**rio_kwargs, "tags": {**rio_kwargs.get("tags", {}), **forms}}
    try:
        step.rio.to_raster(write_to or path, driver="COG", compress=compress,
                           **{"recalc_transform": False, **rio_kwargs})
    except (rasterio.errors.RasterioError, CPLE_BaseError) as err:  # GDAL on an option
        options = {"compress": compress, **rio_kwargs}
        raise XlstsrError(
            f"GDAL could not write {path.name} ({err}); check the free space of {path.parent} "
            "and the creation options passed to to_cogs "
            f"({', '.join(f'{k}={v!r}' for k, v in options.items())}; e.g. compress= must "
            f"suit the data ({_LOSSLESS} for float LST), blocksize must be a multiple of 16)."
        ) from err


#: the attributes that declare an array's fill value (rioxarray's ``rio.nodata`` reads them)
_FILL_ATTRS = ("_FillValue", "missing_value", "fill_value", "nodata")


def _fill_as_nan(step: xr.DataArray) -> xr.DataArray:
    """A float step's declared fill (``rio.write_nodata(-80)``, ``attrs['_FillValue'] = -80``,
    the advice of :class:`~xlstsr.errors.UndeclaredFillError`) masked to NaN, the nodata a
    float COG is written with, and its fill attributes dropped: written with nodata NaN, the
    fill pixels were read back as data (-80 degC as 193 K)."""
    try:
        fill = step.rio.nodata
        if fill is None:
            return step
        fill = step.dtype.type(np.ravel(fill)[0])
    except (TypeError, ValueError, IndexError):
        return step  # a text fill: no number to mask (the readers' checks name it)
    if np.isnan(fill):
        return step
    values = np.asarray(step.values)
    out = step.copy(data=np.where(values == fill, np.array(np.nan, step.dtype), values))
    out.attrs = {k: v for k, v in step.attrs.items() if k not in _FILL_ATTRS}
    return out
