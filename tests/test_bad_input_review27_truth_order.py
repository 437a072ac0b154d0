"""Review 27: training put the truth north-up even when the LST had no coordinates (the flip the
review found for the guide, for the truth of "supervised" / "sif" training): a south-up pair
stored alike (a NetCDF in ascending latitude) with the LST given as a plain array trained
against its truth upside down."""

from __future__ import annotations

import numpy as np
import xarray as xr

import xlstsr
from xlstsr.grid import fine_grid
from xlstsr.train.cube import _truth_on_fine_grid


def _pair():
    s = xlstsr.datasets.sample_scene(n_times=1, size=32, seed=2)
    lst = s["lst_1km"]
    fy, fx, _ = fine_grid(lst, 4)
    rng = np.random.default_rng(0)
    truth = xr.DataArray(rng.normal(300, 3, (1, fy.size, fx.size)), dims=("time", "y", "x"),
                         coords={"time": lst.time.values, "y": fy, "x": fx})
    return lst, truth


def test_a_south_up_truth_beside_an_lst_without_coordinates_is_kept_as_stored():
    lst, truth = _pair()
    truth_su = truth.isel(y=slice(None, None, -1))  # stored south-up, as its LST is
    lst_plain = xr.DataArray(lst.isel(y=slice(None, None, -1)).values, dims=lst.dims,
                             coords={"time": lst.time.values})
    got = _truth_on_fine_grid(truth_su, lst_plain, 4)
    np.testing.assert_array_equal(got.values, truth_su.values)  # before: flipped alone


def test_a_south_up_truth_beside_an_lst_with_coordinates_is_put_north_up():
    lst, truth = _pair()
    got = _truth_on_fine_grid(truth.isel(y=slice(None, None, -1)), lst, 4)
    np.testing.assert_array_equal(got.values, truth.values)
