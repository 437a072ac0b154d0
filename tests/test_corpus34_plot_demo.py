"""Corpus 34 (h): the figures take upscale's lat/lon results and name the step they draw; the
demo expands "~" and does not compare bicubic with itself; the CLI refuses empty paths."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import xarray as xr

matplotlib = pytest.importorskip("matplotlib")

import xlstsr  # noqa: E402
from xlstsr import plot  # noqa: E402
from xlstsr.cli import main  # noqa: E402
from xlstsr.errors import MissingCRSError, XlstsrError  # noqa: E402


@pytest.fixture(scope="module")
def scene() -> xr.Dataset:
    return xlstsr.datasets.sample_scene(n_times=3, size=64, cloud_fraction=0)


def _suptitle(fig) -> str:
    return fig._suptitle.get_text() if fig._suptitle is not None else ""


def _day(da: xr.DataArray, i: int) -> str:
    return pd.Timestamp(da.time.values[i]).strftime("%Y-%m-%d")


# -- 03: lat/lon fields, as upscale takes and returns them -----------------------------------


def _latlon(scene: xr.Dataset, crs: bool = True) -> xr.DataArray:
    lst = scene["lst_1km"]
    n = lst.sizes["y"]
    lat = 40 + 0.01 * np.arange(n) + 0.005  # ascending, as in a NetCDF
    lon = 10 + 0.01 * np.arange(lst.sizes["x"]) + 0.005
    da = xr.DataArray(lst.values[:, ::-1], dims=("time", "lat", "lon"),
                      coords={"time": lst.time, "lat": lat, "lon": lon}, attrs={"units": "K"})
    return da.rio.write_crs("EPSG:4326") if crs else da


def test_comparison_draws_upscales_latlon_input_and_result(scene):
    cl = _latlon(scene)
    sr = xlstsr.upscale(cl, 4, "bicubic")
    assert sr.dims == ("time", "lat", "lon")
    fig = plot.comparison(cl, sr, sr, index={"time": 1}, path=None)
    # north-up as drawn: the input's first row is its northernmost latitude
    north = cl.isel(time=1).sortby("lat", ascending=False).values
    np.testing.assert_allclose(np.asarray(fig.axes[0].images[0].get_array()), north)
    matplotlib.pyplot.close(fig)


def test_truth_maps_draws_upscales_latlon_input_and_result(scene):
    cl = _latlon(scene)
    sr = xlstsr.upscale(cl, 4, "bicubic").isel(time=0)
    fig = plot.truth_maps(cl.isel(time=0), {"bicubic": sr}, sr, path=None)
    assert any(ax.get_title() == "truth" for ax in fig.axes)
    matplotlib.pyplot.close(fig)


def test_truth_maps_refuses_latlon_without_crs_naming_epsg4326(scene):
    # truth_maps reprojects, so it needs the CRS; comparison draws side by side without one
    # (tests/test_review34_plot.py)
    cl = _latlon(scene, crs=False)
    with pytest.raises(MissingCRSError, match="EPSG:4326"):
        plot.truth_maps(cl, {"bicubic": cl}, cl)


# -- 02: the step drawn named in the suptitle ------------------------------------------------


def test_comparison_names_the_date_drawn(scene):
    lst, truth = scene["lst_1km"], scene["lst_250m"]
    sr = lst.lstsr.upscale(4, method="bicubic")
    f2 = plot.comparison(lst, sr, truth, index={"time": 2})
    f0 = plot.comparison(lst, sr, truth, title="Crau")
    assert _suptitle(f2) == f"time={_day(lst, 2)}"
    assert _suptitle(f0) == f"Crau (time={_day(lst, 0)})"
    last = plot.comparison(lst, sr, index={"time": -1})  # a negative position: its label
    assert _suptitle(last) == f"time={_day(lst, 2)}"
    for f in (f0, f2, last):
        matplotlib.pyplot.close(f)


def test_comparison_of_one_field_adds_no_step(scene):
    lst = scene["lst_1km"].isel(time=0, drop=True)
    sr = lst.lstsr.upscale(4, method="bicubic")
    fig = plot.comparison(lst, sr)
    assert _suptitle(fig) == ""
    matplotlib.pyplot.close(fig)


@pytest.mark.filterwarnings("ignore:the field is 16 x 16 pixels")
def test_scaling_reduce_none_names_the_step_drawn(scene):
    lst = scene["lst_1km"]
    st = xlstsr.scaling_stats(lst)
    first = plot.scaling(st, reduce=None, title="cube")
    assert _suptitle(first) == f"cube (time={_day(lst, 0)})"
    summary = plot.scaling(st, reduce="median", title="cube")  # every step: none named
    assert _suptitle(summary) == "cube"
    for f in (first, summary):
        matplotlib.pyplot.close(f)


# -- 01: run_demo expands "~" ----------------------------------------------------------------


def test_run_demo_expands_home(tmp_path, monkeypatch):
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    (home / "demo_out").mkdir(parents=True)
    cwd.mkdir()
    (home / "demo_out" / "metrics.txt").write_text("a user's file")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd)
    import xlstsr.demo as demo

    def no_work():  # the check comes before any work; reaching the data means it looked elsewhere
        raise AssertionError("run_demo went on to the data: '~' not expanded")

    monkeypatch.setattr(demo, "modis_aster_sample", no_work)
    with pytest.raises(XlstsrError, match=re.escape(str(home / "demo_out" / "metrics.txt"))):
        demo.run_demo("~/demo_out", method="bicubic", progress=False)
    assert not (cwd / "~").exists()


def test_run_demo_refuses_an_empty_output():
    from xlstsr.demo import run_demo

    with pytest.raises(XlstsrError, match="output is empty"):
        run_demo("", method="bicubic", progress=False, n_times=1)


# -- 05: the recommendation does not compare bicubic with itself -------------------------------


def test_recommend_bicubic_names_no_gain_over_itself():
    from xlstsr.demo import _recommend

    sc = {"rmse": 1.93, "ubrmse": 1.59, "bias": 1.09, "spectral_ratio": 0.20, "seconds": 0.1}
    scores = {"bicubic": sc, "nearest": dict(sc, rmse=2.10)}
    for method in ("bicubic", "nearest"):
        head = _recommend(scores, "bicubic", method, method).split(")")[0]
        assert "below bicubic" not in head and ", ," not in head
        assert head == "Recommended: `bicubic` (1.93 K RMSE against co-registered ASTER, " \
                       "spectral ratio 0.20"
    better = dict(scores, disr=dict(sc, rmse=1.50))
    assert "0.43 K below bicubic, spectral ratio" in _recommend(better, "disr", "bicubic")


# -- 04: empty path arguments refused, naming the flag ----------------------------------------


@pytest.mark.parametrize("argv, flag", [
    (["scaling", "lst.tif", "fits.csv", "--figure", ""], "--figure is empty"),
    (["scaling", "lst.tif", "fits.csv", "--figure="], "--figure is empty"),
    (["demo", "--output", ""], "--output is empty: give a folder path"),
    (["upscale", "lst.tif", ""], "the output argument of `xlstsr upscale` is empty"),
    (["evaluate", "sr.tif", "aster.tif", "s.csv", "--coarse", " "], "--coarse is empty"),
    (["train", "--lst", "lst.zarr", "--out", ""], "--out is empty"),
])
def test_cli_refuses_empty_paths(argv, flag, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert flag in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # nothing written
