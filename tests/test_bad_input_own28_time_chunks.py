"""A cube chunked for time series, ``(time=-1, y, x)`` chunks, must not become one task holding
every image: the LST's decoding verdict and the guide's block mean joined each image's spatial
chunks but kept the time chunk, so a year of daily 1200^2 tiles was one 2 GiB task."""

from __future__ import annotations

import dask
import dask.array as dsa
import numpy as np
import pytest
import xarray as xr

import xlstsr
import xlstsr.validate as xv
from xlstsr.datasets import sample_scene


def _cube(n: int = 12, size: int = 128) -> tuple[xr.DataArray, xr.DataArray]:
    s = sample_scene(size=size)
    lst = s["lst_1km"]
    lst = lst.isel(time=0, drop=True) if "time" in lst.dims else lst
    cube = xr.concat([lst + 0.1 * i for i in range(n)], dim="time").assign_coords(
        time=np.datetime64("2020-01-01") + np.arange(n).astype("timedelta64[D]"))
    ndvi = s["ndvi_250m"]
    ndvi = ndvi.isel(time=0, drop=True) if "time" in ndvi.dims else ndvi
    return cube, ndvi


def test_whole_images_bounds_the_steps_per_task():
    cube = dsa.zeros((365, 1200, 1200), chunks=(365, 256, 256), dtype=np.float32)
    out = xv.whole_images(cube)
    assert out.chunks[1:] == ((1200,), (1200,))
    assert max(out.chunks[0]) * 1200 * 1200 * 8 <= max(xv.TASK_BYTES, 1200 * 1200 * 8)
    small = dsa.zeros((10, 64, 64), chunks=(2, 16, 16))
    assert xv.whole_images(small).chunks[0] == (2,) * 5  # smaller chunks kept


def test_the_lst_verdict_sees_a_few_images_per_task(monkeypatch):
    cube, _ = _cube()
    lazy = cube.chunk({"time": -1, "y": 8, "x": 8})
    ny, nx = cube.sizes["y"], cube.sizes["x"]
    monkeypatch.setattr(xv, "TASK_BYTES", 2 * 8 * ny * nx, raising=False)  # two images per task
    seen: list[int] = []
    real = xv._lst_verdict

    def spy(images, *args, **kw):
        seen.append(images.shape[0])
        return real(images, *args, **kw)

    monkeypatch.setattr(xv, "_lst_verdict", spy)
    out = xlstsr.upscale(lazy, 4, method="bicubic")
    with dask.config.set(scheduler="synchronous"):
        got = out.values
    assert seen and max(seen) <= 2, seen
    assert out.chunks[0] == lazy.chunks[0]  # the output keeps the input's steps
    np.testing.assert_array_equal(got, xlstsr.upscale(cube, 4, method="bicubic").values)


def test_a_time_series_guide_is_averaged_a_few_images_per_task(monkeypatch):
    import xlstsr.guide as xg

    cube, ndvi = _cube(n=6)
    guide = xr.concat([ndvi] * 6, dim="time").assign_coords(time=cube["time"])
    monkeypatch.setattr(xv, "TASK_BYTES", 1, raising=False)  # one guide image per task (at least one)
    seen: list[int] = []
    real = xg._block_mean64

    def spy(block, *args, **kw):
        seen.append(block.shape[0])
        return real(block, *args, **kw)

    monkeypatch.setattr(xg, "_block_mean64", spy)
    lazy = guide.chunk({"time": -1, "y": 32, "x": 32})
    got = xg.guide_on_lst_grid(lazy, cube, ("time",))
    want = xg.guide_on_lst_grid(guide, cube, ("time",))
    with dask.config.set(scheduler="synchronous"):
        values = np.asarray(got)
    assert seen and max(seen) == 1, (seen, got.chunks if hasattr(got, "chunks") else None)
    np.testing.assert_allclose(values, np.asarray(want), equal_nan=True)


if __name__ == "__main__":
    pytest.main([__file__])
