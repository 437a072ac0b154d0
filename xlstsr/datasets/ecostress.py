"""The ECOSTRESS scenes of the shared data (``ecostress_la/``): real 70 m LST over Los Angeles.

22 ECOSTRESS L2 LSTE v002 scenes (20 overpasses, June-August 2023, day and night), each on its own
swath-gridded EPSG:4326 grid (about 0.00063 deg). :func:`ecostress_scenes` lists them
(``scenes.csv``); :func:`open_ecostress_scene` reads one as masked Kelvin, on its own grid or
projected onto a common metric grid (the UTM zone of the scenes' box, 70 m or any multiple of it,
anchored so that all scenes and all their aggregates share pixel edges), where scales are in
metres and scenes can be compared pixel for pixel. Any folder laid out the same way (another
city, other dates) gets its own common grid, from its scenes' extent (:func:`ecostress_box`).

Masking (the README of the data): NaN where LST == 0 (fill), ``cloud_mask != 0`` or
``water_mask != 0``; the masks are class codes read without their bogus ``scale_factor``
(0.0001). Undetected cloud edges remain (e.g. 275.7 K by day in August): a plausibility bound
(by default 285-345 K by day, 265-320 K by night: :data:`ECOSTRESS_BOUNDS`, tuned for Los Angeles
in summer) removes them. Scenes of other places and seasons take ``bounds="land"``
(:data:`LAND_BOUNDS`, 180-355 K: the range of land surface temperatures on Earth, which any
place and season fits; undetected cloud edges warmer than 180 K stay) or bounds of their own.

A folder's scenes should show one place: a scene whose box lies apart from the others' (another
city, another UTM zone) stretches the common grid over both places. :func:`ecostress_box` warns
naming such scenes, :func:`ecostress_apart` lists them, and ``ecostress_box(folder,
main_group=True)`` is the box of the folder's main group alone.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import (
    AllNaNError,
    GridError,
    InputNotFoundError,
    InputTypeError,
    NoOverlapError,
    VariableNotFoundError,
    XlstsrError,
    warn,
)
from ..kernels.aggregate import radiometric_mean
from ..validate import LAND_SURFACE_K, check_bool
from .root import _missing_data, _no_such_file, data_root

__all__ = [
    "ECOSTRESS_BOUNDS",
    "LAND_BOUNDS",
    "ecostress_apart",
    "ecostress_box",
    "ecostress_crs",
    "ecostress_grid",
    "ecostress_scenes",
    "open_ecostress_scene",
]

#: plausible LST (K) of a cloud-free land pixel, by day and by night (undetected cloud edges fall
#: below: cloud-free daytime land pixels of this box and season are >= ~285 K)
ECOSTRESS_BOUNDS = {"day": (285.0, 345.0), "night": (265.0, 320.0)}
#: plausible LST (K) of a land pixel anywhere on Earth, in any season (Antarctic plateau ~180 K,
#: the hottest deserts' ~345 K): ``bounds="land"``, for scenes of other places and seasons than
#: the Los Angeles summer :data:`ECOSTRESS_BOUNDS` were tuned on
LAND_BOUNDS = tuple(float(v) for v in LAND_SURFACE_K)
#: two scenes whose boxes lie this far apart (degrees of longitude or latitude) or more are of
#: other places (:func:`ecostress_apart`); the scenes of one place overlap
APART_DEG = 0.5
# the common grid: the scenes' box in its UTM zone, edges rounded outward to multiples of
# 8960 m (= 128 x 70 m), so every aggregate by 2, 4 ... 128 aligns
_ANCHOR = 8960.0
Box = tuple[float, float, float, float]


def _folder(root: str | os.PathLike[str] | None) -> Path:
    if isinstance(root, bytes):
        root = os.fsdecode(root)
    if root is not None and not isinstance(root, (str, os.PathLike)):  # a list: raw TypeError
        raise InputTypeError(
            f"root must be one folder (str or pathlib.Path), got {type(root).__name__} "
            f"{root!r:.60}; pass e.g. 'data/ecostress_la', one call per folder")
    if root is not None:  # '~/ecostress_la' (the folder itself) was taken for a data folder
        root = Path(root).expanduser()
    if root is not None and not root.exists() and root.suffix.lower() in (".tif", ".tiff",
                                                                           ".csv"):
        # a mistyped scene file: data_root called it a missing data folder (of modis_aster/)
        raise _no_such_file(root, "ECOSTRESS scene file" if root.suffix.lower() != ".csv"
                            else "scenes table", f"*{root.suffix}",
                            "pass an existing scene file or scenes.csv, the folder holding "
                            "LST/, cloud_mask/ and water_mask/, or the data folder holding "
                            "ecostress_la/")
    if root is not None and Path(root).is_file():  # scenes.csv or a scene's file: its folder
        up = Path(root).parent
        root = up.parent if up.name in ("LST", "cloud_mask", "water_mask") else up
    elif (root is not None and root.is_dir() and root.name in ("LST", "cloud_mask", "water_mask")
          and not ((root / "scenes.csv").is_file() or (root / "LST").is_dir())
          and _scenes_folder(root.parent)):
        # the scenes' LST/ (or mask) folder itself, as a file inside it is taken: it was
        # "no ECOSTRESS scene in .../LST/ecostress_la", a folder that does not exist
        root = root.parent
    if root is not None and ((Path(root) / "scenes.csv").is_file() or (Path(root) / "LST").is_dir()):
        return Path(root)
    base = data_root(root, dataset="ecostress_la")
    if not (base / "ecostress_la").is_dir():  # a held-back scenes folder of another name
        from .modis_aster import _one_laid_out_like

        other = _one_laid_out_like(base, _scenes_folder, "LST/, cloud_mask/ and water_mask/",
                                   "ecostress_la")
        if other is not None:
            return other
    return base / "ecostress_la"


def _scenes_folder(folder: Path) -> bool:
    """Whether ``folder`` is laid out like ``ecostress_la/``: LST/ with its two mask folders."""
    return all((folder / d).is_dir() for d in ("LST", "cloud_mask", "water_mask"))


#: granules of one overpass follow each other within this (two of the shared ones: 52 s apart)
SAME_OVERPASS = pd.Timedelta(seconds=180)


class _DamagedFileError(XlstsrError):
    """A scene's GeoTIFF that GDAL cannot read (truncated, corrupt): :func:`ecostress_scenes`
    leaves its scene out, :func:`open_ecostress_scene` raises it."""

    def __init__(self, path: Path, err: Exception):
        self.path = path
        super().__init__(
            f"{path} cannot be read ({type(err).__name__}: {str(err)[:120]}): the file is "
            "damaged or truncated (an interrupted download?). Download it again (AppEEARS "
            f"delivers it with its cloud_mask and water_mask), or move it out of {path.parent}.")


@contextlib.contextmanager
def _reading(path: Path):
    """GDAL's errors on reading ``path`` as a :class:`_DamagedFileError` naming it (rasterio's
    bare "Read failed. See previous exception for details." named no file)."""
    from rasterio._err import CPLE_BaseError
    from rasterio.errors import RasterioError

    try:
        yield
    except (RasterioError, CPLE_BaseError) as err:
        raise _DamagedFileError(path, err) from err


def _centre_lonlat(path: Path) -> tuple[float, float]:
    """The centre (longitude, latitude) of a GeoTIFF, reprojected from its own CRS (the centre
    easting of a UTM scene, in metres, was divided by 15 as if it were degrees)."""
    import rasterio
    from rasterio.warp import transform

    with _reading(path), rasterio.open(path) as src:
        b, crs = src.bounds, src.crs
    x, y = (b.left + b.right) / 2, (b.bottom + b.top) / 2
    if crs is not None and not crs.is_geographic:
        (x,), (y,) = transform(crs, "EPSG:4326", [x], [y])
    elif crs is None and not (-180.0 <= x <= 180.0 and -90.0 <= y <= 90.0):
        raise XlstsrError(
            f"{path} has no CRS and its centre ({x:.6g}, {y:.6g}) is not in degrees: day / night "
            "cannot be derived from its longitude. Write its CRS into the file, or give the "
            "scene's day_night in scenes.csv.")
    return float(x), float(y)


def _missing(df: pd.DataFrame, col: str) -> pd.Series:
    """Rows whose ``col`` is to be derived: all of them without the column, else its blanks
    (the rows of scenes added to LST/ after scenes.csv was written)."""
    return pd.Series(True, index=df.index) if col not in df else df[col].isna()


def _fill_scene_columns(df: pd.DataFrame, folder: Path) -> pd.DataFrame:
    """Columns of scenes.csv that a folder's table lacks, or values it lacks for some scenes,
    derived from the files: the masks (matched by the doy key), ``datetime_utc`` (the key,
    UTC), ``day_night`` (local mean solar hour 6-18 = day, from the scene's centre longitude;
    with ``centre_lon``, ``centre_lat`` and ``local_solar_hour`` where the table has them),
    ``overpass`` (granules less than :data:`SAME_OVERPASS` apart) and ``n_valid`` (its clear
    land pixels, read). A scene whose files cannot be read (truncated, corrupt) is left out,
    with a warning naming them (one such file stopped the listing of the whole folder)."""
    damaged: dict[str, _DamagedFileError] = {}  # scene key -> its file that cannot be read

    def read(what, key: str, *args):
        if key in damaged:
            return None
        try:
            return what(*args)
        except _DamagedFileError as err:
            damaged[key] = err
            return None

    for mask in ("cloud_mask", "water_mask"):
        need = _missing(df, mask)
        if need.any():
            found = [next(iter(sorted(p.name for p in (folder / mask).glob(f"*_doy{k}_*"))),
                          None) for k in df.loc[need, "key"]]
            df[mask] = df[mask].astype(object) if mask in df else None
            df.loc[need, mask] = pd.Series(found, index=df.index[need], dtype=object)
            if df[mask].isna().any():
                raise InputNotFoundError(
                    f"no {mask} file in {folder / mask} for scene(s) "
                    f"{', '.join(df['key'][df[mask].isna()])}: each LST file needs its "
                    f"{mask} beside (the same name with _LST_ -> _{mask}_; AppEEARS delivers "
                    "them with the LST layer)")
    derived = pd.to_datetime(df["key"], format="%Y%j%H%M%S", utc=True)
    if "datetime_utc" not in df:
        df["datetime_utc"] = derived
    # any UTC offset, mixed with naive (UTC) times: a bare pandas ValueError, or an object
    # column of mixed zones, before
    # (format='mixed': pandas 2.3's 'ISO8601' gave a naive time the offset of the row before)
    t = pd.to_datetime(df["datetime_utc"], utc=True, format="mixed")
    if t.isna().any():
        t = t.fillna(derived if t.dt.tz is not None else derived.dt.tz_localize(None))
    df["datetime_utc"] = t
    need = _missing(df, "day_night")
    if need.any():
        centre = np.array([read(_centre_lonlat, k, folder / "LST" / name) or (np.nan, np.nan)
                           for k, name in zip(df.loc[need, "key"], df.loc[need, "file"])],
                          np.float64).reshape(-1, 2)
        # the UTC hour (naive times are UTC): 13:21-07:00, a midday scene, was hour 13 + lon/15
        t = pd.to_datetime(df.loc[need, "datetime_utc"], utc=True)
        hour = (t.dt.hour + t.dt.minute / 60 + t.dt.second / 3600 + centre[:, 0] / 15.0) % 24
        df.loc[need, "day_night"] = np.where((hour >= 6) & (hour < 18), "day", "night")
        for col, values in (("centre_lon", centre[:, 0].round(5)),
                            ("centre_lat", centre[:, 1].round(5)),
                            ("local_solar_hour", hour.round(2))):
            if col in df:
                df.loc[need, col] = df.loc[need, col].fillna(
                    pd.Series(np.asarray(values), index=df.index[need]))
    need = _missing(df, "n_valid")
    if need.any():
        clear = [read(_clear, k, folder, k, f, c, w)
                 for k, f, c, w in zip(df.loc[need, "key"], df.loc[need, "file"],
                                       df.loc[need, "cloud_mask"], df.loc[need, "water_mask"])]
        counts = [0 if c is None else int(np.count_nonzero(c[0])) for c in clear]
        if "n_valid" not in df:
            df["n_valid"] = 0
        df.loc[need, "n_valid"] = counts
        df["n_valid"] = df["n_valid"].astype(np.int64)
    if damaged:  # left out before the overpasses are formed, as one without its masks is
        if len(damaged) == len(df):  # nothing to list: the first file's error
            raise next(iter(damaged.values()))
        warn(f"{len(damaged)} of the {len(df)} scenes of {folder} have a file that cannot be "
             f"read (damaged or truncated: an interrupted download?) and are left out: "
             f"{', '.join(e.path.name for e in list(damaged.values())[:5])}"
             f"{' ...' if len(damaged) > 5 else ''}. Download them again, or move them out of "
             "the folder.", UserWarning)
        df = df[~df["key"].isin(list(damaged))].reset_index(drop=True)
        # open_ecostress_scene(key) of one of them says why, not "no ECOSTRESS scene"
        df.attrs["unreadable"] = {k: str(e) for k, e in damaged.items()}
    need = _missing(df, "overpass")
    if need.any():
        # in time order, a granule joins the overpass begun less than SAME_OVERPASS before it
        listed = df["overpass"].astype(object) if "overpass" in df else pd.Series(
            None, index=df.index, dtype=object)
        start: dict[str, pd.Timestamp] = {}
        current = None
        for i in df.sort_values("datetime_utc").index:
            k, t = df.at[i, "key"], df.at[i, "datetime_utc"]
            if not need[i]:
                op = str(listed[i])
            elif current is not None and t - start[current] <= SAME_OVERPASS:
                op = current
            else:
                op = k
            start.setdefault(op, t)
            listed[i], current = op, op
        df["overpass"] = listed
    return df


def _lst_layers(folder: Path) -> tuple[list[str], list[str]]:
    """The GeoTIFFs of ``LST/``: the LST layer files, and other layers of AppEEARS' names."""
    tifs = sorted(p.name for p in (folder / "LST").glob("*.tif"))
    # AppEEARS names every layer ..._<LAYER>_doy<key>_...: LST_err, QC, Emis1... of the same
    # scene share the key, so listing them all gave duplicate keys and a raw TypeError
    other = [f for f in tifs if re.search(r"_doy\d{13}_", f) and "_LST_doy" not in f]
    return [f for f in tifs if f not in other], other


def _add_unlisted(df: pd.DataFrame, folder: Path, left_out: dict[str, str],
                  why: str = "") -> pd.DataFrame:
    """The table with the LST files of ``LST/`` that scenes.csv does not list (a scene added
    after the table was written was left out without a word, and could not be opened by its
    file name) as rows whose other columns :func:`_fill_scene_columns` derives; a warning
    names them (``why``: why the table lists none, e.g. it has no ``file`` column), and those
    without both masks, which are left out and named in ``left_out`` (key -> reason)."""
    lst, _ = _lst_layers(folder)
    keys = set(df["file"].astype(str).str.extract(r"_doy(\d{13})_")[0].dropna())
    unlisted = [f for f in lst if (m := re.search(r"_LST_doy(\d{13})_", f)) and m.group(1) not in keys]
    if not unlisted:
        return df
    key = {f: re.search(r"_doy(\d{13})_", f).group(1) for f in unlisted}  # type: ignore[union-attr]
    lacking = [f for f in unlisted
               if not all(any((folder / m).glob(f"*_doy{key[f]}_*")) for m in ("cloud_mask",
                                                                             "water_mask"))]
    added = [f for f in unlisted if f not in lacking]

    def names(files: list[str]) -> str:
        return ", ".join(files[:5]) + (" ..." if len(files) > 5 else "")

    for f in lacking:
        gone = [m for m in ("cloud_mask", "water_mask")
                if not any((folder / m).glob(f"*_doy{key[f]}_*"))]
        left_out[key[f]] = (f"not listed in {folder / 'scenes.csv'}, and no "
                            f"{' nor '.join(gone)} file beside in {folder} (matched by the doy "
                            "key)")
    msg = (f"{folder / 'scenes.csv'}{why} does not list {len(unlisted)} LST file(s) of "
           f"{folder / 'LST'}")
    if added:
        msg += (f"; added with columns derived from their files (time from the name, day / "
                f"night from the local solar hour, overpass, clear pixel count; other columns "
                f"left empty): {names(added)}")
    if lacking:
        msg += (f"; left out, having no cloud_mask and water_mask file beside (matched by the "
                f"doy key): {names(lacking)}")
    warn(msg + ". Add them to scenes.csv (or move them out of LST/) to silence this.",
         UserWarning)
    if not added:
        return df
    new = pd.DataFrame({"file": added}, dtype=object)
    if df.empty:  # a table of no rows: its columns, empty (pandas warns on concat of no rows)
        return new.reindex(columns=list(dict.fromkeys(["file", *df.columns])))
    return pd.concat([df, new], ignore_index=True)


def _table_without_files(table: pd.DataFrame, folder: Path, left_out: dict[str, str]
                         ) -> tuple[pd.DataFrame, str]:
    """The rows of a scenes.csv with no ``file`` column (or no rows) that its ``key`` column
    matches to an LST file of ``LST/``, with a ``file`` column (rows of keys without one are
    named in ``left_out``), and why the table lists no file, for :func:`_add_unlisted` to add
    the others: such a table was refused as "no ECOSTRESS scene" though LST/ held them."""
    lst, _ = _lst_layers(folder)
    by_key = {m.group(1): f for f in lst if (m := re.search(r"_LST_doy(\d{13})_", f))}
    if "file" in table:  # a header, or blank rows only
        return table.iloc[:0].astype(object), " (no scene row)"
    if "key" not in table or table.empty:
        why = " (no scene row)" if table.empty else " (no `file` or `key` column)"
        return table.iloc[:0].astype(object).assign(file=[]), why
    keys = table["key"].astype(str).str.strip()
    known = table["key"].notna() & keys.isin(list(by_key))
    for k in keys[table["key"].notna() & ~known]:
        left_out[k] = (f"listed in {folder / 'scenes.csv'} by key, but no LST file in "
                       f"{folder / 'LST'}")
    rows = table[known].copy()
    rows.insert(0, "file", [by_key[k] for k in keys[known]])
    return rows.reset_index(drop=True), " (no `file` column: rows matched by their `key`)"


def ecostress_scenes(root: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The scenes of ``ecostress_la/scenes.csv``, one row per granule, indexed by ``key``.

    ``key`` is the doy key of the file name (``YYYYDDDHHMMSS``, UTC); ``overpass`` groups the two
    granules of one overpass (the key of the first); ``datetime_utc`` is parsed. A folder laid
    out the same way whose ``scenes.csv`` lacks columns, or has none (its ``LST/`` files are
    listed), gets them from its files (masks by key, time from the key, day / night from the
    local solar hour of the scene's centre, in any CRS, overpasses, clear land pixel counts).
    LST files that ``scenes.csv`` does not list (scenes added later) are added the same way,
    with a warning naming them; so are all of them when it lists none (a header only, or no
    ``file`` column: the rows of a ``key`` column that names an LST file keep their other
    columns). Blank rows are skipped. Listed scenes without an LST file are left out, with a
    warning (once per folder), and so are scenes without their cloud or water mask (a warning
    each listing); all are named in ``attrs["left_out"]`` (key -> reason) for a report to list
    and for :func:`open_ecostress_scene` to say why; a table none of whose LST files is present
    is refused (InputNotFoundError). ``datetime_utc`` may carry any UTC offset (naive: UTC).
    ``day_night`` is read in any case and spacing ('Day', ' night '); blanks are derived, other
    values refused.

    Parameters
    ----------
    root : path, optional
        The ``ecostress_la`` folder itself (or any folder laid out like it), or the data folder
        holding it (:func:`xlstsr.datasets.data_root`) or holding one folder of another name
        laid out like it (``LST/``, ``cloud_mask/``, ``water_mask/``; several are refused);
        its ``LST/`` folder (or a file in it) stands for it.

    Examples
    --------
    >>> s = ecostress_scenes()  # doctest: +SKIP
    >>> len(s), s["overpass"].nunique(), sorted(s["day_night"].unique())  # doctest: +SKIP
    (22, 20, ['day', 'night'])
    """
    folder = _folder(root)
    left_out: dict[str, str] = {}
    if (folder / "scenes.csv").is_file():
        # a blank row (a spreadsheet's ',,,' line) is no scene (a TypeError): left out before
        # parsing, so its NaN does not make the integer columns float
        lines = (folder / "scenes.csv").read_text().splitlines()
        df = pd.read_csv(io.StringIO("\n".join(ln for ln in lines if ln.strip(" ,;\t"))),
                         dtype={"overpass": str, "key": str})
        if "file" in df:  # rows without a file, others filled: no scene either
            blank = df["file"].isna() | (df["file"].astype(str).str.strip() == "")
            if blank.any():
                df = df[~blank].reset_index(drop=True)
        why = ""
        if "file" not in df or df.empty:  # its LST/ files, as without scenes.csv (refused)
            df, why = _table_without_files(df, folder, left_out)
        df = _add_unlisted(df, folder, left_out, why)
    else:
        df = pd.DataFrame({"file": _lst_layers(folder)[0]}, dtype=object)
    other = _lst_layers(folder)[1]
    if df.empty and other:
        raise XlstsrError(
            f"{folder / 'LST'} holds no LST layer file (..._LST_doy<key>_....tif), only "
            f"{', '.join(other[:3])}{' ...' if len(other) > 3 else ''}: put the ECOSTRESS LST "
            "layer (ECO_L2_LSTE.002_LST_doy*.tif) there, other layers (LST_err, QC, Emis) "
            "elsewhere")
    if df.empty:  # an empty table failed in pandas (.str on no strings)
        raise InputNotFoundError(
            f"no ECOSTRESS scene in {folder}: it needs LST/ECO_L2_LSTE.*_doy*.tif files (with "
            "cloud_mask/ and water_mask/ beside) or a scenes.csv; pass the ecostress_la folder "
            "(or one laid out like it), or the data folder holding it, as `root`."
        )
    df["key"] = df["file"].str.extract(r"_doy(\d{13})_")[0]
    if df["key"].isna().any():
        raise XlstsrError(f"ECOSTRESS file names without a doy key (_doyYYYYDDDHHMMSS_) in "
                          f"{folder / 'LST'}: {', '.join(map(str, df['file'][df['key'].isna()]))}; keep "
                          "AppEEARS' names (the key gives the scene's time), or move such "
                          "files out of the folder")
    dup = df["key"][df["key"].duplicated()]
    if len(dup):  # scenes.loc[key] would give a table, not a row (a raw TypeError)
        raise XlstsrError(
            f"several files of {folder} share the scene key(s) {', '.join(sorted(set(dup)))}: "
            f"{', '.join(df['file'][df['key'].isin(dup)][:4])}. Keep one LST file per scene "
            "(the ..._LST_doy<key>_... layer; move other layers or copies out of the folder).")
    present = df["file"].map(lambda f: (folder / "LST" / str(f)).is_file())
    if not present.any():  # listed all as scenes, with left_out empty: the open error then
        # said ecostress_scenes left such scenes out
        lst = folder / "LST"
        holds = ("does not exist" if not lst.is_dir() else
                 f"holds {len(list(lst.iterdir()))} other file(s)" if any(lst.iterdir())
                 else "is empty")
        raise InputNotFoundError(
            f"none of the {len(df)} scenes {folder / 'scenes.csv'} lists has its LST file in "
            f"{lst} ({lst.name}/ {holds}; e.g. {df['file'].iloc[0]}): copy the LST layer files "
            "scenes.csv names (ECO_L2_LSTE.002_LST_doy<key>_....tif) into it, with their "
            "cloud_mask/ and water_mask/ files beside, or pass as root the folder that holds "
            "them.")
    if present.any() and not present.all():
        # a partial copy with the full scenes.csv: the missing ones are left out and listed
        # (in attrs["left_out"], for a page to name; warned once per folder and scenes, not
        # at each of the many listings a benchmark makes)
        keys = tuple(df["key"][~present])
        left_out.update({k: f"no LST file in {folder / 'LST'}" for k in keys})
        if (str(folder), keys) not in _WARNED_MISSING:
            _WARNED_MISSING.add((str(folder), keys))
            warn(
                f"{len(keys)} of the {len(df)} scenes of {folder / 'scenes.csv'} have no "
                f"LST file in {folder / 'LST'} and are left out (keys "
                f"{', '.join(keys[:5])}{' ...' if len(keys) > 5 else ''}).",
                UserWarning)
        df = df[present].reset_index(drop=True)
    df = _with_masks(df, folder, left_out)
    if "day_night" in df:
        df["day_night"] = _day_night_column(df, folder)
    df = _fill_scene_columns(df, folder)
    df = df.set_index("key")
    df.attrs["folder"] = str(folder)
    df.attrs["left_out"] = left_out
    return df


def _day_night_column(df: pd.DataFrame, folder: Path) -> pd.Series:
    """scenes.csv's ``day_night`` as ``"day"`` / ``"night"`` (blanks: NaN, derived from the
    files): a hand-written 'Day' or ' night' was listed as it was and failed the opening with a
    bare KeyError (the bounds are looked up by it); other values are refused."""
    raw = df["day_night"]
    dn = raw.astype(object).where(raw.isna(), raw.astype(str).str.strip().str.lower())
    dn = dn.where(dn != "", None)
    bad = dn.notna() & ~dn.isin(list(ECOSTRESS_BOUNDS))
    if bad.any():
        shown = ", ".join(f"{k}: {v!r}" for k, v in zip(df["key"][bad][:5], raw[bad][:5]))
        raise XlstsrError(
            f"{folder / 'scenes.csv'}: day_night must be 'day' or 'night' (any case), got "
            f"{shown}{' ...' if bad.sum() > 5 else ''}; write 'day' or 'night', or leave the "
            "cell empty to derive it from the scene's local solar hour.")
    return dn


#: (folder, scene keys) whose missing LST files were already warned about
_WARNED_MISSING: set[tuple[str, tuple[str, ...]]] = set()


def _scene_files(folder: Path) -> list[Path]:
    """The LST files of a folder's scenes: its LST layer files (``..._doy<key>_...``) and those
    scenes.csv lists. Another GeoTIFF in ``LST/`` (a land-cover raster) is no scene: it moved
    the common grid (a file of another continent made it globe-wide)."""
    names = [f for f in _lst_layers(folder)[0] if re.search(r"_doy\d{13}_", f)]
    if (folder / "scenes.csv").is_file():
        listed = pd.read_csv(folder / "scenes.csv", usecols=lambda c: c == "file")
        if "file" in listed:
            names += [str(f) for f in listed["file"].dropna()]
    return [folder / "LST" / f for f in sorted(set(names)) if (folder / "LST" / f).is_file()]


def _with_masks(df: pd.DataFrame, folder: Path, left_out: dict[str, str]) -> pd.DataFrame:
    """The rows whose cloud and water masks are on disk (listed in scenes.csv or found by the
    doy key); the others are left out with a warning, as a scene without its LST file is (one
    scene lacking its cloud mask stopped a whole benchmark run), and named in ``left_out``
    (key -> reason: open_ecostress_scene of one said "no scene", as for a mistyped key)."""
    lacking = pd.Series(False, index=df.index)
    missing: dict[str, list[str]] = {}
    for mask in ("cloud_mask", "water_mask"):
        listed = df[mask] if mask in df else pd.Series(None, index=df.index, dtype=object)
        for i, key in df["key"].items():
            name = listed[i]
            if isinstance(name, str) and name and (folder / mask / name).is_file():
                continue
            if not (isinstance(name, str) and name) and any((folder / mask).glob(f"*_doy{key}_*")):
                continue
            lacking[i] = True
            missing.setdefault(key, []).append(
                f"{mask} file {folder / mask / name}" if isinstance(name, str) and name
                else f"{mask} file (matched by the doy key) in {folder / mask}")
    if not lacking.any():
        return df
    if lacking.all():
        raise InputNotFoundError(
            f"no scene of {folder} has both its cloud_mask and water_mask files (in "
            f"{folder / 'cloud_mask'} and {folder / 'water_mask'}, matched by the doy key or as "
            "scenes.csv names them): each LST file needs its cloud_mask and water_mask beside "
            "(the same name with _LST_ -> _cloud_mask_; AppEEARS delivers them with the LST "
            "layer); copy them.")
    keys = list(df["key"][lacking])
    left_out.update({k: f"no {' nor '.join(missing[k])}" for k in keys})
    warn(f"{len(keys)} of the {len(df)} scenes of {folder} have no cloud_mask or water_mask file "
         f"and are left out (keys {', '.join(keys[:5])}{' ...' if len(keys) > 5 else ''}).",
         UserWarning)
    return df[~lacking].reset_index(drop=True)


def _listing(folder: str) -> tuple[tuple[str, int, int], ...]:
    """``(path, size, mtime_ns)`` of each LST file of a folder (:func:`_scene_files`): the key
    of the cached boxes, so that a scene added, removed or rewritten in the session moves the
    common grid (keyed by the folder's path alone, a scene added later was cropped to the old,
    smaller box without a word)."""
    out = []
    for path in _scene_files(Path(folder)):
        st = path.stat()
        out.append((str(path), st.st_size, st.st_mtime_ns))
    return tuple(out)


@functools.lru_cache(maxsize=16)  # once per listing: open_ecostress_scene asks per scene
def _scene_boxes(folder: str, listing: tuple[tuple[str, int, int], ...]
                 ) -> tuple[tuple[str, Box], ...]:
    """``(scene key, (west, south, east, north) degrees)`` of each LST file of a folder's
    ``listing`` (:func:`_listing`; headers only; the file name where it holds no doy key)."""
    import rasterio
    from rasterio.warp import transform_bounds

    out = []
    damaged = []
    for path in (Path(p) for p, _, _ in listing):
        try:
            with _reading(path), rasterio.open(path) as src:
                b = tuple(src.bounds)
                box = (transform_bounds(src.crs, "EPSG:4326", *b) if src.crs and
                       src.crs.to_epsg() != 4326 else b)
        except _DamagedFileError as err:
            # left out and named, as ecostress_scenes leaves it out: one damaged file stopped
            # every good scene of the folder from opening on the common grid
            damaged.append((path.name, err))
            continue
        m = re.search(r"_doy(\d{13})_", path.name)
        out.append((m.group(1) if m else path.name, tuple(float(v) for v in box)))
    if damaged and not out:  # all of them: the first one's error names it and its fix
        raise damaged[0][1]
    if damaged:
        warn(f"{len(damaged)} LST file(s) of {folder} could not be read and are left out of "
             f"the scenes' common grid: {', '.join(n for n, _ in damaged[:3])}", UserWarning)
    if not out:  # what is missing on the error: a benchmark's one-line exit words the fix
        lst = Path(folder) / "LST"
        problem = f"no LST GeoTIFF (ECOSTRESS scene ..._doy<key>_....tif) in {lst}"
        raise _missing_data(
            f"{problem}: pass root= an ECOSTRESS folder laid out like ecostress_la (LST/, "
            "cloud_mask/, water_mask/, scenes.csv) or the data folder holding ecostress_la/",
            lst, problem, "ecostress_la")
    return tuple(out)


def _union(boxes: list[Box]) -> Box:
    a = np.asarray(boxes, np.float64)
    return (float(a[:, 0].min()), float(a[:, 1].min()), float(a[:, 2].max()),
            float(a[:, 3].max()))


def _utm_name(box: Box) -> str:
    code = int(ecostress_crs(box).split(":")[1])
    return f"UTM {code % 100}{'N' if code < 32700 else 'S'}"


def _km_apart(x0: float, y0: float, x1: float, y1: float) -> float:
    """Great-circle distance (km) between two points of longitude/latitude (degrees), the
    longitude gap taken the short way round: across the antimeridian scenes 20 km apart read
    38,233 km (more than half the Earth's circumference) on raw longitude differences."""
    lon0, lat0, lon1, lat1 = map(np.radians, (x0, y0, x1, y1))
    d = (np.sin((lat1 - lat0) / 2) ** 2
         + np.cos(lat0) * np.cos(lat1) * np.sin((lon1 - lon0) / 2) ** 2)
    return float(2 * 6371.0 * np.arcsin(np.sqrt(min(1.0, d))))


def _across_split(boxes: list[Box]) -> tuple[Box, Box] | None:
    """The two boxes, west (up to 180) and east (from -180) of the antimeridian, of a group
    of scenes that lies across it (a scene's GeoTIFF reaching past 180 degrees, or scenes on
    both sides linked across it); None when the group lies on one side."""
    a = np.asarray(boxes, np.float64)
    if a[:, 0].min() >= -180 and a[:, 2].max() <= 180 and a[:, 2].max() - a[:, 0].min() <= 180:
        return None
    # the parts of each box in the eastern hemisphere (up to 180: west of the date line) and
    # in the western one (from -180: east of it), wrapped
    east, west = [], []
    for w, _, e, _ in a:
        if (w + e) / 2 < 0:  # written west of Greenwich (past -180 too): as east of it
            w, e = w + 360, e + 360
        if w < 180:
            east.append(w)
        if e > 180:
            west.append(e - 360)
    if not east or not west:  # one side only: no split (a side of zero width was refused)
        return None
    s, n = float(a[:, 1].min()), float(a[:, 3].max())
    return (float(min(east)), s, 180.0, n), (-180.0, s, float(max(west)), n)


def _wrapped(box: Box) -> Box:
    """``box`` in longitudes -180..180 where it lies wholly past 180 (a GeoTIFF written in
    0..360 longitudes: 180.5 E is 179.5 W) or before -180; as it is otherwise (one reaching
    across 180 is split by :func:`_across_split`). Its box (180.5, s, 180.8, n) was refused
    as a user's box, advising ecostress_box() again."""
    w, s, e, n = box
    if w >= 180:
        return (w - 360, s, e - 360, n)
    if e <= -180:
        return (w + 360, s, e + 360, n)
    return box


@functools.lru_cache(maxsize=16)
def _folder_groups(folder: str, listing: tuple[tuple[str, int, int], ...]
                   ) -> tuple[Box, Box, tuple[tuple[str, str], ...], tuple[Box, Box] | None]:
    """The union box of a folder's scenes (those of ``listing``, :func:`_listing`), the box of
    its main group (the largest set of scenes linked by boxes less than :data:`APART_DEG`
    apart, the longitude gap taken across the antimeridian too; ties: the group of the
    earliest key), ``(key, reason)`` of each scene outside that group (its great-circle
    distance named), and the split of the main group's box at 180 degrees where it lies
    across the antimeridian (:func:`_across_split`), else None."""
    scenes = _scene_boxes(folder, listing)
    boxes = [_wrapped(b) for _, b in scenes]
    a = np.asarray(boxes, np.float64)
    lat_near = ((a[:, None, 1] - APART_DEG < a[None, :, 3])
                & (a[None, :, 1] - APART_DEG < a[:, None, 3]))
    # a box near another one on the other side of 180 degrees: one place across the
    # antimeridian (raw longitudes put 20 km apart scenes a world apart)
    near = np.zeros_like(lat_near)
    for shift in (-360.0, 0.0, 360.0):
        near |= ((a[:, None, 0] - APART_DEG < a[None, :, 2] + shift)
                 & (a[None, :, 0] + shift - APART_DEG < a[:, None, 2]))
    near &= lat_near
    groups, todo = [], set(range(len(boxes)))
    while todo:  # the groups: sets of scenes linked by boxes near each other
        seen, front = set(), {min(todo)}
        while front:
            seen |= front
            front = set(np.flatnonzero(near[sorted(front)].any(axis=0)).tolist()) - seen
        groups.append(sorted(seen))
        todo -= seen
    main = min(groups, key=lambda m: (-len(m), min(scenes[i][0] for i in m)))
    split = _across_split([boxes[i] for i in main])
    main_box = _union([boxes[i] for i in main])
    zone = _utm_name(split[0] if split else main_box)
    cx, cy = (main_box[0] + main_box[2]) / 2, (main_box[1] + main_box[3]) / 2
    if split:  # the middle of the group across 180, not of the whole width of the Earth
        cx = ((split[0][0] + split[1][2] + 360) / 2 + 180) % 360 - 180
    apart = []
    for i, (key, _) in enumerate(scenes):
        if i in main:
            continue
        b = boxes[i]
        x, y = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
        km = _km_apart(cx, cy, x, y)
        side = _across_split([b])
        apart.append((key, f"its centre lon {x:.2f}, lat {y:.2f}: {km:.0f} km from the main "
                           f"group's, {_utm_name(side[0] if side else b)}; the group's: "
                           f"{zone}"))
    return _union(boxes), main_box, tuple(apart), split


def ecostress_apart(root: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """The scenes of a folder that lie apart from its main group of scenes, key -> why.

    The scenes of one place overlap; a scene whose box is at least :data:`APART_DEG` from
    every scene of the folder's main group (the largest set of scenes linked by near
    boxes) shows another place (another city, often another UTM zone), and the common grid over
    the folder's box would span both places, mostly empty. Put each place's scenes in a folder
    of their own, or take the main group's box (``ecostress_box(folder, main_group=True)``).

    Examples
    --------
    >>> ecostress_apart()  # doctest: +SKIP
    {}
    """
    folder = str(_folder(root).resolve())
    listing = _listing(folder)
    n = len(_scene_boxes(folder, listing))
    apart = _folder_groups(folder, listing)[2]
    return {k: (f"lies apart from the main group of {n - len(apart)} scenes of "
                f"{Path(folder).name} ({detail})") for k, detail in apart}


#: folders whose scenes apart from their main group were already warned about
_WARNED_APART: set[str] = set()


def ecostress_box(root: str | os.PathLike[str] | None = None, *,
                  main_group: bool = False) -> Box:
    """``(west, south, east, north)`` (degrees) of all the LST scenes of a folder: the union of
    their GeoTIFFs' bounds (headers only), which the common grid covers.

    A scene lying apart from the folder's main group (:func:`ecostress_apart`: another place)
    stretched the grid over both places without a word: a warning names such scenes (once per
    folder); ``main_group=True`` gives the box of the main group alone (those scenes then lie
    outside the grid). A main group across the antimeridian (a scene's GeoTIFF reaching past
    180 degrees, or scenes on both sides of it) is refused with the box of each side, which
    one UTM zone's grid can cover. Scenes written in 0..360 longitudes wholly past 180 get
    their box in -180..180 (180.5 E as -179.5).

    Examples
    --------
    >>> w, s, e, n = ecostress_box()  # doctest: +SKIP
    >>> round(w, 2), round(n, 2)  # doctest: +SKIP
    (-118.71, 34.32)
    """
    main_group = check_bool("main_group", main_group)  # "no" is truthy: the main group's box
    folder = str(_folder(root).resolve())
    listing = _listing(folder)
    whole, main, apart, split = _folder_groups(folder, listing)
    if split is not None:
        # a scene's GeoTIFF reaching past 180 degrees (or scenes on both sides of it): the
        # union box was refused as a user's box, advising the very call that had failed
        keys = [k for k, b in _scene_boxes(folder, listing) if _across_split([b])]
        which = (f"scene(s) {', '.join(keys[:3])} reach past 180 degrees of longitude"
                 if keys else "its scenes lie on both sides of 180 degrees of longitude")
        e, w = (tuple(round(v, 6) for v in b) for b in split)
        raise XlstsrError(
            f"the {'main group of the ' if apart else ''}scenes of {folder} lie across the "
            f"antimeridian ({which}): the common grid is one UTM zone's and cannot cover both "
            f"sides. Grid each side apart, e.g. `open_ecostress_scene(key, {folder!r}, "
            f"resolution=70, box={e})` ({e[0]:g} E to 180: west of the date line, UTM "
            f"{_utm_name(split[0])[4:]}) or box={w} (180 to {-w[2]:g} W: east of the date "
            f"line, UTM {_utm_name(split[1])[4:]}), each scene on the box "
            "of its side; or resolution=None for each scene's own grid."
        )
    if main_group:
        return main
    if apart and folder not in _WARNED_APART:
        _WARNED_APART.add(folder)
        n = len(_scene_boxes(folder, listing))
        span = whole[2] - whole[0]
        # a box wider than one grid can cover is refused by ecostress_grid: said, not raised
        extent = (f"{ecostress_grid(8960.0, whole)[0].size * 8.96:.0f} km wide, mostly empty, "
                  "in the UTM zone of its centre" if span <= MAX_BOX_DEGREES else
                  f"{span:g} degrees of longitude, wider than a common grid can be")
        warn(f"{len(apart)} of the {n} scenes of {folder} lie apart from its main group of "
             f"{n - len(apart)}: " + "; ".join(f"{k} ({why})" for k, why in apart[:3])
             + (" ..." if len(apart) > 3 else "")
             + f". The common grid spans both places ({extent}). Put each place's scenes in "
             "a folder of its own, or pass "
             "box=ecostress_box(folder, main_group=True) to grid the main group alone.",
             UserWarning)
    return whole


def ecostress_crs(box: Box) -> str:
    """The UTM zone (WGS 84) of a box's centre, as an EPSG code: the common grid's CRS.

    ``box`` is ``(west, south, east, north)`` in degrees; a folder's is
    ``ecostress_box(folder)``.

    Examples
    --------
    >>> ecostress_crs((-118.71, 33.66, -117.53, 34.32)), ecostress_crs((18.0, -34.2, 18.8, -33.8))
    ('EPSG:32611', 'EPSG:32734')
    """
    if isinstance(box, (str, bytes, os.PathLike)):  # a folder, as its neighbours take: raw
        # "unsupported operand type(s) for /: 'str' and 'int'" (an XlstsrError as any box
        # _check_box refuses)
        raise XlstsrError(
            f"ecostress_crs takes a box (west, south, east, north) in degrees, not a folder: "
            f"got {box!r:.80}; pass the folder's box, ecostress_crs(ecostress_box(folder)).")
    box = _check_box(box)
    lon, lat = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    zone = int(np.clip(np.floor((lon + 180.0) / 6.0) + 1, 1, 60))
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


def ecostress_grid(resolution: float = 70.0, box: Box | None = None,
                   root: str | os.PathLike[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates ``(x, y)`` (m, in :func:`ecostress_crs` of the box; y
    descending) of the common grid over ``box`` (default: :func:`ecostress_box` of ``root``).

    ``resolution`` must divide 8960 m (70 m x 2^k up to 8960 m, or 280, 1120 m...): the grids of
    all resolutions then share pixel edges, so a radiometric aggregate by ``f`` of the grid at
    ``r`` lies exactly on the grid at ``f r``.

    Examples
    --------
    >>> box = (-118.71, 33.66, -117.53, 34.32)
    >>> x70, y70 = ecostress_grid(70, box)
    >>> x280, _ = ecostress_grid(280, box)
    >>> len(x70) == 4 * len(x280), float(x280[0] - x70[0]) == 105.0
    (True, True)
    """
    resolution = _check_resolution(resolution, multiple_of_70=False)
    from pyproj import Transformer

    box = ecostress_box(root) if box is None else _check_box(box)
    tr = Transformer.from_crs("EPSG:4326", ecostress_crs(box), always_xy=True)
    # corners and edge midpoints: a box's extreme eastings need not lie at its corners
    lon = np.array([box[0], box[0], box[2], box[2], box[0], box[2], (box[0] + box[2]) / 2,
                    (box[0] + box[2]) / 2])
    lat = np.array([box[1], box[3], box[1], box[3], (box[1] + box[3]) / 2,
                    (box[1] + box[3]) / 2, box[1], box[3]])
    x, y = tr.transform(lon, lat)
    x0, x1 = np.floor(x.min() / _ANCHOR) * _ANCHOR, np.ceil(x.max() / _ANCHOR) * _ANCHOR
    y0, y1 = np.floor(y.min() / _ANCHOR) * _ANCHOR, np.ceil(y.max() / _ANCHOR) * _ANCHOR
    xs = np.arange(x0 + resolution / 2, x1, resolution)
    ys = np.arange(y1 - resolution / 2, y0, -resolution)
    return xs, ys


#: the resolutions of the common grid: 70 m x 2^k (each divides the 8960 m anchor)
RESOLUTIONS = tuple(70.0 * 2**k for k in range(8))


def _check_resolution(resolution: object, *, multiple_of_70: bool = True) -> float:
    """``resolution`` as metres of the common grid, or a GridError listing the valid ones (0
    divided by zero, -70 built an empty grid, True was 1 m, 100 a bare ValueError)."""
    ok = isinstance(resolution, (int, float, np.number)) and not isinstance(resolution, bool)
    r = float(resolution) if ok else float("nan")
    if ok and np.isfinite(r) and r > 0 and not _ANCHOR % r and (not multiple_of_70 or not r % 70):
        return r
    raise GridError(
        f"resolution must be metres of the common grid: {', '.join(f'{v:g}' for v in RESOLUTIONS)}"
        f" (70 m x 2^k: they divide the 8960 m anchor, so the grids share pixel edges), "
        f"got {resolution!r}"
        + ("; resample the result for another one" if ok else "")
        + "; or None for the scene's own EPSG:4326 grid."
    )


#: the widest box (degrees of longitude) the common grid, one UTM zone's, is laid over: ten
#: zones, a grid of ~6,700 km at the equator and far from its zone's central meridian
MAX_BOX_DEGREES = 60.0


def _check_box(box: object) -> Box:
    """``(west, south, east, north)`` degrees, or an XlstsrError (two numbers gave a raw
    IndexError)."""
    try:
        vals = tuple(float(v) for v in box)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        vals = ()
    if (len(vals) != 4 or not np.isfinite(vals).all() or not vals[1] < vals[3]
            or not -90 <= vals[1] < vals[3] <= 90 or not -180 <= min(vals[0], vals[2])
            or max(vals[0], vals[2]) > 180):
        raise XlstsrError(
            f"box must be (west, south, east, north) in degrees of longitude and latitude, got "
            f"{box!r}; e.g. ecostress_box() (all scenes of the folder)."
        )
    # 180 and -180 are one meridian: a box from 180 east (or to -180) lies on one side of it
    # ((180, s, -179.5, n) was refused as crossing, its advised half (180, s, 180, n) of zero
    # width accepted)
    vals = (-180.0 if vals[0] == 180 and vals[2] != 180 else vals[0], vals[1],
            180.0 if vals[2] == -180 and vals[0] != -180 else vals[2], vals[3])
    if vals[0] == vals[2]:  # a grid 0 m wide
        raise XlstsrError(
            f"box {box!r} has no width (west = east = {vals[0]:g}): give (west, south, east, "
            "north) with west < east, e.g. ecostress_box() (all scenes of the folder).")
    if vals[0] > vals[2]:
        # west > east crosses the antimeridian: its centre (0 for (179.5, -179.5)) picked the
        # Greenwich UTM zone and a 16,000 km grid around the world
        raise XlstsrError(
            f"box {box!r}: west {vals[0]:g} > east {vals[2]:g}: a box across "
            "the antimeridian (180 degrees) is not supported by the common grid (one UTM "
            "zone): split it at 180 into two boxes, e.g. "
            f"({vals[0]:g}, {vals[1]:g}, 180, {vals[3]:g}) and "
            f"(-180, {vals[1]:g}, {vals[2]:g}, {vals[3]:g}), and open each scene on the one "
            "its place lies in (or resolution=None for the scene's own grid).")
    if vals[2] - vals[0] > MAX_BOX_DEGREES:
        # one UTM zone's grid over it: (-180, s, 180, n) gave a 16,236 km grid
        raise XlstsrError(
            f"box {box!r} spans {vals[2] - vals[0]:g} degrees of longitude: the common grid is "
            f"one UTM zone's (6 degrees wide), usable over at most {MAX_BOX_DEGREES:g} degrees; "
            "give a box around the scenes you open (ecostress_box of a folder holding them, "
            "ecostress_box(folder, main_group=True) for its main group), one per region, or "
            "resolution=None for each scene's own grid.")
    return vals  # type: ignore[return-value]


def _check_bounds(bounds: object) -> tuple[float, float]:
    """``(low, high)`` Kelvin (``"land"``: :data:`LAND_BOUNDS`): bounds reversed, in Celsius or
    NaN masked every pixel silently."""
    if isinstance(bounds, str) and bounds.strip().lower() == "land":
        return LAND_BOUNDS
    try:
        lo, hi = (float(v) for v in bounds)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        lo = hi = float("nan")
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise XlstsrError(
            f"bounds must be (low, high) plausible LST in Kelvin with low < high, got {bounds!r};"
            f" e.g. {ECOSTRESS_BOUNDS['day']} (day) or {ECOSTRESS_BOUNDS['night']} (night), or "
            f"None for these (Los Angeles in summer), or \"land\" ({LAND_BOUNDS[0]:g}-"
            f"{LAND_BOUNDS[1]:g} K: any place and season)."
        )
    if hi < 150:
        raise XlstsrError(
            f"bounds {bounds!r} are not Kelvin (every LST pixel would be masked): add 273.15 to "
            f"bounds in degrees Celsius, e.g. ({lo + 273.15:g}, {hi + 273.15:g})."
        )
    return lo, hi


#: the share of a scene's clear land pixels the default bounds may remove without a warning (the
#: undetected cloud edges they are meant for: at most 0.02 % of a shared Los Angeles scene)
DEFAULT_BOUNDS_MAX_SHARE = 0.05


def _check_default_bounds(key: str, day_night: str, clear_lst: np.ndarray, kept: int,
                          bounds: tuple[float, float]) -> None:
    """A warning when the default bounds (Los Angeles in summer) remove more than
    :data:`DEFAULT_BOUNDS_MAX_SHARE` of a scene's clear land pixels, an AllNaNError when they
    remove all: a scene of a colder place or season came back mostly (or all) NaN without a
    word."""
    n = clear_lst.size
    share = 1.0 - kept / n
    if share <= DEFAULT_BOUNDS_MAX_SHARE:
        return
    med = float(np.median(clear_lst))
    lo, hi = bounds
    # a range centred on the scene's median as wide as the default (LA day: 287-347 K)
    low, high = 5 * round((med - 30) / 5), 5 * round((med + 30) / 5)
    how = (f"pass bounds=\"land\" ({LAND_BOUNDS[0]:g}-{LAND_BOUNDS[1]:g} K: land anywhere, "
           f"any season), or bounds=(low, high) in K fitting the scene's place and season (e.g. "
           f"bounds=({low}, {high}) around its median), or bounds=(150, 400) to keep every clear "
           "pixel (no plausibility test)")
    what = (f"the default plausibility bounds {lo:g}-{hi:g} K ({day_night}; tuned for Los "
            f"Angeles in summer) remove")
    if kept == 0:
        raise AllNaNError(
            f"scene {key}: {what} all its {n} clear land pixels (median {med:.1f} K): the scene "
            f"would be all NaN; {how}.")
    warn(f"scene {key}: {what} {share:.0%} of its {n} clear land pixels (median {med:.1f} K), "
         f"set to NaN; {how}.", UserWarning)


def _read(path: Path) -> tuple[np.ndarray, object, str]:
    import rasterio

    with _reading(path), rasterio.open(path) as src:  # raw DN: no scale (the masks' is bogus)
        return src.read(1), src.transform, str(src.crs)


def _read_lst(path: Path) -> tuple[np.ndarray, np.ndarray, object, str]:
    """Kelvin (float32) and where the file has data, its transform and CRS. The product stores
    uint16 DN x 0.02 (nodata 0); a float file (an LST already converted to Kelvin, e.g. by
    AppEEARS' scaled output or by hand) is taken as it is: multiplying it by 0.02 gave 6 K,
    which the plausibility bounds masked to a scene of NaN without a word."""
    import rasterio

    with _reading(path), rasterio.open(path) as src:
        dn = src.read(1)
        scale, offset, nodata = src.scales[0], src.offsets[0], src.nodata
        transform, crs = src.transform, str(src.crs)
    if dn.dtype.kind == "f":
        has = np.isfinite(dn) & (dn != nodata if nodata is not None else True)
        lst = (dn * np.float32(scale) + np.float32(offset)).astype(np.float32)
        return lst, has, transform, crs
    # integers: the file's GDAL scale (0.02 in AppEEARS' files), the product's 0.02 without one
    scale = 0.02 if scale == 1.0 and offset == 0.0 else scale
    lst = (dn.astype(np.float32) * np.float32(scale) + np.float32(offset)).astype(np.float32)
    return lst, dn > 0, transform, crs


def _clear(folder: Path, key: str, file: str, cloud_file: str, water_file: str
           ) -> tuple[np.ndarray, np.ndarray, object, str]:
    """Where a scene is clear land (data, cloud_mask == 0, water_mask == 0), its Kelvin,
    transform and CRS; masks of another grid are refused (a raw numpy broadcast error)."""
    paths = {"LST": folder / "LST" / file, "cloud mask": folder / "cloud_mask" / cloud_file,
             "water mask": folder / "water_mask" / water_file}
    lacking = [f"{what} {p}" for what, p in paths.items() if not p.is_file()]
    if lacking:  # rasterio's raw "No such file or directory" named no scene
        raise InputNotFoundError(
            f"scene {key}: the folder lacks its {'; '.join(lacking)} (a partial copy? scenes.csv "
            "lists it). Copy the files, or pick a scene of `ecostress_scenes(folder)`, which "
            "leaves out those without them.")
    lst, has, transform, crs = _read_lst(paths["LST"])
    cloud, cloud_t, _ = _read(paths["cloud mask"])
    water, water_t, _ = _read(paths["water mask"])
    other = [f for f, t in ((cloud_file, cloud_t), (water_file, water_t))
             if not t.almost_equals(transform, precision=1e-3 * abs(transform.a))]
    if other:  # same shape, another granule's grid (many scenes are 1873 x 1052)
        raise GridError(
            f"scene {key}: {', '.join(other)} lie on another grid than its LST (transform "
            f"{tuple(round(v, 6) for v in transform[:6])}): a mask of another scene; check "
            "scenes.csv or the mask folders.")
    if cloud.shape != lst.shape or water.shape != lst.shape:
        raise GridError(
            f"scene {key}: the LST ({lst.shape}) and its masks (cloud {cloud.shape}, water "
            f"{water.shape}) differ in shape, so they are not of one granule; check "
            f"{cloud_file} and {water_file} (scenes.csv or the mask folders).")
    return has & (cloud == 0) & (water == 0), lst, transform, crs


def _projected(crs: str) -> bool:
    """Whether a scene's CRS (as :func:`_read_lst` gives it) is projected (coordinates in
    metres, not degrees)."""
    from rasterio.crs import CRS
    from rasterio.errors import CRSError

    try:
        return bool(CRS.from_user_input(crs).is_projected)
    except CRSError:  # none ("None") or unreadable: taken as degrees, as the product has it
        return False


def _scene_key(key: object) -> str:
    """The doy key of a scene named by its key, a file name, or its UTC time (a datetime, a
    pandas Timestamp, numpy datetime64 or an ISO string with a zone: converted to UTC)."""
    m = re.search(r"doy(\d{13})", str(key))  # a file name (LST or mask) holds its key
    if m:
        return m.group(1)
    if isinstance(key, (pd.Timestamp, np.datetime64)) or hasattr(key, "isoformat") or (
            isinstance(key, str) and not key.isdigit()):
        try:
            t = pd.Timestamp(key)
        except (ValueError, TypeError):
            return str(key)
        if t is not pd.NaT:
            t = t.tz_convert("UTC") if t.tzinfo is not None else t  # naive: taken as UTC
            return t.strftime("%Y%j%H%M%S")
    return str(key)


def open_ecostress_scene(
    key: str,
    root: str | os.PathLike[str] | None = None,
    *,
    resolution: float | None = None,
    bounds: tuple[float, float] | None = None,
    box: Box | None = None,
) -> xr.DataArray:
    """One ECOSTRESS scene as LST in Kelvin, NaN where not clear land or implausible.

    Parameters
    ----------
    key : str
        The doy key of the scene (the index of :func:`ecostress_scenes`), or one of its file
        names (``ECO_L2_LSTE.002_LST_doy2023183080644_aid0001.tif``).
    root : path, optional
        The ``ecostress_la`` folder, or the data folder holding it.
    resolution : float, optional
        None (default): the scene's own grid: ``lat``/``lon`` in degrees (EPSG:4326, as the
        product and the shared scenes are), ``y``/``x`` in metres for a scene written in a
        projected CRS (UTM...). A number of metres that
        divides 8960 (70, 140, 280, 560, 1120...): the common grid (:func:`ecostress_grid`,
        ``y``/``x``; UTM 11N for the shared Los Angeles scenes). The scene is put on the 70 m grid by nearest
        neighbour (its pixels are about 58 x 70 m) and aggregated radiometrically
        (``(mean T^4)^(1/4)``, a block valid when at least half its 70 m pixels are) to coarser
        ones.
    bounds : (float, float) or "land", optional
        Plausible LST range (K); by default :data:`ECOSTRESS_BOUNDS` of the scene's day/night
        (Los Angeles in summer): a warning when these remove more than 5 % of the scene's clear
        land pixels (a colder place or season), an AllNaNError when they remove all. Bounds
        given are applied without a word; ``"land"`` is :data:`LAND_BOUNDS` (180-355 K, land
        anywhere on Earth in any season), ``(150, 400)`` keeps every clear pixel. The result's
        attrs ``clear_pixels`` and ``outside_bounds`` count the scene's clear land pixels and
        those the bounds removed (``clear_median_k``: their median), so that a caller can name
        a scene the bounds emptied or cut.
    box : (west, south, east, north), optional
        The box (degrees) the common grid covers; default :func:`ecostress_box` of the scene's
        folder. Give the union of two folders' boxes to put both on one grid.

    Returns
    -------
    DataArray
        Float32 Kelvin, ``units="K"``, ``key``, ``day_night``, ``time`` (UTC) and ``crs`` in attrs
        (the CRS also through rioxarray when the grid is metric).

    Examples
    --------
    >>> lst = open_ecostress_scene("2023183080644", resolution=280)  # doctest: +SKIP
    >>> lst.dims, lst.attrs["day_night"]  # doctest: +SKIP
    (('y', 'x'), 'night')
    """
    if resolution is not None:
        resolution = _check_resolution(resolution)
    if bounds is not None:
        bounds = _check_bounds(bounds)
    if box is not None:
        box = _check_box(box)
    scenes = ecostress_scenes(root)
    given, key = key, _scene_key(key)
    # the user's date or time (not a key or a file name), named if no scene is at that time
    given = given if (re.fullmatch(r"\d{13}", key) and key != str(given).strip()
                      and "doy" not in str(given)) else None
    unreadable = scenes.attrs.get("unreadable", {})
    if key in unreadable:  # left out of the listing, its file damaged
        raise XlstsrError(f"scene {key}: {unreadable[key]}")
    left_out = scenes.attrs.get("left_out", {})
    if key not in scenes.index and key in left_out:  # not a mistyped key: say why
        raise InputNotFoundError(
            f"no ECOSTRESS scene {key!r} in the listing of {scenes.attrs['folder']}: it is left "
            f"out ({left_out[key]}). Copy its missing file(s) there (ecostress_scenes() lists the "
            f"{len(scenes)} scenes present; its attrs['left_out'] those left out).")
    if key not in scenes.index and given is not None:
        # a date or time given: the doy key made of it ('2023172000000' for '2023-06-21') is
        # not what the user typed; the scenes of that UTC day are what they look for
        day = [k for k in scenes.index if str(k)[:7] == key[:7]]
        when = pd.to_datetime(key, format="%Y%j%H%M%S")
        raise VariableNotFoundError(
            f"no ECOSTRESS scene at {when} UTC (the time {given!r} names"
            + ("; a date alone is its midnight" if key.endswith("000000") else "") + "): "
            + (f"the scenes of {when.date()} (UTC) are "
               + ", ".join(f"{k} ({k[7:9]}:{k[9:11]}:{k[11:13]} UTC)" for k in day)
               + "; pass one of these keys" if day else
               f"no scene of {when.date()} (UTC) either; the scenes' days are "
               + ", ".join(sorted({pd.to_datetime(str(k)[:7], format="%Y%j")
                                   .strftime("%Y-%m-%d") for k in scenes.index})))
            + " (ecostress_scenes() lists them with their datetime_utc).")
    if key not in scenes.index:
        raise VariableNotFoundError(
            f"no ECOSTRESS scene {key!r}: a scene is named by the doy key of its file names "
            f"(YYYYDDDHHMMSS, UTC; the index of ecostress_scenes()) or by a file name; known: "
            f"{', '.join(scenes.index)}"
        )
    row = scenes.loc[key]
    folder = Path(scenes.attrs["folder"])
    clear, lst, transform, crs = _clear(folder, key, row["file"], row["cloud_mask"],
                                        row["water_mask"])
    lo, hi = bounds if bounds is not None else ECOSTRESS_BOUNDS[row["day_night"]]
    if clear.any() and not 150.0 < float(np.median(lst[clear])) < 400.0:
        raise XlstsrError(
            f"scene {key}: its clear land pixels decode to a median of "
            f"{float(np.median(lst[clear])):.4g} K, not a land temperature: is "
            f"{row['file']} the LST layer, stored as uint16 DN x 0.02 (or float Kelvin)? "
            "Replace it with the product's LST file (ECO_L2_LSTE.002_LST_doy*.tif).")
    ok = clear & (lst >= lo) & (lst <= hi)
    if bounds is None and clear.any():
        _check_default_bounds(key, row["day_night"], lst[clear], int(np.count_nonzero(ok)),
                              (lo, hi))
    n_clear, n_ok = int(np.count_nonzero(clear)), int(np.count_nonzero(ok))
    median = float(np.median(lst[clear])) if n_clear else float("nan")
    lst = np.where(ok, lst, np.float32(np.nan)).astype(np.float32)
    attrs = {"units": "K", "long_name": "land surface temperature", "key": key,
             "day_night": row["day_night"], "time": str(row["datetime_utc"]),
             "source": "ECOSTRESS L2 LSTE v002", "bounds_k": [lo, hi],
             "clear_pixels": n_clear, "outside_bounds": n_clear - n_ok,
             "clear_median_k": round(median, 2)}
    # the overpass time as a scalar coordinate (UTC), as the date checks read it: kept in attrs
    # only, an sr of 07-21 was scored against the scene of 07-28 without a word
    when = pd.Timestamp(row["datetime_utc"])
    when = (when.tz_convert("UTC").tz_localize(None) if when.tzinfo else when).to_datetime64()
    if resolution is None:
        ny, nx = lst.shape
        xs = transform.c + transform.a * (np.arange(nx) + 0.5)
        ys = transform.f + transform.e * (np.arange(ny) + 0.5)
        if not _projected(crs):
            return xr.DataArray(lst, dims=("lat", "lon"), coords={"lat": ys, "lon": xs,
                                                                  "time": when},
                                name="lst", attrs=attrs | {"crs": crs})
        # a scene written in a projected CRS (UTM...): its coordinates are metres, not lat/lon
        import rioxarray  # noqa: F401  (registers .rio)

        own = xr.DataArray(lst, dims=("y", "x"), coords={"y": ys, "x": xs, "time": when},
                           name="lst", attrs=attrs | {"crs": crs})
        return _with_crs(own, crs)
    box = ecostress_box(folder) if box is None else box
    out, inside = _project(lst, transform, crs, float(resolution), attrs, box)
    out = out.assign_coords(time=when)
    # on the 70 m grid: at a coarser one, a scene whose few pixels within the bounds fill no
    # block by half was said to lie outside the box
    if ok.any() and not inside:
        import rasterio.transform
        from rasterio.warp import transform_bounds

        b = rasterio.transform.array_bounds(*lst.shape, transform)
        b = transform_bounds(crs, "EPSG:4326", *b) if _projected(crs) else b  # not metres
        raise NoOverlapError(
            f"scene {key} (lon {b[0]:.3f} to {b[2]:.3f}, lat {b[1]:.3f} to {b[3]:.3f}) has no "
            f"clear land pixel inside the box {tuple(round(v, 3) for v in box)} (west, south, "
            "east, north): pass a box that covers it (default: ecostress_box() of its folder)."
        )
    return out


def _project(lst: np.ndarray, transform, crs: str, resolution: float, attrs: dict,
             box: Box) -> tuple[xr.DataArray, bool]:
    """The scene on the common grid of ``box`` at ``resolution``, and whether any valid pixel
    of it lands on the 70 m grid (inside the box)."""
    from rasterio.transform import from_origin
    from rasterio.warp import Resampling, reproject

    x70, y70 = ecostress_grid(70.0, box)
    grid_crs = ecostress_crs(box)
    out = np.full((len(y70), len(x70)), np.nan, np.float32)
    reproject(lst, out, src_transform=transform, src_crs=crs, src_nodata=np.nan,
              dst_transform=from_origin(x70[0] - 35.0, y70[0] + 35.0, 70.0, 70.0),
              dst_crs=grid_crs, dst_nodata=np.nan, resampling=Resampling.nearest)
    inside = bool(np.isfinite(out).any())
    f = int(resolution // 70)
    if f > 1:
        out = radiometric_mean(out, f, min_valid=0.5).astype(np.float32)
    xs, ys = ecostress_grid(resolution, box)
    da = xr.DataArray(out, dims=("y", "x"), coords={"y": ys, "x": xs}, name="lst",
                      attrs=attrs | {"crs": grid_crs, "resolution_m": resolution})
    import rioxarray  # noqa: F401  (registers .rio)

    return _with_crs(da, grid_crs), inside


def _with_crs(da: xr.DataArray, crs: Any) -> xr.DataArray:
    """``da`` with ``crs`` written through rioxarray and kept in ``attrs['crs']`` as the
    docstring of :func:`open_ecostress_scene` says (``write_crs`` removes that attribute: a
    metric grid's result had none)."""
    out = da.rio.write_crs(crs)
    out.attrs["crs"] = crs
    return out
