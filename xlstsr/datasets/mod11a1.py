"""The MOD11A1 granule of the shared data (``mod11a1_hdf/``), read by :func:`xlstsr.io.open_modis`.

MOD11A1.A2019305.h14v09.006 (2019-11-01, Brazil, 1200 x 1200 at 1 km), from
RichardLemoine/LSTtools (GPL-3): daily LST with its QC layers, about 77 % cloud fill by day.
"""

from __future__ import annotations

import os
from pathlib import Path

import xarray as xr

from ..errors import InputNotFoundError, XlstsrError
from ..io.modis import open_modis
from .root import _no_such_file, data_root

__all__ = ["open_mod11a1_granule"]

_PRODUCT = "mod11a1_hdf"


def _granule(root: str | os.PathLike[str] | None) -> Path:
    """The one granule ``root`` designates: a granule file, the product folder itself, or the
    data folder holding ``mod11a1_hdf/`` (or, without it, one folder of another name holding
    granules; several are refused); a folder with several granules is refused (the first
    in sorted order was read and the others ignored without a word)."""
    if isinstance(root, bytes):
        root = os.fsdecode(root)
    given = None if root is None else Path(root).expanduser()
    if given is not None and given.is_file():  # one granule, picked by its path
        return given
    if given is not None and not given.exists() and given.suffix.lower() == ".hdf":
        raise _no_such_file(given, "MOD11A1 granule file", "MOD11A1*.hdf",
                            "pass the path of an existing granule, the granules' folder, or the "
                            f"data folder holding {_PRODUCT}/")
    # the product folder itself, as the ECOSTRESS and MODIS/ASTER loaders take theirs
    if given is not None and given.is_dir() and not (given / _PRODUCT).is_dir() and (
            given.name == _PRODUCT or any(given.glob("MOD11A1*.hdf"))):
        folder = given
    else:
        base = data_root(root, dataset=_PRODUCT)
        folder = base / _PRODUCT
        if not folder.is_dir():  # a held-back product folder of another name (mod11a1_2019/)
            from .modis_aster import _one_laid_out_like

            folder = _one_laid_out_like(
                base, lambda d: any(d.glob("MOD11A1*.hdf")), "MOD11A1*.hdf granules",
                _PRODUCT) or folder
    granules = sorted(folder.glob("MOD11A1*.hdf"))
    if not granules:
        raise InputNotFoundError(
            f"no MOD11A1*.hdf granule in {folder}: pass the data folder holding {_PRODUCT}/ (or "
            "one folder of another name holding granules), the granules' folder itself, or a "
            "granule's path as `root`")
    if len(granules) > 1:
        names = ", ".join(g.name for g in granules[:6]) + (" ..." if len(granules) > 6 else "")
        raise XlstsrError(
            f"{folder} holds {len(granules)} MOD11A1 granules ({names}): pick one by passing its "
            f"path as root (e.g. root={str(granules[0])!r}), or read them all stacked along time "
            f"with xlstsr.io.open_modis({str(folder / 'MOD11A1*.hdf')!r}, variable)")
    return granules[0]


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
        Data folder (:func:`xlstsr.datasets.data_root`) holding ``mod11a1_hdf/`` (or one folder
        of another name holding granules), the granules' folder itself, or the path of one
        ``MOD11A1*.hdf`` granule. A folder must hold exactly one granule (with
        several, pass the one wanted; :func:`xlstsr.io.open_modis` stacks several along time).
    max_modland : int
        Largest accepted MODLAND QC value: 1 (default) keeps "good" and "other quality"; 0
        (good only) is refused for a granule without the layer's QC (``QC_Day``).

    Raises
    ------
    InputNotFoundError
        No granule where ``root`` points.
    XlstsrError
        Several granules in the folder, or several folders of granules in the data folder,
        listed.

    Examples
    --------
    >>> lst = open_mod11a1_granule()  # doctest: +SKIP
    >>> lst.shape, lst.attrs["units"]  # doctest: +SKIP
    ((1200, 1200), 'K')
    """
    return open_modis(_granule(root), variable, max_modland=max_modland)
