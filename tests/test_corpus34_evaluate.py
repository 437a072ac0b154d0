"""Corpus 34 (evaluate): the nearest-step advice (and evaluate's own overpass pairing) pairing a
daily date without an overpass with the previous day's (13.5 h away), the reference_clear grid
advice failing on every boolean mask (GDAL has no bool) where a full-scene mask of a windowed
reference could simply be cut, and the result's attrs silent about reference_clear and
clear=True."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from rasterio.enums import Resampling
from rasterio.transform import from_origin

import xlstsr
from xlstsr.errors import GridError


def _daily(n=3, size=32, seed=0):
    """sr of n daily dates (00:00) and its truth, each day's truth its own field."""
    rng = np.random.default_rng(seed)
    t = pd.date_range("2020-07-01", periods=n, freq="D")
    y, x = 1000.0 - 250.0 * np.arange(size), 250.0 * np.arange(size)
    truth = xr.DataArray(300.0 + 5.0 * rng.standard_normal((n, size, size)),
                         dims=("time", "y", "x"), coords={"time": t, "y": y, "x": x},
                         ).rio.write_crs(32611)
    sr = truth + rng.standard_normal(truth.shape) * np.arange(1, n + 1)[:, None, None]
    for da in (truth, sr):
        da.attrs["units"] = "K"
    return sr, truth


def _code(msg, start):
    """The code of the advice in backticks that begins with ``start``."""
    return next(c for c in re.findall(r"`([^`]+)`", msg) if c.startswith(start))


# -- 11: a date-only label pairs with its own day's overpass only ----------------------------


def test_advice_for_a_day_without_its_overpass_pairs_own_days():
    sr, truth = _daily()
    reference = truth.isel(time=[0, 2])
    reference = reference.assign_coords(time=reference.time + np.timedelta64(630, "m"))
    with pytest.raises(GridError, match="no reference step on its own day") as e:
        xlstsr.evaluate(sr, reference)
    msg = str(e.value)
    assert "method='nearest'" not in msg
    ns = {"sr": sr, "reference": reference}
    exec(_code(msg, "sr = "), ns)  # the advice, verbatim
    exec(_code(msg, "reference = "), ns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = xlstsr.evaluate(ns["sr"], ns["reference"])
        own = xlstsr.evaluate(sr.isel(time=[0, 2]), truth.isel(time=[0, 2]))
    np.testing.assert_allclose(ds.rmse.values, own.rmse.values)
    assert list(ds.time.values) == list(own.time.values)


def test_nearest_advice_kept_when_every_day_has_its_overpass():
    sr, truth = _daily()
    reference = truth.assign_coords(time=truth.time + np.timedelta64(630, "m"))
    # the reference_clear pairing (pair_steps without evaluate's own overpass pairing)
    with pytest.raises(GridError, match="method='nearest'"):
        xlstsr.steps.pair_steps(reference, sr)


def test_evaluate_does_not_pair_a_day_with_the_previous_days_overpass():
    """sr of 07-02 and 07-03 against overpasses of 07-01 and 07-03: 07-02 was scored against
    07-01's truth (a pairing 'less than a day apart'), silently."""
    sr, truth = _daily()
    reference = truth.isel(time=[0, 2])
    reference = reference.assign_coords(time=reference.time + np.timedelta64(630, "m"))
    with pytest.raises(GridError, match="no reference step on its own day"):
        xlstsr.evaluate(sr.isel(time=[1, 2]), reference)


# -- 08: reference_clear on another grid -----------------------------------------------------


def _scene(n=60, seed=1):
    rng = np.random.default_rng(seed)
    t = from_origin(500000.0, 4000000.0, 70.0, 70.0)
    ref = xr.DataArray(300.0 + 3.0 * rng.standard_normal((n, n)), dims=("y", "x"),
                       coords={"y": t.f + t.e * (np.arange(n) + 0.5),
                               "x": t.c + t.a * (np.arange(n) + 0.5)},
                       attrs={"units": "K"}).rio.write_crs(32611)
    mask = xr.DataArray(rng.random((n, n)) > 0.2, coords=ref.coords, dims=ref.dims)
    return ref, mask.rio.write_crs(32611)


def test_full_scene_mask_is_cut_to_a_windowed_reference():
    full, mask = _scene()
    win = dict(y=slice(10, 40), x=slice(15, 50))
    reference = full.isel(**win)
    sr = reference + 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = xlstsr.evaluate(sr, reference, reference_clear=mask, erode=1)
        want = xlstsr.evaluate(sr, reference, reference_clear=mask.isel(**win), erode=1)
    assert int(got.n_valid) == int(want.n_valid) < reference.size
    np.testing.assert_allclose(float(got.rmse), float(want.rmse))


def test_mask_on_another_grid_advice_runs_on_a_bool_mask():
    full, mask = _scene()
    reference = full.isel(y=slice(10, 40), x=slice(15, 50))
    other = mask.assign_coords(x=mask.x + 20.0)  # shifted by a fraction of a pixel
    other.attrs["_FillValue"] = 255  # as rioxarray reads a uint8 mask
    sr = reference + 0.5
    with pytest.raises(GridError, match="not on the reference's grid") as e:
        xlstsr.evaluate(sr, reference, reference_clear=other)
    ns = {"mask": other, "reference": reference, "Resampling": Resampling}
    exec(_code(str(e.value), "mask = "), ns)  # the advice, verbatim
    assert ns["mask"].dtype == bool
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = xlstsr.evaluate(sr, reference, reference_clear=ns["mask"])
    assert 0 < int(ds.n_valid) < reference.size


# -- 09: the result names the masks applied --------------------------------------------------


def test_attrs_name_reference_clear_and_clear():
    full, mask = _scene()
    sr = full + 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = xlstsr.evaluate(sr, full, erode=1, valid_min=230)
        both = xlstsr.evaluate(sr, full, erode=1, valid_min=230, clear=True,
                               reference_clear=mask)
    assert "clear" not in plain.attrs["reference_mask"]
    assert "reference_clear mask applied" in both.attrs["reference_mask"]
    assert "clear-sky erosion around threshold gaps" in both.attrs["reference_mask"]


def test_cftime_dates_against_numpy_acquisitions_are_scored():
    # review34f/04: the same-day pairing took cftime labels, then the hour check called
    # pd.Timestamp on them (a raw TypeError)
    import cftime

    fine = xlstsr.datasets.sample_scene(n_times=3, size=64, seed=3)["lst_250m"]
    sr = fine.assign_coords(time=[cftime.DatetimeGregorian(2020, 7, d) for d in (1, 2, 3)])
    ref = fine.assign_coords(time=pd.to_datetime(
        ["2020-07-01T10:30", "2020-07-02T10:30", "2020-07-03T10:30"]))
    np.testing.assert_array_equal(xlstsr.evaluate(sr, ref)["rmse"].values, 0.0)


def test_utc_acquisitions_against_local_dates_get_no_wrong_day_pairing():
    # review34f/05: UTC 21:00 of the day before is each local date's overpass; the same-UTC-day
    # step is the next local morning: the advice must not paste that pairing
    fine = xlstsr.datasets.sample_scene(n_times=3, size=64, seed=3)["lst_250m"]
    sr = fine.assign_coords(time=pd.to_datetime(["2020-07-01", "2020-07-02", "2020-07-03"]))
    ref = fine.assign_coords(time=pd.to_datetime(
        ["2020-06-30T21:00", "2020-07-01T21:00", "2020-07-02T21:00"]))
    with pytest.raises(GridError, match="different clocks") as err:
        xlstsr.evaluate(sr, ref)
    assert ".isel(" not in str(err.value)
    shifted = ref.assign_coords(time=ref["time"] + pd.Timedelta(hours=10))  # H = +10
    np.testing.assert_array_equal(xlstsr.evaluate(sr, shifted)["rmse"].values, 0.0)
