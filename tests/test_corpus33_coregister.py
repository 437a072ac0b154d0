"""Corpus 33 (i): co-registration applied twice, the at-bound margin of a coarse grid step, NaN
shifts where nothing can be aligned, one read of lazy inputs under evaluate(coregister=True),
and the factor inferred across CRSs of other units."""

from __future__ import annotations

import warnings

import dask.array as dsa
import numpy as np
import pytest
import rioxarray  # noqa: F401
import xarray as xr

import xlstsr
from tests.helpers import moved as _moved
from tests.helpers import textured_pair, utm_field
from xlstsr.coregister import apply_offset
from xlstsr.errors import CoregistrationError, GridError

RES, F = 250.0, 4



@pytest.fixture(scope="module")
def scene() -> tuple[xr.DataArray, xr.DataArray]:
    return textured_pair()


def test_apply_offset_refuses_a_field_coregistered_already(scene):
    fine, lst = scene
    m = _moved(fine, 75.0, -175.0)
    est = xlstsr.estimate_offset(m, lst)
    once = apply_offset(m, est, lst.rio.crs)
    assert abs(float(once.x[0] - m.x[0]) + 75.0) < 5
    with pytest.raises(CoregistrationError, match="xlstsr_coregistration") as info:
        apply_offset(once, est, lst.rio.crs)
    assert "attrs.pop" in str(info.value)
    with pytest.raises(CoregistrationError, match="co-registered already"):
        xlstsr.coregister(once, lst)
    # dropping the attribute moves it again, on purpose
    again = once.copy()
    again.attrs.pop("xlstsr_coregistration")
    twice = apply_offset(again, est, lst.rio.crs)
    assert abs(float(twice.x[0] - m.x[0]) - 2 * float(once.x[0] - m.x[0])) < 1e-6


def test_coarse_search_step_does_not_flag_an_estimate_inside_the_bound(scene):
    fine, lst = scene
    m = _moved(fine, -400.0, 0.0)  # 100 m inside max_shift=500, grid step 250 m
    e = xlstsr.estimate_offset(m, lst, max_shift=500.0, search_step=250.0)  # raised before
    assert abs(float(e.shift_x) - 400.0) < 5 and bool(e.reliable)
    # beyond the bound it is still flagged
    far = _moved(fine, -700.0, 0.0)
    with pytest.raises(CoregistrationError, match="search bound"):
        xlstsr.estimate_offset(far, lst, max_shift=500.0, search_step=250.0)


def test_no_data_or_no_texture_gives_nan_shift(scene):
    fine, lst = scene
    m = _moved(fine, 75.0, -175.0)
    t = np.array(["2020-07-01", "2020-07-02", "2020-07-03"], dtype="datetime64[ns]")
    cube = xr.concat([lst, lst.where(lst < 0), lst], dim="time").assign_coords(time=t)
    with pytest.warns(UserWarning, match="only 0 LST pixels"):
        e = xlstsr.estimate_offset(m, cube, errors="warn")
    assert list(e.reliable.values) == [True, False, True]
    assert int(e.n_valid[1]) == 0
    for v in ("shift_x", "shift_y", "psf_sigma", "shift_uncertainty"):
        assert np.isnan(float(e[v][1])), v
        assert np.isfinite(float(e[v][0])), v
    # the reliable steps' offset is still applied
    moved = apply_offset(m, e, lst.rio.crs)
    assert abs(float(moved.x[0] - m.x[0]) + 75.0) < 5
    flat = utm_field(np.full((160, 160), 300.0), RES)
    with pytest.raises(CoregistrationError, match="uniform"):
        xlstsr.estimate_offset(flat, lst)
    f = xlstsr.estimate_offset(flat, lst, errors="ignore")
    assert not bool(f.reliable)
    for v in ("shift_x", "shift_y", "psf_sigma", "shift_uncertainty"):
        assert np.isnan(float(f[v])), v


def test_evaluate_coregister_reads_lazy_inputs_once(scene):
    fine, lst = scene
    m = _moved(fine, 75.0, -175.0)
    cnt = {"reference": 0, "coarse": 0}

    def lazy(a, key, chunks):
        def counted(x):
            if x.size:
                cnt[key] += 1
            return x
        return a.copy(data=dsa.from_array(a.values, chunks=chunks).map_blocks(
            counted, dtype=a.dtype))

    ref, coarse = lazy(m, "reference", 80), lazy(lst, "coarse", 40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ev = xlstsr.evaluate(fine, ref, coarse=coarse, coregister=True).compute()
    assert cnt == {"reference": 4, "coarse": 1}  # 4 chunks of the reference, 1 of coarse
    assert abs(float(ev.coregistration_shift_x) + 75.0) < 5
    assert float(ev.rmse) < 0.1


def test_evaluate_factor_across_crs_units_names_the_mismatch(scene):
    fine, lst = scene
    lst_ll = lst.rio.reproject("EPSG:4326")
    sr = fine.copy()
    sr.attrs = {"units": "K"}
    with pytest.raises(GridError) as info:
        xlstsr.evaluate(sr, fine, coarse=lst_ll)
    msg = str(info.value)
    assert "not finer" not in msg
    assert "EPSG:4326" in msg and "EPSG:32631" in msg and "factor=" in msg
    # the same CRS keeps the inferred factor
    ok = xlstsr.evaluate(sr, fine, coarse=lst)
    assert ok.attrs["factor"] == F
