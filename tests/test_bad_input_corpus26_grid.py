"""Twenty-sixth round of bad inputs (grid): a field stored south-up (NetCDF latitude ascending)
under the north-up GeoTransform of the file it came from got fine labels ~1e-14 degree off those
of the same field stored north-up, and results whose written pixel was the one recomputed from
the labels (0.025 for the file's 0.025000000000000015), which does not give them back: xarray's
arithmetic (``sr - back``) then joined away most pixels.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rioxarray
import xarray as xr
from affine import Affine

import xlstsr
from xlstsr.grid import MODIS_250M, MODIS_SINUSOIDAL, coarse_grid, fine_grid, with_grid
from xlstsr.grid import _transform as grid_transform

#: The SEVIRI Athens file's exact GeoTransform (/work/shared/data/seviri_athens), whose pixel
#: the labels recompute as 0.05, and a MODIS 250 m tile's (factor 3 computes it another way).
_SEVIRI = (Affine(0.05000000000000003, 0.0, 23.175000763, 0.0, -0.049999999999999864, 38.525),
           "EPSG:4326")
_MODIS = (Affine(MODIS_250M, 0.0, -20015109.354 + 17 * 4800 * MODIS_250M + 333 * MODIS_250M, 0.0,
                 -MODIS_250M, 10007554.677 - 12 * 4800 * MODIS_250M - 3 * MODIS_250M),
          MODIS_SINUSOIDAL)
_FLIPS = [("y",), ("x",), ("y", "x")]


def _geotiff(tmp_path, t: Affine, crs: str, n: int = 42) -> xr.DataArray:
    """A field as rioxarray reads it from a GeoTIFF with transform ``t``."""
    rng = np.random.default_rng(0)
    da = xr.DataArray((300 + rng.standard_normal((n, n))).astype(np.float32), dims=("y", "x"))
    path = tmp_path / "lst.tif"
    da.rio.write_crs(crs).rio.write_transform(t).rio.to_raster(path)
    return rioxarray.open_rasterio(path).squeeze("band", drop=True).load().rename("lst")


def _flip(da: xr.DataArray, flip: tuple[str, ...]) -> xr.DataArray:
    """``da`` stored the other way along ``flip``, keeping the file's (north-up) GeoTransform,
    as a NetCDF with latitude ascending holds it."""
    return da.isel({d: slice(None, None, -1) for d in flip})


def _rev(v: np.ndarray, d: str, flip: tuple[str, ...]) -> np.ndarray:
    return v[::-1] if d in flip else v


@pytest.mark.parametrize("flip", _FLIPS)
@pytest.mark.parametrize("factor", [2, 3, 4])
@pytest.mark.parametrize("grid", ["seviri", "modis_250m"])
def test_fine_grid_of_a_south_up_field_is_the_north_up_fields(tmp_path, grid, factor, flip):
    """fine_grid of the flipped field recomputed its transform from the labels: 32 of the 42 y
    labels of the SEVIRI field's were 1e-14 degree off the north-up field's, its pixel 0.025."""
    t, crs = _SEVIRI if grid == "seviri" else _MODIS
    north = _geotiff(tmp_path, t, crs)
    south = _flip(north, flip)
    ny, nx, nt = fine_grid(north, factor)
    sy, sx, st = fine_grid(south, factor)
    np.testing.assert_array_equal(_rev(sy, "y", flip), ny)
    np.testing.assert_array_equal(_rev(sx, "x", flip), nx)
    # the exact pixel, run the way of the labels
    assert st.e == (-nt.e if "y" in flip else nt.e) and st.a == (-nt.a if "x" in flip else nt.a)
    # the coarse grid of the same flipped field agrees too, with the exact pixel
    n = north.sizes["y"] // factor * factor
    cy, cx, ct = coarse_grid(_flip(north.isel(y=slice(0, n), x=slice(0, n)), flip), factor)
    my, mx, mt = coarse_grid(north.isel(y=slice(0, n), x=slice(0, n)), factor)
    np.testing.assert_array_equal(_rev(cy, "y", flip), my)
    np.testing.assert_array_equal(_rev(cx, "x", flip), mx)
    assert ct.e == (-mt.e if "y" in flip else mt.e) and ct.a == (-mt.a if "x" in flip else mt.a)


@pytest.mark.parametrize("flip", _FLIPS)
def test_coarsen_of_a_south_up_field_writes_the_exact_transform(tmp_path, flip):
    """xlstsr.coarsen of the flipped SEVIRI field wrote the transform recomputed from its
    labels; flipped north-up (as upscale takes it) it gave fine labels off the north-up field's
    (``upscale(coarsen(south)) - north`` dropped pixels). coarsen flips the field north-up at
    the front door (corpus32), so its result is the north-up field's, exactly."""
    north = _geotiff(tmp_path, *_SEVIRI)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c_south = xlstsr.coarsen(_flip(north, flip), 2)
        c_north = xlstsr.coarsen(north, 2)
    back = c_south  # north-up already
    assert back.rio.transform() == grid_transform(back) == c_north.rio.transform()
    fy, fx, ft = fine_grid(back, 2)
    ny, nx, nt = fine_grid(c_north, 2)
    np.testing.assert_array_equal(fy, ny)
    np.testing.assert_array_equal(fx, nx)
    np.testing.assert_array_equal(fy, north.y.values)
    np.testing.assert_array_equal(fx, north.x.values)
    assert ft == nt


def test_south_up_seviri_netcdf_fine_grid_round_trips(shared_data, tmp_path):
    """The real SEVIRI Athens field stored south-up in a NetCDF: its fine grid is the north-up
    file's reversed, and coarse_grid of a field on it gives back the NetCDF's labels."""
    f = shared_data / "seviri_athens" / "LSALST_20180819_Athens_15min.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sev = rioxarray.open_rasterio(f).isel(band=0, drop=True).load().rename("LST")
    sev.encoding = {}
    sev.isel(y=slice(None, None, -1)).to_netcdf(tmp_path / "south.nc")
    with xr.open_dataset(tmp_path / "south.nc", decode_coords="all") as ds:
        south = ds["LST"].load()
    assert south.y.values[0] < south.y.values[-1]
    fy, fx, ft = fine_grid(south, 2)
    ny, nx, nt = fine_grid(sev, 2)
    np.testing.assert_array_equal(fy[::-1], ny)
    np.testing.assert_array_equal(fx, nx)
    assert (ft.a, ft.e) == (nt.a, -nt.e)
    fine = with_grid(np.zeros((fy.size, fx.size), np.float32), south, fy, fx, ft, ("y", "x"))
    cy, cx, _ = coarse_grid(fine, 2)
    np.testing.assert_array_equal(cy, south.y.values)
    np.testing.assert_array_equal(cx, south.x.values)


def test_upscale_of_a_south_up_netcdf_is_on_the_north_up_fields_grid(tmp_path):
    """The reproducer corpus26b/02: upscale of the field stored south-up came back north-up
    with 15 of 42 y and 5 of 42 x labels 2e-14 degree off those of the field stored north-up
    (``sr_south - sr_north`` kept 23 x 32 of 42 x 42 pixels)."""
    north = _geotiff(tmp_path, *_SEVIRI, n=21).assign_attrs(units="K")
    north.encoding = {}
    north.isel(y=slice(None, None, -1)).to_netcdf(tmp_path / "south.nc")
    with xr.open_dataset(tmp_path / "south.nc", decode_coords="all") as ds:
        south = ds["lst"].load()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sr_s, sr_n = xlstsr.upscale(south, 2), xlstsr.upscale(north, 2)
    np.testing.assert_array_equal(sr_s.y.values, sr_n.y.values)
    np.testing.assert_array_equal(sr_s.x.values, sr_n.x.values)
    assert sr_s.rio.transform() == sr_n.rio.transform()
