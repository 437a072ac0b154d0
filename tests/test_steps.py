"""Pairing two fields' steps by label (xlstsr.steps): one rule for every function that compares or
fits two fields pixel by pixel."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import xlstsr
from xlstsr import errors
from xlstsr.steps import pair_steps

T = pd.to_datetime(["2020-07-01", "2020-07-02", "2020-07-03"])


def field(times=T, offset=0.0):
    v = 300.0 + offset + np.arange(len(times))[:, None, None] + np.zeros((len(times), 4, 4))
    return xr.DataArray(v, dims=("time", "y", "x"),
                        coords={"time": times, "y": np.arange(4.0), "x": np.arange(4.0)})


def test_another_order_and_a_superset_are_put_in_the_order_of_like():
    like = field()
    out = pair_steps(field().isel(time=[2, 0, 1]), like)
    xr.testing.assert_identical(out, like)
    sub = like.isel(time=[0, 2])
    xr.testing.assert_identical(pair_steps(field(), sub), sub)  # the extra step is left out


def test_missing_steps_repeats_and_extra_dims_are_refused():
    like = field()
    with pytest.raises(errors.GridError, match=r"truth's 'time' labels differ.*1 of.*2020-07-03.*truth.sel"):
        pair_steps(field().isel(time=[0, 1]), like, "truth")
    with pytest.raises(errors.GridError, match=r"repeated 'time' labels.*truth.isel"):
        pair_steps(field().isel(time=[0, 1, 2, 2]), like, "truth")
    with pytest.raises(errors.GridError, match=r"has a dim 'band' \(2 steps\)"):
        pair_steps(field().expand_dims(band=2).transpose("band", "time", "y", "x"), like, "truth")
    with pytest.raises(errors.GridError, match="none of them that one"):
        pair_steps(field().isel(time=0).assign_coords(time=pd.Timestamp("2021-01-01")), like)
    # a size-1 extra dim, or no labels at all, pairs as it is
    assert pair_steps(field().expand_dims(band=1), like).sizes["band"] == 1
    bare = field().drop_vars("time")
    assert pair_steps(bare, like) is bare


def test_hours_apart_are_named_as_one_overpass_dated_two_ways():
    like = field()
    acq = field(T + pd.Timedelta("10h30min"))
    with pytest.raises(errors.GridError, match=r"differ by up to 0 days 10:30.*method='nearest'"):
        pair_steps(acq, like, "truth")


def test_estimate_offset_pairs_fine_images_by_label():
    s = xlstsr.datasets.sample_scene(n_times=2, size=64)
    fine, lst = s["lst_250m"], s["lst_1km"]
    a = xlstsr.estimate_offset(fine, lst)
    b = xlstsr.estimate_offset(fine.isel(time=[1, 0]), lst)  # refused before: another order
    xr.testing.assert_allclose(a, b)  # each LST step with its own fine image
