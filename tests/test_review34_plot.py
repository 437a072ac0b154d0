"""Figures (xlstsr.plot), review 34: lat/lon fields drawn side by side without a CRS (drawn
before the lat/lon -> y/x rename), messages and crop advice in the user's dim names, a map
axis given as ``index``, and one rule naming the step drawn in every figure's title (a date
kept as a scalar coordinate, cftime dates, scaling / compare with ``reduce=None``)."""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import xlstsr
from xlstsr import plot
from xlstsr.errors import GridError, XlstsrError

matplotlib = pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def scene():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = xlstsr.datasets.sample_scene(n_times=3, size=64, cloud_fraction=0)
        sr = xlstsr.upscale(s["lst_1km"], 4, "bicubic")
    return s["lst_1km"], sr, s["lst_250m"]


def _up(da, factor=4):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xlstsr.upscale(da, factor, "bicubic")


def _latlon(da, names=("lat", "lon"), crs=True):
    """``da`` (time, y, x) as degrees on (time, *names), south-up."""
    n, m = da.sizes["y"], da.sizes["x"]
    p = 0.16 / n
    out = xr.DataArray(da.values[:, ::-1], dims=("time", *names),
                       coords={"time": da.time, names[0]: 40 + p * np.arange(n) + p / 2,
                               names[1]: 10 + p * np.arange(m) + p / 2}, attrs={"units": "K"})
    return out.rio.write_crs("EPSG:4326") if crs else out


def _title(fig):
    return fig._suptitle.get_text() if fig._suptitle is not None else ""


def _days(da):
    return [pd.Timestamp(t).strftime("%Y-%m-%d") for t in da.time.values]


def test_latitude_longitude_without_crs_drawn(scene):
    lst, sr, truth = scene
    c = _latlon(lst, ("latitude", "longitude"), crs=False)
    s = _latlon(sr, ("latitude", "longitude"), crs=False)
    t = _latlon(truth, ("latitude", "longitude"), crs=False)
    fig = plot.comparison(c, s, t, index={"time": 1}, path=None)
    assert len(fig.axes) >= 4


def test_truth_maps_still_names_epsg4326(scene):
    from xlstsr.errors import MissingCRSError

    lst, sr, truth = scene
    c = _latlon(lst, crs=False).isel(time=0)
    with pytest.raises(MissingCRSError, match="EPSG:4326"):
        plot.truth_maps(c, {"b": _latlon(sr).isel(time=0)}, _latlon(truth).isel(time=0))


def test_crop_advice_in_latlon_names_works(scene):
    lst, _, _ = scene
    cl = _latlon(lst)
    sr = _up(cl)
    win = sr.isel(lat=slice(0, 32))
    with pytest.raises(GridError) as e:
        plot.comparison(cl, win)
    msg = str(e.value)
    assert "along lat" in msg and "y=slice" not in msg and "x=slice" not in msg
    fix = re.search(r"`coarse = (coarse\.sel\([^`]*\))`", msg).group(1)
    coarse = eval(fix, {}, {"coarse": cl})  # the advice run as given
    assert len(plot.comparison(coarse, win).axes) >= 2


def test_crop_advice_in_declared_names(scene):
    lst, _, _ = scene
    decl = dict(x_dim="easting", y_dim="northing")
    ds = lst.rename(y="northing", x="easting").rio.set_spatial_dims(**decl)
    win = _up(ds).isel(northing=slice(0, 32)).rio.set_spatial_dims(**decl)
    with pytest.raises(GridError) as e:
        plot.comparison(ds, win)
    msg = str(e.value)
    assert "along northing" in msg and "y=slice" not in msg
    fix = re.search(r"`coarse = (coarse\.sel\([^`]*\))`", msg).group(1)
    coarse = eval(fix, {}, {"coarse": ds}).rio.set_spatial_dims(**decl)
    assert len(plot.comparison(coarse, win).axes) >= 2


def test_index_of_latlon_axis_named_in_users_dims(scene):
    lst, _, _ = scene
    cl = _latlon(lst)
    sr = _up(cl)
    with pytest.raises(XlstsrError, match="'lat' is a map axis") as e:
        plot.comparison(cl, sr, index={"lat": 0})
    assert "'y'" not in str(e.value)
    with pytest.raises(XlstsrError, match=r"none of the maps has .*'lat'") as e:
        plot.comparison(cl, sr, index={"y": 0})
    assert "'y', " not in str(e.value).split("their dims")[1]


def test_truth_maps_dims_in_users_names(scene):
    lst, _, _ = scene
    cl = _latlon(lst)
    sr = _up(cl)
    with pytest.raises(GridError, match=r"\('time', 'lat', 'lon'\)"):
        plot.truth_maps(cl, {"b": sr}, sr)


def test_index_of_map_axis_refused(scene):
    lst, sr, _ = scene
    for dim in ("y", "x"):
        with pytest.raises(XlstsrError, match=f"index picks steps such as time; '{dim}' is a map axis"):
            plot.comparison(lst, sr, index={dim: 0})


def test_title_of_scalar_date(scene):
    lst, sr, truth = scene
    day = _days(lst)[1]
    fig = plot.comparison(lst.isel(time=1), sr.isel(time=1), truth.isel(time=1))
    assert _title(fig) == f"time={day}"
    fig = plot.truth_maps(lst.isel(time=1), {"b": sr.isel(time=1)}, truth.isel(time=1),
                          title="Crau")
    assert _title(fig) == f"Crau (time={day})"


def test_title_of_cftime(scene):
    pytest.importorskip("cftime")
    lst, sr, _ = scene
    ct = xr.date_range("2020-07-01", periods=3, calendar="noleap", use_cftime=True)
    lc, sc = lst.assign_coords(time=ct), sr.assign_coords(time=ct)
    assert _title(plot.comparison(lc, sc, index={"time": 2})) == "time=2020-07-03"
    # one cftime step is a date too
    assert _title(plot.comparison(lc.isel(time=[1]), sc.isel(time=[1]))) == "time=2020-07-02"
    ch = lc.assign_coords(time=xr.date_range("2020-07-01 10:30", periods=3, calendar="noleap",
                                             use_cftime=True))
    assert _title(plot.comparison(ch, sc.assign_coords(time=ch.time), index={"time": 1})) == (
        "time=2020-07-02 10:30")


def test_title_of_scaling_one_date(scene):
    lst, _, _ = scene
    day = _days(lst)[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = xlstsr.scaling_stats(lst.isel(time=[1]))
        scalar = xlstsr.scaling_stats(lst.isel(time=1))
        cube = xlstsr.scaling_stats(lst)
    assert _title(plot.scaling(one, reduce=None, title="c")) == f"c (time={day})"
    assert _title(plot.scaling(scalar, reduce="median", title="c")) == f"c (time={day})"
    assert _title(plot.scaling(cube, title="c")) == "c"  # a summary of the steps


def test_title_of_compare_reduce_none(scene):
    lst, _, _ = scene
    days = _days(lst)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cube = xlstsr.scaling_stats(lst)
        last = xlstsr.scaling_stats(lst.isel(time=[2]))
    assert _title(plot.compare({"a": cube, "b": cube}, reduce=None)) == f"time={days[0]}"
    assert _title(plot.compare({"a": cube, "b": cube})) == ""
    got = _title(plot.compare({"a": cube, "b": last}, reduce=None))
    assert f"a: time={days[0]}" in got and f"b: time={days[2]}" in got
