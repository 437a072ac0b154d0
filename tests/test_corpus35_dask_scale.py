"""Corpus 35 (dask engine at scale): Zarr-writable tiles, guide_offset='auto' reads on dask,
a graph build linear in the time chunks, scene-wide methods on large time chunks, an in-memory
guide under a distributed client."""

from __future__ import annotations

import importlib
import warnings

import dask
import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
from affine import Affine
from helpers import make_lst, raise_if_computed
from test_coregister import UL_SIN, Waves

import xlstsr
from xlstsr.engine import blocks
from xlstsr.engine.blocks import upscale_array
from xlstsr.errors import GridError, GuideAlignmentWarning, XlstsrError
from xlstsr.grid import MODIS_1KM, MODIS_250M, MODIS_SINUSOIDAL
from xlstsr.methods import get_method

F = 4


def _zarr_regular(chunks: tuple[int, ...]) -> bool:
    """All of one size but a last one no larger: what Zarr (and xarray's to_zarr) accepts."""
    return len(set(chunks[:-1])) <= 1 and chunks[-1] <= chunks[0]


def _field(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:n, 0:n]
    return (300 + 4 * np.sin(xx / 5.0) * np.cos(yy / 7.0)
            + rng.normal(0, 0.3, (n, n))).astype("float32")


# -- 12: a tile that does not divide the input's chunks keeps the output Zarr-writable ----------
@pytest.mark.parametrize("tile", [12, 24, 25])
def test_tile_split_keeps_a_zarr_writable_output(tmp_path, tile):
    lst = make_lst(np.stack([_field(150), _field(150, 1)]), units="K")
    lazy = lst.chunk({"time": 1, "y": 64, "x": 64})  # 64, 64, 22: Zarr-writable
    sr = xlstsr.upscale(lazy, F, "bicubic", tile=tile)
    assert all(_zarr_regular(c) for c in sr.chunks), sr.chunks  # 84, 84, 84, 88... before
    # the README's path: no "Zarr requires uniform chunk sizes"
    sr.to_dataset(name="lst").to_zarr(tmp_path / "sr.zarr", mode="w", compute=False)
    whole = xlstsr.upscale(lst, F, "bicubic", tile=None)
    np.testing.assert_allclose(sr.values, whole.values, rtol=0, atol=1e-4, equal_nan=True)


def test_tiles_across_input_chunk_edges_equal_the_whole_array_with_a_guide():
    # 72 px in chunks of 32 cut in tiles of 12: tiles 24-36 and 60-72 straddle a chunk edge,
    # their LST and guide windows are joined from two blocks (guide chunked otherwise)
    m = get_method("disr")
    lst = np.stack([_field(72), _field(72, 2)])
    lst[1, 10:20, 30:50] = np.nan  # a gap across a tile edge
    guide = np.repeat(np.repeat(0.5 - 0.02 * (lst[:1, None] - 300), F, -2), F, -1)
    guide = np.nan_to_num(guide, nan=0.4).astype("float32")
    expected = upscale_array(m, lst, guide, F, tile=None)
    out = upscale_array(m, dsa.from_array(lst, chunks=(1, 32, 32)),
                        dsa.from_array(guide, chunks=(1, 1, 100, 100)), F, tile=12)
    assert out.chunks[1] == (48,) * 6 and _zarr_regular(out.chunks[2])
    np.testing.assert_allclose(out.compute(), expected, rtol=0, atol=1e-4, equal_nan=True)


def test_split_large_chunks_irregular_input_split_chunk_by_chunk():
    # an input that is not Zarr-writable as it is: each chunk on its own, as before
    assert blocks._split_large_chunks((100, 30, 50), 40) == (34, 34, 32, 30, 25, 25)
    assert blocks._split_large_chunks((64, 64, 22), 24) == (22,) * 6 + (18,)


# -- 13: guide_offset="auto" on dask reads the sampled windows once, not the whole images ------
def _offset_pair(nt: int, n: int) -> tuple[xr.DataArray, xr.DataArray]:
    """An (nt, n, n) LST stored as MODIS-style scaled integers and a 250 m NDVI-like guide
    whose content lies 0.7 px west and 0.6 px north of its labels."""
    waves = Waves(7)
    x = UL_SIN[0] + (np.arange(n) + 0.5) * MODIS_1KM
    y = UL_SIN[1] - (np.arange(n) + 0.5) * MODIS_1KM
    xx, yy = np.meshgrid(x, y)
    k = waves.pixel(xx, yy, MODIS_1KM, 350.0)
    dn = np.broadcast_to(np.round(k / 0.02).astype("uint16"), (nt, n, n)).copy()
    t = np.datetime64("2020-07-01") + np.arange(nt).astype("timedelta64[D]")
    lst = xr.DataArray(dn, dims=("time", "y", "x"), coords={"time": t, "y": y, "x": x},
                       attrs={"units": "K", "scale_factor": 0.02, "_FillValue": 0})
    lst = lst.rio.write_crs(MODIS_SINUSOIDAL).rio.write_transform(
        Affine(MODIS_1KM, 0, UL_SIN[0], 0, -MODIS_1KM, UL_SIN[1]))
    m = n * F + 16
    x0, y0 = UL_SIN[0] - 8 * MODIS_250M, UL_SIN[1] + 8 * MODIS_250M
    gx = x0 + (np.arange(m) + 0.5) * MODIS_250M
    gy = y0 - (np.arange(m) + 0.5) * MODIS_250M
    gxx, gyy = np.meshgrid(gx, gy)
    v = 0.5 - 0.02 * (waves.point(gxx - 0.7 * MODIS_250M, gyy + 0.6 * MODIS_250M) - 300.0)
    guide = xr.DataArray(v, dims=("y", "x"), coords={"y": gy, "x": gx})
    guide = guide.rio.write_crs(MODIS_SINUSOIDAL).rio.write_transform(
        Affine(MODIS_250M, 0, x0, 0, -MODIS_250M, y0))
    return lst, guide


def _counted(lst: xr.DataArray, chunks: dict, reads: list) -> xr.DataArray:
    """``lst`` chunked, each block's read recorded in ``reads`` (its chunk location)."""
    def read(block, block_info=None):
        reads.append(tuple(block_info[None]["chunk-location"]))
        return block

    c = lst.chunk(chunks)
    data = c.data.map_blocks(read, dtype=c.dtype, meta=np.empty((0, 0, 0), c.dtype))
    return c.copy(data=data)


def test_offset_auto_on_dask_reads_each_window_chunk_once_in_one_compute():
    lst, guide = _offset_pair(16, 40)
    reads: list = []
    lazy = _counted(lst, {"time": 1, "y": 20, "x": 20}, reads)
    with raise_if_computed(max_computes=1), \
            pytest.warns(GuideAlignmentWarning, match="moved back by it"):
        sr = xlstsr.upscale(lazy, F, "tsharp", guide=guide, guide_offset="auto")
    # 8 steps sampled, each read once (the counts and the chosen step: twice before)
    assert len(reads) == len(set(reads)) == 8 * 4, sorted(reads)
    ref = xlstsr.upscale(lst, F, "tsharp", guide=guide, guide_offset="auto")  # in memory
    np.testing.assert_allclose(sr.values, ref.values, rtol=0, atol=1e-4)


def test_offset_window_read_from_the_stored_chunks_that_hold_it():
    from xlstsr.guide import measure_offset
    from xlstsr.validate import georeference, prepare_lst

    lst, guide = _offset_pair(16, 40)
    reads: list = []
    lazy = _counted(lst, {"time": 1, "y": 10, "x": 10}, reads)
    kelvin = prepare_lst(lazy)
    with raise_if_computed(max_computes=1):
        est = measure_offset(guide, kelvin, "auto", window=16, factor=F,
                             stored=georeference(lazy))
    # the centre 16 x 16 (12:28) lies in chunks 1 and 2 of 4 along y and x: 4 of 16 per step,
    # not the whole images the value checks of `kelvin` take
    assert sorted(set(reads)) == sorted({(t, y, x) for t, *_ in reads for y in (1, 2)
                                         for x in (1, 2)})
    assert len(reads) == 8 * 4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GuideAlignmentWarning)
        ref = measure_offset(guide, prepare_lst(lst), "auto", window=16, factor=F)
    assert est is not None and ref is not None
    for k in ("shift_x", "shift_y"):
        assert float(est[k]) == pytest.approx(float(ref[k]), abs=1e-6)


# -- 01: the graph build is linear in the time chunks -------------------------------------------
def test_build_does_not_recompute_chunk_edges_per_task(monkeypatch):
    calls = []
    cumsum = np.cumsum

    def counted(*args, **kwargs):
        calls.append(1)
        return cumsum(*args, **kwargs)

    lst = dsa.zeros((400, 64, 64), chunks=(1, 64, 64), dtype="float32")
    guide = dsa.zeros((400, 1, 256, 256), chunks=(1, 1, 256, 256), dtype="float32")
    monkeypatch.setattr(np, "cumsum", counted)
    out = upscale_array(get_method("disr"), lst, guide, F, tile=16)
    monkeypatch.undo()
    assert out.numblocks == (400, 4, 4)
    # each axis's edges once (before: three cumulative sums over every chunk per task, and
    # four more for the guide's window: 44 800 here, 91 250 x 3 for a 10-year daily cube)
    assert len(calls) <= 10, len(calls)


# -- 08: scene-wide methods on large time chunks ------------------------------------------------
def _boom(block):
    raise RuntimeError("computed at build time")


def _lazy_zeros(n: int, res: float, nt: int, chunks: tuple, units: str) -> xr.DataArray:
    data = dsa.zeros((nt, n, n), chunks=chunks, dtype="float32").map_blocks(
        _boom, dtype="float32", meta=np.empty((0, 0, 0), "float32"))
    da = make_lst(np.empty((0, n, n)), res=res)  # coordinates only
    t = np.datetime64("2020-01-01") + np.arange(nt).astype("timedelta64[D]")
    return xr.DataArray(data, dims=("time", "y", "x"),
                        coords={"time": t, "y": da.y.values, "x": da.x.values},
                        attrs={"units": units}).rio.write_crs("EPSG:32631")


@pytest.mark.parametrize("method", ["dms", "tsharp"])
def test_scene_wide_method_on_large_time_chunks_is_split_not_refused(method):
    lst = _lazy_zeros(1200, 1000.0, 60, (30, 600, 600), "K")
    ndvi = _lazy_zeros(4800, 250.0, 60, (1, 2400, 2400), "1")
    with raise_if_computed():  # "each output chunk would hold 2.6 GiB" before
        sr = xlstsr.upscale(lst, F, method, guide=ndvi)
    assert sr.chunks[1:] == ((4800,), (4800,))
    assert _zarr_regular(sr.chunks[0]) and sum(sr.chunks[0]) == 60
    assert max(sr.chunks[0]) * 4800 * 4800 * 4 <= blocks.WHOLE_IMAGE_TASK_BYTES


def test_scene_wide_time_split_gives_the_same_images(monkeypatch):
    rng = np.random.default_rng(5)
    fine = (0.5 + 0.2 * rng.random((6, 96, 96))).astype("float32")
    lst = (320 - 20 * fine.reshape(6, 24, F, 24, F).mean((2, 4))
           + rng.normal(0, 0.3, (6, 24, 24))).astype("float32")
    guide = fine[:, None]
    expected = upscale_array(get_method("dms"), lst, guide, F)
    monkeypatch.setattr(blocks, "WHOLE_IMAGE_TASK_BYTES", 2 * 96 * 96 * 4)
    out = upscale_array(get_method("dms"), dsa.from_array(lst, chunks=(6, 24, 24)),
                        dsa.from_array(guide, chunks=(3, 1, 96, 96)), F)
    assert out.chunks[0] == (2, 2, 2)
    np.testing.assert_allclose(out.compute(), expected, rtol=0, atol=1e-5)


def test_scene_wide_image_too_large_told_that_chunks_cannot_help(monkeypatch):
    # one output image over the limit: smaller y/x chunks (the general advice) change nothing
    validate = importlib.import_module("xlstsr.validate")
    up = importlib.import_module("xlstsr.upscale")
    monkeypatch.setattr(validate, "MAX_OUTPUT_CHUNK_BYTES", 100 * 1024)
    monkeypatch.setattr(up, "MAX_OUTPUT_CHUNK_BYTES", 100 * 1024, raising=False)
    lst = make_lst(np.stack([_field(48)] * 2), units="K").chunk({"time": 1, "y": 16, "x": 16})
    ndvi = make_lst(0.5 + 0.01 * (_field(192) - 300), res=250.0, units="1")
    with pytest.raises(GridError, match=r"fits each image whole.*smaller chunks cannot help"):
        xlstsr.upscale(lst, F, "tsharp", guide=ndvi, guide_offset="ignore")


# -- 04 (review35c): an in-memory guide stays in the graph; the result does not need the client
@pytest.mark.slow  # an in-process cluster: under a second
def test_result_built_under_a_client_does_not_depend_on_it():
    """An in-memory guide stays in the graph (review35c/06, 15): scattered while the graph was
    built, the lazy result failed with threads while the client lived ("Missing dependency")
    and after it closed, and each call held a copy of the guide on the cluster."""
    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(0)
    n = 80
    fine = (0.5 + 0.3 * rng.random((n * F, n * F))).astype("float32")
    lst = make_lst((310 - 15 * fine.reshape(n, F, n, F).mean((1, 3))[None]
                    + rng.normal(0, 0.5, (2, n, n))).astype("float32"), units="K")
    lst[1, 10:20, 5:30] = np.nan
    ndvi = make_lst(fine, res=250.0, units="1")
    lazy = lst.chunk({"time": 1, "y": 40, "x": 40})
    with dask.config.set(scheduler="threads"):
        ref = xlstsr.upscale(lazy, F, "tsharp", guide=ndvi, guide_offset="ignore").values
    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=2,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        sr = xlstsr.upscale(lazy, F, "tsharp", guide=ndvi, guide_offset="ignore")
        held = sum(client.nbytes(summary=True).values())
        assert held == 0, held  # nothing put on the cluster before a compute
        on_threads = sr.compute(scheduler="threads").values
        on_client = sr.values
    after_close = sr.compute(scheduler="threads").values
    for out in (on_threads, on_client, after_close):
        np.testing.assert_allclose(out, ref, rtol=0, atol=1e-6, equal_nan=True)


# -- review35c/11: upscale_to_zarr refuses Zarr chunks no codec encodes, before any work -------
def test_upscale_to_zarr_refuses_chunks_over_the_codec_limit_before_work(tmp_path, monkeypatch):
    import xlstsr.engine.to_zarr as tz

    lst = make_lst(np.stack([_field(16)] * 4), units="K")
    # 4 x 64 x 64 float32 = 64 KiB of output per region: over a limit of 40 KiB, 2 steps fit
    monkeypatch.setattr(tz, "ZARR_CHUNK_MAX_BYTES", 40 * 1024)
    store = tmp_path / "sr.zarr"
    with pytest.raises(XlstsrError, match=r"time_chunk=4 makes Zarr chunks.*time_chunk=2 or less"):
        xlstsr.upscale_to_zarr(lst, store, factor=F, method="bicubic", time_chunk=4,
                               progress=False)
    assert not store.exists()  # refused before the template was written
    # only Blosc has the limit: the same chunks uncompressed are written
    xlstsr.upscale_to_zarr(lst, tmp_path / "raw.zarr", factor=F, method="bicubic",
                           time_chunk=4, compressors=None, progress=False)
    assert xr.open_zarr(tmp_path / "raw.zarr")["lst"].chunks[0] == (4,)
    xlstsr.upscale_to_zarr(lst, store, factor=F, method="bicubic", time_chunk=2, progress=False)
    var = xr.open_zarr(store)["lst"]
    assert var.shape == (4, 64, 64) and var.chunks[0] == (2, 2)
