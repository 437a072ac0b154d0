"""declare_lst on files the reader decoded: a declared offset is not applied a second time, and
a declared fill is a stored value (probe40s 03 and 04)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr.cli import main
from xlstsr.errors import XlstsrError
from xlstsr.validate import declare_lst, decode_lst


def _scene() -> xr.Dataset:
    return xlstsr.datasets.modis_sample()[["lst_day"]].isel(time=[0]).load()


def test_cli_offset_refused_on_a_file_that_declares_one(tmp_path, capsys):
    # Landsat C2L2-style NetCDF, decoded on reading: --offset 149 made 235 K 384 K, exit 0
    ds = _scene()
    ds["lst_day"] = ds.lst_day - 45
    ds.lst_day.encoding.update(dtype="uint16", scale_factor=0.00341802, add_offset=149.0,
                               _FillValue=0)
    src = tmp_path / "c2.nc"
    ds.to_netcdf(src)
    out = tmp_path / "b.nc"
    assert main(["upscale", str(src), str(out), "--offset", "149", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "add_offset=149" in err and "--offset" in err
    assert not out.exists()
    # the file's own fill, declared again, is harmless
    assert main(["upscale", str(src), str(out), "--nodata", "0", "--quiet"]) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = xlstsr.io.open_path(str(out))["lst_day"]
        assert abs(float(got.mean()) - float(ds.lst_day.mean())) < 1.0


@pytest.mark.parametrize("where", ["attrs", "encoding"])
def test_declared_offset_refused_where_the_file_has_one(where):
    da = xr.DataArray(np.full((2, 2), 300.0), dims=("y", "x"))
    getattr(da, where).update(add_offset=149.0)
    with pytest.raises(XlstsrError, match=r"add_offset=149.0 already: drop the declared offset "
                                          r"\(--offset on the command line"):
        declare_lst(da, {"add_offset": 149})
    with pytest.raises(XlstsrError, match=r"--truth-offset.*truth_declare\['add_offset'\]"):
        declare_lst(da, {"add_offset": 149}, what="truth")


def test_declared_offset_accepted_on_a_geotiff_default_of_zero():
    # rioxarray gives every GeoTIFF add_offset 0.0: the lone Landsat ST band's --offset 149
    dn = xr.DataArray(np.full((2, 2), 40000, "uint16"), dims=("y", "x"),
                      attrs={"scale_factor": 1.0, "add_offset": 0.0})
    out = declare_lst(dn, {"scale_factor": 0.00341802, "add_offset": 149})
    assert out.attrs["add_offset"] == 149.0


def _dn_file(tmp_path, scale=0.02):
    ds = _scene()
    dn = (ds.lst_day / scale).round().astype("uint16")
    dn[0, :6, :6] = 65535
    dn.attrs = {"scale_factor": scale, "units": "K"}
    dn.encoding = {"_FillValue": 0, "dtype": "uint16"}
    src = tmp_path / "dn.nc"
    dn.to_dataset(name="LST").to_netcdf(src)
    return src


def test_cli_nodata_is_the_stored_value_on_a_decoded_file(tmp_path, capsys):
    src = _dn_file(tmp_path)
    out = tmp_path / "o.nc"
    assert main(["upscale", str(src), str(out), "--factor", "2", "--nodata", "65535",
                 "--quiet"]) == 0
    # the decoded value, the advice before, is named as the stored one it decodes from
    assert main(["upscale", str(src), str(tmp_path / "p.nc"), "--factor", "2", "--nodata",
                 "1310.7", "--quiet"]) == 2
    assert "declare the stored value 65535, which decodes to 1310.7" in capsys.readouterr().err


@pytest.mark.parametrize("scale", [np.float32(0.02), 0.02])
def test_declared_stored_fill_masks_decoded_values(tmp_path, scale):
    # float32 decoding (a float32 scale) is matched exactly as the reader computed it
    src = _dn_file(tmp_path, scale)
    with xr.open_dataset(src) as ds:
        da = ds["LST"].load()
    declared = declare_lst(da, {"_FillValue": 65535})
    assert declared.attrs["_FillValue"] == float(da.values[0, 0, 0])
    out = decode_lst(declared)
    assert bool(out[0, :6, :6].isnull().all()) and int(out.isnull().sum()) == 36


def test_declared_fill_keeps_the_files_own_one_masked():
    dn = xr.DataArray(np.array([[15000, 0, 65535]], "uint16"), dims=("y", "x"),
                      attrs={"scale_factor": 0.02, "_FillValue": 0})
    out = declare_lst(dn, {"_FillValue": 65535})
    assert out.attrs["_FillValue"] == 65535 and out.attrs["missing_value"] == 0
    assert decode_lst(out, mask_out_of_range=True).isnull().values.tolist() == [
        [False, True, True]]
    # the same fill declared again changes nothing
    assert declare_lst(dn, {"_FillValue": 0}).attrs["_FillValue"] == 0
