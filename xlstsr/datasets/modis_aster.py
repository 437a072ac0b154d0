"""The MODIS/ASTER pairs of the shared data (``modis_aster/``): readers, truth mask and split.

55 pairs of MODIS 1 km LST, MODIS 250 m NDVI and ASTER 250 m LST, the test set of Ait-Bachir,
Granero-Belinchon, Michel, Michel, Briottet, Drumetz (2025), "Land Surface Temperature
Super-Resolution with a Scale-Invariance-Free Neural Approach: Application to MODIS"
(hal-04925380), CeCILL-C. The data are never bundled with the package (see :func:`data_root`).

- :func:`open_modis_aster_pair`: the three fields as they are stored, georeferenced, ASTER decoded
  (:func:`~xlstsr.evaluate.decode_reference`) and optionally masked with :func:`aster_truth_mask`
  (:func:`~xlstsr.evaluate.reference_mask` with ASTER's settings: one truth-mask rule). Both are
  imported from the submodule, ``from xlstsr.evaluate import decode_reference, reference_mask``
  (``xlstsr.evaluate`` itself is the function).
- :func:`open_modis_aster_aligned`: the same pair with the NDVI and the masked ASTER put on the
  250 m grid of the MODIS LST (what training and the scale-correction tools use);
  :func:`modis_aster_arrays` stacks several pairs as numpy arrays.
- :func:`ground_overlap`, :func:`pairs_apart`: which pairs share ground (windows of one MODIS
  tile overlap across dates), for splits by ground; :func:`apart_from_training`,
  :func:`seen_in_training`, :func:`training_ground`: the bundled models' training ground and
  pairs, in any folder.
- :data:`TRAIN_PAIRS`, :data:`VAL_PAIRS`, :data:`EVAL_PAIRS`: the split the bundled weights were
  trained with; every accuracy figure is on ``EVAL_PAIRS`` (never trained on; 23 of them share
  ground with a training pair of another date: :func:`apart_from_training` keeps the 12 that
  do not).
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rioxarray
import xarray as xr
from rasterio.enums import Resampling

from ..errors import (
    AllNaNError,
    GridError,
    GuideAlignmentWarning,
    GuideScaleError,
    InputNotFoundError,
    InputTypeError,
    PhysicalRangeError,
    UndeclaredFillError,
    XlstsrError,
)
from ..evaluate import decode_reference, reference_mask
from ..grid import align_guide, fine_grid, with_grid
from ..guide import check_alignment
from ..validate import check_bool, spatial_dims
from .root import DATA_ENV, _missing_data, data_root

__all__ = [
    "ASTER_ERODE",
    "ASTER_NODATA",
    "ASTER_SCALE",
    "ASTER_VALID_MIN",
    "EVAL_PAIRS",
    "FACTOR",
    "MODIS_SINUSOIDAL",
    "TRAIN_PAIRS",
    "TRAIN_PAIR_BOUNDS",
    "TRAIN_PAIR_FINGERPRINTS",
    "VAL_PAIRS",
    "PairIds",
    "apart_from_training",
    "aster_truth_mask",
    "ground_overlap",
    "iter_modis_aster",
    "lst_fingerprint",
    "modis_aster_arrays",
    "modis_aster_pairs",
    "open_modis_aster_aligned",
    "open_modis_aster_pair",
    "pairs_apart",
    "seen_in_training",
    "training_ground",
]

#: Ratio of the MODIS LST pixel (926.6 m) to the NDVI / ASTER pixel (231.7 m).
FACTOR = 4
#: ASTER LST is stored as Kelvin x 10 with 0 outside the scene (no nodata tag).
ASTER_SCALE = 0.1
ASTER_NODATA = 0.0
#: The data README's truth mask: warmer than 230 K (colder pixels are cloud-contaminated), and
#: more than 3 pixels from the fill and from those colder pixels (mixed border, cloud edges).
ASTER_ERODE = 3
ASTER_VALID_MIN = 230.0

#: the 20 pairs used for training (and, among them, early-stopping validation)
TRAIN_PAIRS: tuple[str, ...] = (
    "001", "020", "040", "052", "068", "075", "082", "093", "097", "112",
    "117", "126", "131", "136", "163", "171", "176", "185", "196", "202",
)  # fmt: skip
#: the pairs of TRAIN_PAIRS used for early stopping and model selection (not for gradient steps)
VAL_PAIRS: tuple[str, ...] = ("040", "117", "171", "202")
#: the 35 pairs held out for evaluation: never trained on (23 share ground with TRAIN_PAIRS on
#: other dates)
EVAL_PAIRS: tuple[str, ...] = (
    "002", "015", "034", "035", "044", "045", "061", "073", "074", "076",
    "077", "084", "086", "096", "102", "109", "113", "115", "119", "124",
    "129", "133", "135", "145", "151", "164", "167", "173", "177", "183",
    "191", "193", "198", "201", "216",
)  # fmt: skip

#: fingerprints (:func:`lst_fingerprint`) of the MODIS LST of each of ``TRAIN_PAIRS``: the bundled
#: models' training pairs are recognised in any folder, whatever ids they carry there
#: (:func:`seen_in_training`)
TRAIN_PAIR_FINGERPRINTS: dict[str, str] = {
    "001": "989a71383e89f61a", "020": "7c6e7aeac08f169b", "040": "6ad04509487f89b3",
    "052": "13d50f816228813f", "068": "2f2e48884d3f7a3c", "075": "7fe4a3c4b82d80e9",
    "082": "1e9e6e3c3b76a4b0", "093": "a4f3e8c6f5e90ab4", "097": "27a8674411d24841",
    "112": "db4b425b1878b3d3", "117": "96b3ce04935de87d", "126": "03b540f2b806d2ce",
    "131": "d98a9b19cd62afd8", "136": "c0b794b643437e61", "163": "9a6d6df97c5143d6",
    "171": "e262ef34585338e0", "176": "ff320055b9ed6ef2", "185": "2d42b4a11f4c09b1",
    "196": "703c63c32221cc29", "202": "41a473713099d84e",
}  # fmt: skip

#: MODIS LST footprints (left, bottom, right, top; MODIS sinusoidal metres) of ``TRAIN_PAIRS``:
#: the ground the bundled models were trained on, for :func:`apart_from_training` in any folder
TRAIN_PAIR_BOUNDS: dict[str, tuple[float, float, float, float]] = {
    "001": (46331.3, 4843471.1, 105635.3, 4902775.2),
    "020": (391962.6, 4848104.3, 451266.6, 4907408.3),
    "040": (25018.9, 5130725.0, 84322.9, 5190029.1),
    "052": (307639.6, 5242846.7, 366943.7, 5302150.7),
    "068": (512423.9, 4886095.9, 571727.9, 4945399.9),
    "075": (91735.9, 5018603.3, 151039.9, 5077907.4),
    "082": (161232.8, 4820305.5, 220536.9, 4879609.5),
    "093": (188105.0, 4937986.9, 247409.0, 4997291.0),
    "097": (248335.6, 4950033.1, 307639.6, 5009337.1),
    "112": (258528.5, 4922234.3, 317832.5, 4981538.3),
    "117": (108415.2, 4709110.5, 167719.2, 4768414.5),
    "126": (815430.4, 4958372.7, 874734.4, 5017676.7),
    "131": (69496.9, 4962079.2, 128800.9, 5021383.2),
    "136": (517983.6, 4945399.9, 577287.6, 5004704.0),
    "163": (860835.0, 4864783.5, 920139.1, 4924087.6),
    "171": (204784.2, 4959299.3, 264088.2, 5018603.3),
    "176": (14826.0, 4665559.1, 74130.0, 4724863.1),
    "185": (163086.1, 5310490.4, 222390.1, 5369794.4),
    "196": (297446.8, 5097366.5, 356750.8, 5156670.5),
    "202": (175132.2, 4879609.5, 234436.2, 4938913.6),
}
#: the MODIS sinusoidal CRS of those bounds
MODIS_SINUSOIDAL = "+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs"

_SOURCE = "Ait-Bachir et al. 2025 (hal-04925380) test set, CeCILL-C"


#: the three files of a pair, ``<pair>_<kind>.tif``
_PAIR_FILES = ("modis_lst_1km", "modis_ndvi_250m", "aster_lst_250m")


def _one_laid_out_like(base: Path, laid_out: Any, what: str, fixed: str) -> Path | None:
    """The one subfolder of ``base`` for which ``laid_out(folder)`` holds: a held-back dataset
    folder of another name than the shared ``fixed`` (``modis_aster_hb``, ``mod11a1_2019``),
    as ``scripts/train_bundled.cube_dir`` finds a cube's. None when there is none; several are
    refused, naming them (which one is meant cannot be guessed)."""
    found = sorted(d for d in base.iterdir() if d.is_dir() and laid_out(d)) \
        if base.is_dir() else []
    if len(found) > 1:
        raise XlstsrError(
            f"{base} holds no {fixed}/ but {len(found)} folders laid out like it ({what}): "
            f"{', '.join(d.name for d in found[:6])}{' ...' if len(found) > 6 else ''}; pass "
            f"the one to use as root (the dataset folder itself, e.g. root={str(found[0])!r})")
    return found[0] if found else None


def _pairs_folder(folder: Path) -> bool:
    """Whether ``folder`` is laid out like ``modis_aster/``: a pairs.csv and pair files."""
    return (folder / "pairs.csv").is_file() and any(folder.glob("*_modis_lst_1km.tif"))


def _modis_aster_dir(root: str | os.PathLike[str] | None) -> Path:
    base = data_root(root)
    for cand in (base / "modis_aster", base):
        if (cand / "pairs.csv").is_file():
            return cand
    folder = base / "modis_aster"
    if not folder.is_dir() and any(base.glob("*_modis_lst_1km.tif")):
        folder = base  # a pairs folder of another name passed as root: it is the right folder too
    elif not folder.is_dir():  # a data folder holding a held-back pairs folder of another name
        other = _one_laid_out_like(base, _pairs_folder, "pairs.csv and "
                                   "<pair>_modis_lst_1km.tif files", "modis_aster")
        if other is not None:
            return other
    if folder.is_dir():  # the right folder, without its table: pointing root elsewhere won't help
        found = sorted(p.name[: -len("_modis_lst_1km.tif")]
                       for p in folder.glob("*_modis_lst_1km.tif"))
        listing = (f"pair files found: {', '.join(found[:10])}"
                   + (", ..." if len(found) > 10 else "") if found
                   else "no <pair>_modis_lst_1km.tif found either")
        problem = f"{folder} has no pairs.csv ({listing})"
        fix = (f"write {folder / 'pairs.csv'}, one row per pair: pair,aster_view_angle_deg "
               "(e.g. '001,12.1' for 001_modis_lst_1km.tif, 001_modis_ndvi_250m.tif, "
               "001_aster_lst_250m.tif)")
        raise _missing_data(f"{problem}: {fix}.", folder / "pairs.csv", problem, "modis_aster",
                            fix)
    problem = f"no modis_aster/pairs.csv under {base}"
    raise _missing_data(  # a benchmark words the fix with its own options (exit_on_missing_data)
        f"{problem}: point root (or ${DATA_ENV}) to the folder that holds modis_aster/, or "
        "to the pairs folder itself (the one holding pairs.csv and the "
        "<pair>_modis_lst_1km.tif, _modis_ndvi_250m.tif, _aster_lst_250m.tif files).",
        base / "modis_aster" / "pairs.csv", problem, "modis_aster")


class PairIds(list):
    """The pair ids :func:`modis_aster_pairs` returns (a list of str), with what it found:
    ``left_out`` maps each pair ``pairs.csv`` lists but whose MODIS LST file is not in the
    folder to the reason (as ``ecostress_scenes``' ``attrs["left_out"]``, for a report to name);
    ``incomplete`` maps each listed pair whose LST is there but not its NDVI or ASTER file to
    the files missing (kept: the ground tools read the LST alone; :func:`iter_modis_aster`
    skips them); ``added`` lists the pairs whose three files are in the folder but which
    ``pairs.csv`` does not list."""

    left_out: dict[str, str]
    incomplete: dict[str, list[str]]
    added: list[str]


def _missing_files(folder: Path, pid: str) -> list[str]:
    """The names of a pair's three files (:data:`_PAIR_FILES`) that are not in ``folder``."""
    return [f"{pid}_{k}.tif" for k in _PAIR_FILES if not (folder / f"{pid}_{k}.tif").is_file()]


def _names(items: Sequence[str], n: int = 8) -> str:
    return ", ".join(items[:n]) + (" ..." if len(items) > n else "")


def modis_aster_pairs(root: str | os.PathLike[str] | None = None) -> list[str]:
    """Ids (``'001'``...) of the MODIS/ASTER pairs of ``modis_aster/pairs.csv`` whose three files
    (``<pair>_modis_lst_1km.tif``, ``_modis_ndvi_250m.tif``, ``_aster_lst_250m.tif``) are there.

    The files are checked up front: a listed pair without its MODIS LST file (a partial copy
    holding the full ``pairs.csv``) is left out, with one warning naming them, rather than
    failing an iteration half-way; a folder holding none of the listed pairs is refused. A listed
    pair with its LST but without its NDVI or ASTER file is kept (:func:`ground_overlap`,
    :func:`apart_from_training`, :func:`seen_in_training` read the LST alone) and named in
    ``incomplete``; :func:`iter_modis_aster` skips it up front. A pair whose three
    files are in the folder but which ``pairs.csv`` does not list (added later) is included,
    after the listed ones, with a warning naming it. A folder of another name laid out like
    ``modis_aster/`` is found in the data folder ``root`` (one such folder only), and the pairs
    folder itself can be passed as ``root``.

    Returns
    -------
    PairIds
        A list of str, with ``left_out`` (pair -> reason), ``incomplete`` (pair -> its missing
        files) and ``added`` (pairs not in ``pairs.csv``) attributes.

    Examples
    --------
    >>> len(modis_aster_pairs())  # doctest: +SKIP
    55
    """
    folder = _modis_aster_dir(root)
    path = folder / "pairs.csv"
    table = pd.read_csv(path, dtype={"pair": str})
    if "pair" not in table.columns:  # a header-less list of ids, or a ';'-separated export
        cols = ", ".join(repr(str(c)) for c in table.columns[:4])
        raise XlstsrError(
            f"{path} has no 'pair' column (its header reads {cols}): write it comma-separated "
            "with the header pair,aster_view_angle_deg and one row per pair (e.g. '001,12.1' "
            "for 001_modis_lst_1km.tif, 001_modis_ndvi_250m.tif, 001_aster_lst_250m.tif)")
    # a blank row (a trailing ',' line of a spreadsheet) is no pair: it was the pair id 'nan'
    listed = [str(p).strip() for p in table["pair"].dropna()]
    ids = [_listed_id(p, folder) for p in listed if p]
    unique = list(dict.fromkeys(ids))
    if len(unique) < len(ids):  # a pair listed twice was scored twice, weighing double
        repeated = sorted({p for p in ids if ids.count(p) > 1})
        warnings.warn(f"{folder / 'pairs.csv'} lists the pairs {repeated} more than once: each "
                      "is used once", UserWarning, stacklevel=2)
    # checked up front: a partial copy with the full table failed at its first missing file,
    # after the pairs before it were processed
    files = {p: _missing_files(folder, p) for p in unique}
    missing = {p: m for p, m in files.items() if f"{p}_modis_lst_1km.tif" in m}
    if unique and len(missing) == len(unique):
        raise _missing_data(
            f"none of the {len(unique)} pairs {path} lists has its files in {folder} (e.g. "
            f"{_names(missing[unique[0]], 3)} missing): copy the pairs' files there, or pass "
            "as root the folder that holds them.", folder / missing[unique[0]][0],
            f"none of the pairs {path} lists has its files in {folder}", "modis_aster")
    left_out = {p: f"missing {', '.join(m)} in {folder}" for p, m in missing.items()}
    if left_out:
        warnings.warn(
            f"{len(left_out)} of the {len(unique)} pairs {path} lists have no MODIS LST file "
            f"in {folder} and are left out: {_names(list(left_out))} (e.g. "
            f"{_names(next(iter(missing.values())), 3)} missing). Copy their files there, or "
            "remove their rows from pairs.csv.",
            UserWarning, stacklevel=2)
    # complete pairs pairs.csv does not list (added later) were skipped without a word
    on_disk = sorted(p.name[: -len("_modis_lst_1km.tif")]
                     for p in folder.glob("*_modis_lst_1km.tif"))
    unlisted = [p for p in on_disk if p not in unique]
    added = [p for p in unlisted if not _missing_files(folder, p)]
    if added:
        incomplete = [p for p in unlisted if p not in added]
        warnings.warn(
            f"{path} does not list {len(added)} pair(s) whose three files are in {folder}; "
            f"they are used too: {_names(added)}"
            + (f" (and {_names(incomplete)}, lacking a file, are not)" if incomplete else "")
            + ". Add them to pairs.csv (or move their files out of the folder) to silence this.",
            UserWarning, stacklevel=2)
    out = PairIds([p for p in unique if p not in left_out] + added)
    out.left_out, out.added = left_out, added
    out.incomplete = {p: m for p, m in files.items() if m and p not in left_out}
    return out


def _listed_id(pair: object, folder: Path) -> str:
    """A pair id of ``pairs.csv`` as its files are named: as written when they exist (``01``
    with ``01_modis_lst_1km.tif``), else padded to 3 digits (``1`` with ``001_...``, a table
    whose leading zeros a spreadsheet dropped), else as written (the missing file is then the
    one the table names)."""
    pid = str(pair).strip()
    for cand in (pid, pid.zfill(3)):
        if (folder / f"{cand}_modis_lst_1km.tif").is_file():
            return cand
    return pid


def _read_band(path: Path, *, decode: bool = True) -> xr.DataArray:
    """A pair's GeoTIFF band, float32, NaN where the file declares nodata, decoded with the
    scale / offset the file declares (``decode``; GDAL's, as MODIS ships LST in uint16 x 0.02
    and NDVI in int16 x 0.0001). ``decode=False`` keeps the stored values and the declared
    ``scale_factor`` / ``add_offset`` in attrs (the ASTER truth, which decode_reference
    decodes)."""
    if not path.is_file():
        raise FileNotFoundError(f"missing file {path}; is the modis_aster folder complete?")
    # the file's declared nodata is NaN (masked): read unmasked, a user's -9999 / -3000 came
    # back as data once write_nodata(NaN) below replaced the declaration
    da = rioxarray.open_rasterio(path, masked=True).squeeze("band", drop=True)
    if not decode:
        return da.astype(np.float32)
    # mask_and_scale by hand (in float64, as the ASTER is): the attrs are replaced by the
    # caller, and a declared scale dropped with them left DN labelled Kelvin
    scale, offset = _declared_scaling(da)
    if (scale, offset) != (1.0, 0.0):
        da = da.astype(np.float64) * scale + offset
    return da.astype(np.float32)


def _float_kelvin(raw: xr.DataArray, path: Path) -> bool:
    """Whether an ASTER truth read undecoded is float Kelvin already (its valid median, stored
    values > 0, within 150-400 K), as the ECOSTRESS reader takes a float LST: GDAL does not
    write a scale of 1, so such a file cannot declare one, and x 0.1 made it 31 K, refused with
    advice (reference_scale, da.attrs) that open_modis_aster_pair cannot follow. The shared
    pairs' float32 K x 10 (median near 3000) and integer DN stay K x 10."""
    import rasterio

    with rasterio.open(path) as src:
        if np.dtype(src.dtypes[0]).kind != "f":
            return False
    v = raw.values
    v = v[np.isfinite(v) & (v > ASTER_NODATA)]
    return bool(v.size) and 150.0 <= float(np.median(v)) <= 400.0


def _declared_scaling(da: xr.DataArray) -> tuple[float, float]:
    """The GDAL scale and offset of a band read by rioxarray (1 and 0 when the file declares
    none, as the shared pairs' float32 files)."""
    def first(key: str, default: float) -> float:
        value = da.attrs.get(key)
        return default if value is None else float(np.ravel(value)[0])

    return first("scale_factor", 1.0), first("add_offset", 0.0)


def _lst_fill_message(path: Path, n_zero: int, n: int, kelvin: np.ndarray) -> str:
    """The refusal of a pair's MODIS LST in Kelvin beside pixels at 0 K (``n_zero`` of ``n``;
    ``kelvin`` the others): the fill as stored (``-offset / scale`` of the file's tags, 0 for
    MOD11A1 and a float Kelvin file) and how to declare it."""
    import rasterio

    with rasterio.open(path) as src:
        scale, offset = float(src.scales[0] or 1.0), float(src.offsets[0] or 0.0)
        declared = src.nodata
    stored = -offset / scale + 0.0  # not -0
    stored_s = f"{stored:g}"
    kept = (f" beside Kelvin values (median {float(np.median(kelvin)):.1f} K)" if kelvin.size
            else "")
    head = (f"the pair's MODIS LST {path} holds {n_zero} pixel(s) at 0 K ({100 * n_zero / n:.0f} "
            f"% of its valid pixels){kept}: MOD11A1's fill value 0 (stored {stored_s}), not "
            f"declared as the file's nodata, read as a temperature.")
    if declared is not None:
        # GDAL keeps one nodata a band: declaring 0 would unmask the file's own fill (65535
        # x 0.02 opened as 1310.7 K), so the 0s are rewritten to the declared value instead
        return (f"{head} The file declares nodata {declared:g} already (one per band): write "
                f"its {stored_s}s as that value and open the pair again: in Python `with "
                f"rasterio.open({str(path)!r}, 'r+') as f: a = f.read(1); "
                f"a[a == {stored_s}] = f.nodata; f.write(a, 1)`.")
    return (f"{head} Declare it and open the pair again: `gdal_edit.py -a_nodata {stored_s} "
            f"{path}`, or in Python `with rasterio.open({str(path)!r}, 'r+') as f: f.nodata = "
            f"{stored_s}`.")


def _check_modis_units(da: xr.DataArray, path: Path, kind: str) -> None:
    """Refuse a pair's MODIS LST (``kind="lst"``) not in Kelvin (valid median outside 150-400 K)
    or its NDVI (``"ndvi"``) beyond -1.5..1.5, as read with the coding its file declares: a file
    of MOD11A1 digital numbers (uint16 x 0.02) or MOD13 ones (int16 x 0.0001) without a scale
    tag was labelled Kelvin / NDVI (15,112-16,150 "K"), as the ASTER beside it is judged by
    range. The advice names the likely scale and the tags to write, then the file reads."""
    v = np.asarray(da.values, np.float64)
    v = v[np.isfinite(v)]
    if kind == "lst":
        zero = v == 0
        v = v[~zero]  # an undeclared fill 0 (MOD11A1's) is no temperature
        if not v.size or 150.0 <= float(np.median(v)) <= 400.0:
            if zero.any():
                # Kelvin beside 0 K: the fill read as data (the NDVI's is refused alike), and
                # modis_aster_arrays handed 0 K on to training; refused with the stored value
                raise UndeclaredFillError(_lst_fill_message(path, int(zero.sum()), zero.size, v))
            return
        med = float(np.median(v))
        scale, nodata, what = 0.02, 0, "MOD11A1's digital numbers (uint16 x 0.02 K, fill 0)"
        ok = 150.0 <= med * scale <= 400.0
        shown = f"its valid median is {med:.6g}"
    else:
        if not v.size or float(np.abs(v).max()) <= 1.5:
            return
        inside = np.abs(v) <= 1.5
        out, counts = np.unique(v[~inside], return_counts=True)
        fill = float(out[np.argmax(counts)])
        rest = v[v != fill]
        if not rest.size:
            # nothing beside the value: no NDVI to declare a fill beside (declared, the pair's
            # NDVI was all NaN), whatever its coding
            raise AllNaNError(
                f"the pair's MODIS NDVI {path} holds no valid NDVI value: all its {v.size} "
                f"pixel(s) are {fill:g}, a fill (the file is empty there: a crop wholly water "
                "or outside the tile's data), so it cannot guide this pair. Leave the pair "
                "out (pass the other pair ids) or replace its NDVI file.")
        in_rest = float((np.abs(rest) <= 1.5).mean())
        if in_rest >= 0.5:
            # NDVI already, beside values out of range: an undeclared fill, not DNs (judged on
            # the maximum, a float NDVI with a -9999 fill was advised scale 0.0001, which
            # followed divided the real NDVI by 10,000: review 48e/1). Judged without the
            # repeated value, whatever its share (a -9999 over 60 % of a coastal crop was told
            # to declare a scale)
            others = "" if out.size == 1 else (
                f"; {out.size - 1} other value(s) out of range too (e.g. "
                f"{float(out[np.argmin(counts)]):g}): mask them")
            raise UndeclaredFillError(
                f"the pair's MODIS NDVI {path} holds {int((v == fill).sum())} pixel(s) at "
                f"{fill:g} ({100 * float((v == fill).mean()):.0f} % of its pixels) beside NDVI "
                f"values ({100 * in_rest:.0f} % of the others within -1.5..1.5): an "
                f"undeclared fill value. Declare it and open the pair again: `gdal_edit.py "
                f"-a_nodata {fill:g} {path}`, or in Python `with rasterio.open({str(path)!r}, "
                f"'r+') as f: f.nodata = {fill:g}`{others}.")
        scale, nodata, what = 0.0001, -3000, "MOD13's digital numbers (int16 x 0.0001, fill -3000)"
        # MOD13's DN reach thousands on any vegetated ground; 0-100 or 0-255 is another coding.
        # Judged on the bulk, fill candidates left out (the maximum was a fill's)
        bulk = np.abs(v[~np.isin(v, (-3000, -9999, -10000, -32768, 32767))])
        ok = bool(bulk.size) and 1000.0 < float(np.percentile(bulk, 95)) <= 10000.0
        shown = f"its values span {float(v.min()):.6g} to {float(v.max()):.6g}"
    units = "Kelvin" if kind == "lst" else "NDVI units (-1 to 1)"
    tags = f"scale {scale:g} and nodata {nodata}"
    raise (PhysicalRangeError if kind == "lst" else GuideScaleError)(
        f"the pair's MODIS {kind.upper()} {path} is not in {units} as read with the coding "
        f"its file declares ({shown}): "
        + (f"it looks like {what}, stored without a scale tag. Write the tags and open the pair "
           f"again: `gdal_edit.py -scale {scale:g} -a_nodata {nodata} {path}`, or in Python "
           f"`with rasterio.open({str(path)!r}, 'r+') as f: f.scales = ({scale:g},); "
           f"f.nodata = {nodata}` ({tags}; a file of other values needs its own)."
           if ok else
           "declare its scale / offset (and nodata) in the file's tags, as GDAL reads them "
           "(`gdal_edit.py -scale S -offset O -a_nodata N`), so that it decodes to "
           f"{units}."))


def aster_truth_mask(
    aster: xr.DataArray, erode: int = ASTER_ERODE, min_k: float = ASTER_VALID_MIN, *,
    clear: bool = True,
) -> xr.DataArray:
    """The usable-truth mask of a decoded ASTER field (the data README's recommendation).

    :func:`~xlstsr.evaluate.reference_mask` (``from xlstsr.evaluate import reference_mask``)
    with ASTER's settings: True where the pixel is at
    least ``min_k`` Kelvin (colder ones are cloud-contaminated, or the border's mix with the 0
    fill) and more than ``erode`` pixels from every pixel outside the scene (stored value 0) or
    colder than ``min_k``: the mixed border pixels and partly cloudy pixels at cloud edges. The
    same rule as ``xlstsr.evaluate(..., erode=3, valid_min=230, clear=True)``.

    ``clear=False`` erodes the scene's border (the finite region) alone and applies ``min_k``
    after it: the mask of earlier versions (the benchmark's "anchor" protocol keeps it), which left
    the fill-mixed ring beside the pixels ``min_k`` removes on 17 of the 55 pairs (pair 075:
    RMSE 2.59 K for 0.99 K without it).

    A field not in Kelvin (median outside 150-400 K) is refused: the file as stored (K x 10)
    kept its 200 K border ring as usable truth. Decode it first (:func:`open_modis_aster_pair`).

    Examples
    --------
    >>> _, _, aster = open_modis_aster_pair("001")  # doctest: +SKIP
    >>> float(aster_truth_mask(aster).mean()) > 0.4  # doctest: +SKIP
    True
    """
    _check_truth_kelvin(aster)
    return reference_mask(aster, erode=erode, valid_min=min_k, clear=clear)


def _check_truth_kelvin(aster: xr.DataArray) -> None:
    """Refuse an ASTER field that is not in Kelvin (median of its finite, non-zero values
    outside 150-400): ``min_k`` is Kelvin, and the file as stored (K x 10, 0 outside the scene)
    kept its 200 K border ring and cold cloud (stored 1994-2300) as usable truth. Judged on a
    sample (:func:`_truth_sample`), so that a lazy field stays lazy."""
    v = _truth_sample(aster)
    v = v[np.isfinite(v) & (v != 0)]
    if not v.size:
        return
    med = float(np.median(v))
    if 150.0 <= med <= 400.0:
        return
    if 150.0 <= med * ASTER_SCALE <= 400.0:
        raise PhysicalRangeError(
            f"aster_truth_mask takes a decoded ASTER field (Kelvin), got values of median "
            f"{med:.6g}: the file as stored (Kelvin x 10, 0 outside the scene). Decode it "
            f"first: `aster = aster.where(aster != {ASTER_NODATA}) * {ASTER_SCALE:g}` (or "
            "open it with open_modis_aster_pair, which decodes it), then build the mask.")
    raise PhysicalRangeError(
        f"aster_truth_mask takes a decoded ASTER field (Kelvin), got values of median "
        f"{med:.6g}, outside 150-400 K: decode it to Kelvin first (open_modis_aster_pair "
        "does; or `from xlstsr.evaluate import decode_reference`; `aster = "
        f"decode_reference(aster, scale=..., nodata=..., valid_min={ASTER_VALID_MIN:g})` with "
        "the file's scale and fill: valid_min keeps the 200 K border ring, which the mask "
        "drops, from being refused as a fill).")


#: the most values of a field the Kelvin check of aster_truth_mask reads
_TRUTH_SAMPLE = 1 << 18


def _truth_sample(aster: xr.DataArray) -> np.ndarray:
    """A small sample of a field's values, read once in its own dtype: the first image (leading
    dims at 0; a lazy 40-scene stack was read whole and copied to float64, 12x slower) on a
    grid strided to at most :data:`_TRUTH_SAMPLE` values, the whole field strided alike where
    that image holds no finite non-zero value."""
    yx = spatial_dims(aster)
    lead = tuple(d for d in aster.dims if d not in yx)
    image = aster.isel({d: 0 for d in lead})
    step = max(1, int(np.ceil(np.sqrt(image.size / _TRUTH_SAMPLE))))
    grid = {d: slice(None, None, step) for d in yx}
    v = np.asarray(image.isel(grid).values).ravel()
    if lead and not np.any(np.isfinite(v) & (v != 0)):
        # images strided too, to about the same number of values
        n = int(np.prod([aster.sizes[d] for d in lead]))
        every = max(1, int(np.ceil(n * v.size / _TRUTH_SAMPLE)))
        v = np.asarray(aster.isel(grid).stack(_i=lead).isel(_i=slice(None, None, every))
                       .values).ravel()
    return v


def open_modis_aster_pair(
    pair_id: str | int,
    root: str | os.PathLike[str] | None = None,
    *,
    truth_mask: bool = False,
) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """Open one MODIS/ASTER pair: ``(lst_1km, ndvi_250m, aster)`` georeferenced DataArrays.

    Data: the test set of Ait-Bachir et al. (2025), "Land Surface Temperature Super-Resolution
    with a Scale-Invariance-Free Neural Approach: Application to MODIS" (hal-04925380), CeCILL-C.

    - ``lst_1km``: MODIS LST (K), 64 x 64 at 926.6 m, MODIS sinusoidal.
    - ``ndvi_250m``: MODIS NDVI, 256 x 256 at 231.7 m, same CRS; **not exactly nested** under the
      LST (offset by 0-3 fine pixels): align it with its geotransform (``upscale`` does, and so
      does :func:`open_modis_aster_aligned`).
    - ``aster``: ASTER LST in Kelvin on its UTM grid (rotated scene footprint), decoded from the
      stored K x 10 (or with the scale / offset its file declares, if any; a float file whose
      values are Kelvin already, median 150-400, is taken as it is) with the fill value
      0 (outside the scene) set to NaN
      (:func:`~xlstsr.evaluate.decode_reference`). Border pixels are mixed with the fill and cold
      pixels may be cloud: use :func:`aster_truth_mask`, or ``truth_mask=True`` to set everything
      outside that mask to NaN.

    Each file is decoded with the nodata, scale and offset its GeoTIFF declares (a pair whose
    MODIS LST is stored as MOD11A1's uint16 x 0.02, nodata 0, or its NDVI as MOD13's int16 x
    0.0001, reads in Kelvin and NDVI units); the shared pairs' float32 files declare none.

    Parameters
    ----------
    pair_id : str or int
        Pair id as in :func:`modis_aster_pairs` (``'001'`` or ``1``).
    root : path, optional
        Data folder (see :func:`data_root`: ``root``, ``$XLSTSR_DATA`` or ``../shared/data``).
    truth_mask : bool
        Apply :func:`aster_truth_mask` (default settings) to the ASTER field.

    Examples
    --------
    >>> lst, ndvi, aster = open_modis_aster_pair("001")  # doctest: +SKIP
    >>> lst.shape, ndvi.shape, str(aster.rio.crs)  # doctest: +SKIP
    ((64, 64), (256, 256), 'EPSG:32631')
    """
    # a string flag ("no") is truthy: it masked the truth (16,244 pixels of pair 001)
    truth_mask = check_bool("truth_mask", truth_mask)
    folder = _modis_aster_dir(root)
    pid = _pair_id(pair_id, root)
    # every pair is a Terra daytime acquisition (MODIS and ASTER on one platform): labelled so
    # for the overpass checks (a calibration fitted on them recorded none and took night fields)
    src = {"source": _SOURCE, "pair": pid}
    day = {"day_night": "day"}
    lst = _read_band(folder / f"{pid}_modis_lst_1km.tif")
    _check_modis_units(lst, folder / f"{pid}_modis_lst_1km.tif", "lst")
    lst.attrs = {"standard_name": "surface_temperature", "long_name": "MODIS LST at 1 km",
                 "units": "K", **src, **day}
    lst = lst.rio.write_nodata(np.nan, encoded=False)
    lst.name = "lst_1km"
    ndvi = _read_band(folder / f"{pid}_modis_ndvi_250m.tif")
    _check_modis_units(ndvi, folder / f"{pid}_modis_ndvi_250m.tif", "ndvi")
    ndvi.attrs = {"long_name": "MODIS NDVI at 250 m", "units": "1", **src}
    ndvi = ndvi.rio.write_nodata(np.nan, encoded=False)
    ndvi.name = "ndvi_250m"
    aster_path = folder / f"{pid}_aster_lst_250m.tif"
    raw = _read_band(aster_path, decode=False)
    # K x 10 unless the file declares its own scale / offset (decode_reference applies it; both
    # was refused, with advice naming a reference_scale this function does not take) or is
    # float Kelvin already; stored 0 is outside the scene either way
    declared = _declared_scaling(raw) != (1.0, 0.0) or _float_kelvin(raw, aster_path)
    # valid_min: its border pixels mixed with the fill (below the physical range on a few
    # pairs) are the documented aster_truth_mask's to drop, not a reason to warn on loading
    aster = decode_reference(raw, scale=None if declared else ASTER_SCALE, nodata=ASTER_NODATA,
                             valid_min=ASTER_VALID_MIN).astype(np.float32)
    how = "the file's scale/offset or float Kelvin" if declared else "K x 10"
    aster.attrs = {"standard_name": "surface_temperature", "long_name": "ASTER LST at 250 m",
                   "units": "K", "comment": f"decoded from {how}; 0 (outside the scene) -> NaN",
                   **src, **day}
    aster = aster.rio.write_nodata(np.nan, encoded=False)
    aster.name = "aster_lst_250m"
    if truth_mask:
        aster = aster.where(aster_truth_mask(aster))
    return lst, ndvi, aster


def iter_modis_aster(
    root: str | os.PathLike[str] | None = None,
) -> Iterator[tuple[str, xr.DataArray, xr.DataArray, xr.DataArray]]:
    """Yield ``(pair_id, lst_1km, ndvi_250m, aster)`` for every pair (see :func:`open_modis_aster_pair`).

    Examples
    --------
    >>> for pid, lst, ndvi, aster in iter_modis_aster():  # doctest: +SKIP
    ...     print(pid, lst.shape)
    ...     break
    001 (64, 64)

    The pairs of :func:`modis_aster_pairs`; those of them lacking their NDVI or ASTER file
    (its ``incomplete``) are skipped, with one warning naming them, before the first pair is
    read (one missing file ended a run half-way).
    """
    ids = modis_aster_pairs(root)
    incomplete = getattr(ids, "incomplete", {})
    if incomplete:
        if len(incomplete) == len(ids):
            first = next(iter(incomplete))
            raise FileNotFoundError(
                f"every pair of {_modis_aster_dir(root)} lacks its NDVI or ASTER file (e.g. "
                f"{_names(incomplete[first], 3)}): copy them there to read the pairs "
                "(ground_overlap and apart_from_training read the MODIS LST alone)")
        warnings.warn(
            f"{len(incomplete)} of the {len(ids)} pairs of {_modis_aster_dir(root)} lack their "
            f"NDVI or ASTER file and are skipped: "
            + "; ".join(f"{p} ({', '.join(m)})" for p, m in list(incomplete.items())[:5])
            + (" ..." if len(incomplete) > 5 else "") + ". Copy the files there.",
            UserWarning, stacklevel=2)
    for pid in ids:
        if pid not in incomplete:
            yield (pid, *open_modis_aster_pair(pid, root))


def open_modis_aster_aligned(
    pair_id: str | int, root: str | os.PathLike[str] | None = None, *,
    guide_offset: str = "ignore",
) -> dict[str, xr.DataArray]:
    """One pair with the NDVI and the ASTER truth on the 250 m grid of the MODIS LST.

    The NDVI (its grid offset by 0-3 fine pixels) is aligned onto the fine grid of the LST with
    :func:`xlstsr.grid.align_guide` (its offset warning silenced: it is expected here); the ASTER
    field, masked with :func:`aster_truth_mask`, is reprojected bilinearly onto the same grid.
    ``guide_offset="auto"`` first moves the NDVI back by its sub-pixel offset from the LST where
    one is found, as :func:`xlstsr.upscale` does by default on in-memory inputs
    (:func:`xlstsr.guide.check_alignment`; 11 of the 55 pairs), so that a model trained on the
    arrays sees its guide as it will at inference; ``"ignore"`` (default) keeps it as stored.

    Returns
    -------
    dict of DataArray
        ``lst`` (64 x 64 at 1 km), ``ndvi`` and ``truth`` (256 x 256 on the LST's fine grid,
        NaN where invalid), and ``aster`` (the masked ASTER on its own grid, for evaluation
        there).

    Examples
    --------
    >>> p = open_modis_aster_aligned("001")  # doctest: +SKIP
    >>> p["truth"].shape == p["ndvi"].shape == (256, 256)  # doctest: +SKIP
    True
    """
    lst, ndvi, aster = open_modis_aster_pair(pair_id, root, truth_mask=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GuideAlignmentWarning)
        if guide_offset != "ignore":
            ndvi = check_alignment(ndvi, lst, guide_offset, factor=FACTOR)
        ndvi_f = align_guide(ndvi, lst, FACTOR)
    y, x, t = fine_grid(lst, FACTOR)
    template = with_grid(np.zeros((len(y), len(x)), np.float32), lst, y, x, t, ("y", "x"))
    truth = aster.rio.reproject_match(template, resampling=Resampling.bilinear, nodata=np.nan)
    return {"lst": lst, "ndvi": ndvi_f, "truth": truth, "aster": aster}


def modis_aster_arrays(
    pair_ids: Sequence[str], root: str | os.PathLike[str] | None = None, *,
    guide_offset: str = "ignore",
) -> dict[str, np.ndarray]:
    """Several aligned pairs (:func:`open_modis_aster_aligned`, with its ``guide_offset``)
    stacked as float32 numpy arrays.

    Returns
    -------
    dict of ndarray
        ``lst`` (n, 64, 64), ``ndvi`` (n, 1, 256, 256: one guide band), ``truth``
        (n, 256, 256), in the order of ``pair_ids``: the inputs of
        :func:`xlstsr.train.degraded_pairs` / :func:`xlstsr.train.target_scale_pairs`.

    Examples
    --------
    >>> a = modis_aster_arrays(VAL_PAIRS)  # doctest: +SKIP
    >>> a["lst"].shape, a["ndvi"].shape, a["truth"].shape  # doctest: +SKIP
    ((4, 64, 64), (4, 1, 256, 256), (4, 256, 256))
    """
    ids = _pair_ids(pair_ids, root, "pair_ids")  # "12" was pairs 001 and 002
    if not ids:
        raise XlstsrError("pair_ids is empty: give at least one pair id (modis_aster_pairs() "
                          "lists them)")
    pairs = [open_modis_aster_aligned(pid, root, guide_offset=guide_offset) for pid in ids]
    shapes = {pid: p["lst"].shape for pid, p in zip(ids, pairs)}
    if len(set(shapes.values())) > 1:  # numpy's stack said only "must have the same shape"
        by: dict[tuple[int, ...], list[str]] = {}
        for pid, shape in shapes.items():
            by.setdefault(shape, []).append(pid)
        sizes = "; ".join(f"{' x '.join(map(str, k))}: {', '.join(v[:8])}"
                          + (", ..." if len(v) > 8 else "") for k, v in by.items())
        raise GridError(
            f"the pairs' MODIS LST are of different sizes ({sizes}) and cannot be stacked: "
            "call modis_aster_arrays once per size (pass the pairs of one size), or crop the "
            "pairs' files to one size")
    return {
        "lst": np.stack([p["lst"].values for p in pairs]).astype(np.float32),
        "ndvi": np.stack([p["ndvi"].values for p in pairs])[:, None].astype(np.float32),
        "truth": np.stack([p["truth"].values for p in pairs]).astype(np.float32),
    }


def ground_overlap(
    pair_ids: Sequence[str] | None = None, root: str | os.PathLike[str] | None = None
) -> pd.DataFrame:
    """Share of each pair's MODIS footprint that another pair also covers (same ground).

    The pairs are 64 x 64 windows of one MODIS tile at several dates, and windows of different
    pairs often overlap: a pair's ground seen in training on another date leaks the landscape
    (relief, land cover, towns fix most of the sub-pixel LST pattern) into a test on it. A split
    of the pairs for training and testing should therefore be *by ground*
    (:func:`pairs_apart`), not by pair alone.

    Parameters
    ----------
    pair_ids : sequence of str, optional
        Pairs to compare (default: every pair of ``pairs.csv``).
    root : path, optional
        Data folder holding ``modis_aster/`` (default :func:`xlstsr.datasets.data_root`).

    Returns
    -------
    pandas.DataFrame
        Square, indexed by pair id both ways: row ``a``, column ``b`` holds the fraction (0-1) of
        ``a``'s MODIS LST footprint that ``b``'s footprint covers (1 on the diagonal); pairs
        stored in different CRSs are compared in :data:`MODIS_SINUSOIDAL`.

    Examples
    --------
    >>> ov = ground_overlap(["084", "131", "015"])  # doctest: +SKIP
    >>> round(float(ov.loc["084", "131"]), 2), float(ov.loc["084", "015"])  # doctest: +SKIP
    (0.82, 0.0)
    """
    ids = _pair_ids(pair_ids, root, "pair_ids") if pair_ids is not None else \
        modis_aster_pairs(root)
    b = _footprints(ids, root, _common_crs(ids, root))  # left, bottom, right, top; one CRS
    width = np.clip(np.minimum(b[:, None, 2], b[None, :, 2])
                    - np.maximum(b[:, None, 0], b[None, :, 0]), 0, None)
    height = np.clip(np.minimum(b[:, None, 3], b[None, :, 3])
                     - np.maximum(b[:, None, 1], b[None, :, 1]), 0, None)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return pd.DataFrame(width * height / area[:, None], index=ids, columns=ids)


def pairs_apart(
    candidates: Sequence[str],
    others: Sequence[str],
    root: str | os.PathLike[str] | None = None,
) -> list[str]:
    """The ``candidates`` that share no ground (no MODIS 1 km pixel) with any of ``others``.

    Use it to test on ground never seen in training: ``pairs_apart(EVAL_PAIRS, TRAIN_PAIRS)``
    keeps the evaluation pairs whose windows overlap no training pair's window on any date
    (:func:`ground_overlap`).

    Examples
    --------
    >>> apart = pairs_apart(EVAL_PAIRS, TRAIN_PAIRS)  # doctest: +SKIP
    >>> len(apart), apart[:3]  # doctest: +SKIP
    (12, ['015', '035', '044'])
    """
    cand, oth = _pair_ids(candidates, root, "candidates"), _pair_ids(others, root, "others")
    if set(cand) & set(oth):
        raise ValueError(f"pairs {sorted(set(cand) & set(oth))} are in both lists")
    if not oth:
        return cand
    ov = ground_overlap(cand + oth, root).loc[cand, oth]
    # a tolerance far below one pixel (1/4096 of a window): adjacent windows touch in floats
    return [p for p in cand if not (ov.loc[p] > 1e-6).any()]


def lst_fingerprint(pair_id: str, root: str | os.PathLike[str] | None = None) -> str:
    """sha256 (first 16 hex digits) of a pair's stored MODIS LST values (not of the file: a pair
    written again with other GeoTIFF options keeps its fingerprint; the shared pairs store float32
    Kelvin, so one stored as scaled integers or cropped gets another fingerprint and is not
    recognised by :func:`seen_in_training`).

    Examples
    --------
    >>> lst_fingerprint("001") == TRAIN_PAIR_FINGERPRINTS["001"]  # doctest: +SKIP
    True
    """
    import hashlib

    import rasterio

    with rasterio.open(_lst_path(pair_id, root)) as src:
        values = np.ascontiguousarray(src.read(1).astype(np.float32))
    return hashlib.sha256(values.tobytes()).hexdigest()[:16]


def seen_in_training(
    pair_ids: Sequence[str] | None = None, root: str | os.PathLike[str] | None = None
) -> list[str]:
    """The pairs of a modis_aster folder that the bundled models were trained on.

    Recognised by their MODIS LST values (:data:`TRAIN_PAIR_FINGERPRINTS`), not by their ids: in
    the shared folder they are exactly ``TRAIN_PAIRS``; in another folder (held-back pairs
    numbered from 001 again, or a copy of some shared pairs) only the pairs whose MODIS LST is
    one of ``TRAIN_PAIRS``'. Score a trained model on the other pairs only.

    Examples
    --------
    >>> seen_in_training() == list(TRAIN_PAIRS)  # doctest: +SKIP
    True
    """
    ids = _pair_ids(pair_ids, root, "pair_ids") if pair_ids is not None else \
        modis_aster_pairs(root)
    known = set(TRAIN_PAIR_FINGERPRINTS.values())
    return [p for p in ids if lst_fingerprint(p, root) in known]


#: MODIS sinusoidal grid: tile side and 1 km pixel (m), west and north edges of tile h18v04,
#: the tile of the shared cube (modis_h18v04_2020) whose window positions the cube-trained
#: bundled models record in their metadata (``positions``)
_MODIS_TILE_M = 1111950.5196666666
_MODIS_1KM_M = _MODIS_TILE_M / 1200
_H18V04_WEST = -20015109.354 + 18 * _MODIS_TILE_M
_H18V04_NORTH = 10007554.677 - 4 * _MODIS_TILE_M
#: the Croatia MOD11A2 raster (``modis_croatia_8day``, UTM 33N, 1000 m) the default sisr also
#: trained on: its upper-left corner and the 64 px grid cells ``(row, col)`` it sampled
#: (``scripts/train_bundled.croatia_samples``; recorded, so no shared folder is needed)
_CROATIA_CRS = "EPSG:32633"
_CROATIA_UL = (360141.478220875, 5156649.30513966)
_CROATIA_CELLS = ((0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (0, 6), (1, 1), (1, 2),
                  (1, 3), (1, 4), (1, 5), (1, 6), (2, 3), (2, 4), (2, 5), (2, 6), (3, 3), (3, 4),
                  (3, 5), (3, 6), (4, 4), (4, 5), (4, 6), (5, 6))
_WINDOW = 64


def _cube_window_bounds(windows: Sequence[int], size: int = _WINDOW
                        ) -> list[tuple[float, float, float, float]]:
    """Bounds of the shared cube's ``size`` px windows by index (row x 18 + col in tile h18v04
    for 64 px)."""
    per_row, side = 1200 // size, size * _MODIS_1KM_M
    out = []
    for w in windows:
        xmin = _H18V04_WEST + (int(w) % per_row) * side
        ymax = _H18V04_NORTH - (int(w) // per_row) * side
        out.append((xmin, ymax - side, xmin + side, ymax))
    return out


def _croatia_bounds(cells: Sequence[tuple[int, int]] = _CROATIA_CELLS, size: int = _WINDOW,
                    pad: float = 1000.0) -> list[tuple[float, float, float, float]]:
    """Sinusoidal boxes of the Croatia training windows (grid cells ``(row, col)`` of ``size``
    km): each UTM square's edges densified, projected and padded by ``pad`` m (the raster's
    ``AREA_OR_POINT=Point`` leaves half a pixel of doubt), so ground they may share counts as
    seen."""
    from pyproj import Transformer

    to_sin = Transformer.from_crs(_CROATIA_CRS, MODIS_SINUSOIDAL, always_xy=True)
    side, t = size * 1000.0, np.linspace(0.0, 1.0, 33)
    out = []
    for r, c in cells:
        x0, y1 = _CROATIA_UL[0] + c * side, _CROATIA_UL[1] - r * side
        ex = x0 + side * np.concatenate([t, np.ones_like(t), t[::-1], np.zeros_like(t)])
        ey = y1 - side * np.concatenate([np.zeros_like(t), t, np.ones_like(t), t[::-1]])
        sx, sy = to_sin.transform(ex, ey)
        out.append((float(sx.min()) - pad, float(sy.min()) - pad, float(sx.max()) + pad,
                    float(sy.max()) + pad))
    return out


@functools.lru_cache(maxsize=1)
def _training_ground() -> pd.DataFrame:
    from ..nn.checkpoint import load_checkpoint
    from ..nn.weights import BUNDLED, WEIGHTS_DIR

    rows = [("TRAIN_PAIRS", p, *b) for p, b in TRAIN_PAIR_BOUNDS.items()]
    croatia = False
    for key, name in BUNDLED.items():
        # read without building the model; positions: the cube windows it trained or
        # early-stopped on (its test / held_out windows are not seen ground)
        meta = load_checkpoint(WEIGHTS_DIR / name).get("metadata") or {}
        pos = meta.get("positions") or {}
        if not isinstance(pos, dict) or not (pos.get("train") or pos.get("val")):
            continue
        seen = sorted({int(w) for w in [*pos.get("train", []), *pos.get("val", [])]})
        rows += [(key, f"cube_{w}", *b) for w, b in zip(seen, _cube_window_bounds(seen))]
        croatia |= bool((meta.get("settings") or {}).get("croatia", False))
    if croatia:
        rows += [("croatia", f"cro_{r}_{c}", *b)
                 for (r, c), b in zip(_CROATIA_CELLS, _croatia_bounds())]
    return pd.DataFrame(rows, columns=["source", "window", "xmin", "ymin", "xmax", "ymax"])


def training_ground() -> pd.DataFrame:
    """Every window of ground the bundled models trained or early-stopped on, as boxes in
    :data:`MODIS_SINUSOIDAL` metres.

    The MODIS LST footprints of ``TRAIN_PAIRS`` (:data:`TRAIN_PAIR_BOUNDS`), the MOD11A1 cube
    windows (tile h18v04, 64 x 64 px) whose positions the cube-trained checkpoints record in
    their metadata (``positions``: train and val; the default ``sisr`` and the
    ``degraded_cube`` DISR the default ``disr`` was fine-tuned from), and the Croatia windows
    the default ``sisr`` also trained on (its ``settings["croatia"]``). Read from the bundled
    checkpoints' metadata, without the shared data at hand.

    Returns
    -------
    pandas.DataFrame
        One row per window: ``source`` (``"TRAIN_PAIRS"``, the weights' name, ``"croatia"``),
        ``window`` (pair id, ``cube_<index>``, ``cro_<row>_<col>``), ``xmin``, ``ymin``,
        ``xmax``, ``ymax``.

    Examples
    --------
    >>> sorted(training_ground()["source"].unique())  # doctest: +SKIP
    ['TRAIN_PAIRS', 'croatia', 'degraded_cube', 'rescnn']
    """
    return _training_ground().copy()


def apart_from_training(
    pair_ids: Sequence[str] | None = None, root: str | os.PathLike[str] | None = None
) -> list[str]:
    """The pairs of a modis_aster folder whose MODIS footprint shares no ground with any the
    bundled models trained or early-stopped on (:func:`training_ground`): the training pairs'
    (:data:`TRAIN_PAIR_BOUNDS`, on any date), the MOD11A1 cube windows the cube-trained models
    record, and the Croatia windows of the default ``sisr``.

    A pair on the ground of a training pair (another date) meets a landscape the models have
    seen, which flatters them (docs/results/disr_ground.md); in the shared folder these are the 12
    of ``pairs_apart(EVAL_PAIRS, TRAIN_PAIRS)`` (no shared pair lies on a cube training window;
    a held-back pair may).

    Examples
    --------
    >>> apart_from_training(["015", "084"])  # doctest: +SKIP
    ['015']
    """
    ids = _pair_ids(pair_ids, root, "pair_ids") if pair_ids is not None else \
        modis_aster_pairs(root)
    seen = _training_ground()[["xmin", "ymin", "xmax", "ymax"]].to_numpy(np.float64)
    out = []
    for pid, b in zip(ids, _footprints(ids, root, MODIS_SINUSOIDAL)):
        # overlaps of more than 1 m (a MODIS pixel is 926 m): windows that only touch are apart
        w = np.minimum(b[2], seen[:, 2]) - np.maximum(b[0], seen[:, 0])
        h = np.minimum(b[3], seen[:, 3]) - np.maximum(b[1], seen[:, 1])
        if not ((w > 1.0) & (h > 1.0)).any():
            out.append(pid)
    return out


def _pair_ids(ids: Any, root: str | os.PathLike[str] | None, name: str) -> list[str]:
    """A sequence of pair ids as in pairs.csv, each known, without repeats: a bare string was
    read character by character ("12": pairs 001 and 002), '15' did not meet '015', an unknown
    id was a missing-file error and a repeated one pandas' "truth value is ambiguous"."""
    if isinstance(ids, (str, bytes, int, np.integer)):
        raise InputTypeError(f"{name} must be a list of pair ids, got {ids!r}: e.g. [{ids!r}]")
    return list(dict.fromkeys(_pair_id(p, root) for p in ids))


def _pair_id(pair_id: str | int, root: str | os.PathLike[str] | None) -> str:
    """The pair's id as in pairs.csv (``'001'``), or an InputNotFoundError listing them (an
    unknown id was told "missing file ...; is the modis_aster folder complete?"). The id as
    given when the folder lists it (``'01'``), else padded to 3 digits (``1`` -> ``'001'``),
    else the one listed id of the same number (``1`` -> ``'01'``)."""
    pid = str(pair_id).strip()
    with warnings.catch_warnings():  # a repeated row is reported where the pairs are listed
        warnings.simplefilter("ignore", UserWarning)
        known = modis_aster_pairs(root)
    if pid not in known and pid.zfill(3) in known:
        pid = pid.zfill(3)
    elif pid not in known and pid.isdigit():
        same = [k for k in known if k.isdigit() and int(k) == int(pid)]
        pid = same[0] if len(same) == 1 else pid
    left_out = getattr(known, "left_out", {})
    if pid not in known and (pid in left_out or pid.zfill(3) in left_out):
        why = left_out.get(pid) or left_out[pid.zfill(3)]
        raise InputNotFoundError(  # "no pair" sent the user looking at pairs.csv, which lists it
            f"MODIS/ASTER pair {pair_id!r} is listed in pairs.csv but left out: {why}. Copy "
            f"its files there (modis_aster_pairs() lists the {len(known)} pairs present).")
    if not known:
        # an empty copy (a template, files not copied yet): known[0] raised a bare IndexError
        raise InputNotFoundError(
            f"no MODIS/ASTER pair {pair_id!r}: the modis_aster folder holds no complete pair "
            "(pairs.csv lists none present). Copy each pair's <pair>_modis_lst_1km.tif, "
            "<pair>_modis_ndvi_250m.tif and <pair>_aster_lst_250m.tif there and list them in "
            "pairs.csv, or pass as root the folder that holds them.")
    if pid not in known:
        raise InputNotFoundError(
            f"no MODIS/ASTER pair {pair_id!r}: the pairs are {known[0]} ... {known[-1]} "
            f"({len(known)}; modis_aster_pairs() lists them, EVAL_PAIRS / VAL_PAIRS / TRAIN_PAIRS "
            "split them)."
        )
    return pid


def _lst_path(pair_id: str, root: str | os.PathLike[str] | None) -> Path:
    """The MODIS LST GeoTIFF of a pair, or a FileNotFoundError naming it."""
    folder = _modis_aster_dir(root)
    path = folder / f"{_listed_id(pair_id, folder)}_modis_lst_1km.tif"
    if not path.is_file():
        raise FileNotFoundError(f"missing file {path}; is the modis_aster folder complete?")
    return path


def _common_crs(pair_ids: Sequence[str], root: str | os.PathLike[str] | None) -> str | None:
    """None (the footprints as stored) when every pair's MODIS LST is in one CRS (the shared
    pairs: one MODIS tile), else :data:`MODIS_SINUSOIDAL`: bounds of different CRSs compared
    as numbers gave pairs on the same ground no overlap."""
    import rasterio

    crss = []
    for pid in pair_ids:
        with rasterio.open(_lst_path(pid, root)) as src:
            crss.append(src.crs)
    return None if all(c == crss[0] for c in crss[1:]) else MODIS_SINUSOIDAL


def _footprints(
    pair_ids: Sequence[str], root: str | os.PathLike[str] | None, crs: str | None = None
) -> np.ndarray:
    """(n, 4) left, bottom, right, top of each pair's MODIS LST, in its own CRS or in ``crs``."""
    import rasterio
    from rasterio.warp import transform_bounds

    out = []
    for pid in pair_ids:
        path = _lst_path(pid, root)
        with rasterio.open(path) as src:
            if crs is not None and src.crs is None:
                raise ValueError(f"{path} has no CRS: its ground cannot be compared; write "
                                 "the file's CRS into it (the other pairs' files have one)")
            out.append(transform_bounds(src.crs, crs, *src.bounds) if crs else tuple(src.bounds))
    return np.asarray(out, dtype=np.float64).reshape(-1, 4)
