"""Bad inputs, second round: each case was found by probing the public API (notes: audit2.md) and,
before its fix, gave a silent wrong result (a reference whose time dim has another name compared
with every date of sr, a factor of 2.5 taken as 2, a guide with no valid value giving NaN
statistics, a reversed STAC bbox loading NaN), a raw Python error (IndexError, AttributeError,
ZeroDivisionError, rasterio's or zarr's own) or a misleading message (a zero scale_factor called
Celsius, an empty time selection called all NaN, a missing STAC asset called a projection
problem). Now each is an XlstsrError that names the problem and the fix.
"""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pystac
import pytest
import xarray as xr

import xlstsr
from xlstsr import errors
from xlstsr.io import open_cog, open_modis, open_path, open_stac, open_zarr

# -- the input front door (xlstsr.validate) --------------------------------------------------------


def test_a_dataset_without_variables_is_named_not_an_index_error():
    with pytest.raises(errors.VariableNotFoundError, match="no data variable to take the LST"):
        xlstsr.upscale(xr.Dataset(), 4)


def test_the_variable_hint_is_a_valid_call(s):
    ds = xr.Dataset({"a": s["lst_1km"], "b": s["lst_1km"] + 1})
    with pytest.raises(errors.VariableNotFoundError) as info:
        xlstsr.upscale(ds, 4)
    # the call as written runs: the operation asked, the variable named by keyword
    assert "`ds.lstsr.upscale(..., variable='a')`" in str(info.value)
    assert "if names else" not in str(info.value)


def test_a_zero_scale_factor_is_named_not_called_celsius(s):
    dn = (s["lst_1km"] / 0.02).fillna(0).astype("uint16")
    with pytest.raises(errors.ScaledIntegerError, match=r"'scale_factor' attribute is 0.*0\.02"):
        xlstsr.upscale(dn.assign_attrs(scale_factor=0, _FillValue=0), 4)
    # the argument named, not an attribute the reference does not have (pinned the old text)
    with pytest.raises(errors.XlstsrError, match="reference_scale must be"):
        xlstsr.evaluate(xlstsr.upscale(s["lst_1km"], 4), s["lst_250m"], reference_scale=0)


def test_an_empty_time_selection_is_called_empty_not_all_nan(s):
    with pytest.raises(errors.GridError, match=r"empty: 0 steps along 'time'.*da\.sel\(time="):
        xlstsr.upscale(s["lst_1km"].isel(time=slice(0, 0)), 4)


def test_nat_time_labels_are_refused_before_matching_a_guide(s):
    lst = s["lst_1km"].assign_coords(time=[np.datetime64("NaT"), s["lst_1km"].time.values[1]])
    guide = s["ndvi_250m"].expand_dims(time=s["lst_1km"].time.values)
    with pytest.raises(errors.GridError, match=r"'time' coordinate holds NaN/NaT labels.*notnull"):
        xlstsr.upscale(lst, 4, "tsharp", guide=guide)


def test_infinite_lst_values_are_out_of_range_not_silent_gaps(s):
    lst = s["lst_1km"]
    bad = lst.where(lst < 310, np.inf)  # they became NaN output without a word
    with pytest.raises(errors.PhysicalRangeError, match=r"value\(s\) of an image are infinite"):
        xlstsr.upscale(bad, 4)
    with pytest.raises(errors.PhysicalRangeError, match="infinite"):
        xlstsr.upscale(bad.chunk({"time": 1}), 4).compute()
    masked = xlstsr.upscale(bad, 4, mask_out_of_range=True)  # as asked: masked like a gap
    np.testing.assert_array_equal(masked.values, xlstsr.upscale(lst.where(lst < 310), 4).values)


@pytest.mark.parametrize("tile", [0, "big", 2.5])
def test_a_bad_tile_is_an_xlstsr_error(s, tile):
    # the engine raised a bare ValueError for 0 and "big", and took 2.5 as 2
    with pytest.raises(errors.GridError, match="tile must be 'auto', None or a positive whole"):
        xlstsr.upscale(s["lst_1km"], 4, tile=tile)


def test_method_options_must_be_a_mapping(s):
    with pytest.raises(errors.XlstsrError, match="method_options must be a dict"):
        xlstsr.upscale(s["lst_1km"], 4, "dms", guide=s["ndvi_250m"], method_options=[1, 2])  # a raw TypeError


# -- evaluate --------------------------------------------------------------------------------------


def test_a_reference_time_dim_of_another_name_is_not_broadcast(s, sr):
    # it compared each reference step with every sr step (4 rows for 2 dates)
    with pytest.raises(errors.GridError, match=r"dim 'date' .*rename\(\{'date': 'time'\}\)"):
        xlstsr.evaluate(sr, s["lst_250m"].rename(time="date"))


def test_reference_steps_are_paired_by_label(s, sr):
    ref = xlstsr.evaluate(sr, s["lst_250m"])
    rev = xlstsr.evaluate(sr, s["lst_250m"].isel(time=[1, 0]))  # was "not on the same grid"
    np.testing.assert_array_equal(ref["rmse"].values, rev["rmse"].values)
    later = s["lst_250m"].assign_coords(time=s["lst_250m"].time.values + np.timedelta64(1, "D"))
    with pytest.raises(errors.GridError, match=r"1 of the super-resolved field's 2 'time' labels"
                       r".*intersection"):
        xlstsr.evaluate(sr, later)
    with pytest.raises(errors.GridError, match=r"repeated 'time' labels.*reference.isel"):
        xlstsr.evaluate(sr, s["lst_250m"].isel(time=[0, 1, 0]))  # was pandas' ValueError


def test_evaluate_names_a_reference_that_is_not_a_dataarray(s, sr):
    with pytest.raises(errors.InputTypeError, match="got ndarray"):
        xlstsr.evaluate(sr, s["lst_250m"].values)
    ds = xlstsr.evaluate(sr, s["lst_250m"].to_dataset(name="lst"))  # was an AttributeError
    assert np.isfinite(ds["rmse"].values).all()


def test_an_integer_reference_gets_evaluate_s_own_fix(s, sr):
    k10 = (s["lst_250m"] * 10).fillna(0).astype("uint16")  # ASTER's K x 10: MODIS's 0.02 was suggested
    with pytest.raises(errors.ScaledIntegerError, match=r"K x 10.*reference_scale=0\.1"):
        xlstsr.evaluate(sr, k10)


@pytest.mark.parametrize("factor", [0, 2.5])
def test_evaluate_factor_must_be_an_integer(s, sr, factor):
    # 0 divided by zero in the spectra, 2.5 was silently taken as 2
    with pytest.raises(errors.GridError, match="factor must be a positive integer"):
        xlstsr.evaluate(sr, s["lst_250m"], factor=factor)


def test_evaluate_erode_must_be_whole_pixels(s, sr):
    with pytest.raises(errors.XlstsrError, match=r"erode must be a whole number >= 0, got 2\.5.*pixels"):
        xlstsr.evaluate(sr, s["lst_250m"], erode=2.5)


# -- scaling_stats ---------------------------------------------------------------------------------


def test_scaling_stats_names_a_numpy_guide(s):
    with pytest.raises(errors.InputTypeError, match="guide is a ndarray"):
        xlstsr.scaling_stats(s["lst_250m"], s["ndvi_250m"].values)


def test_scaling_stats_refuses_a_guide_without_valid_values(s):
    with pytest.raises(errors.AllNaNError, match="guide holds no valid value"):
        xlstsr.scaling_stats(s["lst_250m"], s["ndvi_250m"] * np.nan)


@pytest.mark.parametrize("kw", [{"factors": [1, 2.5]}, {"lags": [1, 1.5]}])
def test_scaling_stats_scales_must_be_whole_pixels(s, kw):
    with pytest.raises(errors.GridError, match="must be whole numbers of pixels"):
        xlstsr.scaling_stats(s["lst_250m"], **kw)


# -- readers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [None, 5, np.zeros(3), ["a.tif"]])
def test_open_path_names_what_is_not_a_path(bad):
    with pytest.raises(errors.InputTypeError, match="expected a path"):
        open_path(bad)


def test_upscale_to_zarr_names_a_numpy_source(s, tmp_path):
    with pytest.raises(errors.InputTypeError, match="got ndarray"):
        xlstsr.upscale_to_zarr(s["lst_1km"].values, tmp_path / "out.zarr", 4, progress=False)
    assert not (tmp_path / "out.zarr").exists()


def test_unreadable_files_are_xlstsr_errors(tmp_path):
    (tmp_path / "junk.tif").write_text("not a tiff")
    (tmp_path / "junk.nc").write_text("not netcdf")
    (tmp_path / "empty.zarr").mkdir()
    with pytest.raises(errors.XlstsrError, match=r"cannot read .*junk\.tif as a GeoTIFF"):
        open_path(tmp_path / "junk.tif")
    with pytest.raises(errors.XlstsrError, match=r"cannot read .*junk\.nc as NetCDF"):
        open_path(tmp_path / "junk.nc")
    with pytest.raises(errors.XlstsrError, match="not a readable Zarr store"):
        open_path(tmp_path / "empty.zarr")


def test_readers_report_missing_files_as_input_not_found(tmp_path):
    for opener, name in ((open_cog, "x.tif"), (open_zarr, "x.zarr"), (open_modis, "x.hdf")):
        with pytest.raises(errors.InputNotFoundError, match="check the path"):
            opener(tmp_path / name if opener is not open_cog else str(tmp_path / name))


def _items(n=2):
    out = []
    for i in range(n):
        it = pystac.Item(f"i{i}", None, None, datetime.datetime(2020, 1, 1 + i), properties={})
        it.add_asset("LST_Day_1km", pystac.Asset(f"lst{i}.tif"))
        out.append(it)
    return out


def test_open_stac_names_a_missing_asset():
    # odc-stac's "No such band" was reported as missing projection metadata
    with pytest.raises(errors.XlstsrError, match=r"no asset 'LST_Night_1km'.*\['LST_Day_1km'\]"):
        open_stac(_items(), "LST_Night_1km")


def test_open_stac_names_a_missing_local_file(tmp_path):
    items = _items()
    items[1].assets["LST_Day_1km"].href = str(tmp_path / "gone.tif")  # rasterio failed on compute
    with pytest.raises(errors.InputNotFoundError, match=r"item 'i1' points to .*gone\.tif"):
        open_stac(items, "LST_Day_1km")


@pytest.mark.parametrize("bad", [None, "items/MOD11A1.json", [{"a": 1}]])
def test_open_stac_names_what_is_not_an_item(bad):
    with pytest.raises(errors.InputTypeError, match="STAC item"):
        open_stac(bad, "LST_Day_1km")


def test_open_stac_refuses_a_reversed_bbox_and_an_unknown_engine():
    with pytest.raises(errors.XlstsrError, match=r"bbox must be \(minx, miny, maxx, maxy\)"):
        open_stac(_items(), "LST_Day_1km", bbox=(1e4, 5.41e6, 0, 5.4e6))
    with pytest.raises(errors.XlstsrError, match="engine must be 'odc' or 'stackstac'"):
        open_stac(_items(), "LST_Day_1km", engine="gdal")


def test_valid_inputs_are_unchanged(s):
    # the new checks leave valid inputs alone: a float time coordinate, a band=1 reference
    lst = s["lst_1km"].assign_coords(time=pd.Index([0.0, 1.0], name="time"))
    np.testing.assert_array_equal(xlstsr.upscale(lst, 4).values,
                                  xlstsr.upscale(s["lst_1km"], 4).values)
    sr = xlstsr.upscale(s["lst_1km"], 4)
    a = xlstsr.evaluate(sr, s["lst_250m"])
    b = xlstsr.evaluate(sr, s["lst_250m"].expand_dims(band=[1]))
    np.testing.assert_array_equal(a["rmse"].values, b["rmse"].values.ravel())
