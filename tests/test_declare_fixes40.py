"""declare_lst on files the reader decoded: a declared offset is not applied a second time, and
a declared fill is a stored value (probe40s 03 and 04)."""
from __future__ import annotations

import re
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


def _hdf_like(stored: np.ndarray, scale: float = 0.02) -> xr.DataArray:
    """Values decoded as open_modis decodes a granule: in float64, then cast to float32, the
    scale recorded in the encoding (no dtype: it writes floats)."""
    da = xr.DataArray((stored.astype(np.float64) * scale).astype(np.float32), dims=("y", "x"),
                      attrs={"units": "K"})
    da.encoding = {"scale_factor": scale}
    return da


@pytest.mark.parametrize("fill", [15796, 15797, 15802, 15863])
def test_declared_stored_fill_masks_values_decoded_in_float64(fill):
    # open_modis decodes in float64 then casts: float32 arithmetic alone ("as xarray does")
    # gave 315.91998 for 15796 where the granule's pixels hold 315.92, and masked nothing
    stored = np.random.default_rng(fill).integers(14000, 15700, (16, 16)).astype(np.uint16)
    stored[:3, :3] = fill
    da = _hdf_like(stored)
    declared = declare_lst(da, {"_FillValue": fill})
    out = decode_lst(declared)
    assert out.isnull().values.tolist() == (stored == fill).tolist()


def test_mod13_stored_fills_declared_match_the_division_decoding():
    # MOD13's int16 x 10000 divided in float64 (value = stored / 10000), recorded as
    # scale_factor 1e-4: ~30 % of stored values decoded otherwise by float32 arithmetic
    stored = np.arange(-2000, 10001, 7, dtype=np.int16)
    decoded = (stored.astype(np.float64) / 10000).astype(np.float32)
    assert (stored.astype(np.float32) * np.float32(1e-4) != decoded).any()  # the case
    for v, d in zip(stored.tolist(), decoded.tolist()):
        ndvi = xr.DataArray(np.float32([[d, 0.5]]), dims=("y", "x"))
        ndvi.encoding = {"scale_factor": 1 / 10000, "add_offset": 0.0}
        attrs = declare_lst(ndvi, {"_FillValue": v}, what="guide").attrs
        assert d in [attrs["_FillValue"], *np.ravel(attrs.get("missing_value", []))]


@pytest.mark.parametrize("dtype, scale, fill, rows, cols", [
    ("uint16", 0.02, 65535, 1, 6),  # out of range: a few pixels, a block, many
    ("uint16", 0.02, 65535, 6, 6),
    ("uint16", 0.02, 65535, 40, 6),
    ("int16", 0.01, 32767, 20, 64),  # the type's extreme, in range decoded (327.67 K)
    ("uint16", 0.02, 7500, 30, 64),  # far below the others (150 K)
])
def test_undeclared_fill_advice_on_a_decoded_file_is_followed(tmp_path, capsys, dtype, scale,
                                                              fill, rows, cols):
    # the advice was `--nodata 1310.7` (the decoded value), which --nodata refuses: two
    # failing runs; now the stored value, which masks the fill
    ds = _scene()
    dn = (ds.lst_day / scale).round().astype(dtype)
    dn[0, :rows, :cols] = fill
    dn.attrs = {"scale_factor": scale, "units": "K"}
    dn.encoding = {"_FillValue": 0, "dtype": dtype}
    src = tmp_path / "dn.nc"
    dn.to_dataset(name="LST").to_netcdf(src)
    out = tmp_path / "o.nc"
    assert main(["upscale", str(src), str(out), "--factor", "2", "--quiet"]) == 2
    err = capsys.readouterr().err
    advised = re.search(r"`--nodata (\S+)` on the command line", err)
    assert advised is not None, err
    assert f"{fill} as stored" in err and advised.group(1) == str(fill)
    assert main(["upscale", str(src), str(out), "--factor", "2", "--quiet",
                 "--nodata", advised.group(1)]) == 0, capsys.readouterr().err


def test_open_modis_like_array_is_written_as_floats(tmp_path):
    # open_modis's encoding held the granule's uint16 and _FillValue too: an anomaly derived
    # with .copy(data=...) was packed into uint16 by to_netcdf, -7.5 read back as 1303 K
    pytest.importorskip("pyhdf.SD")
    from test_cli_uri40 import _granule  # (an HDF4 granule writer)

    g = _granule(tmp_path / "MOD11A1.A2020001.h14v09.061.2020002000000.hdf", 8, 8)
    da = xlstsr.io.open_modis(g).load()
    anom = da.copy(data=da.values - float(da.mean()))
    anom.to_netcdf(tmp_path / "anom.nc")
    with xr.open_dataset(tmp_path / "anom.nc") as back:
        np.testing.assert_allclose(back[da.name].values, anom.values, atol=1e-4)
