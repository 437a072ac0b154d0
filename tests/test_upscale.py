"""upscale(): grids, attributes, NaN footprints, numpy/dask equality, laziness, real data."""

from __future__ import annotations

import dask.array as dsa
import numpy as np
import pytest
import rioxarray
import xarray as xr
from helpers import make_lst, raise_if_computed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xlstsr
from xlstsr.kernels.interp import cubic_upsample, fill_gaps


def test_cubic_upsample_reproduces_linear_ramps_inside():
    # cubic convolution is exact for linear functions away from the replicated edges
    a = np.add.outer(np.arange(10.0), 2 * np.arange(12.0)) + 280
    up = cubic_upsample(a, 4)
    yy = (np.arange(40) + 0.5) / 4 - 0.5
    xx = (np.arange(48) + 0.5) / 4 - 0.5
    expected = np.add.outer(yy, 2 * xx) + 280
    np.testing.assert_allclose(up[8:-8, 8:-8], expected[8:-8, 8:-8], atol=1e-9)


def test_cubic_upsample_constant():
    np.testing.assert_allclose(cubic_upsample(np.full((3, 5), 290.0), 3), 290.0)


def _fill_reference(a: np.ndarray, radius: int) -> np.ndarray:
    """Round by round on whole images: each gap pixel with a valid 3x3 neighbour gets their mean."""
    out = a.astype(np.float64)
    valid = np.isfinite(out)
    for _ in range(radius):
        p = np.pad(np.where(valid, out, 0.0), ((0, 0), (1, 1), (1, 1)))
        v = np.pad(valid, ((0, 0), (1, 1), (1, 1))).astype(float)
        ny, nx = out.shape[1:]
        s = sum(p[:, i : i + ny, j : j + nx] for i in range(3) for j in range(3))
        c = sum(v[:, i : i + ny, j : j + nx] for i in range(3) for j in range(3))
        newly = ~valid & (c > 0)
        out[newly] = s[newly] / c[newly]
        valid |= newly
    for k in range(out.shape[0]):  # beyond the radius: the image's mean (valid and filled)
        out[k][~valid[k]] = out[k][valid[k]].mean()
    return out


@pytest.mark.parametrize("radius", [1, 4, 50])
def test_fill_gaps_rounds_of_neighbour_means(radius):
    rng = np.random.default_rng(radius)
    a = (300 + 3 * rng.standard_normal((3, 40, 50))).astype(np.float32)
    a[0, 5:25, 10:40] = np.nan  # a cloud wider than small radii
    a[1][rng.random((40, 50)) < 0.3] = np.nan
    a[2, :, :] = np.nan
    a[2, 0, 0] = 310.0  # one valid pixel: the fill spreads from it
    got = fill_gaps(a, radius)
    assert got.dtype == np.float32 and np.isfinite(got).all()
    np.testing.assert_allclose(got, _fill_reference(a, radius), atol=2e-4, rtol=0)
    ok = np.isfinite(a)
    assert np.array_equal(got[ok], a[ok])  # valid pixels untouched


def test_fill_gaps_is_local():
    """A filled value depends on data within ``radius`` only (what makes tiles exact)."""
    rng = np.random.default_rng(1)
    a = (300 + rng.standard_normal((1, 60, 60))).astype(np.float32)
    a[0, 20:40, 20:40] = np.nan
    b = a.copy()
    b[0, :, 45:] += 5.0  # changed farther than 4 px from the pixels compared
    # beyond the radius a gap takes far_value (else its image's mean: not local, and never
    # within a model's receptive field of a valid pixel)
    fa, fb = fill_gaps(a, 4, far_value=0.0), fill_gaps(b, 4, far_value=0.0)
    np.testing.assert_array_equal(fa[0, :, :40], fb[0, :, :40])
    assert fa[0, 30, 30] == 0.0 and fa[0, 23, 23] > 290.0


def test_output_grid_crs_attrs(scene):
    lst = scene["lst_1km"]
    sr = lst.lstsr.upscale(factor=4, method="bicubic")
    assert sr.dims == lst.dims and sr.shape == (3, 256, 256)
    assert sr.rio.crs == lst.rio.crs
    assert sr.rio.resolution() == pytest.approx(scene["lst_250m"].rio.resolution())
    assert sr.rio.bounds() == pytest.approx(lst.rio.bounds())
    np.testing.assert_allclose(sr.x.values, scene["lst_250m"].x.values)
    assert (sr.time.values == lst.time.values).all()
    assert sr.attrs["standard_name"] == "surface_temperature" and sr.attrs["units"] == "K"
    assert sr.attrs["xlstsr_method"] == "bicubic" and sr.attrs["xlstsr_factor"] == 4
    assert sr.attrs["xlstsr_version"] == xlstsr.__version__


def test_function_and_accessor_agree(scene):
    lst = scene["lst_1km"]
    xr.testing.assert_identical(xlstsr.upscale(lst, 4), lst.lstsr.upscale(4))


def test_bicubic_beats_nearest_on_sample_scene(scene):
    lst, truth = scene["lst_1km"], scene["lst_250m"]
    rmse = {m: float(np.sqrt(((lst.lstsr.upscale(4, method=m) - truth) ** 2).mean()))
            for m in ("nearest", "bicubic")}
    assert rmse["bicubic"] < rmse["nearest"]


def test_nan_footprint_exact():
    rng = np.random.default_rng(0)
    vals = (300 + rng.normal(0, 3, (2, 12, 12))).astype(np.float32)
    vals[0, 3:5, 6:9] = np.nan
    vals[1, 0, 0] = np.nan
    lst = make_lst(vals)
    sr = lst.lstsr.upscale(4).values
    gap = np.repeat(np.repeat(np.isnan(vals), 4, axis=1), 4, axis=2)
    np.testing.assert_array_equal(np.isnan(sr), gap)
    assert sr[~gap].min() > 280 and sr[~gap].max() < 320


def test_all_nan_time_step_is_skipped():
    vals = np.full((2, 8, 8), 300.0, np.float32)
    vals[1] = np.nan
    sr = make_lst(vals).lstsr.upscale(2)
    assert np.isnan(sr.values[1]).all() and np.allclose(sr.values[0], 300.0)


def test_2d_and_4d_inputs():
    v = 300 + np.random.default_rng(2).random((8, 8))
    sr2 = make_lst(v).lstsr.upscale(2)
    assert sr2.dims == ("y", "x")
    da4 = xr.concat([make_lst(np.stack([v, v + 1]))] * 3, dim="member").transpose("member", "time", "y", "x")
    sr4 = da4.lstsr.upscale(2)
    assert sr4.dims == ("member", "time", "y", "x") and sr4.shape == (3, 2, 16, 16)
    np.testing.assert_allclose(sr4.values[1, 0], sr2.values, rtol=1e-6)


@settings(deadline=None, max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cy=st.integers(1, 20), cx=st.integers(1, 20), ct=st.integers(1, 3))
def test_dask_equals_numpy_any_chunking(scene, cy, cx, ct):
    lst = scene["lst_1km"].isel(y=slice(0, 24), x=slice(0, 20))
    expected = lst.lstsr.upscale(4).values
    lazy = lst.chunk({"time": ct, "y": cy, "x": cx}).lstsr.upscale(4)
    assert isinstance(lazy.data, dsa.Array)
    np.testing.assert_allclose(lazy.values, expected, rtol=0, atol=1e-3, equal_nan=True)


def test_output_chunks_are_input_chunks_times_factor(scene):
    lazy = scene["lst_1km"].chunk({"time": 1, "y": 32, "x": 16}).lstsr.upscale(4)
    assert lazy.chunks == ((1, 1, 1), (128, 128), (64,) * 4)


def test_upscale_does_not_compute_eagerly(scene):
    lst = scene["lst_1km"].chunk({"time": 1, "y": 16, "x": 16})
    with raise_if_computed():
        sr = xlstsr.upscale(lst, 4)
        sr = sr.where(sr > 0)
    with raise_if_computed(max_computes=1):  # one pass over the graph, no second one
        sr.compute()


def test_unknown_method_and_missing_guide(scene):
    with pytest.raises(ValueError, match="available"):
        scene["lst_1km"].lstsr.upscale(4, method="magic")


def test_guide_for_unguided_method_warns(scene):
    with pytest.warns(UserWarning, match="does not use a guide"):
        scene["lst_1km"].lstsr.upscale(4, guide=scene["ndvi_250m"])


def test_register_custom_method(scene, method_registry):
    @xlstsr.register_method("test_constant")
    class Constant(xlstsr.methods.UpscaleMethod):
        def halo(self, factor):
            return 0

        def upscale_block(self, lst, valid, guide, factor):
            return np.full((lst.shape[0], lst.shape[1] * factor, lst.shape[2] * factor), 301.0)

    assert "test_constant" in xlstsr.available_methods()
    sr = scene["lst_1km"].lstsr.upscale(4, method="test_constant")
    assert np.nanmax(sr.values) == 301.0


def test_real_modis_aster_pair(shared_data):
    d = shared_data / "modis_aster"
    lst = rioxarray.open_rasterio(d / "001_modis_lst_1km.tif", chunks={"x": 32, "y": 32})
    sr = lst.lstsr.upscale(4)
    assert sr.dims == ("band", "y", "x") and sr.shape == (1, 256, 256)
    assert sr.rio.crs == lst.rio.crs
    t = sr.rio.transform()
    assert t.a == pytest.approx(926.6254330558334 / 4) and t.c == pytest.approx(lst.rio.transform().c)
    vals = sr.values
    assert np.isfinite(vals).all() and 280 < vals.mean() < 330
    # bicubic keeps the coarse scale: aggregating it back is close to the input
    back = xlstsr.coarsen(sr, 4)
    assert float(np.abs(back - lst.values).mean()) < 0.5
