"""Corpus 27 (evaluate): a cube's steps warped together (one step's score moved with the other
steps), co-registration of one truth image under a coarse cube with a cloudy step (refused,
and the advice failed when followed), scales offered by the reference alone (Landsat Level-1
counts read as K x 100 and scored 50 K off, exit 0), and truths dated by their acquisition
time against an sr of nominal dates (refused with a time dim, scored with a scalar date)."""

from __future__ import annotations

import re
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from affine import Affine
from rasterio.enums import Resampling

import xlstsr
from xlstsr import errors
from xlstsr.evaluate import reference_mask

ev = sys.modules["xlstsr.evaluate"]  # the module (xlstsr.evaluate is also the function)


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


# --- 1. a cube warped step by step ----------------------------------------------------------

@pytest.fixture(scope="module")
def cube_utm():
    """A 3-step sr with clouds and a truth in another CRS and resolution (as ASTER's)."""
    s = xlstsr.datasets.sample_scene(n_times=3, size=96, cloud_fraction=0.3, seed=2)
    sr = _quiet(xlstsr.upscale, s["lst_1km"], 4, "bicubic")
    ref = s["lst_250m"].rio.reproject("EPSG:32631", resolution=120,
                                      resampling=Resampling.bilinear, nodata=np.nan)
    return sr, ref


def test_a_steps_scores_do_not_depend_on_the_other_steps_of_the_cube(cube_utm):
    sr, ref = cube_utm
    alone = _quiet(xlstsr.evaluate, sr.isel(time=[0]), ref.isel(time=[0]))
    cube = _quiet(xlstsr.evaluate, sr, ref)
    filled = sr.copy()
    filled[1] = filled[1].fillna(300.0)  # only another step changes
    other = _quiet(xlstsr.evaluate, filled.isel(time=[0, 1]), ref.isel(time=[0, 1]))
    for ds in (cube, other):
        assert int(ds.n_valid[0]) == int(alone.n_valid[0])
        assert float(ds.rmse[0]) == float(alone.rmse[0])
        assert float(ds.spectral_ratio_sym[0]) == float(alone.spectral_ratio_sym[0])


def test_one_step_is_warped_by_the_same_call_as_before(cube_utm):
    sr, ref = cube_utm
    template = ref.isel(time=0, drop=True)
    for one in (sr.isel(time=[1]), sr.isel(time=1)):  # a one-step cube, a 2-D field
        before = one.astype(np.float64).rio.write_nodata(np.nan, encoded=False).rio.reproject_match(
            template, resampling=Resampling.bilinear, nodata=np.nan)
        now = ev._reproject(one, ref)
        assert now.dims == before.dims
        np.testing.assert_array_equal(now.values, before.values)  # bit-identical, NaN included
    # two leading dims: each image as that image alone
    two = sr.expand_dims(band=[1]).transpose("time", "band", "y", "x")
    out = ev._reproject(two, ref)
    assert out.dims == ("time", "band", "y", "x")
    np.testing.assert_array_equal(out.isel(time=2, band=0).values,
                                  ev._reproject(sr.isel(time=2), ref).values)


# --- 2. co-registration of a 2-D truth under a coarse cube ----------------------------------

_DX, _DY = 100.0, -60.0


def _moved(f: xr.DataArray) -> xr.DataArray:
    return f.assign_coords(x=f.x + _DX, y=f.y + _DY).rio.write_transform(
        Affine.translation(_DX, _DY) * f.rio.transform())


@pytest.fixture(scope="module")
def cloudy_step():
    s = xlstsr.datasets.sample_scene(n_times=3, size=128, seed=3, cloud_fraction=0.0)
    lst = s["lst_1km"].copy()
    lst[1] = np.nan
    lst[1, :3, :3] = 300.0  # step 1: 99.8 % cloud
    sr = _quiet(xlstsr.upscale, lst, 4, "bicubic")
    return lst, sr, _moved(s["lst_250m"].isel(time=0, drop=True))


def test_a_2d_truth_under_a_cube_with_a_cloudy_step_is_scored_on_the_reliable_steps(
        cloudy_step):
    lst, sr, truth = cloudy_step
    with pytest.warns(UserWarning, match=r"co-registration: \d of 3 steps gave no reliable"):
        ds = xlstsr.evaluate(sr, truth, coarse=lst, coregister=True)
    assert ds.sizes["time"] == 3
    assert abs(float(ds.coregistration_shift_x) + _DX) < 30
    assert abs(float(ds.coregistration_shift_y) + _DY) < 30


def test_the_coregistration_advice_for_a_cube_works_when_followed(cloudy_step):
    lst, sr, larger = cloudy_step
    small = larger.isel(y=slice(40, 60), x=slice(40, 60))  # too few coarse pixels
    with pytest.raises(errors.CoregistrationError, match=r"larger area") as info:
        _quiet(xlstsr.evaluate, sr, small, coarse=lst, coregister=True)
    code = re.search(r"`coregister=(xlstsr\.estimate_offset\(.*?\))`", str(info.value))
    assert code and "errors='warn'" in code.group(1)
    est = _quiet(eval, code.group(1), {"xlstsr": xlstsr, "reference_mask": reference_mask,
                                       "larger": larger, "coarse": lst})
    ds = _quiet(xlstsr.evaluate, sr, small, coarse=lst, coregister=est)
    assert abs(float(ds.coregistration_shift_x) + _DX) < 30


# --- 3. scales offered only near sr; a large bias warned ------------------------------------

def _band10_counts(kelvin: np.ndarray) -> np.ndarray:
    """Landsat 8 band-10 digital numbers of brightness temperatures (its MTL's calibration)."""
    ml, al, k1, k2 = 3.342e-4, 0.1, 774.8853, 1321.0789
    return np.round((k1 / (np.exp(k2 / kelvin) - 1.0) - al) / ml)


@pytest.fixture(scope="module")
def one_scene():
    """A scene about 290 K (as the Landsat scene of the corpus: 289 K): its band-10 counts
    x 0.01 are some 45 K colder (near 300 K the two lie within 20 K: both are named)."""
    s = xlstsr.datasets.sample_scene(n_times=1, size=64, cloud_fraction=0.0, seed=4)
    cool = {k: v - 12.0 for k, v in s.items() if k.startswith("lst")}
    for v in cool.values():
        v.attrs = {"units": "K"}
    sr = _quiet(xlstsr.upscale, cool["lst_1km"].isel(time=0), 4, "bicubic")
    return sr, cool["lst_250m"].isel(time=0)


@pytest.mark.parametrize("declared", [True, False])  # scale_factor=1 as GDAL writes it, or none
def test_landsat_level1_counts_are_not_offered_a_kelvin_scale(one_scene, declared):
    sr, truth = one_scene
    dn = truth.copy(data=_band10_counts(truth.values).astype("uint16"))
    dn.attrs = {"scale_factor": 1.0, "add_offset": 0.0} if declared else {}
    with pytest.raises(errors.XlstsrError, match=r"open_landsat8_l1") as info:
        _quiet(xlstsr.evaluate, sr, dn)
    assert "reference_scale=" not in str(info.value)  # K x 100 is ~60 K off sr's median
    assert "x 0.01 gives" in str(info.value)


def test_a_lazy_reference_is_told_the_same_as_one_in_memory(one_scene):
    sr, truth = one_scene
    shifted = truth.assign_coords(x=truth.x + 60.0).rio.write_transform(
        Affine.translation(60.0, 0.0) * truth.rio.transform())  # resampled: computed inside
    dn = shifted.copy(data=_band10_counts(shifted.values).astype("uint16"))
    dn.attrs = {"scale_factor": 1.0, "add_offset": 0.0}
    with pytest.raises(errors.PhysicalRangeError, match=r"open_landsat8_l1") as info:
        _quiet(xlstsr.evaluate, sr.chunk(), dn.chunk())
    assert "reference_scale=" not in str(info.value)


def test_a_kelvin_x100_reference_near_sr_is_still_offered_its_scale(one_scene):
    sr, truth = one_scene
    k100 = truth.copy(data=np.round(truth.values * 100).astype("uint16"))
    k100.attrs = {"scale_factor": 1.0, "add_offset": 0.0}
    with pytest.raises(errors.PhysicalRangeError, match=r"reference_scale=0\.01"):
        _quiet(xlstsr.evaluate, sr, k100)
    assert np.isfinite(float(_quiet(xlstsr.evaluate, sr, k100, reference_scale=0.01).rmse))


def test_a_mean_error_beyond_15_k_is_warned_and_the_refusal_kept(one_scene):
    sr, truth = one_scene
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        xlstsr.evaluate(sr, truth - 5.0)
    assert not [w for w in caught if "on average" in str(w.message)]
    with pytest.warns(UserWarning, match=r"differ by \+2\d\.\d K on average"):
        xlstsr.evaluate(sr, truth - 25.0)
    with pytest.raises(errors.PhysicalRangeError, match=r"differ by \+7\d\.\d K"):
        _quiet(xlstsr.evaluate, sr, truth - 75.0)


def test_level1_counts_given_k_x100_are_warned_with_the_reader_named(one_scene):
    sr, truth = one_scene
    dn = truth.copy(data=_band10_counts(truth.values).astype("uint16"))
    dn.attrs = {"scale_factor": 1.0, "add_offset": 0.0}
    with pytest.warns(UserWarning, match=r"differ by .*open_landsat8_l1"):
        xlstsr.evaluate(sr, dn, reference_scale=0.01)


# --- 4. truths dated by their acquisition time ----------------------------------------------

@pytest.fixture(scope="module")
def two_days():
    s = xlstsr.datasets.sample_scene(n_times=2, size=64, cloud_fraction=0.0, seed=5)
    sr = _quiet(xlstsr.upscale, s["lst_1km"], 4, "bicubic")  # 2020-07-01, 07-02 at 00:00
    return sr, s["lst_250m"]


def test_acquisition_times_are_paired_with_nominal_dates_as_a_scalar_date_is(two_days):
    sr, truth = two_days
    acquired = truth.assign_coords(time=truth.time + np.timedelta64(630, "m"))
    cube = _quiet(xlstsr.evaluate, sr, acquired)
    same = _quiet(xlstsr.evaluate, sr, truth)
    np.testing.assert_array_equal(cube.rmse.values, same.rmse.values)
    assert (cube.time.values == sr.time.values).all()
    one = _quiet(xlstsr.evaluate, sr.isel(time=[0]), acquired.isel(time=[0]))
    scalar = _quiet(xlstsr.evaluate, sr.isel(time=[0]), acquired.isel(time=0))
    np.testing.assert_array_equal(one.rmse.values, np.atleast_1d(scalar.rmse.values))
    # the reference's own cloud mask keeps its acquisition labels
    clear = xr.ones_like(acquired, dtype=bool)
    masked = _quiet(xlstsr.evaluate, sr, acquired, reference_clear=clear)
    np.testing.assert_array_equal(masked.rmse.values, cube.rmse.values)


def test_acquisitions_hours_apart_are_warned_as_for_a_scalar_date(two_days):
    sr, truth = two_days
    at = sr.isel(time=[0]).assign_coords(time=sr.time[:1] + np.timedelta64(630, "m"))
    late = truth.isel(time=[0]).assign_coords(time=truth.time[:1] + np.timedelta64(14, "h"))
    with pytest.warns(UserWarning, match=r"3\.5 h apart, not one overpass"):
        xlstsr.evaluate(at, late)
    with pytest.warns(UserWarning, match=r"3\.5 h apart, not one overpass"):
        xlstsr.evaluate(at, late.isel(time=0))  # the scalar rule's own warning


def test_ambiguous_or_missing_overpasses_are_still_refused(two_days):
    sr, truth = two_days
    t0 = pd.Timestamp(sr.time.values[0])
    twice = truth.isel(time=[0, 0]).assign_coords(time=[t0 + pd.Timedelta("9h"),
                                                        t0 + pd.Timedelta("11h")])
    with pytest.raises(errors.GridError, match=r"labels differ"):
        _quiet(xlstsr.evaluate, sr.isel(time=[0]), twice)
    other_day = truth.assign_coords(time=truth.time + np.timedelta64(3, "D"))
    with pytest.raises(errors.GridError, match=r"labels differ"):
        _quiet(xlstsr.evaluate, sr, other_day)
