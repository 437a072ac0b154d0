"""Step matching findings of session 32: number labels with CF time units of other epochs
(files opened with decode_times=False) matched and paired as raw numbers, a duration tolerance
against plain numbers, the same dates at another datetime64 resolution refused as "not on the
same grid", LST times of day against guide dates refused on a period's last day, tz-aware and
NaT labels passed to match_steps, a hard-coded year 2020 in the advice for step numbers, and
cftime dates not matched by day."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import xlstsr
from xlstsr import errors
from xlstsr.calibration import fit_calibration
from xlstsr.guide import match_steps
from xlstsr.steps import pair_steps


def _series(values, labels, units=None):
    da = xr.DataArray(np.asarray(values, dtype=float), dims="time", coords={"time": labels})
    if units:
        da["time"].attrs["units"] = units
    return da


def _taken(matched, guide):
    """The guide step index each matched step came from (guide values are their indices)."""
    assert np.array_equal(guide.values, np.arange(guide.sizes["time"]))
    return matched.values.astype(int).tolist()


# -- 01: CF 'days since' labels of other epochs against a guide ------------------------------


def test_match_steps_decodes_cf_units_of_other_epochs():
    # LST 07-01, 07-02, 07-03 as days since 07-01; guide 06-25, 07-02 as days since 06-25
    lst = _series([0, 0, 0], [0, 1, 2], "days since 2020-07-01 00:00:00")
    guide = _series([0, 1], [0, 7], "days since 2020-06-25 00:00:00")
    dates_l = pd.Timestamp("2020-07-01") + pd.to_timedelta([0, 1, 2], "D")
    dates_g = pd.Timestamp("2020-06-25") + pd.to_timedelta([0, 7], "D")
    want = _taken(match_steps(_series([0, 1], dates_g), _series([0, 0, 0], dates_l), "time",
                              "15D"), guide)
    out = match_steps(guide, lst, "time", "15D")
    assert _taken(out, guide) == want
    assert out["time"].values.tolist() == [0, 1, 2]  # the LST's labels, with their units
    assert out["time"].attrs["units"] == lst["time"].attrs["units"]


def test_match_steps_float_cf_labels_with_a_duration_are_dates():
    units = "days since 2020-07-01"
    lst = _series([0, 0], [0.0, 1.5], units)
    guide = _series([0, 1], [-6.0, 1.0], units)
    assert _taken(match_steps(guide, lst, "time", "15D"), guide) == [0, 1]


def test_match_steps_refuses_a_duration_against_plain_numbers():
    guide = _series([0], [0])
    lst = _series([0, 0], [100, 300])
    with pytest.raises(errors.GuideTimeError, match=r"is a duration.*plain numbers.*"
                       r"number in the labels' own units"):
        match_steps(guide, lst, "time", "15D")
    with pytest.raises(errors.GuideTimeError, match="plain numbers"):
        match_steps(guide.assign_coords(time=[0.0]), lst.assign_coords(time=[1.0, 2.0]), "time",
                    "15D")
    # a number tolerance against numbers is what the message advises: accepted
    assert _taken(match_steps(guide, lst.assign_coords(time=[1, 15]), "time", 15), guide) == [0, 0]


def test_upscale_undecoded_files_of_other_epochs_as_decoded(tmp_path):
    s = xlstsr.datasets.sample_scene(n_times=3, size=32)
    lst, nd = s["lst_1km"], s["ndvi_250m"]
    gt = pd.to_datetime(["2020-06-25", "2020-07-02"])
    guide = xr.concat([nd, (nd * 0.5).clip(0.05)],
                      dim=xr.DataArray(gt, dims="time", name="time")).rename("ndvi")
    xr.Dataset({"lst": lst}).to_netcdf(tmp_path / "l.nc")
    xr.Dataset({"ndvi": guide}).to_netcdf(tmp_path / "g.nc")
    with xr.open_dataset(tmp_path / "l.nc", decode_times=False, decode_coords="all") as a, \
            xr.open_dataset(tmp_path / "g.nc", decode_times=False, decode_coords="all") as b:
        l2, g2 = a["lst"].load(), b["ndvi"].load()
    assert l2["time"].attrs["units"] != g2["time"].attrs["units"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = xlstsr.upscale(lst, 4, "dms", guide=guide, guide_time_tolerance="15D",
                             guide_offset="ignore").values
        got = xlstsr.upscale(l2, 4, "dms", guide=g2, guide_time_tolerance="15D",
                             guide_offset="ignore").values
    np.testing.assert_allclose(got, ref, atol=1e-4)


# -- 02: evaluate / pair_steps of undecoded files of other epochs ----------------------------


def _field(values, labels, units=None):
    da = xr.DataArray(np.asarray(values, dtype=float)[:, None, None] * np.ones((1, 2, 2)),
                      dims=("time", "y", "x"),
                      coords={"time": labels, "y": [1.5, 0.5], "x": [0.5, 1.5]})
    if units:
        da["time"].attrs["units"] = units
    return da


def test_pair_steps_decodes_cf_units_of_other_epochs():
    sr = _field([2, 3, 4], [0, 1, 2], "days since 2020-07-02")  # 07-02 .. 07-04
    truth = _field([1, 2, 3, 4], [0, 1, 2, 3], "days since 2020-07-01")  # 07-01 .. 07-04
    out = pair_steps(truth, sr, "truth")
    assert out.mean(("y", "x")).values.tolist() == [2.0, 3.0, 4.0]  # the same dates
    assert out["time"].values.tolist() == sr["time"].values.tolist()
    assert out["time"].attrs["units"] == sr["time"].attrs["units"]


def test_evaluate_undecoded_files_of_other_epochs(tmp_path):
    s = xlstsr.datasets.sample_scene(n_times=4, size=32, seed=5)
    lst, truth = s["lst_1km"].isel(time=[1, 2, 3]), s["lst_250m"]
    xr.Dataset({"lst": lst}).to_netcdf(tmp_path / "l.nc")
    xr.Dataset({"t": truth}).to_netcdf(tmp_path / "t.nc")
    with xr.open_dataset(tmp_path / "l.nc", decode_times=False, decode_coords="all") as a, \
            xr.open_dataset(tmp_path / "t.nc", decode_times=False, decode_coords="all") as b:
        l2, t2 = a["lst"].load(), b["t"].load()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        good = xlstsr.evaluate(xlstsr.upscale(lst, 4), truth)["rmse"].values
        got = xlstsr.evaluate(xlstsr.upscale(l2, 4), t2)["rmse"].values
    np.testing.assert_allclose(got, good, atol=1e-4)


# -- 04: the same dates at another datetime64 resolution -------------------------------------


@pytest.mark.parametrize("unit", ["s", "us"])
def test_truth_dates_at_another_resolution_are_paired(unit):
    s = xlstsr.datasets.sample_scene(n_times=2, size=32)
    lst, truth = s["lst_1km"], s["lst_250m"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sr = xlstsr.upscale(lst, 4)
        ok = xlstsr.evaluate(sr, truth)["rmse"].values
        t = truth.assign_coords(time=truth["time"].values.astype(f"datetime64[{unit}]"))
        np.testing.assert_allclose(xlstsr.evaluate(sr, t)["rmse"].values, ok, atol=1e-6)
        np.testing.assert_allclose(xlstsr.metrics.rmse(sr, t).values, ok, atol=1e-6)
    out = pair_steps(t, sr, "truth")
    assert out.indexes["time"].equals(sr.indexes["time"])
    assert out["time"].dtype == sr["time"].dtype


# -- 05: LST times of day against guide dates, the last day of a period ----------------------


def test_timed_lst_against_dated_guide_matched_by_day():
    guide = _series([0, 1, 2], pd.to_datetime(["2020-03-21", "2020-04-06", "2020-04-22"]))
    # the 16th day of each period, at the STAC overpass time
    lst = _series([0, 0], pd.to_datetime(["2020-04-05T10:30", "2020-04-21T10:30"]))
    assert _taken(match_steps(guide, lst, "time", "15D"), guide) == [0, 1]
    # the mirror case (LST dates, guide at 10:30) gives the same composites
    mirror = match_steps(guide.assign_coords(time=guide.indexes["time"] + pd.Timedelta("10.5h")),
                         lst.assign_coords(time=lst.indexes["time"].normalize()), "time", "15D")
    assert _taken(mirror, guide) == [0, 1]
    # the day after a period (its composite missing) does not take the old one under '15D'
    after = _series([0], pd.to_datetime(["2020-04-06T10:30"]))
    with pytest.raises(errors.GuideTimeError, match="16 days earlier"):
        match_steps(guide.isel(time=[0]), after, "time", "15D")
    # a tolerance under a day still compares instants
    with pytest.raises(errors.GuideTimeError):
        match_steps(guide, lst, "time", "12h")


# -- 06: tz-aware and NaT labels in match_steps and fit_calibration --------------------------


def _calibration_inputs():
    s = xlstsr.datasets.sample_scene(n_times=3, size=32)
    lst, nd, truth = s["lst_1km"], s["ndvi_250m"], s["lst_250m"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sr = xlstsr.upscale(lst, 4)
    gt = pd.to_datetime(["2020-06-25", "2020-07-02"])
    ndvi = xr.concat([nd, (nd * 0.5).clip(0.05)],
                     dim=xr.DataArray(gt, dims="time", name="time")).rename("ndvi")
    return sr, truth, ndvi, gt


def test_fit_calibration_refuses_tz_aware_ndvi_labels():
    sr, truth, ndvi, _ = _calibration_inputs()
    tz = ndvi.assign_coords(time=ndvi.indexes["time"].tz_localize("UTC"))
    with pytest.raises(errors.XlstsrError, match=r"timezone-aware.*tz_convert\(None\)") as e:
        fit_calibration(sr, truth, tz, time_tolerance="15D")
    code = re.search(r"`(ndvi = [^`]+tz_convert\(None\)\))`", str(e.value)).group(1)
    scope = {"ndvi": tz}
    exec(code, scope)  # the advice works
    fit_calibration(sr, truth, scope["ndvi"], time_tolerance="15D")


def test_fit_calibration_refuses_nat_ndvi_labels():
    sr, truth, ndvi, gt = _calibration_inputs()
    nat = ndvi.assign_coords(time=pd.DatetimeIndex([gt[0], pd.NaT]))
    with pytest.raises(errors.XlstsrError, match="NaN/NaT labels"):
        fit_calibration(sr, truth, nat, time_tolerance="15D")


def test_match_steps_refuses_nat_and_tz_lst_labels():
    guide = _series([0, 1], pd.to_datetime(["2020-06-25", "2020-07-02"]))
    lst = _series([0, 0, 0], pd.DatetimeIndex(["2020-07-01", pd.NaT, "2020-07-03"]))
    with pytest.raises(errors.GuideTimeError, match="LST's 'time' coordinate holds NaN/NaT"):
        match_steps(guide, lst, "time", "15D")
    lst_tz = lst.assign_coords(time=pd.to_datetime(["2020-07-01", "2020-07-02", "2020-07-03"],
                                                   utc=True))
    with pytest.raises(errors.GuideTimeError, match=r"timezone-aware.*lst = lst\.assign_coords"):
        match_steps(guide, lst_tz, "time", "15D")


# -- 03: step numbers against a dated guide: advice without a hard-coded year ----------------


def test_step_numbers_advice_gives_dates_not_days_of_2020():
    guide = _series([0, 1], pd.to_datetime(["2006-04-07", "2006-04-23"]))
    with pytest.raises(errors.GuideTimeError, match=r"open_cog\(files, times=dates\)") as e:
        match_steps(guide, _series([0, 0], [0, 1]), "time", "15D")
    assert "2020" not in str(e.value) and "days of the year" not in str(e.value)
    # days of a year: dated in the guide's year, and the advice then matches
    lst = _series([0, 0], [113, 121])
    with pytest.raises(errors.GuideTimeError, match="days of the year 2006") as e:
        match_steps(guide, lst, "time", "15D")
    code = re.search(r"`(lst\['time'\] = [^`]+)`", str(e.value)).group(1)
    exec(code, {"pd": pd, "lst": lst})
    assert [str(t)[:10] for t in lst["time"].values] == ["2006-04-23", "2006-05-01"]
    assert _taken(match_steps(guide, lst, "time", "15D"), guide) == [1, 1]


# -- 07: cftime dates against a guide at a time of day ---------------------------------------


def test_cftime_dates_matched_by_day():
    cftime = pytest.importorskip("cftime")
    g = pd.to_datetime(["2020-01-01T10:30", "2020-01-17T10:30"])

    def cf(ts):
        return [cftime.DatetimeNoLeap(t.year, t.month, t.day, t.hour, t.minute) for t in ts]

    guide = _series([0, 1], cf(g))
    lst = _series([0], cf(pd.to_datetime(["2020-01-17"])))
    numpy_way = _taken(match_steps(_series([0, 1], g), _series([0], pd.to_datetime(["2020-01-17"])),
                                   "time", "15D"), guide)
    assert _taken(match_steps(guide, lst, "time", "15D"), guide) == numpy_way
    assert _taken(match_steps(guide, lst, "time", "16D"), guide) == numpy_way
