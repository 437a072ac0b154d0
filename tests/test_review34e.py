"""Review 34e: object coordinates Zarr stores, empty dask chunks, graph keys of built-in
methods, __slots__ methods pickled and copied, copies of a user's torch model."""

from __future__ import annotations

import copy
import datetime
import pickle
import warnings

import dask
import dask.array as dsa
import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr.methods.base import UpscaleMethod


@pytest.fixture(scope="module")
def scene():
    return xlstsr.datasets.sample_scene(n_times=3, size=64, seed=3)


# -- upscale_to_zarr keeps object coordinates Zarr stores --------------------------------------
def _storable_cases():
    cftime = pytest.importorskip("cftime")
    return {
        "valid_cftime": [cftime.DatetimeNoLeap(2020, 7, d) for d in (1, 2, 3)],
        "eo_cloud_cover": [12.5, 3.0, 40.25],
        "platform_int": [8, 9, 8],
        "acquired": [datetime.datetime(2020, 7, d, 10) for d in (1, 2, 3)],
        "title": ["a", "b", "c"],
    }


def test_to_zarr_keeps_storable_object_coords(scene, tmp_path):
    lst = scene["lst_1km"]
    for name, vals in _storable_cases().items():
        da = lst.assign_coords({name: ("time", np.array(vals, dtype=object))})
        p = tmp_path / f"{name}.zarr"
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            xlstsr.upscale_to_zarr(da, p, factor=4, method="bicubic", progress=False)
        assert not [x for x in w if "Python objects" in str(x.message)], name
        out = xr.open_zarr(p)
        assert name in out.coords, name
        assert out[name].size == 3


def test_to_zarr_drops_only_unstorable_object_coords(scene, tmp_path):
    lst = scene["lst_1km"]
    windows = np.empty(3, dtype=object)
    windows[:] = [[1, 2], {"a": 1}, (3,)]
    da = lst.assign_coords(
        windows=("time", windows),
        proj_code=np.array(None, dtype=object),
        mixed=("time", np.array([1.5, "a", 2.0], dtype=object)),
        cloud=("time", np.array([1.5, 2.5, 3.5], dtype=object)),
    )
    p = tmp_path / "o.zarr"
    with pytest.warns(UserWarning, match="Zarr cannot store") as w:
        xlstsr.upscale_to_zarr(da, p, factor=4, method="bicubic", progress=False)
    msg = next(str(x.message) for x in w if "Zarr cannot store" in str(x.message))
    for c in ("windows", "proj_code", "mixed"):
        assert repr(c) in msg
    assert "'cloud'" not in msg
    out = xr.open_zarr(p)
    assert "cloud" in out.coords
    assert not {"windows", "proj_code", "mixed"} & set(out.coords)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xlstsr.upscale_to_zarr(da, p, factor=4, method="bicubic", progress=False, mode="resume")


# -- empty chunks after the unknown-chunk advice -----------------------------------------------
@pytest.mark.parametrize("method", ["bicubic", "tsharp"])
def test_advice_for_unknown_chunks_then_runs(scene, method):
    lst0 = scene["lst_1km"]
    keep = dsa.from_array(np.array([True, False, True]), chunks=1)
    da = xr.DataArray(lst0.chunk({"time": 1}).data[keep], dims=lst0.dims,
                      coords={k: v for k, v in lst0.coords.items() if k != "time"},
                      attrs=lst0.attrs).rio.write_crs(lst0.rio.crs)
    with pytest.raises(xlstsr.errors.GridError, match="compute_chunk_sizes") as e:
        xlstsr.upscale(da, factor=4, method=method)
    assert "da = da.copy(data=da.data.compute_chunk_sizes())" in str(e.value)
    da = da.copy(data=da.data.compute_chunk_sizes())  # the advice
    assert 0 in da.chunks[0]
    kw = {"guide": scene["ndvi_250m"]} if method == "tsharp" else {}
    got = xlstsr.upscale(da, factor=4, method=method, **kw)
    assert 0 not in got.chunks[0]
    ref = xlstsr.upscale(da.chunk({"time": 1}), factor=4, method=method, **kw)
    np.testing.assert_allclose(got.values, ref.values, equal_nan=True)


def test_without_empty_chunks_changes_nothing_else():
    from xlstsr.validate import without_empty_chunks

    a = xr.DataArray(dsa.ones((4, 3, 3), chunks=((2, 0, 1, 1), 3, 3)), dims=("t", "y", "x"))
    b = without_empty_chunks(a)
    assert b.chunks == ((2, 1, 1), (3,), (3,))
    same = xr.DataArray(dsa.ones((2, 3, 3), chunks=1), dims=("t", "y", "x"))
    assert without_empty_chunks(same) is same
    ds = xr.Dataset({"v": a})
    assert without_empty_chunks(ds)["v"].chunks[0] == (2, 1, 1)


# -- graph keys of built-in methods ------------------------------------------------------------
@pytest.mark.parametrize("method", ["bicubic", "tsharp", "dms"])
def test_identical_calls_share_graph_keys(scene, method):
    lst = scene["lst_1km"].isel(time=[0]).chunk({"time": 1})
    kw = {"guide": scene["ndvi_250m"]} if method != "bicubic" else {}
    r1 = xlstsr.upscale(lst, factor=4, method=method, **kw)
    r2 = xlstsr.upscale(lst, factor=4, method=method, **kw)
    assert r1.data.name == r2.data.name
    # different options: different keys
    if method == "tsharp":
        r3 = xlstsr.upscale(lst, factor=4, method=method, gain=0.5, **kw)
        assert r3.data.name != r1.data.name


def test_builtin_token_deterministic_user_token_per_instance():
    from xlstsr.methods import get_method

    assert dask.base.tokenize(get_method("bicubic")) == dask.base.tokenize(get_method("bicubic"))

    class Mine(UpscaleMethod):
        def __init__(self, k):
            self.k = k

        def __reduce__(self):  # tokenize must not pickle it
            raise AssertionError("pickled by tokenize")

        def upscale_block(self, lst, valid, guide, factor):
            return lst.repeat(factor, 1).repeat(factor, 2) + self.k

    assert dask.base.tokenize(Mine(1.0)) != dask.base.tokenize(Mine(2.0))


# -- __slots__ --------------------------------------------------------------------------------
class _Slotted(UpscaleMethod):
    __slots__ = ("k",)

    def __init__(self, k):
        self.k = k

    def upscale_block(self, lst, valid, guide, factor):
        return lst.repeat(factor, 1).repeat(factor, 2) + self.k


@pytest.mark.parametrize("how", ["pickle", "copy", "deepcopy"])
def test_slots_kept(how):
    m = _Slotted(2.0)
    m.extra = [1]
    f = {"pickle": lambda x: pickle.loads(pickle.dumps(x)), "copy": copy.copy,
         "deepcopy": copy.deepcopy}[how]
    got = f(m)
    assert got.k == 2.0
    assert got.extra == [1]
    assert (got.extra is m.extra) == (how == "copy")


# -- copies of a user's TorchModelMethod -------------------------------------------------------
@pytest.mark.parametrize("how", ["copy", "deepcopy"])
def test_copy_of_user_torch_method_runs(scene, how):
    torch = pytest.importorskip("torch")
    from xlstsr.methods.torch_model import TorchModelMethod

    class Net(torch.nn.Module):
        factor = 4
        n_guide = 0
        receptive_field = 2

        def __init__(self):
            super().__init__()
            self.s = torch.nn.Parameter(torch.ones(1))

        def forward(self, x, guide=None):
            return torch.nn.functional.interpolate(x * self.s, scale_factor=4)

    lst = scene["lst_1km"].isel(time=[0])
    tm = TorchModelMethod(Net())
    ref = xlstsr.upscale(lst, factor=4, method=tm).values
    m = getattr(copy, how)(tm)
    assert m._local_model is not None
    assert (m._local_model is tm._local_model) == (how == "copy")
    got = xlstsr.upscale(lst.chunk({"time": 1}), factor=4, method=m).values
    np.testing.assert_allclose(got, ref, equal_nan=True)
