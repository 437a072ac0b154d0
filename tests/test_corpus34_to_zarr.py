"""upscale_to_zarr: lazily indexed (non-dask) inputs streamed, not read whole; advice for
mistyped keywords (overwrite=/resume=/append=, chunks=, max_memory=)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr.errors import XlstsrError


def _unread(da: xr.DataArray) -> bool:
    """Whether a DataArray opened by xr.open_dataset (no chunks) still holds no values."""
    from xarray.core import indexing

    data = da.variable._data
    while isinstance(data, indexing.ExplicitlyIndexed):
        if isinstance(data, indexing.NumpyIndexingAdapter):
            return False
        data = getattr(data, "array", None)
    return not isinstance(data, np.ndarray)


@pytest.fixture
def scene():
    return xlstsr.datasets.sample_scene(n_times=6, size=32, seed=1)


def _netcdf(tmp_path, scene):
    f = tmp_path / "cube.nc"
    xr.Dataset({"LST": scene["lst_1km"]}).to_netcdf(f)
    g = tmp_path / "guide.nc"
    xr.Dataset({"NDVI": scene["ndvi_250m"]}).to_netcdf(g)
    return f, g


def test_lazily_indexed_netcdf_streamed_by_time_not_read_whole(tmp_path, scene, monkeypatch):
    from xarray.backends import h5netcdf_, netCDF4_

    f, _ = _netcdf(tmp_path, scene)
    reads = []
    for wrapper in (h5netcdf_.H5NetCDFArrayWrapper, netCDF4_.NetCDF4ArrayWrapper):
        orig = wrapper._getitem

        def spy(self, key, _orig=orig):
            r = _orig(self, key)
            if np.ndim(r) == 3:
                reads.append(r.shape[0])
            return r

        monkeypatch.setattr(wrapper, "_getitem", spy)
    ds = xr.open_dataset(f, decode_coords="all")
    out = xlstsr.upscale_to_zarr(ds["LST"], tmp_path / "sr.zarr", 4, progress=False)
    nt = scene["lst_1km"].sizes["time"]
    assert reads and max(reads) < nt  # each region reads its own steps
    assert _unread(ds["LST"])  # the user's Dataset got no loaded copy
    expected = xlstsr.upscale(scene["lst_1km"], 4)
    np.testing.assert_allclose(out.values, expected.values, equal_nan=True, rtol=1e-6)


def test_lazy_check_reads_nothing(tmp_path, scene):
    from xlstsr.engine import to_zarr as tz

    z = tmp_path / "cube.zarr"
    xr.Dataset({"LST": scene["lst_1km"]}).to_zarr(z, zarr_format=3, consolidated=False)
    ds = xr.open_dataset(z, engine="zarr", consolidated=False, decode_coords="all")
    assert not tz._lazy(ds["LST"]) and not tz._lazy(ds)
    assert _unread(ds["LST"])


def test_lazily_indexed_guide_unread_and_same_result(tmp_path, scene):
    f, g = _netcdf(tmp_path, scene)
    lst = xr.open_dataset(f, decode_coords="all")["LST"]
    gds = xr.open_dataset(g, decode_coords="all")
    out = xlstsr.upscale_to_zarr(lst, tmp_path / "sr.zarr", 4, "dms", gds["NDVI"],
                                 progress=False)
    assert _unread(gds["NDVI"]) and _unread(lst)
    ref = xlstsr.upscale_to_zarr(scene["lst_1km"].chunk({"time": 1}), tmp_path / "ref.zarr", 4,
                                 "dms", scene["ndvi_250m"].chunk(), progress=False)
    np.testing.assert_allclose(out.values, ref.values, equal_nan=True, rtol=1e-5)


def _refusal(tmp_path, scene, **kw) -> str:
    with pytest.raises(XlstsrError) as err:
        xlstsr.upscale_to_zarr(scene["lst_1km"], tmp_path / "new.zarr", 4, progress=False, **kw)
    return str(err.value)


@pytest.mark.parametrize("kw", [{"overwrite": False}, {"resume": False}])
def test_no_to_overwrite_or_resume_is_pointed_to_the_default_mode(tmp_path, scene, kw):
    msg = _refusal(tmp_path, scene, **kw)
    assert "mode='w-'" in msg and "default" in msg
    assert "`mode='w'`" not in msg and "`mode='resume'`" not in msg


def test_overwrite_true_and_resume_true_advice(tmp_path, scene):
    assert "`mode='w'`" in _refusal(tmp_path, scene, overwrite=True)
    assert "`mode='resume'`" in _refusal(tmp_path, scene, resume=True)


@pytest.mark.parametrize("value", [True, False])
def test_append_is_told_stores_cannot_be_extended(tmp_path, scene, value):
    msg = _refusal(tmp_path, scene, append=value)
    assert "mode='resume'" not in msg
    assert "cannot be extended" in msg and "open_mfdataset" in msg


def test_chunks_keyword_points_to_chunking_the_input(tmp_path, scene):
    msg = _refusal(tmp_path, scene, chunks=512)
    assert "lst.chunk(" in msg and "tile=" in msg
    assert "has no option" not in msg


@pytest.mark.parametrize("kw", ["max_memory", "memory_limit"])
def test_memory_keyword_points_to_time_chunk_and_regions_in_flight(tmp_path, scene, kw):
    msg = _refusal(tmp_path, scene, **{kw: "4GB"})
    assert "time_chunk=" in msg and "regions_in_flight=" in msg
    assert "has no option" not in msg
