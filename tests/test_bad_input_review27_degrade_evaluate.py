"""Review 27: coarsen(emissivity=) takes a static emissivity that carries a scalar date again
(``emis.isel(time=0)``, an 8-day composite's date), and evaluate warps the steps of a cube
that share a NaN mask in one call (bit for bit their warps alone), not one call per step."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from rasterio.enums import Resampling
from rioxarray.raster_array import RasterArray

import xlstsr
from xlstsr import errors

ev = sys.modules["xlstsr.evaluate"]  # the module (xlstsr.evaluate is the function)


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


# --- 1. a static emissivity with a scalar date ------------------------------------------------

@pytest.fixture(scope="module")
def scene():
    s = _quiet(xlstsr.datasets.sample_scene, n_times=3, size=32, seed=1)
    lst = s["lst_250m"]
    rng = np.random.default_rng(3)
    static = xr.full_like(lst.isel(time=0, drop=True), 0.97) + 0.02 * rng.random(lst.shape[-2:])
    series = xr.concat([static * (0.99 + 0.01 * rng.random(static.shape)) for _ in range(3)],
                       "time").assign_coords(time=lst.time)
    return lst, static, series


def _coarsen(lst, emissivity, record=None):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = xlstsr.coarsen(lst, 4, emissivity=emissivity)
    if record is not None:
        record.extend(str(w.message) for w in caught)
    return out


def _date_warnings(messages):
    return [m for m in messages if "days from the LST's nearest date" in m]


def test_a_static_emissivity_selected_from_a_series_is_used_for_every_step(scene):
    lst, _, series = scene
    one = series.isel(time=1)  # a 2-D map carrying time=2020-07-02 as a scalar coordinate
    caught: list[str] = []
    got = _coarsen(lst, one, caught)  # refused: "each would be compared with it"
    ref = _coarsen(lst, one.drop_vars("time"))
    np.testing.assert_array_equal(got.values, ref.values)
    assert got.dims == lst.dims
    assert not _date_warnings(caught)  # one of the LST's own dates


def test_an_8_day_emissivity_dated_days_before_a_one_date_lst_is_used(scene):
    lst, static, _ = scene
    day = lst.isel(time=0)  # 2020-07-01, a scalar coordinate
    dated = static.assign_coords(time=day.time.values - np.timedelta64(6, "D"))
    caught: list[str] = []
    got = _coarsen(day, dated, caught)  # refused: "other dates"
    np.testing.assert_array_equal(got.values, _coarsen(day, static).values)
    assert not _date_warnings(caught)


def test_a_static_emissivity_far_from_the_lst_dates_warns(scene):
    lst, static, _ = scene
    far = static.assign_coords(time=lst.time.values[0] - np.timedelta64(90, "D"))
    for field in (lst, lst.isel(time=2)):
        caught: list[str] = []
        got = _coarsen(field, far, caught)
        np.testing.assert_array_equal(got.values, _coarsen(field, static).values)
        assert len(_date_warnings(caught)) == 1, caught
    gap = (lst.time.values[2] - far.time.values) / np.timedelta64(1, "D")
    assert f"{gap:.0f} days" in _date_warnings(caught)[0]


def test_a_cftime_static_emissivity_is_used_and_its_distance_measured(scene):
    lst, static, _ = scene
    noleap = lst.convert_calendar("noleap", dim="time", use_cftime=True)
    near = static.assign_coords(time=noleap.time.values[0])
    far = static.assign_coords(time=noleap.time.values[0] - pd.Timedelta("40D").to_pytimedelta())
    ref = _coarsen(noleap, static)
    for eps, n_warned in ((near, 0), (far, 1)):
        caught: list[str] = []
        np.testing.assert_array_equal(_coarsen(noleap, eps, caught).values, ref.values)
        assert len(_date_warnings(caught)) == n_warned, caught


def test_a_time_varying_emissivity_is_still_paired_by_label(scene):
    lst, _, series = scene
    with pytest.raises(errors.GridError, match="'time' labels differ"):
        _coarsen(lst, series.isel(time=[0]))  # one step of a series: not static
    with pytest.raises(errors.GridError, match="'time' labels differ"):
        _coarsen(lst, series.assign_coords(time=series.time + pd.Timedelta("1D")))
    np.testing.assert_array_equal(_coarsen(lst, series.isel(time=[2, 0, 1])).values,
                                  _coarsen(lst, series).values)


# --- 2. evaluate's warp: steps of one NaN mask in one call ------------------------------------

@pytest.fixture(scope="module")
def warp_case():
    """An 8-step sr (no NaN, a shared cloud mask, a mask of its own) and a truth in another
    CRS and resolution."""
    s = _quiet(xlstsr.datasets.sample_scene, n_times=1, size=64, seed=4)
    base = s["lst_250m"].isel(time=0, drop=True).astype(np.float64)
    rng = np.random.default_rng(5)
    clouds = [rng.random(base.shape) < p for p in (0.2, 0.05)]
    steps = []
    for i, mask in enumerate([None, None, 0, 1, 0, None, 0, 1]):
        v = base.values + rng.normal(0, 0.5, base.shape) + i
        if mask is not None:
            v[clouds[mask]] = np.nan
        steps.append(base.copy(data=v))
    sr = xr.concat(steps, "time").assign_coords(
        time=pd.date_range("2020-07-01", periods=len(steps)))
    ref = base.rio.reproject("EPSG:32631", resolution=120, resampling=Resampling.bilinear,
                             nodata=np.nan)
    return sr, ref


def _alone(one: xr.DataArray, ref: xr.DataArray) -> np.ndarray:
    """The warp of one image by its own call (the per-step warp)."""
    return np.asarray(one.astype(np.float64).rio.write_nodata(np.nan, encoded=False)
                      .rio.reproject_match(ref, resampling=Resampling.bilinear,
                                           nodata=np.nan).values)


@pytest.fixture
def calls(monkeypatch):
    n = [0]
    original = RasterArray.reproject_match

    def counted(self, *args, **kwargs):
        n[0] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(RasterArray, "reproject_match", counted)
    return n


@pytest.mark.parametrize("which", ["mixed", "no NaN"])
def test_grouped_warps_are_the_per_step_warps_bit_for_bit(warp_case, which):
    sr, ref = warp_case
    if which == "no NaN":
        sr = sr.isel(time=[0, 1, 5])
    out = ev._reproject(sr, ref)
    assert out.dims == sr.dims
    assert list(out.time.values) == list(sr.time.values)
    for i in range(sr.sizes["time"]):
        np.testing.assert_array_equal(out.isel(time=i).values, _alone(sr.isel(time=i), ref))
    # two leading dims: the same images
    two = sr.expand_dims(band=[1, 2]).transpose("time", "band", "y", "x")
    out2 = ev._reproject(two, ref)
    assert out2.dims == ("time", "band", "y", "x")
    for b in range(2):
        np.testing.assert_array_equal(out2.isel(band=b).values, out.values)


def test_steps_of_one_nan_mask_are_warped_in_one_call(warp_case, calls):
    sr, ref = warp_case
    ev._reproject(sr, ref)  # masks: none (3 steps), cloud 0 (3), cloud 1 (2)
    assert calls[0] == 3  # was one call per step: 8
    calls[0] = 0
    ev._reproject(sr.expand_dims(band=[1, 2]).transpose("time", "band", "y", "x"), ref)
    assert calls[0] == 3  # was 16
    calls[0] = 0
    ev._reproject(sr.isel(time=[0, 1, 5]), ref)  # no NaN at all: one call
    assert calls[0] == 1


def test_evaluate_scores_of_a_step_are_unchanged_by_the_grouping(warp_case):
    sr, ref = warp_case
    truth = xr.concat([ref] * sr.sizes["time"], "time").assign_coords(time=sr.time.values)
    cube = _quiet(xlstsr.evaluate, sr, truth)
    for i in (0, 2, 3):
        alone = _quiet(xlstsr.evaluate, sr.isel(time=[i]), truth.isel(time=[i]))
        assert int(cube.n_valid[i]) == int(alone.n_valid[0])
        assert float(cube.rmse[i]) == float(alone.rmse[0])
