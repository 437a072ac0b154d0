"""A CRS with a vertical axis (compound EPSG:2263+5703: US survey feet + NAVD88 height in metres;
a 3-D projected CRS) is read in its horizontal unit, not its height's (probe 44)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from pyproj import CRS

import xlstsr
from xlstsr.errors import GridError
from xlstsr.grid import grid_unit, horizontal_metres_per_unit
from xlstsr.scaling import _ground_pixel, pixel_size

FT = 0.30480060960121924  # metres per US survey foot
VERTICAL = ["EPSG:2263+5703", CRS("EPSG:2263").to_3d().to_wkt()]


def _feet_lst(crs: str, n: int = 32, res: float = 800.0, **coord_attrs) -> xr.DataArray:
    """An LST on 800 ft (~244 m) pixels of New York Long Island's grid, in ``crs``."""
    y = 200000 - res * (np.arange(n) + 0.5)
    x = 980000 + res * (np.arange(n) + 0.5)
    d = 290 + 5 * np.random.default_rng(0).standard_normal((n, n))
    da = xr.DataArray(d, dims=("y", "x"), coords={"y": y, "x": x}, attrs={"units": "K"})
    da = da.assign_coords(x=da.x.assign_attrs(**coord_attrs), y=da.y.assign_attrs(**coord_attrs))
    return da.rio.write_crs(crs)


@pytest.mark.parametrize("crs", VERTICAL, ids=["compound", "projected3d"])
def test_grid_unit_is_the_horizontal_axes(crs: str) -> None:
    unit, kind = grid_unit(_feet_lst(crs), "y", "x", False)
    assert kind == "m"
    assert unit == pytest.approx(FT, rel=1e-12)  # was 1.0: the height's metres


def test_horizontal_metres_per_unit() -> None:
    assert horizontal_metres_per_unit(CRS("EPSG:2263+5703")) == pytest.approx(FT, rel=1e-12)
    assert horizontal_metres_per_unit(CRS("EPSG:32631")) == 1.0
    assert horizontal_metres_per_unit(CRS("+proj=tmerc +to_meter=1000")) == 1000.0
    assert horizontal_metres_per_unit(CRS("EPSG:5703")) is None  # a height only: no grid unit


@pytest.mark.parametrize("crs", VERTICAL, ids=["compound", "projected3d"])
def test_coarsen_psf_blurs_in_ground_metres(crs: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flat = xlstsr.coarsen(_feet_lst("EPSG:2263"), 4, psf="modis")
        other = xlstsr.coarsen(_feet_lst(crs), 4, psf="modis")
    # the PSF's sigma in pixels: was 3.3x too small (feet pixels taken for metres)
    np.testing.assert_allclose(other.values, flat.values, rtol=0, atol=1e-9)


@pytest.mark.parametrize("crs", VERTICAL, ids=["compound", "projected3d"])
def test_scaling_pixel_and_ground_step_in_metres(crs: str) -> None:
    da = _feet_lst(crs)
    size, unit = pixel_size(da)
    assert unit == "m" and size == pytest.approx(800 * FT, rel=1e-9)  # was 800 "m"
    # one pixel step on the ground: ~244 m (was ~74 m, the metres read as feet)
    g = _ground_pixel(da, size, size)
    assert g is not None
    assert g["gx"] == pytest.approx(800 * FT, rel=1e-3)
    assert g["gy"] == pytest.approx(800 * FT, rel=1e-3)


@pytest.mark.parametrize("crs", ["EPSG:2263", *VERTICAL], ids=["flat", "compound", "projected3d"])
def test_metre_labelled_coordinates_refused_under_feet(crs: str) -> None:
    da = _feet_lst(crs, units="m")
    with pytest.raises(GridError, match=r"units of 0\.3048"):
        xlstsr.coarsen(da, 4)
