"""Review 50a (1-4) of d95bb22: ``xlstsr evaluate``'s aggregate-first advice, followed as
written. A packed reference of float32 ``scale_factor``/``add_offset`` decodes to float32, whose
273.15 the advice compared in float64 (nothing masked: real ASTER pair 001 scored 2.34 K for
1.77 K); a packed .zarr was taken for plain (its typed fill went to ``rio warp`` as stored);
a Landsat scene's ``--reference-mask`` was left to "the same flags" (refused beside the
aggregate); the advice re-opened the reference and recounted its fill instead of taking the
run's reading."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rioxarray
import test_bad_input_corpus22_landsat as landsat
import xarray as xr
from helpers import run_cli
from test_cli50 import BIN, _follow, _rmse

import xlstsr
import xlstsr.cli as cli
from xlstsr.io import open_landsat_c2l2

DATA = Path("/work/shared/data/modis_aster")
pytestmark = pytest.mark.skipif(not (BIN / "rio").exists(),
                                reason="rasterio's rio command is not installed")


# -- 1, 2: a packed reference (float32 attributes; a .zarr store), real ASTER pair 001 ----------

@pytest.fixture(scope="module")
def aster():
    """Real ASTER pair 001's LST (a 168 x 188 crop with its outside-the-scene border) as int16
    x 0.01 + 273.15 with the stored 0 an undeclared fill, in Kelvin; its MODIS LST."""
    if not (DATA / "001_aster_lst_250m.tif").exists():
        pytest.skip("the shared ASTER pairs are not here")
    ref = rioxarray.open_rasterio(DATA / "001_aster_lst_250m.tif").isel(
        band=0, drop=True)[:168, :188].load()
    k = ref.values * 0.1  # (K x 10 as stored)
    stored = np.where(k >= 230, np.round((k - 273.15) / 0.01), 0).astype("int16")
    return ref.copy(data=stored), DATA / "001_modis_lst_1km.tif"


def _packed_store(folder: Path, aster, suffix: str, kind: type) -> tuple[str, np.ndarray]:
    """``aster`` written packed (``kind`` scale_factor/add_offset) to ref``suffix`` in
    ``folder``, sr.tif beside it; the reference's name and where it stores the fill (0)."""
    stored, modis = aster
    da = stored.copy(data=stored.values * 0.01 + 273.15)
    da.attrs = {"units": "K"}
    ds = da.rio.write_crs(stored.rio.crs).to_dataset(name="LST")
    ds["LST"].encoding = {"dtype": "int16", "scale_factor": kind(0.01),
                          "add_offset": kind(273.15), "_FillValue": None}
    name = f"ref{suffix}"
    ds.to_zarr(folder / name) if suffix == ".zarr" else ds.to_netcdf(folder / name)
    (folder / "sr.tif").write_bytes(modis.read_bytes())
    return name, stored.values == 0


def _warped(tif: Path, folder: Path) -> Path:
    """``tif`` aggregated onto sr.tif's grid with the advice's own command."""
    out = folder / f"{tif.stem}_careful_on_sr.tif"
    subprocess.run([str(BIN / "rio"), "warp", str(tif), str(out), "--like", "sr.tif",
                    "--resampling", "average"], cwd=folder, check=True, capture_output=True)
    return out


@pytest.mark.parametrize(("suffix", "kind", "typed"), [
    (".nc", np.float32, "273.15"), (".nc", np.float32, "0"),
    (".zarr", np.float64, "0"), (".zarr", np.float64, "273.15")])
def test_packed_reference_advice_masks_its_fill_as_the_run_read_it(
        aster, suffix, kind, typed, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name, fill = _packed_store(tmp_path, aster, suffix, kind)
    code, err = run_cli(capsys, "evaluate", "sr.tif", name, "e.csv", "--reference-nodata",
                        typed, "--erode", "3")
    assert code == 0, err
    assert "--reference-nodata (its fill is NaN now)" in err
    assert "--src-nodata" not in err  # (decoded: the stored 0 is no more in the file)
    written, aggregate = _follow(err, tmp_path)
    lst = rioxarray.open_rasterio(written, masked=True).squeeze(drop=True)
    # the fill NaN, exactly where stored (float32 attributes typed 273.15: 0 NaN, 49,958
    # pixels of 273.15 K in the whole scene; a .zarr: the fill written as 273.15 K)
    np.testing.assert_array_equal(lst.isnull().values, fill)
    decoded = xr.open_dataset(name)["LST"].values
    np.testing.assert_array_equal(lst.values[~fill], decoded[~fill].astype("float32"))
    code, err = run_cli(capsys, "evaluate", "sr.tif", aggregate.name, "f.csv", "--erode", "3")
    assert code == 0, err
    # scored as the truth written with its fill masked by hand, aggregated alike (the fill
    # averaged in: 2.34 K for 1.77 K on the whole pair)
    truth = xr.DataArray(np.where(fill, np.nan, decoded).astype("float32"),
                         coords=lst.coords, dims=lst.dims)
    truth.rio.write_nodata(np.nan, encoded=False).rio.to_raster(tmp_path / "careful.tif")
    code, err = run_cli(capsys, "evaluate", "sr.tif", _warped(tmp_path / "careful.tif",
                                                              tmp_path).name,
                        "c.csv", "--erode", "3")
    assert code == 0, err
    assert _rmse(tmp_path / "f.csv") == pytest.approx(_rmse(tmp_path / "c.csv"), abs=1e-6)


# -- 3: a Landsat C2 L2 scene with --reference-mask -----------------------------------------------

def test_landsat_reference_advice_applies_the_reference_mask_before_aggregating(
        tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(landsat, "SHAPE", (120, 120))
    landsat._scene(tmp_path / "scene")
    monkeypatch.chdir(tmp_path)
    lst = open_landsat_c2l2("scene")["lst"]
    sr = lst.coarsen(y=4, x=4).mean().fillna(300.0) + 0.5
    sr.attrs = {"units": "K"}
    sr.drop_vars("time").rio.write_crs(lst.rio.crs).rio.to_raster("sr.tif")
    mask = xr.zeros_like(lst.drop_vars("time"), dtype="uint8")
    mask[:, 60:] = 1  # the east half not scored (a 30 m QC layer on the scene's grid)
    mask.rio.write_crs(lst.rio.crs).rio.write_nodata(None).rio.to_raster("mask.tif")
    code, err = run_cli(capsys, "evaluate", "sr.tif", "scene", "e.csv",
                        "--reference-mask", "mask.tif")
    assert code == 0, err
    # followed as it says: with the same flags but the mask (beside the 120 m aggregate it was
    # refused: "not on the reference's grid")
    assert "with the same flags but --reference-mask (applied now" in err
    written, aggregate = _follow(err, tmp_path)
    kept = lst.where(mask == 0)
    got = rioxarray.open_rasterio(written, masked=True).squeeze(drop=True)
    np.testing.assert_array_equal(got.isnull().values, kept.isnull().values)
    np.testing.assert_allclose(got.values, kept.values)
    code, err = run_cli(capsys, "evaluate", "sr.tif", aggregate.name, "f.csv")
    assert code == 0, err
    truth = kept.drop_vars("time").coarsen(y=4, x=4).mean()
    srda = rioxarray.open_rasterio("sr.tif", masked=True).squeeze(drop=True)
    careful = xlstsr.evaluate(srda, truth.rio.write_transform(srda.rio.transform()))
    assert _rmse(tmp_path / "f.csv") == pytest.approx(float(careful["rmse"]), abs=1e-3)


# -- 4: the run's reading of the fill, not a second one --------------------------------------------

def test_advice_takes_the_runs_reading_of_the_fill(aster, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name, _ = _packed_store(tmp_path, aster, ".nc", np.float32)
    calls = []
    resolve = cli._stored_reference_nodata

    def counted(*args, **kwargs):
        calls.append(args[1])
        return resolve(*args, **kwargs)

    monkeypatch.setattr(cli, "_stored_reference_nodata", counted)
    code, err = run_cli(capsys, "evaluate", "sr.tif", name, "e.csv", "--reference-nodata",
                        "273.15")
    assert code == 0, err
    # resolved once, by the run (the advice re-opened the file and counted its fill again)
    assert calls == [273.15]
    python = re.search(r"in Python, `([^`]*)`", err)[1]
    assert f'.where(xr.open_dataset("{name}")["LST"] != 273.15)' in python
    assert cli._REFERENCE_READ.get() is None  # (the run's reading kept for its run only)
    command = shlex.split(re.search(r"`(rio warp [^`]*)`", err)[1])
    assert command[-2:] == ["--resampling", "average"]


def test_plain_reference_mask_advice_sets_the_fill_where_the_warp_declares_it(
        tmp_path, capsys, monkeypatch):
    """Review 50j/1: a plain .nc reference with a typed fill and a --reference-mask was told to
    set the mask's pixels NaN before a `rio warp --src-nodata FILL`, whose average then spread
    the NaN over every cell they touched (400 of 400 cells NaN for 180). Told to set them to
    the fill, followed, the aggregate is the careful one."""
    monkeypatch.chdir(tmp_path)
    n = 80
    yy, xx = np.mgrid[:n, :n]
    val = (295 + 5 * np.sin(xx / 7) + 0.1 * yy
           + np.random.default_rng(0).normal(0, 0.5, (n, n))).astype("float32")
    fill = np.zeros((n, n), bool)
    fill[:, :30] = True
    mask = np.zeros((n, n), "uint8")
    mask[::2, 30::3] = 1  # scattered specks
    mask[:, 70:] = 1
    coords = {"y": 4e6 - (np.arange(n) + 0.5) * 90.0, "x": 5e5 + (np.arange(n) + 0.5) * 90.0}
    crs = "EPSG:32631"
    sr = (xr.DataArray(np.where(fill, np.nan, val), dims=("y", "x"), coords=coords)
          .coarsen(y=4, x=4).mean().fillna(300.0) + 0.5)
    sr.attrs = {"units": "K"}
    sr.rio.write_crs(crs).rio.to_raster("sr.tif")
    ref = xr.DataArray(np.where(fill, -9999.0, val).astype("float32"), dims=("y", "x"),
                       coords=coords, attrs={"units": "K"}).rio.write_crs(crs)
    ds = ref.to_dataset(name="LST")
    ds["LST"].encoding = {"_FillValue": None}
    ds.to_netcdf("ref.nc")
    (xr.DataArray(mask, dims=("y", "x"), coords=coords).rio.write_crs(crs)
     .rio.write_nodata(None).rio.to_raster("mask.tif"))
    code, err = run_cli(capsys, "evaluate", "sr.tif", "ref.nc", "e.csv", "--reference-nodata",
                        "-9999", "--reference-mask", "mask.tif")
    assert code == 0 and "`.where(MASK == 0, -9999.0)`" in err, err
    # the words followed: the mask's pixels set to the fill in the Python step
    python = re.search(r"in Python, `([^`]*)`", err)[1]
    python = python.replace(
        '.astype("float32")', '.where(rioxarray.open_rasterio("mask.tif").squeeze(drop=True)'
        '.values == 0, -9999.0).astype("float32")', 1)
    subprocess.run([sys.executable, "-c", python], check=True)
    command = shlex.split(re.search(r"`(rio warp [^`]*)`", err)[1])
    subprocess.run([str(BIN / "rio"), *command[1:]], check=True, capture_output=True)
    agg = rioxarray.open_rasterio(command[3], masked=True).squeeze()
    careful = xr.DataArray(np.where(fill | (mask != 0), np.nan, val), dims=("y", "x"),
                           coords=coords).rio.write_crs(crs)
    careful.rio.write_nodata(np.nan, encoded=False).rio.to_raster("careful.tif")
    subprocess.run([str(BIN / "rio"), "warp", "careful.tif", "careful_on_sr.tif", "--like",
                    "sr.tif", "--resampling", "average"], check=True, capture_output=True)
    want = rioxarray.open_rasterio("careful_on_sr.tif", masked=True).squeeze()
    np.testing.assert_array_equal(agg.isnull().values, want.isnull().values)
    np.testing.assert_allclose(agg.values, want.values, atol=1e-3, equal_nan=True)
