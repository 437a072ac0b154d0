"""Probe 50 R2 (1, 5): ``xlstsr evaluate``'s aggregate-first advice, followed. A Landsat
Collection 2 Level-2 reference (scene folder or its ST_B10.TIF) was advised ``xr.open_dataset``
of a folder (ValueError) or a ``rio warp`` of the raw digital numbers (fill and clouds averaged
in: RMSE 7.03 K for 1.10 K); a packed .nc's ``--reference-nodata`` typed as the decoded value,
which the run accepts, was masked as stored only (the fill written as 273.15 K data)."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rioxarray
import test_bad_input_corpus22_landsat as landsat
import xarray as xr
from helpers import run_cli

import xlstsr
from xlstsr.io import open_landsat_c2l2

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.skipif(not (BIN / "rio").exists(),
                                reason="rasterio's rio command is not installed")


def _follow(err: str, cwd: Path) -> tuple[Path, Path]:
    """The advice's Python step and its ``rio warp`` run as written in ``cwd``: the GeoTIFF
    the Python step writes and the aggregate."""
    python = re.search(r"in Python, `([^`]*)`", err)[1]
    subprocess.run([sys.executable, "-c", python], cwd=cwd, check=True)
    written = cwd / re.search(r'pathlib\.Path\("([^"]*)"\)', python)[1]
    command = shlex.split(re.search(r"`(rio warp [^`]*)`", err)[1])
    subprocess.run([str(BIN / "rio"), *command[1:]], cwd=cwd, check=True, capture_output=True)
    return written, cwd / command[3]


def _rmse(table: Path) -> float:
    return float(pd.read_csv(table)["rmse"].iloc[0])


# -- 1. a Landsat C2 L2 scene as the reference -----------------------------------------------------

@pytest.fixture
def scene(tmp_path, monkeypatch):
    """A 120 x 120 Landsat 8 C2 L2 scene (30 m; fill column, cloud rows) in tmp_path/scene and
    a 120 m sr.tif: its decoded, masked truth aggregated, 0.5 K warmer, 300 K where empty."""
    monkeypatch.setattr(landsat, "SHAPE", (120, 120))
    landsat._scene(tmp_path / "scene")
    lst = open_landsat_c2l2(tmp_path / "scene")["lst"]
    sr = lst.coarsen(y=4, x=4).mean().fillna(300.0) + 0.5
    sr.attrs = {"units": "K"}
    sr.drop_vars("time").rio.write_crs(lst.rio.crs).rio.to_raster(tmp_path / "sr.tif")
    return lst


@pytest.mark.parametrize("given", ["scene", f"scene/{landsat.PRODUCT}_ST_B10.TIF"])
def test_landsat_reference_aggregate_advice_writes_its_decoded_masked_lst(
        scene, given, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the paths as a user types them
    code, err = run_cli(capsys, "evaluate", "sr.tif", given, "e.csv")
    assert code == 0, err
    assert "open_landsat_c2l2" in err  # (the folder was advised xr.open_dataset)
    written, aggregate = _follow(err, tmp_path)
    assert written.parent == tmp_path  # beside the scene's folder, not among its files
    # the reader's decoding and mask: Kelvin, NaN on the fill column and the cloud rows
    lst = rioxarray.open_rasterio(written, masked=True).squeeze(drop=True)
    np.testing.assert_array_equal(lst.isnull().values, scene.isnull().values)
    np.testing.assert_allclose(lst.values, scene.values)
    code, err = run_cli(capsys, "evaluate", "sr.tif", aggregate.name, "f.csv")
    assert code == 0, err
    # the aggregate scores as the truth aggregated in Python (the raw band's: RMSE 7.03 K)
    sr = rioxarray.open_rasterio("sr.tif", masked=True).squeeze(drop=True)
    truth = scene.drop_vars("time").coarsen(y=4, x=4).mean()
    careful = xlstsr.evaluate(sr, truth.rio.write_transform(sr.rio.transform()))
    assert _rmse(tmp_path / "f.csv") == pytest.approx(float(careful["rmse"]), abs=1e-3)


# -- 5. a packed .nc reference's --reference-nodata typed as stored or as decoded ------------------

def _packed_pair(folder: Path, dtype: str, scale: float, offset: float, fill: int) -> int:
    """``folder``/ref.nc (80 x 80 at 90 m, ``dtype`` x ``scale`` + ``offset``, ``fill`` stored,
    undeclared, on 30 columns) and sr.tif (360 m, the truth aggregated + 0.5 K); the fill's
    pixel count."""
    n = 80
    yy, xx = np.mgrid[:n, :n]
    noise = np.random.default_rng(0).normal(0, 0.5, (n, n))
    stored = np.round((295 + 5 * np.sin(xx / 7) + 0.1 * yy + noise - offset) / scale)
    stored[:, :30] = fill
    da = xr.DataArray(stored.astype(dtype), dims=("y", "x"),
                      coords={"y": 4e6 - (np.arange(n) + 0.5) * 90.0,
                              "x": 5e5 + (np.arange(n) + 0.5) * 90.0},
                      attrs={"scale_factor": scale, "add_offset": offset, "units": "K"})
    da.rio.write_crs("EPSG:32631").to_dataset(name="LST").to_netcdf(folder / "ref.nc")
    truth = xr.open_dataset(folder / "ref.nc", mask_and_scale=False)["LST"]
    decoded = (xr.open_dataset(folder / "ref.nc")["LST"]).where(truth != fill)
    sr = decoded.coarsen(y=4, x=4).mean().fillna(300.0) + 0.5
    sr.attrs = {"units": "K"}
    sr.rio.write_crs("EPSG:32631").rio.to_raster(folder / "sr.tif")
    return int((truth == fill).sum())


@pytest.mark.parametrize(("dtype", "scale", "offset", "fill", "typed"), [
    ("int16", 0.01, 273.15, 0, "0"), ("int16", 0.01, 273.15, 0, "273.15"),
    ("uint16", 0.1, 0.0, 65535, "65535"), ("uint16", 0.1, 0.0, 65535, "6553.5")])
def test_packed_nc_aggregate_advice_masks_the_fill_as_the_run_read_it(
        dtype, scale, offset, fill, typed, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    n_fill = _packed_pair(tmp_path, dtype, scale, offset, fill)
    code, err = run_cli(capsys, "evaluate", "sr.tif", "ref.nc", "e.csv", "--reference-nodata",
                        typed)
    assert code == 0, err
    assert "--reference-nodata (its fill is NaN now)" in err
    written, aggregate = _follow(err, tmp_path)
    lst = rioxarray.open_rasterio(written, masked=True)
    # the fill is NaN in the written file, as the advice says, whichever way it was typed
    # (typed as decoded, 273.15 K / 6553.5 K were written as data)
    assert int(lst.isnull().sum()) == n_fill
    assert float(lst.min()) > 280.0 and float(lst.max()) < 320.0
    code, err = run_cli(capsys, "evaluate", "sr.tif", aggregate.name, "f.csv")
    assert code == 0, err
    # scored as the truth aggregated in Python without its fill (2.34 K for 1.77 K before)
    sr = rioxarray.open_rasterio("sr.tif", masked=True).squeeze(drop=True)
    raw = xr.open_dataset("ref.nc", mask_and_scale=False)["LST"]
    truth = xr.open_dataset("ref.nc")["LST"].where(raw != fill).coarsen(y=4, x=4).mean()
    careful = xlstsr.evaluate(sr, truth.rio.write_crs("EPSG:32631").rio.write_transform(
        sr.rio.transform()))
    assert _rmse(tmp_path / "f.csv") == pytest.approx(float(careful["rmse"]), abs=1e-3)
