"""Round 53 fixes: a fine LST declared in degrees Celsius co-registered as a temperature,
apply_offset / misfit_surface at the top level, evaluate warning about steps scored on no pixel.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import textured_pair

import xlstsr


def _in_celsius(fine):
    out = fine - 273.15
    out.attrs = {**fine.attrs, "units": "degC"}
    return out


def test_fine_lst_in_degc_is_aggregated_through_radiance():
    fine, lst = textured_pair(n=96)
    fine = fine.assign_coords(x=fine.x + 60.0)  # content moved, the transform with it
    fine = fine.rio.write_transform(fine.rio.transform(recalc=True))
    kelvin = xlstsr.estimate_offset(fine, lst, errors="ignore")
    celsius = xlstsr.estimate_offset(_in_celsius(fine), lst, errors="ignore")
    # a declared Celsius field is a temperature: T^4 aggregation, bias-removed RMSEs given
    assert celsius.attrs["radiometric"] == 1
    assert np.isfinite(float(celsius.bias_removed_after))
    for k in ("shift_x", "shift_y", "psf_sigma", "bias_removed_before", "bias_removed_after",
              "mismatch_after"):
        assert float(celsius[k]) == pytest.approx(float(kelvin[k]), rel=1e-6, abs=1e-6), k


def test_misfit_surface_of_degc_field_is_that_of_kelvin():
    fine, lst = textured_pair(n=64)
    shifts = np.array([-120.0, 0.0, 120.0])
    from xlstsr.coregister import misfit_surface

    jk = misfit_surface(fine, lst, shifts, psf_sigma=300.0)
    jc = misfit_surface(_in_celsius(fine), lst, shifts, psf_sigma=300.0)
    np.testing.assert_allclose(jc.values, jk.values, rtol=1e-9, atol=1e-12)


def test_apply_offset_and_misfit_surface_at_top_level():
    from xlstsr.coregister import apply_offset, misfit_surface

    assert xlstsr.apply_offset is apply_offset
    assert xlstsr.misfit_surface is misfit_surface
    assert {"apply_offset", "misfit_surface"} <= set(xlstsr.__all__)
    fine, lst = textured_pair(n=64)
    j = xlstsr.misfit_surface(fine, lst, np.array([0.0]), psf_sigma=300.0)
    assert j.shape == (1, 1)


def test_helper_of_shadowed_submodule_names_its_import():
    with pytest.raises(AttributeError, match=r"from xlstsr\.evaluate import reference_mask") as e:
        xlstsr.reference_mask  # noqa: B018
    # following the advice works
    ns: dict = {}
    exec(str(e.value).split("`")[1], ns)
    assert callable(ns["reference_mask"])
    with pytest.raises(AttributeError) as e:
        xlstsr.no_such_name  # noqa: B018
    assert "import" not in str(e.value)


@pytest.fixture(scope="module")
def three_steps():
    s = xlstsr.datasets.sample_scene(n_times=3, size=64, seed=1)
    lst, ref = s["lst_1km"], s["lst_250m"]
    return xlstsr.upscale(lst, 4).compute(), ref, lst


def test_evaluate_warns_about_step_scored_on_no_pixel(three_steps):
    sr, ref, lst = three_steps
    with warnings.catch_warnings(record=True) as rec:  # every step scored: no such warning
        warnings.simplefilter("always")
        xlstsr.evaluate(sr, ref, coarse=lst)
    assert not [w for w in rec if "n_valid 0" in str(w.message)]
    ref = ref.copy()
    ref[1] = np.nan  # a step all cloud in the reference
    with pytest.warns(UserWarning, match=r"step\(s\) \[1\] \(time=.*n_valid 0") as rec:
        ds = xlstsr.evaluate(sr, ref, coarse=lst)
    msg = next(str(w.message) for w in rec if "n_valid 0" in str(w.message))
    assert "cloud" in msg
    assert int(ds.n_valid[1]) == 0 and np.isnan(float(ds.rmse[1]))
    # the advice given keeps the scored steps
    kept = ds.where(ds.n_valid > 0, drop=True)
    assert kept.sizes["time"] == 2 and bool(np.isfinite(kept.rmse).all())


def test_undeclared_celsius_fine_lst_is_warned_with_advice_that_works() -> None:
    # (review 53 459c621/2) a fine LST in degC without units (a GeoTIFF seldom declares them)
    # was taken for a guide without a word
    import warnings

    s = xlstsr.datasets.sample_scene(n_times=1, size=64, cloud_fraction=0.0, seed=3)
    lst = s["lst_1km"].isel(time=0, drop=True)
    fine = lst.interp_like(s["ndvi_250m"], method="linear") - 273.15
    fine.attrs = {}
    with pytest.warns(UserWarning, match=r"degrees Celsius .*`fine\.attrs\['units'\] = 'degC'`"):
        xlstsr.estimate_offset(fine, lst, errors="ignore")
    fine.attrs["units"] = "degC"  # the advice, followed: no such warning
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        xlstsr.estimate_offset(fine, lst, errors="ignore")
    assert not [w for w in got if "degrees Celsius" in str(w.message)]
    # an NDVI guide is not told so
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        xlstsr.estimate_offset(s["ndvi_250m"].isel(time=0, drop=True)
                               if "time" in s["ndvi_250m"].dims else s["ndvi_250m"], lst, errors="ignore")
    assert not [w for w in got if "degrees Celsius" in str(w.message)]


def test_a_field_named_as_no_temperature_is_not_told_it_is_celsius() -> None:
    # (review 53 97e31d4/2) a slope in degrees (0-32) beside a 17 degC LST was told so
    import warnings

    s = xlstsr.datasets.sample_scene(n_times=1, size=64, cloud_fraction=0.0, seed=3)
    lst = s["lst_1km"].isel(time=0, drop=True)
    slope = (lst.interp_like(s["ndvi_250m"], method="linear") - 273.15).rename(None)
    slope.attrs = {"long_name": "slope"}
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        xlstsr.estimate_offset(slope, lst, errors="ignore")
    assert not [w for w in got if "degrees Celsius" in str(w.message)]
    slope.attrs = {"long_name": "LST_20m"}  # named a temperature: told
    with pytest.warns(UserWarning, match="If it is an LST in degrees Celsius"):
        xlstsr.estimate_offset(slope, lst, errors="ignore")
