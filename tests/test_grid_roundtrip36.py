"""upscale(coarsen(t), f) gives back t's labels on a whole grid (offset 0 from its own edge) at
factors where the coarse pixel divided back by f is not the fine one ((a * f) / f != a): the
fine labels drifted 1 ulp and xarray's arithmetic between the result and t dropped most pixels."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from affine import Affine
from rioxarray.rioxarray import affine_to_coords

import xlstsr
from xlstsr.grid import FINE_ORIGIN

# the MODIS h18v04 1 km COG's transform (read with rioxarray), a 0.05-degree CMG grid, MODIS
# 500 m, a rounded 463.3127 m
MODIS_TR = Affine(926.6254331391667, 0.0, 0.0, 0.0, -926.6254331391667, 5559752.598833)
CMG_TR = Affine(0.05, 0.0, -10.0, 0.0, -0.05, 60.0)
HALF_TR = Affine(463.3127165279167, 0.0, -1111950.519767, 0.0, -463.3127165279167, 5559752.598833)
ROUND_TR = Affine(463.3127, 0.0, -1111950.0, 0.0, -463.3127, 5559752.0)


def _field(tr: Affine, n: int, crs: str) -> xr.DataArray:
    """A field with the labels rioxarray computes from ``tr`` (as open_rasterio gives them)."""
    co = affine_to_coords(tr, n, n)
    rng = np.random.default_rng(0)
    da = xr.DataArray(290.0 + rng.random((n, n)), dims=("y", "x"),
                      coords={"y": co["y"], "x": co["x"]}, attrs={"units": "K"})
    return da.rio.write_crs(crs).rio.write_transform(tr)


def _roundtrip(t: xr.DataArray, factor: int) -> xr.DataArray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xlstsr.upscale(xlstsr.coarsen(t, factor), factor, method="nearest")


@pytest.mark.parametrize(("tr", "crs", "factor"), [
    (MODIS_TR, "ESRI:53008", 3), (MODIS_TR, "ESRI:53008", 6),
    (CMG_TR, "EPSG:4326", 3), (CMG_TR, "EPSG:4326", 6),
    (HALF_TR, "ESRI:53008", 3), (HALF_TR, "ESRI:53008", 6), (ROUND_TR, "ESRI:53008", 5),
])
def test_whole_grid_labels_come_back(tr: Affine, crs: str, factor: int) -> None:
    assert (tr.a * factor) / factor != tr.a  # the case: the pixel does not divide back
    t = _field(tr, 210, crs)
    sr = _roundtrip(t, factor)
    np.testing.assert_array_equal(sr.x.values, t.x.values)
    np.testing.assert_array_equal(sr.y.values, t.y.values)
    assert (sr - t).shape == t.shape  # xarray's join keeps every pixel


@pytest.mark.parametrize("factor", [3, 6])
def test_coarse_labels_are_those_of_the_coarse_transform(factor: int) -> None:
    # the coarse labels stay rioxarray's of the coarse grid; only the attribute is added
    t = _field(CMG_TR, 36, "EPSG:4326")
    c = xlstsr.coarsen(t, factor)
    co = affine_to_coords(CMG_TR * Affine.scale(factor), 36 // factor, 36 // factor)
    np.testing.assert_array_equal(c.x.values, co["x"])
    np.testing.assert_array_equal(c.y.values, co["y"])
    assert FINE_ORIGIN in c.x.attrs  # x's pixel does not divide back; y's from 60 round-trips


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_grids_that_round_trip_get_no_attribute(factor: int) -> None:
    t = _field(CMG_TR, 48, "EPSG:4326")
    c = xlstsr.coarsen(t, factor)
    assert FINE_ORIGIN not in c.x.attrs and FINE_ORIGIN not in c.y.attrs
    np.testing.assert_array_equal(_roundtrip(t, factor).x.values, t.x.values)


def test_round_decimal_labels_200_columns_factor_8() -> None:
    # a NetCDF's labels rounded to their decimals (10.005, 10.015, ...), no transform written
    x = np.round(10.005 + np.arange(200) * 0.01, 3)
    y = np.round(49.995 - np.arange(16) * 0.01, 3)
    t = xr.DataArray(np.full((16, 200), 300.0), dims=("y", "x"), coords={"y": y, "x": x},
                     attrs={"units": "K"}).rio.write_crs("EPSG:4326")
    for factor in (4, 8):
        sr = _roundtrip(t, factor)
        np.testing.assert_array_equal(sr.x.values, t.x.values)
        np.testing.assert_array_equal(sr.y.values, t.y.values)


def test_linspace_labels_come_back() -> None:
    t = xr.DataArray(np.full((16, 16), 300.0), dims=("y", "x"),
                     coords={"y": np.linspace(50.0, 40.0, 16), "x": np.linspace(10.0, 20.0, 16)},
                     attrs={"units": "K"}).rio.write_crs("EPSG:4326")
    sr = _roundtrip(t, 2)
    np.testing.assert_array_equal(sr.y.values, t.y.values)
    np.testing.assert_array_equal(sr.x.values, t.x.values)


def test_coarsen_of_the_result_and_a_second_round_trip() -> None:
    # upscale's result carries the origin of factor 1: coarsened again, it gets the same coarse
    # labels, and those give the fine ones back again
    t = _field(MODIS_TR, 84, "ESRI:53008")
    c = xlstsr.coarsen(t, 3)
    sr = xlstsr.upscale(c, 3, method="nearest")
    c2 = xlstsr.coarsen(sr, 3)
    np.testing.assert_array_equal(c2.x.values, c.x.values)
    np.testing.assert_array_equal(c2.y.values, c.y.values)
    sr2 = xlstsr.upscale(c2, 3, method="nearest")
    np.testing.assert_array_equal(sr2.x.values, t.x.values)
    np.testing.assert_array_equal(sr2.y.values, t.y.values)


def test_a_prefix_window_of_the_coarse_result_keeps_its_origin() -> None:
    t = _field(CMG_TR, 36, "EPSG:4326")
    c = xlstsr.coarsen(t, 3).isel(y=slice(0, 6), x=slice(0, 6))
    sr = xlstsr.upscale(c, 3, method="nearest")
    np.testing.assert_array_equal(sr.x.values, t.x.values[:18])
    np.testing.assert_array_equal(sr.y.values, t.y.values[:18])


def test_stale_origin_of_shifted_labels_is_ignored() -> None:
    t = _field(CMG_TR, 36, "EPSG:4326")
    c = xlstsr.coarsen(t, 3)
    shifted = c.assign_coords(x=("x", c.x.values + 1.0, dict(c.x.attrs)))
    bare = c.assign_coords(x=("x", c.x.values + 1.0))
    assert FINE_ORIGIN in shifted.x.attrs and FINE_ORIGIN not in bare.x.attrs
    a = xlstsr.upscale(shifted, 3, method="nearest")
    b = xlstsr.upscale(bare, 3, method="nearest")
    np.testing.assert_array_equal(a.x.values, b.x.values)  # the attribute is not used
    np.testing.assert_array_equal(xlstsr.coarsen(a, 3).x.values, shifted.x.values)


@pytest.mark.parametrize("offset", [1, 5, 7])
def test_a_window_of_a_north_up_file_keeps_its_origin_on_y(offset: int) -> None:
    """A window of a 0.05 degree file (its transform left written) at factor 2: its y (the
    north-up axis) lost its crop origin when whole grids got theirs (review 36a)."""
    tr = Affine(0.05, 0, -10.0, 0, -0.05, 60.0)
    co = affine_to_coords(tr, 120, 120)
    f = xr.DataArray(290 + np.random.default_rng(0).random((120, 120)), dims=("y", "x"),
                     coords={"y": co["y"], "x": co["x"]}, attrs={"units": "K"}
                     ).rio.write_crs("EPSG:4326").rio.write_transform(tr)
    w = f.isel(y=slice(offset, offset + 24), x=slice(offset, offset + 24))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sr = xlstsr.upscale(xlstsr.coarsen(w, 2), 2, method="nearest")
    np.testing.assert_array_equal(sr.y.values, w.y.values)
    np.testing.assert_array_equal(sr.x.values, w.x.values)
    assert (sr - w).size == w.size
