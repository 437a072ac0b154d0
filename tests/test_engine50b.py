"""Streaming engine (review 50F): the variable attribute that marks an unfinished
upscale_to_zarr store ('xlstsr_status': "incomplete ... complete it with mode='resume'") was
carried into outputs made from its written steps (to_cogs' tags, upscale's result, a NetCDF
of it), which were then refused as "a copy of an unfinished store" wherever one of their steps
was a real all-cloud one; the mode='a' advice concatenated along 'time' whatever the series'
time dim was (a 'date' series came back as a (time 2, date 4) half-NaN cube)."""

import re
import warnings

import numpy as np
import pytest
import rasterio
import xarray as xr
from helpers import unfinished_store

import xlstsr
from xlstsr.errors import XlstsrError
from xlstsr.io import open_cog, to_cogs

STATUS = "xlstsr_status"


def _scene(n: int) -> xr.DataArray:
    return xlstsr.datasets.sample_scene(n_times=n, size=16)["lst_1km"]


@pytest.fixture()
def unfinished(tmp_path):
    """A store of 4 one-step regions, step 1 a real all-cloud step, whose run stopped after
    regions 0 and 1 were written (review 50F's uf_make.py)."""
    lst = _scene(4)
    lst = lst.where(lst.time != lst.time[1]).chunk({"time": 1})
    return unfinished_store(lst, tmp_path / "out.zarr")


def _written(store) -> xr.DataArray:
    sr = xr.open_zarr(store, consolidated=False, decode_coords="all")["lst_1km"]
    assert STATUS in sr.attrs  # the store's own copy keeps it (what the check reads)
    return sr.isel(time=[0, 1])


def test_cogs_of_written_steps_carry_no_store_status(unfinished, tmp_path):
    files = to_cogs(_written(unfinished), tmp_path / "cogs")
    assert len(files) == 2
    for f in files:
        with rasterio.open(f) as r:
            # before: the tag "incomplete: ... complete it with mode='resume'"
            assert STATUS not in r.tags()
    back = open_cog(sorted(str(f) for f in files))
    assert STATUS not in back.attrs
    # the real all-cloud step is exported and read back as such
    assert back.isnull().all(("y", "x")).values.tolist() == [False, True]
    with warnings.catch_warnings():  # (upscaling an upscaled result is warned of)
        warnings.simplefilter("ignore")
        # before: "the source is a copy of the store of an upscale_to_zarr run that did not
        # finish ... holds no valid pixel at 1 of its 2 steps"
        up = xlstsr.upscale(back, 2)
    assert up.sizes["time"] == 2 and bool(up.isel(time=0).notnull().any())
    assert len(to_cogs(back, tmp_path / "again")) == 2


def test_upscale_and_coarsen_of_written_steps_drop_store_status(unfinished, tmp_path):
    sr = _written(unfinished)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        up = xlstsr.upscale(sr, 2)
        coarse = xlstsr.coarsen(sr, 2)
    assert STATUS not in up.attrs  # before: kept, and in a NetCDF written from it
    assert STATUS not in coarse.attrs
    up.to_dataset(name="LST").to_netcdf(tmp_path / "up.nc")
    with xr.open_dataset(tmp_path / "up.nc") as ds:
        assert STATUS not in ds["LST"].attrs
    # its loaded copy is a result, not a copy of the store: exported, the cloud step included
    assert len(to_cogs(up.load(), tmp_path / "up_cogs")) == 2
    # the store's own steps loaded into memory are still refused where a step holds no pixel
    # (they cannot be told from unwritten ones without the store), with the dropna advice
    with pytest.raises(XlstsrError, match=r"copy of the store.*dropna\('time'"):
        to_cogs(sr.load(), tmp_path / "loaded")


def _date_series(n: int = 3) -> xr.DataArray:
    return _scene(n).rename(time="date")


def test_append_mode_advice_names_the_series_time_dim_and_works(tmp_path):
    lst = _date_series(4)
    old, new = tmp_path / "old.zarr", tmp_path / "new.zarr"
    xlstsr.upscale_to_zarr(lst.isel(date=[0, 1]), old, 4, progress=False)
    with pytest.raises(XlstsrError) as err:
        xlstsr.upscale_to_zarr(lst.isel(date=[2, 3]), old, 4, progress=False, mode="a")
    call = re.search(r"`(xr\.open_mfdataset\(.*?\))`", str(err.value)).group(1)
    assert "concat_dim='date'" in call  # before: concat_dim='time'
    # followed: the new steps in a store of their own, both read together along 'date'
    xlstsr.upscale_to_zarr(lst.isel(date=[2, 3]), new, 4, progress=False)
    both = eval(call, {"xr": xr, "old": str(old), "new": str(new)})["lst_1km"]
    whole = xlstsr.upscale(lst, 4)
    assert dict(both.sizes) == dict(whole.sizes) and both.dims[0] == "date"
    np.testing.assert_allclose(both.values, whole.values, rtol=0, atol=1e-6)
    # a Dataset input, and the keywords of other writers (append=True, region=), alike
    for source, kw in ((lst.isel(date=[2]).to_dataset(name="lst_1km"), {"mode": "a"}),
                       (lst.isel(date=[2]), {"append": True}),
                       (lst.isel(date=[2]), {"region": {"date": slice(2, 3)}})):
        with pytest.raises(XlstsrError, match=r"concat_dim='date'"):
            xlstsr.upscale_to_zarr(source, old, 4, progress=False, **kw)


def test_a_list_as_variable_is_still_refused_by_name(tmp_path):
    """Review 50k/4: the time dim looked up for the extend advice hashed the variable: a list
    raised a bare TypeError (unhashable type: 'list') before the refusal naming the fix."""
    from xlstsr.errors import VariableNotFoundError

    ds = _scene(2).to_dataset(name="LST")
    with pytest.raises(VariableNotFoundError, match="variable='LST'"):
        xlstsr.upscale_to_zarr(ds, tmp_path / "v.zarr", 4, variable=["LST"], progress=False)
