"""corpus30 (engine): upscale_to_zarr's default regions of a cube held in one time chunk, the
store's chunks under a small ``tile=``, and the advice to restore a store an interrupted
``mode="w"`` run set aside."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
import rasterio
import xarray as xr
import zarr
from helpers import make_lst, restore_method_registry
from rasterio.transform import from_origin

import xlstsr
from xlstsr.engine import to_zarr
from xlstsr.errors import XlstsrError
from xlstsr.io.zarr import INCOMPLETE, STATUS_ATTR, WRITER_ATTR


def _cube(n_t: int, size: int = 16, seed: int = 0) -> xr.DataArray:
    rng = np.random.default_rng(seed)
    base = 290 + rng.standard_normal((size, size)).cumsum(0) / 6
    v = np.stack([base + 0.05 * i for i in range(n_t)]).astype("float32")
    return make_lst(v, units="K").assign_coords(time=np.arange(n_t))


def _done(store) -> np.ndarray:
    return np.asarray(zarr.open_array(store, path="xlstsr_progress/done", mode="r")[:])


# 1. a cube held in one time chunk (a contiguous NetCDF, a pixel-interleaved GeoTIFF) was one
#    region of every step: no progress, nothing to resume, memory growing with the series


def test_contiguous_netcdf_cube_streams_in_several_regions(tmp_path, caplog):
    lst = _cube(24)
    nc = tmp_path / "cube.nc"
    lst.to_dataset(name="lst").to_netcdf(nc)  # contiguous: one dask chunk when opened
    with caplog.at_level(logging.INFO, logger="xlstsr.engine.to_zarr"), \
            warnings.catch_warnings():
        warnings.simplefilter("error")  # a log line, not a warning
        out = xlstsr.upscale_to_zarr(nc, tmp_path / "o.zarr", 4, progress=False)
    steps = out.encoding["chunks"][0]
    from xlstsr.engine.to_zarr import WHOLE_SERIES_STEPS
    assert steps == WHOLE_SERIES_STEPS  # 24 small steps in one chunk: the whole-series cap
    assert len(_done(tmp_path / "o.zarr")) == -(-lst.sizes["time"] // steps) > 1
    assert "time_chunk=" in caplog.text and "one chunk" in caplog.text
    np.testing.assert_array_equal(out.values, xlstsr.upscale(lst, 4).values)


def test_multiband_pixel_interleaved_geotiff_streams_in_several_regions(tmp_path):
    n, size = 16, 16
    data = _cube(n, size).values
    path = tmp_path / "stack.tif"
    prof = dict(driver="GTiff", width=size, height=size, count=n, dtype="float32",
                crs="EPSG:32631", transform=from_origin(500000, 4500000, 1000, 1000),
                interleave="pixel", nodata=np.nan)
    with rasterio.open(path, "w", **prof) as dst:
        dst.write(data)
        dst.update_tags(units="K")
    out = xlstsr.upscale_to_zarr(path, tmp_path / "o.zarr", 4, progress=False)
    assert out.encoding["chunks"][0] < n
    assert len(_done(tmp_path / "o.zarr")) > 1


def test_default_time_chunk_keeps_small_input_chunks_and_explicit_values(tmp_path):
    lst = _cube(8)
    for chunk in (1, 2):  # a chunking chosen for time is kept
        out = xlstsr.upscale_to_zarr(lst.chunk(time=chunk), tmp_path / f"c{chunk}.zarr", 4,
                                     progress=False)
        assert out.encoding["chunks"][0] == chunk
    out = xlstsr.upscale_to_zarr(lst, tmp_path / "mem.zarr", 4, progress=False)
    assert out.encoding["chunks"][0] == 1  # in memory: one step, as before
    out = xlstsr.upscale_to_zarr(lst.chunk(), tmp_path / "given.zarr", 4, progress=False,
                                 time_chunk=8)
    assert out.encoding["chunks"][0] == 8  # given: taken as is


def test_default_time_chunk_bounds_a_regions_output(tmp_path, monkeypatch, caplog):
    lst = _cube(12)
    step = lst.sizes["y"] * 4 * lst.sizes["x"] * 4 * lst.dtype.itemsize
    monkeypatch.setattr(to_zarr, "REGION_OUTPUT_BYTES", 3 * step)
    with caplog.at_level(logging.INFO, logger="xlstsr.engine.to_zarr"):
        out = xlstsr.upscale_to_zarr(lst.chunk(time=6), tmp_path / "o.zarr", 4, progress=False)
    assert out.encoding["chunks"][0] == 3
    assert "MiB of output" in caplog.text
    np.testing.assert_array_equal(out.values, xlstsr.upscale(lst, 4).values)
    out = xlstsr.upscale_to_zarr(lst.chunk(time=6), tmp_path / "given.zarr", 4, progress=False,
                                 time_chunk=6)
    assert out.encoding["chunks"][0] == 6


def test_resume_of_a_one_chunk_cube_with_other_input_chunks_is_exact(tmp_path):
    lst = _cube(24)
    store = tmp_path / "o.zarr"
    with restore_method_registry():

        @xlstsr.register_method("corpus30_failing_bicubic")
        class Failing(xlstsr.methods.UpscaleMethod):
            """Bicubic that fails after ``limit`` images (a crash mid-run)."""
            calls = 0
            limit = 10**9

            def upscale_block(self, lst, valid, guide, factor):
                type(self).calls += lst.shape[0]
                if type(self).calls > self.limit:
                    raise RuntimeError("crash")
                return xlstsr.methods.get_method("bicubic").upscale_block(lst, valid, guide,
                                                                          factor)

        Failing.limit = 10  # the first region (8 steps) lands, the second fails
        with pytest.raises(RuntimeError, match="crash"):
            xlstsr.upscale_to_zarr(lst.chunk(), store, 4, "corpus30_failing_bicubic",
                                   regions_in_flight=1, progress=False)
        done = _done(store).astype(bool)
        assert 0 < done.sum() < len(done)
        Failing.calls, Failing.limit = 0, 10**9
        # the same data, in memory (another chunking): the store's own time chunk is taken
        out = xlstsr.upscale_to_zarr(lst, store, 4, "corpus30_failing_bicubic", mode="resume",
                                     progress=False)
        assert _done(store).all()
        ref = xlstsr.upscale_to_zarr(lst.chunk(), tmp_path / "ref.zarr", 4,
                                     "corpus30_failing_bicubic", progress=False)
    assert out.encoding["chunks"] == ref.encoding["chunks"]
    xr.testing.assert_identical(out.to_dataset(), ref.to_dataset())


# 2. tile= set the store's chunks: tile=1 wrote 4 x 4 px Zarr chunks, thousands of files


@pytest.mark.parametrize("chunks", [None, {"y": 16, "x": 16}])
def test_small_tile_does_not_shrink_the_stores_chunks(tmp_path, chunks):
    lst = _cube(2, 32)
    src = lst if chunks is None else lst.chunk(chunks)
    tile, f = 2, 4
    out = xlstsr.upscale_to_zarr(src, tmp_path / "t.zarr", f, tile=tile, progress=False)
    fine = lst.sizes["y"] * f
    in_chunk = fine if chunks is None else chunks["y"] * f
    cy, cx = out.encoding["chunks"][-2:]
    assert cy == cx >= min(512, in_chunk)
    assert cy % (tile * f) == 0 or cy == fine  # whole tiles
    np.testing.assert_array_equal(out.values, xlstsr.upscale(lst, f).values)
    auto = xlstsr.upscale_to_zarr(src, tmp_path / "a.zarr", f, progress=False)
    lazy = xlstsr.upscale(src.chunk(time=1), f)  # tile='auto': the result's own chunks
    assert auto.encoding["chunks"][-2:] == tuple(max(c) for c in lazy.chunks[-2:])


# 3. the advice to restore a store an interrupted mode="w" run set aside failed: the rename
#    onto the unfinished new store (a folder that is not empty)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _advice(msg: str) -> str:
    m = re.search(r"`(import os[^`]*)`", msg)
    assert m, f"no runnable advice in {msg!r}"
    return m.group(1)


@pytest.mark.parametrize("unfinished_store", [True, False])
def test_advice_to_restore_a_set_aside_store_works(tmp_path, unfinished_store):
    import socket

    lst = _cube(2)
    p = tmp_path / "lst.zarr"
    first = xlstsr.upscale_to_zarr(lst, p, 4, progress=False).values
    pid = _dead_pid()  # the killed mode="w" run
    aside = tmp_path / f".lst.zarr.replaced-{pid}-{time.time_ns()}"
    os.rename(p, aside)
    if unfinished_store:  # what it started at the path, marked as its own and unfinished
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (the set-aside store is named)
            xlstsr.upscale_to_zarr(lst + 5, p, 4, progress=False)
        root = zarr.open_group(p, mode="r+")
        root.attrs[STATUS_ATTR] = INCOMPLETE
        root.attrs[WRITER_ATTR] = {"host": socket.gethostname(), "pid": pid,
                                   "process_start": None}
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with pytest.raises(XlstsrError, match="time_chunk"):  # a call that writes nothing
            xlstsr.upscale_to_zarr(lst, p, 4, progress=False, time_chunk=0)
    msg = next(str(m.message) for m in w if "replaced" in str(m.message))
    exec(_advice(msg), {})  # as the user would run it
    assert not aside.exists()
    if not unfinished_store:
        # a call on a free path is about to write its own result there (probe 53 r2: a rename
        # back, followed after a run that finished, failed): the copy is moved beside it
        p = next(tmp_path.glob("lst.earlier-*.zarr"))
    again = xr.open_zarr(p, consolidated=False)
    np.testing.assert_array_equal(next(v for v in again.data_vars.values() if v.ndim == 3).values,
                                  first)
