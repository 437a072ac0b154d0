"""coarsen(emissivity=...) with an emissivity whose dims are not exactly the LST's: its steps
are paired with the LST's by label, a ``band=1`` dim (rioxarray's) is dropped, and dates or
dims that cannot be paired are refused by name (they made a date all gaps without a word, or
raised numpy's / xarray's own errors)."""

from __future__ import annotations

import warnings

import dask
import dask.array as dsa
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import xlstsr
from xlstsr import errors


@pytest.fixture(scope="module")
def scene():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = xlstsr.datasets.sample_scene(n_times=3, size=32)
    lst = s["lst_250m"]
    static = xr.full_like(s["ndvi_250m"], 0.97)
    rng = np.random.default_rng(0)
    steps = xr.concat([static * (0.98 + 0.02 * rng.random(static.shape)) for _ in range(3)],
                      "time").assign_coords(time=lst.time)
    return lst, static, steps


def _coarsen(lst, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scattered cloud: "kept n of m coarse pixels"
        return xlstsr.coarsen(lst, 4, **kw)


def test_a_band_1_emissivity_is_the_static_one(scene):
    lst, static, _ = scene
    got = _coarsen(lst, emissivity=static.expand_dims(band=[1]))  # xarray's transpose error
    assert got.dims == lst.dims
    np.testing.assert_array_equal(got.values, _coarsen(lst, emissivity=static).values)


def test_an_emissivity_lacking_a_date_is_refused(scene):
    lst, _, steps = scene
    # that date came back all gaps, without a word
    with pytest.raises(errors.GridError, match=r"(?s)'time' labels differ.*common.*static emissivity"):
        _coarsen(lst, emissivity=steps.isel(time=[0, 2]))


def test_an_emissivity_of_other_dates_is_refused(scene):
    lst, _, steps = scene
    other = steps.assign_coords(time=steps.time + pd.Timedelta("1D"))
    with pytest.raises(errors.GridError, match=r"(?s)'time' labels differ.*static emissivity"):
        _coarsen(lst, emissivity=other)  # numpy's broadcast error


def test_a_time_varying_emissivity_of_one_lst_date_is_refused(scene):
    lst, _, steps = scene
    with pytest.raises(errors.GridError, match=r"dim 'time' \(3 steps\) but the LST has one step"):
        _coarsen(lst.isel(time=0, drop=True), emissivity=steps)  # xarray's transpose error
    with pytest.raises(errors.GridError, match=r"emissivity\.sel\(time=lst\['time'\]\.values\)"):
        _coarsen(lst.isel(time=0), emissivity=steps)
    # its one matching step is that date's emissivity
    one = _coarsen(lst.isel(time=1), emissivity=steps.isel(time=[1]))
    np.testing.assert_array_equal(one.values, _coarsen(lst, emissivity=steps).isel(time=1).values)


def test_another_extra_dim_is_refused(scene):
    lst, static, _ = scene
    bands = xr.concat([static] * 2, "band").assign_coords(band=[1, 2])
    with pytest.raises(errors.GridError, match=r"dim 'band' \(2 steps\) that the LST lacks"):
        _coarsen(lst, emissivity=bands)
    unlabelled = lst.drop_vars("time")
    # (since session 28 the step pairing names it first: neither has labels, 2 vs 3 steps)
    with pytest.raises(errors.GridError, match="neither has 'time' labels"):
        _coarsen(unlabelled, emissivity=scene[2].drop_vars("time").isel(time=[0, 1]))


def test_emissivity_steps_are_paired_by_label(scene):
    lst, _, steps = scene
    ref = _coarsen(lst, emissivity=steps)
    shuffled = _coarsen(lst, emissivity=steps.isel(time=[2, 0, 1]))
    np.testing.assert_array_equal(shuffled.values, ref.values)
    sub = _coarsen(lst.isel(time=[0, 2]), emissivity=steps)  # a superset of the LST's dates
    np.testing.assert_array_equal(sub.values, ref.isel(time=[0, 2]).values)


def test_a_lazy_emissivity_is_paired_without_computing(scene):
    lst, _, steps = scene

    def refuse(*args, **kwargs):
        raise AssertionError("computed at call time")

    lazy_lst = lst.chunk({"y": 16})
    lazy_eps = steps.chunk({"y": 16}).expand_dims(band=[1]).isel(time=[2, 0, 1])
    with dask.config.set(scheduler=refuse):
        got = _coarsen(lazy_lst, emissivity=lazy_eps)
        with pytest.raises(errors.GridError, match="'time' labels differ"):
            _coarsen(lazy_lst, emissivity=lazy_eps.isel(time=[0, 1]))
    assert isinstance(got.data, dsa.Array)
    np.testing.assert_array_equal(got.values, _coarsen(lst, emissivity=steps).values)
