"""Probe 45z: text and bytes labels in to_cogs and the Zarr writer.

1. A stacked (time, overpass) dim whose date level is ISO text or bytes (a NetCDF char time read
   back, then stacked) was written by position (``lst_00000.tif``) with no date tag, and open_cog
   refused the files; it is named and tagged by date and overpass, like the datetime64 cube.
2. Bytes coordinates (a NetCDF char overpass, ``b'day'``) were stored in a Zarr v3 store as
   NullTerminatedBytes (no v3 specification: zarr warned) and read back as bytes; they are
   stored as text.
3. One date spelled two ways ('2020-01-05', '2020-01-05T00:00:00') and told apart by an overpass
   coordinate was refused, advising the overpass coordinate it had; it is named by both.
"""
from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import rasterio
import xarray as xr

from xlstsr.engine.to_zarr import upscale_to_zarr
from xlstsr.io import open_cog, to_cogs


def _grid(n: int = 4) -> dict:
    return {"y": 5e5 - np.arange(n) * 1000.0 - 500, "x": np.arange(n) * 1000.0 + 500}


def _stacked(dates) -> xr.DataArray:
    da = xr.DataArray(np.full((2, 4, 4), 300.0, "f4") + np.arange(2, dtype="f4")[:, None, None],
                      dims=("t", "y", "x"), name="lst", attrs={"units": "K"},
                      coords={**_grid(), "time": ("t", dates),
                              "overpass": ("t", ["day", "night"])}).rio.write_crs("EPSG:32633")
    return da.set_index(t=["time", "overpass"])


@pytest.mark.parametrize("dates", [np.array(["2020-01-05"] * 2),
                                   np.array([b"2020-01-05"] * 2)], ids=["text", "bytes"])
def test_stacked_text_dates_named_tagged_and_read_back(tmp_path, dates):
    to_cogs(_stacked(dates), tmp_path)
    names = sorted(os.listdir(tmp_path))
    assert names == ["lst_2020-01-05_day.tif", "lst_2020-01-05_night.tif"]
    with rasterio.open(tmp_path / names[0]) as src:
        assert src.tags()["time"].startswith("2020-01-05")
    back = open_cog([os.path.join(tmp_path, f) for f in names])
    assert back.sizes["t"] == 2
    assert list(back["overpass"].values) == ["day", "night"]
    assert (back["time"].values == np.datetime64("2020-01-05", "ns")).all()
    np.testing.assert_allclose(back.values[:, 0, 0], [300.0, 301.0])


def test_zarr_bytes_overpass_stored_as_text(tmp_path):
    da = xr.DataArray((290 + np.random.default_rng(0).random((2, 8, 8)) * 5).astype("f4"),
                      dims=("time", "y", "x"), name="lst", attrs={"units": "K"},
                      coords={"time": np.array(["2020-01-05"] * 2, "M8[ns]"), **_grid(8),
                              "overpass": ("time", np.array([b"day", b"night"]))},
                      ).rio.write_crs("EPSG:32633")
    out = str(tmp_path / "o.zarr")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        upscale_to_zarr(da, out, factor=2, method="bicubic", progress=False)
    assert not [w for w in caught if "Zarr V3 specification" in str(w.message)]
    with xr.open_zarr(out, consolidated=False) as back:
        assert back["overpass"].dtype.kind != "S"
        assert [str(v) for v in back["overpass"].values] == ["day", "night"]


def test_one_date_spelled_two_ways_named_by_overpass(tmp_path):
    da = xr.DataArray(np.full((2, 4, 4), 300.0, "f4"), dims=("time", "y", "x"), name="lst",
                      attrs={"units": "K"},
                      coords={"time": ["2020-01-05", "2020-01-05T00:00:00"], **_grid(),
                              "overpass": ("time", ["day", "night"])}).rio.write_crs("EPSG:32633")
    to_cogs(da, tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["lst_2020-01-05_day.tif", "lst_2020-01-05_night.tif"]
