"""Session 42 (d): the ResampledInputWarning's advice coarsens the whole blocks only, from where
they start (a crop of a resampled image starts mid-block: coarsened from its first pixel, most
restored pixels mixed several of the sensor's), in the user's dim names (lat/lon), whatever the
order of the user's array (south-up)."""
import re
import warnings

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr.errors import ResampledInputWarning
from xlstsr.validate import nearest_blocks


def _resampled(k=5, crop=(3, 2), south_up=False, latlon=False):
    rng = np.random.default_rng(0)
    coarse = 290.0 + 10.0 * rng.random((8, 9))
    fine = np.kron(coarse, np.ones((k, k)))[crop[0]:, crop[1]:]
    ny, nx = fine.shape
    y = 5000.0 - 100.0 * (np.arange(ny) + 0.5)
    x = 100.0 * (np.arange(nx) + 0.5)
    da = xr.DataArray(fine, dims=("y", "x"), coords={"y": y, "x": x},
                      attrs={"units": "K"}).rio.write_crs("EPSG:32633")
    if south_up:
        da = da.isel(y=slice(None, None, -1))
    if latlon:  # a geographic grid under lat/lon names
        da = da.assign_coords(y=-35.0 - (np.arange(ny) + 0.5) * 0.001,
                              x=146.0 + (np.arange(nx) + 0.5) * 0.001)
        da = da.rio.write_crs("EPSG:4326").rename(y="lat", x="lon")
    return da, coarse


def _advice(da):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        xlstsr.upscale(da, 2, method="bicubic")
    (msg,) = [str(x.message) for x in w if issubclass(x.category, ResampledInputWarning)]
    return re.search(r"`(lst[^`]*)`", msg).group(1)


def test_nearest_blocks_gives_the_phase():
    coarse = np.arange(12.0).reshape(3, 4) + 280
    assert nearest_blocks(np.kron(coarse, np.ones((5, 5)))[3:, 2:]) == (5, 2, 3)
    assert nearest_blocks(np.kron(coarse, np.ones((5, 5)))) == (5, 0, 0)
    assert nearest_blocks(coarse) == (1, 0, 0)


@pytest.mark.parametrize("south_up,latlon", [(False, False), (True, False), (False, True)])
def test_following_the_advice_restores_the_sensor_pixels(south_up, latlon):
    da, coarse = _resampled(south_up=south_up, latlon=latlon)
    code = _advice(da)
    restored = eval(code, {"lst": da})  # the advice as written, on the user's own array
    # every restored pixel is one of the sensor's, none a mix of several
    vals = restored.values.ravel()
    assert vals.size > 0 and np.isin(np.round(vals, 9), np.round(coarse, 9)).all()
    assert restored.shape == (7, 8)  # the whole blocks of the crop


def test_whole_blocks_keep_the_plain_advice():
    da, _ = _resampled(crop=(0, 0))
    assert _advice(da) == "lst.coarsen(y=5, x=5).mean()"
    da, _ = _resampled(crop=(0, 0), latlon=True)
    assert _advice(da) == "lst.coarsen(lat=5, lon=5).mean()"


def test_an_lst_placed_by_its_transform_only_is_advised_by_positions():
    from affine import Affine

    da, coarse = _resampled()
    bare = xr.DataArray(da.values, dims=("y", "x"), attrs={"units": "K"}).rio.write_crs(
        "EPSG:32633").rio.write_transform(Affine(100, 0, 0, 0, -100, 5000))
    assert "y" not in bare.coords
    code = _advice(bare)
    assert ".isel(" in code
    restored = eval(code, {"lst": bare})
    assert restored.shape == (7, 8)
    assert np.isin(np.round(restored.values.ravel(), 9), np.round(coarse, 9)).all()


def test_a_south_up_lst_placed_by_its_transform_is_advised_in_its_order():
    from affine import Affine

    da, coarse = _resampled()
    ny = da.sizes["y"]
    south = xr.DataArray(da.values[::-1], dims=("y", "x"), attrs={"units": "K"}).rio.write_crs(
        "EPSG:32633").rio.write_transform(Affine(100, 0, 0, 0, 100, 5000 - 100 * ny))
    code = _advice(south)
    restored = eval(code, {"lst": south})
    assert restored.shape == (7, 8)
    assert np.isin(np.round(restored.values.ravel(), 9), np.round(coarse, 9)).all()
