"""A guide given as a list of bands, each with its own scalar date, is matched band by band
with the LST's dates (probe 45m/01: concatenated, the dates became labels along the bands
that no check read, and an NDVI 20 days off, refused alone, was used beside a same-day band)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr.errors import GuideTimeError


@pytest.fixture(scope="module")
def scene():
    s = xlstsr.datasets.sample_scene(n_times=1, size=32)
    return s["lst_1km"], s["ndvi_250m"]


def _run(lst, guide):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xlstsr.upscale(lst, 4, method="tsharp", guide=guide,
                              guide_offset="ignore").compute()


def test_a_band_of_another_date_is_refused_beside_a_same_day_band(scene):
    lst, g = scene
    t0 = lst.time.values[0]
    late = g.assign_coords(time=t0 + np.timedelta64(20, "D"))
    albedo = (0.3 - 0.1 * g).rename("albedo").assign_coords(time=t0)
    with pytest.raises(GuideTimeError, match="guide band"):
        _run(lst, [late, albedo])


def test_bands_of_the_lst_date_run_as_undated_bands(scene):
    lst, g = scene
    t0 = lst.time.values[0]
    albedo = (0.3 - 0.1 * g).rename("albedo")
    dated = _run(lst, [g.assign_coords(time=t0), albedo.assign_coords(time=t0)])
    undated = _run(lst, [g, albedo])
    xr.testing.assert_identical(dated.drop_attrs(), undated.drop_attrs())


def test_a_static_band_beside_two_dated_bands(scene):
    """Review 45k/3: xarray's concat failed ('time' not present in all datasets)."""
    lst, g = scene
    t0 = lst.time.values[0]
    albedo = (0.3 - 0.1 * g).rename("albedo")
    dem = (100.0 * g).rename("dem")
    dated = _run(lst, [g.assign_coords(time=t0), albedo.assign_coords(time=t0), dem])
    undated = _run(lst, [g, albedo, dem])
    xr.testing.assert_identical(dated.drop_attrs(), undated.drop_attrs())


def test_a_band_of_another_date_against_a_scalar_date_lst(scene):
    """Review 45k/2: an LST of one date as a scalar coordinate took the late band silently."""
    lst, g = scene
    t0 = lst.time.values[0]
    late = g.assign_coords(time=t0 + np.timedelta64(20, "D"))
    albedo = (0.3 - 0.1 * g).rename("albedo").assign_coords(time=t0)
    with pytest.raises(GuideTimeError, match="guide band"):
        _run(lst.isel(time=0), [late, albedo])


def test_a_dataset_guide_of_another_date_is_advised_drop_vars(scene):
    """Review 45k/1: the advice (squeeze a dim the guide did not have) raised KeyError."""
    lst, g = scene
    t0 = lst.time.values[0]
    ds = xr.Dataset({"ndvi": g, "albedo": (0.3 - 0.1 * g)}).assign_coords(
        time=t0 + np.timedelta64(20, "D"))
    with pytest.raises(GuideTimeError, match=r"drop_vars\('time'\)") as err:
        _run(lst, ds)
    assert "squeeze" not in str(err.value)
    _run(lst, ds.drop_vars("time"))  # as advised: static bands
