"""Interop inputs (corpus 34i): stackstac-like object coordinates in upscale_to_zarr, dask
arrays with unknown chunk sizes, and a guide's date kept as a scalar coordinate."""
import warnings

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr.errors import GridError, GuideTimeError


@pytest.fixture(scope="module")
def scene():
    return xlstsr.datasets.sample_scene(n_times=3, size=32)


# --- 01: Python-object coordinates (STAC metadata) in upscale_to_zarr -------------------------

def _with_object_coords(lst):
    return lst.assign_coords({
        "subset:windows": ("time", np.array([[1, 2], [3], [4, 5, 6]], dtype=object)),
        "raster:bands": ((), np.array({"nodata": 0, "scale": 0.02}, dtype=object)),
        "proj:code": ((), np.array(None, dtype=object)),
        "title": ("time", np.array(["a", "b", "c"], dtype=object)),  # text: stored
    }).chunk({"time": 1})


def test_to_zarr_drops_object_coords_with_warning_and_resumes(scene, tmp_path):
    lst = _with_object_coords(scene["lst_1km"])
    store = tmp_path / "o.zarr"
    with pytest.warns(UserWarning, match=r"subset:windows.*drop_vars") as rec:
        out = xlstsr.upscale_to_zarr(lst, store, factor=2, progress=False)
    msg = " ".join(str(w.message) for w in rec)
    for name in ("subset:windows", "raster:bands", "proj:code"):
        assert name in msg
        assert name not in out.coords
    assert "title" in out.coords  # text coordinates are kept
    ref = xlstsr.upscale(lst.drop_vars(["subset:windows", "raster:bands", "proj:code"]), 2)
    np.testing.assert_allclose(out.values, ref.values, equal_nan=True)
    # the same input resumes the store (nothing left to do)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = xlstsr.upscale_to_zarr(lst, store, factor=2, mode="resume", progress=False)
    np.testing.assert_allclose(again.values, out.values, equal_nan=True)


# --- 02: unknown (NaN) dask chunk sizes ----------------------------------------------------------

def _unknown_chunks(lst):
    arr = lst.chunk({"time": 1}).data
    kept = arr[dsa.nanmean(arr, axis=(1, 2)) > 0]
    return xr.DataArray(kept, dims=lst.dims, coords={"y": lst.y, "x": lst.x},
                        attrs=lst.attrs).rio.write_crs(lst.rio.crs)


@pytest.mark.parametrize("call", ["upscale", "upscale_to_zarr", "scaling_stats"])
def test_unknown_chunk_sizes_refused_with_the_fix(scene, tmp_path, call):
    da = _unknown_chunks(scene["lst_1km"])
    fns = {
        "upscale": lambda d: xlstsr.upscale(d, 2),
        "upscale_to_zarr": lambda d: xlstsr.upscale_to_zarr(d, tmp_path / "u.zarr", factor=2,
                                                            progress=False),
        "scaling_stats": lambda d: xlstsr.scaling_stats(d),
    }
    with pytest.raises(GridError, match=r"chunk sizes along 'time' are unknown.*compute_chunk_sizes"):
        fns[call](da)
    # the advice, followed, works
    da = da.copy(data=da.data.compute_chunk_sizes())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fns[call](da)
    assert out is not None


def test_unknown_chunk_sizes_guide_refused(scene):
    g = scene["ndvi_250m"].expand_dims(time=scene["lst_1km"].time.values)
    bad = _unknown_chunks(g)
    with pytest.raises(GridError, match=r"guide's dask chunk sizes .*guide.data.compute_chunk_sizes"):
        xlstsr.upscale(scene["lst_1km"], 4, method="tsharp", guide=bad)


# --- 03: a guide's date as a scalar coordinate ---------------------------------------------------

def _dated(ndvi, day):
    return ndvi.expand_dims(time=[np.datetime64(day)]).sel(time=day)


def test_scalar_guide_date_beyond_tolerance_refused(scene):
    lst, ndvi = scene["lst_1km"], scene["ndvi_250m"]
    winter = _dated(ndvi, "2019-01-01")
    assert winter["time"].ndim == 0
    with pytest.raises(GuideTimeError, match=r"2019-01-01.*guide = guide.drop_vars\('time'\)"):
        xlstsr.upscale(lst, 4, method="tsharp", guide=winter)
    with pytest.raises(GuideTimeError, match="2019-01-01"):  # a 1-date LST with a scalar time
        xlstsr.upscale(lst.isel(time=1), 4, method="tsharp", guide=winter)
    # the advice, followed: one static guide for every date
    out = xlstsr.upscale(lst, 4, method="tsharp", guide=winter.drop_vars("time"))
    assert out.sizes["time"] == lst.sizes["time"]


def test_scalar_guide_date_within_tolerance_works(scene):
    lst, ndvi = scene["lst_1km"], scene["ndvi_250m"]
    first = str(lst.time.values[0])[:10]
    g = _dated(ndvi, first)
    ref = xlstsr.upscale(lst, 4, method="tsharp", guide=g.drop_vars("time"))
    out = xlstsr.upscale(lst, 4, method="tsharp", guide=g, guide_time_tolerance="5D")
    np.testing.assert_allclose(out.values, ref.values, equal_nan=True)
    one = lst.isel(time=0)  # scalar time on both sides, same date
    out1 = xlstsr.upscale(one, 4, method="tsharp", guide=g)
    np.testing.assert_allclose(out1.values, ref.isel(time=0).values, rtol=1e-5, equal_nan=True)
    # scaling_stats' door for the guide
    with warnings.catch_warnings(), pytest.raises(GuideTimeError, match="drop_vars"):
        warnings.simplefilter("ignore")
        xlstsr.scaling_stats(lst, _dated(ndvi, "2019-01-01"))
