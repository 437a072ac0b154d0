"""A per-date NDVI or fine field (no overpass of its own) against a day+night series labelled by
its acquisition times (10:30 and 22:30 of one date: unique labels), probe 45e3/01: it was paired
by calendar day only where the series' labels repeat; with real times it was refused with advice
(`fine.sel(time=lst['time'])`) that raised KeyError, and its scalar form (one date) with advice
to select one step."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from test_coregister import Waves, _coarse_lst, _fine_same_crs
from test_repeats_pairing44 import N
from test_repeats_pairing44 import _series as _dated_series

from xlstsr.calibration import apply_calibration, fit_calibration
from xlstsr.coregister import estimate_offset
from xlstsr.errors import GridError
from xlstsr.steps import pair_steps

ACQ = ["2020-01-05T10:30", "2020-01-05T22:30", "2020-01-06T10:30", "2020-01-06T22:30"]
OVER = ["day", "night", "day", "night"]


def _series(times=ACQ, *args, **kw):
    """The day+night series of test_repeats_pairing44, labelled by acquisition times."""
    return _dated_series(times, *args, **kw)


def _ndvi(lst, dates=("2020-01-05", "2020-01-06")):
    rng = np.random.default_rng(1)
    return xr.DataArray(rng.uniform(0.1, 0.8, (len(dates), N, N)).astype("float32"),
                        dims=("time", "y", "x"),
                        coords={"time": np.array(dates, dtype="datetime64[ns]"),
                                "y": lst.y, "x": lst.x}, name="NDVI").rio.write_crs("EPSG:32632")


def test_per_date_field_pairs_with_acquisition_times_by_calendar_day():
    lst = _series()
    lst["overpass"].attrs["note"] = "as read"
    ndvi = _ndvi(lst)
    out = pair_steps(ndvi, lst, "ndvi", "LST", overpass_free=True)  # was refused
    np.testing.assert_array_equal(out.values, ndvi.values[[0, 0, 1, 1]])
    np.testing.assert_array_equal(out.time.values, lst.time.values)
    assert list(out.overpass.values) == OVER and out.overpass.attrs == {"note": "as read"}
    # no overpass coordinate, the NDVI in another order: still each step's own day
    out = pair_steps(ndvi.isel(time=[1, 0]), lst.drop_vars("overpass"), "ndvi", "LST",
                     overpass_free=True)
    np.testing.assert_array_equal(out.values, ndvi.values[[0, 0, 1, 1]])
    # 22:30 takes its own day's image, not the next day's (nearer in time)
    late = _series(["2020-01-05T10:30", "2020-01-05T23:30", "2020-01-06T10:30",
                    "2020-01-06T23:30"])
    out = pair_steps(ndvi, late, "ndvi", "LST", overpass_free=True)
    np.testing.assert_array_equal(out.values, ndvi.values[[0, 0, 1, 1]])


def test_a_missing_date_is_refused_with_advice_that_works():
    lst = _series()
    ndvi = _ndvi(lst).isel(time=[0])
    with pytest.raises(GridError, match=r"2 of the LST's 4 steps have no ndvi step of that "
                                        r"date \(e\.g\. 2020-01-06") as err:
        pair_steps(ndvi, lst, "ndvi", "LST", var="ndvi", like_var="lst", overpass_free=True)
    msg = str(err.value)
    assert "lst = lst.isel(time=[0, 1])" in msg
    kept = lst.isel(time=[0, 1])  # the advice, followed
    out = pair_steps(ndvi, kept, "ndvi", "LST", overpass_free=True)
    np.testing.assert_array_equal(out.values, ndvi.values[[0, 0]])
    # a long series: the advice is the dates both have, not the positions
    days = np.arange("2020-01-01", "2020-01-21", dtype="datetime64[D]")
    times = np.sort(np.concatenate([days + np.timedelta64(630, "m"),
                                    days + np.timedelta64(1350, "m")]))
    long = _series(times, np.full(len(times), 300.0), None)
    some = _ndvi(long, [str(d) for d in days[:-1]])
    with pytest.raises(GridError) as err:
        pair_steps(some, long, "ndvi", "LST", var="some", like_var="long", overpass_free=True)
    code = str(err.value).split("`long = ")[1].split("`")[0]
    kept = eval(code, {"long": long, "some": some})  # the advice, followed
    assert kept.sizes["time"] == 38
    assert pair_steps(some, kept, "ndvi", "LST", overpass_free=True).sizes["time"] == 38


def test_scalar_date_serves_the_steps_of_its_calendar_day():
    lst = _series().isel(time=[0, 1])
    ndvi = _ndvi(lst)
    out = pair_steps(ndvi.isel(time=0), lst, "ndvi", "LST", overpass_free=True)  # was refused
    np.testing.assert_array_equal(out.values, ndvi.values[[0, 0]])
    np.testing.assert_array_equal(out.time.values, lst.time.values)
    assert list(out.overpass.values) == ["day", "night"]
    # another date, or steps of two days, stay refused; so does a field of one overpass
    with pytest.raises(GridError, match="none of them that one"):
        pair_steps(ndvi.isel(time=1), lst, "ndvi", "LST", overpass_free=True)
    with pytest.raises(GridError, match="give the ndvi of each") as err:
        pair_steps(ndvi.isel(time=0), _series(), "ndvi", "LST", overpass_free=True)
    assert "sr = sr.isel(time=[0, 1])" in str(err.value)  # not one step: both of its day
    with pytest.raises(GridError):
        pair_steps(ndvi.isel(time=0).assign_attrs(day_night="day"), lst, "fine", "LST",
                   overpass_free=True)


def test_an_lst_truth_is_not_paired_by_day():
    """Not overpass_free (an LST truth of nominal dates): which overpass it is cannot be told."""
    lst = _series()
    with pytest.raises(GridError):
        pair_steps(_ndvi(lst), lst, "truth", "LST")
    with pytest.raises(GridError):
        pair_steps(_ndvi(lst).isel(time=0), lst.isel(time=[0, 1]), "truth", "LST")


def test_calibration_and_estimate_offset_take_the_per_date_field():
    lst = _series().isel(time=[0, 1])  # 2020-01-05 at 10:30 and 22:30
    ndvi = _ndvi(lst)
    t = ndvi.time.values[0]
    truth = lst + 1.0 + 2.0 * ndvi.sel(time=[t]).values
    truth.attrs = dict(lst.attrs)
    one = ndvi.isel(time=[0, 0]).assign_coords(time=lst.time)  # one copy per step
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = fit_calibration(lst, truth, one, min_pixels=10)
        cal = fit_calibration(lst, truth, ndvi.sel(time=t), min_pixels=10)  # was refused
        assert cal.to_dict() == ref.to_dict()
        want = apply_calibration(lst, cal, one, check=False)
        got = apply_calibration(lst, cal, ndvi.sel(time=t), check=False)  # was refused
    np.testing.assert_array_equal(got.values, want.values)
    assert list(got.overpass.values) == ["day", "night"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the NDVI by its dates, along time: was refused as 16-day composites ('15D')
        cal = fit_calibration(lst, truth, ndvi, min_pixels=10)
        assert cal.to_dict() == ref.to_dict()
        got = apply_calibration(lst, cal, ndvi, check=False)
    np.testing.assert_array_equal(got.values, want.values)

    waves = Waves(5)
    coarse = xr.concat([_coarse_lst(waves, 350.0)] * 4, "time").assign_coords(
        time=np.array(ACQ, dtype="datetime64[ns]"), overpass=("time", OVER))
    fine = xr.concat([_fine_same_crs(waves, (50.0, 0.0)), _fine_same_crs(waves, (-50.0, 0.0))],
                     "time").assign_coords(
        time=np.array(["2020-01-05", "2020-01-06"], dtype="datetime64[ns]"))
    est = estimate_offset(fine, coarse, radiometric=False)  # was refused
    np.testing.assert_allclose(est.shift_x.values, [50.0, 50.0, -50.0, -50.0], atol=15.0)
    est = estimate_offset(fine.isel(time=0), coarse.isel(time=[0, 1]), radiometric=False)
    np.testing.assert_allclose(est.shift_x.values, [50.0, 50.0], atol=15.0)
