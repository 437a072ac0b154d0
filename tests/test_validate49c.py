"""Review 49h of validate's 048dc9b (findings 1-3): where a scale and a dropped offset both fit,
the stored integer type ranks them (a rank by spread put 0.002 first on a wide ECOSTRESS scene
stored K x 50 and declared 0.02 + 273.15: followed, std 0.74 K for 7.43 K); the squeeze rule
keeps to cases where dropping the offset reads a land surface (a narrow degC x 100 crop declared
0.1 + 273.15 was told 0.02: +19.6 K); the scale reading names its role's flag and variable.
Real scenes (ECOSTRESS, MOD11A1, ASTER); each first advice is followed and the values checked."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr.cli import main
from xlstsr.errors import UndeclaredFillError, XlstsrError
from xlstsr.validate import _wrong_scale, decode_lst

DATA = Path("/work/shared/data")
ECO = DATA / "ecostress_la" / "LST" / "ECO_L2_LSTE.002_LST_doy2023172202153_aid0001.tif"
ASTER = DATA / "modis_aster" / "052_aster_lst_250m.tif"
COGS = DATA / "modis_h18v04_2020" / "cogs"
real = pytest.mark.skipif(not ECO.exists() or not ASTER.exists() or not COGS.is_dir(),
                          reason="no real ECOSTRESS / ASTER / MODIS data")


def _codes(msg: str) -> list[str]:
    """The attrs fixes of ``msg``, in the order told."""
    return [c for c in re.findall(r"`([^`]+)`", msg)
            if ("add_offset" in c or "scale_factor" in c) and c.startswith(("da", "del"))]


def _follow(da: xr.DataArray, code: str) -> xr.DataArray:
    ns = {"da": da.copy()}
    exec(code, ns)
    return ns["da"]


def _open(path: Path) -> xr.DataArray:
    import rioxarray

    return rioxarray.open_rasterio(path, mask_and_scale=False).isel(band=0, drop=True).load()


def _stats(a: np.ndarray) -> tuple[float, float]:
    a = np.asarray(a, float)
    a = a[np.isfinite(a)]
    return float(np.median(a)), float(a.std())


# -- 1: both readings fit: ranked by the stored type -----------------------------------------

@real
def test_wide_ecostress_scene_with_extra_offset_is_told_to_drop_it_first():
    e = _open(ECO)
    truth = np.where(e.values > 0, e.values * 0.02, np.nan)  # 292.0 K, std 7.43
    da = e.copy()
    da.attrs = {"scale_factor": 0.02, "add_offset": 273.15, "units": "K", "_FillValue": 0}
    da.encoding = {}
    with pytest.raises(XlstsrError) as err:
        xlstsr.upscale(da, 2, "bicubic")
    msg = str(err.value)
    assert "both readings fit" in msg and "0.002" in msg  # both kept, with their ranges
    assert "unsigned integers" in msg
    # was "set `da.attrs['scale_factor'] = 0.002`" first: 302.4 K, std 0.74 K
    assert _codes(msg)[0] == "del da.attrs['add_offset']", msg
    out = xlstsr.upscale(_follow(da, _codes(msg)[0]), 2, "bicubic")
    med, std = _stats(out.values)
    t_med, t_std = _stats(truth)
    assert abs(med - t_med) < 0.2 and abs(std - t_std) < 0.3


@real
def test_aster_k10_with_extra_offset_is_told_to_drop_it_first():
    a = _open(ASTER)  # float32 K x 10: the type says nothing, the Kelvin coding first
    da = a.copy()
    da.attrs = {"scale_factor": 0.1, "add_offset": 273.15, "units": "K", "_FillValue": 0}
    da.encoding = {}
    with pytest.raises(XlstsrError) as err:
        xlstsr.upscale(da, 2, "bicubic")
    msg = str(err.value)
    assert "both readings fit" in msg
    # was 0.01 first: ran at std 3.82 K for 6.68 K, ASTER's 200 K plateau passed as 293 K
    assert _codes(msg)[0] == "del da.attrs['add_offset']", msg
    # followed: the Kelvin reading, whose 2000 (200 K) border plateau is named next
    with pytest.raises(UndeclaredFillError, match="plateau"):
        xlstsr.upscale(_follow(da, _codes(msg)[0]), 2, "bicubic")


def test_signed_storage_puts_the_scale_first_unsigned_the_offset():
    args = (515.25, (0.1, 273.15, 0.0), (150.0, 400.0))
    spread = (505.0, 530.0)  # p1-p99 as decoded
    first = {k: _wrong_scale(*args, spread=spread, stored_kind=k) for k in ("i", "u", None)}
    assert first["i"].startswith("the scale"), first["i"]
    assert first["u"].startswith("the offset"), first["u"]
    assert first[None].startswith("the offset"), first[None]
    for text in first.values():  # both readings kept with their ranges
        assert "with 0.01 the scene spans" in text and "without the offset" in text


# -- 2: the squeeze rule only where dropping the offset reads a land surface -----------------

@real
@pytest.mark.parametrize("doy, r0, c0", [(78, 512, 32), (78, 448, 160)])
def test_narrow_degc_x100_crop_is_told_the_tenfold_scale(doy, r0, c0):
    import rioxarray

    f = COGS / f"MOD11A1.A2020{doy:03d}.h18v04.061_LST_Day_1km.tif"
    s = rioxarray.open_rasterio(f).isel(band=0, drop=True).isel(
        y=slice(r0, r0 + 32), x=slice(c0, c0 + 32)).load()
    k = np.where(s > 0, s * 0.02, np.nan)  # 18-20 degC, p1-p99 under 2 K
    c100 = np.where(np.isfinite(k), np.round((k - 273.15) * 100), -32768).astype("int16")
    da = xr.DataArray(c100, dims=s.dims, coords=s.coords,
                      attrs={"scale_factor": 0.1, "add_offset": 273.15, "units": "K",
                             "_FillValue": -32768})
    with pytest.raises(XlstsrError) as err:
        xlstsr.upscale(da, 2, "bicubic")
    msg = str(err.value)
    # was "set `da.attrs['scale_factor'] = 0.02`": 312.3 K for 292.7 K
    assert _codes(msg)[0] == "da.attrs['scale_factor'] = 0.01", msg
    out = xlstsr.upscale(_follow(da, _codes(msg)[0]), 2, "bicubic")
    med, std = _stats(out.values)
    t_med, t_std = _stats(k)
    assert abs(med - t_med) < 0.1 and abs(std - t_std) < 0.1


# -- 3: the scale reading names its role's flag and variable ---------------------------------

@pytest.mark.parametrize("what, flag, var", [("coarse LST", "--coarse-scale", "coarse"),
                                             ("truth", "--truth-scale", "truth")])
def test_scale_advice_names_the_roles_flag(what, flag, var):
    rng = np.random.default_rng(3)
    t = 300 + 3 * rng.standard_normal((32, 32))
    da = xr.DataArray(np.round((t - 273.15) * 100).astype("int16"), dims=("y", "x"),
                      attrs={"scale_factor": 0.1, "add_offset": 273.15, "units": "K",
                             "_FillValue": -32768})
    with pytest.raises(XlstsrError) as err:
        decode_lst(da, what=what)
    msg = str(err.value)
    # was "set `da.attrs['scale_factor'] = 0.01`" with no flag
    assert f"`{var}.attrs['scale_factor'] = 0.01`" in msg, msg
    assert f"`{flag} 0.01`" in msg, msg


@real
def test_cli_upscale_scale_reading_names_scale_and_the_first_advice_works(tmp_path, capsys):
    e = _open(ECO)
    # the scene's widest 256 px window (p1-p99 37 K), 98 % valid
    w = e.isel(y=slice(768, 1024), x=slice(384, 640)).load()
    w.attrs = {}
    w.encoding = {}
    w.rio.write_nodata(None, inplace=True)
    w.rio.to_raster(tmp_path / "eco.tif")
    truth = np.where(w.values > 0, w.values * 0.02, np.nan)
    args = ["upscale", str(tmp_path / "eco.tif"), str(tmp_path / "o.tif"), "--factor", "2",
            "--method", "bicubic", "--scale", "0.02", "--nodata", "0", "--overwrite"]
    assert main([*args, "--offset", "273.15"]) == 2
    err = capsys.readouterr().err
    assert "`--scale 0.002`" in err, err  # the scale reading's flag, not Python alone
    assert err.index("drop --offset") < err.index("`--scale 0.002`")  # uint16: Kelvin first
    assert main(args) == 0  # the first advice followed: --offset dropped
    out = _open(tmp_path / "o.tif").values.astype(float)
    out[out <= 0] = np.nan
    med, std = _stats(out)
    t_med, t_std = _stats(truth)
    assert abs(med - t_med) < 0.3 and abs(std - t_std) < 0.5
