"""Session 48 fixes (probe 48 R2 findings 2, 3, 5, 6, 8, 9; probe 48 Q finding 4): the
irregular-grid interp advice masks a declared fill and names the argument's own variable; a
cube step stored wholly as 0 (degC x 100) or at a uint16 fill (x 0.02 K) is named as a
missing date with its own advice, not a units change; labelled swapped guide bands get order
code for the guide's form; cftime dekad/monthly composites are told; the guide-offset warning
gives the offset with its own sign."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import xlstsr
from xlstsr.errors import (
    GridError,
    GuideScaleError,
    GuideTimeError,
    PhysicalRangeError,
    UndeclaredFillError,
)
from xlstsr.guide import band_reorder_code, check_guide_labels
from xlstsr.steps import composite_period


def _codes(msg: str, word: str) -> list[str]:
    return [c for c in re.findall(r"`([^`]+)`", msg) if word in c]


# -- R2/2 and R2/9: the irregular-grid advice -------------------------------------------------

def _irregular(raw: np.ndarray, attrs: dict) -> xr.DataArray:
    rng = np.random.default_rng(1)
    n = raw.shape[0]
    y = 1e5 - np.cumsum(rng.uniform(700, 1300, n))
    x = 1000 * (np.arange(raw.shape[1]) + 0.5)
    return xr.DataArray(raw, dims=("y", "x"), coords={"y": y, "x": x},
                        attrs=attrs).rio.write_crs("EPSG:32631")


def _t(n: int = 24) -> np.ndarray:
    return 300 + 3 * np.random.default_rng(1).standard_normal((n, n))


def test_interp_advice_masks_a_declared_fill_before_interpolating():
    t = _t()
    raw = np.round(t / 0.02).astype("uint16")
    raw[8:14, 8:14] = 0  # a cloud gap, its fill declared
    da = _irregular(raw, {"scale_factor": 0.02, "_FillValue": 0, "units": "K"})
    with pytest.raises(GridError) as err:
        xlstsr.upscale(da, 2, "bicubic")
    code = _codes(str(err.value), "interp")[0]
    assert code.startswith("da = da.where(da != 0).interp(")
    ns = {"da": da, "np": np}
    exec(code, ns)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fill left to warn of or refuse
        out = xlstsr.upscale(ns["da"], 2, "bicubic")
    dec = xlstsr.validate.decode_lst(ns["da"])
    # no fill mixed into the values: nothing colder than the field (was 112-212 K)
    assert float(dec.min()) >= t.min() - 0.05
    assert float(out.min()) > 280.0


def test_interp_advice_on_undeclared_integers_is_nearest():
    raw = np.round(_t() / 0.02).astype("uint16")
    raw[8:14, 8:14] = 0  # a fill nobody declared
    da = _irregular(raw, {"scale_factor": 0.02, "units": "K"})
    with pytest.raises(GridError) as err:
        xlstsr.upscale(da, 2, "bicubic")
    code = _codes(str(err.value), "interp")[0]
    assert "method='nearest'" in code
    ns = {"da": da, "np": np}
    exec(code, ns)
    # every value one of the stored ones: the 0s not mixed into their neighbours
    assert np.isin(ns["da"].values, raw).all()
    with pytest.raises(UndeclaredFillError):  # the fill then named, as on a regular grid
        xlstsr.upscale(ns["da"], 2, "bicubic")


@pytest.mark.parametrize("what", ["guide", "reference"])
def test_irregular_advice_names_the_arguments_variable(what):
    da = _irregular(_t(), {"units": "K"})
    with pytest.raises(GridError) as err:
        xlstsr.validate.georeference(da, what)
    code = _codes(str(err.value), "interp")[0]
    assert code.startswith(f"{what} = {what}.interp("), code
    ns = {what: da, "np": np}
    exec(code, ns)
    xlstsr.validate.georeference(ns[what], what)  # regular now


# -- R2/3 and R2/5: a cube step stored wholly as a fill ----------------------------------------

def _cube(dtype: str, scale: float, units: str, fill: int) -> xr.DataArray:
    rng = np.random.default_rng(2)
    t = 300 + rng.normal(0, 2, (4, 20, 20))
    k = t - 273.15 if units == "degC" else t
    raw = np.round(k / scale).astype(dtype)
    raw[2] = fill
    return xr.DataArray(
        raw, dims=("time", "y", "x"),
        coords={"time": pd.date_range("2020-07-01", periods=4),
                "y": 1e5 - 1000 * (np.arange(20) + 0.5), "x": 1000 * (np.arange(20) + 0.5)},
        attrs={"scale_factor": scale, "units": units}).rio.write_crs("EPSG:32631")


@pytest.mark.parametrize("dtype", ["uint16", "int16"])
def test_degc_step_all_zero_is_a_fill(dtype):
    da = _cube(dtype, 0.01, "degC", 0)
    with pytest.raises(UndeclaredFillError) as err:
        xlstsr.upscale(da, 2, "bicubic")  # was a uniform 273.15 K image, upscaled
    msg = str(err.value)
    assert "time='2020-07-03" in msg and "0 as stored" in msg
    code = _codes(msg, "drop_sel")[0]
    ns = {"da": da}
    exec(code, ns)
    assert xlstsr.upscale(ns["da"], 2, "bicubic").sizes["time"] == 3
    declared = da.copy()
    exec(_codes(msg, "_FillValue")[0], {"da": declared})
    out = xlstsr.upscale(declared, 2, "bicubic")
    assert bool(out.isel(time=2).isnull().all()) and bool(out.isel(time=0).notnull().all())


@pytest.mark.parametrize("fill", [0, 65535])
def test_uint16_step_at_a_fill_gets_step_advice_not_units(fill):
    da = _cube("uint16", 0.02, "K", fill)
    with pytest.raises(PhysicalRangeError) as err:
        xlstsr.upscale(da, 2, "bicubic")
    msg = str(err.value)
    assert "time='2020-07-03" in msg and f"{fill} as stored" in msg
    assert "degC" not in msg and "units'] =" not in msg and "look scaled" not in msg
    for word in ("drop_sel", "_FillValue"):
        ns = {"da": da.copy()}
        exec(_codes(msg, word)[0], ns)
        out = xlstsr.upscale(ns["da"], 2, "bicubic")
        assert float(out.isel(time=0).mean()) == pytest.approx(300, abs=1)


def test_evaluate_step_advice_names_reference():
    reference = _cube("uint16", 0.02, "K", 0)
    sr = xlstsr.validate.decode_lst(reference.isel(time=[0, 1, 3])).reindex(
        time=reference.time).fillna(300.0)
    with pytest.raises(PhysicalRangeError) as err:
        xlstsr.evaluate(sr, reference)
    msg = str(err.value)
    assert "da." not in msg and "degC" not in msg
    ns = {"reference": reference, "sr": sr}
    exec(_codes(msg, "drop_sel")[0], ns)
    res = xlstsr.evaluate(ns["sr"], ns["reference"])
    assert res.sizes["time"] == 3


# -- R2/6: labelled swapped bands --------------------------------------------------------------

def _band(v: float, name: str) -> xr.DataArray:
    return xr.DataArray(np.full((4, 4), v), dims=("y", "x"), name=name)


@pytest.mark.parametrize("form", ["list", "channel", "dict"])
def test_labelled_swapped_bands_get_code_for_the_guides_form(form):
    red, ndvi = _band(0.1, "red"), _band(0.6, "ndvi")
    if form == "list":
        guide = [red, ndvi]
    elif form == "channel":
        guide = xr.concat([red, ndvi], "channel").assign_coords(channel=["red", "ndvi"])
    else:
        guide = {"red": red, "ndvi": ndvi}
    with pytest.raises(GuideScaleError) as err:
        check_guide_labels(["red", "ndvi"], ["ndvi", "red"], "disr",
                           reorder=band_reorder_code(guide, ("time",)))
    code = _codes(str(err.value), "guide =")[0]
    assert "sel(band" not in code
    ns = {"guide": guide}
    exec(code, ns)
    got = ns["guide"]
    first = (got[0] if form == "list" else got.isel(channel=0) if form == "channel"
             else got["ndvi"])
    assert float(first.mean()) == 0.6  # the model's channel 0, ndvi
    assert (list(got) == ["ndvi", "red"]) if form == "dict" else True


def test_labelled_swapped_bands_without_form_give_each_forms_code():
    with pytest.raises(GuideScaleError) as err:
        check_guide_labels(["red", "ndvi"], ["ndvi", "red"], "disr")
    msg = str(err.value)
    assert "guide.sel(band=[...])" not in msg
    code = _codes(msg, "guide[i]")[0]
    ns = {"guide": [_band(0.1, "red"), _band(0.6, "ndvi")]}
    exec(code, ns)
    assert float(ns["guide"][0].mean()) == 0.6


# -- R2/8: cftime dekad / monthly composites ---------------------------------------------------

def test_composite_period_reads_cftime_calendars():
    import cftime

    months = [cftime.DatetimeNoLeap(2021, m, 1) for m in (1, 2, 3)]
    assert composite_period(np.array(months, dtype=object)).name == "monthly"
    dekads = [cftime.Datetime360Day(2021, 2, d) for d in (11, 21)] + [
        cftime.Datetime360Day(2021, 3, 1)]
    assert composite_period(np.array(dekads, dtype=object)).days == 10
    eight = [cftime.DatetimeNoLeap(2021, 2, 26), cftime.DatetimeNoLeap(2021, 3, 6)]
    assert composite_period(np.array(eight, dtype=object)).name == "8-day"


def test_cftime_monthly_guide_gets_the_own_period_advice():
    from test_guide_advice47 import _composites, _lst

    lst = _lst(pd.to_datetime(["2021-03-02T10:30", "2021-03-05T10:30"])).convert_calendar(
        "noleap", use_cftime=True)
    guide = _composites(["2021-01-01", "2021-02-01"]).convert_calendar("noleap", use_cftime=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(GuideTimeError) as err:
            lst.lstsr.upscale(4, method="tsharp", guide=guide)
    msg = str(err.value)
    assert "own month" in msg and "'7D'" not in msg, msg


# -- Q4: the guide-offset warning's sign -------------------------------------------------------

def test_guide_offset_warning_gives_the_offset_with_its_sign():
    from test_coregister import Waves, _coarse_lst, _fine_same_crs

    from xlstsr.errors import GuideAlignmentWarning

    waves = Waves(7)
    lst = _coarse_lst(waves, sigma=350.0)
    ndvi = _fine_same_crs(waves, (0.0, 0.0), guide=True)
    # coordinates moved 200 m east and 100 m south of its content
    moved = ndvi.assign_coords(x=ndvi.x + 200.0, y=ndvi.y - 100.0)
    moved = moved.rio.write_transform(moved.rio.transform(recalc=True))
    for mode in ("check", "auto"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            xlstsr.upscale(lst, 4, "tsharp", guide=moved, guide_offset=mode)
        msg = next(str(w.message) for w in caught if issubclass(w.category, GuideAlignmentWarning)
                   and "offset from the LST by" in str(w.message))
        ox, oy = map(float, re.search(r"offset from the LST by \(([-+\d.e]+), ([-+\d.e]+)\)",
                                      msg).groups())
        assert ox == pytest.approx(200, abs=50) and oy == pytest.approx(-100, abs=50), msg
        bx, by = map(float, re.search(r"by \(([-+\d.e]+), ([-+\d.e]+)\) m (puts|\(guide)",
                                      msg).groups()[:2])
        assert (bx, by) == (-ox, -oy), msg
