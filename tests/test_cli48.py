"""CLI fixes of probe 48 (R3, R2/7): a lone geographic CRS variable beside metres (not taken:
--crs advised), the aggregation advice for a .nc reference GDAL cannot place, scaling's steps
named as the file counts them, a typed --truth-scale/--reference-scale or --offset on Kelvin
("drop" it), a folder of HDF granules as INPUT, the gap-fill one-liner's output name, and
evaluate's --reference-nodata as the stored value (as upscale's --nodata)."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rioxarray
import xarray as xr
from pyproj import CRS

import xlstsr
from xlstsr.cli import main

BIN = Path(sys.executable).parent


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().err


@pytest.fixture(scope="module")
def files(s, tmp_path_factory):
    """A Kelvin LST GeoTIFF (one date), its x4 bicubic result and the 250 m truth."""
    d = tmp_path_factory.mktemp("cli48")
    lst = s["lst_1km"].isel(time=0, drop=True)
    lst.rio.to_raster(d / "lst.tif")
    xlstsr.upscale(lst, 4).rio.to_raster(d / "sr.tif")
    truth = s["lst_250m"].isel(time=0, drop=True)
    truth.rio.to_raster(d / "truth.tif")
    bare = truth.copy()
    bare.attrs = {}  # units not declared
    bare.rio.to_raster(d / "truth_nounits.tif")
    return d


# -- 1. a lone geographic CRS variable beside coordinates in metres ------------------------------

def test_lone_geographic_crs_beside_metres_is_not_taken_and_crs_is_advised(s, tmp_path,
                                                                           capsys):
    lst = s["lst_1km"].isel(time=0, drop=True)
    ds = xr.Dataset({"LST": (lst.dims, lst.values, {"units": "K"}),
                     "crs": ((), 0, {"crs_wkt": CRS.from_epsg(4326).to_wkt()})},
                    coords={"y": lst.y.values, "x": lst.x.values})
    ds.to_netcdf(tmp_path / "m.nc")
    out = tmp_path / "o.tif"
    assert main(["upscale", str(tmp_path / "m.nc"), str(out), "--quiet"]) == 2
    err = _err(capsys)
    assert "--crs" in err and "written on it" not in err
    # followed: the CRS its coordinates are in
    assert main(["upscale", str(tmp_path / "m.nc"), str(out), "--crs",
                 lst.rio.crs.to_wkt(), "--quiet"]) == 0


# -- 4. a typed --truth-scale / --reference-scale on Kelvin --------------------------------------

@pytest.mark.parametrize("truth", ["truth.tif", "truth_nounits.tif"])
def test_reference_scale_on_kelvin_says_drop_it_not_degc(files, tmp_path, capsys, truth):
    # without units, "looks like degrees Celsius" came first and offered --reference-units
    # degC: followed, RMSE 11 K for 2.4 K, exit 0
    args = ["evaluate", str(files / "sr.tif"), str(files / truth), str(tmp_path / "e.csv")]
    assert main([*args, "--reference-scale", "0.1"]) == 2
    err = _err(capsys)
    assert "drop --reference-scale" in err and "--reference-scale 1" not in err
    # units K declared: Kelvin only; without units, stored ~300 may be degC x 10 too (SEVIRI:
    # review 48d/1), both readings offered
    assert ("degC" in err) == (truth == "truth_nounits.tif")
    assert main(args) == 0  # followed


@pytest.mark.parametrize("truth", ["truth.tif", "truth_nounits.tif"])
def test_truth_scale_on_kelvin_says_drop_it_not_degc(files, tmp_path, capsys, truth):
    args = ["train", "--lst", str(files / "lst.tif"), "--truth", str(files / truth),
            "--mode", "supervised", "--out", str(tmp_path / "m.pt"), "--epochs", "1"]
    assert main([*args, "--truth-scale", "0.1"]) == 2
    err = _err(capsys)
    assert "drop --truth-scale" in err and "trains on valid pixels only" not in err
    assert ("degC" in err) == (truth == "truth_nounits.tif")  # as above


# -- 6. a typed --offset on Kelvin ---------------------------------------------------------------

@pytest.mark.parametrize("command", ["upscale", "scaling"])
def test_offset_on_kelvin_file_says_drop_offset(files, tmp_path, capsys, command):
    out = str(tmp_path / ("o.tif" if command == "upscale" else "o.csv"))
    assert main([command, str(files / "lst.tif"), out, "--offset", "273.15"]) == 2
    err = _err(capsys)
    assert "drop --offset" in err
    assert "attrs.pop" not in err and "--mask-out-of-range" not in err
    assert main([command, str(files / "lst.tif"), out]) == 0  # followed


# -- 3. scaling names a GeoTIFF's steps as its bands (from 1), a cube's by its labels ------------

def test_scaling_names_geotiff_bands_from_1(s, tmp_path, capsys):
    lst = s["lst_1km"].rename(time="band").assign_coords(band=[1, 2])
    lst.copy(data=np.stack([lst.values[0], np.full(lst.shape[1:], 300.0, np.float32)])
             ).rio.to_raster(tmp_path / "k3.tif")
    assert main(["scaling", str(tmp_path / "k3.tif"), str(tmp_path / "a.csv")]) == 0
    assert "steps band=2 of the field are constant" in _err(capsys)
    two = lst.copy(data=np.stack([np.full(lst.shape[1:], 290.0, np.float32),
                                  np.full(lst.shape[1:], 300.0, np.float32)]))
    two.rio.to_raster(tmp_path / "k4.tif")
    assert main(["scaling", str(tmp_path / "k4.tif"), str(tmp_path / "b.csv")]) == 2
    assert "290 at band=1, 300 at band=2" in _err(capsys)


def test_scaling_stats_names_a_cube_step_by_its_date(s):
    lst = s["lst_1km"].copy()
    lst[1] = 300.0
    with pytest.warns(UserWarning, match=r"steps time=2020-07-02 of the field are constant"):
        xlstsr.scaling_stats(lst)


# -- 5. a folder of HDF granules as INPUT --------------------------------------------------------

def test_granule_folder_is_told_to_pass_one_granule_and_that_works(real_granule, tmp_path,
                                                                   capsys):
    folder = tmp_path / "granules"
    folder.mkdir()
    (folder / real_granule.name).symlink_to(real_granule)
    out = tmp_path / "o.tif"
    assert main(["upscale", str(folder), str(out), "--method", "bicubic"]) == 2
    err = _err(capsys)
    advised = re.search(r"pass one granule in its place \(e\.g\. `([^`]*)`\), with "
                        r"`(--variable \w+)`", err)
    assert advised, err
    assert main(["upscale", *shlex.split(advised[1]), str(out), *advised[2].split(),
                 "--method", "bicubic", "--quiet"]) == 0


# -- 7. the gap-fill one-liner writes beside the input, never over a file ------------------------

def test_gap_fill_command_writes_a_new_file_beside_the_input(s, tmp_path, capsys):
    lst = s["lst_250m"].isel(time=0, drop=True)
    rng = np.random.default_rng(0)
    sub = tmp_path / "in"
    sub.mkdir()
    lst.where(rng.random(lst.shape) >= 0.10).rio.to_raster(sub / "filled.tif")
    (sub / "filled_filled.tif").write_bytes(b"mine")  # a file of the user's
    before = (sub / "filled.tif").read_bytes()
    assert main(["scaling", str(sub / "filled.tif"), str(tmp_path / "a.csv")]) == 0
    err = _err(capsys)
    code = shlex.split(re.search(r"`python -c ('[^`]*')`", err)[1])[0]
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True)
    assert (sub / "filled.tif").read_bytes() == before  # the input kept
    assert (sub / "filled_filled.tif").read_bytes() == b"mine"  # and the user's file
    new = sub / "filled_filled_2.tif"
    assert main(["scaling", str(new), str(tmp_path / "b.csv")]) == 0
    assert "isolated gap pixels" not in _err(capsys)
    # run again: refused, the file it wrote kept
    done = new.read_bytes()
    again = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                           text=True)
    assert again.returncode != 0 and "exists" in again.stderr
    assert new.read_bytes() == done


# -- 2. the aggregation advice for a .nc reference whose CRS GDAL does not see -------------------

def test_aggregate_advice_for_a_nc_with_a_lone_crs_variable_works(s, files, tmp_path, capsys):
    if not (BIN / "rio").exists():
        pytest.skip("rasterio's rio command is not installed")
    from rasterio.enums import Resampling

    truth = s["lst_250m"].isel(time=0, drop=True)
    res = abs(float(truth.x[1] - truth.x[0])) / 4
    fine = truth.rio.reproject(truth.rio.crs, resolution=res, resampling=Resampling.bilinear)
    crs = dict(fine["spatial_ref"].attrs)
    xr.Dataset({"LST": (("y", "x"), fine.values, {"units": "K"}),
                "crs": ((), 0, crs)},  # named by no grid_mapping: GDAL does not see it
               coords={"y": fine.y.values, "x": fine.x.values}).to_netcdf(tmp_path / "ref.nc")
    sr = str(files / "sr.tif")
    assert main(["evaluate", sr, str(tmp_path / "ref.nc"), str(tmp_path / "e.csv")]) == 0
    err = _err(capsys)
    python = re.search(r"in Python, `([^`]*)`", err)[1]
    subprocess.run([sys.executable, "-c", f"import xarray as xr, rioxarray; {python}"],
                   cwd=tmp_path, check=True)
    command = shlex.split(re.search(r"`(rio warp [^`]*)`", err)[1])
    subprocess.run([str(BIN / "rio"), *command[1:]], cwd=tmp_path, check=True)
    on_sr = rioxarray.open_rasterio(tmp_path / command[3], masked=True)
    assert on_sr.shape[1:] == rioxarray.open_rasterio(sr).shape[1:]
    assert float((on_sr > 200).mean()) > 0.5  # placed: not the all-0 file of before
    assert main(["evaluate", sr, str(tmp_path / command[3]), str(tmp_path / "e2.csv")]) == 0
    assert "times finer" not in _err(capsys)


# -- 8. (R2/7) evaluate --reference-nodata as stored, as upscale's --nodata ----------------------

def test_reference_nodata_is_the_stored_value_of_a_packed_file(s, sr, tmp_path, capsys):
    ref = s["lst_250m"].copy()
    ref[0, :4, :] = np.nan
    ref = ref.fillna(65535 * 0.02)  # gaps stored as uint16's 65535 (x 0.02: 1310.7 K)
    ref.to_dataset(name="lst").to_netcdf(tmp_path / "ref.nc", encoding={"lst": {
        "dtype": "uint16", "scale_factor": 0.02, "_FillValue": None}})
    assert int(xr.open_dataset(tmp_path / "ref.nc", mask_and_scale=False)["lst"].max()) == 65535
    sr.to_dataset(name="lst").to_netcdf(tmp_path / "sr.nc")
    args = ["evaluate", str(tmp_path / "sr.nc"), str(tmp_path / "ref.nc")]
    # as stored (its help, upscale's --nodata): refused before, the decoded value taken
    assert main([*args, str(tmp_path / "a.csv"), "--reference-nodata", "65535"]) == 0
    # the decoded value, advised before, still works: the same scores
    assert main([*args, str(tmp_path / "b.csv"), "--reference-nodata", "1310.7"]) == 0
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()
    assert main(["upscale", str(tmp_path / "ref.nc"), str(tmp_path / "up.nc"), "--nodata",
                 "65535"]) == 0
