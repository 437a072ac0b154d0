"""Metric kernels against hand-computed values, and their xarray wrappers (numpy vs dask)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import xarray as xr
from helpers import raise_if_computed
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from xlstsr import metrics as xm
from xlstsr.errors import GridError
from xlstsr.kernels import metrics as km
from xlstsr.kernels import spectra as ksp
from xlstsr.kernels.aggregate import radiometric_mean


def _pair_example():
    ref = np.array([[300.0, 302.0, np.nan], [304.0, 306.0, 308.0]])
    sr = np.array([[301.0, 301.0, 310.0], [np.nan, 309.0, 308.0]])
    # pairwise valid: (0,0) d=+1, (0,1) d=-1, (1,1) d=+3, (1,2) d=0
    return sr, ref, np.array([1.0, -1.0, 3.0, 0.0]), np.array([300.0, 302.0, 306.0, 308.0])


def test_basic_metrics_hand_computed():
    sr, ref, d, r = _pair_example()
    assert km.n_valid(sr, ref) == 4
    assert km.rmse(sr, ref) == pytest.approx(np.sqrt((1 + 1 + 9 + 0) / 4))
    assert km.bias(sr, ref) == pytest.approx(0.75)
    assert km.ubrmse(sr, ref) == pytest.approx(np.sqrt(np.mean((d - 0.75) ** 2)))
    assert km.mae(sr, ref) == pytest.approx(5 / 4)
    # data range of the reference over pairwise-valid pixels: 308 - 300 (304 is not paired)
    assert km.psnr(sr, ref) == pytest.approx(20 * np.log10(8 / np.sqrt(11 / 4)))
    assert km.psnr(sr, ref, data_range=100.0) == pytest.approx(20 * np.log10(100 / np.sqrt(11 / 4)))
    s = np.array([301.0, 301.0, 309.0, 308.0])
    assert km.correlation(sr, ref) == pytest.approx(np.corrcoef(s, r)[0, 1])


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.floats(-5, 5), st.floats(0.1, 3))
def test_rmse_decomposes_into_bias_and_ubrmse(seed, offset, scale):
    rng = np.random.default_rng(seed)
    ref = 300 + 5 * rng.standard_normal((2, 9, 7))
    sr = ref + offset + scale * rng.standard_normal(ref.shape)
    sr[rng.random(sr.shape) < 0.2] = np.nan
    ref[rng.random(ref.shape) < 0.2] = np.nan
    r, b, u = km.rmse(sr, ref), km.bias(sr, ref), km.ubrmse(sr, ref)
    np.testing.assert_allclose(r**2, b**2 + u**2, rtol=1e-9)
    # leading dims: one value per slice, equal to the 2-D computation
    for i in range(2):
        assert r[i] == pytest.approx(km.rmse(sr[i], ref[i]))


def test_empty_slices_give_nan_and_shape_mismatch_raises():
    a = np.full((2, 4, 4), np.nan)
    b = np.ones((2, 4, 4))
    for f in (km.rmse, km.bias, km.ubrmse, km.mae, km.psnr, km.ssim, km.correlation,
              km.gradient_rmse):
        assert np.isnan(f(a, b)).all(), f.__name__
    assert np.isnan(ksp.spectral_ratio(a, b, 2)).all()
    with pytest.raises(ValueError, match="same shape"):
        km.rmse(np.ones((3, 3)), np.ones((3, 4)))


def test_psnr_zero_error_or_flat_reference_is_nan():
    ref = np.array([[300.0, 310.0]])
    assert np.isnan(km.psnr(ref, ref))
    assert np.isnan(km.psnr(ref + 1, np.full((1, 2), 300.0)))


def _ssim_loops(a, b, L, sigma=1.5, truncate=3.5, k1=0.01, k2=0.03, min_weight=0.5):
    """SSIM by explicit loops over windows (independent of the convolution implementation)."""
    r = int(truncate * sigma + 0.5)
    off = np.arange(-r, r + 1)
    g1 = np.exp(-0.5 * (off / sigma) ** 2)
    g1 /= g1.sum()
    g = np.outer(g1, g1)
    valid = np.isfinite(a) & np.isfinite(b)
    ny, nx = a.shape
    vals = []
    for i, j in itertools.product(range(ny), range(nx)):
        if not valid[i, j]:
            continue
        w, xs, ys = [], [], []
        for (di, dj) in itertools.product(off, off):
            ii, jj = i + di, j + dj
            if 0 <= ii < ny and 0 <= jj < nx and valid[ii, jj]:
                w.append(g[di + r, dj + r])
                xs.append(a[ii, jj])
                ys.append(b[ii, jj])
        w, xs, ys = map(np.asarray, (w, xs, ys))
        if w.sum() < min_weight:
            continue
        w = w / w.sum()
        mx, my = (w * xs).sum(), (w * ys).sum()
        vx, vy = (w * (xs - mx) ** 2).sum(), (w * (ys - my) ** 2).sum()
        cxy = (w * (xs - mx) * (ys - my)).sum()
        c1, c2 = (k1 * L) ** 2, (k2 * L) ** 2
        vals.append((2 * mx * my + c1) * (2 * cxy + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2)))
    return np.mean(vals)


def test_ssim_matches_explicit_window_loops_with_gaps():
    rng = np.random.default_rng(3)
    ref = 300 + ndimage.gaussian_filter(rng.standard_normal((14, 13)), 1.5) * 8
    sr = ref + rng.standard_normal(ref.shape)
    sr[3:6, 4:7] = np.nan
    ref[10, 2] = np.nan
    L = np.nanmax(np.where(np.isfinite(sr), ref, np.nan)) - np.nanmin(np.where(np.isfinite(sr), ref, np.nan))
    assert km.ssim(sr, ref) == pytest.approx(_ssim_loops(sr, ref, L), rel=1e-9)


def test_ssim_identical_and_constant_images():
    rng = np.random.default_rng(0)
    ref = 290 + 10 * rng.random((20, 20))
    assert km.ssim(ref, ref) == pytest.approx(1.0)
    p, q, L = 300.0, 303.0, 40.0
    c1 = (0.01 * L) ** 2
    expected = (2 * p * q + c1) / (p * p + q * q + c1)  # contrast/structure terms are C2/C2 = 1
    got = km.ssim(np.full((12, 12), p), np.full((12, 12), q), data_range=L)
    assert got == pytest.approx(expected, rel=1e-12)
    # noise lowers SSIM; values under a gap of sr do not matter
    noisy = ref + rng.standard_normal(ref.shape)
    assert km.ssim(noisy, ref) < 0.99
    gap = noisy.copy()
    gap[5:9, 5:9] = np.nan
    other = ref.copy()
    other[5:9, 5:9] = 1000.0
    assert km.ssim(gap, ref) == pytest.approx(km.ssim(gap, other))


def test_gradient_rmse_hand_and_offset_invariance():
    y, x = np.mgrid[0:6, 0:7].astype(float)
    ref = 300 + x
    assert km.gradient_rmse(300 + 3 * x, ref) == pytest.approx(2.0)
    assert km.gradient_rmse(ref + 5.0, ref) == pytest.approx(0.0)
    # gradient error along y and x: sqrt(1^2 + 2^2)
    assert km.gradient_rmse(ref + y + 2 * x, ref) == pytest.approx(np.sqrt(5.0))


def test_correlation_signs():
    rng = np.random.default_rng(1)
    ref = rng.standard_normal((8, 8))
    assert km.correlation(2 * ref + 3, ref) == pytest.approx(1.0)
    assert km.correlation(-ref, ref) == pytest.approx(-1.0)


def test_coarse_consistency():
    rng = np.random.default_rng(4)
    coarse = 300 + 5 * rng.random((2, 4, 5))
    fine = np.repeat(np.repeat(coarse, 3, -2), 3, -1)
    np.testing.assert_allclose(km.coarse_consistency(fine, coarse, 3), 0.0, atol=1e-9)
    np.testing.assert_allclose(km.coarse_consistency(fine + 1.0, coarse, 3), 1.0, atol=1e-9)
    # radiometric, not arithmetic: a block [290, 310] has T_c = ((290^4 + 310^4) / 2)^(1/4)
    sr = np.array([[290.0, 310.0]])
    plain = np.array([[300.0]])
    tc = ((290.0**4 + 310.0**4) / 2) ** 0.25
    assert km.coarse_consistency(np.vstack([sr, sr]), plain, 2) == pytest.approx(tc - 300.0)
    assert tc - 300.0 == pytest.approx(float(radiometric_mean(np.vstack([sr, sr]), 2)[0, 0]) - 300.0)
    with pytest.raises(ValueError, match="fine grid"):
        km.coarse_consistency(fine, coarse, 2)
    # one coarse field for several SR variants (leading dims broadcast)
    np.testing.assert_allclose(km.coarse_consistency(np.stack([fine[0], fine[0] + 2]), coarse[0], 3),
                               [0.0, 2.0], atol=1e-9)


# ----------------------------------------------------------------------------------------------
# xarray layer


def _cube(seed: int = 0, n: int = 3, size: int = 24) -> tuple[xr.DataArray, xr.DataArray]:
    rng = np.random.default_rng(seed)
    ref = 300 + 4 * ndimage.gaussian_filter(rng.standard_normal((n, size, size)), (0, 1, 1))
    sr = ref + 0.3 * rng.standard_normal(ref.shape) + 0.2
    sr[0, :5, :5] = np.nan
    coords = {"time": np.arange(n), "y": np.arange(size)[::-1] * 250.0, "x": np.arange(size) * 250.0}
    return (xr.DataArray(sr, dims=("time", "y", "x"), coords=coords),
            xr.DataArray(ref, dims=("time", "y", "x"), coords=coords))


WRAPPERS = [
    (xm.rmse, km.rmse, {}),
    (xm.bias, km.bias, {}),
    (xm.ubrmse, km.ubrmse, {}),
    (xm.mae, km.mae, {}),
    (xm.psnr, km.psnr, {}),
    (xm.ssim, km.ssim, {}),
    (xm.gradient_rmse, km.gradient_rmse, {}),
    (xm.correlation, km.correlation, {}),
    (xm.spectral_ratio, ksp.spectral_ratio, {"factor": 2}),
    (xm.n_valid, km.n_valid, {}),
]


@pytest.mark.parametrize(("wrapper", "kernel", "kw"), WRAPPERS, ids=lambda v: getattr(v, "__name__", ""))
def test_wrappers_per_time_numpy_vs_dask(wrapper, kernel, kw):
    sr, ref = _cube()
    eager = wrapper(sr, ref, **kw)
    assert eager.dims == ("time",)
    np.testing.assert_allclose(eager.values, kernel(sr.values, ref.values, **kw))
    with raise_if_computed():
        lazy = wrapper(sr.chunk({"time": 1, "y": 7, "x": 5}), ref.chunk({"time": 2}), **kw)
    assert lazy.chunks is not None
    np.testing.assert_allclose(lazy.compute().values, eager.values)


def test_wrapper_broadcasts_2d_reference_and_rejects_other_grids():
    sr, ref = _cube()
    out = xm.rmse(sr, ref.isel(time=0, drop=True))
    assert out.sizes["time"] == 3
    assert out[0] == pytest.approx(km.rmse(sr.values[0], ref.values[0]))
    with pytest.raises(GridError, match="same grid"):
        xm.rmse(sr, ref.assign_coords(x=ref.x + 10.0))


def test_coarse_consistency_and_spectrum_wrappers():
    rng = np.random.default_rng(5)
    coarse = xr.DataArray(300 + rng.random((2, 4, 6)), dims=("time", "y", "x"),
                          coords={"y": [3.0, 2.0, 1.0, 0.0], "x": np.arange(6.0)})
    fine = xr.DataArray(np.repeat(np.repeat(coarse.values, 2, -2), 2, -1) + 0.5,
                        dims=("time", "y", "x"), coords={"y": np.arange(8)[::-1] / 2 - 0.25, "x": np.arange(12) / 2 - 0.25})
    cc = xm.coarse_consistency(fine, coarse, 2)  # fine pixel centres nested in the coarse ones
    np.testing.assert_allclose(cc.values, 0.5, atol=1e-9)
    np.testing.assert_allclose(xm.coarse_consistency(fine.chunk({"time": 1}), coarse, 2).values, 0.5,
                               atol=1e-9)
    with pytest.raises(GridError, match="fine grid"):
        xm.coarse_consistency(fine, coarse, 3)
    sr, _ = _cube()
    spec = xm.radial_power_spectrum(sr, pixel_size=250.0)
    assert spec.dims == ("time", "frequency") and spec.sizes["frequency"] == 12
    np.testing.assert_allclose(spec.frequency.values, np.arange(1, 13) / (24 * 250.0))
    np.testing.assert_allclose(spec.values[1],
                               ksp.radial_power_spectrum(sr.values[1], pixel_size=250.0)[1])
    np.testing.assert_allclose(xm.radial_power_spectrum(sr.chunk({"time": 1}), 250.0).values,
                               spec.values)
