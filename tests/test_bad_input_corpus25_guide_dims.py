"""Guides whose dims are not in (..., y, x) order, found wanting in session 25."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import make_lst

import xlstsr
from xlstsr.errors import GuideAlignmentWarning
from xlstsr.grid import align_guide

ORDERS_3D = [("y", "x", "time"), ("time", "x", "y"), ("x", "time", "y")]


def _lst_and_guide(ndim: int):
    """A 1 km LST and a 300 m guide (not nested under the 250 m fine grid: it is resampled)."""
    rng = np.random.default_rng(25)
    shape = (3, 4, 4) if ndim == 3 else (4, 4)
    lst = make_lst(np.full(shape, 300.0))
    gshape = (3, 15, 15) if ndim == 3 else (15, 15)
    guide = make_lst(rng.random(gshape), res=300.0)
    if ndim == 3:
        lst = lst.assign_coords(time=[0, 1, 2])
        guide = guide.assign_coords(time=[0, 1, 2])
    return lst, guide


def _aligned(guide, lst):
    with pytest.warns(GuideAlignmentWarning, match="reprojected onto the fine LST grid"):
        return align_guide(guide, lst, 4)


@pytest.mark.parametrize("lazy", [False, True], ids=["numpy", "dask"])
@pytest.mark.parametrize("order", ORDERS_3D, ids=lambda o: ",".join(o))
def test_resampled_guide_in_any_dim_order_equals_time_y_x(order, lazy):
    """An in-memory guide ordered (y, x, time) or (time, x, y) that needs resampling crashed
    with rioxarray's InvalidDimensionOrder (a dask one worked): its spatial dims are now put
    last before the reprojection, and the result is the (time, y, x) guide's, exactly."""
    lst, guide = _lst_and_guide(3)
    ref = _aligned(guide, lst)
    g = guide.transpose(*order)
    if lazy:
        g = g.chunk({"time": 1})
    out = _aligned(g, lst)
    assert out.dims == ref.dims == ("time", "y", "x")
    assert out.rio.transform() == ref.rio.transform()
    np.testing.assert_array_equal(out.values, ref.values)
    np.testing.assert_array_equal(out.time.values, ref.time.values)


@pytest.mark.parametrize("lazy", [False, True], ids=["numpy", "dask"])
def test_resampled_2d_guide_x_y_equals_y_x(lazy):
    """A single-image guide stored (x, y) (e.g. a numpy array written column-major)."""
    lst, guide = _lst_and_guide(2)
    ref = _aligned(guide, lst)
    g = guide.transpose("x", "y")
    if lazy:
        g = g.chunk()
    out = _aligned(g, lst)
    assert out.dims == ref.dims == ("y", "x")
    np.testing.assert_array_equal(out.values, ref.values)


@pytest.mark.parametrize("order", [("y", "x", "time"), ("time", "x", "y")], ids=lambda o: ",".join(o))
def test_package_ndvi_transposed_upscales_as_time_y_x(order):
    """The package's own 1 km MOD13A2 NDVI (resampled onto the fine grid), transposed, upscales
    the LST exactly as it does in (time, y, x) order, in memory and lazily."""
    ds = xlstsr.datasets.modis_sample()[["lst_day", "ndvi"]].isel(time=slice(0, 2))
    lst, ndvi = ds["lst_day"].load(), ds["ndvi"].load()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = lst.lstsr.upscale(2, "tsharp", guide=ndvi)
        for g in (ndvi.transpose(*order), ndvi.chunk().transpose(*order)):
            out = lst.lstsr.upscale(2, "tsharp", guide=g)
            assert out.dims == ref.dims
            np.testing.assert_array_equal(out.values, ref.values)
