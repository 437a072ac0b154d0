"""Thirteenth round of bad inputs, the command line (session 17).

Found: a failing ``upscale ... out.zarr --overwrite`` deleted the earlier good store; an
``evaluate`` of a 2-D sr against a one-date reference wrote an empty CSV and exited 0; a .tif
output lost its dates (bands 1..N); lat/lon NetCDFs were refused with a Python-only fix; a
(time, band, y, x) cube to .tif failed after the work with rioxarray's traceback, and to .zarr
a band of length 1 was refused; ``--scheduler thread`` hung 20 s at exit; messages named
Python arguments (``reference_nodata=``, ``mode='w'``, ``band=``); scaling's messages read
"use.csv or.nc".
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401
import xarray as xr
import zarr
from helpers import run_cli

import xlstsr
from xlstsr.cli import _cli_hints

_run = run_cli


def _field(n=32, dims=("y", "x"), res=250.0, crs="EPSG:32631", seed=0):
    y0, x0 = (40.32, 10.0) if crs == "EPSG:4326" else (5e6, 0.0)
    v = (300 + np.random.default_rng(seed).standard_normal((n, n))).astype("float32")
    return xr.DataArray(v, dims=dims, attrs={"units": "K"}, name="lst", coords={
        dims[0]: y0 - res * (np.arange(n) + 0.5), dims[1]: x0 + res * (np.arange(n) + 0.5),
    }).rio.write_crs(crs)


def test_a_failed_overwrite_keeps_the_earlier_store(tmp_path, capsys):
    good = _field()
    good.to_dataset().to_netcdf(tmp_path / "a.nc")
    celsius = good - 273.15  # no units attribute: found lazily, once the store was replaced
    celsius.name = "lst"
    celsius.to_dataset().to_netcdf(tmp_path / "c.nc")
    out = tmp_path / "sr.zarr"
    assert _run(capsys, "upscale", tmp_path / "a.nc", out, "--quiet")[0] == 0
    before = xr.open_zarr(out, consolidated=False)["lst"].values
    code, err = _run(capsys, "upscale", tmp_path / "c.nc", out, "--quiet", "--overwrite")
    assert code == 2 and "Celsius" in err and "kept as it was" in err
    np.testing.assert_array_equal(xr.open_zarr(out, consolidated=False)["lst"].values, before)
    assert [p.name for p in tmp_path.iterdir() if "replaced" in p.name] == []
    # a good rerun replaces it, and leaves nothing set aside
    assert _run(capsys, "upscale", tmp_path / "a.nc", out, "--quiet", "--overwrite",
                "--factor", "2")[0] == 0
    assert zarr.open_array(out, path="lst").shape == (64, 64)
    assert [p.name for p in tmp_path.iterdir() if "replaced" in p.name] == []


def test_an_all_cloud_overwrite_keeps_the_earlier_store(tmp_path):
    lst = _field().expand_dims(time=2).copy()
    store = tmp_path / "sr.zarr"
    xlstsr.upscale_to_zarr(lst, store, 4, progress=False)
    with pytest.raises(xlstsr.errors.AllNaNError, match="kept as it was"):
        xlstsr.upscale_to_zarr((lst * np.nan).chunk(), store, 4, mode="w", progress=False)
    assert np.isfinite(xr.open_zarr(store, consolidated=False)["lst"].values).all()


def test_a_one_date_reference_against_a_2d_sr_fills_the_table(tmp_path, capsys):
    sr = _field()
    sr.rio.to_raster(tmp_path / "sr.tif")
    ref = (sr + 0.5).expand_dims(time=pd.to_datetime(["2020-01-02"]))
    ref.to_dataset().to_netcdf(tmp_path / "ref.nc")
    assert _run(capsys, "evaluate", tmp_path / "sr.tif", tmp_path / "ref.nc",
                tmp_path / "s.csv", "--factor", "4")[0] == 0
    table = pd.read_csv(tmp_path / "s.csv")
    assert list(table["time"]) == ["2020-01-02"] and table["rmse"].iloc[0] == pytest.approx(0.5)


def test_a_tif_output_keeps_its_dates(tmp_path, capsys):
    days = pd.to_datetime(["2020-07-01", "2020-07-02", "2020-07-04"])
    cube = xr.concat([_field(seed=i) for i in range(3)], "time").assign_coords(time=days)
    cube.to_dataset().to_netcdf(tmp_path / "cube.nc")
    assert _run(capsys, "upscale", tmp_path / "cube.nc", tmp_path / "sr.tif", "--quiet")[0] == 0
    back = xlstsr.io.open_cog(tmp_path / "sr.tif")
    assert back.dims == ("time", "y", "x") and list(back["time"].values) == list(days.values)
    one = xlstsr.io.open_cog(tmp_path / "sr.tif", band=3)
    assert one.dims == ("y", "x") and one["time"].values == days.values[2]
    cube.isel(time=[1]).to_dataset().to_netcdf(tmp_path / "one.nc")
    assert _run(capsys, "upscale", tmp_path / "one.nc", tmp_path / "one.tif", "--quiet")[0] == 0
    assert xlstsr.io.open_cog(tmp_path / "one.tif")["time"].values == days.values[1]
    # scored against the dated truth date by date (given in another order), not refused for
    # its 'band' dim
    truth = cube.lstsr.upscale(4) + 0.5 * np.arange(1, 4)[:, None, None]
    truth.assign_attrs(units="K").isel(time=[2, 0, 1]).to_dataset().to_netcdf(tmp_path / "r.nc")
    assert _run(capsys, "evaluate", tmp_path / "sr.tif", tmp_path / "r.nc",
                tmp_path / "s.csv")[0] == 0
    table = pd.read_csv(tmp_path / "s.csv")
    assert list(table["time"]) == ["2020-07-01", "2020-07-02", "2020-07-04"]
    np.testing.assert_allclose(table["rmse"], [0.5, 1.0, 1.5], atol=1e-3)


def test_lat_lon_files_are_taken_as_the_python_api_takes_them(tmp_path, capsys):
    da = _field(dims=("lat", "lon"), res=0.01, crs="EPSG:4326")
    da.to_dataset().to_netcdf(tmp_path / "lst.nc")
    sr = xlstsr.upscale(da, 4, "bicubic")
    sr.to_dataset(name="lst").to_netcdf(tmp_path / "sr.nc")
    (sr + 0.5).assign_attrs(units="K").to_dataset(name="lst").to_netcdf(tmp_path / "ref.nc")
    for argv in (("upscale", "lst.nc", "out.nc", "--quiet", "--chunks", "16"),
                 ("scaling", "lst.nc", "stats.csv"), ("evaluate", "sr.nc", "ref.nc", "s.csv")):
        code, err = _run(capsys, argv[0], *(tmp_path / a if "." in a and not a.startswith("-")
                                            else a for a in argv[1:]))
        assert code == 0, err
    assert set(xr.open_dataset(tmp_path / "out.nc")["lst"].dims) == {"lat", "lon"}


def test_band_dims_beside_time(tmp_path, capsys):
    days = pd.to_datetime(["2020-07-01", "2020-07-02"])
    two = xr.concat([xr.concat([_field(seed=i), _field(seed=i + 5)], "band") for i in range(2)],
                    "time").assign_coords(time=days, band=[1, 2])
    two.to_dataset().to_netcdf(tmp_path / "two.nc")
    code, err = _run(capsys, "upscale", tmp_path / "two.nc", tmp_path / "o.tif", "--quiet")
    assert code == 2 and "one stack of bands" in err and "'band': 2" in err
    assert not (tmp_path / "o.tif").exists()
    two.isel(band=[0]).to_dataset().to_netcdf(tmp_path / "one.nc")
    assert _run(capsys, "upscale", tmp_path / "one.nc", tmp_path / "o.zarr", "--quiet")[0] == 0
    out = xr.open_zarr(tmp_path / "o.zarr", consolidated=False)["lst"]
    assert out.dims == ("time", "y", "x") and out.sizes["time"] == 2


def test_a_misspelt_scheduler_is_refused_at_once(tmp_path, capsys):
    _field().to_dataset().to_netcdf(tmp_path / "lst.nc")
    code, err = _run(capsys, "upscale", tmp_path / "lst.nc", tmp_path / "o.nc", "--scheduler",
                     "thread")
    assert code == 2 and "did you mean 'threads'" in err


@pytest.mark.parametrize("command, message, flag", [
    ("evaluate", "pass `reference_nodata=0` to evaluate", "`--reference-nodata 0`"),
    ("evaluate", "valid_min=300 is not below valid_max=250", "`--valid-min 300`"),
    ("upscale", "a.tif has no band 4 (it has 3): pass `band=` 1 to 3.", "`--band 1 to 3`"),
    ("upscale", "resume with the original arguments, or pass mode='w' to overwrite it",
     "`--overwrite`"),
    ("train", "set `da.attrs['units'] = 'K'`.", "`--units K`"),
])
def test_messages_name_the_flags(command, message, flag):
    from xlstsr.cli import _train_hints

    out = _train_hints(message) if command == "train" else _cli_hints(message, command)
    assert flag in out
    assert "mask_out_of_range" not in _train_hints(
        "values look like Celsius: set `da.attrs['units'] = 'degC'`. To mask such pixels "
        "instead, pass `mask_out_of_range=True`.")


def test_scaling_messages_keep_the_space_before_a_suffix():
    msg = _cli_hints("cannot write a table to 'x.txt': use .csv or .nc", "scaling")
    assert "use .csv or .nc" in msg
