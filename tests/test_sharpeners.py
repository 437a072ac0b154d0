"""Classical sharpeners (TsHARP, DMS): exactness on known laws, conservation, gaps, dask, errors."""

from __future__ import annotations

import json
import warnings

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
from helpers import raise_if_computed
from hypothesis import given, settings
from hypothesis import strategies as st

import xlstsr
from xlstsr.errors import GuideCoverageError
from xlstsr.kernels.aggregate import conserve_radiometric, radiometric_mean
from xlstsr.kernels.interp import cubic_upsample
from xlstsr.kernels.sharpen import (
    LinearLeafForest,
    block_stats,
    homogeneity_weights,
    linear_fit,
    residual_correct,
    window_std,
)
from xlstsr.methods import get_method

F = 4
RES = 1000.0
CRS = "EPSG:32631"


def georef(values: np.ndarray, res: float, **attrs) -> xr.DataArray:
    """A (time,) y, x DataArray on a UTM grid whose fine/coarse versions nest exactly."""
    ny, nx = values.shape[-2:]
    dims = ("time", "y", "x")[-values.ndim :]
    da = xr.DataArray(values, dims=dims, attrs=attrs)
    da = da.assign_coords(
        y=500_000.0 - (np.arange(ny) + 0.5) * res, x=400_000.0 + (np.arange(nx) + 0.5) * res
    )
    if "time" in da.dims:
        da = da.assign_coords(time=np.arange(da.sizes["time"]))
    return da.rio.write_crs(CRS)


def ndvi_field(n: int, seed: int) -> np.ndarray:
    """A textured NDVI field (fBm plus pixel noise, so every block has internal variance)."""
    rng = np.random.default_rng(seed)
    g = 0.45 + 0.2 * xlstsr.datasets.fbm_surface((n, n), 0.6, rng)
    return np.clip(g + 0.05 * rng.standard_normal((n, n)), -0.1, 0.95)


def make_case(law, n_fine: int = 128, n_times: int = 1, seed: int = 1, clouds: bool = False):
    """(coarse LST DataArray, fine NDVI DataArray, fine truth array) for LST = law(NDVI)."""
    nd = ndvi_field(n_fine, seed)
    truth = np.stack([law(nd) + k for k in range(n_times)])  # time steps offset by 1 K
    coarse = radiometric_mean(truth, F)
    if clouds:
        coarse[0, 3:9, 5:12] = np.nan
        coarse[-1, -6:, :4] = np.nan
    lst = georef(coarse.astype(np.float32), RES, units="K")
    guide = georef(nd.astype(np.float32), RES / F, units="1")
    return lst, guide, truth


def linear_law(nd):
    return 320.0 - 25.0 * nd


def nonlinear_law(nd):
    """V-shaped: LST rises away from NDVI 0.45 on both sides (no line fits it)."""
    return 300.0 + 30.0 * np.abs(nd - 0.45)


def rmse(a, b):
    return float(np.sqrt(np.nanmean((np.asarray(a, np.float64) - b) ** 2)))


# -- kernels ---------------------------------------------------------------------------------


def test_block_stats_matches_loops():
    rng = np.random.default_rng(0)
    g = rng.normal(size=(2, 8, 12))
    g[1, 0, 0] = np.nan
    mean, std, full = block_stats(g, 4)
    for c in range(2):
        for i in range(2):
            for j in range(3):
                blk = g[c, 4 * i : 4 * i + 4, 4 * j : 4 * j + 4]
                assert mean[c, i, j] == pytest.approx(np.nanmean(blk))
                assert std[c, i, j] == pytest.approx(np.nanstd(blk))
    assert not full[0, 0] and full.sum() == 5


def test_window_std_of_constant_is_zero_and_nan_at_gaps():
    g = np.full((1, 8, 8), 0.3)
    g[0, 2, 2] = np.nan
    s = window_std(g, 4)
    assert np.isnan(s[0, 2, 2])
    assert np.nanmax(s) == pytest.approx(0.0, abs=1e-6)


def test_linear_fit_recovers_coefficients_with_weights():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 2))
    y = 1.5 - 2.0 * x[:, 0] + 0.5 * x[:, 1]
    np.testing.assert_allclose(
        linear_fit(x, y, rng.uniform(0.1, 1, 50)), [1.5, -2.0, 0.5], atol=1e-10
    )


def test_homogeneity_weights_prefer_homogeneous_pixels():
    std = np.array([[0.01], [0.05], [0.1], [0.5]])
    w = homogeneity_weights(std, np.array([0.2]))
    assert w.max() == pytest.approx(1.0)
    assert np.all(np.diff(w) < 0)


def test_forest_is_deterministic_and_fits_a_curve():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(300, 2))
    y = np.sin(5 * x[:, 0]) + x[:, 1]
    a = LinearLeafForest(n_estimators=5, random_state=3).fit(x, y).predict(x)
    b = LinearLeafForest(n_estimators=5, random_state=3).fit(x, y).predict(x)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - y).mean() < 0.15 * y.std()


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    factor=st.sampled_from([2, 3, 4]),
    residual=st.sampled_from(["nearest", "bicubic", "none"]),
)
def test_residual_correction_conserves_radiometric_mean(seed, factor, residual):
    rng = np.random.default_rng(seed)
    coarse = 280.0 + 40.0 * rng.uniform(size=(5, 6))
    fine = cubic_upsample(coarse, factor) + rng.normal(0, 5, (5 * factor, 6 * factor))
    out = residual_correct(fine, coarse, factor, residual=residual, conserve=True)
    np.testing.assert_allclose(radiometric_mean(out, factor), coarse, atol=1e-6, rtol=0)


def test_conserve_leaves_nan_blocks_alone():
    coarse = np.array([[300.0, np.nan]])
    fine = np.full((2, 4), 290.0)
    out = conserve_radiometric(fine, coarse, 2)
    np.testing.assert_allclose(out[:, :2], 300.0)
    np.testing.assert_array_equal(out[:, 2:], 290.0)


# -- TsHARP ----------------------------------------------------------------------------------


@pytest.mark.parametrize("residual", ["bicubic", "nearest"])
@pytest.mark.parametrize("conserve", [True, False])
def test_tsharp_recovers_exact_linear_law(residual, conserve):
    lst, guide, truth = make_case(linear_law)
    sr = xlstsr.upscale(lst, F, method="tsharp", guide=guide, residual=residual, conserve=conserve)
    assert sr.shape == truth.shape
    np.testing.assert_allclose(sr.values, truth, atol=2e-3, rtol=0)
    # ...where bicubic is far off
    assert rmse(xlstsr.upscale(lst, F).values, truth) > 1.0


def test_tsharp_multiple_regression_on_several_bands():
    nd = ndvi_field(64, 5)
    alb = 0.2 + 0.05 * xlstsr.datasets.fbm_surface((64, 64), 0.4, np.random.default_rng(9))
    truth = 315.0 - 20.0 * nd + 40.0 * alb
    lst = georef(radiometric_mean(truth, F), RES, units="K")
    bands = {"ndvi": georef(nd, RES / F), "albedo": georef(alb, RES / F)}
    sr = xlstsr.upscale(lst, F, method="tsharp", guide=bands)
    np.testing.assert_allclose(sr.values, truth, atol=5e-3, rtol=0)
    one = xlstsr.upscale(lst, F, method="tsharp", guide=bands["ndvi"])
    assert rmse(one.values, truth) > 10 * rmse(sr.values, truth)


def test_tsharp_quadratic_recovers_quadratic_law():
    law = lambda nd: 305.0 - 60.0 * (nd - 0.45) ** 2  # noqa: E731
    lst, guide, truth = make_case(law)
    quad = xlstsr.upscale(lst, F, method="tsharp", guide=guide, quadratic=True)
    lin = xlstsr.upscale(lst, F, method="tsharp", guide=guide)
    assert rmse(quad.values, truth) < 0.02
    assert rmse(lin.values, truth) > 5 * rmse(quad.values, truth)


# -- DMS -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("options", "ratio"), [({}, 0.7), ({"regressor": "bagging"}, 0.4)])
def test_dms_beats_bicubic_and_tsharp_on_nonlinear_law(options, ratio):
    lst, guide, truth = make_case(nonlinear_law)
    e_dms = rmse(xlstsr.upscale(lst, F, method="dms", guide=guide, **options).values, truth)
    e_ts = rmse(xlstsr.upscale(lst, F, method="tsharp", guide=guide).values, truth)
    e_bic = rmse(xlstsr.upscale(lst, F).values, truth)
    assert e_dms < ratio * min(e_ts, e_bic), (e_dms, e_ts, e_bic)


@pytest.mark.parametrize("options", [{"t4": True}, {"features": "mean_std"}, {"window": 0}])
def test_dms_options_also_sharpen(options):
    lst, guide, truth = make_case(nonlinear_law, n_fine=96)
    e = rmse(xlstsr.upscale(lst, F, method="dms", guide=guide, **options).values, truth)
    assert e < 0.7 * rmse(xlstsr.upscale(lst, F).values, truth)


@pytest.mark.parametrize("method", ["tsharp", "dms"])
def test_gain_zero_is_conservative_bicubic(method):
    lst, guide, truth = make_case(linear_law, n_fine=64)
    g0 = xlstsr.upscale(lst, F, method=method, guide=guide, gain=0.0).values
    coarse = lst.values[0].astype(np.float64)
    expected = residual_correct(cubic_upsample(coarse, F), coarse, F)  # bicubic made conservative
    np.testing.assert_allclose(g0[0], expected, atol=1e-3, rtol=0)
    g1 = xlstsr.upscale(lst, F, method=method, guide=guide, gain=1.0).values
    half = xlstsr.upscale(lst, F, method=method, guide=guide, gain=0.5).values
    # the guide-driven detail scales with the gain
    dh, d1 = (float(np.abs(x - g0).mean()) for x in (half, g1))
    assert dh == pytest.approx(0.5 * d1, rel=0.05)
    assert rmse(g1, truth) < rmse(half, truth) < rmse(g0, truth)
    with pytest.raises(ValueError, match="gain"):
        get_method(method, gain=1.5)


def test_dms_is_deterministic():
    lst, guide, _ = make_case(nonlinear_law, n_fine=64)
    a = xlstsr.upscale(lst, F, method="dms", guide=guide, n_estimators=4).values
    b = xlstsr.upscale(lst, F, method="dms", guide=guide, n_estimators=4).values
    np.testing.assert_array_equal(a, b)
    c = xlstsr.upscale(lst, F, method="dms", guide=guide, n_estimators=4, random_state=7).values
    assert not np.array_equal(a, c)


# -- shared behaviour ------------------------------------------------------------------------

METHODS = [
    ("tsharp", {}),
    ("dms", {"n_estimators": 4}),
    ("dms", {"t4": True, "regressor": "bagging", "n_estimators": 3}),
]


@pytest.mark.parametrize(("method", "options"), METHODS)
def test_conservation_with_clouds_and_time(method, options):
    lst, guide, _ = make_case(nonlinear_law, n_fine=64, n_times=2, clouds=True)
    sr = xlstsr.upscale(lst, F, method=method, guide=guide, conserve=True, **options)
    agg = radiometric_mean(sr.values.astype(np.float64), F)
    ok = np.isfinite(lst.values)
    assert np.isfinite(agg[ok]).all()
    assert np.abs(agg[ok] - lst.values[ok]).max() < 1e-3


@pytest.mark.parametrize(("method", "options"), METHODS)
def test_gaps_in_lst_and_guide(method, options):
    lst, guide, _ = make_case(nonlinear_law, n_fine=64, n_times=2, clouds=True)
    g = guide.values.copy()
    g[10:30, 40:60] = np.nan  # a gap in the guide (e.g. a cloud on the NDVI date)
    g[0, :] = np.nan
    guide = guide.copy(data=g)
    sr = xlstsr.upscale(lst, F, method=method, guide=guide, **options).values
    gap = np.repeat(np.repeat(~np.isfinite(lst.values), F, axis=-2), F, axis=-1)
    np.testing.assert_array_equal(np.isnan(sr), gap)  # NaN exactly on the cloud footprint
    assert np.all((sr[~gap] > 250) & (sr[~gap] < 350))


@pytest.mark.parametrize("method", ["tsharp", "dms"])
def test_too_few_valid_pixels_falls_back(method):
    lst, guide, _ = make_case(nonlinear_law, n_fine=32)
    data = np.full(lst.shape, np.nan, np.float32)
    data[0, 2, 3] = 300.0
    # documented, and said: a date of a time series sharpened without its guide, labelled as
    # the method, went unnoticed
    with pytest.warns(UserWarning, match=r"1 of 1 image\(s\) had too few clear coarse pixels"):
        sr = xlstsr.upscale(lst.copy(data=data), F, method=method, guide=guide).values
    np.testing.assert_allclose(sr[0, 8:12, 12:16], 300.0, atol=1e-3)
    assert np.isnan(sr).sum() == sr.size - 16


@pytest.mark.parametrize(("method", "options"), METHODS[:2])
def test_numpy_dask_equal_and_lazy(method, options):
    lst, guide, _ = make_case(nonlinear_law, n_fine=64, n_times=3, clouds=True)
    ref = xlstsr.upscale(lst, F, method=method, guide=guide, **options)
    with raise_if_computed():
        lazy = xlstsr.upscale(
            lst.chunk({"time": 1, "y": 5, "x": 7}),
            F,
            method=method,
            guide=guide.chunk({"y": 20, "x": 24}),
            **options,
        )
    assert isinstance(lazy.data, dsa.Array)
    assert lazy.chunks[0] == (1, 1, 1)  # lazy over time: one task per time step
    np.testing.assert_allclose(lazy.values, ref.values, rtol=0, atol=1e-4, equal_nan=True)
    np.testing.assert_array_equal(np.isnan(lazy.values), np.isnan(ref.values))


def test_time_varying_guide():
    lst, guide, _ = make_case(linear_law, n_fine=64, n_times=2)
    g2 = xr.concat([guide, guide], dim="time").assign_coords(time=lst.time)
    a = xlstsr.upscale(lst, F, method="tsharp", guide=g2)
    b = xlstsr.upscale(lst, F, method="tsharp", guide=guide)
    np.testing.assert_allclose(a.values, b.values, atol=1e-5)


@pytest.mark.parametrize("method", ["tsharp", "dms"])
def test_missing_guide_is_a_clear_error(method):
    lst, _, _ = make_case(linear_law, n_fine=32)
    with pytest.raises(ValueError, match="guide"):
        xlstsr.upscale(lst, F, method=method)
    m = get_method(method)
    with pytest.raises(GuideCoverageError, match="guide=ndvi"):
        m.upscale_block(np.full((1, 4, 4), 300.0), np.ones((1, 4, 4), bool), None, F)


@pytest.mark.parametrize("method", ["tsharp", "dms"])
def test_bad_options_are_rejected(method):
    with pytest.raises(TypeError):
        get_method(method, no_such_option=1)
    with pytest.raises(ValueError, match="residual"):
        get_method(method, residual="spline")


def test_provenance_records_options():
    lst, guide, _ = make_case(linear_law, n_fine=32)
    sr = xlstsr.upscale(lst, F, method="dms", guide=guide, t4=True, n_estimators=2)
    assert sr.attrs["xlstsr_method"] == "dms"
    assert json.loads(sr.attrs["xlstsr_options"])["t4"] is True  # provenance is JSON


# -- the embedded sample scene and a real pair -----------------------------------------------


def test_sharpeners_beat_bicubic_on_sample_scene(small_scene):
    lst, truth, ndvi = small_scene["lst_1km"], small_scene["lst_250m"], small_scene["ndvi_250m"]
    e_bic = rmse(xlstsr.upscale(lst, F).values, truth.values)
    e_dms = rmse(xlstsr.upscale(lst, F, method="dms", guide=ndvi).values, truth.values)
    e_ts = rmse(xlstsr.upscale(lst, F, method="tsharp", guide=ndvi).values, truth.values)
    assert e_dms < e_bic and e_ts < 1.2 * e_bic


def test_real_modis_pair_runs(shared_data):
    import rioxarray

    from xlstsr.errors import GuideAlignmentWarning

    d = shared_data / "modis_aster"
    if not (d / "001_modis_lst_1km.tif").exists():
        pytest.skip("modis_aster pair 001 is absent")
    lst = rioxarray.open_rasterio(d / "001_modis_lst_1km.tif").squeeze("band", drop=True)
    ndvi = rioxarray.open_rasterio(d / "001_modis_ndvi_250m.tif").squeeze("band", drop=True)
    bic = xlstsr.upscale(lst, F)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GuideAlignmentWarning)  # NDVI is offset by a few pixels
        for method in ("tsharp", "dms"):
            sr = xlstsr.upscale(lst, F, method=method, guide=ndvi)
            ok = np.isfinite(bic.values)
            assert np.isfinite(sr.values[ok]).all()
            agg = radiometric_mean(sr.values.astype(np.float64), F)
            fin = np.isfinite(lst.values)
            assert np.abs(agg[fin] - lst.values[fin]).max() < 1e-3
            # sharpening adds fine detail but stays close to the smooth field
            assert 0.1 < rmse(sr.values, bic.values) < 5.0


@pytest.mark.parametrize("size", [2, 4, 6])
def test_window_std_of_an_even_size_is_centred(size):
    """An even window was pixels i - size/2 .. i + size/2 - 1: the fine std feature of DMS's
    mean_std sat half a fine pixel up and left of its coarse one (probe 36y)."""
    from xlstsr.kernels.sharpen import window_std

    g = np.zeros((17, 17))
    g[8, 8] = 1.0
    s = window_std(g, size)
    np.testing.assert_allclose(s, s[::-1, ::-1], atol=1e-12)
    np.testing.assert_allclose(s, s.T, atol=1e-12)
    rows, cols = np.nonzero(s > 1e-12)
    assert (rows.min() + rows.max()) / 2 == 8 and (cols.min() + cols.max()) / 2 == 8
