"""The small real sample embedded in the package: a MOD11A1 time series and one MODIS/ASTER pair.

- :func:`modis_sample`: MOD11A1 v061 day and night LST of one 64 x 64 window of tile h18v04
  (45.5 N, 0.4 E, south-west France), 8 dates of 2020, with the MOD13A2 16-day red and NIR
  reflectances matched to each date and their NDVI, all at 1 km. NASA LP DAAC data, no
  restriction on reuse (Wan, Hook, Hulley 2021, doi:10.5067/MODIS/MOD11A1.061; Didan 2021,
  doi:10.5067/MODIS/MOD13A2.061).
- :func:`modis_aster_sample`: MODIS/ASTER pair 002 of Ait-Bachir et al. (2025, hal-04925380;
  CeCILL-C, licence file beside the data): MODIS LST 1 km, MODIS NDVI 250 m and the
  near-simultaneous ASTER LST at 250 m. It belongs to the held-out split (``EVAL_PAIRS``): the
  bundled weights never trained on it, though 16 % of its window lies on the ground of training
  pair 163 (another date).

The files were cut from ``../shared/data`` by ``scripts/make_sample_data.py``; reading them needs
nothing outside the package.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rioxarray
import xarray as xr

from ..errors import XlstsrError
from .modis_aster import open_modis_aster_pair

__all__ = ["SAMPLE_DIR", "modis_aster_sample", "modis_sample"]

#: where the embedded sample lives
SAMPLE_DIR = Path(__file__).resolve().parent / "data"
_WINDOW = 144


def _band_cube(name: str, times: pd.DatetimeIndex, chunks: Any) -> xr.DataArray:
    da = rioxarray.open_rasterio(SAMPLE_DIR / f"{name}.tif", mask_and_scale=True, chunks=chunks)
    return da.rename(band="time").assign_coords(time=times)


def _file_chunks(chunks: Any) -> Any:
    """``modis_sample``'s chunks, keyed by the dims the user sees (``time``, ``y``, ``x``), as
    rioxarray takes them for the files (``band`` is the time): ``{"time": 2}`` was refused for
    naming no dim of the file, ``False`` raised a bare ZeroDivisionError."""
    if chunks is None:
        return {"band": 1}
    if chunks is False:
        return None  # in memory
    if isinstance(chunks, Mapping):
        unknown = sorted(str(k) for k in chunks if k not in ("time", "band", "y", "x"))
        if unknown:
            raise XlstsrError(f"modis_sample: chunks {unknown} name no dim of the sample; key them "
                              "by 'time', 'y' and 'x', e.g. chunks={'time': 2}")
        return {("band" if k == "time" else k): v for k, v in chunks.items()}
    if isinstance(chunks, tuple) and len(chunks) == 3:  # dask's form, (time, y, x)
        return dict(zip(("band", "y", "x"), chunks))
    if chunks is True or chunks == "auto" or isinstance(chunks, int):
        return chunks
    raise XlstsrError(f"modis_sample: chunks must be a dict keyed by 'time', 'y', 'x', a "
                      "(time, y, x) tuple, an int, "
                      f"'auto' or False (in memory), got {chunks!r}")


def modis_sample(chunks: Any = None) -> xr.Dataset:
    """A real MODIS LST time series: 8 dates of MOD11A1 day/night LST with MOD13A2 NDVI (1 km).

    Parameters
    ----------
    chunks : dict, int, "auto" or False, optional
        Dask chunks keyed by ``time``, ``y``, ``x`` (default one time step per chunk, lazy);
        False reads the sample into memory.

    Returns
    -------
    Dataset
        ``lst_day``, ``lst_night`` (K, NaN = no data), ``red``, ``nir`` (reflectance, units
        ``"1"``) and ``ndvi``, each ``(time, y, x)`` = (8, 64, 64) on the MODIS sinusoidal 1 km
        grid (CRS written); ``composite_start`` gives each date's MOD13A2 period start (the
        composite each step's red and NIR come from).

    Examples
    --------
    >>> ds = modis_sample()
    >>> ds.lst_day.sizes["time"], ds.lst_day.rio.crs is not None
    (8, True)
    >>> bool(270 < float(ds.lst_day.mean()) < 320)
    True
    """
    table = pd.read_csv(SAMPLE_DIR / f"mod11a1_w{_WINDOW}.csv", parse_dates=["date", "composite_start"])
    times = pd.DatetimeIndex(table["date"].to_numpy(), name="time")
    chunks = _file_chunks(chunks)
    ds = xr.Dataset({
        "lst_day": _band_cube(f"mod11a1_w{_WINDOW}_day", times, chunks),
        "lst_night": _band_cube(f"mod11a1_w{_WINDOW}_night", times, chunks),
        "red": _band_cube(f"mod13a2_w{_WINDOW}_red", times, chunks),
        "nir": _band_cube(f"mod13a2_w{_WINDOW}_nir", times, chunks),
    })
    for v in ("lst_day", "lst_night"):
        ds[v].attrs = {"standard_name": "surface_temperature", "units": "K",
                       "long_name": f"MOD11A1 v061 {v.split('_')[1]}time LST"}
    # the files' tags describe one composite (source_granule) and one whole-tile file (windows),
    # not the 8 composites of the cube: replaced, as for the LST
    for v, band in (("red", "red (band 1, 620-670 nm)"), ("nir", "NIR (band 2, 841-876 nm)")):
        ds[v].attrs = {"long_name": f"MOD13A2 v061 16-day {band} surface reflectance",
                       "units": "1"}
    ds["ndvi"] = ((ds.nir - ds.red) / (ds.nir + ds.red)).astype(np.float32)
    ds["ndvi"].attrs = {"long_name": "NDVI from MOD13A2 red and NIR", "units": "1"}
    ds = ds.assign_coords(composite_start=("time", table["composite_start"].to_numpy()))
    ds.attrs = {"source": "MOD11A1/MOD13A2 v061, tile h18v04, window 144 (NASA LP DAAC)"}
    return ds.rio.write_crs(ds.lst_day.rio.crs)


def modis_aster_sample(*, truth_mask: bool = False) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """A real MODIS/ASTER pair: ``(lst_1km, ndvi_250m, aster)``, as
    :func:`~xlstsr.datasets.open_modis_aster_pair` reads pair 002.

    Examples
    --------
    >>> lst, ndvi, aster = modis_aster_sample()
    >>> lst.shape, ndvi.shape, str(aster.rio.crs)
    ((64, 64), (256, 256), 'EPSG:32632')
    """
    return open_modis_aster_pair("002", root=SAMPLE_DIR, truth_mask=truth_mask)
