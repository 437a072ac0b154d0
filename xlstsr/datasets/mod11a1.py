"""The MOD11A1 granule of the shared data (``mod11a1_hdf/``), read by :func:`xlstsr.io.open_modis`.

MOD11A1.A2019305.h14v09.006 (2019-11-01, Brazil, 1200 x 1200 at 1 km), from
RichardLemoine/LSTtools (GPL-3): daily LST with its QC layers, about 77 % cloud fill by day.
"""

from __future__ import annotations

import os

import xarray as xr

from ..io.modis import open_modis
from .root import data_root

__all__ = ["open_mod11a1_granule"]


def open_mod11a1_granule(
    variable: str = "LST_Day_1km",
    root: str | os.PathLike[str] | None = None,
    *,
    max_modland: int = 1,
) -> xr.DataArray:
    """One variable of the shared MOD11A1 granule, decoded and QC-masked (Kelvin, NaN gaps).

    Parameters
    ----------
    variable : str
        ``"LST_Day_1km"`` (default), ``"LST_Night_1km"``... (see :func:`xlstsr.io.open_modis`).
    root : path, optional
        Data folder (:func:`xlstsr.datasets.data_root`).
    max_modland : int
        Largest accepted MODLAND QC value: 1 (default) keeps "good" and "other quality".

    Examples
    --------
    >>> lst = open_mod11a1_granule()  # doctest: +SKIP
    >>> lst.shape, lst.attrs["units"]  # doctest: +SKIP
    ((1200, 1200), 'K')
    """
    folder = data_root(root) / "mod11a1_hdf"
    granules = sorted(folder.glob("MOD11A1*.hdf"))
    if not granules:
        raise FileNotFoundError(f"no MOD11A1*.hdf granule in {folder}")
    return open_modis(granules[0], variable, max_modland=max_modland)
