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

from .errors import InputTypeError, XlstsrError

__all__ = ["lst_error_k", "modland", "modland_mask"]

QC = TypeVar("QC", np.ndarray, dsa.Array, xr.DataArray)

#: CF 1.11's ``units_metadata`` of a temperature difference (an error bound, ``sr - truth``):
#: in K, but no temperature on the Kelvin scale, so not judged as a land temperature
#: (:func:`xlstsr.io.to_cogs` writes it as it is)
TEMPERATURE_DIFFERENCE = "temperature: difference"


def _flags(q: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The QC layer as uint8 flags, and where it is missing (NaN: a layer read with its fill
    masked) or None. Anything that is not 8-bit flags is refused: a NaN cast to 0 read as
    "good", an LST (300.5 K) or a 16-bit QC of another product (MOD21's bit layout differs)
    wrapped to arbitrary bits."""
    q = np.asarray(q)
    if q.dtype == np.uint8:
        return q, None
    if q.dtype.kind not in "iuf":
        raise InputTypeError(f"the QC layer holds {q.dtype} values, not MOD11 8-bit flags: pass "
                             "the QC_Day / QC_Night layer (uint8), e.g. open_modis(path, 'QC_Day')")
    missing = np.isnan(q) if q.dtype.kind == "f" else None
    v = q[~missing] if missing is not None else q
    if v.size and (v.min() < 0 or v.max() > 255 or (q.dtype.kind == "f" and np.any(v != np.floor(v)))):
        bad = v[(v < 0) | (v > 255) | (v != np.floor(v))][0]
        raise XlstsrError(
            f"the QC layer holds {bad!r}, not a MOD11 8-bit flag (a whole number 0-255): is it "
            "the LST or another scaled field, or the 16-bit QC of another product (MOD21/MYD21 "
            "have another bit layout)? Pass the QC_Day / QC_Night layer of MOD11"
        )
    if missing is None:
        return q.astype(np.uint8), None
    return np.where(missing, 0, q).astype(np.uint8), missing


def _elementwise(qc: QC, fn: Callable[[np.ndarray], np.ndarray], dtype: type, name: str) -> QC:
    """Apply a per-pixel numpy function to a numpy array or a DataArray (lazily on dask)."""
    if isinstance(qc, (str, bytes, xr.Dataset)) or qc is None:
        hint = " (pick its QC variable, e.g. ds['QC_Day'])" if isinstance(qc, xr.Dataset) else ""
        raise InputTypeError(f"the QC layer must be an array or a DataArray of uint8 flags, got "
                             f"{type(qc).__name__}{hint}")
    dtype_in = getattr(qc, "dtype", None)
    if dtype_in is not None and np.dtype(dtype_in).kind not in "iuf":
        _flags(np.zeros(0, dtype_in))  # refused now: a lazy array failed only when computed
    if isinstance(qc, xr.DataArray):
        from .errors import UnitsError
        from .validate import _units_kind

        try:
            temperature = _units_kind(qc.attrs.get("units")) is not None
        except UnitsError:  # other units (none is a temperature)
            temperature = False
        scale = qc.attrs.get("scale_factor", 1.0)
        try:
            scaled = np.size(scale) == 1 and float(np.ravel(scale)[0]) != 1.0
        except (TypeError, ValueError):  # a text scale_factor: no flag layer has one
            scaled = True
        if temperature or scaled:
            # the LST (or another scaled field) passed for its QC: caught only on compute
            # (lazy) or, for 8-bit DN such as Emis_31, never
            raise XlstsrError(
                f"the QC layer {qc.name!r} has units={qc.attrs.get('units')!r} / scale_factor="
                f"{scale!r}: not a MOD11 8-bit flag layer but a physical field (the LST or "
                "an emissivity?). Pass the QC_Day / QC_Night layer, e.g. open_modis(path, "
                "'QC_Day'); if it is the flag layer with a stray attribute, drop it "
                "(`qc.attrs.pop('scale_factor')`)."
            )
        out = xr.apply_ufunc(fn, qc, dask="parallelized", output_dtypes=[dtype], keep_attrs=False)
        out.name = name
        crs = qc.rio.crs
        return out.rio.write_crs(crs) if crs is not None else out
    if isinstance(qc, dsa.Array):
        return qc.map_blocks(fn, dtype=dtype)
    return fn(np.asarray(qc))


def _modland(q: np.ndarray) -> np.ndarray:
    flags, missing = _flags(q)
    m = flags & 0b11
    return m if missing is None else np.where(missing, np.uint8(3), m)  # missing: not produced


def _lst_error(q: np.ndarray) -> np.ndarray:
    flags, _ = _flags(q)
    err = np.array([1.0, 2.0, 3.0, np.inf])[(flags >> 6) & 0b11]
    return np.where(_modland(q) >= 2, np.inf, err)


def modland(qc: QC) -> QC:
    """MODLAND flag (bits 0-1): 0 good, 1 other quality, 2 cloud, 3 other reasons.

    Examples
    --------
    >>> import numpy as np
    >>> from xlstsr.qc import modland
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
    >>> import numpy as np
    >>> from xlstsr.qc import modland_mask
    >>> modland_mask(np.array([0, 1, 2], dtype=np.uint8)).tolist()
    [True, False, False]
    """

    from .validate import check_bool

    check_bool("accept_other_quality", accept_other_quality)
    if max_error_k is not None and (
            isinstance(max_error_k, bool) or not isinstance(max_error_k, (int, float, np.number))
            or np.isnan(max_error_k) or max_error_k < 1):
        raise XlstsrError(
            f"max_error_k must be a number >= 1 (K) or None, got {max_error_k!r}: the LST error "
            "classes of MOD11 are <= 1, 2, 3 K and > 3 K, so a bound below 1 rejects every pixel"
        )

    def fn(q: np.ndarray) -> np.ndarray:
        m = _modland(q)
        ok = (m == 0) | ((m == 1) if accept_other_quality else False)
        if max_error_k is not None:
            ok &= _lst_error(q) <= max_error_k
        return np.asarray(ok)

    return _elementwise(qc, fn, bool, "qc_mask")


def lst_error_k(qc: QC) -> QC:
    """Upper bound of the LST error (K) from bits 6-7: 1, 2, 3, or inf (> 3 K); inf where not produced.

    A DataArray comes back in ``units`` K marked as a temperature difference (CF 1.11
    ``units_metadata = "temperature: difference"``): an error bound, not a temperature, which
    :func:`xlstsr.io.to_cogs` writes as it is.

    Examples
    --------
    >>> import numpy as np
    >>> from xlstsr.qc import lst_error_k
    >>> lst_error_k(np.array([0b00000000, 0b01000000, 0b10000001, 0b00000010], dtype=np.uint8)).tolist()
    [1.0, 2.0, 3.0, inf]
    """
    out = _elementwise(qc, _lst_error, np.float64, "lst_error")
    if isinstance(out, xr.DataArray):
        out.attrs["units"] = "K"
        out.attrs["units_metadata"] = TEMPERATURE_DIFFERENCE
    return out
