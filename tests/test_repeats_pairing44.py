"""A day+night series whose dates repeat (an ``overpass`` coordinate along time): a per-date
NDVI or fine field serves both overpasses of its date (fit_calibration, apply_calibration with
and without time_tolerance, estimate_offset were refused), an LST truth still pairs by date
and overpass only; and the 00:00 dates of such a series pair with a truth of the same days and
overpasses dated at its acquisition times (were all "missing")."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from test_coregister import Waves, _coarse_lst, _fine_same_crs

import xlstsr
from xlstsr.calibration import Calibration, apply_calibration, fit_calibration
from xlstsr.coregister import estimate_offset
from xlstsr.errors import GridError
from xlstsr.steps import pair_steps

DATES = ["2020-01-05", "2020-01-05", "2020-01-06", "2020-01-06"]
OVER = ["day", "night", "day", "night"]
N = 16


def _series(times=DATES, values=(300, 280, 301, 281), over=OVER, seed=0):
    noise = np.random.default_rng(seed).normal(0, 2, (len(values), N, N)).astype("float32")
    da = xr.DataArray(np.array(values, "float32")[:, None, None] + noise,
                      dims=("time", "y", "x"),
                      coords={"time": np.array(times, dtype="datetime64[ns]"),
                              "y": 4e6 - np.arange(N) * 250.0 - 125,
                              "x": np.arange(N) * 250.0 + 125},
                      name="LST", attrs={"units": "K"})
    if over is not None:
        da = da.assign_coords(overpass=("time", list(over)))
    return da.rio.write_crs("EPSG:32632")


def _ndvi(lst):
    rng = np.random.default_rng(1)
    return xr.DataArray(rng.uniform(0.1, 0.8, (2, N, N)).astype("float32"),
                        dims=("time", "y", "x"),
                        coords={"time": np.array(["2020-01-05", "2020-01-06"],
                                                 dtype="datetime64[ns]"),
                                "y": lst.y, "x": lst.x}, name="NDVI").rio.write_crs("EPSG:32632")


# -- 01: a field of no overpass against a day+night series ---------------------------------------

def test_per_date_ndvi_serves_day_and_night_steps():
    lst = _series()
    ndvi = _ndvi(lst)
    both = ndvi.sel(time=lst.time)  # the NDVI of each step, labelled by the series' overpasses
    truth = lst + 1.0 + 2.0 * both.values
    truth.attrs = dict(lst.attrs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cal = fit_calibration(lst, truth, ndvi, min_pixels=10)
        ref = fit_calibration(lst, truth, both, min_pixels=10)
        assert cal.to_dict() == ref.to_dict()
        want = apply_calibration(lst, cal, both, check=False)
        for tol in (None, "1D"):
            got = apply_calibration(lst, cal, ndvi, time_tolerance=tol, check=False)
            np.testing.assert_array_equal(got.values, want.values)
            assert list(got.overpass.values) == OVER


def test_overpass_free_pairing_carries_like_labels_and_refuses_what_it_cannot_tell():
    lst = _series()
    lst["overpass"].attrs["note"] = "as read"
    ndvi = _ndvi(lst)
    out = pair_steps(ndvi, lst, "ndvi", "LST", overpass_free=True)
    assert list(out.overpass.values) == OVER and out.overpass.attrs == {"note": "as read"}
    np.testing.assert_array_equal(out.values, ndvi.values[[0, 0, 1, 1]])
    # copies of one date (match_steps' repeats) serve both steps; differing ones are a guess
    copies = ndvi.isel(time=[0, 0, 1, 1])
    np.testing.assert_array_equal(
        pair_steps(copies, lst, "ndvi", "LST", overpass_free=True).values, out.values)
    differ = copies.copy(data=np.random.default_rng(2).random(copies.shape))
    with pytest.raises(GridError, match="steps 0 and 1, with other values"):
        pair_steps(differ, lst, "ndvi", "LST", overpass_free=True)
    with pytest.raises(GridError, match=r"2 of the LST's 4 steps have no ndvi step of that "
                                        r"date \(e\.g\. 2020-01-06"):
        pair_steps(ndvi.isel(time=[0]), lst, "ndvi", "LST", overpass_free=True)
    # an LST truth of no overpass is refused as before: its day and night differ by many K
    with pytest.raises(GridError, match="of no known overpass"):
        pair_steps(ndvi, lst, "truth", "LST")


def test_estimate_offset_takes_a_per_date_fine_field_for_day_and_night():
    waves = Waves(5)
    lst = xr.concat([_coarse_lst(waves, 350.0)] * 4, "time").assign_coords(
        time=np.array(DATES, dtype="datetime64[ns]"), overpass=("time", OVER))
    fine = xr.concat([_fine_same_crs(waves, (50.0, 0.0)), _fine_same_crs(waves, (-50.0, 0.0))],
                     "time").assign_coords(time=np.array(DATES[::2], dtype="datetime64[ns]"))
    est = estimate_offset(fine, lst, radiometric=False)
    np.testing.assert_allclose(est.shift_x.values, [50.0, 50.0, -50.0, -50.0], atol=15.0)


# -- 02: date-only repeats against a truth at acquisition times ----------------------------------

ACQ = ["2020-01-05T10:45", "2020-01-05T22:30", "2020-01-06T10:45", "2020-01-06T22:30"]


def test_date_only_repeats_pair_with_acquisition_times_by_day_and_overpass():
    sr = _series()
    # the truth in another order: paired by day and overpass, not by position
    truth = _series(ACQ, seed=0).isel(time=[1, 0, 3, 2])
    paired = pair_steps(truth, sr, "truth")
    np.testing.assert_array_equal(paired.values, _series(ACQ, seed=0).values)
    assert list(paired.overpass.values) == OVER
    scores = xlstsr.evaluate(sr, truth)
    np.testing.assert_allclose(scores["bias"].values, 0.0, atol=1e-6)


def test_date_only_repeats_missing_steps_are_counted_by_day_and_overpass():
    sr = _series()
    truth = _series(ACQ).isel(time=[0, 1, 2])  # no night step of 01-06
    with pytest.raises(GridError, match=r"1 of the super-resolved field's 4 steps have no "
                                        r"truth step of that date and overpass \(e\.g\. "
                                        r"2020-01-06 00:00:00 'night'"):
        pair_steps(truth, sr, "truth")
    # two day granules of one date: which one is meant is not guessed
    two = _series([ACQ[0], "2020-01-05T11:10", *ACQ[1:]], (300, 300, 280, 301, 281),
                  ["day", "day", "night", "day", "night"])
    with pytest.raises(GridError, match="two steps of the date 2020-01-05 10:45:00 and "
                                        "overpass 'day'"):
        pair_steps(two, sr, "truth")


# -- probe 44c: a scalar-date NDVI against one date's day+night steps; lazy repeats unread -----

def test_scalar_date_ndvi_serves_the_day_and_night_steps_of_its_date():
    lst = _series().isel(time=[0, 1])  # 2020-01-05 day and night
    ndvi = _ndvi(lst)
    t = lst.time.values[0]
    truth = lst + 1.0 + 2.0 * ndvi.sel(time=[t]).values
    truth.attrs = dict(lst.attrs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = apply_calibration(lst, fit_calibration(lst, truth, ndvi.sel(time=[t]),
                                                      min_pixels=10),
                                 ndvi.sel(time=[t]), check=False)
        cal = fit_calibration(lst, truth, ndvi.sel(time=t), min_pixels=10)  # was refused
        got = apply_calibration(lst, cal, ndvi.sel(time=t), check=False)     # was refused
    np.testing.assert_array_equal(got.values, want.values)
    assert list(got.overpass.values) == ["day", "night"]
    out = pair_steps(ndvi.sel(time=t), lst, "ndvi", "LST", overpass_free=True)
    np.testing.assert_array_equal(out.values, ndvi.values[[0, 0]])
    assert list(out.overpass.values) == ["day", "night"]
    # another date, steps of two dates, or an LST truth (no overpass_free) stay refused
    with pytest.raises(GridError, match="no 'time' step of that date"):
        pair_steps(ndvi.isel(time=1), lst, "ndvi", "LST", overpass_free=True)
    with pytest.raises(GridError, match="4 'time' steps are of 2 dates: give the ndvi of each"):
        pair_steps(ndvi.isel(time=0), _series(), "ndvi", "LST", overpass_free=True)
    with pytest.raises(GridError, match="2 'time' steps of that date"):
        pair_steps(ndvi.isel(time=0), lst, "truth", "LST")


def test_lazy_ndvi_repeats_are_not_read_at_the_call_and_checked_when_computed():
    pytest.importorskip("dask")
    import dask.array as dsa

    lst = _series().chunk({"time": 1})
    ndvi = _ndvi(lst)
    reads = []

    def read(block):
        reads.append(block.shape)
        return block

    lazy = ndvi.copy(data=dsa.from_array(ndvi.values, chunks=(1, N, N)).map_blocks(
        read, dtype=ndvi.dtype, meta=np.array((), ndvi.dtype)))
    copies = lazy.sel(time=lst.time.values)  # one copy per step of the series
    cal = Calibration(slope=1.0, offset=0.0, ndvi=-2.0)
    out = apply_calibration(lst, cal, copies, check=False)
    assert reads == []  # equals() read the 4 blocks here
    np.testing.assert_allclose(out.values, lst.values - 2.0 * ndvi.values[[0, 0, 1, 1]],
                               rtol=1e-6)
    # repeats of other values are refused when computed, as an eager field's at the call
    other = copies.copy(data=copies.data * dsa.from_array(
        np.array([1.0, 0.5, 1.0, 1.0], "float32")[:, None, None], chunks=(1, 1, 1)))
    paired = pair_steps(other, lst, "ndvi", "LST", overpass_free=True)
    with pytest.raises(GridError, match="steps 0 and 1, with other values"):
        paired.compute()


# -- review 44f: a field of its own overpass is paired by it; extra granules left out -----------

def test_a_day_fine_field_is_not_paired_with_night_steps():
    """overpass_free pairs by date only a field of no known overpass: a fine LST marked day
    (its day_night, as the ECOSTRESS and MODIS readers set) was compared with the night steps
    too, without a word."""
    lst = _series()
    fine = _ndvi(lst).assign_attrs(day_night="day")
    with pytest.raises(GridError, match=r"2 of the LST's 4 steps have no fine field step of "
                                        r"that date and overpass"):
        pair_steps(fine, lst, "fine field", "LST", overpass_free=True)


def test_two_granules_of_a_day_the_series_lacks_are_left_out():
    sr = _series().isel(time=[0, 1])  # 01-05 only
    two = _series([ACQ[0], ACQ[1], "2020-01-06T10:45", "2020-01-06T11:10"],
                  (300, 280, 301, 301), ["day", "night", "day", "day"])
    paired = pair_steps(two, sr, "truth")
    np.testing.assert_array_equal(paired.values, two.isel(time=[0, 1]).values)


# -- read-through 44g -----------------------------------------------------------------------

def test_scalar_ndvi_against_several_dates_is_told_to_give_each_date():
    """A scalar-date NDVI against day+night steps of two dates: the advice was to mark its
    overpass ('night'), which would leave the day step unpaired; an NDVI serves both."""
    lst = _series()
    with pytest.raises(GridError, match=r"give the ndvi of each of them") as err:
        pair_steps(_ndvi(lst).isel(time=0), lst, "ndvi", "LST", overpass_free=True)
    assert "day_night" not in str(err.value)


def test_no_coordinate_named_none_is_made():
    """A field's per-step overpass labels not all day/night against a truth marked night by
    its attribute: the truth got a coordinate named None."""
    sr = _series(over=["day", "night", "unknown", "night"])
    truth = _series(seed=3, over=None).assign_attrs(day_night="night")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = pair_steps(truth.isel(time=[0, 2]).assign_coords(
            time=np.array(["2020-01-05", "2020-01-06"], dtype="datetime64[ns]")),
            sr.isel(time=[0, 2]).assign_coords(
            time=np.array(["2020-01-05", "2020-01-06"], dtype="datetime64[ns]")), "truth")
    assert None not in out.coords
