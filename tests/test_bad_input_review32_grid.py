"""Session-32 review of coarsen's north-up front door and evaluate's coarse-grid check: an
emissivity without coordinates stored as a south-up LST, a flipped window's labels kept on its
file's grid, float32 labels of a metre-scale truth at UTM northings."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr.metrics import check_coarse_grid

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
COG = os.path.join(DATA, "modis_h18v04_2020", "cogs",
                   "MOD11A1.A2020001.h18v04.061_LST_Day_1km.tif")


def _field(rng, ny=16, nx=16, res=250.0):
    y = 4000000.0 - res * (np.arange(ny) + 0.5)
    x = 500000.0 + res * (np.arange(nx) + 0.5)
    v = 290 + 10 * rng.random((ny, nx))
    return xr.DataArray(v, dims=("y", "x"), coords={"y": y, "x": x},
                        attrs={"units": "K"}).rio.write_crs("EPSG:32633")


@pytest.mark.parametrize("flip", ["y", "x", "yx"])
def test_an_emissivity_without_coordinates_is_paired_as_the_lst_is_stored(flip):
    rng = np.random.default_rng(0)
    north = _field(rng)
    e = 0.6 + 0.4 * rng.random(north.shape)  # varies within blocks
    ref = xlstsr.coarsen(north, 4, emissivity=xr.DataArray(e, dims=("y", "x")))
    rev = {d: slice(None, None, -1) for d in flip}
    stored = north.isel(rev)
    eps = xr.DataArray(e, dims=("y", "x")).isel(rev).drop_vars(["y", "x"], errors="ignore")
    out = xlstsr.coarsen(stored, 4, emissivity=eps)
    # before: each block weighted by its mirror image's emissivity (0.39 K off)
    np.testing.assert_allclose(out.values, ref.values, atol=1e-9)


def test_an_emissivity_without_coordinates_for_a_transform_only_south_up_lst():
    rng = np.random.default_rng(1)
    north = _field(rng)
    e = 0.6 + 0.4 * rng.random(north.shape)
    ref = xlstsr.coarsen(north, 4, emissivity=xr.DataArray(e, dims=("y", "x")))
    south = north.isel(y=slice(None, None, -1))
    t = south.rio.transform(recalc=True)
    bare = south.drop_vars(["y", "x"]).rio.write_transform(t)
    assert bare.rio.transform().e > 0  # a south-up transform, no labels
    out = xlstsr.coarsen(bare, 4, emissivity=xr.DataArray(e[::-1], dims=("y", "x")))
    np.testing.assert_allclose(out.values, ref.values, atol=1e-9)


@pytest.mark.skipif(not os.path.exists(COG), reason="needs ../shared/data (MODIS h18v04 COGs)")
def test_a_south_up_netcdf_window_coarsens_onto_its_files_grid(tmp_path):
    import rioxarray

    win = rioxarray.open_rasterio(COG, mask_and_scale=True).squeeze("band", drop=True)
    win = win.isel(y=slice(0, 64), x=slice(960, 1152))
    win.isel(y=slice(None, None, -1)).to_dataset(name="LST").to_netcdf(tmp_path / "s.nc")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = xr.open_dataset(tmp_path / "s.nc")
        c, c0 = xlstsr.coarsen(ds, 4), xlstsr.coarsen(win, 4)
    # before: x labels (an axis not even flipped) 2e-10 m off; upscale(c) - win dropped pixels
    np.testing.assert_array_equal(c.x.values, c0.x.values)
    np.testing.assert_array_equal(c.y.values, c0.y.values)
    assert c.rio.transform() == c0.rio.transform()


def test_float32_coarse_labels_of_a_metre_scale_truth_pass_the_grid_check():
    """A 2 m truth at northing 4.4e6 and its coarsen stored with float32 labels (0.5 m steps):
    refused as 0.065 fine pixels off, though the user did what the advice says."""
    n, res = 200, 2.0
    y = 4400000.37 - res * (np.arange(n) + 0.5)
    x = 440000.123 + res * (np.arange(n) + 0.5)
    rng = np.random.default_rng(2)
    truth = xr.DataArray(290 + rng.random((n, n)), dims=("y", "x"), coords={"y": y, "x": x},
                         attrs={"units": "K"}).rio.write_crs("EPSG:32633")
    coarse = xlstsr.coarsen(truth, 5)
    c32 = coarse.assign_coords(y=coarse.y.astype("float32"), x=coarse.x.astype("float32"))
    check_coarse_grid(truth, c32, 5)
    # a real offset of a quarter coarse pixel is still refused
    with pytest.raises(xlstsr.errors.GridError, match="fine grid"):
        check_coarse_grid(truth, coarse.assign_coords(y=coarse.y + 2.5 * res), 5)
