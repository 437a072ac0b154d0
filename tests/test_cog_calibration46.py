"""Probe 46r, findings 1, 2 and 4.

1: to_cogs -> open_cog of a grid whose labels were built with np.arange (45.195 - i * 0.01)
came back an ulp off rioxarray's (its transform recomputed from the labels has the pixel
0.00999999999999997, which no label form matched, so no tag was written): xr.align with the
source kept 28 of 30 rows.

2: to_cogs' irregular-grid advice for a lat/lon array said `da.assign_coords(y=...)`, which
raised xarray's CoordinateValidationError when followed.

4: a day+night series on repeated date labels against 8-day (16-day) composite NDVI was
advised to keep the composites' first days only (`sr.isel(time=[0, 1, 16, 17])`: 4 of 20
steps), where unique labels get the composites' tolerance advice.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import rasterio
import rioxarray
import xarray as xr

from xlstsr.calibration import fit_calibration
from xlstsr.errors import GridError
from xlstsr.io.cog import open_cog, to_cogs

# --- 1: np.arange labels round trip through to_cogs / open_cog -------------------------------


def _latlon(lat: np.ndarray, lon: np.ndarray, nt: int = 2) -> xr.DataArray:
    rng = np.random.default_rng(1)
    return xr.DataArray(
        rng.normal(300, 3, (nt, lat.size, lon.size)).astype("float32"),
        dims=("time", "lat", "lon"),
        coords={"time": pd.date_range("2020-07-01", periods=nt), "lat": lat, "lon": lon},
        attrs={"units": "K"}, name="lst").rio.write_crs("EPSG:4326")


@pytest.mark.parametrize("lat, lon", [
    (45.195 - np.arange(30) * 0.01, 15.005 + np.arange(30) * 0.01),
    (45.995 - np.arange(24) * 0.01, -3.545 + np.arange(20) * 0.01),
    (46.0 - 1 / 240 - np.arange(30) / 120, 15.0 + 1 / 240 + np.arange(30) / 120),
], ids=["0.01", "0.01-west", "1/120"])
def test_arange_labels_round_trip(tmp_path, lat, lon):
    da = _latlon(lat, lon)
    back = open_cog(sorted(to_cogs(da, tmp_path)), chunks=None)
    src = da.rename(lat="y", lon="x")
    assert np.array_equal(back["y"].values, src["y"].values)
    assert np.array_equal(back["x"].values, src["x"].values)
    a, b = xr.align(back, src, join="inner")
    assert dict(a.sizes) == dict(src.sizes)
    np.testing.assert_array_equal(a.values, b.values)


def test_arange_labels_south_up_round_trip(tmp_path):
    # written north-up: the labels run reversed, still given back exactly
    da = _latlon(44.905 + np.arange(30) * 0.01, 15.005 + np.arange(30) * 0.01)
    back = open_cog(sorted(to_cogs(da, tmp_path)), chunks=None)
    src = da.rename(lat="y", lon="x").sortby("y", ascending=False)
    assert np.array_equal(back["y"].values, src["y"].values)
    a, b = xr.align(back, src, join="inner")
    assert dict(a.sizes) == dict(src.sizes)
    np.testing.assert_array_equal(a.values, b.values)


# the same round grid written from its north-up and south-up arrays: one GeoTransform, the
# grid's round edge (the south-up one was written 45.199999999999996, an ulp off the north-up
# one's 45.2, and plain rioxarray readers joined the two files on none of their rows)
@pytest.mark.parametrize("north, step, ny", [(45.2, 0.01, 30), (1.45, 0.05, 100),
                                             (45.06, 0.01, 16)], ids=["0.01", "0.05", "16-rows"])
def test_south_up_same_grid_same_geotransform(tmp_path, north, step, ny):
    lon = 15.005 + np.arange(30) * 0.01
    south = round(north - ny * step, 10)
    down = _latlon(north - step / 2 - np.arange(ny) * step, lon, nt=1)
    up = _latlon(south + step / 2 + np.arange(ny) * step, lon, nt=1)  # built south-up
    paths = [to_cogs(da, tmp_path / name)[0] for da, name in ((down, "n"), (up, "s"))]
    gts = []
    for p in paths:
        with rasterio.open(p) as f:
            gts.append(tuple(f.transform)[:6])
    assert gts[0] == gts[1]
    assert gts[1][5] == north and gts[1][4] == -step
    # plain rioxarray sees one grid
    a, b = (rioxarray.open_rasterio(p) for p in paths)
    assert np.array_equal(a["y"].values, b["y"].values)
    assert xr.align(a, b, join="inner")[0].sizes["y"] == ny
    # open_cog still gives back each file's own labels
    for p, da in zip(paths, (down, up)):
        back = open_cog([p], chunks=None)
        src = da.rename(lat="y", lon="x").sortby("y", ascending=False)
        assert np.array_equal(back["y"].values, src["y"].values)
        np.testing.assert_array_equal(back.values, src.values)


def test_west_running_x_written_from_round_edge(tmp_path):
    # x labels running west (45.195 - i * 0.01) on the grid of west edge 44.9 (the east edge
    # less the pixels is 44.900000000000006)
    lon = 45.195 - np.arange(30) * 0.01
    da = _latlon(45.195 - np.arange(20) * 0.01, lon, nt=1)
    p = to_cogs(da, tmp_path)[0]
    with rasterio.open(p) as f:
        assert (f.transform.c, f.transform.a) == (44.9, 0.01)
    back = open_cog([p], chunks=None)
    assert np.array_equal(back["x"].values, lon[::-1])


# --- 2: the irregular-grid advice names the user's dims and works ------------------------------


def _follow_snap(msg: str, da: xr.DataArray) -> xr.DataArray:
    code = re.findall(r"`(da = da\.assign_coords\([^`]+)`", msg)
    assert code, msg
    ns = {"da": da, "np": np}
    exec(code[0], ns)
    return ns["da"]


@pytest.mark.parametrize("south_up", [False, True])
def test_irregular_latlon_advice_names_lat_lon_and_works(tmp_path, south_up):
    n = 30  # a 1/120-degree grid whose labels were stored to 6 decimals (a text export)
    lat = np.round(46.0 - 1 / 240 - np.arange(n) / 120, 6)
    lon = np.round(15.0 + 1 / 240 + np.arange(n) / 120, 6)
    da = _latlon(lat, lon, nt=1)
    da = da.copy(data=np.broadcast_to(np.arange(n, dtype="float32")[:, None] + 280,
                                      da.shape).copy())  # each row its own value
    if south_up:
        da = da.isel(lat=slice(None, None, -1))
    named = []
    for _ in range(3):
        try:
            paths = to_cogs(da, tmp_path)
            break
        except GridError as err:
            msg = str(err)
            assert "(y=" not in msg and "(x=" not in msg, msg
            named.append(re.search(r"assign_coords\((\w+)=", msg).group(1))
            da = _follow_snap(msg, da)
    else:
        pytest.fail("the advice followed did not let to_cogs write")
    assert named == ["lat", "lon"]
    back = open_cog(sorted(paths), chunks=None)
    # the northernmost row (value 280 as built) is the file's top row: the snapped labels
    # kept each row where it was
    assert float(back.isel(time=0, y=0, x=0)) == 280.0
    assert back["y"].values[0] > back["y"].values[-1]
    assert back["y"].values[0] == pytest.approx(lat[0], abs=1e-5)


# --- 4: repeated date labels (day + night) against composite NDVI -------------------------------


def _series(ndvi_dates: list[str], days: int = 10, start: str = "2020-07-04"):
    rng = np.random.default_rng(0)
    g = {"y": np.arange(12)[::-1] * 1000.0 + 500, "x": np.arange(12) * 1000.0 + 500}
    dates = pd.date_range(start, periods=days)
    rep = pd.DatetimeIndex([d for d in dates for _ in range(2)])
    sr = xr.DataArray(rng.normal(300, 3, (2 * days, 12, 12)), dims=("time", "y", "x"),
                      coords={"time": rep, "overpass": ("time", ["day", "night"] * days), **g})
    truth = sr * 0.95 + 10
    ndvi = xr.DataArray(rng.uniform(0.1, 0.8, (len(ndvi_dates), 12, 12)), dims=("time", "y", "x"),
                        coords={"time": pd.DatetimeIndex(ndvi_dates), **g})
    return sr, truth, ndvi


def _codes(msg: str) -> list[str]:
    return re.findall(r"`([^`]+)`", msg)


@pytest.mark.parametrize("ndvi_dates, days, tol", [
    (["2020-07-04", "2020-07-12"], 10, "7D"),
    (["2020-07-04", "2020-07-20"], 20, "15D"),
], ids=["8-day", "16-day"])
def test_repeated_labels_composites_get_tolerance_advice(ndvi_dates, days, tol):
    sr, truth, ndvi = _series(ndvi_dates, days)
    with pytest.raises(GridError) as e:
        fit_calibration(sr, truth, ndvi)
    msg = str(e.value)
    codes = _codes(msg)
    assert f"time_tolerance='{tol}'" in codes, msg
    assert not any(c.startswith("sr = sr.isel") for c in codes), msg
    # followed: every step is fitted, as with the unique acquisition-time labels
    cal = fit_calibration(sr, truth, ndvi, time_tolerance=tol)
    assert cal.slope == pytest.approx(0.95)
    assert cal.n == sr.size
    # the .sel advice, followed, gives the same fit
    sel = [c for c in codes if c.startswith("ndvi = ")]
    assert sel, msg
    ns = {"sr": sr, "ndvi": ndvi, "np": np}
    exec(sel[0], ns)
    cal2 = fit_calibration(sr, truth, ns["ndvi"])
    assert cal2.n == sr.size and cal2.slope == pytest.approx(0.95)


def test_repeated_labels_missing_composite_keep_advice_keeps_both_steps():
    # 8-day composites of 07-04, 07-20, 07-28: the 07-12 one missing, 07-12..07-19 uncovered
    sr, truth, ndvi = _series(["2020-07-04", "2020-07-20", "2020-07-28"], days=26)
    with pytest.raises(GridError) as e:
        fit_calibration(sr, truth, ndvi)
    msg = str(e.value)
    codes = _codes(msg)
    keep = [c for c in codes if c.startswith("sr = sr.isel")]
    assert keep and "time_tolerance='7D'" in codes, msg
    ns = {"sr": sr, "ndvi": ndvi, "np": np}
    exec(keep[0], ns)
    kept = ns["sr"]
    # every step (day and night) of the covered dates: 07-04..07-11 and 07-20..07-29
    assert kept.sizes["time"] == 2 * 18
    assert f"keep the {kept.sizes['time']} of the {sr.sizes['time']} steps" in msg
    t = kept.indexes["time"]
    assert (pd.Series(t).value_counts() == 2).all()
    cal = fit_calibration(kept, truth.isel(time=np.isin(truth["time"], kept["time"])), ndvi,
                          time_tolerance="7D")
    assert cal.n == kept.size and cal.slope == pytest.approx(0.95)


def test_repeated_labels_per_date_ndvi_isel_keeps_both_steps():
    # an NDVI per date (cloudy days dropped) against a day+night series on repeated dates
    dates = ["2020-07-04", "2020-07-05", "2020-07-07", "2020-07-08", "2020-07-10"]
    sr, truth, ndvi = _series(dates, days=7)
    with pytest.raises(GridError) as e:
        fit_calibration(sr, truth, ndvi)
    msg = str(e.value)
    # judged by dates (before: "4 of the sr's 14 steps", each repeated date counted twice),
    # and the steps to keep selected by their days, not an index list
    assert "2 of the sr's 7 dates have no ndvi step" in msg, msg
    keep = [c for c in _codes(msg) if c.startswith("sr = sr.isel")]
    assert keep and ".dt.floor('D').isin(" in keep[0], msg
    ns = {"sr": sr, "ndvi": ndvi, "np": np}
    exec(keep[0], ns)
    kept = ns["sr"]
    assert kept.sizes["time"] == 2 * len(dates)
    assert set(kept.indexes["time"].unique()) == set(pd.DatetimeIndex(dates))
    cal = fit_calibration(kept, truth.isel(time=np.isin(truth["time"], kept["time"])), ndvi)
    assert cal.n == kept.size and cal.slope == pytest.approx(0.95)
