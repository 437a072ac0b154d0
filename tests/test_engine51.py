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


@pytest.mark.parametrize("how", ["mean", "max", "squeezed"])
def test_a_reduction_gets_advice_that_differs_from_what_was_done(unfinished, how):
    """Before: refused, advised `...isel(time=slice(0, 2))`, the selection it had made. Which
    steps a reduction's graph holds cannot be told (a loaded or persisted unwritten step in it
    is invisible to a graph walk): the advice loads the written steps and reduces in memory."""
    sr = _opened(unfinished)
    reduce = {"mean": lambda a: a.mean("time"), "max": lambda a: a.max("time"),
              "squeezed": lambda a: a.isel(time=[1]).squeeze("time", drop=True)}[how]
    with pytest.raises(XlstsrError, match=r"'time' dim is gone.*cannot be told") as err:
        _upscale(reduce(sr.isel(time=slice(0, 2))))
    call = re.search(r"select and load them: `(xr\.open_zarr\(.*?\))`", str(err.value)).group(1)
    assert call.endswith(".isel(time=slice(0, 2)).load()")
    picked = eval(call, {"xr": xr, "np": np})
    out = _upscale(reduce(picked))  # followed: runs, the written steps' values
    np.testing.assert_array_equal(out.values, _upscale(reduce(sr.isel(time=slice(0, 2)).load()))
                                  .values)
    assert bool(out.notnull().any())


def test_a_reduction_holding_a_loaded_unwritten_step_is_refused(unfinished):
    # (review 51a/1: a graph walk took this as a mean of written steps: 0 valid pixels out)
    sr = _opened(unfinished)
    mixed = xr.concat([sr.isel(time=[0]), sr.isel(time=[2]).load()], "time").mean("time")
    with pytest.raises(XlstsrError, match="cannot be told"):
        _upscale(mixed)
