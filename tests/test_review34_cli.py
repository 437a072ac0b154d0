"""Review 34 (b, c): the command line's argv handling and its advice.

Found: ``xlstsr --verb upscale ...`` (argparse's abbreviation of --verbose) was refused as
unrecognized; a misplaced option whose value is a command name (``xlstsr --variable demo
upscale ...``) picked the wrong command and lost its value; ``--reference-mask ""`` was not
refused as empty; ``--method unet`` (bundled weights) got argparse's bare "invalid choice"; a
NetCDF with row/col dims or wrapped longitudes got Python-only advice; ``--crs EPSG:4326`` on a
file in metres blamed "the CRS written on it" with ``da.rio.write_crs``; the crop advice of a
lat/lon grid that is not whole blocks named y/x.
"""

from __future__ import annotations

import re
import shlex
import warnings

import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr
from helpers import make_lst, run_cli

from xlstsr.errors import GridError


def _lst_tif(path, size=16, res=1000.0, crs="EPSG:32631"):
    rng = np.random.default_rng(0)
    make_lst((300 + rng.normal(0, 2, (size, size))).astype("f4"), res=res, crs=crs,
             units="K").rio.to_raster(path)
    return path


def _no_crs_tif(path, transform, size=16):
    prof = dict(driver="GTiff", width=size, height=size, count=1, dtype="float32",
                transform=transform)
    with rasterio.open(path, "w", **prof) as dst:
        dst.write((300 + np.random.default_rng(0).normal(0, 2, (1, size, size))).astype("f4"))
    return path


# -- options before the command -----------------------------------------------------------------

def test_abbreviated_global_option_before_the_command_is_accepted(tmp_path, capsys):
    src = _lst_tif(tmp_path / "lst.tif")
    rc, err = run_cli(capsys, "--verb", "upscale", src, tmp_path / "o.tif", "--quiet")
    assert rc == 0, err
    assert (tmp_path / "o.tif").exists()


@pytest.mark.parametrize("argv, command", [
    (["--variable", "demo", "upscale", "lst.tif", "o.tif"], "upscale"),
    (["--guide", "train", "upscale", "lst.tif", "o.tif"], "upscale"),
    (["--log-dir", "train", "train", "--lst", "lst.zarr", "--out", "m.pt"], "train"),
    (["--var", "demo", "upscale", "lst.tif", "o.tif"], "upscale"),  # an abbreviated one
])
def test_misplaced_option_whose_value_is_a_command_name(argv, command, capsys):
    rc, err = run_cli(capsys, *argv)
    assert rc == 2
    assert f"`xlstsr {command} ... {argv[0]} {argv[1]}`" in err, err


def test_empty_reference_mask_is_refused_by_name(tmp_path, capsys):
    rc, err = run_cli(capsys, "evaluate", tmp_path / "sr.tif", tmp_path / "truth.tif",
                      tmp_path / "e.csv", "--reference-mask", tmp_path / "m.tif",
                      "--reference-mask", "")
    assert rc == 2
    assert "--reference-mask is empty" in err, err


# -- bundled weights given as the method --------------------------------------------------------

@pytest.mark.parametrize("name", ["unet", "mrunet", "fast"])
def test_bundled_weights_as_method_advises_model_and_the_advice_runs(name, tmp_path, capsys):
    pytest.importorskip("torch")
    from xlstsr.nn.weights import list_weights

    info = list_weights().get(name)
    if info is None:
        pytest.skip(f"bundled weights {name!r} not installed (make weights)")
    src = _lst_tif(tmp_path / "lst.tif", size=8)
    guide = tmp_path / "ndvi.tif"
    rng = np.random.default_rng(1)
    make_lst(rng.uniform(0.1, 0.8, (32, 32)).astype("f4"), res=250.0).rio.to_raster(guide)
    out = tmp_path / "o.tif"
    rc, err = run_cli(capsys, "upscale", src, out, "--method", name.upper(), "--quiet")
    assert rc == 2 and "invalid choice" not in err, err
    advice = re.search(r"--method (\w+) --model (\w+)(?: --guide GUIDE)?", err)
    assert advice, err
    assert advice[1] == ("disr" if info["n_guide"] > 0 else "sisr") and advice[2] == name
    assert ("--guide GUIDE" in advice[0]) == (info["n_guide"] > 0)
    argv = shlex.split(advice[0].replace("GUIDE", str(guide)))
    rc, err = run_cli(capsys, "upscale", src, out, *argv, "--quiet")
    assert rc == 0, err
    assert out.exists()


# -- grid advice on the command line ------------------------------------------------------------

def test_rowcol_netcdf_gets_the_command_line_way(tmp_path, capsys):
    da = make_lst(np.full((1, 8, 8), 300.0, "f4"), units="K")
    da = da.assign_coords(time=pd.date_range("2020-07-01", periods=1))
    src = tmp_path / "rc.nc"
    da.rename(y="row", x="col").to_dataset(name="LST").to_netcdf(src)
    rc, err = run_cli(capsys, "upscale", src, tmp_path / "o.nc")
    assert rc == 2
    assert "set_spatial_dims" in err  # Python's advice kept
    assert "ncrename -d row,y -v .row,y -d col,x -v .col,x" in err, err
    assert "ncatted -a axis,row,o,c,Y -a axis,col,o,c,X" in err, err
    # what ncatted writes (the CF axis attributes) is what the command then reads
    ds = xr.open_dataset(src).load()
    ds["row"].attrs["axis"], ds["col"].attrs["axis"] = "Y", "X"
    ds.to_netcdf(tmp_path / "axis.nc")
    rc, err = run_cli(capsys, "upscale", tmp_path / "axis.nc", tmp_path / "o.nc", "--quiet")
    assert rc == 0, err


@pytest.mark.parametrize("lon, box", [
    (np.r_[359.955 + 0.01 * np.arange(5), 0.005 + 0.01 * np.arange(15)], "-180,180"),
    (np.r_[179.955 + 0.01 * np.arange(5), -179.995 + 0.01 * np.arange(15)], "0,360"),
])
def test_wrapped_longitude_netcdf_gets_the_command_line_way(lon, box, tmp_path, capsys):
    lat = 40 + 0.01 * (15 - np.arange(16)) + 0.005
    src = tmp_path / "wrap.nc"
    xr.DataArray(np.full((1, 16, 20), 300.0, "f4"), dims=("time", "lat", "lon"),
                 coords={"time": pd.date_range("2020-07-01", periods=1), "lat": lat,
                         "lon": lon}, name="LST", attrs={"units": "K"}
                 ).rio.write_crs(4326).to_dataset().to_netcdf(src)
    rc, err = run_cli(capsys, "upscale", src, tmp_path / "o.nc")
    assert rc == 2
    assert "assign_coords(lon=" in err  # Python's advice kept
    assert f"cdo sellonlatbox,{box},-90,90 in.nc out.nc" in err, err


# -- a --crs that does not fit the coordinates --------------------------------------------------

def test_geographic_crs_flag_on_metres_names_the_flag(tmp_path, capsys):
    src = _no_crs_tif(tmp_path / "m.tif", make_lst(np.zeros((16, 16))).rio.transform())
    rc, err = run_cli(capsys, "upscale", src, tmp_path / "o.tif", "--quiet",
                      "--crs", "EPSG:4326")
    assert rc == 2
    assert "--crs EPSG:4326 is a geographic CRS" in err, err
    assert "written on it" not in err and "write_crs" not in err, err
    advised = re.search(r"`--crs (EPSG:\d+)`", err)
    assert advised, err
    rc, err = run_cli(capsys, "upscale", src, tmp_path / "o.tif", "--quiet",
                      "--crs", advised[1])
    assert rc == 0, err


def test_projected_crs_flag_on_degrees_names_the_flag(tmp_path, capsys):
    from affine import Affine

    src = _no_crs_tif(tmp_path / "d.tif", Affine(0.01, 0, 10.0, 0, -0.01, 40.0))
    rc, err = run_cli(capsys, "upscale", src, tmp_path / "o.tif", "--quiet",
                      "--crs", "EPSG:32631")
    assert rc == 2
    assert "--crs EPSG:32631 is a projected CRS" in err and "`--crs EPSG:4326`" in err, err


# -- the crop advice of a grid that is not whole blocks, in the user's dim names ----------------

def test_not_whole_blocks_advice_uses_the_user_dims():
    from xlstsr.grid import coarse_grid_attrs

    lat = 40.005 + 0.01 * np.arange(16)[::-1]
    lon = 10.005 + 0.01 * np.arange(21)
    da = xr.DataArray(np.full((16, 21), 300.0, "f4"), dims=("lat", "lon"),
                      coords={"lat": lat, "lon": lon}, attrs={"units": "K"}).rio.write_crs(4326)
    with pytest.raises(GridError) as info:
        coarse_grid_attrs(da.rename(lat="y", lon="x"), 2, user_dims={"y": "lat", "x": "lon"})
    code = re.search(r"`(da\.isel\([^`]+\))`", str(info.value))
    assert code and "lat=" in code[1] and "lon=" in code[1], info.value
    cropped = eval(code[1], {"da": da})  # the advice, pasted on the user's array
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = cropped.lstsr.coarsen(2)
    assert out.sizes == {"lat": 8, "lon": 10}
    with pytest.raises(GridError, match=r"da\.isel\(y=slice"):  # without: the dims it has
        coarse_grid_attrs(da.rename(lat="y", lon="x"), 2)


@pytest.mark.parametrize("command", ["upscale", "scaling"])
@pytest.mark.parametrize("band", ["0", "-1"])
def test_band_below_one_is_refused_by_the_parser(tmp_path, capsys, command, band):
    # bands count from 1 (as GDAL's): 0 or a negative band was passed on to the reader
    rc, err = run_cli(capsys, command, tmp_path / "in.tif", tmp_path / "out.tif", "--band", band)
    assert rc == 2
    assert "--band" in err and "must be >= 1" in err, err
