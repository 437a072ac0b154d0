"""Bad input, corpus 28: xlstsr.metrics on cubes without step labels, (lat, lon) dims, a south-up
coarse input, a unitless Celsius reference and fields in two CRSs; estimate_offset with a fine
GeoTIFF read as (band=1, y, x)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import xlstsr
from xlstsr import metrics as M
from xlstsr.errors import GridError, UnitsError
from xlstsr.steps import pair_steps


@pytest.fixture(scope="module")
def scene() -> xr.Dataset:
    return xlstsr.datasets.sample_scene(n_times=3, size=32, cloud_fraction=0)


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# -- 1. steps without labels, of other counts ----------------------------------------------------

def test_unlabelled_steps_of_other_counts_are_refused_naming_the_steps(scene):
    # before: "not on the same grid ... reproject" (rmse), xarray's bare AlignmentError
    # (evaluate, coarse_consistency)
    truth = scene["lst_250m"].drop_vars("time")
    sr = truth + 0.5
    for call in (lambda: M.rmse(sr, truth.isel(time=[0, 1])),
                 lambda: _quiet(xlstsr.evaluate, sr, truth.isel(time=[0, 1]))):
        with pytest.raises(GridError, match=r"2 'time' step\(s\).* 3, and neither has 'time' "
                                            r"labels.*assign_coords\(time=dates\)") as err:
            call()
        assert "same grid" not in str(err.value)
    with pytest.raises(GridError, match="1 'time' step"):
        M.coarse_consistency(sr, scene["lst_1km"].drop_vars("time").isel(time=[0]), 4)
    # one side labelled: the other is named
    with pytest.raises(GridError, match=r"the reference has no 'time' labels"):
        pair_steps(truth.isel(time=[0, 1]), scene["lst_250m"])
    # the same number of steps still pairs by position
    np.testing.assert_allclose(M.bias(sr, truth).values, 0.5, atol=1e-9)
    np.testing.assert_allclose(M.bias(scene["lst_250m"] + 0.5, truth).values, 0.5, atol=1e-9)


# -- 2. (lat, lon) dims ----------------------------------------------------------------------------

def _latlon(n: int = 32, px: float = 0.0025) -> xr.DataArray:
    lat = 45 - px / 2 - px * np.arange(n)
    lon = 10 + px / 2 + px * np.arange(n)
    v = 300 + np.random.default_rng(0).standard_normal((n, n))
    return xr.DataArray(v, dims=("lat", "lon"), coords={"lat": lat, "lon": lon},
                        attrs={"units": "K"}).rio.write_crs("EPSG:4326")


def test_metrics_take_lat_lon_dims():
    # before: "no spatial dimensions found in dims ('lat', 'lon'). xlstsr looks for y/x, lat/lon"
    truth = _latlon()
    sr = _quiet(xlstsr.upscale, _quiet(xlstsr.coarsen, truth, 4), 4)
    yx_truth, yx_sr = truth.rename(lat="y", lon="x"), sr.rename(lat="y", lon="x")
    for fn, args in ((M.rmse, ()), (M.ssim, ()), (M.spectral_ratio, (4,))):
        np.testing.assert_allclose(fn(sr, truth, *args).values, fn(yx_sr, yx_truth, *args).values)
    spec = M.radial_power_spectrum(truth)
    np.testing.assert_allclose(spec.values, M.radial_power_spectrum(yx_truth).values)
    np.testing.assert_allclose(spec.frequency.values,
                               M.radial_power_spectrum(yx_truth).frequency.values)


# -- 3. coarse_consistency of a south-up input --------------------------------------------------------

def test_coarse_consistency_of_a_south_up_lst(scene):
    # before: "sr is not on the factor-4 fine grid of the coarse input ... (off by 0, 0 coarse
    # pixels)" for upscale's output of the coarse input itself
    lst = scene["lst_1km"].isel(time=[0, 1])
    want = M.coarse_consistency(_quiet(xlstsr.upscale, lst, 4), lst, 4).values
    for flip in ({"y": slice(None, None, -1)}, {"x": slice(None, None, -1)}):
        other = lst.isel(flip)
        got = M.coarse_consistency(_quiet(xlstsr.upscale, other, 4), other, 4).values
        np.testing.assert_allclose(got, want, rtol=1e-6)
    # still refused: a coarse input elsewhere
    with pytest.raises(GridError, match="off by"):
        M.coarse_consistency(_quiet(xlstsr.upscale, lst, 4), lst.assign_coords(x=lst.x + 2000), 4)


# -- 4. a unitless Celsius field against Kelvin -------------------------------------------------------

def test_metrics_refuse_unitless_celsius_against_kelvin(scene):
    # before: rmse 273.18 K without a word
    sr = scene["lst_250m"]
    ref_c = (sr - 273.15).assign_attrs(units=None)
    ref_c.attrs = {}
    with pytest.raises(UnitsError, match=r"the reference's values \(median .*\) look like "
                                         r"degrees Celsius.*ref \+ 273.15"):
        M.rmse(sr + 0.1, ref_c)
    with pytest.raises(UnitsError, match=r"sr's values .* look like degrees Celsius"):
        M.bias(ref_c, sr)  # the Celsius one given as sr
    with pytest.raises(UnitsError, match="Celsius"):  # lazy: refused when computed
        M.mae(sr.chunk({"time": 1}), ref_c.chunk({"time": 1})).compute()
    with pytest.raises(UnitsError, match="the coarse input's values"):
        coarse_c = scene["lst_1km"] - 273.15
        coarse_c.attrs = {}
        M.coarse_consistency(sr, coarse_c, 4)
    # both unitless and both Kelvin (or both Celsius): scored as before
    bare = sr.copy()
    bare.attrs = {}
    np.testing.assert_allclose(M.bias(bare + 0.5, bare).values, 0.5, atol=1e-9)
    np.testing.assert_allclose(M.bias(ref_c + 0.5, ref_c).values, 0.5, atol=1e-9)


# -- 5. fields in two CRSs ---------------------------------------------------------------------------

def test_metrics_refuse_fields_in_other_crss(scene):
    # before: a MODIS-sinusoidal field scored against the same numbers tagged EPSG:32631
    truth = scene["lst_250m"]
    other = truth.rio.write_crs("EPSG:32631")
    with pytest.raises(GridError, match=r"\+proj=sinu.*EPSG:32631.*reproject_match"):
        M.rmse(truth + 1, other)
    with pytest.raises(GridError, match="other CRSs"):
        M.ssim(other, truth)
    # without a CRS on one side: taken to share the other's
    np.testing.assert_allclose(M.bias(truth + 1, truth.drop_vars("spatial_ref")).values, 1.0,
                               atol=1e-9)


# -- 6. estimate_offset with a fine field of (band=1, y, x) --------------------------------------------

def test_estimate_offset_takes_a_one_band_fine_field():
    # before: "the fine field has dims ['band'] besides (y, x), the LST []: give one fine image"
    s = xlstsr.datasets.sample_scene(n_times=1, size=64)
    fine = s["lst_250m"].isel(time=0).drop_vars("time")
    lst = s["lst_1km"].isel(time=0)
    want = _quiet(xlstsr.estimate_offset, fine, lst)
    got = _quiet(xlstsr.estimate_offset, fine.expand_dims(band=[1]), lst)
    assert float(got.shift_x) == float(want.shift_x)
    assert float(got.shift_y) == float(want.shift_y)
    moved = _quiet(xlstsr.coregister, fine.expand_dims(band=[1]), lst)
    assert moved.sizes["band"] == 1
    # a one-step fine field of another date than the LST's is still refused
    dated = fine.expand_dims(time=[pd.Timestamp("2020-08-01")])
    with pytest.raises(GridError, match="other dates"):
        _quiet(xlstsr.estimate_offset, dated, lst)
