"""to_cogs refuses the store of an unfinished upscale_to_zarr run (the README's xr.open_zarr ->
to_cogs route): its unwritten dates were written as all-NaN COGs, like cloudy days."""

import warnings

import pytest
import xarray as xr

import xlstsr
from xlstsr.errors import XlstsrError
from xlstsr.io import to_cogs


def test_to_cogs_refuses_an_unfinished_store(tmp_path):
    lst = xlstsr.datasets.sample_scene(n_times=3, size=16)["lst_1km"].chunk({"time": 1})
    seen: dict[int, int] = {}

    def crash_on_last(b, block_info=None):
        i = block_info[0]["chunk-location"][0]
        seen[i] = seen.get(i, 0) + 1
        if i == 2 and seen[i] > 1:  # its first read (the resume checksum's) passes
            raise RuntimeError("simulated crash")
        return b

    lst = lst.copy(data=lst.data.map_blocks(crash_on_last, dtype=lst.dtype))
    store = tmp_path / "out.zarr"
    with warnings.catch_warnings(), pytest.raises(RuntimeError, match="simulated"):
        warnings.simplefilter("ignore")
        xlstsr.upscale_to_zarr(lst, store, 4, progress=False, regions_in_flight=1)
    sr = xr.open_zarr(store, consolidated=False, decode_coords="all")["lst_1km"]
    with pytest.raises(XlstsrError, match=r"did not finish \(2 of 3 time blocks written"):
        to_cogs(sr, tmp_path / "cogs")
    assert not (tmp_path / "cogs").exists() or not any((tmp_path / "cogs").iterdir())
    # finished, the same store is written
    xlstsr.upscale_to_zarr(xlstsr.datasets.sample_scene(n_times=3, size=16)["lst_1km"], store,
                           4, progress=False, mode="resume")
    sr = xr.open_zarr(store, consolidated=False, decode_coords="all")["lst_1km"]
    assert len(to_cogs(sr, tmp_path / "cogs")) == 3
