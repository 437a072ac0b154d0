"""Readers of real fine-scale thermal data: fine truth for ``evaluate``, fields for ``scaling_stats``.

- Landsat Collection 2 Level-2 (the surface temperature product USGS distributes for Landsat 4-9:
  ``ST_B10`` / ``ST_B6`` in K, NDVI from surface reflectance, clouds and water from ``QA_PIXEL``);
- Landsat-8 L1 (band 10 brightness temperature from the MTL radiance and K1/K2 constants, NDVI
  from TOA reflectance of bands 4/5, clouds from the pre-collection BQA);
- DESIREX 2008 airborne LST over Madrid (ENVI, read with rasterio).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import rioxarray
import xarray as xr

from ..errors import AllNaNError, InputNotFoundError, XlstsrError, warn
from ..validate import LANDSAT_C2_ST_OFFSET, LANDSAT_C2_ST_SCALE, check_bool, check_whole

__all__ = ["open_desirex", "open_landsat8_l1", "open_landsat_c2l2", "read_mtl"]

#: Collection 2 Level-2 scalings (USGS L2 science product guides, LSDS-1619 and LSDS-1618), used
#: when the scene's MTL does not give them: surface temperature K = DN x 0.00341802 + 149.0,
#: surface reflectance = DN x 2.75e-5 - 0.2; DN 0 is fill in every band
C2L2_ST_SCALE, C2L2_ST_OFFSET = LANDSAT_C2_ST_SCALE, LANDSAT_C2_ST_OFFSET  # (evaluate names them)
C2L2_SR_SCALE, C2L2_SR_OFFSET = 2.75e-5, -0.2
#: the valid surface reflectance (USGS's valid range of the SR bands, DN 7273-43636 with the
#: scaling above): outside it, atmospheric over-correction of dark targets (reflectance < 0) or
#: saturation (> 1), which gave NDVI beyond [-1, 1] (red -0.01 under NIR 0.35: NDVI 1.06)
C2L2_SR_VALID = (0.0, 1.0)
#: thermal, red and NIR bands by spacecraft: TIRS band 10 on Landsat 8-9, band 6 on Landsat 4-7
C2L2_BANDS = {"8-9": ("ST_B10", "SR_B4", "SR_B5"), "4-7": ("ST_B6", "SR_B3", "SR_B4")}
#: a file of a Level-2 scene, by what follows its prefix (``{prefix}ST_B10.TIF``...): a path to
#: one of them stands for its scene (its folder and prefix)
_C2L2_FILE = re.compile(r"(ST_B\d+|SR_B\d+|QA_PIXEL|QA_RADSAT|SR_QA_AEROSOL|SR_[A-Z_]+|ST_[A-Z]+|"
                        r"MTL|ANG)\.(tif|tiff|txt|xml|json)$", re.IGNORECASE)
#: a Level-1 thermal band (``{prefix}B10.TIF``, ``B6.TIF``, Landsat 7's ``B6_VCID_1.TIF``), not
#: the Level-2 ``ST_B10``: group 1 is the scene's prefix
_L1_THERMAL = re.compile(r"^(.*?)(?<!st_)b(?:10|11|6|6_vcid_[12])\.tiff?$", re.IGNORECASE)
#: what to do with a Collection 2 Level-1 scene (neither reader takes it): one text for
#: open_landsat8_l1 and open_landsat_c2l2, which sent such a scene to each other
_C2_L1_ADVICE = ("Download its Level-2 product (LC08_L2SP_..., surface temperature) and open it "
                 "with `xlstsr.io.open_landsat_c2l2`, or read its bands with "
                 "rioxarray.open_rasterio and mask clouds with its QA_PIXEL yourself.")


def _acquisition_time(mtl: dict[str, str], name: str = "") -> np.datetime64 | None:
    """The scene's acquisition time (UTC, naive ``datetime64[ns]``): the MTL's ``DATE_ACQUIRED``
    and ``SCENE_CENTER_TIME`` (older MTLs: ``ACQUISITION_DATE``, ``SCENE_CENTER_SCAN_TIME``),
    else the acquisition date of a Collection 2 product ID ``name`` (its 4th field); None when
    neither gives one.

    Examples
    --------
    >>> print(_acquisition_time({"DATE_ACQUIRED": "2015-08-04",
    ...                          "SCENE_CENTER_TIME": "16:19:21.79Z"}))
    2015-08-04T16:19:21.790000000
    >>> print(_acquisition_time({}, "LC08_L2SP_044034_20230815_20230822_02_T1_"))
    2023-08-15T00:00:00.000000000
    """
    date = mtl.get("DATE_ACQUIRED") or mtl.get("ACQUISITION_DATE")
    clock = mtl.get("SCENE_CENTER_TIME") or mtl.get("SCENE_CENTER_SCAN_TIME")
    if not date:
        m = re.match(r"L[A-Z]\d\d_[A-Z0-9]{4}_\d{6}_(\d{8})_", name, re.IGNORECASE)
        date = m.group(1) if m else None
    if not date:
        return None
    for text in ([f"{date}T{clock}"] if clock else []) + [date]:
        try:
            t = pd.Timestamp(text)
        except (TypeError, ValueError):
            continue  # a time of day that does not parse: the date alone still pairs the dates
        # UTC, without a zone, as the package's other dates (the date checks compare them)
        t = t.tz_convert("UTC").tz_localize(None) if t.tzinfo else t
        return np.datetime64(t.to_datetime64(), "ns")
    return None


def _with_time(ds: xr.Dataset, when: np.datetime64 | None, what: str) -> xr.Dataset:
    """``ds`` with its acquisition time as a scalar ``time`` coordinate on every variable, as
    ``evaluate``'s date checks read it (in attrs only, an sr of another date was scored against
    the scene without a word); a warning when the scene gives none."""
    if when is None:
        warn(f"{what} gives no acquisition date (no DATE_ACQUIRED in an MTL, no date in the file "
             "names): the Dataset has no 'time' coordinate, so evaluate cannot check that the "
             "fields it compares are of the same date; add it yourself "
             "(`ds = ds.assign_coords(time=np.datetime64('YYYY-MM-DDThh:mm'))`).", UserWarning)
        return ds
    return ds.assign_coords(time=when)


def read_mtl(path: str | os.PathLike[str], group: str | None = None) -> dict[str, str]:
    """``KEY = value`` pairs of a Landsat MTL text file (quotes removed): of every group
    (flattened: a key repeated in a later group wins), or of the named ``group`` only.

    A Collection 2 Level-2 MTL lists ``REFLECTANCE_MULT_BAND_4`` twice: the surface reflectance
    scaling (``LEVEL2_SURFACE_REFLECTANCE_PARAMETERS``) and, later, the top-of-atmosphere one
    (``LEVEL1_RADIOMETRIC_RESCALING``): flattened, the Level-1 value won and every NDVI was off.
    """
    out: dict[str, str] = {}
    groups: list[str] = []
    for line in Path(path).read_text().splitlines():
        m = re.match(r"\s*([A-Z0-9_]+)\s*=\s*(.+?)\s*$", line)
        if not m:
            continue
        key, value = m.group(1), m.group(2).strip('"')
        if key == "GROUP":
            groups.append(value)
        elif key == "END_GROUP":
            if groups:
                groups.pop()
        elif group is None or group in groups:
            out[key] = value
    return out


def _band(folder: Path, name: str, suffix: str = "") -> xr.DataArray:
    p = folder / name
    if not p.is_file() and p.with_suffix(".TIF").is_file():  # USGS downloads: upper-case .TIF
        p = p.with_suffix(".TIF")
    if not p.is_file():
        # USGS names files LC08_..._B10.TIF: say which prefix (and case) the folder has
        like = sorted(q.name for q in folder.iterdir() if suffix and
                      q.name.lower().endswith(suffix.lower())) if suffix else []
        seen = (f" The folder has {like[0]}: " + (
            f"pass prefix={like[0][:-len(suffix)]!r}.")) if like else ""
        raise InputNotFoundError(
            f"missing {p}: open_landsat8_l1 reads a Landsat-8 L1 scene folder holding "
            f"{{prefix}}B4.tif, B5.tif, B10.tif, BQA.tif and MTL.txt; check the folder and "
            f"`prefix=` (the part of the file names before 'B10.tif').{seen}"
        )
    # lazily, as every reader of xlstsr.io (read whole, a full scene took ~4 GiB at open)
    return rioxarray.open_rasterio(p, chunks={}, mask_and_scale=False).squeeze("band", drop=True)


def _collection(mtl: dict[str, str], mtl_file: Path, folder: Path) -> str:
    """The scene's collection (``""`` pre-collection, ``"1"``), or an XlstsrError for a later
    one, named by the reader to use: checked before any band is opened (a Collection 2 folder
    has no BQA, so the missing BQA was reported, with advice on ``prefix=`` that could not
    work, or that flipped between the ``ST_`` and ``SR_`` files of a Level-2 folder)."""
    collection = str(mtl.get("COLLECTION_NUMBER", "")).strip().lstrip("0")
    if collection in ("", "1"):
        return collection
    level2 = str(mtl.get("PROCESSING_LEVEL", "")).upper().startswith("L2") or any(
        re.search(r"ST_B(10|6)\.tiff?$", q.name, re.IGNORECASE) for q in folder.iterdir())
    how = ("It is a Level-2 scene: open it with `xlstsr.io.open_landsat_c2l2(folder)` "
           "(surface temperature, NDVI and the QA_PIXEL masks)." if level2 else _C2_L1_ADVICE)
    raise XlstsrError(
        f"{mtl_file.name} is a Collection {collection} scene: its quality band (QA_PIXEL) has "
        "another bit layout than the BQA open_landsat8_l1 reads (pre-collection and Collection "
        f"1). {how}"
    )


def open_landsat8_l1(
    folder: str | os.PathLike[str],
    *,
    prefix: str = "l8_",
    cloud_confidence: int | None = 2,
    cirrus_confidence: int | None = 3,
    mask_water: bool = True,
    water_confidence: str = "high",
) -> xr.Dataset:
    """Landsat-8 L1 scene as a Dataset: ``bt`` (band-10 brightness temperature, K), ``ndvi``,
    ``cloud`` and ``water`` masks, on the 30 m grid, with its acquisition time.

    ``L = RADIANCE_MULT_BAND_10 * DN + RADIANCE_ADD_BAND_10``; ``BT = K2 / ln(K1 / L + 1)``.
    NDVI from TOA reflectance ``rho = REFLECTANCE_MULT * DN + REFLECTANCE_ADD`` of bands 4 and 5
    (the sun-elevation division cancels in the ratio). BQA, pre-collection layout: bits 14-15
    cloud confidence, bits 12-13 cirrus confidence, bits 4-5 water confidence; Collection 1
    (``COLLECTION_NUMBER = 01`` in the MTL): bits 5-6 cloud confidence, bits 7-8 cloud shadow
    confidence (high, 3, is ``cloud`` too, as :func:`open_landsat_c2l2` masks cloud shadow,
    while the cloud test is on), bits 11-12 cirrus, no water bits (water is then not masked,
    with a warning); the pre-collection BQA has no cloud-shadow bits. Collection 2 is refused (its
    QA_PIXEL has another layout; told by the MTL, before any band is opened: a Level-2 scene is
    read by :func:`open_landsat_c2l2`). DN 0 is fill. ``bt`` and ``ndvi`` are NaN on clouds, fill
    and, with ``mask_water``, water (high water confidence by default: see
    ``water_confidence``). Band 10 is natively 100 m (resampled to 30 m by USGS): statistics
    below ~100 m describe the resampling, not the surface.

    Parameters
    ----------
    folder : path
        The scene's folder: ``{prefix}B4.tif``, ``B5.tif``, ``B10.tif``, ``BQA.tif`` and an
        ``MTL.txt`` (``.TIF`` as USGS names them is found too).
    prefix : str
        The part of the file names before ``B10.tif`` (``"LC08_L1TP_020039_"``...).
    cloud_confidence, cirrus_confidence : int or None
        Pixels of BQA cloud (cirrus) confidence at or above this level are clouds: 1 low,
        2 medium, 3 high; None: that test is off. On a Collection 1 scene, high-confidence
        cloud shadow (bits 7-8 = 3; USGS marks clear pixels "low", 1) is cloud too, unless
        ``cloud_confidence`` is None.
    mask_water : bool
        Set water (``water`` below) to NaN in ``bt`` and ``ndvi``.
    water_confidence : {"high", "medium"}
        The pre-collection BQA water confidence (bits 4-5) from which a pixel is ``water``:
        ``"high"`` (default) only 3 ("yes", 65-100 %), ``"medium"`` 2 or 3 (also "maybe",
        36-64 %). The "maybe" class is not water on the shared scene
        (LC80200392015216LGN00): it covers 41 % of it, 97 % of which (where clear of cloud)
        has an NDVI above 0.2, vegetated land (water is below ~0.1); counted as water, it set
        40 % of the scene to NaN. It defines the ``water`` variable whatever ``mask_water``
        (which only decides whether those pixels are set to NaN); ignored for Collection 1
        scenes (no water bits).

    Returns
    -------
    Dataset
        ``bt``, ``ndvi`` (float32), ``cloud``, ``water`` (bool), dask-backed (the bands are read
        at open only to check that not every pixel is masked), on the scene's grid and CRS; a
        scalar ``time`` coordinate, the acquisition time (``DATE_ACQUIRED`` +
        ``SCENE_CENTER_TIME``, UTC, naive ``datetime64[ns]``), on which :func:`xlstsr.evaluate`
        checks that a field of another date is not scored against it; ``scene`` and ``date``
        attrs.
    """
    for name, v in (("cloud_confidence", cloud_confidence),
                    ("cirrus_confidence", cirrus_confidence)):
        # 0 masked every pixel as cloud (each BQA pixel has a confidence >= 0) without a word
        if v is not None and check_whole(
                name, v, 1, hint="BQA confidence 1 low, 2 medium, 3 high, None: off") > 3:
            raise XlstsrError(f"{name} must be 1 (low), 2 (medium), 3 (high) or None (no "
                              f"masking on it): the BQA confidence has two bits, got {v!r}")
    # None: a level no pixel reaches (the two bits hold at most 3)
    cloud_level = 4 if cloud_confidence is None else cloud_confidence
    cirrus_level = 4 if cirrus_confidence is None else cirrus_confidence
    check_bool("mask_water", mask_water)
    water_levels = {"medium": 2, "high": 3}
    if not isinstance(water_confidence, str) or water_confidence not in water_levels:
        raise XlstsrError(f"water_confidence must be 'high' (BQA water confidence 3, the "
                          f"default) or 'medium' (2 or 3), got {water_confidence!r}")
    water_level = water_levels[water_confidence]
    folder = Path(folder)
    if not folder.is_dir():
        raise InputNotFoundError(f"no such folder: {folder}; open_landsat8_l1 takes the folder "
                                 "of one Landsat-8 L1 scene (its band GeoTIFFs and MTL.txt).")
    mtls = sorted(folder.glob(f"{prefix}MTL.txt")) or sorted(folder.glob("*MTL.txt"))
    if not mtls:  # next() of an empty iterator raised a bare StopIteration
        raise InputNotFoundError(
            f"no *MTL.txt metadata file in {folder}: band 10 needs the MTL's radiance and K1/K2 "
            "constants. Pass the folder of a Landsat-8 L1 scene (as downloaded: bands and MTL)."
        )
    mtl_file = mtls[0]
    mtl = read_mtl(mtl_file)
    collection = _collection(mtl, mtl_file, folder)
    need = [f"{k}_BAND_{b}" for k, b in (("RADIANCE_MULT", 10), ("RADIANCE_ADD", 10),
                                         ("K1_CONSTANT", 10), ("K2_CONSTANT", 10),
                                         ("REFLECTANCE_MULT", 4), ("REFLECTANCE_ADD", 4),
                                         ("REFLECTANCE_MULT", 5), ("REFLECTANCE_ADD", 5))]
    lacking = [k for k in need if k not in mtl]
    if lacking:  # a Landsat 5/7 MTL (thermal band 6) or a truncated file: a raw KeyError
        raise XlstsrError(
            f"{mtl_file.name} lacks {', '.join(lacking[:3])}"
            f"{' ...' if len(lacking) > 3 else ''} (spacecraft "
            f"{mtl.get('SPACECRAFT_ID', 'unknown')}): open_landsat8_l1 reads Landsat-8 L1 scenes "
            "(thermal band 10, red 4, NIR 5). A Landsat 5/7 scene (thermal band 6) is not "
            "supported; pass the MTL.txt of a Landsat-8 scene."
        )
    # lazy (dask) and float32, as open_landsat_c2l2: nothing is read until computed
    b10 = _band(folder, f"{prefix}B10.tif", "B10.tif")
    b4 = _band(folder, f"{prefix}B4.tif", "B4.tif")
    b5 = _band(folder, f"{prefix}B5.tif", "B5.tif")
    q = _band(folder, f"{prefix}BQA.tif", "BQA.tif").astype(np.uint16)

    def f32(key: str) -> np.float32:
        return np.float32(mtl[key])

    rad = b10.astype(np.float32) * f32("RADIANCE_MULT_BAND_10") + f32("RADIANCE_ADD_BAND_10")
    bt = f32("K2_CONSTANT_BAND_10") / np.log(f32("K1_CONSTANT_BAND_10") / rad + np.float32(1))
    r4 = b4.astype(np.float32) * f32("REFLECTANCE_MULT_BAND_4") + f32("REFLECTANCE_ADD_BAND_4")
    r5 = b5.astype(np.float32) * f32("REFLECTANCE_MULT_BAND_5") + f32("REFLECTANCE_ADD_BAND_5")
    ndvi = (r5 - r4) / (r5 + r4)
    if collection == "1":
        # Collection 1: bits 5-6 cloud confidence, 7-8 cloud shadow confidence, 11-12 cirrus,
        # no water bits (the pre-collection layout read here took every pixel for water, then
        # no cloud). High-confidence shadow (3) is masked as open_landsat_c2l2 masks QA_PIXEL
        # shadow: shadowed ground is cooler than the surface around it, wrong as truth. Not
        # at cloud_level: USGS flags every clear pixel's shadow confidence "low" (1).
        shadow = (((q >> 7) & 0b11) >= 3) if cloud_confidence is not None else False
        cloud = ((((q >> 5) & 0b11) >= cloud_level) | shadow
                 | (((q >> 11) & 0b11) >= cirrus_level))
        water = xr.zeros_like(q, dtype=bool)
        if mask_water:
            warn(
                f"{mtl_file.name} is a Collection 1 scene, whose BQA has no water bits: water "
                "is not masked (pass mask_water=False to silence this).",
                UserWarning,
            )
    else:  # pre-collection: bits 14-15 cloud, 12-13 cirrus, 4-5 water confidence
        cloud = (((q >> 14) & 0b11) >= cloud_level) | (((q >> 12) & 0b11) >= cirrus_level)
        water = ((q >> 4) & 0b11) >= water_level
    fill = (b10 == 0) | (b4 == 0) | (b5 == 0) | ((q & 1) == 1)
    bad = cloud | fill | (water if mask_water else False)
    # a reduction streamed chunk by chunk (the bands are read once, not kept)
    if bool(bad.all()):  # e.g. cloud_confidence=1: pre-collection BQA marks most clear "low"
        raise AllNaNError(
            f"every pixel of {mtl_file.name}'s scene is masked: cloud "
            f"{float(cloud.mean()):.0%}, fill {float(fill.mean()):.0%}, water "
            f"{float(water.mean()):.0%} (cloud_confidence="
            f"{cloud_confidence}, cirrus_confidence={cirrus_confidence}). Raise the "
            "confidences (the defaults are 2 and 3), or pass mask_water=False."
        )
    bt = bt.where(~bad).astype(np.float32)
    ndvi = ndvi.where(~bad).astype(np.float32)
    bt.attrs = {
        "standard_name": "brightness_temperature",
        "units": "K",
        "long_name": "Landsat-8 band 10 TOA brightness temperature",
    }
    ndvi.attrs = {"long_name": "NDVI (TOA reflectance, bands 4/5)", "units": "1"}
    cloud.attrs, water.attrs = {}, {}  # not the BQA file's (scale_factor...)
    ds = xr.Dataset(
        {"bt": bt, "ndvi": ndvi, "cloud": cloud, "water": water},
        attrs={"scene": mtl.get("LANDSAT_SCENE_ID", ""), "date": mtl.get("DATE_ACQUIRED", "")},
    )
    ds = _with_time(ds, _acquisition_time(mtl), mtl_file.name)
    return ds.rio.write_crs(b10.rio.crs)


def open_desirex(
    folder: str | os.PathLike[str],
    variable: str = "LST",
    resolution: int = 20,
    *,
    crs: str = "EPSG:32630",
) -> xr.DataArray:
    """One DESIREX 2008 Madrid airborne layer (ENVI ``{variable}_{resolution}m.img``).

    The ENVI headers carry a malformed UTM 30N definition (false easting 50000, semi-major axis
    637813); the transform is kept and ``crs`` (UTM 30N, WGS 84) is written instead. The
    ``long_name`` is that of the layer read: the headers' band names and descriptions (swapped
    between ``Class`` and ``Albedo``) are dropped.
    """
    p = Path(folder) / f"{variable}_{resolution}m.img"
    if not p.is_file():
        there = sorted(q.name for q in Path(folder).glob("*_*m.img")) if Path(folder).is_dir() \
            else []
        raise InputNotFoundError(
            f"missing {p}: open_desirex reads ENVI layers named {{variable}}_{{resolution}}m.img "
            f"(e.g. LST_20m.img, LST_100m.img); {folder} holds "
            f"{there if there else 'none'}."
        )
    da = rioxarray.open_rasterio(p).squeeze("band", drop=True).astype(np.float32)
    t = da.rio.transform()
    da = da.drop_vars("spatial_ref").rio.write_crs(crs).rio.write_transform(t)
    if variable == "LST":
        da.attrs = {
            "standard_name": "surface_temperature",
            "units": "K",
            "long_name": f"DESIREX airborne LST at {resolution} m (Madrid, 2008)",
        }
    else:
        # the label from the layer read, not its ENVI header: the Class and Albedo headers carry
        # each other's band names and description (the class map was titled "Albedo")
        da.attrs = {k: v for k, v in da.attrs.items()
                    if k not in ("description", "band_names", "Band_1")}
        da.attrs["long_name"] = f"DESIREX {variable} at {resolution} m (Madrid, 2008)"
    da.name = f"{variable.lower()}_{resolution}m"
    return da


def _c2l2_kind(prefix: str, find: dict[str, Path | None], mtl: Path | None) -> str | None:
    """The band set (``C2L2_BANDS`` key) of a scene: from its thermal file, else from its
    spacecraft (the MTL's ``SPACECRAFT_ID``, the mission of its product ID ``LC08_...``); None
    when nothing tells."""
    if find["ST_B10"] is not None:
        return "8-9"
    if find["ST_B6"] is not None:
        return "4-7"
    ids = [read_mtl(mtl).get("SPACECRAFT_ID", "")] if mtl is not None else []
    for text in [*ids, prefix]:
        m = re.match(r"(?:landsat_?|l[a-z])0?(\d)", text, re.IGNORECASE)
        if m and 4 <= int(m.group(1)) <= 9:
            return "8-9" if int(m.group(1)) >= 8 else "4-7"
    return None


def _c2_level1(folder: Path, names: dict[str, Path], prefix: str | None) -> str | None:
    """An error text when ``folder`` (its files, ``names`` by lower-case name) holds a Collection 2
    Level-1 scene (of ``prefix`` when given): a Level-1 thermal band (``B10.TIF``, not
    ``ST_B10.TIF``) with a QA_PIXEL, an MTL of ``COLLECTION_NUMBER = 02`` or ``_02_`` in its
    product ID; None otherwise (a BQA scene, pre-collection or Collection 1, is
    open_landsat8_l1's). Such a scene was sent to open_landsat8_l1, which refuses Collection 2."""
    for low, q in names.items():
        m = _L1_THERMAL.match(low)
        if m is None or (prefix is not None and m.group(1) != prefix.lower()):
            continue
        p = m.group(1)
        mtl = names.get(f"{p}mtl.txt")
        number = str(read_mtl(mtl).get("COLLECTION_NUMBER", "")).strip() if mtl else ""
        collection2 = (number.lstrip("0") == "2" if number else
                       f"{p}qa_pixel.tif" in names or f"{p}qa_pixel.tiff" in names
                       or re.search(r"_02_(t1|t2|rt)_?$", p) is not None)
        if collection2 and f"{p}bqa.tif" not in names and f"{p}bqa.tiff" not in names:
            return (f"{folder} holds a Landsat Collection 2 Level-1 scene ({q.name}), no "
                    "Level-2 surface temperature (*_ST_B10.TIF): Level-1 bands are "
                    "top-of-atmosphere radiance, and xlstsr's Level-1 reader takes only "
                    f"pre-collection and Collection 1 scenes (BQA). {_C2_L1_ADVICE}")
    return None


def _scenes_error(err: XlstsrError, folder: Path, names: dict[str, Path],
                  scenes: dict[str, str], lacking: list[str] | None) -> XlstsrError:
    """``err`` with what a caller other than Python (the command line, which has no
    ``prefix=``) needs to advise in its own words: ``folder``, ``scene_files`` (the thermal file
    of each scene there, which stands for its scene) and ``lacking`` (the files missing, or
    None: several scenes, none chosen)."""
    err.folder = folder  # type: ignore[attr-defined]
    err.scene_files = sorted(  # type: ignore[attr-defined]
        q for low, q in names.items()
        if any(low == f"{pre}{suffix}" for pre in scenes for suffix in ("st_b10.tif", "st_b6.tif")))
    err.lacking = lacking  # type: ignore[attr-defined]
    return err


def _c2l2_files(path: Path, prefix: str | None) -> tuple[Path, str, str, dict[str, Path | None]]:
    """The scene's folder, prefix, band set (``C2L2_BANDS`` key) and files (``st``, ``qa``;
    ``red``, ``nir``, ``st_qa`` and ``mtl`` or None), found by USGS's names
    ``{prefix}ST_B10.TIF``... in any case. ``path`` is the scene's folder or one of its files."""
    folder = path
    if path.is_file():  # one file of the scene: its folder, and its prefix unless given
        m = _C2L2_FILE.search(path.name)
        if m is None:
            l1 = _L1_THERMAL.match(path.name)
            level1 = _c2_level1(path.parent, {q.name.lower(): q for q in path.parent.iterdir()},
                                l1.group(1) if l1 and prefix is None else prefix) if l1 else None
            if level1:
                raise InputNotFoundError(level1)
            raise InputNotFoundError(
                f"{path} is a file, not a Landsat Collection 2 Level-2 scene folder nor one of "
                "its files ({prefix}ST_B10.TIF, {prefix}MTL.txt...): pass the scene's folder (a "
                "pre-collection or Collection 1 Level-1 scene, B10.TIF and BQA, is read by "
                "open_landsat8_l1).")
        folder = path.parent
        prefix = path.name[: m.start()] if prefix is None else prefix
    if not folder.is_dir():
        raise InputNotFoundError(f"no such folder: {folder}; open_landsat_c2l2 takes the folder "
                                 "of one Landsat Collection 2 Level-2 scene (its *_ST_B10.TIF...)")
    # case-insensitive: an archive tool or a user renames USGS's LC08_..._ST_B10.TIF in lower case
    names = {q.name.lower(): q for q in sorted(folder.iterdir()) if q.is_file()}
    scenes: dict[str, str] = {}  # lower-case prefix -> as spelled, of each thermal file
    for low, q in names.items():
        for suffix in ("st_b10.tif", "st_b6.tif"):
            if low.endswith(suffix):
                scenes.setdefault(low[: -len(suffix)], q.name[: -len(suffix)])
    if prefix is None:
        if not scenes:
            level1 = _c2_level1(folder, names, None)
            if level1:  # not "read by open_landsat8_l1", which refuses Collection 2
                raise InputNotFoundError(level1)
            raise InputNotFoundError(
                f"no *_ST_B10.TIF (Landsat 8-9) or *_ST_B6.TIF (Landsat 4-7), in any case, in "
                f"{folder}: open_landsat_c2l2 reads a Collection 2 Level-2 scene as USGS "
                "delivers it (the ST GeoTIFF, QA_PIXEL, MTL and optionally the SR GeoTIFFs). A "
                "pre-collection or Collection 1 Level-1 scene (B10.TIF, BQA) is read by "
                "open_landsat8_l1."
            )
        if len(scenes) > 1:
            shown = sorted(scenes.values())
            raise _scenes_error(XlstsrError(
                f"{folder} holds {len(scenes)} Level-2 scenes ({', '.join(shown[:3])}...): pass "
                "prefix= one of them (the part of the names before 'ST_B10.TIF', or the product "
                "ID)."), folder, names, scenes, None)
        prefix = next(iter(scenes.values()))
    elif not prefix.endswith("_") and any(n.startswith(prefix.lower() + "_") for n in names):
        prefix += "_"  # the product ID (ds.attrs['scene'], the MTL's LANDSAT_PRODUCT_ID)

    def find(band: str) -> Path | None:
        return names.get(f"{prefix}{band}.tif".lower()) or names.get(f"{prefix}{band}.tiff".lower())

    mtl = names.get(f"{prefix}MTL.txt".lower())
    kind = _c2l2_kind(prefix, {b: find(b) for b in ("ST_B10", "ST_B6")}, mtl)
    thermal = C2L2_BANDS[kind][0] if kind else None
    files: dict[str, Path | None] = {"st": find(thermal) if thermal else None,
                                     "qa": find("QA_PIXEL"), "st_qa": find("ST_QA"), "mtl": mtl}
    # the files as USGS names them: a product ID given as prefix (no file matched it, so no
    # '_' was added above) was shown glued to the band, "..._T1ST_B10.TIF"
    named = prefix + "_" if prefix[-1:].isalnum() else prefix
    lacking = [f"{named}{b}.TIF" for b, key in ((thermal, "st"), ("QA_PIXEL", "qa"))
               if b and files[key] is None]
    if kind is None:  # nothing says which mission: name both thermal bands
        lacking.insert(0, f"{named}ST_B10.TIF (Landsat 8-9) or {named}ST_B6.TIF (Landsat 4-7)")
    level1 = _c2_level1(folder, names, prefix) if files["st"] is None else None
    if level1:  # the prefix of a Level-1 scene: its QA_PIXEL is there, its ST band never is
        raise InputNotFoundError(level1)
    if lacking or kind is None:
        there = (f" The folder holds the scene(s) {', '.join(sorted(scenes.values())[:3])}: pass "
                 "prefix= one of them." if scenes and prefix.lower() not in scenes else "")
        raise _scenes_error(InputNotFoundError(
            f"{folder} lacks {', '.join(lacking)}: open_landsat_c2l2 needs the scene's surface "
            "temperature band and QA_PIXEL (fill, clouds, water); download them (or pass the "
            f"scene's prefix=).{there}"
        ), folder, names, scenes if there else {}, lacking)
    # surface reflectance is optional (NDVI only): the ST product comes without it
    files["red"], files["nir"] = find(C2L2_BANDS[kind][1]), find(C2L2_BANDS[kind][2])
    return folder, prefix, kind, files


def open_landsat_c2l2(
    folder: str | os.PathLike[str],
    *,
    prefix: str | None = None,
    mask_water: bool = True,
    max_uncertainty: float | None = None,
) -> xr.Dataset:
    """A Landsat Collection 2 Level-2 scene (Landsat 4-9) as a Dataset: ``lst`` (surface
    temperature, K), ``ndvi`` (surface reflectance, when the scene has it), ``cloud`` and
    ``water`` masks, on its 30 m grid, lazily, with its acquisition time.

    ``lst = DN x TEMPERATURE_MULT + TEMPERATURE_ADD`` of the MTL (``0.00341802`` and ``149.0``,
    USGS's constants, when the scene has no MTL); NDVI from ``SR_B5``/``SR_B4`` (Landsat 8-9) or
    ``SR_B4``/``SR_B3`` (Landsat 4-7), ``reflectance = DN x 2.75e-5 - 0.2``. ``QA_PIXEL`` bits:
    0 fill, 1 dilated cloud, 2 cirrus (Landsat 8-9), 3 cloud, 4 cloud shadow, 7 water; ``cloud``
    is any of bits 1-4. ``lst`` and ``ndvi`` are NaN on fill (``QA_PIXEL`` bit 0, thermal DN 0),
    ``cloud`` and (``mask_water``) water, ``ndvi`` also where a reflectance band is fill (DN 0)
    or outside USGS's valid range (reflectance 0-1, DN 7273-43636: a negative reflectance, from
    the over-correction of dark targets, gives an NDVI beyond [-1, 1]), and ``lst`` where
    ``ST_QA``'s uncertainty (K) exceeds ``max_uncertainty`` (the product's own error estimate,
    larger near clouds; None: not used). The thermal band is natively 100 m (Landsat 8-9) or
    60-120 m (4-7), resampled to 30 m by USGS: statistics below that scale describe the
    resampling. As truth for 1 km -> 250 m, aggregate it first:
    ``xlstsr.evaluate(sr, scene["lst"], ...)`` reprojects it onto the output's grid.

    Parameters
    ----------
    folder : path
        The scene's folder, as USGS delivers it: ``{prefix}ST_B10.TIF`` (Landsat 8-9) or
        ``{prefix}ST_B6.TIF`` (4-7) and ``{prefix}QA_PIXEL.TIF`` are needed; the red and NIR
        ``SR_B*.TIF`` (for ``ndvi``), ``ST_QA.TIF`` (for ``max_uncertainty``) and ``MTL.txt``
        (scalings, acquisition time) are read when present. File names match in any case
        (``*_st_b10.tif``). The path of one of the scene's files (its ``ST_B10.TIF``, its
        ``MTL.txt``...) stands for its folder and prefix.
    prefix : str, optional
        The part of the file names before ``ST_B10.TIF`` (``"LC08_L2SP_..._02_T1_"``) or the
        product ID (``ds.attrs['scene']``, without the trailing ``_``); needed when the folder
        holds several scenes. Default: the one scene of the folder.
    mask_water : bool
        Set ``QA_PIXEL`` water (bit 7) to NaN in ``lst`` and ``ndvi``.
    max_uncertainty : float, optional
        Set ``lst`` to NaN where ``ST_QA`` gives an uncertainty above this (K); needs the
        scene's ``ST_QA.TIF``. None: not used.

    Returns
    -------
    Dataset
        ``lst`` (float32, K), ``ndvi`` (float32; absent for a surface-temperature-only scene,
        without its ``SR`` bands), ``cloud`` and ``water`` (bool), dask-backed, on the scene's
        grid and CRS. A scalar ``time`` coordinate holds the acquisition time (the MTL's
        ``DATE_ACQUIRED`` + ``SCENE_CENTER_TIME``, UTC, naive ``datetime64[ns]``; without an
        MTL, the date of the product ID): :func:`xlstsr.evaluate` refuses to score a field of
        another date against ``ds["lst"]``. Attrs ``scene`` (the product ID), ``date`` and
        ``spacecraft``.

    Raises
    ------
    InputNotFoundError
        No such folder, no Level-2 scene in it, or the scene lacks its thermal band or
        ``QA_PIXEL`` (or ``ST_QA`` with ``max_uncertainty``).
    XlstsrError
        Several scenes and no ``prefix``, bands on different grids, or bands already decoded
        (not integers).

    Examples
    --------
    >>> import xlstsr
    >>> scene = xlstsr.io.open_landsat_c2l2("LC08_L2SP_044034_20230815_20230822_02_T1")  # doctest: +SKIP
    >>> scores = xlstsr.evaluate(sr, scene["lst"], coarse=lst)  # doctest: +SKIP
    """
    check_bool("mask_water", mask_water)
    if max_uncertainty is not None:
        from ..validate import check_number

        # a limit <= 0 K keeps no pixel (ST_QA is never 0): an empty scene, said nowhere
        check_number("max_uncertainty", max_uncertainty, 0, lo_open=True,
                     hint="in K, e.g. 2.0; None: not used")
    folder, prefix, kind, files = _c2l2_files(Path(folder), prefix)
    mtl = read_mtl(files["mtl"]) if files["mtl"] is not None else {}
    st_band, red_band, nir_band = C2L2_BANDS[kind]
    # the Level-2 scalings from their own groups (the MTL repeats REFLECTANCE_* for Level 1)
    level2 = {k: read_mtl(files["mtl"], group=f"LEVEL2_SURFACE_{k}_PARAMETERS")
              if files["mtl"] is not None else {} for k in ("TEMPERATURE", "REFLECTANCE")}

    def scaling(kind_key: str, band: str, scale: float, offset: float) -> tuple[float, float]:
        tag = band.split("_")[1]  # B10, B4...
        table = level2[kind_key] or mtl  # an MTL without the groups: its flat keys
        mult = table.get(f"{kind_key}_MULT_BAND_{band}") or table.get(
            f"{kind_key}_MULT_BAND_{tag[1:]}")
        add = table.get(f"{kind_key}_ADD_BAND_{band}") or table.get(
            f"{kind_key}_ADD_BAND_{tag[1:]}")
        return (float(mult), float(add)) if mult and add else (scale, offset)

    def dn(key: str) -> xr.DataArray:
        da = rioxarray.open_rasterio(files[key], chunks={}, mask_and_scale=False)
        da = da.squeeze("band", drop=True)
        if not np.issubdtype(da.dtype, np.integer):
            raise XlstsrError(
                f"{files[key].name} holds {da.dtype} values, not the product's uint16 digital "
                "numbers: open_landsat_c2l2 reads the files as USGS delivers them (already "
                "converted data can be opened with rioxarray.open_rasterio)."
            )
        return da

    with_sr = files["red"] is not None and files["nir"] is not None
    if (files["red"] is None) != (files["nir"] is None):  # half an NDVI: a partial download
        have, lack = ((red_band, nir_band) if files["red"] is not None else (nir_band, red_band))
        warn(f"{folder} has {prefix}{have}.TIF but not {prefix}{lack}.TIF: NDVI needs both, the "
             "Dataset has no 'ndvi'; download the missing band for it.", UserWarning)
    bands = {"st": dn("st"), "qa": dn("qa")} | ({"red": dn("red"), "nir": dn("nir")}
                                                 if with_sr else {})
    grids = {k: (v.shape, v.rio.transform()) for k, v in bands.items()}
    if len({(g[0], tuple(g[1])) for g in grids.values()}) > 1:
        raise XlstsrError(
            f"the bands of {prefix} are on different grids ({', '.join(f'{k} {g[0]}' for k, g in grids.items())}): "
            "a Level-2 scene's bands share one 30 m grid; are they from the same scene?"
        )
    st, qa = bands["st"], bands["qa"]
    ms, ads = scaling("TEMPERATURE", st_band, C2L2_ST_SCALE, C2L2_ST_OFFSET)
    q = qa.astype(np.uint16)
    # the truth's mask from its own bands: the same lst with or without the SR download
    fill = ((q & 1) == 1) | (st == 0)
    cloud = (q & 0b11110) != 0  # dilated cloud, cirrus, cloud, cloud shadow
    water = ((q >> 7) & 1) == 1
    bad = fill | cloud | (water if mask_water else False)
    lst = (st.astype(np.float32) * np.float32(ms) + np.float32(ads)).where(~bad)
    if max_uncertainty is not None and files["st_qa"] is not None:
        unc = rioxarray.open_rasterio(files["st_qa"], chunks={}, mask_and_scale=False)
        unc = unc.squeeze("band", drop=True).astype(np.float32) * np.float32(0.01)  # DN x 0.01 K
        lst = lst.where(unc <= max_uncertainty)
    elif max_uncertainty is not None:
        raise InputNotFoundError(f"max_uncertainty needs {prefix}ST_QA.TIF (the product's "
                                 f"uncertainty), absent from {folder}; pass max_uncertainty=None.")
    lst.attrs = {"standard_name": "surface_temperature", "units": "K",
                 "long_name": f"Landsat Collection 2 Level-2 surface temperature ({st_band})"}
    cloud.attrs = {"long_name": "QA_PIXEL cloud, dilated cloud, cirrus or cloud shadow"}
    water.attrs = {"long_name": "QA_PIXEL water"}
    data = {"lst": lst.astype(np.float32)}
    if with_sr:
        red, nir = bands["red"], bands["nir"]
        mr, ar = scaling("REFLECTANCE", red_band, C2L2_SR_SCALE, C2L2_SR_OFFSET)
        mn, an = scaling("REFLECTANCE", nir_band, C2L2_SR_SCALE, C2L2_SR_OFFSET)
        r4 = red.astype(np.float32) * np.float32(mr) + np.float32(ar)
        r5 = nir.astype(np.float32) * np.float32(mn) + np.float32(an)
        # USGS's valid range (reflectance 0-1), fill (DN 0, reflectance -0.2) included: a
        # slightly negative reflectance is not kept (nor clipped to 0, an NDVI of exactly 1 then)
        # as some users do for the bands themselves: under any NIR it makes NDVI > 1
        lo, hi = (np.float32(v) for v in C2L2_SR_VALID)
        valid = (r4 >= lo) & (r4 <= hi) & (r5 >= lo) & (r5 <= hi) & (r4 + r5 > 0)
        ndvi = ((r5 - r4) / (r5 + r4)).where(~bad & valid)
        ndvi.attrs = {"long_name": f"NDVI (surface reflectance, {nir_band}/{red_band})",
                      "units": "1"}
        data["ndvi"] = ndvi.astype(np.float32)
    # the Level-2 product ID of PRODUCT_CONTENTS: flattened, the MTL's last LANDSAT_PRODUCT_ID
    # (LEVEL1_PROCESSING_RECORD's, the Level-1 source) won, and prefix=ds.attrs['scene'] failed
    contents = read_mtl(files["mtl"], group="PRODUCT_CONTENTS") if files["mtl"] is not None \
        else {}
    scene = contents.get("LANDSAT_PRODUCT_ID") or mtl.get("LANDSAT_PRODUCT_ID",
                                                         prefix.rstrip("_"))
    ds = xr.Dataset(data | {"cloud": cloud, "water": water},
                    attrs={"scene": scene, "date": mtl.get("DATE_ACQUIRED", ""),
                           "spacecraft": mtl.get("SPACECRAFT_ID", f"Landsat {kind}")})
    ds = _with_time(ds, _acquisition_time(mtl, prefix), f"scene {scene}")
    return ds.rio.write_crs(st.rio.crs)
