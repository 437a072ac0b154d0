"""Thirty-first round of bad inputs, Datasets and guides: a lazily reprojected guide computed in
worker processes that never imported rioxarray, an LST and a 16-day NDVI merged into one Dataset
with a guide tolerance, the example variable of an ambiguous Dataset's advice (Python, CLI,
upscale_to_zarr), and the tolerance advice of a missing composite."""

from __future__ import annotations

import re
import warnings

import dask
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from helpers import make_lst, run_cli

import xlstsr
from xlstsr import errors
from xlstsr.grid import align_guide
from xlstsr.guide import match_steps
from xlstsr.validate import select_variable


def _code(message: str, needle: str) -> str:
    """The first `...` snippet of ``message`` that holds ``needle``."""
    return next(c for c in re.findall(r"`([^`]+)`", message) if needle in c)


def _lst_and_composites(n: int | None = None) -> tuple[xr.DataArray, xr.DataArray]:
    """The shipped sample's day LST (its dates) and NDVI labelled by composite start, in
    memory."""
    ds = xlstsr.datasets.modis_sample(chunks=False)
    if n is not None:
        ds = ds.isel(time=[0, 1, 6][:n])
    lst = ds.lst_day.drop_vars("composite_start")
    ndvi = (ds.ndvi.assign_coords(time=ds.composite_start.values)
            .drop_vars("composite_start").drop_duplicates("time"))
    return lst, ndvi


# 1. a lazily reprojected guide in fresh worker processes ---------------------------------------

def test_lazy_reprojected_guide_computes_in_spawned_worker_processes():
    # only dask's own tasks before the reprojection: the worker imports nothing of xlstsr
    # unless the task function names it (a closure, shipped by value, raised AttributeError:
    # 'DataArray' object has no attribute 'rio')
    rng = np.random.default_rng(0)
    lst = make_lst(290.0 + rng.random((2, 8, 8)))
    guide = make_lst(rng.random((2, 8, 8)).astype(np.float32), res=1000.0).chunk({"time": 1})
    guide = guide.assign_coords(x=guide.x + 130.0)  # offset: reprojected, not sliced
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", errors.GuideAlignmentWarning)
        fine = align_guide(guide, lst, 4)
    assert isinstance(fine.data, dask.array.Array)
    ref = fine.compute(scheduler="threads")
    with dask.config.set({"multiprocessing.context": "spawn"}):
        got = fine.compute(scheduler="processes", num_workers=1)
    np.testing.assert_array_equal(got.values, ref.values)


# 2. an LST and a 16-day NDVI merged into one Dataset, with a tolerance ------------------------

def test_separate_time_dims_in_one_dataset_advice_runs():
    lst, ndvi = _lst_and_composites(3)
    ds = xr.Dataset({"lst": lst, "ndvi": ndvi.rename(time="time_ndvi")})
    with pytest.raises(errors.GuideTimeError) as err:
        ds.lstsr.upscale(4, "dms", guide="ndvi", guide_time_tolerance="15D")
    advice = _code(str(err.value), "ds['ndvi'].rename")
    g = eval(advice.removeprefix("guide="), {"ds": ds})
    out = ds.lstsr.upscale(4, "dms", guide=g, guide_time_tolerance="15D")
    assert out.sizes["time"] == lst.sizes["time"]
    assert "dropna" in str(err.value)


# 3. the example variable of an ambiguous Dataset ------------------------------------------------

def test_variable_advice_example_is_an_lst_and_guide_example_an_ndvi():
    ds = xlstsr.datasets.modis_sample()[["ndvi", "lst_day", "lst_night"]]
    with pytest.raises(errors.VariableNotFoundError) as err:
        ds.lstsr.upscale(4)
    name = re.search(r"variable='([^']+)'", str(err.value)).group(1)
    assert name in ("lst_day", "lst_night")
    assert ds.lstsr.upscale(4, variable=name).sizes["x"] == 4 * ds.sizes["x"]
    full = xlstsr.datasets.modis_sample()[["lst_day", "lst_night", "red", "nir", "ndvi"]]
    with pytest.raises(errors.VariableNotFoundError) as err:
        select_variable(full, None, role="guide")
    assert "variable='ndvi'" in str(err.value)


def test_cli_variable_advice_names_an_lst_and_the_ndvi_guide(tmp_path, capsys):
    src = tmp_path / "in.nc"
    xlstsr.datasets.modis_sample()[["ndvi", "lst_day", "lst_night"]].isel(
        time=[0]).to_netcdf(src)
    code, err = run_cli(capsys, "upscale", src, tmp_path / "o.nc", "--quiet")
    assert code == 2
    name = re.search(r"\(e\.g\. --variable (\S+)\)", err).group(1)
    assert name in ("lst_day", "lst_night")
    code, err = run_cli(capsys, "upscale", src, tmp_path / "o.nc", "--quiet", "--variable", name)
    assert code == 0, err
    full = tmp_path / "full.nc"
    xlstsr.datasets.modis_sample()[["lst_day", "lst_night", "red", "nir", "ndvi"]].isel(
        time=[0]).to_netcdf(full)
    base = ["upscale", full, tmp_path / "g.nc", "--variable", "lst_day", "--method", "dms",
            "--guide", full, "--quiet"]
    code, err = run_cli(capsys, *base)
    assert code == 2
    assert re.search(r"\(e\.g\. --guide-variable (\S+)\)", err).group(1) == "ndvi"


def test_upscale_to_zarr_variable_advice_is_runnable(tmp_path):
    ds = xlstsr.datasets.modis_sample().isel(time=[0, 1])
    with pytest.raises(errors.VariableNotFoundError) as err:
        xlstsr.upscale_to_zarr(ds, tmp_path / "a.zarr", progress=False)
    msg = str(err.value)
    assert "<method>" not in msg and "ds.lstsr.upscale_to_zarr" not in msg
    call = _code(msg, "variable=")
    assert call.startswith("xlstsr.upscale_to_zarr(")
    name = re.search(r"variable='([^']+)'", call).group(1)
    assert name in ("lst_day", "lst_night")
    xlstsr.upscale_to_zarr(ds, tmp_path / "a.zarr", variable=name, progress=False)
    assert xr.open_zarr(tmp_path / "a.zarr")[name].sizes["x"] == 4 * ds.sizes["x"]


# 4. the tolerance advice of a missing composite ------------------------------------------------

def test_tolerance_advice_reaches_the_gap_or_drops_the_dates():
    lst, ndvi = _lst_and_composites()
    gap = ndvi.drop_sel(time=[ndvi.time.values[-2]])  # a missing composite before the last dates
    given = "15D"
    with pytest.raises(errors.GuideTimeError) as err:
        match_steps(gap, lst, "time", given)
    msg = str(err.value)
    longer = re.search(r"guide_time_tolerance='([^']+)'`", msg).group(1)
    assert longer != given and f"--guide-time-tolerance {longer}" in msg
    assert match_steps(gap, lst, "time", longer).sizes["time"] == lst.sizes["time"]
    drop = _code(msg, "drop_sel")
    kept = eval(drop, {"lst": lst})
    assert 0 < kept.sizes["time"] < lst.sizes["time"]
    assert match_steps(gap, kept, "time", given).sizes["time"] == kept.sizes["time"]


def test_separate_time_dims_advice_quotes_any_variable_name():
    # a MODIS layer's name is no Python identifier: the advice named 'ndvi' (review31c 07)
    lst, ndvi = _lst_and_composites(3)
    name = "250m 16 days NDVI"
    ds = xr.Dataset({"lst": lst, name: ndvi.rename(time="time_ndvi")})
    with pytest.raises(errors.GuideTimeError) as err:
        ds.lstsr.upscale(4, "dms", guide=name, guide_time_tolerance="15D", variable="lst")
    advice = _code(str(err.value), "ds[")
    g = eval(advice.removeprefix("guide="), {"ds": ds})
    assert g.name == name and "time" in g.dims


@pytest.mark.parametrize("kind", ["number", "subsecond"])
def test_tolerance_drop_advice_selects_numeric_and_subsecond_labels(kind):
    # labels were quoted as text cut to 19 characters: doy=['20'] and a cut overpass time
    # named no step, and drop_sel raised KeyError (review31c 08)
    lst = make_lst(290.0 + np.zeros((3, 8, 8)))
    if kind == "number":
        labels, guide_labels, tol = np.array([20, 30, 40]), np.array([0, 25]), 10
    else:
        labels = pd.to_datetime(["2020-07-20T11:02:07.5", "2020-07-21T11:02:07.5",
                                 "2020-07-30T11:02:07.5"]).values
        guide_labels, tol = pd.to_datetime(["2020-07-19T00", "2020-07-29T12"]).values, "1D"
    lst = lst.assign_coords(time=labels)
    guide = xr.DataArray(np.zeros((2, 8, 8)), dims=("time", "y", "x"),
                         coords={"time": guide_labels})
    with pytest.raises(errors.GuideTimeError) as err:
        match_steps(guide, lst, "time", tol)
    kept = eval(_code(str(err.value), "drop_sel"), {"lst": lst})
    assert 0 < kept.sizes["time"] < lst.sizes["time"]
