"""Probe 50 R1 findings 3, 4, 6, 7, 8 (validate): a file's own wrong scale or offset tag is
mended on the command line by rewriting the tag on a copy (typed `--scale 0.02` / "drop
--offset" were refused or named a flag not typed); a scale ten times too small that reads a land
surface comes before degrees Celsius (followed, degC ran on a tenth of the contrast: std 0.29 K
for 2.91 K); a CF-packed NetCDF's own scale and offset are judged as the attrs' are; a cube
wholly out of range for one cause is not told to drop its first step; evaluate's reference with
its own wrong scale attribute is told to set it (``reference_scale`` beside it is refused).
Every advice is followed as written and the values checked against the right decoding."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr.cli import main
from xlstsr.errors import XlstsrError
from xlstsr.validate import decode_lst

DATA = Path("/work/shared/data")
MOD = DATA / "modis_h18v04_2020" / "cogs" / "MOD11A1.A2020200.h18v04.061_LST_Day_1km.tif"
real = pytest.mark.skipif(not MOD.exists(), reason="no real MOD11A1 data")


def _dn() -> xr.DataArray:
    """A 96 x 96 crop of a real MOD11A1 day (uint16 DNs, 11 % cloud 0s): 309.4 K, std 2.91 K
    decoded x 0.02."""
    import rioxarray

    da = rioxarray.open_rasterio(MOD, mask_and_scale=False).isel(band=0, drop=True)
    da = da.isel(y=slice(960, 1056), x=slice(0, 96)).load()
    da.attrs = {}
    da.encoding = {}
    return da


def _truth(dn: xr.DataArray) -> tuple[float, float]:
    return _stats(np.where(dn.values > 0, dn.values * 0.02, np.nan))


def _stats(a: np.ndarray) -> tuple[float, float]:
    a = np.asarray(a, float)
    a = a[np.isfinite(a) & (a > 0)]
    return float(np.median(a)), float(a.std())


def _tif(dn: xr.DataArray, path: Path, scale: float, offset: float = 0.0) -> Path:
    import rasterio

    dn.rio.write_nodata(0, inplace=True)
    dn.rio.to_raster(path)
    with rasterio.open(path, "r+") as f:
        f.scales, f.offsets = (scale,), (offset,)
    return path


def _run_command(err: str) -> Path:
    """Runs the command line's rewrite of the file's tag as told; the copy to give."""
    m = re.search(r"`(python -c '[^']*')`, then give (\S+?)\)", err)
    assert m is not None, err
    cmd = m[1].replace("python", f"{sys.executable}", 1)
    subprocess.run(cmd, shell=True, check=True)
    return Path(m[2])


def _upscaled(args: list[str], out: Path) -> tuple[float, float]:
    import rioxarray

    assert main([*args, "--overwrite"]) == 0
    return _stats(rioxarray.open_rasterio(out, mask_and_scale=True).values)


# -- 1 (R1/3) + 2 (R1/4): the file's own tag, on the command line -----------------------------

@real
def test_cli_own_scale_tag_ten_times_too_small_is_rewritten_and_comes_before_celsius(
        tmp_path, capsys):
    dn = _dn()
    t_med, t_std = _truth(dn)
    src = _tif(dn, tmp_path / "lst.tif", 0.002)
    out = tmp_path / "o.tif"
    assert main(["upscale", str(src), str(out), "--factor", "2", "--method", "bicubic"]) == 2
    err = capsys.readouterr().err
    # was "--units degC" first (exit 0 on std 0.29 K) and "`--scale 0.02`" (refused: declared)
    assert "`--scale 0.02`" not in err, err
    assert err.index("is 10 times too small") < err.index("'degC'"), err
    fixed = _run_command(err)
    med, std = _upscaled(["upscale", str(fixed), str(out), "--factor", "2", "--method",
                          "bicubic"], out)
    assert abs(med - t_med) < 0.3 and abs(std - t_std) < 0.5, (med, std, t_med, t_std)


@real
def test_cli_own_extra_offset_tag_is_rewritten_not_told_to_drop_an_untyped_flag(
        tmp_path, capsys):
    dn = _dn()
    t_med, t_std = _truth(dn)
    src = _tif(dn, tmp_path / "lst.tif", 0.02, 273.15)
    out = tmp_path / "o.tif"
    assert main(["upscale", str(src), str(out), "--factor", "2", "--method", "bicubic"]) == 2
    err = capsys.readouterr().err
    assert "drop --offset" not in err, err  # no --offset was typed
    fixed = _run_command(err)
    med, std = _upscaled(["upscale", str(fixed), str(out), "--factor", "2", "--method",
                          "bicubic"], out)
    assert abs(med - t_med) < 0.3 and abs(std - t_std) < 0.5, (med, std, t_med, t_std)


@real
def test_typed_offset_is_still_told_to_drop_its_flag(tmp_path, capsys):
    dn = _dn()
    dn.rio.write_nodata(0, inplace=True)
    dn.rio.to_raster(tmp_path / "dn.tif")
    args = ["upscale", str(tmp_path / "dn.tif"), str(tmp_path / "o.tif"), "--factor", "2",
            "--method", "bicubic", "--scale", "0.02"]
    assert main([*args, "--offset", "273.15"]) == 2
    assert "drop --offset" in capsys.readouterr().err


# -- 2 (R1/4): in Python, the tenfold scale first, followed ----------------------------------

@real
@pytest.mark.parametrize("units", [None, "K"])
def test_tenfold_scale_comes_before_celsius_and_works_when_followed(units):
    dn = _dn()
    t_med, t_std = _truth(dn)
    da = dn.assign_attrs(scale_factor=0.002, _FillValue=0, **({"units": units} if units else {}))
    with pytest.raises(XlstsrError) as err:
        decode_lst(da)
    msg = str(err.value)
    first = re.search(r"`(da\.attrs\[[^`]*)`", msg)[1]
    assert "scale_factor" in first and "0.02" in first, msg  # was "units = 'degC'" first
    ns = {"da": da.copy()}
    exec(first, ns)
    med, std = _stats(decode_lst(ns["da"]).values)
    assert abs(med - t_med) < 0.01 and abs(std - t_std) < 0.01


# -- 3 (R1/7): a CF-packed NetCDF's own scale / offset ----------------------------------------

def _nc(dn: xr.DataArray, path: Path, **attrs) -> Path:
    v = dn.astype("uint16").rename("lst").assign_attrs(units="K", _FillValue=np.uint16(0),
                                                       **attrs)
    v.to_dataset().to_netcdf(path)
    return path


@real
@pytest.mark.parametrize("attrs, code", [({"scale_factor": 0.002}, "da = da * 10"),
                                         ({"scale_factor": 0.02, "add_offset": 273.15},
                                          "da = da - 273.15")])
def test_packed_netcdf_own_scale_or_offset_is_named_and_mended_when_followed(
        tmp_path, capsys, attrs, code):
    dn = _dn()
    t_med, t_std = _truth(dn)
    path = _nc(dn, tmp_path / "lst.nc", **attrs)
    da = xr.open_dataset(path)["lst"].load()
    with pytest.raises(XlstsrError) as err:
        xlstsr.upscale(da, factor=2, method="bicubic")
    msg = str(err.value)
    first = re.search(r"`(da = [^`]*)`", msg)
    assert first is not None and first[1] == code, msg  # was "set units degC" / generic
    if "scale_factor" in attrs and "add_offset" not in attrs:
        assert msg.index("is 10 times too small") < msg.index("'degC'"), msg
    ns = {"da": da}
    exec(first[1], ns)
    med, std = _stats(decode_lst(ns["da"]).values)
    assert abs(med - t_med) < 0.01 and abs(std - t_std) < 0.01
    # the command line's way: the file's attributes rewritten on a copy
    out = tmp_path / "o.tif"
    assert main(["upscale", str(path), str(out), "--factor", "2", "--method", "bicubic"]) == 2
    fixed = _run_command(capsys.readouterr().err)
    med, std = _upscaled(["upscale", str(fixed), str(out), "--factor", "2", "--method",
                          "bicubic"], out)
    assert abs(med - t_med) < 0.3 and abs(std - t_std) < 0.5


# -- 4 (R1/6): a cube wholly out of range for one cause -------------------------------------

@real
def test_cube_every_step_out_for_one_cause_is_not_told_to_drop_a_step():
    dn = _dn()
    cube = xr.concat([dn] * 3, "time").assign_coords(
        time=np.array(["2020-07-18", "2020-07-19", "2020-07-20"], "datetime64[ns]"))
    with pytest.raises(XlstsrError) as err:
        decode_lst(cube.assign_attrs(scale_factor=0.02, add_offset=273.15, _FillValue=0))
    msg = str(err.value)
    assert "drop it instead" not in msg and "drop_sel" not in msg, msg
    assert "`del da.attrs['add_offset']`" in msg
    # one step in other units beside good ones: its drop is still offered
    bad = xr.concat([dn.astype(float) * 0.02 + 273.15, dn.astype(float) * 0.02,
                     dn.astype(float) * 0.02], "time").assign_coords(time=cube.time)
    bad = bad.where(dn > 0)
    with pytest.raises(XlstsrError) as err:
        decode_lst(bad.assign_attrs(units="K"))
    assert "drop it instead" in str(err.value)


# -- 5 (R1/8): evaluate's reference with its own wrong scale attribute ------------------------

@real
def test_evaluate_reference_own_scale_attribute_is_told_to_set_it(tmp_path):
    import rioxarray

    dn = _dn()
    k = (dn.astype(float) * 0.02).where(dn > 0)
    # a reference stored K x 10 (ASTER's coding) tagged 0.01: its own attribute
    ref10 = xr.where(dn > 0, np.round(k * 10), 0).astype("uint16").rio.write_crs(dn.rio.crs)
    _tif(ref10, tmp_path / "ref.tif", 0.01)
    ref = rioxarray.open_rasterio(tmp_path / "ref.tif", mask_and_scale=False).isel(
        band=0, drop=True)
    sr = k.rio.write_crs(dn.rio.crs).assign_attrs(units="K")
    with pytest.raises(XlstsrError) as err:
        xlstsr.evaluate(sr, ref)
    msg = str(err.value)
    assert "pass `reference_scale=0.1`" not in msg, msg  # refused as given twice, followed
    code = re.search(r"`(reference\.attrs\['scale_factor'\] = [^`]*)`", msg)
    assert code is not None, msg
    ns = {"reference": ref.copy()}
    exec(code[1], ns)
    scores = xlstsr.evaluate(sr, ns["reference"])
    assert float(scores["rmse"]) < 0.1  # the same field, K x 10 rounded


@real
def test_cli_rewrite_command_never_replaces_an_existing_file(tmp_path, capsys):
    """Regression probe 50: the advised copy <stem>_retagged.tif silently replaced a file of
    that name; now the command stops and names it, the file kept byte for byte."""
    src = _tif(_dn(), tmp_path / "lst.tif", 0.002)
    assert main(["upscale", str(src), str(tmp_path / "o.tif"), "--factor", "2", "--method",
                 "bicubic"]) == 2
    err = capsys.readouterr().err
    m = re.search(r"`(python -c '[^']*')`, then give (\S+?)\)", err)
    assert m is not None, err
    mine = Path(m[2])
    mine.write_bytes(b"a user's own file")
    done = subprocess.run(m[1].replace("python", f"{sys.executable}", 1), shell=True,
                          capture_output=True, text=True)
    assert done.returncode != 0 and "exists: remove it or pick another name" in done.stderr
    assert mine.read_bytes() == b"a user's own file"
