"""Round 39 kernel fixes: fill_gaps / fill_guide on non-C-order arrays, estimate_shift's default
PSF start within max_sigma, cubic_upsample's float16 accumulation, list input of
radiometric_mean / gaussian_psf."""

import numpy as np
import pytest
from scipy import ndimage

from xlstsr.kernels.aggregate import gaussian_psf, radiometric_mean
from xlstsr.kernels.coregister import compared_count, estimate_shift, forward_model
from xlstsr.kernels.interp import cubic_upsample, fill_gaps
from xlstsr.methods.torch_model import fill_guide


# -- 1. gaps filled whatever the memory layout -----------------------------------------------------
def _gappy(shape, dtype=np.float64):
    rng = np.random.default_rng(0)
    a = (300 + rng.normal(size=shape)).astype(dtype)
    a[..., 2, 2] = np.nan
    a[..., 0, 4] = np.nan
    return a


@pytest.mark.parametrize("layout", ["fortran", "transposed"])
def test_fill_gaps_fills_a_4d_array_not_in_c_order(layout):
    a = _gappy((2, 3, 6, 5))
    b = np.asfortranarray(a) if layout == "fortran" else a.transpose(1, 0, 2, 3).copy()
    if layout == "transposed":
        b = b.transpose(1, 0, 2, 3)  # (n, c, Y, X) view of (c, n, Y, X) memory
    assert not b.flags.c_contiguous
    out = fill_gaps(b, 1)
    # before: returned with every gap NaN (the filling went into a reshaped copy)
    assert not np.isnan(out).any()
    np.testing.assert_array_equal(out, fill_gaps(np.ascontiguousarray(a), 1))
    assert out.shape == a.shape and out.dtype == np.float64
    assert np.isnan(b).sum() == 12  # the input is left as it was


@pytest.mark.parametrize("fill_value", [0.5, [0.5, 0.6, 0.7]])
def test_fill_guide_fills_a_transposed_guide_view(fill_value):
    g = np.ascontiguousarray(_gappy((3, 2, 6, 5), np.float32) / 300)  # (c, n, Y, X)
    gv = g.transpose(1, 0, 2, 3)  # (n, c, Y, X), as the model API takes it
    out = fill_guide(gv, 1, fill_value)
    assert not np.isnan(out).any()
    np.testing.assert_array_equal(out, fill_guide(np.ascontiguousarray(gv), 1, fill_value))
    assert out.dtype == np.float32 and out.shape == gv.shape


# -- 2. the default PSF start stays within max_sigma ------------------------------------------------
def _pair():
    rng = np.random.default_rng(0)
    fine = 300 + 40 * ndimage.gaussian_filter(rng.standard_normal((80, 80)), 3)
    return fine, forward_model(fine, 4, 0.5, -0.25, 0.8, min_weight=0.0)


def test_estimate_shift_default_sigma_is_kept_within_max_sigma():
    fine, coarse = _pair()
    # before: "sigma must be ... <= max_sigma (1) fine pixels, got 1.6", a sigma never given
    e = estimate_shift(fine, coarse, 4, max_sigma=1.0)
    assert e.sigma <= 1.0
    assert e.dy == pytest.approx(0.5, abs=0.1) and e.dx == pytest.approx(-0.25, abs=0.1)
    assert compared_count(fine.shape, 4, max_sigma=1.0) == e.n_valid
    # a start given beyond the bound is still refused
    with pytest.raises(ValueError, match=r"<= max_sigma \(1\)"):
        estimate_shift(fine, coarse, 4, max_sigma=1.0, sigma=1.6)


def test_estimate_shift_negative_max_sigma_is_named():
    fine, coarse = _pair()
    with pytest.raises(ValueError, match=r"max_sigma must be >= 0 fine pixels.*got -1"):
        estimate_shift(fine, coarse, 4, max_sigma=-1.0)


# -- 3. cubic_upsample sums float16 taps in float32 --------------------------------------------------
def test_cubic_upsample_float16_is_rounded_once():
    rng = np.random.default_rng(0)
    a = (300 + 5 * rng.normal(size=(32, 32))).astype(np.float16)
    o16 = cubic_upsample(a, 4)
    assert o16.dtype == np.float16 and o16.shape == (128, 128)
    o64 = cubic_upsample(a.astype(np.float64), 4)
    once = np.abs(o64.astype(np.float16).astype(np.float64) - o64).max()
    # before: 0.55 K off (each tap rounded to float16), against 0.125 K rounding the result once
    # (plus float32's round-off, 1e-5 K)
    assert np.abs(o16.astype(np.float64) - o64).max() <= once + 1e-3
    # float32 as float32: the same values as summing float16's widened input
    np.testing.assert_array_equal(o16, cubic_upsample(a.astype(np.float32), 4).astype(np.float16))


# -- 4. array-likes accepted --------------------------------------------------------------------------
def test_radiometric_mean_and_gaussian_psf_take_lists():
    t = [[300.0, 301.0, 299.0, 302.0], [302.0, 303.0, np.nan, 300.0]]
    ta = np.array(t)
    # before: AttributeError: 'list' object has no attribute 'dtype'
    np.testing.assert_array_equal(radiometric_mean(t, 2), radiometric_mean(ta, 2))
    assert radiometric_mean(t, 2).dtype == np.float64
    np.testing.assert_array_equal(gaussian_psf(t, 1.0), gaussian_psf(ta, 1.0))
    assert gaussian_psf(t, 1.0).dtype == np.float64
    ti = [[300, 310], [290, 300]]  # integers: float32 / float64 as documented
    assert radiometric_mean(ti, 2).dtype == np.float32
    assert gaussian_psf(ti, 1.0).dtype == np.float64


def test_radiometric_mean_and_gaussian_psf_keep_taking_xarray_and_dask():
    xr = pytest.importorskip("xarray")
    da = pytest.importorskip("dask.array")
    a = (300 + np.random.default_rng(1).normal(size=(8, 8))).astype(np.float32)
    for wrapped in (xr.DataArray(a, dims=("y", "x")), da.from_array(a, chunks=4)):
        r = radiometric_mean(wrapped, 2)
        assert isinstance(r, np.ndarray) and r.dtype == np.float32
        np.testing.assert_array_equal(r, radiometric_mean(a, 2))
        g = gaussian_psf(wrapped, 1.0)
        assert isinstance(g, np.ndarray) and g.dtype == np.float32
        np.testing.assert_array_equal(g, gaussian_psf(a, 1.0))
