"""CLI fixes of probe 47 (C, R2, E): command-line advice where Python's was given. --scale on a
Kelvin file ("drop --scale"), --valid-min above every reference value (named), --nodata nan
(nothing to declare; refused on integers), a folder as INPUT (its own refusal, not "the output
lies inside the input"), a CRS variable not linked by grid_mapping (taken), scaling's
scattered-gap warning and finer-reference warning of evaluate (a command that works), steps
constant at different values (named per step, no single --nodata)."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rioxarray
import xarray as xr
from rasterio.enums import Resampling

import xlstsr
from xlstsr.cli import main

BIN = Path(sys.executable).parent


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().err


@pytest.fixture(scope="module")
def files(s, tmp_path_factory):
    """A Kelvin LST GeoTIFF (one date), its x4 bicubic result and the 250 m truth."""
    d = tmp_path_factory.mktemp("cli47")
    lst = s["lst_1km"].isel(time=0, drop=True)
    lst.rio.to_raster(d / "lst.tif")
    xlstsr.upscale(lst, 4).rio.to_raster(d / "sr.tif")
    s["lst_250m"].isel(time=0, drop=True).rio.to_raster(d / "truth.tif")
    return d


# -- 1. --scale on a file in Kelvin --------------------------------------------------------------

@pytest.mark.parametrize("command", ["upscale", "scaling"])
def test_scale_on_kelvin_file_says_drop_scale(files, tmp_path, capsys, command):
    out = str(tmp_path / ("o.tif" if command == "upscale" else "o.csv"))
    assert main([command, str(files / "lst.tif"), out, "--scale", "0.1"]) == 2
    err = _err(capsys)
    assert "drop --scale" in err
    assert "attrs.pop" not in err and "--mask-out-of-range" not in err  # (masks every pixel)
    assert main([command, str(files / "lst.tif"), out]) == 0  # followed


def test_evaluate_scale_on_kelvin_sr_says_drop_scale_not_the_method(files, tmp_path, capsys):
    out = str(tmp_path / "e.csv")
    args = ["evaluate", str(files / "sr.tif"), str(files / "truth.tif"), out]
    assert main([*args, "--scale", "0.1"]) == 2
    err = _err(capsys)
    assert "drop --scale" in err and "attrs.pop" not in err
    assert "A method's output" not in err  # the method is not at fault
    assert main(args) == 0


# -- 2. --valid-min above every reference value --------------------------------------------------

def test_valid_min_above_every_value_is_named(files, tmp_path, capsys):
    out = str(tmp_path / "e.csv")
    args = ["evaluate", str(files / "sr.tif"), str(files / "truth.tif"), out]
    assert main([*args, "--valid-min", "400"]) == 2
    err = _err(capsys)
    assert "--valid-min 400" in err and "lower --valid-min" in err
    assert "--erode 0" not in err
    advised = re.search(r"`(--valid-min \d+)`", err)[1].split()
    assert main([*args, *advised]) == 0


# -- 3. --nodata nan -----------------------------------------------------------------------------

def test_nodata_nan_is_nothing_to_declare_on_a_float_file(files, tmp_path, capsys):
    assert main(["upscale", str(files / "lst.tif"), str(tmp_path / "o.tif"),
                 "--nodata", "nan"]) == 0
    assert main(["scaling", str(files / "lst.tif"), str(tmp_path / "o.csv"),
                 "--nodata", "nan"]) == 0
    assert "_FillValue" not in _err(capsys)


def test_nodata_nan_on_integer_file_names_the_flag(s, tmp_path, capsys):
    lst = s["lst_1km"].isel(time=0, drop=True)
    dn = (lst / 0.02).fillna(0).round().astype("uint16")
    dn.attrs = {}
    dn.rio.to_raster(tmp_path / "dn.tif")
    args = ["upscale", str(tmp_path / "dn.tif"), str(tmp_path / "o.tif"), "--scale", "0.02"]
    assert main([*args, "--nodata", "nan"]) == 2
    err = _err(capsys)
    assert "--nodata nan" in err and "integers" in err and "_FillValue" not in err
    assert main([*args, "--nodata", "0"]) == 0  # followed


# -- 4. a folder as INPUT ------------------------------------------------------------------------

def test_folder_input_refused_as_a_folder_not_as_containing_the_output(tmp_path, capsys):
    folder = tmp_path / "adir"
    folder.mkdir()
    assert main(["upscale", str(folder), str(folder / "o.tif")]) == 2
    err = _err(capsys)
    assert "lies inside the input" not in err and "not a Zarr store" in err


def test_output_inside_an_input_store_still_refused(s, tmp_path, capsys):
    s["lst_1km"].to_dataset(name="lst").to_zarr(tmp_path / "in.zarr")
    assert main(["upscale", str(tmp_path / "in.zarr"), str(tmp_path / "in.zarr" / "o.tif")]) == 2
    assert "lies inside the input" in _err(capsys)


# -- 5. a CRS variable not linked by grid_mapping ------------------------------------------------

def test_unlinked_crs_variable_is_taken(s, tmp_path):
    lst = s["lst_1km"]
    ds = lst.to_dataset(name="lst")
    ds = ds.reset_coords("spatial_ref")  # a variable, as xr.concat / encoding= leave it
    ds["lst"].attrs.pop("grid_mapping", None)
    ds["lst"].encoding.pop("grid_mapping", None)
    ds.to_netcdf(tmp_path / "cube.nc")
    assert xr.open_dataset(tmp_path / "cube.nc")["lst"].rio.crs is None
    assert main(["upscale", str(tmp_path / "cube.nc"), str(tmp_path / "o.nc"), "--quiet"]) == 0
    out = xr.open_dataset(tmp_path / "o.nc", decode_coords="all")
    assert out["lst"].rio.crs == lst.rio.crs


# -- 6. scattered gaps: a fill that works on the command line ------------------------------------

def test_scattered_gap_warning_gives_a_command_that_works(s, tmp_path, capsys):
    lst = s["lst_250m"].isel(time=0, drop=True)
    rng = np.random.default_rng(0)
    lst.where(rng.random(lst.shape) >= 0.10).rio.to_raster(tmp_path / "speckled.tif")
    assert main(["scaling", str(tmp_path / "speckled.tif"), str(tmp_path / "a.csv")]) == 0
    err = _err(capsys)
    assert "isolated gap pixels" in err
    code = re.search(r"`python -c ('[^']*')`", err)[1]
    subprocess.run([sys.executable, "-c", shlex.split(code)[0]], cwd=tmp_path, check=True)
    # the one-liner writes beside the input under a new name (it wrote ./filled.tif: review 48)
    assert main(["scaling", str(tmp_path / "speckled_filled.tif"), str(tmp_path / "b.csv")]) == 0
    assert "isolated gap pixels" not in _err(capsys)


# -- 7. steps constant at different values -------------------------------------------------------

def test_steps_constant_at_different_values_named_per_step(s, tmp_path, capsys):
    lst = s["lst_1km"]
    two = lst.copy(data=np.stack([np.full(lst.shape[1:], 300.0, np.float32),
                                  np.full(lst.shape[1:], 280.0, np.float32)]))
    two.rename(time="band").assign_coords(band=[1, 2]).rio.to_raster(tmp_path / "two.tif")
    assert main(["scaling", str(tmp_path / "two.tif"), str(tmp_path / "a.csv")]) == 2
    err = _err(capsys)
    assert "300 at band=1, 280 at band=2" in err  # the GeoTIFF's bands, from 1 (review 48)
    assert "--nodata" not in err and "on every valid pixel" not in err


# -- 8. a much finer reference: the command line's aggregation -----------------------------------

def test_finer_reference_warning_gives_a_command_that_works(s, files, tmp_path, capsys):
    truth = s["lst_250m"].isel(time=0, drop=True)
    res = abs(float(truth.x[1] - truth.x[0])) / 4
    truth.rio.reproject(truth.rio.crs, resolution=res, resampling=Resampling.bilinear
                        ).rio.to_raster(tmp_path / "fine.tif")
    out = tmp_path / "e.csv"
    sr = str(files / "sr.tif")
    assert main(["evaluate", sr, str(tmp_path / "fine.tif"), str(out)]) == 0
    err = _err(capsys)
    assert "times finer" in err and "xlstsr.coarsen" in err
    command = shlex.split(re.search(r"`(rio warp [^`]*)`", err)[1])
    subprocess.run([str(BIN / "rio"), *command[1:]], cwd=tmp_path, check=True)
    on_sr = tmp_path / command[3]
    assert rioxarray.open_rasterio(on_sr).shape[1:] == rioxarray.open_rasterio(sr).shape[1:]
    assert main(["evaluate", sr, str(on_sr), str(tmp_path / "e2.csv")]) == 0
    assert "times finer" not in _err(capsys)


# -- review 47d: the lone CRS variable only where it can be the field's; commands that run ---

def test_crs_variable_of_another_variable_or_projected_for_degrees_is_not_taken(s, tmp_path,
                                                                                 capsys):
    lst = s["lst_1km"].isel(time=0, drop=True)
    ny, nx = lst.shape
    ll = xr.DataArray(lst.values, dims=("lat", "lon"), name="lst", attrs={"units": "K"},
                      coords={"lat": 45.2 - 0.01 * (np.arange(ny) + 0.5),
                              "lon": 10.0 + 0.01 * (np.arange(nx) + 0.5)})
    utm = xr.DataArray(0).rio.write_crs("EPSG:32632")["spatial_ref"]
    ds = xr.Dataset({"lst": ll, "crs": ((), 0, dict(utm.attrs))})
    ds.to_netcdf(tmp_path / "ll.nc")
    out = tmp_path / "o.nc"
    # a projected CRS beside lon/lat degrees is not the field's: --crs advised, and it works
    assert main(["upscale", str(tmp_path / "ll.nc"), str(out), "--quiet"]) == 2
    assert "--crs" in _err(capsys)
    assert main(["upscale", str(tmp_path / "ll.nc"), str(out), "--crs", "EPSG:4326",
                 "--quiet"]) == 0


def test_gap_fill_command_masks_a_typed_nodata(s, tmp_path, capsys):
    lst = s["lst_250m"].isel(time=0, drop=True)
    rng = np.random.default_rng(1)
    raw = (lst.where(rng.random(lst.shape) >= 0.10) * 50).fillna(0).astype("int16")
    raw.rio.write_nodata(None).rio.to_raster(tmp_path / "dn.tif")
    flags = ["--nodata", "0", "--scale", "0.02"]
    assert main(["scaling", str(tmp_path / "dn.tif"), str(tmp_path / "a.csv"), *flags]) == 0
    err = _err(capsys)
    code = re.search(r"`python -c ('[^']*')`", err)[1]
    subprocess.run([sys.executable, "-c", shlex.split(code)[0]], cwd=tmp_path, check=True)
    assert main(["scaling", str(tmp_path / "dn_filled.tif"), str(tmp_path / "b.csv"),
                 *flags]) == 0
    assert "isolated gap pixels" not in _err(capsys)


def test_aggregate_command_quotes_a_reference_name(s, files, tmp_path, capsys):
    truth = s["lst_250m"].isel(time=0, drop=True)
    res = abs(float(truth.x[1] - truth.x[0])) / 4
    name = "my ref's fine.tif"
    truth.rio.reproject(truth.rio.crs, resolution=res, resampling=Resampling.bilinear
                        ).rio.to_raster(tmp_path / name)
    sr = str(files / "sr.tif")
    assert main(["evaluate", sr, str(tmp_path / name), str(tmp_path / "e.csv")]) == 0
    command = re.search(r"`(rio warp [^`]*)`", _err(capsys))[1]
    subprocess.run(["sh", "-c", command.replace("rio ", shlex.quote(str(BIN / "rio")) + " ", 1)],
                   cwd=tmp_path, check=True)
    assert (tmp_path / "my ref's fine_on_sr.tif").exists()


def test_python_gap_fill_advice_fills_isolated_gaps_alone(s):
    # speckle beside a large gap: a 3x3 fill of every gap ate the large gap's rims and left its
    # cores isolated (a real SEVIRI series then warned on all 96 steps, not 45)
    lst = s["lst_250m"].isel(time=0, drop=True).astype("float64")
    rng = np.random.default_rng(2)
    sp = lst.where(rng.random(lst.shape) >= 0.08)
    ny, nx = sp.shape
    yy, xx = np.mgrid[:ny, :nx]
    ring = (np.hypot(yy - ny / 2, xx - nx / 2) < ny / 4) & ((yy + xx) % 3 != 0)
    sp = sp.where(~ring)
    with pytest.warns(UserWarning, match="isolated gap pixels") as w:
        xlstsr.scaling_stats(sp)
    code = re.search(r"e\.g\. `(lst = lst\.fillna[^`]*)`", str(w[0].message))[1]
    env = {"lst": sp}
    exec(code, env)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no scattered-gap warning left
        xlstsr.scaling_stats(env["lst"])
    assert int(env["lst"].isnull().sum()) < int(sp.isnull().sum())


def test_crs_variable_a_qc_layer_names_is_taken_for_the_lst(s, tmp_path):
    # a QC layer of the same grid names the file's one CRS variable, the LST does not: taken
    # (review 47g: refused as "no CRS" once such a CRS was left to the QC layer)
    lst = s["lst_1km"].isel(time=0, drop=True)
    crs = dict(lst["spatial_ref"].attrs)
    ds = xr.Dataset({"LST": (lst.dims, lst.values, {"units": "K"}),
                     "QC": (lst.dims, np.zeros(lst.shape, np.uint8), {"grid_mapping": "crs"}),
                     "crs": ((), 0, crs)},
                    coords={"y": lst.y.values, "x": lst.x.values})
    ds.to_netcdf(tmp_path / "gm.nc")
    assert main(["upscale", str(tmp_path / "gm.nc"), str(tmp_path / "o.nc"), "--variable",
                 "LST", "--quiet"]) == 0
    out = xr.open_dataset(tmp_path / "o.nc", decode_coords="all")
    assert out["LST"].rio.crs == lst.rio.crs
