"""Step matching findings of review 32 (c, d): CF numbers of other epochs whose dates are the
LST's given back with the guide's numbers, an LST at a time of day against composites at
10:30 refused on a period's first day (and the advised tolerance took the previous composite),
the guide's offset measured on the step of the same raw number, pair_steps' advice for CF
numbers against dates, calendar advice that failed on number labels, a false message for one
undecodable axis, a tz-aware truth in the metrics, cftime dates of the standard calendar not
one day with numpy's, and a sub-day tolerance's advice a day longer than needed."""

from __future__ import annotations

import importlib
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import xlstsr
from xlstsr import errors
from xlstsr.guide import match_steps, measure_offset
from xlstsr.steps import check_scalar_steps, pair_steps, same_overpass


def _series(values, labels, units=None, calendar=None):
    da = xr.DataArray(np.asarray(values, dtype=float), dims="time", coords={"time": labels})
    if units:
        da["time"].attrs["units"] = units
    if calendar:
        da["time"].attrs["calendar"] = calendar
    return da


def _advice(message, var):
    """The runnable advice lines (`var = ...`) of a message."""
    return re.findall(rf"`({var} = [^`]+)`", message)


# -- 02: CF numbers of other epochs, the same dates ------------------------------------------


def test_match_steps_same_dates_in_other_cf_units_take_the_lsts_labels():
    lst = _series([0, 0, 0], [0, 1, 2], "days since 2020-07-01")
    guide = _series([10, 11, 12], [1, 2, 3], "days since 2020-06-30")  # 07-01 .. 07-03 too
    for tol in ("15D", None):
        out = match_steps(guide, lst, "time", tol)
        assert out["time"].values.tolist() == lst["time"].values.tolist()
        assert out["time"].attrs["units"] == lst["time"].attrs["units"]
        assert out.values.tolist() == guide.values.tolist()
        assert (lst + out).sizes["time"] == lst.sizes["time"]  # aligned on every step


# -- 06: timed LST against composites labelled at 10:30 ---------------------------------------


def test_timed_lst_on_a_periods_first_day_takes_its_own_composite():
    starts = pd.date_range("2020-01-01", periods=5, freq="16D")
    guide = _series(np.arange(5), starts + pd.Timedelta("10h30min"))  # as open_stac labels
    firsts = starts[1:5] + pd.Timedelta("3h")  # a night overpass on each period's first day
    out = match_steps(guide, _series(np.zeros(4), firsts), "time", "15D")
    assert out.values.astype(int).tolist() == [1, 2, 3, 4]
    last = starts[1:4] + pd.Timedelta("15D") + pd.Timedelta("22h")  # each period's last day
    out = match_steps(guide, _series(np.zeros(3), last), "time", "15D")
    assert out.values.astype(int).tolist() == [1, 2, 3]
    # the day after the last period is still refused under '15D'
    after = _series([0.0], [starts[4] + pd.Timedelta("16D") + pd.Timedelta("3h")])
    with pytest.raises(errors.GuideTimeError, match="16D"):
        match_steps(guide, after, "time", "15D")


def test_a_daily_timed_guide_is_matched_by_instant():
    """A daily guide at 23:00 UTC (an afternoon overpass west of Greenwich) against an LST at
    01:00: matched by calendar day, it took the guide 22 h after the LST, not the one 2 h
    before (review32f)."""
    guide = _series([1.0, 2.0, 3.0], pd.to_datetime(["2020-07-01T23:00", "2020-07-02T23:00",
                                                     "2020-07-03T23:00"]))
    lst = _series([0.0, 0.0], pd.to_datetime(["2020-07-02T01:00", "2020-07-03T01:00"]))
    assert match_steps(guide, lst, "time", "1D").values.tolist() == [1.0, 2.0]


def test_sub_day_tolerance_advice_counts_calendar_days():
    # composites (16 days apart), as open_stac labels them
    guide = _series([9.0, 0.0], pd.to_datetime(["2019-12-16T10:30", "2020-01-01T10:30"]))
    lst = _series([0.0], pd.to_datetime(["2020-01-17T11:00"]))  # 16 d 0.5 h, 16 calendar days
    with pytest.raises(errors.GuideTimeError) as e:
        match_steps(guide, lst, "time", "12h")
    advised = re.search(r"guide_time_tolerance='([^']+)'`", str(e.value)).group(1)
    assert advised == f"{(pd.Timestamp('2020-01-17') - pd.Timestamp('2020-01-01')).days}D"
    assert match_steps(guide, lst, "time", advised).values.tolist() == [0.0]
    # under a day the advice stays in hours
    near = _series([0.0], pd.to_datetime(["2020-01-01T23:30"]))
    with pytest.raises(errors.GuideTimeError, match=r"guide_time_tolerance='13h'"):
        match_steps(guide, near, "time", "12h")


# -- 08: the guide step the offset is measured on ----------------------------------------------


def test_measure_offset_with_cf_numbers_uses_the_step_match_steps_pairs(monkeypatch):
    coregister = importlib.import_module("xlstsr.coregister")  # xlstsr.coregister is a function

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = xlstsr.datasets.sample_scene(n_times=1, size=32)
    lst, nd = s["lst_1km"], s["ndvi_250m"]
    t = pd.Timestamp(lst.time.values[0])
    g = xr.concat([nd, nd], dim=xr.DataArray(
        pd.DatetimeIndex([t - pd.Timedelta("16D"), t]), dims="time", name="time"))
    g = g.squeeze(drop=True) if "band" in g.dims else g

    def cf(da, epoch):
        days = (da.indexes["time"] - pd.Timestamp(epoch)) // pd.Timedelta("1D")
        da = da.assign_coords(time=np.asarray(days, dtype=int))
        da["time"].attrs["units"] = f"days since {epoch}"
        return da

    l2 = cf(lst, str(t.date()))  # [0]
    g2 = cf(g, str((t - pd.Timedelta("16D")).date()))  # [0, 16]: 0 is 16 days before the LST
    seen = []
    real = coregister.fine_pixel_size

    def spy(gg, crs):
        seen.append(gg["time"].values.item())
        return real(gg, crs)

    monkeypatch.setattr(coregister, "fine_pixel_size", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        measure_offset(g2, l2, "auto", factor=4, time_tolerance="15D")
    pos = xr.DataArray(np.arange(2.0), dims="time", coords={"time": g2["time"]})
    want = int(match_steps(pos, l2.isel(x=0, y=0, drop=True), "time", "15D").values[0])
    assert seen and seen[0] == g2["time"].values[want]


# -- 07: pair_steps, CF numbers against dates -------------------------------------------------


def _field(labels, units=None, value=0.0):
    da = xr.DataArray(np.full((len(labels), 4, 4), value), dims=("time", "y", "x"),
                      coords={"time": labels, "y": np.arange(4.0)[::-1], "x": np.arange(4.0)})
    if units:
        da["time"].attrs["units"] = units
    return da


@pytest.mark.parametrize("numbers_on", ["sr", "reference"])
def test_pair_steps_cf_numbers_against_dates_advises_decoding(numbers_on):
    dates = pd.to_datetime(["2020-07-01", "2020-07-02"])
    scope = {"sr": _field(dates), "reference": _field(dates, value=1.0), "xr": xr}
    scope[numbers_on] = _field([0, 1], "days since 2020-07-01", 1.0 if numbers_on != "sr" else 0.0)
    with pytest.raises(errors.GridError, match="decode_cf") as e:
        pair_steps(scope["reference"], scope["sr"], "reference")
    codes = _advice(str(e.value), numbers_on)
    assert codes and not _advice(str(e.value), "reference" if numbers_on == "sr" else "sr")
    exec(codes[0], scope)  # followed, the steps pair
    out = pair_steps(scope["reference"], scope["sr"], "reference")
    assert out.sizes["time"] == 2 and float(out.mean()) == 1.0


# -- 04: undecoded labels of two calendars ----------------------------------------------------


def test_cf_numbers_of_two_calendars_advice_decodes_first():
    lst = _series([0, 0], [10, 11], "days since 2020-07-01", "noleap")
    guide = _series([0, 1], [0, 16], "days since 2020-06-25", "standard")
    with pytest.raises(errors.GuideTimeError, match="convert_calendar") as e:
        match_steps(guide, lst, "time", "15D")
    code = [c for c in _advice(str(e.value), "lst") if "convert_calendar" in c]
    assert len(code) == 1
    scope = {"guide": guide, "lst": lst, "xr": xr}
    exec(code[0], scope)
    out = match_steps(scope["guide"], scope["lst"], "time", "15D")
    assert out.values.tolist() == [1.0, 1.0]  # 07-11, 07-12 take the composite of 07-11


# -- 09: one undecodable axis on both sides ---------------------------------------------------


def test_same_undecodable_units_with_a_duration_name_a_number_tolerance():
    units = "days since launch"
    guide = _series([0, 1], [0, 16], units)
    lst = _series([0, 0], [3, 20], units)
    with pytest.raises(errors.GuideTimeError) as e:
        match_steps(guide, lst, "time", "15D")
    msg = str(e.value)
    assert "another date in each" not in msg and "decode_cf" not in msg
    number = re.search(r"`guide_time_tolerance=([\d.]+)`", msg).group(1)
    assert float(number) == pd.Timedelta("15D") / pd.Timedelta("1D")
    assert match_steps(guide, lst, "time", float(number)).values.tolist() == [0.0, 1.0]


# -- 11: tz-aware and NaT truth labels through pair_steps -------------------------------------


def test_metrics_refuse_tz_aware_truth_with_working_advice():
    dates = pd.to_datetime(["2020-07-01", "2020-07-02"])
    sr, truth = _field(dates), _field(dates, value=1.0)
    tz = truth.assign_coords(time=truth.indexes["time"].tz_localize("UTC"))
    with pytest.raises(errors.GridError, match="timezone-aware") as e:
        xlstsr.metrics.rmse(sr, tz)
    scope = {"reference": tz}
    exec(_advice(str(e.value), "reference")[0], scope)
    assert xlstsr.metrics.rmse(sr, scope["reference"]).values.tolist() == pytest.approx([1.0, 1.0])
    nat = truth.assign_coords(time=pd.DatetimeIndex([dates[0], pd.NaT]))
    with pytest.raises(errors.GridError, match="NaN/NaT"):
        pair_steps(nat, sr, "reference")


# -- review32d/04: cftime dates of the standard calendar against numpy's -----------------------


def test_same_overpass_of_gregorian_cftime_and_numpy_dates():
    cftime = pytest.importorskip("cftime")
    day = np.datetime64("2020-07-01", "ns")
    for cls in (cftime.DatetimeGregorian, cftime.DatetimeProlepticGregorian):
        assert same_overpass(day, cls(2020, 7, 1, 10, 30))
        assert same_overpass(cls(2020, 7, 1, 10, 30), np.asarray(day))
        assert not same_overpass(day, cls(2020, 7, 3))
    assert not same_overpass(day, cftime.DatetimeNoLeap(2020, 7, 1, 10, 30))  # another calendar
    a = _field(pd.to_datetime(["2020-07-01"])).isel(time=0)
    b = a.assign_coords(time=cftime.DatetimeGregorian(2020, 7, 1, 10, 30))
    check_scalar_steps(a, b, "truth", "coarse input")  # one overpass: accepted
    with pytest.raises(errors.GridError, match="other dates"):
        check_scalar_steps(a, b.assign_coords(time=cftime.DatetimeGregorian(2020, 7, 3)),
                           "truth", "coarse input")
