"""apply_scale_correction pairs DataArrays by label (probe 36c/01) and leaves the images of a
method that adds no detail as it made them in every mode (probe 36c/03)."""

import warnings

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr import errors
from xlstsr.correction import apply_scale_correction
from xlstsr.kernels.interp import cubic_upsample, nearest_upsample


@pytest.fixture(scope="module")
def scene():
    sc = xlstsr.datasets.sample_scene(n_times=2, size=64)
    return sc["lst_1km"], sc["ndvi_250m"]


def _quiet(f, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f(*a, **k)


def test_south_up_lst_is_paired_with_upscales_north_up_output(scene):
    """The natural call on a south-up LST was ~20 K off upscale(..., scale_correction=)."""
    lst, g = scene
    su = lst.isel(y=slice(None, None, -1))
    sr = _quiet(xlstsr.upscale, su, 4, "tsharp", guide=g)
    ref = _quiet(xlstsr.upscale, su, 4, "tsharp", guide=g, scale_correction=0.5).values
    out = _quiet(apply_scale_correction, sr, su, None, 4, 0.5)
    np.testing.assert_allclose(np.asarray(out), ref, atol=1e-4)
    # a DataArray guide, stored south-up or transposed: aligned, as upscale aligns it
    ref = _quiet(xlstsr.upscale, su, 4, "tsharp", guide=g, scale_correction="law").values
    for guide in (g.isel(y=slice(None, None, -1)), g.transpose("x", "y")):
        out = _quiet(apply_scale_correction, sr, su, guide, 4, "law")
        np.testing.assert_allclose(np.asarray(out), ref, atol=1e-4)


def test_transposed_sr_and_reordered_steps_pair_by_label(scene):
    lst, g = scene
    sr = _quiet(xlstsr.upscale, lst, 4, "tsharp", guide=g)
    ref = np.asarray(_quiet(apply_scale_correction, sr, lst, None, 4, 0.5))
    # the result keeps sr's own order: it is sr corrected
    out = _quiet(apply_scale_correction, sr.transpose("time", "x", "y"), lst, None, 4, 0.5)
    np.testing.assert_allclose(np.swapaxes(np.asarray(out), 1, 2), ref, atol=1e-4)
    out = _quiet(apply_scale_correction, sr.isel(x=slice(None, None, -1)), lst, None, 4, 0.5)
    np.testing.assert_allclose(np.asarray(out)[:, :, ::-1], ref, atol=1e-4)
    out = _quiet(apply_scale_correction, sr, lst.isel(time=[1, 0]), None, 4, 0.5)
    np.testing.assert_allclose(np.asarray(out), ref, atol=1e-4)
    # lazily too
    out = _quiet(apply_scale_correction, sr.chunk({"time": 1}).transpose("time", "x", "y"),
                 lst.chunk().isel(time=[1, 0]), None, 4, 0.5)
    np.testing.assert_allclose(np.swapaxes(np.asarray(out), 1, 2), ref, atol=1e-4)


def test_unpaired_dataarrays_are_refused(scene):
    lst, g = scene
    sr = _quiet(xlstsr.upscale, lst, 4, "tsharp", guide=g)
    with pytest.raises(errors.GridError, match="fine grid"):  # another place, same shape
        apply_scale_correction(sr, lst.assign_coords(x=lst.x + 5000), None, 4, 0.5)
    other = lst.assign_coords(time=lst.time + np.timedelta64(1, "D"))
    with pytest.raises(errors.GridError):  # other dates
        apply_scale_correction(sr, other, None, 4, 0.5)


def test_arrays_still_pair_by_position():
    rng = np.random.default_rng(1)
    lst = 300 + 3 * rng.standard_normal((2, 32, 32))
    sr = cubic_upsample(lst, 4) + rng.standard_normal((2, 128, 128))
    ref = apply_scale_correction(sr, lst, None, 4, 0.5)
    bare = apply_scale_correction(xr.DataArray(sr, dims=("t", "a", "b")),
                                  xr.DataArray(lst, dims=("t", "a", "b")), None, 4, 0.5)
    np.testing.assert_array_equal(bare, ref)
    assert np.abs(ref - sr).max() > 0.1  # a method with detail is corrected


@pytest.mark.parametrize("mode", ["auto", "law", "law-lst", 1.0, 0.8, 0.0, 2.0])
@pytest.mark.parametrize("method", ["bicubic", "nearest"])
def test_a_method_without_detail_is_left_as_it_is_in_every_mode(method, mode):
    """A fixed gain changed bicubic by 3.8 K (1.0 included) and 'law' nearest by 14.5 K."""
    rng = np.random.default_rng(0)
    lst = 300 + 3 * rng.standard_normal((2, 32, 32))
    up = cubic_upsample if method == "bicubic" else nearest_upsample
    sr = up(lst, 4)
    out = _quiet(apply_scale_correction, sr, lst, None, 4, mode)
    np.testing.assert_array_equal(out, sr)


def test_an_array_guide_in_srs_layout_follows_sr():
    """A numpy guide given in sr's own layout ((time, x, y) storage, non-square) was refused
    with the aligned shape once sr was reoriented (review 36a/r1)."""
    sc = xlstsr.datasets.sample_scene(n_times=2, size=128)
    lst, g = sc["lst_1km"].isel(x=slice(0, 20)), sc["ndvi_250m"].isel(x=slice(0, 80))
    assert lst.sizes["y"] != lst.sizes["x"]  # non-square: a swap shows
    sr = _quiet(xlstsr.upscale, lst, 4, "tsharp", guide=g)
    ga = np.asarray(g.transpose("y", "x").values)
    ref = np.asarray(_quiet(apply_scale_correction, sr, lst, ga, 4, "law"))
    out = _quiet(apply_scale_correction, sr.transpose("time", "x", "y"), lst, ga.T, 4, "law")
    np.testing.assert_allclose(np.swapaxes(np.asarray(out), 1, 2), ref, atol=1e-5)
    flipped = sr.isel(y=slice(None, None, -1), x=slice(None, None, -1))
    out = _quiet(apply_scale_correction, flipped, lst, ga[::-1, ::-1], 4, "law")
    np.testing.assert_allclose(np.asarray(out)[:, ::-1, ::-1], ref, atol=1e-5)
