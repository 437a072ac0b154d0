"""Sensor calibration as its own, opt-in step: a learned mapping from one sensor's LST to another's.

A super-resolved field from :func:`xlstsr.upscale` is, by default, in the calibration of its
input: MODIS LST stays MODIS LST at 250 m (with ``conserve=True`` its radiometric aggregate is the
input exactly). Another sensor measures the same ground a little differently (ASTER reads about
0.9 K warmer than MODIS on the shared pairs, with a different contrast). Matching that sensor is a
separate question from super-resolution, answered here by a small learned mapping:

``T_target = slope * T + offset (+ ndvi * NDVI)``

- :func:`fit_calibration` fits it by least squares on pairs of fields on the same grid (a
  super-resolved field and co-registered fine truth, e.g. ASTER on ``TRAIN_PAIRS``);
- :func:`apply_calibration` applies it (lazily) and writes what was done in the attributes;
  ``xlstsr.upscale(..., calibration=cal)`` is exactly ``apply_calibration(xlstsr.upscale(...), cal)``;
- a :class:`Calibration` is a few numbers: JSON (:meth:`Calibration.to_json`) or attributes.

The attribute ``xlstsr_product`` of every upscaled field says which product it is:
``"input sensor"`` (default, no mapping) or ``"calibrated to <target>"``.

Examples
--------
>>> import numpy as np, xlstsr
>>> from xlstsr.calibration import apply_calibration, fit_calibration
>>> sr = xlstsr.datasets.sample_scene(n_times=1)["lst_250m"]
>>> truth = 1.02 * sr - 5.0                  # another sensor: warmer contrast, an offset
>>> cal = fit_calibration(sr, truth, target="ASTER")
>>> round(cal.slope, 3), round(cal.offset, 2)
(1.02, -5.0)
>>> out = apply_calibration(sr, cal)
>>> float(abs(out - truth).max()) < 1e-3, out.attrs["xlstsr_product"]
(True, 'calibrated to ASTER')
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask.array as dsa
import numpy as np
import pandas as pd
import xarray as xr

from .errors import GridError, InputTypeError, ScaledIntegerError, UnitsError, XlstsrError
from .grid import same_axis
from .kernels.aggregate import block_mean, radiometric_mean

__all__ = [
    "INPUT_PRODUCT",
    "Calibration",
    "apply_calibration",
    "fit_calibration",
]

#: ``xlstsr_product`` of a field without a learned sensor mapping (the default product)
INPUT_PRODUCT = "input sensor"
#: an NDVI term is refused when its standard error exceeds this (K per NDVI unit) and the term
#: is not told from zero either (under 2 standard errors): the fitted pixels do not determine
#: it (a constant NDVI gave -77 K offset and +131 K per NDVI unit, an NDVI spread of 0.001
#: -2.8 K per unit, each applied elsewhere as if known)
MAX_NDVI_TERM_SE = 1.0


@dataclass(frozen=True)
class Calibration:
    """A learned sensor mapping ``T_target = slope * T + offset + ndvi * NDVI`` (Kelvin).

    Parameters
    ----------
    slope, offset : float
        The affine map of LST (offset in K).
    ndvi : float
        K per NDVI unit (0: the map uses LST alone).
    source, target : str
        The sensors it maps from and to (``"MODIS"`` -> ``"ASTER"``).
    fitted_on : str
        What it was fitted on (data, split, grid), for the record.
    n : int
        Number of pixels it was fitted on.
    rmse_before, rmse_after : float, optional
        RMSE (K) against the target on the fitting data without and with the map.
    method, factor, day_night : optional
        The super-resolution method (``xlstsr_method``), factor (``xlstsr_factor``) and
        overpass (``"day"``/``"night"``) of the sr fields it was fitted on, recorded by
        :func:`fit_calibration` where every field records the same one (None: not known, not
        checked). :func:`apply_calibration` refuses a field that records another: the
        mapping absorbs the method's bias at its factor, and the sensors differ by day and by
        night (a daytime mapping moved a night field by 12 K). A calibration saved without
        them (an earlier version's JSON) still loads and applies, unchecked.
    scale_correction : str, optional
        The sr fields' ``xlstsr_scale_correction`` (``"none"``, ``"auto"``, ``"0.8"``...),
        recorded and checked as ``method``: the correction moves the method's bias. A law
        mode (``"auto"``, ``"law"``, ``"law-lst"``) recorded on ``bicubic`` or ``nearest``
        fields counts as ``"none"``: the laws leave their output as it is.
    options : str or dict, optional
        The method options of the sr fields (their ``xlstsr_options``) that change its output
        (``conserve``, the model's ``weights_sha256``, ``adapt``, ``gain``...), as JSON text;
        how it runs (``device``, ``batch_size``, ``backend``, a checkpoint's file name) is
        left out. Recorded and checked as ``method``: ``disr`` with ``conserve=True`` left a
        calibration of default ``disr`` output 0.45 K off.

    Examples
    --------
    >>> from xlstsr.calibration import Calibration
    >>> cal = Calibration(slope=1.0, offset=0.9, target="ASTER")
    >>> Calibration.from_json(cal.to_json()) == cal
    True
    """

    slope: float = 1.0
    offset: float = 0.0
    ndvi: float = 0.0
    source: str = "MODIS"
    target: str = "ASTER"
    fitted_on: str = ""
    n: int = 0
    rmse_before: float | None = None
    rmse_after: float | None = None
    method: str | None = None
    factor: int | None = None
    day_night: str | None = None
    scale_correction: str | None = None
    options: str | None = None

    def __post_init__(self) -> None:
        for name in ("slope", "offset", "ndvi"):
            v = getattr(self, name)
            # a number, not text: '1.0' passed float() here and reached xarray's multiply as a
            # string (a raw UFuncTypeError); True passed as 1
            ok = (isinstance(v, (int, float, np.integer, np.floating))
                  and not isinstance(v, (bool, np.bool_)) and math.isfinite(float(v)))
            if not ok:
                raise XlstsrError(f"calibration {name} must be a finite number, got {v!r}")
            # stored as a plain float: a numpy scalar (np.nanmean of float32 fields gives a
            # np.float32) passed here and failed every use in json.dumps (to_json, the
            # attributes of apply_calibration, upscale's after the whole super-resolution)
            object.__setattr__(self, name, float(v))
        for name in ("source", "target", "fitted_on"):
            if not isinstance(getattr(self, name), str):
                raise XlstsrError(f"calibration {name} must be text (e.g. 'ASTER'), got "
                                  f"{getattr(self, name)!r}")
        if isinstance(self.n, bool) or not isinstance(self.n, (int, np.integer)) or self.n < 0:
            raise XlstsrError(f"calibration n (pixels fitted on) must be a whole number >= 0, got "
                              f"{self.n!r}")
        object.__setattr__(self, "n", int(self.n))  # mask.sum() gives a np.int64
        for name in ("rmse_before", "rmse_after"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, (bool, np.bool_)) or not isinstance(
                    v, (int, float, np.integer, np.floating))):
                raise XlstsrError(f"calibration {name} must be a number or None, got {v!r}")
            if v is not None:
                object.__setattr__(self, name, float(v))
        for name in ("method", "day_night"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, str) and v.strip()):
                raise XlstsrError(f"calibration {name} must be text (e.g. 'bicubic', 'day') or "
                                  f"None, got {v!r}")
            if name == "day_night" and v is not None:
                object.__setattr__(self, name, v.strip().lower())
        f = self.factor
        if f is not None and (isinstance(f, (bool, np.bool_)) or not isinstance(
                f, (int, np.integer)) or f < 1):
            raise XlstsrError(f"calibration factor must be a whole number >= 1 or None, got "
                              f"{f!r}")
        if f is not None:
            object.__setattr__(self, "factor", int(f))
        sc = self.scale_correction
        if sc is not None:
            if isinstance(sc, (bool, np.bool_)) or not isinstance(
                    sc, (str, int, float, np.integer, np.floating)) or not str(sc).strip():
                raise XlstsrError(f"calibration scale_correction must be text (an "
                                  f"xlstsr_scale_correction: 'none', 'auto', '0.8') or None, "
                                  f"got {sc!r}")
            object.__setattr__(self, "scale_correction", _scale_correction_text(sc))
        if self.options is not None:
            object.__setattr__(self, "options", _options_text(self.options, self.method))
        if not 0.5 <= float(self.slope) <= 2.0:
            raise XlstsrError(
                f"calibration slope {self.slope} is not a sensor mapping (expected 0.5-2): was it "
                "fitted on fields of the same place and time?"
            )

    @property
    def product(self) -> str:
        """The ``xlstsr_product`` attribute of a field this calibration was applied to."""
        return f"calibrated to {self.target}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """JSON text; :meth:`from_json` reads it back."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Calibration:
        if not isinstance(d, Mapping):
            raise XlstsrError(
                f"a calibration's JSON holds an object ({{\"slope\": ..., \"offset\": ...}}), "
                f"not a {type(d).__name__}: pass `Calibration.to_json()` text or the "
                "`xlstsr_calibration` attribute of a calibrated field"
            )
        if not any(k in d for k in ("slope", "offset", "ndvi")):
            raise XlstsrError(
                f"the calibration {dict(d)!r} holds no mapping (no slope, offset or ndvi): it "
                "would label the field calibrated without changing it; pass the fitted one "
                "(`fit_calibration(...)`)"
            )
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise XlstsrError(f"unknown calibration field(s) {unknown}; known: {sorted(known)}")
        return cls(**dict(d))

    @classmethod
    def from_json(cls, text: str) -> Calibration:
        return cls.from_dict(json.loads(text))

    @classmethod
    def parse(cls, value: Any) -> Calibration:
        """A :class:`Calibration`, its dict, its JSON text (e.g. an ``xlstsr_calibration``
        attribute) or the path of a file holding that text (a string naming an existing file,
        whatever its suffix, or ending in ``.json``; a :class:`pathlib.Path`). A binary file
        (a calibrated netCDF or GeoTIFF) gives the ``xlstsr_calibration`` attribute it holds."""
        if isinstance(value, cls):
            return value
        if isinstance(value, os.PathLike) or (
                isinstance(value, str) and value.strip()[:1] not in ("{", "")
                and (value.strip().lower().endswith(".json") or _is_file(value))):
            # a saved calibration's file (.json, .txt, .cal...): its name was parsed as JSON text
            path = Path(value.strip() if isinstance(value, str) else value).expanduser()
            if not path.is_file():
                raise XlstsrError(f"calibration file {os.fspath(value)!r} does not exist (or is "
                                  "a folder): give the JSON file written with "
                                  "`Path(f).write_text(cal.to_json())`.")
            with open(path, "rb") as fh:
                head = fh.read(4096)
            text = None
            if path.suffix.lower() not in _DATA_SUFFIXES and b"\0" not in head:
                try:
                    text = path.read_text()
                except UnicodeDecodeError:
                    text = None  # binary: read for its attribute below
            if text is None:
                # not text: a calibrated netCDF (or GeoTIFF) holds the mapping in its
                # xlstsr_calibration attribute; read as text it raised a raw UnicodeDecodeError
                text = _attribute_in_file(path, os.fspath(value))
            try:
                return cls.from_json(text)
            except json.JSONDecodeError as err:
                raise XlstsrError(
                    f"calibration file {os.fspath(value)!r} does not hold a calibration's JSON "
                    f"({err.msg} at line {err.lineno}, column {err.colno}): give the file "
                    "written with `Path(f).write_text(cal.to_json())`."
                ) from err
        if isinstance(value, str):
            try:
                return cls.from_json(value)
            except json.JSONDecodeError as err:
                raise XlstsrError(
                    f"calibration {value[:60]!r} is neither an existing file nor a calibration's "
                    "JSON text: pass the path of the file holding the JSON (written with "
                    "`Path(f).write_text(cal.to_json())`), a Calibration "
                    "(`xlstsr.calibration.fit_calibration(...)`), its dict, or its JSON "
                    "(`Calibration.to_json()`, the `xlstsr_calibration` attribute of a "
                    "calibrated field)."
                ) from err
        if isinstance(value, Mapping):
            return cls.from_dict(value)
        raise InputTypeError(f"calibration must be a Calibration, a dict or JSON text, got "
                             f"{type(value).__name__}")


#: files of fields (read for their ``xlstsr_calibration`` attribute), not a calibration's JSON
_DATA_SUFFIXES = frozenset({".nc", ".nc4", ".cdf", ".h5", ".hdf", ".tif", ".tiff"})


def _attribute_in_file(path: Path, given: str) -> str:
    """The ``xlstsr_calibration`` attribute of a binary file xarray opens (a calibrated
    netCDF, a GeoTIFF through rioxarray): the mapping of the field(s) in it. Refused when the
    file does not open, holds none, or holds differing ones."""
    advice = ("give the JSON file written with `Path(f).write_text(cal.to_json())`, or the "
              "`xlstsr_calibration` attribute of a calibrated field (`Calibration.parse("
              "out.attrs['xlstsr_calibration'])`)")
    try:
        with xr.open_dataset(path) as ds:
            found = {str(k): v.attrs["xlstsr_calibration"] for k, v in ds.data_vars.items()
                     if "xlstsr_calibration" in v.attrs}
            if "xlstsr_calibration" in ds.attrs:
                found["(global attributes)"] = ds.attrs["xlstsr_calibration"]
    except (ValueError, OSError, RuntimeError, TypeError) as err:
        raise XlstsrError(f"calibration file {given!r} is neither text (a calibration's JSON) "
                          f"nor a file xarray opens ({type(err).__name__}: {err}): "
                          f"{advice}.") from err
    texts = {str(v) for v in found.values()}
    if not texts:
        raise XlstsrError(f"calibration file {given!r} is not text (a calibration's JSON) and "
                          "holds no `xlstsr_calibration` attribute (it is not a calibrated "
                          f"field's file): {advice}.")
    if len(texts) > 1:
        raise XlstsrError(f"calibration file {given!r} holds differing `xlstsr_calibration` "
                          f"attributes (on {sorted(found)}): pass the one you mean, e.g. "
                          "`Calibration.parse(xr.open_dataset(f)[name].attrs"
                          "['xlstsr_calibration'])`.")
    return texts.pop()


def _is_file(value: str) -> bool:
    """Whether ``value`` names an existing file (JSON text too long for a path, or holding a
    NUL, is not one)."""
    try:
        return Path(value.strip()).expanduser().is_file()
    except (OSError, ValueError):
        return False


#: what a calibration records of the sr fields it was fitted on, in words
_PROVENANCE = (("method", "method (xlstsr_method)"), ("factor", "factor (xlstsr_factor)"),
               ("day_night", "overpass (day/night)"),
               ("scale_correction", "scale correction (xlstsr_scale_correction)"),
               ("options", "method options (xlstsr_options)"))

#: of a model identified by its ``weights_sha256``, besides its file's and class's names and
#: labels (methods.base's MODEL_NAMES, MODEL_LABELS): its receptive field, the model's own
_MODEL_DERIVED = frozenset({"receptive_field", "receptive_field_measured"})

#: an object's default repr (``<Kernel object at 0x7f...>``, as xlstsr_options records an
#: option JSON cannot hold): another at each run, so no identity to compare
_ADDRESS_REPR = re.compile(r"^<.* at 0x[0-9a-fA-F]+>$")


#: built-in methods without within-block detail of their own: a scale law leaves their output
#: as it is (upscale records 'none' for them; earlier versions recorded the law mode asked)
_NO_DETAIL_METHODS = frozenset({"bicubic", "nearest"})


def _compared_correction(method: str | None, correction: str | None) -> str | None:
    """A recorded scale correction as compared: a law mode recorded on bicubic or nearest
    fields counts as ``'none'`` (the same pixels: a calibration fitted on them when 'auto' was
    recorded was refused for today's 'none')."""
    from .kernels.correction import SCALE_CORRECTIONS

    if method in _NO_DETAIL_METHODS and correction in SCALE_CORRECTIONS:
        return "none"
    return correction


def _scale_correction_text(value: Any) -> str:
    """An ``xlstsr_scale_correction`` as compared: lower-case text, a gain as a float's repr
    (upscale writes ``str(1.0)``, a user may write ``"1"``)."""
    text = str(value).strip().lower()
    try:
        return repr(float(text))
    except ValueError:
        return text


def _options_text(value: Any, method: str | None = None) -> str:
    """Method options (``xlstsr_options`` JSON text, or a dict) as a calibration records them:
    canonical JSON of those that change the output. Left out, as upscale_to_zarr's resume
    fingerprint leaves them out: how it ran (methods.base's RUNTIME_OPTIONS: another batch
    size, device or backend is no other kind of field) and, of a model its ``weights_sha256``
    identifies, its file's and class's names, labels and receptive field (a user's own option
    named ``mode`` is kept); besides, for the calibration only: the seed of a built-in
    ``method`` (``random_state``: another draw of DMS's trees, not another bias; a user's
    method's seed is compared), and an object recorded by its address (another at each run)."""
    d = value
    if isinstance(value, str):
        try:
            d = json.loads(value)
        except json.JSONDecodeError as err:
            raise XlstsrError(f"calibration options must be a dict or its JSON text (an "
                              f"xlstsr_options attribute), got {value[:60]!r} ({err.msg})"
                              ) from err
    if not isinstance(d, Mapping):
        raise XlstsrError(f"calibration options must be a dict or its JSON text (an "
                          f"xlstsr_options attribute) or None, got {value!r}")
    from .methods.base import MODEL_LABELS, MODEL_NAMES, RUNTIME_OPTIONS

    hashed = "weights_sha256" in d
    from .methods.base import _BUILT_IN_NAMES

    seed = {"random_state"} if method in _BUILT_IN_NAMES else set()
    drop = ((RUNTIME_OPTIONS - MODEL_NAMES) | seed
            | (MODEL_NAMES | MODEL_LABELS | _MODEL_DERIVED if hashed else frozenset()))
    kept = {str(k): v for k, v in d.items() if str(k) not in drop
            and not (isinstance(v, str) and _ADDRESS_REPR.match(v))}
    return json.dumps(kept, sort_keys=True, default=repr)


def _options_diffs(field: str, fitted: str) -> list[str]:
    """The options (canonical JSON of both) whose values differ, in words; an option one side
    does not record counts as None there (no ``adapt`` key: no adaptation), and False as None
    (off)."""
    f, c = json.loads(field), json.loads(fitted)

    def off(v: Any) -> str:  # as JSON text: NaN equals NaN
        return json.dumps(None if v is False else v, sort_keys=True)

    return [f"{k}={f.get(k)!r} (fitted on {c.get(k)!r})" for k in sorted(set(f) | set(c))
            if off(f.get(k)) != off(c.get(k))]


def _field_provenance(a: Any) -> dict[str, Any]:
    """The super-resolution method, factor, overpass, scale correction and method options a
    field records (None where it does not): ``xlstsr_method``, ``xlstsr_factor``,
    ``xlstsr_scale_correction`` and ``xlstsr_options`` (:func:`_options_text` of it) as
    :func:`xlstsr.upscale` writes them, the
    overpass from :func:`xlstsr.steps._day_night` (its ``day_night`` attribute, layer name or
    long_name), else from ``source_long_name`` (upscale's output: its long_name is xlstsr's
    own, the input's 'MOD11A1 nighttime LST' is kept there); None for a field whose
    ``overpass`` coordinate holds both 'day' and 'night'. A law mode recorded on bicubic or
    nearest fields is ``'none'`` (:func:`_compared_correction`)."""
    from .steps import _day_night, _overpass_labels

    if not isinstance(a, xr.DataArray):
        return dict.fromkeys(k for k, _ in _PROVENANCE)
    method = a.attrs.get("xlstsr_method")
    method = method.strip() if isinstance(method, str) and method.strip() else None
    factor = a.attrs.get("xlstsr_factor")
    try:
        factor = int(factor) if factor is not None and float(factor) == int(factor) else None
    except (TypeError, ValueError, OverflowError):
        factor = None  # not a number: not recorded
    day_night, _ = _day_night(a)
    source = a.attrs.get("source_long_name")
    if len(_overpass_labels(a)[0]) > 1:
        # both overpasses along a dim or along time: mixed, whatever the name or long_name
        # (the first field's, 'LST_Day_1km') says; a fit on it records no overpass
        day_night = None
    elif day_night is None and isinstance(source, str):
        day_night, _ = _day_night(xr.DataArray(0.0, name=a.name, attrs={"long_name": source}))
    correction = a.attrs.get("xlstsr_scale_correction")
    # a gain read back from a .tif tag is a number ('0.8' as 0.8)
    correction = (_scale_correction_text(correction)
                  if (isinstance(correction, str) and correction.strip())
                  or (isinstance(correction, (int, float, np.integer, np.floating))
                      and not isinstance(correction, (bool, np.bool_)))
                  else None)
    options = a.attrs.get("xlstsr_options")
    try:
        options = _options_text(options, method) if isinstance(options, str) else None
    except XlstsrError:
        options = None  # not a JSON object: not recorded
    return {"method": method, "factor": factor, "day_night": day_night,
            "scale_correction": _compared_correction(method, correction), "options": options}


def _fitted_provenance(fields: list[Any]) -> dict[str, Any]:
    """What every sr field records alike (:func:`_field_provenance`); None where a field does
    not record it or the fields differ (a fit over several methods or both overpasses is
    checked for none of them)."""
    each = [_field_provenance(a) for a in fields]
    out = {}
    for key, _ in _PROVENANCE:
        values = {p[key] for p in each}
        out[key] = values.pop() if len(values) == 1 else None
    return out


def _check_provenance(da: xr.DataArray, cal: Calibration) -> None:
    """Refuse a field whose method, factor, overpass, scale correction or method options (those
    that change the output) are not the ones the calibration was fitted on (where both record
    them): applied silently, a mapping fitted on daytime bicubic
    x4 fields moved night LST upscaled x2 with 'nearest' by 12 K. A field holding both
    overpasses (an ``overpass`` coordinate of 'day' and 'night', along a dim or along time) is
    refused a calibration of one overpass: its other steps were mapped silently."""
    from .steps import _overpass_labels

    labels, coord = _overpass_labels(da)
    if cal.day_night is not None and len(labels) > 1:
        own = str(cal.day_night).lower()
        pick = (f"`sr.sel({coord}={own!r})`" if coord in da.dims else
                f"`sr.where(sr.{coord} == {own!r}, drop=True)`")
        raise XlstsrError(
            f"this field holds both overpasses (its '{coord}' coordinate: "
            f"{', '.join(map(repr, sorted(labels)))}), but the calibration was fitted on "
            f"{cal.day_night!r} fields only; sensors differ by day and by night, so it does not "
            f"carry over to the other steps: apply it per overpass, to the {own} steps "
            f"({pick}) and a calibration fitted on the others to them, or, if you know it "
            "carries over, apply it regardless with `apply_calibration(sr, calibration, "
            "check=False)` (for `upscale(..., calibration=)` and the command line's "
            "--calibration: upscale without it, then apply it so to the field written)."
        )
    field = _field_provenance(da)
    # a calibration fitted on bicubic or nearest fields that recorded a law mode: 'none', as
    # the field's own (_field_provenance)
    fitted = {key: getattr(cal, key) for key, _ in _PROVENANCE}
    fitted["scale_correction"] = _compared_correction(cal.method, cal.scale_correction)
    recorded = [key for key, _ in _PROVENANCE
                if fitted[key] is not None and field[key] is not None]
    differ = [key for key in recorded if key != "options"
              and str(field[key]).lower() != str(fitted[key]).lower()]
    diffs = [f"{words} {field[key]!r} (fitted on {getattr(cal, key)!r})"
             for key, words in _PROVENANCE if key in differ]
    if "options" in recorded and "method" not in differ:
        # another method's options differ anyway: named by its method alone
        changed = _options_diffs(field["options"], cal.options)
        if changed:
            diffs.append(f"method options {', '.join(changed)}")
    if diffs:
        on = f" ({cal.fitted_on!r})" if cal.fitted_on else ""
        raise XlstsrError(
            f"this field is not of the kind the calibration{on} was fitted on: its "
            f"{'; '.join(diffs)}. The mapping absorbs the method's own bias at its factor, "
            "settings and scale correction (conserve=, adapt=, other weights move it by "
            "tenths of a K), and sensors differ by day and by night, so it does not carry "
            "over: fit one on fields of this method, factor, overpass and settings "
            "(`fit_calibration(xlstsr.upscale(lst, ...), truth)`), or, if you know it "
            "carries over, apply it regardless with "
            "`apply_calibration(sr, calibration, check=False)` (for `upscale(..., "
            "calibration=)`: `apply_calibration(xlstsr.upscale(...), calibration, "
            "check=False)`; for the command line's --calibration: upscale without it, then "
            "apply it so to the field written)."
        )


def _fields(a: Any) -> list[Any]:
    return list(a) if isinstance(a, (list, tuple)) else [a]


def _require_kelvin(v: np.ndarray, role: str) -> np.ndarray:
    """Refuse a field whose valid values lie mostly outside 150-400 K: a fit or a mapping of
    Celsius (or scaled) values gives a meaningless offset of about -273 K."""
    from .validate import check_kelvin_array

    check_kelvin_array(v, role)
    return v


def _kelvin(a: Any, role: str) -> np.ndarray:
    """A field's values: a DataArray decoded to Kelvin as the inputs are (Celsius units, scale,
    fill values); the fit checks the pixels it uses with :func:`_require_kelvin`."""
    if isinstance(a, xr.DataArray):
        from .validate import decode_lst

        a = decode_lst(a, keep_out_of_range=True, check_fill=False, what=role).values
    return np.asarray(a, np.float64)


def _same_grid(i: int, x: Any, y: Any, role: str) -> Any:
    """``y`` on ``x``'s grid as pixels are paired by position: the same dims in ``x``'s order
    (a transposed DataArray is transposed back) and the same spatial coordinates (a field of
    the same shape elsewhere, or flipped, was fitted against ``x`` pixel by pixel)."""
    if not (isinstance(x, xr.DataArray) and isinstance(y, xr.DataArray)):
        return y
    if set(x.dims) == set(y.dims) and x.dims != y.dims:
        y = y.transpose(*x.dims)
    from .validate import spatial_dims

    try:
        dims = spatial_dims(x)
    except XlstsrError:
        return y
    for d in dims:
        if d in x.coords and d in y.coords and x.sizes[d] == y.sizes.get(d):
            if not same_axis(x[d].values, y[d].values):
                a, b = np.asarray(x[d].values, float), np.asarray(y[d].values, float)
                raise XlstsrError(
                    f"field {i}: {role} is not on sr's grid: its '{d}' runs from {b[0]:.6g} to "
                    f"{b[-1]:.6g}, sr's from {a[0]:.6g} to {a[-1]:.6g}, but pixels are paired by "
                    f"position; put it on sr's grid first (`{role}.rio.reproject_match(sr)`, "
                    "after co-registration for a fine truth)"
                )
    return y


def _same_steps(i: int, x: Any, y: Any, role: str) -> Any:
    """``y`` with ``x``'s steps (time...) in ``x``'s order of labels: the fit pairs pixels by
    position, so other dates (or another order) were fitted together."""
    if not (isinstance(x, xr.DataArray) and isinstance(y, xr.DataArray)):
        return y
    from .steps import pair_steps
    from .validate import spatial_dims

    try:
        spatial_dims(x), spatial_dims(y)
    except XlstsrError:
        return y  # no spatial dims: the grid check names it
    try:
        # the NDVI of a date serves its day and its night step (a truth does not)
        return pair_steps(y, x, role, "sr", var=role, overpass_free=role == "ndvi")
    except XlstsrError as err:
        raise type(err)(f"field {i}: {err}") from err


def _ndvi_words(err: XlstsrError, like_var: str) -> str:
    """A message of :func:`xlstsr.guide.match_steps` (written for a guide and upscale's
    ``guide_time_tolerance``) in the words of an NDVI matched with ``time_tolerance=``."""
    import re

    text = str(err).replace("guide_time_tolerance", "time_tolerance")
    text = re.sub(r"\ba guide\b", "an NDVI", text)
    text = re.sub(r"\bguide\b", "ndvi", text)
    return re.sub(r"\blst\b", like_var, text)


def _check_time_tolerance(time_tolerance: Any) -> None:
    """Refuse a ``time_tolerance`` that is no duration, as ``upscale`` refuses a bad
    ``guide_time_tolerance``, even where the NDVI's steps need no tolerance."""
    from .errors import GuideTimeError
    from .guide import _as_timedelta

    try:
        _as_timedelta(time_tolerance)
    except GuideTimeError as err:
        raise GuideTimeError(_ndvi_words(err, "da")) from None


def _match_ndvi_steps(ndvi: Any, like: Any, time_tolerance: Any, like_var: str) -> Any:
    """The NDVI's steps matched with ``like``'s by label within ``time_tolerance``, by the guide
    step matching of ``upscale(guide_time_tolerance=)`` (:func:`xlstsr.guide.match_steps`): each
    step of ``like`` takes the latest NDVI step at most that long before it (a 16-day composite
    labelled by its first day serves every date of its period). Without a tolerance, or
    without DataArrays on a spatial grid, ``ndvi`` is returned as it is (its steps are paired
    by equal labels after)."""
    if time_tolerance is None or not (isinstance(ndvi, xr.DataArray)
                                      and isinstance(like, xr.DataArray)):
        return ndvi
    from .errors import GuideTimeError
    from .guide import match_steps
    from .validate import spatial_dims

    try:
        ny, nx = spatial_dims(ndvi)
        ly, lx = spatial_dims(like)
    except XlstsrError:
        return ndvi
    lead = [d for d in like.dims if d not in (ly, lx)]
    try:
        for d in [c for c in ndvi.coords if c not in ndvi.dims and ndvi[c].ndim == 0
                  and (c in lead or (c in like.coords and like[c].ndim == 0
                                     and _date_like(ndvi[c])))]:
            # one composite selected (a scalar date): one step, matched within the tolerance
            # (with a one-date LST's scalar date too, not by equal labels after)
            ndvi = ndvi.expand_dims(d)
        for d in [d for d in ndvi.dims if d not in (ny, nx)]:
            if d in lead:
                # a date of a day and a night step once: its two copies were refused by
                # pair_steps as repeats; it gives each step its date's NDVI after
                index = like.indexes.get(d)
                once = (like.isel({d: ~index.duplicated()})
                        if index is not None and index.has_duplicates else like)
                ndvi = match_steps(ndvi, once, d, time_tolerance)
            elif d in like.coords and like[d].ndim == 0 and d in ndvi.coords:
                # an LST of one date (a scalar coordinate) against the NDVI's steps
                ndvi = match_steps(ndvi, like.expand_dims(d), d, time_tolerance).isel(
                    {d: 0}, drop=True)
    except GuideTimeError as err:
        raise GuideTimeError(_ndvi_words(err, like_var)) from None
    return ndvi


def _date_like(coord: Any) -> bool:
    """Whether a coordinate holds dates (numpy or cftime, or CF numbers 'days since ...'), not
    a grid mapping's number (``spatial_ref``, 0 on both sides) or a band."""
    kind = np.asarray(coord.values).dtype.kind
    return kind in "MO" or " since " in str(coord.attrs.get("units", ""))


def _require_ndvi_dates(ndvi: Any, like: Any, like_what: str, like_var: str) -> None:
    """Refuse, with advice that works, an NDVI whose date labels are not the LST's; the
    generic advice of equal labels (``ndvi.sel(time=da['time'])``) raised KeyError for it, and
    its common dates were none. Let through: the same labels, and an NDVI of nominal dates
    (00:00) with a step of every LST day (each takes its day's step, ``pair_steps``). Refused:

    - an NDVI of single dates, its days under 7 apart (median), not composites
      (:func:`_refuse_per_date`: keep the LST's steps of its days, then pair by day or by a
      tolerance);
    - composites labelled by the first day of their period that precede each LST date: MODIS
      16-day ones, advised ``time_tolerance='15D'`` (as ``upscale``'s
      ``guide_time_tolerance``) or the ``.sel(..., method='ffill')`` that selects them; 8-day
      ones ``'7D'``, dekads ``'10D'``, monthly ones ``'30D'``, the period told by the dates as
      :func:`xlstsr.guide.match_steps` tells it (:func:`xlstsr.steps.composite_period`), and
      where one is missing first to keep the LST steps a composite covers
      (:func:`_keep_covered`); the tolerance is the labels' own reach by calendar day where
      that is longer (or where the period is not told: one date);
    - dekads and months where no LST step's own period has a composite
      (:func:`_refuse_no_own_period`): no tolerance advised, which paired each with the
      previous period's composite; that one is offered by name only.

    An LST date before every NDVI step is left to the pairing's own message."""
    if not (isinstance(ndvi, xr.DataArray) and isinstance(like, xr.DataArray)):
        return
    from .steps import composite_period

    for d in [d for d in ndvi.dims if d in like.dims and d in ndvi.indexes and d in like.indexes]:
        lab, like_lab = ndvi.indexes[d], like.indexes[d]
        if not (isinstance(lab, pd.DatetimeIndex) and isinstance(like_lab, pd.DatetimeIndex)):
            continue  # other labels: the pairing's own message
        steps = like_lab  # every step, for the count of those an advice keeps
        if like_lab.has_duplicates:
            # a day and a night step on one date label (open_cog's of to_cogs' files): judged
            # by its dates, as unique labels are; each advice keeps or pairs every step of a
            # date (``isin``, a tolerance). Left to the pairing, composites were advised to
            # keep their first days' steps only (4 of 20)
            like_lab = like_lab.unique()
        missing = like_lab.difference(lab)
        if not len(missing) or lab.has_duplicates:
            continue
        days_of = lab.normalize().unique().sort_values()
        every_day = bool(like_lab.normalize().isin(days_of).all())
        # an NDVI per date, not composites, told by its own spacing: judged by the share of
        # the LST's days it has, a sparse LST on composites' first days was advised to drop
        # its other days. Composites lie 8 or 16 days apart: steps under 7 days apart (median)
        # are single dates, cloudy days dropped (a gap of 2 days was given the 16-day
        # tolerance, filling each missing day with an older day's NDVI). One step per date
        # where the LST's other days follow it within a day: "every LST day has its NDVI day"
        # called 07-01 and 07-02 composites against an LST of 07-01..07-03, advising '15D'
        gaps = days_of.to_series().diff().dropna()
        if len(gaps):
            per_date = bool(gaps.median() < pd.Timedelta("7D"))
        else:
            after = like_lab.normalize()[like_lab.normalize() != days_of[0]] - days_of[0]
            per_date = every_day or bool(len(after) and (
                (after > pd.Timedelta(0)) & (after <= pd.Timedelta("1D"))).all())
        nominal = bool((lab == lab.normalize()).all())  # dates at 00:00
        if nominal and every_day:
            # an NDVI of nominal dates (00:00) against steps at their acquisition times (10:30
            # and 22:30 of each date): each takes its day's step (pair_steps)
            continue
        ordered = lab.sort_values()
        pos = ordered.searchsorted(like_lab, side="right") - 1
        head = ", ".join(str(t)[:19] for t in lab[:3]) + (" ..." if len(lab) > 3 else "")
        if per_date:
            _refuse_per_date(d, lab, like_lab, ordered, pos, head, like_what, like_var,
                             nominal)
        if (pos < 0).any():
            continue  # an LST date before every NDVI step: no tolerance serves it
        reach = (like_lab - ordered[pos]).max()
        days = _whole_days(reach)
        # the reach counted by calendar day, as a tolerance of days matches composites at
        # 00:00 with an LST at 10:30: by instants (15 d 10.5 h -> '16D'), a missing 16-day
        # composite's first day took the one 16 days old
        by_day = _day_reach(like_lab, ordered)
        # the composites' period, told by their dates as upscale's guide-date advice tells it
        # (one rule, xlstsr.steps.composite_period: dekads crossing February, a gap of 8 days,
        # were told 8-day and '7D', which refused each dekad's last days; monthly ones 16-day)
        period = composite_period(lab)
        keep = ""
        if period is None:
            # one date, or another spacing: its period is not told; 16-day ones' '15D', or the
            # labels' reach where that is longer
            tol = "15D" if by_day <= 15 else f"{by_day}D"
            kind = "their period not told by the dates: e.g. MODIS 16-day"
        else:
            # a composite covers its first day and the `reach` after: a longer tolerance
            # filled a missing composite's days with the one before ('15D' for 8-day ones).
            # Where one is missing, keep the LST steps a composite covers instead
            cover = period.reach
            kind = "MODIS 16-day" if period.days == 16 else period.name
            if not period.fixed:
                _refuse_no_own_period(d, like_lab, steps, ordered, period, by_day, like_what)
            keep, kept = _keep_covered(d, like_lab, ordered, cover, like_var, by_day, steps,
                                       period)
            # no steps to keep (none covered, or labels matched as instants): the reach
            tol = f"{cover}D" if keep or by_day <= cover else f"{by_day}D"
        # .sel compares instants, not days: composites at 00:00 reach an LST at 10:30 of their
        # last day only with the labels' own reach (of the steps kept, where advised)
        sel_days = days if not keep else _whole_days(
            (kept - ordered[ordered.searchsorted(kept, side="right") - 1]).max())
        sel_tol = f"{max(sel_days, int(tol[:-1]))}D"
        if nominal:
            # nominal dates: an LST step of 10:30 has its date's NDVI, not "no ndvi step of
            # that date" (the labels' count said so of dates the NDVI has)
            missing = like_lab[~like_lab.normalize().isin(lab.normalize())]
        raise GridError(
            f"the ndvi's '{d}' labels differ from the {like_what}'s: {len(missing)} of the "
            f"{like_what}'s {len(like_lab)} dates have no ndvi step of that date (e.g. "
            f"{str(missing[0])[:19]}; ndvi: {head}), but each has an earlier one (at most "
            f"{days} day(s) earlier). For an NDVI of composites labelled by the first day of "
            f"their period ({kind}), {keep}pass `time_tolerance='{tol}'` (each date takes the "
            "latest NDVI step at most that long before it, as upscale's guide_time_tolerance), "
            f"or select those steps: `ndvi = ndvi.sortby('{d}').sel({d}={like_var}['{d}'], "
            f"method='ffill', tolerance='{sel_tol}').assign_coords({d}={like_var}['{d}'])`. "
            f"Otherwise give the NDVI of the {like_what}'s dates."
        )


def _refuse_no_own_period(d: Any, like_lab: pd.DatetimeIndex, steps: pd.DatetimeIndex,
                          ordered: pd.DatetimeIndex, period: Any, by_day: int,
                          like_what: str) -> None:
    """Refuse dekads or months (``period``, not fixed) where no LST step's own period has a
    composite: the tolerance advised ('10D', '30D') paired every step with the previous
    period's composite, which does not cover it, without a word. The tolerance that reaches
    it (``by_day``, :func:`_day_reach`) is offered only as that choice, named."""
    from .steps import calendar_period_key, calendar_period_names

    own = np.isin(calendar_period_key(like_lab, period), calendar_period_key(ordered, period))
    if own.any():
        return
    what = "dekad" if period.days == 10 else "month"
    raise GridError(
        f"the ndvi's '{d}' labels differ from the {like_what}'s: none of the {like_what}'s "
        f"{len(steps)} steps has an NDVI composite of its own {what} ({like_what} "
        f"{calendar_period_names(like_lab, period)}; ndvi "
        f"{calendar_period_names(ordered, period)}: {period.name} composites "
        f"labelled by their first day, each covering its own {what} only). A tolerance of "
        f"days would pair them with the previous {what}'s composite, which does not cover "
        f"them, so none is advised: give the NDVI composites of the {like_what}'s "
        f"{what}s, or, only to use the previous {what}'s composite for them knowingly (an "
        f"older NDVI than their own period's), pass `time_tolerance='{by_day}D'`."
    )


def _keep_covered(d: Any, like_lab: pd.DatetimeIndex, ordered: pd.DatetimeIndex, cover: int,
                  like_var: str, by_day: int, steps: pd.DatetimeIndex | None = None,
                  period: Any = None) -> tuple[str, pd.DatetimeIndex]:
    """The advice to keep the LST steps a composite covers (its first day and the ``cover``
    after, by calendar day) where ``by_day`` (:func:`_day_reach`) says some lie further from
    their latest composite (one missing), then pass the composites' tolerance, and the labels
    it keeps; "" where none lies further, or where no step would be left. ``steps``: the LST's
    labels with their repeats (a day and a night step of a date), counted in the advice.
    ``period``: the composites' :class:`xlstsr.steps.CompositePeriod`; dekads and months (not
    fixed) cover the steps of their own dekad / month only, judged by calendar (a reach of 10
    or 30 days paired a missing one's days with the previous composite)."""
    from .steps import calendar_keep_code, calendar_period_key

    steps = like_lab if steps is None else steps
    if period is not None and not period.fixed:
        own = calendar_period_key(ordered, period)
        has = np.isin(calendar_period_key(like_lab, period), own)
        if has.all() or not has.any():  # none: refused first (_refuse_no_own_period)
            return "", like_lab
        n_kept = int(np.isin(calendar_period_key(steps, period), own).sum())
        what = "dekad" if period.days == 10 else "month"
        return (f"keep the {n_kept} of the {len(steps)} steps whose own {what} has a "
                f"composite (a tolerance pairs the others with the previous {what}'s): "
                f"`{calendar_keep_code(period, like_var, d, 'ndvi')}`, then "), like_lab[has]
    if by_day <= cover:
        return "", like_lab
    # the expression as advised, evaluated here: a step is kept where a composite's first day
    # lies 0..cover days before its day
    first = ordered.normalize().values
    days = (first[:, None] + np.arange(cover + 1) * np.timedelta64(1, "D")).ravel()
    kept = like_lab[like_lab.normalize().isin(days)]
    if not len(kept) or _day_reach(kept, ordered) > cover:
        return "", like_lab
    n_kept = int(steps.normalize().isin(days).sum())
    return (f"keep the {n_kept} of the {len(steps)} steps a composite covers (its first "
            f"day and the {cover} after; the others' composite is missing): `{like_var} = "
            f"{like_var}.isel({d}={like_var}['{d}'].dt.floor('D').isin((ndvi['{d}'].dt.floor("
            f"'D').values[:, None] + np.arange({cover + 1}) * np.timedelta64(1, 'D')).ravel())"
            ".values)`, then "), kept


def _day_reach(like_lab: pd.DatetimeIndex, ordered: pd.DatetimeIndex) -> int:
    """The whole days from each LST label back to its latest NDVI step, counted as a tolerance
    of a day or more matches them (by calendar day where :func:`xlstsr.guide._by_day` says so,
    else as instants, rounded up)."""
    from .guide import _by_day

    how = _by_day(like_lab.values, ordered.values, np.timedelta64(1, "D"))
    keys = ordered.normalize() if how in ("guide", "both") else ordered
    lkeys = like_lab.normalize() if how in ("lst", "both") else like_lab
    at = keys.searchsorted(lkeys, side="right") - 1
    gap = (lkeys[at >= 0] - keys[at[at >= 0]]).max() if (at >= 0).any() else pd.Timedelta(0)
    return _whole_days(gap)


def _whole_days(td: pd.Timedelta) -> int:
    """``td`` in whole days, rounded up, at least 1: a tolerance of days that reaches it."""
    return max(1, math.ceil(td / pd.Timedelta("1D")))


def _refuse_per_date(d: Any, lab: pd.DatetimeIndex, like_lab: pd.DatetimeIndex,
                     ordered: pd.DatetimeIndex, pos: np.ndarray, head: str, like_what: str,
                     like_var: str, nominal: bool) -> None:
    """Refuse an NDVI of a step per date (not composites) whose labels differ from the LST's
    (another time of day, or dates missing): keep the LST's steps of the days it has, then
    pair them by day (the NDVI's labels floored to their dates), or by a tolerance where each
    day's NDVI comes at or before its LST step. A tolerance was advised where the NDVI came
    later in the day: followed, the first date was refused, and the others took the NDVI of
    the day before. ``nominal``: whether ``lab`` are all dates at 00:00."""
    has = like_lab.normalize().isin(lab.normalize())
    # the latest NDVI step at or before each LST step is of the LST's own day
    same = (pos >= 0) & (ordered[np.maximum(pos, 0)].normalize() == like_lab.normalize())
    fix = []
    if not lab.normalize().has_duplicates and not nominal:
        # one step a day at its time of day: floored to nominal dates, it pairs with the
        # LST's times of day by calendar day (as nominal dates already do)
        fix.append(f"pair them by day (`ndvi = ndvi.assign_coords({d}=ndvi['{d}']"
                   ".dt.floor('D'))`)")
    if same[has].all() and not nominal:  # nominal dates: the kept steps pair by day
        days = _whole_days((like_lab[has] - ordered[pos[has]]).max())
        fix.append(f"pass `time_tolerance='{days}D'` (each date takes the latest ndvi step at "
                   "most that long before it, here the one of its day)")
    how = " or ".join(fix)
    if has.all():
        missing = like_lab[~like_lab.isin(lab)]
        raise GridError(
            f"the ndvi's '{d}' labels differ from the {like_what}'s: {len(missing)} of the "
            f"{like_what}'s {len(like_lab)} dates have no ndvi step of that label (e.g. "
            f"{str(missing[0])[:19]}; ndvi: {head}), but each has one of its day: "
            f"{how or 'give the NDVI of the ' + like_what + ' dates'}."
        )
    then = f", then {how}" if how else ""
    gap = lab.normalize().unique().sort_values().to_series().diff().median()
    if (pos >= 0).all() and gap >= pd.Timedelta("3D"):
        # revisits a few days apart (Sentinel-2's 5), not a daily series with cloudy days
        # dropped: the latest one before each date, where the user takes it for that date's
        # (the advice to keep the steps alone dropped four of five)
        reach = _day_reach(like_lab, ordered)
        if reach < 7:
            then += (f"; or let each date take the latest ndvi step before it, at most {reach} "
                     f"day(s) older: pass `time_tolerance='{reach}D'`")
    raise GridError(
        f"the ndvi's '{d}' steps are of single dates, not composites (ndvi: {head}), and "
        f"{int((~has).sum())} of the {like_what}'s {len(like_lab)} dates have no ndvi step of "
        f"that day (e.g. {str(like_lab[~has][0])[:19]}): give the ndvi of each of the "
        f"{like_what}'s dates, or keep the {like_what}'s steps of the days it has (`{like_var} "
        f"= {like_var}.isel({d}={like_var}['{d}'].dt.floor('D').isin(ndvi['{d}']"
        f".dt.floor('D')).values)`){then}."
    )


def _single_steps_dropped(g: Any, x: Any) -> Any:
    """The NDVI ``g`` without the size-1 dims ``x`` lacks (``band=1`` of a GeoTIFF read with
    rioxarray), which the pairing of steps lets through as harmless: fitted by array position,
    its (1, y, x) did not broadcast to the sr's (y, x), and the fit refused it as "not on the
    sr grid"."""
    if not (isinstance(g, xr.DataArray) and isinstance(x, xr.DataArray)):
        return g
    from .validate import spatial_dims

    try:
        keep = set(spatial_dims(g))
    except XlstsrError:
        keep = set()
    extra = [d for d in g.dims if d not in x.dims and d not in keep and g.sizes[d] == 1]
    return g.squeeze(extra, drop=True) if extra else g


def fit_calibration(
    sr: xr.DataArray | np.ndarray | Sequence[Any],
    truth: xr.DataArray | np.ndarray | Sequence[Any],
    ndvi: xr.DataArray | np.ndarray | Sequence[Any] | None = None,
    *,
    aggregate: int | None = None,
    source: str = "MODIS",
    target: str = "ASTER",
    fitted_on: str = "",
    min_pixels: int = 100,
    time_tolerance: Any = None,
) -> Calibration:
    """Fit ``truth ~ slope * sr + offset (+ ndvi * NDVI)`` by least squares over valid pixels.

    Parameters
    ----------
    sr : DataArray, ndarray or a sequence of them
        Fields in the source sensor's calibration (super-resolved LST, K), NaN gaps.
    truth : same
        The target sensor's LST on the same grids (co-registered: misregistration adds noise
        to the fit), NaN where invalid.
    ndvi : same, optional
        NDVI on the same grids: adds the NDVI term.

        Pixels are paired by position after DataArrays are put ``(..., y, x)`` and north-up by
        their labels (:func:`xlstsr.validate.image_order`); an array (or a DataArray without
        spatial labels) given with a DataArray is in that DataArray's layout (``sr``'s where
        ``sr`` is one: its dim order and orientation) and is put as it is put
        (:func:`xlstsr.validate.in_image_order`).
    aggregate : int, optional
        Fit at a coarser scale: both LST fields radiometrically aggregated by this factor (NDVI
        block-averaged), only blocks valid throughout. Fine-scale errors of the SR field then
        weigh less on the slope (least squares shrinks the slope of a noisy predictor).
    source, target, fitted_on : str
        Recorded in the result. So are the method, factor, overpass, scale correction and
        method options the sr DataArrays record (``xlstsr_method``, ``xlstsr_factor``,
        day/night from their ``day_night`` attribute, layer name or long_name,
        ``xlstsr_scale_correction``, the options of ``xlstsr_options`` that change the output),
        where every field records the same one: :func:`apply_calibration` refuses fields of
        another.
    min_pixels : int
        Fewest valid pixels to fit on.
    time_tolerance : str, timedelta or number, optional
        How the NDVI's steps (time...) are matched with the sr's: each sr step takes the latest
        NDVI step at most this long before it (:func:`xlstsr.guide.match_steps`, as
        ``upscale``'s ``guide_time_tolerance``), e.g. ``"15D"`` for 16-day composites labelled
        by the first day of their period. Default: equal labels, or the step of the same
        calendar day where the NDVI's labels are nominal dates (00:00) and the sr's carry times
        of day (an NDVI per date lacking some of the sr's dates is refused, advising to keep the
        sr's steps of the dates it has). The truth's steps are always
        paired by label (:func:`xlstsr.steps.pair_steps`), never by this tolerance: date-only
        labels repeated for a day and a night step pair with acquisition times by calendar day
        and overpass.

    Returns
    -------
    Calibration

    Raises
    ------
    XlstsrError
        Shapes differ, the fields' time labels differ (pixels are paired by position), too few
        valid pixels, the fitted slope is not a sensor mapping, or an sr DataArray is already
        calibrated (its ``xlstsr_product`` attribute).
    GuideTimeError
        A step of the sr has no NDVI step within ``time_tolerance``, or the tolerance is not a
        duration.
    PhysicalRangeError
        A field is not in Kelvin (e.g. Celsius without units; DataArrays are decoded first).

    Examples
    --------
    >>> import numpy as np
    >>> from xlstsr.calibration import fit_calibration
    >>> rng = np.random.default_rng(0)
    >>> t = 290 + 10 * rng.random((50, 50))
    >>> cal = fit_calibration(t, 0.95 * t + 16.0)
    >>> round(cal.slope, 4), round(cal.offset, 2), cal.rmse_after < 1e-6
    (0.95, 16.0, True)
    """
    from .validate import in_image_order, spatial_names  # pixels are paired by array position

    def yx(a: Any) -> Any:
        # lat/lon dims named y/x, as correction's _aligned does: spatial_dims refuses lat/lon,
        # and the grid and date checks were skipped (a truth of another place was fitted)
        return a.rename(spatial_names(a)) if isinstance(a, xr.DataArray) else a

    # what the sr fields were (method, factor, overpass), checked where the mapping is applied
    provenance = _fitted_provenance(_fields(sr))
    fs, ts = [yx(a) for a in _fields(sr)], [yx(a) for a in _fields(truth)]
    gs = None if ndvi is None else [yx(a) for a in _fields(ndvi)]
    if len(fs) != len(ts) or (gs is not None and len(gs) != len(fs)):
        raise XlstsrError("sr, truth (and ndvi) must hold the same number of fields")
    for i in range(len(fs)):
        # each put (..., y, x) and north-up, an array given beside a DataArray sr (in its
        # layout) put as sr is: left as given, a numpy truth beside a south-up sr was fitted
        # against its mirror image (slope 0.906 for 0.95, an NDVI term +1.8 for -2)
        fs[i], ts[i], *g = in_image_order(fs[i], ts[i], *([] if gs is None else [gs[i]]))
        if gs is not None:
            gs[i] = g[0]
    if not fs:
        raise XlstsrError("no fields to fit on: pass sr and truth (DataArrays, arrays or lists)")
    for role, group in (("sr", fs), ("truth", ts), ("ndvi", gs or [])):
        for a in group:
            if not isinstance(a, (xr.DataArray, np.ndarray)):
                hint = " (pick its variable, e.g. ds['LST'])" if isinstance(a, xr.Dataset) else ""
                raise InputTypeError(f"{role} must be a DataArray, a numpy array or a list of "
                                     f"them, got {type(a).__name__}{hint}")
    for i, a in enumerate(fs):
        done = a.attrs.get("xlstsr_product") if isinstance(a, xr.DataArray) else None
        if done is not None and str(done) != INPUT_PRODUCT:
            # apply_calibration's and upscale's refusal: a mapping fitted on calibrated fields is
            # near the identity, and applied to the input sensor's LST it drops the sensor offset
            raise XlstsrError(
                f"sr field {i} is already {str(done)!r} (its xlstsr_product attribute), but a "
                f"calibration maps the input sensor's LST ({source}) to {target}: fit it on the "
                "uncalibrated SR (`xlstsr.upscale(lst, ...)` without calibration=)"
            )
    from .validate import check_whole

    min_pixels = check_whole("min_pixels", min_pixels, 2, hint="fewest valid pixels, e.g. 100")
    _check_time_tolerance(time_tolerance)
    for i, (x, y) in enumerate(zip(fs, ts)):
        ts[i] = _same_grid(i, x, _same_steps(i, x, y, "truth"), "truth")
        if gs is not None:
            try:
                g = _match_ndvi_steps(gs[i], x, time_tolerance, "sr")
                _require_ndvi_dates(g, x, "sr", "sr")
            except XlstsrError as err:
                raise type(err)(f"field {i}: {err}") from None
            g = _single_steps_dropped(_same_steps(i, x, g, "ndvi"), x)
            gs[i] = _same_grid(i, x, g, "ndvi")
    if aggregate is not None:
        aggregate = check_whole("aggregate", aggregate, 1, hint="pixels per side, or None")
    xs = [_kelvin(x, "sr") for x in fs]
    ys = [_kelvin(y, "truth") for y in ts]
    if gs is not None:
        from .validate import decode_guide

        # its declared scale and fill applied (a stored int16 NDVI was fitted as x 10000), and
        # in NDVI units: a term fitted on scaled NDVI or on -3000 fill maps an NDVI wrongly
        gs = [np.asarray(decode_guide(g).values if isinstance(g, xr.DataArray) else g,
                         np.float64) for g in gs]
        for g in gs:
            _check_ndvi_range(g, "would give an NDVI term that no NDVI can use")
    cols: list[list[np.ndarray]] = [[], [], []]
    for i, (x, y) in enumerate(zip(xs, ys)):
        try:
            g = None if gs is None else gs[i]
            while g is not None and g.ndim > x.ndim and g.shape[0] == 1:
                g = g[0]  # a numpy NDVI of shape (1, y, x) (a band) for sr (y, x)
            g = None if g is None else np.broadcast_to(g, x.shape)
        except ValueError:
            raise XlstsrError(f"field {i}: ndvi {np.shape(gs[i])} is not on the sr grid "
                              f"{x.shape}; reproject it onto the sr grid first") from None
        if x.shape != y.shape and x.shape[-2:] == y.shape[-2:] and (
                int(np.prod(x.shape[:-2])) == int(np.prod(y.shape[:-2]))):
            y = y.reshape(x.shape)  # one step with and without its dim (dates checked above)
        if x.shape != y.shape and x.shape[-2:] == y.shape[-2:]:
            raise XlstsrError(f"field {i}: sr holds {int(np.prod(x.shape[:-2]))} image(s) and "
                              f"truth {int(np.prod(y.shape[:-2]))} on the same grid: give the "
                              "truth of every sr image")
        if x.shape != y.shape:
            raise XlstsrError(f"field {i}: sr {x.shape} and truth {y.shape} are not on the same "
                              "grid; reproject the truth onto the sr grid first")
        if aggregate:
            f = int(aggregate)
            ny, nx = (x.shape[-2] // f) * f, (x.shape[-1] // f) * f
            if not ny or not nx:  # "only 0 pixels valid: check the overlap", of one grid
                raise XlstsrError(f"aggregate={f} is larger than field {i} ({x.shape[-2]} x "
                                  f"{x.shape[-1]} pixels): aggregate by fewer pixels")
            x = radiometric_mean(x[..., :ny, :nx], f)
            y = radiometric_mean(y[..., :ny, :nx], f)
            g = None if g is None else block_mean(np.ascontiguousarray(g[..., :ny, :nx]), f)
        ok = np.isfinite(x) & np.isfinite(y) & (True if g is None else np.isfinite(g))
        cols[0].append(x[ok])
        cols[1].append(y[ok])
        if g is not None:
            cols[2].append(g[ok])
    x, y = np.concatenate(cols[0]), np.concatenate(cols[1])
    if x.size < min_pixels:
        raise XlstsrError(f"only {x.size} pixels are valid in both fields (need {min_pixels}): "
                          "check that sr and truth overlap and share a grid")
    _require_kelvin(x, "sr")
    _require_kelvin(y, "truth")
    from .evaluate import check_possible_kelvin

    # clouds written as 0 on 2 % of the truth gave slope 0.91, offset 22 K without a word
    check_possible_kelvin(x, "sr", "would dominate the fit")
    check_possible_kelvin(y, "truth", "would dominate the fit")
    x0 = float(np.mean(x))  # centred: a well-conditioned fit around ~300 K
    design = [x - x0, np.ones_like(x)]
    if gs is not None:
        design.append(np.concatenate(cols[2]))
    a = np.stack(design, axis=1)
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    slope = float(coef[0])
    offset = float(coef[1] - slope * x0)
    c_ndvi = float(coef[2]) if gs is not None else 0.0
    pred = slope * x + offset + (c_ndvi * np.concatenate(cols[2]) if gs is not None else 0.0)
    if gs is not None:
        _require_ndvi_term_determined(a, y - pred, x.size, c_ndvi)
    return Calibration(
        slope=slope, offset=offset, ndvi=c_ndvi, source=source, target=target,
        fitted_on=fitted_on, n=int(x.size),
        rmse_before=float(np.sqrt(np.mean((x - y) ** 2))),
        rmse_after=float(np.sqrt(np.mean((pred - y) ** 2))),
        **provenance,
    )


def _require_ndvi_term_determined(design: np.ndarray, resid: np.ndarray, n: int,
                                  term: float) -> None:
    """Refuse an NDVI term the fitted pixels do not determine: its standard error (the
    residual spread over the NDVI's own spread once the LST explains what it can) above
    :data:`MAX_NDVI_TERM_SE` with the term under two standard errors. A fixed floor on the
    NDVI's spread refused arid or forest scenes (std 0.015 over 10 000 pixels) whose term was
    known to 0.3 K per unit; an absolute bound alone refused noisy ones with a term 5.5
    standard errors from zero."""
    g = design[:, 2]
    basis, *_ = np.linalg.lstsq(design[:, :2], g, rcond=None)
    g_part = g - design[:, :2] @ basis  # the NDVI the LST and the offset do not explain
    spread = float(np.sqrt(np.sum(g_part**2)))
    sigma = float(np.sqrt(np.sum(resid**2) / max(n - 3, 1)))
    se = sigma / spread if spread > 1e-12 * max(1.0, float(np.abs(g).max())) else np.inf
    if se > MAX_NDVI_TERM_SE and not abs(term) > 2 * se:
        raise XlstsrError(
            f"the fitted pixels do not determine an NDVI term: {term:.3g} +- {se:.3g} K per "
            f"NDVI unit (the NDVI's spread there, {float(np.std(g)):.3g}, against a residual "
            f"of {float(np.sqrt(np.mean(resid**2))):.3g} K), and applied to other NDVI it "
            "would shift the LST by an arbitrary amount. Fit without `ndvi=` (slope and offset "
            "only), or on more pairs, with more varied vegetation."
        )


def apply_calibration(
    da: xr.DataArray, calibration: Calibration | Mapping[str, Any] | str,
    ndvi: xr.DataArray | None = None,
    *,
    time_tolerance: Any = None,
    check: bool = True,
) -> xr.DataArray:
    """Map an LST field (K) to the target sensor: ``slope * da + offset (+ ndvi * NDVI)``.

    Lazy on dask input; gaps of the LST stay gaps, and every valid LST pixel is calibrated. The
    result keeps ``da``'s attributes and its encoded nodata (``rio.encoded_nodata``), with
    ``xlstsr_product = "calibrated to <target>"`` and the mapping as JSON in
    ``xlstsr_calibration``. A float field keeps its precision but comes
    back at least float32, as :func:`xlstsr.upscale` gives: float16 (0.25 K steps at 300 K)
    would lose an offset of 0.1 K.

    Where the mapping has an NDVI term and the NDVI is a gap (cloud, water, a guide's missing
    edge rows) but the LST is valid, the term is taken at the mean valid NDVI of that NDVI
    image (each step's own, when the NDVI has steps; the mean of all of it for a step with
    none): the mapping's expected value there, off by ``ndvi`` K per NDVI unit the pixel's own
    NDVI departs from that mean (0.2 K for ``ndvi = -1.2`` and a departure of 0.17). The
    slope and offset are not used alone there: they were fitted together with the NDVI term,
    and without it (NDVI 0: bare soil or water) every such pixel would move by the whole term
    (0.7 K at NDVI 0.6 for ``ndvi = -1.2``) and the field would step at the gap's edge. On
    in-memory input a warning names how many pixels that was, and an NDVI with no valid value
    at all is refused; on dask input nothing is computed to count them, and each block refuses
    such an NDVI (or one beyond [-1, 1]: scaled, percent) when it is computed.

    LST dims named lat/lon are taken as y/x and given back under their own names. The NDVI's
    steps, a scalar date (``ndvi.sel(time=t)``) included, are paired with ``da``'s by equal
    labels (by calendar day for nominal dates against times of day) unless ``time_tolerance``
    is given; a day and a night step of one date (an
    ``overpass`` coordinate along time) both take the NDVI of that date.

    Parameters
    ----------
    da : DataArray
        LST in Kelvin (e.g. the output of :func:`xlstsr.upscale`).
    calibration : Calibration, dict, JSON text or path of a .json file
        The mapping (:func:`fit_calibration`).
    ndvi : DataArray, optional
        NDVI on ``da``'s grid; required when the mapping has an NDVI term.
    time_tolerance : str, timedelta or number, optional
        How the NDVI's steps (time...) are matched with ``da``'s: each step of ``da`` takes
        the latest NDVI step at most this long before it (:func:`xlstsr.guide.match_steps`,
        as ``upscale``'s ``guide_time_tolerance``), e.g. ``"15D"`` for the 16-day composite
        NDVI that served as the guide. Default: equal labels, or the step of the same
        calendar day where the NDVI's labels are nominal dates (00:00) and ``da``'s carry times
        of day (an NDVI per date lacking some of ``da``'s dates is refused, advising to keep
        ``da``'s steps of the dates it has).
    check : bool
        Refuse a field whose super-resolution method, factor, overpass, scale correction or
        method options (its ``xlstsr_method``, ``xlstsr_factor``, day/night,
        ``xlstsr_scale_correction`` and ``xlstsr_options`` attributes; of the options those
        that change the output, not ``batch_size``, ``device`` or ``backend``) differ from
        the ones the calibration was fitted on (:attr:`Calibration.method`, ``factor``,
        ``day_night``, ``scale_correction``, ``options``; not compared where either side does
        not record it). False applies it regardless.

    Raises
    ------
    XlstsrError
        With ``check``, the field's method, factor, overpass, scale correction or method
        options are not the calibration's.
    GuideTimeError
        A step of ``da`` has no NDVI step within ``time_tolerance``, or the tolerance is not a
        duration.
    GridError
        Without a tolerance, the NDVI's dates (a scalar date too) are not ``da``'s.

    Examples
    --------
    >>> import json, xlstsr
    >>> from xlstsr.calibration import Calibration, apply_calibration
    >>> sr = xlstsr.datasets.sample_scene(n_times=1)["lst_250m"]
    >>> out = apply_calibration(sr, Calibration(offset=0.9))
    >>> round(float((out - sr).mean()), 3), json.loads(out.attrs["xlstsr_calibration"])["offset"]
    (0.9, 0.9)
    """
    if not isinstance(da, xr.DataArray):
        hint = ("pick its LST variable, e.g. `ds['LST']`" if isinstance(da, xr.Dataset)
                else "wrap it: `xr.DataArray(a, dims=('y', 'x'))`")
        raise InputTypeError(
            f"apply_calibration takes the LST as a DataArray in Kelvin, got {type(da).__name__}; "
            f"{hint}."
        )
    from .validate import _units_kind, stored_encoding

    if _units_kind(da.attrs.get("units")) == "C":
        raise UnitsError(
            "the LST is in degrees Celsius (its 'units' attribute) but a calibration maps Kelvin: "
            "convert it first (`(da + 273.15).assign_attrs(units='K')`)."
        )
    coded = stored_encoding(da)
    if coded:  # a lazy one was let through, to fail on compute blaming the calibration
        raise ScaledIntegerError(
            f"the LST holds stored values, not Kelvin ({coded}): a calibration maps "
            "temperatures. Decode it first (open the file with `mask_and_scale=True`, or "
            "`xlstsr.validate.decode_lst(da)`)."
        )
    if not isinstance(da.variable.data, dsa.Array):  # a lazy field is not computed here
        _require_kelvin(np.asarray(da.values, np.float64), "LST")
    from .validate import spatial_names

    # lat/lon dims (upscale's output for a lat/lon input) named y/x here, as correction's
    # _aligned does: spatial_dims refuses lat/lon, and every NDVI grid and date check was
    # skipped (a cropped field, an outer product with a y/x NDVI); the user's names come back
    given = da
    names = spatial_names(da)
    da = da.rename(names)
    if isinstance(ndvi, xr.DataArray):
        ndvi = ndvi.rename(spatial_names(ndvi))
    cal = Calibration.parse(calibration)
    _check_time_tolerance(time_tolerance)
    if str(da.attrs.get("xlstsr_product", INPUT_PRODUCT)) != INPUT_PRODUCT:
        raise XlstsrError(
            f"this field is already {da.attrs['xlstsr_product']!r}: a calibration maps the input "
            "sensor's LST, apply it once"
        )
    if not isinstance(check, (bool, np.bool_)):
        raise InputTypeError(f"check must be True or False, got {check!r}")
    if check:
        _check_provenance(given, cal)
    # a float field keeps its precision, but at least float32 as upscale gives: float16 holds
    # 0.25 K steps at 300 K, so an offset of 0.1 K would vanish (and 0.9 K become 1 K)
    dtype = (np.promote_types(da.dtype, np.float32) if np.issubdtype(da.dtype, np.floating)
             else None)
    out = (da if dtype is None else da.astype(dtype, copy=False)) * cal.slope + cal.offset
    if cal.ndvi:
        if ndvi is None:
            raise XlstsrError("this calibration has an NDVI term: pass `ndvi=` on the LST's grid")
        out = out + cal.ndvi * _fill_ndvi_gaps(_ndvi_on_grid(ndvi, da, time_tolerance), da, cal)
    out = _check_calibrated(out, cal)
    out = out if dtype is None else out.astype(dtype, copy=False)
    # da's scalar coordinates (a one-date LST's time), which a differing NDVI one dropped
    out = out.assign_coords({c: da[c] for c in da.coords
                             if da[c].ndim == 0 and c not in out.coords})
    out = out.rename({v: k for k, v in names.items()})
    da = given
    out.name = da.name
    out.attrs = {**da.attrs, "xlstsr_product": cal.product, "xlstsr_calibration": cal.to_json()}
    gm = da.encoding.get("grid_mapping")
    if gm is not None and gm in out.coords:
        # rioxarray finds a grid mapping of another name than spatial_ref ('crs' in many
        # NetCDF files) through the encoding, which the arithmetic dropped: the CRS went with it
        out.encoding["grid_mapping"] = gm
    fill = da.rio.encoded_nodata
    if fill is not None:
        # upscale declares its NaN gaps so (as an encoding), which the arithmetic dropped: the
        # GeoTIFF had no nodata tag. On out's own encoding dict, never the input's
        out.encoding = dict(out.encoding)
        out.rio.write_nodata(fill, encoded=True, inplace=True)
    if "history" in da.attrs:
        out.attrs["history"] = (f"{da.attrs['history']}\nxlstsr: apply_calibration("
                                f"{cal.source} -> {cal.target}, slope={cal.slope:.6g}, "
                                f"offset={cal.offset:.6g}, ndvi={cal.ndvi:.6g})")
    return out


def _check_calibrated(out: xr.DataArray, cal: Calibration) -> xr.DataArray:
    """Refuse a calibrated field no surface takes (outside 150-400 K widened by the output
    margin): an offset of 273.15 (566-589 K "calibrated to ASTER"), a slope of 0.5, or a lazy
    input in Celsius or digital numbers went through unchecked. On dask each block checks itself
    when computed."""
    from .errors import ImplausibleOutputError
    from .validate import OUTPUT_MARGIN_K, PHYSICAL_RANGE_K

    lo, hi = PHYSICAL_RANGE_K[0] - OUTPUT_MARGIN_K, PHYSICAL_RANGE_K[1] + OUTPUT_MARGIN_K

    def check(block: np.ndarray) -> np.ndarray:
        v = np.asarray(block)
        v = v[np.isfinite(v)]
        if v.size and (float(v.min()) < lo or float(v.max()) > hi):
            raise ImplausibleOutputError(
                f"the calibrated LST reaches {float(v.min()):.6g} to {float(v.max()):.6g} K, "
                f"which no surface takes: the calibration (slope={cal.slope:.6g}, "
                f"offset={cal.offset:.6g}, ndvi={cal.ndvi:.6g}) maps Kelvin to Kelvin near "
                "slope 1 and offset 0 (an offset of 273.15 converts Celsius, which this input is "
                "not), or the LST is not in Kelvin (Celsius or digital numbers: decode it "
                "first), or the NDVI is scaled (x 10000). Check the calibration's source and "
                "the inputs."
            )
        return block

    if isinstance(out.variable.data, dsa.Array):
        return out.copy(data=out.variable.data.map_blocks(check, dtype=out.dtype))
    check(out.values)
    return out


def _ndvi_on_grid(ndvi: Any, da: xr.DataArray, time_tolerance: Any = None) -> Any:
    """The NDVI term's field, decoded (a DataArray's declared scale and fill, as the fit decodes
    it) and checked: on ``da``'s grid (xarray's arithmetic kept only the
    overlap of another grid: a cropped or empty result), its steps matched with ``da``'s
    (within ``time_tolerance``: :func:`_match_ndvi_steps`) and in NDVI units (x 10000 gave
    -18000 K; on dask each block when computed); a numpy array must have ``da``'s spatial
    shape and leading dims that broadcast to ``da``'s (returned as float64)."""
    from .validate import decode_guide, spatial_dims

    if isinstance(ndvi, xr.DataArray):
        # decoded as fit_calibration decodes it: a declared fill (rioxarray's nodata -1) was
        # used as NDVI -1 (5.8 K off), an int16 NDVI with its scale_factor refused as x 10000
        ndvi = decode_guide(ndvi)
        try:
            ny, nx = spatial_dims(ndvi)
            ly, lx = spatial_dims(da)
        except XlstsrError:
            ny = nx = ly = lx = None
        if ly is not None:
            same = ndvi.sizes[ny] == da.sizes[ly] and ndvi.sizes[nx] == da.sizes[lx]
            if same and all(d in ndvi.coords and e in da.coords for d, e in ((ny, ly), (nx, lx))):
                for d, e in ((ny, ly), (nx, lx)):
                    if same and not same_axis(da[e].values, ndvi[d].values):
                        # the same grid stored the other way (south-up), which fit_calibration
                        # takes: put in da's order (the labels are da's below)
                        same = same_axis(da[e].values, ndvi[d].values[::-1])
                        if same:
                            ndvi = ndvi.isel({d: slice(None, None, -1)})
            if not same:
                raise XlstsrError(
                    f"ndvi ({ndvi.sizes[ny]} x {ndvi.sizes[nx]}) is not on the LST's grid "
                    f"({da.sizes[ly]} x {da.sizes[lx]}): the sum would keep only their overlap; "
                    "reproject it first (`ndvi.rio.reproject_match(da)`)"
                )
            # da's labels exactly: xarray's sum joins on labels, and coordinates equal to
            # round-off (1e-9 m) kept 50 x 37 of 64 x 64 pixels
            ndvi = ndvi.rename({ny: ly, nx: lx}) if (ny, nx) != (ly, lx) else ndvi
            ndvi = ndvi.assign_coords({d: da[d].values for d in (ly, lx) if d in da.coords})
            ndvi = _match_ndvi_steps(ndvi, da, time_tolerance, "da")
            _require_ndvi_dates(ndvi, da, "LST", "da")
            scalars = [c for c in ndvi.coords if c not in ndvi.dims and ndvi[c].ndim == 0]
            if scalars or any(d not in (ly, lx) for d in ndvi.dims):
                from .steps import pair_steps  # a date the NDVI lacks was dropped (inner join)

                # every non-spatial dim: one the LST lacks (a 'date') crossed every LST date
                # with every NDVI date in the output; a 'band' of 1 was added to it. A scalar
                # date (`ndvi.sel(time=t)`) is paired by equal labels too: one of another date
                # was applied to every LST date
                try:
                    ndvi = pair_steps(ndvi, da, "ndvi", "LST", var="ndvi", like_var="da",
                                      overpass_free=True)
                except GridError as err:
                    hint = "" if time_tolerance is not None else _composite_hint(ndvi, da)
                    if not hint:
                        raise
                    raise GridError(f"{err} {hint}") from None
                ndvi = ndvi.squeeze([d for d in ndvi.dims if d not in da.dims], drop=True)
            # the LST's labels are the result's: a scalar NDVI date dated another way (00:00
            # against the overpass) dropped a one-date LST's time coordinate in the sum
            ndvi = ndvi.drop_vars([c for c in ndvi.coords if c not in ndvi.dims
                                   and ndvi[c].ndim == 0 and (c in da.coords or c in da.dims)])
        values = None if isinstance(ndvi.variable.data, dsa.Array) else np.asarray(ndvi.values)
        if values is None:
            # each block checks itself when computed: a lazy NDVI in percent moved the LST by
            # -69 K where the same NDVI in memory was refused
            # by the in-memory rule on the whole array (its share beyond [-1, 1] reduced
            # lazily): judged per block, a few bright pixels in one chunk were refused, and
            # a -3000 fill spread thin passed every block
            data = ndvi.variable.data
            finite = dsa.isfinite(data)
            share = ((abs(data) > 1.05) & finite).sum() / dsa.maximum(finite.sum(), 1)
            lo, hi = dsa.nanmin(data), dsa.nanmax(data)

            def check(block: np.ndarray, share: Any, lo: Any, hi: Any) -> np.ndarray:
                if float(share) > NDVI_BEYOND_SHARE:
                    raise XlstsrError(_ndvi_range_message(float(lo), float(hi),
                                                          "would add thousands of kelvin"))
                return block

            ndvi = ndvi.copy(data=dsa.map_blocks(check, data, share, lo, hi,
                                                 dtype=ndvi.dtype))
    else:
        values = np.asarray(ndvi, np.float64)
        if values.shape[-2:] != da.shape[-2:]:
            raise XlstsrError(f"ndvi {values.shape} is not on the LST's grid {da.shape}; reproject "
                              "it onto the LST's grid first")
        while values.ndim > da.ndim and values.shape[0] == 1:
            values = values[0]  # a band of 1 (1, y, x) for an LST (y, x), as fit_calibration
        ndvi = values
        try:
            fits = np.broadcast_shapes(values.shape, da.shape) == da.shape
        except ValueError:
            fits = False
        if not fits:  # else numpy's bare broadcast error (on dask at compute)
            raise XlstsrError(
                f"ndvi {values.shape} holds {int(np.prod(values.shape[:-2]))} image(s) for the "
                f"LST's {int(np.prod(da.shape[:-2]))} {da.shape}: a numpy NDVI is paired with "
                "the LST by array position, so give one NDVI image per LST image (or one for "
                "all), or the NDVI as a DataArray with the LST's time labels (paired by label, "
                "`time_tolerance=` for composites)"
            )
    if values is not None:
        _check_ndvi_range(values, "would add thousands of kelvin")
    return ndvi


def _fill_ndvi_gaps(ndvi: Any, da: xr.DataArray, cal: Calibration) -> Any:
    """The NDVI term's field (from :func:`_ndvi_on_grid`) with its gaps at its image's mean
    valid NDVI (over the spatial dims: each step's own; the mean of all of it where a step has
    none), as :func:`apply_calibration` documents. Left as gaps, every NDVI gap became an LST
    gap without a word: a cloud over the NDVI cost 24 % of a valid LST scene, a pair's own
    aligned NDVI (NaN on its edge rows) 1021 pixels. In memory, a warning counts the valid LST
    pixels filled; an NDVI without any valid value is refused (on dask, by each block where
    the LST is valid, when computed; a numpy NDVI with a dask LST at once)."""
    from .errors import warn
    from .validate import spatial_dims

    if isinstance(ndvi, xr.DataArray):
        try:
            dims = list(spatial_dims(ndvi))
        except XlstsrError:
            dims = list(ndvi.dims[-2:])
        gaps = ndvi.isnull()
        filled = ndvi.fillna(ndvi.mean(dims, skipna=True)).fillna(ndvi.mean(skipna=True))
        if isinstance(ndvi.variable.data, dsa.Array) or isinstance(da.variable.data, dsa.Array):
            # nothing computed to count the gaps (the docstring says what those pixels get),
            # but each block refuses, when computed, a filled NDVI still NaN (none valid in
            # all of it) where the LST is valid: else the calibrated field came back empty
            def check(f: np.ndarray, lst: np.ndarray) -> np.ndarray:
                bad = np.isnan(f) & np.isfinite(lst)
                if bad.any():
                    raise XlstsrError(_no_ndvi_message(None))
                return f

            return xr.apply_ufunc(check, filled, da, dask="parallelized",
                                  output_dtypes=[filled.dtype])
        lost = gaps & da.notnull()
        values = np.asarray(ndvi.values, np.float64)
    else:
        values = np.asarray(ndvi, np.float64)
        gaps_np = np.isnan(values)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a step without NDVI: overall mean
            filled = np.where(gaps_np, np.nanmean(values, axis=(-2, -1), keepdims=True), values)
            filled = np.where(np.isnan(filled), np.nanmean(values), filled)
        if isinstance(da.variable.data, dsa.Array):
            if not np.isfinite(values).any():  # in memory: checked at once, the LST is lazy
                raise XlstsrError(_no_ndvi_message(None))
            return filled
        lost = np.broadcast_to(gaps_np, np.broadcast_shapes(gaps_np.shape, da.shape)) & (
            np.isfinite(np.asarray(da.values, np.float64)))
    n = int(lost.sum())
    if n and not np.isfinite(values).any():
        raise XlstsrError(_no_ndvi_message(n))
    if n:
        valid = int(np.isfinite(np.asarray(da.values, np.float64)).sum())
        steps = int(np.prod(values.shape[:-2]))
        warn(
            f"apply_calibration: the NDVI is a gap on {n} pixel(s) where the LST is valid "
            f"({100 * n / valid:.1f} % of them: cloud, water or the NDVI's edge); they are "
            "calibrated with the NDVI term at the mean valid NDVI of their image "
            f"({float(np.nanmean(values)):.3f}{' on average' if steps > 1 else ''}) instead of "
            "being dropped, off by "
            f"{abs(cal.ndvi):.3g} K per NDVI unit their own NDVI departs from it. Pass an NDVI "
            "without gaps (e.g. filled from another date) to calibrate them exactly.",
            UserWarning,
        )
    return filled


def _no_ndvi_message(n: int | None) -> str:
    """The refusal of an NDVI without any valid value, with the count of valid LST pixels it
    leaves without the NDVI term when known (in memory)."""
    pixels = "valid LST pixels" if n is None else f"{n} valid LST pixels"
    return ("the NDVI holds no valid value, so this calibration's NDVI term cannot be applied "
            f"to any of the {pixels}: pass the NDVI of this scene on the LST's grid, or fit a "
            "calibration without the NDVI term (`fit_calibration(sr, truth)`).")


#: the share of an NDVI's valid values beyond +-1.05 above which it is refused
NDVI_BEYOND_SHARE = 0.01


def _check_ndvi_range(values: Any, use: str) -> None:
    """Refuse an NDVI with more than :data:`NDVI_BEYOND_SHARE` (1 %) of its valid values beyond
    +-1.05: scaled digital numbers (x 10000), percent, 0-255 bytes or an undeclared fill
    (-3000): the NDVI term of a fit on them does not apply to an NDVI (and the other way
    round)."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    if v.size and np.mean(np.abs(v) > 1.05) > NDVI_BEYOND_SHARE:
        raise XlstsrError(_ndvi_range_message(float(v.min()), float(v.max()), use))


def _ndvi_range_message(lo: float, hi: float, use: str) -> str:
    return (
        f"ndvi values reach {max(abs(lo), abs(hi)):.4g} (from {lo:.4g} to {hi:.4g}), but "
        "NDVI lies in [-1, 1]: scaled NDVI "
        "(MODIS digital numbers take scale_factor 0.0001; percent: divide by 100), or an "
        f"undeclared fill value (MOD13's -3000: `ndvi.where(ndvi != -3000)`), {use}; "
        "decode it first"
    )


def _composite_hint(ndvi: xr.DataArray, da: xr.DataArray) -> str:
    """For an NDVI of one date (a scalar coordinate) up to 16 days before every LST date (a
    composite labelled by its period's first day), the tolerance that pairs it; else ''
    (advised for any refusal, a later or a year-old NDVI was refused again when followed)."""
    for c in [c for c in ndvi.coords if ndvi[c].ndim == 0 and c in da.coords]:
        t, lt = np.asarray(ndvi[c].values), np.atleast_1d(np.asarray(da[c].values))
        if t.dtype.kind != "M" or lt.dtype.kind != "M":
            continue
        days = (lt - t) / np.timedelta64(1, "D")
        if days.size and np.all(days >= 0) and float(days.max()) <= 16:
            return ("An NDVI composite dated by the first day of its period is paired within "
                    "a tolerance: pass `time_tolerance='16D'` (the composite's period).")
    return ""
