"""Review 34 (b): grid advice in the user's dim names, and wrapped-longitude advice that works.

- the missing-column/row (`da.reindex(x=...)`) and jitter (`da.assign_coords(x=...)`) advice of
  an irregular lat/lon grid named 'x'/'y', which the user's array does not have;
- an empty selection of lat/lon (or declared row/col) dims was "0 pixels along 'y'", advising
  `da.sel(y=...)`;
- scaling_stats of a wrapped lon grid took its mean step: "pixels not square (0.01 x 18.9
  degree)" with reprojection advised, where upscale names the wrap;
- the Greenwich advice `((lon + 180) % 360) - 180).sortby('lon')` left a gap of 200 columns on
  a grid wider than 180 degrees.
"""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import xlstsr
from tests.helpers import paste_da_advice
from xlstsr.errors import GridError


def _run(op: str, da: xr.DataArray):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {"upscale": lambda a: a.lstsr.upscale(4),
                "coarsen": lambda a: a.lstsr.coarsen(2),
                "scaling_stats": lambda a: xlstsr.scaling_stats(a, lags=[1, 2], factors=[1, 2]),
                }[op](da)


def _latlon(lon: np.ndarray, lat: np.ndarray, *, times: int = 0) -> xr.DataArray:
    shape = (lat.size, lon.size)
    dims: tuple = ("lat", "lon")
    coords: dict = {"lat": lat, "lon": lon}
    if times:
        shape, dims = (times, *shape), ("time", *dims)
        coords["time"] = pd.date_range("2020-07-01", periods=times)
    values = 290 + 5 * np.random.default_rng(0).random(shape)
    return xr.DataArray(values.astype("f4"), dims=dims, coords=coords,
                        attrs={"units": "K"}).rio.write_crs(4326)


# -- 06: irregular lat/lon grids: the advice names the user's dim ------------------------------

_LAT = 40.005 + 0.01 * np.arange(16)[::-1]
_LON = 10.005 + 0.01 * np.arange(22)


@pytest.mark.parametrize("op", ["upscale", "coarsen"])
@pytest.mark.parametrize("case, dim", [("missing lon column", "lon"), ("missing lat row", "lat"),
                                       ("jittered lon", "lon")])
def test_irregular_latlon_grid_advice_names_the_users_dim_and_works(case, dim, op):
    lon, lat = {"missing lon column": (np.delete(_LON, 7), _LAT),
                "missing lat row": (_LON, np.delete(_LAT, 5)),
                "jittered lon": (_LON + np.r_[0, 1e-4, np.zeros(_LON.size - 2)], _LAT)}[case]
    da = _latlon(lon, lat)
    with pytest.raises(GridError) as err:
        _run(op, da)
    msg = str(err.value)
    advice = f"da.assign_coords({dim}=" if case.startswith("jitter") else f"da.reindex({dim}="
    assert f"'{dim}' coordinates" in msg and advice in msg, msg
    fixed = paste_da_advice(msg, da)
    assert fixed.sizes == {"lat": _LAT.size, "lon": _LON.size}
    out = _run(op, fixed)
    assert {"lat", "lon"} <= set(out.dims)


# -- 07: an empty selection is named in the user's dims ----------------------------------------

@pytest.fixture(scope="module")
def scene():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xlstsr.datasets.sample_scene(n_times=2, size=64, cloud_fraction=0.0)


@pytest.mark.parametrize("op", ["upscale", "coarsen", "scaling_stats"])
def test_empty_latlon_selection_names_the_users_dims(scene, op):
    full = scene["lst_1km"].rename(y="lat", x="lon")
    with pytest.raises(GridError, match="is empty") as err:
        _run(op, full.sel(lat=slice(0, 1e9)))  # south to north: nothing on a north-up grid
    msg = str(err.value)
    assert "along 'lat'" in msg and "'lat': 0" in msg and "'y'" not in msg, msg
    sel = re.search(r"`da\.sel\((\w+)=slice\(south, north\)\)`", msg)
    assert sel and sel.group(1) == "lat", msg
    # the advised order selects the rows on the user's array
    north, south = float(full.lat.max()), float(full.lat.min())
    assert full.sel({sel.group(1): slice(north, south)}).sizes["lat"] == full.sizes["lat"]


def test_empty_selection_of_declared_row_col_names_them(scene):
    ds = scene["lst_1km"].rename(y="row", x="col").to_dataset(name="LST")
    empty = ds.sel(row=slice(0, 1e9)).rio.set_spatial_dims(x_dim="col", y_dim="row")
    with pytest.raises(GridError, match="is empty") as err:
        xlstsr.upscale(empty, 4)
    msg = str(err.value)
    assert "along 'row'" in msg and "da.sel(row=slice(south, north))" in msg, msg
    assert "'y'" not in msg and "'x'" not in msg, msg


# -- 02 / 05: wrapped longitudes -------------------------------------------------------------

_NARROW = {"greenwich": np.r_[359.955 + 0.01 * np.arange(5), 0.005 + 0.01 * np.arange(15)],
           "antimeridian": np.r_[179.955 + 0.01 * np.arange(5), -179.995 + 0.01 * np.arange(15)]}


@pytest.mark.parametrize("case", sorted(_NARROW))
def test_scaling_stats_names_a_wrapped_longitude_and_its_fix(case):
    da = _latlon(_NARROW[case], 40.005 + 0.01 * np.arange(16)[::-1], times=2)
    with pytest.raises(GridError) as err:
        _run("scaling_stats", da)
    msg = str(err.value)
    assert "jump" in msg and "'lon'" in msg and "not square" not in msg, msg
    fixed = paste_da_advice(msg, da)
    assert np.allclose(np.diff(fixed.lon.values), 0.01)
    st = _run("scaling_stats", fixed)
    assert st.sizes["time"] == 2


_WIDE = {  # wider than 180 degrees: sorting them in -180..180 or 0..360 leaves a gap
    "0..360 300E to 200E": np.r_[300.25:360:0.5, 0.25:200:0.5],
    "-180..180 100E to 20W": np.r_[100.25:180:0.5, -179.75:-20:0.5],
    "0..360 narrow": np.r_[350.25:360:0.5, 0.25:10:0.5],
    "-180..180 170E to 60E (250 deg)": np.r_[170.25:180:0.5, -179.75:60:0.5],
}


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("case", sorted(_WIDE))
def test_wrapped_longitude_advice_unwraps_in_order(case, descending):
    lon = _WIDE[case][::-1] if descending else _WIDE[case]
    da = _latlon(lon, 40.25 - 0.5 * np.arange(8))
    with pytest.raises(GridError, match="jump") as err:
        _run("upscale", da)
    msg = str(err.value)
    assert "sortby" not in msg, msg
    fixed = paste_da_advice(msg, da)
    step = np.diff(fixed.lon.values)
    assert np.allclose(step, -0.5 if descending else 0.5)  # every column kept, no gap, in order
    assert np.allclose(fixed.lon.values % 360, lon % 360)
    assert np.abs(fixed.lon.values).max() <= 361
    out = _run("upscale", fixed)
    assert out.sizes["lon"] == 4 * lon.size and np.isfinite(out.values).all()


@pytest.mark.parametrize("descending", [False, True])
def test_wrap_advice_survives_float_error_in_the_first_label(descending):
    # labels computed as 0.005 + 0.01 * k: the first of the reversed grid is 0.14500000000000002,
    # and an unwrap cut at the first column's value sent it 360 away (review34b/01)
    lon = np.r_[359.955 + 0.01 * np.arange(5), 0.005 + 0.01 * np.arange(15)]
    lon = lon[::-1].copy() if descending else lon
    lat = 40.155 - 0.01 * np.arange(16)
    da = xr.DataArray(np.full((16, lon.size), 290.0, "f4"), dims=("lat", "lon"),
                      coords={"lat": lat, "lon": lon}, attrs={"units": "K"}).rio.write_crs(4326)
    with pytest.raises(GridError, match="jump") as err:
        xlstsr.upscale(da, 4)
    fixed = paste_da_advice(str(err.value), da)
    steps = np.diff(fixed["lon"].values)
    np.testing.assert_allclose(steps, steps[0], atol=1e-9)  # one regular grid, no jump
    assert xlstsr.upscale(fixed, 4).sizes["lon"] == 4 * lon.size
