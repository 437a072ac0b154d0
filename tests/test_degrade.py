"""Radiometric degradation: physics, NaN handling, PSF, laziness."""

from __future__ import annotations

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
from helpers import make_lst, raise_if_computed
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import xlstsr
from xlstsr.kernels.aggregate import psf_sigma, radiometric_mean
from xlstsr.kernels.interp import cubic_upsample

temps = arrays(np.float64, (8, 8), elements=st.floats(230, 340))


@given(st.floats(200, 350), st.sampled_from([2, 4]))
def test_constant_field_stays_constant(t, f):
    out = radiometric_mean(np.full((8, 8), t), f)
    np.testing.assert_allclose(out, t, rtol=1e-12)


@given(temps)
def test_radiometric_mean_at_least_linear_mean(a):
    out = radiometric_mean(a, 4)
    lin = a.reshape(2, 4, 2, 4).mean(axis=(1, 3))
    assert (out >= lin - 1e-9).all()
    assert (out <= a.reshape(2, 4, 2, 4).max(axis=(1, 3)) + 1e-9).all()


@settings(deadline=None, max_examples=30)
@given(arrays(np.float64, (12, 12), elements=st.floats(270, 320)))
def test_aggregating_a_bicubic_upscale_returns_close_to_input(a):
    # smooth the field so the cubic kernel's overshoot stays small
    from scipy import ndimage

    a = ndimage.uniform_filter(a, 3, mode="nearest")
    back = radiometric_mean(cubic_upsample(a, 4), 4)
    assert np.abs(back - a)[2:-2, 2:-2].max() < 0.5 * (a.max() - a.min()) + 1e-6


def test_known_difference_from_linear_mean():
    # two halves at 290 K and 310 K: (mean T^4)^(1/4) - mean T ~ 1.5 sigma^2 / T
    a = np.array([[290.0, 310.0], [290.0, 310.0]])
    out = radiometric_mean(a, 2)[0, 0]
    assert out - 300.0 == pytest.approx(1.5 * 100 / 300, rel=0.02)


def test_min_valid_and_nan():
    a = np.full((4, 4), 300.0)
    a[0, 0] = np.nan
    assert np.isnan(radiometric_mean(a, 2)[0, 0])
    assert radiometric_mean(a, 2, min_valid=0.75)[0, 0] == pytest.approx(300.0)
    assert np.isfinite(radiometric_mean(a, 2)[1, 1])


def test_emissivity_weighting():
    t = np.array([[280.0, 320.0]] * 2)
    eps = np.array([[0.9, 1.0]] * 2)
    expected = ((0.9 * 280**4 + 320**4) / 1.9) ** 0.25
    assert radiometric_mean(t, 2, emissivity=eps)[0, 0] == pytest.approx(expected)


def test_psf_sigma_matches_mtf():
    s = psf_sigma(4, 0.3)
    nu = 1 / 8
    assert np.exp(-2 * np.pi**2 * s**2 * nu**2) == pytest.approx(0.3)
    with pytest.raises(ValueError):
        psf_sigma(4, 1.5)


# 4 x 6 fine pixels, 2 x 2 blocks; one gap. Expected values are (mean T^4)^(1/4) of each block,
# worked out to 12 digits outside the library (decimal arithmetic), not by its kernel.
FINE = np.array(
    [
        [290.0, 300.0, 310.0, 320.0, 300.0, 300.0],
        [300.0, 310.0, np.nan, 280.0, 300.0, 300.0],
        [270.0, 330.0, 305.0, 305.0, 250.0, 350.0],
        [310.0, 290.0, 305.0, 305.0, 350.0, 250.0],
    ]
)
COARSE = np.array(
    [
        [300.249734287131, np.nan, 300.0],
        [302.473048059978, 305.0, 311.838502584084],  # 250/350 K: 11.8 K above the linear mean
    ]
)


def test_coarsen_is_the_radiometric_mean_of_each_block():
    fine = make_lst(FINE, res=250.0, units="K")
    c = xlstsr.coarsen(fine, 2)
    np.testing.assert_allclose(c.values, COARSE, rtol=1e-10, equal_nan=True)
    # a block with a gap is a gap, unless enough of it is valid: then the valid pixels' mean
    part = xlstsr.coarsen(fine, 2, min_valid=0.75).values
    assert part[0, 1] == pytest.approx(304.725239236907, rel=1e-10)  # (310, 320, 280)
    np.testing.assert_array_equal(np.delete(part.ravel(), 1), np.delete(c.values.ravel(), 1))
    xr.testing.assert_identical(fine.lstsr.coarsen(2), c)


def test_coarsen_xarray_grid_and_attrs(scene):
    fine = scene["lst_250m"]
    c = fine.lstsr.coarsen(4)
    assert c.shape == (*fine.shape[:-2], fine.shape[-2] // 4, fine.shape[-1] // 4)
    # coarse pixel centres are the centres of their 4 x 4 fine blocks
    np.testing.assert_allclose(c.x.values, fine.x.values.reshape(-1, 4).mean(axis=1))
    np.testing.assert_allclose(c.y.values, fine.y.values.reshape(-1, 4).mean(axis=1))
    assert c.rio.resolution() == pytest.approx(tuple(4 * r for r in fine.rio.resolution()))
    assert c.rio.crs == fine.rio.crs and c.attrs["units"] == "K"


@pytest.mark.parametrize("psf", [None, "modis", 500.0])
def test_coarsen_dask_equals_numpy_and_is_lazy(scene, psf):
    fine = scene["lst_250m"]
    with raise_if_computed():
        lazy = xlstsr.coarsen(fine.chunk({"time": 1, "y": 64, "x": 96}), 4, psf=psf)
    assert isinstance(lazy.data, dsa.Array)
    np.testing.assert_allclose(lazy.values, xlstsr.coarsen(fine, 4, psf=psf).values,
                               rtol=1e-6, equal_nan=True)


def test_coarsen_psf_smooths_more():
    rng = np.random.default_rng(0)
    a = make_lst(300 + 5 * rng.standard_normal((64, 64)))
    plain = xlstsr.coarsen(a, 4).values
    blurred = xlstsr.coarsen(a, 4, psf=800.0).values
    assert blurred.std() < plain.std()
    with pytest.raises(ValueError, match="metres"):
        xlstsr.coarsen(a, 4, psf="gaussian")


def test_coarsen_psf_is_a_gaussian_of_that_width_in_metres():
    # a single hot fine pixel, blurred by sigma = 2 fine pixels (a sampled Gaussian truncated at
    # 4 sigma) before the 4 x 4 box: the coarse T^4 excess is the Gaussian's mass in each block
    res = abs(float(make_lst(np.full((2, 2), 300.0)).rio.resolution()[0]))
    n, s = 64, 2.0
    a = np.full((n, n), 300.0)
    a[30, 30] = 400.0
    got = xlstsr.coarsen(make_lst(a), 4, psf=s * res).values ** 4 - 300.0**4
    k = np.arange(-8, 9)
    w = np.exp(-(k**2) / (2 * s**2))
    w /= w.sum()
    line = np.zeros(n)
    line[30 + k] = w
    blocks = line.reshape(-1, 4).sum(axis=1)
    want = np.outer(blocks, blocks) * (400.0**4 - 300.0**4) / 16
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3 * want.max())


def test_coarsen_boundary():
    a = make_lst(np.full((10, 9), 300.0))
    with pytest.raises(xlstsr.errors.GridError, match="boundary='trim'"):
        xlstsr.coarsen(a, 4)
    assert xlstsr.coarsen(a, 4, boundary="trim").shape == (2, 2)
