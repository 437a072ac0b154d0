"""A truth hours away from the field it is paired with is warned about for cftime dates too:
pd.Timestamp refused them, so a night truth (22:00) was scored against a day field (10:30)
of a cftime calendar without the OverpassWarning numpy dates get."""

from __future__ import annotations

import warnings

import cftime
import numpy as np
import pytest
import xarray as xr

from xlstsr.errors import OverpassWarning
from xlstsr.steps import pair_steps


def _field(t):
    return xr.DataArray(np.zeros((1, 2, 2)), dims=("time", "y", "x"),
                        coords={"time": [t], "y": [1.0, 0.0], "x": [0.0, 1.0]})


MAKERS = {
    "numpy": lambda *a: np.datetime64(f"{a[0]:04d}-{a[1]:02d}-{a[2]:02d}T{a[3]:02d}:{a[4]:02d}"),
    "standard": lambda *a: cftime.DatetimeGregorian(*a, calendar="standard"),
    "noleap": lambda *a: cftime.DatetimeNoLeap(*a),
    "360_day": lambda *a: cftime.Datetime360Day(*a),
}


@pytest.mark.parametrize("kind", list(MAKERS))
def test_a_truth_hours_away_is_warned_about(kind):
    mk = MAKERS[kind]
    sr = _field(mk(2020, 7, 1, 10, 30))
    truth = _field(mk(2020, 7, 1, 22, 0)).isel(time=0)  # a scalar date: `.sel(time=t)`
    with pytest.warns(OverpassWarning, match=r"11\.5 h apart"):
        pair_steps(truth, sr, "truth")


@pytest.mark.parametrize("kind", list(MAKERS))
def test_one_overpass_and_nominal_dates_are_not_warned_about(kind):
    mk = MAKERS[kind]
    sr = _field(mk(2020, 7, 1, 10, 30))
    with warnings.catch_warnings():
        warnings.simplefilter("error", OverpassWarning)
        pair_steps(_field(mk(2020, 7, 1, 11, 0)).isel(time=0), sr, "truth")  # 30 min apart
        pair_steps(_field(mk(2020, 7, 1, 0, 0)).isel(time=0), sr, "truth")   # a nominal date


def test_dates_held_as_0d_arrays_are_told_in_the_warning():
    """_check_one_step passes a coordinate's 0-d `.values`: the message drew it with
    pd.Timestamp, which refuses a 0-d array (review 43c)."""
    from xlstsr.steps import _warn_other_hours

    for a, b in ((np.array(np.datetime64("2020-07-01T10:30")),
                  np.array(np.datetime64("2020-07-01T22:30"))),
                 (np.array(cftime.DatetimeNoLeap(2020, 7, 1, 10, 30), dtype=object),
                  np.array(cftime.DatetimeNoLeap(2020, 7, 1, 22, 30), dtype=object))):
        with pytest.warns(OverpassWarning, match=r"22:30:00, the field at 2020-07-01 10:30"):
            _warn_other_hours(a, b, "truth", "field")


@pytest.mark.parametrize("kind", ["numpy", "noleap"])
def test_evaluate_warns_of_one_step_dims_hours_apart(kind):
    """A truth and an sr of one step each, 12 h apart, paired by overpass in evaluate: only
    numpy dates were measured (regression probe 43)."""
    import xlstsr

    s = xlstsr.datasets.sample_scene(n_times=1, size=32)
    sr = xlstsr.upscale(s["lst_1km"], 4)
    mk = MAKERS[kind]
    sr = sr.assign_coords(time=[mk(2020, 1, 1, 10, 0)])
    truth = s["lst_250m"].assign_coords(time=[mk(2020, 1, 1, 22, 0)])
    with pytest.warns(OverpassWarning, match=r"12\.0 h apart"):
        xlstsr.evaluate(sr, truth)


def test_evaluate_warns_of_a_pair_beside_a_midnight_step():
    """The widest gap was a 00:00 pair, which the warning skips: the 10:00 / 13:00 pair beside
    it went unwarned (review 43f)."""
    import xlstsr

    s = xlstsr.datasets.sample_scene(n_times=2, size=32)
    sr = xlstsr.upscale(s["lst_1km"], 4).assign_coords(
        time=np.array(["2020-01-01T00:00", "2020-01-02T10:00"], dtype="datetime64[ns]"))
    truth = s["lst_250m"].assign_coords(
        time=np.array(["2020-01-01T04:00", "2020-01-02T13:00"], dtype="datetime64[ns]"))
    with pytest.warns(OverpassWarning, match=r"3\.0 h apart"):
        xlstsr.evaluate(sr, truth)
