"""Probe 45e3/02: to_cogs of a series whose labels are bytes (NetCDF char labels read back,
``b'day'``) named the files by position (``lst_2020-07-01_00000.tif``) and tagged the labels as
the text ``"b'day'"``, which open_cog gave back as labels that no longer read as day / night.
Bytes labels are decoded as text (case kept) wherever to_cogs names and tags a step."""
from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import xarray as xr

from xlstsr.io import open_cog, to_cogs
from xlstsr.io.cog import band_time_tags
from xlstsr.steps import pair_steps


def _series(overpass, time=("2020-07-01", "2020-07-01")) -> xr.DataArray:
    n = 4
    return xr.DataArray(
        np.stack([np.full((n, n), 300.0, "f4"), np.full((n, n), 280.0, "f4")]),
        dims=("time", "y", "x"), name="lst", attrs={"units": "K"},
        coords={"time": (np.array(time) if isinstance(time[0], bytes)
                         else pd.to_datetime(list(time))),
                "overpass": ("time", overpass),
                "y": 40 - 0.01 * np.arange(n), "x": 10 + 0.01 * np.arange(n)},
    ).rio.write_crs(4326)


def _written(da: xr.DataArray, out) -> tuple[list[str], xr.DataArray]:
    to_cogs(da, out, prefix="lst")
    names = sorted(os.listdir(out))
    return names, open_cog([os.path.join(out, f) for f in names])


def test_netcdf_bytes_overpass_named_and_read_back_as_text(tmp_path):
    path = tmp_path / "sr.nc"
    _series(np.array(["day", "night"], dtype="S5")).to_netcdf(path)
    with xr.open_dataset(path, decode_coords="all") as ds:
        sr = ds["lst"].load()
    assert sr.overpass.values.tolist() == [b"day", b"night"]  # what the finding is about
    names, back = _written(sr, tmp_path / "bytes")
    # were lst_2020-07-01_00000.tif / _00001.tif, read back as "b'day'" / "b'night'"
    assert names == ["lst_2020-07-01_day.tif", "lst_2020-07-01_night.tif"]
    assert back.overpass.values.tolist() == ["day", "night"]
    text_names, text = _written(_series(np.array(["day", "night"])), tmp_path / "text")
    assert names == text_names
    xr.testing.assert_identical(back, text)
    truth = back.copy().assign_coords(overpass=("time", ["day", "night"]))
    pair_steps(truth, back, "truth")  # was refused: no step of the series had its pair


def test_bytes_step_labels_keep_their_case(tmp_path):
    da = _series(["a", "b"], time=(b"Day", b"Night")).drop_vars("overpass")
    names, back = _written(da, tmp_path / "bytes")
    assert names == ["lst_Day.tif", "lst_Night.tif"]  # were lst_00000.tif / lst_00001.tif
    assert back.time.values.tolist() == ["Day", "Night"]
    text = da.assign_coords(time=["Day", "Night"])
    assert _written(text, tmp_path / "text")[0] == names


def test_band_time_tags_decode_bytes_overpasses():
    tags = band_time_tags(np.array(["2020-07-01T10:30", "2020-07-01T22:30"],
                                   dtype="datetime64[ns]"), [b"day", np.bytes_(b"night")])
    assert [t["day_night"] for t in json.loads(tags["time_per_band"])] == ["day", "night"]
