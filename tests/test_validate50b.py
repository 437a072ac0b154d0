"""Review 50g findings 1-4 (validate, evaluate): genuine degrees Celsius stored with a scale
tag keep degrees Celsius first (the tenfold scale led and, followed, ran at std 23.8 K for
2.4 K), the scale reading after it with the range it gives; the scale leads only where the
Celsius reading is squeezed (MOD11A1 under 0.002, ASTER's K x 10 tagged 0.01). evaluate's
``--reference-nodata`` keeps the reference's file, so its own wrong tag is given the rewrite
command (was "--reference-scale where typed", refused typed). A lazy cube read one image per
task is not told to drop the image judged (followed, every step with data was dropped). A
series of files (open_mfdataset) is told to rewrite each file, not the first one alone.
Every advice is followed as written and the values checked against the right decoding."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from xlstsr.cli import main
from xlstsr.errors import XlstsrError
from xlstsr.validate import decode_lst

DATA = Path("/work/shared/data")
ECO = DATA / "ecostress_la" / "LST" / "ECO_L2_LSTE.002_LST_doy2023219014752_aid0001.tif"
MOD = DATA / "modis_h18v04_2020" / "cogs" / "MOD11A1.A2020200.h18v04.061_LST_Day_1km.tif"
ASTER = DATA / "modis_aster" / "001_aster_lst_250m.tif"
real = pytest.mark.skipif(not (ECO.exists() and MOD.exists() and ASTER.exists()),
                          reason="no real ECOSTRESS / MOD11A1 / ASTER data")


def _crop(path: Path, rows: slice, cols: slice) -> xr.DataArray:
    import rioxarray

    da = rioxarray.open_rasterio(path, mask_and_scale=False).isel(band=0, drop=True)
    da = da.isel(y=rows, x=cols).load()
    da.attrs, da.encoding = {}, {}
    return da


def _celsius() -> xr.DataArray:
    """A 512 x 512 ECOSTRESS crop decoded to degrees Celsius: 24.3-34.2 degC (1st-99th
    percentiles), std 2.39, no gap."""
    dn = _crop(ECO, slice(448, 960), slice(1344, 1856))
    return dn.astype(float) * 0.02 - 273.15


def _stats(a: np.ndarray) -> tuple[float, float]:
    a = np.asarray(a, float)
    a = a[np.isfinite(a) & (a > 0)]
    return float(np.median(a)), float(a.std())


def _tif(da: xr.DataArray, path: Path, nodata: float, scale: float,
         offset: float = 0.0) -> Path:
    import rasterio

    da.rio.write_nodata(nodata, inplace=True)
    da.rio.to_raster(path)
    with rasterio.open(path, "r+") as f:
        f.scales, f.offsets = (scale,), (offset,)
    return path


def _run(cmd: str) -> None:
    """Runs a command as told, with this interpreter for its `python`."""
    if cmd.startswith("python "):
        cmd = sys.executable + cmd[len("python"):]
    subprocess.run(cmd, shell=True, check=True)


# -- 1: genuine degrees Celsius with a scale tag -----------------------------------------------

@real
@pytest.mark.parametrize("factor, dtype, scale", [(100, "int16", 0.01), (50, "uint16", 0.02)])
def test_genuine_celsius_stored_with_a_scale_keeps_celsius_first(factor, dtype, scale):
    c = _celsius()
    t_med, t_std = _stats(c.values + 273.15)
    da = np.round(c * factor).astype(dtype).assign_attrs(scale_factor=scale)
    with pytest.raises(XlstsrError) as err:
        decode_lst(da)
    msg = str(err.value)
    assert "likelier Kelvin" not in msg and "a tenth or less" not in msg, msg
    # the scale reading after degrees Celsius, with the scene's range it gives (243-342 K)
    assert msg.index("'degC'") < msg.index("times too small"), msg
    span = re.search(r"with that scale the scene spans ([\d.]+)-([\d.]+) K", msg)
    assert span is not None, msg
    assert float(span[2]) - float(span[1]) > 90, msg  # ten times the 9.8 degC
    first = re.search(r"`(da\.attrs\[[^`]*)`", msg)[1]
    assert first == "da.attrs['units'] = 'degC'", msg  # was scale_factor = 0.1 (std 23.8 K)
    ns = {"da": da.copy()}
    exec(first, ns)
    med, std = _stats(decode_lst(ns["da"]).values)
    assert abs(med - t_med) < 0.02 and abs(std - t_std) < 0.02, (med, std, t_med, t_std)


@real
def test_genuine_celsius_file_on_the_command_line_is_told_units_first(tmp_path, capsys):
    c = _celsius()
    t_med, t_std = _stats(c.values + 273.15)
    src = _tif(np.round(c * 100).astype("int16").rio.write_crs(4326), tmp_path / "c.tif",
               -32768, 0.01)
    out = tmp_path / "o.tif"
    args = ["upscale", str(src), str(out), "--factor", "2", "--method", "bicubic"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "likelier Kelvin" not in err and err.index("--units degC") < err.index(
        "times too small"), err
    import rioxarray

    assert main([*args, "--units", "degC", "--overwrite"]) == 0
    med, std = _stats(rioxarray.open_rasterio(out, mask_and_scale=True).values)
    assert abs(med - t_med) < 0.3 and abs(std - t_std) < 0.5, (med, std, t_med, t_std)


@real
def test_aster_kelvin_x10_tagged_001_still_leads_with_the_scale():
    # the real ASTER reference (K x 10) tagged 0.01: its Celsius reading's middle half is
    # 0.53 "degC" wide, squeezed: the scale first, the degC reading flagged with it
    da = _crop(ASTER, slice(None), slice(None)).assign_attrs(scale_factor=0.01, _FillValue=0)
    with pytest.raises(XlstsrError) as err:
        decode_lst(da)
    msg = str(err.value)
    assert "likelier Kelvin" in msg and msg.index("times too small") < msg.index("'degC'")
    assert re.search(r"middle half only 0\.\d+ degC wide", msg), msg
    first = re.search(r"`(da\.attrs\[[^`]*)`", msg)[1]
    assert first == "da.attrs['scale_factor'] = 0.1", msg


# -- 2: evaluate --reference-nodata keeps the reference's file -------------------------------

@real
def test_evaluate_reference_nodata_gets_the_rewrite_command_and_it_works(tmp_path, capsys):
    dn = _crop(MOD, slice(960, 1056), slice(0, 96))
    k = (dn.astype(float) * 0.02).where(dn > 0)
    sr = k.rio.write_crs(dn.rio.crs).assign_attrs(units="K").rio.write_nodata(np.nan)
    sr.rio.to_raster(tmp_path / "sr.tif")
    ref10 = xr.where(dn > 0, np.round(k * 10), 0).astype("uint16").rio.write_crs(dn.rio.crs)
    ref = _tif(ref10, tmp_path / "ref.tif", 0, 0.01)
    args = ["evaluate", str(tmp_path / "sr.tif"), str(ref), str(tmp_path / "ev.csv"),
            "--overwrite", "--reference-nodata", "0"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "where typed" not in err, err  # was "--reference-scale 0.1 where typed" (refused)
    m = re.search(r"`(python -c '[^']*')`, then give (\S+?)\)", err)
    assert m is not None, err
    _run(m[1])
    args[2] = m[2]
    assert main(args) == 0
    rmse = float(re.search(r"RMSE ([\d.]+) K", capsys.readouterr().out)[1])
    assert rmse < 0.1, rmse  # the same field, K x 10 rounded


# -- 3: a lazy cube read one image per task -------------------------------------------------

@real
def test_lazy_cube_one_image_per_task_is_not_told_to_drop_the_image_judged():
    dn = _crop(MOD, slice(960, 1056), slice(0, 96))
    cube = xr.concat([dn] * 3, "time").assign_coords(
        time=np.array(["2020-07-18", "2020-07-19", "2020-07-20"], "datetime64[ns]"))
    cube = cube.assign_attrs(scale_factor=0.02, add_offset=273.15, _FillValue=0)
    lazy = cube.chunk({"time": 1})
    with pytest.raises(XlstsrError) as err:
        decode_lst(lazy).compute()
    msg = str(err.value)
    # followed, the drop took every step with data in turn, the all-fill rest accepted
    assert "drop_sel" not in msg and "drop it instead" not in msg, msg
    assert "judged alone" in msg, msg
    code = re.search(r"`(del da\.attrs\['add_offset'\])`", msg)[1]
    ns = {"da": lazy.copy()}
    exec(code, ns)
    out = decode_lst(ns["da"]).compute()
    t = decode_lst(cube.assign_attrs(add_offset=0.0))
    assert out.shape == cube.shape
    np.testing.assert_allclose(out.values, t.values, equal_nan=True)


# -- 4: a series of files (open_mfdataset) -----------------------------------------------

@real
def test_mfdataset_is_told_to_rewrite_each_file_and_the_loop_works(tmp_path):
    pytest.importorskip("dask")
    dn = _crop(MOD, slice(960, 1056), slice(0, 96))
    folder = tmp_path / "series"
    folder.mkdir()
    for d in ("2020-07-18", "2020-07-19", "2020-07-20"):
        v = dn.astype("uint16").expand_dims(time=[np.datetime64(d, "ns")]).rename("lst")
        v = v.assign_attrs(units="K", _FillValue=np.uint16(0), scale_factor=0.02,
                           add_offset=273.15)
        v.to_dataset().to_netcdf(folder / f"lst_{d}.nc")
    da = xr.open_mfdataset(sorted(folder.glob("*.nc")), combine="by_coords")["lst"]
    with pytest.raises(XlstsrError) as err:
        decode_lst(da).compute()
    msg = str(err.value)
    first = str(folder / "lst_2020-07-18.nc")
    # was "then give .../lst_2020-07-18_retagged.nc", the image judged another file's
    assert f"then give {first[:-3]}_retagged.nc" not in msg, msg
    m = re.search(r"`(for f in [^`]*)`", msg)
    assert m is not None and "each of its files" in msg, msg
    _run(m[1].replace("; do python -c", f"; do {sys.executable} -c"))
    fixed = sorted(folder.glob("*_retagged.nc"))
    assert len(fixed) == 3
    out = decode_lst(xr.open_mfdataset(fixed, combine="by_coords")["lst"]).compute()
    k = (dn.astype(float) * 0.02).where(dn > 0)
    for i in range(3):
        np.testing.assert_allclose(out.isel(time=i).values, k.values, rtol=1e-6,
                                   equal_nan=True)
