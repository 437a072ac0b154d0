"""File formats by path: open any supported input, and name the output format of a path.

Zarr stores (``.zarr`` or a folder with Zarr metadata), NetCDF (``.nc``; NetCDF-4/HDF5 files
named ``.h5``, ``.he5``, ``.hdf5`` too, as ECOSTRESS and VIIRS granules are), GeoTIFF/COG
(``.tif``, ``.tiff``) and MODIS HDF4-EOS granules (``.hdf``, read only) are opened lazily with
their CRS; anything else is refused with the list of what is supported.
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr

from ..errors import InputNotFoundError, InputTypeError, VariableNotFoundError, XlstsrError
from .zarr import file_uri_path, is_zarr_path, open_zarr

__all__ = ["DATA_SUFFIXES", "WRITABLE", "check_writable", "format_of", "netcdf_group_variables",
           "open_path", "open_with_variable"]

Format = Literal["zarr", "netcdf", "cog", "hdf4"]
_SUFFIXES: dict[str, Format] = {
    ".nc": "netcdf", ".nc4": "netcdf", ".tif": "cog", ".tiff": "cog", ".hdf": "hdf4",
    # HDF5 granules (ECOSTRESS L2 LSTE, VIIRS VNP21): NetCDF-4 is HDF5, read with h5netcdf
    ".h5": "netcdf", ".he5": "netcdf", ".hdf5": "netcdf",
}
#: suffixes of HDF5 files that are read as NetCDF-4 with the h5netcdf engine
_HDF5_SUFFIXES = (".h5", ".he5", ".hdf5")
#: compressed files: the command that decompresses each
_COMPRESSED = {".gz": "gunzip", ".bz2": "bunzip2", ".xz": "unxz", ".zip": "unzip",
               ".zst": "unzstd"}
#: suffixes of the data files and stores xlstsr reads (a Zarr store: a folder named ``*.zarr``)
DATA_SUFFIXES: tuple[str, ...] = (*_SUFFIXES, ".zarr")
#: the formats xlstsr writes (HDF4 is read only)
WRITABLE: tuple[Format, ...] = ("zarr", "netcdf", "cog")


def absolute_path(path: str | os.PathLike) -> str:
    """A local path with ``~`` expanded (neither xarray nor GDAL expands it), made absolute
    without tidying: dask.distributed workers started in another folder (a batch cluster)
    read and write relative paths there, and ``os.path.abspath`` would resolve
    ``link/../in.tif`` by text, not through the link.

    Examples
    --------
    >>> os.path.isabs(absolute_path("in.tif"))
    True
    """
    p = os.path.expanduser(os.fspath(path))
    return p if os.path.isabs(p) else os.path.join(os.getcwd(), p)


def check_writable(folder: str | os.PathLike, *, create: bool = False) -> Path:
    """The folder an output goes into, checked by making a temporary file in it before any
    work: a folder without write permission, on a read-only or a full file system, is named as
    such (the run stopped only once computed, with pathlib's, rasterio's or GDAL's error).

    ``create``: make the folder (and its parents) first; otherwise the nearest existing folder
    is checked (the missing ones are made when writing). Returns the folder checked.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from xlstsr.io.formats import check_writable
    >>> with tempfile.TemporaryDirectory() as d:
    ...     check_writable(Path(d) / "not" / "yet") == Path(d)
    True
    """
    import tempfile

    folder = Path(folder).absolute()
    try:
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not folder.is_dir():
            raise NotADirectoryError(20, f"{folder} is a file, not a folder")
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise XlstsrError(
            f"cannot write into {folder}: {err.strerror or err}. Choose a folder you can write "
            "to (check its permissions and free space)."
        ) from err
    return folder


def format_of(path: str | os.PathLike, *, reading: bool = False) -> Format:
    """``"zarr"``, ``"netcdf"``, ``"cog"`` or ``"hdf4"`` from a path's suffix (or Zarr metadata).

    ``reading=True`` (an input's path): a compressed file (``lst.nc.gz``) or a folder that is
    not a Zarr store is refused with how to read what it holds; an output's path (the default)
    is told only the suffixes xlstsr writes (an output ``sr.nc.gz`` was told to be
    decompressed, an output folder to be opened with open_cog).

    Examples
    --------
    >>> from xlstsr.io import format_of
    >>> format_of("lst_250m.zarr"), format_of("lst.nc"), format_of("lst.tif")
    ('zarr', 'netcdf', 'cog')
    >>> format_of("lst.csv", reading=True)
    Traceback (most recent call last):
    ...
    xlstsr.errors.XlstsrError: cannot tell the format of 'lst.csv' ...
    """
    if is_zarr_path(path):
        return "zarr"
    suffix = Path(path).suffix.lower()
    fmt = _SUFFIXES.get(suffix)
    if fmt is None and not reading:
        raise XlstsrError(
            f"cannot tell the format of {os.fspath(path)!r} from its suffix: write a .zarr "
            "(Zarr store), .nc (NetCDF) or .tif (GeoTIFF/COG)."
        )
    if fmt is None and suffix in _COMPRESSED:
        raise XlstsrError(_compressed_advice(path))
    folder = folder_advice(path) if fmt is None else None
    if folder is not None:  # "use .zarr" invited renaming a folder of COGs, which then failed
        raise XlstsrError(folder)
    if fmt is None:
        raise XlstsrError(
            f"cannot tell the format of {os.fspath(path)!r} from its suffix: use .zarr (Zarr "
            "store), .nc (NetCDF; .h5 NetCDF-4/HDF5 to read), .tif (GeoTIFF/COG) or, to read, "
            ".hdf (MODIS HDF4)."
            + (_stac_advice(path) if suffix == ".json" else _OTHER_INPUTS.get(suffix, ""))
        )
    return fmt


#: where an input of a known kind that is not one of the formats above goes
_OTHER_INPUTS = {
    **dict.fromkeys(
        (".img", ".vrt", ".jp2", ".envi", ".bil", ".dat", ".asc"),
        " Another raster GDAL reads (ENVI .img, VRT, JPEG 2000...) opens in Python with "
        "`xlstsr.io.open_cog(path)`; or convert it to a GeoTIFF first (`gdal_translate -of "
        "COG in out.tif`).",
    ),
    ".json": " A STAC catalog opens in Python with its items that hold the asset (a catalog "
             "may hold other products' items too): `items = [i for i in pystac.Catalog"
             ".from_file(path).get_items(recursive=True) if 'LST_Day_1km' in i.assets]; "
             "xlstsr.io.open_stac(items, 'LST_Day_1km')`; a STAC item file: "
             "`xlstsr.io.open_stac([pystac.Item.from_file(path)], 'LST_Day_1km')`.",
}


def _compressed_advice(path: str | os.PathLike) -> str:
    """Why a compressed file (``lst.nc.gz``) is refused, and the command that decompresses it:
    renaming it to ``.nc`` as the suffix advice said only failed as an unreadable NetCDF."""
    p = Path(os.fspath(path))
    tool = _COMPRESSED[p.suffix.lower()]
    inner = Path(p.stem).suffix.lower()
    kind = {"gunzip": "gzip", "bunzip2": "bzip2", "unxz": "xz", "unzip": "zip",
            "unzstd": "zstd"}[tool]
    if inner == ".tar" or p.name.lower().endswith(".tgz"):
        command, then = f"tar -xf {p.name}", "the files it holds"
    else:
        # a Zarr ZipStore (lst.zarr.zip) holds the store's files, not a lst.zarr folder:
        # a bare `unzip` spilled zarr.json, LST/... into the current folder
        command = (f"unzip {p.name} -d {p.stem}" if tool == "unzip" and inner == ".zarr"
                   else f"{tool} {p.name}")
        then = f"{p.stem}" if inner in _SUFFIXES or inner == ".zarr" else "the file it holds"
    return (f"{os.fspath(path)} is {kind}-compressed: xlstsr reads files as they are stored, "
            f"not compressed copies. Decompress it first (`{command}`), then pass {then}.")


def folder_advice(path: str | os.PathLike) -> str | None:
    """What a local folder that is not a Zarr store holds, and how to open it (a folder of
    dated GeoTIFFs: :func:`xlstsr.io.open_cog` of its files; of MODIS granules:
    :func:`xlstsr.io.open_modis`); None for anything that is not such a folder."""
    p = Path(os.fspath(path))
    if "://" in os.fspath(path) or not p.is_dir() or is_zarr_path(p):
        return None
    return _folder_files_advice(path)


#: a Landsat Collection 2 Level-2 band file (LC08_L2SP_..._ST_B10.TIF)
_LANDSAT_C2L2 = re.compile(r"^L[COTEM]0\d_L2S[PR]_.*_(ST_B\d+|QA_PIXEL)\.TIF$", re.IGNORECASE)


def _folder_files_advice(path: str | os.PathLike) -> str:
    """:func:`folder_advice` of a local folder (named ``*.zarr`` or not)."""
    p = Path(os.fspath(path))
    files = [f for f in p.iterdir() if f.is_file()]
    tifs = [f for f in files if f.suffix.lower() in (".tif", ".tiff")]
    hdfs = [f for f in files if f.suffix.lower() == ".hdf"]
    ncs = [f for f in files if _SUFFIXES.get(f.suffix.lower()) == "netcdf"]
    shown = repr(os.fspath(path))
    if any(_LANDSAT_C2L2.search(f.name) for f in tifs):
        # a Landsat C2 L2 scene: stacking its bands with open_cog mixed ST, QA and SR fields
        return (f"{os.fspath(path)} is a Landsat Collection 2 Level-2 scene folder, not a "
                "GeoTIFF nor a Zarr store: open it with its reader, `xlstsr.io."
                f"open_landsat_c2l2({shown})['lst']` in Python (or pass the folder itself to "
                "`xlstsr upscale` / `xlstsr evaluate`, which read it as a scene).")
    if tifs:
        ext = tifs[0].suffix
        return (f"{os.fspath(path)} is a folder ({len(tifs)} {ext} files in it), not a GeoTIFF "
                "nor a Zarr store (it holds no zarr.json or .zgroup; renaming a folder to .zarr "
                f"does not make it one): pass its files, e.g. open_cog(sorted(pathlib.Path("
                f"{shown}).glob('*{ext}')), times=...) in Python, or write them into one store "
                "first.")
    if hdfs:
        return (f"{os.fspath(path)} is a folder ({len(hdfs)} .hdf files in it), not a Zarr "
                "store: open its MODIS granules as one cube with "
                f"`xlstsr.io.open_modis(sorted(pathlib.Path({shown}).glob('*.hdf')), "
                "variable='LST_Day_1km')`, or pass one granule.")
    if ncs:
        return (f"{os.fspath(path)} is a folder ({len(ncs)} NetCDF/HDF5 files in it), not a "
                "Zarr store: pass one file, or open them together with "
                f"`xr.open_mfdataset(sorted(pathlib.Path({shown}).glob('*{ncs[0].suffix}')), "
                "decode_coords='all')` (decode_coords='all' keeps their CRS).")
    return (f"{os.fspath(path)} is a folder without Zarr metadata (zarr.json or .zgroup), "
            "not a Zarr store nor a file xlstsr reads: pass a .zarr store, a .nc, .tif or .hdf "
            "file.")


def _stac_advice(path: str | os.PathLike) -> str:
    """Where a STAC ``.json`` goes, for the kind of document it is (a catalog or collection,
    an item, or either when it cannot be read), with the path and an asset it has."""
    import json

    text = _OTHER_INPUTS[".json"]
    try:
        with open(os.fspath(path), encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError):  # remote, missing or not JSON: both forms
        return text
    if not isinstance(doc, dict):
        return text
    shown = repr(os.fspath(path))
    kind = doc.get("type")
    # an item's assets, or those a collection declares its items have (item_assets)
    held = doc.get("assets") if kind == "Feature" else doc.get("item_assets")
    assets = [str(a) for a in held] if isinstance(held, dict) else []
    asset = next((a for a in assets if "lst" in a.lower()), assets[0] if assets else
                 "LST_Day_1km")
    listed = f" (its assets: {assets[:8]})" if assets else " (name the asset you want)"
    if kind == "Feature":  # an item: Catalog.from_file refuses it
        return (f" A STAC item opens in Python: `xlstsr.io.open_stac([pystac.Item.from_file("
                f"{shown})], {asset!r})`{listed}.")
    if kind in ("Catalog", "Collection"):  # Catalog.from_file refuses a collection
        return (f" A STAC {kind.lower()} opens in Python with its items that hold the asset "
                f"(a {kind.lower()} may hold other products' items too): `items = [i for i in "
                f"pystac.{kind}.from_file({shown}).get_items(recursive=True) if {asset!r} in "
                f"i.assets]; xlstsr.io.open_stac(items, {asset!r})`{listed}.")
    return text


def open_path(path: str | os.PathLike, **kwargs: Any) -> xr.Dataset | xr.DataArray:
    """Open a Zarr store, NetCDF file, GeoTIFF or MODIS HDF4 granule lazily (dask), with its CRS.

    Zarr and NetCDF give a Dataset (``spatial_ref`` decoded as a coordinate, as
    ``decode_coords="all"`` does), a GeoTIFF a DataArray (:func:`xlstsr.io.open_cog` with its
    internal tiling as chunks), an ``.hdf`` granule one variable (:func:`xlstsr.io.open_modis`,
    ``variable="LST_Day_1km"`` by default). ``kwargs`` go to the reader. A NetCDF's or Zarr
    store's ``variable`` (a name, or ``group/name`` inside a NetCDF-4/HDF5 file or a Zarr
    store, e.g. ECOSTRESS's ``SDS/LST``) gives that DataArray; a root without variables whose
    groups hold them is refused naming them as ``group/name``. A NetCDF variable stored
    without chunks is read in bounded chunks (at most 1024 pixels a side and about 1024 x
    1024 pixels a chunk: one step of a large grid); a chunked one in the file's chunks.
    """
    if not isinstance(path, (str, os.PathLike)):
        items = [os.fspath(p) for p in path if isinstance(p, (str, os.PathLike))] \
            if isinstance(path, (list, tuple)) else []
        hdf = bool(items) and all(i.lower().endswith((".hdf", ".hdf4", ".h4")) for i in items)
        # a list of MODIS granules was told to go to open_cog, which cannot read HDF4
        reader = ("a list of MODIS HDF granules to xlstsr.io.open_modis(files, variable=...)"
                  if hdf else "a list of GeoTIFFs to xlstsr.io.open_cog (MODIS HDF granules: "
                  "xlstsr.io.open_modis)")
        raise InputTypeError(
            f"expected a path (str or pathlib.Path) to a .zarr, .nc, .tif or .hdf input, got "
            f"{type(path).__name__}; pass an in-memory DataArray or Dataset directly to "
            f"xlstsr.upscale / upscale_to_zarr, and {reader}."
        )
    url_path = file_uri_path(path)
    if url_path is not None:  # a file:// URL (Path.as_uri()) is the path it names, decoded
        path = url_path
    remote = "://" in os.fspath(path) or os.fspath(path).startswith("/vsi")
    if not remote:  # "~/lst.zarr": neither xarray nor GDAL expands it; and the lazy reads
        # of a dask.distributed worker started elsewhere (a batch cluster) need absolute paths
        path = absolute_path(path)
    folder = None if remote else folder_advice(path)
    if folder is not None:  # "cannot tell the format from its suffix: use .zarr" sent a
        # folder of COGs to be renamed, which then failed as "not a readable Zarr store"
        raise XlstsrError(folder)
    fmt = format_of(path, reading=True)
    if not remote and not Path(path).exists() and glob.has_magic(os.fspath(path)):
        raise InputNotFoundError(
            f"no such file or store: {os.fspath(path)}: wildcards are not expanded here; open "
            "several GeoTIFFs as one cube with `xlstsr.io.open_cog(sorted(glob.glob(pattern)), "
            "times=...)` (MODIS HDF granules: `xlstsr.io.open_modis(pattern)`), or pass one file."
        )
    if not remote and not Path(path).exists():
        raise InputNotFoundError(
            f"no such file or store: {os.fspath(path)}; check the path (a remote store needs its "
            "scheme, e.g. 's3://bucket/cube.zarr')."
        )
    if fmt == "zarr":
        return open_zarr(path, **kwargs)
    if fmt == "netcdf":
        return _open_netcdf(path, remote, **kwargs)
    if fmt == "hdf4":
        from .modis import open_modis

        return open_modis(path, **kwargs)
    from .cog import open_cog

    return open_cog(os.fspath(path), **{"chunks": True, **kwargs})


def open_with_variable(path: str | os.PathLike, variable: Any = None
                       ) -> tuple[xr.Dataset | xr.DataArray, Any]:
    """``(obj, name)``: :func:`open_path` of a path as a named ``variable`` needs it, and the
    name to select in ``obj``. An HDF4 granule opens that layer (not its default Day LST); a
    NetCDF-4 or Zarr ``group/name`` (ECOSTRESS's ``SDS/LST``, a DataTree store's ``day/LST``)
    opens the group as a Dataset (its
    attributes and other variables kept) and gives ``name``, refused naming the group's
    variables as ``group/name`` when it is not there; anything else opens as it is."""
    if variable is None or not isinstance(path, (str, os.PathLike)):
        return open_path(path), variable
    fmt = format_of(path, reading=True)
    if fmt == "hdf4":
        return open_path(path, variable=variable), variable
    if fmt not in ("netcdf", "zarr") or not isinstance(variable, str) \
            or "/" not in variable.strip("/"):
        return open_path(path), variable
    group, _, name = variable.strip("/").rpartition("/")
    ds = open_path(path, group=group)
    if isinstance(ds, xr.Dataset) and name not in ds.data_vars:
        held = [f"{group}/{v}" for v in map(str, ds.data_vars)]
        example = f" e.g. `variable='{_grouped_example(held)}'`" if held else ""
        raise VariableNotFoundError(
            f"variable {name!r} is not in the group {group!r} of the "
            f"{'store' if fmt == 'zarr' else 'file'} {os.fspath(path)}; "
            f"it has {held[:12]}{' ...' if len(held) > 12 else ''}: name one as "
            f"GROUP/VARIABLE,{example}."
        )
    return ds, name


def netcdf_group_variables(path: str | os.PathLike) -> list[str]:
    """The variables held in the groups of a NetCDF-4/HDF5 file, as ``group/variable`` paths
    (``SDS/LST`` of an ECOSTRESS granule), dimension coordinates left out; [] for a file
    without groups or that h5netcdf cannot read (NetCDF-3)."""
    try:
        import h5netcdf
    except ImportError:
        return []
    found: list[str] = []

    def walk(group: Any, prefix: str) -> None:
        for name, sub in group.groups.items():
            here = f"{prefix}{name}"
            dims = set(sub.dimensions)
            found.extend(f"{here}/{v}" for v, var in sub.variables.items()
                         if v not in dims and len(var.dimensions) >= 1)
            walk(sub, f"{here}/")

    try:
        with h5netcdf.File(os.fspath(path), "r") as f:
            walk(f, "")
    except (OSError, ValueError, TypeError):
        return []
    return found


def _grouped_example(grouped: list[str]) -> str:
    """The grouped variable to show as the example: one that says LST, else the first."""
    import re

    return next((g for g in grouped if re.search(r"(^|/)[^/]*(lst|temp)", g, re.I)), grouped[0])


def _groups_hold(grouped: list[str]) -> str:
    """"its groups (science) hold ['science/LST']": the groups, then their variables."""
    groups = ", ".join(dict.fromkeys(g.rpartition("/")[0] for g in grouped))
    return f"its groups ({groups}) hold {grouped[:12]}{' ...' if len(grouped) > 12 else ''}"


def _open_netcdf(path: Any, remote: bool, **kwargs: Any) -> xr.Dataset | xr.DataArray:
    """A NetCDF file as a Dataset; ``variable`` (a name, or ``group/name`` inside a NetCDF-4
    file, as ECOSTRESS's ``SDS/LST``) as that DataArray. A root without variables whose groups
    hold them is refused naming them (xarray opens the empty root without a word)."""
    variable = kwargs.pop("variable", None)
    if variable is not None and "/" in str(variable) and "group" not in kwargs:
        group, _, variable = str(variable).strip("/").rpartition("/")
        kwargs["group"] = group
    if Path(os.fspath(path)).suffix.lower() in _HDF5_SUFFIXES and "engine" not in kwargs:
        # xarray guesses no engine from .he5 / .hdf5; an HDF5 granule's datasets have no
        # dimension scales (ECOSTRESS): named phony_dim_N, as h5netcdf names them anyway
        kwargs.update(engine="h5netcdf", phony_dims=kwargs.get("phony_dims", "access"))
    own_chunks = "chunks" not in kwargs
    textual: dict[Any, dict[str, str]] = {}
    try:
        ds = xr.open_dataset(os.fspath(path), **{"chunks": {}, "decode_coords": "all", **kwargs})
        # (a caller's mask_and_scale=False / decode_cf=False keeps the values as stored)
        if kwargs.get("mask_and_scale", True) and kwargs.get("decode_cf", True):
            textual = _textual_cf_attrs(ds)
        if textual:  # reopened undecoded: decoded after the attributes are made numbers
            kwargs["mask_and_scale"] = False
            ds = xr.open_dataset(os.fspath(path),
                                 **{"chunks": {}, "decode_coords": "all", **kwargs})
        if own_chunks:
            ds = _bounded_chunks(ds, path, kwargs)
    except (OSError, ValueError) as err:  # xarray: "did not find a match in any ... backends"
        packed = None if remote else _compression_of(path)
        if packed is not None:  # a .nc.gz renamed .nc, as the suffix advice once said
            ext, tool = {"gzip": ("gz", "gunzip"), "bzip2": ("bz2", "bunzip2"),
                         "zip": ("zip", "unzip"), "xz": ("xz", "unxz")}[packed]
            name = Path(path).name
            raise XlstsrError(
                f"cannot read {os.fspath(path)} as NetCDF: it is a {packed}-compressed file "
                f"(whatever its name says). Decompress it first (`mv {name} {name}.{ext} && "
                f"{tool} {name}.{ext}`), then pass the file that gives."
            ) from err
        grouped = [] if remote or "group" not in kwargs else netcdf_group_variables(path)
        if grouped:  # a group that is not in the file
            raise VariableNotFoundError(
                f"{os.fspath(path)} has no group {kwargs['group']!r}; {_groups_hold(grouped)}: "
                "name one as "
                f"GROUP/VARIABLE, e.g. `variable='{_grouped_example(grouped)}'`."
            ) from None
        raise XlstsrError(
                f"cannot read {os.fspath(path)} as NetCDF ({str(err).splitlines()[0]}); check "
                "that it is a complete NetCDF file (`ncdump -h` opens it) and that a NetCDF "
                "backend is installed (netCDF4 or h5netcdf for NetCDF-4)."
            ) from err
    if textual:
        ds = _decode_textual_cf(ds, textual, path)
    grouped = ([] if remote or (ds.data_vars and variable is None) or "group" in kwargs
               else netcdf_group_variables(path))
    if variable is not None:
        if variable in ds.data_vars:
            return ds[variable]
        where = f"group {kwargs['group']!r} of " if "group" in kwargs else ""
        more = (f" ({_groups_hold(grouped)}: name one as GROUP/VARIABLE, e.g. `variable='{_grouped_example(grouped)}'`)"
                if grouped else "")
        held = [f"{kwargs['group']}/{v}" if "group" in kwargs else v
                for v in map(str, ds.data_vars)]  # as variable= takes them (SDS/LST, not LST)
        if "group" in kwargs and held:
            more = f": name one as GROUP/VARIABLE, e.g. `variable='{_grouped_example(held)}'`"
        raise VariableNotFoundError(
            f"variable {variable!r} is not in the {where}file {os.fspath(path)}; it has "
            f"{held}{more}."
        )
    if not ds.data_vars and grouped:
        # an ECOSTRESS / VIIRS granule: the root holds nothing, its groups the fields
        raise VariableNotFoundError(
            f"{os.fspath(path)} holds no variable at its root; {_groups_hold(grouped)}: name "
            "one as GROUP/VARIABLE, "
            f"e.g. `variable='{_grouped_example(grouped)}'` (or open the group: "
            f"`group='{_grouped_example(grouped).rpartition('/')[0]}'`)."
        )
    return ds


#: the CF attributes that xarray's decoding computes with: numbers, by the CF conventions
_CF_NUMERIC_ATTRS = ("scale_factor", "add_offset", "_FillValue", "missing_value")


def _textual_cf_attrs(ds: xr.Dataset) -> dict[Any, dict[str, str]]:
    """``{variable: {attribute: text}}``: the scale/offset/fill attributes a file stores as
    text (``scale_factor = "0.02"``, as some converters write them). xarray decodes with them
    as they are: ``data * "0.02"`` gives an array of strings (``<U1``), or a dask graph that
    fails on compute."""
    found: dict[Any, dict[str, str]] = {}
    for name, var in ds.variables.items():
        # a text variable's fill is text (CF: its own type); its stored type, as the decoded
        # one of a number scaled by text is text too
        if np.dtype(var.encoding.get("dtype", var.dtype)).kind not in "iufc":
            continue
        held = {**var.attrs, **var.encoding}
        text = {a: held[a] for a in _CF_NUMERIC_ATTRS
                if isinstance(held.get(a), (str, bytes))}
        if text:
            found[name] = {a: v.decode() if isinstance(v, bytes) else v
                           for a, v in text.items()}
    return found


def _decode_textual_cf(ds: xr.Dataset, textual: dict[Any, dict[str, str]],
                       path: Any) -> xr.Dataset:
    """``ds`` (opened with ``mask_and_scale=False``) masked and scaled as CF decoding would,
    its textual attributes (:func:`_textual_cf_attrs`) read as numbers; one that is no number
    is refused naming it and how to fix the file."""
    ds = ds.copy()
    for name, text in textual.items():
        attrs = dict(ds[name].attrs)
        for attr, value in text.items():
            try:
                number = float(value.strip())
            except ValueError:
                raise XlstsrError(
                    f"the attribute {attr}={value!r} of the variable {name!r} in "
                    f"{os.fspath(path)} is text that is no number, so its values cannot be "
                    f"decoded; set it to a number (`ncatted -O -a {attr},{name},o,d,NUMBER "
                    f"{Path(os.fspath(path)).name}`), or open the file with "
                    "`xr.open_dataset(path, mask_and_scale=False)` and scale the values "
                    "yourself."
                ) from None
            # a fill compares equal to the stored integers; a scale or offset is a float
            attrs[attr] = (int(number) if attr in ("_FillValue", "missing_value")
                           and number.is_integer() else number)
        ds.variables[name].attrs = attrs
    return xr.decode_cf(ds, mask_and_scale=True, decode_times=False, decode_coords=False,
                        concat_characters=False, decode_timedelta=False)


#: the first bytes of compressed files, and their kind
_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"PK\x03\x04", "zip"),
          (b"\xfd7zXZ\x00", "xz"))


def _compression_of(path: Any) -> str | None:
    """``"gzip"``, ``"bzip2"``, ``"zip"`` or ``"xz"`` when a local file's first bytes say it is
    compressed (whatever its name), else None."""
    try:
        with open(os.fspath(path), "rb") as f:
            head = f.read(8)
    except OSError:
        return None
    return next((kind for magic, kind in _MAGIC if head.startswith(magic)), None)


#: the largest side of a chunk given to a NetCDF variable stored without chunks (as open_cog
#: grows a GeoTIFF's blocks to about 1024 pixels a side), and the most pixels of such a chunk
_CONTIGUOUS_SIDE = 1024
_CONTIGUOUS_PIXELS = _CONTIGUOUS_SIDE ** 2


def _bounded_chunks(ds: xr.Dataset, path: Any, kwargs: dict[str, Any]) -> xr.Dataset:
    """``ds`` (opened with the file's own chunks, ``chunks={}``) with its variables stored
    contiguous (every NetCDF-3 file, NetCDF-4 written without chunking) reopened in bounded
    chunks: at most :data:`_CONTIGUOUS_SIDE` pixels along the last two dims, and as many steps
    of the dim before them (time) as keep a chunk within :data:`_CONTIGUOUS_PIXELS` (one step
    of a grid of 1024 x 1024 pixels or more; one of any other leading dim). ``chunks={}`` made
    such a variable one dask chunk of the whole cube, and one window of one date read the whole
    file. A small cube stays one chunk; variables the file chunks keep its chunks."""
    import math

    def balanced(n: int, most: int) -> int:
        return math.ceil(n / math.ceil(n / max(most, 1)))

    contiguous = [k for k, v in ds.data_vars.items()
                  if v.ndim >= 2 and v.chunks is not None and all(len(c) == 1 for c in v.chunks)
                  and not v.encoding.get("chunksizes")]
    if not contiguous:
        return ds
    sizes: dict[Any, int] = {}
    for k in contiguous:
        v = ds[k]
        dims = list(v.dims)
        side = {d: balanced(v.sizes[d], _CONTIGUOUS_SIDE) for d in dims[-2:]}
        pixels = math.prod(side.values())
        for i, d in enumerate(dims):
            n = v.sizes[d]
            if d in side:
                size = side[d]
            elif i == len(dims) - 3:  # the steps (time) within the pixel budget
                size = balanced(n, _CONTIGUOUS_PIXELS // pixels)
            else:
                size = 1
            sizes[d] = min(sizes.get(d, n), size)
    if all(sizes[d] == ds.sizes[d] for d in sizes):  # a small cube: one chunk
        return ds
    bounded = xr.open_dataset(os.fspath(path), **{"decode_coords": "all", **kwargs,
                                                  "chunks": sizes})
    return ds.assign({k: bounded[k] for k in contiguous})
