"""Probe 44x2/02: a GeoTIFF whose xlstsr time tag contradicts the MODIS date in its name
(``MOD11A1.A2020100...`` tagged 2020-07-01) was dated by the tag without a word; it is
refused now, naming both dates and the fix. Tags within the product's window are read."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import xlstsr
from xlstsr.cli import main
from xlstsr.errors import XlstsrError
from xlstsr.io import open_cog, to_cogs


def _tagged(tmp_path, dates, names):
    """to_cogs' files of ``dates``, copied under ``names`` (MODIS-style)."""
    lst = xlstsr.datasets.sample_scene(n_times=len(dates), size=16)["lst_1km"].fillna(290.0)
    lst = lst.assign_coords(time=pd.DatetimeIndex(dates))
    written = sorted(str(f) for f in to_cogs(lst, tmp_path / "c", prefix="lst"))
    out = []
    for src, name in zip(written, names):
        out.append(str(tmp_path / name))
        shutil.copy(src, out[-1])
    return out


def test_tag_contradicting_name_refused_alone_and_in_a_list(tmp_path):
    files = _tagged(tmp_path, ["2020-07-01", "2020-07-02"],
                    ["MOD11A1.A2020100.h18v04.061_LST_Day_1km.tif",
                     "MOD11A1.A2020101.h18v04.061_LST_Day_1km.tif"])
    for path in (files[0], files):
        with pytest.raises(XlstsrError) as err:
            open_cog(path)  # was dated 2020-07-01 (its tag) without a word
        msg = str(err.value)
        assert "MOD11A1.A2020100.h18v04.061_LST_Day_1km.tif" in msg
        assert "2020-04-09" in msg and "2020-07-01" in msg
        assert ".A2020183." in msg and "update_tags" in msg


def test_tag_contradicting_name_refused_by_the_cli(tmp_path, capsys):
    files = _tagged(tmp_path, ["2020-07-01"], ["MOD11A1.A2020100.h18v04.061_LST_Day_1km.tif"])
    assert main(["upscale", files[0], str(tmp_path / "out.tif"), "--quiet"]) != 0
    assert "2020-04-09" in capsys.readouterr().err


def test_given_times_date_the_files(tmp_path):
    files = _tagged(tmp_path, ["2020-07-01", "2020-07-02"],
                    ["MOD11A1.A2020100.h18v04.061_LST_Day_1km.tif",
                     "MOD11A1.A2020101.h18v04.061_LST_Day_1km.tif"])
    out = open_cog(files, times=["2020-04-09", "2020-04-10"])
    assert [str(t)[:10] for t in out.time.values] == ["2020-04-09", "2020-04-10"]


@pytest.mark.parametrize("name, tag", [
    ("MOD11A1.A2020100.h18v04.061_LST_Day_1km.tif", "2020-04-09T10:30"),  # same day
    ("MOD11A1.A2020100.h18v04.061_LST_Night_1km.tif", "2020-04-10T01:30"),  # night, UTC
    ("MOD11A1.A2020100.h18v04.061_LST_Night_1km.tif", "2020-04-08T22:30"),  # local time
    ("MOD11A2.A2020177.h18v04.061_LST_Day_1km.tif", "2020-07-01"),  # inside its 8 days
    ("MOD13Q1.A2020177.h18v04.061_NDVI.tif", "2020-07-08"),  # inside its 16 days
    ("MCD43A3.A2020177.h18v04.061_albedo.tif", "2020-06-20"),  # centred window
    ("lst_2020-04-09.tif", "2020-07-01"),  # no MODIS date in the name
])
def test_tags_within_the_products_window_read(tmp_path, name, tag):
    files = _tagged(tmp_path, [tag], [name])
    out = open_cog(files[0])
    assert out["time"].values == np.datetime64(pd.Timestamp(tag), "ns")


@pytest.mark.parametrize("name, tag", [
    ("MOD11A1.A2020100.h18v04.061_LST_Day_1km.tif", "2020-04-12"),
    ("MOD11A2.A2020177.h18v04.061_LST_Day_1km.tif", "2020-07-10"),  # the next composite
    ("MOD11A2.A2020177.h18v04.061_LST_Day_1km.tif", "2020-06-20"),  # before its first day
])
def test_tags_outside_the_products_window_refused(tmp_path, name, tag):
    files = _tagged(tmp_path, [tag], [name])
    with pytest.raises(XlstsrError, match="renamed or mislabelled"):
        open_cog(files[0])


def test_band_dim_file_tag_checked(tmp_path):
    """``xlstsr upscale`` of one date's (overpass, y, x) field: its own date is checked too."""
    lst = xlstsr.datasets.sample_scene(n_times=1, size=16)["lst_1km"].fillna(290.0)
    field = xr.concat([lst.isel(time=0), lst.isel(time=0) - 10],
                      dim=xr.DataArray(["day", "night"], dims="overpass", name="overpass"))
    field = field.assign_coords(time=np.datetime64("2020-07-01", "ns"))
    src = tmp_path / "field.nc"
    field.rename("lst").to_dataset().to_netcdf(src)
    out = tmp_path / "MOD11A1.A2020100.h18v04.061_LST_1km.tif"
    assert main(["upscale", str(src), str(out), "--quiet"]) == 0
    with pytest.raises(XlstsrError, match="2020-04-09"):
        open_cog(str(out))


def test_to_cogs_output_under_a_modis_style_prefix_opens(tmp_path):
    """to_cogs names its files prefix_<date>: a MODIS-style prefix (the first step's granule)
    is no date to contradict the tags, which the name's own suffix repeats."""
    lst = xlstsr.datasets.sample_scene(n_times=3, size=16)["lst_1km"].fillna(290.0)
    lst = lst.assign_coords(time=pd.DatetimeIndex(["2020-04-09", "2020-04-20", "2020-05-30"]))
    files = sorted(to_cogs(lst, tmp_path, prefix="MOD11A1.A2020100.h18v04.061"))
    back = open_cog(files)
    np.testing.assert_array_equal(back["time"].values, lst["time"].values)
    assert open_cog(files[-1])["time"].values == lst["time"].values[-1]
