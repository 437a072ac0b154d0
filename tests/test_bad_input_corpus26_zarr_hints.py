"""Twenty-sixth round of bad inputs, the fixes upscale_to_zarr's own refusals suggest: a (scene,
time, y, x) cube is told to stack its leading dims (`da.stack(t=(...))`), which then crashed in
the writer with xarray's NotImplementedError (a MultiIndex cannot be stored in Zarr); a (time,
rows, cols) LST is told to declare its dims (`da.rio.set_spatial_dims(...)`), which upscale takes
but upscale_to_zarr refused with the same message (the declaration lives on rioxarray's accessor,
which the writer's chunking does not carry over). Each suggested fix must work end to end."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from affine import Affine

import xlstsr
from xlstsr.errors import XlstsrError

N = 16


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _cube() -> xr.DataArray:
    """A (scene, time, y, x) LST: two scenes of three dates."""
    rng = np.random.default_rng(0)
    return xr.DataArray(
        (300 + rng.standard_normal((2, 3, N, N))).astype("float32"),
        dims=("scene", "time", "y", "x"),
        coords={"scene": ["a", "b"],
                "time": np.array(["2020-07-01", "2020-07-02", "2020-07-03"], "datetime64[ns]"),
                "y": 500000.0 - (np.arange(N) + .5) * 1000,
                "x": 400000.0 + (np.arange(N) + .5) * 1000},
        attrs={"units": "K"}, name="lst").rio.write_crs("EPSG:32631")


def _rows_cols() -> xr.DataArray:
    """A (time, rows, cols) LST: dims rioxarray does not know."""
    rng = np.random.default_rng(1)
    return xr.DataArray(
        (300 + rng.standard_normal((2, N, N))).astype("float32"), dims=("time", "rows", "cols"),
        coords={"time": np.array(["2020-07-01", "2020-07-02"], "datetime64[ns]")},
        attrs={"units": "K"}, name="lst").rio.write_crs("EPSG:32631")


def _declared(da: xr.DataArray) -> xr.DataArray:
    """``da``'s rows/cols declared, as the "no spatial dimensions" refusal says."""
    return da.rio.set_spatial_dims(x_dim="cols", y_dim="rows")


def test_stacked_leading_dims_as_the_refusal_suggests_are_written(tmp_path):
    lst = _cube()
    with pytest.raises(XlstsrError, match=r"stack\(t="):
        xlstsr.upscale_to_zarr(lst, tmp_path / "a.zarr", 4, progress=False)
    stacked = lst.stack(t=("scene", "time")).transpose("t", "y", "x")
    expected = xlstsr.upscale(stacked, 4)
    out = xlstsr.upscale_to_zarr(stacked, tmp_path / "b.zarr", 4, time_chunk=2, progress=False)
    # the labels kept: the returned array has upscale's MultiIndex back, and unstacks
    assert out.indexes["t"].equals(expected.indexes["t"])
    np.testing.assert_allclose(out.values, expected.values)
    cube = out.unstack("t")
    np.testing.assert_allclose(cube.sel(scene="b", time="2020-07-02").values,
                               expected.sel(t=("b", np.datetime64("2020-07-02"))).values)
    # the store itself holds the levels as coordinates along t
    stored = xr.open_zarr(tmp_path / "b.zarr", consolidated=False)
    assert stored["scene"].dims == ("t",) and stored["time"].dims == ("t",)
    assert list(stored["scene"].values) == list(stacked["scene"].values)
    np.testing.assert_array_equal(stored["time"].values, stacked["time"].values)
    # the same stacked input resumes (a complete store: nothing to do); one with fewer steps is
    # told that its labels differ, and the same labels are not said to differ
    again = xlstsr.upscale_to_zarr(stacked, tmp_path / "b.zarr", 4, time_chunk=2,
                                   progress=False, mode="resume")
    np.testing.assert_allclose(again.values, expected.values)
    with pytest.raises(XlstsrError, match="labels differ from the store's"):
        xlstsr.upscale_to_zarr(stacked.isel(t=slice(0, 4)), tmp_path / "b.zarr", 4,
                               time_chunk=2, progress=False, mode="resume")
    with pytest.raises(XlstsrError, match="method") as err:
        xlstsr.upscale_to_zarr(stacked, tmp_path / "b.zarr", 4, method="nearest",
                               time_chunk=2, progress=False, mode="resume")
    assert "labels differ" not in str(err.value)


def test_spatial_dims_declared_as_the_refusal_suggests_are_written(tmp_path):
    da = _rows_cols()
    with pytest.raises(XlstsrError, match="set_spatial_dims"):
        xlstsr.upscale_to_zarr(da, tmp_path / "refused.zarr", 4, progress=False)
    da = _declared(da).rio.write_transform(Affine(1000, 0, 400000, 0, -1000, 500000))
    expected = xlstsr.upscale(da, 4)
    out = xlstsr.upscale_to_zarr(da, tmp_path / "sr.zarr", 4, progress=False)
    # the store as upscale's result: the user's dim names, declared on the returned array
    assert out.dims == expected.dims == ("time", "rows", "cols")
    assert (out.rio.y_dim, out.rio.x_dim) == ("rows", "cols")
    np.testing.assert_allclose(out.values, expected.values)
    np.testing.assert_array_equal(out["cols"].values, expected["cols"].values)
    assert out.rio.transform() == expected.rio.transform()
    assert out.rio.crs == expected.rio.crs
    xlstsr.upscale_to_zarr(da, tmp_path / "sr.zarr", 4, progress=False, mode="resume")


@pytest.mark.parametrize("lazy", [False, True])
def test_guide_with_declared_dims(tmp_path, lazy):
    scene = xlstsr.datasets.sample_scene(n_times=2, size=64)
    lst = scene["lst_1km"]
    guide = scene["ndvi_250m"].rename(y="r", x="c")
    if lazy:
        guide = guide.chunk()
    guide = guide.rio.set_spatial_dims(x_dim="c", y_dim="r")
    lst = _declared(lst.rename(y="rows", x="cols"))
    expected = xlstsr.upscale(lst, 4, "tsharp", guide)
    out = xlstsr.upscale_to_zarr(lst, tmp_path / "g.zarr", 4, method="tsharp", guide=guide,
                                 progress=False)
    assert out.dims == expected.dims
    np.testing.assert_allclose(out.values, expected.values, equal_nan=True)

