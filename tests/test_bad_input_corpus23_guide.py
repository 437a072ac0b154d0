"""Bad inputs of round 23 (corpus23c) about guides: the offset check, dates and tolerances."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.ndimage import gaussian_filter

import xlstsr
from xlstsr import errors
from xlstsr.guide import _as_timedelta, check_alignment, match_steps, measure_offset
from xlstsr.validate import prepare_lst

RES = 250.0  # the guide's pixel; the LST's is 4 times larger


def _pair(n: int, seed: int = 0) -> tuple[xr.DataArray, xr.DataArray]:
    """An LST (n x n at 1 km) that is a linear function of a smooth NDVI (4n x 4n) plus noise:
    a guide whose offset :func:`xlstsr.estimate_offset` measures reliably."""
    rng = np.random.default_rng(seed)
    nd = gaussian_filter(rng.standard_normal((4 * n, 4 * n)), 3)
    nd = np.clip(0.45 + 0.12 * nd / nd.std(), -0.1, 0.95)
    fy = 3_400_000.0 - RES / 2 - RES * np.arange(4 * n)
    fx = 400_000.0 + RES / 2 + RES * np.arange(4 * n)
    ndvi = xr.DataArray(nd.astype(np.float32), dims=("y", "x"), coords={"y": fy, "x": fx},
                        name="ndvi").rio.write_crs("EPSG:32616")
    lv = 320 - 60 * nd.reshape(n, 4, n, 4).mean((1, 3)) + 0.3 * rng.standard_normal((n, n))
    lst = xr.DataArray(lv.astype(np.float32), dims=("y", "x"),
                       coords={"y": fy.reshape(n, 4).mean(1), "x": fx.reshape(n, 4).mean(1)},
                       name="lst", attrs={"units": "K"}).rio.write_crs("EPSG:32616")
    return lst, ndvi


def _series(lst: xr.DataArray, clear: set[int], n: int, cloud: float | None = None,
            seed: int = 0) -> xr.DataArray:
    """``n`` daily copies of ``lst``: those in ``clear`` clear, the others all cloud (or
    ``cloud`` of their pixels)."""
    rng = np.random.default_rng(seed)
    steps = []
    for i in range(n):
        v = lst.values.copy()
        if i not in clear:
            v[rng.random(v.shape) < cloud if cloud is not None else slice(None)] = np.nan
        steps.append(v)
    return xr.DataArray(np.stack(steps), dims=("time", "y", "x"),
                        coords={"time": pd.date_range("2020-07-01", periods=n), "y": lst.y,
                                "x": lst.x}, name="lst", attrs={"units": "K"}
                        ).rio.write_crs(lst.rio.crs)


def _moved_back(caught) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, errors.GuideAlignmentWarning)
            and "moved back" in str(w.message)]


# -- 1. upscale_to_zarr measures an in-memory input's offset as upscale does ----------------------

def test_to_zarr_measures_in_memory_offset_on_all_steps(tmp_path):
    """upscale_to_zarr chunked an in-memory LST before upscale, whose offset check then counted
    8 sampled steps: the one clear day was not among them, the offset guide was not moved, and
    the store differed from upscale's result on the same inputs (12 K on a real pair)."""
    lst1, ndvi = _pair(32)
    guide = ndvi.assign_coords(x=ndvi.x + RES)  # one guide pixel off
    lst = _series(lst1, {1}, 12, cloud=0.97)  # day 1 clear: not among the 8 sampled steps
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mem = xlstsr.upscale(lst, 4, "tsharp", guide=guide)
    assert _moved_back(caught)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        z = xlstsr.upscale_to_zarr(lst, tmp_path / "sr.zarr", 4, "tsharp", guide=guide,
                                   progress=False)
    assert _moved_back(caught)
    np.testing.assert_allclose(z.values, mem.values, atol=1e-3)


def test_to_zarr_in_memory_offset_check_mode_warns(tmp_path):
    """guide_offset='check' on an in-memory input warned with upscale and read nothing (said
    nothing) with upscale_to_zarr, which chunked the input first."""
    lst1, ndvi = _pair(32)
    guide = ndvi.assign_coords(x=ndvi.x + RES)
    with pytest.warns(errors.GuideAlignmentWarning, match="Pass guide_offset='auto'"):
        z = xlstsr.upscale_to_zarr(_series(lst1, {0, 1}, 2), tmp_path / "sr.zarr", 4, "tsharp",
                                   guide=guide, guide_offset="check", progress=False)
    assert z.sizes["time"] == 2


# -- 2. an empty window or sampled steps are no empty LST -----------------------------------------

def test_offset_check_looks_beyond_an_empty_centre():
    """A scene whose central 96 x 96 window is empty on every step (a lake), most of it valid:
    the check estimated on the empty window and the user was told "the LST holds no valid
    pixel". It now measures on the clearest window elsewhere."""
    lst1, ndvi = _pair(120)
    v = lst1.values.copy()
    v[12:108, 12:108] = np.nan  # the 96 x 96 centre
    lst = lst1.copy(data=v).expand_dims(time=pd.date_range("2020-07-01", periods=1))
    guide = ndvi.assign_coords(x=ndvi.x + RES)
    with pytest.warns(errors.GuideAlignmentWarning, match="moved back"):
        est = measure_offset(guide, prepare_lst(lst), "auto", factor=4)
    assert est is not None and abs(float(est.shift_x) + RES) < 0.2 * RES
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sr = xlstsr.upscale(lst, 4, "tsharp", guide=ndvi)  # defaults: guide_offset "auto"
    assert np.isfinite(sr.values).mean() > 0.3


def test_offset_check_lazy_sampled_steps_all_cloud_uses_guide_as_is():
    """A dask LST whose 8 sampled steps are all cloud (2 clear days of 12): 'auto' raised
    AllNaNError "the LST holds no valid pixel". The guide is now used as it is."""
    lst1, ndvi = _pair(32)
    lst = _series(lst1, {1, 4}, 12).chunk({"time": 1})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sr = xlstsr.upscale(lst, 4, "tsharp", guide=ndvi, guide_offset="auto")
        same = xlstsr.upscale(lst, 4, "tsharp", guide=ndvi, guide_offset="ignore")
        np.testing.assert_array_equal(sr.values, same.values)
    assert check_alignment(ndvi, prepare_lst(lst), "auto") is ndvi


def test_offset_check_in_memory_counts_every_step():
    """An in-memory LST with a lazy guide was sampled on 8 steps as if the LST were read from
    disk; its steps cost nothing to count."""
    lst1, ndvi = _pair(32)
    lst = _series(lst1, {1}, 12)
    guide = ndvi.assign_coords(x=ndvi.x + RES).chunk()
    with pytest.warns(errors.GuideAlignmentWarning, match="moved back"):
        assert measure_offset(guide, prepare_lst(lst), "auto", factor=4) is not None


# -- 3. LST dates against a guide labelled later that day -----------------------------------------

def _dated(values, times) -> xr.DataArray:
    return xr.DataArray(np.asarray(values, float), dims="time",
                        coords={"time": pd.to_datetime(times)})


def test_midnight_dates_take_the_composite_of_their_day():
    """16-day composites labelled 10:30 on the first day of their period (open_stac's MOD13A2)
    against LST dates (midnight): the first day of each period silently took the previous
    composite, 16 days older (12 K off)."""
    lst = _dated([0, 0, 0], ["2020-07-26", "2020-07-27", "2020-07-28"])
    comp = _dated([193, 209], ["2020-07-11T10:30", "2020-07-27T10:30"])
    assert match_steps(comp, lst, "time", "16D").values.tolist() == [193, 209, 209]
    # without a tolerance, a date takes the guide step of its day
    day = _dated([0], ["2020-07-27"])
    assert match_steps(comp, day, "time").values.tolist() == [209]
    # the LST at an overpass time before the composite's label that day: the composite of its
    # day as well (a tolerance of days, one guide step a day: matched by calendar day; it took
    # the previous composite, 16 days older, before session 32)
    at = _dated([0], ["2020-07-27T05:00"])
    assert match_steps(comp, at, "time", "16D").values.tolist() == [209]
    # two guide steps on one day (Terra and Aqua): which one a date means is not clear
    two = _dated([1, 2], ["2020-07-27T10:30", "2020-07-27T13:30"])
    with pytest.raises(errors.GuideTimeError):
        match_steps(two, day, "time")


def test_offset_measured_on_the_composite_of_the_day():
    """The offset check picked the guide step by full timestamps too: it measured on the
    previous composite (aligned) and left the one used (offset) unmoved."""
    lst1, ndvi = _pair(32)
    lst = lst1.expand_dims(time=pd.to_datetime(["2020-07-27"]))
    off = ndvi.copy(data=np.roll(ndvi.values, 1, axis=1))  # one guide pixel off in x
    guide = xr.concat([ndvi, off], "time").assign_coords(
        time=pd.to_datetime(["2020-07-11T10:30", "2020-07-27T10:30"]))
    with pytest.warns(errors.GuideAlignmentWarning, match="moved back"):
        est = measure_offset(guide, prepare_lst(lst), "auto", factor=4, time_tolerance="16D")
    assert est is not None and abs(float(est.shift_x) + RES) < 0.2 * RES


# -- 4. months are no tolerance -------------------------------------------------------------------

@pytest.mark.parametrize("tol", ["1MS", "P1M", "1M", "1 month", "2months", "1A", "1YS", "P1Y",
                                 "1QS", pd.offsets.MonthBegin(), pd.DateOffset(months=1),
                                 np.timedelta64(1, "M")])
def test_month_tolerance_refused(tol):
    """'1MS' (pandas' month start) was read as 1 millisecond and 'P1M' (ISO: a month) as 1
    minute, without a word; the error then advised passing the tolerance already given."""
    with pytest.raises(errors.GuideTimeError, match=r"no fixed duration; use e\.g\. '31D'"):
        _as_timedelta(tol)


@pytest.mark.parametrize("tol", ["16D", "1ms", "PT1M", "P1DT2H", "8h", "1m", pd.offsets.Day(3)])
def test_fixed_durations_accepted(tol):
    assert _as_timedelta(tol) is not None


def test_month_tolerance_refused_by_upscale():
    s = xlstsr.datasets.sample_scene(n_times=2, size=32)
    with pytest.raises(errors.GuideTimeError, match="month is no fixed duration"):
        xlstsr.upscale(s["lst_1km"], 4, "tsharp", guide=s["ndvi_250m"],
                       guide_time_tolerance="1MS")


def test_tolerance_error_names_the_duration_read():
    """With a tolerance given, the error advised `guide_time_tolerance=` again; it now says how
    the tolerance was read and how far the nearest guide step is."""
    lst = _dated([0, 0], ["2020-07-03", "2020-07-15"])
    monthly = _dated([1], ["2020-07-01"])
    with pytest.raises(errors.GuideTimeError) as err:
        match_steps(monthly, lst, "time", "PT1M")
    msg = str(err.value)
    assert "was read as 1 minute" in msg and "2 days earlier" in msg
    assert "Pass `guide_time_tolerance=`" not in msg
    with pytest.raises(errors.GuideTimeError, match="the guide begins after 2020-06-03"):
        match_steps(_dated([1], ["2020-07-01"]), _dated([0], ["2020-06-03"]), "time", "16D")
