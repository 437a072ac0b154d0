"""Step pairing (xlstsr.steps, xlstsr.guide.match_steps, open_modis's day_night): scalar text
labels, day against night layers, calendar advice for '360_day', two cftime calendars in
match_steps, each day's own overpass rather than yesterday's, and a real 00:00 step."""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import xlstsr
from xlstsr import metrics
from xlstsr.errors import GridError, GuideTimeError
from xlstsr.guide import match_steps
from xlstsr.steps import _overpass_matches, calendar_fix, check_scalar_steps, pair_steps


def _cube(times, values=None, n=8):
    values = np.arange(len(times), dtype=float) + 300 if values is None else values
    v = np.asarray(values, float)[:, None, None] * np.ones((len(times), n, n))
    return xr.DataArray(v, dims=("time", "y", "x"), attrs={"units": "K"},
                        coords={"time": pd.to_datetime(times), "y": np.arange(n)[::-1] * 250.0,
                                "x": np.arange(n) * 250.0}).rio.write_crs("EPSG:32631")


def _advice(msg, var):
    return re.findall(rf"`({var} = [^`]*)`", msg)


# 1: scalar text labels ------------------------------------------------------------------------

def _overpass_cube():
    rng = np.random.default_rng(0)
    v = np.stack([305 + rng.normal(size=(8, 8)), 290 + rng.normal(size=(8, 8))])
    return xr.DataArray(v, dims=("overpass", "y", "x"), attrs={"units": "K"},
                        coords={"overpass": ["day", "night"], "time": np.datetime64("2020-07-01"),
                                "y": np.arange(8.0)[::-1], "x": np.arange(8.0)})


def test_scalar_text_labels_that_differ_are_refused():
    cube = _overpass_cube()
    sr, truth = cube.sel(overpass="day"), cube.sel(overpass="night")
    with pytest.raises(GridError, match=r"overpass='night'.*overpass='day'") as err:
        metrics.rmse(sr, truth)
    assert "drop_vars('overpass')" in str(err.value)
    # a one-step dim of the other label against the scalar one, too
    with pytest.raises(GridError, match="overpass"):
        pair_steps(cube.sel(overpass=["night"]), sr, "truth")
    # the same label, and the advised drop, pass
    assert float(metrics.rmse(sr, cube.sel(overpass="day"))) == 0.0
    assert np.isfinite(float(metrics.rmse(sr, truth.drop_vars("overpass"))))


def test_scalar_band_numbers_still_pass():
    a = _cube(["2020-07-01"]).isel(time=0).assign_coords(band=1)
    b = a.assign_coords(band=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_scalar_steps(a, b)
        assert pair_steps(b, a, "truth").shape == (8, 8)


# 2: day against night -------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["name", "long_name"])
def test_day_against_night_layer_warned_without_the_attribute(how):
    day = _cube(["2020-07-01"]).isel(time=0)
    night = day - 20
    if how == "name":
        day, night = day.rename("LST_Day_1km"), night.rename("LST_Night_1km")
    else:
        day = day.assign_attrs(long_name="Daily daytime 1km grid Land-surface Temperature")
        night = night.assign_attrs(long_name="Daily nighttime 1km grid Land-surface Temperature")
    with pytest.warns(UserWarning, match=r"night acquisition.*day one"):
        pair_steps(night, day, "truth")
    with warnings.catch_warnings():  # same overpass, or no clear marker: no warning
        warnings.simplefilter("error")
        pair_steps(day, day, "truth")
        pair_steps(night.rename("LST").assign_attrs(long_name="Land-surface Temperature"),
                   day, "truth")


def test_open_modis_records_day_night_and_pairing_warns(shared_data):
    from xlstsr.io import open_modis

    f = next((shared_data / "mod11a1_hdf").glob("MOD11A1*.hdf"))
    day = open_modis(f, "LST_Day_1km")[600:664, 0:64]
    night = open_modis(f, "LST_Night_1km")[600:664, 0:64]
    assert (day.attrs["day_night"], night.attrs["day_night"]) == ("day", "night")
    assert open_modis(f, "Night_view_time").attrs["day_night"] == "night"
    assert "day_night" not in open_modis(f, "Emis_31").attrs
    with pytest.warns(UserWarning, match="night acquisition"):
        metrics.rmse(day, night)


# 3: calendar advice for 360_day ---------------------------------------------------------------

def _cf_cube(cal):
    t = xr.date_range("2020-07-01", periods=3, freq="D", calendar=cal, use_cftime=True)
    return xr.DataArray(np.zeros((3, 2, 2)), dims=("time", "y", "x"),
                        coords={"time": t, "y": [1.0, 0.0], "x": [0.0, 1.0]})


@pytest.mark.parametrize("like_cal,other_cal", [("noleap", "360_day"), ("360_day", "noleap"),
                                                ("standard", "360_day")])
def test_calendar_advice_for_360_day_works(like_cal, other_cal):
    sr, truth = _cf_cube(like_cal), _cf_cube(other_cal)
    if like_cal == "standard":
        sr = sr.convert_calendar("standard", dim="time")  # numpy dates
    with pytest.raises(GridError, match="calendar") as err:
        pair_steps(truth, sr, "truth")
    fix = _advice(str(err.value), "truth")
    assert fix and "align_on='date'" in fix[0]
    ns = {"truth": truth}
    exec(fix[0], ns)
    assert pair_steps(ns["truth"], sr, "truth").sizes["time"] == 3
    assert "align_on" not in calendar_fix("noleap", "time", "truth", "all_leap")


# 4: match_steps, two cftime calendars of equal length -----------------------------------------

def _series(cal, n=3):
    t = xr.date_range("2020-07-01", periods=n, freq="D", calendar=cal, use_cftime=True)
    return xr.DataArray(np.arange(n, dtype=float), dims="time", coords={"time": t})


@pytest.mark.parametrize("lc,gc", [("standard", "noleap"), ("noleap", "360_day"),
                                   ("noleap", "all_leap"), ("julian", "noleap")])
def test_match_steps_two_calendars_refused_with_working_advice(lc, gc):
    lst, guide = _series(lc), _series(gc)
    with pytest.raises(GuideTimeError, match="calendar") as err:
        match_steps(guide, lst, "time", "15D")
    fix = _advice(str(err.value), "guide")
    ns = {"guide": guide}
    exec(fix[0], ns)
    assert match_steps(ns["guide"], lst, "time", "15D").sizes["time"] == 3


# 5: each day's own overpass, not yesterday's --------------------------------------------------

def test_daily_overpasses_minutes_apart_pair_with_their_own_day():
    sr = _cube(["2020-07-01T10:30", "2020-07-02T10:30"], [300.0, 310.0])
    truth = _cube(["2020-07-01T10:40", "2020-07-02T10:40"], [300.0, 310.0])
    assert _overpass_matches(sr.indexes["time"][1], truth.indexes["time"]) == [1]
    with pytest.raises(GridError) as err:
        pair_steps(truth, sr, "truth")
    assert "ambiguous" not in str(err.value)
    ns = {"truth": truth, "sr": sr, "pd": pd}
    for line in _advice(str(err.value), "truth"):
        exec(line, ns)
    got = pair_steps(ns["truth"], sr, "truth").isel(y=0, x=0).values.tolist()
    assert got == [300.0, 310.0]


def test_several_steps_hint_picks_the_nearest_not_the_earliest():
    # 07-02 12:00: 07-01 20:00 (16 h) and 07-02 22:00 (10 h) are both less than a day away,
    # neither an overpass of it: ambiguous, the advice takes the nearer
    sr = _cube(["2020-07-01T12:00", "2020-07-02T12:00"], [1.0, 2.0])
    truth = _cube(["2020-07-01T10:00", "2020-07-01T20:00", "2020-07-02T22:00"], [1.0, 5.0, 2.0])
    with pytest.raises(GridError, match="ambiguous") as err:
        pair_steps(truth, sr, "truth")
    assert "nearest in time" in str(err.value)
    assert "truth.isel(time=[0, 2])" in str(err.value)


# 6: a real 00:00 step of a sub-daily series ---------------------------------------------------

def test_midnight_step_of_a_15_min_series_is_an_acquisition():
    times = pd.date_range("2018-08-19T00:00", periods=96, freq="15min")
    sr = _cube(times, np.arange(96.0), n=4)
    truth = sr.isel(time=-1).assign_coords(time=np.datetime64("2018-08-19T23:55"))
    with pytest.raises(GridError) as err:
        pair_steps(truth, sr, "truth")
    assert "`sr.isel(time=[95])`" in str(err.value)
    # the same series 5 min later: steps 5 and 10 min away are both of the overpass window
    # (ambiguous), and the advice keeps the nearest
    shifted = sr.assign_coords(time=sr.indexes["time"] + pd.Timedelta("5min"))
    with pytest.raises(GridError) as err:
        pair_steps(shifted, sr, "truth")
    assert "the nearest in time" in str(err.value)
    ns = {"truth": shifted, "sr": sr, "pd": pd}
    for line in _advice(str(err.value), "truth"):
        exec(line, ns)
    got = pair_steps(ns["truth"], sr, "truth").isel(y=0, x=0).values
    assert got.tolist() == list(range(96))
    # a daily series of nominal dates still pairs a date with its own day's overpass
    assert _overpass_matches(np.datetime64("2020-07-02"),
                             pd.to_datetime(["2020-07-01T23:50", "2020-07-02T10:30"])) == [1]


def test_evaluate_pairs_a_sub_daily_series_whose_first_step_is_at_midnight():
    # evaluate's own overpass pairing read sr's 00:00 step as a date-only label (every
    # reference step of its day matched it) and refused a 6-hourly series 5 min apart
    t = xlstsr.datasets.sample_scene(n_times=4)["lst_250m"]
    times = pd.date_range("2020-07-01T00:00", periods=4, freq="6h")
    sr = t.assign_coords(time=times)
    ref = t.assign_coords(time=times + pd.Timedelta("5min"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = xlstsr.evaluate(sr, ref)
    np.testing.assert_array_equal(scores["rmse"].values, np.zeros(4))


# review 41a: descriptions and text dates are no labels to refuse; other overpasses stay
# ambiguous

def _grid_series(vals, times, name="lst"):
    y = 4e5 - 1000 * np.arange(8) - 500
    x = 1000 * np.arange(8) + 500
    a = xr.DataArray(np.stack([np.full((8, 8), v, "float32") for v in vals]),
                     dims=("time", "y", "x"),
                     coords={"time": pd.to_datetime(times), "y": y, "x": x}, name=name,
                     attrs={"units": "K"})
    return a.rio.write_crs("EPSG:32631")


def test_band_descriptions_of_one_step_are_not_compared():
    # open_cog's band_description differs between an sr and its truth (their files' own
    # texts): one step of two stacks was refused while the stacks were scored
    sr, truth = _grid_series([300.3, 301], ["2020-07-01", "2020-07-02"]), _grid_series(
        [300, 301], ["2020-07-01", "2020-07-02"])
    sr = sr.assign_coords(band_description=("time", ["LST_SR_2020_07_01", "LST_SR_2020_07_02"]))
    truth = truth.assign_coords(band_description=("time", ["ST_B10_0701", "ST_B10_0702"]))
    s, t = sr.isel(time=0), truth.isel(time=0)
    assert float(metrics.rmse(s, t)) == pytest.approx(0.3, abs=1e-4)


@pytest.mark.parametrize("a, b", [("2020-07-01", "2020-07-01T10:30"),
                                  ("2020-07-01T10:30", "2020-07-01T10:30:00")])
def test_text_dates_are_compared_as_dates(a, b):
    base = _grid_series([300], ["2020-07-01"]).isel(time=0).drop_vars("time")
    check_scalar_steps(base.assign_coords(time=a), base.assign_coords(time=b))


@pytest.mark.parametrize("a, b", [("2020-07-01", "2020-07-05"),  # other dates (review 41e)
                                  ("0930", "1330"), ("2020", "2021"), ("Jan", "Jul")])
def test_other_text_labels_refused(a, b):
    # review 41e: any text pandas parses was let through as "dates", and none compared
    base = _grid_series([300], ["2020-07-01"]).isel(time=0).drop_vars("time")
    with pytest.raises(GridError):
        check_scalar_steps(base.assign_coords(date=a), base.assign_coords(date=b))


def test_granules_minutes_apart_stay_ambiguous():
    # the nearest rule picked the nearer of two granules (other ground) without a word
    truth_times = ["2020-07-01T10:25", "2020-07-01T10:31"]
    sr, truth = _grid_series([290], ["2020-07-01T10:30"]), _grid_series([310, 290], truth_times)
    with pytest.raises(GridError):
        xlstsr.evaluate(sr, truth)
    assert len(_overpass_matches(sr.indexes["time"][0], truth.indexes["time"])) == 2


def test_daily_truth_hours_off_pairs_with_its_own_day_and_warns():
    # probe 41k: a truth at 13:30 each day against sr at 10:30 was refused as ambiguous
    # (yesterday's 13:30, 21 h away, counted), naming yesterday's step "of its day", where
    # one step of each was scored with the hours-apart warning
    t = ["2020-01-01T10:30", "2020-01-02T10:30", "2020-01-03T10:30"]
    sr = _grid_series([300, 301, 302], t)
    ref = _grid_series([300, 301, 302], pd.to_datetime(t) + pd.Timedelta("3h"))
    with pytest.warns(UserWarning, match="apart"):
        scores = xlstsr.evaluate(sr, ref)
    np.testing.assert_array_equal(scores["rmse"].values, np.zeros(3))
    # the night's step within half a day keeps it ambiguous, worded as less than a day away
    night = _grid_series([300, 290], ["2020-01-01T13:30", "2020-01-01T21:00"])
    with pytest.raises(GridError, match="less than a day away"):
        xlstsr.evaluate(sr.isel(time=[0]), night)


def test_evaluate_warns_a_day_against_a_night_field_once():
    # regression probe 41a: each of evaluate's ten metrics paired the steps again and said
    # the day/night warning again
    from xlstsr.errors import OverpassWarning

    day = _grid_series([310], ["2020-07-01"]).isel(time=0).assign_attrs(day_night="day")
    night = _grid_series([290], ["2020-07-01"]).isel(time=0).assign_attrs(day_night="night")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        xlstsr.evaluate(day, night)
    said = [w for w in caught if issubclass(w.category, OverpassWarning)]
    assert len(said) == 1 and "night acquisition" in str(said[0].message)
