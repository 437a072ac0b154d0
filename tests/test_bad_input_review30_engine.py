"""Review 30 of the engine: the resume fingerprint read a whole contiguous cube (one dask chunk)
for its eight sampled steps; a float factor (4.0) counted as 1 in the default region bound
(regions 16x the bound); ``apply_scale_correction`` read a dask-backed DataArray guide (and
DataArray sr / lst) whole at the call."""

from __future__ import annotations

import warnings

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr.correction import apply_scale_correction
from xlstsr.engine import to_zarr
from xlstsr.engine.to_zarr import FINGERPRINT_WINDOW, data_digest


class _Recorder:
    """An array that records the shape of every read: a file read through dask."""

    def __init__(self, a: np.ndarray) -> None:
        self.a, self.shape, self.dtype, self.ndim = a, a.shape, a.dtype, a.ndim
        self.reads: list[tuple[int, ...]] = []

    def __getitem__(self, key):
        out = self.a[key]
        if np.size(out):  # not dask's probe of the meta
            self.reads.append(np.shape(out))
        return out


def test_fingerprint_of_one_chunk_cube_reads_only_the_sampled_windows():
    rng = np.random.default_rng(0)
    n, ny, nx = 24, FINGERPRINT_WINDOW + 40, 48
    a = rng.standard_normal((n, ny, nx)).astype("float32")
    rec = _Recorder(a)
    lazy = xr.DataArray(dsa.from_array(rec, chunks=-1), dims=("time", "y", "x"))  # contiguous
    got = data_digest(lazy)
    assert rec.reads, "nothing was read"
    # each read one sampled step in the centred window, not the whole cube
    assert all(r[0] == 1 and r[1] <= FINGERPRINT_WINDOW for r in rec.reads), rec.reads
    assert len(rec.reads) == to_zarr.FINGERPRINT_CHUNKS
    # the value is the one of the same data in memory or chunked otherwise (stores resume)
    assert got == data_digest(xr.DataArray(a, dims=("time", "y", "x")))
    assert got == data_digest(xr.DataArray(a, dims=("time", "y", "x")).chunk(
        {"time": 5, "y": 100, "x": 16}))


def test_fingerprint_of_contiguous_netcdf_reads_steps_not_the_cube(tmp_path, monkeypatch):
    netcdf4 = pytest.importorskip("xarray.backends.netCDF4_")
    h5 = pytest.importorskip("xarray.backends.h5netcdf_")
    n, s = 16, 64
    v = np.random.default_rng(1).standard_normal((n, s, s)).astype("float32") + 290
    xr.DataArray(v, dims=("time", "y", "x"), name="lst").to_dataset().to_netcdf(
        tmp_path / "cube.nc")  # xarray's default: contiguous, one dask chunk
    reads: list[tuple[int, ...]] = []
    for cls in (netcdf4.NetCDF4ArrayWrapper, h5.H5NetCDFArrayWrapper):
        orig = cls._getitem

        def wrap(self, key, _orig=orig):
            r = _orig(self, key)
            if np.size(r):
                reads.append(np.shape(r))
            return r
        monkeypatch.setattr(cls, "_getitem", wrap)
    lst = xlstsr.io.open_path(tmp_path / "cube.nc")
    da = lst[next(iter(lst.data_vars))] if isinstance(lst, xr.Dataset) else lst
    assert isinstance(da.variable.data, dsa.Array) and len(da.chunks[0]) == 1
    got = data_digest(da)
    assert reads and (n, s, s) not in reads and all(r[0] == 1 for r in reads if len(r) == 3)
    assert got == data_digest(xr.DataArray(v, dims=("time", "y", "x")))


@pytest.mark.parametrize("factor", [4.0, np.float64(4.0), np.array(4), np.int32(4)])
def test_default_time_chunk_counts_a_whole_float_factor(monkeypatch, factor):
    lst = xr.DataArray(np.zeros((12, 32, 32), "float32"), dims=("time", "y", "x")).chunk(
        {"time": 12})
    step = 32 * 4 * 32 * 4 * 4  # one step of x4 float32 output
    monkeypatch.setattr(to_zarr, "REGION_OUTPUT_BYTES", 3 * step)
    want = to_zarr._default_time_chunk(lst, "time", "y", "x", 4)
    assert want == 3
    assert to_zarr._default_time_chunk(lst, "time", "y", "x", factor) == want


def test_upscale_to_zarr_float_factor_keeps_the_region_bound(tmp_path, monkeypatch):
    lst = xlstsr.datasets.sample_scene(n_times=6, size=32)["lst_1km"].chunk(time=6)
    step = lst.sizes["y"] * 4 * lst.sizes["x"] * 4 * 4
    monkeypatch.setattr(to_zarr, "REGION_OUTPUT_BYTES", 2 * step)
    chunks = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for f in (4, 4.0):
            out = xlstsr.upscale_to_zarr(lst, tmp_path / f"{f}.zarr", f, progress=False)
            chunks[f] = out.encoding["chunks"][0]
    assert chunks[4.0] == chunks[4] == 2


def _stacks(n=2, h=16, f=4):
    rng = np.random.default_rng(0)
    lst = (290 + rng.standard_normal((n, h, h))).astype("float32")
    sr = np.repeat(np.repeat(lst, f, 1), f, 2) + 0.3 * rng.standard_normal(
        (n, h * f, h * f)).astype("float32")
    guide = rng.random((n, 1, h * f, h * f)).astype("float32")
    return sr, lst, guide


def _counted(a, chunks):
    computed: list[tuple[int, ...]] = []

    def marker(b):
        if b.size:  # not dask's probe of the meta
            computed.append(b.shape)
        return b
    return dsa.from_array(a, chunks=chunks).map_blocks(marker, dtype=a.dtype), computed


def test_scale_correction_dask_dataarray_guide_stays_lazy():
    sr, lst, guide = _stacks()
    g, computed = _counted(guide, (1, 1, 32, 32))
    out = apply_scale_correction(dsa.from_array(sr, chunks=(1, 64, 64)),
                                 dsa.from_array(lst, chunks=(1, 16, 16)),
                                 xr.DataArray(g, dims=("time", "band", "y", "x")), 4, "law")
    assert isinstance(out, dsa.Array)
    assert computed == [], f"the guide was read at the call: {len(computed)} blocks"
    want = apply_scale_correction(sr, lst, guide, 4, "law")
    np.testing.assert_allclose(out.compute(), want, rtol=0, atol=1e-4)


def test_scale_correction_dask_dataarray_inputs_stay_lazy():
    sr, lst, guide = _stacks()
    s, computed_sr = _counted(sr, (1, 64, 64))
    t, computed_lst = _counted(lst, (1, 16, 16))
    out = apply_scale_correction(xr.DataArray(s, dims=("time", "y", "x")),
                                 xr.DataArray(t, dims=("time", "y", "x")),
                                 xr.DataArray(guide, dims=("time", "band", "y", "x")), 4, "law")
    assert isinstance(out, dsa.Array), type(out)
    assert computed_sr == [] and computed_lst == []
    want = apply_scale_correction(sr, lst, guide, 4, "law")
    np.testing.assert_allclose(out.compute(), want, rtol=0, atol=1e-4)
