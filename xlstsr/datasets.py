"""Data sets: the embedded synthetic sample scene, and readers of real benchmark data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import rioxarray  # also registers .rio
import xarray as xr
from affine import Affine
from scipy import ndimage
from scipy.spatial import cKDTree

from .grid import MODIS_250M, MODIS_SINUSOIDAL, grid_coords
from .kernels.aggregate import radiometric_mean

__all__ = [
    "aster_truth_mask",
    "data_root",
    "fbm_surface",
    "iter_modis_aster",
    "modis_aster_pairs",
    "open_modis_aster_pair",
    "sample_scene",
]

# upper-left corner of the sample scene: inside MODIS tile h18v04 (western Europe)
_UL_X = 200 * 4 * MODIS_250M
_UL_Y = 5 * 1200 * 4 * MODIS_250M - 300 * 4 * MODIS_250M


def fbm_surface(shape: tuple[int, int], hurst: float, rng: np.random.Generator) -> np.ndarray:
    """A fractional-Brownian-like surface by spectral synthesis: power ~ k^-(2H + 2), unit std."""
    ny, nx = shape
    ky = np.fft.fftfreq(ny)[:, None]
    kx = np.fft.rfftfreq(nx)[None, :]
    k = np.hypot(ky, kx)
    k[0, 0] = 1.0
    amp = k ** (-(hurst + 1.0))
    amp[0, 0] = 0.0
    phase = rng.standard_normal((ny, nx // 2 + 1)) + 1j * rng.standard_normal((ny, nx // 2 + 1))
    field = np.fft.irfft2(amp * phase, s=shape)
    return (field - field.mean()) / field.std()


def _georef(da: xr.DataArray, res: float) -> xr.DataArray:
    t = Affine(res, 0.0, _UL_X, 0.0, -res, _UL_Y)
    y, x = grid_coords(t, (da.sizes["y"], da.sizes["x"]))
    da = da.assign_coords(y=("y", y, {"units": "m"}), x=("x", x, {"units": "m"}))
    return da.rio.write_crs(MODIS_SINUSOIDAL).rio.write_transform(t)


def sample_scene(
    n_times: int = 3,
    size: int = 256,
    factor: int = 4,
    *,
    cloud_fraction: float = 0.12,
    seed: int = 0,
) -> dict[str, xr.DataArray]:
    """A synthetic, physically plausible LST/NDVI scene, made by package code (no data files).

    **Synthetic**: for demos, tests and docs, not for science. At 250 m: an NDVI field of crop
    parcels (Voronoi cells), a town, a river and forest texture; LST anti-correlated with NDVI
    (about -15 K per NDVI unit), an urban heat island, cooler water, and multiscale (fBm)
    variability; cloud gaps per time step. The 1 km LST is its radiometric aggregate
    (``(mean T^4)^(1/4)``); a 1 km pixel touched by cloud is a gap. MODIS sinusoidal CRS.

    Parameters
    ----------
    n_times : int
        Number of daily time steps.
    size : int
        Fine grid size (pixels); must be a multiple of ``factor``.
    factor : int
        Ratio between the fine (250 m) and coarse grid.
    cloud_fraction : float
        Approximate cloud-covered fraction per time step (0 for none).
    seed : int
        Random seed: the scene is reproducible.

    Returns
    -------
    dict of DataArray
        ``lst_250m`` (time, y, x; the truth), ``ndvi_250m`` (y, x), ``lst_1km`` (time, y, x; the
        input to super-resolve).

    Examples
    --------
    >>> scene = sample_scene()
    >>> sorted(scene)
    ['lst_1km', 'lst_250m', 'ndvi_250m']
    """
    if size % factor:
        raise ValueError(f"size {size} must be a multiple of factor {factor}")
    rng = np.random.default_rng(seed)
    shape = (size, size)
    yy, xx = np.mgrid[0:size, 0:size] / size

    # crop parcels: Voronoi cells with per-crop NDVI
    pts = rng.uniform(0, 1, (max(20, size * size // 600), 2))
    _, cell = cKDTree(pts).query(np.stack([yy.ravel(), xx.ravel()], -1))
    crop_ndvi = rng.choice([0.18, 0.35, 0.55, 0.72, 0.85], size=len(pts), p=[0.2, 0.2, 0.2, 0.2, 0.2])
    ndvi = crop_ndvi[cell].reshape(shape)
    forest = ndimage.gaussian_filter(fbm_surface(shape, 0.7, rng), 2) > 1.0
    ndvi = np.where(forest, 0.82, ndvi) + 0.04 * fbm_surface(shape, 0.3, rng)
    town = np.hypot(yy - 0.35, (xx - 0.6) * 1.2) + 0.04 * fbm_surface(shape, 0.5, rng) < 0.13
    ndvi = np.where(town, 0.12 + 0.05 * rng.random(shape), ndvi)
    river_y = 0.75 + 0.06 * np.sin(6 * np.pi * xx[0]) + 0.02 * np.sin(17 * np.pi * xx[0])
    river = np.abs(yy - river_y[None, :]) < 0.012
    ndvi = np.clip(np.where(river, -0.15, ndvi), -0.3, 0.95)

    relief = fbm_surface(shape, 0.8, rng)  # large-scale (elevation/moisture) structure
    times = pd.date_range("2020-07-01", periods=n_times, freq="D")
    lst = np.empty((n_times, *shape), np.float32)
    clouds = np.zeros((n_times, *shape), bool)
    for t in range(n_times):
        t0 = 302.0 + 3.0 * np.sin(t)
        slope = -15.0 - 3.0 * np.cos(t)
        field = (t0 + slope * (ndvi - 0.5) + 2.0 * relief + 1.2 * fbm_surface(shape, 0.35, rng)
                 + np.where(town, 4.0, 0.0))
        lst[t] = np.where(river, 293.0 + 0.3 * fbm_surface(shape, 0.5, rng), field)
        if cloud_fraction > 0:
            c = ndimage.gaussian_filter(fbm_surface(shape, 0.9, rng), 3)
            clouds[t] = c > np.quantile(c, 1 - cloud_fraction)
    lst_fine = np.where(clouds, np.nan, lst).astype(np.float32)
    lst_coarse = radiometric_mean(lst_fine, factor, min_valid=1.0)

    attrs = {"standard_name": "surface_temperature", "units": "K",
             "comment": "SYNTHETIC sample scene generated by xlstsr.datasets.sample_scene"}
    fine = _georef(xr.DataArray(lst_fine, dims=("time", "y", "x"), coords={"time": times},
                                name="lst_250m", attrs={**attrs, "long_name": "LST at 250 m (truth)"}), MODIS_250M)
    coarse = _georef(xr.DataArray(lst_coarse, dims=("time", "y", "x"), coords={"time": times},
                                  name="lst_1km", attrs={**attrs, "long_name": "LST at 1 km"}),
                     MODIS_250M * factor)
    nd = _georef(xr.DataArray(ndvi.astype(np.float32), dims=("y", "x"), name="ndvi_250m",
                              attrs={"long_name": "NDVI at 250 m", "units": "1",
                                     "comment": attrs["comment"]}), MODIS_250M)
    return {"lst_1km": coarse, "lst_250m": fine, "ndvi_250m": nd}


# ----------------------------------------------------------------------------------------------
# Real benchmark data: MODIS 1 km LST + MODIS 250 m NDVI + ASTER 250 m LST (../shared/data)

#: Environment variable naming the real-data folder (the one holding ``modis_aster/``).
DATA_ENV = "XLSTSR_DATA"


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The folder of real benchmark data.

    Looked up in this order: ``root`` if given; else the environment variable ``XLSTSR_DATA`` if
    set; else ``../shared/data`` beside the repository holding this package (a development
    checkout). An explicitly given place that does not exist is an error (no silent fallback).
    The data are never bundled with the package.

    Raises
    ------
    FileNotFoundError
        When the folder does not exist, naming it and how to point to the data.

    Examples
    --------
    >>> data_root("/nonexistent")
    Traceback (most recent call last):
    ...
    FileNotFoundError: the real benchmark data folder /nonexistent (the root argument) does not exist; pass root=..., or set the environment variable XLSTSR_DATA to the folder holding modis_aster/.
    """
    if root is not None:
        path, how = Path(root).expanduser(), "the root argument"
    elif os.environ.get(DATA_ENV):
        path, how = Path(os.environ[DATA_ENV]).expanduser(), f"${DATA_ENV}"
    else:
        path, how = Path(__file__).resolve().parents[1].parent / "shared" / "data", "../shared/data"
    if not path.is_dir():
        raise FileNotFoundError(
            f"the real benchmark data folder {path} ({how}) does not exist; pass root=..., or set "
            f"the environment variable {DATA_ENV} to the folder holding modis_aster/."
        )
    return path


def _modis_aster_dir(root: str | os.PathLike[str] | None) -> Path:
    base = data_root(root)
    for cand in (base / "modis_aster", base):
        if (cand / "pairs.csv").is_file():
            return cand
    raise FileNotFoundError(
        f"no modis_aster/pairs.csv under {base}; point root (or ${DATA_ENV}) to the folder that "
        "holds modis_aster/."
    )


def modis_aster_pairs(root: str | os.PathLike[str] | None = None) -> list[str]:
    """Ids (``'001'``...) of the MODIS/ASTER pairs listed in ``modis_aster/pairs.csv``.

    Examples
    --------
    >>> len(modis_aster_pairs())  # doctest: +SKIP
    55
    """
    table = pd.read_csv(_modis_aster_dir(root) / "pairs.csv", dtype={"pair": str})
    return [str(p).zfill(3) for p in table["pair"]]


def _read_band(path: Path) -> xr.DataArray:
    if not path.is_file():
        raise FileNotFoundError(f"missing file {path}; is the modis_aster folder complete?")
    da = rioxarray.open_rasterio(path).squeeze("band", drop=True)
    return da.astype(np.float32)


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
      LST (offset by 0-3 fine pixels): align it with its geotransform (``upscale`` does).
    - ``aster``: ASTER LST in Kelvin on its UTM grid (rotated scene footprint), decoded from the
      stored K x 10 with the fill value 0 (outside the scene) set to NaN. Border pixels are mixed
      with the fill and cold pixels may be cloud: use :func:`aster_truth_mask`, or
      ``truth_mask=True`` to set everything outside that mask to NaN.

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
    folder = _modis_aster_dir(root)
    pid = str(pair_id).zfill(3)
    src = {"source": "Ait-Bachir et al. 2025 (hal-04925380) test set, CeCILL-C", "pair": pid}
    lst = _read_band(folder / f"{pid}_modis_lst_1km.tif")
    lst.attrs = {"standard_name": "surface_temperature", "long_name": "MODIS LST at 1 km",
                 "units": "K", **src}
    lst = lst.rio.write_nodata(np.nan, encoded=False)
    lst.name = "lst_1km"
    ndvi = _read_band(folder / f"{pid}_modis_ndvi_250m.tif")
    ndvi.attrs = {"long_name": "MODIS NDVI at 250 m", "units": "1", **src}
    ndvi = ndvi.rio.write_nodata(np.nan, encoded=False)
    ndvi.name = "ndvi_250m"
    raw = _read_band(folder / f"{pid}_aster_lst_250m.tif")
    aster = (raw.where(raw > 0) * np.float32(0.1)).astype(np.float32)
    aster.attrs = {"standard_name": "surface_temperature", "long_name": "ASTER LST at 250 m",
                   "units": "K", "comment": "decoded from K x 10; 0 (outside the scene) -> NaN",
                   **src}
    aster = aster.rio.write_nodata(np.nan, encoded=False)
    aster.name = "aster_lst_250m"
    if truth_mask:
        aster = aster.where(aster_truth_mask(aster))
    return lst, ndvi, aster


def aster_truth_mask(aster: xr.DataArray, erode: int = 3, min_k: float = 230.0) -> xr.DataArray:
    """The usable-truth mask of a decoded ASTER field (the data README's recommendation).

    True where the pixel is inside the scene (finite, i.e. stored value > 0) after eroding the
    scene by ``erode`` pixels (mixed border pixels), and warmer than ``min_k`` Kelvin (colder
    ones are cloud-contaminated). Same rule as ``xlstsr.evaluate(..., erode=3, valid_min=230)``.

    Examples
    --------
    >>> _, _, aster = open_modis_aster_pair("001")  # doctest: +SKIP
    >>> float(aster_truth_mask(aster).mean()) > 0.4  # doctest: +SKIP
    True
    """
    from .evaluate import reference_mask

    return reference_mask(aster, erode=erode, valid_min=min_k)


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
    """
    for pid in modis_aster_pairs(root):
        yield (pid, *open_modis_aster_pair(pid, root))
