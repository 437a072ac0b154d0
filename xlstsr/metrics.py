"""Accuracy metrics on DataArrays (xarray layer over :mod:`xlstsr.kernels.metrics` and
:mod:`xlstsr.kernels.spectra`).

Each metric reduces the two spatial dims and keeps every other dim (one value per time step or
scene), with its own ``units`` and ``long_name`` (those of :func:`xlstsr.evaluate`'s variables).
Both inputs must be on the same grid (same spatial coordinates, in any order: sr is put in the
reference's; a reference covering a window of sr's grid is compared with that window; use
:func:`xlstsr.evaluate` to reproject a super-resolved field onto a reference first), and
their steps are paired by label (:func:`xlstsr.steps.pair_steps`): a reference of other dates
is refused, one without a time coordinate (2-D) is compared with every step. The metrics decode
nothing: a field without a ``units`` attribute compared with one declaring Kelvin must hold
Kelvin (a reference stored as products store it, K x 10 or digital numbers, in degrees Celsius,
or with an undeclared fill value, is refused naming the conversion, as :func:`xlstsr.evaluate`
refuses it); of two fields without units, one with a median in the Kelvin range, only a usual
stored scale or degrees Celsius beside a fill are refused (two DEMs in metres are scored as
they are). Dask inputs stay
lazy (``apply_ufunc(..., dask="parallelized")``; the spatial dims are rechunked to one
chunk, leading dims keep their chunks). See the kernels for the definitions and NaN handling.

Examples
--------
>>> import xlstsr
>>> from xlstsr.metrics import rmse
>>> truth = xlstsr.datasets.sample_scene(n_times=2)["lst_250m"]
>>> [round(float(v), 6) for v in rmse(truth + 0.5, truth)]
[0.5, 0.5]
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import dask.array as dsa
import numpy as np
import xarray as xr

from .errors import (
    AllNaNError,
    GridError,
    InputTypeError,
    MethodOptionError,
    PhysicalRangeError,
    ScaledIntegerError,
    UndeclaredFillError,
    UnitsError,
    XlstsrError,
)
from .grid import same_axis
from .kernels import metrics as _k
from .kernels import spectra as _s
from .scaling import _SPECTRUM, _square_pixel
from .steps import pair_steps
from .validate import (
    check_factor,
    check_number,
    crs_mismatch,
    image_order,
    spatial_dims,
    spatial_names,
    stored_encoding,
    temperature_units,
)

__all__ = [
    "bias",
    "check_coarse_grid",
    "coarse_consistency",
    "correlation",
    "gradient_rmse",
    "mae",
    "n_valid",
    "psnr",
    "radial_power_spectrum",
    "rmse",
    "spectral_ratio",
    "ssim",
    "ubrmse",
]


def _one_spatial_chunk(da: xr.DataArray, ydim: str, xdim: str) -> xr.DataArray:
    if isinstance(da.variable.data, dsa.Array):
        return da.chunk({ydim: -1, xdim: -1})
    return da


def _need_dataarray(name: str, value: Any) -> None:
    if not isinstance(value, xr.DataArray):
        raise InputTypeError(
            f"{name} must be an xarray DataArray on a grid, got {type(value).__name__}: the "
            "metrics pair pixels by their coordinates (wrap an array: `xr.DataArray(a, dims=("
            "'y', 'x'), coords=...)`; `xlstsr.kernels.metrics` takes bare arrays)."
        )


#: the words of a units attribute that is a temperature on a scale the metrics do not know:
#: another zero or degree (``degF``, ``F``, ``Rankine``), or Kelvin/Celsius times a number
#: (``K*100``, ``0.02 K``, ``mK``); ``deg``/``degree(s)`` alone name no temperature
_TEMPERATURE_PARTS = frozenset({
    "k", "c", "f", "r", "kelvin", "kelvins", "celsius", "centigrade", "fahrenheit", "rankine",
    "degk", "degc", "degf", "degr", "mk", "kk", "uk", "µk", "deg", "degree", "degrees"})
_DEGREE_WORDS = frozenset({"deg", "degree", "degrees"})
#: a scale factor written beside a unit: ``100``, ``0.02``, ``x0.02``, ``1e-2``, ``10^3``
_SCALE_FACTOR = re.compile(r"[x\u00d7]?[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?|\d+\^[-+]?\d+")


def _unknown_temperature(units: Any) -> bool:
    """Whether ``units`` names a temperature that is neither Kelvin nor degrees Celsius (the
    spellings :func:`xlstsr.validate.temperature_units` takes): a shifted or scaled scale,
    ``'degF'``, ``'Rankine'``, ``'K*100'``, ``'0.02 K'``, ``'mK'``. Units of no temperature
    (``'1'``, ``'m'``, ``'degrees_north'``) and units derived from Kelvin (a gradient in
    ``'K m-1'`` or ``'K/pixel'``, a variance in ``'K2'``: scored in their own units) are not."""
    if not isinstance(units, str) or not units.strip() or temperature_units(units):
        return False
    u = units.strip().lower().replace("°", " deg ").replace("º", " deg ").replace("_", " ")
    words = [w for w in re.split("[\\s*\u00b7\u00d7()]+", u)
             if w and not _SCALE_FACTOR.fullmatch(w)]
    return bool(words) and all(w in _TEMPERATURE_PARTS for w in words) and not all(
        w in _DEGREE_WORDS for w in words)


def _check_units(sr: xr.DataArray, ref: xr.DataArray, what: str = "the reference",
                 ref_var: str = "ref") -> None:
    """Refuse a Celsius field against a Kelvin one: an RMSE of 273 K came back without a word
    (the metrics take values as they are; :func:`xlstsr.evaluate` decodes the reference), and
    a field declaring a temperature unit other than Kelvin or degrees Celsius (``degF``,
    ``K*100``): an RMSE of a 1.5 K error came back as "219 degF"."""
    from .validate import _units_kind

    for name, var, a in (("sr", "sr", sr), (what, ref_var, ref)):
        units = a.attrs.get("units")
        if _unknown_temperature(units):
            raise UnitsError(
                f"{name} is in {units!r}, a temperature unit the metrics do not know (they take "
                "Kelvin and degrees Celsius, and compare values as they are): convert it to "
                f"Kelvin first (from degF: `{var} = (({var} - 32) / 1.8 + 273.15).assign_attrs("
                f"units='K')`; scaled values such as K*100: `{var} = ({var} / 100).assign_attrs("
                "units='K')`)."
            )
    kinds = []
    for a in (sr, ref):
        try:
            kinds.append(_units_kind(a.attrs.get("units")))
        except UnitsError:
            kinds.append(None)
    if None not in kinds and kinds[0] != kinds[1]:
        raise UnitsError(
            f"sr is in {sr.attrs['units']!r} and {what} in {ref.attrs['units']!r}: the "
            "metrics compare values as they are; convert one (`(da + 273.15).assign_attrs("
            "units='K')`), or use xlstsr.evaluate, which decodes the reference."
        )


#: medians of a field in Kelvin and of one in degrees Celsius (of a land surface): a unitless
#: pair with one median in each was scored 273 K apart without a word
_KELVIN_MEDIAN = (200.0, 350.0)
_CELSIUS_MEDIAN = (-60.0, 70.0)


def _median(a: np.ndarray) -> float:
    flat = np.asarray(a, np.float64).ravel()
    if flat.size > 1_000_000:  # the median of a regular subsample tells the units
        flat = flat[:: flat.size // 1_000_000]
    flat = flat[np.isfinite(flat)]
    return float(np.median(flat)) if flat.size else np.nan


def _kelvin_against_celsius(a: np.ndarray, b: np.ndarray, names: tuple[str, str],
                            variables: tuple[str, str]) -> None:
    """Refuse a pair whose medians are one in Kelvin and the other in degrees Celsius (a
    reference without a units attribute, converted to degC: an RMSE of 273.18 K)."""
    ma, mb = _median(a), _median(b)
    for (m_c, m_k), (c_name, k_name), c_var in (((ma, mb), names, variables[0]),
                                                ((mb, ma), names[::-1], variables[1])):
        if (_CELSIUS_MEDIAN[0] < m_c < _CELSIUS_MEDIAN[1]
                and _KELVIN_MEDIAN[0] <= m_k <= _KELVIN_MEDIAN[1]):
            raise UnitsError(
                f"{c_name}'s values (median {m_c:.1f}) look like degrees Celsius and "
                f"{k_name}'s (median {m_k:.1f}) like Kelvin, and the units attribute of one or "
                "both is missing: the metrics compare values as they are (an error of 273 K). "
                f"Convert it, `{c_var} = ({c_var} + 273.15).assign_attrs(units='K')`"
                + (f", or set its units (`{c_var}.attrs['units'] = 'degC'`) and use "
                   "xlstsr.evaluate, which decodes the reference." if c_var == "ref" else ".")
            )


def _whole(v: float) -> float | int:
    """``v`` as an int when it is a whole number (``0``, not ``0.0``, in advice)."""
    return int(v) if float(v).is_integer() and abs(v) < 1e15 else float(v)


def _no_temperature(var: str) -> str:
    """How the value checks of a field without units end: the way out for a field of another
    quantity (a DEM in metres is no temperature; declared, it is compared as it is)."""
    return (f" Or set its units if it is no temperature (`{var}.attrs['units'] = 'm'` for a "
            "DEM in metres): the metrics then compare it as it is.")


def _check_possible_kelvin(f: np.ndarray, name: str, var: str, like_name: str) -> None:
    """Refuse values of a field without units, compared with one declaring Kelvin, that no
    temperature takes (<= 0 K or > 1000 K, :func:`xlstsr.evaluate.check_possible_kelvin`'s
    bounds), too few to be found as a fill by :func:`xlstsr.validate.suspect_fill`. A few
    distinct values (at most :data:`xlstsr.validate.FILL_FEW`: 0, -9999, 65535) are fill
    values, masked by an assignment (:class:`UndeclaredFillError`; the metrics decode nothing,
    so declaring a ``_FillValue``, evaluate's advice, was refused again); values spread over
    many distinct ones (a DEM's summits above 1000 m) are no fill but a field in no Kelvin
    (:class:`PhysicalRangeError`): one of 383 continuous values was named "the fill"."""
    from .evaluate import _IMPOSSIBLE_K
    from .validate import FILL_FEW

    bad = f[(f <= _IMPOSSIBLE_K[0]) | (f > _IMPOSSIBLE_K[1])]
    if not bad.size:
        return
    vals, counts = np.unique(bad, return_counts=True)
    span = f"{float(bad.min()):.6g} to {float(bad.max()):.6g}"
    if vals.size <= FILL_FEW:
        order = np.argsort(-counts, kind="stable")
        fills = [_whole(v) for v in vals[order]]
        on = ", ".join(f"{v!r} on {int(c)}" for v, c in zip(fills, counts[order]))
        mask = (f"{var}.where({var} != {fills[0]!r})" if len(fills) == 1 else
                f"{var}.where(~{var}.isin({fills!r}))")
        raise UndeclaredFillError(
            f"{name} has no units attribute and {bad.size} pixel(s) holding values no "
            f"temperature takes ({on}), against {like_name} in Kelvin: an undeclared fill value (clouds or gaps written as "
            f"{fills[0]!r}?), which would dominate every metric. Mask it: `{var} = {mask}` "
            "(the metrics decode nothing: a _FillValue attribute would not mask it)."
            + _no_temperature(var))
    raise PhysicalRangeError(
        f"{name} has no units attribute and {bad.size} pixel(s) holding values no "
        f"temperature in Kelvin takes ({span}, {vals.size} distinct values, no repeated fill "
        f"value), against {like_name} in Kelvin: the metrics would compare it as Kelvin. "
        f"Convert it to Kelvin first with its product's scale and offset (`{var} = ({var} * "
        "scale + offset).assign_attrs(units='K')`)." + _no_temperature(var))


def _check_kelvin_values(x: np.ndarray, like: np.ndarray, name: str, var: str,
                         like_name: str, declared: bool = True) -> None:
    """Refuse values of a field without a units attribute, compared with one in Kelvin
    (``like``), that are no Kelvin, image by image, with the checks and advice of
    :func:`xlstsr.evaluate`'s decoding: an undeclared fill value
    (:func:`xlstsr.validate.suspect_fill`; :class:`UndeclaredFillError`), degrees Celsius
    beside such a fill (SEVIRI's -80 degC; :class:`UnitsError`, naming the mask and the
    273.15: the fill hid the Celsius and advice named a scale), values scaled as
    products store them (ASTER's K x 10, MODIS's digital numbers x 0.02: the usual scales that
    bring the median near ``like``'s, :func:`xlstsr.validate._scale_fits`;
    :class:`ScaledIntegerError`) or in no known scale (:class:`PhysicalRangeError`), and values
    no temperature takes, <= 0 or > 1000 K, too few to be a fill found so
    (:func:`_check_possible_kelvin`). The metrics decode nothing: the ASTER
    reference as read (K x 10, 0 outside the scene) scored an RMSE of 2769 K against a Kelvin
    sr, MOD11A2 digital numbers 14527 K, without a word, while evaluate refused both.

    ``declared``: whether ``like`` declares Kelvin (its units attribute). Otherwise (two
    fields without units, ``like``'s median in the Kelvin range) only a usual stored scale
    (:class:`ScaledIntegerError`) or degrees Celsius beside a fill are refused: values of
    another quantity (two DEMs in metres, median 310 m, summits above 1000 m, a coast at 0 m)
    were refused as holding "an undeclared fill value"."""
    from .validate import (
        PHYSICAL_RANGE_K,
        _fill_pixels,
        _scale_fits,
        _spread,
        _threshold_fill_advice,
        fill_threshold,
        suspect_fill,
    )

    x, like = np.asarray(x), np.asarray(like)
    images = x.reshape(-1, *x.shape[-2:]) if x.ndim >= 2 else x.reshape(1, -1)
    likes = like.reshape(-1, *like.shape[-2:]) if like.ndim >= 2 else like.reshape(1, -1)
    lo, hi = PHYSICAL_RANGE_K
    in_kelvin = "in Kelvin" if declared else "(median in the Kelvin range)"
    for i, img in enumerate(images):
        f = img.ravel().astype(np.float64)
        f = f[np.isfinite(f)]
        if not f.size:
            continue
        found = suspect_fill(f)  # the decoders' rule (evaluate's, decode_lst's)
        fill = None if found is None else _whole(found[0])
        # a fill resampled is a plateau of close values (SEVIRI's -80 degC: -79.9999995 to
        # -80), which `!= fill` masked one of (511 of 512 pixels left, RMSE 37 K): a threshold
        at = None if found is None else _fill_pixels(f, found[0])
        rest = f if at is None else f[~at]
        top = None
        if at is not None and f[at].min() != f[at].max():
            top = float(f[at].max())
            fill_text = f"values from {_whole(f[at].min())!r} to {_whole(top)!r}"
            t = _whole(fill_threshold(top))  # as validate's own advice sets it
            masked = f"{var}.where({var} > {t!r})"
        elif fill is not None:
            fill_text = repr(fill)
            masked = f"{var}.where({var} != {fill!r})"
        else:
            masked = var
        median = _median(rest)
        if not np.isfinite(median):
            continue
        aside = "" if fill is None else f"; {fill_text} on {found[1]:.0%} of them aside"
        spread = ("" if top is None else
                  ", spread over close values by resampling: a threshold masks all of them, "
                  "`!=` one")
        decode = (" Or use xlstsr.evaluate, which decodes the reference (`reference_scale=`, "
                  + ("`reference_nodata=`)." if top is None else
                     "then `valid_min=` in Kelvin just above the fill, with `erode=3, "
                     "clear=True`).") if var == "ref" else "")
        like_median = _median(likes[i] if len(likes) == len(images) else likes)
        like_text = (f"{like_name} {in_kelvin} (median {like_median:.1f} K)"
                     if np.isfinite(like_median) else f"{like_name} {in_kelvin}")
        if _CELSIUS_MEDIAN[0] < median < _CELSIUS_MEDIAN[1]:
            if fill is None:
                continue  # degrees Celsius: _kelvin_against_celsius names them
            # the fill hid the Celsius: the values were called "no temperature in Kelvin", and
            # a cooler scene offered "* 0.1 + 273.15" (followed: an RMSE of 15 K)
            evaluate = ("" if var != "ref" else
                        f", or declare its units and use xlstsr.evaluate, which decodes the "
                        f"reference: `{var}.attrs['units'] = 'degC'` with "
                        f"`reference_nodata={fill!r}`" if top is None else
                        f", or declare its units (`{var}.attrs['units'] = 'degC'`) and use "
                        "xlstsr.evaluate, which decodes the reference, and "
                        + _threshold_fill_advice(top + 273.15, "reference", None, False, str,
                                                 True))
            raise UnitsError(
                f"{name} has no units attribute, holds {fill_text} on {found[1]:.0%} of its "
                f"valid pixels, far below the others (an undeclared fill "
                f"value{spread}), and the others "
                f"(median {median:.1f}) look like degrees Celsius, against {like_text}: the "
                "metrics compare values as they are (an error of 273 K, and the fill counted "
                f"as data). Mask and convert it: `{var} = ({masked} + 273.15).assign_attrs("
                f"units='K')`{evaluate}." + _no_temperature(var))
        if not lo <= median <= hi:
            fits = _scale_fits(median, PHYSICAL_RANGE_K, spread=_spread(rest),
                               like=(like_median, like_name) if np.isfinite(like_median)
                               else None)
            if not declared and not fits:
                continue  # two fields of another quantity, say
            head = (f"{name} has no units attribute and its values (median {median:.6g}"
                    f"{aside}) are no temperature in Kelvin ({lo:g}-{hi:g} K), against "
                    f"{like_text}: the metrics compare values as they are (an error of "
                    "thousands of K).")
            if fits:
                raise ScaledIntegerError(
                    f"{head} They look scaled: "
                    + "; or ".join(
                        f"`{var} = ({masked} * {k:g}" + (" + 273.15" if c else "")
                        + f").assign_attrs(units='K')` if they are {what} (median {mk:.1f} K)"
                        for k, c, what, mk in fits)
                    + "." + decode + _no_temperature(var))
            raise PhysicalRangeError(
                f"{head} Convert it to Kelvin first with its product's scale and offset (`{var} "
                f"= ({masked} * scale + offset).assign_attrs(units='K')`).{decode}"
                + _no_temperature(var))
        if not declared:
            continue
        if fill is not None:
            advice = ("" if top is None else _threshold_fill_advice(
                top, "field", var, False, lambda v: repr(_whole(v)), True))
            # its first letter up only (capitalize() lowercased the code after it)
            how = (f"Mask it: `{var} = {masked}`." if top is None
                   else advice[:1].upper() + advice[1:] + ".")
            raise UndeclaredFillError(
                f"{name} has no units attribute and holds {fill_text} on {found[1]:.0%} of its "
                "valid pixels, far below the others (median "
                f"{median:.1f}): an undeclared fill value (ASTER writes 0 outside its scene"
                f"{'' if top is None else '; 2000 = 200 K resampled'}{spread}), "
                f"which the metrics would count as data. {how}{decode}" + _no_temperature(var))
        _check_possible_kelvin(f, name, var, like_name)


def _units_checked(a: np.ndarray, b: np.ndarray, *, _kernel: Callable[..., Any],
                   _names: tuple[str, str], _vars: tuple[str, str],
                   _bare: tuple[bool, bool], _kinds: tuple[str | None, str | None],
                   _why: str = "", **kwargs: Any) -> Any:
    # a field without units against one declaring Kelvin is compared as Kelvin: its values
    # must be Kelvin. First: a fill value over half the field made its median 0, "degrees
    # Celsius", and advice to add 273.15
    pair = (a, b)
    for i in (0, 1):
        j = 1 - i
        if not _bare[i]:
            continue
        if _kinds[j] == "K":
            _check_kelvin_values(pair[i], pair[j], _names[i], _vars[i], _names[j])
        elif _bare[j] and _KELVIN_MEDIAN[0] <= _median(pair[j]) <= _KELVIN_MEDIAN[1]:
            # two fields without units: Kelvin by the median alone, which a DEM in metres
            # has too; only a stored scale or Celsius beside a fill is refused
            _check_kelvin_values(pair[i], pair[j], _names[i], _vars[i], _names[j],
                                 declared=False)
    _kelvin_against_celsius(a, b, _names, _vars)
    if _why:
        for x, bare, name, var in zip((a, b), _bare, _names, _vars):
            m = _median(x) if bare else np.nan
            if _CELSIUS_MEDIAN[0] < m < _CELSIUS_MEDIAN[1]:
                raise UnitsError(
                    f"{name}'s values (median {m:.1f}) look like degrees Celsius and it has no "
                    f"units attribute, but {_why}. Declare its units (`{var}.attrs['units'] = "
                    f"'degC'`: converted to Kelvin), or convert it, `{var} = ({var} + 273.15)."
                    "assign_attrs(units='K')`."
                )
    return _kernel(a, b, **kwargs)


def _unitless_pair(kernel: Callable[..., Any], a: xr.DataArray, b: xr.DataArray,
                   names: tuple[str, str], variables: tuple[str, str],
                   kwargs: dict[str, Any],
                   kelvin_only: str = "") -> tuple[Callable[..., Any], dict[str, Any]]:
    """``kernel`` and its kwargs, the values checked first when either field lacks a units
    attribute (in the graph for dask inputs: nothing is computed before the result is):
    against a Kelvin/Celsius mix, and, for a field without units compared with one declaring
    Kelvin, against values that are no Kelvin (:func:`_check_kelvin_values`: a reference scaled
    or with a fill value, as a product stores it; against a field without units whose median
    is in the Kelvin range, against a usual stored scale only). A field declaring units that are no temperature
    (NDVI ``'1'``, a DEM in ``'m'``) is not taken for degrees Celsius by its median.
    ``kelvin_only``: why the metric needs Kelvin (its value depends on the zero of the scale);
    a field without units whose values look like degrees Celsius is then refused too, even
    against another."""
    units = (a.attrs.get("units"), b.attrs.get("units"))
    declared = [u for u in units if u is not None and str(u).strip()]
    if len(declared) == 2 or any(not temperature_units(u) for u in declared):
        return kernel, kwargs  # both declared (_check_units compares them), or no temperature
    bare = tuple(not (u is not None and str(u).strip()) for u in units)
    kinds = tuple(None if b_ else temperature_units(u) for b_, u in zip(bare, units))
    return _units_checked, {**kwargs, "_kernel": kernel, "_names": names, "_vars": variables,
                            "_bare": bare, "_kinds": kinds, "_why": kelvin_only}


def _in_kelvin(da: xr.DataArray) -> xr.DataArray:
    """``da`` in Kelvin (float64) if it declares degrees Celsius, else unchanged: for the
    metrics whose value depends on the zero of the scale (SSIM's luminance term, the T^4 of
    the radiometric mean), which scored the same fields otherwise in degC and in K."""
    if temperature_units(da.attrs.get("units")) != "C":
        return da
    out = da.astype(np.float64) + 273.15
    out.attrs = {**da.attrs, "units": "K"}
    return out


def _infinite_refused(a: np.ndarray, b: np.ndarray, *, _checked: Callable[..., Any],
                      _inf_names: tuple[str, str], _inf_vars: tuple[str, str],
                      **kwargs: Any) -> Any:
    """``_checked(a, b, **kwargs)``, refused (:class:`PhysicalRangeError`) when either holds
    +-inf: only NaN marks no data (the metrics dropped infinite pixels as gaps and scored
    the rest). :func:`xlstsr.evaluate` refuses infinite values in sr too, but masks those of
    the reference (and of the coarse input) as gaps, as it decodes them; the metrics, which
    decode nothing, refuse them in either field."""
    for x, name, var in zip((a, b), _inf_names, _inf_vars):
        x = np.asarray(x)
        n = int(np.count_nonzero(np.isinf(x))) if x.dtype.kind in "fc" else 0
        if n:
            raise PhysicalRangeError(
                f"{n} value(s) of {name} are infinite: not temperatures, and not gaps (only NaN "
                "marks no data). Mask them (`"
                f"{var} = {var}.where(np.isfinite({var}))`) if they are a fill value, or find "
                "where they came from (an overflow)."
            )
    return _checked(a, b, **kwargs)


def _stored_message(what: str, coded: str) -> str:
    return (f"{what} holds stored values, not temperatures ({coded}): the metrics compare "
            "values as they are. Decode it first (open the file with `mask_and_scale=True`, "
            "or `xlstsr.validate.decode_lst(da)`), or use xlstsr.evaluate, which decodes the "
            "reference (`reference_scale=`, `reference_nodata=`).")


def _check_fill_block(block: np.ndarray, fill: float, message: str) -> np.ndarray:
    if (block == fill).any():
        raise ScaledIntegerError(message)
    return block


def _decoded(da: xr.DataArray, what: str) -> xr.DataArray:
    """``da``, refused when it holds stored values (digital numbers, fill values unmasked): the
    metrics compare values as they are; an ECOSTRESS scene read with ``mask_and_scale=False``
    scored 14 841 K against itself, its fill pixels counted as data. A lazy field with a
    declared fill gets the check in its graph (a Landsat file read lazily scored 8.5e35 K)."""
    coded = stored_encoding(da)
    if coded:
        raise ScaledIntegerError(_stored_message(what, coded))
    fill = da.attrs.get("_FillValue", da.attrs.get("nodata"))
    if fill is None or not isinstance(da.variable.data, dsa.Array):
        return da
    try:
        fill = float(np.ravel(fill)[0])
    except (TypeError, ValueError):
        return da
    if not np.isfinite(fill):
        return da
    message = _stored_message(what, f"the fill value {fill:g} (its _FillValue/nodata "
                                    "attribute) among its values")
    return da.copy(data=dsa.map_blocks(_check_fill_block, da.variable.data, fill=fill,
                                       message=message, dtype=da.dtype))


def _reference_order(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """The positions that put labels ``a`` in the order of ``b`` when both hold the same labels
    (to 1e-3 of a pixel) in another order, e.g. rows stored south-up against north-up ones;
    None otherwise (another grid, repeated labels)."""
    if a.size < 2 or a.shape != b.shape or same_axis(b, a):
        return None
    ia, ib = np.argsort(a, kind="stable"), np.argsort(b, kind="stable")
    if np.unique(a).size != a.size or np.unique(b).size != b.size or not same_axis(b[ib], a[ia]):
        return None
    idx = np.empty_like(ia)
    idx[ib] = ia  # the reference's i-th label is sr's idx[i]-th
    return idx


def _window_of(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """The positions of a run of labels ``a`` (in either order) that are the labels ``b`` to
    1e-3 of a pixel, when ``b`` is shorter: a reference covering a window of sr's grid; None
    otherwise."""
    if b.size < 2 or a.size <= b.size or a.dtype.kind not in "fiu" or b.dtype.kind not in "fiu":
        return None
    for idx in (np.arange(a.size), np.arange(a.size)[::-1]):
        i0 = int(np.argmin(np.abs(a[idx].astype(np.float64) - float(b[0]))))
        run = idx[i0:i0 + b.size]
        if run.size == b.size and same_axis(b, a[run]):
            return run
    return None


def _same_positions(sr: xr.DataArray, ref: xr.DataArray, ydim: Any, xdim: Any) -> xr.DataArray:
    """``sr`` in the reference's pixel order and with its spatial labels where they agree to
    1e-3 of a pixel: the fine grid computed by ``upscale`` differs from a grid read from a file
    by float round-off (1e-14 degree, 1e-9 m), which the exact alignment below refused, and a
    south-up sr of the reference's own pixels was refused "not on the same grid" (reordered by
    position: exact, no resampling). A reference covering a window of sr's grid gets that
    window of sr, by position (the advice ``sr.sel(x=ref.x, y=ref.y)`` raised a KeyError on
    labels read back from a GeoTIFF, 3e-11 m off)."""
    for d in (ydim, xdim):
        a, b = np.asarray(sr[d].values), np.asarray(ref[d].values)
        run = _window_of(a, b)
        if run is not None:
            sr, a = sr.isel({d: run}), a[run]
        idx = _reference_order(a, b)
        if idx is not None:
            sr, a = sr.isel({d: idx}), a[idx]
        if a.size > 1 and not np.array_equal(a, b) and same_axis(b, a):
            sr = sr.assign_coords({d: ref[d].values})
    return sr


#: units and long names of the metrics' outputs, those of :func:`xlstsr.evaluate`'s variables
#: (the outputs kept sr's attrs: a NetCDF of them said a PSNR was a surface temperature in K).
#: The units of the differences are those of a temperature difference (K, or degC, the same);
#: ``None``: the inputs' own units when they declare no temperature (an NDVI's RMSE is no K)
_ATTRS: dict[str, tuple[str | None, str]] = {
    "rmse": (None, "root-mean-square error"),
    "bias": (None, "mean error sr - reference"),
    "ubrmse": (None, "bias-removed RMSE (standard deviation of sr - reference)"),
    "mae": (None, "mean absolute error"),
    "psnr": ("dB", "peak signal-to-noise ratio, data range = reference max - min over valid pixels"),
    "ssim": ("1", "structural similarity (Gaussian window, sigma 1.5 px)"),
    "gradient_rmse": (None, "RMSE of the spatial gradients"),
    "correlation": ("1", "Pearson correlation"),
    "spectral_ratio": ("1", "power of sr / reference above half the coarse Nyquist frequency"),
    "coarse_consistency": (None, "RMSE of radiometric_mean(sr, factor) vs the coarse input"),
    "n_valid": ("1", "number of pixels valid in both"),
}


def _metric_attrs(name: str, a: xr.DataArray, b: xr.DataArray,
                  options: dict[str, Any]) -> dict[str, str]:
    """The attributes of metric ``name`` of ``a`` against ``b`` computed with ``options``."""
    units, long_name = _ATTRS[name]
    if units is None:  # a difference: K, unless a field declares units of no temperature
        declared = [str(u) for u in (a.attrs.get("units"), b.attrs.get("units"))
                    if isinstance(u, str) and u.strip()]
        other = [u for u in declared if temperature_units(u) is None]
        units = other[0] if other else "K"
        if name == "gradient_rmse":
            units = f"{units}/pixel"
    if name == "psnr" and options.get("data_range") is not None:
        long_name = f"peak signal-to-noise ratio, data range = {options['data_range']:g}"
    if name == "ssim" and options.get("sigma", 1.5) != 1.5:
        long_name = long_name.replace("sigma 1.5 px", f"sigma {options['sigma']:g} px")
    return {"units": units, "long_name": long_name}


def _crs_text(crs: Any) -> str:
    """A CRS in a message: its EPSG code, or its PROJ string (a WKT ran to 600 characters)."""
    try:
        epsg = crs.to_epsg()
        return f"EPSG:{epsg}" if epsg else str(crs.to_proj4()).replace(" +no_defs=True", "")
    except Exception:  # not a rasterio CRS
        return str(crs)[:80]


#: metrics whose value no change of either field's units alters (Pearson's r is invariant under
#: any increasing affine map of either field; n_valid counts pixels): no units are checked for
#: them, declared or guessed (an LST-NDVI correlation, degC against K, degF against K)
_UNIT_FREE = ("correlation", "n_valid")
#: metrics whose value depends on the zero of the temperature scale (SSIM's luminance term
#: ``(2 mx my + C1) / (mx^2 + my^2 + C1)``): declared degrees Celsius are converted to Kelvin
#: first, as :func:`xlstsr.evaluate` does (the same fields scored 0.68 in degC, 0.78 in K)
_ZERO_DEPENDENT = ("ssim",)


def _sel_advice(ref: xr.DataArray, on: str, ydim: Any, xdim: Any) -> str:
    """``sr.sel(...)`` that selects the reference's pixels from sr when sr has them: by nearest
    label within 1e-3 of a pixel (labels read back from a file differ from computed ones by
    float round-off, and an exact ``sr.sel(x=ref.x, y=ref.y)`` raised a KeyError)."""
    steps = []
    for d in (ydim, xdim):
        try:
            v = np.asarray(ref[d].values, np.float64)
        except (KeyError, TypeError, ValueError):
            continue
        if v.size > 1 and np.isfinite(v[1] - v[0]) and v[1] != v[0]:
            steps.append(abs(float(v[1] - v[0])))
    if not steps:
        return f"sr.sel({on})"
    return f"sr.sel({on}, method='nearest', tolerance={1e-3 * min(steps):.3g})"


def _pairwise(
    kernel: Callable[..., Any], sr: xr.DataArray, ref: xr.DataArray, name: str, **kwargs: Any
) -> xr.DataArray:
    _need_dataarray("sr", sr)
    _need_dataarray("reference", ref)
    if name not in _UNIT_FREE:
        _check_units(sr, ref)
    options = dict(kwargs)
    sr, ref = _decoded(sr, "sr"), _decoded(ref, "the reference")
    if name in _ZERO_DEPENDENT:
        sr, ref = _in_kelvin(sr), _in_kelvin(ref)
    # lat/lon dims (a CF NetCDF, upscale's output of one) as y/x, as the entry points take
    # them: refused as "no spatial dimensions found in dims ('lat', 'lon')"; the outputs have
    # no spatial dim to name back
    given = {v: k for k, v in spatial_names(ref).items()}  # the reference's own dim names
    sr, ref = sr.rename(spatial_names(sr)), ref.rename(spatial_names(ref))
    ydim, xdim = spatial_dims(ref)
    if ydim not in sr.dims or xdim not in sr.dims:
        raise GridError(
            f"sr has dims {tuple(sr.dims)} but the reference's spatial dims are ({ydim}, {xdim}); "
            "rename them alike, or use xlstsr.evaluate, which reprojects sr onto the reference."
        )
    other = crs_mismatch(sr, ref)
    if other is not None:  # the same numbers in two CRSs were scored without a word
        raise GridError(
            f"sr ({_crs_text(other[0])}) and the reference ({_crs_text(other[1])}) are in "
            "other CRSs: pixels of the "
            "same coordinates are not the same ground. Reproject sr onto the reference "
            "(`sr.rio.reproject_match(ref)`), or use xlstsr.evaluate, which does it; if one CRS "
            "was written wrongly, write the right one (`da.rio.write_crs(...)`)."
        )
    # steps by label, as xlstsr.evaluate pairs them: a truth of another date (or of one date
    # against every step, or with its time dim named otherwise) was scored without a word
    ref = pair_steps(ref, sr)
    sr = _same_positions(sr, ref, ydim, xdim)
    try:
        sr, ref = xr.align(sr, ref, join="exact", exclude=[d for d in sr.dims if d not in (ydim, xdim)
                                                          and d not in ref.dims])
    except ValueError as err:
        on = ", ".join(f"{n}=ref.{n}" for n in (given.get(xdim, xdim), given.get(ydim, ydim)))
        raise GridError(
            f"sr and the reference are not on the same grid ({err}): other pixels, not the same "
            f"ones in another order. Resample sr onto the reference's pixels (`sr.interp({on})`; "
            "with a CRS written on both, `sr.rio.reproject_match(ref)`), select them if sr has "
            f"them (`{_sel_advice(ref, on, ydim, xdim)}`), or use xlstsr.evaluate, which "
            "reprojects sr (with a CRS)."
        ) from err
    if name not in _UNIT_FREE:  # an LST-NDVI correlation is no Kelvin/Celsius mix
        kernel, kwargs = _unitless_pair(kernel, sr, ref, ("sr", "the reference"), ("sr", "ref"),
                                        kwargs)
    kernel, kwargs = _infinite_refused, {**kwargs, "_checked": kernel,
                                         "_inf_names": ("sr", "the reference"),
                                         "_inf_vars": ("sr", "ref")}
    sr = _one_spatial_chunk(sr, ydim, xdim)
    ref = _one_spatial_chunk(ref, ydim, xdim)
    out = xr.apply_ufunc(
        kernel,
        sr,
        ref,
        input_core_dims=[[ydim, xdim], [ydim, xdim]],
        output_core_dims=[[]],
        dask="parallelized",
        output_dtypes=[np.float64],
        kwargs=kwargs,
        keep_attrs=False,  # sr's units/standard_name said a PSNR was a temperature in K
    )
    out = out.drop_vars([c for c in out.coords if c == "spatial_ref"])
    out.name = name
    out.attrs = _metric_attrs(name, sr, ref, options)
    return out


def n_valid(sr: xr.DataArray, reference: xr.DataArray) -> xr.DataArray:
    """Number of pixels valid (not NaN) in both; see :func:`xlstsr.kernels.metrics.n_valid`.
    Unit-free: the units are not checked (an infinite value is refused)."""
    return _pairwise(_k.n_valid, sr, reference, "n_valid")


def rmse(sr: xr.DataArray, reference: xr.DataArray) -> xr.DataArray:
    """Root-mean-square error (K) over pixels valid in both.

    Examples
    --------
    >>> import xlstsr
    >>> from xlstsr.metrics import rmse
    >>> t = xlstsr.datasets.sample_scene(n_times=1)["lst_250m"]
    >>> float(rmse(t, t)[0])
    0.0
    """
    return _pairwise(_k.rmse, sr, reference, "rmse")


def bias(sr: xr.DataArray, reference: xr.DataArray) -> xr.DataArray:
    """Mean of ``sr - reference`` (K); see :func:`xlstsr.kernels.metrics.bias`."""
    return _pairwise(_k.bias, sr, reference, "bias")


def ubrmse(sr: xr.DataArray, reference: xr.DataArray) -> xr.DataArray:
    """Bias-removed RMSE: standard deviation of ``sr - reference`` (K)."""
    return _pairwise(_k.ubrmse, sr, reference, "ubrmse")


def mae(sr: xr.DataArray, reference: xr.DataArray) -> xr.DataArray:
    """Mean absolute error (K)."""
    return _pairwise(_k.mae, sr, reference, "mae")


def psnr(sr: xr.DataArray, reference: xr.DataArray, *, data_range: float | None = None) -> xr.DataArray:
    """Peak signal-to-noise ratio (dB) with data range ``max(ref) - min(ref)`` over valid pixels.

    See :func:`xlstsr.kernels.metrics.psnr`.
    """
    if data_range is not None:  # 0 or a negative range gave inf or NaN dB
        data_range = check_number("data_range", data_range, 0, lo_open=True,
                                  hint="K, or None for the reference's max - min")
    return _pairwise(_k.psnr, sr, reference, "psnr", data_range=data_range)


def ssim(sr: xr.DataArray, reference: xr.DataArray, **kwargs: Any) -> xr.DataArray:
    """Gaussian-window SSIM (Wang et al. 2004), NaN-aware; see :func:`xlstsr.kernels.metrics.ssim`.

    Its luminance term depends on the zero of the scale: fields declaring degrees Celsius are
    converted to Kelvin first (as :func:`xlstsr.evaluate` does). Fields without a units
    attribute are scored as they are (SSIM is no LST-only metric): declare ``units='degC'`` on
    Celsius fields, or the score is not that of the same fields in Kelvin.
    """
    known = {"data_range": (0, True), "sigma": (0, True), "truncate": (0, True),
             "k1": (0, True), "k2": (0, True), "min_weight": (0, False)}
    for k, v in kwargs.items():
        if k not in known:  # was xarray's raw TypeError
            raise MethodOptionError(f"ssim() takes the options {sorted(known)}, not {k!r}")
        if v is not None or k != "data_range":  # sigma=-1 gave an SSIM of 1.0
            kwargs[k] = check_number(k, v, known[k][0], 1 if k == "min_weight" else None,
                                     lo_open=known[k][1], hint="see xlstsr.kernels.metrics.ssim")
    return _pairwise(_k.ssim, sr, reference, "ssim", **kwargs)


def gradient_rmse(sr: xr.DataArray, reference: xr.DataArray) -> xr.DataArray:
    """RMSE of the spatial gradients (K per pixel); see :func:`xlstsr.kernels.metrics.gradient_rmse`."""
    return _pairwise(_k.gradient_rmse, sr, reference, "gradient_rmse")


def correlation(sr: xr.DataArray, reference: xr.DataArray) -> xr.DataArray:
    """Pearson correlation over pixels valid in both.

    Unit-free (no increasing affine change of either field alters it): the fields' units are
    not checked, so an LST correlates with an NDVI, and a field in degC with one in K or degF.
    """
    return _pairwise(_k.correlation, sr, reference, "correlation")


def spectral_ratio(sr: xr.DataArray, reference: xr.DataArray, factor: int, *,
                   pixel_ratio: float = 1.0) -> xr.DataArray:
    """Power of ``sr`` over that of ``reference`` above half the coarse Nyquist frequency.

    1.0: the right amount of fine detail; < 1: too smooth; > 1: too much (noise, artefacts).
    Measured on the pixels valid in both, gaps apodised; the estimator and why it handles cloud
    gaps so are in :mod:`xlstsr.kernels.spectra` (:func:`~xlstsr.kernels.spectra.spectral_ratio`).
    ``pixel_ratio``: the super-resolved grid's pixel over the pixel of the grid both fields are
    on (a reference grid of other pixels): the cut-off stays at the same physical frequency.

    Examples
    --------
    >>> import xlstsr
    >>> from xlstsr.metrics import spectral_ratio
    >>> t = xlstsr.datasets.sample_scene(n_times=1)["lst_250m"]
    >>> float(spectral_ratio(t, t, 4)[0])
    1.0
    """
    factor = check_factor(factor)  # 0 divided by zero in the kernel, 2.5 was taken as 2
    if not (np.isfinite(pixel_ratio) and pixel_ratio > 0):
        raise XlstsrError(f"pixel_ratio must be a positive number, got {pixel_ratio!r}")
    return _pairwise(_s.spectral_ratio, sr, reference, "spectral_ratio",
                     factor=factor * float(pixel_ratio))


def coarse_consistency(
    sr: xr.DataArray, coarse: xr.DataArray, factor: int, *, min_valid: float = 1.0
) -> xr.DataArray:
    """RMSE (K) between the radiometric aggregate of ``sr`` and the coarse input.

    ``sr`` must be on the factor-``factor`` fine grid of ``coarse`` (as :func:`xlstsr.upscale`
    returns it), not reprojected. See :func:`xlstsr.kernels.metrics.coarse_consistency`.
    The radiometric mean ``(mean T^4)^(1/4)`` needs Kelvin: fields declaring degrees Celsius are
    converted first (as :func:`xlstsr.evaluate` does); one without a units attribute whose
    values look like degrees Celsius is refused. ``min_valid``: the share of valid fine pixels
    a block needs, in (0, 1].

    Examples
    --------
    >>> import xlstsr
    >>> from xlstsr.metrics import coarse_consistency
    >>> s = xlstsr.datasets.sample_scene(n_times=1, cloud_fraction=0)
    >>> float(coarse_consistency(s["lst_250m"], s["lst_1km"], 4)[0]) < 1e-3
    True
    """
    _need_dataarray("sr", sr)
    _need_dataarray("coarse", coarse)
    _check_units(sr, coarse, "the coarse input", "coarse")
    sr, coarse = _decoded(sr, "sr"), _decoded(coarse, "the coarse LST")
    # the T^4 of degrees Celsius: a truth against its own aggregate scored 7.8 K in degC
    sr, coarse = _in_kelvin(sr), _in_kelvin(coarse)
    factor = check_factor(factor)
    # as xlstsr.coarsen checks it: 50 (a percentage) or 2 gave NaN, a string a bare TypeError
    min_valid = check_number("min_valid", min_valid, 0, 1, lo_open=True,
                             hint="the share of valid fine pixels a coarse pixel needs, e.g. 1.0")
    sr, coarse = sr.rename(spatial_names(sr)), coarse.rename(spatial_names(coarse))
    # by label: a coarse input of another date was scored, steps in another order raised
    # xarray's bare AlignmentError
    coarse = pair_steps(coarse, sr, "coarse input", var="coarse")
    # compared block by block, by position: both north-up, (..., y, x) (upscale gives a
    # south-up input back north-up, and its own input was refused "off by 0 coarse pixels")
    sr, coarse = image_order(sr), image_order(coarse)
    # sr cut to a window of whole blocks: the coarse pixels it covers (as _same_positions
    # cuts the reference's window), which the shapes compared first refused
    coarse = _coarse_window(sr, coarse, factor)
    check_coarse_grid(sr, coarse, factor)
    ydim, xdim = spatial_dims(sr)
    cy, cx = spatial_dims(coarse)
    coarse = coarse.drop_vars([c for c in coarse.coords if cy in coarse[c].dims or cx in coarse[c].dims
                               or c == "spatial_ref"])
    coarse = coarse.rename({cy: "_coarse_y", cx: "_coarse_x"})
    sr = _one_spatial_chunk(sr, ydim, xdim)
    coarse = _one_spatial_chunk(coarse, "_coarse_y", "_coarse_x")
    kernel, kwargs = _unitless_pair(
        _k.coarse_consistency, sr, coarse, ("sr", "the coarse input"), ("sr", "coarse"),
        {"factor": int(factor), "min_valid": min_valid},
        "the radiometric mean (mean T^4)^(1/4) needs Kelvin (of degrees Celsius it is "
        "meaningless)")
    kernel, kwargs = _infinite_refused, {**kwargs, "_checked": kernel,
                                         "_inf_names": ("sr", "the coarse input"),
                                         "_inf_vars": ("sr", "coarse")}
    out = xr.apply_ufunc(
        kernel,
        sr,
        coarse,
        input_core_dims=[[ydim, xdim], ["_coarse_y", "_coarse_x"]],
        output_core_dims=[[]],
        dask="parallelized",
        output_dtypes=[np.float64],
        kwargs=kwargs,
        keep_attrs=False,
    )
    out = out.drop_vars([c for c in out.coords if c == "spatial_ref"])
    out.name = "coarse_consistency"
    out.attrs = _metric_attrs("coarse_consistency", sr, coarse, {})
    return out


def _coarse_window(sr: xr.DataArray, coarse: xr.DataArray, factor: int) -> xr.DataArray:
    """``coarse`` cut to the coarse pixels whose blocks ``sr`` covers, along each spatial dim
    where ``sr`` holds whole blocks of ``factor`` fine pixels whose centres are a run of
    ``coarse``'s labels (to 1e-3 of a pixel); as it is elsewhere (checked after)."""
    ydim, xdim = spatial_dims(sr)
    cy, cx = spatial_dims(coarse)
    for d, c in ((ydim, cy), (xdim, cx)):
        n = sr.sizes[d]
        if (n == coarse.sizes[c] * factor or n % factor or d not in sr.coords
                or c not in coarse.coords or sr[d].ndim != 1 or coarse[c].ndim != 1):
            continue
        centres = np.asarray(sr[d].values, np.float64).reshape(-1, factor).mean(axis=1)
        run = _window_of(np.asarray(coarse[c].values), centres)
        if run is not None:
            coarse = coarse.isel({c: run})
    return coarse


#: How far (in fine pixels) a coarse label may be from its block's centre in
#: :func:`check_coarse_grid`: float round-off only.
_COARSE_GRID_TOL = 1e-2


def _inside_fine_grid(sr: xr.DataArray, coarse: xr.DataArray, factor: int) -> bool:
    """Whether ``sr`` is a window of ``coarse``'s factor-``factor`` fine grid: along each
    spatial axis its pixel is ``coarse``'s over ``factor`` (to :data:`_COARSE_GRID_TOL`) and
    its extent lies inside ``coarse``'s. False without labels, and for ``coarse`` on sr's own
    grid or sr made at another factor (their fixes are others')."""
    for d, c in zip(spatial_dims(sr), spatial_dims(coarse)):
        if (d not in sr.coords or c not in coarse.coords or sr[d].ndim != 1
                or coarse[c].ndim != 1 or sr.sizes[d] < 2 or coarse.sizes[c] < 2
                or sr[d].dtype.kind not in "fiu" or coarse[c].dtype.kind not in "fiu"):
            return False
        f = np.asarray(sr[d].values, np.float64)
        g = np.asarray(coarse[c].values, np.float64)
        pixel = abs(f[1] - f[0])
        if not pixel or abs(abs(g[1] - g[0]) - factor * pixel) > _COARSE_GRID_TOL * pixel:
            return False
        half, tol = factor * pixel / 2, _COARSE_GRID_TOL * pixel
        if f.min() - pixel / 2 < g.min() - half - tol or f.max() + pixel / 2 > g.max() + half + tol:
            return False
    return True


def check_coarse_grid(sr: xr.DataArray, coarse: xr.DataArray, factor: int, what: str = "sr",
                      coarse_what: str = "coarse input", *, optional: bool = True) -> None:
    """Refuse ``sr`` that is not on the factor-``factor`` fine grid of ``coarse``: the two are
    compared block by block, by position, so a coarse field of the right shape elsewhere (or
    half a pixel off) gave a consistency without a word. Coordinates are compared when both
    fields have them (each coarse label on its block's centre, to 1 % of a fine pixel, or
    the labels' own float32 step), CRSs when both have one. ``optional``: the advice may
    offer to leave ``coarse`` out (False where it is required).

    Examples
    --------
    >>> import xlstsr
    >>> from xlstsr.metrics import check_coarse_grid
    >>> s = xlstsr.datasets.sample_scene(n_times=1)
    >>> check_coarse_grid(s["lst_250m"], s["lst_1km"], 4)
    >>> check_coarse_grid(s["lst_250m"], s["lst_1km"].assign_coords(x=s["lst_1km"].x + 500), 4)
    Traceback (most recent call last):
    ...
    xlstsr.errors.GridError: sr is not on the factor-4 fine grid of the coarse input: its 'x' ...
    """
    ydim, xdim = spatial_dims(sr)
    cy, cx = spatial_dims(coarse)
    # the CRS first: a coarse input reprojected (to the truth's UTM, for a map) failed the
    # shape test below, which told to pass sr "on its own grid", blaming the one not moved
    other = crs_mismatch(sr, coarse)
    if other is not None:
        crs_a, crs_b = other
        raise GridError(
            f"the {coarse_what} is in another CRS ({_crs_text(crs_b)}) than {what} "
            f"({_crs_text(crs_a)}): pass the {coarse_what} {what} was made from, on its own "
            f"grid (not reprojected), and {what} on the {coarse_what}'s fine grid.")
    if (sr.sizes[ydim], sr.sizes[xdim]) != (coarse.sizes[cy] * factor, coarse.sizes[cx] * factor):
        if _inside_fine_grid(sr, coarse, factor):
            # a window of the fine grid (its pixel, inside its extent): the reprojection
            # advice did not apply. Not any smaller sr: coarse given on sr's own grid, or a
            # wrong factor, were told to cut a window
            raise GridError(
                f"{what} ({sr.sizes[ydim]} x {sr.sizes[xdim]}) is smaller than the factor-"
                f"{factor} fine grid of the {coarse_what} ({coarse.sizes[cy]} x "
                f"{coarse.sizes[cx]} pixels): a window of it? The blocks are compared whole: "
                f"cut {what} on whole coarse pixels ({factor} x {factor} fine pixels, from the "
                f"{coarse_what}'s edges) and pass the {coarse_what}'s same window (e.g. "
                f"`{coarse_what.split()[0]}.sel(x=slice(x0, x1), y=slice(y0, y1))` over "
                f"{what}'s extent)" + (f", or leave the {coarse_what} out." if optional
                                       else "."))
        raise GridError(
            f"{what} ({sr.sizes[ydim]} x {sr.sizes[xdim]}) is not the factor-{factor} fine grid "
            f"of the {coarse_what} ({coarse.sizes[cy]} x {coarse.sizes[cx]}); pass the "
            "super-resolved field on its own grid, before any reprojection, and the factor it "
            "was made with."
            + (f" The {coarse_what} has {what}'s shape: the fine reference passed as it?"
               if sr.sizes[ydim] == coarse.sizes[cy] and sr.sizes[xdim] == coarse.sizes[cx]
               else "")
        )
    for d, c in ((ydim, cy), (xdim, cx)):
        if d not in sr.coords or c not in coarse.coords or sr.sizes[d] < factor:
            continue
        labels = sr[d].values
        fine = np.asarray(labels, np.float64)
        expect = fine[: fine.size // factor * factor].reshape(-1, factor).mean(axis=1)
        got_labels = coarse[c].values
        got = np.asarray(got_labels, np.float64)
        if fine.size > 1:
            pixel = abs(float(fine[1] - fine[0]))
        elif got.size > 1:
            pixel = abs(float(got[1] - got[0])) / factor
        else:
            continue  # one pixel each way: no grid to compare
        # the blocks' centres to a small fraction of a fine pixel: the coarse LST the SR was
        # made from (or its coarsen) is on them to float round-off. Half a coarse pixel was
        # accepted ("corners against centres"), so a coarse LST 1.5 or 1.99 fine pixels off
        # was scored block by block as if aligned; corner labels are half a coarse pixel off
        # and were refused all the same. Labels stored in float32 get their own step (as in
        # grid.same_axis), never more than a quarter of a fine pixel (a 2 m truth at UTM
        # northings: float32's step there is 0.5 m)
        tol = _COARSE_GRID_TOL * pixel
        narrow = [np.dtype(a.dtype) for a in (labels, got_labels)
                  if np.dtype(a.dtype).kind == "f" and np.dtype(a.dtype).itemsize < 8]
        if narrow and got.size:
            big = max(float(np.abs(fine).max()), float(np.abs(got).max()))
            ulp = float(np.spacing(min(narrow, key=lambda t: t.itemsize).type(big)))
            tol = max(tol, min(2 * ulp, 0.25 * pixel))
        if not np.all(np.abs(got - expect) <= tol):
            off = float(np.median(got - expect))
            step = pixel * factor
            # both labelled by the same pixel corner: each block's first (or last) fine label
            # is its coarse label, (factor - 1) / 2 fine pixels off the block's centre
            corners = factor > 1 and np.any(np.abs(
                got - fine[: fine.size // factor * factor].reshape(-1, factor)[:, [0, -1]].T
            ).max(axis=1) <= tol)
            raise GridError(
                f"{what} is not on the factor-{factor} fine grid of the {coarse_what}: its "
                f"{d!r} blocks centre on {expect[0]:.6g} .. {expect[-1]:.6g}, the {coarse_what}'s "
                f"{c!r} runs {got[0]:.6g} .. {got[-1]:.6g} (off by {off:.6g}, "
                f"{off / pixel:.3g} fine or {off / step:.3g} coarse pixels), but the two are "
                f"compared block by block: pass the {coarse_what} {what} was made from (or "
                f"xlstsr.coarsen of it), on its own grid."
                + (" Each coarse label is the first or last fine label of its block: if both "
                   "label pixel corners, label both by pixel centres (as rioxarray does), "
                   "e.g. shift each by half its own pixel." if corners else "")
            )


#: the frequency's words and the power's symbol of each unit of :func:`xlstsr.scaling.pixel_size`
_LENGTH_WORDS = {"m": ("metre", "m"), "degree": ("degree", "degree"), "pixel": ("pixel", "pixel")}


#: units attributes of a dimensionless field (NDVI, emissivity): CF's '1', and '-' of some
#: products; a units attribute present but empty says the same
_DIMENSIONLESS = ("1", "-", "")


def _squared(unit: str) -> str:
    """``unit`` squared in the UDUNITS way: ``'K2'``, ``'(W m-2)2'``, ``'(unit of pixel_size)2'``."""
    return f"({unit})2" if " " in unit or "/" in unit or "*" in unit else f"{unit}2"


def radial_power_spectrum(da: xr.DataArray, pixel_size: float | None = None) -> xr.DataArray:
    """Radially averaged power spectrum along a new ``frequency`` dim (per time step).

    Linear bins of width ``1 / (n pixel_size)`` centred on ``i / (n pixel_size)``, ``i = 1 ..
    n // 2`` (``n``: the shorter side); the ``frequency`` coordinate holds the bin centres.
    ``pixel_size`` defaults to the grid's pixel as :func:`xlstsr.scaling.pixel_size` reads it
    (metres on a projected grid, its feet converted; degrees on a geographic one or lat/lon
    dims without a CRS, of latitude where the pixels are square on the ground but not in
    degrees), or 1 (cycles per pixel) without coordinates; an explicit ``pixel_size`` gives
    cycles per unit of ``pixel_size``. The pixels must be square, whatever ``pixel_size``
    (checked as :func:`xlstsr.scaling_stats` checks them): a radial average takes one pixel
    size along both axes, and on 70 x 140 m pixels a wave along y peaked at twice its
    frequency; such a grid is refused (resample it to square pixels first), a lon/lat grid
    square in degrees but not on the ground, or a projected CRS whose metres are not ground
    metres at the scene's centre (MODIS sinusoidal far from its central meridian, Web
    Mercator), warned about. The
    ``frequency`` coordinate's ``units`` name it, and the power's ``units`` are the field's
    squared (``'1'`` for a dimensionless field) times that unit squared (``'K2 m2'``). The
    estimator (Hann window, window-weighted plane removed, gaps at the plane, normalised over
    the valid pixels) is that of :func:`xlstsr.kernels.spectra.radial_power_spectrum`. A step
    without a finite value (all cloud) gets a NaN spectrum; a field without any raises
    (in memory: a dask field is not read to check, and gives a NaN spectrum).

    Examples
    --------
    >>> import xlstsr
    >>> from xlstsr.metrics import radial_power_spectrum
    >>> t = xlstsr.datasets.sample_scene(n_times=1)["lst_250m"]
    >>> radial_power_spectrum(t).sizes["frequency"]
    128
    """
    _need_dataarray("da", da)
    # the pixel as scaling_stats reads and checks it (before the rename: lat/lon-named dims
    # without a CRS are degrees): the x size was taken along both axes, a lat/lon grid without
    # a CRS labelled 'cycles per CRS unit'
    grid_size, grid_unit, of_latitude = _square_pixel(da, _SPECTRUM)
    # lat/lon dims as y/x (refused as "no spatial dimensions found in dims ('lat', 'lon')");
    # the output has none to name back
    da = da.rename(spatial_names(da))
    ydim, xdim = spatial_dims(da)
    # an explicit pixel_size is in units of its own (1 for cycles per pixel, 0.25 for km): it
    # was labelled with the CRS's unit ('cycles per metre' for pixel_size=1 on a 231 m grid)
    length = "unit of pixel_size"
    if pixel_size is not None:  # 0 gave infinite frequencies
        pixel_size = check_number("pixel_size", pixel_size, 0, lo_open=True,
                                  hint="the grid's pixel, in the CRS's units")
    if not isinstance(da.variable.data, dsa.Array) and not np.isfinite(
            np.asarray(da.values, np.float64)).any():
        raise AllNaNError("the field holds no finite value: its power spectrum is undefined; "
                          "check its fill value and mask")
    symbol = length
    if pixel_size is None:
        # read from the coordinates (after isel(x=slice(None, None, 2)) or coarsen the written
        # transform still held the old pixel: frequencies 2x, power 4x off, silently)
        pixel_size = grid_size
        length, symbol = _LENGTH_WORDS.get(grid_unit, (grid_unit, grid_unit))
        if of_latitude:
            length = "degree of latitude"
    units = f"cycles per {length}"
    shape = (da.sizes[ydim], da.sizes[xdim])
    edges = _s.linear_wavenumber_edges(shape)
    n = len(edges) - 1
    freq = 0.5 * (edges[:-1] + edges[1:]) / pixel_size

    def kernel(a: np.ndarray) -> np.ndarray:
        flat = a.reshape(-1, *a.shape[-2:])
        # an all-cloud step: NaN, as every other metric gives it (the whole cube raised)
        out = np.stack(
            [_s.radial_power_spectrum(x, edges, pixel_size=pixel_size)[1]
             if np.isfinite(x).any() else np.full(n, np.nan) for x in flat]
        ) if len(flat) else np.empty((0, n))
        return out.reshape(*a.shape[:-2], n)

    out = xr.apply_ufunc(
        kernel,
        _one_spatial_chunk(da, ydim, xdim),
        input_core_dims=[[ydim, xdim]],
        output_core_dims=[["frequency"]],
        dask="parallelized",
        output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"frequency": n}},
        keep_attrs=False,
    )
    out = out.drop_vars([c for c in out.coords if c == "spatial_ref"])
    out = out.assign_coords(frequency=("frequency", freq, {"units": units}))
    out.name = "power"
    value = da.attrs.get("units")
    if isinstance(value, str) and value.strip() in _DIMENSIONLESS:
        power = "1"  # '1' squared is 1 ('12' read as the number twelve, '-2' as minus two)
    else:
        power = _squared("K" if temperature_units(value) else str(value).strip()
                         if isinstance(value, str) and value.strip() else "(units of the field)")
    out.attrs = {"long_name": "radially averaged power spectral density",
                 "units": f"{power} {_squared(symbol)}",
                 "comment": "xlstsr.kernels.spectra: Hann window, plane removed, gaps at the plane"}
    return out
