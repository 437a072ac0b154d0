"""STAC items -> lazy (time, y, x) cubes, with odc-stac (any CRS) or stackstac (EPSG CRS only).

MODIS sinusoidal has no EPSG code. odc-stac accepts any CRS (``crs=`` as WKT or PROJ string, or
read from the items' ``proj:wkt2`` / ``proj:projjson`` / ``proj:code``), so it is the default.
stackstac 0.5.1 takes an integer EPSG only and reads ``proj:epsg``, which pystac >= 1.12 no
longer writes (it writes ``proj:code``): :func:`open_stac` copies ``proj:code`` = ``EPSG:n`` to
``proj:epsg`` on copies of the items before calling it. Items with ``proj:*`` fields that do
not list the projection extension in ``stac_extensions`` are given it, on copies, for odc-stac
(which reads those fields only through the declared extension).

Values are decoded from the assets' ``raster:bands`` (raster extension; else the v2 / STAC 1.1
fields ``nodata``, ``raster:scale``, ``raster:offset``, ``unit``): ``nodata`` -> NaN, then
``value * scale + offset`` (Planetary Computer's MOD11A1 items: uint16 DN x 0.02 = Kelvin, nodata
0), and ``unit`` becomes the ``units`` attribute, so that the cube goes straight into
:func:`xlstsr.upscale`. Without a ``nodata`` there, the ``nodata=`` passed to odc-stac, else a
local file's own nodata tag, marks the fill; masked without a scale (a QC layer, whose nodata 0
may be its best quality), the fill is kept in ``encoding['_FillValue']``, as
:func:`xlstsr.io.open_cog` keeps it, for :mod:`xlstsr.qc` to judge; ``decode=False`` with odc-stac
keeps every stored value (stackstac always masks the files' nodata, so it is refused there for
such a layer). Time labels are naive UTC (items dated with a UTC
offset are converted). Hrefs can be signed or rewritten by a ``modifier`` (as
``planetary_computer.sign_inplace``) on copies of the items.
"""

from __future__ import annotations

import logging
import math
import os
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..errors import InputNotFoundError, InputTypeError, NoOverlapError, XlstsrError, warn
from ..validate import check_bool, check_number, check_whole, temperature_units
from .modis import _day_night

__all__ = ["BandCoding", "band_coding", "open_stac"]

log = logging.getLogger(__name__)


#: the modules of the optional ``stac`` extra (``pip install 'xlstsr[stac]'``) each use reads
_STAC_MODULES = {None: ("pystac",), "odc": ("pystac", "odc.stac"),
                 "stackstac": ("pystac", "stackstac")}


def _require_stac(engine: str | None = None) -> None:
    """Raise an ImportError naming the ``stac`` extra where a module it installs, which the
    ``engine`` (None: the items alone) reads, is missing: a plain ``pip install xlstsr`` has
    none of them (a bare "No module named 'pystac'" was raised)."""
    import importlib

    for module in _STAC_MODULES.get(engine, _STAC_MODULES[None]):
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise ImportError(
                f"reading STAC items needs {module.replace('.', '-')}"
                f"{f' (engine={engine!r})' if engine else ''}, which is not installed: "
                "`pip install 'xlstsr[stac]'` (pystac, odc-stac and stackstac)"
            ) from err


def _as_items(items: Any) -> list[Any]:
    _require_stac()
    import pystac

    if isinstance(items, pystac.Item):
        return [items]
    if isinstance(items, pystac.ItemCollection):
        return list(items)
    if isinstance(items, dict) and items.get("type") in ("FeatureCollection", "Feature"):
        # a search result or item read with json.load: iterating the dict gave its keys
        if items["type"] == "Feature":
            items = [items]
        else:
            items = items.get("features") or []
    if isinstance(items, (str, bytes, os.PathLike)) or not isinstance(items, Iterable):
        raise InputTypeError(
            f"open_stac takes STAC items (pystac.Item, an ItemCollection or a list of items or "
            f"item dicts), got {type(items).__name__}; for an item file use "
            "`pystac.Item.from_file(path)`, for a catalog `catalog.get_items(recursive=True)`."
        )
    out = []
    for it in items:
        if isinstance(it, pystac.Item):
            out.append(it)
            continue
        try:
            out.append(pystac.Item.from_dict(it))
        except Exception as err:  # pystac's STACTypeError, or AttributeError on a non-dict
            raise InputTypeError(
                f"open_stac got something that is not a STAC item ({type(it).__name__}: "
                f"{str(it)[:80]!r}; {err}); pass pystac.Item objects or STAC item dicts."
            ) from err
    return out


def _epsg_of(crs: Any) -> int | None:
    if crs is None:
        return None
    from pyproj import CRS

    return CRS.from_user_input(crs).to_epsg()


def _with_proj_epsg(item: Any) -> Any:
    """A copy of ``item`` with ``proj:epsg`` set from ``proj:code`` (item and assets), and a
    ``datetime`` null in the item (a span given as ``start_datetime`` / ``end_datetime``) set
    to the start, as odc-stac labels it (:func:`_item_time`): stackstac reads ``datetime``
    only, and labelled such items NaT."""
    item = item.clone()
    if item.datetime is None and item.common_metadata.start_datetime is not None:
        item.datetime = item.common_metadata.start_datetime
    if item.get_self_href():
        # stackstac reads a relative href against the working folder, not the item's (odc-stac
        # resolves it): a self-contained catalogue failed at compute with "No such file"
        item.make_asset_hrefs_absolute()
    for d in [item.properties, *(a.extra_fields for a in item.assets.values())]:
        code = d.get("proj:code")
        if (
            d.get("proj:epsg") is None
            and isinstance(code, str)
            and code.upper().startswith("EPSG:")
        ):
            d["proj:epsg"] = int(code.split(":")[1])
    return item


def _with_proj_ext(item: Any) -> Any:
    """``item``, or a copy of it declaring the projection extension in ``stac_extensions`` when
    it has ``proj:*`` fields (on the item or an asset) without declaring it (a common slip in
    hand-built items): odc-stac reads those fields only through the declared extension, and
    refused the item with "Failed to auto-guess CRS/resolution"."""
    from pystac.extensions.projection import ProjectionExtension

    if any(str(u).startswith("https://stac-extensions.github.io/projection/")
           for u in item.stac_extensions or ()):
        return item
    fields = [item.properties, *(a.extra_fields for a in item.assets.values())]
    if not any(str(k).startswith("proj:") for d in fields for k in d):
        return item
    item = item.clone()
    ProjectionExtension.add_to(item)
    return item


#: unit strings of the raster extension that mean Kelvin


#: the NaN of every NaN nodata (:class:`BandCoding`), so that equal codings compare equal
_NAN = float("nan")


@dataclass(frozen=True)
class BandCoding:
    """How an asset's stored values map to physical ones (``raster:bands`` of the raster extension).

    ``physical = stored * scale + offset``; ``stored == nodata`` is missing.
    """

    nodata: float | None = None
    scale: float = 1.0
    offset: float = 0.0
    unit: str | None = None

    def __post_init__(self) -> None:
        # one NaN object for every NaN nodata: NaN equals no other NaN, so the identical
        # codings of two items ("nodata": "nan") were counted as two and refused as disagreeing
        if self.nodata is not None and math.isnan(self.nodata):
            object.__setattr__(self, "nodata", _NAN)

    @property
    def is_identity(self) -> bool:
        """True when decoding would only mask the nodata value."""
        return self.scale == 1.0 and self.offset == 0.0


#: raster extension v2 / STAC 1.1 names of the coding fields -> BandCoding's (v1 names them
#: scale and offset inside ``raster:bands``)
_V2_CODING = {"nodata": "nodata", "raster:scale": "scale", "raster:offset": "offset",
              "unit": "unit"}
_V2_NAMES = {ours: theirs for theirs, ours in _V2_CODING.items()}


def _v2_fields(item: Any, asset: Any, key: str) -> dict[str, Any]:
    """The coding fields of raster extension v2 (STAC 1.1) for ``asset``, v1 names: those of
    the item's properties, overridden by the asset's, overridden by its one entry of
    ``bands`` (the inheritance odc-stac reads them with). Empty when none is given. Several
    ``bands`` entries with coding fields are refused as several ``raster:bands`` are."""
    found: dict[str, Any] = {}
    bands = asset.extra_fields.get("bands")
    bands = [b for b in bands if isinstance(b, dict)] if isinstance(bands, list) else []
    coded = [b for b in bands if any(k in b for k in _V2_CODING)]
    if len(bands) > 1 and coded:
        raise XlstsrError(
            f"asset {key!r} of item {item.id!r} has {len(bands)} bands; open_stac loads "
            "single-band assets (split the bands, or load them with odc-stac directly)."
        )
    for d in (item.properties, asset.extra_fields, *coded):
        found.update({ours: d[k] for k, ours in _V2_CODING.items() if d.get(k) is not None})
    return found


def _asset_coding(item: Any, key: str) -> BandCoding | None:
    """The coding of asset ``key``: raster extension v1 ``raster:bands``, else the v2 / STAC
    1.1 fields (``nodata``, ``raster:scale``, ``raster:offset``, ``unit`` on the asset, its
    ``bands`` or the item: :func:`_v2_fields`); None when neither gives one."""
    asset = item.assets.get(key)
    if asset is None:
        return None
    bands = asset.extra_fields.get("raster:bands")
    if not bands:
        # STAC 1.1 items: read as DN without units (MOD11A1 DN ~14000 went on as Kelvin)
        v2 = _v2_fields(item, asset, key)
        bands, v1 = ([v2], False) if v2 else (None, False)
    else:
        v1 = True
    if not bands:
        return None
    if not isinstance(bands, list) or not all(isinstance(b, dict) for b in bands):
        raise XlstsrError(
            f"asset {key!r} of item {item.id!r} has raster:bands {bands!r:.80}, not a list of "
            "band objects ([{'nodata': 0, 'scale': 0.02, ...}]): fix the catalog, or pass "
            "decode=False and decode the stored values yourself."
        )
    if len(bands) > 1:
        raise XlstsrError(
            f"asset {key!r} of item {item.id!r} has {len(bands)} raster:bands; open_stac loads "
            "single-band assets (split the bands, or load them with odc-stac directly)."
        )
    b = bands[0]
    vals = {}
    for name, default in (("nodata", None), ("scale", 1.0), ("offset", 0.0)):
        v = b.get(name)
        try:  # the extension allows "nan", "inf", "-inf" as nodata text
            vals[name] = default if v is None else float(v)
        except (TypeError, ValueError):  # was a raw "could not convert string to float"
            raise XlstsrError(
                f"{'raster:bands ' + name if v1 else _V2_NAMES[name]} of asset {key!r} in "
                f"item {item.id!r} is {v!r}, not a "
                "number: fix the catalog (e.g. with a `modifier=` that corrects the item), or "
                "pass decode=False and decode the stored values yourself."
            ) from None
    return BandCoding(nodata=vals["nodata"], scale=vals["scale"], offset=vals["offset"],
                      unit=b.get("unit"))


def band_coding(items: Any, asset: str) -> BandCoding | None:
    """The ``raster:bands`` coding of ``asset`` (else its raster v2 fields: :func:`_v2_fields`),
    the same in every item (else an error).

    None when no item describes it.

    Examples
    --------
    >>> import datetime, pystac
    >>> from xlstsr.io.stac import band_coding
    >>> it = pystac.Item("a", None, None, datetime.datetime(2020, 1, 1), properties={})
    >>> band = {"nodata": 0, "scale": 0.02, "offset": 0.0, "unit": "K", "data_type": "uint16"}
    >>> it.add_asset("lst", pystac.Asset("lst.tif", extra_fields={"raster:bands": [band]}))
    >>> band_coding([it], "lst")
    BandCoding(nodata=0.0, scale=0.02, offset=0.0, unit='K')
    """
    codings = {}
    for it in _as_items(items):
        c = _asset_coding(it, asset)
        if c is not None:
            codings.setdefault(c, it.id)
    if len(codings) > 1:
        found = "; ".join(f"{c} (e.g. item {i!r})" for c, i in codings.items())
        raise XlstsrError(
            f"the items disagree on how asset {asset!r} is stored: {found}. Load the groups of "
            "items with one coding separately (or pass decode=False and decode them yourself)."
        )
    return next(iter(codings), None)


def _native_crs(item: Any) -> Any:
    """The item's CRS from the projection extension (WKT2, PROJJSON or an EPSG code)."""
    for d in [item.properties, *(a.extra_fields for a in item.assets.values())]:
        for key in ("proj:wkt2", "proj:projjson", "proj:code", "proj:epsg"):
            v = d.get(key)
            if v is not None:
                return f"EPSG:{v}" if key == "proj:epsg" else v
    return None


def _common_crs(items: Sequence[Any]) -> Any:
    """The CRS most items share (the first item's among equals), as odc-stac picks its output
    CRS: a bbox was read in the first item's CRS, and one UTM item listed before sinusoidal
    ones made it meet none of them."""
    from collections import Counter

    counts = Counter(c for c in map(_native_crs, items) if c is not None)
    return counts.most_common(1)[0][0] if counts else None


def _crs_label(crs: Any) -> str:
    """A CRS as a user can pass it back: its EPSG code, else its name (MODIS sinusoidal has
    no code), else (an 'unnamed' one) its PROJ string, else the text given."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        c = CRS.from_user_input(crs)
    except (CRSError, TypeError, ValueError):
        return str(crs)[:60]
    code = c.to_epsg()
    if code is not None:
        return f"EPSG:{code}"
    if c.name and c.name.lower() != "unnamed":
        return repr(c.name)
    # MODIS's sinusoidal WKT is 'unnamed': its PROJ string says which projection it is
    with warnings.catch_warnings():  # pyproj's "you will likely lose ... information"
        warnings.simplefilter("ignore", UserWarning)
        return repr(c.to_proj4() or c.to_wkt()[:60])


def _item_area(item: Any) -> xr.DataArray | None:
    """A 2 x 2 stand-in for the item's grid (its bounds, from the first ``proj:transform`` and
    ``proj:shape`` of the item or an asset, in its own CRS) for
    :func:`xlstsr.validate._same_mapping` to sample; None without them."""
    from affine import Affine

    for d in [item.properties, *(a.extra_fields for a in item.assets.values())]:
        t, shape = d.get("proj:transform"), d.get("proj:shape")
        if not t or not shape:
            continue
        try:
            h, w = (int(v) for v in shape[:2])
            xs, ys = Affine(*(float(v) for v in t[:6])) * (
                np.array([0.0, w, 0.0, w]), np.array([0.0, 0.0, h, h]))
        except (TypeError, ValueError):
            continue
        x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
        if not (np.isfinite([x0, x1, y0, y1]).all() and x1 > x0 and y1 > y0):
            continue
        # pixel centres at the quarters: the bounds rioxarray recomputes are the grid's own
        return xr.DataArray(np.zeros((2, 2)), dims=("y", "x"), coords={
            "y": y1 - (y1 - y0) * np.array([0.25, 0.75]),
            "x": x0 + (x1 - x0) * np.array([0.25, 0.75])})
    return None


def _epsg_id(obj: Any) -> int | None:
    """The EPSG code a pyproj CRS or datum carries in its definition (None: none). Not
    ``to_epsg()``, which searches the registry for an unnamed definition (up to 80 ms each)."""
    try:
        d = obj.to_json_dict()
    except Exception:  # a definition pyproj cannot write as PROJJSON: no code known
        return None
    for i in [d.get("id"), *(d.get("ids") or [])]:
        if isinstance(i, dict) and str(i.get("authority", "")).upper() == "EPSG":
            try:
                return int(i["code"])
            except (KeyError, TypeError, ValueError):
                continue
    return None


def _crs_facts(crs: Any) -> tuple[Any, ...]:
    """What tells CRSs apart by definition, None where not known: (EPSG code, geographic,
    projected, ellipsoid (semi-major axis in m, inverse flattening; inf: a sphere), the
    datum's EPSG code, prime meridian in degrees, projection method). A bound CRS (GDAL's
    ``+nadgrids=@null +wktext``) is told by the CRS it binds."""
    base = crs.source_crs if crs.is_bound and crs.source_crs is not None else crs
    code = _epsg_id(crs) or (_epsg_id(base) if base is not crs else None)
    ell = base.ellipsoid
    shape = None
    if ell is not None and ell.semi_major_metre:
        rf = ell.inverse_flattening
        shape = (float(ell.semi_major_metre), float(rf) if rf else math.inf)
    pm = base.prime_meridian
    meridian = (float(pm.longitude) * float(pm.unit_conversion_factor) * 180 / math.pi
                if pm is not None and pm.unit_conversion_factor else None)
    op = base.coordinate_operation
    method = None
    if op is not None:
        method = (op.method_code if str(op.method_code).isdigit()
                  else re.sub(r"[^a-z0-9]", "", op.method_name.lower()) or None)
    datum = _epsg_id(base.datum) if base.datum is not None else None
    return (code, base.is_geographic, base.is_projected, shape, datum, meridian, method)


def _differ_by_definition(a: Any, b: Any) -> bool:
    """Whether two CRSs (pyproj CRSs, or their :func:`_crs_facts`) are told apart by their
    definitions alone: different EPSG codes, datums, ellipsoids, prime meridians or projection
    methods. pyproj moves nothing between WGS 84 and ETRS89 or NAD83 (no grid shift), so the
    mapping test of :func:`_same_crs` takes EPSG:25831 for EPSG:32631: this is what tells
    them apart, and it is cheap (no transformation per pair of CRSs)."""
    fa = a if isinstance(a, tuple) else _crs_facts(a)
    fb = b if isinstance(b, tuple) else _crs_facts(b)
    (ca, ga, pa, ea, da, ma, oa), (cb, gb, pb, eb, db, mb, ob) = fa, fb
    if ca is not None and cb is not None and ca != cb:
        return True
    if (ga and pb) or (pa and gb):
        return True
    if ea is not None and eb is not None and (
            abs(ea[0] - eb[0]) > 1e-3
            # GRS 80 (ETRS89, NAD83) is WGS 84's axis at 1/f 298.257222101, not ...223563;
            # 1e-7 still takes 1/f rounded to 7 decimals as the same
            or (math.isinf(ea[1]) != math.isinf(eb[1]))
            or (not math.isinf(ea[1]) and abs(ea[1] - eb[1]) > 1e-7)):
        return True
    if da is not None and db is not None and da != db:
        return True
    if ma is not None and mb is not None and abs(ma - mb) > 1e-9:
        return True
    return oa is not None and ob is not None and oa != ob


def _same_crs(own: Any, out: Any, item: Any) -> bool:
    """Whether ``item``'s CRS ``own`` and ``out`` (pyproj CRSs) are one CRS: equal definitions,
    or two spellings of the same mapping of the item's ground (within a millimetre, as
    :func:`xlstsr.validate.crs_mismatch` judges them) that their definitions do not tell apart
    (:func:`_differ_by_definition`: EPSG:25831 is not EPSG:32631, though pyproj maps one onto
    the other unchanged): GDAL's MODIS sinusoidal ('+proj=sinu +R=6371007.181 +nadgrids=@null
    +wktext', or the SR-ORG:6842 ESRI WKT) is not ``==`` to the items' WKT, and a cube asked
    for in it lost the files' exact grid."""
    if own == out:
        return True
    if _differ_by_definition(own, out):
        return False
    area = _item_area(item)
    if area is None:
        return False
    from ..validate import _same_mapping

    return _same_mapping(area, own, out)


def _crs_test(out: Any) -> Callable[[Any], bool]:
    """A test of whether an item's CRS is ``out`` (a pyproj CRS; :func:`_same_crs`), judged
    once per spelling of the items' CRS (on the first item in it); items without one fail."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    seen: dict[str, bool] = {}

    def test(item: Any) -> bool:
        own = _native_crs(item)
        if own is None:
            return False
        key = str(own)
        if key not in seen:
            try:
                seen[key] = _same_crs(CRS.from_user_input(own), out, item)
            except (CRSError, TypeError, ValueError):
                seen[key] = False
        return seen[key]

    return test


def _items_spelling(items: Sequence[Any], crs: Any) -> Any:
    """``crs``, or the items' own spelling of it when it is the same mapping under another
    definition (:func:`_same_crs`; the most common such spelling first): the loader then reads
    the items on their own grid, where ``crs`` in GDAL's spelling of MODIS sinusoidal moved
    every label 2e-6 m off the files' pixel centres (an alignment with
    :func:`xlstsr.io.open_cog` of the same file kept no row)."""
    from collections import Counter

    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        out = CRS.from_user_input(crs)
    except (CRSError, TypeError, ValueError):
        return crs  # the loader's own error names it
    first: dict[str, Any] = {}
    for it in items:
        own = _native_crs(it)
        if own is not None:
            first.setdefault(str(own), (own, it))
    counts = Counter(str(c) for c in map(_native_crs, items) if c is not None)
    for key, _ in counts.most_common():
        own, it = first[key]
        try:
            mine = CRS.from_user_input(own)
        except (CRSError, TypeError, ValueError):
            continue
        if mine == out:
            return crs  # the same definition: nothing to replace
        if _same_crs(mine, out, it):
            return own
    return crs


def _crs_counts(items: Sequence[Any]) -> list[tuple[str, int]]:
    """The items' distinct CRSs (one CRS however it is spelled: WKT2, PROJJSON, code, or
    another definition of the same mapping, :func:`_same_crs`) as ``(label, number of
    items)``, most items first; items without one are left out."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    group_of: dict[str, int] = {}  # one verdict per spelling, not per item
    groups: list[list[Any]] = []  # [CRS or its text, label, count, its _crs_facts]
    for it in items:
        own = _native_crs(it)
        if own is None:
            continue
        key = str(own)
        if key not in group_of:
            try:
                c: Any = CRS.from_user_input(own)
            except (CRSError, TypeError, ValueError):
                c = key
            facts = None if isinstance(c, str) else _crs_facts(c)
            for i, g in enumerate(groups):
                if isinstance(c, str) or isinstance(g[0], str):
                    hit = g[0] == c
                else:
                    # the facts first: a transformation per pair of UTM zones took seconds
                    hit = (not _differ_by_definition(facts, g[3])
                           and _same_crs(c, g[0], it))
                if hit:
                    group_of[key] = i
                    break
            else:
                group_of[key] = len(groups)
                groups.append([c, _crs_label(own), 0, facts])
        groups[group_of[key]][2] += 1
    return sorted(((g[1], g[2]) for g in groups), key=lambda g: -g[1])


def _show_crs_counts(counts: Sequence[tuple[str, int]]) -> str:
    return ", ".join(f"{label}: {n} item{'s' if n > 1 else ''}" for label, n in counts)


def _warn_mixed_crs(items: Sequence[Any], kwargs: dict[str, Any]) -> None:
    """Warn when items of several CRSs are loaded without an output grid (``crs=``,
    ``geobox=``, ``like=``): odc-stac puts them on the most common CRS (:func:`_common_crs`,
    which a bbox is read in: kept for that) and reprojects the others onto it, by default with
    nearest resampling, which drops some of their pixels and repeats others."""
    if {"geobox", "like"} & set(kwargs):
        return
    counts = _crs_counts(items)
    if len(counts) < 2:
        return
    rs = kwargs.get("resampling") or "nearest"
    from ..errors import warn

    warn(
        f"the items are in {len(counts)} CRSs ({_show_crs_counts(counts)}) and no crs= is "
        f"given: they are loaded on the most common one, {_crs_label(_common_crs(items))}, and "
        f"the others reprojected onto it with resampling={rs!r}"
        + (" (pixels dropped or repeated)" if rs == "nearest" else "")
        + ". Pass `crs=` (with `resolution=`) and e.g. `resampling='bilinear'` to choose the "
        "output grid, or load the items of each CRS separately (e.g. "
        "`[i for i in items if i.properties.get('proj:code') == ...]`)."
    )


def _require_resolution(crs: Any, native: Any) -> None:
    """Refuse ``crs=`` in other units than the items' own without ``resolution=``: the items'
    pixel size (926.6 m) was taken as 926.6 degrees, one all-NaN pixel per date, silently."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    if native is None:
        return
    try:
        out, own = CRS.from_user_input(crs), CRS.from_user_input(native)
    except CRSError:
        return  # a CRS odc cannot read either: its own error names it
    if out.is_geographic != own.is_geographic:
        unit = "degrees" if out.is_geographic else "metres"
        example = "0.01" if out.is_geographic else "1000"
        raise XlstsrError(
            f"crs={str(crs)[:40]!r} is in {unit} and the items' grid is not: pass the output "
            f"pixel size in {unit} with it, e.g. `resolution={example}` (the items' own pixel "
            "size would be read in the new units)."
        )


def _check_geographic_bbox(bbox: Any, crs: Any) -> None:
    """Refuse a bbox beyond +-180 / +-90 with a lon/lat output CRS: one left in the items'
    metres (it is read in the output CRS) was blamed on the resolution ("59304 x 59304
    degrees")."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    if bbox is None or crs is None or len(bbox) != 4:
        return
    try:
        geographic = CRS.from_user_input(crs).is_geographic
        x0, y0, x1, y1 = (float(v) for v in bbox)
    except (CRSError, TypeError, ValueError):
        return  # judged by the other checks
    if geographic and (max(abs(x0), abs(x1)) > 360 or max(abs(y0), abs(y1)) > 90):
        raise XlstsrError(
            f"bbox {tuple(bbox)} is not in degrees, but the output CRS {str(crs)[:40]!r} is "
            "lon/lat and bbox is read in the output CRS's units: give it as (lon_min, lat_min, "
            "lon_max, lat_max), e.g. transformed with "
            "`pyproj.Transformer.from_crs(items_crs, 'EPSG:4326', always_xy=True)"
            ".transform_bounds(*bbox)`."
        )


def _lonlat_advice(items: Sequence[Any], bbox: Sequence[float], engine: str,
                   crs_given: bool = False) -> str:
    """Advice for a ``bbox`` that looks like longitude/latitude (within +-180 / +-90) given
    with a projected output CRS: how to give an area in degrees (``lon=``/``lat=`` for
    odc-stac, ``bounds_latlon=`` for stackstac), and whether, so read, it meets the items'
    WGS84 footprints. Empty when the bbox cannot be degrees. ``crs_given``: the output CRS is
    the user's ``crs=``, not the items' own (the box is to be put into that one)."""
    x0, y0, x1, y1 = bbox
    if max(abs(x0), abs(x1)) > 180 or max(abs(y0), abs(y1)) > 90:
        return ""
    meets = sum(1 for b in (getattr(it, "bbox", None) for it in items)
                if b and len(b) == 4 and b[0] <= b[2]
                and b[0] < x1 and x0 < b[2] and b[1] < y1 and y0 < b[3])
    how = (f"`bounds_latlon=({x0:g}, {y0:g}, {x1:g}, {y1:g})`" if engine == "stackstac"
           else f"`lon=({x0:g}, {x1:g}), lat=({y0:g}, {y1:g})` (or `geopolygon=`)")
    seen = (f" (so read it meets {meets} of the items)" if meets
            else " (but even so read it meets none of the items)")
    where, name = ("the output CRS", "crs") if crs_given else ("the items' CRS", "items_crs")
    return (f" It looks like longitude/latitude{seen}: to give an area in degrees pass {how} "
            f"instead of bbox=, or put the box into {where} with "
            f"`pyproj.Transformer.from_crs('EPSG:4326', {name}, always_xy=True)"
            ".transform_bounds(*bbox)`.")


def _check_bbox_overlap(items: Sequence[Any], bbox: Sequence[float], crs: Any,
                        engine: str = "odc", crs_given: bool = False) -> None:
    """Refuse a ``bbox`` (in ``crs``) that meets no item's footprint (the items' WGS84 ``bbox``
    put into ``crs``): the load would give a cube of NaN only. Items without a bbox, or a CRS
    that cannot be read, are not judged. A bbox that looks like degrees on a projected CRS
    (the usual slip: a lon/lat box on MODIS sinusoidal items) is told how to give an area in
    degrees (:func:`_lonlat_advice`)."""
    from pyproj import CRS, Transformer
    from pyproj.exceptions import CRSError

    boxes = [it.bbox for it in items if getattr(it, "bbox", None) and len(it.bbox) == 4]
    if crs is None or not boxes:
        return
    try:
        out_crs = CRS.from_user_input(crs)
        to_out = Transformer.from_crs(CRS.from_epsg(4326), out_crs, always_xy=True)
    except CRSError:
        return
    x0, y0, x1, y1 = bbox
    for b in boxes:
        ix0, iy0, ix1, iy1 = to_out.transform_bounds(*b, densify_pts=21)
        if ix0 < x1 and x0 < ix1 and iy0 < y1 and y0 < iy1:
            return
    ix0, iy0, ix1, iy1 = to_out.transform_bounds(
        min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
        max(b[3] for b in boxes), densify_pts=21)
    counts = [] if crs_given else _crs_counts(items)
    several = (f" (the items are in {len(counts)} CRSs: {_show_crs_counts(counts)}; without "
               "`crs=` the output is on the most common one)" if len(counts) > 1 else "")
    raise NoOverlapError(
        f"bbox {tuple(bbox)} meets none of the {len(items)} items: together they cover about "
        f"({ix0:.6g}, {iy0:.6g}, {ix1:.6g}, {iy1:.6g}) in the output CRS, {_crs_label(crs)}"
        f"{several}. bbox is in the output "
        "CRS's units (the items' native CRS unless `crs=` is given: sinusoidal metres for MODIS), "
        "not longitude/latitude." + ("" if out_crs.is_geographic
                                     else _lonlat_advice(items, bbox, engine, crs_given))
    )


def _lonlat_area(kwargs: dict[str, Any]) -> tuple[tuple[float, float, float, float], str] | None:
    """The area a loader keyword gives in longitude/latitude - odc-stac's ``lon=``/``lat=`` or
    ``geopolygon=`` (a GeoJSON dict or shapely geometry in EPSG:4326, or a geometry with its
    own CRS), stackstac's ``bounds_latlon=`` - as ``((west, south, east, north), how it was
    given)``; None when none is given, or it cannot be read (the loader judges it)."""
    try:
        lon, lat = kwargs.get("lon"), kwargs.get("lat")
        if lon is not None and lat is not None:
            x0, x1 = sorted(float(v) for v in lon)  # odc-stac sorts them so
            y0, y1 = sorted(float(v) for v in lat)
            return (x0, y0, x1, y1), f"lon={tuple(lon)}, lat={tuple(lat)}"
        latlon = kwargs.get("bounds_latlon")
        if latlon is not None:
            x0, y0, x1, y1 = (float(v) for v in latlon)
            return (x0, y0, x1, y1), f"bounds_latlon={tuple(latlon)}"
        g = kwargs.get("geopolygon")
        if g is None:
            return None
        from odc.geo.geom import Geometry

        if not isinstance(g, Geometry):  # as odc-stac reads it: EPSG:4326 unless it says
            g = Geometry(getattr(g, "__geo_interface__", g), getattr(g, "crs", None) or
                         "EPSG:4326")
        b = g.to_crs("EPSG:4326").boundingbox
        return (b.left, b.bottom, b.right, b.top), "geopolygon="
    except Exception:  # not readable here: odc-stac's own error names it
        return None


def _check_lonlat_overlap(items: Sequence[Any], kwargs: dict[str, Any]) -> None:
    """Refuse an area given in longitude/latitude (:func:`_lonlat_area`) that meets none of
    the items' WGS84 ``bbox``: the load would give a cube of NaN only, as a ``bbox`` beside
    them does (:func:`_check_bbox_overlap`). Items without a bbox are not judged.

    Longitudes are compared modulo 360: an area across the antimeridian may be given in
    0..360 (``lon=(179.9, 180.5)``) or -180..180, its items' bboxes in the other (odc-stac
    loads both); an area 360 degrees wide or more meets every longitude (only latitude is
    judged)."""
    area = _lonlat_area(kwargs)
    boxes = [it.bbox for it in items if getattr(it, "bbox", None) and len(it.bbox) == 4]
    if area is None or not boxes:
        return
    (x0, y0, x1, y1), given = area
    whole = x1 - x0 >= 360.0
    for b in boxes:
        # an item across the antimeridian has west > east: two spans of longitude
        spans = [(b[0], b[2])] if b[0] <= b[2] else [(b[0], 180.0), (-180.0, b[2])]
        lon_ok = whole or any(w + k < x1 and x0 < e + k for w, e in spans
                              for k in (-360.0, 0.0, 360.0))
        if b[1] < y1 and y0 < b[3] and lon_ok:
            return
    cover = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
             max(b[3] for b in boxes))
    raise NoOverlapError(
        f"{given} (about ({x0:.6g}, {y0:.6g}, {x1:.6g}, {y1:.6g}) in longitude/latitude) meets "
        f"none of the {len(items)} items: together they cover about "
        f"({', '.join(f'{v:.6g}' for v in cover)}) (west, south, east, north). Check the area "
        "(lon= is the east-west range, lat= the north-south one, both in degrees) or the "
        "items' search."
    )


#: odc-stac's refusals of its area arguments (odc.stac.output_geobox): argument errors, not
#: the items' metadata
_ODC_ARGUMENT_ERRORS = ("Need to supply", "Too many arguments", "Can't interpret value as",
                        "No geospatial info on")


#: odc-stac's errors about the items' projection metadata (odc.stac._mdtools, _stac_load):
#: only these are told to add the projection extension
_ODC_PROJECTION_ERRORS = ("No projection extension", "Asset transform", "auto-guess CRS",
                          "without defined footprint", "Need to supply `crs=`",
                          "from the projection extension")


#: the most pixels per time step a ``resolution`` may ask for (a resolution in the wrong units:
#: 0.01 "degrees" in a metric CRS asked for 7e6 x 6e6 pixels and hung the process)
MAX_PIXELS_PER_STEP = 1_000_000_000


def _extent(items: Sequence[Any], bbox: Any, crs: Any,
            kwargs: dict[str, Any] | None = None) -> tuple[float, float] | None:
    """Width and height of the output area in ``crs`` units: the bbox, else the area the
    loader's keywords give in longitude/latitude (``lon=``/``lat=``, ``geopolygon=``,
    ``bounds_latlon=``: :func:`_lonlat_area`), else the items' WGS84 bboxes, put into
    ``crs``; None when they cannot be told. (A 0.1 degree ``lon=``/``lat=`` area at 30 m was
    judged over the items' whole extent and refused as billions of pixels.)"""
    if bbox is not None:
        return float(bbox[2] - bbox[0]), float(bbox[3] - bbox[1])
    from pyproj import CRS, Transformer
    from pyproj.exceptions import CRSError

    area = _lonlat_area(kwargs or {})
    if area is not None:
        box = area[0]
    else:
        boxes = [it.bbox for it in items if getattr(it, "bbox", None) and len(it.bbox) == 4]
        if not boxes:
            return None
        box = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
               max(b[3] for b in boxes))
    if crs is None:
        return None
    try:
        to_out = Transformer.from_crs(CRS.from_epsg(4326), CRS.from_user_input(crs),
                                      always_xy=True)
        x0, y0, x1, y1 = to_out.transform_bounds(*box, densify_pts=21)
    except (CRSError, ValueError):
        return None
    return float(x1 - x0), float(y1 - y0)


def _crs_units(crs: Any) -> str:
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        c = CRS.from_user_input(crs)
    except CRSError:
        return "CRS units"
    if c.is_geographic:
        return "degrees"
    return c.axis_info[0].unit_name + "s" if c.axis_info else "CRS units"


#: the dims a chunks dict may name (odc-stac: time, y/x or latitude/longitude; stackstac: band)
_CHUNK_DIMS = {"time", "y", "x", "latitude", "longitude", "band"}


def _check_options(items: Sequence[Any], bands: list[str] | None, bbox: Any, crs: Any,
                   resolution: Any, dtype: Any, decode: Any, chunks: Any,
                   engine: str = "odc", kwargs: dict[str, Any] | None = None) -> None:
    """Refuse options that would load a wrong cube without a word, or fail deep in the loader:
    an empty asset list, a bbox of non-numbers, a resolution that is not a positive number or
    is in other units than the output CRS (a 1 x 1 cube, or billions of pixels; a bbox that
    looks like longitude/latitude on a projected CRS is told how to give degrees), a non-float
    dtype for decoded values (Kelvin truncated to whole degrees, NaN gaps lost), chunks < 1.
    ``kwargs``: the loader's keywords, whose area in longitude/latitude (``lon=``/``lat=``...)
    the resolution is judged against when there is no bbox."""
    if bands is not None and not bands:
        raise XlstsrError("assets is an empty list: name the assets to load (e.g. "
                          "'LST_Day_1km' or ['red', 'nir']), or pass None for all of them.")
    check_bool("decode", decode)
    if crs is not None:
        import pyproj

        try:
            pyproj.CRS.from_user_input(crs)
        except pyproj.exceptions.CRSError as err:
            raise XlstsrError(
                f"crs={crs!r:.80} is not a CRS ({str(err).split(':')[0]}): pass an EPSG code "
                "('EPSG:32632'), a WKT or PROJ string, or xlstsr.grid.MODIS_SINUSOIDAL."
            ) from None
    if bbox is not None:
        if isinstance(bbox, (str, bytes)) or len(bbox) != 4:
            raise XlstsrError(f"bbox must be (minx, miny, maxx, maxy), got {bbox!r}")
        for v in bbox:
            check_number("each bbox value", v, hint="bbox=(minx, miny, maxx, maxy) in the "
                         "output CRS's units, numbers not text")
    out_crs = crs if crs is not None else (_common_crs(items) if items else None)
    if resolution is not None:
        res = check_number("resolution", resolution, 0, lo_open=True,
                           hint="the output pixel size in the output CRS's units, e.g. 1000 "
                           "for 1 km in metres")
        ext = _extent(items, bbox, out_crs, kwargs)
        units = _crs_units(out_crs) if out_crs is not None else "CRS units"
        if ext is not None and min(ext) > 0:
            w, h = ext
            deg = " (1 km is about 0.009 degrees)" if units == "degrees" else ""
            if res > max(w, h):
                # a lon/lat bbox on a projected CRS (MODIS sinusoidal) is a box of a metre;
                # larger than one side only is a strip (a transect), which loads
                advice = (_lonlat_advice(items, [float(v) for v in bbox], engine,
                                         crs_given=crs is not None)
                          if bbox is not None and out_crs is not None and units != "degrees"
                          and units != "CRS units" else "")
                raise XlstsrError(
                    f"resolution={res:g} is larger than the area loaded ({w:.6g} x {h:.6g} "
                    f"{units}): the cube would be a single pixel. resolution is in the output "
                    f"CRS's units, {units}{deg}." + advice
                )
            n = (w / res) * (h / res)
            if n > MAX_PIXELS_PER_STEP:
                raise XlstsrError(
                    f"resolution={res:g} makes {w / res:.3g} x {h / res:.3g} pixels per time step "
                    f"over the area loaded ({w:.6g} x {h:.6g} {units}): resolution is in the "
                    f"output CRS's units, {units} (e.g. 1000 for 1 km in metres){deg}; or "
                    "load a smaller bbox."
                )
    try:
        dt = np.dtype(dtype)
    except TypeError as err:
        raise XlstsrError(f"dtype {dtype!r} is not a numpy dtype; e.g. dtype='float32'") from err
    if decode and dt.kind == "f" and dt.itemsize < 4:
        raise XlstsrError(
            f"dtype={dtype!r} holds 300 K only to 0.25 K (and sums of it overflow to inf): pass "
            "dtype='float32' (the default) or 'float64'."
        )
    if decode and dt.kind != "f":
        raise XlstsrError(
            f"dtype={dtype!r} cannot hold decoded values: Kelvin would be truncated to whole "
            "degrees (or wrap around in a small integer type) and the NaN gaps lost. Pass a "
            "float dtype (dtype='float32', the default), or decode=False to keep the stored "
            "integers with their scale attributes."
        )
    if chunks is not None:
        if not isinstance(chunks, dict):
            raise XlstsrError(f"chunks must be a dict such as {{'time': 1, 'y': 1024, "
                              f"'x': 1024}}, got {chunks!r}")
        odd = sorted(set(map(str, chunks)) - _CHUNK_DIMS)
        if odd:  # odc-stac ignored them without a word
            raise XlstsrError(
                f"chunks names {odd}, not dims of the cube: use {sorted(_CHUNK_DIMS)} (latitude "
                "/ longitude for a geographic output CRS), e.g. {'time': 1, 'y': 1024, 'x': 1024}."
            )
        for dim, alias in (("y", "latitude"), ("x", "longitude")):
            if dim in chunks and alias in chunks and chunks[dim] != chunks[alias]:
                # one dim (latitude is y, longitude x): which size was meant cannot be told
                raise XlstsrError(
                    f"chunks gives {dim!r} ({chunks[dim]!r}) and {alias!r} ({chunks[alias]!r}), "
                    f"two names of one dim with different sizes: give one of them, e.g. "
                    f"{{'time': 1, 'y': 1024, 'x': 1024}}."
                )
        for k, v in chunks.items():
            if v == -1 or v == "auto":
                continue
            check_whole(f"chunks[{k!r}]", v, 1, hint="pixels (or time steps) per chunk, -1 "
                        "for the whole dimension: e.g. 1024")


#: open_stac's chunks: one time step, 1024 x 1024 pixels
_DEFAULT_CHUNKS = {"time": 1, "y": 1024, "x": 1024}


def _full_chunks(chunks: dict[str, Any] | None) -> dict[str, Any]:
    """``chunks`` with the dims it omits filled from :data:`_DEFAULT_CHUNKS`: a partial dict
    (``{"time": 5}``) replaced the whole default, and the spatial dims it did not name became
    one chunk of the whole grid (memory per task growing with the area). ``latitude`` /
    ``longitude`` (a geographic output CRS's dims) are given as ``y`` / ``x``, whatever the
    output CRS: odc-stac reads them only on a geographic output and ignored them on a
    projected one (the whole grid in one chunk), while ``y`` / ``x`` it reads on any output,
    as stackstac (whose dims are y/x always) reads them; so the size asked for is the size
    loaded, on either engine and any CRS (:func:`_check_options` refuses a dict giving one
    dim two sizes)."""
    out = dict(chunks) if chunks is not None else {}
    out.setdefault("time", _DEFAULT_CHUNKS["time"])
    for dim, alias in (("y", "latitude"), ("x", "longitude")):
        if alias in out:
            out.setdefault(dim, out.pop(alias))
        out.setdefault(dim, _DEFAULT_CHUNKS[dim])
    return out


def _data_assets(item: Any) -> tuple[str, ...]:
    """The keys of an item's raster data assets (``raster:bands``, a ``data`` role or a TIFF
    media type): thumbnails and metadata files differ between items of one product."""
    keys = []
    for k, a in item.assets.items():
        roles = set(a.roles or [])
        media = str(a.media_type or "").lower()
        if roles & {"thumbnail", "overview", "metadata"}:
            continue
        if "raster:bands" in a.extra_fields or "data" in roles or "tiff" in media:
            keys.append(k)
    return tuple(sorted(keys))


def _check_same_assets(items: Sequence[Any]) -> None:
    """Without ``assets=``, every item must have the same data assets: odc-stac failed with "No
    such band" for items of two products (LST and NDVI items in one list), reported as a projection
    problem."""
    groups: dict[tuple[str, ...], str] = {}
    for it in items:
        groups.setdefault(_data_assets(it), it.id)
    if len(groups) > 1:
        found = "; ".join(f"{list(k)} (e.g. item {i!r})" for k, i in groups.items())
        raise XlstsrError(
            f"the items have different assets: {found}. Items of several products (e.g. LST and "
            "NDVI collections) are loaded separately: pass `assets=` with assets every item has, "
            "or select the items of one collection first."
        )


def _nodata(da: xr.DataArray, coding: BandCoding | None, user: bool = False) -> Any:
    """The fill value of a loaded asset: the coding's, else the loader's ``nodata`` attribute
    (odc-stac's, from the ``nodata=`` passed to it): raster:bands with a scale but no nodata
    decoded the fill DN 0 to 0.0 K although the user had passed nodata=0. ``user``: a
    ``nodata=`` was passed to odc-stac, which then fills with it both the pixels no file
    covers and those holding the files' own fill: the loader's attribute wins (the
    catalogue's 0 was masked and 65535 decoded to 1310.7 K)."""
    if user and da.attrs.get("nodata") is not None:
        return da.attrs["nodata"]
    if coding is not None and coding.nodata is not None:
        return coding.nodata
    return da.attrs.get("nodata")


def _stored_dtype(items: Sequence[Any], key: str) -> np.dtype | None:
    """The dtype odc-stac loads asset ``key`` in: the ``data_type`` its metadata gives (raster
    extension v1 ``raster:bands``, v2 ``bands`` or the asset/item fields), None where none
    does (odc-stac then loads floats)."""
    for it in items:
        asset = it.assets.get(key)
        if asset is None:
            continue
        f = asset.extra_fields
        found = [f.get("data_type"), *(b.get("data_type") for b in (f.get("bands") or [])
                                       if isinstance(b, dict)),
                 *(b.get("data_type") for b in (f.get("raster:bands") or [])
                   if isinstance(b, dict)), it.properties.get("data_type")]
        for t in found:
            if t is None:
                continue
            try:
                return np.dtype(t)
            except TypeError:  # 'cint16' and other types numpy lacks: odc-stac judges it
                return None
    return None


def _check_user_nodata(items: Sequence[Any], keys: Sequence[str], nodata: Any,
                       codings: dict[str, BandCoding | None]) -> None:
    """Refuse a ``nodata=`` (passed to odc-stac) that the assets' stored dtype cannot hold:
    odc-stac fills the pixels no file covers with it in that dtype, and NaN on uint16 MODIS
    items was reported as missing projection metadata, -1 as numpy's bare OverflowError."""
    if isinstance(nodata, (bool, np.bool_)) or not isinstance(nodata, (int, float, np.number)):
        raise XlstsrError(
            f"nodata={nodata!r:.40} is not a number: pass the stored value that marks missing "
            "pixels (e.g. nodata=0), or drop nodata= to use the catalogue's nodata (raster:bands "
            "or the raster v2 'nodata' field)."
        )
    for key in keys:
        dt = _stored_dtype(items, key)
        if dt is None or dt.kind not in "iu":
            continue
        info = np.iinfo(dt)
        value = float(nodata)
        if np.isfinite(value) and value.is_integer() and info.min <= value <= info.max:
            continue
        coding = codings.get(key)
        own = (f"decoding masks the catalogue's nodata ({coding.nodata:g}), so the gaps are NaN "
               "already" if coding is not None and coding.nodata is not None
               else "decoding gives NaN gaps where a nodata is known")
        raise XlstsrError(
            f"nodata={nodata!r} cannot be stored in asset {key!r}, whose values are {dt} (whole "
            f"numbers {info.min}..{info.max}): odc-stac fills the pixels no file covers with "
            f"nodata= in the stored type. Drop nodata= ({own}), or pass a whole number in "
            f"{info.min}..{info.max} that is no value of the data."
        )
    for key in keys:
        coding = codings.get(key)
        if coding is None or coding.nodata is None or float(coding.nodata) == float(nodata):
            continue
        # two fills: odc-stac writes the user's where no file covers and where a file's tag
        # says fill, but a file without a tag keeps the catalogue's value, which one mask
        # missed (0 DN decoded to 0.0 K); a CF _FillValue holds one value
        raise XlstsrError(
            f"nodata={nodata!r} differs from the nodata the catalogue declares for asset "
            f"{key!r} ({coding.nodata:g}, its raster coding): the loaded values would hold two fill "
            f"values. Drop nodata= (the catalogue's {coding.nodata:g} is masked already), or "
            f"pass nodata={coding.nodata:g}."
        )


def _decode(da: xr.DataArray, coding: BandCoding | None, dtype: str,
            user_nodata: bool = False) -> xr.DataArray:
    """Stored values -> physical ones (lazily): nodata -> NaN, then scale and offset.
    ``user_nodata``: odc-stac was given ``nodata=`` (:func:`_nodata`).

    Values masked without a scale (a QC or class layer) keep their fill in ``encoding``
    (``_FillValue``), as a masked read of the file (:func:`xlstsr.io.open_cog`, rioxarray
    ``masked=True``) keeps it: the fill may be a value of the layer (a MODIS QC's nodata 0 is
    its best quality), which :mod:`xlstsr.qc` then refuses to guess. Dropped, every QC == 0
    pixel was read as "not produced" and no pixel kept, without a word."""
    nodata = _nodata(da, coding, user_nodata)
    attrs = {k: v for k, v in da.attrs.items() if k not in ("nodata", "_FillValue", "units")}
    out = da.astype(np.float64) if coding is not None and not coding.is_identity else da
    masked = nodata is not None and not (isinstance(nodata, float) and np.isnan(nodata))
    if masked:
        out = out.where(da != nodata)
    if coding is not None and not coding.is_identity:
        out = out * coding.scale + coding.offset
    out = out.astype(dtype)
    unit = coding.unit if coding is not None else da.attrs.get("units")
    if unit:
        attrs["units"] = "K" if temperature_units(unit) == "K" else str(unit)
    out.attrs = attrs
    if masked and (coding is None or coding.is_identity):  # stackstac loads floats already
        out.encoding["_FillValue"] = nodata
    if coding is not None and not coding.is_identity:
        # the scale and offset applied, recorded as xarray's decoding records them (as
        # open_modis does): a tenfold typo in the items (0.002 for MOD11A1's 0.02) is then
        # judged a scale too small, not "degrees Celsius" (followed: 302 K for 292.5 K)
        out.encoding.update(scale_factor=coding.scale, add_offset=coding.offset)
    return out


def _encoded_attrs(da: xr.DataArray, coding: BandCoding | None,
                   user_nodata: bool = False) -> xr.DataArray:
    """Raw stored values with CF attributes saying how to decode them (``user_nodata``: as
    :func:`_decode`)."""
    attrs = {k: v for k, v in da.attrs.items() if k != "nodata"}
    nodata = _nodata(da, coding, user_nodata)
    if nodata is not None:
        attrs["_FillValue"] = nodata
    if coding is not None:
        if not coding.is_identity:
            attrs.update(scale_factor=coding.scale, add_offset=coding.offset)
        if coding.unit:
            attrs["units"] = coding.unit
    out = da.copy(deep=False)
    out.attrs = attrs
    return out


def _cwd_hrefs(items: list[Any], keys: Sequence[str]) -> list[Any]:
    """Items whose relative hrefs, with no location to resolve them against, name files from
    the working folder (an ItemCollection read from a file): copies with those hrefs absolute,
    which both loaders read (before, stackstac read them and odc-stac could not).

    Every asset is judged, not only those loaded (``keys``): odc-stac resolves the href of
    each asset it knows of, and failed on another asset's relative href ("Can not determine
    absolute path") when one asset was asked for. An asset not loaded whose relative href
    cannot be resolved (a ``modifier=`` that rewrote only the loaded asset's href) is left out
    of the copy handed to the loader."""
    out = []
    for it in items:
        rel = [k for k, a in it.assets.items() if not a.get_absolute_href()
               and "://" not in a.href and not os.path.isabs(a.href)]
        if rel:
            it = it.clone()
            for k in rel:
                if os.path.exists(it.assets[k].href):
                    it.assets[k].href = os.path.abspath(it.assets[k].href)
                elif k not in keys:
                    del it.assets[k]
        out.append(it)
    return out


def _file_nodata(items: Sequence[Any], key: str) -> float | None:
    """The nodata tag of the first local file of asset ``key``, which catalogues whose
    raster:bands give a scale but no nodata rely on; None for a remote file (a request per
    call is not cheap), a file without one, or NaN (a float file's NaN is missing already)."""
    found, nodata = _local_nodata(items, key)
    return None if not found or nodata is None or np.isnan(nodata) else float(nodata)


def _local_nodata(items: Sequence[Any], key: str) -> tuple[bool, float | None]:
    """``(True, nodata tag)`` of the first local file of asset ``key`` that opens (the tag may
    be None), ``(False, None)`` when there is none (remote files: a request per call is not
    cheap) or it does not open."""
    import rasterio

    for it in items:
        asset = it.assets.get(key)
        href = None if asset is None else (asset.get_absolute_href() or asset.href)
        if href and "://" not in href and os.path.isabs(href) and os.path.exists(href):
            try:
                with rasterio.open(href) as src:
                    return True, src.nodata
            except rasterio.errors.RasterioIOError:
                return False, None
    return False, None


#: how many local files :func:`_local_float_values` reads at most for pixels holding values
_FLOAT_CHECK_FILES = 8
#: the valid pixels of a file that suffice for a verdict, and the pixels read at most per
#: file to find them (a few ms of a 1200 x 1200 MODIS tile; 4 Mpx of a larger scene)
_FLOAT_CHECK_ENOUGH = 4096
_FLOAT_CHECK_PIXELS = 1 << 22
#: the side of the pieces a large block is read in (:func:`_float_sample`)
_FLOAT_CHECK_SIDE = 512


def _float_sample(src: Any, nodata: float | None) -> np.ndarray:
    """Valid (finite, not ``nodata`` or the file's tag) full-resolution values of band 1 of an
    open float file, read block by block in an order spread over the whole image until
    :data:`_FLOAT_CHECK_ENOUGH` are found or :data:`_FLOAT_CHECK_PIXELS` were read. A fixed
    central window was read before: a MODIS cube whose data sit in scattered windows (the
    project's h18v04 tile) had none there on most dates and got no verdict. Full resolution,
    not an overview: an averaged overview of whole stored numbers is not whole."""
    fills = [f for f in (src.nodata, nodata) if f is not None and np.isfinite(f)]
    from rasterio.windows import Window

    # blocks cut to 512 x 512 pieces: a file of one strip is one block, read whole (929 MB
    # for a 6000 x 6000 float32 scene) before the pixel cap was met
    windows = [Window(w.col_off + c, w.row_off + r, min(_FLOAT_CHECK_SIDE, w.width - c),
                      min(_FLOAT_CHECK_SIDE, w.height - r))
               for _, w in src.block_windows(1)
               for r in range(0, w.height, _FLOAT_CHECK_SIDE)
               for c in range(0, w.width, _FLOAT_CHECK_SIDE)]
    # low-discrepancy order (golden-ratio fractions of the block index): the first blocks
    # read lie far apart, so sparse data are met early whatever the tiling
    order = np.argsort((np.arange(len(windows)) * 0.6180339887498949) % 1.0, kind="stable")
    found: list[np.ndarray] = []
    n_found = n_read = 0
    for i in order:
        v = src.read(1, window=windows[i]).astype(np.float64).ravel()
        n_read += v.size
        v = v[np.isfinite(v)]
        for f in fills:
            v = v[v != f]
        found.append(v)
        n_found += v.size
        if n_found >= _FLOAT_CHECK_ENOUGH or n_read >= _FLOAT_CHECK_PIXELS:
            break
    return np.concatenate(found) if found else np.empty(0)


def _local_float_values(items: Sequence[Any], key: str, coding: BandCoding | None = None
                        ) -> tuple[np.dtype, str, str, np.ndarray] | None:
    """``(dtype, href, item id, values)`` of the first local file of asset ``key`` that opens
    and holds valid pixels (:func:`_float_sample`; ``coding``'s nodata masked too) when it
    stores floats; None when it stores integers, or no local file opens or holds values (a
    remote file is not read, as :func:`_local_nodata`)."""
    import rasterio

    nodata = None if coding is None else coding.nodata
    read = 0
    for it in items:
        asset = it.assets.get(key)
        href = None if asset is None else (asset.get_absolute_href() or asset.href)
        if not (href and "://" not in href and os.path.isabs(href) and os.path.exists(href)):
            continue
        if read == _FLOAT_CHECK_FILES:  # gaps only so far (sea, cloud): no verdict
            return None
        read += 1
        try:
            with rasterio.open(href) as src:
                dtype = np.dtype(src.dtypes[0])
                if dtype.kind != "f":
                    return None
                v = _float_sample(src, nodata)
        except rasterio.errors.RasterioIOError:
            continue  # a damaged or unreadable file: the next one tells
        if v.size:
            return dtype, href, it.id, v
        # a file of gaps (cloud, sea) tells nothing: the next one does
    return None


def _looks_decoded(v: np.ndarray, declared: np.dtype, coding: BandCoding) -> bool:
    """Whether the valid values ``v`` of a float file declared as ``declared`` integers with
    ``coding`` are decoded (physical) values rather than stored numbers kept as floats.

    Stored numbers are accepted, whole or not: a float file of resampled digital numbers
    (``gdalwarp -r bilinear -ot Float32``: 14975.5) under uint16 + scale 0.02 is what the
    item says, and odc-stac casts and scales it within 0.01 K; refusing it advised dropping
    the scale, which gave ~15000 "K". So, in turn:

    - values mostly outside the physical range the declared type can code (uint16 x 0.02:
      0-1310.7) cannot be decoded values: stored numbers;
    - a temperature (the coding's unit in K or degC): decoded when the values are plausible
      temperatures (:data:`~xlstsr.validate.PHYSICAL_RANGE_K`) and scaled they are not;
      stored when scaled they are;
    - otherwise (no unit, other units, or neither plausible): decoded when not whole numbers,
      the only sign left.
    """
    from ..validate import PHYSICAL_RANGE_K

    info = np.iinfo(declared)
    ends = sorted((info.min * coding.scale + coding.offset, info.max * coding.scale + coding.offset))
    med = float(np.median(v))
    if not ends[0] <= med <= ends[1]:
        return False
    kind = temperature_units(coding.unit)
    if kind is not None:
        shift = 0.0 if kind == "K" else -273.15
        lo, hi = PHYSICAL_RANGE_K[0] + shift, PHYSICAL_RANGE_K[1] + shift
        scaled = med * coding.scale + coding.offset
        # one reading plausible tells; both (an offset coding: Landsat's decoded 300 K scaled
        # is 150.03 K; degC x 0.01: 25 degC scaled is 0.25 degC) do not: judged as below
        raw_ok, scaled_ok = lo <= med <= hi, lo <= scaled <= hi
        if raw_ok != scaled_ok:
            return raw_ok
    return bool(np.any(v != np.round(v)))


def _check_float_files_coded(items: Sequence[Any], codings: dict[str, BandCoding | None]
                             ) -> None:
    """Refuse an asset whose (local) file stores decoded floats while the catalogue declares
    an integer ``data_type`` with a scale or offset: the file holds physical values already
    (a re-exported COG whose item kept the source's raster:bands), judged by
    :func:`_looks_decoded`. Loaded in the declared integer type and scaled, a float32 Kelvin
    COG came back at ~6 K; the range refusal then advised ``units='degC'``, which gave a
    plausible but wrong ~279 K. Stored numbers in a float file (whole, or resampled) are
    decoded as declared."""
    for key, coding in codings.items():
        if coding is None or coding.is_identity:
            continue
        declared = _stored_dtype(items, key)
        if declared is None or declared.kind not in "iu":
            continue
        found = _local_float_values(items, key, coding)
        if found is None:
            continue
        dtype, href, item_id, v = found
        if not _looks_decoded(v, declared, coding):
            continue
        raise XlstsrError(
            f"asset {key!r} of item {item_id!r} is a {dtype} file of decoded values "
            f"({os.path.basename(href)}: median {float(np.median(v)):.6g}"
            f"{' ' + coding.unit if coding.unit else ''}), but its item declares data_type "
            f"{declared} with scale {coding.scale:g} / offset {coding.offset:g} (raster:bands "
            "or the raster v2 fields): a re-exported COG whose item kept its source's "
            f"raster:bands? Its values would be cast to {declared} and scaled a second time. "
            "Correct the items' raster:bands (data_type float32, no scale or offset), e.g. "
            f"with a `modifier=` that does so on each item's asset {key!r}, or open the files "
            "with xlstsr.io.open_cog."
        )


def _check_stackstac_stored(items: Sequence[Any], codings: dict[str, BandCoding | None]
                            ) -> None:
    """Refuse ``decode=False`` with ``engine='stackstac'`` for an asset without a scale whose
    files record a nodata (a local file's tag; for a remote one, raster:bands' ``nodata``): the
    stored values cannot come back. stackstac's reader always reads masked and puts NaN where
    the file's nodata is, whatever open_stac asks, and an asset without a scale (a QC or class
    layer) may use its nodata as a value: a MODIS QC's nodata 0 is its best quality, which
    came back as NaN, and xlstsr.qc refused the NaN advising decode=False, the call made. A
    scaled asset's nodata is a fill, whose NaN :func:`xlstsr.upscale` reads as one."""
    for key, coding in codings.items():
        if coding is not None and not coding.is_identity:
            continue
        # a local file says whether it masks (stackstac reads its tag only); else raster:bands
        found, local = _local_nodata(items, key)
        nodata = local if found else (coding.nodata if coding is not None else None)
        if nodata is None or (isinstance(nodata, float) and np.isnan(nodata)):
            continue
        nodata = int(nodata) if float(nodata).is_integer() else float(nodata)
        raise XlstsrError(
            f"open_stac(..., engine='stackstac', decode=False) cannot keep the stored values "
            f"of asset {key!r}: stackstac always reads masked, so each pixel holding the "
            f"files' nodata ({nodata!r}) comes back as NaN, and an asset without a scale (a QC "
            f"or class layer) may use it as a value (a MODIS QC's nodata 0 is the best "
            f"quality). Load it with engine='odc': `open_stac(items, {key!r}, engine='odc', "
            "decode=False)` keeps every stored value; or, if the nodata is no value of the "
            "layer, decode=True (NaN there, the nodata kept in encoding['_FillValue'])."
        )


def _given_scaling(item: Any, key: str) -> set[str]:
    """Which of ``scale`` / ``offset`` the item gives for asset ``key`` (in raster:bands, else
    in the raster v2 fields, as :func:`_asset_coding` reads them)."""
    asset = item.assets.get(key)
    if asset is None:
        return set()
    bands = asset.extra_fields.get("raster:bands")
    if bands:
        band = bands[0] if isinstance(bands, list) and isinstance(bands[0], dict) else {}
        return {k for k in ("scale", "offset") if band.get(k) is not None}
    return {k for k in ("scale", "offset") if k in _v2_fields(item, asset, key)}


def _local_file(href: str | None) -> str | None:
    """The path of an existing local file that ``href`` names (an absolute path, or a
    ``file://`` URL: such hrefs are local files the loaders read; taken for remote ones, a
    file's own scale was not read), else None (remote or relative). A URL's path is taken as
    written (as odc-stac opens it), else percent-decoded (``a%20b`` for ``a b``)."""
    if not href:
        return None
    paths = [href]
    if href.lower().startswith("file://"):
        from urllib.parse import unquote, urlsplit

        parts = urlsplit(href)
        if parts.netloc not in ("", "localhost"):
            return None  # a file on another host
        paths = [parts.path, unquote(parts.path)]
    return next((p for p in paths if "://" not in p and os.path.isabs(p) and os.path.isfile(p)),
                None)


def _file_scalings(items: Sequence[Any], key: str
                   ) -> dict[Any, tuple[float, float, str | None, str]] | None:
    """The GDAL scale, offset and unit of band 1 of asset ``key``'s files, from the header of
    the first local file that opens in each collection of ``items`` (no pixel is read), with
    that file's path; None when some collection has none (remote files: a request per call
    is not cheap)."""
    import rasterio

    found: dict[Any, tuple[float, float, str | None, str]] = {}
    missing = set()
    for it in items:
        coll = getattr(it, "collection_id", None)
        if coll in found:
            continue
        asset = it.assets.get(key)
        href = None if asset is None else _local_file(asset.get_absolute_href() or asset.href)
        if href is None:
            missing.add(coll)
            continue
        try:
            with rasterio.open(href) as src:
                unit = (src.units or (None,))[0] or None
                found[coll] = (float(src.scales[0]), float(src.offsets[0]), unit, href)
        except rasterio.errors.RasterioIOError:
            missing.add(coll)
    return None if missing - set(found) else found


def _plausible_reading(href: str, nodata: float | None,
                       readings: dict[str, tuple[float, float, str | None]]
                       ) -> tuple[str, dict[str, tuple[float, str | None]], bool] | None:
    """The one of ``readings`` (name -> (scale, offset, unit)) that puts the median of a
    sample of the file's valid stored values (:func:`_float_sample`) within
    :data:`~xlstsr.validate.PHYSICAL_RANGE_K` (each reading in its own unit, Kelvin or
    Celsius), with each reading's median and unit, and whether it was the only one; where
    several do and give the same temperature (within 0.05 K: degC x 0.01 with offset 0 and
    the same numbers as K with offset 273.15), the first of them, not alone. None where no
    reading does, several disagree, or the file holds no valid value."""
    from ..validate import PHYSICAL_RANGE_K

    medians = _reading_medians(href, nodata, readings)
    if medians is None:
        return None
    kelvin = {n: m + (273.15 if temperature_units(u) == "C" else 0.0)
              for n, (m, u) in medians.items()}
    ok = [n for n, k in kelvin.items() if PHYSICAL_RANGE_K[0] <= k <= PHYSICAL_RANGE_K[1]]
    if len(ok) == 1:
        return ok[0], medians, True
    if ok and max(kelvin[n] for n in ok) - min(kelvin[n] for n in ok) <= 0.05:
        return ok[0], medians, False
    return None


def _reading_medians(href: str, nodata: float | None,
                     readings: dict[str, tuple[float, float, str | None]]
                     ) -> dict[str, tuple[float, str | None]] | None:
    """Each of ``readings``' (name -> (scale, offset, unit)) median of a sample of the file's
    valid stored values (:func:`_float_sample`), with its unit; None where the file holds no
    valid value."""
    import rasterio

    with rasterio.open(href) as src:
        v = _float_sample(src, nodata)
    if not v.size:
        return None
    med = float(np.median(v))
    return {n: (med * sc + off, u) for n, (sc, off, u) in readings.items()}


#: the first item of the constant tuple an advised modifier's list (:func:`_fix_advice`) ends with,
#: the user's modifier as written after it: a second refusal tells its own earlier advice
_ADVICE_MARK = "xlstsr advice"


def _advised_parts(items: Sequence[Any], modifier: Callable[[Any], Any] | None
                   ) -> tuple[str | None, dict[str, dict[str, Any]]] | None:
    """Where ``modifier`` is an earlier advice run as written (its code's constants hold
    ``(_ADVICE_MARK, user)``): the user's modifier as that advice wrote it, and the coding
    fields (BandCoding names) the ``items``, which it has modified, now hold for each asset
    it names, to be set again; else None. A second refusal composed the first advice as the
    user's ``your_modifier(it)``, a NameError."""
    code = getattr(modifier, "__code__", None)
    consts = () if code is None else code.co_consts
    mark = next((c for c in consts if isinstance(c, tuple) and len(c) == 2
                 and c[0] == _ADVICE_MARK), None)
    if mark is None:
        return None
    kept: dict[str, dict[str, Any]] = {}
    for key in dict.fromkeys(c for c in consts if isinstance(c, str)):
        it = next((i for i in items if key in i.assets), None)
        if it is None:
            continue
        path, names = _coding_path(it, key)
        where = it.assets[key].extra_fields
        for p in path:
            where = where[p]
        kept[key] = {f: where[n] for f, n in names.items() if where.get(n) is not None}
    return mark[1], kept


def _modifier_code(modifier: Callable[[Any], Any] | None) -> str | None:
    """``modifier`` as code that names it where the user calls open_stac: an importable
    function by its module (``__import__('planetary_computer.sas',
    fromlist=['_']).sign_inplace``, which runs whatever the user imported: the bare
    ``sign_inplace`` was a NameError after ``import planetary_computer``), a script's or a
    local function by its name; None for a lambda, a partial or another callable, which
    has no name to write."""
    if modifier is None:
        return "None"
    import importlib
    import inspect

    mod = getattr(modifier, "__module__", None)
    qual = getattr(modifier, "__qualname__", "") or ""
    name = getattr(modifier, "__name__", "") or ""
    if mod and mod != "__main__" and qual and all(q.isidentifier() for q in qual.split(".")):
        try:
            obj: Any = importlib.import_module(mod)
            for q in qual.split("."):
                obj = getattr(obj, q)
        except (ImportError, AttributeError):
            obj = None
        if obj is modifier:
            return f"__import__({mod!r}, fromlist=['_']).{qual}"
    # (a bound method, signer.sign_it, was written as the bare sign_it: a NameError, or
    # another function of that name called)
    if (name.isidentifier() and name != "<lambda>" and not isinstance(modifier, type)
            and not inspect.ismethod(modifier)):
        return name  # a script's function, or one local to where open_stac is called
    return None


def _coding_path(item: Any, key: str) -> tuple[tuple[Any, ...], dict[str, str]]:
    """Where in asset ``key``'s extra_fields the reader takes its coding from, and the
    field names there: raster:bands[0] (v1), else the asset's one ``bands`` entry carrying
    coding fields (it overrides the asset's own: an advice that set the asset's looped,
    :func:`_v2_fields`), else the asset."""
    asset = item.assets[key]
    if asset.extra_fields.get("raster:bands"):
        return ("raster:bands", 0), {f: f for f in ("nodata", "scale", "offset", "unit")}
    bands = asset.extra_fields.get("bands")
    coded = isinstance(bands, list) and len(bands) == 1 and isinstance(bands[0], dict) and any(
        k in bands[0] for k in _V2_CODING)
    return (("bands", 0) if coded else ()), dict(_V2_NAMES)


def _fix_advice(items: Sequence[Any], fixes: dict[str, dict[str, float]],
                modifier: Callable[[Any], Any] | None) -> str:
    """A ``modifier=`` (as code that runs as written) that sets ``fixes`` (asset -> fields,
    BandCoding names) on every item where the reader reads them (:func:`_coding_path`),
    after the modifier the user passed (sign_inplace signs the hrefs), and with the fields
    an earlier advice passed as ``modifier`` set (:func:`_advised_parts`): an advice per
    asset, each replacing the other's and the user's modifier, looped for ever. The user's
    modifier is written by name (:func:`_modifier_code`); a lambda or partial as
    ``your_modifier``, said. One line: the list runs each change in turn, ``and None``
    returns None as a modifier must; the list's last item, a tuple, marks the advice."""
    earlier = _advised_parts(items, modifier)
    user, changes = earlier if earlier is not None else (_modifier_code(modifier), {})
    for key, fields in fixes.items():
        changes[key] = {**changes.get(key, {}), **fields}
    calls = ["your_modifier(it)" if user is None else
             "None" if user == "None" else f"{user}(it)"]
    for key, fields in changes.items():
        it = next(i for i in items if key in i.assets)
        path, names = _coding_path(it, key)
        where = "".join(f"[{p!r}]" for p in path)
        vals = (", ".join(f"{f}={v!r}" for f, v in fields.items()) if path[:1] == (
            "raster:bands",) else "{" + ", ".join(f"{names[f]!r}: {v!r}"
                                                  for f, v in fields.items()) + "}")
        calls.append(f"it.assets[{key!r}].extra_fields{where}.update({vals}) if {key!r} in "
                     "it.assets else None")
    calls.append(repr((_ADVICE_MARK, user)))  # a constant the optimiser keeps in a list
    text = f"`modifier=lambda it: [{', '.join(calls)}] and None`"
    if user is None:
        text += (" (put the modifier you pass, a lambda or a partial with no name to write "
                 "here, in place of `your_modifier`)")
    return text


def _plausible_k(median: float, unit: str | None) -> bool:
    """Whether ``median`` in ``unit`` (Kelvin where no temperature unit) is within
    :data:`~xlstsr.validate.PHYSICAL_RANGE_K`."""
    from ..validate import PHYSICAL_RANGE_K

    k = median + (273.15 if temperature_units(unit) == "C" else 0.0)
    return PHYSICAL_RANGE_K[0] <= k <= PHYSICAL_RANGE_K[1]


def _items_over_gdal_zero(href: str, nodata: float | None,
                          readings: dict[str, tuple[float, float, str | None]],
                          unit: str | None) -> bool:
    """Whether the items' reading stands over a header whose offset 0 (GDAL's default beside
    any scale) is all that contradicts it: where it is a plausible temperature (Landsat ST
    0.00341802 / 149: a hot scene reads 158 K by the header, 'plausible' too), or, for an
    asset with no unit anywhere, where no reading is one and the items' looks like a
    reflectance or index (-1 to 2: S2 0.0001 / -0.1). A unitless asset whose header alone
    reads a temperature is not the items' (MOD11A1 items 0.02 / +273.15 read 578 K)."""
    if temperature_units(unit) is not None:
        return _plausible_reading(href, nodata, {"items": readings["items"]}) is not None
    medians = _reading_medians(href, nodata, readings)
    if medians is None:  # no valid value to judge by: as the catalogue declares
        return True
    if _plausible_k(*medians["items"]):
        return True
    return not any(_plausible_k(*m) for m in medians.values()) and (
        -1.0 <= medians["items"][0] <= 2.0)


def _items_reading(readings: dict[str, tuple[float, float, str | None]],
                   medians: dict[str, tuple[float, str | None]] | None
                   ) -> tuple[float, float, str | None]:
    """The items' reading a refused header is rewritten to: their fields over the header's,
    or theirs alone where only that one is a plausible temperature (a header contradicted
    is no source for the fields the items leave out: items' offset -273.15 alone over a
    float Kelvin file's 0.02 / 0 read -267 degC merged, 17 degC alone)."""
    if ("items alone" in readings and medians and _plausible_k(*medians["items alone"])
            and not _plausible_k(*medians["items"])):
        return readings["items alone"]
    return readings["items"]


def _header_rewrite(items: Sequence[Any], key: str, coll: Any,
                    reading: tuple[float, float, str | None], scaling: bool,
                    unit_clash: bool) -> str:
    """A shell command that writes ``reading`` (scale, offset, unit) into the header of
    every local file of asset ``key`` in collection ``coll`` of ``items`` with rasterio
    (xlstsr's own; GDAL's gdal_edit.py is not installed with it), paths shell-quoted: its
    scale and offset where they are contradicted (``scaling``), its unit on a unit clash
    (``set_band_unit``: a scale cannot change a unit); GDAL's ``gdal_edit.py`` beside it for
    a scaling alone."""
    import json
    import shlex

    paths = list(dict.fromkeys(
        p for it in items if getattr(it, "collection_id", None) == coll and key in it.assets
        for p in [_local_file(it.assets[key].get_absolute_href() or it.assets[key].href)]
        if p is not None))
    sc, off, unit = reading
    sets = ([f"f.scales = ({sc!r},); f.offsets = ({off!r},)"] if scaling else []) + (
        [f"f.set_band_unit(1, {json.dumps(unit)})"] if unit_clash and unit else [])
    # a Cloud Optimized GeoTIFF (the shared MODIS files) is updated only with this option:
    # GDAL refused the plain "r+" (CPLE_AppDefinedError) and the loop failed on every file
    code = ('import sys, rasterio; f = rasterio.open(sys.argv[1], "r+", '
            'IGNORE_COG_LAYOUT_BREAK="YES"); ' + "; ".join(sets) + "; f.close()")
    text = (f"`for p in {' '.join(shlex.quote(p) for p in paths)}; do python -c "
            f"{shlex.quote(code)} \"$p\"; done` ({len(paths)} file(s)")
    if scaling and not unit_clash and paths:
        text += (f"; or with GDAL, `gdal_edit.py -scale {sc!r} -offset {off!r} "
                 f"{shlex.quote(paths[0])}` for each")
    return text + ")"


def _with_file_scaling(items: Sequence[Any], codings: dict[str, BandCoding | None],
                       modifier: Callable[[Any], Any] | None = None
                       ) -> dict[str, BandCoding | None]:
    """The codings with the scale / offset the items do not give taken from the asset files'
    own GDAL metadata (:func:`_file_scalings`), as a masked and scaled read of a file
    (rioxarray ``mask_and_scale=True``, :func:`xlstsr.io.open_cog`) decodes it; the file's
    unit where the items give none. raster:bands with a unit "K" and no scale, over files
    declaring scale 0.02, loaded MOD11A1 digital numbers (13,520-13,900) as Kelvin.

    Refused where the files cannot be read (remote) and the items label an asset stored as
    integers a temperature without a scale: digital numbers would be labelled Kelvin. Refused
    too where two collections' files are read with different scalings (one coding serves an
    asset). A header declares its scale and offset together (MOD11A1's 0.02 with offset 0);
    only scale 1 / offset 0 on both is GDAL's "none", under which the items' fields stand
    (Landsat's 0.00341802 / 149: its files keep theirs in the MTL). Fields the items leave
    out are the header's (items' offset 149 beside a header's scale 0.00341802: 274 K).
    Where a header's field or its temperature unit contradicts the items' (items' scale 1.0
    over MOD11A1 files of 0.02 labelled digital numbers 13,711 K; items' offset 273.15 over
    0.02 / 0 read 579 K; items' degC over a header's 0.01 / 273.15 K labelled Kelvin values
    degC), the reading whose sample median is a plausible temperature in its own unit
    (:func:`_plausible_reading`: the items' over the header's, the header's whole with its
    unit, or the items' fields alone) is taken, with its unit, and with a warning naming
    both, for each collection: none where the readings give the same temperature. A header's
    offset 0 beside the items' own scale is GDAL's default (it writes 0 beside any scale), so
    the items' offset over it is read silently where the items' reading is plausible
    (Landsat ST's 0.00341802 / 149: a hot scene reads 158 K by the header, plausible too) or,
    for an asset with no unit anywhere (judged in Kelvin), where no reading is a plausible
    temperature and the items' looks like a reflectance (0.0001 / -0.1:
    :func:`_items_over_gdal_zero`); the header's only where it is the only plausible one
    (warned: unitless MOD11A1 items 0.02 / +273.15 read 578 K). Temperature units are
    compared whatever the header's scaling (float Kelvin tagged 'K' under the items' degC).
    Refused where none is plausible, several disagree, or the asset is no temperature, with
    each reading's sample median. Every asset refused is named at once, with one modifier that
    fixes them all and calls ``modifier`` (the user's) first (:func:`_fix_advice`), and a
    command that writes the items' reading into the header of each of the collection's files
    (:func:`_header_rewrite`). A file's unit is kept where the items give none (the shared
    MOD11A1 COGs' 'K'); collections read with one scaling share a unit where one's files give
    none."""
    out = dict(codings)
    remote: list[tuple[str, Any, str | None, np.dtype]] = []
    clash: list[str] = []
    fixes: dict[str, dict[str, float]] = {}
    for key, coding in codings.items():
        # what any item gives (band_coding has checked that the items agree)
        given = set().union(*(_given_scaling(it, key) for it in items))
        # one header per collection (no pixel is read): the shared catalog's items give
        # both, and their files' headers agree with them
        files = _file_scalings(items, key)
        it = next((i for i in items if key in i.assets), None)
        if files is None:
            unit = None if coding is None else coding.unit
            declared = _stored_dtype(items, key)
            if ("scale" in given or temperature_units(unit) is None or declared is None
                    or declared.kind not in "iu"):
                continue
            remote.append((key, it, unit, declared))
            fixes[key] = {"scale": 0.02, "offset": 0.0}
            continue
        base = coding if coding is not None else BandCoding()
        ours = {f: getattr(base, f) for f in ("scale", "offset") if f in given}
        # each collection's reading: the items' fields over its header's; a header's scale 1
        # / offset 0 is GDAL's "none" and no word (items' offset 149 beside a header's scale
        # 0.00341802 merge to Landsat's 274 K: they were refused as contradicting)
        read: dict[Any, tuple[float, float, str | None, str, str]] = {}
        said: list[str] = []
        for c, (sc, off, file_unit, h) in files.items():
            # a header declares its scale and offset together (MOD11A1's 0.02 with offset 0
            # beside the items' extra 273.15: read 579 K unchecked); only GDAL's scale 1 /
            # offset 0 on both is its "none" and no word (Landsat's header, in its MTL: the
            # items' 0.00341802 / 149 merge)
            header = {} if (sc, off) == (1.0, 0.0) else {"scale": sc, "offset": off}
            merged = {"scale": 1.0, "offset": 0.0, **header, **ours}
            unit = base.unit or file_unit
            # a unit comes with the scaling it is given with: a header's offset 273.15 in K
            # under the items' scale and degC labelled Kelvin values degC
            # (a header of no scaling too: float Kelvin tagged 'K' under the items' degC was
            # labelled 305 degC)
            kinds = {temperature_units(base.unit), temperature_units(file_unit)}
            unit_clash = None not in kinds and len(kinds) == 2
            contra = [f for f in ("scale", "offset") if f in header and f in ours
                      and not math.isclose(ours[f], header[f], rel_tol=1e-6, abs_tol=1e-9)]
            if not contra and not unit_clash:
                read[c] = (merged["scale"], merged["offset"], unit, h, "")
                continue
            readings = {"items": (merged["scale"], merged["offset"], unit),
                        "header": (sc, off, file_unit or base.unit)}
            # a header contradicted is no source for the fields the items leave out either
            # (items' scale 0.02 alone over a header 1 / 273.15: 579 K merged)
            alone = (ours.get("scale", 1.0), ours.get("offset", 0.0), unit)
            if alone != readings["items"]:
                readings["items alone"] = alone
            coll = "" if c is None else f" (collection {c!r})"
            hdr = {"scale": sc, "offset": off}  # a header of no scaling says 1 / 0 with its unit
            shown = contra if not unit_clash else ["scale", "offset"]
            both = (f"asset {key!r}: the items give "
                    + ", ".join([f"{f} {ours[f]:g}" for f in shown if f in ours]
                                + ([f"unit {base.unit!r}"] if unit_clash else []))
                    + f", its file {os.path.basename(h)}'s header{coll} "
                    + ", ".join([f"{f} {hdr[f]:g}" for f in shown]
                                + ([f"unit {file_unit!r}"] if unit_clash else [])))
            # GDAL writes offset 0 beside any scale, so a header's 0 beside the items' own
            # scale is weak evidence: the items' reading stands where it is plausible (Landsat
            # ST 0.00341802 / 149 over 0.00341802 / 0: a 307 K scene reads 158 K by the
            # header, 'plausible' too, and was refused), or, for an asset no temperature
            # (reflectance 0.0001 / -0.1 over 0.0001 / 0), always, as the catalogue declares
            gdal_zero = contra == ["offset"] and off == 0.0 and not unit_clash
            if gdal_zero and _items_over_gdal_zero(h, base.nodata, readings, unit):
                read[c] = (merged["scale"], merged["offset"], unit, h, "")
                continue
            # an asset with no unit anywhere is judged as Kelvin where its offset meets a
            # header's 0 (MOD11A1 items 0.02 / +273.15 over 0.02 / 0 were read 578 K silently)
            judged = temperature_units(unit) is not None or gdal_zero
            pick = _plausible_reading(h, base.nodata, readings) if judged else None
            if pick is None:
                medians = _reading_medians(h, base.nodata, readings) if judged else None
                if medians:  # what each reading gives, to judge by (none or both plausible)
                    both += (" (a sample's median " + ", ".join(
                        f"{m:.6g} {u} by the {n}" for n, (m, u) in medians.items()) + ")")
                both += "; if the items are right: " + _header_rewrite(
                    items, key, c, _items_reading(readings, medians), bool(contra),
                    unit_clash)
                clash.append(both)
                fixes[key] = {f: hdr[f] for f in shown}  # the contradicted fields only
                if unit_clash:
                    fixes[key]["unit"] = file_unit
                read.clear()
                break
            which, medians, only = pick
            r = readings[which]
            read[c] = (r[0], r[1], r[2], h,
                       "its header's over the items', " if which == "header" else "")
            # the same temperature both ways: nothing to tell
            if not only:
                continue
            says = {"header": "header says", "items": "items say",
                    "items alone": "items say, none of the header's fields"}
            said.append(
                f"{both}: read as the {says[which]}, the only reading in a plausible "
                f"temperature (a sample's median "
                + ", ".join(f"{m:.6g} {u} by the {n}" for n, (m, u) in medians.items())
                + "); fix the other one to silence this (the items with a `modifier=`, or "
                "each file's header with rasterio: `f = rasterio.open(path, 'r+', "
                "IGNORE_COG_LAYOUT_BREAK='YES'); "
                + ("f.set_band_unit(1, UNIT)" if unit_clash
                   else "f.scales = (S,); f.offsets = (O,)") + "; f.close()`).")
        if not read:
            continue
        # one coding per asset: collections read differently (A's DNs by its header's 0.02,
        # B's float Kelvin by the items' 1) cannot share one; B was read 5.48 K by A's
        # (a unit alone is no other scaling where one collection's files have none, or both
        # say one temperature unit: 'K' beside none was refused with nothing to tell apart)
        kinds = {temperature_units(u) or u for _, _, u, _, _ in read.values() if u}
        if len({(sc, off) for sc, off, *_ in read.values()}) > 1 or len(kinds) > 1:
            taken = [f for f in ("scale", "offset") if f not in given]
            picked = any(how for *_, how in read.values())
            shown = "; ".join(
                f"collection {c!r}: " + ", ".join(
                    [f"{f} {v:g}" for f, v in (("scale", sc), ("offset", off))
                     if f in taken or picked] + ([f"unit {u!r}"] if len(kinds) > 1 else []))
                + f" ({how}{os.path.basename(h)})"
                for c, (sc, off, u, h, how) in read.items())
            gives = (f"the items give its {' and '.join(sorted(given))}" if given
                     else "the items give neither scale nor offset")
            first = next(iter(read))
            raise XlstsrError(
                f"the files of asset {key!r} declare different scalings ({shown}) and "
                f"{gives}: load the items of each collection separately (e.g. "
                f"`[it for it in items if it.collection_id == {first!r}]`)"
                + (f", or give the items their {' and '.join(taken)} with a `modifier=`"
                   if taken and not picked else "") + ".")
        for text in said:
            warn(text, UserWarning)
        sc, off, unit, href, _ = next(iter(read.values()))
        # the unit one collection's files give where another's give none
        unit = unit or next((u for _, _, u, _, _ in read.values() if u), None)
        # the file's unit kept where the items give none (MOD11A1 COGs' 'K' under unitless
        # items of their own 0.02 / 0 came out with no unit)
        if (sc, off) == (base.scale, base.offset) and (not unit or unit == base.unit):
            continue
        log.info("open_stac: asset %r scaled as its files declare (%s): scale %g, offset %g",
                 key, os.path.basename(href), sc, off)
        out[key] = BandCoding(nodata=base.nodata, scale=sc, offset=off, unit=unit)
    if not fixes:
        return out
    parts = []
    if remote:
        shown = ", ".join(f"{k!r} (labelled {u!r}, stored as {d})" for k, _, u, d in remote)
        parts.append(
            f"asset(s) {shown} of item {remote[0][1].id!r} have no scale (raster:bands or "
            "the raster v2 fields) and their files are not local, so their own scale cannot "
            "be read: if they hold digital numbers, they would be labelled as temperatures. "
            "Give the items the scale and offset the product documents (its user guide, or "
            "the raster:bands of the source catalogue: MOD11/MYD11 LST scale 0.02, offset 0; "
            "Landsat Collection 2 ST_B10 scale 0.00341802, offset 149.0); a file header "
            "without a scale (`rasterio.open(href).scales` of 1.0) is no proof that the "
            "values are whole units (Landsat's files keep theirs in the MTL metadata)")
    if clash:
        parts.append(
            "the items' scaling contradicts the files' own: " + "; ".join(clash)
            + ". One of them is wrong, and decoded the wrong way the values would be labelled "
            "in the wrong units (MOD11A1 digital numbers ~13,700 as Kelvin under an items' "
            "scale of 1). If the header is right, give the items its reading (the modifier "
            "that follows); if the items are right, rewrite the files' header to "
            "their reading (the command given with each asset, run with the Python that has "
            "xlstsr: it changes the files in place, for every program that reads them; to "
            "keep yours, run it on copies and point the items' hrefs at the copies, e.g. "
            "`it.assets[KEY].href = NEW_PATH` in a modifier, or the copies' header is "
            "refused alike)")
    raise XlstsrError(
        ". ".join(parts) + ". A modifier that sets the scale and offset of every asset "
        "named (" + ("MODIS LST's 0.02, 0 for those without a scale: put the product's own; "
                     if remote else "")
        + ("it calls the modifier you pass first" if modifier is not None else
           "put a call of any modifier you pass first in its list") + "): "
        + _fix_advice(items, fixes, modifier) + "."
    )


def _local_float_file(items: Sequence[Any], key: str) -> bool:
    """Whether the first local file of asset ``key`` that opens stores floats (header only)."""
    import rasterio

    for it in items:
        asset = it.assets.get(key)
        href = None if asset is None else _local_file(asset.get_absolute_href() or asset.href)
        if href is None:
            continue
        try:
            with rasterio.open(href) as src:
                return np.dtype(src.dtypes[0]).kind == "f"
        except rasterio.errors.RasterioIOError:
            continue
    return False


def _check_integer_nan_nodata(items: Sequence[Any], codings: dict[str, BandCoding | None],
                              modifier: Callable[[Any], Any] | None) -> None:
    """Refuse a NaN (or infinite) nodata declared for an asset stored as integers: no integer
    holds it, and odc-stac's "cannot convert float NaN to integer" was reported as a problem
    of crs=, resolution=, bbox= or chunks=. The advice sets the files' own nodata tag where
    a local file has one, else 0 (MODIS LST's fill)."""
    bad = {}
    for key, coding in codings.items():
        declared = _stored_dtype(items, key)
        if (coding is None or coding.nodata is None or math.isfinite(coding.nodata)
                or declared is None or declared.kind not in "iu"):
            continue
        if _local_float_file(items, key):
            continue  # the data_type is what is wrong: _check_float_files_coded says so
        bad[key] = (declared, _file_nodata(items, key))
    if not bad:
        return
    fixes = {}
    for key, (_, fill) in bad.items():
        value: float = 0 if fill is None else (int(fill) if float(fill).is_integer() else fill)
        fixes[key] = {"nodata": value}
    shown = "; ".join(
        f"asset {k!r} ({d}, nodata {codings[k].nodata!r}; its files' own nodata tag: "  # type: ignore[union-attr]
        + ("none" if f is None else f"{f:g}") + ")" for k, (d, f) in bad.items())
    it = next(i for i in items if next(iter(bad)) in i.assets)
    raise XlstsrError(
        f"the items declare a NaN/infinite nodata for assets stored as integers, which no "
        f"integer can hold (e.g. item {it.id!r}): {shown}. Give the items the value that "
        "marks missing pixels in the files (their nodata tag; MODIS LST's 0 where they have "
        "none) with a modifier (it calls any modifier you pass first): "
        + _fix_advice(items, fixes, modifier)
        + ". Or, if the data_type is wrong and the files hold floats, fix the items' "
        "data_type instead."
    )


def _with_nodata(items: list[Any], fills: dict[str, float]) -> list[Any]:
    """Copies of the items whose raster:bands of the assets in ``fills`` say their nodata (an
    asset coded with raster v2 fields: its ``nodata`` field): the loaders then fill the pixels
    no file covers with it (odc-stac filled them with 0), and decoding masks both. Items
    without a coding get one only when no item has any (a coding in some items only would be
    refused as a disagreement)."""
    described = {k for k in fills for it in items
                 if k in it.assets and _asset_coding(it, k) is not None}
    out = []
    for it in items:
        it = it.clone()
        for k, nodata in fills.items():
            asset = it.assets.get(k)
            if asset is None:
                continue
            bands = asset.extra_fields.get("raster:bands")
            if bands:
                asset.extra_fields["raster:bands"] = [{**bands[0], "nodata": nodata}, *bands[1:]]
            elif _v2_fields(it, asset, k):
                # raster v2 coding: a raster:bands beside it would hide its scale (v1 is read
                # first here) and odc-stac would not read its nodata (v2 is read first there)
                asset.extra_fields["nodata"] = nodata
            elif k not in described:
                asset.extra_fields["raster:bands"] = [{"nodata": nodata}]
        out.append(it)
    return out


def _utc_items(items: list[Any]) -> list[Any]:
    """Copies of the items whose datetimes carry a UTC offset, with those datetimes in UTC:
    odc-stac labelled "12:30:00+02:00" as 12:30, not 10:30 (xlstsr's labels are naive UTC
    everywhere else), and the checks that compare items' times compared the wrong instants."""
    import datetime as dt

    def shifted(t: Any) -> bool:
        return t is not None and t.utcoffset() not in (None, dt.timedelta(0))

    out = []
    for it in items:
        meta = it.common_metadata
        if any(shifted(t) for t in (it.datetime, meta.start_datetime, meta.end_datetime)):
            it = it.clone()
            meta = it.common_metadata
            if shifted(it.datetime):
                it.datetime = it.datetime.astimezone(dt.timezone.utc)
            if shifted(meta.start_datetime):
                meta.start_datetime = meta.start_datetime.astimezone(dt.timezone.utc)
            if shifted(meta.end_datetime):
                meta.end_datetime = meta.end_datetime.astimezone(dt.timezone.utc)
        out.append(it)
    return out


def _native_grid(items: Sequence[Any], keys: Sequence[str], epsg: int | None,
                 resolution: float | None) -> tuple[int, tuple[float, float, float, float]] | None:
    """The items' EPSG code and pixel grid ``(x0, xres, y0, yres)`` (an edge and the pixel
    size, from the first ``proj:transform``), when the output has their CRS and pixel size;
    else None (a new grid, which stackstac may snap to multiples of the resolution)."""
    for it in items:
        for key in keys:
            asset = it.assets.get(key)
            fields = {} if asset is None else asset.extra_fields
            t = fields.get("proj:transform") or it.properties.get("proj:transform")
            code = fields.get("proj:epsg") or it.properties.get("proj:epsg")
            if not t or len(t) < 6 or code is None:
                continue
            a, b, c, d, e, f = (float(v) for v in t[:6])
            if b != 0 or d != 0 or (epsg is not None and int(code) != epsg):
                return None  # rotated, or reprojected: no native grid to keep
            if resolution is not None and not (
                    np.isclose(abs(a), resolution) and np.isclose(abs(e), resolution)):
                return None
            return int(code), (c, abs(a), f, abs(e))
    return None


def _items_grid(items: Sequence[Any], keys: Sequence[str], crs: Any,
                resolution: float | None) -> tuple[float, float, float, float] | None:
    """The items' pixel grid ``(a, c, e, f)`` (pixel sizes and edges of the first
    ``proj:transform`` of an item in the output CRS at the output's pixel size) when the output
    is on it: its CRS (``crs``; None: the items') and pixel size (``resolution``; None: the
    finest asset's, which odc-stac loads mixed resolutions at); else None (rotated,
    reprojected, resampled, or no ``proj:transform``)."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        out = CRS.from_user_input(crs) if crs is not None else None
    except (CRSError, TypeError, ValueError):  # odc-stac's own error names it
        return None
    in_out = _crs_test(out) if out is not None else None
    found: list[tuple[float, float, float, float]] = []
    for it in items:
        if _native_crs(it) is None:
            continue
        if in_out is not None and not in_out(it):
            continue
        for key in keys:
            asset = it.assets.get(key)
            fields = {} if asset is None else asset.extra_fields
            t = fields.get("proj:transform") or it.properties.get("proj:transform")
            if not t or len(t) < 6:
                continue
            try:
                a, b, c, d, e, f = (float(v) for v in t[:6])
            except (TypeError, ValueError):
                return None
            if b != 0 or d != 0 or a == 0 or e == 0 or not np.isfinite([a, c, e, f]).all():
                return None
            found.append((a, c, e, f))
    if not found:
        return None
    # the output's pixel: the one asked for, else the finest asset's (an anchor taken from a
    # 1000 m asset put a cube loaded at 500 m 125 m off every file's grid)
    res = resolution if resolution is not None else min(abs(g[0]) for g in found)
    for a, c, e, f in found:
        if np.isclose(abs(a), res) and np.isclose(abs(e), res):
            return a, c, e, f
    return None


#: keywords by which the user chooses the output grid or accepts resampling onto it
_GRID_CHOSEN = frozenset({"resampling", "geobox", "like", "anchor", "align"})


def _show_transform(t: tuple[float, float, float, float]) -> str:
    a, c, e, f = t
    return f"pixel {abs(a):.10g} x {abs(e):.10g}, corner ({c:.10g}, {f:.10g})"


def _check_items_grids(items: Sequence[Any], keys: Sequence[str], crs: Any,
                       resolution: float | None, kwargs: dict[str, Any], engine: str) -> None:
    """Refuse items whose ``proj:transform`` of one asset puts them on different pixel grids
    (another pixel size, or corners a fraction of a pixel apart) in the output's CRS, when the
    output is on the items' own grid (native CRS and pixel size, no grid or resampling chosen
    in ``kwargs``): the loader put every item on the first one's grid, nearest-resampled,
    values moved up to half a pixel (463 m for MODIS) without a word. Grids a whole number of
    pixels apart (windows or tiles of one grid) pass; items without ``proj:transform`` or in
    another CRS (reprojected anyway) are not judged."""
    if _GRID_CHOSEN & set(kwargs):
        return
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        out = CRS.from_user_input(crs if crs is not None else _common_crs(items))
    except (CRSError, TypeError, ValueError):
        return
    in_out = _crs_test(out)
    for key in keys:
        first: tuple[Any, tuple[float, float, float, float]] | None = None
        for it in items:
            if not in_out(it):  # no CRS, or another one (reprojected anyway)
                continue
            asset = it.assets.get(key)
            fields = {} if asset is None else asset.extra_fields
            t = fields.get("proj:transform") or it.properties.get("proj:transform")
            try:
                a, b, c, d, e, f = (float(v) for v in t[:6])
            except (TypeError, ValueError):
                continue  # none, or not numbers: the loader judges it
            if b != 0 or d != 0 or a == 0 or e == 0 or not np.isfinite([a, c, e, f]).all():
                continue
            if resolution is not None and not (np.isclose(abs(a), resolution)
                                               and np.isclose(abs(e), resolution)):
                return  # resampled to another pixel size anyway
            grid = (a, c, e, f)
            if first is None:
                first = (it, grid)
                continue
            a0, c0, e0, f0 = first[1]
            sized = np.isclose(abs(a), abs(a0), rtol=1e-6, atol=0) and np.isclose(
                abs(e), abs(e0), rtol=1e-6, atol=0)
            off = [(c - c0) / a0, (f - f0) / e0] if sized else [0.0]
            shift = max(abs(v - round(v)) for v in off)
            if sized and shift < 1e-3:
                continue
            why = (f"corners {shift:.3g} pixel apart" if sized
                   else "different pixel sizes")
            accept = ("resampling='nearest' (or 'bilinear')" if engine == "odc"
                      else "resampling=rasterio.enums.Resampling.nearest (or bilinear)")
            raise XlstsrError(
                f"items {first[0].id!r} and {it.id!r} put asset {key!r} on different pixel "
                f"grids ({why}): {_show_transform(first[1])} there, {_show_transform(grid)} "
                "here. The loader would put every item on the first one's grid, resampling the "
                "others (values moved up to half a pixel) without a word. Load the items of one "
                "grid together (e.g. `[i for i in items if i.properties['proj:transform'] == "
                "...]`), or choose the output grid and accept the resampling: pass "
                f"`{accept}`"
                + (", or `geobox=`" if engine == "odc" else "") + "."
            )


def _grid_anchor(grid: tuple[float, float, float, float]) -> Any:
    """odc-geo's anchor (pixel fractions) that puts the output's pixel edges on ``grid``'s."""
    from odc.geo import xy_

    a, c, e, f = grid

    def frac(edge: float, res: float) -> float:
        v = float((edge / abs(res)) % 1.0)
        return 0.0 if not 0.0 <= v < 1.0 or v > 1.0 - 1e-9 else v  # -1e-17 % 1.0 is 1.0

    return xy_(frac(c, a), frac(f, e))


def _on_items_labels(ds: xr.Dataset, grid: tuple[float, float, float, float]
                     ) -> tuple[xr.Dataset, Any]:
    """``ds`` with the labels of ``grid``'s pixels computed as a reader of the items' files
    computes them (rioxarray, :func:`xlstsr.io.open_cog`: from the pixel's index in the file),
    and the exact transform; ``ds`` as it is (and None) when it is not on that grid. A loader
    computes them from its own window's edge, round-off away: xarray's alignment with a file
    read of the same pixels kept no row."""
    from affine import Affine

    a, c, e, f = grid
    ys_ = [d for d in ds.dims if d in ("y", "latitude")]
    xs_ = [d for d in ds.dims if d in ("x", "longitude")]
    if len(ys_) != 1 or len(xs_) != 1:
        return ds, None
    ydim, xdim = ys_[0], xs_[0]
    first = []
    for dim, res, edge in ((xdim, a, c), (ydim, e, f)):
        v = np.asarray(ds[dim].values, np.float64)
        if not v.size:
            return ds, None
        if v.size > 1 and not np.isclose(v[1] - v[0], res, rtol=1e-6, atol=0):
            return ds, None  # another pixel size or direction: not the items' grid
        pos = (v[0] - edge) / res - 0.5
        n = round(pos)
        if abs(pos - n) > 1e-6:
            return ds, None
        first.append(n)
    nx, ny = first
    # the file's centres as rioxarray computes them (the transform shifted by half a pixel,
    # then the pixel's index in the file), to the last bit
    half = Affine(a, 0.0, c, 0.0, e, f) * Affine.translation(0.5, 0.5)
    xs, _ = half * (np.arange(nx, nx + ds.sizes[xdim]), np.zeros(ds.sizes[xdim]))
    _, ys = half * (np.zeros(ds.sizes[ydim]), np.arange(ny, ny + ds.sizes[ydim]))
    ds = ds.assign_coords({xdim: (xdim, xs, ds[xdim].attrs), ydim: (ydim, ys, ds[ydim].attrs)})
    return ds, Affine(a, 0.0, c + nx * a, 0.0, e, f + ny * e)


def _on_grid(bounds: Sequence[float], grid: tuple[float, float, float, float]
             ) -> tuple[float, float, float, float]:
    """``bounds`` grown outward to the pixel edges of ``grid`` (``(x0, xres, y0, yres)``)."""
    x0, xres, y0, yres = grid
    eps = 1e-6  # a bound on an edge up to rounding stays on it

    def lo(v: float, o: float, r: float) -> float:
        return float(o + np.floor((v - o) / r + eps) * r)

    def hi(v: float, o: float, r: float) -> float:
        return float(o + np.ceil((v - o) / r - eps) * r)

    return (lo(bounds[0], x0, xres), lo(bounds[1], y0, yres),
            hi(bounds[2], x0, xres), hi(bounds[3], y0, yres))


def _check_local_asset(href: str, key: str, item_id: str) -> None:
    """A local asset file that GDAL cannot open, or a GeoTIFF truncated (an interrupted
    download), refused when opening: the loader failed only when the cube was computed, with
    GDAL's "Read failed" naming no file (about 3 ms a file: the TIFF directory, not the data)."""
    import rasterio

    from .cog import _check_complete

    try:
        _check_complete(href)
    except rasterio.errors.RasterioIOError as err:
        why = ("a format this GDAL build has no driver for (HDF4 and some NetCDF builds "
               "lack one: convert it to a GeoTIFF/COG), unless the file is not a raster at all"
               if "not recognized as being in a supported file format" in str(err)
               else "an incomplete or damaged file? Download or write it again")
        raise XlstsrError(
            f"asset {key!r} of item {item_id!r} ({href}) cannot be read as a raster by GDAL "
            f"({err}): {why}."
        ) from None
    except XlstsrError as err:
        raise XlstsrError(f"asset {key!r} of item {item_id!r}: {err}") from None


def _modified(items: list[Any], modifier: Callable[[Any], Any] | None) -> list[Any]:
    """Copies of the items passed through ``modifier`` (which may change them in place)."""
    if modifier is None:
        return items
    if not callable(modifier):  # was a raw "'str' object is not callable"
        raise XlstsrError(
            f"modifier must be a function of an item, got {type(modifier).__name__} "
            f"{modifier!r:.60}: e.g. modifier=planetary_computer.sign_inplace."
        )
    out = []
    for it in items:
        copy = it.clone()
        res = modifier(copy)
        if res is not None and not hasattr(res, "assets"):
            raise XlstsrError(
                f"modifier returned {type(res).__name__} {res!r:.60} for item {it.id!r}: it must "
                "change the item in place and return None (as planetary_computer.sign_inplace "
                "does), or return a pystac.Item."
            )
        out.append(copy if res is None else res)
    return out


#: odc-stac's own groupings; any other string is an item property
_GROUPBY = ("time", "solar_day", "id")


#: keywords odc.stac.load reads from its ``**kw`` (datacube's names, and options it documents
#: outside its signature); its source is scanned too, for a version that reads others
_ODC_EXTRA_KEYWORDS = frozenset({"measurements", "output_crs", "use_overviews", "nodata",
                                 "align", "debug"})
#: open_stac's own keywords (a typo of one is matched against them too)
_OWN_KEYWORDS = ("assets", "crs", "resolution", "bbox", "chunks", "dtype", "decode", "modifier",
                 "engine")


def _odc_keywords() -> set[str]:
    """The keywords ``odc.stac.load`` takes: its named parameters and, where it also takes
    ``**kw``, those it reads from it."""
    import inspect
    import re

    import odc.stac

    params = list(inspect.signature(odc.stac.load).parameters.values())
    names = {q.name for q in params if q.kind in (q.POSITIONAL_OR_KEYWORD, q.KEYWORD_ONLY)}
    if any(q.kind == q.VAR_KEYWORD for q in params):
        names |= _ODC_EXTRA_KEYWORDS
        try:
            src = inspect.getsource(odc.stac.load)
        except (OSError, TypeError):  # no source installed: the known ones
            src = ""
        names |= set(re.findall(r"\bkw\.(?:get|pop)\(\s*[\"'](\w+)[\"']", src))
    return names


def _stackstac_keywords() -> set[str]:
    """The keywords ``stackstac.stack`` takes (none where stackstac is not installed)."""
    import inspect

    try:
        import stackstac
    except ImportError:
        return set()
    return set(inspect.signature(stackstac.stack).parameters) - {"items"}


def _has_epsg(item: Any) -> bool:
    """Whether stackstac can place ``item``: an EPSG code as ``proj:epsg`` or ``proj:code``
    ('EPSG:n', copied to ``proj:epsg`` by :func:`_with_proj_epsg`) on the item or an asset.
    MODIS sinusoidal items carry ``proj:wkt2`` only."""
    return any(
        d.get("proj:epsg") is not None
        or (isinstance(d.get("proj:code"), str) and d["proj:code"].upper().startswith("EPSG:"))
        for d in [item.properties, *(a.extra_fields for a in item.assets.values())]
    )


def _stackstac_misfit(items: Sequence[Any], crs: Any) -> str | None:
    """Why ``engine='stackstac'`` could not load ``items`` into ``crs`` (it needs an EPSG code
    on every item and on ``crs`` where one is given), or None where it could."""
    lacking = [it.id for it in items if not _has_epsg(it)]
    if lacking:
        return (f"{len(lacking)} of the {len(items)} items have no EPSG code (e.g. "
                f"{lacking[0]!r}; MODIS sinusoidal has none)")
    try:
        epsg_out = _epsg_of(crs)
    except Exception:  # not a CRS: open_stac names it
        epsg_out = None
    if crs is not None and epsg_out is None:
        return f"crs={str(crs)[:40]!r} has no EPSG code"
    return None


def _check_stackstac_keywords(kwargs: dict[str, Any]) -> None:
    """Refuse a keyword ``stackstac.stack`` does not take (it raised Python's bare "stack() got
    an unexpected keyword argument"), naming the engine that takes it: odc-stac's
    ``groupby=`` or ``lon=``/``lat=``, which open_stac's own docs advise, or a typo."""
    import difflib

    known = _stackstac_keywords()
    unknown = [k for k in kwargs if k not in known]
    if not known or not unknown:
        return  # stackstac not installed: its import names it
    odc = _odc_keywords()
    # those open_stac sets itself (refused earlier, naming its own argument) are not offered
    passed = known - set(_SET_BY_OPEN_STAC["stackstac"]) - {"assets", "resolution", "dtype"}
    hints = []
    for k in unknown:
        near = difflib.get_close_matches(k, sorted(known | set(_OWN_KEYWORDS)), n=1)
        if k in ("lon", "lat"):
            hints.append("lon=/lat= are odc.stac.load's: stackstac takes an area in degrees as "
                         "bounds_latlon=(lon_min, lat_min, lon_max, lat_max), or pass "
                         "engine='odc' (the default). ")
        elif k in odc:
            hints.append(f"{k}= is odc.stac.load's: pass engine='odc' (the default) to load "
                         "with it. ")
        elif near:
            hints.append(f"Did you mean {near[0]}= (for {k}=)? ")
    raise XlstsrError((
        f"open_stac got {', '.join(k + '=' for k in unknown)}, which stackstac.stack "
        "(engine='stackstac') does not take. " + "".join(dict.fromkeys(hints))
        + f"Its keywords open_stac passes on: {', '.join(sorted(passed))}."
    ).rstrip())


def _check_odc_keywords(kwargs: dict[str, Any], items: Sequence[Any] = (),
                        crs: Any = None) -> None:
    """Refuse a keyword ``odc.stac.load`` does not take: it takes ``**kw`` and drops those it
    does not know, so stackstac's ``bounds_latlon=`` or a typo (``resolutoin=``) loaded the
    whole extent of the items at native resolution without a word. ``engine='stackstac'`` is
    advised only where it can load the ``items`` (EPSG codes: not MODIS sinusoidal)."""
    import difflib

    known = _odc_keywords()
    unknown = [k for k in kwargs if k not in known]
    if not unknown:
        return
    dated = [k for k in unknown if str(k).lower() in _DATE_KEYWORDS]
    hints = []
    for k in unknown:
        near = difflib.get_close_matches(k, sorted(known | set(_OWN_KEYWORDS)), n=1)
        if k in dated:  # no keyword of open_stac chooses dates ('time' is not 'dtype')
            continue
        if k in _stackstac_keywords():
            why = _stackstac_misfit(items, crs)
            if why is None:
                hints.append(f"stackstac.stack takes {k}=: pass engine='stackstac' to load "
                             "with it. ")
            else:  # stackstac needs EPSG codes: it fails on MODIS sinusoidal items
                hints.append(f"{k}= is stackstac.stack's, but engine='stackstac' cannot load "
                             f"these items: it needs EPSG codes, and {why}. ")
        elif near:
            hints.append(f"Did you mean {near[0]}= (for {k}=)? ")
    area = len(dated) < len(unknown)
    ignored = "; ".join(
        [*(["an area or a pixel size given so is ignored: the whole extent of the items at "
            "native resolution"] if area else []),
         *(["dates given so are ignored: every date of the items is loaded"] if dated else [])])
    raise XlstsrError((
        f"open_stac got {', '.join(k + '=' for k in unknown)}, which odc.stac.load "
        "(engine='odc', the default) does not take: it would drop "
        f"{'it' if len(unknown) == 1 else 'them'} without a word ({ignored}). "
        f"{''.join(hints)}"
        + ("Choose the area with bbox=(minx, miny, maxx, maxy) in the output CRS's units, or "
           "lon=(min, max), lat=(min, max) in degrees, and the pixel size with resolution=. "
           if area else "")
        + (_date_advice(dated[0], kwargs[dated[0]]) if dated else "")
    ).rstrip())


#: loader keywords open_stac sets itself, and the argument of open_stac that sets each (None:
#: set to a fixed value): passed in ``**kwargs`` they crashed with Python's bare "dict() got
#: multiple values for keyword argument"
_SET_BY_OPEN_STAC = {
    "odc": {"bands": "assets"},
    "stackstac": {"epsg": "crs", "bounds": "bbox", "chunksize": "chunks", "fill_value": None,
                  "xy_coords": None},
}


_GENERIC_EXAMPLE = {"assets": "assets=['LST_Day_1km']", "bbox": "bbox=(minx, miny, maxx, maxy)",
                    "crs": "crs='EPSG:32632'",
                    "chunks": "chunks={'time': 1, 'y': 1024, 'x': 1024}"}


def _own_example(own: str, key: str, value: Any) -> str:
    """open_stac's argument ``own`` that gives what the loader's ``key=value`` asked for."""
    try:
        if own == "assets":
            return f"assets={value!r}"
        if own == "bbox":
            return f"bbox={tuple(float(v) for v in value)}"
        if own == "crs":
            return f"crs='EPSG:{int(value)}'"
        if own == "chunks":
            if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
                return f"chunks={{'time': 1, 'y': {int(value)}, 'x': {int(value)}}}"
    except (TypeError, ValueError):  # a value of no usable shape: the generic example
        return _GENERIC_EXAMPLE[own]
    return _GENERIC_EXAMPLE[own]


def _check_own_keywords(kwargs: dict[str, Any], engine: str, bbox: Any) -> None:
    """Refuse loader keywords that open_stac sets itself (:data:`_SET_BY_OPEN_STAC`), naming
    open_stac's own argument for them; odc-stac's ``x=`` / ``y=`` beside ``bbox=`` (which
    open_stac passes as them: the user's were replaced without a word), and stackstac's
    ``bounds_latlon=`` beside ``bbox=`` (its ``bounds=``); and stackstac's
    ``rescale=True``, which applied raster:bands' scale before open_stac decoded it again
    (MODIS DN x 0.02 x 0.02: 5.5 "K", then told to be degrees Celsius)."""
    loader = "odc.stac.load" if engine == "odc" else "stackstac.stack"
    own_keys = dict(_SET_BY_OPEN_STAC.get(engine, {}))
    if engine == "odc":
        # stackstac's names for them too (chunksize=, epsg=, fill_value=...): told to pick an
        # area, or to use engine='stackstac', which refused them in turn
        odc = _odc_keywords()
        own_keys.update({k: v for k, v in _SET_BY_OPEN_STAC["stackstac"].items()
                         if k not in odc})
    for key, own in own_keys.items():
        if key not in kwargs:
            continue
        if engine == "odc" and key in _SET_BY_OPEN_STAC["stackstac"]:
            loader = "stackstac.stack"
        if own is not None:
            raise XlstsrError(
                f"open_stac got {key}=, {loader}'s name for what open_stac's own {own}= sets "
                f"(it passes {own}= to {loader} as {key}=): pass "
                f"`{_own_example(own, key, kwargs[key])}` instead."
            )
        why = ("fills the pixels no item covers with NaN itself (and, decoding, the "
               "raster:bands nodata too): drop fill_value= and fill the gaps afterwards if "
               "needed, e.g. `.fillna(0)`" if key == "fill_value" else
               "labels the pixels at their centres, as rioxarray and open_cog do, and writes "
               "the exact transform: drop xy_coords= (the top-left corner of pixel (i, j) is "
               "`da.rio.transform() * (j, i)`)")
        raise XlstsrError(f"open_stac got {key}=, which it sets itself: open_stac {why}.")
    if engine == "stackstac" and bbox is not None and kwargs.get("bounds_latlon") is not None:
        # stackstac's "Cannot give both bounds and bounds_latlon" was blamed on proj:epsg
        raise XlstsrError(
            "open_stac got bounds_latlon= with bbox=, which it passes to stackstac.stack as "
            "bounds=: give the area once, bbox=(minx, miny, maxx, maxy) in the output CRS's "
            "units, or bounds_latlon=(lon_min, lat_min, lon_max, lat_max) in degrees without "
            "bbox=."
        )
    if engine == "odc" and bbox is not None:
        given = [k for k in ("x", "y") if kwargs.get(k) is not None]
        if given:
            raise XlstsrError(
                f"open_stac got {' and '.join(k + '=' for k in given)} with bbox=, which it "
                "passes to odc.stac.load as x= and y=: give the area once, "
                "bbox=(minx, miny, maxx, maxy) (or x=(minx, maxx), y=(miny, maxy) without bbox=)."
            )
    if "rescale" in kwargs and kwargs["rescale"] is not False:  # odc-stac has none
        raise XlstsrError(
            f"open_stac got rescale={kwargs['rescale']!r}: open_stac decodes the raster:bands "
            "scale and offset itself (decode=True), or records them for xlstsr.upscale "
            "(decode=False), so stackstac's rescale would apply them a second time (MODIS DN "
            "x 0.02 x 0.02: about 5.5 'K'). Drop rescale= (decode=False keeps the stored "
            "values with their scale_factor / add_offset attributes)."
        )


#: keywords that ask for dates (pystac_client's search(datetime=...), time=, a range...):
#: odc.stac.load takes none, open_stac loads the dates of the items it is given
_DATE_KEYWORDS = frozenset({
    "datetime", "time", "times", "date", "dates", "start_date", "end_date", "start_datetime",
    "end_datetime", "date_range", "daterange", "time_range", "timerange", "period", "start",
    "end", "temporal", "interval"})
_DAY_TEXT = r"\d{4}(-\d{2}(-\d{2})?)?"


def _date_bounds(key: str, value: Any) -> tuple[Any, Any] | None:
    """The first and last date a date keyword asks for, as ``.sel(time=slice(...))`` takes
    them (None: open): from ``slice(a, b)``, ``'2020-04'`` (a day, month or year: kept as
    text, which selects all of it), STAC's ``'2020-06-01T00:00:00Z/2020-08-31T23:59:59Z'`` (``..`` open; zoned
    times in naive UTC, as open_stac's time labels are), a pair, one date; ``start*`` keywords
    open at the end, ``end*`` ones at the start. A day (a ``datetime.date``, text without a
    time such as ``'2020-1-2'``) and a lone midnight instant are written ``'YYYY-MM-DD'``,
    which selects the whole day. None when the value is none of these."""
    import datetime as dt

    import pandas as pd

    def bound(v: Any, single: bool = False) -> Any:
        if v is None or (isinstance(v, str) and v.strip() in ("", "..")):
            return None
        if isinstance(v, str) and re.fullmatch(_DAY_TEXT, v.strip()):
            return v.strip()
        ts = pd.Timestamp(v.strip() if isinstance(v, str) else v)
        ts = ts.tz_convert(None) if ts.tzinfo else ts
        # a day (a date object, '2020-1-2', datetime64[D]) or one midnight instant stands for
        # the whole day: written as midnight, the advised slice kept nothing of a day whose
        # items are at 10:30 UTC, and a (date, date) range dropped its last day
        day = ((isinstance(v, dt.date) and not isinstance(v, dt.datetime))
               or (isinstance(v, str) and not re.search(r":|T\d", v.strip()))
               or (isinstance(v, np.datetime64)
                   and np.datetime_data(v.dtype)[0] in ("Y", "M", "W", "D")))
        if ts == ts.normalize() and (day or single):
            return ts.strftime("%Y-%m-%d")
        return ts.isoformat()

    key = str(key).lower()
    try:
        if isinstance(value, slice):  # xarray's idiom for a range: time=slice(a, b)
            lo, hi = value.start, value.stop
        elif isinstance(value, str) and "/" in value:
            lo, hi = value.split("/", 1)
        elif isinstance(value, (tuple, list)) and len(value) == 2:
            lo, hi = value
        elif key.startswith("start"):
            lo, hi = value, None
        elif key.startswith("end"):
            lo, hi = None, value
        else:
            return bound(value, single=True), bound(value, single=True)
        return bound(lo), bound(hi)
    except (TypeError, ValueError):
        return None


def _date_advice(key: str, value: Any) -> str:
    """How to keep only some dates, with the dates ``key=value`` asks for where they parse."""
    bounds = _date_bounds(key, value)
    # dates that do not parse are not replaced by made-up ones (copied, they kept none of the
    # dates asked for): the form is shown with placeholders
    sel, which = ((bounds, "") if bounds is not None
                  else (("YYYY-MM-DD", "YYYY-MM-DD"), " with your first and last dates"))
    return (
        "To keep only some dates, select them after loading (lazy: only those dates are "
        f"read): `open_stac(items, ...).sel(time=slice({sel[0]!r}, {sel[1]!r}))`{which}; or "
        "give open_stac "
        "only the items of those dates (a pystac_client search takes `datetime=` itself)."
    )


def _check_groupby(items: Sequence[Any], groupby: Any) -> None:
    """Refuse a ``groupby`` string no item has as a property: odc-stac groups every item
    under the missing value, and the dates are merged into one time step without a word."""
    if not isinstance(groupby, str) or groupby in _GROUPBY:
        return
    if not any(groupby in it.properties for it in items):
        raise XlstsrError(
            f"groupby={groupby!r} is no property of the items, so odc-stac would merge every "
            f"item into one time step: use one of {_GROUPBY} ('solar_day' merges the granules "
            "of one overpass), a property the items have, or a function of the item."
        )


def _item_time(item: Any) -> Any:
    """The time odc-stac groups an item by: its ``datetime``, else ``start_datetime``."""
    return item.datetime or item.properties.get("start_datetime")


def _refuse_fused_granules(items: Sequence[Any], groupby: Any) -> None:
    """Refuse items that share a time and cover the same ground under odc-stac's default
    ``groupby="time"``: it fuses them into one step, first valid pixel wins, which is right for
    adjacent tiles of one overpass, but dropped every Aqua field beside Terra ones (daily items
    with ``datetime: null`` and the day as ``start_datetime``), or pasted one overpass's pixels
    into the other's gaps, without a word. Footprints that only touch (adjacent tiles) pass."""
    if groupby not in (None, "time"):
        return
    from shapely.geometry import shape

    by_time: dict[Any, list[Any]] = {}
    for it in items:
        by_time.setdefault(_item_time(it), []).append(it)
    for when, group in by_time.items():
        if when is None or len({it.id for it in group}) < 2:
            continue  # the same item twice fuses with itself
        shapes = []
        for it in group:
            try:
                shapes.append((it, shape(it.geometry)))
            except Exception:  # no or odd geometry: odc-stac decides
                continue
        for i, (a, ga) in enumerate(shapes):
            for b, gb in shapes[i + 1:]:
                if a.id == b.id or min(ga.area, gb.area) <= 0:
                    continue
                share = ga.intersection(gb).area / min(ga.area, gb.area)
                if share > 0.5:
                    raise XlstsrError(
                        f"items {a.id!r} and {b.id!r} share the time {when} and cover the same "
                        f"ground ({share:.0%} of the smaller footprint): odc-stac's "
                        "groupby='time' would fuse them into one step, first valid pixel wins "
                        "(one product dropped, or two overpasses mixed). Pass groupby='id' to "
                        "keep each item as its own step, or select one product, e.g. "
                        "`[i for i in items if i.properties.get('platform') == 'terra']`."
                    )


#: a MODIS granule's id: the product's short name, then its date (``MOD11A1.A2020001.``), as
#: :func:`xlstsr.io.modis._granule_product` reads file names
_GRANULE_ID = re.compile(r"^([A-Za-z][A-Za-z0-9]*)\.A\d{7}\.")
#: the MODIS satellites, which one item property ``platform`` names
_MODIS_PLATFORMS = ("terra", "aqua")


def _check_one_product(items: Sequence[Any]) -> None:
    """Refuse items of several MODIS products (ids ``MOD11A1.`` and ``MYD11A1.``, or
    ``platform`` terra and aqua) in one series, as :func:`xlstsr.io.open_modis` and
    :func:`xlstsr.io.open_cog` refuse such files: Terra's 10:30 and Aqua's 13:30 overpasses
    (several K of diurnal warming apart), or 8-day composites among daily fields, were stacked
    into one date-ordered series without a word when their times differed (whatever
    ``groupby``: each item its own step is still a mixed series). Collections are not
    judged: one collection holds both satellites (Planetary Computer's modis-11A1-061), and a
    local catalogue may split one product into several; nor are other platforms (Landsat 8
    and 9, Sentinel-2A and 2B are loaded together)."""
    heads: dict[str, list[str]] = {}
    platforms: dict[str, list[str]] = {}
    for it in items:
        m = _GRANULE_ID.match(str(getattr(it, "id", "") or ""))
        if m is not None:
            heads.setdefault(m.group(1).upper(), []).append(it.id)
        p = str(it.properties.get("platform") or "").lower()
        if p in _MODIS_PLATFORMS:
            platforms.setdefault(p, []).append(it.id)
    if len(heads) > 1:
        groups, pick = heads, "`[i for i in items if i.id.startswith('{}.')]`"
    elif len(platforms) > 1:
        groups, pick = platforms, "`[i for i in items if i.properties.get('platform') == '{}']`"
    else:
        return
    said = "; ".join(f"{k}: {len(v)} (e.g. {v[0]!r})" for k, v in groups.items())
    raise XlstsrError(
        f"the items are of {len(groups)} products ({said}): one series is one product "
        "(Terra's and Aqua's overpasses are hours apart, an 8-day composite is no daily "
        f"field). Load each product separately, e.g. {pick.format(next(iter(groups)))}."
    )


#: the resamplings whose kernel GDAL widens by the scale change of each warp (odc-stac warps
#: each chunk separately); nearest and the footprint ones (average, mode...) do not
_KERNEL_RESAMPLINGS = frozenset({"bilinear", "cubic", "cubic_spline", "cubicspline", "lanczos"})

#: the most pixels per time step that are warped whole to keep kernel resamplings
#: independent of the chunks (beyond: chunk by chunk, with a warning)
MAX_WHOLE_WARP_PIXELS = 4096 * 4096


def _kernel_resampling(resampling: Any) -> list[str]:
    """The kernel resamplings (:data:`_KERNEL_RESAMPLINGS`) in odc-stac's ``resampling=``
    (a name, a rasterio ``Resampling``, or a dict of them per band)."""
    given = resampling.values() if isinstance(resampling, dict) else [resampling]
    names = {str(getattr(r, "name", r)).lower() for r in given if r is not None}
    return sorted(names & _KERNEL_RESAMPLINGS)


def _cut_whole_steps(ds: xr.Dataset, chunks: dict[str, Any], items: Sequence[Any],
                     load_kw: dict[str, Any]) -> xr.Dataset:
    """``ds`` (loaded with each step's area in one chunk) cut into the ``chunks`` asked for;
    an area over :data:`MAX_WHOLE_WARP_PIXELS` is loaded chunk by chunk again (its values then
    depend on the chunks), with a warning that says so."""
    import odc.stac

    ydim, xdim = ds[next(iter(ds.data_vars))].dims[-2:]
    ny, nx = ds.sizes[ydim], ds.sizes[xdim]
    if ny * nx <= MAX_WHOLE_WARP_PIXELS:
        return ds.chunk({ydim: chunks["y"], xdim: chunks["x"]})
    from ..errors import warn

    rs = _kernel_resampling(load_kw.get("resampling"))[0]
    warn(
        f"resampling={rs!r} over {ny} x {nx} pixels per step is warped chunk by chunk: GDAL "
        "sizes the kernel by the scale of each chunk's warp, so the values depend on chunks= "
        "(0.2 K apart on MOD11A1 put on 0.01 degrees). For values that do not, load "
        f"an area of at most {MAX_WHOLE_WARP_PIXELS} pixels (warped whole), or use "
        "resampling='average' (or 'nearest')."
    )
    return odc.stac.load(items, **{**load_kw, "chunks": chunks})


def _product_name(items: list[Any]) -> str | None:
    """The product the items are granules of, recorded as ``attrs['product']``: their common
    collection id ('modis-21A2-061'), else the common first part of their ids
    ('MOD21A2.A2020209.h18v04.061...' -> 'MOD21A2'); None when they differ. A MOD21A2 QC_Day
    loaded with empty attrs was decoded with MOD11's layout (its accuracy classes reversed).
    Items named as MOD21 granules under a collection id that names no MOD21 product (a local
    catalogue's 'my-lst') give their granules' product: the collection hid it, and a MOD21A2
    QC was decoded as MOD11's."""
    from ..qc import _MOD21_NAME

    granules = {m.group(1) if (m := _GRANULE_ID.match(str(getattr(it, "id", "") or "")))
                else None for it in items}
    collections = {getattr(it, "collection_id", None) for it in items}
    if len(collections) == 1 and None not in collections:
        collection = str(collections.pop())
        if None not in granules and not _MOD21_NAME.search(collection) and all(
                _MOD21_NAME.search(str(h)) for h in granules):
            # one QC layout for all (day and night MOD21A1D/N, Terra and Aqua MOD21A2/MYD21A2)
            layouts = {"21A1" if "21A1" in str(h).upper() else "21A2" if "21A2" in str(h).upper()
                       else None for h in granules}
            if len(layouts) == 1 and None not in layouts:
                return str(sorted(granules)[0])
        return collection
    heads = {str(getattr(it, "id", "") or "").split(".", 1)[0] for it in items}
    if len(heads) == 1 and (head := heads.pop()) and re.fullmatch(r"[A-Za-z]\w*", head):
        return head
    return None


def _asset_day_night(items: Sequence[Any], key: str) -> str | None:
    """'day' or 'night' for an asset of one overpass, as :func:`xlstsr.io.open_modis` reads a
    layer's: by its key ('LST_Night_1km'), else by the granules of a one-overpass product
    (item ids 'MOD21A1N.A2020001...': 'LST_1KM'); None when the items disagree or name none."""
    found = {_day_night(Path(str(getattr(it, "id", "") or "")), key) for it in items}
    return found.pop() if len(found) == 1 else None


def open_stac(
    items: Any,
    assets: str | Sequence[str] | None = None,
    *,
    crs: Any = None,
    resolution: float | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    chunks: dict[str, int] | None = None,
    dtype: str = "float32",
    decode: bool = True,
    modifier: Callable[[Any], Any] | None = None,
    engine: str = "odc",
    **kwargs: Any,
) -> xr.DataArray | xr.Dataset:
    """Load STAC items as a lazy, georeferenced (time, y, x) cube in physical units.

    Parameters
    ----------
    items : pystac.Item, ItemCollection, or iterable of Items / item dicts
        E.g. the result of a ``pystac_client`` search, or ``catalog.get_items(recursive=True)``.
    assets : str or list of str, optional
        Asset keys to load (e.g. ``"LST_Day_1km"``); default: all raster assets.
    crs : CRS-like, optional
        Output CRS: EPSG code, WKT or PROJ string. For MODIS sinusoidal (no EPSG code) pass
        :data:`xlstsr.grid.MODIS_SINUSOIDAL` or its WKT. Default: the items' native CRS.
        Another spelling of the items' own CRS (the same mapping of their ground, e.g. GDAL's
        ``'+proj=sinu +R=6371007.181 +nadgrids=@null +wktext'``) is taken as theirs: the
        output is on their grid, in their CRS's definition.
    resolution : float, optional
        Output pixel size in CRS units (default: native, from ``proj:transform``).
    bbox : (minx, miny, maxx, maxy), optional
        Output bounds in ``crs`` units (default CRS: the items' native one, e.g. sinusoidal
        metres for MODIS). The output covers them on the items' pixel grid (odc: ``x``/``y``
        ranges anchored on the items' ``proj:transform``; stackstac: ``bounds`` grown to its
        pixel edges, with ``snap_bounds=False``), when CRS and resolution are native; its
        labels and transform are then the files' own, those :func:`xlstsr.io.open_cog`
        reads (without ``bbox``: the whole extent of the items, on that grid too).
    chunks : dict, optional
        Dask chunks, e.g. ``{"time": 1, "y": 1024, "x": 1024}`` (default: 1 step, 1024 px).
        Dims not named keep that default: ``{"time": 5}`` gives 5 steps of 1024 x 1024 px,
        ``{"y": 256}`` 1 step of 256 x 1024 px (``-1``: the whole dim). ``latitude`` /
        ``longitude`` are read as ``y`` / ``x`` (on any output CRS; one dim given two sizes
        under both names is refused). With a kernel ``resampling=`` (bilinear, cubic,
        lanczos) each step's area (up to :data:`MAX_WHOLE_WARP_PIXELS`, else with a warning)
        is warped whole and then cut into these chunks: GDAL sizes the kernel by each warp's
        scale, so chunk by chunk the values changed with the chunks.
    dtype : str
        Output dtype of decoded values (NaN fill).
    decode : bool
        Apply each asset's ``raster:bands`` coding (:func:`band_coding`): ``nodata`` -> NaN,
        ``value * scale + offset``, ``unit`` -> ``units`` attribute ("K" for Kelvin). A scale
        or offset the items do not give is the files' own GDAL scale/offset (and their unit
        where the items give none), read from the header of one local file (a path or a
        ``file://`` href) per collection, as a masked and scaled read of the file decodes it.
        A header's scale 1 / offset 0 declares nothing; any other header declares both (its
        offset 0 beside a scale included). Where the items contradict the header's scale,
        offset or temperature unit, the reading that gives a plausible temperature is taken,
        with its own unit, and a warning; refused where that does not decide it, or where
        collections would be read with different scalings (load them apart).
        Without a coding only the nodata value is masked. False: the stored values (native dtype) with CF
        attributes (``scale_factor``, ``add_offset``, ``_FillValue``, ``units``) that
        :func:`xlstsr.upscale` decodes. stackstac always masks the files' nodata (NaN,
        float64): with ``engine='stackstac'``, ``decode=False`` is refused for an asset without
        a scale whose files record a nodata (a QC layer's nodata 0 may be its best quality);
        load such a layer with ``engine='odc', decode=False``.
    modifier : callable, optional
        Called on a copy of each item before loading, e.g. ``planetary_computer.sign_inplace``
        to sign Planetary Computer hrefs, or a function that rewrites ``asset.href`` (mirrors,
        local copies). It may change the item in place (and return None) or return a new one.
        The caller's items are not changed.
    engine : {"odc", "stackstac"}
        Loader. stackstac needs an output CRS with an EPSG code.
    **kwargs
        Passed to ``odc.stac.load`` (e.g. ``groupby="solar_day"``, ``patch_url=``) or
        ``stackstac.stack``. The loaders' names for what open_stac sets itself are refused,
        naming open_stac's own argument (``bands=``: ``assets=``; ``bounds=``: ``bbox=``;
        ``chunksize=``: ``chunks=``; ``epsg=``: ``crs=``), and so is stackstac's
        ``rescale=True`` (the scale would be applied twice: open_stac decodes it), and a
        keyword the engine does not take (naming the engine that does). odc-stac's
        ``nodata=`` must fit the assets' stored dtype; it fills the pixels no file covers and
        replaces the files' own fill, so it is what is masked (or kept as ``_FillValue``).

    Returns
    -------
    DataArray or Dataset
        A DataArray ``(time, y, x)`` for one asset, a Dataset of them for several; CRS written
        (rioxarray), dask-backed. The time axis is in ascending order whatever the items'
        order and the ``groupby`` (``groupby="id"`` keeps one step per item: steps of the same
        time keep the items' order). An asset of one overpass (key ``LST_Night_1km``, or
        ``LST_1KM`` of MOD21A1D/N items) has a ``day_night`` attribute, as
        :func:`xlstsr.io.open_modis` gives it, for the day/night pairing checks.

    Raises
    ------
    XlstsrError
        No items, items without the projection extension, items that disagree on an asset's
        coding, items of one CRS whose ``proj:transform`` puts an asset on different pixel
        grids (another pixel size, or corners a fraction of a pixel apart: they would be
        resampled onto the first item's grid) unless the output grid or resampling is chosen
        (``resampling=``, ``geobox=``, ``like=``, ``anchor=``, ``align=``),
        area arguments odc-stac refuses (``lon=`` without ``lat=``), items of several MODIS
        products (ids ``MOD11A1.`` and ``MYD11A1.``, or platforms terra and aqua), a
        ``nodata=`` the stored dtype cannot hold, an asset whose local file stores floats
        that are not whole numbers while its item declares an integer ``data_type`` with a
        scale or offset (values decoded already: scaled again, Kelvin read ~6 K), or ``engine='stackstac'``
        with ``decode=False`` on an asset without a scale whose files record a nodata (stackstac
        masks it: its stored value cannot come back). An asset labelled a temperature and
        stored as integers whose items give no scale and whose files are not local (their own
        scale cannot be read: digital numbers would be labelled Kelvin), or whose files declare
        a different scale or offset, of those the items do not give, in different collections.
    NoOverlapError
        An area (``bbox=``, ``lon=``/``lat=``, ``geopolygon=``, ``bounds_latlon=``) that meets
        none of the items: the cube would be NaN only.

    Warns
    -----
    UserWarning
        Items in several CRSs without ``crs=`` (``geobox=``, ``like=``): they are loaded on
        the most common CRS (the one ``bbox`` is read in), the others reprojected onto it with
        the ``resampling`` given (nearest by default); the warning names each CRS with its
        number of items. A kernel resampling over more than :data:`MAX_WHOLE_WARP_PIXELS`
        pixels per step, warped chunk by chunk (its values then depend on ``chunks``).

    Examples
    --------
    A local catalog (the shared data's MOD11A1 items: uint16 DN x 0.02, nodata 0) straight into
    the streaming writer:

    >>> import pystac, xlstsr
    >>> cat = pystac.Catalog.from_file("modis_h18v04_2020/catalog.json")  # doctest: +SKIP
    >>> items = [i for i in cat.get_items(recursive=True)
    ...          if i.collection_id.startswith("modis-11A1")]  # doctest: +SKIP
    >>> lst = open_stac(items, "LST_Day_1km", bbox=(0, 5.4e6, 2e5, 5.55e6))  # doctest: +SKIP
    >>> lst.attrs["units"]  # doctest: +SKIP
    'K'
    >>> xlstsr.upscale_to_zarr(lst, "lst_250m.zarr", factor=4)  # doctest: +SKIP

    Planetary Computer (signed hrefs):

    >>> import planetary_computer, pystac_client  # doctest: +SKIP
    >>> client = pystac_client.Client.open(url)  # doctest: +SKIP
    >>> items = client.search(collections=["modis-11A1-061"], bbox=bbox,  # doctest: +SKIP
    ...                       query={"platform": {"eq": "terra"}}).item_collection()  # one product
    >>> lst = open_stac(items, "LST_Day_1km", modifier=planetary_computer.sign_inplace)  # doctest: +SKIP
    """
    _require_stac(engine)  # the extra's packages, before the items are read
    items = _as_items(items)
    if not items:
        raise XlstsrError(
            "open_stac got no STAC items; check the search (bbox, datetime, collection)"
        )
    items = _utc_items(_modified(items, modifier))
    if engine not in ("odc", "stackstac"):  # before the checks of the items
        raise XlstsrError(f"engine must be 'odc' or 'stackstac', got {engine!r}")
    _check_own_keywords(kwargs, engine, bbox)
    if engine == "odc":  # odc-stac drops the keywords it does not know without a word
        _check_odc_keywords(kwargs, items, crs)
    else:  # stackstac.stack raised a bare TypeError for a date keyword
        dated = [k for k in kwargs if str(k).lower() in _DATE_KEYWORDS]
        if dated:
            raise XlstsrError(
                f"open_stac got {', '.join(k + '=' for k in dated)}: no keyword of open_stac "
                "or stackstac.stack chooses dates (every date of the items is loaded). "
                + _date_advice(dated[0], kwargs[dated[0]]))
        _check_stackstac_keywords(kwargs)
    bands = [assets] if isinstance(assets, str) else (list(assets) if assets is not None else None)
    # without assets=: the data assets (what odc-stac loads), else every asset
    keys = bands if bands is not None else (sorted({k for it in items for k in _data_assets(it)})
                                            or sorted({k for it in items for k in it.assets}))
    if bands is not None:  # else odc-stac's "No such band" is reported as a projection problem
        for k in bands:
            lacking = [it.id for it in items if k not in it.assets]
            if lacking:
                # the assets every item has (the union listed the asked-for asset and those
                # of other products: a catalog of MOD11A1 and MOD13A2 items)
                common = sorted(set.intersection(*(set(it.assets) for it in items)))
                if len(lacking) < len(items):
                    pick = f"select the items that have it: `[i for i in items if {k!r} in i.assets]`"
                    pick = (f"{pick}, or pass an asset every item has: {common}" if common
                            else f"{pick} (no asset is in every item)")
                else:
                    have = common or sorted({a for it in items for a in it.assets})
                    pick = f"pass one of the assets they have: {have}"
                raise XlstsrError(
                    f"{len(lacking)} of the {len(items)} items have no asset {k!r} (e.g. item "
                    f"{lacking[0]!r}): {pick}."
                )
    relative = None
    for k in keys:  # a missing local file would raise rasterio's own error only when computed
        for it in items:
            asset = it.assets.get(k)
            href = None if asset is None else (asset.get_absolute_href() or asset.href)
            if href and "://" not in href and not os.path.isabs(href) and relative is None \
                    and not os.path.exists(href):
                relative = (k, it.id, href)
            if href and "://" not in href and os.path.isabs(href) and not os.path.exists(href):
                raise InputNotFoundError(
                    f"asset {k!r} of item {it.id!r} points to {href}, which does not exist; "
                    "check the catalog's location, or rewrite the hrefs with `modifier=`."
                )
            if href and "://" not in href and os.path.isabs(href):
                _check_local_asset(href, k, it.id)
    _check_geographic_bbox(bbox, crs)
    _check_options(items, bands, bbox, crs, resolution, dtype, decode, chunks, engine, kwargs)
    if bbox is not None:  # numpy integers (a bbox from an array) were odc's "invalid coordinate"
        bbox = tuple(float(v) for v in bbox)
    if resolution is not None:  # and odc-stac refused a numpy int64/int32/float32 resolution
        resolution = float(resolution)
    if bands is None:
        _check_same_assets(items)
    if bbox is not None and (len(bbox) != 4 or not (bbox[0] < bbox[2] and bbox[1] < bbox[3])):
        # a reversed box loads an empty-looking cube of NaN without a word
        raise XlstsrError(
            f"bbox must be (minx, miny, maxx, maxy) with min < max, got {tuple(bbox)}; swap the "
            "reversed values."
        )
    if crs is not None:
        # another spelling of the items' own CRS (GDAL's MODIS sinusoidal) is theirs: the
        # loader then keeps their grid and labels exactly instead of recomputing them
        crs = _items_spelling(items, crs)
    if crs is not None and resolution is None:
        _require_resolution(crs, _common_crs(items))
    if bbox is not None:  # a box beside every item loads a cube of NaN without a word
        _check_bbox_overlap(items, bbox, crs if crs is not None else _common_crs(items),
                            engine, crs_given=crs is not None)
    _check_lonlat_overlap(items, kwargs)  # and so does one in longitude/latitude
    _check_groupby(items, kwargs.get("groupby"))
    _check_one_product(items)
    if engine == "odc":
        _refuse_fused_granules(items, kwargs.get("groupby"))
    _check_items_grids(items, keys, crs, resolution, kwargs, engine)
    if engine == "odc" and crs is None:
        _warn_mixed_crs(items, kwargs)
    items = _cwd_hrefs(items, keys)
    if relative is not None:
        # an item read as a dict (json.load) has no location to resolve it against: the
        # loader's error blamed the projection extension
        raise XlstsrError(
            f"asset {relative[0]!r} of item {relative[1]!r} has the relative href "
            f"{relative[2]!r} and the item has no location to resolve it against (an item read "
            "as a dict?): open the items with `pystac.Item.from_file(path)` or from their "
            "catalog, or make the hrefs absolute with `modifier=`."
        )
    codings = {k: band_coding(items, k) for k in keys}
    if kwargs.get("nodata") is None:  # else odc-stac fills with the user's and says so
        fills = {k: nd for k, c in codings.items() if c is None or c.nodata is None
                 if (nd := _file_nodata(items, k)) is not None}
        if fills:  # the file's own tag, which a catalogue without "nodata" relies on
            items = _with_nodata(items, fills)
            codings = {k: band_coding(items, k) for k in keys}
    # a scale or offset the items do not give is the files' own (digital numbers were
    # labelled K under raster:bands with a unit and no scale)
    if engine == "odc":  # stackstac masks the files' own nodata: such items opened there
        _check_integer_nan_nodata(items, codings, modifier)
    codings = _with_file_scaling(items, codings, modifier)
    _check_float_files_coded(items, codings)
    if engine == "stackstac" and not decode:
        _check_stackstac_stored(items, codings)
    if engine == "odc" and kwargs.get("nodata") is not None:
        _check_user_nodata(items, keys, kwargs["nodata"], codings)
    log.info(
        "open_stac: %d items, assets %s, %s, engine %s", len(items), keys,
        "decoding " + ", ".join(f"{k}: {c}" for k, c in codings.items() if c) if decode
        else "stored values", engine,
    )
    chunks = _full_chunks(chunks)
    if engine == "odc":
        import odc.stac

        # stored values in their own dtype: nodata compares exactly, decoding happens below
        load_kw: dict[str, Any] = dict(bands=bands, chunks=chunks, **kwargs)
        crs_given = crs is not None  # a bbox alone is read in the items' CRS: no warp
        if crs is None and bbox is not None:
            crs = _common_crs(items)
            if crs is None:
                raise XlstsrError(
                    "bbox needs a CRS: the items carry no proj:wkt2/proj:code, so pass `crs=`."
                )
        if crs is not None:
            load_kw["crs"] = crs
        if resolution is not None:
            load_kw["resolution"] = resolution
        if bbox is not None:
            load_kw["x"] = (bbox[0], bbox[2])
            load_kw["y"] = (bbox[1], bbox[3])
        # odc-stac snaps the output's edges to multiples of the pixel size (or to the items'
        # anchor, rounded): MODIS tiles' edges are 2e-9 pixel off one, and the cube came out
        # 2e-6 m off the files' own grid, on which no label met a file read's. Anchored on the
        # items' proj:transform instead, then labelled as the files' pixels are
        grid = None
        if not {"anchor", "align", "geobox", "like"} & set(kwargs):
            # the items' grid in the CRS odc-stac picks (the most common one) when none is given
            grid = _items_grid(items, keys, crs if crs is not None else _common_crs(items),
                               resolution)
            if grid is not None:
                load_kw["anchor"] = _grid_anchor(grid)
        # GDAL sizes a bilinear/cubic/lanczos kernel by the scale of each warp, and odc-stac
        # warps each chunk separately: values changed with chunks= (0.2 K on MOD11A1 put on
        # 0.01 degrees). Each step is warped whole (as one GDAL warp of the area), then cut
        # (on the items' own grid nothing is warped: a large tile read as it is is not warned)
        warped = (crs_given or resolution is not None or {"geobox", "like"} & set(kwargs)
                  or len(_crs_counts(items)) > 1)
        whole = warped and _kernel_resampling(kwargs.get("resampling"))
        if whole:
            load_kw["chunks"] = {**chunks, "y": -1, "x": -1}
        items = [_with_proj_ext(it) for it in items]
        try:
            ds = odc.stac.load(items, **load_kw)
            if whole:
                ds = _cut_whole_steps(ds, chunks, items, load_kw)
        except ValueError as err:
            if str(err).startswith(_ODC_ARGUMENT_ERRORS):
                ours = (" (open_stac passes its bbox= to odc-stac as x=, y=)"
                        if bbox is not None and str(err).startswith("Too many") else "")
                raise XlstsrError(
                    f"odc-stac refused the area arguments: {err}{ours}. Give the area one way: "
                    "bbox=(minx, miny, maxx, maxy) in the output CRS's units, lon=(min, max) "
                    "with lat=(min, max) in degrees, or geopolygon=; or the whole grid with "
                    "geobox= or like=, alone."
                ) from err
            if "Can not determine absolute path" in str(err):
                # a relative href with no location to resolve it against: not the projection
                raise XlstsrError(
                    f"odc-stac could not load the items ({err}): that asset's href is relative "
                    "and the item has no location to resolve it against (an item read as a "
                    "dict, or a file without self links). Open the items with "
                    "`pystac.Item.from_file(path)` or from their catalog, or make every asset's "
                    "href absolute with a `modifier=` that rewrites all of them, e.g. `def "
                    "fix(item): [setattr(a, 'href', os.path.join(folder, a.href)) for a in "
                    "item.assets.values()]`."
                ) from err
            if any(m in str(err) for m in _ODC_PROJECTION_ERRORS):
                raise XlstsrError(
                    f"odc-stac could not load the items ({err}). Items need the projection "
                    "extension (proj:code or proj:wkt2, proj:transform, proj:shape), or pass "
                    "`crs=` and `resolution=` explicitly."
                ) from err
            # another refusal (an option's value): blaming the items' metadata misled
            given = ", ".join(f"{k}={v!r:.40}" for k, v in kwargs.items())
            raise XlstsrError(
                f"odc-stac could not load the items ({err}): check the values of the options "
                + (f"passed on to it ({given}) and of " if given else "")
                + "crs=, resolution=, bbox= and chunks= against odc.stac.load's documentation."
            ) from err
        crs_out = ds.odc.crs.wkt
        exact = None
        if grid is not None:
            ds, exact = _on_items_labels(ds, grid)
    elif engine == "stackstac":
        import stackstac

        epsg = _epsg_of(crs)
        if crs is not None and epsg is None:
            raise XlstsrError(
                f"stackstac needs an EPSG code and {str(crs)[:60]!r} has none (MODIS sinusoidal "
                "has none); use engine='odc', which takes WKT/PROJ strings."
            )
        st_items = [_with_proj_epsg(it) for it in items]
        kwargs = {"rescale": False, **kwargs}
        # stackstac snaps its bounds to multiples of the resolution: a Landsat scene (edges at
        # odd multiples of 15 m) came out 15 m west and north of its pixels. On the items' own
        # grid the bounds are grown to its pixel edges instead, as odc-stac keeps it
        native = _native_grid(st_items, keys, epsg, resolution)
        if native is not None and not kwargs.get("snap_bounds", False):
            kwargs["snap_bounds"] = False
            latlon = kwargs.pop("bounds_latlon", None) if bbox is None else None
            if latlon is not None:  # stackstac would put it into the CRS and snap it
                from pyproj import Transformer

                bbox = Transformer.from_crs(4326, native[0], always_xy=True).transform_bounds(
                    *latlon, densify_pts=21)
            if bbox is not None:
                bbox = _on_grid(bbox, native[1])
        # float64 holds every stored integer exactly; stackstac's own fill is NaN
        stack_kw: dict[str, Any] = dict(
            assets=bands,
            epsg=epsg,
            resolution=resolution,
            bounds=bbox,
            dtype="float64",
            # stackstac's dims are y/x whatever the CRS: latitude/longitude are read as them
            chunksize=(chunks["time"], 1, chunks.get("y", chunks.get("latitude")),
                       chunks.get("x", chunks.get("longitude"))),
            fill_value=np.nan,
            xy_coords="center",
            **kwargs,
        )
        if stack_kw["assets"] is None:
            del stack_kw["assets"]
        try:
            da = stackstac.stack(st_items, **stack_kw)
        except ValueError as err:
            raise XlstsrError(
                f"stackstac could not load the items ({err}). It needs `proj:epsg` (or "
                "`proj:code` = 'EPSG:n'), `proj:transform` and `proj:shape`; for CRS without EPSG "
                "codes use engine='odc'."
            ) from err
        out_epsg = int(da.coords["epsg"].item()) if "epsg" in da.coords else epsg
        keep = ("time", "band", "x", "y")
        da = da.reset_coords([c for c in da.coords if c not in keep], drop=True)
        ds = da.to_dataset("band")
        for v in ds.data_vars:
            ds[v].attrs = {}
        crs_out = f"EPSG:{out_epsg}"
        exact = None
        if native is not None and kwargs.get("snap_bounds") is False:
            t = native[1]
            ds, exact = _on_items_labels(ds, (t[1], t[0], -t[3], t[2]))
    else:
        raise XlstsrError(f"engine must be 'odc' or 'stackstac', got {engine!r}")
    if "time" in ds.dims and not ds.indexes["time"].is_monotonic_increasing:
        # groupby='id' (or a grouping function) keeps the items' order: a search sorted newest
        # first gave a descending axis, on which .sel(time=slice(...)) raised KeyError. Stable:
        # steps of one time (a reprocessed granule kept by groupby='id') keep the items' order
        ds = ds.isel(time=np.argsort(ds["time"].values, kind="stable"))
    product = _product_name(items)
    # odc-stac fills with the user's nodata= (stackstac takes none)
    user_nodata = engine == "odc" and kwargs.get("nodata") is not None
    for v in list(ds.data_vars):
        coding = codings.get(str(v))
        var = (_decode(ds[v], coding, dtype, user_nodata) if decode
               else _encoded_attrs(ds[v], coding, user_nodata))
        if product is not None:  # e.g. xlstsr.qc reads the QC layout of MOD21 from it
            var.attrs["product"] = product
        dn = _asset_day_night(items, str(v))
        if dn is not None:
            # as open_modis: the pairing checks warn about a night field scored against a
            # day one (the asset key, its only name, is lost by to_cogs / open_cog)
            var.attrs["day_night"] = dn
        ds[v] = var.rio.write_crs(crs_out)
    ds = ds.rio.write_crs(crs_out)
    if exact is not None:  # the items' grid exactly (not one recomputed from the labels)
        ds = ds.rio.write_transform(exact)
    names = list(ds.data_vars)
    if len(names) == 1:
        out = ds[names[0]]
        out.name = names[0]
        return out
    return ds
