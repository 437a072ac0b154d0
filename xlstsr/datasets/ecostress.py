"""The ECOSTRESS scenes of the shared data (``ecostress_la/``): real 70 m LST over Los Angeles.

22 ECOSTRESS L2 LSTE v002 scenes (20 overpasses, June-August 2023, day and night), each on its own
swath-gridded EPSG:4326 grid (about 0.00063 deg). :func:`ecostress_scenes` lists them
(``scenes.csv``); :func:`open_ecostress_scene` reads one as masked Kelvin, on its own grid or
projected onto a common metric grid (UTM 11N, 70 m or any multiple of it, anchored so that all
scenes and all their aggregates share pixel edges), where scales are in metres and scenes can be
compared pixel for pixel.

Masking (the README of the data): NaN where LST == 0 (fill), ``cloud_mask != 0`` or
``water_mask != 0``; the masks are class codes read without their bogus ``scale_factor``
(0.0001). Undetected cloud edges remain (e.g. 275.7 K by day in August): a plausibility bound
(by default 285-345 K by day, 265-320 K by night) removes them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..kernels.aggregate import radiometric_mean
from .root import data_root

__all__ = [
    "ECOSTRESS_BOUNDS",
    "ECOSTRESS_CRS",
    "ecostress_grid",
    "ecostress_scenes",
    "open_ecostress_scene",
]

#: plausible LST (K) of a cloud-free land pixel, by day and by night (undetected cloud edges fall
#: below: cloud-free daytime land pixels of this box and season are >= ~285 K)
ECOSTRESS_BOUNDS = {"day": (285.0, 345.0), "night": (265.0, 320.0)}
#: the metric CRS of the common grid (UTM zone 11 N, WGS 84)
ECOSTRESS_CRS = "EPSG:32611"
# the common grid: the data box (118.71-117.53 W, 33.66-34.32 N) in UTM 11N, edges rounded
# outward to multiples of 8960 m (= 128 x 70 m), so every aggregate by 2, 4 ... 128 aligns
_ANCHOR = 8960.0
_BOX = (-118.72, 33.65, -117.52, 34.33)


def _folder(root: str | os.PathLike[str] | None) -> Path:
    folder = Path(root) if root is not None and (Path(root) / "scenes.csv").is_file() else None
    return folder if folder is not None else data_root(root) / "ecostress_la"


def ecostress_scenes(root: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The scenes of ``ecostress_la/scenes.csv``, one row per granule, indexed by ``key``.

    ``key`` is the doy key of the file name (``YYYYDDDHHMMSS``, UTC); ``overpass`` groups the two
    granules of one overpass (the key of the first); ``datetime_utc`` is parsed.

    Parameters
    ----------
    root : path, optional
        The ``ecostress_la`` folder itself, or the data folder holding it
        (:func:`xlstsr.datasets.data_root`).

    Examples
    --------
    >>> s = ecostress_scenes()  # doctest: +SKIP
    >>> len(s), s["overpass"].nunique(), sorted(s["day_night"].unique())  # doctest: +SKIP
    (22, 20, ['day', 'night'])
    """
    folder = _folder(root)
    df = pd.read_csv(folder / "scenes.csv", dtype={"overpass": str})
    df["key"] = df["file"].str.extract(r"_doy(\d{13})_")[0]
    df["datetime_utc"] = pd.to_datetime(df["datetime_utc"])
    df.attrs["folder"] = str(folder)
    return df.set_index("key")


def ecostress_grid(resolution: float = 70.0) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates ``(x, y)`` (m, UTM 11N; y descending) of the common grid.

    ``resolution`` must divide 8960 m (70 m x 2^k up to 8960 m, or 280, 1120 m...): the grids of
    all resolutions then share pixel edges, so a radiometric aggregate by ``f`` of the grid at
    ``r`` lies exactly on the grid at ``f r``.

    Examples
    --------
    >>> x70, y70 = ecostress_grid(70)
    >>> x280, _ = ecostress_grid(280)
    >>> len(x70) == 4 * len(x280), float(x280[0] - x70[0]) == 105.0
    (True, True)
    """
    if _ANCHOR % resolution:
        raise ValueError(f"resolution {resolution} m does not divide {_ANCHOR:.0f} m")
    from pyproj import Transformer

    tr = Transformer.from_crs("EPSG:4326", ECOSTRESS_CRS, always_xy=True)
    lon = np.array([_BOX[0], _BOX[0], _BOX[2], _BOX[2]])
    lat = np.array([_BOX[1], _BOX[3], _BOX[1], _BOX[3]])
    x, y = tr.transform(lon, lat)
    x0, x1 = np.floor(x.min() / _ANCHOR) * _ANCHOR, np.ceil(x.max() / _ANCHOR) * _ANCHOR
    y0, y1 = np.floor(y.min() / _ANCHOR) * _ANCHOR, np.ceil(y.max() / _ANCHOR) * _ANCHOR
    xs = np.arange(x0 + resolution / 2, x1, resolution)
    ys = np.arange(y1 - resolution / 2, y0, -resolution)
    return xs, ys


def _read(path: Path) -> tuple[np.ndarray, object, str]:
    import rasterio

    with rasterio.open(path) as src:  # raw DN: no scale applied (the masks' scale is bogus)
        return src.read(1), src.transform, str(src.crs)


def open_ecostress_scene(
    key: str,
    root: str | os.PathLike[str] | None = None,
    *,
    resolution: float | None = None,
    bounds: tuple[float, float] | None = None,
) -> xr.DataArray:
    """One ECOSTRESS scene as LST in Kelvin, NaN where not clear land or implausible.

    Parameters
    ----------
    key : str
        The doy key of the scene (the index of :func:`ecostress_scenes`).
    root : path, optional
        The ``ecostress_la`` folder, or the data folder holding it.
    resolution : float, optional
        None (default): the scene's own EPSG:4326 grid (``lat``/``lon``). A number of metres that
        divides 8960 (70, 140, 280, 560, 1120...): the common UTM 11N grid
        (:func:`ecostress_grid`, ``y``/``x``). The scene is put on the 70 m grid by nearest
        neighbour (its pixels are about 58 x 70 m) and aggregated radiometrically
        (``(mean T^4)^(1/4)``, a block valid when at least half its 70 m pixels are) to coarser
        ones.
    bounds : (float, float), optional
        Plausible LST range (K); by default :data:`ECOSTRESS_BOUNDS` of the scene's day/night.

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
    scenes = ecostress_scenes(root)
    if key not in scenes.index:
        raise KeyError(f"no ECOSTRESS scene {key!r}; known: {', '.join(scenes.index)}")
    row = scenes.loc[key]
    folder = Path(scenes.attrs["folder"])
    dn, transform, crs = _read(folder / "LST" / row["file"])
    cloud = _read(folder / "cloud_mask" / row["cloud_mask"])[0]
    water = _read(folder / "water_mask" / row["water_mask"])[0]
    lo, hi = bounds if bounds is not None else ECOSTRESS_BOUNDS[row["day_night"]]
    lst = dn.astype(np.float32) * np.float32(0.02)
    ok = (dn > 0) & (cloud == 0) & (water == 0) & (lst >= lo) & (lst <= hi)
    lst = np.where(ok, lst, np.float32(np.nan)).astype(np.float32)
    attrs = {"units": "K", "long_name": "land surface temperature", "key": key,
             "day_night": row["day_night"], "time": str(row["datetime_utc"]),
             "source": "ECOSTRESS L2 LSTE v002", "bounds_k": [lo, hi]}
    if resolution is None:
        ny, nx = lst.shape
        lon = transform.c + transform.a * (np.arange(nx) + 0.5)
        lat = transform.f + transform.e * (np.arange(ny) + 0.5)
        return xr.DataArray(lst, dims=("lat", "lon"), coords={"lat": lat, "lon": lon},
                            name="lst", attrs=attrs | {"crs": crs})
    return _project(lst, transform, crs, float(resolution), attrs)


def _project(lst: np.ndarray, transform, crs: str, resolution: float, attrs: dict) -> xr.DataArray:
    from rasterio.transform import from_origin
    from rasterio.warp import Resampling, reproject

    if _ANCHOR % resolution or resolution % 70:
        raise ValueError(f"resolution {resolution} m must be a multiple of 70 m dividing 8960 m")
    x70, y70 = ecostress_grid(70.0)
    out = np.full((len(y70), len(x70)), np.nan, np.float32)
    reproject(lst, out, src_transform=transform, src_crs=crs, src_nodata=np.nan,
              dst_transform=from_origin(x70[0] - 35.0, y70[0] + 35.0, 70.0, 70.0),
              dst_crs=ECOSTRESS_CRS, dst_nodata=np.nan, resampling=Resampling.nearest)
    f = int(resolution // 70)
    if f > 1:
        out = radiometric_mean(out, f, min_valid=0.5).astype(np.float32)
    xs, ys = ecostress_grid(resolution)
    da = xr.DataArray(out, dims=("y", "x"), coords={"y": ys, "x": xs}, name="lst",
                      attrs=attrs | {"crs": ECOSTRESS_CRS, "resolution_m": resolution})
    import rioxarray  # noqa: F401  (registers .rio)

    return da.rio.write_crs(ECOSTRESS_CRS)
