"""xlstsr.evaluate: known answers, masking, reprojection, numpy vs dask, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from affine import Affine
from helpers import raise_if_computed

import xlstsr
from xlstsr.errors import AllNaNError, MissingCRSError, NoOverlapError
from xlstsr.evaluate import decode_reference, reference_mask
from xlstsr.kernels import metrics as km


@pytest.fixture(scope="module")
def scene():
    return xlstsr.datasets.sample_scene(n_times=2, size=64, factor=4, cloud_fraction=0.1, seed=1)


def test_identical_fields_score_perfectly(scene):
    truth = scene["lst_250m"]
    ds = xlstsr.evaluate(truth, truth, factor=4)
    assert ds.sizes["time"] == 2
    np.testing.assert_allclose(ds.rmse, 0.0, atol=1e-12)
    np.testing.assert_allclose(ds.bias, 0.0, atol=1e-12)
    np.testing.assert_allclose(ds.ssim, 1.0)
    np.testing.assert_allclose(ds.correlation, 1.0)
    np.testing.assert_allclose(ds.spectral_ratio, 1.0)
    np.testing.assert_allclose(ds.n_valid, np.isfinite(truth.values).sum(axis=(1, 2)))


def test_known_offset_gives_that_bias(scene):
    truth = scene["lst_250m"]
    ds = xlstsr.evaluate(truth + 1.5, truth)
    np.testing.assert_allclose(ds.bias, 1.5)
    np.testing.assert_allclose(ds.rmse, 1.5)
    np.testing.assert_allclose(ds.mae, 1.5)
    np.testing.assert_allclose(ds.ubrmse, 0.0, atol=1e-9)
    np.testing.assert_allclose(ds.gradient_rmse, 0.0, atol=1e-9)
    assert "spectral_ratio" not in ds  # no factor known for a plain DataArray
    assert ds.rmse.attrs["units"] == "K"


def test_upscaled_field_metrics_match_kernels(scene):
    sr = xlstsr.upscale(scene["lst_1km"], 4)
    truth = scene["lst_250m"]
    ds = xlstsr.evaluate(sr, truth, coarse=scene["lst_1km"])
    assert int(ds.attrs["factor"]) == 4  # read from the provenance attrs
    np.testing.assert_allclose(ds.rmse, km.rmse(sr.values, truth.values))
    np.testing.assert_allclose(ds.psnr, km.psnr(sr.values, truth.values))
    np.testing.assert_allclose(ds.coarse_consistency,
                               km.coarse_consistency(sr.values, scene["lst_1km"].values, 4))
    # nearest replication conserves the coarse radiance exactly
    nn = xlstsr.upscale(scene["lst_1km"], 4, method="nearest")
    ds_nn = xlstsr.evaluate(nn, truth, coarse=scene["lst_1km"])
    np.testing.assert_allclose(ds_nn.coarse_consistency, 0.0, atol=1e-3)
    assert (ds.spectral_ratio < 1).all()  # bicubic is too smooth


def test_accessor_equals_function(scene):
    sr = xlstsr.upscale(scene["lst_1km"], 4)
    a = sr.lstsr.evaluate(scene["lst_250m"], coarse=scene["lst_1km"], erode=1)
    b = xlstsr.evaluate(sr, scene["lst_250m"], coarse=scene["lst_1km"], erode=1)
    xr.testing.assert_identical(a, b)


def test_numpy_vs_dask(scene):
    sr = xlstsr.upscale(scene["lst_1km"], 4)
    truth = scene["lst_250m"]
    eager = xlstsr.evaluate(sr, truth, coarse=scene["lst_1km"], erode=2, valid_min=280.0)
    with raise_if_computed():
        lazy = xlstsr.evaluate(sr.chunk({"time": 1, "y": 16, "x": 24}), truth.chunk({"y": 32}),
                               coarse=scene["lst_1km"].chunk({"time": 1}), erode=2, valid_min=280.0)
    assert lazy.rmse.chunks is not None
    xr.testing.assert_allclose(lazy.compute(), eager)


def test_reference_scale_nodata_erosion_threshold(scene):
    truth = scene["lst_250m"].isel(time=0, drop=True).fillna(0.0)
    stored = (truth * 10).astype("float32")  # K x 10, 0 = missing
    sr = truth.where(truth > 0) + 0.5
    ds = xlstsr.evaluate(sr, stored, reference_scale=0.1, reference_nodata=0)
    assert float(ds.bias) == pytest.approx(0.5, abs=1e-3)
    decoded = decode_reference(stored, scale=0.1, nodata=0)
    assert int(ds.n_valid) == int(np.isfinite(decoded).sum())
    # erosion by 1 px of a full rectangle removes its border ring
    full = scene["lst_250m"].isel(time=0, drop=True).fillna(300.0)
    assert int(reference_mask(full, erode=1).sum()) == 62 * 62
    assert int(xlstsr.evaluate(full, full, erode=2).n_valid) == 60 * 60
    # the physical threshold drops cold pixels
    thr = float(full.quantile(0.5))
    n = int(xlstsr.evaluate(full, full, valid_min=thr).n_valid)
    assert n == int((full >= thr).sum())


def _constant_in_crs(value: float, crs: str, transform: Affine, shape=(40, 40), time=None):
    ny, nx = shape
    y = transform.f + (np.arange(ny) + 0.5) * transform.e
    x = transform.c + (np.arange(nx) + 0.5) * transform.a
    data = np.full(shape, value)
    dims = ("y", "x")
    if time is not None:
        data = np.broadcast_to(data, (len(time), *shape)).copy()
        dims = ("time", "y", "x")
    da = xr.DataArray(data, dims=dims, coords={"y": y, "x": x, **({"time": time} if time is not None else {})})
    return da.rio.write_crs(crs).rio.write_transform(transform)


def test_reprojection_across_crs_keeps_a_known_offset():
    # SR on MODIS sinusoidal, reference on UTM 31N over the same area (western Europe)
    from xlstsr.grid import MODIS_250M, MODIS_SINUSOIDAL

    sr = _constant_in_crs(300.0, MODIS_SINUSOIDAL, Affine(MODIS_250M, 0, 200_000, 0, -MODIS_250M, 5_000_000),
                          time=np.arange(2))
    sr[1] += 1.0
    ref_bounds = sr.rio.transform_bounds("EPSG:32631")
    t = Affine(231.65, 0, ref_bounds[0] + 1000, 0, -231.65, ref_bounds[3] - 1000)
    ref = _constant_in_crs(302.0, "EPSG:32631", t, shape=(30, 30))
    ds = xlstsr.evaluate(sr, ref)
    np.testing.assert_allclose(ds.bias, [-2.0, -1.0], atol=1e-9)
    assert (ds.n_valid > 0).all()
    # two leading dims: one row per (run, time)
    cube = xr.concat([sr, sr + 0.5], dim="run").assign_coords(run=["a", "b"])
    ds2 = xlstsr.evaluate(cube, ref)
    assert ds2.bias.dims == ("run", "time")
    np.testing.assert_allclose(ds2.bias, [[-2.0, -1.0], [-1.5, -0.5]], atol=1e-9)
    assert list(ds2.run.values) == ["a", "b"]


def test_no_overlap_raises(scene):
    truth = scene["lst_250m"]
    t = truth.rio.transform()
    far = truth.isel(time=0, drop=True)
    far = far.assign_coords(x=far.x + 1e6).rio.write_transform(Affine(t.a, 0, t.c + 1e6, 0, t.e, t.f))
    with pytest.raises(NoOverlapError, match="do not overlap"):
        xlstsr.evaluate(truth, far)


def test_empty_reference_raises(scene):
    truth = scene["lst_250m"]
    with pytest.raises(AllNaNError, match="no valid pixel"):
        xlstsr.evaluate(truth, truth * np.nan)
    with pytest.raises(AllNaNError, match="valid range"):
        xlstsr.evaluate(truth, truth, valid_min=1000.0)
    with pytest.raises(AllNaNError):
        xlstsr.evaluate(truth, truth.fillna(0) * 0, reference_nodata=0)


def test_missing_crs_and_bad_erode(scene):
    truth = scene["lst_250m"]
    bare = xr.DataArray(truth.values, dims=truth.dims)
    with pytest.raises(MissingCRSError):
        xlstsr.evaluate(bare, truth)
    with pytest.raises(ValueError, match="erode"):
        xlstsr.evaluate(truth, truth, erode=-1)


def _on_grid(a: np.ndarray, x0: float, y0: float, res: float) -> xr.DataArray:
    ny, nx = a.shape
    t = Affine(res, 0, x0, 0, -res, y0)
    da = xr.DataArray(a, dims=("y", "x"), coords={"y": y0 - (np.arange(ny) + 0.5) * res,
                                                  "x": x0 + (np.arange(nx) + 0.5) * res})
    return da.rio.write_crs("EPSG:32631").rio.write_transform(t)


def test_symmetric_spectral_ratio_cancels_the_resampling():
    """One rough surface sampled on two grids offset by half a pixel: the right amount of detail.

    Through a bilinear resampling the one-way ratio under-reads it; the symmetric one reads ~1.
    """
    from xlstsr.datasets import fbm_surface
    from xlstsr.kernels.aggregate import radiometric_mean

    hi = 300.0 + 3.0 * fbm_surface((520, 520), 0.3, np.random.default_rng(3))  # 62.5 m pixels
    a = radiometric_mean(hi[:512, :512], 4)  # 250 m, grid A
    b = radiometric_mean(hi[2:514, 2:514], 4)  # 250 m, grid B: half a pixel off in x and y
    sr = _on_grid(a, 500_000.0, 5_000_000.0, 250.0).assign_attrs(xlstsr_factor=4)
    ref = _on_grid(b, 500_125.0, 4_999_875.0, 250.0)
    ds = xlstsr.evaluate(sr, ref, factor=4)
    assert float(ds.spectral_ratio) < 0.9  # the resampling smoothed sr
    assert abs(float(ds.spectral_ratio_sym) - 1) < 0.05
    # on the same grid nothing is resampled: both estimates agree
    same = xlstsr.evaluate(sr, sr.copy(), factor=4)
    assert float(same.spectral_ratio_sym) == float(same.spectral_ratio)


def test_coregister_and_clear_protocol():
    """A perfect super-resolution scored against truth displaced by ~0.7 fine pixel: the
    co-registered protocol finds the displacement and scores it far better; clear drops the
    pixels around cold (cloud) gaps; the figures do not depend on the order of methods."""
    from affine import Affine

    s = xlstsr.datasets.sample_scene(n_times=1)
    truth, lst = s["lst_250m"].isel(time=0), s["lst_1km"].isel(time=0)
    res = abs(float(truth.rio.resolution()[0]))
    shifted = truth.assign_coords(x=truth.x - 160.0, y=truth.y - 175.0).rio.write_transform(
        Affine.translation(-160.0, -175.0) * truth.rio.transform())
    sr = truth.copy()  # the right answer on the LST's own fine grid
    plain = xlstsr.evaluate(sr, shifted, coarse=lst)
    co = xlstsr.evaluate(sr, shifted, coarse=lst, coregister=True)
    assert float(co.rmse) < 0.5 * float(plain.rmse)
    assert abs(float(co.coregistration_shift_x) - 160.0) < 0.1 * res
    assert abs(float(co.coregistration_shift_y) - 175.0) < 0.1 * res
    # clear: a cold pixel (cloud) removes its neighbours too
    cloudy = shifted.copy()
    cloudy[100, 100] = 200.0
    kept = xlstsr.evaluate(sr, cloudy, coarse=lst, erode=2, valid_min=230.0)
    cleared = xlstsr.evaluate(sr, cloudy, coarse=lst, erode=2, valid_min=230.0, clear=True)
    assert int(kept.n_valid) - int(cleared.n_valid) == 12  # the city-block disc of radius 2
    # the same truth for every method, whatever the order
    bic = xlstsr.upscale(lst, 4)
    a1 = xlstsr.evaluate(bic, shifted, coarse=lst, coregister=True)
    xlstsr.evaluate(sr, shifted, coarse=lst, coregister=True)
    a2 = xlstsr.evaluate(bic, shifted, coarse=lst, coregister=True)
    xr.testing.assert_identical(a1, a2)
