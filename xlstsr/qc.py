"""MODIS MOD11 quality-control bits decoded into masks.

MOD11A1 QC (per pixel, 8 bits): bits 0-1 MODLAND (00 good, 01 other quality - check the other
bits, 10 not produced due to cloud, 11 not produced for other reasons); bits 2-3 data quality;
bits 4-5 emissivity error; bits 6-7 LST error (00 <= 1 K, 01 <= 2 K, 10 <= 3 K, 11 > 3 K).

The one decoder of these bits: :func:`xlstsr.io.open_modis` masks with :func:`modland`, and the
masks below serve QC layers read by other means (``open_modis(path, "QC_Day")``, STAC, COGs).
Each function takes a numpy array, a dask array or a DataArray and returns the same kind: a
DataArray keeps its dims, coordinates and CRS, and anything dask-backed stays lazy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import dask.array as dsa
import numpy as np
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr

__all__ = ["lst_error_k", "modland", "modland_mask"]

QC = TypeVar("QC", np.ndarray, dsa.Array, xr.DataArray)


def _elementwise(qc: QC, fn: Callable[[np.ndarray], np.ndarray], dtype: type, name: str) -> QC:
    """Apply a per-pixel numpy function to a numpy array or a DataArray (lazily on dask)."""
    if isinstance(qc, xr.DataArray):
        out = xr.apply_ufunc(fn, qc, dask="parallelized", output_dtypes=[dtype], keep_attrs=False)
        out.name = name
        crs = qc.rio.crs
        return out.rio.write_crs(crs) if crs is not None else out
    if isinstance(qc, dsa.Array):
        return qc.map_blocks(fn, dtype=dtype)
    return fn(np.asarray(qc))


def _modland(q: np.ndarray) -> np.ndarray:
    return q.astype(np.uint8) & 0b11


def _lst_error(q: np.ndarray) -> np.ndarray:
    q = q.astype(np.uint8)
    err = np.array([1.0, 2.0, 3.0, np.inf])[(q >> 6) & 0b11]
    return np.where(_modland(q) >= 2, np.inf, err)


def modland(qc: QC) -> QC:
    """MODLAND flag (bits 0-1): 0 good, 1 other quality, 2 cloud, 3 other reasons.

    Examples
    --------
    >>> modland(np.array([0b00000000, 0b01000001, 0b00000010, 0b11111111], dtype=np.uint8)).tolist()
    [0, 1, 2, 3]
    >>> import xarray as xr
    >>> modland(xr.DataArray(np.array([[1, 2]], np.uint8), dims=("y", "x"))).dims
    ('y', 'x')
    """
    return _elementwise(qc, _modland, np.uint8, "modland")


def modland_mask(
    qc: QC, *, accept_other_quality: bool = False, max_error_k: float | None = None
) -> QC:
    """True where the LST is usable according to the QC bits.

    Parameters
    ----------
    qc : array or DataArray of uint8
        The ``QC_Day`` / ``QC_Night`` layer (e.g. ``open_modis(path, "QC_Day")``).
    accept_other_quality : bool
        Also accept MODLAND 01 ("other quality"); then ``max_error_k`` is usually set.
    max_error_k : float, optional
        Reject pixels whose LST error class (bits 6-7) exceeds this bound in Kelvin.

    Returns
    -------
    ndarray or DataArray of bool
        Same kind as ``qc``; use it as ``lst.where(modland_mask(qc))``.

    Examples
    --------
    >>> modland_mask(np.array([0, 1, 2], dtype=np.uint8)).tolist()
    [True, False, False]
    """

    def fn(q: np.ndarray) -> np.ndarray:
        m = _modland(q)
        ok = (m == 0) | ((m == 1) if accept_other_quality else False)
        if max_error_k is not None:
            ok &= _lst_error(q) <= max_error_k
        return np.asarray(ok)

    return _elementwise(qc, fn, bool, "qc_mask")


def lst_error_k(qc: QC) -> QC:
    """Upper bound of the LST error (K) from bits 6-7: 1, 2, 3, or inf (> 3 K); inf where not produced.

    Examples
    --------
    >>> lst_error_k(np.array([0b00000000, 0b01000000, 0b10000001, 0b00000010], dtype=np.uint8)).tolist()
    [1.0, 2.0, 3.0, inf]
    """
    out = _elementwise(qc, _lst_error, np.float64, "lst_error")
    if isinstance(out, xr.DataArray):
        out.attrs["units"] = "K"
    return out
