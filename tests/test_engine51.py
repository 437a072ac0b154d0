"""Streaming engine (probe 51 R2): the refusal of an unfinished upscale_to_zarr store advised
`['<name>']` with the user's DataArray name (renamed, or 'None' for an arithmetic result),
which raised KeyError when followed; the mode='a' advice for an input given as a path named
concat_dim='time' for a 'date' series (followed: a half-NaN (time, date) cube); a reduction
over only the written steps of an unfinished store was refused, advised to select what it
had selected."""

import re
import warnings

import numpy as np
import pytest
import xarray as xr
from helpers import unfinished_store

import xlstsr
from xlstsr.errors import XlstsrError


def _scene(n: int) -> xr.DataArray:
    return xlstsr.datasets.sample_scene(n_times=n, size=16)["lst_1km"]


@pytest.fixture()
def unfinished(tmp_path):
    """A store of 4 one-step regions whose run stopped after regions 0 and 1 were written."""
    return unfinished_store(_scene(4).chunk({"time": 1}), tmp_path / "out.zarr")


def _opened(store) -> xr.DataArray:
    return xr.open_zarr(store, consolidated=False, decode_coords="all")["lst_1km"]


def _upscale(da: xr.DataArray) -> xr.DataArray:
    with warnings.catch_warnings():  # (upscaling an upscaled result is warned of)
        warnings.simplefilter("ignore")
        return xlstsr.upscale(da, 2)


# -- 1. the advice names the store's own variable ----------------------------------------------


@pytest.mark.parametrize("how", ["renamed", "unnamed"])
def test_unfinished_store_advice_names_the_store_variable(unfinished, how):
    sr = _opened(unfinished)
    # an arithmetic result of two differently named arrays has no name (None)
    da = sr.rename("sr") if how == "renamed" else sr * xr.ones_like(sr).rename("ones")
    with pytest.raises(XlstsrError, match=r"did not finish \(2 of 4 time blocks") as err:
        _upscale(da)
    call = re.search(r"select them: `(xr\.open_zarr\(.*?\))`", str(err.value)).group(1)
    # before: ['sr'] / ['None'], KeyError "No variable named 'sr'" when followed
    assert "['lst_1km']" in call
    picked = eval(call, {"xr": xr, "np": np})
    assert picked.sizes["time"] == 2
    out = _upscale(picked)  # followed, it runs
    assert bool(out.notnull().any(("y", "x")).all())


# -- 2. the extend advice for an input given as a path ----------------------------------------


@pytest.mark.parametrize("kw", [{"mode": "a"}, {"append": True}, {"region": "auto"}])
def test_extend_advice_for_a_path_names_the_store_time_dim_and_works(tmp_path, kw):
    lst = _scene(4).rename(time="date")
    a, b = tmp_path / "a.nc", tmp_path / "b.nc"
    lst.isel(date=[0, 1]).to_netcdf(a)
    lst.isel(date=[2, 3]).to_netcdf(b)
    old, new = tmp_path / "old.zarr", tmp_path / "new.zarr"
    xlstsr.upscale_to_zarr(str(a), old, 4, progress=False)
    with pytest.raises(XlstsrError, match="cannot be extended") as err:
        xlstsr.upscale_to_zarr(str(b), old, 4, progress=False, **kw)
    call = re.search(r"`(xr\.open_mfdataset\(.*?\))`", str(err.value)).group(1)
    assert "concat_dim='date'" in call  # before: concat_dim='time'
    # followed: the new steps in a store of their own, both read together along 'date'
    xlstsr.upscale_to_zarr(str(b), new, 4, progress=False)
    both = eval(call, {"xr": xr, "old": str(old), "new": str(new)})["lst_1km"]
    whole = xlstsr.upscale_to_zarr(lst, tmp_path / "whole.zarr", 4, progress=False)
    assert dict(both.sizes) == dict(whole.sizes) and both.dims[0] == "date"
    np.testing.assert_array_equal(both.values, whole.values)



# -- 3. a reduction over the written steps only --------------------------------------------------


def test_a_reduction_over_written_steps_only_is_accepted(unfinished):
    sr = _opened(unfinished)
    # before: refused, advised `...isel(time=slice(0, 2))`: the selection it had made
    for reduced in (sr.isel(time=slice(0, 2)).mean("time"), sr.isel(time=[0, 1]).max("time"),
                    sr.isel(time=[1]).squeeze("time", drop=True)):
        out = _upscale(reduced)
        np.testing.assert_array_equal(out.values, _upscale(reduced.load()).values)
    # relabelled written steps (labels the store does not hold) read the written ones only
    out = _upscale(sr.isel(time=[0, 1]).assign_coords(time=[10, 11]))
    assert out.sizes["time"] == 2


def test_a_reduction_reading_unwritten_steps_is_refused_with_other_advice(unfinished):
    sr = _opened(unfinished)
    with pytest.raises(XlstsrError, match=r"reads 1 unwritten step \(2020") as err:
        _upscale(sr.isel(time=slice(1, 3)).mean("time"))
    call = re.search(r"select them: `(xr\.open_zarr\(.*?\))`", str(err.value)).group(1)
    assert call.endswith(".isel(time=slice(0, 2))")
    _upscale(eval(call, {"xr": xr, "np": np}).mean("time"))  # followed, then reduced: runs
    # opened in one chunk, the written steps' mean reads the unwritten ones too: the advice
    # opens the store in its own chunks (not what was done), and runs when followed
    one = xr.open_zarr(unfinished, consolidated=False, decode_coords="all",
                       chunks={"time": -1})["lst_1km"]
    with pytest.raises(XlstsrError, match=r"reads 2 unwritten steps.*in the store's own "
                                          r"chunks") as err:
        _upscale(one.isel(time=slice(0, 2)).mean("time"))
    call = re.search(r"select them: `(xr\.open_zarr\(.*?\))`", str(err.value)).group(1)
    assert "chunks" not in call
    _upscale(eval(call, {"xr": xr, "np": np}).mean("time"))


def test_a_reduction_whose_reads_cannot_be_told_gets_advice_that_differs(unfinished):
    # a lazy view taken before chunking: the graph's slices index the view, not the store
    view = xr.open_zarr(unfinished, consolidated=False, decode_coords="all",
                        chunks=None)["lst_1km"].isel(time=slice(0, 2)).chunk()
    with pytest.raises(XlstsrError, match=r"cannot be told") as err:
        _upscale(view.mean("time"))
    call = re.search(r"select them: `(xr\.open_zarr\(.*?\))`", str(err.value)).group(1)
    assert call.endswith(".load()")
    assert _upscale(eval(call, {"xr": xr, "np": np}).mean("time")).notnull().any()
