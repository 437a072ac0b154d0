"""MODIS HDF4-EOS reader (MOD11A1 / MYD11A1 LST) built on pyhdf.

GDAL builds in binary wheels usually lack the HDF4 driver, so the granule is read with pyhdf
and georeferenced from its HDF-EOS ``StructMetadata`` (MODIS sinusoidal grid).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import xarray as xr
from affine import Affine

from ..errors import VariableNotFoundError
from ..grid import MODIS_SINUSOIDAL, grid_coords
from ..qc import modland

__all__ = ["open_modis"]


def _corners(struct: str) -> tuple[tuple[float, float], tuple[float, float]]:
    def pair(key: str) -> tuple[float, float]:
        m = re.search(key + r"=\(([-+0-9.eE]+),([-+0-9.eE]+)\)", struct)
        if m is None:
            raise ValueError(f"no {key} in the HDF-EOS StructMetadata")
        return float(m.group(1)), float(m.group(2))

    return pair("UpperLeftPointMtrs"), pair("LowerRightMtrs")


def _qc_name(variable: str) -> str | None:
    if "Day" in variable:
        return "QC_Day"
    if "Night" in variable:
        return "QC_Night"
    return None


def open_modis(
    path: str | os.PathLike[str],
    variable: str = "LST_Day_1km",
    *,
    qc: str | None = "auto",
    max_modland: int = 1,
    decode: bool = True,
) -> xr.DataArray:
    """Open one variable of a MODIS HDF4-EOS granule (MOD11A1...) as a georeferenced DataArray.

    Parameters
    ----------
    path : path
        The ``.hdf`` granule.
    variable : str
        Scientific dataset name, e.g. ``"LST_Day_1km"``, ``"LST_Night_1km"``, ``"Emis_31"``.
    qc : str or None
        QC dataset used to mask pixels (``"auto"``: ``QC_Day`` / ``QC_Night`` for LST; None: no
        QC masking).
    max_modland : int
        Largest accepted MODLAND QC value (bits 0-1, decoded by :func:`xlstsr.qc.modland`): 0 =
        good quality only, 1 = also "produced, other quality" (default), 2-3 = not produced
        (always gaps: their LST is the fill value).
    decode : bool
        Apply ``scale_factor`` / ``add_offset`` and set the ``_FillValue`` to NaN (float32, e.g.
        Kelvin for LST); False returns the raw integers with their attributes.

    Returns
    -------
    DataArray
        ``(y, x)`` on the MODIS sinusoidal grid (CRS and transform written), attributes from the
        file (``units``...), NaN for fill and rejected QC when decoded.

    Examples
    --------
    >>> from xlstsr.io.modis import open_modis
    >>> lst = open_modis("MOD11A1.A2019305.h14v09.006.hdf")  # doctest: +SKIP
    >>> lst.rio.resolution()  # doctest: +SKIP
    (926.625433055833, -926.625433055833)
    """
    from pyhdf.SD import SD, SDC

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such MODIS granule: {path}")
    sd = SD(str(path), SDC.READ)
    try:
        names = list(sd.datasets())
        if variable not in names:
            raise VariableNotFoundError(
                f"{variable!r} is not in {path.name}; its variables are {names}"
            )
        sds = sd.select(variable)
        raw = sds[:]
        attrs = dict(sds.attributes())
        qc_name = _qc_name(variable) if qc == "auto" else qc
        qcv = sd.select(qc_name)[:] if qc_name and qc_name in names else None
        struct = "".join(
            str(v) for k, v in sd.attributes().items() if k.startswith("StructMetadata")
        )
    finally:
        sd.end()
    (ulx, uly), (lrx, lry) = _corners(struct)
    ny, nx = raw.shape
    t = Affine((lrx - ulx) / nx, 0.0, ulx, 0.0, (lry - uly) / ny, uly)
    y, x = grid_coords(t, (ny, nx))
    fill = attrs.get("_FillValue")
    if decode:
        scale = float(attrs.get("scale_factor", 1.0))
        offset = float(attrs.get("add_offset", 0.0))
        data = raw.astype(np.float64) * scale + offset
        bad = np.zeros(raw.shape, bool) if fill is None else raw == fill
        if qcv is not None:
            bad |= modland(qcv) > max_modland
        data = np.where(bad, np.nan, data).astype(np.float32)
        keep = {
            k: v
            for k, v in attrs.items()
            if k
            not in (
                "scale_factor",
                "add_offset",
                "_FillValue",
                "valid_range",
                "calibrated_nt",
                "scale_factor_err",
                "add_offset_err",
            )
        }
    else:
        data, keep = raw, attrs
    keep["source"] = path.name
    if qcv is not None and decode:
        keep["qc"] = f"{qc_name} MODLAND bits 0-1 <= {max_modland}"
    da = xr.DataArray(
        data,
        dims=("y", "x"),
        coords={"y": ("y", y, {"units": "m"}), "x": ("x", x, {"units": "m"})},
        name=variable,
        attrs=keep,
    )
    return da.rio.write_crs(MODIS_SINUSOIDAL).rio.write_transform(t)
