"""Probe 39q (xlstsr.steps, xlstsr.guide): a one-date truth on a dim the sr lacks, advice for
truths dated by acquisition time that works when followed, an ambiguous scalar date, and
part-day tolerances where labels are matched by calendar day."""

import re
import warnings

import cftime
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import xlstsr
import xlstsr.metrics as M
from xlstsr.errors import GridError, GuideTimeError
from xlstsr.guide import match_steps
from xlstsr.steps import check_scalar_steps


def _cube(times, vals, dim="time", n=8):
    v = np.array(vals, float)[:, None, None] + 290 + np.zeros((len(times), n, n))
    da = xr.DataArray(v, dims=(dim, "y", "x"), attrs={"units": "K"},
                      coords={dim: times, "y": 5e6 - 1000 * np.arange(n) - 500.,
                              "x": 5e5 + 1000 * np.arange(n) + 500.})
    return da.rio.write_crs("EPSG:32631")


def _dated(times, vals, dim="time"):
    return _cube(pd.to_datetime(times), vals, dim)


# 1: a truth of one date on a dim the sr lacks ------------------------------------------------

@pytest.mark.parametrize("scalar", [False, True])
@pytest.mark.parametrize("fn", ["metrics", "evaluate"])
def test_one_date_truth_on_other_dim_refused(scalar, fn):
    sr = _dated(["2020-07-01", "2020-07-02", "2020-07-03"], [1, 2, 3], dim="date")
    truth = _dated(["2020-07-03"], [3])
    truth = truth.isel(time=0) if scalar else truth
    with warnings.catch_warnings(), pytest.raises(GridError, match="dated along 'date'") as e:
        warnings.simplefilter("ignore")
        M.rmse(sr, truth) if fn == "metrics" else xlstsr.evaluate(sr, truth)
    msg = str(e.value)
    assert "sr.isel(date=[2])" in msg and "reference.rename({'time': 'date'})" in msg
    # the advice works when followed
    sr, reference = sr.isel(date=[2]), truth.rename({"time": "date"})
    assert np.ravel(M.rmse(sr, reference).values).tolist() == [0.0]


def test_one_date_truth_of_no_sr_date_refused():
    sr = _dated(["2020-07-01", "2020-07-02"], [1, 2], dim="date")
    for truth in (_dated(["2020-07-05"], [3]).isel(time=0), _dated(["2020-07-05"], [3])):
        with pytest.raises(GridError, match="none of them that date") as e:
            M.rmse(sr, truth)
        # no step has that date: no rename or selection that only meets the next refusal
        assert "of its own date" in str(e.value) and ".rename(" not in str(e.value)


def test_one_date_truth_same_single_step_and_undated_dims_still_scored():
    sr = _dated(["2020-07-01", "2020-07-02", "2020-07-03"], [1, 2, 3], dim="date")
    truth = _dated(["2020-07-03"], [3])
    assert np.ravel(M.rmse(sr.isel(date=[2]), truth).values).tolist() == [0.0]
    assert np.ravel(M.rmse(sr.isel(date=[2]), truth.isel(time=0)).values).tolist() == [0.0]
    # a one-band GeoTIFF's band=1 holds no date: it is meant for every step
    band = truth.rename(time="band").assign_coords(band=[1])
    assert np.ravel(M.rmse(sr, band).values).tolist() == [2.0, 1.0, 0.0]


# 2: truths dated by acquisition time: the metrics' advice works -------------------------------

D = cftime.DatetimeNoLeap


@pytest.mark.parametrize("case", ["late UTC overpass", "cftime noleap"])
def test_overpass_advice_of_metrics_works_when_followed(case):
    if case == "late UTC overpass":
        sr = _dated(["2020-07-01", "2020-07-02"], [1, 2])
        reference = _dated(["2020-07-01T23:30", "2020-07-02T23:30"], [1, 2])
    else:
        sr = _cube([D(2020, 7, 1), D(2020, 7, 2)], [1, 2])
        reference = _cube([D(2020, 7, 1, 10, 30), D(2020, 7, 2, 10, 30)], [1, 2])
    with pytest.raises(GridError) as e:
        M.rmse(sr, reference)
    code = re.search(r"`(reference = reference\.isel\(time=\[0, 1\]\)\.assign_coords\("
                     r"time=sr\['time'\]\))`", str(e.value))
    assert code, str(e.value)
    env = {"reference": reference, "sr": sr}
    exec(code.group(1), env)
    assert np.ravel(M.rmse(sr, env["reference"]).values).tolist() == [0.0, 0.0]


# 3: an ambiguous scalar truth date ------------------------------------------------------------

def test_ambiguous_scalar_date_lists_steps_and_advice_works():
    sr = _dated(["2020-07-01T10:30", "2020-07-01T22:30", "2020-07-02T10:30"], [1, 2, 3])
    reference = _dated(["2020-07-01"], [1]).isel(time=0)
    with pytest.raises(GridError, match="ambiguous") as e:
        check_scalar_steps(sr, reference)
    msg = str(e.value)
    assert "`sr.isel(time=[0])`" in msg and "`sr.isel(time=[1])`" in msg
    assert "22:30" in msg and "sel(time=[reference" not in msg
    check_scalar_steps(sr.isel(time=[0]), reference)  # the advice, followed, is accepted


# 4: part-day tolerances where labels are matched by calendar day ------------------------------

def _steps(t, v):
    return xr.DataArray(np.array(v, float), dims="time", coords={"time": pd.to_datetime(t)})


def test_part_day_tolerance_refused_where_matched_by_day():
    g = _steps(["2020-07-01T01:00", "2020-07-17T01:00"], [1, 17])  # composites
    lst = _steps(["2020-07-02T23:00"], [0])  # 46 h after the first
    with pytest.raises(GuideTimeError, match=r"whole number of days.*'1D'.*'2D'"):
        match_steps(g, lst, "time", "36h")
    # LST dates against guide steps at a time of day, guide dates against LST times of day
    with pytest.raises(GuideTimeError, match="whole number of days"):
        match_steps(_steps(["2020-07-01T23:00"], [1]), _steps(["2020-07-03"], [0]), "time", "36h")
    with pytest.raises(GuideTimeError, match="whole number of days"):
        match_steps(_steps(["2020-07-01"], [1]), _steps(["2020-07-02T23:00"], [0]), "time", "36h")
    assert match_steps(g, lst, "time", "2D").values.tolist() == [1.0]


def test_part_day_tolerance_compares_instants_elsewhere():
    # both at times of day, a daily guide (no composites): instants, '36h' as it says
    g = _steps(["2020-07-01T01:00", "2020-07-02T01:00"], [1, 2])
    lst = _steps(["2020-07-03T12:00"], [0])
    assert match_steps(g, lst, "time", "36h").values.tolist() == [2.0]
    with pytest.raises(GuideTimeError):
        match_steps(g, _steps(["2020-07-03T14:00"], [0]), "time", "36h")


def test_guide_later_the_same_day_is_not_advised_a_tolerance():
    """A guide stamped later the same day (22:00 against LST 10:30) was advised
    guide_time_tolerance='1D', which then refused it (a tolerance reaches back only)."""
    import pandas as pd

    from xlstsr.errors import GuideTimeError
    from xlstsr.guide import match_steps

    lst = xr.DataArray(np.zeros((2, 2, 2)), dims=("time", "y", "x"),
                       coords={"time": pd.to_datetime(["2020-01-01T10:30", "2020-01-02T11:10"])})
    later = lst.assign_coords(time=pd.to_datetime(["2020-01-01T22:00", "2020-01-02T22:00"]))
    with pytest.raises(GuideTimeError, match=r"later that day.*floor\('D'\)") as e:
        match_steps(later, lst, "time", None)
    assert "guide_time_tolerance='1D'" not in str(e.value)
    # a daily guide at midnight is still advised the tolerance, which then pairs it
    daily = lst.assign_coords(time=pd.to_datetime(["2020-01-01", "2020-01-02"]))
    with pytest.raises(GuideTimeError, match=r"guide_time_tolerance='1D'"):
        match_steps(daily, lst, "time", None)
    assert match_steps(daily, lst, "time", "1D").sizes["time"] == 2


def test_scalar_date_of_no_step_is_not_advised_a_sel_that_fails():
    """A truth of 07-05 against an sr of 07-01 and 07-02 was advised
    `sr.sel(time=[reference['time'].values])`, which raised KeyError when followed."""
    times = pd.to_datetime(["2020-07-01T10:30", "2020-07-02T10:30"])
    sr = xr.DataArray(np.zeros((2, 2, 2)), dims=("time", "y", "x"), coords={"time": times})
    truth = sr.isel(time=0).assign_coords(time=pd.Timestamp("2020-07-05T10:30"))
    with pytest.raises(GridError, match="none of them that one") as e:
        check_scalar_steps(sr, truth)
    assert ".sel(" not in str(e.value) and "drop_vars('time')" in str(e.value)
