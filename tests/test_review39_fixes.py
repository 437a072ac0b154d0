"""Regressions found by this session's reviews of its own fixes (review 39d): a static
emissivity carrying a date under another name than the LST's steps."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from xlstsr.degrade import coarsen


@pytest.mark.parametrize("dates", [{"date": "2020-06-25"},
                                   {"time": "2020-06-25", "composite_start": "2020-06-25"}])
def test_static_emissivity_with_a_date_of_another_name_is_used_for_every_step(dates):
    """The new check of one-date fields on a dim the LST lacks refused it ("each would be
    compared with the emissivity of that one date"), with a rename advice that failed."""
    n = 16
    y, x = np.arange(n)[::-1] * 250.0 + 125, np.arange(n) * 250.0 + 125
    rng = np.random.default_rng(0)
    times = pd.to_datetime(["2020-07-01T10:30", "2020-07-03T10:30"])
    lst = xr.DataArray(295 + 3 * rng.random((2, n, n)), dims=("time", "y", "x"),
                       coords={"time": times, "y": y, "x": x},
                       attrs={"units": "K"}).rio.write_crs("EPSG:32631")
    eps = xr.DataArray(0.97 + 0.01 * rng.random((n, n)), dims=("y", "x"),
                       coords={"y": y, "x": x,
                               **{k: np.datetime64(v) for k, v in dates.items()}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        out = coarsen(lst, 4, emissivity=eps)
        ref = coarsen(lst, 4, emissivity=eps.drop_vars(list(dates)))
    np.testing.assert_array_equal(out.values, ref.values)


def test_far_emissivity_date_of_its_own_name_warns_with_the_lsts_dim():
    """An emissivity dated under its own name, far from an LST of a scalar time (or with a
    band before time), gave no warning, and the warning named its own date as the dim to
    pair along, which was then refused (review 39f)."""
    n = 16
    y, x = np.arange(n)[::-1] * 250.0 + 125, np.arange(n) * 250.0 + 125
    rng = np.random.default_rng(0)
    lst = xr.DataArray(295 + 3 * rng.random((2, n, n)), dims=("time", "y", "x"),
                       coords={"time": pd.to_datetime(["2020-07-01T10:30", "2020-07-03T10:30"]),
                               "y": y, "x": x}, attrs={"units": "K"}).rio.write_crs("EPSG:32631")
    eps = xr.DataArray(0.97 + 0.01 * rng.random((n, n)), dims=("y", "x"),
                       coords={"y": y, "x": x, "composite_start": np.datetime64("2020-01-01")})
    for field in (lst, lst.isel(time=0), lst.expand_dims(band=[1])):
        with pytest.warns(UserWarning, match=r"182 days.*`time` as a dim"):
            coarsen(field, 4, emissivity=eps)
