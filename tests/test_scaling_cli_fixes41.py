"""Fixes of probe 41: scaling on a lazy cube whose CF grid mapping is named `crs` (GDAL's and most
CF writers' name), and NetCDF files whose x/y are 2-D arrays (the CLI's rename advice, followed,
crashed)."""

import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401
import xarray as xr

import xlstsr
from xlstsr.cli import main

X1 = 1e6 + 1000 * (np.arange(16) + 0.5)
Y1 = 5.5e6 - 1000 * (np.arange(16) + 0.5)
TIME = np.array(["2020-01-01", "2020-01-02"], "datetime64[ns]")


def run(capsys, *argv):
    """``xlstsr argv...``: (exit status, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _values():
    return (300 + np.random.default_rng(0).normal(0, 2, (2, 16, 16))).astype("float32")


@pytest.fixture
def crs_named(tmp_path):
    """A cube whose grid mapping variable is `crs`, written to NetCDF."""
    a = xr.DataArray(_values(), dims=("time", "y", "x"), coords={"time": TIME, "y": Y1, "x": X1},
                     name="LST", attrs={"units": "K"}
                     ).rio.write_crs("EPSG:32633", grid_mapping_name="crs")
    path = tmp_path / "lst.nc"
    a.to_netcdf(path)
    return a, path


def test_scaling_stats_lazy_crs_named_grid_mapping(crs_named):
    a, path = crs_named
    # the map_blocks template had spatial_ref, the blocks `crs`: xarray's raw ValueError
    lazy = xlstsr.scaling_stats(a.chunk({"time": 1}), lags=(1, 2), factors=(1, 2, 4)).compute()
    eager = xlstsr.scaling_stats(a, lags=(1, 2), factors=(1, 2, 4))
    xr.testing.assert_allclose(lazy["structure_function"], eager["structure_function"])
    opened = xr.open_dataset(path, chunks={"time": 1}, decode_coords="all")["LST"]
    assert "crs" in opened.coords
    again = xlstsr.scaling_stats(opened, lags=(1, 2), factors=(1, 2, 4)).compute()
    xr.testing.assert_allclose(again["structure_function"], eager["structure_function"])


def test_cli_scaling_crs_named_grid_mapping(tmp_path, capsys, crs_named):
    _, path = crs_named
    code, _, err = run(capsys, "scaling", path, tmp_path / "s.csv", "--lags", "1,2",
                       "--factors", "1,2,4")
    assert code == 0, err
    assert (tmp_path / "s.csv").stat().st_size > 0


def _xy2d(tmp_path):
    """The same field written four ways: 1-D x/y (the reference), 2-D x/y arrays over dims
    rows/cols (as GDAL/QGIS/MATLAB exports write them), and the two files the CLI's advice for
    rows/cols makes: `ncrename -d rows,y -v .rows,y -d cols,x -v .cols,x` (dims renamed onto the
    2-D coordinates' names) and `ncatted -a axis,rows,o,c,Y -a axis,cols,o,c,X` (CF axis marks
    on the dims' index coordinates)."""
    wkt = rasterio.crs.CRS.from_epsg(32633).to_wkt()
    gm = {"crs_wkt": wkt, "spatial_ref": wkt}
    X, Y = np.meshgrid(X1, Y1)
    ds = xr.Dataset({"LST": (("time", "rows", "cols"), _values(),
                             {"units": "K", "grid_mapping": "crs"}), "crs": ((), 0, gm)},
                    coords={"time": TIME, "x": (("rows", "cols"), X), "y": (("rows", "cols"), Y)})
    files = {"ref": ds.drop_vars(["x", "y"]).rename(rows="y", cols="x").assign_coords(x=X1, y=Y1),
             "raw": ds, "ncrename": ds.rename({"rows": "y", "cols": "x"})}
    axis = ds.copy()
    axis["rows"] = ("rows", np.arange(16), {"axis": "Y"})
    axis["cols"] = ("cols", np.arange(16), {"axis": "X"})
    files["ncatted"] = axis
    paths = {}
    for k, f in files.items():
        paths[k] = tmp_path / f"{k}.nc"
        f.to_netcdf(paths[k])
    return paths


def test_cli_2d_xy_files_and_the_advised_fixes_upscale(tmp_path, capsys):
    paths = _xy2d(tmp_path)
    outs = {}
    for k, p in paths.items():
        outs[k] = tmp_path / f"out_{k}.nc"
        code, _, err = run(capsys, "upscale", p, outs[k], "--factor", "2")
        # the advised renames crashed with a raw ValueError (numpy's truth value, xarray's
        # "the new name 'y' conflicts"); the 2-D arrays are a regular grid: read as 1-D
        assert code == 0, (k, err)
    ref = xr.open_dataset(outs["ref"], decode_coords="all")
    for k in ("raw", "ncrename", "ncatted"):
        xr.testing.assert_identical(xr.open_dataset(outs[k], decode_coords="all"), ref)


def test_cli_2d_xy_scaling_follows_the_advice(tmp_path, capsys):
    paths = _xy2d(tmp_path)
    code, _, err = run(capsys, "scaling", paths["ncrename"], tmp_path / "s.csv", "--lags", "1,2",
                       "--factors", "1,2,4")
    assert code == 0, err


def test_cli_2d_xy_rotated_grid_refused_with_a_fix(tmp_path, capsys):
    wkt = rasterio.crs.CRS.from_epsg(32633).to_wkt()
    i, j = np.meshgrid(np.arange(16) + 0.5, np.arange(16) + 0.5)
    c, s = np.cos(0.3), np.sin(0.3)  # a grid rotated by 0.3 rad: no 1-D x and y describe it
    X, Y = 1e6 + 1000 * (c * i - s * j), 5.5e6 - 1000 * (s * i + c * j)
    ds = xr.Dataset({"LST": (("time", "rows", "cols"), _values(),
                             {"units": "K", "grid_mapping": "crs"}),
                     "crs": ((), 0, {"crs_wkt": wkt, "spatial_ref": wkt})},
                    coords={"time": TIME, "x": (("rows", "cols"), X), "y": (("rows", "cols"), Y)})
    p = tmp_path / "rot.nc"
    ds.to_netcdf(p)
    code, _, err = run(capsys, "upscale", p, tmp_path / "o.nc", "--factor", "2")
    assert code == 2 and "Traceback" not in err
    assert "not a regular north-up grid" in err and "regrid" in err
