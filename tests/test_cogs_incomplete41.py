"""to_cogs refuses the store of an unfinished upscale_to_zarr run (the README's xr.open_zarr ->
to_cogs route): its unwritten dates were written as all-NaN COGs, like cloudy days."""


import pytest
import xarray as xr
from helpers import unfinished_store

import xlstsr
from xlstsr.errors import XlstsrError
from xlstsr.io import to_cogs


def test_to_cogs_refuses_an_unfinished_store(tmp_path):
    lst = xlstsr.datasets.sample_scene(n_times=3, size=16)["lst_1km"].chunk({"time": 1})
    store = unfinished_store(lst, tmp_path / "out.zarr")
    sr = xr.open_zarr(store, consolidated=False, decode_coords="all")["lst_1km"]
    with pytest.raises(XlstsrError, match=r"did not finish \(2 of 3 time blocks written"):
        to_cogs(sr, tmp_path / "cogs")
    assert not (tmp_path / "cogs").exists() or not any((tmp_path / "cogs").iterdir())
    # finished, the same store is written
    xlstsr.upscale_to_zarr(xlstsr.datasets.sample_scene(n_times=3, size=16)["lst_1km"], store,
                           4, progress=False, mode="resume")
    sr = xr.open_zarr(store, consolidated=False, decode_coords="all")["lst_1km"]
    assert len(to_cogs(sr, tmp_path / "cogs")) == 3
