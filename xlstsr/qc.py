"""MODIS LST quality-control bits (MOD11, MOD21) decoded into masks.

MOD11A1 QC (per pixel, 8 bits): bits 0-1 MODLAND (00 good, 01 other quality - check the other
bits, 10 not produced due to cloud, 11 not produced for other reasons); bits 2-3 data quality;
bits 4-5 emissivity error; bits 6-7 LST error (00 <= 1 K, 01 <= 2 K, 10 <= 3 K, 11 > 3 K).

MOD21/MYD21 (TES) QC share bits 0-1 (MODLAND) but their LST *accuracy* classes run the other
way (00 > 2 K poor, 01 1.5-2 K, 10 1-1.5 K, 11 < 1 K excellent): bits 6-7 of the 8-bit QC_Day /
QC_Night of MOD21A2, bits 14-15 of the 16-bit QC of MOD21A1D/N (LP DAAC QA_Legend). The layout
comes from ``product=`` or, for a DataArray, from its attributes (a MOD21 granule or grid name in
``source`` / ``grid_mapping``, a QA_Legend that lists "LST accuracy"); anything else is MOD11.

A QC layer has no fill value: every byte is a flag (QC == 0 is the best quality). A float
DataArray holding NaN whose ``encoding`` / ``attrs`` record a fill that is a flag value (a read
with the fill masked: ``open_cog``, rioxarray ``masked=True`` or xarray ``mask_and_scale`` on a
file declaring NoData / ``_FillValue``, often 0) is refused: its NaN may be that flag (the best
quality) or pixels with no QC at all, added since by padding, reprojection or an outer
alignment, and nothing tells them apart; a recorded fill whose MODLAND bits are 11 (255) reads
"not produced" either way, and its NaN are read as it. A NaN without that record is read as "not
produced" (MODLAND 11). A signed copy of the flags flagged ``_Unsigned = "true"`` (netCDF-3) is read as
unsigned.

The one decoder of these bits: :func:`xlstsr.io.open_modis` masks with :func:`modland`, and the
masks below serve QC layers read by other means (``open_modis(path, "QC_Day")``, STAC, COGs).
Each function takes a numpy array, a dask array or a DataArray and returns the same kind: a
DataArray keeps its dims, coordinates and CRS, and anything dask-backed stays lazy.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any, TypeVar

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


#: the QC layouts: bits of the flags, first bit of the LST error / accuracy class and the upper
#: bound (K) of each class 00, 01, 10, 11; "MOD21" (width unknown) decodes only MODLAND
_LAYOUTS: dict[str, tuple[int, int | None, tuple[float, ...] | None]] = {
    "MOD11": (8, 6, (1.0, 2.0, 3.0, np.inf)),      # <= 1, 2, 3 K, > 3 K
    "MOD21A2": (8, 6, (np.inf, 2.0, 1.5, 1.0)),    # > 2 K, 1.5-2, 1-1.5, < 1 K
    "MOD21A1": (16, 14, (np.inf, 2.0, 1.5, 1.0)),  # bits 14-15 of the 16-bit QC
    "MOD21": (16, None, None),
}
#: MOD21 granule / grid names, and STAC collections ('modis-21A2-061', as open_stac records)
_MOD21_NAME = re.compile(r"M[OY]D21(A1|A2)?|(Daily|8Day)_1km_LST21|LST21|modis-21(A1|A2)?",
                         re.IGNORECASE)


def _product(product: Any) -> str | None:
    """The layout named by ``product`` ("MOD11A1", "MYD21A2", "MOD21A1D"...), None for auto."""
    if product is None:
        return None
    p = str(product).strip().upper().replace("MYD", "MOD") if isinstance(product, str) else ""
    for name in ("MOD21A1", "MOD21A2", "MOD21", "MOD11"):
        if p.startswith(name):
            return name
    raise XlstsrError(f"product must be None (from the QC's attributes) or a MODIS LST product "
                      f"such as 'MOD11A1', 'MOD21A1D' or 'MYD21A2', got {product!r}")


def _product_of(qc: xr.DataArray) -> str:
    """The QC layout of a DataArray from its attributes: MOD21 granule / grid names or STAC
    collections (``source``, ``source_granule``, ``product``, ``grid_mapping``...) or a MOD21 QA_Legend ("LST
    accuracy"); else MOD11."""
    names = " ".join(os.path.basename(str(d.get(k, ""))) for d in (qc.attrs, qc.encoding)
                     # source_granule: the tag open_cog and the Zarr/netCDF round trips keep
                     # (encoding's source becomes the store's path): a MOD21A2 QC was decoded
                     # with MOD11's accuracy classes, which run the other way
                     for k in ("source", "source_granule", "product", "ShortName", "grid_name",
                               "grid_mapping"))
    m = _MOD21_NAME.search(names)
    if m:
        text = m.group(0).upper()
        if "21A1" in text or "DAILY" in text:
            return "MOD21A1"
        if "21A2" in text or "8DAY" in text:
            return "MOD21A2"
        return "MOD21"
    legend = " ".join(str(qc.attrs.get(k, "")) for k in ("QA_Legend", "Legend"))
    if re.search(r"LST\s+accuracy", legend, re.IGNORECASE):
        return "MOD21A1" if re.search(r"14\s*-\s*15", legend) else "MOD21A2"
    return "MOD11"


def _resolve(product: str, dtype: Any) -> str:
    """MOD21 of unknown width: the 8-bit MOD21A2 QC or the 16-bit MOD21A1 QC by its dtype."""
    if product == "MOD21" and dtype is not None and np.dtype(dtype).kind in "iu":
        return "MOD21A2" if np.dtype(dtype).itemsize == 1 else "MOD21A1"
    return product


def _flags(q: np.ndarray, product: str = "MOD11") -> tuple[np.ndarray, np.ndarray | None]:
    """The QC layer as unsigned flags (uint8; uint16 for the 16-bit MOD21 QC), and where it is
    missing (NaN: a layer read with its fill masked) or None. Anything that is not flags of
    that width is refused: a NaN cast to 0 read as "good", an LST (300.5 K) or a 16-bit QC of
    another product (MOD21A1's bit layout differs) wrapped to arbitrary bits."""
    bits = _LAYOUTS[product][0]
    utype = np.uint8 if bits == 8 else np.uint16
    q = np.asarray(q)
    if q.dtype == utype:
        return q, None
    what = "MOD11 8-bit" if product == "MOD11" else f"{product} {bits}-bit"
    if q.dtype.kind not in "iuf":
        raise InputTypeError(f"the QC layer holds {q.dtype} values, not {what} flags: pass "
                             "the QC layer (unsigned integers), e.g. open_modis(path, 'QC_Day')")
    missing = np.isnan(q) if q.dtype.kind == "f" else None
    v = q[~missing] if missing is not None else q
    top = 2 ** bits - 1
    if v.size and (v.min() < 0 or v.max() > top or (q.dtype.kind == "f" and np.any(v != np.floor(v)))):
        bad = v[(v < 0) | (v > top) | (v != np.floor(v))][0]
        if q.dtype.kind == "i" and bad < 0 and q.dtype.itemsize * 8 <= bits:
            raise XlstsrError(
                f"the QC layer holds {bad!r}: {q.dtype} signed integers, the {what} flags stored "
                "signed (netCDF-3 has no unsigned byte, an INT1S export, or a read that left "
                "_Unsigned='true' undecoded). Reinterpret them as unsigned: "
                f"`qc.astype('uint{q.dtype.itemsize * 8}')` (a DataArray flagged "
                "_Unsigned='true' is read so by itself)."
            )
        if product == "MOD11" and q.dtype.kind in "iu" and 0 <= bad <= 65535:
            hint = ("; if it is the 16-bit QC of MOD21A1D/N (MODLAND in bits 0-1, LST accuracy "
                    "in bits 14-15), say so: product='MOD21A1'")
        else:
            hint = ""
        raise XlstsrError(
            f"the QC layer holds {bad!r}, not a {what} flag (a whole number 0-{top}): is it "
            f"the LST or another scaled field, or the {16 if bits == 8 else 32}-bit QC of "
            "another product (MOD21A1's QC has another bit layout)? Pass the QC layer of the "
            f"LST (QC_Day / QC_Night of MOD11 and MOD21A2, QC of MOD21A1D/N){hint}"
        )
    if missing is None:
        return q.astype(utype), None
    return np.where(missing, 0, q).astype(utype), missing


def _scale_text_absent(scale: Any) -> bool:
    """A text scale_factor that says there is none (MOD21A2's QC_Day: "n/a")."""
    return isinstance(scale, (str, bytes)) and (
        scale.decode(errors="replace") if isinstance(scale, bytes) else scale
    ).strip().lower() in ("", "n/a", "na", "none")


def _stored_fill(qc: xr.DataArray, product: str) -> int | None:
    """The fill value recorded on a float QC (``encoding`` / ``attrs``) when it is a flag value:
    a masked read may have turned it into NaN (a QC has no fill: every value is a flag; MOD11
    QC == 0 is the best quality)."""
    if qc.dtype.kind != "f":
        return None
    for d, k in ((d, k) for d in (qc.encoding, qc.attrs) for k in ("_FillValue", "missing_value")):
        fill = d.get(k)
        if fill is None or np.size(fill) != 1:
            continue
        try:
            f = float(np.ravel(fill)[0])
        except (TypeError, ValueError):
            continue
        if np.isfinite(f) and f == int(f) and 0 <= f < 2 ** _LAYOUTS[product][0]:
            return int(f)
    return None


def _refusing_nan(fn: Callable[[np.ndarray], np.ndarray], fill: int
                  ) -> Callable[[np.ndarray], np.ndarray]:
    """``fn`` refusing a block holding NaN: the QC records the flag value ``fill`` as its fill,
    so a NaN may be that flag (masked by the read) or a pixel with no QC (padding,
    reprojection, an outer alignment): read as either, pixels were kept or dropped wrongly."""
    def checked(q: np.ndarray) -> np.ndarray:
        q = np.asarray(q)
        n = int(np.count_nonzero(np.isnan(q)))
        if n:
            raise XlstsrError(
                f"the QC layer holds {n} NaN and records the fill value {fill}, a flag value "
                f"(MODLAND {fill & 3:02b}{', the best quality' if fill == 0 else ''}): each NaN "
                "may be that flag, masked by the read, or a pixel with no QC at all, added by "
                "padding, reprojection or an outer alignment since; nothing tells them apart. "
                "Read the QC unmasked (`open_cog(f, masked=False)`, "
                "`open_stac(items, 'QC_Day', engine='odc', decode=False)`: stackstac masks "
                "the nodata whatever decode says; rioxarray "
                "`masked=False`, xarray `mask_and_scale=False`) and, before padding or "
                "reprojecting it, give it a nodata that reads 'not produced' "
                "(`qc = qc.rio.write_nodata(3)`); or fill the NaN with what they are: "
                f"`qc.fillna({fill})` if all are the stored fill (nothing padded, reprojected "
                "or aligned since the read), `qc.fillna(3)` (MODLAND 11, not produced) if all "
                "are pixels without QC."
            )
        return fn(q)
    return checked


def _filling_nan(fn: Callable[[np.ndarray], np.ndarray], fill: int
                 ) -> Callable[[np.ndarray], np.ndarray]:
    """``fn`` with the NaN of a block read as the recorded fill ``fill``, a flag whose MODLAND
    bits are 11 ("not produced", as gdalwarp's and exports' nodata 255): a NaN that is a pixel
    with no QC reads so too, so both readings agree (a refusal stopped a right answer)."""
    def filled(q: np.ndarray) -> np.ndarray:
        q = np.asarray(q)
        return fn(np.where(np.isnan(q), fill, q))
    return filled


def _elementwise(
    qc: QC, make: Callable[[str], Callable[[np.ndarray], np.ndarray]], dtype: type, name: str,
    product: Any = None,
) -> QC:
    """Apply a per-pixel numpy function, ``make(layout)``, to a numpy array or a DataArray
    (lazily on dask); the layout from ``product`` or the DataArray's attributes."""
    if isinstance(qc, (str, bytes, xr.Dataset)) or qc is None:
        hint = " (pick its QC variable, e.g. ds['QC_Day'])" if isinstance(qc, xr.Dataset) else ""
        raise InputTypeError(f"the QC layer must be an array or a DataArray of uint8 flags, got "
                             f"{type(qc).__name__}{hint}")
    layout = _product(product)
    dtype_in = getattr(qc, "dtype", None)
    if dtype_in is not None and np.dtype(dtype_in).kind not in "iuf":
        _flags(np.zeros(0, dtype_in))  # refused now: a lazy array failed only when computed
    if isinstance(qc, xr.DataArray):
        from .errors import UnitsError
        from .validate import _units_kind, _unsigned_of

        if layout is None:
            layout = _product_of(qc)
        try:
            temperature = _units_kind(qc.attrs.get("units")) is not None
        except UnitsError:  # other units (none is a temperature)
            temperature = False
        scale = qc.attrs.get("scale_factor", 1.0)
        try:
            scaled = not _scale_text_absent(scale) and (
                np.size(scale) == 1 and float(np.ravel(scale)[0]) != 1.0)
        except (TypeError, ValueError):  # a text scale_factor: no flag layer has one
            scaled = True
        if temperature or scaled:
            # the LST (or another scaled field) passed for its QC: caught only on compute
            # (lazy) or, for 8-bit DN such as Emis_31, never
            raise XlstsrError(
                f"the QC layer {qc.name!r} has units={qc.attrs.get('units')!r} / scale_factor="
                f"{scale!r}: not a {'MOD11 8-bit' if layout == 'MOD11' else layout} flag "
                "layer but a physical field (the LST or "
                "an emissivity?). Pass the QC_Day / QC_Night layer, e.g. open_modis(path, "
                "'QC_Day'); if it is the flag layer with a stray attribute, drop it "
                "(`qc.attrs.pop('scale_factor')`)."
            )
        unsigned = _unsigned_of(qc.attrs.get("_Unsigned", qc.encoding.get("_Unsigned")), qc.dtype)
        src = qc
        if unsigned is not None and unsigned.kind == "u":  # netCDF-3 bytes: _Unsigned="true"
            qc = qc.astype(unsigned)
        layout = _resolve(layout, qc.dtype)
        fill = _stored_fill(qc, layout)
        if fill is None:
            fn = make(layout)
        elif fill & 0b11 == 0b11:  # NaN reads "not produced" as the fill or as no QC alike
            fn = _filling_nan(make(layout), fill)
        else:
            fn = _refusing_nan(make(layout), fill)
        out = xr.apply_ufunc(fn, qc, dask="parallelized", output_dtypes=[dtype],
                             keep_attrs=False)
        out.name = name
        crs = src.rio.crs
        if crs is not None:
            out = out.rio.write_crs(crs)
            gm = src.coords.get(src.rio.grid_mapping)
            if gm is not None and gm.attrs.get("GeoTransform"):
                # kept as it is: recomputed from the coordinates, a one-row or one-column QC
                # came back at (0, 0) with 1-unit pixels
                out = out.rio.write_transform(src.rio.transform())
        return out
    layout = _resolve(layout or "MOD11", dtype_in)
    if isinstance(qc, dsa.Array):
        return qc.map_blocks(make(layout), dtype=dtype)
    return make(layout)(np.asarray(qc))


def _modland(q: np.ndarray, product: str = "MOD11") -> np.ndarray:
    flags, missing = _flags(q, product)
    m = (flags & 0b11).astype(np.uint8)
    return m if missing is None else np.where(missing, np.uint8(3), m)  # missing: not produced


def _lst_error(q: np.ndarray, product: str = "MOD11") -> np.ndarray:
    _, shift, bounds = _LAYOUTS[product]
    if shift is None or bounds is None:
        raise XlstsrError(
            "the LST accuracy classes of a MOD21 QC are in bits 6-7 of the 8-bit QC_Day / "
            "QC_Night of MOD21A2 and in bits 14-15 of the 16-bit QC of MOD21A1D/N: which one is "
            "it? Pass product='MOD21A2' or product='MOD21A1' (or the QC as stored integers)."
        )
    flags, _ = _flags(q, product)
    err = np.array(bounds)[(flags >> shift) & 0b11]
    return np.where(_modland(q, product) >= 2, np.inf, err)


def modland(qc: QC, *, product: str | None = None) -> QC:
    """MODLAND flag (bits 0-1): 0 good, 1 other quality, 2 cloud, 3 other reasons.

    ``product`` names the QC layout ("MOD11A1", "MOD21A1D", "MYD21A2"...; MODLAND is bits 0-1
    in all, but MOD21A1's QC is 16-bit); None: from a DataArray's attributes, else MOD11.

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
    return _elementwise(qc, lambda p: lambda q: _modland(q, p), np.uint8, "modland", product)


def modland_mask(
    qc: QC, *, accept_other_quality: bool = False, max_error_k: float | None = None,
    product: str | None = None,
) -> QC:
    """True where the LST is usable according to the QC bits.

    Parameters
    ----------
    qc : array or DataArray of uint8
        The ``QC_Day`` / ``QC_Night`` layer (e.g. ``open_modis(path, "QC_Day")``).
    accept_other_quality : bool
        Also accept MODLAND 01 ("other quality"); then ``max_error_k`` is usually set.
    max_error_k : float, optional
        Reject pixels whose LST error class (MOD11: bits 6-7, <= 1, 2, 3 K or more; MOD21:
        the accuracy class, < 1, 1.5, 2 K or more) exceeds this bound in Kelvin.
    product : str, optional
        The QC layout: "MOD11A1" (MOD11/MYD11, 8-bit), "MOD21A2" (8-bit) or "MOD21A1D"
        (16-bit); None: from a DataArray's attributes (MOD21 names or QA_Legend), else MOD11.

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

    def make(p: str) -> Callable[[np.ndarray], np.ndarray]:
        def fn(q: np.ndarray) -> np.ndarray:
            m = _modland(q, p)
            ok = (m == 0) | ((m == 1) if accept_other_quality else False)
            if max_error_k is not None:
                ok &= _lst_error(q, p) <= max_error_k
            return np.asarray(ok)
        return fn

    return _elementwise(qc, make, bool, "qc_mask", product)


def lst_error_k(qc: QC, *, product: str | None = None) -> QC:
    """Upper bound of the LST error (K) from bits 6-7: 1, 2, 3, or inf (> 3 K); inf where not produced.

    MOD21 QC (``product``, or a DataArray's attributes, see :func:`modland_mask`): the
    accuracy class (bits 6-7 of MOD21A2, 14-15 of MOD21A1) as 1, 1.5, 2 or inf (> 2 K).

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
    out = _elementwise(qc, lambda p: lambda q: _lst_error(q, p), np.float64, "lst_error",
                       product)
    if isinstance(out, xr.DataArray):
        out.attrs["units"] = "K"
        out.attrs["units_metadata"] = TEMPERATURE_DIFFERENCE
    return out
