"""MODIS MOD11 quality-control bits decoded into masks.

MOD11A1 QC (per pixel, 8 bits): bits 0-1 MODLAND (00 good, 01 other quality - check the other
bits, 10 not produced due to cloud, 11 not produced for other reasons); bits 2-3 data quality;
bits 4-5 emissivity error; bits 6-7 LST error (00 <= 1 K, 01 <= 2 K, 10 <= 3 K, 11 > 3 K).

The one decoder of these bits: :func:`xlstsr.io.open_modis` masks with :func:`modland`, and the
masks below serve QC layers read by other means (STAC, COGs).
"""

from __future__ import annotations

import numpy as np

__all__ = ["lst_error_k", "modland", "modland_mask"]


def modland(qc: np.ndarray) -> np.ndarray:
    """MODLAND flag (bits 0-1): 0 good, 1 other quality, 2 cloud, 3 other reasons.

    Examples
    --------
    >>> modland(np.array([0b00000000, 0b01000001, 0b00000010, 0b11111111], dtype=np.uint8)).tolist()
    [0, 1, 2, 3]
    """
    return np.asarray(qc).astype(np.uint8) & 0b11


def modland_mask(qc: np.ndarray, *, accept_other_quality: bool = False, max_error_k: float | None = None) -> np.ndarray:
    """True where the LST is usable according to the QC bits.

    Parameters
    ----------
    qc : array of uint8
        The ``QC_Day`` / ``QC_Night`` layer.
    accept_other_quality : bool
        Also accept MODLAND 01 ("other quality"); then ``max_error_k`` is usually set.
    max_error_k : float, optional
        Reject pixels whose LST error class (bits 6-7) exceeds this bound in Kelvin.

    Examples
    --------
    >>> modland_mask(np.array([0, 1, 2], dtype=np.uint8)).tolist()
    [True, False, False]
    """
    m = modland(qc)
    ok = (m == 0) | ((m == 1) if accept_other_quality else False)
    if max_error_k is not None:
        ok &= lst_error_k(qc) <= max_error_k
    return np.asarray(ok)


def lst_error_k(qc: np.ndarray) -> np.ndarray:
    """Upper bound of the LST error (K) from bits 6-7: 1, 2, 3, or inf (> 3 K); inf where not produced.

    Examples
    --------
    >>> lst_error_k(np.array([0b00000000, 0b01000000, 0b10000001, 0b00000010], dtype=np.uint8)).tolist()
    [1.0, 2.0, 3.0, inf]
    """
    q = np.asarray(qc).astype(np.uint8)
    err = np.array([1.0, 2.0, 3.0, np.inf])[(q >> 6) & 0b11]
    return np.where(modland(q) >= 2, np.inf, err)
