"""MODIS HDF4-EOS reader (MOD11A1 / MYD11A1 LST...) built on pyhdf, lazy (dask).

GDAL builds in binary wheels usually lack the HDF4 driver, so granules are read with pyhdf
(``pip install 'xlstsr[hdf]'``) and georeferenced from their HDF-EOS ``StructMetadata`` (MODIS
sinusoidal tiles, or the geographic Climate Modelling Grid of MOD11C1/C3: EPSG:4326). Pixels
are read chunk by chunk when computed (the HDF4 library is not thread-safe: reads hold one
lock). The date comes from the granule name (``.AYYYYDDD.``), checked against the days the
granule records in its ``CoreMetadata`` (``RANGEBEGINNINGDATE`` to ``RANGEENDINGDATE``).
"""

from __future__ import annotations

import datetime as dt
import glob
import logging
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import dask.array as dsa
import numpy as np
import xarray as xr
from affine import Affine
from dask.array.core import normalize_chunks
from dask.base import tokenize
from dask.utils import SerializableLock

from ..errors import InputNotFoundError, InputTypeError, VariableNotFoundError, XlstsrError
from ..grid import MODIS_SINUSOIDAL, grid_coords
from ..qc import modland
from ..validate import check_bool, check_whole
from .cog import check_chunks
from .formats import absolute_path
from .zarr import file_uri_path

__all__ = ["default_layer", "granule_layers", "granule_time", "open_modis"]

log = logging.getLogger(__name__)

PathLike = str | os.PathLike

#: the HDF4 library is not thread-safe: every read holds this lock (picklable for distributed)
_HDF4_LOCK = SerializableLock("xlstsr-hdf4")

#: attributes that describe the stored integers, dropped once decoded
_CODING_ATTRS = (
    "scale_factor", "add_offset", "_FillValue", "valid_range", "calibrated_nt",
    "scale_factor_err", "add_offset_err", "Number Type",
)
#: a text attribute that states how the stored integers are decoded: MOD11A1's per-layer
#: formulas (LST_Day_1km's ``LST = "LST data * scale_factor"``, Emis_31's ``Emis_31 = "Emis_31
#: data * scale_factor + add_offset"``, Clear_day_cov's ``day clear_sky_cov = ...``), named
#: after the layer, not by a fixed key
_CODING_FORMULA = re.compile(r"\b(?:scale_factor|add_offset)\b")


def _coding_attr(key: str, value: Any) -> bool:
    """Whether the HDF attribute ``key: value`` describes the stored integers (a coding
    attribute, or a formula that names ``scale_factor``/``add_offset``): not true of the
    decoded values, so dropped with the decoding.

    Examples
    --------
    >>> _coding_attr("LST", "LST data * scale_factor"), _coding_attr("scale_factor", 0.02)
    (True, True)
    >>> _coding_attr("long_name", "Daily daytime 1km grid Land-surface Temperature")
    False
    """
    if key in _CODING_ATTRS:
        return True
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    return isinstance(value, str) and _CODING_FORMULA.search(value) is not None

_GRANULE_DATE = re.compile(r"\.A(\d{4})(\d{3})\.")


def _pyhdf() -> Any:
    try:
        from pyhdf import SD
    except ImportError as err:  # pragma: no cover - pyhdf is installed in the test environment
        raise ImportError(
            "reading MODIS HDF4 granules needs pyhdf: `pip install 'xlstsr[hdf]'` (or pyhdf). "
            "GDAL in rasterio's wheels has no HDF4 driver."
        ) from err
    return SD


#: the first bytes of every HDF4 file
_HDF4_MAGIC = b"\x0e\x03\x13\x01"


def _open_sd(path: Path) -> Any:
    SD = _pyhdf()
    try:
        return SD.SD(str(path), SD.SDC.READ)
    except SD.HDF4Error as err:
        try:
            with open(path, "rb") as f:
                head = f.read(len(_HDF4_MAGIC))
            size = os.path.getsize(path)
        except OSError:
            head, size = b"", None
        if head == _HDF4_MAGIC:
            # an HDF4 file that the library cannot open: cut short (an interrupted download)
            # or damaged, not another format (it was sent to xarray for HDF5/NetCDF)
            raise XlstsrError(
                f"{path} is an HDF4 file ({size:,} bytes) that cannot be opened ({err}): the "
                "granule is damaged or truncated (an interrupted download?). Download it again, "
                "or leave it out of the granules opened."
            ) from err
        raise XlstsrError(
            f"{path} is not a readable HDF4 file ({err}); open_modis reads MODIS HDF4-EOS "
            "granules such as MOD11A1.A2019305.h14v09.006.*.hdf (HDF5/NetCDF: xarray.open_dataset)."
        ) from err


class _SDSArray:
    """A scientific dataset of an HDF4 file as a lazy array: opened, sliced, closed per read."""

    def __init__(self, path: str, name: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.path, self.name, self.shape, self.dtype = path, name, shape, np.dtype(dtype)
        self.ndim = len(shape)

    def __getitem__(self, key: Any) -> np.ndarray:
        SD = _pyhdf()
        with _HDF4_LOCK:
            try:
                sd = SD.SD(self.path, SD.SDC.READ)
            except SD.HDF4Error as err:  # moved, deleted or unmounted since open_modis
                if not os.path.isfile(self.path):
                    raise InputNotFoundError(
                        f"the MODIS granule {self.path} is gone since it was opened (moved or "
                        f"deleted?): {self.name} cannot be read; open it again where it is now."
                    ) from err
                raise XlstsrError(
                    f"cannot open the MODIS granule {self.path} to read {self.name} ({err}); "
                    "check that the file is still readable."
                ) from err
            try:
                return np.asarray(sd.select(self.name)[key], dtype=self.dtype)
            except (SD.HDF4Error, ValueError) as err:
                # pyhdf's bare "SDreaddata failure": a damaged compressed block (partial
                # download, bad disk block) found only now, in a cube of hundreds of granules
                raise XlstsrError(
                    f"{self.name} of the MODIS granule {self.path} cannot be read ({err}): the "
                    "file is damaged (an interrupted download?). Download the granule again, or "
                    "leave it out of the list of granules opened."
                ) from err
            finally:
                sd.end()


def granule_time(path: PathLike) -> np.datetime64 | None:
    """The date of a MODIS granule from its name (``MOD11A1.A2019305...`` -> 2019-11-01).

    Examples
    --------
    >>> from xlstsr.io import granule_time
    >>> granule_time("MOD11A1.A2019305.h14v09.006.2019306084028.hdf")
    np.datetime64('2019-11-01T00:00:00.000000000')
    >>> granule_time("lst.hdf") is None
    True
    >>> granule_time("MOD11A1.A2019400.h14v09.006.hdf")
    Traceback (most recent call last):
    ...
    xlstsr.errors.XlstsrError: MOD11A1.A2019400.h14v09.006.hdf: day of year 400 does not exist in 2019; ...
    """
    m = _GRANULE_DATE.search(Path(path).name)
    if m is None:
        return None
    year, doy = int(m.group(1)), int(m.group(2))
    if not 1 <= doy <= (366 if dt.date(year, 12, 31).timetuple().tm_yday == 366 else 365):
        # day 400 was dated 35 days into the next year without a word
        raise XlstsrError(f"{Path(path).name}: day of year {doy:03d} does not exist in {year}; "
                          "was the file renamed? Give it its real acquisition date (`.AYYYYDDD.`: year, "
                          "day of year 001-366).")
    day = dt.date(year, 1, 1) + dt.timedelta(days=doy - 1)
    return np.datetime64(day.isoformat(), "ns")


#: a date field of a granule's ECS CoreMetadata (ODL): its VALUE within its own OBJECT (a
#: field without one must not take the next field's date)
_RANGE_FIELD = r"\bOBJECT\s*=\s*{}\b(?:(?!END_OBJECT).)*?VALUE\s*=\s*\"?(\d{{4}})-(\d{{2}})-(\d{{2}})"


def _recorded_date(core: str, field: str = "RANGEBEGINNINGDATE") -> np.datetime64 | None:
    """A date a granule records in its CoreMetadata (``RANGEBEGINNINGDATE``, the first day it
    covers, or ``RANGEENDINGDATE``, the last), None when it records none (a file written
    without ECS metadata) or an invalid one.

    Examples
    --------
    >>> from xlstsr.io.modis import _recorded_date
    >>> _recorded_date('OBJECT = RANGEBEGINNINGDATE  NUM_VAL = 1  VALUE = "2019-11-01"')
    np.datetime64('2019-11-01T00:00:00.000000000')
    >>> _recorded_date("OBJECT = RANGEBEGINNINGDATE NUM_VAL = 1 END_OBJECT = RANGEBEGINNINGDATE "
    ...                'OBJECT = PRODUCTIONDATETIME VALUE = "2019-11-02"') is None
    True
    >>> _recorded_date("") is None
    True
    """
    m = re.search(_RANGE_FIELD.format(field), core, re.S)
    if m is None:
        return None
    try:
        day = dt.date(*(int(g) for g in m.groups()))
    except ValueError:
        return None
    return np.datetime64(day.isoformat(), "ns")


def _recorded_days(core: str) -> tuple[str, str] | None:
    """The first and last days a granule's CoreMetadata records covering (ISO dates), None
    when it records no first day."""
    begin = _recorded_date(core)
    if begin is None:
        return None
    end = _recorded_date(core, "RANGEENDINGDATE")
    end = begin if end is None or end < begin else end
    return str(begin)[:10], str(end)[:10]


def _granule_date(path: Path, days: tuple[str, str] | None) -> np.datetime64 | None:
    """The date of a granule: its name's (:func:`granule_time`), which must lie within the
    days its CoreMetadata records it covers (``days``: ``RANGEBEGINNINGDATE`` to
    ``RANGEENDINGDATE``, :func:`_recorded_days`; a composite may be named for a day inside its
    window: MCD43 for its middle); a granule without a date in its name takes the recorded day
    of a one-day range only (which day names a longer window is the product's convention);
    None when neither gives one. A renamed copy (another day's name) was stacked as a second,
    duplicated step under the wrong date without a word: refused, naming both dates."""
    named = granule_time(path)
    begin, end = ((None, None) if days is None
                  else (np.datetime64(days[0], "ns"), np.datetime64(days[1], "ns")))
    if named is not None and begin is not None and not begin <= named <= end:
        day = dt.date.fromisoformat(str(begin)[:10])
        tag = f".A{day.year}{day.timetuple().tm_yday:03d}."
        span = (str(begin)[:10] if end == begin
                else f"{str(begin)[:10]} to {str(end)[:10]}")
        raise XlstsrError(
            f"{path.name} is named for {str(named)[:10]} but the granule records {span} "
            "(RANGEBEGINNINGDATE/RANGEENDINGDATE of its CoreMetadata): a renamed or mislabelled "
            "copy of another date's granule. Rename it to its product's date for that range "
            f"(`{tag}` for a daily granule), or leave it out if that granule is opened already."
        )
    if named is not None:
        return named
    return begin if begin is not None and end == begin else None


#: a MODIS granule's name: the product's short name, then its date (``MOD11A1.A2019305.``)
_GRANULE_PRODUCT = re.compile(r"^([A-Za-z][A-Za-z0-9]*)\.A\d{7}\.")
#: a MODIS granule's collection after its date (and tile): ``.006.`` (C6), ``.061.`` (C6.1)
_COLLECTION = re.compile(r"\.A\d{7}\.(?:h\d\dv\d\d\.)?(\d{3})(?=[._])")  # .061_LST_... too


def _granule_product(path: PathLike) -> str | None:
    """The product short name of a MODIS-named granule (``MOD11A1.A2019305...`` -> 'MOD11A1'),
    or None for another name.

    Examples
    --------
    >>> from xlstsr.io.modis import _granule_product
    >>> _granule_product("MYD11A2.A2019313.h14v09.006.2019322084028.hdf")
    'MYD11A2'
    >>> _granule_product("lst.tif") is None
    True
    """
    m = _GRANULE_PRODUCT.match(Path(os.fspath(path)).name)
    return None if m is None else m.group(1).upper()


def _check_one_product(paths: Sequence[PathLike], how: str = "open_modis") -> None:
    """Refuse MODIS-named granules of several products (MOD11A1, MYD11A1, MOD11A2...) stacked as
    one series: Terra's 10:30 and Aqua's 13:30 overpasses (several K of diurnal warming apart)
    and 8-day composites among daily fields were put in one date-ordered series without a
    word when their dates differed (the same date was refused). Names without a product are
    not judged. ``how``: the reader whose call the advice shows."""
    groups: dict[str, list[str]] = {}
    for p in paths:
        product = _granule_product(p)
        if product is not None:
            groups.setdefault(product, []).append(Path(os.fspath(p)).name)
    if len(groups) < 2:
        _check_one_collection(paths, how)
        return
    said = "; ".join(f"{k}: {len(v)} ({v[0]}{' ...' if len(v) > 1 else ''})"
                     for k, v in groups.items())
    first = next(iter(groups))
    example = (f"open_modis('{first}.A*.hdf')" if how == "open_modis"
               else f"open_cog(sorted(glob.glob('{first}.*.tif')))")
    noun = "granules" if how == "open_modis" else "files"
    raise XlstsrError(
        f"the {noun} are of {len(groups)} products ({said}): one series is one product "
        "(Terra's and Aqua's overpasses are hours apart, an 8-day composite is no daily "
        f"field). Open each product separately, e.g. `{example}`."
    )


def _check_one_collection(paths: Sequence[PathLike], how: str = "open_modis") -> None:
    """Refuse MODIS-named granules of one product from several collections (C6 ``.006.`` and
    C6.1 ``.061.``: reprocessings with other calibration inputs) stacked as one series: they
    were refused on a shared date (two versions) but stacked without a word on different
    dates. Names without a collection are not judged. ``how`` as for
    :func:`_check_one_product`."""
    groups: dict[str, list[Path]] = {}
    for p in paths:
        m = _COLLECTION.search(Path(os.fspath(p)).name)
        if m is not None and _granule_product(p) is not None:
            groups.setdefault(m.group(1), []).append(Path(os.fspath(p)))
    if len(groups) < 2:
        return
    said = "; ".join(f"{k}: {len(v)} ({v[0].name}{' ...' if len(v) > 1 else ''})"
                     for k, v in sorted(groups.items()))
    latest = max(groups)  # the latest reprocessing, which replaces the earlier ones
    first = groups[latest][0]
    # picked from the user's own list: a glob of one folder missed granules kept in another
    # and took the other layer's GeoTIFFs of a shared folder
    # (a date is .AYYYYDDD., a tile .hHHvVV.: no other dot-led three digits in the name)
    keep = f"[f for f in files if '.{latest}' in os.path.basename(f)]"
    example = f"open_modis({keep})" if how == "open_modis" else f"open_cog({keep})"
    noun = "granules" if how == "open_modis" else "files"
    raise XlstsrError(
        f"the {noun} are of {len(groups)} collections of {_granule_product(first)} ({said}): "
        "one series is one collection (each reprocessing has its own calibration and "
        f"algorithm; C6.1 replaced C6). Open the {noun} of one collection, e.g. the latest "
        f"`{example}` (files: the list given, `sorted(glob.glob(pattern))` for a pattern; "
        "download the missing dates in it), leaving the others out."
    )


def _corners(struct: str) -> tuple[tuple[float, float], tuple[float, float]]:
    def pair(key: str) -> tuple[float, float]:
        m = re.search(key + r"=\(([-+0-9.eE]+),([-+0-9.eE]+)\)", struct)
        if m is None:
            raise XlstsrError(f"no {key} in the HDF-EOS StructMetadata: not a MODIS grid granule")
        return float(m.group(1)), float(m.group(2))

    return pair("UpperLeftPointMtrs"), pair("LowerRightMtrs")


def _packed_dms(value: float) -> float:
    """Degrees of an HDF-EOS (GCTP) packed angle ``DDDMMMSSS.SS``: -180000000 -> -180.0,
    5030000 -> 5.5; NaN where its minutes or seconds are not below 60 (not packed DMS)."""
    sign = -1.0 if value < 0 else 1.0
    a = abs(value)
    deg = int(a // 1_000_000)
    minutes = int((a - deg * 1_000_000) // 1_000)
    sec = a - deg * 1_000_000 - minutes * 1_000
    if minutes >= 60 or sec >= 60:
        return float("nan")
    return sign * (deg + minutes / 60 + sec / 3600)


def _grid(path: Path, struct: str) -> tuple[str, tuple[float, float], tuple[float, float]]:
    """The CRS and the (x, y) corners of the first grid of the StructMetadata: metres of the
    MODIS sinusoidal (tiles, ``GCTP_SNSOID``) or degrees (Climate Modelling Grid MOD11C1/C3,
    ``GCTP_GEO``, corners in packed DMS); any other projection is refused (its corners read as
    sinusoidal metres placed the pixels elsewhere without a word)."""
    corners = _corners(struct)
    m = re.search(r"Projection=(\w+)", struct)
    projection = m.group(1) if m else "GCTP_SNSOID"  # MODIS tiles; files without the key
    if projection == "GCTP_SNSOID":
        return MODIS_SINUSOIDAL, *corners
    if projection == "GCTP_GEO":
        (ulx, uly), (lrx, lry) = (tuple(_packed_dms(v) for v in c) for c in corners)
        if not (-180 <= ulx < lrx <= 180 and -90 <= lry < uly <= 90):
            raise XlstsrError(
                f"{path.name}: its geographic grid (GCTP_GEO) has corners {corners} that are "
                "not packed degrees-minutes-seconds (DDDMMMSSS) of a north-up lon/lat grid; "
                "reproject it with GDAL (gdalwarp) or open it with rioxarray.open_rasterio."
            )
        return "EPSG:4326", (ulx, uly), (lrx, lry)
    raise XlstsrError(
        f"{path.name} is on a {projection} grid: open_modis reads the MODIS sinusoidal tiles "
        "(GCTP_SNSOID, MOD11A1...) and the geographic Climate Modelling Grid (GCTP_GEO, "
        "MOD11C1...). Reproject it with GDAL (gdalwarp -t_srs ...) or open it with "
        "rioxarray.open_rasterio (with a GDAL built with HDF4)."
    )


def _qc_name(variable: str, names: Sequence[str] = ()) -> str | None:
    """The QC layer of an LST variable (QC_Day for LST_Day_1km, MOD21A1D/N's QC for its
    LST_1KM); None for everything else."""
    if not variable.startswith("LST_"):
        return None
    if "Day" in variable:
        return "QC_Day"
    if "Night" in variable:
        return "QC_Night"
    if "QC" in names:  # MOD21A1D / MOD21A1N: one overpass, one QC (MODLAND in bits 0-1)
        return "QC"
    return None


def _day_night(path: Path, variable: str) -> str | None:
    """'day' or 'night' for a layer of one overpass: by its name (LST_Day_1km, QC_Night,
    Day_view_time, Clear_night_cov), else by the product of a one-overpass granule
    (MOD21A1D / MOD21A1N: LST_1KM); None for layers of both or neither (Emis_31) and for
    dates (composite_day_of_the_year).

    Examples
    --------
    >>> _day_night(Path("MOD11A1.A2019305.h14v09.006.hdf"), "LST_Night_1km")
    'night'
    >>> _day_night(Path("MOD21A1D.A2019305.h14v09.061.hdf"), "LST_1KM")
    'day'
    >>> _day_night(Path("MOD11A1.A2019305.h14v09.006.hdf"), "Emis_31") is None
    True
    >>> _day_night(Path("MOD13A2.A2019305.h14v09.006.hdf"), "composite_day_of_the_year") is None
    True
    """
    # not a layer of dates: MOD13's composite_day_of_the_year is of no overpass
    found = {m.lower() for m in re.findall(r"(?:^|_)(day|night)(?=_|$)(?!_of(?:_|$))",
                                           variable, re.I)}
    if len(found) == 1:
        return found.pop()
    if found:
        return None
    m = re.match(r"M[OY]D21A1([DN])\.", path.name, re.IGNORECASE)
    return None if m is None else {"D": "day", "N": "night"}[m.group(1).upper()]


def _is_qc_layer(name: str) -> bool:
    """A QC bit layer (QC_Day, QC_Night, MOD21A1's QC): flags, never decoded to numbers."""
    return re.match(r"QC($|_)", name) is not None


def _qc_product(path: Path, struct: str) -> str | None:
    """The QC layout of a granule (for :mod:`xlstsr.qc`) from its name or its HDF-EOS grid
    name (MOD21's grids end in ``LST21``): "MOD21A1" (16-bit QC), "MOD21A2" (8-bit), "MOD21"
    (width from the layer), None for MOD11 and the rest."""
    m = re.match(r"M[OY]D21(A1|A2)?", path.name, re.IGNORECASE)
    if m:
        return f"MOD21{(m.group(1) or '').upper()}"
    g = re.search(r'GridName="?([^"\n]*LST21)', struct)
    if g:
        return "MOD21A1" if "Daily" in g.group(1) else "MOD21A2" if "8Day" in g.group(1) else "MOD21"
    return None


def _check_qc_layer(path: Path, variable: str, qc_name: str, attrs: dict[str, Any]) -> None:
    """Refuse a forced ``qc`` layer that is not the QC bits of ``variable``: the QC_Day of a
    night LST (another overpass, other clouds) or a scaled field such as Emis_31 masked
    pixels by unrelated bits without a word."""
    if any(k in attrs and not _no_number(attrs[k]) for k in ("scale_factor", "add_offset")):
        raise XlstsrError(
            f"qc={qc_name!r} is a scaled field of {path.name} (it has a scale_factor), not a QC "
            f"bit layer: pass qc='auto' (QC_Day / QC_Night for the LST), a QC_* layer, or None."
        )
    own = _qc_name(variable)  # QC_Day / QC_Night: MOD11, MOD21A2
    halves = {"QC_Day": "Day", "QC_Night": "Night"}
    if own is not None and qc_name in halves and qc_name != own:
        raise XlstsrError(
            f"qc={qc_name!r} holds the quality bits of the {halves[qc_name].lower()} overpass, "
            f"but {variable} is observed at {halves[own].lower()}: its clouds are others. Pass "
            f"qc={own!r} (or qc='auto')."
        )


def _no_number(v: Any) -> bool:
    """A text attribute that says there is none (MOD21A2's QC_Day: scale_factor "n/a")."""
    if isinstance(v, bytes):
        v = v.decode(errors="replace")
    return isinstance(v, str) and v.strip().lower() in ("", "n/a", "na", "none")


#: the dims a ``chunks`` dict of :func:`open_modis` may name: a granule's ``y`` and ``x``, and
#: the ``time`` of the granules stacked
_CHUNK_DIMS = ("time", "y", "x")


def _check_chunk_dims(chunks: Any) -> None:
    """Refuse a ``chunks`` dict naming other dims (``lat`` / ``lon``, ``band``): they were
    ignored without a word and the whole granule read as one chunk."""
    if not isinstance(chunks, dict):
        return
    odd = sorted((k for k in chunks if k not in _CHUNK_DIMS), key=str)
    if odd:
        raise XlstsrError(
            f"chunks names {odd}, not dims of what open_modis returns: use {list(_CHUNK_DIMS)} "
            "(a geographic granule such as MOD11C1 has y / x too), e.g. "
            "chunks={'y': 600, 'x': 600}."
        )


def _chunks(chunks: Any) -> Any:
    """A granule's ``(y, x)`` chunks from those given to :func:`open_modis`."""
    if isinstance(chunks, dict):
        return tuple(chunks.get(d, -1) for d in ("y", "x"))
    return chunks


def _task_name(path: Path, variable: str, chunks: tuple[tuple[int, ...], ...]) -> str:
    """A deterministic dask key for one variable of one file at one chunking."""
    stat = path.stat()
    token = tokenize(str(path.resolve()), stat.st_mtime_ns, stat.st_size, variable, chunks)
    return f"xlstsr-modis-{variable}-{token}"


#: the layer :func:`open_modis` opens when none is named: MOD11A1's day LST
DEFAULT_LAYER = "LST_Day_1km"
#: layers of each kind, by name: an LST (MOD21A1D's ``LST_1KM``; not its error or QC layers),
#: an NDVI (MOD13A2's ``1 km 16 days NDVI``), for a granule without the default layer
_LAYER_KINDS = {
    "LST": (re.compile(r"(^|[_ ])LST", re.IGNORECASE),
            re.compile(r"err|qc|time|angl|emis", re.IGNORECASE)),
    "guide": (re.compile(r"NDVI", re.IGNORECASE), re.compile(r"qc|quality", re.IGNORECASE)),
}


def default_layer(names: Sequence[str], kind: str = "LST") -> str | None:
    """The layer of ``names`` (a granule's scientific datasets) to open when none is named:
    for an LST, :data:`DEFAULT_LAYER` when there, else the granule's only LST layer
    (MOD21A1D's ``LST_1KM``); for a guide, its only NDVI layer (MOD13A2's ``1 km 16 days
    NDVI``); else a granule's only layer. None when that is ambiguous or there is none.

    Examples
    --------
    >>> from xlstsr.io.modis import default_layer
    >>> default_layer(["LST_1KM", "QC", "LST_err_1KM", "Emis_29"])
    'LST_1KM'
    >>> default_layer(["1 km 16 days NDVI", "1 km 16 days EVI"], "guide")
    '1 km 16 days NDVI'
    """
    names = list(names)
    if kind == "LST" and DEFAULT_LAYER in names:
        return DEFAULT_LAYER
    wanted, unwanted = _LAYER_KINDS[kind]
    found = [n for n in names if wanted.search(n) and not unwanted.search(n)]
    if len(found) == 1:
        return found[0]
    return names[0] if len(names) == 1 else None


def granule_layers(path: PathLike) -> list[str]:
    """The scientific datasets (layers) of a MODIS HDF4 granule, by name."""
    sd = _open_sd(Path(absolute_path(path)))
    try:
        return list(sd.datasets())
    finally:
        sd.end()


def _no_layer(path: Path, variable: str | None, names: list[str], kind: str = "LST") -> str:
    """The refusal of a granule without the layer asked for (``variable``), or, none named,
    without the default and without a single layer of the ``kind`` to take instead: naming its
    layers and one to pass as ``variable=``."""
    wanted, unwanted = _LAYER_KINDS[kind]
    like = [n for n in names if wanted.search(n) and not unwanted.search(n)] or names
    example = f": name one, e.g. `variable='{like[0]}'`" if like else ""
    if variable is not None:
        return f"{variable!r} is not in {path.name}; its variables are {names}{example}."
    what = (f"no {DEFAULT_LAYER!r} layer (opened when none is named) and not one LST layer"
            if kind == "LST" else "not one NDVI layer")
    return (f"{path.name} has {what} to take instead; its variables are {names}{example}.")


def _refuse_missing_qc(path: Path, variable: str, names: Sequence[str]) -> None:
    """Refuse ``max_modland=0`` for an LST layer whose QC layer the granule lacks (a download
    of selected layers: LST_Day_1km without QC_Day): the mask asked for was dropped without a
    word (82,045 "other quality" pixels of the shared granule kept as Kelvin). 1-3 reject only
    MODLAND 2-3, pixels that are the LST's fill anyway, so they read the same without QC."""
    if not variable.startswith("LST_"):
        return
    wanted = _qc_name(variable, ["QC"])  # QC_Day / QC_Night, or MOD21A1D/N's QC
    if wanted is None or wanted in names:
        return
    raise VariableNotFoundError(
        f"max_modland=0 asks to mask {variable} of {path.name} by its QC layer {wanted!r}, "
        f"which the granule does not hold (its variables are {names}: a download of "
        f"selected layers?), so the mask cannot be applied. Open a granule that holds "
        f"{wanted} (download it with its QC layers), or leave out max_modland to read "
        f"{variable} without QC masking (its MODLAND 2-3 pixels are gaps as its fill)."
    )


def _open_one(
    path: PathLike, variable: str | None, qc: str | None, max_modland: int, decode: bool,
    chunks: Any, explicit_qc: bool = False, recorded: list[Any] | None = None
) -> xr.DataArray:
    """One granule's field; ``recorded`` (a list) gets the days its CoreMetadata records
    covering (:func:`_recorded_days`) appended."""
    path = Path(absolute_path(path))  # read when computed: by a worker, maybe elsewhere
    if path.is_dir():  # "no such granule" for an existing folder did not say what to pass
        raise InputNotFoundError(
            f"{path} is a folder, not a MODIS granule: pass a file, a pattern such as "
            f"open_modis({str(path / 'MOD11A1.*.hdf')!r}) or a list of files "
            f"({len(list(path.glob('*.hdf')))} .hdf files are in it)."
        )
    if not path.is_file():
        hint = (" (a wildcard pattern is expanded only when passed alone, as a string, not "
                "inside a list)" if glob.has_magic(str(path)) else "")
        raise InputNotFoundError(f"no such MODIS granule: {path}; check the path{hint}.")
    sd = _open_sd(path)
    try:
        info = sd.datasets()
        names = list(info)
        if variable is None:  # none named: the day LST, or the granule's only LST layer
            variable = default_layer(names)
            if variable is None:
                raise VariableNotFoundError(_no_layer(path, None, names))
        if variable not in names:
            raise VariableNotFoundError(_no_layer(path, variable, names))
        sds = sd.select(variable)
        attrs = dict(sds.attributes())
        shape = tuple(info[variable][1])
        qc_name = _qc_name(variable, names) if qc == "auto" else qc
        if qc == "auto" and explicit_qc and max_modland == 0:
            _refuse_missing_qc(path, variable, names)
        if qc_name is not None and qc_name not in names:
            if qc != "auto":
                raise VariableNotFoundError(
                    f"QC layer {qc_name!r} is not in {path.name}; its variables are {names}"
                )
            qc_name = None
        if qc_name is not None and qc != "auto":
            _check_qc_layer(path, variable, qc_name, dict(sd.select(qc_name).attributes()))
        gattrs = sd.attributes()
        struct = "".join(str(v) for k, v in gattrs.items() if k.startswith("StructMetadata"))
        # CoreMetadata.0, .1...: the granule's own date, which its name must agree with
        core = "".join(str(v) for k, v in gattrs.items() if k.startswith("CoreMetadata"))
        dtype = np.asarray(sds[0:1, 0:1]).dtype
        qc_dtype = np.asarray(sd.select(qc_name)[0:1, 0:1]).dtype if qc_name else None
    finally:
        sd.end()
    crs, (ulx, uly), (lrx, lry) = _grid(path, struct)
    ny, nx = shape
    t = Affine((lrx - ulx) / nx, 0.0, ulx, 0.0, (lry - uly) / ny, uly)
    y, x = grid_coords(t, (ny, nx))
    ch = normalize_chunks(_chunks(chunks), (ny, nx), dtype=dtype)
    raw = dsa.from_array(
        _SDSArray(str(path), variable, (ny, nx), dtype), chunks=ch,
        meta=np.empty((0, 0), dtype), name=_task_name(path, variable, ch),
    )
    fill = attrs.get("_FillValue")
    scale, offset = attrs.get("scale_factor"), attrs.get("add_offset")
    scale, offset = (None if _no_number(v) else v for v in (scale, offset))
    # bit fields and class codes (QC_Day...) have no scale and no fill: they stay integers;
    # a QC layer stays so even with a _FillValue (MOD21A2's QC_Day declares 0, the best
    # quality flags: decoded, they were NaN, read as "not produced")
    coded = not _is_qc_layer(variable) and (
        scale is not None or offset is not None or fill is not None)
    keep = dict(attrs)
    encoding: dict[str, Any] = {}  # the coding applied, if any
    qcv = None
    if qc_name is not None and coded and (decode or explicit_qc):
        qcv = dsa.from_array(
            _SDSArray(str(path), qc_name, (ny, nx), qc_dtype), chunks=ch,
            meta=np.empty((0, 0), qc_dtype), name=_task_name(path, qc_name, ch),
        )
    if not decode and qcv is not None:
        # the stored integers, the pixels the QC rejects set to the layer's fill: a consumer
        # that decodes them (upscale) reads gaps (the mask asked for was dropped silently and
        # the excluded pixels super-resolved)
        if fill is None:
            raise XlstsrError(
                f"{variable} of {path.name} declares no _FillValue to mark the pixels "
                f"{qc_name} rejects with decode=False: open it with decode=True (NaN where "
                "rejected), or with qc=None and mask it yourself with xlstsr.qc.modland."
            )
        bad = modland(qcv, product=_qc_product(path, struct)) > max_modland
        data = dsa.where(bad, np.asarray(fill).astype(dtype), raw).astype(dtype)
        keep["qc"] = f"{qc_name} MODLAND bits 0-1 <= {max_modland}"
    elif decode and coded:
        k = float(scale if scale is not None else 1.0)
        b = float(offset if offset is not None else 0.0)
        if k > 1:
            # MODIS land products of the "divide" convention (MOD13 vegetation indices and
            # MOD09 reflectances: scale_factor 10000, value = (stored - add_offset) / scale):
            # multiplied, an NDVI of 0.65 read 6.5e7. No MODIS land field multiplies by > 1.
            data = (raw.astype(np.float64) - b) / k
        else:
            data = raw.astype(np.float64) * k + b
        bad = (raw == fill) if fill is not None else dsa.zeros_like(raw, dtype=bool)
        vrange = attrs.get("valid_range")
        if vrange is not None:  # CF: stored values outside valid_range are missing
            bad |= (raw < vrange[0]) | (raw > vrange[1])
        if qcv is not None:
            bad |= modland(qcv, product=_qc_product(path, struct)) > max_modland
        data = dsa.where(bad, np.nan, data).astype(np.float32)
        # (its formula too: the Kelvin field carried LST='LST data * scale_factor' into every
        # output's tags; kept with decode=False, where it still describes the numbers)
        keep = {k: v for k, v in attrs.items() if not _coding_attr(k, v)}
        if qcv is not None:
            keep["qc"] = f"{qc_name} MODLAND bits 0-1 <= {max_modland}"
        # the applied scale recorded where xarray's decoding puts it (in its terms, value =
        # stored x scale_factor + add_offset): with the attribute dropped, a declared scale
        # (`--scale 0.02`) was applied a second time (6 K) instead of refused
        if k > 1:
            encoding = {"scale_factor": 1.0 / k, "add_offset": -b / k}
        else:
            encoding = {"scale_factor": k, "add_offset": b}
        # scale and offset only: with the granule's dtype and _FillValue too, to_netcdf packed
        # the floats (and any array derived with .copy(data=...), which keeps the encoding)
        # back into uint16: an anomaly of -7.5 K read back as 1303 K
        encoding = {key: v for key, v in encoding.items()
                    if (scale if key == "scale_factor" else offset) is not None}
    else:
        data = raw
    keep["source"] = path.name
    dn = _day_night(path, variable)
    if dn is not None:
        # the pairing checks warn about a day field scored against a night one (+23 K bias
        # between a granule's LST_Day_1km and LST_Night_1km, scored without a word)
        keep["day_night"] = dn
    yu, xu = ("m", "m") if crs == MODIS_SINUSOIDAL else ("degrees_north", "degrees_east")
    coords: dict[str, Any] = {"y": ("y", y, {"units": yu}), "x": ("x", x, {"units": xu})}
    days = _recorded_days(core)
    when = _granule_date(path, days)
    if when is not None:
        coords["time"] = when
    da = xr.DataArray(data, dims=("y", "x"), coords=coords, name=variable, attrs=keep)
    da.encoding.update(encoding)
    if recorded is not None:  # open_modis's check of copies among stacked granules
        recorded.append(days)
    return da.rio.write_crs(crs).rio.write_transform(t)


def _refuse_copies(paths: Sequence[Path], recorded: Sequence[tuple[str, str] | None]) -> None:
    """Refuse stacked granules that are copies of one: two of one product (and collection,
    where their names give them) recording the same days. For a daily granule the product must
    be known (two renamed one-day files may be Terra and Aqua; the shared date is refused
    after), as for renamed files of several days under one date; a browser's second download
    (``name (1).hdf``) was refused as "Terra and Aqua, or two versions?" naming no file.
    Several days: an 8-day MOD11A2 of 1-8 November saved again as .A2019306. (each name lies
    in the window, so it was a second, duplicated step); a product whose windows slide daily
    (MCD43) records a window of its own in each granule. Copies under one name's date are told
    to remove the copy, under two to keep the one named for the window's date."""
    seen: dict[tuple[str | None, str | None, tuple[str, str]], Path] = {}
    for p, days in zip(paths, recorded):
        if days is None:
            continue
        product = _granule_product(p)
        daily = days[0] == days[1]
        if daily and product is None:
            continue
        m = _COLLECTION.search(p.name)
        key = (product, None if m is None else m.group(1), days)
        if key not in seen:
            seen[key] = p
            continue
        first = seen[key]
        same_name_date = granule_time(first) == granule_time(p)
        if product is None and same_name_date:
            # renamed files of one window under one date may be Terra and Aqua: refused as a
            # shared date after; under two dates, one is a renamed copy
            continue
        if daily or same_name_date:  # a second download: both names are right
            raise XlstsrError(
                f"{first.name} and {p.name} are copies of one granule: both {product} "
                f"recording {'the day ' + days[0] if daily else f'the days {days[0]} to {days[1]}'}"
                " (RANGEBEGINNINGDATE/RANGEENDINGDATE of their CoreMetadata), "
                "e.g. a second download saved as 'name (1).hdf'. Remove the copy (keep one "
                "of them) and open the granules again."
            )
        raise XlstsrError(
            f"{first.name} and {p.name} both record the days {days[0]} to {days[1]} "
            "(RANGEBEGINNINGDATE/RANGEENDINGDATE of their CoreMetadata) under two names: "
            "copies of one granule, one of them renamed. Keep the one named for its "
            "product's date of that window and leave the other out."
        )


def _refuse_repeats(paths: Sequence[Path], given: Sequence[Any],
                    pattern: str | None = None) -> None:
    """Refuse one file listed twice (overlapping globs; once absolute, once relative; through
    a symlink; once as a ``file://`` URL): it was called "copies of one granule" and told to
    remove the copy, which deleted the only file. ``given`` are the entries as the user wrote
    them (``paths`` the local paths they name): the URL's entry was named as its path, "twice".
    ``pattern``: the glob pattern (as globbed) that matched ``paths``, a granule and a link to
    it: the advice for a list, run on the pattern's string, split it into characters.
    """
    seen: dict[str, int] = {}
    for i, p in enumerate(paths):
        real = os.path.realpath(absolute_path(p))
        if real not in seen:
            seen[real] = i
            continue
        first = given[seen[real]]
        if pattern is not None:
            raise XlstsrError(
                f"the pattern {pattern!r} matches {first} and {given[i]}, the same file "
                f"({real}) through a link: each granule is one step. Open each file once, "
                "e.g. `import glob, os; files = sorted({os.path.realpath(f): f for f in "
                f"glob.glob({pattern!r})}}.values())` and `open_modis(files)`, or narrow the "
                "pattern to leave the link out."
            )
        same = (f"{given[i]} twice" if os.fspath(given[i]) == os.fspath(first)
                else f"{first} and {given[i]}, the same file,")
        # the advice's key reads a file:// URL as open_modis does (a realpath of the URL
        # itself kept both, and the advice looped); the first name of each file is kept
        raise XlstsrError(
            f"the list of granules names {same} ({real}): each granule is one step. "
            "De-duplicate the list, e.g. `import os; from xlstsr.io.zarr import file_uri_path; "
            "files = list({os.path.realpath(os.path.expanduser(file_uri_path(f) or f)): f "
            "for f in reversed(files)}.values())` (keeping the first name you gave each file; "
            "open_modis orders the steps by date), and open it again (no file needs removing)."
        )


def _expand(path: PathLike | Sequence[PathLike]) -> list[Path] | None:
    """The granules of a list or a glob pattern; None for one plain path (an existing one too,
    whatever its characters)."""
    if isinstance(path, (str, os.PathLike)):
        s = os.fspath(path)
        if not glob.has_magic(s) or os.path.exists(absolute_path(s)):
            # a granule in "run[1]/" is no pattern: globbed, "[1]" matched "1" only and the
            # existing file was "no MODIS granule matches"
            return None
        pattern = absolute_path(s)
        found = sorted(Path(p) for p in glob.glob(pattern))
        if not found:
            raise InputNotFoundError(f"no MODIS granule matches {s!r}; check the folder and "
                                     "the pattern (e.g. 'MOD11A1.A2020*.h18v04.*.hdf').")
        _refuse_repeats(found, found, pattern)  # a link among the matches to another
        return found
    if not isinstance(path, Iterable) or isinstance(path, (bytearray, memoryview)):
        # a bytearray is no path to open() either: iterated, it gave integers, "got int 47"
        raise InputTypeError(f"open_modis takes a granule's path, a glob pattern or a list of "
                             f"paths, got {type(path).__name__}; e.g. "
                             "open_modis('MOD11A1.A2020*.h18v04.*.hdf')")
    paths = list(path)
    bad = [p for p in paths if not isinstance(p, (str, bytes, os.PathLike))]
    if bad:
        raise InputTypeError(f"open_modis got {type(bad[0]).__name__} {bad[0]!r:.60} among the "
                             "granules: pass paths (str or pathlib.Path), e.g. "
                             "sorted(Path('folder').glob('MOD11A1.*.hdf'))")
    # a file:// URL (percent-encoded, as Path.as_uri() writes it) is a local granule
    local = [file_uri_path(q) or Path(q) for q in map(os.fsdecode, paths)]
    _refuse_repeats(local, paths)
    return local


def open_modis(
    path: PathLike | Sequence[PathLike],
    variable: str | None = None,
    *,
    qc: str | None = "auto",
    max_modland: int | None = None,
    decode: bool = True,
    chunks: Any = "auto",
) -> xr.DataArray:
    """Open one variable of MODIS HDF4-EOS granules (MOD11A1...) lazily, georeferenced and dated.

    Parameters
    ----------
    path : path, glob pattern or list of paths
        One ``.hdf`` granule, or several (a list, or a pattern such as
        ``"MOD11A1.A2020*.h18v04.*.hdf"``) of the same tile, stacked along ``time`` in date
        order. A path that exists is opened as it is, even with ``[`` ``]`` in it; a
        ``file://`` URL is the local file it names.
    variable : str, optional
        Scientific dataset name, e.g. ``"LST_Day_1km"``, ``"LST_Night_1km"``, ``"Emis_31"``,
        ``"QC_Day"``. Default: ``"LST_Day_1km"``, or, in a granule without it, its only LST
        layer (MOD21A1D's ``LST_1KM``); several or none are refused naming its layers.
    qc : str or None
        QC layer used to mask pixels: ``"auto"`` uses ``QC_Day`` / ``QC_Night`` for the
        ``LST_*`` variables (``QC`` for MOD21A1D/N's ``LST_1KM``: its 16-bit QC, MODLAND in
        bits 0-1 as in MOD11) and nothing for the others (a QC layer itself is never masked);
        a layer name forces it (the QC of the other overpass, QC_Day for a night LST, or a
        scaled field such as Emis_31 is refused); None: no QC masking.
    max_modland : int, optional
        Largest accepted MODLAND QC value (bits 0-1, decoded by :func:`xlstsr.qc.modland`): 0 =
        good quality only, 1 = also "produced, other quality" (default), 2-3 = not produced
        (always gaps: their LST is the fill value). 0 for an LST whose QC layer the granule
        lacks (a download of selected layers) is refused. With ``decode=False`` the QC mask is
        applied only where ``qc`` (other than ``"auto"``) or ``max_modland`` is given: the
        rejected pixels are set to the layer's ``_FillValue`` (0 for MOD11 LST; the result
        stays integer, and :func:`xlstsr.upscale` reads them as gaps), recorded in
        ``attrs['qc']``; without either, ``decode=False`` returns the stored integers as
        they are.
    decode : bool
        For variables with scale metadata or a fill value: apply ``scale_factor`` /
        ``add_offset`` and set ``_FillValue`` and values outside ``valid_range`` to NaN (float32,
        e.g. Kelvin for LST; a ``scale_factor`` above 1, MOD13's 10000, divides, as MODIS
        defines it), recorded as xarray's decoding records it: ``encoding['scale_factor']`` /
        ``['add_offset']`` in its terms (value = stored x scale + offset), the attributes
        dropped with MOD11's per-layer formula (``LST: 'LST data * scale_factor'``), and
        neither the stored ``dtype`` nor ``_FillValue`` kept (``to_netcdf`` writes the floats,
        gaps as NaN, not packed back into the granule's integers). Bit fields (``QC_Day``)
        stay integers. False returns the stored
        integers with their attributes (the pixels an explicit ``qc`` / ``max_modland``
        rejects set to ``_FillValue``, above).
    chunks : "auto", int, tuple or dict
        Dask chunks of each granule (``{"y": 600, "x": 600}``...); ``"auto"`` reads a 1200 x
        1200 granule as one chunk. A dict names ``y``, ``x`` (a geographic granule's too) and,
        for stacked granules, ``time`` (default: one granule a chunk); other names are refused.

    Returns
    -------
    DataArray
        ``(y, x)`` for one granule (its date as a scalar ``time`` coordinate: that of its
        name, else the day its CoreMetadata records for a one-day granule), ``(time, y, x)``
        for several; CRS (MODIS sinusoidal, or EPSG:4326 for a Climate Modelling Grid granule
        such as MOD11C1) and transform written; dask-backed (nothing is read until computed);
        attributes from the file (``units``...) and ``source``, and ``day_night``
        (``"day"`` / ``"night"``) for a layer of one overpass (``LST_Day_1km``, ``QC_Night``,
        ``Day_view_time``; MOD21A1D/N's ``LST_1KM``), which the pairing checks of the
        metrics compare.

    Raises
    ------
    XlstsrError
        A file that is not HDF4, a grid neither MODIS sinusoidal nor geographic, granules of
        different tiles, products (MOD11A1 and MYD11A1), collections of one product (C6
        ``.006.`` and C6.1 ``.061.``) or with the same date, one file listed twice, a granule
        without a date (in its name, or the one day its CoreMetadata records) when several are
        stacked, one whose name's date (``.AYYYYDDD.``) is outside the days its CoreMetadata
        records (``RANGEBEGINNINGDATE`` to ``RANGEENDINGDATE``: a renamed copy), or stacked
        copies of one granule (one product recording the same days: a second download
        ``name (1).hdf``, or one window of several days under two names), named; when
        computed, a damaged granule (named, to download again). A ``chunks`` dict naming
        dims other than ``y``, ``x`` and ``time``.
    VariableNotFoundError
        ``variable`` (or the QC layer) is not in the granule; ``max_modland=0`` for an LST
        layer of a granule without its QC layer.

    Examples
    --------
    >>> from xlstsr.io import open_modis
    >>> lst = open_modis("MOD11A1.A2019305.h14v09.006.hdf")  # doctest: +SKIP
    >>> lst.rio.resolution(), str(lst.time.values)[:10]  # doctest: +SKIP
    ((926.625433055833, -926.625433055833), '2019-11-01')
    >>> cube = open_modis("MOD11A1.A2020*.h18v04.*.hdf", "LST_Night_1km")  # doctest: +SKIP
    >>> qc = open_modis("MOD11A1.A2019305.h14v09.006.hdf", "QC_Day")  # raw uint8 bits  # doctest: +SKIP
    """
    # decode=False returns the stored integers unmasked unless a QC choice is given (the
    # mask asked for was dropped without a word)
    explicit_qc = qc != "auto" or max_modland is not None
    max_modland = 1 if max_modland is None else max_modland
    check_whole("max_modland", max_modland, 0, hint="MODLAND QC 0-3: 0 good quality only, 1 "
                "also other quality, the default")
    if max_modland > 3:
        raise XlstsrError(f"max_modland must be 0 to 3 (MODLAND QC bits 0-1), got {max_modland!r}")
    check_bool("decode", decode)
    if chunks != "auto":
        check_chunks(chunks)
        _check_chunk_dims(chunks)
    if isinstance(path, bytes):  # as open() takes them (iterating the bytes gave integers)
        path = os.fsdecode(path)
    if isinstance(path, (str, os.PathLike)):  # a file:// URL: the local granule it names
        path = file_uri_path(path) or path
    paths = _expand(path)
    if paths is None:
        return _open_one(path, variable, qc, max_modland, decode, chunks, explicit_qc)  # type: ignore[arg-type]
    if not paths:
        raise XlstsrError("open_modis got an empty list of granules")
    log.info("open_modis: %d granules, %s", len(paths), variable)
    recorded: list[tuple[str, str] | None] = []
    arrays = [_open_one(p, variable, qc, max_modland, decode, chunks, explicit_qc, recorded)
              for p in paths]
    if variable is None:  # each granule took its own default layer: one field only (a
        # MOD11A1's LST_Day_1km and a MOD21A1D's LST_1KM, 1-2 K apart, were stacked as one)
        layers: dict[str, list[str]] = {}
        for p, a in zip(paths, arrays):
            layers.setdefault(str(a.name), []).append(p.name)
        if len(layers) > 1:
            said = "; ".join(f"{name!r} in {files[:2]}{' ...' if len(files) > 2 else ''}"
                             for name, files in layers.items())
            raise XlstsrError(
                f"the granules hold different layers opened by default ({said}): different "
                "products (or fields), not steps of one. Open each product separately, or name "
                f"the layer they all hold, e.g. `variable={next(iter(layers))!r}` (`--variable` "
                "on the command line)."
            )
    if any("time" not in a.coords for a in arrays):
        bad = [p.name for p, a in zip(paths, arrays) if "time" not in a.coords]
        raise XlstsrError(
            f"cannot date {bad[:3]}: stacking granules needs MODIS names with .AYYYYDDD. "
            "or a one-day range (RANGEBEGINNINGDATE) in their CoreMetadata "
            "(rename them, or open them one by one and concatenate with your own times)."
        )
    grids = {(a.shape, a.rio.transform(), a.rio.crs.to_string()) for a in arrays}
    if len(grids) > 1:
        tiles = sorted({m.group(0) for p in paths if (m := re.search(r"h\d\dv\d\d", p.name))})
        raise XlstsrError(
            f"the granules lie on {len(grids)} different grids (tiles {tiles}); stack one tile "
            "at a time, or mosaic them first (e.g. rioxarray.merge.merge_arrays)."
        )
    # copies first: a second download of one granule is no "Terra and Aqua" to separate
    _refuse_copies(paths, recorded)
    times = [a.time.values for a in arrays]
    if len(set(times)) < len(times):
        dup = sorted({str(t)[:10] for t in times if times.count(t) > 1})
        names = [p.name for p, t in zip(paths, times) if times.count(t) > 1]
        raise XlstsrError(
            f"several granules share the date(s) {dup}: {names[:4]}"
            f"{' ...' if len(names) > 4 else ''} (Terra and Aqua, or two versions?); "
            "open each product (and version) separately, leaving the others out."
        )
    _check_one_product(paths)
    order = np.argsort(np.asarray(times))
    out = xr.concat([arrays[i] for i in order], dim="time", combine_attrs="drop_conflicts")
    out.attrs["source"] = ", ".join(paths[i].name for i in order)
    if isinstance(chunks, dict) and "time" in chunks:  # one granule a chunk until asked
        out = out.chunk({"time": chunks["time"]})
    return out.rio.write_crs(arrays[0].rio.crs).rio.write_transform(arrays[0].rio.transform())
